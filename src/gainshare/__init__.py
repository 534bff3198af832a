"""gainshare: design and check multilateral gain/loss sharing agreements for health and care.

The Python API mirrors the command line: `load_case`, `load_agreement`, `check`, and (with the
optimiser) `design` and `Designer`."""

from gainshare.analysis import fairness
from gainshare.economics.model import Economics, LeverChoice, compute
from gainshare.economics.scenarios import sample
from gainshare.schema.agreement import Agreement
from gainshare.schema.case import Case
from gainshare.schema.io import InputError, load_agreement, load_case
from gainshare.settle.check import CheckResult, check
from gainshare.settle.engine import Settlement, settle

__all__ = [
    "Agreement",
    "Case",
    "CheckResult",
    "Economics",
    "InputError",
    "LeverChoice",
    "Settlement",
    "check",
    "compute",
    "fairness",
    "load_agreement",
    "load_case",
    "sample",
    "settle",
]
__version__ = "0.1.0"
