"""After signing: settle the actual years an actuals file gives, or forecast a year from months
to date, with the same settlement engine as `check` (SPEC section 4.12). Results are typed and
carry the JSON documents `gainshare settle --json` prints (docs/settle-output.md)."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np

from gainshare.economics.model import Economics, compute, party_sum
from gainshare.schema.actuals import Actuals, year_number
from gainshare.schema.agreement import Agreement
from gainshare.schema.case import Case
from gainshare.schema.io import InputError
from gainshare.settle.actuals import (
    Baseline,
    economics_from_lines,
    lines_from_actuals,
    quality_needed,
)
from gainshare.settle.bridge import STEPS, Bridge, bridge
from gainshare.settle.engine import Settlement, settle
from gainshare.settle.forecast import (
    ToDate,
    check_months,
    profile_share,
    projected_lines,
    scenario_lines,
)
from gainshare.settle.pence import Statements, statements

LINES = [  # statement lines: key, sign as shown (cost change shown as cost saved)
    "revenue_change",
    "cost_change",
    "spend_saved",
    "direct_cost",
    "benefit",
    "transfer",
    "retained",
    "net",
]


def _pounds(pence) -> float:
    return int(pence) / 100


def _aggregate_years(agreement: Agreement, actuals: Actuals, years: list[int], case: Case):
    """Limits over the whole agreement need every earlier year in the same file."""
    if agreement.aggregate_limits is None:
        return
    labels = case.horizon.labels()
    have = set(actuals.years)
    for y in years:
        missing = [labels[i - 1] for i in range(1, y) if i not in have]
        if missing:
            raise InputError(
                [
                    f"{actuals.file}: the agreement limits transfers over the whole agreement, "
                    f"so {labels[y - 1]} settles after {', '.join(missing)}: add their rows to "
                    "the file"
                ]
            )


def chosen_years(case: Case, actuals: Actuals, year: str | None) -> list[int]:
    """1-based years to report: --year, else every year in the file."""
    if year is None:
        return actuals.years
    try:
        y = year_number(year, case)
    except ValueError as e:
        raise InputError([f"--year: {e}"]) from None
    if y not in actuals.years:
        raise InputError(
            [
                f"--year: {actuals.file} has no rows for {case.horizon.labels()[y - 1]}:"
                " add them or choose a year the file gives"
            ]
        )
    return [y]


def statement_document(case: Case, st: Settlement, pen: Statements, y: int, s: int = 0) -> dict:
    """The statement of year y (0-based) of scenario s: whole pence shown as pounds."""
    e = st.econ
    by_party = {}
    for j, pid in enumerate(e.party_ids):
        d = {"name": case.party(pid).name, "role": case.party(pid).role}
        for key in LINES:
            d[key] = _pounds(getattr(pen, key)[s, y, j])
        d["payment"] = _pounds(pen.transfer[s, y, j] + pen.retained[s, y, j])
        by_party[pid] = d
    exp = float(e.total_exp_spend[s, y])
    return {
        "year": y + 1,
        "year_label": e.year_labels[y],
        "expected_spend": round(exp, 2),
        "actual_spend": round(float(party_sum(e.act_spend)[s, y]), 2),
        "pool": _pounds(pen.pool[s, y]),
        "shareable": round(float(st.shareable[s, y]), 2),
        "transfers": _pounds(pen.transfer[s, y].sum()),
        "retained": _pounds(pen.retained[s, y].sum()),
        "system_savings": _pounds(pen.system_savings[s, y]),
        "by_party": by_party,
    }


def bridge_document(b: Bridge) -> dict:
    return {
        "expected_pool": _pounds(b.expected_pool_pence),
        "steps": {k: _pounds(b.steps_pence[k]) for k, _, _ in STEPS},
        "actual_pool": _pounds(b.actual_pool_pence),
    }


@dataclass(frozen=True)
class Outturn:
    """The settlement of the actual years of an actuals file."""

    case: Case
    agreement: Agreement
    actuals: Actuals
    settlement: Settlement  # one scenario, every year of the horizon
    expected: Economics  # the case's scenarios, with detail: the bridge's starting point
    years: list[int]  # 1-based years reported

    @cached_property
    def pence(self) -> Statements:
        return statements(self.settlement)

    def bridge(self, y: int) -> Bridge:
        """The bridge of year y (1-based)."""
        pen = self.pence
        return bridge(
            self.case, self.expected, self.settlement.econ, y - 1, int(pen.pool[0, y - 1])
        )

    def year_document(self, y: int) -> dict:
        doc = statement_document(self.case, self.settlement, self.pence, y - 1)
        b = self.bridge(y)
        doc["bridge"] = bridge_document(b)
        doc["identities"] = identities(self.pence, 0, y - 1, b)
        return doc

    @cached_property
    def document(self) -> dict:
        return {
            "command": "settle",
            "status": "settled",
            "case": self.case.name,
            "agreement": self.agreement.name,
            "currency": self.case.currency,
            "actuals": {"file": self.actuals.file, "sha256": self.actuals.sha256},
            "years": [self.year_document(y) for y in self.years],
        }


def identities(pen: Statements, s: int, y: int, b: Bridge | None = None) -> dict:
    """The SPEC section 3 identities of one statement, in whole pence."""
    out = {
        "pool_exact": bool(pen.transfer[s, y].sum() + pen.retained[s, y].sum() == pen.pool[s, y]),
        "savings_exact": bool(pen.net[s, y].sum() == pen.system_savings[s, y]),
    }
    if b is not None:
        total = b.expected_pool_pence + sum(b.steps_pence.values())
        out["bridge_exact"] = bool(total == b.actual_pool_pence)
    return out


def settle_actuals(
    case: Case, agreement: Agreement, actuals: Actuals, year: str | None = None
) -> Outturn:
    """Settle the years of `actuals` (SPEC section 4.12); `year` picks one to report."""
    years = chosen_years(case, actuals, year)
    _aggregate_years(agreement, actuals, years, case)
    problems = quality_needed(case, agreement, actuals)
    if problems:
        raise InputError(problems)
    base = Baseline.of(case)
    econ = economics_from_lines(case, lines_from_actuals(case, actuals, base), base)
    st = settle(econ, agreement)
    return Outturn(case, agreement, actuals, st, compute(case, detail=True), years)


# ---------------------------------------------------------------- forecast


def weighted_quantile(values: np.ndarray, weights: np.ndarray, q: float) -> float:
    order = np.argsort(values, kind="stable")
    v, w = values[order], weights[order]
    cum = np.cumsum(w) / w.sum()
    return float(v[min(int(np.searchsorted(cum, q - 1e-12)), len(v) - 1)])


def _spread(pence: np.ndarray, w: np.ndarray) -> dict:
    """Expected value, 5th and 95th percentile, lowest and highest of (S,) pence, in pounds."""
    pounds = pence / 100
    return {
        "expected": round(float(w @ pounds), 2),
        "p5": round(weighted_quantile(pounds, w, 0.05), 2),
        "p95": round(weighted_quantile(pounds, w, 0.95), 2),
        "low": round(float(pounds.min()), 2),
        "high": round(float(pounds.max()), 2),
    }


@dataclass(frozen=True)
class Forecast:
    """The year-end settlement forecast from months to date."""

    case: Case
    agreement: Agreement
    actuals: Actuals
    year: int  # 1-based
    months: int
    share: float
    profile: list[float] | None
    projection: Settlement  # the run rate (one scenario)
    scenarios: Settlement  # every scenario of the case, the rest of the year drawn from it
    expected: Economics

    @cached_property
    def pence(self) -> Statements:
        return statements(self.scenarios)

    @cached_property
    def projection_pence(self) -> Statements:
        return statements(self.projection)

    @cached_property
    def document(self) -> dict:
        y, pen, w = self.year - 1, self.pence, self.scenarios.econ.weights
        proj = statement_document(self.case, self.projection, self.projection_pence, y)
        b = bridge(
            self.case, self.expected, self.projection.econ, y, int(self.projection_pence.pool[0, y])
        )
        proj["bridge"] = bridge_document(b)
        by_party = {
            pid: {
                "name": self.case.party(pid).name,
                "transfer": _spread(pen.transfer[:, y, j], w),
                "payment": _spread(pen.transfer[:, y, j] + pen.retained[:, y, j], w),
                "net": _spread(pen.net[:, y, j], w),
            }
            for j, pid in enumerate(self.case.party_ids)
        }
        return {
            "command": "settle",
            "status": "forecast",
            "case": self.case.name,
            "agreement": self.agreement.name,
            "currency": self.case.currency,
            "actuals": {"file": self.actuals.file, "sha256": self.actuals.sha256},
            "year": self.year,
            "year_label": self.case.horizon.labels()[y],
            "months_to_date": self.months,
            "share_of_year": round(self.share, 6),
            "profile": self.profile or "flat",
            "scenarios": len(w),
            "pool": _spread(pen.pool[:, y], w),
            "by_party": by_party,
            "projection": proj,
        }


def forecast_actuals(
    case: Case,
    agreement: Agreement,
    actuals: Actuals,
    months: int,
    year: str | None = None,
    profile: list[float] | None = None,
) -> Forecast:
    """Forecast the settlement of one year from `months` months of actuals."""
    check_months(months)
    years = chosen_years(case, actuals, year)
    y = years[-1]
    _aggregate_years(agreement, actuals, [y], case)
    problems = quality_needed(case, agreement, actuals)
    if problems:
        raise InputError(problems)
    base = Baseline.of(case)
    share = profile_share(months, profile)
    if share <= 0:
        raise InputError(
            [
                "--profile: no activity falls in the months to date: the year cannot "
                "be projected from them; check the profile"
            ]
        )
    td = ToDate(months, share, lines_from_actuals(case, actuals, base), y - 1)
    expected = compute(case, detail=True)
    lines = scenario_lines(td, expected)
    econ = economics_from_lines(case, lines, base, expected.scenario_names, expected.weights)
    proj = economics_from_lines(case, projected_lines(td), base)
    return Forecast(
        case,
        agreement,
        actuals,
        y,
        months,
        share,
        profile,
        settle(proj, agreement),
        settle(econ, agreement),
        expected,
    )
