"""The Streamlit building blocks of issue 16 (ui.range_test_rules, ui.x_axis, ui.claims), run in
AppTest on hand-made run folders: every rule drawn and explained, the x-axis choice and smoothing
reaching the chart, the claims table's verdicts."""
import json

import pyarrow as pa
import pytest
import runfolders  # tests/runfolders.py: realistic run folders, JSON only
from streamlit.testing.v1 import AppTest
from test_axes import constant_batch_records, growth_records
from test_lr_finder_rules import CLEAN, SWEEP


def chart_frames(at):
    """Every dataset of every chart on the page, as frames."""
    out = []
    for chart in at.get("vega_lite_chart"):
        for dataset in chart.proto.datasets:
            out.append(pa.ipc.open_stream(dataset.data.data).read_all().to_pandas())
    return out


def write(path, records):
    (path / "metrics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records))


@pytest.fixture
def range_test(run_roots):
    live, _ = run_roots
    path = runfolders.live_run(live, experiment="range_test", name="sweep")
    records = [{"event": "batch", "epoch": 1, "batch": i + 1, "step": i + 1, "loss": float(v), "accuracy": 0.1,
                "lr": float(lr), "batch_size": 64, "wall_s": 0.1 * i} for i, (lr, v) in enumerate(zip(SWEEP, CLEAN))]
    write(path, records)
    return path


def rules_app(path):
    import pathlib

    from dlcore.engine import runs
    from ui import range_test_rules

    run = runs.read_run(pathlib.Path(path), "live")
    range_test_rules.draw_range_test_rules(run, [run])


def test_every_rule_is_drawn_explained_and_banded(range_test):
    at = AppTest.from_function(rules_app, args=(str(range_test),), default_timeout=120).run()
    assert not at.exception
    table = next(t.value for t in at.table if "the rule in one sentence" in t.value.columns)
    assert list(table["rule"]) == ["valley (fastai)", "steep (pytorch-lr-finder)", "minimum / 10 (fastai)",
                                    "slide (fastai)", "Smith: lr_min", "Smith: lr_max"]
    assert table["the rule in one sentence"].str.len().min() > 40      # one sentence each
    assert (table["band from"].astype(float) <= table["to"].astype(float)).all()
    marks = next(f for f in chart_frames(at) if "rule" in f.columns and "text" in f.columns)
    assert len(marks) == 6 and marks["lr"].notna().all()
    assert any("bootstrap band" in c.value for c in at.caption)


def test_a_test_too_short_to_read_says_so(run_roots):
    live, _ = run_roots
    path = runfolders.live_run(live, experiment="range_test", name="sweep")
    write(path, [{"event": "batch", "epoch": 1, "batch": 1, "step": 1, "loss": float("nan"), "lr": 1e-6,
                  "batch_size": 64, "wall_s": 0.1}])
    at = AppTest.from_function(rules_app, args=(str(path),), default_timeout=60).run()
    assert not at.exception
    assert any("No rule can read" in i.value for i in at.info)


@pytest.fixture
def clr_and_growth(run_roots):
    live, _ = run_roots
    fixed = runfolders.live_run(live, experiment="clr", name="fixed", stamp="20250304-100000-aaaaaa")
    growth = runfolders.live_run(live, experiment="batch_growth", name="growth", stamp="20250304-100001-aaaaaa")
    write(fixed, constant_batch_records())
    write(growth, growth_records())
    return str(fixed), str(growth)


def axes_app(paths):
    import pathlib

    from dlcore.engine import runs
    from ui import x_axis

    shown = [runs.read_run(pathlib.Path(p), "live") for p in paths]
    choice = x_axis.axis_ui("cmp", default="updates")
    x_axis.draw_batch_curves(shown, "loss", choice, "cmp_batches")
    x_axis.draw_epoch_curves(shown, "val_accuracy", choice, "cmp_epochs", error=True)


def test_the_comparison_opens_on_updates_and_follows_the_axis_choice(clr_and_growth):
    at = AppTest.from_function(axes_app, args=(clr_and_growth,), default_timeout=60).run()
    assert not at.exception
    assert at.radio(key="cmp_x").value == "updates"
    batches = chart_frames(at)[0]
    growth = batches[batches["label"].str.startswith("batch_growth")]
    assert growth["updates"].max() == 10                          # 4 + 4 + 2 updates
    assert growth["examples"].max() == 128 + 256 + 256            # updates × effective batch
    at.radio(key="cmp_x").set_value("examples").run()
    spec = json.loads(at.get("vega_lite_chart")[0].proto.spec)
    assert spec["layer"][0]["encoding"]["x"]["field"] == "examples"
    assert any("examples seen" in c.value for c in at.caption)


def test_smoothing_adds_the_smoothed_line_over_the_raw_one(clr_and_growth):
    at = AppTest.from_function(axes_app, args=(clr_and_growth,), default_timeout=60).run()
    assert len(json.loads(at.get("vega_lite_chart")[0].proto.spec)["layer"]) == 1
    at.slider(key="cmp_smoothing").set_value(0.6).run()
    assert not at.exception
    spec = json.loads(at.get("vega_lite_chart")[0].proto.spec)
    assert len(spec["layer"]) == 2 and "0.60" in spec["title"]["subtitle"]


def claims_app(paths):
    import pathlib

    from dlcore.engine import runs
    from ui import claims

    claims.draw_claims(["clr"], [runs.read_run(pathlib.Path(p), "live") for p in paths])


def test_claims_table_sits_beside_the_runs_with_its_verdict(clr_and_growth):
    at = AppTest.from_function(claims_app, args=(clr_and_growth,), default_timeout=60).run()
    assert not at.exception
    table = at.table[0].value
    assert len(table) == 1 and table["verdict"].iloc[0].endswith("not comparable")
    assert "shortened preset (class)" in table["why (or what decided it)"].iloc[0]
    assert any("Cyclical Learning Rates for Training Neural Networks" in m.value and "81.4 %" in m.value
               for m in at.markdown)
