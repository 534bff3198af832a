"""`repair`: the nearest agreement to the room's proposal (weighted L1 over its terms) that meets
every requirement. The proposal's structure (corridor, tier edges, quality gateway,
quality-scaled loss shares, glide path or not) is kept when it can be; shares, caps and collars
move. When no agreement with the
proposal's caps and collars meets every requirement, a cap and a collar may be added for any
provider the case's drafting space allows, each counted from 'none' (a limit that never binds);
when no agreement with the proposal's tier edges does, the tier edges of the drafting space's
menu are tried, each share counted against the proposal's share on the same money. See
models/repair.md."""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace

import numpy as np
import pyomo.environ as pyo

from gainshare.economics.scenarios import ScenarioSet, sample
from gainshare.optimise.data import edge_array
from gainshare.optimise.design_model import TIE_BREAK, limit_top
from gainshare.optimise.designer import Designer
from gainshare.optimise.space import Space, edges_of, stated_structure
from gainshare.optimise.unsupported import refuse_terms
from gainshare.schema.agreement import Agreement
from gainshare.schema.case import Case
from gainshare.schema.common import Limit
from gainshare.schema.io import InputError, agreement_problems, agreement_to_dict
from gainshare.schema.requirements import LimitRule
from gainshare.settle.check import CheckResult, check
from gainshare.settle.engine import shareable_amount
from gainshare.settle.requirements import failures
from gainshare.units import SYMBOLS, money

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
    proven: bool | None = None  # the repair is proven the nearest (None: no agreement)

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
            "proven_nearest": self.proven,
            "timings": self.timings,
        }


Edges = tuple[tuple[Limit, ...], tuple[Limit, ...]]


def _structure(case: Case, proposal: Agreement, add_limits: bool = False,
               edges: Edges | None = None) -> Case:  # fmt: skip
    """The case with requirements that fix the proposal's structure and free its numbers;
    `add_limits`: also a cap and a collar to decide for every provider the case's drafting
    space allows one (`_addable`); `edges`: these gain and loss tier edges instead of the
    proposal's."""
    refuse_terms(proposal)
    base = proposal.terms
    overrides = proposal.year_overrides
    for y, ov in overrides.items():
        for part in ("corridor", "gateway", "loss_quality", "group_limits"):
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
        stated_structure(base, edges),
        caps=rules("caps"),
        collars=rules("collars"),
        glide_path=bool(overrides),
        aggregate_limits=(
            proposal.aggregate_limits.model_dump()
            if proposal.aggregate_limits is not None
            else None
        ),
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


def _distance_terms(d, proposal: Agreement, weights: dict[str, float]):
    """(weight, proposal's value, term) for every term the distance counts, in the model's
    units; `term` names a share ('share', kind, new tier, party, terms-year), the
    commissioners' part of a tier ('rest', kind, new tier, terms-year) or a limit ('limit',
    'caps' | 'collars', party, terms-year). A share counts against the proposal's share on the
    same money (`_tier_map`); a cap or collar the proposal does not have counts from the
    largest gain or loss the provider could meet (`limit_top`): 'none' never binds."""
    terms = d.terms_by_term_year(proposal)
    for kind in ("gain", "loss"):
        lam = _tier_map(d, proposal, kind)  # (new tier, proposal tier) -> weight
        for (k, b), yt in itertools.product(zip(*np.nonzero(lam), strict=True),
                                            range(d.term_years)):  # fmt: skip
            old = getattr(terms[yt], f"{kind}_tiers")[b]
            weight = weights["shares"] * 100 * float(lam[k, b])  # per percentage point
            for p in d.providers:
                yield weight, old.shares.get(d.party_ids[p], 0.0), ("share", kind, int(k),
                                                                    int(b), p, yt)  # fmt: skip
            # the commissioners' part of each tier (the rest) moves too, and counts the same way
            rest0 = 1.0 - sum(old.shares.get(d.party_ids[p], 0.0) for p in d.providers)
            yield weight, rest0, ("rest", kind, int(k), int(b), yt)
    for name in ("caps", "collars"):
        rule_of = d.cap_rule if name == "caps" else d.collar_rule
        for p, yt in itertools.product(d.providers, range(d.term_years)):
            rule = rule_of(d.party_ids[p])
            if rule is None:
                continue
            x0 = _limit_value(d, getattr(terms[yt], name).get(d.party_ids[p]), name, p)
            per_point = (100 / max(float(np.mean(d.exp_pay[:, :, p])), 1e-9)
                         if rule.basis == "amount" else 100.0)  # fmt: skip
            yield weights[name] * per_point, x0, ("limit", name, p, yt)  # per 1% of payment


def _limit_value(d, lim, name: str, p: int) -> float:
    """A cap or collar in the model's units; none is the largest the provider could meet."""
    if lim is None:
        return limit_top(d, name[:-1], p)
    return lim.amount / d.scale if lim.amount is not None else lim.share_of_expected


def _term_value(d, term: tuple, share, limit):
    """A term of `_distance_terms` from `share(kind, tier, party, terms-year)` and
    `limit(name, party, terms-year)`: model variables, or an agreement's values."""
    if term[0] == "share":
        _, kind, k, _, p, yt = term
        return share(kind, k, p, yt)
    if term[0] == "rest":
        _, kind, k, _, yt = term
        return 1.0 - sum(share(kind, k, p, yt) for p in d.providers)
    _, name, p, yt = term
    return limit(name, p, yt)


def _add_distance(designer: Designer, proposal: Agreement, weights: dict[str, float]) -> None:
    """repair_gap_* >= |term - proposal term|; repair_distance is their weighted sum."""
    m, d = designer.model, designer.data
    m.repair_share_gap = pyo.Var(pyo.Any, dense=False, bounds=(0, None))
    m.repair_limit_gap = pyo.Var(pyo.Any, dense=False, bounds=(0, None))
    m.repair_gap_rows = pyo.ConstraintList()
    cost = 0
    for weight, x0, term in _distance_terms(d, proposal, weights):
        x = _term_value(d, term, lambda kind, k, p, yt: getattr(m, f"{kind}_share")[k, p, yt],
                        lambda name, p, yt: getattr(m, name[:-1])[p, yt])  # fmt: skip
        gap = (m.repair_limit_gap if term[0] == "limit" else m.repair_share_gap)[term[1:]]
        m.repair_gap_rows.add(gap >= x - x0)
        m.repair_gap_rows.add(gap >= x0 - x)
        cost += weight * gap
    m.repair_distance = pyo.Expression(expr=cost)
    m.del_component(m.objective)
    m.objective = pyo.Objective(
        expr=-m.repair_distance + TIE_BREAK * m.retained_expected, sense=pyo.maximize
    )


def _distance_of(d, proposal: Agreement, agreement: Agreement,
                 weights: dict[str, float]) -> float:  # fmt: skip
    """The repair distance of an agreement of the structure of `d`, as the model counts it."""
    terms = d.terms_by_term_year(agreement)

    def share(kind, k, p, yt) -> float:
        return getattr(terms[yt], f"{kind}_tiers")[k].shares.get(d.party_ids[p], 0.0)

    def limit(name, p, yt) -> float:
        return _limit_value(d, getattr(terms[yt], name).get(d.party_ids[p]), name, p)

    return sum(weight * abs(_term_value(d, term, share, limit) - x0)
               for weight, x0, term in _distance_terms(d, proposal, weights))  # fmt: skip


def _bounds(edges: list[Limit], spend: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(S, Y, K) lower and upper edge of each tier in money (the last tier has no upper)."""
    cut = edge_array(edges, spend)
    lower = np.concatenate([np.zeros(spend.shape + (1,)), cut], axis=-1)
    upper = np.concatenate([cut, np.full(spend.shape + (1,), np.inf)], axis=-1)
    return lower, upper


def _tier_map(d, proposal: Agreement, kind: str) -> np.ndarray:
    """(new tiers, proposal tiers): how much of the money each new tier shares falls in each of
    the proposal's tiers, as a part of the proposal tier's expected money. A new tier's share
    is compared with the proposal's share on the same money, so a share counts once for all of
    the proposal tier's money whatever the edges: with the proposal's own edges this is the
    identity. A proposal tier no scenario reaches counts against the new tier holding its lower
    edge (at the mean expected spend)."""
    st = d.structures[0]
    new = list(st.gain_edges if kind == "gain" else st.loss_edges)
    old = [t.upto for t in getattr(proposal.terms, f"{kind}_tiers")[:-1]]
    if new == old:
        return np.eye(len(new) + 1)
    e = d.econs[0]
    spend = e.total_exp_spend
    c = st.corridor
    x = shareable_amount(e.pool, c.gain_threshold.resolve(spend), c.loss_threshold.resolve(spend),
                         c.mode == "excess_only", c.strict)  # fmt: skip
    amount = np.maximum(x if kind == "gain" else -x, 0.0)
    lo_n, hi_n = _bounds(new, spend)
    lo_o, hi_o = _bounds(old, spend)
    top = np.minimum(np.minimum(hi_n[..., :, None], hi_o[..., None, :]), amount[..., None, None])
    over = np.clip(top - np.maximum(lo_n[..., :, None], lo_o[..., None, :]), 0.0, None)
    mass = np.einsum("s,syab->ab", d.weights, over)
    per_old = mass.sum(axis=0)
    lam = np.divide(mass, per_old, out=np.zeros_like(mass), where=per_old > 0)
    for b in np.flatnonzero(per_old <= 0):
        at = float(lo_o[..., b].mean())
        lam[int((lo_n.mean(axis=(0, 1)) <= at + 1e-9).sum()) - 1, b] = 1.0
    return lam


def _limit_blocks(d, after: dict):
    """(word, provider id, top, year, block) for each decided cap or collar and each block of
    terms of the answer `after` (a dict): `top` is the largest gain or loss the provider could
    ever meet, in the limit's units (a larger limit never binds)."""
    for name, word in (("cap", "caps"), ("collar", "collars")):
        rule_of = d.cap_rule if name == "cap" else d.collar_rule
        for p in d.providers:
            pid = d.party_ids[p]
            rule = rule_of(pid)
            if rule is None:
                continue
            top = limit_top(d, name, p) * (d.scale if rule.basis == "amount" else 1.0)
            blocks = [(1, after["terms"])] + [
                (int(y), blk) for y, blk in after.get("year_overrides", {}).items()
            ]
            for y, block in blocks:
                yield word, pid, top, y, block


def _keep_idle_limits(d, proposal: Agreement, after: dict) -> dict:
    """A cap or collar that cannot bind at the proposal's value (above the largest gain or loss
    the provider could ever meet) stays as proposed: the settlement is the same either way."""
    for word, pid, top, y, block in _limit_blocks(d, after):
        lim = getattr(proposal.terms_for_year(y), word).get(pid)
        got = (block.get(word) or {}).get(pid)
        if lim is None or got is None:
            continue
        v0 = lim.amount if lim.amount is not None else lim.share_of_expected
        v1 = got.get("amount", got.get("share_of_expected"))
        if v0 >= top - 1e-9 and v1 >= top * (1 - 1e-9) - 1e-9:
            block[word][pid] = lim.model_dump(exclude_none=True)
    return after


def _drop_unused_added(d, proposal: Agreement, after: dict) -> dict:
    """A cap or collar the proposal did not have that came out at or above the largest gain or
    loss the provider could meet never binds: it is left out."""
    for word, pid, top, y, block in _limit_blocks(d, after):
        got = (block.get(word) or {}).get(pid)
        if got is None or pid in getattr(proposal.terms_for_year(y), word):
            continue
        if got.get("amount", got.get("share_of_expected")) >= top * (1 - 1e-9) - 1e-9:
            del block[word][pid]
    return after


def _pct(v: float) -> str:
    return f"{100 * v:.2f}%".replace(".00%", "%")


def _exact(v: float, currency: str) -> str:
    """An edge as the term sheet states it: £80,000, £1,234.56."""
    text = f"{v:,.2f}" if round(v, 2) != round(v) else f"{v:,.0f}"
    return SYMBOLS.get(currency, currency + " ") + text


def _edge_text(case: Case, tiers) -> str:
    if len(tiers) == 1:
        return "one tier"
    cut = [
        _exact(t.upto.amount, case.currency)
        if t.upto.amount is not None
        else f"{_pct(t.upto.share_of_expected)} of expected spend"
        for t in tiers[:-1]
    ]
    return f"{len(tiers)} tiers, edges at " + ", ".join(cut)


def _share_changes(case: Case, a, b) -> list[str]:
    out = []
    for kind in ("gain", "loss"):
        ta_all, tb_all = getattr(a, f"{kind}_tiers"), getattr(b, f"{kind}_tiers")
        if [t.upto for t in ta_all] != [t.upto for t in tb_all]:  # the edges moved
            out.append(f"{kind.capitalize()} tiers: {_edge_text(case, ta_all)} -> "
                       f"{_edge_text(case, tb_all)}")  # fmt: skip
            for k, tb in enumerate(tb_all):
                tier = f" (tier {k + 1})" if len(tb_all) > 1 else ""
                split = ", ".join(f"{case.party(pid).name} {_pct(tb.shares.get(pid, 0.0))}"
                                  for pid in case.party_ids)  # fmt: skip
                out.append(f"{kind.capitalize()} shares{tier}: {split}")
            continue
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
    `add_limit_seconds`: time allowed for the second try, with caps and collars added, and
    again for all the tier edges tried after it (default: the case's time limit for each
    solve); a workshop gives it a few seconds."""
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
            proven=True,
        )
    sc = sample(case)  # one set of scenarios for every structure tried
    found, status = _nearest(_structure(case, proposal), proposal, w, sc)
    added, can_add = False, _adds_any(case, proposal)
    if found is None and status == "infeasible" and can_add:
        # the drafting-space search says in milliseconds whether any agreement exists with the
        # limits added; only then is the nearest sought (a slower model)
        wide = _structure(case, proposal, add_limits=True)
        more, why = _nearest(wide, proposal, w, sc, add_limit_seconds, probe=True)
        if more is not None or why != "infeasible":
            found, status, added = more, why, True
    moved, menu = False, []
    if found is None and status == "infeasible":
        menu = _menu_edges(case, proposal, sc)
        other, why = _other_edges(case, proposal, menu, w, can_add, sc, add_limit_seconds)
        if other is not None:
            found, moved, added = other, True, can_add
        status = why
    timings = {"total_s": round(time.perf_counter() - t0, 4)}
    if found is None:
        message = {
            "infeasible": "No agreement with the proposal's structure meets every requirement"
            + (", even with a cap and a collar for every provider" if can_add else "")
            + (", nor with other tier edges of the drafting space" if menu else "")
            + (
                ": run `gainshare explain` to see whether the group limits are what conflicts."
                if proposal.terms.group_limits
                else ": run `gainshare explain` to see which requirements conflict."
            ),
            "time_limit": "The time limit passed before a repaired agreement was found: allow "
            "more time (requirements.time_limit) or remove caps and collars the room has not "
            "asked for, which make the search much harder.",
        }.get(status, "The solver stopped before a repaired agreement was found.")
        return RepairResult(status, proposal, before, fails, None, None, [], None,
                            message, timings)  # fmt: skip
    timings = found.result.timings | timings
    data = agreement_to_dict(found.result.agreement) | {
        "name": f"{proposal.name} (repaired)",
        "notes": "Repaired by gainshare.",
    }
    kept = _keep_idle_limits(found.data, proposal, data)
    after = Agreement.model_validate(_drop_unused_added(found.data, proposal, kept))
    final = check(case, after)
    changes = describe_changes(case, proposal, after)
    distance = found.distance
    message = ""
    if moved:
        message = ("No agreement with the proposal's tier edges meets every requirement; the "
                   "edges below do")  # fmt: skip
        message += ", with the caps and collars marked (added)." if _any_added(changes) else "."
    elif added:
        message = ("No agreement with the proposal's caps and collars meets every requirement; "
                   "adding the ones marked (added) does.")  # fmt: skip
    if not found.proven:
        message += (" The time limit passed before this was proven the nearest agreement: it "
                    "meets every requirement, and a nearer one may exist.")  # fmt: skip
        message = message.strip()
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
        proven=found.proven,
    )


def _any_added(changes: list[str]) -> bool:
    return any(line.endswith("(added)") for line in changes)


def _menu_edges(case: Case, proposal: Agreement, sc: ScenarioSet) -> list[Edges]:
    """The drafting space's gain and loss tier edges other than the proposal's."""
    try:
        space = Space(case, sc)
        options = list(itertools.product(space.gain_edge_options, space.loss_edge_options))
    except InputError:
        return []
    return [e for e in options if e != edges_of(proposal.terms)]


@dataclass(frozen=True)
class _Found:
    """A repaired agreement: the structure's data, the design result that holds it, its
    distance from the proposal, and whether it is proven the nearest of its structure."""

    data: object  # DesignData
    result: object  # DesignResult
    distance: float
    proven: bool


def _solve_distance(designer: Designer, proposal: Agreement, w: dict[str, float],
                    seconds: Callable[[], float | None], start: Agreement | None = None
                    ) -> tuple[_Found | None, str]:  # fmt: skip
    """The nearest agreement of the designer's structure (its MIP with the distance as the
    objective), from `start` if given, and the status. `seconds()`: the solver's time limit,
    asked once the model is built."""
    _add_distance(designer, proposal, w)
    limit = seconds()
    if start is not None:  # solved once, from a start: the quicker load (the model is large)
        designer.load_once()
    got = designer.solve(time_limit=limit, duals=False, start=start)
    if got.agreement is None:
        return None, got.status
    return _Found(designer.data, got, float(pyo.value(designer.model.repair_distance)),
                  got.status == "optimal"), got.status  # fmt: skip


def _nearest(case: Case, proposal: Agreement, w: dict[str, float], sc: ScenarioSet,
             seconds: float | None = None, probe: bool = False
             ) -> tuple[_Found | None, str]:  # fmt: skip
    """The nearest agreement of one structure (`case` from `_structure`), and the status.
    With `probe`, the drafting-space search first says whether there is any; its answer is
    then the MIP's starting solution, so a time limit still returns an agreement."""
    start = None
    if probe:
        start = Designer(case, sc).solve(time_limit=seconds, duals=False).agreement
        if start is None:
            return None, "infeasible"
    return _solve_distance(Designer(case, sc, method="mip"), proposal, w, lambda: seconds,
                           start)  # fmt: skip


def _other_edges(case: Case, proposal: Agreement, menu: list[Edges], w: dict[str, float],
                 add_limits: bool, sc: ScenarioSet, seconds: float | None
                 ) -> tuple[_Found | None, str]:  # fmt: skip
    """The nearest repair over the drafting space's other tier edges `menu` (with the limits
    the space allows added, if `add_limits`), and the status. The search first finds, in
    milliseconds, the edge sets with any agreement and the commissioners' best agreement of
    each, whose distance bounds that edge set's nearest from above; the edge sets are then
    solved for distance, most promising first, within `seconds` in all (default: the case's
    time limit for each). When time runs out the nearest agreement found so far is the
    answer, marked not proven."""
    deadline = None if seconds is None else time.perf_counter() + seconds

    def left() -> float | None:
        return None if deadline is None else max(deadline - time.perf_counter(), 0.0)

    options, undecided = [], False
    for edges in menu:
        wide = _structure(case, proposal, add_limits, edges=edges)
        probe = Designer(wide, sc).solve(time_limit=left(), duals=False)
        if probe.agreement is not None:
            designer = Designer(wide, sc, method="mip")
            bound = _distance_of(designer.data, proposal, probe.agreement, w)
            options.append((bound, designer, probe))
        undecided |= probe.agreement is None and probe.status != "infeasible"
    if not options:  # tier edges the search could not decide are no proof that none works
        return None, "time_limit" if undecided else "infeasible"
    options.sort(key=lambda o: o[0])
    best, proven = None, True
    for bound, designer, probe in options:
        found = None
        if left() is None or left() > 0:
            found, _ = _solve_distance(designer, proposal, w, left, probe.agreement)
        if found is None:  # no time to solve it, or none better than its start: its bound
            found = _Found(designer.data, probe, bound, False)
        proven &= found.proven  # the nearest of every edge set is known
        if best is None or found.distance < best.distance - 1e-9:
            best = found
    proven &= not undecided
    return replace(best, proven=proven), "optimal" if proven else "time_limit"


def _adds_any(case: Case, proposal: Agreement) -> bool:
    """The case's drafting space allows a cap or collar the proposal does not have."""
    for kind in ("caps", "collars"):
        have = {pid for y in range(1, case.horizon.years + 1)
                for pid in getattr(proposal.terms_for_year(y), kind)}  # fmt: skip
        if set(_addable(case, kind)) - have:
            return True
    return False
