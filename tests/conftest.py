"""Shared test fixtures.

Tests never download anything: they use tiny synthetic data, or the shared
Keras cache (../shared/data/keras) when it is present.
"""
import os
import pathlib

import pytest

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


@pytest.fixture(scope="session")
def keras_cache():
    """The shared Keras data cache, or skip when this machine has none."""
    if not (SHARED_KERAS / "datasets").is_dir():
        pytest.skip("no local Keras data cache (../shared/data/keras)")
    return SHARED_KERAS
