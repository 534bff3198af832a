"""The bad-input corpus (tests/bad_inputs/corpus.py) through every command that reads each input
(SPEC section 7): exit 2; one line per problem on stderr, `error: FILE: FIELD: ...: fix`; no
traceback; nothing written; and with --json exactly one JSON document, status bad_input, whose
problems are the lines on stderr.

Every command line runs in process (typer's CliRunner: the same code as the executable, without
a Python start-up per run), each in a fresh folder, shared between two forked worker processes;
a sample also runs through the installed executable under a 2 GiB address-space limit, in a
thread pool while the in-process runs go on, and must print exactly what the in-process run
printed. The whole corpus has a wall-time budget, and refusals come in well under a second."""

from __future__ import annotations

import json
import multiprocessing
import os
import shutil
import stat
import subprocess
import sys
import time
from collections import Counter
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
from bad_inputs.corpus import Bad, commands, entries, prepare
from typer.testing import CliRunner

from gainshare.cli import app, problem_fields

EXE = Path(sys.executable).with_name("gainshare")
if not EXE.exists():  # pragma: no cover - the installed script on PATH
    EXE = Path(shutil.which("gainshare") or "gainshare")

MEMORY_CAP_KB = 2 * 1024 * 1024  # the 2 GiB cap, as `ulimit -v`
WALL_BUDGET_S = 100  # the whole corpus, in process and through the executable (measured: 40 s)
# One refusal in process. Measured on 2 cores shared with other work (load average 9): median
# 0.015 s, 99th percentile 0.45 s, slowest 0.8 s (3.8 s once, under a heavier load); before, an
# alias bomb took 96 s and 14 GB. A hang is caught by the executable runs' time-out.
REFUSAL_BUDGET_S = 10.0  # any one, load spikes included
TYPICAL_S = 1.0  # 95 in 100
CORPUS = entries()
INDEX = {e.name: i for i, e in enumerate(CORPUS)}

# A sample through the real executable: every class, every kind of file, the hangs and bombs.
THROUGH_EXECUTABLE = {
    "targeting .nan": 3, "JSON NaN": 0, "cap maximum inf": 4, "commissioner split 99%": 5,
    "alias bomb in horizon.years": 0, "alias bomb in parties": 1, "JSON nested 100,000 deep": 3,
    "a named pipe (FIFO)": 0, "a link to /dev/zero": 2, "workbook zip lying about its size": 0,
    "workbook unpacking beyond the limit": 3, "workbook with a cell at XFD1048576": 1,
    "sensitivity --range with 10^8 steps": 1, "huge unknown key": 1,
    "scenarios given twice": 2, "misspelt named-scenario override": 4, "years: true": 6,
    "workbook cell text 1e999": 0, "workbook merged cells": 1, "UTF-16 text": 0,
    "--time-limit abc": 0, "--weights shares=inf": 1,
    "check without --agreement": 1, "design --out an existing file": 0,
    "report --out a folder with files": 1, "sweep --out in /proc": 0,
    "template --out under a file": 0,
}  # fmt: skip  # entry name -> index into its command lines


@dataclass
class Ran:
    args: list[str]
    code: int
    stdout: str
    stderr: str
    before: list[str]
    after: list[str]
    seconds: float
    exception: str | None = None  # an exception the command let through (repr)


def _files(folder: Path) -> list[str]:
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*"))


@contextmanager
def _command_built_once():
    """typer's CliRunner builds the click group from the app on every invoke (20 of the 30 ms a
    refusal takes in process); the corpus builds it once."""
    import typer.main
    import typer.testing

    if not hasattr(typer.testing, "_get_command"):  # pragma: no cover - another typer
        yield
        return
    built = typer.main.get_command(app)
    original = typer.testing._get_command
    typer.testing._get_command = lambda _app: built
    try:
        yield
    finally:
        typer.testing._get_command = original


@contextmanager
def _inside(folder: Path):
    here = os.getcwd()
    os.chdir(folder)
    try:
        yield
    finally:
        os.chdir(here)


_PREPARED: dict[str, Path] = {}


def _copy(src: Path, dst: Path) -> None:
    """A copy of a prepared folder: links stay links, a named pipe becomes a new one."""
    dst.mkdir(parents=True)
    for item in os.scandir(src):
        s, d = Path(item.path), dst / item.name
        if item.is_symlink():
            os.symlink(os.readlink(s), d)
        elif item.is_dir():
            _copy(s, d)
        elif stat.S_ISFIFO(item.stat(follow_symlinks=False).st_mode):
            os.mkfifo(d)
        else:
            shutil.copyfile(s, d)


def materialise(entry: Bad, folder: Path) -> None:
    """The entry's inputs in `folder`: prepared once per entry, copied for each command."""
    if entry.name not in _PREPARED:
        first = folder.parent / f"prepared-{INDEX[entry.name]}"
        prepare(entry, first)
        _PREPARED[entry.name] = first
    _copy(_PREPARED[entry.name], folder)


def run_in_process(entry: Bad, args: list[str], folder: Path) -> Ran:
    materialise(entry, folder)
    before = _files(folder)
    with _inside(folder):
        t0 = time.perf_counter()
        r = CliRunner().invoke(app, args)
        seconds = time.perf_counter() - t0
    leaked = None if isinstance(r.exception, SystemExit | None) else repr(r.exception)
    return Ran(args, r.exit_code, r.stdout, r.stderr, before, _files(folder), seconds, leaked)


def run_executable(entry: Bad, args: list[str], folder: Path) -> Ran:
    prepare(entry, folder)
    before = _files(folder)
    env = dict(os.environ, PYTHONDONTWRITEBYTECODE="1")
    env.pop("GAINSHARE_DEBUG", None)
    capped = ["sh", "-c", f'ulimit -v {MEMORY_CAP_KB} && exec "$0" "$@"', str(EXE), *args]
    t0 = time.perf_counter()
    out = subprocess.run(capped, cwd=folder, capture_output=True, text=True, env=env,
                         timeout=60, stdin=subprocess.DEVNULL)  # fmt: skip
    return Ran(args, out.returncode, out.stdout, out.stderr, before, _files(folder),
               time.perf_counter() - t0)  # fmt: skip


def _line_complaints(entry: Bad, where: str, errors: list[str]) -> list[str]:
    """Each problem line names the entry's file and field and ends with a fix."""
    bad = []
    for line in errors:
        p = problem_fields(line)
        if p["file"] != entry.file:
            bad.append(f"{where}: names file {p['file']!r}, not {entry.file!r}: {line!r}")
        if not p["field"] or (entry.field is not None and p["field"] != entry.field):
            bad.append(f"{where}: names field {p['field']!r}, not {entry.field!r}: {line!r}")
        if not p["fix"] or len(p["fix"]) < 6:
            bad.append(f"{where}: gives no fix: {line!r}")
        if len(line) > 600:
            bad.append(f"{where}: a line of {len(line):,} characters")
    return bad


def complaints(entry: Bad, r: Ran) -> list[str]:
    """What is wrong with a refusal (empty when it is right)."""
    bad = []
    where = f"{entry.name} | {' '.join(a[:40] for a in r.args)}"
    if r.code != 2:
        bad.append(f"{where}: exit {r.code}: {r.stderr[-400:]!r}")
    if "Traceback" in r.stderr or "Traceback" in r.stdout:
        bad.append(f"{where}: a traceback")
    lines = [ln for ln in r.stderr.splitlines() if ln.strip()]
    errors = [ln.removeprefix("error: ") for ln in lines if ln.startswith("error: ")]
    stray = [ln for ln in lines if not ln.startswith(("error: ", "warning: "))]
    if stray or not errors:
        bad.append(f"{where}: stderr is not one 'error: ' line per problem: {lines[:4]!r}")
    bad += _line_complaints(entry, where, errors)
    joined = "\n".join(errors)
    bad += [f"{where}: {w!r} not in {joined[:300]!r}" for w in entry.words if w not in joined]
    if "--json" in r.args:
        try:
            doc = json.loads(r.stdout)
        except json.JSONDecodeError as e:
            bad.append(f"{where}: stdout is not one JSON document ({e}): {r.stdout[:200]!r}")
        else:
            if doc.get("status") != "bad_input" or [p["text"] for p in doc["problems"]] != errors:
                bad.append(f"{where}: the document does not hold the problems: {doc}")
    elif r.stdout:
        bad.append(f"{where}: wrote to stdout: {r.stdout[:200]!r}")
    if r.after != r.before:
        bad.append(f"{where}: wrote {sorted(set(r.after) ^ set(r.before))[:5]}")
    return bad


def _sample() -> list[tuple[Bad, list[str]]]:
    chosen = []
    for entry in CORPUS:
        k = THROUGH_EXECUTABLE.get(entry.name)
        if k is not None:
            chosen.append((entry, commands(entry)[k]))
    return chosen


WORKERS = 2  # forked processes for the in-process runs


def run_entries(indices: list[int], root: Path) -> dict[str, list[Ran]]:
    """Every command line of the entries at `indices`, in this process."""
    out = {}
    with _command_built_once():
        for i in indices:
            entry = CORPUS[i]
            out[entry.name] = [run_in_process(entry, args, root / f"{i}-{k}")
                               for k, args in enumerate(commands(entry))]  # fmt: skip
    return out


@pytest.fixture(scope="module")
def corpus_runs(tmp_path_factory):
    """Every command line of every entry, in process (two forked workers), while the sample
    runs through the executable in two threads; and the wall time of the whole."""
    root = tmp_path_factory.mktemp("corpus")
    t0 = time.perf_counter()
    share = [list(range(k, len(CORPUS), WORKERS)) for k in range(WORKERS)]
    fork = multiprocessing.get_context("fork")  # before any thread is started
    with ProcessPoolExecutor(WORKERS, mp_context=fork) as procs:
        parts = [procs.submit(run_entries, idx, root / "in") for idx in share]
        with ThreadPoolExecutor(max_workers=2) as threads:
            futures = [(e, a, threads.submit(run_executable, e, a, root / "exe" / f"{i}"))
                       for i, (e, a) in enumerate(_sample())]  # fmt: skip
            outside = [(e, a, f.result()) for e, a, f in futures]
        inside: dict[str, list[Ran]] = {}
        for part in parts:
            inside |= part.result()
    return inside, outside, time.perf_counter() - t0


def test_the_corpus_covers_every_class(corpus_runs):
    kinds = Counter(e.kind for e in CORPUS)
    assert len(CORPUS) >= 100
    assert set(kinds) == {"finite", "crash", "memory", "silent", "workbook", "output",
                          "message", "option"}, kinds  # fmt: skip
    assert all(n >= 5 for n in kinds.values()), kinds
    runs = sum(len(r) for r in corpus_runs[0].values())
    assert runs >= 2 * len(CORPUS)


@pytest.mark.parametrize("entry", CORPUS, ids=[e.name for e in CORPUS])
def test_refused_by_every_command(entry: Bad, corpus_runs):
    runs = corpus_runs[0][entry.name]
    bad = [c for r in runs for c in complaints(entry, r)]
    bad += [f"{entry.name} | {' '.join(r.args)[:80]}: uncaught {r.exception}" for r in runs
            if r.exception is not None]  # fmt: skip
    assert not bad, "\n".join(bad)


def test_the_executable_refuses_alike_under_a_memory_cap(corpus_runs):
    inside, outside, _ = corpus_runs
    assert len(outside) >= 25
    bad = []
    for entry, args, real in outside:
        bad += complaints(entry, real)
        same = next(r for r in inside[entry.name] if r.args == args)
        if (real.code, real.stdout, real.stderr) != (same.code, same.stdout, same.stderr):
            bad.append(f"{entry.name}: the executable printed {real.stderr!r}, in process "
                       f"{same.stderr!r}")  # fmt: skip
    assert not bad, "\n".join(bad)


def test_the_whole_corpus_within_its_budget(corpus_runs):
    inside, outside, seconds = corpus_runs
    assert seconds < WALL_BUDGET_S, f"{seconds:.0f} s for the corpus"
    times = sorted(r.seconds for runs in inside.values() for r in runs)
    assert times[int(0.95 * len(times))] < TYPICAL_S, times[-20:]
    assert times[-1] < REFUSAL_BUDGET_S, times[-20:]
    assert max(r.seconds for _, _, r in outside) < 30  # Python's start-up included
