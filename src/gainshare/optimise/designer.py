"""`design`: search agreement terms with the Pyomo model and HiGHS, then re-settle the answer
with the solver-free settlement code before anyone sees it.

`Designer(case)` builds the model once and keeps a persistent HiGHS instance; requirement
what-ifs change mutable Params and re-solve without rebuilding."""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field, replace
from functools import cached_property

import highspy
import numpy as np
import pyomo.environ as pyo
from pyomo.contrib.solver.solvers.highs import Highs

from gainshare.economics.model import compute
from gainshare.economics.scenarios import sample
from gainshare.optimise.data import DesignData, build_data
from gainshare.optimise.design_model import (
    build_design_model,
    group_transfer,
    net,
    raw_gain,
    trivial_shortfalls,
)
from gainshare.optimise.direct import DirectHighs, LoadedOnce
from gainshare.optimise.extract import agreement_from_solution, evaluate
from gainshare.optimise.highs import OPTIONS as SOLVER_OPTIONS
from gainshare.optimise.highs import pyomo_solve, stdout_to_stderr
from gainshare.optimise.margin import highest_margin
from gainshare.optimise.prices import search_binding
from gainshare.optimise.search import NotDecomposable, applicable, search
from gainshare.optimise.shadow import binding_requirements
from gainshare.optimise.space import Space
from gainshare.optimise.unsupported import refuse_case
from gainshare.schema.agreement import Agreement
from gainshare.schema.case import Case
from gainshare.schema.requirements import OBJECTIVE_WORDS, OBJECTIVES
from gainshare.settle.check import CheckResult, check
from gainshare.settle.requirements import failures, fair_distance
from gainshare.units import money

VERIFY_TOLERANCE = 0.01  # pounds: a re-settlement differing by more than a penny is an error
SHARE_TOLERANCE = 1e-6  # a start is closer to the reference split only by more than this
FLOOR_TOLERANCE = 1.0  # pounds: the highest worst-margin floor under group limits, within this
FLOOR_STEPS = 60  # bisection steps at most (the time limit usually stops it sooner)
MARGIN_SLACK = 0.005  # pounds: the worst-margin aim asks the search for the highest less this


@dataclass
class FloorSearch:
    """Where a bisection on the worst-margin floor stopped (`_raise_floor`): the answer at the
    highest floor met, that margin, the least floor known out of reach, the designs it took
    after the first, and whether the two are within the tolerance."""

    result: DesignResult | tuple  # a design, or the search's (found, check result)
    margin: float
    bound: float
    steps: int
    proven: bool


@dataclass(frozen=True)
class DesignResult:
    """Outcome of a design solve. `agreement` and `check` are None unless a verified answer
    exists (status optimal or time_limit)."""

    status: str  # optimal | time_limit | infeasible | error
    objective_name: str
    objective_value: float | None
    bound: float | None
    gap: float | None
    agreement: Agreement | None
    check: CheckResult | None
    levers: dict | None
    binding: list[dict]
    timings: dict
    message: str = ""
    trivial: list[dict] = field(default_factory=list)
    starts: list[dict] = field(default_factory=list)  # agreements the room brought, checked
    route: str = "search"  # search (the drafting-space search) or mip
    structure_values: list[dict] = field(default_factory=list)  # what each part adds
    # the search's structures -> the most each could give the commissioners (a later search
    # whose requirements only tightened may give up those that cannot win)
    ceilings: dict = field(default_factory=dict, repr=False, compare=False)

    @property
    def ok(self) -> bool:
        return self.agreement is not None

    @property
    def document(self) -> dict:
        from gainshare.schema.io import agreement_to_dict

        return {
            "command": "design",
            "status": self.status,
            "message": self.message,
            "objective": {
                "name": self.objective_name,
                "description": OBJECTIVE_WORDS[self.objective_name],
                "value": _r(self.objective_value),
            },
            "bound": _r(self.bound),
            "gap": self.gap,
            "levers": self.levers,
            "agreement": agreement_to_dict(self.agreement) if self.agreement else None,
            "check": self.check.document if self.check else None,
            "binding": self.binding,
            "timings": self.timings,
            "unreachable": self.trivial,
            "method": self.route,
            "starts": self.starts,
            "structure_values": self.structure_values,
        }


def _rules_missing(case: Case, agreement: Agreement) -> list[str]:
    """The terms the case sets (a programme's rules) that an agreement does not carry: such an
    agreement is not one the programme allows, however well it does."""
    req, t = case.requirements, agreement.terms
    out = []
    if req.loss_quality and (t.loss_quality or {}) != req.loss_quality:
        out.append("it does not carry the quality-scaled loss shares the case sets "
                   "(requirements.loss_quality)")  # fmt: skip
    if req.group_limits and (t.group_limits or []) != req.group_limits:
        out.append("it does not carry the group caps and collars the case sets "
                   "(requirements.group_limits)")  # fmt: skip
    if req.aggregate_limits is not None and agreement.aggregate_limits != req.aggregate_limits:
        out.append("it does not carry the limits over the whole agreement the case sets "
                   "(requirements.aggregate_limits)")  # fmt: skip
    return out


def objective_of(case: Case, agreement: Agreement, result: CheckResult, name: str) -> float:
    """An agreement's value under objective `name`, from its settlement: the commissioners'
    expected retained savings, the expected system savings, the worst provider margin, or the
    distance from the reference split (the smaller the better)."""
    if name == "system_savings":
        return result.expected_system_savings
    if name == "worst_margin":
        return result.worst_provider_net or 0.0
    if name == "fair_reference":
        return fair_distance(case, agreement)
    return result.expected_retained


def _r(v: float | None) -> float | None:
    return None if v is None else round(float(v), 2)


def _stop_message(status: str, gap: float | None) -> str:
    """What the room is told about an answer that is not proven optimal (nothing when it is)."""
    if status == "optimal":
        return ""
    if gap is None:
        return ("Time limit reached: best agreement found so far; how far it is from the best "
                "possible is not yet known (allow more time to find out).")  # fmt: skip
    return (f"Time limit reached: best agreement found, within {100 * gap:.2f}% of the "
            "best possible.")  # fmt: skip


class Designer:
    """Design for a case, and re-solve after requirement changes (what-ifs).

    The drafting-space search (`optimise.search`) answers whatever it decides exactly (the
    commissioners' and system-savings objectives with robust keep-whole); the MIP of
    `design_model` answers the rest. Each is built on first use and kept: the search keeps the
    economics of every lever choice and every provider's side it has solved, the MIP keeps a
    persistent HiGHS model whose mutable Params the what-ifs change."""

    def __init__(self, case: Case, scenarios=None, starts: tuple[Agreement, ...] = (),
                 method: str | None = None, cache: dict | None = None,
                 chance_budgets: tuple = ()):  # fmt: skip
        t0 = time.perf_counter()
        refuse_case(case)
        self.case = case
        self.scenarios = scenarios if scenarios is not None else sample(case)
        self.starts = tuple(starts)
        self._data: DesignData | None = None
        self._model = None
        self._space: Space | None = None
        # solved provider sides, by structure and need; designs of one case on the same
        # scenarios that differ only in keep-whole levels may share one (a frontier's)
        self._cache: dict = {} if cache is None else cache
        self._chance_budgets = tuple(chance_budgets)
        self._last = None  # the structure of the last answer: tried first after a what-if
        self._opt: Highs | None = None
        self._direct: DirectHighs | None = None
        self._timings = {"data_s": time.perf_counter() - t0, "build_s": 0.0}
        self._objective = case.requirements.objective
        self._first = True  # the first solve's timings include building the model
        self._nets: dict = {}  # (party, year) -> net position as a linear form, built once
        if method not in (None, "search", "mip"):
            raise ValueError(f"unknown method '{method}': use search or mip")
        self.method = method  # None: the search where it decides the case, else the MIP
        self.route = method or ("search" if applicable(case) else "mip")
        self.route_note = ""

    @property
    def data(self) -> DesignData:
        """The MIP's data, built on first use."""
        if self._data is None:
            t = time.perf_counter()
            self._data = build_data(self.case, self.scenarios)
            self._timings["data_s"] += time.perf_counter() - t
        return self._data

    @property
    def model(self):
        """The MIP (models/design.md), built on first use."""
        if self._model is None:
            data = self.data
            t = time.perf_counter()
            self._model = build_design_model(data)
            self._timings["build_s"] += time.perf_counter() - t
        return self._model

    @property
    def space(self) -> Space:
        """The drafting space of the search, kept across what-ifs (they change requirements,
        never the economics)."""
        if self._space is None:
            self._space = Space(self.case, self.scenarios, self.starts,
                                chance_budgets=self._chance_budgets)  # fmt: skip
        self._space.case = self.case
        return self._space

    # ------------------------------------------------------------ what-if changes

    def set_tolerance(self, party: str, pounds: float) -> None:
        """Change a party's keep-whole tolerance (pounds a year it accepts to be worse off)."""
        kw = self.case.keep_whole_for(party).model_copy(update={"tolerance": float(pounds)})
        self.case = self.case.model_copy(update={"keep_whole": self.case.keep_whole | {party: kw}})
        if self._model is not None and party in self._group_members():
            self._rebuild()  # a member's rows carry its tolerance in their coefficients
        elif self._model is not None:
            p = self._data.party_ids.index(party)
            self._model.tolerance[p] = pounds / self._data.scale
            self._changed(self._model.tolerance[p])

    def _rebuild(self) -> None:
        """Build the model again from the case as it now is (on the next solve)."""
        self._data = replace(self._data, case=self.case, req=self.case.requirements)
        self._model, self._opt, self._direct, self._nets = None, None, None, {}
        self.__dict__.pop("_net_stack", None)

    def _group_members(self) -> set[str]:
        return {pid for g in self.case.requirements.group_limits for pid in g.members}

    def _changed(self, param) -> None:
        """A mutable Param changed: HiGHS hears of it before the next solve."""
        if self._drop_loaded_once():
            return
        if self._direct is not None:
            self._direct.changed(param)

    def _added(self, con) -> None:
        """A constraint added after loading: load it into HiGHS too."""
        if self._drop_loaded_once():
            return
        if self._opt is not None:
            self._opt.add_constraints([con])
            self._direct.refresh()

    def load_once(self) -> None:
        """Load the model into HiGHS for solves that change nothing in it (a repair's distance
        model): through Pyomo's LP writer, several times faster than the persistent interface
        on a large model (`direct.LoadedOnce`). A later change (a requirement level, a
        constraint, another objective) or a solve with shadow prices loads it again the usual
        way."""
        if self._opt is not None:
            return
        t = time.perf_counter()
        opt = LoadedOnce(self.model)
        self._opt, self._direct = opt, DirectHighs(opt, self.model)
        self._timings["load_s"] = time.perf_counter() - t

    def _drop_loaded_once(self) -> bool:
        """Forget a model loaded by `load_once` (the next solve loads it the persistent way);
        True if there was one."""
        if isinstance(self._opt, LoadedOnce):
            self._opt = self._direct = None
            return True
        return False

    def _requirement(self, **update) -> None:
        """Keep the case's requirements in step with the model, so checks test what was solved."""
        req = self.case.requirements.model_copy(update=update)
        self.case = self.case.model_copy(update={"requirements": req})

    def set_commissioners_min(self, pounds: float | None) -> None:
        """Require commissioners' expected retained savings of at least `pounds` (None: drop)."""
        if self._model is None:
            self._requirement(commissioners_min_expected=pounds)
            return
        m = self.model
        self._set_floor("commissioners_floor", lambda: m.retained_expected, m.commissioners_min,
                        "commissioners_min_expected", pounds)  # fmt: skip

    def set_margin_min(self, pounds: float | None) -> None:
        """Require every provider's net in every scenario and year to be at least `pounds`."""
        if self._model is None:
            self._requirement(worst_margin_min=pounds)
            return
        if self.case.requirements.group_limits:  # members' rows carry the floor as data
            if pounds != self.case.requirements.worst_margin_min:
                self._requirement(worst_margin_min=pounds)
                self._rebuild()
            return
        m = self.model
        self._set_floor("margin_floor_min", lambda: m.margin, m.margin_min, "worst_margin_min",
                        pounds)  # fmt: skip

    def _set_floor(self, row: str, form, param, requirement: str, pounds: float | None) -> None:
        """`form() >= param` as constraint `row` (added the first time), with the Param set to
        `pounds` (None: no floor) and the case's requirement kept in step."""
        m = self.model
        if not hasattr(m, row):
            m.add_component(row, pyo.Constraint(expr=form() >= param))
            self._added(getattr(m, row))
        param.set_value(-1e30 if pounds is None else pounds / self.data.scale)
        self._requirement(**{requirement: pounds})
        self._changed(param)

    def set_objective(self, name: str) -> None:
        """Switch the primary objective without rebuilding the constraints."""
        if name not in OBJECTIVES:
            raise ValueError(f"unknown objective '{name}': use one of {', '.join(OBJECTIVES)}")
        if name == "fair_reference" and self.case.requirements.reference_split is None:
            raise ValueError("objective fair_reference needs requirements.reference_split")
        if name == self._objective:
            return
        self._requirement(objective=name)
        if self.case.requirements.group_limits:  # the model keeps the commissioners' aim for
            self._objective = name  # the worst margin (solve bisects on the floor)
            if self._data is not None:
                self._rebuild()
            return
        self.route = self.method or ("search" if applicable(self.case) else "mip")
        if self._model is None:
            self._objective = name
            return
        m = self.model
        _ensure_margin(self)
        m.del_component(m.objective)
        from gainshare.optimise.design_model import TIE_BREAK

        primary = {
            "commissioners": m.retained_expected,
            "system_savings": m.savings_expected,
            "worst_margin": m.margin,
            "fair_reference": -m.fair_distance,
        }[name]
        tie = (
            m.retained_expected * TIE_BREAK
            if name == "fair_reference"
            else -TIE_BREAK * m.fair_distance
        )
        m.objective = pyo.Objective(expr=primary + tie, sense=pyo.maximize)
        self._drop_loaded_once()
        if self._opt is not None:
            self._opt.set_objective(m.objective)
            self._direct.refresh()
        self._objective = name

    # ------------------------------------------------------------ solve

    def _solver(self) -> Highs:
        if self._opt is None:
            opt = Highs()
            au = opt.config.auto_updates
            for flag in (
                "check_for_new_or_removed_constraints",
                "check_for_new_or_removed_vars",
                "check_for_new_or_removed_params",
                "check_for_new_objective",
                "update_constraints",
                "update_vars",
                "update_named_expressions",
                "update_objective",
                "update_parameters",
            ):
                if flag in au:
                    setattr(au, flag, False)
            t = time.perf_counter()
            with stdout_to_stderr():
                opt.set_instance(self.model)
            # HiGHS logs model changes (e.g. a bound set to -infinity) straight to stdout;
            # silence it so that `--json` output stays one clean document.
            opt._solver_model.setOptionValue("output_flag", False)
            self._opt = opt
            self._direct = DirectHighs(opt, self.model)
            self._timings["load_s"] = time.perf_counter() - t
        else:
            self._direct.push()
        return self._opt

    def solve(self, time_limit: float | None = None, duals: bool = True,
              ceilings: dict | None = None, start: Agreement | None = None
              ) -> DesignResult:  # fmt: skip
        """Design, verify by re-settlement, and report binding requirements (with `duals`):
        by the drafting-space search where it decides the case exactly, else by the MIP.
        `ceilings`: an earlier answer's, when the requirements have only tightened since.
        `start`: an agreement of this model's structure that meets every requirement, handed
        to HiGHS as a starting solution (the MIP then has an answer whatever the time limit)."""
        if self._objective == "worst_margin" and self.case.requirements.group_limits:
            return self._aim_for_margin(time_limit)
        if self._objective == "worst_margin" and self.method != "mip":
            got = self._margin_by_search(time_limit)
            if got is not None:
                return got
        if self.route == "search":
            try:
                return self._search(time_limit, duals, ceilings)
            except NotDecomposable as e:
                self.route, self.route_note = "mip", str(e)
        return self._solve_mip(time_limit, duals, start)

    def _seconds(self, time_limit: float | None) -> float:
        """The time limit given, else the case's (requirements.time_limit)."""
        return float(time_limit if time_limit is not None else self.case.requirements.time_limit)

    def highest_floor(self, first: DesignResult, time_limit: float | None = None) -> FloorSearch:
        """The highest floor on the worst provider margin that some agreement meets, by
        bisection on the floor (each step a design of this designer's objective), for cases
        whose worst margin the model cannot aim for (group limits: a member's rows carry the
        floor in their coefficients). From `first`, the answer under the case's own floor, and
        an upper bound from the data: no provider's net in any scenario and year can pass its
        position before sharing plus every pound of that year's gain. To within
        FLOOR_TOLERANCE pounds or one part in 10,000, unless the time limit comes first. The
        designer is left with the last floor tried."""
        d = self.data
        t0 = time.perf_counter()
        limit = self._seconds(time_limit)
        gain = d.gain_portion.sum(axis=3).max(axis=0) * d.scale  # (S, Y): all of any gain
        reach = d.base_net[:, :, :, d.providers].max(axis=0) * d.scale + gain[:, :, None]
        out = FloorSearch(first, first.check.worst_provider_net or 0.0, 0.0, 0, True)
        out.bound = max(float(reach.min()) if reach.size else out.margin, out.margin)

        def attempt(floor: float, left: float):
            self.set_margin_min(floor)
            r = self.solve(time_limit=left, duals=False)
            if r.ok:
                met = r.check.worst_provider_net
                return r, floor if met is None else met
            return None, r.status == "infeasible"

        return _raise_floor(out, attempt, t0 + limit)

    def _aim_for_margin(self, time_limit: float | None) -> DesignResult:
        """The worst-margin aim under group limits: the highest floor on the worst provider
        margin some agreement meets (`highest_floor`), and of the agreements that meet it the
        one that leaves the commissioners the most, re-settled against the case as stated."""
        t0 = time.perf_counter()
        limit = self._seconds(time_limit)
        req = self.case.requirements.model_copy(update={"objective": "commissioners"})
        inner = Designer(self.case.model_copy(update={"requirements": req}), self.scenarios,
                         self.starts)  # fmt: skip
        first = inner.solve(time_limit=limit, duals=False)
        if not first.ok:
            return replace(first, objective_name="worst_margin", objective_value=None,
                           bound=None, gap=None)  # fmt: skip
        found = inner.highest_floor(first, limit - (time.perf_counter() - t0))
        a = found.result.agreement
        result = check(self.case, a, found.result.check.settlement.econ)
        fails = failures(self.case, a, result)
        if fails:  # pragma: no cover - each step was verified against a stricter floor
            return self._failed(
                "error",
                "worst_margin",
                {},
                "The answer fails a requirement "
                f"when re-settled ({fails[0]['text']}): please report this case.",
            )
        value = result.worst_provider_net or 0.0
        cur = self.case.currency
        gap = round(max(found.bound - value, 0.0) / max(abs(value), 1.0), 8)
        status = "optimal" if found.proven else "time_limit"
        within = (money(FLOOR_TOLERANCE, cur) if FLOOR_TOLERANCE >= 1e-4 * abs(value)
                  else "one part in 10,000")  # fmt: skip
        msg = (f"The highest worst provider margin any agreement meets, to within {within} "
               f"(bisection on the floor, {found.steps + 1} designs); of the agreements that "
               "meet it, this one leaves the commissioners the most." if found.proven else
               f"Time limit reached after {found.steps + 1} designs: the worst provider margin "
               f"is {money(value, cur)}, and no agreement is known to reach "
               f"{money(found.bound, cur)}.")  # fmt: skip
        timings = {"total_s": round(time.perf_counter() - t0, 4), "designs": found.steps + 1}
        out = replace(found.result, status=status, objective_name="worst_margin",
                      objective_value=value, bound=found.bound, gap=gap, check=result,
                      binding=[], timings=timings, message=msg, route="mip",
                      ceilings={})  # fmt: skip
        return self._never_worse(out)

    def _margin_by_search(self, time_limit: float | None) -> DesignResult | None:
        """The worst-margin aim by the search (models/design.md, "The worst-margin aim by the
        search"): the highest worst margin any structure's terms reach (`highest_margin`, an
        upper bound over the drafting space), then the commissioners' best agreement with it
        as a floor, less MARGIN_SLACK. Where a requirement the bound leaves out binds (the
        commissioners' minimum, say), the highest floor the search meets, by bisection between
        the case's own floor and the bound. None where the search does not decide the case
        (the MIP does, and says why when nothing meets the requirements)."""
        t0 = time.perf_counter()
        case = self.case
        plain = case.requirements.model_copy(update={"objective": "commissioners"})
        if not applicable(case.model_copy(update={"requirements": plain})):
            return None
        try:
            top = highest_margin(self.space)
            if not math.isfinite(top.margin):
                return None
            floor = top.margin - MARGIN_SLACK
            if case.requirements.worst_margin_min is not None:
                floor = max(floor, case.requirements.worst_margin_min)
            met = self._met_at(plain, floor, time_limit, t0, top.structure)
            bound, steps, proven = top.bound, 0, True
            if met[1] is None:  # a requirement the bound leaves out binds
                got = self._floor_by_search(plain, top, time_limit, t0)
                if got is None:
                    return None
                met, bound, steps, proven = got
        except NotDecomposable as e:
            self.route_note = str(e)
            return None
        found, result = met
        value = result.worst_provider_net
        if value > top.bound + VERIFY_TOLERANCE:  # pragma: no cover - the bound is exact
            return None
        self._last = found.plan.structure
        bound = max(bound, value)
        gap = round((bound - value) / max(abs(value), 1.0), 8)
        timings = self._timing(t0, time.perf_counter(), 0.0)
        timings |= {"structures": found.structures, "structures_solved": found.solved}
        timings["total_s"] = round(time.perf_counter() - t0 + timings["data_s"], 4)
        cur = case.currency
        if not steps:
            msg = (f"The highest worst provider margin any agreement in the drafting space "
                   f"meets is {money(top.margin, cur)}; of the agreements within a penny of it, "
                   "this one leaves the commissioners the most.")  # fmt: skip
        elif proven:
            timings["designs"] = steps + 1
            msg = (f"The highest worst provider margin an agreement meeting every requirement "
                   f"reaches, to within {money(bound - value, cur)} (bisection on the floor, "
                   f"{steps + 1} designs; with no other requirement it would be "
                   f"{money(top.margin, cur)}); of the agreements that reach it, this one "
                   "leaves the commissioners the most.")  # fmt: skip
        else:
            timings["designs"] = steps + 1
            msg = (f"Time limit reached after {steps + 1} designs: the worst provider margin "
                   f"is {money(value, cur)}, and no agreement is known to reach "
                   f"{money(bound, cur)}.")  # fmt: skip
        out = DesignResult("optimal" if proven else "time_limit", "worst_margin", value, bound,
                           gap, found.agreement, result, self._levers_of(found.plan), [],
                           timings, msg, ceilings={})  # fmt: skip
        return self._never_worse(out)

    def _met_at(self, plain, floor: float | None, time_limit, t0, first=None):
        """(found, check result) of the commissioners' search with `floor` on the worst margin
        and the case's other requirements; the result None unless it meets every one."""
        case = self.case
        self.case = case.model_copy(
            update={"requirements": plain.model_copy(update={"worst_margin_min": floor})}
        )
        try:
            left = max(self._seconds(time_limit) - (time.perf_counter() - t0), 0.0)
            found = search(self.space, f"Designed: {case.name}", left, self._cache, first)
        finally:
            self.case = case
            self._space.case = case
        if found.agreement is None:
            return found, None
        result = check(case, found.agreement, found.check.settlement.econ)
        if result.worst_provider_net is None or failures(case, found.agreement, result):
            return found, None
        return found, result

    def _floor_by_search(self, plain, top, time_limit, t0):
        """The highest floor on the worst margin the commissioners' search meets with every
        requirement, by bisection between the case's own floor and `top`'s bound, to within
        FLOOR_TOLERANCE pounds or one part in 10,000: ((found, result) at it, the least floor
        known out of reach, the designs after the first, proven). None when nothing meets the
        requirements at the case's own floor."""
        met = self._met_at(plain, self.case.requirements.worst_margin_min, time_limit, t0)
        if met[1] is None:
            return None
        out = FloorSearch(met, met[1].worst_provider_net, top.bound, 0, True)

        def attempt(floor: float, _left: float):
            got = self._met_at(plain, floor, time_limit, t0, out.result[0].plan.structure)
            if got[1] is not None:
                return got, got[1].worst_provider_net
            return None, got[0].status == "infeasible"

        _raise_floor(out, attempt, t0 + self._seconds(time_limit))
        return out.result, out.bound, out.steps, out.proven

    def _levers_of(self, plan) -> dict | None:
        """The lever values of a search plan's structure, for the answer (None: no levers)."""
        if self.case.levers is None:
            return None
        lev, label = self.space.levers[plan.structure.lever]
        return {"teams": lev.teams, "closures": lev.closures,
                "release_year": lev.release_year, "label": label}  # fmt: skip

    def _search(self, time_limit: float | None, duals: bool, ceilings=None) -> DesignResult:
        t0 = time.perf_counter()
        name = self._objective
        found = search(self.space, f"Designed: {self.case.name}", time_limit, self._cache,
                       self._last, ceilings)  # fmt: skip
        if found.plan is not None:
            self._last = found.plan.structure
        timings = self._timing(t0, time.perf_counter(), 0.0)
        timings["structures"] = found.structures
        timings["structures_solved"] = found.solved
        if found.agreement is None:
            if found.trivial and found.why.startswith(f"{len(found.trivial)} scenario-year"):
                msg = (f"{found.why}: no sharing terms can keep it whole there. Widen the "
                       "tolerance, use chance or CVaR keep-whole, or narrow the "
                       "corridor.")  # fmt: skip
            elif found.status == "time_limit":
                msg = (f"No agreement was found in the time allowed ({found.why}); the "
                       "drafting space was not shown to hold none. Allow more time "
                       "(requirements.time_limit) or narrow the search.")  # fmt: skip
            else:
                msg = (f"No agreement in the drafting space meets every requirement: "
                       f"{found.why}. Run explain to see which requirements conflict and what "
                       "would have to give.")  # fmt: skip
            out = self._failed(found.status, name, timings, msg)
            return self._never_worse(replace(out, trivial=found.trivial[:20]))
        result = found.check
        worst = abs(found.plan.value - result.expected_retained)
        if worst > VERIFY_TOLERANCE:
            return self._failed("error", name, timings,
                                f"The search's answer re-settles differently (by £{worst:,.2f}); "
                                "it is not shown. Please report this case.")  # fmt: skip
        value = (result.expected_system_savings if name == "system_savings"
                 else result.expected_retained)  # fmt: skip
        bound = found.bound if name == "commissioners" else value
        gap = None if bound is None else round(abs(bound - value) / max(abs(value), 1e-9), 8)
        t = time.perf_counter()
        binding = search_binding(self.space, found) if duals else []
        timings["duals_s"] = round(time.perf_counter() - t, 4)
        timings["total_s"] = round(time.perf_counter() - t0 + timings["data_s"], 4)
        out = DesignResult(found.status, name, value, bound, gap, found.agreement, result,
                           self._levers_of(found.plan), binding, timings,
                           _stop_message(found.status, gap), ceilings=found.ceilings)  # fmt: skip
        return self._never_worse(out)

    def _never_worse(self, out: DesignResult) -> DesignResult:
        """Check every agreement the room brought; one that meets every requirement and does
        better than the answer (it lies outside the drafting space, e.g. shares in fractions
        of a percent) is returned instead, said so in the message."""
        if not self.starts:
            return out
        econ = (self.space.base_econ if self.case.levers is None
                else compute(self.case, self.scenarios))  # fmt: skip
        seen, best = [], None
        sign = -1.0 if out.objective_name == "fair_reference" else 1.0  # a distance
        for a in self.starts:
            r = check(self.case, a, econ)
            fails = [f["text"] for f in failures(self.case, a, r)] + _rules_missing(self.case, a)
            value = objective_of(self.case, a, r, out.objective_name)
            seen.append(
                {
                    "name": a.name,
                    "meets_requirements": not fails,
                    "objective_value": round(value, 6 if sign < 0 else 2),
                    "failures": fails[:5],
                }
            )
            if not fails and (best is None or sign * value > sign * best[0]):
                best = (value, a, r)
        tol = SHARE_TOLERANCE if out.objective_name == "fair_reference" else VERIFY_TOLERANCE
        better = (best is not None and out.agreement is not None
                  and sign * best[0] > sign * (out.objective_value or 0.0) + tol)  # fmt: skip
        if best is not None and out.agreement is None and out.status != "error":
            better = True
        if not better:
            return replace(out, starts=seen)
        value, a, r = best
        msg = (
            f"'{a.name}', given as a start, meets every requirement and does better "
            "than any agreement in the drafting space; it is returned unchanged."
        )
        bound = value if out.bound is None else (min if sign < 0 else max)(out.bound, value)
        return replace(out, status="optimal" if out.agreement is not None else "start",
                       objective_value=value, bound=bound, gap=None, agreement=a, check=r,
                       binding=[], message=msg, starts=seen)  # fmt: skip

    def structure_values(self) -> list[dict]:
        """What each part of the drafting space adds for the commissioners: the best agreement
        with sharing alone (one tier each way, no caps, collars or corridor), then with the
        caps and collars, the tiers and the corridor the case leaves open, and what whole-step
        shares cost against shares in 0.1% steps (where that search is quick)."""
        if self.route != "search" or self.case.requirements.objective != "commissioners":
            return []
        req = self.case.requirements
        search_on = req.search
        if not (search_on.caps or search_on.collars or search_on.corridor
                or search_on.max_gain_tiers > 1 or search_on.max_loss_tiers > 1):  # fmt: skip
            return []
        steps = [("sharing alone", dict(caps=False, collars=False, max_gain_tiers=1,
                                        max_loss_tiers=1, corridor=False))]  # fmt: skip
        if search_on.caps or search_on.collars:
            steps.append(("caps and collars", dict(max_gain_tiers=1, max_loss_tiers=1,
                                                   corridor=False)))  # fmt: skip
        if search_on.max_gain_tiers > 1 or search_on.max_loss_tiers > 1:
            steps.append(("tiers", dict(corridor=False)))
        if search_on.corridor:
            steps.append(("a corridor", {}))
        out, last = [], None
        for label, restrict in steps:
            case = self.case.model_copy(update={"requirements": req.model_copy(
                update={"search": search_on.model_copy(update=restrict)})})  # fmt: skip
            found = search(self.space.variant(case), "step", None, {})
            value = found.value if found.agreement is not None else None
            out.append(
                {
                    "step": label,
                    "commissioners_expected": _r(value),
                    "adds": None if value is None or last is None else _r(value - last),
                }
            )
            last = value if value is not None else last
        out.append(self._rounding_cost(last))
        return [o for o in out if o is not None]

    def _rounding_cost(self, value: float | None) -> dict | None:
        """Whole-step shares against shares in 0.1% steps, on the answer's structure."""
        if value is None or self.space.step is None or self.space.step <= 0.001:
            return None
        found = search(self.space, "x", None, self._cache, self._last)
        if found.plan is None:
            return None
        st = found.plan.structure
        if len(st.gain_edges) > 1 or len(st.loss_edges) > 0:
            return None  # 0.1% steps over more tiers take too long to enumerate
        fine = search(self.space.variant(self.case, step_override=0.001, only=[st]), "x", None, {})
        if fine.value is None:
            return None
        return {
            "step": "rounding",
            "commissioners_expected": _r(fine.value),
            "adds": _r(value - fine.value),
        }

    def _solve_mip(self, time_limit: float | None, duals: bool,
                   start: Agreement | None = None) -> DesignResult:  # fmt: skip
        t0 = time.perf_counter()
        name = self._objective
        if trivial_shortfalls(self.model):
            return self._unreachable(name, t0)
        if duals:  # the shadow prices need the persistent interface
            self._drop_loaded_once()
        opt = self._solver()
        req = self.case.requirements
        start_s = self._start_without_limits(opt) if start is None else self._start_from(
            opt, start)  # fmt: skip
        res = self._direct.run(
            SOLVER_OPTIONS
            | {
                "solve_relaxation": False,
                "time_limit": self._seconds(time_limit),
                "mip_rel_gap": float(req.mip_gap),
            }
        )
        t1 = time.perf_counter()
        timings = self._timing(t0, t1, res.highs_s)
        timings["start_s"] = round(start_s, 4)
        if res.status == "infeasible":
            return self._never_worse(self._failed(
                "infeasible",
                name,
                timings,
                "No agreement meets every requirement: " + (
                    "run `gainshare explain` to see whether the group limits are what "
                    "conflicts (it explains the case without them)."
                    if self.case.requirements.group_limits else
                    "run `gainshare explain` to see which requirements conflict."),
            ))  # fmt: skip
        if res.status == "time_limit" and res.has_solution:
            status = "time_limit"
        elif res.status == "optimal" and res.has_solution:
            status = "optimal"
        elif res.status == "time_limit":
            return self._never_worse(self._failed(
                "time_limit",
                name,
                timings,
                "The time limit passed before any agreement was found: allow "
                "more time or relax the requirements.",
            ))  # fmt: skip
        else:
            return self._failed("error", name, timings, f"The solver stopped: {res.detail}.")
        return self._never_worse(
            replace(self._verified(status, name, res, t0, timings, duals), route="mip")
        )

    def _cap_floor(self, p: int, yt: int) -> float:
        """The least cap provider p can have under terms yt and stay whole: in every gain
        scenario its transfer min(share, cap) must reach what it needs, so the cap must too.
        In the cap's own units (scaled pounds, or a fraction of expected payment)."""
        m, d = self.model, self.data
        pid = d.party_ids[p]
        kw = self.case.keep_whole_for(pid)
        rule = d.cap_rule(pid)
        floor = -float(pyo.value(m.tolerance[p]))
        if self.case.requirements.worst_margin_min is not None or hasattr(m, "margin_floor_min"):
            floor = max(floor, float(pyo.value(m.margin_min)))
        need = 0.0
        for y in range(kw.from_year - 1, d.dims[2]):
            if d.term_year(y) != yt:
                continue
            gain = d.gain_portion[0, :, y, :].sum(axis=1) > 0
            short = floor - d.base_net[0, :, y, p]
            if rule.basis == "share_of_expected":
                basis = d.exp_pay[:, y, p]
                short = np.where(basis > 0, short / np.where(basis > 0, basis, 1.0), np.inf)
            need = max(need, float(np.max(np.where(gain, short, 0.0), initial=0.0)))
        return need

    def _start_without_limits(self, opt) -> float:
        """A first agreement for the search when caps and collars are the only integer part:
        the best agreement with every cap and collar at its largest value (where it never
        binds) is feasible for the capped model too; its caps are then lowered to what each
        provider needs, and the result is handed to HiGHS as a starting solution, so the
        search always has an answer to improve on. Returns the seconds spent."""
        m = self.model
        if isinstance(opt, LoadedOnce) or (not m._capped and not m._collared):
            return 0.0  # a model loaded once cannot have its variables fixed and freed
        limits = [(m.cap, m.cap_binds), (m.collar, m.collar_binds)]
        binds = [v for _, b in limits for v in b.values() if not v.fixed]
        if not binds:
            return 0.0
        ids = {id(v) for v in binds}
        others = [v for v in m.component_data_objects(pyo.Var, active=True)
                  if v.is_integer() and not v.fixed and id(v) not in ids]  # fmt: skip
        if others:  # rounding steps, structures or chance keep-whole: no cheap start
            return 0.0
        t = time.perf_counter()
        free = [v for var, _ in limits for v in var.values() if not v.fixed]
        for v in free:
            v.fix(v.ub)
        for v in binds:
            v.fix(0)
        opt.update_variables(free + binds)
        try:
            res = pyomo_solve(opt, m, load_solutions=False,
                              raise_exception_on_nonoptimal_result=False,
                              solver_options={"solve_relaxation": False})  # fmt: skip
            found = res.incumbent_objective is not None
            values = list(opt._solver_model.getSolution().col_value) if found else None
        finally:
            for v in free + binds:
                v.unfix()
            opt.update_variables(free + binds)
        if values is not None:
            self._tighten_caps(opt, values)
            start = highspy.HighsSolution()
            start.col_value = values
            start.value_valid = True
            opt._solver_model.setSolution(start)
        return time.perf_counter() - t

    def _start_from(self, opt, agreement: Agreement) -> float:
        """Hand HiGHS the agreement's shares, caps and collars as a partial starting solution
        (HiGHS completes the rest with these fixed). A cap or collar the agreement does not
        have is at its largest value, where it never binds. Returns the seconds spent."""
        t = time.perf_counter()
        m, d = self.model, self.data
        col = opt._pyomo_var_to_solver_var_map
        terms = d.terms_by_term_year(agreement)
        values: dict[int, float] = {}
        step = d.step()
        for kind in ("gain", "loss"):
            share = getattr(m, f"{kind}_share")
            steps = getattr(m, f"{kind}_share_steps", None)
            for k, p, yt in share:
                tiers = getattr(terms[yt], f"{kind}_tiers")
                if k >= len(tiers):
                    return time.perf_counter() - t  # another structure: no start
                v = float(tiers[k].shares.get(d.party_ids[p], 0.0))
                values[col[id(share[k, p, yt])]] = v
                if steps is not None:
                    values[col[id(steps[k, p, yt])]] = round(v / step)
        for name in ("cap", "collar"):
            var = getattr(m, name)
            for p, yt in var:
                if var[p, yt].fixed:
                    continue
                lim = getattr(terms[yt], f"{name}s").get(d.party_ids[p])
                if lim is None:
                    v = var[p, yt].ub
                elif lim.amount is not None:
                    v = lim.amount / d.scale
                else:
                    v = lim.share_of_expected
                values[col[id(var[p, yt])]] = min(max(v, var[p, yt].lb or 0.0), var[p, yt].ub)
        if hasattr(m, "select"):
            for i in m.select:
                values[col[id(m.select[i])]] = 1.0 if i == 0 else 0.0
        idx = np.array(sorted(values), dtype=np.int32)
        opt._solver_model.setSolution(len(idx), idx, np.array([values[i] for i in idx]))
        return time.perf_counter() - t

    def _tighten_caps(self, opt, values: list[float]) -> None:
        """Lower each robust provider's cap in the start to the least that keeps it whole
        (`_cap_floor`), with the transfers and binaries that follow; the worst-margin variable
        is lowered to the new worst net."""
        m, d = self.model, self.data
        if len(d.structures) != 1 or not len(m.cap):
            return
        col = opt._pyomo_var_to_solver_var_map
        _, S, Y, _ = d.dims
        for p in sorted(m._capped):
            pid = d.party_ids[p]
            if p in d.commissioners or self.case.keep_whole_for(pid).mode != "robust":
                continue
            rule = d.cap_rule(pid)
            for yt in range(d.term_years):
                cap_var = m.cap[p, yt]
                c = min(max(self._cap_floor(p, yt), cap_var.lb or 0.0), cap_var.ub)
                values[col[id(cap_var)]] = c
                for y in (y for y in range(Y) if d.term_year(y) == yt):
                    a = raw_gain(m, d, p, y)
                    gain = a.A @ np.array([values[col[id(v)]] for v in a.vars])
                    basis = np.ones(S) if rule.basis == "amount" else d.exp_pay[:, y, p]
                    for s in range(S):
                        values[col[id(m.cap_binds[s, y, p])]] = float(gain[s] > c * basis[s])
                        values[col[id(m.gain_transfer[s, y, p])]] = min(gain[s], c * basis[s])
        self._lower_margin(opt, values)

    def _lower_margin(self, opt, values: list[float]) -> None:
        """Set the worst-margin variable of the start to the worst provider net it implies."""
        m, d = self.model, self.data
        col = opt._pyomo_var_to_solver_var_map
        if id(m.margin) not in col:
            return
        x = lambda v: values[col[id(v)]] if id(v) in col else (v.value or 0.0)  # noqa: E731
        worst = min(float(evaluate(net(m, d, p, y), x).min())
                    for p in d.providers for y in range(d.dims[2]))  # fmt: skip
        values[col[id(m.margin)]] = min(values[col[id(m.margin)]], worst)

    def _timing(self, t0: float, t1: float, highs_s: float) -> dict:
        """Timings of this solve; a re-solve builds nothing, so its build times are zero."""
        out = {k: (round(v, 4) if self._first else 0.0) for k, v in self._timings.items()}
        out.update(solve_s=round(t1 - t0, 4), highs_s=round(highs_s, 4))
        self._first = False
        return out

    def _failed(self, status: str, name: str, timings: dict, message: str) -> DesignResult:
        timings["total_s"] = round(
            sum(v for k, v in timings.items() if k.endswith("_s") and k != "highs_s"), 4
        )
        return DesignResult(status, name, None, None, None, None, None, None, [], timings, message,
                            route=self.route)  # fmt: skip

    def _unreachable(self, name: str, t0: float) -> DesignResult:
        d = self.data
        rows = []
        short = trivial_shortfalls(self.model)
        for fam, label, slack in short[:20]:
            s, y = label[0], label[1]
            who = d.party_ids[label[2]] if len(label) > 2 else "commissioners"
            rows.append(
                {
                    "requirement": fam,
                    "party": who,
                    "scenario": d.scenarios.names[s],
                    "year": y + 1,
                    "shortfall": round(-slack * d.scale, 2),
                }
            )
        msg = (
            f"{len(short)} scenario-years leave a party short with nothing to share "
            "(inside the corridor, or no pool): no sharing terms can keep it whole there. Widen "
            "the tolerance, use chance or CVaR keep-whole, or narrow the corridor."
        )
        timings = self._timing(t0, time.perf_counter(), 0.0)
        res = self._failed("infeasible", name, timings, msg)
        return DesignResult(**{**res.__dict__, "trivial": rows})

    def _verified(self, status, name, res, t0, timings, duals=True) -> DesignResult:
        d, m = self.data, self.model
        agreement, sel = agreement_from_solution(m, d)
        econ = d.econs[sel]
        t = time.perf_counter()
        result = check(self.case, agreement, econ)
        worst = self._mismatch(result)
        timings["verify_s"] = round(time.perf_counter() - t, 4)
        if worst > VERIFY_TOLERANCE:
            return self._failed(
                "error",
                name,
                timings,
                f"The optimiser's answer re-settles differently (by "
                f"£{worst:,.2f}); it is not shown. Please report this case.",
            )
        fails = failures(self.case, agreement, result)
        if fails:
            return self._failed(
                "error",
                name,
                timings,
                "The optimiser's answer fails a requirement when re-settled ("
                + fails[0]["text"]
                + "); it is not shown. Please report this case.",
            )
        obj, bound, gap = self._objective_values(res, name, result)
        t = time.perf_counter()
        binding = binding_requirements(self, name, res) if duals else []
        timings["duals_s"] = round(time.perf_counter() - t, 4)
        timings["total_s"] = round(
            time.perf_counter() - t0 + timings["data_s"] + timings["build_s"], 4
        )
        lev = d.structures[sel]
        levers = None
        if self.case.levers is not None:
            levers = {
                "teams": lev.levers.teams,
                "closures": lev.levers.closures,
                "release_year": lev.levers.release_year,
                "label": lev.label,
            }
        return DesignResult(status, name, obj, bound, gap, agreement, result, levers, binding,
                            timings, _stop_message(status, gap), route="mip")  # fmt: skip

    def _mismatch(self, result: CheckResult) -> float:
        """Largest difference (pounds) between the model's and the settlement's net positions."""
        d = self.data
        st = result.settlement
        stack = self._net_stack
        if stack is not None:
            A, const, cols = stack
            x = np.array([v.value if v.value is not None else 0.0 for v in cols])
            model_net = (const + A @ x) * d.scale
            return float(np.abs(model_net - st.net).max())
        worst = 0.0
        _, _, Y, _ = d.dims
        grouped = getattr(self.model, "_grouped", {})
        for (p, y), form in self._net_forms().items():
            if p in grouped:  # a member's own transfer is not linear: its group's total is
                continue
            model_net = evaluate(form) * d.scale
            worst = max(worst, float(np.abs(model_net - st.net[:, y, p]).max()))
        for gi, g in enumerate(d.groups):
            for y in range(Y):
                model_t = evaluate(group_transfer(self.model, d, gi, y)) * d.scale
                settled = st.transfer[:, y, g.members].sum(axis=1)
                worst = max(worst, float(np.abs(model_t - settled).max()))
        return worst

    def _net_forms(self) -> dict:
        """Every party's net position in every year as a linear form, built once."""
        if not self._nets:
            d, m = self.data, self.model
            for p in range(len(d.party_ids)):
                for y in range(d.dims[2]):
                    self._nets[p, y] = net(m, d, p, y)
        return self._nets

    @cached_property
    def _net_stack(self):
        """The net forms as one array (S, Y, P, columns), a constant (S, Y, P) and the columns'
        variables, so that every net position is one product; None when some row has variables
        of its own (caps, collars) or the array would be large."""
        forms = self._net_forms()
        _, S, Y, _ = self.data.dims
        P = len(self.data.party_ids)
        cols: dict[int, tuple[int, object]] = {}
        for f in forms.values():
            for v in f.vars:
                cols.setdefault(id(v), (len(cols), v))
        if any(f.own is not None for f in forms.values()) or S * Y * P * len(cols) > 4e6:
            return None
        A, const = np.zeros((S, Y, P, len(cols))), np.zeros((S, Y, P))
        for (p, y), f in forms.items():
            const[:, y, p] = f._c(S)
            for j, v in enumerate(f.vars):  # a variable may appear in several parts
                A[:, y, p, cols[id(v)][0]] += f._A(S)[:, j]
        return A, const, [v for _, v in sorted(cols.values(), key=lambda t: t[0])]

    def _objective_values(self, res, name: str, result: CheckResult):
        d, m = self.data, self.model
        if name == "commissioners":
            value = result.expected_retained
        elif name == "system_savings":
            value = result.expected_system_savings
        elif name == "worst_margin":
            value = round(result.worst_provider_net, 2)
        else:
            value = float(pyo.value(m.fair_distance))
        bound = res.objective_bound
        scale = 1.0 if name == "fair_reference" else d.scale
        sign = -1.0 if name == "fair_reference" else 1.0
        b = None if bound is None else sign * bound * scale
        inc = res.incumbent_objective
        gap = None
        if bound is not None and inc is not None and math.isfinite(bound) and math.isfinite(inc):
            gap = round(abs(bound - inc) / max(abs(inc), 1e-9), 8)
        if b is not None and not math.isfinite(b):
            b = None  # no bound known yet
        return value, b, gap


def _raise_floor(out: FloorSearch, attempt, deadline: float) -> FloorSearch:
    """Bisection on a worst-margin floor between `out.margin` (met by `out.result`) and
    `out.bound` (out of reach), to within FLOOR_TOLERANCE pounds or one part in 10,000, unless
    `deadline` (a perf_counter time) or FLOOR_STEPS come first. `attempt(floor, seconds left)`
    is (answer, the margin it meets) when some agreement meets the floor, else (None, whether
    the floor is ruled out: not when time ran out before an answer)."""
    while out.bound - out.margin > max(FLOOR_TOLERANCE, 1e-4 * abs(out.margin)):
        left = deadline - time.perf_counter()
        if left <= 0 or out.steps >= FLOOR_STEPS:
            out.proven = False
            break
        mid = (out.margin + out.bound) / 2
        answer, got = attempt(mid, left)
        out.steps += 1
        if answer is not None:
            out.result, out.margin = answer, max(mid, got)
        elif got:
            out.bound = mid
        else:  # out of time before an answer: the floor is neither met nor ruled out
            out.proven = False
            break
    return out


def _ensure_margin(designer: Designer) -> None:
    if not hasattr(designer.model, "margin"):
        raise ValueError("this model has no margin variable; rebuild with objective worst_margin")


def design(
    case: Case,
    objective: str | None = None,
    time_limit: float | None = None,
    starts: tuple[Agreement, ...] = (),
    structure_values: bool = False,
) -> DesignResult:
    """Design an agreement for `case` (SPEC section 4.2): build, solve, verify. `starts`:
    agreements the room brings (the answer is never worse than one of them that meets every
    requirement); `structure_values`: also say what each part of the drafting space adds."""
    if objective is not None and objective != case.requirements.objective:
        from pydantic import ValidationError

        from gainshare.schema.io import InputError
        from gainshare.schema.requirements import Requirements

        data = case.requirements.model_dump() | {"objective": objective}
        try:
            req = Requirements.model_validate(data)
        except ValidationError as e:
            raise InputError([
                "--objective: " + str(err.get("ctx", {}).get("error", err["msg"])).removeprefix(
                    "objective: ") + " (in the case's requirements)" for err in e.errors()
            ]) from None  # fmt: skip
        case = case.model_copy(update={"requirements": req})
    d = Designer(case, starts=starts)
    result = d.solve(time_limit=time_limit)
    if structure_values and result.agreement is not None:
        result = replace(result, structure_values=d.structure_values())
    return result
