"""The input pipeline: which samples and which augmentation each batch gets.

Batches of epoch e are a pure function of (seed, e, batch index), so a resumed run
sees the same data as an uninterrupted one.
"""
from __future__ import annotations

import math

import numpy as np

from dlcore.engine.experiments import Spec


def epoch_order(n: int, seed: int, epoch: int) -> np.ndarray:
    """The sample order of epoch `epoch` (0-based): a pure function of (seed, epoch)."""
    return np.random.default_rng([seed, epoch]).permutation(n)


def batch_rng(seed: int, epoch: int, index: int) -> np.random.Generator:
    """The augmentation randomness of one batch: independent of the order batches are drawn."""
    return np.random.default_rng([seed, epoch, index, 1])


def augment_batch(spec: Spec, x: np.ndarray, y: np.ndarray, rng: np.random.Generator):
    """Apply the spec's augmentation to one batch (copies are made per batch only)."""
    kind = spec.augment.get("name", "none")
    if kind == "none":
        return x, y
    from dlcore.core import augment

    if kind == "standard":
        return augment.pad_crop_flip(x, rng=rng), y
    if kind == "batch_augment":
        return augment.batch_augment(x, y, M=spec.augment["M"], rng=rng,
                                     cutout_size=spec.augment.get("cutout", 16))
    raise ValueError(f"unknown augmentation {kind!r}")


def make_batches(spec: Spec, x: np.ndarray, y: np.ndarray):
    """A keras PyDataset yielding the spec's batches; `.epoch` is set by the worker's Recorder."""
    import keras

    class EpochBatches(keras.utils.PyDataset):
        def __init__(self):
            super().__init__(workers=1, use_multiprocessing=False)
            self.epoch = 0
            self._order = epoch_order(len(x), spec.seed, 0)

        def set_epoch(self, epoch: int) -> None:
            if epoch != self.epoch:
                self.epoch = epoch
                self._order = epoch_order(len(x), spec.seed, epoch)

        def __len__(self):
            return math.ceil(len(x) / spec.batch_size)

        def __getitem__(self, i):
            idx = self._order[i * spec.batch_size:(i + 1) * spec.batch_size]
            return augment_batch(spec, x[idx], y[idx], batch_rng(spec.seed, self.epoch, i))

    return EpochBatches()
