"""The bridge from the expected pool to the actual pool of a settled year: how much of the
difference came from the baseline moving, from underlying volume, from the schemes' effect, from
prices, and from the rest. Each step changes one thing at a time, in that order, so the steps
add up to the difference exactly (and, in pence, by largest remainder).

With, per contract k, the expected figures as the case's probability-weighted scenarios give
them (bars: expected payment E, units u, units moved by schemes m, direct scheme costs D) and
the actual ones (stars), and pay_k(u; plan) the contract's payment rule:

    Q0 = expected pool                          = sum_k (E_k - A_k) - D, weighted
    Q1 = sum_k [E_k - pay_k(u_k; e_k)] - D      other: the rules applied to expected averages
    Q2 = sum_k [E*_k - pay_k(u_k; e*_k)] - D    baseline
    Q3 = sum_k [E*_k - pay_k(u*_k - m*_k + m_k; e*_k)] - D     volume (not moved by schemes)
    Q4 = sum_k [E*_k - pay_k(u*_k; e*_k)] - D*  scheme effect (units moved, direct costs)
    Q5 = sum_k [E*_k - A*_k] - D* = actual pool price (payments not the rule x units)

where e are expected units. The formulas are in models/settlement.md."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from gainshare.economics.baseline import contract_factors
from gainshare.economics.model import Economics, contract_payment, party_sum
from gainshare.schema.case import Case
from gainshare.settle.pence import largest_remainder

STEPS = [
    ("baseline", "Baseline", "the expected spend moved (trend, adjustments, rebasing)"),
    ("volume", "Volume", "underlying activity above (-) or below (+) what was expected"),
    (
        "scheme",
        "Scheme effect",
        "activity the schemes moved, and their direct costs, against what was expected",
    ),
    ("price", "Price", "payments that differ from the contract's rule applied to the units"),
    (
        "other",
        "Other",
        "the payment rules applied to expected averages rather than to each scenario",
    ),
]


@dataclass(frozen=True)
class Bridge:
    """Pounds and whole pence; steps in the order of STEPS."""

    expected_pool: float
    actual_pool: float
    steps: dict[str, float]
    expected_pool_pence: int
    actual_pool_pence: int
    steps_pence: dict[str, int]

    def rows(self) -> list[tuple[str, str, int]]:
        """(key, label, pence) from the expected pool, step by step, to the actual pool."""
        out = [("expected", "Expected pool", self.expected_pool_pence)]
        out += [(k, label, self.steps_pence[k]) for k, label, _ in STEPS]
        return out + [("actual", "Actual pool", self.actual_pool_pence)]


def _pay(case: Case, k: int, units, plan, scale) -> float:
    c = case.contracts[k]
    return float(contract_payment(c, np.array([[units]]), np.array([[plan]]), scale)[0, 0])


def _expected(econ: Economics, y: int):
    """Weighted expected figures of year y per contract: E, A, units, expected units, moved."""
    w, d = econ.weights, econ.detail
    mean = lambda a: np.einsum("s,sk->k", w, a[:, y, :])  # noqa: E731
    direct = float(w @ party_sum(econ.direct_cost)[:, y])
    return (
        mean(d.exp_pay),
        mean(d.act_pay),
        mean(econ.units_act),
        mean(econ.units_exp),
        mean(d.units_moved),
        direct,
    )


def bridge(
    case: Case, expected: Economics, actual: Economics, y: int, actual_pool_pence: int, s: int = 0
) -> Bridge:
    """The bridge of year y (0-based) from `expected` (the case's scenarios, with detail) to
    scenario `s` of `actual` (an actual or projected year, with detail)."""
    e_pay, a_pay, u_bar, e_bar, m_bar, d_bar = _expected(expected, y)
    ad = actual.detail
    e_star = ad.exp_pay[s, y]
    u_star, plan_star, m_star = actual.units_act[s, y], actual.units_exp[s, y], ad.units_moved[s, y]
    d_star = float(party_sum(actual.direct_cost)[s, y])
    scales = contract_factors(case)
    scale = [f if isinstance(f, float) else np.asarray(f)[y : y + 1] for f in scales]
    K = len(case.contracts)

    def pool(base, units, plan, direct, paid=None):
        total = 0.0
        for k in range(K):
            pay = paid[k] if paid is not None else _pay(case, k, units[k], plan[k], scale[k])
            total += float(base[k]) - pay
        return total - direct

    q0 = float(expected.weights @ expected.pool[:, y])
    q1 = pool(e_pay, u_bar, e_bar, d_bar)
    q2 = pool(e_star, u_bar, plan_star, d_bar)
    q3 = pool(e_star, u_star - m_star + m_bar, plan_star, d_bar)
    q4 = pool(e_star, u_star, plan_star, d_star)
    q5 = float(actual.pool[s, y])
    steps = {
        "other": q1 - q0,
        "baseline": q2 - q1,
        "volume": q3 - q2,
        "scheme": q4 - q3,
        "price": q5 - q4,
    }
    keys = [k for k, _, _ in STEPS]
    exp_p = int(np.rint(q0 * 100))
    pence = largest_remainder(
        np.array([steps[k] for k in keys]), np.array(actual_pool_pence - exp_p)
    )
    return Bridge(
        q0,
        q5,
        {k: steps[k] for k in keys},
        exp_p,
        int(actual_pool_pence),
        {k: int(v) for k, v in zip(keys, pence, strict=True)},
    )
