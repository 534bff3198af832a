"""The worst-margin aim by the search (gainshare.optimise.margin): the highest worst provider
margin over the drafting space, then the commissioners' best agreement with it as a floor.

Checked against an independent formulation (the MIP of models/design.md, part 2, asked for the
same aim), against an exhaustive grid of agreements settled by the settlement code, and the row
reduction against the rows it drops."""

from __future__ import annotations

import itertools
import math
import sys
from pathlib import Path

import numpy as np
import pytest
from helpers_design import gain_loss_dict, tiny_dict

import gainshare
from gainshare.economics.model import compute
from gainshare.optimise.designer import Designer
from gainshare.optimise.margin import highest_margin, staircase
from gainshare.optimise.space import Space
from gainshare.schema.agreement import Agreement
from gainshare.schema.case import Case
from gainshare.settle.check import check
from gainshare.settle.requirements import failures

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))

import cases as bench_cases  # noqa: E402

PENNY = 0.01


def _aim(case: Case, method: str | None = None):
    d = Designer(case, method=method)
    d.set_objective("worst_margin")
    return d.solve(duals=False)


def _both(case: Case):
    """The worst-margin aim by the search and by the MIP: the same margin to the penny, the
    search's proven, its bound within a penny, and its answer re-settled to meet everything."""
    fast, mip = _aim(case), _aim(case, method="mip")
    assert fast.route == "search" and fast.status == "optimal"
    assert mip.status == "optimal"
    assert fast.objective_value == pytest.approx(mip.objective_value, abs=2 * PENNY)
    assert fast.objective_value == pytest.approx(fast.check.worst_provider_net, abs=1e-9)
    slack = max(2 * PENNY, 2e-6 * abs(fast.objective_value))  # to the MIP gap's part of it
    assert fast.objective_value - PENNY <= fast.bound <= fast.objective_value + slack
    assert failures(case, fast.agreement, fast.check) == []
    return fast, mip


def _tiny(**req) -> Case:
    d = tiny_dict()
    d["requirements"] = {"rounding": "1%"} | req
    return Case.model_validate(d)


@pytest.mark.parametrize("path", ["cases/core.yaml", "app/examples/workshop6.yaml"])
def test_the_examples_reach_the_mip_margin(root, path):
    fast, mip = _both(gainshare.load_case(root / path))
    # of the agreements at the highest margin, the search's leaves the commissioners the most
    assert fast.check.expected_retained >= mip.check.expected_retained - PENNY


def test_a_benchmark_system_with_three_stated_tiers_matches_the_mip():
    # six parties, three gain tiers: the providers share every tier to lift the worst of them
    _both(bench_cases.system_case(6, 40, 2))


def _system(**req) -> Case:
    """A small benchmark system (six parties, three gain tiers stated, a gain every year)
    with `req` added to its requirements."""
    d = bench_cases.system_dict(6, 30, 2)
    d["requirements"] = d["requirements"] | req
    return Case.model_validate(d)


@pytest.mark.parametrize(
    "req",
    [
        {},
        {"rounding": "5%"},
        {"rounding": "none", "gain_edges": [], "search": {"max_gain_tiers": 1,
                                                          "max_loss_tiers": 1}},
        {"glide_path": True},
        {"caps": {"acute": {"decide": False, "value": 4_000_000}}},  # binds
        {"collars": {"community": {"basis": "share_of_expected", "min": 0.01}}},
        {"share_bounds": {"community": {"min": 0.1, "max": 0.3}}},
        {"loss_share_bounds": {"acute": {"min": 0.1, "max": 1.0}}},
    ],
    ids=["default", "5%", "exact-shares", "glide", "fixed-cap", "collar-floor", "share-bounds",
         "loss-floor"],
)  # fmt: skip
def test_variants_of_a_system_match_the_mip(req):
    _both(_system(**req))


def test_one_tier_by_hand_and_on_a_grid():
    # the tiny case, one gain tier, no caps or collars. The acute trust's nets are
    # -60,000 + 100,000 a and -48,000 + 80,000 a (scenarios a, b), the community trust's
    # -30,000 + 100,000 c and -30,000 + 80,000 c. With a + c = 1 the acute trust's worst
    # (-48,000 + 80,000 a once a > 0.6) meets the community trust's (50,000 - 80,000 a) at
    # a = 0.6125; in whole percentages a = 0.61 gives 800 and 1,200, a = 0.62 gives 1,600 and
    # 400: the highest worst margin is 800, at 61% / 39% (both keep-whole shares are met)
    case = _tiny(search=ONE_TIER)
    r = _aim(case)
    assert r.route == "search" and r.status == "optimal"
    assert r.objective_value == pytest.approx(800.0, abs=PENNY)
    shares = r.agreement.terms.gain_tiers[0].shares
    assert (shares["acute"], shares["community"]) == pytest.approx((0.61, 0.39))
    econ = compute(case, None)
    best = -math.inf
    for a_, c_ in itertools.product(range(101), repeat=2):
        if a_ + c_ > 100:
            continue
        a = Agreement.model_validate({"name": "grid", "case": case.name, "terms": {
            "gain_tiers": [{"shares": {"acute": a_ / 100, "community": c_ / 100,
                                       "ccg": (100 - a_ - c_) / 100}}],
            "loss_tiers": [{"shares": {"ccg": 1.0}}]}})  # fmt: skip
        res = check(case, a, econ)
        if not failures(case, a, res):
            best = max(best, res.worst_provider_net)
    assert best == pytest.approx(800.0, abs=PENNY)


ONE_TIER = {"max_gain_tiers": 1, "max_loss_tiers": 1, "corridor": False, "caps": False,
            "collars": False}  # fmt: skip


def test_a_commissioners_minimum_the_bound_leaves_out_is_met_by_bisection():
    # the tiny case's highest margin (800, test below) leaves the commissioners nothing; asked
    # to keep 1,000 they need 2% of the tier (1% is 900 of the expected 90,000): shares 0.6 and
    # 0.38, acute 0 in scenario b, community 400, so the worst margin is 0. The search raises
    # a floor on the margin by bisection (each step a commissioners' design) to within £1
    tight = _tiny(search=ONE_TIER, commissioners_min_expected=1_000)
    r, mip = _aim(tight), _aim(tight, method="mip")
    assert r.route == "search" and r.status == "optimal" and mip.status == "optimal"
    assert mip.objective_value == pytest.approx(0.0, abs=PENNY)
    assert r.objective_value == pytest.approx(0.0, abs=PENNY)
    assert r.objective_value <= r.bound <= r.objective_value + 1.0
    assert r.timings["designs"] > 1 and "bisection on the floor" in r.message
    assert r.check.expected_retained == pytest.approx(1_800.0, abs=PENNY)
    assert failures(tight, r.agreement, r.check) == []


def test_a_commissioners_minimum_out_of_reach_is_infeasible():
    r = _aim(_tiny(search=ONE_TIER, commissioners_min_expected=50_000))
    assert r.status == "infeasible" and r.agreement is None


def test_the_highest_margin_is_a_bound_every_structure_respects():
    case = bench_cases.system_case(6, 30, 2)
    space = Space(case)
    top = highest_margin(space)
    assert math.isfinite(top.margin) and top.bound >= top.margin
    for got in top.per_structure.values():
        assert got.bound <= top.bound + 1e-9
        assert got.margin <= top.margin


@pytest.mark.parametrize("seed", range(5))
def test_the_staircase_keeps_the_least_of_every_row(seed):
    rng = np.random.default_rng(seed)
    n, K = 300, 3
    widths = np.array([[100.0, 50.0], [120.0, 40.0]])[rng.integers(0, 2, n)]
    top = rng.integers(0, K, n)
    amount = rng.choice([10.0, 20.0, 30.0, 45.0], n)
    a = np.zeros((n, K))
    for i in range(n):
        a[i, : top[i]] = widths[i, : top[i]]
        a[i, top[i]] = amount[i]
    c = rng.choice([-5.0, 0.0, 7.0, 12.0], n)
    keep = staircase(a, c)
    assert len(keep) < n
    for s in rng.uniform(0, 1, (200, K)):
        assert (a @ s - c).min() == pytest.approx((a[keep] @ s - c[keep]).min(), abs=1e-12)


@pytest.mark.parametrize("seed", range(8))
def test_three_tier_choice_fits_exactly_when_some_choice_does(seed):
    """`_choose` with three tiers: each provider's least top-tier step for every pair of
    lower-tier steps (never rising as those steps rise), a choice of one pair per provider
    with each lower tier's steps summing to at most N and the top tier's too. It finds one
    exactly when trying every combination does, and what it returns fits."""
    from gainshare.optimise.margin import _choose

    rng = np.random.default_rng(seed)
    N = 10
    least = {}
    for p in range(3):
        # a provider needs about `need` steps in all, cheaper in lower tiers by its own rates
        need, r0, r1 = rng.uniform(5, 14), rng.uniform(0.3, 1.2), rng.uniform(0.3, 1.2)
        u, v = np.meshgrid(np.arange(N + 1), np.arange(N + 1), indexing="ij")
        top = np.ceil(np.maximum(need - r0 * u - r1 * v, 0.0))
        top[rng.random((N + 1, N + 1)) < 0.1] = np.inf  # some pairs fit no top step
        top = np.minimum.accumulate(np.minimum.accumulate(top, axis=0), axis=1)
        least[p] = np.where(top <= N, top, np.inf)
    fits = any(
        sum(a for a, _ in pick) <= N and sum(b for _, b in pick) <= N
        and sum(least[p][pick[p]] for p in range(3)) <= N
        for pick in itertools.product(itertools.product(range(N + 1), repeat=2), repeat=3)
    )  # fmt: skip
    got = _choose(least, N, 3)
    assert (got is not None) == fits
    if got is not None:
        assert sum(t[0] for t in got.values()) <= N and sum(t[1] for t in got.values()) <= N
        assert sum(t[2] for t in got.values()) <= N
        for p, (a, b, c) in got.items():
            assert least[p][a, b] == c


def test_a_start_beyond_the_mip_space_is_returned_as_given(root):
    # the MIP's space is narrower than the drafting space (no caps unless stated): asked for
    # more than its own commissioners' optimum, it has nothing, and the room's agreement that
    # meets the minimum is returned unchanged (design never gives less than it was given)
    case = gainshare.load_case(root / "app" / "examples" / "workshop6.yaml")
    best = Designer(case).solve(duals=False)
    mip_best = Designer(case, method="mip").solve(duals=False).check.expected_retained
    assert mip_best < best.check.expected_retained - 1_000
    req = case.requirements.model_copy(
        update={"objective": "worst_margin", "commissioners_min_expected": mip_best + 1_000}
    )
    tight = case.model_copy(update={"requirements": req})
    got = Designer(tight, starts=(best.agreement,), method="mip").solve(duals=False)
    assert got.status == "start" and "given as a start, meets every requirement" in got.message
    assert got.check.expected_retained >= mip_best + 1_000


def _gain_loss(**req) -> Case:
    """The gain-and-loss case (helpers_design): the community trust is 30,000 behind in every
    year, loss years included, where nothing is shared with it unless it takes a loss share;
    it is allowed 70,000 behind."""
    d = gain_loss_dict()
    d["keep_whole"] = {"community": {"tolerance": 70_000}}
    d["requirements"] = {"rounding": "1%"} | req
    return Case.model_validate(d)


LOSS_AT_LEAST_HALF = {"community": {"min": 0.5, "max": 1.0}}


@pytest.mark.parametrize(
    "req, margin",
    [
        ({}, -30_000.0),  # the loss years' -30,000, which no share can move
        # half of the 50,000 and 60,000 losses, collared at 10,000: -40,000
        ({"loss_share_bounds": LOSS_AT_LEAST_HALF, "collars": {"community": {"min": 10_000}}},
         -40_000.0),
    ],
    ids=["fixed-nets", "loss-share-and-collar-floors"],
)  # fmt: skip
def test_loss_years_bound_the_margin_as_the_mip_does(req, margin):
    fast, _ = _both(_gain_loss(**req))
    assert fast.objective_value == pytest.approx(margin, abs=PENNY)


def test_a_collar_the_search_may_decide_lifts_the_loss_years():
    # a loss share of at least half with the collar left to design: a collar of nothing keeps
    # the community trust at -30,000 in the loss years; the MIP's space has no collar unless
    # the case states one, and leaves it at -30,000 - 0.5 x 60,000 = -60,000
    case = _gain_loss(loss_share_bounds=LOSS_AT_LEAST_HALF)
    fast, mip = _aim(case), _aim(case, method="mip")
    assert fast.route == "search" and fast.status == "optimal"
    assert fast.objective_value == pytest.approx(-30_000.0, abs=PENNY)
    assert mip.objective_value == pytest.approx(-60_000.0, abs=PENNY)
    assert fast.agreement.terms.collars["community"].amount == 0.0
    assert failures(case, fast.agreement, fast.check) == []
