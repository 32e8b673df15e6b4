"""The lecturer's command: run experiments and write their results as run folders.

    python -m dlcore.run mlp_l2 mlp_dropout --preset full          # into cached_runs/
    python -m dlcore.run all --preset class --parallel 2
    python -m dlcore.run resnet --preset full --out /tmp/out --only M1

Each run goes to ``OUT/<experiment>/<name>__<preset>/`` in the run-folder
format (dlcore.engine.runs), with provenance. A finished run is skipped (``--force``
starts it again); an unfinished one continues from its checkpoint, so a long
``full`` run can be carried over several sittings, or machines: a full run cut
short keeps its last checkpoint in its folder (dlcore.engine.checkpoints), and
the same command continues it. This is the only way results get into
``cached_runs/``.

Exit status: 0 when every planned run finished; 1 when one failed; 2 for a
usage error (an unknown experiment or ``--only`` name, a bad ``--out``); 3 when
a run was cut short or not started (``--deadline``): run the command again to
continue. A run the deadline kept from starting is left as it was.
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
        unknown = [name for name in only if name not in {s.name for s in specs}]
        if unknown:
            valid = ", ".join(dict.fromkeys(s.name for s in specs))
            message = f"--only names no run of {', '.join(names)}: {', '.join(unknown)}; the runs are {valid}"
            raise experiments.SpecError([message])
        specs = [s for s in specs if s.name in only]
    if steps_per_execution:
        specs = [s.replace(steps_per_execution=steps_per_execution) for s in specs]
    return specs


# Spec fields that say how a run is executed or described, not what it computes: a run cut short
# on one machine continues on another with other values (each attempt's are in its provenance).
EXECUTION_FIELDS = ("steps_per_execution", "notes")


def experiment_of(spec: dict) -> dict:
    """The part of a spec that must match for a run folder to continue with it."""
    return {k: v for k, v in spec.items() if k not in EXECUTION_FIELDS}


def pending(out: pathlib.Path, specs: list[experiments.Spec], force: bool) -> list[experiments.Spec]:
    """The planned runs still to train (finished ones are skipped, unless `force`)."""
    return [s for s in specs if force or runs.read_json(run_dir_for(out, s) / "status.json").get("state") != "finished"]


def checkable_out(out: pathlib.Path) -> str | None:
    """Why run folders cannot be written under `out`, or None."""
    if out.exists() and not out.is_dir():
        return f"--out {out} is a file, not a folder"
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        return f"--out {out} cannot be made a folder ({err.strerror or err})"
    if not os.access(out, os.W_OK):
        return f"--out {out} is not writable"
    return None


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
    if old and experiment_of(old) != experiment_of(spec.to_dict()):
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


def write_tensorboard(out: pathlib.Path, names: list[str], only: list[str] | None = None) -> int:
    """(Re)write the event files of every run folder of these experiments under `out`, whatever
    its preset or whether today's catalogue still plans it (dlcore.engine.tensorboard_events)."""
    from dlcore.engine import tensorboard_events

    if not tensorboard_events.available():
        print("the tensorboard package is not installed (pip install -r requirements.txt)", file=sys.stderr)
        return 1
    names = list(experiments.CATALOGUE) if names == ["all"] else names
    folders = sorted(p.parent for n in names for p in (out / runs.safe_name(n)).glob("*/metrics.jsonl"))
    if only:
        folders = [f for f in folders if runs.read_json(f / "spec.json").get("name") in only]
    for path in tensorboard_events.write_all(folders):
        print(f"wrote {path}", flush=True)
    return 0


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
    ap.add_argument("--tensorboard-only", action="store_true",
                    help="train nothing: (re)write the TensorBoard event files of every run folder of "
                         "these experiments under --out (any preset) from its metrics.jsonl, and stop")
    args = ap.parse_args(argv)
    if args.tensorboard_only:
        unknown = [n for n in args.experiments if n != "all" and n not in experiments.CATALOGUE]
        if unknown:
            ap.error(f"unknown experiment(s) {', '.join(unknown)}")
        return write_tensorboard(args.out, args.experiments, args.only.split(",") if args.only else None)
    try:
        specs = plan(args.experiments, args.preset, args.only.split(",") if args.only else None,
                     args.steps_per_execution)
    except experiments.SpecError as err:
        ap.error(str(err))
    for spec in specs:
        print(f"{spec.label:45s} {spec.epochs:4d} epochs  batch {spec.batch_size}  {spec.notes}")
    if args.dry_run:
        return 0
    problem = checkable_out(args.out)
    if problem:
        ap.error(problem)
    todo = pending(args.out, specs, args.force)
    print(f"{len(todo)} run(s) to do, {len(specs) - len(todo)} already finished", flush=True)
    states = train(args.out, todo, args.force, args.parallel, args.deadline)
    for spec in specs:
        run_dir = run_dir_for(args.out, spec)
        if states.get(spec.label) == "finished":
            (run_dir / "worker.log").unlink(missing_ok=True)  # the worker's log is for debugging, not shipping
    print(outcome(args.out, specs, states), flush=True)
    return exit_code(states)


# Exit codes: every planned run finished; some run failed; some run was cut short or not started
# (by --deadline or a cancel): the same command continues it.
EXIT_FINISHED, EXIT_FAILED, EXIT_UNFINISHED = 0, 1, 3


def exit_code(states: dict) -> int:
    if any(state == "failed" for state in states.values()):
        return EXIT_FAILED
    return EXIT_UNFINISHED if any(state != "finished" for state in states.values()) else EXIT_FINISHED


def outcome(out: pathlib.Path, specs: list[experiments.Spec], states: dict) -> str:
    """The last lines the command prints: what ran, what did not, and which checkpoints stay."""
    from dlcore.engine import checkpoints

    counts = {}
    for state in states.values():
        counts[state] = counts.get(state, 0) + 1
    words = ", ".join(f"{n} {state}" for state, n in counts.items()) or "nothing to train"
    lines = [f"done: {words}"]
    if any(state != "finished" for state in states.values()):
        lines.append("runs cut short or not started continue from their last finished epoch when the same "
                     "command runs again")
    for spec in specs:
        found = checkpoints.latest_checkpoint(run_dir_for(out, spec))
        if found and found[1].stat().st_size > checkpoints.SHIP_LIMIT_BYTES:
            lines.append(f"{spec.label}: its checkpoint ({found[1].stat().st_size / 1e6:.1f} MB) is above the "
                         f"{checkpoints.SHIP_LIMIT_BYTES / 1e6:.0f} MB that cached_runs/ ships; it continues "
                         f"here, but not on another machine")
    return "\n".join(lines)


def train(out: pathlib.Path, todo: list[experiments.Spec], force: bool, parallel: int,
          deadline: float | None) -> dict:
    """Train `todo` (each folder prepared only when its run starts); returns {label: final state}.

    Past `deadline` seconds, running runs are cancelled (they keep every finished epoch)
    and the others are "not started", their folders untouched.
    """
    from dlcore.engine import checkpoints, worker

    start = time.time()
    states: dict = {}

    def left():
        return None if deadline is None else deadline - (time.time() - start)

    def not_started(spec):
        states[spec.label] = "not started"
        print(f"not started (deadline) {run_dir_for(out, spec)}", flush=True)

    if parallel <= 1:
        for spec in todo:
            if left() is not None and left() <= 0:
                not_started(spec)
                continue
            run_dir = prepare_dir(out, spec, force)
            t0, timer = time.time(), None
            if deadline is not None:
                timer = threading.Timer(max(0.0, left()), (run_dir / "cancel").touch)
                timer.daemon = True
                timer.start()
            states[spec.label] = worker.run(run_dir, keep_checkpoint=False)
            if timer:
                timer.cancel()
            print(f"{states[spec.label]:9s} {run_dir}  ({time.time() - t0:.0f} s)", flush=True)
        return states
    queue, active = list(todo), {}
    while queue or active:
        if left() is not None and left() <= 0:
            for run_dir, _ in active.values():
                (run_dir / "cancel").touch()
            for spec in queue:
                not_started(spec)
            queue = []
        while queue and len(active) < parallel:
            spec = queue.pop(0)
            run_dir = prepare_dir(out, spec, force)
            with open(run_dir / "worker.log", "ab") as log:
                proc = subprocess.Popen([sys.executable, "-m", "dlcore.train", str(run_dir)], stdout=log,
                                        stderr=subprocess.STDOUT, cwd=runs.REPO,
                                        env=dict(os.environ, PYTHONUNBUFFERED="1"))
            active[spec.label] = (run_dir, (proc, time.time()))
        time.sleep(1)
        for label, (run_dir, (proc, t0)) in list(active.items()):
            if proc.poll() is not None:
                del active[label]
                states[label] = runs.read_json(run_dir / "status.json").get("state") or "failed"
                if states[label] == "finished":
                    checkpoints.remove_checkpoints(run_dir)
                print(f"{states[label]:9s} {run_dir}  ({time.time() - t0:.0f} s)", flush=True)
    return states


if __name__ == "__main__":
    sys.exit(main())
