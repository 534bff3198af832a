"""Portfolios of schemes (models/portfolio.md), against figures worked out by hand: avoided
patients counted once on a shared cohort, a portfolio chosen exactly when it pays, scale-curve
costs, payments between providers and transformation funding with money conserved."""

from __future__ import annotations

import numpy as np
import pytest
from pydantic import ValidationError

from gainshare.economics.effects import scheme_effects
from gainshare.economics.model import LeverChoice, compute, scheme_flows
from gainshare.economics.portfolio import curve_cost
from gainshare.economics.scenarios import sample
from gainshare.optimise import Designer
from gainshare.optimise.data import build_data
from gainshare.schema.agreement import Agreement
from gainshare.schema.case import Case, CostBand
from gainshare.settle.check import check
from tests.helpers_design import tiny_dict


def _scheme(sid: str, referrals: float, fixed_cost: float = 0.0, **extra) -> dict:
    return {"id": sid, "provider": "community", "referrals_per_team": referrals,
            "targeting": 1.0, "moves_from": [{"contract": "nel"}], "fixed_cost": fixed_cost,
            **extra}  # fmt: skip


def one_scenario(**update) -> dict:
    """The tiny case (tests/helpers_design.py) with one named scenario and no schemes."""
    data = tiny_dict()
    data["uncertainty"] = {"scenarios": 0, "named": [{"name": "only", "weight": 1.0}]}
    data["schemes"] = []
    return data | update


def overlap_case() -> Case:
    """Cohort of 200; A avoids 100, all from the cohort; B avoids 80, half from it."""
    return Case.model_validate(one_scenario(
        cohorts=[{"id": "frail", "size": 200}],
        schemes=[_scheme("a", 100, cohorts={"frail": 1.0}),
                 _scheme("b", 80, cohorts={"frail": 0.5})],
    ))  # fmt: skip


# ---------------------------------------------------------------- counted once


def test_overlap_counts_each_avoided_patient_once():
    case = overlap_case()
    flows = scheme_flows(case, sample(case))
    # A reaches 100/200 = half the cohort; B's 40 cohort patients count (1 - 0.5) x 40 = 20,
    # plus its 40 from outside the cohort
    assert flows["a"][1][0, 0] == pytest.approx(100.0)
    assert flows["b"][1][0, 0] == pytest.approx(60.0)
    e = compute(case)
    k = e.contract_ids.index("nel")
    assert e.units_exp[0, 0, k] - e.units_act[0, 0, k] == pytest.approx(160.0)  # not 180
    # together: the cohort's 200 x (1 - 0.5 x 0.8) = 80 reached, plus B's 40 outside it
    assert 200 * (1 - (1 - 0.5) * (1 - 0.2)) + 40 == pytest.approx(160.0)


def test_overlap_is_capped_at_the_cohort_and_order_is_the_pathway():
    data = overlap_case().model_dump()
    data["cohorts"][0]["size"] = 90
    capped = Case.model_validate(data)
    flows = scheme_flows(capped, sample(capped))
    assert flows["a"][1][0, 0] == pytest.approx(90.0)  # A alone reaches the whole cohort
    assert flows["b"][1][0, 0] == pytest.approx(40.0)  # nothing left of it for B
    data["schemes"] = data["schemes"][::-1]  # B first: B keeps its own, A counts what is left
    swapped = Case.model_validate(data)
    flows = scheme_flows(swapped, sample(swapped))
    assert flows["b"][1][0, 0] == pytest.approx(80.0)
    assert flows["a"][1][0, 0] == pytest.approx(90 * (1 - 40 / 90))


def test_without_cohorts_schemes_add_as_before():
    data = overlap_case().model_dump()
    data["cohorts"] = []
    for s in data["schemes"]:
        s["cohorts"] = {}
    case = Case.model_validate(data)
    e = compute(case)
    k = e.contract_ids.index("nel")
    assert e.units_exp[0, 0, k] - e.units_act[0, 0, k] == pytest.approx(180.0)


def test_check_reports_each_schemes_own_and_joint_effect():
    case = overlap_case()
    doc = check(case, _agreement(case)).document
    sch = doc["schemes"]
    assert sch["by_scheme"]["a"]["own"]["patients_avoided"] == 100.0
    assert sch["by_scheme"]["b"]["own"]["patients_avoided"] == 80.0
    assert sch["by_scheme"]["b"]["in_portfolio"]["patients_avoided"] == 60.0
    p = sch["portfolio"]
    assert (p["patients_avoided"], p["patients_avoided_sum_of_own"], p["double_count_removed"]) \
        == (160.0, 180.0, 20.0)  # fmt: skip
    # each avoided spell saves the acute trust's variable cost of 400; no running costs here
    assert sch["by_scheme"]["a"]["own"]["system_savings"] == 40_000.0
    assert sch["by_scheme"]["b"]["in_portfolio"]["system_savings"] == 24_000.0  # 60 x 400
    assert p["system_savings"] == 64_000.0 and p["joint_effect"] == -8_000.0  # 20 x 400 lost
    assert "schemes" not in check(case.model_copy(update={"cohorts": []}), _agreement(case)) \
        .document  # fmt: skip


def _agreement(case: Case) -> Agreement:
    return Agreement.model_validate({
        "name": "hand", "case": case.name,
        "terms": {"gain_tiers": [{"shares": {"ccg": 0.1, "acute": 0.6, "community": 0.3}}],
                  "loss_tiers": [{"shares": {"ccg": 1.0, "acute": 0.0, "community": 0.0}}]},
    })  # fmt: skip


# ---------------------------------------------------------------- which schemes to run


def portfolio_case(ward_cost: float) -> Case:
    """Acute spells cost 400 at the margin and free one bed day each; a ward of 150 bed days
    costs `ward_cost`. A (fixed cost 30,000) and B (50,000) each avoid 100 spells:
    savings A 100 x 400 - 30,000 = 10,000; B -10,000; both 200 spells close the ward:
    10,000 - 10,000 + ward_cost = ward_cost. Running both pays exactly when ward_cost > 10,000."""
    data = one_scenario(
        schemes=[_scheme("a", 100, 30_000), _scheme("b", 100, 50_000)],
        levers={"run": ["a", "b"]},
        requirements={"objective": "system_savings"},
    )
    data["contracts"][0]["costs"]["stepped"] = {"capacity_per_step": 150, "closures": 1,
                                                "cost_per_step": ward_cost}  # fmt: skip
    return Case.model_validate(data)


def test_run_lever_enumerates_every_portfolio():
    d = build_data(portfolio_case(10_000))
    labels = [st.label for st in d.structures]
    assert labels == ["run a=no, run b=no", "run a=no, run b=yes", "run a=yes, run b=no",
                      "run a=yes, run b=yes"]  # fmt: skip
    got = {
        st.label: round(float(s[0].sum()) * d.scale, 2)
        for st, s in zip(d.structures, d.savings, strict=True)
    }
    assert got == {"run a=no, run b=no": 0.0, "run a=no, run b=yes": -10_000.0,
                   "run a=yes, run b=no": 10_000.0, "run a=yes, run b=yes": 10_000.0}  # fmt: skip
    assert portfolio_case(10_000).levers.combinations() == 4


@pytest.mark.parametrize(
    ("ward_cost", "both"), [(10_001.0, True), (9_999.0, False), (25_000.0, True), (2_000.0, False)]
)
def test_both_schemes_run_exactly_when_it_pays(ward_cost, both):
    res = Designer(portfolio_case(ward_cost)).solve()
    assert res.status == "optimal"
    assert res.levers["teams"] == ({"a": 1, "b": 1} if both else {"a": 1, "b": 0})
    assert res.objective_value == pytest.approx(max(ward_cost, 10_000.0), abs=0.01)
    assert res.check.all_kept_whole  # every party whole under the portfolio chosen


def test_a_scheme_not_run_has_no_overhead_and_no_funding():
    data = portfolio_case(0).model_dump()
    data["schemes"][1]["overhead"] = 7_000
    data["transformation_funding"] = [{"payer": "ccg", "recipient": "community", "scheme": "b",
                                       "amount": 5_000}]  # fmt: skip
    case = Case.model_validate(data)
    off = compute(case, levers=LeverChoice(teams={"b": 0}))
    on = compute(case)
    j = case.party_ids.index("community")
    assert off.outside_pool is None
    assert on.outside_pool[0, 0, j] == 5_000.0
    assert on.cost_change[0, 0, j] - off.cost_change[0, 0, j] == pytest.approx(
        50_000 + 7_000 + 100 * 50 * 0  # team and overhead; the scheme moves no contacts here
    )


# ---------------------------------------------------------------- scale curve


BANDS = [CostBand(upto=500, cost_per_patient=400), CostBand(upto=1500, cost_per_patient=300),
         CostBand(cost_per_patient=250)]  # fmt: skip


@pytest.mark.parametrize(
    ("patients", "cost"),
    [(0, 0), (300, 120_000), (500, 200_000), (1_200, 410_000), (2_000, 625_000)],
)
def test_scale_curve_against_hand_figures(patients, cost):
    # 1,200 patients: 500 x 400 + 700 x 300; 2,000: 500 x 400 + 1,000 x 300 + 500 x 250
    assert curve_cost(BANDS, np.array([float(patients)]))[0] == pytest.approx(cost)


def test_scale_curve_makes_a_larger_scheme_cheaper_per_patient():
    curve = [b.model_dump() for b in BANDS]
    small = Case.model_validate(one_scenario(schemes=[_scheme("a", 300, cost_curve=curve)]))
    large = Case.model_validate(one_scenario(schemes=[_scheme("a", 1_200, cost_curve=curve)]))
    j = small.party_ids.index("community")
    # the tiny case's community contract is a block: the scheme's cost is all it adds
    assert compute(small).cost_change[0, 0, j] == pytest.approx(120_000)
    assert compute(large).cost_change[0, 0, j] == pytest.approx(410_000)
    assert 410_000 / 1_200 < 120_000 / 300


def test_cost_curve_bands_must_be_in_order():
    with pytest.raises(ValidationError, match="every band but the last needs 'upto'"):
        Case.model_validate(one_scenario(schemes=[_scheme("a", 1, cost_curve=[
            {"cost_per_patient": 1}, {"upto": 5, "cost_per_patient": 1}])]))  # fmt: skip
    with pytest.raises(ValidationError, match="not above the band before"):
        Case.model_validate(one_scenario(schemes=[_scheme("a", 1, cost_curve=[
            {"upto": 5, "cost_per_patient": 1}, {"upto": 3, "cost_per_patient": 1},
            {"cost_per_patient": 1}])]))  # fmt: skip


# ---------------------------------------------------------------- payments outside the pool


def provider_contract_case(**funding) -> Case:
    """The acute trust pays the community trust 150 per early discharge (100 a year); the
    scheme's 100 avoided spells are the ccg's saving, as before."""
    data = one_scenario(schemes=[_scheme("a", 100, 20_000, moves_to=[{"contract": "esd"}])])
    data["contracts"].append({"id": "esd", "commissioner": "acute", "provider": "community",
                              "between_providers": True, "rule": "activity", "price": 150,
                              "expected_units": 0})  # fmt: skip
    if funding:
        data["transformation_funding"] = [{"payer": "ccg", "recipient": "community",
                                           "amount": 8_000, **funding}]  # fmt: skip
    return Case.model_validate(data)


def _identities(result) -> None:
    st, pen = result.settlement, result.pence
    assert np.abs(st.net.sum(axis=2) - st.system_savings).max() < 1e-6
    assert np.abs(st.transfer.sum(axis=2) + st.retained - st.pool).max() < 1e-6
    assert (pen.net.sum(axis=2) == pen.system_savings).all()
    assert (pen.transfer.sum(axis=2) + pen.retained.sum(axis=2) == pen.pool).all()
    ident = result.document["identities"]
    assert ident["pence_pool_exact"] and ident["pence_savings_exact"]


def test_provider_to_provider_contract_settles_with_money_conserved():
    case = provider_contract_case()
    result = check(case, _agreement(case))
    e = result.settlement.econ
    acute, community, ccg = (case.party_ids.index(p) for p in ("acute", "community", "ccg"))
    assert e.revenue_change[0, 0, community] == 15_000.0  # 100 discharges x 150, received
    assert e.revenue_change[0, 0, acute] == -100_000.0 - 15_000.0  # tariff lost and paid out
    assert e.exp_spend[0, 0, acute] == e.act_spend[0, 0, acute] == 0.0  # not a commissioner
    # the pool is the ccg's saving alone: 100 spells x 1,000; the payment is outside it
    assert result.settlement.pool[0, 0] == 100_000.0
    base = check(case, _agreement(case)).document["by_party"]
    assert base["acute"]["expected_net"] == pytest.approx(-115_000 + 40_000 + 60_000)
    assert base["community"]["expected_net"] == pytest.approx(15_000 - 20_000 + 30_000)
    _identities(result)
    assert "expected_outside_pool" not in base["acute"]


@pytest.mark.parametrize("pool", ["outside", "charged"])
def test_transformation_funding_as_the_term_sheet_states(pool):
    case = provider_contract_case(pool=pool)
    result = check(case, _agreement(case))
    st = result.settlement
    ccg, community = case.party_ids.index("ccg"), case.party_ids.index("community")
    without = check(provider_contract_case(), _agreement(case))
    if pool == "outside":  # the pool does not see it; the ccg pays it from its own budget
        assert st.pool[0, 0] == without.settlement.pool[0, 0] == 100_000.0
        assert st.econ.outside_pool[0, 0, community] == 8_000.0
        assert st.econ.outside_pool[0, 0, ccg] == -8_000.0
        doc = result.document["by_party"]
        assert doc["community"]["expected_outside_pool"] == 8_000.0
        assert result.pence.outside_pool.sum() == 0
    else:  # charged to the pool before it is shared
        assert st.pool[0, 0] == 100_000.0 - 8_000.0
        assert st.econ.outside_pool is None
    assert st.net[0, 0, community] - without.settlement.net[0, 0, community] == pytest.approx(
        8_000.0 if pool == "outside" else 8_000.0 - 0.3 * 8_000.0  # its 30% share of the cost
    )
    assert st.system_savings[0, 0] == without.settlement.system_savings[0, 0]  # a transfer
    _identities(result)


def test_design_keeps_parties_whole_with_money_outside_the_pool():
    case = provider_contract_case(pool="outside")
    res = Designer(case).solve()
    assert res.status == "optimal" and res.check.all_kept_whole
    # the design model's net positions are the settlement's, money outside the pool included
    assert res.check.document["by_party"]["community"]["worst_net"] >= -0.005


def test_effects_measure_savings_against_no_scheme():
    case = overlap_case()
    e = compute(case)
    fx = scheme_effects(case, e)
    assert fx["portfolio"]["system_savings"] == pytest.approx(
        float(e.weights @ -e.total_cost_change.sum(axis=(1, 2)))
    )


# ---------------------------------------------------------------- bad input


@pytest.mark.parametrize(("change", "words"), [
    (lambda d: d["contracts"][1].update(commissioner="acute"), "'acute' is not a commissioner"),
    (lambda d: d["contracts"][1].update(between_providers=True), "is not a provider: a contract "
     "between providers is paid by a provider"),
    (lambda d: d["schemes"][0].update(cohorts={"nobody": 1.0}), "no cohort 'nobody'"),
    (lambda d: d["schemes"][0].update(cohorts={"frail": 0.7, "other": 0.6}), "above 1"),
    (lambda d: d.update(cohorts=[{"id": "frail", "size": 0}]), "size can be 0 or less"),
    (lambda d: d.update(transformation_funding=[{"payer": "acute", "recipient": "community",
                                                 "amount": 1, "pool": "charged"}]),
     "is not a commissioner"),
    (lambda d: d.update(transformation_funding=[{"payer": "ccg", "recipient": "community",
                                                 "amount": 1, "years": [2]}]), "years [2]"),
    (lambda d: d.update(transformation_funding=[{"payer": "ccg", "recipient": "community",
                                                 "amount": 1, "scheme": "zz"}]),
     "'zz' is not in schemes"),
    (lambda d: d.update(levers={"run": ["zz"]}), "levers.run: no scheme 'zz'"),
])  # fmt: skip
def test_bad_portfolio_input_is_named(change, words):
    data = one_scenario(cohorts=[{"id": "frail", "size": 100}],
                        schemes=[_scheme("a", 10, cohorts={"frail": 1.0})])  # fmt: skip
    change(data)
    with pytest.raises(ValidationError) as err:
        Case.model_validate(data)
    assert words in " ".join(str(err.value).split())
