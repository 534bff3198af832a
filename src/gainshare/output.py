"""Writing outputs (agreements, workbooks, results files, report folders) under one rule, used by
design, repair, template, report and sweep alike (SPEC section 7):

1. before any work, the target is checked: an existing one is refused unless `force` (exit 2,
   one line); so is a folder where a file is wanted (or a file where a folder is), a path under
   a file, a folder that does not exist, and any place that cannot be written (read-only,
   `/proc`, no permission) - found by creating and removing a probe file there;
2. the output is written to a temporary file (or folder) beside the target, then moved into
   place in one step (`os.replace`), so a reader never sees half of it;
3. on any failure (a full disk included, said as exit 2) and on SIGTERM or SIGINT, the temporary
   file is removed: nothing is left behind.

`stop_on_signals()` (called once by the command line) turns SIGTERM into KeyboardInterrupt, so
that `finally` blocks run on `kill` as they do on Ctrl-C."""

from __future__ import annotations

import contextlib
import errno
import os
import shutil
import signal
import tempfile
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

from gainshare.errors import InputError

_FIXES = {
    errno.ENOSPC: "the disk is full: free some space or choose another folder",
    errno.EDQUOT: "the disk quota is used up: free some space or choose another folder",
    errno.EROFS: "the file system is read-only: choose a folder you can write to",
    errno.EACCES: "permission denied: choose a folder you can write to",
    errno.EPERM: "permission denied: choose a folder you can write to",
}


def _problem(path: Path, option: str, message: str) -> InputError:
    return InputError([f"{path}: {option}: {message}"])


def _write_problem(path: Path, option: str, e: OSError) -> InputError:
    fix = _FIXES.get(e.errno or 0, "choose another place to write it")
    return _problem(path, option, f"cannot be written ({e.strerror or e}): {fix}")


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _probe(folder: Path, path: Path, option: str) -> None:
    """Create and remove a file in `folder`: the one test that knows about read-only mounts,
    `/proc` and permissions alike. Signals wait until the probe is gone, so a stop never
    leaves it behind."""
    with signals_held():
        try:
            fd, name = tempfile.mkstemp(dir=folder, prefix=".gainshare-probe-")
        except OSError as e:
            raise _write_problem(path, option, e) from None
        os.close(fd)
        with contextlib.suppress(OSError):
            os.unlink(name)


def _existing_ancestor(path: Path) -> Path:
    """The nearest folder above `path` that exists (as written: relative stays relative)."""
    probe = path.parent
    while not (probe.exists() or probe.is_symlink()) and probe != probe.parent:
        probe = probe.parent
    return probe


def _parent(path: Path, option: str, make_parents: bool = False) -> Path:
    """The folder the output goes in (for a folder output that may create its parents, the
    nearest folder that exists)."""
    parent = path.parent
    if parent.is_dir():
        return parent
    probe = _existing_ancestor(path)
    if probe.exists() and not probe.is_dir():
        raise _problem(path, option, f"{probe} is a file, not a folder: choose a path in a folder")
    if make_parents and probe.is_dir():
        return probe
    raise _problem(path, option, f"folder {parent} does not exist: create it first")


def check_target(
    path: str | Path,
    option: str = "--out",
    force: bool = False,
    folder: bool = False,
    suffixes: Sequence[str] = (),
    owned: Callable[[str], bool] | None = None,
) -> Path:
    """The output path, or InputError naming it, the option and the fix. A folder output may
    be an empty folder; with `force`, a folder of an earlier output (every name in it `owned`)
    is replaced whole, a folder holding anything else never is."""
    p = Path(path)
    if suffixes and not p.name.lower().endswith(tuple(suffixes)):
        ends = " or ".join(suffixes)
        raise _problem(p, option, f"must end in {ends}: e.g. {p.with_suffix(suffixes[0]).name}")
    if p.is_symlink() or p.exists():
        _check_existing(p, option, force, folder, owned)
    _probe(_parent(p, option, make_parents=folder), p, option)
    return p


def check_history_folder(path: str | Path, option: str = "--out") -> Path:
    """A folder that keeps a history (settlement statements): it may exist and hold earlier
    files, which are never overwritten; it must be a folder, and writable."""
    p = Path(path)
    if p.exists() and not p.is_dir():
        raise _problem(p, option, "exists and is not a folder: give a folder")
    _probe(p if p.is_dir() else _parent(p, option, make_parents=True), p, option)
    return p


def _check_folder(p: Path, option: str, force: bool, owned) -> None:
    if not p.is_dir():
        raise _problem(p, option, "exists and is not a folder: give a new folder")
    names = sorted(os.listdir(p))
    if not names:
        return
    if not force:
        raise _problem(p, option, "already exists and holds files: pass --force to replace "
                       "it, or choose a new folder")  # fmt: skip
    others = [n for n in names if owned is None or not owned(n)]
    if others:
        shown = ", ".join(others[:3]) + (", ..." if len(others) > 3 else "")
        raise _problem(p, option, f"holds files that are not part of an earlier output "
                       f"({shown}): move them, or choose a new folder")  # fmt: skip


def _check_existing(p: Path, option: str, force: bool, folder: bool, owned) -> None:
    if folder:
        _check_folder(p, option, force, owned)
        return
    if p.is_dir():
        raise _problem(p, option, "is a folder, not a file: give a file name (in it or "
                       "elsewhere)")  # fmt: skip
    if not p.is_file():
        raise _problem(p, option, "exists and is not a regular file: choose another name")
    if not force:
        raise _problem(p, option, "already exists: pass --force to replace it, or choose "
                       "another name")  # fmt: skip


_HOLDING = [0]  # how deep in `signals_held` the main thread is
_PENDING: list[int] = []  # a stop that arrived while held


@contextlib.contextmanager
def signals_held() -> Iterator[None]:
    """SIGINT and SIGTERM wait while a probe or temporary is made, or a finished output is
    moved into place. Two locks: the main thread's signal mask, and, because the kernel may
    hand a signal for the process to another thread (numerical libraries start some), `_stop`
    keeping a stop that arrives meanwhile for the end of the block."""
    sigs = {signal.SIGINT, signal.SIGTERM}
    try:
        old = signal.pthread_sigmask(signal.SIG_BLOCK, sigs)
    except (AttributeError, ValueError, OSError):  # pragma: no cover - not POSIX
        old = None
    _HOLDING[0] += 1
    try:
        yield
    finally:
        _HOLDING[0] -= 1
        if old is not None:
            signal.pthread_sigmask(signal.SIG_SETMASK, old)
        if not _HOLDING[0] and _PENDING:
            _PENDING.clear()
            raise KeyboardInterrupt


@contextlib.contextmanager
def atomic_file(path: str | Path, option: str = "--out", force: bool = True) -> Iterator[Path]:
    """A temporary path beside `path` to write to; moved onto `path` when the block ends well,
    removed whatever happens. An OSError while writing (a full disk) becomes InputError."""
    target = Path(path)
    tmp: Path | None = None
    try:
        with signals_held():  # a stop lands after `tmp` is known, so `finally` removes it
            fd, name = tempfile.mkstemp(dir=target.absolute().parent,
                                        prefix=f".{target.name}.", suffix=".tmp")  # fmt: skip
            os.close(fd)
            tmp = Path(name)
        yield tmp
        if not force and target.exists():
            raise _problem(target, option, "appeared while this ran: pass --force to replace "
                           "it, or choose another name")  # fmt: skip
        os.chmod(tmp, 0o666 & ~_umask())
        with signals_held():
            os.replace(tmp, target)
    except OSError as e:
        raise _write_problem(target, option, e) from None
    finally:
        if tmp is not None:
            with contextlib.suppress(OSError):
                tmp.unlink()


@contextlib.contextmanager
def atomic_folder(path: str | Path, option: str = "--out") -> Iterator[Path]:
    """A temporary folder beside `path` to write into; it takes the place of `path` (an empty
    folder, or an earlier output checked by `check_target`) when the block ends well, and is
    removed whatever happens. Folders above `path` that do not exist yet are made only then,
    so a failure leaves none of them behind."""
    target = Path(path)
    base = _existing_ancestor(target)  # its parent, unless the folders above it are to be made
    tmp: Path | None = None
    old: Path | None = None
    try:
        with signals_held():  # a stop lands after `tmp` is known, so `finally` removes it
            tmp = Path(tempfile.mkdtemp(dir=base, prefix=f".{target.name}.", suffix=".tmp"))
        old = base / f"{tmp.name}.old"
        yield tmp
        os.chmod(tmp, 0o777 & ~_umask())
        with signals_held():
            target.absolute().parent.mkdir(parents=True, exist_ok=True)
            if target.exists():
                os.rename(target, old)
            try:
                os.rename(tmp, target)
            except OSError:
                if old.exists():
                    os.rename(old, target)
                raise
    except OSError as e:
        raise _write_problem(target, option, e) from None
    finally:
        for left in (tmp, old):
            if left is not None:
                shutil.rmtree(left, ignore_errors=True)


_STOPPING: list[int] = []


def _stop(signum, frame) -> None:
    """First SIGTERM or SIGINT: stop with KeyboardInterrupt so every `finally` runs; later ones
    are ignored so that the clean-up itself is not cut short."""
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, signal.SIG_IGN)
    _STOPPING.append(signum)
    if _HOLDING[0]:  # inside `signals_held`: stop when it ends
        _PENDING.append(signum)
        return
    raise KeyboardInterrupt


def stop_on_signals() -> None:
    """SIGTERM and SIGINT raise KeyboardInterrupt in the main thread (once)."""
    with contextlib.suppress(ValueError, OSError):  # not the main thread: leave them be
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, _stop)
