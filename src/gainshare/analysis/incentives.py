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

from gainshare.economics.growth import GrowthStep, growth_steps
from gainshare.economics.model import compute
from gainshare.economics.scenarios import ScenarioSet, sample
from gainshare.schema.agreement import Agreement
from gainshare.schema.case import Case
from gainshare.settle.check import PENNY, CheckResult, check, expect, shortfall_by_scenario
from gainshare.settle.engine import Settlement, settle
from gainshare.units import per_100

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
