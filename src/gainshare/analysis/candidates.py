"""Candidate agreements side by side (SPEC section 4.5): the optimum, points on two trade-off
frontiers, a simple agreement and the fair references, all settled on the same scenarios.

1. **optimum**: the case's own objective (default: commissioners' expected retained savings).
2. **frontier**: commissioners' expected retained savings against the worst provider margin
   (epsilon-constraint on one persistent `Designer`) and against the probability that every
   party is kept whole (providers' keep-whole made *chance* at beta = 0.95, 0.9, 0.8: a new
   `Designer` per beta, because the keep-whole mode decides the model's rows and binaries).
   Points beaten on both axes by another point are dropped.
3. **simple**: one gain tier and one loss tier, shares in 5% steps, no quality gateway, caps or
   collars, the same terms every year.
4. **fair**: the agreements of the fair splits of the coalition savings game (Shapley,
   nucleolus, proportional, equal surplus) and of the bargaining points (Nash,
   Kalai-Smorodinsky, egalitarian) from `analysis.bargaining`: a fair split is a statement of
   each party's position, so each becomes the agreement whose expected positions by year come
   nearest to it under every requirement, never a set of pool shares.

Two candidates are **near-duplicates** when every share of every tier, year and party differs
by at most half a percentage point (loss shares only count when some scenario has a loss to
share, gain shares when some has a gain: otherwise they pay nothing) and every cap and collar
by at most 1%, with the same corridor, tier edges and gateway. Candidates are admitted in the
order optimum, simple, the first fair split and the first bargaining point, then frontier
points and the other fair and bargaining points (ends before middles, alternating between the
two frontiers, one other fair or bargaining point after each pair); one that is a
near-duplicate of a candidate admitted before is dropped, and admission stops at
`MAX_CANDIDATES`."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from itertools import zip_longest

import numpy as np
import pandas as pd

from gainshare.analysis.bargaining import Point, fair_agreements
from gainshare.analysis.coalitions import fair_references
from gainshare.analysis.frontier import (
    BETAS,
    FrontierPoint,
    keep_whole_points,
    margin_points,
    non_dominated,
    outcome_metrics,
    to_frame,
    with_provider_chance,
)
from gainshare.optimise.designer import Designer, DesignResult
from gainshare.schema.agreement import Agreement, Terms
from gainshare.schema.case import Case
from gainshare.schema.io import agreement_to_dict
from gainshare.schema.requirements import OBJECTIVE_WORDS
from gainshare.settle.check import CheckResult, requirement_met
from gainshare.units import money

MAX_CANDIDATES = 8
MIN_CANDIDATES = 4
SHARE_CLOSE = 0.005  # half a percentage point
LIMIT_CLOSE = 0.01  # caps and collars within 1%
DEFAULT_TIME_LIMIT = 5.0  # seconds per solve unless the case asks for less
SIMPLE_WORDS = "one tier, shares in 5% steps, no gateway, caps or collars, same terms every year"


@dataclass(frozen=True)
class Candidate:
    """One candidate agreement, re-settled by `check` on the case's scenarios."""

    label: str
    kind: str  # optimum | frontier | simple | fair | bargaining
    agreement: Agreement
    check: CheckResult  # against the requirement it was designed for
    metrics: dict
    method: str  # how it was found, in words
    requirement: str  # the keep-whole requirement it was designed for, in words
    meets_case: bool  # every party meets the case's own keep-whole requirement
    status: str = "optimal"  # optimal | time_limit (best found, see gap)
    gap: float | None = None

    @property
    def feasible(self) -> bool:
        """Meets the case's requirements (frontier points may meet a relaxed one only)."""
        return self.meets_case

    @property
    def document(self) -> dict:
        return {
            "label": self.label,
            "kind": self.kind,
            "method": self.method,
            "requirement": self.requirement,
            "status": self.status,
            "gap": self.gap,
            "meets_case_requirements": self.meets_case,
            "meets_own_requirement": self.check.all_kept_whole,
            "metrics": self.metrics,
            "agreement": agreement_to_dict(self.agreement),
        }


@dataclass(frozen=True)
class CandidatesResult:
    case: Case
    items: list[Candidate]
    frontier: pd.DataFrame  # one row per non-dominated frontier point
    scenarios: int
    timings: dict
    notes: list[str] = field(default_factory=list)
    dropped: list[dict] = field(default_factory=list)

    @property
    def feasible(self) -> bool:
        return any(c.feasible for c in self.items)

    @property
    def document(self) -> dict:
        """The `gainshare candidates --json` document."""
        rows = self.frontier.replace({np.nan: None}).to_dict(orient="records")
        return {
            "command": "candidates",
            "case": self.case.name,
            "currency": self.case.currency,
            "scenarios": self.scenarios,
            "years": self.case.horizon.years,
            "feasible": self.feasible,
            "candidates": [c.document for c in self.items],
            "frontier": rows,
            "dropped": self.dropped,
            "notes": self.notes,
            "timings": self.timings,
        }


# ------------------------------------------------------------------ near-duplicates


def _close(a: float, b: float, rel: float) -> bool:
    return abs(a - b) <= rel * max(abs(a), abs(b))


def _limits_close(la: dict, lb: dict) -> bool:
    if set(la) != set(lb):
        return False
    for pid, a in la.items():
        b = lb[pid]
        if (a.amount is None) != (b.amount is None):
            return False
        va = a.amount if a.amount is not None else a.share_of_expected
        vb = b.amount if b.amount is not None else b.share_of_expected
        if not _close(va, vb, LIMIT_CLOSE):
            return False
    return True


def _shares_close(sa: dict, sb: dict) -> bool:
    return all(abs(sa.get(p, 0.0) - sb.get(p, 0.0)) <= SHARE_CLOSE + 1e-12 for p in {*sa, *sb})


def _tiers_close(ta: list, tb: list) -> bool:
    if len(ta) != len(tb):
        return False
    return all(a.upto == b.upto and _shares_close(a.shares, b.shares)
               for a, b in zip(ta, tb, strict=True))  # fmt: skip


def _terms_close(ta: Terms, tb: Terms, gains: bool, losses: bool) -> bool:
    if ta.corridor != tb.corridor or ta.gateway != tb.gateway:
        return False
    if gains and not _tiers_close(ta.gain_tiers, tb.gain_tiers):
        return False
    if losses and not _tiers_close(ta.loss_tiers, tb.loss_tiers):
        return False
    if not (_limits_close(ta.caps, tb.caps) and _limits_close(ta.collars, tb.collars)):
        return False
    if (ta.commissioner_split is None) != (tb.commissioner_split is None):
        return False
    return ta.commissioner_split is None or _shares_close(ta.commissioner_split,
                                                          tb.commissioner_split)  # fmt: skip


def near_duplicate(a: Candidate, b: Candidate) -> bool:
    """Same terms within half a percentage point on shares and 1% on caps and collars."""
    xa, xb = a.check.settlement.shareable, b.check.settlement.shareable
    gains = bool((xa > 0).any() or (xb > 0).any())
    losses = bool((xa < 0).any() or (xb < 0).any())
    years = a.check.settlement.net.shape[1]
    return all(_terms_close(a.agreement.terms_for_year(y), b.agreement.terms_for_year(y),
                            gains, losses) for y in range(1, years + 1))  # fmt: skip


# ------------------------------------------------------------------ building candidates


def _meets_case(case: Case, check: CheckResult) -> bool:
    st = check.settlement
    w = st.econ.weights
    return all(requirement_met(st.net[:, :, j], w, case.keep_whole_for(pid))
               for j, pid in enumerate(st.econ.party_ids))  # fmt: skip


def _candidate(case: Case, label: str, kind: str, r: DesignResult, method: str,
               requirement: str = "the case's requirements") -> Candidate:  # fmt: skip
    return Candidate(
        label=label, kind=kind, agreement=r.agreement, check=r.check,
        metrics=outcome_metrics(case, r.check), method=method, requirement=requirement,
        meets_case=_meets_case(case, r.check), status=r.status, gap=r.gap,
    )  # fmt: skip


def _with_requirements(case: Case, **update) -> Case:
    req = case.requirements.model_dump() | update
    return Case.model_validate(case.model_dump() | {"requirements": req})


def simple_case(case: Case) -> Case:
    """The case's requirements with one tier, 5% steps, no gateway, caps, collars or glide path."""
    none: dict = {"gain_edges": [], "loss_edges": [], "gain_edge_options": [],
                  "loss_edge_options": [], "gateway": {}, "gateway_options": [], "caps": {},
                  "collars": {}, "search": None}  # fmt: skip
    return _with_requirements(case, rounding="5%", glide_path=False, **none)


def fair_candidate(case: Case, point: Point, method: str) -> Candidate:
    """A fair split's or bargaining point's agreement (`analysis.bargaining`) as a candidate:
    what the point means for the room, how far it stays from the fair payoff and why, and how
    it was found."""
    a = point.answer
    assert a is not None
    text = " ".join([f"{point.label}: {point.meaning}.", *point.sentences, method])
    return Candidate(point.label, point.kind, a.agreement, a.check,
                     outcome_metrics(case, a.check), text, "the case's requirements",
                     _meets_case(case, a.check))  # fmt: skip


def _fair_candidates(case: Case, scenarios, notes: list[str]) -> list[Candidate]:
    """The agreements of the fair splits and of the bargaining points (mean positions), in the
    order Shapley, Nash bargaining, then the others alternating between splits and points."""
    doc = fair_references(case, scenarios, agreements=False)
    notes.extend(f"fair references: {n}" for n in doc["notes"])
    found = fair_agreements(case, scenarios, doc, risk=False, compare_glide=False)
    notes.extend(f"fair agreements: {n}" for n in found.notes)
    fair = [p for p in found.points if p.kind == "fair" and p.answer is not None]
    barg = [p for p in found.points if p.kind == "bargaining" and p.answer is not None]
    order = fair[:1] + barg[:1] + [p for pair in zip_longest(fair[1:], barg[1:])
                                   for p in pair if p is not None]  # fmt: skip
    return [fair_candidate(case, p, found.method) for p in order]


def _simple_candidate(case: Case, scenarios, time_limit, notes) -> Candidate | None:
    r = Designer(simple_case(case), scenarios).solve(time_limit=time_limit, duals=False)
    if not r.ok:
        notes.append(f"simple ({SIMPLE_WORDS}): no such agreement meets every requirement")
        return None
    method = (
        f"design with {SIMPLE_WORDS}; objective: {OBJECTIVE_WORDS[case.requirements.objective]}"
    )
    return _candidate(case, "Simple", "simple", r, method)


# ------------------------------------------------------------------ frontier candidates


def _margin_candidate(case: Case, p: FrontierPoint, last: bool) -> Candidate:

    if p.label == "commissioners' optimum":  # listed only when the case's objective differs
        method = "design maximising commissioners' expected retained savings"
        return _candidate(case, "Commissioners' best", "frontier", p.result, method)
    label = "Max-min margin" if last else f"Margin {money(p.bound, case.currency)}"
    method = ("epsilon-constraint on the persistent design model: maximise commissioners' "
              "expected retained savings with every provider's net at least "
              f"{money(p.bound, case.currency)} in every scenario and year")  # fmt: skip
    return _candidate(case, label, "frontier", p.result, method)


def _beta_candidate(case: Case, p: FrontierPoint) -> Candidate:
    req = f"every provider kept whole in at least {100 * p.bound:g}% of the probability (chance)"
    method = ("design maximising commissioners' expected retained savings, on a model of its "
              "own (the keep-whole mode is part of the model's structure)")  # fmt: skip
    return _candidate(case, f"Whole {100 * p.bound:g}%", "frontier", p.result, method, req)


def _spread(n: int, first: int) -> list[int]:
    """Indices first..n-1 ordered ends first, then ever finer middles."""
    if n <= first:
        return []
    order = [n - 1] + ([first] if first < n - 1 else [])
    parts = 2
    while len(order) < n - first:
        for k in range(1, parts, 2):
            i = first + round(k * (n - 1 - first) / parts)
            if i not in order:
                order.append(i)
        parts *= 2
    return order


def _frontier_pool(case: Case, margin: list[FrontierPoint], whole: list[FrontierPoint],
                   skip_first: bool, fair: list[Candidate] | None = None,
                   ) -> list[tuple]:  # fmt: skip
    """(priority, position, candidate) of every frontier point and of the fair and bargaining
    points after the first two. Priority (lower is kept longer) alternates between the two
    frontiers, ends before middles, with one fair or bargaining point after each pair;
    position is the listing order: margin rising, then beta falling, then the fair points
    after the simple one. The robust point (beta 1) is the optimum's twin."""
    pool = []
    last = len(margin) - 1
    for rank, i in enumerate(_spread(len(margin), 1 if skip_first else 0)):
        pool.append((2 * rank, i, _margin_candidate(case, margin[i], i == last)))
    relaxed = [p for p in whole if p.bound < 1.0]
    for rank, j in enumerate(reversed(range(len(relaxed)))):
        pool.append((2 * rank + 1, 1000 + j, _beta_candidate(case, relaxed[j])))
    for rank, c in enumerate(fair or []):
        pool.append((2 * rank + 1.5, 20_000 + rank, c))
    return pool


# ------------------------------------------------------------------ selection


def select(head: list[Candidate], pool: list[tuple[int, int, Candidate]],
           tail: list[Candidate], dropped: list[dict]) -> list[Candidate]:  # fmt: skip
    """Admit the optimum, then the tail (simple, the first fair split and bargaining point),
    then the pool by priority; a candidate that is a near-duplicate of one admitted before is
    dropped, and admission stops at `MAX_CANDIDATES`. Listed as: optimum, frontier (margin
    rising, then beta falling), simple, fair and bargaining points."""
    chosen: list[tuple[int, Candidate]] = []

    def admit(position: int, c: Candidate) -> None:
        twin = next((k for _, k in chosen if near_duplicate(k, c)), None)
        if twin is not None:
            dropped.append({"label": c.label, "kind": c.kind, "reason": "near-duplicate",
                            "same_as": twin.label})  # fmt: skip
        elif len(chosen) >= MAX_CANDIDATES:
            dropped.append({"label": c.label, "kind": c.kind,
                            "reason": f"more than {MAX_CANDIDATES} candidates"})  # fmt: skip
        else:
            chosen.append((position, c))

    for c in head:
        admit(-1, c)
    for i, c in enumerate(tail):
        admit(10_000 + i, c)
    for _, position, c in sorted(pool, key=lambda t: t[0]):
        admit(position, c)
    return [c for _, c in sorted(chosen, key=lambda t: t[0])]


# ------------------------------------------------------------------ entry point


def _time_limit(case: Case, time_limit: float | None) -> float:
    if time_limit is not None:
        return time_limit
    return min(case.requirements.time_limit, DEFAULT_TIME_LIMIT)


def _all_robust(case: Case) -> bool:
    return all(case.keep_whole_for(p).mode == "robust" for p in case.provider_ids)


def candidates(
    case: Case,
    designer: Designer | None = None,
    *,
    n_points: int = 20,
    betas: tuple[float, ...] = BETAS,
    time_limit: float | None = None,
) -> CandidatesResult:
    """Distinct candidate agreements for `case`, compared on the same scenarios (SPEC 4.5).

    `designer`: a Designer built for `case` (e.g. a workshop's persistent one); its objective and
    margin floor are put back afterwards, and what-if changes made on it apply to the optimum and
    the worst-margin frontier (the other candidates are designed from `case`).
    `time_limit`: seconds per solve (default: the case's, at most 5 s); an answer cut short is
    kept, marked time_limit with its gap."""
    t0 = time.perf_counter()
    tl = _time_limit(case, time_limit)
    notes: list[str] = []
    dropped: list[dict] = []
    timings: dict[str, float] = {}
    d = designer if designer is not None else Designer(case)
    scenarios = d.scenarios

    t = time.perf_counter()
    opt = d.solve(time_limit=tl, duals=False)
    head = []
    if opt.ok:
        obj = OBJECTIVE_WORDS[opt.objective_name]
        head.append(_candidate(case, "Optimum", "optimum", opt, f"design, objective: {obj}"))
    else:
        notes.append(f"optimum: {opt.message}")
    timings["optimum_s"] = time.perf_counter() - t

    if case.requirements.group_limits:
        notes.append("frontier against the worst provider margin under group limits: its top "
                     "is the highest floor on the margin some agreement meets, found by "
                     "bisection (a design each step) within a pound or one part in "
                     "10,000")  # fmt: skip
    t = time.perf_counter()
    start = opt if opt.objective_name == "commissioners" else None
    margin = non_dominated(margin_points(d, n_points, tl, start), "worst_margin")
    timings["margin_frontier_s"] = time.perf_counter() - t

    t = time.perf_counter()
    reuse = {}
    if designer is None and margin and _all_robust(case) and margin[0].bound <= margin[-1].bound:
        if margin[0].label == "commissioners' optimum":
            reuse[1.0] = margin[0].result  # the robust design is the loop's first solve
    all_whole = keep_whole_points(case, betas, scenarios, tl, reuse, notes)
    whole = non_dominated(all_whole, "prob_all_whole")
    beaten = [p.label for p in all_whole if not any(p is q for q in whole)]
    if beaten:
        notes.append(f"left off the frontier, beaten on both axes by another point: "
                     f"{'; '.join(beaten)}")  # fmt: skip
    timings["keep_whole_frontier_s"] = time.perf_counter() - t

    t = time.perf_counter()
    simple = _simple_candidate(case, scenarios, tl, notes)
    timings["simple_s"] = time.perf_counter() - t
    t = time.perf_counter()
    fair = _fair_candidates(case, scenarios, notes)
    timings["fair_s"] = time.perf_counter() - t

    skip = bool(head) and opt.objective_name == "commissioners"
    pool = _frontier_pool(case, margin, whole, skip, fair[2:])
    items = select(head, pool, ([simple] if simple else []) + fair[:2], dropped)
    if len(items) < MIN_CANDIDATES:
        notes.append(f"only {len(items)} distinct candidates: the others coincide or are "
                     "infeasible (see dropped)")  # fmt: skip
    if not any(c.feasible for c in items):
        notes.append("no candidate meets every requirement of the case: run `gainshare explain`")
    _note_methods(notes, margin + whole, betas)
    timings["total_s"] = time.perf_counter() - t0
    timings = {k: round(v, 4) for k, v in timings.items()}
    frame = to_frame(margin + whole)
    return CandidatesResult(case, items, frame, scenarios.count, timings, notes, dropped)


def _note_methods(notes: list[str], points: list[FrontierPoint], betas) -> None:
    if betas:
        notes.append(
            "frontier against the probability every party is kept whole: providers' keep-whole "
            f"made chance at beta {', '.join(f'{b:g}' for b in betas)} (robust at 1), one design "
            "model per beta because the keep-whole mode is part of the model's structure"
        )
    cut = [p.label for p in points if p.result.status == "time_limit"]
    if cut:
        notes.append(f"stopped at the time limit, best found so far: {'; '.join(cut)}")


__all__ = ["Candidate", "CandidatesResult", "candidates", "near_duplicate", "simple_case",
           "with_provider_chance"]  # fmt: skip
