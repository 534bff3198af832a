"""Settlement statements as an Excel workbook for finance teams.

Sheets: Summary (each party over the whole agreement), Agreement (the clauses and the terms year
by year in pounds), Statements (each party's statement in the named scenarios, by year),
Settlement (every scenario, year and party in pounds and pence), Pool (the pool of every
scenario and year with the transfers and retained amounts that add up to it), Inputs (the case
tables) and Assumptions (uncertain parameters, scenarios, conventions).

Per-scenario amounts are the whole-pence statements of `gainshare.settle.pence`, written as
pounds with two decimals: re-added from the workbook they give the pool to the penny."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.chart import BarChart, Reference
from openpyxl.styles import Alignment, Font, PatternFill

from gainshare.economics.model import party_sum
from gainshare.economics.scenarios import parameters
from gainshare.report.excel_case import cell_value, get_path, save_atomic, sheet_rows
from gainshare.report.numbers import SIGN_CONVENTION, convention, requirement_words
from gainshare.report.positions import (
    LINE_HELP,
    LINES,
    expected_by_year,
    expected_lines,
    lines_for,
    pence_lines,
)
from gainshare.report.termsheet import Baseline, Fmt, TermSheet, term_sheet
from gainshare.schema.agreement import Agreement
from gainshare.schema.case import Case
from gainshare.schema.common import param_bounds, param_is_uncertain
from gainshare.schema.workbook_layout import case_sheets, format_param
from gainshare.settle.check import CheckResult
from gainshare.settle.requirements import failures

MAX_SETTLEMENT_ROWS = 100_000
MONEY = "#,##0.00"
SHARE = "0.00%"
HEADER_FILL = PatternFill("solid", fgColor="DDEBF7")

# The lines of a position (report.positions.LINES, each its effect on the party: positive
# better off), their sum the net position; then what each commissioner puts into the pool.
POOL_COLUMNS = [
    ("Spend saved (into the pool)", "spend_saved", 1),
    ("Scheme costs paid directly (out of the pool)", "direct_cost", 1),
]


class _Sheet:
    """A write-only sheet with small helpers for styled cells."""

    def __init__(self, wb: Workbook, title: str, widths: dict[str, float] | None = None):
        self.ws = wb.create_sheet(title)
        self.rows = 0  # rows written so far (the next row is rows + 1)
        for col, w in (widths or {}).items():
            self.ws.column_dimensions[col].width = w
        self._money = self._styled(MONEY)
        self._share = self._styled(SHARE)

    def _styled(self, fmt: str) -> WriteOnlyCell:
        c = WriteOnlyCell(self.ws)
        c.number_format = fmt
        return c

    def cell(self, value, fmt=None, bold: bool = False, fill: bool = False, wrap: bool = False):
        c = WriteOnlyCell(self.ws, value=value)
        if fmt:
            c.number_format = fmt
        if bold:
            c.font = Font(bold=True)
        if fill:
            c.fill = HEADER_FILL
        if wrap or (isinstance(value, str) and len(value) > 60):
            c.alignment = Alignment(wrap_text=True, vertical="top")
        return c

    def row(self, *values) -> None:
        self.ws.append(list(values))
        self.rows += 1

    def header(self, *titles: str) -> None:
        self.row(*[self.cell(t, bold=True, fill=True) for t in titles])

    def title(self, text: str) -> None:
        c = WriteOnlyCell(self.ws, value=text)
        c.font = Font(bold=True, size=14)
        self.row(c)

    def money(self, v: float):
        return self.cell(round(float(v), 2), MONEY)

    def share(self, v: float):
        return self.cell(float(v), SHARE)


# ---------------------------------------------------------------- Summary


def _summary(wb: Workbook, case: Case, agreement: Agreement, result: CheckResult, note: str):
    doc = result.document
    sh = _Sheet(wb, "Summary", {"A": 34, "B": 38, **{c: 18 for c in "CDEFGHIJKLMNOPQR"}})
    sh.title(f"Settlement statements: {agreement.name}")
    for label, value in [
        ("Case", case.name),
        ("Currency", case.currency),
        ("Scenarios", doc["scenarios"]),
        ("Years", ", ".join(doc["year_labels"])),
        ("Every requirement met", "yes" if result_meets(case, agreement, result) else "NO"),
    ]:
        sh.row(sh.cell(label, bold=True), value)
    sh.row(sh.cell(convention(case.currency, len(doc["year_labels"])), wrap=True))
    sh.row(
        "Expected values are probability-weighted over the scenarios, in pounds and pence; each "
        "row below adds up by its formula, and the Settlement and Statements sheets are exact to "
        "the penny in every scenario."
    )
    if note:
        sh.row(sh.cell(note, bold=True))
    sh.row()
    _summary_parties(sh, case, result)
    sh.row()
    sh.row(sh.cell("Expected net position by year", bold=True))
    sh.header("Party", "Name", *doc["year_labels"], "Whole agreement")
    first = sh.rows + 1
    years = len(doc["year_labels"])
    by_year = expected_by_year(result)
    for pid in doc["by_party"]:
        r = sh.rows + 1
        total = f"=SUM({_col(3)}{r}:{_col(2 + years)}{r})"
        sh.row(pid, case.party(pid).name, *[sh.money(v) for v in by_year[pid]],
               sh.cell(total, MONEY))  # fmt: skip
    _net_chart(sh, first, len(doc["by_party"]), years, case.currency)
    sh.row()
    sh.header("Whole agreement", "", "Expected", "Worst scenario", "Best scenario")
    for key, label in [("pool", "Pool"), ("retained", "Commissioners' retained amount"),
                       ("system_savings", "System savings")]:  # fmt: skip
        d = doc[key]
        sh.row(label, "", sh.money(d["expected"]), sh.money(d["worst"]), sh.money(d["best"]))


def _col(n: int) -> str:
    """Excel column letters of the 1-based column n."""
    out = ""
    while n:
        n, r = divmod(n - 1, 26)
        out = chr(65 + r) + out
    return out


def result_meets(case: Case, agreement: Agreement, result: CheckResult) -> bool:
    return not failures(case, agreement, result)


def _net_chart(sh: _Sheet, first: int, parties: int, years: int, currency: str) -> None:
    """A native Excel bar chart of each party's expected net position by year, drawn from the
    table just written (header on row first - 1), placed to the right of the tables."""
    chart = BarChart()
    chart.type = "bar"
    chart.title = "Expected net position by year"
    chart.y_axis.title = currency
    chart.y_axis.number_format = "#,##0"
    data = Reference(sh.ws, min_col=3, max_col=2 + years, min_row=first - 1,
                     max_row=first + parties - 1)  # fmt: skip
    chart.add_data(data, titles_from_data=True)
    chart.set_categories(Reference(sh.ws, min_col=2, min_row=first, max_row=first + parties - 1))
    chart.height, chart.width = 3 + 1.2 * parties, 18
    sh.ws.add_chart(chart, "T2")


SUMMARY_AFTER = [
    ("Worst year", "worst_net", "money"),
    ("Worst whole agreement", "worst_total_net", "money"),
    ("Best year", "best_net", "money"),
    ("Kept whole in (share of scenarios)", "prob_whole", "share"),
    ("Average shortfall in the worst scenarios, a year", "cvar_shortfall", "money"),
    ("Stranded fixed cost (expected, before any transfer)", "stranded_fixed_cost_expected",
     "money"),
    ("Unfunded activity (expected, before any transfer)", "unfunded_activity_expected", "money"),
]  # fmt: skip


def _summary_parties(sh: _Sheet, case: Case, result: CheckResult) -> None:
    """One row a party: the expected lines of its position, the net as their sum (a formula),
    then its worst and best figures and its requirement in words. The nets add up to the
    expected system savings (a formula under the table)."""
    sh.row(sh.cell("Each party over the whole agreement (expected)", bold=True))
    shown = lines_for(result.settlement.econ)
    sh.header("Party", "Name", "Role", *[label for _, label in shown], "Net position",
              *[t for t, _, _ in SUMMARY_AFTER], "Keep-whole requirement", "Met")  # fmt: skip
    lines = expected_lines(result)
    first_line, last_line = 4, 3 + len(shown)
    net_col = _col(last_line + 1)
    first = sh.rows + 1
    for pid, d in result.document["by_party"].items():
        r = sh.rows + 1
        net = sh.cell(f"=SUM({_col(first_line)}{r}:{_col(last_line)}{r})", MONEY, bold=True)
        after = [sh.money(d[k]) if kind == "money" else sh.share(d[k])
                 for _, k, kind in SUMMARY_AFTER]  # fmt: skip
        kw, req = case.keep_whole_for(pid), d["requirement"]
        words = requirement_words(kw.mode, kw.beta, kw.tolerance, case.currency)
        sh.row(
            pid,
            case.party(pid).name,
            d["role"],
            *[sh.money(lines[pid][k]) for k, _ in shown],
            net,
            *after,
            words,
            "—" if kw.mode == "none" else ("yes" if req["met"] else "NO"),
        )
    last = sh.rows
    total = sh.cell(f"=SUM({net_col}{first}:{net_col}{last})", MONEY, bold=True)
    sh.row(sh.cell("System savings (the nets added up)", bold=True), "", "",
           *[None] * len(shown), total)  # fmt: skip


# ---------------------------------------------------------------- Agreement


def _agreement(wb: Workbook, sheet: TermSheet, result: CheckResult) -> None:
    sh = _Sheet(wb, "Agreement", {"A": 8, "B": 34, "C": 110})
    sh.title(f"Agreement: {sheet.agreement.name}")
    sh.header("Clause", "Title", "Terms")
    for n, c in enumerate(sheet.clauses, start=1):
        text = "\n".join(c.paragraphs + [f"- {b}" for b in c.bullets])
        sh.row(n, sh.cell(c.title, bold=True), sh.cell(text, wrap=True))
    sh.row()
    sh.row(sh.cell("Terms year by year, in pounds at the expected baseline", bold=True))
    labels = result.document["year_labels"]
    sh.header("Term", "Applies to", *labels)
    for label, who, values in terms_by_year(sheet.case, sheet.agreement, result):
        as_share = "share" in label.lower()
        cells = [
            v if isinstance(v, str) or v is None else (sh.share(v) if as_share else sh.money(v))
            for v in values
        ]
        sh.row(label, who, *cells)


def terms_by_year(case: Case, agreement: Agreement, result: CheckResult) -> list[tuple]:
    """(term, party, one value per year): pounds at the expected baseline, shares as 0..1."""
    base = Baseline.of(result)
    years = list(range(1, len(base.labels) + 1))
    terms = [agreement.terms_for_year(y) for y in years]
    spend = base.spend
    rows: list[tuple] = []
    ids = case.party_ids

    def lim(limit, basis):
        return None if limit is None else float(limit.resolve(np.float64(basis)))

    rows.append(("Gain threshold", "pool", [lim(t.corridor.gain_threshold, spend[i])
                                             for i, t in enumerate(terms)]))  # fmt: skip
    rows.append(("Loss threshold", "pool", [lim(t.corridor.loss_threshold, spend[i])
                                             for i, t in enumerate(terms)]))  # fmt: skip
    rows.append(("Sharing once outside the corridor", "pool",
                 [t.corridor.mode.replace("_", " ") for t in terms]))  # fmt: skip
    for kind, word in (("gain_tiers", "Gain"), ("loss_tiers", "Loss")):
        most = max(len(getattr(t, kind)) for t in terms)
        for k in range(most):
            tiers = [getattr(t, kind)[k] if k < len(getattr(t, kind)) else None for t in terms]
            if k < most - 1 or any(tr is not None and tr.upto is not None for tr in tiers):
                rows.append((f"{word} tier {k + 1} upper edge", "shareable amount", [
                    None if tr is None or tr.upto is None else lim(tr.upto, spend[i])
                    for i, tr in enumerate(tiers)]))  # fmt: skip
            for pid in ids:
                rows.append((f"{word} tier {k + 1} share", pid, [
                    None if tr is None else tr.shares.get(pid, 0.0) for tr in tiers]))  # fmt: skip
    for kind, word in (("caps", "Cap"), ("collars", "Collar")):
        for pid in case.provider_ids:
            basis = base.payment_by[pid]
            rows.append((word, pid, [lim(getattr(t, kind).get(pid), basis[i])
                                     for i, t in enumerate(terms)]))  # fmt: skip
    for pid in case.provider_ids:
        gws = [t.gateway.get(pid) for t in terms]
        if any(gws):
            rows.append(("Quality gateway", pid, [_gateway_text(g) for g in gws]))
    if any(t.commissioner_split for t in terms):
        for pid in case.commissioner_ids:
            rows.append(("Commissioners' split share", pid, [
                None if t.commissioner_split is None else t.commissioner_split.get(pid, 0.0)
                for t in terms]))  # fmt: skip
    return rows


def _gateway_text(gw) -> str:
    if gw is None:
        return "none"
    if gw.mode == "proportional":
        return "score / 100"
    return f"full at {gw.target:g}, none below {gw.floor:g}"


# ---------------------------------------------------------------- per scenario


def _settlement(wb: Workbook, result: CheckResult) -> tuple[int, int]:
    """The long table; returns (rows written, rows in all)."""
    e, pen = result.settlement.econ, result.pence
    S, Y, P = pen.net.shape
    total = S * Y * P
    keep = min(S, max(1, MAX_SETTLEMENT_ROWS // (Y * P)))
    sh = _Sheet(wb, "Settlement", {"A": 14, "B": 12, "C": 10, "D": 16, **{
        c: 17 for c in "EFGHIJKL"}, "N": 60})  # fmt: skip
    shown = lines_for(result.settlement.econ)
    heads = ["Scenario", "Weight", "Year", "Party", *[label for _, label in shown],
             "Net position", *[t for t, _, _ in POOL_COLUMNS]]  # fmt: skip
    note = []
    if keep < S:
        note = [None, sh.cell(
            f"Only the first {keep:,} of {S:,} scenarios are listed ({keep * Y * P:,} of "
            f"{total:,} rows); the Summary covers every scenario.", bold=True)]  # fmt: skip
    sh.ws.freeze_panes = "A2"  # before the first row: a write-only sheet writes its view first
    sh.ws.append([sh.cell(h, bold=True, fill=True) for h in heads] + note)
    lines = pence_lines(result)
    arrays = [lines[k] for k, _ in shown] + [pen.net]
    arrays += [sign * getattr(pen, k) for _, k, sign in POOL_COLUMNS]
    cells = [sh._styled(MONEY) for _ in arrays]
    weight = sh._styled("0.000000")
    for s in range(keep):
        name, w = e.scenario_names[s], float(e.weights[s])
        for y in range(Y):
            label = e.year_labels[y]
            for p in range(P):
                for c, a in zip(cells, arrays, strict=True):
                    c.value = int(a[s, y, p]) / 100
                weight.value = w
                sh.ws.append([name, weight, label, e.party_ids[p], *cells])
    return keep * Y * P, total


def _pool(wb: Workbook, result: CheckResult) -> None:
    e, pen = result.settlement.econ, result.pence
    S, Y, _ = pen.net.shape
    keep = min(S, max(1, MAX_SETTLEMENT_ROWS // Y))
    sh = _Sheet(wb, "Pool", {"A": 14, "B": 12, "C": 10, **{c: 17 for c in "DEFG"}})
    sh.ws.freeze_panes = "A2"
    sh.header("Scenario", "Weight", "Year", "Pool", "Transfers", "Retained", "System savings")
    cols = [pen.pool, party_sum(pen.transfer), party_sum(pen.retained), pen.system_savings]
    cells = [sh._styled(MONEY) for _ in cols]
    for s in range(keep):
        for y in range(Y):
            for c, a in zip(cells, cols, strict=True):
                c.value = int(a[s, y]) / 100
            sh.ws.append([e.scenario_names[s], float(e.weights[s]), e.year_labels[y], *cells])


def statement_scenarios(result: CheckResult, case: Case) -> list[tuple[int, str]]:
    """Scenarios shown as statements: the named ones, else the median and the worst pool."""
    named = [n.name for n in case.uncertainty.named]
    names = result.settlement.econ.scenario_names
    if named:
        return [(names.index(n), n) for n in named]
    total = result.pence.pool.sum(axis=1)
    order = np.argsort(total, kind="stable")
    mid, low = int(order[len(order) // 2]), int(order[0])
    out = [(mid, f"{names[mid]} (median pool)")]
    if low != mid:
        out.append((low, f"{names[low]} (lowest pool)"))
    return out


def _statements(wb: Workbook, case: Case, result: CheckResult) -> None:
    pen, labels = result.pence, result.document["year_labels"]
    lines = pence_lines(result)
    sh = _Sheet(wb, "Statements", {"A": 40, **{c: 17 for c in "BCDEFGHIJKL"}})
    sh.title("Settlement statement of each party, in pounds and pence")
    sh.row("Each statement adds up exactly: the lines sum to the net position, and the "
           "transfers and retained shares of all parties sum to the pool.")  # fmt: skip
    for s, title in statement_scenarios(result, case):
        sh.row()
        sh.row(sh.cell(f"Scenario {title}", bold=True))
        sh.header("Whole system", *labels, "Whole agreement")
        pool = [int(v) for v in pen.pool[s]]
        sh.row("Pool", *[sh.money(v / 100) for v in pool], sh.money(sum(pool) / 100))
        for j, pid in enumerate(result.settlement.econ.party_ids):
            sh.row()
            sh.header(case.party(pid).name, *labels, "Whole agreement")
            for key, label in lines_for(result.settlement.econ):
                vals = [int(v) for v in lines[key][s, :, j]]
                if any(vals):
                    sh.row(label, *[sh.money(v / 100) for v in vals], sh.money(sum(vals) / 100))
            net = [int(v) for v in pen.net[s, :, j]]
            sh.row(sh.cell("Net position", bold=True), *[sh.money(v / 100) for v in net],
                   sh.money(sum(net) / 100))  # fmt: skip


# ---------------------------------------------------------------- inputs and assumptions


def _inputs(wb: Workbook, case: Case) -> None:
    sh = _Sheet(wb, "Inputs", {c: 20 for c in "ABCDEFGHIJKLMNOPQRSTUVWX"})
    sh.title(f"Inputs: {case.name}")
    sh.row("The case as read (the same tables as the case workbook of gainshare template).")
    rows = sheet_rows(case)
    for spec in case_sheets():
        sh.row()
        sh.row(sh.cell(spec.name, bold=True))
        if spec.layout == "fields":
            for col in spec.columns:
                v = cell_value(col, get_path(rows[spec.name], col.key))
                sh.row(col.key, v)
            continue
        sh.header(*[c.key for c in spec.columns])
        for item in rows[spec.name]:
            sh.row(*[cell_value(c, get_path(item, c.key)) for c in spec.columns])


CONVENTIONS = (
    [
        SIGN_CONVENTION,
        "Money is in pounds of the case currency, a year at a time unless a column says 'whole "
        "agreement'.",
    ]
    + [f"{label}: {LINE_HELP[key]}." for key, label in LINES]
    + [
        "Spend saved = a commissioner's expected minus actual payments; the pool is spend saved "
        "less scheme costs commissioners pay directly. Both go into the pool, not straight into a "
        "net position.",
        "Per-scenario amounts are whole pence, rounded by largest remainder so that transfers plus "
        "retained shares equal the pool and net positions sum to the system savings exactly.",
        "Scenario weights: named scenarios carry their stated weights; Monte Carlo scenarios share "
        "the rest equally.",
    ]
)


def _assumptions(wb: Workbook, case: Case) -> None:
    sh = _Sheet(wb, "Assumptions", {"A": 48, "B": 44, "C": 40, **{c: 14 for c in "DEF"}})
    sh.title("Assumptions")
    for line in CONVENTIONS:
        sh.row(line)
    sh.row()
    sh.row(sh.cell("Parameters", bold=True))
    sh.header("Parameter", "What", "Value or distribution", "Low", "High", "Uncertain")
    for spec in parameters(case):
        lo, hi = param_bounds(spec.param)
        value = format_param(_plain(spec.param))
        sh.row(spec.path, spec.label, value, lo, hi,
               "yes" if param_is_uncertain(spec.param) else "no")  # fmt: skip
    u = case.uncertainty
    sh.row()
    sh.row(sh.cell("Scenarios", bold=True))
    sh.row("Monte Carlo scenarios", u.scenarios)
    sh.row("Seed", u.seed)
    if u.named:
        sh.header("Named scenario", "Weight", "Values set")
        for n in u.named:
            vals = "; ".join(f"{k} = {format_param(v)}" for k, v in n.values.items())
            sh.row(n.name, sh.share(n.weight), vals or "every parameter at its central value")
    sh.row()
    sh.row(sh.cell("Keep-whole requirements", bold=True))
    sh.header("Party", "Name", "Requirement", "Tolerance a year")
    for p in case.parties:
        kw = case.keep_whole_for(p.id)
        sh.row(p.id, p.name, requirement_words(kw.mode, kw.beta, kw.tolerance, case.currency),
               sh.money(kw.tolerance))  # fmt: skip


def _plain(param):
    if hasattr(param, "model_dump"):
        return param.model_dump()
    if isinstance(param, list):
        return [_plain(v) for v in param]
    return param


# ---------------------------------------------------------------- the workbook


def build_statements(
    case: Case, agreement: Agreement, result: CheckResult, sheet: TermSheet | None = None
) -> tuple[Workbook, str]:
    """The statements workbook and a note on truncation ('' when every row is listed)."""
    sheet = sheet or term_sheet(case, agreement, result)
    wb = Workbook(write_only=True)
    S, Y, P = result.pence.net.shape
    keep = min(S, max(1, MAX_SETTLEMENT_ROWS // (Y * P)))
    note = (
        ""
        if keep == S
        else f"The Settlement sheet lists the first {keep:,} of {S:,} scenarios "
        f"({keep * Y * P:,} of {S * Y * P:,} rows)."
    )
    _summary(wb, case, agreement, result, note)
    _agreement(wb, sheet, result)
    _statements(wb, case, result)
    _settlement(wb, result)
    _pool(wb, result)
    _inputs(wb, case)
    _assumptions(wb, case)
    return wb, note


def write_statements(
    case: Case, agreement: Agreement, result: CheckResult, path: str | Path,
    sheet: TermSheet | None = None,
) -> tuple[Path, str]:  # fmt: skip
    """Write statements.xlsx; returns the path and the truncation note ('' if none)."""
    wb, note = build_statements(case, agreement, result, sheet)
    return save_atomic(wb, path), note


__all__ = ["Fmt", "build_statements", "terms_by_year", "write_statements"]
