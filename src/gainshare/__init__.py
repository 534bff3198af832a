"""gainshare: design and check multilateral gain/loss sharing agreements for health and care.

The Python API mirrors the command line: `load_case`, `load_agreement`, `check` (with
`incentives=True` as `gainshare check` prints it), `design`, `Designer`, `repair`, `explain`,
`candidates`, `fair_references`, `sensitivity`; after signing `read_actuals`, `settle_actuals`
and `forecast_actuals`. The optimiser
functions load Pyomo and HiGHS on first use, so `check` stays quick to import."""

from gainshare.analysis import fairness
from gainshare.analysis.incentives import check_with_incentives
from gainshare.economics.model import Economics, LeverChoice, compute
from gainshare.economics.scenarios import sample
from gainshare.schema.agreement import Agreement
from gainshare.schema.case import Case
from gainshare.schema.io import InputError, load_agreement, load_case
from gainshare.settle.check import CheckResult
from gainshare.settle.check import check as _check
from gainshare.settle.engine import Settlement, settle

__all__ = [
    "Agreement",
    "Case",
    "CheckResult",
    "Economics",
    "InputError",
    "LeverChoice",
    "Settlement",
    "Designer",
    "candidates",
    "check",
    "compute",
    "design",
    "explain",
    "fair_references",
    "fairness",
    "forecast_actuals",
    "load_agreement",
    "load_case",
    "read_actuals",
    "repair",
    "sample",
    "sensitivity",
    "settle",
    "settle_actuals",
]


def check(
    case: Case, agreement: Agreement, econ: Economics | None = None, *, incentives: bool = False
) -> CheckResult:
    """Settle `agreement` on `case` over every scenario and year (SPEC section 4.1). With
    `incentives=True`, also how each party's position moves as the scheme grows (section
    4.11), on the case's own scenarios: as `gainshare check` prints it."""
    if not incentives:
        return _check(case, agreement, econ)
    if econ is not None:
        raise ValueError(
            "incentives=True settles growth steps on the case's own scenarios: leave econ out, "
            "or call gainshare.analysis.incentives.check_with_incentives with the scenarios"
        )
    return check_with_incentives(case, agreement)


_LAZY = {
    "design": ("gainshare.optimise.designer", "design"),
    "Designer": ("gainshare.optimise.designer", "Designer"),
    "repair": ("gainshare.optimise.repair", "repair"),
    "explain": ("gainshare.optimise.explain", "explain"),
    "candidates": ("gainshare.analysis.candidates", "candidates"),
    "fair_references": ("gainshare.analysis.coalitions", "fair_references"),
    "sensitivity": ("gainshare.analysis.sensitivity", "sensitivity"),
    "read_actuals": ("gainshare.schema.actuals", "read_actuals"),
    "settle_actuals": ("gainshare.settle.outturn", "settle_actuals"),
    "forecast_actuals": ("gainshare.settle.outturn", "forecast_actuals"),
}


def __getattr__(name: str):
    """The optimiser-backed functions, imported when first used."""
    if name in _LAZY:
        import importlib

        module, attr = _LAZY[name]
        return getattr(importlib.import_module(module), attr)
    raise AttributeError(f"module 'gainshare' has no attribute {name!r}")


__version__ = "0.1.0"
