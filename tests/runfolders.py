"""Realistic run folders for tests, written as the worker writes them (JSON only).

Live runs go to ``<root>/<experiment>__<name>__<stamp>``, cached ones to
``<root>/<experiment>/<name>``, each with spec.json, status.json, metrics.jsonl
and provenance.json in the format dlcore.engine.runs documents. No training happens:
the curves are made up, smooth and plausible.
"""
from __future__ import annotations

import json
import math
import os
import pathlib

from dlcore.engine import experiments, runs

CPU = {"device": "CPU (2 cores)", "gpu": None, "cpu": "Test CPU @ 2.0GHz", "cpu_cores": 2,
       "platform": "Linux-test"}
GPU = {"device": "1 × NVIDIA H100 80GB HBM3", "gpu": "1 × NVIDIA H100 80GB HBM3", "cpu": "Xeon",
       "cpu_cores": 16, "platform": "Linux-gpu"}


def spec_dict(experiment: str = "mlp_l2", name: str = "adam", preset: str = "class", epochs: int = 4) -> dict:
    """A valid spec (through experiments.Spec, so the fields are the real ones)."""
    notes = "" if preset == "full" else f"{preset} preset: {epochs} epochs on 500 images per class " \
                                          "(the homework asks for more)"
    return experiments.Spec(experiment=experiment, name=name, preset=preset, epochs=epochs,
                            log_every=5, notes=notes).to_dict()


def records(done: int, batches_per_epoch: int = 4, log_every: int = 2, partial: int = 0,
            scale: float = 1.0) -> list[dict]:
    """Batch and epoch records for `done` finished epochs and `partial` batches of the next."""
    out, wall = [], 0.0
    for epoch in range(1, done + 2):
        last = batches_per_epoch if epoch <= done else partial
        for batch in range(log_every, last + 1, log_every):
            step = (epoch - 1) * batches_per_epoch + batch
            wall += 0.5
            out.append({"event": "batch", "epoch": epoch, "batch": batch, "step": step,
                        "loss": scale * 2.3 * math.exp(-0.05 * step), "accuracy": 0.1 + 0.02 * step,
                        "lr": 1e-3 * 1.5 ** step, "batch_size": 32 * 2 ** (step // 4), "wall_s": wall})
        if epoch <= done:
            wall += 1.0
            out.append({"event": "epoch", "epoch": epoch, "loss": scale * 2.3 / (1 + epoch),
                        "accuracy": 1 - 0.7 * 0.8 ** epoch, "val_loss": scale * 2.4 / (1 + epoch),
                        "val_accuracy": 1 - 0.75 * 0.85 ** epoch, "lr": 1e-3, "batch_size": 32,
                        "samples": 5000, "images": 5000, "epoch_s": 2.0 + 0.1 * epoch,
                        "train_s": 1.8, "val_s": 0.2, "wall_s": wall, "images_per_s": 2500.0 + epoch})
    return out


def write_run(path: pathlib.Path, spec: dict, state: str, done: int, *, pid: int | None = None,
              partial: int = 0, hardware: dict = CPU, error: str | None = None,
              reason: str | None = None, started: str = "2025-03-04T10:00:00+00:00",
              scale: float = 1.0) -> pathlib.Path:
    """Write one run folder at `path` with `done` finished epochs."""
    path.mkdir(parents=True)
    finished = state in ("finished", "failed", "cancelled")
    recs = records(done, partial=partial, scale=scale)
    wall = max((r["wall_s"] for r in recs if r["event"] == "epoch"), default=0.0)
    runs.write_json(path / "spec.json", spec)
    status = {"state": state, "epoch": done, "epochs": spec["epochs"], "pid": pid, "error": error,
              "reason": reason, "created": started, "started": started,
              "ended": "2025-03-04T10:05:00+00:00" if finished else None, "heartbeat": started,
              "checkpoint_epoch": done, "wall_s": wall}
    if state == "running" and partial:
        status.update(batch=partial, batches=4)
    runs.write_json(path / "status.json", status)
    (path / "metrics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in recs))
    runs.write_json(path / "provenance.json", {
        "hardware": hardware, "backend": "tensorflow", "code_revision": "abc1234",
        "versions": {"python": "3.12.0", "numpy": "2.1.0", "keras": "3.10.0", "backend": "tensorflow",
                     "tensorflow": "2.19.0"},
        "seed": spec["seed"], "preset": spec["preset"], "command": "python -m dlcore.train RUN",
        "parameters": 4_082_010, "train_samples": 5000, "test_samples": 1000, "started": started,
        "attempts": 1, **({"ended": "2025-03-04T10:05:00+00:00", "wall_s": wall,
                           "stop_reason": reason} if finished else {}),
    })
    return path


def live_run(root: pathlib.Path, experiment: str = "mlp_l2", name: str = "adam", state: str = "finished",
             done: int = 4, epochs: int = 4, stamp: str = "20250304-100000-aaaaaa", **kw) -> pathlib.Path:
    """A live run folder under `root` (DLCORE_RUNS_DIR); running ones need an alive pid."""
    if state == "running":
        kw.setdefault("pid", os.getpid())
    return write_run(pathlib.Path(root) / f"{experiment}__{name}__{stamp}",
                     spec_dict(experiment, name, "class", epochs), state, done, **kw)


def cached_run(root: pathlib.Path, experiment: str = "mlp_l2", name: str = "adam", done: int = 6,
               scale: float = 1.0) -> pathlib.Path:
    """A shipped full-preset run under `root` (DLCORE_CACHED_RUNS_DIR), trained on a GPU."""
    return write_run(pathlib.Path(root) / experiment / name, spec_dict(experiment, name, "full", done),
                     "finished", done, hardware=GPU, started="2025-02-01T08:00:00+00:00", scale=scale)


def corrupt_metrics(path: pathlib.Path) -> None:
    """Append a half-written line, as a worker killed mid-write leaves it."""
    with open(pathlib.Path(path) / "metrics.jsonl", "a") as f:
        f.write('{"event": "epoch", "epo')
