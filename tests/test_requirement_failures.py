"""The solver-free test of an agreement against every requirement of its case
(`settle.requirements.failures`): the system-savings floor, the distance from the reference
split and symmetric shares are checked like the keep-whole rows, so repair sees them fail and a
start the room brings is only taken when it meets them. And a start is weighed by the design's
own objective.

Hand-worked on the tiny case (tests/helpers_design.py): under its optimum (acute 60%,
community 37.5%, CCG 2.5%) the expected system savings are 0.5 x 10,000 + 0.5 x 2,000 = 6,000;
against the reference split CCG 20% / acute 50% / community 30% the gain shares sit
|2.5 - 20| + |60 - 50| + |37.5 - 30| = 35 points away (0.35); the worst provider margin is 0
(the acute trust in both scenarios, the community trust in b). The highest worst margin: acute
x, community y with x + y = 1 and 80,000 x - 48,000 = 80,000 y - 30,000, so x = 61.25%,
y = 38.75% and every provider is at least 1,000 ahead."""

from __future__ import annotations

import pytest
from helpers_design import one_tier, tiny_case

from gainshare.economics.model import compute
from gainshare.economics.scenarios import sample
from gainshare.optimise import design
from gainshare.schema.agreement import Agreement
from gainshare.settle.check import check
from gainshare.settle.requirements import failures, fair_distance

OPTIMUM = {"acute": 0.6, "community": 0.375}
REFERENCE = {"ccg": 0.2, "acute": 0.5, "community": 0.3}


def _agreement(gain: dict, loss: dict | None = None, name: str = "hand") -> Agreement:
    terms = {"gain_tiers": one_tier(gain), "loss_tiers": one_tier(loss or gain)}
    return Agreement.model_validate({"name": name, "terms": terms})


def _failing(requirements: dict, agreement: Agreement) -> list[dict]:
    case = tiny_case(requirements=requirements)
    return failures(case, agreement, check(case, agreement, compute(case, sample(case))))


@pytest.mark.parametrize("floor, fails", [(6_000, False), (6_000.02, True), (7_000, True)])
def test_system_savings_floor(floor, fails):
    got = _failing({"system_savings_min": floor}, _agreement(OPTIMUM))
    assert [f["requirement"] for f in got] == (["system_savings_min"] if fails else [])
    if fails:
        assert "£6,000" in got[0]["text"] and "below the required" in got[0]["text"]


def test_fair_distance_by_hand():
    case = tiny_case(requirements={"reference_split": REFERENCE})
    assert fair_distance(case, _agreement(OPTIMUM)) == pytest.approx(0.35)
    # without a reference split, an equal split of the three parties
    plain = tiny_case()
    assert fair_distance(plain, _agreement(OPTIMUM)) == pytest.approx(
        abs(0.025 - 1 / 3) + abs(0.6 - 1 / 3) + abs(0.375 - 1 / 3)
    )


@pytest.mark.parametrize("most, fails", [(0.35, False), (0.3499, True), (0.1, True)])
def test_fair_distance_limit(most, fails):
    req = {"reference_split": REFERENCE, "fair_distance_max": most}
    got = _failing(req, _agreement(OPTIMUM))
    assert [f["requirement"] for f in got] == (["fair_distance_max"] if fails else [])


def test_the_design_model_and_the_settlement_measure_the_same_distance():
    """Two formulations of one number: the MIP's `fair_distance` and the settlement's."""
    case = tiny_case(requirements={"objective": "fair_reference", "reference_split": REFERENCE})
    r = design(case)
    assert r.status == "optimal" and r.check.all_kept_whole
    assert r.objective_value == pytest.approx(fair_distance(case, r.agreement), abs=1e-6)
    # kept whole needs acute >= 60% and community >= 37.5%: the nearest split to the reference
    # moves the CCG's 20% down to 2.5%, 17.5 points, and the trusts up 10 and 7.5
    assert r.objective_value == pytest.approx(0.35, abs=1e-6)


@pytest.mark.parametrize("loss, fails", [(OPTIMUM, False), ({"acute": 0.5, "community": 0.375},
                                                             True)])  # fmt: skip
def test_symmetric_shares(loss, fails):
    req = {"symmetric": True, "gain_edges": [], "loss_edges": []}
    got = _failing(req, _agreement(OPTIMUM, loss))
    assert [f["requirement"] for f in got] == (["symmetric"] if fails else [])


def test_a_start_is_weighed_by_the_worst_margin_when_that_is_the_aim():
    """Before, a start was weighed by what the commissioners keep whatever the aim, so it beat
    any worst margin and came back as the answer with that sum as its 'worst margin'."""
    case = tiny_case(requirements={"objective": "worst_margin"})
    start = _agreement(OPTIMUM, name="the commissioners' optimum")
    r = design(case, starts=(start,))
    assert r.status == "optimal" and r.agreement.name != start.name
    assert r.objective_value == pytest.approx(1_000, abs=0.01)
    assert r.check.worst_provider_net == pytest.approx(1_000, abs=0.01)
    assert r.starts[0]["meets_requirements"] and r.starts[0]["objective_value"] == 0.0
    assert r.agreement.terms.gain_tiers[0].shares["acute"] == pytest.approx(0.6125)
