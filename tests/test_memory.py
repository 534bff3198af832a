"""gainshare.memory: the allocator setting that lets large checks reuse freed memory."""

from __future__ import annotations

import subprocess
import sys

from gainshare.memory import keep_freed_memory

SCRIPT = """
import resource, sys
import numpy as np
if sys.argv[1] == "keep":
    from gainshare.memory import keep_freed_memory
    assert keep_freed_memory()
a = np.ones((100_000, 3, 6))
for _ in range(3):  # warm up: the heap grows to what the loop needs
    b = [a * k for k in range(6)]
    del b
before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
for _ in range(10):
    b = [a * k for k in range(6)]  # six 14 MB temporaries, freed again
    del b
print(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
"""


def _faults(mode: str) -> int:
    out = subprocess.run([sys.executable, "-c", SCRIPT, mode], capture_output=True, text=True,
                         check=True)  # fmt: skip
    return int(out.stdout.strip())


def test_setting_is_applied_once_and_is_idempotent():
    first = keep_freed_memory()
    assert keep_freed_memory() is first
    if sys.platform.startswith("linux"):
        assert first is True


def test_freed_arrays_are_reused_without_page_faults():
    if not sys.platform.startswith("linux"):
        return
    kept = _faults("keep")
    # 10 rounds of six 14 MB arrays would fault in about 200,000 pages if each were handed back
    # to the system and faulted in again; reused, (almost) none are
    assert kept < 1_000
    assert _faults("default") > 10 * kept + 10_000


def test_numpy_huge_page_advice_is_off():
    from numpy._core.multiarray import _get_madvise_hugepage

    keep_freed_memory()
    assert _get_madvise_hugepage() is False
