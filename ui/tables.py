"""Read-only tables that fit their column on a projector.

An `st.dataframe` draws its cells on a canvas at their natural width, so a table of a
dozen columns scrolls sideways and hides its right half at 1024 px (the MLP results, the
spec tables, a long "reports" column). `st.table` is HTML: its text wraps at spaces and it
stays as wide as its column as long as its longest words fit. So here:
  - a long word of a label (`mlp_dropout/rmsprop_nesterov`) may break after its / and _ (a
    zero-width space in the shown text, never in the data), and a word still too long (a run
    folder, which a reader copies whole) may break anywhere, instead of pushing the table past
    the right edge;
  - a table of many columns gets a smaller font and tighter cells;
  - `shared_once=True`: the values every row shares (the data, model and epochs of five runs
    that differ only in their optimizer) are said once, in a field/value table under the
    table, whose own columns are then the ones that differ (dlcore.results.tables.shared_apart).
    The shared columns stay in the table's data, hidden, so the table still holds every cell.
Numbers are formatted here, with Python format strings.
"""
from __future__ import annotations

import math
import re

import pandas as pd
import streamlit as st

from dlcore.results import tables

PERCENT = "{:.1%}"
# A word longer than this (characters) may break after its / and _ ...
BREAKABLE_WORD = 12
# ... and one longer than this, even so, anywhere.
LONG_WORD = 16
# Columns a reader copies whole (into a shell): their words may break anywhere, but get no invisible
# characters.
VERBATIM = ("folder", "command")
# A table of more columns than this gets the smaller font.
MANY_COLUMNS = 6
# What names a row of a run table: kept in the table even when every row shares it.
ROW_NAMES = ("run", "M", "regularizer", "method")


def number_format(fmt: str):
    """A cell formatter: numbers by `fmt` ('{:.3f}'), missing values as a dash, anything else as it is."""
    def cell(value):
        if value is None or (isinstance(value, float) and math.isnan(value)):
            return "–"
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return fmt.format(value)
        return str(value)
    return cell


def breakable(text) -> str:
    """`text` with a zero-width space after each / and _ of its long words: where a line may break."""
    return " ".join(re.sub(r"([/_])(?=.)", "\\1\u200b", w) if len(w) > BREAKABLE_WORD else w
                    for w in str(text).split(" "))


def longest_word(text) -> int:
    """Characters in the longest run of `text` without a space (where a line cannot break)."""
    return max((len(w) for w in re.split(r"[\s\u200b]+", str(text))), default=0)


def _text_format(column: str, frame: pd.DataFrame):
    """How a column's text is shown: with break points in its long words, unless it is VERBATIM or
    has none."""
    if column in VERBATIM or not any(isinstance(v, str) and longest_word(v) > BREAKABLE_WORD
                                     for v in frame[column]):
        return None
    return lambda v: breakable(v) if isinstance(v, str) else v


def table_styles(frame: pd.DataFrame, hidden=()) -> list[dict]:
    """CSS (pandas Styler table styles, scoped to this table) that keeps `frame` inside its column:
    long words may break anywhere in the columns that have them; many columns, a smaller font;
    the `hidden` columns are not shown."""
    styles = []
    for i, column in enumerate(frame.columns):
        if column in hidden:
            styles.append({"selector": f".col{i}", "props": "display: none;"})
        # (Numbers are shown formatted, short: only text can hold a long word.)
        elif max(longest_word(v if column in VERBATIM else breakable(v))
                 for v in [str(column), *(v for v in frame[column] if isinstance(v, str))]) > LONG_WORD:
            styles.append({"selector": f".col{i} p", "props": "overflow-wrap: anywhere;"})
    if len(frame.columns) - len(set(hidden) & set(frame.columns)) > MANY_COLUMNS:
        styles += [{"selector": "", "props": "font-size: 0.8rem;"},
                   {"selector": "td", "props": "padding: 0.25rem 0.375rem;"},
                   {"selector": "th", "props": "padding: 0.25rem 0.375rem;"}]
    return styles


def draw_table(frame: pd.DataFrame, formats: dict[str, str] | None = None, *, shared_once: bool = False,
               rows_are: str = "runs") -> None:
    """`frame` as a static table that wraps its text and fits its column; `formats` maps a column
    to a format string for its numbers ('{:.3f}'); a missing value shows as a dash.

    `shared_once`: a column whose value every row shares is not shown in the table but listed
    once under it ("all 5 runs"), the columns that name a row (ROW_NAMES) excepted.
    """
    formats = formats or {}
    shared = tables.shared_apart(frame, keep=ROW_NAMES)[1] if shared_once else {}
    if len(shared) < len(frame.columns):
        shown = {c: number_format(formats[c]) if c in formats else _text_format(c, frame) for c in frame.columns}
        shown = {c: f for c, f in shown.items() if f is not None}
        styler = frame.style.format(shown, na_rep="–").set_table_styles(table_styles(frame, hidden=shared))
        st.table(styler, hide_index=True)
    if shared:
        draw_fields(shared, formats, f"all {len(frame)} {rows_are}" if len(frame) > 1 else "value",
                    hide_header=len(frame) == 1)


def draw_fields(values: dict, formats: dict[str, str] | None = None, header: str = "value",
                hide_header: bool = True) -> None:
    """{field: value} as a two-column table, each value formatted by `formats` as its column would be."""
    formats = formats or {}
    # (A value every row leaves empty, such as the notes of full runs, says nothing: left out.)
    rows = [(field, number_format(formats.get(field, "{}"))(value)) for field, value in values.items()
            if value != ""]
    if not rows:
        return
    frame = pd.DataFrame(rows, columns=["field", header])
    shown = {header: breakable} if _text_format(header, frame) else {}
    st.table(frame.style.format(shown).set_table_styles(table_styles(frame)), hide_index=True,
             hide_header=hide_header)
