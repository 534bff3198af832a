"""Requirements: how strictly each organisation must be kept whole, terms the room has already
agreed, the commissioners' minimum, rounding and the objective. Every change is checked at once
and the optimum below follows it."""

from __future__ import annotations

import streamlit as st
import views

from gainshare.analysis import workshop as wk

s = views.page("Requirements")
st.title("Requirements")
st.markdown("What every agreement must meet, and what the best one aims for. Changes apply at "
            "once; the workshop screen's what-if sliders start from these levels.")  # fmt: skip

case = s.case
reset = st.session_state.setdefault("req.reset", 0)
frames, prefix = views.snapshot(
    "req", (s.load_id, reset), lambda: (wk.keep_whole_frame(case), wk.fixed_terms_frame(case))
)

st.subheader("Keep each organisation whole")
st.caption("Every scenario: never worse off than without the schemes (less the tolerance). Share "
           "of scenarios: kept whole in at least that share. Average of the worst scenarios: in "
           "the worst (100 - level)% of scenarios, short by no more than the tolerance on "
           "average.")  # fmt: skip
keep = st.data_editor(
    frames[0], key=f"{prefix}.keep", num_rows="fixed", width="stretch",
    column_config={
        "_index": st.column_config.TextColumn("Id", disabled=True),
        "Organisation": st.column_config.TextColumn(disabled=True),
        "Requirement": st.column_config.SelectboxColumn(options=list(wk.MODE_LABELS.values()),
                                                        required=True),
        "Level (% of scenarios)": views.percent_column("Level (% of scenarios)"),
        "Tolerance (£ a year)": views.money_column(
            "Tolerance (£ a year)", "Pounds a year it accepts to be worse off"),
    },
)  # fmt: skip
keep_box = st.container()

st.subheader("Terms already agreed")
st.caption("Leave a cell empty to let the search choose. Shares are % of every tier; a minimum "
           "gain share keeps an incentive for the provider that drives the change.")  # fmt: skip
fixed = st.data_editor(
    frames[1], key=f"{prefix}.fixed", num_rows="fixed", width="stretch",
    column_config={
        "_index": st.column_config.TextColumn("Id", disabled=True),
        "Organisation": st.column_config.TextColumn(disabled=True),
        "Fixed gain share (%)": views.percent_column("Fixed gain share (%)"),
        "Fixed loss share (%)": views.percent_column("Fixed loss share (%)"),
        "Minimum gain share (%)": views.percent_column("Minimum gain share (%)"),
        "Fixed cap (£ a year)": views.money_column("Fixed cap (£ a year)"),
        "Fixed collar (£ a year)": views.money_column("Fixed collar (£ a year)"),
    },
)  # fmt: skip
fixed_box = st.container()

st.subheader("The aim and the numbers")
now = wk.settings_of(case)
c1, c2, c3 = st.columns(3)
objectives = wk.objectives_for(case)
objective = c1.selectbox(
    "Aim for",
    objectives,
    index=objectives.index(now.objective),
    format_func=wk.OBJECTIVE_LABELS.get,
    key=f"{prefix}.objective",
)
rounding = c2.radio(
    "Shares written in",
    list(wk.ROUNDING_LABELS),
    index=list(wk.ROUNDING_LABELS).index(now.rounding),
    format_func=wk.ROUNDING_LABELS.get,
    horizontal=True,
    key=f"{prefix}.rounding",
)
cmin = c3.number_input("Commissioners keep at least (expected, £, whole agreement; 0 = no "
                       "minimum)", min_value=0.0, step=50_000.0,
                       value=float(now.commissioners_min or 0.0), key=f"{prefix}.cmin")  # fmt: skip
settings = wk.Settings(objective, rounding, cmin or None)

edit = wk.with_requirements(case, keep, fixed, settings)
with keep_box:
    views.problems([p for p in edit.problems if p.table == "keep"])
with fixed_box:
    views.problems([p for p in edit.problems if p.table == "fixed"])
views.problems([p for p in edit.problems if p.table not in ("keep", "fixed")])
if edit.ok:
    if edit.value != case:
        s.edit(edit.value, keep_requirement_whatifs=False)
    solved = s.solve()
    st.divider()
    if s.whatif.requirement_key() != wk.WhatIf().requirement_key():
        st.caption("The workshop screen's what-if levels also apply; changing a requirement "
                   "here replaces them.")  # fmt: skip
    if solved.check is None:
        st.error(solved.result.message or "No agreement meets every requirement.",
                 icon=":material/block:")  # fmt: skip
    else:
        views.verdict(solved)
        views.metrics(solved, None)
        views.timing(solved)
if st.button("Back to the requirements as loaded"):
    s.edit(wk.requirements_of(case, s.original or case), keep_requirement_whatifs=False)
    st.session_state["req.reset"] = reset + 1
    st.rerun()
