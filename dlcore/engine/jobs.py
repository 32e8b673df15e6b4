"""Background jobs: start, list, cancel, resume and delete live runs.

A job is a run folder plus a worker process (``python -m dlcore.train RUN_DIR``)
started in its own session, so Streamlit reruns, page switches and closed tabs
do not stop it. All state lives on disk (the run folder), never only in a
browser session, so any tab, or a restarted app, sees the same jobs.

At most :func:`max_running` workers train at once (default 1: two cores do not
train two models faster than one); further runs wait as ``queued`` and are
started by :func:`pump`, which every listing and every finishing worker calls.
A worker that died without saying so (``kill -9``, out of memory) is found by
:func:`pump` and marked failed.

Several pumps run at once (two tabs refreshing, a finishing worker and a page),
so each run must start exactly once and at most :func:`max_running` at a time:

- a run is *claimed* by creating its ``claim`` file exclusively (``O_CREAT|O_EXCL``):
  of two pumps that both saw it queued, one creates the file and starts the
  worker, the other gets ``FileExistsError`` and leaves it alone;
- the count of free slots is decided under an exclusive ``flock`` on
  the live-runs folder (cancel, resume and delete take it too). A count cannot
  be claimed by one exclusive create, and the kernel drops the lock of a
  process that dies, so a killed pump never blocks the queue;
- the run is marked running *before* its worker starts, and the worker's pid goes
  into the claim, never into status.json, so the worker's own status writes (say,
  "failed: the spec is invalid" a moment later) are never overwritten.
"""
from __future__ import annotations

import contextlib
import fcntl
import os
import pathlib
import shutil
import subprocess
import sys
import time

from dlcore.engine import ray_jobs, runs
from dlcore.engine.experiments import Spec, SpecError


def max_running() -> int:
    if ray_jobs.enabled():
        return sys.maxsize  # Ray queues its jobs by the CPUs/GPUs they ask for
    return max(1, int(os.environ.get("DLCORE_MAX_JOBS", "1")))


def create(spec: Spec | dict, root: pathlib.Path | None = None) -> pathlib.Path:
    """Validate `spec` and create its run folder as ``queued``; nothing starts yet.

    Raises SpecError (with every problem in words) before anything is written.
    """
    spec = spec if isinstance(spec, Spec) else Spec.from_dict(spec)
    problems = spec.problems()
    if problems:
        raise SpecError(problems)
    status = {"state": "queued", "epoch": 0, "epochs": spec.epochs, "created": runs.now()}
    return runs.new_run_dir(root or runs.live_root(), spec.experiment, spec.name,
                            files={"spec.json": spec.to_dict(), "status.json": status})


def start(spec: Spec | dict) -> pathlib.Path:
    """Queue a run and start it if a worker slot is free. Returns its folder."""
    run_dir = create(spec)
    pump()
    return run_dir


def start_many(specs) -> tuple[list[pathlib.Path], str | None]:
    """Start several runs, all or none: every spec is checked before the first one starts.

    Returns (run folders, None), or ([], the reason in words) — what a page shows.
    """
    checked, problems = [], []
    for spec in specs:
        try:
            checked.append(spec if isinstance(spec, Spec) else Spec.from_dict(spec))
            problems += [f"{checked[-1].label}: {p}" for p in checked[-1].problems()]
        except SpecError as err:
            problems += err.problems
    specs = checked
    if problems:
        return [], "These runs cannot start: " + "; ".join(problems)
    try:
        folders = [create(spec) for spec in specs]
        pump()
    except OSError as err:
        return [], f"These runs cannot start: {err}"
    return folders, None


CLAIM = "claim"
# A claim whose pump died before it recorded the worker's pid is taken over after this long
# (by then a worker it did start has written its own pid into status.json).
CLAIM_GRACE_S = 30.0


@contextlib.contextmanager
def queue_lock(root: pathlib.Path):
    """Hold the queue of `root` exclusively (blocking): counting free slots and changing a
    run's state between queued/running/cancelled happen under it. The lock is on the
    folder itself, so no lock file sits among the runs."""
    root = pathlib.Path(root)
    root.mkdir(parents=True, exist_ok=True)
    fd = os.open(root, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # closing drops the lock


def _spawn(run_dir: pathlib.Path) -> int | str:
    if ray_jobs.enabled():
        return ray_jobs.submit(run_dir)  # the Ray job's id (dlcore.engine.ray_jobs)
    log = open(run_dir / "worker.log", "ab")
    env = dict(os.environ, PYTHONUNBUFFERED="1", TF_CPP_MIN_LOG_LEVEL="2")
    proc = subprocess.Popen(
        [sys.executable, "-m", "dlcore.train", str(run_dir)], cwd=runs.REPO, env=env,
        stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
    )
    log.close()
    return proc.pid


def process_start(pid: int) -> str | None:
    """The kernel's start time of `pid` (guards against a reused pid), or None."""
    try:
        return open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()[19]
    except (OSError, IndexError):
        return None


_process_start = process_start


def is_alive(pid: int | None, started: str | None = None) -> bool:
    if not isinstance(pid, int) or isinstance(pid, bool) or pid <= 0:
        return False
    try:
        # Reap our own finished children so they do not linger as zombies.
        if os.waitpid(pid, os.WNOHANG)[0] == pid:
            return False
    except ChildProcessError:
        pass
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        if open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()[0] == "Z":
            return False
    except OSError:
        pass
    return started is None or process_start(pid) in (None, started)


def read_claim(run_dir: pathlib.Path) -> dict | None:
    """The claim of a run's current attempt ({"pid", "pid_started", "claimed"}), {} while it is
    being written, None when the run is not claimed."""
    value, _ = runs.read_file(pathlib.Path(run_dir) / CLAIM)
    if value is None:
        return {} if (pathlib.Path(run_dir) / CLAIM).exists() else None
    return value if isinstance(value, dict) else {}


def _claim(run_dir: pathlib.Path) -> bool:
    """Claim a queued run for this pump: True for exactly one caller (an exclusive create)."""
    try:
        fd = os.open(run_dir / CLAIM, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
    except FileExistsError:
        return False
    os.close(fd)
    return True


def _worker_alive(run_dir: pathlib.Path, status: dict) -> bool:
    """Whether the worker of a running run lives: its own pid (status.json), else the one
    its pump recorded in the claim (a worker that has not written its status yet)."""
    if status.get("ray_job"):
        return ray_jobs.status(run_dir)["ray_status"] in ("PENDING", "RUNNING")
    if status.get("pid"):
        return is_alive(status.get("pid"), status.get("pid_started"))
    claim = read_claim(run_dir) or {}
    return is_alive(claim.get("pid"), claim.get("pid_started"))


def _stale_claim(run_dir: pathlib.Path) -> bool:
    """A queued run's claim left by a pump that died before starting (or recording) its worker."""
    claim = read_claim(run_dir)
    if claim is None:
        return False
    if claim.get("pid"):
        return not is_alive(claim.get("pid"), claim.get("pid_started"))
    try:
        age = time.time() - (pathlib.Path(run_dir) / CLAIM).stat().st_mtime
    except OSError:
        return False
    return age > CLAIM_GRACE_S


def pump(root: pathlib.Path | None = None) -> None:
    """Mark dead workers failed and start queued runs while slots are free (see the module's
    notes: every run starts once, at most max_running() at a time, whoever pumps at once)."""
    root = pathlib.Path(root or runs.live_root())
    if not root.is_dir():
        return
    with queue_lock(root):
        running, queued = 0, []
        for run_dir in sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")):
            status = runs.read_status(run_dir)
            state = status.get("state")
            if state == "running" and status.get("ray_job"):
                ray_jobs.settle(run_dir, status)  # Ray says whether it waits, runs or ended
            elif state == "running":
                if _worker_alive(run_dir, status):
                    running += 1
                else:
                    runs.update_status(run_dir, state="failed", ended=runs.now(), pid=None,
                                       error="the worker process died without finishing (killed, or out of "
                                             "memory); resume continues from the last checkpoint")
            elif state == "queued":
                queued.append((str(status.get("created") or ""), run_dir))
        for _, run_dir in sorted(queued)[: max(0, max_running() - running)]:
            if _stale_claim(run_dir):
                (run_dir / CLAIM).unlink(missing_ok=True)
            if not _claim(run_dir):
                continue
            # Running before the worker exists: whatever the worker then writes is the truth.
            runs.update_status(run_dir, state="running", pid=None, pid_started=None,
                               started=runs.read_status(run_dir).get("started") or runs.now())
            try:
                pid = _spawn(run_dir)
            except OSError as err:
                runs.update_status(run_dir, state="failed", ended=runs.now(),
                                   error=f"the worker could not be started: {err}")
                continue
            runs.write_json(run_dir / CLAIM, {"pid": pid, "pid_started": process_start(pid),
                                              "claimed": runs.now()})


def cancel(run_id: str) -> None:
    """Ask a run to stop: it finishes its current batch, keeps what it wrote, ends 'cancelled'."""
    run_dir = runs.resolve(runs.live_root(), run_id)
    with queue_lock(runs.live_root()):
        status = runs.read_status(run_dir)
        if status.get("state") == "queued":
            runs.update_status(run_dir, state="cancelled", ended=runs.now())
        elif status.get("state") == "running":
            (run_dir / "cancel").touch()
            ray_jobs.cancel(run_dir, status)  # a Ray job not started yet is stopped


def resume(run_id: str) -> None:
    """Queue a cancelled or failed run again; it continues from its last checkpoint."""
    run_dir = runs.resolve(runs.live_root(), run_id)
    with queue_lock(runs.live_root()):
        status = runs.read_status(run_dir)
        if status.get("state") not in ("cancelled", "failed"):
            raise ValueError(f"only cancelled or failed runs can be resumed; this one is {status.get('state')}")
        (run_dir / "cancel").unlink(missing_ok=True)
        (run_dir / CLAIM).unlink(missing_ok=True)  # a new attempt, to be claimed anew
        runs.update_status(run_dir, state="queued", created=runs.now(), error=None)
    pump()


def delete(run_id: str) -> None:
    """Delete a live run's folder (cached runs are shipped and cannot be deleted here)."""
    run_dir = runs.resolve(runs.live_root(), run_id)
    with queue_lock(runs.live_root()):
        status = runs.read_status(run_dir)
        if status.get("state") == "running" and _worker_alive(run_dir, status):
            raise ValueError("cancel the run before deleting it")
        shutil.rmtree(run_dir)


def live_runs(include_damaged: bool = False) -> list[runs.Run]:
    """Every live run, after bringing the queue up to date (damaged ones only if asked)."""
    pump()
    return runs.list_runs(include_cached=False, include_damaged=include_damaged)
