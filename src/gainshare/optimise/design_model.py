"""The design model (models/design.md is its written formulation, component by component).

Decision: tier shares of gains and losses per provider (commissioners keep the rest), caps and
collars where the requirements ask for them, one structure (corridor option x lever values)
when there is a choice. Transfers are linear in the shares because the shareable amount of each
scenario and year is data once the structure is chosen; caps and collars are exact min/max with
one binary per scenario, year and provider, big-M from the data."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pyomo.environ as pyo
from pyomo.core.base.param import ParamData
from pyomo.core.expr.numeric_expr import LinearExpression, NPV_NegationExpression

from gainshare.optimise.data import DesignData
from gainshare.optimise.rows import prune_implied
from gainshare.schema.io import InputError

BIG_M_PAD = 1.01  # big-M values are the data's own bounds plus 1%


@dataclass
class Cols:
    """A linear form over model variables: shared columns (same variables on every row) plus
    optional per-row terms."""

    vars: list = field(default_factory=list)
    A: np.ndarray | None = None  # (rows, len(vars))
    const: np.ndarray | None = None  # (rows,)
    own: list[list[tuple]] | None = None  # per row: [(var, coef), ...]

    def __add__(self, other: Cols) -> Cols:
        n = self.rows or other.rows
        A = np.concatenate([self._A(n), other._A(n)], axis=1)
        own = None
        if self.own is not None or other.own is not None:
            own = [
                (self.own[i] if self.own else []) + (other.own[i] if other.own else [])
                for i in range(n)
            ]
        return Cols(self.vars + other.vars, A, self._c(n) + other._c(n), own)

    def scaled(self, f: np.ndarray | float) -> Cols:
        f = np.asarray(f, dtype=float)
        fr = f if f.ndim else np.full(self.rows, float(f))
        own = None
        if self.own is not None:
            own = [[(v, c * fr[i]) for v, c in row] for i, row in enumerate(self.own)]
        return Cols(self.vars, self._A(self.rows) * fr[:, None], self._c(self.rows) * fr, own)

    @property
    def rows(self) -> int:
        for a in (self.A, self.const):
            if a is not None:
                return a.shape[0]
        return len(self.own) if self.own is not None else 0

    def _A(self, n: int) -> np.ndarray:
        return self.A if self.A is not None else np.zeros((n, len(self.vars)))

    def _c(self, n: int) -> np.ndarray:
        return self.const if self.const is not None else np.zeros(n)


# ------------------------------------------------------------------ linear forms


def _share_var(m, d: DesignData, kind: str, t: int, k: int, p: int, yt: int):
    if len(d.structures) == 1:
        return (m.gain_share if kind == "gain" else m.loss_share)[k, p, yt]
    return (m.gain_link if kind == "gain" else m.loss_link)[t, k, p, yt]


def _raw_share(m, d: DesignData, kind: str, p: int, y: int) -> Cols:
    """Provider p's share of the gains (after the gateway factor) or of the losses (negative,
    after its quality-scaled loss rate) in year y, before its cap or collar, one row per
    scenario."""
    T, S, _, _ = d.dims
    yt = d.term_year(y)
    portion = d.gain_portion if kind == "gain" else d.loss_portion
    vs, cols = [], []
    for t in range(T):
        factor = d.quality[t, :, y, p] if kind == "gain" else -d.loss_rate[t, :, y, p]
        for k in range(portion.shape[3]):
            vs.append(_share_var(m, d, kind, t, k, p, yt))
            cols.append(portion[t, :, y, k] * factor)
    return Cols(vs, np.stack(cols, axis=1), np.zeros(S))


def raw_gain(m, d: DesignData, p: int, y: int) -> Cols:
    """Gain share of provider p in year y before its cap, one row per scenario."""
    return _raw_share(m, d, "gain", p, y)


def raw_loss(m, d: DesignData, p: int, y: int) -> Cols:
    """Loss share of provider p in year y (negative) before its collar."""
    return _raw_share(m, d, "loss", p, y)


def per_scenario(var, S: int, *rest) -> Cols:
    """A form with one variable of its own on each scenario's row, var[s, *rest], coefficient 1."""
    return Cols([], np.zeros((S, 0)), np.zeros(S), [[(var[(s, *rest)], 1.0)] for s in range(S)])


def yearly_gain(m, d: DesignData, p: int, y: int) -> Cols:
    """p's gain transfer in year y after its own cap (before any limit over the agreement)."""
    if p in m._capped:
        return per_scenario(m.gain_transfer, d.dims[1], y, p)
    return raw_gain(m, d, p, y)


def yearly_loss(m, d: DesignData, p: int, y: int) -> Cols:
    """p's loss transfer (<= 0) in year y after its own collar."""
    if p in m._collared:
        return per_scenario(m.loss_transfer, d.dims[1], y, p)
    return raw_loss(m, d, p, y)


def _increment(m, var, S: int, y: int, p: int) -> Cols:
    """var[., y, p] - var[., y - 1, p]: what a running total over the agreement adds in y."""
    out = per_scenario(var, S, y, p)
    return out if y == 0 else out + per_scenario(var, S, y - 1, p).scaled(-1.0)


def transfer(m, d: DesignData, p: int, y: int) -> Cols:
    """t_p for every scenario of year y: capped gain part plus collared loss part, each within
    what its limit over the whole agreement leaves (`horizon_gain`, `horizon_loss`)."""
    S = d.dims[1]
    if p in getattr(m, "_horizon_capped", ()):
        gain = _increment(m, m.horizon_gain, S, y, p)
    else:
        gain = yearly_gain(m, d, p, y)
    if p in getattr(m, "_horizon_collared", ()):
        loss = _increment(m, m.horizon_loss, S, y, p).scaled(-1.0)
    else:
        loss = yearly_loss(m, d, p, y)
    return gain + loss


def structure_value(m, d: DesignData, values: np.ndarray) -> Cols:
    """A (T, S) quantity of the chosen structure: constant, or sum over select[t]."""
    if len(d.structures) == 1:
        return Cols([], np.zeros((values.shape[1], 0)), values[0].copy())
    return Cols([m.select[t] for t in range(values.shape[0])], values.T.copy(), None)


def retained(m, d: DesignData, y: int) -> Cols:
    """R = G - sum of transfers, one row per scenario of year y; a group's members' transfers
    as the group's limits leave them together."""
    out = structure_value(m, d, d.pool[:, :, y])
    grouped = getattr(m, "_grouped", {})
    for p in d.providers:
        if p not in grouped:
            out = out + transfer(m, d, p, y).scaled(-1.0)
    for gi in range(len(d.groups)):
        out = out + group_transfer(m, d, gi, y).scaled(-1.0)
    return out


def net(m, d: DesignData, p: int, y: int) -> Cols:
    """Net position of party p in year y, one row per scenario."""
    out = structure_value(m, d, d.base_net[:, :, y, p])
    if p in d.providers:
        out = out + transfer(m, d, p, y)
    if p in d.commissioners:
        out = out + retained(m, d, y).scaled(d.split[:, y, p])
    return out


# ------------------------------------------------------------------ constraint helpers


def by_scenario(*rest):
    """Row labels (scenario, *rest), made only for the rows that are kept."""
    return lambda s: (s, *rest)


def add_rows(m, name: str, form: Cols, lower, labels, prune: bool = False):
    """Add rows `form >= lower` (lower: array, or array + a mutable Param) as component `name`;
    `labels` names row i: a list, or a function of i (`by_scenario`).

    Rows without variables are checked against the data and reported instead of added."""
    lower_c, lower_p = lower if isinstance(lower, tuple) else (lower, None)
    rhs = np.asarray(lower_c, dtype=float) - form._c(form.rows)
    A = form._A(form.rows)
    sign, param = _signed_param(lower_p)
    idx = np.arange(form.rows)
    if prune and form.own is None:
        idx = prune_implied(A, rhs)
    con = pyo.Constraint(pyo.Any)
    m.add_component(name, con)
    for i in idx:
        nz = np.nonzero(A[i])[0]
        vs = [form.vars[j] for j in nz]
        cs = [float(A[i, j]) for j in nz]
        if form.own is not None:
            for v, c in form.own[i]:
                vs.append(v)
                cs.append(float(c))
        label = labels(int(i)) if callable(labels) else labels[i]
        if not vs:  # nothing can change this row: kept aside and tested against the data
            root = m.model()
            root._trivial_rows.append((name, label, float(rhs[i]), lower_p))
            continue
        expr = LinearExpression(constant=0.0, linear_coefs=cs, linear_vars=vs)
        bound = float(rhs[i]) if lower_p is None else float(rhs[i]) + lower_p
        con[label] = expr >= bound
        if param is not None:
            m.model()._param_rows.append((con[label], float(rhs[i]), sign, param))
    return con


def _signed_param(expr) -> tuple[float, object | None]:
    """(sign, Param) when `expr` is a mutable Param or its negation, else (0, None)."""
    if isinstance(expr, ParamData):
        return 1.0, expr
    if isinstance(expr, NPV_NegationExpression) and isinstance(expr.args[0], ParamData):
        return -1.0, expr.args[0]
    return 0.0, None


def trivial_shortfalls(m) -> list[tuple[str, tuple, float]]:
    """Rows with no variable left that the data (with the current Param values) violate:
    a party short in a scenario-year where nothing is shared. Returns (family, label, slack<0)."""
    out = []
    for name, label, rhs, param in m._trivial_rows:
        bound = rhs + (pyo.value(param) if param is not None else 0.0)
        if bound > 1e-9:
            out.append((name, label, -bound))
    return out


# ------------------------------------------------------------------ relaxation (explain)


def relax(m, d: DesignData, *key):
    """Elastic slack of a requirement (explain), or 0 when the requirement is hard."""
    if key[0] not in d.elastic:
        return 0.0
    if not hasattr(m, "relax"):
        m.relax = pyo.Var(pyo.Any, dense=False, bounds=(0, None))
    return m.relax[key]


def relax_cols(m, d: DesignData, rows: int, *key) -> Cols | None:
    """The slack as a column on every row of a family (None when the requirement is hard)."""
    v = relax(m, d, *key)
    if isinstance(v, float):
        return None
    return Cols([v], np.ones((rows, 1)), np.zeros(rows))


def _plus(form: Cols, extra: Cols | None) -> Cols:
    return form if extra is None else form + extra


# ------------------------------------------------------------------ variables


def add_share_variables(m, d: DesignData) -> None:
    T, _, _, _ = d.dims
    Kg, Kl, YT = range(d.n_gain_tiers), range(d.n_loss_tiers), range(d.term_years)
    prov = d.providers
    m.gain_share = pyo.Var(Kg, prov, YT, bounds=(0.0, 1.0))
    m.loss_share = pyo.Var(Kl, prov, YT, bounds=(0.0, 1.0))
    step = d.step()
    if step is not None:
        n = round(1 / step)
        m.gain_share_steps = pyo.Var(Kg, prov, YT, domain=pyo.Integers, bounds=(0, n))
        m.loss_share_steps = pyo.Var(Kl, prov, YT, domain=pyo.Integers, bounds=(0, n))
        for kind, K in (("gain", Kg), ("loss", Kl)):
            share, steps = getattr(m, f"{kind}_share"), getattr(m, f"{kind}_share_steps")
            m.add_component(
                f"{kind}_share_rounding",
                pyo.Constraint(K, prov, YT, rule=_equal_scaled(share, steps, step)),
            )
    if T > 1:
        add_structure_choice(m, d)


def _equal_scaled(share, steps, step: float):
    return lambda m, k, p, y: share[k, p, y] == step * steps[k, p, y]


def _link_rules(link, share):
    """The three rows that make link = select x share exact for a binary select."""
    return (
        lambda m, t, k, p, y: link[t, k, p, y] <= m.select[t],
        lambda m, t, k, p, y: link[t, k, p, y] <= share[k, p, y],
        lambda m, t, k, p, y: link[t, k, p, y] >= share[k, p, y] - (1 - m.select[t]),
    )


def add_structure_choice(m, d: DesignData) -> None:
    """select[t] picks one structure; gain_link = select x gain_share, exactly (select binary)."""
    T = len(d.structures)
    Kg, Kl, YT, prov = (
        range(d.n_gain_tiers),
        range(d.n_loss_tiers),
        range(d.term_years),
        d.providers,
    )
    m.select = pyo.Var(range(T), domain=pyo.Binary)
    m.select_one = pyo.Constraint(expr=sum(m.select[t] for t in range(T)) == 1)
    for kind, K in (("gain", Kg), ("loss", Kl)):
        share = getattr(m, f"{kind}_share")
        link = pyo.Var(range(T), K, prov, YT, bounds=(0.0, 1.0))
        m.add_component(f"{kind}_link", link)
        for suffix, rule in zip(
            ("select", "share", "lower"), _link_rules(link, share), strict=True
        ):
            m.add_component(
                f"{kind}_link_{suffix}", pyo.Constraint(range(T), K, prov, YT, rule=rule)
            )


# ------------------------------------------------------------------ share rules


def add_share_sums(m, d: DesignData) -> None:
    """Providers' shares of a tier leave a non-negative remainder for the commissioners."""
    prov = d.providers
    m.share_sum = pyo.Constraint(
        range(d.n_gain_tiers),
        range(d.term_years),
        rule=lambda m, k, y: sum(m.gain_share[k, p, y] for p in prov) <= 1,
    )
    m.loss_share_sum = pyo.Constraint(
        range(d.n_loss_tiers),
        range(d.term_years),
        rule=lambda m, k, y: sum(m.loss_share[k, p, y] for p in prov) <= 1,
    )
    if d.req.symmetric:
        m.symmetric_shares = pyo.Constraint(
            range(d.n_gain_tiers),
            prov,
            range(d.term_years),
            rule=lambda m, k, p, y: m.loss_share[k, p, y] == m.gain_share[k, p, y],
        )


def commissioners_share(m, d: DesignData, kind: str, k: int, yt: int):
    share = m.gain_share if kind == "gain" else m.loss_share
    return 1 - sum(share[k, p, yt] for p in d.providers)


def party_share(m, d: DesignData, kind: str, k: int, p: int, yt: int):
    """A party's share of a tier: its variable, or for a commissioner its part of the rest."""
    if p in d.providers:
        return (m.gain_share if kind == "gain" else m.loss_share)[k, p, yt]
    only_comm = [c for c in d.commissioners if c not in d.providers]
    frac = float(np.mean(d.split[:, 0, p])) if len(only_comm) > 1 else 1.0
    return frac * commissioners_share(m, d, kind, k, yt)


def add_share_bounds(m, d: DesignData) -> None:
    """Requirement bounds on shares (named rows, so their shadow prices can be reported)."""
    req = d.req
    m.share_min = pyo.Param(pyo.Any, mutable=True, initialize={})
    m.share_max = pyo.Param(pyo.Any, mutable=True, initialize={})
    m.share_bound_lower = pyo.Constraint(pyo.Any)
    m.share_bound_upper = pyo.Constraint(pyo.Any)
    idx = {pid: j for j, pid in enumerate(d.party_ids)}
    for kind, bounds, K in (
        ("gain", req.share_bounds, d.n_gain_tiers),
        ("loss", req.loss_share_bounds, d.n_loss_tiers),
    ):
        lows = {pid: b.min for pid, b in bounds.items()}
        highs = {pid: b.max for pid, b in bounds.items()}
        if kind == "gain":
            for pid, v in req.driver_min_gain_share.items():
                lows[pid] = max(lows.get(pid, 0.0), v)
        fixed = req.fixed_gain_shares if kind == "gain" else req.fixed_loss_shares
        for pid, v in fixed.items():
            lows[pid], highs[pid] = v, v
        for pid in set(lows) | set(highs):
            p = idx[pid]
            for k in range(K):
                for yt in range(d.term_years):
                    key = (kind, pid, k, yt)
                    expr = party_share(m, d, kind, k, p, yt)
                    if lows.get(pid, 0.0) > 0:
                        m.share_min[key] = lows[pid]
                        slack = relax(m, d, "share_min", kind, pid)
                        m.share_bound_lower[key] = expr + slack >= m.share_min[key]
                    if highs.get(pid, 1.0) < 1:
                        m.share_max[key] = highs[pid]
                        slack = relax(m, d, "share_max", kind, pid)
                        m.share_bound_upper[key] = expr - slack <= m.share_max[key]


# ------------------------------------------------------------------ caps and collars


def limit_top(d: DesignData, name: str, p: int) -> float:
    """Largest gain (cap) or loss (collar) share provider p could ever receive, in the rule's
    units (scaled pounds, or a fraction of expected payment): a larger cap never binds."""
    rule = (d.cap_rule if name == "cap" else d.collar_rule)(d.party_ids[p])
    if name == "cap":
        most = (d.gain_portion.sum(axis=3) * d.quality[:, :, :, p]).max(axis=0)
    else:
        most = (d.loss_portion.sum(axis=3) * d.loss_rate[:, :, :, p]).max(axis=0)
    if rule.basis == "share_of_expected":
        basis = d.exp_pay[:, :, p]
        most = np.where(basis > 0, most / np.where(basis > 0, basis, 1.0), 0.0)
    return float(most.max(initial=0.0))


def _limit_bounds(m, d: DesignData, name: str, p: int, y: int) -> tuple[np.ndarray, np.ndarray]:
    """(S,) smallest and largest effective cap/collar in scaled pounds for provider p, year y,
    from the variable's own bounds."""
    var = getattr(m, name)[p, d.term_year(y)]
    rule = (d.cap_rule if name == "cap" else d.collar_rule)(d.party_ids[p])
    coef = np.ones(d.dims[1]) if rule.basis == "amount" else d.exp_pay[:, y, p]
    lo = (var.value if var.fixed else var.lb) * coef
    hi = (var.value if var.fixed else var.ub) * coef
    return lo, np.maximum(hi, lo)


def add_limit_variables(m, d: DesignData) -> None:
    """cap[p, yt] and collar[p, yt]: pounds (scaled) or fractions of expected payment. Without
    a stated maximum, the bound is the largest share the provider could ever meet (above it a
    cap or collar never binds)."""
    YT = range(d.term_years)
    capped = [p for p in d.providers if d.cap_rule(d.party_ids[p]) is not None]
    collared = [p for p in d.providers if d.collar_rule(d.party_ids[p]) is not None]
    m._capped, m._collared = set(capped), set(collared)
    m.cap = pyo.Var(capped, YT, bounds=(0, None))
    m.collar = pyo.Var(collared, YT, bounds=(0, None))
    for name, group, getter in (("cap", capped, d.cap_rule), ("collar", collared, d.collar_rule)):
        var = getattr(m, name)
        for p in group:
            rule = getter(d.party_ids[p])
            div = d.scale if rule.basis == "amount" else 1.0
            top = max(limit_top(d, name, p), rule.min / div)
            for yt in YT:
                if not rule.decide:
                    var[p, yt].fix(rule.value / div)
                else:
                    var[p, yt].setlb(rule.min / div)
                    var[p, yt].setub(top if rule.max is None else rule.max / div)


def _effective(m, d, name: str, p: int, y: int) -> Cols:
    """Effective cap/collar in every scenario of year y as a linear form."""
    S = d.dims[1]
    rule = (d.cap_rule if name == "cap" else d.collar_rule)(d.party_ids[p])
    var = getattr(m, name)[p, d.term_year(y)]
    coef = np.ones(S) if rule.basis == "amount" else d.exp_pay[:, y, p]
    return Cols([var], coef[:, None], np.zeros(S))


def add_binding_order(
    m, d: DesignData, name: str, binds, coefs: np.ndarray, basis: np.ndarray, y: int, p: int
) -> None:
    """Valid inequalities for a cap (collar) that binds on the largest gains (losses).

    When every column of the raw share, divided by the limit's basis, rises with one ordering
    of the scenarios, the raw share rises in that order for any shares >= 0; so if the limit
    binds in a scenario it binds in every later one. Checked on the data; added only if true.
    Scenarios with nothing to share never bind."""
    S = coefs.shape[0]
    ratio = coefs / np.where(basis > 0, basis, 1.0)[:, None]
    empty = coefs.sum(axis=1) <= 0
    for s in np.nonzero(empty)[0]:
        binds[int(s), y, p].fix(0)
    if len(d.structures) > 1 or S < 2:
        return
    order = np.lexsort(tuple(ratio[:, k] for k in range(ratio.shape[1] - 1, -1, -1)))
    ordered = ratio[order]
    if not (np.diff(ordered, axis=0) >= -1e-12).all():
        return
    live = [int(s) for s in order if not empty[s]]
    con = pyo.Constraint(
        range(len(live) - 1), rule=lambda m, i: binds[live[i], y, p] <= binds[live[i + 1], y, p]
    )
    m.add_component(name, con)


def data_cols(values: np.ndarray) -> Cols:
    """Data (one value per row) as a form without variables."""
    return Cols([], np.zeros((len(values), 0)), np.asarray(values, dtype=float))


def exact_min(block, names: tuple[str, str, str, str], suffix: str, t: Cols, x: Cols, c: Cols,
              b: Cols, big: tuple[np.ndarray, np.ndarray], labels) -> None:  # fmt: skip
    """t = min(x, c) exactly, with the binary b (1: c binds): t <= c, t <= x, t >= x - M1 b and
    t >= c - M2 (1 - b), as the families `names` (each name + `suffix`); big = (M1, M2) from
    the data's bounds (M1 >= x - c, M2 >= c). The commissioners want t small, so both sides of
    the minimum are held."""
    m1, m2 = big
    S = x.rows
    upper_c, upper_x, lower_x, lower_c = (name + suffix for name in names)
    add_rows(block, upper_c, c + t.scaled(-1.0), np.zeros(S), labels)
    add_rows(block, upper_x, x + t.scaled(-1.0), np.zeros(S), labels)
    add_rows(block, lower_x, t + x.scaled(-1.0) + b.scaled(m1), np.zeros(S), labels)
    add_rows(block, lower_c, t + c.scaled(-1.0) + b.scaled(-m2), -m2, labels)


def add_caps(m, d: DesignData) -> None:
    """gain_transfer = min(raw gain share, cap), exactly, with cap_binds binary."""
    _, S, Y, _ = d.dims
    capped = sorted(m._capped)
    m.gain_transfer = pyo.Var(range(S), range(Y), capped, bounds=(0, None))
    m.cap_binds = pyo.Var(range(S), range(Y), capped, domain=pyo.Binary)
    for p in capped:
        rule = d.cap_rule(d.party_ids[p])
        for y in range(Y):
            a = raw_gain(m, d, p, y)
            amax = a.A.sum(axis=1)  # shares <= 1
            c_lo, c_hi = _limit_bounds(m, d, "cap", p, y)
            t = per_scenario(m.gain_transfer, S, y, p)
            b = per_scenario(m.cap_binds, S, y, p)
            cap = _effective(m, d, "cap", p, y)
            lab = by_scenario(y, p)
            m1 = np.maximum(amax - c_lo, 0.0) * BIG_M_PAD
            m2 = np.maximum(c_hi, 0.0) * BIG_M_PAD
            exact_min(m, ("cap_upper", "cap_share_upper", "cap_lower_share", "cap_lower_cap"),
                      f"_{y}_{p}", t, a, cap, b, (m1, m2), lab)  # fmt: skip
            basis = np.ones(S) if rule.basis == "amount" else d.exp_pay[:, y, p]
            add_binding_order(m, d, f"cap_order_{y}_{p}", m.cap_binds, a.A, basis, y, p)


def add_collars(m, d: DesignData) -> None:
    """loss_transfer = max(raw loss share, -collar), exactly, with collar_binds binary."""
    _, S, Y, _ = d.dims
    collared = sorted(m._collared)
    m.loss_transfer = pyo.Var(range(S), range(Y), collared, bounds=(None, 0))
    m.collar_binds = pyo.Var(range(S), range(Y), collared, domain=pyo.Binary)
    for p in collared:
        rule = d.collar_rule(d.party_ids[p])
        for y in range(Y):
            a = raw_loss(m, d, p, y)  # <= 0
            amin = a.A.sum(axis=1)  # most negative with shares <= 1
            c_lo, c_hi = _limit_bounds(m, d, "collar", p, y)
            t = per_scenario(m.loss_transfer, S, y, p)
            b = per_scenario(m.collar_binds, S, y, p)
            col = _effective(m, d, "collar", p, y)
            lab = by_scenario(y, p)
            m3 = np.maximum(-amin - c_lo, 0.0) * BIG_M_PAD
            m4 = np.maximum(c_hi, 0.0) * BIG_M_PAD
            # -t = min(-a, collar): what it loses, the least of its loss share and the collar
            exact_min(m, ("collar_lower", "collar_share_lower", "collar_upper_share",
                          "collar_upper_collar"), f"_{y}_{p}", t.scaled(-1.0), a.scaled(-1.0),
                      col, b, (m3, m4), lab)  # fmt: skip
            basis = np.ones(S) if rule.basis == "amount" else d.exp_pay[:, y, p]
            add_binding_order(m, d, f"collar_order_{y}_{p}", m.collar_binds, -a.A, basis, y, p)


# ------------------------------------------------------------------ limits over the agreement


def add_horizon(m, d: DesignData) -> None:
    """Caps and collars over the whole agreement the case states (models/design.md, "Limits
    over the agreement"): what p has gained by the end of year y is M_y = min(S_y, cap), S_y
    its yearly gain transfers so far, exactly, with a binary `horizon_cap_binds`; its gain
    transfer in year y is M_y - M_{y-1}. Losses likewise with the collar."""
    m._horizon_capped, m._horizon_collared = set(), set()
    if d.horizon_cap is None:
        return
    _, S, Y, _ = d.dims
    sides = {"cap": (d.horizon_cap, yearly_gain, raw_gain, 1.0),
             "collar": (d.horizon_collar, yearly_loss, raw_loss, -1.0)}  # fmt: skip
    m.horizon = pyo.Block()
    for name, (limit, part, raw, sign) in sides.items():
        limited = [p for p in d.providers if np.isfinite(limit[:, p]).all()]
        total = pyo.Var(range(S), range(Y), limited, bounds=(0, None))
        binds = pyo.Var(range(S), range(Y), limited, domain=pyo.Binary)
        kind = "gain" if name == "cap" else "loss"
        m.add_component(f"horizon_{kind}", total)
        m.add_component(f"horizon_{name}_binds", binds)
        for p in limited:
            c = limit[:, p]
            cum, most = None, np.zeros(S)
            for y in range(Y):
                f = part(m, d, p, y).scaled(sign)  # this year's gain, or loss taken (>= 0)
                cum = f if cum is None else cum + f
                most = most + raw(m, d, p, y).A.sum(axis=1) * sign
                t, b = per_scenario(total, S, y, p), per_scenario(binds, S, y, p)
                lab = by_scenario(y, p)
                m1, m2 = np.maximum(most - c, 0.0) * BIG_M_PAD, c * BIG_M_PAD
                exact_min(m.horizon, (name, f"{name}_share", f"{name}_lower_share",
                                      f"{name}_lower"), f"_{y}_{p}", t, cum, data_cols(c), b,
                          (m1, m2), lab)  # fmt: skip
                for s in np.nonzero(c >= most)[0]:  # the limit cannot bind yet
                    binds[int(s), y, p].fix(0)
        # the running total only grows: once the limit binds it binds in every later year
        m.add_component(f"horizon_{name}_order", pyo.Constraint(
            [(s, y, p) for s in range(S) for y in range(1, Y) for p in limited],
            rule=lambda _, s, y, p, b=binds: b[s, y - 1, p] <= b[s, y, p]))  # fmt: skip
    m._horizon_capped = {p for p in d.providers if np.isfinite(d.horizon_cap[:, p]).all()}
    m._horizon_collared = {p for p in d.providers if np.isfinite(d.horizon_collar[:, p]).all()}


# ------------------------------------------------------------------ group limits


def _sum(forms: list[Cols]) -> Cols:
    out = forms[0]
    for f in forms[1:]:
        out = out + f
    return out


def group_gain(m, d: DesignData, gi: int, y: int) -> Cols:
    """T: the members' gain transfers after their own caps and before the group's, one row
    per scenario of year y."""
    return _sum([yearly_gain(m, d, p, y) for p in d.groups[gi].members])


def group_loss(m, d: DesignData, gi: int, y: int) -> Cols:
    """L >= 0: the members' loss transfers after their own collars, before the group's."""
    return _sum([yearly_loss(m, d, p, y) for p in d.groups[gi].members]).scaled(-1.0)


def _most(forms: list[Cols]) -> np.ndarray:
    """The largest the sum of share forms can be in each row (every share at most 1): a
    bound on it after the members' own caps and collars too, which only cut it."""
    return np.sum([np.abs(f.A).sum(axis=1) for f in forms], axis=0)


def group_gain_most(m, d: DesignData, gi: int, y: int) -> np.ndarray:
    """The most T can be in each scenario of year y."""
    return _most([raw_gain(m, d, p, y) for p in d.groups[gi].members])


def group_loss_most(m, d: DesignData, gi: int, y: int) -> np.ndarray:
    """The most L can be in each scenario of year y."""
    return _most([raw_loss(m, d, p, y) for p in d.groups[gi].members])


def group_transfer(m, d: DesignData, gi: int, y: int) -> Cols:
    """The members' transfers together after the group's limits: min(T, cap) - min(L, collar)."""
    S = d.dims[1]
    g = d.groups[gi]
    gain = (per_scenario(m.group_gain, S, y, gi) if np.isfinite(g.cap[:, y]).any()
            else group_gain(m, d, gi, y))  # fmt: skip
    loss = (per_scenario(m.group_loss, S, y, gi) if np.isfinite(g.collar[:, y]).any()
            else group_loss(m, d, gi, y))  # fmt: skip
    return gain + loss.scaled(-1.0)


def add_groups(m, d: DesignData) -> None:
    """Group caps and collars the case states (models/design.md, "Group limits").

    Together the members gain w = min(T, cap) and lose v = min(L, collar), each exactly with
    a binary (`group_cap_binds`, `group_collar_binds`): whatever the aim (repair's distance,
    the system's savings) the model's transfers are the settlement's. Each member's own
    keep-whole row is in `add_keep_whole`."""
    m._grouped = {p: gi for gi, g in enumerate(d.groups) for p in g.members}
    if not d.groups:
        return
    if d.elastic:  # explain works on the case without them (explain._under_groups)
        raise InputError(["requirements.group_limits: the elastic model cannot weigh group "
                          "limits yet: explain the case without them"])  # fmt: skip
    _, S, Y, _ = d.dims
    G = range(len(d.groups))
    m.group_gain = pyo.Var(range(S), range(Y), G, bounds=(0, None))
    m.group_cap_binds = pyo.Var(range(S), range(Y), G, domain=pyo.Binary)
    m.group_loss = pyo.Var(range(S), range(Y), G, bounds=(0, None))
    m.group_collar_binds = pyo.Var(range(S), range(Y), G, domain=pyo.Binary)
    # which row of a member's keep-whole disjunction holds (free only where a collar may bind)
    m.group_member_side = pyo.Var(range(S), range(Y), sorted(m._grouped), domain=pyo.Binary)
    for v in (m.group_cap_binds, m.group_collar_binds, m.group_member_side):  # free where a
        # row needs them
        for i in v:
            v[i].fix(0)
    m.groups = pyo.Block()
    for gi in G:
        for y in range(Y):
            _group_limit(m, d, gi, y, "cap")
            _group_limit(m, d, gi, y, "collar")


def _group_limit(m, d: DesignData, gi: int, y: int, side: str) -> None:
    """The group's cap (`side` "cap": w = min(T, cap)) or collar ("collar": v = min(L,
    collar)) in the scenarios of year y, exactly, with its binary free only where the limit
    can bind; and the ordering cut when no member has a limit of its own on that side (the
    members' total is then linear in the shares)."""
    S = d.dims[1]
    g = d.groups[gi]
    cap = side == "cap"
    limit = (g.cap if cap else g.collar)[:, y]
    if not np.isfinite(limit).any():
        return
    x = (group_gain if cap else group_loss)(m, d, gi, y)
    most = (group_gain_most if cap else group_loss_most)(m, d, gi, y)
    c = np.where(np.isfinite(limit), limit, most + 1.0)
    binds = m.group_cap_binds if cap else m.group_collar_binds
    for s in np.nonzero(c < most)[0]:  # the limit may bind
        binds[int(s), y, gi].unfix()
    names = (f"{side}_upper", f"{side}_share_upper", f"{side}_lower_share", f"{side}_lower_{side}")
    exact_min(m.groups, names, f"_{y}_{gi}", per_scenario(m.group_gain if cap else m.group_loss,
              S, y, gi), x, data_cols(c), per_scenario(binds, S, y, gi),
              (np.maximum(most - c, 0.0) * BIG_M_PAD, c * BIG_M_PAD),
              by_scenario(y, gi))  # fmt: skip
    if not set(g.members) & (m._capped if cap else m._collared):
        add_binding_order(m, d, f"group_{side}_order_{y}_{gi}", binds, x.A, c, y, gi)


def _keep_whole_member(m, d: DesignData, p: int, beta: float | None = None) -> None:
    """A group member kept whole: B + tol + t >= 0 with its transfer t scaled by the group's
    limits (`_member_rows`), in every scenario or, kept whole by chance (`beta`), in all but
    those violated[s, p] lets off, on at most 1 - beta of the probability."""
    S = d.dims[1]
    tol = d.case.keep_whole_for(d.party_ids[p]).tolerance / d.scale
    v = per_scenario(m.violated, S, p) if beta is not None else None
    _member_rows(m, m.keep_whole, d, p, tol, applicable_years(d, p), "member", v,
                 m.tolerance[p])  # fmt: skip
    if beta is not None:
        m.chance_limit[p] = 1.0 - beta
        m.chance_level[p] = sum(
            float(d.weights[s]) * m.violated[s, p] for s in range(S)
        ) <= m.chance_limit[p] + relax(m, d, "chance", p)


def _member_rows(m, block, d: DesignData, p: int, tol: float, years, family: str,
                 v: Cols | None = None, param=None) -> None:  # fmt: skip
    """Rows B + tol + t >= 0 for group member p in `years` (scaled pounds; `param`: the Param
    the first row's bound reads, so a what-if may change it), its transfer t scaled by the
    group's limits. Under a cap, t = a min(1, cap / T) and the row is exactly the pair
    B + tol + a >= 0 and (B + tol) T + cap a >= 0 (T > 0). Under a collar, t = a min(1,
    collar / L) for a loss share a <= 0, and the row is the disjunction B + tol + a >= 0, or
    L >= collar and (B + tol) L + collar a >= 0, chosen by a binary `group_member_side` (one
    per scenario, year and member: the side that holds is the same for every family of rows).
    `v`: a form that lets every row of a scenario give way (big-M from the data)."""
    S = d.dims[1]
    g = d.groups[m._grouped[p]]
    gi = m._grouped[p]

    def give(form: Cols, low: np.ndarray, bound: np.ndarray | float) -> Cols:
        """The row `form >= bound` giving way where `v` lets it (`low`: the form's least)."""
        if v is None:
            return form
        return form + v.scaled(np.maximum(bound - low, 0.0) * BIG_M_PAD + 1e-6)

    for y in years:
        base = d.base_net[0, :, y, p] + tol
        lab = by_scenario(y, p)
        # its transfers after its own cap and collar, before the group's
        a_gain, a_loss = yearly_gain(m, d, p, y), yearly_loss(m, d, p, y)
        z = per_scenario(m.group_member_side, S, y, p)
        collar = g.collar[:, y]
        amin = -_most([raw_loss(m, d, p, y)])  # its most negative loss share
        lossy = np.isfinite(collar) & (amin < 0)
        for s in np.nonzero(lossy)[0]:
            m.group_member_side[int(s), y, p].unfix()
        ma = np.where(lossy, np.maximum(-(base + amin), 0.0) * BIG_M_PAD, 0.0)
        form = give(net(m, d, p, y) + z.scaled(ma), _net_floor(m, d, p, y), -tol)
        bound = (np.zeros(S), -param) if param is not None else np.full(S, -tol)
        add_rows(block, f"{family}_{p}_{y}", form, bound, lab)
        cap = g.cap[:, y]
        if np.isfinite(cap).any():
            t = group_gain(m, d, gi, y)
            c = np.where(np.isfinite(cap), cap, 0.0)  # no cap: the pair's first row suffices
            tmax = group_gain_most(m, d, gi, y)
            rows = np.isfinite(cap) & (tmax > 0)
            form = t.scaled(np.where(rows, base, 0.0)) + a_gain.scaled(np.where(rows, c, 0.0))
            low = np.where(rows, np.minimum(base, 0.0) * tmax, 0.0)
            add_rows(block, f"{family}_cap_{p}_{y}", give(form, low, 0.0), np.zeros(S), lab)
        if lossy.any():
            ell = group_loss(m, d, gi, y)
            lmax = group_loss_most(m, d, gi, y)
            c = np.where(lossy, collar, 0.0)
            low = np.minimum(base, 0.0) * lmax + c * amin
            mc = np.where(lossy, np.maximum(-low, 0.0) * BIG_M_PAD, 0.0)
            form = (ell.scaled(np.where(lossy, base, 0.0)) + a_loss.scaled(c)
                    + z.scaled(-mc))  # fmt: skip
            add_rows(block, f"{family}_collar_{p}_{y}", give(form, low - mc, -mc), -mc, lab)
            # the second row stands for the member's only when the collar binds (L >= collar
            # > 0, so L may be divided out); below it the member's own share is what it takes
            add_rows(block, f"{family}_collar_binds_{p}_{y}", ell + z.scaled(-c), np.zeros(S),
                     lab)  # fmt: skip


# ------------------------------------------------------------------ keep whole


def add_keep_whole(m, d: DesignData) -> None:
    """Each party's keep-whole requirement: robust, chance or CVaR (SPEC section 4.2)."""
    _, S, Y, P = d.dims
    m.tolerance = pyo.Param(range(P), mutable=True, initialize=0.0)
    m.chance_limit = pyo.Param(range(P), mutable=True, initialize=0.0)
    m.cvar_inv_alpha = pyo.Param(range(P), mutable=True, initialize=20.0)
    m.keep_whole = pyo.Block()
    modes = {p: d.case.keep_whole_for(pid).mode for p, pid in enumerate(d.party_ids)}
    chance = [p for p, mode in modes.items() if mode == "chance"]
    cvar = [p for p, mode in modes.items() if mode == "cvar"]
    if chance:
        m.violated = pyo.Var(range(S), chance, domain=pyo.Binary)
        m.chance_level = pyo.Constraint(chance)
    if cvar:
        m.cvar_eta = pyo.Var(cvar)
        m.cvar_excess = pyo.Var(range(S), cvar, bounds=(0, None))
        m.cvar_limit = pyo.Constraint(cvar)
        m.cvar_floor = pyo.Constraint(range(S), cvar)
    for p, pid in enumerate(d.party_ids):
        kw = d.case.keep_whole_for(pid)
        m.tolerance[p] = kw.tolerance / d.scale
        if kw.mode in ("robust", "chance") and p in m._grouped:
            _keep_whole_member(m, d, p, kw.beta if kw.mode == "chance" else None)
        elif kw.mode == "robust":
            _keep_whole_robust(m, d, p)
        elif kw.mode == "chance":
            _keep_whole_chance(m, d, p, kw.beta)
        elif kw.mode == "cvar":
            _keep_whole_cvar(m, d, p, kw.beta)


def applicable_years(d: DesignData, p: int) -> range:
    """Years (0-based) in which party p's keep-whole requirement applies."""
    return range(d.case.keep_whole_for(d.party_ids[p]).from_year - 1, d.dims[2])


def _keep_whole_robust(m, d: DesignData, p: int) -> None:
    _, S, Y, _ = d.dims
    for y in applicable_years(d, p):
        form = _plus(net(m, d, p, y), relax_cols(m, d, S, "keep_whole", p))
        add_rows(
            m.keep_whole,
            f"robust_{p}_{y}",
            form,
            (np.zeros(S), -m.tolerance[p]),
            by_scenario(y, p),
            prune=True,
        )


def _net_floor(m, d: DesignData, p: int, y: int) -> np.ndarray:
    """Smallest net party p can have in year y (every share at its worst), for big-M."""
    f = net(m, d, p, y)
    worst = f._c(f.rows) + np.minimum(f._A(f.rows), 0.0).sum(axis=1)
    if f.own is not None:  # capped/collared transfers lie within [-total loss, total gain]
        tot = d.loss_portion[:, :, y, :].sum(axis=2).max(axis=0)
        worst = worst - tot
    return worst


def _keep_whole_chance(m, d: DesignData, p: int, beta: float) -> None:
    """net >= -tol unless violated[s, p]; big-M from the data with tolerance 0, the largest any
    what-if tolerance (>= 0) can need."""
    _, S, Y, _ = d.dims
    m.chance_limit[p] = 1.0 - beta
    v = per_scenario(m.violated, S, p)
    for y in applicable_years(d, p):
        big = np.maximum(-_net_floor(m, d, p, y), 0.0) * BIG_M_PAD + 1e-6
        add_rows(
            m.keep_whole,
            f"chance_{p}_{y}",
            net(m, d, p, y) + v.scaled(big),
            (np.zeros(S), -m.tolerance[p]),
            by_scenario(y, p),
        )
    m.chance_level[p] = sum(
        float(d.weights[s]) * m.violated[s, p] for s in range(S)
    ) <= m.chance_limit[p] + relax(m, d, "chance", p)


def _keep_whole_cvar(m, d: DesignData, p: int, beta: float) -> None:
    """Rockafellar-Uryasev: eta + E[(shortfall - eta)+] / (1 - beta) <= tolerance."""
    _, S, Y, _ = d.dims
    m.cvar_inv_alpha[p] = 1.0 / max(1.0 - beta, 1e-9)
    u = per_scenario(m.cvar_excess, S, p)
    eta = Cols([m.cvar_eta[p]], np.ones((S, 1)), np.zeros(S))
    for y in applicable_years(d, p):
        add_rows(
            m.keep_whole,
            f"cvar_{p}_{y}",
            net(m, d, p, y) + u + eta,
            np.zeros(S),
            by_scenario(y, p),
        )
    for s in range(S):
        m.cvar_floor[s, p] = m.cvar_excess[s, p] + m.cvar_eta[p] >= 0
    m.cvar_limit[p] = m.cvar_eta[p] + m.cvar_inv_alpha[p] * sum(
        float(d.weights[s]) * m.cvar_excess[s, p] for s in range(S)
    ) <= m.tolerance[p] + relax(m, d, "keep_whole", p)


# ------------------------------------------------------------------ commissioners and bounds


def expected(form_by_year: list[Cols], w: np.ndarray):
    """Expected horizon total of a per-year linear form, as one Pyomo expression."""
    coefs: dict = {}
    const = 0.0
    for f in form_by_year:
        A = f._A(f.rows)
        agg = w @ A
        for v, c in zip(f.vars, agg, strict=True):
            if c != 0:
                coefs[id(v)] = (v, coefs.get(id(v), (v, 0.0))[1] + float(c))
        const += float(w @ f._c(f.rows))
        if f.own is not None:
            for s, row in enumerate(f.own):
                for v, c in row:
                    coefs[id(v)] = (v, coefs.get(id(v), (v, 0.0))[1] + float(w[s] * c))
    vs = [v for v, _ in coefs.values()]
    cs = [c for _, c in coefs.values()]
    return LinearExpression(constant=const, linear_coefs=cs, linear_vars=vs)


def add_commissioner_bounds(m, d: DesignData) -> None:
    """Commissioners' expected retained savings and worst year, when required."""
    _, S, Y, _ = d.dims
    req = d.req
    m.retained_expected = pyo.Expression(
        expr=expected([retained(m, d, y) for y in range(Y)], d.weights)
    )
    m.commissioners_min = pyo.Param(mutable=True, initialize=-1e30)
    m.commissioners_worst = pyo.Param(mutable=True, initialize=-1e30)
    if req.commissioners_min_expected is not None:
        m.commissioners_min = req.commissioners_min_expected / d.scale
        slack = relax(m, d, "commissioners_min")
        m.commissioners_floor = pyo.Constraint(
            expr=m.retained_expected + slack >= m.commissioners_min
        )
    if req.commissioners_worst_year is not None:
        m.commissioners_worst = req.commissioners_worst_year / d.scale
        m.commissioners_worst_year = pyo.Block()
        for y in range(Y):
            form = _plus(retained(m, d, y), relax_cols(m, d, S, "commissioners_worst"))
            add_rows(
                m.commissioners_worst_year,
                f"year_{y}",
                form,
                (np.zeros(S), m.commissioners_worst),
                by_scenario(y),
                prune=True,
            )


def add_margin(m, d: DesignData) -> None:
    """worst provider margin: margin <= every provider's net in every scenario and year (always
    built, so the objective can switch to it and frontiers can bound it)."""
    _, S, Y, _ = d.dims
    req = d.req
    m.margin = pyo.Var()
    m.margin_min = pyo.Param(mutable=True, initialize=-1e30)
    if req.worst_margin_min is not None:
        m.margin_min = req.worst_margin_min / d.scale
        slack = relax(m, d, "margin_min")
        m.margin_floor_min = pyo.Constraint(expr=m.margin + slack >= m.margin_min)
    m.margin_floor = pyo.Block()
    mv = Cols([m.margin], -np.ones((S, 1)), np.zeros(S))
    for p in d.providers:
        if p in m._grouped:  # its net is not linear under the group's limits: its own rows
            if req.worst_margin_min is not None:
                _member_rows(m, m.margin_floor, d, p, -req.worst_margin_min / d.scale,
                             range(Y), "member")  # fmt: skip
            continue
        for y in range(Y):
            add_rows(
                m.margin_floor,
                f"p{p}_y{y}",
                net(m, d, p, y) + mv,
                np.zeros(S),
                by_scenario(y, p),
                prune=True,
            )


def add_savings_bound(m, d: DesignData) -> None:
    T, S, Y, _ = d.dims
    forms = [structure_value(m, d, d.savings[:, :, y]) for y in range(Y)]
    m.savings_expected = pyo.Expression(expr=expected(forms, d.weights))
    if d.req.system_savings_min is not None:
        m.savings_min = pyo.Param(mutable=True, initialize=d.req.system_savings_min / d.scale)
        slack = relax(m, d, "savings_min")
        m.savings_floor = pyo.Constraint(expr=m.savings_expected + slack >= m.savings_min)


def add_fair_distance(m, d: DesignData) -> None:
    """L1 distance of gain shares to the reference split (mean over tiers and term years)."""
    ref = d.req.reference_split
    if ref is None:
        P = len(d.party_ids)
        ref = {pid: 1.0 / P for pid in d.party_ids}
    parties = d.providers + [c for c in d.commissioners if c not in d.providers]
    K, YT = range(d.n_gain_tiers), range(d.term_years)
    m.fair_gap = pyo.Var(K, parties, YT, bounds=(0, None))

    def gap(sign: float):
        def rule(m, k, p, y):
            diff = party_share(m, d, "gain", k, p, y) - ref.get(d.party_ids[p], 0.0)
            return m.fair_gap[k, p, y] >= sign * diff

        return rule

    m.fair_gap_above = pyo.Constraint(K, parties, YT, rule=gap(1.0))
    m.fair_gap_below = pyo.Constraint(K, parties, YT, rule=gap(-1.0))
    n = d.n_gain_tiers * d.term_years
    m.fair_distance = pyo.Expression(expr=sum(m.fair_gap.values()) / n)
    if d.req.fair_distance_max is not None:
        m.fair_distance_limit = pyo.Param(mutable=True, initialize=d.req.fair_distance_max)
        slack = relax(m, d, "fair_distance")
        m.fair_distance_max = pyo.Constraint(expr=m.fair_distance - slack <= m.fair_distance_limit)


def add_incentives(m, d: DesignData) -> None:
    """Each provider's expected net over the horizon, on each growth step, at least its net
    without the step plus min_share of the extra expected system savings (steps that raise
    them). The grown economics are data on the same share variables: linear in the shares."""
    inc = d.req.incentives
    if inc is None or not d.growth:
        return
    m.incentive = pyo.Constraint(pyo.Any)
    m._incentive_rows = {}  # (step key, party id) -> the step, for words and shadow prices
    Y = d.dims[2]
    providers = (
        inc.providers if inc.providers is not None else [d.party_ids[p] for p in d.providers]
    )
    w = d.weights
    for step, g in d.growth:
        extra = float(g.weights @ g.savings[0].sum(axis=1)) * g.scale
        extra -= float(w @ d.savings[0].sum(axis=1)) * d.scale
        if extra <= 0:
            continue
        for pid in providers:
            p = d.party_ids.index(pid)
            grown = expected([net(m, g, p, y) for y in range(Y)], g.weights) * (g.scale / d.scale)
            base = expected([net(m, d, p, y) for y in range(Y)], w)
            m.incentive[step.key, pid] = grown - base >= inc.min_share * extra / d.scale
            m._incentive_rows[step.key, pid] = step


TIE_BREAK = 1e-6  # weight of the tie-break, in model money per unit of L1 share distance


def add_relaxation_objective(m, d: DesignData) -> None:
    """explain: minimise the weighted sum of slacks (weights per requirement kind)."""
    items = list(m.relax.items()) if hasattr(m, "relax") else []
    cost = sum(d.relax_weights[key[0]] * v for key, v in items) if items else 0.0
    m.relaxation = pyo.Expression(expr=cost)
    m.objective = pyo.Objective(
        expr=-m.relaxation + TIE_BREAK * m.retained_expected, sense=pyo.maximize
    )


def add_objective(m, d: DesignData) -> None:
    """Primary objective plus a tiny deterministic tie-break (closeness to the reference)."""
    if d.elastic:
        add_relaxation_objective(m, d)
        return
    name = d.req.objective
    if name == "worst_margin" and m._grouped:  # members' margins are not linear: the Designer
        name = "commissioners"  # aims for it by bisection on the floor (Designer.highest_floor)
    primary = {
        "commissioners": lambda: m.retained_expected,
        "system_savings": lambda: m.savings_expected,
        "worst_margin": lambda: m.margin,
        "fair_reference": lambda: -m.fair_distance,
    }[name]()
    tie = (
        m.retained_expected * TIE_BREAK
        if name == "fair_reference"
        else -TIE_BREAK * m.fair_distance
    )
    m.objective = pyo.Objective(expr=primary + tie, sense=pyo.maximize)


def build_design_model(d: DesignData) -> pyo.ConcreteModel:
    """The design model: variables, then each constraint family, then the objective."""
    m = pyo.ConcreteModel(name="gainshare_design")
    m._trivial_rows = []
    m._param_rows = []  # (constraint, constant, sign, Param): rows bounded by const + sign*Param
    add_share_variables(m, d)
    add_limit_variables(m, d)
    add_share_sums(m, d)
    add_share_bounds(m, d)
    add_caps(m, d)
    add_collars(m, d)
    add_groups(m, d)
    add_horizon(m, d)
    add_keep_whole(m, d)
    add_commissioner_bounds(m, d)
    add_margin(m, d)
    add_savings_bound(m, d)
    add_fair_distance(m, d)
    add_incentives(m, d)
    add_objective(m, d)
    return m
