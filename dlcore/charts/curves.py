"""Altair charts of runs, with their captions.

Every experiment page and the Runs page draw training curves through these
builders, so a curve looks the same wherever it appears and every figure can
name where its numbers came from (STYLE.md: a chart's caption names its runs).

Two steps, each a pure function:
  - frames (in :mod:`dlcore.results.tables`): a list of runs → long pandas
    DataFrames (``epochs_frame``, ``batches_frame``);
  - builders, here: a frame → an Altair chart (:func:`metric_vs_epoch`,
    :func:`train_val_curves`, :func:`metric_vs_lr`, :func:`metric_vs_batch_size`,
    :func:`loss_vs_step`), and :func:`runs_caption` for the words under it.

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
import numpy as np
import pandas as pd

from dlcore.charts import legends
from dlcore.engine import runs
from dlcore.results import tables

# Per-epoch quantities a curve can show, in the order a menu offers them.
METRIC_TITLES = {
    "loss": "training loss", "accuracy": "training accuracy",
    "val_loss": "validation loss", "val_accuracy": "validation accuracy",
    "lr": "learning rate", "batch_size": "batch size", "images_per_s": "images/s",
    "epoch_s": "seconds per epoch",
}
# The error form of Problem 4's plots: error = 1 − accuracy.
ERROR_TITLES = {"accuracy": "training error", "val_accuracy": "validation error"}

# Live runs solid; cached (shipped) ones dashed and lighter, so the two never look alike.
SOURCE_DASH = alt.Scale(domain=["live", "cached"], range=[[1, 0], [6, 3]])
CACHED_OPACITY = 0.55
HEIGHT = 300
# The plot gets HEIGHT, and the legend and titles come on top of it (by default Streamlit squeezes
# all of them into HEIGHT, which left a range-test plot 120 px tall): read on a projector.
FIT = alt.AutoSizeParams(type="fit-x", contains="padding")
EPOCH_X = alt.X("epoch:Q", title="epoch", axis=alt.Axis(tickMinStep=1, format="d"))
# A loss curve whose positive values span this factor or more (a test loss of 1e12 next to 2.3)
# is drawn on a log axis, and its axis title says so: on a linear one every other point is flat at 0.
LOG_SPAN = 100.0
LOSSES = ("loss", "val_loss")


def spans_orders_of_magnitude(values, span: float = LOG_SPAN) -> bool:
    """Whether the finite positive `values` range over a factor of `span` or more."""
    v = pd.to_numeric(pd.Series(list(values), dtype=object), errors="coerce").astype(float)
    v = v[(v > 0) & (v != float("inf"))]
    return len(v) > 1 and float(v.max()) >= span * float(v.min())


def _log_title(title: str, values) -> str:
    v = pd.to_numeric(pd.Series(list(values), dtype=object), errors="coerce").astype(float)
    v = v[(v > 0) & (v != float("inf"))]
    orders = int(round(float(np.log10(v.max() / v.min())))) if len(v) > 1 else 0
    return f"{title} (log scale: the values span {orders} orders of magnitude)"



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
    # Assigned rather than passed to .properties(), which validates every record against the
    # Vega-Lite schema: most of a second for the ten cached 200-epoch MLP runs.
    chart = chart.copy(deep=False)
    chart.datasets = records
    chart.autosize = FIT
    return chart


def _colour(frame: pd.DataFrame) -> alt.Color:
    # The domain in frame order keeps each run's colour fixed while live runs grow.
    domain = list(dict.fromkeys(frame["label"])) if len(frame) else []
    return alt.Color("label:N", title="run", scale=alt.Scale(domain=domain), legend=legends.legend(domain))


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
                    dashed_cached: bool = True, log_y: bool | None = None, view: str = "epochs") -> alt.Chart:
    """One metric vs epoch, several runs overlaid (colour = run label).

    `frame` is an :func:`tables.epochs_frame`. error=True draws 1 − accuracy ("validation
    error" for val_accuracy, as Problem 4 plots it). dashed_cached draws cached
    runs dashed and lighter next to live ones. log_y None: a log axis for a loss whose
    values span orders of magnitude (:func:`spans_orders_of_magnitude`), said in its title.
    """
    data, title = _error_form(frame[frame["metric"] == metric], metric, error)
    if log_y is None:
        log_y = metric in LOSSES and spans_orders_of_magnitude(data["value"])
        if log_y:
            title = _log_title(title, data["value"])
    encoding = dict(
        x=EPOCH_X,
        y=alt.Y("value:Q", title=title, scale=alt.Scale(type="log" if log_y else "linear", zero=False,
                                                        nice=not log_y)),
        color=_colour(data),
        tooltip=[alt.Tooltip("label:N", title="run"), alt.Tooltip("epoch:Q", title="epoch"),
                 alt.Tooltip("value:Q", title=title, format=".4g"),
                 alt.Tooltip("wall_clock:N", title="wall-clock")],
    )
    if dashed_cached:
        encoding.update(
            strokeDash=alt.StrokeDash("source:N", title="source", scale=SOURCE_DASH, legend=legends.source_legend()),
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
    if base == "loss" and spans_orders_of_magnitude(data["value"]):
        # An exploded test loss (1e12 next to 2.3) would flatten everything else against 0.
        encoding["y"] = alt.Y("value:Q", title=_log_title(quantity, data["value"]),
                              scale=alt.Scale(type="log", zero=False, nice=False))
    chart = alt.Chart(_named(view)).mark_line(point=True).encode(**encoding).properties(height=HEIGHT)
    return _datasets(_zoom(chart, view), **{view: data})


def loss_vs_step(frame: pd.DataFrame, metric: str = "loss", view: str = "steps") -> alt.Chart:
    """Batch-level `metric` vs training step: what streams in while an epoch is still running.

    `frame` is a :func:`tables.batches_frame`; each point is the mean over the batches
    since the previous point (the worker logs every `log_every` batches).
    """
    data = frame.dropna(subset=[metric])
    title = f"batch {metric}"
    log = metric in LOSSES and spans_orders_of_magnitude(data[metric])
    chart = alt.Chart(_named(view)).mark_line().encode(
        x=alt.X("step:Q", title="step (batches)", axis=alt.Axis(tickMinStep=1, format="d")),
        y=alt.Y(f"{metric}:Q", title=_log_title(title, data[metric]) if log else title,
                scale=alt.Scale(type="log" if log else "linear", zero=False, nice=not log)),
        color=_colour(data),
        tooltip=[alt.Tooltip("label:N", title="run"), "epoch:Q", "step:Q",
                 alt.Tooltip(f"{metric}:Q", format=".4g"), alt.Tooltip("wall_clock:N", title="wall-clock")],
    ).properties(height=HEIGHT)
    return _datasets(_zoom(chart, view), **{view: data})


def _raw_and_smoothed(frame: pd.DataFrame, x: alt.X, x_field: str, metric: str, beta: float | None,
                      rules: dict[str, float] | None, view: str) -> alt.LayerChart:
    data = frame.dropna(subset=[metric, x_field])
    data = data[data[x_field] > 0]  # a log axis has no place for 0
    data = data.assign(smoothed=data["smoothed"] if "smoothed" in data else tables.smoothed(data, metric, beta))
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

    `frame` is a :func:`tables.batches_frame` (a precomputed `smoothed` column is used as is).
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

def runs_caption(runs_list: list[runs.Run], what: str = "Curves") -> str:
    """'<what> from: experiment/name (preset preset, hardware, date, live|cached run id); …'."""
    runs_list = [r for r in runs_list if not r.damaged]  # never drawn (dlcore.results.tables)
    if not runs_list:
        return f"{what}: no runs."
    parts = []
    for run in runs_list:
        where = "cached" if run.source == "cached" else "live"
        bits = [f"{run.preset} preset", tables.run_hardware(run), tables.run_date(run) or "date unknown",
                f"{where} run {run.run_id}"]
        parts.append(f"{run.title} ({', '.join(bits)})")
    return f"{what} from: " + "; ".join(parts) + "."


def _height_with_legend(frame: pd.DataFrame) -> int:
    """The plot's height whatever the legend lists: with FIT the legend's rows come on top of it."""
    return HEIGHT


def metric_vs_epoch_with_legend_room(frame: pd.DataFrame, metric: str = "loss", error: bool = False,
                                     view: str = "epochs") -> alt.Chart:
    """:func:`metric_vs_epoch`, its plot kept HEIGHT tall however many runs the legend lists."""
    return metric_vs_epoch(frame, metric, error=error, view=view).properties(height=_height_with_legend(frame))


def error_vs_epoch_with_target(frame: pd.DataFrame, target: float = 0.92, metric: str = "val_accuracy",
                               view: str = "target") -> alt.LayerChart:
    """Validation error (1 − accuracy) vs epoch, runs overlaid as in Hoffer et al. Fig. 3a,
    with a dashed horizontal rule at the target's error (92 % accuracy = 8 % error).

    `frame` is an :func:`tables.epochs_frame`; cached runs dashed and lighter, as in metric_vs_epoch.
    """
    curves = metric_vs_epoch(frame, metric, error=True, view=view).copy()
    # A layer carries the datasets, its members only refer to them by name.
    datasets, curves.datasets, curves.autosize = curves.datasets, alt.Undefined, alt.Undefined
    mark = pd.DataFrame({"value": [1.0 - target],
                         "text": [f"target: {target:.0%} accuracy ({1.0 - target:.0%} error)"]})
    rule = alt.Chart(_named(f"{view}_target")).mark_rule(color="firebrick", strokeDash=[4, 3]).encode(
        y="value:Q")
    text = alt.Chart(_named(f"{view}_target")).mark_text(align="left", dx=4, dy=-6, color="firebrick",
                                                         x=0).encode(y="value:Q", text="text:N")
    layered = alt.layer(curves, rule, text).properties(height=_height_with_legend(frame))
    layered.datasets = {**datasets, f"{view}_target": mark.to_dict("records")}
    layered.autosize = FIT
    return layered


# --- Problem 2 (cyclical_lr page): the range test read, and where runs came from ---------------

def range_test_chart(batches: pd.DataFrame, curve: pd.DataFrame, rules: dict[str, float] | None = None,
                     view: str = "range_test") -> alt.LayerChart:
    """Training loss vs learning rate (log x) of one range test: every batch record faint, the
    curve the suggestion reads (`curve`: columns lr, loss) bold, rules as labelled vertical lines.

    Unlike :func:`metric_vs_lr`, the bold curve has its own rates: a smoothed sweep is read
    at the average rate of the points it averages (dlcore.core.rangetest), and a discrete test is
    one point per candidate rate. The loss axis stops just above the bold curve (at least at
    twice the median loss, at most at ten times it, see :func:`range_test_loss_top`), so the
    blow-up at the top rates does not flatten the part where lr_min and lr_max are read.
    """
    raw = batches.dropna(subset=["loss", "lr"])
    raw = raw[(raw["lr"] > 0) & raw["loss"].map(lambda v: abs(v) != float("inf"))]
    read = curve.dropna(subset=["lr", "loss"])
    top = range_test_loss_top(raw["loss"], read["loss"])
    domain = [0.0, top] if top else alt.Undefined
    x = alt.X("lr:Q", title="learning rate (log scale)", scale=alt.Scale(type="log"), axis=alt.Axis(format=".0e"))
    y = alt.Y("loss:Q", title="training loss (axis cut above the bold curve)", scale=alt.Scale(domain=domain))
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
    chart = alt.layer(*layers).properties(
        height=HEIGHT, title=alt.TitleParams("training loss", subtitle=subtitle, anchor="start", fontSize=13))
    chart.autosize = FIT
    return chart


def range_test_loss_top(raw_loss: pd.Series, read_loss: pd.Series) -> float | None:
    """Where the range test's loss axis stops: 5 % above the bold curve's highest finite point,
    but at least 2× and at most 10× the median batch loss (None without a positive median)."""
    raw = pd.to_numeric(raw_loss, errors="coerce").astype(float)
    raw = raw[np.isfinite(raw)]
    median = float(raw.median()) if len(raw) else 0.0
    if not median > 0:
        return None
    read = pd.to_numeric(read_loss, errors="coerce").astype(float)
    read = read[np.isfinite(read)]
    highest = 1.05 * float(read.max()) if len(read) else 0.0
    return float(min(max(2.0 * median, highest), 10.0 * median))
