"""Design with a quality-scaled loss share (MSSP ENHANCED's shared loss rate): the rule is a term
the case states (`requirements.loss_quality`), design searches the loss shares it multiplies,
and repair keeps a proposal's rule. Hand-worked optima from the search and from the MIP, an
exhaustive grid settled by the settlement code, and the one-line refusals.

The case: the tiny hand-worked economy (tests/helpers_design.py) with three named scenarios of
one year: a gain year (pool +100,000, the acute trust 60,000 short, quality 100), a loss year
(pool -50,000, the acute trust 30,000 ahead, quality 60) and a worse year (pool -60,000, the
acute trust 36,000 ahead, quality 0). The community trust takes no share; the acute trust is
kept whole in every year. Its loss share is scaled by 1 - 0.75 x quality / 100, between 40% and
75%: 55% in the loss year, 75% in the worse one.

By hand, shares in 5% steps: gains, acute 60%, the CCG 40%. Losses, acute s with
s x 55% x 50,000 <= 30,000 (s <= 109%) and s x 75% x 60,000 <= 36,000 (s <= 80%): s = 80%. The
CCG keeps 0.5 x 100,000 x 40% - 0.3 x 50,000 x (1 - 80% x 55%) - 0.2 x 60,000 x (1 - 80% x 75%)
= 20,000 - 8,400 - 4,800 = 6,800 expected. Without the rule the acute trust's loss share is at
most 60% in both loss years and the CCG keeps 20,000 - 6,000 - 4,800 = 9,200."""

from __future__ import annotations

import json

import pytest
import yaml
from helpers_design import STEPS, best_agreement, design_refusal, gain_loss_dict, one_tier
from typer.testing import CliRunner

import gainshare
from gainshare.cli import app
from gainshare.economics.model import compute
from gainshare.economics.scenarios import sample
from gainshare.optimise import Designer, design
from gainshare.schema.agreement import Agreement
from gainshare.schema.case import Case

runner = CliRunner()
ENHANCED = {"intercept": 1.0, "slope": 0.75, "min_rate": 0.40, "max_rate": 0.75}


def loss_dict(rule: dict | None = ENHANCED, **req) -> dict:
    d = gain_loss_dict(**{"quality.acute": (100, 60, 0)})
    d["quality_scores"] = {"acute": 80}
    d["keep_whole"] = {"acute": {"mode": "robust"}, "community": {"mode": "none"}}
    d["requirements"] = {
        "rounding": "5%",
        "search": {"max_gain_tiers": 1, "max_loss_tiers": 1, "corridor": False, "caps": False,
                   "collars": False},
        "fixed_gain_shares": {"community": 0.0},
        "fixed_loss_shares": {"community": 0.0},
    } | ({"loss_quality": {"acute": rule}} if rule is not None else {}) | req  # fmt: skip
    return d


def loss_case(rule: dict | None = ENHANCED, **req) -> Case:
    return Case.model_validate(loss_dict(rule, **req))


def test_the_economics_are_as_the_docstring_says():
    case = loss_case()
    e = compute(case, sample(case))
    acute = case.party_ids.index("acute")
    assert e.pool[:, 0].tolist() == [100_000, -50_000, -60_000]
    assert e.net_before_sharing[:, 0, acute].tolist() == [-60_000, 30_000, 36_000]
    assert e.quality_scores[:, 0, acute].tolist() == [100, 60, 0]


@pytest.mark.parametrize("method", ["search", "mip"])
def test_hand_worked_optimum_with_a_quality_scaled_loss_share(method):
    """The search and the MIP (an independent formulation) both find the hand-worked terms,
    and the agreement carries the rule, so settlement scales the acute trust's loss share."""
    r = Designer(loss_case(), method=method).solve()
    assert r.status == "optimal" and r.route == method
    t = r.agreement.terms
    assert t.gain_tiers[0].shares == pytest.approx({"acute": 0.6, "community": 0.0, "ccg": 0.4})
    assert t.loss_tiers[0].shares == pytest.approx({"acute": 0.8, "community": 0.0, "ccg": 0.2})
    assert t.loss_quality["acute"].model_dump() == ENHANCED
    assert r.objective_value == pytest.approx(6_800, abs=0.01)
    st = r.check.settlement
    acute = loss_case().party_ids.index("acute")
    # 80% x 55% of 50,000 and 80% x 75% of 60,000: 36,000 is all the acute trust is ahead by
    assert st.transfer[:, 0, acute].tolist() == pytest.approx([60_000, -22_000, -36_000])
    assert r.check.all_kept_whole


def test_without_the_rule_the_loss_share_is_lower_and_the_ccg_keeps_more():
    r = design(loss_case(None))
    assert r.agreement.terms.loss_tiers[0].shares["acute"] == pytest.approx(0.6)
    assert r.agreement.terms.loss_quality is None
    assert r.objective_value == pytest.approx(9_200, abs=0.01)


def test_an_exhaustive_grid_finds_nothing_better():
    """Every loss share of the acute trust in 5% steps (gains at the hand-worked 60%: a gain
    year's rows involve only the gain shares, a loss year's only the loss shares), each
    agreement carrying the rule and settled by the settlement code."""
    case = loss_case()
    best, arg = best_agreement(case, compute(case, sample(case)), [{"terms": {
        "gain_tiers": one_tier({"acute": 0.6, "community": 0.0}),
        "loss_tiers": one_tier({"acute": s, "community": 0.0}),
        "loss_quality": {"acute": ENHANCED}}} for s in STEPS])  # fmt: skip
    assert arg["terms"]["loss_tiers"][0]["shares"]["acute"] == 0.8
    assert best == pytest.approx(6_800, abs=0.01)
    assert design(case).objective_value == pytest.approx(best, abs=0.01)


def test_a_collar_is_decided_on_the_scaled_loss():
    """With a collar to decide: the acute trust may take all of every loss times its rate up to
    the collar, and the collar is the least of what it is ahead by where the share alone would
    leave it short: 100% x 75% x 60,000 = 45,000 > 36,000, so a 36,000 collar."""
    collars = {"acute": {"decide": True, "basis": "amount"}}
    for method in ("search", "mip"):
        r = Designer(loss_case(collars=collars), method=method).solve()
        t = r.agreement.terms
        assert t.loss_tiers[0].shares["acute"] == pytest.approx(1.0), method
        assert t.collars["acute"].amount == pytest.approx(36_000), method
        # CCG: 20,000 - 0.3 x 50,000 x 45% - 0.2 x (60,000 - 36,000)
        assert r.objective_value == pytest.approx(20_000 - 6_750 - 4_800, abs=0.01), method


def test_repair_keeps_the_proposals_rule_and_moves_the_share():
    """The room proposes that the acute trust bears every loss under the rule: it would pay
    45,000 in the worse year against 36,000 ahead. Repair keeps the rule and lowers the share
    to 80%."""
    case = loss_case()
    proposal = Agreement.model_validate({"terms": {
        "gain_tiers": [{"shares": {"acute": 0.6, "community": 0.0, "ccg": 0.4}}],
        "loss_tiers": [{"shares": {"acute": 1.0, "community": 0.0, "ccg": 0.0}}],
        "loss_quality": {"acute": ENHANCED}}})  # fmt: skip
    r = gainshare.repair(case, proposal)
    assert r.status == "repaired"
    # 100% x 75% x 60,000 = 45,000 against 36,000 ahead
    assert [f["party"] for f in r.proposal_failures] == ["acute"]
    assert "worst year -£9,000" in r.proposal_failures[0]["text"]
    # 20 share points from the acute trust to the CCG, counted on both
    assert r.distance == pytest.approx(40.0)
    assert r.changes == ["CCG's loss share: 0% -> 20%", "Acute trust's loss share: 100% -> 80%"]
    t = r.agreement.terms
    assert t.loss_quality["acute"].model_dump() == ENHANCED
    assert t.loss_tiers[0].shares["acute"] == pytest.approx(0.8)
    assert r.check.all_kept_whole


def test_design_and_check_from_the_command_line(tmp_path):
    path = tmp_path / "case.yaml"
    path.write_text(yaml.safe_dump(loss_dict()))
    out = tmp_path / "designed.yaml"
    got = runner.invoke(app, ["design", str(path), "--out", str(out), "--json"])
    assert got.exit_code == 0, got.stdout
    doc = json.loads(got.stdout)
    assert doc["objective"]["value"] == pytest.approx(6_800, abs=0.01)
    written = yaml.safe_load(out.read_text())
    assert written["terms"]["loss_quality"]["acute"]["slope"] == 0.75
    got = runner.invoke(app, ["check", str(path), "--agreement", str(out), "--json"])
    assert got.exit_code == 0, got.stdout
    ccg = json.loads(got.stdout)["by_party"]["ccg"]
    assert ccg["expected_net"] == pytest.approx(6_800, abs=0.01)


@pytest.mark.parametrize("change, field, words", [
    ({"quality_scores": {}}, "requirements.loss_quality.acute",
     "the case has no quality_scores for 'acute': add them or remove the rule"),
    ({"loss_quality": {"ccg": ENHANCED}}, "requirements.loss_quality.ccg",
     "'ccg' is not a provider"),
])  # fmt: skip
def test_a_rule_the_case_cannot_apply_is_refused_in_one_line(tmp_path, change, field, words):
    d = loss_dict()
    if "quality_scores" in change:
        d["quality_scores"] = {}
        for n in d["uncertainty"]["named"]:
            n["values"].pop("quality.acute")
    else:
        d["requirements"].update(change)
    texts = design_refusal(tmp_path, d)
    assert any(field in t and words in t for t in texts), texts


def test_the_requirements_page_states_the_rule_in_words():
    from gainshare.schema.requirement_tables import stated_terms

    assert stated_terms(loss_case()) == [
        "Acute trust's share of a loss is multiplied by 1 - 0.75 x its quality score / 100, at "
        "least 40% and at most 75%."]  # fmt: skip
