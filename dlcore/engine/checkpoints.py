"""Checkpoints of a run: ``checkpoint-eNNNN.npz`` in the run folder, small enough to ship.

A checkpoint holds what a run needs to continue on another machine, and no more:

- every model variable (weights, batch-norm statistics, the dropout layers'
  seed-generator states), in build order;
- the optimizer's update count and its per-weight state (SGD's momentum,
  Adam's moments…), not its gradient accumulators (zero between updates) nor
  its learning rate (the spec rebuilds it);
- the epoch it was taken after, in the file name and the header, which is
  also the RNG position of the input pipeline: batches of epoch e are a pure
  function of (seed, e, batch), see dlcore.engine.pipeline.

The architecture is not stored: the worker rebuilds the model from the spec
and assigns the arrays in order, checking each shape. Each float array is
stored byte-shuffled (all first bytes, then all second bytes…) and deflated,
which keeps it lossless and about 15 % smaller than raw float32 (ResNet-44 with
SGD momentum: 4.9 MB instead of the 5.9 MB of a ``.keras`` file). The file is
a plain ``.npz`` (nothing pickled) whose ``header`` entry is JSON.

The epoch is in the file name, so the file is its own record: a worker killed
between saving and updating status.json still resumes from the right epoch.
"""
from __future__ import annotations

import dataclasses
import json
import os
import pathlib
import zipfile

import numpy as np

CHECKPOINT_GLOB = "checkpoint-e*"
SUFFIXES = (".npz", ".keras")       # .keras: checkpoints written before this format, still read
FORMAT = 1
# The most a shipped checkpoint may weigh (cached_runs/ travels to every GPU call, 64 MiB in all).
SHIP_LIMIT_BYTES = 10_000_000


@dataclasses.dataclass
class State:
    """A run's trainable state after `epoch` finished epochs, copied to host memory."""
    epoch: int
    model: list                 # numpy arrays, model.variables order
    iterations: int             # optimizer updates so far
    slots: list                 # numpy arrays, the optimizer's per-weight state
    paths: list                 # the variables' paths (for error messages only)

    @property
    def nbytes(self) -> int:
        return sum(a.nbytes for a in self.model + self.slots)


def slot_variables(optimizer) -> list:
    """The optimizer's per-weight state, without its counter, rate or gradient accumulators."""
    skip = [getattr(optimizer, "_iterations", None), getattr(optimizer, "_learning_rate", None),
            *getattr(optimizer, "_accumulated_gradients", [])]
    ids = {id(v) for v in skip if v is not None}
    return [v for v in optimizer.variables if id(v) not in ids]


def capture(model, epoch: int) -> State:
    """Copy the model's and optimizer's state to host memory (one device sync)."""
    import keras

    opt = model.optimizer
    if not opt.built:
        opt.build(model.trainable_variables)
    variables = list(model.variables)
    return State(epoch=int(epoch),
                 model=[np.array(keras.ops.convert_to_numpy(v)) for v in variables],
                 iterations=int(keras.ops.convert_to_numpy(opt.iterations)),
                 slots=[np.array(keras.ops.convert_to_numpy(v)) for v in slot_variables(opt)],
                 paths=[v.path for v in variables])


def checkpoint_name(epoch: int) -> str:
    return f"checkpoint-e{epoch:04d}.npz"


def _shuffled(a: np.ndarray) -> np.ndarray:
    a = np.ascontiguousarray(a)
    return a.view(np.uint8).reshape(-1, a.itemsize).T.copy() if a.size else a.view(np.uint8).reshape(-1)


def _unshuffled(b: np.ndarray, dtype: str, shape) -> np.ndarray:
    dtype = np.dtype(dtype)
    return np.ascontiguousarray(b.reshape(dtype.itemsize, -1).T).view(dtype).reshape(shape)


def write(run_dir: pathlib.Path, state: State, meta: dict | None = None) -> pathlib.Path:
    """Write `state` atomically as the run's checkpoint and remove older ones."""
    run_dir = pathlib.Path(run_dir)
    entries = [(f"m{i:04d}", a) for i, a in enumerate(state.model)] + \
              [(f"o{i:04d}", a) for i, a in enumerate(state.slots)]
    header = {"format": FORMAT, "epoch": state.epoch, "next_epoch": state.epoch, "iterations": state.iterations,
              "rng": "input batches are a pure function of (seed, epoch, batch); the model's seed-generator "
                     "states are among its variables",
              "arrays": {name: [str(a.dtype), list(a.shape)] for name, a in entries},
              "paths": state.paths, **(meta or {})}
    tmp = run_dir / f".checkpoint.{os.getpid()}.tmp"
    with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=1) as zf:
        with zf.open("header.npy", "w") as f:
            np.lib.format.write_array(f, np.frombuffer(json.dumps(header).encode(), dtype=np.uint8))
        for name, a in entries:
            with zf.open(f"{name}.npy", "w", force_zip64=True) as f:
                np.lib.format.write_array(f, _shuffled(a))
    final = run_dir / checkpoint_name(state.epoch)
    os.replace(tmp, final)
    remove_checkpoints(run_dir, keep=state.epoch)
    return final


def read(path: pathlib.Path) -> tuple[dict, State]:
    """(header, state) of a checkpoint file."""
    with np.load(path, allow_pickle=False) as z:
        header = json.loads(z["header"].tobytes())
        if header.get("format") != FORMAT:
            raise ValueError(f"{pathlib.Path(path).name}: unknown checkpoint format {header.get('format')!r}")
        arrays = {name: _unshuffled(z[name], dtype, shape) for name, (dtype, shape) in header["arrays"].items()}
    model = [arrays[n] for n in sorted(arrays) if n.startswith("m")]
    slots = [arrays[n] for n in sorted(arrays) if n.startswith("o")]
    return header, State(header["epoch"], model, header["iterations"], slots, header.get("paths", []))


def restore(model, state: State) -> None:
    """Assign `state` to a freshly built and compiled model of the same spec."""
    opt = model.optimizer
    if not opt.built:
        opt.build(model.trainable_variables)
    for kind, variables, arrays in (("model", list(model.variables), state.model),
                                    ("optimizer", slot_variables(opt), state.slots)):
        if len(variables) != len(arrays):
            raise ValueError(f"the checkpoint holds {len(arrays)} {kind} variables, this model has "
                             f"{len(variables)}: it was taken from another architecture or optimizer")
        for v, a in zip(variables, arrays):
            if tuple(v.shape) != tuple(a.shape):
                raise ValueError(f"checkpoint variable {v.path} has shape {tuple(a.shape)}, the model's "
                                 f"{tuple(v.shape)}")
            v.assign(a)
    # Keras counts micro-steps in `_iterations` when it accumulates gradients (`iterations` divides).
    opt._iterations.assign(state.iterations * (getattr(opt, "gradient_accumulation_steps", None) or 1))


def save_checkpoint(model, run_dir: pathlib.Path, epoch: int, meta: dict | None = None) -> pathlib.Path:
    return write(run_dir, capture(model, epoch), meta)


def latest_checkpoint(run_dir: pathlib.Path) -> tuple[int, pathlib.Path] | None:
    """(epoch, path) of the newest complete checkpoint, or None."""
    found = []
    for path in pathlib.Path(run_dir).glob(CHECKPOINT_GLOB):
        if path.suffix not in SUFFIXES:
            continue
        try:
            found.append((int(path.stem.removeprefix("checkpoint-e")), path))
        except ValueError:
            continue
    return max(found) if found else None


def remove_checkpoints(run_dir: pathlib.Path, keep: int | None = None) -> None:
    for path in pathlib.Path(run_dir).glob(CHECKPOINT_GLOB):
        if keep is None or path.name != checkpoint_name(keep):
            path.unlink(missing_ok=True)


def load_into(model, path: pathlib.Path):
    """The model to continue training: `model` with the checkpoint's state, or the legacy ``.keras`` model."""
    path = pathlib.Path(path)
    if path.suffix == ".keras":
        import keras

        from dlcore.keras_parts import schedules as keras_schedules  # noqa: F401  (register custom objects)

        return keras.saving.load_model(path)
    restore(model, read(path)[1])
    return model


def load_checkpoint(path: pathlib.Path):
    """A legacy ``.keras`` checkpoint as a compiled model (new checkpoints go through :func:`load_into`)."""
    import keras

    from dlcore.keras_parts import schedules as keras_schedules  # noqa: F401  (register custom objects)

    return keras.saving.load_model(path)
