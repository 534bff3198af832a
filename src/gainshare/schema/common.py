"""Shared building blocks of the input schema: a strict frozen base model, named number types,
uncertain parameters (distributions) and amounts that are absolute or a share of a basis."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

Money = Annotated[float, Field(ge=0, allow_inf_nan=False, description="Pounds (case currency)")]
SignedMoney = Annotated[float, Field(allow_inf_nan=False, description="Pounds, may be negative")]
Share = Annotated[float, Field(ge=0, le=1, allow_inf_nan=False, description="Fraction 0..1")]
Count = Annotated[float, Field(ge=0, allow_inf_nan=False, description="Units of activity")]
Identifier = Annotated[
    str,
    Field(
        pattern=r"^[A-Za-z][A-Za-z0-9_\-]{0,63}$",
        description="Short id: a letter, then letters, digits, '_' or '-'",
    ),
]


class Strict(BaseModel):
    """Base of every input model: unknown keys are errors, objects never change once built."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=False)


# ---------------------------------------------------------------- distributions


class Fixed(Strict):
    dist: Literal["fixed"] = Field(description="A known value")
    value: float = Field(allow_inf_nan=False, description="The value, in the field's unit")

    def bounds(self) -> tuple[float, float]:
        return self.value, self.value

    def central(self) -> float:
        return self.value


class Uniform(Strict):
    dist: Literal["uniform"]
    low: float = Field(allow_inf_nan=False, description="Lowest value, in the field's unit")
    high: float = Field(allow_inf_nan=False, description="Highest value, in the field's unit")

    @model_validator(mode="after")
    def _order(self) -> Uniform:
        if self.high < self.low:
            raise ValueError("high is below low: swap them so that low <= high")
        return self

    def bounds(self) -> tuple[float, float]:
        return self.low, self.high

    def central(self) -> float:
        return 0.5 * (self.low + self.high)


class Triangular(Strict):
    dist: Literal["triangular"]
    low: float = Field(allow_inf_nan=False, description="Lowest value, in the field's unit")
    mode: float = Field(allow_inf_nan=False, description="Most likely value")
    high: float = Field(allow_inf_nan=False, description="Highest value")

    @model_validator(mode="after")
    def _order(self) -> Triangular:
        if not (self.low <= self.mode <= self.high):
            raise ValueError("needs low <= mode <= high: put the three values in that order")
        return self

    def bounds(self) -> tuple[float, float]:
        return self.low, self.high

    def central(self) -> float:
        return self.mode


class Normal(Strict):
    dist: Literal["normal"]
    mean: float = Field(allow_inf_nan=False, description="Mean before truncation")
    sd: float = Field(ge=0, allow_inf_nan=False, description="Standard deviation (>= 0)")
    low: float | None = Field(default=None, allow_inf_nan=False, description="Truncate below")
    high: float | None = Field(default=None, allow_inf_nan=False, description="Truncate above")

    @model_validator(mode="after")
    def _order(self) -> Normal:
        lo, hi = self.bounds()
        if hi < lo:
            raise ValueError("high is below low: swap them so that low <= high")
        if not (lo <= self.mean <= hi):
            raise ValueError("mean lies outside [low, high]: move the mean inside the bounds")
        return self

    def bounds(self) -> tuple[float, float]:
        lo = self.mean - 4 * self.sd if self.low is None else self.low
        hi = self.mean + 4 * self.sd if self.high is None else self.high
        return lo, hi

    def central(self) -> float:
        return self.mean


class Discrete(Strict):
    dist: Literal["discrete"]
    values: list[float] = Field(min_length=1, description="Possible values, in the field's unit")
    probs: list[Share] = Field(min_length=1, description="Probability of each value; sum to 1")

    @model_validator(mode="after")
    def _probs(self) -> Discrete:
        if len(self.values) != len(self.probs):
            raise ValueError("values and probs differ in length: give one probability per value")
        if abs(sum(self.probs) - 1.0) > 1e-9:
            raise ValueError(
                f"probs sum to {sum(self.probs):.6g}, not 1: adjust them so they add up to 1"
            )
        return self

    def bounds(self) -> tuple[float, float]:
        return min(self.values), max(self.values)

    def central(self) -> float:
        return float(sum(v * p for v, p in zip(self.values, self.probs, strict=True)))


Distribution = Annotated[
    Fixed | Uniform | Triangular | Normal | Discrete, Field(discriminator="dist")
]
Scalar = float | Distribution
Param = Scalar | list[Scalar]
"""An uncertain parameter: a number, a distribution, or a list with one entry per year."""


def param_field(description: str, default=None, **kw):
    """A Field for an uncertain parameter (number, distribution, or one per year)."""
    text = description + " (a number, a distribution, or a list with one per year)"
    if default is None:
        return Field(description=text, **kw)
    return Field(default=default, description=text, **kw)


def param_bounds(p: Param) -> tuple[float, float]:
    """Smallest and largest value the parameter can take in any year."""
    items = p if isinstance(p, list) else [p]
    lows, highs = [], []
    for it in items:
        lo, hi = (float(it), float(it)) if isinstance(it, int | float) else it.bounds()
        lows.append(lo)
        highs.append(hi)
    return min(lows), max(highs)


def param_is_uncertain(p: Param) -> bool:
    items = p if isinstance(p, list) else [p]
    return any(not isinstance(it, int | float) and it.bounds()[0] != it.bounds()[1] for it in items)


# ---------------------------------------------------------------- amounts


def _limit_schema(schema: dict) -> None:
    """JSON Schema of a Limit: a bare number (pounds) is accepted as well as the mapping."""
    obj = dict(schema)
    schema.clear()
    schema["anyOf"] = [{"type": "number", "minimum": 0, "description": "Pounds"}, obj]


class Limit(Strict):
    """An amount that is either absolute (pounds) or a share of a stated basis."""

    model_config = ConfigDict(
        extra="forbid", frozen=True, populate_by_name=False, json_schema_extra=_limit_schema
    )

    amount: Money | None = Field(default=None, description="Absolute amount in pounds")
    share_of_expected: Share | None = Field(
        default=None,
        description="Fraction of the basis (expected spend or the party's expected payment)",
    )

    @model_validator(mode="before")
    @classmethod
    def _shorthand(cls, v):
        if isinstance(v, int | float) and not isinstance(v, bool):
            return {"amount": v}
        return v

    @model_validator(mode="after")
    def _one(self) -> Limit:
        if (self.amount is None) == (self.share_of_expected is None):
            raise ValueError("give exactly one of 'amount' (pounds) or 'share_of_expected' (0..1)")
        return self

    def resolve(self, basis):
        """Pounds: the amount, or the share times the basis (scalar or array)."""
        if self.amount is not None:
            return self.amount + 0 * basis
        return self.share_of_expected * basis
