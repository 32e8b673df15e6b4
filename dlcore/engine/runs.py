"""Run folders: the on-disk format every live and cached run shares, and its reader.

A run folder holds (JSON only; nothing is pickled or evaluated)::

    spec.json        the experiments.Spec, written once when the run is created
    status.json      {"state", "epoch", "epochs", "pid", "error", "reason", "created",
                      "started", "ended", "heartbeat", "checkpoint_epoch"} — rewritten atomically
    metrics.jsonl    append-only, one JSON object per line:
                       {"event": "batch", "epoch", "step", "loss", "accuracy", "lr", "batch_size", "wall_s"}
                       {"event": "epoch", "epoch", "loss", "accuracy", "val_loss", "val_accuracy",
                        "lr", "batch_size", "samples", "images", "epoch_s", "wall_s", "images_per_s"}
                       {"event": "resume", "epoch"}   (records after `epoch` written before it are superseded)
    provenance.json  hardware, library versions, backend, code revision, seed, times, command
    checkpoint-eNNNN.keras  the latest checkpoint, after epoch NNNN (never shipped)
    cancel           present when a cancel was asked for
    worker.log       the worker's output

`epoch` counts finished epochs from 1. Live runs live in ``runs/`` (git-ignored),
shipped results in ``cached_runs/<experiment>/<run>/``: same format.

The reader never raises on a bad folder: a corrupted or half-written file is
reported in the run's `warnings` and skipped.
"""
from __future__ import annotations

import dataclasses
import datetime as dt
import json
import os
import pathlib
import re
import secrets

import pandas as pd

REPO = pathlib.Path(__file__).resolve().parents[2]
STATES = ("queued", "running", "finished", "failed", "cancelled")
ACTIVE = ("queued", "running")
_SAFE = re.compile(r"[^A-Za-z0-9_.-]+")


def live_root() -> pathlib.Path:
    return pathlib.Path(os.environ.get("DLCORE_RUNS_DIR", REPO / "runs"))


def cached_root() -> pathlib.Path:
    return pathlib.Path(os.environ.get("DLCORE_CACHED_RUNS_DIR", REPO / "cached_runs"))


def now() -> str:
    return dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")


def safe_name(text: str) -> str:
    """A folder-name-safe version of `text` (no separators, no '..')."""
    name = _SAFE.sub("-", text).strip(".-")
    return name[:80] or "run"


def resolve(root: pathlib.Path, run_id: str) -> pathlib.Path:
    """The folder of `run_id` under `root`; refuses ids that would escape it."""
    root = pathlib.Path(root).resolve()
    path = (root / run_id).resolve()
    if path == root or root not in path.parents:
        raise ValueError(f"run id {run_id!r} points outside {root}")
    return path


def new_run_dir(root: pathlib.Path, experiment: str, name: str) -> pathlib.Path:
    """Create a fresh, uniquely named run folder (safe when two runs start at once)."""
    root = pathlib.Path(root)
    root.mkdir(parents=True, exist_ok=True)
    stamp = dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    while True:
        path = root / f"{safe_name(experiment)}__{safe_name(name)}__{stamp}-{secrets.token_hex(3)}"
        try:
            path.mkdir()  # atomic: fails if another process took the name
            return path
        except FileExistsError:
            continue


def write_json(path: pathlib.Path, obj) -> None:
    """Write JSON atomically: readers see the old or the new file, never half of one."""
    path = pathlib.Path(path)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(obj, indent=2, sort_keys=True, default=str))
    os.replace(tmp, path)


def append_jsonl(path: pathlib.Path, obj) -> None:
    with open(path, "a") as f:
        f.write(json.dumps(obj, default=float) + "\n")


def read_json(path: pathlib.Path, warnings: list | None = None) -> dict:
    try:
        value = json.loads(pathlib.Path(path).read_text())
        if not isinstance(value, dict):
            raise ValueError("not a JSON object")
        return value
    except FileNotFoundError:
        return {}
    except (ValueError, OSError) as err:
        if warnings is not None:
            warnings.append(f"{pathlib.Path(path).name} is unreadable ({err}); ignored")
        return {}


def update_status(run_dir: pathlib.Path, **changes) -> dict:
    status = read_json(pathlib.Path(run_dir) / "status.json")
    status.update(changes, updated=now())
    write_json(pathlib.Path(run_dir) / "status.json", status)
    return status


def read_records(run_dir: pathlib.Path, warnings: list | None = None) -> list[dict]:
    """The metric records of a run, with superseded ones (before a resume) dropped.

    A line that is not valid JSON (say, the half-written last line of a killed
    worker) is skipped with a warning.
    """
    path = pathlib.Path(run_dir) / "metrics.jsonl"
    records: list[dict] = []
    try:
        lines = path.read_text().splitlines()
    except FileNotFoundError:
        return records
    for n, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            rec = json.loads(line)
            if not isinstance(rec, dict) or "event" not in rec:
                raise ValueError("not a metrics record")
        except ValueError:
            if warnings is not None:
                warnings.append(f"metrics.jsonl line {n} is corrupted or half-written; skipped")
            continue
        if rec["event"] == "resume":
            # The run restarted from the checkpoint after epoch `rec["epoch"]`:
            # what the interrupted attempt wrote beyond it is superseded.
            # Batch records carry the 1-based epoch in progress, epoch records the
            # epoch they finished, so one rule drops both kinds.
            records = [r for r in records if r.get("epoch", 0) <= rec["epoch"]]
            continue
        records.append(rec)
    return records


@dataclasses.dataclass
class Run:
    """One run folder, read."""
    path: pathlib.Path
    source: str                  # "live" or "cached"
    spec: dict
    status: dict
    provenance: dict
    warnings: list

    @property
    def run_id(self) -> str:
        root = live_root() if self.source == "live" else cached_root()
        try:
            return str(self.path.relative_to(root))
        except ValueError:
            return self.path.name

    @property
    def state(self) -> str:
        return self.status.get("state", "unknown")

    @property
    def preset(self) -> str:
        return self.spec.get("preset", "?")

    @property
    def title(self) -> str:
        return f"{self.spec.get('experiment', '?')}/{self.spec.get('name', '?')}"

    @property
    def cancel_requested(self) -> bool:
        return (self.path / "cancel").exists() and self.state in ACTIVE

    @property
    def epochs_done(self) -> int:
        return int(self.status.get("epoch") or 0)

    @property
    def epochs_planned(self) -> int:
        return int(self.status.get("epochs") or self.spec.get("epochs") or 0)

    @property
    def cut_short(self) -> bool:
        """Stopped before its planned length for a reason other than its own stop rule."""
        return self.state in ("cancelled", "failed") and self.epochs_done < self.epochs_planned

    @property
    def length_note(self) -> str:
        """How much of its planned length a run did, in words ('' for a complete run)."""
        reason = self.status.get("reason")
        if self.cut_short:
            return f"cut short: {self.epochs_done} of {self.epochs_planned} epochs ({self.state})"
        if self.state == "finished" and reason:
            return f"stopped early: {reason}"
        return ""

    def records(self) -> list[dict]:
        return read_records(self.path, self.warnings)

    def epochs(self) -> pd.DataFrame:
        """One row per finished epoch."""
        return pd.DataFrame([r for r in self.records() if r["event"] == "epoch"])

    def batches(self) -> pd.DataFrame:
        """One row per logged batch."""
        return pd.DataFrame([r for r in self.records() if r["event"] == "batch"])


def read_run(path: pathlib.Path, source: str) -> Run | None:
    """Read a run folder, or None when it is not one (no readable spec)."""
    warnings: list[str] = []
    spec = read_json(pathlib.Path(path) / "spec.json", warnings)
    if not spec:
        return None
    status = read_json(pathlib.Path(path) / "status.json", warnings)
    provenance = read_json(pathlib.Path(path) / "provenance.json", warnings)
    return Run(pathlib.Path(path), source, spec, status, provenance, warnings)


def list_runs(include_live: bool = True, include_cached: bool = True) -> list[Run]:
    """Every readable run, live first (newest first), then cached (by name)."""
    found: list[Run] = []
    if include_live and live_root().is_dir():
        # Folder names end in their creation stamp (see new_run_dir): newest first.
        folders = sorted((p for p in live_root().iterdir() if p.is_dir()),
                         key=lambda p: p.name.rsplit("__", 1)[-1], reverse=True)
        live = [read_run(p, "live") for p in folders]
        found += [r for r in live if r is not None]
    if include_cached and cached_root().is_dir():
        for spec_file in sorted(cached_root().glob("*/*/spec.json")):
            run = read_run(spec_file.parent, "cached")
            if run is not None:
                found.append(run)
    return found


def summary(run: Run) -> dict:
    """One table row for a run: what the Runs page and the experiment pages list."""
    epochs = run.epochs()
    last = epochs.iloc[-1].to_dict() if len(epochs) else {}
    total = run.status.get("epochs") or run.spec.get("epochs")
    done = int(last.get("epoch", 0))
    ips = last.get("images_per_s")
    eta = None
    if run.state == "running" and len(epochs) and total:
        eta = float(epochs["epoch_s"].tail(3).mean()) * (total - done)
    return {
        "run": run.run_id, "source": run.source, "experiment": run.spec.get("experiment"),
        "name": run.spec.get("name"), "preset": run.preset, "state": run.state,
        "epoch": done, "epochs": total, "progress": done / total if total else 0.0,
        "loss": last.get("loss"), "accuracy": last.get("accuracy"),
        "val_loss": last.get("val_loss"), "val_accuracy": last.get("val_accuracy"),
        "wall_s": last.get("wall_s"), "images_per_s": ips, "eta_s": eta,
        "hardware": (run.provenance.get("hardware") or {}).get("device"),
        "notes": "; ".join(n for n in (run.spec.get("notes", ""), run.length_note) if n),
        "warnings": len(run.warnings),
    }
