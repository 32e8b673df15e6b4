"""The input pipeline on the accelerator: the training set lives on the device, batches are made there.

A training step is fed only int32 numbers: for each image of the batch, which
training sample it copies (``source``) and its five augmentation draws
(``draws``: crop offsets dy, dx, a flip bit, and the cutout centre cy, cx).
:class:`DeviceTrainer` keeps the training set on the device as one uint8
variable (uploaded once, a quarter of float32's bytes), and inside the compiled
step gathers, normalises, pads, crops, flips and cuts out the images with
``keras.ops`` only, so TensorFlow and JAX run the same code. Batch
augmentation's M copies are M rows of ``source`` naming the same sample.

Why the draws come from the host: they are 5 int32 per image (20 kB a step at
M = 16, batch 64), drawn with NumPy from (seed, epoch, batch) exactly as the
NumPy reference ``dlcore.core.augment`` draws them. The device images then equal
the reference's bit for bit, on every backend, and a resumed run sees the same
batches as an uninterrupted one because nothing random lives on the device.
The bytes that matter (the images, 12 MB a step at M = 16 as float32) never
cross the bus.

Semantics are the reference's (``dlcore.core.augment._augment``): the image is
normalised first (``x / divisor − mean``, so padding and masked pixels, 0.0,
are the data-set mean), padded by ``pad`` with zeros, cropped at (dy, dx) of
the padded image or of its mirror image, then a ``cutout``×``cutout`` square
centred at (cy, cx) of the crop, clipped at the borders, is set to 0.

The trainer wraps the network (``.net``) and shares its variables, so the
network alone is what a checkpoint saves: the training set is a variable of the
trainer only and never enters a ``.keras`` file. Called on a dict
(``{"source", "draws"}``) it augments; called on images (validation,
prediction) it is the network itself.
"""
from __future__ import annotations

import keras
import numpy as np
from keras import ops

DRAWS = ("dy", "dx", "flip", "cy", "cx")


def pixel_index(draws, height: int, width: int, pad: int, flip: bool):
    """For each output pixel, the source pixel it copies and whether it lies in the image.

    Returns (rows, cols, inside): int32 (n, H) and (n, W) source coordinates,
    clipped into the image, and bool (n, H, W), False in the zero padding.
    The mirror image of a padded row of width W + 2·pad maps column j of a crop
    at dx to column W + pad − 1 − dx − j of the image.
    """
    dy, dx = draws[:, 0:1], draws[:, 1:2]
    i = ops.arange(height, dtype="int32")[None, :]
    j = ops.arange(width, dtype="int32")[None, :]
    rows = dy + i - pad
    cols = dx + j - pad
    if flip:
        flipped = draws[:, 2:3] > 0
        cols = ops.where(flipped, width + pad - 1 - dx - j, cols)
    inside_r = (rows >= 0) & (rows < height)
    inside_c = (cols >= 0) & (cols < width)
    inside = inside_r[:, :, None] & inside_c[:, None, :]
    return ops.clip(rows, 0, height - 1), ops.clip(cols, 0, width - 1), inside


def cutout_mask(draws, height: int, width: int, size: int):
    """bool (n, H, W): True inside each image's square of side `size` centred at (cy, cx), clipped."""
    top = draws[:, 3:4] - size // 2
    left = draws[:, 4:5] - size // 2
    i = ops.arange(height, dtype="int32")[None, :]
    j = ops.arange(width, dtype="int32")[None, :]
    in_rows = (i >= top) & (i < top + size)
    in_cols = (j >= left) & (j < left + size)
    return in_rows[:, :, None] & in_cols[:, None, :]


def augment(store, mean, source, draws, *, divisor: float, pad: int = 4, flip: bool = True,
            cutout: int = 0, augmented: bool = True):
    """Images (n, H, W, C) float32: sample ``source[k]`` of `store`, normalised and augmented by ``draws[k]``.

    `store`: (N, H, W, C) training set (uint8, or float32 already prepared);
    `mean`: (H, W, C) float32 subtracted after dividing by `divisor`.
    `augmented` False: the images as stored, normalised (no crop, flip or cutout).
    One gather of n·H·W pixels from the flattened store does crop and flip at once.
    """
    _, height, width, channels = store.shape
    source = ops.cast(source, "int32")
    if not augmented:
        pixels = ops.cast(ops.take(store, source, axis=0), "float32")
        return pixels / divisor - mean[None]
    draws = ops.cast(draws, "int32")
    rows, cols, inside = pixel_index(draws, height, width, pad, flip)
    within = rows[:, :, None] * width + cols[:, None, :]                  # (n, H, W) pixel of the image
    flat = source[:, None, None] * (height * width) + within
    pixels = ops.take(ops.reshape(store, (-1, channels)), flat, axis=0)      # (n, H, W, C)
    means = ops.take(ops.reshape(mean, (-1, channels)), within, axis=0)
    images = ops.cast(pixels, "float32") / divisor - means
    keep = inside
    if cutout:
        keep = keep & ~cutout_mask(draws, height, width, cutout)
    return ops.where(keep[..., None], images, ops.zeros_like(images))


class DeviceTrainer(keras.Model):
    """The network plus the device-resident training set: what ``fit`` trains, never what is saved.

    ``trainer.compile(optimizer=net.optimizer, …)`` after ``net.compile(…)``: the
    two share the optimizer and the weights, so saving ``trainer.net`` saves the
    training state (weights, optimizer slots, iteration count) without the data.
    """

    def __init__(self, net: keras.Model, images: np.ndarray, mean=None, *, divisor: float = 255.0,
                 pad: int = 4, flip: bool = True, cutout: int = 0, augmented: bool = True, **kwargs):
        super().__init__(name=f"{net.name}_device_trainer", **kwargs)
        self.net = net
        images = np.asarray(images)
        store_dtype = "uint8" if images.dtype == np.uint8 else "float32"
        # Non-trainable variables: uploaded once, passed to the compiled step as state (not a
        # constant folded into the program), and never part of the saved network.
        self.store = keras.Variable(images.astype(store_dtype, copy=False), trainable=False,
                                    dtype=store_dtype, name="training_set")
        mean = np.zeros(images.shape[1:], np.float32) if mean is None else np.asarray(mean, np.float32)
        self.mean = keras.Variable(mean, trainable=False, dtype="float32", name="training_mean")
        self.divisor, self.pad, self.flip = float(divisor), int(pad), bool(flip)
        self.cutout, self.augmented = int(cutout), bool(augmented)
        self.built = True

    def images(self, inputs):
        """The batch of images one step trains on (for tests and the gallery's comparisons)."""
        return augment(self.store, self.mean, inputs["source"], inputs["draws"], divisor=self.divisor,
                       pad=self.pad, flip=self.flip, cutout=self.cutout, augmented=self.augmented)

    def call(self, inputs, training=None):
        if isinstance(inputs, dict):
            return self.net(self.images(inputs), training=training)
        return self.net(inputs, training=training)

    def __repr__(self) -> str:
        return (f"DeviceTrainer({self.net.name}, {tuple(self.store.shape)} {self.store.dtype} on the device, "
                f"pad={self.pad}, flip={self.flip}, cutout={self.cutout})")
