"""The app's requirement sliders in a real browser: from a key press on a keep-whole slider to
the new headline figures on screen, on the workshop example at the projector's 1280x720.

    .venv/bin/python benchmarks/app_slider.py            # 16 moves, a table
    .venv/bin/python benchmarks/app_slider.py --json     # one JSON document on stdout
    .venv/bin/python benchmarks/app_slider.py --poll     # also time it as a driving script sees it

It starts the app (`streamlit run app/Home.py`) and Debian's Chromium (headless, through
Playwright), and moves the keep-whole slider of two providers in turn, one step right then one
step left, waiting after each move until the page has finished. Every time is taken inside the
page, on the page's own clock, so the driving script's round trips are not counted:

- key press: the `keydown` event's time stamp;
- figures: the last change to the text of the headline figures (the four metrics, their
  changes against the last answer included) before the page's run ends;
- frame: the first animation frame after that change, when the browser draws it: the time a
  person sees the new figures, and the figure held against the 250 ms target;
- page: the page's run ends (tables, charts and the sliders' ranges drawn).

With --poll the script also asks the page every 10 ms whether the figures have changed, as
`tests/test_browser.py` does, and reports that time too. It is longer by the polling's own
round trips through Playwright's driver, which compete for the same two cores.

Needs /usr/bin/chromium (`make browser-deps`) and Playwright's Python package (in the lock);
without them the measure is reported as not run, with the reason."""

from __future__ import annotations

import argparse
import json
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = Path("/usr/bin/chromium")
ARGS = [  # also the real-browser tests' (tests/test_browser.py)
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
METRIC = '[data-testid="stMetric"]'
ORGANISATION = "Keep whole: organisation"
VIEWPORT = {"width": 1280, "height": 720}
TARGET_MS = 250.0

# In the page: the key presses, every change to the headline figures' text and the animation
# frame after it, and the page's run state. textContent, not innerText: no layout is forced.
WATCH = """() => {
  const log = window.__gs = {keys: [], changes: [], states: []};
  document.addEventListener('keydown', (e) => log.keys.push(e.timeStamp), true);
  const read = () => [...document.querySelectorAll('[data-testid="stMetric"]')]
      .map((m) => m.textContent).join('|');
  window.__gsRead = read;
  let last = read();
  new MutationObserver(() => {
    const now = read();
    if (now === last) return;
    last = now;
    const change = {at: performance.now(), frame: null};
    log.changes.push(change);
    requestAnimationFrame(() => { change.frame = performance.now(); });
  }).observe(document.body, {subtree: true, childList: true, characterData: true});
  const app = document.querySelector('[data-testid="stApp"]');
  new MutationObserver(() => log.states.push(
      [performance.now(), app.getAttribute('data-test-script-state')]))
    .observe(app, {attributes: true, attributeFilter: ['data-test-script-state']});
}"""
RESET = "() => { const l = window.__gs; l.keys = []; l.changes = []; l.states = []; }"


def missing() -> str | None:
    """Why the measure cannot run here, or None."""
    if not CHROMIUM.exists():
        return f"{CHROMIUM} is not installed (make browser-deps)"
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "Playwright's Python package is not installed"
    return None


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def serve(log) -> tuple[subprocess.Popen, str]:
    """Start the app (`streamlit run app/Home.py`) on a free local port, its output going to
    the open file `log`; return the process and the app's address once it answers. Raises
    RuntimeError, with the end of the app's output, if it stops or does not answer in 90 s."""
    port = free_port()
    cmd = [sys.executable, "-m", "streamlit", "run", str(ROOT / "app" / "Home.py"),
           "--server.headless", "true", "--server.port", str(port),
           "--server.address", "127.0.0.1", "--browser.gatherUsageStats", "false"]  # fmt: skip
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT)
    deadline = time.time() + 90
    while time.time() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return proc, f"http://127.0.0.1:{port}"
        except OSError:
            if proc.poll() is not None:
                break
            time.sleep(0.2)
    stop(proc)
    log.seek(0)
    raise RuntimeError("the app did not start: " + log.read().decode(errors="replace")[-2000:])


def stop(proc: subprocess.Popen) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()


def _idle(page, timeout: float = 90.0) -> None:
    """Until the page's run (fragment runs included) has ended."""
    time.sleep(0.25)
    app = page.locator('[data-testid="stApp"]')
    deadline = time.time() + timeout
    while time.time() < deadline:
        if app.get_attribute("data-test-script-state") == "notRunning":
            return
        time.sleep(0.05)
    raise TimeoutError("the page did not finish within 90 s")


def _choose(page, label: str, option: str) -> None:
    page.locator('[data-testid="stSelectbox"]').filter(has_text=label).get_by_role(
        "combobox"
    ).click()
    page.get_by_role("option", name=option, exact=True).click()
    _idle(page)
    time.sleep(0.5)
    _idle(page)


def _thumb(page):
    return (
        page.locator('[data-testid="stSlider"]')
        .filter(has_text="worse off by up to")
        .first.get_by_role("slider")
    )


def _move(page, thumb, key: str, poll: bool) -> dict:
    page.evaluate(RESET)
    before = page.evaluate("window.__gsRead()")
    t0 = time.perf_counter()
    thumb.press(key)
    seen = None
    if poll:
        while time.perf_counter() - t0 < 60:
            if page.evaluate("window.__gsRead()") != before:
                seen = time.perf_counter() - t0
                break
            time.sleep(0.01)
    _idle(page)
    time.sleep(0.2)  # the last animation frame
    log = page.evaluate("window.__gs")
    if not log["keys"]:
        raise RuntimeError("the key press did not reach the page")
    k = log["keys"][0]
    ends = [t for t, s in log["states"] if s == "notRunning" and t > k]
    end = ends[-1] if ends else None
    changes = [c for c in log["changes"] if c["at"] > k and (end is None or c["at"] <= end)]
    if not changes:
        raise RuntimeError("the headline figures did not change after a slider move")
    last = changes[-1]
    return {
        "key": key,
        "first_figure_ms": changes[0]["at"] - k,
        "figures_ms": last["at"] - k,
        "frame_ms": (last["frame"] or last["at"]) - k,
        "page_ms": None if end is None else end - k,
        "seen_by_script_ms": None if seen is None else 1000 * seen,
    }


def measure(moves: int = 16, poll: bool = False) -> dict:
    """Median times of `moves` keep-whole slider moves (half for each of two providers)."""
    why = missing()
    if why:
        return {"run": False, "why": why}
    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryFile() as log:
        proc, url = serve(log)
        try:
            with sync_playwright() as p:
                browser = p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
                try:
                    page = browser.new_context(viewport=VIEWPORT).new_page()
                    page.goto(url)
                    page.locator(METRIC).first.wait_for(timeout=120_000)
                    _idle(page)
                    time.sleep(1.0)  # the sliders' ranges of the first run
                    _idle(page)
                    page.evaluate(WATCH)
                    box = page.locator('[data-testid="stSelectbox"]').filter(has_text=ORGANISATION)
                    box.get_by_role("combobox").click()
                    names = [o.inner_text() for o in page.get_by_role("option").all()][:2]
                    page.keyboard.press("Escape")
                    time.sleep(0.3)
                    rows = []
                    for i, name in enumerate(names):
                        if i:
                            _choose(page, ORGANISATION, name)
                        thumb = _thumb(page)
                        thumb.focus()
                        share = moves // len(names) + (i < moves % len(names))
                        for j in range(share):
                            row = _move(page, thumb, "ArrowRight" if j % 2 == 0 else "ArrowLeft",
                                        poll)  # fmt: skip
                            rows.append(row | {"organisation": name})
                finally:
                    browser.close()
        finally:
            stop(proc)

    def med(key: str) -> float | None:
        xs = [r[key] for r in rows if r[key] is not None]
        return round(statistics.median(xs), 1) if xs else None

    frames = [r["frame_ms"] for r in rows]
    return {
        "run": True,
        "case": "app/examples/workshop6.yaml",
        "viewport": f"{VIEWPORT['width']}x{VIEWPORT['height']}",
        "organisations": names,
        "moves": len(rows),
        "frame_median_ms": med("frame_ms"),
        "frame_min_ms": round(min(frames), 1),
        "frame_max_ms": round(max(frames), 1),
        "figures_median_ms": med("figures_ms"),
        "first_figure_median_ms": med("first_figure_ms"),
        "page_median_ms": med("page_ms"),
        "seen_by_script_median_ms": med("seen_by_script_ms"),
        "per_move": [
            {k: (round(v, 1) if isinstance(v, float) else v) for k, v in r.items()} for r in rows
        ],  # fmt: skip
    }


def describe(doc: dict) -> str:
    if not doc["run"]:
        return f"app slider in Chromium: not run ({doc['why']})"
    text = (
        f"app slider in Chromium ({doc['case']}, {doc['viewport']}, {doc['moves']} keep-whole "
        f"moves for {' and '.join(doc['organisations'])}): new figures drawn after a median of "
        f"{doc['frame_median_ms']:.0f} ms (min {doc['frame_min_ms']:.0f}, max "
        f"{doc['frame_max_ms']:.0f}); in the page {doc['figures_median_ms']:.0f} ms, the first "
        f"figure {doc['first_figure_median_ms']:.0f} ms; the whole page "
        f"{doc['page_median_ms']:.0f} ms"
    )
    if doc["seen_by_script_median_ms"] is not None:
        text += f"; seen by the polling script {doc['seen_by_script_median_ms']:.0f} ms"
    return text


def _at_least_one(text: str) -> int:
    n = int(text)
    if n < 1:
        raise argparse.ArgumentTypeError("give at least one move")
    return n


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description="the app's slider in Chromium")
    ap.add_argument("--moves", type=_at_least_one, default=16, help="slider moves (16)")
    ap.add_argument("--poll", action="store_true", help="also time it as a polling script sees it")
    ap.add_argument("--json", action="store_true", help="print one JSON document, nothing else")
    args = ap.parse_args(argv)
    doc = measure(args.moves, args.poll)
    print(json.dumps(doc, indent=2) if args.json else describe(doc))
    return 0


if __name__ == "__main__":
    sys.exit(main())
