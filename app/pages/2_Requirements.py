"""Requirements: how strictly each organisation must be kept whole, terms the room has already
agreed, the commissioners' minimum, rounding and the aim. The tables show the levels in force,
the workshop screen's sliders included; a change here replaces those levels and the sliders
start from it. Every change is checked at once and the optimum below follows it."""

from __future__ import annotations

import state
import streamlit as st
import views

from gainshare.schema.requirement_tables import (
    MODE_LABELS,
    OBJECTIVE_LABELS,
    ROUNDING_LABELS,
    Settings,
    fixed_terms_frame,
    keep_whole_frame,
    objectives_for,
    requirements_of,
    settings_of,
    stated_terms,
    with_requirements,
)

r = views.page("Requirements")
views.title("Requirements", r)
st.markdown("What every agreement must meet, and what the best one aims for. The levels shown "
            "include any the workshop screen's sliders have set; a change here applies at once "
            "and the sliders start from it.")  # fmt: skip

# the requirements in force: the workshop screen's what-if levels become the case's own
if r.fold_requirements():
    r.ui["req.fold"] = r.ui.get("req.fold", 0) + 1
case = r.case
token = (r.load_id, r.ui.get("req.reset", 0), r.ui.get("req.fold", 0))
frames, prefix = views.snapshot(
    r, "req", token, lambda: (keep_whole_frame(case), fixed_terms_frame(case))
)

st.subheader("Keep each organisation whole")
st.caption("Every scenario: never worse off than without the schemes (less the tolerance). Share "
           "of scenarios: kept whole in at least that share. Average of the worst scenarios: in "
           "the worst (100 - level)% of scenarios, short by no more than the tolerance on "
           "average.")  # fmt: skip
keep = st.data_editor(
    frames[0], key=f"{prefix}.keep", num_rows="fixed", width="stretch", hide_index=True,
    height=views.frame_height(len(frames[0])), placeholder="",
    column_config={
        "Organisation": st.column_config.TextColumn(disabled=True, width=views.ORG_WIDTH),
        "Requirement": st.column_config.SelectboxColumn(options=list(MODE_LABELS.values()),
                                                        required=True, width="medium"),
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
    frames[1], key=f"{prefix}.fixed", num_rows="fixed", width="stretch", hide_index=True,
    height=views.frame_height(len(frames[1])), placeholder="",
    column_config={
        "Organisation": st.column_config.TextColumn(disabled=True, width=views.ORG_WIDTH),
        "Fixed gain share (%)": views.percent_column("Fixed gain share (%)"),
        "Fixed loss share (%)": views.percent_column("Fixed loss share (%)"),
        "Minimum gain share (%)": views.percent_column("Minimum gain share (%)"),
        "Fixed cap (£ a year)": views.money_column("Fixed cap (£ a year)"),
        "Fixed collar (£ a year)": views.money_column("Fixed collar (£ a year)"),
    },
)  # fmt: skip
fixed_box = st.container()
views.keep_draft(r, "req", token, (keep, fixed))

rules = stated_terms(case)
if rules:
    st.subheader("Terms the case sets")
    st.caption("A programme's own rules: every agreement keeps them and the search chooses the "
               "shares under them. Change them in the case file.")  # fmt: skip
    st.markdown("\n".join(f"- {line}" for line in rules))

st.subheader("The aim and the numbers")
now = settings_of(case)
c1, c2, c3 = st.columns(3)
objectives = objectives_for(case)
ok, rk, ck = f"ui.{prefix}.objective", f"ui.{prefix}.rounding", f"ui.{prefix}.cmin"
state.init_widget(r, ok, now.objective)
state.init_widget(r, rk, now.rounding)
state.init_widget(r, ck, float(now.commissioners_min or 0.0))
objective = c1.selectbox("Aim for", objectives, format_func=OBJECTIVE_LABELS.get, key=ok)
rounding = c2.radio("Shares written in", list(ROUNDING_LABELS), format_func=ROUNDING_LABELS.get,
                    horizontal=True, key=rk)  # fmt: skip
cmin = c3.number_input("Commissioners keep at least (expected, £, whole agreement; 0 = no "
                       "minimum)", min_value=0.0, step=50_000.0, key=ck)  # fmt: skip
settings = Settings(objective, rounding, cmin or None)

edit = with_requirements(case, keep, fixed, settings)
with keep_box:
    views.problems([p for p in edit.problems if p.table == "keep"])
with fixed_box:
    views.problems([p for p in edit.problems if p.table == "fixed"])
views.problems([p for p in edit.problems if p.table not in ("keep", "fixed")])
if edit.ok:
    if edit.value != case:
        r.edit(edit.value, keep_requirement_whatifs=False)
    solved = r.solve()
    st.divider()
    if solved.check is None:
        st.error("No agreement meets every requirement.", icon=":material/block:")
        views.conflict(r, key="req.explain")
    else:
        views.verdict(solved.case, solved.result.agreement, solved.check)
        views.metrics(solved, r.previous)
        views.timing(solved)


def _back() -> None:
    r.edit(requirements_of(r.case, r.original or r.case), keep_requirement_whatifs=False)
    r.ui["req.reset"] = r.ui.get("req.reset", 0) + 1
    for k in [k for k in r.ui if k.startswith("ui.req.")]:
        del r.ui[k]


st.button("Back to the requirements as loaded", on_click=_back, icon=":material/undo:")
views.conventions(r)
