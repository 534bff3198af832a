"""The room's proposal: shares, caps and collars typed in by the room, checked at once over every
scenario and year; when it fails, the nearest agreement that meets every requirement and what
moved to get there."""

from __future__ import annotations

import streamlit as st
import views

import gainshare
from gainshare.analysis import workshop as wk

s = views.page("Proposal")
st.title("The room's proposal")
st.markdown("Type the shares (%), caps and collars the room proposes. It is checked at once over "
            "every scenario and year; if it fails a requirement, the nearest agreement that "
            "meets them all is found and what moved is listed.")  # fmt: skip

case = s.effective_case
start = s.starting_proposal()
if start is None:
    st.error("There is no agreement to start from: the requirements cannot all be met. "
             "Loosen them on the Requirements page.", icon=":material/block:")  # fmt: skip
    st.stop()

reset = st.session_state.setdefault("proposal.reset", 0)
(base, frame), prefix = views.snapshot(
    "proposal", (s.load_id, reset), lambda: (start, wk.proposal_frame(case, start))
)
config = {
    "_index": st.column_config.TextColumn("Id", disabled=True),
    "Organisation": st.column_config.TextColumn(disabled=True),
    "Cap (a year)": st.column_config.TextColumn(
        help="Most it can gain a year: £500k, £1.5m, 500000, or 2% (of its expected "
             "payment); empty: no cap"),
    "Collar (a year)": st.column_config.TextColumn(
        help="Most it can lose a year, written like a cap; empty: no collar"),
}  # fmt: skip
for col in frame.columns:
    if col.endswith("(%)"):
        config[col] = views.percent_column(col, "Share of this tier; each column sums to 100%")
edited = st.data_editor(frame, key=f"{prefix}.terms", num_rows="fixed", width="stretch",
                        column_config=config)  # fmt: skip
if base.year_overrides:
    years = ", ".join(str(y) for y in sorted(base.year_overrides))
    st.caption(f"Year {years} keeps its own terms from the starting agreement (a glide path).")
st.caption(f"Starting point: {base.name}. The corridor and the tier edges are kept from it.")

edit = wk.agreement_from_proposal(case, base, edited)
if not edit.ok:
    views.problems(edit.problems)
    st.stop()
proposal = edit.value
s.proposal = proposal
text = wk.agreement_yaml(proposal)


def _check():
    key = ("proposal.check", s.version, s.whatif, text)
    if key not in s.cache:
        result = gainshare.check(case, proposal)
        try:
            from gainshare.settle.requirements import failures
        except ImportError:
            fails = [{"party": pid, "text": f"{case.party(pid).name} is not kept whole as "
                                            "required"}
                     for pid, d in result.document["by_party"].items()
                     if not d["requirement"]["met"]]  # fmt: skip
        else:
            fails = failures(case, proposal, result)
        s.cache[key] = (result, fails)
    return s.cache[key]


result, fails = _check()
solved = views.as_solved(case, result)
st.subheader("Does it work?")
if not fails:
    st.success("The proposal meets every requirement.", icon=":material/check_circle:")
else:
    st.error(f"The proposal fails {len(fails)} requirement{'s' if len(fails) != 1 else ''}:",
             icon=":material/error:")  # fmt: skip
    st.markdown("\n".join(f"- {f['text']}" for f in fails))
views.metrics(solved, None)
views.positions(solved)
if result.document["violations"]:
    with st.expander(f"Where it falls short ({result.document['violations_total']:,} "
                     "organisation-years, largest first)"):  # fmt: skip
        st.dataframe(wk.shortfalls_frame(case, result), hide_index=True, width="stretch")
views.download_row(case, proposal, result, "proposal")

if fails:
    st.subheader("The nearest agreement that works")
    key = ("proposal.repair", s.version, s.whatif, text)
    if key not in s.cache:
        from gainshare.optimise.repair import repair

        with st.spinner("Finding the nearest agreement that meets every requirement…"):
            s.cache[key] = repair(case, proposal)
    fixed = s.cache[key]
    if fixed.agreement is None or fixed.check is None:
        st.error(fixed.message or "No agreement of this shape meets every requirement.",
                 icon=":material/block:")  # fmt: skip
        st.stop()
    st.markdown("What moved:\n" + "\n".join(f"- {c}" for c in fixed.changes))
    items = [
        wk.Candidate("The room's proposal", proposal, result),
        wk.Candidate("Nearest that works", fixed.agreement, fixed.check),
    ]
    st.dataframe(wk.compare_frame(case, items), width="stretch")
    c1, _ = st.columns([1, 3])
    if c1.button(
        "Use the nearest agreement",
        key="proposal.take",
        help="Make it the room's proposal, to edit further",
    ):
        s.proposal = fixed.agreement.model_copy(update={"name": "The room's proposal"})
        st.session_state["proposal.reset"] = reset + 1
        st.rerun()
    views.download_row(case, fixed.agreement, fixed.check, "repaired")
