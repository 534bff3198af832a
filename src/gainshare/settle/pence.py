"""Settlement statements in pounds and pence that add up exactly (largest-remainder rounding).

Rounding order: each provider's revenue change, each party's cost change, direct scheme costs
and benefits are rounded to the penny; commissioners' spend saved is apportioned to match the
providers' revenue change exactly; the pool is then the exact sum of its parts, and transfers
plus retained amounts are apportioned to it. Every identity of SPEC section 3 then holds in
whole pence."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from gainshare.economics.model import party_sum
from gainshare.settle.engine import Settlement


def largest_remainder(values: np.ndarray, totals: np.ndarray) -> np.ndarray:
    """Round pounds `values` (..., n) to whole pence that sum exactly to `totals` (...) pence.

    Each value gets its floor in pence; the pence still missing from the total go one each to
    the values with the largest remainders (ties to the earlier position), whole rounds to
    all values when more than n are missing (or taken back when the floors overshoot).

    A value's place in that order is counted directly: the values before it with a remainder
    at least as large, plus the values after it with a larger one. n is the number of parties
    sharing a total (a handful), so the n x n comparisons run over contiguous columns and cost
    less than sorting every row."""
    n = values.shape[-1]
    lead = values.shape[:-1]
    cents = np.moveaxis(values, -1, 0).reshape(n, -1) * 100.0  # (n, rows), contiguous
    base = np.floor(cents)
    rem = np.subtract(cents, base, out=cents)
    short = totals.reshape(-1).astype(np.int64) - base.sum(axis=0).astype(np.int64)
    every, extra = np.divmod(short, n)  # floor division: works for negative shortfalls too
    rank = np.zeros(rem.shape, dtype=np.int16)
    for i in range(n):
        for j in range(n):
            if j != i:
                rank[i] += rem[j] >= rem[i] if j < i else rem[j] > rem[i]
    out = base.astype(np.int64)
    out += every
    out += rank < extra
    return np.ascontiguousarray(np.moveaxis(out.reshape((n, *lead)), 0, -1))


@dataclass(frozen=True)
class Statements:
    """Whole pence, arrays (S, Y, P) unless said otherwise."""

    revenue_change: np.ndarray  # provider payments received, actual minus expected
    cost_change: np.ndarray  # provider cost change
    spend_saved: np.ndarray  # commissioner payments made, expected minus actual
    direct_cost: np.ndarray  # scheme costs a commissioner pays directly
    benefit: np.ndarray  # benefits booked to a commissioner
    transfer: np.ndarray  # gain/loss share received (negative: paid)
    retained: np.ndarray  # commissioner's part of the retained amount
    net: np.ndarray
    pool: np.ndarray  # (S, Y)
    system_savings: np.ndarray  # (S, Y)
    outside_pool: np.ndarray | None = None  # paid (-) or received (+) outside the pool


def _apportion(parts: list[np.ndarray], totals: np.ndarray) -> list[np.ndarray]:
    """largest_remainder over the given (S, Y, n_i) column groups together, split back."""
    joined = largest_remainder(np.concatenate(parts, axis=2), totals)
    edges = np.cumsum([p.shape[2] for p in parts])[:-1]
    return np.split(joined, edges, axis=2)


def _pence(a: np.ndarray) -> np.ndarray:
    return np.rint(a * 100).astype(np.int64)


def statements(st: Settlement) -> Statements:
    """Pence statements; rounding is done only over the columns that can be non-zero
    (providers for revenue, providers and risk partners for transfers, commissioners for spend
    saved and retained)."""
    e = st.econ
    prov, comm = np.flatnonzero(e.is_provider), np.flatnonzero(e.is_commissioner)
    takers = np.flatnonzero(e.takes_share)
    shape = e.exp_pay.shape
    rev = np.zeros(shape, dtype=np.int64)
    rev[:, :, prov] = _pence(e.revenue_change[:, :, prov])
    saved = np.zeros(shape, dtype=np.int64)
    spend_saved = -party_sum(rev)  # the commissioners' columns add up to it exactly
    (saved[:, :, comm],) = _apportion(
        [e.exp_spend[:, :, comm] - e.act_spend[:, :, comm]], spend_saved
    )
    cost, direct, ben = _pence(e.cost_change), _pence(e.direct_cost), _pence(e.benefit)
    pool = spend_saved - party_sum(direct)
    transfer = np.zeros(shape, dtype=np.int64)
    retained = np.zeros(shape, dtype=np.int64)
    transfer[:, :, takers], retained[:, :, comm] = _apportion(
        [st.transfer[:, :, takers], st.retained_by[:, :, comm]], pool
    )
    net = rev - cost + transfer + retained + ben
    outside = None
    if e.outside_pool is not None:  # apportioned so that what is paid is what is received
        outside = largest_remainder(e.outside_pool, np.zeros(shape[:2], dtype=np.int64))
        net = net + outside
    savings = -party_sum(cost + direct - ben)
    return Statements(rev, cost, saved, direct, ben, transfer, retained, net, pool, savings,
                      outside)  # fmt: skip
