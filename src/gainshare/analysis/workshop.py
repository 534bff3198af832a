"""What the workshop app needs from the package: figures and words for a room of finance
directors, the case as editable tables and back (with a message per cell), requirement and
what-if edits of a case, the room's proposal as a table, and the files to download.

No Streamlit here: the app (`app/`) only calls these, and the tests call them directly. Every
edit returns a new, validated Case or Agreement (never a mutated one) or the problems, each
naming the table, row and column it is about."""

from __future__ import annotations

import io
import math
import re
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import yaml
from pydantic import ValidationError

from gainshare.schema.agreement import Agreement
from gainshare.schema.case import Case, KeepWhole, PartyKind
from gainshare.schema.io import (  # InputError: the app catches it as wk.InputError
    InputError,  # noqa: F401
    agreement_problems,
    agreement_to_dict,
    case_from_bytes,
    case_from_mapping,
    format_validation,
)
from gainshare.schema.requirements import OBJECTIVES
from gainshare.settle.check import PENNY, CheckResult

REPO = Path(__file__).resolve().parents[3]
EXAMPLE_DIRS = (REPO / "app" / "examples", REPO / "cases")
SYMBOLS = {"GBP": "£", "USD": "$", "EUR": "€"}
UPLOAD_TYPES = ("yaml", "yml", "json", "xlsx")
OBJECTIVE_LABELS = {
    "commissioners": "Most money kept by the commissioners",
    "system_savings": "Most savings for the whole system",
    "worst_margin": "Best position for the worst-off provider",
    "fair_reference": "Closest to the fair reference split",
}
MODE_LABELS = {
    "robust": "Every scenario",
    "chance": "Share of scenarios",
    "cvar": "Average of the worst scenarios",
    "none": "Not required",
}
ROUNDING_LABELS = {"none": "Any value", "1%": "Whole per cent", "5%": "Steps of 5%"}


# ---------------------------------------------------------------- numbers for people


def money(v: float, currency: str = "GBP") -> str:
    """£1.2m, £350k, £950; a leading minus when negative; never '-£0'."""
    sym = SYMBOLS.get(currency, currency + " ")
    a = abs(float(v))
    if a >= 999_500:
        text = f"{a / 1e6:,.1f}m"
    elif a >= 9_950:
        text = f"{a / 1e3:,.0f}k"
    elif a >= 999.5:
        text = f"{a / 1e3:.1f}".removesuffix(".0") + "k"
    else:
        text = f"{a:,.0f}"
    sign = "-" if v < 0 and text.strip("0.,km") else ""
    return f"{sign}{sym}{text}"


def pct(x: float) -> str:
    """A probability or share as a percentage: 1 -> 100%, 0.95 -> 95%, 0.996 -> 99.6%."""
    v = 100 * float(x)
    if 0 < v < 0.05:
        return "under 0.1%"
    if 99.95 <= v < 100:
        return "over 99.9%"
    whole = f"{v:.0f}%"
    if 0 < v < 100 and whole in ("0%", "100%") or abs(v - round(v)) >= 0.05:
        return f"{v:.1f}%"
    return whole


def requirement_words(mode: str, beta: float, tolerance: float, currency: str = "GBP") -> str:
    """A keep-whole requirement as the room says it."""
    slack = f", accepting up to {money(tolerance, currency)} a year worse off" if tolerance else ""
    if mode == "robust":
        return "kept whole in every scenario" + slack
    if mode == "chance":
        return f"kept whole in at least {pct(beta)} of scenarios" + slack
    if mode == "cvar":
        return (f"in the worst {pct(1 - beta)} of scenarios, short by no more than "
                f"{money(tolerance, currency)} a year on average")  # fmt: skip
    return "no requirement"


# ---------------------------------------------------------------- example cases and uploads


@dataclass(frozen=True)
class Example:
    label: str
    path: Path

    @property
    def agreement_path(self) -> Path | None:
        p = self.path.with_name(self.path.name.replace(".yaml", ".agreement.yaml"))
        return p if p.exists() else None


@lru_cache(maxsize=1)
def examples() -> tuple[Example, ...]:
    """The example cases shipped with the app and in cases/, workshop case first."""
    out = []
    for folder in EXAMPLE_DIRS:
        for p in sorted(folder.glob("*.yaml")):
            if p.name.endswith(".agreement.yaml"):
                continue
            try:
                head = yaml.safe_load(p.read_text(encoding="utf-8")) or {}
            except (OSError, yaml.YAMLError):
                continue
            out.append(Example(str(head.get("name") or p.stem), p))
    return tuple(out)


def load_upload(name: str, data: bytes) -> Case:
    """A case from an uploaded YAML, JSON or Excel file, read by the same loader as a file on
    disk; InputError with one line a problem."""
    return case_from_bytes(name, data)


def case_dict(case: Case) -> dict:
    """Plain data of a case, as written to its YAML file (defaults left out)."""
    return case.model_dump(mode="json", exclude_none=True, exclude_defaults=True)


def case_yaml(case: Case) -> str:
    return yaml.safe_dump(case_dict(case), sort_keys=False, allow_unicode=True, width=100)


def agreement_yaml(agreement: Agreement) -> str:
    return yaml.safe_dump(agreement_to_dict(agreement), sort_keys=False, allow_unicode=True)


# ---------------------------------------------------------------- positions


@dataclass(frozen=True)
class Headline:
    """The figures the room looks at first (expected values are totals over the agreement)."""

    system_savings: float
    commissioners_keep: float
    pool: float
    worst_provider_year: float
    prob_all_whole: float
    all_met: bool
    years: int
    scenarios: int


def whole_by_scenario(case: Case, result: CheckResult) -> np.ndarray:
    """(S,) whether every party with a keep-whole requirement is whole in every year."""
    st = result.settlement
    ids = st.econ.party_ids
    tol = np.array([case.keep_whole_for(p).tolerance for p in ids])
    need = np.array([case.keep_whole_for(p).mode != "none" for p in ids])
    ok = (st.net >= -tol[None, None, :] - PENNY) | ~need[None, None, :]
    return ok.all(axis=(1, 2))


def headline(case: Case, result: CheckResult) -> Headline:
    doc, st = result.document, result.settlement
    prov = st.econ.is_provider
    worst = float(st.net[:, :, prov].min()) if prov.any() else 0.0
    w = st.econ.weights
    return Headline(
        system_savings=doc["system_savings"]["expected"],
        commissioners_keep=doc["retained"]["expected"],
        pool=doc["pool"]["expected"],
        worst_provider_year=worst,
        prob_all_whole=min(float(w[whole_by_scenario(case, result)].sum()), 1.0),
        all_met=bool(doc["all_kept_whole"]),
        years=int(doc["years"]),
        scenarios=int(doc["scenarios"]),
    )


def positions_frame(case: Case, result: CheckResult) -> pd.DataFrame:
    """Each party's position in words and money, one row a party (for display)."""
    cur = case.currency
    rows = []
    for pid, d in result.document["by_party"].items():
        kw = case.keep_whole_for(pid)
        req = d["requirement"]
        rows.append({
            "Organisation": case.party(pid).name,
            "Expected net": money(d["expected_net"], cur),
            "Worst year": money(d["worst_net"], cur),
            "Kept whole in": pct(d["prob_whole"]),
            "Requirement": requirement_words(kw.mode, kw.beta, kw.tolerance, cur),
            "Met": "n/a" if kw.mode == "none" else ("Yes" if req["met"] else "No"),
        })  # fmt: skip
    return pd.DataFrame(rows)


def _edge(lim, currency: str) -> str:
    if lim.amount is not None:
        return money(lim.amount, currency)
    return f"{pct(lim.share_of_expected)} of spend"


def tier_headers(tiers, word: str, currency: str = "GBP") -> list[str]:
    """'Gains: first £3m', 'Gains: £3m to £5m', 'Gains above £5m' (or 'Gains' for one tier)."""
    if len(tiers) == 1:
        return [word]
    out, prev = [], None
    for t in tiers:
        if t.upto is None:
            out.append(f"{word} above {_edge(prev, currency)}")
        elif prev is None:
            out.append(f"{word}: first {_edge(t.upto, currency)}")
        else:
            out.append(f"{word}: {_edge(prev, currency)} to {_edge(t.upto, currency)}")
        prev = t.upto
    return out


def shares_frame(case: Case, agreement: Agreement) -> pd.DataFrame:
    """Who gets what under the base terms, for display: each party's share of every gain and
    loss tier (%), its cap and its collar."""
    t, cur = agreement.terms, case.currency
    cols: dict[str, list[str]] = {"Organisation": [p.name for p in case.parties]}
    for tiers, word in ((t.gain_tiers, "Gains"), (t.loss_tiers, "Losses")):
        for head, tier in zip(tier_headers(tiers, word, cur), tiers, strict=True):
            cols[head] = [_share_text(tier.shares.get(pid, 0.0)) for pid in case.party_ids]
    cols["Cap (a year)"] = [_limit_text(t.caps.get(pid), cur) for pid in case.party_ids]
    cols["Collar (a year)"] = [_limit_text(t.collars.get(pid), cur) for pid in case.party_ids]
    return pd.DataFrame(cols)


def _share_text(v: float) -> str:
    return f"{100 * v:.1f}%".replace(".0%", "%")


def _limit_text(lim, currency: str) -> str:
    if lim is None:
        return "none"
    if lim.amount is not None:
        return money(lim.amount, currency)
    return f"{pct(lim.share_of_expected)} of expected payment"


def position_sentences(case: Case, result: CheckResult) -> dict[str, str]:
    """Party id -> one sentence on its expected position over the agreement."""
    cur = case.currency
    out = {}
    for pid, d in result.document["by_party"].items():
        parts = []
        rev, cost = d["expected_revenue_change"], d["expected_cost_change"]
        if abs(rev) >= 0.5:
            parts.append(f"{'gains' if rev > 0 else 'loses'} {money(abs(rev), cur)} of income")
        if abs(cost) >= 0.5:
            word = "spends" if cost > 0 else "saves"
            parts.append(f"{word} {money(abs(cost), cur)} {'more' if cost > 0 else 'of costs'}")
        if abs(d["expected_transfer"]) >= 0.5:
            t = d["expected_transfer"]
            parts.append(f"{'receives' if t > 0 else 'pays'} {money(abs(t), cur)} through "
                         "the agreement")  # fmt: skip
        if abs(d["expected_retained"]) >= 0.5:
            parts.append(f"keeps {money(d['expected_retained'], cur)} of the pool")
        net = d["expected_net"]
        body = ", ".join(parts) if parts else "is not affected"
        out[pid] = (f"{body}: {'better' if net >= 0 else 'worse'} off by {money(abs(net), cur)} "
                    f"expected; worst year {money(d['worst_net'], cur)}; kept whole in "
                    f"{pct(d['prob_whole'])} of scenarios.")  # fmt: skip
    return out


# ---------------------------------------------------------------- editable tables


@dataclass(frozen=True)
class Col:
    """A column of an editable table: `key` is the dotted path inside one item of the case."""

    key: str
    label: str
    kind: str = "number"  # text | choice | number | int | param
    options: tuple[str, ...] = ()
    help: str = ""


@dataclass(frozen=True)
class TableSpec:
    name: str
    title: str
    path: str  # where the items live in the case data
    match: str  # key that identifies an item
    cols: tuple[Col, ...]
    single: bool = False  # one row: the fields of one mapping, not a list


PARAM_HELP = "a number, a distribution such as triangular(0.65, 0.75, 0.85), or [y1, y2, y3]"
ROLES = ("commissioner", "provider", "both")
RULES = ("activity", "block", "blended", "capitation")
KINDS: tuple[str, ...] = PartyKind.__args__  # type: ignore[attr-defined]

TABLES: tuple[TableSpec, ...] = (
    TableSpec("parties", "Parties", "parties", "id", (
        Col("id", "Id", "text", help="Short id used everywhere else in the case"),
        Col("name", "Organisation", "text"),
        Col("role", "Role", "choice", ROLES),
        Col("kind", "Kind", "choice", KINDS),
    )),
    TableSpec("contracts", "Contracts", "contracts", "id", (
        Col("id", "Id", "text"),
        Col("name", "Service line", "text"),
        Col("commissioner", "Paid by", "text", help="Party id of the commissioner"),
        Col("provider", "Provider", "text", help="Party id of the provider"),
        Col("unit", "Unit", "text"),
        Col("rule", "Payment rule", "choice", RULES),
        Col("expected_units", "Expected units a year", "param", help=PARAM_HELP),
        Col("price", "Price (£ a unit)"),
        Col("fixed_payment", "Fixed payment (£ a year)", help="block and blended contracts"),
        Col("marginal_rate_above", "Marginal rate above plan (0-1)", help="blended only"),
        Col("marginal_rate_below", "Marginal rate below plan (0-1)", help="blended only"),
        Col("demand_variation", "Demand variation (x plan)", "param", help=PARAM_HELP),
        Col("bed_days_per_unit", "Bed days a unit"),
    )),
    TableSpec("costs", "Costs", "contracts", "id", (
        Col("id", "Contract", "text", help="Id of the contract these costs belong to"),
        Col("costs.variable_per_unit", "Variable cost (£ a unit)", "param", help=PARAM_HELP),
        Col("costs.fixed", "Fixed cost (£ a year)"),
        Col("costs.stepped.capacity_per_step", "Ward capacity (bed days a year)"),
        Col("costs.stepped.cost_per_step", "Ward cost (£ a year)"),
        Col("costs.stepped.closures", "Wards that can close", "int"),
        Col("costs.stepped.first_release_year", "First year a closure saves", "int"),
    )),
    TableSpec("schemes", "Scheme assumptions", "schemes", "id", (
        Col("id", "Id", "text"),
        Col("name", "Scheme", "text"),
        Col("provider", "Run by", "text", help="Party id of the provider running the scheme"),
        Col("teams", "Teams", "int"),
        Col("referrals_per_team", "Referrals a team a year", "param", help=PARAM_HELP),
        Col("ramp_up", "Ramp-up (0-1)", "param", help=PARAM_HELP),
        Col("targeting", "Targeting (0-1)", "param",
            help="Share of referred patients who would otherwise be admitted; " + PARAM_HELP),
        Col("escalation", "Escalation (0-1)", "param",
            help="Share escalated back to hospital; " + PARAM_HELP),
        Col("fixed_cost", "Running cost (£ a team a year)"),
        Col("cost_per_patient", "Cost a patient (£)", "param", help=PARAM_HELP),
        Col("staffing.posts_per_team", "Posts a team"),
        Col("staffing.cost_per_post", "Cost a post (£ a year)"),
        Col("staffing.filled", "Posts filled (0-1)", "param", help=PARAM_HELP),
        Col("staffing.agency_premium", "Agency premium (0-1)", "param", help=PARAM_HELP),
    )),
    TableSpec("uncertainty", "Scenarios drawn", "uncertainty", "scenarios", (
        Col("scenarios", "Monte Carlo scenarios", "int"),
        Col("seed", "Random seed", "int"),
    ), single=True),
    TableSpec("named", "Named scenarios", "uncertainty.named", "name", (
        Col("name", "Name", "text"),
        Col("weight", "Probability (0-1)"),
    )),
)  # fmt: skip
TABLE_BY_NAME = {t.name: t for t in TABLES}
TITLES = {t.name: t.title for t in TABLES} | {
    "keep": "Keep-whole requirements",
    "fixed": "Terms already agreed",
    "proposal": "Proposal",
}


@dataclass(frozen=True)
class CellProblem:
    """One problem with an edited table: row and column are None when it is about the whole
    table (or the whole case)."""

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


def _get(d: dict, path: str, default=None):
    cur: Any = d
    for part in path.split("."):
        if not isinstance(cur, dict) or part not in cur:
            return default
        cur = cur[part]
    return cur


def _set(d: dict, path: str, value) -> None:
    parts = path.split(".")
    cur = d
    for part in parts[:-1]:
        if not isinstance(cur.get(part), dict):
            cur[part] = {}
        cur = cur[part]
    cur[parts[-1]] = value


def _drop(d: dict, path: str) -> None:
    parts = path.split(".")
    cur = d
    for part in parts[:-1]:
        cur = cur.get(part)
        if not isinstance(cur, dict):
            return
    cur.pop(parts[-1], None)


def _cell_text(col: Col, value) -> Any:
    """A case value as the table shows it."""
    if value is None:
        return None
    if col.kind == "param":
        from gainshare.schema.workbook_layout import format_number, format_param

        v = format_param(value)
        return format_number(v) if isinstance(v, float) else v
    return value


def case_tables(case: Case) -> dict[str, pd.DataFrame]:
    """The case as editable tables (parties, contracts, costs, schemes, scenarios)."""
    data = case.model_dump(mode="json", exclude_none=True)
    out = {}
    for spec in TABLES:
        items = [_get(data, spec.path)] if spec.single else (_get(data, spec.path) or [])
        rows = [{c.label: _cell_text(c, _get(it, c.key)) for c in spec.cols} for it in items]
        frame = pd.DataFrame(rows, columns=[c.label for c in spec.cols])
        for c in spec.cols:
            if c.kind in ("number", "int"):
                frame[c.label] = pd.to_numeric(frame[c.label], errors="coerce").astype(float)
            else:
                frame[c.label] = frame[c.label].astype(object)
        out[spec.name] = frame
    return out


def _blank(v) -> bool:
    if v is None:
        return True
    if isinstance(v, float) and math.isnan(v):
        return True
    return isinstance(v, str) and not v.strip()


def _cell_value(col: Col, v):
    """Table cell -> case value; ValueError with a message when it cannot be read."""
    if col.kind == "param":
        from gainshare.schema.workbook_layout import ParamTextError, parse_param

        if isinstance(v, int | float):
            return float(v)
        try:
            return parse_param(str(v))
        except ParamTextError as e:
            raise ValueError(f"{e}: write {PARAM_HELP}") from None
    if col.kind in ("number", "int"):
        try:
            x = float(str(v).replace(",", "")) if isinstance(v, str) else float(v)
        except ValueError:
            raise ValueError(f"{v!r} is not a number: write a plain number") from None
        if col.kind == "int":
            if not x.is_integer():
                raise ValueError(f"{v!r} is not a whole number: write a whole number")
            return int(x)
        return x
    return str(v).strip()


def _read_rows(spec: TableSpec, frame: pd.DataFrame, problems: list) -> list[tuple[int, dict]]:
    """(row position, {key: value or None}) for every row that is not wholly blank."""
    rows = []
    for pos, (_, r) in enumerate(frame.iterrows()):
        cells = {c.key: r.get(c.label) for c in spec.cols}
        if all(_blank(v) for v in cells.values()):
            continue
        out = {}
        ident = "" if _blank(cells.get(spec.match)) else str(cells.get(spec.match))
        for c in spec.cols:
            v = cells[c.key]
            if _blank(v):
                out[c.key] = None
                continue
            try:
                out[c.key] = _cell_value(c, v)
            except ValueError as e:
                problems.append(CellProblem(spec.name, pos, c.label, str(e), ident))
        rows.append((pos, out))
    return rows


def _apply(item: dict, values: dict) -> dict:
    item = dict(item)
    for key, v in values.items():
        if v is None:
            _drop(item, key)
        else:
            _set(item, key, v)
    stepped = _get(item, "costs.stepped")
    if isinstance(stepped, dict) and not stepped:
        _drop(item, "costs.stepped")
    return item


def _merge_items(base: list[dict], rows, spec: TableSpec) -> tuple[list[dict], list[int], dict]:
    """Rows over the base items: an item keeps the fields the table does not show (moves,
    benefits, named values...). A row matches the base item with its id, else the one at its
    position whose id no row uses (a rename: old id -> new id)."""
    by_id = {it.get(spec.match): it for it in base}
    used = {vals.get(spec.match) for _, vals in rows}
    items, positions, renamed = [], [], {}
    for i, (pos, vals) in enumerate(rows):
        b = by_id.get(vals.get(spec.match))
        if b is None and i < len(base) and base[i].get(spec.match) not in used:
            b = base[i]
            renamed[b.get(spec.match)] = vals.get(spec.match)
        items.append(_apply(b or {}, vals))
        positions.append(pos)
    return items, positions, renamed


def _follow_renames(data: dict, path: str, renamed: dict) -> None:
    """A renamed contract or scheme keeps its named-scenario values: their parameter paths
    (`schemes.<id>.targeting`) follow the new id."""
    if path not in ("contracts", "schemes") or not renamed:
        return
    for named in _get(data, "uncertainty.named") or []:
        values = named.get("values") or {}
        named["values"] = {_renamed_path(k, path, renamed): v for k, v in values.items()}


def _renamed_path(param: str, kind: str, renamed: dict) -> str:
    head, _, rest = param.partition(".")
    ident, _, tail = rest.partition(".")
    if head == kind and ident in renamed:
        return f"{kind}.{renamed[ident]}.{tail}"
    return param


@dataclass
class _Assembly:
    data: dict
    problems: list[CellProblem] = field(default_factory=list)
    positions: dict[str, list[int]] = field(default_factory=dict)
    costs_rows: dict[str, int] = field(default_factory=dict)  # contract id -> costs row


def _assemble_costs(a: _Assembly, frame: pd.DataFrame) -> None:
    spec = TABLE_BY_NAME["costs"]
    contracts = a.data.get("contracts", [])
    index = {c.get("id"): i for i, c in enumerate(contracts)}
    for pos, vals in _read_rows(spec, frame, a.problems):
        cid = vals.pop("id")
        if cid not in index:
            a.problems.append(CellProblem("costs", pos, "Contract",
                                          f"no contract '{cid}' in the Contracts table: fix the "
                                          "id or add the contract", str(cid or "")))  # fmt: skip
            continue
        a.costs_rows[cid] = pos
        contracts[index[cid]] = _apply(contracts[index[cid]], vals)


def case_from_tables(case: Case, tables: dict[str, pd.DataFrame]) -> Edit:
    """The case with its tables replaced by the edited ones: a validated Case, or problems
    naming the table, row and column of each (validation runs on every edit)."""
    a = _Assembly(case.model_dump(mode="json", exclude_none=True))
    for spec in TABLES:
        frame = tables.get(spec.name)
        if frame is None:
            continue
        if spec.name == "costs":
            _assemble_costs(a, frame)
            continue
        rows = _read_rows(spec, frame, a.problems)
        if spec.single:
            base = _get(a.data, spec.path) or {}
            _set(a.data, spec.path, _apply(base, rows[0][1] if rows else {}))
            a.positions[spec.name] = [0]
            continue
        items, pos, renamed = _merge_items(_get(a.data, spec.path) or [], rows, spec)
        _set(a.data, spec.path, items)
        a.positions[spec.name] = pos
        _follow_renames(a.data, spec.path, renamed)
    if a.problems:
        return Edit(None, a.problems)
    try:
        return Edit(Case.model_validate(a.data))
    except ValidationError as e:
        return Edit(None, [_locate(line, a) for line in format_validation("case", e)])


_LINE = re.compile(r"^case: (?P<path>\S+?): (?P<msg>.+)$", re.S)
_ITEM = re.compile(r"^(?P<list>[a-z_.]+)\[(?P<i>\d+)\](?:\.(?P<rest>.+))?$")


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
    m = _LINE.match(line)
    if not m:
        return CellProblem(None, None, None, line.removeprefix("case: "))
    path, msg = m["path"], m["msg"]
    if path.startswith("uncertainty.") and "[" not in path:
        spec = TABLE_BY_NAME["uncertainty"]
        return CellProblem("uncertainty", 0, _column(spec, path[12:]), msg)
    it = _ITEM.match(path)
    if not it:
        return CellProblem(None, None, None, f"{path}: {msg}")
    lst, i, rest = it["list"], int(it["i"]), it["rest"]
    if lst == "contracts" and rest and rest.startswith("costs"):
        cid = (_get(a.data, "contracts") or [{}] * (i + 1))[i].get("id", "")
        spec = TABLE_BY_NAME["costs"]
        return CellProblem("costs", a.costs_rows.get(cid), _column(spec, rest) or rest, msg, cid)
    spec = next((t for t in TABLES if t.path == lst and t.name != "costs"), None)
    if spec is None:
        return CellProblem(None, None, None, f"{path}: {msg}")
    items = _get(a.data, lst) or []
    ident = str(items[i].get(spec.match, "")) if i < len(items) else ""
    pos = a.positions.get(spec.name, [])
    row = pos[i] if i < len(pos) else i
    return CellProblem(spec.name, row, _column(spec, rest) or rest, msg, ident)


# ---------------------------------------------------------------- requirements


KEEP_COLS = ("Organisation", "Requirement", "Level (% of scenarios)", "Tolerance (£ a year)")
FIXED_COLS = (
    "Organisation",
    "Fixed gain share (%)",
    "Fixed loss share (%)",
    "Minimum gain share (%)",
    "Fixed cap (£ a year)",
    "Fixed collar (£ a year)",
)


def keep_whole_frame(case: Case) -> pd.DataFrame:
    """Keep-whole requirement per party (index: party id)."""
    rows = {}
    for p in case.parties:
        kw = case.keep_whole_for(p.id)
        rows[p.id] = (p.name, MODE_LABELS[kw.mode], 100 * kw.beta, kw.tolerance)
    return pd.DataFrame.from_dict(rows, orient="index", columns=list(KEEP_COLS))


def fixed_terms_frame(case: Case) -> pd.DataFrame:
    """Terms the room has already agreed, per party (index: party id); blank = free."""
    r = case.requirements
    rows = {}
    for p in case.parties:
        cap, col = r.caps.get(p.id), r.collars.get(p.id)
        rows[p.id] = (
            p.name,
            _pct_or_nan(r.fixed_gain_shares.get(p.id)),
            _pct_or_nan(r.fixed_loss_shares.get(p.id)),
            _pct_or_nan(r.driver_min_gain_share.get(p.id)),
            _fixed_amount(cap),
            _fixed_amount(col),
        )
    return pd.DataFrame.from_dict(rows, orient="index", columns=list(FIXED_COLS))


def _pct_or_nan(v: float | None) -> float:
    return float("nan") if v is None else 100 * v


def _fixed_amount(rule) -> float:
    if rule is None or rule.decide or rule.basis != "amount":
        return float("nan")
    return float(rule.value)


@dataclass(frozen=True)
class Settings:
    """Requirements that are one value each."""

    objective: str = "commissioners"
    rounding: str = "none"
    commissioners_min: float | None = None


def settings_of(case: Case) -> Settings:
    r = case.requirements
    return Settings(r.objective, r.rounding, r.commissioners_min_expected)


def objectives_for(case: Case) -> list[str]:
    """Objectives the case can use (the fair reference needs a reference split)."""
    return [o for o in OBJECTIVES
            if o != "fair_reference" or case.requirements.reference_split is not None]  # fmt: skip


def _keep_whole_data(case: Case, frame: pd.DataFrame, problems: list) -> dict:
    modes = {v: k for k, v in MODE_LABELS.items()}
    out = {}
    for pos, (pid, r) in enumerate(frame.iterrows()):
        mode = modes.get(r.get("Requirement"))
        if mode is None:
            problems.append(CellProblem("keep", pos, "Requirement",
                                        f"choose one of {', '.join(MODE_LABELS.values())}",
                                        str(pid)))  # fmt: skip
            continue
        beta = r.get("Level (% of scenarios)")
        tol = r.get("Tolerance (£ a year)")
        kw = {"mode": mode}
        if not _blank(beta):
            if not 0 <= float(beta) <= 100:
                problems.append(CellProblem("keep", pos, "Level (% of scenarios)",
                                            f"is {float(beta):g}: give a percentage from 0 to 100",
                                            str(pid)))  # fmt: skip
            kw["beta"] = float(beta) / 100
        if not _blank(tol):
            kw["tolerance"] = float(tol)
        if pid in case.keep_whole or not _same_keep_whole(kw, case.keep_whole_for(str(pid))):
            out[str(pid)] = kw
    return out


def _same_keep_whole(kw: dict, current: KeepWhole) -> bool:
    try:
        return KeepWhole.model_validate(kw) == current
    except ValidationError:
        return False


def _limit_rule(old, amount) -> dict | None:
    """A fixed cap or collar in pounds, or the case's own rule when the cell is blank and
    that rule lets design choose."""
    if not _blank(amount):
        return {"decide": False, "basis": "amount", "value": float(amount)}
    if old is not None and old.decide:
        return old.model_dump(mode="json", exclude_none=True)
    return None


def _fixed_data(case: Case, frame: pd.DataFrame) -> dict:
    r = case.requirements
    out: dict[str, dict] = {"fixed_gain_shares": {}, "fixed_loss_shares": {},
                            "driver_min_gain_share": {}, "caps": {}, "collars": {}}  # fmt: skip
    for pid, row in frame.iterrows():
        pid = str(pid)
        for col, key in (("Fixed gain share (%)", "fixed_gain_shares"),
                         ("Fixed loss share (%)", "fixed_loss_shares"),
                         ("Minimum gain share (%)", "driver_min_gain_share")):  # fmt: skip
            if not _blank(row.get(col)):
                out[key][pid] = float(row.get(col)) / 100
        for col, key in (("Fixed cap (£ a year)", "caps"), ("Fixed collar (£ a year)", "collars")):
            rule = _limit_rule(getattr(r, key).get(pid), row.get(col))
            if rule is not None:
                out[key][pid] = rule
    return out


def with_requirements(
    case: Case, keep: pd.DataFrame, fixed: pd.DataFrame, settings: Settings
) -> Edit:
    """The case with the room's requirements: keep-whole per party, fixed terms, objective,
    rounding and the commissioners' minimum. A validated Case, or problems per cell."""
    problems: list[CellProblem] = []
    data = case.model_dump(mode="json", exclude_none=True)
    data["keep_whole"] = _keep_whole_data(case, keep, problems)
    req = data.get("requirements", {})
    req.update(_fixed_data(case, fixed))
    req["objective"] = settings.objective
    req["rounding"] = settings.rounding
    req.pop("commissioners_min_expected", None)
    if settings.commissioners_min is not None:
        req["commissioners_min_expected"] = float(settings.commissioners_min)
    data["requirements"] = req
    if problems:
        return Edit(None, problems)
    try:
        return Edit(Case.model_validate(data))
    except ValidationError as e:
        rows = list(keep.index)
        return Edit(None, [_locate_requirement(line, rows) for line in
                           format_validation("case", e)])  # fmt: skip


def requirements_of(case: Case, source: Case) -> Case:
    """`case` with the keep-whole requirements and design requirements of `source`."""
    data = case.model_dump(mode="json", exclude_none=True)
    theirs = source.model_dump(mode="json", exclude_none=True)
    for key in ("keep_whole", "requirements"):
        data[key] = theirs.get(key, {})
    return case_from_mapping(data, "requirements")


_REQ_COLUMNS = {
    "keep_whole": ("keep", {"mode": "Requirement", "beta": "Level (% of scenarios)",
                            "tolerance": "Tolerance (£ a year)"}),
    "requirements.fixed_gain_shares": ("fixed", {"": "Fixed gain share (%)"}),
    "requirements.fixed_loss_shares": ("fixed", {"": "Fixed loss share (%)"}),
    "requirements.driver_min_gain_share": ("fixed", {"": "Minimum gain share (%)"}),
    "requirements.caps": ("fixed", {"": "Fixed cap (£ a year)"}),
    "requirements.collars": ("fixed", {"": "Fixed collar (£ a year)"}),
}  # fmt: skip


def _locate_requirement(line: str, rows: list) -> CellProblem:
    m = _LINE.match(line)
    path, msg = (m["path"], m["msg"]) if m else ("", line.removeprefix("case: "))
    for prefix, (table, cols) in _REQ_COLUMNS.items():
        if not path.startswith(prefix + "."):
            continue
        pid, _, rest = path[len(prefix) + 1 :].partition(".")
        col = cols.get(rest.split(".")[0], cols.get(""))
        row = rows.index(pid) if pid in rows else None
        return CellProblem(table, row, col, msg, pid)
    return CellProblem(None, None, None, f"{path}: {msg}" if path else msg)


# ---------------------------------------------------------------- what-ifs


def _shift(value, delta: float, lo: float, hi: float):
    """A parameter moved by `delta` (every number it holds), kept inside [lo, hi]."""
    clip = lambda x: round(min(max(float(x) + delta, lo), hi), 10)  # noqa: E731
    if isinstance(value, list):
        return [_shift(v, delta, lo, hi) for v in value]
    if isinstance(value, int | float):
        return clip(value)
    d = dict(value)
    for k in ("value", "low", "mode", "high", "mean"):
        if d.get(k) is not None:
            d[k] = clip(d[k])
    if "values" in d:
        d["values"] = [clip(v) for v in d["values"]]
    return d


def _scheme_field(path: str) -> tuple[str, str]:
    parts = path.split(".")
    if len(parts) < 3 or parts[0] != "schemes":
        raise ValueError(f"{path}: a what-if takes a scheme parameter: schemes.<id>.<field>")
    return parts[1], ".".join(parts[2:])


def central_value(case: Case, path: str) -> float:
    """Central value of a scheme parameter (first year's, when it differs by year)."""
    from gainshare.economics.scenarios import parameters

    spec = next((p for p in parameters(case) if p.path == path), None)
    if spec is None:
        raise ValueError(f"{path}: no such parameter in the case")
    item = spec.param[0] if isinstance(spec.param, list) else spec.param
    return float(item) if isinstance(item, int | float) else float(item.central())


def with_central(case: Case, path: str, value: float, lo: float = 0.0, hi: float = 1.0) -> Case:
    """The case with a scheme parameter (e.g. `schemes.rapid_response.targeting`) moved so its
    central value is `value`: the whole distribution and any named scenario's value for it
    move by the same amount, kept within [lo, hi]."""
    sid, fld = _scheme_field(path)
    delta = float(value) - central_value(case, path)
    data = case.model_dump(mode="json", exclude_none=True)
    scheme = next(s for s in data["schemes"] if s["id"] == sid)
    _set(scheme, fld, _shift(_get(scheme, fld), delta, lo, hi))
    for named in _get(data, "uncertainty.named") or []:
        vals = named.get("values", {})
        if path in vals:
            vals[path] = _shift(vals[path], delta, lo, hi)
    return case_from_mapping(data, "what-if")


@dataclass(frozen=True)
class WhatIf:
    """The room's live changes on top of the case: requirement levels (re-solved with the
    persistent model) and scheme assumptions (a new model)."""

    tolerance: tuple[tuple[str, float], ...] = ()
    commissioners_min: float | None = None
    objective: str | None = None
    assumptions: tuple[tuple[str, float], ...] = ()

    def requirement_key(self) -> tuple:
        return (self.tolerance, self.commissioners_min, self.objective)


def apply_assumptions(case: Case, whatif: WhatIf) -> Case:
    for path, v in whatif.assumptions:
        case = with_central(case, path, v)
    return case


def apply_requirements(case: Case, whatif: WhatIf) -> Case:
    """The case with the what-if requirement levels written into it (so that check, repair,
    the term sheet and the downloads judge against what the room has set)."""
    data = case.model_dump(mode="json", exclude_none=True)
    kw = data.setdefault("keep_whole", {})
    for pid, tol in whatif.tolerance:
        base = case.keep_whole_for(pid).model_dump(mode="json")
        kw[pid] = kw.get(pid, base) | {"tolerance": float(tol)}
    req = data.setdefault("requirements", {})
    if whatif.objective is not None:
        req["objective"] = whatif.objective
    req.pop("commissioners_min_expected", None)
    cmin = whatif.commissioners_min
    if cmin is None:
        cmin = case.requirements.commissioners_min_expected
    if cmin is not None:
        req["commissioners_min_expected"] = float(cmin)
    return case_from_mapping(data, "what-if")


def nice_steps(top: float) -> list[float]:
    """0 and round amounts up to at least `top` (for money sliders), finer at the low end:
    1, 1.5, 2, 2.5, 3, 4, 5 and 7.5 of each power of ten from about a thousandth of `top`."""
    top = max(float(top), 1000.0)
    k = math.floor(math.log10(top)) - 3
    out = [0.0]
    while not out or out[-1] < top:
        for m in (1, 1.5, 2, 2.5, 3, 4, 5, 7.5):
            out.append(float(m * 10**k))
            if out[-1] >= top:
                break
        k += 1
    return out


def tolerance_steps(case: Case, econ, pid: str) -> list[float]:
    """Slider positions for a party's tolerance (pounds a year): up to its largest yearly
    shortfall before any sharing (what it stands to lose), and including its current one."""
    cur = case.keep_whole_for(pid).tolerance
    top = cur
    if econ is not None:
        j = econ.party_ids.index(pid)
        before = (econ.revenue_change - econ.total_cost_change)[:, :, j]
        top = max(top, float(-before.min()))
    return sorted(set(nice_steps(top)) | {cur})


def expected_savings(econ) -> float:
    """Expected system savings over the agreement (pounds), however the pool is split."""
    return float(econ.weights @ (-econ.total_cost_change.sum(axis=(1, 2))))


# ---------------------------------------------------------------- the room's proposal


def _tier_label(tiers, kind: str, k: int, currency: str) -> str:
    return tier_headers(tiers, "Gains" if kind == "gain" else "Losses", currency)[k] + " (%)"


def proposal_frame(case: Case, agreement: Agreement) -> pd.DataFrame:
    """Shares (%), caps and collars of the base terms, one row a party (index: party id)."""
    t = agreement.terms
    cols = {}
    for kind, tiers in (("gain", t.gain_tiers), ("loss", t.loss_tiers)):
        for k, tier in enumerate(tiers):
            cols[_tier_label(tiers, kind, k, case.currency)] = [
                100 * tier.shares.get(pid, 0.0) for pid in case.party_ids
            ]
    cols["Cap (a year)"] = [format_limit(t.caps.get(pid)) for pid in case.party_ids]
    cols["Collar (a year)"] = [format_limit(t.collars.get(pid)) for pid in case.party_ids]
    frame = pd.DataFrame(cols, index=case.party_ids)
    frame.insert(0, "Organisation", [p.name for p in case.parties])
    return frame


def format_limit(lim) -> str:
    if lim is None:
        return ""
    if lim.amount is not None:
        return f"£{lim.amount:,.0f}"
    return f"{_trim(100 * lim.share_of_expected)}% of expected payment"


def _trim(v: float) -> str:
    s = f"{v:.4f}".rstrip("0").rstrip(".")
    return s or "0"


_AMOUNT = re.compile(r"^[£$€]?\s*(?P<n>[\d,]*\.?\d+)\s*(?P<u>[mk]?)$", re.I)
_SHARE = re.compile(r"^(?P<n>\d*\.?\d+)\s*%")


def parse_limit(text) -> dict | None:
    """'£500k', '500000', '£1.5m' -> an amount; '2%' or '2% of expected payment' -> a share of
    the provider's expected payment; blank -> no limit. ValueError when unreadable."""
    if _blank(text):
        return None
    s = str(text).strip()
    m = _SHARE.match(s)
    if m:
        return {"share_of_expected": float(m["n"]) / 100}
    m = _AMOUNT.match(s.replace(" ", ""))
    if not m:
        raise ValueError(f"{s!r} is not an amount: write e.g. £500k, £1.5m, 500000 or 2%")
    scale = {"": 1, "k": 1e3, "m": 1e6}[m["u"].lower()]
    return {"amount": float(m["n"].replace(",", "")) * scale}


def agreement_from_proposal(case: Case, base: Agreement, frame: pd.DataFrame) -> Edit:
    """The base agreement with the room's shares, caps and collars: a validated Agreement, or
    problems naming the party and column of each."""
    problems: list[CellProblem] = []
    terms = base.terms.model_dump(mode="json", exclude_none=True)
    rows = list(frame.index)
    for kind in ("gain", "loss"):
        tiers = terms[f"{kind}_tiers"]
        base_tiers = getattr(base.terms, f"{kind}_tiers")
        for k, tier in enumerate(tiers):
            col = _tier_label(base_tiers, kind, k, case.currency)
            tier["shares"] = {str(pid): float(v) / 100 for pid, v in frame[col].items()
                              if not _blank(v)}  # fmt: skip
    for col, key in (("Cap (a year)", "caps"), ("Collar (a year)", "collars")):
        terms[key] = {}
        for pos, (pid, text) in enumerate(frame[col].items()):
            try:
                lim = parse_limit(text)
            except ValueError as e:
                problems.append(CellProblem("proposal", pos, col, str(e), str(pid)))
                continue
            if lim is not None:
                terms[key][str(pid)] = lim
    if problems:
        return Edit(None, problems)
    data = agreement_to_dict(base) | {"terms": terms, "name": "The room's proposal"}
    try:
        agreement = Agreement.model_validate(data)
    except ValidationError as e:
        return Edit(None, [_locate_term(line, rows, base, case.currency) for line in
                           format_validation("case", e)])  # fmt: skip
    lines = [f"case: {p}" for p in agreement_problems(agreement, case)]
    if lines:
        return Edit(None, [_locate_term(line, rows, base, case.currency) for line in lines])
    return Edit(agreement)


_TERM = re.compile(r"^(?:terms|year_overrides\.\d+)\.(?P<kind>gain|loss)_tiers\[(?P<k>\d+)\]"
                   r"(?:\.shares(?:\.(?P<pid>[\w\-]+))?)?")  # fmt: skip
_LIMIT = re.compile(r"^(?:terms|year_overrides\.\d+)\.(?P<key>caps|collars)\.(?P<pid>[\w\-]+)")


def _locate_term(line: str, rows: list, base: Agreement, currency: str) -> CellProblem:
    m = _LINE.match(line)
    path, msg = (m["path"], m["msg"]) if m else ("", line.removeprefix("case: "))
    t = _TERM.match(path)
    if t and path.startswith("terms."):
        tiers = getattr(base.terms, f"{t['kind']}_tiers")
        col = _tier_label(tiers, t["kind"], int(t["k"]), currency)
        pid = t["pid"]
        row = rows.index(pid) if pid in rows else None
        return CellProblem("proposal", row, col, msg, pid or "")
    lm = _LIMIT.match(path)
    if lm:
        pid = lm["pid"]
        col = "Cap (a year)" if lm["key"] == "caps" else "Collar (a year)"
        return CellProblem("proposal", rows.index(pid) if pid in rows else None, col, msg, pid)
    return CellProblem("proposal", None, None, f"{path}: {msg}" if path else msg)


def rounded(agreement: Agreement, step: float = 0.01, name: str | None = None) -> Agreement:
    """The agreement with every tier's shares in whole steps (largest remainder, so each tier
    still sums to exactly 100%) and caps and collars to the nearest £10,000: the kind of
    numbers a room writes down. Base terms only; year overrides are kept as they are."""
    terms = agreement.terms.model_dump(mode="json", exclude_none=True)
    for kind in ("gain_tiers", "loss_tiers"):
        for tier in terms[kind]:
            tier["shares"] = _round_shares(tier["shares"], step)
    for key in ("caps", "collars"):
        for lim in terms.get(key, {}).values():
            if lim.get("amount") is not None:
                lim["amount"] = float(round(lim["amount"] / 10_000) * 10_000)
    data = agreement_to_dict(agreement) | {"terms": terms}
    if name:
        data["name"] = name
    return Agreement.model_validate(data)


def _round_shares(shares: dict[str, float], step: float) -> dict[str, float]:
    units = round(1 / step)
    raw = {k: v * units for k, v in shares.items()}
    floor = {k: math.floor(v + 1e-9) for k, v in raw.items()}
    short = units - sum(floor.values())
    order = sorted(raw, key=lambda k: (-(raw[k] - floor[k]), k))
    for k in order[: max(short, 0)]:
        floor[k] += 1
    return {k: round(v / units, 10) for k, v in floor.items()}


# ---------------------------------------------------------------- downloads


@dataclass(frozen=True)
class Download:
    label: str
    file_name: str
    mime: str
    make: Any  # () -> bytes, called only when the file is asked for


def slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")[:60] or "agreement"


def downloads(case: Case, agreement: Agreement, result: CheckResult) -> list[Download]:
    """Term sheet (Markdown, HTML), the agreement YAML, the Excel workbook (agreement, inputs
    and per-scenario settlement) and the case as edited."""
    stem = slug(case.name)

    def sheet():
        from gainshare.report.termsheet import term_sheet

        return term_sheet(case, agreement, result)

    def workbook() -> bytes:
        from gainshare.report.statements import build_statements

        wb, _ = build_statements(case, agreement, result)
        buf = io.BytesIO()
        wb.save(buf)
        return buf.getvalue()

    xlsx = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    return [
        Download("Term sheet (HTML)", f"{stem}.term-sheet.html", "text/html",
                 lambda: sheet().html().encode("utf-8")),
        Download("Term sheet (Markdown)", f"{stem}.term-sheet.md", "text/markdown",
                 lambda: sheet().markdown().encode("utf-8")),
        Download("Agreement (YAML)", f"{stem}.agreement.yaml", "application/x-yaml",
                 lambda: agreement_yaml(agreement).encode("utf-8")),
        Download("Workbook (Excel)", f"{stem}.statements.xlsx", xlsx, workbook),
        Download("Case (YAML)", f"{stem}.yaml", "application/x-yaml",
                 lambda: case_yaml(case).encode("utf-8")),
    ]  # fmt: skip


# ---------------------------------------------------------------- candidates side by side


@dataclass(frozen=True)
class Candidate:
    label: str
    agreement: Agreement
    check: CheckResult
    meets: bool | None = None  # meets every requirement of the case (None: not known)
    method: str = ""


def compare_frame(case: Case, items: list[Candidate]) -> pd.DataFrame:
    """Candidates side by side (one column each): whether it meets every requirement, the
    headline figures and each organisation's expected net."""
    cur = case.currency
    cols = {}
    for it in items:
        h = headline(case, it.check)
        by = it.check.document["by_party"]
        col = {
            "Meets every requirement": {True: "Yes", False: "No", None: ""}[
                it.meets if it.meets is not None else h.all_met
            ],
            "Commissioners keep (expected)": money(h.commissioners_keep, cur),
            "System savings (expected)": money(h.system_savings, cur),
            "Worst provider year": money(h.worst_provider_year, cur),
            "Everyone kept whole in": pct(h.prob_all_whole),
        }
        for p in case.parties:
            d = by[p.id]
            col[f"{p.name}: expected net"] = money(d["expected_net"], cur)
        cols[_unique_label(it.label, cols)] = col
    return pd.DataFrame(cols)


def _unique_label(label: str, taken) -> str:
    out, n = label, 2
    while out in taken:
        out, n = f"{label} ({n})", n + 1
    return out


def tradeoff_points(
    case: Case, items: list[Candidate], chosen: str | None = None, x: str = "worst"
) -> pd.DataFrame:
    """One row a candidate: label, x (worst provider year, or with x="whole" the share of
    scenarios in which everyone is kept whole), y (commissioners keep), chosen."""
    rows = []
    for it in items:
        h = headline(case, it.check)
        xv = h.worst_provider_year if x == "worst" else h.prob_all_whole
        rows.append({"label": it.label, "x": xv, "y": h.commissioners_keep,
                     "chosen": it.label == chosen})  # fmt: skip
    return pd.DataFrame(rows, columns=["label", "x", "y", "chosen"])


def shortfalls_frame(case: Case, result: CheckResult, rows: int = 20) -> pd.DataFrame:
    """The largest shortfalls below the keep-whole line: who, which scenario and year, how
    much."""
    cur = case.currency
    out = [{"Organisation": case.party(v["party"]).name, "Scenario": v["scenario"],
            "Year": v["year_label"], "Short by": money(v["shortfall"], cur)}
           for v in result.document["violations"][:rows]]  # fmt: skip
    return pd.DataFrame(out, columns=["Organisation", "Scenario", "Year", "Short by"])
