"""`check`: settle an agreement over every scenario and year and summarise each party's
position against its keep-whole requirement. Solver-free; re-verifies every optimiser answer."""

from __future__ import annotations

from functools import cached_property

import numpy as np
import pandas as pd

from gainshare.economics.effects import scheme_effects
from gainshare.economics.model import Economics, compute, party_sum
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


def horizon_total(a: np.ndarray) -> np.ndarray:
    """(S, Y) -> (S,): each scenario's total over the years, added in year order (as
    `party_sum` adds parties: a reduction over a short last axis is several times slower)."""
    return party_sum(a)


def _worst_over_years(a: np.ndarray) -> np.ndarray:
    """(S, Y) -> (S,): the largest value of each scenario over the years, a year at a time."""
    out = a[:, 0].copy()
    for y in range(1, a.shape[1]):
        np.maximum(out, a[:, y], out=out)
    return out


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
    return np.maximum(_worst_over_years(kw.line() - net[:, kw.from_year - 1 :]), 0.0)


def requirement_met(net: np.ndarray, weights: np.ndarray, kw: KeepWhole) -> bool:
    """Whether a party's (S, Y) net positions satisfy its keep-whole requirement."""
    if kw.mode == "none":
        return True
    if kw.mode == "robust":  # the same test as every shortfall <= PENNY, in one pass
        return bool((kw.line() - net[:, kw.from_year - 1 :]).max() <= PENNY)
    sf = shortfall_by_scenario(net, kw)
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
    if e.outside_pool is not None:
        arrays["outside_pool"] = e.outside_pool
    return {k: np.einsum("s,syp->p", w, v) for k, v in arrays.items()}


def _role(e: Economics, j: int) -> str:
    if e.is_provider[j] and e.is_commissioner[j]:
        return "both"
    if e.is_provider[j] or e.is_commissioner[j]:
        return "provider" if e.is_provider[j] else "commissioner"
    return "risk_partner"


def _party_summary(
    st: Settlement, j: int, kw: KeepWhole, arrays: dict[str, np.ndarray], met: bool, net
) -> dict:
    """One party's summary; `net` is its (S, Y) net positions (contiguous)."""
    e, w = st.econ, st.econ.weights
    sf = shortfall_by_scenario(net, kw)
    whole = sf <= PENNY

    def wsum(name: str) -> float:  # expected horizon total, pounds to the penny
        return round(float(arrays[name][j]), 2)

    out = {
        "role": _role(e, j),
        "expected_net": wsum("net"),
        "expected_net_by_year": [round(float(v), 2) for v in expect(w, net)],
        "worst_net": round(float(net.min()), 2),
        "worst_total_net": round(float(horizon_total(net).min()), 2),
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
            "met": met,
        },
    }
    if "outside_pool" in arrays:  # only for a case with money paid outside the pool
        out["expected_outside_pool"] = wsum("outside_pool")
    return out


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


def _distribution(a: np.ndarray, w: np.ndarray, expected: float | None = None) -> dict:
    """Expected value (when not already known), worst and best of a per-scenario horizon
    total (S,)."""
    return {
        "expected": round(float(expect(w, a)), 2) if expected is None else expected,
        "worst": round(float(a.min()), 2),
        "best": round(float(a.max()), 2),
    }


class CheckResult:
    """Outcome of `check`: the settlement, and (computed when first asked for) the JSON
    document and the statements in whole pence. The keep-whole verdicts and the headline
    expectations an optimiser answer is verified against are cheap and computed from the
    settlement directly; the document reports the same numbers.

    `incentives`, when given, is the analysis of how each party's position moves as the scheme
    grows (`gainshare.analysis.incentives`); the document then carries its `document` under the
    key `incentives`. `check` itself leaves it out: it re-settles the agreement once per step."""

    def __init__(self, case: Case, agreement: Agreement, settlement: Settlement, incentives=None):
        self.case, self.agreement, self.settlement = case, agreement, settlement
        self.incentives = incentives

    @cached_property
    def pence(self) -> Statements:
        return statements(self.settlement)

    @cached_property
    def requirement_met(self) -> dict[str, bool]:
        """Whether each party's keep-whole requirement is met, by party id."""
        st = self.settlement
        e = st.econ
        return {
            pid: requirement_met(st.net[:, :, j], e.weights, self.case.keep_whole_for(pid))
            for j, pid in enumerate(e.party_ids)
        }

    @property
    def all_kept_whole(self) -> bool:
        return all(self.requirement_met.values())

    @cached_property
    def expected_retained(self) -> float:
        """Commissioners' expected retained savings over the horizon, to the penny."""
        st = self.settlement
        return round(float(expect(st.econ.weights, horizon_total(st.retained))), 2)

    @cached_property
    def expected_system_savings(self) -> float:
        st = self.settlement
        return round(float(expect(st.econ.weights, horizon_total(st.system_savings))), 2)

    @cached_property
    def worst_provider_net(self) -> float | None:
        """The lowest net position of any provider in any scenario and year (pounds)."""
        st = self.settlement
        prov = st.econ.is_provider
        return float(st.net[:, :, prov].min()) if prov.any() else None

    @cached_property
    def document(self) -> dict:
        return _document(self)

    def parties_table(self) -> pd.DataFrame:
        rows = [{"party": pid} | {k: v for k, v in d.items() if not isinstance(v, list | dict)}
                for pid, d in self.document["by_party"].items()]  # fmt: skip
        return pd.DataFrame(rows).set_index("party")

    def violations_table(self) -> pd.DataFrame:
        return pd.DataFrame(self.document["violations"])


def _document(result: CheckResult) -> dict:
    case, agreement, st = result.case, result.agreement, result.settlement
    e, w = st.econ, st.econ.weights
    pen = result.pence
    arrays = _party_arrays(st)
    by_party_net = np.ascontiguousarray(np.moveaxis(st.net, 2, 0))  # (P, S, Y): one copy
    by_party = {
        pid: _party_summary(
            st, j, case.keep_whole_for(pid), arrays, result.requirement_met[pid], by_party_net[j]
        )
        for j, pid in enumerate(e.party_ids)
    }
    viol, total = _violations(st, case)
    retained = _distribution(horizon_total(st.retained), w, result.expected_retained)
    savings = _distribution(horizon_total(st.system_savings), w, result.expected_system_savings)
    doc = {
        "command": "check",
        "case": case.name,
        "agreement": agreement.name,
        "currency": case.currency,
        "scenarios": len(e.scenario_names),
        "years": len(e.year_labels),
        "year_labels": e.year_labels,
        "all_kept_whole": result.all_kept_whole,
        "system_savings": savings,
        "pool": _distribution(horizon_total(st.pool), w),
        "retained": retained,
        "by_party": by_party,
        "violations": viol,
        "violations_total": total,
        "identities": identities(st, pen),
    }
    if case.cohorts and e.scenarios is not None:  # schemes drawing on shared cohorts
        doc["schemes"] = scheme_effects(case, e)
    if result.incentives is not None:
        doc["incentives"] = result.incentives.document
    return doc


def identities(st: Settlement, pen: Statements) -> dict:
    """The SPEC section 3 identities, in pounds (float) and in whole pence (exact)."""
    conserv = np.abs(party_sum(st.transfer) + st.retained - st.pool).max()
    savings = np.abs(party_sum(st.net) - st.system_savings).max()
    pen_pool = (party_sum(pen.transfer) + party_sum(pen.retained) == pen.pool).all()
    pen_sav = (party_sum(pen.net) == pen.system_savings).all()
    return {
        "pool_conserved_max_error": float(conserv),
        "savings_identity_max_error": float(savings),
        "pence_pool_exact": bool(pen_pool),
        "pence_savings_exact": bool(pen_sav),
    }


def check(case: Case, agreement: Agreement, econ: Economics | None = None) -> CheckResult:
    """Settle `agreement` on `case` over every scenario and year (SPEC section 4.1)."""
    e = econ if econ is not None else compute(case)
    return CheckResult(case, agreement, settle(e, agreement))
