"""Numbers the design model is built from: every coefficient and big-M comes from the case's own
economics (the same code `check` uses), scaled so that money in the model is of order 1-1000.

A *structure* is one combination of the discrete choices the model selects exactly: a corridor
option and a value of each integer lever. Each structure's economics is computed by
`gainshare.economics.compute`; the model picks one structure with binaries."""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field

import numpy as np

from gainshare.economics.model import Economics, LeverChoice, compute
from gainshare.economics.scenarios import ScenarioSet, sample
from gainshare.schema.agreement import Corridor
from gainshare.schema.case import Case
from gainshare.schema.common import Limit
from gainshare.schema.requirements import LimitRule, Requirements
from gainshare.settle.engine import quality_factor, shareable_amount, tier_portions

STEPS = {"none": None, "1%": 0.01, "5%": 0.05}


@dataclass(frozen=True)
class Structure:
    levers: LeverChoice
    corridor: Corridor
    label: str


@dataclass
class DesignData:
    """Arrays are (structure, scenario, year, ...) in scaled pounds unless said otherwise."""

    case: Case
    req: Requirements
    scenarios: ScenarioSet
    structures: list[Structure]
    econs: list[Economics]
    scale: float  # pounds per model money unit
    weights: np.ndarray  # (S,)
    party_ids: list[str]
    providers: list[int]  # party indices that receive transfers
    commissioners: list[int]
    both: list[int]  # parties that are providers and commissioners
    term_years: int  # 1, or Y with a glide path
    gain_portion: np.ndarray  # (T, S, Y, Kg) portion of the shareable gain in each tier
    loss_portion: np.ndarray  # (T, S, Y, Kl) portion of the shareable loss in each tier
    quality: np.ndarray  # (S, Y, P) gateway factor on gain shares (1 where none)
    base_net: np.ndarray  # (T, S, Y, P) net before transfers and retained amounts
    pool: np.ndarray  # (T, S, Y)
    savings: np.ndarray  # (T, S, Y) system savings
    exp_pay: np.ndarray  # (S, Y, P) expected payments (basis of % caps and collars)
    split: np.ndarray  # (S, Y, P) commissioners' split of the retained amount
    gain_edges: list[Limit]
    loss_edges: list[Limit]
    elastic: frozenset[str] = frozenset()  # requirement kinds explain may relax
    relax_weights: dict[str, float] = field(default_factory=dict)  # per model unit of slack

    @property
    def dims(self) -> tuple[int, int, int, int]:
        T, S, Y, _ = self.gain_portion.shape
        return T, S, Y, len(self.party_ids)

    @property
    def n_gain_tiers(self) -> int:
        return self.gain_portion.shape[3]

    @property
    def n_loss_tiers(self) -> int:
        return self.loss_portion.shape[3]

    def term_year(self, y: int) -> int:
        """Index of the terms that apply in year y (0-based)."""
        return y if self.term_years > 1 else 0

    def cap_rule(self, pid: str) -> LimitRule | None:
        return self.req.caps.get(pid)

    def collar_rule(self, pid: str) -> LimitRule | None:
        return self.req.collars.get(pid)

    def step(self) -> float | None:
        return STEPS[self.req.rounding]


def _structures(case: Case) -> list[Structure]:
    req = case.requirements
    corridors = req.corridor_options or [req.corridor]
    lv = case.levers
    axes: list[list[tuple[str, str, int]]] = []
    if lv is not None:
        for kind in ("teams", "closures", "release_year"):
            for key, opts in getattr(lv, kind).items():
                axes.append([(kind, key, o) for o in sorted(set(opts))])
    out = []
    for combo in itertools.product(*axes) if axes else [()]:
        choice: dict[str, dict[str, int]] = {"teams": {}, "closures": {}, "release_year": {}}
        for kind, key, o in combo:
            choice[kind][key] = o
        lev = LeverChoice(**choice)
        lever_txt = ", ".join(f"{k} {key}={o}" for k, key, o in combo)
        for i, cor in enumerate(corridors):
            label = (
                "; ".join(x for x in (lever_txt, f"corridor option {i + 1}") if x)
                if (len(corridors) > 1)
                else lever_txt
            )
            out.append(Structure(levers=lev, corridor=cor, label=label or "as in the case"))
    return out


def _edges(edges: list[Limit], spend: np.ndarray) -> np.ndarray:
    """(S, Y, K-1) tier edges in pounds."""
    if not edges:
        return np.zeros(spend.shape + (0,))
    return np.stack([e.resolve(spend) for e in edges], axis=-1)


def _portions(x: np.ndarray, edges: np.ndarray) -> np.ndarray:
    S, Y = x.shape
    out = [tier_portions(x[:, y], edges[:, y, :]) for y in range(Y)]
    return np.stack(out, axis=1)


def _split(case: Case, econ: Economics) -> np.ndarray:
    fixed = case.requirements.commissioner_split
    S, Y, P = econ.shape
    if fixed is not None:
        out = np.zeros((S, Y, P))
        for pid, v in fixed.items():
            out[:, :, econ.index(pid)] = v
        return out
    spend = econ.exp_spend * econ.is_commissioner
    total = spend.sum(axis=2, keepdims=True)
    equal = np.broadcast_to(econ.is_commissioner / econ.is_commissioner.sum(), spend.shape)
    return np.where(total > 0, spend / np.where(total > 0, total, 1.0), equal)


def _quality(case: Case, econ: Economics) -> np.ndarray:
    """Gateway factor from the requirements' fixed gateway terms, via the settlement code."""
    from gainshare.settle.engine import YearTerms

    S, Y, P = econ.shape
    modes: list[str | None] = [None] * P
    target, floor = np.full(P, 100.0), np.zeros(P)
    for pid, gw in case.requirements.gateway.items():
        j = econ.index(pid)
        modes[j], target[j], floor[j] = gw.mode, gw.target, gw.floor
    yt = YearTerms(
        gain_threshold=np.zeros(S),
        loss_threshold=np.zeros(S),
        excess_only=False,
        gain_edges=np.zeros((S, 0)),
        gain_shares=np.zeros((1, P)),
        loss_edges=np.zeros((S, 0)),
        loss_shares=np.zeros((1, P)),
        cap=np.zeros((S, P)),
        collar=np.zeros((S, P)),
        split=np.zeros((S, P)),
        gate_mode=modes,
        gate_target=target,
        gate_floor=floor,
    )
    scores = np.nan_to_num(econ.quality, nan=100.0)
    return np.stack([quality_factor(scores[:, y, :], yt) for y in range(Y)], axis=1)


def choose_scale(base_net: np.ndarray, pool: np.ndarray) -> float:
    """A power of ten so that typical money in the model is between 1 and 1000."""
    typical = max(float(np.abs(pool).max(initial=0.0)), float(np.abs(base_net).max(initial=0.0)))
    if typical <= 0:
        return 1.0
    return float(10 ** max(0, int(np.floor(np.log10(typical))) - 2))


def build_data(case: Case, scenarios: ScenarioSet | None = None) -> DesignData:
    """Compute every structure's economics and the arrays the model needs."""
    sc = scenarios if scenarios is not None else sample(case)
    req = case.requirements
    structures = _structures(case)
    econs = [compute(case, sc, st.levers) for st in structures]
    e0 = econs[0]
    spend = e0.exp_spend.sum(axis=2)  # (S, Y) total expected spend
    ge, le = _edges(req.gain_edges, spend), _edges(req.loss_edges, spend)
    gp, lp, base, pool, sav = [], [], [], [], []
    for st, e in zip(structures, econs, strict=True):
        g = e.pool_contribution.sum(axis=2)
        c = st.corridor
        x = shareable_amount(
            g,
            c.gain_threshold.resolve(spend),
            c.loss_threshold.resolve(spend),
            c.mode == "excess_only",
        )
        gp.append(_portions(np.maximum(x, 0.0), ge))
        lp.append(_portions(np.maximum(-x, 0.0), le))
        base.append(e.revenue_change * e.is_provider - e.cost_change + e.benefit)
        pool.append(g)
        sav.append(-e.total_cost_change.sum(axis=2))
    base_a, pool_a = np.stack(base), np.stack(pool)
    scale = choose_scale(base_a, pool_a)
    P = len(case.parties)
    return DesignData(
        case=case,
        req=req,
        scenarios=sc,
        structures=structures,
        econs=econs,
        scale=scale,
        weights=sc.weights,
        party_ids=case.party_ids,
        providers=[j for j in range(P) if e0.is_provider[j]],
        commissioners=[j for j in range(P) if e0.is_commissioner[j]],
        both=[j for j in range(P) if e0.is_provider[j] and e0.is_commissioner[j]],
        term_years=case.horizon.years if req.glide_path else 1,
        gain_portion=np.stack(gp) / scale,
        loss_portion=np.stack(lp) / scale,
        quality=_quality(case, e0),
        base_net=base_a / scale,
        pool=pool_a / scale,
        savings=np.stack(sav) / scale,
        exp_pay=e0.exp_pay / scale,
        split=_split(case, e0),
        gain_edges=list(req.gain_edges),
        loss_edges=list(req.loss_edges),
    )
