"""Growth steps: the ways a scheme can do better for the whole system, applied to a case on the
same scenarios (common random numbers), so that a difference between the grown and the base
economics is an exact finite difference, not sampling noise.

- `team`: one more team of a scheme;
- `referrals`: 10% more referrals per team of a scheme;
- `targeting`: 5 points more of a scheme's referrals who would otherwise have been acute
  inpatients (less where targeting could otherwise pass 100%);
- `ward_earlier`: a stepped cost (a ward) the case plans to close, closing a year earlier.

`check` reports how each party's position moves on each step (`analysis.incentives`), and
`design` can require that every provider gains from each (`requirements.incentives`)."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

from gainshare.economics.model import Economics, compute
from gainshare.economics.scenarios import ScenarioSet, sample
from gainshare.schema.case import Case
from gainshare.schema.common import Param, param_bounds

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
