"""Draw an Altair chart without Altair validating its data, row by row.

dlcore.charts builders attach their frames as named datasets (lists of records) so that a
redraw keeps the chart's identity. `st.altair_chart` converts the chart with `to_dict()`,
and Altair then walks and validates every record against the Vega-Lite schema: about a
second for the ten cached 200-epoch MLP runs. Here the spec is converted without its
datasets (a few kilobytes, still validated) and the datasets go to Streamlit as tables,
which it sends as Arrow like any other chart data.
"""
from __future__ import annotations

import altair as alt
import pandas as pd
import streamlit as st
from streamlit import dataframe_util

# What Altair's default theme adds to every spec; Streamlit's own conversion turns the theme off.
_THEME_VIEW = {"continuousWidth": 300, "continuousHeight": 300}


def vega_lite_spec(chart) -> tuple[dict, dict[str, pd.DataFrame]]:
    """(the chart's Vega-Lite spec without its named datasets, those datasets as tables)."""
    records = chart.datasets if chart.datasets is not alt.Undefined else {}
    bare = chart.copy(deep=False)
    bare.datasets = alt.Undefined
    # Not validated against the schema here (a tenth of a second for the Runs page's three charts):
    # tests/test_charts.py validates every builder's spec.
    spec = bare.to_dict(validate=False)
    view = spec.get("config", {}).get("view", {})
    for name, value in _THEME_VIEW.items():
        if view.get(name) == value:
            view.pop(name)
    if "view" in spec.get("config", {}) and not view:
        spec["config"].pop("view")
    if not spec.get("config", True):
        spec.pop("config")
    return spec, {name: pd.DataFrame.from_records(rows) for name, rows in records.items()}


def altair_chart(chart, key: str | None = None, **kwargs) -> None:
    """`st.altair_chart(chart, key=key, **kwargs)`, fast for charts with large named datasets."""
    if getattr(chart, "datasets", alt.Undefined) is alt.Undefined:
        st.altair_chart(chart, key=key, **kwargs)
        return
    spec, frames = vega_lite_spec(chart)
    spec["datasets"] = frames
    st.vega_lite_chart(spec, key=key, **kwargs)


def spec_with_tables(chart, tables: dict[str, pd.DataFrame]) -> dict:
    """A chart's spec with `tables` as its named datasets, already Arrow bytes (so it can be cached:
    a page then redraws it by swapping in only the tables that changed, see :func:`draw_spec`)."""
    spec, frames = vega_lite_spec(chart)
    inline = spec.get("datasets", {})  # small frames Altair put inline itself
    named = {name: dataframe_util.convert_anything_to_arrow_bytes(f) for name, f in {**frames, **tables}.items()}
    spec["datasets"] = {**inline, **named}
    return spec


def with_tables(spec: dict, tables: dict[str, pd.DataFrame]) -> dict:
    """A spec of :func:`spec_with_tables` with `tables` added (or replaced) as Arrow bytes: one chart
    built once, its data swapped per use, with no Altair in the way (it can be cached too)."""
    named = {name: dataframe_util.convert_anything_to_arrow_bytes(f) for name, f in tables.items()}
    return {**spec, "datasets": {**spec["datasets"], **named}}


def draw_spec(spec: dict, tables: dict[str, pd.DataFrame] | None = None, **kwargs) -> None:
    """Draw a spec of :func:`spec_with_tables`, with `tables` replacing (or adding) datasets by name.

    The spec itself stays the same, so the browser keeps the chart and only swaps its data."""
    st.vega_lite_chart({**spec, "datasets": {**spec["datasets"], **(tables or {})}}, **kwargs)
