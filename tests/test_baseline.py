"""Baselines: a case's expected spend trended (a rate or a stated index), adjusted for
population or risk (a factor per year from data) and rebased for a renewed agreement, by hand:
one contract of 1,000 units at 100 a unit (expected spend 100,000 a year)."""

from __future__ import annotations

import numpy as np
import pytest
from helpers import activity_contract, block_contract, build_case, single_contract_case
from pydantic import ValidationError

import gainshare
from gainshare.report.termsheet import term_sheet
from gainshare.schema.agreement import Agreement

AGREEMENT = Agreement.model_validate(
    {"name": "a", "terms": {"gain_tiers": [{"shares": {"icb": 0.5, "prov": 0.5}}],
                            "loss_tiers": [{"shares": {"icb": 0.5, "prov": 0.5}}]}}
)  # fmt: skip


def case(contract=None, baseline=None, years=3, **extra):
    c = contract or activity_contract("c", "icb", "prov", 100, 1_000, 40)
    d = single_contract_case(c, years=years, **extra)
    if baseline is not None:
        d["baseline"] = baseline
    return build_case(d)


def expected(c) -> list[float]:
    return [round(float(v), 6) for v in gainshare.compute(c).exp_pay[0, :, 1]]


def test_no_baseline_rule_is_the_case_as_it_is():
    assert expected(case()) == [100_000.0] * 3


def test_trend_by_rate_and_by_stated_index():
    assert expected(case(baseline={"trend": {"rate": 0.03}})) == [100_000, 103_000, 106_090]
    idx = {"trend": {"index": [1.0, 1.05, 1.08]}}
    assert expected(case(baseline=idx)) == [100_000, 105_000, 108_000]


def test_adjustments_multiply_the_trend():
    b = {"trend": {"rate": 0.1}, "adjustments": [
        {"basis": "population", "factors": [1.0, 1.02, 1.0]},
        {"basis": "risk", "factors": [0.98, 1.0, 1.0]}]}  # fmt: skip
    assert expected(case(baseline=b)) == pytest.approx([98_000, 112_200, 121_000])


def test_the_counterfactual_moves_with_the_baseline_so_the_pool_does_not():
    # no scheme and no demand change: actual = expected, pool 0, whatever the trend
    econ = gainshare.compute(case(baseline={"trend": {"rate": 0.05}}))
    assert np.allclose(econ.act_pay, econ.exp_pay)
    assert np.allclose(econ.pool, 0.0)


def test_fixed_sums_move_with_the_baseline():
    block = block_contract("c", "icb", "prov", 250_000, 1_000, 100, 40)
    assert expected(case(block, {"trend": {"rate": 0.1}})) == [250_000, 275_000, 302_500]
    cap = {"id": "c", "commissioner": "icb", "provider": "prov", "rule": "capitation",
           "population": 1_000, "per_head": 80, "expected_units": 500}  # fmt: skip
    b = {"adjustments": [{"factors": [1.0, 1.01, 1.03], "source": "ONS mid-year estimates"}]}
    assert expected(case(cap, b)) == pytest.approx([80_000, 80_800, 82_400])


def test_rebase_to_an_outturn_with_a_weight():
    full = {"rebase": {"outturn": "2028/29 actuals", "expected_units": {"c": 900}}}
    assert expected(case(baseline=full)) == [90_000.0] * 3
    half = {"rebase": {"outturn": "2028/29 actuals", "expected_units": {"c": 900}, "weight": 0.5},
            "trend": {"rate": 0.1}}  # fmt: skip
    assert expected(case(baseline=half)) == pytest.approx([95_000, 104_500, 114_950])


def test_only_the_named_contracts_move():
    two = single_contract_case(activity_contract("c", "icb", "prov", 100, 1_000, 40), years=2)
    two["contracts"].append(activity_contract("d", "icb", "prov", 10, 1_000, 4))
    two["baseline"] = {"contracts": ["d"], "trend": {"rate": 1.0}}
    econ = gainshare.compute(build_case(two), detail=True)
    assert econ.detail.exp_pay[0].tolist() == [[100_000, 10_000], [100_000, 20_000]]


@pytest.mark.parametrize(
    "baseline, text",
    [
        ({"trend": {"index": [1.0, 1.1]}}, "baseline.trend.index has 2 values but the horizon is "
         "3 years: give exactly 3, one per year"),
        ({"contracts": ["x"], "trend": {"rate": 0.1}}, "baseline.contracts[0]: 'x' is not in "
         "contracts: fix the id"),
        ({"rebase": {"outturn": "o", "expected_units": {"x": 1}}},
         "baseline.rebase.expected_units.x: 'x' is not in contracts"),
        ({"trend": {"rate": 0.1, "index": [1, 1, 1]}}, "give exactly one of 'rate'"),
        ({"adjustments": [{"factors": [1, 0, 1]}]}, "greater than 0"),
    ],
)  # fmt: skip
def test_baseline_rules_are_checked(baseline, text):
    with pytest.raises(ValidationError, match=text.replace("[", r"\[").replace("]", r"\]")):
        case(baseline=baseline)


def test_term_sheet_states_each_baseline_rule():
    b = {"trend": {"rate": 0.03, "source": "NHS England allocations"},
         "adjustments": [{"basis": "population", "factors": [1.0, 1.012, 1.025],
                          "source": "ONS mid-year estimates"}],
         "rebase": {"outturn": "2025/26 outturn", "expected_units": {"c": 960},
                    "weight": 0.5}}  # fmt: skip
    c = case(baseline=b)
    sheet = term_sheet(c, AGREEMENT, gainshare.check(c, AGREEMENT))
    text = " ".join(sheet.clauses[1].paragraphs)
    assert ("The expected spend on every contract grows 3% a year (NHS England allocations): "
            "index 1, 1.03, 1.061 for 2026/27 to 2028/29.") in text  # fmt: skip
    assert ("It is adjusted for population each year by the factors 1, 1.012, 1.025, from ONS "
            "mid-year estimates.") in text  # fmt: skip
    assert (
        "For this renewed agreement the baseline is rebased to the 2025/26 outturn: c 960 "
        "units in the first year, weighted 50% against the earlier baseline's 50%."
    ) in text


def test_a_baseline_survives_the_case_workbook(tmp_path):
    from gainshare.report.excel_case import write_case_workbook
    from gainshare.schema.workbook import read_case_workbook

    c = case(baseline={"trend": {"rate": 0.03}, "adjustments": [{"factors": [1, 1.01, 1.02]}]})
    path = write_case_workbook(c, tmp_path / "case.xlsx")
    assert read_case_workbook(path) == c
