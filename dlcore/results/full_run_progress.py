"""How far each full-length run has got: epochs done of planned, best test accuracy, and what happens next.

Full runs are trained on lent GPU machines, a lease at a time. A run cut short keeps the
checkpoint of its last finished epoch in its cached folder and continues on the next
machine (dlcore.engine.checkpoints); one cut short before checkpoints were kept starts
again from epoch 0. The Runs page and the experiment pages show this table.
"""
from __future__ import annotations

import pathlib

import pandas as pd

from dlcore.engine import checkpoints, cli, experiments, runs

COLUMNS = ["run", "where it stands", "epochs done", "epochs planned", "best test accuracy", "fraction done"]


def standing(run: runs.Run | None, has_checkpoint: bool) -> str:
    """What the run's state means for the next machine, in words."""
    if run is None:
        return "not run yet: the next machine starts it"
    if run.state == "finished":
        reason = run.status.get("reason")
        return f"finished ({reason})" if reason else "finished"
    if run.state in ("queued", "running") and run.source == "live":
        return run.state
    if has_checkpoint:
        return "cut short — continues on the next machine"
    if run.epochs_done:
        return "cut short, no checkpoint kept — the next machine starts it again from epoch 0"
    return "not run yet: the next machine starts it"


def progress_row(spec: experiments.Spec, run: runs.Run | None, checkpoint_epoch: int | None) -> dict:
    epochs = run.epochs() if run is not None else pd.DataFrame()
    done = int(epochs["epoch"].max()) if len(epochs) and "epoch" in epochs else 0
    best = float(epochs["val_accuracy"].max()) if len(epochs) and "val_accuracy" in epochs else None
    return {"run": spec.label, "epochs done": done, "epochs planned": spec.epochs,
            "best test accuracy": best, "fraction done": done / spec.epochs if spec.epochs else 0.0,
            "where it stands": standing(run, checkpoint_epoch is not None)}


def full_run_progress(experiment_names: list[str] | None = None,
                      root: pathlib.Path | None = None) -> pd.DataFrame:
    """One row per full run of the catalogue (of `experiment_names`, default all), from its cached folder."""
    root = pathlib.Path(root or runs.cached_root())
    rows = []
    for spec in cli.plan(experiment_names or ["all"], "full"):
        folder = cli.run_dir_for(root, spec)
        run = runs.read_run(folder, "cached") if folder.is_dir() else None
        found = checkpoints.latest_checkpoint(folder) if folder.is_dir() else None
        rows.append(progress_row(spec, run, found[0] if found else None))
    return pd.DataFrame(rows, columns=COLUMNS)
