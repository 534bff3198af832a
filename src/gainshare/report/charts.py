"""Charts of a settled agreement (plotly): each party's spread of net positions, a waterfall from
revenue and cost change to net per party, and the pool by year. Presentation only: every number
comes from the settlement arrays.

HTML files load plotly.js from a `plotly.min.js` written beside them (no network needed). PNG
images need a static renderer (kaleido with a Chrome browser); when none is installed they are
skipped and the report says so."""

from __future__ import annotations

from pathlib import Path

import plotly.graph_objects as go
from plotly.offline import get_plotlyjs
from plotly.subplots import make_subplots

from gainshare.report.positions import expected_lines, lines_for
from gainshare.schema.case import Case
from gainshare.settle.check import CheckResult

PLOTLY_JS = "plotly.min.js"
SYMBOLS = {"GBP": "£", "USD": "$", "EUR": "€"}
PALETTE = ["#1f4e79", "#c55a11", "#548235", "#7030a0", "#bf9000", "#2e75b6", "#a50021", "#3b3838"]


def symbol(currency: str) -> str:
    return SYMBOLS.get(currency, currency + " ")


def _names(case: Case) -> list[str]:
    return [p.name for p in case.parties]


def _layout(fig: go.Figure, title: str, currency: str) -> go.Figure:
    fig.update_layout(
        title=title,
        template="plotly_white",
        font=dict(family="Arial, sans-serif", size=13),
        margin=dict(l=70, r=30, t=70, b=60),
        separators=".,",
    )
    # the unit goes in the axis title: a tick prefix would read "£−2M" for minus two million
    fig.update_yaxes(tickformat=",.3~s", title_text=f"{currency} ({symbol(currency).strip()})")
    return fig


def net_positions(case: Case, result: CheckResult) -> go.Figure:
    """Box plot per party of its net position over the whole agreement, one point a scenario."""
    st = result.settlement
    total = st.net.sum(axis=1)  # (S, P)
    fig = go.Figure()
    for j, name in enumerate(_names(case)):
        fig.add_trace(
            go.Box(
                y=total[:, j],
                name=name,
                boxpoints="outliers",
                marker_color=PALETTE[j % len(PALETTE)],
                hovertext=list(st.econ.scenario_names),
            )
        )
    fig.add_hline(y=0, line_dash="dash", line_color="#555", annotation_text="kept whole")
    fig.update_layout(showlegend=False)
    title = f"Net position of each party over the agreement ({len(total):,} scenarios)"
    return _layout(fig, title, case.currency)


def waterfall_steps(result: CheckResult, j: int) -> list[tuple[str, float]]:
    """Expected totals over the agreement for party j whose sum is its expected net position:
    the lines of `report.positions` (income change, cost saved, benefit booked, transfer,
    retained share of the pool), each its effect on the party. Zero steps are left out."""
    lines = expected_lines(result)[result.settlement.econ.party_ids[j]]
    steps = [(label, lines[key]) for key, label in lines_for(result.settlement.econ)]
    return [(k, v) for k, v in steps if abs(v) >= 0.005]


def waterfall(case: Case, result: CheckResult) -> go.Figure:
    """Waterfall per party from revenue and cost change to the expected net position."""
    names = _names(case)
    # each party on its own scale: a small party's steps would vanish beside a large one's
    fig = make_subplots(rows=1, cols=len(names), subplot_titles=names)
    for j in range(len(names)):
        steps = waterfall_steps(result, j)
        net = float(result.settlement.econ.weights @ result.settlement.net[:, :, j].sum(axis=1))
        fig.add_trace(
            go.Waterfall(
                x=[k for k, _ in steps] + ["Net position"],
                y=[v for _, v in steps] + [net],
                measure=["relative"] * len(steps) + ["total"],
                increasing=dict(marker_color="#548235"),
                decreasing=dict(marker_color="#c00000"),
                totals=dict(marker_color="#1f4e79"),
                connector=dict(line=dict(color="#999")),
                showlegend=False,
            ),
            row=1,
            col=j + 1,
        )
    fig.update_layout(height=480, width=max(700, 360 * len(names)))
    return _layout(fig, "Expected position of each party over the agreement", case.currency)


def pool_by_year(case: Case, result: CheckResult) -> go.Figure:
    """Box plot of the pool in each year, with the corridor's gain threshold at the baseline."""
    st = result.settlement
    fig = go.Figure()
    for y, label in enumerate(st.econ.year_labels):
        fig.add_trace(go.Box(y=st.pool[:, y], name=label, marker_color=PALETTE[0]))
    fig.add_hline(y=0, line_color="#555")
    fig.update_layout(showlegend=False)
    return _layout(fig, "Pool in each year (gain > 0, loss < 0)", case.currency)


def figures(case: Case, result: CheckResult) -> dict[str, go.Figure]:
    """The report's charts by file stem."""
    return {
        "chart-net-positions": net_positions(case, result),
        "chart-waterfall": waterfall(case, result),
        "chart-pool": pool_by_year(case, result),
    }


def write_plotly_js(out_dir: Path) -> Path:
    path = out_dir / PLOTLY_JS
    path.write_text(get_plotlyjs(), encoding="utf-8")
    return path


def write_html(fig: go.Figure, path: Path) -> Path:
    """A chart page that loads plotly.min.js from its own folder."""
    fig.write_html(path, include_plotlyjs=PLOTLY_JS, full_html=True)
    return path


def fragment(fig: go.Figure) -> str:
    """A chart as an HTML fragment for a page that loads plotly.js once itself."""
    return fig.to_html(include_plotlyjs=False, full_html=False)


BROWSERS = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable", "chrome")


def local_browser() -> str | None:
    """A Chrome or Chromium already on this machine (BROWSER_PATH, else on PATH), for kaleido.
    gainshare never downloads a browser."""
    import os
    import shutil

    given = os.environ.get("BROWSER_PATH")
    if given and os.path.isfile(given):
        return given
    for name in BROWSERS:
        found = shutil.which(name)
        if found:
            return found
    return None


def png_renderer_problem() -> str | None:
    """None when PNG export works here, else why it does not."""
    try:
        import kaleido  # noqa: F401
    except ImportError:
        return "no static image renderer is installed (kaleido with a Chrome browser)"
    if local_browser() is None:
        return ("no Chrome or Chromium browser was found for the static images (on Debian: "
                "apt-get install chromium)")  # fmt: skip
    return None


def write_png(fig: go.Figure, path: Path) -> Path | None:
    """PNG of a chart, or None when no renderer is available."""
    if png_renderer_problem() is not None:
        return None
    import logging
    import os

    os.environ.setdefault("BROWSER_PATH", local_browser() or "")
    # the renderer's browser link logs messages it ignores (with a traceback) on stderr: the
    # report's own output is what the user reads, and a picture that fails is simply left out
    quiet = [logging.getLogger(name) for name in ("choreographer", "kaleido", "logistro")]
    levels = [log.level for log in quiet]
    for log in quiet:
        log.setLevel(logging.CRITICAL + 1)
    try:
        fig.write_image(path, width=1100, height=520, scale=1)
    except Exception:  # noqa: BLE001 - a missing browser shows up only when rendering
        return None
    finally:
        for log, level in zip(quiet, levels, strict=True):
            log.setLevel(level)
    return path
