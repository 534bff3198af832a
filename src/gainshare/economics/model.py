"""Case + scenarios -> per scenario x year x party expected payment, actual payment, cost change,
direct scheme costs, booked benefits and quality scores. numpy only: no solver, no loops over
scenarios."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cached_property

import numpy as np

from gainshare.economics.baseline import contract_factors, expected_units
from gainshare.economics.portfolio import count_once, curve_cost, funding_by_year
from gainshare.economics.scenarios import ScenarioSet, sample
from gainshare.schema.case import Case, Contract


@dataclass(frozen=True)
class LeverChoice:
    """Values of the optional integer levers (override the case's own figures)."""

    teams: dict[str, int] = field(default_factory=dict)  # scheme id -> teams
    closures: dict[str, int] = field(default_factory=dict)  # contract id -> steps closed
    release_year: dict[str, int] = field(default_factory=dict)  # contract id -> first year


@dataclass(frozen=True)
class ContractDetail:
    """Per contract (S, Y, K) and per scheme (S, Y, M) figures of `compute(..., detail=True)`:
    what an actual year is settled from, line by line (settle.actuals, settle.bridge)."""

    exp_pay: np.ndarray  # expected payment of each contract
    act_pay: np.ndarray  # actual payment of each contract
    cost_change: np.ndarray  # provider's cost change on the contract (variable and stepped)
    units_moved: np.ndarray  # units the schemes moved onto (+) or off (-) the contract
    scheme_ids: list[str]
    scheme_cost: np.ndarray  # (S, Y, M) running cost of each scheme


def party_sum(a: np.ndarray) -> np.ndarray:
    """Sum over the last (party) axis, adding the parties in their order. np.sum over a short
    last axis is a strided reduction, several times slower on (S, Y, P) arrays; for up to seven
    parties it adds in the same order, so the result is the same to the bit."""
    out = a[..., 0].copy()
    for j in range(1, a.shape[-1]):
        out += a[..., j]
    return out


@dataclass(frozen=True)
class Economics:
    """Arrays are (scenario, year, party) unless said otherwise; money in pounds. Derived
    arrays are computed once, on first use, and kept (the object never changes)."""

    party_ids: list[str]
    is_provider: np.ndarray  # (P,) bool
    is_commissioner: np.ndarray  # (P,) bool
    year_labels: list[str]
    scenario_names: Sequence[str]
    weights: np.ndarray  # (S,)
    exp_pay: np.ndarray  # expected payments received as provider (E)
    act_pay: np.ndarray  # actual payments received as provider (A)
    exp_spend: np.ndarray  # expected payments made as commissioner
    act_spend: np.ndarray  # actual payments made as commissioner
    cost_change: np.ndarray  # provider cost change incl. scheme running costs it bears
    direct_cost: np.ndarray  # scheme running costs paid directly by a commissioner
    benefit: np.ndarray  # benefits booked to a commissioner (e.g. social care)
    quality: np.ndarray  # quality score 0..100, NaN where the case gives none
    contract_ids: list[str] = field(default_factory=list)
    units_exp: np.ndarray | None = None  # (S, Y, K)
    units_act: np.ndarray | None = None  # (S, Y, K)
    steps_released: np.ndarray | None = None  # (S, Y, K)
    # money paid between parties outside the pool (transformation funding paid outside it):
    # + received, - paid, summing to zero over the parties; None when the case has none
    outside_pool: np.ndarray | None = None
    # the scenarios, kept for a case with cohorts (each scheme's own effect is recomputed on
    # them); None otherwise, so that a large check does not hold them
    scenarios: ScenarioSet | None = field(default=None, repr=False, compare=False)
    levers: LeverChoice | None = None  # the lever values these economics were computed for
    is_risk_partner: np.ndarray | None = None  # (P,) bool; None: no party is one
    detail: ContractDetail | None = None  # per contract and scheme, when asked for

    @cached_property
    def takes_share(self) -> np.ndarray:
        """(P,) parties that receive transfers: providers and risk partners."""
        if self.is_risk_partner is None:
            return self.is_provider
        return self.is_provider | self.is_risk_partner

    @property
    def shape(self) -> tuple[int, int, int]:
        return self.exp_pay.shape

    @cached_property
    def pool_contribution(self) -> np.ndarray:
        """Each commissioner's spend saved less scheme costs it pays directly."""
        return self.exp_spend - self.act_spend - self.direct_cost

    @cached_property
    def pool(self) -> np.ndarray:
        """(S, Y) G: the pool, every commissioner's contribution added."""
        return party_sum(self.pool_contribution)

    @cached_property
    def total_exp_spend(self) -> np.ndarray:
        """(S, Y) the commissioners' total expected spend: the basis of corridors and tiers."""
        return party_sum(self.exp_spend)

    @cached_property
    def spend_split(self) -> np.ndarray:
        """(S, Y, P) each commissioner's part of the commissioners' expected spend (equal parts
        when none has any): how the retained amount is split unless an agreement says."""
        spend = self.exp_spend * self.is_commissioner
        total = party_sum(spend)[..., None]
        equal = self.is_commissioner / self.is_commissioner.sum()
        return np.where(total > 0, spend / np.where(total > 0, total, 1.0), equal)

    @cached_property
    def quality_scores(self) -> np.ndarray:
        """Quality scores with 100 where a party has none (a gateway then never reduces)."""
        return np.nan_to_num(self.quality, nan=100.0)

    @cached_property
    def total_cost_change(self) -> np.ndarray:
        """Real resource change per party: provider costs, direct costs, less benefits."""
        return self.cost_change + self.direct_cost - self.benefit

    @cached_property
    def revenue_change(self) -> np.ndarray:
        return self.act_pay - self.exp_pay

    @cached_property
    def net_before_sharing(self) -> np.ndarray:
        """Each party's net position before any transfer or retained amount: its revenue change
        as a provider less its cost change, plus benefits booked to it and money paid to it
        outside the pool (what design keeps every party whole on)."""
        b = self.revenue_change * self.is_provider - self.cost_change + self.benefit
        return b if self.outside_pool is None else b + self.outside_pool

    @cached_property
    def stranded_fixed_cost(self) -> np.ndarray:
        """Revenue lost minus cost avoided, where positive (providers)."""
        lost = np.maximum(-self.revenue_change, 0.0)
        avoided = np.maximum(-self.cost_change, 0.0)
        return np.maximum(lost - avoided, 0.0) * self.is_provider

    @cached_property
    def unfunded_activity(self) -> np.ndarray:
        """Cost added minus revenue added, where positive (providers)."""
        added_cost = np.maximum(self.cost_change, 0.0)
        added_rev = np.maximum(self.revenue_change, 0.0)
        return np.maximum(added_cost - added_rev, 0.0) * self.is_provider

    def index(self, pid: str) -> int:
        return self.party_ids.index(pid)


def _payment(c: Contract, units: np.ndarray, plan: np.ndarray, scale=1.0) -> np.ndarray:
    """Payment under the contract's rule for `units` given planned units `plan` (S, Y); `scale`
    is the baseline factor (Y,) that stated fixed sums move with (1.0: none)."""
    if c.rule == "activity":
        return c.price * units
    if c.rule == "capitation":
        return np.full_like(units, c.population * c.per_head) * scale
    if c.fixed_payment is None:  # price x planned units: the plan already moves with the baseline
        fixed = c.price * plan
    else:
        fixed = np.full_like(plan, c.fixed_payment) * scale
    if c.rule == "block":
        if c.volume_band is None:
            return fixed + 0.0 * units
        b = c.volume_band
        above = np.maximum(units - b.upper * plan, 0.0)
        below = np.maximum(b.lower * plan - units, 0.0)
        return fixed + b.rate * c.price * (above - below)
    above = np.maximum(units - plan, 0.0)
    below = np.maximum(plan - units, 0.0)
    return fixed + c.price * (c.marginal_rate_above * above - c.marginal_rate_below * below)


contract_payment = _payment  # the payment rules, for settling an actual year from its units


def _scheme_flows(case, sc, teams_of):
    """Per scheme: referrals, avoided and newly escalated patients, running cost (S, Y)."""
    flows = {}
    for s in case.schemes:
        v = f"schemes.{s.id}"
        teams = teams_of.get(s.id, s.teams)
        referrals = teams * sc[f"{v}.referrals_per_team"] * sc[f"{v}.ramp_up"]
        tgt, esc = sc[f"{v}.targeting"], sc[f"{v}.escalation"]
        avoided = referrals * tgt * (1.0 - esc)
        new_escalated = referrals * (1.0 - tgt) * esc
        st = s.staffing
        filled, prem = sc[f"{v}.staffing.filled"], sc[f"{v}.staffing.agency_premium"]
        staff = st.posts_per_team * st.cost_per_post * (1.0 + (1.0 - filled) * prem)
        cost = teams * (s.fixed_cost + staff) + sc[f"{v}.cost_per_patient"] * referrals
        if s.overhead and teams > 0:
            cost = cost + s.overhead
        if s.cost_curve:
            cost = cost + curve_cost(s.cost_curve, referrals)
        flows[s.id] = (referrals, avoided, new_escalated, cost)
    if case.cohorts:
        once = count_once(case, sc, {sid: f[1] for sid, f in flows.items()})
        flows = {sid: (r, once[sid], n, c) for sid, (r, _, n, c) in flows.items()}
    return flows


def scheme_flows(case: Case, scenarios: ScenarioSet, levers: LeverChoice | None = None) -> dict:
    """Per scheme id: (referrals, avoided patients counted once, new patients escalated,
    running cost), each (S, Y), at the lever values given (else the case's)."""
    return _scheme_flows(case, scenarios, (levers or LeverChoice()).teams)


def _by_scenario(a: np.ndarray) -> np.ndarray:
    """(P, S, Y) -> (S, Y, P), contiguous."""
    return np.ascontiguousarray(np.moveaxis(a, 0, -1))


def compute(
    case: Case,
    scenarios: ScenarioSet | None = None,
    levers: LeverChoice | None = None,
    detail: bool = False,
) -> Economics:
    """Economics of every party in every scenario and year (with `detail`, also per contract
    and scheme)."""
    sc = scenarios if scenarios is not None else sample(case)
    lv = levers or LeverChoice()
    S, Y, P = sc.count, case.horizon.years, len(case.parties)
    pidx = {pid: i for i, pid in enumerate(case.party_ids)}
    # Accumulated party by party in (P, S, Y) layout, where each party's block is contiguous,
    # and turned into the (S, Y, P) layout once at the end.
    z = lambda: np.zeros((P, S, Y))  # noqa: E731
    E, A, ES, AS, dC, D, B = z(), z(), z(), z(), z(), z(), z()
    Q = np.full((P, S, Y), np.nan)
    u_exp = expected_units(case, [sc[f"contracts.{c.id}.expected_units"] for c in case.contracts])
    scale = contract_factors(case)
    u_act = [
        u * sc[f"contracts.{c.id}.demand_variation"]
        for c, u in zip(case.contracts, u_exp, strict=True)
    ]
    kidx = {c.id: k for k, c in enumerate(case.contracts)}
    flows = _scheme_flows(case, sc, lv.teams)
    before = [u.copy() for u in u_act] if detail else None  # before the schemes move activity
    for s in case.schemes:
        referrals, avoided, new_esc, cost = flows[s.id]
        for sh in s.moves_from:
            u_act[kidx[sh.contract]] += (new_esc - avoided) * sh.units_per_patient
        for sh in s.moves_to:
            u_act[kidx[sh.contract]] += referrals * sh.units_per_patient
        if s.paid_directly_by is not None:
            D[pidx[s.paid_directly_by]] += cost
        else:
            dC[pidx[s.provider]] += cost
        for b in s.benefits:
            B[pidx[b.party]] += sc[f"schemes.{s.id}.benefits.{b.party}"] * avoided
    moved = [u - b for u, b in zip(u_act, before, strict=True)] if detail else None
    u_act = [np.maximum(u, 0.0) for u in u_act]
    released, lines = [], []
    years = np.arange(1, Y + 1)[None, :]
    for k, c in enumerate(case.contracts):
        ue, ua = u_exp[k], u_act[k]
        pe, pa = _payment(c, ue, ue, scale[k]), _payment(c, ua, ue, scale[k])
        i_p, i_c = pidx[c.provider], pidx[c.commissioner]
        E[i_p] += pe
        A[i_p] += pa
        if c.between_providers:  # the paying provider's own money, net of what it receives
            E[i_c] -= pe
            A[i_c] -= pa
        else:
            ES[i_c] += pe
            AS[i_c] += pa
        variable = sc[f"contracts.{c.id}.variable_cost"] * (ua - ue)
        dC[i_p] += variable
        st = c.costs.stepped
        rel = np.zeros((S, Y))
        if st is not None:
            freed = np.maximum(ue - ua, 0.0) * c.bed_days_per_unit
            possible = np.floor(freed / st.capacity_per_step + 1e-9)
            planned = lv.closures.get(c.id, st.closures)
            first = lv.release_year.get(c.id, st.first_release_year)
            rel = np.minimum(possible, planned) * (years >= first)
            dC[i_p] -= rel * st.cost_per_step
        released.append(rel)
        if detail:
            step_cost = st.cost_per_step if st is not None else 0.0
            lines.append((pe, pa, variable - rel * step_cost))
    for pid in case.quality_scores:
        Q[pidx[pid]] = sc[f"quality.{pid}"]
    out = funding_flows(case, lv, pidx, A, AS, (P, S, Y))
    E, A, ES, AS, dC, D, B, Q = (_by_scenario(x) for x in (E, A, ES, AS, dC, D, B, Q))
    stack = lambda arrays: np.stack([np.broadcast_to(a, (S, Y)) for a in arrays], axis=2)  # noqa: E731
    u_exp, u_act, released = stack(u_exp), stack(u_act), stack(released)
    extra = _detail(case, flows, lines, moved, stack) if detail else None
    return Economics(
        party_ids=case.party_ids,
        is_provider=np.array([p.is_provider for p in case.parties]),
        is_commissioner=np.array([p.is_commissioner for p in case.parties]),
        year_labels=case.horizon.labels(),
        scenario_names=sc.names,
        weights=sc.weights,
        exp_pay=E,
        act_pay=A,
        exp_spend=ES,
        act_spend=AS,
        cost_change=dC,
        direct_cost=D,
        benefit=B,
        quality=Q,
        contract_ids=[c.id for c in case.contracts],
        units_exp=u_exp,
        units_act=u_act,
        steps_released=released,
        outside_pool=None if out is None else _by_scenario(out),
        scenarios=sc if case.cohorts else None,
        levers=lv,
        is_risk_partner=np.array([p.is_risk_partner for p in case.parties]),
        detail=extra,
    )


def funding_flows(case: Case, lv: LeverChoice, pidx: dict, A, AS, shape) -> np.ndarray | None:
    """Transformation funding of the schemes that run (teams above 0). Charged to the pool:
    part of the payer's actual spend and the recipient's actual payments (A, AS changed in
    place). Outside the pool: returned as a (P, S, Y) array of money received (+) and paid (-),
    or None when the case has none."""
    teams = {s.id: lv.teams.get(s.id, s.teams) for s in case.schemes}
    out = None
    for f in case.transformation_funding:
        if f.scheme is not None and teams.get(f.scheme, 0) <= 0:
            continue
        money = funding_by_year(f.years, f.amount, case.horizon.years)
        if f.pool == "charged":
            AS[pidx[f.payer]] += money
            A[pidx[f.recipient]] += money
            continue
        if out is None:
            out = np.zeros(shape)
        out[pidx[f.payer]] -= money
        out[pidx[f.recipient]] += money
    return out


def _detail(case: Case, flows, lines, moved, stack) -> ContractDetail:
    """Per contract and scheme arrays from compute's own figures."""
    pe, pa, dc = (stack([line[i] for line in lines]) for i in range(3))
    cost = [flows[s.id][3] for s in case.schemes]
    S, Y = pe.shape[:2]
    scheme_cost = stack(cost) if cost else np.zeros((S, Y, 0))
    ids = [s.id for s in case.schemes]
    return ContractDetail(pe, pa, dc, stack(moved), ids, scheme_cost)
