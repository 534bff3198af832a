"""Reading a case workbook (input side, beside the YAML and JSON readers): every sheet of the
layout in `schema.workbook_layout` back into the same Case. Every problem is reported as
`FILE: sheet S, cell C (column): what is wrong: fix`."""

from __future__ import annotations

import difflib
import io
import math
import re
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from openpyxl import load_workbook

from gainshare.errors import FILE, InputError, excerpt
from gainshare.schema.case import Case
from gainshare.schema.files import parse_text, read_input
from gainshare.schema.mapping import case_from_mapping
from gainshare.schema.workbook_layout import (
    Column,
    ParamTextError,
    Sheet,
    case_sheets,
    parse_param,
    to_number,
)

MAX_ROWS = 10_000  # rows per sheet read from a case workbook
MAX_COLUMNS = 200  # columns per sheet
MAX_CELLS = 200_000  # cells in the whole workbook (a template has a few hundred)
MAX_UNPACKED_BYTES = 20 * 1024 * 1024  # a workbook is a zip: counted as it is unpacked

# ---------------------------------------------------------------- reading


@dataclass
class Reader:
    """Collects problems and where each field of the assembled mapping came from."""

    file: str
    problems: list[str] = field(default_factory=list)
    where: dict[str, str] = field(default_factory=dict)  # field path -> 'sheet S, cell C (key)'

    def problem(self, place: str, text: str) -> None:
        self.problems.append(f"{self.file}: {place}: {text}")


def _not_xlsx(name: str) -> InputError:
    return InputError([f"{name}: {FILE}: is not an Excel workbook (.xlsx): save it from Excel as "
                       "'Excel Workbook (.xlsx)', or start from `gainshare template`"])  # fmt: skip


def open_workbook(data: bytes, name: str):
    """A workbook's formulas and saved values (None when it holds no formulas), after the zip,
    size and extent checks every workbook input passes."""
    if not data:
        raise InputError([f"{name}: {FILE}: file is empty: start from `gainshare template --out "
                          f"{name}`"])  # fmt: skip
    if not zipfile.is_zipfile(io.BytesIO(data)):
        raise _not_xlsx(name)
    _check_zip(data, name)
    try:
        formulas = load_workbook(io.BytesIO(data), data_only=False)
    except Exception:  # noqa: BLE001 - any parser failure: find the cell, or say it is no workbook
        raise _unreadable(data, name) from None
    _check_extent(formulas, name)
    values = None
    if any(c.data_type == "f" for ws in formulas.worksheets for row in ws.iter_rows()
           for c in row):  # fmt: skip
        values = load_workbook(io.BytesIO(data), data_only=True)
    return formulas, values


_BAD_XML = (b"<!DOCTYPE", b"<!ENTITY")


@dataclass
class _Unpacked:
    """What unpacking a workbook found so far: bytes and worksheet cells."""

    name: str
    titles: dict[str, str]  # worksheet part -> sheet title
    total: int = 0
    cells: int = 0

    def member(self, z: zipfile.ZipFile, info: zipfile.ZipInfo) -> None:
        """Unpack one member in small pieces, counting the bytes it really holds (never what
        the zip directory says), refusing DTDs and entities before any XML parser sees them,
        and counting a worksheet's cells."""
        is_sheet = info.filename.startswith("xl/worksheets/") and info.filename.endswith(".xml")
        tail, rows = b"", 0
        with z.open(info) as member:
            while chunk := member.read(1 << 16):
                self.total += len(chunk)
                if self.total > MAX_UNPACKED_BYTES:
                    raise InputError([f"{self.name}: {FILE}: unpacks to more than "
                                      f"{MAX_UNPACKED_BYTES:,} bytes: not a case workbook; start "
                                      "from `gainshare template`"])  # fmt: skip
                seen = tail + chunk
                if any(bad in seen for bad in _BAD_XML):
                    raise InputError([f"{self.name}: {info.filename}: declares a DTD or XML "
                                      "entities, which a workbook never needs: save the "
                                      "workbook again from Excel"])  # fmt: skip
                if is_sheet:
                    self.cells += seen.count(b"<c ") - tail.count(b"<c ")
                    rows += seen.count(b"<row ") - tail.count(b"<row ")
                    self.rows(info.filename, rows)
                tail = chunk[-16:]
        if self.cells > MAX_CELLS:
            raise InputError([f"{self.name}: {FILE}: holds more than {MAX_CELLS:,} cells: a case "
                              "workbook needs a few hundred; delete unused rows and "
                              "columns"])  # fmt: skip

    def rows(self, part: str, rows: int) -> None:
        if rows > MAX_ROWS + 1:
            title = excerpt(self.titles.get(part, part)).strip("'")
            raise InputError([f"{self.name}: sheet {title}: has more than {MAX_ROWS:,} rows, over "
                              "the limit: delete the unused rows"])  # fmt: skip


def _sheet_parts(z: zipfile.ZipFile) -> dict[str, str]:
    """Worksheet part name -> sheet title, from the workbook part and its relationships."""
    try:
        rels = {a.get(b"Id"): a.get(b"Target", b"") for a in _tags(z, "xl/_rels/workbook.xml.rels")}
        sheets = [(a.get(b"name", b""), a.get(b"r:id")) for a in _tags(z, "xl/workbook.xml")]
    except KeyError:
        return {}
    out = {}
    for title, rid in sheets:
        target = rels.get(rid, b"").decode("utf-8", "replace").lstrip("/").removeprefix("xl/")
        out["xl/" + target] = title.decode("utf-8", "replace")
    return out


def _tags(z: zipfile.ZipFile, part: str) -> list[dict[bytes, bytes]]:
    """The attributes of each <sheet> or <Relationship> tag of a (small) part, in any order."""
    return [dict(_ATTR.findall(attrs)) for _, attrs in _TAG.findall(z.read(part))]


def _check_zip(data: bytes, name: str) -> None:
    """Every member of the zip unpacked and counted before openpyxl is given it."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as z:
            infos = z.infolist()
            if "xl/workbook.xml" not in {i.filename for i in infos}:
                raise _not_xlsx(name)
            seen = _Unpacked(name, _sheet_parts(z))
            for info in infos:
                seen.member(z, info)
    except (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError, NotImplementedError) as e:
        raise InputError([f"{name}: {FILE}: the workbook's zip is damaged ({excerpt(str(e))}): "
                          "save it again from Excel"]) from None  # fmt: skip


_CELL = re.compile(rb'<c r="([A-Z]{1,3}[0-9]{1,7})"([^>]*)>(?:<f[^>]*>[^<]*</f>)?<v>([^<]*)</v>')
_TAG = re.compile(rb"<(?:\w+:)?(sheet|Relationship) ([^>]*)>")
_ATTR = re.compile(rb'([\w:]+)="([^"]*)"')


def _unreadable(data: bytes, name: str) -> InputError:
    """A workbook openpyxl cannot load: name the cell it stumbles on (a number cell holding
    text, found by reading the sheets' XML); otherwise say it is not a workbook."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as z:
            for part, title in _sheet_parts(z).items():
                cell = _bad_number_cell(z.read(part)) if part in z.namelist() else None
                if cell is not None:
                    return InputError([f"{name}: sheet {excerpt(title).strip(chr(39))}, cell "
                                       f"{cell[0]}: holds {excerpt(cell[1])} where the file says "
                                       "a number: retype the cell in Excel and save the workbook "
                                       "again"])  # fmt: skip
    except (KeyError, zipfile.BadZipFile):
        pass
    return _not_xlsx(name)


def _bad_number_cell(xml: bytes) -> tuple[str, str] | None:
    for ref, attrs, value in _CELL.findall(xml):
        if b't="' in attrs and b't="n"' not in attrs:
            continue  # text, booleans, errors and dates are stored otherwise
        try:
            float(value)
        except ValueError:
            return ref.decode(), value.decode("utf-8", "replace")
    return None


def _check_extent(wb, name: str) -> None:
    """Rows, columns and merged cells of every sheet, before any cell is visited: a single cell
    at XFD1048576 would otherwise make every empty cell up to it."""
    problems = []
    specs = {s.name for s in case_sheets()}
    for ws in wb.worksheets:
        if ws.max_row > MAX_ROWS + 1 or ws.max_column > MAX_COLUMNS:
            problems.append(
                f"{name}: sheet {ws.title}: uses {ws.max_row:,} rows and {ws.max_column:,} "
                f"columns, over the limit of {MAX_ROWS:,} rows and {MAX_COLUMNS} columns: delete "
                "the unused rows and columns"
            )
        if ws.title in specs:
            problems += [
                f"{name}: sheet {ws.title}, cells {rng.coord}: are merged: unmerge them and give "
                "each cell its own value"
                for rng in ws.merged_cells.ranges
            ][:5]
    if problems:
        raise InputError(problems)


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
                f"{excerpt(s)} is not one of {', '.join(col.choices)}: pick one from the list"
            )
        return s
    if col.kind == "bool":
        if isinstance(v, bool):
            return v
        s = str(v).strip().lower()
        if s in ("true", "yes", "1", "false", "no", "0"):
            return s in ("true", "yes", "1")
        raise ValueError(f"{excerpt(v)} is not TRUE or FALSE: enter TRUE or FALSE")
    if col.kind == "json":
        return _json_cell(v)
    return _convert_number(col, v)


def _json_cell(v: Any) -> Any:
    """A cell holding a mapping (or a list, such as a scheme's cost curve) as JSON (or YAML)
    text, read under the rules of a case file."""
    try:
        return parse_text(str(v), "cell", lists=True)
    except InputError as e:
        detail = e.problems[0].split(": ", 1)[-1]
        if "malformed" in detail:
            raise ValueError(
                'is not valid JSON text: write it as in the YAML case, e.g. {"objective": '
                '"commissioners"}'
            ) from None
        if "top level" in detail or "no content" in detail:
            raise ValueError(
                "should be a mapping in braces {...} (or a list in brackets [...]): "
                "write it as JSON text"
            ) from None
        raise ValueError(detail.removeprefix("(file): ")) from None


def _convert_number(col: Column, v: Any) -> Any:
    if isinstance(v, bool):
        raise ValueError(f"is {str(v).upper()}, not a number: {col.fix()}")
    if isinstance(v, int | float):
        if not math.isfinite(v):
            raise ValueError(f"is {excerpt(v)}, not a finite number: {col.fix()}")
        return _whole(col, v) if col.kind == "int" else float(v)
    s = str(v).strip()
    try:
        if col.kind in ("param", "values"):
            return parse_param(s, allow_dist=col.kind == "param")
        out = to_number(s)
    except (ParamTextError, ValueError) as e:
        if "too large" in str(e):
            raise ValueError(f"{e}: {col.fix()}") from None
        if col.kind in ("param", "values") and not re.fullmatch(r"[-+\d.,eE\s]+", s):
            msg = f"{excerpt(s)} cannot be read ({e}): {col.fix()} (see the Notes sheet)"
            raise ValueError(msg) from None
        raise ValueError(f"{excerpt(s)} is not a number: {col.fix()}") from None
    return _whole(col, out) if col.kind == "int" else out


def _whole(col: Column, v: float) -> int:
    if float(v) != int(v):
        raise ValueError(f"{excerpt(v)} is not a whole number: {col.fix()}")
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
        rd.problem(FILE, "the workbook has none of the case sheets (" + ", ".join(specs) + "): "
                   "use gainshare template to start from a complete workbook")  # fmt: skip
        return {}
    for n in names:
        if n not in specs and n != "Notes":
            near = difflib.get_close_matches(n, list(specs), n=1, cutoff=0.6)
            hint = f"rename it to {near[0]}" if near else "remove it or move it to another file"
            rd.problem(f"sheet {excerpt(n).strip(chr(39))}", f"is not a sheet of a case "
                       f"workbook: {hint}")  # fmt: skip
    for s in specs.values():
        if s.required and s.name not in names:
            rd.problem(f"sheet {s.name}", "is missing: use gainshare template to start from a "
                       "complete workbook")  # fmt: skip
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
    return read_case_workbook_bytes(read_input(path, ".xlsx workbook"), str(path))


def read_case_workbook_bytes(data: bytes, name: str) -> Case:
    """A case workbook's bytes (read from a file, or uploaded) into a validated Case."""
    formulas, values = open_workbook(data, name)
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
