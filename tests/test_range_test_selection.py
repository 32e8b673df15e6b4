"""Issue 13 item 9: after Start in the range-test section, the menu and the chart show the run just
started, and they agree with each other (before, the menu kept naming a cached test and the chart
showed yet another run)."""
import json
import os
import pathlib

import pytest
from streamlit.testing.v1 import AppTest

import runfolders
from dlcore.engine import experiments, jobs

ROOT = pathlib.Path(__file__).resolve().parents[1]
PAGE = str(ROOT / "app_pages" / "cyclical_lr.py")


@pytest.fixture
def cached_tests(run_roots, monkeypatch):
    """The four cached range tests (steps and sweep, class and full); starting a run only queues it."""
    monkeypatch.setattr(jobs, "_spawn", lambda run_dir: os.getpid())
    live, cached = run_roots
    for preset in ("class", "full"):
        for spec in experiments.range_test_runs(preset):
            runfolders.write_run(cached / "range_test" / f"{spec.name}__{preset}", spec.to_dict(), "finished", 1)
    return live


def range_test_tab() -> AppTest:
    """The page on its range-test tab (the tabs are lazy: only the open one is drawn)."""
    at = AppTest.from_file(PAGE, default_timeout=60).run()
    at.session_state["tab"] = "LR range test"
    return at.run()


def range_caption(at) -> str:
    (caption,) = [c.value for c in at.caption if c.value.startswith("Training loss per logged batch")]
    return caption


@pytest.mark.parametrize("mode", ["steps", "sweep"])
def test_after_start_the_menu_and_the_chart_show_the_run_just_started(cached_tests, mode):
    at = range_test_tab()
    assert not at.exception
    # Read a cached test first, as a class would.
    full_sweep = str(pathlib.Path(os.environ["DLCORE_CACHED_RUNS_DIR"]) / "range_test" / "sweep__full")
    at.selectbox(key="rt_read").select(full_sweep).run()
    assert at.selectbox(key="rt_read").value == full_sweep
    at.radio(key="rt_preset").set_value("smoke").run()
    at.radio(key="rt_mode").set_value(mode).run()
    at.button(key="rt_start").click().run()
    assert not at.exception
    (folder,) = [p for p in cached_tests.iterdir() if p.is_dir()]
    assert json.loads((folder / "spec.json").read_text())["name"] == mode
    # The menu names the new live run …
    box = at.selectbox(key="rt_read")
    assert box.value == str(folder), (box.value, box.options)
    assert box.options[box.index].startswith(f"range_test/{mode} (smoke")
    # … and the chart area shows the same run (no batch records yet: it has only just started).
    # (the chart's message, and the suggestion rules' table saying the same of the same run)
    assert [i.value for i in at.info if "has no batch records yet" in i.value] == [
        f"range_test/{mode} (smoke) has no batch records yet: the first points appear after a few batches.",
        f"No rule can read range_test/{mode} (smoke) yet: it has no batch records yet."]


def test_the_menu_and_the_chart_agree_once_the_started_run_streams(cached_tests):
    at = range_test_tab()
    at.radio(key="rt_preset").set_value("smoke").run()
    at.button(key="rt_start").click().run()
    (folder,) = [p for p in cached_tests.iterdir() if p.is_dir()]
    with open(folder / "metrics.jsonl", "a") as f:  # the worker's first batch lines
        for step, lr in enumerate([1e-6, 1e-4, 1e-2, 1.0], 1):
            f.write(json.dumps({"event": "batch", "epoch": 1, "step": step, "loss": 2.3, "lr": lr}) + "\n")
    at.run()
    assert not at.exception
    assert at.selectbox(key="rt_read").value == str(folder)
    assert f"live run {folder.name}" in range_caption(at)
