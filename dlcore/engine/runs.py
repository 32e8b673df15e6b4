"""Run folders: the on-disk format every live and cached run shares, and its reader.

A run folder holds (JSON only; nothing is pickled or evaluated)::

    spec.json        the experiments.Spec, written once when the run is created
    status.json      {"state", "epoch", "epochs", "pid", "error", "reason", "created",
                      "started", "ended", "heartbeat", "checkpoint_epoch"} — rewritten atomically
    metrics.jsonl    append-only, one JSON object per line:
                       {"event": "batch", "epoch", "step", "loss", "accuracy", "lr", "batch_size", "wall_s"}
                       {"event": "epoch", "epoch", "loss", "accuracy", "val_loss", "val_accuracy",
                        "lr", "batch_size", "samples", "images", "epoch_s", "wall_s", "images_per_s"}
                       {"event": "resume", "epoch"}   (records after `epoch` written before it are superseded)
    provenance.json  hardware, library versions, backend, code revision, seed, times, command
    checkpoint-eNNNN.npz    the latest checkpoint, after epoch NNNN (dlcore.engine.checkpoints;
                            shipped only for unfinished full ResNet runs, see .gitignore)
    cancel           present when a cancel was asked for
    claim            the pump that started the current attempt, and its worker's pid (dlcore.engine.jobs)
    worker.log       the worker's output

`epoch` counts finished epochs from 1. Live runs live in ``runs/`` (git-ignored),
shipped results in ``cached_runs/<experiment>/<run>/``: same format.

The reader never raises on a bad folder. It checks every file against
:mod:`dlcore.engine.run_schema` (types and required fields): a half-written last
metrics line (a worker killed mid-write) is skipped with a `warning`; anything else
that is wrong (no spec.json, bytes that are not UTF-8, ``"epochs": "ten"``, an epoch
record without its epoch) makes the run *damaged*: its `problems` say what is wrong,
its state reads "damaged", the listings leave it out unless asked (the Runs page
asks, so it can be deleted) and the results layer skips it.
"""
from __future__ import annotations

import dataclasses
import datetime as dt
import json
import os
import pathlib
import re
import secrets

import pandas as pd

from dlcore.engine import run_schema

REPO = pathlib.Path(__file__).resolve().parents[2]
STATES = run_schema.STATES
DAMAGED = "damaged"
ACTIVE = ("queued", "running")
_SAFE = re.compile(r"[^A-Za-z0-9_.-]+")


def live_root() -> pathlib.Path:
    return pathlib.Path(os.environ.get("DLCORE_RUNS_DIR", REPO / "runs"))


def cached_root() -> pathlib.Path:
    return pathlib.Path(os.environ.get("DLCORE_CACHED_RUNS_DIR", REPO / "cached_runs"))


def now() -> str:
    return dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")


def safe_name(text: str) -> str:
    """A folder-name-safe version of `text` (no separators, no '..')."""
    name = _SAFE.sub("-", text).strip(".-")
    return name[:80] or "run"


def resolve(root: pathlib.Path, run_id: str) -> pathlib.Path:
    """The folder of `run_id` under `root`; refuses ids that would escape it."""
    root = pathlib.Path(root).resolve()
    path = (root / run_id).resolve()
    if path == root or root not in path.parents:
        raise ValueError(f"run id {run_id!r} points outside {root}")
    return path


def new_run_dir(root: pathlib.Path, experiment: str, name: str, files: dict | None = None) -> pathlib.Path:
    """Create a fresh, uniquely named run folder (safe when two runs start at once).

    With `files` ({file name: JSON object}) the folder appears with them already in
    it: they are written into a hidden folder that is then renamed, so no listing
    ever sees a run folder without its spec.
    """
    root = pathlib.Path(root)
    root.mkdir(parents=True, exist_ok=True)
    stamp = dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    hidden = "." if files else ""
    while True:
        name_ = f"{safe_name(experiment)}__{safe_name(name)}__{stamp}-{secrets.token_hex(3)}"
        path = root / f"{hidden}{name_}"
        try:
            path.mkdir()  # atomic: fails if another process took the name
            break
        except FileExistsError:
            continue
    if not files:
        return path
    for file_name, obj in files.items():
        write_json(path / file_name, obj)
    os.rename(path, root / name_)  # the hidden name was unique, so is the visible one
    return root / name_


def write_json(path: pathlib.Path, obj) -> None:
    """Write JSON atomically: readers see the old or the new file, never half of one."""
    path = pathlib.Path(path)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp")  # threads write too
    tmp.write_text(json.dumps(obj, indent=2, sort_keys=True, default=str))
    os.replace(tmp, path)


def append_jsonl(path: pathlib.Path, obj) -> None:
    with open(path, "a") as f:
        f.write(json.dumps(obj, default=float) + "\n")


def read_json(path: pathlib.Path, warnings: list | None = None) -> dict:
    try:
        value = json.loads(pathlib.Path(path).read_text())
        if not isinstance(value, dict):
            raise ValueError("not a JSON object")
        return value
    except FileNotFoundError:
        return {}
    except (ValueError, OSError) as err:
        if warnings is not None:
            warnings.append(f"{pathlib.Path(path).name} is unreadable ({err}); ignored")
        return {}


def update_status(run_dir: pathlib.Path, **changes) -> dict:
    status = read_json(pathlib.Path(run_dir) / "status.json")
    status.update(changes, updated=now())
    write_json(pathlib.Path(run_dir) / "status.json", status)
    return status


def read_file(path: pathlib.Path) -> tuple[object, str | None]:
    """(the JSON value in `path`, None), or (None, what is wrong); (None, None) when there is no file."""
    path = pathlib.Path(path)
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return None, None
    except OSError as err:
        return None, f"{path.name} cannot be read ({err.strerror or err})"
    try:
        return json.loads(data.decode("utf-8")), None
    except UnicodeDecodeError:
        return None, f"{path.name} holds bytes that are not UTF-8 text"
    except ValueError as err:
        return None, f"{path.name} is not valid JSON ({err})"


def read_status(run_dir: pathlib.Path) -> dict:
    """status.json with its damaged fields dropped ({} when unreadable): what jobs decide on."""
    value, _ = read_file(pathlib.Path(run_dir) / "status.json")
    return run_schema.check_status(value)[1] if value is not None else {}


# Records of each metrics file, by path, while its size and modification time stay the same:
# pages reread every run on each rerun, and the full-length runs hold tens of thousands of lines.
_RECORDS: dict[str, tuple[tuple, list, list, list]] = {}
_RECORDS_KEPT = 128


def read_metrics(run_dir: pathlib.Path) -> tuple[list[dict], list[str], list[str]]:
    """(records, warnings, problems) of a run's metrics.jsonl; superseded records (before a
    resume) dropped, and every line that breaks :mod:`run_schema` too.

    A line that is not JSON (the half-written last line of a killed worker) is a warning;
    a line that is JSON of the wrong shape, or bytes that are not UTF-8, is a problem.
    """
    path = pathlib.Path(run_dir) / "metrics.jsonl"
    try:
        info = path.stat()
        key = (info.st_size, info.st_mtime_ns, info.st_ino)
        cached = _RECORDS.get(str(path))
        if cached and cached[0] == key:
            return list(cached[1]), list(cached[2]), list(cached[3])
        data = path.read_bytes()
    except FileNotFoundError:
        return [], [], []
    except OSError as err:
        return [], [], [f"metrics.jsonl cannot be read ({err.strerror or err})"]
    records, warnings, problems = _parse_metrics(data)
    if len(_RECORDS) >= _RECORDS_KEPT:
        _RECORDS.pop(next(iter(_RECORDS)))
    _RECORDS[str(path)] = (key, records, warnings, problems)
    return list(records), list(warnings), list(problems)


def _parse_metrics(data: bytes) -> tuple[list[dict], list[str], list[str]]:
    records: list[dict] = []
    warnings: list[str] = []
    problems: list[str] = []
    for n, raw in enumerate(data.split(b"\n"), 1):
        if not raw.strip():
            continue
        try:
            rec = json.loads(raw.decode("utf-8"))
        except UnicodeDecodeError:
            problems.append(f"metrics.jsonl line {n} holds bytes that are not UTF-8 text; skipped")
            continue
        except ValueError:
            warnings.append(f"metrics.jsonl line {n} is corrupted or half-written; skipped")
            continue
        wrong = run_schema.check_record(rec, n)
        if wrong:
            problems += [f"{w}; skipped" for w in wrong]
            continue
        if rec["event"] == "resume":
            # The run restarted from the checkpoint after epoch `rec["epoch"]`:
            # what the interrupted attempt wrote beyond it is superseded.
            # Batch records carry the 1-based epoch in progress, epoch records the
            # epoch they finished, so one rule drops both kinds.
            records = [r for r in records if r["epoch"] <= rec["epoch"]]
            continue
        records.append(rec)
    return records, warnings, problems


def read_records(run_dir: pathlib.Path, warnings: list | None = None) -> list[dict]:
    """The metric records of a run, with superseded ones (before a resume) dropped.

    A line that is not valid JSON (say, the half-written last line of a killed
    worker), or not a valid record, is skipped, with a warning in `warnings`.
    """
    records, notes, problems = read_metrics(run_dir)
    if warnings is not None:
        warnings += notes + problems
    return records


@dataclasses.dataclass
class Run:
    """One run folder, read (and checked: `problems` says what is damaged, if anything)."""
    path: pathlib.Path
    source: str                  # "live" or "cached"
    spec: dict
    status: dict
    provenance: dict
    warnings: list
    problems: list = dataclasses.field(default_factory=list)

    @property
    def run_id(self) -> str:
        root = live_root() if self.source == "live" else cached_root()
        try:
            return str(self.path.relative_to(root))
        except ValueError:
            return self.path.name

    @property
    def damaged(self) -> bool:
        return bool(self.problems)

    @property
    def state(self) -> str:
        return DAMAGED if self.problems else self.status.get("state", "unknown")

    @property
    def preset(self) -> str:
        return self.spec.get("preset", "?")

    @property
    def title(self) -> str:
        if "experiment" not in self.spec or "name" not in self.spec:
            return self.path.name
        return f"{self.spec['experiment']}/{self.spec['name']}"

    @property
    def cancel_requested(self) -> bool:
        return (self.path / "cancel").exists() and self.state in ACTIVE

    @property
    def epochs_done(self) -> int:
        return int(self.status.get("epoch") or 0)

    @property
    def epochs_planned(self) -> int:
        return int(self.status.get("epochs") or self.spec.get("epochs") or 0)

    @property
    def cut_short(self) -> bool:
        """Stopped before its planned length for a reason other than its own stop rule."""
        return self.state in ("cancelled", "failed") and self.epochs_done < self.epochs_planned

    @property
    def length_note(self) -> str:
        """How much of its planned length a run did, in words ('' for a complete run)."""
        reason = self.status.get("reason")
        if self.damaged:
            return "damaged: " + "; ".join(self.problems)
        if self.cut_short:
            return f"cut short: {self.epochs_done} of {self.epochs_planned} epochs ({self.state})"
        if self.state == "finished" and reason:
            return f"stopped early: {reason}"
        return ""

    def records(self) -> list[dict]:
        """The valid metric records, read now (a live run grows); see :func:`read_metrics`."""
        return read_metrics(self.path)[0]

    def epochs(self) -> pd.DataFrame:
        """One row per finished epoch."""
        return pd.DataFrame([r for r in self.records() if r["event"] == "epoch"])

    def batches(self) -> pd.DataFrame:
        """One row per logged batch."""
        return pd.DataFrame([r for r in self.records() if r["event"] == "batch"])


FILES = (("spec.json", run_schema.check_spec), ("status.json", run_schema.check_status),
         ("provenance.json", run_schema.check_provenance))


def read_run(path: pathlib.Path, source: str) -> Run | None:
    """Read and check a run folder; None only when `path` is not a folder.

    Never raises: what is wrong with a file goes into the run's `problems` (the run is
    damaged) and the bad parts are dropped, so the fields hold only the types the
    schema names. A folder without spec.json, or without status.json, is damaged.
    """
    path = pathlib.Path(path)
    if not path.is_dir():
        return None
    problems: list[str] = []
    parts = {}
    for name, check in FILES:
        value, wrong = read_file(path / name)
        if wrong:
            problems.append(wrong)
        if value is None:
            if wrong is None and name != "provenance.json":
                problems.append(f"no {name}")
            parts[name] = {}
            continue
        more, parts[name] = check(value)
        problems += more
    _, warnings, more = read_metrics(path)
    problems += more
    return Run(path, source, parts["spec.json"], parts["status.json"], parts["provenance.json"],
               warnings, problems)


def _live_folders() -> list[pathlib.Path]:
    # Hidden folders are runs being created (new_run_dir).
    return [p for p in live_root().iterdir() if p.is_dir() and not p.name.startswith(".")]


def list_runs(include_live: bool = True, include_cached: bool = True,
              include_damaged: bool = False) -> list[Run]:
    """Every run, live first (newest first), then cached (by name).

    Damaged runs (see :func:`read_run`) only with `include_damaged`: the Runs page lists
    them, so they can be deleted; what computes with runs never sees them.
    """
    found: list[Run] = []
    if include_live and live_root().is_dir():
        # Folder names end in their creation stamp (see new_run_dir): newest first.
        folders = sorted(_live_folders(), key=lambda p: p.name.rsplit("__", 1)[-1], reverse=True)
        found += [r for r in (read_run(p, "live") for p in folders) if r is not None]
    if include_cached and cached_root().is_dir():
        folders = sorted(p for p in cached_root().glob("*/*") if p.is_dir() and not p.name.startswith("."))
        found += [r for r in (read_run(p, "cached") for p in folders) if r is not None]
    return [r for r in found if include_damaged or not r.damaged]


def summary(run: Run) -> dict:
    """One table row for a run: what the Runs page and the experiment pages list."""
    epochs = run.epochs()
    last = epochs.iloc[-1].to_dict() if len(epochs) else {}
    total = run.status.get("epochs") or run.spec.get("epochs")
    done = int(last.get("epoch", 0))
    ips = last.get("images_per_s")
    eta = None
    if run.state == "running" and "epoch_s" in epochs and total:
        eta = float(epochs["epoch_s"].tail(3).mean()) * max(0, total - done)
    return {
        "run": run.run_id, "source": run.source, "experiment": run.spec.get("experiment"),
        "name": run.spec.get("name"), "preset": run.preset, "state": run.state,
        "epoch": done, "epochs": total, "progress": min(1.0, done / total) if total else 0.0,
        "loss": last.get("loss"), "accuracy": last.get("accuracy"),
        "val_loss": last.get("val_loss"), "val_accuracy": last.get("val_accuracy"),
        "wall_s": last.get("wall_s"), "images_per_s": ips, "eta_s": eta,
        "hardware": (run.provenance.get("hardware") or {}).get("device"),
        "notes": "; ".join(n for n in (run.spec.get("notes") or "", run.length_note) if n),
        "warnings": len(run.warnings),
    }
