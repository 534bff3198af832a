"""Regenerate the golden results of settling the example actuals of the core case.

    python scripts/update_settle_golden.py          # rewrite the files
    python scripts/update_settle_golden.py --check  # exit 1 if any is out of date

Files (beside the case, in cases/), each the JSON document `gainshare settle ... --json` prints
(without `out`, the folder the history went to):
- core.actuals.settled.json: year 1 settled from core.actuals.csv;
- core.actuals-corrected.settled.json: the corrected figures settled after it in the same
  output folder, with the true-up against the first statement;
- core.actuals-m06.forecast.json: the year forecast from six months to date.
Review the diff before committing: a changed number is a changed settlement."""

from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path

from typer.testing import CliRunner

from gainshare.cli import app

ROOT = Path(__file__).resolve().parents[1]
BASE = ["settle", "cases/core.yaml", "--agreement", "cases/core.agreement.yaml", "--json"]


def run(args: list[str]) -> dict:
    got = CliRunner().invoke(app, BASE + args)
    if got.exit_code != 0:
        raise SystemExit(f"settle {' '.join(args)} exited {got.exit_code}: {got.output}")
    doc = json.loads(got.stdout)
    doc.pop("out", None)
    return doc


def documents() -> dict[str, dict]:
    """File name -> document, run from the repository root (paths as the README gives them)."""
    import os

    here = os.getcwd()
    os.chdir(ROOT)
    try:
        first = run(["--actuals", "cases/core.actuals.csv"])
        with tempfile.TemporaryDirectory() as tmp:
            run(["--actuals", "cases/core.actuals.csv", "--out", tmp])
            corrected = run(["--actuals", "cases/core.actuals-corrected.csv", "--out", tmp])
        forecast = run(["--actuals", "cases/core.actuals-m06.csv", "--months-to-date", "6"])
    finally:
        os.chdir(here)
    return {
        "core.actuals.settled.json": first,
        "core.actuals-corrected.settled.json": corrected,
        "core.actuals-m06.forecast.json": forecast,
    }


def text(doc: dict) -> str:
    return json.dumps(doc, indent=2, allow_nan=False) + "\n"


def main(argv: list[str]) -> int:
    stale = 0
    for name, doc in documents().items():
        path = ROOT / "cases" / name
        old = path.read_text(encoding="utf-8") if path.exists() else None
        if old != text(doc):
            stale += 1
            print(f"{name}: {'new' if old is None else 'changed'}")
            if "--check" not in argv:
                path.write_text(text(doc), encoding="utf-8")
        else:
            print(f"{name}: unchanged")
    return 1 if stale and "--check" in argv else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
