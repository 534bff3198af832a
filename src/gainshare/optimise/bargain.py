"""Agreements a room can sign from fair splits and bargaining points (models/bargaining.md).

The space: shares of the gain and loss tiers the case states (one tier each when it leaves
tiers open), its corridor as stated (none when open), its quality gateway as stated, no caps or
collars, shares of any value (continuous, not rounded to steps), the same terms every year
unless the case asks for a glide path. Without caps and collars every party's net position is
linear in the shares x:

    N[s, y, i] = const[s, y, i] + coef[s, y, i, :] @ x

so expected positions by year, robust and CVaR keep-whole rows, the commissioners' floors and
the share rules are all linear, and each fair split or bargaining point is a linear programme
(Nash: a few, adding tangent cuts of log). HiGHS solves them through highspy. Every answer is
settled by `check`: its expected nets by year must equal the LP's to the penny and it must
meet every requirement of the case (`failures`), or it is not returned."""

from __future__ import annotations

import copy
import math
from dataclasses import dataclass, field
from functools import cached_property

import highspy
import numpy as np

from gainshare.economics.model import Economics, compute
from gainshare.economics.scenarios import ScenarioSet, sample
from gainshare.optimise.data import edge_array
from gainshare.optimise.highs import Status, quiet_highs, run
from gainshare.optimise.rows import prune_implied
from gainshare.optimise.search import share_range, structure_arrays
from gainshare.optimise.space import Space, Structure
from gainshare.schema.agreement import Agreement, Corridor, Terms, Tier, YearOverride
from gainshare.schema.case import Case
from gainshare.settle.check import CheckResult, check, expect
from gainshare.settle.engine import tier_portions
from gainshare.settle.requirements import failures
from gainshare.units import money

INF = highspy.kHighsInf
PENNY = 0.01  # an answer's LP and settled expected nets agree to this (pounds)
DUAL_TOL = 1e-9  # a row whose dual exceeds this binds
GRID_RATIO = 1.05  # Nash: tangent cuts of log at ideal / r^j ...
GRID_SPAN = 1e4  # ... from the ideal down to ideal / GRID_SPAN
NASH_GAP = 1e-7  # Nash: cuts are added at the answer until the log-product is proven this close
NASH_ROUNDS = 30
BETA = 0.9  # risk-aware positions: expected net in the worst 1 - BETA of scenarios
BARGAINING_RULES = ("nash", "kalai_smorodinsky", "egalitarian")
ROW_FAMILIES = (  # every family of rows, each under its name in models/bargaining.md
    "share_sum", "symmetric_shares", "keep_whole", "cvar_excess", "cvar_floor", "cvar_limit",
    "commissioners_floor", "commissioners_worst", "margin_floor", "fair_difference",
    "largest_difference", "distance_held", "position", "tail_excess", "nash_tangent", "level",
)  # fmt: skip


class NoAgreement(Exception):  # noqa: N818 - an outcome, said in words
    """No agreement of the space for this point: the message says why, in one line."""


class Refused(NoAgreement):
    """The case asks for something these linear programmes do not model."""


def tangent_error(r: float = GRID_RATIO) -> float:
    """The most the lower envelope of tangents of log at a geometric grid of ratio r exceeds
    log between two breakpoints: at the tangents' crossing u = b r ln r / (r - 1)."""
    c = r * math.log(r) / (r - 1.0)
    return c - 1.0 - math.log(c)


def lower_tail_mean(values: np.ndarray, weights: np.ndarray, beta: float) -> np.ndarray:
    """Expected value over the worst 1 - beta of probability of each column of values (S, ...):
    the risk-aware position (the negative of CVaR of -values)."""
    alpha = 1.0 - beta
    order = np.argsort(values, axis=0, kind="stable")
    v = np.take_along_axis(values, order, axis=0)
    w = weights[order]
    before = np.cumsum(w, axis=0) - w
    take = np.clip(alpha - before, 0.0, w)
    return (v * take).sum(axis=0) / alpha


# ------------------------------------------------------------------ the space


@dataclass(frozen=True)
class Column:
    """One share the LP decides: a party's share of one tier of gains or losses."""

    side: str  # gain | loss
    tier: int
    party: int  # index in the case's parties
    term: int  # 0, or the 0-based year with a glide path


@dataclass(frozen=True)
class ShareSpace:
    """Every party's net position as a linear function of the shares (pounds)."""

    case: Case
    econ: Economics
    structure: Structure
    columns: tuple[Column, ...]
    const: np.ndarray  # (S, Y, P) net with every share at zero
    coef: np.ndarray  # (S, Y, P, J) change of net per unit of each share
    transfer: np.ndarray  # (S, Y, J) change of the receiving party's transfer per unit share
    col_lo: np.ndarray  # (J,)
    col_hi: np.ndarray  # (J,)
    share_sum: dict  # side -> (least, most) of the takers' shares of each tier
    commissioner_weights: dict  # commissioner id -> its part of what takers leave of a tier
    scale: float  # pounds per unit of money in the LPs

    @property
    def weights(self) -> np.ndarray:
        return self.econ.weights

    @property
    def shape(self) -> tuple[int, int, int, int]:
        return self.coef.shape  # type: ignore[return-value]

    @cached_property
    def exp_const(self) -> np.ndarray:
        """(Y, P) expected net by year at zero shares."""
        return expect(self.weights, self.const)

    @cached_property
    def exp_coef(self) -> np.ndarray:
        """(Y, P, J) expected net by year per unit of each share."""
        return expect(self.weights, self.coef)

    def expected_net(self, x: np.ndarray) -> np.ndarray:
        """(Y, P) expected net by year of shares x."""
        return self.exp_const + self.exp_coef @ x

    @cached_property
    def written(self) -> dict:
        """Programmes already written for this space (`base_lp`), by what they hold."""
        return {}

    @cached_property
    def system_savings_by_year(self) -> np.ndarray:
        """(Y,) expected system savings by year: what the parties' expected nets add up to."""
        return self.exp_const.sum(axis=1)


def share_space(case: Case, scenarios: ScenarioSet | None = None,
                econ: Economics | None = None) -> ShareSpace:  # fmt: skip
    """The linear space of the case's scenarios (the case's own figures, not its levers)."""
    if case.requirements.aggregate_limits is not None:
        raise Refused("the case's limits over the whole agreement cut each year's transfer to "
                      "what the years before leave, so positions are not linear in the "
                      "shares: fair agreements are not drawn under them yet (the fair payoffs "
                      "above still hold)")  # fmt: skip
    if case.requirements.group_limits:
        raise Refused("the case's group limits scale their members' transfers pro rata, so "
                      "positions are not linear in the shares: fair agreements are not drawn "
                      "under group limits yet (the fair payoffs above still hold)")  # fmt: skip
    sc = scenarios if scenarios is not None else sample(case)
    e = econ if econ is not None else compute(case, sc)
    space = Space(case, sc, _econs={0: e})
    req = case.requirements
    st = Structure(0, req.corridor or Corridor(), tuple(sorted(req.gateway.items())),
                   tuple(req.gain_edges or ()), tuple(req.loss_edges or ()))  # fmt: skip
    arr = structure_arrays(space, st)
    spend = e.total_exp_spend
    gain = tier_portions(np.maximum(arr.x, 0.0), edge_array(st.gain_edges, spend))
    loss = tier_portions(np.maximum(-arr.x, 0.0), edge_array(st.loss_edges, spend))
    columns, transfer = _columns(case, e, gain, loss, space.quality(st), space.loss_rate(st))
    own = np.zeros((len(e.party_ids), len(columns)))
    own[[c.party for c in columns], np.arange(len(columns))] = 1.0
    coef = transfer[:, :, None, :] * (own[None, None] - arr.split[..., None])
    const = arr.base + arr.split * e.pool[:, :, None]
    lo, hi = _bounds(space, columns)
    cw = _commissioner_weights(case, e, arr.split)
    sums = {side: _sum_range(space, cw, side) for side in ("gain", "loss")}
    return ShareSpace(case, e, st, columns, const, coef, transfer, lo, hi, sums, cw,
                      _scale(const, transfer))  # fmt: skip


def _columns(case: Case, e: Economics, gain, loss, q, rate
             ) -> tuple[tuple[Column, ...], np.ndarray]:  # fmt: skip
    """The share columns (terms x side x tier x taker) and each one's transfer (S, Y, J): a
    gain share times the gateway factor `q`, a loss share times the loss rate `rate`."""
    Y = gain.shape[1]
    terms = Y if case.requirements.glide_path else 1
    takers = [int(p) for p in np.flatnonzero(e.takes_share)]
    if not takers:
        raise Refused("no party takes a share of the pool, so there are no shares to choose")
    cols, out = [], []
    for t in range(terms):
        years = np.ones(Y) if terms == 1 else (np.arange(Y) == t).astype(float)
        for side, portions in (("gain", gain), ("loss", loss)):
            for k in range(portions.shape[2]):
                for p in takers:
                    sign = q[:, :, p] if side == "gain" else -rate[:, :, p]
                    cols.append(Column(side, k, p, t))
                    out.append(portions[:, :, k] * sign * years[None, :])
    return tuple(cols), np.stack(out, axis=-1)


def _bounds(space: Space, columns) -> tuple[np.ndarray, np.ndarray]:
    ids = space.case.party_ids
    pairs = [share_range(space, ids[c.party], c.side) for c in columns]
    return np.array([p[0] for p in pairs]), np.array([p[1] for p in pairs])


def _commissioner_weights(case: Case, e: Economics, split: np.ndarray) -> dict[str, float]:
    """Each commissioner's part of what the takers leave of a tier (as the designer writes
    it): the agreed split, else the commissioners' first-year expected spend."""
    only = [j for j, pid in enumerate(case.party_ids)
            if e.is_commissioner[j] and not e.takes_share[j]]  # fmt: skip
    if not only:
        return {}
    fixed = case.requirements.commissioner_split
    ids = case.party_ids
    w = {ids[j]: (fixed or {}).get(ids[j], 0.0) if fixed is not None
         else float(np.mean(split[:, 0, j])) for j in only}  # fmt: skip
    total = sum(w.values())
    return {k: v / total for k, v in w.items()} if total > 0 else {k: 1 / len(w) for k in w}


def _sum_range(space: Space, cw: dict[str, float], side: str) -> tuple[float, float]:
    """Least and most the takers' shares of a tier may add up to: at most 100% (exactly 100%
    with no commissioner to take the rest), and each commissioner's part of the rest within its
    own share bounds."""
    if not cw:
        return 1.0, 1.0
    lo, hi = 0.0, 1.0
    for pid, w in cw.items():
        a, b = share_range(space, pid, side)
        if w <= 0:
            lo = max(lo, 2.0 if a > 0 else lo)  # it gets nothing, so a minimum cannot be met
            continue
        lo, hi = max(lo, 1.0 - b / w), min(hi, 1.0 - a / w)
    return lo, hi


def _scale(const: np.ndarray, transfer: np.ndarray) -> float:
    """A power of ten that puts the money of the LPs between about 1 and 1,000."""
    big = max(float(np.abs(const).max(initial=0.0)), float(np.abs(transfer).max(initial=0.0)))
    return 10.0 ** max(math.floor(math.log10(max(big, 1.0))) - 2, 0)


# ------------------------------------------------------------------ writing a linear programme


@dataclass
class _Lp:
    """A linear programme being written: columns (bounds, costs) and rows as triplets; each
    family of rows is remembered by name, e.g. ('keep_whole', party, year)."""

    lo: list = field(default_factory=list)
    hi: list = field(default_factory=list)
    cost: list = field(default_factory=list)
    n: int = 0
    r: list = field(default_factory=list)
    c: list = field(default_factory=list)
    v: list = field(default_factory=list)
    rlo: list = field(default_factory=list)
    rhi: list = field(default_factory=list)
    m: int = 0
    families: dict = field(default_factory=dict)

    def copy(self) -> _Lp:
        out = copy.copy(self)
        for name in ("lo", "hi", "cost", "r", "c", "v", "rlo", "rhi"):
            setattr(out, name, list(getattr(self, name)))
        out.families = dict(self.families)
        return out

    def cols(self, n: int, lo=0.0, hi=INF, cost=0.0) -> np.ndarray:
        for lst, val in ((self.lo, lo), (self.hi, hi), (self.cost, cost)):
            lst.append(np.broadcast_to(np.asarray(val, dtype=float), (n,)).copy())
        self.n += n
        return np.arange(self.n - n, self.n)

    def rows(self, m: int, parts, lo, hi, family=None) -> np.ndarray:
        """m rows lo <= sum over parts of a @ x[cols] <= hi; each part (a, cols) with a of
        shape (m, k) and cols (k,) or (m, k)."""
        ids = np.arange(self.m, self.m + m)
        for a, cols in parts:
            a = np.asarray(a, dtype=float).reshape(m, -1)
            cols = np.broadcast_to(np.asarray(cols), a.shape)
            nz = a != 0
            self.r.append(np.broadcast_to(ids[:, None], a.shape)[nz])
            self.c.append(cols[nz])
            self.v.append(a[nz])
        self.rlo.append(np.broadcast_to(np.asarray(lo, dtype=float), (m,)).copy())
        self.rhi.append(np.broadcast_to(np.asarray(hi, dtype=float), (m,)).copy())
        self.m += m
        if family is not None:
            self.families[family] = ids
        return ids


def _cat(parts: list, dtype=float) -> np.ndarray:
    return np.concatenate(parts).astype(dtype) if parts else np.zeros(0, dtype=dtype)


def _highs(lp: _Lp) -> highspy.Highs:
    """A HiGHS instance holding the programme (minimisation)."""
    clip = lambda a: np.clip(a, -INF, INF)  # noqa: E731
    rows, cols, vals = _cat(lp.r, np.int64), _cat(lp.c, np.int32), _cat(lp.v)
    order = np.argsort(rows, kind="stable")
    model = highspy.HighsLp()
    model.num_col_, model.num_row_ = lp.n, lp.m
    model.col_cost_ = _cat(lp.cost)
    model.col_lower_, model.col_upper_ = clip(_cat(lp.lo)), clip(_cat(lp.hi))
    model.row_lower_, model.row_upper_ = clip(_cat(lp.rlo)), clip(_cat(lp.rhi))
    model.a_matrix_.format_ = highspy.MatrixFormat.kRowwise
    model.a_matrix_.start_ = np.concatenate([[0], np.cumsum(np.bincount(rows, minlength=lp.m))])
    model.a_matrix_.index_ = cols[order]
    model.a_matrix_.value_ = vals[order]
    h = quiet_highs()
    h.passModel(model)
    return h


def _solve(h: highspy.Highs) -> bool:
    """Run HiGHS: True at an optimum, False when infeasible; any other end is a fault."""
    run(h)
    status = h.getModelStatus()
    if status == Status.kOptimal:
        return True
    if status in (Status.kInfeasible, Status.kUnboundedOrInfeasible):
        return False
    raise RuntimeError(f"HiGHS stopped with status '{h.modelStatusToString(status)}'")


def _add_rows(h: highspy.Highs, a: np.ndarray, cols: np.ndarray, lo, hi) -> None:
    """Add dense rows a (m, k) over columns cols (k,) to a HiGHS instance."""
    m, k = a.shape
    h.addRows(m, np.broadcast_to(np.asarray(lo, float), (m,)).copy(),
              np.broadcast_to(np.asarray(hi, float), (m,)).copy(), m * k,
              np.arange(0, m * k, k, dtype=np.int32), np.tile(cols.astype(np.int32), m),
              a.ravel().astype(float))  # fmt: skip


@dataclass(frozen=True)
class _Solution:
    col: np.ndarray
    row_dual: np.ndarray
    objective: float


def _read(h: highspy.Highs) -> _Solution:
    sol = h.getSolution()
    return _Solution(np.asarray(sol.col_value), np.asarray(sol.row_dual),
                     float(h.getInfo().objective_function_value))  # fmt: skip


# ------------------------------------------------------------------ the requirements


def base_lp(space: ShareSpace, requirements: bool = True) -> tuple[_Lp, np.ndarray]:
    """The shares (columns 0..J-1) and every requirement of the case as rows; `requirements`
    False keeps only the share rules (what the space alone allows). Written once per space;
    each caller gets its own copy to add to."""
    if requirements not in space.written:
        space.written[requirements] = _write_base(space, requirements)
    lp, x = space.written[requirements]
    return lp.copy(), x


def _write_base(space: ShareSpace, requirements: bool) -> tuple[_Lp, np.ndarray]:
    lp = _Lp()
    x = lp.cols(space.shape[3], space.col_lo, space.col_hi)
    add_share_sum(lp, space, x)
    add_symmetric(lp, space, x)
    if requirements:
        add_keep_whole(lp, space, x)
        add_commissioners_floor(lp, space, x)
        add_commissioners_worst_year(lp, space, x)
        add_margin_floor(lp, space, x)
    return lp, x


def add_share_sum(lp: _Lp, space: ShareSpace, x: np.ndarray) -> None:
    """`share_sum`: each tier's shares over every party sum to 100%, the commissioners taking
    the rest within their own bounds."""
    groups: dict[tuple, list[int]] = {}
    for j, c in enumerate(space.columns):
        groups.setdefault((c.side, c.tier, c.term), []).append(j)
    for (side, k, t), js in groups.items():
        lo, hi = space.share_sum[side]
        lp.rows(1, [(np.ones(len(js)), x[js])], lo, hi, ("share_sum", side, k, t))


def add_symmetric(lp: _Lp, space: ShareSpace, x: np.ndarray) -> None:
    """`symmetric_shares`: loss shares equal gain shares when the case asks."""
    if not space.case.requirements.symmetric:
        return
    index = {c: j for j, c in enumerate(space.columns)}
    for j, c in enumerate(space.columns):
        twin = index.get(Column("loss", c.tier, c.party, c.term)) if c.side == "gain" else None
        if twin is not None:
            lp.rows(1, [(np.array([1.0, -1.0]), x[[j, twin]])], 0.0, 0.0,
                    ("symmetric_shares", j))  # fmt: skip


def add_keep_whole(lp: _Lp, space: ShareSpace, x: np.ndarray, elastic: bool = False) -> dict:
    """`keep_whole`: robust rows per party and year from its `from_year`; CVaR rows
    (Rockafellar-Uryasev) for a party kept whole in expectation over its worst tail. With
    `elastic`, each party's rows share a slack column (pounds / scale it would have to accept):
    returned as {party index: column}."""
    case = space.case
    slack = {}
    for i, pid in enumerate(case.party_ids):
        kw = case.keep_whole_for(pid)
        if kw.mode == "chance":
            raise Refused(f"{case.party(pid).name} is kept whole by chance (in at least "
                          f"{100 * kw.beta:g}% of scenarios), which needs a mixed-integer "
                          "model: these agreements need robust or CVaR keep-whole")  # fmt: skip
        if kw.mode in ("robust", "cvar") and elastic:
            slack[i] = int(lp.cols(1)[0])
        if kw.mode == "robust":
            for y in range(kw.from_year - 1, space.shape[1]):
                _floor_rows(lp, space, x, i, y, kw.line(), ("keep_whole", i, y), slack.get(i))
        elif kw.mode == "cvar":
            _cvar_rows(lp, space, x, i, kw, slack.get(i))
    return slack


def _floor_rows(lp: _Lp, space: ShareSpace, x, i: int, y: int, line: float, family,
                slack: int | None = None) -> None:  # fmt: skip
    """Party i's net in year y at least `line` in every scenario; rows no share can move are
    tested here (a shortfall there has nothing to share: no agreement of the space helps)."""
    a, b = space.coef[:, y, i, :], line - space.const[:, y, i]
    moving = (a != 0).any(axis=1)
    short = ~moving & (b > PENNY / 2)
    if short.any():
        s = int(np.flatnonzero(short)[0])
        name = space.case.party(space.case.party_ids[i]).name
        raise NoAgreement(
            f"{name} is short by {money(b[s], space.case.currency)} in year {y + 1} of a "
            "scenario with nothing to share (inside the corridor): no shares can keep it whole"
        )
    a, b = _essential(a[moving], b[moving])
    parts = [(a / space.scale, x)] + ([(np.ones((len(b), 1)), slack)] if slack is not None
                                      else [])  # fmt: skip
    lp.rows(len(b), parts, b / space.scale, INF, family)


def _essential(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The rows of a x >= b (x >= 0) that no other row implies: of the rows on one share
    only, the most demanding for each share and sign; of the others, those
    `prune_implied` keeps (the feasible set is exactly the same)."""
    nz = a != 0
    one = nz.sum(axis=1) == 1
    keep = list(np.flatnonzero(~one)[prune_implied(a[~one], b[~one])]) if (~one).any() else []
    if one.any():
        rows = np.flatnonzero(one)
        col = nz[rows].argmax(axis=1)
        coef = a[rows, col]
        bound = b[rows] / coef  # x_col >= bound (coef > 0) or x_col <= bound (coef < 0)
        for c in np.unique(col):
            for up in (True, False):
                mine = np.flatnonzero((col == c) & ((coef > 0) == up))
                if len(mine):
                    k = mine[np.argmax(bound[mine])] if up else mine[np.argmin(bound[mine])]
                    keep.append(int(rows[k]))
    keep = np.array(sorted(set(keep)), dtype=np.int64)
    return a[keep], b[keep]


def _cvar_rows(lp: _Lp, space: ShareSpace, x, i: int, kw, slack: int | None = None) -> None:
    """`cvar_excess`, `cvar_floor`, `cvar_limit`: eta + 1/(1-beta) sum_s w_s e_s <=
    tolerance, with e_s >= -N[s, y, i] - eta (years from `from_year`), e_s >= -eta, e_s >= 0."""
    S, Y = space.shape[:2]
    eta = lp.cols(1, -INF, INF)
    e = lp.cols(S)
    sig = space.scale
    for y in range(kw.from_year - 1, Y):
        lp.rows(S, [(space.coef[:, y, i, :] / sig, x), (np.ones((S, 1)), e[:, None]),
                    (np.ones((S, 1)), eta)], -space.const[:, y, i] / sig, INF,
                ("cvar_excess", i, y))  # fmt: skip
    lp.rows(S, [(np.ones((S, 1)), e[:, None]), (np.ones((S, 1)), eta)], 0.0, INF,
            ("cvar_floor", i))  # fmt: skip
    w = space.weights / (1.0 - kw.beta)
    a, cols = np.concatenate([[1.0], w]), np.concatenate([eta, e])
    if slack is not None:
        a, cols = np.append(a, -1.0), np.append(cols, slack)
    lp.rows(1, [(a, cols)], -INF, kw.tolerance / sig, ("cvar_limit", i))


def add_commissioners_floor(lp: _Lp, space: ShareSpace, x: np.ndarray) -> None:
    """`commissioners_floor`: the commissioners' expected retained savings at least the case's
    minimum: E[sum G] - sum_j x_j E[sum_y transfer_j] >= minimum."""
    least = space.case.requirements.commissioners_min_expected
    if least is None:
        return
    w, sig = space.weights, space.scale
    pool = float(expect(w, space.econ.pool.sum(axis=1)))
    a = -expect(w, space.transfer.sum(axis=1))
    lp.rows(1, [(a / sig, x)], (least - pool) / sig, INF, ("commissioners_floor",))


def add_commissioners_worst_year(lp: _Lp, space: ShareSpace, x: np.ndarray) -> None:
    """`commissioners_worst_year`: the retained amount G - sum_j x_j transfer_j at least the
    case's floor in every scenario and year."""
    least = space.case.requirements.commissioners_worst_year
    if least is None:
        return
    S, Y, _, J = space.shape
    a = -space.transfer.reshape(S * Y, J)
    b = least - space.econ.pool.reshape(S * Y)
    moving = (a != 0).any(axis=1)
    if (~moving & (b > PENNY / 2)).any():
        raise NoAgreement("the commissioners' worst year is below the case's floor in a "
                          "scenario with nothing to share")  # fmt: skip
    a, b = _essential(a[moving], b[moving])
    lp.rows(len(b), [(a / space.scale, x)], b / space.scale, INF, ("commissioners_worst",))


def add_margin_floor(lp: _Lp, space: ShareSpace, x: np.ndarray) -> None:
    """`margin_floor`: every provider's net at least the case's worst margin everywhere."""
    least = space.case.requirements.worst_margin_min
    if least is None:
        return
    for i in np.flatnonzero(space.econ.is_provider):
        for y in range(space.shape[1]):
            _floor_rows(lp, space, x, int(i), y, least, ("margin_floor", int(i), y))


def infeasible(space: ShareSpace) -> str | None:
    """None when some agreement of the space meets every requirement, else why not."""
    lp, _ = base_lp(space)
    return None if _solve(_highs(lp)) else why_infeasible(space)


def why_infeasible(space: ShareSpace) -> str:
    """Why no agreement of the space meets every requirement, in words: how much worse off
    each party would have to accept being (the least total, an elastic programme with one
    slack a party on its keep-whole rows)."""
    lp = _Lp()
    x = lp.cols(space.shape[3], space.col_lo, space.col_hi)
    add_share_sum(lp, space, x)
    add_symmetric(lp, space, x)
    slack = add_keep_whole(lp, space, x, elastic=True)
    add_commissioners_floor(lp, space, x)
    add_commissioners_worst_year(lp, space, x)
    add_margin_floor(lp, space, x)
    cost = np.zeros(lp.n)
    cost[list(slack.values())] = 1.0
    lp.cost = [cost]
    h = _highs(lp)
    lead = "no agreement with shares alone (no caps or collars) meets every requirement"
    if not _solve(h):
        return (f"{lead}: the share rules, the commissioners' floors or the worst margin cannot "
                "all be met even with no one kept whole")  # fmt: skip
    col = _read(h).col
    case, cur = space.case, space.case.currency
    parts = []
    for i, c in slack.items():
        need = float(col[c]) * space.scale
        if need > PENNY:
            pid = case.party_ids[i]
            what = "in its worst year" if case.keep_whole_for(pid).mode == "robust" else (
                "in expected shortfall over its worst tail")  # fmt: skip
            parts.append(f"{case.party(pid).name} would have to accept being up to "
                         f"{money(need, cur)} worse off {what}")  # fmt: skip
    if not parts:
        return f"{lead} (the requirements leave no agreement, though none is far off)"
    return f"{lead}: {'; '.join(parts)}"


# ------------------------------------------------------------------ answers


@dataclass(frozen=True)
class Answer:
    """An agreement of the space, settled by `check` and meeting every requirement."""

    agreement: Agreement
    check: CheckResult
    shares: np.ndarray  # (J,) as written in the agreement
    expected_net_by_year: np.ndarray  # (Y, P) pounds, as settled
    binding: dict  # (year, party index) -> reasons the position is held there
    values: dict = field(default_factory=dict)  # figures of the point (distance, gains, ...)

    @property
    def expected_net(self) -> np.ndarray:
        return self.expected_net_by_year.sum(axis=0)


def to_agreement(space: ShareSpace, x: np.ndarray, name: str) -> Agreement:
    """The shares as an agreement: the case's corridor, gateway and quality-scaled loss shares,
    each tier's rest to the commissioners (split as the designer writes it), no caps or
    collars."""
    case, st = space.case, space.structure
    terms = max(c.term for c in space.columns) + 1
    tiers = [_term_tiers(space, x, t) for t in range(terms)]
    first = Terms(corridor=st.corridor, gain_tiers=tiers[0][0], loss_tiers=tiers[0][1],
                  gateway=dict(st.gateway),
                  loss_quality=dict(case.requirements.loss_quality) or None,
                  commissioner_split=case.requirements.commissioner_split)  # fmt: skip
    overrides = {t + 1: YearOverride(gain_tiers=g, loss_tiers=lo)
                 for t, (g, lo) in enumerate(tiers) if t > 0}  # fmt: skip
    return Agreement(name=name, case=case.name, terms=first, year_overrides=overrides)


def _term_tiers(space: ShareSpace, x: np.ndarray, t: int) -> tuple[list[Tier], list[Tier]]:
    out = []
    ids = space.case.party_ids
    for side, edges in (("gain", space.structure.gain_edges),
                        ("loss", space.structure.loss_edges)):  # fmt: skip
        tiers = []
        for k in range(len(edges) + 1):
            js = [j for j, c in enumerate(space.columns)
                  if (c.side, c.tier, c.term) == (side, k, t)]  # fmt: skip
            sh = {ids[space.columns[j].party]: float(x[j]) for j in js}
            tiers.append(Tier(upto=edges[k] if k < len(edges) else None,
                              shares=_with_rest(sh, space.commissioner_weights)))  # fmt: skip
        out.append(tiers)
    return out[0], out[1]


def _with_rest(sh: dict[str, float], cw: dict[str, float]) -> dict[str, float]:
    rest = max(1.0 - sum(sh.values()), 0.0)
    names = list(cw)
    for n in names[:-1]:
        sh[n] = rest * cw[n]
    if names:
        sh[names[-1]] = max(rest - sum(sh[n] for n in names[:-1]), 0.0)
    return sh


def _written(space: ShareSpace, x: np.ndarray) -> np.ndarray:
    """The LP's shares as they can be written: within [0, 1] and each tier's sum at most 1."""
    x = np.clip(x, 0.0, 1.0) + 0.0
    groups: dict[tuple, list[int]] = {}
    for j, c in enumerate(space.columns):
        groups.setdefault((c.side, c.tier, c.term), []).append(j)
    for js in groups.values():
        total = x[js].sum()
        if total > 1.0:
            x[js] = x[js] / total
    return x


def settled(space: ShareSpace, x: np.ndarray, name: str, binding: dict,
            values: dict | None = None) -> Answer:  # fmt: skip
    """Settle the LP's shares by `check`: its expected nets by year must equal the LP's to the
    penny (else a fault) and it must meet every requirement (else no agreement)."""
    xs = _written(space, x)
    agreement = to_agreement(space, xs, name)
    result = check(space.case, agreement, space.econ)
    nets = expect(space.weights, result.settlement.net)
    gap = float(np.abs(nets - space.expected_net(x)).max())
    if gap > PENNY:
        raise RuntimeError(f"{name}: the settled expected nets differ from the linear "
                           f"programme's by {gap:.4f}: the answer is not shown")  # fmt: skip
    fails = failures(space.case, agreement, result)
    if fails:
        raise NoAgreement(f"the settled agreement fails a requirement: {fails[0]['text']}")
    return Answer(agreement, result, xs, nets, binding, values or {})


def _binding(lp: _Lp, dual: np.ndarray, space: ShareSpace) -> dict:
    """(year, party) -> reasons whose rows bind (non-zero dual) at the answer."""
    out: dict[tuple[int, int], set] = {}
    Y = space.shape[1]
    for fam, ids in lp.families.items():
        if not len(ids) or np.abs(dual[ids]).max() <= DUAL_TOL:
            continue
        kind = fam[0]
        if kind in ("keep_whole", "margin_floor", "cvar_excess"):
            out.setdefault((fam[2], fam[1]), set()).add(kind)
        elif kind == "cvar_limit":
            for y in range(Y):
                out.setdefault((y, fam[1]), set()).add(kind)
        elif kind in ("commissioners_floor", "commissioners_worst"):
            out.setdefault((-1, -1), set()).add(kind)
    return {k: tuple(sorted(v)) for k, v in out.items()}


# ------------------------------------------------------------------ fair splits


def fair_agreement(space: ShareSpace, target: np.ndarray, name: str) -> Answer:
    """The agreement whose expected net by year is nearest (L1, pounds) to `target` (Y, P)
    under every requirement; among those nearest, the one whose largest difference is least.
    `values`: distance (pounds), free_distance (the same with no requirement but the share
    rules: what the space alone leaves), deviation (Y, P)."""
    lp, x = base_lp(space)
    h, sol, dev = _nearest(space, lp, x, target)
    if h is None:
        raise NoAgreement(why_infeasible(space))
    binding = _binding(lp, sol.row_dual, space)
    xs = _least_largest(h, sol, dev)
    free_lp, fx = base_lp(space, requirements=False)
    fh, fsol, _ = _nearest(space, free_lp, fx, target)
    free = fsol.objective * space.scale if fsol is not None else math.nan
    ans = settled(space, xs[: len(space.columns)], name, binding)
    deviation = ans.expected_net_by_year - target
    values = {"distance": float(np.abs(deviation).sum()), "free_distance": free,
              "deviation": deviation, "target": target}  # fmt: skip
    return Answer(ans.agreement, ans.check, ans.shares, ans.expected_net_by_year, binding,
                  values)  # fmt: skip


def _nearest(space: ShareSpace, lp: _Lp, x, target):
    """Add |expected net - target| (split in over and under parts) and minimise their sum."""
    lp = lp.copy()
    Y, P = space.exp_const.shape
    over = lp.cols(Y * P, cost=1.0)
    under = lp.cols(Y * P, cost=1.0)
    sig = space.scale
    a = space.exp_coef.reshape(Y * P, -1) / sig
    eye = np.ones((Y * P, 1))
    rhs = (target - space.exp_const).reshape(Y * P) / sig
    lp.rows(Y * P, [(a, x), (-eye, over[:, None]), (eye, under[:, None])], rhs, rhs,
            ("fair_difference",))  # fmt: skip
    h = _highs(lp)
    if not _solve(h):
        return None, None, None
    return h, _read(h), (over, under)


def _least_largest(h: highspy.Highs, sol: _Solution, dev) -> np.ndarray:
    """Among the nearest agreements, the one whose largest difference is least, then the next
    largest, and so on (lexicographic min-max): a column z above every difference not yet
    held, the sum of differences held at its least. The differences whose rows have a positive
    dual are at z in every such agreement (complementary slackness): they are held there and
    the rest lowered, until none is left or the rest are zero."""
    over, under = dev
    both = np.concatenate([over, under]).astype(np.int32)
    h.changeColsCost(len(both), both, np.zeros(len(both)))
    z, k, first = h.getNumCol(), len(over), h.getNumRow()
    h.addCols(1, np.array([1.0]), np.array([0.0]), np.array([INF]), 0, np.zeros(0, np.int32),
              np.zeros(0, np.int32), np.zeros(0))  # fmt: skip
    for i in range(k):
        _add_rows(h, np.array([[1.0, -1.0, -1.0]]), np.array([z, over[i], under[i]]), 0.0, INF)
    total = sol.objective
    _add_rows(h, np.ones((1, 2 * k)), both, -INF, total + max(1e-9, 1e-9 * abs(total)))
    free, col = list(range(k)), sol.col
    while free:
        if not _solve(h):
            return col
        col, dual = np.asarray(h.getSolution().col_value), np.asarray(h.getSolution().row_dual)
        level = float(col[z])
        if level <= 1e-9:
            break
        d = np.abs(dual[first + np.array(free)])
        held = [free[i] for i in np.flatnonzero(d > DUAL_TOL)] or [free[int(np.argmax(d))]]
        for i in held:
            h.changeCoeff(first + i, z, 0.0)
            h.changeRowBounds(first + i, -level - 1e-9 * max(1.0, level), INF)
        free = [i for i in free if i not in held]
    return col


# ------------------------------------------------------------------ bargaining


@dataclass(frozen=True)
class Bargaining:
    """The bargaining problem of a space: every agreement that meets the requirements and
    leaves no party worse off than without the scheme (its position >= 0)."""

    space: ShareSpace
    lp: _Lp
    x: np.ndarray
    u: np.ndarray  # the position columns, one a party
    risk: bool
    beta: float
    ideal: np.ndarray  # (P,) pounds: the most each party can get

    def positions(self, result: CheckResult) -> np.ndarray:
        """(P,) each party's position at a settled agreement: expected horizon net, or the
        expected horizon net over its worst 1 - beta of scenarios."""
        total = result.settlement.net.sum(axis=1)
        if not self.risk:
            return expect(self.space.weights, total)
        return lower_tail_mean(total, self.space.weights, self.beta)


def bargaining_problem(space: ShareSpace, risk: bool = False, beta: float = BETA) -> Bargaining:
    """The positions as columns and each party's ideal (the most it can get with every party
    kept whole and none below its position without the scheme)."""
    lp, x = base_lp(space)
    u = add_positions(lp, space, x, risk, beta)
    h = _highs(lp)
    ideal = np.zeros(len(u))
    for i in range(len(u)):
        cost = np.zeros(len(u))
        cost[i] = -1.0
        h.changeColsCost(len(u), u.astype(np.int32), cost)
        if not _solve(h):
            raise NoAgreement(_who_loses(space, risk, beta))
        ideal[i] = -float(h.getInfo().objective_function_value) * space.scale
    return Bargaining(space, lp, x, u, risk, beta, ideal)


def _who_loses(space: ShareSpace, risk: bool, beta: float) -> str:
    """Why the bargaining set is empty, in words: no agreement meets the requirements, or the
    nearest one leaves these parties worse off than without the scheme (an elastic programme:
    the least total of their losses)."""
    lp, x = base_lp(space)
    if not _solve(_highs(lp)):
        return why_infeasible(space)
    P = space.shape[2]
    u = add_positions(lp, space, x, risk, beta, least=-INF)
    short = lp.cols(P, cost=1.0)
    lp.rows(P, [(np.eye(P), u), (np.eye(P), short)], 0.0, INF)
    h = _highs(lp)
    if not _solve(h):
        raise RuntimeError("the elastic bargaining programme is infeasible")
    loss = _read(h).col[short] * space.scale
    case = space.case
    what = f"over its worst {100 * (1 - beta):g}% of scenarios" if risk else "expected"
    parts = [f"{case.party(case.party_ids[i]).name} {money(float(v), case.currency)} ({what})"
             for i, v in enumerate(loss) if v > PENNY]  # fmt: skip
    return ("no agreement of this space keeps every party whole and leaves every party at least "
            "as well off as without the scheme: the nearest leaves "
            f"{_and(parts) or 'a party'} worse off")  # fmt: skip


def _and(parts: list[str]) -> str:
    if len(parts) <= 1:
        return "".join(parts)
    return ", ".join(parts[:-1]) + " and " + parts[-1]


def add_positions(lp: _Lp, space: ShareSpace, x, risk: bool, beta: float,
                  least: float = 0.0) -> np.ndarray:  # fmt: skip
    """`position`: u_i >= 0 (no worse off than without the scheme), u_i = expected horizon net,
    or u_i <= eta_i - 1/(1-beta) sum_s w_s z_si with z_si >= eta_i - N_si, z >= 0 (the
    expected horizon net over the worst 1 - beta of scenarios, Rockafellar-Uryasev)."""
    S, _, P, J = space.shape
    sig = space.scale
    u = lp.cols(P, least)
    eye = np.eye(P)
    if not risk:
        a = space.exp_coef.sum(axis=0) / sig  # (P, J)
        c = space.exp_const.sum(axis=0) / sig
        lp.rows(P, [(eye, u), (-a, x)], c, c, ("position",))
        return u
    eta = lp.cols(P, -INF, INF)
    z = lp.cols(S * P).reshape(S, P)
    total_coef = space.coef.sum(axis=1) / sig  # (S, P, J)
    total_const = space.const.sum(axis=1) / sig  # (S, P)
    for i in range(P):
        lp.rows(S, [(np.ones((S, 1)), z[:, i : i + 1]), (-np.ones((S, 1)), eta[i]),
                    (total_coef[:, i, :], x)], -total_const[:, i], INF,
                ("tail_excess", i))  # fmt: skip
    w = space.weights / (1.0 - beta)
    for i in range(P):
        lp.rows(1, [(np.concatenate([[1.0, -1.0], w]), np.concatenate([[u[i], eta[i]],
                                                                       z[:, i]]))],
                -INF, 0.0, ("position", i))  # fmt: skip
    return u


def _undefined(b: Bargaining, what: str) -> None:
    """Nash and Kalai-Smorodinsky need every party able to gain."""
    stuck = [i for i, v in enumerate(b.ideal) if v <= PENNY]
    if stuck:
        ids = b.space.case.party_ids
        names = ", ".join(b.space.case.party(ids[i]).name for i in stuck)
        one = len(stuck) == 1
        raise NoAgreement(f"{what} is not defined: {names} cannot gain in this space (the best "
                          f"position {'it' if one else 'they'} can reach is no better than "
                          "without the scheme)")  # fmt: skip


def nash(b: Bargaining, name: str = "Nash bargaining", rounds: int = NASH_ROUNDS) -> Answer:
    """Maximise sum_i log u_i: phi_i below the tangents of log at a geometric grid of
    breakpoints from ideal_i / GRID_SPAN to ideal_i (ratio GRID_RATIO), then (up to `rounds`
    times) cuts at the answer until the LP's bound and the log-product at the answer agree
    within NASH_GAP. `values`: gap (proven: no agreement's sum of log gains beats this one's by
    more), rounds (cut rounds taken), a_priori (the grid's own bound, P x tangent_error)."""
    _undefined(b, "Nash bargaining")
    lp = b.lp.copy()
    P = len(b.u)
    phi = lp.cols(P, -INF, INF, cost=-1.0)
    ideal = b.ideal / b.space.scale
    m = math.ceil(math.log(GRID_SPAN) / math.log(GRID_RATIO))
    for i in range(P):
        _tangents(lp, phi[i], b.u[i], ideal[i] * GRID_RATIO ** -np.arange(m + 1))
    h = _highs(lp)
    if not _solve(h):
        raise NoAgreement("no agreement leaves every party at least as well off")
    sol, taken = _read(h), 0
    gap = _log_gap(sol, phi, b.u)
    while gap > NASH_GAP and taken < rounds:
        u = sol.col[b.u]
        cuts = np.column_stack([np.ones(P), -1.0 / u])
        for i in range(P):
            _add_rows(h, cuts[i : i + 1], np.array([phi[i], b.u[i]]), -INF, math.log(u[i]) - 1)
        if not _solve(h):
            raise RuntimeError("Nash bargaining: the LP became infeasible when cuts were added")
        sol, taken = _read(h), taken + 1
        gap = _log_gap(sol, phi, b.u)
    ans = settled(b.space, sol.col[b.x], name, _binding(lp, sol.row_dual, b.space))
    return _with(ans, positions=b.positions(ans.check), ideal=b.ideal, gap=max(gap, 0.0),
                 rounds=taken, a_priori=P * tangent_error())  # fmt: skip


def _log_gap(sol: _Solution, phi: np.ndarray, u: np.ndarray) -> float:
    """The LP's bound on sum log u less the sum of log u at its answer (inf at a zero gain)."""
    gains = sol.col[u]
    if (gains <= 0).any():
        return math.inf
    return float(sol.col[phi].sum() - np.log(gains).sum())


def _tangents(lp: _Lp, phi: int, u: int, pts: np.ndarray) -> None:
    """phi <= log b + (u - b) / b for every breakpoint b."""
    n = len(pts)
    lp.rows(n, [(np.ones((n, 1)), phi), (-1.0 / pts[:, None], u)], -INF, np.log(pts) - 1.0,
            ("nash_tangent", phi))  # fmt: skip


def _with(ans: Answer, **values) -> Answer:
    return Answer(ans.agreement, ans.check, ans.shares, ans.expected_net_by_year, ans.binding,
                  ans.values | values)  # fmt: skip


def kalai_smorodinsky(b: Bargaining, name: str = "Kalai-Smorodinsky") -> Answer:
    """The largest lambda with every party's gain at least lambda x its ideal gain; parties
    the first lambda does not hold are then raised in turn (leximin on gain / ideal).
    `values`: level (lambda of the party held lowest)."""
    _undefined(b, "The Kalai-Smorodinsky point")
    return _leximin(b, b.ideal / b.space.scale, name)


def egalitarian(b: Bargaining, name: str = "Egalitarian") -> Answer:
    """The largest gain every party gets at least (max-min), then the next lowest raised in
    turn (leximin). `values`: level (the least gain, pounds)."""
    return _leximin(b, np.ones(len(b.u)), name, money=True)


def _leximin(b: Bargaining, weight: np.ndarray, name: str, money: bool = False) -> Answer:
    """max t with u_i >= weight_i t for every party; the parties whose rows have a positive
    dual are held at that level in every optimum (complementary slackness): fix them and raise
    the rest, until every party is held."""
    lp = b.lp.copy()
    t = lp.cols(1, -INF, INF, cost=-1.0)
    P = len(b.u)
    rows = lp.rows(P, [(np.eye(P), b.u), (-weight[:, None], t)], 0.0, INF, ("level",))
    h = _highs(lp)
    free, first = list(range(P)), None
    sol, binding = None, {}
    while free:
        if not _solve(h):
            raise RuntimeError(f"{name}: the LP became infeasible when levels were fixed")
        sol = _read(h)
        for key, why in _binding(lp, sol.row_dual, b.space).items():
            binding[key] = tuple(sorted({*binding.get(key, ()), *why}))
        level = float(sol.col[t[0]])
        first = level if first is None else first
        dual = np.abs(sol.row_dual[rows[free]])
        held = [free[k] for k in np.flatnonzero(dual > DUAL_TOL)] or [free[int(np.argmax(dual))]]
        for i in held:
            h.changeCoeff(int(rows[i]), int(t[0]), 0.0)
            h.changeRowBounds(int(rows[i]), weight[i] * level - 1e-9 * max(1.0, abs(level)), INF)
        free = [i for i in free if i not in held]
    assert sol is not None
    ans = settled(b.space, sol.col[b.x], name, binding)
    level = first * (b.space.scale if money else 1.0)
    return _with(ans, positions=b.positions(ans.check), ideal=b.ideal, level=level,
                 ratio=not money)  # fmt: skip


BARGAINERS = {"nash": nash, "kalai_smorodinsky": kalai_smorodinsky, "egalitarian": egalitarian}
