"""What to measure first (SPEC section 4.14, seed challenge 5): how much of the design objective
the room would gain by knowing an uncertain parameter before signing. The method is written out
in models/value_of_information.md.

For a parameter theta, the expected value of partial perfect information is

    EVPPI(theta) = E_theta[ max_a E[U | theta, a] ] - max_a E[U | a],

a ranging over the agreements (terms and levers) that meet the case's requirements, and "not
signing" (worth 0: every party as without the schemes). Both terms are computed by re-solving
the design on the same scenarios:

- theta *fixed at a draw* theta_j: theta set to the draw in every scenario of the case, every
  other parameter keeping its own draws. The draws are values theta takes in the case's own
  scenarios: all of them, with their weights, when there are no more distinct values than the
  draws asked for (exact); else a stratified sample of equal weight.
- V_j = the best objective knowing theta = theta_j: the design re-solved on the scenarios with
  theta fixed at theta_j;
- V_0 = the best objective without knowing: the design solved on all those scenarios together
  (draw j's scenarios weighted by w_j), so that the agreement signed without knowing meets every
  requirement at every draw, exactly as each informed one does at its own.

EVPPI = sum_j w_j V_j - V_0, never negative. Its standard error is that of the paired gains
D_j = V_j - B_j, B_j being the agreement signed without knowing settled on draw j's scenarios
(no solver): a parameter that never changes the best agreement gains exactly 0 at every draw."""

from __future__ import annotations

import time
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from gainshare.economics.model import LeverChoice, compute
from gainshare.economics.scenarios import ScenarioSet, parameters, sample
from gainshare.optimise.designer import Designer
from gainshare.schema.agreement import Agreement
from gainshare.schema.case import Case
from gainshare.schema.io import InputError
from gainshare.schema.requirements import OBJECTIVE_WORDS
from gainshare.settle.check import CheckResult, check
from gainshare.units import money

DEFAULT_DRAWS = 20
MAX_DRAWS = 500
PENNY = 0.005
WHOM = {
    "commissioners": "to the commissioners",
    "system_savings": "to the system (expected system savings)",
    "worst_margin": "to the worst-placed provider (its worst year)",
}
METHOD = (
    "EVPPI = E_theta[max_a E[U | theta, a]] - max_a E[U | a]: the design re-solved with the "
    "parameter fixed at each draw (set to the draw in every scenario, every other parameter "
    "keeping its own draws), against the best agreement without knowing, solved on all the "
    "draws' scenarios together; the room may also decline to sign (worth 0)."
)


@dataclass(frozen=True)
class ParameterValue:
    """The value of knowing one parameter before signing."""

    path: str
    label: str
    value: float  # EVPPI in the case currency (the objective's unit)
    standard_error: float  # 0 when every value the parameter takes was solved (exact)
    draws: int
    exact: bool
    draws_with_gain: int  # draws at which knowing the value gains more than a penny
    knowing: float  # sum_j w_j V_j: the best objective knowing the parameter, on average
    without_knowing: float  # V_0: the best objective without knowing, on the same scenarios
    gains: tuple[float, ...]  # D_j, pounds
    weights: tuple[float, ...]  # w_j
    words: str


@dataclass(frozen=True)
class ValueOfInformation:
    case: str
    currency: str
    objective: str
    baseline: float  # max_a E[U | a], 0 when the room would not sign
    baseline_status: str
    baseline_levers: dict | None
    draws: int
    parameters: list[ParameterValue]  # most valuable first
    timings: dict = field(default_factory=dict)

    @property
    def document(self) -> dict:
        r = lambda v: round(float(v), 2)  # noqa: E731
        return {
            "command": "value-of-information",
            "status": "ok",
            "case": self.case,
            "currency": self.currency,
            "objective": {"name": self.objective, "description": OBJECTIVE_WORDS[self.objective]},
            "whom": WHOM[self.objective],
            "method": METHOD,
            "draws": self.draws,
            "baseline": {
                "value": r(self.baseline),
                "status": self.baseline_status,
                "levers": self.baseline_levers,
            },  # fmt: skip
            "parameters": [
                {
                    "rank": i + 1,
                    "path": p.path,
                    "label": p.label,
                    "value": r(p.value),
                    "standard_error": r(p.standard_error),
                    "draws": p.draws,
                    "exact": p.exact,
                    "draws_with_gain": p.draws_with_gain,
                    "knowing": r(p.knowing),
                    "without_knowing": r(p.without_knowing),
                    "words": p.words,
                }
                for i, p in enumerate(self.parameters)
            ],
            "timings": self.timings,
        }


@dataclass(frozen=True)
class _Signed:
    """The agreement the room signs without knowing (None: it would not sign) and its levers."""

    agreement: Agreement | None
    levers: LeverChoice
    value: float
    status: str
    levers_doc: dict | None


def objective_value(result: CheckResult, objective: str) -> float:
    """The design objective of a settled agreement, in pounds (not rounded: the value of
    information is a difference of such figures, rounded once at the end)."""
    st = result.settlement
    if objective == "commissioners":
        return float(st.econ.weights @ st.retained.sum(axis=1))
    if objective == "system_savings":
        return float(st.econ.weights @ st.system_savings.sum(axis=1))
    return float(result.worst_provider_net)


def _best(case: Case, sc: ScenarioSet, time_limit: float | None):
    """The best agreement on these scenarios: (value, design result); value 0 when none meets
    the requirements or the best is worth less than not signing."""
    res = Designer(case, sc).solve(time_limit=time_limit, duals=False)
    if res.agreement is None:
        return 0.0, res
    return max(objective_value(res.check, case.requirements.objective), 0.0), res


def _signed(case: Case, sc: ScenarioSet, time_limit: float | None) -> _Signed:
    value, res = _best(case, sc, time_limit)
    if res.agreement is None or value <= 0:
        return _Signed(None, LeverChoice(), 0.0, res.status, None)
    lev = res.levers or {}
    levers = LeverChoice(teams=dict(lev.get("teams", {})), closures=dict(lev.get("closures", {})),
                         release_year=dict(lev.get("release_year", {})))  # fmt: skip
    return _Signed(res.agreement, levers, value, res.status, res.levers)


def _draws(values: np.ndarray, weights: np.ndarray, n: int, seed: list[int]):
    """(rows (J, Y), weights (J,), exact): every distinct row of `values` (S, Y) with its total
    weight when there are at most n; else n rows stratified over the weight distribution of
    the rows ordered by their mean over the years, each of weight 1/n."""
    rows, inverse = np.unique(values, axis=0, return_inverse=True)
    if len(rows) <= n:
        w = np.bincount(inverse.reshape(-1), weights=weights, minlength=len(rows))
        keep = w > 0
        return rows[keep], w[keep] / w[keep].sum(), True
    order = np.lexsort((np.arange(len(values)), values.mean(axis=1)))
    cum = np.cumsum(weights[order])
    u = (np.arange(n) + np.random.default_rng(seed).uniform(size=n)) / n * cum[-1]
    pick = order[np.minimum(np.searchsorted(cum, u, side="left"), len(order) - 1)]
    return values[pick], np.full(n, 1.0 / n), False


def _fixed(sc: ScenarioSet, path: str, row: np.ndarray) -> ScenarioSet:
    """The scenarios with `path` set to `row` (one value per year) in every scenario."""
    values = dict(sc.values)
    values[path] = np.broadcast_to(row, sc[path].shape)
    return ScenarioSet(names=sc.names, weights=sc.weights, values=values)


def _uncertain(case: Case, sc: ScenarioSet, only: list[str] | None) -> list[tuple[str, str]]:
    """(path, label) of every parameter whose value differs between scenarios (or those asked
    for, which must be parameters of the case)."""
    labels = {p.path: p.label for p in parameters(case)}
    if only:
        bad = [p for p in only if p not in labels]
        if bad:
            raise InputError([f"--parameter: '{p}' is not a parameter of the case: `gainshare "
                              "validate --parameters` lists them" for p in bad])  # fmt: skip
        return [(p, labels[p]) for p in only]
    return [(p, lab) for p, lab in labels.items() if np.ptp(sc[p], axis=0).max() > 0]


def _words(label: str, value: float, se: float, objective: str, currency: str) -> str:
    subject, _, attr = label.rpartition(": ")
    what = f"the {attr} of {subject}" if subject else label[0].lower() + label[1:]
    if abs(value) < PENNY and se < PENNY:
        return (f"knowing {what} before signing is worth nothing {WHOM[objective]}: the best "
                "agreement is the same whatever its value")  # fmt: skip
    spread = f" (standard error {money(se, currency)})" if se >= PENNY else ""
    return f"knowing {what} before signing is worth {money(value, currency)} {WHOM[objective]}" + (
        spread
    )


def _stacked(sc: ScenarioSet, path: str, rows: np.ndarray, w: np.ndarray) -> ScenarioSet:
    """Every draw's scenarios one after another: draw j's copy of the case's scenarios has
    `path` set to rows[j] and weight w_j times the scenario's own."""
    n, S = len(rows), sc.count
    values = {k: np.tile(v, (n, 1)) for k, v in sc.values.items() if k != path}
    values[path] = np.repeat(rows, S, axis=0)
    names = [f"{name}@{j + 1}" for j in range(n) for name in sc.names]
    return ScenarioSet(names=names, weights=np.outer(w, sc.weights).ravel(), values=values)


def _one(case, sc, path, label, n, time_limit) -> ParameterValue:
    seed = [case.uncertainty.seed, zlib.crc32(f"voi:{path}".encode())]
    rows, w, exact = _draws(np.ascontiguousarray(sc[path]), sc.weights, n, seed)
    signed = _signed(case, _stacked(sc, path, rows, w), time_limit)
    obj = case.requirements.objective
    knowing, gains = [], []
    for row in rows:
        fixed = _fixed(sc, path, row)
        best, _ = _best(case, fixed, time_limit)
        uninformed = 0.0
        if signed.agreement is not None:
            settled = check(case, signed.agreement, compute(case, fixed, signed.levers))
            uninformed = objective_value(settled, obj)
        knowing.append(best)
        gains.append(best - uninformed)
    d = np.asarray(gains)
    know = float(w @ np.asarray(knowing))
    value = round(know - signed.value, 2)  # money to the penny, never below 0 (nor -0.0)
    value = value if value > 0 else 0.0
    se = 0.0 if exact or len(d) < 2 else round(float(d.std(ddof=1) / np.sqrt(len(d))), 2)
    return ParameterValue(path, label, value, se, len(d), exact, int((d > PENNY).sum()),
                          round(know, 2), round(signed.value, 2),
                          tuple(float(x) for x in d), tuple(float(x) for x in w),
                          _words(label, value, se, obj, case.currency))  # fmt: skip


def solves_needed(case: Case, draws: int, only: list[str] | None = None) -> int:
    """Design solves a run takes (for a progress bar): for each parameter one per draw and one
    without knowing, plus the design on the case's own scenarios."""
    sc = sample(case)
    n = 1
    for path, _ in _uncertain(case, sc, only):
        n += min(len(np.unique(np.ascontiguousarray(sc[path]), axis=0)), draws) + 1
    return n


def value_of_information(
    case: Case,
    draws: int = DEFAULT_DRAWS,
    only: list[str] | None = None,
    time_limit: float | None = None,
    progress: Callable[[int], None] | None = None,
) -> ValueOfInformation:
    """The value of knowing each uncertain parameter before signing, most valuable first."""
    objective = case.requirements.objective
    if objective not in WHOM:
        raise InputError([f"requirements.objective: '{objective}' is not in money; value of "
                          "information needs commissioners, system_savings or worst_margin: "
                          "use --objective or change the case"])  # fmt: skip
    if not 1 <= draws <= MAX_DRAWS:
        raise InputError([f"--draws: give a whole number from 1 to {MAX_DRAWS}"])
    t0 = time.perf_counter()
    sc = sample(case)
    signed = _signed(case, sc, time_limit)
    tick = progress or (lambda n: None)
    tick(1)
    t1 = time.perf_counter()
    out = []
    for path, label in _uncertain(case, sc, only):
        pv = _one(case, sc, path, label, draws, time_limit)
        out.append(pv)
        tick(pv.draws + 1)
    out.sort(key=lambda p: (-p.value, p.path))
    solves = 1 + sum(p.draws + 1 for p in out)
    t2 = time.perf_counter()
    timings = {"baseline_s": round(t1 - t0, 3), "parameters_s": round(t2 - t1, 3),
               "total_s": round(t2 - t0, 3), "solves": solves,
               "per_solve_s": round((t2 - t0) / solves, 4)}  # fmt: skip
    return ValueOfInformation(case.name, case.currency, objective, signed.value, signed.status,
                              signed.levers_doc, draws, out, timings)  # fmt: skip
