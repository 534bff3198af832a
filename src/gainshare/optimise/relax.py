"""A bound on what one structure can give the commissioners before its sides are solved: the
linear relaxation of the structure's problem, shares continuous (models/design.md, "A bound
before the sides").

Each provider's gain shares must cover its need in each of its gain rows (a capped transfer
`min(a, c) >= need` needs `a >= need`), its loss shares keep each loss row within its slack
where it has no collar, and every tier's shares sum to at most 1. Without a cap a provider's
expected transfer is linear in its shares; with one it is at least its needs (`floor`). The
rows are many (one per scenario-year) and few bind, so the programme is solved on a few rows and
the rows its answer breaks are added until it breaks none. Whatever rows it holds, the
duals of its last answer give a lower bound on the expected transfers by weak duality, computed
here rather than taken from HiGHS, so a structure is only ever given up on a bound that holds;
a programme on some rows that no shares meet (by a margin, again checked from its duals) shows
that no agreement of the structure does."""

from __future__ import annotations

from dataclasses import dataclass

import highspy
import numpy as np

from gainshare.optimise.highs import quiet_highs
from gainshare.optimise.highs import run as run_highs

ADD = 8  # rows a term's most broken rows add per round
ROUNDS = 60  # rounds at most (the bound holds whenever it stops)
BROKEN = 1e-9  # a row broken by less than this (in shares) is met
APART = 1e-7  # shares: a programme shown short by more than this has no answer


@dataclass
class Group:
    """The rows of one group of years (scenario x year of the group): the shareable amount and
    its gain and loss tier portions (S, Y, K) and (S, Y, L)."""

    x: np.ndarray
    gain: np.ndarray
    loss: np.ndarray

    def __post_init__(self) -> None:
        ax = np.abs(self.x)
        self.inv = np.divide(1.0, ax, out=np.zeros_like(ax), where=ax > 0)  # per £1 of pool


@dataclass
class Term:
    """One provider's terms in one group of years. Its rows, (S, Y) each: the need its gain
    shares must cover where the pool is a gain (times the gateway factor `q`; -inf: no row), the
    slack its loss shares must stay within where the pool is a loss (times its loss rate `r`;
    +inf: no row). Its expected transfer per unit of each gain share (`gain_cost`, None when a
    cap makes it no linear function: then `floor` bounds it) and expected loss taken per unit
    of each loss share (`loss_value`); the share ranges."""

    group: int
    need: np.ndarray
    q: np.ndarray
    slack: np.ndarray
    r: np.ndarray
    gain_cost: np.ndarray | None
    floor: float
    loss_value: np.ndarray
    gain_range: tuple[float, float]
    loss_range: tuple[float, float]


@dataclass
class Bound:
    """`feasible` False: no agreement of the structure meets its rows. Else `value`: no
    agreement of the structure leaves the commissioners more (pounds)."""

    feasible: bool
    value: float = np.inf
    rows: int = 0  # keep-whole rows the programme held at the end
    rounds: int = 0
    gain_only: bool = False  # no agreement shown from gain rows alone (less pool: none either)


class _Programme:
    """The relaxation with the rows added so far, as numbers (for the weak-duality bound) and
    as a HiGHS model."""

    def __init__(self, terms: list[Term], groups: list[Group], scale: float) -> None:
        self.terms, self.groups, self.scale = terms, groups, scale
        K = groups[0].gain.shape[-1]
        L = groups[0].loss.shape[-1]
        self.K, self.L = K, L
        self.gain_col = [i * (K + L) + np.arange(K) for i in range(len(terms))]
        self.loss_col = [i * (K + L) + K + np.arange(L) for i in range(len(terms))]
        n = len(terms) * (K + L)
        cost = np.zeros(n)
        lo, hi = np.zeros(n), np.zeros(n)
        for i, t in enumerate(terms):
            g, lc = self.gain_col[i], self.loss_col[i]
            lo[g], hi[g] = t.gain_range
            lo[lc], hi[lc] = t.loss_range
            if t.gain_cost is not None:
                cost[g] = t.gain_cost / scale
            cost[lc] = -t.loss_value / scale
        self.cost, self.lo, self.hi = cost, lo, hi
        self.h = quiet_highs()
        self.h.addVars(n, lo, hi)
        self.h.changeColsCost(n, np.arange(n, dtype=np.int32), cost)
        self.rows: list[tuple[np.ndarray, np.ndarray, float]] = []  # (columns, values, lower)
        self.gain_rows: list[bool] = []
        self.added = {}  # (term, side) -> rows added (flat indices)
        for gi in range(len(groups)):  # every tier's shares sum to at most 1: -sum >= -1
            mine = [i for i, t in enumerate(terms) if t.group == gi]
            for k in range(K):
                self._add(np.array([self.gain_col[i][k] for i in mine]), -np.ones(len(mine)), -1.0,
                          gain=True)  # fmt: skip
            for k in range(L):
                self._add(np.array([self.loss_col[i][k] for i in mine]), -np.ones(len(mine)), -1.0)
        self.sums = len(self.rows)

    def _add(self, cols: np.ndarray, vals: np.ndarray, lower: float, gain: bool = False) -> None:
        nz = vals != 0
        cols, vals = cols[nz].astype(np.int32), vals[nz]
        self.rows.append((cols, vals, lower))
        self.gain_rows.append(gain)  # a gain row or a gain tier's share sum
        self.h.addRow(lower, highspy.kHighsInf, len(cols), cols, vals)

    def add_worst(self, i: int, broken: np.ndarray, side: str) -> bool:
        """Add term i's ADD most broken rows of a side (broken by more than BROKEN per £1 of
        pool) not added before; whether any was."""
        flat = broken.reshape(-1)
        cand = np.nonzero(flat > BROKEN)[0]
        done = self.added.setdefault((i, side), set())
        most = ADD + len(done)
        if len(cand) > most:
            cand = cand[np.argpartition(-flat[cand], most - 1)[:most]]
        cand = cand[np.argsort(-flat[cand], kind="stable")]
        cand = [int(r) for r in cand if int(r) not in done][:ADD]
        t, g = self.terms[i], self.groups[self.terms[i].group]
        for r in cand:
            done.add(r)
            at = np.unravel_index(r, broken.shape)
            if side == "gain":
                coef = t.q[at] * g.gain[at]
                self._add(self.gain_col[i], coef / self.scale, float(t.need[at]) / self.scale,
                          gain=True)  # fmt: skip
            else:
                coef = t.r[at] * g.loss[at]
                self._add(self.loss_col[i], -coef / self.scale, -float(t.slack[at]) / self.scale)
        return bool(cand)

    def solve(self) -> highspy.HighsModelStatus:
        run_highs(self.h)
        return self.h.getModelStatus()

    def least(self, cost: np.ndarray, duals: np.ndarray) -> float:
        """The least of cost . z over the share ranges and every row, by weak duality with
        the rows' multipliers `duals` (>= 0): mu . b + sum_j min over [lo_j, hi_j] of the
        reduced cost times z_j."""
        mu = np.maximum(np.asarray(duals, dtype=float), 0.0)
        red = cost.copy()
        total = 0.0
        for (cols, vals, lower), m in zip(self.rows, mu, strict=True):
            if m > 0:
                red[cols] -= m * vals
                total += m * lower
        return total + float(np.minimum(red * self.lo, red * self.hi).sum())

    def duals(self) -> np.ndarray:
        return np.asarray(self.h.getSolution().row_dual, dtype=float)

    def short_by(self) -> tuple[float, bool]:
        """How far, at the least, the rows so far are from being met together (in shares): the
        programme min t with every row given t (share sums as much), bounded by weak duality;
        and whether that bound rests on gain rows and gain share sums alone."""
        n = len(self.cost)
        h = quiet_highs()
        h.addVars(n + 1, np.append(self.lo, 0.0), np.append(self.hi, highspy.kHighsInf))
        h.changeColCost(n, 1.0)
        for cols, vals, lower in self.rows:
            norm = float(np.abs(vals).max(initial=0.0)) or 1.0
            c = np.append(cols, n).astype(np.int32)
            h.addRow(lower / norm, highspy.kHighsInf, len(c), c, np.append(vals / norm, 1.0))
        run_highs(h)
        if h.getModelStatus() != highspy.HighsModelStatus.kOptimal:
            return 0.0, False
        mu = np.maximum(np.asarray(h.getSolution().row_dual, dtype=float), 0.0)
        mu /= max(1.0, float(mu.sum()) * (1 + 1e-12))  # t's reduced cost 1 - sum mu >= 0
        red = np.zeros(n)
        total = 0.0
        for (cols, vals, lower), m in zip(self.rows, mu, strict=True):
            if m > 0:
                norm = float(np.abs(vals).max(initial=0.0)) or 1.0
                red[cols] -= m * vals / norm
                total += m * lower / norm
        gain_only = not (mu[~np.asarray(self.gain_rows, dtype=bool)] > 0).any()
        return total + float(np.minimum(red * self.lo, red * self.hi).sum()), gain_only


def structure_bound(terms: list[Term], groups: list[Group], pool: float, scale: float = 1.0,
                    beat: float | None = None) -> Bound:  # fmt: skip
    """The most the commissioners can keep under a structure (pool: the expected pool), or
    that no agreement of it meets every provider's rows. With `beat`, it stops as soon as the
    bound is no more than that."""
    if _more_than_the_pool(terms, groups):
        return Bound(False, gain_only=True)
    prog = _Programme(terms, groups, scale)
    floors = sum(t.floor for t in terms if t.gain_cost is None)
    gains = [bool(np.isfinite(t.need).any()) for t in terms]  # terms with rows of each side
    losses = [bool(np.isfinite(t.slack).any()) for t in terms]
    value = np.inf
    rounds = 0
    for rounds in range(1, ROUNDS + 1):
        status = prog.solve()
        if status == highspy.HighsModelStatus.kInfeasible:
            short, gain_only = prog.short_by()
            if short > APART:
                return Bound(False, rows=len(prog.rows) - prog.sums, rounds=rounds,
                             gain_only=gain_only)  # fmt: skip
            break
        if status != highspy.HighsModelStatus.kOptimal:
            break
        least = prog.least(prog.cost, prog.duals()) * scale
        value = min(value, pool - floors - least)
        if beat is not None and value <= beat:
            break
        z = np.asarray(prog.h.getSolution().col_value, dtype=float)
        more = False
        for i, t in enumerate(terms):
            g = groups[t.group]
            with np.errstate(invalid="ignore"):  # no row (+-inf) where no pool (0): nan, met
                if gains[i]:
                    paid = t.q * _times(g.gain, z[prog.gain_col[i]])
                    more |= prog.add_worst(i, (t.need - paid) * g.inv, "gain")
                if losses[i]:
                    taken = t.r * _times(g.loss, z[prog.loss_col[i]])
                    more |= prog.add_worst(i, (taken - t.slack) * g.inv, "loss")
        if not more:
            break
    return Bound(True, value, len(prog.rows) - prog.sums, rounds)


def _times(portions: np.ndarray, shares: np.ndarray) -> np.ndarray:
    """(S, Y) portions (S, Y, K) times shares (K,): as one (S x Y, K) product (numpy runs a
    three-dimensional one as S small products, about ten times slower)."""
    S, Y, K = portions.shape
    return (portions.reshape(S * Y, K) @ shares).reshape(S, Y)


def _more_than_the_pool(terms: list[Term], groups: list[Group]) -> bool:
    """Whether, in some row, the providers need more than the pool holds: shares summing to at
    most 1 in every tier pay provider p at most its gateway factor q_p times its part of the
    pool, so sum_p need_p / q_p <= x is needed in every gain row (and a need where q_p x = 0
    can never be met). Checked with a margin of one part in 10^9 and a penny."""
    for gi, g in enumerate(groups):
        total = np.zeros(g.x.shape)
        for t in terms:
            if t.group != gi:
                continue
            row = t.need > 0
            if (row & (t.q * g.x <= 0)).any():
                return True  # a need with nothing to share in its row
            with np.errstate(divide="ignore", invalid="ignore"):
                total += np.where(row, t.need / np.where(row, t.q, 1.0), 0.0)
        if ((total > 0) & (total > g.x * (1 + 1e-9) + 0.01)).any():
            return True
    return False
