"""Numbers the design model is built from: every coefficient and big-M comes from the case's own
economics (the same code `check` uses), scaled so that money in the model is of order 1-1000.

A *structure* is one combination of the discrete choices the model selects exactly: a corridor
option and a value of each integer lever. Each structure's economics is computed by
`gainshare.economics.compute`; the model picks one structure with binaries."""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field

import numpy as np

from gainshare.economics.growth import growth_steps
from gainshare.economics.model import Economics, LeverChoice, compute, party_sum
from gainshare.economics.scenarios import ScenarioSet, sample
from gainshare.optimise.unsupported import refuse_case
from gainshare.schema.agreement import Agreement, Corridor
from gainshare.schema.case import Case
from gainshare.schema.common import Limit
from gainshare.schema.io import InputError
from gainshare.schema.requirements import LimitRule, Requirements
from gainshare.settle.engine import GATE_CODES, quality_factor, shareable_amount, tier_portions
from gainshare.settle.limits import horizon_limits, stated_loss_rate, yearly_groups

STEPS = {"none": None, "1%": 0.01, "5%": 0.05}


@dataclass(frozen=True)
class Structure:
    """One combination of the discrete choices: lever values, corridor, gateway, tier edges."""

    levers: LeverChoice
    corridor: Corridor
    label: str
    gateway: dict = field(default_factory=dict)  # provider id -> Gateway
    gain_edges: tuple[Limit, ...] = ()
    loss_edges: tuple[Limit, ...] = ()


@dataclass(frozen=True)
class GroupData:
    """A group cap and collar the case states, in scaled pounds (inf where none)."""

    name: str
    members: list[int]  # party indices
    cap: np.ndarray  # (S, Y)
    collar: np.ndarray  # (S, Y)


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
    quality: np.ndarray  # (T, S, Y, P) gateway factor on gain shares (1 where none)
    loss_rate: np.ndarray  # (T, S, Y, P) quality-scaled loss rate on loss shares (1 where none)
    base_net: np.ndarray  # (T, S, Y, P) net before transfers and retained amounts
    pool: np.ndarray  # (T, S, Y)
    savings: np.ndarray  # (T, S, Y) system savings
    exp_pay: np.ndarray  # (S, Y, P) expected payments (basis of % caps and collars)
    split: np.ndarray  # (S, Y, P) commissioners' split of the retained amount
    growth: list = field(default_factory=list)  # (GrowthStep, DesignData) for incentives
    groups: list[GroupData] = field(default_factory=list)  # group caps and collars stated
    horizon_cap: np.ndarray | None = None  # (S, P) cap over the whole agreement, inf: none
    horizon_collar: np.ndarray | None = None  # (S, P) collar over the whole agreement
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

    def terms_by_term_year(self, agreement: Agreement) -> dict:
        """{terms index: the agreement's terms for it} (one set of terms without a glide path,
        else year by year)."""
        return {yt: agreement.terms_for_year(yt + 1 if self.term_years > 1 else 1)
                for yt in range(self.term_years)}  # fmt: skip

    def cap_rule(self, pid: str) -> LimitRule | None:
        return self.req.caps.get(pid)

    def collar_rule(self, pid: str) -> LimitRule | None:
        return self.req.collars.get(pid)

    def step(self) -> float | None:
        return STEPS[self.req.rounding]


def _lever_axes(case: Case) -> list[list[tuple[str, str, int, str]]]:
    """One axis per lever: (kind, key, value, words) for each value it may take. A scheme that
    design may choose to run or not (`levers.run`) is a teams axis with 0 among its values."""
    lv = case.levers
    axes: list[list[tuple[str, str, int, str]]] = []
    if lv is None:
        return axes
    teams = {s.id: s.teams for s in case.schemes}
    for sid in [*lv.teams, *[r for r in lv.run if r not in lv.teams]]:
        opts = lv.team_options(sid, teams[sid])
        only_run = sid not in lv.teams
        axes.append([("teams", sid, o, f"run {sid}={'yes' if o else 'no'}" if only_run
                      else f"teams {sid}={o}") for o in opts])  # fmt: skip
    for kind in ("closures", "release_year"):
        for key, opts in getattr(lv, kind).items():
            axes.append([(kind, key, o, f"{kind} {key}={o}") for o in sorted(set(opts))])
    return axes


def lever_choices(case: Case) -> list[tuple[LeverChoice, str]]:
    """Every combination of lever values, with its words."""
    axes = _lever_axes(case)
    out = []
    for combo in itertools.product(*axes) if axes else [()]:
        choice: dict[str, dict[str, int]] = {"teams": {}, "closures": {}, "release_year": {}}
        for kind, key, o, _ in combo:
            choice[kind][key] = o
        out.append((LeverChoice(**choice), ", ".join(words for *_, words in combo)))
    return out


def _options(req: Requirements) -> list[tuple[str, list]]:
    """The term options design chooses among, each a named list (one entry when fixed)."""
    return [
        ("corridor", req.corridor_options or [req.corridor or Corridor()]),
        ("gateway", req.gateway_options or [dict(req.gateway)]),
        ("gain tiers", req.gain_edge_options or [list(req.gain_edges or [])]),
        ("loss tiers", req.loss_edge_options or [list(req.loss_edges or [])]),
    ]


def _structures(case: Case) -> list[Structure]:
    """Every combination of lever values and term options, in a fixed order."""
    named = _options(case.requirements)
    out = []
    for lev, lever_txt in lever_choices(case):
        for pick in itertools.product(*[range(len(opts)) for _, opts in named]):
            words = [lever_txt] + [
                f"{name} option {i + 1}"
                for (name, opts), i in zip(named, pick, strict=True)
                if len(opts) > 1
            ]
            cor, gw, ge, le = (opts[i] for (_, opts), i in zip(named, pick, strict=True))
            out.append(
                Structure(
                    levers=lev,
                    corridor=cor,
                    gateway=dict(gw),
                    gain_edges=tuple(ge),
                    loss_edges=tuple(le),
                    label="; ".join(w for w in words if w) or "as in the case",
                )
            )
    return out


def edge_array(edges, spend: np.ndarray) -> np.ndarray:
    """(S, Y, K-1) tier edges in pounds."""
    if not edges:
        return np.zeros(spend.shape + (0,))
    return np.stack([e.resolve(spend) for e in edges], axis=-1)


def commissioner_split(case: Case, econ: Economics) -> np.ndarray:
    """(S, Y, P) commissioners' split of the retained amount: the case's, else by spend."""
    fixed = case.requirements.commissioner_split
    if fixed is None:
        return econ.spend_split
    out = np.zeros(econ.shape)
    for pid, v in fixed.items():
        out[:, :, econ.index(pid)] = v
    return out


def gateway_factor(econ: Economics, gateway: dict) -> np.ndarray:
    """(S, Y, P) gateway factor of one gateway option, via the settlement code."""
    _, Y, P = econ.shape
    code = np.zeros((Y, P), dtype=np.int8)
    target, floor = np.full((Y, P), 100.0), np.zeros((Y, P))
    for pid, gw in gateway.items():
        j = econ.index(pid)
        code[:, j], target[:, j], floor[:, j] = GATE_CODES[gw.mode], gw.target, gw.floor
    return quality_factor(econ.quality_scores, code, target, floor)


def loss_rate(econ: Economics, req: Requirements) -> np.ndarray:
    """(S, Y, P) quality-scaled loss rate of the rules `req` states, via the settlement code."""
    pidx = {pid: j for j, pid in enumerate(econ.party_ids)}
    return stated_loss_rate(req, econ.quality_scores, pidx)


def group_data(case: Case, econ: Economics, scale: float) -> list[GroupData]:
    """The case's group caps and collars in scaled pounds, via the settlement code (a share of
    expected payments is of the members' together; the requirements are the terms of every
    year)."""
    req = case.requirements
    if not req.group_limits:
        return []
    pidx = {pid: j for j, pid in enumerate(econ.party_ids)}
    out = yearly_groups([(req, list(range(econ.shape[1])))], econ.exp_pay, pidx)
    return [GroupData(g.name, [int(j) for j in np.flatnonzero(g.members)], g.cap / scale,
                      g.collar / scale) for g in out]  # fmt: skip


def choose_scale(base_net: np.ndarray, pool: np.ndarray) -> float:
    """A power of ten so that typical money in the model is between 1 and 1000."""
    typical = max(float(np.abs(pool).max(initial=0.0)), float(np.abs(base_net).max(initial=0.0)))
    if typical <= 0:
        return 1.0
    return float(10 ** max(0, int(np.floor(np.log10(typical))) - 2))


def build_data(case: Case, scenarios: ScenarioSet | None = None, grown: bool = False
               ) -> DesignData:  # fmt: skip
    """Compute every structure's economics and the arrays the model needs (and, for incentive
    requirements, the same arrays on each growth step of the scheme; `grown`: this is one)."""
    refuse_case(case)
    sc = scenarios if scenarios is not None else sample(case)
    req = case.requirements
    structures = _structures(case)
    cache: dict[str, Economics] = {}
    for st in structures:  # one economics per lever choice, shared by its term options
        if repr(st.levers) not in cache:
            cache[repr(st.levers)] = compute(case, sc, st.levers)
    econs = [cache[repr(st.levers)] for st in structures]
    e0 = econs[0]
    spend = e0.total_exp_spend  # (S, Y) total expected spend
    gp, lp, qf, lr, base, pool, sav = [], [], [], [], [], [], []
    for st, e in zip(structures, econs, strict=True):
        g = e.pool
        c = st.corridor
        x = shareable_amount(
            g,
            c.gain_threshold.resolve(spend),
            c.loss_threshold.resolve(spend),
            c.mode == "excess_only",
            c.strict,
        )
        gp.append(tier_portions(np.maximum(x, 0.0), edge_array(st.gain_edges, spend)))
        lp.append(tier_portions(np.maximum(-x, 0.0), edge_array(st.loss_edges, spend)))
        qf.append(gateway_factor(e, st.gateway))
        lr.append(loss_rate(e, req))
        base.append(e.net_before_sharing)
        pool.append(g)
        sav.append(-party_sum(e.total_cost_change))
    base_a, pool_a = np.stack(base), np.stack(pool)
    scale = choose_scale(base_a, pool_a)
    P = len(case.parties)
    data = DesignData(
        case=case,
        req=req,
        scenarios=sc,
        structures=structures,
        econs=econs,
        scale=scale,
        weights=sc.weights,
        party_ids=case.party_ids,
        providers=[j for j in range(P) if e0.takes_share[j]],  # risk partners too
        commissioners=[j for j in range(P) if e0.is_commissioner[j]],
        both=[j for j in range(P) if e0.is_provider[j] and e0.is_commissioner[j]],
        term_years=case.horizon.years if req.glide_path else 1,
        gain_portion=np.stack(gp) / scale,
        loss_portion=np.stack(lp) / scale,
        quality=np.stack(qf),
        loss_rate=np.stack(lr),
        base_net=base_a / scale,
        pool=pool_a / scale,
        savings=np.stack(sav) / scale,
        exp_pay=e0.exp_pay / scale,
        split=commissioner_split(case, e0),
    )
    data.groups = group_data(case, e0, scale)
    if req.aggregate_limits is not None:
        pidx = {pid: j for j, pid in enumerate(e0.party_ids)}
        cap, collar, _ = horizon_limits(req, e0.exp_pay, pidx)  # reads `aggregate_limits`
        data.horizon_cap, data.horizon_collar = cap / scale, collar / scale
    if req.incentives is not None and not grown:
        data.growth = _growth_data(case, sc, len(structures))
    return data


def _growth_data(case: Case, sc: ScenarioSet, structures: int) -> list:
    """Each growth step the incentive requirement names, as design data on the same terms."""
    where = "requirements.incentives"
    if structures > 1:
        raise InputError([f"{where}: incentive requirements need one set of terms to compare: "
                          "state the corridor and tier edges, and drop the options and "
                          "levers"])  # fmt: skip
    req = case.requirements
    if req.caps or req.collars:
        raise InputError([f"{where}: incentive requirements with caps or collars are not "
                          "designed yet: drop requirements.caps and "
                          "requirements.collars"])  # fmt: skip
    kinds = set(req.incentives.steps)
    steps = [st for st in growth_steps(case, sc) if st.kind in kinds]
    return [(st, build_data(st.case, st.scenarios, grown=True)) for st in steps]
