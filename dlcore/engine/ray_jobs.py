"""Ray Jobs: the executor :mod:`dlcore.engine.jobs` uses when ``DLCORE_RAY_ADDRESS`` is set.

Local worker processes stay the default. With ``DLCORE_RAY_ADDRESS=http://HEAD:8265``
(a Ray cluster's dashboard, PyPI ``ray[default]``) a run is a Ray job instead:

- **start** submits ``cd REPO && python -m dlcore.train RUN_DIR`` with
  ``JobSubmissionClient.submit_job``, asking for ``DLCORE_RAY_CPUS`` CPUs
  (default 1) and ``DLCORE_RAY_GPUS`` GPUs (default 0), so Ray, not our queue,
  decides when and where it runs (``DLCORE_MAX_JOBS`` does not apply);
- **cancel** is the same ``cancel`` file as for a local worker: the worker stops
  within one batch, keeps its finished epochs and ends ``cancelled``, and the
  job ends by itself. A job that Ray has not started yet (``PENDING``) is
  stopped with ``stop_job``, so it never takes a node;
- **status** combines the two: the run folder's state when the worker has written
  its end, else Ray's (``PENDING`` → waiting for the cluster, ``RUNNING``,
  ``STOPPED`` → cancelled, ``FAILED`` or an end the worker never wrote → failed,
  with Ray's message). A cluster that cannot be reached changes nothing: it
  may be back at the next look;
- **metrics** stream into the app's charts exactly as for a local run, because
  the worker appends to the run folder itself (next point).

How the run folder reaches the app: **shared storage**. The job's worker writes
``RUN_DIR`` in place, so the checkout and the live-runs folder
(``DLCORE_RUNS_DIR``) must be at the same path on every Ray node: one machine
(a GPU box running a one-node Ray), or an NFS/home share across the
department's nodes, which is how such clusters are usually set up. We chose it
over relaying metrics through the job's logs because the run folder is the
whole truth about a run, and relaying only its metrics would lose the rest:
status and errors, provenance, the checkpoint a cancelled or failed run resumes
from, and the cancel file; Ray's logs also vanish with the cluster, and a log
parser would be a second format to keep in step with ``metrics.jsonl``. The
job's logs (the worker's output) stay available through :func:`logs`.

The job runs with the app's ``KERAS_*``, ``DLCORE_*``, ``XLA_FLAGS`` and
``JAX_PLATFORMS`` settings, and with ``DLCORE_RAY_PYTHON`` (default: this
interpreter) as its Python.
"""
from __future__ import annotations

import functools
import os
import pathlib
import secrets
import shlex
import sys

from dlcore.engine import runs

FORWARDED = ("KERAS_BACKEND", "KERAS_HOME", "XLA_FLAGS", "JAX_PLATFORMS", "TF_CPP_MIN_LOG_LEVEL",
             "XLA_PYTHON_CLIENT_PREALLOCATE", "XLA_PYTHON_CLIENT_MEM_FRACTION")
TERMINAL = ("SUCCEEDED", "FAILED", "STOPPED")
FOLDER_ENDS = ("finished", "failed", "cancelled")


def address() -> str | None:
    """The Ray cluster's dashboard address, or None for local worker processes."""
    return os.environ.get("DLCORE_RAY_ADDRESS", "").strip() or None


def enabled() -> bool:
    return address() is not None


@functools.lru_cache(maxsize=4)
def _client(addr: str):
    from ray.job_submission import JobSubmissionClient

    return JobSubmissionClient(addr)


def client():
    addr = address()
    if addr is None:
        raise RuntimeError("DLCORE_RAY_ADDRESS is not set: runs are local processes")
    return _client(addr)


def entrypoint(run_dir: pathlib.Path) -> str:
    python = os.environ.get("DLCORE_RAY_PYTHON") or sys.executable
    return (f"cd {shlex.quote(str(runs.REPO))} && "
            f"{shlex.quote(python)} -m dlcore.train {shlex.quote(str(pathlib.Path(run_dir).resolve()))}")


def job_env() -> dict:
    """What the job sees of the app's environment (the rest is the Ray node's)."""
    env = {k: v for k, v in os.environ.items() if k in FORWARDED or k.startswith("DLCORE_")}
    env.setdefault("DLCORE_RUNS_DIR", str(runs.live_root().resolve()))
    return {**env, "PYTHONUNBUFFERED": "1"}


def submit(run_dir: pathlib.Path) -> str:
    """Submit the run's worker as a Ray job; records and returns the job's submission id."""
    run_dir = pathlib.Path(run_dir)
    job_id = f"dlcore-{runs.safe_name(run_dir.name)[:60]}-{secrets.token_hex(3)}"
    try:
        client().submit_job(
            entrypoint=entrypoint(run_dir), submission_id=job_id,
            runtime_env={"env_vars": job_env()},
            entrypoint_num_cpus=float(os.environ.get("DLCORE_RAY_CPUS", "1")),
            entrypoint_num_gpus=float(os.environ.get("DLCORE_RAY_GPUS", "0")),
            metadata={"run_dir": str(run_dir.resolve()), "app": "dlcore"},
        )
    except Exception as err:  # noqa: BLE001  jobs.pump reports an OSError as "could not be started"
        raise OSError(f"the Ray cluster at {address()} did not take the job: {err}") from err
    runs.update_status(run_dir, ray_job=job_id, ray_address=address())
    return job_id


def job_status(job_id: str) -> str | None:
    """Ray's status of a job ("PENDING", "RUNNING", "SUCCEEDED", "FAILED", "STOPPED"), None if unknown."""
    try:
        return str(client().get_job_status(job_id).value)
    except Exception:  # noqa: BLE001  unreachable cluster, or a job it no longer knows
        return None


def job_message(job_id: str) -> str:
    try:
        return client().get_job_info(job_id).message or ""
    except Exception:  # noqa: BLE001
        return ""


def combined_state(folder_state: str | None, ray_status: str | None, cancel_asked: bool) -> str:
    """A Ray run's state: the folder's once the worker wrote its end, else what Ray says."""
    if folder_state in (*FOLDER_ENDS, "queued") or ray_status is None:
        return folder_state or "queued"  # queued: not submitted yet (a job it names is an old attempt's)
    if ray_status == "PENDING":
        return "queued"
    if ray_status == "RUNNING":
        return "running"
    if ray_status == "STOPPED" or cancel_asked:
        return "cancelled"
    return "failed"  # FAILED, or SUCCEEDED without the worker writing its end


def settle(run_dir: pathlib.Path, status: dict) -> bool:
    """Bring a Ray run's status.json in line with Ray; True while its job is waiting or running.

    When the job ended and the worker did not say so (stopped before it started, killed,
    a node lost), the folder gets the end: cancelled if a cancel was asked for, else failed.
    """
    run_dir = pathlib.Path(run_dir)
    job_id = status.get("ray_job")
    ray_status = job_status(job_id)
    if ray_status is None:
        return True  # nothing known: the cluster may be back at the next look
    if ray_status not in TERMINAL:
        return True
    # Read again: the worker may have written its end since `status` was read.
    status = runs.read_status(run_dir)
    state = combined_state(status.get("state"), ray_status, (run_dir / "cancel").exists())
    if status.get("state") not in FOLDER_ENDS:
        error = None if state == "cancelled" else (
            f"the Ray job {job_id} ended ({ray_status}) before the worker wrote its end: "
            f"{job_message(job_id) or 'no message'}; resume continues from the last checkpoint")
        runs.update_status(run_dir, state=state, ended=runs.now(), pid=None, error=error)
    return False


def cancel(run_dir: pathlib.Path, status: dict) -> None:
    """Stop a Ray run's job that has not started yet (a started one reads the cancel file)."""
    job_id = status.get("ray_job")
    if job_id and job_status(job_id) == "PENDING":
        try:
            client().stop_job(job_id)
        except Exception:  # noqa: BLE001  it started meanwhile: the cancel file stops it
            pass


def status(run_dir: pathlib.Path) -> dict:
    """What a page shows of a run: {"state", "ray_status", "ray_job"} (the state combined as above)."""
    folder = runs.read_status(pathlib.Path(run_dir))
    job_id = folder.get("ray_job")
    ray_status = job_status(job_id) if job_id else None
    return {"state": combined_state(folder.get("state"), ray_status, (pathlib.Path(run_dir) / "cancel").exists())
            if job_id else folder.get("state"), "ray_status": ray_status, "ray_job": job_id}


def logs(run_dir: pathlib.Path) -> str:
    """The job's output (the worker's log on the Ray node), or '' when Ray no longer has it."""
    job_id = runs.read_json(pathlib.Path(run_dir) / "status.json").get("ray_job")
    if not job_id:
        return ""
    try:
        return client().get_job_logs(job_id)
    except Exception:  # noqa: BLE001
        return ""
