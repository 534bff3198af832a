"""Incentive to grow the scheme (SPEC section 4.11): how each party's position under an agreement
moves when the scheme does better for the whole system.

A **growth step** is one change the providers who run the scheme could bring about, applied to
the case where the case has it:

- `team`: one more team of a scheme;
- `referrals`: 10% more referrals per team of a scheme;
- `targeting`: 5 points more of a scheme's referrals who would otherwise have been acute
  inpatients (less where targeting could otherwise pass 100%);
- `ward_earlier`: a stepped cost (a ward) the case plans to close, closing a year earlier.

Each step is evaluated on the **same scenarios** as the base (common random numbers): the same
draws, with the grown parameter shifted in every scenario, so a difference between the grown
and the base settlement is an exact finite difference, not sampling noise. For each step and
party: the change in expected net (horizon total), in worst single-year net, and the gradient
change in net / change in expected system savings. Since the parties' net positions add up to
the system savings, the gradients of all parties add up to one.

An agreement is **incentive-aligned** when no provider's expected net falls on a step that
raises the system's expected savings; each step where one does is flagged in words.

The grown cases, scenarios and economics are public (`growth_steps`) so that the design
optimiser can settle many agreements on the same steps."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cached_property

import numpy as np
import pandas as pd

from gainshare.economics.model import Economics, compute
from gainshare.economics.scenarios import ScenarioSet, sample
from gainshare.schema.agreement import Agreement
from gainshare.schema.case import Case
from gainshare.schema.common import Param, param_bounds
from gainshare.settle.check import PENNY, CheckResult, check, expect, shortfall_by_scenario
from gainshare.settle.engine import Settlement, settle
from gainshare.units import per_100

REFERRALS_FACTOR = 1.10  # +10% referrals per team
TARGETING_POINTS = 0.05  # +5 points of targeting
MIN_TARGETING_POINTS = 0.005  # below half a point of headroom the step is left out
MAX_TEAMS = 100  # the case schema's limit on teams per scheme
STEP_KINDS = ("team", "referrals", "targeting", "ward_earlier")


# ---------------------------------------------------------------- growth steps


@dataclass(frozen=True)
class GrowthStep:
    """One way the scheme does better, applied to the case; economics computed on first use.

    `case` is the grown case as a case file would state it; `scenarios` are the base
    scenarios with the grown parameter shifted in every scenario (for `team` and
    `ward_earlier` they are the base scenarios themselves). `case` drawn afresh gives the same
    scenarios to rounding; `economics` is computed on `scenarios`."""

    key: str  # stable id, e.g. "teams.rapid_response", "ward_earlier.acute_nel"
    kind: str  # one of STEP_KINDS
    subject: str  # the scheme id (team, referrals, targeting) or contract id (ward_earlier)
    label: str  # in words: "one more rapid response team"
    change: str  # what moved: "teams 2 -> 3"
    case: Case
    scenarios: ScenarioSet

    @cached_property
    def economics(self) -> Economics:
        return compute(self.case, scenarios=self.scenarios)


def _lower_first(name: str) -> str:
    """'Rapid response' -> 'rapid response'; an acronym ('UCR team') keeps its capitals."""
    if len(name) > 1 and name[1].isupper():
        return name
    return name[:1].lower() + name[1:]


def _one_more_team(noun: str) -> str:
    """'one more rapid response team'; 'one more team for care management by GPs' when the
    name is a phrase that a trailing 'team' would not read after."""
    words = noun.split()
    joined = set(words) & {"by", "for", "across", "of", "and", "to", "in", "with", "a"}
    if joined or any(ch in noun for ch in ",()") or words[-1:] in (["team"], ["teams"]):
        return f"one more team for {noun}"
    return f"one more {noun} team"


def _affine(p: Param, a: float, b: float) -> Param:
    """The parameter with every value x turned into a * x + b (a > 0): a number, each year's
    entry, or a distribution's location and (scaled by a) spread."""
    if isinstance(p, list):
        return [_affine(it, a, b) for it in p]
    if isinstance(p, int | float):
        return a * float(p) + b
    located = [k for k in ("value", "low", "mode", "high", "mean") if hasattr(p, k)]
    update = {k: None if getattr(p, k) is None else a * getattr(p, k) + b for k in located}
    if hasattr(p, "sd"):
        update["sd"] = a * p.sd
    if hasattr(p, "values"):
        update["values"] = [a * v + b for v in p.values]
    return p.model_copy(update=update)


def _shift_named(case: Case, path: str, a: float, b: float) -> Case:
    """The case with the named scenarios' stated values of `path` turned into a * x + b."""
    named = []
    for ns in case.uncertainty.named:
        v = ns.values.get(path)
        if v is not None:
            v = [a * x + b for x in v] if isinstance(v, list) else a * v + b
            ns = ns.model_copy(update={"values": {**ns.values, path: v}})
        named.append(ns)
    unc = case.uncertainty.model_copy(update={"named": named})
    return case.model_copy(update={"uncertainty": unc})


def _with_scheme(case: Case, sid: str, **update) -> Case:
    schemes = [s.model_copy(update=update) if s.id == sid else s for s in case.schemes]
    return case.model_copy(update={"schemes": schemes})


def _shifted(sc: ScenarioSet, path: str, a: float, b: float) -> ScenarioSet:
    """The same draws with one parameter turned into a * x + b in every scenario and year."""
    values = {**sc.values, path: a * sc[path] + b}
    return ScenarioSet(names=sc.names, weights=sc.weights, values=values)


def _grown_param(case, sc, sid, name, a, b) -> tuple[Case, ScenarioSet]:
    """Case and scenarios with scheme `sid`'s parameter `name` turned into a * x + b."""
    s = next(s for s in case.schemes if s.id == sid)
    path = f"schemes.{sid}.{name}"
    grown = _with_scheme(case, sid, **{name: _affine(getattr(s, name), a, b)})
    return _shift_named(grown, path, a, b), _shifted(sc, path, a, b)


def _targeting_points(case: Case, sid: str) -> float:
    """Points of targeting the step adds: 5, or what is left below 100% in any scenario."""
    s = next(s for s in case.schemes if s.id == sid)
    path = f"schemes.{sid}.targeting"
    named = [ns.values[path] for ns in case.uncertainty.named if path in ns.values]
    stated = [x for v in named for x in (v if isinstance(v, list) else [v])]
    highest = max([param_bounds(s.targeting)[1], *stated])
    return min(TARGETING_POINTS, 1.0 - highest)


def _scheme_steps(case: Case, sc: ScenarioSet) -> list[GrowthStep]:
    out = []
    for s in case.schemes:
        noun = _lower_first(s.name or s.id)
        if s.teams < MAX_TEAMS:
            out.append(GrowthStep(f"teams.{s.id}", "team", s.id, _one_more_team(noun),
                                  f"teams {s.teams} -> {s.teams + 1}",
                                  _with_scheme(case, s.id, teams=s.teams + 1), sc))  # fmt: skip
        grown, gsc = _grown_param(case, sc, s.id, "referrals_per_team", REFERRALS_FACTOR, 0.0)
        out.append(GrowthStep(f"referrals.{s.id}", "referrals", s.id,
                              f"10% more referrals to {noun}", "referrals per team x 1.1",
                              grown, gsc))  # fmt: skip
        pts = _targeting_points(case, s.id)
        if pts >= MIN_TARGETING_POINTS:
            grown, gsc = _grown_param(case, sc, s.id, "targeting", 1.0, pts)
            words = f"{100 * pts:.3g} points"
            out.append(GrowthStep(f"targeting.{s.id}", "targeting", s.id,
                                  f"{words} better targeting by {noun}",
                                  f"targeting + {words}", grown, gsc))  # fmt: skip
    return out


def _closes_later(c) -> bool:
    """Whether a contract has a stepped cost the case plans to close from year 2 or later."""
    st = c.costs.stepped
    return st is not None and st.closures >= 1 and st.first_release_year >= 2


def _ward_steps(case: Case, sc: ScenarioSet) -> list[GrowthStep]:
    labels = case.horizon.labels()
    closing = [c for c in case.contracts if _closes_later(c)]
    out = []
    for c in closing:
        st = c.costs.stepped
        year = st.first_release_year - 1
        costs = c.costs.model_copy(update={"stepped": st.model_copy(
            update={"first_release_year": year})})  # fmt: skip
        contracts = [
            k.model_copy(update={"costs": costs}) if k.id == c.id else k for k in case.contracts
        ]
        grown = case.model_copy(update={"contracts": contracts})
        where = case.party(c.provider).name
        if sum(k.provider == c.provider for k in closing) > 1:
            where += f" ({c.name or c.id})"
        out.append(GrowthStep(f"ward_earlier.{c.id}", "ward_earlier", c.id,
                              f"a ward at {where} closing a year earlier, from {labels[year - 1]}",
                              f"first year a step closes {labels[year]} -> {labels[year - 1]}",
                              grown, sc))  # fmt: skip
    return out


def growth_steps(case: Case, scenarios: ScenarioSet | None = None) -> list[GrowthStep]:
    """Every growth step the case has, on `scenarios` (default: the case's own draws): per
    scheme one more team, 10% more referrals and 5 points better targeting; per stepped cost
    the case plans to close from year 2 or later, closing a year earlier."""
    sc = scenarios if scenarios is not None else sample(case)
    return _scheme_steps(case, sc) + _ward_steps(case, sc)


# ---------------------------------------------------------------- gradients


@dataclass(frozen=True)
class PartyMove:
    """How one party's position moves on one step (pounds, unrounded)."""

    party: str
    name: str
    is_provider: bool
    expected_net: float  # expected horizon total after the step
    delta_expected_net: float
    worst_net: float  # worst single-year net in any scenario after the step
    delta_worst_net: float
    prob_whole: float  # after the step, as in `check`
    gradient: float | None  # delta_expected_net / delta system savings (None: no change)

    def document(self) -> dict:
        return {
            "expected_net": round(self.expected_net, 2),
            "delta_expected_net": round(self.delta_expected_net, 2),
            "worst_net": round(self.worst_net, 2),
            "delta_worst_net": round(self.delta_worst_net, 2),
            "prob_whole": round(self.prob_whole, 6),
            "gradient": None if self.gradient is None else round(self.gradient, 6),
        }


@dataclass(frozen=True)
class StepResult:
    """One growth step settled under the agreement."""

    step: GrowthStep
    settlement: Settlement
    delta_system_savings: float  # expected horizon total, pounds
    by_party: dict[str, PartyMove]

    @property
    def system_gains(self) -> bool:
        """Whether the step raises the system's expected savings (by more than a penny)."""
        return self.delta_system_savings > PENNY

    def losers(self) -> list[PartyMove]:
        """Providers whose expected net falls by more than a penny while the system gains."""
        if not self.system_gains:
            return []
        return [m for m in self.by_party.values()
                if m.is_provider and m.delta_expected_net < -PENNY]  # fmt: skip


@dataclass(frozen=True)
class Flag:
    party: str
    step: str
    loss_per_100: float  # pounds the provider loses per 100 pounds the system gains
    text: str


@dataclass(frozen=True)
class IncentiveReport:
    """Every growth step of a case settled under one agreement, on the same scenarios."""

    case: Case
    agreement: Agreement
    base: Settlement
    steps: list[StepResult] = field(default_factory=list)

    @cached_property
    def flags(self) -> list[Flag]:
        cur = self.case.currency
        hundred = per_100(100, cur)
        out = []
        for r in self.steps:
            for m in r.losers():
                per = -100 * m.gradient
                text = (f"{m.name} loses {per_100(per, cur)} for every extra {hundred} the "
                        f"scheme saves the system ({r.step.label})")  # fmt: skip
                out.append(Flag(m.party, r.step.key, round(per, 2), text))
        return out

    @property
    def aligned(self) -> bool:
        """No provider loses on any step that raises the system's expected savings."""
        return not self.flags

    @property
    def sentences(self) -> list[str]:
        return [f.text + "." for f in self.flags]

    @cached_property
    def document(self) -> dict:
        """The `incentives` part of the `check --json` document (docs/check-output.md)."""
        steps = [
            {
                "step": r.step.key,
                "kind": r.step.kind,
                "subject": r.step.subject,
                "label": r.step.label,
                "change": r.step.change,
                "delta_system_savings": round(r.delta_system_savings, 2),
                "system_gains": r.system_gains,
                "by_party": {pid: m.document() for pid, m in r.by_party.items()},
            }
            for r in self.steps
        ]
        flags = [{"party": f.party, "step": f.step, "loss_per_100": f.loss_per_100,
                  "text": f.text} for f in self.flags]  # fmt: skip
        return {"aligned": self.aligned, "steps": steps, "flags": flags}

    def table(self) -> pd.DataFrame:
        """One row per step and party: the moves in pounds and the gradient."""
        rows = [
            {"step": r.step.key, "label": r.step.label, "party": m.party,
             "delta_system_savings": r.delta_system_savings, "delta_expected_net":
             m.delta_expected_net, "delta_worst_net": m.delta_worst_net, "gradient": m.gradient}
            for r in self.steps for m in r.by_party.values()
        ]  # fmt: skip
        return pd.DataFrame(rows)


def _figures(st: Settlement, case: Case) -> tuple[float, np.ndarray, np.ndarray, np.ndarray]:
    """Expected system savings, and per party expected net, worst year and P(kept whole),
    each as `check` computes it."""
    w = st.econ.weights
    savings = float(expect(w, st.system_savings.sum(axis=1)))
    net = np.einsum("s,syp->p", w, st.net)
    worst = st.net.min(axis=(0, 1))
    whole = np.array([
        w[shortfall_by_scenario(st.net[:, :, j], case.keep_whole_for(pid)) <= PENNY].sum()
        for j, pid in enumerate(st.econ.party_ids)
    ])  # fmt: skip
    return savings, net, worst, whole


def _step_result(case, agreement, step: GrowthStep, base_figures) -> StepResult:
    st = settle(step.economics, agreement)
    s0, net0, worst0, _ = base_figures
    s1, net1, worst1, whole1 = _figures(st, case)
    d_sav = s1 - s0
    moves = {}
    for j, p in enumerate(case.parties):
        d_net = float(net1[j] - net0[j])
        grad = d_net / d_sav if abs(d_sav) > PENNY else None
        moves[p.id] = PartyMove(p.id, p.name, p.is_provider, float(net1[j]), d_net,
                                float(worst1[j]), float(worst1[j] - worst0[j]),
                                float(whole1[j]), grad)  # fmt: skip
    return StepResult(step, st, d_sav, moves)


def incentive_gradients(
    case: Case,
    agreement: Agreement,
    scenarios: ScenarioSet | None = None,
    *,
    base: Settlement | None = None,
    steps: Sequence[GrowthStep] | None = None,
) -> IncentiveReport:
    """Settle `agreement` on the case and on every growth step, all on the same scenarios
    (default: the case's own draws), and report how each party's position moves.

    `base` (the agreement settled on the case's economics) and `steps` (from `growth_steps`)
    may be given to reuse work; both must be on the same scenarios as `scenarios`."""
    if steps is None or base is None:
        sc = scenarios if scenarios is not None else sample(case)
        steps = growth_steps(case, sc) if steps is None else steps
        base = base if base is not None else settle(compute(case, scenarios=sc), agreement)
    figures = _figures(base, case)
    results = [_step_result(case, agreement, s, figures) for s in steps]
    return IncentiveReport(case, agreement, base, results)


def check_with_incentives(
    case: Case, agreement: Agreement, scenarios: ScenarioSet | None = None
) -> CheckResult:
    """`check`, with the incentive analysis attached (`result.incentives`, and the
    `incentives` key of the document)."""
    sc = scenarios if scenarios is not None else sample(case)
    base = check(case, agreement, compute(case, scenarios=sc))
    report = incentive_gradients(case, agreement, sc, base=base.settlement)
    return CheckResult(case, agreement, base.settlement, incentives=report)
