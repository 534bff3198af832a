"""Design under caps and collars over the whole agreement (BPCI's aggregate cap): the limits
are terms the case states (`requirements.aggregate_limits`), design searches the shares under
them with the MIP (models/design.md, "Limits over the agreement"), and settlement cuts each
year's transfer to what the years before leave.

Hand-worked: the tiny case of tests/helpers_design.py over two identical years. Without a limit
the community trust takes 37.5% of the gain (30,000 of 80,000 in scenario b), 37,500 and 30,000
a year, and the CCG keeps 2.5%: 4,500 over the two years. Capped at 70,000 over the agreement,
the trust takes 37,500 then 32,500 in scenario a (still at least the 30,000 it needs) and
30,000 twice in b; the CCG keeps 5,000 more in a: 4,500 + 0.5 x 5,000 = 7,000. Capped at
50,000 it cannot get the 60,000 it needs over two years: infeasible."""

from __future__ import annotations

import json

import pytest
import yaml
from helpers_design import gain_loss_dict, gain_then_loss_best, tiny_case, tiny_dict
from typer.testing import CliRunner

from gainshare.cli import app
from gainshare.optimise import Designer, design
from gainshare.optimise.explain import explain
from gainshare.schema.agreement import Agreement
from gainshare.schema.case import Case
from gainshare.schema.io import InputError

runner = CliRunner()
TWO_YEARS = {"years": 2, "first_year": 2026}


def capped(amount: float, **req) -> Case:
    return tiny_case(horizon=TWO_YEARS, requirements={
        "aggregate_limits": {"caps": {"community": {"amount": amount}}}} | req)  # fmt: skip


@pytest.mark.parametrize("method", [None, "mip"])
def test_hand_worked_cap_over_the_agreement(method):
    r = Designer(capped(70_000), method=method).solve()
    assert r.status == "optimal" and r.route == "mip"
    assert r.agreement.terms.gain_tiers[0].shares == pytest.approx(
        {"acute": 0.6, "community": 0.375, "ccg": 0.025}
    )
    assert r.agreement.aggregate_limits.caps["community"].amount == 70_000
    assert r.objective_value == pytest.approx(7_000, abs=0.01)
    comm = r.check.settlement.transfer[:, :, 2]
    assert comm.ravel().tolist() == pytest.approx([37_500, 32_500, 30_000, 30_000])


def test_a_cap_below_what_the_trust_needs_over_the_agreement_is_infeasible_and_explained():
    """Allowed t short a year, the trust needs u = 30,000 - t a year: 80,000 s >= u in year 1
    of scenario b and 50,000 - 100,000 s >= u in year 2 of scenario a, so u / 80,000 <=
    (50,000 - u) / 100,000, u <= 22,222 and t >= 7,778 (not the 5,000 the sum alone suggests:
    one share serves both scenarios)."""
    assert design(capped(50_000)).status == "infeasible"
    doc = explain(capped(50_000)).document
    assert doc["status"] == "infeasible" and doc["relaxation_verified"]
    [r] = doc["relaxations"]
    assert r["requirement"] == "keep_whole.community"
    assert r["amount"] == pytest.approx(70_000 / 9, abs=0.01)


def _loss_dict(agg: dict) -> dict:
    """The tiny economy with a gain scenario and two loss scenarios (`gain_loss_dict`) over two
    identical years, the community trust allowed 45,000 short each year."""
    d = gain_loss_dict()
    d["horizon"] = TWO_YEARS
    d["keep_whole"] = {"acute": {"mode": "robust"},
                       "community": {"mode": "robust", "tolerance": 45_000}}  # fmt: skip
    d["requirements"] = {"rounding": "5%", "search": None, "aggregate_limits": agg}
    return d


def _grid_best(case: Case) -> float | None:
    """The best agreement of the 5% grid carrying the case's limits over the agreement, each
    settled by the settlement code (`gain_then_loss_best`: a scenario gains in both years or
    loses in both)."""
    agg = case.requirements.aggregate_limits.model_dump()
    return gain_then_loss_best(
        case,
        lambda gain, loss: {
            "terms": {"gain_tiers": gain, "loss_tiers": loss},
            "aggregate_limits": agg,
        },
    )


@pytest.mark.parametrize("agg", [
    {"collars": {"acute": {"amount": 50_000}}},
    {"collars": {"acute": {"amount": 40_000}, "community": {"amount": 10_000}}},
    {"caps": {"acute": {"amount": 115_000}}, "collars": {"community": {"amount": 25_000}}},
    {"caps": {"acute": {"share_of_expected": 0.06}}},  # 120,000: exactly what it needs
    {"collars": {"acute": {"share_of_expected": 0.03}}},
])  # fmt: skip
def test_an_exhaustive_grid_finds_nothing_better(agg):
    case = Case.model_validate(_loss_dict(agg))
    top = _grid_best(case)
    r = design(case)
    if top is None:
        assert r.status == "infeasible", r.message
    else:
        assert r.status == "optimal" and r.check.all_kept_whole
        assert r.objective_value == pytest.approx(top, abs=0.01)


def test_design_and_check_from_the_command_line(tmp_path):
    path = tmp_path / "case.yaml"
    d = tiny_dict()
    d["horizon"] = TWO_YEARS
    d["requirements"]["aggregate_limits"] = {"caps": {"community": {"amount": 70_000}}}
    path.write_text(yaml.safe_dump(d))
    out = tmp_path / "designed.yaml"
    got = runner.invoke(app, ["design", str(path), "--out", str(out), "--json"])
    assert got.exit_code == 0, got.stdout
    assert json.loads(got.stdout)["objective"]["value"] == pytest.approx(7_000, abs=0.01)
    assert yaml.safe_load(out.read_text())["aggregate_limits"]["caps"] == {
        "community": {"amount": 70_000}}  # fmt: skip
    got = runner.invoke(app, ["check", str(path), "--agreement", str(out), "--json"])
    assert got.exit_code == 0, got.stdout


def test_group_limits_over_the_agreement_are_refused_in_one_line():
    group = {"name": "pair", "members": ["acute", "community"], "cap": {"amount": 150_000}}
    with pytest.raises(InputError) as e:
        design(tiny_case(horizon=TWO_YEARS,
                         requirements={"aggregate_limits": {"groups": [group]}}))  # fmt: skip
    assert e.value.problems == [
        "requirements.aggregate_limits.groups: design cannot yet search under a group's limits "
        "over the whole agreement: state them per provider or per year "
        "(requirements.group_limits), or settle such terms with `gainshare check`"]  # fmt: skip


def test_repair_keeps_the_cap_over_the_agreement_and_moves_the_shares():
    """The room gives the community trust 35% of a gain, 5,000 short of its 30,000 in scenario
    b; with 70,000 over the agreement repair moves 2.5 points from the CCG to the trust and
    keeps the cap."""
    from gainshare.optimise.repair import repair

    case = capped(70_000)
    proposal = Agreement.model_validate({
        "terms": {"gain_tiers": [{"shares": {"acute": 0.6, "community": 0.35, "ccg": 0.05}}],
                  "loss_tiers": [{"shares": {"acute": 0.0, "community": 0.0, "ccg": 1.0}}]},
        "aggregate_limits": {"caps": {"community": {"amount": 70_000}}}})  # fmt: skip
    r = repair(case, proposal)
    assert r.status == "repaired", r.message
    assert r.agreement.aggregate_limits == proposal.aggregate_limits
    assert r.agreement.terms.gain_tiers[0].shares == pytest.approx(
        {"acute": 0.6, "community": 0.375, "ccg": 0.025}
    )
    assert r.distance == pytest.approx(5.0)
    assert r.check.expected_retained == pytest.approx(7_000, abs=0.01)


def test_the_requirements_page_states_the_limit_in_words():
    from gainshare.schema.requirement_tables import stated_terms

    case = capped(70_000)
    assert stated_terms(case) == [
        "Over the whole agreement Community trust gains at most £70,000."]  # fmt: skip
