"""Runs as Ray jobs: a real local Ray head (2 CPUs, 127.0.0.1 only), started and stopped here."""
import os
import pathlib
import shutil
import signal
import socket
import subprocess
import tempfile
import time

import pytest

from dlcore.engine import checkpoints, jobs, ray_jobs, runs
from smoke_runs import smoke_spec, wait_for  # tests/smoke_runs.py

HEAD_PORT, DASHBOARD_PORTS = 6390, (8265, 8275)


# --- without a cluster: how Ray's word and the folder's combine --------------------------------

@pytest.mark.parametrize("folder, ray, cancel, expected", [
    ("running", "PENDING", False, "queued"),        # submitted, waiting for a free CPU/GPU
    ("running", "RUNNING", False, "running"),
    ("finished", "SUCCEEDED", False, "finished"),  # the worker wrote its end: the folder says it
    ("cancelled", "SUCCEEDED", True, "cancelled"),
    ("running", "STOPPED", False, "cancelled"),    # stopped before the worker could say so
    ("running", "SUCCEEDED", True, "cancelled"),
    ("running", "FAILED", False, "failed"),         # a node lost, the process killed
    ("running", "SUCCEEDED", False, "failed"),      # ended without writing its end
    ("running", None, False, "running"),            # the cluster cannot be reached: nothing changes
    ("queued", "SUCCEEDED", False, "queued"),       # resumed: the job it names is the last attempt's
])
def test_status_combines_ray_and_the_run_folder(folder, ray, cancel, expected):
    assert ray_jobs.combined_state(folder, ray, cancel) == expected


def test_local_processes_stay_the_default(monkeypatch):
    monkeypatch.delenv("DLCORE_RAY_ADDRESS", raising=False)
    assert not ray_jobs.enabled()
    monkeypatch.setenv("DLCORE_RAY_ADDRESS", "http://127.0.0.1:8265")
    assert ray_jobs.enabled() and ray_jobs.address() == "http://127.0.0.1:8265"


def test_the_job_runs_the_worker_on_the_shared_run_folder(monkeypatch, tmp_path):
    monkeypatch.setenv("DLCORE_RUNS_DIR", str(tmp_path))
    monkeypatch.setenv("KERAS_BACKEND", "jax")
    monkeypatch.setenv("DLCORE_DEVICES", "2")
    command = ray_jobs.entrypoint(tmp_path / "a run")
    assert command.startswith(f"cd {runs.REPO} && ") and command.endswith(f"-m dlcore.train '{tmp_path / 'a run'}'")
    env = ray_jobs.job_env()
    assert env["DLCORE_RUNS_DIR"] == str(tmp_path) and env["KERAS_BACKEND"] == "jax" and env["DLCORE_DEVICES"] == "2"
    assert "PATH" not in env and "HOME" not in env  # the node's own, not the app's


# --- against a real local Ray head --------------------------------------------------------------

def port_free(port: int) -> bool:
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def group_members(pgid: int) -> list[int]:
    """Live (non-zombie) processes of a process group."""
    members = []
    for stat in pathlib.Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[2]) == pgid and fields[0] != "Z":
            members.append(int(stat.parent.name))
    return members


def stop_group(pgid: int) -> None:
    """Stop the Ray head we started: its process group only (never `ray stop`, which kills by name)."""
    for sig, grace in ((signal.SIGTERM, 10.0), (signal.SIGKILL, 10.0)):
        try:
            os.killpg(pgid, sig)
        except ProcessLookupError:
            return
        end = time.time() + grace
        while group_members(pgid) and time.time() < end:
            time.sleep(0.2)
        if not group_members(pgid):
            return


@pytest.fixture(scope="module")
def ray_address():
    """A one-node Ray cluster with 2 CPUs, bound to 127.0.0.1 only, stopped at the end (also on failure)."""
    ray = shutil.which("ray")
    if ray is None:
        pytest.skip("Ray is not installed (pip install -r requirements-dev.txt)")
    pytest.importorskip("ray.job_submission", reason="ray[default] (the job submission client) is not installed")
    if not port_free(HEAD_PORT):
        pytest.skip(f"port {HEAD_PORT} on 127.0.0.1 is taken: another Ray head may be running")
    dashboard = next((p for p in DASHBOARD_PORTS if port_free(p)), None)
    if dashboard is None:
        pytest.skip(f"ports {DASHBOARD_PORTS} on 127.0.0.1 are taken")
    temp = tempfile.mkdtemp(prefix="ray-", dir="/tmp")  # short: Ray's socket paths must fit 107 bytes
    # A loopback node IP makes every Ray server bind 127.0.0.1 (Ray takes loopback for local-only
    # mode when multi-node clusters are switched off); no usage statistics are sent anywhere.
    env = dict(os.environ, RAY_USAGE_STATS_ENABLED="0", RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER="0")
    log = open(pathlib.Path(temp) / "ray-start.log", "w+")
    proc = subprocess.Popen(
        [ray, "start", "--head", "--node-ip-address", "127.0.0.1", "--port", str(HEAD_PORT),
         "--num-cpus", "2", "--num-gpus", "0", "--include-dashboard", "true",
         "--dashboard-host", "127.0.0.1", "--dashboard-port", str(dashboard),
         "--object-store-memory", str(100 * 2**20), "--temp-dir", temp, "--disable-usage-stats"],
        env=env, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True)
    address = f"http://127.0.0.1:{dashboard}"
    try:
        try:
            rc = proc.wait(timeout=240)
        except subprocess.TimeoutExpired:
            rc = None
        if rc != 0:
            log.seek(0)
            pytest.skip(f"Ray could not start here (ray start: {rc}): {log.read()[-600:]}")
        from ray.job_submission import JobSubmissionClient

        def reachable():
            try:
                return JobSubmissionClient(address)
            except Exception:  # noqa: BLE001  the dashboard's job API is still coming up
                return None

        client = wait_for(reachable, 120, 1.0, "Ray's job API")
        yield address
        for job in client.list_jobs():  # nothing of ours outlives the cluster
            if not job.status.is_terminal():
                client.stop_job(job.submission_id)
    finally:
        stop_group(proc.pid)
        log.close()
        shutil.rmtree(temp, ignore_errors=True)


def epoch_lines(run_dir) -> int:
    return sum(r["event"] == "epoch" for r in runs.read_records(run_dir))


@pytest.mark.slow
def test_ray_runs_stream_cancel_and_leave_correct_folders(ray_address, runs_dir, monkeypatch):
    monkeypatch.setenv("DLCORE_RAY_ADDRESS", ray_address)
    folders, error = jobs.start_many([smoke_spec(name="finishes", epochs=3),
                                      smoke_spec(name="cancelled", epochs=300)])
    assert error is None
    done, cancelled = folders
    for run_dir in folders:
        assert runs.read_status(run_dir).get("ray_job"), "start submits a Ray job for each run"

    # Metrics stream back while the job runs: the app's own reader sees epochs before the end.
    def streaming():
        jobs.pump()
        seen = epoch_lines(cancelled)
        return seen if seen and ray_jobs.status(cancelled)["ray_status"] == "RUNNING" else 0
    wait_for(streaming, 180, 0.25, what="the second run's first epochs, while its Ray job runs")
    jobs.cancel(cancelled.name)

    def ended():
        states = {r.path: r.state for r in jobs.live_runs()}
        return all(states[d] in ("finished", "cancelled", "failed") for d in folders) and states
    states = wait_for(ended, 240, 0.5, "both runs to end")
    assert states[done] == "finished", runs.read_status(done).get("error")
    assert states[cancelled] == "cancelled", runs.read_status(cancelled).get("error")

    # The finished run: every epoch, its provenance, Ray's word agrees, events beside the JSON.
    run = runs.read_run(done, "live")
    assert list(run.epochs()["epoch"]) == [1, 2, 3] and run.status["epoch"] == 3
    assert run.provenance["ended"] and run.provenance["backend"]
    assert wait_for(lambda: ray_jobs.status(done)["ray_status"] == "SUCCEEDED", 30, 0.25, what="Ray's SUCCEEDED")
    assert ray_jobs.status(done)["state"] == "finished"
    assert "dlcore.train" in ray_jobs.logs(done)
    assert list((done / "tensorboard").glob("events.out.tfevents.*"))

    # The cancelled run: stopped early, its finished epochs kept, a checkpoint to resume from.
    run = runs.read_run(cancelled, "live")
    epochs = run.epochs()
    assert 1 <= len(epochs) < 300 and list(epochs["epoch"]) == list(range(1, len(epochs) + 1))
    assert run.status["epoch"] == len(epochs) and run.cut_short
    assert checkpoints.latest_checkpoint(cancelled)[0] == len(epochs)  # resume continues from there
    assert wait_for(lambda: ray_jobs.status(cancelled)["ray_status"] in ray_jobs.TERMINAL, 30, 0.25,
                    what="the cancelled job to end on Ray")
    assert ray_jobs.status(cancelled)["state"] == "cancelled"


def test_a_cluster_that_cannot_be_reached_fails_the_run_with_the_reason(runs_dir, monkeypatch):
    pytest.importorskip("ray.job_submission", reason="ray[default] is not installed")
    with socket.socket() as s:  # a port on 127.0.0.1 that nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    monkeypatch.setenv("DLCORE_RAY_ADDRESS", f"http://127.0.0.1:{port}")
    run_dir = jobs.start(smoke_spec())
    status = runs.read_status(run_dir)
    assert status["state"] == "failed" and "did not take the job" in status["error"]
