"""One real browser against the real app: what a student sees.

Starts `streamlit run app.py` on a free local port, opens the home page and
the architecture page in headless Chromium (Playwright), and checks the
text a user reads. Screenshots go to the test's temp folder.
"""
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
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run",
]

pytestmark = pytest.mark.browser


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until_answering(url, proc, timeout=60):
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
        time.sleep(0.5)
    pytest.fail(f"streamlit did not answer {url} within {timeout} s")


@pytest.fixture
def app_url(tmp_path):
    """The app running in a subprocess; always terminated afterwards."""
    port = free_port()
    log = open(tmp_path / "streamlit.log", "wb")
    proc = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", "app.py", "--server.headless", "true",
         "--server.port", str(port), "--browser.gatherUsageStats", "false"],
        cwd=ROOT, env=dict(os.environ), stdout=log, stderr=subprocess.STDOUT,
    )
    try:
        url = f"http://localhost:{port}"
        wait_until_answering(f"{url}/_stcore/health", proc)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()


@pytest.fixture
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


def test_a_student_opens_home_then_the_architecture_page(browser, app_url, tmp_path):
    page = browser.new_page(viewport={"width": 1400, "height": 1000})

    page.goto(app_url + "/")
    page.get_by_role("heading", name="Deep-learning systems performance, interactively").wait_for(timeout=30_000)
    page.get_by_text("AlexNet and VGG19 layer by layer").wait_for()
    page.screenshot(path=str(tmp_path / "home.png"), full_page=True)

    page.goto(app_url + "/architecture")
    page.get_by_role("heading", name="3 · Architecture arithmetic").first.wait_for(timeout=30_000)
    page.get_by_text("62,378,344").first.wait_for(timeout=30_000)
    page.locator("[data-testid='stTable']").first.wait_for(timeout=10_000)
    # Tables are drawn on a canvas; the sum under them is text a user reads.
    assert page.get_by_text("34,944 + 614,656 + 885,120", exact=False).count() >= 1
    page.screenshot(path=str(tmp_path / "architecture.png"), full_page=True)

    page.get_by_role("tab", name="Receptive field").click()
    page.get_by_text("13×13", exact=True).first.wait_for(timeout=10_000)
    page.get_by_text("N, stacked convolutions").wait_for(timeout=10_000)
    page.locator("[data-testid='stVegaLiteChart'] canvas, [data-testid='stVegaLiteChart'] svg").first.wait_for(
        timeout=10_000
    )
    page.screenshot(path=str(tmp_path / "receptive_field.png"), full_page=True)

    for name in ("home.png", "architecture.png", "receptive_field.png"):
        assert (tmp_path / name).stat().st_size > 10_000
