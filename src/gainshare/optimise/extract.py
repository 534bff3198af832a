"""Reading a solved design model: evaluate linear forms as arrays and write the agreement."""

from __future__ import annotations

import numpy as np
import pyomo.environ as pyo

from gainshare.optimise.data import DesignData
from gainshare.optimise.design_model import Cols
from gainshare.schema.agreement import Agreement, Terms, Tier, YearOverride
from gainshare.schema.common import Limit


def evaluate(form: Cols, value=None) -> np.ndarray:
    """Value of a linear form, one entry per row, at the loaded solution or at `value(var)`."""
    value = value or (lambda v: v.value if v.value is not None else 0.0)
    x = np.array([value(v) for v in form.vars], dtype=float)
    out = form._c(form.rows) + form._A(form.rows) @ x
    if form.own is not None:
        out = out + np.array([sum(c * value(v) for v, c in row) for row in form.own])
    return out


def selected_structure(m, d: DesignData) -> int:
    if len(d.structures) == 1:
        return 0
    vals = [pyo.value(m.select[t]) for t in range(len(d.structures))]
    return int(np.argmax(vals))


def _clean_share(v: float, step: float | None) -> float:
    v = min(max(float(v), 0.0), 1.0) + 0.0  # + 0.0 turns -0.0 into 0.0
    if step is not None:
        return round(round(v / step) * step, 10) + 0.0
    return v


def _commissioner_weights(d: DesignData) -> dict[str, float]:
    only = [c for c in d.commissioners if c not in d.providers]
    if not only:
        return {}
    fixed = d.req.commissioner_split
    if fixed is not None:
        w = {d.party_ids[c]: fixed.get(d.party_ids[c], 0.0) for c in only}
    else:
        w = {d.party_ids[c]: float(np.mean(d.split[:, 0, c])) for c in only}
    total = sum(w.values())
    return {k: v / total for k, v in w.items()} if total > 0 else {k: 1 / len(w) for k in w}


def _tiers(m, d: DesignData, kind: str, yt: int, sel: int) -> list[Tier]:
    var = m.gain_share if kind == "gain" else m.loss_share
    st = d.structures[sel]
    edges = st.gain_edges if kind == "gain" else st.loss_edges
    K = d.n_gain_tiers if kind == "gain" else d.n_loss_tiers
    cw = _commissioner_weights(d)
    step = d.step()
    tiers = []
    for k in range(K):
        shares = {d.party_ids[p]: _clean_share(pyo.value(var[k, p, yt]), step) for p in d.providers}
        rest = round(1.0 - sum(shares.values()), 12) + 0.0
        if rest < 0:  # solver round-off only: shares sum to at most 1 in the model
            big = max(shares, key=shares.get)
            shares[big] += rest
            rest = 0.0
        names = list(cw)
        for i, pid in enumerate(names):
            shares[pid] = (
                rest * cw[pid] if i < len(names) - 1 else rest - sum(shares[n] for n in names[:-1])
            )
        tiers.append(Tier(upto=edges[k] if k < len(edges) else None, shares=shares))
    return tiers


def _limits(m, d: DesignData, name: str, yt: int) -> dict[str, Limit]:
    var = getattr(m, name)
    out = {}
    for p in sorted(getattr(m, f"_{'capped' if name == 'cap' else 'collared'}")):
        pid = d.party_ids[p]
        rule = (d.cap_rule if name == "cap" else d.collar_rule)(pid)
        v = max(float(pyo.value(var[p, yt])), 0.0)
        if rule.basis == "amount":
            out[pid] = Limit(amount=v * d.scale)
        else:
            out[pid] = Limit(share_of_expected=min(v, 1.0))
    return out


def _terms(m, d: DesignData, yt: int, sel: int) -> Terms:
    return Terms(
        corridor=d.structures[sel].corridor,
        gain_tiers=_tiers(m, d, "gain", yt, sel),
        loss_tiers=_tiers(m, d, "loss", yt, sel),
        gateway=dict(d.structures[sel].gateway),
        loss_quality=dict(d.req.loss_quality) or None,
        group_limits=list(d.req.group_limits) or None,
        caps=_limits(m, d, "cap", yt),
        collars=_limits(m, d, "collar", yt),
        commissioner_split=d.req.commissioner_split,
    )


def agreement_from_solution(m, d: DesignData) -> tuple[Agreement, int]:
    """The agreement the loaded solution describes, and the index of its structure."""
    sel = selected_structure(m, d)
    base = _terms(m, d, 0, sel)
    overrides = {}
    for yt in range(1, d.term_years):
        t = _terms(m, d, yt, sel)
        diff = {
            k: getattr(t, k)
            for k in ("gain_tiers", "loss_tiers", "caps", "collars")
            if getattr(t, k) != getattr(base, k)
        }
        if diff:
            overrides[yt + 1] = YearOverride(**diff)
    agreement = Agreement(
        name=f"Designed: {d.case.name}",
        case=d.case.name,
        terms=base,
        year_overrides=overrides,
        aggregate_limits=d.req.aggregate_limits,
        notes=f"Designed by gainshare (objective: {d.req.objective}).",
    )
    return agreement, sel
