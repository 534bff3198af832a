"""`explain`: when no agreement meets every requirement, find the smallest relaxation that would
(elastic slacks on the requirements, weighted by kind) and say it in words: which requirements
conflict, in which scenarios and years, and by how much each must give. The relaxed case is
designed again to prove that the relaxation works. See models/explain.md."""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field, replace

import numpy as np
import pyomo.environ as pyo
from pyomo.contrib.solver.common.results import TerminationCondition
from pyomo.contrib.solver.solvers.highs import Highs

from gainshare.optimise.data import build_data
from gainshare.optimise.design_model import build_design_model, trivial_shortfalls
from gainshare.optimise.designer import DesignResult, design
from gainshare.optimise.extract import agreement_from_solution
from gainshare.optimise.highs import pyomo_solve
from gainshare.optimise.space import stated_structure
from gainshare.schema.case import Case
from gainshare.settle.check import PENNY, check
from gainshare.units import money

MONEY_KINDS = (
    "keep_whole",
    "commissioners_min",
    "commissioners_worst",
    "margin_min",
    "savings_min",
)
SHARE_KINDS = ("share_min", "share_max", "chance", "fair_distance")
KINDS = MONEY_KINDS + SHARE_KINDS
GROUPS = {
    "the providers' protection": ("keep_whole", "chance", "margin_min"),
    "the commissioners' savings": ("commissioners_min", "commissioners_worst", "savings_min"),
    "the share bounds": ("share_min", "share_max", "fair_distance"),
}
DEFAULT_WEIGHTS = {k: 1.0 for k in KINDS}


@dataclass(frozen=True)
class Relaxation:
    requirement: str  # e.g. keep_whole.acute
    kind: str
    party: str | None
    amount: float  # pounds, or a fraction for shares and probabilities
    unit: str  # "pounds" | "share" | "probability" | "distance"
    words: str


@dataclass(frozen=True)
class ExplainResult:
    status: str  # feasible | infeasible | unresolvable
    sentences: list[str]
    relaxations: list[Relaxation] = field(default_factory=list)
    alternatives: list[dict] = field(default_factory=list)
    shortfalls: dict = field(default_factory=dict)  # party -> summary of where it falls short
    relaxed_case: Case | None = None
    verified: bool | None = None
    tightest: list[dict] = field(default_factory=list)
    timings: dict = field(default_factory=dict)

    @property
    def document(self) -> dict:
        return {
            "command": "explain",
            "status": self.status,
            "explanation": self.sentences,
            "relaxations": [r.__dict__ for r in self.relaxations],
            "alternatives": self.alternatives,
            "shortfalls": self.shortfalls,
            "relaxation_verified": self.verified,
            "tightest": self.tightest,
            "timings": self.timings,
        }


def _weights(data, user: dict[str, float] | None) -> dict[str, float]:
    """Per model unit of slack: money slacks per model pound; shares, probabilities and
    distances per 0.01, priced at 1% of the mean yearly pool (so 1 percentage point weighs
    as much as 1% of the pool)."""
    w = DEFAULT_WEIGHTS | (user or {})
    pool = float(np.abs(data.pool).mean()) or 1.0
    return {k: w[k] * (pool if k in SHARE_KINDS else 1.0) for k in KINDS}


def _solve_elastic(case: Case, kinds: tuple[str, ...], weights: dict | None):
    data = build_data(case)
    data = replace(data, elastic=frozenset(kinds), relax_weights=_weights(data, weights))
    m = build_design_model(data)
    if trivial_shortfalls(m):  # short with nothing to share, and that requirement may not give
        return None
    opt = Highs()
    res = pyomo_solve(
        opt,
        m,
        load_solutions=False,
        raise_exception_on_nonoptimal_result=False,
        time_limit=case.requirements.time_limit,
    )
    if res.termination_condition != TerminationCondition.convergenceCriteriaSatisfied:
        return None
    res.solution_loader.load_vars()
    return data, m


def _present_kinds(case: Case) -> tuple[str, ...]:
    r = case.requirements
    kinds = {"keep_whole"}
    if any(case.keep_whole_for(p).mode == "chance" for p in case.party_ids):
        kinds.add("chance")
    for kind, field_name in (
        ("commissioners_min", "commissioners_min_expected"),
        ("commissioners_worst", "commissioners_worst_year"),
        ("margin_min", "worst_margin_min"),
        ("savings_min", "system_savings_min"),
        ("fair_distance", "fair_distance_max"),
    ):
        if getattr(r, field_name) is not None:
            kinds.add(kind)
    if (
        r.share_bounds
        or r.loss_share_bounds
        or r.driver_min_gain_share
        or r.fixed_gain_shares
        or r.fixed_loss_shares
    ):
        kinds |= {"share_min", "share_max"}
    return tuple(k for k in KINDS if k in kinds)


def _relaxations(case: Case, data, m) -> list[Relaxation]:
    if not hasattr(m, "relax"):
        return []
    out = []
    for key, var in m.relax.items():
        v = float(var.value or 0.0)
        if v <= 1e-9:
            continue
        kind = key[0]
        amount = v * data.scale if kind in MONEY_KINDS else v
        out.append(_describe(case, data, key, amount))
    return sorted(out, key=lambda r: (KINDS.index(r.kind), r.requirement))


def _describe(case: Case, data, key: tuple, amount: float) -> Relaxation:
    kind, cur = key[0], case.currency
    req = case.requirements
    if kind in ("keep_whole", "chance"):
        pid = data.party_ids[key[1]]
        name, kw = case.party(pid).name, case.keep_whole_for(pid)
        if kind == "chance":
            words = (
                f"{name} is kept whole in {100 * (kw.beta - amount):.1f}% of scenarios "
                f"instead of {100 * kw.beta:.1f}%"
            )
            return Relaxation(f"keep_whole.{pid}.beta", kind, pid, amount, "probability", words)
        if kw.mode == "cvar":
            words = (
                f"{name}'s expected shortfall in the worst {100 * (1 - kw.beta):.0f}% of "
                f"scenarios may rise from {money(kw.tolerance, cur)} to "
                f"{money(kw.tolerance + amount, cur)}"
            )
        else:
            words = (
                f"{name} accepts being up to {money(kw.tolerance + amount, cur)} a year "
                f"worse off (its tolerance rises by {money(amount, cur)})"
            )
        return Relaxation(f"keep_whole.{pid}", kind, pid, amount, "pounds", words)
    if kind in ("share_min", "share_max"):
        _, side, pid = key
        name = case.party(pid).name
        which = "minimum" if kind == "share_min" else "maximum"
        verb = "falls" if kind == "share_min" else "rises"
        words = f"{name}'s {which} {side} share {verb} by {100 * amount:.2f} percentage points"
        return Relaxation(f"{kind}.{side}.{pid}", kind, pid, amount, "share", words)
    texts = {
        "commissioners_min": (
            f"the commissioners accept {money(amount, cur)} less expected "
            f"savings (from {money(req.commissioners_min_expected or 0, cur)})"
        ),
        "commissioners_worst": (
            f"the commissioners accept a worst year {money(amount, cur)} lower"
        ),
        "margin_min": f"every provider's minimum margin falls by {money(amount, cur)}",
        "savings_min": f"the required expected system savings fall by {money(amount, cur)}",
        "fair_distance": f"the agreement may sit {amount:.4f} further from the reference split",
    }
    unit = "distance" if kind == "fair_distance" else "pounds"
    return Relaxation(kind, kind, None, amount, unit, texts[kind])


def _label(case: Case, r: Relaxation) -> str:
    """A requirement's name in words."""
    who = case.party(r.party).name if r.party else ""
    return {
        "keep_whole": f"keeping {who} whole",
        "chance": f"keeping {who} whole in enough scenarios",
        "share_min": f"{who}'s minimum share",
        "share_max": f"{who}'s maximum share",
        "commissioners_min": "the commissioners' minimum expected savings",
        "commissioners_worst": "the commissioners' worst-year limit",
        "margin_min": "the providers' minimum margin",
        "savings_min": "the required system savings",
        "fair_distance": "closeness to the reference split",
    }[r.kind]


def _up(v: float, unit: str) -> float:
    """Round a relaxation up, with a small cushion, so the relaxed case is safely feasible."""
    if unit == "pounds":
        return math.ceil(v * 100) / 100 + 0.01
    return v + 1e-6


def apply_relaxations(case: Case, relaxations: list[Relaxation]) -> Case:
    """The case with every relaxation applied (a new, validated Case)."""
    data = case.model_dump()
    kw = {pid: case.keep_whole_for(pid).model_dump() for pid in case.party_ids}
    req = data["requirements"]
    for r in relaxations:
        a = _up(r.amount, r.unit)
        if r.kind == "keep_whole":
            kw[r.party]["tolerance"] += a
        elif r.kind == "chance":
            kw[r.party]["beta"] = max(kw[r.party]["beta"] - a, 0.0)
        elif r.kind in ("share_min", "share_max"):
            _apply_share(req, r, a)
        else:
            field_name = {
                "commissioners_min": "commissioners_min_expected",
                "commissioners_worst": "commissioners_worst_year",
                "margin_min": "worst_margin_min",
                "savings_min": "system_savings_min",
                "fair_distance": "fair_distance_max",
            }[r.kind]
            sign = 1.0 if r.kind == "fair_distance" else -1.0
            req[field_name] = req[field_name] + sign * a
    data["keep_whole"] = kw
    return Case.model_validate(data)


def _apply_share(req: dict, r: Relaxation, a: float) -> None:
    side = r.requirement.split(".")[1]
    bounds_key = "share_bounds" if side == "gain" else "loss_share_bounds"
    fixed_key = "fixed_gain_shares" if side == "gain" else "fixed_loss_shares"
    pid = r.party
    if r.kind == "share_min":
        low = max(
            req[bounds_key].get(pid, {}).get("min", 0.0),
            req["driver_min_gain_share"].get(pid, 0.0) if side == "gain" else 0.0,
            req[fixed_key].get(pid, 0.0),
        )
        new = max(low - a, 0.0)
        if pid in req[fixed_key]:
            high = req[fixed_key].pop(pid)
            req[bounds_key][pid] = {"min": new, "max": high}
        else:
            req[bounds_key][pid] = req[bounds_key].get(pid, {"max": 1.0}) | {"min": new}
        if side == "gain" and pid in req["driver_min_gain_share"]:
            req["driver_min_gain_share"][pid] = new
    else:
        if pid in req[fixed_key]:
            low = req[fixed_key].pop(pid)
            req[bounds_key][pid] = {"min": low, "max": min(low + a, 1.0)}
        else:
            high = req[bounds_key].get(pid, {}).get("max", 1.0)
            req[bounds_key][pid] = req[bounds_key].get(pid, {"min": 0.0}) | {
                "max": min(high + a, 1.0)
            }


def _worst_shortfalls(result, j: int, kw, k: int = 3) -> list[dict]:
    """The k largest shortfalls of party j below its keep-whole line, in the years its
    requirement applies, read from the settlement arrays (not the capped violations list)."""
    e = result.settlement.econ
    first = kw.from_year - 1
    short = kw.line() - result.settlement.net[:, first:, j]  # (S, applicable years)
    flat = np.argsort(-short, axis=None, kind="stable")[:k]
    out = []
    for i in flat:
        s, y = np.unravel_index(i, short.shape)
        if short[s, y] > PENNY:
            out.append({"scenario": e.scenario_names[s], "year": e.year_labels[first + y],
                        "shortfall": round(float(short[s, y]), 2)})  # fmt: skip
    return out


def _shortfalls(case: Case, data, m) -> dict:
    """Where each party falls short under the relaxed agreement (the conflict's scenarios)."""
    agreement, sel = agreement_from_solution(m, data)
    result = check(case, agreement, data.econs[sel])
    out = {}
    for j, (pid, d) in enumerate(result.document["by_party"].items()):
        if d["requirement"]["mode"] == "none" or d["prob_whole"] >= 1.0:
            continue
        out[pid] = {
            "prob_short": round(1.0 - d["prob_whole"], 6),
            "worst": _worst_shortfalls(result, j, case.keep_whole_for(pid)),
        }
    return out


def _shortfall_words(case: Case, shortfalls: dict) -> list[str]:
    out = []
    for pid, s in shortfalls.items():
        worst = s["worst"]
        where = "; ".join(
            f"scenario {w['scenario']} in {w['year']} by {money(w['shortfall'], case.currency)}"
            for w in worst
        )
        detail = f" (worst: {where})" if where else ""
        out.append(
            f"{case.party(pid).name} falls short in {100 * s['prob_short']:.1f}% of "
            f"scenarios{detail}."
        )
    return out


def _alternatives(case: Case, on: Case, kinds: tuple[str, ...], weights) -> list[dict]:
    """Each group of requirements relaxed alone, on the structure of the case `on`."""
    out = []
    for group, members in GROUPS.items():
        only = tuple(k for k in kinds if k in members)
        if not only:
            continue
        solved = _solve_elastic(on, only, weights)
        if solved is None:
            out.append(
                {
                    "relax": group,
                    "possible": False,
                    "words": f"relaxing {group} alone cannot make the requirements meet",
                }
            )
            continue
        rel = _relaxations(case, *solved)
        out.append(
            {
                "relax": group,
                "possible": True,
                "words": "; ".join(r.words for r in rel) or "no change needed",
                "relaxations": [r.__dict__ for r in rel],
            }
        )
    return out


SPACE_ROUNDS = 3  # structures the relaxation is refined over, at most


def _cost(data, m) -> float:
    """The weighted relaxation of a solved elastic model, in pounds."""
    return float(pyo.value(m.relaxation)) * data.scale if hasattr(m, "relaxation") else 0.0


def _structure_case(case: Case, agreement) -> Case:
    """The case with the structure of a designed agreement stated (its corridor, tier edges
    and gateway): the elastic model is built on one structure, and this is the one design
    found best. Caps and collars stay as the case states them: a cap never helps a provider
    be kept whole, and deciding one for every provider makes the elastic model much slower."""
    req = case.requirements.model_dump() | stated_structure(agreement.terms)
    return Case.model_validate(case.model_dump() | {"requirements": req})


def _over_the_space(case: Case, kinds, weights, solved):
    """The elastic model sees one structure: the case's own terms (one tier each way, no caps,
    unless it states more). The drafting space may need less: design the relaxed case, solve
    the elastic model again on the structure design found (its corridor, tier edges and
    gateway), and keep the smaller relaxation, until it no longer shrinks. Returns the solved
    elastic model, the case of the structure it was solved on, and the design of the case
    with its relaxation applied (None when the last round did not design it)."""
    best, on, designed = solved, case, None
    for _ in range(SPACE_ROUNDS):
        designed = design(apply_relaxations(case, _relaxations(case, *best)))
        if designed.agreement is None or designed.agreement.year_overrides:
            break
        structure = _structure_case(case, designed.agreement)
        other = _solve_elastic(structure, kinds, weights)
        if other is None or _cost(*other) >= _cost(*best) - PENNY:
            break
        best, on, designed = other, structure, None
    return best, on, designed


def explain(case: Case, weights: dict[str, float] | None = None) -> ExplainResult:
    """Explain why `case` has no feasible agreement, or confirm that it has one."""
    t0 = time.perf_counter()
    first: DesignResult = design(case)
    if first.agreement is not None:
        tight = sorted(first.binding, key=lambda b: -abs(b["shadow_price"]))
        words = ["An agreement meets every requirement; nothing needs to give."]
        words += [f"Tightest: {b['requirement']}: {b['meaning']}." for b in tight[:5]]
        return ExplainResult(
            "feasible",
            words,
            tightest=tight,
            timings={"total_s": round(time.perf_counter() - t0, 4)},
        )
    if case.requirements.group_limits:
        return _under_groups(case, weights, t0)
    kinds = _present_kinds(case)
    solved = _solve_elastic(case, kinds, weights)
    if solved is None:
        return ExplainResult(
            "unresolvable",
            [
                "No relaxation of the keep-whole levels, the commissioners' floors or the "
                "share bounds makes the requirements meet. Check the terms that are fixed: "
                "rounding steps, symmetric sharing, fixed caps or collars, and the corridor."
            ],
            timings={"total_s": round(time.perf_counter() - t0, 4)},
        )
    (data, m), on, designed = _over_the_space(case, kinds, weights, solved)
    rel = _relaxations(case, data, m)
    short = _shortfalls(case, data, m)
    relaxed = apply_relaxations(case, rel)
    verified = (designed if designed is not None else design(relaxed)).agreement is not None
    alts = _alternatives(case, on, kinds, weights) if len({r.kind for r in rel}) >= 1 else []
    labels = [_label(case, r) for r in rel]
    conflict = labels[0] if len(labels) == 1 else ", ".join(labels[:-1]) + " and " + labels[-1]
    sentences = [
        f"No agreement meets every requirement: {conflict} cannot hold together with the others."
    ]
    sentences += _shortfall_words(case, short)
    sentences.append(
        "The smallest relaxation that makes them meet: " + "; ".join(r.words for r in rel) + "."
    )
    ok = [a["words"] for a in alts if a["possible"]]
    if len(ok) > 1:
        sentences.append("Other ways out, each on its own: " + "; or ".join(ok) + ".")
    sentences.append(
        "Designing with this relaxation applied "
        + ("finds an agreement." if verified else "still fails (please report).")
    )
    return ExplainResult(
        "infeasible",
        sentences,
        rel,
        alts,
        short,
        relaxed,
        verified,
        timings={"total_s": round(time.perf_counter() - t0, 4)},
    )


# ------------------------------------------------------------------ under group limits


def _without_groups(case: Case) -> Case:
    req = case.requirements.model_dump() | {"group_limits": []}
    return Case.model_validate(case.model_dump() | {"requirements": req})


def _group_use(case: Case, result) -> list[str]:
    """What the members of each group would take together in the worst year of `result`
    (settled without the group's limits), against the limits."""
    st = result.settlement
    out = []
    for g in case.requirements.group_limits:
        idx = [case.party_ids.index(pid) for pid in g.members]
        t = st.transfer[:, :, idx]
        gain, loss = np.maximum(t, 0.0).sum(axis=2), np.maximum(-t, 0.0).sum(axis=2)
        basis = st.econ.exp_pay[:, :, idx].sum(axis=2)
        parts = []
        for words, lim, used in (("gain", g.cap, gain), ("lose", g.collar, loss)):
            if lim is None:
                continue
            room = lim.resolve(basis)
            over = used - room
            j = np.unravel_index(int(np.argmax(over)), over.shape)
            if over[j] > PENNY:
                parts.append(f"{words} up to {money(used[j], case.currency)} in a year, "
                             f"{money(over[j], case.currency)} beyond its "
                             f"{'cap' if words == 'gain' else 'collar'}")  # fmt: skip
        if parts:
            out.append(f"without them, the members of group {g.name} would {' and '.join(parts)}")
    return out


def _under_groups(case: Case, weights, t0: float) -> ExplainResult:
    """The elastic model cannot yet weigh group limits (a member's relaxed row would multiply
    its tolerance by the group's total): explain the case without them, say so, and design the
    case with its group limits and that relaxation applied to see whether it is enough."""
    free = _without_groups(case)
    alone = design(free)
    timings = lambda: {"total_s": round(time.perf_counter() - t0, 4)}  # noqa: E731
    if alone.agreement is not None:
        use = _group_use(case, alone.check)
        keep = money(alone.check.expected_retained, case.currency)
        sentences = [
            "No agreement meets every requirement under the group limits, and without them one "
            f"does (the commissioners would keep {keep} expected): the groups' caps and collars "
            "are what conflict with the other requirements"
            + (f"; {'; '.join(use)}" if use else "") + ".",
            "Widen a group's cap or collar, or what its members may bear; explain cannot yet say "
            "by how much under group limits.",
        ]  # fmt: skip
        return ExplainResult("infeasible", sentences, timings=timings())
    inner = explain(free, weights)
    if inner.status != "infeasible":
        return replace(inner, timings=timings())
    relaxed = apply_relaxations(case, inner.relaxations)
    verified = design(relaxed).agreement is not None
    sentences = ["Even without the groups' caps and collars no agreement meets every "
                 "requirement; what follows is the explanation of the case without them "
                 "(explain cannot yet weigh group limits)."]  # fmt: skip
    sentences += inner.sentences[:-1]
    sentences.append(
        "Designing with this relaxation and the group limits applied "
        + ("finds an agreement." if verified else
           "still fails: the group limits ask for more, so widen them or relax further.")
    )  # fmt: skip
    return replace(inner, sentences=sentences, relaxed_case=relaxed, verified=verified,
                   timings=timings())  # fmt: skip
