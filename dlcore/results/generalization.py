"""How well two trained models generalize: final test accuracy and loss, side by side, in numbers
and in short points.

SPEC Problem 2.3 asks whether growing the batch at a fixed rate (Smith et
al. 2018) ends as well as decaying the rate does (here: the exp_range CLR
run). Both runs evaluate the test set after every epoch (after every batch
size, for the growth run), so the last epoch record holds the final model's
test loss and accuracy; the gap between test and training loss says how much
of what was learnt does not carry over. Every number in the points comes
from the runs' metrics files, and the points say when the comparison is
not like for like (different presets, an unfinished run).

No Keras here: pages show this instantly from cached runs.
"""
from __future__ import annotations

import math

import pandas as pd

from dlcore.engine import runs

# Test accuracies closer than this (1 percentage point) are called "about the same".
SAME_ACCURACY = 0.01
# Fashion-MNIST and CIFAR-10 have 10 classes: guessing scores 10 %. Below 1.5× that, a model
# has not learnt anything that carries over to the test set (e.g. a run too short for batch
# normalization's moving statistics to settle), and comparing two such numbers says nothing.
CLASSES = 10
CHANCE_FACTOR = 1.5


def final_test_metrics(run: runs.Run) -> dict | None:
    """The final model's numbers: test accuracy/loss, training loss, their gap, epochs, updates.

    None when the run has no finished epoch with a test evaluation yet, or is damaged.
    """
    if run.damaged:
        return None
    epochs = run.epochs()
    if epochs.empty or "val_accuracy" not in epochs or "val_loss" not in epochs:
        return None
    evaluated = epochs.dropna(subset=["val_accuracy", "val_loss"])
    if evaluated.empty:
        return None
    last = evaluated.iloc[-1]
    batches = run.batches()
    updates = float(batches["step"].max()) if "step" in batches and len(batches) else math.nan
    loss = float(last.get("loss", math.nan))
    return {
        "test_accuracy": float(last["val_accuracy"]), "test_loss": float(last["val_loss"]),
        "train_loss": loss, "gap": float(last["val_loss"]) - loss, "epochs": int(last["epoch"]),
        "updates": updates, "final_batch_size": last.get("batch_size"), "wall_s": last.get("wall_s"),
        "preset": run.preset, "state": run.state,
    }


def comparison_table(named_runs: dict[str, runs.Run]) -> pd.DataFrame:
    """One row per run ({label: run}): the final test numbers of :func:`final_test_metrics`."""
    rows = []
    for label, run in named_runs.items():
        m = final_test_metrics(run)
        if m is None:
            continue
        rows.append({
            "run": label, "preset": m["preset"], "state": m["state"],
            "test accuracy": m["test_accuracy"], "test loss": m["test_loss"],
            "training loss": m["train_loss"], "test − training loss": m["gap"],
            "epochs": m["epochs"], "updates": m["updates"], "final batch": m["final_batch_size"],
        })
    return pd.DataFrame(rows)


def generalization_points(growth: runs.Run, clr: runs.Run) -> list[str]:
    """The comparison of the batch-growth run with the CLR run as short points (markdown), one
    claim and its numbers each, every number from the runs' metrics."""
    g, c = final_test_metrics(growth), final_test_metrics(clr)
    if g is None or c is None:
        missing = "the batch-growth run" if g is None else "the CLR run"
        return [f"No comparison yet: {missing} has no finished epoch with a test evaluation."]
    points = [f"Final test accuracy and loss: batch growth **{g['test_accuracy']:.1%}**, {g['test_loss']:.3f}; "
              f"CLR **{c['test_accuracy']:.1%}**, {c['test_loss']:.3f}."]
    diff = g["test_accuracy"] - c["test_accuracy"]
    if abs(diff) < SAME_ACCURACY:
        points.append(f"Batch growth: about the same test accuracy ({abs(diff) * 100:.1f} points apart).")
    else:
        points.append(f"Batch growth: {abs(diff) * 100:.1f} percentage points "
                      f"{'higher' if diff > 0 else 'lower'} test accuracy.")
    if math.isfinite(g["gap"]) and math.isfinite(c["gap"]):
        better = "generalizes better" if g["gap"] < c["gap"] else "generalizes worse"
        points.append(f"Test − training loss: {g['gap']:+.3f} for batch growth, {c['gap']:+.3f} for CLR "
                      f"(by that gap, the batch-growth model {better}).")
    if math.isfinite(g["updates"]) and math.isfinite(c["updates"]) and c["updates"] > 0:
        points.append(f"Optimizer updates: {g['updates']:.0f} for batch growth, {c['updates']:.0f} for CLR "
                      f"({g['updates'] / c['updates']:.0%}).")
    at_chance = [name for name, m in (("batch-growth", g), ("CLR", c))
                 if m["test_accuracy"] < CHANCE_FACTOR / CLASSES]
    if at_chance:
        points.append(
            f"Caution: the {' and '.join(at_chance)} run{'s are' if len(at_chance) > 1 else ' is'} at chance level "
            f"({1 / CLASSES:.0%} for {CLASSES} classes) on the test set, so this says nothing about "
            "generalization yet (typically a run too short for batch normalization's moving statistics, which "
            "the test uses, to settle).")
    if g["preset"] != c["preset"]:
        points.append(f"Caution: the runs used different presets ({g['preset']} and {c['preset']}).")
    unfinished = [name for name, m in (("batch-growth", g), ("CLR", c)) if m["state"] != "finished"]
    if unfinished:
        points.append(f"Caution: the {' and '.join(unfinished)} run is not finished.")
    if "class" in (g["preset"], c["preset"]) or "smoke" in (g["preset"], c["preset"]):
        points.append("Caution: a shortened preset's test set is small, so a point or two is noise.")
    return points


def matching_run(target: runs.Run | None, candidates: list[runs.Run]) -> runs.Run | None:
    """The candidate to compare `target` with: a finished run of the same preset if there is
    one, else any finished run, else the first; None when there are no candidates."""
    candidates = [r for r in candidates if not r.damaged]
    if not candidates:
        return None
    finished = [r for r in candidates if r.state == "finished"]
    same = [r for r in finished if target is not None and r.preset == target.preset]
    return (same or finished or candidates)[0]
