"""Candidates and trade-offs: distinct agreements side by side, and what the commissioners give
up for a better worst year for the providers (the frontier). Each candidate has a letter; the
charts mark it by that letter, a filled circle when it meets every requirement and a red cross
when it does not."""

from __future__ import annotations

import state
import streamlit as st
import views

import gainshare
from gainshare.report import app_charts
from gainshare.report import app_tables as tables
from gainshare.settle.check import check
from gainshare.settle.requirements import failures

r = views.page("Candidates")
views.title("Candidates and trade-offs", r)
st.markdown("Distinct agreements, all settled on the same scenarios, side by side. The charts "
            "show what the commissioners give up for a better worst year for the providers, and "
            "for more certainty that everyone is kept whole.")  # fmt: skip
state.init_widget(r, "ui.cand.slow", False)
slow = st.toggle("Also trade off against the chance that everyone is kept whole (a design for "
                 "each level: up to half a minute)", key="ui.cand.slow")  # fmt: skip
LETTERS = "ABCDEFGHIJKLMNOP"


def _compute(slow: bool):
    """Candidates (and the frontier) for the room's case and what-ifs, on its model."""
    case = r.effective_case
    aim = case.requirements.objective
    designer = r.model.designer_for(r.whatif)
    kw = {} if slow else {"betas": ()}
    with r.model.lock:
        try:
            res = gainshare.candidates(case, designer=designer, **kw)
        finally:
            r.model.touched()
    options = [
        tables.Option(LETTERS[i], tables.option_label(case, c), c.agreement, c.check,
                      c.feasible, tables.option_about(case, c, aim))
        for i, c in enumerate(res.items)
    ]  # fmt: skip
    if r.case_agreement is not None:
        own = check(case, r.case_agreement)
        meets = not failures(case, r.case_agreement, own)
        options.append(tables.Option(LETTERS[len(options)], "Proposal in the case file",
                                     r.case_agreement, own, meets,
                                     "The agreement that came with the case."))  # fmt: skip
    return options, res.frontier, tables.option_notes(case, res.notes)


key = ("candidates", r.version, r.whatif, slow)
if key not in r.cache:
    with st.spinner("Finding candidate agreements…"):
        r.cache[key] = _compute(slow)
options, frontier, notes = r.cache[key]
case = r.effective_case

if not any(o.meets for o in options):
    st.error("No agreement meets every requirement with these settings, so there are no "
             "candidates to design: loosen a requirement on the workshop screen or the "
             "Requirements page, or type the room's own proposal on the Proposal page.",
             icon=":material/block:")  # fmt: skip
    views.conflict(r, key="cand.explain")
    if not options:
        st.stop()

st.subheader("Side by side")
frame = tables.compare_frame(case, options)
st.dataframe(frame, hide_index=True, width="stretch", height=views.frame_height(len(frame)),
             column_config={"": st.column_config.TextColumn(width=36),
                            "Candidate": st.column_config.TextColumn(width=260)})  # fmt: skip
with st.expander("Each organisation's expected net under each candidate"):
    nets = tables.nets_frame(case, options)
    st.dataframe(nets, hide_index=True, width="stretch", height=views.frame_height(len(nets)))

st.subheader("The trade-offs")
labels = [o.label for o in options]
state.init_widget(r, "ui.cand.chosen", labels[0])
if st.session_state["ui.cand.chosen"] not in labels:
    st.session_state["ui.cand.chosen"] = labels[0]
tabs = st.tabs(["Commissioners against the worst provider year",
                "Commissioners against everyone kept whole"])  # fmt: skip
for tab, against, x, title in (
    (tabs[0], "worst_margin", "worst", "Worst year of any provider"),
    (tabs[1], "prob_all_whole", "whole", "Share of scenarios in which everyone is kept whole"),
):
    with tab:
        line = frontier[frontier["against"] == against] if len(frontier) else frontier
        line = line.rename(columns={against: "x", "commissioners_expected": "y"})[["x", "y"]]
        points = tables.tradeoff_points(case, options, st.session_state["ui.cand.chosen"], x)
        st.plotly_chart(app_charts.tradeoff(points, case.currency, line, title, x == "whole"),
                        key=f"cand.{against}", config={"displaylogo": False})  # fmt: skip
        if against == "prob_all_whole" and not slow:
            st.caption("Switch on the toggle above to trace this frontier.")
st.caption("Dotted line: the frontier. No agreement does better on both axes at once.")
if notes:
    with st.expander("Notes on the candidates"):
        st.markdown("\n".join(f"- {n}" for n in notes))

chosen = st.selectbox(
    "Look at",
    labels,
    key="ui.cand.chosen",
    format_func=lambda lab: f"{options[labels.index(lab)].letter} · {lab}",
)
pick = options[labels.index(chosen)]
st.subheader(f"{pick.letter} · {pick.label}")
if pick.about:
    st.caption(pick.about)
views.shares_table(case, pick.agreement)


def _use() -> None:
    name = f"The room's proposal (from {pick.label.lower()})"
    r.set_proposal(pick.agreement.model_copy(update={"name": name}))


if st.button("Make this the room's proposal", key="cand.use", on_click=_use,
             icon=":material/edit_note:"):  # fmt: skip
    st.switch_page("pages/4_Proposal.py")
views.download_row(case, pick.agreement.model_copy(update={"name": pick.label}), pick.check,
                   "cand")  # fmt: skip
views.conventions(r)
