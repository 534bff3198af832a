"""Reports: the term sheet (Markdown and HTML), settlement statements (Excel), charts, and the
case workbook (Excel in and out).

`write_report` renders every file into a fresh folder beside the target and swaps it into place
only when all of them are written (`gainshare.output`), so a failure or a signal never leaves a
half-written report, and a replaced report keeps no stale file."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from gainshare.analysis.incentives import check_with_incentives
from gainshare.output import atomic_folder, check_target
from gainshare.schema.agreement import Agreement
from gainshare.schema.case import Case
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


def is_report_file(name: str) -> bool:
    """Whether a file name is one a report writes (term sheet, statements, charts)."""
    return name in (TERM_SHEET_MD, TERM_SHEET_HTML, STATEMENTS, "plotly.min.js") or (
        name.startswith("chart-") and name.endswith((".html", ".png"))
    )


def check_out_dir(out_dir: str | Path, force: bool = False) -> Path:
    """The report folder, or InputError (one line) when it cannot be one: checked before any
    work. A new or empty folder is used; a folder holding an earlier report is replaced whole
    (no stale chart kept) only with `force`; a folder holding other files never is."""
    return check_target(out_dir, "--out", force, folder=True, owned=is_report_file)


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
    force: bool = False,
) -> Report:
    """Write the term sheet, statements.xlsx and charts of `agreement` on `case` to `out_dir`.

    The report is written whether or not every party is kept whole (the term sheet says so).
    Without `check_result`, the agreement is checked with the incentive analysis, so the term
    sheet says how each party fares as the scheme grows. Every file is rendered into a fresh
    folder beside `out_dir`, which then takes its place in one step: a failure or a signal
    leaves nothing behind, and a replaced report keeps no stale file. Raises InputError before
    anything is created when `out_dir` cannot be used."""
    out = check_out_dir(out_dir, force)
    if check_result is None:
        check_result = check_with_incentives(case, agreement)
    with atomic_folder(out, "--out") as tmp:
        rendered = _render(case, agreement, check_result, tmp)
    final = {label: out / path.name for label, path in rendered.files.items()}
    return Report(final, rendered.notes, rendered.all_kept_whole)


__all__ = ["Report", "check_out_dir", "write_report"]
