"""Scenarios described by what happens in them, never by their codes: "in 12% of scenarios, all
in 2026/27, mostly when rapid response targeting is below 70%", or one scenario as "a drawn
scenario with targeting at 66% and posts filled at 78%".

The scenario values come from the case's own draw (`economics.scenarios.sample`: same case and
seed, same scenarios); the assumption named is the one whose values set the described
scenarios furthest apart from the rest."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from gainshare.economics.scenarios import ScenarioSet, parameters, sample
from gainshare.report.numbers import money, pct
from gainshare.schema.case import Case
from gainshare.schema.common import param_is_uncertain

SHARES = ("targeting", "escalation", "ramp_up", "filled", "agency_premium", "demand_variation")
MIN_SEPARATION = 0.25  # how much further into one tail the described scenarios must sit


@dataclass(frozen=True)
class Driver:
    path: str
    words: str  # "rapid response targeting"
    values: np.ndarray  # (S,) the scenario's value (mean over the years)


CONTRACT_WORDS = {"expected_units": "expected activity of {}", "demand_variation": "demand for {}",
                  "variable_cost": "the variable cost of {}"}  # fmt: skip
SCHEME_WORDS = {
    "referrals_per_team": "referrals",
    "ramp_up": "ramp-up",
    "targeting": "targeting",
    "escalation": "escalation",
    "cost_per_patient": "cost a patient",
    "staffing.filled": "posts filled",
    "staffing.agency_premium": "agency premium",
}


def _label(case: Case, path: str, label: str) -> str:
    """An assumption as the room names it: 'Rapid response's targeting', 'the variable cost of
    Non-elective admissions', 'Eastbrook Hospitals NHS FT's quality score'."""
    names = {p.id: p.name for p in case.parties}
    parts = path.split(".")
    if parts[0] == "quality":
        return f"{names.get(parts[1], parts[1])}'s quality score"
    if parts[0] == "contracts":
        c = next(k for k in case.contracts if k.id == parts[1])
        return CONTRACT_WORDS.get(parts[2], "{} " + parts[2]).format(c.name or c.id)
    if parts[0] == "schemes":
        sc = next(k for k in case.schemes if k.id == parts[1])
        rest = ".".join(parts[2:])
        if parts[2] == "benefits":
            return f"{sc.name or sc.id}'s benefit to {names.get(parts[3], parts[3])} a patient"
        return f"{sc.name or sc.id}'s {SCHEME_WORDS.get(rest, rest)}"
    return label


_CACHE: list[tuple[Case, tuple]] = []  # the last few cases' draws (a case is not hashable)


def _drivers(case: Case) -> tuple[tuple[Driver, ...], ScenarioSet]:
    for known, value in _CACHE:
        if known is case:
            return value
    value = _draw_drivers(case)
    _CACHE.insert(0, (case, value))
    del _CACHE[4:]
    return value


def _draw_drivers(case: Case) -> tuple[tuple[Driver, ...], ScenarioSet]:
    sc = sample(case)
    out = []
    for spec in parameters(case):
        if not param_is_uncertain(spec.param):
            continue
        x = np.asarray(sc[spec.path], dtype=float).mean(axis=1)
        if np.ptp(x) > 0:
            out.append(Driver(spec.path, _label(case, spec.path, spec.label), x))
    return tuple(out), sc


def value_words(path: str, v: float, currency: str = "GBP") -> str:
    last = path.split(".")[-1]
    if last in SHARES or path.endswith("staffing.filled"):
        return f"{100 * v:.0f}%"
    if "cost" in last or "benefits" in path or "premium" in last:
        return money(v, currency)
    return f"{v:,.0f}" if abs(v) >= 100 else f"{v:.2f}".rstrip("0").rstrip(".")


def _weighted_quantile(x: np.ndarray, w: np.ndarray, q: float) -> float:
    order = np.argsort(x, kind="stable")
    cw = np.cumsum(w[order])
    return float(x[order][min(np.searchsorted(cw, q * cw[-1]), len(x) - 1)])


def _driver(case: Case, mask: np.ndarray, w: np.ndarray) -> str:
    """'when X is below t' for the assumption that separates the masked scenarios most."""
    drivers, _ = _drivers(case)
    best, words = MIN_SEPARATION, ""
    wm = w * mask
    if wm.sum() <= 0 or (~mask).sum() == 0:
        return ""
    for d in drivers:
        low = _weighted_quantile(d.values, wm, 0.9)
        high = _weighted_quantile(d.values, wm, 0.1)
        below = 0.9 - float(w[d.values <= low].sum()) / float(w.sum())
        above = 0.9 - float(w[d.values >= high].sum()) / float(w.sum())
        for sep, side, t in ((below, "below", low), (above, "above", high)):
            if sep > best:
                shown = value_words(d.path, t, case.currency)
                best, words = sep, f"when {d.words} is {side} {shown}"
    return words


def _years(labels: list[str], by_year: np.ndarray | None, w: np.ndarray) -> str:
    if by_year is None:
        return ""
    mass = (w[:, None] * by_year).sum(axis=0)
    total = mass.sum()
    if total <= 0:
        return ""
    hit = [labels[y] for y in range(len(labels)) if mass[y] > 0]
    if len(hit) == 1:
        return f"all in {hit[0]}"
    top = int(np.argmax(mass))
    if mass[top] >= 0.8 * total:
        return f"mostly in {labels[top]}"
    return ""


def describe(case: Case, mask: np.ndarray, by_year: np.ndarray | None = None) -> str:
    """Scenarios (a boolean mask over the case's scenarios; `by_year` (S, Y) marks the years
    that count) in words: how many, which years, and when they happen."""
    drivers, sc = _drivers(case)
    del drivers
    w = np.asarray(sc.weights, dtype=float)
    mask = np.asarray(mask, dtype=bool)
    share = float(w[mask].sum())
    if not mask.any():
        return "in no scenario"
    head = "in every scenario" if mask.all() else f"in {pct(share)} of scenarios"
    named = [n.name for i, n in enumerate(case.uncertainty.named) if mask[i]]
    parts = [_years(case.horizon.labels(), by_year, w), _driver(case, mask, w)]
    if named and not mask.all():
        many = len(named) > 1
        listed = ", ".join(named[:-1]) + " and " + named[-1] if many else named[0]
        parts.append(f"including the {listed} scenario{'s' if many else ''}")
    return ", ".join([head] + [p for p in parts if p])


def one_scenario(case: Case, index: int, k: int = 2) -> str:
    """One scenario in words: a named one by its name, a drawn one by its `k` most unusual
    assumptions ('a drawn scenario with rapid response targeting at 66% and ...')."""
    named = case.uncertainty.named
    if index < len(named):
        return f"the {named[index].name} scenario"
    drivers, sc = _drivers(case)
    w = np.asarray(sc.weights, dtype=float)
    scored = []
    for d in drivers:
        v = d.values[index]
        rank = float(w[d.values < v].sum() + 0.5 * w[d.values == v].sum())
        scored.append((abs(rank - 0.5), d, rank))
    scored.sort(key=lambda t: -t[0])
    parts = [f"{d.words} at {value_words(d.path, d.values[index], case.currency)}"
             for _, d, _ in scored[:k]]  # fmt: skip
    return "a drawn scenario" + (" with " + " and ".join(parts) if parts else "")


__all__ = ["describe", "one_scenario", "value_words"]
