"""Fair splits and bargaining points as agreements (models/bargaining.md): hand cases whose
answers can be worked out on paper, the core case where keep-whole binds, the Nash
approximation's accuracy, risk-aware positions, re-settlement to the penny, and the command."""

from __future__ import annotations

import json
import math
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import gainshare
from gainshare.analysis.bargaining import fair_agreements, fair_targets
from gainshare.analysis.coalitions import fair_references
from gainshare.optimise import bargain as bg
from gainshare.schema.case import Case
from gainshare.settle.requirements import failures
from tests.helpers_design import tiny_case, tiny_dict

MONEY = 0.01
ROOT = Path(__file__).resolve().parents[1]


def _points(case: Case, **kw):
    sc = gainshare.sample(case)
    doc = fair_references(case, sc, agreements=False)
    found = fair_agreements(case, sc, doc, **kw)
    return {p.name: p for p in found.points}, found


@pytest.fixture(scope="module")
def core():
    return gainshare.load_case(ROOT / "cases" / "core.yaml")


@pytest.fixture(scope="module")
def core_points(core):
    return _points(core)


# ------------------------------------------------------------------ fair splits


def test_fair_agreement_is_the_fair_payoff_when_keep_whole_does_not_bind():
    # Tiny (tests/helpers_design.py): one year, scenarios a and b (weight 0.5), one gain tier.
    # Positions: acute 90,000 x_a - 54,000, community 90,000 x_c - 30,000,
    # ccg 90,000 (1 - x_a - x_c); every split gives each party 6,000 / 3 = 2,000, so
    # x_a = 56,000 / 90,000 and x_c = 32,000 / 90,000. With a tolerance of 10,000 the
    # community's worst scenario (b: 80,000 x_c - 30,000 = -1,556) is within it, and the acute
    # is whole in both (a: 2,222, b: 1,778): no requirement binds.
    case = tiny_case(keep_whole={"acute": {"mode": "robust"},
                                 "community": {"mode": "robust", "tolerance": 10_000}})  # fmt: skip
    pts, found = _points(case, risk=False)
    shapley = pts["shapley"].answer
    assert shapley.values["distance"] == pytest.approx(0.0, abs=MONEY)
    net = dict(zip(case.party_ids, shapley.expected_net, strict=True))
    assert net == pytest.approx({"ccg": 2000.0, "acute": 2000.0, "community": 2000.0}, abs=MONEY)
    shares = shapley.agreement.terms.gain_tiers[0].shares
    assert shares["acute"] == pytest.approx(56_000 / 90_000, abs=1e-9)
    assert shares["community"] == pytest.approx(32_000 / 90_000, abs=1e-9)
    assert pts["shapley"].sentences[0].startswith("The agreement gives every party its Shapley "
                                                  "payoff in every year")  # fmt: skip
    assert not shapley.binding


def test_core_fair_agreement_keeps_the_acute_trust_whole(core, core_points):
    pts, _ = core_points
    p = pts["shapley"]
    a = p.answer
    by = a.check.document["by_party"]
    assert by["acute"]["worst_net"] >= -MONEY and a.check.all_kept_whole
    assert a.values["distance"] > 1000.0
    assert a.values["distance"] >= a.values["free_distance"] - MONEY
    assert (0, case_index(core, "acute")) in a.binding  # its year-1 rows bind
    # One gain share every year: the least that keeps the acute trust whole in every scenario
    # and year is the largest of its needs over the shareable amount, max -B / X.
    econ = a.check.settlement.econ
    j = econ.index("acute")
    x = a.check.settlement.shareable
    need = np.where(x > 0, -econ.net_before_sharing[:, :, j] / np.where(x > 0, x, 1), -np.inf)
    least = float(need.max())
    assert a.agreement.terms.gain_tiers[0].shares["acute"] == pytest.approx(least, abs=1e-7)
    text = " ".join(p.sentences)
    name = core.party("acute").name
    assert re.search(f"{name} whole in every scenario of year 1 takes a gain share of", text)
    assert "than its Shapley share" in text and "year 2" in text
    assert "with no one to keep whole the nearest agreement is" in text
    assert not re.search(r"\b(acute|community|ccg|s\d+)\b", text)  # names, never ids


def case_index(case: Case, pid: str) -> int:
    return case.party_ids.index(pid)


def test_core_splits_with_the_same_payoff_share_one_agreement(core_points):
    pts, _ = core_points
    same = "The same payoff as the Shapley split, so the same agreement."
    for name in ("nucleolus", "proportional", "equal_surplus"):
        assert pts[name].sentences[0] == same
        assert np.allclose(pts[name].answer.shares, pts["shapley"].answer.shares)


def test_fair_targets_follow_the_system_savings_by_year(core):
    space = bg.share_space(core)
    t = fair_targets(space, {"ccg": 3.0, "acute": 2.0, "community": 1.0})
    v = space.system_savings_by_year
    assert t.sum(axis=1) == pytest.approx(6.0 * v / v.sum())
    assert t.sum(axis=0) == pytest.approx([3.0, 2.0, 1.0])


# ------------------------------------------------------------------ bargaining by hand


def _two_party(tolerance: float = 5_000.0) -> Case:
    """A commissioner and one trust that runs the scheme itself: it loses 1,000 of tariff and
    saves 400 per avoided admission and pays 30,000 for the scheme; the pool is 1,000 per
    avoided admission. Scenarios a (100 avoided) and b (80), weight 0.5 each:
    trust before sharing -90,000 / -78,000, pool 100,000 / 80,000, savings 10,000 / 2,000."""
    d = tiny_dict()
    d["parties"] = [d["parties"][0], {"id": "trust", "name": "Riverside Trust",
                                      "role": "provider", "kind": "acute"}]  # fmt: skip
    for c in d["contracts"]:
        c["provider"] = "trust"
    d["schemes"][0]["provider"] = "trust"
    d["keep_whole"] = {"trust": {"mode": "robust", "tolerance": tolerance}}
    return Case.model_validate(d)


def test_nash_gives_equal_gains_on_a_linear_frontier_within_the_stated_accuracy():
    # Gains: trust 90,000 x - 84,000, ccg 90,000 (1 - x), adding up to 6,000 whatever x: the
    # frontier is a line and the Nash point gives each 3,000 (x = 87,000 / 90,000). Keep-whole
    # (b: 80,000 x - 78,000 = -667) is within the tolerance of 5,000.
    b = bg.bargaining_problem(bg.share_space(_two_party()))
    assert b.ideal == pytest.approx([6000.0, 6000.0], abs=MONEY)
    eps = bg.tangent_error()
    # The grid alone: sum of log gains within 2 eps of the best, so each gain within
    # sqrt(1 - exp(-2 eps)) (2.4%) of the equal split.
    grid = bg.nash(b, rounds=0)
    assert grid.values["a_priori"] == pytest.approx(2 * eps)
    assert grid.values["gap"] <= 2 * eps + 1e-12
    bound = math.sqrt(1 - math.exp(-2 * eps))
    assert np.abs(grid.values["positions"] / 3000.0 - 1).max() <= bound
    # With cuts at the answer: the proven gap, and the gains within sqrt(1 - exp(-gap)).
    refined = bg.nash(b)
    gap = refined.values["gap"]
    assert gap <= bg.NASH_GAP
    assert np.abs(refined.values["positions"] / 3000.0 - 1).max() <= math.sqrt(-math.expm1(-gap))
    assert refined.values["positions"] == pytest.approx([3000.0, 3000.0], abs=2.0)


def test_tangent_error_is_the_envelope_s_largest_excess_over_log():
    r = bg.GRID_RATIO
    pts = r ** -np.arange(40.0)
    u = np.exp(np.linspace(math.log(pts[-1]), 0.0, 400_001))
    envelope = (np.log(pts)[None, :] + u[:, None] / pts[None, :] - 1).min(axis=1)
    excess = envelope - np.log(u)
    assert excess.min() >= -1e-12  # the tangents never fall below log: an outer approximation
    assert excess.max() == pytest.approx(bg.tangent_error(r), rel=1e-4)
    assert bg.tangent_error(1.05) == pytest.approx(2.976e-4, rel=1e-3)


def _tiny_bounded() -> Case:
    # Tiny with the community not required to be whole and the acute trust's gain share at most
    # 0.6 + 1,500 / 90,000: gains acute 90,000 x_a - 54,000 in [0, 1,500],
    # community 90,000 x_c - 30,000 >= 0, ccg 90,000 (1 - x_a - x_c) >= 0, all adding to 6,000.
    return tiny_case(
        keep_whole={"acute": {"mode": "robust"}, "community": {"mode": "none"}},
        requirements={"rounding": "none", "search": None,
                      "share_bounds": {"acute": {"max": 0.6 + 1500 / 90_000}}},
    )  # fmt: skip


def test_kalai_smorodinsky_by_hand():
    # Ideals: acute 1,500 (its largest share), community 6,000 (x_a = 0.6, ccg nothing), ccg
    # 6,000. The largest lambda with every gain >= lambda x ideal uses all 6,000:
    # lambda (1,500 + 6,000 + 6,000) = 6,000, lambda = 4/9: acute 666.67, the others 2,666.67.
    b = bg.bargaining_problem(bg.share_space(_tiny_bounded()))
    assert b.ideal == pytest.approx([6000.0, 1500.0, 6000.0], abs=MONEY)  # ccg, acute, community
    ks = bg.kalai_smorodinsky(b)
    assert ks.values["level"] == pytest.approx(4 / 9, abs=1e-9)
    assert ks.values["positions"] == pytest.approx([8000 / 3, 6000 / 9, 8000 / 3], abs=MONEY)
    s = ks.agreement.terms.gain_tiers[0].shares
    assert s["acute"] == pytest.approx((54_000 + 6000 / 9) / 90_000, abs=1e-9)


def test_egalitarian_is_max_min_then_the_rest_by_hand():
    # Max-min: no gain above the acute trust's 1,500 can be had by all, so the least gain is
    # 1,500; the other two then share the remaining 4,500 equally (2,250 each).
    b = bg.bargaining_problem(bg.share_space(_tiny_bounded()))
    eg = bg.egalitarian(b)
    assert eg.values["level"] == pytest.approx(1500.0, abs=MONEY)
    assert eg.values["positions"] == pytest.approx([2250.0, 1500.0, 2250.0], abs=MONEY)
    nash = bg.nash(b)  # log is concave and the acute trust is capped: the same point
    assert nash.values["positions"] == pytest.approx([2250.0, 1500.0, 2250.0], abs=1.0)


def test_nash_is_left_out_when_a_party_cannot_gain():
    case = tiny_case(requirements={"rounding": "none", "search": None,
                                   "share_bounds": {"acute": {"max": 0.6}}})  # fmt: skip
    pts, found = _points(case, risk=False)
    assert "nash" not in pts and "kalai_smorodinsky" not in pts
    assert any(n.startswith("Nash bargaining: Nash bargaining is not defined: Acute trust "
                            "cannot gain") for n in found.notes)  # fmt: skip
    assert pts["egalitarian"].answer.values["level"] == pytest.approx(0.0, abs=MONEY)


def test_no_agreement_says_who_would_have_to_give_and_how_much():
    # The acute trust's gain share at most 50%: scenario a leaves it 60,000 - 50,000 = 10,000
    # short (b: 8,000), whatever the others get.
    case = tiny_case(requirements={"rounding": "none", "search": None,
                                   "share_bounds": {"acute": {"max": 0.5}}})  # fmt: skip
    pts, found = _points(case)
    assert not pts
    assert found.notes == ["agreements: no agreement with shares alone (no caps or collars) "
                           "meets every requirement: Acute trust would have to accept being up "
                           "to £10k worse off in its worst year"]  # fmt: skip


def test_an_empty_bargaining_set_names_the_party_left_worse_off():
    case = gainshare.load_case(ROOT / "cases" / "discharge_to_assess.yaml")
    pts, found = _points(case, risk=False)
    assert "shapley" in pts and "nash" not in pts
    assert any("the nearest leaves NHS Northshire ICB" in n and "(expected) worse off" in n
               for n in found.notes)  # fmt: skip


# ------------------------------------------------------------------ risk-aware positions


def test_risk_aware_points_differ_and_report_the_worst_tail(core, core_points):
    pts, found = core_points
    w = gainshare.sample(core).weights
    for rule in bg.BARGAINING_RULES:
        mean, risk = pts[rule].answer, pts[rule + "_cvar"].answer
        assert np.abs(mean.shares - risk.shares).max() > 0.005, rule
        total = risk.check.settlement.net.sum(axis=1)  # (S, P)
        for j in range(total.shape[1]):  # the expected net over the worst 10% of probability
            order = np.argsort(total[:, j])
            cum = np.cumsum(w[order])
            take = np.clip(0.1 - (cum - w[order]), 0, w[order])
            tail = float((total[order, j] * take).sum() / 0.1)
            assert risk.values["positions"][j] == pytest.approx(tail, abs=MONEY)
            assert tail <= risk.expected_net[j] + MONEY
    eg = pts["egalitarian_cvar"].answer.values
    assert eg["positions"].min() == pytest.approx(eg["level"], abs=1.0)
    assert found.beta == 0.9


def test_cvar_keep_whole_is_held_and_chance_is_refused():
    kw = {"mode": "cvar", "beta": 0.5, "tolerance": 500}
    cvar = tiny_case(keep_whole={"acute": {"mode": "robust"}, "community": kw})
    pts, _ = _points(cvar, risk=False)
    a = pts["shapley"].answer
    assert a.check.requirement_met["community"]
    # b is the worst half: its shortfall 30,000 - 80,000 x_c held at the tolerance of 500
    assert a.agreement.terms.gain_tiers[0].shares["community"] == pytest.approx(29_500 / 80_000)
    assert pts["shapley"].sentences[0] == (
        "Community trust needs £1,188 more in year 1 than its Shapley share to be kept whole, its "
        "expected shortfall over its worst 50% of scenarios within its tolerance."
    )
    chance = tiny_case(keep_whole={"acute": {"mode": "robust"},
                                   "community": {"mode": "chance", "beta": 0.5}})  # fmt: skip
    pts, found = _points(chance, risk=False)
    assert not any(p.answer for p in pts.values())
    assert any("Community trust is kept whole by chance (in at least 50% of scenarios), which "
               "needs a mixed-integer model" in n for n in found.notes)  # fmt: skip


# ------------------------------------------------------------------ checks


def test_every_answer_re_settles_to_the_penny(core, core_points):
    pts, _ = core_points
    econ = gainshare.compute(core)
    for name, p in pts.items():
        a = p.answer
        again = gainshare.check(core, a.agreement, econ)
        by_year = np.einsum("s,syp->yp", econ.weights, again.settlement.net)
        assert np.abs(by_year - a.expected_net_by_year).max() <= MONEY, name
        assert failures(core, a.agreement, again) == [], name
        ident = again.document["identities"]
        assert ident["pence_pool_exact"] and ident["pence_savings_exact"]


def test_an_answer_the_settlement_disagrees_with_is_a_fault():
    space = bg.share_space(tiny_case())
    x = np.zeros(len(space.columns))
    x[0] = 1.5  # a share above 100% is written as 100%: the settlement pays less than the LP
    with pytest.raises(RuntimeError, match="differ from the linear programme's"):
        bg.settled(space, x, "broken", {})


def test_every_row_family_is_written_up():
    doc = (ROOT / "models" / "bargaining.md").read_text()
    headings = set(re.findall(r"^### `(\w+)`", doc, flags=re.M))
    assert headings == set(bg.ROW_FAMILIES)
    cvar = tiny_case(keep_whole={"acute": {"mode": "cvar", "beta": 0.5}},
                     requirements={"rounding": "none", "search": None, "symmetric": True,
                                   "commissioners_min_expected": 0,
                                   "commissioners_worst_year": -1e6,
                                   "worst_margin_min": -1e6})  # fmt: skip
    space = bg.share_space(cvar)
    lp, x = bg.base_lp(space)
    bg.add_positions(lp, space, x, risk=True, beta=0.9)
    used = {fam[0] for fam in lp.families}
    assert used <= set(bg.ROW_FAMILIES)
    assert {"share_sum", "symmetric_shares", "cvar_excess", "cvar_floor", "cvar_limit",
            "commissioners_floor", "commissioners_worst", "margin_floor", "position",
            "tail_excess"} <= used  # fmt: skip


# ------------------------------------------------------------------ command line


def test_cli_fair_json_has_the_agreements():
    r = subprocess.run([sys.executable, "-m", "gainshare.cli", "fair",
                        str(ROOT / "cases" / "core.yaml"), "--json"],
                       capture_output=True, text=True, timeout=300)  # fmt: skip
    assert r.returncode == 0, r.stderr
    doc = json.loads(r.stdout)  # exactly one document
    ag = doc["agreements"]
    assert set(ag["fair"]) == {"shapley", "nucleolus", "proportional", "equal_surplus"}
    assert set(ag["bargaining"]) == {"nash", "kalai_smorodinsky", "egalitarian", "nash_cvar",
                                     "kalai_smorodinsky_cvar", "egalitarian_cvar"}  # fmt: skip
    s = ag["fair"]["shapley"]
    assert s["distance"] > 0 and set(s["expected_net"]) == set(doc["players"])
    total = sum(s["expected_net"].values())
    assert total == pytest.approx(doc["grand_coalition_value"], abs=1.0)
    assert ag["bargaining"]["nash"]["nash_accuracy"]["proven_log_gap"] <= bg.NASH_GAP
    assert "no caps or collars" in ag["method"]
    # every key is documented in docs/fair-output.md
    text = (ROOT / "docs" / "fair-output.md").read_text(encoding="utf-8")
    documented = {k for cell in re.findall(r"^\| ([^|]+) \|", text, flags=re.M)
                  for k in re.findall(r"`(\w+)`", cell)}  # fmt: skip
    keys = set(doc) | set(ag) | {k for p in (*ag["fair"].values(), *ag["bargaining"].values())
                                 if p for k in p}  # fmt: skip
    assert keys <= documented, keys - documented
