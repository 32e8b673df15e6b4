"""Shared test fixtures.

Tests never download anything: they use tiny synthetic data, a tiny stand-in
written in the real file format (:func:`cifar10_stand_in`), or a Keras cache
when there is one: ``$KERAS_HOME`` (as the README documents), else the shared
copy beside the checkout (../shared/data/keras).
"""
import os
import pathlib
import pickle

import numpy as np
import pytest

# One Chromium and one app server for all the browser tests (test_browser.py, test_browser_pages.py).
from browser_server import app_url, browser  # noqa: F401  (fixtures, tests/browser_server.py)

ROOT = pathlib.Path(__file__).resolve().parents[1]
SHARED_KERAS = ROOT.parent / "shared" / "data" / "keras"

# Live runs written by tests go to a temp folder, never into the checkout.
os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


@pytest.fixture
def runs_dir(tmp_path, monkeypatch):
    """A private live-runs folder for one test."""
    d = tmp_path / "runs"
    d.mkdir()
    monkeypatch.setenv("DLCORE_RUNS_DIR", str(d))
    return d


@pytest.fixture
def run_roots(tmp_path, monkeypatch):
    """Private, empty live and cached run folders: a page under test never reads,
    pumps or writes the checkout's own runs/ and cached_runs/."""
    live, cached = tmp_path / "runs", tmp_path / "cached"
    live.mkdir()
    cached.mkdir()
    monkeypatch.setenv("DLCORE_RUNS_DIR", str(live))
    monkeypatch.setenv("DLCORE_CACHED_RUNS_DIR", str(cached))
    return live, cached


def keras_homes() -> list[pathlib.Path]:
    """Where a Keras data cache may be, in the order the tests look: $KERAS_HOME, then the shared copy."""
    return [pathlib.Path(p) for p in (os.environ.get("KERAS_HOME"), SHARED_KERAS) if p]


@pytest.fixture(scope="session")
def keras_cache():
    """The Keras data cache (a folder with datasets/ in it), or skip when this machine has none."""
    for home in keras_homes():
        if (home / "datasets").is_dir():
            return home
    pytest.skip("no local Keras data cache (neither $KERAS_HOME/datasets nor ../shared/data/keras/datasets)")


def write_cifar10(folder: pathlib.Path, per_class: int = 2) -> pathlib.Path:
    """A tiny CIFAR-10 in the official python-batch format (five data batches and a test
    batch, `per_class` random images of each class in every one) under `folder`."""
    target = folder / "cifar-10-batches-py"
    target.mkdir(parents=True)
    rng = np.random.default_rng(0)
    for i, name in enumerate(["data_batch_1", "data_batch_2", "data_batch_3", "data_batch_4", "data_batch_5",
                              "test_batch"]):
        labels = [c for c in range(10) for _ in range(per_class)]
        pixels = rng.integers(0, 256, size=(len(labels), 3 * 32 * 32), dtype=np.uint8)
        with open(target / name, "wb") as f:
            pickle.dump({b"data": pixels, b"labels": labels, b"batch_label": f"stand-in {i}".encode()}, f)
    return target


@pytest.fixture
def cifar10_stand_in(tmp_path, monkeypatch):
    """A machine that has CIFAR-10, for tests of what a page does once it is there (Start buttons
    are disabled without it): a tiny stand-in in the real format, found first (DLCORE_DATASETS).
    The loaders' caches are cleared on both sides, so no other test sees these images."""
    import streamlit as st

    from dlcore.engine import data

    folder = tmp_path / "keras" / "datasets"
    write_cifar10(folder)
    monkeypatch.setenv("DLCORE_DATASETS", str(folder))
    data.load_cifar10.cache_clear()
    st.cache_resource.clear()
    yield folder
    data.load_cifar10.cache_clear()
    st.cache_resource.clear()
