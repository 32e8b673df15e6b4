"""How close does the whole engine get to the model's own speed? ResNet-44 at M = 1, 4, 16.

For each M (batch 64 samples, so 64·M images a step), side by side in one process:

- **engine**: ``dlcore.engine.worker.run`` on a temp run folder: the real worker,
  with its input pipeline, streaming (a metrics line every `log_every` batches),
  cancel checks, checkpoints and provenance. Images/s over epochs 2 … E+1, timed
  from the moment epoch 1's metrics line appears to the moment the worker
  returns (so compiling stays out, every checkpoint save and fit() call stays in).
- **ceiling**: the same model (``model_setup.build_model``), the same compiled
  train step (``model.train_function``, same ``steps_per_execution``) called on
  one pre-made batch that sits on the device, repeated: no input pipeline, no
  callbacks, one sync at the end.

Prints engine/ceiling per M with the device, backend and precision.
Targets (issue 17): ≥ 0.9 on a CPU (TensorFlow) and on a GPU (JAX).

    python benchmarks/throughput.py [--steps 5] [--epochs 2] [--Ms 1,4,16] [--depth 44]
    KERAS_BACKEND=jax python benchmarks/throughput.py --steps 5
    DLCORE_PRECISION=mixed_bfloat16 KERAS_BACKEND=jax python benchmarks/throughput.py --steps 50   # GPU

`--steps` is the steps of one epoch (CIFAR-10 subsets come in multiples of 5
steps; without a local CIFAR-10 the synthetic set has 4). On 2 CPU cores the
defaults take a few minutes, most of it compiling.
"""
from __future__ import annotations

import argparse
import math
import os
import pathlib
import sys
import tempfile
import threading
import time

ROOT = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402

from dlcore.engine import data, experiments, jobs, model_setup, pipeline, runs, worker  # noqa: E402

BATCH = 64


def bench_spec(M: int, steps: int, epochs: int, depth: int, spe: int | None) -> experiments.Spec:
    """The full-preset ResNet spec of M, on a training subset of `steps` batches of 64, no validation."""
    spec = experiments.resnet_runs("full", Ms=(M,))[0]
    if data.is_available("cifar10"):
        per_class = 32 * max(1, math.ceil(steps / 5))     # 320 images = 5 full batches of 64
        changes = dict(dataset="cifar10", subset=per_class, test_subset=10)
    else:
        changes = dict(dataset="synthetic_cifar10", subset=None, test_subset=None)   # 256 images: 4 batches
    n_train = 10 * changes["subset"] if changes["subset"] else 256
    steps = math.ceil(n_train / BATCH)
    changes.update(epochs=1 + epochs, validate=False, log_every=min(spec.log_every, steps),
                   model={"depth": depth}, name=f"M{M}_bench")
    if spe:
        changes["steps_per_execution"] = spe
    return spec.replace(**changes)


def _first_epoch_line(path: pathlib.Path, found: dict, stop: threading.Event) -> None:
    """Note the time epoch 1's line appears in `path` (a stat every 5 ms)."""
    size = -1
    while not stop.is_set():
        try:
            now = path.stat().st_size
        except FileNotFoundError:
            now = -1
        if now != size:
            size = now
            if '"event": "epoch"' in path.read_text():
                found["t"], found["cpu"] = time.perf_counter(), time.process_time()
                return
        time.sleep(0.005)


def engine(spec: experiments.Spec, root: pathlib.Path) -> dict:
    """Images/s of the worker over epochs 2 … E+1, and what the run recorded."""
    run_dir = jobs.create(spec, root=root)
    found, stop = {}, threading.Event()
    watcher = threading.Thread(target=_first_epoch_line, args=(run_dir / "metrics.jsonl", found, stop), daemon=True)
    watcher.start()
    t0 = time.perf_counter()
    state = worker.run(run_dir)
    t_end, cpu_end = time.perf_counter(), time.process_time()
    stop.set()
    watcher.join()
    if state != "finished":
        raise RuntimeError(f"the benchmark run ended {state}: {runs.read_json(run_dir / 'status.json').get('error')}")
    epochs = runs.read_run(run_dir, "live").epochs()
    images = float(epochs["images"].iloc[1:].sum())
    prov = runs.read_json(run_dir / "provenance.json")
    return {"ips": images / (t_end - found["t"]), "cpu_ips": images / (cpu_end - found["cpu"]),
            "first_epoch_s": found["t"] - t0,
            "recorded_ips": float(epochs["images_per_s"].iloc[1:].median()),
            "precision": prov.get("precision", "float32"), "device": prov["hardware"]["device"],
            "spe": prov.get("steps_per_execution", spec.steps_per_execution)}


def one_batch(spec: experiments.Spec):
    """One augmented training batch (64·M images) of the spec, as float32 NumPy."""
    arrays = data.prepare(spec.dataset, spec.preprocessing, spec.subset, spec.test_subset)
    x, y = arrays["x_train"][:BATCH], arrays["y_train"][:BATCH]
    return pipeline.augment_batch(spec, x, y, pipeline.batch_rng(spec.seed, 0, 0)), x.shape[1:]


def ceiling(spec: experiments.Spec, steps: int) -> dict:
    """Images/s (per second of wall clock and of process CPU time) of the model's compiled train step
    on one device-resident batch, repeated `steps` times."""
    import keras

    keras.utils.set_random_seed(spec.seed)
    keras.mixed_precision.set_global_policy(os.environ.get("DLCORE_PRECISION", "float32"))
    (xb, yb), shape = one_batch(spec)
    model = model_setup.build_model(spec, shape, 782)
    x, y = keras.ops.convert_to_tensor(xb), keras.ops.convert_to_tensor(yb.astype(np.int32))
    model.train_on_batch(x, y)                  # builds, compiles
    spe = spec.steps_per_execution
    calls = max(2, math.ceil(steps / spe))
    if keras.backend.backend() == "jax":
        import jax

        state = model._get_jax_state(trainable_variables=True, non_trainable_variables=True,
                                     optimizer_variables=True, metrics_variables=True)
        batch = (x, y)

        def run(n):
            nonlocal state
            for _ in range(n):
                _, state = model.train_function(state, iter([batch] * spe))
            jax.block_until_ready(state)
    else:
        import tensorflow as tf

        iterator = iter(tf.data.Dataset.from_tensors((x, y)).repeat())

        def run(n):
            for _ in range(n):
                logs = model.train_function(iterator)
            float(keras.ops.convert_to_numpy(tf.nest.flatten(logs)[0]))
    run(1)                                       # warm-up: the first call of the compiled loop
    t0, cpu0 = time.perf_counter(), time.process_time()
    run(calls)
    images = calls * spe * len(xb)
    return {"ips": images / (time.perf_counter() - t0), "cpu_ips": images / (time.process_time() - cpu0)}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--steps", type=int, default=5, help="steps per epoch (CIFAR-10: a multiple of 5)")
    ap.add_argument("--epochs", type=int, default=2, help="timed epochs after the first (default 2)")
    ap.add_argument("--Ms", default="1,4,16", help="copies per sample, comma-separated (default 1,4,16)")
    ap.add_argument("--depth", type=int, default=44, help="ResNet depth 6n+2 (default 44)")
    ap.add_argument("--steps-per-execution", type=int, default=None, help="override the spec's")
    args = ap.parse_args(argv)

    import keras

    Ms = [int(m) for m in args.Ms.split(",")]
    root = pathlib.Path(tempfile.mkdtemp(prefix="throughput-"))
    rows = []
    for M in Ms:
        spec = bench_spec(M, args.steps, args.epochs, args.depth, args.steps_per_execution)
        steps = math.ceil((10 * spec.subset if spec.subset else 256) / BATCH)
        print(f"M={M}: {spec.dataset} {10 * spec.subset if spec.subset else 256} samples, {steps} steps × "
              f"{args.epochs} timed epochs, steps_per_execution {spec.steps_per_execution}", flush=True)
        e = engine(spec, root)
        c = ceiling(spec, steps * args.epochs)
        rows.append((M, e, c))
        print(f"  engine {e['ips']:.1f} images/s (recorded per epoch {e['recorded_ips']:.1f}; "
              f"first epoch incl. compile {e['first_epoch_s']:.0f} s), ceiling {c['ips']:.1f} images/s, "
              f"ratio {e['ips'] / c['ips']:.3f}; per CPU-second {e['cpu_ips']:.1f} vs {c['cpu_ips']:.1f}",
              flush=True)
    device = rows[0][1]["device"]
    print(f"\nResNet-{args.depth}, batch {BATCH} samples × M; device {device}; backend "
          f"{keras.backend.backend()}; precision {rows[0][1]['precision']}; steps_per_execution "
          f"{rows[0][1]['spe']}; load average {os.getloadavg()[0]:.1f}")
    print(f"{'M':>3} {'images/step':>11} {'engine img/s':>13} {'ceiling img/s':>14} {'engine/ceiling':>15} "
          f"{'same, per CPU-s':>16}")
    for M, e, c in rows:
        print(f"{M:>3} {BATCH * M:>11} {e['ips']:>13.1f} {c['ips']:>14.1f} {e['ips'] / c['ips']:>15.3f} "
              f"{e['cpu_ips'] / c['cpu_ips']:>16.3f}")
    print("(per CPU-s: images per second of this process's CPU time, which other processes' load hardly moves)")
    ratios = [e["ips"] / c["ips"] for _, e, c in rows]
    print(f"target engine/ceiling ≥ 0.9: {'met' if min(ratios) >= 0.9 else 'NOT met'} (lowest {min(ratios):.3f})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
