"""The LR range test with every suggestion rule at once: marked on the curve, explained in a
sentence, with a band for how far each one moves.

The rules are dlcore.core.lr_finder_rules, the chart dlcore.charts.finder. The
band comes from other seeds when several range tests of the same kind have
finished, else from bootstrap resamples of the chosen test's logged batches.
The reading is cached per run folder and metrics-file size, so a live test is
re-read only when new records arrive.
"""
from __future__ import annotations

import pathlib

import pandas as pd
import streamlit as st

from dlcore.charts import finder
from dlcore.core import lr_finder_rules
from dlcore.engine import runs
from dlcore.results import tables
from ui.charts import draw_spec, spec_with_tables
from ui.tables import draw_table

RESAMPLES = 60


def _stamp(path: str) -> tuple:
    metrics = pathlib.Path(path) / "metrics.jsonl"
    try:
        stat = metrics.stat()
    except FileNotFoundError:
        return (0, 0)
    return (stat.st_size, stat.st_mtime_ns)


@st.cache_data(show_spinner=False, max_entries=32)
def reading(source: str, path: str, others: tuple, stamp: tuple) -> dict:
    """{rows, curve, band, error}: every rule on the run at `path`, the band from `others`
    (paths of sibling tests with other seeds) or from bootstrap resamples."""
    del stamp  # only part of the cache key
    run = runs.read_run(pathlib.Path(path), source)
    batches = run.batches() if run is not None else pd.DataFrame()
    if batches.empty or "lr" not in batches:
        return {"error": "it has no batch records yet"}
    try:
        prepared = lr_finder_rules.prepare_records(batches["lr"], batches["loss"])
    except ValueError as err:
        return {"error": str(err)}
    if others:
        tests = [(r.batches()["lr"], r.batches()["loss"]) for r in
                 (runs.read_run(pathlib.Path(p), s) for s, p in ((source, path),) + others) if r is not None]
        spread, band = lr_finder_rules.seed_spread(tests), f"band across {len(tests)} range tests (other seeds)"
    else:
        spread = lr_finder_rules.bootstrap_spread(batches["lr"], batches["loss"], n_resamples=RESAMPLES)
        band = f"bootstrap band: {RESAMPLES} resamples of the logged batches"
    rows = lr_finder_rules.rules_table(lr_finder_rules.suggestions_of(prepared), spread)
    notes = []
    if prepared.spikes_replaced:
        notes.append(f"{prepared.spikes_replaced} isolated spike(s) replaced by their neighbours' median")
    if prepared.dropped_non_finite:
        notes.append(f"{prepared.dropped_non_finite} isolated NaN/inf value(s) dropped")
    return {"rows": rows, "curve": pd.DataFrame({"lr": prepared.lr, "loss": prepared.loss}), "band": band,
            "notes": notes, "error": None}


@st.cache_data(show_spinner=False, max_entries=32)
def rules_chart_specs(source: str, path: str, others: tuple, stamp: tuple) -> tuple[dict, dict]:
    """The two charts of :func:`reading` (finder.range_test_rules_charts) as specs with their data:
    Altair builds them once per reading (half a second), not on every open of the tab."""
    found = reading(source, path, others, stamp)
    run = runs.read_run(pathlib.Path(path), source)
    curve_chart, band_chart = finder.range_test_rules_charts(run.batches(), found["curve"], found["rows"],
                                                             found["band"])
    return spec_with_tables(curve_chart, {}), spec_with_tables(band_chart, {})


def sibling_tests(run, tests: list) -> tuple:
    """Finished range tests like `run` (same mode and preset) but with another seed: ((source, path), …)."""
    def kind(r):
        return (r.spec.get("name"), r.preset, r.spec.get("schedule", {}).get("name"))
    seeds = {run.spec.get("seed")}
    found = []
    for other in tests:
        if other.path != run.path and kind(other) == kind(run) and other.state == "finished" \
                and other.spec.get("seed") not in seeds:
            seeds.add(other.spec.get("seed"))
            found.append((other.source, str(other.path)))
    return tuple(found)


def draw_range_test_rules(run, tests: list, key: str = "rt_rules") -> None:
    """Every rule on `run` (one of `tests`, the range tests on the page): chart, table, sentences."""
    st.markdown("#### Every suggestion rule at once")
    st.markdown("LR finders disagree on how to read this curve, and pytorch-lr-finder's maintainer says no "
                "single rule always gives a good suggestion. Here are the common ones side by side, each "
                "with a band for how far it moves when the test's own noise is resampled.")
    with st.spinner("Reading the range test with every rule…"):
        found = reading(run.source, str(run.path), sibling_tests(run, tests), _stamp(str(run.path)))
    if found.get("error"):
        st.info(f"No rule can read {tables.run_label(run)} yet: {found['error']}.")
        return
    curve_spec, band_spec = rules_chart_specs(run.source, str(run.path), sibling_tests(run, tests), _stamp(str(run.path)))
    draw_spec(curve_spec, key=f"{key}_chart")
    draw_spec(band_spec, key=f"{key}_bands")
    table = pd.DataFrame(found["rows"])[["title", "lr", "low", "high", "decades", "how"]]
    draw_table(table.rename(columns={"title": "rule", "lr": "suggests", "low": "band from", "high": "to",
                                     "decades": "band (decades)", "how": "the rule in one sentence"}),
               {"suggests": "{:.2e}", "band from": "{:.2e}", "to": "{:.2e}", "band (decades)": "{:.2f}"})
    missing = [f"{r['title']}: {r['why_none']}" for r in found["rows"] if r["lr"] is None]
    if missing:
        st.caption("No suggestion from " + "; ".join(missing) + ".")
    prep = ("All rules read the same curve: " + (", ".join(found["notes"]) + ", then " if found["notes"] else "")
            + "smoothed and cut where the loss diverges (dlcore.core.lr_finder_rules); the fastai rules skip "
              "the first tenth of it, as fastai's lr_find does.")
    st.caption(f"{prep} Band: {found['band']}, the central 80 % of each rule's suggestions. "
               + f"Read from {tables.run_label(run)}.")
