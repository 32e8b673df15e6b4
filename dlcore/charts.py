"""Altair charts of runs, and the frames, tables and captions that go with them.

Every experiment page and the Runs page draw training curves through these
builders, so a curve looks the same wherever it appears and every figure can
name where its numbers came from (STYLE.md: a chart's caption names its runs).

Three layers, each a pure function:
  - frames: a list of :class:`dlcore.runs.Run` → long pandas DataFrames
    (:func:`epochs_frame`, :func:`batches_frame`);
  - builders: a frame → an Altair chart (:func:`metric_vs_epoch`,
    :func:`train_val_curves`, :func:`metric_vs_lr`, :func:`metric_vs_batch_size`,
    :func:`loss_vs_step`);
  - words: :func:`runs_caption`, :func:`runs_table`, :func:`provenance_table`,
    :func:`specs_table` for what is shown next to a chart.

A live run is redrawn by calling the builder again on fresh frames. A builder
returns the same Vega-Lite spec for the same arguments (named selections,
views and datasets, never Altair's auto-numbered ``param_7`` or a content
hash), so a redraw keeps the chart's identity and the user's zoom as far as
Streamlit allows: Streamlit 1.67 keeps it while the data is unchanged (cached
runs, between logged points) and resets it when new points arrive.

No Keras here: the Runs page and the cached results must open instantly.
"""
from __future__ import annotations

import altair as alt
import pandas as pd

from dlcore import rangetest, runs

# Per-epoch quantities a curve can show, in the order a menu offers them.
EPOCH_METRICS = ("loss", "accuracy", "val_loss", "val_accuracy", "lr", "batch_size",
                 "images_per_s", "epoch_s")
METRIC_TITLES = {
    "loss": "training loss", "accuracy": "training accuracy",
    "val_loss": "validation loss", "val_accuracy": "validation accuracy",
    "lr": "learning rate", "batch_size": "batch size", "images_per_s": "images/s",
    "epoch_s": "seconds per epoch",
}
# The error form of Problem 4's plots: error = 1 − accuracy.
ERROR_TITLES = {"accuracy": "training error", "val_accuracy": "validation error"}
BATCH_COLUMNS = ("epoch", "step", "loss", "accuracy", "lr", "batch_size", "wall_s")
FRAME_COLUMNS = ("run", "label", "source", "preset", "state")

# Live runs solid; cached (shipped) ones dashed and lighter, so the two never look alike.
SOURCE_DASH = alt.Scale(domain=["live", "cached"], range=[[1, 0], [6, 3]])
CACHED_OPACITY = 0.55
HEIGHT = 300
EPOCH_X = alt.X("epoch:Q", title="epoch", axis=alt.Axis(tickMinStep=1, format="d"))


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
        epochs = run.epochs()
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
        batches = run.batches()
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
    """Bias-corrected EMA of `column`, per run, in step order (dlcore.rangetest.ema; beta
    None picks rangetest.ema_beta for each run's length)."""
    out = pd.Series(float("nan"), index=frame.index, dtype=float)
    for _, part in frame.sort_values("step" if "step" in frame else column).groupby("run", sort=False):
        b = rangetest.ema_beta(len(part)) if beta is None else beta
        out[part.index] = rangetest.ema(part[column].to_numpy(dtype=float), b)
    return out


# --- Chart builders --------------------------------------------------------------------------

def _zoom(chart: alt.Chart, view: str) -> alt.Chart:
    """Horizontal zoom/pan with stable names, so a redraw with new data keeps the user's zoom."""
    zoom = alt.selection_interval(bind="scales", encodings=["x"], name=f"{view}_zoom")
    return chart.add_params(zoom).properties(name=view)


def _named(name: str) -> alt.NamedData:
    # Data by a fixed name rather than by a hash of its content (Altair's and
    # Streamlit's default), so the spec stays the same while a live run grows.
    return alt.NamedData(name)


def _datasets(chart, **frames: pd.DataFrame):
    """Attach each frame as the dataset its `_named` name refers to (NaN as JSON null)."""
    records = {name: f.astype(object).where(f.notna(), None).to_dict("records") for name, f in frames.items()}
    return chart.properties(datasets=records)


def _colour(frame: pd.DataFrame) -> alt.Color:
    # The domain in frame order keeps each run's colour fixed while live runs grow.
    domain = list(dict.fromkeys(frame["label"])) if len(frame) else []
    return alt.Color("label:N", title="run", scale=alt.Scale(domain=domain),
                     legend=alt.Legend(orient="bottom", columns=2, labelLimit=400))


def metric_title(metric: str, error: bool = False) -> str:
    """An axis title in words: 'validation error' for val_accuracy in the error form."""
    return ERROR_TITLES[metric] if error and metric in ERROR_TITLES else METRIC_TITLES.get(metric, metric)


def _error_form(frame: pd.DataFrame, metric: str, error: bool) -> tuple[pd.DataFrame, str]:
    if not error:
        return frame, METRIC_TITLES.get(metric, metric)
    if metric not in ERROR_TITLES:
        raise ValueError(f"the error form (1 − accuracy) needs an accuracy metric, not {metric!r}")
    return frame.assign(value=1.0 - frame["value"]), ERROR_TITLES[metric]


def metric_vs_epoch(frame: pd.DataFrame, metric: str = "loss", error: bool = False,
                    dashed_cached: bool = True, log_y: bool = False, view: str = "epochs") -> alt.Chart:
    """One metric vs epoch, several runs overlaid (colour = run label).

    `frame` is an :func:`epochs_frame`. error=True draws 1 − accuracy ("validation
    error" for val_accuracy, as Problem 4 plots it). dashed_cached draws cached
    runs dashed and lighter next to live ones.
    """
    data, title = _error_form(frame[frame["metric"] == metric], metric, error)
    encoding = dict(
        x=EPOCH_X,
        y=alt.Y("value:Q", title=title, scale=alt.Scale(type="log" if log_y else "linear", zero=False)),
        color=_colour(data),
        tooltip=[alt.Tooltip("label:N", title="run"), alt.Tooltip("epoch:Q", title="epoch"),
                 alt.Tooltip("value:Q", title=title, format=".4g"),
                 alt.Tooltip("wall_clock:N", title="wall-clock")],
    )
    if dashed_cached:
        encoding.update(
            strokeDash=alt.StrokeDash("source:N", title="source", scale=SOURCE_DASH,
                                      legend=alt.Legend(orient="bottom", symbolType="stroke")),
            opacity=alt.condition(alt.datum.source == "cached", alt.value(CACHED_OPACITY), alt.value(1.0)))
    chart = alt.Chart(_named(view)).mark_line(point=True).encode(**encoding).properties(height=HEIGHT)
    return _datasets(_zoom(chart, view), **{view: data})


def train_val_curves(frame: pd.DataFrame, quantity: str = "loss", view: str = "train_val") -> alt.Chart:
    """Training and validation curves of `quantity` ("loss", "accuracy" or "error") vs epoch.

    One run: colour = training/validation. Several: colour = run, dash = training/validation.
    """
    base = "accuracy" if quantity == "error" else quantity
    if base not in ("loss", "accuracy"):
        raise ValueError(f"quantity must be loss, accuracy or error, not {quantity!r}")
    data = frame[frame["metric"].isin([base, f"val_{base}"])].copy()
    data["split"] = data["metric"].map({base: "training", f"val_{base}": "validation"})
    if quantity == "error":
        data["value"] = 1.0 - data["value"]
    split = alt.Scale(domain=["training", "validation"])
    several = data["run"].nunique() > 1
    encoding = dict(
        x=EPOCH_X,
        y=alt.Y("value:Q", title=quantity, scale=alt.Scale(zero=False)),
        color=_colour(data) if several else alt.Color("split:N", title="", scale=split,
                                                       legend=alt.Legend(orient="bottom")),
        tooltip=[alt.Tooltip("label:N", title="run"), alt.Tooltip("split:N", title="on"),
                 alt.Tooltip("epoch:Q"), alt.Tooltip("value:Q", title=quantity, format=".4g"),
                 alt.Tooltip("wall_clock:N", title="wall-clock")],
    )
    if several:
        encoding["strokeDash"] = alt.StrokeDash("split:N", title="", scale=split)
    chart = alt.Chart(_named(view)).mark_line(point=True).encode(**encoding).properties(height=HEIGHT)
    return _datasets(_zoom(chart, view), **{view: data})


def loss_vs_step(frame: pd.DataFrame, metric: str = "loss", view: str = "steps") -> alt.Chart:
    """Batch-level `metric` vs training step: what streams in while an epoch is still running.

    `frame` is a :func:`batches_frame`; each point is the mean over the batches
    since the previous point (the worker logs every `log_every` batches).
    """
    data = frame.dropna(subset=[metric])
    title = f"batch {metric}"
    chart = alt.Chart(_named(view)).mark_line().encode(
        x=alt.X("step:Q", title="step (batches)", axis=alt.Axis(tickMinStep=1, format="d")),
        y=alt.Y(f"{metric}:Q", title=title, scale=alt.Scale(zero=False)),
        color=_colour(data),
        tooltip=[alt.Tooltip("label:N", title="run"), "epoch:Q", "step:Q",
                 alt.Tooltip(f"{metric}:Q", format=".4g"), alt.Tooltip("wall_clock:N", title="wall-clock")],
    ).properties(height=HEIGHT)
    return _datasets(_zoom(chart, view), **{view: data})


def _raw_and_smoothed(frame: pd.DataFrame, x: alt.X, x_field: str, metric: str, beta: float | None,
                      rules: dict[str, float] | None, view: str) -> alt.LayerChart:
    data = frame.dropna(subset=[metric, x_field])
    data = data[data[x_field] > 0]  # a log axis has no place for 0
    data = data.assign(smoothed=data["smoothed"] if "smoothed" in data else smoothed(data, metric, beta))
    y_title = METRIC_TITLES.get(metric, metric)
    common = dict(x=x, color=_colour(data), order="step:Q")
    tips = [alt.Tooltip("label:N", title="run"), alt.Tooltip(f"{x_field}:Q", format=".3g"), "step:Q",
            alt.Tooltip(f"{metric}:Q", format=".4g"), alt.Tooltip("smoothed:Q", format=".4g"),
            alt.Tooltip("wall_clock:N", title="wall-clock")]
    raw = alt.Chart(_named(view)).mark_line(opacity=0.3).encode(
        y=alt.Y(f"{metric}:Q", title=y_title, scale=alt.Scale(zero=False)), tooltip=tips, **common)
    smooth = alt.Chart(_named(view)).mark_line(strokeWidth=2.5).encode(y="smoothed:Q", tooltip=tips, **common)
    layers, frames = [_zoom(raw, view), smooth], {view: data}
    if rules:
        marks = pd.DataFrame({"name": list(rules), "at": [float(v) for v in rules.values()]})
        marks["text"] = [f"{n} = {v:.2g}" for n, v in zip(marks["name"], marks["at"])]
        frames[f"{view}_rules"] = marks
        rule = alt.Chart(_named(f"{view}_rules")).mark_rule(color="firebrick", strokeDash=[4, 3]).encode(
            x="at:Q", tooltip=[alt.Tooltip("name:N"), alt.Tooltip("at:Q", format=".3g")])
        text = alt.Chart(_named(f"{view}_rules")).mark_text(
            align="left", dx=4, dy=-6, baseline="top", color="firebrick", y=0).encode(x="at:Q", text="text:N")
        layers += [rule, text]
    subtitle = "faint: every logged batch; bold: smoothed (exponential moving average)"
    chart = alt.layer(*layers).properties(
        height=HEIGHT, title=alt.TitleParams(y_title, subtitle=subtitle, anchor="start", fontSize=13))
    return _datasets(chart, **frames)


def metric_vs_lr(frame: pd.DataFrame, metric: str = "loss", rules: dict[str, float] | None = None,
                 beta: float | None = None, view: str = "lr") -> alt.LayerChart:
    """`metric` vs learning rate on a log axis (the LR range test), raw and smoothed.

    `frame` is a :func:`batches_frame` (a precomputed `smoothed` column is used as is).
    rules maps a label to a rate, e.g. {"lr_min": 1e-4, "lr_max": 3e-2}: drawn as
    labelled vertical lines.
    """
    x = alt.X("lr:Q", title="learning rate (log scale)", scale=alt.Scale(type="log"),
              axis=alt.Axis(format=".0e"))
    return _raw_and_smoothed(frame, x, "lr", metric, beta, rules, view)


def metric_vs_batch_size(frame: pd.DataFrame, metric: str = "loss", rules: dict[str, float] | None = None,
                         beta: float | None = None, view: str = "batch_size") -> alt.LayerChart:
    """`metric` vs batch size on a log2 axis (Problem 2.3: the batch grows ×2), raw and smoothed."""
    x = alt.X("batch_size:Q", title="batch size (log₂ scale)", scale=alt.Scale(type="log", base=2),
              axis=alt.Axis(values=[2 ** k for k in range(0, 21)], format="d"))
    return _raw_and_smoothed(frame, x, "batch_size", metric, beta, rules, view)


# --- Words next to a chart -------------------------------------------------------------------

def run_date(run: runs.Run) -> str:
    """The day a run started (or was queued), YYYY-MM-DD; '' when unknown."""
    when = run.provenance.get("started") or run.status.get("started") or run.status.get("created") or ""
    return str(when)[:10]


def run_hardware(run: runs.Run) -> str:
    hardware = run.provenance.get("hardware") or {}
    return hardware.get("device") or ("not started yet" if run.state == "queued" else "hardware unknown")


def runs_caption(runs_list: list[runs.Run], what: str = "Curves") -> str:
    """'<what> from: experiment/name (preset preset, hardware, date, live|cached run id); …'."""
    if not runs_list:
        return f"{what}: no runs."
    parts = []
    for run in runs_list:
        where = "cached" if run.source == "cached" else "live"
        bits = [f"{run.preset} preset", run_hardware(run), run_date(run) or "date unknown",
                f"{where} run {run.run_id}"]
        parts.append(f"{run.title} ({', '.join(bits)})")
    return f"{what} from: " + "; ".join(parts) + "."


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
        "val accuracy": s["val_accuracy"], "hardware": run_hardware(run), "started": run_date(run),
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


def specs_table(specs: list) -> pd.DataFrame:
    """What a list of experiments.Spec would run, one row each (shown before starting them)."""
    rows = []
    for s in specs:
        rows.append({
            "run": s.label, "data": s.dataset + (f" ({s.subset}/class)" if s.subset else ""),
            "model": ", ".join(f"{k}={v}" for k, v in s.model.items()),
            "optimizer": f"{s.optimizer['name']} lr={s.optimizer['learning_rate']:g}",
            "schedule": s.schedule["name"], "augmentation": s.augment["name"] + (
                f" M={s.augment['M']}" if "M" in s.augment else ""),
            "epochs": s.epochs, "batch": s.batch_size, "notes": s.notes,
        })
    return pd.DataFrame(rows)


def metrics_csv(run: runs.Run) -> str:
    """Every metric record of a run (batch and epoch lines) as CSV text, for download."""
    return pd.DataFrame(run.records()).to_csv(index=False)


# --- Problem 4: validation error with the target accuracy marked (pages/cutout.py) -----------

def _height_with_legend(frame: pd.DataFrame) -> int:
    """Streamlit sizes the whole element (plot, axes and the legend below them) to the spec's
    height, so a plot HEIGHT tall needs room for the legend's rows too (two labels a row)."""
    legend_rows = -(-frame["label"].nunique() // 2) + 1 if len(frame) else 0
    return HEIGHT + 60 + 24 * legend_rows


def metric_vs_epoch_with_legend_room(frame: pd.DataFrame, metric: str = "loss", error: bool = False,
                                     view: str = "epochs") -> alt.Chart:
    """:func:`metric_vs_epoch`, its plot kept HEIGHT tall however many runs the legend lists."""
    return metric_vs_epoch(frame, metric, error=error, view=view).properties(height=_height_with_legend(frame))


def error_vs_epoch_with_target(frame: pd.DataFrame, target: float = 0.92, metric: str = "val_accuracy",
                               view: str = "target") -> alt.LayerChart:
    """Validation error (1 − accuracy) vs epoch, runs overlaid as in Hoffer et al. Fig. 3a,
    with a dashed horizontal rule at the target's error (92 % accuracy = 8 % error).

    `frame` is an :func:`epochs_frame`; cached runs dashed and lighter, as in metric_vs_epoch.
    """
    curves = metric_vs_epoch(frame, metric, error=True, view=view).copy()
    # A layer carries the datasets, its members only refer to them by name.
    datasets, curves.datasets = curves.datasets, alt.Undefined
    mark = pd.DataFrame({"value": [1.0 - target],
                         "text": [f"target: {target:.0%} accuracy ({1.0 - target:.0%} error)"]})
    rule = alt.Chart(_named(f"{view}_target")).mark_rule(color="firebrick", strokeDash=[4, 3]).encode(
        y="value:Q")
    text = alt.Chart(_named(f"{view}_target")).mark_text(align="left", dx=4, dy=-6, color="firebrick",
                                                         x=0).encode(y="value:Q", text="text:N")
    return alt.layer(curves, rule, text).properties(
        height=_height_with_legend(frame), datasets={**datasets, f"{view}_target": mark.to_dict("records")})


# --- Problem 2 (cyclical_lr page): the range test read, and where runs came from ---------------

def range_test_chart(batches: pd.DataFrame, curve: pd.DataFrame, rules: dict[str, float] | None = None,
                     view: str = "range_test") -> alt.LayerChart:
    """Training loss vs learning rate (log x) of one range test: every batch record faint, the
    curve the suggestion reads (`curve`: columns lr, loss) bold, rules as labelled vertical lines.

    Unlike :func:`metric_vs_lr`, the bold curve has its own rates: a smoothed sweep is read
    at the average rate of the points it averages (dlcore.rangetest), and a discrete test is
    one point per candidate rate. The loss axis stops at twice the median loss, so the
    blow-up at the top rates does not flatten the part where lr_min and lr_max are read.
    """
    raw = batches.dropna(subset=["loss", "lr"])
    raw = raw[(raw["lr"] > 0) & raw["loss"].map(lambda v: abs(v) != float("inf"))]
    read = curve.dropna(subset=["lr", "loss"])
    top = 2.0 * float(raw["loss"].median()) if len(raw) else None
    domain = [0.0, top] if top and top > 0 else alt.Undefined
    x = alt.X("lr:Q", title="learning rate (log scale)", scale=alt.Scale(type="log"), axis=alt.Axis(format=".0e"))
    y = alt.Y("loss:Q", title="training loss (axis cut at 2× the median)", scale=alt.Scale(domain=domain))
    points = alt.Chart(raw).mark_line(opacity=0.3, clip=True, point=alt.OverlayMarkDef(opacity=0.3, size=12)).encode(
        x=x, y=y, order="step:Q",
        tooltip=[alt.Tooltip("lr:Q", format=".3g"), "step:Q", alt.Tooltip("loss:Q", format=".4g")])
    line = alt.Chart(read).mark_line(strokeWidth=2.5, point=True, color="#1f77b4", clip=True).encode(
        x="lr:Q", y="loss:Q",
        tooltip=[alt.Tooltip("lr:Q", format=".3g"), alt.Tooltip("loss:Q", title="read as", format=".4g")])
    layers = [_zoom(points, view), line]
    if rules:
        marks = pd.DataFrame({"name": list(rules), "at": [float(v) for v in rules.values()]})
        marks["text"] = [f"{n} = {v:.2g}" for n, v in zip(marks["name"], marks["at"])]
        # Suggested bounds in red; the user's own (when overridden) in purple, labelled lower down.
        marks["yours"] = marks["name"].str.startswith("your")
        marks["label_y"] = marks["yours"].map({True: 22, False: 4})  # pixels from the top
        colour = alt.condition(alt.datum.yours, alt.value("#7b3294"), alt.value("firebrick"))
        layers.append(alt.Chart(marks).mark_rule(strokeDash=[4, 3]).encode(
            x="at:Q", color=colour, tooltip=[alt.Tooltip("name:N"), alt.Tooltip("at:Q", format=".3g")]))
        layers.append(alt.Chart(marks).mark_text(align="left", dx=4, baseline="top").encode(
            x="at:Q", text="text:N", color=colour, y=alt.Y("label_y:Q", scale=None)))
    subtitle = "faint: every logged batch; bold: the curve lr_min and lr_max are read from"
    return alt.layer(*layers).properties(
        height=HEIGHT, title=alt.TitleParams("training loss", subtitle=subtitle, anchor="start", fontSize=13))


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
    """The bold curve of :func:`range_test_chart`: the suggestion's smoothed loss at its own rates,
    or, when the records cannot be read yet, the mean loss per distinct rate (lr, loss)."""
    if suggestion is not None:
        frame = pd.DataFrame({"lr": suggestion.smoothed_lr, "loss": suggestion.smoothed})
    elif len(batches):
        lr, loss = rangetest.range_test_curve(batches["lr"], batches["loss"])
        frame = pd.DataFrame({"lr": lr, "loss": loss})
    else:
        frame = pd.DataFrame({"lr": [], "loss": []})
    return frame.dropna().reset_index(drop=True)
