"""The drafting space `design` searches: every structure (lever values x corridor x quality
gateway x gain tier edges x loss tier edges) it may choose, and each provider's cap and collar
rule. Terms the case states are used as stated; terms it leaves open come from menus derived
from the case itself (`Requirements.search`): tier edges at quantiles of the pool in round
money, corridor thresholds as shares of expected spend, a cap and a collar for every provider.

Agreements the room brings (`starts`: the case's own agreement, a proposal, the previous answer)
add their own corridor and tier edges to the menus, so the search covers their structure."""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass, field
from functools import cached_property

import numpy as np

from gainshare.economics.model import Economics, LeverChoice, compute
from gainshare.economics.scenarios import ScenarioSet, sample
from gainshare.optimise.data import commissioner_split, gateway_factor, loss_rate
from gainshare.schema.agreement import Agreement, Corridor
from gainshare.schema.case import Case
from gainshare.schema.common import Limit
from gainshare.schema.requirements import LimitRule, Requirements

STEPS = {"none": None, "1%": 0.01, "5%": 0.05}
SHARE_LIMIT_STEP = 0.001  # caps and collars given as a share of expected payment: 0.1% steps


def round_money(v: float) -> float:
    """Two significant figures: 4,321,000 -> 4,300,000; 612,345 -> 610,000; 0 stays 0."""
    if v <= 0:
        return 0.0
    unit = 10 ** (math.floor(math.log10(v)) - 1)
    return float(round(v / unit) * unit)


def weighted_quantile(values: np.ndarray, weights: np.ndarray, q: float) -> float:
    order = np.argsort(values, kind="stable")
    v, w = values[order], weights[order]
    cum = np.cumsum(w)
    return float(v[min(int(np.searchsorted(cum, q * cum[-1])), len(v) - 1)])


@dataclass(frozen=True)
class Structure:
    """One combination of the discrete choices."""

    lever: int  # index into Space.levers
    corridor: Corridor
    gateway: tuple  # ((provider id, Gateway), ...)
    gain_edges: tuple[Limit, ...]
    loss_edges: tuple[Limit, ...]


@dataclass
class Space:
    case: Case
    scenarios: ScenarioSet | None = None
    starts: tuple[Agreement, ...] = ()
    _econs: dict = field(default_factory=dict, repr=False)  # may be shared between spaces
    step_override: float | None = None  # share step other than the requirements' rounding
    only: list | None = None  # search just these structures
    chance_budgets: tuple = ()  # chance budgets to solve along with the case's (a frontier's)

    def variant(self, case: Case, starts: tuple[Agreement, ...] = (), **kw) -> Space:
        """Another space over the same scenarios and economics (sub-spaces: the starts the room
        brought are not part of it unless given)."""
        return Space(case, self.scenarios, starts, self._econs, **kw)

    def __post_init__(self) -> None:
        if self.scenarios is None:
            self.scenarios = sample(self.case)

    @property
    def req(self) -> Requirements:
        return self.case.requirements

    @property
    def step(self) -> float | None:
        if self.step_override is not None:
            return self.step_override
        return STEPS[self.req.rounding]

    # ------------------------------------------------------------ levers and economics

    @cached_property
    def levers(self) -> list[tuple[LeverChoice, str]]:
        from gainshare.optimise.data import lever_choices

        return lever_choices(self.case)

    def econ(self, i: int) -> Economics:
        if i not in self._econs:
            self._econs[i] = compute(self.case, self.scenarios, self.levers[i][0])
        return self._econs[i]

    @cached_property
    def base_econ(self) -> Economics:
        """The economics the menus are derived from: the first lever choice (the case's own
        figures when it has no levers)."""
        return self.econ(0)

    # ------------------------------------------------------------ menus

    @cached_property
    def corridors(self) -> list[Corridor]:
        req, search = self.req, self.req.search
        if req.corridor_options:
            out = list(req.corridor_options)
        elif req.corridor is not None or not search.corridor:
            out = [req.corridor or Corridor()]
        else:
            out = [Corridor()]
            for t, mode in itertools.product(
                search.corridor_thresholds, ("first_pound", "excess_only")
            ):
                lim = Limit(share_of_expected=t)
                out.append(Corridor(gain_threshold=lim, loss_threshold=lim, mode=mode))
        for a in self.starts:
            c = a.terms.corridor
            if c not in out:
                out.append(c)
        return _unique(out)

    def _menu(self, values: np.ndarray, weights: np.ndarray, most: int) -> list[tuple]:
        """Tier edges: none, one at each menu quantile, and (for three tiers) each pair."""
        search = self.req.search
        if values.size == 0:
            return [()]
        cut = sorted({round_money(weighted_quantile(values, weights, q))
                      for q in search.edge_quantiles} - {0.0})  # fmt: skip
        out: list[tuple] = [()]
        for k in range(1, most):
            out += [tuple(Limit(amount=v) for v in combo)
                    for combo in itertools.combinations(cut, k)]  # fmt: skip
        return out

    def _pool_values(self, sign: float) -> tuple[np.ndarray, np.ndarray]:
        e = self.base_econ
        g = sign * e.pool
        w = np.broadcast_to(self.scenarios.weights[:, None], g.shape)
        keep = g > 0
        return g[keep], w[keep]

    @cached_property
    def gain_edge_options(self) -> list[tuple[Limit, ...]]:
        req = self.req
        if req.gain_edge_options:
            out = [tuple(o) for o in req.gain_edge_options]
        elif req.gain_edges is not None:
            out = [tuple(req.gain_edges or [])]
        else:
            out = self._menu(*self._pool_values(1.0), req.search.max_gain_tiers)
        return _with_starts(out, [tuple(t.upto for t in a.terms.gain_tiers[:-1])
                                  for a in self.starts])  # fmt: skip

    @cached_property
    def loss_edge_options(self) -> list[tuple[Limit, ...]]:
        req = self.req
        if req.loss_edge_options:
            out = [tuple(o) for o in req.loss_edge_options]
        elif req.loss_edges is not None:
            out = [tuple(req.loss_edges or [])]
        else:
            out = self._menu(*self._pool_values(-1.0), req.search.max_loss_tiers)
        return _with_starts(out, [tuple(t.upto for t in a.terms.loss_tiers[:-1])
                                  for a in self.starts])  # fmt: skip

    @cached_property
    def gateways(self) -> list[tuple]:
        req = self.req
        opts = req.gateway_options or [dict(req.gateway)]
        out = [tuple(sorted(g.items())) for g in opts]
        return _unique(out)

    def structures(self) -> list[Structure]:
        if self.only is not None:
            return list(self.only)
        return [Structure(i, c, g, ge, le)
                for i in range(len(self.levers)) for c in self.corridors for g in self.gateways
                for ge in self.gain_edge_options for le in self.loss_edge_options]  # fmt: skip

    # ------------------------------------------------------------ caps and collars

    def cap_rule(self, pid: str) -> LimitRule | None:
        return self._limit_rule(pid, self.req.caps, "caps")

    def collar_rule(self, pid: str) -> LimitRule | None:
        return self._limit_rule(pid, self.req.collars, "collars")

    def _limit_rule(self, pid: str, stated: dict, kind: str) -> LimitRule | None:
        if pid in stated:
            return stated[pid]
        search = self.req.search
        if not getattr(search, kind) or not self.case.party(pid).is_provider:
            return None
        return LimitRule(decide=True)

    def limit_step(self, rule: LimitRule) -> float:
        if rule.basis == "share_of_expected":
            return SHARE_LIMIT_STEP
        search = self.req.search
        return search.limit_step

    # ------------------------------------------------------------ arrays of one structure

    def quality(self, st: Structure) -> np.ndarray:
        """(S, Y, P) gateway factor of the structure's gateway, via the settlement code."""
        return gateway_factor(self.econ(st.lever), dict(st.gateway))

    def loss_rate(self, st: Structure) -> np.ndarray:
        """(S, Y, P) quality-scaled loss rate on loss shares (1 where a provider has none)."""
        return loss_rate(self.econ(st.lever), self.req)

    def split(self, econ: Economics) -> np.ndarray:
        """(S, Y, P) commissioners' split of the retained amount."""
        return commissioner_split(self.case, econ)


def edges_of(terms) -> tuple[tuple[Limit, ...], tuple[Limit, ...]]:
    """The gain and the loss tier edges of a block of terms."""
    return (tuple(t.upto for t in terms.gain_tiers[:-1]),
            tuple(t.upto for t in terms.loss_tiers[:-1]))  # fmt: skip


def stated_structure(terms, edges: tuple | None = None) -> dict:
    """Requirements that state one structure: the corridor, gateway, quality-scaled loss shares
    and group limits of `terms` and its tier edges (or `edges`, (gain edges, loss edges)), with no
    options to choose among."""
    gain, loss = edges if edges is not None else edges_of(terms)
    return {
        "corridor": terms.corridor.model_dump(), "corridor_options": [],
        "gain_edges": [e.model_dump() for e in gain], "gain_edge_options": [],
        "loss_edges": [e.model_dump() for e in loss], "loss_edge_options": [],
        "gateway": {k: v.model_dump() for k, v in terms.gateway.items()}, "gateway_options": [],
        "loss_quality": {k: v.model_dump() for k, v in (terms.loss_quality or {}).items()},
        "group_limits": [g.model_dump() for g in terms.group_limits or []],
    }  # fmt: skip


def _unique(items: list) -> list:
    out = []
    for it in items:
        if it not in out:
            out.append(it)
    return out


def _with_starts(options: list[tuple], starts: list[tuple]) -> list[tuple]:
    out = list(options)
    for edges in starts:
        if edges not in out and len({e.amount is None for e in edges}) <= 1:
            out.append(edges)
    return out
