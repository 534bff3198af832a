"""The actuals workbook (or CSV) to fill in after a year: sheet `Actuals` with one row per
contract, scheme and party of the case already listed for the year, and a `Notes` sheet that
explains each column and gives the expected figures to compare with."""

from __future__ import annotations

import csv
import io
from pathlib import Path

from openpyxl import Workbook
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.worksheet.datavalidation import DataValidation

from gainshare.output import atomic_file
from gainshare.report.excel_case import save_atomic
from gainshare.schema.actuals import COLUMNS, KINDS, SHEET
from gainshare.schema.case import Case
from gainshare.settle.actuals import Baseline

HEADER_FILL = PatternFill("solid", fgColor="DDEBF7")
ROWS_WITH_VALIDATION = 500


def template_rows(case: Case, year: int = 1) -> list[dict]:
    """The rows of the template for one year (1-based): keys are column names."""
    label = case.horizon.labels()[year - 1]
    rows = [
        {"year": label, "kind": "contract", "id": c.id, "name": c.name or c.id}
        for c in case.contracts
    ]
    rows += [
        {"year": label, "kind": "scheme", "id": s.id, "name": s.name or s.id} for s in case.schemes
    ]
    rows += [{"year": label, "kind": "party", "id": p.id, "name": p.name} for p in case.parties]
    return rows


def notes(case: Case) -> list[list]:
    """The Notes sheet: conventions, columns, and the expected figures of every year."""
    out: list[list] = [
        [
            "Actuals of a signed agreement, to settle with `gainshare settle CASE --agreement A "
            "--actuals THIS_FILE`."
        ],
        [
            "One row per contract, scheme and party and year; money in the case's currency "
            f"({case.currency}), a year at a time (or the months to date, with --months-to-date)."
        ],
        [
            "Leave a cell empty to use the default the column states. Extra years: copy the rows "
            "and change the year."
        ],
        [],
        ["Column", "Rows", "What to enter"],
    ]
    out += [
        [c.key, ", ".join(c.kinds), c.meaning + (" (required)" if c.required else "")]
        for c in COLUMNS
    ]
    base = Baseline.of(case)
    labels = case.horizon.labels()
    out += [
        [],
        ["Expected figures (the baseline the year is settled against)"],
        [
            "Contract",
            "Unit",
            *[f"{lab} units" for lab in labels],
            *[f"{lab} payment" for lab in labels],
        ],
    ]
    for k, c in enumerate(case.contracts):
        units = [round(float(v), 2) for v in base.econ.units_exp[0, :, k]]
        pay = [round(float(v), 2) for v in base.econ.detail.exp_pay[0, :, k]]
        out.append([c.id, c.unit, *units, *pay])
    return out


def _xlsx(case: Case, year: int) -> Workbook:
    wb = Workbook()
    ws = wb.active
    ws.title = SHEET
    keys = [c.key for c in COLUMNS]
    ws.append(keys)
    for cell in ws[1]:
        cell.font, cell.fill = Font(bold=True), HEADER_FILL
    for row in template_rows(case, year):
        ws.append([row.get(k) for k in keys])
    for r in ws.iter_rows(min_row=2, max_col=1):
        r[0].data_type = "s"  # a year label is text (2026/27 is not a date)
    widths = {"A": 10, "B": 10, "C": 20, "D": 40}
    for col, w in widths.items():
        ws.column_dimensions[col].width = w
    dv = DataValidation(type="list", formula1='"' + ",".join(KINDS) + '"', allow_blank=False)
    ws.add_data_validation(dv)
    dv.add(f"B2:B{ROWS_WITH_VALIDATION}")
    ws.freeze_panes = "A2"
    nt = wb.create_sheet("Notes")
    for line in notes(case):
        nt.append(line)
    nt.column_dimensions["A"].width = 24
    nt.column_dimensions["C"].width = 90
    for row in nt.iter_rows():
        for cell in row:
            cell.alignment = Alignment(wrap_text=False, vertical="top")
    return wb


def _csv_text(case: Case, year: int) -> str:
    buf = io.StringIO()
    keys = [c.key for c in COLUMNS]
    w = csv.DictWriter(buf, fieldnames=keys, lineterminator="\n")
    w.writeheader()
    for row in template_rows(case, year):
        w.writerow(row)
    return buf.getvalue()


def write_actuals_template(case: Case, path: str | Path, year: int = 1) -> Path:
    """Write the actuals template for `year` (1-based) as .xlsx or .csv, atomically."""
    p = Path(path)
    if p.suffix.lower() == ".csv":
        with atomic_file(p) as tmp:
            tmp.write_text(_csv_text(case, year), encoding="utf-8", newline="")
        return p
    return save_atomic(_xlsx(case, year), p)


def actuals_template_problems(out: str | Path, force: bool = False) -> list[str]:
    """Why an actuals template cannot be written at `out` (empty when it can)."""
    p = Path(out)
    if p.suffix.lower() not in (".xlsx", ".csv"):
        return [f"{out}: an actuals template is .xlsx or .csv: e.g. --out actuals.xlsx"]
    if p.is_dir():
        return [f"{out}: is a folder: give a file name such as {p / 'actuals.xlsx'}"]
    if p.exists() and not force:
        return [f"{out}: already exists: choose another name, or pass --force to replace it"]
    if not p.absolute().parent.is_dir():
        return [f"{out}: folder {p.absolute().parent} does not exist: create it first"]
    return []
