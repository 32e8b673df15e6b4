"""Epochs and wall-clock to 92 % test accuracy, or the last epoch's when never reached."""
import pandas as pd
import pytest

import runfolders  # tests/runfolders.py: realistic run folders, JSON only
from dlcore.engine import experiments, runs
from dlcore.results.time_to_accuracy import (comparison_table, copies_per_sample, images_per_second,
                                     time_to_accuracy)


def epochs(val_accuracy, wall=None, ips=None):
    n = len(val_accuracy)
    return pd.DataFrame({"epoch": range(1, n + 1), "val_accuracy": val_accuracy,
                         "wall_s": wall or [10.0 * (e + 1) for e in range(n)],
                         "images_per_s": ips or [100.0] * n})


def test_first_epoch_at_or_above_92_is_the_one_reported():
    t = time_to_accuracy(epochs([0.50, 0.91, 0.92, 0.95], wall=[10, 20, 30, 40]))
    assert t.reached and t.epoch == 3 and t.wall_s == 30 and t.accuracy == pytest.approx(0.92)
    assert t.epochs_run == 4
    assert t.describe() == "reached 92% at epoch 3"


def test_never_reaching_92_reports_the_last_epoch_and_says_so():
    t = time_to_accuracy(epochs([0.30, 0.61, 0.55], wall=[5, 9, 14]))
    assert not t.reached
    assert (t.epoch, t.wall_s, t.accuracy) == (3, 14, pytest.approx(0.55))  # the last, not the best
    assert "not reached" in t.describe() and "last epoch (3)" in t.describe()


def test_another_target_moves_the_epoch():
    frame = epochs([0.5, 0.7, 0.8, 0.93])
    assert time_to_accuracy(frame, 0.7).epoch == 2
    assert time_to_accuracy(frame, 0.9).epoch == 4


def test_a_run_without_a_finished_epoch_says_so():
    t = time_to_accuracy(pd.DataFrame())
    assert t.epoch is None and not t.reached and t.describe() == "no finished epoch yet"


def test_a_target_outside_0_1_is_refused():
    with pytest.raises(ValueError, match="target"):
        time_to_accuracy(epochs([0.5]), 92)


def test_M_is_read_from_the_spec():
    specs = experiments.resnet_runs("smoke", Ms=(1, 4, 16))
    assert [copies_per_sample(s.to_dict()) for s in specs] == [1, 4, 16]


def test_images_per_second_is_the_median_so_the_compiling_first_epoch_does_not_count():
    assert images_per_second(epochs([0.1] * 4, ips=[20.0, 170.0, 175.0, 180.0])) == 172.5
    assert images_per_second(pd.DataFrame()) is None


@pytest.fixture
def cached(tmp_path, monkeypatch):
    monkeypatch.setenv("DLCORE_CACHED_RUNS_DIR", str(tmp_path))
    monkeypatch.setenv("DLCORE_RUNS_DIR", str(tmp_path / "none"))
    for preset, M, done, hardware in (("full", 16, 15, runfolders.GPU), ("full", 1, 15, runfolders.GPU),
                                      ("class", 4, 3, runfolders.CPU)):
        spec = experiments.resnet_runs(preset, Ms=(M,))[0].to_dict()
        runfolders.write_run(tmp_path / spec["experiment"] / f"M{M}__{preset}", spec, "finished", done,
                             hardware=hardware)
    return runs.list_runs(include_live=False)


def test_comparison_table_orders_by_M_and_says_what_each_row_reports(cached):
    table = comparison_table(cached)
    assert list(table["M"]) == [1, 4, 16]
    full = table[table["preset"] == "full"]
    # runfolders' curve reaches 1 − 0.75·0.85^14 = 0.92 at epoch 14
    assert list(full["reports"]) == ["reached 92% at epoch 14"] * 2 and list(full["epochs"]) == [14, 14]
    short = table[table["preset"] == "class"].iloc[0]
    assert short["reports"].startswith("92% not reached") and short["epochs"] == 3
    assert "class preset" in short["notes"]
    assert set(full["hardware"]) == {runfolders.GPU["device"]} and short["hardware"] == "CPU (2 cores)"
    assert set(table["backend"]) == {"tensorflow"} and table["wall-clock"].str.len().min() > 0


def test_comparison_table_of_no_runs_keeps_its_columns():
    table = comparison_table([])
    assert table.empty and {"M", "reports", "epochs", "wall-clock", "images/s", "hardware"} <= set(table)


def test_a_run_cut_short_says_so_in_its_row(tmp_path, monkeypatch):
    monkeypatch.setenv("DLCORE_CACHED_RUNS_DIR", str(tmp_path))
    spec = experiments.resnet_runs("full", Ms=(8,))[0].to_dict()
    runfolders.write_run(tmp_path / "batch_augmentation" / "M8__full", spec, "cancelled", 4,
                         hardware=runfolders.GPU)
    row = comparison_table(runs.list_runs(include_live=False)).iloc[0]
    assert row["reports"] == "92% not reached: accuracy at the last epoch (4); run cancelled after 4 of 100 epochs"


def test_a_queued_run_says_it_has_not_started(tmp_path, monkeypatch):
    monkeypatch.setenv("DLCORE_CACHED_RUNS_DIR", str(tmp_path))
    spec = experiments.resnet_runs("class", Ms=(2,))[0].to_dict()
    runfolders.write_run(tmp_path / "batch_augmentation" / "M2__class", spec, "queued", 0)
    row = comparison_table(runs.list_runs(include_live=False)).iloc[0]
    assert row["reports"] == f"no finished epoch yet; queued, {spec['epochs']} epochs to run"
