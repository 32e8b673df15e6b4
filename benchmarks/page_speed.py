"""How fast do the pages answer? Server-side render times per page, and a slider in Chromium.

For every page, with Streamlit's AppTest (the page opened through app.py's navigation):
  - first render, cold: the first session after the server starts (st.cache_data empty);
  - first render: a new session on a running server (caches warm), median of rounds;
  - widget change: one widget of the page changed, median of rounds. Sections are
    `st.fragment`s, so a real server reruns only the fragment that holds the widget;
    AppTest always reruns the whole script, so each fragment's own time is measured
    (st.fragment wrapped with a timer) and the whole script's is printed beside it.
In headless Chromium (Playwright), on the Optimizers page: one key press on the step
slider until the page shows the new step (painted: checked in an animation frame),
median of rounds, and twenty quick presses until the last one shows.

Goals (issue 14): a widget change under 100 ms on the server and under 300 ms to paint;
every first render under 1 s.

    python benchmarks/page_speed.py [--rounds 5] [--no-browser] [--port 8625]
"""
from __future__ import annotations

import argparse
import functools
import os
import pathlib
import shutil
import statistics
import subprocess
import sys
import time
import urllib.request

ROOT = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import streamlit as st  # noqa: E402
from streamlit.testing.v1 import AppTest  # noqa: E402

CHROMIUM = "/usr/bin/chromium"
GOAL_CHANGE_S, GOAL_PAINT_S, GOAL_FIRST_S = 0.100, 0.300, 1.0

# page → (widget kind, key, two values to alternate between, the fragment that holds it)
WIDGET_CHANGES = {
    "home.py": None,
    "optimizers.py": ("slider", "t", (10, 50), "race_section"),
    "cyclical_lr.py": ("slider", "clr_step_size", (3000, 2000), "schedules_section"),
    "architecture.py": ("slider", "rf_n", (4, 3), "receptive_field_section"),
    "cutout.py": ("slider", "mask_size", (12, 16), "gallery_section"),
    "runs.py": ("selectbox", "runs_open", None, "open_run_section"),
}

# Time spent in each fragment's body, by function name, during the last AppTest run.
FRAGMENT_S: dict[str, float] = {}
_real_fragment = st.fragment


def _timed_fragment(func=None, **kwargs):
    if func is None:
        return lambda f: _timed_fragment(f, **kwargs)

    @functools.wraps(func)
    def body(*args, **kw):
        start = time.perf_counter()
        try:
            return func(*args, **kw)
        finally:
            FRAGMENT_S[func.__name__] = FRAGMENT_S.get(func.__name__, 0.0) + time.perf_counter() - start

    return _real_fragment(body, **kwargs)


st.fragment = _timed_fragment


def opened(page: str) -> tuple[AppTest, float]:
    """A new session on `page`, and how long its first render took."""
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=300).run()
    at.switch_page(f"app_pages/{page}")
    start = time.perf_counter()
    at.run()
    took = time.perf_counter() - start
    if at.exception:
        raise RuntimeError(f"{page}: {at.exception[0].message}")
    return at, took


def change(at: AppTest, spec: tuple, n: int) -> tuple[float, float]:
    """(the widget's fragment's time, the whole script's) for the n-th change of its widget."""
    kind, key, values, fragment = spec
    widget = getattr(at, kind)(key=key)
    widget.set_value(values[n % 2])
    FRAGMENT_S.clear()
    start = time.perf_counter()
    at.run()
    whole = time.perf_counter() - start
    if at.exception:
        raise RuntimeError(f"{key}: {at.exception[0].message}")
    return FRAGMENT_S.get(fragment, float("nan")), whole


def change_menu(at: AppTest, spec: tuple, n: int = 0) -> tuple[float, float]:
    """A selectbox of run folders: open the next run each time."""
    kind, key, _, fragment = spec
    from dlcore.engine import runs

    widget = at.selectbox(key=key)
    paths = [str(r.path) for r in runs.list_runs()]
    widget.set_value(paths[(paths.index(widget.value) + 1 + n) % len(paths)])
    FRAGMENT_S.clear()
    start = time.perf_counter()
    at.run()
    whole = time.perf_counter() - start
    if at.exception:
        raise RuntimeError(f"{key}: {at.exception[0].message}")
    return FRAGMENT_S.get(fragment, float("nan")), whole


def mark(value: float, goal: float) -> str:
    return "ok " if value < goal else "SLOW"


def server_side(rounds: int) -> None:
    print(f"Server side (AppTest, median of {rounds} rounds; goals: first render < {GOAL_FIRST_S:.0f} s, "
          f"widget change < {GOAL_CHANGE_S * 1000:.0f} ms)")
    print(f"{'page':16} {'cold first':>11} {'first':>8}   {'widget':>16} {'its fragment':>13}   {'whole script':>12}")
    for page, spec in WIDGET_CHANGES.items():
        st.cache_data.clear()
        _, cold = opened(page)
        firsts, fragments, wholes = [], [], []
        for n in range(rounds):
            at, first = opened(page)
            firsts.append(first)
            if spec is not None:
                step = change_menu if spec[0] == "selectbox" else change
                fragment_s, whole_s = step(at, spec, n)
                fragments.append(fragment_s)
                wholes.append(whole_s)
        first = statistics.median(firsts)
        line = f"{page:16} {cold:10.2f}s {first:7.2f}s {mark(first, GOAL_FIRST_S)}"
        if spec is not None:
            frag, whole = statistics.median(fragments), statistics.median(wholes)
            line += (f" {spec[1]:>12} {frag * 1000:9.0f} ms {mark(frag, GOAL_CHANGE_S)} "
                     f"{whole * 1000:9.0f} ms   ({spec[3]})")
        print(line, flush=True)


def wait_until_answering(url: str, proc: subprocess.Popen, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"streamlit exited with code {proc.returncode}")
        try:
            with urllib.request.urlopen(url, timeout=2):
                return
        except OSError:
            time.sleep(0.3)
    raise RuntimeError(f"streamlit did not answer {url} within {timeout} s")


def in_browser(rounds: int, port: int) -> None:
    if not os.path.exists(CHROMIUM) and not shutil.which(CHROMIUM):
        print(f"Chromium: skipped (no {CHROMIUM})")
        return
    from playwright.sync_api import sync_playwright

    proc = subprocess.Popen([sys.executable, "-m", "streamlit", "run", "app.py", "--server.headless", "true",
                             "--server.port", str(port)], cwd=ROOT, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    try:
        url = f"http://localhost:{port}"
        wait_until_answering(f"{url}/_stcore/health", proc)
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
            page = browser.new_page(viewport={"width": 1440, "height": 1000})
            page.goto(f"{url}/optimizers")
            page.get_by_role("link", name="1 · Optimizers").wait_for(timeout=120_000)
            shows = "() => document.body.innerText.includes('state at step t = {t}')"
            page.get_by_role("tab", name="Optimizer race").click()
            page.wait_for_function(shows.replace("{t}", "50"), timeout=60_000)
            thumb = page.get_by_role("slider", name="step shown, t")
            thumb.focus()
            one, t = [], 50
            for n in range(rounds + 1):
                key = "ArrowRight" if n % 2 == 0 else "ArrowLeft"
                t += 1 if key == "ArrowRight" else -1
                start = time.perf_counter()
                page.keyboard.press(key)
                page.wait_for_function(shows.replace("{t}", str(t)), polling="raf", timeout=30_000)
                if n:  # the first press also warms the browser's chart code
                    one.append(time.perf_counter() - start)
            start = time.perf_counter()
            for _ in range(20):
                page.keyboard.press("ArrowRight")
            page.wait_for_function(shows.replace("{t}", str(t + 20)), polling="raf", timeout=60_000)
            twenty = time.perf_counter() - start
            browser.close()
        paint = statistics.median(one)
        print(f"Chromium, Optimizers page, step slider: one key press to painted result "
              f"{paint * 1000:.0f} ms {mark(paint, GOAL_PAINT_S)} (median of {len(one)}; goal < "
              f"{GOAL_PAINT_S * 1000:.0f} ms); twenty quick presses settle in {twenty:.2f} s")
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--no-browser", action="store_true")
    parser.add_argument("--port", type=int, default=8625)
    args = parser.parse_args()
    server_side(args.rounds)
    if not args.no_browser:
        in_browser(args.rounds, args.port)


if __name__ == "__main__":
    main()
