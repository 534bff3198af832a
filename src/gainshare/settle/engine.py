"""Settlement of an agreement (SPEC section 3, normative), vectorised over scenarios.

This module is the one definition of what an agreement pays. `check` uses it directly and every
optimiser answer is re-settled by it."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np

from gainshare.economics.model import Economics
from gainshare.schema.agreement import Agreement, Terms, Tier


@dataclass(frozen=True)
class YearTerms:
    """One year's terms as arrays over scenarios (S) and parties (P); pounds."""

    gain_threshold: np.ndarray  # (S,)
    loss_threshold: np.ndarray  # (S,)
    excess_only: bool
    gain_edges: np.ndarray  # (S, Kg-1) upper edges of all but the last gain tier
    gain_shares: np.ndarray  # (Kg, P)
    loss_edges: np.ndarray  # (S, Kl-1)
    loss_shares: np.ndarray  # (Kl, P)
    cap: np.ndarray  # (S, P), inf where none
    collar: np.ndarray  # (S, P), inf where none
    split: np.ndarray  # (S, P) commissioners' split of the retained amount, rows sum to 1
    gate_mode: list[str | None]  # per party: None, "linear" or "proportional"
    gate_target: np.ndarray  # (P,)
    gate_floor: np.ndarray  # (P,)


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

    @cached_property
    def system_savings(self) -> np.ndarray:
        """(S, Y): minus the sum of every party's real cost change."""
        return -self.econ.total_cost_change.sum(axis=2)


def _tier_arrays(tiers: list[Tier], basis: np.ndarray, pidx: dict[str, int], P: int):
    shares = np.zeros((len(tiers), P))
    for k, t in enumerate(tiers):
        for pid, v in t.shares.items():
            shares[k, pidx[pid]] = v
    edges = (
        np.stack([t.upto.resolve(basis) for t in tiers[:-1]], axis=1)
        if len(tiers) > 1
        else (np.zeros((basis.shape[0], 0)))
    )
    return edges, shares


def _party_limits(limits, basis: np.ndarray, pidx: dict[str, int]) -> np.ndarray:
    """(S, P) pounds from per-provider limits; inf where a party has none."""
    out = np.full(basis.shape, np.inf)
    for pid, lim in limits.items():
        j = pidx[pid]
        out[:, j] = lim.resolve(basis[:, j])
    return out


def _split(terms: Terms, econ: Economics, y: int, pidx: dict[str, int]) -> np.ndarray:
    S, _, P = econ.shape
    out = np.zeros((S, P))
    if terms.commissioner_split is not None:
        for pid, v in terms.commissioner_split.items():
            out[:, pidx[pid]] = v
        return out
    spend = econ.exp_spend[:, y, :] * econ.is_commissioner
    total = spend.sum(axis=1, keepdims=True)
    equal = econ.is_commissioner / econ.is_commissioner.sum()
    return np.where(total > 0, spend / np.where(total > 0, total, 1.0), equal)


def resolve_terms(agreement: Agreement, econ: Economics, y: int) -> YearTerms:
    """Turn year y's (0-based) terms into pounds, scenario by scenario."""
    terms = agreement.terms_for_year(y + 1)
    pidx = {pid: i for i, pid in enumerate(econ.party_ids)}
    P = len(econ.party_ids)
    spend = econ.exp_spend[:, y, :].sum(axis=1)  # total expected spend (S,)
    exp_pay = econ.exp_pay[:, y, :]  # provider basis for caps/collars (S, P)
    ge, gs = _tier_arrays(terms.gain_tiers, spend, pidx, P)
    le, ls = _tier_arrays(terms.loss_tiers, spend, pidx, P)
    modes: list[str | None] = [None] * P
    target, floor = np.full(P, 100.0), np.zeros(P)
    for pid, gw in terms.gateway.items():
        j = pidx[pid]
        modes[j], target[j], floor[j] = gw.mode, gw.target, gw.floor
    return YearTerms(
        gain_threshold=terms.corridor.gain_threshold.resolve(spend),
        loss_threshold=terms.corridor.loss_threshold.resolve(spend),
        excess_only=terms.corridor.mode == "excess_only",
        gain_edges=ge,
        gain_shares=gs,
        loss_edges=le,
        loss_shares=ls,
        cap=_party_limits(terms.caps, exp_pay, pidx),
        collar=_party_limits(terms.collars, exp_pay, pidx),
        split=_split(terms, econ, y, pidx),
        gate_mode=modes,
        gate_target=target,
        gate_floor=floor,
    )


def shareable_amount(pool: np.ndarray, gain_t, loss_t, excess_only: bool) -> np.ndarray:
    """X: zero inside the corridor; outside it the pool (first pound) or the excess."""
    gain = pool > gain_t
    loss = pool < -loss_t
    if excess_only:
        return np.where(gain, pool - gain_t, np.where(loss, pool + loss_t, 0.0))
    return np.where(gain | loss, pool, 0.0)


def tier_portions(amount: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """Split a non-negative amount (S,) into tier portions (S, K) by upper edges (S, K-1)."""
    S = amount.shape[0]
    lower = np.concatenate([np.zeros((S, 1)), edges], axis=1)
    upper = np.concatenate([edges, np.full((S, 1), np.inf)], axis=1)
    return np.clip(amount[:, None] - lower, 0.0, upper - lower)


def quality_factor(scores: np.ndarray, yt: YearTerms) -> np.ndarray:
    """(S, P) gateway factor: 1 where a party has no gateway."""
    out = np.ones_like(scores)
    for j, mode in enumerate(yt.gate_mode):
        if mode == "proportional":
            out[:, j] = np.clip(scores[:, j] / 100.0, 0.0, 1.0)
        elif mode == "linear":
            span = yt.gate_target[j] - yt.gate_floor[j]
            out[:, j] = np.clip((scores[:, j] - yt.gate_floor[j]) / span, 0.0, 1.0)
    return out


def settle_year(econ: Economics, yt: YearTerms, y: int) -> dict[str, np.ndarray]:
    """Settle one year (all scenarios at once)."""
    prov = econ.is_provider
    pool = econ.pool_contribution[:, y, :].sum(axis=1)
    x = shareable_amount(pool, yt.gain_threshold, yt.loss_threshold, yt.excess_only)
    # (S, K) portions times (K, P) shares, without a BLAS product (see settle.check.expect)
    gains = np.einsum("sk,kp->sp", tier_portions(np.maximum(x, 0.0), yt.gain_edges), yt.gain_shares)
    losses = np.einsum("sk,kp->sp", tier_portions(np.maximum(-x, 0.0), yt.loss_edges),
                       yt.loss_shares)  # fmt: skip
    raw = (gains - losses) * prov
    scores = np.nan_to_num(econ.quality[:, y, :], nan=100.0)
    qf = quality_factor(scores, yt)
    t_gain = np.minimum(gains * qf, yt.cap)
    t_loss = -np.minimum(losses, yt.collar)
    transfer = np.where(x[:, None] > 0, t_gain, np.where(x[:, None] < 0, t_loss, 0.0)) * prov
    retained = pool - transfer.sum(axis=1)
    retained_by = yt.split * retained[:, None]
    net = (
        econ.revenue_change[:, y, :]
        - econ.cost_change[:, y, :]
        + econ.benefit[:, y, :]
        + transfer
        + retained_by
    )
    return dict(
        pool=pool, shareable=x, raw_share=raw, quality_factor=qf, transfer=transfer,
        retained=retained, retained_by=retained_by, net=net,
    )  # fmt: skip


def settle(econ: Economics, agreement: Agreement) -> Settlement:
    """Settle the agreement in every scenario and year (loops over years only)."""
    S, Y, P = econ.shape
    per_year = [settle_year(econ, resolve_terms(agreement, econ, y), y) for y in range(Y)]
    stack = {k: np.stack([py[k] for py in per_year], axis=1) for k in per_year[0]}
    return Settlement(econ=econ, **stack)
