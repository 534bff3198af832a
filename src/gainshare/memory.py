"""Large array work: keep freed memory for reuse instead of handing it back to the system.

A check over 100,000 scenarios makes hundreds of temporary arrays of 10-30 MB. With its
default settings glibc's allocator gives such blocks back to the operating system when they
are freed, so the next one is faulted in again page by page: on the 6-party, 3-year case about
56,000 page faults and 0.1-0.3 s of system time per check, as much as half the check.
`keep_freed_memory()` sets the allocator (mallopt) to serve blocks up to 32 MB from its heap
and to keep up to 1 GB of freed heap for reuse; the check then runs with no page faults after
the first.

It also turns off numpy's advice to the kernel to back large arrays with huge pages. Where the
kernel answers that advice by compacting memory on the spot (transparent huge pages with
defrag "madvise", as on the machines the benchmarks ran on), the first touch of each page
waits: the first check in a fresh process took 1.2-1.5 s with the advice and 0.58-0.76 s
without it; later checks are the same either way.

The command line, the app, sweep workers and the benchmarks call it once at start. The
allocator setting changes nothing where the C library is not glibc."""

from __future__ import annotations

import ctypes
import ctypes.util
import sys

M_TRIM_THRESHOLD = -1  # glibc <malloc.h>
M_MMAP_THRESHOLD = -3
MMAP_THRESHOLD = 32 * 2**20  # the largest glibc accepts on 64-bit systems
TRIM_THRESHOLD = 2**30

_done: bool | None = None


def keep_freed_memory() -> bool:
    """Apply the settings once per process; True when the allocator setting is in effect."""
    global _done
    if _done is None:
        _no_huge_page_advice()
        _done = _allocator_keeps_freed_memory()
    return _done


def _allocator_keeps_freed_memory() -> bool:
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):  # not glibc (e.g. musl has no mallopt)
        return False
    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    ok = mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD) == 1
    return ok and mallopt(M_TRIM_THRESHOLD, TRIM_THRESHOLD) == 1


def _no_huge_page_advice() -> None:
    """numpy's switch for its madvise(MADV_HUGEPAGE) on large arrays (NUMPY_MADVISE_HUGEPAGE)."""
    try:
        from numpy._core.multiarray import _set_madvise_hugepage
    except ImportError:  # numpy < 2
        try:
            from numpy.core.multiarray import _set_madvise_hugepage
        except ImportError:
            return
    _set_madvise_hugepage(False)
