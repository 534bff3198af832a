"""candidates and frontiers: a frontier point worked out by hand, non-dominated and monotone
frontiers, every candidate re-settled by check, the simple candidate's shape, no near-duplicates,
and the command line."""

from __future__ import annotations

import itertools
import json
import subprocess
import sys

import pytest

import gainshare
from gainshare.analysis.candidates import (
    Candidate,
    candidates,
    near_duplicate,
    with_provider_chance,
)
from gainshare.analysis.frontier import frontier, margin_points, non_dominated
from gainshare.optimise import Designer, design
from gainshare.schema.agreement import Agreement
from tests.helpers_design import tiny_case

MONEY = 0.01


@pytest.fixture(scope="module")
def core(cases_dir):
    return gainshare.load_case(cases_dir / "core.yaml")


@pytest.fixture(scope="module")
def core_result(core):
    return candidates(core, n_points=6, betas=(1.0, 0.95), time_limit=10)


@pytest.fixture(scope="module")
def tiny_result():
    return candidates(tiny_case(), n_points=5)


# ------------------------------------------------------------------ a frontier point by hand


def test_tiny_frontier_point_by_hand():
    # Tiny case (tests/helpers_design.py): one gain tier, scenarios a and b of weight 0.5, pool
    # 100,000 (a) and 80,000 (b). With gain shares x_a (acute) and x_c (community):
    #   acute net:     a: -60,000 + 100,000 x_a     b: -48,000 + 80,000 x_a
    #   community net: a: -30,000 + 100,000 x_c     b: -30,000 + 80,000 x_c
    # Every provider's net >= m (m >= 0) needs
    #   x_a >= max((60,000 + m) / 100,000, (48,000 + m) / 80,000) = (48,000 + m) / 80,000
    #   (scenario b binds: 0.6 + m/80,000 >= 0.6 + m/100,000), and x_c >= (30,000 + m) / 80,000.
    # Commissioners retain 0.5 x (100,000 + 80,000) x (1 - x_a - x_c) = 90,000 (1 - x_a - x_c),
    # largest at the smallest shares: x_a + x_c = (78,000 + 2m) / 80,000, so
    #   retained = 90,000 x (2,000 - 2m) / 80,000 = 2,250 - 2.25 m.
    # The max-min margin has x_a + x_c = 1: 78,000 + 2m = 80,000, m = 1,000.
    # Five points from m = 0 (the optimum, margin 0) to 1,000 put eps = 500 in the middle:
    #   x_a = 48,500 / 80,000 = 0.60625, x_c = 30,500 / 80,000 = 0.38125, ccg 0.0125,
    #   retained 2,250 - 1,125 = 1,125.
    d = Designer(tiny_case())
    points = margin_points(d, n_points=5)
    assert [round(p.bound, 2) for p in points] == [0.0, 250.0, 500.0, 750.0, 999.99]
    mid = points[2]
    shares = mid.result.agreement.terms.gain_tiers[0].shares
    assert shares["acute"] == pytest.approx(0.60625, abs=1e-9)
    assert shares["community"] == pytest.approx(0.38125, abs=1e-9)
    assert shares["ccg"] == pytest.approx(0.0125, abs=1e-9)
    assert mid.metrics["commissioners_expected"] == pytest.approx(1125.0, abs=MONEY)
    assert mid.metrics["worst_margin"] == pytest.approx(500.0, abs=MONEY)
    for p in points:  # every point on the line retained = 2,250 - 2.25 m
        m = p.metrics["worst_margin"]
        assert p.metrics["commissioners_expected"] == pytest.approx(2250 - 2.25 * m, abs=0.05)
    assert points[-1].metrics["worst_margin"] == pytest.approx(1000.0, abs=MONEY)


def test_frontier_puts_the_designer_back():
    d = Designer(tiny_case())
    before = d.solve()
    df = frontier(d, n_points=4)
    assert len(df) == 4
    after = d.solve()
    assert after.objective_name == "commissioners"
    assert after.objective_value == pytest.approx(before.objective_value, abs=MONEY)
    assert after.check.document["by_party"]["acute"]["worst_net"] == pytest.approx(0, abs=MONEY)


# ------------------------------------------------------------------ frontier properties


def _assert_non_dominated(rows: list[dict], y: str, tol: float) -> None:
    for a, b in itertools.permutations(rows, 2):
        no_worse = (a["commissioners_expected"] >= b["commissioners_expected"] - MONEY
                    and a[y] >= b[y] - tol)  # fmt: skip
        assert not no_worse, f"{a['label']} beats {b['label']}"


def test_worst_margin_frontier_non_dominated_and_monotone(core):
    df = frontier(Designer(core), n_points=8)
    assert len(df) == 8  # an LP: every eps gives a distinct point
    rows = df.to_dict(orient="records")
    _assert_non_dominated(rows, "worst_margin", MONEY)
    for a, b in itertools.pairwise(rows):  # eps rises down the table
        assert b["bound"] > a["bound"]
        assert b["commissioners_expected"] <= a["commissioners_expected"] + MONEY
        assert b["worst_margin"] > a["worst_margin"]
    for r in rows:  # the requirement eps is met on the re-settled agreement
        assert r["worst_margin"] >= r["bound"] - MONEY
    # the loop starts at the commissioners' optimum and ends at the max-min margin
    assert rows[0]["commissioners_expected"] == pytest.approx(
        design(core).objective_value, abs=MONEY
    )
    top = design(core, objective="worst_margin").objective_value
    assert rows[-1]["worst_margin"] == pytest.approx(top, abs=0.02)  # asked: top less a penny


def test_both_frontiers_of_candidates_are_non_dominated(core_result):
    df = core_result.frontier
    margin = df[df.against == "worst_margin"].to_dict(orient="records")
    whole = df[df.against == "prob_all_whole"].to_dict(orient="records")
    assert len(margin) >= 2 and len(whole) >= 1
    _assert_non_dominated(margin, "worst_margin", MONEY)
    _assert_non_dominated(whole, "prob_all_whole", 1e-9)


def test_non_dominated_filter_drops_beaten_and_repeated_points():
    from gainshare.analysis.frontier import FrontierPoint

    def pt(label, c, m):
        metrics = {"commissioners_expected": c, "worst_margin": m, "prob_all_whole": 1.0}
        return FrontierPoint(label, "worst_margin", m, None, metrics)

    pts = [pt("a", 100, 0), pt("b", 90, 10), pt("c", 80, 5), pt("d", 90, 10), pt("e", 50, 20)]
    assert [p.label for p in non_dominated(pts, "worst_margin")] == ["a", "b", "e"]


# ------------------------------------------------------------------ candidates


def _own_case(case, c: Candidate):
    """The case a candidate was designed for: relaxed keep-whole for the beta points."""
    if c.label.startswith("Whole "):
        return with_provider_chance(case, float(c.label[6:-1]) / 100)
    return case


def test_every_candidate_re_settles_and_meets_its_requirement(core, core_result):
    items = core_result.items
    assert 4 <= len(items) <= 8
    assert [c.kind for c in items][0] == "optimum"
    assert {"optimum", "frontier", "simple"} <= {c.kind for c in items}
    econ = gainshare.compute(core)
    for c in items:
        again = gainshare.check(_own_case(core, c), c.agreement, econ)
        doc = again.document
        assert again.all_kept_whole, c.label
        assert doc["retained"]["expected"] == pytest.approx(
            c.metrics["commissioners_expected"], abs=MONEY
        )
        for pid, d in doc["by_party"].items():
            assert d["expected_net"] == pytest.approx(c.metrics["expected_net"][pid], abs=MONEY)
        # SPEC 3 identity: every party's expected net adds up to the system savings
        total = sum(c.metrics["expected_net"].values())
        assert total == pytest.approx(doc["system_savings"]["expected"], abs=0.05)
        assert c.meets_case == gainshare.check(core, c.agreement, econ).all_kept_whole
    assert core_result.feasible
    assert core_result.items[0].metrics["commissioners_expected"] == pytest.approx(
        design(core).objective_value, abs=MONEY
    )


def test_relaxed_candidate_keeps_providers_whole_in_95_percent(core_result):
    relaxed = [c for c in core_result.items if c.label == "Whole 95%"]
    assert len(relaxed) == 1
    c = relaxed[0]
    for pid in ("acute", "community"):
        assert c.metrics["prob_whole"][pid] >= 0.95 - 1e-9
    # giving up 5% of the probability earns the commissioners more than the robust optimum
    opt = core_result.items[0].metrics["commissioners_expected"]
    assert c.metrics["commissioners_expected"] > opt + MONEY
    assert not c.meets_case


def test_simple_candidate_has_one_tier_and_5_percent_steps(core_result):
    simple = [c for c in core_result.items if c.kind == "simple"]
    assert len(simple) == 1
    a = simple[0].agreement
    t = a.terms
    assert len(t.gain_tiers) == 1 and len(t.loss_tiers) == 1
    assert not t.caps and not t.collars and not t.gateway and not a.year_overrides
    for tier in (t.gain_tiers[0], t.loss_tiers[0]):
        for v in tier.shares.values():
            assert abs(v * 20 - round(v * 20)) < 1e-9, v
        assert sum(tier.shares.values()) == pytest.approx(1.0, abs=1e-12)


def test_tiny_simple_candidate_by_hand(tiny_result):
    # 5% steps: acute needs >= 0.6 (exactly a step), community >= 0.375 -> 0.4; ccg keeps 0
    simple = next(c for c in tiny_result.items if c.kind == "simple")
    s = simple.agreement.terms.gain_tiers[0].shares
    assert (s["acute"], s["community"], s["ccg"]) == pytest.approx((0.6, 0.4, 0.0), abs=1e-9)
    assert simple.metrics["commissioners_expected"] == pytest.approx(0.0, abs=MONEY)


def _share_vector(a: Agreement) -> list[float]:
    t = a.terms
    return [v for tier in t.gain_tiers for _, v in sorted(tier.shares.items())]


def _structure(a: Agreement) -> tuple:
    t = a.terms
    return (t.corridor, [x.upto for x in t.gain_tiers], [x.upto for x in t.loss_tiers],
            sorted(t.caps.items()), sorted(t.collars.items()))  # fmt: skip


def test_no_two_candidates_are_near_duplicates(core_result, tiny_result):
    for result in (core_result, tiny_result):
        for a, b in itertools.combinations(result.items, 2):
            assert not near_duplicate(a, b), (a.label, b.label)
            # independently: the terms differ in structure (corridor, tier edges, caps or
            # collars), or some gain share differs by more than half a percentage point
            if _structure(a.agreement) != _structure(b.agreement):
                continue
            va, vb = _share_vector(a.agreement), _share_vector(b.agreement)
            diff = max(abs(x - y) for x, y in zip(va, vb, strict=True))
            assert diff > 0.005, (a.label, b.label)


def test_fair_splits_become_agreements_near_their_payoff(tiny_result):
    # Tiny: only the grand coalition can run the scheme, so every fair split gives each party
    # a third of the expected savings of 6,000: 2,000 each. Positions (one year, one gain tier):
    #   acute 90,000 x_a - 54,000, community 90,000 x_c - 30,000, ccg 90,000 (1 - x_a - x_c).
    # Keeping the community whole in scenario b needs x_c >= 0.375 (position 3,750): 1,750
    # more than its share, taken equally from the other two (the least largest difference):
    # acute and ccg 1,125 each, x_a = 55,125 / 90,000 = 0.6125, ccg 0.0125. These are positions,
    # not pool shares of a third each (which left the providers short). Every other fair split
    # and the bargaining points (Nash, Kalai-Smorodinsky, egalitarian) land on the same
    # agreement here, so they are dropped as its near-duplicates.
    fair = next(c for c in tiny_result.items if c.label == "Shapley")
    assert fair.kind == "fair" and fair.meets_case
    s = fair.agreement.terms.gain_tiers[0].shares
    assert (s["acute"], s["community"], s["ccg"]) == pytest.approx((0.6125, 0.375, 0.0125),
                                                                   abs=1e-6)  # fmt: skip
    net = fair.metrics["expected_net"]
    assert (net["acute"], net["community"], net["ccg"]) == pytest.approx((1125, 3750, 1125),
                                                                         abs=MONEY)  # fmt: skip
    assert "Community trust needs £1,750 more in year 1 than its Shapley share" in fair.method
    dropped = {d["label"]: d for d in tiny_result.dropped if d["kind"] in ("fair", "bargaining")}
    assert set(dropped) == {"Nucleolus", "Proportional", "Equal surplus", "Nash bargaining",
                            "Kalai-Smorodinsky", "Egalitarian"}  # fmt: skip
    assert all(d["same_as"] == "Shapley" for d in dropped.values())


def _tiny_candidate(shares: dict, cap: float | None = None) -> Candidate:
    case = tiny_case()
    terms = {"gain_tiers": [{"shares": shares}], "loss_tiers": [{"shares": {"ccg": 1.0}}]}
    if cap is not None:
        terms["caps"] = {"community": {"amount": cap}}
    a = Agreement.model_validate({"terms": terms})
    res = gainshare.check(case, a)
    return Candidate("x", "frontier", a, res, {}, "", "", res.all_kept_whole)


def test_near_duplicate_definition():
    base = _tiny_candidate({"acute": 0.6, "community": 0.38, "ccg": 0.02})
    close = _tiny_candidate({"acute": 0.604, "community": 0.376, "ccg": 0.02})
    far = _tiny_candidate({"acute": 0.606, "community": 0.374, "ccg": 0.02})
    assert near_duplicate(base, close)
    assert not near_duplicate(base, far)
    capped = _tiny_candidate({"acute": 0.6, "community": 0.38, "ccg": 0.02}, cap=40_000)
    assert not near_duplicate(base, capped)  # a cap on one, none on the other
    # within 1% of the larger cap: 40,400 - 40,000 = 400 <= 404; 40,410 - 40,000 = 410 > 404.1
    assert near_duplicate(capped, _tiny_candidate(
        {"acute": 0.6, "community": 0.38, "ccg": 0.02}, cap=40_400))  # fmt: skip
    assert not near_duplicate(capped, _tiny_candidate(
        {"acute": 0.6, "community": 0.38, "ccg": 0.02}, cap=40_410))  # fmt: skip
    # loss shares do not count when no scenario has a loss to share
    a = Agreement.model_validate({"terms": {
        "gain_tiers": [{"shares": {"acute": 0.6, "community": 0.38, "ccg": 0.02}}],
        "loss_tiers": [{"shares": {"acute": 0.5, "ccg": 0.5}}]}})  # fmt: skip
    res = gainshare.check(tiny_case(), a)
    assert near_duplicate(base, Candidate("y", "frontier", a, res, {}, "", "", True))


def test_candidates_document_is_plain_json(tiny_result):
    doc = json.loads(json.dumps(tiny_result.document, allow_nan=False))
    assert doc["command"] == "candidates"
    assert doc["scenarios"] == 2
    assert {"optimum_s", "margin_frontier_s", "total_s"} <= set(doc["timings"])
    labels = [c["label"] for c in doc["candidates"]]
    assert labels[0] == "Optimum" and "Simple" in labels
    row = doc["frontier"][0]
    assert set(row) >= {"commissioners_expected", "worst_margin", "prob_all_whole", "label"}
    assert doc["candidates"][0]["metrics"]["commissioners_expected"] == pytest.approx(2250.0)


# ------------------------------------------------------------------ command line


def _cli(*args):
    return subprocess.run([sys.executable, "-m", "gainshare.cli", *args],
                          capture_output=True, text=True, timeout=120)  # fmt: skip


def test_cli_candidates_json_core(cases_dir):
    p = _cli("candidates", str(cases_dir / "core.yaml"), "--json", "--points", "4",
             "--time-limit", "2")  # fmt: skip
    assert p.returncode == 0, p.stderr
    doc = json.loads(p.stdout)  # exactly one document: solver chatter goes to stderr
    assert doc["command"] == "candidates"
    assert doc["scenarios"] == gainshare.load_case(cases_dir / "core.yaml").scenario_count()
    assert 4 <= len(doc["candidates"]) <= 8
    assert doc["feasible"] is True


def test_cli_candidates_bad_option(cases_dir):
    p = _cli("candidates", str(cases_dir / "core.yaml"), "--points", "1")
    assert p.returncode == 2
    assert p.stderr.strip() == (
        "error: --points: 1 is not from 2 to 50: give a whole number from 2 to 50"
    )
    assert p.stdout == ""
