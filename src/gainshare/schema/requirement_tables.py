"""The case's requirements as editable tables and back: how strictly each organisation must be
kept whole, terms the room has already agreed, and the requirements that are one value each
(objective, rounding, the commissioners' minimum). Each table's index holds the organisation's
id (hidden from the room, who sees its name); problems name the organisation and column."""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd
from pydantic import ValidationError

from gainshare.schema.case import Case, KeepWhole
from gainshare.schema.io import case_from_mapping, format_validation
from gainshare.schema.requirements import OBJECTIVES
from gainshare.schema.tables import CellProblem, Edit, blank, number, percent_value, split_line
from gainshare.units import SYMBOLS

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
    """Keep-whole requirement per organisation (index: its id)."""
    rows = {}
    for p in case.parties:
        kw = case.keep_whole_for(p.id)
        rows[p.id] = (p.name, MODE_LABELS[kw.mode], percent_value(kw.beta), kw.tolerance)
    return pd.DataFrame.from_dict(rows, orient="index", columns=list(KEEP_COLS))


def _pct_or_nan(v: float | None) -> float:
    return float("nan") if v is None else percent_value(v)


def _fixed_amount(rule) -> float:
    if rule is None or rule.decide or rule.basis != "amount":
        return float("nan")
    return float(rule.value)


def fixed_terms_frame(case: Case) -> pd.DataFrame:
    """Terms the room has already agreed, per organisation (index: its id); blank = free."""
    r = case.requirements
    rows = {}
    for p in case.parties:
        rows[p.id] = (
            p.name,
            _pct_or_nan(r.fixed_gain_shares.get(p.id)),
            _pct_or_nan(r.fixed_loss_shares.get(p.id)),
            _pct_or_nan(r.driver_min_gain_share.get(p.id)),
            _fixed_amount(r.caps.get(p.id)),
            _fixed_amount(r.collars.get(p.id)),
        )
    return pd.DataFrame.from_dict(rows, orient="index", columns=list(FIXED_COLS))


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
    req = case.requirements
    return [o for o in OBJECTIVES if o != "fair_reference" or req.reference_split is not None]


def _cell(problems: list, pos: int, col: str, name: str, v, whole=False):
    try:
        return number(v, whole)
    except ValueError as e:
        problems.append(CellProblem("keep", pos, col, str(e), name))
        return None


def _keep_whole_data(case: Case, frame: pd.DataFrame, problems: list) -> dict:
    modes = {v: k for k, v in MODE_LABELS.items()}
    out = {}
    for pos, (pid, r) in enumerate(frame.iterrows()):
        name = str(r.get("Organisation", pid))
        mode = modes.get(r.get("Requirement"))
        if mode is None:
            problems.append(CellProblem("keep", pos, "Requirement",
                                        f"choose one of {', '.join(MODE_LABELS.values())}",
                                        name))  # fmt: skip
            continue
        kw = {"mode": mode}
        beta = r.get("Level (% of scenarios)")
        b = None if blank(beta) else _cell(problems, pos, "Level (% of scenarios)", name, beta)
        if b is not None:
            if not 0 <= b <= 100:
                problems.append(CellProblem("keep", pos, "Level (% of scenarios)",
                                            f"is {b:g}: give a percentage from 0 to 100",
                                            name))  # fmt: skip
            kw["beta"] = b / 100
        tol = r.get("Tolerance (£ a year)")
        t = None if blank(tol) else _cell(problems, pos, "Tolerance (£ a year)", name, tol)
        if t is not None:
            kw["tolerance"] = t
        current = case.keep_whole_for(str(pid))
        if pid in case.keep_whole or not _same_keep_whole(kw, current):
            out[str(pid)] = current.model_dump(mode="json") | kw
    return out


def _same_keep_whole(kw: dict, current: KeepWhole) -> bool:
    try:
        return KeepWhole.model_validate(current.model_dump() | kw) == current
    except ValidationError:
        return False


def _limit_rule(old, amount) -> dict | None:
    """A fixed cap or collar in pounds, or the case's own rule when the cell is blank and
    that rule lets design choose."""
    if not blank(amount):
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
            if not blank(row.get(col)):
                out[key][pid] = round(float(row.get(col)) / 100, 10)
        for col, key in (("Fixed cap (£ a year)", "caps"), ("Fixed collar (£ a year)", "collars")):
            rule = _limit_rule(getattr(r, key).get(pid), row.get(col))
            if rule is not None:
                out[key][pid] = rule
    return out


def with_requirements(
    case: Case, keep: pd.DataFrame, fixed: pd.DataFrame, settings: Settings
) -> Edit:
    """The case with the room's requirements: keep-whole per organisation, fixed terms,
    objective, rounding and the commissioners' minimum. A validated Case, or problems per
    cell."""
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
        names = {p.id: p.name for p in case.parties}
        rows = list(keep.index)
        return Edit(None, [_locate(line, rows, names) for line in
                           format_validation("case", e)])  # fmt: skip


def requirements_of(case: Case, source: Case) -> Case:
    """`case` with the keep-whole requirements and design requirements of `source`."""
    data = case.model_dump(mode="json", exclude_none=True)
    theirs = source.model_dump(mode="json", exclude_none=True)
    for key in ("keep_whole", "requirements"):
        data[key] = theirs.get(key, {})
    return case_from_mapping(data, "requirements")


_COLUMNS = {
    "keep_whole": ("keep", {"mode": "Requirement", "beta": "Level (% of scenarios)",
                            "tolerance": "Tolerance (£ a year)"}),
    "requirements.fixed_gain_shares": ("fixed", {"": "Fixed gain share (%)"}),
    "requirements.fixed_loss_shares": ("fixed", {"": "Fixed loss share (%)"}),
    "requirements.driver_min_gain_share": ("fixed", {"": "Minimum gain share (%)"}),
    "requirements.caps": ("fixed", {"": "Fixed cap (£ a year)"}),
    "requirements.collars": ("fixed", {"": "Fixed collar (£ a year)"}),
}  # fmt: skip


def _locate(line: str, rows: list, names: dict[str, str]) -> CellProblem:
    path, msg = split_line(line)
    for prefix, (table, cols) in _COLUMNS.items():
        if not path.startswith(prefix + "."):
            continue
        pid, _, rest = path[len(prefix) + 1 :].partition(".")
        col = cols.get(rest.split(".")[0], cols.get(""))
        row = rows.index(pid) if pid in rows else None
        return CellProblem(table, row, col, msg, names.get(pid, pid))
    return CellProblem(None, None, None, f"{path}: {msg}" if path else msg)


__all__ = ["FIXED_COLS", "KEEP_COLS", "MODE_LABELS", "OBJECTIVE_LABELS", "ROUNDING_LABELS",
           "Settings", "fixed_terms_frame", "keep_whole_frame", "objectives_for",
           "requirements_of", "settings_of", "with_requirements"]  # fmt: skip


# ---------------------------------------------------------------- terms the case sets


def _limit_words(lim, currency: str, whose: str) -> str:
    if lim.amount is not None:  # a term is written in full: £90,000, not £90k
        return f"{SYMBOLS.get(currency, currency + ' ')}{lim.amount:,.2f}".removesuffix(".00")
    return f"{100 * lim.share_of_expected:g}% of {whose} expected payments"


def _names(case: Case, ids: list[str]) -> str:
    names = [case.party(pid).name for pid in ids]
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]


def stated_terms(case: Case) -> list[str]:
    """The terms the case sets for every agreement (a programme's rules: quality-scaled loss
    shares, group limits, limits over the whole agreement), one sentence each. Design keeps
    them and searches the shares under them; the room changes them in the case file."""
    req, cur = case.requirements, case.currency
    out = [f"{case.party(pid).name}'s share of a loss is multiplied by {r.intercept:g} - "
           f"{r.slope:g} x its quality score / 100, at least {100 * r.min_rate:g}% and at most "
           f"{100 * r.max_rate:g}%." for pid, r in req.loss_quality.items()]  # fmt: skip

    def group(g, when: str) -> str:
        parts = [
            f"{verb} at most {_limit_words(lim, cur, 'their')}"
            for verb, lim in (("gain", g.cap), ("lose", g.collar))
            if lim is not None
        ]
        return (f"{_names(case, g.members)} together (group {g.name}) {' and '.join(parts)} "
                f"{when}; each member's transfer is reduced in proportion.")  # fmt: skip

    out += [group(g, "in any year") for g in req.group_limits]
    agg = req.aggregate_limits
    if agg is not None:
        for kind, verb in (("caps", "gains"), ("collars", "loses")):
            out += [
                f"Over the whole agreement {case.party(pid).name} {verb} at most "
                f"{_limit_words(lim, cur, 'its')}."
                for pid, lim in getattr(agg, kind).items()
            ]
        out += [group(g, "over the whole agreement") for g in agg.groups]
    return out
