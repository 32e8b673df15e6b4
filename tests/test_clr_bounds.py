"""The full CLR run cycles between the bounds the range-test rule reads off the cached full range test."""
import numpy as np

from dlcore.core import rangetest
from dlcore.engine import experiments, runs


def write_range_test(root, lr, loss):
    folder = root.joinpath(*experiments.CLR_RANGE_TEST)
    folder.mkdir(parents=True)
    spec = experiments.range_test_runs("full", mode="steps")[0]
    runs.write_json(folder / "spec.json", spec.to_dict())
    runs.write_json(folder / "status.json", {"state": "finished", "epoch": 5, "epochs": 5})
    for step, (rate, value) in enumerate(zip(lr, loss), 1):
        runs.append_jsonl(folder / "metrics.jsonl", {"event": "batch", "epoch": 1, "batch": step, "step": step,
                                                     "lr": rate, "loss": value})
    return folder


def test_full_clr_bounds_are_the_range_tests_suggestion(tmp_path, monkeypatch):
    monkeypatch.setenv("DLCORE_CACHED_RUNS_DIR", str(tmp_path))
    lr = np.repeat(np.logspace(-9, 1, 10), 20)
    loss = np.repeat([2.3, 2.3, 2.3, 2.25, 1.6, 0.9, 0.6, 0.55, 3.0, np.nan], 20)
    write_range_test(tmp_path, lr, loss)
    expected = rangetest.suggest_from_records(lr, loss)
    spec = experiments.catalogue("clr", "full")[0]
    assert spec.schedule["base_lr"] == float(f"{expected.lr_min:.3g}") == spec.optimizer["learning_rate"]
    assert spec.schedule["max_lr"] == float(f"{expected.lr_max:.3g}")
    assert "range_test/steps (full)" in spec.notes and "rangetest" in spec.notes


def test_without_a_range_test_the_fallback_is_used_and_says_why(tmp_path, monkeypatch):
    monkeypatch.setenv("DLCORE_CACHED_RUNS_DIR", str(tmp_path))
    spec = experiments.catalogue("clr", "full")[0]
    assert (spec.schedule["base_lr"], spec.schedule["max_lr"]) == experiments.CLR_FALLBACK_BOUNDS
    assert "no cached range test" in spec.notes


def test_an_unreadable_range_test_falls_back_with_its_reason(tmp_path, monkeypatch):
    monkeypatch.setenv("DLCORE_CACHED_RUNS_DIR", str(tmp_path))
    write_range_test(tmp_path, np.logspace(-9, 1, 10), np.linspace(2.3, 2.4, 10))  # never falls
    bounds = experiments.clr_bounds("full")
    assert (bounds.lr_min, bounds.lr_max) == experiments.CLR_FALLBACK_BOUNDS
    assert "cannot be read" in bounds.source and "never fell" in bounds.source


def test_shortened_presets_state_that_they_keep_the_fallback():
    for preset in ("class", "smoke"):
        spec = experiments.catalogue("clr", preset)[0]
        assert (spec.schedule["base_lr"], spec.schedule["max_lr"]) == experiments.CLR_FALLBACK_BOUNDS
        assert "fallback" in spec.notes


def test_the_shipped_range_test_gives_the_full_runs_bounds():
    folder = runs.cached_root().joinpath(*experiments.CLR_RANGE_TEST)
    run = runs.read_run(folder, "cached")
    if run is None:
        import pytest

        pytest.skip("no cached full range test in this checkout")
    batches = run.batches()
    expected = rangetest.suggest_from_records(batches["lr"], batches["loss"])
    spec = experiments.catalogue("clr", "full")[0]
    assert np.isclose(spec.schedule["base_lr"], expected.lr_min, rtol=5e-3)
    assert np.isclose(spec.schedule["max_lr"], expected.lr_max, rtol=5e-3)
