"""What to measure first: the value of knowing each uncertain assumption before signing
(expected value of partial perfect information, by re-solving the design at draws of it).
Self-contained: it reads a case itself and calls `gainshare.analysis.value_of_information`;
every figure and sentence comes from the package."""

from __future__ import annotations

import hashlib
import tempfile
from pathlib import Path

import pandas as pd
import streamlit as st

import gainshare
from gainshare.analysis.value_of_information import WHOM, value_of_information
from gainshare.economics.scenarios import parameters
from gainshare.schema.io import InputError
from gainshare.units import money

ROOT = Path(__file__).resolve().parents[2]
FOLDERS = (ROOT / "app" / "examples", ROOT / "cases")
KEY = "voi.results"

st.set_page_config(page_title="What to measure first · gainshare", layout="wide")
st.title("What to measure first")
st.markdown(
    "How much would the room gain by knowing an assumption before it signs? For each uncertain "
    "figure the design is re-solved with the figure **fixed at a draw** (set to that value in "
    "every scenario, every other figure keeping its own draws), and compared with the best "
    "agreement signed without knowing, on the same scenarios. The room may also decline to sign."
)


def _examples() -> dict[str, Path]:
    out = {}
    for folder in FOLDERS:
        for p in sorted(folder.glob("*.yaml")):
            if not p.name.endswith(".agreement.yaml"):
                out[f"{p.stem} ({folder.name}/{p.name})"] = p
    return out


def _case(choice: str, upload):
    """(case, source key) from the picked example or an uploaded file; None on bad input."""
    if upload is not None:
        data = upload.getvalue()
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / Path(upload.name).name
            path.write_bytes(data)
            return gainshare.load_case(path), hashlib.sha256(data).hexdigest()
    path = _examples()[choice]
    return gainshare.load_case(path), hashlib.sha256(path.read_bytes()).hexdigest()


left, right = st.columns([2, 1])
names = list(_examples())
choice = left.selectbox("Case", names, index=next((i for i, n in enumerate(names)
                                                   if n.startswith("portfolio")), 0),
                        key="voi.case")  # fmt: skip
upload = right.file_uploader("... or upload a case (YAML)", type=["yaml", "yml"], key="voi.up")
try:
    case, source = _case(choice, upload)
except InputError as e:
    st.error("\n\n".join(e.problems), icon=":material/error:")
    st.stop()

labels = {p.path: p.label for p in parameters(case)}
c1, c2, c3 = st.columns(3)
objective = c1.selectbox("Objective", list(WHOM), key="voi.objective",
                         index=list(WHOM).index(case.requirements.objective)
                         if case.requirements.objective in WHOM else 0)  # fmt: skip
draws = c2.number_input("Draws of each figure", 1, 100, 10, key="voi.draws")
chosen = c3.multiselect("Only these figures (none: every uncertain one)", list(labels),
                        format_func=lambda p: labels[p], key="voi.only")  # fmt: skip
st.caption("Each draw is one design re-solve; a figure taking fewer values than the draws is "
           "solved at every value it takes (exact).")  # fmt: skip

run_key = (source, objective, int(draws), tuple(chosen))
results = st.session_state.setdefault(KEY, {})
if st.button("Measure", type="primary", key="voi.run"):
    req = case.requirements.model_copy(update={"objective": objective})
    with st.spinner("Re-solving the design at each draw ..."):
        try:
            results[run_key] = value_of_information(
                case.model_copy(update={"requirements": req}), int(draws), list(chosen) or None
            ).document
        except InputError as e:
            st.error("\n\n".join(e.problems), icon=":material/error:")
            st.stop()

doc = results.get(run_key)
if doc is None:
    st.info("Choose the case and press **Measure**.", icon=":material/info:")
    st.stop()

cur = doc["currency"]
base = doc["baseline"]
st.metric("Best agreement without knowing more", money(base["value"], cur), help=doc["whom"])
frame = pd.DataFrame(
    [
        {
            "Rank": p["rank"],
            "Figure": p["label"],
            "Worth knowing": money(p["value"], cur),
            "Standard error": "exact" if p["exact"] else money(p["standard_error"], cur),
            "Draws": p["draws"],
            "Gains at": f"{p['draws_with_gain']} of {p['draws']}",
        }
        for p in doc["parameters"]
    ]
)
st.dataframe(frame, hide_index=True, width="stretch")
if doc["parameters"]:
    chart = pd.DataFrame({"Worth knowing": [p["value"] for p in doc["parameters"]]},
                         index=[p["label"] for p in doc["parameters"]])  # fmt: skip
    st.bar_chart(chart, horizontal=True)
for p in doc["parameters"]:
    st.markdown(f"- {p['words'][0].upper()}{p['words'][1:]}.")
st.caption(f"{doc['timings']['solves']} design solves in {doc['timings']['total_s']:.1f} s. "
           f"{doc['method']}")  # fmt: skip
