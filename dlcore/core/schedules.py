"""Learning-rate and batch-size schedules as plain functions of the iteration.

Problem 2 of the homework: Smith's cyclical learning rates (CLR, "Cyclical
Learning Rates for Training Neural Networks", WACV 2017), the LR range test
that picks their bounds, and "grow the batch instead of decaying the rate"
(Smith, Kindermans, Ying & Le, ICLR 2018). Problem 4 reuses the step decay of
He et al.'s ResNet recipe.

Why plain NumPy: the playground page draws these curves instantly, and the
instant pages must not pay the ~2 s it costs to import Keras. The *same*
formulas also drive training: each cyclical formula below is written once,
over an array namespace ``xp`` (NumPy here, ``keras.ops`` in
:mod:`dlcore.keras_parts.schedules`), so the curve on screen and the rate the
optimizer uses cannot drift apart. The Keras layer builds its schedules with
:func:`dlcore.keras_parts.schedules.schedule_for`; this module never imports Keras.

Conventions
-----------
``iteration`` (Smith's ``epochCounter``, Keras's ``optimizer.iterations``) is
the number of optimizer updates already applied: update number 0 uses the rate
at iteration 0. ``step_size`` is half a cycle, in iterations.
"""
from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np

# Policies offered by the playground, in the order of Smith's paper. Two
# exp_range variants exist in the wild (see exp_range); both are plotted.
POLICIES = ("triangular", "triangular2", "exp_range", "exp_range_paper")

POLICY_LABELS = {
    "triangular": "triangular",
    "triangular2": "triangular2",
    "exp_range": "exp_range (amplitude × γ^t, Keras CLR callback)",
    "exp_range_paper": "exp_range (paper: both bounds × γ^t)",
}

# LaTeX of each policy. t = iteration, s = step_size. Shared by all of them:
CYCLE_LATEX = (
    r"\mathrm{cycle} = \left\lfloor 1 + \frac{t}{2s} \right\rfloor,\qquad "
    r"x = \left| \frac{t}{s} - 2\,\mathrm{cycle} + 1 \right|"
)
POLICY_LATEX = {
    "triangular": r"\eta_t = \eta_\mathrm{base} + (\eta_\mathrm{max} - \eta_\mathrm{base})\,\max(0,\,1-x)",
    "triangular2": (
        r"\eta_t = \eta_\mathrm{base} + (\eta_\mathrm{max} - \eta_\mathrm{base})\,"
        r"\frac{\max(0,\,1-x)}{2^{\,\mathrm{cycle}-1}}"
    ),
    "exp_range": (
        r"\eta_t = \eta_\mathrm{base} + (\eta_\mathrm{max} - \eta_\mathrm{base})\,\max(0,\,1-x)\,\gamma^{t}"
    ),
    "exp_range_paper": (
        r"\eta_t = \gamma^{t}\left[\eta_\mathrm{base} + (\eta_\mathrm{max} - \eta_\mathrm{base})\,\max(0,\,1-x)\right]"
    ),
}
POLICY_NOTES = {
    "triangular": "The rate climbs linearly from base_lr to max_lr in step_size iterations, "
    "falls back in the next step_size, and repeats: the same triangle every cycle.",
    "triangular2": "The same triangle, but its height (max_lr − base_lr) is halved at the end of "
    "every cycle; base_lr never moves.",
    "exp_range": "The height of the triangle shrinks by γ every iteration while base_lr stays put, "
    "so the rate stays inside [base_lr, max_lr]. This is what the widely used Keras callback "
    "(bckenstler/CLR, the one the homework's pyimagesearch code copies) does, and what this app uses.",
    "exp_range_paper": "As Smith's paper words it, both boundaries decline by γ^t, so the whole "
    "cycle shrinks and the rate drops below base_lr. Shown for comparison only.",
}

# The ResNet recipe of He et al. (2016, Sec. 4.2) used by Problem 4.
RESNET_STEP_DECAY = {"initial_lr": 0.1, "boundaries": (32_000, 48_000), "factor": 10.0}

# The playground opens on the example of the Keras CLR callback's README (base_lr 0.001,
# max_lr 0.006, step size 2000 as in Smith's CIFAR-10 runs; gamma 0.99994 for exp_range);
# 12 000 iterations show three cycles.
SMITH_EXAMPLE = {"base_lr": 0.001, "max_lr": 0.006, "step_size": 2000, "gamma": 0.99994, "n_iterations": 12_000}

# Problem 2.3: batch 32 doubling up to 16384.
BATCH_GROWTH = {"start": 32, "stop": 16_384, "factor": 2}
# Memory limits (largest micro-batch) offered by the page; 512 is the seed notebook's.
MICRO_BATCH_LIMITS = tuple(2**p for p in range(4, 15))
DEFAULT_MAX_MICRO_BATCH = 512
# Fashion-MNIST's training set, to turn samples into epochs.
FASHION_MNIST_TRAIN = 60_000

# Problem 2.1: "10 candidate learning rates between 1e-9 and 1e1 (log-spaced)".
RANGE_TEST_CANDIDATES = {"lr_start": 1e-9, "lr_end": 1e1, "n": 10}


# --------------------------------------------------------------------------
# Validation: one place that says why a setting makes no sense.
# --------------------------------------------------------------------------
def check_cyclical(base_lr: float, max_lr: float, step_size: float, gamma: float = 1.0) -> None:
    """Raise ValueError, with a reason a student can act on, for impossible CLR settings.

    max_lr must be strictly above base_lr: the seed notebook's CLR run set
    max_lr = min_lr and so trained at a constant rate without noticing.
    """
    if not (np.isfinite(base_lr) and np.isfinite(max_lr)):
        raise ValueError("base_lr and max_lr must be finite numbers.")
    if base_lr <= 0:
        raise ValueError(f"base_lr must be positive (got {base_lr:g}).")
    if max_lr <= base_lr:
        why = "the 'cyclical' rate would be a constant" if max_lr == base_lr else "the cycle would run upside down"
        raise ValueError(f"max_lr ({max_lr:g}) must be larger than base_lr ({base_lr:g}): {why}.")
    if not (np.isfinite(step_size) and step_size >= 1):
        raise ValueError(f"step_size is half a cycle in iterations and must be at least 1 (got {step_size:g}).")
    if not (0 < gamma <= 1):
        raise ValueError(f"gamma must be in (0, 1]: it shrinks the cycle every iteration (got {gamma:g}).")


def _iterations(iteration) -> np.ndarray:
    t = np.asarray(iteration, dtype=np.float64)
    if np.any(t < 0):
        raise ValueError("iteration counts updates already applied and cannot be negative.")
    return t


# --------------------------------------------------------------------------
# Cyclical formulas, written once over an array namespace xp (numpy or keras.ops).
# --------------------------------------------------------------------------
def _cycle(xp, t, step_size):
    return xp.floor(1.0 + t / (2.0 * step_size))


def _triangle(xp, t, step_size):
    """Smith's max(0, 1 − x): 0 at the cycle's ends, 1 at its apex t = step_size·(2·cycle − 1)."""
    x = xp.abs(t / step_size - 2.0 * _cycle(xp, t, step_size) + 1.0)
    return xp.maximum(0.0, 1.0 - x)


def _triangular(xp, t, base_lr, max_lr, step_size):
    return base_lr + (max_lr - base_lr) * _triangle(xp, t, step_size)


def _triangular2(xp, t, base_lr, max_lr, step_size):
    # 0.5**(cycle − 1) rather than a division by 2**(cycle − 1): fades to 0 instead of overflowing.
    halving = xp.power(0.5, _cycle(xp, t, step_size) - 1.0)
    return base_lr + (max_lr - base_lr) * _triangle(xp, t, step_size) * halving


def _exp_range(xp, t, base_lr, max_lr, step_size, gamma, shrink):
    # gamma**t as exp(t·ln gamma) with ln gamma taken in float64: in float32, gamma = 0.99994
    # itself is off by 3e-8, which t = 50 000 iterations would blow up to a 0.1 % error.
    decay = xp.exp(t * math.log(gamma))
    if shrink == "amplitude":
        return base_lr + (max_lr - base_lr) * _triangle(xp, t, step_size) * decay
    return decay * _triangular(xp, t, base_lr, max_lr, step_size)


def _range_test_sweep(xp, t, lr_start, lr_end, n_iterations):
    fraction = xp.minimum(t / max(n_iterations - 1, 1), 1.0)
    return lr_start * xp.exp(fraction * math.log(lr_end / lr_start))


def _step_decay(xp, t, initial_lr, boundaries, factor, warmup=0):
    lr = initial_lr + 0.0 * t
    if warmup:
        # Linear warm-up: (t + 1)/warmup of the rate for the first `warmup` updates.
        lr = lr * xp.minimum(1.0, (t + 1.0) / float(warmup))
    for mark in boundaries:
        lr = xp.where(t >= mark, lr / factor, lr)
    return lr


EXP_RANGE_SHRINK = ("amplitude", "bounds")


# --------------------------------------------------------------------------
# Public NumPy functions of the iteration (vectorised: pass an int or an array).
# --------------------------------------------------------------------------
def cycle(iteration, step_size):
    """Smith's cycle number, 1 for the first 2·step_size iterations, then 2, 3, …"""
    return _cycle(np, _iterations(iteration), step_size)


def triangular(iteration, base_lr, max_lr, step_size):
    """Smith's triangular policy: a fixed triangle between base_lr and max_lr, period 2·step_size."""
    check_cyclical(base_lr, max_lr, step_size)
    return _triangular(np, _iterations(iteration), base_lr, max_lr, step_size)


def triangular2(iteration, base_lr, max_lr, step_size):
    """Smith's triangular2: the triangle's height (max_lr − base_lr) halves after every cycle."""
    check_cyclical(base_lr, max_lr, step_size)
    return _triangular2(np, _iterations(iteration), base_lr, max_lr, step_size)


def exp_range(iteration, base_lr, max_lr, step_size, gamma, shrink="amplitude"):
    """Smith's exp_range: the cycle decays as gamma**iteration.

    Two readings exist, and they differ:

    * ``shrink="amplitude"`` (default, used by this app): only the height of
      the triangle is scaled, ``base + (max − base)·max(0, 1−x)·γ^t``. This is
      the widely used Keras callback (bckenstler/CLR, ``scale_fn = γ**x`` with
      ``scale_mode='iterations'``) that the homework's code uses; the rate
      never leaves [base_lr, max_lr] and settles at base_lr.
    * ``shrink="bounds"``: the paper's wording, "each boundary value declines
      by an exponential factor of gamma^iteration", i.e. the whole triangular
      rate times γ^t; it sinks below base_lr towards 0.
    """
    check_cyclical(base_lr, max_lr, step_size, gamma)
    if shrink not in EXP_RANGE_SHRINK:
        raise ValueError(f"shrink must be one of {EXP_RANGE_SHRINK} (got {shrink!r}).")
    return _exp_range(np, _iterations(iteration), base_lr, max_lr, step_size, gamma, shrink)


def cyclical(policy, iteration, base_lr, max_lr, step_size, gamma=1.0):
    """The rate of one of POLICIES at `iteration`; gamma is used by the exp_range policies only."""
    if policy == "triangular":
        return triangular(iteration, base_lr, max_lr, step_size)
    if policy == "triangular2":
        return triangular2(iteration, base_lr, max_lr, step_size)
    if policy == "exp_range":
        return exp_range(iteration, base_lr, max_lr, step_size, gamma, shrink="amplitude")
    if policy == "exp_range_paper":
        return exp_range(iteration, base_lr, max_lr, step_size, gamma, shrink="bounds")
    raise ValueError(f"unknown policy {policy!r}; choose from {POLICIES}.")


def range_test_sweep(iteration, lr_start, lr_end, n_iterations):
    """Continuous LR range test: lr_start·(lr_end/lr_start)^(i/(n−1)), held at lr_end after the sweep.

    Exponential (evenly spaced on a log axis) because useful rates span many
    decades; iteration 0 trains at lr_start and iteration n_iterations − 1 at lr_end.
    """
    _check_sweep(lr_start, lr_end, n_iterations)
    return _range_test_sweep(np, _iterations(iteration), lr_start, lr_end, n_iterations)


def range_test_candidates(lr_start=1e-9, lr_end=1e1, n=10):
    """The discrete range test: n log-spaced candidate rates, both ends included."""
    _check_sweep(lr_start, lr_end, n)
    return np.geomspace(lr_start, lr_end, int(n))


def _check_sweep(lr_start, lr_end, n):
    if not (0 < lr_start < lr_end):
        raise ValueError(f"a range test sweeps upwards from a positive rate: need 0 < lr_start < lr_end "
                         f"(got {lr_start:g}, {lr_end:g}).")
    if n < 2:
        raise ValueError(f"a sweep needs at least 2 points (got {n}).")


def step_decay(iteration, initial_lr=0.1, boundaries=(32_000, 48_000), factor=10.0, warmup=0):
    """The ResNet recipe: initial_lr, divided by `factor` once `iteration` reaches each mark.

    With the defaults (He et al. 2016, Sec. 4.2): 0.1 until iteration 31 999,
    0.01 from 32 000, 0.001 from 48 000. `warmup` > 0 ramps the rate linearly
    over the first `warmup` updates ((t + 1)/warmup of it), as short runs need.
    """
    if not (np.isfinite(initial_lr) and np.isfinite(factor)) or initial_lr <= 0 or factor <= 0:
        raise ValueError(f"initial_lr and factor must be positive numbers (got {initial_lr:g}, {factor:g}).")
    if list(boundaries) != sorted(boundaries):
        raise ValueError(f"boundaries must be increasing (got {tuple(boundaries)}).")
    if not isinstance(warmup, int) or warmup < 0:
        raise ValueError(f"warmup must be a whole number of updates ≥ 0 (got {warmup!r}).")
    return _step_decay(np, _iterations(iteration), float(initial_lr), tuple(boundaries), float(factor), warmup)


# --------------------------------------------------------------------------
# Batch-size growth and gradient accumulation.
# --------------------------------------------------------------------------
def batch_growth(iteration, k, start=32, stop=16_384, factor=2):
    """Batch size at `iteration`: start, ×factor every k iterations, never above stop.

    Smith et al. 2018: growing the batch by the factor you would have decayed
    the rate by gives the same noise scale, so the same curve in fewer updates.
    """
    _check_growth(k, start, stop, factor)
    t = _iterations(iteration)
    size = start * np.power(float(factor), np.floor(t / k))
    return np.minimum(size, stop).astype(np.int64)


def _check_growth(k, start, stop, factor):
    if not all(np.isfinite(v) for v in (k, start, stop, factor)):
        raise ValueError(f"k, start, stop and factor must be finite numbers (got {k}, {start}, {stop}, {factor}).")
    if k < 1:
        raise ValueError(f"k (iterations between two batch-size increases) must be at least 1 (got {k}).")
    if not (1 <= start <= stop):
        raise ValueError(f"need 1 ≤ start ≤ stop batch size (got {start}, {stop}).")
    if factor < 2:
        raise ValueError(f"the batch grows by an integer factor of at least 2 (got {factor}).")


class MicroBatchSplit(NamedTuple):
    """How one optimizer step on `micro_batch·accumulation_steps` samples is built."""

    micro_batch: int
    accumulation_steps: int


def micro_batch_split(effective_batch: int, max_micro_batch: int) -> MicroBatchSplit:
    """Split an effective batch into equal micro-batches that fit in memory.

    Returns the largest micro-batch ≤ max_micro_batch that divides the
    effective batch exactly, and how many of them to accumulate. Equal sizes
    matter: averaging equally weighted micro-batch gradients (what Keras's
    ``gradient_accumulation_steps`` does) equals the big-batch gradient only
    when every micro-batch has the same size. Powers of two split without waste.
    """
    effective_batch, max_micro_batch = int(effective_batch), int(max_micro_batch)
    if effective_batch < 1 or max_micro_batch < 1:
        raise ValueError("batch sizes must be at least 1.")
    steps = -(-effective_batch // max_micro_batch)  # ceil: the fewest passes that fit in memory
    while effective_batch % steps:
        steps += 1
    return MicroBatchSplit(effective_batch // steps, steps)


class GrowthPhase(NamedTuple):
    """One batch size of a growth schedule: `updates` optimizer steps on `batch_size` samples each,
    each step built from `accumulation_steps` micro-batches of `micro_batch` samples."""

    batch_size: int
    micro_batch: int
    accumulation_steps: int
    updates: int


def growth_sizes(start=32, stop=16_384, factor=2):
    """The batch sizes a growth schedule visits: start, start·factor, … up to stop (stop included)."""
    _check_growth(1, start, stop, factor)
    sizes = [int(start)]
    while sizes[-1] < stop:
        sizes.append(int(min(sizes[-1] * factor, stop)))
    return sizes


def growth_phases(k, max_micro_batch, start=32, stop=16_384, factor=2):
    """The phases of a growth schedule: k updates at each size, split to fit `max_micro_batch`.

    Training runs one phase at a time (dlcore.engine.batch_growth): a phase is the
    unit in which the batch size and the number of accumulated micro-batches
    are fixed, so nothing about them changes inside a compiled train step.
    """
    _check_growth(k, start, stop, factor)
    return [GrowthPhase(size, *micro_batch_split(size, max_micro_batch), int(k))
            for size in growth_sizes(start, stop, factor)]


# How the batch-growth run builds batches larger than memory; the page shows this text.
ACCUMULATION_MECHANISM = (
    "**How a batch larger than memory is built.** Each batch size is trained as its own *phase*: "
    "before it starts, the optimizer is rebuilt with Keras's `gradient_accumulation_steps` = the "
    "phase's number of micro-batches (none below the memory limit), its momentum carried over from "
    "the previous phase, and the train step compiled again. Inside a phase the optimizer adds up the "
    "gradients of that many equal micro-batches and applies their mean once: the same update as one "
    "step on the whole batch (a test checks this to float precision). Why phases: Keras fixes the "
    "number of accumulated steps when the optimizer is made and decides when to update from "
    "`(iterations + 1) % steps`, which would misalign the first big batch after a change of size; "
    "a fresh optimizer per phase starts that count aligned. One difference remains, as with any "
    "accumulation: batch normalization sees each micro-batch on its own (\"ghost\" batch norm)."
)


def batch_growth_plan(k, max_micro_batch, start=32, stop=16_384, factor=2, n_train=None):
    """One row per batch size of the growth schedule: when it starts, and how it is built.

    Columns: batch size, first and last iteration at that size (the last
    size runs until training stops, so it is shown for k iterations),
    micro-batch, accumulation steps, samples seen in the phase and, with
    n_train, how many epochs of the training set that is.
    """
    import pandas as pd  # only when a table is asked for; the module stays pure NumPy

    rows = []
    for i, phase in enumerate(growth_phases(k, max_micro_batch, start, stop, factor)):
        row = {
            "batch size": phase.batch_size,
            "first iteration": i * phase.updates,
            "last iteration": (i + 1) * phase.updates - 1,
            "micro-batch": phase.micro_batch,
            "accumulation steps": phase.accumulation_steps,
            "samples in phase": phase.batch_size * phase.updates,
        }
        if n_train:
            row["epochs in phase"] = phase.batch_size * phase.updates / n_train
        rows.append(row)
    return pd.DataFrame(rows)


# --------------------------------------------------------------------------
# Tables for the playground.
# --------------------------------------------------------------------------
def plot_iterations(n_iterations, step_size, max_points=2000):
    """Iterations at which to draw a curve: all of them if few, else a grid plus every corner.

    Cyclical rates are piecewise linear with corners at multiples of
    step_size; sampling those exactly keeps the peaks sharp on a chart that
    cannot hold 100 000 points.
    """
    n_iterations = int(n_iterations)
    if n_iterations < 1:
        raise ValueError("the number of iterations must be at least 1.")
    if n_iterations <= max_points:
        return np.arange(n_iterations)
    grid = np.linspace(0, n_iterations - 1, max_points).round()
    corners = np.arange(0, n_iterations, step_size)
    if corners.size > max_points:
        corners = corners[:: int(np.ceil(corners.size / max_points))]
    return np.unique(np.concatenate([grid, corners, [n_iterations - 1]])).astype(np.int64)


def cyclical_curves(policies, n_iterations, base_lr, max_lr, step_size, gamma):
    """Long table (iteration, policy, lr) for overlaying several policies on one chart."""
    import pandas as pd

    check_cyclical(base_lr, max_lr, step_size, gamma)
    t = plot_iterations(n_iterations, step_size)
    frames = [
        pd.DataFrame({"iteration": t, "policy": p, "lr": cyclical(p, t, base_lr, max_lr, step_size, gamma)})
        for p in policies
    ]
    if not frames:
        return pd.DataFrame({"iteration": [], "policy": [], "lr": []})
    return pd.concat(frames, ignore_index=True)


def apex_rates(policies, n_iterations, base_lr, max_lr, step_size, gamma, max_cycles=12):
    """The rate at the apex of each cycle (t = step_size·(2·cycle − 1)) for each policy.

    The apexes show each policy's rule at a glance: constant for triangular,
    halving for triangular2, ×γ^(2·step_size) per cycle for exp_range.
    """
    import pandas as pd

    check_cyclical(base_lr, max_lr, step_size, gamma)
    apex = step_size * (2 * np.arange(1, max_cycles + 1) - 1)
    apex = apex[apex <= n_iterations - 1]
    table = {"cycle": np.arange(1, apex.size + 1), "apex iteration": apex.astype(np.int64)}
    for p in policies:
        table[p] = cyclical(p, apex, base_lr, max_lr, step_size, gamma)
    return pd.DataFrame(table)


# --------------------------------------------------------------------------
# Words for a spec's schedule (the pages show what a run would do before it starts).
# --------------------------------------------------------------------------
def describe(schedule: dict) -> str:
    """A spec's ``schedule`` dict in one sentence, with its numbers."""
    s = dict(schedule)
    name = s.get("name", "constant")
    if name in ("triangular", "triangular2", "exp_range", "exp_range_paper"):
        text = (f"{name} between base_lr (lr_min) = {s['base_lr']:.3g} and max_lr (lr_max) = {s['max_lr']:.3g}, "
                f"step size {s['step_size']} iterations (a cycle is {2 * s['step_size']})")
        return text + (f", γ = {s['gamma']:g} per iteration" if "gamma" in s else "")
    if name == "batch_growth":
        return (f"batch {s['start']} → {s['stop']}, ×{s.get('factor', 2)} every k = {s['k']} updates at a fixed rate; "
                f"batches above {s['max_micro_batch']} built from micro-batches of at most {s['max_micro_batch']}")
    if name == "range_test":
        how = ("a continuous exponential sweep" if s.get("mode") == "sweep"
               else f"{s.get('candidates', 10)} log-spaced candidate rates, each for an equal share of the iterations")
        return f"learning rate from {s['lr_start']:.0e} to {s['lr_end']:.0e}: {how}"
    if name == "step_decay":
        return f"step decay ×{s.get('factor', 0.1)} at iterations {s.get('boundaries')}"
    return "a constant learning rate"
