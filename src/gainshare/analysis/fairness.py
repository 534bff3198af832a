"""Fair reference splits of a cooperative game (SPEC section 4.6).

A game is given by its characteristic function: a mapping from frozensets of player ids to the
value the coalition can reach on its own. Every non-empty coalition must be present; the empty
one may be left out (its value is 0). Every function here is pure and returns a dict
player -> value, in the order of `players` when given, else sorted (or first-seen order when
the ids cannot be sorted).

- `shapley`: exact, by the weighted marginal contributions |S|!(n-|S|-1)!/n!.
- `nucleolus`: exact, by the sequence of linear programs of Maschler, Peleg and Shapley (1979)
  with Kohlberg's rank rule for stopping, solved with HiGHS; `models/nucleolus.md` writes it out.
- `proportional`, `equal_surplus`: simple splits to compare against.
- `core_is_empty`, `in_core`: whether any / a given allocation leaves no coalition better off
  on its own."""

from __future__ import annotations

import math
from collections.abc import Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from numbers import Real

import numpy as np

MAX_PLAYERS = 16  # 2**16 coalitions: beyond this the game itself is too large to write down
REL_TOL = 1e-9  # tolerance relative to the game's largest absolute value

Game = Mapping[frozenset, float]


@dataclass(frozen=True)
class _Game:
    """A validated game: players in order and values indexed by bitmask (bit i = players[i])."""

    players: list
    v: np.ndarray  # (2**n,), v[0] = 0

    @property
    def n(self) -> int:
        return len(self.players)

    @property
    def grand(self) -> int:
        return (1 << self.n) - 1

    @property
    def scale(self) -> float:
        return max(1.0, float(np.abs(self.v).max()))

    def stand_alone(self) -> np.ndarray:
        return np.array([self.v[1 << i] for i in range(self.n)])

    def out(self, x: Iterable[float]) -> dict:
        return {p: float(xi) for p, xi in zip(self.players, x, strict=True)}


def _order(players: Iterable[Hashable]) -> list:
    seen = list(dict.fromkeys(players))
    try:
        return sorted(seen)
    except TypeError:
        return seen


def _label(c: frozenset) -> str:
    return "{" + ", ".join(map(repr, _order(c))) + "}"


def _is_number(x) -> bool:
    return isinstance(x, Real) and not isinstance(x, bool) and math.isfinite(float(x))


def _game(v: Game, players: Sequence[Hashable] | None = None) -> _Game:
    """Check a characteristic function and index it by bitmask; ValueError on bad input."""
    if not isinstance(v, Mapping) or not v:
        raise ValueError("the game must be a non-empty dict from frozensets of players to values")
    for key, val in v.items():
        if not isinstance(key, frozenset):
            raise ValueError(
                f"coalition {key!r} is a {type(key).__name__}, not a frozenset: write each "
                "coalition as frozenset({...})"
            )
        if not _is_number(val):
            raise ValueError(f"v({_label(key)}) = {val!r} is not a finite number: give a number")
    found = set().union(*v.keys())
    order = _order(found) if players is None else list(players)
    if players is not None and (set(order) != found or len(set(order)) != len(order)):
        raise ValueError(
            f"players {order!r} do not match the players in the coalitions "
            f"{_order(found)!r}: list each player once"
        )
    n = len(order)
    if n == 0:
        raise ValueError("the game has no players: give values of non-empty coalitions")
    if n > MAX_PLAYERS:
        raise ValueError(f"{n} players is beyond the limit of {MAX_PLAYERS}: use fewer players")
    if float(v.get(frozenset(), 0.0)) != 0.0:
        raise ValueError("v(frozenset()) must be 0: the empty coalition is worth nothing")
    index = {p: i for i, p in enumerate(order)}
    vals = np.full(1 << n, np.nan)
    vals[0] = 0.0
    for key, val in v.items():
        vals[sum(1 << index[p] for p in key)] = float(val)
    missing = np.flatnonzero(np.isnan(vals))
    if missing.size:
        shown = [_label(frozenset(order[i] for i in range(n) if m >> i & 1)) for m in missing[:5]]
        more = f" and {missing.size - 5} more" if missing.size > 5 else ""
        raise ValueError(
            f"{missing.size} of the {(1 << n) - 1} coalitions are missing: "
            f"{', '.join(shown)}{more}: give a value for every non-empty coalition"
        )
    return _Game(players=order, v=vals)


def _membership(n: int) -> np.ndarray:
    """(2**n, n) 0/1 matrix: row m says which players are in coalition m."""
    masks = np.arange(1 << n)
    return ((masks[:, None] >> np.arange(n)[None, :]) & 1).astype(float)


# ---------------------------------------------------------------- Shapley


def shapley(v: Game, players: Sequence[Hashable] | None = None) -> dict:
    """Shapley value: each player's marginal contribution averaged over all orders of arrival."""
    g = _game(v, players)
    n = g.n
    masks = np.arange(1 << n)
    size = _membership(n).sum(axis=1).astype(int)
    fact = [math.factorial(k) for k in range(n + 1)]
    weight = np.array([fact[k] * fact[n - k - 1] / fact[n] for k in range(n)])
    phi = []
    for i in range(n):
        bit = 1 << i
        has = masks[(masks & bit) != 0]
        phi.append(math.fsum(weight[size[has] - 1] * (g.v[has] - g.v[has ^ bit])))
    return g.out(phi)


# ---------------------------------------------------------------- linear programs


def _solve_lp(c, a_rows, lo, hi, col_lo, col_hi):
    """min c.x s.t. lo <= A x <= hi, col_lo <= x <= col_hi with HiGHS; (x, row_dual) or None
    when infeasible. Any other status than optimal or infeasible is a fault."""
    import highspy

    fix = lambda a: np.clip(np.asarray(a, dtype=float), -highspy.kHighsInf, highspy.kHighsInf)  # noqa: E731
    from gainshare.optimise.highs import quiet_highs, run

    h = quiet_highs()
    lp = highspy.HighsLp()
    lp.num_col_, lp.num_row_ = a_rows.shape[1], a_rows.shape[0]
    lp.col_cost_ = np.asarray(c, dtype=float)
    lp.col_lower_, lp.col_upper_ = fix(col_lo), fix(col_hi)
    lp.row_lower_, lp.row_upper_ = fix(lo), fix(hi)
    rows, cols = np.nonzero(a_rows)
    lp.a_matrix_.format_ = highspy.MatrixFormat.kRowwise
    lp.a_matrix_.start_ = np.concatenate([[0], np.cumsum(np.bincount(rows, minlength=len(lo)))])
    lp.a_matrix_.index_ = cols.astype(np.int32)
    lp.a_matrix_.value_ = a_rows[rows, cols]
    h.passModel(lp)
    run(h)
    status = h.getModelStatus()
    if status == highspy.HighsModelStatus.kInfeasible:
        return None
    if status != highspy.HighsModelStatus.kOptimal:
        raise RuntimeError(f"HiGHS stopped with status '{h.modelStatusToString(status)}'")
    sol = h.getSolution()
    return np.asarray(sol.col_value), np.asarray(sol.row_dual)


# ---------------------------------------------------------------- nucleolus


def _in_span(basis_rows: np.ndarray, vectors: np.ndarray, tol: float = 1e-9) -> np.ndarray:
    """Which rows of `vectors` lie in the linear span of `basis_rows`."""
    u, s, vt = np.linalg.svd(basis_rows, full_matrices=False)
    q = vt[s > tol * max(1.0, s.max(initial=0.0))]
    resid = vectors - (vectors @ q.T) @ q
    return np.linalg.norm(resid, axis=1) <= tol * np.sqrt(vectors.shape[1])


def _nucleolus_stage(g: _Game, a: np.ndarray, vs: np.ndarray, free, fixed, level):
    """Stage LP: max t s.t. x(S) - v(S) >= t (S free), x(S) - v(S) = level[S] (S fixed),
    x(N) = v(N), x_i >= v({i}). Variables (x, t); values scaled to |v| <= 1."""
    n = g.n
    grand = np.ones((1, n + 1))
    grand[0, n] = 0.0
    fr = np.hstack([a[free], -np.ones((len(free), 1))])
    fx = np.hstack([a[fixed], np.zeros((len(fixed), 1))])
    rows = np.vstack([grand, fx, fr])
    eq = np.concatenate([[vs[g.grand]], vs[fixed] + level[fixed]])
    lo = np.concatenate([eq, vs[free]])
    hi = np.concatenate([eq, np.full(len(free), np.inf)])
    col_lo = np.concatenate([g.stand_alone() / g.scale, [-np.inf]])
    col_hi = np.full(n + 1, np.inf)
    cost = np.zeros(n + 1)
    cost[n] = -1.0
    res = _solve_lp(cost, rows, lo, hi, col_lo, col_hi)
    if res is None:
        raise RuntimeError("a nucleolus stage LP is infeasible although the previous one was not")
    xt, dual = res
    return xt[:n], xt[n], np.abs(dual[1 + len(fixed) :])


def nucleolus(v: Game, players: Sequence[Hashable] | None = None) -> dict:
    """The nucleolus: the imputation that lexicographically minimises the largest excesses
    v(S) - x(S), by the sequence of LPs in `models/nucleolus.md`. ValueError when the game has
    no imputation (stand-alone values add up to more than v(N))."""
    g = _game(v, players)
    n, scale = g.n, g.scale
    sa = g.stand_alone()
    if sa.sum() > g.v[g.grand] + REL_TOL * scale:
        raise ValueError(
            f"the game has no imputation: stand-alone values add up to {sa.sum():.6g}, more "
            f"than v(N) = {g.v[g.grand]:.6g}, so the nucleolus is not defined"
        )
    if n == 1:
        return g.out([g.v[g.grand]])
    a = _membership(n)
    vs = g.v / scale
    level = np.zeros(1 << n)  # satisfaction x(S) - v(S) at which coalition S is fixed
    fixed: list[int] = []
    free = list(range(1, g.grand))
    x = sa / scale
    for _ in range(n + 1):
        x, t, dual = _nucleolus_stage(g, a, vs, free, fixed, level)
        slack = a[free] @ x - vs[free] - t
        tight = (dual > 1e-9) & (np.abs(slack) <= 1e-7)
        new = [s for s, k in zip(free, tight, strict=True) if k] or [free[int(np.argmax(dual))]]
        level[new] = t
        fixed += new
        basis = np.vstack([np.ones((1, n)), a[fixed]])
        keep = ~_in_span(basis, a[free])
        free = [s for s, k in zip(free, keep, strict=True) if k]
        if not free or np.linalg.matrix_rank(basis) == n:
            break
    basis = np.vstack([np.ones((1, n)), a[fixed]])
    rhs = np.concatenate([[vs[g.grand]], vs[fixed] + level[fixed]])
    if np.linalg.matrix_rank(basis) == n:
        x = np.linalg.lstsq(basis, rhs, rcond=None)[0]
    return g.out(x * scale)


# ---------------------------------------------------------------- simple splits and the core


def proportional_basis(v: Game, players: Sequence[Hashable] | None = None) -> str:
    """Which basis `proportional` uses: 'stand_alone' when every stand-alone value is >= 0 and
    some is > 0; else 'marginal' (v(N) - v(N minus i), floored at 0) when some is > 0; else
    'equal'."""
    g = _game(v, players)
    return _basis(g)[0]


def _basis(g: _Game) -> tuple[str, np.ndarray]:
    tol = REL_TOL * g.scale
    sa = g.stand_alone()
    if (sa >= -tol).all() and sa.sum() > tol:
        return "stand_alone", np.maximum(sa, 0.0)
    marg = np.maximum([g.v[g.grand] - g.v[g.grand ^ (1 << i)] for i in range(g.n)], 0.0)
    if marg.sum() > tol:
        return "marginal", marg
    return "equal", np.ones(g.n)


def proportional(v: Game, players: Sequence[Hashable] | None = None) -> dict:
    """v(N) split in proportion to each player's stand-alone value, or to its marginal
    contribution v(N) - v(N minus i) when the stand-alone values are all zero (see
    `proportional_basis`)."""
    g = _game(v, players)
    _, w = _basis(g)
    return g.out(g.v[g.grand] * w / w.sum())


def equal_surplus(v: Game, players: Sequence[Hashable] | None = None) -> dict:
    """Each player's stand-alone value plus an equal part of the surplus v(N) - sum v({j})."""
    g = _game(v, players)
    sa = g.stand_alone()
    return g.out(sa + (g.v[g.grand] - sa.sum()) / g.n)


def _core_rows(g: _Game) -> tuple[np.ndarray, np.ndarray]:
    coalitions = np.arange(1, g.grand)
    return _membership(g.n)[coalitions], g.v[coalitions]


def core_is_empty(v: Game, players: Sequence[Hashable] | None = None) -> bool:
    """Whether no allocation of v(N) gives every coalition at least its own value:
    min sum x s.t. x(S) >= v(S) for every S; empty iff that minimum exceeds v(N)."""
    g = _game(v, players)
    if g.n == 1:
        return False
    a, vals = _core_rows(g)
    s = g.scale
    res = _solve_lp(
        np.ones(g.n), a, vals / s, np.full(len(vals), np.inf),
        np.full(g.n, -np.inf), np.full(g.n, np.inf),
    )  # fmt: skip
    assert res is not None  # x large enough is always feasible
    return bool(res[0].sum() > g.v[g.grand] / s + REL_TOL * g.n)


def in_core(
    v: Game, x: Mapping[Hashable, float], players: Sequence[Hashable] | None = None,
    tol: float | None = None,
) -> bool:  # fmt: skip
    """Whether allocation `x` splits v(N) exactly and gives every coalition at least v(S)
    (within `tol`, default 1e-9 of the game's largest value)."""
    g = _game(v, players)
    if set(x) != set(g.players):
        raise ValueError(f"the allocation must give a value to exactly the players {g.players!r}")
    tol = REL_TOL * g.scale if tol is None else tol
    xv = np.array([float(x[p]) for p in g.players])
    a, vals = _core_rows(g)
    return bool(abs(xv.sum() - g.v[g.grand]) <= tol and (a @ xv >= vals - tol).all())
