"""The quick benchmark (benchmarks/run.py --quick) runs end to end. No timing is asserted here
(timings are for the benchmark): what is asserted is that each comparison compares like with
like, which the benchmark's own numbers show."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

sys.path.insert(0, str(__import__("pathlib").Path(__file__).resolve().parents[1] / "benchmarks"))

import cases  # noqa: E402

HEADLINE = ("whatif_median_ms", "whatif_ratio_vs_highs", "design_ratio_vs_highs",
            "check_100k_s", "frontier_20_s", "peak_mem_mb")  # fmt: skip


@pytest.fixture(scope="module")
def doc(root):
    res = subprocess.run([sys.executable, str(root / "benchmarks" / "run.py"), "--quick", "--json"],
                         capture_output=True, text=True, timeout=300)  # fmt: skip
    assert res.returncode == 0, res.stderr
    return json.loads(res.stdout)  # stdout is the one JSON document, HiGHS notes went to stderr


def test_document_shape(doc):
    assert doc["quick"] is True
    assert set(HEADLINE) <= set(doc) and set(doc["targets"]) == set(HEADLINE)
    for key in ("whatif_median_ms", "whatif_ratio_vs_highs", "design_ratio_vs_highs",
                "frontier_20_s"):  # fmt: skip
        assert doc[key] > 0 and doc["targets"][key]["met"] in (True, False)
    assert doc["check_100k_s"] is None and doc["peak_mem_mb"] is None  # not in --quick
    assert doc["machine"]["cpus"] >= 1 and doc["machine"]["python"].startswith("3.")


def test_highs_alone_solves_the_same_models(doc):
    w = doc["details"]["whatif"]
    assert w["first_status"] == "optimal" and w["whatifs"] == 15
    # a fresh HiGHS reading the exported model finds the Designer's optimum after every change
    assert w["same_objective_every_whatif"] is True
    assert doc["details"]["first_design"]["same_objective"] is True
    # each what-if raises one tolerance: the commissioners' optimum never falls
    objs = w["model_objectives"]
    assert all(b >= a - 1e-9 for a, b in zip(objs, objs[1:], strict=False)) and objs[-1] > objs[0]
    # the full formulation (a row per scenario, year and party) has the same optima: the rows
    # the builder leaves out are implied by the rows it keeps
    full = w["full_formulation"]
    assert full["same_objectives_as_built_model"] is True
    assert len(full["whatif_objectives"]) == 15
    assert full["rows"] >= 2 * 503 * 3 * 5 > w["rows"]  # keep-whole and margin rows, 5 providers


def test_frontier_points(doc):
    f = doc["details"]["frontier"]
    pts = f["points"]
    assert len(pts) == 20 and all(p["status"] == "optimal" for p in pts)
    # the first point is the commissioners' optimum; the margin bound then costs them money
    assert pts[0]["commissioners"] == pytest.approx(f["commissioners_optimum"], abs=0.01)
    com = [p["commissioners"] for p in pts]
    assert all(b <= a + 0.01 for a, b in zip(com, com[1:], strict=False)) and com[-1] < com[0]
    for p in pts:
        assert p["worst_margin"] >= p["eps"] - 0.01
    assert f["max_min_margin"] > f["margin_at_commissioners_optimum"]


def test_case_generators():
    big = cases.large_case(scenarios=20)
    assert len(big.parties) == 10 and big.horizon.years == 5 and big.scenario_count() == 23
    small = cases.workshop_case(scenarios=20)
    assert len(small.parties) == 6 and small.horizon.years == 3
    assert set(small.party_ids) < set(big.party_ids)
