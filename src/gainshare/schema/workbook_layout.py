"""The layout of a case workbook: one sheet per table, its columns derived from the case schema
(a nested model such as `costs.stepped` becomes columns `costs.stepped.cost_per_step`, ...), and
the compact text of uncertain parameters (`triangular(0.45, 0.65, 0.8)`, `[0.4, 0.65, 0.8]` for
one value per year). Both the reader (`schema.workbook`) and the writer
(`report.excel_case`) follow it, so YAML -> workbook -> YAML gives an equal case."""

from __future__ import annotations

import difflib
import math
import re
import types
import typing
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import BaseModel

from gainshare.errors import excerpt
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

DISTRIBUTIONS = {
    "fixed": ("value",),
    "uniform": ("low", "high"),
    "triangular": ("low", "mode", "high"),
    "normal": ("mean", "sd", "low", "high"),
    "discrete": ("values", "probs"),
}

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


def to_number(s: str) -> float:
    """A plain number, thousands separators allowed (2,200.50); never inf or nan."""
    s = s.strip()
    if _THOUSANDS.fullmatch(s):
        s = s.replace(",", "")
    if not re.fullmatch(r"[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?", s):
        raise ParamTextError(f"{excerpt(s)} is not a number")
    x = float(s)
    if not math.isfinite(x):
        raise ParamTextError(f"{excerpt(s)} is too large to be a number")
    return x


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
            return to_number(val)
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
                kw[val.lower()] = to_number(self.take()[1])
            elif kind == "num":
                pos.append(to_number(val))
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
        return to_number(text)
    p = _Parser(text)
    value = p.param()
    if p.peek() is not None:
        raise ParamTextError(f"unexpected '{p.peek()[1]}' after the value")
    if not allow_dist:
        items = value if isinstance(value, list) else [value]
        if any(isinstance(v, dict) for v in items):
            raise ParamTextError("a named scenario takes numbers, not distributions")
    return value
