"""Scenarios: every uncertain parameter of a case drawn as a (scenario x year) array.

Each parameter has its own random stream derived from (seed, parameter path), so the same case
and seed give the same scenarios bit for bit, and adding a parameter does not move the draws of
the others. Named scenarios come first, then Monte Carlo draws; weights sum to one."""

from __future__ import annotations

import zlib
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from gainshare.schema.case import Case
from gainshare.schema.common import param_is_uncertain
from gainshare.schema.parameters import ParamSpec, parameters

__all__ = ["ParamSpec", "ScenarioNames", "ScenarioSet", "parameters", "sample",
           "uncertain_parameters"]  # fmt: skip


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
