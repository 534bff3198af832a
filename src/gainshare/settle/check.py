"""`check`: settle an agreement over every scenario and year and summarise each party's
position against its keep-whole requirement. Solver-free; re-verifies every optimiser answer."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from gainshare.economics.model import Economics, compute
from gainshare.schema.agreement import Agreement
from gainshare.schema.case import Case, KeepWhole
from gainshare.settle.engine import Settlement, settle
from gainshare.settle.pence import Statements, statements

PENNY = 0.005  # half a penny: below this a shortfall is rounding, not a loss
MAX_LISTED = 100


def expect(w: np.ndarray, a: np.ndarray) -> np.ndarray:
    """Probability-weighted sum over the first (scenario) axis. einsum, not a BLAS product:
    on a small shared machine BLAS threads cost more than they save on these shapes."""
    return np.einsum("s,s...->...", w, a)


def weighted_cvar(loss: np.ndarray, weights: np.ndarray, beta: float) -> float:
    """Expected value of `loss` (S,), zero or more, over the worst 1-beta of probability mass."""
    alpha = 1.0 - beta
    if alpha <= 0:
        return float(loss.max(initial=0.0))
    positive = loss > 0
    if weights[positive].sum() <= alpha:  # the whole tail is the positive losses and zeros
        return float(expect(weights[positive], loss[positive]) / alpha)
    loss, weights = loss[positive], weights[positive]  # zeros never raise the tail's mean
    order = np.argsort(-loss, kind="stable")
    lw, wv = loss[order], weights[order]
    before = np.concatenate([[0.0], np.cumsum(wv)[:-1]])
    take = np.clip(alpha - before, 0.0, wv)
    return float((lw * take).sum() / alpha)


def shortfall_by_scenario(net: np.ndarray, kw: KeepWhole) -> np.ndarray:
    """(S,) worst yearly shortfall below the keep-whole line (-tolerance for robust/chance,
    zero for cvar, whose tolerance bounds the expected shortfall), over the years the
    requirement applies (from `from_year`)."""
    return np.maximum(kw.line() - net[:, kw.from_year - 1 :], 0.0).max(axis=1)


def requirement_met(net: np.ndarray, weights: np.ndarray, kw: KeepWhole) -> bool:
    """Whether a party's (S, Y) net positions satisfy its keep-whole requirement."""
    if kw.mode == "none":
        return True
    sf = shortfall_by_scenario(net, kw)
    if kw.mode == "robust":
        return bool((sf <= PENNY).all())
    if kw.mode == "chance":
        return bool(weights[sf <= PENNY].sum() >= kw.beta - 1e-9)
    return weighted_cvar(sf, weights, kw.beta) <= kw.tolerance + PENNY


def _party_arrays(st: Settlement) -> dict[str, np.ndarray]:
    """Expected horizon totals (P,) a party summary reads, each computed once for all parties:
    sum over years first, then one probability-weighted sum over scenarios."""
    e, w = st.econ, st.econ.weights
    arrays = {
        "net": st.net,
        "transfer": st.transfer,
        "retained": st.retained_by,
        "revenue": e.revenue_change * e.is_provider,
        "cost": e.total_cost_change,
        "benefit": e.benefit,
        "stranded": e.stranded_fixed_cost,
        "unfunded": e.unfunded_activity,
    }
    return {k: np.einsum("s,syp->p", w, v) for k, v in arrays.items()}


def _party_summary(st: Settlement, j: int, kw: KeepWhole, arrays: dict[str, np.ndarray]) -> dict:
    e, w = st.econ, st.econ.weights
    net = st.net[:, :, j]
    sf = shortfall_by_scenario(net, kw)
    whole = sf <= PENNY

    def wsum(name: str) -> float:  # expected horizon total, pounds to the penny
        return round(float(arrays[name][j]), 2)

    return {
        "role": "both"
        if e.is_provider[j] and e.is_commissioner[j]
        else ("provider" if e.is_provider[j] else "commissioner"),
        "expected_net": wsum("net"),
        "expected_net_by_year": [round(float(v), 2) for v in expect(w, net)],
        "worst_net": round(float(net.min()), 2),
        "worst_total_net": round(float(net.sum(axis=1).min()), 2),
        "best_net": round(float(net.max()), 2),
        "prob_whole": round(float(w[whole].sum()), 6),
        "cvar_shortfall": round(weighted_cvar(sf, w, kw.beta if kw.mode != "none" else 0.95), 2),
        "expected_transfer": wsum("transfer"),
        "expected_retained": wsum("retained"),
        "expected_revenue_change": wsum("revenue"),
        "expected_cost_change": wsum("cost"),
        "expected_benefit": wsum("benefit"),
        "stranded_fixed_cost_expected": wsum("stranded"),
        "unfunded_activity_expected": wsum("unfunded"),
        "requirement": {
            "mode": kw.mode,
            "beta": kw.beta,
            "tolerance": kw.tolerance,
            "from_year": kw.from_year,
            "met": requirement_met(net, w, kw),
        },
    }


def _violations(st: Settlement, case: Case) -> tuple[list[dict], int]:
    e = st.econ
    kws = [case.keep_whole_for(p) for p in e.party_ids]
    line = np.array([kw.line() for kw in kws])
    Y = st.net.shape[1]
    applies = np.array(
        [[kw.mode != "none" and y + 1 >= kw.from_year for kw in kws] for y in range(Y)]
    )  # (Y, P)
    short = (line[None, None, :] - st.net) * applies[None, :, :]
    s_idx, y_idx, p_idx = np.nonzero(short > PENNY)
    vals = short[s_idx, y_idx, p_idx]
    total = int(len(vals))
    if total > MAX_LISTED:  # keep the worst (ties at the edge included) before sorting
        edge = np.partition(vals, total - MAX_LISTED)[total - MAX_LISTED]
        keep = vals >= edge
        s_idx, y_idx, p_idx, vals = s_idx[keep], y_idx[keep], p_idx[keep], vals[keep]
    order = np.lexsort((p_idx, y_idx, s_idx, -vals))[:MAX_LISTED]
    out = [
        {
            "party": e.party_ids[p_idx[i]],
            "scenario": e.scenario_names[s_idx[i]],
            "year": int(y_idx[i]) + 1,
            "year_label": e.year_labels[y_idx[i]],
            "shortfall": round(float(vals[i]), 2),
        }
        for i in order
    ]
    return out, total


def _distribution(a: np.ndarray, w: np.ndarray) -> dict:
    """Expected value, worst and best of a per-scenario horizon total (S,)."""
    return {
        "expected": round(float(expect(w, a)), 2),
        "worst": round(float(a.min()), 2),
        "best": round(float(a.max()), 2),
    }


@dataclass(frozen=True)
class CheckResult:
    """Outcome of `check`: the JSON document plus the arrays and tables behind it."""

    document: dict
    settlement: Settlement
    pence: Statements

    @property
    def all_kept_whole(self) -> bool:
        return bool(self.document["all_kept_whole"])

    def parties_table(self) -> pd.DataFrame:
        rows = [{"party": pid} | {k: v for k, v in d.items() if not isinstance(v, list | dict)}
                for pid, d in self.document["by_party"].items()]  # fmt: skip
        return pd.DataFrame(rows).set_index("party")

    def violations_table(self) -> pd.DataFrame:
        return pd.DataFrame(self.document["violations"])


def summarise(case: Case, agreement: Agreement, st: Settlement) -> CheckResult:
    e, w = st.econ, st.econ.weights
    pen = statements(st)
    arrays = _party_arrays(st)
    by_party = {
        pid: _party_summary(st, j, case.keep_whole_for(pid), arrays)
        for j, pid in enumerate(e.party_ids)
    }
    viol, total = _violations(st, case)
    all_whole = all(d["requirement"]["met"] for d in by_party.values())
    doc = {
        "command": "check",
        "case": case.name,
        "agreement": agreement.name,
        "currency": case.currency,
        "scenarios": len(e.scenario_names),
        "years": len(e.year_labels),
        "year_labels": e.year_labels,
        "all_kept_whole": all_whole,
        "system_savings": _distribution(st.system_savings.sum(axis=1), w),
        "pool": _distribution(st.pool.sum(axis=1), w),
        "retained": _distribution(st.retained.sum(axis=1), w),
        "by_party": by_party,
        "violations": viol,
        "violations_total": total,
        "identities": identities(st, pen),
    }
    return CheckResult(document=doc, settlement=st, pence=pen)


def identities(st: Settlement, pen: Statements) -> dict:
    """The SPEC section 3 identities, in pounds (float) and in whole pence (exact)."""
    conserv = np.abs(st.transfer.sum(axis=2) + st.retained - st.pool).max()
    savings = np.abs(st.net.sum(axis=2) - st.system_savings).max()
    pen_pool = (pen.transfer.sum(axis=2) + pen.retained.sum(axis=2) == pen.pool).all()
    pen_sav = (pen.net.sum(axis=2) == pen.system_savings).all()
    return {
        "pool_conserved_max_error": float(conserv),
        "savings_identity_max_error": float(savings),
        "pence_pool_exact": bool(pen_pool),
        "pence_savings_exact": bool(pen_sav),
    }


def check(case: Case, agreement: Agreement, econ: Economics | None = None) -> CheckResult:
    """Settle `agreement` on `case` over every scenario and year (SPEC section 4.1)."""
    e = econ if econ is not None else compute(case)
    return summarise(case, agreement, settle(e, agreement))
