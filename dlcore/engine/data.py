"""Data sets: CIFAR-10 and Fashion-MNIST from the local Keras cache.

The files are the ones Keras itself keeps under ``$KERAS_HOME/datasets``:
the official python batches of CIFAR-10 (in ``cifar-10-batches-py-target/cifar-10-batches-py/``
as Keras 3 extracts them, or Keras 2's ``cifar-10-batches-py/``) and
``fashion-mnist/*-ubyte.gz``; ``python -m dlcore.data fetch`` (dlcore.engine.fetch)
downloads them there. We read them directly rather than through
``keras.datasets``, because Keras's CIFAR-10 loader insists on the official
archive's hash and would try to download otherwise, and because reading them
here keeps Keras out of the pages that only show images. When no local copy is
found we fall back to ``keras.datasets`` (which downloads); when that fails too
the caller gets :class:`DatasetUnavailable` with a message that says what to do.

Also here: deterministic subsets (first n per class), the preprocessing each
experiment uses, and tiny synthetic stand-ins with the real shapes for tests.
"""
from __future__ import annotations

import functools
import gzip
import os
import pathlib
import pickle

import numpy as np

CIFAR10_CLASSES = (
    "airplane", "automobile", "bird", "cat", "deer",
    "dog", "frog", "horse", "ship", "truck",
)
FASHION_MNIST_CLASSES = (
    "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
    "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot",
)
CLASSES = {"cifar10": CIFAR10_CLASSES, "fashion_mnist": FASHION_MNIST_CLASSES}

_REPO = pathlib.Path(__file__).resolve().parents[2]
# The course's shared copy beside this checkout (a module constant, so tests can hide it).
SHARED_DATASETS = _REPO.parent / "shared" / "data" / "keras" / "datasets"


class DatasetUnavailable(RuntimeError):
    """The data set is neither in a local Keras cache nor downloadable."""


def keras_dataset_dirs() -> list[pathlib.Path]:
    """Folders searched for Keras's cached data sets, most specific first.

    ``DLCORE_DATASETS`` (a ``datasets`` folder) and ``KERAS_HOME`` win; then
    ``~/.keras``; then the course's shared copy beside this checkout.
    """
    dirs = []
    if os.environ.get("DLCORE_DATASETS"):
        dirs.append(pathlib.Path(os.environ["DLCORE_DATASETS"]))
    if os.environ.get("KERAS_HOME"):
        dirs.append(pathlib.Path(os.environ["KERAS_HOME"]) / "datasets")
    dirs.append(pathlib.Path.home() / ".keras" / "datasets")
    dirs.append(SHARED_DATASETS)
    return dirs


# Where each data set's files sit under a cache's datasets/ folder, and which files make it
# whole. Keras 3 extracts CIFAR-10 into cifar-10-batches-py-target/ (keras.datasets.cifar10,
# and python -m dlcore.data fetch); Keras 2, and the course's shared copy, used cifar-10-batches-py/.
LAYOUTS = {
    "cifar10": ("cifar-10-batches-py-target/cifar-10-batches-py", "cifar-10-batches-py"),
    "fashion_mnist": ("fashion-mnist",),
}
FILES = {
    "cifar10": ("data_batch_1", "data_batch_2", "data_batch_3", "data_batch_4", "data_batch_5", "test_batch"),
    "fashion_mnist": ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz",
                      "t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"),
}


def _find(relative: str) -> pathlib.Path | None:
    for d in keras_dataset_dirs():
        if (d / relative).exists():
            return d / relative
    return None


def dataset_folder(name: str) -> pathlib.Path | None:
    """The first folder holding every file of `name` (cifar10, fashion_mnist), or None."""
    for d in keras_dataset_dirs():
        for relative in LAYOUTS[name]:
            if all((d / relative / f).is_file() for f in FILES[name]):
                return d / relative
    return None


def is_available(name: str) -> bool:
    """Whether `name` can be loaded without the network."""
    if name.startswith("synthetic_"):
        return True
    return dataset_folder(name) is not None


def missing_datasets(specs) -> list[str]:
    """The data sets these runs need that this machine cannot load offline, sorted."""
    return sorted({s.dataset for s in specs if not is_available(s.dataset)})


def missing_message(name: str) -> str:
    """The sentence a page shows when data set `name` is missing, with the ways to get it."""
    return (f"The {name} data set is not in the local Keras cache on this machine, so these runs would fail. "
            f"Get it (`python -m dlcore.data fetch {name}`), put a Keras cache folder in place (or set "
            "KERAS_HOME), or pick the smoke preset (synthetic data).")


def missing_for(specs) -> list[str]:
    """What stops these runs on this machine: one sentence per data set it cannot load offline."""
    return [missing_message(name) for name in missing_datasets(specs)]


def _unavailable(name: str, err: Exception) -> DatasetUnavailable:
    where = ", ".join(str(d) for d in keras_dataset_dirs())
    return DatasetUnavailable(
        f"{name} is not in a local Keras cache (looked in: {where}) and could not be "
        f"downloaded ({type(err).__name__}: {err}). Put the Keras cache folder there, or set "
        f"KERAS_HOME to a folder whose datasets/ holds it, or connect to the internet once."
    )


def _read_cifar_batch(path: pathlib.Path) -> tuple[np.ndarray, np.ndarray]:
    # The official python batches: N x 3072 uint8 (R plane, G plane, B plane).
    with open(path, "rb") as f:
        batch = pickle.load(f, encoding="bytes")  # the official format is a pickle
    x = np.asarray(batch[b"data"], dtype=np.uint8).reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1)
    y = np.asarray(batch[b"labels"], dtype=np.int64)
    return x, y


@functools.lru_cache(maxsize=1)
def load_cifar10():
    """((x_train, y_train), (x_test, y_test)); x uint8 (N, 32, 32, 3), y int64 (N,).

    Note: the course's shared copy orders the test set by class; shuffle
    before taking samples from it.
    """
    folder = dataset_folder("cifar10")
    if folder is not None:
        parts = [_read_cifar_batch(folder / f"data_batch_{i}") for i in range(1, 6)]
        x_train = np.concatenate([p[0] for p in parts])
        y_train = np.concatenate([p[1] for p in parts])
        x_test, y_test = _read_cifar_batch(folder / "test_batch")
        return (x_train, y_train), (x_test, y_test)
    try:
        import keras

        (x_train, y_train), (x_test, y_test) = keras.datasets.cifar10.load_data()
    except Exception as err:  # no cache and no network
        raise _unavailable("CIFAR-10", err) from err
    return (x_train, y_train.reshape(-1).astype(np.int64)), (x_test, y_test.reshape(-1).astype(np.int64))


def _read_idx(path: pathlib.Path) -> np.ndarray:
    with gzip.open(path, "rb") as f:
        raw = f.read()
    ndim = raw[3]
    shape = tuple(int.from_bytes(raw[4 + 4 * i: 8 + 4 * i], "big") for i in range(ndim))
    return np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * ndim).reshape(shape)


@functools.lru_cache(maxsize=1)
def load_fashion_mnist():
    """((x_train, y_train), (x_test, y_test)); x uint8 (N, 28, 28), y int64 (N,)."""
    folder = dataset_folder("fashion_mnist")
    if folder is not None:
        x_train, y_train, x_test, y_test = (_read_idx(folder / n) for n in FILES["fashion_mnist"])
        return (x_train, y_train.astype(np.int64)), (x_test, y_test.astype(np.int64))
    try:
        import keras

        (x_train, y_train), (x_test, y_test) = keras.datasets.fashion_mnist.load_data()
    except Exception as err:
        raise _unavailable("Fashion-MNIST", err) from err
    return (x_train, y_train.astype(np.int64)), (x_test, y_test.astype(np.int64))


def synthetic(name: str, n_train: int = 256, n_test: int = 64, seed: int = 0):
    """Tiny learnable stand-ins with the real shapes and dtypes.

    Each class gets its own mean image, so a model can lower its loss on it in
    a few steps: enough to test that training really trains.
    """
    shape = {"cifar10": (32, 32, 3), "fashion_mnist": (28, 28)}[name]
    rng = np.random.default_rng(seed)
    means = rng.uniform(40, 215, size=(10, *shape))

    def draw(n):
        y = np.arange(n) % 10
        rng.shuffle(y)
        x = means[y] + rng.normal(0, 30, size=(n, *shape))
        return np.clip(x, 0, 255).astype(np.uint8), y.astype(np.int64)

    return draw(n_train), draw(n_test)


def load(name: str):
    """Load a data set by name: cifar10, fashion_mnist, synthetic_cifar10, synthetic_fashion_mnist."""
    if name == "cifar10":
        return load_cifar10()
    if name == "fashion_mnist":
        return load_fashion_mnist()
    if name.startswith("synthetic_"):
        return synthetic(name.removeprefix("synthetic_"))
    raise ValueError(f"unknown data set {name!r}; choose cifar10, fashion_mnist or synthetic_<name>")


def first_per_class(y: np.ndarray, n: int) -> np.ndarray:
    """Indices of the first n samples of each class, in data-set order (deterministic)."""
    picked = [np.flatnonzero(y == c)[:n] for c in np.unique(y)]
    return np.sort(np.concatenate(picked))


def scale(x: np.ndarray) -> np.ndarray:
    """uint8 pixels to float32 in [0, 1]. (The seed notebook fed raw 0–255 to the MLP.)"""
    return x.astype(np.float32) / 255.0


def resize_bilinear(x: np.ndarray, size: int) -> np.ndarray:
    """Resize (N, H, W[, C]) images to size×size by separable bilinear interpolation.

    Two small interpolation matrices (size×H and size×W) applied with einsum:
    all 70,000 Fashion-MNIST images take well under a second.
    """
    def weights(n_in: int) -> np.ndarray:
        # Half-pixel centres, as image libraries do.
        pos = (np.arange(size) + 0.5) * n_in / size - 0.5
        pos = np.clip(pos, 0, n_in - 1)
        lo = np.floor(pos).astype(int)
        hi = np.minimum(lo + 1, n_in - 1)
        frac = pos - lo
        w = np.zeros((size, n_in), dtype=np.float32)
        w[np.arange(size), lo] += 1 - frac
        w[np.arange(size), hi] += frac
        return w

    wh, ww = weights(x.shape[1]), weights(x.shape[2])
    xf = x.astype(np.float32)
    if x.ndim == 3:
        return np.einsum("ih,nhw,jw->nij", wh, xf, ww, optimize=True)
    return np.einsum("ih,nhwc,jw->nijc", wh, xf, ww, optimize=True)


def prepare(name: str, preprocessing: str, subset: int | None = None, test_subset: int | None = None):
    """The arrays an experiment trains on.

    preprocessing:
      - ``scale``: float32 in [0, 1] (the MLP of Problem 1);
      - ``per_pixel_mean``: scaled, minus the training set's per-pixel mean (He et al. Sec 4.2);
      - ``resize32``: Fashion-MNIST resized to 32×32×1 and scaled (MiniGoogLeNet, Problem 2).
    subset / test_subset: keep the first n samples of each class (deterministic).
    Returns dict(x_train, y_train, x_test, y_test, mean) with mean None unless subtracted.
    """
    (x_train, y_train), (x_test, y_test) = load(name)
    if subset:
        idx = first_per_class(y_train, subset)
        x_train, y_train = x_train[idx], y_train[idx]
    if test_subset:
        idx = first_per_class(y_test, test_subset)
        x_test, y_test = x_test[idx], y_test[idx]
    mean = None
    if preprocessing == "scale":
        x_train, x_test = scale(x_train), scale(x_test)
    elif preprocessing == "per_pixel_mean":
        x_train, x_test = scale(x_train), scale(x_test)
        mean = x_train.mean(axis=0)
        x_train, x_test = x_train - mean, x_test - mean
    elif preprocessing == "resize32":
        x_train = resize_bilinear(x_train, 32)[..., None] / 255.0
        x_test = resize_bilinear(x_test, 32)[..., None] / 255.0
    else:
        raise ValueError(f"unknown preprocessing {preprocessing!r}")
    return dict(x_train=x_train, y_train=y_train, x_test=x_test, y_test=y_test, mean=mean)
