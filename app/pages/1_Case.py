"""The case: organisations, contracts, costs, scheme assumptions and scenarios as editable
tables. Every change is checked at once; a valid change becomes the case the other pages use.
Edits survive a refresh and a visit to another page."""

from __future__ import annotations

import streamlit as st
import views

from gainshare.optimise.unsupported import refuse_case
from gainshare.schema.case_tables import (
    TABLES,
    case_from_tables,
    case_tables,
    organisation_names,
)
from gainshare.schema.io import InputError
from gainshare.schema.tables import CellProblem, Edit
from gainshare.schema.uploads import case_yaml

r = views.page("Case")
views.title("The case", r)
st.markdown(
    "Change any figure in the tables below: each change is checked at once, and the workshop "
    "screen solves the changed case. Uncertain figures take a number, a distribution such as "
    "`triangular(0.65, 0.75, 0.85)` or `uniform(0.75, 1)`, or one value per year `[0.8, 0.9, 1]`."
)

token = (r.load_id, r.ui.get("case.reset", 0))
tables, prefix = views.snapshot(r, "case", token, lambda: case_tables(r.case))


def column_config(spec, names: list[str]) -> dict:
    cfg = {}
    for c in spec.cols:
        common = dict(help=c.help or None, width=c.width)
        if c.kind == "choice":
            cfg[c.label] = st.column_config.SelectboxColumn(c.label, options=list(c.words.values()),
                                                            **common)  # fmt: skip
        elif c.kind == "party":
            cfg[c.label] = st.column_config.SelectboxColumn(c.label, options=names, **common)
        elif c.kind == "int":
            cfg[c.label] = st.column_config.NumberColumn(c.label, step=1, format="%d", **common)
        elif c.kind == "number":
            cfg[c.label] = st.column_config.NumberColumn(c.label, format="localized", **common)
        elif c.kind == "label":
            cfg[c.label] = st.column_config.TextColumn(c.label, disabled=True, **common)
        else:
            cfg[c.label] = st.column_config.TextColumn(c.label, **common)
    return cfg


edited, holders = {}, {}
tabs = st.tabs([spec.title for spec in TABLES])
for spec, tab in zip(TABLES, tabs, strict=True):
    with tab:
        edited[spec.name] = st.data_editor(
            tables[spec.name],
            key=f"{prefix}.{spec.name}",
            num_rows="fixed" if spec.single or spec.fixed_rows else "dynamic",
            hide_index=True,
            width="stretch",
            height=views.frame_height(len(tables[spec.name]) + (0 if spec.single else 1)),
            column_config=column_config(spec, organisation_names(edited)),
            column_order=[c.label for c in spec.cols],
            placeholder="",
        )
        holders[spec.name] = st.container()
views.keep_draft(r, "case", token, edited)

edit = case_from_tables(r.case, edited)
if edit.ok:  # a case design cannot answer (e.g. a risk partner nothing bounds) is not used
    try:
        refuse_case(edit.value)
    except InputError as e:
        edit = Edit(None, [CellProblem(None, None, None, line) for line in e.problems])
for name, holder in holders.items():
    with holder:
        views.problems([p for p in edit.problems if p.table == name])
general = [p for p in edit.problems if p.table is None]
if edit.ok:
    r.edit(edit.value)
    st.success("The case is valid: the workshop screen uses these figures.",
               icon=":material/check_circle:")  # fmt: skip
    solved = r.solve()
    if solved.check is None:
        st.warning("With these figures no agreement meets every requirement: the workshop "
                   "screen says what would have to give.", icon=":material/warning:")  # fmt: skip
    else:
        views.metrics(solved, r.previous)
else:
    st.error(f"{len(edit.problems)} problem{'s' if len(edit.problems) != 1 else ''} to fix "
             "before the case can be used (shown under its table); the workshop screen keeps "
             "the last valid case.", icon=":material/error:")  # fmt: skip
    views.problems(general)
    for p in edit.problems:
        if p.table is not None:
            st.caption(p.text)


def _undo() -> None:
    r.ui["case.reset"] = r.ui.get("case.reset", 0) + 1
    r.edit(r.original)


st.button("Undo my edits", help="Back to the case as loaded", on_click=_undo,
          icon=":material/undo:")  # fmt: skip
with st.expander("The case as YAML"):
    st.code(case_yaml(r.case), language="yaml")
views.conventions(r)
