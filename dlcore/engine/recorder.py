"""The Keras callback that streams metrics, checkpoints, honours cancel and applies stop rules.

It never makes the device wait. It declares itself ``async_safe``, so on JAX
Keras keeps dispatching steps while the batch-end work (a cancel-file stat
and, every `log_every` batches, a metrics line) runs on Keras's callback
threads; without the flag Keras pulls every step's logs back to the host
before the next step starts (``CallbackList._configure_async_dispatch``).
Nothing per batch reads the model's variables (on JAX they are not even
current during an epoch): a line's learning rate is the schedule at the step
the host counts. With ``steps_per_execution`` = k Keras calls it once per k
steps, and a line is written whenever a multiple of `log_every` was passed.
The network alone is checkpointed (``model.net`` when training through a
``DeviceTrainer``), so the device-resident training set never enters a file.
"""
from __future__ import annotations

import math
import signal
import threading
import time

from dlcore.engine import checkpoints, model_setup, runs


class Recorder:
    """Keras callback (built lazily so importing this module does not import Keras)."""

    def __new__(cls, *args, **kwargs):
        import keras

        class _Recorder(keras.callbacks.Callback):
            async_safe = True  # see the module docstring: batch ends run beside the steps, never between

            def __init__(self, run_dir, spec, batches, n_samples, images_per_sample, first_epoch):
                super().__init__()
                self.lock = threading.Lock()  # Keras may run two batch ends on two threads at once
                self.schedule = model_setup.learning_rate(spec, len(batches))
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
                self.unsaved = None  # checkpoints.State of the last finished epoch, when not yet on disk
                signal.signal(signal.SIGTERM, self._on_sigterm)

            def _on_sigterm(self, *_):
                self.cancel_file.touch()

            # Called once per compiled call (steps_per_execution steps): one stat() unless a line is due.
            def on_train_batch_end(self, batch, logs=None):
                if self.cancel_file.exists():
                    self.cancelled = True
                    self.model.stop_training = True
                # With steps_per_execution > 1 Keras may report a step past the epoch's end.
                done = min(batch + 1, len(self.batches))
                every = self.spec.log_every
                with self.lock:
                    # A line for every multiple of log_every passed since the last one, and the epoch's end;
                    # a call that arrives after a later one (two threads) writes nothing.
                    if done > self.last_done and (done // every > self.last_done // every
                                                  or done == len(self.batches)):
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
                    "lr": self._lr(self._step(done)), "batch_size": self._batch_size(),
                    "wall_s": elapsed,
                })
                runs.update_status(self.run_dir, heartbeat=runs.now(), batch=done, batches=len(self.batches))

            # A batch-growth phase (dlcore.engine.batch_growth.PhaseBatches) says its own batch size,
            # samples and update count; ordinary batches fall back to the spec's.
            def _step(self, done):
                step_of = getattr(self.batches, "step_of", None)
                return step_of(done) if step_of else self.epoch * len(self.batches) + done

            def _lr(self, step):
                """The rate of update `step` + 1, from the schedule on the host (no variable is read)."""
                if isinstance(self.schedule, (int, float)):
                    return float(self.schedule)
                return float(keras.ops.convert_to_numpy(self.schedule(int(step))))

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
                    "lr": model_setup.current_lr(self.model), "batch_size": self._batch_size(),
                    "samples": samples, "images": samples * self.images_per_sample,
                    "epoch_s": epoch_s, "train_s": train_s, "val_s": self.val_s, "wall_s": self.wall_s,
                    "images_per_s": samples * self.images_per_sample / max(train_s, 1e-9),
                }
                runs.append_jsonl(self.metrics_file, record)
                self._check_stop_rules(record)
                # Checkpoint when the save costs at most ~5% of the time since the last one.
                since = time.perf_counter() - self.last_checkpoint
                final = epoch + 1 == self.spec.epochs or self.model.stop_training
                # Between saves the state is kept in host memory (one copy per epoch), so that a cancel,
                # SIGTERM or deadline before the next save still keeps this epoch (the worker writes it).
                net = getattr(self.model, "net", self.model)
                self.unsaved = None
                if since >= 20 * self.save_cost or final:
                    t0 = time.perf_counter()
                    checkpoints.save_checkpoint(net, self.run_dir, epoch + 1)
                    self.save_cost = time.perf_counter() - t0
                    self.last_checkpoint = time.perf_counter()
                    runs.update_status(self.run_dir, checkpoint_epoch=epoch + 1)
                else:
                    self.unsaved = checkpoints.capture(net, epoch + 1)
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
