"""Each organisation's position as the lines that make it up, and the headline figures of a
settled agreement: the one place the app's figures, its charts, the term sheet and the workbook
take them from, so that a figure means the same everywhere.

Sign convention (`numbers.SIGN_CONVENTION`): every line is its effect on the organisation,
positive better off, negative worse off, and the lines add up to the net position:

    net = income change + cost saved + benefit booked + transfer + retained share of the pool
          + received outside the pool

"Cost saved" is expected minus actual cost (scheme running costs included): negative when the
organisation's costs rise."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from gainshare.schema.case import Case
from gainshare.settle.check import PENNY, CheckResult, shortfall_by_scenario
from gainshare.settle.pence import largest_remainder

LINES = (
    ("income", "Income change"),
    ("cost_saved", "Cost saved"),
    ("benefit", "Benefit booked"),
    ("transfer", "Transfer"),
    ("retained", "Retained share of the pool"),
    ("outside", "Received outside the pool"),
)


def lines_for(econ) -> tuple:
    """The lines a case's positions have: 'received outside the pool' only where money is paid
    outside it (transformation funding)."""
    return LINES if econ.outside_pool is not None else LINES[:-1]


LINE_HELP = {
    "income": "payments received, actual minus expected",
    "cost_saved": "costs, expected minus actual, scheme running costs included (negative: "
    "costs added)",
    "benefit": "benefits the case books to it outside the contracts, e.g. care placements avoided",
    "transfer": "what the agreement pays it (negative: what it pays towards a loss)",
    "retained": "its part of the pool the commissioners keep after the transfers",
    "outside": "money paid to it outside the pool, e.g. transformation funding (negative: "
    "what it pays)",
}


def line_arrays(result: CheckResult) -> dict[str, np.ndarray]:
    """Each line as a (scenario, year, party) array in pounds; they add up to the net."""
    st = result.settlement
    e = st.econ
    return {
        "income": e.revenue_change,
        "cost_saved": -e.cost_change,
        "benefit": e.benefit,
        "transfer": st.transfer,
        "retained": st.retained_by,
        "outside": e.outside_pool if e.outside_pool is not None else np.zeros_like(st.net),
    }


def pence_lines(result: CheckResult) -> dict[str, np.ndarray]:
    """The same lines in whole pence from the settlement statements (S, Y, P): they add up to
    the net position exactly."""
    pen = result.pence
    return {
        "income": pen.revenue_change,
        "cost_saved": -pen.cost_change,
        "benefit": pen.benefit,
        "transfer": pen.transfer,
        "retained": pen.retained,
        "outside": (
            pen.outside_pool if pen.outside_pool is not None else np.zeros_like(pen.net)
        ),  # fmt: skip
    }


def expected_lines(result: CheckResult) -> dict[str, dict[str, float]]:
    """Party id -> {line: expected total over the agreement, 'net': their sum}, in pounds to
    the penny, rounded so that each party's lines add up to its net exactly and the nets add
    up to the expected system savings exactly (largest remainder)."""
    e = result.settlement.econ
    w = e.weights
    arrays = line_arrays(result)
    names = [k for k, _ in LINES]
    exp = np.stack([np.einsum("s,syp->p", w, arrays[k]) for k in names], axis=1)  # (P, L)
    nets = exp.sum(axis=1)
    total = np.array(round(float(nets.sum()) * 100))
    net_pence = largest_remainder(nets, total)
    lines = largest_remainder(exp, net_pence)
    out = {}
    for j, pid in enumerate(e.party_ids):
        row = {k: int(lines[j, i]) / 100 for i, k in enumerate(names)}
        row["net"] = int(net_pence[j]) / 100
        out[pid] = row
    return out


def expected_by_year(result: CheckResult) -> dict[str, list[float]]:
    """Party id -> expected net position each year, to the penny, adding up exactly to the
    whole-agreement net of `expected_lines`."""
    e = result.settlement.econ
    by_year = np.einsum("s,syp->py", e.weights, result.settlement.net)  # (P, Y)
    totals = np.array([round(v["net"] * 100) for v in expected_lines(result).values()])
    pence = largest_remainder(by_year, totals)
    return {pid: [int(v) / 100 for v in pence[j]] for j, pid in enumerate(e.party_ids)}


# ---------------------------------------------------------------- the headline


@dataclass(frozen=True)
class Headline:
    """The figures the room looks at first (expected values are totals over the agreement)."""

    system_savings: float
    commissioners_keep: float
    pool: float
    worst_provider_year: float
    prob_all_whole: float  # share of scenarios in which no one with a requirement falls short
    all_met: bool  # every keep-whole requirement met
    years: int
    scenarios: int


def whole_by_scenario(case: Case, result: CheckResult) -> np.ndarray:
    """(S,) whether every party with a keep-whole requirement is kept whole in every year its
    requirement applies: the same test as each party's "kept whole in" share."""
    st = result.settlement
    ok = np.ones(st.net.shape[0], dtype=bool)
    for j, pid in enumerate(st.econ.party_ids):
        kw = case.keep_whole_for(pid)
        if kw.mode != "none":
            ok &= shortfall_by_scenario(st.net[:, :, j], kw) <= PENNY
    return ok


def headline(case: Case, result: CheckResult) -> Headline:
    st = result.settlement
    e = st.econ
    w = e.weights
    return Headline(
        system_savings=result.expected_system_savings,
        commissioners_keep=result.expected_retained,
        pool=round(float(w @ st.pool.sum(axis=1)), 2),
        worst_provider_year=result.worst_provider_net or 0.0,
        prob_all_whole=min(float(w[whole_by_scenario(case, result)].sum()), 1.0),
        all_met=result.all_kept_whole,
        years=len(e.year_labels),
        scenarios=len(e.scenario_names),
    )


__all__ = ["LINES", "LINE_HELP", "Headline", "expected_by_year", "expected_lines", "headline",
           "line_arrays", "lines_for", "pence_lines", "whole_by_scenario"]  # fmt: skip
