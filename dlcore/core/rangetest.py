"""Reading an LR range test: from (learning rate, loss) pairs to lr_min and lr_max.

A range test trains briefly while the learning rate grows (a continuous
exponential sweep, or a few discrete candidates, see dlcore.core.schedules) and
records the training loss. Smith (2017, Sec. 3.3) reads two rates off the
curve: where the loss *starts to fall* (below it nothing is learned) and
where it *stops falling*, turns ragged or blows up (above it training is
unstable). Those are the bounds of a cyclical schedule. This module makes
that reading reproducible, so the page can mark the suggestion on the chart
and state the rule, and the user can still override it.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

# fast.ai's lr_find: smoothing factor of the loss, and "stop when the smoothed
# loss exceeds 4x the best seen" as the sign of divergence.
FASTAI_BETA = 0.98
DIVERGENCE_FACTOR = 4.0
# lr_min where DESCENT_FRACTION of the descent is done, lr_max where 1 - DESCENT_FRACTION is.
DESCENT_FRACTION = 0.1

RULE = (
    "Smith's reading of the range test, made precise. The loss is first smoothed with a "
    "bias-corrected exponential moving average (as fast.ai's lr_find), and each smoothed point is "
    "placed at the same average of log(lr), which undoes the average's lag to the right. "
    "The test is cut where the "
    "loss diverges: the first NaN/inf, or the smoothed loss above 4× the best seen so far. "
    "Before that cut, the smoothed loss falls from its starting plateau to its minimum. "
    "lr_min is where the loss starts to fall: the first rate at which 10 % of that drop is done. "
    "lr_max is where it stops falling: the first rate at which 90 % of the drop is done, before "
    "the ragged bottom and the blow-up. Both are interpolated on the log-lr axis."
)


@dataclass(frozen=True)
class RangeTestSuggestion:
    """Suggested CLR bounds and the evidence behind them.

    smoothed[i] is the smoothed loss and smoothed_lr[i] the rate it belongs
    to (the same average of log lr): chart the smoothed curve at smoothed_lr.
    Both are NaN from the first NaN/inf loss on.
    """

    lr_min: float
    lr_max: float
    lr_at_min_loss: float
    loss_start: float
    loss_min: float
    diverged_at_lr: float | None
    n_used: int
    beta: float
    smoothed: np.ndarray = field(repr=False)
    smoothed_lr: np.ndarray = field(repr=False)
    explanation: str = field(repr=False)


def ema_beta(n_points: int) -> float:
    """fast.ai's beta = 0.98, lowered for short tests so the EMA remembers at most 1/20 of the points.

    An EMA remembers about 1/(1 − beta) points and so lags the raw curve by
    that much; on a 10-candidate test beta = 0.98 would drag the curve a whole
    decade to the right. Ten candidates get beta = 0 (no smoothing: each is
    already the mean loss of its own training run).
    """
    return float(min(FASTAI_BETA, max(0.0, 1.0 - 20.0 / max(int(n_points), 1))))


def ema(values, beta: float) -> np.ndarray:
    """Exponential moving average with bias correction, NaN from the first non-finite value on.

    avg_i = beta·avg_{i−1} + (1 − beta)·v_i, ema_i = avg_i / (1 − beta^(i+1));
    the correction removes the pull towards 0 of the first points (fast.ai's
    smoothed loss). Smoothing stops at the first NaN/inf: in a range test
    that is the divergence, after which nothing is worth averaging.
    """
    loss = np.asarray(values, dtype=np.float64)
    if not 0 <= beta < 1:
        raise ValueError(f"beta must be in [0, 1) (got {beta}).")
    out = np.full(loss.shape, np.nan)
    avg = 0.0
    for i, value in enumerate(loss):
        if not np.isfinite(value):
            break
        avg = beta * avg + (1.0 - beta) * value
        out[i] = avg / (1.0 - beta ** (i + 1))
    return out


def divergence_index(loss, smoothed, factor: float = DIVERGENCE_FACTOR) -> int | None:
    """First index where the test has diverged, or None.

    Diverged means the raw loss is NaN/inf or the smoothed loss is above
    `factor` times the lowest smoothed loss so far (fast.ai's stop rule).
    """
    loss, smoothed = np.asarray(loss, dtype=np.float64), np.asarray(smoothed, dtype=np.float64)
    best = np.inf
    for i, (raw, value) in enumerate(zip(loss, smoothed)):
        if not (np.isfinite(raw) and np.isfinite(value)):
            return i
        if value > factor * best:
            return i
        best = min(best, value)
    return None


def _crossing(log_lr, curve, start, level):
    """Log-lr at which `curve` first falls to `level` after index `start`, linearly interpolated."""
    j = start + int(np.argmax(curve[start:] <= level))
    if j == start:
        return log_lr[j]
    above, below = curve[j - 1], curve[j]
    frac = (above - level) / (above - below)
    return log_lr[j - 1] + frac * (log_lr[j] - log_lr[j - 1])


def suggest_lr_bounds(lr, loss, beta: float | None = None, fraction: float = DESCENT_FRACTION,
                      divergence_factor: float = DIVERGENCE_FACTOR) -> RangeTestSuggestion:
    """Suggest lr_min and lr_max from a range test (see RULE); ValueError if the curve cannot tell.

    lr must be positive and increasing (one entry per recorded loss); loss may
    be noisy and may end in NaN/inf. beta=None picks ema_beta(len(lr)).
    """
    lr = np.asarray(lr, dtype=np.float64)
    loss = np.asarray(loss, dtype=np.float64)
    if lr.shape != loss.shape or lr.ndim != 1:
        raise ValueError(f"need one loss per learning rate (got {lr.shape} and {loss.shape}).")
    if lr.size < 3:
        raise ValueError("a range test needs at least 3 points.")
    if not (np.all(np.isfinite(lr)) and np.all(lr > 0) and np.all(np.diff(lr) > 0)):
        raise ValueError("learning rates must be positive and increasing.")
    if not 0 < fraction < 0.5:
        raise ValueError(f"fraction must be in (0, 0.5) (got {fraction}).")
    beta = ema_beta(lr.size) if beta is None else float(beta)

    smoothed = ema(loss, beta)
    cut = divergence_index(loss, smoothed, divergence_factor)
    n_used = lr.size if cut is None else cut
    if n_used < 3:
        raise ValueError(
            f"the loss diverged after {n_used} point(s), at lr = {lr[n_used]:.3g}: "
            "start the sweep at a smaller learning rate."
        )
    # The EMA of the loss at point i averages the losses of earlier, smaller rates; the same
    # average of log(lr) says which rate it describes. Reading it there removes the lag.
    smoothed_lr = np.where(np.isfinite(smoothed), 10 ** ema(np.log10(lr), beta), np.nan)
    log_lr, curve = np.log10(smoothed_lr[:n_used]), smoothed[:n_used]
    bottom = int(np.argmin(curve))
    # The first ~1/(1 - beta) smoothed points average fewer losses than the rest, so they are
    # as noisy as raw ones; the starting plateau is looked for after that warm-up.
    warm_up = min(int(round(1.0 / (1.0 - beta))) - 1, bottom)
    top = warm_up + int(np.argmax(curve[warm_up : bottom + 1]))
    loss_start, loss_min = curve[top], curve[bottom]
    drop = loss_start - loss_min
    if not drop > 0:
        raise ValueError(
            "the smoothed loss never fell during the test, so there is no range to read: "
            "sweep from a smaller learning rate or train longer at each rate."
        )
    lr_min = 10 ** _crossing(log_lr, curve, top, loss_start - fraction * drop)
    lr_max = 10 ** _crossing(log_lr, curve, top, loss_min + fraction * drop)
    diverged_at = None if cut is None else float(lr[cut])

    explanation = (
        f"The smoothed loss (β = {beta:.2f}) fell from {loss_start:.4g} to {loss_min:.4g}, "
        f"its minimum at lr = {smoothed_lr[bottom]:.3g}. "
        f"lr_min = {lr_min:.3g} is where {fraction:.0%} of that drop was done (the loss starts to fall); "
        f"lr_max = {lr_max:.3g} is where {1 - fraction:.0%} was done (it stops falling). "
    )
    if diverged_at is None:
        explanation += "The loss never diverged within the test"
        explanation += (
            ", and it was still lowest at the last rate: sweep to a larger lr_end, lr_max may be too low."
            if bottom == n_used - 1 else "."
        )
    else:
        explanation += (
            f"The test diverged at lr = {diverged_at:.3g} (NaN/inf, or smoothed loss above "
            f"{divergence_factor:g}× its best); the {lr.size - n_used} point(s) from there on were ignored."
        )
    return RangeTestSuggestion(
        lr_min=float(lr_min), lr_max=float(lr_max), lr_at_min_loss=float(smoothed_lr[bottom]),
        loss_start=float(loss_start), loss_min=float(loss_min), diverged_at_lr=diverged_at,
        n_used=int(n_used), beta=beta, smoothed=smoothed, smoothed_lr=smoothed_lr, explanation=explanation,
    )


def range_test_curve(lr, loss) -> tuple[np.ndarray, np.ndarray]:
    """The (lr, loss) points a range test is read from, from its batch records: one point per
    distinct rate, the mean loss of the records at that rate, in increasing rate.

    In "steps" mode each of the candidate rates is held for many batches, so
    this gives one point per candidate (the mean loss while training at it,
    which is what Smith's discrete test compares); in "sweep" mode every
    record has its own rate and is kept as it is. A rate with a NaN/inf loss
    stays NaN/inf, so the divergence cut still sees it.
    """
    lr = np.asarray(lr, dtype=np.float64)
    loss = np.asarray(loss, dtype=np.float64)
    if lr.shape != loss.shape or lr.ndim != 1:
        raise ValueError(f"need one loss per learning rate (got {lr.shape} and {loss.shape}).")
    keep = np.isfinite(lr) & (lr > 0)
    rates, which = np.unique(lr[keep], return_inverse=True)
    total = np.bincount(which, weights=loss[keep], minlength=rates.size)
    count = np.bincount(which, minlength=rates.size)
    return rates, total / count


def suggest_from_records(lr, loss) -> RangeTestSuggestion:
    """suggest_lr_bounds on :func:`range_test_curve` of a run's batch records (ValueError when
    the records cannot tell yet, e.g. a test that has only just started)."""
    return suggest_lr_bounds(*range_test_curve(lr, loss))
