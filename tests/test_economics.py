"""Hand checks of the economics (SPEC sections 2 and 3): payment rules, stepped costs, scheme
running costs, benefits, stranded fixed cost and unfunded activity. Figures in pounds."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from helpers import (
    activity_contract,
    block_contract,
    economics,
    party,
    scheme,
    single_contract_case,
    small_case,
)


def _pay(contract: dict, demand) -> tuple[float, float, float]:
    """Expected payment, actual payment and cost change of the single provider."""
    c = dict(contract, demand_variation=demand)
    e = economics(single_contract_case(c))
    return float(e.exp_pay[0, 0, 1]), float(e.act_pay[0, 0, 1]), float(e.cost_change[0, 0, 1])


# ------------------------------------------------------------------ payment rules


@pytest.mark.parametrize(
    ("demand", "actual", "cost"),
    [
        (1.0, 2_000_000, 0),  # 2,000 x 1,000
        (0.9, 1_800_000, -80_000),  # 2,000 x 900; 800 x -100
        (1.1, 2_200_000, 80_000),  # 2,000 x 1,100; 800 x 100
    ],
)
def test_activity_pays_price_times_units(demand, actual, cost):
    c = activity_contract("nel", "icb", "prov", 2_000, 1_000, 800)
    assert _pay(c, demand) == (2_000_000, actual, cost)


BAND = {"lower": 0.9, "upper": 1.1, "rate": 0.5}


@pytest.mark.parametrize(
    ("band", "demand", "actual"),
    [
        (None, 1.2, 1_000_000),  # a block pays the same whatever the volume
        (None, 0.5, 1_000_000),
        (BAND, 1.05, 1_000_000),  # 10,500 units: inside [9,000, 11,000]
        (BAND, 1.2, 1_050_000),  # 12,000 - 11,000 = 1,000 above; + 0.5 x 100 x 1,000
        (BAND, 0.8, 950_000),  # 9,000 - 8,000 = 1,000 below; - 0.5 x 100 x 1,000
    ],
)
def test_block_with_volume_band(band, demand, actual):
    c = block_contract("cn", "icb", "prov", 1_000_000, 10_000, 100, 40)
    if band:
        c["volume_band"] = band
    exp, act, cost = _pay(c, demand)
    assert (exp, act) == (1_000_000, actual)
    assert cost == pytest.approx(40 * 10_000 * (demand - 1))  # variable cost 40 a contact


def test_block_fixed_payment_defaults_to_price_times_plan():
    c = block_contract("cn", "icb", "prov", None, 10_000, 100)
    del c["fixed_payment"]
    assert _pay(c, 1.3)[:2] == (1_000_000, 1_000_000)  # 100 x 10,000


@pytest.mark.parametrize(
    ("fixed", "demand", "actual"),
    [
        (None, 1.0, 1_000_000),  # fixed = 100 x 10,000 planned units
        (None, 1.2, 1_040_000),  # 2,000 above plan x 100 x 0.2
        (None, 0.8, 900_000),  # 2,000 below plan x 100 x 0.5 recovered
        (800_000, 1.2, 840_000),  # stated fixed sum 800,000 + 40,000
        (800_000, 0.8, 700_000),  # 800,000 - 100,000
    ],
)
def test_blended_above_and_below_plan(fixed, demand, actual):
    c = {
        "id": "uec",
        "commissioner": "icb",
        "provider": "prov",
        "rule": "blended",
        "price": 100,
        "expected_units": 10_000,
        "marginal_rate_above": 0.2,
        "marginal_rate_below": 0.5,
    }
    if fixed is not None:
        c["fixed_payment"] = fixed
    exp, act, _ = _pay(c, demand)
    assert (exp, act) == (fixed or 1_000_000, actual)


@pytest.mark.parametrize("demand", [0.7, 1.0, 1.3])
def test_capitation_is_independent_of_activity(demand):
    c = {
        "id": "gp",
        "commissioner": "icb",
        "provider": "prov",
        "rule": "capitation",
        "population": 50_000,
        "per_head": 20,
        "expected_units": 100_000,
        "costs": {"variable_per_unit": 3},
    }
    exp, act, cost = _pay(c, demand)
    assert (exp, act) == (1_000_000, 1_000_000)  # 50,000 x 20
    assert cost == pytest.approx(3 * 100_000 * (demand - 1))


def test_commissioner_spend_mirrors_provider_payment():
    e = economics(small_case())
    np.testing.assert_array_equal(e.exp_spend[0, 0], [3_000_000, 0, 0])
    np.testing.assert_array_equal(e.act_spend[0, 0], [2_800_000, 0, 0])
    np.testing.assert_array_equal(e.pool_contribution[0, 0], [200_000, 0, 0])


# ------------------------------------------------------------------ stepped cost


def _ward_case(closures, first, demand=(0.85, 0.75, 0.55)):
    # 1,000 spells x 5 bed days; a step is 1,000 bed days costing 500,000 a year.
    # demand 0.85, 0.75, 0.55 -> 150, 250, 450 spells fewer -> 750, 1,250, 2,250 bed days freed
    # -> 0, 1, 2 whole steps possible
    c = activity_contract("nel", "icb", "prov", 2_000, 1_000, 0, bed_days_per_unit=5)
    c["costs"]["stepped"] = {
        "capacity_per_step": 1_000,
        "cost_per_step": 500_000,
        "closures": closures,
        "first_release_year": first,
    }
    c["demand_variation"] = list(demand)
    return economics(single_contract_case(c, years=3))


@pytest.mark.parametrize(
    ("closures", "first", "released"),
    [
        (0, 1, [0, 0, 0]),  # no closure planned: nothing saved however far activity falls
        (1, 1, [0, 1, 1]),  # year 1 frees 750 bed days, less than a step
        (2, 1, [0, 1, 2]),
        (5, 1, [0, 1, 2]),  # closures beyond what activity frees are not released
        (2, 3, [0, 0, 2]),  # closures lag: nothing before year 3
        (2, 2, [0, 1, 2]),
    ],
)
def test_stepped_cost_released_by_whole_steps(closures, first, released):
    e = _ward_case(closures, first)
    np.testing.assert_array_equal(e.steps_released[0, :, 0], released)
    np.testing.assert_array_equal(e.cost_change[0, :, 1], [-500_000 * r for r in released])


def test_stepped_cost_exact_step_boundary():
    # 0.8 -> 200 spells x 5 = 1,000 bed days = exactly one step; 0.8001 -> 999.5, none
    e = _ward_case(1, 1, demand=(0.8, 0.8001, 1.2))
    np.testing.assert_array_equal(e.steps_released[0, :, 0], [1, 0, 0])


# ------------------------------------------------------------------ schemes


def _scheme_case(filled, paid_directly_by=None, benefit=None):
    d = small_case()
    s = scheme(
        "vw",
        "comm",
        100,
        0.6,
        [("acute_nel", 1)],
        escalation=0.25,
        teams=2,
        ramp_up=0.5,
        fixed_cost=20_000,
        cost_per_patient=100,
        staffing={
            "posts_per_team": 10,
            "cost_per_post": 50_000,
            "filled": filled,
            "agency_premium": 0.5,
        },
    )
    if paid_directly_by:
        s["paid_directly_by"] = paid_directly_by
    if benefit:
        d["parties"].append(party("la", "commissioner", "local_authority"))
        s["benefits"] = [{"party": "la", "per_patient_avoided": benefit}]
    d["schemes"] = [s]
    return d


@pytest.mark.parametrize(
    ("filled", "running"),
    [
        # referrals 2 teams x 100 x ramp-up 0.5 = 100
        # per team 20,000 + 10 posts x 50,000 x (1 + (1 - 0.8) x 0.5) = 20,000 + 550,000
        # total 2 x 570,000 + 100 per patient x 100 = 1,150,000
        (0.8, 1_150_000),
        (1.0, 1_050_000),  # every post filled: no agency premium, 2 x 520,000 + 10,000
        (0.0, 1_550_000),  # all agency: 2 x (20,000 + 750,000) + 10,000
    ],
)
def test_scheme_running_cost_with_agency_premium(filled, running):
    e = economics(_scheme_case(filled))
    # 100 referrals: 100 x 0.6 x 0.75 = 45 avoided, 100 x 0.4 x 0.25 = 10 escalated new spells
    # acute: 35 fewer spells -> A = 2,000 x 965, cost change 800 x -35 = -28,000
    assert float(e.act_pay[0, 0, 1]) == 1_930_000
    assert float(e.cost_change[0, 0, 1]) == -28_000
    assert float(e.cost_change[0, 0, 2]) == pytest.approx(running)
    assert float(e.pool_contribution[0, 0, 0]) == 70_000


def test_scheme_cost_paid_directly_by_commissioner_comes_out_of_the_pool():
    e = economics(_scheme_case(0.8, paid_directly_by="icb"))
    assert float(e.cost_change[0, 0, 2]) == 0
    assert float(e.direct_cost[0, 0, 0]) == pytest.approx(1_150_000)
    # pool = 70,000 spend saved - 1,150,000 paid directly
    assert float(e.pool_contribution[0, 0].sum()) == pytest.approx(-1_080_000)
    # system savings: acute 28,000 cost saved - 1,150,000 running cost
    assert float(-e.total_cost_change[0, 0].sum()) == pytest.approx(-1_122_000)


def test_social_care_benefit_booked_to_local_authority():
    e = economics(_scheme_case(1.0, benefit=1_500))
    la = e.index("la")
    # 45 patients avoided x 1,500
    assert float(e.benefit[0, 0, la]) == 67_500
    assert float(e.total_cost_change[0, 0, la]) == -67_500
    # system savings 28,000 - 1,050,000 + 67,500
    assert float(-e.total_cost_change[0, 0].sum()) == pytest.approx(-954_500)


def test_ramp_up_by_year():
    d = small_case(years=3)
    d["schemes"][0]["ramp_up"] = [0.5, 0.75, 1.0]
    e = economics(d)
    # referrals 100, 150, 200 -> avoided 50, 75, 100 -> pool 100,000, 150,000, 200,000
    np.testing.assert_array_equal(e.pool_contribution[0, :, 0], [100_000, 150_000, 200_000])


# ------------------------------------------------------------------ stranded / unfunded


def test_stranded_and_unfunded_in_the_small_case():
    e = economics(small_case())
    # acute lost 200,000 of revenue, avoided 80,000 of cost: 120,000 stranded
    np.testing.assert_array_equal(e.stranded_fixed_cost[0, 0], [0, 120_000, 0])
    # comm: 36,000 more cost, no more revenue (block): 36,000 unfunded
    np.testing.assert_array_equal(e.unfunded_activity[0, 0], [0, 0, 36_000])


@pytest.mark.parametrize(
    ("revenue", "cost", "stranded", "unfunded"),
    [
        (-100, -30, 70, 0),  # revenue lost 100, cost avoided 30
        (-100, -150, 0, 0),  # more cost avoided than revenue lost
        (-100, 20, 100, 20),  # revenue lost and cost added: both
        (50, 80, 0, 30),  # cost added 80, revenue added 50
        (50, -10, 0, 0),
        (100, 80, 0, 0),  # revenue added covers the cost
        (0, 0, 0, 0),
    ],
)
def test_stranded_and_unfunded_definitions(revenue, cost, stranded, unfunded):
    e = economics(small_case())
    shape = e.exp_pay.shape
    col = np.zeros(shape)
    col[..., 1] = 1.0
    custom = dataclasses.replace(
        e,
        act_pay=e.exp_pay + revenue * col,
        cost_change=cost * col + 7.0 * np.eye(3)[0],  # a commissioner's figure is ignored
    )
    assert float(custom.stranded_fixed_cost[0, 0, 1]) == stranded
    assert float(custom.unfunded_activity[0, 0, 1]) == unfunded
    assert float(custom.stranded_fixed_cost[0, 0, 0]) == 0
    assert float(custom.unfunded_activity[0, 0, 0]) == 0
