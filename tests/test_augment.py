"""dlcore.core.augment: cutout, pad-crop-flip, batch augmentation, the per-epoch pipeline."""
import subprocess
import sys
import tracemalloc

import numpy as np
import pytest

from dlcore.core import augment


def brute_force_mean_area(size, height=32, width=32):
    """Mean masked pixels over every possible centre, one mask at a time."""
    cy, cx = np.divmod(np.arange(height * width), width)
    return augment.square_masks(cy, cx, size, height, width).sum() / (height * width)


# ---------------------------------------------------------------- cutout geometry

def test_16x16_cutout_on_32x32_hides_196_pixels_on_average():
    # A centre row c covers min(c+8, 32) - max(c-8, 0) rows: 8..15 near the
    # top, 16 in the middle, 15..9 near the bottom: 448 / 32 = 14 on average.
    assert augment.expected_masked_fraction(16, 1) == pytest.approx(14 * 14 / 1024)
    assert brute_force_mean_area(16) == pytest.approx(196)


@pytest.mark.parametrize("size", [1, 7, 16, 20, 32, 40])
def test_expected_fraction_matches_enumerating_every_centre(size):
    assert augment.expected_masked_fraction(size) == pytest.approx(brute_force_mean_area(size) / 1024)


@pytest.mark.parametrize("count", [1, 2])
def test_mean_masked_area_over_many_draws_matches_expectation(count):
    masks = augment.cutout_masks(20_000, 32, 32, 16, count, rng=np.random.default_rng(1))
    fractions = augment.masked_fraction(masks)
    stderr = fractions.std() / np.sqrt(len(fractions))
    assert abs(fractions.mean() - augment.expected_masked_fraction(16, count)) < 4 * stderr


def test_clipping_makes_one_square_hide_less_than_a_quarter():
    masks = augment.cutout_masks(5_000, 32, 32, 16, rng=np.random.default_rng(1))
    fractions = augment.masked_fraction(masks)
    assert fractions.max() == 0.25 and fractions.min() == 64 / 1024
    assert fractions.mean() < 0.2


def test_centres_are_uniform_over_all_pixels():
    # With s = 1 the masked pixel is the centre itself.
    n = 102_400
    masks = augment.cutout_masks(n, 32, 32, size=1, rng=np.random.default_rng(2))
    assert (augment.masked_pixels(masks) == 1).all()
    counts = masks.sum(axis=0)
    assert (counts > 0).all(), "every pixel, borders and corners included, can be a centre"
    expected = n / 1024
    chi2 = ((counts - expected) ** 2 / expected).sum()
    assert chi2 < 1023 + 5 * np.sqrt(2 * 1023)  # 1023 degrees of freedom, 5 sigma
    rows = counts.sum(axis=1)
    assert rows[:8].sum() == pytest.approx(n / 4, rel=0.03)


def test_corner_pixels_are_covered_three_times_less_often_than_the_centre():
    # Pixel 0 is reached from centre rows 0..8 (9 of 32), pixel 16 from rows 9..24 (16 of 32).
    masks = augment.cutout_masks(40_000, 32, 32, 16, rng=np.random.default_rng(3))
    coverage = masks.mean(axis=0)
    assert coverage[0, 0] == pytest.approx((9 / 32) ** 2, abs=0.01)
    assert coverage[16, 16] == pytest.approx((16 / 32) ** 2, abs=0.015)


def test_centre_at_corner_masks_8x8_for_s16():
    mask = augment.square_masks([0], [0], 16, 32, 32)[0]
    assert mask.sum() == 64
    assert mask[:8, :8].all()


def test_centre_at_far_corner_masks_9x9_for_s16():
    # Rows 31-8 = 23 … 31: the square spans c - s/2 … c + s/2 - 1, as in DeVries & Taylor's code.
    mask = augment.square_masks([31], [31], 16, 32, 32)[0]
    assert mask.sum() == 81
    assert mask[23:, 23:].all()


def test_centre_in_the_middle_masks_a_full_square():
    mask = augment.square_masks([16], [10], 16, 32, 32)[0]
    assert mask.sum() == 256
    assert mask[8:24, 2:18].all()


def test_several_squares_mask_their_union():
    masks = augment.square_masks(np.array([[0, 31]]), np.array([[0, 31]]), 16, 32, 32)
    assert masks[0].sum() == 64 + 81


# ---------------------------------------------------------------- cutout pixels

def test_cutout_really_sets_the_square_to_the_fill():
    # The seed notebook's apply_mask computed the square and returned the image unchanged.
    images = np.full((50, 32, 32, 3), 200, dtype=np.uint8)
    masks = augment.cutout_masks(50, 32, 32, 16, rng=np.random.default_rng(4))
    out = augment.apply_masks(images, masks, fill=0)
    assert (out[masks] == 0).all()
    assert (out[~masks] == 200).all()
    assert (out == 0).any()


def test_cutout_fills_normalised_images_with_zero_the_data_set_mean():
    images = np.random.default_rng(5).normal(size=(20, 32, 32, 3)).astype(np.float32)
    out = augment.cutout(images, 16, rng=np.random.default_rng(6))
    zeroed = (out == 0).all(axis=-1)
    assert zeroed.sum(axis=(1, 2)).min() >= 64  # at least a clipped corner square per image
    assert out.dtype == np.float32


def test_cutout_with_a_mean_colour_on_uint8_images():
    images = np.zeros((10, 32, 32, 3), dtype=np.uint8)
    mean = np.array([125.3, 122.9, 113.6], dtype=np.float32)
    masks = augment.cutout_masks(10, 32, 32, 16, rng=np.random.default_rng(7))
    out = augment.apply_masks(images, masks, fill=mean)
    assert (out[masks] == [125, 123, 114]).all()


def test_cutout_leaves_its_input_alone():
    images = np.ones((4, 32, 32, 3), dtype=np.float32)
    augment.cutout(images, 16, rng=np.random.default_rng(8))
    assert (images == 1).all()


def test_mask_size_zero_masks_nothing():
    masks = augment.cutout_masks(10, 32, 32, size=0, rng=np.random.default_rng(9))
    assert not masks.any()


def test_augmentation_requires_an_explicit_generator():
    with pytest.raises(TypeError):
        augment.cutout(np.zeros((1, 32, 32, 3)), 16, rng=None)


def test_same_seed_same_masks_different_seed_different_masks():
    def draw(seed):
        return augment.cutout_masks(8, 32, 32, 16, rng=np.random.default_rng(seed))

    assert (draw(10) == draw(10)).all()
    assert (draw(10) != draw(11)).any()


# ---------------------------------------------------------------- pad, crop, flip

def shifted(image, dy, dx, pad):
    """Reference: pad with zeros, take the 32×32 window at (dy, dx)."""
    padded = np.pad(image, [(pad, pad), (pad, pad), (0, 0)])
    return padded[dy:dy + image.shape[0], dx:dx + image.shape[1]]


def test_pad_crop_flip_keeps_shape_and_is_a_shift_or_a_flipped_shift():
    rng = np.random.default_rng(12)
    # Distinct positive pixel values, so a match identifies the shift.
    images = (np.arange(40 * 32 * 32 * 3).reshape(40, 32, 32, 3) % 9973 + 1).astype(np.float32)
    out = augment.pad_crop_flip(images, 4, rng=rng)
    assert out.shape == images.shape and out.dtype == images.dtype
    seen = set()
    for image, crop in zip(images, out):
        matches = [(dy, dx, flip) for dy in range(9) for dx in range(9) for flip in (False, True)
                   if np.array_equal(crop, shifted(image[:, ::-1] if flip else image, dy, dx, 4))]
        assert len(matches) == 1
        seen.add(matches[0])
    assert len({flip for _, _, flip in seen}) == 2


def test_pad_crop_flip_draws_all_81_offsets_and_flips_half():
    rng = np.random.default_rng(13)
    # An image with a single bright pixel at (10, 10): where it lands tells the offset.
    images = np.zeros((4000, 32, 32, 1), dtype=np.float32)
    images[:, 10, 10] = 1
    out = augment.pad_crop_flip(images, 4, rng=rng)[..., 0]
    where = np.array([np.unravel_index(o.argmax(), o.shape) for o in out])
    assert set(where[:, 0]) == set(range(6, 15))  # row 10 + 4 - dy for dy in 0..8
    flipped = where[:, 1] > 16  # column 14 - dx, or 25 - dx when mirrored
    assert flipped.mean() == pytest.approx(0.5, abs=0.03)
    assert len(set(map(tuple, where))) == 2 * 81


def test_pad_zero_without_flip_is_the_identity():
    images = np.random.default_rng(14).integers(0, 256, (5, 32, 32, 3), dtype=np.uint8)
    assert np.array_equal(augment.pad_crop_flip(images, 0, rng=np.random.default_rng(0), flip=False), images)


def test_pad_crop_flip_works_on_grayscale_images():
    images = np.ones((3, 28, 28), dtype=np.float32)
    assert augment.pad_crop_flip(images, 4, rng=np.random.default_rng(0)).shape == (3, 28, 28)


# ---------------------------------------------------------------- batch augmentation

def test_M_copies_share_the_label_and_differ_in_their_masks():
    x = np.ones((8, 32, 32, 3), dtype=np.float32)
    y = np.arange(8) * 3
    out, labels, masks = augment.batch_augment(x, y, 16, rng=np.random.default_rng(15), pad=0,
                                               return_masks=True)
    assert out.shape == (128, 32, 32, 3) and labels.shape == (128,)
    assert (labels.reshape(8, 16) == y[:, None]).all()
    # The masks really are in the images (no padding here, so only masks are zero).
    assert np.array_equal((out == 0).all(axis=-1), masks)
    for copies in masks.reshape(8, 16, 32 * 32):
        distinct = {c.tobytes() for c in copies}
        assert len(distinct) >= 14  # two equal centres out of 16 happen; most differ


def test_batch_augment_copy_m_of_sample_i_sits_at_row_i_M_plus_m():
    x = np.arange(5, dtype=np.float32)[:, None, None, None] * np.ones((5, 32, 32, 3), np.float32) + 1
    out, labels = augment.batch_augment(x, np.arange(5), 4, rng=np.random.default_rng(16), cutout_size=0)
    # Each copy is a (possibly flipped) crop of its own sample: its non-padding pixels equal i + 1.
    for row in range(20):
        values = set(np.unique(out[row])) - {0.0}
        assert values == {row // 4 + 1}
        assert labels[row] == row // 4


def test_batch_augment_with_M_1_and_no_cutout_is_plain_augmentation():
    x = np.random.default_rng(17).random((6, 32, 32, 3)).astype(np.float32)
    out, _ = augment.batch_augment(x, np.zeros(6), 1, rng=np.random.default_rng(0), cutout_size=0,
                                   pad=0, flip=False)
    assert np.array_equal(out, x)


# ---------------------------------------------------------------- the per-epoch pipeline

def small_set(n=200):
    rng = np.random.default_rng(18)
    return rng.integers(0, 256, (n, 32, 32, 3), dtype=np.uint8), np.arange(n)


def test_epoch_batches_are_reproduced_from_seed_and_epoch():
    x, y = small_set()
    first = list(augment.Pipeline(x, y, 32, M=2, seed=7).epoch(3))
    # A fresh pipeline (a resumed run) that skips epochs 0-2 sees the same epoch 3.
    again = list(augment.epoch_batches(x, y, 32, 2, 7, 3))
    assert len(first) == len(again) == 7
    for (xa, ya), (xb, yb) in zip(first, again):
        assert np.array_equal(xa, xb) and np.array_equal(ya, yb)


def test_batches_can_be_fetched_in_any_order():
    x, y = small_set()
    pipeline = augment.Pipeline(x, y, 32, M=2, seed=7)
    in_order = list(pipeline.epoch(1))
    pipeline.batch(5, 0)  # another epoch in between
    for index in reversed(range(len(pipeline))):
        xb, yb = pipeline.batch(1, index)
        assert np.array_equal(xb, in_order[index][0]) and np.array_equal(yb, in_order[index][1])


def test_different_epochs_and_seeds_give_different_batches():
    x, y = small_set()
    a = augment.Pipeline(x, y, 32, seed=7)
    assert not np.array_equal(a.permutation(0), a.permutation(1))
    assert not np.array_equal(a.permutation(0), augment.Pipeline(x, y, 32, seed=8).permutation(0))
    # Same order (shuffle off) but different epochs: the augmentation differs too.
    b = augment.Pipeline(x, y, 32, seed=7, shuffle=False)
    assert not np.array_equal(b.batch(0, 0)[0], b.batch(1, 0)[0])


def test_each_sample_appears_M_times_per_epoch():
    x, y = small_set(203)
    pipeline = augment.Pipeline(x, y, 32, M=3, seed=1)
    labels = np.concatenate([yb for _, yb in pipeline.epoch(0)])
    assert np.array_equal(np.bincount(labels), np.full(203, 3))
    assert len(pipeline) == 7  # 6 full batches and one of 11 samples


def test_pipeline_normalises_each_batch_like_prepare():
    x, y = small_set()
    mean = augment.pixel_mean(x)
    assert np.allclose(mean, (x.astype(np.float32) / 255).mean(axis=0), atol=1e-6)
    pipeline = augment.Pipeline(x, y, 50, seed=0, mean=mean, pad=0, flip=False, cutout_size=0, shuffle=False)
    xb, yb = pipeline.batch(0, 1)
    assert xb.dtype == np.float32
    assert np.allclose(xb, x[50:100] / 255 - mean, atol=1e-6)
    assert np.array_equal(yb, y[50:100])


def test_memory_does_not_grow_with_training_set_size_times_M():
    n, M, batch = 50_000, 16, 64
    x = np.random.default_rng(19).integers(0, 256, (n, 32, 32, 3), dtype=np.uint8)
    y = np.arange(n) % 10
    pipeline = augment.Pipeline(x, y, batch, M=M, seed=0)
    tracemalloc.start()
    try:
        images = 0
        for xb, _ in pipeline.epoch(0):
            images += len(xb)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert images == n * M
    whole_set_copies = M * n * 32 * 32 * 3  # 2.46 GB as uint8: what the seed notebook built
    one_batch = M * batch * 32 * 32 * 3  # 3.1 MB
    assert peak < 8 * one_batch
    assert peak < whole_set_copies / 50


def test_normalised_batches_take_memory_per_batch_only():
    n, M, batch = 20_000, 16, 64
    x = np.random.default_rng(20).integers(0, 256, (n, 32, 32, 3), dtype=np.uint8)
    pipeline = augment.Pipeline(x, np.zeros(n), batch, M=M, seed=0, mean=augment.pixel_mean(x))
    tracemalloc.start()
    try:
        for index in range(0, len(pipeline), 25):
            pipeline.batch(0, index)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 6 * M * batch * 32 * 32 * 3 * 4  # a few float32 batches, not 3.9 GB


def test_importing_augment_does_not_import_keras():
    code = ("import sys, dlcore.core.augment; "
            "bad = [m for m in ('keras', 'tensorflow', 'jax', 'streamlit') if m in sys.modules]; "
            "assert not bad, bad")
    subprocess.run([sys.executable, "-c", code], check=True)


# ---------------------------------------------------------------- picking images

def test_pick_by_class_takes_the_nth_of_each_class_in_a_sorted_set():
    y = np.repeat(np.arange(10), 5)  # sorted by class, like the shared CIFAR-10 test set
    assert list(augment.pick_by_class(y, [3, 0], nth=2)) == [17, 2]
    assert list(augment.pick_by_class(y, [9], nth=7)) == [47]  # wraps around


def test_pick_random_is_seeded_and_distinct():
    a = augment.pick_random(10_000, 8, rng=np.random.default_rng(3))
    assert len(set(a)) == 8
    assert np.array_equal(a, augment.pick_random(10_000, 8, rng=np.random.default_rng(3)))


def test_mean_colour_is_the_per_channel_mean():
    x = np.random.default_rng(21).integers(0, 256, (100, 32, 32, 3), dtype=np.uint8)
    assert np.allclose(augment.mean_colour(x), x.reshape(-1, 3).mean(axis=0), rtol=1e-6)
    assert augment.mean_colour(x).shape == (3,)
