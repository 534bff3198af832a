"""An in-year forecast of a year's settlement from N months of actuals (SPEC section 4.12).

The year runs to a stated monthly profile (flat unless seasonality is given); the share of the
year's activity that falls in the first N months is s = sum of the first N months' weights /
sum of all twelve. For every additive figure x (units, units moved by schemes, payments and
cost changes given, scheme running costs, benefits):

    projection:  x_year = x_to_date / s                      (the run rate, by the profile)
    scenario i:  x_year,i = x_to_date / s + (X_i - X) (1 - s)

where X_i is that figure in the case's scenario i and X its probability-weighted mean: the
rest of the year is the run rate plus the case's own uncertainty about it. A quality score is
the score to date plus (Q_i - Q)(1 - s). Units never fall below those to date. Settling every
scenario's year gives each party's expected transfer and net position and their range; with
N = 12 every scenario is the actual year, so the forecast is the actual settlement."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from gainshare.economics.model import Economics
from gainshare.schema.io import InputError
from gainshare.settle.actuals import Lines

FLAT = [1.0] * 12


def profile_share(months: int, profile: list[float] | None = None) -> float:
    """Share of the year's activity in its first `months` months under a 12-month profile."""
    p = FLAT if profile is None else profile
    return float(sum(p[:months]) / sum(p))


def parse_profile(text: str | None) -> list[float] | None:
    """--profile: 'flat', or twelve weights separated by commas (months from the first of the
    financial year); InputError otherwise."""
    if text is None or text.strip().lower() == "flat":
        return None
    try:
        values = [float(v) for v in text.split(",")]
    except ValueError:
        values = []
    if len(values) != 12 or any(not np.isfinite(v) or v < 0 for v in values) or sum(values) <= 0:
        raise InputError(
            [
                f"--profile: '{text}' is not a profile: give 'flat' or twelve weights, zero or "
                "more, separated by commas (one a month from the start of the year)"
            ]
        )
    return values


@dataclass(frozen=True)
class ToDate:
    """The share of the year to date and the figures of the year's months so far."""

    months: int
    share: float
    lines: Lines  # one scenario; only year `year` is filled
    year: int  # 0-based


def _spread(to_date: np.ndarray, scen: np.ndarray, w: np.ndarray, share: float) -> np.ndarray:
    """(S,) or (S, n): run rate plus each scenario's difference from its mean over the rest."""
    mean = np.einsum("s,s...->...", w, scen)
    return to_date / share + (scen - mean) * (1.0 - share)


def scenario_lines(td: ToDate, econ: Economics) -> Lines:
    """Year `td.year` projected in every scenario of `econ` (the case's, with detail); the
    other years as in `td.lines` (S copies)."""
    y, s, w = td.year, td.share, econ.weights
    S = len(w)
    d = econ.detail
    L = td.lines

    def rep(a):  # (1, Y, n) -> (S, Y, n), a copy
        return np.repeat(a, S, axis=0)

    units, moved, pay, cost = rep(L.units), rep(L.scheme_units), rep(L.payment), rep(L.cost_change)
    running, benefit, quality = rep(L.running_cost), rep(L.benefit), rep(L.quality)
    units[:, y] = np.maximum(_spread(L.units[0, y], econ.units_act[:, y], w, s), L.units[0, y])
    moved[:, y] = _spread(L.scheme_units[0, y], d.units_moved[:, y], w, s)
    pay[:, y] = _spread(L.payment[0, y], d.act_pay[:, y], w, s)  # NaN stays NaN: the rule
    cost[:, y] = _spread(L.cost_change[0, y], d.cost_change[:, y], w, s)
    running[:, y] = _spread(L.running_cost[0, y], d.scheme_cost[:, y], w, s)
    benefit[:, y] = _spread(L.benefit[0, y], econ.benefit[:, y], w, s)
    q_scen = np.nan_to_num(econ.quality[:, y], nan=100.0)
    q_mean = np.einsum("s,sp->p", w, q_scen)
    quality[:, y] = np.clip(L.quality[0, y] + (q_scen - q_mean) * (1.0 - s), 0.0, 100.0)
    return Lines(units, moved, pay, cost, running, benefit, quality, L.settled.copy())


def projected_lines(td: ToDate) -> Lines:
    """Year `td.year` projected at the run rate (one scenario)."""
    y, s, L = td.year, td.share, td.lines
    out = Lines(
        *(
            np.array(a, copy=True)
            for a in (
                L.units,
                L.scheme_units,
                L.payment,
                L.cost_change,
                L.running_cost,
                L.benefit,
                L.quality,
            )
        ),
        L.settled.copy(),
    )
    for a in (
        out.units,
        out.scheme_units,
        out.payment,
        out.cost_change,
        out.running_cost,
        out.benefit,
    ):
        a[:, y] = a[:, y] / s
    return out


def check_months(months: int) -> None:
    if not 1 <= months <= 12:
        raise InputError([f"--months-to-date: {months} is not a number of months: give 1 to 12"])
