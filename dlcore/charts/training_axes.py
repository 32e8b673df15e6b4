"""Training curves against any x-axis (epochs, optimizer updates, examples seen, wall-clock),
with an optional smoothed line over the raw one.

The frames come from dlcore.results.axes (``with_epoch_axes`` for per-epoch
metrics, ``with_batch_axes`` for logged batches); this module only encodes
them. Smoothing is axes.debiased_ema per run: the raw curve stays drawn
faintly under the smoothed one, so the smoothing never hides what was logged.
Cached runs are dashed and lighter, as in dlcore.charts.curves.
"""
from __future__ import annotations

import altair as alt
import pandas as pd

from dlcore.charts import legends
from dlcore.results import axes

HEIGHT = 300
METRIC_TITLES = {
    "loss": "training loss", "accuracy": "training accuracy", "val_loss": "validation loss",
    "val_accuracy": "validation accuracy", "lr": "learning rate", "batch_size": "batch size",
    "images_per_s": "images/s", "epoch_s": "seconds per epoch",
}
ERROR_TITLES = {"accuracy": "training error", "val_accuracy": "validation error"}
SOURCE_DASH = alt.Scale(domain=["live", "cached"], range=[[1, 0], [6, 3]])
# Which column of a frame holds each axis: a batch frame's epoch axis is fractional.
EPOCH_FRAME_FIELDS = {"epoch": "epoch", "updates": "updates", "examples": "examples", "seconds": "seconds"}
BATCH_FRAME_FIELDS = {"epoch": "epochs", "updates": "updates", "examples": "examples", "seconds": "seconds"}


def x_encoding(x: str, field: str) -> alt.X:
    """The x channel of axis `x` (one of axes.X_AXES), titled in words."""
    title = axes.X_AXES[axes.axis_column(x)]
    fmt = "d" if x in ("epoch", "updates") else ("~s" if x == "examples" else ".0f")
    return alt.X(f"{field}:Q", title=title, axis=alt.Axis(format=fmt))


def _colour(frame: pd.DataFrame) -> alt.Color:
    domain = list(dict.fromkeys(frame["label"])) if len(frame) else []
    return alt.Color("label:N", title="run", scale=alt.Scale(domain=domain), legend=legends.legend(domain))


def _curves(data: pd.DataFrame, field: str, value: str, title: str, x: str, smoothing: float,
            view: str, log_y: bool = False) -> alt.LayerChart:
    data = data.dropna(subset=[field, value]).sort_values(["run", field])
    data = data.assign(smoothed=axes.smoothed_column(data, value, field, smoothing))
    tips = [alt.Tooltip("label:N", title="run"), alt.Tooltip(f"{field}:Q", title=axes.X_AXES[x], format=",.4g"),
            alt.Tooltip(f"{value}:Q", title=title, format=".4g"),
            alt.Tooltip("smoothed:Q", title="smoothed", format=".4g")]
    common = {"x": x_encoding(x, field), "color": _colour(data), "order": f"{field}:Q",
                  "strokeDash": alt.StrokeDash("source:N", title="source", scale=SOURCE_DASH,
                                               legend=legends.source_legend())}
    y = alt.Y(f"{value}:Q", title=title, scale=alt.Scale(type="log" if log_y else "linear", zero=False))
    zoom = alt.selection_interval(bind="scales", encodings=["x"], name=f"{view}_zoom")
    if smoothing > 0:
        raw = alt.Chart(data).mark_line(opacity=0.25).encode(y=y, tooltip=tips, **common).add_params(zoom)
        smooth = alt.Chart(data).mark_line(strokeWidth=2.5).encode(
            y=alt.Y("smoothed:Q", title=title, scale=alt.Scale(type="log" if log_y else "linear", zero=False)),
            tooltip=tips, **common)
        layers = [raw, smooth]
        subtitle = f"faint: as logged; bold: debiased moving average, weight {smoothing:.2f}"
    else:
        layers = [alt.Chart(data).mark_line(point=len(data) <= 200).encode(y=y, tooltip=tips, **common)
                  .add_params(zoom)]
        subtitle = "as logged, no smoothing"
    # Streamlit sizes the whole element to the spec's height: room for the title, the source legend
    # above the plot and the runs' legend rows under it.
    legend_rows = legends.rows(list(dict.fromkeys(data["label"]))) + 1 if len(data) else 0
    return alt.layer(*layers).properties(
        height=HEIGHT + 110 + 24 * legend_rows, name=view, title=alt.TitleParams(title, subtitle=subtitle, anchor="start", fontSize=13))


def epoch_metric_on_axis(frame: pd.DataFrame, metric: str = "loss", x: str = "epoch", smoothing: float = 0.0,
                         error: bool = False, view: str = "axis_epochs", log_y: bool = False) -> alt.LayerChart:
    """One per-epoch metric against axis `x`, runs overlaid. `frame` is axes.with_epoch_axes of an
    epochs_frame; error=True draws 1 − accuracy; log_y a log loss axis. Runs without batch records
    have no updates/examples and are left out of those axes."""
    data = frame[frame["metric"] == metric]
    title = ERROR_TITLES.get(metric, metric) if error else METRIC_TITLES.get(metric, metric)
    if error:
        if metric not in ERROR_TITLES:
            raise ValueError(f"the error form (1 − accuracy) needs an accuracy metric, not {metric!r}")
        data = data.assign(value=1.0 - data["value"])
    return _curves(data, EPOCH_FRAME_FIELDS[axes.axis_column(x)], "value", title, x, smoothing, view, log_y)


def batch_metric_on_axis(frame: pd.DataFrame, metric: str = "loss", x: str = "updates", smoothing: float = 0.0,
                         view: str = "axis_batches") -> alt.LayerChart:
    """A logged-batch metric against axis `x`, runs overlaid. `frame` is axes.with_batch_axes of a
    batches_frame (each point the mean over the batches since the previous record)."""
    return _curves(frame, BATCH_FRAME_FIELDS[axes.axis_column(x)], metric, f"batch {METRIC_TITLES.get(metric, metric)}",
                   x, smoothing, view)


def axis_caption(x: str, smoothing: float) -> str:
    """The words under an any-axis chart: what the x-axis counts and what the smoothing does."""
    text = f"x-axis: {axes.X_AXES[x]} ({axes.AXIS_NOTES[x]})."
    if smoothing > 0:
        text += (f" Bold lines: debiased exponential moving average with weight {smoothing:.2f} "
                 "(avg ← w·avg + (1 − w)·value, divided by 1 − wᵏ); faint: the values as logged.")
    return text
