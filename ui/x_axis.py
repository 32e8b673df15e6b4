"""Any x-axis for a training chart: the choice (epochs, optimizer updates, examples seen,
wall-clock seconds), the smoothing slider, and the curves drawn with them.

The conversions are dlcore.results.axes, the charts dlcore.charts.training_axes;
this module only lays out the two widgets and draws. Each page keeps its own
keys, so two charts on one page choose their axes independently.
"""
from __future__ import annotations

from typing import NamedTuple

import streamlit as st

from dlcore.charts import training_axes
from dlcore.results import axes, tables


class AxisChoice(NamedTuple):
    """The axis key (one of axes.X_AXES) and the smoothing weight (0 = none)."""

    x: str
    smoothing: float


def axis_ui(key: str, default: str = "epoch") -> AxisChoice:
    """The x-axis and smoothing widgets, side by side; returns the choice."""
    left, right = st.columns([3, 2])
    x = left.radio("x-axis", list(axes.X_AXES), index=list(axes.X_AXES).index(default), horizontal=True,
                   format_func=axes.X_AXES.get, key=f"{key}_x",
                   help="The same runs against another clock: " + "; ".join(
                       f"{axes.X_AXES[k]}: {v}" for k, v in axes.AXIS_NOTES.items()))
    smoothing = right.slider("smoothing (debiased moving average)", 0.0, axes.MAX_SMOOTHING, 0.0, 0.01,
                             key=f"{key}_smoothing",
                             help="0 draws the values as logged; closer to 1 averages over more points. "
                                  "The raw curve stays drawn faintly under the smoothed one.")
    return AxisChoice(x, float(smoothing))


def draw_epoch_curves(runs_list: list, metric: str, choice: AxisChoice, key: str, error: bool = False) -> None:
    """A per-epoch metric of `runs_list` against the chosen axis, with its caption."""
    frame = axes.with_epoch_axes(tables.epochs_frame(runs_list), tables.batches_frame(runs_list))
    data = frame[frame["metric"] == metric] if len(frame) else frame
    if data.empty:
        st.info("No finished epoch yet.")
        return
    if data[choice.x].isna().all():
        st.info(f"These runs logged no batch records, so they cannot be drawn against {axes.X_AXES[choice.x]}.")
        return
    st.altair_chart(training_axes.epoch_metric_on_axis(frame, metric, choice.x, choice.smoothing, error=error,
                                                       view=key), key=key)
    st.caption(training_axes.axis_caption(choice.x, choice.smoothing))


def draw_batch_curves(runs_list: list, metric: str, choice: AxisChoice, key: str) -> None:
    """A logged-batch metric of `runs_list` against the chosen axis, with its caption."""
    batches = tables.batches_frame(runs_list)
    if batches.empty:
        st.info("No batch records yet.")
        return
    frame = axes.with_batch_axes(batches, tables.epochs_frame(runs_list))
    st.altair_chart(training_axes.batch_metric_on_axis(frame, metric, choice.x, choice.smoothing, view=key),
                    key=key)
    st.caption(training_axes.axis_caption(choice.x, choice.smoothing))
