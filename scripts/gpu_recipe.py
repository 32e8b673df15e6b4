"""Full-length cached runs on a lent GPU machine (JAX, no TensorFlow, no network).

Every call to the machine carries the whole tracked tree (code and ``cached_runs/``,
the checkpoints of unfinished full runs included) beside whatever it names in
``carry``, at most 64 MiB in all; the machine keeps /tmp only while it stays
warm (30 s after a call). So the recipe is:

1. here, ``plan``: refuses a dirty tree (the revision recorded there is the
   commit carried there), lists the unfinished full runs and the data sets they
   need, and prints the calls with their device-second estimate.
2. here, ``pack``: the wheels the machine lacks (keras, namex, optree) and the
   data sets those runs need, in chunks sized so that tree + chunk fit in one
   call. CIFAR-10 travels as lossless WebP mosaics (100×100 tiles of 32×32: 56 %
   of the raw bytes, PNG 70 %, zlib 92 %), Fashion-MNIST as its own .gz files;
   the SHA-256 of every decoded array or file is in ``manifest.json``.
3. there, one call per chunk (``gpu_session.sh unpack``); the last chunk's call
   also trains (``gpu_session.sh unpack-train``): ``python -m dlcore.run … --preset
   full --out cached_runs`` in place, so every unfinished run continues from the
   checkpoint that travelled with the tree, with a deadline that leaves time to
   save and bring back; ``bring-back`` puts the run folders that changed into
   tar files under $OUT (at most 8 files of 16 MiB come back).
4. here, ``receive``: each brought-back run folder replaces its folder in
   ``cached_runs/`` (so a run that finished there loses its checkpoint here too).

    python scripts/gpu_recipe.py plan                       # here
    python scripts/gpu_recipe.py pack                       # here
    python scripts/gpu_recipe.py unpack .device/chunk1      # there (through gpu_session.sh)
    python scripts/gpu_recipe.py receive /work/.device/…    # here, the folder the files came back to

See README ("Full-length runs on a GPU machine") for the exact calls.
"""
from __future__ import annotations

import argparse
import hashlib
import io
import json
import os
import pathlib
import pickle
import shutil
import subprocess
import sys
import tarfile

import numpy as np

REPO = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

CACHE = pathlib.Path("/tmp/dlcore_cache")
CIFAR_PARTS = [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]
FASHION_FILES = ["train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz",
                 "t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"]
WHEELS = ["keras", "namex", "optree"]     # what the machine's image lacks (KINDS.md lists the rest)
TILES = 100  # 100 tiles of 32×32 to a mosaic's row
PIECES = 2   # each CIFAR-10 batch travels as 2 mosaics of 5,000 images, so pieces pack tightly beside the tree

# --- The device tool's limits and the costs seen on 2026-11-27 (H100) --------------------------
MIB = 2 ** 20
CALL_LIMIT = 64 * MIB            # tree + carried files per call
MARGIN = 2 * MIB                 # files written here between plan and call (logs, manifests)
BACK_FILE_LIMIT = 15 * MIB       # one file back from $OUT (the tool allows 16 MiB, 8 files)
BACK_FILES = 6                   # run tars; gpu_util.csv and train.log are the other two
TRANSFER_S_PER_MIB = 5 / 42      # README: about 5 s of device time per 42 MiB chunk
TRAIN_START_S = 105              # docs/gpu_util_2026-11-27.csv: GPU under 50 % busy for the first 105 s
BRING_BACK_S = 45                # cancel, save the last finished epoch, tar, copy back (estimate)
COMMAND_LIMIT_S = 600            # one command on the machine
WARM_S = 30                      # the machine waits this long for the next call


def sha256(array: np.ndarray) -> str:
    return hashlib.sha256(np.ascontiguousarray(array).tobytes()).hexdigest()


def to_mosaic(images: np.ndarray) -> np.ndarray:
    """Images (a multiple of 100) as one picture, 100 tiles of 32×32 to a row."""
    rows, rest = divmod(len(images), TILES)
    assert rest == 0 and rows, len(images)
    return images.reshape(rows, TILES, 32, 32, 3).transpose(0, 2, 1, 3, 4).reshape(rows * 32, TILES * 32, 3)


def from_mosaic(mosaic: np.ndarray) -> np.ndarray:
    rows = mosaic.shape[0] // 32
    return mosaic.reshape(rows, 32, TILES, 32, 3).transpose(0, 2, 1, 3, 4).reshape(rows * TILES, 32, 32, 3)


def encode_mosaic(images: np.ndarray, codec: str = "webp") -> bytes:
    """Lossless bytes of a 10,000-image batch: WebP (56 % of raw on CIFAR-10) or PNG (70 %)."""
    from PIL import Image

    out = io.BytesIO()
    if codec == "webp":
        Image.fromarray(to_mosaic(images)).save(out, format="WEBP", lossless=True, quality=100, method=4)
    else:
        Image.fromarray(to_mosaic(images)).save(out, format="PNG", compress_level=9)
    return out.getvalue()


def decode_mosaic(path: pathlib.Path) -> np.ndarray:
    from PIL import Image

    return from_mosaic(np.asarray(Image.open(path).convert("RGB")))


# --- Here: what is left to train, and what it costs ----------------------------------------------
def git(*args) -> str:
    return subprocess.run(["git", *args], cwd=REPO, capture_output=True, text=True, check=True).stdout


def clean_revision() -> str:
    """The commit of the tree that would travel; SystemExit when the tree is not that commit."""
    dirty = git("status", "--porcelain").strip()
    if dirty:
        raise SystemExit("the working tree has changes that are not committed; the GPU machine would record "
                         "a revision that is not what ran there. Commit (or stash) first:\n" + dirty)
    return git("rev-parse", "HEAD").strip()


def tree_bytes() -> int:
    """Bytes of what every call carries: the tracked files (the tree is clean, so nothing else travels)."""
    return sum((REPO / f).stat().st_size for f in git("ls-files", "-z").split("\0") if f and (REPO / f).is_file())


def unfinished_full_runs(cached: pathlib.Path | None = None) -> list:
    """The catalogue's full runs that have not finished in cached_runs/ (cut short, or never run)."""
    from dlcore.engine import cli, runs

    out = pathlib.Path(cached or runs.cached_root())
    return [s for s in cli.plan(["all"], "full")
            if runs.read_json(cli.run_dir_for(out, s) / "status.json").get("state") != "finished"]


def datasets_needed(specs) -> list[str]:
    return sorted({s.dataset for s in specs})


def chunk_plan(items: dict, capacity: int) -> list[list[str]]:
    """Items (name → bytes) in as few chunks of `capacity` bytes as first-fit-decreasing finds."""
    chunks: list[tuple[int, list[str]]] = []
    for name, size in sorted(items.items(), key=lambda kv: -kv[1]):
        if size > capacity:
            raise SystemExit(f"{name} ({size / MIB:.1f} MiB) does not fit beside the tree ({capacity / MIB:.1f} MiB "
                             f"free per call): ship fewer checkpoints or split it")
        for i, (used, names) in enumerate(chunks):
            if used + size <= capacity:
                chunks[i] = (used + size, names + [name])
                break
        else:
            chunks.append((size, [name]))
    return [names for _, names in chunks]


def transfer_seconds(tree: int, chunks: list[int]) -> float:
    """Device seconds the calls' transfers cost at the 2026-11-27 rate, idle waits between calls included."""
    calls = max(1, len(chunks))
    moved = calls * tree + sum(chunks)
    return moved / MIB * TRANSFER_S_PER_MIB + (calls - 1) * WARM_S / 2


def train_seconds(budget_left_s: float, tree: int, last_chunk: int) -> int:
    """The deadline of the training call: what the budget and the command limit leave after the transfer
    in, the start-up and the bring-back."""
    transfer = (tree + last_chunk) / MIB * TRANSFER_S_PER_MIB
    return int(max(0, min(budget_left_s - transfer, COMMAND_LIMIT_S) - BRING_BACK_S - 15))


# --- Here: the chunks ------------------------------------------------------------------------------
def estimated_item_bytes(needed: list[str]) -> dict:
    """What each item will weigh packed (WebP ≈ 56 % of CIFAR-10's raw bytes), for the plan."""
    items = {"wheels": 3 * MIB}
    if "cifar10" in needed:
        items.update({f"{part}.{i}": int(0.56 * 10000 * 3072 / PIECES) for part in CIFAR_PARTS for i in range(PIECES)})
    if "fashion_mnist" in needed:  # its own .gz files, sizes as distributed
        items.update(dict(zip(FASHION_FILES, (26_421_880, 29_515, 4_422_102, 5_148))))
    return items


def pack(out: pathlib.Path, needed: list[str], capacity: int, codec: str = "webp",
         wheels: pathlib.Path | None = None) -> list[pathlib.Path]:
    """Encode the items, then place them in chunk folders of at most `capacity` bytes each."""
    from dlcore.engine import data

    staged = out / "staged"
    staged.mkdir(parents=True, exist_ok=True)
    manifest: dict = {"cifar10": {}, "fashion_mnist": {}, "wheels": {}}
    items: dict[str, list[pathlib.Path]] = {}
    wheel_dir = wheels or REPO / ".whl"
    found = sorted(p for p in wheel_dir.glob("*.whl") if any(p.name.lower().startswith(w) for w in WHEELS))
    if found:
        items["wheels"] = found
        manifest["wheels"] = {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in found}
    else:
        print(f"no wheels of {', '.join(WHEELS)} in {wheel_dir} (README: how to download them)", flush=True)
    if "cifar10" in needed:
        folder = data._find("cifar-10-batches-py")
        if folder is None:
            raise SystemExit("no local CIFAR-10 (cifar-10-batches-py) to pack")
        for part in CIFAR_PARTS:
            x, y = data._read_cifar_batch(folder / part)
            np.save(staged / f"{part}_labels.npy", y.astype(np.uint8))
            pieces = []
            for i, xs in enumerate(np.array_split(x, PIECES)):
                image = staged / f"{part}.{i}.{codec}"
                image.write_bytes(encode_mosaic(xs, codec))
                pieces.append({"file": image.name, "sha256": sha256(xs)})
                items[f"{part}.{i}"] = [image] + ([staged / f"{part}_labels.npy"] if i == 0 else [])
                print(f"{image.name}: {image.stat().st_size / MIB:.1f} MiB", flush=True)
            manifest["cifar10"][part] = {"pieces": pieces, "x_sha256": sha256(x),
                                         "y_sha256": sha256(y.astype(np.uint8)), "n": len(x)}
    if "fashion_mnist" in needed:
        src = data._find("fashion-mnist")
        if src is None:
            raise SystemExit("no local Fashion-MNIST to pack")
        items.update({name: [src / name] for name in FASHION_FILES})
        manifest["fashion_mnist"] = {name: {"sha256": hashlib.sha256((src / name).read_bytes()).hexdigest()}
                                     for name in FASHION_FILES}
    sizes = {name: sum(p.stat().st_size for p in files) for name, files in items.items()}
    folders = []
    for n, names in enumerate(chunk_plan(sizes, capacity - 64 * 1024), 1):
        folder = out / f"chunk{n}"
        shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir(parents=True)
        for name in names:
            dest = folder / "wheels" if name == "wheels" else folder
            dest.mkdir(exist_ok=True)
            for path in items[name]:
                shutil.copyfile(path, dest / path.name)
        (folder / "manifest.json").write_text(json.dumps(manifest, indent=1))
        folders.append(folder)
        print(f"{folder.name}: {', '.join(names)}: "
              f"{sum(p.stat().st_size for p in folder.rglob('*') if p.is_file()) / MIB:.1f} MiB", flush=True)
    shutil.rmtree(staged)
    return folders


# --- There: unpack, check, bring back ----------------------------------------------------------------
def unpack(chunk_dir: pathlib.Path, cache: pathlib.Path) -> None:
    manifest = json.loads((chunk_dir / "manifest.json").read_text())
    staging = cache / "staging"
    staging.mkdir(parents=True, exist_ok=True)
    for part, meta in manifest.get("cifar10", {}).items():
        # A batch's pieces may come in different chunks: each is checked and staged as it comes,
        # the batch once all its pieces (and its labels) are there.
        for i, piece in enumerate(meta["pieces"]):
            if (chunk_dir / piece["file"]).exists():
                xs = decode_mosaic(chunk_dir / piece["file"])
                if sha256(xs) != piece["sha256"]:
                    raise SystemExit(f"{piece['file']}: checksum mismatch; the chunk is damaged")
                np.save(staging / f"{part}_x.{i}.npy", xs)
        if (chunk_dir / f"{part}_labels.npy").exists():
            y = np.load(chunk_dir / f"{part}_labels.npy")
            if sha256(y) != meta["y_sha256"]:
                raise SystemExit(f"{part}: label checksum mismatch; the chunk is damaged")
            np.save(staging / f"{part}_y.npy", y)
        staged = [staging / f"{part}_x.{i}.npy" for i in range(len(meta["pieces"]))]
        if all(p.exists() for p in staged) and (staging / f"{part}_y.npy").exists():
            x = np.concatenate([np.load(p) for p in staged])
            if sha256(x) != meta["x_sha256"] or len(x) != meta["n"]:
                raise SystemExit(f"{part}: checksum mismatch after joining its pieces")
            np.save(staging / f"{part}_x.npy", x)
            print(f"{part}: {len(x)} images, checksum ok", flush=True)
    for name, meta in manifest.get("fashion_mnist", {}).items():
        src = chunk_dir / name
        if src.exists():
            if hashlib.sha256(src.read_bytes()).hexdigest() != meta["sha256"]:
                raise SystemExit(f"{name}: checksum mismatch")
            (cache / "datasets" / "fashion-mnist").mkdir(parents=True, exist_ok=True)
            shutil.copyfile(src, cache / "datasets" / "fashion-mnist" / name)
            print(f"{name}: checksum ok", flush=True)
    for name, digest in manifest.get("wheels", {}).items():
        wheel = chunk_dir / "wheels" / name
        if wheel.exists() and hashlib.sha256(wheel.read_bytes()).hexdigest() != digest:
            raise SystemExit(f"{name}: checksum mismatch")
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


def check(cache: pathlib.Path, needed: list[str] | None = None) -> int:
    os.environ["DLCORE_DATASETS"] = str(cache / "datasets")
    from dlcore.engine import data

    ok = True
    for name in needed or ("cifar10", "fashion_mnist"):
        if data.is_available(name):
            (xt, yt), (xs, ys) = data.load(name)
            print(f"{name}: train {xt.shape} test {xs.shape}, train mean {xt.mean():.3f}")
        else:
            ok = False
            print(f"{name}: not complete")
    return 0 if ok else 1


def changed_run_folders(cached: pathlib.Path, since: float) -> list[pathlib.Path]:
    """Run folders whose status changed after `since` (what this call trained)."""
    return sorted(p.parent for p in pathlib.Path(cached).glob("*/*/status.json") if p.stat().st_mtime >= since)


def bring_back(cached: pathlib.Path, out: pathlib.Path, since: float) -> list[pathlib.Path]:
    """Tar the changed run folders into at most BACK_FILES files of BACK_FILE_LIMIT bytes under `out`.

    Worker logs, cancel flags and temp files stay behind; checkpoints of unfinished runs come back.
    """
    cached, out = pathlib.Path(cached), pathlib.Path(out)
    def keep(p):
        return p.is_file() and not p.name.startswith(".") and p.name not in ("cancel", "worker.log")

    folders = [(f, sum(p.stat().st_size for p in f.iterdir() if keep(p))) for f in changed_run_folders(cached, since)]
    groups = chunk_plan({str(f.relative_to(cached)): size for f, size in folders}, BACK_FILE_LIMIT)
    if len(groups) > BACK_FILES:
        raise SystemExit(f"{len(groups)} tar files would not come back (at most {BACK_FILES})")
    written = []
    out.mkdir(parents=True, exist_ok=True)
    for n, names in enumerate(groups, 1):
        path = out / f"runs-{n}.tar"
        with tarfile.open(path, "w") as tar:
            for name in names:
                for p in sorted((cached / name).iterdir()):
                    if keep(p):
                        tar.add(p, arcname=f"{name}/{p.name}")
        written.append(path)
        print(f"{path.name}: {', '.join(names)} ({path.stat().st_size / MIB:.1f} MiB)", flush=True)
    return written


# --- Here: receive -----------------------------------------------------------------------------------
def receive(files: pathlib.Path, cached: pathlib.Path) -> list[pathlib.Path]:
    """Replace each brought-back run folder in `cached` wholesale (a finished run leaves no checkpoint)."""
    replaced = []
    for path in sorted(pathlib.Path(files).glob("runs-*.tar")):
        with tarfile.open(path) as tar:
            members = [m for m in tar.getmembers() if m.isfile()]
            for folder in sorted({m.name.split("/")[0] + "/" + m.name.split("/")[1] for m in members}):
                parts = folder.split("/")
                if len(parts) != 2 or any(p in ("", ".", "..") for p in parts):
                    raise SystemExit(f"{path.name}: unexpected member {folder!r}")
                shutil.rmtree(cached / folder, ignore_errors=True)
                replaced.append(cached / folder)
            tar.extractall(cached, members=members, filter="data")
    for folder in replaced:
        print(f"received {folder}", flush=True)
    return replaced


def plan(budget_left_s: float, cached: pathlib.Path | None = None, require_clean: bool = True) -> dict:
    """What the next GPU session should do, and what it costs."""
    revision = clean_revision() if require_clean else git("rev-parse", "HEAD").strip()
    todo = unfinished_full_runs(cached)
    needed = datasets_needed(todo)
    tree = tree_bytes()
    items = estimated_item_bytes(needed)
    chunks = chunk_plan(items, CALL_LIMIT - tree - MARGIN)
    sizes = [sum(items[n] for n in c) for c in chunks]
    transfer = transfer_seconds(tree, sizes)
    train = train_seconds(budget_left_s - transfer, tree, sizes[-1] if sizes else 0)
    return {"revision": revision, "unfinished": [s.label for s in todo], "datasets": needed,
            "tree_mib": tree / MIB, "chunks": chunks, "chunk_mib": [s / MIB for s in sizes],
            "transfer_s": transfer, "train_start_s": TRAIN_START_S, "train_deadline_s": train}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("plan", help="here: what is unfinished, the chunks, the calls and their device seconds")
    p.add_argument("--budget", type=float, default=15 * 60, help="device seconds left (the tool's status)")
    p = sub.add_parser("revision", help="here: the commit to record there (refuses a dirty tree)")
    p = sub.add_parser("pack", help="here: wheels and data in chunks that fit beside the tree")
    p.add_argument("--out", type=pathlib.Path, default=REPO / ".device")
    p.add_argument("--codec", choices=("webp", "png"), default="webp")
    p = sub.add_parser("unpack")
    p.add_argument("chunk", type=pathlib.Path)
    p.add_argument("--cache", type=pathlib.Path, default=CACHE)
    p = sub.add_parser("check")
    p.add_argument("--cache", type=pathlib.Path, default=CACHE)
    p = sub.add_parser("bring-back")
    p.add_argument("cached", type=pathlib.Path)
    p.add_argument("out", type=pathlib.Path)
    p.add_argument("--since", type=float, required=True, help="seconds since the epoch when training started")
    p = sub.add_parser("receive")
    p.add_argument("files", type=pathlib.Path, help="the folder the tool put the files from $OUT in")
    p.add_argument("--cached", type=pathlib.Path, default=REPO / "cached_runs")
    args = ap.parse_args(argv)
    if args.cmd == "plan":
        print(json.dumps(plan(args.budget), indent=1))
    elif args.cmd == "revision":
        print(clean_revision())
    elif args.cmd == "pack":
        clean_revision()
        needed = datasets_needed(unfinished_full_runs())
        pack(args.out, needed, CALL_LIMIT - tree_bytes() - MARGIN, args.codec)
    elif args.cmd == "unpack":
        unpack(args.chunk, args.cache)
    elif args.cmd == "check":
        return check(args.cache)
    elif args.cmd == "bring-back":
        bring_back(args.cached, args.out, args.since)
    elif args.cmd == "receive":
        receive(args.files, args.cached)
    return 0


if __name__ == "__main__":
    sys.exit(main())
