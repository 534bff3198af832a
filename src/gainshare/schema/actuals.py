"""Reading an actuals file (CSV, or an Excel workbook with a sheet `Actuals`): the outturn of one
or more years of a signed agreement, one row per contract, scheme or party, checked against the
case like a case file is checked. Every problem is one line naming the file, the sheet (in a
workbook), the row and the column, what is wrong and the fix.

Columns (header in row 1; only year, kind and id are required in every row): `COLUMNS` below
says which rows each column applies to and what to enter; the Notes sheet of the template
(`gainshare template --actuals`) repeats it, and docs/settle-output.md has the table.
"""

from __future__ import annotations

import csv
import datetime as dt
import difflib
import hashlib
import io
import math
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from gainshare.schema.case import Case
from gainshare.schema.files import read_input
from gainshare.schema.io import InputError
from gainshare.schema.workbook import open_workbook
from gainshare.schema.workbook_layout import ParamTextError, to_number

KINDS = ("contract", "scheme", "party")
SHEET = "Actuals"
MAX_ROWS = 10_000
MAX_LISTED = 30  # problems listed; the rest are counted


@dataclass(frozen=True)
class ActualColumn:
    key: str
    kinds: tuple[str, ...]  # row kinds the column applies to
    meaning: str
    number: bool = True
    required: tuple[str, ...] = ()  # row kinds that must give it
    low: float | None = None
    high: float | None = None

    def fix(self) -> str:
        if self.low == 0 and self.high == 100:
            return "enter a score from 0 to 100"
        if self.low == 0:
            return "enter a number, zero or more"
        return "enter a number (negative for a fall)"


COLUMNS = [
    ActualColumn(
        "year", KINDS, "the year: its label (2026/27) or number (1 = first)", False, KINDS
    ),
    ActualColumn("kind", KINDS, "contract, scheme or party", False, KINDS),
    ActualColumn("id", KINDS, "the id of the contract, scheme or party in the case", False, KINDS),
    ActualColumn("name", KINDS, "for the reader only (not used)", False),
    ActualColumn(
        "units",
        ("contract", "scheme"),
        "actual units of a contract (required); patients referred to a scheme (for the record)",
        True,
        ("contract",),
        0.0,
    ),
    ActualColumn(
        "scheme_units",
        ("contract",),
        "of the contract's units, the change the schemes made: + added, - avoided (default 0)",
    ),
    ActualColumn(
        "payment",
        ("contract",),
        "actual payment, where it is not the contract's "
        "rule applied to the units (default: the rule)",
        True,
        (),
        0.0,
    ),
    ActualColumn(
        "cost_change",
        ("contract",),
        "provider's actual minus expected cost of the "
        "line (default: the case's variable cost per unit x change in units)",
    ),
    ActualColumn(
        "cost",
        ("contract",),
        "instead of cost_change: the provider's actual cost of the line, with expected_cost",
        True,
        (),
        0.0,
    ),
    ActualColumn(
        "expected_cost",
        ("contract",),
        "with cost: the provider's expected cost of the line without the scheme (its budget)",
        True,
        (),
        0.0,
    ),
    ActualColumn(
        "running_cost", ("scheme",), "the scheme's running cost in the year", True, ("scheme",), 0.0
    ),
    ActualColumn("quality", ("party",), "a provider's quality score, 0-100", True, (), 0.0, 100.0),
    ActualColumn(
        "benefit",
        ("party",),
        "a benefit booked to a commissioner (e.g. care placements avoided)",
        True,
        (),
        0.0,
    ),
]
BY_KEY = {c.key: c for c in COLUMNS}
FIGURES = [c.key for c in COLUMNS if c.number]


@dataclass(frozen=True)
class ActualRow:
    """One row: its year (1-based), kind, id and the figures given (empty cells left out)."""

    year: int
    kind: str
    id: str
    values: dict[str, float]
    place: str  # 'row 5' or 'sheet Actuals, row 5', for messages


@dataclass(frozen=True)
class Actuals:
    """The rows of an actuals file, checked against the case."""

    file: str
    rows: list[ActualRow]
    sha256: str = ""
    index: dict[tuple[int, str, str], ActualRow] = field(default_factory=dict, repr=False)

    @property
    def years(self) -> list[int]:
        return sorted({r.year for r in self.rows})

    def row(self, year: int, kind: str, ident: str) -> ActualRow | None:
        return self.index.get((year, kind, ident))

    def value(self, year: int, kind: str, ident: str, key: str) -> float | None:
        r = self.row(year, kind, ident)
        return None if r is None else r.values.get(key)


class _Problems:
    def __init__(self, file: str):
        self.file, self.lines = file, []

    def add(self, place: str, text: str) -> None:
        self.lines.append(f"{self.file}: {place}: {text}")

    def raise_if_any(self) -> None:
        if self.lines:
            lines = self.lines
            if len(lines) > MAX_LISTED:
                more = len(lines) - MAX_LISTED
                lines = lines[:MAX_LISTED] + [
                    f"{self.file}: {more:,} more problems: fix those above first"
                ]
            raise InputError(lines)


# ---------------------------------------------------------------- the file as a table of text


def _csv_table(raw: bytes, name: str) -> tuple[list[str], list[list[Any]], str]:
    if b"\x00" in raw:
        raise InputError(
            [
                f"{name}: is a binary file, not CSV text: save it as CSV (UTF-8), or "
                "use an .xlsx workbook"
            ]
        )
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        raise InputError(
            [f"{name}: byte {e.start} is not UTF-8 text: save the file as CSV UTF-8"]
        ) from None
    try:
        rows = list(csv.reader(io.StringIO(text)))
    except csv.Error as e:
        raise InputError([f"{name}: malformed CSV ({e}): check the quotes"]) from None
    if not rows:
        raise InputError([f"{name}: file is empty: start from `gainshare template --actuals`"])
    return rows[0], rows[1:], ""


def _xlsx_table(raw: bytes, name: str) -> tuple[list[str], list[list[Any]], str]:
    formulas, values = open_workbook(raw, name)
    if SHEET not in formulas.sheetnames:
        have = ", ".join(formulas.sheetnames)
        raise InputError(
            [
                f"{name}: no sheet '{SHEET}' (sheets: {have}): put the actuals on a "
                f"sheet named {SHEET} (see gainshare template --actuals)"
            ]
        )
    ws = (values or formulas)[SHEET]
    if values is not None and any(
        c.data_type == "f" and values[SHEET][c.coordinate].value is None
        for r in formulas[SHEET].iter_rows()
        for c in r
    ):
        raise InputError(
            [
                f"{name}: sheet {SHEET} holds formulas with no saved result: open and "
                "save the workbook in Excel, or type the values"
            ]
        )
    rows = [list(r) for r in ws.iter_rows(values_only=True)]
    if not rows:
        raise InputError(
            [f"{name}: sheet {SHEET} is empty: start from `gainshare template --actuals`"]
        )
    return [("" if v is None else str(v)) for v in rows[0]], rows[1:], f"sheet {SHEET}, "


def read_table(path: str | Path) -> tuple[list[str], list[list[Any]], str]:
    """(header, rows, place prefix) of a CSV or workbook actuals file."""
    p, name = Path(path), str(path)
    suffix = p.suffix.lower()
    if suffix not in (".xlsx", ".csv"):
        raise InputError([f"{name}: an actuals file is .csv or .xlsx: save it as one of those"])
    raw = read_input(p, ".csv or .xlsx file")  # a regular file within the size limit
    if suffix == ".xlsx":
        return _xlsx_table(raw, name)
    if suffix == ".csv":
        return _csv_table(raw, name)
    raise InputError([f"{name}: an actuals file is .csv or .xlsx: save it as one of those"])


# ---------------------------------------------------------------- cells


def _number(col: ActualColumn, v: Any) -> float:
    """A cell as a finite number within the column's range; ValueError with the message."""
    if isinstance(v, bool) or isinstance(v, dt.date | dt.datetime | dt.time):
        raise ValueError(f"{v!r} is not a number: {col.fix()}")
    if isinstance(v, int | float):
        x = float(v)
    else:
        s = str(v).strip()
        for sym in ("£", "$", "€"):
            s = s.replace(sym, "", 1) if s.startswith(sym) or s.startswith("-" + sym) else s
        if s.lower().lstrip("+-") in ("nan", "inf", "infinity"):
            raise ValueError(f"{str(v).strip()!r} is not a finite number: {col.fix()}")
        try:
            x = to_number(s)
        except (ParamTextError, ValueError):
            raise ValueError(f"{str(v).strip()!r} is not a number: {col.fix()}") from None
    if not math.isfinite(x):
        raise ValueError(f"{x!r} is not a finite number: {col.fix()}")
    if col.low is not None and x < col.low:
        raise ValueError(f"is {x:g}: it cannot be negative; {col.fix()}")
    if col.high is not None and x > col.high:
        raise ValueError(f"is {x:g}, above {col.high:g}: {col.fix()}")
    return x


def year_number(v: Any, case: Case) -> int:
    """A year cell as the year's number (1-based); ValueError when it names no year."""
    labels = case.horizon.labels()
    n = len(labels)
    s = str(v).strip()
    if isinstance(v, float) and v.is_integer():
        s = str(int(v))
    if s in labels:
        return labels.index(s) + 1
    if s.replace("-", "/") in labels:
        return labels.index(s.replace("-", "/")) + 1
    if s.isdigit() and 1 <= int(s) <= n:
        return int(s)
    raise ValueError(
        f"{s!r} is not a year of the agreement: write its label ({', '.join(labels)}) or its "
        f"number (1 to {n})"
    )


# ---------------------------------------------------------------- the whole file


def _header(header: list[str], prefix: str, pr: _Problems) -> dict[int, str]:
    cols: dict[int, str] = {}
    for i, h in enumerate(header):
        name = str(h).strip()
        if not name:
            continue
        place = f"{prefix}row 1, column {name}"
        if name in cols.values():
            pr.add(place, f"column '{name}' appears twice: keep one")
        elif name not in BY_KEY:
            near = difflib.get_close_matches(name, list(BY_KEY), n=1, cutoff=0.6)
            hint = f"rename it to '{near[0]}'" if near else "remove it"
            pr.add(
                place,
                f"column '{name}' is not a column of an actuals file: {hint} (columns: "
                f"{', '.join(BY_KEY)})",
            )
        else:
            cols[i] = name
    for key in ("year", "kind", "id"):
        if key not in cols.values():
            pr.add(
                f"{prefix}row 1",
                f"column '{key}' is missing: add a header '{key}' in row 1 "
                "(see gainshare template --actuals)",
            )
    return cols


def _ids(case: Case) -> dict[str, list[str]]:
    return {
        "contract": [c.id for c in case.contracts],
        "scheme": [s.id for s in case.schemes],
        "party": case.party_ids,
    }


def _key_cells(cells: dict[str, Any], place, case: Case, pr: _Problems):
    """(year, kind, id) of a row, or None after reporting what is wrong."""
    ok = True
    try:
        year = year_number(cells["year"], case) if "year" in cells else None
    except ValueError as e:
        pr.add(place("year"), str(e))
        year, ok = None, False
    kind = str(cells.get("kind", "")).strip().lower()
    ident = str(cells.get("id", "")).strip()
    for key, value in (("year", year), ("kind", kind), ("id", ident)):
        if ok and (value is None or value == ""):
            pr.add(place(key), f"is empty: give the row's {key}")
            ok = False
    if ok and kind not in KINDS:
        pr.add(place("kind"), f"{kind!r} is not a kind of row: use one of {', '.join(KINDS)}")
        ok = False
    if ok and ident not in _ids(case)[kind]:
        known = _ids(case)[kind]
        near = difflib.get_close_matches(ident, known, n=1, cutoff=0.6)
        hint = f"did you mean '{near[0]}'?" if near else f"the case has {', '.join(known)}"
        pr.add(place("id"), f"no {kind} '{ident}' in the case: fix the id ({hint})")
        ok = False
    return (year, kind, ident) if ok else None


def _row(cells: dict[str, Any], place, case: Case, pr: _Problems) -> ActualRow | None:
    key = _key_cells(cells, place, case, pr)
    values: dict[str, float] = {}
    for col_key, v in cells.items():
        col = BY_KEY[col_key]
        if not col.number:
            continue
        if key is not None and key[1] not in col.kinds:
            pr.add(
                place(col_key),
                f"{col_key} applies to {' and '.join(col.kinds)} rows only: "
                f"leave it empty on {key[1]} rows",
            )
            continue
        try:
            values[col_key] = _number(col, v)
        except ValueError as e:
            pr.add(place(col_key), str(e))
    if key is None:
        return None
    for col in COLUMNS:
        if key[1] in col.required and col.number and col.key not in values and col.key not in cells:
            pr.add(place(col.key), f"is empty: give the {key[1]}'s {col.key} ({col.meaning})")
    _costs(values, place, pr)
    return ActualRow(key[0], key[1], key[2], values, place(None))


def _costs(values: dict[str, float], place, pr: _Problems) -> None:
    """A line's cost change is given once: as cost_change, or as cost and expected_cost."""
    pair = [k for k in ("cost", "expected_cost") if k in values]
    if "cost_change" in values and pair:
        pr.add(place(pair[0]), "the cost change is also given in cost_change: give cost_change, "
               "or cost with expected_cost, not both")  # fmt: skip
    elif len(pair) == 1:
        other = "expected_cost" if pair[0] == "cost" else "cost"
        pr.add(place(other), f"is empty: give {other} with {pair[0]} (their difference is the "
               "cost change), or give cost_change instead")  # fmt: skip


def _roles(row: ActualRow, case: Case, pr: _Problems) -> None:
    party = case.party(row.id) if row.kind == "party" else None
    if party is None:
        return
    if "quality" in row.values and not party.is_provider:
        pr.add(
            f"{row.place}, column quality",
            f"'{row.id}' is not a provider: quality scores are for providers; leave it empty",
        )
    if "benefit" in row.values and not party.is_commissioner:
        pr.add(
            f"{row.place}, column benefit",
            f"'{row.id}' is not a commissioner: benefits are "
            "booked to commissioners; leave it empty",
        )


def _complete(rows: list[ActualRow], case: Case, file: str, pr: _Problems) -> None:
    """Every contract and scheme has a row in every year the file gives; no row twice."""
    labels = case.horizon.labels()
    seen: dict[tuple, str] = {}
    for r in rows:
        key = (r.year, r.kind, r.id)
        if key in seen:
            pr.add(
                r.place,
                f"{r.kind} '{r.id}' in {labels[r.year - 1]} is also on {seen[key]}: keep one row",
            )
        seen.setdefault(key, r.place)
    for y in sorted({r.year for r in rows}):
        for kind in ("contract", "scheme"):
            for ident in _ids(case)[kind]:
                if (y, kind, ident) not in seen:
                    pr.add(
                        f"year {labels[y - 1]}",
                        f"{kind} '{ident}' has no row: add a row "
                        f"with kind {kind}, id {ident} and its figures",
                    )


def read_actuals(path: str | Path, case: Case) -> Actuals:
    """Read and check an actuals file against `case`; InputError with one line per problem."""
    name = str(path)
    header, body, prefix = read_table(path)
    pr = _Problems(name)
    cols = _header(header, prefix, pr)
    pr.raise_if_any()
    if len(body) > MAX_ROWS:
        raise InputError(
            [f"{name}: {len(body):,} rows, over the limit of {MAX_ROWS:,}: split the file by year"]
        )
    rows: list[ActualRow] = []
    for i, raw in enumerate(body, start=2):
        extra = [v for j, v in enumerate(raw) if j not in cols and str(v or "").strip()]
        cells = {cols[j]: v for j, v in enumerate(raw) if j in cols and str(v or "").strip()}

        def place(key, i=i):
            return f"{prefix}row {i}" + (f", column {key}" if key else "")

        if extra:
            pr.add(
                place(None),
                "has values in a column with no header: add the column name in "
                "row 1, or clear the cells",
            )
        if not cells:
            continue
        row = _row(cells, place, case, pr)
        if row is not None:
            _roles(row, case, pr)
            rows.append(row)
    if not rows and not pr.lines:
        pr.add(
            "row 2",
            "no rows of actuals: add one row per contract, scheme and party (see "
            "gainshare template --actuals)",
        )
    pr.raise_if_any()
    _complete(rows, case, name, pr)
    pr.raise_if_any()
    digest = hashlib.sha256(Path(path).read_bytes()).hexdigest()
    index = {(r.year, r.kind, r.id): r for r in rows}
    return Actuals(name, rows, digest, index)


def read_actuals_bytes(name: str, data: bytes, case: Case) -> Actuals:
    """Read an uploaded actuals file (its name and bytes), messages naming `name`."""
    suffix = Path(name).suffix.lower()
    with tempfile.TemporaryDirectory(prefix="gainshare-actuals-") as tmp:
        p = Path(tmp) / f"upload{suffix}"
        p.write_bytes(data)
        try:
            out = read_actuals(p, case)
        except InputError as e:
            raise InputError([line.replace(str(p), name) for line in e.problems]) from None
    return Actuals(name, out.rows, out.sha256, out.index)
