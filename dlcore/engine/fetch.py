"""Fetch CIFAR-10 and Fashion-MNIST into the Keras cache: progress, checksum, resume.

The files go exactly where ``keras.datasets`` keeps them, so both this app's
loader (:mod:`dlcore.engine.data`) and ``keras.datasets.cifar10.load_data()`` /
``fashion_mnist.load_data()`` find them offline afterwards:

- CIFAR-10: the archive as ``datasets/cifar-10-batches-py-target_archive`` and its
  contents under ``datasets/cifar-10-batches-py-target/cifar-10-batches-py/``
  (keras 3's ``get_file(fname="cifar-10-batches-py-target", extract=True)``);
- Fashion-MNIST: ``datasets/fashion-mnist/*-ubyte.gz``.

The locations are keras.datasets' own (keras/src/datasets/cifar10.py and
fashion_mnist.py). The checksums are the official ones: CIFAR-10's sha256 is
the ``file_hash`` in keras/src/datasets/cifar10.py; Fashion-MNIST's md5s are
the table in github.com/zalandoresearch/fashion-mnist#get-the-data (keras
checks none for it).

A download goes to ``<name>.part`` beside its final place; an interrupted one is
resumed with an HTTP Range request (or restarted when the server ignores it),
and a file is moved into place (``os.replace``) only after its checksum passed;
a tarball is extracted into a hidden temporary folder that is renamed into
place whole. So the loader never sees a half-written data set.

``DLCORE_DATA_URL`` (or ``base_url=``) replaces the servers with a mirror that
holds the same file names, e.g. a course mirror, or the tests' local server.
"""
from __future__ import annotations

import argparse
import contextlib
import dataclasses
import hashlib
import http.client
import math
import os
import pathlib
import shutil
import sys
import tarfile
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable

from dlcore.engine import data

# Seconds to wait for a connection, or for the next bytes of one: short, so that a
# machine without network hears so at once rather than after a long hang.
TIMEOUT_S = 10
ATTEMPTS = 3       # a dropped connection is resumed this many times before giving up
CHUNK = 1 << 16
MB = 1 << 20       # the sizes on the buttons are MiB, as the progress bar's


@dataclasses.dataclass(frozen=True)
class Archive:
    """One file to download, where Keras keeps it, and how to know it is the right one."""
    url: str
    path: str                      # relative to the cache's datasets/ folder
    size: int                      # bytes
    algorithm: str                 # "sha256" or "md5"
    digest: str
    extract_to: str | None = None  # a tarball: the folder (relative to datasets/) it is extracted into
    members: tuple[str, ...] = ()  # files the extracted tree must hold

    @property
    def filename(self) -> str:
        return self.url.rsplit("/", 1)[-1]


@dataclasses.dataclass(frozen=True)
class Source:
    """A data set: its title and its archives."""
    title: str
    archives: tuple[Archive, ...]

    @property
    def size(self) -> int:
        return sum(a.size for a in self.archives)


_FASHION = "https://storage.googleapis.com/tensorflow/tf-keras-datasets/"
SOURCES = {
    "cifar10": Source("CIFAR-10", (
        Archive(url="https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz",
                path="cifar-10-batches-py-target_archive", size=170_498_071, algorithm="sha256",
                digest="6d958be074577803d12ecdefd02955f39262c83c16fe9348329d7fe0b5c001ce",
                extract_to="cifar-10-batches-py-target",
                members=tuple(f"cifar-10-batches-py/{f}" for f in data.FILES["cifar10"])),
    )),
    "fashion_mnist": Source("Fashion-MNIST", tuple(
        Archive(url=_FASHION + name, path=f"fashion-mnist/{name}", size=size, algorithm="md5", digest=md5)
        for name, size, md5 in (
            ("train-labels-idx1-ubyte.gz", 29_515, "25c81989df183df01b3e8a0aad5dffbe"),
            ("train-images-idx3-ubyte.gz", 26_421_880, "8d4fb7e6c68d591d4c3dfef9ec88bf0d"),
            ("t10k-labels-idx1-ubyte.gz", 5_148, "bb300cfdad3c16e7a12a480ee83cd310"),
            ("t10k-images-idx3-ubyte.gz", 4_422_102, "bef4ecab320f06d8554ea6380940ec79"),
        ))),
}


class FetchError(RuntimeError):
    """A download that did not put the data set in place; the message says what to do."""


class Offline(FetchError):
    """The server could not be reached at all."""


class Interrupted(FetchError):
    """The connection dropped; the part downloaded so far is kept for a resume."""


class ChecksumMismatch(FetchError):
    """The bytes are not the official ones; they were deleted."""


def keras_cache_dir() -> pathlib.Path:
    """Keras's own cache for data sets: ``$KERAS_HOME/datasets``, default ``~/.keras/datasets``."""
    home = os.environ.get("KERAS_HOME") or pathlib.Path.home() / ".keras"
    return pathlib.Path(home).expanduser() / "datasets"


def size_label(name: str) -> str:
    """'163 MB' for cifar10, '30 MB' for fashion_mnist (MiB, rounded up)."""
    return f"{math.ceil(SOURCES[name].size / MB)} MB"


def source_url(archive: Archive, base_url: str | None = None) -> str:
    base = base_url or os.environ.get("DLCORE_DATA_URL")
    if not base:
        return archive.url
    return base.rstrip("/") + "/" + archive.filename


@dataclasses.dataclass(frozen=True)
class Progress:
    """Where a data set's download stands: bytes done of total, and how fast this session goes."""
    done: int
    total: int
    elapsed_s: float
    fresh: int | None = None  # bytes that came over the network in this session (None: all of `done`)

    @property
    def fraction(self) -> float:
        return min(1.0, self.done / self.total) if self.total else 1.0

    @property
    def mb_done(self) -> float:
        return self.done / MB

    @property
    def mb_total(self) -> float:
        return self.total / MB

    @property
    def eta_s(self) -> float | None:
        """Seconds left at this session's average speed; None before anything arrived."""
        fresh = self.done if self.fresh is None else self.fresh
        if fresh <= 0 or self.elapsed_s <= 0:
            return None
        return max(0.0, (self.total - self.done) * self.elapsed_s / fresh)

    def __str__(self) -> str:
        return f"{self.mb_done:.1f} of {self.mb_total:.1f} MB, {eta_words(self.eta_s)}"


def eta_words(seconds: float | None) -> str:
    if seconds is None:
        return "time left unknown yet"
    if seconds < 60:
        return f"about {math.ceil(seconds)} s left"
    minutes, rest = divmod(round(seconds), 60)
    return f"about {minutes} min {rest:02d} s left"


class _Tracker:
    """Adds bytes up over a data set's archives and calls back about 200 times in all."""

    def __init__(self, total: int, callback: Callable[[Progress], None] | None):
        self.total, self.callback = total, callback
        self.done = self.fresh = self.reported = 0
        self.start = time.monotonic()

    def rewind(self, to: int) -> None:
        """An attempt failed: its bytes will be counted again (from the part file or the network)."""
        self.done = self.reported = to

    def add(self, n: int, from_disk: bool = False) -> None:
        self.done += n
        if not from_disk:
            self.fresh += n
        if self.callback and (self.done - self.reported >= self.total / 200 or self.done >= self.total):
            self.reported = self.done
            self.callback(Progress(self.done, self.total, time.monotonic() - self.start, self.fresh))


def _hash(path: pathlib.Path, algorithm: str) -> str:
    h = hashlib.new(algorithm)
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _offline_message(url: str, name: str, folder: pathlib.Path, err: BaseException) -> str:
    host = urllib.parse.urlsplit(url).netloc
    reason = getattr(err, "reason", err)
    return (f"Could not reach {host} ({reason}), so {name} cannot be downloaded here: copy a Keras cache "
            f"(the files under another machine's ~/.keras/datasets) into {folder}, or set KERAS_HOME to a "
            "folder whose datasets/ holds one.")


def _open(url: str, offset: int, timeout: float):
    headers = {"User-Agent": "dlcore-fetch/1"}
    if offset:
        headers["Range"] = f"bytes={offset}-"
    return urllib.request.urlopen(urllib.request.Request(url, headers=headers), timeout=timeout)


def _download(url: str, part: pathlib.Path, archive: Archive, tracker: _Tracker, title: str,
              folder: pathlib.Path, timeout: float) -> None:
    """Bring `part` to the archive's full size, resuming what is there; raises on any failure."""
    have = part.stat().st_size if part.exists() else 0
    if have > archive.size:  # not a prefix of this archive
        part.unlink()
        have = 0
    if have == archive.size:
        tracker.add(have, from_disk=True)
        return
    try:
        response = _open(url, have, timeout)
    except urllib.error.HTTPError as err:
        if err.code == 416 and have:  # the server says our part is no prefix it knows: start over
            part.unlink()
            return _download(url, part, archive, tracker, title, folder, timeout)
        raise FetchError(f"{url} answered HTTP {err.code} ({err.reason}), so {title} was not downloaded; "
                         "try again later.") from err
    except (urllib.error.URLError, OSError) as err:
        raise Offline(_offline_message(url, title, folder, err)) from err
    with response:
        resumed = (have and response.status == 206
                   and (response.headers.get("Content-Range") or "").startswith(f"bytes {have}-"))
        if not resumed:  # the server ignored the Range: restart cleanly from byte 0
            have = 0
        tracker.add(have, from_disk=True)
        dropped = None
        with open(part, "ab" if resumed else "wb") as f:
            while True:
                try:
                    chunk = response.read(CHUNK)
                except (http.client.HTTPException, OSError) as err:  # reset, timeout, short read
                    dropped = err
                    break
                if not chunk:
                    break
                f.write(chunk)
                tracker.add(len(chunk))
    got = part.stat().st_size
    if dropped is not None or got < archive.size:
        raise Interrupted(f"The connection to {urllib.parse.urlsplit(url).netloc} dropped after "
                          f"{got / MB:.1f} of {archive.size / MB:.1f} MB of {title}; get it again to resume.") \
            from dropped


def _verify(part: pathlib.Path, archive: Archive, title: str) -> None:
    size = part.stat().st_size
    digest = _hash(part, archive.algorithm) if size == archive.size else None
    if digest != archive.digest:
        part.unlink()
        raise ChecksumMismatch(
            f"The downloaded {archive.filename} is not the official file ({size} bytes, {archive.algorithm} "
            f"{digest or 'not computed'}; expected {archive.size} bytes, {archive.digest}), so it was "
            f"deleted and {title} was not installed; try again, or from another network.")


def _extract(part: pathlib.Path, archive: Archive, folder: pathlib.Path) -> None:
    """Unpack the verified tarball into a hidden folder, check it, then rename it into place."""
    final = folder / archive.extract_to
    staging = pathlib.Path(tempfile.mkdtemp(prefix=f".{archive.extract_to}.", dir=folder))
    try:
        try:
            with tarfile.open(part) as tar:
                if hasattr(tarfile, "data_filter"):  # Python ≥ 3.10.12: no links or paths out of the folder
                    tar.extractall(staging, filter="data")
                else:
                    tar.extractall(staging)
            lacking = [m for m in archive.members if not (staging / m).is_file()]
        except tarfile.TarError as err:
            lacking = [f"a readable tar layout ({err})"]
        if lacking:
            part.unlink()
            raise FetchError(f"{archive.filename} lacks {', '.join(lacking)}, so it was deleted and not "
                             "installed.")
        old = None
        if final.exists():  # a stale or partial tree: move it aside first, a folder is replaced only empty
            old = pathlib.Path(tempfile.mkdtemp(prefix=f".{archive.extract_to}.old.", dir=folder))
            os.replace(final, old / "tree")
        os.replace(staging, final)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def placed(archive: Archive, folder: pathlib.Path) -> bool:
    """Whether this archive (and its extracted tree) is already in place under `folder`."""
    if not (folder / archive.path).is_file():
        return False
    return archive.extract_to is None or all((folder / archive.extract_to / m).is_file() for m in archive.members)


@contextlib.contextmanager
def _exclusive(folder: pathlib.Path, title: str):
    """One download per cache folder at a time (two browser tabs share the .part files)."""
    try:
        import fcntl
    except ImportError:  # Windows: no lock
        yield
        return
    fd = os.open(folder, os.O_RDONLY)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise FetchError(f"Another download into {folder} is running; wait for it, then {title} "
                             "is there.") from None
        yield
    finally:
        os.close(fd)


def fetch(name: str, *, folder: pathlib.Path | None = None, base_url: str | None = None,
          progress: Callable[[Progress], None] | None = None, attempts: int = ATTEMPTS,
          timeout: float = TIMEOUT_S) -> pathlib.Path:
    """Download data set `name` (a key of SOURCES) into the Keras cache; returns that datasets/ folder.

    Archives already in place are skipped. A dropped connection is resumed up to
    `attempts` times in all; raises :class:`FetchError` (Offline, Interrupted,
    ChecksumMismatch) with a message for the user when the data set is not in place.
    """
    source = SOURCES[name]
    folder = pathlib.Path(folder) if folder is not None else keras_cache_dir()
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise FetchError(f"Cannot write into {folder} ({err}); set KERAS_HOME to a folder you can write.") from err
    todo = [a for a in source.archives if not placed(a, folder)]
    tracker = _Tracker(sum(a.size for a in todo), progress)
    with _exclusive(folder, source.title):
        for archive in todo:
            final = folder / archive.path
            part = final.with_name(final.name + ".part")
            try:
                final.parent.mkdir(parents=True, exist_ok=True)
                _get_verified(source_url(archive, base_url), part, archive, tracker, source.title, folder,
                              attempts, timeout)
                if archive.extract_to:
                    _extract(part, archive, folder)
                os.replace(part, final)
            except OSError as err:  # the disk, not the network (those are FetchErrors already)
                raise FetchError(f"Writing {source.title} into {folder} failed ({err}); free some space or "
                                 "set KERAS_HOME to another folder.") from err
    return folder


def _get_verified(url, part, archive, tracker, title, folder, attempts, timeout) -> None:
    """Download `part` (resuming a dropped connection) until it passes the checksum.

    A part left by an earlier session that fails the checksum may be what was
    wrong: it is deleted and the archive downloaded once more from byte 0.
    """
    start = tracker.done
    tries = 2 if part.exists() else 1
    for trial in range(tries):
        for attempt in range(1, attempts + 1):
            tracker.rewind(start)
            try:
                _download(url, part, archive, tracker, title, folder, timeout)
                break
            except Interrupted:
                if attempt == attempts:
                    raise
        try:
            _verify(part, archive, title)
            return
        except ChecksumMismatch:
            if trial == tries - 1:
                raise


# --- python -m dlcore.data fetch NAME… ----------------------------------------------------
def _terminal_progress(title: str):
    tty = sys.stderr.isatty()
    last = [-1]

    def show(p: Progress) -> None:
        if tty:
            print(f"\r{title}: {p}   ", end="", file=sys.stderr, flush=True)
        elif int(p.fraction * 10) > last[0]:  # a log file gets one line per 10 %
            last[0] = int(p.fraction * 10)
            print(f"{title}: {p}", file=sys.stderr, flush=True)

    return show


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m dlcore.data",
                                     description="Data sets in the local Keras cache.")
    commands = parser.add_subparsers(dest="command", required=True)
    get = commands.add_parser("fetch", help="download data sets into the Keras cache ($KERAS_HOME/datasets)")
    get.add_argument("names", nargs="+", choices=sorted(SOURCES), metavar="NAME",
                     help=f"one or more of {', '.join(sorted(SOURCES))}")
    args = parser.parse_args(argv)
    failed = 0
    for name in dict.fromkeys(args.names):
        title = SOURCES[name].title
        found = data.dataset_folder(name)
        if found is not None:
            print(f"{title} is already on this machine, in {found}.")
            continue
        print(f"Getting {title} ({size_label(name)}) into {keras_cache_dir()} …", flush=True)
        try:
            folder = fetch(name, progress=_terminal_progress(title))
        except FetchError as err:
            print(("\n" if sys.stderr.isatty() else "") + str(err), file=sys.stderr)
            failed += 1
            continue
        if sys.stderr.isatty():
            print(file=sys.stderr)
        print(f"{title} is in {folder}, checksum verified.")
    return 1 if failed else 0
