"""TensorBoard event files of a run, derived from its ``metrics.jsonl``.

Every run folder can hold ``tensorboard/events.out.tfevents.<time>.<host>.dlcore``
beside its JSON, so ``tensorboard --logdir runs/`` (and W&B, Aim or Trackio
imports, which read the same files) opens our runs. The JSON stays the truth;
the event file is a view of it, always rewritten from ``metrics.jsonl``:

- a live run writes it as it trains (:func:`callbacks`: a small Keras callback
  that follows ``metrics.jsonl`` at every epoch end and every ``every_s``
  seconds, after the :class:`~dlcore.engine.recorder.Recorder` wrote the lines);
- a finished or cached run gets it from :func:`write_events`
  (``python -m dlcore.run … --tensorboard-only``), which gives the same file.

One Event per metrics line, with one scalar per metric:

- ``epoch/loss``, ``epoch/accuracy``, ``epoch/val_loss``, ``epoch/val_accuracy``, ``epoch/lr``,
  ``epoch/batch_size``, ``epoch/images_per_s``: step = the finished epoch (1-based);
- ``batch/loss`` (the mean over the batches since the previous line), ``batch/accuracy``,
  ``batch/lr``, ``batch/batch_size``, ``batch/images_per_s``: step = the optimizer update.
  A batch line's images/s is (batches since the previous line × batch size) / seconds
  since it (the first line of an epoch counts from the end of the previous one, so it
  includes the first epoch's compilation).

An Event's wall time is the run's start (provenance) plus its training ``wall_s``,
so TensorBoard's "relative" axis is training time, the same in a live and a
converted file. Records superseded by a resume are left out, as everywhere else.

The writer is the ``tensorboard`` package's record format with its protobufs; it
needs no TensorFlow (the GPU machine has JAX only). Without the package, runs
train as before and say in their log that no event file was written.
"""
from __future__ import annotations

import datetime as dt
import json
import math
import pathlib
import socket
import threading
import time

from dlcore.engine import runs

EVENTS_DIR = "tensorboard"
EPOCH_KEYS = ("loss", "accuracy", "val_loss", "val_accuracy", "lr", "batch_size", "images_per_s")
BATCH_KEYS = ("loss", "accuracy", "lr", "batch_size")


def available() -> bool:
    try:
        from tensorboard.compat.proto import event_pb2  # noqa: F401
        from tensorboard.summary.writer import record_writer  # noqa: F401
    except ImportError:
        return False
    return True


def start_time(run_dir: pathlib.Path) -> float:
    """The run's start as a Unix time (provenance, else status), or 0 when unknown."""
    for name in ("provenance.json", "status.json"):
        started = runs.read_json(pathlib.Path(run_dir) / name).get("started")
        if started:
            try:
                return dt.datetime.fromisoformat(str(started)).timestamp()
            except ValueError:
                pass
    return 0.0


class Scalars:
    """Turns metrics records, in order, into (step, wall_s, {tag: value}) points.

    Stateful only for the images/s of batch lines, which need the previous line.
    """

    def __init__(self):
        self.last_epoch_wall = 0.0
        self.last = None  # (epoch, batch, wall_s) of the previous batch line

    def point(self, record: dict):
        event = record.get("event")
        wall = _number(record.get("wall_s"))
        if event == "epoch":
            self.last_epoch_wall = wall if wall is not None else self.last_epoch_wall
            self.last = None
            values = {f"epoch/{k}": _number(record.get(k)) for k in EPOCH_KEYS}
            step = int(record["epoch"])
        elif event == "batch":
            values = {f"batch/{k}": _number(record.get(k)) for k in BATCH_KEYS}
            values["batch/images_per_s"] = self._images_per_s(record, wall)
            step = int(record.get("step") or record.get("batch") or 0)
        else:
            return None
        values = {k: v for k, v in values.items() if v is not None}
        return (step, wall or 0.0, values) if values else None

    def _images_per_s(self, record: dict, wall: float | None):
        epoch, batch, size = record.get("epoch"), _number(record.get("batch")), _number(record.get("batch_size"))
        if wall is None or batch is None or size is None:
            return None
        prev_batch, prev_wall = 0, self.last_epoch_wall
        if self.last and self.last[0] == epoch:
            prev_batch, prev_wall = self.last[1], self.last[2]
        self.last = (epoch, batch, wall)
        seconds = wall - prev_wall
        return (batch - prev_batch) * size / seconds if seconds > 0 and batch > prev_batch else None


def _number(value):
    try:
        value = float(value)
    except (TypeError, ValueError):
        return None
    return value if math.isfinite(value) else None


def _event_bytes(point, t0: float) -> bytes:
    from tensorboard.compat.proto import event_pb2, summary_pb2

    step, wall, values = point
    summary = summary_pb2.Summary(value=[summary_pb2.Summary.Value(tag=tag, simple_value=value)
                                         for tag, value in values.items()])
    return event_pb2.Event(wall_time=t0 + wall, step=step, summary=summary).SerializeToString()


class EventFile:
    """One run's event file, rewritten from scratch when opened, then appended to."""

    def __init__(self, run_dir: pathlib.Path):
        from tensorboard.compat.proto import event_pb2

        self.run_dir = pathlib.Path(run_dir)
        folder = self.run_dir / EVENTS_DIR
        folder.mkdir(exist_ok=True)
        for old in folder.glob("events.out.tfevents.*"):
            old.unlink()
        self.t0 = start_time(self.run_dir)
        self.path = folder / f"events.out.tfevents.{int(self.t0 or time.time())}.{socket.gethostname()}.dlcore"
        self.scalars = Scalars()
        self._write([event_pb2.Event(wall_time=self.t0 or time.time(), file_version="brain.Event:2")
                     .SerializeToString()])

    def add(self, records) -> int:
        """Append the Events of `records` (in order); returns how many were written."""
        points = [p for p in (self.scalars.point(r) for r in records) if p is not None]
        self._write([_event_bytes(p, self.t0) for p in points])
        return len(points)

    def _write(self, events: list[bytes]) -> None:
        from tensorboard.summary.writer.record_writer import RecordWriter

        if not events:
            return
        with open(self.path, "ab") as f:
            writer = RecordWriter(f)
            for data in events:
                writer.write(data)


def write_events(run_dir: pathlib.Path) -> pathlib.Path:
    """(Re)write a run folder's event file from its metrics.jsonl; returns the file."""
    events = EventFile(run_dir)
    events.add(runs.read_records(run_dir))
    return events.path


class Follower:
    """Keeps a live run's event file up to date with its metrics.jsonl, as lines are appended."""

    def __init__(self, run_dir: pathlib.Path):
        self.metrics = pathlib.Path(run_dir) / "metrics.jsonl"
        self.lock = threading.Lock()  # Keras may run two batch ends on two threads at once
        # Called before training starts, when nobody is appending: what is there now
        # (with a resume's superseded lines dropped) is rewritten, and followed from its end.
        self.offset = self.metrics.stat().st_size if self.metrics.exists() else 0
        self.events = EventFile(run_dir)
        self.events.add(runs.read_records(run_dir))

    def poll(self) -> int:
        """Add the lines appended since the last poll (complete lines only); returns their count."""
        with self.lock:
            return self._poll()

    def _poll(self) -> int:
        try:
            with open(self.metrics, "rb") as f:
                f.seek(self.offset)
                chunk = f.read()
        except FileNotFoundError:
            return 0
        end = chunk.rfind(b"\n") + 1
        if end == 0:
            return 0
        self.offset += end
        records = []
        for line in chunk[:end].splitlines():
            try:
                record = json.loads(line)
            except ValueError:
                continue  # the reader reports bad lines; the event file just leaves them out
            if isinstance(record, dict):
                records.append(record)
        return self.events.add(records)


def callbacks(run_dir: pathlib.Path, every_s: float = 10.0) -> list:
    """The Keras callbacks that write a live run's event file: [] without the tensorboard package.

    Put them after the Recorder, so the lines of a batch or epoch are written before they are followed.
    """
    if not available():
        print("tensorboard is not installed: no event file is written for this run "
              "(python -m dlcore.run … --tensorboard-only writes it later)", flush=True)
        return []
    import keras

    follower = Follower(run_dir)

    class TensorBoardEvents(keras.callbacks.Callback):
        """Follows metrics.jsonl; never touches the step's tensors, so it stays async on JAX."""

        # Batch ends may run on Keras's callback threads, beside the steps (see dlcore.engine.recorder):
        # they only read the clock, and a poll holds the follower's lock.
        async_safe = True

        def __init__(self):
            super().__init__()
            self.follower = follower
            self.last = time.perf_counter()

        def on_train_batch_end(self, batch, logs=None):
            if time.perf_counter() - self.last >= every_s:
                self._poll()

        def on_epoch_end(self, epoch, logs=None):
            self._poll()

        def on_train_end(self, logs=None):
            self._poll()

        def _poll(self):
            self.follower.poll()
            self.last = time.perf_counter()

    return [TensorBoardEvents()]


def write_all(run_dirs) -> list[pathlib.Path]:
    """Rewrite the event files of several run folders (those with a metrics.jsonl)."""
    return [write_events(d) for d in run_dirs if (pathlib.Path(d) / "metrics.jsonl").exists()]
