"""Settlement rules that bind more than one provider or more than one year (SPEC section 3):
caps and collars on a group of providers together, caps and collars over the whole agreement,
and loss shares scaled by quality. Vectorised over scenarios; only the agreement-long limits
step through the years, in order, because each year's room depends on the years before.

Formulas (models/settlement.md):
- quality-scaled loss share: l_p = clip(a - b x q_p / 100, lo, hi) multiplies p's loss share;
- group cap: when the members' gain transfers add up to more than the cap C_g, each member's is
  scaled by C_g / sum (pro rata); a group collar likewise scales their loss transfers;
- over the agreement: in year y a provider (group) gains at most what its cap leaves after the
  gain transfers of the years before, and loses at most what its collar leaves.
Whatever a limit takes from a transfer stays with the commissioners (it is part of R)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from gainshare.schema.common import Limit
from gainshare.schema.rules import GroupLimit


@dataclass(frozen=True)
class GroupArrays:
    """One group limit in pounds: cap and collar (S, Y) for a yearly group, (S,) for a group
    over the whole agreement; inf where the group has none."""

    name: str
    members: np.ndarray  # (P,) bool
    cap: np.ndarray
    collar: np.ndarray


@dataclass(frozen=True)
class LossRates:
    """Quality-scaled loss shares, per (year, party); `on` is False where a party has none."""

    on: np.ndarray  # (Y, P) bool
    intercept: np.ndarray  # (Y, P)
    slope: np.ndarray
    min_rate: np.ndarray
    max_rate: np.ndarray

    def rate(self, scores: np.ndarray) -> np.ndarray:
        """(S, Y, P) loss rate from quality scores (S, Y, P); 1 where a party has no rule."""
        r = np.clip(self.intercept - self.slope * scores / 100.0, self.min_rate, self.max_rate)
        return np.where(self.on, r, 1.0)


@dataclass(frozen=True)
class ExtraTerms:
    """The rules of this module in pounds; empty lists and None where an agreement has none."""

    groups: list[GroupArrays]  # yearly group limits
    loss: LossRates | None
    horizon_cap: np.ndarray | None  # (S, P), inf where none; None: no limit over the agreement
    horizon_collar: np.ndarray | None  # (S, P)
    horizon_groups: list[GroupArrays]

    @property
    def empty(self) -> bool:
        return not self.groups and self.loss is None and self.horizon_cap is None


def _limit(lim: Limit | None, basis: np.ndarray) -> np.ndarray:
    return np.full(basis.shape, np.inf) if lim is None else lim.resolve(basis) + 0.0 * basis


def _members(g: GroupLimit, pidx: dict[str, int], P: int) -> np.ndarray:
    mask = np.zeros(P, dtype=bool)
    mask[[pidx[m] for m in g.members]] = True
    return mask


def yearly_groups(year_terms, exp_pay: np.ndarray, pidx: dict[str, int]) -> list[GroupArrays]:
    """Group limits of each year's terms, one entry per (name, members); `year_terms` lists
    (terms, years) pairs (0-based years), `exp_pay` is (S, Y, P)."""
    S, Y, P = exp_pay.shape
    out: dict[tuple, GroupArrays] = {}
    for t, ys in year_terms:
        for g in t.group_limits or []:
            mask = _members(g, pidx, P)
            key = (g.name, tuple(np.flatnonzero(mask)))
            if key not in out:
                inf = np.full((S, Y), np.inf)
                out[key] = GroupArrays(g.name, mask, inf, inf.copy())
            basis = exp_pay[:, ys][:, :, mask].sum(axis=2)  # the members' expected payments
            out[key].cap[:, ys] = _limit(g.cap, basis)
            out[key].collar[:, ys] = _limit(g.collar, basis)
    return list(out.values())


def loss_rates(year_terms, shape: tuple[int, int, int], pidx: dict[str, int]) -> LossRates | None:
    """Quality-scaled loss shares of each year's terms (None when no year has any)."""
    _, Y, P = shape
    if not any(t.loss_quality for t, _ in year_terms):
        return None
    arr = {k: np.zeros((Y, P)) for k in ("intercept", "slope", "min_rate", "max_rate")}
    on = np.zeros((Y, P), dtype=bool)
    for t, ys in year_terms:
        for pid, rule in (t.loss_quality or {}).items():
            j = pidx[pid]
            on[ys, j] = True
            for k, a in arr.items():
                a[ys, j] = getattr(rule, k)
    return LossRates(on, **arr)


def stated_loss_rate(terms, scores: np.ndarray, pidx: dict[str, int]) -> np.ndarray:
    """(S, Y, P) loss rate from quality scores (S, Y, P) under the quality-scaled loss shares
    of `terms` (anything with `loss_quality`, e.g. the design requirements) in every year; 1
    where a provider has none. Design's factor on a loss share, by the same code settlement
    uses."""
    rates = loss_rates([(terms, list(range(scores.shape[1])))], scores.shape, pidx)
    return np.ones(scores.shape) if rates is None else rates.rate(scores)


def horizon_limits(agreement, exp_pay: np.ndarray, pidx: dict[str, int]):
    """Caps, collars (S, P) and groups over the whole agreement; the basis of a share is the
    expected payments of every year together."""
    agg = agreement.aggregate_limits
    if agg is None:
        return None, None, []
    total = exp_pay.sum(axis=1)  # (S, P)
    S, P = total.shape
    cap, collar = np.full((S, P), np.inf), np.full((S, P), np.inf)
    for pid, lim in agg.caps.items():
        cap[:, pidx[pid]] = lim.resolve(total[:, pidx[pid]])
    for pid, lim in agg.collars.items():
        collar[:, pidx[pid]] = lim.resolve(total[:, pidx[pid]])
    groups = []
    for g in agg.groups:
        mask = _members(g, pidx, P)
        basis = total[:, mask].sum(axis=1)
        groups.append(GroupArrays(g.name, mask, _limit(g.cap, basis), _limit(g.collar, basis)))
    return cap, collar, groups


def resolve_extra(agreement, year_terms, exp_pay: np.ndarray, pidx) -> ExtraTerms:
    cap, collar, hgroups = horizon_limits(agreement, exp_pay, pidx)
    return ExtraTerms(
        groups=yearly_groups(year_terms, exp_pay, pidx),
        loss=loss_rates(year_terms, exp_pay.shape, pidx),
        horizon_cap=cap,
        horizon_collar=collar,
        horizon_groups=hgroups,
    )


# ---------------------------------------------------------------- applying the limits


def _scale_group(t: np.ndarray, cap: np.ndarray, collar: np.ndarray) -> np.ndarray:
    """Members' transfers t (..., m) scaled pro rata so that their gains add up to at most
    `cap` (...) and their losses to at most `collar` (...)."""
    gain = np.maximum(t, 0.0).sum(axis=-1)
    loss = np.maximum(-t, 0.0).sum(axis=-1)
    cap, collar = np.broadcast_to(cap, gain.shape), np.broadcast_to(collar, loss.shape)
    f = np.divide(cap, gain, out=np.ones_like(gain), where=gain > cap)
    h = np.divide(collar, loss, out=np.ones_like(loss), where=loss > collar)
    return np.where(t > 0, t * f[..., None], t * h[..., None])


def limit_groups(transfer: np.ndarray, groups: list[GroupArrays]) -> np.ndarray:
    """Yearly group caps and collars applied to transfers (S, Y, P)."""
    if not groups:
        return transfer
    out = transfer.copy()
    for g in groups:
        out[:, :, g.members] = _scale_group(out[:, :, g.members], g.cap, g.collar)
    return out


def limit_horizon(transfer: np.ndarray, ex: ExtraTerms) -> np.ndarray:
    """Caps and collars over the whole agreement, year by year in order: each year's gain
    (loss) transfer is cut to the room its cap (collar) leaves after the years before."""
    if ex.horizon_cap is None:
        return transfer
    out = transfer.copy()
    S, Y, P = out.shape
    gained, lost = np.zeros((S, P)), np.zeros((S, P))
    for y in range(Y):
        t = out[:, y, :]
        t = np.minimum(t, np.maximum(ex.horizon_cap - gained, 0.0))
        t = np.maximum(t, -np.maximum(ex.horizon_collar - lost, 0.0))
        for g in ex.horizon_groups:
            m = g.members
            room_gain = np.maximum(g.cap - gained[:, m].sum(axis=1), 0.0)
            room_loss = np.maximum(g.collar - lost[:, m].sum(axis=1), 0.0)
            t[:, m] = _scale_group(t[:, m], room_gain, room_loss)
        gained += np.maximum(t, 0.0)
        lost += np.maximum(-t, 0.0)
        out[:, y, :] = t
    return out
