"""Every `--json` command on every example case, feasible or not, run as a user runs it (the
installed executable, a fresh process): standard output is exactly one JSON document, whatever
the exit code, and the exit code is one of the documented ones (0, 1, 2)."""

from __future__ import annotations

import json
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
EXE = Path(sys.executable).with_name("gainshare")
CASES = sorted(p for p in (ROOT / "cases").glob("*.yaml") if "." not in p.stem)
CASES.append(ROOT / "app" / "examples" / "workshop6.yaml")


def _commands(case: Path, out: Path) -> dict[str, list[str]]:
    agreement = case.with_name(case.stem + ".agreement.yaml")
    return {
        "validate": ["validate", str(case)],
        "check": ["check", str(case), "--agreement", str(agreement)],
        "design": ["design", str(case), "--time-limit", "5"],
        "repair": ["repair", str(case), "--proposal", str(agreement)],
        "explain": ["explain", str(case)],
        "candidates": ["candidates", str(case), "--points", "3", "--time-limit", "1"],
        "fair": ["fair", str(case)],
        "sensitivity": ["sensitivity", str(case)],
        "report": [
            "report",
            str(case),
            "--agreement",
            str(agreement),
            "--out",
            str(out / f"{case.stem}-report"),
        ],  # fmt: skip
    }


def _run(args: list[str], cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([str(EXE), *args, "--json"], cwd=cwd, capture_output=True, text=True,
                          timeout=600, stdin=subprocess.DEVNULL)  # fmt: skip


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> dict[tuple[str, str], subprocess.CompletedProcess]:
    out = tmp_path_factory.mktemp("json")
    jobs = {(case.stem, name): args for case in CASES
            for name, args in _commands(case, out).items()}  # fmt: skip
    sweep = out / "sweep.yaml"
    sweep.write_text(
        f"name: two targeting values\nbase_case: {ROOT / 'cases' / 'core.yaml'}\n"
        "grid:\n  schemes.rapid_response.targeting: [0.7, 0.8]\n"
        f"output: {out / 'sweep.results.csv'}\n",
        encoding="utf-8",
    )
    jobs["core", "sweep"] = ["sweep", str(sweep), "--workers", "1"]
    with ThreadPoolExecutor(max_workers=2) as pool:
        futures = {key: pool.submit(_run, args, out) for key, args in jobs.items()}
        return {key: f.result() for key, f in futures.items()}


def test_every_json_command_prints_one_document(runs):
    bad = []
    for (case, name), r in sorted(runs.items()):
        try:
            doc = json.loads(r.stdout)
        except json.JSONDecodeError as e:
            bad.append(f"{name} {case}: exit {r.returncode}, not one JSON document ({e}): "
                       f"{r.stdout[:200]!r} / {r.stderr[-300:]!r}")  # fmt: skip
            continue
        if not isinstance(doc, dict):
            bad.append(f"{name} {case}: the document is not an object")
        elif r.returncode not in (0, 1):
            bad.append(f"{name} {case}: exit {r.returncode}: {r.stderr[-300:]!r}")
        elif doc.get("status") in ("error", "bad_input"):
            bad.append(f"{name} {case}: status {doc['status']}: {doc}")
        if "Traceback" in r.stderr:
            bad.append(f"{name} {case}: a traceback on stderr: {r.stderr[-1500:]!r}")
    assert not bad, "\n".join(bad)


def test_every_command_and_case_ran(runs):
    assert len(runs) == len(CASES) * 9 + 1
