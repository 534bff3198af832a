"""The room's proposal as an editable table and back: each organisation's share of every gain
and loss tier (%), its cap and its collar, one row an organisation (its id in the hidden
index). Also the agreements the room starts from: one in round numbers, and an even split for
a case where nothing has been designed."""

from __future__ import annotations

import math
import re

import pandas as pd
from pydantic import ValidationError

from gainshare.schema.agreement import Agreement
from gainshare.schema.case import Case
from gainshare.schema.io import agreement_problems, agreement_to_dict, format_validation
from gainshare.schema.tables import CellProblem, Edit, blank, percent_value, split_line
from gainshare.units import SYMBOLS, money, pct

CAP, COLLAR = "Cap (a year)", "Collar (a year)"
LIMIT_HELP = ("Most it can gain a year: £500k, £1.5m, 500000, or 2% (of its expected payment); "
              "empty: no cap")  # fmt: skip


def _edge(lim, currency: str) -> str:
    if lim.amount is not None:
        return money(lim.amount, currency)
    return f"{pct(lim.share_of_expected)} of spend"


def tier_headers(tiers, word: str, currency: str = "GBP") -> list[str]:
    """'Gains: first £3.00m', 'Gains: £3.00m to £5.00m', 'Gains above £5.00m' (or 'Gains' for
    one tier)."""
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


def _tier_label(tiers, kind: str, k: int, currency: str) -> str:
    return tier_headers(tiers, "Gains" if kind == "gain" else "Losses", currency)[k] + " (%)"


def format_limit(lim, currency: str = "GBP") -> str:
    """A cap or collar as the room writes it: £500,000 or 2% of expected payment."""
    if lim is None:
        return ""
    if lim.amount is not None:
        return f"{SYMBOLS.get(currency, currency + ' ')}{lim.amount:,.0f}"
    return f"{_trim(100 * lim.share_of_expected)}% of expected payment"


def _trim(v: float) -> str:
    s = f"{v:.4f}".rstrip("0").rstrip(".")
    return s or "0"


def proposal_frame(case: Case, agreement: Agreement) -> pd.DataFrame:
    """Shares (%), caps and collars of the base terms, one row an organisation (index: id)."""
    t = agreement.terms
    cols = {}
    for kind, tiers in (("gain", t.gain_tiers), ("loss", t.loss_tiers)):
        for k, tier in enumerate(tiers):
            cols[_tier_label(tiers, kind, k, case.currency)] = [
                percent_value(tier.shares.get(pid, 0.0)) for pid in case.party_ids
            ]
    cols[CAP] = [format_limit(t.caps.get(pid), case.currency) for pid in case.party_ids]
    cols[COLLAR] = [format_limit(t.collars.get(pid), case.currency) for pid in case.party_ids]
    frame = pd.DataFrame(cols, index=case.party_ids)
    frame.insert(0, "Organisation", [p.name for p in case.parties])
    return frame


_AMOUNT = re.compile(r"^[£$€]?\s*(?P<n>[\d,]*\.?\d+)\s*(?P<u>[mk]?)$", re.I)
_SHARE = re.compile(r"^(?P<n>\d*\.?\d+)\s*%")


def parse_limit(text) -> dict | None:
    """'£500k', '500000', '£1.5m' -> an amount; '2%' or '2% of expected payment' -> a share of
    the provider's expected payment; blank -> no limit. ValueError when unreadable."""
    if blank(text):
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


def _shares(frame: pd.DataFrame, col: str, problems: list, names: dict) -> dict[str, float]:
    out = {}
    for pos, (pid, v) in enumerate(frame[col].items()):
        if blank(v):
            continue
        try:
            x = float(v)
        except (TypeError, ValueError):
            problems.append(CellProblem("proposal", pos, col, f"{v!r} is not a number: write a "
                                        "percentage such as 35", names.get(pid, "")))  # fmt: skip
            continue
        if not math.isfinite(x):
            problems.append(CellProblem("proposal", pos, col, "write a percentage such as 35",
                                        names.get(pid, "")))  # fmt: skip
            continue
        out[str(pid)] = round(x / 100, 10)
    return out


def agreement_from_proposal(case: Case, base: Agreement, frame: pd.DataFrame) -> Edit:
    """The base agreement with the room's shares, caps and collars: a validated Agreement, or
    problems naming the organisation and column of each."""
    problems: list[CellProblem] = []
    names = {p.id: p.name for p in case.parties}
    terms = base.terms.model_dump(mode="json", exclude_none=True)
    rows = list(frame.index)
    for kind in ("gain", "loss"):
        base_tiers = getattr(base.terms, f"{kind}_tiers")
        for k, tier in enumerate(terms[f"{kind}_tiers"]):
            col = _tier_label(base_tiers, kind, k, case.currency)
            tier["shares"] = _shares(frame, col, problems, names)
    for col, key in ((CAP, "caps"), (COLLAR, "collars")):
        terms[key] = {}
        for pos, (pid, text) in enumerate(frame[col].items()):
            try:
                lim = parse_limit(text)
            except ValueError as e:
                problems.append(CellProblem("proposal", pos, col, str(e), names.get(pid, "")))
                continue
            if lim is not None:
                terms[key][str(pid)] = lim
    if problems:
        return Edit(None, problems)
    data = agreement_to_dict(base) | {"terms": terms, "name": "The room's proposal"}
    try:
        agreement = Agreement.model_validate(data)
    except ValidationError as e:
        return Edit(None, [_locate(line, rows, base, case) for line in
                           format_validation("proposal", e)])  # fmt: skip
    lines = [f"proposal: {p}" for p in agreement_problems(agreement, case)]
    if lines:
        return Edit(None, [_locate(line, rows, base, case) for line in lines])
    return Edit(agreement)


_TERM = re.compile(r"^(?:terms|year_overrides\.\d+)\.(?P<kind>gain|loss)_tiers\[(?P<k>\d+)\]"
                   r"(?:\.shares(?:\.(?P<pid>[\w\-]+))?)?")  # fmt: skip
_LIMIT = re.compile(r"^(?:terms|year_overrides\.\d+)\.(?P<key>caps|collars)\.(?P<pid>[\w\-]+)")


def _name_ids(text: str, case: Case) -> str:
    """A message with the organisations named as the room knows them."""
    for p in case.parties:
        text = re.sub(rf"'{re.escape(p.id)}'", f"'{p.name}'", text)
    return text


def _locate(line: str, rows: list, base: Agreement, case: Case) -> CellProblem:
    path, msg = split_line(line)
    msg = _name_ids(msg, case)
    names = {p.id: p.name for p in case.parties}
    t = _TERM.match(path)
    if t and path.startswith("terms."):
        tiers = getattr(base.terms, f"{t['kind']}_tiers")
        col = _tier_label(tiers, t["kind"], int(t["k"]), case.currency)
        pid = t["pid"]
        row = rows.index(pid) if pid in rows else None
        return CellProblem("proposal", row, col, msg, names.get(pid, ""))
    lm = _LIMIT.match(path)
    if lm:
        pid = lm["pid"]
        col = CAP if lm["key"] == "caps" else COLLAR
        return CellProblem("proposal", rows.index(pid) if pid in rows else None, col, msg,
                           names.get(pid, pid))  # fmt: skip
    return CellProblem("proposal", None, None, msg)


# ---------------------------------------------------------------- agreements to start from


def round_shares(shares: dict[str, float], step: float) -> dict[str, float]:
    """Shares in whole steps that still sum to exactly 1: each gets its floor, the steps still
    missing go to the largest remainders (ties by id)."""
    units = round(1 / step)
    raw = {k: v * units for k, v in shares.items()}
    floor = {k: math.floor(v + 1e-9) for k, v in raw.items()}
    short = units - sum(floor.values())
    order = sorted(raw, key=lambda k: (-(raw[k] - floor[k]), k))
    for k in order[: max(short, 0)]:
        floor[k] += 1
    return {k: round(v / units, 10) for k, v in floor.items()}


def rounded(agreement: Agreement, step: float = 0.01, name: str | None = None) -> Agreement:
    """The agreement with every tier's shares in whole steps (each tier still sums to exactly
    100%) and caps and collars to the nearest £10,000: the kind of numbers a room writes down.
    Base terms only; year overrides are kept as they are."""
    terms = agreement.terms.model_dump(mode="json", exclude_none=True)
    for kind in ("gain_tiers", "loss_tiers"):
        for tier in terms[kind]:
            tier["shares"] = round_shares(tier["shares"], step)
    for key in ("caps", "collars"):
        for lim in terms.get(key, {}).values():
            if lim.get("amount") is not None:
                lim["amount"] = float(round(lim["amount"] / 10_000) * 10_000)
    data = agreement_to_dict(agreement) | {"terms": terms}
    if name:
        data["name"] = name
    return Agreement.model_validate(data)


def even_split(case: Case, name: str = "The room's proposal") -> Agreement:
    """An agreement to start typing from when nothing has been designed: every gain and every
    loss shared equally by all organisations (whole per cent), no corridor, caps or collars."""
    even = round_shares({pid: 1 / len(case.party_ids) for pid in case.party_ids}, 0.01)
    tier = {"shares": even}
    return Agreement.model_validate(
        {"name": name, "case": case.name, "terms": {"gain_tiers": [tier], "loss_tiers": [tier]}}
    )


__all__ = ["CAP", "COLLAR", "LIMIT_HELP", "agreement_from_proposal", "even_split",
           "format_limit", "parse_limit", "proposal_frame", "round_shares", "rounded",
           "tier_headers"]  # fmt: skip
