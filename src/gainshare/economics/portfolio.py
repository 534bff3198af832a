"""Several schemes at once (SPEC section 4.15; the rules are written out in
models/portfolio.md): avoided patients counted once on a shared cohort, running costs that fall
per patient with scale, and transformation funding. numpy only, no loops over scenarios."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from gainshare.economics.scenarios import ScenarioSet
from gainshare.schema.case import Case, CostBand


def curve_cost(bands: list[CostBand], patients: np.ndarray) -> np.ndarray:
    """Running cost of `patients` referred patients a year (any shape) on a scale curve: the
    patients in each band cost that band's rate (like tax bands), so the average cost per
    patient falls as volume grows and the total is continuous in the volume."""
    total = np.zeros_like(patients, dtype=float)
    lower = 0.0
    for band in bands:
        upper = np.inf if band.upto is None else band.upto
        total += band.cost_per_patient * np.clip(patients - lower, 0.0, upper - lower)
        lower = upper
    return total


def count_once(case: Case, sc: ScenarioSet, avoided: Mapping[str, np.ndarray]) -> dict:
    """Each scheme's avoided patients (S, Y) with patients of a shared cohort counted once.

    On a cohort of N patients a year, scheme s on its own reaches the fraction
    r_s = min(a_s / N, 1) of the cohort, a_s being its avoided patients from that cohort. The
    schemes reach patients independently, in the case's order of the schemes (the pathway
    order: an admission avoided leaves no stay to shorten), so scheme s counts the patients no
    earlier scheme reached: N r_s prod_{j<s} (1 - r_j). Together they avoid
    N (1 - prod_s (1 - r_s)) patients of the cohort, never more than N nor more than the sum
    of their own figures."""
    out = dict(avoided)
    for cohort in case.cohorts:
        size = sc[f"cohorts.{cohort.id}.size"]
        left = 1.0  # fraction of the cohort no earlier scheme has reached
        for s in case.schemes:
            share = s.cohorts.get(cohort.id, 0.0)
            if share == 0 or s.id not in avoided:
                continue
            own = share * avoided[s.id]
            rate = np.minimum(own / size, 1.0)
            out[s.id] = out[s.id] - own + size * rate * left
            left = left * (1.0 - rate)
    return out


def funding_by_year(years: list[int], amount: float, horizon: int) -> np.ndarray:
    """(Y,) pounds a transformation funding line pays in each year of the horizon."""
    out = np.zeros(horizon)
    out[np.asarray(years, dtype=int) - 1] = amount
    return out
