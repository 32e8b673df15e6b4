"""ui.dataset_gate on a page: a missing data set shows a Get button; Start is enabled once the data is there.

The page is opened through app.py's navigation; KERAS_HOME is an empty temp
folder and no other copy is visible. The Get button downloads from
tests/fakearchives.py's server on 127.0.0.1 (DLCORE_DATA_URL), never the internet.
"""
import pathlib
import socket

import fakearchives
import pytest
from streamlit.testing.v1 import AppTest

from dlcore.engine import data, fetch

ROOT = pathlib.Path(__file__).resolve().parents[1]


@pytest.fixture
def empty_cache(tmp_path, monkeypatch, run_roots):
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras"))
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.delenv("DLCORE_DATASETS", raising=False)
    monkeypatch.setattr(data, "SHARED_DATASETS", tmp_path / "no-shared-copy")
    resolve = socket.getaddrinfo

    def loopback_only(host, *args, **kwargs):  # no test reaches the internet
        if host not in ("127.0.0.1", "localhost"):
            raise socket.gaierror(socket.EAI_NONAME, f"{host}: no network in tests")
        return resolve(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", loopback_only)
    return tmp_path / "keras" / "datasets"


@pytest.fixture
def mirror(empty_cache, monkeypatch):
    """A local server holding a small CIFAR-10 in the official layout, as the data sets' mirror."""
    files = {"cifar-10-python.tar.gz": fakearchives.cifar_tarball(fakearchives.cifar_batches()),
             **fakearchives.fashion_files()[0]}
    with fakearchives.Server(files) as server:
        monkeypatch.setenv("DLCORE_DATA_URL", server.url)
        yield fakearchives.sources(files)


def runs_page_class_preset() -> AppTest:
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60).run()
    at.switch_page("app_pages/runs.py").run()
    at.radio(key="runs_start_preset").set_value("class").run()  # mlp_l2 at the class preset: CIFAR-10
    assert not at.exception, at.exception
    return at


def test_a_missing_data_set_shows_its_get_button_and_start_is_off(empty_cache):
    at = runs_page_class_preset()
    get = at.button(key="runs_data_get_cifar10")
    assert get.label == "Get CIFAR-10 (163 MB)"
    assert any("cifar10 data set is not in the local Keras cache" in e.value for e in at.error)
    assert at.button(key="runs_start").disabled


def test_get_downloads_with_progress_and_then_start_is_enabled(mirror, monkeypatch, empty_cache):
    at = runs_page_class_preset()
    monkeypatch.setattr(fetch, "SOURCES", mirror)  # the mirror's small archives and their checksums
    at.button(key="runs_data_get_cifar10").click().run()
    assert not at.exception, at.exception
    assert data.is_available("cifar10")
    assert not at.button(key="runs_start").disabled
    assert not [b for b in at.button if b.key == "runs_data_get_cifar10"], "the Get button is gone"
    assert any("CIFAR-10 is now in" in s.value and str(empty_cache) in s.value for s in at.success)


def test_data_that_appears_meanwhile_enables_start_without_restarting_the_app(mirror, monkeypatch):
    at = runs_page_class_preset()
    assert at.button(key="runs_start").disabled
    monkeypatch.setattr(fetch, "SOURCES", mirror)
    fetch.fetch("cifar10")  # e.g. python -m dlcore.data fetch cifar10 in a terminal
    at.run()
    assert not at.button(key="runs_start").disabled


def test_offline_the_get_button_says_so_in_a_sentence(empty_cache, monkeypatch):
    monkeypatch.setenv("DLCORE_DATA_URL", fakearchives.closed_port_url())
    at = runs_page_class_preset()
    at.button(key="runs_data_get_cifar10").click().run()
    assert not at.exception, at.exception
    assert any(e.value.startswith("Could not reach 127.0.0.1") and str(empty_cache) in e.value for e in at.error)
    assert at.button(key="runs_start").disabled
