"""How fast do the pages answer? Server-side render times per page, and a slider in Chromium.

For every page, with Streamlit's AppTest (the page opened through app.py's navigation):
  - first render, cold: the first session after the server starts (st.cache_data empty);
  - first render: a new session on a running server (caches warm), median of rounds;
  - widget change: one widget of the page changed, median of rounds. Sections are
    `st.fragment`s, so a real server reruns only the fragment that holds the widget;
    AppTest always reruns the whole script, so each fragment's own time is measured
    (st.fragment wrapped with a timer) and the whole script's is printed beside it.
    Tabs are lazy (only the open one is drawn): a widget on another tab is timed with that
    tab open, and switching a top-level tab, which reruns the page, is timed as a change too.
In headless Chromium (Playwright), on the Optimizers page: one key press on the step
slider until the page shows the new step (painted: checked in an animation frame),
median of rounds, and twenty quick presses until the last one shows.

Goals (issue 14): a widget change under 100 ms on the server and under 300 ms to paint;
every first render under 1 s.

    python benchmarks/page_speed.py [--rounds 5] [--no-browser] [--port 8625] [--pages optimizers.py ...]
"""
from __future__ import annotations

import argparse
import functools
import logging
import os
import pathlib
import shutil
import statistics
import subprocess
import sys
import time
import urllib.request
from typing import NamedTuple

ROOT = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import streamlit as st  # noqa: E402
from streamlit.runtime.scriptrunner import script_runner  # noqa: E402
from streamlit.runtime.scriptrunner.script_cache import ScriptCache  # noqa: E402
from streamlit.testing.v1 import AppTest, app_test, local_script_runner  # noqa: E402

# A server compiles each page once; AppTest compiles app.py and the page again on every run (a new
# ScriptCache each time), a tenth of a second on its own: give it one cache, as the server has.
_SCRIPTS = ScriptCache()
app_test.ScriptCache = local_script_runner.ScriptCache = lambda: _SCRIPTS

# Bare-mode warnings of every AppTest run ("missing ScriptRunContext", "No runtime found") would bury the figures.
for _name in ("streamlit.runtime.scriptrunner_utils.script_run_context", "streamlit.runtime.caching.cache_data_api"):
    logging.getLogger(_name).addFilter(lambda record: record.levelno >= logging.ERROR)

CHROMIUM = "/usr/bin/chromium"
GOAL_CHANGE_S, GOAL_PAINT_S, GOAL_FIRST_S = 0.100, 0.300, 1.0

class Change(NamedTuple):
    """One widget change to time: the widget (kind, key), the values it takes in turn (more of them
    than rounds, where each must be computed anew rather than come from a cache), the fragment that
    holds it, and what to open first (session state, e.g. a lazy tab) untimed."""
    kind: str
    key: str
    values: tuple | None  # None: a menu of run folders, the next one each time
    fragment: str | None  # None: the widget reruns the whole page (a top-level tab)
    first: dict = {}

    @property
    def label(self) -> str:
        where = f" ({', '.join(self.first.values())})" if self.first else ""
        return f"{self.key}{where}"


# page → the widget changes timed on it (the first render is the page as it opens)
WIDGET_CHANGES = {
    "home.py": [],
    "optimizers.py": [
        Change("slider", "t", (10, 50), "race_section"),
        Change("slider", "t", (10, 50), "race_section", {"tab": "Optimizer race"}),
        # A new race each time: Adam's five paths and both charts' data computed anew.
        Change("select_slider", "adam.learning_rate", (0.01, 0.02, 0.05, 0.2, 0.5, 1.0, 2.0, 0.005, 0.002, 0.001),
               "race_section", {"tab": "Optimizer race"}),
        Change("tabs", "tab", ("Optimizer race", "Update rules"), None),
        Change("tabs", "rule_tab", ("Adam", "Adagrad"), "race_section"),
    ],
    "cyclical_lr.py": [
        Change("slider", "clr_step_size", (3000, 2000), "schedules_section"),
        Change("slider", "clr_growth_k", (200, 100), "growth_planner_section"),
        Change("tabs", "tab", ("LR range test", "Schedules"), None),
    ],
    "architecture.py": [Change("slider", "rf_n", (4, 3), "receptive_field_section")],
    "cutout.py": [Change("slider", "mask_size", (12, 16), "gallery_section")],
    "runs.py": [Change("selectbox", "runs_open", None, "open_run_section")],
}
# Widgets of these kinds are changed by setting their key in session state (AppTest has no tab clicks).
BY_STATE = {"tabs"}

# Time spent in each fragment's body, by function name, during the last AppTest run.
FRAGMENT_S: dict[str, float] = {}
# The same, in CPU seconds of the thread that ran it: what the change costs when the machine is busy
# with other work (wall-clock times then grow with the load; CPU times hardly do).
FRAGMENT_CPU_S: dict[str, float] = {}
_real_fragment = st.fragment


def _timed_fragment(func=None, **kwargs):
    if func is None:
        return lambda f: _timed_fragment(f, **kwargs)

    @functools.wraps(func)
    def body(*args, **kw):
        start, cpu = time.perf_counter(), time.thread_time()
        try:
            return func(*args, **kw)
        finally:
            FRAGMENT_S[func.__name__] = FRAGMENT_S.get(func.__name__, 0.0) + time.perf_counter() - start
            FRAGMENT_CPU_S[func.__name__] = FRAGMENT_CPU_S.get(func.__name__, 0.0) + time.thread_time() - cpu

    return _real_fragment(body, **kwargs)


st.fragment = _timed_fragment

# CPU seconds of the last whole script run (its own thread), timed where Streamlit runs the script.
SCRIPT_CPU_S = [0.0]
_real_exec = script_runner.exec_func_with_error_handling


def _timed_exec(func, ctx):
    cpu = time.thread_time()
    try:
        return _real_exec(func, ctx)
    finally:
        SCRIPT_CPU_S[0] = time.thread_time() - cpu


script_runner.exec_func_with_error_handling = _timed_exec


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


def set_widget(at: AppTest, change: Change, n: int) -> None:
    if change.kind in BY_STATE:
        at.session_state[change.key] = change.values[n % len(change.values)]
    elif change.values is None:  # a selectbox of run folders: open the next run each time
        from dlcore.engine import runs

        widget = at.selectbox(key=change.key)
        paths = [str(r.path) for r in runs.list_runs()]
        widget.set_value(paths[(paths.index(widget.value) + 1 + n) % len(paths)])
    else:
        getattr(at, change.kind)(key=change.key).set_value(change.values[n % len(change.values)])


def timed_change(at: AppTest, change: Change, n: int) -> tuple[float, float, float]:
    """(the widget's fragment's time, its CPU time, the whole script's) for its n-th change.

    A widget outside every fragment (a top-level tab) reruns the page: its times are the whole script's."""
    for key, value in change.first.items():
        if key not in at.session_state or at.session_state[key] != value:
            at.session_state[key] = value
            at.run()
    set_widget(at, change, n)
    FRAGMENT_S.clear()
    FRAGMENT_CPU_S.clear()
    start = time.perf_counter()
    at.run()
    whole = time.perf_counter() - start
    if at.exception:
        raise RuntimeError(f"{change.key}: {at.exception[0].message}")
    if change.fragment is None:
        return whole, SCRIPT_CPU_S[0], whole
    return FRAGMENT_S.get(change.fragment, float("nan")), FRAGMENT_CPU_S.get(change.fragment, float("nan")), whole


def mark(value: float, goal: float) -> str:
    return "ok " if value < goal else "SLOW"


def server_side(rounds: int, pages: list[str]) -> None:
    print(f"Server side (AppTest, median of {rounds} rounds; goals: first render < {GOAL_FIRST_S:.0f} s, "
          f"widget change < {GOAL_CHANGE_S * 1000:.0f} ms; cpu = CPU time of the script's thread)")
    print(f"{'page':15} {'cold first':>10} {'first':>6} {'(cpu)':>6}      {'widget (tab opened first)':>36} "
          f"{'its fragment':>12} {'(cpu)':>11}  {'whole script':>12}")
    for page in pages:
        changes = WIDGET_CHANGES[page]
        st.cache_data.clear()
        st.cache_resource.clear()
        _, cold = opened(page)
        firsts, first_cpus, timings = [], [], [[] for _ in changes]
        for n in range(rounds):
            at, first = opened(page)
            firsts.append(first)
            first_cpus.append(SCRIPT_CPU_S[0])
            for i, change in enumerate(changes):
                timings[i].append(timed_change(at, change, n))
        first, first_cpu = statistics.median(firsts), statistics.median(first_cpus)
        lead = (f"{page:15} {cold:9.2f}s {first:5.2f}s {first_cpu:5.2f}s {mark(first, GOAL_FIRST_S)}")
        if not changes:
            print(lead, flush=True)
        for i, change in enumerate(changes):
            frag, cpu, whole = (statistics.median(column) for column in zip(*timings[i]))
            print(f"{lead if i == 0 else '':{len(lead)}} {change.label:>36} {frag * 1000:6.0f} ms "
                  f"{mark(frag, GOAL_CHANGE_S)} {cpu * 1000:4.0f} ms {mark(cpu, GOAL_CHANGE_S)} "
                  f"{whole * 1000:7.0f} ms   ({change.fragment or 'whole page'})", flush=True)


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
    parser.add_argument("--pages", nargs="*", choices=list(WIDGET_CHANGES), default=list(WIDGET_CHANGES),
                        help="the pages to time on the server side (default: all)")
    args = parser.parse_args()
    server_side(args.rounds, args.pages)
    if not args.no_browser:
        in_browser(args.rounds, args.port)


if __name__ == "__main__":
    main()
