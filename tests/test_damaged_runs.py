"""A damaged run folder is a "damaged" row that says what is wrong and can be deleted; every page
still renders the rest. The four damages of issue 13 (and a folder with no spec.json), each alone."""
import json
import os
import pathlib

import pytest
from streamlit.testing.v1 import AppTest

import runfolders
from dlcore.engine import jobs, runs

ROOT = pathlib.Path(__file__).resolve().parents[1]
PAGES = ["home.py", "optimizers.py", "cyclical_lr.py", "architecture.py", "cutout.py", "runs.py"]


def gpu_hardware(path):
    prov = json.loads((path / "provenance.json").read_text())
    runs.write_json(path / "provenance.json", {**prov, "hardware": "GPU"})


def epochs_in_words(path):
    status = json.loads((path / "status.json").read_text())
    runs.write_json(path / "status.json", {**status, "epochs": "ten"})


def epoch_without_its_number(path):
    with open(path / "metrics.jsonl", "a") as f:
        f.write('{"event": "epoch"}\n')


def bytes_not_utf8(path):
    (path / "spec.json").write_bytes(b'{"experiment": "mlp_l2", "name": "\xff\xfe"}')


def no_spec(path):
    (path / "spec.json").unlink()


DAMAGES = {
    "hardware GPU": (gpu_hardware, "provenance.json field 'hardware' must be an object"),
    "epochs ten": (epochs_in_words, "status.json field 'epochs' must be a whole number"),
    "epoch record without epoch": (epoch_without_its_number, "has no 'epoch'"),
    "not UTF-8": (bytes_not_utf8, "spec.json holds bytes that are not UTF-8 text"),
    "no spec.json": (no_spec, "no spec.json"),
}


@pytest.fixture(autouse=True)
def no_training(monkeypatch):
    monkeypatch.setattr(jobs, "_spawn", lambda run_dir: os.getpid())


@pytest.fixture(params=list(DAMAGES))
def damaged(request, run_roots):
    """One damaged live MLP run, one good live run and two good cached MLP runs."""
    live, cached = run_roots
    damage, words = DAMAGES[request.param]
    bad = runfolders.live_run(live, "mlp_l2", "rmsprop", "finished", stamp="20250304-120000-bbbbbb")
    damage(bad)
    good = runfolders.live_run(live, "mlp_l2", "adam", "finished", stamp="20250304-100000-aaaaaa")
    shipped = [runfolders.cached_run(cached, "mlp_l2", "adam"), runfolders.cached_run(cached, "mlp_dropout", "adam")]
    return bad, words, good, shipped


def test_the_reader_says_what_is_wrong(damaged):
    bad, words, good, _ = damaged
    run = runs.read_run(bad, "live")
    assert run.state == "damaged" and any(words in p for p in run.problems), run.problems
    assert not runs.read_run(good, "live").damaged
    # Listed only when asked for; what computes with runs never sees it.
    assert bad not in [r.path for r in runs.list_runs()]
    assert bad in [r.path for r in runs.list_runs(include_damaged=True)]


@pytest.fixture
def all_damaged(run_roots):
    """Each damage in a live MLP run folder of its own, beside good live and cached runs."""
    live, cached = run_roots
    for n, (damage, _) in enumerate(DAMAGES.values()):
        damage(runfolders.live_run(live, "mlp_l2", "rmsprop", "finished", stamp=f"20250304-12000{n}-bbbbbb"))
    runfolders.live_run(live, "mlp_l2", "adam", "finished", stamp="20250304-100000-aaaaaa")
    runfolders.cached_run(cached, "mlp_l2", "adam")
    runfolders.cached_run(cached, "mlp_dropout", "adam")


@pytest.mark.parametrize("page", PAGES)
def test_every_page_renders_beside_damaged_runs(all_damaged, page):
    from test_app import top_tabs

    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60).run()
    at.switch_page(f"app_pages/{page}").run()
    assert not at.exception, at.exception
    for tab in top_tabs(at.main)[1:]:  # lazy tabs: each is drawn only when open
        at.session_state["tab"] = tab
        at.run()
        assert not at.exception, (tab, at.exception)


def runs_page() -> AppTest:
    at = AppTest.from_file(str(ROOT / "app_pages" / "runs.py"), default_timeout=60).run()
    assert not at.exception, at.exception
    return at


def runs_table(at):
    """The list of all runs: its status table and its details table (preset, hardware, folder…), side by side."""
    (status,) = [d.value for d in [*at.dataframe, *at.table] if "progress" in d.value.columns]
    (details,) = [d.value for d in [*at.dataframe, *at.table] if "folder" in d.value.columns]
    assert list(status["run"]) == list(details["run"])
    return status.join(details.drop(columns="run"))


def test_the_runs_page_lists_the_damaged_row_and_every_other_run(damaged):
    bad, words, good, shipped = damaged
    table = runs_table(runs_page())
    assert len(table) == 4  # the damaged one, the good live one, both cached ones
    row = table[table["folder"] == bad.name].iloc[0]
    assert row["state"] == "damaged" and words in row["notes"]
    assert sorted(table["state"]) == ["damaged", "finished", "finished", "finished"]


def test_a_damaged_run_can_be_opened_and_deleted(damaged):
    bad, words, good, _ = damaged
    at = runs_page()
    at.selectbox(key="runs_open").select(str(bad)).run()
    assert not at.exception
    assert any(words in e.value for e in at.error)
    at.checkbox(key=f"runs_delete_sure_{bad.name}").check().run()
    at.button(key="runs_delete").click().run()
    assert not at.exception
    assert not bad.exists() and good.exists()
    assert len(runs_table(at)) == 3
