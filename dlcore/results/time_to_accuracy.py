"""Epochs and wall-clock time a run took to reach a target test accuracy (SPEC Problem 4.3).

Hoffer et al. compare batch augmentation by how soon a network gets to a given
accuracy, not by where it ends: with M copies per sample every epoch does M
times the work, so fewer epochs can still cost more time. The homework asks
for the epochs and wall-clock to 92 % test accuracy, at most 100 epochs, and
the accuracy and time at the last epoch when 92 % is never reached. Every row
this module makes says which of the two it reports, so a shortened run that
stopped at 40 % can never read like one that reached the target.

Wall-clock is the run's own ``wall_s`` at that epoch (training plus the
per-epoch test evaluation, summed over resumes), from its metrics.jsonl.
Throughput is the median of the per-epoch ``images_per_s`` (training images,
all M copies counted), so the first epoch's compilation does not drag it down.
"""
from __future__ import annotations

import dataclasses
import math

import pandas as pd

from dlcore.engine import runs
from dlcore.results import tables

TARGET = 0.92


@dataclasses.dataclass(frozen=True)
class TimeToAccuracy:
    """When (or whether) one run reached `target` on `metric`."""
    target: float
    reached: bool
    epoch: int | None            # first epoch at or above target; else the last finished epoch
    wall_s: float | None         # wall-clock at that epoch
    accuracy: float | None       # the metric at that epoch
    epochs_run: int              # finished epochs in all

    def __str__(self) -> str:
        return self.describe()

    def describe(self) -> str:
        """What this row reports, in words: reached at epoch e, or the last epoch's value."""
        if self.epoch is None:
            return "no finished epoch yet"
        if self.reached:
            return f"reached {self.target:.0%} at epoch {self.epoch}"
        return f"{self.target:.0%} not reached: accuracy at the last epoch ({self.epoch})"


def time_to_accuracy(epochs: pd.DataFrame, target: float = TARGET,
                     metric: str = "val_accuracy") -> TimeToAccuracy:
    """The first epoch whose `metric` is ≥ `target`, or the last epoch if none is.

    `epochs` is a run's :meth:`dlcore.engine.runs.Run.epochs` frame (one row per
    finished epoch, with `epoch`, `wall_s` and `metric` columns).
    """
    if not 0 < target <= 1:
        raise ValueError(f"the target accuracy must be in (0, 1], not {target!r}")
    if epochs.empty or metric not in epochs:
        return TimeToAccuracy(target, False, None, None, None, len(epochs))
    rows = epochs.dropna(subset=[metric]).sort_values("epoch")
    if rows.empty:
        return TimeToAccuracy(target, False, None, None, None, len(epochs))
    hits = rows[rows[metric] >= target]
    row = hits.iloc[0] if len(hits) else rows.iloc[-1]
    wall = row.get("wall_s")
    return TimeToAccuracy(target, bool(len(hits)), int(row["epoch"]),
                          None if wall is None or pd.isna(wall) else float(wall),
                          float(row[metric]), int(rows["epoch"].max()))


def copies_per_sample(spec: dict) -> int:
    """M: how many augmented copies of each sample a batch carries (1 without batch augmentation)."""
    augment = spec.get("augment") or {}
    return int(augment.get("M", 1)) if augment.get("name") == "batch_augment" else 1


def images_per_second(epochs: pd.DataFrame) -> float | None:
    """Median training throughput over the finished epochs (all M copies counted)."""
    if epochs.empty or "images_per_s" not in epochs:
        return None
    values = epochs["images_per_s"].dropna()
    return float(values.median()) if len(values) else None


def unfinished_note(run: runs.Run, t: TimeToAccuracy) -> str:
    """'' for a run that ended normally; else what it still lacks, so a run cut short (cancelled,
    failed, still training) is never read as a full-length result."""
    if run.state == "finished" or t.reached:
        return ""
    total = run.status.get("epochs") or run.spec.get("epochs")
    if run.state == "queued":
        return f"; queued, {total} epochs to run"
    state = "still running" if run.state == "running" else run.state
    return f"; run {state} after {t.epochs_run} of {total} epochs"


def comparison_rows(runs_list: list[runs.Run], target: float = TARGET) -> list[dict]:
    """One row per run, ordered by M: epochs and wall-clock to `target`, or the last epoch's."""
    rows = []
    for run, label in zip(runs_list, tables.run_labels(runs_list)):
        if run.damaged:
            continue
        epochs = run.epochs()
        t = time_to_accuracy(epochs, target)
        ips = images_per_second(epochs)
        rows.append({
            "run": label, "M": copies_per_sample(run.spec), "preset": run.preset, "source": run.source,
            "state": run.state, "reports": t.describe() + unfinished_note(run, t), "epochs": t.epoch,
            "wall-clock": tables.duration_text(t.wall_s), "wall_s": t.wall_s,
            "test accuracy": t.accuracy, "images/s": None if ips is None or math.isnan(ips) else ips,
            "hardware": tables.run_hardware(run),
            "backend": run.provenance.get("backend") or (run.provenance.get("versions") or {}).get("backend"),
            "date": tables.run_date(run), "notes": tables.run_notes(run),
        })
    return sorted(rows, key=lambda r: (r["M"], r["source"] != "live", r["run"]))


def comparison_table(runs_list: list[runs.Run], target: float = TARGET) -> pd.DataFrame:
    """:func:`comparison_rows` as a DataFrame (columns fixed even when there are no runs)."""
    columns = ["run", "M", "preset", "source", "state", "reports", "epochs", "wall-clock", "wall_s",
               "test accuracy", "images/s", "hardware", "backend", "date", "notes"]
    return pd.DataFrame(comparison_rows(runs_list, target), columns=columns)
