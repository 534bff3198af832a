"""Incentive to grow the scheme (SPEC section 4.11): each growth step is an exact finite
difference of `check` on the same scenarios; a provider that loses while the system gains is
flagged in words with the right number; an aligned agreement raises no flag; steps appear only
where the case has them."""

from __future__ import annotations

import copy
from pathlib import Path

import numpy as np
import pytest
import yaml
from helpers import agreement, build_agreement, build_case, small_case
from typer.testing import CliRunner

import gainshare
from gainshare.analysis.incentives import (
    check_with_incentives,
    growth_steps,
    incentive_gradients,
)
from gainshare.cli import app
from gainshare.economics.scenarios import sample
from gainshare.report.termsheet import term_sheet
from gainshare.schema.case import Case

CASES = Path(__file__).resolve().parents[1] / "cases"
# two figures each rounded to the penny differ from their rounded difference by up to 1p
PENNY = 0.01 + 1e-6
ALIGNED = {"icb": 0.15, "acute": 0.65, "comm": 0.2}  # acute gains 100 a spell avoided


@pytest.fixture(scope="module")
def core():
    raw = yaml.safe_load((CASES / "core.yaml").read_text(encoding="utf-8"))
    case = Case.model_validate(raw)
    agr = gainshare.load_agreement(CASES / "core.agreement.yaml", case)
    return raw, case, agr, check_with_incentives(case, agr)


def _grown_by_hand(raw: dict, step: str) -> Case:
    """The core case grown as a finance analyst would edit the file, not by the code tested."""
    d = copy.deepcopy(raw)
    scheme, named = d["schemes"][0], d["uncertainty"]["named"]
    if step == "teams.rapid_response":
        scheme["teams"] = 3
    elif step == "referrals.rapid_response":
        scheme["referrals_per_team"] = 1800 * 1.1
    elif step == "targeting.rapid_response":
        scheme["targeting"] = {"dist": "triangular", "low": 0.70, "mode": 0.80, "high": 0.90}
        for ns in named:  # the named scenarios state their own targeting: 5 points more too
            path = "schemes.rapid_response.targeting"
            if path in ns.get("values", {}):
                ns["values"][path] += 0.05
    elif step == "ward_earlier.acute_nel":
        d["contracts"][0]["costs"]["stepped"]["first_release_year"] = 1
    else:
        raise AssertionError(step)
    return Case.model_validate(d)


def test_core_case_has_the_four_steps(core):
    _, _, _, result = core
    inc = result.document["incentives"]
    assert [s["step"] for s in inc["steps"]] == [
        "teams.rapid_response",
        "referrals.rapid_response",
        "targeting.rapid_response",
        "ward_earlier.acute_nel",
    ]
    assert inc["steps"][0]["label"] == "one more rapid response admissions avoidance team"
    assert inc["steps"][0]["change"] == "teams 2 -> 3"


@pytest.mark.parametrize(
    "step",
    ["teams.rapid_response", "referrals.rapid_response", "targeting.rapid_response",
     "ward_earlier.acute_nel"],
)  # fmt: skip
def test_gradients_are_finite_differences_of_check(core, step):
    # check the grown case on its own (its own draws, drawn afresh) and compare to the penny
    raw, case, agr, result = core
    base = result.document
    moved = next(s for s in base["incentives"]["steps"] if s["step"] == step)
    grown = gainshare.check(_grown_by_hand(raw, step), agr).document
    d_sav = grown["system_savings"]["expected"] - base["system_savings"]["expected"]
    assert moved["delta_system_savings"] == pytest.approx(d_sav, abs=PENNY)
    assert moved["system_gains"] is True
    for pid, d in moved["by_party"].items():
        b, g = base["by_party"][pid], grown["by_party"][pid]
        assert d["expected_net"] == pytest.approx(g["expected_net"], abs=PENNY)
        assert d["delta_expected_net"] == pytest.approx(
            g["expected_net"] - b["expected_net"], abs=PENNY
        )
        assert d["worst_net"] == pytest.approx(g["worst_net"], abs=PENNY)
        assert d["delta_worst_net"] == pytest.approx(g["worst_net"] - b["worst_net"], abs=PENNY)
        assert d["prob_whole"] == pytest.approx(g["prob_whole"], abs=1e-9)
        want = (g["expected_net"] - b["expected_net"]) / d_sav
        assert d["gradient"] == pytest.approx(want, abs=1e-6)


def test_gradients_add_up_to_one_and_deltas_to_the_savings(core):
    # the parties' net positions add up to the system savings, so do their changes
    _, _, _, result = core
    for step in result.incentives.steps:
        parties = step.by_party.values()
        assert sum(m.gradient for m in parties) == pytest.approx(1.0, abs=1e-9)
        total = sum(m.delta_expected_net for m in parties)
        assert total == pytest.approx(step.delta_system_savings, rel=1e-12, abs=1e-6)


def test_grown_cases_are_valid_and_draw_the_shifted_scenarios(core):
    # the grown case written out is a valid case file, and its own draws are the base draws
    # with the one parameter shifted (common random numbers), to rounding
    _, case, _, _ = core
    for step in growth_steps(case):
        again = Case.model_validate(step.case.model_dump())
        fresh = sample(again)
        assert set(fresh.values) == set(step.scenarios.values)
        for path, v in step.scenarios.values.items():
            np.testing.assert_allclose(fresh[path], v, rtol=1e-12, atol=1e-12, err_msg=path)
        assert np.array_equal(fresh.weights, step.scenarios.weights)


def test_the_core_agreement_pays_the_providers_to_keep_the_scheme_small(core):
    _, _, _, result = core
    inc = result.document["incentives"]
    assert inc["aligned"] is False
    team = inc["steps"][0]["by_party"]
    assert team["acute"]["delta_expected_net"] < 0 and team["community"]["delta_expected_net"] < 0
    texts = [f["text"] for f in inc["flags"]]
    per_100 = round(-100 * team["community"]["gradient"])
    assert (
        f"Riverside Community Health NHS Trust loses £{per_100} for every extra £100 the scheme "
        "saves the system (one more rapid response admissions avoidance team)"
    ) in texts
    # provider names, never ids
    assert all(not t.startswith(("acute ", "community ")) for t in texts)


# ------------------------------------------------------------------ the small hand case


def _small(gain=None, **extra):
    return build_case(small_case(**extra)), build_agreement(agreement(gain))


def test_misaligned_small_case_is_flagged_with_the_hand_worked_number():
    # 50/30/20 gain shares. Per extra spell avoided the acute trust loses 2,000 of tariff,
    # saves 800 of cost and gets 30% of 2,000 of pool: -600.
    # One more team: 200 more referrals, 100 more spells avoided; acute -60,000; community
    # +4,000 (20% of 200,000 less 16,000 of contacts and 20,000 of team cost); icb +100,000;
    # system +44,000 (80,000 acute cost less 36,000): acute loses 60,000 / 44,000 = £136 per £100.
    # 10% more referrals: 10 spells; acute -6,000, system +6,400: £94 per £100.
    # 5 points of targeting: 10 spells, no extra cost; acute -6,000, system +8,000: £75.
    case, agr = _small()
    rep = incentive_gradients(case, agr)
    by_step = {r.step.key: r for r in rep.steps}
    assert list(by_step) == ["teams.vw", "referrals.vw", "targeting.vw"]
    team = by_step["teams.vw"]
    assert team.delta_system_savings == pytest.approx(44_000)
    assert {p: m.delta_expected_net for p, m in team.by_party.items()} == pytest.approx(
        {"icb": 100_000, "acute": -60_000, "comm": 4_000}
    )
    assert team.by_party["acute"].gradient == pytest.approx(-60_000 / 44_000)
    assert by_step["referrals.vw"].delta_system_savings == pytest.approx(6_400)
    assert by_step["referrals.vw"].by_party["acute"].delta_expected_net == pytest.approx(-6_000)
    assert by_step["targeting.vw"].delta_system_savings == pytest.approx(8_000)
    assert rep.aligned is False
    assert [(f.party, f.step, f.loss_per_100) for f in rep.flags] == [
        ("acute", "teams.vw", 136.36),
        ("acute", "referrals.vw", 93.75),
        ("acute", "targeting.vw", 75.0),
    ]
    assert rep.flags[0].text == (
        "ACUTE loses £136 for every extra £100 the scheme saves the system (one more vw team)"
    )
    assert rep.flags[2].text == (
        "ACUTE loses £75 for every extra £100 the scheme saves the system (5 points better "
        "targeting by vw)"
    )


def test_aligned_small_case_raises_no_flag():
    # acute takes 65%: +100 a spell avoided; community 20% of 200,000 a team covers its 36,000
    case, agr = _small(ALIGNED)
    rep = incentive_gradients(case, agr)
    assert rep.steps and rep.aligned and rep.flags == [] and rep.sentences == []
    for r in rep.steps:
        assert r.system_gains
        for pid in ("acute", "comm"):
            assert r.by_party[pid].delta_expected_net > 0
    assert rep.document["aligned"] is True and rep.document["flags"] == []


def test_a_step_that_does_not_raise_savings_is_never_flagged():
    # a team whose running cost exceeds what it saves: one more team lowers system savings,
    # and the acute trust's loss on it is not a misaligned incentive
    d = small_case()
    d["schemes"][0]["fixed_cost"] = 200_000
    case, agr = build_case(d), build_agreement(agreement())
    rep = incentive_gradients(case, agr)
    team = rep.steps[0]
    assert team.step.key == "teams.vw" and team.delta_system_savings < 0
    assert not team.system_gains and team.losers() == []
    assert all(f.step != "teams.vw" for f in rep.flags)


def test_console_and_term_sheet_say_it_in_words(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "case.yaml").write_text(yaml.safe_dump(small_case(), sort_keys=False))
    (tmp_path / "agr.yaml").write_text(yaml.safe_dump(agreement(), sort_keys=False))
    out = CliRunner().invoke(app, ["check", "case.yaml", "-a", "agr.yaml"])
    text = " ".join(out.stdout.split())
    assert "Incentive to grow the scheme" in text
    assert "ACUTE loses £136 for every extra £100 the scheme saves the system" in text
    quiet = CliRunner().invoke(app, ["check", "case.yaml", "-a", "agr.yaml", "--no-incentives"])
    assert "Incentive to grow" not in quiet.stdout
    case, agr = _small()
    md = term_sheet(case, agr, gainshare.check(case, agr, incentives=True)).markdown()
    assert "## Incentive to grow the scheme" in md
    assert (
        "- One more vw team (+£44,000 of system savings): ICB +£227, ACUTE -£136, COMM +£9." in md
    )
    assert "**The agreement is not incentive-aligned:** ACUTE loses £136" in md
    case, agr = _small(ALIGNED)
    md = term_sheet(case, agr, gainshare.check(case, agr, incentives=True)).markdown()
    assert "The agreement is incentive-aligned" in md
    assert "## Incentive" not in term_sheet(case, agr, gainshare.check(case, agr)).markdown()


def test_json_document_carries_incentives_only_when_asked(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "case.yaml").write_text(yaml.safe_dump(small_case(), sort_keys=False))
    (tmp_path / "agr.yaml").write_text(yaml.safe_dump(agreement(), sort_keys=False))
    import json

    doc = json.loads(CliRunner().invoke(app, ["check", "case.yaml", "-a", "agr.yaml",
                                              "--json"]).stdout)  # fmt: skip
    assert doc["incentives"]["flags"][0]["loss_per_100"] == 136.36
    doc = json.loads(CliRunner().invoke(app, ["check", "case.yaml", "-a", "agr.yaml", "--json",
                                              "--no-incentives"]).stdout)  # fmt: skip
    assert "incentives" not in doc
    case, agr = _small()
    assert "incentives" not in gainshare.check(case, agr).document  # the benchmark path
    with pytest.raises(ValueError, match="incentives=True"):
        gainshare.check(case, agr, gainshare.compute(case), incentives=True)


# ------------------------------------------------------------------ which steps a case has


def _keys(d: dict) -> list[str]:
    return [s.key for s in growth_steps(build_case(d))]


def _stepped(**kw) -> dict:
    d = small_case(years=3)
    st = {"capacity_per_step": 50, "cost_per_step": 100_000, "closures": 1,
          "first_release_year": 2} | kw  # fmt: skip
    d["contracts"][0]["costs"]["stepped"] = st
    return d


def test_steps_only_where_the_case_has_them():
    # no stepped cost: no ward step
    assert _keys(small_case()) == ["teams.vw", "referrals.vw", "targeting.vw"]
    # a ward the case plans to close from year 2: it can close a year earlier
    assert _keys(_stepped())[-1] == "ward_earlier.acute_nel"
    # already closing in year 1, or no closure planned: nothing to bring forward
    assert "ward_earlier.acute_nel" not in _keys(_stepped(first_release_year=1))
    assert "ward_earlier.acute_nel" not in _keys(_stepped(closures=0))
    # targeting that can reach 100% cannot improve; within 5 points it improves by what is left
    assert "targeting.vw" not in _keys(small_case(targeting=1.0))
    steps = growth_steps(build_case(small_case(targeting={"dist": "uniform", "low": 0.9,
                                                          "high": 0.98})))  # fmt: skip
    tgt = next(s for s in steps if s.kind == "targeting")
    assert tgt.change == "targeting + 2 points"
    assert tgt.scenarios["schemes.vw.targeting"].max() <= 1.0
    # a case without schemes has nothing to grow
    d = small_case()
    del d["schemes"]
    assert _keys(d) == []
    case, agr = build_case(d), build_agreement(agreement())
    rep = incentive_gradients(case, agr)
    assert rep.document == {"aligned": True, "steps": [], "flags": []}


def test_ward_step_in_hand_figures():
    # 100 spells avoided free 100 bed days = 2 steps of 50; one is planned to close from year 2.
    # Closing it from year 1 saves the acute trust 100,000 more (its cost, not the pool's).
    case = build_case(_stepped())
    rep = incentive_gradients(case, build_agreement(agreement()))
    ward = next(r for r in rep.steps if r.step.kind == "ward_earlier")
    assert ward.step.label == "a ward at ACUTE closing a year earlier, from 2026/27"
    assert ward.delta_system_savings == pytest.approx(100_000)
    assert {p: m.delta_expected_net for p, m in ward.by_party.items()} == pytest.approx(
        {"icb": 0, "acute": 100_000, "comm": 0}
    )


def test_steps_reuse_the_scenarios_they_are_given():
    # the design side settles many agreements on the same steps: economics computed once, on
    # the scenarios given, and the same figures as computed afresh
    case = build_case(small_case(targeting={"dist": "uniform", "low": 0.3, "high": 0.6},
                                 scenarios=40))  # fmt: skip
    sc = sample(case)
    steps = growth_steps(case, sc)
    assert all(s.scenarios.names == sc.names for s in steps)
    assert steps[0].economics is steps[0].economics
    a1, a2 = build_agreement(agreement()), build_agreement(agreement(ALIGNED))
    for agr in (a1, a2):
        reused = incentive_gradients(case, agr, sc, steps=steps).document
        assert reused == incentive_gradients(case, agr).document


# ------------------------------------------------------------------ design with incentives


def _incentive_case(**req):
    d = small_case()
    d["requirements"] = {"rounding": "none", "search": None} | req
    return build_case(d)


def test_design_with_incentives_fixes_a_misaligned_agreement_by_hand():
    # Per extra spell avoided the acute trust loses 2,000 of tariff, saves 800 of cost and
    # gets share x 2,000 of pool. Asked to gain at least 10% of what each step saves:
    #   team (100 spells, system +44,000): 100(2,000a - 1,200) >= 4,400  -> a >= 0.622
    #   referrals (10 spells, +6,400):     10(2,000a - 1,200) >= 640     -> a >= 0.632
    #   targeting (10 spells, +8,000):     10(2,000a - 1,200) >= 800     -> a >= 0.64
    # The community trust's team costs 36,000 (contacts and team) against c x 200,000 of pool:
    #   team: 200,000c - 36,000 >= 4,400 -> c >= 0.202; referrals: 20,000c - 1,600 >= 640
    #   -> c >= 0.112; targeting: 20,000c >= 800 -> c >= 0.04. Keep-whole needs a >= 0.6 and
    #   c >= 0.18, so the requirement moves both; the commissioners keep 1 - 0.64 - 0.202.
    plain = gainshare.design(_incentive_case())
    aligned = gainshare.design(_incentive_case(incentives={"min_share": 0.1}))
    assert aligned.route == "mip" and aligned.status == "optimal"
    shares = aligned.agreement.terms.gain_tiers[0].shares
    assert shares["acute"] == pytest.approx(0.64, abs=1e-9)
    assert shares["comm"] == pytest.approx(0.202, abs=1e-9)
    assert aligned.objective_value == pytest.approx(200_000 * (1 - 0.64 - 0.202), abs=0.01)
    assert plain.objective_value == pytest.approx(200_000 * 0.22, abs=0.01)
    # the plain optimum pays the acute trust nothing for growth; the aligned one 10% of it
    before = incentive_gradients(plain.check.case, plain.agreement)
    after = incentive_gradients(aligned.check.case, aligned.agreement)
    team = {r.step.key: r for r in before.steps}["teams.vw"]
    assert team.by_party["acute"].delta_expected_net == pytest.approx(0.0, abs=0.01)
    for r in after.steps:
        for pid in ("acute", "comm"):
            assert r.by_party[pid].delta_expected_net >= 0.1 * r.delta_system_savings - 0.01
    # the binding requirements are priced in words
    words = {b["requirement"]: b["meaning"] for b in aligned.binding}
    assert "incentives.acute.targeting.vw" in words and "incentives.comm.teams.vw" in words
    assert (
        "costs the commissioners' expected retained savings £10.00"
        in words["incentives.acute.targeting.vw"]
    )


def test_an_agreement_failing_the_incentive_requirement_is_said_to():
    case = _incentive_case(incentives={"min_share": 0.1, "steps": ["team"]})
    agr = build_agreement(agreement({"icb": 0.22, "acute": 0.6, "comm": 0.18}))
    res = gainshare.check(case, agr)
    from gainshare.settle.requirements import failures

    texts = [f["text"] for f in failures(case, agr, res)]
    assert texts == [
        "ACUTE gains £0 on one more vw team, below 10% of the £44k more the system saves",
        "COMM gains £0 on one more vw team, below 10% of the £44k more the system saves",
    ]
