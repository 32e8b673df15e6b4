"""The Keras callback that streams metrics, checkpoints, honours cancel and applies stop rules."""
from __future__ import annotations

import math
import signal
import time

from dlcore.engine import checkpoints, model_setup, runs


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
                    "lr": model_setup.current_lr(self.model), "batch_size": self._batch_size(),
                    "wall_s": elapsed,
                })
                runs.update_status(self.run_dir, heartbeat=runs.now(), batch=done, batches=len(self.batches))

            # A batch-growth phase (dlcore.engine.batch_growth.PhaseBatches) says its own batch size,
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
                if since >= 20 * self.save_cost or final:
                    t0 = time.perf_counter()
                    checkpoints.save_checkpoint(self.model, self.run_dir, epoch + 1)
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
