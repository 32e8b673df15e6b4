"""Where a run's numbers come from: hardware, library versions, code revision."""
from __future__ import annotations

import os
import platform
import subprocess

import numpy as np

from dlcore.engine import runs

pass


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
    if backend == "jax":
        import jax

        devices = jax.devices()
        if devices and devices[0].platform != "cpu":
            gpu = f"{len(devices)} × {devices[0].device_kind}"
    elif backend == "tensorflow":
        import tensorflow as tf

        gpus = tf.config.list_physical_devices("GPU")
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
