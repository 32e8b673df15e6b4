"""Run health: a run that diverged, whose test loss exploded, or that sits at chance is named, with its cause."""
import json
import math

import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

from dlcore.engine import experiments, runs
from dlcore.results import health, tables
import runfolders  # tests/runfolders.py


def epochs(*rows) -> pd.DataFrame:
    """Epoch records from (loss, accuracy, val_loss, val_accuracy) tuples."""
    return pd.DataFrame([{"epoch": i, "loss": l, "accuracy": a, "val_loss": vl, "val_accuracy": va}
                         for i, (l, a, vl, va) in enumerate(rows, 1)])


RESNET = experiments.resnet_runs("class")[0].to_dict()
MLP = experiments.mlp_runs("class", "l2")[0].to_dict()
RANGE = experiments.range_test_runs("class", mode="sweep")[0].to_dict()


def test_a_learning_run_is_ok():
    h = health.judge(epochs((2.1, 0.25, 2.0, 0.28), (1.8, 0.35, 1.9, 0.33)), MLP)
    assert h.kind == "ok" and not h.failed and h.flag == ""


def test_no_finished_epoch_is_pending_not_failed():
    h = health.judge(pd.DataFrame(), MLP)
    assert h.kind == "pending" and not h.failed


def test_the_issues_resnet_class_runs_are_named_loss_exploded_with_batch_norm_as_cause():
    # The old class runs: about 10 steps, test loss 1.9e10 to 1e12, test accuracy exactly 10 %.
    h = health.judge(epochs((2.9, 0.11, 1.9e10, 0.10), (2.6, 0.13, 1.0e12, 0.10)), RESNET)
    assert h.kind == "loss exploded" and h.failed and h.flag == "loss exploded"
    assert "1e+12" in h.reason and "batch norm" in h.cause and "0.9" in h.cause
    assert "Likely cause" in str(h)


def test_a_non_finite_loss_is_diverged_with_the_learning_rate_as_cause():
    h = health.judge(epochs((2.2, 0.2, 2.1, 0.2), (float("nan"), 0.1, float("nan"), 0.1)), MLP)
    assert h.kind == "diverged" and "epoch 2" in h.reason and "learning rate" in h.cause


def test_an_infinite_test_loss_alone_is_diverged():
    h = health.judge(epochs((2.2, 0.2, float("inf"), 0.1)), RESNET)
    assert h.kind == "diverged" and "test loss" in h.reason


def test_accuracy_at_ten_percent_with_a_loss_near_ln10_is_at_chance():
    h = health.judge(epochs((2.31, 0.10, 2.30, 0.10), (2.30, 0.101, 2.30, 0.105)), MLP)
    assert h.kind == "at chance" and "10.5%" in h.reason and "too few updates" in h.cause


def test_a_run_that_blew_up_and_then_sat_at_ln10_is_diverged():
    # The cached mlp_dropout/rmsprop_nesterov class run: 10.7 in epoch 1, then 2.30 and 10 % for good.
    h = health.judge(epochs((10.73, 0.109, 2.279, 0.12), (2.303, 0.098, 2.303, 0.101), (2.306, 0.1, 2.304, 0.1)), MLP)
    assert h.kind == "diverged" and "blew up to 10.7 at epoch 1" in h.reason


def test_a_blow_up_within_the_first_batches_that_the_epoch_mean_hides_still_counts():
    # mlp_dropout/adadelta, class preset: batch loss 5.77 at the start, epoch mean 3.2, then 2.30 and 10 %.
    rows = epochs((3.20, 0.100, 2.301, 0.102), (2.31, 0.100, 2.301, 0.113), (2.31, 0.100, 2.302, 0.100))
    assert health.judge(rows, MLP).kind == "at chance"
    h = health.judge(rows, MLP, batch_peak=(5.77, 1))
    assert h.kind == "diverged" and "5.77 in a logged batch of epoch 1" in h.reason


def test_chance_with_a_loss_far_above_ln10_is_diverged():
    h = health.judge(epochs((9.7, 0.10, 9.9, 0.10)), MLP)
    assert h.kind == "diverged" and "far above" in h.reason


def test_a_batch_norm_net_that_learns_on_training_data_but_not_at_test_is_blamed_on_its_statistics():
    h = health.judge(epochs((1.2, 0.6, 2.4, 0.10)), RESNET)
    assert h.kind == "at chance" and "training accuracy 60%" in h.cause and "batch norm" in h.cause


def test_an_exploded_test_loss_without_batch_norm_is_blamed_on_the_rate():
    h = health.judge(epochs((0.9, 0.7, 45.0, 0.3)), MLP)
    assert h.kind == "loss exploded" and "learning rate" in h.cause


def test_overfitting_is_not_an_explosion():
    # 200 epochs of the MLP: training loss near 0, test loss a few times ln 10; it learned.
    h = health.judge(epochs((0.02, 0.99, 6.5, 0.52)), MLP)
    assert h.kind == "ok"


def test_a_range_test_that_blows_up_at_its_end_is_ok():
    h = health.judge(pd.DataFrame([{"epoch": 1, "loss": 2.3, "accuracy": 0.1},
                                   {"epoch": 5, "loss": 1e6, "accuracy": 0.1}]), RANGE)
    assert h.kind == "ok"


@settings(max_examples=60, deadline=None)
@given(acc=st.floats(0.0, 1.0), loss=st.floats(0.01, 50.0), val_loss=st.floats(0.01, 1e13))
def test_a_run_is_flagged_exactly_when_its_numbers_say_so(acc, loss, val_loss):
    h = health.judge(epochs((loss, acc, val_loss, acc)), MLP)
    exploded = val_loss > health.EXPLODED_LOSS
    chance = acc <= 0.12
    assert h.failed == (exploded or chance)
    if not h.failed:
        assert h.kind == "ok"


def test_the_flag_reaches_the_runs_table(tmp_path):
    good = runfolders.write_run(tmp_path / "good", runfolders.spec_dict(), "finished", 3)
    bad = runfolders.write_run(tmp_path / "bad", runfolders.spec_dict("resnet", "M1"), "finished", 3)
    lines = [json.loads(x) for x in (bad / "metrics.jsonl").read_text().splitlines()]
    for rec in lines:
        if rec["event"] == "epoch":
            rec.update(val_loss=3.4e11, val_accuracy=0.1)
    (bad / "metrics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in lines))
    found = [runs.read_run(good, "cached"), runs.read_run(bad, "cached")]
    table = tables.runs_table(found)
    assert list(table["flag"]) == ["", "loss exploded"]
    assert health.of_run(found[1]).kind == "loss exploded"


def test_lesson_needs_a_finished_healthy_run_above_the_bar(tmp_path):
    path = runfolders.write_run(tmp_path / "r", runfolders.spec_dict(), "finished", 4)
    run = runs.read_run(path, "cached")
    acc = float(run.epochs()["val_accuracy"].iloc[-1])
    assert health.lesson_shows(run, acc - 0.01)[0]
    shows, why = health.lesson_shows(run, acc + 0.01)
    assert not shows and "<" in why
    cancelled = runs.read_run(runfolders.write_run(tmp_path / "c", runfolders.spec_dict(), "cancelled", 2), "cached")
    assert health.lesson_shows(cancelled, 0.0) == (False, "state cancelled")


def explode(path):
    """Give a run folder the issue's ResNet class-run numbers: test loss 1e10-1e12, test accuracy 10 %."""
    recs = [json.loads(x) for x in (path / "metrics.jsonl").read_text().splitlines()]
    for rec in recs:
        if rec["event"] == "epoch":
            rec.update(val_loss=1.9e10 * 10 ** rec["epoch"], val_accuracy=0.1)
    (path / "metrics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in recs))
    return path


def test_the_runs_page_names_an_exploded_run_in_its_table_and_view_with_the_cause(run_roots):
    import pathlib

    from streamlit.testing.v1 import AppTest

    live, cached = run_roots
    spec = experiments.resnet_runs("class")[0].to_dict()
    explode(runfolders.write_run(cached / "resnet" / "M1__class", spec, "finished", 2))
    app = pathlib.Path(__file__).resolve().parents[1] / "app.py"
    at = AppTest.from_file(str(app), default_timeout=60).run()
    at.switch_page("app_pages/runs.py").run()
    assert not at.exception, at.exception
    # The runs table (a data grid or a static table, whichever the page draws) has the flag column.
    (table,) = [d.value for d in [*at.dataframe, *at.table] if {"flag", "progress"} <= set(d.value.columns)]
    assert list(table["flag"]) == ["loss exploded"]
    errors = " ".join(e.value for e in at.error)
    assert "Loss exploded" in errors and "batch norm" in errors and "Likely cause" in errors
