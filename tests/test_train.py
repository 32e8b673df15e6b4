"""The worker: it trains, streams, cancels, dies, resumes — and says so on disk."""
import os
import signal

import numpy as np
import pytest

from dlcore.engine import jobs, runs
from dlcore.engine import worker
from dlcore.engine.experiments import SpecError
from smoke_runs import smoke_spec, wait_for  # tests/smoke_runs.py

pytestmark = pytest.mark.slow


def test_smoke_run_trains_streams_and_records_provenance(runs_dir):
    run_dir = jobs.create(smoke_spec(epochs=4))
    assert worker.run(run_dir) == "finished"
    run = runs.read_run(run_dir, "live")
    epochs, batches = run.epochs(), run.batches()
    assert list(epochs["epoch"]) == [1, 2, 3, 4]
    assert epochs["loss"].iloc[-1] < epochs["loss"].iloc[0]
    assert {"val_loss", "val_accuracy", "lr", "images_per_s", "wall_s"} <= set(epochs.columns)
    assert len(batches) >= 4 * 4 and np.allclose(batches["lr"], 1e-3)
    assert run.status["state"] == "finished" and run.status["epoch"] == 4
    prov = run.provenance
    assert prov["backend"] and prov["versions"]["keras"] and prov["hardware"]["device"]
    assert prov["seed"] == 0 and prov["ended"] and prov["wall_s"] > 0


def test_batch_lines_show_the_window_mean_not_the_running_mean(runs_dir):
    run_dir = jobs.create(smoke_spec(epochs=1, log_every=1))
    worker.run(run_dir)
    b = runs.read_run(run_dir, "live").batches()
    # With a line every batch, the epoch's running mean is the mean of the window losses so far.
    assert np.allclose(np.cumsum(b["loss"]) / np.arange(1, len(b) + 1), b["epoch_mean_loss"], rtol=1e-4)


def test_bad_spec_is_rejected_before_any_folder_or_process(runs_dir):
    bad = smoke_spec().to_dict()
    bad["optimizer"] = {"name": "adam", "learning_rate": 0}
    with pytest.raises(SpecError):
        jobs.start(bad)
    assert list(runs_dir.iterdir()) == []


def test_stop_rule_ends_the_run_with_its_reason(runs_dir):
    run_dir = jobs.create(smoke_spec(epochs=20, stop={"val_accuracy": 0.0}))
    worker.run(run_dir)
    run = runs.read_run(run_dir, "live")
    assert len(run.epochs()) == 1 and "reached 0% test accuracy at epoch 1" in run.status["reason"]


def test_failure_is_recorded_with_the_error_text(runs_dir, monkeypatch):
    run_dir = jobs.create(smoke_spec())
    monkeypatch.setattr("dlcore.engine.data.prepare", lambda *a, **k: (_ for _ in ()).throw(RuntimeError("disk on fire")))
    assert worker.run(run_dir) == "failed"
    status = runs.read_json(run_dir / "status.json")
    assert status["state"] == "failed" and "disk on fire" in status["error"]


def test_cancel_mid_epoch_keeps_finished_epochs_and_valid_metrics(runs_dir):
    run_dir = jobs.start(smoke_spec(epochs=400, log_every=1, batch_size=8))
    run_id = run_dir.name
    wait_for(lambda: len(runs.read_run(run_dir, "live").epochs()) >= 2)
    jobs.cancel(run_id)
    wait_for(lambda: runs.read_json(run_dir / "status.json").get("state") == "cancelled")
    run = runs.read_run(run_dir, "live")
    assert run.warnings == []  # every line is valid JSON
    epochs = run.epochs()
    assert 2 <= len(epochs) < 400
    assert list(epochs["epoch"]) == list(range(1, len(epochs) + 1))  # no line for the unfinished epoch
    assert runs.read_json(run_dir / "status.json")["epoch"] == len(epochs)


def test_kill_9_is_detected_and_resume_matches_an_uninterrupted_run(runs_dir):
    spec = smoke_spec(epochs=12, batch_size=8)
    reference = jobs.create(spec)
    worker.run(reference)

    run_dir = jobs.start(spec)
    wait_for(lambda: (runs.read_json(run_dir / "status.json").get("checkpoint_epoch") or 0) >= 2)
    pid = runs.read_json(run_dir / "status.json")["pid"]
    os.kill(pid, signal.SIGKILL)
    wait_for(lambda: not jobs.is_alive(pid))
    jobs.pump()
    status = runs.read_json(run_dir / "status.json")
    assert status["state"] == "failed" and "died" in status["error"]

    # Resume in this process (the queue would start a worker; run it here to keep the test quick).
    runs.update_status(run_dir, state="queued")
    assert worker.run(run_dir) == "finished"
    resumed, uninterrupted = runs.read_run(run_dir, "live").epochs(), runs.read_run(reference, "live").epochs()
    assert list(resumed["epoch"]) == list(range(1, 13))
    for column in ("loss", "val_loss", "val_accuracy"):
        np.testing.assert_allclose(resumed[column], uninterrupted[column], rtol=1e-4, atol=1e-6)
    assert runs.read_json(run_dir / "provenance.json")["attempts"] == 2


def test_queue_starts_at_most_max_jobs_at_once(runs_dir, monkeypatch):
    monkeypatch.setenv("DLCORE_MAX_JOBS", "1")
    first = jobs.start(smoke_spec(epochs=400, batch_size=8))
    second = jobs.start(smoke_spec(epochs=400, batch_size=8))
    assert runs.read_json(second / "status.json")["state"] == "queued"
    jobs.cancel(second.name)
    assert runs.read_json(second / "status.json")["state"] == "cancelled"
    jobs.cancel(first.name)
    wait_for(lambda: runs.read_json(first / "status.json").get("state") == "cancelled")


def test_cancel_before_the_worker_starts_is_honoured(runs_dir):
    run_dir = jobs.create(smoke_spec())
    (run_dir / "cancel").touch()
    assert worker.run(run_dir) == "cancelled"
    assert runs.read_run(run_dir, "live").epochs().empty


def test_start_many_is_all_or_none(runs_dir, monkeypatch):
    monkeypatch.setattr(jobs, "_spawn", lambda run_dir: os.getpid())
    good = smoke_spec()
    bad = smoke_spec().to_dict()
    bad["batch_size"] = 0
    folders, error = jobs.start_many([good, bad])
    assert folders == [] and "batch size" in error and list(runs_dir.iterdir()) == []
    folders, error = jobs.start_many([good, good])
    assert error is None and len(folders) == 2
