"""The workshop app in a real browser: Debian's Chromium (installed by `make browser-deps`, never
a downloaded one) driven by Playwright. Starts `streamlit run app/Home.py`, waits for the solved
example, moves the acute trust's keep-whole slider, sees the figures change, checks that a
second browser session is not affected, and saves a screenshot under the test's temporary
directory."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

import gainshare
from gainshare.analysis import workshop as wk
from gainshare.optimise import Designer

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = Path("/usr/bin/chromium")
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run"]  # fmt: skip
METRIC = '[data-testid="stMetric"]'

pytestmark = pytest.mark.browser


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def server():
    if not CHROMIUM.exists():
        if os.environ.get("CI"):
            pytest.fail(f"{CHROMIUM} is missing in CI: `make browser-deps` installs it")
        pytest.skip(f"{CHROMIUM} is not installed (run `make browser-deps`); CI runs this test")
    port = _free_port()
    cmd = [sys.executable, "-m", "streamlit", "run", str(ROOT / "app" / "Home.py"),
           "--server.headless", "true", "--server.port", str(port),
           "--server.address", "127.0.0.1", "--browser.gatherUsageStats", "false",
           "--client.toolbarMode", "minimal"]  # fmt: skip
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    deadline = time.time() + 60
    while time.time() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            break
        except OSError:
            if proc.poll() is not None:
                pytest.fail("streamlit stopped: " + proc.stdout.read().decode(errors="replace"))
            time.sleep(0.2)
    yield url
    proc.terminate()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()


def _metric(page, label: str) -> str:
    box = page.locator(METRIC).filter(has_text=label).first
    return box.locator('[data-testid="stMetricValue"]').inner_text().strip()


def _wait_metric(page, label: str, want: str, timeout: float = 60.0) -> str:
    """Wait until the metric shows `want`; return what it shows at the end."""
    deadline = time.time() + timeout
    v = None
    while time.time() < deadline:
        try:
            v = _metric(page, label)
        except Exception:  # noqa: BLE001 - not drawn yet
            v = None
        if v == want:
            break
        time.sleep(0.01)
    return v


def _step_slider(page, label: str, steps: int) -> None:
    """Move a (select) slider by keyboard, one option a key press."""
    widget = page.locator('[data-testid="stSlider"]').filter(has_text=label).first
    thumb = widget.get_by_role("slider")
    thumb.focus()
    for _ in range(steps):
        thumb.press("ArrowRight")


def _expected(tolerance: float) -> tuple[str, str, list[float]]:
    """The figures the package itself gives for the example at this acute tolerance, and the
    acute trust's slider positions."""
    case = gainshare.load_case(ROOT / "app" / "examples" / "workshop6.yaml")
    d = Designer(case)
    steps = wk.tolerance_steps(case, d.data.econs[0], "acute")
    d.set_tolerance("acute", tolerance)
    doc = d.solve().check.document
    return wk.money(doc["retained"]["expected"]), wk.money(-tolerance), steps


def test_slider_moves_the_optimum_and_sessions_stay_apart(server, tmp_path):
    from playwright.sync_api import sync_playwright

    before_keep, _, _ = _expected(0.0)
    after_keep, after_worst, positions = _expected(25_000.0)
    steps = positions.index(25_000.0)
    assert positions[:2] == [0.0, 1_000.0]
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        try:
            a = browser.new_context(viewport={"width": 1600, "height": 1400}).new_page()
            b = browser.new_context(viewport={"width": 1600, "height": 1400}).new_page()
            for page in (a, b):
                page.goto(server)
                assert _wait_metric(page, "Commissioners keep", before_keep) == before_keep
            assert _metric(a, "Worst provider year") == "£0"

            t0 = time.perf_counter()
            _step_slider(a, "May be worse off by up to", 1)  # £0 -> £1k: one re-solve
            assert _wait_metric(a, "Worst provider year", "-£1k") == "-£1k"
            seconds = time.perf_counter() - t0
            _step_slider(a, "May be worse off by up to", steps - 1)
            assert _wait_metric(a, "Commissioners keep", after_keep) == after_keep
            assert _wait_metric(a, "Worst provider year", after_worst) == after_worst
            shot = tmp_path / "workshop.png"
            a.screenshot(path=str(shot), full_page=True)
            assert shot.stat().st_size > 10_000

            # the other session re-solves with its own levels, not those of the first
            _step_slider(b, "Commissioners keep at least", 1)
            b.get_by_text("£1k", exact=True).first.wait_for(timeout=30_000)
            time.sleep(1.0)
            assert _metric(b, "Commissioners keep") == before_keep
            assert _metric(b, "Worst provider year") == "£0"
        finally:
            browser.close()
    print(f"\nslider move to updated figures in the browser: {1000 * seconds:.0f} ms")
    assert seconds < 20
