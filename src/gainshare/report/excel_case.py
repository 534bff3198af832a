"""Writing the case as an Excel workbook (and the blank template) in the layout of
`schema.workbook_layout`; the Notes sheet states the conventions."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from openpyxl import Workbook
from openpyxl.comments import Comment
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.datavalidation import DataValidation
from pydantic import BaseModel

from gainshare.output import atomic_file
from gainshare.schema.case import (
    Case,
)
from gainshare.schema.workbook_layout import (
    Column,
    Sheet,
    case_sheets,
    format_param,
    model_columns,
)

TEMPLATE_ROWS = 500  # rows that carry data validation in a written workbook
HEADER_FILL = PatternFill("solid", fgColor="DDEBF7")

# ---------------------------------------------------------------- writing


def _text_cell(ws, row: int, col: int, value: str):
    cell = ws.cell(row=row, column=col)
    cell.value = value
    cell.data_type = "s"  # never a formula, whatever the text starts with
    return cell


def cell_value(col: Column, value: Any) -> Any:
    if value is None:
        return None
    if col.kind == "param":
        return format_param(value)
    if col.kind == "values":
        return format_param(value)
    if col.kind == "json":
        return json.dumps(value, ensure_ascii=False)
    return value


def _write_value(ws, row: int, col_idx: int, col: Column, value: Any) -> None:
    v = cell_value(col, value)
    if v is None:
        return
    if isinstance(v, str):
        _text_cell(ws, row, col_idx, v)
    else:
        ws.cell(row=row, column=col_idx, value=v)


def get_path(d: dict, key: str) -> Any:
    for part in key.split("."):
        if not isinstance(d, dict) or part not in d:
            return None
        d = d[part]
    return d


def _comment(col: Column) -> str:
    lines = [col.description or col.key]
    if col.unit:
        lines.append(f"Unit: {col.unit}")
    if col.choices:
        lines.append("One of: " + ", ".join(col.choices))
    if col.ref:
        lines.append(f"An id from the {col.ref} sheet")
    lines.append("Required" if col.required else "Optional: leave empty for the default")
    return "\n".join(lines)


def _validation(col: Column, sheet_cols: dict[str, list[Column]]) -> DataValidation | None:
    if col.kind == "choice":
        options = ",".join(col.choices)
        return DataValidation(
            type="list", formula1=f'"{options}"', allow_blank=True, error=f"Use one of {options}"
        )
    if col.ref and col.ref in sheet_cols:
        keys = [c.key for c in sheet_cols[col.ref]]
        key_col = "id" if "id" in keys else keys[0]
        letter = get_column_letter(keys.index(key_col) + 1)
        return DataValidation(type="list", allow_blank=True,
                              formula1=f"{col.ref}!${letter}$2:${letter}${TEMPLATE_ROWS + 1}",
                              error=f"Use an id from the {col.ref} sheet")  # fmt: skip
    if col.kind in ("number", "int"):
        kind = "whole" if col.kind == "int" else "decimal"
        if col.ge is not None and col.le is not None:
            dv = DataValidation(type=kind, operator="between", formula1=_formula_number(col.ge),
                                formula2=_formula_number(col.le))  # fmt: skip
        elif col.ge is not None:
            dv = DataValidation(type=kind, operator="greaterThanOrEqual",
                                formula1=_formula_number(col.ge))  # fmt: skip
        else:
            dv = DataValidation(type=kind, operator="between", formula1="-1E+300",
                                formula2="1E+300")  # fmt: skip
        dv.error = col.fix()
        dv.allow_blank = True
        return dv
    return None


def _add_validation(ws, col: Column, cells: str, sheet_cols) -> None:
    dv = _validation(col, sheet_cols)
    if dv is None:
        return
    dv.showErrorMessage = True
    dv.errorTitle = col.key[:32]
    ws.add_data_validation(dv)
    dv.add(cells)


def _write_table(ws, sheet: Sheet, rows: list[dict], sheet_cols) -> None:
    for j, col in enumerate(sheet.columns, start=1):
        cell = _text_cell(ws, 1, j, col.key)
        cell.font = Font(bold=True)
        cell.fill = HEADER_FILL
        cell.comment = Comment(_comment(col), "gainshare", width=320, height=140)
        letter = get_column_letter(j)
        width = max(len(col.key) + 2, 12)
        if col.kind in ("param", "text", "json"):
            width = max(width, 24)
        ws.column_dimensions[letter].width = min(width, 48)
        _add_validation(ws, col, f"{letter}2:{letter}{TEMPLATE_ROWS + 1}", sheet_cols)
        for i, row in enumerate(rows, start=2):
            _write_value(ws, i, j, col, get_path(row, col.key))
    ws.freeze_panes = "A2"


def _write_fields(ws, sheet: Sheet, values: dict, sheet_cols) -> None:
    for j, title in enumerate(("field", "value", "description"), start=1):
        cell = _text_cell(ws, 1, j, title)
        cell.font = Font(bold=True)
        cell.fill = HEADER_FILL
    ws.column_dimensions["A"].width = 22
    ws.column_dimensions["B"].width = 60
    ws.column_dimensions["C"].width = 90
    for i, col in enumerate(sheet.columns, start=2):
        _text_cell(ws, i, 1, col.key).font = Font(bold=col.required)
        _write_value(ws, i, 2, col, get_path(values, col.key))
        ws.cell(row=i, column=2).alignment = Alignment(wrap_text=col.kind == "text")
        note = col.description + (f" ({col.unit})" if col.unit else "")
        _text_cell(ws, i, 3, note + ("" if col.required else " - optional"))
        _add_validation(ws, col, f"B{i}", sheet_cols)
    ws.freeze_panes = "A2"


def _field_values(case: Case, d: dict) -> dict:
    """Top-level case fields; a nested model written as JSON text leaves out its defaults."""
    out = dict(d)
    for col in model_columns(Case):
        value = getattr(case, col.key, None) if "." not in col.key else None
        if col.kind == "json" and isinstance(value, BaseModel):
            out[col.key] = value.model_dump(mode="json", exclude_defaults=True) or None
    return out


def sheet_rows(case: Case | None) -> dict[str, Any]:
    """Each sheet's rows (table sheets) or values (field sheets) from a case dump."""
    if case is None:
        return {}
    d = case.model_dump()
    shifts, benefits = [], []
    for s in d["schemes"]:
        shifts += [{"scheme": s["id"], "direction": "from"} | m for m in s["moves_from"]]
        shifts += [{"scheme": s["id"], "direction": "to"} | m for m in s["moves_to"]]
        benefits += [{"scheme": s["id"]} | b for b in s["benefits"]]
    named = d["uncertainty"]["named"]
    values = [
        {"scenario": n["name"], "parameter": k, "values": v}
        for n in named
        for k, v in n["values"].items()
    ]
    return {
        "Case": _field_values(case, d),
        "Parties": d["parties"],
        "Contracts": d["contracts"],
        "Schemes": d["schemes"],
        "ActivityShifts": shifts,
        "Benefits": benefits,
        "QualityScores": [{"provider": k, "score": v} for k, v in d["quality_scores"].items()],
        "Uncertainty": d["uncertainty"],
        "NamedScenarios": named,
        "NamedScenarioValues": values,
        "KeepWhole": [{"party": k} | v for k, v in d["keep_whole"].items()],
    }  # fmt: skip


def notes_lines() -> list[str]:
    return [
        "gainshare case workbook",
        "",
        "Each sheet is one table of the case; row 1 holds the column names (hover over a name "
        "for its meaning and unit). Case and Uncertainty list one field per row.",
        "Money is in pounds of the case currency (or its units for USD/EUR), a year at a time. "
        "Shares are fractions 0..1: 0.25 means 25% (a cell formatted as a percentage is fine).",
        "Leave a cell empty to take the default. Ids start with a letter and use letters, "
        "digits, _ or -.",
        "",
        "Uncertain parameters (columns marked 'a number, a distribution, or a list'):",
        "  0.65                            a known value",
        "  fixed(0.65)                     a known value, written as a distribution",
        "  uniform(0.6, 1)                 uniform between low and high",
        "  triangular(0.45, 0.65, 0.8)     low, most likely, high",
        "  normal(100, 15)                 mean and standard deviation",
        "  normal(100, 15, 70, 130)        truncated below 70 and above 130 "
        "(or normal(100, 15, low=70))",
        "  discrete(0.4, 0.6, 0.8; 0.25, 0.5, 0.25)   values ; probabilities (sum to 1)",
        "  [0.5, 0.8, 1]                   one value per year of the horizon; each item may be "
        "a distribution, e.g. [uniform(0.4, 0.7), uniform(0.65, 0.95), 1]",
        "",
        "ActivityShifts: each scheme needs at least one 'from' row (acute activity avoided per "
        "targeted, non-escalated patient); 'to' rows add activity elsewhere per referred "
        "patient.",
        "NamedScenarioValues: one row per parameter a named scenario sets; a value is a number "
        "or one per year as [a, b, c].",
        "Case: requirements and levers for design are JSON text (as in the YAML case file).",
        "",
        "Check the workbook with: gainshare validate case.xlsx",
    ]


def _write_notes(ws, sheets: list[Sheet]) -> None:
    ws.column_dimensions["A"].width = 24
    ws.column_dimensions["B"].width = 34
    ws.column_dimensions["C"].width = 100
    row = 1
    for line in notes_lines():
        _text_cell(ws, row, 1, line).font = Font(bold=row == 1, size=14 if row == 1 else 11)
        row += 1
    row += 1
    for j, title in enumerate(("sheet", "column", "meaning"), start=1):
        _text_cell(ws, row, j, title).font = Font(bold=True)
    for sheet in sheets:
        row += 1
        _text_cell(ws, row, 1, sheet.name).font = Font(bold=True)
        _text_cell(ws, row, 3, sheet.note + (" (required sheet)" if sheet.required else ""))
        for col in sheet.columns:
            row += 1
            extra = [col.unit] if col.unit else []
            extra += ["one of " + ", ".join(col.choices)] if col.choices else []
            extra += [f"id from {col.ref}"] if col.ref else []
            text = col.description + (f" [{'; '.join(extra)}]" if extra else "")
            _text_cell(ws, row, 2, col.key)
            _text_cell(ws, row, 3, text)


def build_case_workbook(case: Case | None = None) -> Workbook:
    """The case workbook (a blank template when `case` is None)."""
    sheets = case_sheets()
    sheet_cols = {s.name: s.columns for s in sheets}
    rows = sheet_rows(case)
    wb = Workbook()
    _write_notes(wb.active, sheets)
    wb.active.title = "Notes"
    for sheet in sheets:
        ws = wb.create_sheet(sheet.name)
        if sheet.layout == "fields":
            _write_fields(ws, sheet, rows.get(sheet.name, {}), sheet_cols)
        else:
            _write_table(ws, sheet, rows.get(sheet.name, []), sheet_cols)
    return wb


def _formula_number(v: float) -> str:
    """A bound as Excel reads it in a validation formula: 1000000000000, 0.5."""
    return str(int(v)) if float(v).is_integer() else repr(float(v))


def save_atomic(wb: Workbook, path: str | Path, force: bool = True, option: str = "--out") -> Path:
    """Save next to the destination, then move into place: never a half-written file, nothing
    left behind (see `gainshare.output`)."""
    with atomic_file(path, option, force) as tmp:
        wb.save(tmp)
    return Path(path)


def write_case_workbook(case: Case | None, path: str | Path, force: bool = True) -> Path:
    """Write `case` (or a blank template) as an Excel workbook at `path`."""
    return save_atomic(build_case_workbook(case), path, force)
