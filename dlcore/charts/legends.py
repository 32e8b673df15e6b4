"""Legends that stay whole on a projector (issue 14).

Vega lays a legend out at the width its labels need and then cuts it at the chart's edge: at a
1024 px screen a chart across the page is about 560 px wide, and two columns of run labels like
"mlp_dropout/rmsprop_nesterov (full, cached)" did not fit ("mlp_dropout/rmsprop (full, ca").
A chart does not know its width when it is built, so a legend gets as many columns as fit the
width it is drawn at on the narrowest screen the app is checked at, and no more.
"""
from __future__ import annotations

from collections.abc import Sequence

import altair as alt

# A chart across the page at a 1024 px screen (Streamlit's sidebar open), in CSS pixels.
FULL_WIDTH_PX = 560
# An average character of a legend label in Streamlit's theme (measured: 6.2 px), with room to spare.
LABEL_CHAR_PX = 7.0
# The symbol, its gap to the label, and the padding between two columns.
SYMBOL_PX = 32


def columns_that_fit(labels: Sequence[str], width_px: float = FULL_WIDTH_PX) -> int:
    """How many columns of `labels` fit side by side in `width_px` (at least 1, at most one per label)."""
    labels = [str(label) for label in labels]
    if not labels:
        return 1
    column_px = SYMBOL_PX + LABEL_CHAR_PX * max(len(label) for label in labels)
    return max(1, min(len(labels), int(width_px // column_px)))


def rows(labels: Sequence[str], width_px: float = FULL_WIDTH_PX) -> int:
    """How many rows the legend of `labels` takes (0 without labels)."""
    return -(-len(labels) // columns_that_fit(labels, width_px)) if len(labels) else 0


def legend(labels: Sequence[str], width_px: float = FULL_WIDTH_PX, **kwargs) -> alt.Legend:
    """A legend under the chart, in as many columns as fit `width_px`; a label longer than the whole
    width ends in '…' rather than being cut at the chart's edge."""
    return alt.Legend(orient="bottom", columns=columns_that_fit(labels, width_px),
                      labelLimit=int(width_px - SYMBOL_PX), **kwargs)


def source_legend() -> alt.Legend:
    """The live/cached (solid/dashed) legend: above the plot, where it never shares a row with the
    runs' legend (two legends under a chart sit side by side, and the second was cut)."""
    return alt.Legend(orient="top", direction="horizontal", symbolType="stroke")
