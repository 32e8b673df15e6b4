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
    assert run.state == "damaged" and run.title == "x/y"
    assert run.problems == ["status.json is not valid JSON (Expecting property name enclosed in double quotes: "
                            "line 1 column 2 (char 1))"]


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
        (tmp_path / name / "status.json").write_text(json.dumps({"state": "finished"}))
    assert [r.spec["experiment"] for r in runs.list_runs(include_cached=False)] == ["mlp_l2", "resnet"]


# --- Validation on read: a damaged folder is a damaged run, never an exception ----------------

import pathlib  # noqa: E402
import shutil  # noqa: E402
import tempfile  # noqa: E402

from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

import runfolders  # noqa: E402
from dlcore.engine import run_schema  # noqa: E402

JSON = st.recursive(
    st.none() | st.booleans() | st.integers(-2**40, 2**40) | st.floats(allow_nan=True) | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
    max_leaves=8)
FILES = ("spec.json", "status.json", "provenance.json")


def mutated(obj: dict, draw) -> dict:
    """`obj` with some fields replaced by any JSON value, and some dropped."""
    if not isinstance(obj, dict) or not obj:  # (a line spoilt earlier may be any JSON, {} included)
        return obj
    out = dict(obj)
    for key in draw(st.lists(st.sampled_from(sorted(obj)), max_size=3, unique=True)):
        if draw(st.booleans()):
            out[key] = draw(JSON)
        else:
            del out[key]
    return out


@st.composite
def damaged_folders(draw):
    """What a folder's files may hold: the real thing, a field or two of the wrong type, any JSON,
    any bytes (not UTF-8 included), a line of metrics gone wrong, or no file at all."""
    base = pathlib.Path(tempfile.mkdtemp()) / "run"
    runfolders.live_run(base.parent, state=draw(st.sampled_from(["finished", "running", "queued"])), done=2)
    path = next(base.parent.iterdir())
    for name in FILES:
        kind = draw(st.sampled_from(["keep", "keep", "mutate", "json", "bytes", "absent"]))
        if kind == "mutate":
            runs.write_json(path / name, mutated(json.loads((path / name).read_text()), draw))
        elif kind == "json":
            (path / name).write_text(json.dumps(draw(JSON)))
        elif kind == "bytes":
            (path / name).write_bytes(draw(st.binary(max_size=40)))
        elif kind == "absent":
            (path / name).unlink()
    lines = (path / "metrics.jsonl").read_text().splitlines()
    for _ in range(draw(st.integers(0, 3)) if lines else 0):  # (an empty file has no line to spoil)
        i = draw(st.integers(0, len(lines) - 1))
        kind = draw(st.sampled_from(["mutate", "json", "bytes"]))
        if kind == "mutate" and lines[i].startswith("{"):
            lines[i] = json.dumps(mutated(json.loads(lines[i]), draw))
        elif kind == "json":
            lines[i] = json.dumps(draw(JSON))
        elif kind == "bytes":
            lines[i] = draw(st.binary(max_size=20)).decode("latin-1")
    (path / "metrics.jsonl").write_bytes("\n".join(lines).encode("latin-1", "replace"))
    return path


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(damaged_folders())
def test_the_reader_never_raises_and_keeps_only_valid_types(path):
    try:
        check_everything_copes(path)
    finally:
        shutil.rmtree(path.parent, ignore_errors=True)


def check_everything_copes(path):
    from dlcore.charts import curves
    from dlcore.results import generalization, optimizer_comparison, tables, time_to_accuracy

    run = runs.read_run(path, "live")
    assert run.damaged == bool(run.problems) and (run.state == "damaged") == run.damaged
    # Whatever was on disk, what the reader hands on has the schema's types.
    def wrong_types(problems):  # (a required field that is missing stays missing)
        return [p for p in problems if " has no " not in p]

    assert wrong_types(run_schema.check_spec(run.spec)[0]) == []
    assert wrong_types(run_schema.check_status(run.status)[0]) == []
    assert run_schema.check_provenance(run.provenance)[0] == []
    assert all(run_schema.check_record(r, 0) == [] for r in run.records())
    # Everything that reads runs copes with it.
    tables.runs_table([run])
    tables.epochs_frame([run])
    tables.batches_frame([run])
    tables.provenance_table(run)
    tables.runs_provenance([run])
    tables.metrics_csv(run)
    runs.summary(run)
    curves.runs_caption([run])
    optimizer_comparison.results([run])
    time_to_accuracy.comparison_table([run])
    generalization.final_test_metrics(run)
    if run.damaged:
        assert tables.epochs_frame([run]).empty and run.run_id not in set(tables.batches_frame([run])["run"])


def test_a_folder_without_spec_is_listed_damaged_and_can_be_deleted(runs_dir):
    path = runfolders.live_run(runs_dir)
    (path / "spec.json").unlink()
    (listed,) = runs.list_runs(include_cached=False, include_damaged=True)
    assert listed.path == path and listed.problems == ["no spec.json"] and listed.title == path.name
    from dlcore.engine import jobs
    jobs.delete(listed.run_id)
    assert not path.exists()


def test_an_epoch_record_without_its_epoch_is_skipped_and_damages_the_run(tmp_path):
    path = runfolders.live_run(tmp_path)
    with open(path / "metrics.jsonl", "a") as f:
        f.write('{"event": "epoch"}\n')
    run = runs.read_run(path, "live")
    assert run.problems == [f"metrics.jsonl line {len(runfolders.records(4)) + 1} has no 'epoch'; skipped"]
    assert list(run.epochs()["epoch"]) == [1, 2, 3, 4]
