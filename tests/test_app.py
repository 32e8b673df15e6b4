"""Every page opens through the app's navigation without an exception."""
import pathlib

import pytest
from streamlit.testing.v1 import AppTest

ROOT = pathlib.Path(__file__).resolve().parents[1]


def test_home_page_links_every_problem():
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=30).run()
    assert not at.exception
    text = " ".join(m.value for m in at.markdown) + " ".join(c.value for c in at.caption)
    for word in ("Adagrad", "range test", "AlexNet", "Cutout", "cached"):
        assert word.lower() in text.lower()


@pytest.mark.parametrize(
    "page", ["home.py", "optimizers.py", "cyclical_lr.py", "architecture.py", "cutout.py", "runs.py"]
)
def test_page_opens_through_the_navigation_without_exception(page):
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60).run()
    at.switch_page(f"app_pages/{page}").run()
    assert not at.exception, at.exception
    assert at.title, "every page has a title"
    # The tabs are lazy (only the open one is drawn): open each of them too.
    for tab in top_tabs(at.main)[1:]:
        at.session_state["tab"] = tab
        at.run()
        assert not at.exception, (tab, at.exception)


def top_tabs(node) -> list[str]:
    """The labels of a page's top-level tabs (the first tab bar in the page; tabs inside a tab come after)."""
    for child in getattr(node, "children", {}).values():
        if getattr(child, "type", None) == "tab_container":
            return [t.label for t in child.children.values()]
        found = top_tabs(child)
        if found:
            return found
    return []
