"""Sensitivity: a tornado and a stress test on a case built so that each uncertain parameter
moves exactly one party's net by an amount worked out by hand."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

import gainshare
from gainshare.analysis.sensitivity import sensitivity, stress, tornado
from gainshare.economics.scenarios import uncertain_parameters
from gainshare.schema.agreement import Agreement
from gainshare.schema.case import Case
from gainshare.schema.io import InputError

# Two years. The scheme avoids 100 acute spells a year (tariff 1,000) and adds 200 community
# contacts (block contract, variable cost 50). Each uncertain parameter lands on one party:
# - acute variable cost 300..500: acute net a year = -100 x 1,000 + 100 x cost
#   -> -140,000 at 300, -100,000 at 500 over two years: swing 40,000;
# - scheme cost per patient 0..100 (borne by the community trust): community net a year =
#   -(10,000 + 100 x cpp + 200 x 50) - demand effect -> swing 100 x 100 x 2 = 20,000;
# - community demand variation 0.975..1.05 on 2,000 contacts at 50: cost -2,500..+5,000 a year
#   -> swing 7,500 x 2 = 15,000 for the community trust.
# The agreement gives every gain and loss to the commissioner: no transfers, so the CCG's net
# is the pool, 100 spells x 1,000 x 2 years = 200,000 whatever the parameters.
CASE = {
    "name": "Sensitivity by construction",
    "horizon": {"years": 2},
    "parties": [
        {"id": "ccg", "name": "CCG", "role": "commissioner"},
        {"id": "acute", "name": "Acute", "role": "provider"},
        {"id": "community", "name": "Community", "role": "provider"},
    ],
    "contracts": [
        {"id": "nel", "commissioner": "ccg", "provider": "acute", "rule": "activity",
         "price": 1000, "expected_units": 1000,
         "costs": {"variable_per_unit": {"dist": "uniform", "low": 300, "high": 500}}},
        {"id": "nursing", "commissioner": "ccg", "provider": "community", "rule": "block",
         "fixed_payment": 100000, "expected_units": 2000,
         "demand_variation": {"dist": "uniform", "low": 0.975, "high": 1.05},
         "costs": {"variable_per_unit": 50}},
    ],
    "schemes": [
        {"id": "rapid", "provider": "community", "referrals_per_team": 100, "targeting": 1,
         "moves_from": [{"contract": "nel"}],
         "moves_to": [{"contract": "nursing", "units_per_patient": 2}], "fixed_cost": 10000,
         "cost_per_patient": {"dist": "uniform", "low": 0, "high": 100}},
    ],
    # the community trust accepts losing up to 25,000 a year: always met when the cost per
    # patient is 0 (net a year -20,000 less -2,500..5,000 of demand: at worst -25,000), never
    # when it is 100 (at best -27,500)
    "keep_whole": {"community": {"mode": "robust", "tolerance": 25000}},
    "uncertainty": {"scenarios": 64, "seed": 11},
}  # fmt: skip
ALL_TO_CCG = Agreement.model_validate(
    {"name": "all to the commissioner",
     "terms": {"gain_tiers": [{"shares": {"ccg": 1}}], "loss_tiers": [{"shares": {"ccg": 1}}]}}
)  # fmt: skip
VC, DV, CPP = (
    "contracts.nel.variable_cost",
    "contracts.nursing.demand_variation",
    "schemes.rapid.cost_per_patient",
)
CASES = Path(__file__).resolve().parents[1] / "cases"


@pytest.fixture(scope="module")
def case() -> Case:
    return Case.model_validate(CASE)


def test_tornado_swings_and_order(case):
    rows = tornado(case, ALL_TO_CCG)
    assert [r["path"] for r in rows] == [VC, CPP, DV]  # case order is VC, DV, CPP
    by = {r["path"]: r for r in rows}
    vc = by[VC]
    assert (vc["low"], vc["high"]) == (300.0, 500.0)
    assert vc["by_party"]["acute"]["expected_net_low"] == -140000.0
    assert vc["by_party"]["acute"]["expected_net_high"] == -100000.0
    assert vc["by_party"]["acute"]["swing"] == 40000.0 == vc["max_swing"]
    assert by[CPP]["by_party"]["community"]["swing"] == pytest.approx(20000.0, abs=0.01)
    assert by[DV]["by_party"]["community"]["swing"] == pytest.approx(15000.0, abs=0.01)
    for path, moved in ((VC, "acute"), (CPP, "community"), (DV, "community")):
        for pid, d in by[path]["by_party"].items():
            if pid != moved:
                assert d["swing"] == 0.0, (path, pid)
    for r in rows:
        assert r["by_party"]["ccg"]["expected_net_low"] == 200000.0
        assert r["by_party"]["ccg"]["prob_whole_low"] == 1.0
    cpp = by[CPP]["by_party"]["community"]
    assert (cpp["prob_whole_low"], cpp["prob_whole_high"]) == (1.0, 0.0)


def test_tornado_for_chosen_parties_sorts_by_their_swing(case):
    rows = tornado(case, ALL_TO_CCG, parties=["community"])
    assert [r["path"] for r in rows] == [CPP, DV, VC]
    assert list(rows[0]["by_party"]) == ["community"]
    assert rows[-1]["max_swing"] == 0.0


def test_stress_one_parameter(case):
    pts = stress(case, ALL_TO_CCG, VC, [300, 400, 500])
    assert [p["value"] for p in pts] == [300.0, 400.0, 500.0]
    acute = [p["by_party"]["acute"] for p in pts]
    assert [a["expected_net"] for a in acute] == [-140000.0, -120000.0, -100000.0]
    assert [a["worst_year"] for a in acute] == [-70000.0, -60000.0, -50000.0]
    assert [a["prob_whole"] for a in acute] == [0.0, 0.0, 0.0]
    assert all(p["by_party"]["ccg"]["expected_net"] == 200000.0 for p in pts)
    # community at demand variation 1: net a year = -(10,000 + 100 x cpp + 200 x 50), with
    # cpp as drawn in each scenario
    sc = gainshare.sample(case)
    cpp = sc[CPP]
    pts = stress(case, ALL_TO_CCG, DV, [1.0])
    com = pts[0]["by_party"]["community"]
    assert com["expected_net"] == pytest.approx(
        -40000 - 100 * sc.weights @ cpp.sum(axis=1), abs=0.01
    )
    assert com["worst_year"] == pytest.approx(-(20000 + 100 * cpp.max()), abs=0.01)


def test_stress_bad_input(case):
    with pytest.raises(InputError, match="no parameter 'schemes.rapid.targetting'"):
        stress(case, ALL_TO_CCG, "schemes.rapid.targetting", [0.5])
    with pytest.raises(InputError, match="is a share: use values from 0 to 1"):
        stress(case, ALL_TO_CCG, "schemes.rapid.targeting", [0.5, 1.5])
    with pytest.raises(InputError, match="cannot be negative"):
        stress(case, ALL_TO_CCG, VC, [-1])
    with pytest.raises(InputError, match="'nobody' is not a party"):
        tornado(case, ALL_TO_CCG, parties=["nobody"])


def test_sensitivity_document(case):
    doc = sensitivity(case, ALL_TO_CCG, path=VC, values=[400])
    assert doc["command"] == "sensitivity" and doc["parties"] == ["ccg", "acute", "community"]
    assert doc["base"]["ccg"]["expected_net"] == 200000.0
    assert len(doc["tornado"]) == 3 and doc["stress"][0]["value"] == 400.0
    assert "stress" not in sensitivity(case, ALL_TO_CCG)


def test_cli_sensitivity_json_on_the_example_case():
    case_file, agr = CASES / "core.yaml", CASES / "core.agreement.yaml"
    path = uncertain_parameters(gainshare.load_case(case_file))[0].path
    cmd = [sys.executable, "-m", "gainshare.cli", "sensitivity", str(case_file), "--agreement",
           str(agr), "--parameter", path, "--range", "0.5:0.7:3", "--json"]  # fmt: skip
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    doc = json.loads(r.stdout)
    assert doc["command"] == "sensitivity"
    swings = [t["max_swing"] for t in doc["tornado"]]
    assert swings == sorted(swings, reverse=True) and len(swings) > 0
    assert [p["value"] for p in doc["stress"]] == pytest.approx([0.5, 0.6, 0.7])
    for t in doc["tornado"]:
        for d in t["by_party"].values():
            assert d["swing"] == pytest.approx(abs(d["expected_net_high"] - d["expected_net_low"]),
                                               abs=0.011)  # fmt: skip


def test_cli_sensitivity_without_agreement_tests_the_designed_one():
    import gainshare
    from gainshare.analysis.sensitivity import sensitivity

    case = gainshare.load_case(CASES / "core.yaml")
    expected = sensitivity(case, gainshare.design(case).agreement)
    cmd = [sys.executable, "-m", "gainshare.cli", "sensitivity", str(CASES / "core.yaml"), "--json"]
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    doc = json.loads(r.stdout)
    assert doc["agreement_source"] == "designed"
    assert doc["tornado"] == expected["tornado"]
