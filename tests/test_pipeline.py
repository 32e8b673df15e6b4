"""The input pipeline on the device has the NumPy reference's semantics, and resumes exactly.

dlcore.keras_parts.device_augment makes the batches inside the compiled step from
the uint8 training set and the host's draws; dlcore.core.augment is the
reference (the gallery's). Checked here: the device's images are the
reference's for the same (seed, epoch, batch); crop offsets in [−4, 4]; flip
rate ½; the 16×16 cutout masks 19.1 % of a 32×32 image (the borders clip it);
M distinct copies per sample with the labels repeated; the training set never
enters a checkpoint; a run cut after epoch 1 and resumed equals an
uninterrupted one, on TensorFlow and on JAX.
"""
import json
import os
import pathlib
import subprocess
import sys

import keras
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dlcore.core import augment
from dlcore.engine import (
    checkpoints,
    data,
    experiments,
    jobs,
    model_setup,
    pipeline,
    runs,
    worker,
)
from dlcore.keras_parts import device_augment

ROOT = pathlib.Path(__file__).resolve().parents[1]
H = W = 32


def resnet_spec(M: int, **changes) -> experiments.Spec:
    spec = experiments.resnet_runs("smoke", Ms=(M,))[0]
    return spec.replace(**changes) if changes else spec


def device_images(spec, store: np.ndarray, take, seed=0, epoch=0, batch=0, mean=None, divisor=1.0):
    """(images, labels, draws) of one device step over samples `take` of `store`."""
    y = np.arange(len(store)) % 10
    inputs, labels = pipeline.step_inputs(spec, y, np.asarray(take), store.shape[1:],
                                          pipeline.batch_rng(seed, epoch, batch))
    images = device_augment.augment(keras.ops.convert_to_tensor(store), keras.ops.convert_to_tensor(
        np.zeros(store.shape[1:], np.float32) if mean is None else mean), inputs["source"], inputs["draws"],
        divisor=divisor, **pipeline.augmentation(spec))
    return keras.ops.convert_to_numpy(images), labels, inputs


def position_coded(n: int) -> np.ndarray:
    """float32 images (n, 32, 32, 1) whose pixel (r, c) of sample s holds 1 + s·1024 + r·32 + c: never 0."""
    s, r, c = np.meshgrid(np.arange(n), np.arange(H), np.arange(W), indexing="ij")
    return (1 + s * 1024 + r * 32 + c).astype(np.float32)[..., None]


def decode_positions(image: np.ndarray):
    """(sample, dy, dx, flipped) of a crop of a position-coded image, from its non-zero pixels."""
    v = image[..., 0].astype(np.int64) - 1
    i, j = np.nonzero(v >= 0)
    code = v[i, j]
    sample, r, c = code // 1024, code % 1024 // 32, code % 32
    assert len(set(sample)) == 1 and len(set(r - i)) == 1, "one sample, one row offset per image"
    flipped = len(set(c + j)) == 1
    assert flipped or len(set(c - j)) == 1, "columns are a shifted or a mirrored copy"
    # Crop at (dy, dx) of the padded image: r = i + dy − 4; unflipped c = j + dx − 4, flipped
    # (the mirror of the padded row) c = W + 3 − dx − j. Offsets are dy − 4 and dx − 4.
    dx = W - 1 - (c + j)[0] if flipped else (c - j)[0]
    return int(sample[0]), int((r - i)[0]), int(dx), flipped


@pytest.fixture(scope="module")
def smoke_arrays():
    return data.prepare("synthetic_cifar10", "per_pixel_mean")


def host_and_device_batch(spec, arrays, epoch, index):
    store = pipeline.device_store(spec, arrays)
    host = pipeline.make_host_batches(spec, arrays["x_train"], arrays["y_train"])
    dev = pipeline.make_batches(spec, arrays["x_train"], arrays["y_train"])
    host.set_epoch(epoch)
    dev.set_epoch(epoch)
    inputs, labels = dev[index]
    images = device_augment.augment(keras.ops.convert_to_tensor(store["images"]),
                                    keras.ops.convert_to_tensor(store["mean"]), inputs["source"],
                                    inputs["draws"], divisor=store["divisor"], **pipeline.augmentation(spec))
    return host[index], (keras.ops.convert_to_numpy(images), labels)


@settings(max_examples=8, deadline=None)
@given(M=st.sampled_from([1, 2, 4, 16]), epoch=st.integers(0, 50), index=st.integers(0, 15))
def test_device_batches_are_the_numpy_references(smoke_arrays, M, epoch, index):
    spec = resnet_spec(M)
    (x_ref, y_ref), (x_dev, y_dev) = host_and_device_batch(spec, smoke_arrays, epoch, index)
    assert x_dev.shape == x_ref.shape == (16 * M, H, W, 3) and x_dev.dtype == np.float32
    np.testing.assert_allclose(x_dev, x_ref, rtol=0, atol=1e-6)  # XLA may divide by 255 as × 1/255
    assert np.array_equal(y_dev, y_ref)


def test_unaugmented_runs_get_the_prepared_images(smoke_arrays):
    spec = experiments.mlp_runs("smoke", "l2")[0]
    arrays = data.prepare(spec.dataset, spec.preprocessing)
    (x_ref, y_ref), (x_dev, y_dev) = host_and_device_batch(spec, arrays, 2, 1)
    assert spec.preprocessing == "scale" and pipeline.device_store(spec, arrays)["images"].dtype == np.uint8
    np.testing.assert_allclose(x_dev, x_ref, rtol=0, atol=1e-6)
    assert np.array_equal(y_dev, y_ref)


def test_the_training_set_goes_up_as_uint8_and_decodes_to_the_prepared_floats(smoke_arrays):
    store = pipeline.device_store(resnet_spec(1), smoke_arrays)
    assert store["images"].dtype == np.uint8 and store["images"].shape == smoke_arrays["x_train"].shape
    decoded = store["images"].astype(np.float32) / store["divisor"] - store["mean"]
    assert np.array_equal(decoded, smoke_arrays["x_train"])


def test_crop_offsets_lie_in_minus4_to_4_and_half_the_images_are_flipped():
    store = position_coded(64)
    take = np.tile(np.arange(64), 32)  # 2048 images
    images, _, _ = device_images(resnet_spec(1), store, take, seed=3)
    found = [decode_positions(im) for im in images]
    assert [s for s, *_ in found] == list(take), "each image is a crop of its own sample"
    offsets = {(dy, dx) for _, dy, dx, _ in found}
    assert offsets == {(dy, dx) for dy in range(-4, 5) for dx in range(-4, 5)}, "all 81 offsets, none beyond ±4"
    flip_rate = np.mean([f for *_, f in found])
    assert abs(flip_rate - 0.5) < 0.05, flip_rate  # 2048 flips: σ ≈ 0.011


def test_cutout_16_masks_19_1_percent_of_a_32x32_image():
    ones = np.ones((1, H, W, 1), np.float32)
    rng = np.random.default_rng(7)
    n = 4096
    # Without padding every zero is cutout's: the reference's clipped square, 196 of 1024 pixels on average.
    draws = np.stack([np.zeros(n), np.zeros(n), rng.random(n) < 0.5, rng.integers(0, H, n),
                      rng.integers(0, W, n)], axis=1).astype(np.int32)
    out = keras.ops.convert_to_numpy(device_augment.augment(
        ones, np.zeros((H, W, 1), np.float32), np.zeros(n, np.int32), draws, divisor=1.0, pad=0, cutout=16))
    masked = (out[..., 0] == 0).reshape(n, -1).mean(axis=1)
    expected = augment.expected_masked_fraction(16)
    assert round(expected, 3) == 0.191
    assert abs(masked.mean() - expected) < 0.005, masked.mean()
    assert masked.min() >= 64 / 1024 and masked.max() <= 256 / 1024, "a square clipped to ≥ 8×8, at most 16×16"
    # The same masks as the reference draws for the same centres.
    reference = augment.square_masks(draws[:, 3], draws[:, 4], 16, H, W)
    assert np.array_equal(out[..., 0] == 0, reference)


def test_batch_augmentation_gives_m_distinct_copies_per_sample_with_labels_repeated():
    M = 16
    store = position_coded(32)
    take = np.arange(0, 32, 2)  # 16 samples
    images, labels, inputs = device_images(resnet_spec(M), store, take, seed=1, epoch=4, batch=9)
    assert images.shape == (16 * M, H, W, 1)
    y = np.arange(32) % 10
    assert np.array_equal(labels, np.repeat(y[take], M))
    assert np.array_equal(inputs["source"], np.repeat(take, M))
    for k, sample in enumerate(take):
        copies = images[k * M:(k + 1) * M]
        codes = copies[..., 0][copies[..., 0] > 0].astype(np.int64) - 1
        assert set(codes // 1024) == {sample}, "copy m of sample i sits at row i·M + m"
        assert len({c.tobytes() for c in copies}) == M, "M different crops, flips and squares"
        assert all((c[..., 0] == 0).sum() >= 64 for c in copies), "every copy has a cutout square"


def test_the_trainer_shares_the_networks_weights_and_checkpoints_leave_the_data_out(tmp_path, smoke_arrays):
    spec = resnet_spec(2)
    net = model_setup.build_model(spec, smoke_arrays["x_train"].shape[1:], 16)
    store = pipeline.device_store(spec, smoke_arrays)
    trainer = pipeline.trainer(spec, net, store)
    assert trainer.net is net and trainer.optimizer is net.optimizer
    assert [id(v) for v in trainer.trainable_variables] == [id(v) for v in net.trainable_variables]
    batches = pipeline.make_batches(spec, smoke_arrays["x_train"], smoke_arrays["y_train"])
    inputs, labels = batches[0]
    trainer.train_on_batch(inputs, labels)
    checkpoints.save_checkpoint(net, tmp_path, 1)
    _, path = checkpoints.latest_checkpoint(tmp_path)
    _, state = checkpoints.read(path)  # (the checkpoint format is dlcore.engine.checkpoints')
    shapes = {tuple(a.shape) for a in [*state.model, *state.slots]}
    assert store["images"].shape not in shapes and store["mean"].shape not in shapes
    loaded = checkpoints.load_into(model_setup.build_model(spec, smoke_arrays["x_train"].shape[1:], 16), path)
    assert state.iterations == int(keras.ops.convert_to_numpy(loaded.optimizer.iterations)) == 1
    np.testing.assert_allclose(loaded.predict(smoke_arrays["x_test"][:4], verbose=0),
                               net.predict(smoke_arrays["x_test"][:4], verbose=0), rtol=1e-5, atol=1e-6)


@pytest.mark.slow
def test_several_steps_per_call_still_write_a_line_per_log_every_with_the_schedules_rate(runs_dir):
    # 256 samples / 32 = 8 batches an epoch, 3 steps per compiled call: Keras reports batches 3, 6, 8.
    spec = experiments.Spec.from_dict(dict(
        experiment="mlp_l2", name="adam", dataset="synthetic_cifar10",
        model={"name": "mlp", "regularizer": "l2", "l2": 5e-4, "hidden": 32},
        optimizer={"name": "adam", "learning_rate": 1e-3},
        schedule={"name": "step_decay", "boundaries": [4], "factor": 0.1},
        epochs=2, batch_size=32, log_every=2, steps_per_execution=3))
    run_dir = jobs.create(spec)
    assert worker.run(run_dir) == "finished"
    b = runs.read_run(run_dir, "live").batches()
    assert list(b["batch"]) == [3, 6, 8, 3, 6, 8] and list(b["step"]) == [3, 6, 8, 11, 14, 16]
    # The rate of the next update, on the host: 1e-3 up to update 4, then 1e-4 (PiecewiseConstantDecay).
    np.testing.assert_allclose(b["lr"], [1e-3, 1e-4, 1e-4, 1e-4, 1e-4, 1e-4], rtol=1e-6)
    assert runs.read_json(run_dir / "provenance.json")["steps_per_execution"] == 3


# ---------------------------------------------------------------- exact resume, both backends

def resume_comparison(root) -> dict:
    """Train a smoke ResNet (M = 2) for 2 epochs uninterrupted, and again cut after epoch 1 and resumed.

    80 of the 256 synthetic images (5 batches of 16 an epoch, none short, which would compile a step
    of its own), and the learning rate ÷10 at the cut (after update 5) and again mid-epoch 2, as the
    smoke preset's boundaries [16, 24] fall for its 16 batches an epoch.
    Returns the two runs' epoch records and the cut run's state after the cut.
    (Also run in a subprocess with KERAS_BACKEND=jax.)
    """
    root = pathlib.Path(root)
    os.environ["DLCORE_RUNS_DIR"] = str(root)
    spec = resnet_spec(2, epochs=2, stop={}, log_every=4, subset=8, schedule={"boundaries": [5, 8]})
    assert spec.schedule == {"name": "step_decay", "boundaries": [5, 8], "factor": 0.1}
    reference = jobs.create(spec, root=root)
    worker.run(reference)

    cut = jobs.create(spec, root=root)
    original = checkpoints.save_checkpoint

    def save_then_cut(model, run_dir, epoch, *args, **kwargs):
        original(model, run_dir, epoch, *args, **kwargs)
        if epoch == 1:
            (pathlib.Path(run_dir) / "cancel").touch()  # as a lease ending right after the checkpoint

    checkpoints.save_checkpoint = save_then_cut
    try:
        first = worker.run(cut)
    finally:
        checkpoints.save_checkpoint = original
    epochs_after_cut = len(runs.read_run(cut, "live").epochs())
    (cut / "cancel").unlink()
    second = worker.run(cut)
    columns = ["epoch", "loss", "accuracy", "val_loss", "val_accuracy"]
    return {"states": [first, second], "epochs_after_cut": epochs_after_cut,
            "backend": keras.backend.backend(),
            "reference": runs.read_run(reference, "live").epochs()[columns].to_dict("list"),
            "resumed": runs.read_run(cut, "live").epochs()[columns].to_dict("list")}


def check_resume(result: dict) -> None:
    assert result["states"] == ["cancelled", "finished"] and result["epochs_after_cut"] == 1
    assert result["resumed"]["epoch"] == result["reference"]["epoch"] == [1, 2]
    for column in ("loss", "accuracy", "val_loss", "val_accuracy"):
        np.testing.assert_allclose(result["resumed"][column], result["reference"][column], rtol=1e-4, atol=1e-6,
                                   err_msg=f"{result['backend']}: {column}")


@pytest.mark.slow
def test_a_cut_run_resumes_exactly_on_tensorflow(tmp_path, runs_dir):
    if keras.backend.backend() != "tensorflow":
        pytest.skip("this process runs another backend")
    check_resume(resume_comparison(tmp_path / "tf"))


@pytest.mark.slow
def test_a_cut_run_resumes_exactly_on_jax(tmp_path):
    pytest.importorskip("jax")
    code = ("import json, sys; sys.path[:0] = [sys.argv[1], sys.argv[1] + '/tests']; import test_pipeline; "
            "print('RESULT ' + json.dumps(test_pipeline.resume_comparison(sys.argv[2])))")
    env = {**os.environ, "KERAS_BACKEND": "jax", "JAX_PLATFORMS": "cpu"}
    proc = subprocess.run([sys.executable, "-c", code, str(ROOT), str(tmp_path / "jax")], env=env,
                          capture_output=True, text=True, timeout=900)
    lines = [line for line in proc.stdout.splitlines() if line.startswith("RESULT ")]
    assert proc.returncode == 0 and lines, proc.stdout[-2000:] + proc.stderr[-4000:]
    result = json.loads(lines[-1].removeprefix("RESULT "))
    assert result["backend"] == "jax"
    check_resume(result)
