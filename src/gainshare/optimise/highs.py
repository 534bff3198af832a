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


def quiet_highs() -> highspy.Highs:
    """A new HiGHS instance with gainshare's options and nothing written to stdout."""
    with stdout_to_stderr():
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
