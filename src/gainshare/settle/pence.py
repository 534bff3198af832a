"""Settlement statements in pounds and pence that add up exactly (largest-remainder rounding).

Rounding order: each provider's revenue change, each party's cost change, direct scheme costs
and benefits are rounded to the penny; commissioners' spend saved is apportioned to match the
providers' revenue change exactly; the pool is then the exact sum of its parts, and transfers
plus retained amounts are apportioned to it. Every identity of SPEC section 3 then holds in
whole pence."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from gainshare.settle.engine import Settlement


def largest_remainder(values: np.ndarray, totals: np.ndarray) -> np.ndarray:
    """Round pounds `values` (..., n) to whole pence that sum exactly to `totals` (...) pence."""
    cents = values * 100.0
    base = np.floor(cents)
    rem = cents - base
    n = values.shape[-1]
    short = totals.astype(np.int64) - base.sum(axis=-1).astype(np.int64)
    every, extra = np.divmod(short, n)  # floor division: works for negative shortfalls too
    order = np.argsort(-rem, axis=-1, kind="stable")
    rank = np.empty_like(order)
    np.put_along_axis(rank, order, np.arange(n)[(None,) * (values.ndim - 1)], axis=-1)
    bump = every[..., None] + (rank < extra[..., None])
    return base.astype(np.int64) + bump


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


def statements(st: Settlement) -> Statements:
    e = st.econ
    rev = np.rint(e.revenue_change * e.is_provider * 100).astype(np.int64)
    saved = largest_remainder((e.exp_spend - e.act_spend), -rev.sum(axis=2))
    cost = np.rint(e.cost_change * 100).astype(np.int64)
    direct = np.rint(e.direct_cost * 100).astype(np.int64)
    ben = np.rint(e.benefit * 100).astype(np.int64)
    pool = saved.sum(axis=2) - direct.sum(axis=2)
    both = largest_remainder(np.concatenate([st.transfer, st.retained_by], axis=2), pool)
    P = st.transfer.shape[2]
    transfer, retained = both[..., :P], both[..., P:]
    net = rev - cost + transfer + retained + ben
    savings = -(cost + direct - ben).sum(axis=2)
    return Statements(rev, cost, saved, direct, ben, transfer, retained, net, pool, savings)
