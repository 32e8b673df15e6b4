"""The training worker: ``python -m dlcore.train RUN_DIR``.

Runs the spec in ``RUN_DIR/spec.json`` and keeps the folder current while it
trains (format in :mod:`dlcore.engine.runs`):

- appends a metrics line every `log_every` batches and at every epoch end;
- keeps ``status.json`` current (running → finished / cancelled / failed,
  with the error text when it fails);
- records provenance (hardware, versions, backend, code revision, seed, times);
- checkpoints to ``checkpoint-eNNNN.npz`` (dlcore.engine.checkpoints) so a cancelled or killed run
  resumes from its last checkpoint, and keeps the state of its last finished epoch in memory
  between saves, so a cancel, SIGTERM or deadline saves it before exiting; batches of epoch e
  are a pure function of (seed, e), so a resumed run sees the same data as an uninterrupted one;
- stops within one batch when ``RUN_DIR/cancel`` appears or SIGTERM arrives.

Training itself is plain ``fit`` (one call per epoch) with one callback (:class:`Recorder`),
so streaming costs one file-exists check per batch plus a JSON line every
`log_every` batches (see benchmarks/stream_overhead.py), off the device's path:
the Recorder is async-safe. What ``fit`` trains is a
:class:`dlcore.keras_parts.device_augment.DeviceTrainer` around the network,
holding the training set on the device (see dlcore.engine.pipeline; batch growth
trains the network on host batches); the network alone is checkpointed.
See benchmarks/throughput.py for the engine against the model's own speed.
"""
from __future__ import annotations

import os
import pathlib
import sys
import traceback

import numpy as np

from dlcore.engine import checkpoints, data_parallel, model_setup, pipeline, provenance, recorder, runs
from dlcore.engine import tensorboard_events
from dlcore.engine.experiments import Spec


def run(run_dir: pathlib.Path, keep_checkpoint: bool = True) -> str:
    """Train the spec in `run_dir` to its end (or cancel/failure); returns the final state."""
    from dlcore.engine import jobs

    run_dir = pathlib.Path(run_dir)
    status = runs.read_status(run_dir)
    if status.get("state") == "finished":
        return "finished"
    try:
        spec = Spec.from_dict(runs.read_json(run_dir / "spec.json"))
    except Exception as err:  # noqa: BLE001  a spec that cannot run ends the run, with its reason
        runs.update_status(run_dir, state="failed", ended=runs.now(), pid=None,
                           error=f"{type(err).__name__}: {err}")
        return "failed"
    if (run_dir / "cancel").exists():
        # Cancelled before the worker got going (jobs.resume clears the flag to run again).
        runs.update_status(run_dir, state="cancelled", ended=runs.now(), pid=None)
        return "cancelled"
    runs.update_status(run_dir, state="running", pid=os.getpid(), pid_started=jobs.process_start(os.getpid()),
                       started=status.get("started") or runs.now(), epochs=spec.epochs, error=None,
                       heartbeat=runs.now())
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
    # Hardware setting too (DLCORE_DEVICES): each batch split over several devices, JAX only.
    parallel = data_parallel.configure(spec, len(x), len(arrays["x_test"]))
    batches = pipeline.make_batches(spec, x, y)
    steps = len(batches)
    first_epoch, restarted = 0, False
    model = model_setup.build_model(spec, x.shape[1:], steps)
    checkpoint = checkpoints.latest_checkpoint(run_dir)
    if checkpoint:
        first_epoch, path = checkpoint
        model = checkpoints.load_into(model, path)
        done = [r for r in runs.read_records(run_dir) if r["event"] == "epoch" and r["epoch"] == first_epoch]
        runs.update_status(run_dir, epoch=first_epoch, checkpoint_epoch=first_epoch,
                           wall_s=done[-1]["wall_s"] if done else 0.0)
        runs.append_jsonl(run_dir / "metrics.jsonl", {"event": "resume", "epoch": first_epoch})
    else:
        # Epochs recorded but no checkpoint (an attempt that kept none): start again from epoch 0,
        # and say so in the metrics, so the earlier attempt's epochs are superseded, never mixed in.
        restarted = any(r["event"] == "epoch" for r in runs.read_records(run_dir))
        if restarted:
            runs.append_jsonl(run_dir / "metrics.jsonl", {"event": "resume", "epoch": 0,
                                                          "why": "no checkpoint of the earlier attempt"})
        runs.update_status(run_dir, epoch=0, checkpoint_epoch=None, wall_s=0.0)
    record = runs.read_json(run_dir / "provenance.json")
    record["attempt_log"] = provenance.attempt_log(record)  # before this attempt's fields replace the last's
    record.update(
        hardware=provenance.hardware(), versions=provenance.versions(), backend=keras.backend.backend(),
        code_revision=provenance.code_revision(),
        seed=spec.seed, preset=spec.preset, command=" ".join([os.path.basename(sys.executable), *sys.argv]),
        parameters=int(model.count_params()), train_samples=int(len(x)), test_samples=int(len(arrays["x_test"])),
        started=record.get("started") or runs.now(), precision=precision,
        steps_per_execution=spec.steps_per_execution, devices=parallel["devices"], data_parallel=parallel,
        attempts=record.get("attempts", 0) + 1,
    )
    provenance.begin_attempt(record, epoch_from=first_epoch, precision=precision, restarted=restarted)
    wall_at_start = float(runs.read_json(run_dir / "status.json").get("wall_s") or 0.0)
    runs.write_json(run_dir / "provenance.json", record)

    copies = spec.augment.get("M", 1) if spec.augment.get("name") == "batch_augment" else 1
    # The training set goes to the device once; steps are fed sample indices and draws (pipeline.py).
    trainer = pipeline.trainer(spec, model, pipeline.device_store(spec, arrays))
    rec = recorder.Recorder(run_dir, spec, batches, len(x), copies, first_epoch)
    events = tensorboard_events.callbacks(run_dir)  # after rec: they follow the lines it writes
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
        try:
            trainer.fit(rec.batches, epochs=epoch + 1, initial_epoch=epoch, validation_data=validation,
                        validation_batch_size=512, callbacks=[rec, *events], shuffle=False, verbose=0)
        except Exception:
            # A cancel stops the epoch part-way, and that epoch is thrown away (its line would lie).
            # Keras's JAX trainer can fail while it winds such an epoch down (a state buffer it had
            # already donated to the next step: tests/test_continue.py saw it one run in three);
            # the finished epochs are safe on disk or in rec.unsaved, so the run is cancelled.
            if not rec.cancelled:
                raise
        if rec.cancelled or rec.stop_reason:
            break
    if rec.unsaved is not None:
        # Cancelled, SIGTERM or the CLI's deadline between two checkpoints: keep every finished epoch.
        checkpoints.write(run_dir, rec.unsaved)
        runs.update_status(run_dir, checkpoint_epoch=rec.unsaved.epoch)
    ended = runs.now()
    done = [r for r in runs.read_records(run_dir) if r["event"] == "epoch"]
    state = "cancelled" if rec.cancelled else "finished"
    ips = [r["images_per_s"] for r in done if r["epoch"] > first_epoch]
    record.update(ended=ended, wall_s=rec.wall_s, stop_reason=rec.stop_reason,
                      epochs_done=len(done),
                      images_per_s=float(np.median([r["images_per_s"] for r in done])) if done else None)
    provenance.end_attempt(record, epoch_to=len(done), state=state, wall_s=rec.wall_s - wall_at_start,
                           images_per_s=float(np.median(ips)) if ips else None)
    runs.write_json(run_dir / "provenance.json", record)
    runs.update_status(run_dir, state=state, ended=ended, reason=rec.stop_reason, pid=None)
    return state


def cancel_on_sigterm(run_dir: pathlib.Path) -> None:
    """Turn SIGTERM into a cancel request, received by one thread of its own.

    Called before Keras is imported. SIGTERM is blocked in this thread, and so in
    every thread started later (XLA's, TensorFlow's): a signal handled on one of
    them interrupts its system calls, which on JAX left a donated buffer in use and
    failed the run (tests/test_continue.py). A cancel file is what the Recorder
    checks at every batch, so SIGTERM stops the run exactly as a cancel does.
    """
    import signal
    import threading

    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGTERM})

    def wait() -> None:
        signal.sigwait({signal.SIGTERM})
        (run_dir / "cancel").touch()

    threading.Thread(target=wait, name="sigterm-to-cancel", daemon=True).start()


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print("usage: python -m dlcore.train RUN_DIR", file=sys.stderr)
        return 2
    run_dir = pathlib.Path(argv[1])
    cancel_on_sigterm(run_dir)
    state = run(run_dir)
    from dlcore.engine import jobs

    if runs.live_root().resolve() in run_dir.resolve().parents:
        jobs.pump()  # start the next queued run, if any
    return 0 if state in ("finished", "cancelled") else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))
