"""A case's baseline rules (trend, population or risk adjustment, rebasing) as numbers: each
contract's expected units after rebasing and its baseline factor per year (SPEC section 4.12;
formulas in models/settlement.md)."""

from __future__ import annotations

import numpy as np

from gainshare.schema.case import Case


def contract_factors(case: Case) -> list[np.ndarray | float]:
    """Per contract, in the case's order: the baseline factor of each year (Y,) - the trend
    index times every adjustment - or 1.0 where no rule applies to the contract."""
    b = case.baseline
    if b is None or (b.trend is None and not b.adjustments):
        return [1.0] * len(case.contracts)
    f = np.asarray(b.factors(case.horizon.years), dtype=float)
    return [f if b.applies_to(c.id) else 1.0 for c in case.contracts]


def rebased(case: Case, contract_id: str, units):
    """Expected units of a contract after rebasing: w x outturn + (1 - w) x the case's own
    (scalar or array); unchanged where the case rebases nothing for that contract."""
    r = case.baseline.rebase if case.baseline is not None else None
    if r is None or contract_id not in r.expected_units:
        return units
    return r.weight * r.expected_units[contract_id] + (1.0 - r.weight) * units


def expected_units(case: Case, drawn: list[np.ndarray]) -> list[np.ndarray]:
    """Each contract's expected units (S, Y): drawn, rebased, times the baseline factor."""
    factors = contract_factors(case)
    out = []
    for c, u, f in zip(case.contracts, drawn, factors, strict=True):
        u = rebased(case, c.id, u)
        out.append(u if isinstance(f, float) else u * f[None, :])
    return out
