"""The uncertain parameters of a case, each with a stable path (`schemes.rr.targeting`), a label
for people and the kind of number it is. Named scenarios, sweeps, the sensitivity tornado and
the scenario draws all name parameters by these paths; the case schema checks every named
scenario against them, so a misspelt path is refused by every command alike."""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from gainshare.errors import excerpt
from gainshare.schema.common import MAX_UNITS, Param, param_bounds

if TYPE_CHECKING:  # only for the annotations: the case schema imports this module
    from gainshare.schema.case import Case

Kind = Literal["share", "count", "amount", "multiplier", "score"]

# What each kind of number may be, and the fix when it is not.
RANGES: dict[str, tuple[float, float | None, str]] = {
    "share": (0.0, 1.0, "it is a share, keep it from 0 to 1"),
    "count": (0.0, MAX_UNITS, "it counts activity or patients: keep it from zero to a billion"),
    "amount": (0.0, None, "it is a cost or an amount of money: make it zero or more"),
    "multiplier": (0.0, 1_000.0, "it is a multiplier: keep it from zero to 1,000"),
    "score": (0.0, 100.0, "it is a quality score, keep it from 0 to 100"),
}


@dataclass(frozen=True)
class ParamSpec:
    path: str
    param: Param
    label: str
    kind: Kind = "amount"


def _contract_params(c) -> list[ParamSpec]:
    nm = c.name or c.id
    base = f"contracts.{c.id}"
    return [
        ParamSpec(f"{base}.expected_units", c.expected_units, f"{nm}: expected units", "count"),
        ParamSpec(
            f"{base}.demand_variation", c.demand_variation, f"{nm}: demand variation", "multiplier"
        ),  # fmt: skip
        ParamSpec(f"{base}.variable_cost", c.costs.variable_per_unit, f"{nm}: variable cost"),
    ]


def _scheme_params(s) -> list[ParamSpec]:
    nm = s.name or s.id
    base = f"schemes.{s.id}"
    out = [
        ParamSpec(f"{base}.referrals_per_team", s.referrals_per_team, f"{nm}: referrals", "count"),
        ParamSpec(
            f"{base}.ramp_up", s.ramp_up, f"{nm}: ramp-up (credibility and scale)", "share"
        ),  # fmt: skip
        ParamSpec(f"{base}.targeting", s.targeting, f"{nm}: targeting", "share"),
        ParamSpec(f"{base}.escalation", s.escalation, f"{nm}: escalation", "share"),
        ParamSpec(f"{base}.cost_per_patient", s.cost_per_patient, f"{nm}: cost per patient"),
        ParamSpec(f"{base}.staffing.filled", s.staffing.filled, f"{nm}: posts filled", "share"),
        ParamSpec(
            f"{base}.staffing.agency_premium",
            s.staffing.agency_premium,
            f"{nm}: agency premium",
            "multiplier",
        ),  # fmt: skip
    ]
    out += [
        ParamSpec(
            f"{base}.benefits.{b.party}", b.per_patient_avoided, f"{nm}: benefit to {b.party}"
        )
        for b in s.benefits
    ]
    return out


def parameters(case: Case) -> list[ParamSpec]:
    """Every parameter that may be uncertain, with a stable path and a readable label."""
    out: list[ParamSpec] = []
    for c in case.contracts:
        out += _contract_params(c)
    for s in case.schemes:
        out += _scheme_params(s)
    for pid, q in case.quality_scores.items():
        out.append(ParamSpec(f"quality.{pid}", q, f"Quality score of {pid}", "score"))
    for c in case.cohorts:
        out.append(ParamSpec(f"cohorts.{c.id}.size", c.size, f"{c.name or c.id}: cohort size",
                             "count"))  # fmt: skip
    return out


def range_problem(kind: str, lo: float, hi: float) -> str | None:
    """Why values from `lo` to `hi` do not fit a parameter of this kind (None when they do)."""
    low, high, fix = RANGES[kind]
    seen = f"{lo:g}" if lo == hi else f"{lo:g} to {hi:g}"
    if lo < low:
        return f"can be negative ({lo:g}): {fix}"
    if high is not None and hi > high:
        return f"can take values outside {_number(low)}..{_number(high)} ({seen}): {fix}"
    return None


def _number(v: float) -> str:
    return f"{v:,.0f}" if v >= 10_000 else f"{v:g}"


def check_param(value: Param, where: str, kind: str) -> None:
    """A parameter's values (every year, the whole range of a distribution) fit its kind."""
    lo, hi = param_bounds(value)
    problem = range_problem(kind, lo, hi)
    if problem:
        raise ValueError(f"{where} {problem}")


def _unknown_path(path: str, known: list[str]) -> str:
    near = difflib.get_close_matches(path[:200], known, n=1, cutoff=0.8)
    same = [p for p in known if p.split(".")[-1] == path.split(".")[-1]][:3]
    if near:
        hint = f" (did you mean '{near[0]}'?)"
    else:
        hint = f" (parameters of that kind: {', '.join(same)})" if same else ""
    return f"no such parameter{hint}: fix the path (`gainshare validate --parameters` lists them)"


def named_path_problems(case: Case) -> list[str]:
    """Named scenarios must name known parameters, one value or one per year, each within the
    parameter's range. One line per problem, each starting with the field path."""
    specs = {p.path: p for p in parameters(case)}
    years = case.horizon.years
    problems = []
    for i, ns in enumerate(case.uncertainty.named):
        for path, v in ns.values.items():
            where = f"uncertainty.named[{i}].values.{excerpt(path).strip(chr(39))}"
            if path not in specs:
                problems.append(f"{where}: {_unknown_path(path, list(specs))}")
                continue
            vals = v if isinstance(v, list) else [v]
            if isinstance(v, list) and len(v) != years:
                problems.append(f"{where}: {len(v)} values for a {years}-year horizon: give one "
                                "value or one per year")  # fmt: skip
            problem = vals and range_problem(specs[path].kind, min(vals), max(vals))
            if problem:
                problems.append(f"{where}: {problem}")
    return problems
