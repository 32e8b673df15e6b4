"""The architecture-arithmetic page: change a widget, see the numbers change."""
import pathlib
import subprocess
import sys

import pytest
from streamlit.testing.v1 import AppTest

ROOT = pathlib.Path(__file__).resolve().parents[1]
PAGE = str(ROOT / "app_pages" / "architecture.py")


@pytest.fixture
def at():
    at = AppTest.from_file(PAGE, default_timeout=30).run()
    assert not at.exception, at.exception
    return at


def metric(at, label):
    return next(m.value for m in at.metric if m.label == label)


def table_with(at, column):
    return next(d.value for d in [*at.dataframe, *at.table] if column in d.value.columns)


def texts(at):
    return " ".join([m.value for m in at.markdown] + [c.value for c in at.caption] + [x.value for x in at.latex])


def test_page_shows_the_alexnet_total_62_378_344(at):
    assert metric(at, "Total parameters") == "62,378,344"
    assert "= 62,378,344" in texts(at)
    calcs = list(table_with(at, "Calculation")["Calculation"])
    assert "(11×11×3)×96 + 96 = 34,944" in calcs


def test_alexnet_variant_and_biases_change_the_total(at):
    at.radio(key="alexnet_variant").set_value("two towers (paper, groups = 2)").run()
    assert metric(at, "Total parameters") == "60,965,224"
    at.toggle(key="alexnet_biases").set_value(False).run()
    assert metric(at, "Total parameters") == "60,954,656"
    assert "(5×5×96/2)×256 = 307,200" in list(table_with(at, "Calculation")["Calculation"])


def test_vgg19_table_is_computed_without_the_notebooks_typos(at):
    vgg = table_with(at, "Parameters without biases (compute)")
    calcs = list(vgg["Parameters without biases (compute)"])
    assert "(3×3×256)×512 = 1,179,648" in calcs
    assert "(3×3×512)×512 = 2,359,296" in calcs
    assert not any("117948" in c.replace(",", "") or "2358296" in c.replace(",", "") for c in calcs)
    assert list(vgg["Layer"])[-1] == "TOTAL"
    assert metric(at, "Parameters without biases") == "143,652,544"
    assert metric(at, "Activations per image") == "16,542,184"  # the flatten adds none (a reshape)


def test_changing_n_and_f_changes_the_receptive_field(at):
    assert metric(at, "Receptive field") == "13×13"
    at.slider(key="rf_n").set_value(4).run()
    at.slider(key="rf_f").set_value(3).run()
    assert metric(at, "Receptive field") == "9×9"
    assert "4\\cdot3 - 4 + 1 = 9" in texts(at)
    growth = table_with(at, "growth")
    assert list(growth["field"]) == ["1×1", "3×3", "5×5", "7×7", "9×9"]


def test_a_stride_of_2_widens_the_field_faster(at):
    at.slider(key="rf_n").set_value(3).run()
    at.slider(key="rf_f").set_value(3).run()
    at.slider(key="rf_stride").set_value(2).run()
    assert metric(at, "Receptive field") == "15×15"


def test_changing_an_inception_filter_number_changes_the_multiplies(at):
    def totals():
        t = table_with(at, "Reduction: multiplies")
        return t["Naive: multiplies"].iloc[-1], t["Reduction: multiplies"].iloc[-1]

    assert totals() == (1_115_684_864, 354_418_688)
    assert metric(at, "Multiplies saved") == "761,266,176"
    at.number_input(key="inc_n3x3").set_value(200).run()
    naive, reduced = totals()
    assert reduced == 354_418_688 + 32 * 32 * 8 * 3 * 3 * 64
    assert naive == 1_115_684_864 + 32 * 32 * 8 * 3 * 3 * 256
    assert metric(at, "Output, dimensionality reduction") == "32×32×488"


def test_inception_input_is_editable(at):
    at.number_input(key="inc_c").set_value(128).run()
    assert metric(at, "Output, naive") == "32×32×544"
    at.number_input(key="inc_h").set_value(16).run()
    assert metric(at, "Output, naive") == "16×32×544"


def test_a_bad_row_in_the_editor_gives_a_message_not_an_exception():
    at = AppTest.from_file(PAGE, default_timeout=30)
    # Row 3 (a conv) gets a 50×50 kernel on a 16×16 input; an unknown row is added.
    at.session_state["own_layers_0"] = {
        "edited_rows": {2: {"kernel": 50, "padding": "valid"}},
        "added_rows": [{"type": "pooling", "units": 3}],
        "deleted_rows": [],
    }
    at.run()
    assert not at.exception, at.exception
    errors = [e.value for e in at.error]
    assert any(e.startswith("Row 3:") and "larger than the 16×16 input" in e for e in errors), errors
    assert any("unknown layer type 'pooling'" in e for e in errors), errors
    check = table_with(at, "check")
    assert check["check"].iloc[1] == "ok"


def test_the_mistakes_table_flags_every_mistake_in_words(at):
    assert not at.error and at.success
    at.selectbox(key="own_preset").set_value("A table with mistakes").run()
    assert not at.exception
    errors = " ".join(e.value for e in at.error)
    for words in ("not a whole number", "larger than", "negative", "unknown layer type", "row above is invalid"):
        assert words in errors


def test_a_negative_input_size_is_a_message(at):
    at.number_input(key="own_w_0").set_value(-5).run()
    assert not at.exception
    assert "negative" in at.error[0].value


def test_the_page_never_imports_keras():
    code = (
        "import sys\n"
        "from streamlit.testing.v1 import AppTest\n"
        f"at = AppTest.from_file({PAGE!r}, default_timeout=60).run()\n"
        "assert not at.exception, at.exception\n"
        "print(sorted(m for m in ('keras', 'tensorflow', 'jax') if m in sys.modules))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip().splitlines()[-1] == "[]"
