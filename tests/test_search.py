"""The drafting-space search (models/design.md, part 1): exact against hand figures and against
exhaustive grids settled by the settlement code, never worse than an agreement the room brings,
in the steps it promises, and the same after a what-if as a fresh design."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest

import gainshare
from gainshare.economics.model import compute
from gainshare.economics.scenarios import sample
from gainshare.optimise import Designer, design
from gainshare.optimise import search as search_module
from gainshare.optimise.search import (
    TOO_MANY,
    Side,
    TooMany,
    _expected_capped,
    _knapsack_dp,
    _knapsack_dp2,
    _knapsack_enum,
    _knapsack_mip,
    _max_lines,
    _pareto_grid,
    _pareto_scan,
)
from gainshare.schema.agreement import Agreement
from gainshare.schema.case import Case
from gainshare.settle.check import check
from gainshare.settle.requirements import failures
from tests.helpers_design import tiny_dict

ONE_TIER = {"max_gain_tiers": 1, "max_loss_tiers": 1, "corridor": False}


def _with(case: Case, **req) -> Case:
    return Case.model_validate(case.model_dump() | {
        "requirements": case.requirements.model_dump() | req})  # fmt: skip


# ------------------------------------------------------------------ closed form


def test_core_one_tier_closed_form(root):
    """Robust keep-whole, one tier, no corridor: each provider's share is the largest need/X
    over its gain scenario-years (rounded up to 1%), each cap the largest need (rounded up to
    £1,000); the commissioners keep the pool less min(share x X, cap) in expectation."""
    case = gainshare.load_case(root / "cases" / "core.yaml")
    case = _with(case, search=ONE_TIER)
    econ = compute(case, sample(case))
    w = econ.weights
    base = econ.revenue_change * econ.is_provider - econ.cost_change + econ.benefit
    x = econ.pool
    assert (x > 0).all()  # the scheme saves money in every scenario: a gain every year
    value = float(w @ x.sum(axis=1))
    shares, caps = {}, {}
    for pid in ("acute", "community"):
        need = -base[:, :, econ.index(pid)]
        share = math.ceil(np.max(need / x) / 0.01 - 1e-9) * 0.01
        cap = math.ceil(need.max() / 1000) * 1000
        shares[pid], caps[pid] = share, cap
        value -= float(w @ np.minimum(share * x, cap).sum(axis=1))
    r = design(case)
    assert r.status == "optimal" and r.route == "search" and r.gap == 0
    t = r.agreement.terms
    assert len(t.gain_tiers) == 1
    for pid in ("acute", "community"):
        assert t.gain_tiers[0].shares[pid] == pytest.approx(shares[pid], abs=1e-12)
        assert t.caps[pid].amount == caps[pid]
    assert r.objective_value == pytest.approx(value, abs=0.01)


# ------------------------------------------------------------------ exhaustive grids


def _grid_case(named, keep_whole, **req) -> Case:
    d = tiny_dict()
    d["schemes"][0]["escalation"] = {"dist": "uniform", "low": 0.0, "high": 0.9}
    d["uncertainty"]["named"] = named
    d["keep_whole"] = keep_whole
    d["requirements"] = {"rounding": "5%", "search": ONE_TIER | {"limit_step": 5000}} | req
    return Case.model_validate(d)


def _named(*rows):
    return [{"name": n, "weight": wt, "values": {"schemes.rr.targeting": t,
                                                 "schemes.rr.escalation": e}}
            for n, wt, t, e in rows]  # fmt: skip


def _best_on_grid(case: Case, terms) -> tuple[float, dict]:
    """Every agreement of the grid settled by the settlement code; the best that meets every
    requirement of the case."""
    econ = compute(case, sample(case))
    best, arg = -np.inf, None
    for t in terms:
        a = Agreement.model_validate({"terms": t})
        res = check(case, a, econ)
        if failures(case, a, res):
            continue
        if res.expected_retained > best + 1e-9:
            best, arg = res.expected_retained, t
    return best, arg


def _split(shares: dict) -> dict:
    return shares | {"ccg": round(1 - sum(shares.values()), 10)}


def test_gain_side_equals_an_exhaustive_grid():
    """Two providers with caps to decide, shares in 5% steps, caps in £5,000 steps: the search
    finds exactly the best agreement of the grid (every point settled by the settlement code)."""
    named = _named(("a", 0.4, 1.0, 0.0), ("b", 0.3, 0.8, 0.0), ("c", 0.3, 0.9, 0.0))
    kw = {"acute": {"mode": "robust"}, "community": {"mode": "robust"}}
    case = _grid_case(named, kw)
    steps = [round(0.05 * i, 2) for i in range(21)]
    caps_a = [None, 50_000, 55_000, 60_000, 65_000]
    caps_c = [None, 25_000, 30_000, 35_000, 40_000]
    terms = []
    for sa, sc in itertools.product(steps, steps):
        if sa + sc > 1 + 1e-9:
            continue
        for ca, cc in itertools.product(caps_a, caps_c):
            caps = {k: {"amount": v} for k, v in (("acute", ca), ("community", cc)) if v}
            terms.append({"gain_tiers": [{"shares": _split({"acute": sa, "community": sc})}],
                          "loss_tiers": [{"shares": {"ccg": 1.0}}], "caps": caps})  # fmt: skip
    best, arg = _best_on_grid(case, terms)
    r = design(case)
    assert r.status == "optimal" and r.route == "search"
    assert r.objective_value == pytest.approx(best, abs=0.01), arg
    assert r.check.document["all_kept_whole"]


def test_loss_side_equals_an_exhaustive_grid():
    """Gains and losses: the acute trust must stay whole in a loss year (its share of the loss
    up to its slack, or a collar); the community trust has no requirement and may take the
    rest of a loss. Shares in 5% steps, caps and collars in £5,000 steps."""
    named = _named(("a", 0.3, 1.0, 0.0), ("b", 0.3, 0.8, 0.1), ("c", 0.2, 0.6, 0.5),
                   ("d", 0.2, 0.4, 0.9))  # fmt: skip
    kw = {"acute": {"mode": "robust"}, "community": {"mode": "none"}}
    case = _grid_case(named, kw)
    econ = compute(case, sample(case))
    assert (econ.pool[:, 0] < 0).any() and (econ.pool[:, 0] > 0).any()
    steps = [round(0.05 * i, 2) for i in range(21)]
    losses = [(a, c) for a in steps for c in steps if a + c <= 1 + 1e-9]
    terms = []
    for g, ca, (la, lc), co in itertools.product([0.55, 0.6, 0.65, 0.7],
                                                 [None, 60_000, 65_000], losses,
                                                 [None, 25_000, 30_000, 35_000]):  # fmt: skip
        caps = {"acute": {"amount": ca}} if ca else {}
        collars = {"acute": {"amount": co}} if co else {}
        terms.append({"gain_tiers": [{"shares": _split({"acute": g})}],
                      "loss_tiers": [{"shares": _split({"acute": la, "community": lc})}],
                      "caps": caps, "collars": collars})  # fmt: skip
    best, arg = _best_on_grid(case, terms)
    r = design(case)
    assert r.status == "optimal" and r.route == "search"
    assert r.objective_value == pytest.approx(best, abs=0.01), arg
    assert r.agreement.terms.loss_tiers[0].shares["acute"] > 0  # the acute trust takes losses


# ------------------------------------------------------------------ dominance and starts


def _examples(root):
    out = [p for p in sorted((root / "cases").glob("*.yaml")) if "." not in p.stem]
    return out + [root / "app" / "examples" / "workshop6.yaml"]


def test_design_is_never_worse_than_an_example_agreement(root):
    """For every example case whose own agreement meets its requirements, design keeps the
    commissioners at least as much (the case's objective)."""
    compared = 0
    for path in _examples(root):
        case = gainshare.load_case(path)
        own = gainshare.load_agreement(path.with_name(path.stem + ".agreement.yaml"), case)
        res = gainshare.check(case, own)
        if failures(case, own, res):
            continue
        r = design(case)
        assert r.agreement is not None, path.name
        mine = (
            r.check.expected_system_savings
            if case.requirements.objective == "system_savings"
            else r.check.expected_retained
        )
        theirs = (
            res.expected_system_savings
            if case.requirements.objective == "system_savings"
            else res.expected_retained
        )
        assert mine >= theirs - 0.01, (path.name, mine, theirs)
        compared += 1
    assert compared >= 3


def test_a_better_start_from_the_room_is_kept(root):
    """Shares in any value beat whole percentages: an agreement the room brings that does
    better than the drafting space is returned unchanged, and said so."""
    case = gainshare.load_case(root / "cases" / "core.yaml")
    exact = _with(case, rounding="none", search=ONE_TIER | {"limit_step": 0.0})
    start = design(exact).agreement
    r = design(_with(case, search=ONE_TIER), starts=(start,))
    assert r.agreement == start and "returned unchanged" in r.message
    assert r.starts[0]["meets_requirements"] is True
    assert r.objective_value == pytest.approx(r.check.expected_retained, abs=0.01)
    # a worse start changes nothing
    best = design(case)
    r2 = design(case, starts=(gainshare.load_agreement(root / "cases" / "core.agreement.yaml",
                                                       case),))  # fmt: skip
    assert r2.agreement == best.agreement and r2.starts[0]["objective_value"] < r2.objective_value


def test_shares_and_caps_come_in_their_steps(root):
    for name, rounding, step in (
        ("app/examples/workshop6", "1%", 0.01),
        ("cases/core", "5%", 0.05),
    ):
        case = gainshare.load_case(root / f"{name}.yaml")
        r = design(_with(case, rounding=rounding))
        assert r.status == "optimal"
        t = r.agreement.terms
        for tier in t.gain_tiers + t.loss_tiers:
            for pid in case.provider_ids:
                v = tier.shares.get(pid, 0.0)
                assert abs(v / step - round(v / step)) < 1e-9, (rounding, pid, v)
        for lim in list(t.caps.values()) + list(t.collars.values()):
            assert lim.amount % 1000 == 0


def test_a_resolve_equals_a_fresh_design(root):
    case = gainshare.load_case(root / "cases" / "core.yaml")
    d = Designer(case)
    d.solve()
    for pid, tol in (("acute", 20_000.0), ("community", 50_000.0), ("acute", 0.0)):
        d.set_tolerance(pid, tol)
        again = d.solve()
        fresh = design(d.case)
        assert again.route == fresh.route == "search"
        assert again.objective_value == pytest.approx(fresh.objective_value, abs=0.01)
        assert again.agreement == fresh.agreement


def test_shadow_price_matches_a_finite_difference(root):
    """£1 more protection for a provider: the price of its keep-whole rows (the linear
    programme at the answer's pattern) against re-solving with £100 less tolerance."""
    case = gainshare.load_case(root / "cases" / "core.yaml")
    case = _with(case, rounding="none", search=ONE_TIER | {"limit_step": 0.0})
    kw = case.keep_whole_for("acute").model_copy(update={"tolerance": 100.0})
    looser = case.model_copy(update={"keep_whole": case.keep_whole | {"acute": kw}})
    r0, r1 = design(case), design(looser)
    price = next(b["shadow_price"] for b in r0.binding if b["requirement"] == "keep_whole.acute")
    assert price < 0 and "costs the commissioners" in next(
        b["meaning"] for b in r0.binding if b["requirement"] == "keep_whole.acute"
    )
    fd = (r0.objective_value - r1.objective_value) / 100.0
    assert fd == pytest.approx(price, rel=0.01)


@pytest.mark.parametrize(
    "path", ["cases/core.yaml", "app/examples/workshop6.yaml", "cases/discharge_to_assess.yaml"]
)
def test_shadow_prices_by_row_generation_equal_the_whole_programme(root, path, monkeypatch):
    """The prices' linear programme solved from the rows near binding at the answer (adding
    broken rows until none is) gives the same prices as solving it with every row."""
    from gainshare.optimise import prices

    d = Designer(gainshare.load_case(root / path))
    got = d.solve().binding
    monkeypatch.setattr(prices, "ROUNDS", 0)  # no row generation: every row at once
    want = d.solve().binding
    assert got and [b["requirement"] for b in got] == [b["requirement"] for b in want]
    for a, b in zip(got, want, strict=True):
        assert a["shadow_price"] == pytest.approx(b["shadow_price"], abs=1e-6)


def test_chance_keep_whole_equals_the_mip_on_the_same_space():
    """Chance keep-whole (one tier, shares in 1% steps, a cap to decide): the search and the
    MIP of models/design.md part 2 find the same optimum."""
    named = _named(("a", 0.25, 1.0, 0.0), ("b", 0.25, 0.8, 0.0), ("c", 0.25, 0.9, 0.0),
                   ("d", 0.25, 0.7, 0.0))  # fmt: skip
    kw = {"acute": {"mode": "chance", "beta": 0.7}, "community": {"mode": "none"}}
    d = tiny_dict()
    d["uncertainty"]["named"] = named
    d["keep_whole"] = kw
    d["requirements"] = {"rounding": "1%", "search": None, "caps": {"acute": {"decide": True}}}
    case = Case.model_validate(d)
    s = design(case)
    m = Designer(case, method="mip").solve()
    assert s.route == "search" and m.route == "mip"
    assert s.status == m.status == "optimal"
    assert s.objective_value == pytest.approx(m.objective_value, abs=0.01)
    assert s.check.document["by_party"]["acute"]["prob_whole"] >= 0.7


@pytest.mark.parametrize("edges", [[70_000], [68_000, 88_000]])
@pytest.mark.parametrize("capped", [False, True])
def test_chance_keep_whole_with_tiers_equals_the_mip(edges, capped):
    """Chance keep-whole with two and three gain tiers (edges inside the pool's range of
    £60,000-£100,000), with and without caps to decide: the search and the MIP find the same
    optimum, and the answer, settled, keeps the acute trust whole in 75% of the probability."""
    targeting = [1.0, 0.8, 0.9, 0.7, 0.95, 0.85, 0.75, 0.65]
    escalation = [0.0, 0.05, 0.0, 0.1, 0.02, 0.0, 0.05, 0.0]
    d = tiny_dict()
    rows = zip("abcdefgh", [0.125] * 8, targeting, escalation, strict=True)
    d["uncertainty"]["named"] = _named(*rows)
    d["keep_whole"] = {"acute": {"mode": "chance", "beta": 0.75}, "community": {"mode": "none"}}
    d["requirements"] = {"rounding": "1%", "search": None,
                         "gain_edges": [{"amount": e} for e in edges]}  # fmt: skip
    if capped:
        d["requirements"]["caps"] = {"acute": {"decide": True}, "community": {"decide": True}}
    case = Case.model_validate(d)
    s = design(case)
    m = Designer(case, method="mip").solve()
    assert s.route == "search" and m.route == "mip"
    assert s.status == m.status == "optimal"
    assert s.objective_value == pytest.approx(m.objective_value, abs=0.01)
    assert s.check.document["by_party"]["acute"]["prob_whole"] >= 0.75
    assert len(s.agreement.terms.gain_tiers) == len(edges) + 1


def _chance_by_brute_force(P, w, scen, need, rule, step, lstep, W, budget, mandatory):
    """Every share vector of the grid and every cap worth trying: the least expected transfer
    that leaves no more than `budget` of the probability short (a scenario is short when one of
    its rows is not covered)."""
    points = _chance_points(P, w, scen, need, rule, step, lstep, W, budget, mandatory)
    return min(points.values(), default=math.inf)


def _chance_points(P, w, scen, need, rule, step, lstep, W, budget, mandatory) -> dict:
    """{share vector: least expected transfer} over every share vector of the grid that some
    cap worth trying keeps within `budget` (the least such cap costs least)."""
    K, S = P.shape[1], len(W)
    grid = np.arange(0, round(1 / step) + 1) * step
    cn = np.zeros(S)
    np.maximum.at(cn, scen, np.maximum(need, 0))
    caps = [None] if rule is None else sorted(
        c for c in {rule.min} | {max(rule.min, math.ceil(v / lstep - 1e-10) * lstep)
                                 for v in need if v > 0}
        if rule.max is None or c <= rule.max)  # fmt: skip
    points = {}
    for x in itertools.product(grid, repeat=K):
        t = P @ np.array(x)
        short = mandatory.copy()
        np.logical_or.at(short, scen, t < need - 1e-9)
        if W[short].sum() > budget + 1e-12:
            continue
        for c in caps:  # the least cap that fits the budget costs least
            if c is not None and W[short | (cn > c + 1e-9)].sum() > budget + 1e-12:
                continue
            points[tuple(np.round(x, 9))] = float(w @ (t if c is None else np.minimum(t, c)))
            break
    return points


def _not_beaten(points: dict) -> set:
    """The share vectors no other vector with no more share of any tier beats or equals."""
    out = set()
    for x, v in points.items():
        if not any(y != x and all(a <= b for a, b in zip(y, x, strict=True)) and u <= v + 1e-9
                   for y, u in points.items()):  # fmt: skip
            out.add(x)
    return out


def _assert_keeps_the_front(side, points: dict, want: set) -> dict:
    """A side's grid points hold every vector of `want` (`_not_beaten` of `points`) at its
    value, are all among `points` at their values, and project onto every tier to exactly
    `want`; the points kept ({share vector: value})."""
    from gainshare.optimise.search import _project

    kept = {tuple(np.round(v, 9)): float(val)
            for v, val in zip(side.grid_shares, side.grid_value, strict=True)}  # fmt: skip
    for v in want:
        assert v in kept and kept[v] == pytest.approx(points[v], abs=1e-9)
    for v, val in kept.items():
        assert v in points and val == pytest.approx(points[v], abs=1e-9)
    front = {tuple(np.round(side.grid_shares[i], 9))
             for i in _project(side, list(range(side.grid_shares.shape[1])), 1.0)}  # fmt: skip
    assert front == want
    return kept


@pytest.mark.parametrize("tiers", [2, 3])
@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_chance_side_keeps_every_point_a_share_sum_may_need(tiers, seed):
    """The grid points a chance side hands to the share-sum knapsack: every share vector that
    no vector with no more share of any tier beats (found by trying every vector of a 10% grid
    and every cap) is among them, at its value, and every point kept is one of those or beaten
    by one of those. Shares that leave the same scenarios short as a step less of some tier
    are never tried, so the lower tiers' shares stop where nothing more can be covered."""
    from gainshare.optimise.search import solve_gain_chance
    from gainshare.schema.requirements import LimitRule

    rng = np.random.default_rng(seed)
    S, Y = 10, 2
    x = rng.uniform(1, 10, size=S * Y)
    edges = [3.0, 6.0][: tiers - 1]
    lo_e, hi_e = np.array([0.0, *edges]), np.array([*edges, np.inf])
    P = np.clip(x[:, None] - lo_e[None, :], 0, hi_e - lo_e)
    scen = np.repeat(np.arange(S), Y)
    W = rng.dirichlet(np.ones(S))
    need = rng.uniform(-2, 1, size=S * Y) + rng.uniform(0.1, 0.5) * x
    mandatory = np.zeros(S, bool)
    for rule in (None, LimitRule(decide=True, min=0.5)):
        for budget in (0.0, 0.25):
            args = (P, W[scen], scen, need, rule, 0.1, 0.5, W, budget, mandatory)
            side = solve_gain_chance(*args[:5], 0.0, 1.0, *args[5:])
            points = _chance_points(*args)
            want = _not_beaten(points)
            if not want:
                assert not side.feasible
                continue
            _assert_keeps_the_front(side, points, want)


@pytest.mark.parametrize("tiers", [2, 3])
@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_robust_gain_side_keeps_every_point_a_share_sum_may_need(tiers, seed):
    """Robust keep-whole, the same for the grid points of a gain side: every share vector of a
    10% grid that covers every need and that no vector with no more share of any tier beats is
    kept, at its value, and every point kept covers every need. A lower tier's steps stop where
    the tiers above it at their least cover every row above it."""
    from gainshare.optimise.search import solve_gain
    from gainshare.schema.requirements import LimitRule

    rng = np.random.default_rng(seed)
    n = 24
    x = rng.uniform(1, 10, size=n)
    edges = [3.0, 6.0][: tiers - 1]
    lo_e, hi_e = np.array([0.0, *edges]), np.array([*edges, np.inf])
    P = np.clip(x[:, None] - lo_e[None, :], 0, hi_e - lo_e)
    w = rng.dirichlet(np.ones(n))
    need = rng.uniform(0.0, 0.35, size=n) * x
    req = need > 1e-6
    grid = np.arange(11) / 10
    for rule in (None, LimitRule(decide=True)):
        side = solve_gain(P, np.ones(n), w, np.ones(n), need, rule, 0.0, 1.0, 0.1, 0.5)
        points = {}
        for v in itertools.product(grid, repeat=tiers):
            t = P @ np.array(v)
            if (t[req] >= need[req] - 1e-9).all():
                paid = t if side.limit is None else np.minimum(t, side.limit)
                points[tuple(np.round(v, 9))] = float(w @ paid)
        want = _not_beaten(points)
        assert side.feasible == bool(want)
        if not want:
            continue
        assert len(_assert_keeps_the_front(side, points, want)) < len(points)


@pytest.mark.parametrize("tiers", [1, 2, 3])
@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("top_needs", [True, False])
def test_chance_side_equals_brute_force(tiers, seed, top_needs):
    """One provider's gain terms under chance keep-whole, for one to three tiers with a cap to
    decide: the search equals trying every share vector of a 10% grid and every cap. Also when
    no row in the top tier needs cover (only lower tiers' shares can leave it short)."""
    from gainshare.optimise.search import solve_gain_chance
    from gainshare.schema.requirements import LimitRule

    rng = np.random.default_rng(seed)
    S, Y = 12, 2
    x = rng.uniform(1, 10, size=S * Y)
    edges = [3.0, 6.0][: tiers - 1]
    lo_e = np.array([0.0, *edges])
    hi_e = np.array([*edges, np.inf])
    P = np.clip(x[:, None] - lo_e[None, :], 0, hi_e - lo_e)
    scen = np.repeat(np.arange(S), Y)
    W = rng.dirichlet(np.ones(S))
    w = W[scen]
    need = rng.uniform(-2, 4, size=S * Y)
    if not top_needs and tiers > 1:
        need[x > edges[-1]] = -1.0
    mandatory = np.zeros(S, bool)
    for rule in (None, LimitRule(decide=True), LimitRule(decide=True, min=1.0, max=4.0)):
        for budget in (0.0, 0.2, 0.45):
            side = solve_gain_chance(P, w, scen, need, rule, 0.0, 1.0, 0.1, 0.5, W, budget,
                                     mandatory)  # fmt: skip
            want = _chance_by_brute_force(P, w, scen, need, rule, 0.1, 0.5, W, budget,
                                          mandatory)  # fmt: skip
            if math.isinf(want):
                assert not side.feasible
            else:
                assert side.feasible and side.value == pytest.approx(want, abs=1e-9)


@pytest.mark.parametrize("tiers", [1, 2, 3])
def test_chance_sides_for_several_budgets_equal_one_at_a_time(tiers):
    """Enumerated once for the largest budget, each budget's side (value, shares, cap and every
    grid point) equals solving that budget alone."""
    from gainshare.optimise.search import chance_sides, solve_gain_chance
    from gainshare.schema.requirements import LimitRule

    rng = np.random.default_rng(10 + tiers)
    S, Y = 14, 2
    x = rng.uniform(1, 10, size=S * Y)
    edges = [3.0, 6.0][: tiers - 1]
    lo_e, hi_e = np.array([0.0, *edges]), np.array([*edges, np.inf])
    P = np.clip(x[:, None] - lo_e[None, :], 0, hi_e - lo_e)
    scen = np.repeat(np.arange(S), Y)
    W = rng.dirichlet(np.ones(S))
    need = rng.uniform(-2, 4, size=S * Y)
    mandatory = np.zeros(S, bool)
    budgets = (0.05, 0.2, 0.45)
    for rule in (None, LimitRule(decide=True, min=1.0, max=6.0)):
        args = (P, W[scen], scen, need, rule, 0.0, 1.0, 0.1, 0.5, W)
        together = chance_sides(*args, budgets, mandatory)
        for b in budgets:
            alone = solve_gain_chance(*args, b, mandatory)
            got = together[b]
            assert got.feasible == alone.feasible
            if not alone.feasible:
                continue
            assert got.value == alone.value and got.shares == alone.shares
            assert got.limit == alone.limit
            assert np.array_equal(got.grid_shares, alone.grid_shares)
            assert np.array_equal(got.grid_value, alone.grid_value)


@pytest.mark.parametrize("threads", [1, 2])
def test_chance_sides_in_small_blocks_and_threads_equal_one_block(monkeypatch, threads):
    """The lower tiers' shares enumerated one first-tier share per block, on one thread or two:
    every budget's side and every grid point (shares, value, cap) in the same order as one
    block on one thread."""
    from gainshare.optimise.search import chance_sides
    from gainshare.schema.requirements import LimitRule

    rng = np.random.default_rng(21)
    S, Y = 30, 2
    x = rng.uniform(1, 10, size=S * Y)
    lo_e, hi_e = np.array([0.0, 3.0, 6.0]), np.array([3.0, 6.0, np.inf])
    P = np.clip(x[:, None] - lo_e[None, :], 0, hi_e - lo_e)
    scen = np.repeat(np.arange(S), Y)
    W = rng.dirichlet(np.ones(S))
    need = rng.uniform(-2, 1, size=S * Y) + 0.35 * x
    mandatory = np.zeros(S, bool)
    args = (P, W[scen], scen, need, LimitRule(decide=True), 0.0, 1.0, 0.05, 0.5, W,
            (0.05, 0.2), mandatory)  # fmt: skip
    monkeypatch.setattr(search_module, "THREADS", 1)
    monkeypatch.setattr(search_module, "CHANCE_CELLS", 10**9)
    whole = chance_sides(*args)
    monkeypatch.setattr(search_module, "THREADS", threads)
    monkeypatch.setattr(search_module, "CHANCE_CELLS", 1)
    blocks = chance_sides(*args)
    assert any(len(side.grid_value) > 100 for side in whole.values())
    for b, side in whole.items():
        got = blocks[b]
        assert got.feasible and side.feasible
        assert (got.value, got.shares, got.limit) == (side.value, side.shares, side.limit)
        assert np.array_equal(got.grid_shares, side.grid_shares)
        assert np.array_equal(got.grid_value, side.grid_value)
        assert np.array_equal(got.grid_limit, side.grid_limit)


def test_gain_rows_chain_is_the_rising_chain():
    """The chain the rising floor walks, taken from the sort of the nested rows, is the one
    `_rising_chain` sorts for itself; rows that are not nested tiers get it the long way."""
    from gainshare.optimise.search import GainRows, _rising_chain

    rng = np.random.default_rng(5)
    S, Y = 40, 3
    xs = rng.uniform(-5, 10, size=(S, Y))
    lo_e, hi_e = np.array([0.0, 3.0, 6.0]), np.array([3.0, 6.0, np.inf])
    nested = np.clip(xs[..., None] - lo_e, 0, hi_e - lo_e)
    flat = np.repeat(np.maximum(xs, 0)[..., None], 3, axis=2) / 3  # rises, not nested
    ww = np.broadcast_to(rng.dirichlet(np.ones(S))[:, None], xs.shape)
    for gp in (nested, flat):
        rows = GainRows(gp, xs > 0, xs, ww)
        want = _rising_chain(gp, xs > 0)
        assert (rows.nested is None) == (gp is flat)
        assert np.array_equal(rows.chain[0], want[0]) and np.array_equal(rows.chain[1], want[1])
    assert GainRows(nested, xs > 99, xs, ww).chain is None


def test_rising_floor_by_hand():
    """One tier, three scenarios of one row each: amounts 1, 2, 4, needs 0.5, -1, 0.2,
    probabilities 0.5, 0.3, 0.2. Robust, every row is paid at least 0.5 (the rows after the
    first have at least its amount), so the floor is 0.5, which one share of 50% capped at 0.5
    pays exactly; the need alone gives 0.29. With half the probability excused, the floor is
    0.2 x 0.2 = 0.04 (the first scenario may be excused, the third may not), under the best
    terms' 0.095 (5% capped at 0.2)."""
    from gainshare.optimise.search import _rising_chain, _rising_floor

    gp = np.array([1.0, 2.0, 4.0]).reshape(3, 1, 1)
    need = np.array([0.5, -1.0, 0.2])
    W = np.array([0.5, 0.3, 0.2])
    chain = _rising_chain(gp, np.ones((3, 1), bool))
    assert _rising_floor(chain, need, W, 0.0) == pytest.approx(0.5)
    assert _rising_floor(chain, need, W, 0.5) == pytest.approx(0.04)
    # tier amounts that do not rise together: no chain, no floor from it
    assert _rising_chain(np.array([[[2.0, 0.0]], [[1.0, 1.5]]]), np.ones((2, 1), bool)) is None


@pytest.mark.parametrize("tiers", [1, 2, 3])
@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_rising_floor_never_above_the_best_terms(tiers, seed):
    """On random one-provider cases with one to three tiers, with and without a cap to decide,
    robust and by chance: the rising floor is never more than the best terms of a 10% share
    grid found by trying every share vector and cap (so no structure is given up that could
    win), and it is at least the need alone when robust."""
    from gainshare.optimise.search import _rising_chain, _rising_floor
    from gainshare.schema.requirements import LimitRule

    rng = np.random.default_rng(100 + seed)
    S, Y = 10, 2
    x = rng.uniform(1, 10, size=(S, Y))
    edges = [3.0, 6.0][: tiers - 1]
    lo_e, hi_e = np.array([0.0, *edges]), np.array([*edges, np.inf])
    gp = np.clip(x[..., None] - lo_e, 0, hi_e - lo_e)
    P = gp.reshape(S * Y, tiers)
    scen = np.repeat(np.arange(S), Y)
    W = rng.dirichlet(np.ones(S))
    need = rng.uniform(-2, 3, size=S * Y)
    chain = _rising_chain(gp, np.ones((S, Y), bool))
    assert chain is not None
    mandatory = np.zeros(S, bool)
    for rule in (None, LimitRule(decide=True), LimitRule(decide=True, min=1.0, max=5.0)):
        for budget in (0.0, 0.2, 0.45):
            floor = _rising_floor(chain, need, W, budget)
            best = _chance_by_brute_force(P, W[scen], scen, need, rule, 0.1, 0.5, W, budget,
                                          mandatory)  # fmt: skip
            assert floor <= best + 1e-9
            if budget == 0.0:
                assert floor >= W[scen] @ np.maximum(need, 0.0) - 1e-9


def test_probability_frontier_shares_sides_and_keeps_each_designs_answer(root):
    """The frontier's chance designs share one cache and solve each side for every beta at
    once: each point equals a design of its own."""
    from gainshare.analysis.frontier import keep_whole_points, with_provider_chance

    case = gainshare.load_case(root / "cases" / "core.yaml")
    d = Designer(case)
    pts = keep_whole_points(case, (0.95, 0.8), d.scenarios)
    assert [p.bound for p in pts] == [0.95, 0.8]
    for p in pts:
        alone = Designer(with_provider_chance(case, p.bound), d.scenarios).solve(duals=False)
        assert p.result.status == alone.status == "optimal"
        assert p.result.objective_value == pytest.approx(alone.objective_value, abs=0.005)


def test_margin_frontier_with_ceilings_equals_searching_every_structure(root, monkeypatch):
    """Along the worst-margin frontier the floor only rises, so what each structure could give
    at one point bounds it at the next: structures that cannot win are given up unsolved, and
    every point is the same as searching every structure afresh."""
    import gainshare.optimise.designer as designer_module
    from gainshare.analysis.frontier import margin_points

    case = gainshare.load_case(root / "cases" / "core.yaml")
    fast = margin_points(Designer(case), 12)
    real = designer_module.search
    monkeypatch.setattr(designer_module, "search", lambda *a, **k: real(*a[:5]))
    slow = margin_points(Designer(case), 12)
    assert len(fast) == len(slow) == 12
    for a, b in zip(fast, slow, strict=True):
        assert a.result.status == b.result.status == "optimal"
        assert a.result.objective_value == pytest.approx(b.result.objective_value, abs=0.005)
    solved = [sum(p.result.timings["structures_solved"] for p in pts) for pts in (fast, slow)]
    assert solved[0] < solved[1]


def test_structure_values_add_up(root):
    case = gainshare.load_case(root / "cases" / "core.yaml")
    d = Designer(case)
    r = d.solve()
    steps = d.structure_values()
    names = [s["step"] for s in steps]
    assert names[:4] == ["sharing alone", "caps and collars", "tiers", "a corridor"]
    values = [s["commissioners_expected"] for s in steps[:4]]
    assert values == sorted(values)  # each space holds the one before
    assert values[-1] == pytest.approx(r.objective_value, abs=0.01)
    adds = sum(s["adds"] for s in steps[1:4])
    assert adds == pytest.approx(values[-1] - values[0], abs=0.05)
    assert steps[1]["adds"] > 500_000  # caps are worth a lot on the core case


# ------------------------------------------------------------------ the pieces


@pytest.mark.parametrize("shape", [(6,), (7, 9), (4, 5, 6), (3, 4, 5, 2), (1, 5, 3)])
def test_running_minimum_along_every_axis(shape):
    """The knapsack's and the Pareto filter's tables: the least at or below each cell, slice
    by slice on the leading axes, equals numpy's accumulate axis by axis."""
    from gainshare.optimise.search import _running_min

    rng = np.random.default_rng(len(shape))
    for table in (rng.random(shape), rng.integers(0, 1000, size=shape)):
        want = table.copy()
        for k in range(table.ndim):
            np.minimum.accumulate(want, axis=k, out=want)
        assert np.array_equal(_running_min(table.copy()), want)


def test_upper_envelope_of_lines():
    rng = np.random.default_rng(3)
    for n, q in ((1, 5), (40, 3000), (3000, 2000), (5000, 10)):
        b, m = rng.normal(size=n), np.round(rng.normal(size=n), 1)
        x = rng.normal(size=q) * 3
        want = (b[None, :] + m[None, :] * x[:, None]).max(axis=1)
        assert np.allclose(_max_lines(b, m, x), want)
        order = np.argsort(m, kind="stable")  # slopes in order: lines dropped first
        assert np.allclose(_max_lines(b[order], m[order], x, rising=True), want)
        twice = np.repeat(order, 2)  # every line twice (equal slopes and intercepts)
        assert np.allclose(_max_lines(b[twice], m[twice], x, rising=True), want)
        assert np.allclose(_max_lines(b[order], m[order], x[:1], rising=True), want[:1])


@pytest.mark.parametrize("tiers", [1, 2, 3])
def test_expected_capped_by_inverting_the_schedule_equals_row_by_row(tiers, monkeypatch):
    """Rows of nested tiers sorted by amount: the first capped row found by inverting each
    share vector's schedule gives the same expected transfer as searching row by row, for
    caps below, inside and above the transfers, zero shares included."""
    rng = np.random.default_rng(tiers)
    x = np.sort(rng.uniform(0, 10, size=400))
    x[:20] = 0.0
    edges = np.array([0.0, 3.0, 6.0][:tiers])
    top = np.append(edges[1:], np.inf)
    P = np.clip(x[:, None] - edges[None, :], 0, top - edges)
    w = rng.dirichlet(np.ones(len(x)))
    sh = np.round(rng.uniform(0, 1, size=(300, tiers)), 2)
    sh[:30] = 0.0
    cap = np.concatenate([rng.uniform(-1, 12, size=270), np.full(30, np.inf)])
    got = _expected_capped(P, w, sh, cap)
    monkeypatch.setattr(search_module, "_first_capped", lambda *a: None)
    want = _expected_capped(P, w, sh, cap)
    assert np.allclose(got, want, rtol=0, atol=1e-12)


def _side_of(sh: np.ndarray, val: np.ndarray) -> Side:
    """A side whose grid points are the rows of `sh` with scores `val` (no caps)."""
    return Side(True, float(val.min()), tuple(sh[0]), None, sh, val, np.full(len(sh), np.nan))


def _side(rng, tiers, n=30):
    return _side_of(rng.integers(0, 21, size=(n, tiers)) * 0.05, rng.uniform(0, 100, size=n))


def _sloped_sides(rng, providers: int, n: int, tiers: int, below: int, slope: float,
                  noise: float) -> dict:  # fmt: skip
    """Sides where more share scores less: `n` points each, shares in 1% steps below `below`%,
    score 100 - slope x total share + up to `noise`."""
    sides = {}
    for p in range(providers):
        sh = rng.integers(0, below, size=(n, tiers)) * 0.01
        sides[p] = _side_of(sh, 100 - slope * sh.sum(axis=1) + rng.uniform(0, noise, size=n))
    return sides


def test_share_sum_knapsack_by_dynamic_programming_equals_brute_force():
    rng = np.random.default_rng(5)
    for tiers, dp in ((1, _knapsack_dp), (2, _knapsack_dp2)):
        for _ in range(20):
            sides = {p: _side(rng, tiers, 8) for p in range(3)}
            cands = {p: np.arange(8) for p in sides}
            best = _brute_knapsack(sides, list(range(tiers)))
            args = (sides, cands, 1.0, 0 if tiers == 1 else [0, 1], 0.05)
            got = dp(*args)
            mip, gap = _knapsack_mip(sides, cands, 1.0, list(range(tiers)))
            if not np.isfinite(best):
                assert got is None and mip is None
                continue
            assert sum(sides[p].grid_value[j] for p, j in got.items()) == pytest.approx(best)
            assert sum(sides[p].grid_value[j] for p, j in mip.items()) == pytest.approx(best)
            assert gap == 0.0


def test_two_tier_knapsack_on_the_points_that_can_be_best_equals_brute_force():
    """In 1% steps the two-tier DP first drops points whose reduced score (LP duals) exceeds
    the gap to a choice from a coarse table: the answer still equals trying every choice."""
    rng = np.random.default_rng(9)
    tried = 0
    for _ in range(25):
        sides = _sloped_sides(rng, 4, 9, 2, below=61, slope=60, noise=8)
        cands = {p: np.arange(9) for p in sides}
        best = _brute_knapsack(sides, [0, 1])
        got = _knapsack_dp2(sides, cands, 1.0, [0, 1], 0.01)
        if not np.isfinite(best):
            assert got is None
            continue
        tried += 1
        assert (sum(sides[p].grid_shares[j] for p, j in got.items()) <= 1 + 1e-9).all()
        assert sum(sides[p].grid_value[j] for p, j in got.items()) == pytest.approx(best)
    assert tried >= 10


def test_two_tier_knapsack_drops_points_and_keeps_the_mips_optimum(monkeypatch):
    """Smooth sides, as the search gives (every 1% step of two tiers, cost falling with each
    share): the dropped points are most of them, and the DP on the rest gives the MIP's proven
    optimum."""
    monkeypatch.setattr(search_module, "KNAPSACK_SECONDS", 60.0)
    seen = []
    real = search_module._dp2

    def counted(use, score, n):
        seen.append((n, sum(len(u) for u in use.values())))
        return real(use, score, n)

    monkeypatch.setattr(search_module, "_dp2", counted)
    rng = np.random.default_rng(4)
    a, b = np.meshgrid(np.arange(20, 51), np.arange(20, 51), indexing="ij")
    sh = np.column_stack([a.ravel(), b.ravel()]) * 0.01
    sides = {}
    for p in range(4):
        wa, wb = rng.uniform(20, 60, size=2)
        val = 100 - wa * np.sqrt(sh[:, 0]) - wb * sh[:, 1] + rng.uniform(0, 0.05, len(sh))
        sides[p] = _side_of(sh, val)
    cands = {p: np.arange(len(sh)) for p in sides}
    got = _knapsack_dp2(sides, cands, 1.0, [0, 1], 0.01)
    mip, gap = _knapsack_mip(sides, cands, 1.0, [0, 1])
    assert gap == 0.0
    assert sum(sides[p].grid_value[j] for p, j in got.items()) == pytest.approx(
        sum(sides[p].grid_value[j] for p, j in mip.items()), abs=1e-9)  # fmt: skip
    full = [m for n, m in seen if n == 101]
    assert full and full[0] < 0.5 * 4 * len(sh)  # most points dropped


def test_two_tier_programme_by_slices_equals_by_blocks(monkeypatch):
    """The two-tier programme applies each point to its own slice of the table on large
    tables and points in blocks on small ones: both give the same best totals in every cell
    and the same choice."""
    rng = np.random.default_rng(11)
    for n in (21, 41, 51):
        use = {p: rng.integers(0, n // 2, size=(30, 2)) for p in range(6)}
        use[0][0] = [n + 3, 0]  # a point that fits nowhere
        score = {p: -use[p].sum(axis=1) + rng.uniform(0, 6, size=30) for p in use}
        ok = {p: np.nonzero((use[p] < n).all(axis=1))[0] for p in use}
        got = {}
        for slices in (True, False):
            monkeypatch.setattr(search_module, "DP_SLICES", 0 if slices else 10**6)
            table, _ = search_module._half(list(use), use, score, ok, n)
            got[slices] = (table, search_module._dp2(use, score, n))
        assert np.array_equal(got[True][0], got[False][0])
        assert got[True][1] == got[False][1]
        total = sum(use[p][j] for p, j in got[True][1].items())
        assert (total <= n - 1).all()


def test_improving_a_choice_by_pairs_reaches_what_one_at_a_time_cannot():
    """Two providers each hold 60 of 100 steps' worth they cannot give up alone (the other
    has no room to take any): moving both at once finds the best choice, which fits."""
    use = {0: np.array([[60, 40], [40, 60], [0, 0]]), 1: np.array([[40, 60], [60, 40], [0, 0]])}
    score = {0: np.array([-10.0, -12.0, 0.0]), 1: np.array([-10.0, -12.0, 0.0])}
    single = {0: 0, 1: 0}  # (60, 40) + (40, 60): fits, total -20
    got = search_module._improve(single, use, score, 101)
    assert got == {0: 1, 1: 1}  # (40, 60) + (60, 40): -24, the best
    total = use[0][got[0]] + use[1][got[1]]
    assert (total <= 100).all()


def _brute_knapsack(sides, tiers):
    best, n = np.inf, len(next(iter(sides.values())).grid_value)
    for combo in itertools.product(range(n), repeat=len(sides)):
        pairs = list(zip(sides, combo, strict=True))
        total = sum(sides[p].grid_shares[j][tiers] for p, j in pairs)
        if (total <= 1 + 1e-9).all():
            best = min(best, sum(sides[p].grid_value[j] for p, j in pairs))
    return best


def test_three_tier_knapsack_by_enumeration_equals_brute_force_and_the_mip():
    """The three-tier share-sum choice by enumeration with a running-minimum table gives the
    brute-force optimum (and the MIP's), and None exactly when no choice fits."""
    rng = np.random.default_rng(11)
    seen = {"fits": 0, "none": 0}
    for providers in (2, 3, 4):
        for _ in range(12):
            sides = {p: _side(rng, 3, 7) for p in range(providers)}
            cands = {p: np.arange(7) for p in sides}
            best = _brute_knapsack(sides, [0, 1, 2])
            got = _knapsack_enum(sides, cands, 1.0, [0, 1, 2], 0.05)
            mip, gap = _knapsack_mip(sides, cands, 1.0, [0, 1, 2])
            if not np.isfinite(best):
                assert got is None and mip is None and gap == 0.0
                seen["none"] += 1
                continue
            seen["fits"] += 1
            total = sum(sides[p].grid_shares[j] for p, j in got.items())
            assert (total <= 1 + 1e-9).all()
            assert sum(sides[p].grid_value[j] for p, j in got.items()) == pytest.approx(best)
            assert sum(sides[p].grid_value[j] for p, j in mip.items()) == pytest.approx(best)
    assert seen["fits"] > 5 and seen["none"] > 5  # both outcomes were tried


def test_three_tier_knapsack_equals_the_mip_on_larger_choices(monkeypatch):
    """Five providers with 60 points each in 1% steps: the enumeration bounded by the LP's
    duals (grown round by round) gives the MIP's proven optimum."""
    monkeypatch.setattr(search_module, "KNAPSACK_SECONDS", 60.0)
    rng = np.random.default_rng(7)
    tried = 0
    for _ in range(6):
        sides = _sloped_sides(rng, 5, 60, 3, below=40, slope=40, noise=5)
        cands = {p: np.arange(60) for p in sides}
        got = _knapsack_enum(sides, cands, 1.0, [0, 1, 2], 0.01)
        mip, gap = _knapsack_mip(sides, cands, 1.0, [0, 1, 2])
        assert not isinstance(got, TooMany)
        if mip is None:
            assert got is None
            continue
        tried += 1
        assert gap == 0.0
        assert (sum(sides[p].grid_shares[j] for p, j in got.items()) <= 1 + 1e-9).all()
        assert sum(sides[p].grid_value[j] for p, j in got.items()) == pytest.approx(
            sum(sides[p].grid_value[j] for p, j in mip.items()), abs=1e-6)  # fmt: skip
    assert tried >= 3


def test_knapsack_without_lp_prices_still_decides_exactly(monkeypatch):
    """When the LP relaxation ends neither optimal nor infeasible, the two-tier programme runs
    on every point and the three-tier choice goes to the MIP: the same optimum either way."""
    rng = np.random.default_rng(8)
    for tiers in ([0, 1], [0, 1, 2]):
        sides = {p: _side(rng, len(tiers), 7) for p in range(3)}
        for side in sides.values():
            side.grid_shares[:] = np.minimum(side.grid_shares, 0.45)
        best = _brute_knapsack(sides, tiers)
        monkeypatch.setattr(search_module, "_knapsack_prices", lambda *a: search_module.UNPRICED)
        chosen, gap = search_module._knapsack(sides, 1.0, tiers, 0.05)
        monkeypatch.undo()
        assert gap == 0.0
        assert sum(sides[p].grid_value[j] for p, j in chosen.items()) == pytest.approx(best)


def test_three_tier_enumeration_hands_large_choices_to_the_mip(monkeypatch):
    """Past its limit the enumeration hands over to the MIP, which gives the same optimum."""
    rng = np.random.default_rng(2)
    sides = {p: _side(rng, 3, 7) for p in range(4)}
    for side in sides.values():
        side.grid_shares[:] = np.minimum(side.grid_shares, 0.2)  # every choice fits
    cands = {p: np.arange(7) for p in sides}
    best = _brute_knapsack(sides, [0, 1, 2])
    got = _knapsack_enum(sides, cands, 1.0, [0, 1, 2], 0.05)
    assert not isinstance(got, TooMany)
    assert sum(sides[p].grid_value[j] for p, j in got.items()) == pytest.approx(best)
    monkeypatch.setattr(search_module, "ENUM_STATES", 0)
    assert isinstance(_knapsack_enum(sides, cands, 1.0, [0, 1, 2], 0.05), TooMany)
    chosen, gap = search_module._knapsack(sides, 1.0, [0, 1, 2], 0.05)
    assert gap == 0.0
    assert sum(sides[p].grid_value[j] for p, j in chosen.items()) == pytest.approx(best)
    assert _knapsack_enum(sides, cands, 1.0, [0, 1, 2], 0.001) is TOO_MANY  # table too large


@pytest.mark.parametrize("tiers", [2, 3])
def test_pareto_points_by_the_share_table_equal_a_scan(tiers):
    """Kept points (and their order) from the running-minimum table equal the point-by-point
    scan, ties in score included; so do those from the table of scores for rows in rising
    order (np.unique sorts them), a row with an infinite score sent to the ranks."""
    rng = np.random.default_rng(tiers)
    for n in (1, 5, 60, 400):
        units = rng.integers(0, 21, size=(n, tiers)) * 5
        units = np.unique(units, axis=0)  # one point per share vector, as the caller gives
        score = np.round(rng.uniform(0, 10, size=len(units)))  # many ties
        order = np.argsort(score, kind="stable")
        want = _pareto_scan(units, order).tolist()
        assert _pareto_grid(units, score).tolist() == want
        assert _pareto_grid(units, score, rising=True).tolist() == want
        score[-1] = np.inf
        order = np.argsort(score, kind="stable")
        want = _pareto_scan(units, order).tolist()
        assert _pareto_grid(units, score, rising=True).tolist() == want


def test_knapsack_lp_relaxation_proves_no_choice_fits():
    """Every provider needs 40% of some tier whichever point it takes: no fractional choice
    fits either, and the MIP route says so as proven (gap 0), not as a time limit."""
    sh = np.array([[0.4, 0.0, 0.0], [0.0, 0.4, 0.0], [0.0, 0.0, 0.4]])
    sides = {p: Side(True, 0.0, tuple(sh[0]), None, sh, np.arange(3.0), np.full(3, np.nan))
             for p in range(7)}  # fmt: skip
    cands = {p: np.arange(3) for p in sides}
    assert _knapsack_mip(sides, cands, 1.0, [0, 1, 2]) == (None, 0.0)


@pytest.mark.parametrize("seed", range(6))
def test_knapsack_prices_by_column_generation_equal_the_lp_on_every_point(seed):
    """The tier prices found by column generation give the same Lagrangian bound as the LP on
    every grid point (two and three tiers, providers that overshoot and some that do not), and
    where no fractional choice fits, both say so (None)."""
    rng = np.random.default_rng(seed)
    tiers = 2 + seed % 2
    sides = _sloped_sides(rng, 6, 400, tiers, 60, 80.0, 5.0)
    cands = {p: np.arange(len(s.grid_value)) for p, s in sides.items()}
    ps, use, score, lam = search_module._priced(sides, cands, 1.0, list(range(tiers)), 0.01)
    full = search_module._every_column_prices(ps, use, score, 0.01)
    assert lam is not None and full is not None
    _, bound = search_module._reduced(ps, use, score, lam, 0.01)
    _, best = search_module._reduced(ps, use, score, full, 0.01)
    assert bound == pytest.approx(best, rel=1e-7, abs=1e-6)
    heavy = [0, 1, 2]  # three providers needing 40% of every tier at each of their points
    use = {p: np.full((3, tiers), 40) for p in heavy}
    score = {p: np.arange(3.0) for p in heavy}
    assert search_module._priced_columns(heavy, use, score, 0.01) is None
    assert search_module._knapsack_prices(heavy, use, score, 0.01) is None


def test_an_undecided_share_sum_choice_is_not_called_infeasible(root, monkeypatch):
    """When the share-sum choice stops at its time limit with nothing found, the structure is
    not reported as holding no agreement: design says time limit, not infeasible."""
    case = gainshare.load_case(root / "cases" / "core.yaml")
    base = Designer(case).solve()
    monkeypatch.setattr(search_module, "_restore_sums", lambda *a, **k: (None, math.inf))
    r = Designer(case).solve()
    assert base.status == "optimal"
    assert r.status == "time_limit" and r.agreement is None
    assert "time allowed" in r.message and "meets every requirement" not in r.message


def test_cli_design_states_the_starts_and_what_the_space_adds(root, tmp_path):
    """`gainshare design` takes the case's own agreement file and --start agreements as
    starts, says how each did, and what each part of the drafting space adds."""
    import json
    import subprocess
    import sys

    worse = tmp_path / "worse.yaml"
    worse.write_text("terms:\n  gain_tiers: [{shares: {ccg: 0.1, acute: 0.6, community: 0.3}}]\n"
                     "  loss_tiers: [{shares: {ccg: 1.0}}]\n", encoding="utf-8")  # fmt: skip
    cmd = [sys.executable, "-m", "gainshare.cli", "design", str(root / "cases" / "core.yaml"),
           "--start", str(worse), "--json"]  # fmt: skip
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert p.returncode == 0, p.stderr
    doc = json.loads(p.stdout)
    assert doc["method"] == "search" and doc["status"] == "optimal" and doc["gap"] == 0
    names = [s["name"] for s in doc["starts"]]
    assert names == ["agreement", "Core example - hand-drafted proposal"]
    assert all(s["objective_value"] < doc["objective"]["value"] for s in doc["starts"])
    steps = {s["step"]: s for s in doc["structure_values"]}
    assert steps["caps and collars"]["adds"] > 0 and steps["rounding"]["adds"] <= 0
    text = subprocess.run(cmd[:-1], capture_output=True, text=True, timeout=300).stdout
    assert "What the drafting space adds: Sharing alone keeps the commissioners" in text
    assert "caps and collars add" in text and "against shares in 0.1% steps" in text
