"""python -m dlcore.data fetch / dlcore.engine.fetch: the real download code against a local server.

Every download here comes from tests/fakearchives.py's server on 127.0.0.1 (or a
closed local port standing for "no network"); nothing goes to the internet.
"""
import dataclasses
import hashlib
import importlib.util
import pathlib
import socket
import subprocess
import sys

import fakearchives
import numpy as np
import pytest

from dlcore.engine import data, fetch

ROOT = pathlib.Path(__file__).resolve().parents[1]


@pytest.fixture(autouse=True)
def no_internet(monkeypatch):
    """Any host but this machine's loopback fails to resolve: a test cannot reach the internet."""
    resolve = socket.getaddrinfo

    def loopback_only(host, *args, **kwargs):
        if host not in ("127.0.0.1", "localhost"):
            raise socket.gaierror(socket.EAI_NONAME, f"{host}: no network in tests")
        return resolve(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", loopback_only)


@pytest.fixture
def cache(tmp_path, monkeypatch):
    """An empty Keras cache (KERAS_HOME) and no other copy anywhere: returns its datasets/ folder."""
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras"))
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.delenv("DLCORE_DATASETS", raising=False)
    monkeypatch.delenv("DLCORE_DATA_URL", raising=False)
    monkeypatch.setattr(data, "SHARED_DATASETS", tmp_path / "no-shared-copy")
    data.load_cifar10.cache_clear()
    data.load_fashion_mnist.cache_clear()
    yield tmp_path / "keras" / "datasets"
    data.load_cifar10.cache_clear()
    data.load_fashion_mnist.cache_clear()


@pytest.fixture
def batches():
    return fakearchives.cifar_batches()


@pytest.fixture
def files(batches):
    fashion, _ = fakearchives.fashion_files()
    return {"cifar-10-python.tar.gz": fakearchives.cifar_tarball(batches), **fashion}


@pytest.fixture
def server(cache, files, monkeypatch):
    """The local server, as the data sets' mirror (DLCORE_DATA_URL), and fetch.SOURCES matching its archives."""
    monkeypatch.setattr(fetch, "SOURCES", fakearchives.sources(files))
    with fakearchives.Server(files) as s:
        monkeypatch.setenv("DLCORE_DATA_URL", s.url)
        yield s


def files_under(folder: pathlib.Path) -> list[str]:
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file()) if folder.exists() else []


# --- the official sources ------------------------------------------------------------------

def keras_source(module: str) -> str:
    spec = importlib.util.find_spec("keras")
    if spec is None:
        pytest.skip("keras is not installed")
    return (pathlib.Path(spec.origin).parent / "src" / "datasets" / f"{module}.py").read_text()


def test_cifar10_comes_from_where_keras_datasets_takes_it_with_its_checksum():
    text = keras_source("cifar10")
    (archive,) = fetch.SOURCES["cifar10"].archives
    assert f'origin = "{archive.url}"' in text
    assert archive.algorithm == "sha256" and f'"{archive.digest}"' in text
    # get_file(fname="cifar-10-batches-py-target", extract=True) keeps the archive as <fname>_archive
    # and extracts it into <fname>/
    assert 'dirname = "cifar-10-batches-py-target"' in text
    assert archive.path == "cifar-10-batches-py-target_archive"
    assert archive.extract_to == "cifar-10-batches-py-target"


def test_fashion_mnist_comes_from_where_keras_datasets_takes_it():
    text = keras_source("fashion_mnist")
    archives = fetch.SOURCES["fashion_mnist"].archives
    base = archives[0].url.rsplit("/", 1)[0] + "/"
    assert f'base = "{base}"' in text
    assert 'os.path.join("datasets", "fashion-mnist")' in text
    assert sorted(a.filename for a in archives) == sorted(data.FILES["fashion_mnist"])
    assert all(a.path == f"fashion-mnist/{a.filename}" for a in archives)


def test_fashion_mnist_checksums_are_those_of_the_shared_copy(keras_cache):
    folder = keras_cache / "datasets" / "fashion-mnist"
    for archive in fetch.SOURCES["fashion_mnist"].archives:
        blob = (folder / archive.filename).read_bytes()
        assert (len(blob), hashlib.md5(blob).hexdigest()) == (archive.size, archive.digest), archive.filename


def test_the_buttons_say_163_and_30_mb():
    assert fetch.size_label("cifar10") == "163 MB"
    assert fetch.size_label("fashion_mnist") == "30 MB"


# --- progress --------------------------------------------------------------------------------

def test_progress_says_mb_and_time_left_at_this_sessions_speed():
    p = fetch.Progress(done=50 * fetch.MB, total=200 * fetch.MB, elapsed_s=10.0)
    assert p.fraction == 0.25 and p.eta_s == 30.0
    assert str(p) == "50.0 of 200.0 MB, about 30 s left"
    # 40 MB were already on disk from an interrupted download: only 10 MB came in those 10 s
    resumed = fetch.Progress(done=50 * fetch.MB, total=200 * fetch.MB, elapsed_s=10.0, fresh=10 * fetch.MB)
    assert resumed.eta_s == 150.0 and str(resumed).endswith("about 2 min 30 s left")
    assert fetch.Progress(done=0, total=200, elapsed_s=1.0).eta_s is None


def test_fetch_reports_progress_up_to_the_total(cache, server, files):
    seen = []
    fetch.fetch("fashion_mnist", progress=seen.append)
    total = sum(len(files[n]) for n in data.FILES["fashion_mnist"])
    assert seen, "the callback was called"
    assert all(p.total == total for p in seen)
    done = [p.done for p in seen]
    assert done == sorted(done) and done[-1] == total and seen[-1].fraction == 1.0
    assert len(seen) <= 205, "about 200 reports at most, whatever the size"


# --- a data set where the loaders read it -------------------------------------------------------

def test_fetch_puts_cifar10_where_the_loader_reads_it(cache, server, batches):
    assert not data.is_available("cifar10")
    assert fetch.fetch("cifar10") == cache
    assert data.is_available("cifar10")
    assert data.dataset_folder("cifar10") == cache / "cifar-10-batches-py-target" / "cifar-10-batches-py"
    (x_train, y_train), (x_test, y_test) = data.load_cifar10()
    assert np.array_equal(x_train, np.concatenate([batches[f"data_batch_{i}"][0] for i in range(1, 6)]))
    assert np.array_equal(y_train, np.concatenate([batches[f"data_batch_{i}"][1] for i in range(1, 6)]))
    assert np.array_equal(x_test, batches["test_batch"][0]) and np.array_equal(y_test, batches["test_batch"][1])
    assert files_under(cache) == ["cifar-10-batches-py-target/cifar-10-batches-py/batches.meta"] + [
        f"cifar-10-batches-py-target/cifar-10-batches-py/{n}" for n in sorted(data.FILES["cifar10"])] + [
        "cifar-10-batches-py-target_archive"], "the Keras layout, no part file or staging folder left"


def test_fetch_puts_fashion_mnist_where_the_loader_reads_it(cache, server):
    fetch.fetch("fashion_mnist")
    _, expected = fakearchives.fashion_files()
    loaded = data.load_fashion_mnist()
    for part in (0, 1):
        for array in (0, 1):
            assert np.array_equal(loaded[part][array], expected[part][array])
    assert files_under(cache) == sorted(f"fashion-mnist/{n}" for n in data.FILES["fashion_mnist"])


def test_keras_get_file_finds_the_fetched_files_without_the_network(cache, server, files):
    keras = pytest.importorskip("keras")
    fetch.fetch("cifar10")
    fetch.fetch("fashion_mnist")
    nowhere = fakearchives.closed_port_url()  # keras would fail if it tried to download
    sha = hashlib.sha256(files["cifar-10-python.tar.gz"]).hexdigest()
    extracted = keras.utils.get_file(fname="cifar-10-batches-py-target", origin=nowhere + "c.tar.gz",
                                     extract=True, file_hash=sha, cache_dir=str(cache.parent))
    assert pathlib.Path(extracted, "cifar-10-batches-py", "test_batch").is_file()
    path = keras.utils.get_file("t10k-labels-idx1-ubyte.gz", origin=nowhere + "t10k-labels-idx1-ubyte.gz",
                                cache_subdir="datasets/fashion-mnist", cache_dir=str(cache.parent))
    assert pathlib.Path(path) == cache / "fashion-mnist" / "t10k-labels-idx1-ubyte.gz"


def test_what_is_in_place_is_not_downloaded_again(cache, server):
    fetch.fetch("fashion_mnist")
    requests = len(server.log)
    fetch.fetch("fashion_mnist")
    assert len(server.log) == requests


# --- refused, dropped, offline -----------------------------------------------------------------

def test_a_checksum_mismatch_is_refused_and_leaves_nothing_behind(cache, server, monkeypatch):
    (archive,) = fetch.SOURCES["cifar10"].archives
    wrong = dataclasses.replace(fetch.SOURCES["cifar10"], archives=(dataclasses.replace(archive, digest="0" * 64),))
    monkeypatch.setitem(fetch.SOURCES, "cifar10", wrong)
    with pytest.raises(fetch.ChecksumMismatch, match="not the official file"):
        fetch.fetch("cifar10")
    assert files_under(cache) == [] and not (cache / "cifar-10-batches-py-target").exists()
    assert not data.is_available("cifar10")


def test_a_tarball_without_every_batch_is_not_installed(cache, batches, monkeypatch):
    blob = fakearchives.cifar_tarball(batches, leave_out=("test_batch",))
    monkeypatch.setattr(fetch, "SOURCES", fakearchives.sources({"cifar-10-python.tar.gz": blob,
                                                                **fakearchives.fashion_files()[0]}))
    with fakearchives.Server({"cifar-10-python.tar.gz": blob}) as s, \
            pytest.raises(fetch.FetchError, match="test_batch"):
        fetch.fetch("cifar10", base_url=s.url)
    assert files_under(cache) == [] and list(cache.iterdir()) == []
    assert not data.is_available("cifar10")


def test_a_dropped_connection_leaves_nothing_half_written_and_a_retry_resumes(cache, server, files):
    name = "cifar-10-python.tar.gz"
    half = len(files[name]) // 2
    server.drop_next[name] = half
    with pytest.raises(fetch.Interrupted, match="resume"):
        fetch.fetch("cifar10", base_url=server.url, attempts=1)
    # Only the part file, which no loader reads; nothing where Keras or the app look for the data set.
    assert files_under(cache) == ["cifar-10-batches-py-target_archive.part"]
    assert (cache / "cifar-10-batches-py-target_archive.part").stat().st_size == half
    assert not data.is_available("cifar10")
    seen = []
    fetch.fetch("cifar10", base_url=server.url, progress=seen.append)
    retry = server.log[-1]
    assert (retry.range, retry.status, retry.sent) == (f"bytes={half}-", 206, len(files[name]) - half)
    assert data.is_available("cifar10")
    assert seen[-1].done == seen[-1].total == len(files[name]) and seen[-1].fresh == len(files[name]) - half


def test_a_server_without_range_support_restarts_cleanly(cache, server, files):
    name = "cifar-10-python.tar.gz"
    server.ignore_range = True
    server.drop_next[name] = 1000
    with pytest.raises(fetch.Interrupted):
        fetch.fetch("cifar10", base_url=server.url, attempts=1)
    fetch.fetch("cifar10", base_url=server.url)
    retry = server.log[-1]
    assert (retry.range, retry.status, retry.sent) == ("bytes=1000-", 200, len(files[name]))
    assert data.load_cifar10()[1][0].shape == (20, 32, 32, 3)


def test_one_fetch_resumes_a_dropped_connection_by_itself(cache, server, files):
    server.drop_next["train-images-idx3-ubyte.gz"] = 500
    fetch.fetch("fashion_mnist", base_url=server.url)
    tries = [r for r in server.log if r.path == "train-images-idx3-ubyte.gz"]
    # (sorted: the dropped request's handler may log after the resumed one has been served)
    assert sorted((r.status, r.range or "") for r in tries) == [(200, ""), (206, "bytes=500-")]
    assert data.is_available("fashion_mnist")


def test_a_stale_part_that_fails_the_checksum_is_downloaded_again_from_scratch(cache, server, files):
    name = "t10k-labels-idx1-ubyte.gz"
    part = cache / "fashion-mnist" / f"{name}.part"
    part.parent.mkdir(parents=True)
    part.write_bytes(b"\0" * len(files[name]))  # complete in size, wrong in content
    fetch.fetch("fashion_mnist", base_url=server.url)
    assert (cache / "fashion-mnist" / name).read_bytes() == files[name]
    assert not part.exists()


def test_no_network_is_one_sentence_naming_the_folder_to_copy_a_cache_into(cache, monkeypatch):
    monkeypatch.setenv("DLCORE_DATA_URL", fakearchives.closed_port_url())
    with pytest.raises(fetch.Offline) as caught:
        fetch.fetch("cifar10")
    message = str(caught.value)
    assert message.startswith("Could not reach 127.0.0.1:") and str(cache) in message
    assert message.endswith(".") and ". " not in message, "one sentence"
    assert files_under(cache) == []


def test_two_downloads_into_one_cache_do_not_mix(cache, server):
    cache.mkdir(parents=True)
    with fetch._exclusive(cache, "CIFAR-10"), pytest.raises(fetch.FetchError, match="Another download"):
        fetch.fetch("cifar10")
    fetch.fetch("cifar10")
    assert data.is_available("cifar10")


# --- the command -------------------------------------------------------------------------------

def test_the_command_fetches_both_data_sets_then_finds_them_there(cache, server, monkeypatch, capsys):
    monkeypatch.setenv("DLCORE_DATA_URL", server.url)
    assert fetch.main(["fetch", "cifar10", "fashion_mnist"]) == 0
    out = capsys.readouterr()
    assert out.out.count("checksum verified") == 2 and "MB" in out.err
    assert data.is_available("cifar10") and data.is_available("fashion_mnist")
    assert fetch.main(["fetch", "cifar10"]) == 0
    assert "already on this machine" in capsys.readouterr().out


def test_the_command_offline_says_so_without_a_traceback(cache, monkeypatch, capsys):
    monkeypatch.setenv("DLCORE_DATA_URL", fakearchives.closed_port_url())
    assert fetch.main(["fetch", "fashion_mnist"]) == 1
    err = capsys.readouterr().err
    assert "Could not reach" in err and str(cache) in err and "Traceback" not in err


def test_python_m_dlcore_data_is_the_command():
    proc = subprocess.run([sys.executable, "-m", "dlcore.data", "fetch", "--help"], cwd=ROOT,
                          capture_output=True, text=True, timeout=60, check=False)
    assert proc.returncode == 0 and "cifar10, fashion_mnist" in proc.stdout
