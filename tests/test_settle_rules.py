"""The settlement rules beyond one provider in one year, against hand cases (see helpers.py for
the small case: pool 200,000 a year with the defaults, -200,000 in `loss_case`): caps and
collars on a group of providers, caps and collars over the whole agreement, MSSP ENHANCED's
quality-scaled loss rate, and a risk partner (HHS in ACA risk corridors) with the statutory
signs. Also: each rule is checked against the case, stated in the term sheet, and refused by
design and repair with one line (exit 2) rather than left out."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from helpers import (
    activity_contract,
    agreement,
    build_agreement,
    build_case,
    by_party,
    loss_case,
    party,
    settle_dicts,
    single_contract_case,
    small_case,
)
from pydantic import ValidationError
from typer.testing import CliRunner

import gainshare
from gainshare.cli import app
from gainshare.report.termsheet import term_sheet
from gainshare.schema.io import InputError, agreement_problems
from gainshare.schema.rules import QualityLossRate

ROOT = Path(__file__).resolve().parents[1]
RULES = ROOT / "cases" / "rules"
runner = CliRunner()
GROUP = {"name": "aco", "members": ["acute", "comm"]}


def transfers(st, y: int = 0) -> dict[str, float]:
    return {k: round(v, 6) for k, v in by_party(st, "transfer", y=y).items()}


# ---------------------------------------------------------------- group caps and collars


def test_group_cap_scales_the_members_pro_rata():
    # acute 30% and comm 20% of 200,000 = 60,000 + 40,000 = 100,000 > 50,000: both halved
    st = settle_dicts(small_case(), agreement(group_limits=[GROUP | {"cap": 50_000}]))
    assert transfers(st) == {"icb": 0.0, "acute": 30_000.0, "comm": 20_000.0}
    assert st.retained[0, 0] == pytest.approx(150_000)


def test_group_cap_applies_after_each_providers_own_cap():
    # acute capped at 45,000 on its own: 45,000 + 40,000 = 85,000 > 68,000 -> x 0.8
    agr = agreement(caps={"acute": 45_000}, group_limits=[GROUP | {"cap": 68_000}])
    assert transfers(settle_dicts(small_case(), agr)) == {
        "icb": 0.0, "acute": 36_000.0, "comm": 32_000.0}  # fmt: skip


def test_group_cap_as_a_share_of_the_members_expected_payments():
    # the members' benchmark: acute 2,000,000 + comm 1,000,000; 2% = 60,000 of 100,000
    group = GROUP | {"cap": {"share_of_expected": 0.02}}
    st = settle_dicts(small_case(), agreement(group_limits=[group]))
    assert transfers(st) == {"icb": 0.0, "acute": 36_000.0, "comm": 24_000.0}


def test_group_collar_limits_the_members_loss_together():
    # loss -200,000: acute and comm 25% each = -50,000 each; together at most 60,000
    st = settle_dicts(loss_case(), agreement(group_limits=[GROUP | {"collar": 60_000}]))
    assert transfers(st) == {"icb": 0.0, "acute": -30_000.0, "comm": -30_000.0}
    assert st.retained[0, 0] == pytest.approx(-140_000)


def test_a_group_that_does_not_bind_changes_nothing():
    plain = settle_dicts(small_case(), agreement())
    grouped = settle_dicts(small_case(), agreement(group_limits=[GROUP | {"cap": 100_000}]))
    assert np.array_equal(plain.transfer, grouped.transfer)


# ---------------------------------------------------------------- limits over the agreement


def test_aggregate_cap_cuts_the_year_it_runs_out():
    # acute 60,000 a year for three years; 150,000 over the agreement
    agr = agreement() | {"aggregate_limits": {"caps": {"acute": 150_000}}}
    st = settle_dicts(small_case(years=3), agr)
    assert [transfers(st, y)["acute"] for y in range(3)] == [60_000, 60_000, 30_000]
    assert [transfers(st, y)["comm"] for y in range(3)] == [40_000] * 3
    assert st.retained[0, 2] == pytest.approx(200_000 - 70_000)


def test_aggregate_cap_as_a_share_of_expected_payments_over_the_agreement():
    # acute's expected payments: 2,000,000 x 3 years; 2% = 120,000
    agr = agreement() | {"aggregate_limits": {"caps": {"acute": {"share_of_expected": 0.02}}}}
    st = settle_dicts(small_case(years=3), agr)
    assert [transfers(st, y)["acute"] for y in range(3)] == [60_000, 60_000, 0]


def test_aggregate_collar_and_group_over_the_agreement():
    agr = agreement() | {"aggregate_limits": {"collars": {"acute": 120_000}}}
    st = settle_dicts(loss_case(years=3), agr)
    assert [transfers(st, y)["acute"] for y in range(3)] == [-50_000, -50_000, -20_000]
    # the two providers together gain at most 170,000: 100,000, then 70,000 pro rata, then 0
    agr = agreement() | {"aggregate_limits": {"groups": [GROUP | {"cap": 170_000}]}}
    st = settle_dicts(small_case(years=3), agr)
    assert [transfers(st, y) for y in range(3)] == [
        {"icb": 0.0, "acute": 60_000.0, "comm": 40_000.0},
        {"icb": 0.0, "acute": 42_000.0, "comm": 28_000.0},
        {"icb": 0.0, "acute": 0.0, "comm": 0.0},
    ]


# ---------------------------------------------------------------- quality-scaled loss share

ENHANCED = {"intercept": 1.0, "slope": 0.75, "min_rate": 0.40, "max_rate": 0.75}


def test_mssp_enhanced_loss_rate_at_quality_100_60_and_0():
    rule = QualityLossRate(**ENHANCED)
    # 1 - 0.75 x 1.0 = 0.25 -> the 40% floor; 1 - 0.45 = 0.55; 1 - 0 = 1 -> the 75% ceiling
    assert [float(rule.rate(q)) for q in (100, 60, 0)] == pytest.approx([0.40, 0.55, 0.75])


@pytest.mark.parametrize("score, rate", [(100, 0.40), (60, 0.55), (0, 0.75)])
def test_quality_scaled_loss_share_settles_at_the_rate(score, rate):
    # the community trust bears all of a -200,000 loss, times its loss rate
    case = loss_case(quality_scores={"comm": score})
    agr = agreement(loss={"icb": 0.0, "acute": 0.0, "comm": 1.0},
                    loss_quality={"comm": ENHANCED})  # fmt: skip
    st = settle_dicts(case, agr)
    assert transfers(st)["comm"] == pytest.approx(-200_000 * rate)
    assert st.retained[0, 0] == pytest.approx(-200_000 * (1 - rate))
    assert st.loss_rate[0, 0, 2] == pytest.approx(rate)


def test_loss_rate_never_touches_gains():
    case = small_case(quality_scores={"comm": 100})
    agr = agreement(loss_quality={"comm": ENHANCED})
    assert transfers(settle_dicts(case, agr)) == transfers(settle_dicts(case, agreement()))


# ---------------------------------------------------------------- risk partner


def aca_case(demand: float) -> dict:
    """A plan paying a hospital 1,000 x 1,000 a year; HHS a risk partner; demand as given."""
    contract = activity_contract("ip", "plan", "hosp", 1_000, 1_000, 400,
                                 demand_variation=demand)  # fmt: skip
    d = single_contract_case(contract)
    d["parties"] = [party("plan", "commissioner", "commissioner"), party("hosp", "provider"),
                    party("hhs", "risk_partner")]  # fmt: skip
    return d


ACA = {
    "corridor": {"gain_threshold": {"share_of_expected": 0.03},
                 "loss_threshold": {"share_of_expected": 0.03}, "mode": "excess_only"},
    "gain_tiers": [{"upto": {"share_of_expected": 0.05}, "shares": {"plan": 0.5, "hhs": 0.5}},
                   {"shares": {"plan": 0.2, "hhs": 0.8}}],
    "loss_tiers": [{"upto": {"share_of_expected": 0.05}, "shares": {"plan": 0.5, "hhs": 0.5}},
                   {"shares": {"plan": 0.2, "hhs": 0.8}}],
}  # fmt: skip


@pytest.mark.parametrize("demand, hhs", [(0.90, 41_000.0), (1.10, -41_000.0), (1.02, 0.0)])
def test_aca_corridor_with_a_risk_partner_has_the_statutory_signs(demand, hhs):
    # spend 1,000,000; costs 10% below target: the plan pays HHS 50% of 3-8% (25,000) and
    # 80% of 8-10% (16,000) = 41,000; 10% above: HHS pays the plan 41,000; 2%: inside
    st = settle_dicts(aca_case(demand), {"name": "aca", "terms": ACA})
    pool = 1_000_000 * (1 - demand)
    assert st.pool[0, 0] == pytest.approx(pool)
    assert transfers(st) == {"plan": 0.0, "hosp": 0.0, "hhs": pytest.approx(hhs)}
    assert st.retained[0, 0] == pytest.approx(pool - hhs)  # the plan keeps the rest
    assert st.net[0, 0, 2] == pytest.approx(hhs)  # HHS: nothing but its share
    doc = gainshare.check(build_case(aca_case(demand)),
                          build_agreement({"name": "aca", "terms": ACA})).document  # fmt: skip
    assert doc["by_party"]["hhs"]["role"] == "risk_partner"
    assert doc["identities"]["pence_pool_exact"] and doc["identities"]["pence_savings_exact"]


def test_the_aca_example_settles_with_the_statutory_signs():
    case = gainshare.load_case(RULES / "aca_hhs.yaml")
    res = gainshare.check(case, gainshare.load_agreement(RULES / "aca_hhs.agreement.yaml", case))
    st = res.settlement
    hhs = st.transfer[:, :, case.party_ids.index("hhs")]
    assert (np.sign(hhs) == np.sign(st.shareable)).all()  # gain: HHS receives; loss: HHS pays
    assert (st.shareable > 0).any() and (st.shareable < 0).any()
    providers = [case.party_ids.index(p) for p in case.provider_ids]
    assert (st.transfer[:, :, providers] == 0).all()
    assert res.document["identities"]["pence_pool_exact"]


# ---------------------------------------------------------------- the example agreements


def test_mssp_enhanced_example_binds_the_aco_as_a_group():
    case = gainshare.load_case(ROOT / "cases" / "mssp.yaml")
    agr = gainshare.load_agreement(RULES / "mssp_enhanced.agreement.yaml", case)
    res = gainshare.check(case, agr)
    st, e = res.settlement, res.settlement.econ
    members = [e.index(p) for p in ("hospital", "physicians", "homehealth")]
    together = st.transfer[:, :, members].sum(axis=2)
    benchmark = e.exp_pay[:, :, members].sum(axis=2)
    assert (together <= 0.20 * benchmark + 1e-6).all()
    assert (together >= -0.15 * benchmark - 1e-6).all()
    loss = st.shareable < 0
    assert loss.any()
    rates = st.loss_rate[:, :, members][loss]
    assert ((rates >= 0.40 - 1e-12) & (rates <= 0.75 + 1e-12)).all()
    assert res.document["identities"]["pence_pool_exact"]


# ---------------------------------------------------------------- checked against the case


def test_rules_are_checked_against_the_case():
    case = build_case(small_case(quality_scores={"acute": 90}))
    agr = build_agreement(agreement(
        group_limits=[{"name": "g", "members": ["acute", "icb"], "cap": 1}],
        loss_quality={"comm": ENHANCED},
    ) | {"aggregate_limits": {"caps": {"nobody": 5}}})  # fmt: skip
    assert agreement_problems(agr, case) == [
        "terms.group_limits[0].members.icb: 'icb' is not a provider: these limits apply to "
        "providers only",
        "terms.loss_quality.comm: the case has no quality_scores for 'comm': add them to the "
        "case or remove the quality-scaled loss share",
        "aggregate_limits.caps.nobody: 'nobody' is not a party in the case: these limits apply "
        "to providers only",
    ]


@pytest.mark.parametrize(
    "terms, text",
    [
        ({"group_limits": [GROUP, ]}, "has neither cap nor collar"),
        ({"group_limits": [GROUP | {"cap": 1}, {"name": "b", "members": ["acute"], "cap": 2}]},
         "'acute' is already in group 'aco': a provider may be in one group only"),
        ({"loss_quality": {"comm": ENHANCED | {"min_rate": 0.8}}}, "min_rate is above max_rate"),
    ],
)  # fmt: skip
def test_rules_refuse_what_has_no_meaning(terms, text):
    with pytest.raises(ValidationError, match=text):
        build_agreement(agreement(**terms))


def test_a_risk_partner_cannot_hold_contracts_or_caps():
    d = aca_case(1.0)
    d["contracts"][0]["provider"] = "hhs"
    with pytest.raises(ValidationError, match="'hhs' is not a provider"):
        build_case(d)
    case = build_case(aca_case(1.0))
    agr = build_agreement({"name": "a", "terms": ACA | {"caps": {"hhs": 5}}})
    assert agreement_problems(agr, case) == [
        "terms.caps.hhs: 'hhs' is not a provider: caps apply to providers only"
    ]


# ---------------------------------------------------------------- stated in the term sheet


def test_term_sheet_states_each_rule():
    case = build_case(small_case(years=2, quality_scores={"comm": 80}))
    agr = build_agreement(agreement(
        group_limits=[GROUP | {"cap": 50_000, "collar": {"share_of_expected": 0.02}}],
        loss_quality={"comm": ENHANCED},
    ) | {"aggregate_limits": {"caps": {"acute": 150_000}}})  # fmt: skip
    sheet = term_sheet(case, agr, gainshare.check(case, agr))
    text = {c.title: " ".join(c.paragraphs) for c in sheet.clauses}
    caps = text["Caps and collars"]
    assert ("Together, ACUTE and COMM (group aco) in any year gain at most £50,000 and lose at "
            "most £60,000 (2% of their expected payments of £3m)") in caps  # fmt: skip
    assert "each member's is reduced in proportion" in caps
    assert "Over the whole agreement a provider gains at most: ACUTE £150,000." in caps
    assert "cut to what the limit leaves after the years before" in caps
    losses = text["Sharing of losses"]
    assert ("COMM's share of any loss is multiplied by its loss rate: 1 - 0.75 x quality score "
            "/ 100, at least 40% and at most 75% (75% at a score of 0; 55% at a score of 60; "
            "40% at a score of 100).") in losses  # fmt: skip
    assert "true-up" in text["Settlement"]


def test_term_sheet_names_the_risk_partner():
    case = build_case(aca_case(1.0))
    agr = build_agreement({"name": "aca", "terms": ACA})
    scope = term_sheet(case, agr, gainshare.check(case, agr)).clauses[0].paragraphs[0]
    assert scope.endswith("HHS takes part in the sharing as risk partner, with no contracts of "
                          "its own: a share of a gain is paid to it, and a share of a loss is "
                          "paid by it.")  # fmt: skip


# ---------------------------------------------------------------- design and repair refuse


def test_design_refuses_a_risk_partner_nothing_bounds_in_one_line():
    """The ACA example states no requirement for HHS and no bounds on its shares: design would
    leave HHS every loss and no gain, so it says what to add (tests/test_design_risk_partner.py
    designs with a risk partner that has one)."""
    path = RULES / "aca_hhs.yaml"
    got = runner.invoke(app, ["design", str(path)])
    assert got.exit_code == 2
    assert got.stderr.strip().splitlines() == [
        f"error: {path}: keep_whole.hhs: 'hhs' is a risk partner with no requirement, so "
        "design would leave it every loss and no gain: give it one in keep_whole (e.g. mode "
        "cvar with the tolerance in money a year it can bear) or fix its shares in "
        "requirements.fixed_gain_shares and fixed_loss_shares"
    ]
    with pytest.raises(InputError):
        gainshare.design(gainshare.load_case(path))


def test_repair_refuses_rules_it_cannot_keep(tmp_path):
    """Repair keeps group limits and quality-scaled loss shares (tests/test_design_groups.py,
    tests/test_design_loss_quality.py), members' own caps beside their group's and limits
    over the whole agreement; a group's limits over the whole agreement it refuses in one
    line."""
    import json

    import yaml

    d = yaml.safe_load((RULES / "mssp_enhanced.agreement.yaml").read_text())
    d["terms"]["caps"] = {"hospital": {"amount": 1_000_000}}
    d["aggregate_limits"] = {
        "groups": [
            {"name": "aco", "members": ["hospital", "physicians"], "cap": {"amount": 2_000_000}}
        ]
    }
    path = tmp_path / "proposal.yaml"
    path.write_text(yaml.safe_dump(d))
    got = runner.invoke(app, ["repair", str(ROOT / "cases" / "mssp.yaml"), "--proposal",
                              str(path), "--json"])  # fmt: skip
    assert got.exit_code == 2
    doc = json.loads(got.stdout)
    assert doc["status"] == "bad_input"
    assert [p["text"].split(":")[1].strip() for p in doc["problems"]] == ["aggregate_limits.groups"]


def test_design_still_works_on_a_case_with_a_baseline_rule():
    d = small_case(years=2)
    d["baseline"] = {"trend": {"rate": 0.03}}
    res = gainshare.design(build_case(d))
    assert res.ok and res.check.all_kept_whole
