"""The workshop screen: the room's what-ifs on the left and the best agreement's headline
figures on the right, both on one projector screen (1280x720); below, each organisation's
position, the agreement in money and words, charts and downloads. A slider re-solves the model
the room holds and shows the range in which an agreement works, found by the model.

Run with `gainshare app` or `streamlit run app/Home.py`."""

from __future__ import annotations

import state
import streamlit as st
import views

from gainshare.optimise.whatif import (
    WhatIf,
    central_value,
    expected_savings,
    most_retained,
    nice_steps,
    tolerance_steps,
)
from gainshare.report.numbers import money
from gainshare.schema.requirement_tables import OBJECTIVE_LABELS, objectives_for

r = views.page("Workshop")


def _key(name: str, requirement: bool = True) -> str:
    """A what-if widget's key: new for another case, and (for requirement levels) after the
    Requirements page has replaced them."""
    gen = f".{r.requirements_id}" if requirement else ""
    return f"ui.wi{r.load_id}{gen}.{name}"


def _nearest(options: list, value):
    return min(options, key=lambda v: abs(v - value))


def _set(key: str, value) -> None:
    st.session_state[key] = value


# ---------------------------------------------------------------- the what-if controls


def _tolerance_control(econ) -> tuple[dict[str, float], dict]:
    case = r.model_case
    people = [pid for pid in case.provider_ids if case.keep_whole_for(pid).mode != "none"]
    tol = dict(r.whatif.tolerance)
    if not people:
        st.caption("No provider has a keep-whole requirement.")
        return tol, {}
    acute = [pid for pid in people if case.party(pid).kind == "acute"]
    key = _key("party")
    state.init_widget(r, key, (acute or people)[0])
    if st.session_state[key] not in people:
        st.session_state[key] = people[0]
    pid = st.selectbox("Keep whole: organisation", people, key=key,
                       format_func=lambda p: case.party(p).name)  # fmt: skip
    kw = case.keep_whole_for(pid)
    steps = tolerance_steps(case, econ, pid)
    skey = _key(f"tol.{pid}")
    state.init_widget(r, skey, _nearest(steps, tol.get(pid, kw.tolerance)))
    if st.session_state[skey] not in steps:
        st.session_state[skey] = _nearest(steps, st.session_state[skey])
    label = ("Average shortfall in its worst scenarios, at most (a year)" if kw.mode == "cvar"
             else "May be worse off by up to (a year)")  # fmt: skip
    tol[pid] = st.select_slider(label, steps, key=skey,
                                format_func=lambda v: money(v, case.currency))  # fmt: skip
    return tol, {"kind": "tolerance", "party": pid, "steps": steps, "key": skey,
                 "spot": st.empty()}  # fmt: skip


def _commissioners_control(econ) -> tuple[float | None, dict]:
    """The commissioners' minimum: a slider, except when the aim is already the most for the
    commissioners (a minimum would then change nothing below the optimum and rule everything
    out above it), when the range says so instead."""
    case = r.model_case
    cur = case.currency
    aim = r.whatif.objective or case.requirements.objective
    if aim == "commissioners":
        return None, {"kind": "commissioners", "steps": [], "key": None, "spot": st.empty()}
    top = max(expected_savings(econ), most_retained(econ), 0.0)
    steps = [None] + nice_steps(top)[1:]
    key = _key("cmin")
    now = r.whatif.commissioners_min
    if now is None:
        now = case.requirements.commissioners_min_expected
    state.init_widget(r, key, None if now is None else _nearest(steps[1:], now))
    if st.session_state[key] not in steps:
        st.session_state[key] = None
    fmt = lambda v: "no minimum" if v is None else money(v, cur)  # noqa: E731
    value = st.select_slider("Commissioners keep at least (expected, whole agreement)", steps,
                             key=key, format_func=fmt)  # fmt: skip
    return value, {"kind": "commissioners", "steps": steps, "key": key, "spot": st.empty()}


def _assumption_control() -> tuple[tuple[tuple[str, float], ...], dict]:
    case = r.case
    assumptions = dict(r.whatif.assumptions)
    if not case.schemes:
        st.caption("The case has no scheme.")
        return (), {}
    key = _key("scheme", requirement=False)
    ids = [sc.id for sc in case.schemes]
    state.init_widget(r, key, ids[0])
    if st.session_state[key] not in ids:
        st.session_state[key] = ids[0]
    names = {sc.id: sc.name or sc.id for sc in case.schemes}
    sid = st.selectbox("Scheme assumption: scheme", ids, key=key, format_func=names.get)
    path = f"schemes.{sid}.targeting"
    base = central_value(case, path)
    skey = _key(f"tgt.{sid}", requirement=False)
    state.init_widget(r, skey, round(100 * assumptions.get(path, base)))
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
    spot = {"kind": "assumption", "path": path, "value": v, "key": skey, "spot": st.empty()}
    return tuple(sorted(assumptions.items())), spot


def _objective_control() -> str | None:
    case = r.model_case
    options = objectives_for(case)
    key = _key("objective")
    state.init_widget(r, key, r.whatif.objective or case.requirements.objective)
    name = st.selectbox("Aim for", options, key=key, format_func=OBJECTIVE_LABELS.get)
    return None if name == case.requirements.objective else name


def what_ifs(left, right) -> list[dict]:
    """The controls: a keep-whole level and a scheme assumption on the left, the aim and the
    commissioners' minimum on the right under the figures; returns where each slider's
    feasible range goes."""
    econ = r.economics()
    with left:
        with st.container(border=True):
            tol, tol_spot = _tolerance_control(econ)
        with st.container(border=True):
            assumptions, scheme_spot = _assumption_control()
    with right, st.container(border=True):
        objective = _objective_control()
        r.set_whatif(WhatIf(tuple(sorted(tol.items())), r.whatif.commissioners_min, objective,
                            assumptions))  # fmt: skip
        cmin, cmin_spot = _commissioners_control(econ)
    r.set_whatif(WhatIf(tuple(sorted(tol.items())), cmin, objective, assumptions))
    return [s for s in (tol_spot, cmin_spot, scheme_spot) if s]


# ---------------------------------------------------------------- feasible ranges


def _names(ids) -> str:
    """The requirements binding hardest at a range's end, in words."""
    case = r.effective_case
    parties = [
        case.party(req.partition(".")[2]).name
        for req in ids
        if req.startswith("keep_whole.") and req.partition(".")[2] in case.party_ids
    ]
    out = []
    if parties:
        listed = (
            parties[0] if len(parties) == 1 else ", ".join(parties[:-1]) + " and " + parties[-1]
        )
        out.append(f"keeping {listed} whole")
    if "commissioners_min_expected" in ids:
        out.append("the commissioners' minimum")
    return " and ".join(out)


def _aim_value(v: float | None) -> str:
    aim = r.effective_case.requirements.objective
    if v is None:
        return "not known"
    if aim == "fair_reference":
        return f"a distance of {v:.3f} from the reference split"
    return money(v, r.case.currency)


def _range_words(spot: dict, rng) -> tuple[str, object | None]:
    """The caption under a slider, and the position to move back to when it is outside."""
    cur = r.case.currency
    if not rng.works:
        if spot["key"] is None:  # the commissioners' minimum is not a slider for this aim
            return "", None
        return "No position of this slider works with the other settings.", None
    lo, hi = rng.low, rng.high
    if spot["kind"] == "tolerance":
        value = st.session_state.get(spot["key"])
        text = f"Works from {money(lo.value, cur)}"
        if lo.beyond == "infeasible":
            what = _names(lo.binding)
            text += " (below that nothing works" + (f": {what} binds hardest" if what else "") + ")"
        if r.effective_case.requirements.objective == "commissioners":
            text += (
                f". Commissioners keep {money(lo.objective, cur)} at {money(lo.value, cur)}, "
                f"{money(hi.objective, cur)} at {money(hi.value, cur)} (no effect beyond)."
            )
        else:
            text += f" up; no effect beyond {money(hi.value, cur)}."
        back = lo.value if value is not None and value < lo.value else None
        return text, back
    if spot["kind"] == "commissioners":
        if rng.note == "aim":
            return (
                f"The aim is already the most the commissioners can keep: {money(hi.value, cur)}. "
                "Choose another aim to set a minimum for them."
            ), None
        value = st.session_state.get(spot["key"])
        text = (
            f"Works up to {money(hi.value, cur)}, the most the commissioners can keep; above "
            f"that nothing works. The aim's figure there: {_aim_value(hi.objective)}."
        )
        back = None
        if value is not None and value > hi.value:
            back = max((v for v in spot["steps"][1:] if v <= hi.value), default=None)
        return text, back
    text = f"Works from {lo.value:.0f}% to {hi.value:.0f}%"
    if lo.beyond == "infeasible":
        what = _names(lo.binding)
        text += f"; below {lo.value:.0f}% nothing works" + (
            f" ({what} binds hardest)" if what else ""
        )
    if hi.beyond == "infeasible":
        text += f"; above {hi.value:.0f}% nothing works"
    text += "."
    value = spot["value"]
    back = lo.value if value < lo.value else (hi.value if value > hi.value else None)
    return text, back


def _range(spot: dict):
    m, w = r.model, r.whatif
    if spot["kind"] == "tolerance":
        return m.tolerance_range(w, spot["party"], spot["steps"])
    if spot["kind"] == "commissioners":
        return m.commissioners_range(w)
    return m.assumption_range(w, spot["path"], spot["value"], progress=spot.get("progress"))


def ranges(spots: list[dict]) -> list[tuple[str, str, object]]:
    """Write each slider's feasible range under it; return the moves back into range."""
    backs = []
    for spot in spots:
        # Each probe of a slow range first writes the caption again (the last one found, which
        # stays on screen meanwhile): a point at which Streamlit stops this run when the room
        # has already moved another slider.
        last = r.cache.get(("range.text", spot["kind"], spot.get("path")),
                           "Finding where it works…")  # fmt: skip
        spot["progress"] = lambda holder=spot["spot"], text=last: holder.caption(text)
        text, back = _range_words(spot, _range(spot))
        if text:
            r.cache[("range.text", spot["kind"], spot.get("path"))] = text
            with spot["spot"]:
                st.caption(text)
        if back is not None:
            backs.append((spot["kind"], spot["key"], back))
    return backs


# ---------------------------------------------------------------- the screen


BACK_WORDS = {"tolerance": "Keep whole", "commissioners": "Commissioners' minimum",
              "assumption": "Targeting"}  # fmt: skip


def _back_buttons(backs) -> None:
    cur = r.case.currency
    for kind, key, value in backs:
        shown = f"{value:.0f}%" if kind == "assumption" else money(value, cur)
        st.button(f"{BACK_WORDS[kind]}: move to {shown}", key=f"back.{key}", on_click=_set,
                  args=(key, value), icon=":material/undo:")  # fmt: skip


@st.fragment
def workshop() -> None:
    state.remember(r)
    left, right = st.columns([1, 1.1], gap="medium")
    with right:
        head = st.container()
    spots = what_ifs(left, right)
    solved = r.solve()
    if solved.check is None:
        backs = ranges(spots)
        with head:
            st.error("No agreement meets every requirement with these settings. Move a slider "
                     "back into the range it shows, or see what would have to give.",
                     icon=":material/block:")  # fmt: skip
            _back_buttons(backs)
            views.conflict(r)
            views.timing(solved)
        return
    with head:
        views.verdict(solved.case, solved.result.agreement, solved.check)
        views.metrics(solved, r.previous, columns=2)
    views.send_now()
    details(solved)
    ranges(spots)


def details(solved) -> None:
    agreement = views.best_agreement(solved)
    st.markdown("### Each organisation's position")
    views.conventions(r)
    views.positions(solved)
    st.markdown("### The agreement")
    views.shares_table(solved.case, agreement)
    left, right = st.columns([1.1, 1], gap="large")
    with left:
        st.markdown("#### Its clauses")
        views.agreement_words(solved.case, agreement, solved.check)
    with right:
        st.markdown("#### What it means for each organisation")
        views.position_words(solved)
    views.charts(solved, "home")
    st.markdown("### Take it away")
    views.download_row(solved.case, agreement, solved.check, "home")
    views.timing(solved)


views.title("Gain and loss sharing workshop", r)
workshop()
if r.case.description:
    with st.expander("About this case"):
        st.write(r.case.description)
