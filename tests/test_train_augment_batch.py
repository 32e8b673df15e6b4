"""The training input pipeline (dlcore.engine.worker.augment_batch) with the ResNet specs of Problem 4.

He et al.'s runs train on pad-crop-flip; Hoffer et al.'s batch-augmentation
copies get that same augmentation *and* cutout, each copy its own. The arrays
are those of data.prepare(..., "per_pixel_mean"): float32 with the data-set
mean subtracted, so padding and masks (0.0) are the mean image.
"""
import numpy as np
import pytest

from dlcore.engine import data, experiments
from dlcore.engine import pipeline

PAD = 4


@pytest.fixture(scope="module")
def batch():
    arrays = data.prepare("synthetic_cifar10", "per_pixel_mean")
    return arrays["x_train"][:8], arrays["y_train"][:8]


def crop_of(copy: np.ndarray, original: np.ndarray, cutout: bool = True) -> tuple[int, int, bool] | None:
    """(dy, dx, flipped) of the pad-crop-flip window of `original` that `copy` is; with
    `cutout`, pixels the copy set to exactly 0 are ignored. None when no window matches."""
    h, w = original.shape[:2]
    kept = copy != 0.0 if cutout else np.ones(copy.shape, dtype=bool)
    for flipped in (False, True):
        padded = np.pad(original[:, ::-1] if flipped else original, ((PAD, PAD), (PAD, PAD), (0, 0)))
        for dy in range(2 * PAD + 1):
            for dx in range(2 * PAD + 1):
                if np.array_equal(padded[dy:dy + h, dx:dx + w][kept], copy[kept]):
                    return dy, dx, flipped
    return None


def test_pipeline_arrays_are_mean_subtracted_float32(batch):
    x, _ = batch
    assert x.dtype == np.float32 and abs(float(data.prepare("synthetic_cifar10", "per_pixel_mean")
                                               ["x_train"].mean())) < 1e-3


def test_baseline_spec_pads_crops_and_flips_without_cutout(batch):
    x, y = batch
    spec = experiments.resnet_runs("smoke", Ms=(1,))[0]
    xa, ya = pipeline.augment_batch(spec, x, y, np.random.default_rng(0))
    assert xa.shape == x.shape and xa.dtype == np.float32 and np.array_equal(ya, y)
    # every pixel matches a padded window: no square was cut out
    crops = [crop_of(a, o, cutout=False) for a, o in zip(xa, x)]
    assert all(c is not None for c in crops)
    assert len({c[:2] for c in crops}) > 1 and len({c[2] for c in crops}) == 2, "own crop and flip"


@pytest.mark.parametrize("M", [2, 4, 16])
def test_batch_augment_copies_are_padded_cropped_flipped_and_cut_out(batch, M):
    x, y = batch
    spec = experiments.resnet_runs("smoke", Ms=(M,))[0]
    assert spec.augment == {"name": "batch_augment", "M": M, "cutout": 16}
    xa, ya = pipeline.augment_batch(spec, x, y, np.random.default_rng(1))
    assert xa.shape == (M * len(x), *x.shape[1:]) and xa.dtype == np.float32
    assert np.array_equal(ya, np.repeat(y, M))
    offsets = set()
    for i in range(len(x)):
        copies = xa[i * M:(i + 1) * M]
        crops = [crop_of(c, x[i]) for c in copies]
        assert all(c is not None for c in crops), "every copy is a pad-crop-flip of its sample"
        offsets |= {c[:2] for c in crops}
        masked = [(c == 0).all(axis=-1) for c in copies]
        assert all(m.sum() >= 8 * 8 for m in masked), "every copy has a cutout square (≥ a clipped 8×8)"
    assert len(offsets) > 1, "the copies are shifted, not only cut out"
    # copies of one sample differ (own crop, flip and square), not just repeat
    assert not np.array_equal(xa[0], xa[1])
