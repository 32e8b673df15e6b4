"""The x-axes a training curve can be drawn against, and the smoothing drawn over it.

The same runs tell different stories on different x-axes. Smith, Kindermans,
Ying & Le (2018), "Don't decay the learning rate, increase the batch size":
a run that doubles its batch does as well per *epoch* (per example seen) as
one that decays its rate, but needs far fewer *optimizer updates*, and so can
take less *wall-clock* time on hardware that a big batch keeps busy. So every
training chart can use any of:

  - ``epoch``: epochs (passes over the training set; a batch-growth run's
    phases are its epochs);
  - ``updates``: optimizer updates, the records' ``step`` (a batch-growth run
    counts one update per accumulated batch, dlcore.engine.batch_growth);
  - ``examples``: examples seen, the sum over records of (updates since the
    previous record) × (the effective batch size in force, the record's
    ``batch_size``: accumulated micro-batches and the M copies of batch
    augmentation included, as dlcore.engine.recorder logs it);
  - ``seconds``: the run's own wall-clock (``wall_s``, summed over resumes).

Smoothing is a debiased exponential moving average, TensorBoard's and W&B's
default: avg ← w·avg + (1 − w)·v, shown as avg / (1 − w^k) after k values, so
the first points are not pulled towards 0. Pure pandas/NumPy.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

X_AXES = {"epoch": "epochs", "updates": "optimizer updates", "examples": "examples seen",
          "seconds": "wall-clock seconds"}
AXIS_NOTES = {
    "epoch": "passes over the training set (a batch-growth run's phases are its epochs)",
    "updates": "optimizer steps; an accumulated batch is one update",
    "examples": "updates × the effective batch size in force (accumulation and M copies included)",
    "seconds": "the run's own wall-clock, training and test evaluation, summed over resumes",
}
MAX_SMOOTHING = 0.99


def debiased_ema(values, weight: float) -> np.ndarray:
    """Debiased EMA of `values` (NaN/inf kept as NaN and skipped; weight 0 returns the values)."""
    if not 0 <= weight < 1:
        raise ValueError(f"the smoothing weight must be in [0, 1), not {weight!r}")
    x = np.asarray(values, dtype=np.float64)
    out = np.full(x.shape, np.nan)
    avg, k = 0.0, 0
    for i, v in enumerate(x):
        if not np.isfinite(v):
            continue
        avg, k = weight * avg + (1.0 - weight) * v, k + 1
        out[i] = avg / (1.0 - weight ** k)
    return out


def _run_axes(part: pd.DataFrame, finished: float) -> pd.DataFrame:
    """updates, examples, fractional epochs and seconds of one run's batch records (step order);
    epochs after `finished` are still running."""
    part = part.sort_values("step")
    step = part["step"].astype(float)
    done_before = step.diff().fillna(step)          # updates since the previous record
    examples = (done_before * part["batch_size"].astype(float)).cumsum()
    # An epoch's last batch is always logged: its step ends the epoch.
    ends = step.groupby(part["epoch"]).max()
    start = ends.shift(1).fillna(0.0)
    length = (ends - start).replace(0, np.nan)
    # The epoch still running has no end yet: its length is taken to be the previous epoch's.
    running = length.index > finished
    if running.any() and len(length) > 1:
        length[running] = length[~running].iloc[-1] if (~running).any() else length[running]
    epoch = part["epoch"]
    fraction = ((step - epoch.map(start)) / epoch.map(length)).clip(0, 1).fillna(1.0)
    return part.assign(updates=step, examples=examples, epochs=(epoch - 1) + fraction,
                       seconds=part["wall_s"].astype(float) if "wall_s" in part else np.nan)


def with_batch_axes(batches: pd.DataFrame, epochs: pd.DataFrame | None = None) -> pd.DataFrame:
    """A :func:`dlcore.results.tables.batches_frame` with every x-axis as a column: updates,
    examples, epochs (fractional: where in its epoch each record falls) and seconds.

    `epochs` (the runs' :func:`tables.epochs_frame`) says which epochs have finished; an epoch
    still running is taken to be as long as the one before it. Without it every epoch that has
    batch records counts as finished at its last record.
    """
    columns = ["updates", "examples", "epochs", "seconds"]
    if batches.empty:
        return batches.assign(**{c: pd.Series(dtype=float) for c in columns})
    finished = {} if epochs is None or epochs.empty else epochs.groupby("run")["epoch"].max().to_dict()
    parts = [_run_axes(part, finished.get(run, np.inf) if epochs is not None else np.inf)
             for run, part in batches.dropna(subset=["step"]).groupby("run", sort=False)]
    return pd.concat(parts).sort_index() if parts else batches.assign(**{c: np.nan for c in columns})


def epoch_ends(batches: pd.DataFrame) -> pd.DataFrame:
    """Per (run, epoch): updates and examples when the epoch ended (its last logged batch)."""
    axes = with_batch_axes(batches)
    if axes.empty:
        return pd.DataFrame(columns=["run", "epoch", "updates", "examples"])
    last = axes.sort_values("step").groupby(["run", "epoch"], sort=False).tail(1)
    return last[["run", "epoch", "updates", "examples"]].reset_index(drop=True)


def with_epoch_axes(epochs: pd.DataFrame, batches: pd.DataFrame) -> pd.DataFrame:
    """An :func:`dlcore.results.tables.epochs_frame` with the x-axes as columns: epoch (as is),
    updates and examples at the end of each epoch (NaN for a run without batch records), seconds."""
    ends = epoch_ends(batches)
    merged = epochs.merge(ends, on=["run", "epoch"], how="left") if len(epochs) else \
        epochs.assign(updates=pd.Series(dtype=float), examples=pd.Series(dtype=float))
    return merged.assign(seconds=merged["wall_s"].astype(float))


def axis_column(x: str) -> str:
    """The frame column that holds axis `x` (for an epochs frame "epoch"; for batches "epochs")."""
    if x not in X_AXES:
        raise ValueError(f"x-axis must be one of {', '.join(X_AXES)}, not {x!r}")
    return x


def smoothed_column(frame: pd.DataFrame, value: str, x: str, weight: float,
                    by: tuple[str, ...] = ("run",)) -> pd.Series:
    """The debiased EMA of `value` within each group of `by` (run, and metric for a long frame),
    in the order of x-column `x`; weight 0 returns the values unchanged."""
    out = pd.Series(np.nan, index=frame.index, dtype=float)
    if frame.empty:
        return out
    keys = [k for k in by if k in frame]
    for _, part in frame.sort_values(x).groupby(keys, sort=False):
        out[part.index] = debiased_ema(part[value].to_numpy(dtype=float), weight)
    return out
