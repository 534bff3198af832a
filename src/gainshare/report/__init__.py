"""Reports: the term sheet (Markdown and HTML), settlement statements (Excel), charts, and the
case workbook (Excel in and out).

`write_report` renders every file into a scratch folder first and moves them into place only
when all of them are written, so a failure never leaves a half-written report."""

from __future__ import annotations

import os
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from gainshare.analysis.incentives import check_with_incentives
from gainshare.schema.agreement import Agreement
from gainshare.schema.case import Case
from gainshare.schema.io import InputError
from gainshare.settle.check import CheckResult

TERM_SHEET_MD = "term-sheet.md"
TERM_SHEET_HTML = "term-sheet.html"
STATEMENTS = "statements.xlsx"
CHART_TITLES = {
    "chart-net-positions": "Net position of each party over the agreement",
    "chart-waterfall": "From revenue and cost change to each party's net position",
    "chart-pool": "Pool in each year",
}


@dataclass(frozen=True)
class Report:
    """What `write_report` wrote: file label -> path, plus notes for the reader."""

    files: dict[str, Path]
    notes: list[str] = field(default_factory=list)
    all_kept_whole: bool = True


def _existing_ancestor(p: Path) -> Path:
    p = p.absolute()
    while not p.exists():
        p = p.parent
    return p


def check_out_dir(out_dir: str | Path) -> Path:
    """The output folder, or InputError when it cannot be one (checked before writing)."""
    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        raise InputError([f"{out}: exists and is not a folder: give a folder for --out"])
    base = _existing_ancestor(out)
    if not base.is_dir() or not os.access(base, os.W_OK | os.X_OK):
        raise InputError([f"{out}: cannot write in {base}: choose a folder you can write to"])
    return out


def _render(case: Case, agreement: Agreement, result: CheckResult, tmp: Path) -> Report:
    from gainshare.report import charts
    from gainshare.report.statements import write_statements
    from gainshare.report.termsheet import ChartLink, term_sheet

    sheet = term_sheet(case, agreement, result)
    files: dict[str, Path] = {}
    notes: list[str] = []
    figs = charts.figures(case, result)
    links = []
    problem = charts.png_renderer_problem()
    for stem, fig in figs.items():
        html_name = f"{stem}.html"
        charts.write_html(fig, tmp / html_name)
        png = charts.write_png(fig, tmp / f"{stem}.png") if problem is None else None
        links.append(ChartLink(CHART_TITLES[stem], html_name, png.name if png else None,
                               charts.fragment(fig)))  # fmt: skip
        files[f"chart {stem[6:]}"] = tmp / html_name
        if png:
            files[f"chart {stem[6:]} (PNG)"] = png
    png_note = None
    if any(link.png is None for link in links):
        png_note = (
            f"PNG images were not written: {problem or 'the static image renderer failed'}; "
            "the interactive HTML charts hold the same figures."
        )
        notes.append(png_note)
    (tmp / TERM_SHEET_MD).write_text(sheet.markdown(links, png_note), encoding="utf-8")
    (tmp / TERM_SHEET_HTML).write_text(sheet.html(links, png_note), encoding="utf-8")
    _, trunc = write_statements(case, agreement, result, tmp / STATEMENTS, sheet)
    if trunc:
        notes.append(trunc)
    charts.write_plotly_js(tmp)
    ordered = {
        "term sheet (Markdown)": tmp / TERM_SHEET_MD,
        "term sheet (HTML)": tmp / TERM_SHEET_HTML,
        "statements (Excel)": tmp / STATEMENTS,
        **files,
        "plotly.js for the charts": tmp / charts.PLOTLY_JS,
    }
    return Report(ordered, notes, result.all_kept_whole)


def write_report(
    case: Case,
    agreement: Agreement,
    out_dir: str | Path,
    check_result: CheckResult | None = None,
) -> Report:
    """Write the term sheet, statements.xlsx and charts of `agreement` on `case` to `out_dir`.

    The report is written whether or not every party is kept whole (the term sheet says so).
    Without `check_result`, the agreement is checked with the incentive analysis, so the term
    sheet says how each party fares as the scheme grows.
    Raises InputError before anything is created when `out_dir` cannot be used."""
    out = check_out_dir(out_dir)
    if check_result is None:
        check_result = check_with_incentives(case, agreement)
    tmp = Path(tempfile.mkdtemp(prefix=".gainshare-report-", dir=_existing_ancestor(out)))
    try:
        rendered = _render(case, agreement, check_result, tmp)
        out.mkdir(parents=True, exist_ok=True)
        final = {}
        for label, path in rendered.files.items():
            target = out / path.name
            os.replace(path, target)
            final[label] = target
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return Report(final, rendered.notes, rendered.all_kept_whole)


__all__ = ["Report", "check_out_dir", "write_report"]
