"""What a run folder looks like on disk now: a key for caching what is computed from it.

A page that turns runs into tables and charts keeps the result (st.cache_data) under the runs'
versions, and computes it again only when a file of one of them changed: a finished run's
curves are built once, a live run's whenever it writes a line.
"""
from __future__ import annotations

import pathlib
from collections.abc import Iterable

from dlcore.engine import runs

# Every file whose change changes what is shown of a run (runs.read_run, Run.records, Run.cancel_requested).
FILES = tuple(name for name, _ in runs.FILES) + ("metrics.jsonl", "cancel")


def folder_version(path: pathlib.Path | str) -> tuple:
    """(size, modification time in ns) of each of the run folder's FILES, None for a missing one."""
    version = []
    for name in FILES:
        try:
            info = (pathlib.Path(path) / name).stat()
        except OSError:
            version.append(None)
        else:
            version.append((info.st_size, info.st_mtime_ns))
    return tuple(version)


def run_version(run: runs.Run) -> tuple:
    """(where the run is, live or cached, its folder_version): equal while nothing shown of it changed."""
    return str(run.path), run.source, folder_version(run.path)


def versions(runs_list: Iterable[runs.Run]) -> tuple:
    """The run_version of each run, in order (a list that gains, loses or reorders runs changes too)."""
    return tuple(run_version(r) for r in runs_list)


def tree_version(root: pathlib.Path | str) -> tuple:
    """The folder_version of every run folder under `root` (<experiment>/<run>/, as cached_runs/ holds them)."""
    root = pathlib.Path(root)
    if not root.is_dir():
        return ()
    return tuple((str(p), folder_version(p)) for p in sorted(root.glob("*/*")) if p.is_dir())
