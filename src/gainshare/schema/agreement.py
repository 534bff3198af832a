"""The agreement: corridor, tiers, quality gateway, caps, collars, commissioners' split, and
per-year overrides (glide path). SPEC section 3 is the normative statement of how it settles."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from gainshare.schema.common import Identifier, Limit, Share, Strict, YearNumber
from gainshare.schema.rules import AggregateLimits, GroupLimit, QualityLossRate, check_groups

SHARE_TOL = 1e-9


class Corridor(Strict):
    gain_threshold: Limit = Field(
        default_factory=lambda: Limit(amount=0.0),
        description="Pool gain below which nothing is shared (a pool at least this large is "
        "shared unless strict): pounds or share of total expected spend",
    )
    loss_threshold: Limit = Field(
        default_factory=lambda: Limit(amount=0.0),
        description="Pool loss below which nothing is shared (a loss at least this large is "
        "shared unless strict): pounds or share of total expected spend",
    )
    mode: Literal["first_pound", "excess_only"] = Field(
        default="first_pound",
        description="first_pound: once outside the corridor the whole pool is shared; "
        "excess_only: only the part beyond the threshold",
    )
    strict: bool = Field(
        default=False,
        description="false (the rule of MSSP and ACA corridors): a pool exactly at a threshold "
        "is shared ('savings of at least the minimum savings rate'); true: it stays inside the "
        "corridor and nothing is shared",
    )


class Tier(Strict):
    upto: Limit | None = Field(
        default=None,
        description="Upper edge of the tier on the shareable amount (pounds or share of total "
        "expected spend); omit on the last tier",
    )
    shares: dict[Identifier, Share] = Field(
        description="Party id -> fraction of this tier's amount; over all parties sums to 1"
    )

    @model_validator(mode="after")
    def _sum(self) -> Tier:
        total = sum(self.shares.values())
        if abs(total - 1.0) > SHARE_TOL:
            raise ValueError(
                f"shares sum to {100 * total:.4g}%, not 100%: adjust them (commissioners "
                "included) so they add up to exactly 100%"
            )
        return self


class Gateway(Strict):
    """Quality gateway on a provider's gain share."""

    mode: Literal["linear", "proportional"] = Field(
        default="linear",
        description="linear: factor 1 at or above target, 0 below floor, linear between; "
        "proportional: factor = score / 100",
    )
    target: float = Field(default=100.0, ge=0, le=100, description="Score for the full share")
    floor: float = Field(default=0.0, ge=0, le=100, description="Score below which share is 0")

    @model_validator(mode="after")
    def _order(self) -> Gateway:
        if self.mode == "linear" and not self.floor < self.target:
            raise ValueError("floor must be below target: lower the floor or raise the target")
        return self


class Terms(Strict):
    """One year's terms (or every year's, when there is no glide path)."""

    corridor: Corridor = Field(default_factory=Corridor)
    gain_tiers: list[Tier] = Field(min_length=1, description="Tiers applied to gains")
    loss_tiers: list[Tier] = Field(min_length=1, description="Tiers applied to losses")
    gateway: dict[Identifier, Gateway] = Field(
        default_factory=dict, description="Provider id -> quality gateway on its gain share"
    )
    caps: dict[Identifier, Limit] = Field(
        default_factory=dict,
        description="Provider id -> most it can gain a year: pounds or share of its expected "
        "payment",
    )
    collars: dict[Identifier, Limit] = Field(
        default_factory=dict,
        description="Provider id -> most it can lose a year: pounds or share of its expected "
        "payment",
    )
    commissioner_split: dict[Identifier, Share] | None = Field(
        default=None,
        description="Commissioner id -> fraction of the retained amount; default by expected spend",
    )
    group_limits: list[GroupLimit] | None = Field(
        default=None,
        description="Caps and collars on several providers together a year (e.g. an ACO's "
        "members, capped on their benchmark); applied after each provider's own cap and collar",
    )
    loss_quality: dict[Identifier, QualityLossRate] | None = Field(
        default=None,
        description="Provider id -> loss rate from its quality score that multiplies its loss "
        "shares (MSSP ENHANCED: 1 - 0.75 x score/100, between 40% and 75%)",
    )

    @model_validator(mode="after")
    def _tiers(self) -> Terms:
        for name in ("gain_tiers", "loss_tiers"):
            _check_tier_order(getattr(self, name), name)
        check_split(self.commissioner_split)
        check_groups(self.group_limits, "group_limits")
        return self


def check_split(split: dict[str, float] | None) -> None:
    """The commissioners' split of the retained amount sums to 100%."""
    if split is not None:
        total = sum(split.values())
        if abs(total - 1) > SHARE_TOL:
            raise ValueError(
                f"commissioner_split: sums to {100 * total:.4g}%, not 100%: adjust the "
                "fractions so they add up to exactly 100%"
            )


def _check_tier_order(tiers: list[Tier], name: str) -> None:
    for k, t in enumerate(tiers[:-1]):
        if t.upto is None:
            raise ValueError(f"{name}[{k}].upto is missing: every tier but the last needs one")
    if tiers[-1].upto is not None:
        raise ValueError(f"{name}[{len(tiers) - 1}].upto must be omitted: the last tier is open")
    edges = [t.upto for t in tiers[:-1]]
    kinds = {e.amount is None for e in edges}
    if len(kinds) > 1:
        raise ValueError(
            f"{name} mixes pounds and shares of expected spend in 'upto': use one kind"
        )
    values = [e.amount if e.amount is not None else e.share_of_expected for e in edges]
    for k in range(1, len(values)):
        if values[k] <= values[k - 1]:
            raise ValueError(
                f"{name}[{k}].upto is {values[k]:g}, not above {name}[{k - 1}].upto "
                f"({values[k - 1]:g}): list tiers in increasing order"
            )
    if values and values[0] <= 0:
        raise ValueError(f"{name}[0].upto must be above zero: raise it or drop the tier")


class YearOverride(Terms):
    """Fields given here replace that year's terms; fields left out keep the base terms."""

    gain_tiers: list[Tier] | None = None  # type: ignore[assignment]
    loss_tiers: list[Tier] | None = None  # type: ignore[assignment]
    corridor: Corridor | None = None  # type: ignore[assignment]
    gateway: dict[Identifier, Gateway] | None = None  # type: ignore[assignment]
    caps: dict[Identifier, Limit] | None = None  # type: ignore[assignment]
    collars: dict[Identifier, Limit] | None = None  # type: ignore[assignment]

    @model_validator(mode="after")
    def _tiers(self) -> YearOverride:  # type: ignore[override]
        for name in ("gain_tiers", "loss_tiers"):
            if getattr(self, name) is not None:
                _check_tier_order(getattr(self, name), name)
        check_split(self.commissioner_split)
        check_groups(self.group_limits, "group_limits")
        return self


class Agreement(Strict):
    """A gain/loss sharing agreement, settled by SPEC section 3."""

    name: str = Field(default="agreement", description="Name of the agreement")
    case: str | None = Field(default=None, description="Name of the case it was written for")
    terms: Terms = Field(description="Terms that apply every year unless overridden")
    year_overrides: dict[YearNumber, YearOverride] = Field(
        default_factory=dict,
        description="Glide path: year number (1 = first) -> terms that differ that year",
    )
    aggregate_limits: AggregateLimits | None = Field(
        default=None,
        description="Caps and collars over the whole agreement, all years together (e.g. BPCI's "
        "aggregate cap); applied after the yearly limits, year by year in order",
    )
    notes: str = Field(default="", description="Free text shown in the term sheet")

    def terms_for_year(self, year: int) -> Terms:
        """Resolved terms of year `year` (1-based)."""
        ov = self.year_overrides.get(year)
        if ov is None:
            return self.terms
        upd = {k: v for k, v in ov.model_dump(exclude_unset=True).items() if v is not None}
        data = self.terms.model_dump(exclude_unset=True) | upd
        return Terms.model_validate(data)
