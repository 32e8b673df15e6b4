"""Issue 16 on the pages, opened through the app's navigation: every LR-finder rule on the range
test, the batch-growth vs CLR comparison on the updates axis, claim tables beside the results."""
import json
import pathlib

import pytest
from streamlit.testing.v1 import AppTest
from test_page_cyclical_lr import epoch_records, range_test_records, write_run

from dlcore.engine import experiments

ROOT = pathlib.Path(__file__).resolve().parents[1]


def open_page(page: str, tab: str | None = None) -> AppTest:
    """`page` through the app's navigation, on `tab` (its tabs are lazy: only the open one is drawn)."""
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120).run()
    at.switch_page(f"app_pages/{page}").run()
    if tab is not None:
        at.session_state["tab"] = tab
        at.run()
    assert not at.exception, at.exception
    return at


def specs(at) -> list[dict]:
    return [json.loads(c.proto.spec) for c in at.get("vega_lite_chart")]


@pytest.fixture
def cyclical_runs(run_roots):
    cached = run_roots[1]
    (test,) = experiments.range_test_runs("class", mode="steps")
    write_run(cached / "range_test" / "steps__class", test, range_test_records())
    (clr,) = experiments.clr_runs("class", 1e-3, 1e-1)
    (growth,) = experiments.batch_growth_runs("class", lr_max=0.1)
    write_run(cached / "clr" / "exp_range__class", clr, epoch_records(0.80, 0.55, 0.40, [64] * 5, 8))
    write_run(cached / "batch_growth" / "fixed_lr__class", growth,
              epoch_records(0.74, 0.75, 0.45, [32, 64, 128, 256], 4))
    return cached


def test_range_test_tab_shows_every_rule_with_its_sentence_and_band(cyclical_runs):
    at = open_page("cyclical_lr.py", "LR range test")
    assert any(m.value == "#### Every suggestion rule at once" for m in at.markdown)
    table = next(t.value for t in at.table if "the rule in one sentence" in t.value.columns)
    assert len(table) == 6 and table["rule"].str.contains("valley|steep|minimum|slide|Smith").all()
    assert any("bootstrap band" in c.value for c in at.caption)
    # the suggested bounds above are Smith's rule on the same prepared curve
    (shown,) = [m.value for m in at.success if "Suggested" in m.value]
    smith_max = table.loc[table["rule"] == "Smith: lr_max", "suggests"].iloc[0]
    assert f"lr_max = {float(smith_max):.3g}" in shown


def test_growth_vs_clr_comparison_opens_on_updates(cyclical_runs):
    at = open_page("cyclical_lr.py", "Growing the batch")
    assert at.radio(key="growth_compare_axis_x").value == "updates"
    on_updates = [s for s in specs(at) if any(layer["encoding"].get("x", {}).get("field") == "updates"
                                              for layer in s.get("layer", []) if "encoding" in layer)]
    assert len(on_updates) == 2                      # batch loss and validation error, both on updates
    at.radio(key="growth_compare_axis_x").set_value("epoch").run()
    assert not at.exception


def test_clr_results_carry_smiths_claim_with_a_computed_verdict(cyclical_runs):
    at = open_page("cyclical_lr.py", "CLR run")
    assert any("Cyclical Learning Rates for Training Neural Networks" in m.value for m in at.markdown)
    verdicts = [t.value for t in at.table if "why (or what decided it)" in t.value.columns]
    assert any("different data set (Fashion-MNIST; the paper: CIFAR-10)" in v.iloc[0]["why (or what decided it)"]
               for v in verdicts)


def test_cutout_page_has_claims_and_an_x_axis_choice(run_roots):
    cached = run_roots[1]
    for spec in experiments.resnet_runs("class", Ms=(1, 4)):
        write_run(cached / spec.experiment / f"{spec.name}__class", spec,
                  epoch_records(0.5, 1.5, 1.2, [64 * (4 if spec.name == "M4" else 1)] * 3, 20))
    at = open_page("cutout.py", "ResNet-44 baseline")
    assert any("Deep Residual Learning for Image Recognition" in m.value for m in at.markdown)
    at.session_state["tab"] = "Batch augmentation (M copies)"
    at.run()
    assert any("Augment Your Batch" in m.value for m in at.markdown)
    assert at.radio(key="batch_axis_x").value == "epoch"
    at.radio(key="batch_axis_x").set_value("examples").run()
    assert not at.exception
    assert any(layer["encoding"].get("x", {}).get("field") == "examples" for s in specs(at)
               for layer in s.get("layer", []) if "encoding" in layer)
