"""The workshop app's package side: figures in one format and one sign convention
(`report.numbers`, `report.positions`, `report.app_tables`), the case, requirements and proposal
as tables and back (`schema.case_tables`, `schema.requirement_tables`, `schema.proposal_table`),
uploads and downloads, the what-if model and its feasible ranges (`optimise.whatif`), and words
that name organisations, years and kinds of scenario, never ids or codes."""

from __future__ import annotations

import ast
import io
import re
from pathlib import Path

import numpy as np
import pytest
import yaml
from helpers_design import gain_loss_dict, tiny_case
from openpyxl import load_workbook

import gainshare
from gainshare.economics.model import compute
from gainshare.economics.scenarios import sample
from gainshare.optimise import Designer
from gainshare.optimise.whatif import (
    WhatIf,
    WhatIfModel,
    apply_requirements,
    central_value,
    expected_savings,
    most_retained,
    nice_steps,
    tolerance_steps,
    with_central,
)
from gainshare.report import app_tables as tables
from gainshare.report.downloads import downloads
from gainshare.report.numbers import money, money_column, pct, requirement_words, share
from gainshare.report.positions import LINES, expected_lines, headline
from gainshare.schema import case_tables as ct
from gainshare.schema import proposal_table as pt
from gainshare.schema import requirement_tables as rt
from gainshare.schema.case import Case
from gainshare.schema.io import InputError, case_from_mapping
from gainshare.schema.uploads import load_agreement_upload, load_upload

ROOT = Path(__file__).resolve().parents[1]
WORKSHOP = ROOT / "app" / "examples" / "workshop6.yaml"
TARGETING = "schemes.rapid_response.targeting"
CODE = re.compile(r"\bmc\d{3,}")


@pytest.fixture(scope="module")
def core():
    case = gainshare.load_case(ROOT / "cases" / "core.yaml")
    agreement = gainshare.load_agreement(ROOT / "cases" / "core.agreement.yaml", case)
    return case, agreement, gainshare.check(case, agreement)


@pytest.fixture(scope="module")
def workshop():
    return gainshare.load_case(WORKSHOP)


# ---------------------------------------------------------------- one format


@pytest.mark.parametrize(
    ("pounds", "text"),
    [(0, "£0"), (-0.3, "£0"), (950, "£950"), (9_949, "£9,949"), (12_345, "£12k"),
     (349_800, "£350k"), (999_400, "£999k"), (999_600, "£1.00m"), (1_234_567, "£1.23m"),
     (-2_500_000, "-£2.50m"), (12_340_000, "£12.34m")],
)  # fmt: skip
def test_money_has_one_format(pounds, text):
    assert money(pounds) == text


def test_a_table_column_is_in_one_unit():
    assert money_column([1_389_256, 248_746, 101_586, -0.2]) == ["£1.39m", "£0.25m", "£0.10m",
                                                                  "£0.00m"]  # fmt: skip
    assert money_column([248_746, 9_000, -300]) == ["£249k", "£9k", "£0k"]  # never -£0
    assert money_column([950, -3], "USD") == ["$950", "-$3"]


def test_percentages_shares_and_requirements_in_words():
    assert [pct(p) for p in (1, 0.95, 0.9956, 0.0004, 0.9996, 0)] == [
        "100%", "95%", "99.6%", "under 0.1%", "over 99.9%", "0%"]  # fmt: skip
    assert [share(v) for v in (0.45, 1 / 3, 0.542367, 0.55)] == ["45%", "33.33%", "54.24%", "55%"]
    assert requirement_words("robust", 0.95, 0) == "kept whole in every scenario"
    assert requirement_words("chance", 0.9, 50_000) == (
        "kept whole in at least 90% of scenarios, accepting up to £50k a year worse off"
    )
    assert requirement_words("cvar", 0.9, 100_000) == (
        "in the worst 10% of scenarios, short by no more than £100k a year on average"
    )


def test_slider_steps_are_round_and_reach_the_top():
    steps = nice_steps(4.2e6)
    assert steps[:4] == [0.0, 1000.0, 1500.0, 2000.0]
    assert steps[-2:] == [4_000_000.0, 5_000_000.0]
    assert all(a < b for a, b in zip(steps, steps[1:], strict=False))


# ---------------------------------------------------------------- one sign convention


def test_lines_of_a_position_add_up_to_its_net(core):
    case, _, result = core
    lines = expected_lines(result)
    total = 0.0
    for pid, ln in lines.items():
        assert round(sum(ln[k] for k, _ in LINES), 2) == ln["net"]
        assert abs(ln["net"] - result.document["by_party"][pid]["expected_net"]) <= 0.011
        total += ln["net"]
    assert abs(total - result.document["system_savings"]["expected"]) <= 0.011
    # cost saved is expected minus actual cost: the acute trust's costs fall, so it is positive
    assert lines["acute"]["cost_saved"] > 0 and lines["community"]["cost_saved"] < 0


def test_headline_of_the_tiny_optimum_is_worked_by_hand():
    case = tiny_case()
    r = Designer(case).solve()
    h = headline(case, r.check)
    # pool 100,000 / 80,000; savings 10,000 / 2,000; shares acute 60%, community 37.5%, ccg 2.5%
    assert (h.pool, h.system_savings) == (90_000.0, 6_000.0)
    assert h.commissioners_keep == pytest.approx(2_250.0, abs=0.01)
    assert h.worst_provider_year == pytest.approx(0.0, abs=0.01)
    assert h.prob_all_whole == 1.0 and h.all_met
    words = tables.position_sentences(case, r.check)
    assert words["acute"] == (
        "loses £90k of income, saves £36k of costs, receives £54k through the agreement: "
        "better off by £0 expected; worst year £0; kept whole in 100% of scenarios."
    )


def test_everyone_kept_whole_never_contradicts_each_one():
    """ACO REACH: CVaR requirements met while each provider is short in most scenarios. The
    headline share can be no larger than any organisation's, and the verdict says why "met"
    and "kept whole in 11%" agree."""
    case = gainshare.load_case(ROOT / "cases" / "aco_reach.yaml")
    r = Designer(case).solve()
    h = headline(case, r.check)
    each = [d["prob_whole"] for d in r.check.document["by_party"].values()]
    assert h.prob_all_whole <= min(each) + 1e-9
    v = tables.verdict(case, r.check, [])
    assert v.ok and len(v.notes) == 3
    assert all("requirement allows shortfalls" in n for n in v.notes)
    frame = tables.positions_frame(case, r.check)
    assert set(frame["Met"]) == {"—", "Yes"}


def test_positions_and_shares_tables_name_organisations(core):
    case, agreement, result = core
    frame = tables.positions_frame(case, result)
    assert list(frame["Organisation"]) == [p.name for p in case.parties]
    assert list(frame["Met"]) == ["—", "Yes", "Yes"]
    assert len({v[-1] for v in frame["Expected net"]}) == 1  # one unit in the column
    shares = tables.shares_frame(case, agreement)
    assert list(shares.columns) == ["Organisation", "Gains: first £4.30m", "Gains above £4.30m",
                                    "Losses", "Cap (a year)", "Collar (a year)"]  # fmt: skip
    assert list(shares["Gains: first £4.30m"]) == ["7.0%", "55.0%", "38.0%"]
    assert list(shares["Cap (a year)"]) == ["—", "£3.00m", "£2.00m"]
    text = " ".join(" ".join(map(str, frame.to_numpy().ravel())) for frame in (frame, shares))
    assert "None" not in text and " acute " not in f" {text} "


# ---------------------------------------------------------------- the case as tables


CASE_FILES = [p for p in sorted((ROOT / "cases").glob("*.yaml"))
              if not p.name.endswith(".agreement.yaml")] + [WORKSHOP]  # fmt: skip


@pytest.mark.parametrize("path", CASE_FILES, ids=lambda p: p.stem)
def test_tables_give_back_the_same_case(path):
    case = gainshare.load_case(path)
    edit = ct.case_from_tables(case, ct.case_tables(case))
    assert edit.ok and edit.value == case


def test_tables_show_names_and_words_not_ids(workshop):
    t = ct.case_tables(workshop)
    shown = " ".join(str(v) for name, f in t.items() for c in f.columns if c != ct.ID
                     for v in f[c].tolist())  # fmt: skip
    for hidden in ("acute_nel", "local_authority", "mental_health", " icb ", "gpfed"):
        assert hidden not in f" {shown} ", hidden
    assert t["contracts"].loc[0, "Paid by"] == "NHS Eastbrook ICB"
    assert t["parties"].loc[1, "Kind"] == "Local authority"
    assert t["contracts"].loc[0, "Payment rule"] == "Activity (price × units)"
    assert t["costs"].loc[0, "Service line"] == "Non-elective admissions, frail over-75s"


def test_each_bad_cell_is_named_by_table_row_and_column(workshop):
    tables_ = {k: v.copy() for k, v in ct.case_tables(workshop).items()}
    tables_["contracts"].loc[0, "Price (£ a unit)"] = -5
    tables_["costs"].loc[1, "Fixed cost (£ a year)"] = -1
    edit = ct.case_from_tables(workshop, tables_)
    where = [(p.table, p.row, p.column, p.ident) for p in edit.problems]
    nel, mh = (
        "Non-elective admissions, frail over-75s",
        "Mental-health related emergency admissions",
    )
    assert where == [("contracts", 0, "Price (£ a unit)", nel),
                     ("costs", 1, "Fixed cost (£ a year)", mh)]  # fmt: skip
    assert edit.problems[0].text.startswith(
        "Contracts, row 1 (Non-elective admissions, frail over-75s), Price (£ a unit): is -5.0"
    )
    tables_["contracts"].loc[0, "Price (£ a unit)"] = 2400.0
    tables_["costs"].loc[1, "Fixed cost (£ a year)"] = 3_500_000.0
    tables_["schemes"].loc[0, "Targeting (0-1)"] = "triangle(0.6, 0.7, 0.8)"
    (p,) = ct.case_from_tables(workshop, tables_).problems
    assert (p.table, p.row, p.column) == ("schemes", 0, "Targeting (0-1)")
    assert "did you mean triangular?" in p.message


def test_a_new_organisation_and_a_renamed_scheme_keep_everything_else(workshop):
    tables_ = {k: v.copy() for k, v in ct.case_tables(workshop).items()}
    parties = tables_["parties"]
    parties.loc[len(parties)] = [None, "Eastbrook Hospice", "Provider", "Other"]
    tables_["schemes"].loc[0, "Scheme"] = "Rapid response"
    tables_["schemes"].loc[0, "Targeting (0-1)"] = "triangular(0.6, 0.7, 0.8)"
    tables_["schemes"].loc[0, "Run by"] = "Eastbrook Hospice"
    tables_["contracts"].loc[0, "Price (£ a unit)"] = 2_500.0
    edit = ct.case_from_tables(workshop, tables_)
    assert edit.ok, [p.text for p in edit.problems]
    new = edit.value
    assert new.parties[-1].id == "eastbrook_hospice" and new.parties[-1].kind == "other"
    s = new.schemes[0]
    assert (s.id, s.name, s.provider) == ("rapid_response", "Rapid response", "eastbrook_hospice")
    assert s.moves_from == workshop.schemes[0].moves_from  # not shown in the table
    assert s.targeting.mode == 0.7
    assert (
        new.contracts[0].price == 2_500.0 and new.contracts[0].costs == workshop.contracts[0].costs
    )


def test_requirements_tables_round_trip_and_fixed_terms(core):
    case = core[0]
    keep, fixed = rt.keep_whole_frame(case), rt.fixed_terms_frame(case)
    assert rt.with_requirements(case, keep, fixed, rt.settings_of(case)).value == case
    keep.loc["acute", "Requirement"] = "Share of scenarios"
    keep.loc["acute", "Level (% of scenarios)"] = 55.0
    fixed.loc["acute", "Fixed cap (£ a year)"] = 2_000_000.0
    edit = rt.with_requirements(case, keep, fixed, rt.Settings("worst_margin", "5%", 500_000.0))
    new = edit.value
    assert new.keep_whole["acute"].mode == "chance" and new.keep_whole["acute"].beta == 0.55
    assert rt.keep_whole_frame(new).loc["acute", "Level (% of scenarios)"] == 55.0  # never 55.0…01
    assert new.requirements.caps["acute"].value == 2_000_000.0
    assert (new.requirements.objective, new.requirements.rounding) == ("worst_margin", "5%")
    assert new.requirements.commissioners_min_expected == 500_000.0
    keep.loc["acute", "Level (% of scenarios)"] = 120.0
    (p,) = rt.with_requirements(case, keep, fixed, rt.settings_of(case)).problems
    assert p.text == (
        f"Keep-whole requirements, row 2 ({case.party('acute').name}), "
        "Level (% of scenarios): is 120: give a percentage from 0 to 100"
    )


# ---------------------------------------------------------------- what-ifs


def test_moving_an_assumption_moves_its_whole_range(workshop):
    assert central_value(workshop, TARGETING) == 0.75
    moved = with_central(workshop, TARGETING, 0.5)
    t = moved.schemes[0].targeting
    assert (t.low, t.mode, t.high) == (0.4, 0.5, 0.6)
    assert moved.uncertainty.named[0].values[TARGETING] == 0.43  # pessimistic 0.68 moves too
    clipped = with_central(workshop, TARGETING, 0.95).schemes[0].targeting
    assert (clipped.low, clipped.mode, clipped.high) == (0.85, 0.95, 1.0)


def test_what_ifs_are_worked_by_hand_and_reuse_the_model():
    case = tiny_case()
    m = WhatIfModel(case)
    first = m.solve(WhatIf())
    assert first.rebuilt
    model = m.designer
    # the acute trust accepts £6,000 worse off: its share falls to 54% (binding in scenario a),
    # the commissioners keep 8.5% of the 90,000 expected pool
    moved = m.solve(WhatIf(tolerance=(("acute", 6_000.0),)))
    h = headline(moved.case, moved.check)
    assert m.designer is model and not moved.rebuilt
    assert h.commissioners_keep == pytest.approx(7_650.0, abs=0.01)
    assert h.worst_provider_year == pytest.approx(-6_000.0, abs=0.01)
    assert moved.check.all_kept_whole  # judged against the what-if level, not the built one
    # targeting up to 95% (scenarios a 100 and b 85 avoided): a new model; community needs
    # 30,000 / 85,000 of the pool, the commissioners keep the rest of 92,500 expected
    shifted = m.solve(WhatIf(assumptions=(("schemes.rr.targeting", 0.95),)))
    assert m.designer is not model and shifted.rebuilt
    h = headline(shifted.case, shifted.check)
    assert h.system_savings == pytest.approx(7_000.0)
    assert h.commissioners_keep == pytest.approx(92_500 * (1 - 0.6 - 30_000 / 85_000), abs=0.01)
    assert m.solve(WhatIf(assumptions=(("schemes.rr.targeting", 0.8),))).check is None


def test_targeting_range_is_found_by_the_model_and_worked_by_hand():
    """Tiny case, central targeting c (scenario a at c + 0.1, b at c - 0.1): the acute trust
    needs 60% of every pool and the community trust 30,000 / pool_b of it, so pool_b =
    100,000 x (c - 0.1) must reach 75,000: c >= 85%. Every value from there to 100% works (a is
    clipped at 1). The model finds the same edge, and says what binds there."""
    case = tiny_case()
    m = WhatIfModel(case)
    rng = m.assumption_range(WhatIf(), "schemes.rr.targeting", 90)
    assert (rng.low.value, rng.high.value) == (85, 100)
    assert rng.low.beyond == "infeasible" and rng.high.beyond == "edge"
    assert {"keep_whole.acute", "keep_whole.community"} & set(rng.low.binding)
    works = [v for v in range(0, 101) if m.solve(WhatIf(
        assumptions=(("schemes.rr.targeting", v / 100),))).check is not None]  # fmt: skip
    assert works == list(range(85, 101))
    assert rng.probes < 12  # a bisection, not a scan


def test_tolerance_range_is_worked_by_hand():
    """Tiny case at targeting 80% (pools 90,000 and 70,000): the community trust needs
    30,000 / 70,000 = 42.9% of the pool, so the acute trust can have at most 57.1% where it
    needs 60% less t / 90,000: t >= 2,571. On the slider's round steps: from £3,000."""
    case = tiny_case()
    m = WhatIfModel(case)
    low = WhatIf(assumptions=(("schemes.rr.targeting", 0.8),))
    steps = tolerance_steps(m.model_case(low), m.economics(low), "acute")
    assert 2_500.0 in steps and 3_000.0 in steps
    rng = m.tolerance_range(low, "acute", steps)
    assert rng.low.value == 3_000.0 and rng.low.beyond == "infeasible"
    assert rng.high.value == steps[-1] and rng.high.beyond == "no_effect"
    assert m.solve(low.with_assumption("schemes.rr.targeting", 0.8)).check is None  # unchanged
    ok = WhatIf(tolerance=(("acute", 3_000.0),), assumptions=low.assumptions)
    assert m.solve(ok).check is not None


def test_commissioners_range_reaches_the_most_they_can_keep(workshop):
    m = WhatIfModel(workshop)
    aim = m.commissioners_range(WhatIf())
    assert aim.note == "aim"  # a minimum changes nothing below the optimum: the range says so
    best = m.solve(WhatIf()).check.expected_retained
    assert aim.high.value == pytest.approx(best)
    # the worst-margin aim is searched in the drafting space (models/design.md part 1): the
    # most the commissioners can keep under it is their own optimum (less the range's pound)
    other = m.commissioners_range(WhatIf(objective="worst_margin"))
    assert other.low.value == 0.0 and other.high.value == pytest.approx(best, abs=2.0)
    at_most = m.solve(WhatIf(commissioners_min=other.high.value, objective="worst_margin"))
    assert at_most.result.status == "optimal" and at_most.result.route == "search"
    assert at_most.check.expected_retained >= other.high.value - 0.01
    # the room's previous answer (the commissioners' optimum) meets the minimum too, and the
    # answer is weighed by its worst margin: it leaves the worst-off provider no less
    assert "as a start" not in at_most.result.message
    assert at_most.result.starts[0]["meets_requirements"]
    assert at_most.result.starts[0]["objective_value"] <= at_most.result.objective_value + 0.01
    # beyond the commissioners' optimum no agreement works
    high = WhatIf(commissioners_min=best + 1_000, objective="worst_margin")
    assert m.solve(high).result.status == "infeasible"
    assert m.solve(WhatIf()).check.expected_retained == best  # the model's levels restored


def test_the_workshop_targeting_cliff_is_a_stated_range(workshop):
    m = WhatIfModel(workshop)
    rng = m.assumption_range(WhatIf(), TARGETING, 75)
    assert (rng.low.value, rng.high.value) == (74, 100)
    for v, works in ((73, False), (74, True), (100, True)):
        assert (m.solve(WhatIf(assumptions=((TARGETING, v / 100),))).check is not None) == works
    # loosening the acute trust's level alone does not move the edge (the county council's
    # binds with it); loosening both does, as the model finds and a solve at each side shows
    loose = (("acute", 25_000.0), ("council", 25_000.0))
    again = m.assumption_range(WhatIf(tolerance=loose), TARGETING, 75)
    assert again.low.value < 74
    edge = again.low.value
    for v, works in ((edge - 1, False), (edge, True)):
        w = WhatIf(tolerance=loose, assumptions=((TARGETING, v / 100),))
        assert (m.solve(w).check is not None) == works


# ---------------------------------------------------------------- words, never codes


def test_why_nothing_works_names_organisations_years_and_scenario_kinds(workshop):
    m = WhatIfModel(workshop)
    w = WhatIf(assumptions=((TARGETING, 0.70),))
    words = tables.conflict_sentences(m.effective_case(w), m.conflict(w))
    text = " ".join(words)
    first = "No agreement meets every requirement: keeping Eastbrook Hospitals NHS FT, "
    assert words[0].startswith(first + "Eastbrook Community Health NHS Trust")
    assert (
        "Eastbrook Hospitals NHS FT would be worse off than it accepts in 10.2% of scenarios"
        in text
    )
    assert " when " in text and "including the pessimistic scenario" in text
    assert "Eastbrook Hospitals NHS FT accepts being up to £93k a year worse off" in text
    assert not CODE.search(text) and "gainshare explain" not in text and "acute" not in text


def test_shortfalls_are_described_by_what_happens_in_them(core):
    case = gainshare.load_case(ROOT / "app" / "examples" / "workshop6.yaml")
    proposal = gainshare.load_agreement(WORKSHOP.with_name("workshop6.agreement.yaml"), case)
    result = gainshare.check(case, proposal)
    frame = tables.shortfalls_frame(case, result)
    assert list(frame.columns) == ["Organisation", "Year", "Short by", "In"]
    text = " ".join(map(str, frame.to_numpy().ravel()))
    assert not CODE.search(text) and ("drawn scenario with" in text or "scenario" in text)
    lines = tables.shortfall_sentences(case, result)
    assert lines and not CODE.search(" ".join(lines))


def test_candidate_notes_name_organisations(workshop):
    notes = ["Shapley: no agreement near the split (icb 20.7%, council 19.0%, acute 20.7%, "
             "community 19.0%, mental_health 1.7%, gpfed 19.0%) meets every requirement: run "
             "`gainshare explain` to see which requirements conflict.",
             "simple (one tier...): no such agreement meets every requirement"]  # fmt: skip
    out = tables.option_notes(workshop, notes)
    assert out[0].startswith("No agreement near the shapley split (NHS Eastbrook ICB 20.7%, ")
    assert "Eastbrook Mental Health NHS FT 1.7%" in out[0]
    assert "mental_health" not in " ".join(out) and "gainshare explain" not in " ".join(out)


def test_repair_changes_are_said_with_names(core):
    case, agreement, _ = core
    frame = pt.proposal_frame(case, agreement)
    frame.loc["acute", "Gains: first £4.30m (%)"] = 50.0
    frame.loc["ccg", "Gains: first £4.30m (%)"] = 12.0
    new = pt.agreement_from_proposal(case, agreement, frame).value
    moved = tables.changes(case, agreement, new)
    assert moved == [
        f"{case.party('ccg').name}'s share of gains: first £4.30m: 7% → 12%",
        f"{case.party('acute').name}'s share of gains: first £4.30m: 55% → 50%",
    ]


# ---------------------------------------------------------------- the room's proposal


def test_proposal_table_round_trip_and_problems(core):
    case, agreement, _ = core
    frame = pt.proposal_frame(case, agreement)
    assert list(frame.columns) == ["Organisation", "Gains: first £4.30m (%)",
                                   "Gains above £4.30m (%)", "Losses (%)", "Cap (a year)",
                                   "Collar (a year)"]  # fmt: skip
    assert pt.agreement_from_proposal(case, agreement, frame).value.terms == agreement.terms
    assert frame.loc["acute", "Gains: first £4.30m (%)"] == 55.0  # not 55.00000000000001
    frame.loc["acute", "Gains: first £4.30m (%)"] = 50.0
    frame.loc["community", "Cap (a year)"] = "lots"
    (p,) = pt.agreement_from_proposal(case, agreement, frame).problems
    assert (p.row, p.column, p.ident) == (2, "Cap (a year)", case.party("community").name)
    frame.loc["community", "Cap (a year)"] = "£1.5m"
    (p,) = pt.agreement_from_proposal(case, agreement, frame).problems
    assert p.column == "Gains: first £4.30m (%)" and "sum to 95%" in p.message
    frame.loc["ccg", "Gains: first £4.30m (%)"] = 12.0
    frame.loc["acute", "Collar (a year)"] = "2%"
    new = pt.agreement_from_proposal(case, agreement, frame).value
    assert new.terms.gain_tiers[0].shares == {"ccg": 0.12, "acute": 0.5, "community": 0.38}
    assert new.terms.caps["community"].amount == 1_500_000.0
    assert new.terms.collars["acute"].share_of_expected == 0.02


@pytest.mark.parametrize(
    ("text", "limit"),
    [("£500k", {"amount": 500_000.0}), ("1,250,000", {"amount": 1_250_000.0}),
     ("£1.5m", {"amount": 1_500_000.0}), ("2% of expected payment", {"share_of_expected": 0.02}),
     ("", None)],
)  # fmt: skip
def test_caps_are_read_as_people_write_them(text, limit):
    assert pt.parse_limit(text) == limit


def test_rounded_shares_keep_each_tier_at_exactly_100_percent():
    shares = {"acute": 0.542367361452482, "community": 0.37027023355230154, "ccg": 0.087362405}
    # 54.24 / 37.03 / 8.74 -> floors 54 / 37 / 8 = 99; the largest remainder (ccg) takes the 1
    assert pt.round_shares(shares, 0.01) == {"acute": 0.54, "community": 0.37, "ccg": 0.09}


def test_an_even_split_to_start_from_when_nothing_can_be_designed(core):
    case = core[0]
    even = pt.even_split(case)
    # a third each in whole per cent: the one left over goes by id (acute first)
    assert [t.shares for t in even.terms.gain_tiers] == [{"ccg": 0.33, "acute": 0.34,
                                                           "community": 0.33}]  # fmt: skip
    gainshare.check(case, even)  # a proposal the room can type over, checked like any other


# ---------------------------------------------------------------- uploads and downloads


def test_downloads_read_back_under_names_of_their_own(core):
    case, agreement, result = core
    files = {d.label: d for d in downloads(case, agreement, result)}
    assert set(files) == {"Term sheet (HTML)", "Term sheet (Markdown)", "Agreement (YAML)",
                          "Workbook (Excel)", "Case (YAML)"}  # fmt: skip
    back = gainshare.Agreement.model_validate(yaml.safe_load(files["Agreement (YAML)"].make()))
    assert back == agreement
    assert case_from_mapping(yaml.safe_load(files["Case (YAML)"].make())) == case
    assert "Sharing of gains" in files["Term sheet (Markdown)"].make().decode()
    book = load_workbook(io.BytesIO(files["Workbook (Excel)"].make()), read_only=True)
    assert len(book.sheetnames) >= 3
    other = agreement.model_copy(update={"name": "The room's proposal"})
    names = {d.file_name for d in downloads(case, agreement, result)}
    others = {d.file_name for d in downloads(case, other, result)}
    assert len(names - others) == 4  # only the case file is shared by the two agreements


def test_an_excel_case_uploads(tmp_path, workshop):
    from gainshare.report.excel_case import write_case_workbook

    path = write_case_workbook(workshop, tmp_path / "case.xlsx")
    assert load_upload("workshop.xlsx", path.read_bytes()) == workshop
    with pytest.raises(InputError) as e:
        load_upload("broken.xlsx", b"PK not really a workbook")
    assert all(line.startswith("broken.xlsx: ") for line in e.value.problems)


def test_uploads_give_one_line_per_problem():
    good = (ROOT / "cases" / "core.yaml").read_bytes()
    assert load_upload("core.yaml", good) == gainshare.load_case(ROOT / "cases" / "core.yaml")
    with pytest.raises(InputError) as e:
        load_upload("bad.yaml", good.replace(b"price: 2200", b"prise: 2200"))
    assert e.value.problems == ["bad.yaml: contracts[0].prise: unknown key 'prise': remove it "
                                "or fix the spelling (did you mean 'price'?)"]  # fmt: skip
    with pytest.raises(InputError) as e:
        load_upload("case.pdf", b"%PDF")
    assert e.value.problems == ["case.pdf: (file): a case is a .yaml, .json or .xlsx file: "
                                "choose one of those"]  # fmt: skip
    with pytest.raises(InputError) as e:
        load_upload("big.yaml", b"x" * (5 * 1024 * 1024 + 1))
    assert "over the 5,242,880-byte limit" in e.value.problems[0]


def test_an_agreement_uploads_against_its_case(core):
    case, agreement, _ = core
    text = (ROOT / "cases" / "core.agreement.yaml").read_bytes()
    assert load_agreement_upload("a.yaml", text, case) == agreement
    with pytest.raises(InputError) as e:
        load_agreement_upload("a.yaml", text.replace(b"acute:", b"hospital:", 1), case)
    assert all(line.startswith("a.yaml: ") for line in e.value.problems)


def test_requirement_what_ifs_are_written_into_the_case(workshop):
    eff = apply_requirements(workshop, WhatIf(tolerance=(("acute", 25_000.0),),
                                              objective="worst_margin"))  # fmt: skip
    assert eff.keep_whole_for("acute").tolerance == 25_000.0
    assert eff.requirements.objective == "worst_margin"
    assert apply_requirements(workshop, WhatIf()) is workshop


def test_trade_off_chart_tells_failing_candidates_apart_and_keeps_labels_apart():
    import pandas as pd

    from gainshare.report.app_charts import tradeoff

    points = pd.DataFrame({
        "letter": list("ABCD"), "label": ["best", "b", "c", "hand-drafted"],
        "x": [0.0, 4_000.0, 8_000.0, -440_000.0], "y": [1.39e6, 1.34e6, 1.29e6, 2.17e6],
        "meets": [True, True, True, False], "chosen": [True, False, False, False],
    })  # fmt: skip
    frontier = pd.DataFrame({"x": [0.0, 4_000.0, 8_000.0], "y": [1.39e6, 1.34e6, 1.29e6]})
    fig = tradeoff(points, "GBP", frontier)
    by_name = {t.name: t for t in fig.data}
    assert by_name["meets every requirement"].marker.symbol == "circle"
    assert by_name["fails a requirement"].marker.symbol == "x"
    lo, hi = fig.layout.xaxis.range
    assert lo > -440_000 and hi < 20_000  # the far-off failing point does not squeeze the rest
    assert by_name["fails a requirement"].text == ("D (-£440k) ←",)
    assert len(set(by_name["meets every requirement"].textposition)) == 3
    ticks = fig.layout.xaxis.ticktext
    assert len({t[-1] for t in ticks}) == 1  # one unit on the axis


def test_trade_off_chart_prints_letters_drawn_together_once():
    """Fair and bargaining points often sit almost on one spot: one label names them all."""
    import pandas as pd

    from gainshare.report.app_charts import tradeoff

    points = pd.DataFrame({
        "letter": list("ABCDEF"), "label": list("abcdef"),
        "x": [0.0, 7_000.0, 12_000.0, 10.0, 30.0, 20.0],
        "y": [1.39e6, 1.29e6, 1.25e6, 0.52e6, 0.50e6, 0.55e6],
        "meets": [True] * 6, "chosen": [False] * 6,
    })  # fmt: skip
    fig = tradeoff(points, "GBP")
    text = dict(zip("ABCDEF", fig.data[0].text, strict=True))
    assert text == {"A": "A", "B": "B", "C": "C", "D": "D, E, F", "E": "", "F": ""}


def test_the_app_command_finds_the_app_or_says_why_not(monkeypatch, tmp_path):
    from typer.testing import CliRunner

    from gainshare import cli

    assert cli.app_home() == ROOT / "app" / "Home.py"
    monkeypatch.setattr(gainshare, "__file__", str(tmp_path / "src" / "gainshare" / "x.py"))
    result = CliRunner().invoke(cli.app, ["app", "--headless"])
    assert result.exit_code == 2
    assert "the workshop app is not there" in result.output


def test_the_app_settings_hide_the_deploy_button_and_state_the_upload_limit():
    import tomllib

    config = tomllib.loads((ROOT / "app" / ".streamlit" / "config.toml").read_text())
    assert config["client"]["toolbarMode"] == "minimal"
    assert config["server"]["maxUploadSize"] == 5  # MB: the readers' own limit


# ---------------------------------------------------------------- where the code sits


SPLIT = ["schema/tables.py", "schema/case_tables.py", "schema/requirement_tables.py",
         "schema/proposal_table.py", "schema/uploads.py", "optimise/whatif.py",
         "report/numbers.py", "report/positions.py", "report/app_tables.py",
         "report/scenario_words.py", "report/downloads.py", "report/app_charts.py"]  # fmt: skip
FLOORS = {"schema": 0, "economics": 1, "settle": 2, "optimise": 3, "analysis": 4, "report": 4}


@pytest.mark.parametrize("rel", SPLIT)
def test_each_module_sits_on_its_floor_and_imports_at_the_top(rel):
    """Data flows one way (schema -> economics -> settle <- optimise; analysis and report on
    top): a module imports only from its own floor or below, and never inside a function."""
    path = ROOT / "src" / "gainshare" / rel
    tree = ast.parse(path.read_text(encoding="utf-8"))
    floor = FLOORS[rel.split("/")[0]]
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("gainshare."):
            top = node.module.split(".")[1]
            assert FLOORS.get(top, 0) <= floor, f"{rel} imports {node.module}"
            assert node.col_offset == 0, f"{rel}: in-function import of {node.module}"
    assert not (ROOT / "src" / "gainshare" / "analysis" / "workshop.py").exists()
    assert len(path.read_text(encoding="utf-8").splitlines()) < 600


def test_settle_and_settlement_identities_hold_on_the_app_lines(workshop):
    case = workshop.model_copy(update={"uncertainty": workshop.uncertainty.model_copy(
        update={"scenarios": 30})})  # fmt: skip
    r = Designer(case).solve()
    from gainshare.report.positions import line_arrays

    arrays = line_arrays(r.check)
    total = sum(arrays.values())
    np.testing.assert_allclose(total, r.check.settlement.net, atol=1e-6)


def test_the_commissioners_slider_reaches_what_they_could_keep_beyond_the_savings():
    """On the gain-and-loss tiny case the system saves less than nothing in expectation, yet
    the commissioners can keep £13,000 (tests/test_design_groups.py): the slider's top is the
    most they could keep under any agreement, every gain of the pool and none of its losses:
    0.5 x 100,000 = 50,000 (the loss scenarios' pools are negative)."""
    case = Case.model_validate(gain_loss_dict())
    econ = compute(case, sample(case))
    assert expected_savings(econ) < 0
    assert most_retained(econ) == pytest.approx(50_000)
