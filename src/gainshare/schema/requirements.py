"""What `design` must achieve and what it may choose: requirements, objective, and the optional
integer levers. Keep-whole requirements per party live in the case (`keep_whole`)."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, model_validator

from gainshare.schema.agreement import Corridor, Gateway, check_split
from gainshare.schema.common import (
    MAX_AMOUNT,
    Identifier,
    Limit,
    Money,
    Share,
    SignedMoney,
    Strict,
)
from gainshare.schema.rules import AggregateLimits, GroupLimit, QualityLossRate, check_groups

Objective = Literal["commissioners", "system_savings", "worst_margin", "fair_reference"]
OBJECTIVES: tuple[str, ...] = Objective.__args__  # type: ignore[attr-defined]
OBJECTIVE_WORDS = {
    "commissioners": "commissioners' expected retained savings",
    "system_savings": "expected system savings",
    "worst_margin": "worst provider margin",
    "fair_reference": "L1 distance of gain shares to the reference split",
}


class ShareBounds(Strict):
    min: Share = Field(default=0.0, description="Lowest share the party may get (0..1)")
    max: Share = Field(default=1.0, description="Highest share the party may get (0..1)")

    @model_validator(mode="after")
    def _order(self) -> ShareBounds:
        if self.min > self.max:
            raise ValueError("min: is above max: swap them")
        return self


class LimitRule(Strict):
    """How design treats a provider's cap or collar."""

    decide: bool = Field(default=True, description="true: design chooses it; false: fixed")
    basis: Literal["amount", "share_of_expected"] = Field(
        default="amount",
        description="amount: pounds a year; share_of_expected: fraction of the provider's "
        "expected payment",
    )
    min: float = Field(
        default=0.0, ge=0, le=MAX_AMOUNT, description="Lowest value design may choose"
    )
    max: float | None = Field(
        default=None,
        ge=0,
        le=MAX_AMOUNT,
        description="Highest value design may choose (default: no limit)",
    )
    value: float | None = Field(
        default=None, ge=0, le=MAX_AMOUNT, description="The fixed value (decide: false)"
    )

    @model_validator(mode="after")
    def _check(self) -> LimitRule:
        if not self.decide and self.value is None:
            raise ValueError(
                "value: a fixed cap or collar needs 'value': give it, or set decide: true"
            )
        if self.max is not None and self.max < self.min:
            raise ValueError("max: is below min: swap them")
        if self.basis == "share_of_expected":
            for v in (self.min, self.max, self.value):
                if v is not None and v > 1:
                    raise ValueError(
                        f"{v} is above 1 with basis share_of_expected: give a fraction 0..1"
                    )
        return self


class Search(Strict):
    """The drafting space `design` searches wherever the case leaves a term open: the space a
    finance team drafts in. Terms the case states (`caps`, `collars`, `gain_edges`,
    `gain_edge_options`, `corridor`, `corridor_options`, ...) are used as stated."""

    caps: bool = Field(
        default=True,
        description="Search a cap (pounds a year) for every provider not named in `caps`; "
        "false: only the providers named there have a cap",
    )
    collars: bool = Field(
        default=True,
        description="Search a collar (pounds a year) for every provider not named in `collars`",
    )
    max_gain_tiers: int = Field(
        default=2, ge=1, le=3, description="At most this many gain tiers, edges from the menu"
    )
    max_loss_tiers: int = Field(
        default=2, ge=1, le=2, description="At most this many loss tiers, edges from the menu"
    )
    edge_quantiles: list[Share] = Field(
        default_factory=lambda: [0.25, 0.5, 0.75],
        max_length=6,
        description="The tier-edge menu: these quantiles of the positive pool (gain tiers) and "
        "of the pool's losses (loss tiers), over every scenario and year, in round money",
    )
    corridor: bool = Field(
        default=True,
        description="Search a corridor (same threshold for gains and losses, first pound or "
        "excess only) from `corridor_thresholds`, or none",
    )
    corridor_thresholds: list[Share] = Field(
        default_factory=lambda: [0.005, 0.01, 0.02],
        max_length=6,
        description="Corridor thresholds to try, as shares of total expected spend",
    )
    limit_step: Money = Field(
        default=1000.0,
        le=1e7,
        description="Caps and collars found by the search in whole multiples of this many "
        "pounds (0: exact)",
    )


GrowthKind = Literal["team", "referrals", "targeting", "ward_earlier"]


class Incentives(Strict):
    """Incentive alignment (SPEC section 4.11): each provider's expected net over the horizon
    rises by at least `min_share` of the extra expected system savings on each growth step of
    the scheme, where the case has it: one more team, 10% more referrals, 5 points better
    targeting, a ward closing a year earlier."""

    min_share: Share = Field(
        default=0.0,
        description="Fraction of every extra pound the system saves that each provider must "
        "gain at least (0: no provider may lose as the scheme grows)",
    )
    steps: list[GrowthKind] = Field(
        default_factory=lambda: ["team", "referrals", "targeting", "ward_earlier"],
        min_length=1,
        description="Which growth steps the requirement applies to",
    )
    providers: list[Identifier] | None = Field(
        default=None, description="Providers it applies to (default: every provider)"
    )


SEARCH_OFF = {"caps": False, "collars": False, "max_gain_tiers": 1, "max_loss_tiers": 1,
              "corridor": False, "limit_step": 0.0}  # fmt: skip


class Requirements(Strict):
    """Design requirements (SPEC section 4.2). Every field is optional; defaults documented."""

    objective: Objective = Field(
        default="commissioners",
        description="commissioners: expected retained savings; system_savings: expected system "
        "savings (with levers); worst_margin: the worst provider's net in any scenario and year "
        "(max-min); fair_reference: closeness (L1) to reference_split",
    )
    reference_split: dict[Identifier, Share] | None = Field(
        default=None, description="Party id -> fair reference share of gains (sums to 1)"
    )
    commissioners_min_expected: SignedMoney | None = Field(
        default=None,
        description="Commissioners' expected retained savings over the horizon, at least",
    )
    commissioners_worst_year: SignedMoney | None = Field(
        default=None,
        description="Commissioners' retained amount in any scenario and year, at least (negative "
        "= most they accept to lose)",
    )
    worst_margin_min: SignedMoney | None = Field(
        default=None, description="Every provider's net in every scenario and year, at least"
    )
    system_savings_min: SignedMoney | None = Field(
        default=None, description="Expected system savings over the horizon, at least (levers)"
    )
    fair_distance_max: float | None = Field(
        default=None,
        ge=0,
        le=1_000,
        description="L1 distance of gain shares to reference_split, at most",
    )
    corridor: Corridor | None = Field(
        default=None,
        description="The corridor, when the room has agreed it (`{}`: no corridor); left out, "
        "design searches the corridor menu of `search`",
    )
    corridor_options: list[Corridor] = Field(
        default_factory=list,
        description="Candidate corridors: design picks the best one (exact, by enumeration)",
    )
    gain_edges: list[Limit] | None = Field(
        default=None,
        description="Upper edges of all but the last gain tier (pounds or share of expected "
        "spend); number of tiers = edges + 1 (`[]`: one tier); left out, design searches the "
        "tier menu of `search`",
    )
    loss_edges: list[Limit] | None = Field(
        default=None, description="Same for losses (`[]`: one loss tier)"
    )
    gain_edge_options: list[list[Limit]] = Field(
        default_factory=list,
        description="Candidate gain tier edges (each as gain_edges, all with the same number "
        "of tiers): design picks the best exactly, by enumeration",
    )
    loss_edge_options: list[list[Limit]] = Field(
        default_factory=list, description="Candidate loss tier edges, as gain_edge_options"
    )
    share_bounds: dict[Identifier, ShareBounds] = Field(
        default_factory=dict, description="Party id -> bounds on its gain shares"
    )
    loss_share_bounds: dict[Identifier, ShareBounds] = Field(
        default_factory=dict, description="Party id -> bounds on its loss shares"
    )
    driver_min_gain_share: dict[Identifier, Share] = Field(
        default_factory=dict,
        description="Provider id -> minimum share of every gain tier (the incentive to grow)",
    )
    rounding: Literal["none", "1%", "5%"] = Field(
        default="1%",
        description="Shares in whole 1% steps (default), 5% steps, or any value ('none')",
    )
    incentives: Incentives | None = Field(
        default=None,
        description="Require every provider to gain as the scheme grows (designed by the MIP, "
        "without caps or collars)",
    )
    search: Search = Field(
        default_factory=Search,
        description="The drafting space searched where the case leaves a term open (caps, "
        "collars, tier edges, corridor); null: only the terms the requirements state (no caps "
        "or collars but those named, one tier each way unless edges are stated, no corridor "
        "unless stated, caps and collars exactly as found)",
    )
    symmetric: bool = Field(default=False, description="Loss shares equal gain shares")
    glide_path: bool = Field(default=False, description="Terms may differ by year")
    caps: dict[Identifier, LimitRule] = Field(
        default_factory=dict, description="Provider id -> cap rule (default: no cap)"
    )
    collars: dict[Identifier, LimitRule] = Field(
        default_factory=dict, description="Provider id -> collar rule (default: no collar)"
    )
    gateway: dict[Identifier, Gateway] = Field(
        default_factory=dict, description="Provider id -> quality gateway (fixed terms)"
    )
    gateway_options: list[dict[Identifier, Gateway]] = Field(
        default_factory=list,
        description="Candidate gateways (each provider id -> gateway): design picks the best "
        "exactly, by enumeration",
    )
    loss_quality: dict[Identifier, QualityLossRate] = Field(
        default_factory=dict,
        description="Provider id -> quality-scaled loss share (fixed terms, as MSSP ENHANCED's "
        "shared loss rate 1 - 0.75 x quality score, 40% to 75%): design searches the loss shares "
        "the rate multiplies",
    )
    group_limits: list[GroupLimit] = Field(
        default_factory=list,
        description="Caps and collars on a group of providers together (fixed terms, as MSSP "
        "caps the ACO on its benchmark): design searches the shares under them",
    )
    aggregate_limits: AggregateLimits | None = Field(
        default=None,
        description="Caps and collars over the whole agreement, all years together (fixed terms, "
        "as BPCI's aggregate cap): design searches the shares under them",
    )
    fixed_gain_shares: dict[Identifier, Share] = Field(
        default_factory=dict, description="Party id -> gain share the room has agreed (all tiers)"
    )
    fixed_loss_shares: dict[Identifier, Share] = Field(
        default_factory=dict, description="Party id -> loss share the room has agreed (all tiers)"
    )
    commissioner_split: dict[Identifier, Share] | None = Field(
        default=None, description="Commissioners' split of the retained amount (fixed)"
    )
    time_limit: float = Field(default=60.0, gt=0, le=86400, description="Solver time limit, s")
    mip_gap: float = Field(default=1e-6, ge=0, le=0.5, description="Relative MIP gap accepted")

    @model_validator(mode="before")
    @classmethod
    def _search_off(cls, data):
        """`search: null` is the space of the stated terms only: held as a Search that searches
        nothing, so that writing the case out again (nulls left out) keeps it."""
        if isinstance(data, dict) and "search" in data and data["search"] is None:
            data = dict(data) | {"search": SEARCH_OFF}
        return data

    @model_validator(mode="after")
    def _check(self) -> Requirements:
        if self.reference_split is not None:
            total = sum(self.reference_split.values())
            if abs(total - 1) > 1e-9:
                raise ValueError(
                    f"reference_split sums to {100 * total:.4g}%, not 100%: adjust the shares "
                    "so they add up to exactly 100%"
                )
        check_split(self.commissioner_split)
        check_groups(self.group_limits, "group_limits")
        if self.objective == "fair_reference" and self.reference_split is None:
            raise ValueError("objective: fair_reference needs reference_split: add it")
        if self.fair_distance_max is not None and self.reference_split is None:
            raise ValueError("fair_distance_max: needs reference_split: add it")
        if self.symmetric and len(self.gain_edges or []) != len(self.loss_edges or []):
            raise ValueError(
                "symmetric: symmetric shares need as many gain edges as loss edges: give both "
                "the same number"
            )
        for name in ("gain", "loss"):
            edges = getattr(self, f"{name}_edges")
            options = getattr(self, f"{name}_edge_options")
            _check_edges(edges or [], f"{name}_edges")
            for i, opt in enumerate(options):
                _check_edges(opt, f"{name}_edge_options[{i}]")
            if options and len({len(o) for o in options}) > 1:
                raise ValueError(
                    f"{name}_edge_options give different numbers of tiers: every option needs "
                    "the same number of edges"
                )
            if options and edges:
                raise ValueError(
                    f"{name}_edges: give {name}_edges or {name}_edge_options, not both: remove one"
                )
        return self


def _check_edges(edges: list[Limit], name: str) -> None:
    """Tier edges: one kind (pounds or shares), above zero, strictly increasing."""
    if not edges:
        return
    if len({e.amount is None for e in edges}) > 1:
        raise ValueError(f"{name} mixes pounds and shares of expected spend: use one kind")
    values = [e.amount if e.amount is not None else e.share_of_expected for e in edges]
    if values[0] <= 0:
        raise ValueError(f"{name}[0] must be above zero: raise it or drop the edge")
    for k in range(1, len(values)):
        if values[k] <= values[k - 1]:
            raise ValueError(
                f"{name}[{k}] ({values[k]:g}) is not above {name}[{k - 1}] ({values[k - 1]:g}): "
                "list edges in increasing order"
            )


class Levers(Strict):
    """Optional integer decisions: design picks the best combination exactly (enumeration of
    discrete levels; each level's economics computed by the same code as check)."""

    teams: dict[Identifier, list[Annotated[int, Field(ge=0, le=100)]]] = Field(
        default_factory=dict, description="Scheme id -> team counts to choose from"
    )
    closures: dict[Identifier, list[Annotated[int, Field(ge=0, le=50)]]] = Field(
        default_factory=dict, description="Contract id -> numbers of steps (wards) to close"
    )
    release_year: dict[Identifier, list[Annotated[int, Field(ge=1, le=10)]]] = Field(
        default_factory=dict, description="Contract id -> first years a closure may save from"
    )
    run: list[Identifier] = Field(
        default_factory=list,
        description="Scheme ids design may choose to run or not (a yes/no decision each): a "
        "scheme not run has no teams, no overhead and no transformation funding",
    )

    def team_options(self, scheme: str, teams: int) -> list[int]:
        """Team counts design chooses among for a scheme whose case figure is `teams`: the
        teams lever's counts (or the case's), with 0 added when the scheme is in `run`."""
        opts = set(self.teams.get(scheme, [teams]))
        if scheme in self.run:
            opts.add(0)
        return sorted(opts)

    def combinations(self) -> int:
        n = 1
        for d in (self.teams, self.closures, self.release_year):
            for key, opts in d.items():
                extra = d is self.teams and key in self.run and 0 not in opts
                n *= max(len(opts) + extra, 1)
        return n * 2 ** len([sid for sid in self.run if sid not in self.teams])


MAX_STRUCTURES = 64
