"""One real browser against the real app: what a student sees.

With `streamlit run app.py` running (tests/browser_server.py), opens the home page
and the architecture page in headless Chromium (Playwright), and checks the
text a user reads. Screenshots go to the test's temp folder.
"""
import pytest

# `browser` and `app_url` are tests/browser_server.py's: one Chromium and one app server for the session.
pytestmark = pytest.mark.browser


def test_a_student_opens_home_then_the_architecture_page(browser, app_url, tmp_path):
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    try:
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
        page.locator("[data-testid='stVegaLiteChart'] canvas, [data-testid='stVegaLiteChart'] svg").first \
            .wait_for(timeout=10_000)
        page.screenshot(path=str(tmp_path / "receptive_field.png"), full_page=True)

        for name in ("home.png", "architecture.png", "receptive_field.png"):
            assert (tmp_path / name).stat().st_size > 10_000
    finally:
        page.close()
