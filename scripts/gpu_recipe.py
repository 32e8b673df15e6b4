"""Full-length cached runs on a lent GPU machine (JAX, no TensorFlow, no network).

The machine takes at most 64 MiB of working tree per call and keeps /tmp while
it stays warm, so the recipe has three steps:

1. ``pack`` (here, once): the keras wheel and the pure-Python packages the
   machine lacks, and the data sets cut into chunks under the limit. CIFAR-10
   travels as lossless PNG mosaics (100×100 tiles of 32×32: 70% of the raw
   bytes; raw uint8 compresses only to 92% with zlib), with the SHA-256 of every
   decoded array in ``manifest.json``.
2. ``unpack`` (there, one call per chunk): decode a chunk into
   ``/tmp/dlcore_cache``, check every array against the manifest, and once all
   parts are there, write the official ``cifar-10-batches-py`` layout, so the
   project's ordinary loader reads it (``DLCORE_DATASETS``).
3. train (there): ``python -m dlcore.run EXPERIMENTS --preset full --out DIR``
   with ``KERAS_BACKEND=jax``; the result folders are tarred into ``$OUT`` and
   unpacked here into ``cached_runs/``.

    python scripts/gpu_recipe.py pack                      # here
    python scripts/gpu_recipe.py unpack .device/chunk1     # there, once per chunk
    python scripts/gpu_recipe.py check                     # there: all parts present and verified?

See README ("Full-length runs on a GPU machine") for the exact calls.
"""
from __future__ import annotations

import argparse
import gzip
import hashlib
import io
import json
import pathlib
import pickle
import shutil
import sys

import numpy as np

REPO = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

CACHE = pathlib.Path("/tmp/dlcore_cache")
CIFAR_PARTS = [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]
FASHION_FILES = ["train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz",
                 "t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"]
# Which chunk carries what: each stays under 64 MiB with the code beside it.
CHUNKS = {
    "chunk1": ["wheels", "data_batch_1", "data_batch_2"],
    "chunk2": ["data_batch_3", "data_batch_4"],
    "chunk3": ["data_batch_5", "test_batch"],
    "chunk4": ["fashion_mnist"],
}
TILES = 100  # 100×100 tiles of 32×32 = one batch of 10,000 images


def sha256(array: np.ndarray) -> str:
    return hashlib.sha256(np.ascontiguousarray(array).tobytes()).hexdigest()


def to_mosaic(images: np.ndarray) -> np.ndarray:
    n = len(images)
    assert n == TILES * TILES, n
    return images.reshape(TILES, TILES, 32, 32, 3).transpose(0, 2, 1, 3, 4).reshape(TILES * 32, TILES * 32, 3)


def from_mosaic(mosaic: np.ndarray) -> np.ndarray:
    return mosaic.reshape(TILES, 32, TILES, 32, 3).transpose(0, 2, 1, 3, 4).reshape(TILES * TILES, 32, 32, 3)


def pack(out: pathlib.Path) -> None:
    from PIL import Image

    from dlcore.engine import data

    folder = data._find("cifar-10-batches-py")
    if folder is None:
        raise SystemExit("no local CIFAR-10 (cifar-10-batches-py) to pack")
    manifest = {"cifar10": {}, "fashion_mnist": {}}
    for chunk, parts in CHUNKS.items():
        (out / chunk).mkdir(parents=True, exist_ok=True)
        for part in parts:
            if part in CIFAR_PARTS:
                x, y = data._read_cifar_batch(folder / part)
                Image.fromarray(to_mosaic(x)).save(out / chunk / f"{part}.png", compress_level=9)
                np.save(out / chunk / f"{part}_labels.npy", y.astype(np.uint8))
                manifest["cifar10"][part] = {"chunk": chunk, "x_sha256": sha256(x), "y_sha256": sha256(y.astype(np.uint8)),
                                             "n": int(len(x))}
                print(f"{chunk}/{part}: {(out / chunk / f'{part}.png').stat().st_size / 2**20:.1f} MiB", flush=True)
            elif part == "fashion_mnist":
                src = data._find("fashion-mnist")
                for name in FASHION_FILES:
                    shutil.copyfile(src / name, out / chunk / name)
                    manifest["fashion_mnist"][name] = {"chunk": chunk,
                                                       "sha256": hashlib.sha256((src / name).read_bytes()).hexdigest()}
    for chunk in CHUNKS:
        (out / chunk / "manifest.json").write_text(json.dumps(manifest, indent=1))
        size = sum(p.stat().st_size for p in (out / chunk).rglob("*") if p.is_file())
        print(f"{chunk}: {size / 2**20:.1f} MiB in all", flush=True)


def unpack(chunk_dir: pathlib.Path, cache: pathlib.Path) -> None:
    from PIL import Image

    manifest = json.loads((chunk_dir / "manifest.json").read_text())
    staging = cache / "staging"
    staging.mkdir(parents=True, exist_ok=True)
    for part, meta in manifest["cifar10"].items():
        png = chunk_dir / f"{part}.png"
        if not png.exists():
            continue
        x = from_mosaic(np.asarray(Image.open(png).convert("RGB")))
        y = np.load(chunk_dir / f"{part}_labels.npy")
        if sha256(x) != meta["x_sha256"] or sha256(y) != meta["y_sha256"]:
            raise SystemExit(f"{part}: checksum mismatch; the chunk is damaged")
        np.save(staging / f"{part}_x.npy", x)
        np.save(staging / f"{part}_y.npy", y)
        print(f"{part}: {len(x)} images, checksum ok", flush=True)
    for name, meta in manifest["fashion_mnist"].items():
        src = chunk_dir / name
        if src.exists():
            if hashlib.sha256(src.read_bytes()).hexdigest() != meta["sha256"]:
                raise SystemExit(f"{name}: checksum mismatch")
            (cache / "datasets" / "fashion-mnist").mkdir(parents=True, exist_ok=True)
            shutil.copyfile(src, cache / "datasets" / "fashion-mnist" / name)
            print(f"{name}: checksum ok", flush=True)
    if all((staging / f"{p}_x.npy").exists() for p in CIFAR_PARTS):
        write_cifar_batches(staging, cache / "datasets" / "cifar-10-batches-py")


def write_cifar_batches(staging: pathlib.Path, dest: pathlib.Path) -> None:
    """The official python-batch layout (what dlcore.engine.data and Keras read)."""
    dest.mkdir(parents=True, exist_ok=True)
    for part in CIFAR_PARTS:
        x = np.load(staging / f"{part}_x.npy")
        y = np.load(staging / f"{part}_y.npy")
        batch = {b"data": x.transpose(0, 3, 1, 2).reshape(len(x), 3072), b"labels": [int(v) for v in y]}
        with open(dest / part, "wb") as f:
            pickle.dump(batch, f, protocol=2)
    print(f"CIFAR-10 complete in {dest}", flush=True)


def check(cache: pathlib.Path) -> int:
    import os

    os.environ["DLCORE_DATASETS"] = str(cache / "datasets")
    from dlcore.engine import data

    ok = True
    for name in ("cifar10", "fashion_mnist"):
        if data.is_available(name):
            (xt, yt), (xs, ys) = data.load(name)
            print(f"{name}: train {xt.shape} test {xs.shape}, train mean {xt.mean():.3f}")
        else:
            ok = False
            print(f"{name}: not complete")
    return 0 if ok else 1


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("pack")
    p.add_argument("--out", type=pathlib.Path, default=REPO / ".device")
    p = sub.add_parser("unpack")
    p.add_argument("chunk", type=pathlib.Path)
    p.add_argument("--cache", type=pathlib.Path, default=CACHE)
    p = sub.add_parser("check")
    p.add_argument("--cache", type=pathlib.Path, default=CACHE)
    args = ap.parse_args(argv)
    if args.cmd == "pack":
        pack(args.out)
    elif args.cmd == "unpack":
        unpack(args.chunk, args.cache)
    else:
        return check(args.cache)
    return 0


if __name__ == "__main__":
    sys.exit(main())
