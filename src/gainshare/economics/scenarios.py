"""Scenarios: every uncertain parameter of a case drawn as a (scenario x year) array.

Each parameter has its own random stream derived from (seed, parameter path), so the same case
and seed give the same scenarios bit for bit, and adding a parameter does not move the draws of
the others. Named scenarios come first, then Monte Carlo draws; weights sum to one."""

from __future__ import annotations

import difflib
import zlib
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from gainshare.schema.case import Case
from gainshare.schema.common import Param, param_bounds, param_is_uncertain


@dataclass(frozen=True)
class ParamSpec:
    path: str
    param: Param
    label: str


class ScenarioNames(Sequence):
    """Scenario names: the named scenarios, then mc00001, mc00002, ... for the draws. Each
    draw's name is written when it is asked for, not for all 100,000 in advance."""

    def __init__(self, named: list[str], draws: int):
        self._named, self._draws = list(named), int(draws)

    def __len__(self) -> int:
        return len(self._named) + self._draws

    def _name(self, i: int) -> str:
        k = len(self._named)
        return self._named[i] if i < k else f"mc{i - k + 1:05d}"

    def __getitem__(self, i):
        if isinstance(i, slice):
            return [self._name(j) for j in range(*i.indices(len(self)))]
        i = int(i)
        if i < 0:
            i += len(self)
        if not 0 <= i < len(self):
            raise IndexError("scenario index out of range")
        return self._name(i)

    def __eq__(self, other) -> bool:
        return list(self) == list(other)

    __hash__ = None  # type: ignore[assignment]


@dataclass(frozen=True)
class ScenarioSet:
    names: Sequence[str]
    weights: np.ndarray  # (S,)
    values: dict[str, np.ndarray] = field(repr=False)  # path -> (S, Y)

    @property
    def count(self) -> int:
        return len(self.names)

    def __getitem__(self, path: str) -> np.ndarray:
        return self.values[path]


def parameters(case: Case) -> list[ParamSpec]:
    """Every parameter that may be uncertain, with a stable path and a readable label."""
    out: list[ParamSpec] = []
    for c in case.contracts:
        nm = c.name or c.id
        out += [
            ParamSpec(
                f"contracts.{c.id}.expected_units", c.expected_units, f"{nm}: expected units"
            ),
            ParamSpec(
                f"contracts.{c.id}.demand_variation", c.demand_variation, f"{nm}: demand variation"
            ),
            ParamSpec(
                f"contracts.{c.id}.variable_cost", c.costs.variable_per_unit, f"{nm}: variable cost"
            ),
        ]
    for s in case.schemes:
        nm = s.name or s.id
        base = f"schemes.{s.id}"
        out += [
            ParamSpec(f"{base}.referrals_per_team", s.referrals_per_team, f"{nm}: referrals"),
            ParamSpec(f"{base}.ramp_up", s.ramp_up, f"{nm}: ramp-up (credibility and scale)"),
            ParamSpec(f"{base}.targeting", s.targeting, f"{nm}: targeting"),
            ParamSpec(f"{base}.escalation", s.escalation, f"{nm}: escalation"),
            ParamSpec(f"{base}.cost_per_patient", s.cost_per_patient, f"{nm}: cost per patient"),
            ParamSpec(f"{base}.staffing.filled", s.staffing.filled, f"{nm}: posts filled"),
            ParamSpec(
                f"{base}.staffing.agency_premium",
                s.staffing.agency_premium,
                f"{nm}: agency premium",
            ),
        ]
        for b in s.benefits:
            out.append(
                ParamSpec(
                    f"{base}.benefits.{b.party}",
                    b.per_patient_avoided,
                    f"{nm}: benefit to {b.party}",
                )
            )
    for pid, q in case.quality_scores.items():
        out.append(ParamSpec(f"quality.{pid}", q, f"Quality score of {pid}"))
    for c in case.cohorts:
        out.append(ParamSpec(f"cohorts.{c.id}.size", c.size, f"{c.name or c.id}: cohort size"))
    return out


def uncertain_parameters(case: Case) -> list[ParamSpec]:
    return [p for p in parameters(case) if param_is_uncertain(p.param)]


def _central(item) -> float:
    return float(item) if isinstance(item, int | float) else float(item.central())


def _draw_one(item, n: int, rng: np.random.Generator) -> np.ndarray:
    if isinstance(item, int | float):
        return np.full(n, float(item))
    kind = item.dist
    if kind == "fixed":
        return np.full(n, item.value)
    if kind == "uniform":
        return rng.uniform(item.low, item.high, n)
    if kind == "triangular":
        if item.low == item.high:
            return np.full(n, item.low)
        return rng.triangular(item.low, item.mode, item.high, n)
    if kind == "discrete":
        idx = rng.choice(len(item.values), size=n, p=np.asarray(item.probs) / sum(item.probs))
        return np.asarray(item.values, dtype=float)[idx]
    return _truncated_normal(item, n, rng)


def _truncated_normal(item, n: int, rng: np.random.Generator) -> np.ndarray:
    lo, hi = item.bounds()
    if item.sd == 0 or lo == hi:
        return np.full(n, min(max(item.mean, lo), hi))
    out = rng.normal(item.mean, item.sd, n)
    bad = (out < lo) | (out > hi)
    for _ in range(100):  # rejection: loops over redraw rounds, never over scenarios
        k = int(bad.sum())
        if k == 0:
            return out
        out[bad] = rng.normal(item.mean, item.sd, k)
        bad = (out < lo) | (out > hi)
    out[bad] = rng.uniform(lo, hi, int(bad.sum()))
    return out


def _draw(spec: ParamSpec, n: int, years: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng([seed, zlib.crc32(spec.path.encode())])
    p = spec.param
    if isinstance(p, list):
        return np.stack([_draw_one(it, n, rng) for it in p], axis=1)
    return np.broadcast_to(_draw_one(p, n, rng)[:, None], (n, years))


def _named_values(spec: ParamSpec, named, years: int) -> np.ndarray:
    """Named scenarios: given values, else each year's central value. Shape (K, Y)."""
    p = spec.param
    central = [_central(it) for it in p] if isinstance(p, list) else [_central(p)] * years
    rows = []
    for ns in named:
        v = ns.values.get(spec.path)
        if v is None:
            rows.append(central)
        elif isinstance(v, list):
            rows.append([float(x) for x in v])
        else:
            rows.append([float(v)] * years)
    out = np.asarray(rows, dtype=float).reshape(len(named), years)
    if (out == out[:, :1]).all():  # the same every year: one column viewed across the years
        return np.broadcast_to(out[:, :1], out.shape)
    return out


def check_named_paths(case: Case) -> list[str]:
    """Named scenarios must name known parameters, within their ranges, one value per year."""
    specs = {p.path: p for p in parameters(case)}
    problems = []
    for i, ns in enumerate(case.uncertainty.named):
        for path, v in ns.values.items():
            where = f"uncertainty.named[{i}].values.{path}"
            if path not in specs:
                near = difflib.get_close_matches(path, list(specs), n=1, cutoff=0.8)
                same = [p for p in specs if p.split(".")[-1] == path.split(".")[-1]][:3]
                if near:
                    hint = f" (did you mean '{near[0]}'?)"
                else:
                    hint = f" (parameters of that kind: {', '.join(same)})" if same else ""
                problems.append(
                    f"{where}: no such parameter{hint}: fix the path (`gainshare validate "
                    "--parameters` lists them)"
                )
                continue
            vals = v if isinstance(v, list) else [v]
            if isinstance(v, list) and len(v) != case.horizon.years:
                problems.append(
                    f"{where}: {len(v)} values for a {case.horizon.years}-year horizon: give "
                    "one value or one per year"
                )
            lo, hi = param_bounds(specs[path].param)
            is_share = any(k in path for k in ("targeting", "escalation", "ramp_up", "filled"))
            if is_share and any(x < 0 or x > 1 for x in vals):
                problems.append(f"{where}: {vals} is outside 0..1: it is a share")
            del lo, hi
    return problems


def sample(case: Case) -> ScenarioSet:
    """Draw the scenario set of a case (named scenarios first, then Monte Carlo)."""
    unc = case.uncertainty
    years = case.horizon.years
    n_mc = unc.scenarios
    named = unc.named
    w_named = np.asarray([ns.weight for ns in named], dtype=float)
    w_mc = np.full(n_mc, (1.0 - w_named.sum()) / n_mc) if n_mc else np.zeros(0)
    weights = np.concatenate([w_named, w_mc])
    weights = weights / weights.sum()
    values = {}
    for spec in parameters(case):
        parts = []
        if named:
            parts.append(_named_values(spec, named, years))
        if n_mc:
            parts.append(_draw(spec, n_mc, years, unc.seed))
        if all(part.strides[1] == 0 for part in parts):
            # one value per scenario for every year: keep one column, viewed across the
            # years (read-only, no copy)
            column = np.concatenate([part[:, 0] for part in parts])
            values[spec.path] = np.broadcast_to(column[:, None], (len(column), years))
        else:
            values[spec.path] = np.concatenate(parts, axis=0)
    names = ScenarioNames([ns.name for ns in named], n_mc)
    return ScenarioSet(names=names, weights=weights, values=values)
