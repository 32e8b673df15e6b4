"""The job queue under races: every queued run starts once, never more than DLCORE_MAX_JOBS at a
time, whoever pumps at the same moment; a run that cannot start says why."""
import json
import os
import pathlib
import subprocess
import sys
import threading
import time

import pytest

from dlcore.engine import jobs, runs
from runfolders import spec_dict

ROOT = pathlib.Path(__file__).resolve().parents[1]


def queue(n: int) -> list[pathlib.Path]:
    spec = dict(spec_dict(preset="smoke", epochs=2), dataset="synthetic_cifar10", subset=None, test_subset=None)
    return [jobs.create(dict(spec, name=f"run{i}")) for i in range(n)]


def fake_spawn(started: list, lock=threading.Lock()):
    """A worker stand-in: records which run it was started for; its 'pid' is this (living) process."""
    def spawn(run_dir):
        with lock:
            started.append(pathlib.Path(run_dir).name)
        time.sleep(0.01)  # widen the window between start and claim, as a real spawn does
        return os.getpid()
    return spawn


def race_threads(n: int):
    barrier = threading.Barrier(n)
    errors = []

    def pump():
        try:
            barrier.wait()
            jobs.pump()
        except Exception as err:  # noqa: BLE001
            errors.append(err)

    threads = [threading.Thread(target=pump) for _ in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []


@pytest.mark.parametrize("trial", range(5))
def test_two_pumps_at_the_same_instant_start_a_queued_run_once(runs_dir, monkeypatch, trial):
    monkeypatch.setenv("DLCORE_MAX_JOBS", "1")
    started = []
    monkeypatch.setattr(jobs, "_spawn", fake_spawn(started))
    (run_dir,) = queue(1)
    race_threads(2)
    assert started == [run_dir.name]
    assert runs.read_status(run_dir)["state"] == "running"


def test_eight_racing_pumps_respect_max_jobs_and_start_each_run_once(runs_dir, monkeypatch):
    monkeypatch.setenv("DLCORE_MAX_JOBS", "2")
    started = []
    monkeypatch.setattr(jobs, "_spawn", fake_spawn(started))
    folders = queue(5)
    race_threads(8)
    assert len(started) == 2 and len(set(started)) == 2
    # The two oldest runs (creation order) started; the rest still wait.
    assert sorted(started) == sorted(p.name for p in folders[:2])
    assert [runs.read_status(p)["state"] for p in folders] == ["running"] * 2 + ["queued"] * 3
    # With every slot free, the rest start, each once.
    monkeypatch.setenv("DLCORE_MAX_JOBS", "10")
    race_threads(8)
    assert sorted(started) == sorted(p.name for p in folders)


PUMP_SCRIPT = """
import os, sys, time, pathlib
sys.path.insert(0, {root!r})
from dlcore.engine import jobs
log = pathlib.Path(sys.argv[1])

def spawn(run_dir):
    with open(log, "a") as f:
        f.write(pathlib.Path(run_dir).name + "\\n")
    time.sleep(0.01)
    return os.getppid()  # the test process: alive for the whole test

jobs._spawn = spawn
go = pathlib.Path(sys.argv[2])
(go.parent / f"ready-{{os.getpid()}}").touch()
while not go.exists():
    time.sleep(0.001)
jobs.pump()
"""


def test_four_processes_pumping_at_once_start_each_run_once(runs_dir, monkeypatch, tmp_path):
    monkeypatch.setenv("DLCORE_MAX_JOBS", "3")
    folders = queue(4)
    script, log, go = tmp_path / "pump.py", tmp_path / "started.txt", tmp_path / "go"
    script.write_text(PUMP_SCRIPT.format(root=str(ROOT)))
    procs = [subprocess.Popen([sys.executable, str(script), str(log), str(go)], env=dict(os.environ))
             for _ in range(4)]
    deadline = time.time() + 60
    while len(list(tmp_path.glob("ready-*"))) < 4 and time.time() < deadline:
        time.sleep(0.01)  # all four imported and waiting at the start line
    go.touch()
    assert all(p.wait(timeout=60) == 0 for p in procs)
    started = log.read_text().split()
    assert len(started) == 3 and len(set(started)) == 3
    assert [runs.read_status(p)["state"] for p in folders] == ["running"] * 3 + ["queued"]


def test_a_claimed_run_is_not_started_again_by_a_later_pump(runs_dir, monkeypatch):
    started = []
    monkeypatch.setattr(jobs, "_spawn", fake_spawn(started))
    (run_dir,) = queue(1)
    jobs.pump()
    # Even if its status still said queued (a pump that saw it before the claim), the claim holds.
    runs.update_status(run_dir, state="queued")
    jobs.pump()
    assert started == [run_dir.name]
    claim = json.loads((run_dir / jobs.CLAIM).read_text())
    assert claim["pid"] == os.getpid()


def test_a_resumed_run_is_claimed_again(runs_dir, monkeypatch):
    started = []
    monkeypatch.setattr(jobs, "_spawn", fake_spawn(started))
    (run_dir,) = queue(1)
    jobs.pump()
    runs.update_status(run_dir, state="cancelled")
    jobs.resume(run_dir.name)
    assert started == [run_dir.name, run_dir.name]


def test_a_worker_that_died_is_marked_failed_and_its_slot_freed(runs_dir, monkeypatch):
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    started = []
    monkeypatch.setattr(jobs, "_spawn", lambda run_dir: (started.append(run_dir), dead.pid)[1])
    first, second = queue(2)
    jobs.pump()
    jobs.pump()
    assert runs.read_status(first)["state"] == "failed"
    assert "died" in runs.read_status(first)["error"]
    assert len(started) == 2


def test_a_queued_run_with_an_invalid_spec_fails_with_the_spec_error(runs_dir):
    """Not "the worker process died": the worker says what is wrong with the spec."""
    (run_dir,) = queue(1)
    spec = json.loads((run_dir / "spec.json").read_text())
    spec["optimizer"]["learning_rate"] = 0  # e.g. edited by hand after it was queued
    runs.write_json(run_dir / "spec.json", spec)
    jobs.pump()
    deadline = time.time() + 60
    while runs.read_status(run_dir).get("state") in ("queued", "running") and time.time() < deadline:
        time.sleep(0.05)
        jobs.pump()
    status = runs.read_status(run_dir)
    assert status["state"] == "failed"
    assert status["error"].startswith("SpecError: the learning rate must be a positive number")
    assert "died" not in status["error"]


def test_new_run_folders_appear_with_their_spec_and_status(runs_dir):
    (run_dir,) = queue(1)
    assert sorted(p.name for p in run_dir.iterdir()) == ["spec.json", "status.json"]
    assert [p.name for p in runs_dir.iterdir()] == [run_dir.name]  # no hidden folder left behind


@pytest.mark.slow
def test_racing_pumps_train_a_real_two_epoch_run_once(runs_dir, monkeypatch):
    """End to end, with the real worker: two pumps at once, one worker, epoch records [1, 2]
    (the issue saw [1, 1, 2, 2] from two workers appending to one run)."""
    monkeypatch.setenv("DLCORE_MAX_JOBS", "1")
    spec = dict(spec_dict(preset="smoke", epochs=2), dataset="synthetic_cifar10", subset=None, test_subset=None,
                model={"name": "mlp", "regularizer": "l2", "l2": 5e-4, "hidden": 16}, batch_size=64, log_every=4)
    run_dir = jobs.create(spec)
    race_threads(2)
    deadline = time.time() + 300
    while runs.read_status(run_dir).get("state") in ("queued", "running") and time.time() < deadline:
        time.sleep(0.2)
    run = runs.read_run(run_dir, "live")
    assert run.state == "finished", run.status
    assert list(run.epochs()["epoch"]) == [1, 2]
    assert run.provenance["attempts"] == 1
