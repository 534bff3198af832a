"""The economics of an actual year: outturn figures per contract, scheme and party turned into an
`Economics` whose one scenario ("actual") is what happened, so that the same settlement engine
settles it (SPEC section 4.12).

The baseline an actual year is measured against is the case's own expected figures at their
central values (its trend, adjustments and rebasing applied): each contract's expected units
and expected payment. Against it:
- actual payment = the payment given, else the contract's rule applied to the actual units;
- provider cost change = the cost change given (or actual less expected cost), else the case's
  variable cost per unit x (actual - expected units); plus the running cost of each scheme it
  runs and bears;
- direct cost = running cost of each scheme a commissioner pays directly;
- benefit and quality scores as given (no score: a gateway never reduces).
Years without actuals keep actual = expected and nothing else, so they settle to nothing."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from gainshare.economics.baseline import contract_factors
from gainshare.economics.model import (
    ContractDetail,
    Economics,
    LeverChoice,
    compute,
    contract_payment,
    funding_flows,
)
from gainshare.economics.scenarios import ScenarioSet, sample
from gainshare.schema.actuals import Actuals
from gainshare.schema.case import Case, NamedScenario, Uncertainty

ACTUAL = "actual"


@dataclass(frozen=True)
class Baseline:
    """The case at its central values: expected units and payments per contract and year (the
    baseline of a settlement) and the central variable cost per unit."""

    econ: Economics  # one scenario, with detail
    scenarios: ScenarioSet

    @classmethod
    def of(cls, case: Case) -> Baseline:
        unc = Uncertainty(scenarios=0, named=[NamedScenario(name="baseline", weight=1.0)])
        central = case.model_copy(update={"uncertainty": unc})
        sc = sample(central)
        return cls(compute(central, sc, detail=True), sc)

    def variable_cost(self, contract_id: str) -> np.ndarray:
        """(Y,) central variable cost per unit of a contract."""
        return np.asarray(self.scenarios[f"contracts.{contract_id}.variable_cost"][0], float)


@dataclass(frozen=True)
class Lines:
    """Outturn figures, (S, Y, .) per contract (K), scheme (M) or party (P); NaN where a figure
    is left to the case's rule (payment, cost change) or not given (quality)."""

    units: np.ndarray  # (S, Y, K)
    scheme_units: np.ndarray  # (S, Y, K)
    payment: np.ndarray  # (S, Y, K)
    cost_change: np.ndarray  # (S, Y, K)
    running_cost: np.ndarray  # (S, Y, M)
    benefit: np.ndarray  # (S, Y, P)
    quality: np.ndarray  # (S, Y, P)
    settled: np.ndarray  # (Y,) bool: years with outturn figures


def lines_from_actuals(case: Case, actuals: Actuals, base: Baseline) -> Lines:
    """One scenario of outturn: the file's figures; unsettled years at the baseline."""
    Y, K, M, P = case.horizon.years, len(case.contracts), len(case.schemes), len(case.parties)
    units = np.array(base.econ.units_exp[0])[None].copy()  # (1, Y, K)
    nan = lambda n: np.full((1, Y, n), np.nan)  # noqa: E731
    out = Lines(
        units,
        np.zeros((1, Y, K)),
        nan(K),
        nan(K),
        np.zeros((1, Y, M)),
        np.zeros((1, Y, P)),
        nan(P),
        np.zeros(Y, dtype=bool),
    )
    for y in actuals.years:
        out.settled[y - 1] = True
        for k, c in enumerate(case.contracts):
            v = actuals.row(y, "contract", c.id).values
            out.units[0, y - 1, k] = v["units"]
            out.scheme_units[0, y - 1, k] = v.get("scheme_units", 0.0)
            out.payment[0, y - 1, k] = v.get("payment", np.nan)
            out.cost_change[0, y - 1, k] = _cost_change(v)
        for m, s in enumerate(case.schemes):
            out.running_cost[0, y - 1, m] = actuals.row(y, "scheme", s.id).values["running_cost"]
        for j, pid in enumerate(case.party_ids):
            v = actuals.value(y, "party", pid, "benefit")
            out.benefit[0, y - 1, j] = 0.0 if v is None else v
            q = actuals.value(y, "party", pid, "quality")
            out.quality[0, y - 1, j] = np.nan if q is None else q
    return out


def _cost_change(v: dict[str, float]) -> float:
    """A contract row's cost change: given, or its cost less its expected cost; NaN if neither
    (the case's variable cost applies)."""
    if "cost_change" in v:
        return v["cost_change"]
    if "cost" in v and "expected_cost" in v:
        return v["cost"] - v["expected_cost"]
    return np.nan


def _contract_lines(case: Case, lines: Lines, base: Baseline):
    """Per contract (S, Y, K): expected units, expected payment, actual payment, cost change."""
    S, Y, K = lines.units.shape
    settled = lines.settled[None, :]
    ue = np.broadcast_to(base.econ.units_exp[0], (S, Y, K))
    pe = np.broadcast_to(base.econ.detail.exp_pay[0], (S, Y, K))
    factors = contract_factors(case)
    pa, dc = np.empty((S, Y, K)), np.empty((S, Y, K))
    for k, c in enumerate(case.contracts):
        u, plan = lines.units[:, :, k], ue[:, :, k]
        rule = contract_payment(c, u, plan, factors[k])
        pay = np.where(np.isnan(lines.payment[:, :, k]), rule, lines.payment[:, :, k])
        pa[:, :, k] = np.where(settled, pay, pe[:, :, k])
        vc = base.variable_cost(c.id)[None, :] * (u - plan)
        cost = np.where(np.isnan(lines.cost_change[:, :, k]), vc, lines.cost_change[:, :, k])
        dc[:, :, k] = np.where(settled, cost, 0.0)
    return ue, pe, pa, dc


def economics_from_lines(
    case: Case, lines: Lines, base: Baseline, names=(ACTUAL,), weights=None
) -> Economics:
    """The Economics of outturn `lines` (one scenario per row of their first axis)."""
    S, Y, K = lines.units.shape
    P = len(case.parties)
    pidx = {pid: i for i, pid in enumerate(case.party_ids)}
    ue, pe, pa, dc = _contract_lines(case, lines, base)
    settled = lines.settled[None, :]
    z = lambda: np.zeros((P, S, Y))  # noqa: E731  (party-major, as compute builds it)
    E, A, ES, AS, dC, D = z(), z(), z(), z(), z(), z()
    running = np.where(settled[:, :, None], lines.running_cost, 0.0)
    for m, s in enumerate(case.schemes):  # scheme costs first, in compute's order
        if s.paid_directly_by is not None:
            D[pidx[s.paid_directly_by]] += running[:, :, m]
        else:
            dC[pidx[s.provider]] += running[:, :, m]
    for k, c in enumerate(case.contracts):
        i_p, i_c = pidx[c.provider], pidx[c.commissioner]
        E[i_p] += pe[:, :, k]
        A[i_p] += pa[:, :, k]
        if c.between_providers:  # the paying provider's own money, as compute counts it
            E[i_c] -= pe[:, :, k]
            A[i_c] -= pa[:, :, k]
        else:
            ES[i_c] += pe[:, :, k]
            AS[i_c] += pa[:, :, k]
        dC[i_p] += dc[:, :, k]
    outside = funding_flows(case, LeverChoice(), pidx, A, AS, (P, S, Y))
    by = lambda a: np.ascontiguousarray(np.moveaxis(a, 0, -1))  # noqa: E731
    units = np.where(settled[:, :, None], lines.units, ue)
    moved = np.where(settled[:, :, None], lines.scheme_units, 0.0)
    return Economics(
        party_ids=case.party_ids,
        is_provider=np.array([p.is_provider for p in case.parties]),
        is_commissioner=np.array([p.is_commissioner for p in case.parties]),
        year_labels=case.horizon.labels(),
        scenario_names=list(names),
        weights=np.ones(S) / S if weights is None else np.asarray(weights, dtype=float),
        exp_pay=by(E),
        act_pay=by(A),
        exp_spend=by(ES),
        act_spend=by(AS),
        cost_change=by(dC),
        direct_cost=by(D),
        benefit=np.where(settled[:, :, None], lines.benefit, 0.0),
        quality=np.where(settled[:, :, None], lines.quality, np.nan),
        contract_ids=[c.id for c in case.contracts],
        units_exp=np.ascontiguousarray(ue),
        units_act=units,
        is_risk_partner=np.array([p.is_risk_partner for p in case.parties]),
        outside_pool=None if outside is None else by(outside),
        detail=ContractDetail(
            np.ascontiguousarray(pe), pa, dc, moved, [s.id for s in case.schemes], running
        ),
    )


def actual_economics(case: Case, actuals: Actuals, base: Baseline | None = None) -> Economics:
    """The Economics of the years an actuals file gives (one scenario, "actual")."""
    base = base or Baseline.of(case)
    return economics_from_lines(case, lines_from_actuals(case, actuals, base), base)


def quality_needed(case: Case, agreement, actuals: Actuals) -> list[str]:
    """Providers whose quality score the agreement needs in a year the file settles but which
    the file does not give: one problem line each."""
    out = []
    labels = case.horizon.labels()
    for y in actuals.years:
        t = agreement.terms_for_year(y)
        for pid in sorted(set(t.gateway) | set(t.loss_quality or {})):
            if actuals.value(y, "party", pid, "quality") is None:
                rule = "quality gateway" if pid in t.gateway else "quality-scaled loss share"
                out.append(
                    f"{actuals.file}: year {labels[y - 1]}: party '{pid}': the agreement's {rule} "
                    f"needs its quality score: add a row with kind party, id {pid} and quality"
                )
    return out
