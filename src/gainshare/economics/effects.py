"""Each scheme's own and joint effect in a portfolio (SPEC section 4.15): what it avoids and
saves on its own, and what it adds to the others, on the same scenarios. `check` reports it for
a case whose schemes draw on shared cohorts."""

from __future__ import annotations

import numpy as np

from gainshare.economics.model import Economics, LeverChoice, compute, scheme_flows
from gainshare.schema.case import Case


def _expected(w: np.ndarray, a: np.ndarray) -> float:
    """Expected horizon total of an (S, Y) array."""
    return float(w @ np.asarray(a).sum(axis=1))


def _savings(case: Case, econ: Economics, ids: list[str]) -> float:
    """Expected system savings (horizon total) with only the schemes `ids` running."""
    sub = case.model_copy(update={"schemes": [s for s in case.schemes if s.id in ids]})
    e = compute(sub, econ.scenarios, econ.levers)
    return _expected(e.weights, -e.total_cost_change.sum(axis=2))


def scheme_effects(case: Case, econ: Economics) -> dict:
    """Per scheme: patients avoided and system savings on its own (the other schemes not
    running) and in the portfolio (avoided patients counted once; savings it adds to the
    others running); and for the portfolio, what counting once removes and what running the
    schemes together adds beyond the sum of their own savings (e.g. a ward that closes only
    when both run). Savings are measured against running no scheme on the same scenarios.
    Expected horizon totals over the economics' scenarios and lever values."""
    sc, lv = econ.scenarios, econ.levers or LeverChoice()
    w = econ.weights
    joint = scheme_flows(case, sc, lv)
    ids = [s.id for s in case.schemes]
    none = _savings(case, econ, [])  # demand the schemes do not control, on its own
    every = _savings(case, econ, ids) - none
    by_scheme, own_total, own_saved = {}, 0.0, 0.0
    for s in case.schemes:
        alone = case.model_copy(update={"schemes": [s]})
        own = _expected(w, scheme_flows(alone, sc, lv)[s.id][1])
        saved = _savings(case, econ, [s.id]) - none
        by_scheme[s.id] = {
            "name": s.name or s.id,
            "teams": int(lv.teams.get(s.id, s.teams)),
            "own": {"patients_avoided": round(own, 2), "system_savings": round(saved, 2)},
            "in_portfolio": {
                "patients_avoided": round(_expected(w, joint[s.id][1]), 2),
                "system_savings": round(
                    every + none - _savings(case, econ, [i for i in ids if i != s.id]), 2
                ),
            },
        }  # fmt: skip
        own_total += own
        own_saved += saved
    counted = sum(_expected(w, f[1]) for f in joint.values())
    return {
        "by_scheme": by_scheme,
        "portfolio": {
            "patients_avoided": round(counted, 2),
            "patients_avoided_sum_of_own": round(own_total, 2),
            "double_count_removed": round(own_total - counted, 2),
            "system_savings": round(every, 2),
            "system_savings_sum_of_own": round(own_saved, 2),
            "joint_effect": round(every - own_saved, 2),
        },
    }
