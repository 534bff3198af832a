"""`repair`: the nearest agreement to the room's proposal (weighted L1 over its terms) that meets
every requirement. The proposal's structure (corridor, tier edges, quality gateway, glide path
or not) is kept; shares, caps and collars move. When no agreement with the proposal's caps and
collars meets every requirement, a cap and a collar may be added for any provider the case's
drafting space allows, each counted from 'none' (a limit that never binds). See
models/repair.md."""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np
import pyomo.environ as pyo

from gainshare.optimise.design_model import TIE_BREAK, limit_top
from gainshare.optimise.designer import Designer
from gainshare.optimise.unsupported import refuse_terms
from gainshare.schema.agreement import Agreement
from gainshare.schema.case import Case
from gainshare.schema.io import InputError, agreement_problems, agreement_to_dict
from gainshare.schema.requirements import LimitRule
from gainshare.settle.check import CheckResult, check
from gainshare.settle.requirements import failures
from gainshare.units import money

DEFAULT_WEIGHTS = {"shares": 1.0, "caps": 1.0, "collars": 1.0}


@dataclass(frozen=True)
class RepairResult:
    status: str  # unchanged | repaired | infeasible | time_limit | error
    proposal: Agreement
    proposal_check: CheckResult
    proposal_failures: list[dict]
    agreement: Agreement | None
    check: CheckResult | None
    changes: list[str] = field(default_factory=list)
    distance: float | None = None
    message: str = ""
    timings: dict = field(default_factory=dict)

    @property
    def document(self) -> dict:
        return {
            "command": "repair",
            "status": self.status,
            "message": self.message,
            "proposal": {
                "agreement": agreement_to_dict(self.proposal),
                "failures": self.proposal_failures,
                "check": self.proposal_check.document,
            },
            "agreement": agreement_to_dict(self.agreement) if self.agreement else None,
            "check": self.check.document if self.check else None,
            "changes": self.changes,
            "distance": self.distance,
            "timings": self.timings,
        }


def _structure(case: Case, proposal: Agreement, add_limits: bool = False) -> Case:
    """The case with requirements that fix the proposal's structure and free its numbers;
    `add_limits`: also a cap and a collar to decide for every provider the case's drafting
    space allows one (`_addable`)."""
    refuse_terms(proposal)
    base = proposal.terms
    overrides = proposal.year_overrides
    for y, ov in overrides.items():
        for part in ("corridor", "gateway"):
            if getattr(ov, part) is not None and getattr(ov, part) != getattr(base, part):
                raise InputError(
                    [
                        f"proposal: year_overrides.{y}.{part}: repair keeps one "
                        f"{part} for every year: move it into terms"
                    ]
                )
        for part in ("gain_tiers", "loss_tiers"):
            tiers = getattr(ov, part)
            if tiers is not None and [t.upto for t in tiers] != [
                t.upto for t in getattr(base, part)
            ]:
                raise InputError(
                    [
                        f"proposal: year_overrides.{y}.{part}: repair needs the same "
                        "tier edges in every year"
                    ]
                )
    req = case.requirements.model_dump()

    def rules(kind: str) -> dict:
        out = {}
        for y in range(1, case.horizon.years + 1):
            for pid, lim in getattr(proposal.terms_for_year(y), kind).items():
                basis = "amount" if lim.amount is not None else "share_of_expected"
                out[pid] = {"decide": True, "basis": basis}
        if add_limits:
            for pid, rule in _addable(case, kind).items():
                out.setdefault(pid, rule.model_dump())
        return out

    req.update(
        corridor=base.corridor.model_dump(),
        corridor_options=[],
        gain_edges=[t.upto.model_dump() for t in base.gain_tiers[:-1]],
        loss_edges=[t.upto.model_dump() for t in base.loss_tiers[:-1]],
        gain_edge_options=[],
        loss_edge_options=[],
        gateway={k: v.model_dump() for k, v in base.gateway.items()},
        gateway_options=[],
        caps=rules("caps"),
        collars=rules("collars"),
        glide_path=bool(overrides),
        commissioner_split=base.commissioner_split,
        symmetric=False,
    )
    return Case.model_validate(case.model_dump() | {"requirements": req, "levers": None})


def _addable(case: Case, kind: str) -> dict:
    """{provider: rule} of the caps or collars design may search for providers: those the case
    states as decided, and, with the drafting space's `caps`/`collars` on, every provider."""
    req = case.requirements
    stated = getattr(req, kind)
    out = {pid: r for pid, r in stated.items() if r.decide}
    if req.search is not None and getattr(req.search, kind):
        for pid in case.provider_ids:
            if pid not in stated:
                out[pid] = LimitRule(decide=True)
    return out


def _add_distance(designer: Designer, proposal: Agreement, weights: dict[str, float]) -> None:
    """repair_gap_* >= |term - proposal term|; repair_distance is their weighted sum. A cap or
    collar the proposal does not have counts from the largest gain or loss the provider could
    meet (`limit_top`): 'none' is a limit that never binds."""
    m, d = designer.model, designer.data
    years = list(range(1, d.case.horizon.years + 1))
    yt_year = {yt: (years[yt] if d.term_years > 1 else 1) for yt in range(d.term_years)}
    terms = {yt: proposal.terms_for_year(y) for yt, y in yt_year.items()}
    m.repair_share_gap = pyo.Var(pyo.Any, dense=False, bounds=(0, None))
    m.repair_limit_gap = pyo.Var(pyo.Any, dense=False, bounds=(0, None))
    m.repair_gap_rows = pyo.ConstraintList()
    cost = 0
    for kind, var in (("gain", m.gain_share), ("loss", m.loss_share)):
        for (k, p, yt), x in var.items():
            tier = getattr(terms[yt], f"{kind}_tiers")[k]
            x0 = tier.shares.get(d.party_ids[p], 0.0)
            gap = m.repair_share_gap[kind, k, p, yt]
            m.repair_gap_rows.add(gap >= x - x0)
            m.repair_gap_rows.add(gap >= x0 - x)
            cost += weights["shares"] * 100 * gap  # per percentage point
        # the commissioners' part of each tier (the rest) moves too, and counts the same way
        for k, yt in {(k, yt) for (k, _, yt) in var}:
            tier = getattr(terms[yt], f"{kind}_tiers")[k]
            rest0 = 1.0 - sum(tier.shares.get(d.party_ids[p], 0.0) for p in d.providers)
            rest = 1.0 - sum(var[k, p, yt] for p in d.providers)
            gap = m.repair_share_gap[kind, k, "commissioners", yt]
            m.repair_gap_rows.add(gap >= rest - rest0)
            m.repair_gap_rows.add(gap >= rest0 - rest)
            cost += weights["shares"] * 100 * gap
    for name, var in (("caps", m.cap), ("collars", m.collar)):
        for (p, yt), x in var.items():
            pid = d.party_ids[p]
            lim = getattr(terms[yt], name).get(pid)
            rule = (d.cap_rule if name == "caps" else d.collar_rule)(pid)
            if rule.basis == "amount":
                x0 = (lim.amount or 0.0) / d.scale if lim is not None else None
                per_point = 100 / max(float(np.mean(d.exp_pay[:, :, p])), 1e-9)
            else:
                x0 = (lim.share_of_expected or 0.0) if lim is not None else None
                per_point = 100.0
            if x0 is None:  # none in the proposal: a limit that never binds
                x0 = limit_top(d, name[:-1], p)
            gap = m.repair_limit_gap[name, p, yt]
            m.repair_gap_rows.add(gap >= x - x0)
            m.repair_gap_rows.add(gap >= x0 - x)
            cost += weights[name] * per_point * gap  # per 1% of expected payment
    m.repair_distance = pyo.Expression(expr=cost)
    m.del_component(m.objective)
    m.objective = pyo.Objective(
        expr=-m.repair_distance + TIE_BREAK * m.retained_expected, sense=pyo.maximize
    )


def _limit_blocks(designer: Designer, after: dict):
    """(word, provider id, top, year, block) for each decided cap or collar and each block of
    terms of the answer `after` (a dict): `top` is the largest gain or loss the provider could
    ever meet, in the limit's units (a larger limit never binds)."""
    d = designer.data
    for name, word in (("cap", "caps"), ("collar", "collars")):
        group = designer.model._capped if name == "cap" else designer.model._collared
        for p in sorted(group):
            pid = d.party_ids[p]
            rule = (d.cap_rule if name == "cap" else d.collar_rule)(pid)
            top = limit_top(d, name, p) * (d.scale if rule.basis == "amount" else 1.0)
            blocks = [(1, after["terms"])] + [
                (int(y), blk) for y, blk in after.get("year_overrides", {}).items()
            ]
            for y, block in blocks:
                yield word, pid, top, y, block


def _keep_idle_limits(designer: Designer, proposal: Agreement, after: dict) -> dict:
    """A cap or collar that cannot bind at the proposal's value (above the largest gain or loss
    the provider could ever meet) stays as proposed: the settlement is the same either way."""
    for word, pid, top, y, block in _limit_blocks(designer, after):
        lim = getattr(proposal.terms_for_year(y), word).get(pid)
        got = (block.get(word) or {}).get(pid)
        if lim is None or got is None:
            continue
        v0 = lim.amount if lim.amount is not None else lim.share_of_expected
        v1 = got.get("amount", got.get("share_of_expected"))
        if v0 >= top - 1e-9 and v1 >= top * (1 - 1e-9) - 1e-9:
            block[word][pid] = lim.model_dump(exclude_none=True)
    return after


def _drop_unused_added(designer: Designer, proposal: Agreement, after: dict) -> dict:
    """A cap or collar the proposal did not have that came out at or above the largest gain or
    loss the provider could meet never binds: it is left out."""
    for word, pid, top, y, block in _limit_blocks(designer, after):
        got = (block.get(word) or {}).get(pid)
        if got is None or pid in getattr(proposal.terms_for_year(y), word):
            continue
        if got.get("amount", got.get("share_of_expected")) >= top * (1 - 1e-9) - 1e-9:
            del block[word][pid]
    return after


def _pct(v: float) -> str:
    return f"{100 * v:.2f}%".replace(".00%", "%")


def _share_changes(case: Case, a, b) -> list[str]:
    out = []
    for kind in ("gain", "loss"):
        ta_all, tb_all = getattr(a, f"{kind}_tiers"), getattr(b, f"{kind}_tiers")
        for k, (ta, tb) in enumerate(zip(ta_all, tb_all, strict=True)):
            tier = f" (tier {k + 1})" if len(ta_all) > 1 else ""
            for pid in case.party_ids:
                va, vb = ta.shares.get(pid, 0.0), tb.shares.get(pid, 0.0)
                if abs(va - vb) >= 5e-5:
                    out.append(
                        f"{case.party(pid).name}'s {kind} share{tier}: {_pct(va)} -> {_pct(vb)}"
                    )
    return out


def _limit_text(case: Case, lim) -> str:
    if lim.amount is not None:
        return money(lim.amount, case.currency)
    return f"{_pct(lim.share_of_expected)} of its expected payment"


def _limit_changes(case: Case, a, b) -> list[str]:
    out = []
    for name, word in (("caps", "cap"), ("collars", "collar")):
        for pid in sorted(set(getattr(b, name)) - set(getattr(a, name))):
            lim = getattr(b, name)[pid]
            out.append(f"{case.party(pid).name}'s {word}: none -> {_limit_text(case, lim)} (added)")
        for pid in sorted(set(getattr(a, name)) & set(getattr(b, name))):
            la, lb = getattr(a, name)[pid], getattr(b, name)[pid]
            who = f"{case.party(pid).name}'s {word}"
            if la.amount is not None and abs(la.amount - lb.amount) >= 0.5:
                out.append(
                    f"{who}: {money(la.amount, case.currency)} -> {money(lb.amount, case.currency)}"
                )
            elif la.amount is None and abs(la.share_of_expected - lb.share_of_expected) >= 5e-5:
                out.append(
                    f"{who}: {_pct(la.share_of_expected)} -> "
                    f"{_pct(lb.share_of_expected)} of its expected payment"
                )
    return out


def describe_changes(case: Case, before: Agreement, after: Agreement) -> list[str]:
    """What moved, in words; year by year only where the changes differ between years."""
    per_year = []
    for y in range(1, case.horizon.years + 1):
        a, b = before.terms_for_year(y), after.terms_for_year(y)
        per_year.append(_share_changes(case, a, b) + _limit_changes(case, a, b))
    if all(lines == per_year[0] for lines in per_year):
        return per_year[0]
    labels = case.horizon.labels()
    return [f"{labels[y]}: {line}" for y, lines in enumerate(per_year) for line in lines]


def repair(
    case: Case,
    proposal: Agreement,
    weights: dict[str, float] | None = None,
    add_limit_seconds: float | None = None,
) -> RepairResult:
    """Nearest agreement to `proposal` that meets every requirement of `case`.
    `add_limit_seconds`: time allowed for the second try, with caps and collars added (default:
    the case's time limit); a workshop gives it a few seconds."""
    t0 = time.perf_counter()
    problems = agreement_problems(proposal, case)
    if problems:
        raise InputError([f"proposal: {p}" for p in problems])
    w = DEFAULT_WEIGHTS | (weights or {})
    before = check(case, proposal)
    fails = failures(case, proposal, before)
    if not fails:
        return RepairResult(
            "unchanged",
            proposal,
            before,
            [],
            proposal,
            before,
            ["Nothing moved: the proposal already meets every requirement."],
            0.0,
            timings={"total_s": round(time.perf_counter() - t0, 4)},
        )
    designer = Designer(_structure(case, proposal), method="mip")
    _add_distance(designer, proposal, w)
    result = designer.solve(duals=False)
    added, can_add = False, _adds_any(case, proposal)
    if result.status == "infeasible" and can_add:
        wide = _structure(case, proposal, add_limits=True)
        # the drafting-space search says in milliseconds whether any agreement exists with the
        # limits added; only then is the nearest sought (a slower model)
        probe = Designer(wide).solve(time_limit=add_limit_seconds, duals=False)
        if probe.agreement is not None:
            wider = Designer(wide, method="mip")
            _add_distance(wider, proposal, w)
            more = wider.solve(time_limit=add_limit_seconds, duals=False)
            if more.agreement is not None or more.status != "infeasible":
                designer, result, added = wider, more, True
    timings = result.timings | {"total_s": round(time.perf_counter() - t0, 4)}
    if result.agreement is None:
        message = {
            "infeasible": "No agreement with the proposal's structure meets every requirement"
            + (", even with a cap and a collar for every provider" if can_add else "")
            + ": run `gainshare explain` to see which requirements conflict.",
            "time_limit": "The time limit passed before a repaired agreement was found: allow "
            "more time (requirements.time_limit) or remove caps and collars the room has not "
            "asked for, which make the search much harder.",
        }.get(result.status, result.message)
        return RepairResult(result.status, proposal, before, fails, None, None, [], None,
                            message, timings)  # fmt: skip
    data = agreement_to_dict(result.agreement) | {
        "name": f"{proposal.name} (repaired)",
        "notes": "Repaired by gainshare.",
    }
    kept = _keep_idle_limits(designer, proposal, data)
    after = Agreement.model_validate(_drop_unused_added(designer, proposal, kept))
    final = check(case, after)
    changes = describe_changes(case, proposal, after)
    distance = float(pyo.value(designer.model.repair_distance))
    message = (
        "No agreement with the proposal's caps and collars meets every requirement; "
        "adding the ones marked (added) does."
        if added
        else ""
    )
    return RepairResult(
        "repaired",
        proposal,
        before,
        fails,
        after,
        final,
        changes,
        round(distance, 6),
        message=message,
        timings=timings,
    )


def _adds_any(case: Case, proposal: Agreement) -> bool:
    """The case's drafting space allows a cap or collar the proposal does not have."""
    for kind in ("caps", "collars"):
        have = {pid for y in range(1, case.horizon.years + 1)
                for pid in getattr(proposal.terms_for_year(y), kind)}  # fmt: skip
        if set(_addable(case, kind)) - have:
            return True
    return False
