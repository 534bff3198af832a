"""What `design` must achieve and what it may choose: requirements, objective, and the optional
integer levers. Keep-whole requirements per party live in the case (`keep_whole`)."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, model_validator

from gainshare.schema.agreement import Corridor, Gateway, check_split
from gainshare.schema.common import MAX_AMOUNT, Identifier, Limit, Share, SignedMoney, Strict

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
    corridor: Corridor = Field(
        default_factory=Corridor, description="Corridor used when no options are given"
    )
    corridor_options: list[Corridor] = Field(
        default_factory=list,
        description="Candidate corridors: design picks the best one (exact, by enumeration)",
    )
    gain_edges: list[Limit] = Field(
        default_factory=list,
        description="Upper edges of all but the last gain tier (pounds or share of expected "
        "spend); number of tiers = edges + 1",
    )
    loss_edges: list[Limit] = Field(default_factory=list, description="Same for losses")
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
        default="none", description="Shares in whole 1% or 5% steps, or any value"
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
        if self.objective == "fair_reference" and self.reference_split is None:
            raise ValueError("objective: fair_reference needs reference_split: add it")
        if self.fair_distance_max is not None and self.reference_split is None:
            raise ValueError("fair_distance_max: needs reference_split: add it")
        if self.symmetric and len(self.gain_edges) != len(self.loss_edges):
            raise ValueError(
                "symmetric: symmetric shares need as many gain edges as loss edges: give both "
                "the same number"
            )
        for name in ("gain", "loss"):
            edges = getattr(self, f"{name}_edges")
            options = getattr(self, f"{name}_edge_options")
            _check_edges(edges, f"{name}_edges")
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

    def combinations(self) -> int:
        n = 1
        for d in (self.teams, self.closures, self.release_year):
            for opts in d.values():
                n *= max(len(opts), 1)
        return n


MAX_STRUCTURES = 64
