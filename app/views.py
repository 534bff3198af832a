"""Pieces of the workshop screens shared by the pages: the sidebar's case picker, the headline
figures, each organisation's position, the agreement in words, the charts and the downloads.
Presentation only: figures, words and charts come from the package."""

from __future__ import annotations

import pandas as pd
import state
import streamlit as st

from gainshare.analysis import workshop as wk
from gainshare.report import app_charts
from gainshare.schema.io import InputError

CSS = """
<style>
[data-testid="stMetricValue"] { font-size: 2.1rem; }
[data-testid="stMetricLabel"] p { font-size: 1rem; }
.block-container { padding-top: 2.2rem; }
.gs-clause { margin-bottom: 0.55rem; }
</style>
"""


def page(title: str) -> state.Session:
    """Page set-up every page starts with; returns this browser session's state."""
    st.set_page_config(page_title=f"{title} · gainshare", layout="wide",
                       initial_sidebar_state="expanded")  # fmt: skip
    st.markdown(CSS, unsafe_allow_html=True)
    s = state.session()
    sidebar(s)
    return s


# ---------------------------------------------------------------- choosing a case


def _pick_example(s: state.Session) -> None:
    label = st.session_state.get("case.pick")
    ex = next((e for e in wk.examples() if e.label == label), None)
    if ex is None or ex.label == s.label:
        return
    case, agreement = state.load_example(ex)
    s.load(ex.label, case, agreement)


def _take_upload(s: state.Session) -> None:
    f = st.session_state.get("case.upload")
    st.session_state["case.upload.problems"] = []
    if f is None:
        return
    try:
        case = wk.load_upload(f.name, f.getvalue())
    except InputError as e:
        st.session_state["case.upload.problems"] = e.problems
        return
    s.load(f"{case.name} (uploaded)", case)
    st.session_state["case.pick"] = s.label


def sidebar(s: state.Session) -> None:
    labels = [e.label for e in wk.examples()]
    if s.label not in labels:
        labels.append(s.label)
    st.session_state["case.pick"] = s.label
    with st.sidebar:
        st.selectbox("Case", labels, key="case.pick", on_change=_pick_example, args=(s,),
                     help="An example case, or the one you uploaded")  # fmt: skip
        st.file_uploader("Upload a case (YAML, JSON or Excel)", type=list(wk.UPLOAD_TYPES),
                         key="case.upload", on_change=_take_upload, args=(s,))  # fmt: skip
        for line in st.session_state.get("case.upload.problems", []):
            st.error(line)
        c = s.case
        st.caption(f"{len(c.parties)} organisations · {c.horizon.years} years · "
                   f"{c.scenario_count():,} scenarios")  # fmt: skip


# ---------------------------------------------------------------- figures


def _delta(new: float, old: float | None, cur: str) -> str | None:
    if old is None or abs(new - old) < 0.5:
        return None
    return ("+" if new > old else "-") + wk.money(abs(new - old), cur)


def metrics(solved: state.Solved, previous: state.Solved | None) -> None:
    case, cur = solved.case, solved.case.currency
    h = wk.headline(case, solved.check)
    p = wk.headline(previous.case, previous.check) if previous and previous.check else None
    over = f"Expected over the {h.years} years of the agreement"
    cols = st.columns(4)
    cols[0].metric(
        "System savings",
        wk.money(h.system_savings, cur),
        _delta(h.system_savings, p and p.system_savings, cur),
        border=True,
        help=over + ": real resources released, however the pool is split",
    )
    cols[1].metric(
        "Commissioners keep",
        wk.money(h.commissioners_keep, cur),
        _delta(h.commissioners_keep, p and p.commissioners_keep, cur),
        border=True,
        help=over + ": the pool less what the agreement pays the providers",
    )
    cols[2].metric(
        "Worst provider year",
        wk.money(h.worst_provider_year, cur),
        _delta(h.worst_provider_year, p and p.worst_provider_year, cur),
        border=True,
        help="The lowest net position of any provider in any scenario and year",
    )
    cols[3].metric("Everyone kept whole in", wk.pct(h.prob_all_whole), border=True,
                   help="Share of scenarios (by probability) in which every organisation with "
                        "a keep-whole requirement is kept whole in every year")  # fmt: skip


def verdict(solved: state.Solved) -> None:
    check = solved.check
    if check.all_kept_whole:
        st.success("This agreement meets every organisation's keep-whole requirement.",
                   icon=":material/check_circle:")  # fmt: skip
    else:
        short = [solved.case.party(pid).name for pid, d in check.document["by_party"].items()
                 if not d["requirement"]["met"]]  # fmt: skip
        st.warning("Not kept whole as required: " + ", ".join(short), icon=":material/warning:")


def _highlight(row: pd.Series) -> list[str]:
    bad = row.get("Met") == "No"
    return ["background-color: #fdecea; color: #8a1c1c" if bad else "" for _ in row]


def positions(solved: state.Solved) -> None:
    frame = wk.positions_frame(solved.case, solved.check)
    small = st.column_config.TextColumn(width="small")
    config = {
        "Organisation": st.column_config.TextColumn(width=280),
        "Expected net": small,
        "Worst year": small,
        "Kept whole in": st.column_config.TextColumn(
            width="small", help="Share of scenarios in which it is kept whole in every year"
        ),
        "Requirement": st.column_config.TextColumn(width="large"),
        "Met": small,
    }
    st.dataframe(frame.style.apply(_highlight, axis=1), hide_index=True, width="stretch",
                 column_config=config)  # fmt: skip


def position_words(solved: state.Solved) -> None:
    words = wk.position_sentences(solved.case, solved.check)
    st.markdown("\n".join(f"- **{solved.case.party(pid).name}** {text}"
                          for pid, text in words.items()))  # fmt: skip


KEY_CLAUSES = ("Corridor", "Sharing of gains", "Sharing of losses", "Quality gateway",
               "Caps and collars", "The commissioners' retained amount", "Glide path")  # fmt: skip


def _clause(n: int, clause) -> None:
    st.markdown(f"**{n}. {clause.title}.** " + " ".join(clause.paragraphs))
    if clause.bullets:
        st.markdown("\n".join(f"- {b}" for b in clause.bullets))


def shares_table(case, agreement) -> None:
    """Who gets what: each organisation's share of every tier, its cap and its collar."""
    st.dataframe(wk.shares_frame(case, agreement), hide_index=True, width="stretch")
    if agreement.year_overrides:
        years = ", ".join(str(y) for y in sorted(agreement.year_overrides))
        st.caption(f"The table shows the base terms; year {years} has terms of its own, stated "
                   "in the clauses.")  # fmt: skip


def agreement_words(solved: state.Solved, agreement=None) -> None:
    """The key clauses of the term sheet, and the whole term sheet on request."""
    from gainshare.report.termsheet import term_sheet

    agreement = agreement or solved.result.agreement
    clauses = list(enumerate(term_sheet(solved.case, agreement, solved.check).clauses, 1))
    for n, c in clauses:
        if c.title in KEY_CLAUSES:
            _clause(n, c)
    with st.expander("The whole term sheet"):
        for n, c in clauses:
            _clause(n, c)


def charts(solved: state.Solved, key: str) -> None:
    tabs = st.tabs(["Where each organisation ends up", "Spread over the scenarios"])
    with tabs[0]:
        st.caption("Expected over the agreement: income change, cost change, what the agreement "
                   "pays or keeps, and the net position.")  # fmt: skip
        st.plotly_chart(app_charts.waterfalls(solved.case, solved.check), key=f"{key}.wf",
                        config={"displaylogo": False})  # fmt: skip
    with tabs[1]:
        st.caption("Each organisation's net position over the agreement, one point a scenario; "
                   "left of the dashed line it is worse off than without the schemes.")  # fmt: skip
        st.plotly_chart(app_charts.distributions(solved.case, solved.check), key=f"{key}.dist",
                        config={"displaylogo": False})  # fmt: skip


def download_row(case, agreement, check, key: str) -> None:
    files = wk.downloads(case, agreement, check)
    cols = st.columns(len(files))
    for col, f in zip(cols, files, strict=True):
        col.download_button(f.label, data=f.make, file_name=f.file_name, mime=f.mime,
                            key=f"{key}.{f.file_name}", on_click="ignore",
                            width="stretch")  # fmt: skip


def problems(items: list[wk.CellProblem]) -> None:
    for p in items:
        st.error(p.text, icon="⚠️")


def timing(solved: state.Solved) -> None:
    how = "built the model and solved" if solved.rebuilt else "re-solved the model it holds"
    st.caption(f"Answered in {1000 * solved.seconds:,.0f} ms ({how}); every figure re-checked "
               "by settling the agreement over every scenario.")  # fmt: skip


# ---------------------------------------------------------------- editable tables


def snapshot(name: str, token, make):
    """Stable input for a page's data editors, and the prefix of their keys. A data editor
    holds its edits relative to the frame it was first given, so that frame must not change
    while the page is open; it is made afresh when `token` changes or when the editors' state
    is gone (Streamlit drops it when the user opens another page)."""
    prefix = f"{name}.ed.{token}"
    snap = st.session_state.get(f"{name}.snapshot")
    live = any(str(k).startswith(prefix) for k in st.session_state)
    if snap is None or snap[0] != token or not live:
        snap = (token, make())
        st.session_state[f"{name}.snapshot"] = snap
    return snap[1], prefix


def column_config(spec: wk.TableSpec) -> dict:
    cfg = {}
    for c in spec.cols:
        if c.kind == "choice":
            cfg[c.label] = st.column_config.SelectboxColumn(c.label, options=list(c.options),
                                                            help=c.help or None)  # fmt: skip
        elif c.kind == "int":
            cfg[c.label] = st.column_config.NumberColumn(c.label, step=1, format="%d",
                                                         help=c.help or None)  # fmt: skip
        elif c.kind == "number":
            cfg[c.label] = st.column_config.NumberColumn(c.label, format="localized",
                                                         help=c.help or None)  # fmt: skip
        else:
            cfg[c.label] = st.column_config.TextColumn(c.label, help=c.help or None)
    return cfg


def money_column(label: str, help: str | None = None):
    return st.column_config.NumberColumn(label, min_value=0.0, format="localized", help=help)


def percent_column(label: str, help: str | None = None):
    return st.column_config.NumberColumn(label, min_value=0.0, max_value=100.0, format="%.2f",
                                         help=help)  # fmt: skip


def as_solved(case, check) -> state.Solved:
    """A checked agreement in the shape the figure helpers take."""
    return state.Solved(case, None, check, 0.0, False)
