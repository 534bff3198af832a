"""The case as editable tables and back: organisations, contracts, costs, scheme assumptions and
scenarios, with a message per cell when an edit does not validate.

The room sees organisations and service lines by name: ids stay in each table's hidden
column `ID`, a new row gets an id made from its name, and a column that points at an organisation
("Paid by", "Run by") holds the organisation's name and is read back to its id. Choices such as
a payment rule or a kind of organisation are shown in words and read back to the case's
values. A row keeps every field of its item that the table does not show (activity moves,
benefits, a named scenario's values...)."""

from __future__ import annotations

from dataclasses import dataclass, field

import pandas as pd
from pydantic import ValidationError

from gainshare.schema.case import Case, PartyKind
from gainshare.schema.io import format_validation
from gainshare.schema.tables import (
    CellProblem,
    Edit,
    blank,
    drop,
    get,
    number,
    put,
    slug,
    split_line,
)
from gainshare.schema.workbook_layout import (
    ParamTextError,
    format_number,
    format_param,
    parse_param,
)

ID = "_id"  # the hidden column holding each row's id (empty in a row the room adds)
PARAM_HELP = "a number, a distribution such as triangular(0.65, 0.75, 0.85), or [y1, y2, y3]"
ROLES = {"commissioner": "Commissioner", "provider": "Provider",
         "both": "Commissioner and provider", "risk_partner": "Risk partner"}  # fmt: skip
RULES = {"activity": "Activity (price × units)", "block": "Block (fixed sum)",
         "blended": "Blended (fixed sum + marginal rate)",
         "capitation": "Capitation (per head)"}  # fmt: skip
KIND_WORDS = {"acute": "Acute trust", "community": "Community provider",
              "mental_health": "Mental health provider", "primary_care": "Primary care",
              "social_care": "Social care", "local_authority": "Local authority",
              "ambulance": "Ambulance service", "commissioner": "Commissioner",
              "other": "Other"}  # fmt: skip
assert set(KIND_WORDS) == set(PartyKind.__args__)  # type: ignore[attr-defined]


@dataclass(frozen=True)
class Col:
    """A column: `key` is the dotted path inside one item of the case. Kinds: text, number,
    int, param (a number or a distribution), choice (`words`: value -> what the room reads),
    party (an organisation's name, read back to its id) and label (shown, never edited)."""

    key: str
    label: str
    kind: str = "number"
    words: dict[str, str] = field(default_factory=dict)
    help: str = ""
    width: str | None = None  # small | medium | large

    def shown(self, value, names: dict[str, str]):
        """A case value as the table shows it."""
        if value is None:
            return None
        if self.kind == "choice":
            return self.words.get(value, value)
        if self.kind == "party":
            return names.get(value, value)
        if self.kind == "param":
            v = format_param(value)
            return format_number(v) if isinstance(v, float) else v
        return value

    def read(self, v, ids: dict[str, str]):
        """A table cell -> the case value; ValueError with the fix when it cannot be read."""
        if self.kind == "param":
            if isinstance(v, int | float):
                return float(v)
            try:
                return parse_param(str(v))
            except ParamTextError as e:
                raise ValueError(f"{e}: write {PARAM_HELP}") from None
        if self.kind in ("number", "int"):
            return number(v, whole=self.kind == "int")
        if self.kind == "choice":
            back = {w: k for k, w in self.words.items()}
            if str(v) in back:
                return back[str(v)]
            if str(v) in self.words:
                return str(v)
            raise ValueError(f"'{v}' is not one of the choices: pick one from the list")
        if self.kind == "party":
            if str(v) in ids:
                return ids[str(v)]
            raise ValueError(f"no organisation called '{v}': pick one from the list")
        return str(v).strip()


@dataclass(frozen=True)
class TableSpec:
    name: str
    title: str
    path: str  # where the items live in the case data
    cols: tuple[Col, ...]
    single: bool = False  # one row: the fields of one mapping, not a list
    fixed_rows: bool = False  # rows are given by another table (costs: one a contract)


TABLES: tuple[TableSpec, ...] = (
    TableSpec("parties", "Organisations", "parties", (
        Col("name", "Organisation", "text", width="large"),
        Col("role", "Role", "choice", ROLES, width="medium"),
        Col("kind", "Kind", "choice", KIND_WORDS, width="medium"),
    )),
    TableSpec("contracts", "Contracts", "contracts", (
        Col("name", "Service line", "text", width="large"),
        Col("commissioner", "Paid by", "party", help="The commissioner that pays"),
        Col("provider", "Provider", "party", help="The provider that is paid"),
        Col("rule", "Payment rule", "choice", RULES),
        Col("price", "Price (£ a unit)", width="small"),
        Col("expected_units", "Expected units a year", "param", help=PARAM_HELP, width="small"),
        Col("fixed_payment", "Fixed payment (£ a year)", help="block and blended contracts",
            width="small"),
        Col("unit", "Unit", "text", width="small"),
        Col("marginal_rate_above", "Marginal rate above plan (0-1)", help="blended only",
            width="small"),
        Col("marginal_rate_below", "Marginal rate below plan (0-1)", help="blended only",
            width="small"),
        Col("demand_variation", "Demand variation (× plan)", "param", help=PARAM_HELP,
            width="small"),
        Col("bed_days_per_unit", "Bed days a unit", width="small"),
    )),
    TableSpec("costs", "Costs", "contracts", (
        Col("name", "Service line", "label", width="large"),
        Col("costs.variable_per_unit", "Variable cost (£ a unit)", "param", help=PARAM_HELP,
            width="small"),
        Col("costs.fixed", "Fixed cost (£ a year)", width="small"),
        Col("costs.stepped.capacity_per_step", "Ward capacity (bed days a year)", width="small"),
        Col("costs.stepped.cost_per_step", "Ward cost (£ a year)", width="small"),
        Col("costs.stepped.closures", "Wards that can close", "int", width="small"),
        Col("costs.stepped.first_release_year", "First year a closure saves", "int",
            width="small"),
    ), fixed_rows=True),
    TableSpec("schemes", "Scheme assumptions", "schemes", (
        Col("name", "Scheme", "text", width="large"),
        Col("provider", "Run by", "party"),
        Col("targeting", "Targeting (0-1)", "param", width="small",
            help="Share of referred patients who would otherwise be admitted; " + PARAM_HELP),
        Col("escalation", "Escalation (0-1)", "param", width="small",
            help="Share escalated back to hospital; " + PARAM_HELP),
        Col("teams", "Teams", "int", width="small"),
        Col("referrals_per_team", "Referrals a team a year", "param", help=PARAM_HELP,
            width="small"),
        Col("ramp_up", "Ramp-up (0-1)", "param", help=PARAM_HELP, width="small"),
        Col("fixed_cost", "Running cost (£ a team a year)", width="small"),
        Col("cost_per_patient", "Cost a patient (£)", "param", help=PARAM_HELP, width="small"),
        Col("staffing.posts_per_team", "Posts a team", width="small"),
        Col("staffing.cost_per_post", "Cost a post (£ a year)", width="small"),
        Col("staffing.filled", "Posts filled (0-1)", "param", help=PARAM_HELP, width="small"),
        Col("staffing.agency_premium", "Agency premium (0-1)", "param", help=PARAM_HELP,
            width="small"),
    )),
    TableSpec("uncertainty", "Scenarios drawn", "uncertainty", (
        Col("scenarios", "Monte Carlo scenarios", "int"),
        Col("seed", "Random seed", "int"),
    ), single=True),
    TableSpec("named", "Named scenarios", "uncertainty.named", (
        Col("name", "Name", "text"),
        Col("weight", "Probability (0-1)"),
    )),
)  # fmt: skip
TABLE_BY_NAME = {t.name: t for t in TABLES}


def _names(case_data: dict) -> dict[str, str]:
    return {p["id"]: p["name"] for p in case_data.get("parties", [])}


def _shown(c: Col, item: dict, names: dict[str, str]):
    if c.kind == "label":  # a row given by another table, named as the room knows it
        return item.get("name") or item.get("id")
    return c.shown(get(item, c.key), names)


def case_tables(case: Case) -> dict[str, pd.DataFrame]:
    """The case as editable tables, one row an item, the item's id in column `ID` (which the
    app hides)."""
    data = case.model_dump(mode="json", exclude_none=True)
    names = _names(data)
    out = {}
    for spec in TABLES:
        items = [get(data, spec.path)] if spec.single else (get(data, spec.path) or [])
        rows = [{c.label: _shown(c, it, names) for c in spec.cols} for it in items]
        ids = [0] if spec.single else [it.get("id", it.get("name")) for it in items]
        frame = pd.DataFrame(rows, columns=[c.label for c in spec.cols])
        frame.insert(0, ID, pd.Series(ids, dtype=object))
        for c in spec.cols:
            if c.kind in ("number", "int"):
                frame[c.label] = pd.to_numeric(frame[c.label], errors="coerce").astype(float)
            else:
                frame[c.label] = frame[c.label].astype(object)
        out[spec.name] = frame
    return out


def organisation_names(tables: dict[str, pd.DataFrame]) -> list[str]:
    """The names in the (edited) organisations table: the choices of every column that points
    at an organisation."""
    frame = tables.get("parties")
    if frame is None:
        return []
    return [str(v).strip() for v in frame["Organisation"] if not blank(v)]


# ---------------------------------------------------------------- reading the tables back


@dataclass
class _Assembly:
    data: dict
    problems: list[CellProblem] = field(default_factory=list)
    positions: dict[str, list[int]] = field(default_factory=dict)  # table -> row of each item
    ids: dict[str, str] = field(default_factory=dict)  # organisation name -> id
    costs_rows: dict[str, int] = field(default_factory=dict)  # contract id -> costs row


def _row_id(index_value, taken: set, name) -> str:
    if isinstance(index_value, str) and index_value and index_value not in taken:
        return index_value
    return slug(name or "item", taken)


def _read_rows(spec: TableSpec, frame: pd.DataFrame, a: _Assembly):
    """(row position, index value, {key: value or None}) for every row not wholly blank."""
    rows = []
    for pos, (_, r) in enumerate(frame.iterrows()):
        idx = r.get(ID)
        idx = None if blank(idx) else idx
        cells = {c.key: r.get(c.label) for c in spec.cols if c.kind != "label"}
        if all(blank(v) for v in cells.values()):
            continue
        out = {}
        named = r.get(spec.cols[0].label)
        ident = "" if blank(named) else str(named)
        for c in spec.cols:
            if c.kind == "label":
                continue
            v = cells[c.key]
            if blank(v):
                out[c.key] = None
                continue
            try:
                out[c.key] = c.read(v, a.ids)
            except ValueError as e:
                a.problems.append(CellProblem(spec.name, pos, c.label, str(e), ident))
        rows.append((pos, idx, out))
    return rows


def _apply(item: dict, values: dict) -> dict:
    item = dict(item)
    for key, v in values.items():
        if v is None:
            drop(item, key)
        else:
            put(item, key, v)
    stepped = get(item, "costs.stepped")
    if isinstance(stepped, dict) and not stepped:
        drop(item, "costs.stepped")
    return item


def _list_table(spec: TableSpec, frame: pd.DataFrame, a: _Assembly) -> None:
    """Rows over the case's items, matched by id (column `ID`); a row without one is new and
    gets an id from its name. Named scenarios are matched by name."""
    base = get(a.data, spec.path) or []
    key = "name" if spec.name == "named" else "id"
    by_key = {it.get(key): it for it in base}
    items, positions, taken = [], [], set()
    for pos, idx, vals in _read_rows(spec, frame, a):
        item = by_key.get(idx)
        if key == "id":
            ident = _row_id(idx if item is not None else None, taken, vals.get("name"))
            taken.add(ident)
            vals = {"id": ident, **vals}
        items.append(_apply(item or {}, vals))
        positions.append(pos)
    put(a.data, spec.path, items)
    a.positions[spec.name] = positions


def _parties(frame: pd.DataFrame, a: _Assembly) -> None:
    _list_table(TABLE_BY_NAME["parties"], frame, a)
    seen: dict[str, int] = {}
    for pos, item in zip(a.positions["parties"], a.data["parties"], strict=True):
        name = str(item.get("name", "")).strip()
        if name in seen:
            a.problems.append(CellProblem("parties", pos, "Organisation",
                                          f"'{name}' is also row {seen[name] + 1}: give each "
                                          "organisation its own name", name))  # fmt: skip
        seen.setdefault(name, pos)
        a.ids[name] = item["id"]


def _costs(frame: pd.DataFrame, a: _Assembly) -> None:
    spec = TABLE_BY_NAME["costs"]
    contracts = a.data.get("contracts", [])
    index = {c.get("id"): i for i, c in enumerate(contracts)}
    for pos, idx, vals in _read_rows(spec, frame, a):
        if idx in index:
            contracts[index[idx]] = _apply(contracts[index[idx]], vals)
            a.costs_rows[idx] = pos


def case_from_tables(case: Case, tables: dict[str, pd.DataFrame]) -> Edit:
    """The case with its tables replaced by the edited ones: a validated Case, or problems
    naming the table, row and column of each (validation runs on every edit)."""
    a = _Assembly(case.model_dump(mode="json", exclude_none=True))
    a.ids = {v: k for k, v in _names(a.data).items()}
    if "parties" in tables:
        _parties(tables["parties"], a)
    for spec in TABLES:
        frame = tables.get(spec.name)
        if frame is None or spec.name == "parties":
            continue
        if spec.name == "costs":
            _costs(frame, a)
        elif spec.single:
            rows = _read_rows(spec, frame, a)
            put(a.data, spec.path, _apply(get(a.data, spec.path) or {}, rows[0][2] if rows else {}))
        else:
            _list_table(spec, frame, a)
    if a.problems:
        return Edit(None, a.problems)
    try:
        return Edit(Case.model_validate(a.data))
    except ValidationError as e:
        return Edit(None, [_locate(line, a) for line in format_validation("case", e)])


def _column(spec: TableSpec, rest: str | None) -> str | None:
    if not rest:
        return None
    best = None
    for c in spec.cols:
        if rest == c.key or rest.startswith(c.key + ".") or rest.startswith(c.key + "["):
            best = c.label
    return best


def _locate(line: str, a: _Assembly) -> CellProblem:
    """A validation line 'case: PATH: message' -> the table cell it is about."""
    path, msg = split_line(line)
    if path.startswith("uncertainty.") and "[" not in path:
        return CellProblem("uncertainty", 0, _column(TABLE_BY_NAME["uncertainty"], path[12:]),
                           msg)  # fmt: skip
    lst, _, tail = path.partition("[")
    i_text, _, rest = tail.partition("]")
    if not i_text.isdigit():
        return CellProblem(None, None, None, f"{path}: {msg}" if path else msg)
    i, rest = int(i_text), rest.lstrip(".") or None
    items = get(a.data, lst) or []
    item = items[i] if i < len(items) else {}
    name = str(item.get("name") or "")
    if lst == "contracts" and rest and rest.startswith("costs"):
        row = a.costs_rows.get(item.get("id"))
        return CellProblem("costs", row, _column(TABLE_BY_NAME["costs"], rest) or rest, msg, name)
    spec = next((t for t in TABLES if t.path == lst and t.name != "costs"), None)
    if spec is None:
        return CellProblem(None, None, None, f"{path}: {msg}")
    pos = a.positions.get(spec.name, [])
    row = pos[i] if i < len(pos) else i
    return CellProblem(spec.name, row, _column(spec, rest) or rest, msg, name)


__all__ = ["ID", "KIND_WORDS", "PARAM_HELP", "RULES", "ROLES", "TABLES", "TABLE_BY_NAME", "Col",
           "TableSpec", "case_from_tables", "case_tables", "organisation_names"]  # fmt: skip
