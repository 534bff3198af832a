"""Agreement rules beyond one provider in one year (SPEC section 3): a cap or collar on a group
of providers together (MSSP caps the ACO on its benchmark, not each member), caps and collars
over the whole agreement (BPCI's aggregate cap), and a loss share that scales with quality (MSSP
ENHANCED). How each settles is written out in `models/settlement.md`."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
from pydantic import Field, model_validator

from gainshare.schema.common import Identifier, Limit, Share, Strict

if TYPE_CHECKING:  # the case imports the agreement (requirements), never the other way round
    from gainshare.schema.agreement import Agreement, Terms
    from gainshare.schema.case import Case


class GroupLimit(Strict):
    """A cap and/or collar on the transfers of several providers together."""

    name: Identifier = Field(description="Name of the group, e.g. 'aco'")
    members: list[Identifier] = Field(
        min_length=1, description="Provider ids whose transfers the limit binds together"
    )
    cap: Limit | None = Field(
        default=None,
        description="Most the members gain together: pounds, or share of the members' expected "
        "payments (their benchmark)",
    )
    collar: Limit | None = Field(
        default=None,
        description="Most the members lose together: pounds, or share of the members' expected "
        "payments",
    )

    @model_validator(mode="after")
    def _check(self) -> GroupLimit:
        if self.cap is None and self.collar is None:
            raise ValueError(f"group '{self.name}' has neither cap nor collar: give one or both")
        if len(set(self.members)) != len(self.members):
            raise ValueError(f"group '{self.name}' lists a member twice: list each once")
        return self


class AggregateLimits(Strict):
    """Caps and collars over the whole agreement: the running total of a provider's (or a
    group's) gain transfers, or of its loss transfers, over the years settled so far."""

    caps: dict[Identifier, Limit] = Field(
        default_factory=dict,
        description="Provider id -> most it gains over the whole agreement: pounds, or share of "
        "its expected payments over all years",
    )
    collars: dict[Identifier, Limit] = Field(
        default_factory=dict,
        description="Provider id -> most it loses over the whole agreement: pounds, or share of "
        "its expected payments over all years",
    )
    groups: list[GroupLimit] = Field(
        default_factory=list,
        description="Caps and collars on several providers together over the whole agreement",
    )

    @model_validator(mode="after")
    def _check(self) -> AggregateLimits:
        check_groups(self.groups, "groups")
        return self


class QualityLossRate(Strict):
    """A provider's share of a loss scaled by its quality score (MSSP ENHANCED: shared loss rate
    1 - 0.75 x quality score, at least 40% and at most 75%)."""

    intercept: float = Field(
        default=1.0,
        ge=0,
        le=2,
        allow_inf_nan=False,
        description="Loss rate at a score of 0, before the limits",
    )
    slope: float = Field(
        default=0.75,
        ge=0,
        le=2,
        allow_inf_nan=False,
        description="Fall in the loss rate per 100 points of quality score",
    )
    min_rate: Share = Field(default=0.40, description="Lowest loss rate (0..1)")
    max_rate: Share = Field(default=0.75, description="Highest loss rate (0..1)")

    @model_validator(mode="after")
    def _order(self) -> QualityLossRate:
        if self.min_rate > self.max_rate:
            raise ValueError("min_rate is above max_rate: swap them")
        return self

    def rate(self, score):
        """Loss rate at quality score(s) 0..100: clip(intercept - slope x score/100)."""
        return np.clip(
            self.intercept - self.slope * np.asarray(score) / 100.0, self.min_rate, self.max_rate
        )


def check_groups(groups: list[GroupLimit] | None, where: str) -> None:
    """Group names unique; a provider in at most one group (each limit then has one meaning)."""
    seen: dict[str, str] = {}
    names = set()
    for i, g in enumerate(groups or []):
        if g.name in names:
            raise ValueError(f"{where}[{i}].name '{g.name}' is used twice: name each group once")
        names.add(g.name)
        for pid in g.members:
            if pid in seen:
                raise ValueError(
                    f"{where}[{i}]: '{pid}' is already in group '{seen[pid]}': a provider may "
                    "be in one group only"
                )
            seen[pid] = g.name


# ---------------------------------------------------------------- against a case


def _providers_only(where: str, pids, case: Case) -> list[str]:
    ids, prov = set(case.party_ids), set(case.provider_ids)
    out = []
    for pid in pids:
        if pid not in prov:
            what = "not a party in the case" if pid not in ids else "not a provider"
            out.append(f"{where}.{pid}: '{pid}' is {what}: these limits apply to providers only")
    return out


def _group_problems(where: str, groups: list[GroupLimit] | None, case: Case) -> list[str]:
    out = []
    for i, g in enumerate(groups or []):
        out += _providers_only(f"{where}[{i}].members", g.members, case)
    return out


def terms_rule_problems(where: str, t: Terms, case: Case) -> list[str]:
    """Problems of one block of terms' group limits and quality-scaled loss shares."""
    out = _group_problems(f"{where}.group_limits", t.group_limits, case)
    lq = t.loss_quality or {}
    out += _providers_only(f"{where}.loss_quality", lq, case)
    out += [
        f"{where}.loss_quality.{pid}: the case has no quality_scores for '{pid}': add them to "
        "the case or remove the quality-scaled loss share"
        for pid in lq
        if pid in case.provider_ids and pid not in case.quality_scores
    ]
    return out


def rule_problems(agreement: Agreement, case: Case) -> list[str]:
    """Problems of the rules of this module that only show against a case."""
    blocks = [("terms", agreement.terms)] + [
        (f"year_overrides.{y}", ov) for y, ov in agreement.year_overrides.items()
    ]
    out = [p for where, t in blocks for p in terms_rule_problems(where, t, case)]
    agg = agreement.aggregate_limits
    if agg is not None:
        out += _providers_only("aggregate_limits.caps", agg.caps, case)
        out += _providers_only("aggregate_limits.collars", agg.collars, case)
        out += _group_problems("aggregate_limits.groups", agg.groups, case)
    return out
