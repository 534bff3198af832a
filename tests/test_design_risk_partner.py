"""Design with a risk partner (a fund that takes a share of the pool and has no contracts):
hand-worked optima from the search and from the MIP, exhaustive grids settled by the
settlement code, shares the case fixes, no caps or collars on the fund, and the one-line refusal
when nothing bounds the fund's share.

The case: the tiny hand-worked economy (tests/helpers_design.py) plus a regional risk fund, with
three named scenarios of one year: a gain year (targeting 1, no escalation: pool +100,000, the
acute trust 60,000 short) and two loss years (escalation 0.9: pool -50,000 and -60,000, the
acute trust 30,000 and 36,000 ahead). The community trust takes no share (fixed at 0). The fund
may pay at most 12,000 in any year (robust, tolerance 12,000) and takes at least 5% of a gain.

By hand, shares in 5% steps: gains, acute 60,000 / 100,000 = 60%, the fund its 5% minimum, the
CCG 35%; losses, acute at most 30,000 / 50,000 = 36,000 / 60,000 = 60%, the fund at most
12,000 / 60,000 = 20%, the CCG 20%. The CCG keeps 0.5 x 100,000 x 35% - 0.3 x 50,000 x 20%
- 0.2 x 60,000 x 20% = 17,500 - 3,000 - 2,400 = 12,100 expected."""

from __future__ import annotations

import itertools
import json

import pytest
import yaml
from helpers_design import STEPS, best_agreement, fund_dict
from typer.testing import CliRunner

import gainshare
from gainshare.cli import app
from gainshare.economics.model import compute
from gainshare.economics.scenarios import sample
from gainshare.optimise import Designer, design
from gainshare.schema.agreement import Agreement
from gainshare.schema.case import Case
from gainshare.schema.io import InputError
from gainshare.settle.requirements import failures

runner = CliRunner()


def fund_case(fund=None, **kw) -> Case:
    return Case.model_validate(fund_dict({"mode": "robust", "tolerance": 12_000}
                                         if fund is None else fund, **kw))  # fmt: skip


def _terms(gain: dict, loss: dict) -> dict:
    def tier(sh):
        return [{"shares": sh | {"community": 0.0,
                                 "ccg": round(1 - sum(sh.values()), 10)}}]  # fmt: skip

    return {"gain_tiers": tier(gain), "loss_tiers": tier(loss)}


def test_the_economics_are_as_the_docstring_says():
    case = fund_case()
    e = compute(case, sample(case))
    assert e.pool[:, 0].tolist() == [100_000, -50_000, -60_000]
    acute, fund = case.party_ids.index("acute"), case.party_ids.index("fund")
    assert e.net_before_sharing[:, 0, acute].tolist() == [-60_000, 30_000, 36_000]
    assert (e.net_before_sharing[:, 0, fund] == 0).all()  # no contracts of its own


@pytest.mark.parametrize("method", ["search", "mip"])
def test_hand_worked_optimum_with_a_risk_partner(method):
    """The search and the MIP (an independent formulation) both find the hand-worked terms."""
    r = Designer(fund_case(), method=method).solve()
    assert r.status == "optimal" and r.route == method
    t = r.agreement.terms
    assert t.gain_tiers[0].shares == pytest.approx(
        {"acute": 0.6, "community": 0.0, "fund": 0.05, "ccg": 0.35}
    )
    assert t.loss_tiers[0].shares == pytest.approx(
        {"acute": 0.6, "community": 0.0, "fund": 0.2, "ccg": 0.2}
    )
    assert r.objective_value == pytest.approx(12_100, abs=0.01)
    # re-settled: the fund receives 5% of the gain and pays 20% of each loss, 12,000 at worst
    st = r.check.settlement
    assert st.transfer[:, 0, 3].tolist() == pytest.approx([5_000, -10_000, -12_000])
    assert r.check.document["by_party"]["fund"]["role"] == "risk_partner"
    assert r.check.document["by_party"]["fund"]["requirement"]["met"]


def test_an_exhaustive_grid_finds_nothing_better():
    """Every split of the gain (acute, fund at its minimum or more) and of the loss in 5% steps,
    each settled by the settlement code. One year, one tier: a gain year's rows involve only the
    gain shares and a loss year's only the loss shares, and the objective adds the two, so the
    grid of gains (losses kept by the CCG) and the grid of losses (with the best gains) together
    cover every agreement."""
    case = fund_case()
    econ = compute(case, sample(case))

    def best(terms):
        return best_agreement(case, econ, [{"terms": t} for t in terms])

    pairs = [(a, f) for a, f in itertools.product(STEPS, STEPS) if a + f <= 1 + 1e-9]
    _, gain = best([_terms({"acute": a, "fund": f}, {}) for a, f in pairs if f >= 0.05])
    gain = gain["terms"]
    g = {k: v for k, v in gain["gain_tiers"][0]["shares"].items() if k in ("acute", "fund")}
    top, arg = best([_terms(g, {"acute": a, "fund": f}) for a, f in pairs])
    assert g == {"acute": 0.6, "fund": 0.05}
    r = design(case)
    assert r.objective_value == pytest.approx(top, abs=0.01), arg
    assert top == pytest.approx(12_100, abs=0.01)


def test_the_fund_may_bear_more_in_the_tail_under_cvar():
    """CVaR of the fund's shortfall at most 12,000 is looser than never paying more than 12,000
    (every year's shortfall at most 12,000 puts the tail's mean at most 12,000 too): the
    commissioners keep at least as much, and the answer meets the CVaR requirement when
    re-settled."""
    robust = design(fund_case()).objective_value
    r = design(fund_case({"mode": "cvar", "beta": 0.5, "tolerance": 12_000}))
    assert r.status == "optimal" and r.route == "mip"
    assert r.check.document["by_party"]["fund"]["requirement"]["met"]
    assert r.objective_value >= robust - 0.01
    # the worst half of years (the two loss years, 50% of the weight) average at most 12,000
    st = r.check.settlement
    paid = -st.transfer[1:, 0, 3]
    assert float((paid * [0.3, 0.2]).sum() / 0.5) <= 12_000 + 0.01


def test_shares_the_case_fixes_for_the_fund_are_kept():
    """No requirement on the fund but its shares fixed: design takes them as given (the
    statutory shares of a national scheme) and decides the rest."""
    d = fund_dict(None, fixed_gain_shares={"community": 0.0, "fund": 0.1},
                  fixed_loss_shares={"community": 0.0, "fund": 0.1})  # fmt: skip
    r = design(Case.model_validate(d))
    t = r.agreement.terms
    assert t.gain_tiers[0].shares["fund"] == pytest.approx(0.1)
    assert t.loss_tiers[0].shares["fund"] == pytest.approx(0.1)
    # CCG: 0.5 x 100,000 x 30% - 0.3 x 50,000 x 30% - 0.2 x 60,000 x 30%
    assert r.objective_value == pytest.approx(15_000 - 4_500 - 3_600, abs=0.01)


def test_no_cap_or_collar_is_searched_for_the_fund():
    """The default drafting space searches a cap and a collar for every provider; a risk
    partner has no contracts and the agreement's caps and collars apply to providers only."""
    search = {"max_gain_tiers": 2, "max_loss_tiers": 2, "corridor": True}
    r = design(fund_case(search=search))
    assert r.status == "optimal"
    assert "fund" not in r.agreement.terms.caps and "fund" not in r.agreement.terms.collars
    assert r.objective_value >= 12_100 - 0.01  # the one-tier answer is in this space too
    assert not failures(fund_case(search=search), r.agreement, r.check)


def test_a_fund_with_nothing_to_bound_its_share_is_refused_in_one_line(tmp_path):
    path = tmp_path / "fund.yaml"
    d = fund_dict(None)
    d["requirements"].pop("share_bounds")
    path.write_text(yaml.safe_dump(d))
    for command in ("design", "explain", "candidates"):
        got = runner.invoke(app, [command, str(path), "--json"])
        assert got.exit_code == 2, command
        doc = json.loads(got.stdout)
        assert doc["status"] == "bad_input"
        (problem,) = doc["problems"]
        assert problem["file"] == str(path) and problem["field"] == "keep_whole.fund"
        assert "risk partner with no requirement" in problem["message"]
        assert problem["fix"].startswith("give it one in keep_whole")
        assert len(got.stderr.strip().splitlines()) == 1
    with pytest.raises(InputError):
        design(Case.model_validate(d))


def test_the_commands_that_design_answer_a_case_with_a_fund(tmp_path):
    path = tmp_path / "fund.yaml"
    path.write_text(yaml.safe_dump(fund_dict({"mode": "robust", "tolerance": 12_000})))
    got = runner.invoke(app, ["design", str(path), "--json"])
    assert got.exit_code == 0, got.stderr
    assert json.loads(got.stdout)["objective"]["value"] == pytest.approx(12_100, abs=0.01)
    proposal = tmp_path / "proposal.yaml"
    proposal.write_text(yaml.safe_dump({"name": "Room's draft", "terms": _terms(
        {"acute": 0.5, "fund": 0.0}, {"acute": 0.3, "fund": 0.5})}))  # fmt: skip
    got = runner.invoke(app, ["repair", str(path), "--proposal", str(proposal), "--json"])
    assert got.exit_code == 0, got.stderr
    fixed = json.loads(got.stdout)
    assert fixed["status"] == "repaired"
    assert {f["requirement"] for f in fixed["proposal"]["failures"]} == {
        "keep_whole.acute",
        "keep_whole.fund",
        "gain_share.fund",
    }
    terms = fixed["agreement"]["terms"]
    # the fund paid 50% of a 60,000 loss (30,000) against its 12,000: repair brings it to 20%
    assert terms["loss_tiers"][0]["shares"]["fund"] == pytest.approx(0.2)
    assert terms["gain_tiers"][0]["shares"]["fund"] >= 0.05
    for command in ("explain", "candidates"):
        got = runner.invoke(app, [command, str(path), "--json"])
        assert got.exit_code == 0, (command, got.stderr)
        json.loads(got.stdout)
    case = Case.model_validate(fund_dict({"mode": "robust", "tolerance": 12_000}))
    res = gainshare.check(case, Agreement.model_validate({"terms": terms}))
    assert res.requirement_met["fund"] and res.requirement_met["acute"]
