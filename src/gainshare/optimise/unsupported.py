"""Terms and parties the design model does not search yet. `check` and `settle` settle them;
design, repair, explain and candidates refuse them with one line each (exit 2) rather than
leave them out of an answer without saying so."""

from __future__ import annotations

from gainshare.schema.agreement import Agreement
from gainshare.schema.case import Case
from gainshare.schema.io import InputError

RULES = {
    "group_limits": "caps and collars on a group of providers",
    "loss_quality": "quality-scaled loss shares",
}


def refuse_case(case: Case) -> None:
    """A risk partner's share is not a decision of the design model: refuse the case."""
    rp = [p.id for p in case.parties if p.is_risk_partner]
    if rp:
        raise InputError(
            [
                f"parties.{pid}: '{pid}' is a risk partner, whose share design does not "
                "search yet: write the agreement with its share by hand and settle it with "
                "`gainshare check`"
                for pid in rp
            ]
        )


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
