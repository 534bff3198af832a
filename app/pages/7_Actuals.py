"""After signing: upload a year's actuals and see, and take away, the year's settlement
statements to the penny, the bridge from the expected to the actual pool, and a forecast from
months to date. Self-contained: it reads its own case and agreement (an example, or uploaded)
and calls the package for every figure."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

import streamlit as st

import gainshare
from gainshare.report.actuals_template import write_actuals_template
from gainshare.report.bridge import bridge_figure, penny
from gainshare.report.outturn import forecast_markdown, statement_frame, statement_markdown
from gainshare.schema.actuals import read_actuals, read_actuals_bytes
from gainshare.schema.io import InputError, agreement_from_mapping, parse_text
from gainshare.settle.outturn import forecast_actuals, settle_actuals

CASES = Path(__file__).resolve().parents[2] / "cases"
EXAMPLE = "core"

st.set_page_config(page_title="Actuals · gainshare", layout="wide")
st.title("After signing: settle a year")
st.caption(
    "Upload the outturn of a year (CSV or Excel, from the template below) to see each "
    "party's statement in pounds and pence, the bridge from the expected pool to the "
    "actual one, and, from months to date, a forecast of the year-end settlement."
)


def _examples() -> list[str]:
    return sorted(p.stem for p in CASES.glob("*.yaml") if not p.name.endswith(".agreement.yaml"))


def _problems(e: InputError) -> None:
    for line in e.problems:
        st.error(line, icon=":material/error:")
    st.stop()


def _case_and_agreement():
    names = _examples()
    pick = st.sidebar.selectbox(
        "Example case", names, index=names.index(EXAMPLE), key="actuals.case"
    )
    up = st.sidebar.file_uploader(
        "Or the signed agreement (.yaml)", type=["yaml", "yml"], key="actuals.agreement"
    )
    case = gainshare.load_case(CASES / f"{pick}.yaml")
    if up is not None:
        agreement = agreement_from_mapping(
            parse_text(up.getvalue().decode("utf-8"), up.name), up.name, case
        )
    else:
        agreement = gainshare.load_agreement(CASES / f"{pick}.agreement.yaml", case)
    return pick, case, agreement


def _template(case) -> bytes:
    with tempfile.TemporaryDirectory() as tmp:
        return write_actuals_template(case, Path(tmp) / "actuals.xlsx").read_bytes()


def _actuals(pick: str, case):
    up = st.file_uploader("Actuals (.csv or .xlsx)", type=["csv", "xlsx"], key="actuals.file")
    if up is not None:
        return read_actuals_bytes(up.name, up.getvalue(), case)
    example = CASES / f"{pick}.actuals.csv"
    if example.exists():
        st.caption(f"Showing the example actuals `cases/{example.name}` until you upload a file.")
        return read_actuals(example, case)
    st.info("Upload the actuals of a year to settle it: start from the template.")
    st.stop()


try:
    pick, case, agreement = _case_and_agreement()
    st.download_button(
        "Actuals template (Excel) for this case",
        _template(case),
        file_name=f"{pick}.actuals.xlsx",
        key="actuals.template",
    )
    actuals = _actuals(pick, case)
except InputError as e:
    _problems(e)

cur = case.currency
labels = case.horizon.labels()
years = [labels[y - 1] for y in actuals.years]
c1, c2 = st.columns(2)
year = c1.selectbox("Year", years, index=len(years) - 1, key="actuals.year")
months = c2.select_slider(
    "Months of actuals in the file", list(range(1, 13)), value=12, key="actuals.months"
)

try:
    if months == 12:
        doc = settle_actuals(case, agreement, actuals, year).document
        yd = doc["years"][0]
        md = statement_markdown(doc | yd, cur)
    else:
        doc = forecast_actuals(case, agreement, actuals, months, year).document
        yd = doc["projection"]
        md = forecast_markdown(doc, cur)
except InputError as e:
    _problems(e)

m = st.columns(4)
m[0].metric("Pool" if months == 12 else "Pool (projected)", penny(yd["pool"], cur))
m[1].metric("Transfers to providers", penny(yd["transfers"], cur))
m[2].metric("Commissioners retain", penny(yd["retained"], cur))
m[3].metric("System savings", penny(yd["system_savings"], cur))
if months < 12:
    p = doc["pool"]
    st.write(
        f"Forecast after {months} months, the rest of the year drawn from the case's "
        f"{doc['scenarios']:,} scenarios: pool {penny(p['expected'], cur)} expected, "
        f"{penny(p['p5'], cur)} to {penny(p['p95'], cur)} (5% to 95%)."
    )
    rows = {
        d["name"]: {
            "Expected transfer": penny(d["transfer"]["expected"], cur),
            "Transfer 5%": penny(d["transfer"]["p5"], cur),
            "Transfer 95%": penny(d["transfer"]["p95"], cur),
            "Expected net": penny(d["net"]["expected"], cur),
        }
        for d in doc["by_party"].values()
    }
    st.dataframe(rows)
st.subheader(f"Statement of {yd['year_label']}" + ("" if months == 12 else " (projected)"))
frame = statement_frame(yd)
st.dataframe(frame.map(lambda v: penny(v, cur)), width="stretch")
title = f"From the expected to the {'actual' if months == 12 else 'projected'} pool"
st.plotly_chart(bridge_figure(yd["bridge"], cur, title), width="stretch")
d1, d2, d3 = st.columns(3)
d1.download_button(
    "Statement (JSON)", json.dumps(doc, indent=2), file_name="statement.json", key="actuals.json"
)
d2.download_button("Statement (Markdown)", md, file_name="statement.md", key="actuals.md")
d3.download_button("Statement (CSV)", frame.to_csv(), file_name="statement.csv", key="actuals.csv")
