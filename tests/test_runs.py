"""Run folders: names that cannot escape, atomic status, corrupted files skipped."""
import json
import threading

import pytest

from dlcore.engine import runs


def test_two_runs_started_at_the_same_instant_get_distinct_folders(tmp_path):
    made, barrier = [], threading.Barrier(8)

    def make():
        barrier.wait()
        made.append(runs.new_run_dir(tmp_path, "mlp_l2", "adam"))

    threads = [threading.Thread(target=make) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(set(made)) == 8 and all(p.is_dir() for p in made)


@pytest.mark.parametrize("run_id", ["../escape", "a/../../b", "/etc", ".", ""])
def test_run_ids_cannot_escape_the_runs_folder(tmp_path, run_id):
    with pytest.raises(ValueError, match="outside"):
        runs.resolve(tmp_path, run_id)


def test_run_names_are_made_safe(tmp_path):
    path = runs.new_run_dir(tmp_path, "../../etc", "a/b\\c")
    assert path.parent == tmp_path and "/" not in path.name and ".." not in path.name


def test_truncated_metrics_line_is_skipped_with_a_warning(tmp_path):
    (tmp_path / "spec.json").write_text(json.dumps({"experiment": "x", "name": "y", "epochs": 3}))
    lines = [{"event": "epoch", "epoch": 1, "loss": 2.0}, {"event": "epoch", "epoch": 2, "loss": 1.5}]
    text = "".join(json.dumps(r) + "\n" for r in lines) + '{"event": "epoch", "epo'
    (tmp_path / "metrics.jsonl").write_text(text)
    run = runs.read_run(tmp_path, "live")
    assert list(run.epochs()["loss"]) == [2.0, 1.5]
    assert any("half-written" in w for w in run.warnings)


def test_corrupted_status_does_not_hide_the_run(tmp_path):
    (tmp_path / "spec.json").write_text(json.dumps({"experiment": "x", "name": "y"}))
    (tmp_path / "status.json").write_text("{not json")
    run = runs.read_run(tmp_path, "live")
    assert run.state == "unknown" and any("status.json" in w for w in run.warnings)


def test_records_superseded_by_a_resume_are_dropped(tmp_path):
    recs = [
        {"event": "batch", "epoch": 1, "loss": 3.0}, {"event": "epoch", "epoch": 1, "loss": 2.5},
        {"event": "batch", "epoch": 2, "loss": 2.4}, {"event": "epoch", "epoch": 2, "loss": 2.2},
        {"event": "batch", "epoch": 3, "loss": 9.9},          # interrupted epoch 3
        {"event": "resume", "epoch": 1},                       # checkpoint was after epoch 1
        {"event": "batch", "epoch": 2, "loss": 2.3}, {"event": "epoch", "epoch": 2, "loss": 2.1},
    ]
    (tmp_path / "metrics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in recs))
    kept = runs.read_records(tmp_path)
    assert [(r["event"], r["epoch"], r["loss"]) for r in kept] == [
        ("batch", 1, 3.0), ("epoch", 1, 2.5), ("batch", 2, 2.3), ("epoch", 2, 2.1)]


def test_write_json_is_atomic_and_leaves_no_temp_files(tmp_path):
    for i in range(5):
        runs.write_json(tmp_path / "status.json", {"i": i})
    assert json.loads((tmp_path / "status.json").read_text()) == {"i": 4}
    assert [p.name for p in tmp_path.iterdir()] == ["status.json"]


def test_a_cancelled_full_run_says_it_was_cut_short(tmp_path):
    (tmp_path / "spec.json").write_text(json.dumps({"experiment": "resnet", "name": "M1", "preset": "full",
                                                    "epochs": 100}))
    (tmp_path / "status.json").write_text(json.dumps({"state": "cancelled", "epoch": 9, "epochs": 100}))
    run = runs.read_run(tmp_path, "cached")
    assert run.cut_short and run.length_note == "cut short: 9 of 100 epochs (cancelled)"
    assert "cut short" in runs.summary(run)["notes"]
    from dlcore.results import tables
    assert tables.run_label(run) == "resnet/M1 (full, cached, 9/100 epochs)"


def test_a_run_stopped_by_its_own_rule_is_not_cut_short(tmp_path):
    (tmp_path / "spec.json").write_text(json.dumps({"experiment": "resnet", "name": "M1", "epochs": 100}))
    (tmp_path / "status.json").write_text(json.dumps({"state": "finished", "epoch": 60, "epochs": 100,
                                                      "reason": "reached 92% test accuracy at epoch 60"}))
    run = runs.read_run(tmp_path, "cached")
    assert not run.cut_short and run.length_note.startswith("stopped early: reached 92%")


def test_live_runs_are_listed_newest_first(tmp_path, monkeypatch):
    monkeypatch.setenv("DLCORE_RUNS_DIR", str(tmp_path))
    for name in ("resnet__M1__20260101-000000-aaaaaa", "mlp_l2__adam__20260202-000000-bbbbbb"):
        (tmp_path / name).mkdir()
        (tmp_path / name / "spec.json").write_text(json.dumps({"experiment": name.split("__")[0], "name": "x"}))
    assert [r.spec["experiment"] for r in runs.list_runs(include_cached=False)] == ["mlp_l2", "resnet"]
