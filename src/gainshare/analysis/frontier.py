"""Trade-off frontiers by the epsilon-constraint method (SPEC section 4.5).

- **Commissioners against the worst provider margin**, on one persistent `Designer`: maximise
  the commissioners' expected retained savings, then the worst provider margin (max-min), then
  maximise the commissioners again with every provider's net at least `eps` in every scenario
  and year, for `eps` from the margin at the commissioners' optimum up to the max-min margin.
  Only a mutable parameter changes between solves: the model is built once.
- **Commissioners against the probability that every party is kept whole**: the providers'
  keep-whole requirement becomes *chance* at level beta (robust at beta = 1). The mode decides
  which rows and binaries the model has, so each beta is a new `Designer` on the same scenarios.

Every point is an agreement re-settled by `check` (the designer refuses one that does not
re-settle to the penny); its coordinates are measured on that settlement, not read from the
solver. Points another point beats on both axes are dropped."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from gainshare.optimise.designer import Designer, DesignResult
from gainshare.schema.case import Case
from gainshare.settle.check import PENNY, CheckResult
from gainshare.settle.engine import Settlement
from gainshare.units import money

MARGIN_BACKOFF = 0.01  # pounds: the last point asks for the max-min margin less a penny
MONEY_TOL = 0.01  # pounds: closer than this on an axis counts as equal
PROB_TOL = 1e-9
BETAS = (1.0, 0.95, 0.9, 0.8)
COLUMNS = ["label", "against", "bound", "commissioners_expected", "worst_margin",
           "prob_all_whole", "status", "gap"]  # fmt: skip


@dataclass(frozen=True)
class FrontierPoint:
    """One solve of an epsilon-constraint loop and what its agreement achieves."""

    label: str
    against: str  # worst_margin | prob_all_whole
    bound: float  # eps (pounds) or beta
    result: DesignResult
    metrics: dict

    def row(self) -> dict:
        m = self.metrics
        return {
            "label": self.label,
            "against": self.against,
            "bound": round(self.bound, 2) if self.against == "worst_margin" else self.bound,
            "commissioners_expected": m["commissioners_expected"],
            "worst_margin": m["worst_margin"],
            "prob_all_whole": m["prob_all_whole"],
            "status": self.result.status,
            "gap": self.result.gap,
        }


# ------------------------------------------------------------------ measures


def prob_all_whole(case: Case, st: Settlement) -> float:
    """Probability that no party ends any year below minus its tolerance (every party, whatever
    its keep-whole mode: the question is whether anyone is worse off than without the scheme)."""
    tol = np.array([case.keep_whole_for(p).tolerance for p in st.econ.party_ids])
    whole = (st.net >= -tol[None, None, :] - PENNY).all(axis=(1, 2))
    return float(st.econ.weights[whole].sum())


def outcome_metrics(case: Case, result: CheckResult) -> dict:
    """The figures candidates are compared on, from a check of the agreement."""
    doc = result.document
    by = doc["by_party"]
    provs = [p for p in case.provider_ids if p in by]
    return {
        "commissioners_expected": doc["retained"]["expected"],
        "worst_margin": min((by[p]["worst_net"] for p in provs), default=None),
        "prob_all_whole": round(prob_all_whole(case, result.settlement), 6),
        "system_savings_expected": doc["system_savings"]["expected"],
        "expected_net": {p: d["expected_net"] for p, d in by.items()},
        "worst_net": {p: d["worst_net"] for p, d in by.items()},
        "prob_whole": {p: d["prob_whole"] for p, d in by.items()},
    }


# ------------------------------------------------------------------ non-dominated filter


def _beats(a: dict, b: dict, y: str) -> bool:
    """a is at least as good as b on both axes (within tolerance) and better on one, or equal
    on both (then the earlier point is kept by the caller)."""
    ytol = PROB_TOL if y == "prob_all_whole" else MONEY_TOL
    ca, cb = a["commissioners_expected"], b["commissioners_expected"]
    ya, yb = a[y], b[y]
    return ca >= cb - MONEY_TOL and ya >= yb - ytol


def non_dominated(points: list[FrontierPoint], y: str) -> list[FrontierPoint]:
    """Points no other point beats on commissioners' expected retained savings and `y`
    (worst_margin or prob_all_whole); of equal points the first is kept."""
    keep = []
    for i, p in enumerate(points):
        beaten = False
        for j, q in enumerate(points):
            if i == j or not _beats(q.metrics, p.metrics, y):
                continue
            equal = _beats(p.metrics, q.metrics, y)
            if not equal or j < i:
                beaten = True
                break
        if not beaten:
            keep.append(p)
    return keep


def to_frame(points: list[FrontierPoint]) -> pd.DataFrame:
    return pd.DataFrame([p.row() for p in points], columns=COLUMNS)


# ------------------------------------------------------------------ worst margin


def _state(designer: Designer) -> tuple[str, float | None]:
    """The designer's objective and margin floor, to put back afterwards."""
    return designer._objective, designer.case.requirements.worst_margin_min


def _point(case: Case, label: str, against: str, bound: float, r: DesignResult) -> FrontierPoint:
    return FrontierPoint(label, against, bound, r, outcome_metrics(case, r.check))


def margin_points(
    designer: Designer,
    n_points: int = 20,
    time_limit: float | None = None,
    start: DesignResult | None = None,
) -> list[FrontierPoint]:
    """Every solve of the commissioners-against-worst-margin loop, in rising `eps` (dominated
    points included). `start`: the designer's latest answer when its objective was already the
    commissioners' and nothing has changed since (saves one solve). The designer's objective and
    margin floor are put back afterwards."""

    case = designer.case
    if not case.provider_ids or n_points < 1:
        return []
    objective, floor = _state(designer)
    try:
        designer.set_objective("commissioners")
        first = start if start is not None else designer.solve(time_limit=time_limit, duals=False)
        if not first.ok:
            return []
        lo = outcome_metrics(case, first.check)["worst_margin"]
        points = [_point(case, "commissioners' optimum", "worst_margin", lo, first)]
        if n_points < 2:
            return points
        if case.requirements.group_limits:  # no worst-margin aim: the highest floor instead
            top = designer.highest_floor(first, time_limit).result
        else:
            designer.set_objective("worst_margin")
            top = designer.solve(time_limit=time_limit, duals=False)
        if not top.ok:
            return points
        hi = outcome_metrics(case, top.check)["worst_margin"]
        if hi - lo <= MONEY_TOL:
            return points
        designer.set_objective("commissioners")
        # the floor only rises along the loop (from the optimum's own margin): what each
        # structure could give at one point bounds it at the next
        ceilings = first.ceilings
        for i in range(1, n_points):
            eps = lo + (hi - lo) * i / (n_points - 1)
            eps = min(eps, hi - MARGIN_BACKOFF)
            designer.set_margin_min(eps)
            r = designer.solve(time_limit=time_limit, duals=False, ceilings=ceilings)
            ceilings = r.ceilings
            if r.ok:
                label = f"worst margin >= {money(eps, case.currency)}"
                points.append(_point(case, label, "worst_margin", eps, r))
        return points
    finally:
        designer.set_objective(objective)
        designer.set_margin_min(floor)


def frontier(
    designer: Designer, n_points: int = 20, time_limit: float | None = None
) -> pd.DataFrame:
    """Commissioners' expected retained savings against the worst provider margin: one row per
    non-dominated point (columns `COLUMNS`), in rising margin."""
    return to_frame(non_dominated(margin_points(designer, n_points, time_limit), "worst_margin"))


# ------------------------------------------------------------------ probability kept whole


def with_provider_chance(case: Case, beta: float) -> Case:
    """The case with every provider kept whole in at least `beta` of the probability (robust at
    beta = 1), tolerances unchanged, objective the commissioners' expected retained savings."""
    kw = {pid: k.model_dump() for pid, k in case.keep_whole.items()}
    for pid in case.provider_ids:
        tol = case.keep_whole_for(pid).tolerance
        kw[pid] = ({"mode": "robust", "tolerance": tol} if beta >= 1.0
                   else {"mode": "chance", "beta": beta, "tolerance": tol})  # fmt: skip
    req = case.requirements.model_dump() | {"objective": "commissioners"}
    return Case.model_validate(case.model_dump() | {"keep_whole": kw, "requirements": req})


def beta_label(beta: float) -> str:
    if beta >= 1.0:
        return "providers whole in every scenario"
    return f"providers whole in >= {100 * beta:g}% of scenarios"


def keep_whole_points(
    case: Case,
    betas: tuple[float, ...] = BETAS,
    scenarios=None,
    time_limit: float | None = None,
    reuse: dict[float, DesignResult] | None = None,
    notes: list[str] | None = None,
) -> list[FrontierPoint]:
    """One design per beta (a new Designer each: the keep-whole mode is structural), on the same
    scenarios. `reuse` maps a beta to a result already solved for exactly that case; a beta
    without an answer is said in `notes`."""
    points = []
    # the designs differ only in the providers' keep-whole level: they share solved sides, and
    # each chance side is solved for every beta's budget at once
    cache: dict = {}
    budgets = tuple(1.0 - b for b in betas if b < 1.0)
    for beta in betas:
        r = (reuse or {}).get(beta)
        if r is None:
            r = Designer(with_provider_chance(case, beta), scenarios, cache=cache,
                         chance_budgets=budgets).solve(time_limit=time_limit,
                                                       duals=False)  # fmt: skip
        if r.ok:
            points.append(_point(case, beta_label(beta), "prob_all_whole", beta, r))
        elif notes is not None:
            notes.append(f"{beta_label(beta)}: no agreement ({r.status}): {r.message}")
    return points
