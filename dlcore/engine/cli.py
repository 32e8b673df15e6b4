"""The lecturer's command: run experiments and write their results as run folders.

    python -m dlcore.run mlp_l2 mlp_dropout --preset full          # into cached_runs/
    python -m dlcore.run all --preset class --parallel 2
    python -m dlcore.run resnet --preset full --out /tmp/out --only M1

Each run goes to ``OUT/<experiment>/<name>__<preset>/`` in the run-folder
format (dlcore.engine.runs), with provenance. A finished run is skipped (``--force``
starts it again); an unfinished one continues from its checkpoint, so a long
``full`` run can be carried over several sittings. This is the only way
results get into ``cached_runs/``.
"""
from __future__ import annotations

import argparse
import os
import pathlib
import shutil
import subprocess
import sys
import threading
import time

from dlcore.engine import experiments, runs


def plan(names: list[str], preset: str, only: list[str] | None = None,
         steps_per_execution: int | None = None) -> list[experiments.Spec]:
    names = list(experiments.CATALOGUE) if names == ["all"] else names
    specs = [s for n in names for s in experiments.catalogue(n, preset)]
    if only:
        specs = [s for s in specs if s.name in only]
    if steps_per_execution:
        specs = [s.replace(steps_per_execution=steps_per_execution) for s in specs]
    return specs


def run_dir_for(out: pathlib.Path, spec: experiments.Spec) -> pathlib.Path:
    return out / runs.safe_name(spec.experiment) / f"{runs.safe_name(spec.name)}__{spec.preset}"


def prepare_dir(out: pathlib.Path, spec: experiments.Spec, force: bool) -> pathlib.Path | None:
    """The run's folder, ready to (re)start, or None when it already finished."""
    run_dir = run_dir_for(out, spec)
    status = runs.read_json(run_dir / "status.json")
    if force and run_dir.exists():
        shutil.rmtree(run_dir)
        status = {}
    if status.get("state") == "finished":
        return None
    old = runs.read_json(run_dir / "spec.json")
    if old and old != spec.to_dict():
        raise SystemExit(f"{run_dir} holds a different spec; use --force to start it again")
    run_dir.mkdir(parents=True, exist_ok=True)
    (run_dir / "cancel").unlink(missing_ok=True)  # a run cut short earlier continues from its checkpoint
    runs.write_json(run_dir / "spec.json", spec.to_dict())
    if not status:
        runs.write_json(run_dir / "status.json", {"state": "queued", "epoch": 0, "epochs": spec.epochs,
                                                  "created": runs.now()})
    else:
        runs.update_status(run_dir, state="queued")
    return run_dir


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m dlcore.run", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("experiments", nargs="+", help=f"'all' or some of: {', '.join(experiments.CATALOGUE)}")
    ap.add_argument("--preset", default="class", choices=experiments.PRESETS)
    ap.add_argument("--out", type=pathlib.Path, default=runs.cached_root())
    ap.add_argument("--only", help="comma-separated run names (e.g. adam,rmsprop or M1,M4)")
    ap.add_argument("--parallel", type=int, default=1, help="worker processes at once (a GPU takes several)")
    ap.add_argument("--steps-per-execution", type=int, default=None,
                    help="batches per compiled call (fewer host round trips on a GPU)")
    ap.add_argument("--force", action="store_true", help="start finished runs again from scratch")
    ap.add_argument("--deadline", type=float, default=None,
                    help="seconds after which running runs are cancelled (they keep their finished "
                         "epochs and say they were cut short) and pending ones are not started")
    ap.add_argument("--dry-run", action="store_true", help="list the runs and stop")
    args = ap.parse_args(argv)
    try:
        specs = plan(args.experiments, args.preset, args.only.split(",") if args.only else None,
                     args.steps_per_execution)
    except experiments.SpecError as err:
        ap.error(str(err))
    for spec in specs:
        print(f"{spec.label:45s} {spec.epochs:4d} epochs  batch {spec.batch_size}  {spec.notes}")
    if args.dry_run:
        return 0
    todo = [d for d in (prepare_dir(args.out, s, args.force) for s in specs) if d is not None]
    print(f"{len(todo)} run(s) to do, {len(specs) - len(todo)} already finished", flush=True)
    failed = 0
    from dlcore.engine import checkpoints, worker

    start = time.time()
    past_deadline = lambda: args.deadline is not None and time.time() - start > args.deadline  # noqa: E731
    if args.parallel <= 1:
        for run_dir in todo:
            if past_deadline():
                print(f"not started (deadline) {run_dir}", flush=True)
                continue
            t0 = time.time()
            timer = None
            if args.deadline is not None:
                timer = threading.Timer(max(0.0, args.deadline - (time.time() - start)), (run_dir / "cancel").touch)
                timer.daemon = True
                timer.start()
            state = worker.run(run_dir, keep_checkpoint=False)
            if timer:
                timer.cancel()
            failed += state != "finished"
            print(f"{state:9s} {run_dir}  ({time.time() - t0:.0f} s)", flush=True)
    else:
        pending, active = list(todo), {}
        while pending or active:
            if past_deadline():
                for run_dir in active:
                    (run_dir / "cancel").touch()
                for run_dir in pending:
                    print(f"not started (deadline) {run_dir}", flush=True)
                pending = []
            while pending and len(active) < args.parallel:
                run_dir = pending.pop(0)
                log = open(run_dir / "worker.log", "ab")
                active[run_dir] = (subprocess.Popen([sys.executable, "-m", "dlcore.train", str(run_dir)],
                                                    stdout=log, stderr=subprocess.STDOUT, cwd=runs.REPO,
                                                    env=dict(os.environ, PYTHONUNBUFFERED="1")), time.time())
            time.sleep(1)
            for run_dir, (proc, t0) in list(active.items()):
                if proc.poll() is not None:
                    del active[run_dir]
                    state = runs.read_json(run_dir / "status.json").get("state")
                    failed += state != "finished"
                    if state == "finished":
                        checkpoints.remove_checkpoints(run_dir)
                    print(f"{state:9s} {run_dir}  ({time.time() - t0:.0f} s)", flush=True)
    for run_dir in todo:  # the worker's log is for debugging, not for shipping
        if runs.read_json(run_dir / "status.json").get("state") == "finished":
            (run_dir / "worker.log").unlink(missing_ok=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
