"""Checkpoints of a run: ``checkpoint-eNNNN.keras`` files in the run folder.

The epoch is in the file name, so the file is its own record.
"""
from __future__ import annotations

import os
import pathlib

CHECKPOINT_GLOB = "checkpoint-e*.keras"


def latest_checkpoint(run_dir: pathlib.Path) -> tuple[int, pathlib.Path] | None:
    """(epoch, path) of the newest complete checkpoint, or None.

    The epoch is in the file name, so the file is its own record: a worker killed
    between saving and updating status.json still resumes from the right epoch.
    """
    found = []
    for path in pathlib.Path(run_dir).glob(CHECKPOINT_GLOB):
        try:
            found.append((int(path.stem.removeprefix("checkpoint-e")), path))
        except ValueError:
            continue
    return max(found) if found else None


def save_checkpoint(model, run_dir: pathlib.Path, epoch: int) -> None:
    tmp = run_dir / f".checkpoint.{os.getpid()}.tmp.keras"
    model.save(tmp)
    os.replace(tmp, run_dir / f"checkpoint-e{epoch:04d}.keras")
    remove_checkpoints(run_dir, keep=epoch)


def remove_checkpoints(run_dir: pathlib.Path, keep: int | None = None) -> None:
    for path in pathlib.Path(run_dir).glob(CHECKPOINT_GLOB):
        if keep is None or path.name != f"checkpoint-e{keep:04d}.keras":
            path.unlink(missing_ok=True)


def load_checkpoint(path: pathlib.Path):
    import keras

    from dlcore.keras_parts import schedules as keras_schedules  # noqa: F401  (register custom objects)

    return keras.saving.load_model(path)
