"""HiGHS alone on the model a Designer built: the yardstick of SPEC section 6.

`export(designer, path)` writes the model exactly as loaded into the Designer's persistent HiGHS
instance (after any what-if change) to an MPS file; `solve_file(path, options)` times a fresh
`highspy.Highs()` reading it and running it with the Designer's own solver options."""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import highspy

# the options the Designer sets on every solve (gainshare.optimise.designer)
OPTIONS = (
    "threads",
    "random_seed",
    "mip_rel_gap",
    "time_limit",
    "mip_feasibility_tolerance",
    "primal_feasibility_tolerance",
)


@dataclass(frozen=True)
class HighsRun:
    read_s: float  # readModel of the MPS file
    run_s: float  # run(): presolve, solve, postsolve
    status: str
    objective: float | None  # in the model's own (scaled) units

    @property
    def total_s(self) -> float:
        return self.read_s + self.run_s


def persistent(designer) -> highspy.Highs:
    """The Designer's own HiGHS instance (loaded after its first solve)."""
    return designer._solver()._solver_model


def options_of(h: highspy.Highs) -> dict:
    out = {}
    for name in OPTIONS:
        status, value = h.getOptionValue(name)
        if status == highspy.HighsStatus.kOk:
            out[name] = value
    return out


def export(designer, path: Path) -> dict:
    """Write the Designer's current model to `path` (MPS); return its solver options."""
    h = persistent(designer)
    h.writeModel(str(path))
    return options_of(h)


def objective_of(h: highspy.Highs) -> float | None:
    info = h.getInfo()
    return float(info.objective_function_value) if info.primal_solution_status == 2 else None


def solve_file(path: Path, options: dict) -> HighsRun:
    """A fresh HiGHS: read the file, run with `options`, no output."""
    h = highspy.Highs()
    h.setOptionValue("output_flag", False)
    for name, value in options.items():
        h.setOptionValue(name, value)
    t0 = time.perf_counter()
    h.readModel(str(path))
    t1 = time.perf_counter()
    h.run()
    t2 = time.perf_counter()
    status = h.modelStatusToString(h.getModelStatus())
    return HighsRun(t1 - t0, t2 - t1, status, objective_of(h))


def same_objective(a: float | None, b: float | None, rel: float = 1e-7) -> bool:
    if a is None or b is None:
        return a is b
    return abs(a - b) <= rel * max(1.0, abs(a), abs(b))
