"""The real app in a subprocess and a headless Chromium, shared by the browser tests.

tests/conftest.py imports the two fixtures, so test_browser.py and test_browser_pages.py
drive one app server and one browser for the whole session (each start costs seconds):
  - `browser`: Debian's Chromium through Playwright (skips where either is missing);
  - `app_url`: `streamlit run app.py` on this project's port (a free one if it is taken),
    the checkout's cached runs and a private, empty live-runs folder; always terminated.
"""
from __future__ import annotations

import os
import pathlib
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
PORT = 8615  # this project's port for the app under test (a free one if it is taken)


def port_is_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        return s.connect_ex(("127.0.0.1", port)) != 0


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until_answering(url: str, proc: subprocess.Popen, timeout: float = 90) -> None:
    """Poll until the server answers HTTP; fail early if it died."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"streamlit exited with code {proc.returncode} before answering")
        try:
            with urllib.request.urlopen(url, timeout=2) as r:
                if r.status == 200:
                    return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass
        time.sleep(0.25)
    pytest.fail(f"streamlit did not answer {url} within {timeout} s")


def open_home_first(browser, url: str) -> None:
    """A server's first session goes straight to a page, as a lecturer's bookmark does, and still
    gets app.py's navigation: the pages live in app_pages/, because Streamlit runs a folder named
    pages/ as pages of their own (its first multipage API) until some session has run app.py."""
    page = browser.new_page()
    try:
        page.goto(f"{url}/optimizers")
        page.get_by_role("link", name="1 · Optimizers").wait_for(timeout=90_000)
    finally:
        page.close()


@pytest.fixture(scope="session")
def browser():
    if not shutil.which(CHROMIUM) and not os.path.exists(CHROMIUM):
        pytest.skip(f"no Chromium at {CHROMIUM} (Debian: apt-get install chromium)")
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed")
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield b
        finally:
            b.close()


@pytest.fixture(scope="session")
def app_url(browser, tmp_path_factory):
    """One app server for every browser test: the checkout's cached runs, a private empty live-runs folder."""
    tmp = tmp_path_factory.mktemp("app_server")
    port = PORT if port_is_free(PORT) else free_port()
    env = dict(os.environ, DLCORE_RUNS_DIR=str(tmp / "runs"))
    log = open(tmp / "streamlit.log", "wb")
    proc = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", "app.py", "--server.headless", "true",
         "--server.port", str(port), "--browser.gatherUsageStats", "false"],
        cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        url = f"http://localhost:{port}"
        wait_until_answering(f"{url}/_stcore/health", proc)
        open_home_first(browser, url)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()
