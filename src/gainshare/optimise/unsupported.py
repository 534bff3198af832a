"""Terms and cases the design model does not search. `check` and `settle` settle them; design,
repair, explain and candidates refuse them with one line each (exit 2) rather than leave them
out of an answer without saying so."""

from __future__ import annotations

from gainshare.schema.agreement import Agreement
from gainshare.schema.case import Case
from gainshare.schema.io import InputError

RULES = {
    "group_limits": "caps and collars on a group of providers",
}


def refuse_case(case: Case, where: str | None = None) -> None:
    """A risk partner has no contracts, so nothing keeps its share down but what the case
    says of it: with no keep-whole requirement and no bounds on its shares, design would give
    it every loss and no gain. Refuse that case, naming what to add (and the case file,
    `where`, when known)."""
    req = case.requirements
    bounded = (req.share_bounds, req.loss_share_bounds, req.fixed_gain_shares,
               req.fixed_loss_shares)  # fmt: skip
    file = f"{where}: " if where else ""
    lines = [
        f"{file}keep_whole.{p.id}: '{p.id}' is a risk partner with no requirement, so design would "
        "leave it every loss and no gain: give it one in keep_whole (e.g. mode cvar with the "
        "tolerance in money a year it can bear) or fix its shares in "
        "requirements.fixed_gain_shares and fixed_loss_shares"
        for p in case.parties
        if p.is_risk_partner
        and case.keep_whole_for(p.id).mode == "none"
        and not any(p.id in b for b in bounded)
    ]
    if lines:
        raise InputError(lines)


def refuse_terms(agreement: Agreement, where: str = "proposal") -> None:
    """Repair keeps a proposal's structure; refuse the rules it cannot keep."""
    blocks = [("terms", agreement.terms)] + [
        (f"year_overrides.{y}", ov) for y, ov in agreement.year_overrides.items()
    ]
    lines = [
        f"{where}: {name}.{part}: repair cannot keep {words} yet: remove them to repair the "
        "rest, or settle the proposal as it is with `gainshare check`"
        for name, t in blocks
        for part, words in RULES.items()
        if getattr(t, part)
    ]
    if agreement.aggregate_limits is not None:
        lines.append(
            f"{where}: aggregate_limits: repair cannot keep caps and collars over the "
            "whole agreement yet: remove them to repair the rest, or settle the "
            "proposal as it is with `gainshare check`"
        )
    if lines:
        raise InputError(lines)
