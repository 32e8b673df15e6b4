"""Frames and tables from run folders: what the charts draw and what sits next to them.

Pure pandas, no Altair: labels, durations, long frames of epochs and batches,
run rows, provenance and spec tables.
"""
from __future__ import annotations

import pandas as pd

from dlcore.core import rangetest, schedules
from dlcore.engine import runs
from dlcore.results import health

EPOCH_METRICS = ("loss", "accuracy", "val_loss", "val_accuracy", "lr", "batch_size",
                 "images_per_s", "epoch_s")
BATCH_COLUMNS = ("epoch", "step", "loss", "accuracy", "lr", "batch_size", "wall_s")
FRAME_COLUMNS = ("run", "label", "source", "preset", "state")


# --- Labels and durations ------------------------------------------------------------------

def run_label(run: runs.Run) -> str:
    """What a legend calls a run: experiment/name, preset, and "cached" for shipped results."""
    tail = f"{run.preset}, cached" if run.source == "cached" else run.preset
    if run.cut_short:
        tail += f", {run.epochs_done}/{run.epochs_planned} epochs"
    return f"{run.title} ({tail})"


def run_labels(runs_list: list[runs.Run]) -> list[str]:
    """`run_label` of each run, made unique (two live runs of one spec get their folder stamps)."""
    labels = [run_label(r) for r in runs_list]
    for i, (run, label) in enumerate(zip(runs_list, labels)):
        if labels.count(label) > 1:
            labels[i] = f"{label} · {run.path.name.rsplit('__', 1)[-1]}"
    return labels


def duration_text(seconds) -> str:
    """A wall-clock time a person reads at a glance: '42 s', '3 min 05 s', '2 h 07 min'."""
    if seconds is None or pd.isna(seconds):
        return ""
    s = int(round(float(seconds)))
    if s < 60:
        return f"{float(seconds):.1f} s" if seconds < 10 else f"{s} s"
    if s < 3600:
        return f"{s // 60} min {s % 60:02d} s"
    return f"{s // 3600} h {s % 3600 // 60:02d} min"


# --- Frames ----------------------------------------------------------------------------------

def _identity(run: runs.Run, label: str) -> dict:
    return {"run": run.run_id, "label": label, "source": run.source, "preset": run.preset,
            "state": run.state}


def epochs_frame(runs_list: list[runs.Run]) -> pd.DataFrame:
    """One row per (run, finished epoch, metric): the long frame the epoch charts take.

    Columns: run, label, source, preset, state, epoch, wall_s, wall_clock, metric, value.
    """
    parts = []
    for run, label in zip(runs_list, run_labels(runs_list)):
        epochs = pd.DataFrame() if run.damaged else run.epochs()  # a damaged run is never drawn
        if epochs.empty:
            continue
        present = [m for m in EPOCH_METRICS if m in epochs]
        wall = epochs["wall_s"] if "wall_s" in epochs else pd.Series(float("nan"), index=epochs.index)
        long = epochs.assign(wall_s=wall).melt(id_vars=["epoch", "wall_s"], value_vars=present,
                                               var_name="metric", value_name="value")
        parts.append(long.assign(**_identity(run, label)))
    columns = [*FRAME_COLUMNS, "epoch", "wall_s", "wall_clock", "metric", "value"]
    if not parts:
        return pd.DataFrame(columns=columns)
    frame = pd.concat(parts, ignore_index=True).dropna(subset=["value"])
    frame["wall_clock"] = frame["wall_s"].map(duration_text)
    return frame[columns].reset_index(drop=True)


def batches_frame(runs_list: list[runs.Run]) -> pd.DataFrame:
    """One row per logged batch (wide): run, label, source, preset, state, epoch, step, loss,
    accuracy, lr, batch_size, wall_s, wall_clock. The frame the lr/batch-size/step charts take."""
    parts = []
    for run, label in zip(runs_list, run_labels(runs_list)):
        batches = pd.DataFrame() if run.damaged else run.batches()
        if batches.empty:
            continue
        batches = batches.reindex(columns=list(BATCH_COLUMNS))
        parts.append(batches.assign(**_identity(run, label)))
    columns = [*FRAME_COLUMNS, *BATCH_COLUMNS, "wall_clock"]
    if not parts:
        return pd.DataFrame(columns=columns)
    frame = pd.concat(parts, ignore_index=True)
    frame["wall_clock"] = frame["wall_s"].map(duration_text)
    return frame[columns]


def available_metrics(frame: pd.DataFrame) -> list[str]:
    """The metrics of an epochs_frame that have at least one value, in menu order."""
    have = set(frame["metric"]) if len(frame) else set()
    return [m for m in EPOCH_METRICS if m in have]


def smoothed(frame: pd.DataFrame, column: str = "loss", beta: float | None = None) -> pd.Series:
    """Bias-corrected EMA of `column`, per run, in step order (dlcore.core.rangetest.ema; beta
    None picks rangetest.ema_beta for each run's length)."""
    out = pd.Series(float("nan"), index=frame.index, dtype=float)
    for _, part in frame.sort_values("step" if "step" in frame else column).groupby("run", sort=False):
        b = rangetest.ema_beta(len(part)) if beta is None else beta
        out[part.index] = rangetest.ema(part[column].to_numpy(dtype=float), b)
    return out


# --- Chart builders --------------------------------------------------------------------------


def run_date(run: runs.Run) -> str:
    """The day a run started (or was queued), YYYY-MM-DD; '' when unknown."""
    when = run.provenance.get("started") or run.status.get("started") or run.status.get("created") or ""
    return str(when)[:10]


def run_hardware(run: runs.Run) -> str:
    hardware = run.provenance.get("hardware") or {}
    return hardware.get("device") or ("not started yet" if run.state == "queued" else "hardware unknown")


# Keras's BatchNormalization momentum: what a model without "bn_momentum" in its spec trains with.
KERAS_BN_MOMENTUM = 0.99


def training_setup(run: runs.Run) -> str:
    """What a run trained with, read from its own spec: the schedule with its numbers, the
    optimizer, the batch, and batch norm's momentum where the model has batch norm."""
    spec = run.spec
    try:
        text = schedules.describe(spec.get("schedule") or {})
    except (KeyError, TypeError, ValueError):
        text = f"schedule {(spec.get('schedule') or {}).get('name', '?')}"
    optimizer = spec.get("optimizer") or {}
    name = optimizer.get("name", "?")
    text += f"; {name.upper() if name == 'sgd' else name}"
    if "momentum" in optimizer:
        text += f" with momentum {optimizer['momentum']:g}"
    text += f", batch {spec.get('batch_size', '?')}"
    model = spec.get("model") or {}
    if model.get("name") in ("mini_googlenet", "resnet_v1"):
        bn = model.get("bn_momentum", KERAS_BN_MOMENTUM)
        text += f", batch-norm momentum {bn:g}" + (" (Keras's default)" if "bn_momentum" not in model else "")
    return text


def run_notes(run: runs.Run) -> str:
    """The spec's notes; a shortened preset says so even when its notes are empty."""
    notes = run.spec.get("notes") or ""
    if not notes and run.preset != "full":
        notes = f"{run.preset} preset: shortened (the homework asks for more)"
    return "; ".join(n for n in (notes, run.length_note) if n)


def run_row(run: runs.Run, label: str | None = None) -> dict:
    """One run as display values: what the table shows and the run view's status line."""
    s = runs.summary(run)
    batch, batches = run.status.get("batch"), run.status.get("batches")
    # A running run moves its bar within an epoch too, from its batch counter
    # (batch == batches is the end of an epoch that the epoch records already count).
    progress = s["progress"]
    if run.state == "running" and batch and batches and s["epochs"]:
        progress = min(1.0, (s["epoch"] + (batch % batches) / batches) / s["epochs"])
    ips = s["images_per_s"]
    return {
        "run": label or run_label(run), "state": run.state, "source": run.source,
        "preset": run.preset if run.preset == "full" else f"{run.preset} (shortened)",
        "progress": progress, "epoch": f"{s['epoch']}/{s['epochs'] if s['epochs'] else '?'}",
        "ETA": duration_text(s["eta_s"]), "wall-clock": duration_text(s["wall_s"]),
        "images/s": None if ips is None or pd.isna(ips) else float(ips),
        "val accuracy": s["val_accuracy"], "flag": health.of_run(run).flag,
        "hardware": run_hardware(run), "started": run_date(run),
        "notes": run_notes(run), "warnings": s["warnings"], "id": s["run"],
    }


def runs_table(runs_list: list[runs.Run]) -> pd.DataFrame:
    """One display row per run (:func:`run_row`), in the given order (live first, then cached)."""
    return pd.DataFrame([run_row(r, label) for r, label in zip(runs_list, run_labels(runs_list))])


def provenance_table(run: runs.Run) -> pd.DataFrame:
    """Where a run's numbers come from, one readable (field, value) row each; empty fields dropped."""
    p, st_ = run.provenance, run.status
    hw, versions = p.get("hardware") or {}, p.get("versions") or {}
    version_text = ", ".join(f"{k} {v}" for k, v in versions.items() if k != "backend")
    rows = [
        ("run", f"{run.title} ({run.source}: {run.run_id})"),
        ("preset", run.preset), ("notes", run_notes(run)), ("state", run.state),
        ("stop reason", p.get("stop_reason") or st_.get("reason")), ("error", st_.get("error")),
        ("device", hw.get("device")), ("GPU", hw.get("gpu")), ("CPU", hw.get("cpu")),
        ("CPU cores", hw.get("cpu_cores")), ("platform", hw.get("platform")),
        ("backend", p.get("backend") or versions.get("backend")), ("versions", version_text),
        ("code revision", p.get("code_revision")), ("seed", p.get("seed", run.spec.get("seed"))),
        ("parameters", p.get("parameters")), ("training samples", p.get("train_samples")),
        ("test samples", p.get("test_samples")),
        ("started", p.get("started") or st_.get("started")), ("ended", p.get("ended") or st_.get("ended")),
        ("wall-clock", duration_text(p.get("wall_s") if p.get("wall_s") is not None else st_.get("wall_s"))),
        ("attempts", p.get("attempts")), ("command", p.get("command")),
    ]
    kept = [(k, str(v)) for k, v in rows if v not in (None, "", {})]
    return pd.DataFrame(kept, columns=["field", "value"])


def shared_apart(frame: pd.DataFrame, keep: tuple = ("run",)) -> tuple[list, dict]:
    """Split a table of runs into the columns that differ between its rows and the values that
    every row shares: (the columns that differ, {column: the value every row has}).

    A table of five runs that differ only in their optimizer then shows the run and the
    optimizer, and says the data, model, epochs… once. The `keep` columns (what names a row)
    are never called shared; in a table of one row every other column is.
    """
    shared = {}
    if len(frame):
        for column in frame.columns:
            if column in keep:
                continue
            try:
                same = frame[column].nunique(dropna=False) <= 1
            except TypeError:  # unhashable cells (lists, dicts) are never called shared
                same = False
            if same:
                shared[column] = frame[column].iloc[0]
    return [c for c in frame.columns if c not in shared], shared


def specs_table(specs: list) -> pd.DataFrame:
    """What a list of experiments.Spec would run, one row each (shown before starting them)."""
    rows = []
    for s in specs:
        rows.append({
            "run": s.label, "data": s.dataset + (f" ({s.subset}/class)" if s.subset else ""),
            "model": ", ".join(f"{k}={v}" for k, v in s.model.items()),
            "optimizer": f"{s.optimizer['name']} lr={s.optimizer['learning_rate']:g}",
            "schedule": s.schedule["name"] + (f", warm-up {s.schedule['warmup']} steps"
                                               if s.schedule.get("warmup") else ""),
            "augmentation": s.augment["name"] + (
                f" M={s.augment['M']}" if "M" in s.augment else ""),
            "epochs": s.epochs, "batch": s.batch_size, "notes": s.notes,
        })
    return pd.DataFrame(rows)


def metrics_csv(run: runs.Run) -> str:
    """Every metric record of a run (batch and epoch lines) as CSV text, for download."""
    return pd.DataFrame(run.records()).to_csv(index=False)


# --- Problem 4: validation error with the target accuracy marked (app_pages/cutout.py) -----------


def runs_provenance(runs_list: list[runs.Run]) -> pd.DataFrame:
    """Where each run's numbers come from, one row per run: preset (and what it shortened),
    state, hardware, backend, wall-clock, date. Shown under an experiment page's charts."""
    rows = []
    for run, label in zip(runs_list, run_labels(runs_list)):
        p = run.provenance
        wall = p.get("wall_s") if p.get("wall_s") is not None else run.status.get("wall_s")
        rows.append({
            "run": label, "preset": run.preset if run.preset == "full" else f"{run.preset} (shortened)",
            "state": run.state, "hardware": run_hardware(run),
            "backend": p.get("backend") or (p.get("versions") or {}).get("backend") or "",
            "wall-clock": duration_text(wall), "date": run_date(run), "notes": run_notes(run),
        })
    return pd.DataFrame(rows, columns=["run", "preset", "state", "hardware", "backend", "wall-clock", "date",
                                       "notes"])


def range_test_curve_frame(suggestion: rangetest.RangeTestSuggestion | None, batches: pd.DataFrame) -> pd.DataFrame:
    """The bold curve of :func:`curves.range_test_chart`: the suggestion's smoothed loss at its own rates,
    or, when the records cannot be read yet, the mean loss per distinct rate (lr, loss)."""
    if suggestion is not None:
        frame = pd.DataFrame({"lr": suggestion.smoothed_lr, "loss": suggestion.smoothed})
    elif len(batches):
        lr, loss = rangetest.range_test_curve(batches["lr"], batches["loss"])
        frame = pd.DataFrame({"lr": lr, "loss": loss})
    else:
        frame = pd.DataFrame({"lr": [], "loss": []})
    return frame.dropna().reset_index(drop=True)
