"""Candidates and trade-offs: distinct agreements side by side, and what the commissioners give
up for a better worst year for the providers (the frontier)."""

from __future__ import annotations

import streamlit as st
import views

from gainshare.analysis import workshop as wk
from gainshare.report import app_charts

s = views.page("Candidates")
st.title("Candidates and trade-offs")
st.markdown("Distinct agreements, all settled on the same scenarios, side by side. The charts "
            "show what the commissioners give up for a better worst year for the providers, and "
            "for more certainty that everyone is kept whole.")  # fmt: skip
slow = st.toggle("Also trade off against the chance that everyone is kept whole (a design for "
                 "each level: up to half a minute)", key="cand.slow")  # fmt: skip


def _compute(s, slow: bool):
    """Candidates (and the frontier) for the session's case and what-ifs, on its model."""
    from gainshare.analysis.candidates import candidates

    case = s.effective_case
    s.solve()  # the persistent model exists and holds the room's levels
    kw = {} if slow else {"betas": ()}
    res = candidates(case, designer=s.designer, **kw)
    s.touched_model()
    items = [wk.Candidate(it.label, it.agreement, it.check, it.feasible, it.method)
             for it in res.items]  # fmt: skip
    if s.agreement is not None:
        from gainshare.settle.check import check

        own = check(case, s.agreement)
        items.append(wk.Candidate("Proposal in the case file", s.agreement, own))
    return items, res.frontier, res.notes


key = ("candidates", s.version, s.whatif, slow)
if key not in s.cache:
    with st.spinner("Finding candidate agreements…"):
        s.cache[key] = _compute(s, slow)
items, frontier, notes = s.cache[key]

if not items:
    st.error("No agreement meets every requirement with these settings, so there are no "
             "candidates: loosen a requirement on the workshop screen or the Requirements "
             "page.", icon=":material/block:")  # fmt: skip
    st.stop()

case = s.effective_case
labels = [it.label for it in items]
chosen = st.selectbox("Highlight", labels, key="cand.chosen")
st.subheader("Side by side")
frame = wk.compare_frame(case, items)
st.dataframe(frame, width="stretch", height=35 * (len(frame) + 1) + 3)  # one line a row

st.subheader("The trade-offs")
tabs = st.tabs(["Commissioners against the worst provider year",
                "Commissioners against everyone kept whole"])  # fmt: skip
for tab, against, x, title in (
    (tabs[0], "worst_margin", "worst", "Worst year of any provider"),
    (tabs[1], "prob_all_whole", "whole", "Share of scenarios in which everyone is kept whole"),
):
    with tab:
        line = frontier[frontier["against"] == against] if len(frontier) else frontier
        line = line.rename(columns={against: "x", "commissioners_expected": "y"})[["x", "y"]]
        points = wk.tradeoff_points(case, items, chosen, x)
        st.plotly_chart(app_charts.tradeoff(points, case.currency, line, title, x == "whole"),
                        key=f"cand.{against}", config={"displaylogo": False})  # fmt: skip
        if against == "prob_all_whole" and not slow:
            st.caption("Switch on the toggle above to trace this frontier.")
st.caption("Dotted line: the frontier. No agreement does better on both axes at once.")
if notes:
    with st.expander("Notes on how the candidates were found"):
        st.markdown("\n".join(f"- {n}" for n in notes))

pick = next(it for it in items if it.label == chosen)
st.subheader(pick.label)
if pick.method:
    st.caption(f"Found by {pick.method}.")
st.dataframe(wk.shares_frame(case, pick.agreement), hide_index=True, width="stretch")
c1, _ = st.columns([1, 3])
if c1.button("Make this the room's proposal", key="cand.use"):
    s.proposal = pick.agreement.model_copy(update={"name": f"The room's proposal ({pick.label})"})
    st.session_state["proposal.reset"] = st.session_state.get("proposal.reset", 0) + 1
    st.switch_page("pages/4_Proposal.py")
views.download_row(case, pick.agreement, pick.check, "cand")
