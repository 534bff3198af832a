"""benchmarks/app_slider.py runs end to end in Chromium and its times are consistent: each
move's figures change after the key press, are drawn no sooner than they change, and the page
ends after them. No time is asserted here (timings live in the benchmark)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))

from app_slider import CHROMIUM  # noqa: E402

pytestmark = pytest.mark.browser


def test_the_slider_benchmark_times_each_move_inside_the_page():
    if not CHROMIUM.exists():
        if os.environ.get("CI"):
            pytest.fail(f"{CHROMIUM} is missing in CI: `make browser-deps` installs it")
        pytest.skip(f"{CHROMIUM} is not installed (run `make browser-deps`)")
    res = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "app_slider.py"), "--moves", "3", "--poll",
         "--json"],
        capture_output=True, text=True, timeout=600, cwd=ROOT,
    )  # fmt: skip
    assert res.returncode == 0, res.stderr[-2000:]
    doc = json.loads(res.stdout)
    assert doc["run"] is True
    assert doc["moves"] == 3 and len(doc["per_move"]) == 3
    assert doc["viewport"] == "1280x720"
    # two providers with a keep-whole requirement, the second one's slider after the first's
    assert len(doc["organisations"]) == 2
    assert [m["organisation"] for m in doc["per_move"]] == [doc["organisations"][0]] * 2 + [
        doc["organisations"][1]
    ]
    assert [m["key"] for m in doc["per_move"]] == ["ArrowRight", "ArrowLeft", "ArrowRight"]
    for m in doc["per_move"]:
        assert 0 < m["first_figure_ms"] <= m["figures_ms"] <= m["frame_ms"] <= m["page_ms"]
        assert m["seen_by_script_ms"] > 0
    frames = sorted(m["frame_ms"] for m in doc["per_move"])
    assert doc["frame_median_ms"] == frames[1]
    assert doc["frame_min_ms"] == frames[0] and doc["frame_max_ms"] == frames[2]
