"""The workshop screen: the best agreement for the case in money and words, each organisation's
position, and the room's what-ifs (a slider re-solves the model this browser session holds).

Run with `gainshare app` or `streamlit run app/Home.py`."""

from __future__ import annotations

import state
import streamlit as st
import views

from gainshare.analysis import workshop as wk

s = views.page("Workshop")


def _tolerance_control(s: state.Session, econ) -> dict[str, float]:
    case = s.model_case
    people = [pid for pid in case.provider_ids if case.keep_whole_for(pid).mode != "none"]
    tol = dict(s.whatif.tolerance)
    if not people:
        st.caption("No provider has a keep-whole requirement.")
        return tol
    acute = [pid for pid in people if case.party(pid).kind == "acute"]
    key = f"wi{s.load_id}.party"
    state.init_widget(key, (acute or people)[0])
    pid = st.selectbox("Organisation", people, key=key,
                       format_func=lambda p: case.party(p).name)  # fmt: skip
    kw = case.keep_whole_for(pid)
    steps = wk.tolerance_steps(case, econ, pid)
    current = tol.get(pid, kw.tolerance)
    skey = f"wi{s.load_id}.tol.{pid}"
    state.init_widget(skey, min(steps, key=lambda v: abs(v - current)))
    label = ("Average shortfall in the worst scenarios, at most (a year)" if kw.mode == "cvar"
             else "May be worse off by up to (a year)")  # fmt: skip
    tol[pid] = st.select_slider(label, steps, key=skey,
                                format_func=lambda v: wk.money(v, case.currency))  # fmt: skip
    return tol


def _commissioners_control(s: state.Session, econ) -> float | None:
    case = s.model_case
    steps = [None] + wk.nice_steps(max(wk.expected_savings(econ), 0.0))[1:]
    key = f"wi{s.load_id}.cmin"
    cur = s.whatif.commissioners_min
    if cur is None:
        cur = case.requirements.commissioners_min_expected
    state.init_widget(key, None if cur is None else min(steps[1:], key=lambda v: abs(v - cur)))
    fmt = lambda v: "no minimum" if v is None else wk.money(v, case.currency)  # noqa: E731
    return st.select_slider("Commissioners keep at least (expected, whole agreement)", steps,
                            key=key, format_func=fmt)  # fmt: skip


def _assumption_control(s: state.Session) -> tuple[tuple[str, float], ...]:
    case = s.case
    assumptions = dict(s.whatif.assumptions)
    if not case.schemes:
        st.caption("The case has no scheme.")
        return ()
    key = f"wi{s.load_id}.scheme"
    state.init_widget(key, case.schemes[0].id)
    sid = st.selectbox("Scheme", [sc.id for sc in case.schemes], key=key,
                       format_func=lambda i: next(sc.name or sc.id for sc in case.schemes
                                                  if sc.id == i))  # fmt: skip
    path = f"schemes.{sid}.targeting"
    base = wk.central_value(case, path)
    skey = f"wi{s.load_id}.tgt.{sid}"
    state.init_widget(skey, round(100 * assumptions.get(path, base)))
    v = st.slider(
        "Targeting: patients who would otherwise be admitted (%)",
        0,
        100,
        key=skey,
        help="Central estimate; the whole range of the assumption moves with it",
    )
    if abs(v / 100 - base) > 1e-9:
        assumptions[path] = v / 100
    else:
        assumptions.pop(path, None)
    return tuple(sorted(assumptions.items()))


def _objective_control(s: state.Session) -> str | None:
    case = s.model_case
    options = wk.objectives_for(case)
    key = f"wi{s.load_id}.objective"
    state.init_widget(key, s.whatif.objective or case.requirements.objective)
    name = st.selectbox("Aim for", options, key=key, format_func=wk.OBJECTIVE_LABELS.get)
    return None if name == case.requirements.objective else name


def what_ifs(s: state.Session) -> None:
    st.subheader("What if…")
    econ = s.economics()
    cols = st.columns([1.2, 1.2, 1.2, 1])
    with cols[0], st.container(border=True):
        st.markdown("**Keep-whole level**")
        tol = _tolerance_control(s, econ)
    with cols[1], st.container(border=True):
        st.markdown("**Commissioners' minimum**")
        cmin = _commissioners_control(s, econ)
    with cols[2], st.container(border=True):
        st.markdown("**Scheme assumption**")
        assumptions = _assumption_control(s)
    with cols[3], st.container(border=True):
        st.markdown("**Objective**")
        objective = _objective_control(s)
    s.set_whatif(wk.WhatIf(tuple(sorted(tol.items())), cmin, objective, assumptions))


def _explain(s: state.Session) -> None:
    key = ("explain", s.version, s.whatif)
    if st.button("Show what would have to give", key="explain"):
        from gainshare.optimise.explain import explain

        with st.spinner("Looking for the smallest change that would work…"):
            s.cache[key] = explain(s.effective_case).sentences
    for line in s.cache.get(key, []):
        st.markdown(f"- {line}")


@st.fragment
def workshop(s: state.Session) -> None:
    what_ifs(s)
    solved = s.solve()
    if solved.check is None:
        st.error("No agreement meets every requirement with these settings. Loosen a "
                 "keep-whole level or the commissioners' minimum, or change the objective.",
                 icon=":material/block:")  # fmt: skip
        _explain(s)
        views.timing(solved)
        return
    st.subheader("The best agreement")
    views.verdict(solved)
    views.metrics(solved, s.previous)
    st.markdown("#### Each organisation's position")
    views.positions(solved)
    st.markdown("#### The agreement")
    views.shares_table(solved.case, solved.result.agreement)
    left, right = st.columns([1.1, 1], gap="large")
    with left:
        st.markdown("##### Its clauses")
        views.agreement_words(solved)
    with right:
        st.markdown("##### What it means for each organisation")
        views.position_words(solved)
    views.charts(solved, "home")
    st.markdown("#### Take it away")
    views.download_row(solved.case, solved.result.agreement, solved.check, "home")
    views.timing(solved)


st.title("Gain and loss sharing workshop")
st.markdown(f"**{s.case.name}** · {s.case.horizon.years} years from "
            f"{s.case.horizon.labels()[0]} · {s.case.scenario_count():,} scenarios")  # fmt: skip
if s.case.description:
    with st.expander("About this case"):
        st.write(s.case.description)
workshop(s)
