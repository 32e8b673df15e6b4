"""Page 2 · Cyclical learning rates: the schedule playground reacts to its widgets.

The plotted values are read back from the Altair chart's data and from the
apex and batch-growth tables the page shows.
"""
import pathlib
import subprocess
import sys

import numpy as np
import pyarrow as pa
import pytest
from streamlit.testing.v1 import AppTest

ROOT = pathlib.Path(__file__).resolve().parents[1]
PAGE = str(ROOT / "pages" / "cyclical_lr.py")


@pytest.fixture
def at():
    return AppTest.from_file(PAGE, default_timeout=60).run()


def charts(at):
    return at.get("vega_lite_chart")


def chart_data(chart):
    """The data frame behind an st.altair_chart, as the browser receives it."""
    (dataset,) = chart.proto.datasets
    return pa.ipc.open_stream(dataset.data.data).read_all().to_pandas()


def lr_curves(at):
    return chart_data(charts(at)[0])


def table_with(at, column):
    return next(df.value for df in at.dataframe if column in df.value.columns)


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
    assert not at.error and len(charts(at)) == 2


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


def test_sections_that_need_training_say_they_are_being_built(at):
    built = [i.value for i in at.info if "being built" in i.value]
    assert len(built) == 3
    assert any("range test" in b for b in built) and any("CLR run" in b for b in built)
    assert any("lr_min" in m.value and "90 %" in m.value for m in at.markdown)  # the suggestion rule


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
