"""Sensitivity of each party's position under an agreement (SPEC section 4.7).

- `tornado`: each uncertain parameter in turn is fixed at its low and at its high bound (per
  year, when the case gives one distribution a year) in every scenario, while every other
  parameter keeps its own draws; the case is re-evaluated and the agreement re-settled. For
  each party: expected net (horizon total) and probability of being kept whole at low and high,
  and the swing between them. Parameters are listed by their largest swing over the parties.
- `stress`: one parameter fixed in turn at each of a list of values, in every scenario.

Both re-use `compute` and `settle`, vectorised over scenarios; they loop over parameters and
values only."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from gainshare.economics.model import compute
from gainshare.economics.scenarios import (
    ParamSpec,
    ScenarioSet,
    parameters,
    sample,
    uncertain_parameters,
)
from gainshare.errors import InputError, excerpt
from gainshare.schema.agreement import Agreement
from gainshare.schema.case import Case
from gainshare.schema.common import param_bounds
from gainshare.schema.parameters import RANGES
from gainshare.settle.check import PENNY
from gainshare.settle.engine import settle

MAX_STRESS_POINTS = 200


def _bounds_by_year(spec: ParamSpec, years: int) -> tuple[np.ndarray, np.ndarray]:
    items = spec.param if isinstance(spec.param, list) else [spec.param] * years
    lo, hi = zip(*(param_bounds(it) for it in items), strict=True)
    return np.asarray(lo, dtype=float), np.asarray(hi, dtype=float)


def _with(sc: ScenarioSet, path: str, by_year: np.ndarray) -> ScenarioSet:
    """The same scenarios with one parameter fixed at `by_year` (Y,) in every scenario."""
    fixed = np.broadcast_to(by_year[None, :], sc[path].shape).copy()
    return ScenarioSet(names=sc.names, weights=sc.weights, values={**sc.values, path: fixed})


def _positions(case: Case, agreement: Agreement, sc: ScenarioSet, cols: list[int]) -> dict:
    """Per chosen party: expected net (horizon total), worst yearly net, P(kept whole)."""
    st = settle(compute(case, scenarios=sc), agreement)
    w = st.econ.weights
    out = {}
    for j in cols:
        pid = case.party_ids[j]
        net = st.net[:, :, j]
        whole = (net >= -case.keep_whole_for(pid).tolerance - PENNY).all(axis=1)
        out[pid] = {
            "expected_net": round(float(w @ net.sum(axis=1)), 2),
            "worst_year": round(float(net.min()), 2),
            "prob_whole": round(float(w[whole].sum()), 6),
        }
    return out


def _columns(case: Case, parties: Sequence[str] | None) -> list[int]:
    if parties is None:
        return list(range(len(case.parties)))
    unknown = [p for p in parties if p not in case.party_ids]
    if unknown:
        raise InputError(
            [
                f"--party: {excerpt(p)} is not a party of the case: use one of "
                f"{', '.join(case.party_ids)}"
                for p in unknown
            ]
        )
    return [case.party_ids.index(p) for p in parties]


def _number(values: np.ndarray) -> float | list[float]:
    """One number when every year has the same value, else one per year."""
    vals = [float(v) for v in values]
    return vals[0] if all(v == vals[0] for v in vals) else vals


def tornado(
    case: Case,
    agreement: Agreement,
    parties: Sequence[str] | None = None,
    scenarios: ScenarioSet | None = None,
) -> list[dict]:
    """One entry per uncertain parameter, largest swing first (see the module docstring)."""
    cols = _columns(case, parties)
    sc = scenarios if scenarios is not None else sample(case)
    Y = case.horizon.years
    rows = []
    for spec in uncertain_parameters(case):
        lo, hi = _bounds_by_year(spec, Y)
        at_lo = _positions(case, agreement, _with(sc, spec.path, lo), cols)
        at_hi = _positions(case, agreement, _with(sc, spec.path, hi), cols)
        by_party = {}
        for pid in at_lo:
            a, b = at_lo[pid], at_hi[pid]
            by_party[pid] = {
                "expected_net_low": a["expected_net"],
                "expected_net_high": b["expected_net"],
                "prob_whole_low": a["prob_whole"],
                "prob_whole_high": b["prob_whole"],
                "swing": round(abs(b["expected_net"] - a["expected_net"]), 2),
            }
        rows.append(
            {
                "path": spec.path,
                "label": spec.label,
                "low": _number(lo),
                "high": _number(hi),
                "max_swing": max(d["swing"] for d in by_party.values()),
                "by_party": by_party,
            }
        )
    rows.sort(key=lambda r: -r["max_swing"])  # stable: ties keep the case's order
    return rows


def parameter_spec(case: Case, path: str) -> ParamSpec:
    """The parameter at `path`, or an InputError naming the near matches."""
    specs = {p.path: p for p in parameters(case)}
    if path in specs:
        return specs[path]
    near = [p for p in specs if p.split(".")[-1] == path.split(".")[-1]][:3]
    hint = f" (parameters of that kind: {', '.join(near)})" if near else ""
    raise InputError(
        [
            f"--parameter: no parameter {excerpt(path)} in the case{hint}: use a path listed by "
            "`gainshare validate CASE --parameters`"
        ]
    )


def stress_problems(spec: ParamSpec, vals: Sequence[float]) -> list[str]:
    """Why the values to stress a parameter at cannot be used (empty when they can)."""
    if not vals:
        return ["--values: no values given: give at least one"]
    if len(vals) > MAX_STRESS_POINTS:
        return [f"--values: {len(vals):,} values is beyond {MAX_STRESS_POINTS}: use fewer"]
    if not all(np.isfinite(vals)):
        return ["--values: every value must be a finite number: write plain numbers"]
    low, high, _ = RANGES[spec.kind]
    if high is not None and any(v < low or v > high for v in vals):
        what = "a share" if spec.kind == "share" else f"a {spec.kind}"
        return [f"--values: {spec.path} is {what}: use values from {low:g} to {high:g}"]
    if any(v < low for v in vals):
        return [f"--values: {spec.path} cannot be negative: use values of 0 or more"]
    return []


def check_request(
    case: Case,
    parties: Sequence[str] | None = None,
    path: str | None = None,
    values: Sequence[float] | None = None,
) -> None:
    """The parties and the parameter asked for exist and the values fit the parameter: said
    before any work (a design can take seconds)."""
    _columns(case, parties)
    if path is not None:
        problems = stress_problems(parameter_spec(case, path), [float(v) for v in values or []])
        if problems:
            raise InputError(problems)


def stress(
    case: Case,
    agreement: Agreement,
    path: str,
    values: Sequence[float],
    parties: Sequence[str] | None = None,
    scenarios: ScenarioSet | None = None,
) -> list[dict]:
    """Each party's expected net, worst year and P(kept whole) with parameter `path` fixed at
    each of `values` in every scenario and year."""
    spec = parameter_spec(case, path)
    vals = [float(v) for v in values]
    problems = stress_problems(spec, vals)
    if problems:
        raise InputError(problems)
    cols = _columns(case, parties)
    sc = scenarios if scenarios is not None else sample(case)
    Y = case.horizon.years
    return [
        {
            "path": spec.path,
            "label": spec.label,
            "value": v,
            "by_party": _positions(case, agreement, _with(sc, spec.path, np.full(Y, v)), cols),
        }
        for v in vals
    ]


def sensitivity(
    case: Case,
    agreement: Agreement,
    parties: Sequence[str] | None = None,
    path: str | None = None,
    values: Sequence[float] | None = None,
) -> dict:
    """The document of `gainshare sensitivity CASE --agreement A --json`."""
    cols = _columns(case, parties)
    sc = sample(case)
    chosen = [case.party_ids[j] for j in cols]
    doc = {
        "command": "sensitivity",
        "case": case.name,
        "agreement": agreement.name,
        "currency": case.currency,
        "scenarios": sc.count,
        "years": case.horizon.years,
        "parties": chosen,
        "base": _positions(case, agreement, sc, cols),
        "tornado": tornado(case, agreement, chosen, sc),
    }
    if path is not None:
        doc["stress"] = stress(case, agreement, path, values or [], chosen, sc)
    return doc
