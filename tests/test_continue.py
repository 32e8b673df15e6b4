"""Runs that outlive a machine: no finished epoch is lost, and a second machine continues the first's run."""
import json
import os
import pathlib
import signal
import subprocess
import sys

import numpy as np
import pytest

from dlcore.engine import checkpoints, cli, jobs, provenance, runs, worker
from smoke_runs import SMOKE, smoke_spec, wait_for  # tests/smoke_runs.py

ROOT = pathlib.Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.slow


def epochs_recorded(run_dir) -> int:
    return len([r for r in runs.read_records(run_dir) if r["event"] == "epoch"])


def raw_epoch_lines(run_dir) -> list[int]:
    """Every epoch line ever written, superseded ones included."""
    lines = (pathlib.Path(run_dir) / "metrics.jsonl").read_text().splitlines()
    return [r["epoch"] for r in map(json.loads, lines) if r.get("event") == "epoch"]


# A wide MLP (3072×1000 weights and Adam's two moments: ~37 MB a checkpoint) on 256 images: a save
# costs more than an epoch, so the worker saves far less often than every epoch.
SLOW_TO_SAVE = dict(model={"name": "mlp", "regularizer": "l2", "l2": 5e-4, "hidden": 1000}, batch_size=64,
                    validate=False, log_every=2)
PLANNED = 10


def stop(run_dir, how) -> int:
    """Stop a running worker as the app's Cancel button does, or as a lease ending does; its pid."""
    pid = runs.read_json(run_dir / "status.json")["pid"]
    if how == "cancel":
        jobs.cancel(run_dir.name)
    else:
        os.kill(pid, signal.SIGTERM)
    return pid


@pytest.fixture(scope="module")
def stopped_runs(tmp_path_factory):
    """{"cancel": run folder, "sigterm": run folder}: two SLOW_TO_SAVE runs of PLANNED epochs, started at
    once (their process start-ups overlap), each stopped as soon as it has 4 finished epochs. Each test
    then trains the rest in this process, so PLANNED is small: 6 epochs of margin for the stop to arrive
    in (it is checked at every batch), 6 at most to resume."""
    with pytest.MonkeyPatch.context() as mp:  # for starting and stopping them only
        mp.setenv("DLCORE_RUNS_DIR", str(tmp_path_factory.mktemp("runs")))
        mp.setenv("DLCORE_MAX_JOBS", "2")
        folders = {how: jobs.start(smoke_spec(name=how, epochs=PLANNED, **SLOW_TO_SAVE))
                   for how in ("cancel", "sigterm")}
        pids = {}

        def stop_those_ready():
            for how, run_dir in folders.items():
                if how not in pids and epochs_recorded(run_dir) >= 4:
                    pids[how] = stop(run_dir, how)
            return len(pids) == len(folders)

        wait_for(stop_those_ready, 300, what="4 finished epochs in both runs")
        for how, run_dir in folders.items():
            wait_for(lambda: runs.read_json(run_dir / "status.json").get("state") == "cancelled",
                     what=f"the {how} to end the run")
            wait_for(lambda: not jobs.is_alive(pids[how]), what=f"the {how}ed worker to exit")
    return folders


def assert_resumes_from_the_last_finished_epoch(run_dir, planned):
    done = runs.read_json(run_dir / "status.json")["epoch"]
    assert done == epochs_recorded(run_dir) >= 3
    found = checkpoints.latest_checkpoint(run_dir)
    assert found is not None and found[0] == done, f"checkpoint after epoch {found and found[0]}, {done} finished"
    runs.update_status(run_dir, state="queued")
    (run_dir / "cancel").unlink(missing_ok=True)
    assert worker.run(run_dir) == "finished"
    assert raw_epoch_lines(run_dir) == list(range(1, planned + 1)), "an epoch was trained twice"
    resume = [r for r in map(json.loads, (run_dir / "metrics.jsonl").read_text().splitlines())
              if r.get("event") == "resume"]
    assert [r["epoch"] for r in resume] == [done]


def test_cancel_keeps_finished_epochs(stopped_runs):
    assert_resumes_from_the_last_finished_epoch(stopped_runs["cancel"], PLANNED)


def test_sigterm_keeps_finished_epochs(stopped_runs):
    assert_resumes_from_the_last_finished_epoch(stopped_runs["sigterm"], PLANNED)


def test_checkpoint_restores_every_variable_exactly(tmp_path):
    from dlcore.engine import model_setup

    spec = smoke_spec(model={"name": "mlp", "regularizer": "dropout", "hidden": 16},
                      optimizer={"name": "rmsprop_nesterov", "learning_rate": 1e-3, "rho": 0.9, "momentum": 0.9})
    model = model_setup.build_model(spec, (32, 32, 3), 8)
    x = np.random.default_rng(0).random((64, 32, 32, 3), dtype=np.float32)
    model.fit(x, np.arange(64) % 10, epochs=2, verbose=0)
    path = checkpoints.save_checkpoint(model, tmp_path, 2)
    assert path.name == "checkpoint-e0002.npz" and checkpoints.latest_checkpoint(tmp_path) == (2, path)
    fresh = model_setup.build_model(spec, (32, 32, 3), 8)
    checkpoints.load_into(fresh, path)
    before = [np.asarray(v) for v in model.variables + checkpoints.slot_variables(model.optimizer)]
    after = [np.asarray(v) for v in fresh.variables + checkpoints.slot_variables(fresh.optimizer)]
    assert len(before) == len(after) and all(np.array_equal(a, b) for a, b in zip(before, after))
    assert int(fresh.optimizer.iterations) == int(model.optimizer.iterations) == 4
    header, _ = checkpoints.read(path)
    assert header["epoch"] == 2 and "seed" in header["rng"]


def test_resnet44_checkpoint_is_small_enough_to_ship(tmp_path):
    from dlcore.engine import experiments, model_setup

    spec = experiments.catalogue("resnet", "full")[0]
    model = model_setup.build_model(spec, (32, 32, 3), 782)
    model.optimizer.build(model.trainable_variables)
    rng = np.random.default_rng(0)
    for v in checkpoints.slot_variables(model.optimizer):  # momentum of a trained run: no zeros to squeeze
        v.assign(rng.normal(0, 1e-2, v.shape).astype(np.float32))
    path = checkpoints.save_checkpoint(model, tmp_path, 9)
    size = path.stat().st_size
    # weights + batch-norm statistics + SGD momentum: 5.3 MB of float32, stored losslessly
    assert 3e6 < size < checkpoints.SHIP_LIMIT_BYTES, size


def test_a_run_without_checkpoint_restarts_and_its_old_epochs_are_superseded(runs_dir):
    run_dir = jobs.create(smoke_spec(epochs=3))
    # What an attempt that kept no checkpoint left behind (like the cut-short full runs of 2026-11-27).
    for epoch in (1, 2):
        runs.append_jsonl(run_dir / "metrics.jsonl", {"event": "epoch", "epoch": epoch, "loss": 9.0,
                                                      "images_per_s": 1.0, "wall_s": float(epoch)})
    runs.write_json(run_dir / "provenance.json", {"started": "2026-11-27T14:35:52+00:00", "ended":
                                                  "2026-11-27T14:43:00+00:00", "epochs_done": 2, "backend": "jax",
                                                  "hardware": {"device": "1 × NVIDIA H100 80GB HBM3"},
                                                  "precision": "mixed_bfloat16", "attempts": 1})
    runs.update_status(run_dir, state="cancelled", epoch=2)
    runs.update_status(run_dir, state="queued")
    assert worker.run(run_dir) == "finished"
    epochs = runs.read_run(run_dir, "live").epochs()
    assert list(epochs["epoch"]) == [1, 2, 3] and (epochs["loss"] < 9.0).all()
    log = provenance.attempt_log(runs.read_json(run_dir / "provenance.json"))
    assert [a["epoch_from"] for a in log] == [0, 0] and log[0]["device"] == "1 × NVIDIA H100 80GB HBM3"
    assert "superseded" in log[0] and "superseded" not in log[1] and log[1]["epoch_to"] == 3


def test_a_cut_short_run_continues_in_a_second_process_with_both_attempts(tmp_path):
    """As on two GPU machines: the first process is stopped (SIGTERM, as when a lease ends), the
    second, started as `python -m dlcore.run` starts it, continues from the first's checkpoint."""
    pytest.importorskip("jax")
    env = dict(os.environ, KERAS_BACKEND="jax", TF_CPP_MIN_LOG_LEVEL="3", PYTHONUNBUFFERED="1",
               DLCORE_RUNS_DIR=str(tmp_path / "live"), DLCORE_CACHED_RUNS_DIR=str(tmp_path / "cached"))
    spec = smoke_spec(epochs=14, batch_size=8, log_every=8)
    out = tmp_path / "cached"

    def attempt(revision):
        run_dir = cli.prepare_dir(out, spec, force=False)
        return run_dir, subprocess.Popen([sys.executable, "-m", "dlcore.train", str(run_dir)], cwd=ROOT,
                                         env=dict(env, DLCORE_CODE_REVISION=revision),
                                         stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)

    run_dir, first = attempt("first-machine")
    try:
        wait_for(lambda: epochs_recorded(run_dir) >= 2, timeout=300)
    finally:
        first.send_signal(signal.SIGTERM)
    output, _ = first.communicate(timeout=300)
    status = runs.read_json(run_dir / "status.json")
    assert status["state"] == "cancelled", (status.get("error"), status.get("traceback"), output[-3000:])
    cut = status["epoch"]
    assert checkpoints.latest_checkpoint(run_dir)[0] == cut and 2 <= cut < 14

    run_dir, second = attempt("second-machine")
    output, _ = second.communicate(timeout=600)
    assert second.returncode == 0, output
    run = runs.read_run(run_dir, "cached")
    assert run.state == "finished" and list(run.epochs()["epoch"]) == list(range(1, 15))
    assert raw_epoch_lines(run_dir) == list(range(1, 15)), "the second attempt trained an epoch again"
    log = provenance.attempt_log(run.provenance)
    assert [(a["epoch_from"], a["epoch_to"], a["state"]) for a in log] == [(0, cut, "cancelled"),
                                                                          (cut, 14, "finished")]
    assert [a["code_revision"] for a in log] == ["first-machine", "second-machine"]
    assert all(a["backend"] == "jax" and a["device"] and a["precision"] == "float32" and a["started"]
               and a["ended"] for a in log)


def test_a_batch_growth_run_resumed_mid_growth_equals_an_uninterrupted_one(runs_dir, monkeypatch):
    """Phases of growing batches change the optimizer (gradient accumulation): the checkpoint keeps its
    update count and momentum in a form every phase's optimizer takes back. The catalogue's smoke run
    (batch 8 → 16 → 32, 2 updates each, micro-batches of 8, SGD with momentum) on the tiny MLP: the
    optimizer's state is the same whatever the network, and MiniGoogLeNet made this the slowest test."""
    from dlcore.engine import experiments

    spec = experiments.catalogue("batch_growth", "smoke")[0].replace(model=SMOKE["model"])
    assert spec.epochs == 3 and spec.optimizer["momentum"] > 0 and spec.schedule["max_micro_batch"] == 8
    reference = jobs.create(spec)
    assert worker.run(reference) == "finished"
    cut = jobs.create(spec)
    original = checkpoints.save_checkpoint

    def save_then_cut(model, run_dir, epoch, *args, **kwargs):
        path = original(model, run_dir, epoch, *args, **kwargs)
        if epoch == 2:  # after the first accumulated phase (batch 16 = 2 micro-batches of 8)
            (pathlib.Path(run_dir) / "cancel").touch()
        return path

    monkeypatch.setattr(checkpoints, "save_checkpoint", save_then_cut)
    assert worker.run(cut) == "cancelled"
    monkeypatch.setattr(checkpoints, "save_checkpoint", original)
    assert checkpoints.latest_checkpoint(cut)[0] == 2
    (cut / "cancel").unlink()
    assert worker.run(cut) == "finished"
    a, b = runs.read_run(reference, "live").epochs(), runs.read_run(cut, "live").epochs()
    assert list(b["epoch"]) == list(range(1, spec.epochs + 1))
    for column in ("loss", "val_loss", "batch_size"):
        np.testing.assert_allclose(b[column], a[column], rtol=1e-4, atol=1e-6)
