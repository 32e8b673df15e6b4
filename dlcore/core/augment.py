"""Data augmentation for CIFAR-10: pad-crop-flip, cutout, batch augmentation.

Three recipes from Problem 4, in NumPy and vectorised over the batch, so the
gallery page can use them without importing Keras and a training input
pipeline can call them per batch on any backend:

- :func:`pad_crop_flip`: He et al. (2016) Sec 4.2: pad 4 pixels with zeros,
  take a random 32×32 crop, flip horizontally with probability 1/2.
- :func:`cutout`: DeVries & Taylor (2017): one (or more) square of side
  ``size`` centred at a uniformly random pixel. The centre may be anywhere in
  the image, so squares near a border are clipped and on average cover less
  than ``size²`` pixels (:func:`expected_masked_fraction`).
- :func:`batch_augment`: Hoffer et al. (2019): every sample of a batch of B
  appears M times, each copy with its own crop, flip and cutout, so one step
  sees M·B images. Copies are made per batch, never for the whole training
  set (the seed notebook built all 800,000 images of M = 16 up front).

Fill value. Both papers apply the mask (and the padding) to the *normalised*
image, in which zero is the data-set mean: a masked pixel carries no
information, it is "an average pixel". That is why ``fill`` defaults to 0.0.
On raw uint8 images (the gallery) pass the data-set mean colour
(:func:`mean_colour`) to show what the network sees, or 0 for black.

Randomness: every function takes an explicit ``np.random.Generator`` (or an
int seed); nothing touches NumPy's global state. :class:`Pipeline` derives
each epoch's permutation and each batch's augmentation from (seed, epoch,
batch index), so a run resumed at epoch k sees the very batches an
uninterrupted run would have seen, in any order of fetching.
"""
from __future__ import annotations

from typing import Iterator

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

# Tags that keep the permutation's random stream apart from the batches'.
# The entropy lists always have four entries: NumPy's SeedSequence treats
# [a, b] and [a, b, 0] alike, so variable-length lists could collide.
_PERMUTATION, _AUGMENTATION = 0, 1


def _generator(rng) -> np.random.Generator:
    """An explicit Generator (passed through) or one seeded from an int."""
    if rng is None:
        raise TypeError("pass rng=np.random.default_rng(seed) (or an int seed): "
                        "augmentation must be reproducible")
    return np.random.default_rng(rng)


# ---------------------------------------------------------------- cutout

def square_masks(centres_y, centres_x, size: int, height: int, width: int,
                 channels: int = 1) -> np.ndarray:
    """Boolean masks (n, height, width), True inside squares of side `size`.

    ``centres_y``/``centres_x`` have shape (n,) or (n, count): one or `count`
    squares per image, their union is masked. A square centred at c covers
    rows c − size//2 … c − size//2 + size − 1 (for even sizes exactly
    DeVries & Taylor's ``y − s/2 : y + s/2``), clipped at the borders: a
    16×16 square centred at (0, 0) masks only the 8×8 corner.

    `channels` > 1 repeats every column that many times: (n, height,
    width·channels), the layout of (n, H, W, C) images seen as rows of
    pixels, so filling the masks needs no full-size ``np.repeat``.
    """
    cy = np.asarray(centres_y).reshape(len(centres_y), -1)
    cx = np.asarray(centres_x).reshape(len(centres_x), -1)
    top, left = cy - size // 2, cx - size // 2
    rows, cols = np.arange(height), np.arange(width).repeat(channels)
    # (n, count, H) and (n, count, W·C): which rows / columns each square
    # covers; comparing against the unclipped ends clips for free.
    in_rows = (rows >= top[..., None]) & (rows < top[..., None] + size)
    in_cols = (cols >= left[..., None]) & (cols < left[..., None] + size)
    squares = in_rows[:, :, :, None] & in_cols[:, :, None, :]
    return squares[:, 0] if squares.shape[1] == 1 else squares.any(axis=1)


def cutout_masks(n: int, height: int = 32, width: int = 32, size: int = 16, count: int = 1,
                 *, rng, channels: int = 1) -> np.ndarray:
    """Masks (n, height, width) of `count` squares per image, centres uniform over all pixels.

    (With `channels` > 1 each column is repeated, see :func:`square_masks`.)
    """
    if size < 0 or count < 0:
        raise ValueError(f"cutout size and count must be ≥ 0 (got size={size}, count={count})")
    rng = _generator(rng)
    cy = rng.integers(0, height, size=(n, count))
    cx = rng.integers(0, width, size=(n, count))
    if count == 0:
        return np.zeros((n, height, width * channels), dtype=bool)
    return square_masks(cy, cx, size, height, width, channels)


def _fill_value(fill, dtype) -> np.ndarray:
    """`fill` in the images' dtype; rounded for integer images (a mean of 122.6 shows as 123)."""
    fill = np.asarray(fill)
    if np.issubdtype(dtype, np.integer):
        fill = np.rint(fill)
    return fill.astype(dtype)


def _fill_masked(images: np.ndarray, masks: np.ndarray, fill) -> None:
    """Set the masked pixels of `images` to `fill`, in place (all channels)."""
    where = masks if images.ndim == 3 else masks[..., None]
    np.copyto(images, _fill_value(fill, images.dtype), where=where)


def apply_masks(images: np.ndarray, masks: np.ndarray, fill=0.0) -> np.ndarray:
    """A copy of `images` (n, H, W[, C]) with the masked pixels set to `fill`.

    `fill`: a scalar, one value per channel, or a whole (H, W, C) image;
    0.0 on normalised images is the data-set mean (see the module docstring).
    The seed notebook's ``apply_mask`` computed the square and returned the
    image untouched; here the assignment really happens.
    """
    out = np.array(images, copy=True)
    _fill_masked(out, masks, fill)
    return out


def cutout(images: np.ndarray, size: int = 16, count: int = 1, *, rng, fill=0.0) -> np.ndarray:
    """DeVries & Taylor's cutout: `count` squares of side `size` per image set to `fill`.

    Returns new images; use :func:`cutout_masks` + :func:`apply_masks` when
    the masks themselves are wanted (the gallery shows them).
    """
    masks = cutout_masks(len(images), images.shape[1], images.shape[2], size, count, rng=rng)
    return apply_masks(images, masks, fill)


def masked_pixels(masks: np.ndarray) -> np.ndarray:
    """Number of pixels masked, per image: shape (n,)."""
    return masks.reshape(len(masks), -1).sum(axis=1)


def masked_fraction(masks: np.ndarray) -> np.ndarray:
    """Fraction of pixels masked, per image: shape (n,)."""
    return masks.reshape(len(masks), -1).mean(axis=1)


def expected_masked_fraction(size: int, count: int = 1, height: int = 32, width: int = 32) -> float:
    """Exact mean masked fraction for `count` independent squares with uniform centres.

    Pixel (i, j) is covered by one square with probability p_row(i)·p_col(j),
    where p_row(i) is the share of centre rows whose square reaches row i;
    `count` independent squares miss it with probability (1 − p)^count.
    For size 16 on 32×32 a square covers on average 14 rows and 14 columns,
    196 pixels (19.1 %), not 256 (25 %): the borders clip it.
    """
    def share(n: int) -> np.ndarray:
        i = np.arange(n)
        lo = np.maximum(0, i + size // 2 - size + 1)
        hi = np.minimum(n - 1, i + size // 2)
        return np.maximum(0, hi - lo + 1) / n

    p = np.outer(share(height), share(width))
    return float(np.mean(1.0 - (1.0 - p) ** count))


# ---------------------------------------------------------------- pad, crop, flip

def _augment(images: np.ndarray, source: np.ndarray, pad: int, rng: np.random.Generator,
             flip: bool, fill, cutout_size: int = 0, cutout_count: int = 0):
    """Pad-crop-flip (and cutout) of `images[source]`: (new images, cutout masks).

    `source` lists the image to copy for each output (repeats allowed: batch
    augmentation). Vectorised with no per-image loop: the padded batch and
    its mirror image are viewed as all their H×W windows
    (``sliding_window_view``, no copy) and one fancy index picks a window per
    output. The masks are then filled row by row, each mask column repeated
    per channel, which keeps NumPy's inner loop long (several times faster
    than broadcasting over a trailing axis of 3 channels).
    """
    gray = images.ndim == 3
    imgs = images[..., None] if gray else images
    b, h, w, c = imgs.shape
    n = len(source)
    fill = _fill_value(fill, images.dtype)
    if fill.ndim > 1:
        raise ValueError("padding and batch-augmentation fill must be a scalar or one value per channel")
    # The padded batch followed by its left-right mirror.
    padded = np.empty((2 * b, h + 2 * pad, w + 2 * pad, c), images.dtype)
    padded[...] = fill
    padded[:b, pad:pad + h, pad:pad + w] = imgs
    # Mirror one channel at a time: NumPy's copy loop then runs along the width
    # (40 values) rather than over a pixel's 3 channels, ~5x faster for a batch.
    for channel in range(c):
        padded[b:, :, :, channel] = padded[:b, :, ::-1, channel]
    dy = rng.integers(0, 2 * pad + 1, size=n)
    dx = rng.integers(0, 2 * pad + 1, size=n)
    flipped = rng.random(n) < 0.5 if flip else np.zeros(n, dtype=bool)
    windows = sliding_window_view(padded, (h, w, c), axis=(1, 2, 3))  # (2b, dy, dx, 1, h, w, c)
    out = windows[np.asarray(source) + b * flipped, dy, dx, 0]  # (n, h, w, c), a new array
    # Masks with each column repeated per channel: (n, h, w·c), the layout of out's rows.
    wide = cutout_masks(n, h, w, cutout_size, cutout_count, rng=rng, channels=c)
    if cutout_size and cutout_count:
        row_fill = np.broadcast_to(fill, (w, c)).reshape(-1)
        np.copyto(out.reshape(n, h, w * c), row_fill, where=wide)
    return (out[..., 0] if gray else out), np.ascontiguousarray(wide[:, :, ::c])


def pad_crop_flip(images: np.ndarray, pad: int = 4, *, rng, flip: bool = True, fill=0.0) -> np.ndarray:
    """He et al. Sec 4.2: pad by `pad` pixels, random crop back to H×W, random horizontal flip.

    Vectorised: one fancy-indexing gather for the whole batch. The padding
    is `fill` (zeros, i.e. the mean of a normalised image; a scalar or one
    value per channel). Returns new images of the input's shape and dtype.
    """
    if pad < 0:
        raise ValueError(f"padding must be ≥ 0 (got {pad})")
    return _augment(images, np.arange(len(images)), pad, _generator(rng), flip, fill)[0]


# ---------------------------------------------------------------- batch augmentation

def batch_augment(x: np.ndarray, y: np.ndarray, M: int, *, rng, cutout_size: int = 16,
                  cutout_count: int = 1, pad: int = 4, flip: bool = True, fill=0.0,
                  return_masks: bool = False):
    """Hoffer et al.'s batch augmentation: (M·B images, M·B labels) from a batch of B.

    Copy m of sample i sits at row i·M + m; each copy has its own crop,
    flip and cutout mask (``cutout_size=0`` turns cutout off, ``M=1`` is
    plain augmentation). Only this batch is copied, so memory grows with
    M·B, never with M times the training set. With ``return_masks`` the
    cutout masks (M·B, H, W) come back as a third value.
    """
    if M < 1:
        raise ValueError(f"M (copies per sample) must be ≥ 1 (got {M})")
    rng = _generator(rng)
    source = np.repeat(np.arange(len(x)), M)
    out, masks = _augment(x, source, pad, rng, flip, fill, cutout_size, cutout_count)
    labels = np.repeat(y, M, axis=0)
    return (out, labels, masks) if return_masks else (out, labels)


# ---------------------------------------------------------------- statistics for fills and inputs

def mean_colour(x: np.ndarray) -> np.ndarray:
    """The data set's mean value per channel, in the units of `x` (float32, shape (C,))."""
    # Summing over all leading axes at once is ~10x faster than a mean over
    # axis 0 of an (N·H·W, 3) view, whose rows are only 3 long.
    accumulator = np.int64 if np.issubdtype(x.dtype, np.integer) else np.float64
    total = x.sum(axis=tuple(range(x.ndim - 1)), dtype=accumulator)
    return (total / (x.size // x.shape[-1])).astype(np.float32)


def pixel_mean(x: np.ndarray, chunk: int = 5000) -> np.ndarray:
    """Per-pixel mean of uint8 images, scaled to [0, 1] (float32, one image).

    The same as ``dlcore.engine.data.prepare(..., "per_pixel_mean")["mean"]``, but
    summed in chunks so the training set is never copied as floats.
    """
    total = np.zeros(x.shape[1:], dtype=np.float64)
    for start in range(0, len(x), chunk):
        total += x[start:start + chunk].sum(axis=0, dtype=np.float64)
    return (total / (len(x) * 255.0)).astype(np.float32)


# ---------------------------------------------------------------- training input

class Pipeline:
    """Augmented training batches, one epoch at a time, made on the fly.

    ``Pipeline(x, y, batch_size=64, M=4, seed=0).epoch(k)`` yields
    ``ceil(N / B)`` batches of (M·B images, M·B labels) (the last may be
    smaller). Epoch k's order is a permutation drawn from (seed, k) and batch
    j's augmentation from (seed, k, j), so ``batch(k, j)`` can be fetched in
    any order (a ``keras.utils.PyDataset`` with workers) and a run resumed at
    epoch k reproduces an uninterrupted one.

    `mean`: when given, `x` holds raw uint8 pixels and each batch becomes
    ``x / 255 − mean`` (float32) before augmentation, as
    ``dlcore.engine.data.prepare(..., "per_pixel_mean")`` does for the whole set;
    keeping the set as uint8 uses a quarter of the memory. Without `mean`
    batches are augmented as stored. `fill` is the value of padding and
    masked pixels, 0.0 = the data-set mean of normalised images.
    """

    def __init__(self, x: np.ndarray, y: np.ndarray, batch_size: int, M: int = 1, seed: int = 0, *,
                 mean: np.ndarray | None = None, pad: int = 4, flip: bool = True,
                 cutout_size: int = 16, cutout_count: int = 1, fill=0.0, shuffle: bool = True):
        if len(x) != len(y):
            raise ValueError(f"x and y differ in length ({len(x)} vs {len(y)})")
        if batch_size < 1 or M < 1:
            raise ValueError(f"batch_size and M must be ≥ 1 (got {batch_size}, {M})")
        self.x, self.y = x, y
        self.batch_size, self.M, self.seed = int(batch_size), int(M), int(seed)
        self.mean = None if mean is None else np.asarray(mean, dtype=np.float32)
        self.pad, self.flip, self.fill, self.shuffle = pad, flip, fill, shuffle
        self.cutout_size, self.cutout_count = cutout_size, cutout_count
        self._order = (None, None)  # (epoch, permutation): one epoch remembered

    def __len__(self) -> int:
        """Batches per epoch."""
        return -(-len(self.x) // self.batch_size)

    def __repr__(self) -> str:
        return (f"Pipeline(N={len(self.x)}, B={self.batch_size}, M={self.M}, seed={self.seed}, "
                f"pad={self.pad}, flip={self.flip}, cutout={self.cutout_count}×{self.cutout_size}px, "
                f"{len(self)} batches of ≤{self.M * self.batch_size} images)")

    def permutation(self, epoch: int) -> np.ndarray:
        """The order of the training set in `epoch` (identity when shuffle is off)."""
        if not self.shuffle:
            return np.arange(len(self.x))
        cached_epoch, order = self._order
        if cached_epoch != epoch:
            rng = np.random.default_rng([self.seed, int(epoch), _PERMUTATION, 0])
            order = rng.permutation(len(self.x))
            self._order = (epoch, order)
        return order

    def batch(self, epoch: int, index: int) -> tuple[np.ndarray, np.ndarray]:
        """Batch `index` of `epoch`: (M·B images, M·B labels)."""
        if not 0 <= index < len(self):
            raise IndexError(f"batch {index} out of range (an epoch has {len(self)})")
        take = self.permutation(epoch)[index * self.batch_size:(index + 1) * self.batch_size]
        xb, yb = self.x[take], self.y[take]
        if self.mean is not None:
            xb = xb.astype(np.float32) / 255.0 - self.mean
        rng = np.random.default_rng([self.seed, int(epoch), _AUGMENTATION, int(index)])
        return batch_augment(xb, yb, self.M, rng=rng, cutout_size=self.cutout_size,
                             cutout_count=self.cutout_count, pad=self.pad, flip=self.flip,
                             fill=self.fill)

    def epoch(self, epoch: int) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """All batches of `epoch`, in order, made one at a time."""
        for index in range(len(self)):
            yield self.batch(epoch, index)


def epoch_batches(x, y, batch_size: int, M: int, seed: int, epoch: int, **augmentation):
    """Shorthand: ``Pipeline(x, y, batch_size, M, seed, **augmentation).epoch(epoch)``."""
    return Pipeline(x, y, batch_size, M, seed, **augmentation).epoch(epoch)


# ---------------------------------------------------------------- choosing gallery images

def pick_by_class(y: np.ndarray, classes, nth: int = 0) -> np.ndarray:
    """Index of the `nth` image of each class in `classes` (wrapping around), in that order.

    Deterministic whatever the data set's order (the shared CIFAR-10 test
    set is sorted by class, so "the first ten images" are all airplanes).
    """
    picked = []
    for c in classes:
        members = np.flatnonzero(np.asarray(y).reshape(-1) == c)
        if len(members) == 0:
            raise ValueError(f"no image of class {c} in this data set")
        picked.append(members[nth % len(members)])
    return np.asarray(picked, dtype=np.int64)


def pick_random(n_total: int, count: int, *, rng) -> np.ndarray:
    """`count` distinct image indices out of `n_total`, drawn with `rng`."""
    return _generator(rng).choice(n_total, size=min(count, n_total), replace=False)
