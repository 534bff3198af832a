"""The room's what-ifs on one persistent design model: requirement levels a slider moves (a
party's keep-whole tolerance, the commissioners' minimum, the objective) are set on the
`Designer` already built and re-solved; a scheme assumption (e.g. targeting) changes the
economics, so the model is built again for it.

Each slider's feasible range is found by the model, not guessed: bisection over the slider's
positions, each probe a re-solve of the persistent model (a tolerance, the commissioners'
minimum) or a model built for that assumption (targeting), warm-started from the range found
before. At each end the range says what gives: the requirements that bind hardest there and
the objective's value.

Only the package's public optimiser API is used (`Designer` and its setters, `explain`,
`design`), so a richer design model (caps, collars and tier edges searched by default) slots in
unchanged."""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from gainshare.economics.scenarios import parameters
from gainshare.optimise.designer import Designer, DesignResult, design
from gainshare.optimise.explain import ExplainResult, explain
from gainshare.schema.case import Case
from gainshare.schema.io import case_from_mapping
from gainshare.settle.check import CheckResult, check

# ---------------------------------------------------------------- what the room has changed


@dataclass(frozen=True)
class WhatIf:
    """The room's live changes on top of the case: requirement levels (re-solved with the
    persistent model) and scheme assumptions (a new model). Assumptions are (path, central
    value) pairs, e.g. ('schemes.rapid_response.targeting', 0.7)."""

    tolerance: tuple[tuple[str, float], ...] = ()
    commissioners_min: float | None = None
    objective: str | None = None
    assumptions: tuple[tuple[str, float], ...] = ()

    def requirement_key(self) -> tuple:
        return (self.tolerance, self.commissioners_min, self.objective)

    def without_tolerance(self, party: str) -> WhatIf:
        return WhatIf(tuple(t for t in self.tolerance if t[0] != party), self.commissioners_min,
                      self.objective, self.assumptions)  # fmt: skip

    def with_assumption(self, path: str, value: float | None) -> WhatIf:
        rest = tuple(a for a in self.assumptions if a[0] != path)
        if value is not None:
            rest = tuple(sorted(rest + ((path, float(value)),)))
        return WhatIf(self.tolerance, self.commissioners_min, self.objective, rest)


def _shift(value, delta: float, lo: float, hi: float):
    """A parameter moved by `delta` (every number it holds), kept inside [lo, hi]."""
    clip = lambda x: round(min(max(float(x) + delta, lo), hi), 10)  # noqa: E731
    if isinstance(value, list):
        return [_shift(v, delta, lo, hi) for v in value]
    if isinstance(value, int | float):
        return clip(value)
    d = dict(value)
    for k in ("value", "low", "mode", "high", "mean"):
        if d.get(k) is not None:
            d[k] = clip(d[k])
    if "values" in d:
        d["values"] = [clip(v) for v in d["values"]]
    return d


def _scheme_field(path: str) -> tuple[str, str]:
    parts = path.split(".")
    if len(parts) < 3 or parts[0] != "schemes":
        raise ValueError(f"{path}: a what-if takes a scheme parameter: schemes.<id>.<field>")
    return parts[1], ".".join(parts[2:])


def central_value(case: Case, path: str) -> float:
    """Central value of a scheme parameter (first year's, when it differs by year)."""
    spec = next((p for p in parameters(case) if p.path == path), None)
    if spec is None:
        raise ValueError(f"{path}: no such parameter in the case")
    item = spec.param[0] if isinstance(spec.param, list) else spec.param
    return float(item) if isinstance(item, int | float) else float(item.central())


def _get(d: dict, path: str):
    for part in path.split("."):
        d = d[part]
    return d


def _put(d: dict, path: str, value) -> None:
    parts = path.split(".")
    for part in parts[:-1]:
        d = d[part]
    d[parts[-1]] = value


def with_central(case: Case, path: str, value: float, lo: float = 0.0, hi: float = 1.0) -> Case:
    """The case with a scheme parameter (e.g. `schemes.rapid_response.targeting`) moved so its
    central value is `value`: the whole distribution and any named scenario's value for it
    move by the same amount, kept within [lo, hi]."""
    sid, fld = _scheme_field(path)
    delta = float(value) - central_value(case, path)
    data = case.model_dump(mode="json", exclude_none=True)
    scheme = next(s for s in data["schemes"] if s["id"] == sid)
    _put(scheme, fld, _shift(_get(scheme, fld), delta, lo, hi))
    for named in (data.get("uncertainty") or {}).get("named") or []:
        vals = named.get("values", {})
        if path in vals:
            vals[path] = _shift(vals[path], delta, lo, hi)
    return case_from_mapping(data, "what-if")


def apply_assumptions(case: Case, whatif: WhatIf) -> Case:
    for path, v in whatif.assumptions:
        case = with_central(case, path, v)
    return case


def apply_requirements(case: Case, whatif: WhatIf) -> Case:
    """The case with the what-if requirement levels written into it (so that check, repair,
    the term sheet and the downloads judge against what the room has set)."""
    if whatif.requirement_key() == ((), None, None):
        return case
    data = case.model_dump(mode="json", exclude_none=True)
    kw = data.setdefault("keep_whole", {})
    for pid, tol in whatif.tolerance:
        base = case.keep_whole_for(pid).model_dump(mode="json")
        kw[pid] = kw.get(pid, base) | {"tolerance": float(tol)}
    req = data.setdefault("requirements", {})
    if whatif.objective is not None:
        req["objective"] = whatif.objective
    if whatif.commissioners_min is not None:
        req["commissioners_min_expected"] = float(whatif.commissioners_min)
    return case_from_mapping(data, "what-if")


# ---------------------------------------------------------------- slider positions


def nice_steps(top: float) -> list[float]:
    """0 and round amounts up to at least `top` (for money sliders), finer at the low end:
    1, 1.5, 2, 2.5, 3, 4, 5 and 7.5 of each power of ten from about a thousandth of `top`."""
    top = max(float(top), 1000.0)
    k = math.floor(math.log10(top)) - 3
    out = [0.0]
    while out[-1] < top:
        for m in (1, 1.5, 2, 2.5, 3, 4, 5, 7.5):
            out.append(float(m * 10**k))
            if out[-1] >= top:
                break
        k += 1
    return out


def tolerance_steps(case: Case, econ, pid: str) -> list[float]:
    """Slider positions for a party's tolerance (pounds a year): up to its largest yearly
    shortfall before any sharing (what it stands to lose), and including its current one."""
    cur = case.keep_whole_for(pid).tolerance
    top = cur
    if econ is not None:
        j = econ.party_ids.index(pid)
        before = (econ.revenue_change - econ.total_cost_change)[:, :, j]
        top = max(top, float(-before.min()))
    return sorted(set(nice_steps(top)) | {cur})


def expected_savings(econ) -> float:
    """Expected system savings over the agreement (pounds), however the pool is split."""
    return float(econ.weights @ (-econ.total_cost_change.sum(axis=(1, 2))))


def most_retained(econ) -> float:
    """The most the commissioners could keep in expectation under any agreement: every gain of
    the pool and none of its losses (pounds, over the agreement). The top of a slider for
    their minimum: the system's savings may be less (providers may carry a loss)."""
    return float(econ.weights @ np.maximum(econ.pool, 0.0).sum(axis=1))


# ---------------------------------------------------------------- results


@dataclass(frozen=True)
class Solved:
    """A design result as the room sees it: `check` judges the agreement against `case`, the
    case with the room's what-ifs written into it. `load` tells results of one loaded case
    from those of another (the headline compares only within one)."""

    case: Case
    result: DesignResult | None
    check: CheckResult | None
    seconds: float
    rebuilt: bool
    whatif: WhatIf = field(default_factory=WhatIf)
    load: int = 0


@dataclass(frozen=True)
class End:
    """One end of a slider's feasible range: the position, the objective's value there, the
    requirements binding hardest there (ids such as 'keep_whole.acute'), and what lies beyond
    it: 'infeasible' (no agreement meets every requirement), 'no_effect' (the requirement no
    longer binds) or 'edge' (the slider stops there)."""

    value: float
    objective: float | None = None
    binding: tuple[str, ...] = ()
    beyond: str = "edge"


@dataclass(frozen=True)
class Range:
    """The positions of a slider at which an agreement meets every requirement (the others
    held where the room has them). `low` is None when no position works."""

    low: End | None
    high: End | None
    probes: int = 0
    seconds: float = 0.0
    note: str = ""  # e.g. "the aim is this figure already"

    @property
    def works(self) -> bool:
        return self.low is not None

    def contains(self, v: float, slack: float = 1e-9) -> bool:
        return self.works and self.low.value - slack <= v <= self.high.value + slack


@dataclass(frozen=True)
class Conflict:
    """Why no agreement meets every requirement: the smallest relaxation (`explain`) and the
    best agreement under it, checked against the room's requirements (where and by how much
    each organisation would fall short)."""

    explained: ExplainResult
    relaxed: CheckResult | None


def _hardest(result: DesignResult, k: int = 2) -> tuple[str, ...]:
    rows = sorted(result.binding, key=lambda b: -abs(b["shadow_price"]))
    return tuple(b["requirement"] for b in rows[:k])


def _objective_value(result: DesignResult) -> float | None:
    return None if result.objective_value is None else float(result.objective_value)


def _levels(case: Case) -> dict:
    out = {}
    for pid in case.party_ids:
        kw = case.keep_whole_for(pid)
        if kw.mode != "none":
            out[("tolerance", pid)] = float(kw.tolerance)
    out[("commissioners_min", None)] = case.requirements.commissioners_min_expected
    out[("objective", None)] = case.requirements.objective
    return out


def _bisect(feasible: Callable[[int], bool], good: int, bad: int) -> int:
    """The feasible index nearest `bad`, between a feasible `good` and an infeasible `bad`."""
    while abs(good - bad) > 1:
        mid = (good + bad) // 2
        if feasible(mid):
            good = mid
        else:
            bad = mid
    return good


def _edge(feasible: Callable[[int], bool], start: int, stop: int, guess: int | None) -> int:
    """The last feasible index going from a feasible `start` towards `stop` (inclusive). With
    a `guess` (the edge found before, which a small change of the other levels moves little):
    the guess and the next index first, two probes when it still holds. Without one: `stop`
    first. Then galloping steps of 1, 2, 4... and a bisection."""
    step = 1 if stop >= start else -1
    good = start
    if guess is not None and 0 < (guess - start) * step <= abs(stop - start):
        if not feasible(guess):
            return _bisect(feasible, start, guess)
        if guess == stop:
            return guess
        good = guess
    elif feasible(stop):
        return stop
    jump = 1
    while True:
        nxt = good + step * jump
        if (nxt - stop) * step >= 0:
            return stop if feasible(stop) else _bisect(feasible, good, stop)
        if not feasible(nxt):
            return _bisect(feasible, good, nxt)
        good, jump = nxt, 2 * jump


# ---------------------------------------------------------------- the persistent model


class WhatIfModel:
    """One room's design model: built once for the case and each set of scheme assumptions,
    re-solved for requirement what-ifs. Thread-safe (a room may have two browser tabs)."""

    def __init__(self, case: Case):
        self.lock = threading.RLock()
        self.case = case
        self.version = 0
        self.designer: Designer | None = None
        self._key: tuple | None = None
        self._applied: dict = {}
        self._build_s = 0.0
        self._fresh = False
        self._cases: dict = {}
        self._ranges: dict = {}  # (kind, path or party) -> (key, Range)

    # ------------------------------------------------------------ the case

    def use(self, case: Case) -> None:
        """The case the model answers for (a new version when it differs)."""
        with self.lock:
            if case is self.case or case == self.case:
                return
            self.case, self.version = case, self.version + 1
            self._cases.clear()

    def _memo(self, name: str, key: tuple, make):
        hit = self._cases.get(name)
        if hit is not None and hit[0] == key:
            return hit[1]
        value = make()
        self._cases[name] = (key, value)
        return value

    def model_case(self, whatif: WhatIf) -> Case:
        """The case with the room's scheme assumptions (what the model is built from)."""
        return self._memo("model", (self.version, whatif.assumptions),
                          lambda: apply_assumptions(self.case, whatif))  # fmt: skip

    def effective_case(self, whatif: WhatIf) -> Case:
        """The model case with the room's requirement levels written into it."""
        key = (self.version, whatif.assumptions, whatif.requirement_key())
        return self._memo("effective", key,
                          lambda: apply_requirements(self.model_case(whatif), whatif))  # fmt: skip

    # ------------------------------------------------------------ solving

    def _designer(self, whatif: WhatIf) -> Designer:
        key = (self.version, whatif.assumptions)
        if self.designer is None or self._key != key:
            case = self.effective_case(whatif)
            t0 = time.perf_counter()
            self.designer = Designer(case)
            self._build_s = time.perf_counter() - t0
            self._key, self._fresh = key, True
            self._applied = _levels(case)
        return self.designer

    def _apply(self, designer: Designer, case: Case) -> None:
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

    def designer_for(self, whatif: WhatIf) -> Designer:
        """The persistent Designer holding the room's levels (for candidates and frontiers);
        call `touched()` after using it for anything else."""
        with self.lock:
            designer = self._designer(whatif)
            self._apply(designer, self.effective_case(whatif))
            return designer

    def touched(self) -> None:
        """Something else used the model: set every level again before the next solve."""
        with self.lock:
            self._applied = {}

    def solve(self, whatif: WhatIf, load: int = 0) -> Solved:
        """The optimum under the room's what-ifs, judged against them."""
        with self.lock:
            t0 = time.perf_counter()
            designer = self._designer(whatif)
            rebuilt, self._fresh = self._fresh, False
            case = self.effective_case(whatif)
            self._apply(designer, case)
            # the previous answer is a start: no what-if answer is worse than it where it still
            # meets every requirement (the search is exact; this holds for the MIP's time limit)
            # (only an answer of this same model: another case's answer names other parties)
            held, previous = getattr(self, "_previous", (None, None))
            designer.starts = (previous,) if held is designer and previous is not None else ()
            # the room's figures name no binding requirement (the ranges find their own), so
            # the shadow prices' programme, most of a re-solve, is left out
            result = designer.solve(duals=False)
            if result.agreement is not None:
                self._previous = (designer, result.agreement)
            verdict = None
            if result.agreement is not None:
                verdict = result.check
                if designer.case != case:  # judge against the what-if levels
                    verdict = check(case, result.agreement, result.check.settlement.econ)
            seconds = time.perf_counter() - t0 + (self._build_s if rebuilt else 0.0)
            return Solved(case, result, verdict, seconds, rebuilt, whatif, load)

    def economics(self, whatif: WhatIf):
        """Economics of the model case (first lever structure), for slider scales."""
        with self.lock:
            return self._designer(whatif).space.base_econ

    # ------------------------------------------------------------ feasible ranges

    def _cached(self, name, key, make) -> Range:
        hit = self._ranges.get(name)
        if hit is not None and hit[0] == key:
            return hit[1]
        rng = make(hit[1] if hit is not None else None)
        self._ranges[name] = (key, rng)
        return rng

    def tolerance_range(self, whatif: WhatIf, party: str, steps: list[float]) -> Range:
        """The tolerances (of `steps`, pounds a year) at which some agreement meets every
        requirement, the room's other levels held: from the least that works to the top of
        the slider (more tolerance never makes a case infeasible)."""
        rest = whatif.without_tolerance(party)
        key = (self.version, rest, tuple(steps))
        with self.lock:
            return self._cached(("tolerance", party), key,
                                lambda old: self._tolerance_range(rest, party, steps))  # fmt: skip

    def _tolerance_range(self, rest: WhatIf, party: str, steps: list[float]) -> Range:
        t0 = time.perf_counter()
        designer = self._designer(rest)
        self._apply(designer, self.effective_case(rest))
        probes: list[int] = []

        def solve_at(i: int, duals: bool = False) -> DesignResult:
            probes.append(i)
            designer.set_tolerance(party, steps[i])
            self._applied[("tolerance", party)] = steps[i]
            return designer.solve(duals=duals)

        ok = lambda i: solve_at(i).ok  # noqa: E731
        top = len(steps) - 1
        if not ok(top):
            return Range(None, None, len(probes), time.perf_counter() - t0)
        lo = 0 if ok(0) else _bisect(ok, top, 0)
        low_res, high_res = solve_at(lo, duals=True), solve_at(top, duals=True)
        low = End(steps[lo], _objective_value(low_res), _hardest(low_res),
                  "edge" if lo == 0 else "infeasible")  # fmt: skip
        high = End(steps[top], _objective_value(high_res), _hardest(high_res), "no_effect")
        return Range(low, high, len(probes), time.perf_counter() - t0)

    def commissioners_range(self, whatif: WhatIf) -> Range:
        """The commissioners' minimum (expected, pounds over the agreement) at which some
        agreement meets every requirement: from none to the most they can keep, found by
        solving for it. When the aim is already the commissioners' savings, a minimum below
        that optimum changes nothing and one above it cannot be met: the range says so."""
        rest = WhatIf(whatif.tolerance, None, whatif.objective, whatif.assumptions)
        key = (self.version, rest)
        with self.lock:
            return self._cached("commissioners", key, lambda old: self._commissioners_range(rest))

    def _commissioners_range(self, rest: WhatIf) -> Range:
        t0 = time.perf_counter()
        designer = self._designer(rest)
        case = self.effective_case(rest)
        self._apply(designer, case)
        designer.set_commissioners_min(None)
        self._applied[("commissioners_min", None)] = None
        aim = case.requirements.objective
        at_none = designer.solve()
        if not at_none.ok:
            return Range(None, None, 1, time.perf_counter() - t0)
        low = End(0.0, _objective_value(at_none), (), "edge")
        if aim == "commissioners":
            top = float(at_none.check.expected_retained)
            high = End(top, top, _hardest(at_none), "infeasible")
            return Range(low, high, 1, time.perf_counter() - t0, "aim")
        # the most they can keep in the space this aim searches: the MIP's, unless the aim was
        # answered by the search (the worst margin, models/design.md part 1)
        if designer.route == "mip" and at_none.route != "search":
            req = designer.case.requirements.model_copy(update={"objective": "commissioners"})
            same = designer.case.model_copy(update={"requirements": req})
            most = Designer(same, designer.scenarios, method="mip").solve(duals=False)
        else:
            designer.set_objective("commissioners")
            most = designer.solve(duals=False)
        top = math.floor(float(most.check.expected_retained)) - 1.0
        designer.set_objective(aim)
        designer.set_commissioners_min(top)
        self._applied.update({("objective", None): aim, ("commissioners_min", None): top})
        at_top = designer.solve()
        high = End(top, _objective_value(at_top), _hardest(at_top), "infeasible")
        return Range(low, high, 3, time.perf_counter() - t0)

    def assumption_range(self, whatif: WhatIf, path: str, current: int,
                         progress: Callable[[], None] | None = None) -> Range:  # fmt: skip
        """The central values (whole per cent, 0 to 100) of a scheme share such as targeting
        at which some agreement meets every requirement, each probe a model built for that
        value; warm-started from the range found before. `progress` is called before each
        probe (the app uses it to show that it is looking, and to stop when the room moves
        on). The probes use models of their own: the room's model is not held meanwhile."""
        rest = whatif.with_assumption(path, None)
        key = (self.version, rest, path)
        name = ("assumption", path)
        with self.lock:
            hit = self._ranges.get(name)
            if hit is not None and hit[0] == key:
                return hit[1]
        rng = self._assumption_range(rest, path, current, hit[1] if hit else None, progress)
        with self.lock:
            self._ranges[name] = (key, rng)
        return rng

    def _assumption_range(self, rest: WhatIf, path: str, current: int, old: Range | None,
                          progress: Callable[[], None] | None = None) -> Range:  # fmt: skip
        t0 = time.perf_counter()
        results: dict[int, DesignResult] = {}
        base = self.model_case(rest)

        def solve_at(v: int) -> DesignResult:
            if v not in results:
                if progress is not None:
                    progress()
                case = apply_requirements(with_central(base, path, v / 100), rest)
                results[v] = Designer(case).solve()
            return results[v]

        ok = lambda v: solve_at(v).ok  # noqa: E731
        start = next((v for v in self._starts(current, old) if ok(v)), None)
        if start is None:
            return Range(None, None, len(results), time.perf_counter() - t0)
        guess_lo = old.low.value if old is not None and old.works else None
        guess_hi = old.high.value if old is not None and old.works else None
        lo = _edge(ok, start, 0, None if guess_lo is None else int(guess_lo))
        hi = _edge(ok, start, 100, None if guess_hi is None else int(guess_hi))
        lr, hr = solve_at(lo), solve_at(hi)
        low = End(lo, _objective_value(lr), _hardest(lr), "edge" if lo == 0 else "infeasible")
        high = End(hi, _objective_value(hr), _hardest(hr), "edge" if hi == 100 else "infeasible")
        return Range(low, high, len(results), time.perf_counter() - t0)

    @staticmethod
    def _starts(current: int, old: Range | None) -> list[int]:
        """Where to look for a first feasible value: the slider's, the last range's middle,
        then every tenth per cent."""
        out = [int(current)]
        if old is not None and old.works:
            out.append(int((old.low.value + old.high.value) // 2))
        out += list(range(100, -1, -10))
        return list(dict.fromkeys(out))

    # ------------------------------------------------------------ when nothing works

    def conflict(self, whatif: WhatIf) -> Conflict:
        """The smallest relaxation that would let an agreement meet every requirement, and
        that agreement checked against the room's requirements."""
        case = self.effective_case(whatif)
        explained = explain(case)
        relaxed = None
        if explained.relaxed_case is not None:
            r = design(explained.relaxed_case)
            if r.agreement is not None:
                relaxed = check(case, r.agreement)
        return Conflict(explained, relaxed)


__all__ = ["Conflict", "End", "Range", "Solved", "WhatIf", "WhatIfModel", "apply_assumptions",
           "apply_requirements", "central_value", "expected_savings", "most_retained", "nice_steps",
           "tolerance_steps", "with_central"]  # fmt: skip
