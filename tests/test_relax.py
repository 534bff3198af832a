"""The bound before the sides (models/design.md, "A bound before the sides"): the linear
relaxation of one structure, solved on the rows its answers break, against the whole programme
and against each structure's exact search; and the search that skips structures on it gives the
same answers as one that solves them."""

from __future__ import annotations

import math
import sys
from pathlib import Path

import numpy as np
import pytest

import gainshare
from gainshare.optimise import Designer
from gainshare.optimise import search as search_module
from gainshare.optimise.highs import solve_lp
from gainshare.optimise.relax import APART, Bound, Group, Term, _more_than_the_pool, structure_bound
from gainshare.optimise.search import (
    relaxation_bound,
    relaxation_terms,
    solve_structure,
    tied_parties,
)
from gainshare.schema.case import Case
from tests.helpers_design import tiny_case

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))

import cases as bench  # noqa: E402

EXAMPLES = ["cases/core.yaml", "app/examples/workshop6.yaml", "cases/discharge_to_assess.yaml",
            "cases/blended.yaml", "cases/portfolio.yaml"]  # fmt: skip


def _no_limits(case: Case) -> Case:
    req = case.requirements
    search = req.search.model_copy(update={"caps": False, "collars": False})
    return case.model_copy(update={"requirements": req.model_copy(update={"search": search})})


def _space(case: Case):
    d = Designer(case)
    d.solve()
    return d._space


def _whole_programme(terms, groups, pool, scale) -> float:
    """The same relaxation with every row at once (HiGHS on the whole programme)."""
    K, L = groups[0].gain.shape[-1], groups[0].loss.shape[-1]
    n = len(terms) * (K + L)
    cost, lo, hi = np.zeros(n), np.zeros(n), np.zeros(n)
    rows, cols, vals, row_lo = [], [], [], []
    floors = 0.0

    def add(cs, vs, lower):
        r = len(row_lo)
        rows.extend([r] * len(cs))
        cols.extend(cs)
        vals.extend(vs)
        row_lo.append(lower)

    for i, t in enumerate(terms):
        g, lc = i * (K + L) + np.arange(K), i * (K + L) + K + np.arange(L)
        lo[g], hi[g] = t.gain_range
        lo[lc], hi[lc] = t.loss_range
        if t.gain_cost is None:
            floors += t.floor
        else:
            cost[g] = t.gain_cost / scale
        cost[lc] = -t.loss_value / scale
        grp = groups[t.group]
        for at in zip(*np.nonzero(np.isfinite(t.need)), strict=True):
            add(g, t.q[at] * grp.gain[at] / scale, t.need[at] / scale)
        for at in zip(*np.nonzero(np.isfinite(t.slack)), strict=True):
            add(lc, -t.r[at] * grp.loss[at] / scale, -t.slack[at] / scale)
    for gi in range(len(groups)):
        mine = [i for i, t in enumerate(terms) if t.group == gi]
        for k in range(K):
            add([i * (K + L) + k for i in mine], [-1.0] * len(mine), -1.0)
        for k in range(L):
            add([i * (K + L) + K + k for i in mine], [-1.0] * len(mine), -1.0)
    got = solve_lp(cost, rows, cols, vals, row_lo, [math.inf] * len(row_lo), lo, hi)
    if got is None:
        return -math.inf
    return pool - floors - float(cost @ got[0]) * scale


@pytest.mark.parametrize("path", EXAMPLES)
def test_bound_holds_on_every_structure(root, path):
    """On every structure of every example case (and without caps and collars), the bound is
    at least what the structure's exact search finds, and a structure it shows has no agreement
    has none by the search either."""
    case = gainshare.load_case(root / path)
    for c in (case, _no_limits(case)):
        space = _space(c)
        for st in space.structures():
            relaxed = tied_parties(space, space.econ(st.lever))
            b = relaxation_bound(space, st, relaxed)
            plan = solve_structure(space, st, relaxed)
            if not plan.why:
                assert b.feasible, (path, st)
                assert b.value >= plan.value - 1e-6 * max(1.0, abs(plan.value)), (path, st)
            if not b.feasible:
                assert plan.why, (path, st)


def test_bound_by_rows_equals_the_whole_programme():
    """Solved on the rows its answers break, the relaxation's bound equals HiGHS on every row
    at once, structure by structure, on a benchmark system without caps and collars (continuous
    shares, so the rows that bind decide)."""
    case = _no_limits(bench.system_case(6, 200, 3))
    space = _space(case)
    compared = 0
    for st in space.structures():
        terms, groups, pool, scale = relaxation_terms(space, st, set())
        b = structure_bound(terms, groups, pool, scale)
        whole = _whole_programme(terms, groups, pool, scale)
        if not b.feasible:
            assert whole == -math.inf
            continue
        assert b.value == pytest.approx(whole, rel=1e-7, abs=0.01)
        assert b.rows < sum(int(np.isfinite(t.need).sum()) for t in terms) / 10
        compared += 1
    assert compared >= 3


def test_two_providers_needing_more_than_the_pool_have_no_agreement():
    """Hand-worked on the tiny case: the acute trust needs 60% of the pool (scenario b) and
    the community trust 37.5%; the room asks for at least 45% for the community trust. No
    shares of one tier can do both: the bound says so by a margin, and so does the search."""
    case = tiny_case(
        keep_whole={"acute": {"mode": "robust", "tolerance": 0},
                    "community": {"mode": "robust", "tolerance": 0}},
        requirements={"rounding": "1%", "share_bounds": {"community": {"min": 0.45, "max": 1}},
                      "search": {"max_gain_tiers": 1, "max_loss_tiers": 1, "corridor": False,
                                 "caps": False, "collars": False}},
    )  # fmt: skip
    d = Designer(case)
    r = d.solve()
    space = d._space
    (st,) = space.structures()
    terms, groups, pool, scale = relaxation_terms(space, st, set())
    x = groups[0].x[:, 0]
    least = [float(np.max(np.where(np.isfinite(t.need[:, 0]), t.need[:, 0] / x, 0.0)))
             for t in terms]  # fmt: skip
    assert least == pytest.approx([0.6, 0.375])
    assert not structure_bound(terms, groups, pool, scale).feasible
    assert r.status == "infeasible"
    at_44 = _with_bounds(case, 0.40)  # at 40% both fit (60% + 40%): the bound must allow it
    terms, groups, pool, scale = relaxation_terms(_space(at_44), st, set())
    assert structure_bound(terms, groups, pool, scale).feasible
    assert Designer(at_44).solve().status == "optimal"


def _with_bounds(case: Case, least: float) -> Case:
    req = case.requirements.model_dump()
    req["share_bounds"] = {"community": {"min": least, "max": 1}}
    return Case.model_validate(case.model_dump() | {"requirements": req})


def test_a_skipped_structure_never_changes_the_answer(root, monkeypatch):
    """The search with the bound skipping structures gives the same agreement and value as
    the search that solves each of them, on the example cases and a large benchmark system
    whose excess-only corridors no shares fit."""
    examples = [gainshare.load_case(root / p) for p in EXAMPLES[:3]]
    big = _no_limits(bench.system_case(10, 400, 5))
    for case in [*examples, big]:
        with_bound = Designer(case).solve()
        with monkeypatch.context() as m:
            m.setattr(search_module, "relaxation_bound", lambda *a, **k: Bound(True))
            m.setattr(search_module, "_twin_key", lambda space, st: object())
            without = Designer(case).solve()
        assert with_bound.status == without.status
        assert with_bound.objective_value == pytest.approx(without.objective_value, abs=0.005)
        assert with_bound.agreement.terms == without.agreement.terms
    space = _space(big)
    excess = [st for st in space.structures() if st.corridor.mode == "excess_only"]
    shut = [st for st in excess if not relaxation_bound(space, st, set()).feasible]
    assert shut
    for st in shut:
        assert solve_structure(space, st, set()).why


def _one_row(need: float, rows: int = 1) -> tuple[list[Term], list[Group]]:
    """One provider, one tier, a pool of £1,000,000 in each of `rows` scenario-years, and the
    provider's need in each."""
    x = np.full((rows, 1), 1e6)
    group = Group(x, x[:, :, None].copy(), np.zeros((rows, 1, 1)))
    term = Term(
        0,
        np.full((rows, 1), need),
        np.ones((rows, 1)),
        np.full((rows, 1), np.inf),
        np.ones((rows, 1)),
        np.array([1e6]),
        0.0,
        np.zeros(1),
        (0.0, 1.0),
        (0.0, 0.0),
    )
    return [term], [group]


@pytest.mark.parametrize(("need", "feasible"), [
    (1e6 * (1 + 1e-3), False),  # 100.1% of the pool: no share can
    (1e6 * (1 + 1e-10), True),  # short by less than APART: proves nothing
    (1e6, True),
])  # fmt: skip
def test_only_a_clear_shortfall_is_called_infeasible(need, feasible):
    terms, groups = _one_row(need)
    b = structure_bound(terms, groups, 1e6, 1e6)
    assert b.feasible is feasible
    assert 1e-10 < APART < 1e-3
    if feasible:  # 100% of the pool transferred at the most: the commissioners keep 0
        assert b.value == pytest.approx(0.0, abs=1.0) or b.value == math.inf


def test_the_bound_is_the_least_transfer_by_hand():
    """Three scenario-years of £1m pool needing £200k, £350k and £300k: the least share is 35%,
    so the commissioners keep at most 3 x £1m - 3 x £350k = £1.95m (one tier, no cap)."""
    x = np.full((3, 1), 1e6)
    group = Group(x, x[:, :, None].copy(), np.zeros((3, 1, 1)))
    term = Term(0, np.array([[2e5], [3.5e5], [3e5]]), np.ones((3, 1)),
                np.full((3, 1), np.inf), np.ones((3, 1)), np.array([3e6]), 0.0, np.zeros(1),
                (0.0, 1.0), (0.0, 0.0))  # fmt: skip
    b = structure_bound([term], [group], 3e6, 1e6)
    assert b.feasible
    assert b.value == pytest.approx(1.95e6, abs=0.01)
    assert (b.rows, b.rounds) == (3, 2)  # every broken row added at once, then none broken
    stop = structure_bound([term], [group], 3e6, 1e6, beat=2.5e6)  # stops once it cannot beat
    assert stop.value <= 2.5e6


def test_needs_beyond_the_pool_agree_with_the_whole_programme():
    """The check before the programme (in some gain row the providers need more than the pool)
    fires only where HiGHS on every row finds no shares either, and fires on the large
    benchmark system's widest excess-only corridor."""
    case = _no_limits(bench.system_case(10, 300, 5))
    space = _space(case)
    fired = []
    for st in space.structures():
        terms, groups, pool, scale = relaxation_terms(space, st, set())
        if _more_than_the_pool(terms, groups):
            fired.append(st)
            assert _whole_programme(terms, groups, pool, scale) == -math.inf
    assert any(st.corridor.mode == "excess_only" for st in fired)
    assert all(st.corridor.mode == "excess_only" for st in fired)


def test_a_proof_from_gain_rows_alone_says_so():
    """No agreement shown from gain rows alone (the community trust's 45% floor beside the
    acute trust's 60%) is marked so; one shown from a loss row (a loss share of at least 50%
    where the provider can take only £100,000 of a £1m loss) is not: a wider corridor makes
    gain rows harder but loss rows easier."""
    x = np.array([[-1e6]])
    group = Group(x, np.zeros((1, 1, 1)), -x[:, :, None])
    term = Term(
        0,
        np.full((1, 1), -np.inf),
        np.ones((1, 1)),
        np.full((1, 1), 1e5),
        np.ones((1, 1)),
        np.array([0.0]),
        0.0,
        np.array([1e6]),
        (0.0, 1.0),
        (0.5, 1.0),
    )
    by_loss = structure_bound([term], [group], -1e6, 1e6)
    assert not by_loss.feasible and not by_loss.gain_only
    terms, groups = _one_row(1e6 * 1.01)
    by_gain = structure_bound(terms, groups, 1e6, 1e6)
    assert not by_gain.feasible and by_gain.gain_only


def test_wider_corridors_after_one_with_no_gain_terms_are_not_bounded_again(monkeypatch):
    """On the large benchmark system, once an excess-only corridor is shown to fit no gain
    terms, the wider ones (less to share in every gain row) are given up without their
    relaxation, and the search of each finds no agreement either."""
    case = _no_limits(bench.system_case(10, 400, 5))
    bounded = []
    real = search_module.relaxation_bound

    def spy(space, st, relaxed, beat=None):
        bounded.append(st)
        return real(space, st, relaxed, beat)

    monkeypatch.setattr(search_module, "relaxation_bound", spy)
    r = Designer(case).solve()
    assert r.status == "optimal"
    space = _space(case)
    excess = [st for st in space.structures() if st.corridor.mode == "excess_only"]
    skipped = [st for st in excess if st not in bounded]
    assert len(skipped) >= 1
    for st in skipped:
        assert solve_structure(space, st, set()).why
