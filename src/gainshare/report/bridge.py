"""The bridge from the expected pool to the actual pool of a settled year, as a table and a
waterfall chart (plotly, styled as the report's other charts). Presentation only: the figures
come from the settlement's bridge document (gainshare.settle.bridge)."""

from __future__ import annotations

import plotly.graph_objects as go

from gainshare.report.charts import _layout
from gainshare.settle.bridge import STEPS
from gainshare.units import SYMBOLS


def penny(v: float, currency: str = "GBP", sign: bool = False) -> str:
    """Money to the penny: £4,048,000.00, -£143,000.00; with `sign`, +£41,208.17."""
    sym = SYMBOLS.get(currency, currency + " ")
    lead = "-" if v < 0 else ("+" if sign and v > 0 else "")
    return f"{lead}{sym}{abs(v):,.2f}"


def bridge_rows(doc: dict) -> list[tuple[str, float]]:
    """(label, pounds) from the expected pool, step by step, to the actual pool."""
    rows = [("Expected pool", doc["expected_pool"])]
    rows += [(label, doc["steps"][key]) for key, label, _ in STEPS]
    return rows + [("Actual pool", doc["actual_pool"])]


def bridge_table(doc: dict, currency: str) -> list[str]:
    """The bridge as Markdown table lines (every step, zero ones included)."""
    words = {label: why for _, label, why in STEPS}
    lines = ["| | amount | what it is |", "|---|---:|---|"]
    for label, v in bridge_rows(doc):
        lines.append(f"| {label} | {penny(v, currency)} | {words.get(label, '')} |")
    return lines


def bridge_figure(doc: dict, currency: str, title: str) -> go.Figure:
    """Waterfall from the expected to the actual pool; steps of zero are left out."""
    rows = bridge_rows(doc)
    steps = [(k, v) for k, v in rows[1:-1] if abs(v) >= 0.005]
    x = [rows[0][0]] + [k for k, _ in steps] + [rows[-1][0]]
    y = [rows[0][1]] + [v for _, v in steps] + [rows[-1][1]]
    fig = go.Figure(
        go.Waterfall(
            x=x,
            y=y,
            measure=["absolute"] + ["relative"] * len(steps) + ["total"],
            text=[penny(v, currency) for v in y],
            textposition="outside",
            increasing=dict(marker_color="#548235"),
            decreasing=dict(marker_color="#c00000"),
            totals=dict(marker_color="#1f4e79"),
            connector=dict(line=dict(color="#999")),
            showlegend=False,
        )
    )
    fig.update_layout(height=480, width=820)
    return _layout(fig, title, currency)
