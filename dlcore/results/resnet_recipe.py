"""He et al.'s CIFAR-10 ResNet v1 in numbers, without Keras (SPEC Problem 4.2).

Two things the cutout page shows before anything trains, so they must be
instant (the page's gallery tab may not import Keras):

- :func:`parameters`: the exact parameter count of ``dlcore.keras_parts.models.resnet_v1``
  for a depth and shortcut option, by the same layer arithmetic the builder
  follows (tests check it against ``model.count_params()``). Option A (identity
  shortcuts, zero-padded where the width doubles) adds nothing; option B
  (1×1 projection + batch norm where the shape changes) adds two small convs.
  ResNet-44 A has 0.66 M parameters, the figure in He et al.'s Table 6.
- :func:`recipe_rows`: He et al. Sec 4.2's training recipe next to what a
  spec actually runs, with the learning-rate marks converted from
  iterations to epochs of the spec's own data set and batch size.
"""
from __future__ import annotations

import math

from dlcore.engine.experiments import Spec

WEIGHT_DECAY = 1e-4           # the default of dlcore.keras_parts.models.resnet_v1 (tests check they agree)
STAGE_WIDTHS = (16, 32, 64)   # filters of the three stages (He et al. Sec 4.2)
NUM_CLASSES = 10
TRAINING_SAMPLES = {"cifar10": 50_000, "synthetic_cifar10": 256}   # dlcore.engine.data's sets

# He et al. (2016), "Deep residual learning for image recognition", Sec 4.2.
PAPER = {
    "optimizer": "SGD, momentum 0.9",
    "weight_decay": "1e-4",
    "learning_rate": "0.1, ÷10 at 32k and 48k iterations, stop at 64k",
    "batch": "128 (the homework: 64)",
    "inputs": "per-pixel mean subtracted",
    "augmentation": "4-pixel zero padding, random 32×32 crop, horizontal flip",
    "test": "the original 32×32 test images, one view each",
    "data": "45k training / 5k validation images (the homework: all 50k, tested on the 10k test set)",
}


def blocks_per_stage(depth: int) -> int:
    """n in depth = 6n + 2; a message that says why when depth is not of that form."""
    if depth < 8 or (depth - 2) % 6:
        raise ValueError(f"ResNet v1 depth must be 6n+2 with n ≥ 1 (20, 32, 44, 56, 110), not {depth}")
    return (depth - 2) // 6


def _batch_norm(channels: int) -> tuple[int, int]:
    """(trainable γ, β; non-trainable moving mean, variance)."""
    return 2 * channels, 2 * channels


def parameters(depth: int = 44, shortcut: str = "A") -> dict:
    """{"total", "trainable", "non_trainable"} of ResNet v1 (`depth`, `shortcut`) for CIFAR-10.

    Convolutions have no bias (batch norm follows each), as in dlcore.keras_parts.models;
    the non-trainable part is batch norm's moving mean and variance.
    """
    if shortcut not in ("A", "B"):
        raise ValueError(f"shortcut must be 'A' (zero-padding identity) or 'B' (1×1 projection), not {shortcut!r}")
    n = blocks_per_stage(depth)
    trainable, fixed = 3 * 3 * 3 * STAGE_WIDTHS[0], 0

    def add_bn(channels):
        nonlocal trainable, fixed
        t, f = _batch_norm(channels)
        trainable, fixed = trainable + t, fixed + f

    add_bn(STAGE_WIDTHS[0])
    width_in = STAGE_WIDTHS[0]
    for width in STAGE_WIDTHS:
        for _ in range(n):
            trainable += 3 * 3 * width_in * width + 3 * 3 * width * width
            add_bn(width)
            add_bn(width)
            if width_in != width and shortcut == "B":
                trainable += width_in * width
                add_bn(width)
            width_in = width
    trainable += STAGE_WIDTHS[-1] * NUM_CLASSES + NUM_CLASSES
    return {"total": trainable + fixed, "trainable": trainable, "non_trainable": fixed}


def parameter_rows(depth: int = 44) -> list[dict]:
    """One row per shortcut option: what the page's parameter table shows."""
    what = {"A": "identity; zero-padded channels where the width doubles (He et al.'s CIFAR nets)",
            "B": "1×1 convolution + batch norm where the shape changes (the notebook's keras-io code)"}
    return [{"shortcut": f"option {s}", "how": what[s], **parameters(depth, s)} for s in ("A", "B")]


def training_samples(spec: Spec) -> int:
    """How many training images one epoch of `spec` goes through (before batch augmentation)."""
    total = TRAINING_SAMPLES[spec.dataset]
    return min(total, 10 * spec.subset) if spec.subset else total


def iterations_to_epochs(iterations: int, spec: Spec) -> float:
    """An iteration count as epochs of `spec`'s training set at its batch size."""
    return iterations / math.ceil(training_samples(spec) / spec.batch_size)


def _power_of_ten(x: float) -> str:
    """1e-4 rather than 0.0001, as the paper writes it."""
    return f"{x:.0e}".replace("e-0", "e-").replace("e+0", "e")


def recipe_rows(spec: Spec) -> list[dict]:
    """He et al. Sec 4.2 next to what `spec` runs: (setting, He et al., this run) rows."""
    model, opt, schedule, aug = spec.model, spec.optimizer, spec.schedule, spec.augment
    marks = schedule.get("boundaries", [])
    lr = f"{opt['learning_rate']:g}"
    if schedule.get("warmup"):
        lr = f"warmed up linearly to {lr} over the first {schedule['warmup']} iterations, then {lr}"
    if marks:
        lr += ", ÷10 at " + " and ".join(f"{m:,} iterations (epoch {iterations_to_epochs(m, spec):.1f})"
                                         for m in marks)
    copies = aug.get("M", 1) if aug.get("name") == "batch_augment" else 1
    augmentation = "4-pixel zero padding, random 32×32 crop, horizontal flip"
    if copies > 1:
        augmentation = (f"{copies} copies of every sample in each batch, each with its own "
                        f"{augmentation} and a {aug.get('cutout', 16)}×"
                        f"{aug.get('cutout', 16)} cutout square")
    elif aug.get("name") == "none":
        augmentation = "none"
    depth = model.get("depth", 44)
    subset = f"{spec.subset} per class" if spec.subset else "all"
    test = f"{spec.test_subset} per class" if spec.test_subset else "all 10,000"
    stop = spec.stop.get("val_accuracy")
    rows = [
        ("network", "ResNet-44 v1 (n = 7), option A shortcuts",
         f"ResNet-{depth} v1 (n = {blocks_per_stage(depth)}), option {model.get('shortcut', 'A')} shortcuts"),
        ("optimizer", PAPER["optimizer"], f"SGD, momentum {opt.get('momentum', 0.0):g}"),
        ("weight decay", PAPER["weight_decay"], _power_of_ten(model.get("weight_decay", WEIGHT_DECAY))),
        ("learning rate", PAPER["learning_rate"], lr),
        ("batch", PAPER["batch"], f"{spec.batch_size} samples" + (
            f" = {copies * spec.batch_size} images" if copies > 1 else "")),
        ("inputs", PAPER["inputs"], "per-pixel mean subtracted" if spec.preprocessing == "per_pixel_mean"
         else spec.preprocessing),
        ("augmentation", PAPER["augmentation"], augmentation),
        ("test", PAPER["test"], f"original images, no augmentation ({test})"),
        ("data", PAPER["data"], f"{spec.dataset}, {subset} ({training_samples(spec):,} images)"),
        ("batch norm", "moving-average momentum not stated (the homework: Keras's default, 0.99)",
         f"moving-average momentum {model.get('bn_momentum', 0.99):g}"
         + (" (Keras's default)" if "bn_momentum" not in model else " (Keras's default: 0.99)")),
        ("length", "64k iterations (≈ 182 epochs of 45k at batch 128)",
         f"at most {spec.epochs} epochs" + (f", stopping at {stop:.0%} test accuracy" if stop else "")),
    ]
    return [{"setting": s, "He et al. (2016) Sec 4.2": paper, "this run": ours} for s, paper, ours in rows]
