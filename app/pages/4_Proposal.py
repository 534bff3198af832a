"""The room's proposal, for any case (an optimum or not): shares, caps and collars typed in by
the room or uploaded as an agreement file, checked at once over every scenario and year; when
it fails, the nearest agreement that meets every requirement, what moved, and how it compares
with the best agreement."""

from __future__ import annotations

import streamlit as st
import views

import gainshare
from gainshare.report import app_tables as tables
from gainshare.report.numbers import money
from gainshare.report.positions import headline
from gainshare.schema.io import InputError
from gainshare.schema.proposal_table import (
    CAP,
    COLLAR,
    LIMIT_HELP,
    agreement_from_proposal,
    proposal_frame,
    rounded,
)
from gainshare.schema.uploads import AGREEMENT_TYPES, MAX_UPLOAD_MB, agreement_yaml
from gainshare.schema.uploads import load_agreement_upload as read_agreement
from gainshare.settle.requirements import failures

ADD_LIMIT_SECONDS = 5.0  # repair's second try, with caps and collars added: the room waits

r = views.page("Proposal")
views.title("The room's proposal", r)
st.markdown("Type the shares (%), caps and collars the room proposes, or upload an agreement "
            "file. It is checked at once over every scenario and year; if it fails a "
            "requirement, the nearest agreement that meets them all is found and what moved is "
            "listed.")  # fmt: skip

case = r.effective_case


def _take_upload() -> None:
    f = st.session_state.get("proposal.upload")
    st.session_state["proposal.upload.problems"] = []
    if f is None:
        return
    try:
        agreement = read_agreement(f.name, f.getvalue(), case)
    except InputError as e:
        st.session_state["proposal.upload.problems"] = e.problems
        return
    r.set_proposal(agreement)


with st.expander("Upload an agreement (YAML or JSON)"):
    st.file_uploader("Agreement file", type=list(AGREEMENT_TYPES), key="proposal.upload",
                     on_change=_take_upload, max_upload_size=MAX_UPLOAD_MB,
                     label_visibility="collapsed")  # fmt: skip
    for line in st.session_state.get("proposal.upload.problems", []):
        st.error(line)

start = r.starting_proposal()
token = (r.load_id, r.proposal_id)
(base, frame), prefix = views.snapshot(r, "proposal", token,
                                       lambda: (start, proposal_frame(case, start)))  # fmt: skip
config = {
    "Organisation": st.column_config.TextColumn(disabled=True, width=views.ORG_WIDTH),
    CAP: st.column_config.TextColumn(help=LIMIT_HELP),
    COLLAR: st.column_config.TextColumn(help="Most it can lose a year, written like a cap; "
                                             "empty: no collar"),
}  # fmt: skip
for col in frame.columns:
    if col.endswith("(%)"):
        config[col] = views.percent_column(col, "Share of this tier; each column sums to 100%")
edited = st.data_editor(frame, key=f"{prefix}.terms", num_rows="fixed", width="stretch",
                        hide_index=True, column_config=config, placeholder="",
                        height=views.frame_height(len(frame)))  # fmt: skip
views.keep_draft(r, "proposal", token, (base, edited))
if base.year_overrides:
    years = ", ".join(case.horizon.labels()[y - 1] for y in sorted(base.year_overrides))
    st.caption(f"{years} keeps its own terms from the starting agreement (a glide path).")
st.caption(f"Starting point: {base.name}. The corridor and the tier edges are kept from it.")

edit = agreement_from_proposal(case, base, edited)
if not edit.ok:
    views.problems(edit.problems)
    st.stop()
proposal = edit.value
r.proposal = proposal
text = agreement_yaml(proposal)


def _check():
    key = ("proposal.check", r.version, r.whatif, text)
    if key not in r.cache:
        result = gainshare.check(case, proposal)
        r.cache[key] = (result, failures(case, proposal, result))
    return r.cache[key]


result, fails = _check()
st.subheader("Does it work?")
views.verdict(case, proposal, result)
views.metrics(views.as_solved(case, result), None)
views.positions(views.as_solved(case, result))
if fails and result.document["violations"]:
    with st.expander("Where it falls short"):
        for line in tables.shortfall_sentences(case, result):
            st.markdown(f"- {line}")
        frame = tables.shortfalls_frame(case, result)
        st.caption(f"The largest of {result.document['violations_total']:,} organisation-years "
                   "below the line:")  # fmt: skip
        st.dataframe(frame, hide_index=True, width="stretch",
                     height=views.frame_height(len(frame)))  # fmt: skip
views.download_row(case, proposal, result, "proposal")

if not fails:
    views.conventions(r)
    st.stop()

st.subheader("The nearest agreement that works")
key = ("proposal.repair", r.version, r.whatif, text)
if key not in r.cache:
    with st.spinner("Finding the nearest agreement that meets every requirement…"):
        try:
            r.cache[key] = gainshare.repair(case, proposal, add_limit_seconds=ADD_LIMIT_SECONDS)
        except InputError as e:  # a shape repair cannot keep (e.g. tiers that differ by year)
            r.cache[key] = e
fixed = r.cache[key]
if isinstance(fixed, InputError):
    for line in fixed.problems:
        st.error(line.removeprefix("proposal: "), icon=":material/error:")
    views.conventions(r)
    st.stop()
if fixed.agreement is None or fixed.check is None:
    said = fixed.message or ("No agreement of this shape (its corridor, tiers, caps and "
                             "collars) meets every requirement.")  # fmt: skip
    st.error(said.replace(": run `gainshare explain` to see which requirements conflict.", "."),
             icon=":material/block:")  # fmt: skip
    best = r.solve()
    if best.check is not None:
        keep = money(best.check.expected_retained, case.currency)
        st.info(
            f"The best agreement, with tiers of its own, does: the commissioners keep {keep}. "
            "Start from it in round numbers, and edit from there.",
            icon=":material/info:",
        )

        def _from_best() -> None:
            r.set_proposal(rounded(best.result.agreement, name="The room's proposal"))

        st.button("Start from the best agreement", key="proposal.from_best",
                  on_click=_from_best, icon=":material/edit_note:")  # fmt: skip
    else:
        views.conflict(r, key="proposal.explain")
    views.conventions(r)
    st.stop()

moved = tables.changes(case, proposal, fixed.agreement)
if fixed.message:
    st.info(fixed.message, icon=":material/add_circle:")
st.markdown("What moved:\n" + "\n".join(f"- {c}" for c in moved))
best = r.solve()
options = [
    tables.Option("", "The room's proposal", proposal, result, False),
    tables.Option("", "Nearest that works", fixed.agreement, fixed.check, True),
]
if best.check is not None:
    options.append(tables.Option("", "The best agreement", best.result.agreement, best.check, True))
    near, top = headline(case, fixed.check), headline(case, best.check)
    st.info(f"The nearest agreement moves the room's terms as little as possible (the fewest "
            f"percentage points and pounds in all), so it is not the best for anyone in "
            f"particular: with it the commissioners keep "
            f"{money(near.commissioners_keep, case.currency)}; the best agreement for the aim "
            f"keeps {money(top.commissioners_keep, case.currency)}.",
            icon=":material/info:")  # fmt: skip
compare = tables.compare_columns(case, options)
st.dataframe(compare, width="stretch", height=views.frame_height(len(compare)))


def _take() -> None:
    r.set_proposal(fixed.agreement.model_copy(update={"name": "The room's proposal"}))


st.button(
    "Use the nearest agreement",
    key="proposal.take",
    on_click=_take,
    help="Make it the room's proposal, to edit further",
    icon=":material/edit_note:",
)
views.download_row(case, fixed.agreement, fixed.check, "repaired")
views.conventions(r)
