"""The training worker: ``python -m dlcore.train RUN_DIR``.

Runs the spec in ``RUN_DIR/spec.json`` and keeps the folder current while it
trains (format in :mod:`dlcore.engine.runs`):

- appends a metrics line every `log_every` batches and at every epoch end;
- keeps ``status.json`` current (running → finished / cancelled / failed,
  with the error text when it fails);
- records provenance (hardware, versions, backend, code revision, seed, times);
- checkpoints to ``checkpoint-eNNNN.keras`` so a cancelled or killed run resumes
  from its last checkpoint; batches of epoch e are a pure function of
  (seed, e), so a resumed run sees the same data as an uninterrupted one;
- stops within one batch when ``RUN_DIR/cancel`` appears or SIGTERM arrives.

Training itself is plain ``model.fit`` (one call per epoch) with one callback (:class:`Recorder`),
so streaming costs one file-exists check per batch plus a JSON line every
`log_every` batches (see benchmarks/stream_overhead.py).
"""
from __future__ import annotations

import os
import pathlib
import sys
import traceback

import numpy as np

from dlcore.engine import checkpoints, model_setup, pipeline, provenance, recorder, runs
from dlcore.engine.experiments import Spec


def run(run_dir: pathlib.Path, keep_checkpoint: bool = True) -> str:
    """Train the spec in `run_dir` to its end (or cancel/failure); returns the final state."""
    run_dir = pathlib.Path(run_dir)
    spec = Spec.from_dict(runs.read_json(run_dir / "spec.json"))
    status = runs.read_json(run_dir / "status.json")
    if status.get("state") == "finished":
        return "finished"
    if (run_dir / "cancel").exists():
        # Cancelled before the worker got going (jobs.resume clears the flag to run again).
        runs.update_status(run_dir, state="cancelled", ended=runs.now(), pid=None)
        return "cancelled"
    runs.update_status(run_dir, state="running", pid=os.getpid(), started=status.get("started") or runs.now(),
                       epochs=spec.epochs, error=None, heartbeat=runs.now())
    try:
        state = _train(run_dir, spec)
    except BaseException as err:  # noqa: BLE001  the run must end with a state, whatever happened
        runs.update_status(run_dir, state="failed", ended=runs.now(),
                           error=f"{type(err).__name__}: {err}", traceback=traceback.format_exc())
        if not isinstance(err, Exception):
            raise
        return "failed"
    if state == "finished" and not keep_checkpoint:
        checkpoints.remove_checkpoints(run_dir)
    return state


def _train(run_dir: pathlib.Path, spec: Spec) -> str:
    import keras

    from dlcore.engine import data

    keras.utils.set_random_seed(spec.seed)
    # Hardware setting, not part of the experiment: e.g. mixed_bfloat16 on a GPU. Recorded in provenance.
    precision = os.environ.get("DLCORE_PRECISION", "float32")
    keras.mixed_precision.set_global_policy(precision)
    arrays = data.prepare(spec.dataset, spec.preprocessing, spec.subset, spec.test_subset)
    x, y = arrays["x_train"], arrays["y_train"]
    batches = pipeline.make_batches(spec, x, y)
    steps = len(batches)
    first_epoch = 0
    checkpoint = checkpoints.latest_checkpoint(run_dir)
    if checkpoint:
        first_epoch, path = checkpoint
        model = checkpoints.load_checkpoint(path)
        done = [r for r in runs.read_records(run_dir) if r["event"] == "epoch" and r["epoch"] == first_epoch]
        runs.update_status(run_dir, epoch=first_epoch, checkpoint_epoch=first_epoch,
                           wall_s=done[-1]["wall_s"] if done else 0.0)
        runs.append_jsonl(run_dir / "metrics.jsonl", {"event": "resume", "epoch": first_epoch})
    else:
        model = model_setup.build_model(spec, x.shape[1:], steps)
        runs.update_status(run_dir, wall_s=0.0)
    record = runs.read_json(run_dir / "provenance.json")
    record.update(
        hardware=provenance.hardware(), versions=provenance.versions(), backend=keras.backend.backend(),
        code_revision=provenance.code_revision(),
        seed=spec.seed, preset=spec.preset, command=" ".join([os.path.basename(sys.executable), *sys.argv]),
        parameters=int(model.count_params()), train_samples=int(len(x)), test_samples=int(len(arrays["x_test"])),
        started=record.get("started") or runs.now(), precision=precision,
        steps_per_execution=spec.steps_per_execution,
        attempts=record.get("attempts", 0) + 1,
    )
    runs.write_json(run_dir / "provenance.json", record)

    copies = spec.augment.get("M", 1) if spec.augment.get("name") == "batch_augment" else 1
    rec = recorder.Recorder(run_dir, spec, batches, len(x), copies, first_epoch)
    validation = (arrays["x_test"], arrays["y_test"]) if spec.validate else None
    growing = spec.schedule.get("name") == "batch_growth"
    if growing:
        from dlcore.engine import batch_growth  # imports Keras
    # One fit() per epoch, so the epoch is set before Keras fetches any of its
    # batches, and shuffle=False, because Keras would otherwise permute the
    # batches of a PyDataset with the global NumPy RNG. What a batch holds is
    # then a pure function of (seed, epoch, index), and a resumed run sees
    # exactly the batches of an uninterrupted one. A batch-growth run makes each
    # epoch a phase of one batch size (dlcore.engine.batch_growth).
    for epoch in range(first_epoch, spec.epochs):
        if growing:
            rec.batches = batch_growth.phase_batches(model, spec, x, y, epoch)
        else:
            batches.set_epoch(epoch)
        model.fit(rec.batches, epochs=epoch + 1, initial_epoch=epoch, validation_data=validation,
                  validation_batch_size=512, callbacks=[rec], shuffle=False, verbose=0)
        if rec.cancelled or rec.stop_reason:
            break
    ended = runs.now()
    done = [r for r in runs.read_records(run_dir) if r["event"] == "epoch"]
    record.update(ended=ended, wall_s=rec.wall_s, stop_reason=rec.stop_reason,
                      epochs_done=len(done),
                      images_per_s=float(np.median([r["images_per_s"] for r in done])) if done else None)
    runs.write_json(run_dir / "provenance.json", record)
    state = "cancelled" if rec.cancelled else "finished"
    runs.update_status(run_dir, state=state, ended=ended, reason=rec.stop_reason, pid=None)
    return state


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print("usage: python -m dlcore.train RUN_DIR", file=sys.stderr)
        return 2
    run_dir = pathlib.Path(argv[1])
    state = run(run_dir)
    from dlcore.engine import jobs

    if runs.live_root().resolve() in run_dir.resolve().parents:
        jobs.pump()  # start the next queued run, if any
    return 0 if state in ("finished", "cancelled") else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))
