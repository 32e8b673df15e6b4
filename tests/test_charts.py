"""Charts of runs: the frames they take, what they encode, and the words beside them."""
import subprocess
import sys

import numpy as np
import pytest

import runfolders  # tests/runfolders.py: realistic run folders, JSON only
from dlcore.core import rangetest
from dlcore.results import tables
from dlcore.charts import curves
from dlcore.engine import runs


@pytest.fixture
def roots(run_roots):
    return run_roots


@pytest.fixture
def live_and_cached(roots):
    live, cached = roots
    a = runs.read_run(runfolders.live_run(live, state="running", done=2, partial=2), "live")
    b = runs.read_run(runfolders.cached_run(cached), "cached")
    return a, b


def spec_of(chart) -> dict:
    """The chart's Vega-Lite spec without its data."""
    d = chart.to_dict()
    d.pop("datasets", None)
    return d


def data_of(chart, layer: int | None = None) -> list[dict]:
    d = chart.to_dict()
    name = (d["layer"][layer] if layer is not None else d)["data"]["name"]
    return d["datasets"][name]


# --- Frames -----------------------------------------------------------------------------------

def test_epochs_frame_has_one_row_per_run_epoch_and_metric(live_and_cached):
    frame = tables.epochs_frame(list(live_and_cached))
    assert list(frame.columns) == ["run", "label", "source", "preset", "state", "epoch", "wall_s",
                                   "wall_clock", "metric", "value"]
    # 2 finished epochs of the live run, 6 of the cached one, 8 metrics each
    assert len(frame) == (2 + 6) * len(tables.EPOCH_METRICS)
    live_loss = frame[(frame.source == "live") & (frame.metric == "loss")]
    assert list(live_loss.epoch) == [1, 2] and list(live_loss.value) == pytest.approx([2.3 / 2, 2.3 / 3])
    assert set(frame.preset) == {"class", "full"}


def test_labels_name_the_preset_and_say_cached(live_and_cached):
    live, cached = live_and_cached
    assert tables.run_label(live) == "mlp_l2/adam (class)"
    assert tables.run_label(cached) == "mlp_l2/adam (full, cached)"


def test_two_live_runs_of_one_spec_get_distinct_labels(roots):
    live, _ = roots
    a = runs.read_run(runfolders.live_run(live, stamp="20250304-100000-aaaaaa"), "live")
    b = runs.read_run(runfolders.live_run(live, stamp="20250304-120000-bbbbbb"), "live")
    labels = tables.run_labels([a, b])
    assert len(set(labels)) == 2 and all(label.startswith("mlp_l2/adam (class)") for label in labels)
    assert tables.epochs_frame([a, b])["label"].nunique() == 2


def test_batches_frame_streams_the_epoch_still_running(live_and_cached):
    live, _ = live_and_cached
    frame = tables.batches_frame([live])
    # 2 finished epochs × 2 logged batches, then 1 logged batch of epoch 3, in progress
    assert list(frame.epoch) == [1, 1, 2, 2, 3]
    assert list(frame.step) == sorted(frame.step)
    assert {"lr", "batch_size", "loss", "wall_clock"} <= set(frame.columns)


def test_corrupted_metrics_line_is_skipped_by_the_frames(roots):
    live, _ = roots
    path = runfolders.live_run(live)
    runfolders.corrupt_metrics(path)
    run = runs.read_run(path, "live")
    frame = tables.epochs_frame([run])
    assert sorted(frame.epoch.unique()) == [1, 2, 3, 4]
    assert any("half-written" in w for w in run.warnings)


def test_no_runs_give_empty_frames_that_still_chart():
    frame = tables.epochs_frame([])
    assert frame.empty and "metric" in frame.columns
    curves.metric_vs_epoch(frame).to_dict()
    curves.loss_vs_step(tables.batches_frame([])).to_dict()
    assert tables.available_metrics(frame) == []


# --- Metric vs epoch --------------------------------------------------------------------------

def test_metric_vs_epoch_overlays_runs_coloured_by_label_with_tooltips(live_and_cached):
    chart = curves.metric_vs_epoch(tables.epochs_frame(list(live_and_cached)), "loss")
    enc = spec_of(chart)["encoding"]
    assert enc["x"]["field"] == "epoch" and enc["y"]["field"] == "value"
    assert enc["y"]["title"] == "training loss"
    assert enc["color"]["field"] == "label"
    assert enc["color"]["scale"]["domain"] == ["mlp_l2/adam (class)", "mlp_l2/adam (full, cached)"]
    assert [t["field"] for t in enc["tooltip"]] == ["label", "epoch", "value", "wall_clock"]
    rows = data_of(chart)
    assert {r["metric"] for r in rows} == {"loss"} and len(rows) == 2 + 6


def test_cached_runs_are_drawn_dashed_and_lighter_than_live_ones(live_and_cached):
    frame = tables.epochs_frame(list(live_and_cached))
    enc = spec_of(curves.metric_vs_epoch(frame))["encoding"]
    dash, opacity = enc["strokeDash"], enc["opacity"]
    assert dash["field"] == "source"
    live_dash, cached_dash = dash["scale"]["range"]
    assert dash["scale"]["domain"] == ["live", "cached"] and live_dash != cached_dash
    assert "cached" in opacity["condition"]["test"]
    assert opacity["condition"]["value"] < opacity["value"]  # cached lighter
    plain = spec_of(curves.metric_vs_epoch(frame, dashed_cached=False))["encoding"]
    assert "strokeDash" not in plain and "opacity" not in plain


def test_error_form_plots_one_minus_accuracy_as_validation_error(live_and_cached):
    frame = tables.epochs_frame(list(live_and_cached))
    chart = curves.metric_vs_epoch(frame, "val_accuracy", error=True)
    assert spec_of(chart)["encoding"]["y"]["title"] == "validation error"
    accuracy = frame[frame.metric == "val_accuracy"]["value"].to_numpy()
    assert [r["value"] for r in data_of(chart)] == pytest.approx(1 - accuracy)
    with pytest.raises(ValueError, match="accuracy"):
        curves.metric_vs_epoch(frame, "loss", error=True)


def test_train_val_curves_colour_the_split_for_one_run_and_dash_it_for_several(live_and_cached):
    live, cached = live_and_cached
    one = spec_of(curves.train_val_curves(tables.epochs_frame([live]), "loss"))["encoding"]
    assert one["color"]["field"] == "split" and "strokeDash" not in one
    several = curves.train_val_curves(tables.epochs_frame([live, cached]), "error")
    enc = spec_of(several)["encoding"]
    assert enc["color"]["field"] == "label" and enc["strokeDash"]["field"] == "split"
    values = {(r["label"], r["split"], r["epoch"]): r["value"] for r in data_of(several)}
    assert values[("mlp_l2/adam (class)", "validation", 1)] == pytest.approx(0.75 * 0.85)  # 1 − accuracy


def test_same_arguments_give_the_same_spec_so_a_refresh_keeps_the_zoom(live_and_cached):
    live, cached = live_and_cached
    first = spec_of(curves.metric_vs_epoch(tables.epochs_frame([live, cached])))
    # The live run streams one more epoch in: only the data may change, not the spec.
    runs.append_jsonl(live.path / "metrics.jsonl", {**runfolders.records(3)[-1], "epoch": 3})
    again = spec_of(curves.metric_vs_epoch(tables.epochs_frame([live, cached])))
    assert first == again
    (zoom,) = first["params"]
    assert zoom["bind"] == "scales" and zoom["select"]["encodings"] == ["x"]


# --- Metric vs learning rate / batch size, and vs step ------------------------------------------

def test_metric_vs_lr_has_a_log_x_axis_and_rules_at_the_given_rates(live_and_cached):
    live, _ = live_and_cached
    chart = curves.metric_vs_lr(tables.batches_frame([live]), rules={"lr_min": 1e-3, "lr_max": 2e-2})
    raw, smooth, rule, text = spec_of(chart)["layer"]
    assert raw["encoding"]["x"]["field"] == "lr" and raw["encoding"]["x"]["scale"]["type"] == "log"
    assert raw["encoding"]["y"]["field"] == "loss" and smooth["encoding"]["y"]["field"] == "smoothed"
    assert rule["mark"]["type"] == "rule" and text["mark"]["type"] == "text"
    marks = data_of(chart, layer=2)
    assert [(m["name"], m["at"]) for m in marks] == [("lr_min", 1e-3), ("lr_max", 2e-2)]
    assert [m["text"] for m in marks] == ["lr_min = 0.001", "lr_max = 0.02"]


def test_metric_vs_lr_without_rules_has_just_raw_and_smoothed(live_and_cached):
    chart = curves.metric_vs_lr(tables.batches_frame([live_and_cached[0]]))
    assert len(spec_of(chart)["layer"]) == 2


def test_metric_vs_batch_size_has_a_log2_x_axis(live_and_cached):
    chart = curves.metric_vs_batch_size(tables.batches_frame([live_and_cached[0]]))
    x = spec_of(chart)["layer"][0]["encoding"]["x"]
    assert x["field"] == "batch_size" and x["scale"] == {"type": "log", "base": 2}


def test_smoothed_line_is_the_bias_corrected_ema_of_each_run(live_and_cached):
    frame = tables.batches_frame(list(live_and_cached))
    smooth = tables.smoothed(frame, "loss", beta=0.5)
    for _, part in frame.groupby("run"):
        assert smooth[part.index].to_numpy() == pytest.approx(rangetest.ema(part["loss"], 0.5))
    assert smooth.iloc[0] == pytest.approx(frame["loss"].iloc[0])  # bias corrected: starts on the data
    assert not np.allclose(smooth, frame["loss"])


def test_loss_vs_step_plots_batch_records(live_and_cached):
    chart = curves.loss_vs_step(tables.batches_frame([live_and_cached[0]]))
    enc = spec_of(chart)["encoding"]
    assert enc["x"]["field"] == "step" and enc["y"]["field"] == "loss"
    assert len(data_of(chart)) == 5


# --- Words beside a chart -----------------------------------------------------------------------

def test_caption_names_experiment_preset_hardware_and_date(live_and_cached):
    text = curves.runs_caption(list(live_and_cached), "Training loss")
    assert text.startswith("Training loss from: ")
    for words in ("mlp_l2/adam", "class preset", "full preset", "CPU (2 cores)", "NVIDIA H100",
                  "2025-03-04", "2025-02-01", "cached run mlp_l2/adam", "live run mlp_l2__adam__"):
        assert words in text


def test_runs_table_shows_progress_eta_throughput_and_a_shortened_preset(live_and_cached):
    table = tables.runs_table(list(live_and_cached))
    live, cached = table.iloc[0], table.iloc[1]
    # 2 of 4 epochs done and 2 of the 4 batches of the third
    assert live["progress"] == pytest.approx(2.5 / 4)
    assert live["epoch"] == "2/4" and live["ETA"].endswith(" s") and live["images/s"] == pytest.approx(2502.0)
    assert "class preset" in live["notes"] and "homework asks for more" in live["notes"]
    assert cached["progress"] == 1.0 and cached["ETA"] == "" and cached["notes"] == ""
    assert cached["hardware"].startswith("1 × NVIDIA")


def test_a_shortened_preset_without_notes_still_says_so(roots):
    live, _ = roots
    path = runfolders.live_run(live)
    spec = runs.read_json(path / "spec.json")
    runs.write_json(path / "spec.json", {**spec, "notes": ""})
    assert "shortened" in tables.run_notes(runs.read_run(path, "live"))


def test_provenance_table_lists_hardware_versions_revision_seed_and_times(live_and_cached):
    table = dict(tables.provenance_table(live_and_cached[1]).values)
    assert table["device"].startswith("1 × NVIDIA H100")
    assert "keras 3.10.0" in table["versions"] and table["backend"] == "tensorflow"
    assert table["code revision"] == "abc1234" and table["seed"] == "0"
    assert table["started"].startswith("2025-02-01") and table["wall-clock"]
    assert "error" not in table  # empty fields are left out


def test_durations_read_at_a_glance():
    assert tables.duration_text(4.25) == "4.2 s"
    assert tables.duration_text(42) == "42 s"
    assert tables.duration_text(185) == "3 min 05 s"
    assert tables.duration_text(7620) == "2 h 07 min"
    assert tables.duration_text(None) == "" and tables.duration_text(float("nan")) == ""


def test_metrics_csv_holds_every_record(live_and_cached):
    text = tables.metrics_csv(live_and_cached[0])
    lines = text.strip().splitlines()
    assert lines[0].startswith("event,epoch") and len(lines) == 1 + len(runfolders.records(2, partial=2))


def test_charts_do_not_import_keras():
    code = "import sys, dlcore.charts.curves; assert not {'keras', 'tensorflow'} & set(sys.modules), sys.modules.keys()"
    subprocess.run([sys.executable, "-c", code], check=True, cwd=runs.REPO)


def test_a_loss_that_spans_orders_of_magnitude_is_drawn_on_a_log_axis_that_says_so(roots):
    # The ResNet class runs: a test loss of 1e10-1e12 next to a training loss of 2-3.
    path = runfolders.live_run(roots[0], "resnet", "M1", done=3, epochs=3, scale=1.0)
    lines = (path / "metrics.jsonl").read_text().splitlines()
    import json
    recs = [json.loads(x) for x in lines]
    for rec in recs:
        if rec["event"] == "epoch":
            rec["val_loss"] = 1.9e10 * 10 ** rec["epoch"]
    (path / "metrics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in recs))
    frame = tables.epochs_frame([runs.read_run(path, "live")])
    for chart in (curves.train_val_curves(frame, "loss"), curves.metric_vs_epoch(frame, "val_loss")):
        y = spec_of(chart)["encoding"]["y"]
        assert y["scale"]["type"] == "log" and "log scale" in y["title"] and "orders of magnitude" in y["title"]
    # Accuracy never switches, and a loss within one order of magnitude stays linear.
    assert spec_of(curves.train_val_curves(frame, "accuracy"))["encoding"]["y"].get("scale", {}).get("type") != "log"
    assert spec_of(curves.metric_vs_epoch(frame, "loss"))["encoding"]["y"]["scale"]["type"] == "linear"
    assert curves.spans_orders_of_magnitude([2.3, 1e12]) and not curves.spans_orders_of_magnitude([2.3, 0.5, None])


# --- Fit for a projector (issue 14) ----------------------------------------------------------

def test_the_plot_keeps_its_height_and_the_legend_comes_on_top(live_and_cached):
    frame = tables.epochs_frame(list(live_and_cached))
    for chart in (curves.metric_vs_epoch(frame, "loss"), curves.train_val_curves(frame, "loss"),
                  curves.error_vs_epoch_with_target(frame)):
        d = chart.to_dict()
        assert d["autosize"] == {"type": "fit-x", "contains": "padding"} and d["height"] >= 250


def test_a_log_loss_axis_ends_at_the_data_not_at_the_next_power_of_ten(live_and_cached):
    frame = tables.epochs_frame(list(live_and_cached))
    log = spec_of(curves.metric_vs_epoch(frame, "loss", log_y=True))["encoding"]["y"]["scale"]
    linear = spec_of(curves.metric_vs_epoch(frame, "loss", log_y=False))["encoding"]["y"]["scale"]
    assert log["type"] == "log" and log["nice"] is False
    assert linear["nice"] is True


@pytest.mark.parametrize("read_max, expected", [(1.0, 4.0), (5.0, 5.25), (100.0, 20.0)])
def test_the_range_test_axis_stops_just_above_the_bold_curve(read_max, expected):
    import pandas as pd

    raw = pd.Series([1.0, 2.0, 3.0, float("inf")])          # median of the finite ones: 2
    assert curves.range_test_loss_top(raw, pd.Series([0.5, read_max])) == pytest.approx(expected)
    assert curves.range_test_loss_top(pd.Series([float("nan")]), pd.Series([1.0])) is None


# --- Legends that stay whole at 1024 px (dlcore.charts.legends) -------------------------------
from hypothesis import given, strategies as hyp_st  # noqa: E402

from dlcore.charts import legends  # noqa: E402

MLP_LABELS = [f"mlp_dropout/{m} (full, cached)" for m in ("adagrad", "rmsprop", "rmsprop_nesterov", "adadelta", "adam")]


def test_the_five_long_mlp_labels_take_one_column_at_1024_px():
    assert legends.columns_that_fit(MLP_LABELS) == 1
    assert legends.rows(MLP_LABELS) == 5


def test_short_labels_share_rows():
    assert legends.columns_that_fit(["training", "validation"]) == 2
    assert legends.rows([]) == 0


@given(hyp_st.lists(hyp_st.text(min_size=1, max_size=60), min_size=1, max_size=12),
       hyp_st.floats(min_value=150, max_value=1400))
def test_the_columns_of_a_legend_fit_its_width(labels, width):
    columns = legends.columns_that_fit(labels, width)
    assert 1 <= columns <= len(labels)
    widest = legends.SYMBOL_PX + legends.LABEL_CHAR_PX * max(len(label) for label in labels)
    assert columns == 1 or columns * widest <= width
    assert legends.rows(labels, width) * columns >= len(labels)


def test_run_legends_have_columns_that_fit_and_the_source_legend_sits_above(live_and_cached):
    frame = tables.epochs_frame(list(live_and_cached))
    spec = spec_of(curves.metric_vs_epoch(frame, "loss"))
    legend = spec["encoding"]["color"]["legend"]
    assert legend["orient"] == "bottom" and legend["columns"] == legends.columns_that_fit(frame["label"].unique())
    assert spec["encoding"]["strokeDash"]["legend"]["orient"] == "top"
