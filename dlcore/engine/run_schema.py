"""What the files of a run folder must hold: the fields every reader relies on, and their types.

The run store (:mod:`dlcore.engine.runs`) checks each file against these tables
when it reads a folder. A file that breaks them (``"epochs": "ten"``,
``"hardware": "GPU"``, an epoch record without its epoch) makes the run
*damaged*: it is listed with what is wrong, it can be deleted, and nothing
computes with it. Each check returns the problems in words (empty when the value
is fine) and the value with the bad parts dropped, so even a careless reader of
a damaged run meets only the types it expects.

Fields not named here pass unchecked: a newer worker may record more.
"""
from __future__ import annotations

import math

STATES = ("queued", "running", "finished", "failed", "cancelled")
EVENTS = ("batch", "epoch", "resume")


def _whole(v) -> bool:
    return isinstance(v, int) and not isinstance(v, bool) and v >= 0


def _number(v) -> bool:
    # NaN and ±inf are numbers a diverged run really records (JSON's NaN/Infinity).
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def _finite(v) -> bool:
    return _number(v) and math.isfinite(v)


def _scalar(v) -> bool:
    return v is None or isinstance(v, (str, bool)) or _number(v)


def _scalars(v) -> bool:
    return _scalar(v) or (isinstance(v, list) and all(_scalar(x) for x in v))


# kind: (test, what the value must be, in words). None passes every kind whose field may be empty.
KINDS = {
    "text": (lambda v: isinstance(v, str), "text"),
    "whole": (_whole, "a whole number ≥ 0"),
    "integer": (lambda v: isinstance(v, int) and not isinstance(v, bool), "a whole number"),
    "number": (_number, "a number"),
    "finite": (_finite, "a finite number"),
    "flag": (lambda v: isinstance(v, bool), "true or false"),
    "object": (lambda v: isinstance(v, dict), "an object"),
    "state": (lambda v: v in STATES, f"one of {', '.join(STATES)}"),
    "event": (lambda v: v in EVENTS, f"one of {', '.join(EVENTS)}"),
    "scalars": (_scalars, "a number, text, or a list of them"),
    "numbers": (lambda v: _number(v) or v is None, "a number"),
    "hyper": (lambda v: _number(v) or isinstance(v, bool) or v is None, "a number"),
    "texts": (lambda v: isinstance(v, (str, int, float)) and not isinstance(v, bool), "text"),
}

# field: (kind, required, may be null)
SPEC = {
    "experiment": ("text", True, False), "name": ("text", True, False), "preset": ("text", False, False),
    "dataset": ("text", False, False), "preprocessing": ("text", False, False),
    "subset": ("whole", False, True), "test_subset": ("whole", False, True),
    "model": ("object", False, False), "optimizer": ("object", False, False),
    "schedule": ("object", False, False), "augment": ("object", False, False),
    "stop": ("object", False, False), "epochs": ("whole", False, False),
    "batch_size": ("whole", False, False), "seed": ("integer", False, False),
    "validate": ("flag", False, False), "log_every": ("whole", False, False),
    "steps_per_execution": ("whole", False, False), "notes": ("text", False, True),
}
# The spec's components: their "name" is text, the rest of what they hold is of one kind.
# (An optimizer's hyper-parameters are numbers or flags: pages print them with their symbols.)
COMPONENTS = {"model": "scalars", "optimizer": "hyper", "schedule": "scalars", "augment": "scalars",
              "stop": "scalars"}

STATUS = {
    "state": ("state", True, False), "epoch": ("whole", False, True), "epochs": ("whole", False, True),
    "pid": ("whole", False, True), "pid_started": ("texts", False, True), "error": ("text", False, True),
    "reason": ("text", False, True), "created": ("text", False, True), "started": ("text", False, True),
    "ended": ("text", False, True), "heartbeat": ("text", False, True), "updated": ("text", False, True),
    "checkpoint_epoch": ("whole", False, True), "wall_s": ("finite", False, True),
    "batch": ("whole", False, True), "batches": ("whole", False, True), "traceback": ("text", False, True),
}

PROVENANCE = {
    "hardware": ("object", False, True), "versions": ("object", False, True), "backend": ("text", False, True),
    "code_revision": ("text", False, True), "seed": ("integer", False, True), "preset": ("text", False, True),
    "command": ("text", False, True), "parameters": ("whole", False, True),
    "train_samples": ("whole", False, True), "test_samples": ("whole", False, True),
    "started": ("text", False, True), "ended": ("text", False, True), "wall_s": ("finite", False, True),
    "stop_reason": ("text", False, True), "attempts": ("whole", False, True),
    "epochs_done": ("whole", False, True), "images_per_s": ("number", False, True),
    "precision": ("text", False, True), "steps_per_execution": ("whole", False, True),
}
HARDWARE = {"device": ("text", False, True), "gpu": ("text", False, True), "cpu": ("text", False, True),
            "cpu_cores": ("whole", False, True), "platform": ("text", False, True)}

# Metric records: which event, its epoch (batch records: the epoch in progress, from 1), and numbers.
RECORD = {"event": ("event", True, False), "epoch": ("whole", True, False)}
RECORD_NUMBERS = ("step", "batch", "loss", "accuracy", "val_loss", "val_accuracy", "lr", "batch_size",
                  "samples", "images", "epoch_s", "train_s", "val_s", "wall_s", "images_per_s",
                  "epoch_mean_loss")


def check_fields(value, fields: dict, what: str) -> tuple[list[str], dict]:
    """Problems of the JSON object `value` against `fields`, and `value` without its bad fields."""
    if not isinstance(value, dict):
        return [f"{what} is not a JSON object"], {}
    problems, kept = [], dict(value)
    for name, (kind, required, nullable) in fields.items():
        if name not in value:
            if required:
                problems.append(f"{what} has no {name!r}")
            continue
        v = value[name]
        test, words = KINDS[kind]
        if (v is None and nullable) or (v is not None and test(v)):
            continue
        problems.append(f"{what} field {name!r} must be {words}, not {v!r:.40}")
        del kept[name]
    return problems, kept


def check_spec(value) -> tuple[list[str], dict]:
    problems, kept = check_fields(value, SPEC, "spec.json")
    for part, kind in COMPONENTS.items():
        component = kept.get(part)
        if not isinstance(component, dict):
            continue
        test, words = KINDS[kind]
        bad = [k for k, v in component.items() if k != "name" and not test(v)]
        if "name" in component and not isinstance(component["name"], str):
            bad.append("name")
            words = "text" if bad == ["name"] else words
        if bad:
            problems.append(f"spec.json {part} field(s) {', '.join(map(repr, bad))} must be {words}")
            kept[part] = {k: v for k, v in component.items() if k not in bad}
    return problems, kept


def check_status(value) -> tuple[list[str], dict]:
    return check_fields(value, STATUS, "status.json")


def check_provenance(value) -> tuple[list[str], dict]:
    problems, kept = check_fields(value, PROVENANCE, "provenance.json")
    for part, fields in (("hardware", HARDWARE),):
        if isinstance(kept.get(part), dict):
            more, kept[part] = check_fields(kept[part], fields, f"provenance.json {part}")
            problems += more
    if isinstance(kept.get("versions"), dict) and not all(isinstance(v, str) for v in kept["versions"].values()):
        problems.append("provenance.json versions must be text")
        kept["versions"] = {k: v for k, v in kept["versions"].items() if isinstance(v, str)}
    return problems, kept


def check_record(value, line: int) -> list[str]:
    """Problems of one metrics line (a record with any problem is dropped whole)."""
    what = f"metrics.jsonl line {line}"
    problems, kept = check_fields(value, RECORD, what)
    if problems:
        return problems
    if kept["event"] == "epoch" and kept["epoch"] < 1:
        return [f"{what}: an epoch record counts finished epochs from 1, not {kept['epoch']}"]
    bad = [k for k in RECORD_NUMBERS if k in value and not KINDS["numbers"][0](value[k])]
    return [f"{what} field(s) {', '.join(map(repr, bad))} must be numbers"] if bad else []
