"""Settling actual years from outturn data (SPEC section 4.12): hand-computed years under each
payment rule; actuals equal to a scenario's economics settle to that scenario's statement to
the penny, on every example case; the bridge adds up to the pool difference exactly; a
true-up's adjustments add up to the change in the pool and the history is never overwritten;
the forecast from 12 months is the actual settlement; the example files' golden results."""

from __future__ import annotations

import csv
import json
import os
from pathlib import Path

import numpy as np
import pytest
from helpers import activity_contract, block_contract, build_agreement, build_case
from helpers import single_contract_case as one_contract
from typer.testing import CliRunner

import gainshare
from gainshare.cli import app
from gainshare.schema.actuals import COLUMNS, read_actuals
from gainshare.settle.outturn import forecast_actuals, settle_actuals
from gainshare.settle.pence import statements

ROOT = Path(__file__).resolve().parents[1]
CASES = ROOT / "cases"
EXAMPLES = sorted(p.stem for p in CASES.glob("*.yaml") if not p.name.endswith(".agreement.yaml"))
runner = CliRunner()
AGREEMENT = build_agreement({"name": "hand", "terms": {
    "gain_tiers": [{"shares": {"icb": 0.6, "prov": 0.4}}],
    "loss_tiers": [{"shares": {"icb": 0.5, "prov": 0.5}}]}})  # fmt: skip


def write_actuals(path: Path, rows: list[dict]) -> Path:
    keys = [c.key for c in COLUMNS]
    with path.open("w", newline="", encoding="utf-8") as f:
        w = csv.DictWriter(f, fieldnames=keys)
        w.writeheader()
        for r in rows:
            w.writerow({k: (repr(v) if isinstance(v, float) else v) for k, v in r.items()})
    return path


def settle_rows(tmp_path, case, rows, agreement=AGREEMENT):
    actuals = read_actuals(write_actuals(tmp_path / "a.csv", rows), case)
    return settle_actuals(case, agreement, actuals)


def year_doc(outturn, y: int = 1) -> dict:
    return next(d for d in outturn.document["years"] if d["year"] == y)


# ---------------------------------------------------------------- each payment rule by hand


def test_activity_year_by_hand(tmp_path):
    # 1,000 units expected at 100; 900 happened: the commissioner pays 10,000 less; the
    # provider's variable cost (40 a unit) falls 4,000; 60% of the pool stays, 40% is paid over
    case = build_case(one_contract(activity_contract("c", "icb", "prov", 100, 1_000, 40)))
    d = year_doc(settle_rows(tmp_path, case, [{"year": "2026/27", "kind": "contract", "id": "c",
                                               "units": 900}]))  # fmt: skip
    assert d["pool"] == 10_000.0 and d["expected_spend"] == 100_000.0
    p = d["by_party"]["prov"]
    assert (p["revenue_change"], p["cost_change"], p["transfer"], p["net"]) == (
        -10_000.0, -4_000.0, 4_000.0, -2_000.0)  # fmt: skip
    assert d["by_party"]["icb"]["retained"] == 6_000.0


def test_costs_given_as_actual_and_expected(tmp_path):
    # the provider's budget for the line was 540,000 and it spent 536,500: cost change -3,500
    case = build_case(one_contract(activity_contract("c", "icb", "prov", 100, 1_000, 40)))
    d = year_doc(settle_rows(tmp_path, case, [{"year": 1, "kind": "contract", "id": "c",
                                               "units": 900, "cost": 536_500,
                                               "expected_cost": 540_000}]))  # fmt: skip
    assert d["by_party"]["prov"]["cost_change"] == -3_500.0


def test_block_year_with_a_volume_band_by_hand(tmp_path):
    # a block of 100,000 for 1,000 units, band 90%-110% at half price outside: 850 units is 50
    # below the band, so 50 x 100 x 0.5 = 2,500 is recovered
    block = block_contract("c", "icb", "prov", 100_000, 1_000, 100, 40,
                           volume_band={"lower": 0.9, "upper": 1.1, "rate": 0.5})  # fmt: skip
    d = year_doc(
        settle_rows(
            tmp_path,
            build_case(one_contract(block)),
            [{"year": 1, "kind": "contract", "id": "c", "units": 850, "cost_change": -6_000}],
        )
    )
    assert (d["pool"], d["by_party"]["prov"]["transfer"]) == (2_500.0, 1_000.0)
    assert d["by_party"]["prov"]["net"] == -2_500.0 + 6_000.0 + 1_000.0


def test_blended_year_by_hand(tmp_path):
    # fixed 100,000 for 1,000 planned; 20% of price paid for each unit above plan: 1,100 units
    # cost 2,000 more, a loss shared half and half
    blended = activity_contract("c", "icb", "prov", 100, 1_000, 40, rule="blended",
                                marginal_rate_above=0.2, marginal_rate_below=0.5)  # fmt: skip
    d = year_doc(
        settle_rows(
            tmp_path,
            build_case(one_contract(blended)),
            [{"year": 1, "kind": "contract", "id": "c", "units": 1_100}],
        )
    )
    assert (d["pool"], d["by_party"]["prov"]["transfer"]) == (-2_000.0, -1_000.0)
    assert d["by_party"]["prov"]["cost_change"] == 4_000.0  # 100 units x 40


def test_capitation_year_with_a_stated_payment_by_hand(tmp_path):
    # 10,000 people at 50: 500,000 expected; the list cleanse paid 495,000.50 (a payment that
    # is not the rule): a pool of 4,999.50, of which 40% = 1,999.80 to the provider
    cap = {"id": "c", "commissioner": "icb", "provider": "prov", "rule": "capitation",
           "population": 10_000, "per_head": 50, "expected_units": 2_000}  # fmt: skip
    o = settle_rows(
        tmp_path,
        build_case(one_contract(cap)),
        [{"year": 1, "kind": "contract", "id": "c", "units": 2_000, "payment": 495_000.5}],
    )
    d = year_doc(o)
    assert (d["pool"], d["by_party"]["prov"]["transfer"]) == (4_999.5, 1_999.8)
    assert d["bridge"]["steps"]["price"] == 4_999.5  # all of it: the payment, not the units


# ---------------------------------------------------------------- actuals equal to a scenario


def scenario_rows(case, econ, s: int) -> list[dict]:
    """Every year of scenario s of `econ` (with detail) as actuals rows."""
    d, labels = econ.detail, case.horizon.labels()
    rows = []
    for y, label in enumerate(labels):
        for k, c in enumerate(case.contracts):
            rows.append({"year": label, "kind": "contract", "id": c.id,
                         "units": float(econ.units_act[s, y, k]),
                         "scheme_units": float(d.units_moved[s, y, k]),
                         "cost_change": float(d.cost_change[s, y, k])})  # fmt: skip
        for m, sc in enumerate(case.schemes):
            rows.append({"year": label, "kind": "scheme", "id": sc.id,
                         "running_cost": float(d.scheme_cost[s, y, m])})  # fmt: skip
        for j, pid in enumerate(case.party_ids):
            row = {"year": label, "kind": "party", "id": pid}
            if not np.isnan(econ.quality[s, y, j]):
                row["quality"] = float(econ.quality[s, y, j])
            if econ.benefit[s, y, j]:
                row["benefit"] = float(econ.benefit[s, y, j])
            rows.append(row)
    return rows


AGREEMENTS = [(name, CASES / f"{name}.agreement.yaml") for name in EXAMPLES] + [
    ("mssp", CASES / "rules" / "mssp_enhanced.agreement.yaml"),
    ("rules/aca_hhs", CASES / "rules" / "aca_hhs.agreement.yaml"),
]


@pytest.mark.parametrize("name, agreement_path", AGREEMENTS, ids=[a.stem for _, a in AGREEMENTS])
def test_actuals_equal_to_a_scenario_settle_to_its_statement_to_the_penny(
    tmp_path, name, agreement_path
):
    case = gainshare.load_case(CASES / f"{name}.yaml")
    agreement = gainshare.load_agreement(agreement_path, case)
    econ = gainshare.compute(case, detail=True)
    pen = statements(gainshare.settle(econ, agreement))
    for s in (0, len(econ.weights) // 2, len(econ.weights) - 1):
        got = settle_rows(tmp_path, case, scenario_rows(case, econ, s), agreement)
        mine = got.pence
        for key in ("revenue_change", "cost_change", "spend_saved", "direct_cost", "benefit",
                    "transfer", "retained", "net", "pool", "system_savings"):  # fmt: skip
            assert np.array_equal(getattr(mine, key)[0], getattr(pen, key)[s]), (s, key)


# ---------------------------------------------------------------- bridge


def test_the_bridge_adds_up_to_the_pool_difference_exactly():
    case = gainshare.load_case(CASES / "core.yaml")
    agreement = gainshare.load_agreement(CASES / "core.agreement.yaml", case)
    for name in ("core.actuals.csv", "core.actuals-corrected.csv"):
        o = settle_actuals(case, agreement, read_actuals(CASES / name, case))
        b = o.bridge(1)
        assert b.expected_pool_pence + sum(b.steps_pence.values()) == b.actual_pool_pence
        assert b.actual_pool_pence == int(o.pence.pool[0, 0])
        expected = gainshare.check(case, agreement).settlement
        assert b.expected_pool == pytest.approx(float(expected.econ.weights @ expected.pool[:, 0]))
        assert year_doc(o)["identities"] == {"pool_exact": True, "savings_exact": True,
                                             "bridge_exact": True}  # fmt: skip


def test_bridge_steps_by_hand(tmp_path):
    # expected 1,000 units (no scheme, no uncertainty): actual 1,030 of which the schemes moved
    # -40: underlying volume +70 (-7,000 to the pool), scheme effect +4,000; and a tariff
    # rebate of 500 (price +500)
    case = build_case(one_contract(activity_contract("c", "icb", "prov", 100, 1_000, 40)))
    o = settle_rows(tmp_path, case, [{"year": 1, "kind": "contract", "id": "c", "units": 1_030,
                                      "scheme_units": -40, "payment": 102_500}])  # fmt: skip
    b = year_doc(o)["bridge"]
    assert b == {
        "expected_pool": 0.0,
        "actual_pool": -2_500.0,
        "steps": {
            "baseline": 0.0,
            "volume": -7_000.0,
            "scheme": 4_000.0,
            "price": 500.0,
            "other": 0.0,
        },
    }


def test_bridge_baseline_step_when_the_baseline_moves(tmp_path):
    d = one_contract(activity_contract("c", "icb", "prov", 100, 1_000, 40), years=2)
    d["baseline"] = {"adjustments": [{"basis": "risk", "factors": [1.0, 1.0]}]}
    rows = [{"year": 1, "kind": "contract", "id": "c", "units": 1_000}]
    flat = year_doc(settle_rows(tmp_path, build_case(d), rows))["bridge"]["steps"]["baseline"]
    d["baseline"]["adjustments"][0]["factors"] = [1.05, 1.0]
    # a 5% risk adjustment: expected spend and units up 5%; the actual 1,000 units now save 5,000
    moved = year_doc(settle_rows(tmp_path, build_case(d), rows))
    assert flat == 0.0
    assert moved["pool"] == 5_000.0 and moved["expected_spend"] == 105_000.0
    assert sum(moved["bridge"]["steps"].values()) == pytest.approx(5_000.0)


# ---------------------------------------------------------------- true-up and history

SETTLE = ["settle", "cases/core.yaml", "--agreement", "cases/core.agreement.yaml"]


@pytest.fixture
def at_root():
    here = os.getcwd()
    os.chdir(ROOT)
    yield ROOT
    os.chdir(here)


def test_true_up_adds_up_to_the_change_in_the_pool_and_history_is_kept(at_root, tmp_path):
    out = tmp_path / "settled"
    first = runner.invoke(app, SETTLE + ["--actuals", "cases/core.actuals.csv", "--out", str(out),
                                         "--json"])  # fmt: skip
    assert first.exit_code == 0, first.output
    kept = (out / "2026-27" / "statement-001.json").read_text(encoding="utf-8")
    second = runner.invoke(app, SETTLE + ["--actuals", "cases/core.actuals-corrected.csv",
                                          "--out", str(out), "--json"])  # fmt: skip
    doc = json.loads(second.stdout)["years"][0]
    tu = doc["true_up"]
    assert doc["statement"] == 2 and tu["statement"] == 1 and tu["adds_up"]
    pence = [round(p["adjustment"] * 100) for p in tu["by_party"].values()]
    assert sum(pence) == round(tu["pool_change"] * 100) == 10_887_262
    assert tu["by_party"]["acute"]["adjustment"] == 59_879.94
    assert (out / "2026-27" / "statement-001.json").read_text(encoding="utf-8") == kept
    # the same figures again: nothing new is written
    again = runner.invoke(app, SETTLE + ["--actuals", "cases/core.actuals-corrected.csv",
                                         "--out", str(out)])  # fmt: skip
    assert "unchanged from statement 002: nothing written" in again.output
    # the first figures once more: a third statement, trued up against the second
    back = runner.invoke(app, SETTLE + ["--actuals", "cases/core.actuals.csv", "--out", str(out),
                                        "--json"])  # fmt: skip
    third = json.loads(back.stdout)["years"][0]
    assert third["statement"] == 3
    assert third["true_up"]["by_party"]["acute"]["adjustment"] == -59_879.94
    names = sorted(p.name for p in (out / "2026-27").iterdir())
    assert names == ["bridge-001.html", "bridge-002.html", "bridge-003.html", "plotly.min.js",
                     "statement-001.json", "statement-001.md", "statement-002.json",
                     "statement-002.md", "statement-003.json", "statement-003.md"]  # fmt: skip
    md = (out / "2026-27" / "statement-002.md").read_text(encoding="utf-8")
    assert "- Riverside Hospitals NHS Trust: +£59,879.94" in md


def test_terminal_output_names_the_adjustments(at_root, tmp_path):
    runner.invoke(app, SETTLE + ["--actuals", "cases/core.actuals.csv", "--out", str(tmp_path)])
    got = runner.invoke(app, SETTLE + ["--actuals", "cases/core.actuals-corrected.csv", "--out",
                                       str(tmp_path)])  # fmt: skip
    assert got.exit_code == 0
    text = " ".join(got.output.split())
    assert "True-up against statement 001:" in text
    assert "Riverside Hospitals NHS Trust: +£59,879.94" in text
    assert "Change in the pool: +£108,872.62" in text
    assert f"wrote {tmp_path / '2026-27' / 'statement-002.json'}" in text


# ---------------------------------------------------------------- forecast


def test_forecast_from_twelve_months_is_the_actual_settlement():
    case = gainshare.load_case(CASES / "core.yaml")
    agreement = gainshare.load_agreement(CASES / "core.agreement.yaml", case)
    actuals = read_actuals(CASES / "core.actuals-corrected.csv", case)
    actual = year_doc(settle_actuals(case, agreement, actuals))
    f = forecast_actuals(case, agreement, actuals, 12).document
    for pid, d in f["by_party"].items():
        for key in ("transfer", "net"):
            spread = d[key]
            assert spread["expected"] == spread["low"] == spread["high"] == actual["by_party"][
                pid][key]  # fmt: skip
    assert f["pool"]["expected"] == actual["pool"]
    assert f["projection"]["by_party"] == actual["by_party"]


def test_forecast_from_six_months_projects_the_run_rate_with_a_range():
    case = gainshare.load_case(CASES / "core.yaml")
    agreement = gainshare.load_agreement(CASES / "core.agreement.yaml", case)
    f = forecast_actuals(case, agreement, read_actuals(CASES / "core.actuals-m06.csv", case), 6)
    doc = f.document
    proj = doc["projection"]
    # the run rate: twice the six months (13,420 spells; pool 2 x 1,738,000)
    assert proj["pool"] == 3_476_000.0
    for d in doc["by_party"].values():
        t = d["transfer"]
        assert t["low"] <= t["p5"] <= t["expected"] <= t["p95"] <= t["high"]
    assert doc["by_party"]["acute"]["transfer"]["p95"] > doc["by_party"]["acute"]["transfer"]["p5"]
    # a winter profile puts less of the year in April to September: a larger projection
    winter = [7, 7, 7, 7, 7, 8, 9, 9, 10, 10, 10, 9]
    w = forecast_actuals(case, agreement, read_actuals(CASES / "core.actuals-m06.csv", case), 6,
                         profile=winter).document  # fmt: skip
    assert w["share_of_year"] == pytest.approx(43 / 100)
    assert w["projection"]["actual_spend"] > proj["actual_spend"]


# ---------------------------------------------------------------- golden results

GOLDEN = {
    "core.actuals.settled.json": ["--actuals", "cases/core.actuals.csv"],
    "core.actuals-m06.forecast.json": ["--actuals", "cases/core.actuals-m06.csv",
                                       "--months-to-date", "6"],
}  # fmt: skip


@pytest.mark.parametrize("name", list(GOLDEN))
def test_settle_prints_the_golden_document(at_root, name):
    got = runner.invoke(app, SETTLE + GOLDEN[name] + ["--json"])
    assert got.exit_code == 0, got.output
    doc = json.loads(got.stdout)
    assert doc.pop("out") is None
    assert doc == json.loads((CASES / name).read_text(encoding="utf-8"))


def test_corrected_settlement_and_true_up_are_golden(at_root, tmp_path):
    runner.invoke(app, SETTLE + ["--actuals", "cases/core.actuals.csv", "--out", str(tmp_path)])
    got = runner.invoke(app, SETTLE + ["--actuals", "cases/core.actuals-corrected.csv", "--out",
                                       str(tmp_path), "--json"])  # fmt: skip
    doc = json.loads(got.stdout)
    assert doc.pop("out") == str(tmp_path)
    want = CASES / "core.actuals-corrected.settled.json"
    assert doc == json.loads(want.read_text(encoding="utf-8"))


def test_golden_files_are_current():
    import subprocess
    import sys

    got = subprocess.run([sys.executable, str(ROOT / "scripts" / "update_settle_golden.py"),
                          "--check"], capture_output=True, text=True)  # fmt: skip
    assert got.returncode == 0, got.stdout + got.stderr


# ---------------------------------------------------------------- template


def test_template_lists_the_case_and_reads_back(at_root, tmp_path):
    out = tmp_path / "actuals.xlsx"
    got = runner.invoke(app, ["template", "--actuals", "--case", "cases/core.yaml", "--out",
                              str(out)])  # fmt: skip
    assert got.exit_code == 0, got.output
    from openpyxl import load_workbook

    wb = load_workbook(out)
    ws = wb["Actuals"]
    rows = [[c.value for c in r] for r in ws.iter_rows()]
    assert rows[0] == [c.key for c in COLUMNS]
    assert [r[:3] for r in rows[1:]] == [
        ["2026/27", "contract", "acute_nel"], ["2026/27", "contract", "community_block"],
        ["2026/27", "scheme", "rapid_response"], ["2026/27", "party", "ccg"],
        ["2026/27", "party", "acute"], ["2026/27", "party", "community"]]  # fmt: skip
    # filled in with the example's figures, it settles as the CSV does
    figures = [(13160, -1905, -2011720), (205400, 5820, 243000)]
    for r, (units, moved, cost) in zip(ws.iter_rows(min_row=2, max_row=3), figures, strict=True):
        col = {c.key: i for i, c in enumerate(COLUMNS)}
        r[col["units"]].value, r[col["scheme_units"]].value = units, moved
        r[col["cost_change"]].value = cost
    ws.cell(row=4, column=[c.key for c in COLUMNS].index("running_cost") + 1).value = 1002800
    wb.save(out)
    case = gainshare.load_case("cases/core.yaml")
    agreement = gainshare.load_agreement("cases/core.agreement.yaml", case)
    from_xlsx = year_doc(settle_actuals(case, agreement, read_actuals(out, case)))
    from_csv = year_doc(
        settle_actuals(case, agreement, read_actuals("cases/core.actuals.csv", case))
    )
    assert from_xlsx == from_csv
    csv_out = tmp_path / "actuals.csv"
    assert runner.invoke(app, ["template", "--actuals", "--case", "cases/core.yaml", "--year",
                               "2027/28", "--out", str(csv_out)]).exit_code == 0  # fmt: skip
    assert csv_out.read_text(encoding="utf-8").splitlines()[1].startswith("2027/28,contract,")
