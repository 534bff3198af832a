"""The weighted CVaR of check equals the textbook definition (sort everything, take the worst
1 - beta of probability), including its shortcut when few scenarios have a shortfall."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gainshare.settle.check import weighted_cvar


def reference(loss, weights, beta):
    alpha = 1 - beta
    order = np.argsort(-loss, kind="stable")
    lw, wv = loss[order], weights[order]
    before = np.concatenate([[0.0], np.cumsum(wv)[:-1]])
    return float((lw * np.clip(alpha - before, 0.0, wv)).sum() / alpha)


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.floats(0, 1e6), min_size=1, max_size=60),
    st.floats(0.5, 0.99),
    st.floats(0.0, 0.95),
    st.integers(0, 2**31 - 1),
)
def test_matches_the_definition(values, beta, zero_share, seed):
    rng = np.random.default_rng(seed)
    loss = np.array(values)
    loss[rng.random(len(loss)) < zero_share] = 0.0  # many scenarios without a shortfall
    w = rng.random(len(loss)) + 0.01
    w /= w.sum()
    assert weighted_cvar(loss, w, beta) == pytest.approx(reference(loss, w, beta), rel=1e-12,
                                                         abs=1e-9)  # fmt: skip


def test_by_hand():
    # ten equal scenarios, one short by 1,000: the worst 20% averages 1,000 and 0 -> 500
    loss = np.zeros(10)
    loss[3] = 1000.0
    assert weighted_cvar(loss, np.full(10, 0.1), 0.8) == pytest.approx(500.0)
