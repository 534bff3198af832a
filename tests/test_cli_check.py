"""`gainshare check --json` and `validate` through the installed executable (SPEC sections 4.1
and 5): one JSON document on stdout, the documented keys, exit 0 when every party is kept whole
and 1 when not; and a smoke test that check scales to 100,000 scenarios without a Python loop
over scenarios."""

from __future__ import annotations

import importlib.util
import json
import re
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import yaml
from helpers import agreement, build_agreement, build_case, small_case

import gainshare
from gainshare.economics.model import compute
from gainshare.settle.check import check

EXE = Path(sys.executable).with_name("gainshare")
KEEPS_WHOLE = {"icb": 0.15, "acute": 0.65, "comm": 0.2}


def _run(tmp_path: Path, case: dict, agr: dict | None, *args: str):
    (tmp_path / "case.yaml").write_text(yaml.safe_dump(case, sort_keys=False))
    if agr is not None:
        (tmp_path / "agr.yaml").write_text(yaml.safe_dump(agr, sort_keys=False))
    return subprocess.run(
        [str(EXE), *args], cwd=tmp_path, capture_output=True, text=True, timeout=120
    )


def _one_document(stdout: str) -> dict:
    """The whole of stdout is exactly one JSON document (trailing newline allowed)."""
    doc, end = json.JSONDecoder().raw_decode(stdout)
    assert stdout[end:].strip() == "", "more than one JSON document on stdout"
    assert isinstance(doc, dict)
    return doc


def test_check_json_hand_figures_and_exit_1(tmp_path):
    # small case, one scenario, 50/30/20 gain shares: acute gets 60,000 but lost 120,000 net of
    # cost avoided, so it ends 60,000 short; comm gains 4,000; icb keeps 100,000.
    out = _run(tmp_path, small_case(), agreement(), "check", "case.yaml", "-a", "agr.yaml",
               "--json")  # fmt: skip
    assert out.returncode == 1, out.stderr
    doc = _one_document(out.stdout)
    assert doc["command"] == "check"
    assert doc["case"] == "Small hand case"
    assert (doc["scenarios"], doc["years"]) == (1, 1)
    assert doc["all_kept_whole"] is False
    assert doc["system_savings"]["expected"] == 44_000
    assert doc["pool"]["expected"] == 200_000
    acute, comm, icb = (doc["by_party"][p] for p in ("acute", "comm", "icb"))
    assert acute["expected_net"] == -60_000 and acute["worst_net"] == -60_000
    assert acute["prob_whole"] == 0 and acute["expected_transfer"] == 60_000
    assert acute["stranded_fixed_cost_expected"] == 120_000
    assert acute["unfunded_activity_expected"] == 0
    assert comm["expected_net"] == 4_000 and comm["prob_whole"] == 1
    assert comm["expected_transfer"] == 40_000
    assert comm["unfunded_activity_expected"] == 36_000
    assert comm["stranded_fixed_cost_expected"] == 0
    assert icb["expected_net"] == 100_000 and icb["expected_transfer"] == 0
    assert doc["violations"] == [
        {"party": "acute", "scenario": "mc00001", "year": 1, "year_label": "2026/27",
         "shortfall": 60_000}
    ]  # fmt: skip
    assert doc["violations_total"] == 1
    assert out.stderr == ""


def test_check_exit_0_when_everyone_is_kept_whole(tmp_path):
    # acute 0.65 x 200,000 = 130,000 >= its 120,000; comm 40,000 >= its 36,000
    out = _run(tmp_path, small_case(), agreement(KEEPS_WHOLE), "check", "case.yaml",
               "--agreement", "agr.yaml", "--json")  # fmt: skip
    assert out.returncode == 0, out.stderr
    doc = _one_document(out.stdout)
    assert doc["all_kept_whole"] is True
    assert doc["violations"] == [] and doc["violations_total"] == 0
    assert doc["by_party"]["acute"]["expected_net"] == 10_000
    assert doc["by_party"]["comm"]["expected_net"] == 4_000
    # and the readable form exits the same way, printing no JSON
    out = _run(tmp_path, small_case(), None, "check", "case.yaml", "--agreement", "agr.yaml")
    assert out.returncode == 0
    assert not out.stdout.lstrip().startswith("{")
    assert "keep-whole requirement is met" in out.stdout


def test_validate_prints_one_line_summary(tmp_path):
    out = _run(tmp_path, small_case(), None, "validate", "case.yaml")
    assert out.returncode == 0
    assert out.stderr == ""
    assert out.stdout.splitlines() == [
        "ok: Small hand case: 3 parties (1 commissioning, 2 providing), 2 contracts, "
        "1 scheme, 1 scenario, 1 year"
    ]


def _uncertain_case(scenarios: int, years: int = 2) -> dict:
    d = small_case(
        targeting={"dist": "triangular", "low": 0.2, "mode": 0.5, "high": 0.7},
        escalation={"dist": "uniform", "low": 0.0, "high": 0.3},
        years=years,
        scenarios=scenarios,
    )
    d["schemes"][0]["ramp_up"] = [{"dist": "uniform", "low": 0.5, "high": 1.0}] * years
    return d


def test_check_json_structure_with_many_violations(tmp_path):
    out = _run(tmp_path, _uncertain_case(300), agreement(), "check", "case.yaml", "-a",
               "agr.yaml", "--json")  # fmt: skip
    assert out.returncode == 1
    doc = _one_document(out.stdout)
    for key in ("command", "case", "scenarios", "years", "all_kept_whole", "system_savings",
                "pool", "by_party", "violations", "violations_total"):  # fmt: skip
        assert key in doc, key
    assert (doc["scenarios"], doc["years"]) == (300, 2)
    assert isinstance(doc["system_savings"]["expected"], float)
    assert isinstance(doc["pool"]["expected"], float)
    assert set(doc["by_party"]) == {"icb", "acute", "comm"}
    for d in doc["by_party"].values():
        for key in ("expected_net", "worst_net", "prob_whole", "expected_transfer",
                    "stranded_fixed_cost_expected", "unfunded_activity_expected"):  # fmt: skip
            assert isinstance(d[key], int | float), key
        assert 0 <= d["prob_whole"] <= 1
        assert d["worst_net"] <= d["expected_net"] / doc["years"] + 1e-6
    v = doc["violations"]
    assert doc["violations_total"] > 100 and len(v) == 100
    assert all(set(x) >= {"party", "scenario", "year", "shortfall"} for x in v)
    shortfalls = [x["shortfall"] for x in v]
    assert shortfalls == sorted(shortfalls, reverse=True)  # worst first
    assert all(x["party"] in ("acute", "comm") and 1 <= x["year"] <= 2 for x in v)
    # the listed worst shortfall is the worst net position of any provider
    worst = min(doc["by_party"][p]["worst_net"] for p in ("acute", "comm"))
    assert shortfalls[0] == pytest.approx(-worst, abs=0.01)


def test_check_document_matches_the_settlement():
    case, agr = build_case(_uncertain_case(200)), build_agreement(agreement())
    res = check(case, agr)
    doc, st = res.document, res.settlement
    w = st.econ.weights
    for j, pid in enumerate(st.econ.party_ids):
        d = doc["by_party"][pid]
        assert d["expected_net"] == pytest.approx(float(w @ st.net[:, :, j].sum(axis=1)), abs=0.01)
        assert d["worst_net"] == pytest.approx(float(st.net[:, :, j].min()), abs=0.01)
        whole = (st.net[:, :, j] >= -0.005).all(axis=1)
        assert d["prob_whole"] == pytest.approx(float(w[whole].sum()), abs=1e-6)
    short = np.maximum(-st.net[:, :, 1:], 0)
    assert doc["violations_total"] == int((short > 0.005).sum())
    assert doc["identities"]["pence_pool_exact"] and doc["identities"]["pence_savings_exact"]


# ------------------------------------------------------------------ performance smoke


def test_check_100k_scenarios_completes():
    case = build_case(_uncertain_case(100_000, years=3))
    econ = compute(case)
    t0 = time.perf_counter()
    res = check(case, build_agreement(agreement()), econ)
    took = time.perf_counter() - t0
    assert res.document["scenarios"] == 100_000
    assert res.settlement.net.shape == (100_000, 3, 3)
    assert res.document["identities"]["pence_pool_exact"]
    assert took < 20, f"check of 100,000 scenarios took {took:.1f} s"


def _lines_run(scenarios: int) -> tuple[int, int]:
    """Python lines executed inside economics/model.py and settle/ for compute + check, and
    the number of violations found."""
    case = build_case(_uncertain_case(scenarios))
    agr = build_agreement(
        agreement(
            caps={"acute": {"share_of_expected": 0.02}},
            collars={"comm": 10_000},
            corridor={"gain_threshold": 10_000, "mode": "excess_only"},
            gateway={},
        )
    )
    roots = ("gainshare/settle/", "gainshare/economics/model.py")
    count = 0

    def tracer(frame, event, arg):
        nonlocal count
        if not any(r in frame.f_code.co_filename.replace("\\", "/") for r in roots):
            return None
        if event == "line":
            count += 1
        return tracer

    sys.settrace(tracer)
    try:
        res = check(case, agr, compute(case))
    finally:
        sys.settrace(None)
    return count, res.document["violations_total"]


def test_settle_has_no_python_loop_over_scenarios():
    # the same case and agreement at 50 and 5,000 scenarios run exactly the same Python lines
    # in economics/model.py and settle/ (the worst 100 violations are listed in both): all the
    # work per scenario happens inside numpy
    (small, v_small), (large, v_large) = _lines_run(50), _lines_run(5_000)
    assert v_small >= 100 and v_large >= 100
    assert small > 0
    assert small == large, (small, large)


# ------------------------------------------------------------------ documentation of the output

ROOT = Path(__file__).resolve().parents[1]


def _documented_keys() -> set[str]:
    """First-column `keys` of every table in docs/check-output.md."""
    text = (ROOT / "docs" / "check-output.md").read_text(encoding="utf-8")
    keys = set()
    for line in text.splitlines():
        m = re.match(r"^\| `([^`]+)` \|", line)
        if m:
            keys.add(m.group(1))
    return keys


def test_every_key_of_the_check_document_is_documented():
    # as the command line prints it: with the incentive analysis
    res = gainshare.check(build_case(_uncertain_case(50)), build_agreement(agreement()),
                          incentives=True)  # fmt: skip
    doc = res.document
    keys = set(doc) | set(doc["system_savings"]) | set(doc["identities"])
    for d in doc["by_party"].values():
        keys |= {k for k in d if k != "requirement"}
        keys |= {f"requirement.{k}" for k in d["requirement"]}
    for v in doc["violations"]:
        keys |= set(v)
    inc = doc["incentives"]
    keys |= set(inc)
    for step in inc["steps"]:
        keys |= set(step)
        for d in step["by_party"].values():
            keys |= set(d)
    for f in inc["flags"]:
        keys |= set(f)
    assert doc["violations"], "the example needs violations to show their keys"
    assert inc["steps"] and inc["flags"], "the example needs steps and flags to show their keys"
    assert keys | _portfolio_keys() == _documented_keys()


def _portfolio_keys() -> set[str]:
    """Keys only a case with cohorts and money paid outside the pool prints (its schemes'
    effects, named `by_scheme.<id>.…` in the document), from cases/portfolio.yaml."""
    import gainshare

    case = gainshare.load_case(ROOT / "cases" / "portfolio.yaml")
    a = gainshare.load_agreement(ROOT / "cases" / "portfolio.agreement.yaml", case)
    doc = check(case, a).document
    keys = {"schemes"} | {k for d in doc["by_party"].values() for k in d if "outside" in k}
    for d in doc["schemes"]["by_scheme"].values():
        for k, v in d.items():
            keys |= (
                {f"by_scheme.<id>.{k}.{x}" for x in v}
                if isinstance(v, dict)
                else {f"by_scheme.<id>.{k}"}
            )
    return keys | {f"portfolio.{k}" for k in doc["schemes"]["portfolio"]}


# ------------------------------------------------------------------ exported JSON schemas


def _export_module():
    spec = importlib.util.spec_from_file_location(
        "export_schema", ROOT / "scripts" / "export_schema.py"
    )
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_committed_json_schemas_are_current():
    stale = _export_module().stale()
    assert stale == [], f"{stale} out of date: run python scripts/export_schema.py"


def test_example_files_validate_against_the_json_schemas():
    jsonschema = pytest.importorskip("jsonschema")
    mod = _export_module()
    case_schema = json.loads(mod.schema_text(mod.MODELS["case.schema.json"]))
    agr_schema = json.loads(mod.schema_text(mod.MODELS["agreement.schema.json"]))
    # plain data as a YAML file holds it (year_overrides keys as text, as in JSON)
    case = json.loads(json.dumps(_uncertain_case(10)))
    agr = json.loads(json.dumps(agreement(
        caps={"acute": 50_000, "comm": {"share_of_expected": 0.1}},
        year_overrides={2: {"collars": {"acute": 1_000}}},
    )))  # fmt: skip
    jsonschema.validate(case, case_schema)
    jsonschema.validate(agr, agr_schema)
    bad = json.loads(json.dumps(agr))
    bad["terms"]["colars"] = {"acute": 1}
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(bad, agr_schema)
    for path in sorted(ROOT.glob("cases/*.yaml")):
        data = json.loads(json.dumps(yaml.safe_load(path.read_text()), default=str))
        schema = agr_schema if path.name.endswith(".agreement.yaml") else case_schema
        jsonschema.validate(data, schema)


def test_validate_json_is_one_document(tmp_path, monkeypatch):
    from typer.testing import CliRunner

    from gainshare.cli import app

    (tmp_path / "case.yaml").write_text(yaml.safe_dump(_uncertain_case(20), sort_keys=False))
    monkeypatch.chdir(tmp_path)
    r = CliRunner().invoke(app, ["validate", "case.yaml", "--json"])
    assert r.exit_code == 0, r.stderr
    doc = _one_document(r.stdout)
    assert doc["command"] == "validate" and doc["warnings"] == []
    assert (doc["parties"], doc["providers"], doc["scenarios"], doc["years"]) == (3, 2, 20, 2)
    assert {p["path"] for p in doc["uncertain_parameters"]} == {
        "schemes.vw.targeting",
        "schemes.vw.escalation",
        "schemes.vw.ramp_up",
    }
