"""Outputs under one rule (gainshare.output): an existing target is refused without --force and
replaced atomically with it; a full disk is bad input (exit 2, one line); and nothing is left
behind by a failure, SIGTERM or SIGINT - checked on the real executable, signalled mid-run."""

from __future__ import annotations

import errno
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml
from helpers import agreement, small_case
from typer.testing import CliRunner

from gainshare.cli import app
from gainshare.errors import InputError
from gainshare.output import atomic_file, check_target

ROOT = Path(__file__).resolve().parents[1]
EXE = Path(sys.executable).with_name("gainshare")
runner = CliRunner()


def _inputs(folder: Path) -> None:
    (folder / "case.yaml").write_text(yaml.safe_dump(small_case(scenarios=2)))
    (folder / "agr.yaml").write_text(yaml.safe_dump(agreement()))
    (folder / "sweep.yaml").write_text(
        "name: s\nbase_case: case.yaml\ngrid:\n  keep_whole.comm.tolerance: [0, 1000]\n"
    )


@pytest.fixture(autouse=True)
def _no_png(monkeypatch):
    """In process, reports skip the PNG images (a browser start each); the signal tests run
    the executable, images and all."""
    monkeypatch.setattr("gainshare.report.charts.png_renderer_problem", lambda: "not in tests")


def _listing(folder: Path) -> list[str]:
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*"))


COMMANDS = {
    "design": (["design", "case.yaml", "--out", "out.yaml"], "out.yaml"),
    "repair": (["repair", "case.yaml", "-p", "agr.yaml", "--out", "out.yaml"], "out.yaml"),
    "template": (["template", "--out", "out.xlsx"], "out.xlsx"),
    "sweep": (["sweep", "sweep.yaml", "--out", "out.csv", "--workers", "1"], "out.csv"),
    "report": (["report", "case.yaml", "-a", "agr.yaml", "--out", "out"], "out"),
}


@pytest.mark.parametrize("name", list(COMMANDS))
def test_an_existing_output_is_replaced_only_with_force(name, tmp_path, monkeypatch):
    args, target = COMMANDS[name]
    _inputs(tmp_path)
    monkeypatch.chdir(tmp_path)
    first = runner.invoke(app, args)
    assert first.exit_code == 0, first.output
    stamp = (tmp_path / target).stat().st_mtime_ns
    again = runner.invoke(app, args)
    assert again.exit_code == 2
    assert again.stdout == ""
    assert again.stderr.startswith(f"error: {target}: --out: already exists")
    assert "pass --force to replace it" in again.stderr and again.stderr.count("\n") == 1
    assert (tmp_path / target).stat().st_mtime_ns == stamp
    forced = runner.invoke(app, [*args, "--force"])
    assert forced.exit_code == 0, forced.output
    assert not [p for p in _listing(tmp_path) if p.startswith(".")]  # no temporary left


def _full_disk(*args, **kw):
    raise OSError(errno.ENOSPC, "No space left on device")


FULL_DISK = {
    "design": "pathlib.Path.write_text",
    "repair": "pathlib.Path.write_text",
    "template": "openpyxl.Workbook.save",
    "sweep": "pandas.DataFrame.to_csv",
    "report": "gainshare.report.statements.write_statements",
}


@pytest.mark.parametrize("name", list(COMMANDS))
def test_a_full_disk_is_one_line_exit_2_and_leaves_nothing(name, tmp_path, monkeypatch):
    args, target = COMMANDS[name]
    _inputs(tmp_path)
    monkeypatch.chdir(tmp_path)
    before = _listing(tmp_path)
    monkeypatch.setattr(FULL_DISK[name], _full_disk)
    res = runner.invoke(app, [*args, "--json"] if name != "template" else args)
    assert res.exit_code == 2, res.output
    assert res.stderr == (f"error: {target}: --out: cannot be written (No space left on "
                          "device): the disk is full: free some space or choose another "
                          "folder\n")  # fmt: skip
    assert _listing(tmp_path) == before


def test_a_write_cut_short_removes_its_temporary_and_keeps_the_old_file(tmp_path):
    target = tmp_path / "agreement.yaml"
    target.write_text("the room's signed copy")
    for stop in (KeyboardInterrupt, SystemExit, RuntimeError):
        with pytest.raises(stop), atomic_file(target, force=True) as tmp:
            tmp.write_text("half of an agr")
            raise stop()
        assert target.read_text() == "the room's signed copy"
        assert _listing(tmp_path) == ["agreement.yaml"]


@pytest.mark.parametrize(
    ("where", "message"),
    [
        ("proc", "cannot be written"),
        ("under a file", "is a file, not a folder"),
        ("missing folder", "does not exist: create it first"),
        ("a folder", "is a folder, not a file"),
    ],
)
def test_places_that_cannot_take_an_output(where, message, tmp_path):
    (tmp_path / "afile").write_text("x")
    (tmp_path / "afolder").mkdir()
    path = {"proc": Path("/proc/gainshare.yaml"), "under a file": tmp_path / "afile" / "a.yaml",
            "missing folder": tmp_path / "no" / "a.yaml",
            "a folder": tmp_path / "afolder"}[where]  # fmt: skip
    with pytest.raises(InputError) as e:
        check_target(path, "--out", force=True)
    (line,) = e.value.problems
    assert line.startswith(f"{path}: --out: ") and message in line


# ---------------------------------------------------------------- signals, on the executable


def _signalled(args: list[str], cwd: Path, sig: int, after: float) -> subprocess.CompletedProcess:
    proc = subprocess.Popen([str(EXE), *args], cwd=cwd, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)  # fmt: skip
    deadline = time.monotonic() + after
    while time.monotonic() < deadline and proc.poll() is None:
        if any(p.name.startswith(".") for p in cwd.iterdir()):  # a temporary output exists
            time.sleep(0.05)
            break
        time.sleep(0.01)
    if proc.poll() is None:
        proc.send_signal(sig)
    out, err = proc.communicate(timeout=120)
    return subprocess.CompletedProcess(args, proc.returncode, out, err)


SIGNALS = [signal.SIGTERM, signal.SIGINT]


@pytest.mark.parametrize("sig", SIGNALS, ids=["SIGTERM", "SIGINT"])
def test_a_signal_during_report_leaves_nothing_behind(sig, tmp_path):
    """The report is rendered into a temporary folder; the signal arrives while it is being
    written, and the temporary folder goes with it."""
    case, agr = ROOT / "cases" / "core.yaml", ROOT / "cases" / "core.agreement.yaml"
    r = _signalled(["report", str(case), "-a", str(agr), "--out", "rep", "--json"], tmp_path,
                   sig, after=60)  # fmt: skip
    if r.returncode == 0:  # pragma: no cover - finished before the signal could be sent
        pytest.skip("the report was written before the signal arrived")
    assert r.returncode == 130, r.stderr  # the temporary folder existed: gainshare was running
    assert "Traceback" not in r.stderr
    assert _listing(tmp_path) == []
    assert '"status": "interrupted"' in r.stdout


@pytest.mark.parametrize("sig", SIGNALS, ids=["SIGTERM", "SIGINT"])
@pytest.mark.parametrize("after", [0.5, 1.5, 3.0])
def test_a_signal_during_design_out_leaves_nothing_or_the_whole_file(sig, after, tmp_path):
    """Whenever the signal lands, the agreement file is either not there at all or complete
    (a signal just after the move finds it in place), and no temporary file is left."""
    case = ROOT / "cases" / "core.yaml"
    r = _signalled(["design", str(case), "--out", "a.yaml"], tmp_path, sig, after)
    left = _listing(tmp_path)
    assert left in ([], ["a.yaml"]), left  # never a temporary file
    if left:  # moved into place in one step: complete, even if the signal came just after
        assert yaml.safe_load((tmp_path / "a.yaml").read_text())["terms"]
    if r.returncode == 0:
        assert left == ["a.yaml"]
    elif r.returncode == 130:  # stopped by gainshare: said in one line, no traceback
        assert "Traceback" not in r.stderr
    else:  # stopped by Python itself: while still importing, or while shutting down
        assert r.returncode in (-sig, -signal.SIGINT, 1), r.stderr


def test_sigterm_handler_runs_finally_blocks():
    """stop_on_signals makes SIGTERM a KeyboardInterrupt (in a child, not in the test run)."""
    code = (
        "import os, signal, sys\n"
        "from gainshare.output import stop_on_signals\n"
        "stop_on_signals()\n"
        "try:\n"
        "    os.kill(os.getpid(), signal.SIGTERM)\n"
        "    import time; time.sleep(5)\n"
        "except KeyboardInterrupt:\n"
        "    print('cleaned up'); sys.exit(7)\n"
    )
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert (r.returncode, r.stdout.strip()) == (7, "cleaned up")


@pytest.mark.parametrize("where", ["probe", "file", "folder"])
def test_a_signal_the_moment_a_temporary_exists_still_removes_it(where, tmp_path):
    """The signal is sent from inside the call that makes the temporary (the narrowest window
    there is): it waits until the temporary is known, and the probe or output is cleaned up,
    also when another thread of the process receives it."""
    code = (
        "import os, signal, sys, tempfile, threading, time\n"
        "from pathlib import Path\n"
        "from gainshare import output\n"
        "output.stop_on_signals()\n"
        # another thread (numerical libraries start some) may take the signal for the
        # process while the main thread holds it: the stop must still wait
        "threading.Thread(target=time.sleep, args=(30,), daemon=True).start()\n"
        "make = {'probe': 'mkstemp', 'file': 'mkstemp', 'folder': 'mkdtemp'}[sys.argv[2]]\n"
        "real = getattr(tempfile, make)\n"
        "def made(*a, **k):\n"
        "    r = real(*a, **k)\n"
        "    os.kill(os.getpid(), signal.SIGTERM)\n"
        "    time.sleep(0.2)\n"  # for whichever thread takes it to take it
        "    return r\n"
        "setattr(tempfile, make, made)\n"
        "folder = Path(sys.argv[1])\n"
        "try:\n"
        "    if sys.argv[2] == 'probe':\n"
        "        output.check_target(folder / 'a.yaml')\n"
        "    elif sys.argv[2] == 'file':\n"
        "        with output.atomic_file(folder / 'a.yaml') as t:\n"
        "            t.write_text('x')\n"
        "    else:\n"
        "        with output.atomic_folder(folder / 'rep') as t:\n"
        "            (t / 'x').write_text('x')\n"
        "except KeyboardInterrupt:\n"
        "    sys.exit(7)\n"
    )
    r = subprocess.run([sys.executable, "-c", code, str(tmp_path), where], capture_output=True,
                       text=True, timeout=60)  # fmt: skip
    assert r.returncode == 7, r.stderr
    assert _listing(tmp_path) == []
