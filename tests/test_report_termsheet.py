"""Term sheet: every clause type states its terms with hand-worked numbers, and the term sheet
of every example case states each of its terms."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

import gainshare
from gainshare.report.termsheet import Fmt, possessive, term_sheet, year_phrase
from gainshare.schema.agreement import Agreement
from gainshare.schema.case import Case

CASES = Path(__file__).resolve().parents[1] / "cases"

# Expected spend, hand-worked: ICB pays ACUTE 10,000 spells x 2,000 = 20,000,000 and COMM a
# block of 4,000,000; LA pays COMM a block of 6,000,000. Total 30,000,000 a year (ICB 24m =
# 80%, LA 6m = 20%); ACUTE's expected payment 20m, COMM's 10m.
REPORT_CASE = """
name: Report test case
currency: GBP
horizon: {years: 3, first_year: 2026}
parties:
  - {id: icb, name: Northshire ICB, role: commissioner, kind: commissioner}
  - {id: la, name: Northshire County Council, role: commissioner, kind: local_authority}
  - {id: acute, name: Northshire Hospitals, role: provider, kind: acute}
  - {id: comm, name: Northshire Community, role: provider, kind: community}
contracts:
  - {id: acute_nel, name: Emergency admissions, commissioner: icb, provider: acute,
     unit: spell, rule: activity, price: 2000, expected_units: 10000,
     costs: {variable_per_unit: {dist: triangular, low: 700, mode: 800, high: 900},
             fixed: 5000000}}
  - {id: comm_block, name: Community nursing, commissioner: icb, provider: comm, unit: contact,
     rule: block, fixed_payment: 4000000, price: 100, expected_units: 40000,
     costs: {variable_per_unit: 40}}
  - {id: reablement, name: Reablement, commissioner: la, provider: comm, unit: package,
     rule: block, fixed_payment: 6000000, price: 1500, expected_units: 4000,
     costs: {variable_per_unit: 600}}
schemes:
  - id: hah
    name: Hospital at home
    provider: comm
    teams: 2
    referrals_per_team: 600
    ramp_up: [0.6, 0.9, 1.0]
    targeting: {dist: uniform, low: 0.5, high: 0.8}
    escalation: {dist: normal, mean: 0.1, sd: 0.03, low: 0.0, high: 0.3}
    moves_from: [{contract: acute_nel, units_per_patient: 1}]
    moves_to: [{contract: comm_block, units_per_patient: 5}]
    cost_per_patient: 150
    benefits:
      - {party: la, per_patient_avoided: {dist: discrete, values: [200, 400], probs: [0.5, 0.5]}}
quality_scores:
  comm: {dist: uniform, low: 55, high: 95}
uncertainty: {scenarios: 40, seed: 7, named: [{name: central, weight: 0.1}]}
keep_whole:
  acute: {mode: robust}
  comm: {mode: chance, beta: 0.9}
"""

# Glide path: year 1 has tight collars; tiers as shares of expected spend (1% = 300,000 and
# 2% = 600,000 of 30m); an excess-only corridor of 0.4% (120,000) for gains and 250,000 for
# losses; ACUTE's cap is 10% of its expected payment (2,000,000).
REPORT_AGREEMENT = """
name: Northshire tiered proposal
terms:
  corridor:
    gain_threshold: {share_of_expected: 0.004}
    loss_threshold: {amount: 250000}
    mode: excess_only
  gain_tiers:
    - upto: {share_of_expected: 0.01}
      shares: {icb: 0.2, la: 0.1, acute: 0.4, comm: 0.3}
    - upto: {share_of_expected: 0.02}
      shares: {icb: 0.3, la: 0.1, acute: 0.4, comm: 0.2}
    - shares: {icb: 0.5, la: 0.1, acute: 0.25, comm: 0.15}
  loss_tiers:
    - shares: {icb: 0.5, la: 0.1, acute: 0.3, comm: 0.1}
  gateway:
    comm: {mode: linear, target: 90, floor: 60}
  caps:
    acute: {share_of_expected: 0.1}
    comm: {amount: 750000}
  collars:
    acute: {amount: 1000000}
year_overrides:
  1:
    collars:
      acute: {amount: 250000}
      comm: {amount: 0}
notes: Reviewed at the March board.
"""

SIMPLE_AGREEMENT = """
name: Simple split
terms:
  gain_tiers:
    - shares: {icb: 0.25, la: 0.05, acute: 0.45, comm: 0.25}
  loss_tiers:
    - shares: {icb: 0.6, la: 0.1, acute: 0.2, comm: 0.1}
  gateway:
    comm: {mode: proportional}
  commissioner_split: {icb: 0.7, la: 0.3}
"""


def report_case(**changes) -> Case:
    data = yaml.safe_load(REPORT_CASE)
    data.update(changes)
    return Case.model_validate(data)


def report_agreement(text: str = REPORT_AGREEMENT) -> Agreement:
    return Agreement.model_validate(yaml.safe_load(text))


@pytest.fixture(scope="module")
def tiered():
    case, agreement = report_case(), report_agreement()
    return term_sheet(case, agreement, gainshare.check(case, agreement))


def clause(sheet, title: str) -> str:
    for c in sheet.clauses:
        if c.title == title:
            return " ".join(c.paragraphs + c.bullets)
    raise AssertionError(f"no clause {title!r}: {[c.title for c in sheet.clauses]}")


def test_clauses_are_numbered_in_contract_order(tiered):
    titles = [c.title for c in tiered.clauses]
    assert titles == [
        "Parties and scope", "Baseline expected spend", "How the pool is measured", "Corridor",
        "Sharing of gains", "Sharing of losses", "Quality gateway", "Caps and collars",
        "The commissioners' retained amount", "Glide path", "Settlement", "Notes",
    ]  # fmt: skip
    md = tiered.markdown()
    for n, t in enumerate(titles, start=1):
        assert f"\n{n}. **{t}.** " in md


def test_scope_and_baseline(tiered):
    scope = clause(tiered, "Parties and scope")
    assert (
        "is between Northshire ICB and Northshire County Council as commissioners and "
        "Northshire Hospitals and Northshire Community as providers" in scope
    )
    assert "It runs for 3 financial years, 2026/27 to 2028/29" in scope
    assert (
        "Emergency admissions: Northshire ICB pays Northshire Hospitals, paid by activity" in scope
    )
    assert (
        "Reablement: Northshire County Council pays Northshire Community, a block contract" in scope
    )
    assert "Scheme Hospital at home, run by Northshire Community." in scope
    base = clause(tiered, "Baseline expected spend")
    assert "expected spend on these contracts without the scheme: £30m a year." in base
    assert "By commissioner: Northshire ICB £24m; Northshire County Council £6m." in base


def test_corridor_excess_only_with_share_and_amount(tiered):
    text = clause(tiered, "Corridor")
    assert (
        "No gain is shared until the pool reaches £120,000 (0.4% of expected spend of £30m); "
        "from there only the part of the pool above the threshold is shared." in text
    )
    assert (
        "No loss is shared until the pool reaches minus £250,000; from there only the "
        "part of the loss beyond the threshold is shared." in text
    )


def test_tiers_state_edges_and_every_share(tiered):
    gains = clause(tiered, "Sharing of gains")
    assert gains == (
        "Gains are shared in 3 tiers of the shareable gain: "
        "(a) the first £300,000 (1% of expected spend of £30m): Northshire ICB 20%, Northshire "
        "County Council 10%, Northshire Hospitals 40%, Northshire Community 30%; "
        "(b) from £300,000 to £600,000 (2% of expected spend of £30m): Northshire ICB 30%, "
        "Northshire County Council 10%, Northshire Hospitals 40%, Northshire Community 20%; "
        "(c) above £600,000: Northshire ICB 50%, Northshire "
        "County Council 10%, Northshire Hospitals 25%, Northshire Community 15%."
    )
    losses = clause(tiered, "Sharing of losses")
    assert losses == (
        "Losses are shared: Northshire ICB 50%, Northshire County Council 10%, Northshire "
        "Hospitals 30%, Northshire Community 10%."
    )


def test_gateway_linear(tiered):
    text = clause(tiered, "Quality gateway")
    assert (
        "Northshire Community's share of any gain is paid in full at a quality score of 90 or "
        "more, not at all below 60, and in proportion in between." in text
    )
    assert "Any share forfeited under the gateway goes to the commissioners." in text


def test_caps_collars_and_glide_path_year_by_year(tiered):
    text = clause(tiered, "Caps and collars")
    assert (
        "Caps: in any year a provider gains at most: Northshire Hospitals £2m (10% of its "
        "expected payment of £20m); Northshire Community £750,000." in text
    )
    assert (
        "In 2026/27: collars: in any year a provider loses at most: Northshire Hospitals "
        "£250,000; Northshire Community £0." in text
    )
    assert (
        "In 2027/28 and 2028/29: collars: in any year a provider loses at most: Northshire "
        "Hospitals £1m; Northshire Community no collar." in text
    )
    assert "Any gain above a cap, and any loss beyond a collar, falls to the commissioners." in text
    glide = clause(tiered, "Glide path")
    assert glide == (
        "The terms change over the agreement (a glide path): the collars (clause 8) differ by "
        "year, as stated there. Year-specific terms apply in 2026/27; every other year follows "
        "the base terms."
    )


def test_retained_split_by_expected_spend_and_settlement(tiered):
    text = clause(tiered, "The commissioners' retained amount")
    assert text.endswith(
        "They split it in proportion to their expected spend: Northshire ICB 80%, Northshire "
        "County Council 20%."
    )
    settle = clause(tiered, "Settlement")
    assert "Transfers are paid in pounds and pence." in settle
    assert "after the end of each financial year (2026/27 to 2028/29)" in settle
    assert "add up exactly to the pool, to the penny" in settle
    assert clause(tiered, "Notes") == "Reviewed at the March board."


def test_simple_agreement_wording():
    case, agreement = report_case(), report_agreement(SIMPLE_AGREEMENT)
    sheet = term_sheet(case, agreement, gainshare.check(case, agreement))
    assert clause(sheet, "Corridor") == (
        "There is no corridor: every pound of gain or loss is shared."
    )
    assert clause(sheet, "Sharing of gains") == (
        "Gains are shared: Northshire ICB 25%, Northshire County Council 5%, Northshire "
        "Hospitals 45%, Northshire Community 25%."
    )
    assert "multiplied by its quality score out of 100" in clause(sheet, "Quality gateway")
    assert clause(sheet, "Caps and collars") == "No provider has a cap. No provider has a collar."
    assert clause(sheet, "The commissioners' retained amount").endswith(
        "They split it: Northshire ICB 70%, Northshire County Council 30%."
    )
    assert clause(sheet, "Glide path") == "The terms are the same in every year of the agreement."
    assert "Notes" not in [c.title for c in sheet.clauses]


def test_currency_symbol_follows_the_case():
    case, agreement = report_case(currency="USD"), report_agreement()
    sheet = term_sheet(case, agreement, gainshare.check(case, agreement))
    md = sheet.markdown()
    assert "reaches $120,000 (0.4% of expected spend of $30m)" in md
    assert "£" not in md
    assert "Transfers are paid in dollars and cents" in md and "to the cent." in md
    assert Fmt("EUR").exact(2_500_000) == "€2.5m"


def test_positions_table_matches_the_check(tiered):
    """Each money column in one unit (never £1.39m beside £248,746), the requirement in words."""
    from gainshare.units import money_column

    doc = tiered.result.document
    md = tiered.markdown()
    ids = list(doc["by_party"])
    want = {k: dict(zip(ids, money_column([doc["by_party"][p][k] for p in ids]), strict=True))
            for k in ("expected_net", "worst_net", "stranded_fixed_cost_expected",
                      "unfunded_activity_expected")}  # fmt: skip
    for pid in ids:
        name = tiered.case.party(pid).name
        row = next(line for line in md.splitlines() if line.startswith(f"| {name} |"))
        cells = [c.strip() for c in row.strip("|").split("|")]
        assert cells[2] == want["expected_net"][pid]
        assert cells[3] == want["worst_net"][pid]
        assert cells[6] == want["stranded_fixed_cost_expected"][pid]
        assert cells[7] == want["unfunded_activity_expected"][pid]
        assert cells[1] in ("Commissioner", "Provider", "Commissioner and provider")
        assert not any(cells[8].startswith(m) for m in ("robust", "chance", "cvar"))
    for k in want:
        assert len({v[-1] for v in want[k].values()}) == 1, k
    if not doc["all_kept_whole"]:
        assert "is NOT kept whole as required" in md
    else:
        assert "Every party's keep-whole requirement is met." in md


def test_designed_terms_read_as_a_contract():
    """A designed agreement: shares to at most two decimals (and the preamble says the file
    holds them exactly), the aim in words, one title."""
    root = Path(__file__).resolve().parents[1]
    case = gainshare.load_case(root / "cases" / "core.yaml")
    best = gainshare.design(case)
    md = term_sheet(case, best.agreement, best.check).markdown()
    assert md.startswith("# Term sheet\n\n## ")
    assert "Term sheet: Designed" not in md
    assert "objective: commissioners" not in md and "(aim: most money kept by the" in md
    shares = [t for t in md.split() if t.endswith("%") and t[0].isdigit()]
    assert all(len(t.rstrip("%").partition(".")[2]) <= 2 for t in shares), shares
    # design's shares are whole percentages: nothing is cut short, so nothing is said of it
    assert "shown to two decimal places" not in md
    assert "robust:" not in md and "Kept whole in every scenario: met" in md
    # shares of any value (rounding: none) are shown to two decimals, and said so
    req = case.requirements.model_dump() | {"rounding": "none", "search": None}
    exact = gainshare.Case.model_validate(case.model_dump() | {"requirements": req})
    fine = gainshare.design(exact)
    md = term_sheet(exact, fine.agreement, fine.check).markdown()
    shares = [t for t in md.split() if t.endswith("%") and t[0].isdigit()]
    assert all(len(t.rstrip("%").partition(".")[2]) <= 2 for t in shares), shares
    assert "shown to two decimal places; the agreement file states each exactly" in md


def test_numbers_read_as_a_finance_director_writes_them():
    f = Fmt("GBP")
    assert f.exact(2_500_000) == "£2.5m"
    assert f.exact(1_234_567) == "£1,234,567"
    assert f.exact(480_000) == "£480,000"
    assert f.exact(1234.5) == "£1,234.50"
    assert f.about(29_800_000) == "£29.8m"
    assert f.about(-545_123.4) == "-£545,123"
    assert Fmt.pct(0.002) == "0.2%" and Fmt.pct(0.45) == "45%" and Fmt.pct(1 / 3) == "33.33%"
    assert Fmt.prob(1.0) == "100%" and Fmt.prob(0.9996) == "99.9%" and Fmt.prob(0.0) == "0%"
    labels = ["2026/27", "2027/28", "2028/29", "2029/30"]
    assert year_phrase([1], labels) == "2026/27"
    assert year_phrase([2, 3], labels) == "2027/28 and 2028/29"
    assert year_phrase([1, 2, 3, 4], labels) == "2026/27 to 2029/30"
    assert year_phrase([1, 3, 4], labels) == "2026/27 and 2028/29 and 2029/30"


# ---------------------------------------------------------------- every example case


def _exact(a: float, sym: str) -> str:
    if a >= 1e6 and round(a / 1e6, 3) * 1e6 == round(a, 2):
        return sym + f"{a / 1e6:,.3f}".rstrip("0").rstrip(".") + "m"
    return f"{sym}{a:,.0f}"


def _limit_words(lim, basis: str, sym: str) -> str:
    """How a stated amount appears: exactly, or as '(x% of <basis>' after the resolved figure."""
    if lim.amount is not None:
        return _exact(lim.amount, sym)
    return f"({Fmt.pct(lim.share_of_expected)} of {basis} of "


def example_pairs() -> list[tuple[Path, Path]]:
    out = []
    for a in sorted(CASES.glob("*.agreement.yaml")):
        c = a.with_name(a.name.replace(".agreement.yaml", ".yaml"))
        if c.exists():
            out.append((c, a))
    return out


def _check_corridor(sheet, t) -> None:
    corridor = clause(sheet, "Corridor")
    low = corridor.lower()
    for lim, word in ((t.corridor.gain_threshold, "gain"), (t.corridor.loss_threshold, "loss")):
        if lim.amount == 0:
            unit = sheet.fmt.words[0]
            assert f"every {unit} of {word}" in low or f"every {unit} of gain or loss" in low
        else:
            assert _limit_words(lim, "expected spend", sheet.fmt.sym) in corridor
    if t.corridor.mode == "excess_only" and "no corridor" not in low:
        assert "only the part of the" in corridor
    elif "no corridor" not in low:
        assert f"shared from the first {sheet.fmt.words[0]}" in corridor


def _check_tiers(sheet, t, names) -> None:
    for kind, title in (("gain_tiers", "Sharing of gains"), ("loss_tiers", "Sharing of losses")):
        text = clause(sheet, title)
        for tier in getattr(t, kind):
            for pid, share in tier.shares.items():
                assert f"{names[pid]} {Fmt.pct(share)}" in text
            if tier.upto is not None:
                assert _limit_words(tier.upto, "expected spend", sheet.fmt.sym) in text


def _check_limits(sheet, t, names) -> None:
    text = clause(sheet, "Caps and collars")
    for kind in ("caps", "collars"):
        for pid, lim in getattr(t, kind).items():
            words = _limit_words(lim, "its expected payment", sheet.fmt.sym)
            if lim.amount is not None:
                assert f"{names[pid]} {words}" in text
            else:
                assert f"{names[pid]} {sheet.fmt.sym}" in text and words in text
    gate = clause(sheet, "Quality gateway")
    for pid, gw in t.gateway.items():
        assert f"{possessive(names[pid])} share of any gain" in gate
        if gw.mode == "linear":
            assert f"paid in full at a quality score of {gw.target:g} or more" in gate
            if gw.floor > 0:
                assert f"not at all below {gw.floor:g}, and in proportion in between" in gate
    if t.commissioner_split:
        split = clause(sheet, "The commissioners' retained amount")
        for pid, share in t.commissioner_split.items():
            assert f"{names[pid]} {Fmt.pct(share)}" in split


@pytest.mark.parametrize("case_path,agreement_path", example_pairs(), ids=lambda p: p.stem)
def test_example_term_sheet_states_every_term(case_path, agreement_path):
    case = gainshare.load_case(case_path)
    agreement = gainshare.load_agreement(agreement_path, case)
    sheet = term_sheet(case, agreement, gainshare.check(case, agreement))
    names = {p.id: p.name for p in case.parties}
    years = range(1, case.horizon.years + 1)
    for y in years:
        t = agreement.terms_for_year(y)
        _check_corridor(sheet, t)
        _check_tiers(sheet, t, names)
        _check_limits(sheet, t, names)
    glide = clause(sheet, "Glide path")
    if any(agreement.terms_for_year(y) != agreement.terms for y in years):
        assert glide.startswith("The terms change over the agreement (a glide path)")
        for y in agreement.year_overrides:
            assert case.horizon.labels()[y - 1] in glide
    else:
        assert glide == "The terms are the same in every year of the agreement."
    assert f"{case.horizon.years} financial year" in clause(sheet, "Parties and scope")
