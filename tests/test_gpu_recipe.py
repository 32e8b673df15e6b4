"""The GPU recipe, checked on the CPU: lossless packing, checksums, and a JAX run through the CLI."""
import importlib.util
import json
import os
import pathlib
import subprocess
import sys
import time

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

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


def fake_cifar(folder, n=200, seed=3):
    """A cifar-10-batches-py folder of n images per batch (a multiple of PIECES · TILES, for the mosaics)."""
    import pickle

    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True)
    parts = {}
    for part in recipe.CIFAR_PARTS:
        x = rng.integers(0, 256, size=(n, 32, 32, 3), dtype=np.uint8)
        y = rng.integers(0, 10, size=n)
        parts[part] = (x, y)
        with open(folder / part, "wb") as f:
            pickle.dump({b"data": x.transpose(0, 3, 1, 2).reshape(n, 3072), b"labels": [int(v) for v in y]}, f)
    return parts


def test_packed_chunks_fit_beside_the_tree_and_unpack_to_the_same_arrays(tmp_path, monkeypatch):
    # Mosaic rows of 10 tiles (the layout itself: test_mosaic_round_trip_is_lossless): lossless WebP
    # of a 100-tile row of noise takes seconds, and the 12 pieces made this test one of the slowest.
    monkeypatch.setattr(recipe, "TILES", 10)
    parts = fake_cifar(tmp_path / "src" / "cifar-10-batches-py", n=20)
    monkeypatch.setenv("DLCORE_DATASETS", str(tmp_path / "src"))
    capacity = 64 * 1024 + 80_000  # small, so that the pieces (~31 kB each) spread over several chunks
    chunks = recipe.pack(tmp_path / "device", ["cifar10"], capacity, codec="webp", wheels=tmp_path / "no_wheels")
    assert len(chunks) > 1
    for chunk in chunks:
        assert sum(p.stat().st_size for p in chunk.rglob("*") if p.is_file()) <= capacity
    for chunk in chunks:
        recipe.unpack(chunk, tmp_path / "cache")
    monkeypatch.setenv("DLCORE_DATASETS", str(tmp_path / "cache" / "datasets"))
    from dlcore.engine import data

    data.load_cifar10.cache_clear()
    try:
        (xt, yt), (xs, ys) = data.load_cifar10()
    finally:
        data.load_cifar10.cache_clear()
    assert np.array_equal(xt, np.concatenate([parts[f"data_batch_{i}"][0] for i in range(1, 6)]))
    assert np.array_equal(ys, parts["test_batch"][1])


def test_a_damaged_chunk_is_refused(tmp_path, monkeypatch):
    fake_cifar(tmp_path / "src" / "cifar-10-batches-py")
    monkeypatch.setenv("DLCORE_DATASETS", str(tmp_path / "src"))
    (chunk,) = recipe.pack(tmp_path / "device", ["cifar10"], 10_000_000, codec="png", wheels=tmp_path / "none")
    labels = chunk / "data_batch_1_labels.npy"
    y = np.load(labels)
    y[0] = (y[0] + 1) % 10  # one wrong label
    np.save(labels, y)
    with pytest.raises(SystemExit, match="checksum mismatch"):
        recipe.unpack(chunk, tmp_path / "cache")


@given(st.dictionaries(st.text("abcdef", min_size=1, max_size=4), st.integers(1, 100), max_size=30),
       st.integers(100, 300))
def test_chunk_plan_places_every_item_within_the_capacity(items, capacity):
    chunks = recipe.chunk_plan(items, capacity)
    assert sorted(n for c in chunks for n in c) == sorted(items)
    assert all(sum(items[n] for n in c) <= capacity for c in chunks)


def test_the_plan_leaves_room_for_the_tree_in_every_call():
    tree = 34 * recipe.MIB  # the tree with five ResNet-44 checkpoints
    items = recipe.estimated_item_bytes(["cifar10", "fashion_mnist"])
    chunks = recipe.chunk_plan(items, recipe.CALL_LIMIT - tree - recipe.MARGIN)
    assert all(tree + sum(items[n] for n in c) <= recipe.CALL_LIMIT for c in chunks)
    assert recipe.train_seconds(15 * 60, tree, 4 * recipe.MIB) <= recipe.COMMAND_LIMIT_S - recipe.BRING_BACK_S


def run_folder(root, name, state, files):
    folder = root / name
    folder.mkdir(parents=True)
    (folder / "status.json").write_text(json.dumps({"state": state}))
    for file, size in files.items():
        (folder / file).write_bytes(os.urandom(size))
    return folder


def test_bring_back_and_receive_replace_each_run_folder(tmp_path):
    there, here, out = tmp_path / "there", tmp_path / "here", tmp_path / "out"
    since = time.time() - 1
    run_folder(there, "resnet/M1__full", "cancelled", {"checkpoint-e0012.npz": 3_000_000, "metrics.jsonl": 100,
                                                      "worker.log": 10, "cancel": 0})
    run_folder(there, "clr/exp_range__full", "finished", {"metrics.jsonl": 100})
    old = run_folder(there, "mlp_l2/adam__full", "finished", {"metrics.jsonl": 10})
    os.utime(old / "status.json", (since - 100, since - 100))  # not trained in this call
    tars = recipe.bring_back(there, out, since)
    assert tars and all(t.stat().st_size <= recipe.BACK_FILE_LIMIT for t in tars)
    # Here, the finished run still has the checkpoint it travelled with.
    run_folder(here, "clr/exp_range__full", "cancelled", {"checkpoint-e0003.npz": 10})
    recipe.receive(out, here)
    assert sorted(p.name for p in (here / "resnet/M1__full").iterdir()) == ["checkpoint-e0012.npz",
                                                                            "metrics.jsonl", "status.json"]
    assert sorted(p.name for p in (here / "clr/exp_range__full").iterdir()) == ["metrics.jsonl", "status.json"]
    assert not (here / "mlp_l2").exists()


def test_the_revision_is_refused_for_a_dirty_tree(monkeypatch):
    monkeypatch.setattr(recipe, "git", lambda *args: " M dlcore/engine/cli.py\n" if args[0] == "status" else "abc\n")
    with pytest.raises(SystemExit, match="not committed"):
        recipe.clean_revision()
    monkeypatch.setattr(recipe, "git", lambda *args: "" if args[0] == "status" else "abc123\n")
    assert recipe.clean_revision() == "abc123"


def test_training_there_needs_the_carried_commit(tmp_path):
    env = {k: v for k, v in os.environ.items() if k != "DLCORE_CODE_REVISION"}
    proc = subprocess.run(["bash", "scripts/gpu_session.sh", "train", "10"], cwd=ROOT, capture_output=True,
                          text=True, env=dict(env, OUT=str(tmp_path)), timeout=60)
    assert proc.returncode == 2 and "DLCORE_CODE_REVISION" in proc.stderr


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
    assert not list(run_dir.glob("checkpoint*")), "a finished run keeps no checkpoint"
    assert [a["backend"] for a in provenance["attempt_log"]] == ["jax"]
