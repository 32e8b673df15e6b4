"""Tiny CIFAR-10 and Fashion-MNIST archives in the official layout, and a local HTTP server for them.

The archives are what www.cs.toronto.edu and storage.googleapis.com serve, only
small: a ``cifar-10-python.tar.gz`` holding ``cifar-10-batches-py/`` with the
official pickled batches, and the four gzipped IDX files of Fashion-MNIST.
:func:`sources` gives the matching ``fetch.SOURCES`` (official layout, these
archives' sizes and checksums). The server listens on 127.0.0.1 only; it
honours Range requests, and can drop a connection halfway or ignore Range,
once per request asked for.
"""
from __future__ import annotations

import dataclasses
import gzip
import hashlib
import http.server
import io
import pickle
import socket
import tarfile
import threading
import time

import numpy as np

from dlcore.engine import fetch


def cifar_batches(n: int = 20, seed: int = 0) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """name -> (x uint8 (n, 32, 32, 3), y int64 (n,)) for the five training batches and the test batch."""
    rng = np.random.default_rng(seed)
    names = [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]
    return {name: (rng.integers(0, 256, size=(n, 32, 32, 3), dtype=np.uint8), np.arange(n, dtype=np.int64) % 10)
            for name in names}


def cifar_tarball(batches, leave_out: tuple[str, ...] = ()) -> bytes:
    """The official cifar-10-python.tar.gz layout: cifar-10-batches-py/<batch> pickles (R, G, B planes)."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        members = {name: {b"batch_label": name.encode(), b"labels": [int(v) for v in y],
                          b"data": x.transpose(0, 3, 1, 2).reshape(len(x), 3072), b"filenames": []}
                   for name, (x, y) in batches.items()}
        members["batches.meta"] = {b"label_names": [b"airplane"] * 10, b"num_vis": 3072}
        for name, content in members.items():
            if name in leave_out:
                continue
            raw = pickle.dumps(content, protocol=2)
            info = tarfile.TarInfo(f"cifar-10-batches-py/{name}")
            info.size = len(raw)
            tar.addfile(info, io.BytesIO(raw))
    return buffer.getvalue()


def idx_gz(array: np.ndarray) -> bytes:
    """An IDX file (the MNIST format: magic 0x0000 08 ndim, big-endian dims, uint8 data), gzipped."""
    header = bytes([0, 0, 8, array.ndim]) + b"".join(int(d).to_bytes(4, "big") for d in array.shape)
    return gzip.compress(header + array.astype(np.uint8).tobytes(), mtime=0)


def fashion_files(n: int = 30, seed: int = 1) -> tuple[dict[str, bytes], tuple]:
    """The four Fashion-MNIST files, and ((x_train, y_train), (x_test, y_test)) they hold."""
    rng = np.random.default_rng(seed)
    x_train = rng.integers(0, 256, size=(n, 28, 28), dtype=np.uint8)
    x_test = rng.integers(0, 256, size=(n // 3, 28, 28), dtype=np.uint8)
    y_train, y_test = np.arange(n) % 10, np.arange(n // 3) % 10
    files = {"train-images-idx3-ubyte.gz": idx_gz(x_train), "train-labels-idx1-ubyte.gz": idx_gz(y_train),
             "t10k-images-idx3-ubyte.gz": idx_gz(x_test), "t10k-labels-idx1-ubyte.gz": idx_gz(y_test)}
    return files, ((x_train, y_train), (x_test, y_test))


def sources(files: dict[str, bytes]) -> dict[str, fetch.Source]:
    """fetch.SOURCES for these files: the official paths and algorithms, these sizes and checksums."""
    def matching(archive: fetch.Archive) -> fetch.Archive:
        blob = files[archive.filename]
        return dataclasses.replace(archive, size=len(blob), digest=hashlib.new(archive.algorithm, blob).hexdigest())

    return {name: dataclasses.replace(s, archives=tuple(matching(a) for a in s.archives))
            for name, s in fetch.SOURCES.items()}


@dataclasses.dataclass
class Request:
    path: str
    range: str | None
    status: int
    sent: int


class Server:
    """Serves `files` (name -> bytes) at http://127.0.0.1:PORT/NAME in a thread.

    port 0 picks a free one; bytes_per_s slows the bodies down (to watch a progress bar).
    """

    def __init__(self, files: dict[str, bytes], port: int = 0, bytes_per_s: float | None = None):
        self.files = dict(files)
        self.log: list[Request] = []
        self.drop_next: dict[str, int] = {}  # name -> bytes to send before dropping the next request for it
        self.ignore_range = False
        server = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *args):  # quiet
                pass

            def do_GET(self):
                name = self.path.lstrip("/")
                if name not in server.files:
                    self.send_error(404)
                    server.log.append(Request(name, self.headers.get("Range"), 404, 0))
                    return
                blob = server.files[name]
                wanted = self.headers.get("Range")
                start = 0
                if wanted and not server.ignore_range:
                    start = int(wanted.removeprefix("bytes=").split("-")[0])
                    if start >= len(blob):
                        self.send_error(416)
                        server.log.append(Request(name, wanted, 416, 0))
                        return
                    self.send_response(206)
                    self.send_header("Content-Range", f"bytes {start}-{len(blob) - 1}/{len(blob)}")
                else:
                    self.send_response(200)
                    self.send_header("Accept-Ranges", "none" if server.ignore_range else "bytes")
                body = blob[start:]
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                cut = server.drop_next.pop(name, None)
                if cut is not None:
                    body = body[:cut]
                    self.close_connection = True
                step = max(1, int(bytes_per_s / 20)) if bytes_per_s else len(body) or 1
                for at in range(0, len(body), step):
                    self.wfile.write(body[at:at + step])
                    if bytes_per_s:
                        time.sleep(step / bytes_per_s)
                self.wfile.flush()
                if cut is not None:  # the connection breaks mid-body
                    self.connection.shutdown(socket.SHUT_RDWR)
                server.log.append(Request(name, wanted, 206 if start else 200, len(body)))

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/"
        self.thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05},
                                       daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(timeout=10)


def closed_port_url() -> str:
    """A URL on 127.0.0.1 where nothing listens: connecting is refused at once, as without a network."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}/"
