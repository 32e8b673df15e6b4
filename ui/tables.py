"""Read-only tables that fit their column on a projector.

An `st.dataframe` draws its cells on a canvas at their natural width, so a table of a
dozen columns scrolls sideways and hides its right half at 1024 px (the MLP results, the
spec tables, a long "reports" column). `st.table` is HTML: its text wraps and it stays
as wide as its column. Numbers are formatted here, with Python format strings.
"""
from __future__ import annotations

import math

import pandas as pd
import streamlit as st

PERCENT = "{:.1%}"


def number_format(fmt: str):
    """A cell formatter: numbers by `fmt` ('{:.3f}'), missing values as a dash, anything else as it is."""
    def cell(value):
        if value is None or (isinstance(value, float) and math.isnan(value)):
            return "–"
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return fmt.format(value)
        return str(value)
    return cell


def draw_table(frame: pd.DataFrame, formats: dict[str, str] | None = None) -> None:
    """`frame` as a static table that wraps its text; `formats` maps a column to a format string
    for its numbers ('{:.3f}'); a missing value shows as a dash."""
    shown = {c: number_format(f) for c, f in (formats or {}).items() if c in frame.columns}
    st.table(frame.style.format(shown, na_rep="–"), hide_index=True)
