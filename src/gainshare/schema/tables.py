"""What every editable table of the workshop app shares: a problem located in a table cell, an
edit that is either a validated new object or its problems, the reading of one cell, and the
dotted-path helpers that put a row back into the case data.

No Streamlit here: the app shows the tables; these modules turn them into cases and
agreements (a new, validated object every time, never a mutated one)."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

TITLES = {
    "parties": "Organisations",
    "contracts": "Contracts",
    "costs": "Costs",
    "schemes": "Scheme assumptions",
    "uncertainty": "Scenarios drawn",
    "named": "Named scenarios",
    "keep": "Keep-whole requirements",
    "fixed": "Terms already agreed",
    "proposal": "Proposal",
}
LINE = re.compile(r"^(?P<file>[^:]+): (?P<path>\S+?): (?P<msg>.+)$", re.S)


@dataclass(frozen=True)
class CellProblem:
    """One problem with an edited table: row and column are None when it is about the whole
    table (or the whole case). `ident` names the row's item the way the room knows it."""

    table: str | None
    row: int | None
    column: str | None
    message: str
    ident: str = ""

    @property
    def text(self) -> str:
        where = []
        if self.table:
            where.append(TITLES.get(self.table, self.table))
        if self.row is not None:
            where.append(f"row {self.row + 1}" + (f" ({self.ident})" if self.ident else ""))
        if self.column:
            where.append(self.column)
        return (", ".join(where) + ": " if where else "") + self.message


@dataclass(frozen=True)
class Edit:
    """A validated new object, or the problems that stop it."""

    value: Any = None
    problems: list[CellProblem] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.value is not None and not self.problems


def split_line(line: str) -> tuple[str, str]:
    """A validation line 'file: PATH: message' -> (PATH, message); ('', line) otherwise."""
    m = LINE.match(line)
    if not m:
        return "", line.split(": ", 1)[-1]
    return m["path"], m["msg"]


def blank(v) -> bool:
    if v is None:
        return True
    if isinstance(v, float) and math.isnan(v):
        return True
    if v is pd.NA or v is pd.NaT:
        return True
    return isinstance(v, str) and not v.strip()


def number(v, whole: bool = False) -> float | int:
    """A table cell as a number; ValueError with the fix when it is not one."""
    try:
        x = float(str(v).replace(",", "").replace("£", "")) if isinstance(v, str) else float(v)
    except (TypeError, ValueError):
        raise ValueError(f"{v!r} is not a number: write a plain number") from None
    if not math.isfinite(x):
        raise ValueError(f"{v!r} is not a finite number: write a plain number")
    if whole:
        if not x.is_integer():
            raise ValueError(f"{v!r} is not a whole number: write a whole number")
        return int(x)
    return x


def percent_value(x: float) -> float:
    """A share 0..1 as the percentage a table shows: 0.55 -> 55.0, never 55.00000000000001."""
    return round(100 * float(x), 8)


def get(d: dict, path: str, default=None):
    cur: Any = d
    for part in path.split("."):
        if not isinstance(cur, dict) or part not in cur:
            return default
        cur = cur[part]
    return cur


def put(d: dict, path: str, value) -> None:
    parts = path.split(".")
    cur = d
    for part in parts[:-1]:
        if not isinstance(cur.get(part), dict):
            cur[part] = {}
        cur = cur[part]
    cur[parts[-1]] = value


def drop(d: dict, path: str) -> None:
    parts = path.split(".")
    cur = d
    for part in parts[:-1]:
        cur = cur.get(part)
        if not isinstance(cur, dict):
            return
    cur.pop(parts[-1], None)


def slug(text: str, taken=()) -> str:
    """An id made from a name ('Eastbrook GP Federation' -> 'eastbrook_gp_federation'), unique
    among `taken` (a suffix _2, _3... when needed)."""
    base = re.sub(r"[^a-z0-9]+", "_", str(text).lower()).strip("_")[:40] or "item"
    if not base[0].isalpha():
        base = "x_" + base
    out, n = base, 2
    while out in taken:
        out, n = f"{base}_{n}", n + 1
    return out


__all__ = ["TITLES", "CellProblem", "Edit", "blank", "drop", "get", "number", "percent_value",
           "put", "slug", "split_line"]  # fmt: skip
