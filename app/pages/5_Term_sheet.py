"""The term sheet of an agreement, as the finance teams will read it, and the files to take
away: the term sheet, the agreement YAML and the Excel workbook. Open for any case: the room's
proposal always has a term sheet, whether or not anything meets every requirement."""

from __future__ import annotations

import state
import streamlit as st
import views

import gainshare
from gainshare.report.termsheet import term_sheet
from gainshare.schema.requirement_tables import OBJECTIVE_LABELS

r = views.page("Term sheet")
views.title("Term sheet", r)
case = r.effective_case


def _best_in_whole_percent():
    """The best agreement with every share in whole per cent (or the case's own coarser
    steps): the numbers a term sheet states exactly."""
    key = ("sheet.best", r.version, r.whatif)
    if key not in r.cache:
        req = case.requirements
        steps = req.rounding if req.rounding != "none" else "1%"
        whole = case.model_copy(update={"requirements": req.model_copy(update={"rounding": steps})})
        with st.spinner("Designing the best agreement in whole per cent…"):
            result = gainshare.design(whole, time_limit=min(req.time_limit, 15.0))
        agreement = None
        if result.agreement is not None:
            aim = OBJECTIVE_LABELS[req.objective].lower()
            agreement = result.agreement.model_copy(update={
                "name": f"The best agreement (shares in {'steps of ' if steps == '5%' else ''}"
                        f"{'5%' if steps == '5%' else 'whole per cent'})",
                "notes": f"Designed by gainshare for the room's requirements; aim: {aim}.",
            })  # fmt: skip
        r.cache[key] = (agreement, result.check)
    return r.cache[key]


choices = {}
best, best_check = _best_in_whole_percent()
if best is None:  # not in whole per cent: the best agreement with its exact shares, if any
    solved = r.solve()
    if solved.check is not None:
        best = views.best_agreement(solved)
        best_check = solved.check
if best is not None:
    choices[best.name] = (best, best_check)
proposal = r.starting_proposal()
choices["The room's proposal"] = (proposal.model_copy(update={"name": proposal.name}), None)
if r.case_agreement is not None:
    choices["Proposal in the case file"] = (r.case_agreement, None)
if best is None:
    st.warning(
        "No agreement meets every requirement, so there is no best agreement to state; "
        "the room's proposal has its term sheet below.",
        icon=":material/warning:",
    )
labels = list(choices)
state.init_widget(r, "ui.sheet.which", labels[0])
if st.session_state["ui.sheet.which"] not in labels:
    st.session_state["ui.sheet.which"] = labels[0]
label = st.radio("Agreement", labels, horizontal=True, key="ui.sheet.which")
agreement, result = choices[label]
key = ("sheet", r.version, r.whatif, agreement.model_dump_json())
if key not in r.cache:
    r.cache[key] = result or gainshare.check(case, agreement)
result = r.cache[key]
views.metrics(views.as_solved(case, result), None)
views.download_row(case, agreement, result, "sheet")
with st.container(border=True):
    st.markdown(term_sheet(case, agreement, result).markdown())
views.conventions(r)
