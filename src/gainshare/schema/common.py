"""Shared building blocks of the input schema: a strict frozen base model, named number types,
uncertain parameters (distributions) and amounts that are absolute or a share of a basis."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

MAX_AMOUNT = 1e12
"""Largest amount of money (pounds, or the case's currency) a case or an agreement may state: a
trillion, beyond any health economy's budget. Larger figures are a slip (a typed 1e308)."""
MAX_UNITS = 1e9
"""Largest count of activity units, people or referrals a case may state."""

Money = Annotated[
    float, Field(ge=0, le=MAX_AMOUNT, description="Pounds (case currency), 0 to a trillion")
]
SignedMoney = Annotated[
    float,
    Field(ge=-MAX_AMOUNT, le=MAX_AMOUNT, description="Pounds, may be negative (within a trillion)"),
]
Share = Annotated[float, Field(ge=0, le=1, description="Fraction 0..1")]
Count = Annotated[float, Field(ge=0, le=MAX_UNITS, description="Units of activity")]
Value = Annotated[
    float,
    Field(ge=-MAX_AMOUNT, le=MAX_AMOUNT, description="A value in the field's unit (finite)"),
]
Identifier = Annotated[
    str,
    Field(
        pattern=r"^[A-Za-z][A-Za-z0-9_\-]{0,63}$",
        description="Short id: a letter, then letters, digits, '_' or '-'",
    ),
]
YearNumber = Annotated[int, Field(strict=False, ge=1, le=100, description="Year (1 = first)")]
"""A year number used as a mapping key: JSON and the agreement files written by design spell
it as text ('2'), so it is read leniently (the only field that is)."""


class Strict(BaseModel):
    """Base of every input model: unknown keys are errors, objects never change once built,
    and values are taken as written: a number must be a finite number (never `true`, text or
    NaN), a whole number a whole number, a yes/no a boolean."""

    model_config = ConfigDict(
        extra="forbid", frozen=True, populate_by_name=False, strict=True, allow_inf_nan=False
    )

    @model_validator(mode="before")
    @classmethod
    def _plain_numbers(cls, data):
        """numpy scalars (from tables and solver answers) as the Python numbers they are: the
        strictness is about what people write, not about numpy's integer types."""
        if isinstance(data, dict):
            return {k: _plain(v) for k, v in data.items()}
        return data


def _plain(v):
    if type(v).__module__ == "numpy" and hasattr(v, "item") and getattr(v, "ndim", 1) == 0:
        return v.item()
    if isinstance(v, list):
        return [_plain(x) for x in v]
    if isinstance(v, dict):
        return {k: _plain(x) for k, x in v.items()}
    return v


# ---------------------------------------------------------------- distributions


class Fixed(Strict):
    dist: Literal["fixed"] = Field(description="A known value")
    value: Value = Field(description="The value, in the field's unit")

    def bounds(self) -> tuple[float, float]:
        return self.value, self.value

    def central(self) -> float:
        return self.value


class Uniform(Strict):
    dist: Literal["uniform"]
    low: Value = Field(description="Lowest value, in the field's unit")
    high: Value = Field(description="Highest value, in the field's unit")

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
    low: Value = Field(description="Lowest value, in the field's unit")
    mode: Value = Field(description="Most likely value")
    high: Value = Field(description="Highest value")

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
    mean: Value = Field(description="Mean before truncation")
    sd: Value = Field(ge=0, description="Standard deviation (>= 0)")
    low: Value | None = Field(default=None, description="Truncate below")
    high: Value | None = Field(default=None, description="Truncate above")

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
    values: list[Value] = Field(min_length=1, description="Possible values, in the field's unit")
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
Scalar = Value | Distribution
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
    number = {"type": "number", "minimum": 0, "maximum": MAX_AMOUNT, "description": "Pounds"}
    schema["anyOf"] = [number, obj]


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
        if isinstance(v, int | float):  # a bool too: refused as a number, not as a mapping
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
