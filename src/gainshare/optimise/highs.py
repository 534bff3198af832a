"""Every HiGHS instance gainshare runs is made and run here: silent on stdout, one thread, a
fixed seed, the same tolerances, whichever highspy release is installed.

- highspy 1.16 prints its banner on stdout when an instance is *constructed*, before any option
  can be set; `quiet_highs()` makes the instance with the process's stdout (file descriptor 1)
  pointed at stderr for that moment.
- HiGHS starts one global task scheduler per process with the thread count of the first run;
  a later run asking for another count stops at once ("Not Set"). Every run here asks for the
  same count, and `run()` restarts the scheduler once if something else in the process (a
  library, an earlier release's default) started it differently.
"""

from __future__ import annotations

import os
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager

import highspy

OPTIONS = {  # one thread, a fixed seed, tight tolerances: the same case, the same answer
    "output_flag": False,
    "random_seed": 0,
    "threads": 1,
    "mip_feasibility_tolerance": 1e-9,
    "primal_feasibility_tolerance": 1e-9,
}
PYOMO_OPTIONS = {k: v for k, v in OPTIONS.items() if k != "output_flag"}  # Pyomo sets logging

Status = highspy.HighsModelStatus
_FD_LOCK = threading.Lock()


@contextmanager
def stdout_to_stderr() -> Iterator[None]:
    """Point file descriptor 1 at stderr for the block, so a library writing straight to the C
    stdout cannot break a `--json` document. Python's own `sys.stdout` is flushed first."""
    with _FD_LOCK:
        try:
            sys.stdout.flush()
        except (AttributeError, ValueError, OSError):
            pass
        saved = os.dup(1)
        try:
            os.dup2(2, 1)
            yield
        finally:
            os.dup2(saved, 1)
            os.close(saved)


@contextmanager
def stdout_silenced() -> Iterator[None]:
    """Point file descriptor 1 at the null device for the block (HiGHS's banner)."""
    with _FD_LOCK:
        try:
            sys.stdout.flush()
        except (AttributeError, ValueError, OSError):
            pass
        saved = os.dup(1)
        null = os.open(os.devnull, os.O_WRONLY)
        try:
            os.dup2(null, 1)
            yield
        finally:
            os.dup2(saved, 1)
            os.close(saved)
            os.close(null)


def quiet_highs() -> highspy.Highs:
    """A new HiGHS instance with gainshare's options and nothing written to stdout."""
    with stdout_silenced():
        h = highspy.Highs()
    configure(h)
    return h


def configure(h: highspy.Highs, extra: dict | None = None) -> None:
    for key, value in (OPTIONS | (extra or {})).items():
        h.setOptionValue(key, value)


def run(h: highspy.Highs) -> None:
    """Run HiGHS; when it refuses to start because the process's task scheduler was started
    with another thread count, restart the scheduler and run once more."""
    h.run()
    if h.getModelStatus() == Status.kNotset and _scheduler_clash(h):
        highspy.Highs.resetGlobalScheduler(True)
        h.run()


def _scheduler_clash(h: highspy.Highs) -> bool:
    """True when the last run stopped before it began (no iterations, no nodes)."""
    info = h.getInfo()
    return info.simplex_iteration_count <= 0 and info.mip_node_count <= 0


def pyomo_solve(opt, model, **kwargs):
    """Pyomo's persistent HiGHS solve with gainshare's options added to any given."""
    extra = kwargs.pop("solver_options", {}) or {}
    with stdout_to_stderr():
        return opt.solve(model, solver_options=PYOMO_OPTIONS | extra, **kwargs)


def solve_lp(cost, rows, cols, vals, row_lo, row_hi, col_lo, col_hi, maximize=False):
    """A linear programme given by its nonzeros (row, col, value): (x, row duals) at the
    optimum, or None when it has none. Bounds may be +-inf."""
    import numpy as np

    inf = highspy.kHighsInf
    clip = lambda a: np.clip(np.asarray(a, dtype=float), -inf, inf)  # noqa: E731
    rows, cols = np.asarray(rows, dtype=np.int64), np.asarray(cols, dtype=np.int32)
    order = np.argsort(rows, kind="stable")
    lp = highspy.HighsLp()
    lp.num_col_, lp.num_row_ = len(cost), len(row_lo)
    lp.col_cost_ = np.asarray(cost, dtype=float)
    lp.col_lower_, lp.col_upper_ = clip(col_lo), clip(col_hi)
    lp.row_lower_, lp.row_upper_ = clip(row_lo), clip(row_hi)
    lp.a_matrix_.format_ = highspy.MatrixFormat.kRowwise
    lp.a_matrix_.start_ = np.concatenate([[0], np.cumsum(np.bincount(rows, minlength=len(row_lo)))])
    lp.a_matrix_.index_ = cols[order]
    lp.a_matrix_.value_ = np.asarray(vals, dtype=float)[order]
    if maximize:
        lp.sense_ = highspy.ObjSense.kMaximize
    h = quiet_highs()
    h.passModel(lp)
    run(h)
    if h.getModelStatus() != Status.kOptimal:
        return None
    sol = h.getSolution()
    return np.asarray(sol.col_value), np.asarray(sol.row_dual)
