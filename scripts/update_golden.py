"""Regenerate the golden check results of the example cases.

For every `cases/NAME.yaml` with its `cases/NAME.agreement.yaml`, write
`cases/NAME.expected.json`: the JSON document that

    gainshare check cases/NAME.yaml --agreement cases/NAME.agreement.yaml --json

prints, produced through the same Python API as the command line (`load_case`,
`load_agreement`, `check(..., incentives=True)`, `.document`) and the same JSON writer.

Usage:
    python scripts/update_golden.py            # rewrite every expected file
    python scripts/update_golden.py core mssp  # only these cases
    python scripts/update_golden.py --check    # report stale files, write nothing (exit 1 if any)

Review the diff of the expected files before committing: a changed number there is a changed
result of `check`."""

from __future__ import annotations

import argparse
import contextlib
import io
import sys
from pathlib import Path

import gainshare
from gainshare.cli import emit_json

ROOT = Path(__file__).resolve().parents[1]
CASES = ROOT / "cases"


def case_files(names: list[str] | None = None) -> list[Path]:
    """Case files in cases/ (agreements excluded), optionally only the named ones."""
    found = sorted(p for p in CASES.glob("*.yaml") if not p.name.endswith(".agreement.yaml"))
    if not names:
        return found
    by_name = {p.stem: p for p in found}
    missing = [n for n in names if n not in by_name]
    if missing:
        raise SystemExit(f"no such case in {CASES}: {', '.join(missing)}")
    return [by_name[n] for n in names]


def agreement_file(case_path: Path) -> Path:
    return case_path.with_name(case_path.stem + ".agreement.yaml")


def expected_file(case_path: Path) -> Path:
    return case_path.with_name(case_path.stem + ".expected.json")


def golden_text(case_path: Path) -> tuple[str, bool]:
    """The CLI's JSON output for a case and its agreement, and whether all are kept whole."""
    case = gainshare.load_case(case_path)
    agreement = gainshare.load_agreement(agreement_file(case_path), case)
    result = gainshare.check(case, agreement, incentives=True)
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        emit_json(result.document)
    return buf.getvalue(), result.all_kept_whole


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("cases", nargs="*", help="case names (file stems); default all")
    parser.add_argument("--check", action="store_true", help="report stale files, write none")
    args = parser.parse_args(argv)
    stale = 0
    for path in case_files(args.cases):
        text, whole = golden_text(path)
        out = expected_file(path)
        old = out.read_text(encoding="utf-8") if out.exists() else None
        state = "unchanged" if old == text else ("new" if old is None else "changed")
        exit_code = 0 if whole else 1
        print(f"{path.name}: exit {exit_code}, {state}")
        if state != "unchanged":
            stale += 1
            if not args.check:
                out.write_text(text, encoding="utf-8")
    if args.check and stale:
        print(
            f"{stale} expected file(s) out of date: run scripts/update_golden.py", file=sys.stderr
        )
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
