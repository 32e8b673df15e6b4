"""The LR range test with every suggestion rule marked, and how far each one moves.

Two charts, one above the other, on the same learning-rate domain (log scale):

  - the curve: every logged batch faint, the prepared curve the rules read
    bold (dlcore.core.lr_finder_rules.prepare_curve), each rule a coloured
    dashed line at its rate and a dot where it sits on the curve;
  - the bands: one row per rule, a bar over the central share of its
    suggestions on bootstrap resamples of the logged batches (or across
    several range tests), a tick at the suggestion itself.

No Keras; the frames come from plain rows (lr_finder_rules.rules_table).
"""
from __future__ import annotations

import altair as alt
import pandas as pd

from dlcore.charts import legends
from dlcore.core import lr_finder_rules

HEIGHT = 300
ROW = 26                                     # one band's row
TITLE_ROOM, AXIS_ROOM = 50, 50  # pixels Streamlit's element height must also hold
# The rules' legend: its title and rows (as many columns as fit, see dlcore.charts.legends).
LEGEND_ROOM = 30 + 22 * legends.rows(list(lr_finder_rules.RULE_TITLES.values()))
# One colour per rule, the same on the curve, the bands and the page's table.
RULE_COLOURS = {
    "valley": "#1b9e77", "steep": "#d95f02", "minimum": "#7570b3", "slide": "#e7298a",
    "smith_lr_min": "#66a61e", "smith_lr_max": "#a6761d",
}
LR_AXIS = {"title": "learning rate (log scale)", "axis": alt.Axis(format=".0e")}
# Room for the y-axis labels of both panels (the rule names), so their plot areas line up.
Y_LABELS = 170


def _rule_colour(legend: bool = True) -> alt.Color:
    titles = [lr_finder_rules.RULE_TITLES[r] for r in lr_finder_rules.RULES]
    return alt.Color("title:N", title="rule", scale=alt.Scale(domain=titles, range=list(RULE_COLOURS.values())),
                     legend=legends.legend(titles) if legend else None)


def rules_frame(rows: list[dict]) -> pd.DataFrame:
    """lr_finder_rules.rules_table rows as a frame, with a label per mark ("valley = 3e-04")."""
    frame = pd.DataFrame(rows, columns=["rule", "title", "lr", "loss", "low", "high", "decades", "read",
                                        "why_none", "how"])
    frame["text"] = [f"{t} = {v:.2g}" if pd.notna(v) else f"{t}: none" for t, v in zip(frame["title"], frame["lr"])]
    return frame


def _lr_domain(*columns) -> list[float] | None:
    """One learning-rate domain for both panels, so their axes line up (log scale: positive values)."""
    values = pd.concat([pd.Series(c, dtype=float) for c in columns]).dropna()
    values = values[values > 0]
    return [float(values.min()), float(values.max())] if len(values) else None


def _lr_x(domain, field: str = "lr") -> alt.X:
    scale = alt.Scale(type="log", domain=domain) if domain else alt.Scale(type="log")
    return alt.X(f"{field}:Q", title=LR_AXIS["title"], scale=scale, axis=LR_AXIS["axis"])


def range_test_rules_charts(batches: pd.DataFrame, curve: pd.DataFrame, rows: list[dict],
                            band_title: str = "bootstrap band") -> tuple[alt.LayerChart, alt.LayerChart]:
    """(the range test with every rule marked, each rule's band), drawn one above the other.

    `batches`: a run's batch records (lr, loss, step); `curve`: the prepared curve (lr, loss);
    `rows`: lr_finder_rules.rules_table. Both panels share one learning-rate domain and the same
    room for their y-axis labels, so a mark and its band sit at the same x. The loss axis stops
    at twice the median loss, so the blow-up at the top rates does not flatten what the rules read.
    """
    raw = batches.dropna(subset=["loss", "lr"])
    raw = raw[(raw["lr"] > 0) & raw["loss"].map(lambda v: abs(v) != float("inf"))]
    read = curve.dropna(subset=["lr", "loss"])
    marks = rules_frame(rows)
    placed = marks.dropna(subset=["lr"])
    domain = _lr_domain(raw["lr"], read["lr"], marks["lr"], marks["low"], marks["high"])
    top = 2.0 * float(raw["loss"].median()) if len(raw) else None
    y = alt.Y("loss:Q", title="training loss (axis cut at 2× the median)", axis=alt.Axis(minExtent=Y_LABELS),
              scale=alt.Scale(domain=[0.0, top] if top and top > 0 else alt.Undefined))
    x = _lr_x(domain)
    points = alt.Chart(raw).mark_line(opacity=0.25, clip=True, color="gray").encode(
        x=x, y=y, order="step:Q", tooltip=[alt.Tooltip("lr:Q", format=".3g"), alt.Tooltip("loss:Q", format=".4g")])
    line = alt.Chart(read).mark_line(strokeWidth=2.5, color="#1f77b4", clip=True).encode(
        x=x, y=y, tooltip=[alt.Tooltip("lr:Q", format=".3g"), alt.Tooltip("loss:Q", title="read as", format=".4g")])
    tips = [alt.Tooltip("title:N", title="rule"), alt.Tooltip("lr:Q", title="suggests", format=".3g"),
            alt.Tooltip("low:Q", title="band from", format=".3g"), alt.Tooltip("high:Q", title="to", format=".3g")]
    rules = alt.Chart(placed).mark_rule(strokeDash=[4, 3], strokeWidth=1.5).encode(
        x=x, color=_rule_colour(), tooltip=tips)
    dots = alt.Chart(placed).mark_point(filled=True, size=90, stroke="black", strokeWidth=0.5, opacity=1,
                                        clip=True).encode(x=x, y=y, color=_rule_colour(legend=False), tooltip=tips)
    # Streamlit sizes the whole element (title, plot, axis, legend) to the spec's height.
    curve_panel = alt.layer(points, line, rules, dots).properties(
        height=HEIGHT + TITLE_ROOM + AXIS_ROOM + LEGEND_ROOM, title=alt.TitleParams("training loss", anchor="start", fontSize=13,
                                             subtitle="grey: every logged batch; blue: the smoothed curve every "
                                                      "rule reads; dashed lines and dots: the rules"))
    order = [lr_finder_rules.RULE_TITLES[r] for r in lr_finder_rules.RULES]
    # A title like the loss axis has, so both plot areas start at the same x.
    row = alt.Y("title:N", title="rule", sort=order, axis=alt.Axis(minExtent=Y_LABELS, labelLimit=Y_LABELS))
    bands = marks.dropna(subset=["low", "high"])
    bar = alt.Chart(bands).mark_bar(height=12, opacity=0.45).encode(
        x=_lr_x(domain, "low"), x2="high:Q", y=row, color=_rule_colour(legend=False), tooltip=tips)
    tick = alt.Chart(placed).mark_tick(thickness=3, size=20).encode(
        x=x, y=row, color=_rule_colour(legend=False), tooltip=tips)
    band_panel = alt.layer(bar, tick).properties(
        height=ROW * len(order) + TITLE_ROOM + AXIS_ROOM, title=alt.TitleParams(
            band_title, anchor="start", fontSize=12,
            subtitle="bar: the central 80 % of the rule's suggestions; tick: its suggestion on the test itself"))
    return curve_panel, band_panel
