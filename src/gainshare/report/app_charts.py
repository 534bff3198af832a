"""Plotly figures for the workshop app: a waterfall per party (the lines of its position:
income change, cost saved, benefit booked, transfer or retained share, to its net), the spread
of each party's net over the scenarios, and the trade-off between what the commissioners keep
and the worst-off provider. Presentation only: every number comes from a settlement (the
waterfall steps from `report.positions`, as in the workbook). Money reads £1.39m / £350k, as
everywhere else."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from gainshare.report.charts import PALETTE, waterfall_steps
from gainshare.report.numbers import money, money_column
from gainshare.report.positions import expected_lines
from gainshare.schema.case import Case
from gainshare.settle.check import CheckResult

FONT = dict(family="Source Sans Pro, Arial, sans-serif", size=14, color="#1f2933")
GAIN, LOSS, TOTAL, LINE = "#2e7d32", "#c62828", "#1f4e79", "#6b7280"


def _wrap(text: str, width: int = 28) -> str:
    """Long organisation names on two lines."""
    if len(text) <= width:
        return text
    cut = text.rfind(" ", 0, width)
    cut = cut if cut > 0 else width
    return text[:cut] + "<br>" + text[cut:].strip()


def money_ticks(lo: float, hi: float, currency: str, n: int = 6) -> tuple[list, list]:
    """Round tick values over [lo, hi] and their labels (£1.2m, £350k)."""
    if not math.isfinite(lo) or not math.isfinite(hi) or hi <= lo:
        lo, hi = min(lo, 0.0) - 1.0, max(hi, 0.0) + 1.0
    raw = (hi - lo) / n
    mag = 10 ** math.floor(math.log10(raw))
    step = next(m * mag for m in (1, 2, 2.5, 5, 10) if m * mag >= raw)
    start = math.floor(lo / step) * step
    vals = [start + k * step for k in range(n + 3) if start + k * step <= hi + step]
    return vals, money_column(vals, currency)


def _style(fig: go.Figure, title: str | None, height: int) -> go.Figure:
    fig.update_layout(
        title=dict(text=title, x=0, xanchor="left", font=dict(size=17)) if title else None,
        template="plotly_white",
        font=FONT,
        height=height,
        margin=dict(l=10, r=20, t=60 if title else 20, b=20),
        showlegend=False,
    )
    return fig


def _grid(n: int, columns: int, gap_x: float = 0.06, gap_y: float = 0.16):
    """Axis domains of an n-panel grid, row by row from the top: [(x0, x1, y0, y1)]."""
    rows = math.ceil(n / columns)
    w = (1 - gap_x * (columns - 1)) / columns
    h = (1 - gap_y * (rows - 1)) / rows
    out = []
    for j in range(n):
        r, c = divmod(j, columns)
        x0, y1 = c * (w + gap_x), 1 - r * (h + gap_y)
        out.append(tuple(min(max(round(v, 9), 0.0), 1.0) for v in (x0, x0 + w, y1 - h, y1)))
    return out


def _waterfall_panel(case: Case, result: CheckResult, j: int, axis: str) -> tuple[dict, dict]:
    """One party's waterfall trace (on axes x{axis}/y{axis}) and its y axis settings."""
    steps = waterfall_steps(result, j)
    net = expected_lines(result)[result.settlement.econ.party_ids[j]]["net"]
    ys = [v for _, v in steps] + [net]
    run = np.cumsum([0.0] + [v for _, v in steps])
    lo, hi = min(0.0, run.min(), net), max(0.0, run.max(), net)
    pad = 0.2 * (hi - lo or 1.0)
    vals, text = money_ticks(lo - pad, hi + pad, case.currency, n=4)
    trace = dict(
        type="waterfall", xaxis=f"x{axis}", yaxis=f"y{axis}",
        x=[_wrap(k, 12) for k, _ in steps] + ["Net"], y=ys,
        measure=["relative"] * len(steps) + ["total"],
        text=[money(v, case.currency) for v in ys], textposition="outside", cliponaxis=False,
        increasing=dict(marker=dict(color=GAIN)), decreasing=dict(marker=dict(color=LOSS)),
        totals=dict(marker=dict(color=TOTAL)), connector=dict(line=dict(color="#c0c4cc")),
        hovertemplate="%{x}: %{text}<extra></extra>",
    )  # fmt: skip
    yaxis = dict(tickvals=vals, ticktext=text, range=[lo - pad, hi + pad], zeroline=True,
                 zerolinecolor=LINE)  # fmt: skip
    return trace, yaxis


def waterfalls(case: Case, result: CheckResult, columns: int = 3) -> go.Figure:
    """One waterfall per party: from revenue and cost change, through what the agreement pays
    it, to its expected net position over the agreement. Built as one figure description (one
    validation pass), since it is redrawn on every what-if."""
    names = [p.name for p in case.parties]
    cols = min(columns, len(names))
    rows = math.ceil(len(names) / cols)
    traces, layout, titles = [], {}, []
    for j, (x0, x1, y0, y1) in enumerate(_grid(len(names), cols, gap_y=0.28 / rows)):
        axis = "" if j == 0 else str(j + 1)
        trace, yaxis = _waterfall_panel(case, result, j, axis)
        traces.append(trace)
        layout[f"xaxis{axis}"] = dict(domain=[x0, x1], anchor=f"y{axis}")
        layout[f"yaxis{axis}"] = yaxis | dict(domain=[y0, y1], anchor=f"x{axis}")
        titles.append(dict(text=_wrap(names[j], 40), x=(x0 + x1) / 2, y=y1, xref="paper",
                           yref="paper", xanchor="center", yanchor="bottom", showarrow=False,
                           font=dict(size=14)))  # fmt: skip
    layout["annotations"] = titles
    return _style(go.Figure(data=traces, layout=layout), None, 330 * rows)


def distributions(case: Case, result: CheckResult) -> go.Figure:
    """Each party's net position over the whole agreement, one point a scenario: the box holds
    the middle half, the whiskers the rest; left of the line is worse off."""
    st = result.settlement
    total = st.net.sum(axis=1)  # (S, P)
    names = [_wrap(p.name) for p in case.parties]
    sym = money(0, case.currency)[:-1]
    traces = [
        dict(type="box", x=total[:, j], name=names[j], orientation="h", boxpoints="outliers",
             marker=dict(color=PALETTE[j % len(PALETTE)]), text=list(st.econ.scenario_names),
             hovertemplate=f"%{{text}}: {sym}%{{x:,.0f}}<extra></extra>")
        for j in reversed(range(len(names)))
    ]  # fmt: skip
    lo, hi = float(total.min()), float(total.max())
    vals, text = money_ticks(min(lo, 0.0), max(hi, 0.0), case.currency)
    layout = dict(
        xaxis=dict(tickvals=vals, ticktext=text, title=dict(text="Net position over the "
                                                                 "agreement")),
        shapes=[dict(type="line", x0=0, x1=0, y0=0, y1=1, yref="paper",
                     line=dict(dash="dash", color=LINE))],
        annotations=[dict(x=0, y=1.02, yref="paper", text="no better, no worse off",
                          showarrow=False, font=dict(size=12, color=LINE))],
    )  # fmt: skip
    return _style(go.Figure(data=traces, layout=layout), None, 90 + 70 * len(names))


def _x_window(points: pd.DataFrame, frontier: pd.DataFrame | None) -> tuple[float, float]:
    """The x range that spreads out the candidates that meet every requirement (and the
    frontier): a failing candidate far away would squeeze them into one corner."""
    meets = points.get("meets", pd.Series(True, index=points.index)).astype(bool)
    xs = list(points.loc[meets, "x"]) + ([] if frontier is None else list(frontier["x"]))
    xs = xs or list(points["x"])
    lo, hi = min(xs), max(xs)
    pad = max(0.08 * (hi - lo), 1e-9 if hi != lo else max(abs(hi) * 0.1, 1.0))
    return lo - pad, hi + pad


def tradeoff(
    points: pd.DataFrame,
    currency: str,
    frontier: pd.DataFrame | None = None,
    x_title: str = "Worst year of any provider",
    x_share: bool = False,
) -> go.Figure:
    """Commissioners' expected retained savings (y) against the worst provider year, or against
    the share of scenarios in which everyone is kept whole (`x_share`): one marker a candidate
    (`points`: letter, label, x, y, meets, chosen) labelled by its letter (the table beside the
    chart names it), a green circle when it meets every requirement and a red cross when it
    does not, the chosen one larger and ringed; the frontier as a dotted line (x, y). A
    candidate far outside the others' range sits at the edge, its figure in its label."""
    xfmt = (lambda v: f"{100 * v:.0f}%") if x_share else (lambda v: money(v, currency))
    fig = go.Figure()
    has_line = frontier is not None and len(frontier)
    lo, hi = _x_window(points, frontier if has_line else None)
    if has_line:
        fr = frontier.sort_values("x")
        fig.add_trace(go.Scatter(
            x=fr["x"], y=fr["y"], mode="lines", name="frontier",
            line=dict(color=LINE, width=2, dash="dot"), hoverinfo="skip",
        ))  # fmt: skip
    ys = list(points["y"]) + (list(frontier["y"]) if has_line else [])
    together = _together(points, lo, hi, min(ys), max(ys))
    chosen = points.get("chosen", pd.Series(False, index=points.index)).astype(bool)
    meets = points.get("meets", pd.Series(True, index=points.index)).astype(bool)
    for ok, name, symbol, color in ((True, "meets every requirement", "circle", GAIN),
                                    (False, "fails a requirement", "x", LOSS)):  # fmt: skip
        sel = points[meets == ok]
        if not len(sel):
            continue
        big = chosen[meets == ok]
        shown_x = sel["x"].clip(lo, hi)
        text = [together.get(letter, letter) if lo <= x <= hi
                else f"{letter} ({xfmt(x)}) {'←' if x < lo else '→'}"
                for letter, x in zip(sel["letter"], sel["x"], strict=True)]  # fmt: skip
        where = [p if lo <= x <= hi else ("middle right" if x < lo else "middle left")
                 for p, x in zip(_positions(sel), sel["x"], strict=True)]  # fmt: skip
        fig.add_trace(go.Scatter(
            x=shown_x, y=sel["y"], mode="markers+text", name=name, text=text, cliponaxis=False,
            textposition=where, textfont=dict(size=15, color="#1f2933"),
            marker=dict(symbol=symbol, color=color, size=[19 if c else 13 for c in big],
                        line=dict(color=[TOTAL if c else "white" for c in big],
                                  width=[3 if c else 1 for c in big])),
            customdata=np.array([[lab, xfmt(a), money(b, currency)] for lab, a, b in
                                 zip(sel["label"], sel["x"], sel["y"], strict=True)]),
            hovertemplate="%{customdata[0]}<br>%{customdata[1]}<br>commissioners keep "
                          "%{customdata[2]}<extra></extra>",
        ))  # fmt: skip
    yv, yt = money_ticks(min(ys), max(ys), currency)
    if x_share:
        fig.update_xaxes(tickformat=".0%", title=x_title, range=[lo, hi])
    else:
        xv, xt = money_ticks(lo, hi, currency)
        fig.update_xaxes(tickvals=xv, ticktext=xt, title=x_title, range=[lo, hi])
    pad_y = 0.08 * ((max(ys) - min(ys)) or abs(max(ys)) or 1.0)
    fig.update_yaxes(tickvals=yv, ticktext=yt, title="Commissioners keep (expected)",
                     range=[min(ys) - pad_y, max(ys) + pad_y])  # fmt: skip
    fig = _style(fig, None, 420)
    fig.update_layout(showlegend=True, legend=dict(orientation="h", y=1.1, x=0))
    return fig


def _together(points: pd.DataFrame, lo: float, hi: float, ymin: float, ymax: float,
              near: float = 0.04) -> dict[str, str]:  # fmt: skip
    """Letters of candidates drawn almost on top of one another (within `near` of each axis's
    range): the first of each such group carries them all ("D, E, G"), the others none, so
    that no letter is printed over another. Letters alone are left out of the map."""
    xr, yr = (hi - lo) or 1.0, (ymax - ymin) or 1.0
    inside = points[(points["x"] >= lo) & (points["x"] <= hi)].sort_values("letter")
    groups: list[list] = []
    for letter, x, y in zip(inside["letter"], inside["x"], inside["y"], strict=True):
        for g in groups:
            if any(abs(x - gx) <= near * xr and abs(y - gy) <= near * yr for _, gx, gy in g):
                g.append((letter, x, y))
                break
        else:
            groups.append([(letter, x, y)])
    out = {}
    for g in groups:
        if len(g) > 1:
            out[g[0][0]] = ", ".join(letter for letter, _, _ in g)
            out.update({letter: "" for letter, _, _ in g[1:]})
    return out


def _positions(sel: pd.DataFrame) -> list[str]:
    """Letter positions that keep neighbouring labels apart: alternately above and below,
    in order along the x axis."""
    order = np.argsort(sel["x"].to_numpy(), kind="stable")
    spots = ["top center", "bottom center", "top right", "bottom left", "top left", "bottom right"]
    out = [""] * len(sel)
    for k, i in enumerate(order):
        out[i] = spots[k % len(spots)]
    return out
