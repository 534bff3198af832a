"""Settlement of an agreement (SPEC section 3, normative), vectorised over scenarios and years.

This module is the one definition of what an agreement pays. `check` uses it directly and every
optimiser answer is re-settled by it."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from functools import cached_property

import numpy as np

from gainshare.economics.model import Economics, party_sum
from gainshare.schema.agreement import Agreement, Terms, Tier
from gainshare.settle.limits import ExtraTerms, limit_groups, limit_horizon, resolve_extra

GATE_CODES = {None: 0, "proportional": 1, "linear": 2}  # gateway modes as array codes
OPEN_EDGE = 1e300  # upper edge of a year's top tier when another year has more tiers


@dataclass(frozen=True)
class HorizonTerms:
    """Every year's terms as arrays over scenarios (S), years (Y) and parties (P); pounds.

    Years with fewer tiers than the most any year has are padded with empty tiers: their edges
    are OPEN_EDGE (no amount reaches them) and their shares zero, so the padding pays nothing."""

    gain_threshold: np.ndarray  # (S, Y)
    loss_threshold: np.ndarray  # (S, Y)
    excess_only: np.ndarray  # (Y,) bool
    strict: np.ndarray  # (Y,) bool: a pool exactly at a threshold stays inside the corridor
    gain_edges: np.ndarray  # (S, Y, Kg-1) upper edges of all but the last gain tier
    gain_shares: np.ndarray  # (Y, Kg, P)
    loss_edges: np.ndarray  # (S, Y, Kl-1)
    loss_shares: np.ndarray  # (Y, Kl, P)
    cap: np.ndarray  # (S, Y, P), inf where none
    collar: np.ndarray  # (S, Y, P), inf where none
    split: np.ndarray  # (S, Y, P) commissioners' split of the retained amount, sums to 1
    gate_code: np.ndarray  # (Y, P) GATE_CODES: none, proportional or linear
    gate_target: np.ndarray  # (Y, P)
    gate_floor: np.ndarray  # (Y, P)
    extra: ExtraTerms | None = None  # group and agreement-long limits, quality-scaled losses


@dataclass(frozen=True)
class Settlement:
    """Result of settling an agreement; arrays (S, Y, P) unless said otherwise; pounds."""

    econ: Economics
    pool: np.ndarray  # (S, Y) G
    shareable: np.ndarray  # (S, Y) X, signed; 0 inside the corridor
    raw_share: np.ndarray  # share of X before gateway, caps and collars
    quality_factor: np.ndarray  # gateway factor applied to gain shares (1 where none)
    transfer: np.ndarray  # t_p for providers, 0 for commissioners
    retained: np.ndarray  # (S, Y) R = G - sum of transfers
    retained_by: np.ndarray  # each commissioner's part of R
    net: np.ndarray  # N
    loss_rate: np.ndarray | None = field(default=None)  # quality-scaled loss rate (None: none)

    @cached_property
    def system_savings(self) -> np.ndarray:
        """(S, Y): minus the sum of every party's real cost change."""
        return -party_sum(self.econ.total_cost_change)


def _groups(agreement: Agreement, years: int) -> list[tuple[Terms, np.ndarray]]:
    """The distinct terms of the horizon, each with the (0-based) years it governs."""
    out: dict[int, tuple[Terms, list[int]]] = {}
    for y in range(years):
        t = agreement.terms_for_year(y + 1)
        out.setdefault(id(t), (t, []))[1].append(y)
    return [(t, np.array(ys)) for t, ys in out.values()]


def _tiers(tiers: list[Tier], ys, spend, edges, shares, pidx) -> None:
    for k, tier in enumerate(tiers):
        if k < len(tiers) - 1:
            edges[:, ys, k] = tier.upto.resolve(spend)
        for pid, v in tier.shares.items():
            shares[ys, k, pidx[pid]] = v


def resolve_terms(agreement: Agreement, econ: Economics) -> HorizonTerms:
    """Turn every year's terms into pounds, scenario by scenario (once per distinct terms)."""
    S, Y, P = econ.shape
    pidx = {pid: i for i, pid in enumerate(econ.party_ids)}
    spend = econ.total_exp_spend  # (S, Y): the basis of corridors and tier edges
    groups = _groups(agreement, Y)
    kg = max(len(t.gain_tiers) for t, _ in groups)
    kl = max(len(t.loss_tiers) for t, _ in groups)
    out = HorizonTerms(
        gain_threshold=np.empty((S, Y)),
        loss_threshold=np.empty((S, Y)),
        excess_only=np.zeros(Y, dtype=bool),
        strict=np.zeros(Y, dtype=bool),
        gain_edges=np.full((S, Y, kg - 1), OPEN_EDGE),
        gain_shares=np.zeros((Y, kg, P)),
        loss_edges=np.full((S, Y, kl - 1), OPEN_EDGE),
        loss_shares=np.zeros((Y, kl, P)),
        cap=np.full((S, Y, P), np.inf),
        collar=np.full((S, Y, P), np.inf),
        split=np.zeros((S, Y, P)),
        gate_code=np.zeros((Y, P), dtype=np.int8),
        gate_target=np.full((Y, P), 100.0),
        gate_floor=np.zeros((Y, P)),
    )
    for t, ys in groups:
        sp = spend[:, ys]
        out.gain_threshold[:, ys] = t.corridor.gain_threshold.resolve(sp)
        out.loss_threshold[:, ys] = t.corridor.loss_threshold.resolve(sp)
        out.excess_only[ys] = t.corridor.mode == "excess_only"
        out.strict[ys] = t.corridor.strict
        _tiers(t.gain_tiers, ys, sp, out.gain_edges, out.gain_shares, pidx)
        _tiers(t.loss_tiers, ys, sp, out.loss_edges, out.loss_shares, pidx)
        for limits, arr in ((t.caps, out.cap), (t.collars, out.collar)):
            for pid, lim in limits.items():  # provider basis: its expected payment
                j = pidx[pid]
                arr[:, ys, j] = lim.resolve(econ.exp_pay[:, ys, j])
        if t.commissioner_split is not None:
            for pid, v in t.commissioner_split.items():
                out.split[:, ys, pidx[pid]] = v
        else:  # in proportion to the commissioners' expected spend
            out.split[:, ys, :] = econ.spend_split[:, ys, :]
        for pid, gw in t.gateway.items():
            j = pidx[pid]
            out.gate_code[ys, j] = GATE_CODES[gw.mode]
            out.gate_target[ys, j], out.gate_floor[ys, j] = gw.target, gw.floor
    extra = resolve_extra(agreement, groups, econ.exp_pay, pidx)
    return out if extra.empty else replace(out, extra=extra)


def shareable_amount(pool: np.ndarray, gain_t, loss_t, excess_only, strict=False) -> np.ndarray:
    """X: zero inside the corridor; outside it the pool (first pound) or the excess. A pool
    exactly at a threshold is outside the corridor unless `strict` (SPEC section 3).
    `excess_only` and `strict` are bools, or arrays that broadcast against `pool` (per year)."""
    strict = np.asarray(strict, dtype=bool)
    gain = np.where(strict, pool > gain_t, pool >= gain_t)
    loss = np.where(strict, pool < -loss_t, pool <= -loss_t)
    first = np.where(gain | loss, pool, 0.0)
    excess = np.asarray(excess_only, dtype=bool)
    if not excess.any():
        return first
    beyond = np.where(gain, pool - gain_t, np.where(loss, pool + loss_t, 0.0))
    return np.where(excess, beyond, first)


def tier_portions(amount: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """Split a non-negative amount (...) into tier portions (..., K) by upper edges (..., K-1)."""
    if edges.shape[-1] == 0:  # one tier: all of it
        return np.clip(amount[..., None], 0.0, np.inf)
    lead = amount.shape + (1,)
    lower = np.concatenate([np.zeros(lead), edges], axis=-1)
    upper = np.concatenate([edges, np.full(lead, np.inf)], axis=-1)
    return np.clip(amount[..., None] - lower, 0.0, upper - lower)


def tiered(amount: np.ndarray, edges: np.ndarray, shares: np.ndarray) -> np.ndarray:
    """(S, Y, P) each party's share of a tiered amount (S, Y): tier portions (S, Y, K) times
    shares (Y, K, P), added tier by tier (K is small; no BLAS product, see check.expect)."""
    portions = tier_portions(amount, edges)
    out = portions[:, :, 0, None] * shares[:, 0, :]
    for k in range(1, shares.shape[1]):
        out += portions[:, :, k, None] * shares[:, k, :]
    return out


def quality_factor(scores: np.ndarray, code, target, floor) -> np.ndarray:
    """(S, Y, P) gateway factor from quality scores (S, Y, P) and per-(year, party) gateway
    codes, targets and floors (Y, P): 1 where a party has no gateway; proportional: score/100;
    linear: 0 at the floor rising to 1 at the target; always clipped to 0..1."""
    if not np.any(code):
        return np.ones_like(scores)
    prop = np.clip(scores / 100.0, 0.0, 1.0)
    linear = code == GATE_CODES["linear"]
    span = np.where(linear, np.asarray(target) - floor, 1.0)
    lin = np.clip((scores - floor) / span, 0.0, 1.0)
    return np.where(code == GATE_CODES["proportional"], prop, np.where(linear, lin, 1.0))


def settle(econ: Economics, agreement: Agreement) -> Settlement:
    """Settle the agreement in every scenario and year at once (no loop over scenarios; the
    limits over the whole agreement step through the years in order)."""
    ht = resolve_terms(agreement, econ)
    prov = econ.takes_share  # providers and risk partners
    pool = econ.pool
    x = shareable_amount(pool, ht.gain_threshold, ht.loss_threshold, ht.excess_only, ht.strict)
    gains = tiered(np.maximum(x, 0.0), ht.gain_edges, ht.gain_shares)
    losses = tiered(np.maximum(-x, 0.0), ht.loss_edges, ht.loss_shares)
    raw = (gains - losses) * prov
    qf = quality_factor(econ.quality_scores, ht.gate_code, ht.gate_target, ht.gate_floor)
    ex = ht.extra
    lr = ex.loss.rate(econ.quality_scores) if ex is not None and ex.loss is not None else None
    t_gain = np.minimum(gains * qf, ht.cap)
    t_loss = -np.minimum(losses if lr is None else losses * lr, ht.collar)
    xs = x[:, :, None]
    transfer = np.where(xs > 0, t_gain, np.where(xs < 0, t_loss, 0.0)) * prov
    if ex is not None:
        transfer = limit_horizon(limit_groups(transfer, ex.groups), ex)
    retained = pool - party_sum(transfer)
    retained_by = ht.split * retained[:, :, None]
    net = econ.revenue_change - econ.cost_change + econ.benefit + transfer + retained_by
    if econ.outside_pool is not None:  # money paid between parties outside the pool
        net += econ.outside_pool
    return Settlement(econ=econ, pool=pool, shareable=x, raw_share=raw, quality_factor=qf,
                      transfer=transfer, retained=retained, retained_by=retained_by,
                      net=net, loss_rate=lr)  # fmt: skip
