"""The case as an Excel workbook: one sheet per table, written from the case schema and read
back into the same Case.

Columns come from the pydantic models themselves (a nested model such as `costs.stepped`
becomes columns `costs.stepped.cost_per_step`, ...), so the workbook follows the schema and
YAML -> workbook -> YAML gives an equal case. Uncertain parameters are written as a number or
as compact text (`triangular(0.45, 0.65, 0.8)`, `[0.4, 0.65, 0.8]` for one value per year); the
Notes sheet states the convention. Every problem is reported as
`FILE: sheet S, cell C (column): what is wrong: fix`."""

from __future__ import annotations

import difflib
import json
import os
import re
import tempfile
import types
import typing
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import yaml
from openpyxl import Workbook, load_workbook
from openpyxl.comments import Comment
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.datavalidation import DataValidation
from pydantic import BaseModel

from gainshare.schema.case import (
    ActivityShift,
    Benefit,
    Case,
    Contract,
    KeepWhole,
    NamedScenario,
    Party,
    Scheme,
    Uncertainty,
)
from gainshare.schema.common import Param
from gainshare.schema.io import InputError, case_from_mapping, input_file_size

MAX_ROWS = 10_000  # rows per sheet read from a case workbook
MAX_UNPACKED_BYTES = 100 * 1024 * 1024  # a workbook is a zip: refuse one that unpacks huge
TEMPLATE_ROWS = 500  # rows that carry data validation in a written workbook
DISTRIBUTIONS = {
    "fixed": ("value",),
    "uniform": ("low", "high"),
    "triangular": ("low", "mode", "high"),
    "normal": ("mean", "sd", "low", "high"),
    "discrete": ("values", "probs"),
}
HEADER_FILL = PatternFill("solid", fgColor="DDEBF7")


# ---------------------------------------------------------------- columns from the schema


@dataclass(frozen=True)
class Column:
    """One column of a table sheet (or one row of a field/value sheet)."""

    key: str  # header, and dotted path inside the row's mapping
    kind: str  # text, id, choice, number, int, bool, param, values, json
    description: str = ""
    required: bool = False
    choices: tuple[str, ...] = ()
    ge: float | None = None
    le: float | None = None
    ref: str | None = None  # sheet whose id column lists the allowed values

    @property
    def unit(self) -> str:
        d = self.description.lower()
        if self.kind in ("number", "param") and "pound" in d:
            return "pounds"
        if self.ge == 0 and self.le == 1:
            return "fraction 0..1 (0.25 = 25%)"
        return ""

    def fix(self) -> str:
        """How to write a value of this column, for error messages."""
        if self.kind == "int":
            return "enter a whole number"
        if self.kind == "param":
            what = "pounds as a number" if self.unit == "pounds" else "a number"
            return f"enter {what} or a distribution such as triangular(0.45, 0.65, 0.8)"
        if self.kind == "values":
            return "enter a number, or one per year as [0.4, 0.65, 0.8]"
        if self.unit == "pounds":
            return "enter pounds as a number"
        if self.unit.startswith("fraction"):
            return "enter a fraction 0..1 as a number (0.25 for 25%)"
        return "enter a number"


def _unwrap(ann: Any) -> tuple[Any, bool, list]:
    """(inner type, optional?, constraint metadata) of an annotation."""
    optional, meta = False, []
    if isinstance(ann, types.UnionType) or typing.get_origin(ann) is typing.Union:
        args = [a for a in typing.get_args(ann) if a is not type(None)]
        if len(args) == 1 and len(args) < len(typing.get_args(ann)):
            optional, ann = True, args[0]
    if typing.get_origin(ann) is typing.Annotated:
        base, *extra = typing.get_args(ann)
        for e in extra:
            meta.extend(getattr(e, "metadata", [e]))
        ann = base
    return ann, optional, meta


def _is_model(ann: Any) -> bool:
    return isinstance(ann, type) and issubclass(ann, BaseModel)


def _flattenable(model: type[BaseModel]) -> bool:
    """A nested model becomes columns when every field is a plain value or such a model."""
    for f in model.model_fields.values():
        ann, _, _ = _unwrap(f.annotation)
        if _is_model(ann):
            if not _flattenable(ann):
                return False
        elif _leaf_kind(ann) == "json":
            return False
    return True


def _leaf_kind(ann: Any) -> str:
    if ann == Param:
        return "param"
    if typing.get_origin(ann) is Literal:
        return "choice"
    simple = {bool: "bool", int: "int", float: "number", str: "text"}
    return simple.get(ann, "json") if isinstance(ann, type) else "json"


def _bounds(meta: list) -> tuple[float | None, float | None]:
    ge = le = None
    for m in meta:
        ge = getattr(m, "ge", None) if getattr(m, "ge", None) is not None else ge
        le = getattr(m, "le", None) if getattr(m, "le", None) is not None else le
    return ge, le


REFS = {
    "commissioner": "Parties",
    "provider": "Parties",
    "party": "Parties",
    "paid_directly_by": "Parties",
    "contract": "Contracts",
    "scheme": "Schemes",
    "scenario": "NamedScenarios",
}


def _leaf(key: str, name: str, f, required: bool) -> Column:
    ann, _, meta = _unwrap(f.annotation)
    meta = list(f.metadata) + meta
    kind = _leaf_kind(ann)
    choices = tuple(typing.get_args(ann)) if kind == "choice" else ()
    if kind == "text" and any(getattr(m, "pattern", None) for m in meta):
        kind = "id"
    ge, le = _bounds(meta)
    desc = f.description or ""
    ref = REFS.get(name) if kind == "id" else None
    return Column(key, kind, desc, required, choices, ge, le, ref)


def model_columns(
    model: type[BaseModel], prefix: str = "", exclude: tuple[str, ...] = (), required=True
) -> list[Column]:
    """Columns of a model, nested plain models flattened to dotted keys."""
    out: list[Column] = []
    for name, f in model.model_fields.items():
        if name in exclude:
            continue
        ann, optional, _ = _unwrap(f.annotation)
        req = required and f.is_required() and not optional
        if _is_model(ann) and _flattenable(ann):
            out += model_columns(ann, f"{prefix}{name}.", (), req)
        else:
            out.append(_leaf(prefix + name, name, f, req))
    return out


def _id(key: str, ref: str | None, desc: str) -> Column:
    return Column(key, "id", desc, True, ref=ref)


@dataclass(frozen=True)
class Sheet:
    name: str
    columns: list[Column]
    layout: str = "table"  # table: header row then one row per item; fields: field/value rows
    note: str = ""
    required: bool = False


def case_sheets() -> list[Sheet]:
    """The sheets of a case workbook, in order."""
    top = ("parties", "contracts", "schemes", "quality_scores", "uncertainty", "keep_whole")
    shift = [
        _id("scheme", "Schemes", "Scheme id (Schemes sheet)"),
        Column("direction", "choice", "from: acute activity avoided per targeted, "
               "non-escalated patient; to: activity added elsewhere per referred patient",
               True, ("from", "to")),
    ]  # fmt: skip
    return [
        Sheet("Case", model_columns(Case, exclude=top), "fields", "Title, currency, horizon; "
              "requirements and levers for design as JSON text", True),
        Sheet("Parties", model_columns(Party), note="One row per organisation", required=True),
        Sheet("Contracts", model_columns(Contract), note="One row per contract (service line) "
              "with the provider's costs of that line", required=True),
        Sheet("Schemes", model_columns(Scheme, exclude=("moves_from", "moves_to", "benefits")),
              note="One row per care-model change"),
        Sheet("ActivityShifts", shift + model_columns(ActivityShift),
              note="Activity each scheme moves: one row per contract, 'from' and 'to'"),
        Sheet("Benefits", [_id("scheme", "Schemes", "Scheme id (Schemes sheet)")]
              + model_columns(Benefit), note="Benefits booked outside health, per scheme"),
        Sheet("QualityScores", [
            _id("provider", "Parties", "Provider id (Parties sheet)"),
            Column("score", "param", "Quality/outcome score 0..100 used by a quality gateway "
                   "(a number, a distribution, or a list with one per year)", True),
        ], note="Quality scores of providers"),
        Sheet("Uncertainty", model_columns(Uncertainty, exclude=("named",)), "fields",
              "Monte Carlo scenarios and seed"),
        Sheet("NamedScenarios", model_columns(NamedScenario, exclude=("values",)),
              note="Named scenarios and their weights"),
        Sheet("NamedScenarioValues", [
            _id("scenario", "NamedScenarios", "Named scenario (NamedScenarios sheet)"),
            Column("parameter", "text", "Parameter path, as listed by `gainshare validate "
                   "--parameters`", True),
            Column("values", "values", "Value in that scenario: a number, or one per year as "
                   "[a, b, c]", True),
        ], note="Parameter values of each named scenario; parameters not listed take their "
           "central value"),
        Sheet("KeepWhole", [_id("party", "Parties", "Party id (Parties sheet)")]
              + model_columns(KeepWhole), note="Keep-whole requirement per party"),
    ]  # fmt: skip


# ---------------------------------------------------------------- uncertain parameters as text


def format_number(x: float) -> str:
    """Shortest text that reads back as the same float."""
    x = float(x)
    if x.is_integer() and abs(x) < 1e15:
        return str(int(x))
    return repr(x)


def _format_dist(d: dict) -> str:
    kind = d["dist"]
    if kind == "discrete":
        vals = ", ".join(format_number(v) for v in d["values"])
        probs = ", ".join(format_number(p) for p in d["probs"])
        return f"discrete({vals}; {probs})"
    names = [n for n in DISTRIBUTIONS[kind] if d.get(n) is not None]
    if kind == "normal" and names not in (["mean", "sd"], ["mean", "sd", "low", "high"]):
        args = [format_number(d["mean"]), format_number(d["sd"])]
        args += [f"{n}={format_number(d[n])}" for n in ("low", "high") if d.get(n) is not None]
    else:
        args = [format_number(d[n]) for n in names]
    return f"{kind}({', '.join(args)})"


def format_param(value: Any) -> float | str:
    """A parameter as a cell value: a number stays a number, anything else becomes text."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    if isinstance(value, list):
        return "[" + ", ".join(_format_scalar(v) for v in value) + "]"
    return _format_dist(value)


def _format_scalar(v: Any) -> str:
    return format_number(v) if isinstance(v, int | float) else _format_dist(v)


_TOKEN = re.compile(
    r"\s*(?:(?P<num>[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)|(?P<name>[A-Za-z_]+)"
    r"|(?P<sym>[()\[\],;=]))"
)


class ParamTextError(ValueError):
    pass


def _tokens(text: str) -> list[tuple[str, str]]:
    out, pos = [], 0
    text = text.strip()
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if not m or m.end() == pos:
            raise ParamTextError(f"cannot read {text[pos : pos + 12]!r}")
        kind = m.lastgroup or "sym"
        out.append((kind, m.group(kind)))
        pos = m.end()
        while pos < len(text) and text[pos].isspace():
            pos += 1
    return out


_THOUSANDS = re.compile(r"[-+]?\d{1,3}(,\d{3})+(\.\d*)?")


def _to_number(s: str) -> float:
    """A plain number, thousands separators allowed (2,200.50); never inf or nan."""
    s = s.strip()
    if _THOUSANDS.fullmatch(s):
        s = s.replace(",", "")
    if not re.fullmatch(r"[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?", s):
        raise ParamTextError(f"{s!r} is not a number")
    return float(s)


class _Parser:
    """number | dist(args) | [item, item, ...] with dist one of DISTRIBUTIONS."""

    def __init__(self, text: str):
        self.toks = _tokens(text)
        self.i = 0

    def peek(self) -> tuple[str, str] | None:
        return self.toks[self.i] if self.i < len(self.toks) else None

    def take(self, want: str | None = None) -> tuple[str, str]:
        tok = self.peek()
        if tok is None:
            raise ParamTextError("the text ends too early")
        if want is not None and tok[1] != want:
            raise ParamTextError(f"expected '{want}' but found '{tok[1]}'")
        self.i += 1
        return tok

    def param(self, allow_list: bool = True):
        tok = self.peek()
        if tok is not None and tok[1] == "[" and allow_list:
            self.take("[")
            items = [self.param(False)]
            while self.peek() is not None and self.peek()[1] == ",":
                self.take(",")
                items.append(self.param(False))
            self.take("]")
            return items
        kind, val = self.take()
        if kind == "num":
            return _to_number(val)
        if kind == "name":
            return self.dist(val.lower())
        raise ParamTextError(f"unexpected '{val}'")

    def numbers(self, stop: set[str]) -> tuple[list[float], dict[str, float]]:
        pos: list[float] = []
        kw: dict[str, float] = {}
        while True:
            kind, val = self.take()
            if kind == "name":
                self.take("=")
                kw[val.lower()] = _to_number(self.take()[1])
            elif kind == "num":
                pos.append(_to_number(val))
            else:
                raise ParamTextError(f"expected a number but found '{val}'")
            sep = self.take()[1]
            if sep in stop:
                return pos, kw
            if sep != ",":
                raise ParamTextError(f"expected ',' but found '{sep}'")

    def dist(self, name: str) -> dict:
        if name not in DISTRIBUTIONS:
            near = difflib.get_close_matches(name, list(DISTRIBUTIONS), n=1)
            hint = f" (did you mean {near[0]}?)" if near else ""
            raise ParamTextError(f"unknown distribution '{name}'{hint}")
        self.take("(")
        if name == "discrete":
            values, _ = self.numbers({";"})
            probs, _ = self.numbers({")"})
            return {"dist": "discrete", "values": values, "probs": probs}
        pos, kw = self.numbers({")"})
        fields = DISTRIBUTIONS[name]
        needed = 2 if name == "normal" else len(fields)
        out: dict[str, Any] = {"dist": name}
        if len(pos) > len(fields) or len(pos) + len(kw) < needed:
            raise ParamTextError(f"{name} takes {', '.join(fields[:needed])} ({needed} numbers)")
        out.update(zip(fields, pos, strict=False))
        for k, v in kw.items():
            if k not in fields or k in out:
                raise ParamTextError(f"{name} has no argument '{k}' or gives it twice")
            out[k] = v
        return out


def parse_param(text: str, allow_dist: bool = True) -> Any:
    """Read the text form of a parameter into what the schema takes (number, mapping, list)."""
    if _THOUSANDS.fullmatch(text.strip()):
        return _to_number(text)
    p = _Parser(text)
    value = p.param()
    if p.peek() is not None:
        raise ParamTextError(f"unexpected '{p.peek()[1]}' after the value")
    if not allow_dist:
        items = value if isinstance(value, list) else [value]
        if any(isinstance(v, dict) for v in items):
            raise ParamTextError("a named scenario takes numbers, not distributions")
    return value


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
            dv = DataValidation(type=kind, operator="between", formula1=str(col.ge),
                                formula2=str(col.le))  # fmt: skip
        elif col.ge is not None:
            dv = DataValidation(type=kind, operator="greaterThanOrEqual", formula1=str(col.ge))
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


def save_atomic(wb: Workbook, path: str | Path) -> Path:
    """Save next to the destination, then move into place: never a half-written file."""
    p = Path(path)
    with tempfile.NamedTemporaryFile(dir=p.parent, suffix=".xlsx", delete=False) as tmp:
        tmp_path = Path(tmp.name)
    try:
        wb.save(tmp_path)
        umask = os.umask(0)
        os.umask(umask)
        tmp_path.chmod(0o666 & ~umask)
        tmp_path.replace(p)
    finally:
        tmp_path.unlink(missing_ok=True)
    return p


def write_case_workbook(case: Case | None, path: str | Path) -> Path:
    """Write `case` (or a blank template) as an Excel workbook at `path`."""
    return save_atomic(build_case_workbook(case), path)


# ---------------------------------------------------------------- reading


@dataclass
class Reader:
    """Collects problems and where each field of the assembled mapping came from."""

    file: str
    problems: list[str] = field(default_factory=list)
    where: dict[str, str] = field(default_factory=dict)  # field path -> 'sheet S, cell C (key)'

    def problem(self, place: str, text: str) -> None:
        self.problems.append(f"{self.file}: {place}: {text}")


def _open_workbook(path: str | Path, name: str):
    p = Path(path)
    if input_file_size(p, name, ".xlsx workbook") == 0:
        raise InputError([f"{name}: file is empty: start from `gainshare template --out {name}`"])
    not_xlsx = (
        f"{name}: is not an Excel workbook (.xlsx): save it from Excel as 'Excel Workbook "
        "(.xlsx)', or start from `gainshare template`"
    )
    if not zipfile.is_zipfile(p):
        raise InputError([not_xlsx])
    _check_zip(p, name, not_xlsx)
    try:
        formulas = load_workbook(p, data_only=False)
        values = None
        if any(c.data_type == "f" for ws in formulas.worksheets for r in ws.iter_rows()
               for c in r):  # fmt: skip
            values = load_workbook(p, data_only=True)
    except Exception:  # noqa: BLE001 - any parser failure means the file is not a workbook
        raise InputError([not_xlsx]) from None
    return formulas, values


def _check_zip(p: Path, name: str, not_xlsx: str) -> None:
    """Refuse zip bombs and XML with entity declarations before any XML parser sees them."""
    try:
        with zipfile.ZipFile(p) as z:
            infos = z.infolist()
            if sum(i.file_size for i in infos) > MAX_UNPACKED_BYTES:
                raise InputError(
                    [f"{name}: unpacks to more than {MAX_UNPACKED_BYTES:,} bytes: not a case "
                     "workbook; start from `gainshare template`"]
                )  # fmt: skip
            if "xl/workbook.xml" not in {i.filename for i in infos}:
                raise InputError([not_xlsx])
            for i in infos:
                data = z.read(i) if i.filename.endswith((".xml", ".rels", ".vml")) else b""
                if b"<!DOCTYPE" in data or b"<!ENTITY" in data:
                    raise InputError(
                        [f"{name}: {i.filename} declares a DTD or XML entities, which a workbook "
                         "never needs: save the workbook again from Excel"]
                    )  # fmt: skip
    except zipfile.BadZipFile:
        raise InputError([not_xlsx]) from None


def _raw(ws, vws, cell) -> tuple[Any, str | None]:
    """Cell value (cached result for a formula) and a problem, if any."""
    if cell.data_type == "f":
        v = vws[cell.coordinate].value if vws is not None else None
        if v is None:
            return None, (
                "holds a formula with no saved result: open and save the workbook in Excel, or "
                "type the value"
            )
        return v, None
    return cell.value, None


def _convert(col: Column, v: Any) -> Any:
    """Cell value -> schema value; raises ValueError with the message tail."""
    import datetime as dt

    if isinstance(v, dt.date | dt.datetime | dt.time):
        raise ValueError(f"is a date, not a value: {col.fix()}")
    if col.kind in ("text", "id"):
        if isinstance(v, float) and v.is_integer():
            v = int(v)
        return str(v).strip() if col.kind == "id" else str(v)
    if col.kind == "choice":
        s = str(v).strip()
        if s not in col.choices:
            raise ValueError(
                f"{s!r} is not one of {', '.join(col.choices)}: pick one from the list"
            )
        return s
    if col.kind == "bool":
        if isinstance(v, bool):
            return v
        s = str(v).strip().lower()
        if s in ("true", "yes", "1", "false", "no", "0"):
            return s in ("true", "yes", "1")
        raise ValueError(f"{v!r} is not TRUE or FALSE: enter TRUE or FALSE")
    if col.kind == "json":
        return _json_cell(v)
    return _convert_number(col, v)


def _json_cell(v: Any) -> Any:
    try:
        out = yaml.safe_load(str(v))
    except yaml.YAMLError:
        raise ValueError(
            'is not valid JSON text: write it as in the YAML case, e.g. {"objective": '
            '"commissioners"}'
        ) from None
    if not isinstance(out, dict):
        raise ValueError("should be a mapping in braces {...}: write it as JSON text")
    return out


def _convert_number(col: Column, v: Any) -> Any:
    if isinstance(v, bool):
        raise ValueError(f"is {str(v).upper()}, not a number: {col.fix()}")
    if isinstance(v, int | float):
        return _whole(col, v) if col.kind == "int" else float(v)
    s = str(v).strip()
    try:
        if col.kind in ("param", "values"):
            return parse_param(s, allow_dist=col.kind == "param")
        out = _to_number(s)
    except (ParamTextError, ValueError) as e:
        if col.kind in ("param", "values") and not re.fullmatch(r"[-+\d.,eE\s]+", s):
            msg = f"{s!r} cannot be read ({e}): {col.fix()} (see the Notes sheet)"
            raise ValueError(msg) from None
        raise ValueError(f"{s!r} is not a number: {col.fix()}") from None
    return _whole(col, out) if col.kind == "int" else out


def _whole(col: Column, v: float) -> int:
    if float(v) != int(v):
        raise ValueError(f"{v!r} is not a whole number: {col.fix()}")
    return int(v)


def _set(d: dict, key: str, value: Any) -> None:
    parts = key.split(".")
    for part in parts[:-1]:
        d = d.setdefault(part, {})
    d[parts[-1]] = value


def _header(ws, sheet: Sheet, rd: Reader) -> dict[int, Column] | None:
    """Column index -> Column from row 1; reports unknown, repeated and missing headers."""
    known = {c.key: c for c in sheet.columns}
    found: dict[int, Column] = {}
    seen: dict[str, str] = {}
    for cell in next(ws.iter_rows(min_row=1, max_row=1), ()):
        if cell.value is None or not str(cell.value).strip():
            continue
        name = str(cell.value).strip()
        place = f"sheet {sheet.name}, cell {cell.coordinate}"
        if name in seen:
            rd.problem(place, f"column '{name}' appears twice (also {seen[name]}): keep one")
        elif name not in known:
            near = difflib.get_close_matches(name, list(known), n=1, cutoff=0.6)
            hint = f"rename it to '{near[0]}'" if near else "remove it"
            rd.problem(place, f"column '{name}' is not a column of {sheet.name}: {hint} "
                       "(the Notes sheet lists the columns)")  # fmt: skip
        else:
            found[cell.column] = known[name]
            seen[name] = cell.coordinate
    for c in sheet.columns:
        if c.required and c.key not in seen:
            rd.problem(f"sheet {sheet.name}, row 1", f"column '{c.key}' is missing: add a "
                       f"header '{c.key}' in row 1 (see gainshare template)")  # fmt: skip
    return found


@dataclass
class Row:
    number: int
    values: dict[str, Any]  # column key -> converted value (empty cells left out)
    places: dict[str, str]  # column key -> 'sheet S, cell C (key)'


def _read_table(ws, vws, sheet: Sheet, rd: Reader) -> list[Row]:
    cols = _header(ws, sheet, rd)
    rows: list[Row] = []
    stray: dict[str, list[str]] = {}  # column letter -> cells with a value but no header
    for cells in ws.iter_rows(min_row=2):
        values: dict[str, Any] = {}
        places = {}
        empty = True
        for cell in cells:
            col = cols.get(cell.column)
            if col is None:
                if cell.value is not None and str(cell.value).strip():
                    stray.setdefault(cell.column_letter, []).append(cell.coordinate)
                continue
            place = f"sheet {sheet.name}, cell {cell.coordinate} ({col.key})"
            places[col.key] = place
            v = _cell(ws, vws, cell, col, place, rd)
            if v is not _EMPTY:
                empty = False
                if v is not _BAD:
                    values[col.key] = v
        if not empty:
            rows.append(Row(cells[0].row, values, places))
    for letter, where in stray.items():
        span = where[0] if len(where) == 1 else f"{where[0]}:{where[-1]}"
        rd.problem(f"sheet {sheet.name}, cells {span}", f"column {letter} has values but no "
                   "header: add the column name in row 1, or clear the column")  # fmt: skip
    return rows


_EMPTY, _BAD = object(), object()


def _cell(ws, vws, cell, col: Column, place: str, rd: Reader) -> Any:
    raw, trouble = _raw(ws, vws, cell)
    if trouble:
        rd.problem(place, trouble)
        return _BAD
    if raw is None or (isinstance(raw, str) and not raw.strip()):
        return _EMPTY
    try:
        return _convert(col, raw)
    except ValueError as e:
        rd.problem(place, str(e))
        return _BAD


def _read_fields(ws, vws, sheet: Sheet, rd: Reader) -> tuple[dict, dict[str, str]]:
    """Field/value sheet -> nested mapping and the place of each field."""
    known = {c.key: c for c in sheet.columns}
    out: dict = {}
    places = {c.key: f"sheet {sheet.name} (field {c.key})" for c in sheet.columns}
    seen: set[str] = set()
    for cells in ws.iter_rows(min_row=2, max_col=2):
        key_cell, val_cell = cells[0], cells[1] if len(cells) > 1 else None
        name = str(key_cell.value).strip() if key_cell.value is not None else ""
        if not name:
            continue
        place = f"sheet {sheet.name}, cell {key_cell.coordinate}"
        if name not in known:
            near = difflib.get_close_matches(name, list(known), n=1, cutoff=0.6)
            hint = f"rename it to '{near[0]}'" if near else "remove the row"
            rd.problem(place, f"'{name}' is not a field of {sheet.name}: {hint}")
            continue
        if name in seen:
            rd.problem(place, f"field '{name}' is listed twice: keep one row")
            continue
        seen.add(name)
        if val_cell is None:
            continue
        vplace = f"sheet {sheet.name}, cell {val_cell.coordinate} ({name})"
        places[name] = vplace
        v = _cell(ws, vws, val_cell, known[name], vplace, rd)
        if v is not _EMPTY and v is not _BAD:
            _set(out, name, v)
    return out, places


def _sheets(formulas, rd: Reader) -> dict[str, Sheet]:
    specs = {s.name: s for s in case_sheets()}
    names = formulas.sheetnames
    if not set(names) & set(specs):
        rd.problems.append(
            f"{rd.file}: the workbook has none of the case sheets (" + ", ".join(specs) + "): "
            "use gainshare template to start from a complete workbook"
        )
        return {}
    for n in names:
        if n not in specs and n != "Notes":
            near = difflib.get_close_matches(n, list(specs), n=1, cutoff=0.6)
            hint = f"rename it to {near[0]}" if near else "remove it or move it to another file"
            rd.problems.append(f"{rd.file}: sheet {n} is not a sheet of a case workbook: {hint}")
    for s in specs.values():
        if s.required and s.name not in names:
            rd.problems.append(
                f"{rd.file}: sheet {s.name} is missing: use gainshare template to start from a "
                "complete workbook"
            )
    for n in names:
        ws = formulas[n]
        if n in specs and ws.max_row > MAX_ROWS:
            rd.problem(f"sheet {n}", f"has {ws.max_row:,} rows, over the limit of "
                       f"{MAX_ROWS:,}: remove unused rows")  # fmt: skip
    return {n: specs[n] for n in names if n in specs}


def _place_rows(rd: Reader, path: str, row: Row, sheet: str) -> None:
    rd.where[path] = f"sheet {sheet}, row {row.number}"
    for key, place in row.places.items():
        rd.where[f"{path}.{key}"] = place


def _nested(values: dict[str, Any]) -> dict:
    out: dict = {}
    for k, v in values.items():
        _set(out, k, v)
    return out


def _check_refs(tables: dict[str, list[Row]], specs: dict[str, Sheet], rd: Reader) -> None:
    """Every id column that names a party, contract, scheme or scenario names one that exists."""
    ids = {
        "Parties": [r.values.get("id") for r in tables.get("Parties", [])],
        "Contracts": [r.values.get("id") for r in tables.get("Contracts", [])],
        "Schemes": [r.values.get("id") for r in tables.get("Schemes", [])],
        "NamedScenarios": [r.values.get("name") for r in tables.get("NamedScenarios", [])],
    }
    for name, rows in tables.items():
        for col in specs[name].columns:
            if not col.ref:
                continue
            known = [i for i in ids.get(col.ref, []) if i is not None]
            for r in rows:
                v = r.values.get(col.key)
                if v is None or v in known:
                    continue
                near = difflib.get_close_matches(str(v), [str(k) for k in known], n=1)
                hint = f" (did you mean '{near[0]}'?)" if near else ""
                what = {"Parties": "party", "Contracts": "contract", "Schemes": "scheme",
                        "NamedScenarios": "named scenario"}[col.ref]  # fmt: skip
                rd.problem(r.places[col.key], f"'{v}' is not a {what} on the {col.ref} sheet"
                           f"{hint}: fix the id or add it to {col.ref}")  # fmt: skip
                r.values.pop(col.key)


def _assemble(tables: dict[str, list[Row]], fields: dict[str, dict], rd: Reader) -> dict:
    data: dict = dict(fields.get("Case", {}))
    unc = dict(fields.get("Uncertainty", {}))
    for key, sheet in (("parties", "Parties"), ("contracts", "Contracts"), ("schemes", "Schemes")):
        rd.where[key] = f"sheet {sheet}"
        data[key] = []
        for i, row in enumerate(tables.get(sheet, [])):
            _place_rows(rd, f"{key}[{i}]", row, sheet)
            data[key].append(_nested(row.values))
    if "Schemes" not in tables:
        del data["schemes"]
    _attach_scheme_rows(data.get("schemes", []), tables, rd)
    _keyed(data, "quality_scores", tables, "QualityScores", "provider", rd)
    _keyed(data, "keep_whole", tables, "KeepWhole", "party", rd)
    if "NamedScenarios" in tables:
        unc["named"] = _named(tables, rd)
    if unc or "Uncertainty" in fields:
        data["uncertainty"] = unc
    return data


def _attach_scheme_rows(schemes: list[dict], tables: dict[str, list[Row]], rd: Reader) -> None:
    index = {s.get("id"): i for i, s in enumerate(schemes)}
    for s in schemes:
        s.setdefault("moves_from", [])
    for row in tables.get("ActivityShifts", []):
        i = index.get(row.values.get("scheme"))
        direction = row.values.get("direction")
        if i is None or direction is None:
            continue
        key = "moves_from" if direction == "from" else "moves_to"
        lst = schemes[i].setdefault(key, [])
        item = {k: v for k, v in row.values.items() if k not in ("scheme", "direction")}
        _place_rows(rd, f"schemes[{i}].{key}[{len(lst)}]", row, "ActivityShifts")
        lst.append(_nested(item))
    for row in tables.get("Benefits", []):
        i = index.get(row.values.get("scheme"))
        if i is None:
            continue
        lst = schemes[i].setdefault("benefits", [])
        _place_rows(rd, f"schemes[{i}].benefits[{len(lst)}]", row, "Benefits")
        lst.append(_nested({k: v for k, v in row.values.items() if k != "scheme"}))
    for i, s in enumerate(schemes):
        if not s["moves_from"]:
            rd.where[f"schemes[{i}].moves_from"] = (
                f"sheet ActivityShifts (scheme {s.get('id')}, direction from)"
            )


def _keyed(data: dict, key: str, tables, sheet: str, id_col: str, rd: Reader) -> None:
    if sheet not in tables:
        return
    out: dict = {}
    for row in tables[sheet]:
        pid = row.values.get(id_col)
        if pid is None:
            if id_col in row.places:
                rd.problem(row.places[id_col], f"is empty: give the {id_col} id")
            continue
        if pid in out:
            rd.problem(row.places[id_col], f"'{pid}' has two rows: keep one")
            continue
        rest = {k: v for k, v in row.values.items() if k != id_col}
        out[pid] = rest.get("score") if sheet == "QualityScores" else _nested(rest)
        if sheet == "QualityScores" and out[pid] is None:
            del out[pid]
            rd.problem(row.places.get("score", f"sheet {sheet}, row {row.number}"),
                       "is empty: give the score")  # fmt: skip
            continue
        rd.where[f"{key}.{pid}"] = row.places.get("score", row.places[id_col])
        for k, place in row.places.items():
            rd.where[f"{key}.{pid}.{k}"] = place
    data[key] = out


def _named(tables, rd: Reader) -> list[dict]:
    named = []
    index = {}
    for i, row in enumerate(tables["NamedScenarios"]):
        _place_rows(rd, f"uncertainty.named[{i}]", row, "NamedScenarios")
        item = _nested(row.values)
        item["values"] = {}
        index.setdefault(item.get("name"), item)
        named.append(item)
    for row in tables.get("NamedScenarioValues", []):
        item = index.get(row.values.get("scenario"))
        param = row.values.get("parameter")
        if item is None or param is None or "values" not in row.values:
            continue
        if param in item["values"]:
            rd.problem(row.places["parameter"], f"'{param}' is set twice for this scenario: "
                       "keep one row")  # fmt: skip
            continue
        item["values"][param] = row.values["values"]
        i = named.index(item)
        rd.where[f"uncertainty.named[{i}].values.{param}"] = row.places["values"]
    return named


_PATH = re.compile(r"^((?:[A-Za-z_][\w\-]*|\[\d+\])(?:\.[A-Za-z_][\w\-]*|\[\d+\])*)")


def _locate(line: str, rd: Reader) -> str:
    """Rewrite a schema problem `FILE: path: message` to name the sheet and cell."""
    prefix = f"{rd.file}: "
    rest = line[len(prefix) :] if line.startswith(prefix) else line
    if rest.startswith("(top level): "):
        rest = rest[len("(top level): ") :]
    m = _PATH.match(rest)
    if not m:
        return line
    path = m.group(1)
    tail = rest[m.end() :].lstrip(":").lstrip()
    probe = path
    while probe:
        if probe in rd.where:
            extra = path[len(probe) :].lstrip(".")
            field_note = f" ({extra})" if extra else ""
            return f"{prefix}{rd.where[probe]}{field_note}: {tail}"
        cut = max(probe.rfind("."), probe.rfind("["))
        probe = probe[:cut] if cut > 0 else ""
    return line


def read_case_workbook(path: str | Path) -> Case:
    """Read a case workbook into a validated Case; InputError naming sheet and cell otherwise."""
    name = str(path)
    formulas, values = _open_workbook(path, name)
    rd = Reader(name)
    specs = _sheets(formulas, rd)
    tables: dict[str, list[Row]] = {}
    fields: dict[str, dict] = {}
    for sname, sheet in specs.items():
        ws, vws = formulas[sname], (values[sname] if values is not None else None)
        if sheet.layout == "fields":
            fields[sname], places = _read_fields(ws, vws, sheet, rd)
            base = "" if sname == "Case" else "uncertainty."
            rd.where.update({base + k: p for k, p in places.items()})
        else:
            tables[sname] = _read_table(ws, vws, sheet, rd)
    if rd.problems:
        raise InputError(rd.problems)
    _check_refs(tables, specs, rd)
    if rd.problems:
        raise InputError(rd.problems)
    data = _assemble(tables, fields, rd)
    if rd.problems:
        raise InputError(rd.problems)
    try:
        return case_from_mapping(data, name)
    except InputError as e:
        raise InputError([_locate(line, rd) for line in e.problems]) from None


def template_problems(out: str | Path, force: bool = False) -> list[str]:
    """Why a workbook cannot be written at `out` (empty when it can)."""
    p = Path(out)
    if p.suffix.lower() != ".xlsx":
        return [f"{out}: a case workbook needs the .xlsx extension: e.g. --out case.xlsx"]
    if p.is_dir():
        return [f"{out}: is a folder: give a file name such as {p / 'case.xlsx'}"]
    if p.exists() and not force:
        return [f"{out}: already exists: choose another name, or pass --force to replace it"]
    if not p.absolute().parent.is_dir():
        return [f"{out}: folder {p.absolute().parent} does not exist: create it first"]
    return []
