"""dlcore.results.generalization: the final test numbers of two runs and the sentence comparing them."""
import json

import pytest

from dlcore.engine import experiments, runs
from dlcore.results import generalization


def run_with(tmp_path, name, spec, finals, state="finished", updates=(8, 16)):
    """A run folder whose epochs end with the (val_accuracy, val_loss, loss) triples in `finals`."""
    folder = tmp_path / name
    folder.mkdir()
    runs.write_json(folder / "spec.json", spec.to_dict())
    runs.write_json(folder / "status.json", {"state": state})
    lines = []
    for epoch, ((acc, val_loss, loss), step) in enumerate(zip(finals, updates), 1):
        lines.append({"event": "batch", "epoch": epoch, "step": step, "loss": loss, "lr": 0.1, "batch_size": 64})
        lines.append({"event": "epoch", "epoch": epoch, "loss": loss, "val_loss": val_loss, "val_accuracy": acc,
                      "batch_size": 64, "wall_s": 10.0 * epoch})
    (folder / "metrics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in lines))
    return runs.read_run(folder, "cached")


@pytest.fixture
def specs():
    return experiments.batch_growth_runs("full")[0], experiments.clr_runs("full", 1e-3, 1e-1)[0]


def test_final_numbers_are_the_last_evaluated_epoch(tmp_path, specs):
    run = run_with(tmp_path, "g", specs[0], [(0.5, 1.5, 1.2), (0.86, 0.40, 0.30)], updates=(100, 200))
    m = generalization.final_test_metrics(run)
    assert m["test_accuracy"] == 0.86 and m["test_loss"] == 0.40 and m["epochs"] == 2
    assert m["gap"] == pytest.approx(0.10) and m["updates"] == 200


def test_a_run_without_a_test_evaluation_has_no_final_numbers(tmp_path, specs):
    run = run_with(tmp_path, "g", specs[0], [])
    assert generalization.final_test_metrics(run) is None
    clr = run_with(tmp_path, "c", specs[1], [(0.9, 0.3, 0.2)])
    (point,) = generalization.generalization_points(run, clr)
    assert point.startswith("No comparison yet: the batch-growth run")


def test_points_state_the_numbers_and_which_generalizes_better(tmp_path, specs):
    growth = run_with(tmp_path, "g", specs[0], [(0.88, 0.45, 0.20)], updates=(1000,))
    clr = run_with(tmp_path, "c", specs[1], [(0.91, 0.30, 0.22)], updates=(30000,))
    points = generalization.generalization_points(growth, clr)
    assert points == [
        "Final test accuracy and loss: batch growth **88.0%**, 0.450; CLR **91.0%**, 0.300.",
        "Batch growth: 3.0 percentage points lower test accuracy.",
        "Test − training loss: +0.250 for batch growth, +0.080 for CLR (by that gap, the batch-growth model "
        "generalizes worse).",
        "Optimizer updates: 1000 for batch growth, 30000 for CLR (3%).",
    ]  # no caution: same preset, both finished, both far above chance
    # Other runs, other words.
    better = run_with(tmp_path, "g2", specs[0], [(0.95, 0.25, 0.24)], updates=(600,))
    points = generalization.generalization_points(better, clr)
    assert "Batch growth: 4.0 percentage points higher test accuracy." in points
    assert "+0.010 for batch growth, +0.080 for CLR (by that gap, the batch-growth model generalizes better)" \
        in points[2]
    assert points[3] == "Optimizer updates: 600 for batch growth, 30000 for CLR (2%)."


def test_close_accuracies_are_about_the_same_and_caveats_are_named(tmp_path, specs):
    growth = run_with(tmp_path, "g", specs[0].replace(preset="class"), [(0.805, 0.50, 0.45)], state="cancelled")
    clr = run_with(tmp_path, "c", specs[1], [(0.80, 0.52, 0.40)])
    text = "\n".join(generalization.generalization_points(growth, clr))
    assert "about the same test accuracy (0.5 points apart)" in text
    assert "different presets (class and full)" in text and "batch-growth run is not finished" in text


def test_chance_level_accuracy_is_called_out(tmp_path, specs):
    growth = run_with(tmp_path, "g", specs[0], [(0.10, 13.2, 1.0)])
    clr = run_with(tmp_path, "c", specs[1], [(0.07, 2.7, 0.86)])
    text = "\n".join(generalization.generalization_points(growth, clr))
    assert "batch-growth and CLR runs are at chance level (10% for 10 classes)" in text


def test_table_has_one_row_per_run_with_numbers(tmp_path, specs):
    growth = run_with(tmp_path, "g", specs[0], [(0.88, 0.45, 0.20)])
    clr = run_with(tmp_path, "c", specs[1], [(0.91, 0.30, 0.22)])
    table = generalization.comparison_table({"growth": growth, "clr": clr, "empty": run_with(tmp_path, "e", specs[1], [])})
    assert table["run"].tolist() == ["growth", "clr"]
    assert table["test accuracy"].tolist() == [0.88, 0.91]


def test_matching_run_prefers_a_finished_run_of_the_same_preset(tmp_path, specs):
    target = run_with(tmp_path, "g", specs[0].replace(preset="class"), [(0.5, 1, 1)])
    full = run_with(tmp_path, "c1", specs[1], [(0.9, 0.3, 0.2)])
    running = run_with(tmp_path, "c2", specs[1].replace(preset="class"), [(0.5, 1, 1)], state="running")
    done = run_with(tmp_path, "c3", specs[1].replace(preset="class"), [(0.5, 1, 1)])
    assert generalization.matching_run(target, [full, running, done]) is done
    assert generalization.matching_run(target, [full, running]) is full
    assert generalization.matching_run(target, []) is None
