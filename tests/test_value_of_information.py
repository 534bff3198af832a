"""What to measure first (models/value_of_information.md): the value of knowing a parameter
before signing, against a hand-worked two-scenario case; exactly zero for parameters that do not
change the best agreement; the command and the app page."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from streamlit.testing.v1 import AppTest
from typer.testing import CliRunner

from gainshare.analysis.value_of_information import value_of_information
from gainshare.cli import app
from gainshare.schema.io import InputError
from tests.helpers_design import tiny_case, tiny_dict

ROOT = Path(__file__).resolve().parents[1]
PAGE = ROOT / "app" / "pages" / "6_What_to_measure_first.py"
runner = CliRunner()


def test_hand_worked_two_scenario_case():
    """tests/helpers_design.py: targeting 1.0 or 0.8, each with probability 0.5. Without knowing,
    the acute trust needs 60% of every gain and the community trust 37.5% (its 30,000 against
    the smaller pool of 80,000): the commissioners keep 2.5% of 100,000 or 80,000, 2,250
    expected. Knowing targeting is 1.0, the community trust needs only 30%: the commissioners
    keep 10% of 100,000 = 10,000; knowing it is 0.8, 2.5% of 80,000 = 2,000.
    EVPPI = 0.5 x 10,000 + 0.5 x 2,000 - 2,250 = 3,750."""
    res = value_of_information(tiny_case())
    assert res.baseline == pytest.approx(2_250.0, abs=0.01)
    (p,) = res.parameters
    assert p.path == "schemes.rr.targeting" and p.exact and p.draws == 2
    assert p.value == pytest.approx(3_750.0, abs=0.01)
    assert p.knowing == pytest.approx(6_000.0, abs=0.01)
    assert p.without_knowing == pytest.approx(2_250.0, abs=0.01)
    assert p.standard_error == 0.0
    assert sorted(p.gains) == pytest.approx([2_000.0 - 2_000.0, 10_000.0 - 2_500.0], abs=0.01)
    assert p.words == ("knowing the targeting of rr before signing is worth £3,750 to the "
                       "commissioners")  # fmt: skip
    doc = res.document
    assert doc["command"] == "value-of-information" and doc["parameters"][0]["rank"] == 1
    assert doc["parameters"][0]["value"] == 3_750.0


def test_zero_for_a_parameter_that_does_not_change_the_best_agreement():
    """System savings do not depend on how the pool is shared: knowing targeting changes what
    the scheme saves but not which agreement is best, so it is worth exactly nothing; and a
    posts-filled figure with every post filled changes nothing at all."""
    data = tiny_dict()
    data["uncertainty"] = {"scenarios": 40, "seed": 7, "named": []}
    data["requirements"] = {"objective": "system_savings"}
    data["schemes"][0]["staffing"] = {
        "posts_per_team": 2, "cost_per_post": 1_000, "filled": 1.0,
        "agency_premium": {"dist": "uniform", "low": 0.2, "high": 0.6},
    }  # fmt: skip
    res = value_of_information(tiny_case(**{k: data[k] for k in ("uncertainty", "requirements",
                                                                 "schemes")}), draws=5)  # fmt: skip
    got = {p.path: p for p in res.parameters}
    assert set(got) == {"schemes.rr.targeting", "schemes.rr.staffing.agency_premium"}
    for p in got.values():
        assert p.value == 0.0 and p.standard_error == 0.0 and p.draws_with_gain == 0
        assert all(abs(g) < 0.005 for g in p.gains)
        assert "worth nothing" in p.words
    t = got["schemes.rr.targeting"]
    assert not t.exact and t.draws == 5 and sum(t.weights) == pytest.approx(1.0)
    assert t.knowing == pytest.approx(t.without_knowing, abs=0.01) and t.knowing > 0


def test_sampled_draws_are_stratified_and_never_negative():
    data = tiny_dict()
    case = tiny_case(uncertainty={"scenarios": 60, "seed": 3, "named": []})
    res = value_of_information(case, draws=6)
    (p,) = res.parameters
    assert not p.exact and p.draws == 6
    assert p.value >= 0 and all(g >= -0.005 for g in p.gains)
    assert p.standard_error > 0 and p.draws_with_gain > 0
    assert data["uncertainty"]["scenarios"] == 0  # the helper's own data is untouched


def test_objective_must_be_money_and_draws_in_range():
    with pytest.raises(InputError, match="not in money"):
        value_of_information(
            tiny_case(requirements={"objective": "fair_reference", "reference_split": {"ccg": 1.0}})
        )
    with pytest.raises(InputError, match="--draws"):
        value_of_information(tiny_case(), draws=0)
    with pytest.raises(InputError, match="not a parameter of the case"):
        value_of_information(tiny_case(), only=["schemes.rr.targetting"])


@pytest.fixture
def tiny_file(tmp_path) -> Path:
    path = tmp_path / "tiny.yaml"
    path.write_text(yaml.safe_dump(tiny_dict(), sort_keys=False))
    return path


def test_command_prints_one_json_document(tiny_file):
    got = runner.invoke(app, ["value-of-information", str(tiny_file), "--json"])
    assert got.exit_code == 0, got.output
    doc = json.loads(got.stdout)
    assert doc["status"] == "ok" and doc["parameters"][0]["value"] == 3_750.0
    assert doc["draws"] == 20 and doc["timings"]["solves"] == 1 + 2 + 1
    words = runner.invoke(app, ["value-of-information", str(tiny_file),
                                "--objective", "system_savings"])  # fmt: skip
    assert words.exit_code == 0, words.output
    assert "worth nothing to the system" in " ".join(words.stdout.split())


@pytest.mark.parametrize(
    "args",
    [
        ["--draws", "0"],
        ["--objective", "fair_reference"],
        ["--parameter", "schemes.rr.nope"],
        ["--time-limit", "-1"],
    ],
)
def test_command_bad_input_exits_2_with_one_document(tiny_file, args):
    got = runner.invoke(app, ["value-of-information", str(tiny_file), *args, "--json"])
    assert got.exit_code == 2
    doc = json.loads(got.stdout)
    assert doc["status"] == "bad_input" and doc["command"] == "value-of-information"


def test_app_page_measures_the_portfolio_example():
    at = AppTest.from_file(str(PAGE), default_timeout=300).run()
    assert not at.exception, [e.value for e in at.exception]
    assert at.selectbox[0].value.startswith("portfolio")
    at.number_input[0].set_value(2)
    at.multiselect[0].set_value(["schemes.early_discharge.targeting"])
    at.selectbox[1].set_value("commissioners")
    at.button[0].click().run()
    assert not at.exception, [e.value for e in at.exception]
    assert len(at.dataframe) == 1 and len(at.dataframe[0].value) == 1
    words = [m.value for m in at.markdown if m.value.startswith("- Knowing")]
    assert words and "Early supported discharge" in words[0]
