"""`sweep`: many cases, or a grid of what-ifs, in one run (SPEC section 4.10).

The runs are split into tasks before anything is solved. A task is one case with one set of
case figures (the grid values that change the economics) and up to `chunk` combinations of
requirement values: its worker builds the design model once and re-solves it for each
combination, changing only mutable parameters (keep-whole tolerances, the commissioners'
minimum, the worst-margin floor, the objective). The split depends on the sweep file alone, so
a sweep gives the same results run in this process, on a local process pool, or on a Dask
cluster. Results are one row per run, written atomically to CSV or parquet."""

from __future__ import annotations

import itertools
import json
import math
import os
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
from pydantic import ValidationError

from gainshare.errors import InputError, excerpt
from gainshare.output import atomic_file, check_target
from gainshare.schema.case import Case
from gainshare.schema.io import case_warnings, format_validation, load_case_data, read_mapping
from gainshare.schema.sweep import Sweep

RESOLVE_REQUIREMENTS = {
    "requirements.objective",
    "requirements.commissioners_min_expected",
    "requirements.worst_margin_min",
}
TOLERANCE_PATH = re.compile(r"^keep_whole\.([\w\-]+)\.tolerance$")
TIMING_COLUMNS = ("seconds", "solve_s")  # differ run to run; every other column is exact
LIST_KEYS = ("id", "name", "party")  # how an item of a list is named in a path


# ------------------------------------------------------------------ the plan


@dataclass(frozen=True)
class Run:
    index: int
    values: dict[str, Any]  # grid path -> value, every axis


@dataclass(frozen=True)
class Task:
    """One built model: a case with its figure values applied, re-solved for each run."""

    index: int
    case_label: str
    case: dict  # the case mapping with this task's figure values applied
    resolve_axes: tuple[str, ...]
    runs: tuple[Run, ...]
    record: tuple[str, ...]


@dataclass(frozen=True)
class Plan:
    sweep: Sweep
    source: str
    output: Path
    tasks: list[Task]
    warnings: tuple[str, ...] = ()  # figures in the cases that look like a units slip
    force: bool = False  # replace an existing results file

    @property
    def runs(self) -> int:
        return sum(len(t.runs) for t in self.tasks)


def set_path(data: dict, path: str, value: Any, defaults: Callable[[str], dict] | None = None):
    """A copy of the mapping `data` with `path` set to `value` (see gainshare.schema.sweep)."""
    out = json.loads(json.dumps(data))
    node: Any = out
    keys = path.split(".")
    for depth, key in enumerate(keys[:-1]):
        node = _child(node, key, ".".join(keys[: depth + 1]), defaults)
    last = keys[-1]
    if isinstance(node, list):
        raise ValueError(f"'{'.'.join(keys[:-1])}' is a list: name one of its items, then a field")
    node[last] = value
    return out


def _child(node: Any, key: str, where: str, defaults) -> Any:
    if isinstance(node, dict):
        if key not in node or node[key] is None:
            node[key] = defaults(where) if defaults is not None else {}
        child = node[key]
        if not isinstance(child, dict | list):
            raise ValueError(f"'{where}' is a value, not a section: shorten the path")
        return child
    for item in node:
        if isinstance(item, dict) and any(item.get(k) == key for k in LIST_KEYS):
            return item
    names = [str(next(item[k] for k in LIST_KEYS if k in item)) for item in node
             if isinstance(item, dict) and any(k in item for k in LIST_KEYS)]  # fmt: skip
    parent = where.rsplit(".", 1)[0]
    raise ValueError(f"{parent} has no item '{key}' (items: {', '.join(names) or 'none'}): "
                     "use one of them")  # fmt: skip


def _keep_whole_defaults(case):
    def defaults(where: str) -> dict:
        parts = where.split(".")
        if len(parts) == 2 and parts[0] == "keep_whole" and parts[1] in case.party_ids:
            return case.keep_whole_for(parts[1]).model_dump()
        return {}

    return defaults


def _resolvable(path: str, cases: list, grid: dict) -> bool:
    """Whether a grid axis only changes mutable parameters of a built model."""
    if path in RESOLVE_REQUIREMENTS:
        return True
    m = TOLERANCE_PATH.match(path)
    if not m or any(p.startswith(f"keep_whole.{m[1]}.") and p != path for p in grid):
        return False
    pid = m[1]
    # chance keep-whole sizes its big-M from the tolerance at build time: rebuild for it
    return all(pid in c.party_ids and c.keep_whole_for(pid).mode in ("robust", "cvar")
               for c in cases)  # fmt: skip


def load_sweep(path: str | Path, out: str | Path | None = None, force: bool = False) -> Plan:
    """Read and check a sweep file, its cases, every grid value and where the results go
    (an existing results file is refused unless `force`); split it into tasks."""
    name = str(path)
    try:
        sweep = Sweep.model_validate(read_mapping(path))
    except ValidationError as e:
        raise InputError(format_validation(name, e)) from None
    base = Path(path).parent
    files = _case_files(sweep, base, name)
    output = _output(sweep, Path(path), out, force)
    both = [load_case_data(f) for f in files]
    loaded = [(f, data) for f, (data, _) in zip(files, both, strict=True)]
    cases = [case for _, case in both]
    warnings = tuple(f"{f}: {w}" for f, case in zip(files, cases, strict=True)
                     for w in case_warnings(case))  # fmt: skip
    axes = list(sweep.grid)
    resolve = tuple(a for a in axes if _resolvable(a, cases, sweep.grid))
    figures = [a for a in axes if a not in resolve]
    tasks: list[Task] = []
    for i, ((f, data), case) in enumerate(zip(loaded, cases, strict=True)):
        tasks += _tasks(sweep, name, f, data, case, figures, resolve, len(tasks), i)
    return Plan(sweep=sweep, source=name, output=output, tasks=tasks, warnings=warnings,
                force=force)  # fmt: skip


def _case_files(sweep: Sweep, base: Path, name: str) -> list[Path]:
    if sweep.base_case is not None:
        return [base / sweep.base_case]
    files: list[Path] = []
    for i, pattern in enumerate(sweep.cases):
        if any(ch in pattern for ch in "*?["):
            found = sorted(p for p in base.glob(pattern) if p.is_file())
            if not found:
                raise InputError([f"{name}: cases[{i}]: {excerpt(pattern)} matches no file: "
                                  "check the pattern (relative to the sweep file)"])  # fmt: skip
            files += found
        else:
            files.append(base / pattern)
    return files


def _output(sweep: Sweep, path: Path, out: str | Path | None, force: bool) -> Path:
    """Where the results go: --out, else the sweep file's `output`, else beside the file."""
    if out is not None:
        target, option = Path(out), "--out"
    elif sweep.output is not None:
        target, option = path.parent / sweep.output, "output"
    else:
        target, option = path.with_name(path.name.split(".")[0] + ".results.csv"), "output"
    return check_target(target, option, force, suffixes=(".csv", ".parquet"))


def _point_case(name: str, data: dict, case, values: dict[str, Any]) -> dict:
    """The case mapping with grid values applied, validated (InputError naming the grid)."""
    out = data
    defaults = _keep_whole_defaults(case)
    for path, v in values.items():
        try:
            out = set_path(out, path, v, defaults)
        except ValueError as e:
            raise InputError([f"{name}: grid.{excerpt(path).strip(chr(39))}: {e}"]) from None
    try:
        Case.model_validate(out)
    except ValidationError as e:
        field = f"grid.{next(iter(values))}" if len(values) == 1 else "grid"
        shown = ", ".join(f"{p}={excerpt(v)}" for p, v in values.items())
        lines = [line.split(": ", 1)[1] for line in format_validation("case", e)]
        raise InputError([f"{name}: {field}: with {shown}, the case's {line}"
                          for line in lines]) from None  # fmt: skip
    return out


def _tasks(sweep, name, file, data, case, figures, resolve, start, case_no) -> list[Task]:
    """Tasks of one case: one per set of figure values and chunk of requirement values. Runs
    are numbered in the grid's own order (first axis slowest), case after case."""
    grid, axes = sweep.grid, list(sweep.grid)
    stride = {a: math.prod(len(grid[b]) for b in axes[i + 1 :]) for i, a in enumerate(axes)}
    for a in resolve:  # each requirement value once, on the case as it is
        for v in grid[a]:
            _point_case(name, data, case, {a: v})
    combos = list(itertools.product(*(range(len(grid[a])) for a in resolve)))
    out = []
    for fig in itertools.product(*(range(len(grid[a])) for a in figures)):
        mapping = _point_case(
            name, data, case, {a: grid[a][i] for a, i in zip(figures, fig, strict=True)}
        )
        for lo in range(0, len(combos), sweep.chunk):
            runs = []
            for combo in combos[lo : lo + sweep.chunk]:
                pos = dict(zip(figures, fig, strict=True)) | dict(zip(resolve, combo, strict=True))
                index = case_no * sweep.grid_size + sum(pos[a] * stride[a] for a in axes)
                runs.append(Run(index, {a: grid[a][pos[a]] for a in axes}))
            out.append(Task(start + len(out), file.name, mapping, resolve, tuple(runs),
                            tuple(sweep.record)))  # fmt: skip
    return out


# ------------------------------------------------------------------ running a task


def run_task(task: Task) -> list[dict]:
    """Build the design model once for the task's case and solve it for every run."""
    from gainshare.memory import keep_freed_memory
    from gainshare.optimise import Designer

    keep_freed_memory()  # in each worker process (once)

    defaults = _keep_whole_defaults(Case.model_validate(task.case))
    designer = None
    rows = []
    for run in task.runs:
        t0 = time.perf_counter()
        resolve_values = {a: run.values[a] for a in task.resolve_axes}
        try:
            mapping = task.case
            for path, v in resolve_values.items():
                mapping = set_path(mapping, path, v, defaults)
            case = Case.model_validate(mapping)
            built = designer is None
            if built:
                designer = Designer(case)
            else:
                _apply_setters(designer, resolve_values)
            result = designer.solve(duals="binding" in task.record)
            row = _row(task, run, case, designer, result, built)
        except Exception as e:  # noqa: BLE001 - one failed run is a row, not a lost sweep
            row = _base_row(task, run) | {"status": "error", "built": designer is None,
                                          "message": f"{type(e).__name__}: {e}"}  # fmt: skip
        if "timings" in task.record:
            row["seconds"] = round(time.perf_counter() - t0, 4)
        rows.append(row)
    return rows


def _apply_setters(designer, values: dict[str, Any]) -> None:
    for path, v in values.items():
        m = TOLERANCE_PATH.match(path)
        if m:
            designer.set_tolerance(m[1], v)
        elif path == "requirements.objective":
            designer.set_objective(v)
        elif path == "requirements.commissioners_min_expected":
            designer.set_commissioners_min(v)
        elif path == "requirements.worst_margin_min":
            designer.set_margin_min(v)


def _base_row(task: Task, run: Run) -> dict:
    return {"run": run.index, "case": task.case_label} | {
        f"grid.{k}": _cell(v) for k, v in run.values.items()
    }


def _cell(v: Any) -> Any:
    return json.dumps(v, sort_keys=True) if isinstance(v, dict | list) else v


def _row(task: Task, run: Run, case, designer, result, built: bool) -> dict:
    from gainshare.settle.check import check

    row = _base_row(task, run) | {
        "status": result.status,
        "built": built,
        "objective": result.objective_name,
        "objective_value": _money(result.objective_value),
        "message": result.message,
    }
    chk = result.check
    if chk is not None and case.keep_whole != designer.case.keep_whole:
        # the model was built with other tolerances: summarise against this run's own
        chk = check(case, result.agreement, chk.settlement.econ)
    doc = chk.document if chk is not None else None
    row["commissioners_retained"] = _num(doc["retained"]["expected"]) if doc else None
    row["system_savings"] = _num(doc["system_savings"]["expected"]) if doc else None
    row["all_kept_whole"] = doc["all_kept_whole"] if doc else None
    if "parties" in task.record:
        row |= _party_columns(case, doc)
    if "shares" in task.record:
        row |= _share_columns(case, result.agreement)
    if "binding" in task.record:
        row["binding"] = "; ".join(b["requirement"] for b in result.binding)
    if "timings" in task.record:
        row["solve_s"] = result.timings.get("solve_s")
    return row


def _money(v: float | None) -> float | None:
    return None if v is None else round(float(v), 2) + 0.0


def _num(v: float | None) -> float | None:
    """A number from a check document, with -0.0 written as 0.0."""
    return None if v is None else float(v) + 0.0


def _party_columns(case, doc: dict | None) -> dict:
    out = {}
    for pid in case.party_ids:
        d = doc["by_party"][pid] if doc else {}
        out[f"{pid}.expected_net"] = _num(d.get("expected_net"))
        out[f"{pid}.worst_net"] = _num(d.get("worst_net"))
        out[f"{pid}.prob_whole"] = _num(d.get("prob_whole"))
    return out


def _share_columns(case, agreement) -> dict:
    out = {}
    if agreement is None:
        return out
    for kind, tiers in (("gain", agreement.terms.gain_tiers), ("loss", agreement.terms.loss_tiers)):
        for k, tier in enumerate(tiers):
            for pid in case.party_ids:
                out[f"{kind}_tier{k + 1}.{pid}"] = round(tier.shares.get(pid, 0.0), 10) + 0.0
    return out


# ------------------------------------------------------------------ executors


def default_workers() -> int:
    """One worker per CPU this process may use."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - not Linux
        return max(1, os.cpu_count() or 1)


def _sequential(tasks: list[Task], on_done) -> None:
    for t in tasks:
        on_done(run_task(t))


def _process_pool(tasks: list[Task], workers: int, on_done) -> None:
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor, as_completed

    ctx = multiprocessing.get_context("forkserver")
    ctx.set_forkserver_preload(["gainshare.analysis.sweep", "gainshare.optimise"])
    with ProcessPoolExecutor(max_workers=workers, mp_context=ctx) as pool:
        futures = [pool.submit(run_task, t) for t in tasks]
        try:
            for fut in as_completed(futures):
                on_done(fut.result())
        except BaseException:
            pool.shutdown(wait=False, cancel_futures=True)
            raise


def _dask(tasks: list[Task], address: str, on_done) -> int:
    try:
        from dask.distributed import Client, as_completed
    except ImportError:
        raise InputError(["--scheduler: needs dask.distributed: pip install 'gainshare[dask]'"]
                         ) from None  # fmt: skip
    try:
        client = Client(address, timeout="10s", set_as_default=False)
    except OSError as e:
        raise InputError([f"--scheduler: cannot reach {address} ({e}): check the address "
                          "and that the scheduler is running"]) from None  # fmt: skip
    with client:
        workers = len(client.scheduler_info().get("workers", {}))
        futures = client.map(run_task, tasks, pure=False)
        try:
            for fut in as_completed(futures, loop=client.loop):
                on_done(fut.result())
        except BaseException:
            client.cancel(futures)
            raise
    return workers


@dataclass(frozen=True)
class SweepResult:
    table: pd.DataFrame
    output: Path | None
    runs: int
    tasks: int
    workers: int
    scheduler: str
    seconds: float
    source: str

    @property
    def status_counts(self) -> dict[str, int]:
        return {str(k): int(v) for k, v in self.table["status"].value_counts().sort_index().items()}

    @property
    def document(self) -> dict:
        """The `sweep --json` document."""
        return {
            "command": "sweep",
            "sweep": self.source,
            "output": None if self.output is None else str(self.output),
            "runs": self.runs,
            "tasks": self.tasks,
            "models_built": int(self.table["built"].sum()),
            "status": self.status_counts,
            "scheduler": self.scheduler,
            "workers": self.workers,
            "seconds": round(self.seconds, 3),
        }


def run_sweep(
    plan: Plan,
    workers: int | None = None,
    scheduler: str | None = None,
    progress: Callable[[int], None] | None = None,
    write: bool = True,
) -> SweepResult:
    """Run every task (in this process when workers == 1, on a process pool, or on the Dask
    scheduler at `scheduler`), collect one row per run and write the results file.

    The pool starts its workers with the forkserver method: a script that calls this must
    guard its own code with `if __name__ == "__main__":`."""
    t0 = time.perf_counter()
    rows: list[dict] = []

    def on_done(batch: list[dict]) -> None:
        rows.extend(batch)
        if progress is not None:
            progress(len(batch))

    tasks = plan.tasks
    if scheduler is not None:
        n = _dask(tasks, scheduler, on_done)
        how = scheduler
    else:
        n = min(workers or default_workers(), len(tasks))
        if n <= 1:
            n, how = 1, "sequential"
            _sequential(tasks, on_done)
        else:
            how = "processes"
            _process_pool(tasks, n, on_done)
    table = results_table(rows)
    if write:
        write_table(table, plan.output, force=plan.force)
    return SweepResult(table, plan.output if write else None, plan.runs, len(tasks), n, how,
                       time.perf_counter() - t0, plan.source)  # fmt: skip


def results_table(rows: list[dict]) -> pd.DataFrame:
    """Rows in run order; grid columns with mixed kinds of value become JSON text."""
    table = pd.DataFrame(rows).sort_values("run", kind="stable").reset_index(drop=True)
    for col in table.columns:
        if col.startswith("grid.") and table[col].dtype == object:
            kinds = {type(v) for v in table[col] if v is not None}
            if len(kinds) > 1:
                table[col] = [json.dumps(v) for v in table[col]]
    return table


def write_table(table: pd.DataFrame, path: Path, force: bool = True) -> None:
    """Write CSV or parquet atomically: a temporary file in the same folder, then a rename;
    nothing is left behind by a failure or a signal."""
    with atomic_file(path, "--out", force) as tmp:
        if path.suffix.lower() == ".parquet":
            try:
                table.to_parquet(tmp, index=False)
            except ImportError:
                raise InputError([f"{path}: --out: writing parquet needs pyarrow: pip install "
                                  "pyarrow, or write .csv"]) from None  # fmt: skip
        else:
            table.to_csv(tmp, index=False)


def comparable(table: pd.DataFrame) -> pd.DataFrame:
    """The table without its timing columns (the rest is identical however the sweep ran)."""
    return table.drop(columns=[c for c in TIMING_COLUMNS if c in table.columns])


# ------------------------------------------------------------------ console


class progress_bar:
    """A rich progress bar on stderr counting finished runs (silent when stderr is no terminal)."""

    def __init__(self, total: int, label: str):
        from rich.console import Console
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn

        console = Console(stderr=True)
        self._bar = Progress("{task.description}", BarColumn(), MofNCompleteColumn(),
                             TimeElapsedColumn(), console=console, transient=True,
                             disable=not console.is_terminal)  # fmt: skip
        self._task = self._bar.add_task(label, total=total)

    def __enter__(self) -> Callable[[int], None]:
        self._bar.start()
        return lambda n: self._bar.advance(self._task, n)

    def __exit__(self, *exc) -> None:
        self._bar.stop()


def print_sweep(result: SweepResult) -> None:
    """A short summary of a finished sweep on the console."""
    from rich.console import Console
    from rich.table import Table

    console = Console()
    t = result.table
    how = f"{result.scheduler}, {result.workers} worker(s), {result.seconds:.1f} s"
    table = Table(title=f"{result.source}: {result.runs} runs, {result.tasks} tasks ({how})")
    table.add_column("status")
    table.add_column("runs", justify="right")
    table.add_column("commissioners' retained, £ (min - max)", justify="right")
    for status, n in result.status_counts.items():
        sub = t.loc[t["status"] == status, "commissioners_retained"].dropna()
        span = f"{sub.min():,.0f} - {sub.max():,.0f}" if len(sub) else "-"
        table.add_row(status, str(n), span)
    console.print(table)
    if result.output is not None:
        console.print(f"wrote {result.output}")
