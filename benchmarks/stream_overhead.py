"""What does streaming cost? The same MLP on the same data, three ways, side by side.

  A. plain `model.fit` on NumPy arrays (Keras's own input pipeline, no callback);
  B. `fit` on the engine's input pipeline (`pipeline.make_batches` into a DeviceTrainer), no callback;
  C. the whole engine: `dlcore.engine.worker.run` with streaming, cancel checks and checkpoints.

Each is timed per epoch after a warm-up epoch; the ratios C/B (what streaming
itself costs; target: under 3%) and C/A (streaming plus our deterministic,
resumable pipeline) are printed with the peak resident memory. The three are
interleaved over several rounds, because these machines are noisy.

    python benchmarks/stream_overhead.py [--rounds 3] [--epochs 3] [--per-class 500]
"""
from __future__ import annotations

import argparse
import os
import pathlib
import resource
import statistics
import sys
import tempfile
import time

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402

from dlcore.engine import data, jobs, runs  # noqa: E402
from dlcore.engine import model_setup, pipeline, worker
from dlcore.engine.experiments import Spec  # noqa: E402


class EpochTimer(keras.callbacks.Callback):
    def __init__(self):
        super().__init__()
        self.times = []

    def on_epoch_begin(self, epoch, logs=None):
        self.t0 = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        self.times.append(time.perf_counter() - self.t0)


def images_per_s(times, n):
    return n / statistics.median(times[1:])  # the first epoch compiles


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--epochs", type=int, default=3)
    ap.add_argument("--per-class", type=int, default=500)
    args = ap.parse_args()
    dataset = "cifar10" if data.is_available("cifar10") else "synthetic_cifar10"
    spec = Spec.from_dict(dict(
        experiment="bench", name="stream", preset="class", dataset=dataset, preprocessing="scale",
        subset=args.per_class if dataset == "cifar10" else None, model={"name": "mlp", "regularizer": "l2"},
        optimizer={"name": "adam", "learning_rate": 1e-3}, epochs=args.epochs, batch_size=128, validate=False,
        log_every=20))
    arrays = data.prepare(spec.dataset, spec.preprocessing, spec.subset)
    x, y = arrays["x_train"], arrays["y_train"]
    print(f"{dataset}: {len(x)} images, MLP 3072-1000-1000-10, batch 128, {args.epochs} epochs × {args.rounds} rounds, "
          f"backend {keras.backend.backend()}")
    results = {"A plain fit(arrays)": [], "B fit(engine pipeline)": [], "C dlcore.engine.worker (streaming)": []}
    root = pathlib.Path(tempfile.mkdtemp())
    for _ in range(args.rounds):
        for key in results:
            keras.utils.set_random_seed(0)
            if key.startswith("C"):
                run_dir = jobs.create(spec, root=root)
                worker.run(run_dir)
                epochs = runs.read_run(run_dir, "live").epochs()
                results[key].append(float(epochs["images_per_s"].iloc[1:].median()))
                continue
            model = model_setup.build_model(spec, x.shape[1:], steps_per_epoch=len(x) // 128)
            timer = EpochTimer()
            if key.startswith("A"):
                model.fit(x, y, batch_size=128, epochs=args.epochs, shuffle=True, verbose=0, callbacks=[timer])
            else:
                trainer = pipeline.trainer(spec, model, pipeline.device_store(spec, arrays))  # the worker's device pipeline
                trainer.fit(pipeline.make_batches(spec, x, y), epochs=args.epochs, shuffle=False, verbose=0, callbacks=[timer])
            results[key].append(images_per_s(timer.times, len(x)))
    peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"\n{'path':28s} {'images/s (median of rounds)':>28s}   rounds")
    med = {k: statistics.median(v) for k, v in results.items()}
    for k, v in results.items():
        print(f"{k:28s} {med[k]:28.0f}   {', '.join(f'{r:.0f}' for r in v)}")
    a, b, c = med.values()
    print(f"\nstreaming cost   C/B = {c / b:.3f}  (target ≥ 0.97)")
    print(f"engine vs plain  C/A = {c / a:.3f}")
    print(f"pipeline         B/A = {b / a:.3f}")
    print(f"peak resident memory of this process: {peak_mib:.0f} MiB "
          f"(training arrays: {x.nbytes / 2**20:.0f} MiB; one epoch of batches is never materialised)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
