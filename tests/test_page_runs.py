"""The Runs page: every run listed, one opened, cancel/resume/delete, compare, start, empty state.

The page reads run folders written by tests/runfolders.py into temp folders
(DLCORE_RUNS_DIR / DLCORE_CACHED_RUNS_DIR); no test trains anything: the
worker spawn is replaced so that starting a run only queues it.
"""
import json
import os
import pathlib

import pytest
from streamlit.testing.v1 import AppTest

import runfolders  # tests/runfolders.py: realistic run folders, JSON only
from dlcore.engine import data, experiments, jobs

PAGE = str(pathlib.Path(__file__).resolve().parents[1] / "app_pages" / "runs.py")


@pytest.fixture(autouse=True)
def no_training(monkeypatch):
    """Record what would be spawned instead of starting a worker; the 'worker' is this
    (alive) process, so a spawned run shows as running."""
    spawned = []

    def fake_spawn(run_dir):
        spawned.append(pathlib.Path(run_dir))
        return os.getpid()

    monkeypatch.setattr(jobs, "_spawn", fake_spawn)
    return spawned


@pytest.fixture
def roots(run_roots):
    return run_roots


@pytest.fixture
def three_runs(roots):
    """One live finished, one live running (its pid is this process, so alive), one cached."""
    live, cached = roots
    return {
        "finished": runfolders.live_run(live, "mlp_l2", "adam", "finished", stamp="20250304-100000-aaaaaa"),
        "running": runfolders.live_run(live, "mlp_l2", "rmsprop", "running", done=2, partial=2,
                                       stamp="20250304-110000-bbbbbb"),
        "cached": runfolders.cached_run(cached, "mlp_l2", "adam"),
    }


def open_page() -> AppTest:
    at = AppTest.from_file(PAGE, default_timeout=60).run()
    assert not at.exception, at.exception
    return at


def runs_table(at):
    """The list of all runs: its status table and its details table (preset, hardware, folder…), side by side."""
    (status,) = [d.value for d in [*at.dataframe, *at.table] if "progress" in d.value.columns]
    (details,) = [d.value for d in [*at.dataframe, *at.table] if "folder" in d.value.columns]
    assert list(status["run"]) == list(details["run"])
    return status.join(details.drop(columns="run"))


def texts(elements) -> str:
    return " ".join(str(e.value) for e in elements)


def chart_specs(at) -> list[dict]:
    return [json.loads(c.proto.spec) for c in at.get("vega_lite_chart")]


def test_table_lists_live_runs_first_then_cached_with_progress(three_runs):
    at = open_page()
    table = runs_table(at)
    assert list(table["run"]) == ["mlp_l2/rmsprop (class)", "mlp_l2/adam (class)", "mlp_l2/adam (full, cached)"]
    assert list(table["state"]) == ["running", "finished", "finished"]
    assert list(table["progress"]) == pytest.approx([2.5 / 4, 1.0, 1.0])
    assert list(table["epoch"]) == ["2/4", "4/4", "6/6"]
    assert table["ETA"][0] and not table["ETA"][1]
    assert "class preset" in table["notes"][0] and table["hardware"][2].startswith("1 × NVIDIA")


def test_running_run_opens_by_default_with_curves_and_a_cancel_button(three_runs):
    at = open_page()
    assert at.selectbox(key="runs_open").value == str(three_runs["running"])
    assert len(at.get("vega_lite_chart")) >= 4  # loss, accuracy, batch loss, comparison
    assert "live run mlp_l2__rmsprop__" in texts(at.caption)
    assert [b.key for b in at.button if b.key == "runs_cancel"] == ["runs_cancel"]
    assert not [b for b in at.button if b.key in ("runs_resume", "runs_delete")]


def test_selecting_the_cached_run_shows_its_curves_and_provenance(three_runs):
    at = open_page()
    at.selectbox(key="runs_open").select(str(three_runs["cached"])).run()
    assert not at.exception
    assert "cached run mlp_l2/adam" in texts(at.caption)
    (provenance,) = [t.value for t in at.table  # the opened run's field/value table, not the specs' shared values
                     if list(t.value.columns) == ["field", "value"] and "device" in set(t.value["field"])]
    fields = dict(provenance.values)
    assert fields["device"].startswith("1 × NVIDIA H100") and fields["code revision"] == "abc1234"
    assert "keras 3.10.0" in fields["versions"] and fields["seed"] == "0"
    # cached runs are shipped: nothing to cancel, resume or delete
    assert not [b for b in at.button if b.key in ("runs_cancel", "runs_resume", "runs_delete")]
    titles = {s["encoding"]["y"]["title"] for s in chart_specs(at)}
    assert {"loss", "accuracy"} <= titles


def test_cancel_on_a_running_live_run_creates_its_cancel_file(three_runs):
    at = open_page()
    assert not (three_runs["running"] / "cancel").exists()
    at.button(key="runs_cancel").click().run()
    assert not at.exception
    assert (three_runs["running"] / "cancel").exists()
    assert "Cancel asked" in texts(at.info)


def test_delete_removes_a_finished_live_run_after_confirmation(three_runs):
    at = open_page()
    at.selectbox(key="runs_open").select(str(three_runs["finished"])).run()
    assert at.button(key="runs_delete").disabled  # not before the confirmation
    at.checkbox(key=f"runs_delete_sure_{three_runs['finished'].name}").check().run()
    at.button(key="runs_delete").click().run()
    assert not at.exception
    assert not three_runs["finished"].exists() and three_runs["running"].exists()
    assert "Deleted mlp_l2/adam" in texts(at.success)
    assert list(runs_table(at)["run"]) == ["mlp_l2/rmsprop (class)", "mlp_l2/adam (full, cached)"]


def test_resume_queues_a_cancelled_run_again(roots, no_training):
    live, _ = roots
    path = runfolders.live_run(live, "mlp_l2", "adam", "cancelled", done=2)
    at = open_page()
    at.button(key="runs_resume").click().run()
    assert not at.exception
    assert no_training == [path]  # the worker would have been started for it
    assert json.loads((path / "status.json").read_text())["state"] == "running"
    assert "Resumed" in texts(at.success)


def test_corrupted_metrics_line_shows_a_warning_not_an_exception(three_runs):
    runfolders.corrupt_metrics(three_runs["running"])
    at = open_page()
    assert "metrics.jsonl line" in texts(at.warning)
    assert runs_table(at)["warnings"][0] == 1


def test_failed_run_shows_its_error(roots):
    live, _ = roots
    runfolders.live_run(live, state="failed", done=1, error="DatasetUnavailable: cifar10 is not in a local cache")
    at = open_page()
    assert "This run failed: DatasetUnavailable" in texts(at.error)


def test_compare_overlays_the_chosen_runs_and_draws_validation_error(three_runs):
    at = open_page()
    at.multiselect(key="runs_compare").set_value([str(three_runs["finished"]), str(three_runs["cached"])]).run()
    at.selectbox(key="runs_compare_metric").select("val_accuracy").run()
    at.toggle(key="runs_compare_error").set_value(True).run()
    assert not at.exception
    compare = chart_specs(at)[-1]
    assert compare["encoding"]["y"]["title"] == "validation error"
    assert compare["encoding"]["color"]["scale"]["domain"] == ["mlp_l2/adam (class)", "mlp_l2/adam (full, cached)"]
    assert compare["encoding"]["strokeDash"]["field"] == "source"
    assert texts(at.caption).count("Validation error per epoch from: ") == 1


def test_empty_state_says_how_to_start_a_run(roots):
    at = open_page()
    assert "No runs yet" in texts(at.info) and "Start a run" in texts(at.info)
    assert not [d for d in [*at.dataframe, *at.table] if "progress" in d.value.columns]


def test_start_shows_the_specs_and_queues_them(roots, no_training):
    live, _ = roots
    at = open_page()
    at.selectbox(key="runs_start_experiment").select("mlp_l2")
    at.radio(key="runs_start_preset").set_value("smoke").run()
    specs = [d.value for d in [*at.dataframe, *at.table] if "optimizer" in d.value.columns][0]
    assert len(specs) == len(experiments.METHODS) and set(specs["epochs"]) == {2}
    # What the five runs share is said once, under their table.
    shared = [dict(t.value.values) for t in at.table if list(t.value.columns) == ["field", "all 5 runs"]][0]
    assert shared["epochs"] == "2" and shared["batch"] == "32" and "optimizer" not in shared
    at.button(key="runs_start").click().run()
    assert not at.exception
    folders = sorted(p for p in live.iterdir() if p.is_dir())
    assert len(folders) == len(experiments.METHODS)
    assert len(no_training) == 1  # one worker at a time; the rest wait in the queue
    assert sorted(runs_table(at)["state"]) == ["queued"] * 4 + ["running"]
    assert "Started 5 run(s)" in texts(at.success)


def test_full_preset_warns_it_takes_hours_on_a_cpu(roots):
    at = open_page()
    at.radio(key="runs_start_preset").set_value("full").run()
    assert "hours" in texts(at.warning)


def test_a_missing_data_set_is_a_message_and_the_start_button_is_disabled(roots, monkeypatch):
    monkeypatch.setattr(data, "is_available", lambda name: name.startswith("synthetic_"))
    at = open_page()
    at.radio(key="runs_start_preset").set_value("class").run()
    assert "not in the local Keras cache" in texts(at.error)
    assert at.button(key="runs_start").disabled


def test_a_start_error_is_a_message_not_a_traceback(roots, monkeypatch):
    def refuse(specs):
        return [], "These runs cannot start: the learning rate must be a positive number, not 0"

    monkeypatch.setattr(jobs, "start_many", refuse)
    at = open_page()
    at.button(key="runs_start").click().run()
    assert not at.exception
    assert "learning rate must be a positive number" in texts(at.error)


def test_the_page_opens_on_the_newest_finished_full_run(roots):
    """With nothing training, the menu opens on a result worth showing, not on the first row."""
    live, cached = roots
    runfolders.live_run(live, "mlp_l2", "adam", "finished", stamp="20250304-100000-aaaaaa")  # class preset
    older = runfolders.cached_run(cached, "mlp_l2", "adagrad")
    newer = runfolders.cached_run(cached, "mlp_l2", "rmsprop")
    for path, ended in ((older, "2025-02-01T09:00:00+00:00"), (newer, "2025-02-02T09:00:00+00:00")):
        status = json.loads((path / "status.json").read_text())
        (path / "status.json").write_text(json.dumps({**status, "ended": ended}))
    at = open_page()
    assert at.selectbox(key="runs_open").value == str(newer)


def test_a_run_that_writes_again_is_shown_anew_though_its_table_and_curves_are_cached(three_runs, tmp_path):
    at = open_page()
    assert runs_table(at)["epoch"][0] == "2/4"
    steps_before = [s for s in chart_specs(at) if s["encoding"]["x"]["field"] == "epoch"]
    # The running run finishes its third epoch: its files change, so the cached rows and charts do too.
    later = runfolders.live_run(tmp_path, "mlp_l2", "rmsprop", "running", done=3, partial=0,
                                stamp="20250304-110000-bbbbbb")
    for name in ("status.json", "metrics.jsonl"):
        (three_runs["running"] / name).write_bytes((later / name).read_bytes())
    at.run()
    assert not at.exception, at.exception
    assert runs_table(at)["epoch"][0] == "3/4"
    assert "epoch 3" in at.get("progress")[0].proto.text
    assert steps_before  # the opened (running) run's per-epoch curves were drawn before, and are again
    assert [s for s in chart_specs(at) if s["encoding"]["x"]["field"] == "epoch"]
