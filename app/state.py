"""Per-browser-session state of the workshop app: the case, its persistent design model and the
room's what-ifs.

Everything lives in `st.session_state`, which belongs to one browser session; nothing is held in
`st.cache_resource`, which every session would share. A `Designer` is built once per case (and
per scheme assumption); a requirement what-if (a party's keep-whole level, the commissioners'
minimum, the objective) calls its setters and re-solves the model it already holds. No finance
logic here: every figure comes from the package."""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import streamlit as st

import gainshare
from gainshare.analysis import workshop as wk
from gainshare.memory import keep_freed_memory
from gainshare.optimise import Designer, DesignResult
from gainshare.schema.agreement import Agreement
from gainshare.schema.case import Case
from gainshare.settle.check import CheckResult, check

keep_freed_memory()  # once per app process: large checks reuse freed memory

KEY = "gainshare.session"
RECENT = 32  # results kept per session for pages the room goes back to


class Recent(dict):
    """A dict that keeps only the last `RECENT` entries (a session must not grow without end
    over a day of what-ifs)."""

    def __setitem__(self, key, value) -> None:
        super().pop(key, None)
        super().__setitem__(key, value)
        while len(self) > RECENT:
            del self[next(iter(self))]


@dataclass
class Solved:
    """A design result as the room sees it: `check` judges the agreement against the case with
    the room's what-ifs written into it."""

    case: Case
    result: DesignResult
    check: CheckResult | None
    seconds: float
    rebuilt: bool


@dataclass
class Session:
    label: str
    case: Case
    agreement: Agreement | None = None  # the example's own agreement file, if it has one
    original: Case | None = None  # the case as loaded
    version: int = 0  # bumps on every change of the case
    load_id: int = 0  # bumps when another case is loaded (resets the table editors)
    whatif: wk.WhatIf = field(default_factory=wk.WhatIf)
    proposal: Agreement | None = None
    designer: Designer | None = None
    _designer_key: tuple | None = None
    _applied: dict = field(default_factory=dict)
    _cases: dict = field(default_factory=dict)
    _solved: Solved | None = None
    _solved_key: tuple | None = None
    _fresh: bool = False
    _build_s: float = 0.0
    previous: Solved | None = None
    cache: dict = field(default_factory=Recent)  # other results keyed by what they depend on

    # ------------------------------------------------------------ the case

    def load(self, label: str, case: Case, agreement: Agreement | None = None) -> None:
        """Another case: everything that depended on the old one goes."""
        self.label, self.case, self.agreement, self.original = label, case, agreement, case
        self.version += 1
        self.load_id += 1
        self.whatif = wk.WhatIf()
        self.proposal = None
        self.previous = None
        self.cache.clear()

    def edit(self, case: Case, keep_requirement_whatifs: bool = True) -> None:
        """The same case with edited figures or requirements."""
        if case == self.case:
            return
        self.case = case
        self.version += 1
        if not keep_requirement_whatifs:
            self.whatif = wk.WhatIf(assumptions=self.whatif.assumptions)
        self.cache.clear()

    def set_whatif(self, whatif: wk.WhatIf) -> None:
        self.whatif = whatif

    def _memo(self, name: str, key: tuple, make):
        hit = self._cases.get(name)
        if hit is not None and hit[0] == key:
            return hit[1]
        value = make()
        self._cases[name] = (key, value)
        return value

    @property
    def model_case(self) -> Case:
        """The case with the room's scheme assumptions (what the design model is built from)."""
        key = (self.version, self.whatif.assumptions)
        return self._memo("model", key, lambda: wk.apply_assumptions(self.case, self.whatif))

    @property
    def effective_case(self) -> Case:
        """The model case with the room's requirement levels written into it."""
        key = (self.version, self.whatif.assumptions, self.whatif.requirement_key())
        return self._memo("effective", key, self._apply_requirements)

    def _apply_requirements(self) -> Case:
        return wk.apply_requirements(self.model_case, self.whatif)

    # ------------------------------------------------------------ the persistent model

    def _designer(self) -> tuple[Designer, bool]:
        key = (self.version, self.whatif.assumptions)
        if self.designer is not None and self._designer_key == key:
            return self.designer, False
        case = self.effective_case
        t0 = time.perf_counter()
        self.designer = Designer(case)
        self._designer_key = key
        self._fresh = True
        self._build_s = time.perf_counter() - t0
        self._applied = _levels(case)
        return self.designer, True

    def _apply_levels(self, designer: Designer, case: Case) -> None:
        """Call the setters whose value differs from what the model holds."""
        want = _levels(case)
        for (kind, who), value in want.items():
            if self._applied.get((kind, who)) == value:
                continue
            if kind == "tolerance":
                designer.set_tolerance(who, value)
            elif kind == "commissioners_min":
                designer.set_commissioners_min(value)
            else:
                designer.set_objective(value)
        self._applied = want

    def solve(self) -> Solved:
        """The optimum under the room's current requirements (cached until something moves)."""
        key = (self.version, self.whatif)
        if self._solved is not None and self._solved_key == key:
            return self._solved
        t0 = time.perf_counter()
        designer, _ = self._designer()
        rebuilt, self._fresh = self._fresh, False
        case = self.effective_case
        self._apply_levels(designer, case)
        result = designer.solve()
        verdict = None
        if result.agreement is not None:
            verdict = result.check
            if designer.case != case:  # judge against the what-if levels, not the built ones
                verdict = check(case, result.agreement, result.check.settlement.econ)
        seconds = time.perf_counter() - t0 + (self._build_s if rebuilt else 0.0)
        solved = Solved(case, result, verdict, seconds, rebuilt)
        if self._solved is not None and self._solved.check is not None:
            self.previous = self._solved
        self._solved, self._solved_key = solved, key
        return solved

    def touched_model(self) -> None:
        """Something else used the model (candidates, frontier): set every level again before
        the next solve."""
        self._applied = {}

    def economics(self):
        """Economics of the model case (first lever structure) for slider ranges."""
        designer, _ = self._designer()
        return designer.data.econs[0]

    # ------------------------------------------------------------ the room's proposal

    def starting_proposal(self) -> Agreement | None:
        """The example's own agreement, else the optimum in round numbers."""
        if self.proposal is not None:
            return self.proposal
        if self.agreement is not None:
            return self.agreement
        solved = self.solve()
        if solved.result.agreement is None:
            return None
        return wk.rounded(solved.result.agreement, name="The room's proposal")


def _levels(case: Case) -> dict:
    out = {}
    for pid in case.party_ids:
        kw = case.keep_whole_for(pid)
        if kw.mode != "none":
            out[("tolerance", pid)] = float(kw.tolerance)
    out[("commissioners_min", None)] = case.requirements.commissioners_min_expected
    out[("objective", None)] = case.requirements.objective
    return out


def default_example() -> wk.Example:
    return wk.examples()[0]


def load_example(ex: wk.Example) -> tuple[Case, Agreement | None]:
    case = gainshare.load_case(ex.path)
    agreement = None
    if ex.agreement_path is not None:
        agreement = gainshare.load_agreement(ex.agreement_path, case)
    return case, agreement


def session() -> Session:
    """This browser session's state, created with the first example case."""
    s = st.session_state.get(KEY)
    if s is None:
        ex = default_example()
        case, agreement = load_example(ex)
        s = Session(ex.label, case, agreement, original=case)
        st.session_state[KEY] = s
    return s


def init_widget(key: str, value) -> None:
    """Give a keyed widget its value from the session when the page first draws it."""
    if key not in st.session_state:
        st.session_state[key] = value


__all__ = ["Session", "Solved", "init_widget", "load_example", "session"]
