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
"""
from __future__ import annotations

import os
import pathlib
import shutil
import subprocess
import sys

from dlcore.engine import runs
from dlcore.engine.experiments import Spec, SpecError


def max_running() -> int:
    return max(1, int(os.environ.get("DLCORE_MAX_JOBS", "1")))


def create(spec: Spec | dict, root: pathlib.Path | None = None) -> pathlib.Path:
    """Validate `spec` and create its run folder as ``queued``; nothing starts yet.

    Raises SpecError (with every problem in words) before anything is written.
    """
    spec = spec if isinstance(spec, Spec) else Spec.from_dict(spec)
    problems = spec.problems()
    if problems:
        raise SpecError(problems)
    run_dir = runs.new_run_dir(root or runs.live_root(), spec.experiment, spec.name)
    runs.write_json(run_dir / "spec.json", spec.to_dict())
    runs.write_json(run_dir / "status.json", {"state": "queued", "epoch": 0, "epochs": spec.epochs,
                                              "created": runs.now()})
    return run_dir


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


def _spawn(run_dir: pathlib.Path) -> int:
    log = open(run_dir / "worker.log", "ab")
    env = dict(os.environ, PYTHONUNBUFFERED="1", TF_CPP_MIN_LOG_LEVEL="2")
    proc = subprocess.Popen(
        [sys.executable, "-m", "dlcore.train", str(run_dir)], cwd=runs.REPO, env=env,
        stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
    )
    log.close()
    return proc.pid


def _process_start(pid: int) -> str | None:
    """The kernel's start time of `pid` (guards against a reused pid), or None."""
    try:
        return open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()[19]
    except (OSError, IndexError):
        return None


def is_alive(pid: int | None, started: str | None = None) -> bool:
    if not pid:
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
    return started is None or _process_start(pid) in (None, started)


def pump(root: pathlib.Path | None = None) -> None:
    """Mark dead workers failed and start queued runs while slots are free."""
    root = pathlib.Path(root or runs.live_root())
    if not root.is_dir():
        return
    running, queued = 0, []
    for run_dir in sorted(p for p in root.iterdir() if p.is_dir()):
        status = runs.read_json(run_dir / "status.json")
        state = status.get("state")
        if state == "running":
            if is_alive(status.get("pid"), status.get("pid_started")):
                running += 1
            else:
                runs.update_status(run_dir, state="failed", ended=runs.now(), pid=None,
                                   error="the worker process died without finishing (killed, or out of "
                                         "memory); resume continues from the last checkpoint")
        elif state == "queued":
            queued.append((status.get("created", ""), run_dir))
    for _, run_dir in sorted(queued)[: max(0, max_running() - running)]:
        pid = _spawn(run_dir)
        # Claim the run before the worker writes, so a second pump does not start it twice.
        runs.update_status(run_dir, state="running", pid=pid, pid_started=_process_start(pid),
                           started=runs.read_json(run_dir / "status.json").get("started") or runs.now())


def cancel(run_id: str) -> None:
    """Ask a run to stop: it finishes its current batch, keeps what it wrote, ends 'cancelled'."""
    run_dir = runs.resolve(runs.live_root(), run_id)
    status = runs.read_json(run_dir / "status.json")
    if status.get("state") == "queued":
        runs.update_status(run_dir, state="cancelled", ended=runs.now())
    elif status.get("state") == "running":
        (run_dir / "cancel").touch()


def resume(run_id: str) -> None:
    """Queue a cancelled or failed run again; it continues from its last checkpoint."""
    run_dir = runs.resolve(runs.live_root(), run_id)
    status = runs.read_json(run_dir / "status.json")
    if status.get("state") not in ("cancelled", "failed"):
        raise ValueError(f"only cancelled or failed runs can be resumed; this one is {status.get('state')}")
    (run_dir / "cancel").unlink(missing_ok=True)
    runs.update_status(run_dir, state="queued", created=runs.now(), error=None)
    pump()


def delete(run_id: str) -> None:
    """Delete a live run's folder (cached runs are shipped and cannot be deleted here)."""
    run_dir = runs.resolve(runs.live_root(), run_id)
    status = runs.read_json(run_dir / "status.json")
    if status.get("state") == "running" and is_alive(status.get("pid"), status.get("pid_started")):
        raise ValueError("cancel the run before deleting it")
    shutil.rmtree(run_dir)


def live_runs() -> list[runs.Run]:
    """Every live run, after bringing the queue up to date."""
    pump()
    return runs.list_runs(include_cached=False)
