"""The install is the lock: every package `requirements.lock` names is installed at exactly that
version (`make install` installs from it), and the lock covers everything pyproject.toml asks
for. `make test-latest` runs the suite on the newest releases instead and says so with
GAINSHARE_UNLOCKED=1, which skips the version comparison only."""

from __future__ import annotations

import os
import re
import tomllib
from importlib import metadata
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
LOCK = ROOT / "requirements.lock"


def _norm(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def locked() -> dict[str, str]:
    pins = {}
    for line in LOCK.read_text(encoding="utf-8").splitlines():
        line = line.split("#")[0].strip()
        if line:
            name, _, version = line.partition("==")
            assert version, f"requirements.lock: '{line}' is not pinned with =="
            pins[_norm(name.split("[")[0])] = version.strip()
    return pins


def test_the_lock_pins_every_requirement_of_pyproject():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    wanted = list(project["dependencies"])
    for extra in project["optional-dependencies"].values():
        wanted += extra
    pins = locked()
    names = {_norm(re.split(r"[<>=!~\[ ;]", w, maxsplit=1)[0]) for w in wanted}
    assert names - set(pins) == set()


@pytest.mark.skipif(os.environ.get("GAINSHARE_UNLOCKED") == "1", reason="newest-release run")
def test_installed_versions_are_the_locked_ones():
    wrong = {}
    for name, version in locked().items():
        try:
            have = metadata.version(name)
        except metadata.PackageNotFoundError:
            have = None
        if have != version:
            wrong[name] = (have, version)
    assert not wrong, f"installed (have, locked): {wrong}; run `make install`"
