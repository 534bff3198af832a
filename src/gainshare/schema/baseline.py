"""How a case's baseline (the commissioners' expected spend without the scheme) moves over the
agreement: trended by a growth rate or a stated index, adjusted for population or risk by a
factor per year from data, and rebased to an outturn for a renewed agreement.

The rules scale each contract's expected activity and, with it, its fixed sums (a block's
fixed payment, a capitation payment), so the case's scenarios move with the baseline; at
settlement the baseline is the expected spend the actual year is measured against. The
formulas are in `models/settlement.md`."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Literal

from pydantic import Field, model_validator

from gainshare.schema.common import Count, Identifier, Share, Strict

if TYPE_CHECKING:
    from gainshare.schema.case import Case

Factor = Annotated[float, Field(gt=0, le=10, allow_inf_nan=False, description="Multiplier")]


class Trend(Strict):
    """Growth of expected spend: a rate a year, or a stated index with one value per year."""

    rate: float | None = Field(
        default=None,
        ge=-0.5,
        le=1.0,
        allow_inf_nan=False,
        description="Growth a year, e.g. 0.03 for 3%: year y's index is (1 + rate)^(y - 1)",
    )
    index: list[Factor] | None = Field(
        default=None, description="Stated index, one value per year (1 = the case's figures)"
    )
    source: str = Field(default="", description="Where the trend comes from, for the term sheet")

    @model_validator(mode="after")
    def _one(self) -> Trend:
        if (self.rate is None) == (self.index is None):
            raise ValueError("give exactly one of 'rate' (growth a year) or 'index' (one a year)")
        return self

    def factors(self, years: int) -> list[float]:
        if self.index is not None:
            return [float(v) for v in self.index]
        return [float((1.0 + self.rate) ** y) for y in range(years)]


class Adjustment(Strict):
    """A factor per year from data: the change in the population covered or in its risk."""

    basis: Literal["population", "risk"] = Field(
        default="population", description="What the factors measure: population or risk"
    )
    factors: list[Factor] = Field(
        min_length=1, description="One factor per year (1 = no change from the case's figures)"
    )
    source: str = Field(default="", description="Where the factors come from (the data)")


class Rebase(Strict):
    """A renewed agreement's baseline reset to the outturn of an earlier period."""

    outturn: str = Field(min_length=1, description="The outturn rebased to, e.g. '2028/29 actuals'")
    expected_units: dict[Identifier, Count] = Field(
        min_length=1,
        description="Contract id -> units of that outturn: the contract's new expected units "
        "in the first year (before trend and adjustments)",
    )
    weight: Share = Field(
        default=1.0,
        description="Weight of the outturn; the rest stays on the case's own expected units "
        "(a blend, as MSSP weights its benchmark years)",
    )


class Baseline(Strict):
    """Trend, adjustments and rebasing of the expected spend (all optional)."""

    contracts: list[Identifier] | None = Field(
        default=None,
        description="Contract ids the trend and adjustments apply to (default: every contract)",
    )
    trend: Trend | None = Field(default=None, description="Growth of expected spend")
    adjustments: list[Adjustment] = Field(
        default_factory=list, description="Population or risk factors per year (multiplied)"
    )
    rebase: Rebase | None = Field(default=None, description="Rebasing for a renewed agreement")

    def factors(self, years: int) -> list[float]:
        """The product of the trend index and every adjustment, one per year."""
        out = self.trend.factors(years) if self.trend is not None else [1.0] * years
        for a in self.adjustments:
            out = [f * float(v) for f, v in zip(out, a.factors, strict=True)]
        return out

    def applies_to(self, contract_id: str) -> bool:
        return self.contracts is None or contract_id in self.contracts


def check_baseline(case: Case) -> None:
    """Contract ids exist and every per-year list matches the horizon."""
    b = case.baseline
    if b is None:
        return
    years, cids = case.horizon.years, {c.id for c in case.contracts}
    for i, cid in enumerate(b.contracts or []):
        if cid not in cids:
            raise ValueError(f"baseline.contracts[{i}]: '{cid}' is not in contracts: fix the id")
    lists = [("baseline.trend.index", b.trend.index if b.trend else None)] + [
        (f"baseline.adjustments[{i}].factors", a.factors) for i, a in enumerate(b.adjustments)
    ]
    for where, values in lists:
        if values is not None and len(values) != years:
            raise ValueError(
                f"{where} has {len(values)} values but the horizon is {years} years: give "
                f"exactly {years}, one per year"
            )
    for cid in b.rebase.expected_units if b.rebase else {}:
        if cid not in cids:
            raise ValueError(
                f"baseline.rebase.expected_units.{cid}: '{cid}' is not in contracts: fix the id"
            )
