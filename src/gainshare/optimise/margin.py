"""The highest worst provider margin in the drafting space (models/design.md, "The worst-margin
aim by the search").

For one structure (corridor, gateway, tier edges, lever values) the worst margin is highest
with every cap at the most it may be (a cap only ever lowers a provider's net), every collar at
the least and every loss share at the least the provider may take (the commissioners take the
rest of a loss). What is left to choose are the gain shares, in steps, tied together only by
each tier's share sum: a small integer programme

    maximise eps  s.t.  base + sum_t s_pt a_rt >= eps   (every gain row r of provider p)
                        sum_t s_pt a_rt >= need_r       (its keep-whole rows)
                        eps <= every net the shares cannot move (rows with nothing to share,
                               loss rows at the least loss taken, gain rows at the cap)
                        sum_p s_pt <= 1,  lo_p <= s_pt <= hi_p, s_pt in steps.

Most rows are implied by others: within one tier and one set of lower-tier widths a row only
differs in its amount of the tier, and a row with no more of it and no less to cover implies
it; only the staircase of the others is kept, so the programme has a few hundred rows however
many scenarios the case has. Its optimum over the structures is an upper bound on the worst
margin of any agreement in the space; the search for the commissioners' best agreement with
that margin as a floor then either meets it (the answer, proven) or does not (an unmodelled
requirement binds: the caller falls back to the MIP)."""

from __future__ import annotations

import math
from dataclasses import dataclass

import highspy
import numpy as np

from gainshare.optimise.highs import quiet_highs
from gainshare.optimise.highs import run as run_highs
from gainshare.optimise.search import (
    EPS,
    NotDecomposable,
    _knapsack_prices,
    provider_needs,
    share_range,
    structure_arrays,
    structure_tiers,
    tied_parties,
    two_tier_choice,
)
from gainshare.optimise.space import Space, Structure
from gainshare.schema.requirements import LimitRule

MIP_NODES = 200  # the margin MIP's branch and bound stops here; bisection finishes the proof
BOUND_SLACK = 1e-6  # of the rows' scale: HiGHS's MIP bounds are good to its tolerances
LP_TOLERANCE = 1e-10  # of the rows' scale: the LP's feasibility tolerances, and its slack


@dataclass
class Highest:
    """The highest worst margin of the space and the structure that reaches it."""

    margin: float  # -inf: no structure has terms that meet the keep-whole requirements
    structure: Structure | None
    per_structure: dict  # structure -> Solved
    bound: float  # no agreement in the space has a higher worst margin


def _most(rule: LimitRule | None, basis: np.ndarray) -> np.ndarray:
    """A cap at the most it may be, per row (inf: no cap)."""
    if rule is None:
        return np.full(basis.shape, np.inf)
    value = rule.max if rule.decide else rule.value
    return np.full(basis.shape, np.inf) if value is None else value * basis


def _least(rule: LimitRule | None, basis: np.ndarray) -> np.ndarray:
    """A collar at the least it may be, per row (inf: no collar)."""
    if rule is None:
        return np.full(basis.shape, np.inf)
    return (rule.min if rule.decide else rule.value) * basis


def _basis(rule: LimitRule | None, exp_pay: np.ndarray) -> np.ndarray:
    if rule is not None and rule.basis != "amount":
        return exp_pay
    return np.ones(exp_pay.shape)


def staircase(a: np.ndarray, c: np.ndarray) -> np.ndarray:
    """Indices of rows `a @ s >= c` (a >= 0) that no other row implies, within rows that
    differ only in their last non-zero amount (one tier, the same lower-tier widths): sorted
    by that amount, a row is kept when it asks more than every row with no more of it."""
    if not len(c):
        return np.zeros(0, dtype=np.int64)
    K = a.shape[1]
    top = np.where(a > 0, np.arange(K)[None, :], -1).max(axis=1)
    amount = a[np.arange(len(a)), np.maximum(top, 0)]
    lower = np.where(np.arange(K)[None, :] < top[:, None], a, 0.0)
    # by group (top tier, then lower-tier widths), then amount, then most asked first
    order = np.lexsort((-c, amount, *(lower[:, k] for k in range(K - 1, -1, -1)), top))
    key = np.column_stack([top, lower])[order]
    cs = c[order]
    keep = np.zeros(len(order), dtype=bool)
    starts = np.nonzero(np.r_[True, (key[1:] != key[:-1]).any(axis=1)])[0]
    ends = np.r_[starts[1:], len(order)]
    for lo, hi in zip(starts, ends, strict=True):
        seg = cs[lo:hi]
        before = np.maximum.accumulate(np.r_[-np.inf, seg[:-1]])
        keep[lo:hi] = seg > before
    return order[keep]


@dataclass
class Programme:
    """The worst-margin programme of one structure. `rows[g, p]` = (a, c, with_eps): provider p's
    rows a @ s >= c (+ eps) in group of years g; `ceiling`: the most any fixed net allows."""

    providers: list[int]
    groups: int
    K: int
    step: float | None
    lo: dict  # provider -> least gain share
    hi: dict  # provider -> most gain share
    rows: dict
    ceiling: float

    def key(self) -> tuple:
        parts = [(g, p, a.tobytes(), c.tobytes(), e) for (g, p), blk in sorted(self.rows.items())
                 for a, c, e in blk]  # fmt: skip
        return (tuple(parts), self.ceiling, tuple(sorted(self.lo.items())),
                tuple(sorted(self.hi.items())), self.K, self.step)  # fmt: skip


def programme(space: Space, st: Structure) -> Programme | None:
    """The structure's worst-margin programme (None when no terms of it meet the keep-whole
    requirements). Raises NotDecomposable where it is not the structure's problem (parties in
    both roles, chance keep-whole, a party taking shares that is not a provider, more than three
    gain tiers)."""
    arr = structure_arrays(space, st)
    econ = arr.econ
    if tied_parties(space, econ):
        raise NotDecomposable("a party in both roles")
    if (econ.takes_share != econ.is_provider).any():
        raise NotDecomposable("a risk partner")
    needs = provider_needs(space, arr, set())
    if needs.chance:
        raise NotDecomposable("chance keep-whole")
    x, base = arr.x, arr.base
    S, Y, _ = base.shape
    groups, gp, lp, qual, rate = structure_tiers(space, st, arr)
    K = gp.shape[2]
    if K > 3:
        raise NotDecomposable("more than three gain tiers")
    ceiling = math.inf
    rows: dict = {}
    lo, hi = {}, {}
    zero, loss, gain = x == 0, x < 0, x > 0
    for p in needs.need:
        pid = space.case.party_ids[p]
        lo[p], hi[p] = share_range(space, pid, "gain")
        need, b = needs.need[p], base[:, :, p]
        cap, collar = space.cap_rule(pid), space.collar_rule(pid)
        exp_pay = econ.exp_pay[:, :, p]
        if (need[zero] > EPS).any():
            return None
        ceiling = min(ceiling, float(b[zero].min(initial=math.inf)))
        lo_loss = share_range(space, pid, "loss")[0]
        taken = np.minimum(lo_loss * lp.sum(axis=2) * rate[:, :, p],
                           _least(collar, _basis(collar, exp_pay)))  # fmt: skip
        if (taken[loss] > -need[loss] + EPS).any():
            return None
        ceiling = min(ceiling, float((b - taken)[loss].min(initial=math.inf)))
        most = _most(cap, _basis(cap, exp_pay))
        if (need[gain] > most[gain] + EPS).any():
            return None
        ceiling = min(ceiling, float((b + most)[gain].min(initial=math.inf)))
        a_all = qual[:, :, p, None] * gp
        for gi, ys in enumerate(groups):
            sel = np.zeros((S, Y), dtype=bool)
            sel[:, ys] = gain[:, ys]
            a, bb, nn = a_all[sel], b[sel], need[sel]
            none = ~(a > 0).any(axis=1)
            if (nn[none] > EPS).any():
                return None
            ceiling = min(ceiling, float(bb[none].min(initial=math.inf)))
            a, bb, nn = a[~none], bb[~none], nn[~none]
            keep = staircase(a, -bb)
            blk = [(a[keep], -bb[keep], True)]
            req = nn > EPS
            keep = staircase(a[req], nn[req])
            blk.append((a[req][keep], nn[req][keep], False))
            rows[gi, p] = blk
    return Programme(list(needs.need), len(groups), K, space.step, lo, hi, rows, ceiling)


@dataclass
class Solved:
    """A structure's highest worst margin: `margin` reached by `shares`, none higher than
    `bound`."""

    margin: float
    bound: float
    shares: np.ndarray | None = None


def _columns(prog: Programme) -> dict:
    return {
        (g, p, t): i
        for i, (g, p, t) in enumerate(
            (g, p, t) for g in range(prog.groups) for p in prog.providers for t in range(prog.K)
        )
    }


def margin_of(prog: Programme, s: np.ndarray) -> float:
    """The worst margin the shares `s` (fractions, by `_columns`) give, in full precision; -inf
    when they leave a keep-whole row short."""
    col = _columns(prog)
    out = prog.ceiling
    for (g, p), blk in prog.rows.items():
        mine = s[[col[g, p, t] for t in range(prog.K)]]
        for a, c, with_eps in blk:
            if not len(c):
                continue
            pay = a @ mine
            if with_eps:
                out = min(out, float((pay - c).min()))
            elif (pay < c - EPS).any():
                return -math.inf
    return out


def _highs(prog: Programme, integer: bool):
    """HiGHS on the programme (the LP relaxation, or the MIP stopped after MIP_NODES nodes):
    (shares found or None, upper bound on the margin, proven optimal, infeasible)."""
    unit = prog.step if prog.step is not None and integer else 1.0
    built = _model(prog, unit)
    if built is None:
        return None, -math.inf, True, True
    h, scale, n = built
    if not integer:  # the LP is the answer for shares of any value: to a penny's fraction
        h.setOptionValue("primal_feasibility_tolerance", LP_TOLERANCE)
        h.setOptionValue("dual_feasibility_tolerance", LP_TOLERANCE)
    if integer:
        h.changeColsIntegrality(n - 1, np.arange(n - 1, dtype=np.int32),
                                np.full(n - 1, highspy.HighsVarType.kInteger))  # fmt: skip
        h.setOptionValue("mip_rel_gap", 0.0)
        h.setOptionValue("mip_abs_gap", 0.0)
        h.setOptionValue("mip_max_nodes", MIP_NODES)
    run_highs(h)
    status = h.getModelStatus()
    info = h.getInfo()
    if status == highspy.HighsModelStatus.kInfeasible:
        return None, -math.inf, True, True
    found = info.primal_solution_status == 2
    s = np.asarray(h.getSolution().col_value)[:-1] if found else None
    if s is not None and integer:
        s = np.rint(s) * unit
    if status == highspy.HighsModelStatus.kOptimal:
        bound = -float(info.objective_function_value) * scale
    elif integer and math.isfinite(info.mip_dual_bound):
        bound = -float(info.mip_dual_bound) * scale
    else:
        bound = math.inf
    # HiGHS's bound is good to its tolerances (relative to the rows' scale): slack keeps it one
    optimal = status == highspy.HighsModelStatus.kOptimal
    return s, bound + (BOUND_SLACK if integer else LP_TOLERANCE) * scale, optimal, False


def _model(prog: Programme, unit: float):
    """(HiGHS with the programme loaded, shares in `unit`s and money divided by the rows'
    scale; the scale; the number of columns), or None when a share range is empty."""
    col = _columns(prog)
    n = len(col) + 1  # the last column is eps
    blocks = [(g, p, a, c, e) for (g, p), blk in prog.rows.items() for a, c, e in blk if len(c)]
    scale = max([1.0] + [float(np.abs(c).max()) for *_, c, _ in blocks]
                + [float(a.max(initial=0.0)) for _, _, a, _, _ in blocks])  # fmt: skip
    h = quiet_highs()
    inf = highspy.kHighsInf
    lower, upper = np.zeros(n), np.zeros(n)
    for (_, p, _), i in col.items():
        lower[i], upper[i] = prog.lo[p] / unit, prog.hi[p] / unit
        if unit != 1.0:
            lower[i], upper[i] = math.ceil(lower[i] - 1e-9), math.floor(upper[i] + 1e-9)
    if (lower > upper).any():
        return None
    lower[-1] = -inf
    upper[-1] = prog.ceiling / scale if math.isfinite(prog.ceiling) else inf
    h.addVars(n, lower, upper)
    cost = np.zeros(n)
    cost[-1] = -1.0  # maximise eps
    h.changeColsCost(n, np.arange(n, dtype=np.int32), cost)
    for g, p, a, c, with_eps in blocks:
        idx = [col[g, p, t] for t in range(prog.K)] + ([n - 1] if with_eps else [])
        m = len(c)
        vals = a * unit / scale
        if with_eps:
            vals = np.column_stack([vals, -np.ones(m)])
        starts = np.arange(m, dtype=np.int32) * len(idx)
        h.addRows(m, c / scale, np.full(m, inf), m * len(idx), starts,
                  np.tile(np.array(idx, dtype=np.int32), m), vals.ravel())  # fmt: skip
    for g in range(prog.groups):
        for t in range(prog.K):
            idx = np.array([col[g, p, t] for p in prog.providers], dtype=np.int32)
            h.addRow(-inf, 1.0 / unit + 1e-9, len(idx), idx, np.ones(len(idx)))
    return h, scale, n


def _least_top(prog: Programme, g: int, p: int, eps: float) -> np.ndarray:
    """Provider p's least top-tier step in group g for every step of its lower tiers (an array
    over the grid of lower-tier steps, inf where none), meeting every row at margin `eps`."""
    N = round(1 / prog.step)
    K = prog.K
    shape = (N + 1,) * (K - 1)
    lo = math.ceil(prog.lo[p] / prog.step - 1e-9)
    hi = math.floor(prog.hi[p] / prog.step + 1e-9)
    grid = np.meshgrid(*[np.arange(N + 1)] * (K - 1), indexing="ij") if K > 1 else []
    ok = np.ones(shape, dtype=bool)
    for k in grid:
        ok &= (k >= lo) & (k <= hi)
    least = np.full(shape, float(lo))
    for a, c, with_eps in prog.rows[g, p]:
        if not len(c):
            continue
        rhs = (c + eps if with_eps else c) - EPS
        low = prog.step * sum(a[:, t, None] * grid[t].reshape(1, -1) for t in range(K - 1)) if (
            K > 1) else np.zeros((len(c), 1))  # fmt: skip
        top = prog.step * a[:, K - 1]
        short = rhs[:, None] - low  # what the top tier must still pay, per row and grid point
        has = top > 0
        if has.any():
            k = np.ceil(short[has] / top[has, None] - 1e-9).max(axis=0)
            least = np.maximum(least, k.reshape(shape))
        if (~has).any():
            ok &= (short[~has] <= 0).all(axis=0).reshape(shape)
    return np.where(ok & (least <= hi), least, np.inf)


def _fits(prog: Programme, eps: float) -> np.ndarray | None:
    """Shares in steps (fractions, by `_columns`) giving every provider a margin of at least
    `eps` with every share sum at most 100%, or None when there are none: each provider's least
    top-tier step for each step of its lower tiers, then a dynamic programme over the providers
    on the lower tiers' share sums, least top-tier sum first."""
    if eps > prog.ceiling:
        return None
    N, K = round(1 / prog.step), prog.K
    col = _columns(prog)
    s = np.zeros(len(col))
    for g in range(prog.groups):
        least = {p: _least_top(prog, g, p, eps) for p in prog.providers}
        pick = _choose(least, N, K)
        if pick is None:
            return None
        for p, ks in pick.items():
            for t, k in enumerate(ks):
                s[col[g, p, t]] = k * prog.step
    return s


def _choose(least: dict, N: int, K: int) -> dict | None:
    """{provider: its steps of each tier} with every tier's sum at most N, or None."""
    if K == 1:
        if sum(float(v) for v in least.values()) > N:
            return None
        return {p: (int(v),) for p, v in least.items()}
    if K == 2:
        best = np.zeros(N + 1)  # least top-tier sum using at most u steps of the lower tier
        u = np.arange(N + 1)
        back = []
        for p, f in least.items():
            # cand[u, k] = best[u - k] + f[k] for k <= u
            cand = np.where(u[:, None] >= u[None, :], best[np.maximum(u[:, None] - u, 0)] + f,
                            np.inf)  # fmt: skip
            k = cand.argmin(axis=1)
            back.append((p, k, f))
            best = cand[u, k]
        if not best[N] <= N:
            return None
        out, left = {}, N
        for p, k, f in reversed(back):
            out[p] = (int(k[left]), int(f[k[left]]))
            left -= int(k[left])
        return out
    use, score = {}, {}
    for p, f in least.items():
        up = np.full((N + 2, N + 2), np.inf)
        up[1:, 1:] = f
        corner = np.isfinite(f) & (f < up[:-1, 1:]) & (f < up[1:, :-1])  # beats both below
        i, j = np.nonzero(corner)
        if not len(i):
            return None
        use[p], score[p] = np.column_stack([i, j]).astype(np.int64), f[i, j]
    # any choice whose top-tier steps sum to at most N will do: the tiers' LP prices rule
    # out many margins at once, and a coarse choice often shows one fits
    lam = _knapsack_prices(list(use), use, score, 1.0 / N)
    got = two_tier_choice(use, score, lam, N + 1, 1.0 / N, enough=float(N))
    if got is None:
        return None
    if sum(float(score[p][j]) for p, j in got.items()) > N:
        return None
    return {p: (int(use[p][j, 0]), int(use[p][j, 1]), int(score[p][j])) for p, j in got.items()}


def solve(prog: Programme, beat: float, tol: float) -> Solved:
    """The structure's highest worst margin to within `tol`, or only a bound when that bound
    cannot beat `beat` by more than `tol`: the LP relaxation bounds it, the MIP stopped after a
    few nodes usually settles it, and bisection on the margin with `_fits` finishes the proof."""
    if prog.ceiling <= beat + tol:
        return Solved(-math.inf, prog.ceiling)
    s, ub, _, infeasible = _highs(prog, integer=False)
    if infeasible:
        return Solved(-math.inf, -math.inf)
    if s is None:  # unbounded (nothing fixes any net), or HiGHS stopped: the MIP decides
        raise NotDecomposable("the worst-margin programme has no answer")
    if prog.step is None:  # shares of any value: the LP is the programme
        return Solved(margin_of(prog, s), max(ub, margin_of(prog, s)), s)
    if ub <= beat + tol:
        return Solved(-math.inf, ub)
    s, ub2, _, infeasible = _highs(prog, integer=True)
    if infeasible:
        return Solved(-math.inf, -math.inf)
    ub = min(ub, ub2)
    lo = margin_of(prog, s) if s is not None else -math.inf
    if lo == -math.inf:
        s = _fits(prog, -math.inf)
        if s is None:
            return Solved(-math.inf, -math.inf)
        lo = margin_of(prog, s)
    # bisection, except that each new best is first asked for `tol` more: it is often the
    # structure's best already, and one step then proves it
    probed = None
    while ub - lo > tol * (1 + 1e-9) and ub > beat + tol:
        mid = lo + tol if lo != probed else (lo + ub) / 2
        probed = lo
        got = _fits(prog, mid)
        if got is None:
            ub = mid
        else:
            s, lo = got, max(lo, margin_of(prog, got))
    return Solved(lo, max(ub, lo), s)


def highest_margin(space: Space, tol: float = 0.01) -> Highest:
    """The highest worst margin over every structure of the space, to within `tol` (or the
    requirements' MIP gap of it): structures are taken in order of the most their fixed nets
    allow, and one that cannot beat the best so far is given up on its bound. Structures with
    the same programme (e.g. corridors no scenario falls inside) are solved once."""
    progs = {st: programme(space, st) for st in space.structures()}
    order = sorted(progs, key=lambda st: -(progs[st].ceiling if progs[st] else -math.inf))
    best, best_st, bound = -math.inf, None, -math.inf
    per: dict = {}
    seen: dict = {}
    for st in order:
        prog = progs[st]
        if prog is None:
            per[st] = Solved(-math.inf, -math.inf)
            continue
        key = prog.key()
        if key not in seen:
            gap = max(tol, space.req.mip_gap * abs(best)) if math.isfinite(best) else tol
            seen[key] = solve(prog, best, gap)
        got = per[st] = seen[key]
        bound = max(bound, got.bound)
        if got.margin > best:
            best, best_st = got.margin, st
    return Highest(best, best_st, per, max(bound, best))
