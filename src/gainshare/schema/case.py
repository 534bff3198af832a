"""The case file: parties, contracts and their costs, care-model schemes with the five
challenges as uncertain parameters, horizon, uncertainty, levers and requirements."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator, model_validator

from gainshare.schema.baseline import Baseline, check_baseline
from gainshare.schema.common import (
    MAX_UNITS,
    Count,
    Identifier,
    Money,
    Param,
    Share,
    Strict,
    Value,
    param_bounds,
    param_field,
)
from gainshare.schema.parameters import check_param, named_path_problems
from gainshare.schema.requirements import MAX_STRUCTURES, Levers, Requirements

PartyKind = Literal[
    "acute",
    "community",
    "mental_health",
    "primary_care",
    "social_care",
    "local_authority",
    "ambulance",
    "commissioner",
    "other",
]


class Party(Strict):
    id: Identifier = Field(description="Short id used everywhere else in the case")
    name: str = Field(min_length=1, description="Organisation name as it appears in reports")
    role: Literal["commissioner", "provider", "both", "risk_partner"] = Field(
        description="commissioner pays for care; provider delivers it; both (e.g. a local "
        "authority that commissions social care and provides reablement); risk_partner takes a "
        "share of the pool without contracts of its own (e.g. a national fund, or HHS in ACA "
        "risk corridors)"
    )
    kind: PartyKind = Field(default="other", description="Type of organisation")

    @property
    def is_provider(self) -> bool:
        return self.role in ("provider", "both")

    @property
    def is_commissioner(self) -> bool:
        return self.role in ("commissioner", "both")

    @property
    def is_risk_partner(self) -> bool:
        return self.role == "risk_partner"


class VolumeBand(Strict):
    """Block contract band: outside [lower, upper] x planned units the excess is paid or
    recovered at price x rate."""

    lower: Share = Field(description="Lower edge as a fraction of planned units, e.g. 0.9")
    upper: float = Field(ge=1, le=10, description="Upper edge as a multiple of planned units")
    rate: Share = Field(default=1.0, description="Fraction of price paid per unit outside band")


class SteppedCost(Strict):
    """Semi-fixed cost released a whole step at a time, e.g. a ward."""

    capacity_per_step: float = Field(
        gt=0,
        le=MAX_UNITS,
        description="Capacity of one step in capacity units (bed days when bed_days_per_unit "
        "is set), e.g. a 25-bed ward at 85% occupancy = 7,756 bed days a year",
    )
    cost_per_step: Money = Field(description="Pounds a year saved when one step closes")
    closures: int = Field(
        default=0, ge=0, le=50, description="Steps the provider plans to close (whole number)"
    )
    first_release_year: int = Field(
        default=1, ge=1, le=10, description="First year (1 = first) a closed step saves money"
    )


class Costs(Strict):
    variable_per_unit: Param = param_field("Cost of one more unit, pounds", default=0.0)
    fixed: Money = Field(default=0.0, description="Fixed cost a year, pounds; does not change")
    stepped: SteppedCost | None = Field(default=None, description="Semi-fixed cost, if any")


class Contract(Strict):
    """A commissioner pays a provider for one service line under an underlying payment rule."""

    id: Identifier = Field(description="Short id of the contract / service line")
    name: str = Field(default="", description="Service line as it appears in reports")
    commissioner: Identifier = Field(
        description="Party id of the payer: a commissioner, or a provider when "
        "between_providers is true"
    )
    provider: Identifier = Field(description="Party id of the provider")
    unit: str = Field(default="unit", description="Activity unit, e.g. 'spell', 'contact'")
    rule: Literal["activity", "block", "blended", "capitation"] = Field(
        description="Underlying payment rule"
    )
    expected_units: Param = param_field("Activity expected without the scheme, units a year")
    demand_variation: Param = param_field(
        "Multiplier on expected units for demand the scheme does not control", default=1.0
    )
    price: Money = Field(default=0.0, description="Pounds per unit (tariff or local price)")
    fixed_payment: Money | None = Field(
        default=None,
        description="block/blended: fixed annual sum, pounds (default price x expected units)",
    )
    volume_band: VolumeBand | None = Field(default=None, description="block: renegotiation band")
    marginal_rate_above: Share = Field(
        default=0.0, description="blended: fraction of price paid per unit above plan"
    )
    marginal_rate_below: Share = Field(
        default=0.0, description="blended: fraction of price recovered per unit below plan"
    )
    population: Count = Field(default=0.0, description="capitation: people covered")
    per_head: Money = Field(default=0.0, description="capitation: pounds per person a year")
    bed_days_per_unit: float = Field(
        default=1.0,
        gt=0,
        le=10_000,
        description="Capacity units (e.g. bed days) used per activity unit",
    )
    costs: Costs = Field(default_factory=Costs, description="Provider's costs of this line")
    between_providers: bool = Field(
        default=False,
        description="The payer is a provider paying another provider (e.g. an acute trust "
        "paying a community provider per early discharge): the payment is the payer's own, "
        "outside the pool (models/portfolio.md)",
    )

    @model_validator(mode="after")
    def _rule_fields(self) -> Contract:
        if self.rule == "capitation" and (self.population <= 0 or self.per_head <= 0):
            raise ValueError("capitation needs population > 0 and per_head > 0: set both")
        if self.rule == "activity" and self.price <= 0:
            raise ValueError("activity payment needs price > 0: set the tariff per unit")
        if self.volume_band is not None and self.rule != "block":
            raise ValueError("volume_band applies to block contracts only: remove it")
        if self.rule != "blended" and (self.marginal_rate_above or self.marginal_rate_below):
            raise ValueError("marginal rates apply to blended contracts only: remove them")
        return self


class ActivityShift(Strict):
    contract: Identifier = Field(description="Contract whose activity changes")
    units_per_patient: float = Field(
        default=1.0, gt=0, le=10_000, description="Units of that contract per patient, e.g. 1 spell"
    )


class Staffing(Strict):
    """Challenge 3: recruiting and motivating the right staff."""

    posts_per_team: float = Field(
        default=0.0, ge=0, le=10_000, description="Posts (WTE) in one team"
    )
    cost_per_post: Money = Field(default=0.0, description="Substantive cost of a post a year")
    filled: Param = param_field("Fraction of posts filled substantively (0..1)", default=1.0)
    agency_premium: Param = param_field(
        "Extra cost of covering a vacant post with agency/locum staff, fraction of post cost",
        default=0.0,
    )


class Benefit(Strict):
    """Challenge 5: a benefit that lands outside the health budget, e.g. social care."""

    party: Identifier = Field(description="Commissioner the benefit is booked to")
    per_patient_avoided: Param = param_field(
        "Pounds saved per acute patient avoided (e.g. care placements avoided)"
    )


class CostBand(Strict):
    """One band of a scheme's scale curve: referred patients up to `upto` a year (after the
    previous band) cost `cost_per_patient` each."""

    upto: float | None = Field(
        default=None,
        gt=0,
        allow_inf_nan=False,
        description="Upper edge of the band, referred patients a year (omit for the last band)",
    )
    cost_per_patient: Money = Field(description="Running cost per referred patient in the band")


class Scheme(Strict):
    """A care-model change moving activity out of hospital (SPEC section 2)."""

    id: Identifier
    name: str = Field(default="", description="Scheme name as it appears in reports")
    provider: Identifier = Field(description="Party that runs the scheme and bears its costs")
    paid_directly_by: Identifier | None = Field(
        default=None,
        description="Commissioner that pays the running cost directly (out of the pool); "
        "omit when the provider absorbs it",
    )
    teams: int = Field(default=1, ge=0, le=100, description="Teams running the scheme")
    referrals_per_team: Param = param_field("Patients referred a year per team at full scale")
    ramp_up: Param = param_field(
        "Challenge 4 (credibility and scale): fraction of full referrals reached", default=1.0
    )
    targeting: Param = param_field(
        "Challenge 1: fraction of referred patients who would otherwise be acute inpatients"
    )
    escalation: Param = param_field(
        "Challenge 2: fraction of referred patients escalated back to the acute hospital",
        default=0.0,
    )
    moves_from: list[ActivityShift] = Field(
        min_length=1, description="Acute activity avoided per targeted, non-escalated patient"
    )
    moves_to: list[ActivityShift] = Field(
        default_factory=list, description="Activity added elsewhere per referred patient"
    )
    fixed_cost: Money = Field(
        default=0.0, description="Non-staff running cost a year per team, pounds"
    )
    cost_per_patient: Param = param_field("Running cost per referred patient", default=0.0)
    staffing: Staffing = Field(default_factory=Staffing, description="Team staffing")
    benefits: list[Benefit] = Field(default_factory=list, description="Benefits outside health")
    overhead: Money = Field(
        default=0.0,
        description="Cost a year of running the scheme at all, whatever its number of teams "
        "(management, IT, premises), pounds; none when it runs no teams",
    )
    cost_curve: list[CostBand] = Field(
        default_factory=list,
        description="Challenge 4 (scale): running cost per referred patient by volume band, "
        "each band's rate applying to the patients in it (like tax bands), added to "
        "cost_per_patient",
    )
    cohorts: dict[Identifier, Share] = Field(
        default_factory=dict,
        description="Cohort id -> fraction of the scheme's targeted patients drawn from that "
        "cohort; schemes drawing on one cohort count an avoided patient once "
        "(models/portfolio.md). The rest overlap no other scheme",
    )

    @model_validator(mode="after")
    def _curve_and_cohorts(self) -> Scheme:
        edges = [b.upto for b in self.cost_curve]
        if edges and (edges[-1] is not None or any(e is None for e in edges[:-1])):
            raise ValueError(
                "cost_curve: every band but the last needs 'upto'; the last band has none"
            )
        for k in range(1, len(edges) - 1):
            if edges[k] <= edges[k - 1]:
                raise ValueError(
                    f"cost_curve[{k}].upto ({edges[k]:g}) is not above the band before "
                    f"({edges[k - 1]:g}): list bands in increasing order"
                )
        total = sum(self.cohorts.values())
        if total > 1 + 1e-9:
            raise ValueError(
                f"cohorts: fractions sum to {total:.4g}, above 1: a patient is in one cohort"
            )
        return self


class Cohort(Strict):
    """Patients several schemes may draw on (challenge 4: schemes should not target cohorts
    that overlap too much)."""

    id: Identifier
    name: str = Field(default="", description="Cohort as it appears in reports")
    size: Param = param_field(
        "Patients a year in the cohort who would otherwise be acute inpatients (above 0)"
    )


class TransformationFunding(Strict):
    """Non-recurrent money for a scheme (challenge 5: schemes are often funded on a
    non-recurrent basis)."""

    payer: Identifier = Field(description="Party that pays (e.g. the ICB's transformation fund)")
    recipient: Identifier = Field(description="Provider that receives it")
    scheme: Identifier | None = Field(
        default=None,
        description="Scheme it funds: paid only when the scheme runs (teams above 0); omit "
        "when it is paid whatever runs",
    )
    amount: Money = Field(description="Pounds paid in each of the years")
    years: list[int] = Field(
        default_factory=lambda: [1], min_length=1, description="Years (1 = first) it is paid"
    )
    pool: Literal["outside", "charged"] = Field(
        default="outside",
        description="outside: from the payer's own budget, outside the agreement (the pool does "
        "not see it; the payer's net falls and the recipient's rises by it); charged: part of "
        "the payer's spend, so the pool is reduced by it before sharing (payer a commissioner)",
    )


class Horizon(Strict):
    years: int = Field(ge=1, le=10, description="Length of the agreement in years (1-10)")
    first_year: int = Field(
        default=2026, ge=2000, le=2100, description="Calendar year the first financial year starts"
    )
    year_labels: Literal["financial", "calendar"] = Field(
        default="financial",
        description="How years are named: financial (2026/27, April to March) or calendar (2026)",
    )

    def labels(self) -> list[str]:
        if self.year_labels == "calendar":
            return [str(y) for y in range(self.first_year, self.first_year + self.years)]
        return [
            f"{y}/{(y + 1) % 100:02d}" for y in range(self.first_year, self.first_year + self.years)
        ]


class NamedScenario(Strict):
    name: Identifier = Field(description="e.g. pessimistic, central, optimistic")
    weight: Share = Field(description="Probability of this scenario")
    values: dict[str, Value | list[Value]] = Field(
        default_factory=dict,
        description="Parameter path -> value (or one per year); unnamed parameters take "
        "their central value. Paths as listed by `gainshare validate --parameters`",
    )


MAX_SCENARIOS = 1_000_000
# scenarios x years x parties held in memory at once: `check` peaks at about 300 bytes a cell
# (measured: 9 million cells, 2.8 GB), so 20 million cells is about 6 GB
MAX_CELLS = 20_000_000


class Uncertainty(Strict):
    scenarios: int = Field(
        default=500, ge=0, description="Monte Carlo scenarios to draw (0 = named scenarios only)"
    )
    seed: int = Field(
        default=20260401, ge=0, le=2**63 - 1, description="Random seed: same seed, same scenarios"
    )
    named: list[NamedScenario] = Field(default_factory=list, description="Named scenarios")

    @field_validator("scenarios")
    @classmethod
    def _limit(cls, v: int) -> int:
        if v > MAX_SCENARIOS:
            raise ValueError(
                f"{v:,} scenarios is beyond the limit of {MAX_SCENARIOS:,}: use fewer scenarios"
            )
        return v

    @model_validator(mode="after")
    def _weights(self) -> Uncertainty:
        total = sum(n.weight for n in self.named)
        if self.scenarios == 0:
            if not self.named:
                raise ValueError("no scenarios: set scenarios > 0 or add named scenarios")
            if abs(total - 1) > 1e-9:
                raise ValueError(
                    f"named scenario weights sum to {total:.6g}; with no Monte Carlo "
                    "scenarios they must sum to 1"
                )
        elif total >= 1 - 1e-12 and self.named:
            raise ValueError(
                f"named scenario weights sum to {total:.6g}: keep them below 1 so the Monte "
                "Carlo scenarios share the rest, or set scenarios: 0"
            )
        names = [n.name for n in self.named]
        if len(set(names)) != len(names):
            raise ValueError("named scenarios repeat a name: give each a different name")
        return self


class KeepWhole(Strict):
    """How strictly a party must be kept whole (net position >= -tolerance)."""

    mode: Literal["robust", "chance", "cvar", "none"] = Field(
        default="robust",
        description="robust: every scenario; chance: at least beta of scenarios; cvar: "
        "expected shortfall in the worst 1-beta tail at most tolerance; none: not required",
    )
    beta: Share = Field(default=0.95, description="Confidence level for chance and cvar")
    tolerance: Money = Field(
        default=0.0, description="Pounds a year the party accepts to be worse off"
    )
    from_year: int = Field(
        default=1,
        ge=1,
        le=10,
        description="First year (1 = first) the requirement applies; earlier years are a "
        "transition (e.g. while a ward is still open)",
    )

    def line(self) -> float:
        """The net position below which a scenario-year counts as short: -tolerance, or 0 for
        cvar (whose tolerance bounds the expected shortfall instead)."""
        return 0.0 if self.mode == "cvar" else -self.tolerance


class Case(Strict):
    """A local care economy and its proposed care-model change."""

    name: str = Field(min_length=1, description="Title of the case")
    description: str = Field(default="", description="What the case is, with sources")
    currency: str = Field(default="GBP", pattern=r"^[A-Z]{3}$", description="ISO 4217 code")
    horizon: Horizon
    parties: list[Party] = Field(min_length=2, description="Organisations in the agreement")
    contracts: list[Contract] = Field(min_length=1, description="Underlying contracts")
    schemes: list[Scheme] = Field(default_factory=list, description="Care-model changes")
    quality_scores: dict[Identifier, Param] = Field(
        default_factory=dict,
        description="Provider id -> quality/outcome score 0..100 used by a quality gateway",
    )
    uncertainty: Uncertainty = Field(default_factory=Uncertainty)
    keep_whole: dict[Identifier, KeepWhole] = Field(
        default_factory=dict,
        description="Party id -> keep-whole requirement (default: providers robust, tolerance 0)",
    )
    requirements: Requirements = Field(
        default_factory=Requirements,
        description="What design must achieve and may choose (see models/design.md)",
    )
    levers: Levers | None = Field(default=None, description="Optional integer decisions")
    cohorts: list[Cohort] = Field(
        default_factory=list,
        description="Patient cohorts schemes draw on; avoided patients counted once per cohort",
    )
    transformation_funding: list[TransformationFunding] = Field(
        default_factory=list, description="Non-recurrent funding for schemes"
    )
    baseline: Baseline | None = Field(
        default=None,
        description="Trend, population or risk adjustment and rebasing of the expected spend "
        "(default: the case's figures as they are)",
    )

    # ---- convenience
    def party(self, pid: str) -> Party:
        return next(p for p in self.parties if p.id == pid)

    @property
    def party_ids(self) -> list[str]:
        return [p.id for p in self.parties]

    @property
    def provider_ids(self) -> list[str]:
        return [p.id for p in self.parties if p.is_provider]

    @property
    def commissioner_ids(self) -> list[str]:
        return [p.id for p in self.parties if p.is_commissioner]

    def keep_whole_for(self, pid: str) -> KeepWhole:
        if pid in self.keep_whole:
            return self.keep_whole[pid]
        return KeepWhole(mode="robust" if self.party(pid).is_provider else "none")

    def scenario_count(self) -> int:
        return self.uncertainty.scenarios + len(self.uncertainty.named)

    @model_validator(mode="after")
    def _references(self) -> Case:
        check_references(self)
        return self


def _unique(items, what: str) -> None:
    seen = set()
    for i, it in enumerate(items):
        if it.id in seen:
            raise ValueError(f"{what}[{i}].id '{it.id}' is used twice: give each a unique id")
        seen.add(it.id)


def _need(pid: str | None, ids, where: str, role: str | None = None, case=None) -> None:
    if pid is None:
        return
    if pid not in ids:
        raise ValueError(f"{where} names party '{pid}', which is not in parties: add it or fix it")
    if role and case is not None:
        party = case.party(pid)
        ok = party.is_commissioner if role == "commissioner" else party.is_provider
        if not ok:
            raise ValueError(f"{where} '{pid}' is not a {role}: change its role or the reference")


def _check_years(value: Param, years: int, where: str) -> None:
    if isinstance(value, list) and len(value) != years:
        raise ValueError(
            f"{where} has {len(value)} yearly values but the horizon is {years} years: "
            f"give one value, or exactly {years}"
        )


def check_references(case: Case) -> None:
    """Cross-field checks: ids exist, roles fit, yearly lists match the horizon, shares in 0..1."""
    _unique(case.parties, "parties")
    _unique(case.contracts, "contracts")
    _unique(case.schemes, "schemes")
    if not case.commissioner_ids:
        raise ValueError("parties has no commissioner: at least one party needs role commissioner")
    if not case.provider_ids:
        raise ValueError("parties has no provider: at least one party needs role provider")
    for i, c in enumerate(case.contracts):
        _check_contract(case, i, c)
    for i, s in enumerate(case.schemes):
        _check_scheme(case, i, s)
    _check_portfolio(case)
    _check_quality_and_keep_whole(case)
    _check_requirements(case)
    _check_levers(case)
    check_baseline(case)
    _check_size(case)
    named = named_path_problems(case)
    if named:
        raise ValueError("\n".join(named))


def _check_contract(case: Case, i: int, c: Contract) -> None:
    ids, years, w = set(case.party_ids), case.horizon.years, f"contracts[{i}]"
    _check_payer(case, c, w)
    _need(c.provider, ids, f"{w}.provider", "provider", case)
    if c.commissioner == c.provider:
        raise ValueError(f"{w}: the payer and the provider are the same party: fix one of them")
    params = (("expected_units", c.expected_units, "count"),
              ("demand_variation", c.demand_variation, "multiplier"),
              ("costs.variable_per_unit", c.costs.variable_per_unit, "amount"))  # fmt: skip
    for name, value, kind in params:
        _check_years(value, years, f"{w}.{name}")
        check_param(value, f"{w}.{name}", kind)
    st = c.costs.stepped
    if st is not None and st.first_release_year > years:
        raise ValueError(
            f"{w}.costs.stepped.first_release_year {st.first_release_year} is after the "
            f"{years}-year horizon: use a year from 1 to {years}"
        )


def _check_payer(case: Case, c: Contract, w: str) -> None:
    """The payer is a commissioner, or a provider when the contract says between_providers."""
    if not c.between_providers:
        _need(c.commissioner, set(case.party_ids), f"{w}.commissioner", "commissioner", case)
        return
    _need(c.commissioner, set(case.party_ids), f"{w}.commissioner")
    if not case.party(c.commissioner).is_provider:
        raise ValueError(
            f"{w}.commissioner '{c.commissioner}' is not a provider: a contract between "
            "providers is paid by a provider; set between_providers: false"
        )


def _check_scheme(case: Case, i: int, s: Scheme) -> None:
    ids, years, w = set(case.party_ids), case.horizon.years, f"schemes[{i}]"
    cids = {c.id for c in case.contracts}
    _need(s.provider, ids, f"{w}.provider", "provider", case)
    _need(s.paid_directly_by, ids, f"{w}.paid_directly_by", "commissioner", case)
    for name in ("referrals_per_team", "ramp_up", "targeting", "escalation", "cost_per_patient"):
        _check_years(getattr(s, name), years, f"{w}.{name}")
    for name in ("ramp_up", "targeting", "escalation"):
        check_param(getattr(s, name), f"{w}.{name}", "share")
    check_param(s.staffing.filled, f"{w}.staffing.filled", "share")
    check_param(s.referrals_per_team, f"{w}.referrals_per_team", "count")
    check_param(s.cost_per_patient, f"{w}.cost_per_patient", "amount")
    check_param(s.staffing.agency_premium, f"{w}.staffing.agency_premium", "multiplier")
    shifts = [("moves_from", j, sh) for j, sh in enumerate(s.moves_from)]
    shifts += [("moves_to", j, sh) for j, sh in enumerate(s.moves_to)]
    for kind, j, sh in shifts:
        if sh.contract not in cids:
            raise ValueError(
                f"{w}.{kind}[{j}].contract '{sh.contract}' is not in contracts: add it or fix it"
            )
    for j, b in enumerate(s.benefits):
        _need(b.party, ids, f"{w}.benefits[{j}].party", "commissioner", case)
        check_param(b.per_patient_avoided, f"{w}.benefits[{j}].per_patient_avoided", "amount")


def _check_portfolio(case: Case) -> None:
    """Cohorts schemes name exist and have a size above 0; transformation funding names real
    parties, schemes and years, and a charged one is paid by a commissioner."""
    _unique(case.cohorts, "cohorts")
    ids, years = set(case.party_ids), case.horizon.years
    cohorts = {c.id for c in case.cohorts}
    for i, c in enumerate(case.cohorts):
        _check_years(c.size, years, f"cohorts[{i}].size")
        if param_bounds(c.size)[0] <= 0:
            raise ValueError(f"cohorts[{i}].size can be 0 or less: give patients a year above 0")
    for i, s in enumerate(case.schemes):
        for cid in s.cohorts:
            if cid not in cohorts:
                raise ValueError(
                    f"schemes[{i}].cohorts.{cid}: no cohort '{cid}' in cohorts: add it or fix it"
                )
    sids = {s.id for s in case.schemes}
    for i, f in enumerate(case.transformation_funding):
        w = f"transformation_funding[{i}]"
        role = "commissioner" if f.pool == "charged" else None
        _need(f.payer, ids, f"{w}.payer", role, case)
        _need(f.recipient, ids, f"{w}.recipient", "provider", case)
        if f.payer == f.recipient:
            raise ValueError(f"{w}: payer and recipient are the same party: fix one of them")
        if f.scheme is not None and f.scheme not in sids:
            raise ValueError(f"{w}.scheme '{f.scheme}' is not in schemes: add it or fix it")
        bad = [y for y in f.years if not 1 <= y <= years]
        if bad or len(set(f.years)) != len(f.years):
            raise ValueError(
                f"{w}.years {f.years}: give each year once, from 1 to {years} (the horizon)"
            )


def _check_quality_and_keep_whole(case: Case) -> None:
    ids, years = set(case.party_ids), case.horizon.years
    for pid, q in case.quality_scores.items():
        _need(pid, ids, f"quality_scores.{pid}", "provider", case)
        check_param(q, f"quality_scores.{pid}", "score")
        _check_years(q, years, f"quality_scores.{pid}")
    for pid, kw in case.keep_whole.items():
        _need(pid, ids, f"keep_whole.{pid}")
        if kw.from_year > years:
            raise ValueError(
                f"keep_whole.{pid}.from_year {kw.from_year} is after the {years}-year horizon: "
                f"use a year from 1 to {years}"
            )


def _check_size(case: Case) -> None:
    years = case.horizon.years
    if case.scenario_count() * years * len(case.parties) > MAX_CELLS:
        most = MAX_CELLS // (years * len(case.parties))
        raise ValueError(
            f"uncertainty.scenarios: {case.scenario_count():,} scenarios x {years} years x "
            f"{len(case.parties)} parties is beyond the memory limit of {MAX_CELLS:,} cells: "
            f"use at most {most:,} scenarios"
        )


def _check_requirements(case: Case) -> None:
    r = case.requirements
    ids, prov, comm = set(case.party_ids), set(case.provider_ids), set(case.commissioner_ids)
    for name in ("reference_split", "share_bounds", "loss_share_bounds", "fixed_gain_shares",
                 "fixed_loss_shares"):  # fmt: skip
        for pid in getattr(r, name) or {}:
            _need(pid, ids, f"requirements.{name}.{pid}")
    for name in ("driver_min_gain_share", "caps", "collars", "gateway"):
        for pid in getattr(r, name):
            _need(pid, ids, f"requirements.{name}.{pid}")
            if pid not in prov:
                what = {
                    "driver_min_gain_share": "a driver's minimum gain share",
                    "caps": "a cap",
                    "collars": "a collar",
                    "gateway": "a quality gateway",
                }
                raise ValueError(f"requirements.{name}.{pid}: '{pid}' is not a provider: "
                                 f"{what[name]} applies to providers only: remove it")  # fmt: skip
    for pid in r.commissioner_split or {}:
        if pid not in comm:
            raise ValueError(
                f"requirements.commissioner_split.{pid}: '{pid}' is not a commissioner: the "
                "split is among commissioners only: remove it"
            )
    gateways = [("requirements.gateway", r.gateway)] + [
        (f"requirements.gateway_options[{i}]", opt) for i, opt in enumerate(r.gateway_options)
    ]
    for where, option in gateways:
        for pid in option:
            _need(pid, ids, f"{where}.{pid}")
            if pid not in case.quality_scores:
                raise ValueError(
                    f"{where}.{pid}: the case has no quality_scores for '{pid}': add them"
                )
    _check_loss_quality(case, ids, prov)
    _check_groups(case, ids, prov)
    total_fixed = sum(r.fixed_gain_shares.values())
    if total_fixed > 1 + 1e-9:
        raise ValueError(
            f"requirements.fixed_gain_shares sum to {100 * total_fixed:.4g}%: over 100%"
        )


def _check_groups(case: Case, ids: set, prov: set) -> None:
    agg = case.requirements.aggregate_limits
    for kind in ("caps", "collars"):
        for pid in getattr(agg, kind) if agg is not None else {}:
            where = f"requirements.aggregate_limits.{kind}.{pid}"
            _need(pid, ids, where)
            if pid not in prov:
                raise ValueError(f"{where}: '{pid}' is not a provider: these limits apply to "
                                 "providers only")  # fmt: skip
    for i, g in enumerate(case.requirements.group_limits):
        for pid in g.members:
            where = f"requirements.group_limits[{i}].members.{pid}"
            _need(pid, ids, where)
            if pid not in prov:
                raise ValueError(f"{where}: '{pid}' is not a provider: group limits bind "
                                 "providers only")  # fmt: skip


def _check_loss_quality(case: Case, ids: set, prov: set) -> None:
    for pid in case.requirements.loss_quality:
        _need(pid, ids, f"requirements.loss_quality.{pid}")
        if pid not in prov:
            raise ValueError(f"requirements.loss_quality.{pid}: '{pid}' is not a provider: "
                             "a loss share scaled with quality applies to providers only: "
                             "remove it")  # fmt: skip
        if pid not in case.quality_scores:
            raise ValueError(
                f"requirements.loss_quality.{pid}: the case has no quality_scores for '{pid}': "
                "add them or remove the rule"
            )


def structure_options(r: Requirements) -> int:
    """Number of term-option combinations design enumerates (corridor x gateway x edges)."""
    n = 1
    for opts in (r.corridor_options, r.gateway_options, r.gain_edge_options, r.loss_edge_options):
        n *= max(len(opts), 1)
    return n


def _check_run(run: list[str], sids: set[str]) -> None:
    """levers.run names schemes of the case, each once."""
    for sid in run:
        if sid not in sids:
            raise ValueError(f"levers.run: no scheme '{sid}' in the case: fix the id")
    if len(set(run)) != len(run):
        raise ValueError("levers.run names a scheme twice: name each once")


def _check_levers(case: Case) -> None:
    lv = case.levers
    if lv is None:
        if structure_options(case.requirements) > MAX_STRUCTURES:
            raise ValueError(
                f"requirements: {structure_options(case.requirements)} combinations of term "
                f"options is over the limit of {MAX_STRUCTURES}: offer fewer options"
            )
        return
    sids = {s.id for s in case.schemes}
    stepped = {c.id for c in case.contracts if c.costs.stepped is not None}
    for sid, opts in lv.teams.items():
        if sid not in sids:
            raise ValueError(f"levers.teams.{sid}: no scheme '{sid}' in the case: fix the id")
        if not opts or any(o < 0 for o in opts):
            raise ValueError(f"levers.teams.{sid}: give one or more team counts, each 0 or more")
    _check_run(lv.run, sids)
    for name in ("closures", "release_year"):
        for cid, opts in getattr(lv, name).items():
            if cid not in stepped:
                raise ValueError(
                    f"levers.{name}.{cid}: contract '{cid}' has no stepped cost to close: "
                    "add costs.stepped to it or fix the id"
                )
            if not opts or any(o < 0 for o in opts):
                raise ValueError(f"levers.{name}.{cid}: give one or more whole numbers >= 0")
            if name == "release_year" and any(not 1 <= o <= case.horizon.years for o in opts):
                raise ValueError(
                    f"levers.release_year.{cid}: years must be 1 to {case.horizon.years}"
                )
    n = lv.combinations() * structure_options(case.requirements)
    if n > MAX_STRUCTURES:
        raise ValueError(
            f"levers: {n} combinations of levers and corridor options is over the limit of "
            f"{MAX_STRUCTURES}: offer fewer options"
        )
