"""The GPU recipe, checked on the CPU: lossless packing, checksums, and a JAX run through the CLI."""
import importlib.util
import json
import os
import pathlib
import subprocess
import sys

import numpy as np
import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]
spec = importlib.util.spec_from_file_location("gpu_recipe", ROOT / "scripts" / "gpu_recipe.py")
recipe = importlib.util.module_from_spec(spec)
spec.loader.exec_module(recipe)


def test_mosaic_round_trip_is_lossless():
    images = np.random.default_rng(0).integers(0, 256, size=(10000, 32, 32, 3), dtype=np.uint8)
    mosaic = recipe.to_mosaic(images)
    assert mosaic.shape == (3200, 3200, 3)
    assert np.array_equal(mosaic[32:64, 0:32], images[recipe.TILES])  # second row, first tile
    assert np.array_equal(recipe.from_mosaic(mosaic), images)


def test_a_damaged_chunk_is_refused(tmp_path):
    from PIL import Image

    rng = np.random.default_rng(1)
    x = rng.integers(0, 256, size=(10000, 32, 32, 3), dtype=np.uint8)
    y = rng.integers(0, 10, size=10000).astype(np.uint8)
    chunk = tmp_path / "chunk1"
    chunk.mkdir()
    Image.fromarray(recipe.to_mosaic(x)).save(chunk / "data_batch_1.png", compress_level=1)
    np.save(chunk / "data_batch_1_labels.npy", y)
    manifest = {"cifar10": {"data_batch_1": {"chunk": "chunk1", "x_sha256": recipe.sha256(x),
                                             "y_sha256": recipe.sha256(y), "n": 10000}},
                "fashion_mnist": {}}
    (chunk / "manifest.json").write_text(json.dumps(manifest))
    recipe.unpack(chunk, tmp_path / "cache")
    assert np.array_equal(np.load(tmp_path / "cache" / "staging" / "data_batch_1_x.npy"), x)

    y[0] = (y[0] + 1) % 10  # one wrong label
    np.save(chunk / "data_batch_1_labels.npy", y)
    with pytest.raises(SystemExit, match="checksum mismatch"):
        recipe.unpack(chunk, tmp_path / "cache2")


def test_unpacked_batches_load_through_the_projects_loader(tmp_path, monkeypatch):
    rng = np.random.default_rng(2)
    staging = tmp_path / "staging"
    staging.mkdir()
    parts = {}
    for part in recipe.CIFAR_PARTS:
        parts[part] = (rng.integers(0, 256, size=(20, 32, 32, 3), dtype=np.uint8),
                       rng.integers(0, 10, size=20).astype(np.uint8))
        np.save(staging / f"{part}_x.npy", parts[part][0])
        np.save(staging / f"{part}_y.npy", parts[part][1])
    recipe.write_cifar_batches(staging, tmp_path / "datasets" / "cifar-10-batches-py")
    monkeypatch.setenv("DLCORE_DATASETS", str(tmp_path / "datasets"))
    from dlcore.engine import data

    data.load_cifar10.cache_clear()
    try:
        (xt, yt), (xs, ys) = data.load_cifar10()
    finally:
        data.load_cifar10.cache_clear()
    assert np.array_equal(xt, np.concatenate([parts[f"data_batch_{i}"][0] for i in range(1, 6)]))
    assert np.array_equal(xs, parts["test_batch"][0]) and np.array_equal(ys, parts["test_batch"][1])


@pytest.mark.slow
def test_the_cli_trains_with_the_jax_backend(tmp_path):
    pytest.importorskip("jax")
    env = dict(os.environ, KERAS_BACKEND="jax", DLCORE_PRECISION="float32", TF_CPP_MIN_LOG_LEVEL="3")
    out = tmp_path / "out"
    proc = subprocess.run([sys.executable, "-m", "dlcore.run", "mlp_l2", "--preset", "smoke", "--only", "adam",
                           "--out", str(out), "--steps-per-execution", "2"],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    run_dir = out / "mlp_l2" / "adam__smoke"
    status = json.loads((run_dir / "status.json").read_text())
    provenance = json.loads((run_dir / "provenance.json").read_text())
    assert status["state"] == "finished" and provenance["backend"] == "jax"
    assert provenance["images_per_s"] > 0 and provenance["steps_per_execution"] == 2
    assert not list(run_dir.glob("checkpoint*")), "the CLI ships no checkpoints"
