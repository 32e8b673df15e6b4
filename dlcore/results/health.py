"""Run health: did a run learn, and if not, what most likely went wrong (from its metrics alone).

A run that fails must say so wherever it is shown, with its likely cause:

  - **diverged**: a training or test loss that is not a finite number (NaN/inf), or a
    training loss far above ln 10 at chance accuracy (confident wrong answers);
  - **loss exploded**: a finite test loss above EXPLODED_LOSS, more than any
    softmax's predictions can cost (ln 10 = 2.30 for uniform guessing, 16.1 for a
    confident wrong answer): on a network with batch norm and a sane training loss
    this is the test-time normalisation, not the weights. (A test loss a few times
    the training loss is overfitting, and is not flagged.);
  - **at chance**: test (or, without a test set, training) accuracy within a
    couple of points of 1 in 10 at the last epoch;
  - **ok**, or **pending** (no finished epoch yet).

A learning-rate range test is meant to blow up at its largest rates: only its
start is judged. Pure pandas; the pages, the Runs page, the tables and
benchmarks/class_presets.py all read the same verdict.
"""
from __future__ import annotations

import dataclasses
import math

import pandas as pd

from dlcore.engine import runs

NUM_CLASSES = 10
CHANCE_ACCURACY = 1 / NUM_CLASSES
CHANCE_LOSS = math.log(NUM_CLASSES)          # uniform guessing: ln 10 = 2.30 per image
CHANCE_MARGIN = 0.02                         # accuracy within 2 points of 10 % is chance
DIVERGED_ABOVE_CHANCE_LOSS = 1.0             # training loss > ln 10 + 1 at chance: worse than guessing
# Keras clips probabilities at 1e-7, so a wrong softmax costs at most -ln(1e-7) = 16.1 per image:
# a mean test loss above EXPLODED_LOSS cannot come from predictions alone. It comes from logits
# blown up by wrong batch-norm statistics (values of 1e3-1e12 were seen) or from weights gone bad.
EXPLODED_LOSS = 20.0
BATCH_NORM_MODELS = ("resnet_v1", "mini_googlenet")
KINDS = ("ok", "pending", "at chance", "loss exploded", "diverged")
FAILED = ("at chance", "loss exploded", "diverged")


@dataclasses.dataclass(frozen=True)
class Health:
    """kind: one of KINDS; reason: what the numbers show; cause: the likely cause, in words."""
    kind: str
    reason: str = ""
    cause: str = ""

    @property
    def failed(self) -> bool:
        return self.kind in FAILED

    @property
    def flag(self) -> str:
        """What a table's flag column shows: '' for a healthy run, else the kind."""
        return self.kind if self.failed else ""

    def __str__(self) -> str:
        if not self.failed:
            return self.kind
        return f"{self.kind}: {self.reason}" + (f". Likely cause: {self.cause}" if self.cause else "")


def _finite(value) -> bool:
    try:
        return value is not None and math.isfinite(float(value))
    except (TypeError, ValueError):
        return False


def _present(row, column) -> bool:
    return column in row and row[column] is not None and not pd.isna(row[column])


def _short(spec: dict) -> bool:
    return spec.get("preset") != "full"


def _bn_cause(spec: dict) -> str:
    momentum = (spec.get("model") or {}).get("bn_momentum", 0.99)
    return (f"batch norm's moving averages (momentum {momentum}) had too few updates to settle, so at test "
            f"time the network normalises with statistics that are still near their initial values; "
            f"train longer, or use a faster momentum such as 0.9 (a learning rate that is too high "
            f"for the first steps does the same: warm it up)")


def _rate_cause(spec: dict) -> str:
    opt = spec.get("optimizer") or {}
    lr = opt.get("learning_rate")
    rate = f" ({opt.get('name', '?')}, learning rate {lr:g})" if isinstance(lr, (int, float)) else ""
    return f"the learning rate is too high for this optimizer and network{rate}: the updates overshoot"


def _chance_cause(spec: dict, last) -> str:
    model = (spec.get("model") or {}).get("name")
    train_acc = float(last["accuracy"]) if _present(last, "accuracy") else None
    if model in BATCH_NORM_MODELS and train_acc is not None and train_acc > CHANCE_ACCURACY + 2 * CHANCE_MARGIN:
        return (f"the network learned on the training set (training accuracy {train_acc:.0%}) but not at "
                f"test time: {_bn_cause(spec)}")
    if spec.get("preprocessing") not in (None, "scale", "per_pixel_mean", "resize32"):
        return "the inputs may not be scaled"
    short = " (a shortened preset)" if _short(spec) else ""
    return (f"too few updates{short} for this network to move off its initial guess, or a learning rate "
            f"too low (or so high that it undoes every step)")


def judge(epochs: pd.DataFrame, spec: dict, batch_peak: tuple[float, int] | None = None) -> Health:
    """The health of a run from its epoch records (one row per finished epoch) and its spec dict.

    batch_peak: (the highest logged batch loss, its epoch), when the batch records are at hand: a
    blow-up within the first steps that the epoch's mean hides still counts.
    """
    if epochs is None or epochs.empty or "loss" not in epochs:
        return Health("pending", "no finished epoch yet")
    ordered = epochs.sort_values("epoch") if "epoch" in epochs else epochs
    if (spec.get("schedule") or {}).get("name") == "range_test":
        # The test raises the rate until the loss blows up: that end is its result, not a failure.
        first = ordered.iloc[0]
        if not _finite(first["loss"]):
            return Health("diverged", f"training loss {first['loss']} already in the first epoch",
                          "the range test's starting rate is already too high")
        return Health("ok", "a range test diverges at its largest rates by design")
    # A training loss is in every epoch record, a test loss in those of a run that validates:
    # there, a missing (NaN) value is a loss that stopped being a number.
    validates = spec.get("validate", True)
    for column, what in (("loss", "training loss"), ("val_loss", "test loss")):
        if column not in ordered or (column == "val_loss" and not validates):
            continue
        bad = ordered[~ordered[column].map(_finite)]
        if len(bad):
            row = bad.iloc[0]
            return Health("diverged", f"{what} became {row[column]} at epoch {int(row['epoch'])}", _rate_cause(spec))
    last = ordered.iloc[-1]
    epoch = int(last["epoch"]) if _present(last, "epoch") else len(ordered)
    model = (spec.get("model") or {}).get("name")
    loss = float(last["loss"])
    if _present(last, "val_loss"):
        val_loss = float(last["val_loss"])
        if val_loss > EXPLODED_LOSS:
            reason = (f"test loss {val_loss:.3g} at epoch {epoch} against a training loss of {loss:.3g} "
                      f"(guessing uniformly costs ln {NUM_CLASSES} = {CHANCE_LOSS:.2f})")
            if model in BATCH_NORM_MODELS and loss < CHANCE_LOSS + DIVERGED_ABOVE_CHANCE_LOSS:
                return Health("loss exploded", reason, _bn_cause(spec))
            if model in BATCH_NORM_MODELS:
                # Both at once, as in the old ResNet class runs: lr 0.1 from step 1 and unsettled statistics.
                return Health("loss exploded", reason, f"{_rate_cause(spec)}, from the first step (no warm-up); "
                                                       f"and {_bn_cause(spec)}")
            return Health("loss exploded", reason, _rate_cause(spec))
    column = "val_accuracy" if _present(last, "val_accuracy") else "accuracy"
    if not _present(last, column):
        return Health("ok")
    acc = float(last[column])
    if acc > CHANCE_ACCURACY + CHANCE_MARGIN:
        return Health("ok")
    what = "test accuracy" if column == "val_accuracy" else "training accuracy"
    reason = f"{what} {acc:.1%} at epoch {epoch}, chance level (1 in {NUM_CLASSES})"
    train_acc = float(last["accuracy"]) if _present(last, "accuracy") else acc
    if loss > CHANCE_LOSS + DIVERGED_ABOVE_CHANCE_LOSS and train_acc <= CHANCE_ACCURACY + CHANCE_MARGIN:
        return Health("diverged", f"{reason}, with a training loss of {loss:.3f}, far above the "
                                  f"ln {NUM_CLASSES} = {CHANCE_LOSS:.2f} of guessing uniformly", _rate_cause(spec))
    row = ordered.loc[ordered["loss"].astype(float).idxmax()]
    peak, peak_epoch, where = float(row["loss"]), int(row["epoch"]), "at epoch"
    if batch_peak is not None and _finite(batch_peak[0]) and float(batch_peak[0]) > peak:
        peak, peak_epoch, where = float(batch_peak[0]), int(batch_peak[1]), "in a logged batch of epoch"
    if peak > CHANCE_LOSS + DIVERGED_ABOVE_CHANCE_LOSS and train_acc <= CHANCE_ACCURACY + CHANCE_MARGIN:
        # Blown up, then stuck at ln 10: the overshooting steps left dead units that predict uniformly.
        return Health("diverged", f"{reason}: its training loss blew up to {peak:.3g} {where} {peak_epoch} "
                                  f"and then sat at ln {NUM_CLASSES} = {CHANCE_LOSS:.2f}",
                      _rate_cause(spec) + "; the ReLUs it pushed past zero never came back")
    return Health("at chance", reason, _chance_cause(spec, last))


def of_run(run: runs.Run) -> Health:
    """The health of a run folder (:func:`judge` on its epoch records and its highest batch loss)."""
    batches = run.batches()
    peak = None
    if not batches.empty and "loss" in batches:
        losses = pd.to_numeric(batches["loss"], errors="coerce")
        if losses.notna().any():
            i = losses.idxmax()
            peak = (float(losses[i]), int(batches.loc[i, "epoch"]) if "epoch" in batches else 1)
    return judge(run.epochs(), run.spec, peak)


def lesson_shows(run: runs.Run, min_accuracy: float) -> tuple[bool, str]:
    """Whether a finished run shows its lesson: healthy, finite losses, test accuracy ≥ min_accuracy.

    A run flagged "diverged" passes with that flag (some optimizers blow up, and that is a lesson
    too) only when the caller allows it; see benchmarks/class_presets.py.
    """
    h = of_run(run)
    if run.state != "finished":
        return False, f"state {run.state}"
    if h.failed:
        return False, str(h)
    epochs = run.epochs()
    column = "val_accuracy" if "val_accuracy" in epochs and epochs["val_accuracy"].notna().any() else None
    if column is None:
        return True, "no test evaluation (judged by its training loss)"
    acc = float(epochs.sort_values("epoch")[column].dropna().iloc[-1])
    if acc < min_accuracy:
        return False, f"test accuracy {acc:.1%} < {min_accuracy:.0%}"
    return True, f"test accuracy {acc:.1%} ≥ {min_accuracy:.0%}"


def flagged(runs_list: list[runs.Run], labels: list[str] | None = None) -> list[str]:
    """One sentence per failed run among `runs_list` (label, kind, what the numbers show, likely
    cause): what a page shows next to a chart or a table that lists these runs."""
    labels = labels or [r.title for r in runs_list]
    out = []
    for run, label in zip(runs_list, labels):
        h = of_run(run)
        if h.failed:
            out.append(f"**{label}: {h.kind}.** {h.reason[0].upper() + h.reason[1:]}. Likely cause: {h.cause}.")
    return out
