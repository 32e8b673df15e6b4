"""Page 2 · Cyclical learning rates: the schedule playground reacts to its widgets; the range
test's suggested (or overridden) lr_min/lr_max feed the CLR and batch-growth runs it would launch.

The plotted values are read back from the Altair chart's data and from the
tables the page shows. Runs are read from temporary folders (DLCORE_RUNS_DIR,
DLCORE_CACHED_RUNS_DIR): an empty pair, or run folders written here as the
worker writes them.
"""
import json
import pathlib
import subprocess
import sys

import numpy as np
import pyarrow as pa
import pytest
from streamlit.testing.v1 import AppTest

ROOT = pathlib.Path(__file__).resolve().parents[1]
PAGE = str(ROOT / "app_pages" / "cyclical_lr.py")


@pytest.fixture
def run_dirs(run_roots):
    return run_roots


@pytest.fixture
def at(run_dirs):
    return AppTest.from_file(PAGE, default_timeout=60).run()


def charts(at):
    return at.get("vega_lite_chart")


SCHEDULES, RANGE_TEST, CLR, GROWTH = "Schedules", "LR range test", "CLR run", "Growing the batch"


def open_tab(at, tab: str):
    """Open one of the page's tabs: they are lazy, only the open one is drawn."""
    at.session_state["tab"] = tab
    return at.run()


def chart_data(chart):
    """The data frame behind an st.altair_chart, as the browser receives it."""
    (dataset,) = chart.proto.datasets
    return pa.ipc.open_stream(dataset.data.data).read_all().to_pandas()


def lr_curves(at):
    return chart_data(charts(at)[0])


def table_with(at, column):
    return next(df.value for df in [*at.dataframe, *at.table] if column in df.value.columns)


def test_playground_overlays_triangular_triangular2_and_exp_range(at):
    assert not at.exception
    curves = lr_curves(at)
    assert set(curves["policy"]) == {"triangular", "triangular2", "exp_range"}
    peak = curves.groupby("policy")["lr"].max()
    assert peak["triangular"] == pytest.approx(0.006)
    assert curves["lr"].min() == pytest.approx(0.001)


def test_gamma_slider_changes_the_exp_range_curve_only(at):
    before_curves, before_apex = lr_curves(at), table_with(at, "apex iteration")
    at.slider(key="clr_gamma").set_value(0.9995).run()
    after_curves, after_apex = lr_curves(at), table_with(at, "apex iteration")
    # exp_range's second apex: 0.001 + 0.005·γ^6000
    assert after_apex["exp_range"][1] == pytest.approx(0.001 + 0.005 * 0.9995**6000)
    assert after_apex["exp_range"][1] < before_apex["exp_range"][1]
    np.testing.assert_allclose(after_apex["triangular"], before_apex["triangular"])
    mine = after_curves["policy"] == "exp_range"
    assert not np.allclose(after_curves.loc[mine, "lr"], before_curves.loc[mine, "lr"])


def test_step_size_slider_moves_the_apexes(at):
    at.slider(key="clr_step_size").set_value(1000).run()
    apex = table_with(at, "apex iteration")
    assert apex["apex iteration"].tolist() == [1000, 3000, 5000, 7000, 9000, 11000]
    curves = lr_curves(at)
    tri = curves[curves["policy"] == "triangular"].set_index("iteration")["lr"]
    assert tri[1000] == pytest.approx(0.006) and tri[2000] == pytest.approx(0.001)


def test_max_lr_not_above_base_lr_shows_an_error_not_an_exception(at):
    at.number_input(key="clr_max_lr").set_value(0.001).run()  # = base_lr: the seed notebook's mistake
    assert not at.exception
    assert any("must be larger than base_lr" in e.value for e in at.error)
    assert len(charts(at)) == 1  # the LR chart is gone, the batch-growth chart remains
    at.number_input(key="clr_max_lr").set_value(0.01).run()
    assert not [e for e in at.error if "base_lr" in e.value] and len(charts(at)) == 2


def test_log_toggle_puts_the_learning_rate_on_a_log_axis(at):
    assert '"type": "linear"' in charts(at)[0].proto.spec
    at.toggle(key="clr_log_y").set_value(True).run()
    assert '"type": "log"' in charts(at)[0].proto.spec


def test_choosing_the_papers_exp_range_shows_it_dipping_below_base_lr(at):
    at.multiselect(key="clr_policies").set_value(["exp_range", "exp_range_paper"]).run()
    curves = lr_curves(at)
    assert set(curves["policy"]) == {"exp_range", "exp_range_paper"}
    assert curves.loc[curves["policy"] == "exp_range_paper", "lr"].min() < 0.001
    assert curves.loc[curves["policy"] == "exp_range", "lr"].min() == pytest.approx(0.001)
    at.multiselect(key="clr_policies").set_value([]).run()
    assert not at.exception and any("at least one policy" in i.value for i in at.info)


def test_memory_limit_and_k_change_the_accumulation_plan(at):
    plan = table_with(at, "accumulation steps")
    assert plan["batch size"].tolist() == [32 * 2**i for i in range(10)]
    assert plan["accumulation steps"].iloc[-1] == 32  # 16384 = 32 × 512
    at.select_slider(key="clr_max_micro_batch").set_value(2048).run()
    at.slider(key="clr_growth_k").set_value(250).run()
    plan = table_with(at, "accumulation steps")
    assert plan["accumulation steps"].tolist() == [1] * 7 + [2, 4, 8]
    assert plan["first iteration"].tolist() == [250 * i for i in range(10)]
    assert chart_data(charts(at)[1])["first iteration"].max() == 2250


def test_the_page_never_imports_keras():
    code = (
        "import sys; from streamlit.testing.v1 import AppTest; "
        f"at = AppTest.from_file({PAGE!r}, default_timeout=60).run(); "
        "assert not at.exception, at.exception; "
        "bad = [m for m in ('keras', 'tensorflow', 'jax') if m in sys.modules]; "
        "print(bad); sys.exit(1 if bad else 0)"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, cwd=str(ROOT))
    assert done.returncode == 0, done.stdout + done.stderr[-2000:]


# --- The range test, the CLR run and batch growth ---------------------------------------------

from dlcore.engine import experiments, runs  # noqa: E402
from dlcore.core import rangetest, schedules  # noqa: E402

# A discrete range test with a known reading: flat at chance, falls between 1e-4 and 1e-1, NaN at 10.
CANDIDATE_LOSS = [2.30, 2.30, 2.30, 2.30, 2.29, 2.10, 1.20, 0.60, 0.90, float("nan")]
PROVENANCE = {"hardware": {"device": "CPU (2 cores)"}, "backend": "tensorflow", "wall_s": 240.0,
              "started": "2025-03-04T10:00:00+00:00", "stop_reason": None}


def write_run(folder: pathlib.Path, spec: experiments.Spec, records: list, state: str = "finished"):
    """A run folder as the worker writes it (spec, status, metrics, provenance)."""
    folder.mkdir(parents=True)
    runs.write_json(folder / "spec.json", spec.to_dict())
    runs.write_json(folder / "status.json", {"state": state, "epoch": spec.epochs, "epochs": spec.epochs})
    runs.write_json(folder / "provenance.json", PROVENANCE)
    (folder / "metrics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records))
    return folder


def range_test_records():
    lr = schedules.range_test_candidates(1e-9, 10.0, 10)
    out = []
    for c, (rate, loss) in enumerate(zip(lr, CANDIDATE_LOSS)):
        for i in range(4):  # four logged batches per candidate, as the class preset has
            step = 4 * c + i + 1
            out.append({"event": "batch", "epoch": 1 + (step - 1) // 8, "batch": 1 + (step - 1) % 8, "step": step,
                        "loss": loss + 0.01 * (i - 1.5), "lr": float(rate), "batch_size": 64, "wall_s": 6.0 * step})
    return out


def epoch_records(val_accuracy, val_loss, loss, batch_sizes, updates_per_epoch):
    out = []
    for e, size in enumerate(batch_sizes, 1):
        out.append({"event": "batch", "epoch": e, "batch": 1, "step": e * updates_per_epoch, "loss": loss + 1 / e,
                    "lr": 0.1, "batch_size": size, "wall_s": 10.0 * e})
        out.append({"event": "epoch", "epoch": e, "loss": loss + 0.5 / e, "accuracy": 0.9,
                    "val_loss": val_loss + 0.5 / e, "val_accuracy": val_accuracy - 0.1 / e, "lr": 0.1,
                    "batch_size": size, "samples": 500, "images": 500, "epoch_s": 10.0, "wall_s": 10.0 * e,
                    "images_per_s": 50.0})
    return out


@pytest.fixture
def cached_range_test(run_dirs):
    (spec,) = experiments.range_test_runs("class", mode="steps")
    write_run(run_dirs[1] / "range_test" / "steps__class", spec, range_test_records())
    records = range_test_records()
    return rangetest.suggest_from_records([r["lr"] for r in records], [r["loss"] for r in records])


def chart_frames(chart):
    """Every data set behind a layered Altair chart."""
    return [pa.ipc.open_stream(d.data.data).read_all().to_pandas() for d in chart.proto.datasets]


def range_test_chart(at):
    (chart,) = [c for c in charts(at) if '"name": "range_test"' in c.proto.spec]
    return chart


def markdown_with(at, text):
    return [m.value for m in at.markdown if text in m.value]


def test_no_runs_shows_how_to_get_them_and_uses_the_catalogue_bounds(at):
    assert not at.exception
    assert not at.info and not markdown_with(at, "Would launch")  # the Schedules tab: no run read
    assert any("No range test yet" in i.value for i in open_tab(at, RANGE_TEST).info)
    assert any("No batch-growth run yet" in i.value for i in open_tab(at, GROWTH).info)
    assert any("No CLR run yet" in i.value for i in open_tab(at, CLR).info)
    (clr,) = markdown_with(at, "Would launch** `clr/exp_range")
    assert "base_lr (lr_min) = 0.001" in clr and "max_lr (lr_max) = 0.1," in clr


def test_range_test_suggestion_is_shown_marked_and_feeds_the_clr_spec(cached_range_test):
    at = AppTest.from_file(PAGE, default_timeout=60).run()
    assert not at.exception
    s = cached_range_test
    assert 1e-5 < s.lr_min < s.lr_max < 1.0 and s.diverged_at_lr == pytest.approx(10.0)
    # The CLR tab opened before the range-test tab ever was: it reads the suggestion itself.
    (clr,) = markdown_with(open_tab(at, CLR), "Would launch** `clr/exp_range")
    assert f"base_lr (lr_min) = {s.lr_min:.3g}" in clr and f"max_lr (lr_max) = {s.lr_max:.3g}" in clr
    open_tab(at, RANGE_TEST)
    (shown,) = [m.value for m in at.success if "Suggested" in m.value]
    assert f"lr_min = {s.lr_min:.3g}" in shown and f"lr_max = {s.lr_max:.3g}" in shown
    assert at.number_input(key="rt_lr_min").value == pytest.approx(s.lr_min)
    (clr,) = markdown_with(open_tab(at, CLR), "Would launch** `clr/exp_range")
    assert f"base_lr (lr_min) = {s.lr_min:.3g}" in clr and f"max_lr (lr_max) = {s.lr_max:.3g}" in clr
    open_tab(at, RANGE_TEST)
    # the chart: 36 finite raw records (the last candidate's are NaN), the 9 candidates before
    # the NaN bold, the two bounds marked
    frames = chart_frames(range_test_chart(at))
    marks = next(d for d in frames if "at" in d.columns)
    assert marks.set_index("name")["at"].to_dict() == pytest.approx({"lr_min": s.lr_min, "lr_max": s.lr_max})
    assert sorted(len(d) for d in frames if "loss" in d.columns) == [9, 36]


def test_overriding_the_bounds_changes_what_the_clr_and_growth_runs_would_launch(cached_range_test):
    at = open_tab(AppTest.from_file(PAGE, default_timeout=60).run(), RANGE_TEST)
    at.toggle(key="rt_override").set_value(True).run()
    at.number_input(key="rt_lr_min").set_value(0.002).run()
    at.number_input(key="rt_lr_max").set_value(0.05).run()
    assert not at.exception
    (clr,) = markdown_with(open_tab(at, CLR), "Would launch** `clr/exp_range")
    assert "base_lr (lr_min) = 0.002" in clr and "max_lr (lr_max) = 0.05," in clr
    open_tab(at, GROWTH)
    assert any("lr_max = 0.05** (your override)" in m for m in markdown_with(at, "Kindermans"))
    growth_specs = next(df.value for df in [*at.dataframe, *at.table] if "batch_growth/fixed_lr" in str(df.value.get("run", "")))
    assert growth_specs["optimizer"].tolist() == ["sgd lr=0.05"]
    # your bounds are now marked on the range-test chart beside the suggestion (kept while other tabs were open)
    open_tab(at, RANGE_TEST)
    assert at.toggle(key="rt_override").value and at.number_input(key="rt_lr_min").value == pytest.approx(0.002)
    marks = next(d for d in chart_frames(range_test_chart(at)) if "at" in d.columns)
    assert marks.set_index("name")["at"].to_dict() == pytest.approx(
        {"lr_min": cached_range_test.lr_min, "lr_max": cached_range_test.lr_max,
         "your lr_min": 0.002, "your lr_max": 0.05})
    # switching the override off returns to the suggestion
    at.toggle(key="rt_override").set_value(False).run()
    assert at.number_input(key="rt_lr_max").value == pytest.approx(cached_range_test.lr_max)


def test_lr_min_above_lr_max_is_an_error_not_an_exception(at):
    open_tab(at, RANGE_TEST)
    at.toggle(key="rt_override").set_value(True).run()
    at.number_input(key="rt_lr_min").set_value(0.5).run()
    assert not at.exception
    assert any("must be below lr_max" in e.value for e in at.error)
    open_tab(at, CLR)
    assert not at.exception
    assert any("CLR run cannot be built" in e.value for e in at.error)
    assert not markdown_with(at, "Would launch** `clr/exp_range")


def test_starting_the_clr_run_queues_the_spec_with_the_chosen_bounds(at, run_dirs, monkeypatch):
    from dlcore.engine import jobs

    monkeypatch.setattr(jobs, "pump", lambda root=None: None)  # queue it, start no worker
    open_tab(at, RANGE_TEST)
    at.toggle(key="rt_override").set_value(True).run()
    at.number_input(key="rt_lr_min").set_value(0.003).run()
    open_tab(at, CLR)
    at.radio(key="clrrun_preset").set_value("smoke").run()
    at.button(key="clrrun_start").click().run()
    assert not at.exception
    (folder,) = run_dirs[0].iterdir()
    spec = json.loads((folder / "spec.json").read_text())
    assert spec["experiment"] == "clr" and spec["preset"] == "smoke"
    assert spec["schedule"]["base_lr"] == pytest.approx(0.003) and spec["schedule"]["max_lr"] == pytest.approx(0.1)
    assert any("Started the CLR run" in s.value for s in at.success)


def growth_plan(at):
    return [df.value for df in [*at.dataframe, *at.table] if "accumulation steps" in df.value.columns][-1]


def test_batch_growth_k_and_memory_limit_change_the_plan(at):
    plan = growth_plan(open_tab(at, GROWTH))
    assert plan["batch size"].tolist() == [32, 64, 128]                # the class preset stops at 128
    k = experiments.BATCH_GROWTH_SIZES["class"][2]
    assert plan["first iteration"].tolist() == [0, k, 2 * k]
    assert plan["accumulation steps"].tolist() == [1, 1, 2]            # memory limit 64
    at.number_input(key="growth_k_class").set_value(10).run()
    at.select_slider(key="growth_micro_class").set_value(32).run()
    plan = growth_plan(at)
    assert plan["first iteration"].tolist() == [0, 10, 20]
    assert plan["accumulation steps"].tolist() == [1, 2, 4]
    assert any("k = 10 updates" in m for m in markdown_with(at, "Would launch** `batch_growth"))
    at.radio(key="growth_preset").set_value("full").run()
    plan = growth_plan(at)
    assert plan["batch size"].iloc[-1] == 16_384 and plan["accumulation steps"].iloc[-1] == 32


def test_cached_runs_are_drawn_and_compared_in_numbers(run_dirs):
    cached = run_dirs[1]
    (clr,) = experiments.clr_runs("class", 1e-3, 1e-1)
    (growth,) = experiments.batch_growth_runs("class", lr_max=0.1)
    write_run(cached / "clr" / "exp_range__class", clr, epoch_records(0.80, 0.55, 0.40, [64] * 5, 8))
    write_run(cached / "batch_growth" / "fixed_lr__class", growth,
              epoch_records(0.74, 0.75, 0.45, [32, 64, 128, 256], 4))
    at = AppTest.from_file(PAGE, default_timeout=60).run()
    clr_specs = [c.proto.spec for c in charts(open_tab(at, CLR))]
    open_tab(at, GROWTH)
    assert not at.exception
    table = next(df.value for df in [*at.dataframe, *at.table] if "test accuracy" in df.value.columns)
    assert table["test accuracy"].tolist() == pytest.approx([0.74 - 0.1 / 4, 0.80 - 0.1 / 5])
    (points,) = markdown_with(at, "- Final test accuracy and loss: batch growth")
    assert "**71.5%**" in points and "**78.0%**" in points and "6.5 percentage points lower" in points
    assert "Optimizer updates: 16 for batch growth, 40 for CLR" in points
    provenance = [df.value for df in [*at.dataframe, *at.table] if "backend" in df.value.columns]
    assert provenance and all((p["preset"] == "class (shortened)").all() for p in provenance)
    specs = [c.proto.spec for c in charts(at)] + clr_specs
    assert any("batch size (log" in s for s in specs)                    # loss vs batch size
    assert any("validation" in s and "accuracy" in s for s in specs)    # the CLR curves
