"""The term sheet of an agreement, as the finance teams will read it, and the files to take
away: the term sheet, the agreement YAML and the Excel workbook."""

from __future__ import annotations

import streamlit as st
import views

import gainshare
from gainshare.report.termsheet import term_sheet

s = views.page("Term sheet")
st.title("Term sheet")
case = s.effective_case
choices = {}
solved = s.solve()
if solved.check is not None:
    choices["The best agreement"] = (solved.result.agreement, solved.check)
if s.proposal is not None:
    choices["The room's proposal"] = (s.proposal, None)
if s.agreement is not None:
    choices["Proposal in the case file"] = (s.agreement, None)
if not choices:
    st.error("No agreement meets every requirement, and the room has no proposal yet.",
             icon=":material/block:")  # fmt: skip
    st.stop()
label = st.radio("Agreement", list(choices), horizontal=True, key="sheet.which")
agreement, result = choices[label]
key = ("sheet", s.version, s.whatif, label, agreement.model_dump_json())
if key not in s.cache:
    s.cache[key] = result or gainshare.check(case, agreement)
result = s.cache[key]
views.download_row(case, agreement, result, "sheet")
with st.container(border=True):
    st.markdown(term_sheet(case, agreement, result).markdown())
