"""dlcore.results.axes and dlcore.charts.training_axes: epochs, updates = steps, examples = steps ×
effective batch, wall-clock; the debiased EMA; charts on any x-axis."""
import json
import math

import numpy as np
import pytest
import runfolders  # tests/runfolders.py: realistic run folders, JSON only
from hypothesis import given, settings
from hypothesis import strategies as st

from dlcore.charts import training_axes
from dlcore.engine import runs
from dlcore.results import axes, tables

LOG_EVERY = 5


def constant_batch_records(epochs=3, updates=10, batch=64):
    """A run at a fixed batch of 64: `updates` per epoch, a record every LOG_EVERY updates."""
    out, wall = [], 0.0
    for e in range(1, epochs + 1):
        for done in range(LOG_EVERY, updates + 1, LOG_EVERY):
            wall += 1.5
            out.append({"event": "batch", "epoch": e, "batch": done, "step": (e - 1) * updates + done,
                        "loss": 2.0 / e, "accuracy": 0.5, "lr": 0.1, "batch_size": batch, "wall_s": wall})
        wall += 0.5
        out.append({"event": "epoch", "epoch": e, "loss": 2.0 / e, "val_accuracy": 0.3 + 0.1 * e, "lr": 0.1,
                    "batch_size": batch, "samples": updates * batch, "images": updates * batch, "wall_s": wall})
    return out


# Batch growth as dlcore.engine.batch_growth runs it: one phase (epoch) per batch size, micro-batches
# of 32, so batch 64 takes 2 micro-batches per update and 128 takes 4; a record per micro-batch.
PHASES = [(32, 4, 1), (64, 4, 2), (128, 2, 4)]   # (batch size, updates, accumulation steps)


def growth_records():
    out, first, wall = [], 0.0, 0.0
    for e, (batch, updates, accumulation) in enumerate(PHASES, 1):
        for done in range(1, updates * accumulation + 1):
            wall += 0.25 * accumulation
            out.append({"event": "batch", "epoch": e, "batch": done, "step": first + done / accumulation,
                        "loss": 1.0, "accuracy": 0.5, "lr": 0.1, "batch_size": batch, "wall_s": wall})
        first += updates
        out.append({"event": "epoch", "epoch": e, "loss": 1.0, "val_accuracy": 0.5, "lr": 0.1, "batch_size": batch,
                    "samples": batch * updates, "images": batch * updates, "wall_s": wall})
    return out


def folder(root, name, records, experiment="clr"):
    path = runfolders.live_run(root, experiment=experiment, name=name, stamp=f"20250304-10000{len(name)}-aaaaaa")
    (path / "metrics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records))
    return runs.read_run(path, "live")


@pytest.fixture
def two_runs(run_roots):
    live, _ = run_roots
    return [folder(live, "fixed", constant_batch_records()),
            folder(live, "growth", growth_records(), experiment="batch_growth")]


def by_run(frame, run):
    return frame[frame["run"] == run.run_id].sort_values("step")


# --- Conversions -------------------------------------------------------------------------------

def test_updates_are_the_logged_steps(two_runs):
    frame = axes.with_batch_axes(tables.batches_frame(two_runs))
    assert (frame["updates"] == frame["step"]).all()


def test_examples_are_steps_times_the_batch_size_at_a_fixed_batch(two_runs):
    fixed = by_run(axes.with_batch_axes(tables.batches_frame(two_runs)), two_runs[0])
    assert list(fixed["examples"]) == [s * 64 for s in fixed["step"]]


def test_examples_of_batch_growth_sum_each_phases_updates_times_its_effective_batch(two_runs):
    growth = by_run(axes.with_batch_axes(tables.batches_frame(two_runs)), two_runs[1])
    ends = growth.groupby("epoch").tail(1)
    # phase 1: 4 × 32; phase 2: + 4 × 64; phase 3: + 2 × 128 (micro-batches never count as updates)
    assert list(ends["updates"]) == [4, 8, 10]
    assert list(ends["examples"]) == [128, 128 + 256, 128 + 256 + 256]
    # within a phase, examples grow by the effective batch per update, micro-batch by micro-batch
    phase2 = growth[growth["epoch"] == 2]
    assert np.allclose(np.diff(phase2["examples"]), 64 / 2)


def test_examples_at_each_epoch_end_agree_with_the_images_the_worker_counted(two_runs):
    for run in two_runs:
        ends = axes.epoch_ends(tables.batches_frame([run]))
        images = run.epochs()["images"].cumsum()
        assert list(ends["examples"]) == list(images)


def test_fractional_epochs_place_each_record_within_its_epoch(two_runs):
    fixed = by_run(axes.with_batch_axes(tables.batches_frame(two_runs)), two_runs[0])
    assert list(fixed["epochs"]) == pytest.approx([0.5, 1.0, 1.5, 2.0, 2.5, 3.0])
    growth = by_run(axes.with_batch_axes(tables.batches_frame(two_runs)), two_runs[1])
    assert growth["epochs"].is_monotonic_increasing and growth["epochs"].iloc[-1] == pytest.approx(3.0)


def test_epoch_frame_gets_updates_examples_and_seconds_per_epoch(two_runs):
    frame = axes.with_epoch_axes(tables.epochs_frame(two_runs), tables.batches_frame(two_runs))
    loss = frame[(frame["metric"] == "loss") & (frame["run"] == two_runs[0].run_id)].sort_values("epoch")
    assert list(loss["updates"]) == [10, 20, 30]
    assert list(loss["examples"]) == [640, 1280, 1920]
    assert list(loss["seconds"]) == pytest.approx([3.5, 7.0, 10.5])


def test_a_run_without_batch_records_has_no_updates_axis(run_roots):
    live, _ = run_roots
    only_epochs = [r for r in constant_batch_records() if r["event"] == "epoch"]
    run = folder(live, "epochs_only", only_epochs)
    frame = axes.with_epoch_axes(tables.epochs_frame([run]), tables.batches_frame([run]))
    assert frame["updates"].isna().all() and frame["seconds"].notna().all()


def test_unknown_axis_is_refused_with_the_choices():
    with pytest.raises(ValueError, match="epoch, updates, examples, seconds"):
        axes.axis_column("iterations")


# --- Smoothing -----------------------------------------------------------------------------------

def test_debiased_ema_by_hand():
    # w = 0.5: avg 0.5 → 0.5/0.5 = 1; avg 0.25 → 0.25/0.75 = 1/3
    assert axes.debiased_ema([1.0, 0.0], 0.5) == pytest.approx([1.0, 1 / 3])


@settings(max_examples=40, deadline=None)
@given(st.floats(0.1, 10.0), st.floats(0.0, 0.98), st.integers(1, 40))
def test_debiased_ema_of_a_constant_is_that_constant_from_the_first_point(value, weight, n):
    assert axes.debiased_ema([value] * n, weight) == pytest.approx([value] * n)


def test_debiased_ema_skips_nan_and_weight_zero_changes_nothing():
    out = axes.debiased_ema([2.0, math.nan, 4.0], 0.5)
    assert math.isnan(out[1]) and out[2] == pytest.approx((0.25 * 2 + 0.5 * 4) / 0.75)
    assert list(axes.debiased_ema([3.0, 1.0, 2.0], 0.0)) == [3.0, 1.0, 2.0]
    with pytest.raises(ValueError, match="smoothing weight"):
        axes.debiased_ema([1.0], 1.0)


def test_smoothing_is_per_run_never_across_runs(two_runs):
    frame = axes.with_batch_axes(tables.batches_frame(two_runs))
    smoothed = axes.smoothed_column(frame, "loss", "updates", 0.9)
    growth = frame["run"] == two_runs[1].run_id
    assert np.allclose(smoothed[growth], 1.0)         # its own constant loss, not pulled by the other run


# --- Charts ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("x, field", [("epoch", "epochs"), ("updates", "updates"), ("examples", "examples"),
                                      ("seconds", "seconds")])
def test_batch_chart_draws_the_chosen_axis(two_runs, x, field):
    frame = axes.with_batch_axes(tables.batches_frame(two_runs))
    spec = training_axes.batch_metric_on_axis(frame, "loss", x, smoothing=0.6, view="v").to_dict()
    xs = [layer["encoding"]["x"] for layer in spec["layer"]]
    assert all(e["field"] == field and e["title"] == axes.X_AXES[x] for e in xs)
    assert len(spec["layer"]) == 2                     # raw and smoothed


def test_epoch_chart_without_smoothing_has_one_line_per_run(two_runs):
    frame = axes.with_epoch_axes(tables.epochs_frame(two_runs), tables.batches_frame(two_runs))
    spec = training_axes.epoch_metric_on_axis(frame, "val_accuracy", "updates", error=True).to_dict()
    assert len(spec["layer"]) == 1 and spec["layer"][0]["encoding"]["x"]["field"] == "updates"
    assert "no smoothing" in spec["title"]["subtitle"]
    assert "effective batch" in training_axes.axis_caption("examples", 0.0)


def test_the_epoch_still_running_is_measured_by_the_one_before(run_roots):
    live, _ = run_roots
    records = constant_batch_records(epochs=2)
    records.append({**records[0], "epoch": 3, "step": 25, "wall_s": 12.0})   # half of epoch 3, no epoch record
    run = folder(live, "running", records)
    frame = axes.with_batch_axes(tables.batches_frame([run]), tables.epochs_frame([run]))
    assert frame.sort_values("step")["epochs"].iloc[-1] == pytest.approx(2.5)


@settings(max_examples=40, deadline=None)
@given(st.lists(st.tuples(st.integers(1, 5), st.sampled_from([16, 32, 64, 128, 256])), min_size=1, max_size=30))
def test_examples_are_the_sum_of_updates_times_batch_for_any_record_sequence(steps_and_batches):
    import pandas as pd

    step, rows = 0, []
    for done, batch in steps_and_batches:
        step += done
        rows.append({"run": "r", "epoch": 1, "step": float(step), "batch_size": batch, "wall_s": float(step)})
    frame = axes.with_batch_axes(pd.DataFrame(rows))
    expected = np.cumsum([done * batch for done, batch in steps_and_batches])
    assert list(frame["examples"]) == list(expected)
    assert list(frame["updates"]) == [r["step"] for r in rows]
