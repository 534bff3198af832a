"""Plain data (a parsed YAML or JSON file, an assembled workbook, an edited case in the app)
into validated models, every problem said in one line; and the figures that parse but look
like a units slip, said as warnings."""

from __future__ import annotations

from pydantic import ValidationError

from gainshare.errors import InputError
from gainshare.schema.agreement import Agreement
from gainshare.schema.case import Case
from gainshare.schema.messages import format_validation
from gainshare.schema.rules import rule_problems
from gainshare.units import currency_words, money


def case_from_mapping(data: dict, name: str = "case") -> Case:
    try:
        return Case.model_validate(data)
    except ValidationError as e:
        raise InputError(format_validation(name, e)) from None


def agreement_from_mapping(data: dict, name: str = "agreement", case: Case | None = None):
    try:
        agreement = Agreement.model_validate(data)
    except ValidationError as e:
        raise InputError(format_validation(name, e)) from None
    if case is not None:
        problems = [f"{name}: {p}" for p in agreement_problems(agreement, case)]
        if problems:
            raise InputError(problems)
    return agreement


def agreement_problems(agreement: Agreement, case: Case) -> list[str]:
    """Problems that only show against a case: unknown parties, roles, horizon."""
    out: list[str] = []
    n = case.horizon.years
    for y in agreement.year_overrides:
        if not 1 <= y <= n:
            out.append(
                f"year_overrides.{y}: the case runs {n} year{'s' if n != 1 else ''}: use a year "
                f"from 1 to {n}"
            )
    blocks = [("terms", agreement.terms)] + [
        (f"year_overrides.{y}", ov) for y, ov in agreement.year_overrides.items()
    ]
    for where, t in blocks:
        out += _term_problems(where, t, case)
    return out + rule_problems(agreement, case)


def _term_problems(where: str, t, case: Case) -> list[str]:
    """Parties named by one block of terms (the base terms or a year's override)."""
    out: list[str] = []
    ids, prov, comm = set(case.party_ids), set(case.provider_ids), set(case.commissioner_ids)
    for kind in ("gain_tiers", "loss_tiers"):
        for k, tier in enumerate(getattr(t, kind) or []):
            out += [
                f"{where}.{kind}[{k}].shares.{pid}: no party '{pid}' in the case: "
                "fix the id or add the party"
                for pid in tier.shares
                if pid not in ids
            ]
    for kind in ("caps", "collars", "gateway"):
        for pid in getattr(t, kind) or {}:
            if pid not in prov:
                what = "not a party in the case" if pid not in ids else "not a provider"
                out.append(
                    f"{where}.{kind}.{pid}: '{pid}' is {what}: {kind} apply to providers only"
                )
    out += [
        f"{where}.commissioner_split.{pid}: '{pid}' is not a commissioner in the case: "
        "split the retained amount among commissioners only"
        for pid in t.commissioner_split or {}
        if pid not in comm
    ]
    out += [
        f"{where}.gateway.{pid}: the case has no quality_scores for '{pid}': add "
        "them to the case or remove the gateway"
        for pid in t.gateway or {}
        if pid in prov and pid not in case.quality_scores
    ]
    return out


def case_warnings(case: Case) -> list[str]:
    """Figures that parse but look like a units slip (e.g. a ward costing 2 instead of 2m), said
    in the case's own currency, each as 'FIELD: what looks wrong: check'."""
    many = currency_words(case.currency)[1]
    cur = case.currency
    out = []
    for i, c in enumerate(case.contracts):
        st = c.costs.stepped
        if st is not None and st.cost_per_step < 10_000:
            out.append(
                f"contracts[{i}].costs.stepped.cost_per_step: is {money(st.cost_per_step, cur)}: "
                f"a ward or team usually costs hundreds of thousands of {many} a year; check the "
                "units"
            )
        if c.rule in ("activity", "blended") and 0 < c.price < 10:
            out.append(
                f"contracts[{i}].price: is {c.price:,.2f} {many} per {c.unit}: check it is in "
                f"{many}, not thousands of {many}"
            )
        if c.rule == "block" and c.fixed_payment is not None and 0 < c.fixed_payment < 10_000:
            out.append(
                f"contracts[{i}].fixed_payment: is {money(c.fixed_payment, cur)} a year: check the "
                f"units (whole {many}, not thousands)"
            )
    return out
