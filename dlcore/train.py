"""The training worker: ``python -m dlcore.train RUN_DIR``.

Runs the spec in ``RUN_DIR/spec.json`` and keeps the folder current while it
trains (format in :mod:`dlcore.runs`):

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

import math
import os
import pathlib
import platform
import signal
import subprocess
import sys
import time
import traceback

import numpy as np

from dlcore import runs
from dlcore.experiments import Spec

CHECKPOINT_GLOB = "checkpoint-e*.keras"


def latest_checkpoint(run_dir: pathlib.Path) -> tuple[int, pathlib.Path] | None:
    """(epoch, path) of the newest complete checkpoint, or None.

    The epoch is in the file name, so the file is its own record: a worker killed
    between saving and updating status.json still resumes from the right epoch.
    """
    found = []
    for path in pathlib.Path(run_dir).glob(CHECKPOINT_GLOB):
        try:
            found.append((int(path.stem.removeprefix("checkpoint-e")), path))
        except ValueError:
            continue
    return max(found) if found else None


def save_checkpoint(model, run_dir: pathlib.Path, epoch: int) -> None:
    tmp = run_dir / f".checkpoint.{os.getpid()}.tmp.keras"
    model.save(tmp)
    os.replace(tmp, run_dir / f"checkpoint-e{epoch:04d}.keras")
    remove_checkpoints(run_dir, keep=epoch)


def remove_checkpoints(run_dir: pathlib.Path, keep: int | None = None) -> None:
    for path in pathlib.Path(run_dir).glob(CHECKPOINT_GLOB):
        if keep is None or path.name != f"checkpoint-e{keep:04d}.keras":
            path.unlink(missing_ok=True)


# --- Input pipeline ---------------------------------------------------------------------------

def epoch_order(n: int, seed: int, epoch: int) -> np.ndarray:
    """The sample order of epoch `epoch` (0-based): a pure function of (seed, epoch)."""
    return np.random.default_rng([seed, epoch]).permutation(n)


def batch_rng(seed: int, epoch: int, index: int) -> np.random.Generator:
    """The augmentation randomness of one batch: independent of the order batches are drawn."""
    return np.random.default_rng([seed, epoch, index, 1])


def augment_batch(spec: Spec, x: np.ndarray, y: np.ndarray, rng: np.random.Generator):
    """Apply the spec's augmentation to one batch (copies are made per batch only)."""
    kind = spec.augment.get("name", "none")
    if kind == "none":
        return x, y
    from dlcore import augment

    if kind == "standard":
        return augment.pad_crop_flip(x, rng=rng), y
    if kind == "batch_augment":
        return augment.batch_augment(x, y, M=spec.augment["M"], rng=rng,
                                     cutout_size=spec.augment.get("cutout", 16))
    raise ValueError(f"unknown augmentation {kind!r}")


def make_batches(spec: Spec, x: np.ndarray, y: np.ndarray):
    """A keras PyDataset yielding the spec's batches; `.epoch` is set by the Recorder."""
    import keras

    class EpochBatches(keras.utils.PyDataset):
        def __init__(self):
            super().__init__(workers=1, use_multiprocessing=False)
            self.epoch = 0
            self._order = epoch_order(len(x), spec.seed, 0)

        def set_epoch(self, epoch: int) -> None:
            if epoch != self.epoch:
                self.epoch = epoch
                self._order = epoch_order(len(x), spec.seed, epoch)

        def __len__(self):
            return math.ceil(len(x) / spec.batch_size)

        def __getitem__(self, i):
            idx = self._order[i * spec.batch_size:(i + 1) * spec.batch_size]
            return augment_batch(spec, x[idx], y[idx], batch_rng(spec.seed, self.epoch, i))

    return EpochBatches()


# --- Learning rate and model ------------------------------------------------------------------

def learning_rate(spec: Spec, steps_per_epoch: int):
    """The optimizer's learning rate: a float, or a Keras schedule of the iteration."""
    s = dict(spec.schedule)
    name = s.pop("name", "constant")
    lr = spec.optimizer["learning_rate"]
    if name in ("constant", "batch_growth"):  # batch growth: a fixed rate, the batch changes (dlcore.accumulation)
        return lr
    import keras

    if name == "step_decay":
        values = [lr * s.get("factor", 0.1) ** k for k in range(len(s["boundaries"]) + 1)]
        return keras.optimizers.schedules.PiecewiseConstantDecay(s["boundaries"], values)
    from dlcore import schedules

    if name == "range_test":
        total = spec.epochs * steps_per_epoch
        if s.get("mode", "steps") == "sweep":
            return schedules.keras_schedule("range_test_sweep", lr_start=s["lr_start"], lr_end=s["lr_end"],
                                            n_iterations=total)
        # `candidates` log-spaced rates, each held for an equal share of the iterations.
        rates = schedules.range_test_candidates(s["lr_start"], s["lr_end"], s.get("candidates", 10))
        share = total / len(rates)
        # PiecewiseConstantDecay keeps value k up to and including boundary k.
        boundaries = [int(round(share * k)) - 1 for k in range(1, len(rates))]
        return keras.optimizers.schedules.PiecewiseConstantDecay(boundaries, [float(r) for r in rates])
    return schedules.keras_schedule(name, **s)


def build_model(spec: Spec, input_shape, steps_per_epoch: int):
    import keras

    from dlcore import models, optimizers

    model = models.build(spec.model, input_shape)
    hparams = {k: v for k, v in spec.optimizer.items() if k not in ("name", "learning_rate")}
    opt = optimizers.make_optimizer(spec.optimizer["name"], learning_rate=learning_rate(spec, steps_per_epoch),
                                    **hparams)
    model.compile(optimizer=opt, loss=keras.losses.SparseCategoricalCrossentropy(), metrics=["accuracy"],
                  steps_per_execution=spec.steps_per_execution)
    return model


def load_checkpoint(path: pathlib.Path):
    import keras

    from dlcore import keras_schedules, models, optimizers  # noqa: F401  (register custom objects)

    return keras.saving.load_model(path)


def current_lr(model) -> float:
    return float(np.asarray(model.optimizer.learning_rate))


# --- Provenance -------------------------------------------------------------------------------

def code_revision() -> str:
    if os.environ.get("DLCORE_CODE_REVISION"):
        return os.environ["DLCORE_CODE_REVISION"]
    try:
        rev = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=runs.REPO, capture_output=True,
                             text=True, timeout=5).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no", "dlcore"],
                               cwd=runs.REPO, capture_output=True, text=True, timeout=5).stdout.strip()
        return (rev + ("+uncommitted" if dirty else "")) or "unknown"
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def hardware() -> dict:
    import keras

    backend = keras.backend.backend()
    gpu = None
    if backend == "jax":
        import jax

        devices = jax.devices()
        if devices and devices[0].platform != "cpu":
            gpu = f"{len(devices)} × {devices[0].device_kind}"
    elif backend == "tensorflow":
        import tensorflow as tf

        gpus = tf.config.list_physical_devices("GPU")
        if gpus:
            gpu = f"{len(gpus)} × " + tf.config.experimental.get_device_details(gpus[0]).get("device_name", "GPU")
    cpu = platform.processor() or platform.machine()
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return {"device": gpu or f"CPU ({cores} cores)", "gpu": gpu, "cpu": cpu, "cpu_cores": cores,
            "platform": platform.platform()}


def versions() -> dict:
    import keras

    out = {"python": platform.python_version(), "numpy": np.__version__, "keras": keras.__version__,
           "backend": keras.backend.backend()}
    try:
        if out["backend"] == "jax":
            import jax

            out["jax"] = jax.__version__
        elif out["backend"] == "tensorflow":
            import tensorflow as tf

            out["tensorflow"] = tf.__version__
    except ImportError:
        pass
    return out


# --- The callback that streams, checkpoints, cancels and stops ---------------------------------

class Recorder:
    """Keras callback (built lazily so importing this module does not import Keras)."""

    def __new__(cls, *args, **kwargs):
        import keras

        class _Recorder(keras.callbacks.Callback):
            def __init__(self, run_dir, spec, batches, n_samples, images_per_sample, first_epoch):
                super().__init__()
                self.run_dir, self.spec, self.batches = run_dir, spec, batches
                self.n_samples = n_samples
                self.images_per_sample = images_per_sample
                self.cancel_file = run_dir / "cancel"
                self.metrics_file = run_dir / "metrics.jsonl"
                self.cancelled = False
                self.stop_reason = None
                self.best, self.since_best = math.inf, 0
                self.wall_s = float(runs.read_json(run_dir / "status.json").get("wall_s", 0.0)) if first_epoch else 0.0
                self.last_checkpoint = time.perf_counter()
                self.save_cost = 0.0
                signal.signal(signal.SIGTERM, self._on_sigterm)

            def _on_sigterm(self, *_):
                self.cancel_file.touch()

            # Called for every batch: keep it to one stat() unless a line is due.
            def on_train_batch_end(self, batch, logs=None):
                if self.cancel_file.exists():
                    self.cancelled = True
                    self.model.stop_training = True
                # With steps_per_execution > 1 Keras may report a step past the epoch's end.
                done = min(batch + 1, len(self.batches))
                if done % self.spec.log_every == 0 or done == len(self.batches):
                    self._log_batch(done, logs or {})

            def _log_batch(self, done, logs):
                # Keras reports running means over the epoch; turn them into the mean
                # over the batches since the last line, which is what a curve should show.
                mean_loss = float(logs.get("loss", math.nan))
                window_loss = (done * mean_loss - self.last_done * self.last_mean) / max(1, done - self.last_done)
                self.last_done, self.last_mean = done, mean_loss
                elapsed = self.wall_s + time.perf_counter() - self.epoch_start
                runs.append_jsonl(self.metrics_file, {
                    "event": "batch", "epoch": self.epoch + 1, "batch": done,
                    "step": self._step(done),
                    "loss": window_loss, "epoch_mean_loss": mean_loss,
                    "accuracy": float(logs.get("accuracy", math.nan)),
                    "lr": current_lr(self.model), "batch_size": self._batch_size(),
                    "wall_s": elapsed,
                })
                runs.update_status(self.run_dir, heartbeat=runs.now(), batch=done, batches=len(self.batches))

            # A batch-growth phase (dlcore.accumulation.PhaseBatches) says its own batch size,
            # samples and update count; ordinary batches fall back to the spec's.
            def _step(self, done):
                step_of = getattr(self.batches, "step_of", None)
                return step_of(done) if step_of else self.epoch * len(self.batches) + done

            def _batch_size(self):
                return getattr(self.batches, "effective_batch_size", self.spec.batch_size) * self.images_per_sample

            def on_epoch_begin(self, epoch, logs=None):
                self.epoch = epoch
                self.batches.set_epoch(epoch)
                self.last_done, self.last_mean = 0, 0.0
                self.val_s = 0.0
                self.epoch_start = time.perf_counter()

            def on_test_begin(self, logs=None):
                self.val_start = time.perf_counter()

            def on_test_end(self, logs=None):
                self.val_s += time.perf_counter() - self.val_start

            def on_epoch_end(self, epoch, logs=None):
                logs = logs or {}
                epoch_s = time.perf_counter() - self.epoch_start
                train_s = epoch_s - self.val_s
                self.wall_s += epoch_s
                if self.cancelled:
                    return  # an unfinished epoch is not an epoch: its line would lie
                samples = getattr(self.batches, "samples", self.n_samples)
                record = {
                    "event": "epoch", "epoch": epoch + 1,
                    **{k: float(v) for k, v in logs.items()},
                    "lr": current_lr(self.model), "batch_size": self._batch_size(),
                    "samples": samples, "images": samples * self.images_per_sample,
                    "epoch_s": epoch_s, "train_s": train_s, "val_s": self.val_s, "wall_s": self.wall_s,
                    "images_per_s": samples * self.images_per_sample / max(train_s, 1e-9),
                }
                runs.append_jsonl(self.metrics_file, record)
                self._check_stop_rules(record)
                # Checkpoint when the save costs at most ~5% of the time since the last one.
                since = time.perf_counter() - self.last_checkpoint
                final = epoch + 1 == self.spec.epochs or self.model.stop_training
                if since >= 20 * self.save_cost or final:
                    t0 = time.perf_counter()
                    save_checkpoint(self.model, self.run_dir, epoch + 1)
                    self.save_cost = time.perf_counter() - t0
                    self.last_checkpoint = time.perf_counter()
                    runs.update_status(self.run_dir, checkpoint_epoch=epoch + 1)
                runs.update_status(self.run_dir, epoch=epoch + 1, wall_s=self.wall_s, heartbeat=runs.now())

            def _check_stop_rules(self, record):
                stop = self.spec.stop
                target = stop.get("val_accuracy")
                if target is not None and record.get("val_accuracy", 0) >= target:
                    self.stop_reason = f"reached {target:.0%} test accuracy at epoch {record['epoch']}"
                    self.model.stop_training = True
                if "patience" in stop:
                    monitor = stop.get("monitor", "val_loss")
                    value = record.get(monitor, math.inf)
                    if value < self.best - 1e-4:
                        self.best, self.since_best = value, 0
                    else:
                        self.since_best += 1
                    if self.since_best >= stop["patience"]:
                        self.stop_reason = (f"{monitor} has not improved for {stop['patience']} epochs "
                                            f"(converged) at epoch {record['epoch']}")
                        self.model.stop_training = True
                if not math.isfinite(record.get("loss", 0.0)):
                    self.stop_reason = f"training loss diverged (not finite) at epoch {record['epoch']}"
                    self.model.stop_training = True

        return _Recorder(*args, **kwargs)


# --- The run ----------------------------------------------------------------------------------

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
        remove_checkpoints(run_dir)
    return state


def _train(run_dir: pathlib.Path, spec: Spec) -> str:
    import keras

    from dlcore import data

    keras.utils.set_random_seed(spec.seed)
    # Hardware setting, not part of the experiment: e.g. mixed_bfloat16 on a GPU. Recorded in provenance.
    precision = os.environ.get("DLCORE_PRECISION", "float32")
    keras.mixed_precision.set_global_policy(precision)
    arrays = data.prepare(spec.dataset, spec.preprocessing, spec.subset, spec.test_subset)
    x, y = arrays["x_train"], arrays["y_train"]
    batches = make_batches(spec, x, y)
    steps = len(batches)
    first_epoch = 0
    checkpoint = latest_checkpoint(run_dir)
    if checkpoint:
        first_epoch, path = checkpoint
        model = load_checkpoint(path)
        done = [r for r in runs.read_records(run_dir) if r["event"] == "epoch" and r["epoch"] == first_epoch]
        runs.update_status(run_dir, epoch=first_epoch, checkpoint_epoch=first_epoch,
                           wall_s=done[-1]["wall_s"] if done else 0.0)
        runs.append_jsonl(run_dir / "metrics.jsonl", {"event": "resume", "epoch": first_epoch})
    else:
        model = build_model(spec, x.shape[1:], steps)
        runs.update_status(run_dir, wall_s=0.0)
    provenance = runs.read_json(run_dir / "provenance.json")
    provenance.update(
        hardware=hardware(), versions=versions(), backend=keras.backend.backend(), code_revision=code_revision(),
        seed=spec.seed, preset=spec.preset, command=" ".join([os.path.basename(sys.executable), *sys.argv]),
        parameters=int(model.count_params()), train_samples=int(len(x)), test_samples=int(len(arrays["x_test"])),
        started=provenance.get("started") or runs.now(), precision=precision,
        steps_per_execution=spec.steps_per_execution,
        attempts=provenance.get("attempts", 0) + 1,
    )
    runs.write_json(run_dir / "provenance.json", provenance)

    copies = spec.augment.get("M", 1) if spec.augment.get("name") == "batch_augment" else 1
    recorder = Recorder(run_dir, spec, batches, len(x), copies, first_epoch)
    validation = (arrays["x_test"], arrays["y_test"]) if spec.validate else None
    if first_epoch < spec.epochs and spec.schedule.get("name") == "batch_growth":
        from dlcore import accumulation  # one model.fit per batch size: see its docstring

        accumulation.fit_growing_batch(model, spec, x, y, validation, recorder, first_epoch)
    else:
        # One fit() per epoch, so the epoch is set before Keras fetches any of its
        # batches, and shuffle=False, because Keras would otherwise permute the
        # batches of a PyDataset with the global NumPy RNG. What a batch holds is
        # then a pure function of (seed, epoch, index), and a resumed run sees
        # exactly the batches of an uninterrupted one.
        for epoch in range(first_epoch, spec.epochs):
            batches.set_epoch(epoch)
            model.fit(batches, epochs=epoch + 1, initial_epoch=epoch, validation_data=validation,
                      validation_batch_size=512, callbacks=[recorder], shuffle=False, verbose=0)
            if recorder.cancelled or recorder.stop_reason:
                break
    ended = runs.now()
    done = [r for r in runs.read_records(run_dir) if r["event"] == "epoch"]
    provenance.update(ended=ended, wall_s=recorder.wall_s, stop_reason=recorder.stop_reason,
                      epochs_done=len(done),
                      images_per_s=float(np.median([r["images_per_s"] for r in done])) if done else None)
    runs.write_json(run_dir / "provenance.json", provenance)
    state = "cancelled" if recorder.cancelled else "finished"
    runs.update_status(run_dir, state=state, ended=ended, reason=recorder.stop_reason, pid=None)
    return state


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print("usage: python -m dlcore.train RUN_DIR", file=sys.stderr)
        return 2
    run_dir = pathlib.Path(argv[1])
    state = run(run_dir)
    from dlcore import jobs

    if runs.live_root().resolve() in run_dir.resolve().parents:
        jobs.pump()  # start the next queued run, if any
    return 0 if state in ("finished", "cancelled") else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))
