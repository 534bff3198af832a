"""Pieces of the workshop screens shared by the pages: page set-up and the sidebar (case picker,
upload, start again), the headline figures, the verdict, each organisation's position, the
agreement in words, the charts, the downloads and the editable tables' snapshots.
Presentation only: figures, words and charts come from the package."""

from __future__ import annotations

import time

import pandas as pd
import state
import streamlit as st

from gainshare.optimise.unsupported import refuse_case
from gainshare.optimise.whatif import Solved
from gainshare.report import app_charts
from gainshare.report import app_tables as tables
from gainshare.report.downloads import downloads
from gainshare.report.numbers import convention, money, pct
from gainshare.report.positions import headline
from gainshare.report.termsheet import term_sheet
from gainshare.schema.io import InputError
from gainshare.schema.requirement_tables import OBJECTIVE_LABELS
from gainshare.schema.uploads import CASE_TYPES, MAX_UPLOAD_MB, load_upload
from gainshare.settle.requirements import failures

# Sized for a projector at 1280x720: compact page margins and headings, large figures.
CSS = """
<style>
header[data-testid="stHeader"] { height: 2.2rem; min-height: 2.2rem; background: transparent; }
.block-container { padding-top: 1.6rem; padding-bottom: 2rem; padding-left: 1.6rem;
                   padding-right: 1.6rem; max-width: 100%; }
[data-testid="stMainBlockContainer"] { padding-top: 1.6rem; }
h1 { font-size: 1.55rem !important; padding: 0 0 0.1rem 0 !important; }
h2 { font-size: 1.3rem !important; padding: 0.4rem 0 0.1rem 0 !important; }
h3 { font-size: 1.15rem !important; padding: 0.3rem 0 0.1rem 0 !important; }
[data-testid="stMetricValue"] { font-size: 1.9rem; }
[data-testid="stMetricLabel"] p { font-size: 0.95rem; }
[data-testid="stMetric"] { padding: 0.45rem 0.8rem !important; }
[data-testid="stSidebar"] { min-width: 240px !important; max-width: 260px !important; }
[data-testid="stSidebarContent"] { padding-top: 0.5rem; }
.gs-clause { margin-bottom: 0.55rem; }
</style>
"""


def page(title: str) -> state.Room:
    """Page set-up every page starts with; returns this browser session's room."""
    st.set_page_config(page_title=f"{title} · gainshare", layout="wide",
                       initial_sidebar_state="expanded")  # fmt: skip
    st.markdown(CSS, unsafe_allow_html=True)
    r = state.room()
    state.remember(r)
    sidebar(r)
    if r.notice:
        st.info(r.notice, icon=":material/info:")
        r.notice = ""
    return r


def title(text: str, r: state.Room) -> None:
    st.title(text)
    c = r.case
    years = "1 year" if c.horizon.years == 1 else f"{c.horizon.years} years"
    n = c.scenario_count()
    st.caption(f"**{c.name}** · {len(c.parties)} organisations · {years} from "
               f"{c.horizon.labels()[0]} · {n:,} scenario{'' if n == 1 else 's'}")  # fmt: skip


def conventions(r: state.Room) -> None:
    st.caption(convention(r.case.currency, r.case.horizon.years))


# ---------------------------------------------------------------- choosing a case


def _pick_example(r: state.Room) -> None:
    label = st.session_state.get("case.pick")
    ex = next((e for e in state.examples() if e.label == label), None)
    if ex is None or ex.label == r.label:
        return
    case, agreement = state.load_example(ex)
    r.load(ex.label, case, agreement)


def _take_upload(r: state.Room) -> None:
    f = st.session_state.get("case.upload")
    st.session_state["case.upload.problems"] = []
    if f is None:
        return
    try:
        case = load_upload(f.name, f.getvalue())
        refuse_case(case, where=f.name)  # a case design cannot answer (e.g. an open fund)
    except InputError as e:
        st.session_state["case.upload.problems"] = e.problems
        return
    r.load(f"{case.name} (uploaded)", case)
    st.session_state["case.pick"] = r.label


def sidebar(r: state.Room) -> None:
    labels = [e.label for e in state.examples()]
    if r.label not in labels:
        labels.append(r.label)
    st.session_state["case.pick"] = r.label
    with st.sidebar:
        st.markdown(f"**Case:** {r.label}")
        with st.expander("Another case"):
            st.radio("Example cases", labels, key="case.pick", on_change=_pick_example,
                     args=(r,), label_visibility="collapsed")  # fmt: skip
            st.file_uploader("Upload a case (YAML, JSON or Excel)", type=list(CASE_TYPES),
                             key="case.upload", on_change=_take_upload, args=(r,),
                             max_upload_size=MAX_UPLOAD_MB)  # fmt: skip
        for line in st.session_state.get("case.upload.problems", []):
            st.error(line)
        st.button("Start again", on_click=state.start_again, icon=":material/restart_alt:",
                  help="Forget this room's changes and start from the example case",
                  key="room.restart")  # fmt: skip
        st.caption("The address bar's link brings this room back after a refresh.")


# ---------------------------------------------------------------- figures


def _delta(new: float, old: float | None, cur: str) -> str | None:
    if old is None or abs(new - old) < 0.5:
        return None
    return ("+" if new > old else "-") + money(abs(new - old), cur)


def metrics(solved: Solved, previous: Solved | None = None, columns: int = 4) -> None:
    """The headline figures; the arrows compare with the result before the last move on the
    same case (never with another case)."""
    case, cur = solved.case, solved.case.currency
    h = headline(case, solved.check)
    same = previous is not None and previous.check is not None and previous.load == solved.load
    p = headline(previous.case, previous.check) if same else None
    over = ("Expected over the year of the agreement" if h.years == 1
            else f"Expected over the {h.years} years of the agreement")  # fmt: skip
    since = "since the last change"
    items = [
        ("System savings", money(h.system_savings, cur), _delta(h.system_savings,
         p and p.system_savings, cur), over + ": real resources released, however the pool is "
         "split"),
        ("Commissioners keep", money(h.commissioners_keep, cur), _delta(h.commissioners_keep,
         p and p.commissioners_keep, cur), over + ": the pool less what the agreement pays the "
         "providers"),
        ("Worst provider year", money(h.worst_provider_year, cur), _delta(h.worst_provider_year,
         p and p.worst_provider_year, cur), "The lowest net position of any provider in any "
         "scenario and year"),
        ("Everyone kept whole in", pct(h.prob_all_whole), None,
         "Share of scenarios in which every organisation with a keep-whole requirement is no "
         "worse off than it accepts in any year its requirement covers (the same test as each "
         "organisation's 'Kept whole in')"),
    ]  # fmt: skip
    rows = [items[i : i + columns] for i in range(0, len(items), columns)]
    for row in rows:
        cols = st.columns(columns)
        for col, (label, value, delta, help_) in zip(cols, row, strict=False):
            col.metric(label, value, delta, border=True, help=help_,
                       delta_description=since if delta else None)  # fmt: skip


HEADLINE_PAUSE_S = 0.08


def send_now() -> None:
    """Let the headline reach the room before the rest of the page is built. While this
    script's thread builds the tables and charts, the server's sending loop gets the
    interpreter only in turns, one message each, and the browser draws the headline while it
    also takes in the tables and charts. A pause of 80 ms lets the loop send the headline at
    once and the browser draw it alone (measured in Chromium with benchmarks/app_slider.py:
    the figures of a slider move on screen about 45 ms sooner than with a 10 ms pause)."""
    time.sleep(HEADLINE_PAUSE_S)


def verdict(case, agreement, check) -> None:
    v = tables.verdict(case, check, failures(case, agreement, check))
    if v.ok:
        st.success(v.text, icon=":material/check_circle:")
    else:
        st.warning(v.text, icon=":material/warning:")
    for note in v.notes:
        st.caption(note)


def _highlight(row: pd.Series) -> list[str]:
    bad = row.get("Met") == "No"
    return ["background-color: #fdecea; color: #8a1c1c" if bad else "" for _ in row]


ORG_WIDTH = 280  # pixels: the longest organisation names in full


def frame_height(rows: int) -> int:
    """A table's height with every row in view (no scrolling, nothing cut off)."""
    return 35 * (rows + 1) + 3


def positions(solved: Solved) -> None:
    frame = tables.positions_frame(solved.case, solved.check)
    config = {
        "Organisation": st.column_config.TextColumn(width=ORG_WIDTH),
        "Expected net": st.column_config.TextColumn(width=100),
        "Worst year": st.column_config.TextColumn(width=95),
        "Kept whole in": st.column_config.TextColumn(
            width=110, help="Share of scenarios in which it is no worse off than it accepts "
            "in any year its requirement covers"),
        "Met": st.column_config.TextColumn(width=50),
    }  # fmt: skip
    st.dataframe(frame.style.apply(_highlight, axis=1), hide_index=True, width="stretch",
                 column_config=config, height=frame_height(len(frame)))  # fmt: skip


def position_words(solved: Solved) -> None:
    words = tables.position_sentences(solved.case, solved.check)
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
    frame = tables.shares_frame(case, agreement)
    st.dataframe(
        frame,
        hide_index=True,
        width="stretch",
        height=frame_height(len(frame)),
        column_config={"Organisation": st.column_config.TextColumn(width=ORG_WIDTH)},
    )
    if agreement.year_overrides:
        years = ", ".join(case.horizon.labels()[y - 1] for y in sorted(agreement.year_overrides))
        st.caption(f"The table shows the base terms; {years} has terms of its own, stated in "
                   "the clauses.")  # fmt: skip


def agreement_words(case, agreement, check) -> None:
    """The key clauses of the term sheet, and the whole term sheet on request."""
    clauses = list(enumerate(term_sheet(case, agreement, check).clauses, 1))
    for n, c in clauses:
        if c.title in KEY_CLAUSES:
            _clause(n, c)
    with st.expander("The whole term sheet"):
        for n, c in clauses:
            _clause(n, c)


def charts(solved: Solved, key: str) -> None:
    tabs = st.tabs(["Where each organisation ends up", "Spread over the scenarios"])
    with tabs[0]:
        st.caption("Expected over the agreement: income change, cost saved (negative: costs "
                   "added), benefit booked, what the agreement pays or keeps, and the net "
                   "position. The same lines as the workbook's Summary.")  # fmt: skip
        st.plotly_chart(app_charts.waterfalls(solved.case, solved.check), key=f"{key}.wf",
                        config={"displaylogo": False})  # fmt: skip
    with tabs[1]:
        st.caption("Each organisation's net position over the agreement, one point a scenario; "
                   "left of the dashed line it is worse off than without the schemes.")  # fmt: skip
        st.plotly_chart(app_charts.distributions(solved.case, solved.check), key=f"{key}.dist",
                        config={"displaylogo": False})  # fmt: skip


def download_row(case, agreement, check, key: str) -> None:
    files = downloads(case, agreement, check)
    cols = st.columns(len(files))
    for col, f in zip(cols, files, strict=True):
        col.download_button(f.label, data=f.make, file_name=f.file_name, mime=f.mime,
                            key=f"{key}.{f.file_name}", on_click="ignore",
                            width="stretch")  # fmt: skip


def problems(items) -> None:
    for p in items:
        st.error(p.text, icon=":material/error:")


def timing(solved: Solved) -> None:
    how = "built the model and solved" if solved.rebuilt else "re-solved the model it holds"
    designs = (solved.result.timings or {}).get("designs") if solved.result else None
    if designs:  # the worst-margin aim under group limits: a bisection on the floor
        how = f"{designs} designs, raising a floor on the worst-off provider's year"
    st.caption(f"Answered in {1000 * solved.seconds:,.0f} ms ({how}); every figure re-checked "
               "by settling the agreement over every scenario.")  # fmt: skip


def conflict(r: state.Room, key: str = "explain") -> None:
    """Why nothing works, in words, on request (it takes about a second)."""
    ck = ("conflict", r.version, r.whatif)
    if st.button("Show what would have to give", key=key, icon=":material/help:"):
        with st.spinner("Looking for the smallest change that would work…"):
            r.cache[ck] = tables.conflict_sentences(r.effective_case, r.model.conflict(r.whatif))
    for line in r.cache.get(ck, []):
        st.markdown(f"- {line}")


# ---------------------------------------------------------------- editable tables


def snapshot(r: state.Room, name: str, token, make):
    """Stable input for a page's data editors, and the prefix of their keys. A data editor
    holds its edits relative to the frame it was first given, so that frame must not change
    while the page is open. It is made afresh when `token` changes; when the editors' state is
    gone (another page was opened, or the browser refreshed) it is the frames as last edited,
    so that no edit is lost."""
    prefix = f"{name}.ed.{token}"
    live = any(str(k).startswith(prefix) for k in st.session_state)
    snap = r.drafts.get(name)
    if snap is None or snap[0] != token:
        snap = (token, make())
    elif not live:
        edited = r.drafts.get(f"{name}.edited")
        if edited is not None and edited[0] == token:
            snap = (token, edited[1])
    r.drafts[name] = snap
    return snap[1], prefix


def keep_draft(r: state.Room, name: str, token, frames) -> None:
    """The frames as the room has just edited them (for after a refresh)."""
    r.drafts[f"{name}.edited"] = (token, frames)


def money_column(label: str, help: str | None = None):
    return st.column_config.NumberColumn(label, min_value=0.0, format="localized", help=help)


def percent_column(label: str, help: str | None = None):
    return st.column_config.NumberColumn(label, min_value=0.0, max_value=100.0, format="%.2f",
                                         help=help)  # fmt: skip


def best_agreement(solved: Solved):
    """The optimum as the room names it (its figures unchanged)."""
    aim = OBJECTIVE_LABELS[solved.case.requirements.objective].lower()
    return solved.result.agreement.model_copy(update={
        "name": "The best agreement",
        "notes": f"Designed by gainshare for the room's requirements; aim: {aim}.",
    })  # fmt: skip


def as_solved(case, check, load: int = 0) -> Solved:
    """A checked agreement in the shape the figure helpers take."""
    return Solved(case, None, check, 0.0, False, load=load)
