"""The exact search over the drafting space (models/design.md, "The drafting-space search").

For the commissioners' objective (and the system-savings objective, whose levers it ranks
first) with robust keep-whole requirements, the design problem splits: each provider's gain
terms (its shares of the gain tiers and its cap) and its loss terms (its shares of the loss
tiers and its collar) touch only its own keep-whole rows and the objective. Providers are tied
together only by the share sums of each tier, by the rows of parties that are both provider
and commissioner, and by the commissioners' own requirements.

- Gain side: the transfer min(share x gain, cap) is rising in the shares and the cap, and the
  keep-whole row `min(a, c) >= need` is the pair `a >= need`, `c >= need`. So the best cap is
  the least that covers every need, whatever the shares, and for shares in steps the best
  shares are found by enumerating every step of the first K-1 tiers with the least last-tier
  share that keeps the provider whole. Exact.
- Loss side: the commissioners want the provider's loss share min(b, collar) large, subject to
  min(b, collar) <= slack in every row. For each point of the share grid the best collar is the
  largest below every slack the shares overshoot. Exact.
- The sides are solved for every structure (corridor x gateway x tier edges x lever values);
  their sum with every provider's constraints dropped where they tie providers together is an
  upper bound for that structure (a relaxation). The best structure whose relaxed answer meets
  every requirement is optimal; parties in both roles are then handled by fixing the others'
  transfers (a feasible answer) and the gap to the bound is reported.
Share sums that the providers' own optima overshoot are restored exactly by a small
multiple-choice knapsack over each provider's non-dominated grid points (HiGHS).

Every answer is then settled by the settlement code (`check`), and must match it to the penny
and meet every requirement before anyone sees it."""

from __future__ import annotations

import math
import os
import time
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import cached_property

import highspy
import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from gainshare.economics.model import Economics, party_sum
from gainshare.optimise.data import edge_array
from gainshare.optimise.highs import quiet_highs
from gainshare.optimise.highs import run as run_highs
from gainshare.optimise.relax import Bound, Group, Term, structure_bound
from gainshare.optimise.space import Space, Structure
from gainshare.schema.agreement import Agreement, Terms, Tier, YearOverride
from gainshare.schema.case import Case
from gainshare.schema.common import Limit
from gainshare.schema.requirements import LimitRule
from gainshare.settle.check import CheckResult, check
from gainshare.settle.engine import shareable_amount, tier_portions
from gainshare.settle.requirements import failures

EPS = 1e-6  # pounds: a need below this is no need
CHUNK = 2048  # grid points evaluated at once (memory: CHUNK x rows floats)
MAX_GRID = 1_100_000  # grid points of one side of one provider, at most
KNAPSACK_SECONDS = 2.0  # the share-sum knapsack over three or more tiers stops here
PARETO_CELLS = 4_000_000  # share tables up to this many cells are held whole
ENUM_STATES = 4_000_000  # combinations of grid points the three-tier knapsack enumerates
RISING_BLOCKS = 16  # blocks of rows a chance provider's rising floor is taken over
# threads a chance enumeration runs on: two at most, fewer when the process may use fewer cores
THREADS = min(2, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else
              os.cpu_count() or 1)  # fmt: skip
CHANCE_CELLS = 250_000  # lower-tier shares x scenarios a chance enumeration holds at once


class TooMany:
    """The three-tier enumeration would be too large: the MIP decides, from `start` (the best
    choice the enumeration found so far) when there is one."""

    def __init__(self, start: dict | None = None) -> None:
        self.start = start


TOO_MANY = TooMany()
UNPRICED = object()  # the knapsack's LP relaxation ended neither optimal nor infeasible
DP_CELLS = 3_000_000  # table cells read at once in the two-tier knapsack (24 MB)
COARSE = (20, 50)  # the two-tier programme's coarse tables: this many steps a side
DP_SLICES = 40  # from this many share steps a side, the two-tier programme applies each point
# on its own slice of the table (below it, the calls' overhead outweighs the cells saved)


class NotDecomposable(Exception):  # noqa: N818 - a routing signal, not a fault
    """The case asks for something the search does not decide exactly (the MIP does)."""


# ------------------------------------------------------------------ one side of one provider


@dataclass
class Side:
    """The best terms of one side (gain or loss) of one provider in one group of years, and the
    grid points a share-sum knapsack may choose among (shares (M, K), value (M,), limit (M,))."""

    feasible: bool
    value: float = 0.0  # gain: expected transfer (to minimise); loss: expected loss taken (max)
    shares: tuple[float, ...] = ()
    limit: float | None = None  # cap or collar in the rule's units; None: no limit
    grid_shares: np.ndarray | None = None
    grid_value: np.ndarray | None = None
    grid_limit: np.ndarray | None = None
    why: str = ""
    # (tiers, sense) -> `_projected`'s points: the same side meets several knapsacks (a
    # tier added to the share sums, later structures and frontier points from the cache)
    projected: dict = field(default_factory=dict, repr=False, compare=False)


def _nothing(K: int, lo: float) -> Side:
    """A side with no rows: nothing to share, the least shares."""
    sh = tuple([lo] * K)
    return Side(True, 0.0, sh, None, np.array([sh]), np.zeros(1), np.array([np.nan]))


def _steps(lo: float, hi: float, step: float) -> np.ndarray:
    k0 = math.ceil(lo / step - 1e-9)
    k1 = math.floor(hi / step + 1e-9)
    return np.arange(k0, k1 + 1, dtype=float)


def _ceil(v: np.ndarray | float, step: float):
    return np.ceil(np.asarray(v) / step - 1e-10)


def _floor_to(v: float, step: float) -> float:
    return v if step <= 0 or not math.isfinite(v) else math.floor(v / step + 1e-10) * step


def _ceil_to(v: float, step: float) -> float:
    return v if step <= 0 or not math.isfinite(v) else math.ceil(v / step - 1e-10) * step


def _cap(rule: LimitRule | None, basis, need, lstep: float) -> tuple[float | None, str]:
    """The least cap that covers every need (rule units), or the stated one; None without a
    cap. Returns (cap, reason it cannot) with cap = nan when no cap can."""
    if rule is None:
        return None, ""
    req = need > EPS
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.where(
            basis[req] > 0, need[req] / np.where(basis[req] > 0, basis[req], 1), np.inf
        )
    most = float(ratio.max(initial=0.0))
    if not rule.decide:
        if rule.value + 1e-12 < most:
            return math.nan, "its agreed cap is below what it needs"
        return rule.value, ""
    if not math.isfinite(most):
        return math.nan, "a cap on its expected payment cannot cover a year it is paid nothing"
    c = max(rule.min, _ceil_to(most, lstep))
    if rule.max is not None and c > rule.max + 1e-9:
        if most > rule.max + 1e-9:
            return math.nan, "it needs more than the largest cap allowed"
        c = rule.max
    return c, ""


def solve_gain(P, q, w, basis, need, rule, lo, hi, step, lstep, nested=None) -> Side:
    """Gain terms of one provider: shares of the K gain tiers (lo..hi, in `step`s or any value
    when K = 1) and the cap, minimising the expected transfer w @ min(q P x, cap basis) with
    min(q P x, cap basis) >= need in every row (need = -inf where no requirement applies).
    `nested`: the rows sorted by amount (`nested_rows(P, w)`, the same for every provider of a
    structure), when known."""
    n, K = P.shape
    if n == 0:
        return _nothing(K, lo)
    cap, why = _cap(rule, basis, need, lstep)
    if cap is not None and math.isnan(cap):
        return Side(False, why=why)
    capv = np.full(n, np.inf) if cap is None else cap * basis
    qP = q[:, None] * P
    req = need > EPS
    if K == 1:
        with np.errstate(divide="ignore", invalid="ignore"):
            r = np.where(
                qP[req, 0] > 0, need[req] / np.where(qP[req, 0] > 0, qP[req, 0], 1), np.inf
            )
        least = max(float(r.max(initial=0.0)), lo)
        x = least if step is None else float(_ceil(least, step)) * step
        if not math.isfinite(least) or x > hi + 1e-12:
            return Side(False, why="no share of the gains up to its maximum covers what it needs")
        value = float(w @ np.minimum(qP[:, 0] * x, capv))
        return Side(True, value, (x,), cap, np.array([[x]]), np.array([value]), np.array([cap]))
    if step is None:
        raise NotDecomposable("shares of several tiers without rounding")
    if (q == 1).all() and (basis == 1).all():
        fast = _monotone_gain(P, w, cap, need, lo, hi, step, nested)
        if fast is not None:
            return fast
    return _enumerate_gain(qP, w, capv, need, req, cap, lo, hi, step)


@dataclass
class Nested:
    """Gain rows sorted by amount, each filling every tier below its own (tier edges in
    pounds): the sort, the sorted rows and weights, each row's tier, the tiers' widths, and
    prefix sums of the weights and of the weighted tier amounts. The same for every provider."""

    order: np.ndarray
    P: np.ndarray
    w: np.ndarray
    tier: np.ndarray
    widths: np.ndarray
    cw: np.ndarray  # (n+1,)
    cpw: np.ndarray  # (n+1, K)


def nested_rows(P: np.ndarray, w: np.ndarray, order: np.ndarray | None = None) -> Nested | None:
    """The rows as `Nested`, or None when they are not nested tiers."""
    n, K = P.shape
    if order is None:
        order = np.argsort(P.sum(axis=1), kind="stable")
    P, w = P[order], w[order]
    pos = P > 1e-12
    tier = pos.sum(axis=1) - 1
    if (tier < 0).any() or not (pos == (np.arange(K)[None, :] <= tier[:, None])).all():
        return None
    widths = np.zeros(K)
    for k in range(K - 1):
        full = P[tier > k, k]
        if full.size and np.ptp(full) > 1e-7 * max(1.0, float(full.max())):
            return None
        widths[k] = full[0] if full.size else 0.0
    cw = np.concatenate([[0.0], np.cumsum(w)])
    cpw = np.vstack([np.zeros((1, K)), np.cumsum(w[:, None] * P, axis=0)])
    return Nested(order, P, w, tier, widths, cw, cpw)


def _monotone_gain(P, w, cap, need, lo, hi, step, nested: Nested | None = None) -> Side | None:
    """The tier shares of a provider whose transfer rises with the shareable amount (no
    gateway, a cap in pounds, tier edges in pounds): rows sorted by the amount, tier by tier
    the least shares that cover every need, and the expected transfer of each grid point from
    prefix sums (the cap binds above one row). None when the rows are not nested tiers.
    `nested`: the rows already sorted (`nested_rows(P, w)`)."""
    nested = nested if nested is not None else nested_rows(P, w)
    if nested is None:
        return None
    grid = _nested_grid(nested.P, need[nested.order], nested.tier, nested.widths, lo, hi, step)
    if grid is None or not len(grid):
        return Side(False, why="no combination of tier shares up to its maximum covers what "
                    "it needs")  # fmt: skip
    sh = grid * step
    val = _expected_capped(nested.P, nested.w, sh, cap, (nested.cw, nested.cpw))
    best = int(np.argmin(val))
    return Side(True, float(val[best]), tuple(float(v) for v in sh[best]), cap, sh, val,
                np.full(len(val), np.nan if cap is None else cap))  # fmt: skip


def _nested_grid(P, need, tier, widths, lo, hi, step) -> np.ndarray:
    """(M, K) share steps: every step of the first K-1 tiers that the rows of those tiers allow,
    each with the least top-tier step that covers the top tier's rows. A row of tier t is paid
    A + s_t P_it, where A (what the full lower tiers pay) is the same for every row of the tier,
    so its least s_t is the upper envelope of lines in A. A lower tier's steps stop where the
    tiers above it at their least cover every row above it: past that, a step more leaves every
    tier above at its least and only pays more (a point with no more share of any tier is as
    good), so the share-sum knapsack never needs it."""
    K = P.shape[1]
    kmin, kmax = math.ceil(lo / step - 1e-9), math.floor(hi / step + 1e-9)
    req = need > EPS
    # what the rows above tier t need from it and the tiers below, those above at their least
    lo_share = kmin * step
    above = np.full(K, -np.inf)
    for u in range(1, K):
        rows = req & (tier == u)
        for t in range(u) if rows.any() else ():
            rest = lo_share * (P[rows, u] + widths[t + 1 : u].sum())
            above[t] = max(above[t], float((need[rows] - rest).max()))
    grid, paid = np.zeros((1, 0)), np.zeros(1)
    for t in range(K):
        rows = req & (tier == t)
        least = np.full(len(grid), float(kmin))
        if rows.any():
            d = P[rows, t]
            lines = (need[rows] / d, -1.0 / d, paid, True)  # rows by amount: slopes rising
            least = np.maximum(least, _ceil(_max_lines(*lines), step))
        if t == K - 1:
            ok = least <= kmax
            return np.column_stack([grid[ok], least[ok]])
        last = np.full(len(grid), float(kmax))
        if widths[t] > 0:  # one step past the least that covers them, for rounding
            last = np.minimum(last, np.maximum(least, _ceil((above[t] - paid) / widths[t], step)
                                               + 1))  # fmt: skip
        counts = np.maximum(last - least + 1, 0).astype(np.int64)
        rep = np.repeat(np.arange(len(grid)), counts)
        offset = np.arange(counts.sum()) - np.repeat(np.cumsum(counts) - counts, counts)
        s_t = least[rep] + offset
        grid = np.column_stack([grid[rep], s_t])
        paid = paid[rep] + s_t * step * widths[t]
    return grid


def _max_lines(b: np.ndarray, m: np.ndarray, xq: np.ndarray, rising: bool = False) -> np.ndarray:
    """max_i (b_i + m_i x) at each query x: the upper envelope of the lines (slopes sorted,
    lines that are never highest dropped), then one search per query; few queries are simply
    evaluated on every line. `rising`: the slopes come in order (never falling)."""
    if rising and len(b) > 2 and len(xq):
        b, m = _highest_somewhere(b, m, float(xq.min()), float(xq.max()))
        if len(xq) * len(b) > 50_000:
            hull = _envelope(m, b)
            return _on_hull(m[hull], b[hull], xq)
    if len(xq) * len(b) <= 50_000:
        out = np.empty(len(xq))
        for i in range(0, len(xq), CHUNK):
            x = xq[i : i + CHUNK]
            out[i : i + CHUNK] = (b[None, :] + m[None, :] * x[:, None]).max(axis=1)
        return out
    order = np.lexsort((b, m))
    m, b = m[order], b[order]
    keep_last = np.append(m[1:] != m[:-1], True)  # equal slopes: the highest intercept
    m, b = m[keep_last], b[keep_last]
    hull = _envelope(m, b)
    return _on_hull(m[hull], b[hull], xq)


def _on_hull(hm: np.ndarray, hb: np.ndarray, xq: np.ndarray) -> np.ndarray:
    """The upper envelope (its lines, slopes rising) at each query: one search per query."""
    cross = (hb[:-1] - hb[1:]) / (hm[1:] - hm[:-1])  # where line i+1 overtakes line i
    idx = np.searchsorted(cross, xq, side="right")
    return hb[idx] + hm[idx] * xq


def _highest_somewhere(b: np.ndarray, m: np.ndarray, lo: float, hi: float) -> tuple:
    """The lines (slopes never falling) that may be highest somewhere in [lo, hi], slopes then
    all different. A later line (slope no less) at least as high at lo is at least as high on
    all of [lo, hi], and so is an earlier line (slope no more) at least as high at hi: a line
    is kept when it is above every later line at lo and no lower than every earlier one at hi."""
    at_lo, at_hi = b + m * lo, b + m * hi
    later = np.maximum.accumulate(at_lo[::-1])[::-1]  # the most of lines i.. at lo
    above_later = np.append(at_lo[:-1] > later[1:], True)
    earlier = np.maximum.accumulate(at_hi)
    not_below_earlier = np.insert(at_hi[1:] >= earlier[:-1], 0, True)
    keep = above_later & not_below_earlier
    return b[keep], m[keep]


def _envelope(m: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Indices of the lines (slopes rising, all different) on the upper envelope: rounds that
    drop every line of one parity lying under the crossing of its two neighbours, until none
    is dropped (a dropped line is never above both neighbours, which are kept that round)."""
    idx = np.arange(len(m))
    parity, still = 0, 0
    while len(idx) > 2 and still < 2:
        j = np.arange(1 + parity, len(idx) - 1, 2)
        lo, mid, hi = idx[j - 1], idx[j], idx[j + 1]
        under = (b[lo] - b[hi]) * (m[mid] - m[lo]) <= (b[lo] - b[mid]) * (m[hi] - m[lo])
        if under.any():
            keep = np.ones(len(idx), bool)
            keep[j[under]] = False
            idx = idx[keep]
            still = 0
        else:
            still += 1
        parity = 1 - parity
    return idx


def _expected_capped(P, w, sh, cap, sums=None) -> np.ndarray:
    """w @ min(P x, cap) for each share vector x (rows of sh), rows of P sorted so that P x
    never falls: the cap binds from the first row where P x reaches it. `sums`: the prefix
    sums of w and of w P, when known."""
    n, K = P.shape
    if sums is None:
        sums = (np.concatenate([[0.0], np.cumsum(w)]),
                np.vstack([np.zeros((1, K)), np.cumsum(w[:, None] * P, axis=0)]))  # fmt: skip
    cw, cpw = sums  # (n+1,), (n+1, K)
    cap = np.broadcast_to(np.asarray(np.inf if cap is None else cap, dtype=float), (len(sh),))
    if not np.isfinite(cap).any():
        return sh @ cpw[-1]
    cap = np.where(np.isfinite(cap), cap, np.finfo(float).max)
    lo = _first_capped(P, sh, cap)
    if lo is None:
        lo = np.zeros(len(sh), dtype=np.int64)
        hi = np.full(len(sh), n, dtype=np.int64)
        while (lo < hi).any():  # first row where the transfer reaches the cap (n: none)
            active = lo < hi
            mid = (lo + hi) // 2
            below = (P[np.minimum(mid, n - 1)] * sh).sum(axis=1) < cap
            lo = np.where(active & below, mid + 1, lo)
            hi = np.where(active & ~below, mid, hi)
    return (sh * cpw[lo]).sum(axis=1) + cap * (cw[-1] - cw[lo])


def _first_capped(P, sh, cap) -> np.ndarray | None:
    """For rows of nested tiers sorted by amount (each row fills every tier below its own): the
    first row whose transfer reaches the cap, from the amount at which each share vector's
    transfer reaches it (inverting the piecewise-linear schedule), one search per vector. None
    when the rows are not of that form (the caller searches row by row)."""
    n, K = P.shape
    if n == 0:
        return None
    amount = P.sum(axis=1)
    if (np.diff(amount) < 0).any():
        return None
    widths = np.zeros(K - 1)
    for k in range(K - 1):
        above = (P[:, k + 1 :] > 0).any(axis=1)
        if above.any():
            full = P[above, k]
            if np.ptp(full) > 1e-9 * max(1.0, float(full.max())):
                return None
            widths[k] = full[0]
        else:
            widths[k] = float(P[:, k].max(initial=0.0))
    start = np.concatenate([[0.0], np.cumsum(widths)])  # (K,) amount where each tier starts
    paid = np.zeros((len(sh), K))  # transfer where each tier starts
    if K > 1:
        paid[:, 1:] = np.cumsum(sh[:, :-1] * widths[None, :], axis=1)
    end = np.empty_like(paid)  # transfer where each tier ends
    end[:, :-1] = paid[:, 1:]
    end[:, -1] = np.where(sh[:, -1] > 0, np.inf, paid[:, -1])
    hit = (end >= cap[:, None]) & (sh > 0)
    k = np.argmax(hit, axis=1)
    rows = np.arange(len(sh))
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        at = start[k] + (cap - paid[rows, k]) / sh[rows, k]
    at = np.where(hit.any(axis=1), at, np.inf)
    at = np.where(cap <= 0, -np.inf, at)
    lo = np.searchsorted(amount, at, side="left")
    # rounding in the inversion: settle the rows either side on the transfer itself
    back = (lo > 0) & (np.einsum("ij,ij->i", P[np.maximum(lo - 1, 0)], sh) >= cap)
    lo = lo - back
    on = (lo < n) & (np.einsum("ij,ij->i", P[np.minimum(lo, n - 1)], sh) < cap)
    return lo + on


def _tier_lines(P, need, scen, rows_mask, k) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The rows of tier k needing cover, one line per scenario (padded: need -inf): the
    scenarios, their rows' needs and their rows' amounts in the tier."""
    rows = np.nonzero(rows_mask)[0]
    sc, pos = np.unique(scen[rows], return_inverse=True)
    slot = np.zeros(len(rows), dtype=np.int64)
    if len(rows):
        first = np.searchsorted(np.sort(pos), np.arange(len(sc)))
        slot[np.argsort(pos, kind="stable")] = np.arange(len(rows)) - np.repeat(
            first, np.bincount(pos, minlength=len(sc))
        )
    wide = int(slot.max(initial=-1)) + 1
    nd = np.full((len(sc), wide), -np.inf)
    am = np.ones((len(sc), wide))
    nd[pos, slot], am[pos, slot] = need[rows], P[rows, k]
    return sc, nd, am


def _reach(lines, below: np.ndarray) -> np.ndarray:
    """(len(below), len(sc)): per lower-tier payment `below` and scenario with rows in the
    tier (`sc` of `lines`), the least share of the tier that covers the scenario's rows."""
    sc, nd, am = lines
    acc = np.zeros((len(below), len(sc)))
    for j in range(nd.shape[1]):
        np.maximum(acc, (nd[None, :, j] - below[:, None]) / am[None, :, j], out=acc)
    return acc


def solve_gain_chance(P, w, scen, need, rule, lo, hi, step, lstep, W, budget,
                      mandatory) -> Side:  # fmt: skip
    """Gain terms of a provider kept whole in all but `budget` of the probability (chance):
    scenario s (weight W_s) counts as kept whole when every row of it is covered. For each
    grid point of shares the scenarios the shares leave short (and the `mandatory` ones: short
    whatever the terms) must be excused; the cap is then the least that covers every other
    scenario but the costliest ones the rest of the budget excuses. Exact over the share grid
    for up to three tiers without a gateway, caps and edges in pounds (lower tiers' shares are
    enumerated, a share is given up as soon as it leaves more than the budget short)."""
    return chance_sides(P, w, scen, need, rule, lo, hi, step, lstep, W, (budget,),
                        mandatory)[budget]  # fmt: skip


def chance_sides(P, w, scen, need, rule, lo, hi, step, lstep, W, budgets,
                 mandatory) -> dict:  # fmt: skip
    """`solve_gain_chance` for several budgets at once ({budget: Side}): the shares are
    enumerated once for the largest budget (every choice within a smaller budget is among
    them), and each budget keeps the choices within it, with its own caps."""
    n, K = P.shape
    if step is None or K > 3 or (rule is not None and rule.basis != "amount"):
        raise NotDecomposable("chance keep-whole with these terms")
    budgets = tuple(sorted(set(budgets)))
    S = len(W)
    order = np.argsort(P.sum(axis=1), kind="stable")
    Ps, ws = P[order], w[order]
    tier = (P > 1e-12).sum(axis=1) - 1
    req = need > EPS
    cn = np.zeros(S)
    np.maximum.at(cn, scen[req], need[req])
    kmin, kmax = math.ceil(lo / step - 1e-9), math.floor(hi / step + 1e-9)
    if not req.any() and not mandatory.any():
        kmax = min(kmax, kmin)  # every scenario kept whole: the least shares beat every other
    grid = np.arange(kmin, kmax + 1, dtype=float) * step
    # full width of each tier below the top one (the rows above it fill it)
    width = [float(P[tier > k, k].max(initial=0.0)) for k in range(K - 1)]
    cands: dict = {b: [] for b in budgets}

    lines = tuple(_tier_lines(P, need, scen, req & (tier == k), k) for k in range(K))
    top_sc = lines[K - 1][0]  # scenarios with rows in the top tier: the others never short
    at_top = np.full(S, -1, dtype=np.int64)
    at_top[top_sc] = np.arange(len(top_sc))
    # budget -> (scenarios caps look at, their columns among top_sc)
    per = {b: (oc, at_top[oc]) for b, oc in ((b, _cap_scenarios(cn, W, b)) for b in budgets)}
    ch = _Chance(grid, step, np.asarray(width), lines, W, budgets, per, rule, cn, lstep)
    for found in _in_threads(_block_choices, ch, _lower_blocks(ch, mandatory)):
        for b, got in found.items():
            cands[b].append(got)
    if THREADS <= 1 or len(budgets) == 1:
        return {b: _chance_side(Ps, ws, cands[b]) for b in budgets}
    with ThreadPoolExecutor(THREADS) as pool:  # each budget's points valued on its own
        return dict(zip(budgets, pool.map(lambda b: _chance_side(Ps, ws, cands[b]), budgets),
                        strict=True))  # fmt: skip


def _in_threads(fn, ch, blocks):
    """fn(ch, *block) for each block, in the blocks' order, on up to THREADS threads (numpy
    lets go of the interpreter in its array loops), a few blocks ahead of the results so only
    those are held at once."""
    if THREADS <= 1:
        yield from (fn(ch, *b) for b in blocks)
        return
    with ThreadPoolExecutor(THREADS) as pool:
        ahead: deque = deque()
        for b in blocks:
            ahead.append(pool.submit(fn, ch, *b))
            if len(ahead) > 2 * THREADS:
                yield ahead.popleft().result()
        while ahead:
            yield ahead.popleft().result()


@dataclass
class _Chance:
    """What the chance enumeration reads: the share grid and step, the lower tiers' full
    widths, each tier's lines (`_tier_lines`), the scenarios' probabilities, the budgets
    (rising), each budget's cap scenarios with their columns among the top tier's
    (`_cap_scenarios`), the cap rule, each scenario's largest need and the cap step."""

    grid: np.ndarray
    step: float
    width: np.ndarray
    lines: tuple
    W: np.ndarray
    budgets: tuple
    per: dict
    rule: object
    cn: np.ndarray
    lstep: float

    @property
    def top(self) -> tuple:
        return self.lines[-1]

    def reach(self, k: int, below: np.ndarray) -> np.ndarray:
        """(len(below), S): `_reach` of tier k for every scenario (0 where it has no rows)."""
        out = np.zeros((len(below), len(self.W)))
        out[:, self.lines[k][0]] = _reach(self.lines[k], below)
        return out

    def least_below(self, k: int) -> np.ndarray:
        """(S,): the least payment from the tiers below k that covers each scenario's rows in
        tier k with the least share of tier k (-inf where it has none there)."""
        sc, nd, am = self.lines[k]
        out = np.full(len(self.W), -np.inf)
        out[sc] = (nd - self.grid[0] * am).max(axis=1, initial=-np.inf)
        return out

    def last_useful(self, least: np.ndarray) -> np.ndarray:
        """The largest share worth trying where `least` (..., S) is, per scenario, the least
        share that covers it with the other shares held at or above what they are (-inf: a
        scenario covered, or short, whatever this share): one step past the largest of them,
        rounded up to the grid. Past it every scenario it can cover is covered, so more share
        leaves the same scenarios short at every share of the other tiers: the same cap for
        more transfer. The top of the grid when some scenario needs more than the grid."""
        most = least.max(axis=-1, initial=-np.inf)
        with np.errstate(invalid="ignore"):
            past = _ceil(np.where(np.isfinite(most), most, 0.0), self.step) * self.step
        return np.where(most == np.inf, self.grid[-1],
                        np.where(most == -np.inf, self.grid[0], past + self.step))  # fmt: skip


def _top_choices(ch: _Chance, lower: np.ndarray, short0: np.ndarray) -> dict:
    """{budget: (shares, caps)}: every useful top-tier share for each row of `lower` (lower
    tiers' shares, with the scenarios they leave short in `short0`), from the least that leaves
    no more than the budget short to the least that covers every row, each with the least cap
    that keeps it within the budget. Only scenarios with rows in the top tier can be left
    short by its share."""
    grid, W, most = ch.grid, ch.W, ch.budgets[-1]
    top_sc = ch.top[0]
    r = _reach(ch.top, lower @ ch.width[: lower.shape[1]])
    # scenario top_sc[i] is short at grid point j < cut[v, i]
    cut = np.searchsorted(grid, np.where(short0[:, top_sc], -np.inf, r) - 1e-12, side="left")
    spent = short0 @ W
    G = len(grid) + 1
    at = (np.arange(len(lower))[:, None] * G + cut).ravel()
    hist = np.bincount(at, np.tile(W[top_sc], len(lower)), len(lower) * G).reshape(len(lower), G)
    weight = spent[:, None] + hist[:, ::-1].cumsum(axis=1)[:, ::-1][:, 1:]
    cover = np.maximum(_ceil(r.max(axis=1, initial=0.0), ch.step) * ch.step, grid[0])
    # more share than covers every row only costs more; rows over budget cannot be chosen
    useful = (grid[None, :] <= cover[:, None] + 1e-12) & (weight <= most + 1e-12)
    # a step that covers no scenario the step below leaves short leaves the same scenarios
    # short, so the same cap: more share for no less transfer
    useful[:, 1:] &= (hist[:, 1:-1] > 0) | ~useful[:, :-1]
    v_all, j_all = np.nonzero(useful)
    spent_all = weight[v_all, j_all]
    # the open weight along the largest budget's cap scenarios, shared by every budget (each
    # smaller budget's cap scenarios are the first of them)
    cum = None if ch.rule is None else _open_weight(short0, cut, v_all, j_all, *ch.per[most], W)
    out = {}
    for b in ch.budgets:
        within = spent_all <= b + 1e-12
        v, j = v_all[within], j_all[within]
        caps, ok = _chance_caps(ch.rule, None if cum is None else cum[within], spent_all[within],
                                ch.cn[ch.per[b][0]], b, ch.lstep)  # fmt: skip
        out[b] = (np.column_stack([lower[v], grid[j]])[ok], caps[ok])
    return out


def _lower_blocks(ch: _Chance, mandatory: np.ndarray):
    """The lower tiers' shares worth a top-tier share, in blocks for `_block_choices`, in the
    grid's order: with one or two tiers, (rows (R, K-1), the scenarios each leaves short
    (R, S), None, None); with three, (first-tier shares (c,), the scenarios each leaves short
    (c, S), the least second-tier share covering each scenario's second-tier rows after it
    (c, S), the largest second-tier share worth trying after it (c,)), whose second-tier
    shares the block's thread adds. A lower share is given up as soon as it leaves more than
    the largest budget short (the short scenarios only grow with fewer shares), so its higher
    shares are never tried; nor are shares past `_Chance.last_useful` of what each scenario
    needs with the higher tiers at their least."""
    grid, width, W, most = ch.grid, ch.width, ch.W, ch.budgets[-1]
    K, S = len(ch.lines), len(W)
    if K == 1:
        yield np.zeros((1, 0)), mandatory[None, :], None, None
        return
    r0 = ch.reach(0, np.zeros(1))[0]
    short = mandatory[None, :] | (r0[None, :] > grid[:, None] + 1e-12)
    # the least first-tier share covering each scenario with every higher tier at its least
    least0 = r0.copy()
    if width[0] > 0:
        with np.errstate(invalid="ignore"):
            for k in range(1, K):
                above = grid[0] * width[1:k].sum()
                np.maximum(least0, (ch.least_below(k) - above) / width[0], out=least0)
    else:
        least0[:] = np.inf
    last0 = ch.last_useful(np.where(mandatory, -np.inf, least0))
    keep = (short.astype(float) @ W <= most + 1e-12) & (grid <= last0 + 1e-12)
    first, short = grid[keep], short[keep]
    if K == 2:
        if len(first):
            yield first[:, None], short, None, None
        return
    r1 = ch.reach(1, first * width[0])  # (first, S)
    if width[1] > 0:
        top = (ch.least_below(2)[None, :] - first[:, None] * width[0]) / width[1]
        last1 = ch.last_useful(np.where(short, -np.inf, np.maximum(r1, top)))
    else:
        last1 = np.full(len(first), grid[-1])
    per = max(1, CHANCE_CELLS // max(1, len(grid) * S))  # first-tier shares per block
    for a in range(0, len(first), per):
        yield first[a : a + per], short[a : a + per], r1[a : a + per], last1[a : a + per]


def _block_choices(ch: _Chance, lower: np.ndarray, short0: np.ndarray, r1, last1) -> dict:
    """`_top_choices` for one block of `_lower_blocks`, adding the second-tier shares first
    when there are three tiers (`r1` not None), up to `last1` after each first-tier share."""
    if r1 is not None:
        grid, W = ch.grid, ch.W
        upto = grid[None, :] <= last1[:, None] + 1e-12
        both = short0[:, None, :] | (r1[:, None, :] > grid[None, :, None] + 1e-12)
        both = both[upto]
        keep = both @ W <= ch.budgets[-1] + 1e-12
        rows = np.column_stack([np.repeat(lower, upto.sum(axis=1)),
                                np.broadcast_to(grid, upto.shape)[upto]])  # fmt: skip
        lower, short0 = rows[keep], both[keep]
    if not len(lower):
        return {b: (np.zeros((0, ch.width.size + 1)), np.zeros(0)) for b in ch.budgets}
    return _top_choices(ch, lower, short0)


def _open_weight(short0, cut, v, j, order_cn, cap_pos, W) -> np.ndarray:
    """(choices, len(order_cn)): along the scenarios caps look at (by need, largest first), the
    cumulative probability of those the choices (lower-tier row v, top-tier step j) keep whole
    without a cap: not short below the top tier (`short0`), nor at step j (`cut`: the first
    top-tier step that covers each scenario with rows in the top tier, at `cap_pos`)."""
    cut_caps = (np.where(cap_pos >= 0, cut[:, np.maximum(cap_pos, 0)], 0) if cut.shape[1] else
                np.zeros((len(short0), len(order_cn)), dtype=np.int64))  # fmt: skip
    short = short0[:, order_cn][v] | (cut_caps[v] > j[:, None])
    return np.cumsum(np.where(short, 0.0, W[order_cn][None, :]), axis=1)


def _chance_side(Ps, ws, cands) -> Side:
    cands = [c for c in cands if len(c[0])]
    if not cands:
        return Side(False, why="no shares and cap keep it whole often enough")
    sh = np.concatenate([c[0] for c in cands])
    cap = np.concatenate([c[1] for c in cands])
    val = _expected_capped(Ps, ws, sh, cap)
    best = int(np.argmin(val))
    limit = None if not math.isfinite(cap[best]) else float(cap[best])
    return Side(True, float(val[best]), tuple(float(v) for v in sh[best]), limit, sh, val, cap)


def _cap_scenarios(cn: np.ndarray, W: np.ndarray, budget: float) -> np.ndarray:
    """Scenarios by need, largest first, up to the first past a budget's worth of probability:
    the costliest ones past it are never excused (every choice's open weight so far is at
    least the whole weight less what is short), so caps look no further. A smaller budget's
    scenarios are the first of a larger one's."""
    order = np.argsort(-cn, kind="stable")
    past = np.nonzero(np.cumsum(W[order]) > budget + 1e-9)[0]
    return order[: past[0] + 1] if len(past) else order


def _chance_caps(rule, cum, spent, needs, budget, lstep) -> tuple[np.ndarray, np.ndarray]:
    """For each choice of shares: the least cap that leaves at most `budget` of the probability
    short, excusing the costliest scenarios first. `needs`: the needs of the scenarios caps
    look at (`_cap_scenarios`); `cum` (choices, at least len(needs)): `_open_weight` along
    them; `spent`: the probability the shares leave short in all. The first scenario whose
    open weight so far is past the room left must be covered, so the cap is its need."""
    room = budget - spent
    if rule is None:
        return np.full(len(spent), np.inf), room >= -1e-12
    within = (cum[:, : len(needs)] <= room[:, None] + 1e-12).sum(axis=1)  # cum never falls
    need = np.where(within < len(needs), needs[np.minimum(within, len(needs) - 1)], 0.0)
    if not rule.decide:
        return np.full(len(spent), rule.value), (room >= -1e-12) & (rule.value >= need - 1e-9)
    c = np.maximum(rule.min, np.ceil(need / lstep - 1e-10) * lstep if lstep > 0 else need)
    ok = room >= -1e-12
    if rule.max is not None:
        ok &= need <= rule.max + 1e-9
        c = np.minimum(c, rule.max)
    return c, ok


def _enumerate_gain(qP, w, capv, need, req, cap, lo, hi, step) -> Side:
    """Every step of the first K-1 tiers, each with the least last-tier share that covers every
    need; the cheapest is the provider's best (the cost rises with every share)."""
    n, K = qP.shape
    axes = [_steps(lo, hi, step)] * (K - 1)
    grid = np.stack(np.meshgrid(*axes, indexing="ij"), axis=-1).reshape(-1, K - 1)
    if len(grid) * max(n, 1) > MAX_GRID * 64:
        raise NotDecomposable("too many tier shares to enumerate")
    last = qP[:, -1]
    own = req & (last > 0)  # rows the last tier can help
    pre_only = req & ~(last > 0)
    kmin, kmax = math.ceil(lo / step - 1e-9), math.floor(hi / step + 1e-9)
    shares, values = [], []
    for i in range(0, len(grid), CHUNK):
        g = grid[i : i + CHUNK] * step  # (B, K-1)
        a_pre = g @ qP[:, :-1].T  # (B, n)
        ok = (a_pre[:, pre_only] >= need[pre_only] - 1e-9).all(axis=1)
        need_last = (need[own] - a_pre[:, own]) / last[own]
        k_last = np.maximum(_ceil(need_last.max(axis=1, initial=0.0), step), kmin)
        ok &= k_last <= kmax
        if not ok.any():
            continue
        g, a_pre, k_last = g[ok], a_pre[ok], k_last[ok]
        a = a_pre + (k_last * step)[:, None] * last[None, :]
        values.append(np.minimum(a, capv[None, :]) @ w)
        shares.append(np.column_stack([g, k_last * step]))
    if not values:
        return Side(False, why="no combination of tier shares up to its maximum covers what it "
                    "needs")  # fmt: skip
    sh, val = np.concatenate(shares), np.concatenate(values)
    best = int(np.argmin(val))
    return Side(True, float(val[best]), tuple(float(v) for v in sh[best]), cap, sh, val,
                np.full(len(val), np.nan if cap is None else cap))  # fmt: skip


def solve_loss(L, w, basis, slack, rule, lo, hi, step, lstep) -> Side:
    """Loss terms of one provider: shares of the loss tiers and the collar, maximising the
    expected loss it takes, w @ min(L x, collar basis), with min(L x, collar basis) <= slack in
    every row (slack = +inf where no requirement applies)."""
    n, K = L.shape
    if n == 0:
        return _nothing(K, lo)
    app = np.isfinite(slack)
    if (slack[app] < -EPS).any():
        return Side(False, why="it is short even when it takes no share of a loss")
    if step is not None and K <= 2 and (basis == 1).all() and (rule is None or rule.decide):
        fast = _monotone_loss(L, w, slack, app, rule, lo, hi, step, lstep)
        if fast is not None:
            return fast
    grid = _loss_grid(L, slack, app, lo, hi, step, K)
    shares, values, limits = [], [], []
    for i in range(0, len(grid), CHUNK):
        g = grid[i : i + CHUNK]
        b = g @ L.T  # (B, n)
        lim, ok = _collar(rule, b, basis, slack, app, lstep)
        if not ok.any():
            continue
        b, lim, g = b[ok], lim[ok], g[ok]
        h = np.minimum(b, np.where(np.isfinite(lim), lim, np.inf)[:, None] * basis[None, :])
        values.append(h @ w)
        shares.append(g)
        limits.append(lim)
    if not values:
        return Side(False, why="no share of the losses and collar keeps it whole")
    sh, val, lim = np.concatenate(shares), np.concatenate(values), np.concatenate(limits)
    best = int(np.argmax(val))
    limit = None if not math.isfinite(lim[best]) else float(lim[best])
    return Side(True, float(val[best]), tuple(float(v) for v in sh[best]), limit, sh, val, lim)


def _monotone_loss(L, w, slack, app, rule, lo, hi, step, lstep) -> Side | None:
    """Loss terms when the loss taken rises with the loss (tier edges in pounds, a collar in
    pounds or none, up to two tiers): for each grid point, the rows the shares alone overshoot
    are those whose threshold share lies below it, so the best collar is a running minimum of
    slacks over rows sorted by threshold; the expected loss taken comes from prefix sums."""
    n, K = L.shape
    order = np.argsort(L.sum(axis=1), kind="stable")
    L, w, slack, app = L[order], w[order], slack[order], app[order]
    pos = L > 1e-12
    tier = pos.sum(axis=1) - 1
    if (tier < 0).any() or not (pos == (np.arange(K)[None, :] <= tier[:, None])).all():
        return None
    width0 = 0.0
    if K == 2:
        full = L[tier > 0, 0]
        if full.size and np.ptp(full) > 1e-7 * max(1.0, float(full.max())):
            return None
        width0 = float(full[0]) if full.size else 0.0
    kmin, kmax = math.ceil(lo / step - 1e-9), math.floor(hi / step + 1e-9)
    grid = np.arange(kmin, kmax + 1, dtype=float) * step
    cands_sh, cands_lim = [], []
    for l0 in grid if K == 2 else [None]:
        if K == 1:
            lim = _least_slack_above(L[:, 0], np.zeros(n), slack, app, grid)
            shares = grid[:, None]
        else:
            low = app & (tier == 0)
            over0 = low & (l0 * L[:, 0] > slack + EPS)
            first = float(slack[over0].min(initial=np.inf))
            top = tier == 1
            lim = np.minimum(first, _least_slack_above(
                np.where(top, L[:, 1], 0.0), np.where(top, l0 * width0, 0.0),
                np.where(top, slack, np.inf), app & top, grid))  # fmt: skip
            shares = np.column_stack([np.full(len(grid), l0), grid])
        if rule is None:
            ok = ~np.isfinite(lim)
            lim = np.full(len(grid), np.inf)
        else:
            if rule.max is not None:
                lim = np.minimum(lim, rule.max)
            if lstep > 0:
                lim = np.where(np.isfinite(lim), np.floor(lim / lstep + 1e-10) * lstep, lim)
            ok = lim >= rule.min - 1e-12
        cands_sh.append(shares[ok])
        cands_lim.append(lim[ok])
    sh, lim = np.concatenate(cands_sh), np.concatenate(cands_lim)
    if not len(sh):
        return Side(False, why="no share of the losses and collar keeps it whole")
    val = _expected_capped(L, w, sh, lim)
    best = int(np.argmax(val))
    limit = None if not math.isfinite(lim[best]) else float(lim[best])
    return Side(True, float(val[best]), tuple(float(v) for v in sh[best]), limit, sh, val, lim)


def _least_slack_above(d, paid, slack, app, grid) -> np.ndarray:
    """For each share x of `grid`: the least slack of the rows (app) whose loss taken,
    paid + x d, exceeds their slack (inf: none), from rows sorted by the share at which that
    happens, (slack - paid) / d."""
    use = app & (d > 0)
    with np.errstate(divide="ignore", invalid="ignore"):
        at = np.where(use, (slack - paid) / np.where(d > 0, d, 1.0), np.inf)
    # rows over their slack whatever the share (paid alone overshoots) count from share 0
    at = np.where(use & (paid > slack + EPS), -np.inf, at)
    order = np.argsort(at, kind="stable")
    at_sorted = at[order]
    least = np.minimum.accumulate(np.where(np.isfinite(slack[order]) & use[order],
                                           slack[order], np.inf))  # fmt: skip
    # x overshoots row i when paid + x d > slack + EPS, i.e. x > at_i (up to EPS / d)
    k = np.searchsorted(at_sorted, grid - 1e-12, side="left")
    return np.where(k > 0, least[np.maximum(k - 1, 0)], np.inf)


def _loss_grid(L, slack, app, lo, hi, step, K) -> np.ndarray:
    if step is not None:
        axes = [_steps(lo, hi, step) * step] * K
        if len(axes[0]) ** K > MAX_GRID:
            raise NotDecomposable("too many loss-tier shares to enumerate")
        return np.stack(np.meshgrid(*axes, indexing="ij"), axis=-1).reshape(-1, K)
    if K > 1:
        raise NotDecomposable("shares of several loss tiers without rounding")
    # any value: the best lies where a row's loss share meets its slack, or at a bound
    col = L[:, 0]
    use = app & (col > 0)
    pts = np.concatenate([[lo, hi], slack[use] / col[use]])
    pts = np.unique(pts[(pts >= lo - 1e-12) & (pts <= hi + 1e-12)].clip(lo, hi))
    return pts[:, None]


def _collar(rule, b, basis, slack, app, lstep) -> tuple[np.ndarray, np.ndarray]:
    """For each grid point (rows of b): the best collar (rule units; inf: no collar needed) and
    whether the point is feasible."""
    over = b[:, app] > slack[app] + EPS  # rows where the share alone would leave it short
    if rule is None:
        return np.full(len(b), np.inf), ~over.any(axis=1)
    bas = basis[app]
    with np.errstate(divide="ignore", invalid="ignore"):
        per_row = np.where(bas > 0, slack[app] / np.where(bas > 0, bas, 1.0), np.inf)
    if not rule.decide:
        cap_rows = np.minimum(b[:, app], rule.value * bas[None, :])
        ok = (cap_rows <= slack[app] + EPS).all(axis=1)
        return np.full(len(b), rule.value), ok
    lim = np.where(over, per_row[None, :], np.inf).min(axis=1, initial=np.inf)
    if rule.max is not None:
        lim = np.minimum(lim, rule.max)
    if lstep > 0:
        lim = np.where(np.isfinite(lim), np.floor(lim / lstep + 1e-10) * lstep, lim)
    return lim, lim >= rule.min - 1e-12


# ------------------------------------------------------------------ one structure


@dataclass
class Plan:
    """Terms found for one structure: per group of years, per provider, gain and loss sides."""

    structure: Structure
    groups: list[np.ndarray]  # 0-based years of each group of terms
    gain: dict  # (group, provider index) -> Side
    loss: dict
    value: float  # commissioners' expected retained savings (horizon total)
    savings: float  # expected system savings (horizon total)
    exact: bool  # the plan is the structure's optimum, not only a bound
    why: str = ""
    trivial: list = field(default_factory=list)  # rows short with nothing to share
    unproven: float = 0.0  # how much better the structure's best might be (pounds, >= 0)
    open_bound: float = -np.inf  # undecided (knapsack time limit): the most it could be worth


@dataclass
class Arrays:
    """The per-structure arrays every side is solved from (S, Y[, K])."""

    econ: Economics
    x: np.ndarray  # shareable amount
    base: np.ndarray  # (S, Y, P) net before sharing
    split: np.ndarray  # (S, Y, P)


def structure_arrays(space: Space, st: Structure) -> Arrays:
    econ = space.econ(st.lever)
    spend = econ.total_exp_spend
    c = st.corridor
    gain_t, loss_t = c.gain_threshold.resolve(spend), c.loss_threshold.resolve(spend)
    x = shareable_amount(econ.pool, gain_t, loss_t, c.mode == "excess_only", c.strict)
    base = econ.net_before_sharing
    return Arrays(econ, x, base, space.split(econ))


def structure_tiers(space: Space, st: Structure, arr: Arrays) -> tuple:
    """(the groups of years with terms of their own (each year under a glide path), the gain
    and the loss tier amounts (S, Y, K), the gateway factor and the quality-scaled loss rate
    (S, Y, P)) of a structure."""
    Y = arr.base.shape[1]
    groups = [np.arange(Y)] if not space.req.glide_path else [np.array([y]) for y in range(Y)]
    spend = arr.econ.total_exp_spend
    gp = tier_portions(np.maximum(arr.x, 0.0), edge_array(st.gain_edges, spend))
    lp = tier_portions(np.maximum(-arr.x, 0.0), edge_array(st.loss_edges, spend))
    return groups, gp, lp, space.quality(st), space.loss_rate(st)


@dataclass
class Needs:
    """What each provider must receive (gain rows) or may give (loss rows), (S, Y) each;
    None when it has no requirement (a relaxed party)."""

    need: dict = field(default_factory=dict)  # provider -> (S, Y) need (-inf: none)
    slack: dict = field(default_factory=dict)  # provider -> (S, Y) slack (+inf: none)
    chance: dict = field(default_factory=dict)  # provider -> probability it may be short


def provider_needs(space: Space, arr: Arrays, relaxed: set[int], adjust=None) -> Needs:
    """Each provider's keep-whole line as a need on its own transfer. `relaxed` providers have
    none (their rows tie them to others); `adjust[p]` gives (shift, factor): the row is
    factor * T >= line - base - shift (a party in both roles with the others fixed)."""
    case, req = space.case, space.req
    S, Y, _ = arr.base.shape
    out = Needs()
    for p, pid in enumerate(case.party_ids):
        if not arr.econ.takes_share[p]:  # providers and risk partners
            continue
        kw = case.keep_whole_for(pid)
        need = np.full((S, Y), -np.inf)
        if p not in relaxed:
            if kw.mode in ("robust", "chance"):
                need[:, kw.from_year - 1 :] = kw.line() - arr.base[:, kw.from_year - 1 :, p]
            elif kw.mode != "none":
                raise NotDecomposable(f"{kw.mode} keep-whole")
            if kw.mode == "chance":
                if req.worst_margin_min is not None or req.glide_path or adjust is not None:
                    raise NotDecomposable("chance keep-whole with a margin floor or glide path")
                if ((arr.x < 0) & np.isfinite(need)).any():
                    raise NotDecomposable("chance keep-whole with losses to share")
                out.chance[p] = 1.0 - kw.beta
            if req.worst_margin_min is not None:
                need = np.maximum(need, req.worst_margin_min - arr.base[:, :, p])
            if adjust is not None and p in adjust:
                shift, factor = adjust[p]
                need = (need - shift) / factor
        out.need[p] = need
        out.slack[p] = -need  # loss rows: base - h >= line  <=>  h <= base - line
    return out


def share_range(space: Space, pid: str, kind: str) -> tuple[float, float]:
    req = space.req
    bounds = req.share_bounds if kind == "gain" else req.loss_share_bounds
    lo, hi = 0.0, 1.0
    if pid in bounds:
        lo, hi = bounds[pid].min, bounds[pid].max
    if kind == "gain" and pid in req.driver_min_gain_share:
        lo = max(lo, req.driver_min_gain_share[pid])
    fixed = req.fixed_gain_shares if kind == "gain" else req.fixed_loss_shares
    if pid in fixed:
        lo = hi = fixed[pid]
    return lo, hi


def solve_structure(space: Space, st: Structure, relaxed: set[int], adjust=None,
                    cache: dict | None = None, beat: float | None = None) -> Plan:  # fmt: skip
    """The best terms of one structure with the given providers' rows dropped (`relaxed`).
    With `beat`, providers are solved one by one and the structure is given up (`why`
    'pruned') as soon as what the commissioners could still keep is no more than `beat`."""
    cache = {} if cache is None else cache
    arr = structure_arrays(space, st)
    needs = provider_needs(space, arr, relaxed, adjust)
    econ, x = arr.econ, arr.x
    w = space.scenarios.weights
    groups, gp, lp, qual, rate = structure_tiers(space, st, arr)
    short = _inside_corridor(space, arr, needs)
    if short:
        n = len(short)
        why = (f"{n} scenario-year{'s' if n > 1 else ''} leave a party short with nothing to "
               "share (inside the corridor, or no pool)")  # fmt: skip
        return Plan(st, groups, {}, {}, -np.inf, 0.0, True, why, short)
    gain, loss = {}, {}
    top = _optimistic(space, arr, needs, groups) if beat is not None else None
    by_group = []  # each group's gain rows, the same for every provider
    for ys in groups:
        xs = x[:, ys]
        by_group.append(GainRows(gp[:, ys], xs > 0, xs, np.broadcast_to(w[:, None], xs.shape)))
    floor = {(gi, p): _least_transfer(space, arr, needs, p, ys, by_group[gi].chain, qual)
             for gi, ys in enumerate(groups) for p in needs.need} if top else {}  # fmt: skip
    if top is not None and top[0] - sum(floor.values()) <= beat + EPS:
        return Plan(st, groups, {}, {}, top[0], 0.0, False, "pruned")
    # chance providers' sides cost the most to solve: solved last, when pruning may spare them
    order = sorted(needs.need, key=lambda p: p in needs.chance)
    for gi, ys in enumerate(groups):
        rows = by_group[gi]
        xs, gmask, ww = rows.xs, rows.gmask, rows.ww
        lmask = xs < 0
        for p in order:
            if top is not None and top[0] - sum(floor.values()) <= beat + EPS:
                return Plan(st, groups, {}, {}, top[0], 0.0, False, "pruned")
            parts = (gmask, lmask, ww, gp, lp, qual, rate, rows)
            gain[gi, p], loss[gi, p] = _provider_sides(space, st, arr, needs, p, gi, ys, parts,
                                                       cache)  # fmt: skip
            if top is not None:
                g, lo_ = gain[gi, p], loss[gi, p]
                if not (g.feasible and lo_.feasible):
                    break
                top[0] += -g.value + lo_.value - top[1][gi, p]
                floor[gi, p] = 0.0  # its transfer is now counted in full
    keys = [(gi, p) for gi in range(len(groups)) for p in needs.need if (gi, p) in gain]
    gain, loss = {k: gain[k] for k in keys}, {k: loss[k] for k in keys}  # the providers' order
    savings = -party_sum(econ.total_cost_change)
    plan = Plan(st, groups, gain, loss, 0.0, float(w @ savings.sum(axis=1)), True)
    relaxed_value = _value(space, arr, plan)  # each provider's own optimum: an upper bound
    _share_sums(space, plan, cache)
    plan.value = _value(space, arr, plan) if not plan.why else -np.inf
    if plan.open_bound == math.inf:
        plan.open_bound = relaxed_value
    return plan


def _provider_sides(space, st, arr, needs, p, gi, ys, parts, cache) -> tuple[Side, Side]:
    """Provider p's gain and loss sides in years `ys`, from `cache` when solved before from the
    same figures: the cache is keyed by what each side is solved from, so structures whose
    tiers come out the same for a side (e.g. corridors no scenario falls inside, the same gain
    tiers under another loss structure) solve it once. A chance side is solved for the
    provider's budget and the space's other chance budgets at once."""
    gmask, lmask, ww, gp, lp, qual, rate, rows = parts
    econ = arr.econ
    fp = (_fingerprint(needs.need[p][:, ys]), needs.chance.get(p))
    at = (st.lever, tuple(int(y) for y in ys), p)  # the economics, years and provider
    gkey = ("gain", *at, rows.print, _prints(qual[:, ys, p][gmask]), fp)
    lpr = lp * rate[:, :, p, None]
    lkey = ("loss", *at, _prints(lpr[:, ys][lmask], lmask), fp)
    if gkey not in cache and p in needs.chance:
        for b, side in _gain_side_chance(space, p, arr, ys, gmask, ww, gp, qual, needs).items():
            cache[gkey[:-1] + ((fp[0], b),)] = side
    if gkey not in cache:
        cache[gkey] = _gain_side(space, p, econ, ys, rows, qual, needs)
    if lkey not in cache:
        cache[lkey] = _loss_side(space, p, econ, ys, lmask, ww, lpr, needs)
    return cache[gkey], cache[lkey]


def _prints(*arrays: np.ndarray) -> tuple:
    """The shapes and contents of `arrays`, for a cache key."""
    return tuple((a.shape, a.dtype.str, _fingerprint(np.ascontiguousarray(a))) for a in arrays)


def _optimistic(space: Space, arr: Arrays, needs: Needs, groups) -> list:
    """[what the commissioners could keep at most, {(group, provider): the most loss that
    provider could take}]: the pool with no gain transferred and every loss passed on as far
    as the providers' share ranges allow (updated as providers are solved)."""
    w = space.scenarios.weights
    most = {}
    top = float(w @ arr.econ.pool.sum(axis=1))
    for gi, ys in enumerate(groups):
        lossy = float(w @ np.maximum(-arr.x[:, ys], 0.0).sum(axis=1))
        for p in needs.need:
            most[gi, p] = share_range(space, space.case.party_ids[p], "loss")[1] * lossy
            top += most[gi, p]
    return [top, most]


def _least_transfer(space: Space, arr: Arrays, needs: Needs, p: int, ys, chain=None,
                    qual=None) -> float:  # fmt: skip
    """A floor under provider p's expected gain transfer in years `ys` in any structure with
    this corridor: in each gain row it must receive at least its need. A provider kept whole
    by chance may leave its budget's worth of probability short: the floor excuses the
    scenarios needing most first (a fraction of the last), which no choice of terms beats.
    With the structure's `chain` of gain rows (`_rising_chain`) and gateway factor `qual`, the
    floor is also at least `_rising_floor`'s, which counts what the terms must pay in rows
    that need nothing."""
    w = space.scenarios.weights
    need = needs.need[p][:, ys]
    gain = arr.x[:, ys] > 0
    per = np.where(gain, np.maximum(need, 0.0), 0.0).sum(axis=1)
    total = float(w @ per)
    budget = needs.chance.get(p, 0.0)
    if budget > 0:
        order = np.argsort(-per, kind="stable")
        room = budget
        for s in order:
            if room <= 0 or per[s] <= 0:
                break
            take = min(w[s], room)
            total -= take * per[s]
            room -= take
        total = max(total, 0.0)
    if chain is None:
        return total
    rule = space.cap_rule(space.case.party_ids[p])
    if (rule is not None and rule.basis != "amount") or (qual[:, ys, p][gain] != 1).any():
        return total  # a cap on another basis or a gateway: a row's transfer may fall
    return max(total, _rising_floor(chain, need[gain], w, budget))


def _rising_chain(gp: np.ndarray, gain: np.ndarray) -> tuple | None:
    """The gain rows (`gain`, (S, Y)) of a group of years in an order along which every tier
    amount of `gp` (S, Y, K) rises or stays: (that order, each row's scenario in it). None
    when there is no such order (tiers whose edges differ by year)."""
    if not gain.any():
        return None
    P = gp[gain]
    order = np.argsort(P.sum(axis=1), kind="stable")
    if (np.diff(P[order], axis=0) < -1e-9 * max(1.0, float(np.abs(P).max()))).any():
        return None
    scen = np.broadcast_to(np.arange(gain.shape[0])[:, None], gain.shape)[gain]
    return order, scen[order]


def _rising_floor(chain: tuple, need: np.ndarray, W: np.ndarray, budget: float) -> float:
    """A floor under the expected transfer, sum over gain rows of W[scenario] min(P x, cap), of
    gain terms that cover the need of every row of the scenarios kept whole (all but `budget`
    of the probability). With shares >= 0, a row whose tier amounts are all at least another's
    is paid at least as much, and the cap is at least every kept row's need: so each row is
    paid at least the need of every kept row before it along the `chain` (`_rising_chain`).
    The floor takes, row by row, the least of that over the scenarios the budget may excuse
    (those needing most): robust, the largest need so far."""
    order, sc = chain
    nd = need[order]
    wt = W[sc]
    if budget <= 0:
        return float(wt @ np.maximum(np.maximum.accumulate(nd), 0.0))
    # chance: at each block's first row, the least need before it left once the budget's
    # worth of the scenarios needing most is excused; every row of the block is paid that
    n = len(nd)
    starts = np.unique(np.linspace(0, n, num=min(n, RISING_BLOCKS) + 1).astype(np.int64))[:-1]
    # a row counts from the first block starting at or after it (rows after the last start: none)
    block = np.searchsorted(starts, np.arange(n), side="left")
    inside = block < len(starts)
    most = np.full((len(starts), len(W)), -np.inf)  # each scenario's largest need so far
    np.maximum.at(most, (block[inside], sc[inside]), nd[inside])
    most = np.maximum.accumulate(most, axis=0)
    ranked = np.argsort(-most, axis=1, kind="stable")
    past = np.cumsum(W[ranked], axis=1) > budget + 1e-9
    first = np.argmax(past, axis=1)
    floor = np.where(past.any(axis=1), np.take_along_axis(most, ranked, axis=1)[
        np.arange(len(starts)), first], 0.0)  # fmt: skip
    return float(np.add.reduceat(wt, starts) @ np.maximum(floor, 0.0))


def _fingerprint(a: np.ndarray) -> int:
    return hash(a.tobytes())


class GainRows:
    """The gain rows of one group of years, the same for every provider's side: their tier
    amounts and weights, sorted by amount with their prefix sums, and a print of them for the
    cache of sides."""

    def __init__(self, gp: np.ndarray, gmask: np.ndarray, xs: np.ndarray, ww: np.ndarray):
        self.gp, self.gmask, self.xs, self.ww = gp, gmask, xs, ww

    @cached_property
    def P(self) -> np.ndarray:  # noqa: N802 - the tier amounts, P in solve_gain
        return self.gp[self.gmask]

    @cached_property
    def w(self) -> np.ndarray:
        return self.ww[self.gmask]

    @cached_property
    def nested(self) -> Nested | None:
        return nested_rows(self.P, self.w)

    @cached_property
    def print(self) -> tuple:
        return _prints(self.P, self.gmask, self.xs == 0)

    @cached_property
    def chain(self) -> tuple | None:
        """`_rising_chain` of the rows, from the sort `nested` has made when the rows are
        nested tiers (their tier amounts then rise along it)."""
        if not self.gmask.any() or self.nested is None:
            return _rising_chain(self.gp, self.gmask)
        scen = np.broadcast_to(np.arange(self.gmask.shape[0])[:, None], self.gmask.shape)
        return self.nested.order, scen[self.gmask][self.nested.order]


def _gain_side(space, p, econ, ys, rows: GainRows, qual, needs) -> Side:
    pid = space.case.party_ids[p]
    rule = space.cap_rule(pid)
    gmask = rows.gmask
    basis = econ.exp_pay[:, ys, p][gmask] if rule is not None and rule.basis != "amount" else None
    return solve_gain(rows.P, qual[:, ys, p][gmask], rows.w,
                      basis if basis is not None else np.ones(len(rows.w)),
                      needs.need[p][:, ys][gmask], rule, *share_range(space, pid, "gain"),
                      space.step, space.limit_step(rule) if rule else 0.0,
                      rows.nested)  # fmt: skip


def _gain_side_chance(space, p, arr, ys, gmask, ww, gp, qual, needs) -> dict:
    """{budget: Side} for the provider's own budget and every other budget the space is asked
    to prepare (`Space.chance_budgets`: a probability frontier's), enumerated once."""
    pid = space.case.party_ids[p]
    rule = space.cap_rule(pid)
    if not (qual[:, ys, p][gmask] == 1).all():
        raise NotDecomposable("chance keep-whole with a quality gateway")
    need = needs.need[p][:, ys]
    mandatory = ((arr.x[:, ys] == 0) & (need > EPS)).any(axis=1)
    scen = np.nonzero(gmask)[0]
    budgets = (needs.chance[p], *(b for b in space.chance_budgets if b > 0))
    return chance_sides(gp[:, ys][gmask], ww[gmask], scen, need[gmask], rule,
                        *share_range(space, pid, "gain"), space.step,
                        space.limit_step(rule) if rule else 0.0, space.scenarios.weights,
                        budgets, mandatory)  # fmt: skip


def _loss_side(space, p, econ, ys, lmask, ww, lp, needs) -> Side:
    pid = space.case.party_ids[p]
    rule = space.collar_rule(pid)
    basis = econ.exp_pay[:, ys, p][lmask] if rule is not None and rule.basis != "amount" else None
    return solve_loss(lp[:, ys][lmask], ww[lmask],
                      basis if basis is not None else np.ones(int(lmask.sum())),
                      needs.slack[p][:, ys][lmask], rule, *share_range(space, pid, "loss"),
                      space.step, space.limit_step(rule) if rule else 0.0)  # fmt: skip


def _inside_corridor(space: Space, arr: Arrays, needs: Needs) -> list[dict]:
    """Rows where a provider is short in a year where nothing is shared: no terms can help."""
    out = []
    names = space.scenarios.names
    for p, need in needs.need.items():
        if p in needs.chance:  # short there whatever the terms: excused (counted in its budget)
            continue
        for s, y in zip(*np.nonzero((arr.x == 0) & (need > EPS)), strict=True):
            out.append({"requirement": "keep_whole", "party": space.case.party_ids[p],
                        "scenario": names[s], "year": int(y) + 1,
                        "shortfall": round(float(need[s, y]), 2)})  # fmt: skip
    return out


def _value(space: Space, arr: Arrays, plan: Plan) -> float:
    """Commissioners' expected retained savings over the horizon: the pool less the expected
    transfers (gain transfers out, loss shares taken in)."""
    w = space.scenarios.weights
    total = float(w @ arr.econ.pool.sum(axis=1))
    for side in plan.gain.values():
        total -= side.value
    for side in plan.loss.values():
        total += side.value
    return total


def _share_sums(space: Space, plan: Plan, cache: dict) -> None:
    """Each tier's provider shares must leave the commissioners a share >= 0: when the
    providers' own optima overshoot, choose among their grid points exactly, first on the
    tiers that overshoot only (a relaxation), adding any tier the choice then overshoots.
    The choice depends only on the sides' grid points, so structures with the same points
    (another corridor or loss structure, the same gain tiers) share it through `cache`."""
    for gi in range(len(plan.groups)):
        for kind, sides, sense in (("gain", plan.gain, 1.0), ("loss", plan.loss, -1.0)):
            mine = {p: s for (g, p), s in sides.items() if g == gi}
            bad = next((p for p, s in mine.items() if not s.feasible), None)
            if bad is not None:
                name = space.case.party(space.case.party_ids[bad]).name
                plan.why = f"{name}: {mine[bad].why}"
                return
            if not mine:
                continue
            key = ("sums", kind, sense, tuple(sorted((p, _side_print(s)) for p, s in mine.items())))
            if key not in cache:
                cache[key] = _restore_sums(mine, sense, space.step)
            chosen, unproven = cache[key]
            if chosen is None and math.isinf(unproven):
                plan.why = f"no choice of {kind} shares summing to 100% found in the time limit"
                plan.open_bound = math.inf
                return
            if chosen is None:
                plan.why = f"the providers together need more than 100% of a {kind} tier"
                return
            if unproven > 0:
                plan.unproven += unproven
                plan.exact = False
            for p, j in chosen.items():
                s = mine[p]
                lim = s.grid_limit[j]
                sides[gi, p] = Side(True, float(s.grid_value[j]),
                                    tuple(float(v) for v in s.grid_shares[j]),
                                    None if not math.isfinite(lim) else float(lim))  # fmt: skip


def _side_print(side: Side) -> tuple:
    if side.grid_value is None:
        return (side.value, side.shares)
    return (_fingerprint(side.grid_value), _fingerprint(side.grid_shares))


def _over(total: np.ndarray) -> set[int]:
    return {int(k) for k in np.nonzero(total > 1 + 1e-9)[0]}


def _restore_sums(sides: dict, sense: float, step: float | None) -> tuple[dict | None, float]:
    """({provider: grid index} meeting every share sum, best total; {} when the providers' own
    optima already do; None when no choice does), and how far the choice may be from the best
    (0 when proven: the knapsack of three or more tiers has a time limit; infinite, with None,
    when it stopped before finding any choice)."""
    over = _over(np.sum([np.asarray(s.shares) for s in sides.values()], axis=0))
    if not over:
        return {}, 0.0
    while True:
        chosen, unproven = _knapsack(sides, sense, sorted(over), step)
        if chosen is None:
            return None, unproven
        total = np.sum([sides[p].grid_shares[j] for p, j in chosen.items()], axis=0)
        more = _over(total) - over
        if not more:
            return chosen, unproven
        over |= more


def _projected(side: Side, tiers: list[int], sense: float) -> np.ndarray:
    """Indices of the best grid point for each combination of shares of `tiers`, kept only
    where no other kept point is as good with no more share of any of them (kept on the side:
    not to be changed)."""
    key = (tuple(tiers), sense)
    if key not in side.projected:
        side.projected[key] = _project(side, tiers, sense)
        side.projected[key].flags.writeable = False
    return side.projected[key]


def _project(side: Side, tiers: list[int], sense: float) -> np.ndarray:
    sh = np.round(side.grid_shares[:, tiers], 10)
    score = sense * side.grid_value
    if _rising(sh):  # each combination once, in order (a nested grid's first tiers)
        best = np.arange(len(sh))
    else:
        order = np.lexsort((score, *(sh[:, k] for k in range(sh.shape[1] - 1, -1, -1))))
        keys = sh[order]
        first = np.ones(len(order), dtype=bool)
        first[1:] = (np.diff(keys, axis=0) != 0).any(axis=1)
        best = order[first]  # best score within each combination
    return best[_pareto(sh[best], side.grid_value[best], sense, rising=True)]


def _rising(sh: np.ndarray) -> bool:
    """Whether the rows of `sh` are in strictly rising lexicographic order (all different)."""
    if len(sh) < 2:
        return True
    d = np.diff(sh, axis=0)
    first = np.argmax(d != 0, axis=1)  # the first column where consecutive rows differ
    return bool((d[np.arange(len(d)), first] > 0).all())


def _pareto(sh: np.ndarray, val: np.ndarray, sense: float, rising: bool = False) -> np.ndarray:
    """Indices of points no other point beats with no more share in any tier (`rising`: the
    rows of `sh` are all different and in rising lexicographic order)."""
    score = sense * val
    if sh.shape[1] == 1:  # one tier: better than every point with less share
        order = np.lexsort((score, sh[:, 0]))
        s = score[order]
        before = np.minimum.accumulate(np.concatenate([[np.inf], s[:-1]]))
        return order[s < before - 1e-12]
    units = np.rint(sh * 1000).astype(np.int64)  # shares are whole steps of 0.1% or coarser
    if sh.shape[1] <= 3 and np.allclose(units / 1000, sh, atol=1e-9) and units.max() <= 1000:
        return _pareto_grid(units, score, rising)
    order = np.argsort(score, kind="stable")
    keep: list[int] = []
    kept = np.empty((0, sh.shape[1]))
    for i in order:
        if not (kept <= sh[i] + 1e-12).all(axis=1).any():
            keep.append(int(i))
            kept = sh[keep]
    return np.array(keep, dtype=np.int64)


def _pareto_grid(units: np.ndarray, score: np.ndarray, rising: bool = False) -> np.ndarray:
    """Pareto points of integer share vectors (2 or 3 tiers, one point per vector), best score
    first: a point is beaten when a point earlier in score order (ties by index) has no more of
    any share. On the table of share steps, the earliest rank over every vector at or below
    each cell is a running minimum along each axis; a point is kept when its rank is below that
    of every other vector at or below it (the running minimum one step back along any axis).
    With `rising` rows (all different, in rising lexicographic order) a point at or below
    another comes before it, so ties go to the one with less share: the table holds the scores
    themselves (finite ones), and no point needs ranking first."""
    pos, dims = _cells(units)
    if math.prod(dims) > PARETO_CELLS:
        return _pareto_scan(units, np.argsort(score, kind="stable"))
    if rising and np.isfinite(score).all():
        vals, empty = score, np.inf
    else:
        vals = np.empty(len(score), dtype=np.int64)
        vals[np.argsort(score, kind="stable")] = np.arange(len(score))
        empty = np.iinfo(np.int64).max
    table = np.full(dims, empty, dtype=vals.dtype)
    table[tuple(pos)] = vals
    _running_min(table)
    earlier = np.full(len(vals), empty, dtype=vals.dtype)
    for k in range(len(dims)):
        back = list(pos)
        back[k] = pos[k] - 1
        ok = pos[k] > 0
        earlier[ok] = np.minimum(earlier[ok], table[tuple(b[ok] for b in back)])
    kept = np.nonzero(vals < earlier)[0]
    return kept[np.argsort(score[kept], kind="stable")]  # best score first (ties by index)


def _cells(units: np.ndarray) -> tuple[list, list]:
    """Each point's cell on the table of share steps (in whole steps of each column's greatest
    common step, gaps left empty), and the table's dimensions."""
    pos, dims = [], []
    for k in range(units.shape[1]):
        off = units[:, k] - units[:, k].min()
        g = max(int(np.gcd.reduce(off)), 1)
        pos.append(off // g)
        dims.append(int(pos[-1].max()) + 1)
    return pos, dims


def _pareto_scan(units: np.ndarray, order: np.ndarray) -> np.ndarray:
    """`_pareto_grid` one point at a time (share tables too large to hold)."""
    keep: list[int] = []
    kept = np.empty((0, units.shape[1]), dtype=units.dtype)
    for i in order:
        if not (kept <= units[i]).all(axis=1).any():
            keep.append(int(i))
            kept = units[keep]
    return np.array(keep, dtype=np.int64)


def _knapsack(sides: dict, sense: float, tiers: list[int], step: float | None) -> dict | None:
    """One grid point per provider, shares of `tiers` summing to at most 1, best total
    (sense 1: least transfer; -1: most loss taken): by dynamic programming over share steps
    for one or two tiers, by enumeration for three where that is small enough, else a small
    MIP solved by HiGHS."""
    cands = {p: _projected(s, tiers, sense) for p, s in sides.items()}
    if len(tiers) == 1 and step is not None:
        return _knapsack_dp(sides, cands, sense, tiers[0], step), 0.0
    if len(tiers) == 2 and step is not None:
        return _knapsack_dp2(sides, cands, sense, tiers, step), 0.0
    start = None
    if step is not None:
        got = _knapsack_enum(sides, cands, sense, tiers, step)
        if not isinstance(got, TooMany):
            return got, 0.0
        start = got.start
    return _knapsack_mip(sides, cands, sense, tiers, start)


def _knapsack_dp(sides, cands, sense, k, step) -> dict | None:
    units = round(1 / step)
    dp = np.zeros(units + 1)  # best total score using at most u steps of the tier
    pick: list[tuple[int, np.ndarray]] = []
    for p, idx in cands.items():
        s = sides[p]
        use = np.rint(s.grid_shares[idx, k] / step).astype(int)
        score = sense * s.grid_value[idx]
        new = np.full(units + 1, np.inf)
        arg = np.full(units + 1, -1)
        for j, (u, c) in enumerate(zip(use, score, strict=True)):
            if u > units:
                continue
            cand = np.full(units + 1, np.inf)
            cand[u:] = dp[: units + 1 - u] + c
            better = cand < new
            new[better], arg[better] = cand[better], j
        dp = new
        pick.append((p, arg))
    if not np.isfinite(dp[units]):
        return None
    out, u = {}, units
    for p, arg in reversed(pick):
        j = int(arg[u])
        idx = cands[p][j]
        out[p] = int(idx)
        u -= int(np.rint(sides[p].grid_shares[idx, k] / step))
    return out


def _knapsack_dp2(sides, cands, sense, tiers, step) -> dict | None:
    """The two-tier knapsack (`two_tier_choice`) on the sides' projected grid points."""
    ps, use, score, lam = _priced(sides, cands, sense, tiers, step)
    got = two_tier_choice(use, score, lam, round(1 / step) + 1, step)
    return None if got is None else {p: int(cands[p][j]) for p, j in got.items()}


def two_tier_choice(use: dict, score: dict, lam, n: int, step: float,
                    enough: float | None = None) -> dict | None:  # fmt: skip
    """{provider: index of its point} using at most n - 1 steps of each of two tiers (`use`)
    at least total score, or None when no choice fits: by dynamic programming over (steps
    used of each tier), on the points that can be in a best choice. With the tiers' dual
    prices `lam` from the LP relaxation (`_knapsack_prices`; bound L) every choice costs at
    least L plus its points' reduced scores, so a point whose reduced score exceeds UB - L, for
    the cost UB of any choice that fits, is in no best choice. UB comes from the same
    programme on coarser tables (shares rounded up to twentieths, then fiftieths, of the
    table: a choice that fits there fits here), each run on the points the one before kept,
    its choice then improved one provider at a time. `enough`: any choice costing at most
    this will do (the first found is the answer; None at once when L is above it)."""
    ps = list(use)
    if lam is None:
        return None
    keep = {p: np.arange(len(use[p])) for p in ps}
    if lam is UNPRICED:  # no bound to drop points with: the programme on every point
        return _dp2(use, score, n)
    red, bound = _reduced(ps, use, score, lam, step)
    if enough is not None and bound > enough + 1e-7 * max(1.0, abs(enough)):
        return None
    ub = np.inf
    for f in sorted({(n - 1) // c for c in COARSE}, reverse=True):  # coarse, then finer
        if f <= 1 or (n - 1) % f:
            continue
        nc = (n - 1) // f + 1
        cu = {p: -(-use[p][keep[p]] // f) for p in ps}
        sub = {p: keep[p][_cheapest_per_cell(cu[p], score[p][keep[p]], nc)] for p in ps}
        coarse = _dp2({p: -(-use[p][sub[p]] // f) for p in ps},
                      {p: score[p][sub[p]] for p in ps}, nc)  # fmt: skip
        if coarse is None:
            continue
        choice = {p: int(sub[p][j]) for p, j in coarse.items()}
        if sum(float(score[p][j]) for p, j in choice.items()) >= ub:
            continue  # no better than the choice in hand: nothing more to drop
        better = _improve(choice, use, score, n)
        ub = sum(float(score[p][j]) for p, j in better.items())
        if enough is not None and ub <= enough:
            return better
        room = ub - bound + 1e-7 * max(1.0, abs(bound))
        keep = {p: keep[p][red[p][keep[p]] <= room] for p in ps}
    got = _dp2({p: use[p][keep[p]] for p in ps}, {p: score[p][keep[p]] for p in ps}, n)
    if got is None:
        return None
    return {p: int(keep[p][j]) for p, j in got.items()}


def _cheapest_per_cell(cells: np.ndarray, sc: np.ndarray, n: int) -> np.ndarray:
    """Indices of the points of least score in each cell (two columns of steps, each below
    n; of equal scores the first), in the points' order: a coarse table's best choice takes
    no other."""
    key = cells[:, 0] * n + cells[:, 1]
    order = np.lexsort((sc, key))
    first = np.ones(len(order), dtype=bool)
    first[1:] = key[order[1:]] != key[order[:-1]]
    return np.sort(order[first])


def _improve(choice: dict, use: dict, score: dict, n: int) -> dict:
    """A choice that fits, improved by moves that keep it fitting: one provider to its best
    point with the others' as they are, then two providers together to their best pair (each
    point of the one with the other's best point in the steps left, read from the other's
    table of its best score using at most each number of steps), until no move helps."""
    choice = dict(choice)
    total = np.sum([use[p][j] for p, j in choice.items()], axis=0)
    ps, tables = list(choice), {}
    for _ in range(20):
        moved = False
        for p in ps:
            rest = total - use[p][choice[p]]
            fits = (use[p] + rest <= n - 1).all(axis=1)
            j = int(np.argmin(np.where(fits, score[p], np.inf)))
            if score[p][j] < score[p][choice[p]] - 1e-9 * max(1.0, abs(score[p][j])):
                choice[p], total, moved = j, rest + use[p][j], True
        for i, p in enumerate(ps):
            for q in ps[i + 1 :]:
                if q not in tables:
                    tables[q] = _at_most(use[q], score[q], n)
                rest = total - use[p][choice[p]] - use[q][choice[q]]
                left = n - 1 - rest - use[p]  # steps left for q beside each point of p
                fits = (left >= 0).all(axis=1)
                if not fits.any():
                    continue
                at = np.where(fits[:, None], left, 0)
                got = np.where(fits, score[p] + tables[q][at[:, 0], at[:, 1]], np.inf)
                k = int(np.argmin(got))
                now = score[p][choice[p]] + score[q][choice[q]]
                if got[k] < now - 1e-9 * max(1.0, abs(now)):
                    jq = int(np.argmin(np.where((use[q] <= left[k]).all(axis=1), score[q], np.inf)))
                    choice[p], choice[q], moved = k, jq, True
                    total = rest + use[p][k] + use[q][jq]
        if not moved:
            break
    return choice


def _at_most(u: np.ndarray, sc: np.ndarray, n: int) -> np.ndarray:
    """[a, b, ...] = the best score of points (steps `u`, one column per tier) using at most
    (a, b, ...) steps of each tier, up to n - 1 (infinity: none)."""
    K = u.shape[1]
    table = np.full((n,) * K, np.inf)
    ok = (u < n).all(axis=1)
    np.minimum.at(table, tuple(u[ok].T), sc[ok])
    return _running_min(table)


def _running_min(table: np.ndarray) -> np.ndarray:
    """The table's running minimum along every axis, in place: the least at or below each
    cell. numpy's accumulate along a leading axis of a table of three or more dimensions is
    slow (one short run per cell of the other axes), so those axes go slice by slice."""
    if table.ndim < 3:
        for k in range(table.ndim):
            np.minimum.accumulate(table, axis=k, out=table)
        return table
    for k in range(table.ndim - 1):
        v = np.moveaxis(table, k, 0)
        for i in range(1, v.shape[0]):
            np.minimum(v[i], v[i - 1], out=v[i])
    np.minimum.accumulate(table, axis=-1, out=table)
    return table


def _dp2(use: dict, score: dict, n: int) -> dict | None:
    """{provider: index of its point} using at most n - 1 steps of each of two tiers at least
    total score, or None. The providers in two halves: each half's table of its best total
    using at most (u, v) steps by dynamic programme (each provider's points applied one at a
    time, each to the part of the table its steps leave room for; on small tables in blocks,
    reading the table shifted by each point's steps as windows of a copy padded with infinity
    below; the first provider of a half is its own table), then the best split of the steps
    between the halves, and the choice read back from the tables. The two providers with the
    most points head the halves, so the programme's cost is in the others' points."""
    ok = {p: np.nonzero((use[p] < n).all(axis=1))[0] for p in use}
    order = sorted(use, key=lambda p: -len(ok[p]))
    halves = [_half(order[0::2], use, score, ok, n), _half(order[1::2], use, score, ok, n)]
    total = halves[0][0] + halves[1][0][::-1, ::-1]
    at = np.unravel_index(int(np.argmin(total)), total.shape)
    if not np.isfinite(total[at]):
        return None
    a, b = int(at[0]), int(at[1])
    return _back(halves[0][1], use, score, a, b) | _back(halves[1][1], use, score,
                                                            n - 1 - a, n - 1 - b)  # fmt: skip


def _half(ps: list, use: dict, score: dict, ok: dict, n: int) -> tuple[np.ndarray, list]:
    """(best total of providers `ps` using at most (u, v) steps, the tables to read the choice
    back from)."""
    dp = np.zeros((n, n))
    tables = []
    for i, p in enumerate(ps):
        js_ok = ok[p]
        u, sc = use[p], score[p]
        if i == 0:  # on an empty table: its own points, then the best at or below each cell
            new = _at_most(u[js_ok], sc[js_ok], n)
        elif n >= DP_SLICES:  # each point on the part of the table it can reach
            new, tmp = np.full((n, n), np.inf), np.empty((n, n))
            for j in js_ok:
                a, b = int(u[j, 0]), int(u[j, 1])
                t, reach = tmp[: n - a, : n - b], new[a:, b:]
                np.add(dp[: n - a, : n - b], sc[j], out=t)
                np.minimum(reach, t, out=reach)
        else:  # small tables: points in blocks (fewer, larger numpy calls)
            new, windows = np.full((n, n), np.inf), _windows(dp, n)
            block = max(1, DP_CELLS // (n * n))
            for lo in range(0, len(js_ok), block):
                js = js_ok[lo : lo + block]
                cand = windows[n - 1 - u[js, 0], n - 1 - u[js, 1]] + sc[js][:, None, None]
                np.minimum(new, cand.min(axis=0), out=new)
        tables.append((p, dp if i else None, js_ok))
        dp = new
    return dp, tables


def _back(tables: list, use: dict, score: dict, a: int, b: int) -> dict:
    """The choice behind a half's best total using at most (a, b) steps (of equal totals, a
    provider's first point)."""
    out = {}
    for p, before, js_ok in reversed(tables):
        u, sc = use[p], score[p]
        fits = js_ok[(u[js_ok, 0] <= a) & (u[js_ok, 1] <= b)]
        got = sc[fits] + (0.0 if before is None else before[a - u[fits, 0], b - u[fits, 1]])
        j = int(fits[int(np.argmin(got))])
        out[p] = j
        a, b = a - int(u[j, 0]), b - int(u[j, 1])
    return out


def _windows(dp: np.ndarray, n: int) -> np.ndarray:
    """[a, b] = the table shifted up by (n-1-a, n-1-b) steps, infinity where it runs out."""
    padded = np.full((2 * n - 1, 2 * n - 1), np.inf)
    padded[n - 1 :, n - 1 :] = dp
    return sliding_window_view(padded, (n, n))


def _knapsack_enum(sides, cands, sense, tiers, step):
    """The knapsack over three (or more) tiers exactly, by enumeration bounded with the duals of
    its LP relaxation. With tier prices lam >= 0 (the LP's duals) and m_p each provider's least
    score + lam . shares, any choice costs L + sum of its points' reduced scores r + lam . slack
    (L = sum m_p - lam . 1, the Lagrangian bound). So every choice costing at most L + delta uses
    only points with r <= delta and has reduced scores summing to at most delta: those
    combinations are enumerated (the best of equal share sums kept, sums over 100% dropped), the
    provider with the most points completing each through a table of its best score using at
    most each number of share steps. The best found is optimal once it costs at most L + delta;
    otherwise delta grows. None when no choice fits; TOO_MANY when the enumeration would be too
    large (the MIP decides)."""
    n, K = round(1 / step) + 1, len(tiers)
    if n**K > PARETO_CELLS:
        return TOO_MANY
    ps, use, score, lam = _priced(sides, cands, sense, tiers, step)
    if lam is None:
        return None
    if lam is UNPRICED:
        return TOO_MANY
    red, bound = _reduced(ps, use, score, lam, step)
    full = sum(float(r.max(initial=0.0)) for r in red.values())
    delta = max(abs(bound) * 1e-6, 0.01)
    start, tables = None, {}
    while True:
        got = _bounded_choices(ps, use, score, red, delta, n, K, tables)
        if got is TOO_MANY:
            return TooMany(start and {p: int(cands[p][j]) for p, j in start.items()})
        if got is not None:
            start = got[0]
        if got is not None and (got[1] <= bound + delta - 1e-7 * max(1.0, abs(bound))
                                or delta >= full):  # fmt: skip
            return {p: int(cands[p][j]) for p, j in got[0].items()}
        if delta >= full:
            return None  # every point was tried
        # a choice costing C is beaten only by choices whose reduced scores sum below C - L
        need = math.inf if got is None else got[1] - bound + 1e-7 * max(1.0, abs(bound))
        delta = min(delta * 4, full, need)


def _priced(sides, cands, sense, tiers, step):
    """(providers, {p: share steps of each point in `tiers`}, {p: score of each point}, the
    tiers' prices from the LP relaxation (`_knapsack_prices`))."""
    ps = list(cands)
    use = {p: np.rint(sides[p].grid_shares[idx][:, tiers] / step).astype(np.int64)
           for p, idx in cands.items()}  # fmt: skip
    score = {p: sense * sides[p].grid_value[idx] for p, idx in cands.items()}
    return ps, use, score, _knapsack_prices(ps, use, score, step)


def _reduced(ps, use, score, lam, step) -> tuple[dict, float]:
    """({p: each point's reduced score, >= 0}, the Lagrangian bound L): with prices lam every
    choice costs at least L plus its points' reduced scores."""
    red, bound = {}, -float(lam.sum())
    for p in ps:
        v = score[p] + (use[p] * step) @ lam
        red[p] = v - v.min()
        bound += float(v.min())
    return red, bound


def _knapsack_prices(ps, use, score, step):
    """Each tier's dual price (>= 0) in the knapsack's LP relaxation; None when even
    fractional choices overshoot a tier (no choice fits); UNPRICED when HiGHS ends otherwise
    (no prices to bound with: the caller decides without them). Any prices >= 0 give a valid
    bound (`_reduced`); these are the LP's, found by column generation (`_priced_columns`),
    or from the LP on every point when that does not settle."""
    got = _priced_columns(ps, use, score, step)
    if got is not None:
        return got
    return _every_column_prices(ps, use, score, step)


def _priced_columns(ps, use, score, step, rounds: int = 50):
    """The LP relaxation's tier prices by column generation: each provider's best point and
    its points of least share in each tier first, then, round by round, each provider's point
    of least reduced score while one is below zero. The share sums may be overshot at a high
    price (an artificial column per tier), so every restricted programme has an answer; if
    the last still overshoots (or the rounds run out), None: the LP on every point decides."""
    K = next(iter(use.values())).shape[1]
    spread = max(float(np.ptp(np.concatenate([score[p] for p in ps]))), 1.0)
    big = 1e4 * spread * (1 + max(float(use[p].max(initial=0)) * step for p in ps))
    h = quiet_highs()
    h.addVars(K, np.zeros(K), np.full(K, highspy.kHighsInf))  # tier k overshot by this
    h.changeColsCost(K, np.arange(K, dtype=np.int32), np.full(K, big))
    for _ in ps:  # one point (or a mixture) per provider
        h.addRow(1.0, 1.0, 0, np.zeros(0, dtype=np.int32), np.zeros(0))
    for k in range(K):
        h.addRow(-highspy.kHighsInf, 1.0 + 1e-9, 1, np.array([k], dtype=np.int32),
                 np.array([-1.0]))  # fmt: skip
    taken = {p: set() for p in ps}

    def add(i: int, p, js) -> None:
        for j in js:
            j = int(j)
            if j in taken[p]:
                continue
            taken[p].add(j)
            sh = use[p][j] * step
            nz = np.nonzero(sh)[0]
            rows = np.concatenate([[i], len(ps) + nz]).astype(np.int32)
            h.addCol(float(score[p][j]), 0.0, highspy.kHighsInf, len(rows), rows,
                     np.concatenate([[1.0], sh[nz]]))  # fmt: skip

    for i, p in enumerate(ps):
        add(i, p, [np.argmin(score[p]), *np.argmin(use[p], axis=0)])
    for _ in range(rounds):
        run_highs(h)
        if h.getModelStatus() != highspy.HighsModelStatus.kOptimal:
            return None
        dual = np.asarray(h.getSolution().row_dual)
        pi, mu = dual[: len(ps)], np.minimum(dual[len(ps) :], 0.0)
        more = False
        for i, p in enumerate(ps):
            rc = score[p] - pi[i] - (use[p] * step) @ mu
            j = int(np.argmin(rc))
            if rc[j] < -1e-9 * spread and j not in taken[p]:
                add(i, p, [j])
                more = True
        if not more:
            over = np.asarray(h.getSolution().col_value)[:K]
            return None if (over > 1e-9).any() else -mu
    return None


def _every_column_prices(ps, use, score, step):
    """The tier prices from the LP relaxation on every point at once (HiGHS)."""
    h = quiet_highs()
    cost = np.concatenate([score[p] for p in ps])
    shares = np.concatenate([use[p] * step for p in ps])
    m = len(cost)
    h.addVars(m, np.zeros(m), np.ones(m))
    h.changeColsCost(m, np.arange(m, dtype=np.int32), cost)
    start = 0
    for p in ps:
        idx = np.arange(start, start + len(score[p]), dtype=np.int32)
        h.addRow(1.0, 1.0, len(idx), idx, np.ones(len(idx)))
        start += len(idx)
    for k in range(shares.shape[1]):
        nz = np.nonzero(shares[:, k])[0].astype(np.int32)
        h.addRow(-highspy.kHighsInf, 1.0 + 1e-9, len(nz), nz, shares[nz, k])
    run_highs(h)
    status = h.getModelStatus()
    if status == highspy.HighsModelStatus.kInfeasible:
        return None
    if status != highspy.HighsModelStatus.kOptimal:
        return UNPRICED
    duals = np.asarray(h.getSolution().row_dual)[len(ps) :]
    return np.maximum(-duals, 0.0)  # a <= row of a minimisation has a dual <= 0


def _bounded_choices(ps, use, score, red, delta, n, K, tables: dict | None = None):
    """({provider: point}, cost) of the best choice among those whose points' reduced scores
    sum to at most delta (or None when none fits), or TOO_MANY. `tables`: the last provider's
    tables of its best score (`_at_most`) by the points they hold, kept from one delta to the
    next (a larger delta often admits no new point of it)."""
    pts = {p: np.nonzero(red[p] <= delta)[0] for p in ps}
    order = sorted(ps, key=lambda p: len(pts[p]))
    last, rest = order[-1], order[:-1]
    sums, totals = np.zeros((1, K), dtype=np.int64), np.zeros(1)
    reds, picks = np.zeros(1), np.zeros((1, 0), dtype=np.int64)
    for p in rest:
        js = pts[p]
        if len(sums) * len(js) > ENUM_STATES:
            return TOO_MANY
        su = (sums[:, None, :] + use[p][js][None, :, :]).reshape(-1, K)
        rd = (reds[:, None] + red[p][js][None, :]).reshape(-1)
        tot = (totals[:, None] + score[p][js][None, :]).reshape(-1)
        pk = np.column_stack([np.repeat(picks, len(js), axis=0), np.tile(js, len(sums))])
        ok = (su < n).all(axis=1) & (rd <= delta)
        su, rd, tot, pk = su[ok], rd[ok], tot[ok], pk[ok]
        if not len(su):
            return None
        cell = np.ravel_multi_index(tuple(su.T), (n,) * K)
        by = np.lexsort((tot, cell))  # by share sums, best first (stable: first of equals)
        first = np.ones(len(by), dtype=bool)
        first[1:] = cell[by[1:]] != cell[by[:-1]]
        keep = by[first]
        sums, reds, totals, picks = su[keep], rd[keep], tot[keep], pk[keep]
    js = pts[last]
    lu, ls = use[last][js], score[last][js]
    ok = (lu < n).all(axis=1)
    tables = {} if tables is None else tables
    key = (last, js.tobytes())
    if key not in tables:
        tables.clear()  # only the latest is read again
        tables[key] = _at_most(lu, ls, n)
    table = tables[key]
    room = n - 1 - sums
    total = totals + table[tuple(room.T)]
    if not np.isfinite(total).any():
        return None
    b = int(np.argmin(total))
    out = {p: int(picks[b, i]) for i, p in enumerate(rest)}
    fits = np.nonzero(ok & (lu <= room[b]).all(axis=1))[0]
    out[last] = int(js[fits[np.argmin(ls[fits])]])
    return out, float(total[b])


def _knapsack_mip(sides, cands, sense, tiers, start=None) -> tuple[dict | None, float]:
    """The knapsack as a MIP (three or more tiers, or shares of any value), stopped after
    KNAPSACK_SECONDS with its best choice and the gap HiGHS proves (pounds); `start`, a choice
    that fits ({provider: grid index}), is given to HiGHS as its first solution. Its LP relaxation
    is solved first: when even fractional choices overshoot a tier, no choice fits (HiGHS's
    presolve takes seconds to find that on thousands of grid points, the LP milliseconds).
    (None, 0) when no choice fits; (None, inf) when the time limit came before any choice."""
    cols = [(p, int(j)) for p, idx in cands.items() for j in idx]
    n = len(cols)
    h = quiet_highs()
    inf = highspy.kHighsInf
    cost = np.array([sense * sides[p].grid_value[j] for p, j in cols])
    h.addVars(n, np.zeros(n), np.ones(n))
    h.changeColsCost(n, np.arange(n, dtype=np.int32), cost)
    for p in cands:
        idx = np.array([i for i, (q, _) in enumerate(cols) if q == p], dtype=np.int32)
        h.addRow(1.0, 1.0, len(idx), idx, np.ones(len(idx)))
    for k in tiers:
        vals = np.array([sides[p].grid_shares[j, k] for p, j in cols])
        nz = np.nonzero(vals)[0].astype(np.int32)
        h.addRow(-inf, 1.0 + 1e-9, len(nz), nz, vals[nz])
    run_highs(h)
    if h.getModelStatus() == highspy.HighsModelStatus.kInfeasible:
        return None, 0.0
    h.changeColsIntegrality(n, np.arange(n, dtype=np.int32),
                            np.full(n, highspy.HighsVarType.kInteger))  # fmt: skip
    h.setOptionValue("mip_rel_gap", 0.0)
    h.setOptionValue("time_limit", KNAPSACK_SECONDS)
    if start:
        first = highspy.HighsSolution()
        first.col_value = [1.0 if start.get(p) == j else 0.0 for p, j in cols]
        first.value_valid = True
        h.setSolution(first)
    run_highs(h)
    status = h.getModelStatus()
    info = h.getInfo()
    if status == highspy.HighsModelStatus.kInfeasible:
        return None, 0.0
    if info.primal_solution_status != 2:
        return None, math.inf
    if status == highspy.HighsModelStatus.kOptimal:
        gap = 0.0
    else:
        gap = max(float(info.objective_function_value) - float(info.mip_dual_bound), 0.0)
    x = np.asarray(h.getSolution().col_value)
    return {p: j for (p, j), v in zip(cols, x, strict=True) if v > 0.5}, gap


# ------------------------------------------------------------------ the agreement


def _commissioner_weights(space: Space, econ: Economics) -> dict[str, float]:
    case = space.case
    only = [pid for j, pid in enumerate(case.party_ids)
            if econ.is_commissioner[j] and not econ.is_provider[j]]  # fmt: skip
    if not only:
        return {}
    fixed = space.req.commissioner_split
    if fixed is not None:
        w = {pid: fixed.get(pid, 0.0) for pid in only}
    else:
        split = space.split(econ)
        w = {pid: float(np.mean(split[:, 0, case.party_ids.index(pid)])) for pid in only}
    total = sum(w.values())
    return {k: v / total for k, v in w.items()} if total > 0 else {k: 1 / len(w) for k in w}


def _tiers(space, edges, shares: dict[str, tuple], cw: dict[str, float], K: int) -> list[Tier]:
    out = []
    for k in range(K):
        sh = {pid: _clean(v[k], space.step) for pid, v in shares.items()}
        rest = round(1.0 - sum(sh.values()), 12) + 0.0
        names = list(cw)
        for i, pid in enumerate(names):
            last = i == len(names) - 1
            sh[pid] = rest - sum(sh[n] for n in names[:-1]) if last else rest * cw[pid]
        out.append(Tier(upto=edges[k] if k < len(edges) else None, shares=sh))
    return out


def _clean(v: float, step: float | None) -> float:
    v = min(max(float(v), 0.0), 1.0) + 0.0
    return round(round(v / step) * step, 10) + 0.0 if step is not None else v


def _limit(rule: LimitRule, value: float) -> Limit:
    v = round(value, 2) if rule.basis == "amount" else round(value, 6)
    return Limit(amount=v) if rule.basis == "amount" else Limit(share_of_expected=v)


def plan_terms(space: Space, plan: Plan, gi: int) -> Terms:
    case = space.case
    st = plan.structure
    econ = space.econ(st.lever)
    cw = _commissioner_weights(space, econ)
    gain_sh, loss_sh, caps, collars = {}, {}, {}, {}
    for (g, p), s in plan.gain.items():
        if g != gi:
            continue
        pid = case.party_ids[p]
        gain_sh[pid] = s.shares
        rule = space.cap_rule(pid)
        if rule is not None and s.limit is not None and (any(s.shares) or not rule.decide):
            caps[pid] = _limit(rule, s.limit)
    for (g, p), s in plan.loss.items():
        if g != gi:
            continue
        pid = case.party_ids[p]
        loss_sh[pid] = s.shares
        rule = space.collar_rule(pid)
        if rule is not None and s.limit is not None and (any(s.shares) or not rule.decide):
            collars[pid] = _limit(rule, s.limit)
    kg, kl = len(st.gain_edges) + 1, len(st.loss_edges) + 1
    return Terms(
        corridor=st.corridor,
        gain_tiers=_tiers(space, st.gain_edges, gain_sh, cw, kg),
        loss_tiers=_tiers(space, st.loss_edges, loss_sh, cw, kl),
        gateway=dict(st.gateway),
        loss_quality=dict(space.req.loss_quality) or None,
        caps=caps,
        collars=collars,
        commissioner_split=space.req.commissioner_split,
    )


def plan_agreement(space: Space, plan: Plan, name: str) -> Agreement:
    first = plan_terms(space, plan, 0)
    overrides = {}
    for gi in range(1, len(plan.groups)):
        t = plan_terms(space, plan, gi)
        overrides[gi + 1] = YearOverride(gain_tiers=t.gain_tiers, loss_tiers=t.loss_tiers,
                                         caps=t.caps, collars=t.collars)  # fmt: skip
    notes = f"Designed by gainshare (objective: {space.req.objective})."
    return Agreement(name=name, case=space.case.name, terms=first, year_overrides=overrides,
                     notes=notes)  # fmt: skip


# ------------------------------------------------------------------ the search


@dataclass
class Found:
    """Outcome of the search: the best agreement, its check, and how sure we are."""

    status: str  # optimal | time_limit | infeasible
    agreement: Agreement | None
    check: CheckResult | None
    plan: Plan | None
    value: float | None  # commissioners' expected retained savings of the agreement
    bound: float | None  # no agreement in the space does better than this
    structures: int  # structures in the space
    solved: int  # structures whose terms were searched
    why: str = ""
    notes: list[str] = field(default_factory=list)
    trivial: list = field(default_factory=list)  # rows short with nothing to share
    ceilings: dict = field(default_factory=dict)  # structure -> most it could give (searched)


def applicable(case: Case) -> bool:
    """Whether the exact search decides this case (else the MIP does)."""
    req = case.requirements
    if req.objective not in ("commissioners", "system_savings"):
        return False
    if req.symmetric or req.fair_distance_max is not None or req.incentives is not None:
        return False
    if req.group_limits or req.aggregate_limits is not None:
        return False  # a group's limit ties its members together, an aggregate one the years
    for pid in case.party_ids:
        kw = case.keep_whole_for(pid)
        if case.party(pid).is_provider and kw.mode not in ("robust", "chance", "none"):
            return False
    return True


def tied_parties(space: Space, econ: Economics) -> set[int]:
    """Parties in both roles whose part of the retained amount is not zero: their rows tie
    their transfer to everyone else's."""
    split = space.split(econ)
    return {p for p in range(len(space.case.party_ids))
            if econ.is_provider[p] and econ.is_commissioner[p]
            and np.abs(split[:, :, p]).max(initial=0.0) > 0}  # fmt: skip


def search(space: Space, name: str = "Designed", time_limit: float | None = None,
           cache: dict | None = None, first: Structure | None = None,
           ceilings: dict | None = None) -> Found:  # fmt: skip
    """Search every structure of the space (branch and bound: a structure is given up as soon
    as it cannot beat the best verified agreement so far); the best agreement and its bound.
    `first`: a structure to try first (the previous answer's, after a what-if). `ceilings`:
    {structure: the most it can give the commissioners}, e.g. an earlier search's `ceilings`
    when the requirements have only tightened since (a frontier's rising margin floor): a
    structure whose ceiling cannot beat the best so far is given up unsolved."""
    t0 = time.perf_counter()
    limit = time_limit if time_limit is not None else space.req.time_limit
    structures = _order(space, space.structures(), first)
    cache = {} if cache is None else cache
    tied = {}
    best: tuple | None = None  # (key, agreement, check, plan)
    bound, solved, why, stopped, trivial = -np.inf, 0, "", False, []
    undecided = False  # a structure whose share sums were not settled in their time limit
    seen: dict = {}  # structure -> the most it could give (for a later, tighter search)
    twins: dict = {}  # what a structure's terms are solved from -> the first structure seen
    short: list = []  # (lever, gateway, gain edges, gain amounts) shown to fit no gain terms
    # ceilings bound the commissioners' value, not system savings
    ceilings = ceilings if space.req.objective == "commissioners" else None
    for st in structures:
        if best is not None and time.perf_counter() - t0 > limit:
            stopped = True
            break
        econ = space.econ(st.lever)
        relaxed = tied.setdefault(st.lever, tied_parties(space, econ))
        ceiling = (ceilings or {}).get(st)
        beat = _to_beat(space, best, _savings(space, st), ceiling)
        skip = _given_up(space, st, relaxed, best, beat, ceiling, (twins, seen, short))
        if skip is not None:
            seen[st] = skip[0]  # None: no ceiling known
            continue
        plan = solve_structure(space, st, relaxed, cache=cache, beat=beat)
        seen[st] = _most(plan)
        if plan.why == "pruned":
            continue
        if plan.why:  # a reason some terms could change comes before 'nothing to share'
            bound = max(bound, plan.open_bound)  # undecided: the structure may hold the best
            undecided = undecided or math.isfinite(plan.open_bound)
            if not why or (trivial and not plan.trivial):
                why, trivial = plan.why, plan.trivial
            continue
        solved += 1
        got = _feasible(space, plan, relaxed, name, cache)
        if got is None:
            if relaxed:  # not shown infeasible: only no answer found by fixing the others
                bound = max(bound, plan.value)
            continue
        agreement, result, fplan = got
        k = _ranking(space)(fplan)
        if best is None or k > best[0]:
            best = (k, agreement, result, fplan)
        if not fplan.exact:
            bound = max(bound, plan.value + plan.unproven)
    if best is None:
        why = why or "no agreement in the drafting space meets every requirement"
        status = "time_limit" if stopped or undecided else "infeasible"
        return Found(status, None, None, None, None, None, len(structures), solved, why,
                     trivial=trivial, ceilings=seen)  # fmt: skip
    _, agreement, result, plan = best
    value = result.expected_retained
    top = None if stopped else max(value, bound)
    exact = top is not None and top - value <= max(abs(value), 1.0) * space.req.mip_gap
    return Found("optimal" if exact else "time_limit", agreement, result, plan, value, top,
                 len(structures), solved, ceilings=seen)  # fmt: skip


def relaxation_bound(space: Space, st: Structure, relaxed: set[int],
                     beat: float | None = None) -> Bound:  # fmt: skip
    """The linear relaxation of one structure (`gainshare.optimise.relax`): whether any
    agreement of it can meet every provider's rows, and the most it can give the commissioners
    (stopping once that is no more than `beat`)."""
    return structure_bound(*relaxation_terms(space, st, relaxed), beat=beat)


def relaxation_terms(space: Space, st: Structure, relaxed: set[int]) -> tuple:
    """(terms, groups, expected pool, money scale) of a structure's linear relaxation."""
    arr = structure_arrays(space, st)
    needs = provider_needs(space, arr, relaxed)
    groups, gp, lp, qual, rate = structure_tiers(space, st, arr)
    w = space.scenarios.weights
    terms, rows = [], []
    chains: dict = {}

    def chain(gi: int, ys) -> tuple | None:  # once per group, when a provider needs it
        if gi not in chains:
            chains[gi] = _rising_chain(gp[:, ys], arr.x[:, ys] > 0)
        return chains[gi]

    for gi, years in enumerate(groups):
        ys = slice(int(years[0]), int(years[-1]) + 1) if _contiguous(years) else years
        xs = arr.x[:, ys]
        rows.append(Group(xs, gp[:, ys], lp[:, ys]))
        gpos, lneg = xs >= 0, xs < 0
        gw = np.where(xs > 0, w[:, None], 0.0)
        lw = np.where(lneg, w[:, None], 0.0)
        gk = gp[:, ys].reshape(-1, gp.shape[2])
        lk = lp[:, ys].reshape(-1, lp.shape[2])
        for p in needs.need:
            pid = space.case.party_ids[p]
            q, r = qual[:, ys, p], rate[:, ys, p]
            need = needs.need[p][:, ys]
            need = np.where(gpos & (need > EPS), need, -np.inf)
            if p in needs.chance:  # may be short in a budget's worth: no row binds alone
                need = np.full(xs.shape, -np.inf)
            slack = np.where(lneg, needs.slack[p][:, ys], np.inf)
            if space.collar_rule(pid) is not None:  # a collar can meet any slack
                slack = np.full(xs.shape, np.inf)
            linear = space.cap_rule(pid) is None and p not in needs.chance
            terms.append(Term(
                gi, need, q, slack, r,
                (gw * q).reshape(-1) @ gk if linear else None,
                0.0 if linear else _least_transfer(space, arr, needs, p, years,
                                                   chain(gi, ys), qual),
                (lw * r).reshape(-1) @ lk,
                share_range(space, pid, "gain"), share_range(space, pid, "loss")))  # fmt: skip
    pool = float(w @ arr.econ.pool.sum(axis=1))
    scale = 10.0 ** round(math.log10(max(float(np.abs(arr.x).max(initial=0.0)), 1.0)))
    return terms, rows, pool, scale


def _contiguous(ys: np.ndarray) -> bool:
    return len(ys) > 0 and int(ys[-1]) - int(ys[0]) + 1 == len(ys)


def _given_up(space: Space, st: Structure, relaxed: set[int], best, beat, ceiling, seen_by):
    """(the most structure `st` can give,) when it is given up unsolved: it has the same
    figures as a structure seen before (`seen_by`: (twins, seen, short)), so it is no better;
    it cannot win by its savings or its ceiling (`beat` False); or, once an agreement is held,
    its linear relaxation has no answer or cannot beat `beat`, or an earlier structure with no
    gain terms that fit shared at least as much in every gain row. None: it is searched."""
    twins, seen, short = seen_by
    twin = twins.setdefault(_twin_key(space, st), st)
    if twin is not st:
        return (seen.get(twin),)
    if beat is False:
        return (ceiling,)
    if best is None:
        return None
    key = (st.lever, st.gateway, st.gain_edges)
    gains = np.maximum(structure_arrays(space, st).x, 0.0)
    if any(k == key and (gains <= more).all() for k, more in short):
        return (-np.inf,)  # less to share in every gain row than where no gain terms fit
    rb = relaxation_bound(space, st, relaxed, beat)
    if not rb.feasible:
        if rb.gain_only:
            short.append((key, gains))
        return (-np.inf,)
    if beat is not None and rb.value <= beat + EPS:
        return (rb.value if ceiling is None else min(rb.value, ceiling),)
    return None


def _twin_key(space: Space, st: Structure) -> tuple:
    """What a structure's best terms depend on: its lever values, gateway, tier edges and the
    shareable amount of every scenario-year. Corridors that no scenario-year falls inside give
    the same amounts, so the same terms and value: the first such structure stands for all."""
    arr = structure_arrays(space, st)
    return (st.lever, st.gateway, st.gain_edges, st.loss_edges, _fingerprint(arr.x))


def _most(plan: Plan) -> float:
    """The most a structure can give: its bound when pruned, its relaxation's optimum when
    searched (each provider's rows alone), nothing when no terms fit (unless undecided)."""
    if plan.why and plan.why != "pruned":
        return plan.open_bound
    return plan.value + plan.unproven


def _savings(space: Space, st: Structure) -> float:
    econ = space.econ(st.lever)
    return float(space.scenarios.weights @ (-party_sum(econ.total_cost_change)).sum(axis=1))


def _order(space: Space, structures: list[Structure], first) -> list[Structure]:
    """The previous answer's structure first; with the system-savings objective, the levers
    that save the system most first."""
    out = sorted(structures, key=lambda st: st != first)
    if space.req.objective == "system_savings":
        out.sort(key=lambda st: -round(_savings(space, st), 2))
    return out


def _to_beat(space: Space, best, savings: float, ceiling: float | None = None):
    """The commissioners' value a structure must beat (None: any; False: it cannot win, by
    its savings or by its `ceiling`, the most it can give the commissioners)."""
    if best is None:
        return None
    if space.req.objective == "system_savings":
        if round(savings, 2) < best[0][0]:
            return False
        return best[0][1] if round(savings, 2) == best[0][0] else None
    if ceiling is not None and ceiling <= best[0][0] + EPS:
        return False
    return best[0][0]


def _ranking(space: Space):
    """The objective as a sort key of a plan: commissioners' value, or system savings first."""
    if space.req.objective == "system_savings":
        return lambda plan: (round(plan.savings, 2), plan.value) if math.isfinite(
            plan.value) else (-np.inf, -np.inf)  # fmt: skip
    return lambda plan: (plan.value,)


def _feasible(space: Space, plan: Plan, relaxed: set[int], name: str, cache):
    """The plan as a verified agreement meeting every requirement, or None. Parties in both
    roles (relaxed) get their own terms with everyone else's transfers fixed."""
    agreement = plan_agreement(space, plan, name)
    result = check(space.case, agreement, space.econ(plan.structure.lever))
    fails = failures(space.case, agreement, result)
    if not fails:
        return agreement, result, plan
    kinds = {f["requirement"] for f in fails}
    if "commissioners_min_expected" in kinds:
        return None  # the structure's best keeps too little for the commissioners
    mine = {f"keep_whole.{space.case.party_ids[p]}" for p in relaxed}
    if kinds - mine:  # a requirement that ties providers together: the MIP decides
        raise NotDecomposable(fails[0]["text"])
    adjust = _fix_others(space, plan, relaxed, result)
    fixed = solve_structure(space, plan.structure, set(), adjust=adjust, cache=None)
    if fixed.why:
        return None
    fixed.exact = False
    agreement = plan_agreement(space, fixed, name)
    result = check(space.case, agreement, space.econ(plan.structure.lever))
    if failures(space.case, agreement, result):
        return None
    return agreement, result, fixed


def _fix_others(space: Space, plan: Plan, relaxed: set[int], result: CheckResult) -> dict:
    """For each party in both roles p: its net is base + rho G + (1 - rho) T_p - rho sum_q T_q;
    with the others' transfers T_q fixed at this plan's, a need on T_p alone."""
    st = result.settlement
    out = {}
    for p in relaxed:
        rho = st.retained_by[:, :, p] / np.where(st.retained != 0, st.retained, 1.0)
        rho = np.where(st.retained != 0, rho, space.split(st.econ)[:, :, p])
        others = st.transfer.sum(axis=2) - st.transfer[:, :, p]
        shift = rho * (st.pool - others)
        out[p] = (shift, 1.0 - rho)
    return out
