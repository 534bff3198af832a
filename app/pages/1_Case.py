"""The case: parties, contracts, costs, scheme assumptions and scenarios as editable tables.
Every change is checked at once; a valid change becomes the case the other pages use."""

from __future__ import annotations

import streamlit as st
import views

from gainshare.analysis import workshop as wk

s = views.page("Case")
st.title("The case")
st.markdown(
    "Change any figure in the tables below: each change is checked at once, and the workshop "
    "screen solves the changed case. Uncertain figures take a number, a distribution such as "
    "`triangular(0.65, 0.75, 0.85)` or `uniform(0.75, 1)`, or one value per year `[0.8, 0.9, 1]`."
)

reset = st.session_state.setdefault("case.reset", 0)
tables, prefix = views.snapshot("case", (s.load_id, reset), lambda: wk.case_tables(s.case))
edited, holders = {}, {}
tabs = st.tabs([spec.title for spec in wk.TABLES])
for spec, tab in zip(wk.TABLES, tabs, strict=True):
    with tab:
        fixed_rows = spec.single
        edited[spec.name] = st.data_editor(
            tables[spec.name],
            key=f"{prefix}.{spec.name}",
            num_rows="fixed" if fixed_rows else "dynamic",
            hide_index=True,
            width="stretch",
            column_config=views.column_config(spec),
        )
        holders[spec.name] = st.container()

edit = wk.case_from_tables(s.case, edited)
for name, holder in holders.items():
    with holder:
        views.problems([p for p in edit.problems if p.table == name])
general = [p for p in edit.problems if p.table is None]
if edit.ok:
    s.edit(edit.value)
    st.success("The case is valid: the workshop screen uses these figures.",
               icon=":material/check_circle:")  # fmt: skip
    solved = s.solve()
    if solved.check is None:
        st.warning("With these figures no agreement meets every requirement.",
                   icon=":material/warning:")  # fmt: skip
    else:
        views.metrics(solved, None)
else:
    st.error(f"{len(edit.problems)} problem{'s' if len(edit.problems) != 1 else ''} to fix "
             "before the case can be used (shown under its table); the workshop screen keeps "
             "the last valid case.", icon=":material/error:")  # fmt: skip
    views.problems(general)
    for p in edit.problems:
        if p.table is not None:
            st.caption(p.text)

c1, c2 = st.columns([1, 4])
if c1.button("Undo my edits", help="Back to the case as loaded"):
    st.session_state["case.reset"] = reset + 1
    s.edit(s.original)
    st.rerun()
with st.expander("The case as YAML"):
    st.code(wk.case_yaml(s.case), language="yaml")
