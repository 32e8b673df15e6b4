"""Where a run's numbers come from: hardware, library versions, code revision."""
from __future__ import annotations

import os
import platform
import subprocess

import numpy as np

from dlcore.engine import runs


def code_revision() -> str:
    if os.environ.get("DLCORE_CODE_REVISION"):
        return os.environ["DLCORE_CODE_REVISION"]
    try:
        rev = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=runs.REPO, capture_output=True,
                             text=True, timeout=5).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no", "dlcore"],
                               cwd=runs.REPO, capture_output=True, text=True, timeout=5).stdout.strip()
        return (rev + ("+uncommitted" if dirty else "")) or "unknown"
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def hardware() -> dict:
    import keras

    backend = keras.backend.backend()
    gpu = None
    devices = 1  # what data parallelism could split a batch over (dlcore.engine.data_parallel)
    if backend == "jax":
        import jax

        devices = jax.devices()
        if devices and devices[0].platform != "cpu":
            gpu = f"{len(devices)} × {devices[0].device_kind}"
        devices = len(devices)
    elif backend == "tensorflow":
        import tensorflow as tf

        gpus = tf.config.list_physical_devices("GPU")
        devices = max(1, len(gpus))
        if gpus:
            gpu = f"{len(gpus)} × " + tf.config.experimental.get_device_details(gpus[0]).get("device_name", "GPU")
    cpu = platform.processor() or platform.machine()
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return {"device": gpu or f"CPU ({cores} cores)", "gpu": gpu, "cpu": cpu, "cpu_cores": cores,
            "devices_available": devices,
            "platform": platform.platform()}


def versions() -> dict:
    import keras

    out = {"python": platform.python_version(), "numpy": np.__version__, "keras": keras.__version__,
           "backend": keras.backend.backend()}
    try:
        if out["backend"] == "jax":
            import jax

            out["jax"] = jax.__version__
        elif out["backend"] == "tensorflow":
            import tensorflow as tf

            out["tensorflow"] = tf.__version__
    except ImportError:
        pass
    return out


# --- Attempts: a run can train on several machines, one attempt each ----------------------------
ATTEMPT_FIELDS = ("started", "ended", "device", "backend", "precision", "code_revision", "steps_per_execution",
                  "epoch_from", "epoch_to", "state", "wall_s", "images_per_s")


def attempt_log(record: dict) -> list[dict]:
    """Every attempt of a run, oldest first: where, on what, and which epochs (from–to) it trained.

    Provenance written before attempts were logged holds one attempt in its top-level
    fields; it is reconstructed from them (marked ``reconstructed``).
    """
    log = record.get("attempt_log")
    if isinstance(log, list):
        return [a for a in log if isinstance(a, dict)]
    if not record.get("started"):
        return []
    hardware = record.get("hardware") if isinstance(record.get("hardware"), dict) else {}
    return [{"attempt": 1, "started": record.get("started"), "ended": record.get("ended"),
             "device": hardware.get("device"), "backend": record.get("backend"),
             "precision": record.get("precision", "float32"), "code_revision": record.get("code_revision"),
             "steps_per_execution": record.get("steps_per_execution", 1), "epoch_from": 0,
             "epoch_to": record.get("epochs_done"), "wall_s": record.get("wall_s"),
             "images_per_s": record.get("images_per_s"), "reconstructed": True}]


def begin_attempt(record: dict, epoch_from: int, precision: str, restarted: bool = False) -> dict:
    """Append the attempt starting now (after `epoch_from` finished epochs) to ``record["attempt_log"]``.

    `restarted`: the run had finished epochs but no checkpoint, so it starts again
    from epoch 0 and the earlier attempts' epochs are superseded (and marked so).
    """
    log = attempt_log(record)
    if restarted:
        for earlier in log:
            earlier.setdefault("superseded", "kept no checkpoint, so the run started again from epoch 0")
    log.append({"attempt": len(log) + 1, "started": runs.now(), "ended": None,
                "device": (record.get("hardware") or {}).get("device"), "backend": record.get("backend"),
                "precision": precision, "code_revision": record.get("code_revision"),
                "steps_per_execution": record.get("steps_per_execution", 1),
                "epoch_from": int(epoch_from), "epoch_to": None, "state": "running"})
    record["attempt_log"] = log
    return log[-1]


def end_attempt(record: dict, epoch_to: int, state: str, wall_s: float | None = None,
                images_per_s: float | None = None) -> dict:
    """Close the last attempt: when it ended, how it ended, and the epoch it got to."""
    last = record["attempt_log"][-1]
    last.update(ended=runs.now(), epoch_to=int(epoch_to), state=state, wall_s=wall_s, images_per_s=images_per_s)
    return last
