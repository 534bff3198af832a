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

HEADLINE = ("design_core_s", "design_workshop_s", "design_large_caps_s", "design_ratio_vs_check",
            "whatif_median_ms", "candidates_workshop_s", "frontier_20_s", "check_100k_s",
            "peak_mem_mb", "app_slider_ms")  # fmt: skip


@pytest.fixture(scope="module")
def doc(root):
    res = subprocess.run([sys.executable, str(root / "benchmarks" / "run.py"), "--quick", "--json"],
                         capture_output=True, text=True, timeout=600)  # fmt: skip
    assert res.returncode == 0, res.stderr
    return json.loads(res.stdout)  # stdout is the one JSON document, notes went to stderr


def test_document_shape(doc):
    assert doc["quick"] is True
    assert set(HEADLINE) <= set(doc) and set(doc["targets"]) == set(HEADLINE)
    for key in ("design_core_s", "design_workshop_s", "design_ratio_vs_check", "whatif_median_ms",
                "candidates_workshop_s", "frontier_20_s"):  # fmt: skip
        assert doc[key] > 0 and doc["targets"][key]["met"] in (True, False)
    for key in ("design_large_caps_s", "check_100k_s", "peak_mem_mb", "app_slider_ms"):
        assert doc[key] is None  # not in --quick
    assert doc["details"]["app_slider"] is None
    assert doc["machine"]["cpus"] >= 1 and doc["machine"]["python"].startswith("3.")


def test_designs_are_proven_optimal_by_the_search(doc):
    for key in ("design_core", "design_workshop"):
        d = doc["details"][key]
        assert d["status"] == "optimal" and d["method"] == "search" and d["gap"] == 0
    w = doc["details"]["whatif"]
    assert w["first_status"] == "optimal" and w["whatifs"] == 15
    assert all(s == "optimal" for s in w["statuses"])
    # each what-if raises one tolerance: the commissioners' optimum never falls
    objs = w["objectives"]
    assert all(b >= a - 0.01 for a, b in zip(objs, objs[1:], strict=False)) and objs[-1] > objs[0]
    assert doc["details"]["first_design"]["ratio_vs_check"] > 1


def test_frontier_points(doc):
    f = doc["details"]["frontier"]
    pts = f["points"]
    assert len(pts) == 20
    # shares in whole percentages: the very top of the margin range may have no agreement
    ok = [p for p in pts if p["status"] in ("optimal", "time_limit")]
    assert len(ok) >= 15 and all(p["status"] in ("optimal", "time_limit", "infeasible")
                                 for p in pts)  # fmt: skip
    # the first point is the commissioners' optimum; the margin bound then costs them money
    assert pts[0]["commissioners"] == pytest.approx(f["commissioners_optimum"], abs=0.01)
    com = [p["commissioners"] for p in ok]
    assert all(b <= a + 0.01 for a, b in zip(com, com[1:], strict=False)) and com[-1] < com[0]
    for p in ok:
        assert p["worst_margin"] >= p["eps"] - 0.01
    assert f["max_min_margin"] > f["margin_at_commissioners_optimum"]


def test_case_generators():
    big = cases.large_case(scenarios=20)
    assert len(big.parties) == 10 and big.horizon.years == 5 and big.scenario_count() == 23
    small = cases.workshop_case(scenarios=20)
    assert len(small.parties) == 6 and small.horizon.years == 3
    assert set(small.party_ids) < set(big.party_ids)


def test_repair_runs_move_shares_then_tier_edges(doc):
    """The room's 50/30/20 split: in the proposal's two tiers repair moves shares only; in one
    tier no agreement works, and repair moves to the drafting space's tier edges."""
    shares, edges = doc["details"]["repair"]
    assert shares["status"] == edges["status"] == "repaired"
    assert not shares["edges_moved"] and shares["gain_tiers"] == 2
    assert edges["edges_moved"] and edges["gain_tiers"] == 3  # the case's £3m and £5m edges
    assert shares["distance"] > 0 and edges["distance"] > 0
