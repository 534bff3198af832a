"""A room's state in the workshop app: the case, the room's what-ifs, its proposal, its table
drafts and the persistent design model (`gainshare.optimise.whatif.WhatIfModel`).

A room lives in a server-side store keyed by an unguessable id that the page keeps in its URL
(`?room=...`), so a browser refresh finds it again: sliders, edits, an uploaded case and the
proposal all survive. Each browser session without a room id gets a room of its own (two
sessions never share one unless the link is shared); "Start again" throws the room away. The
store is bounded (rooms idle for a day, or beyond the most recent few dozen, are dropped).

No finance logic here: every figure comes from the package."""

from __future__ import annotations

import secrets
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import streamlit as st
import yaml

import gainshare
from gainshare.memory import keep_freed_memory
from gainshare.optimise.whatif import Solved, WhatIf, WhatIfModel, apply_requirements
from gainshare.schema.agreement import Agreement
from gainshare.schema.case import Case
from gainshare.schema.io import agreement_problems
from gainshare.schema.proposal_table import even_split, rounded

keep_freed_memory()  # once per app process: large checks reuse freed memory

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE_DIRS = (ROOT / "app" / "examples", ROOT / "cases")
ROOM_KEY = "gainshare.room"  # this browser session's room id
MAX_ROOMS = 40
IDLE_SECONDS = 24 * 3600
RECENT = 32  # results kept per room for pages the room goes back to


class Recent(dict):
    """A dict that keeps only the last `RECENT` entries (a room must not grow without end over
    a day of what-ifs)."""

    def __setitem__(self, key, value) -> None:
        super().pop(key, None)
        super().__setitem__(key, value)
        while len(self) > RECENT:
            del self[next(iter(self))]


@dataclass(frozen=True)
class Example:
    label: str
    path: Path

    @property
    def agreement_path(self) -> Path | None:
        p = self.path.with_name(self.path.name.replace(".yaml", ".agreement.yaml"))
        return p if p.exists() else None


@lru_cache(maxsize=1)
def examples() -> tuple[Example, ...]:
    """The example cases shipped with the app and in cases/, workshop case first."""
    out = []
    for folder in EXAMPLE_DIRS:
        for p in sorted(folder.glob("*.yaml")):
            if p.name.endswith(".agreement.yaml"):
                continue
            try:
                head = yaml.safe_load(p.read_text(encoding="utf-8")) or {}
            except (OSError, yaml.YAMLError):
                continue
            out.append(Example(str(head.get("name") or p.stem), p))
    return tuple(out)


def load_example(ex: Example) -> tuple[Case, Agreement | None]:
    case = gainshare.load_case(ex.path)
    agreement = None
    if ex.agreement_path is not None:
        agreement = gainshare.load_agreement(ex.agreement_path, case)
    return case, agreement


@dataclass
class Room:
    label: str
    case: Case
    agreement: Agreement | None = None  # the example's own agreement file, if it has one
    original: Case | None = None  # the case as loaded
    load_id: int = 0  # bumps when another case is loaded (resets tables and sliders)
    requirements_id: int = 0  # bumps when the Requirements page replaces the what-if levels
    whatif: WhatIf = field(default_factory=WhatIf)
    proposal: Agreement | None = None
    proposal_id: int = 0  # bumps when the proposal is replaced (not typed): resets its table
    previous: Solved | None = None
    notice: str = ""
    ui: dict = field(default_factory=dict)  # widget values, restored after a refresh
    drafts: dict = field(default_factory=dict)  # table frames as last edited
    cache: dict = field(default_factory=Recent)  # results keyed by what they depend on
    model: WhatIfModel = None  # type: ignore[assignment]
    _last: Solved | None = None
    _last_key: tuple | None = None
    seen: float = field(default_factory=time.monotonic)

    def __post_init__(self) -> None:
        self.original = self.original or self.case
        self.model = WhatIfModel(self.case)

    # ------------------------------------------------------------ the case

    @property
    def version(self) -> int:
        return self.model.version

    def load(self, label: str, case: Case, agreement: Agreement | None = None) -> None:
        """Another case: everything that depended on the old one goes."""
        with self.model.lock:
            self.label, self.case, self.agreement, self.original = label, case, agreement, case
            self.model.use(case)
            self.load_id += 1
            self.whatif = WhatIf()
            self.proposal = None
            self.proposal_id += 1
            self.previous, self._last, self._last_key = None, None, None
            self.ui = {k: v for k, v in self.ui.items() if not k.startswith("ui.wi")}
            self.drafts.clear()
            self.cache.clear()

    def edit(self, case: Case, keep_requirement_whatifs: bool = True) -> None:
        """The same case with edited figures or requirements."""
        if case == self.case:
            return
        with self.model.lock:
            self.case = case
            self.model.use(case)
            if not keep_requirement_whatifs:
                self.whatif = WhatIf(assumptions=self.whatif.assumptions)
                self.requirements_id += 1
            self.cache.clear()

    def fold_requirements(self) -> bool:
        """Make the what-if requirement levels the case's own (the Requirements page shows and
        edits them there); True when the case changed."""
        if self.whatif.requirement_key() == WhatIf().requirement_key():
            return False
        new = apply_requirements(self.case, self.whatif)
        if new == self.case:
            self.whatif = WhatIf(assumptions=self.whatif.assumptions)
            return False
        self.edit(new, keep_requirement_whatifs=False)
        return True

    def set_whatif(self, whatif: WhatIf) -> None:
        self.whatif = whatif

    @property
    def model_case(self) -> Case:
        return self.model.model_case(self.whatif)

    @property
    def effective_case(self) -> Case:
        return self.model.effective_case(self.whatif)

    def economics(self):
        return self.model.economics(self.whatif)

    # ------------------------------------------------------------ the model

    def solve(self) -> Solved:
        """The optimum under the room's what-ifs (cached until something moves). `previous`
        is the result before the last move on this same case (never another case's)."""
        key = (self.load_id, self.version, self.whatif)
        if self._last is not None and self._last_key == key:
            return self._last
        solved = self.model.solve(self.whatif, self.load_id)
        last = self._last
        self.previous = last if last is not None and last.load == self.load_id else None
        self._last, self._last_key = solved, key
        return solved

    # ------------------------------------------------------------ the room's proposal

    @property
    def case_agreement(self) -> Agreement | None:
        """The example's own agreement, while it still fits the (possibly edited) case."""
        if self.agreement is None or agreement_problems(self.agreement, self.case):
            return None
        return self.agreement

    def starting_proposal(self) -> Agreement:
        """The room's proposal; else the example's own agreement; else the optimum in round
        numbers; else (nothing can be designed) an even split to type over."""
        if self.proposal is not None:
            return self.proposal
        if self.case_agreement is not None:
            return self.case_agreement
        solved = self.solve()
        if solved.result is not None and solved.result.agreement is not None:
            return rounded(solved.result.agreement, name="The room's proposal")
        return even_split(self.effective_case)

    def set_proposal(self, agreement: Agreement) -> None:
        """Replace the proposal (from a candidate, a repair or an upload): its table restarts."""
        self.proposal = agreement
        self.proposal_id += 1


class Rooms:
    """Rooms by id, the most recently used last; bounded in number and idle time."""

    def __init__(self):
        self.lock = threading.Lock()
        self.rooms: OrderedDict[str, Room] = OrderedDict()

    def get(self, rid: str | None) -> Room | None:
        with self.lock:
            self._expire()
            room = self.rooms.get(rid) if rid else None
            if room is not None:
                room.seen = time.monotonic()
                self.rooms.move_to_end(rid)
            return room

    def new(self) -> tuple[str, Room]:
        ex = examples()[0]
        case, agreement = load_example(ex)
        room = Room(ex.label, case, agreement)
        rid = secrets.token_urlsafe(12)
        with self.lock:
            self.rooms[rid] = room
            self._expire()
        return rid, room

    def drop(self, rid: str | None) -> None:
        with self.lock:
            self.rooms.pop(rid, None)

    def _expire(self) -> None:
        now = time.monotonic()
        for rid in [r for r, room in self.rooms.items() if now - room.seen > IDLE_SECONDS]:
            del self.rooms[rid]
        while len(self.rooms) > MAX_ROOMS:
            self.rooms.popitem(last=False)


@st.cache_resource
def store() -> Rooms:
    """The one store of rooms of this app process (each room keyed by its own id)."""
    return Rooms()


def room() -> Room:
    """This browser session's room: the one its URL names, else a new one with the example
    case. The room's id is kept in the URL so that a refresh comes back to it."""
    rooms = store()
    rid = st.session_state.get(ROOM_KEY)
    r = rooms.get(rid)
    if r is None:
        asked = st.query_params.get("room")
        r = rooms.get(asked)
        if r is not None:
            rid = asked
        else:
            rid, r = rooms.new()
            if asked:
                r.notice = ("The room in this link is no longer on the server (the app was "
                            "restarted, or the room was idle for a day): this is a fresh start "
                            "with the example case.")  # fmt: skip
        st.session_state[ROOM_KEY] = rid
    if st.query_params.get("room") != rid:
        st.query_params["room"] = rid
    return r


def start_again() -> None:
    """Throw this session's room away and start a new one (a button's callback)."""
    store().drop(st.session_state.get(ROOM_KEY))
    for k in list(st.session_state):
        del st.session_state[k]
    st.query_params.clear()


def remember(r: Room) -> None:
    """Keep the values of the room's widgets (keys starting 'ui.') for after a refresh."""
    for k, v in st.session_state.items():
        if isinstance(k, str) and k.startswith("ui."):
            r.ui[k] = v


def init_widget(r: Room, key: str, value) -> None:
    """Give a keyed widget its value when the page first draws it: the room's remembered one
    (after a refresh or a visit to another page), else `value`."""
    if key not in st.session_state:
        st.session_state[key] = r.ui.get(key, value)


__all__ = ["Example", "Room", "Rooms", "examples", "init_widget", "load_example", "remember",
           "room", "start_again", "store"]  # fmt: skip
