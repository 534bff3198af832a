"""Terms and cases the design model does not search. `check` and `settle` settle them; design,
repair, explain and candidates refuse them with one line each (exit 2) rather than leave them
out of an answer without saying so."""

from __future__ import annotations

from gainshare.schema.agreement import Agreement
from gainshare.schema.case import Case
from gainshare.schema.io import InputError


def refuse_case(case: Case, where: str | None = None) -> None:
    """A risk partner has no contracts, so nothing keeps its share down but what the case
    says of it: with no keep-whole requirement and no bounds on its shares, design would give
    it every loss and no gain. Refuse that case, naming what to add (and the case file,
    `where`, when known); and refuse what design cannot yet do under group limits."""
    req = case.requirements
    bounded = (req.share_bounds, req.loss_share_bounds, req.fixed_gain_shares,
               req.fixed_loss_shares)  # fmt: skip
    file = f"{where}: " if where else ""
    lines = [
        f"keep_whole.{p.id}: '{p.id}' is a risk partner with no requirement, so design would "
        "leave it every loss and no gain: give it one in keep_whole (e.g. mode cvar with the "
        "tolerance in money a year it can bear) or fix its shares in "
        "requirements.fixed_gain_shares and fixed_loss_shares"
        for p in case.parties
        if p.is_risk_partner
        and case.keep_whole_for(p.id).mode == "none"
        and not any(p.id in b for b in bounded)
    ]
    lines += group_problems(case)
    if lines:
        raise InputError([f"{file}{line}" for line in lines])


def group_problems(case: Case) -> list[str]:
    """What design cannot yet do with the group caps and collars the case states, one line
    each: a group's limits over the whole agreement, members with limits over the whole
    agreement, members kept whole by CVaR, members that are commissioners too, incentive
    requirements, and levers to choose (models/design.md, "Group limits")."""
    req = case.requirements
    out = []
    agg = req.aggregate_limits
    if agg is not None and agg.groups:
        out.append("requirements.aggregate_limits.groups: design cannot yet search under a "
                   "group's limits over the whole agreement: state them per provider or per "
                   "year (requirements.group_limits), or settle such terms with "
                   "`gainshare check`")  # fmt: skip
    if not req.group_limits:
        return out
    for i, g in enumerate(req.group_limits):
        for pid in g.members:
            out += _member_problems(case, f"requirements.group_limits[{i}].members.{pid}", pid,
                                    g.name)  # fmt: skip
    if req.incentives is not None:
        out.append("requirements.incentives: design cannot yet require incentives under group "
                   "limits: drop one of the two")  # fmt: skip
    if case.levers is not None:
        out.append("levers: design under group limits cannot yet choose levers (they change "
                   "what each member needs): drop the levers section, so the schemes run as "
                   "the case states them, or drop the group limits")  # fmt: skip
    return out


def _member_problems(case: Case, where: str, pid: str, group: str) -> list[str]:
    req = case.requirements
    agg = req.aggregate_limits
    out = []
    if agg is not None and (pid in agg.caps or pid in agg.collars):
        out.append(f"{where}: '{pid}' also has a limit over the whole agreement "
                   "(requirements.aggregate_limits): design cannot yet combine the two: drop "
                   "one")  # fmt: skip
    mode = case.keep_whole_for(pid).mode
    if mode == "cvar":
        out.append(f"keep_whole.{pid}: design keeps a member of group '{group}' whole in every "
                   "scenario (robust), in a share of them (chance) or not at all, not by cvar "
                   "yet: use mode robust (a tolerance allows a loss), chance or none")  # fmt: skip
    if case.party(pid).is_commissioner:
        out.append(
            f"{where}: '{pid}' is a commissioner too: design cannot yet limit a group "
            "with a commissioner in it: settle such terms with `gainshare check`"
        )
    return out


def refuse_terms(agreement: Agreement, where: str = "proposal") -> None:
    """Repair keeps a proposal's structure; refuse the rules it cannot keep."""
    lines = []
    if agreement.aggregate_limits is not None and agreement.aggregate_limits.groups:
        lines.append(
            f"{where}: aggregate_limits.groups: repair cannot keep a group's caps and collars "
            "over the whole agreement yet: remove them to repair the rest, or settle the "
            "proposal as it is with `gainshare check`"
        )
    if lines:
        raise InputError(lines)
