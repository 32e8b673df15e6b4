"""Data-parallel training: every batch split over several devices of one machine (JAX).

``DLCORE_DEVICES=N`` (or ``all``) trains with ``keras.distribution.DataParallel``
over the first N local devices; the default is one device, today's behaviour.
Like ``DLCORE_PRECISION`` it is a hardware setting, not part of the experiment,
and the worker records what it used in provenance (``devices``,
``data_parallel``; ``hardware.devices_available``).

Nothing else changes: the model's variables are replicated, each device
computes the gradient of its shard of the batch, and the mean over devices is
the gradient of the whole batch (batch-norm statistics too are over the whole
batch). The device-resident training set (``DeviceTrainer``'s store, a
non-trainable variable) is replicated like the weights: each device holds a
copy, and gathers its shard of the batch from it. So a run on N devices follows the one-device loss curve within float
noise (``tests/test_data_parallel.py`` checks it on 2 CPU devices with
``XLA_FLAGS=--xla_force_host_platform_device_count=2``).

A batch must split evenly over the devices. The worker uses the largest device
count up to the one asked for that divides every batch of the run (the
training batch, the last short one, the validation batches) and says so when
that is fewer. Keras's distribution API is JAX-only: on TensorFlow, and for
batch growth (whose micro-batches change size), runs use one device and say why.
"""
from __future__ import annotations

import os

from dlcore.engine.experiments import Spec

VALIDATION_BATCH = 512  # the worker's validation_batch_size


def requested_devices(available: int, setting: str | None = None) -> int:
    """How many devices DLCORE_DEVICES asks for ("all", a count, or unset for 1), at most `available`."""
    setting = (setting if setting is not None else os.environ.get("DLCORE_DEVICES", "1")).strip().lower()
    if setting in ("", "1", "off", "none"):
        return 1
    if setting == "all":
        return max(1, available)
    try:
        n = int(setting)
    except ValueError as err:
        raise ValueError(f"DLCORE_DEVICES must be a device count or 'all', not {setting!r}") from err
    if n < 1:
        raise ValueError(f"DLCORE_DEVICES must be at least 1, not {n}")
    return min(n, max(1, available))


def batch_sizes(spec: Spec, n_train: int, n_test: int) -> set[int]:
    """Every batch size the run feeds the model: training (full and last), validation."""
    copies = spec.augment.get("M", 1) if spec.augment.get("name") == "batch_augment" else 1
    sizes = {min(spec.batch_size, n_train) * copies}
    if n_train % spec.batch_size:
        sizes.add(n_train % spec.batch_size * copies)
    if spec.validate and n_test:
        sizes.add(min(VALIDATION_BATCH, n_test))
        if n_test > VALIDATION_BATCH and n_test % VALIDATION_BATCH:
            sizes.add(n_test % VALIDATION_BATCH)
    return sizes


def usable_devices(asked: int, sizes) -> int:
    """The largest device count up to `asked` that divides every batch size."""
    return next(d for d in range(max(1, asked), 0, -1) if all(s % d == 0 for s in sizes))


def plan(spec: Spec, n_train: int, n_test: int, backend: str, available: int,
         setting: str | None = None) -> dict:
    """{"devices", "asked", "note"}: what the run will use, and why when it is not what was asked."""
    asked = requested_devices(available, setting)
    if asked == 1:
        return {"devices": 1, "asked": 1, "note": None}
    if backend != "jax":
        return {"devices": 1, "asked": asked, "note": "data parallelism needs the JAX backend; one device used"}
    if spec.schedule.get("name") == "batch_growth":
        return {"devices": 1, "asked": asked, "note": "batch growth changes the batch size; one device used"}
    devices = usable_devices(asked, batch_sizes(spec, n_train, n_test))
    note = None
    if devices < asked:
        note = (f"{asked} devices asked, {devices} used: every batch "
                f"({', '.join(map(str, sorted(batch_sizes(spec, n_train, n_test))))}) must split evenly")
    return {"devices": devices, "asked": asked, "note": note}


def available_devices() -> int:
    """Local devices of the backend: JAX devices, TensorFlow GPUs, else 1 (the CPU)."""
    import keras

    if keras.backend.backend() == "jax":
        import jax

        return len(jax.local_devices())
    if keras.backend.backend() == "tensorflow":
        import tensorflow as tf

        return max(1, len(tf.config.list_physical_devices("GPU")))
    return 1


def configure(spec: Spec, n_train: int, n_test: int) -> dict:
    """Set Keras's distribution for the run (before its model is built or loaded); returns :func:`plan`."""
    import keras

    choice = plan(spec, n_train, n_test, keras.backend.backend(), available_devices())
    if choice["devices"] > 1:
        import jax

        keras.distribution.set_distribution(
            keras.distribution.DataParallel(devices=jax.local_devices()[:choice["devices"]]))
    if choice["note"]:
        print(f"data parallel: {choice['note']}", flush=True)
    return choice
