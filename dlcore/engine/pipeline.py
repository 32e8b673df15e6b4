"""The input pipeline: which samples and which augmentation each batch gets.

Batches of epoch e are a pure function of (seed, e, batch index), so a resumed run
sees the same data as an uninterrupted one.

Two ways to feed a step, the same batches either way:

- **on the device** (every run but batch growth): the training set is uploaded
  once into a :class:`dlcore.keras_parts.device_augment.DeviceTrainer`, and a
  step is fed only int32 numbers, the samples it copies and their augmentation
  draws (:func:`make_batches`); the images are gathered, normalised and
  augmented inside the compiled step with ``keras.ops``.
- **on the host** (batch growth, whose micro-batches change size by phase, and
  the reference for tests): NumPy batches made by ``dlcore.core.augment``
  (:func:`make_host_batches`, :func:`augment_batch`).

The draws are NumPy's, in the order the reference draws them, so the device's
images equal the host's for the same (seed, epoch, batch).

Steps per compiled call. Measured on CPU (2 shared cores, 2026-12-01): on
JAX, Keras runs ``steps_per_execution`` = k as k calls of the one-step jitted
function from Python, so k only thins out the batch-end callbacks; the class
MLP trained at 632 and 614 images/s with k = 1 against 585 and 384 with k = 8
(1664-1718 vs 1554-1813 per CPU-second): no gain. On TensorFlow k > 1 loops
inside one graph, but a ResNet step (0.4 s and more on a CPU) dwarfs the call
overhead. So the default stays 1 (``Spec.steps_per_execution``); the host no
longer waits on any step anyway (the Recorder is async-safe, the images are
made on the device), and a cancel is honoured within k steps.

Several runs on one GPU: one worker process per run, as the jobs queue and
``python -m dlcore.run --parallel`` already do; no multi-run process. Why,
from the device's side: the H100 numbers that raised the question (1.9-3.1k
images/s for M = 1, about 39k for the five Problem 4 runs together) came from
each step waiting for the host (a sync per step, batches made in NumPy and
copied), which the device pipeline and async dispatch remove inside every
process. Several runs in one process would gain no overlap: XLA issues one
process's computations on one compute stream per device, so two runs' steps
still run one after the other, and their dispatch shares one GIL. Separate
processes time-slice the GPU, and each fills the idle gaps of the others. On
this machine the question cannot be measured (2 cores shared by ~10 processes:
a total of images/s across concurrent runs is noise), so it is the GPU call's
to confirm with ``benchmarks/throughput.py`` run alone and side by side. Keep
the processes few (the five Problem 4 runs, not fifteen) and let them share
memory (``XLA_PYTHON_CLIENT_PREALLOCATE=false``).
"""
from __future__ import annotations

import math

import numpy as np

from dlcore.engine.experiments import Spec

PAD = 4                      # He et al.: pad 4 pixels, crop back to 32×32
UINT8_PREPROCESSING = ("scale", "per_pixel_mean")   # the device keeps these sets as uint8


def epoch_order(n: int, seed: int, epoch: int) -> np.ndarray:
    """The sample order of epoch `epoch` (0-based): a pure function of (seed, epoch)."""
    return np.random.default_rng([seed, epoch]).permutation(n)


def batch_rng(seed: int, epoch: int, index: int) -> np.random.Generator:
    """The augmentation randomness of one batch: independent of the order batches are drawn."""
    return np.random.default_rng([seed, epoch, index, 1])


def copies(spec: Spec) -> int:
    """Images per sample in a step: M for batch augmentation, else 1."""
    return spec.augment.get("M", 1) if spec.augment.get("name") == "batch_augment" else 1


def augmentation(spec: Spec) -> dict:
    """The device pipeline's static settings for a spec: pad, flip, cutout side, and whether to augment."""
    kind = spec.augment.get("name", "none")
    if kind not in ("none", "standard", "batch_augment"):
        raise ValueError(f"unknown augmentation {kind!r}")
    return {"augmented": kind != "none", "pad": PAD, "flip": True,
            "cutout": spec.augment.get("cutout", 16) if kind == "batch_augment" else 0}


def augmentation_draws(spec: Spec, n: int, height: int, width: int, rng: np.random.Generator) -> np.ndarray:
    """int32 (n, 5): dy, dx, flip, cy, cx for n images, drawn as ``dlcore.core.augment._augment`` draws them.

    The same generator state gives the same numbers the reference uses, so the
    device's images are the reference's. Zeros when the spec does not augment.
    """
    settings = augmentation(spec)
    out = np.zeros((n, 5), np.int32)
    if not settings["augmented"]:
        return out
    pad = settings["pad"]
    out[:, 0] = rng.integers(0, 2 * pad + 1, size=n)
    out[:, 1] = rng.integers(0, 2 * pad + 1, size=n)
    out[:, 2] = rng.random(n) < 0.5
    if settings["cutout"]:
        out[:, 3] = rng.integers(0, height, size=(n, 1))[:, 0]
        out[:, 4] = rng.integers(0, width, size=(n, 1))[:, 0]
    return out


def step_inputs(spec: Spec, y: np.ndarray, take: np.ndarray, image_shape, rng: np.random.Generator):
    """What one device step is fed for the samples `take`: ({"source", "draws"}, labels), M rows per sample."""
    m = copies(spec)
    source = np.repeat(np.asarray(take, np.int32), m)
    draws = augmentation_draws(spec, len(source), image_shape[0], image_shape[1], rng)
    return {"source": source, "draws": draws}, np.repeat(y[take], m).astype(np.int32)


def augment_batch(spec: Spec, x: np.ndarray, y: np.ndarray, rng: np.random.Generator):
    """Apply the spec's augmentation to one batch on the host (copies are made per batch only)."""
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


def _epoch_batches(spec: Spec, n: int, fetch):
    """A keras PyDataset of epoch batches; `fetch(take, rng, index)` makes one; `.epoch` is set by the Recorder."""
    import keras

    class EpochBatches(keras.utils.PyDataset):
        def __init__(self):
            super().__init__(workers=1, use_multiprocessing=False)
            self.epoch = 0
            self._order = epoch_order(n, spec.seed, 0)

        def set_epoch(self, epoch: int) -> None:
            if epoch != self.epoch:
                self.epoch = epoch
                self._order = epoch_order(n, spec.seed, epoch)

        def __len__(self):
            return math.ceil(n / spec.batch_size)

        def __getitem__(self, i):
            take = self._order[i * spec.batch_size:(i + 1) * spec.batch_size]
            return fetch(take, batch_rng(spec.seed, self.epoch, i))

    return EpochBatches()


def make_host_batches(spec: Spec, x: np.ndarray, y: np.ndarray):
    """Batches of NumPy images, augmented on the host."""
    return _epoch_batches(spec, len(x), lambda take, rng: augment_batch(spec, x[take], y[take], rng))


def make_batches(spec: Spec, x: np.ndarray, y: np.ndarray):
    """The batches a run trains on: device-step inputs (see :func:`step_inputs`) for a
    :class:`DeviceTrainer`, host images for batch growth."""
    if not on_device(spec):
        return make_host_batches(spec, x, y)
    return _epoch_batches(spec, len(y), lambda take, rng: step_inputs(spec, y, take, x.shape[1:], rng))


def on_device(spec: Spec) -> bool:
    """Whether the run's batches are made on the device (all but batch growth's phases)."""
    return spec.schedule.get("name") != "batch_growth"


def device_store(spec: Spec, arrays: dict) -> dict:
    """The training set as the device keeps it, and how a step turns it into ``arrays["x_train"]``.

    CIFAR-10 and the MLP's sets go up as their uint8 pixels (``x / 255 − mean``
    on the device gives the very floats ``data.prepare`` makes); resized
    Fashion-MNIST goes up as the float32 ``data.prepare`` made.
    """
    zero = np.zeros(arrays["x_train"].shape[1:], np.float32)
    if spec.preprocessing not in UINT8_PREPROCESSING:
        return {"images": arrays["x_train"], "mean": zero, "divisor": 1.0}
    from dlcore.engine import data

    (x, y), _ = data.load(spec.dataset)
    if spec.subset:
        x = x[data.first_per_class(y, spec.subset)]
    mean = arrays.get("mean")
    return {"images": x, "mean": zero if mean is None else mean, "divisor": 255.0}


def trainer(spec: Spec, net, store: dict):
    """A :class:`DeviceTrainer` for `net` (compiled, sharing its optimizer), or `net` for host batches."""
    if not on_device(spec):
        return net
    import keras

    from dlcore.keras_parts import device_augment

    trainer = device_augment.DeviceTrainer(net, store["images"], store["mean"], divisor=store["divisor"],
                                           **augmentation(spec))
    trainer.compile(optimizer=net.optimizer, loss=keras.losses.SparseCategoricalCrossentropy(),
                    metrics=["accuracy"], steps_per_execution=spec.steps_per_execution)
    return trainer
