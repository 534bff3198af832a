"""Scenario sampling (SPEC section 2, uncertainty): reproducible bit for bit, named scenarios
first with their weights, and every distribution within its bounds and roughly right."""

from __future__ import annotations

import hashlib
import subprocess
import sys

import numpy as np
import pytest
from helpers import build_case, small_case

from gainshare.economics.model import compute
from gainshare.economics.scenarios import sample, uncertain_parameters

TRI = {"dist": "triangular", "low": 0.2, "mode": 0.5, "high": 0.9}
UNI = {"dist": "uniform", "low": 0.4, "high": 0.8}
NORM = {"dist": "normal", "mean": 0.1, "sd": 0.1, "low": 0.0, "high": 0.25}
DISC = {"dist": "discrete", "values": [100, 200, 300], "probs": [0.2, 0.5, 0.3]}


def _uncertain(scenarios=200, seed=11, named=None, years=2):
    d = small_case(referrals=DISC, targeting=TRI, escalation=NORM, years=years, scenarios=scenarios)
    d["schemes"][0]["ramp_up"] = [UNI, {"dist": "uniform", "low": 0.9, "high": 1.0}][:years]
    d["schemes"][0]["staffing"] = {"filled": {"dist": "fixed", "value": 0.75}}
    d["uncertainty"]["seed"] = seed
    if named is not None:
        d["uncertainty"]["named"] = named
    return build_case(d)


def _digest(case) -> str:
    sc = sample(case)
    h = hashlib.sha256()
    for path in sorted(sc.values):
        h.update(path.encode())
        h.update(np.ascontiguousarray(sc.values[path]).tobytes())
    e = compute(case, sc)
    for arr in (e.act_pay, e.cost_change, e.weights):
        h.update(np.ascontiguousarray(arr).tobytes())
    return h.hexdigest()


def test_same_case_and_seed_bit_identical():
    a, b = sample(_uncertain()), sample(_uncertain())
    assert a.names == b.names
    assert a.weights.tobytes() == b.weights.tobytes()
    assert sorted(a.values) == sorted(b.values)
    for path in a.values:
        assert a[path].tobytes() == b[path].tobytes(), path
    assert _digest(_uncertain()) == _digest(_uncertain())


def test_bit_identical_in_a_fresh_process():
    # guards against anything process-dependent (hash randomisation, global random state)
    code = (
        "import sys; sys.path.insert(0, 'tests'); import test_scenarios as t; "
        "print(t._digest(t._uncertain()))"
    )
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=root, capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == _digest(_uncertain())


def test_different_seed_different_draws():
    a, b = sample(_uncertain(seed=11)), sample(_uncertain(seed=12))
    for path in ("schemes.vw.targeting", "schemes.vw.escalation", "schemes.vw.ramp_up"):
        assert not np.array_equal(a[path], b[path]), path
    # fixed parameters do not depend on the seed
    np.testing.assert_array_equal(a["schemes.vw.staffing.filled"], 0.75)
    np.testing.assert_array_equal(b["schemes.vw.staffing.filled"], 0.75)


def test_adding_a_parameter_does_not_move_the_others():
    base = _uncertain()
    d = base.model_dump()
    d["quality_scores"] = {"comm": UNI | {"low": 50, "high": 90}}
    more = build_case(d)
    a, b = sample(base), sample(more)
    for path in a.values:
        assert a[path].tobytes() == b[path].tobytes(), path
    assert "quality.comm" in b.values


NAMED = [
    {"name": "pessimistic", "weight": 0.1, "values": {"schemes.vw.targeting": 0.25}},
    {"name": "central", "weight": 0.2},
    {"name": "optimistic", "weight": 0.05, "values": {"schemes.vw.ramp_up": [0.9, 1.0]}},
]


def test_named_scenarios_first_with_their_weights():
    sc = sample(_uncertain(scenarios=100, named=NAMED))
    assert sc.count == 103
    assert sc.names[:3] == ["pessimistic", "central", "optimistic"]
    assert sc.names[3] == "mc00001" and sc.names[-1] == "mc00100"
    np.testing.assert_allclose(sc.weights[:3], [0.1, 0.2, 0.05], rtol=0, atol=1e-15)
    # the Monte Carlo scenarios share the remaining 0.65 equally
    np.testing.assert_allclose(sc.weights[3:], 0.65 / 100, rtol=1e-12)
    assert sc.weights.sum() == pytest.approx(1.0, abs=1e-12)
    # named values where given, else the central value (triangular mode, uniform midpoint,
    # truncated normal mean, discrete mean 0.2 x 100 + 0.5 x 200 + 0.3 x 300 = 210)
    np.testing.assert_allclose(sc["schemes.vw.targeting"][:3], [[0.25] * 2, [0.5] * 2, [0.5] * 2])
    np.testing.assert_allclose(sc["schemes.vw.ramp_up"][:3], [[0.6, 0.95], [0.6, 0.95], [0.9, 1]])
    np.testing.assert_allclose(sc["schemes.vw.escalation"][:3], 0.1)
    np.testing.assert_allclose(sc["schemes.vw.referrals_per_team"][:3], 210)


def test_named_scenarios_only():
    named = [
        {"name": "low", "weight": 0.25, "values": {"schemes.vw.targeting": 0.2}},
        {"name": "high", "weight": 0.75, "values": {"schemes.vw.targeting": 0.8}},
    ]
    sc = sample(_uncertain(scenarios=0, named=named))
    assert sc.names == ["low", "high"]
    np.testing.assert_array_equal(sc.weights, [0.25, 0.75])


def test_weights_sum_to_one_without_named():
    sc = sample(_uncertain(scenarios=7))
    assert sc.weights.sum() == pytest.approx(1.0, abs=1e-12)
    np.testing.assert_allclose(sc.weights, 1 / 7)


@pytest.fixture(scope="module")
def draws():
    return sample(_uncertain(scenarios=20_000, years=2))


def test_triangular_within_bounds_and_mean(draws):
    v = draws["schemes.vw.targeting"]
    assert v.shape == (20_000, 2)
    assert v.min() >= 0.2 and v.max() <= 0.9
    assert v.mean() == pytest.approx((0.2 + 0.5 + 0.9) / 3, abs=0.005)
    # one draw per scenario, the same in every year when the parameter is not a yearly list
    np.testing.assert_array_equal(v[:, 0], v[:, 1])


def test_uniform_per_year_within_bounds(draws):
    v = draws["schemes.vw.ramp_up"]
    assert v[:, 0].min() >= 0.4 and v[:, 0].max() <= 0.8
    assert v[:, 1].min() >= 0.9 and v[:, 1].max() <= 1.0
    assert v[:, 0].mean() == pytest.approx(0.6, abs=0.005)
    # yearly entries are independent draws
    assert abs(np.corrcoef(v[:, 0], v[:, 1])[0, 1]) < 0.05


def test_truncated_normal_within_bounds(draws):
    v = draws["schemes.vw.escalation"]
    assert v.min() >= 0.0 and v.max() <= 0.25
    assert 0.08 < v.mean() < 0.12
    assert v.std() < 0.1  # truncation narrows the spread
    # an untruncated normal is held to mean +- 4 sd
    d = small_case(scenarios=5_000)
    d["contracts"][0]["demand_variation"] = {"dist": "normal", "mean": 1.0, "sd": 0.05}
    w = sample(build_case(d))["contracts.acute_nel.demand_variation"]
    assert w.min() >= 0.8 and w.max() <= 1.2


def test_discrete_probabilities_roughly_right(draws):
    v = draws["schemes.vw.referrals_per_team"][:, 0]
    assert set(np.unique(v)) == {100.0, 200.0, 300.0}
    for value, p in zip([100, 200, 300], [0.2, 0.5, 0.3], strict=True):
        assert (v == value).mean() == pytest.approx(p, abs=0.015)


def test_uncertain_parameters_listed_with_paths():
    paths = {p.path for p in uncertain_parameters(_uncertain())}
    assert paths == {
        "schemes.vw.referrals_per_team",
        "schemes.vw.targeting",
        "schemes.vw.escalation",
        "schemes.vw.ramp_up",
    }
