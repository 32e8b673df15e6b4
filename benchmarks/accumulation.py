"""Throughput of gradient accumulation: accumulated large batches vs the same micro-batch without.

    python benchmarks/batch_growth.py                       # MiniGoogLeNet, micro-batch 64, 4 steps
    python benchmarks/batch_growth.py --model mlp --micro 512 --steps 8 --updates 20
    python benchmarks/batch_growth.py --big                 # also the whole batch at once, if it fits

Side by side in one process, same model, same data, alternating, after a warm-up pass each:

  plain        N micro-batches of m samples, one optimizer update per micro-batch;
  accumulated  the same N micro-batches, one update every `steps` of them: the effective
               batch m·steps built by Keras's gradient_accumulation_steps, through
               dlcore.engine.batch_growth.phase_optimizer, exactly as the batch-growth run does it;
  big batch    (with --big) N/steps batches of m·steps at once, for context only: it is
               what accumulation stands in for when m·steps does not fit in memory.

Throughput is training images per second (median of --repeats timed passes). The
accumulated run does the same forward/backward work per image and fewer optimizer
updates, so it should keep at least TARGET = 0.9 of the plain throughput; the script
says whether it does and exits 1 when it does not.
"""
from __future__ import annotations

import argparse
import os
import pathlib
import statistics
import sys
import time

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402

from dlcore.engine import batch_growth, experiments  # noqa: E402
from dlcore.engine import provenance
from dlcore.keras_parts import models  # noqa: E402

TARGET = 0.9


def make_model(name: str, seed: int = 0):
    keras.utils.set_random_seed(seed)
    if name == "mini_googlenet":
        return models.mini_googlenet((32, 32, 1))
    return models.mlp("dropout", input_shape=(32, 32, 1))


def compiled(name: str, steps: int, weights=None):
    """A model compiled with the batch-growth run's optimizer for `steps` accumulated micro-batches."""
    model = make_model(name)
    if weights is not None:
        model.set_weights(weights)
    spec = experiments.Spec(experiment="bench", name="bench", optimizer={"name": "sgd", "learning_rate": 0.01,
                                                                         "momentum": 0.9})
    opt = batch_growth.phase_optimizer(spec, steps, model.trainable_variables)
    model.compile(optimizer=opt, loss=keras.losses.SparseCategoricalCrossentropy(), metrics=["accuracy"])
    return model


def one_pass(model, x, y, batch: int) -> float:
    """Seconds for one epoch over (x, y) in batches of `batch`, weights updated as compiled."""
    t0 = time.perf_counter()
    model.fit(x, y, batch_size=batch, epochs=1, shuffle=False, verbose=0)
    return time.perf_counter() - t0


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", choices=("mini_googlenet", "mlp"), default="mini_googlenet")
    ap.add_argument("--micro", type=int, default=64, help="micro-batch size m")
    ap.add_argument("--steps", type=int, default=4, help="micro-batches per update (accumulation steps)")
    ap.add_argument("--updates", type=int, default=8, help="optimizer updates of the accumulated run per pass")
    ap.add_argument("--repeats", type=int, default=3, help="timed passes of each (median reported)")
    ap.add_argument("--big", action="store_true", help="also time the whole batch m·steps without accumulation")
    args = ap.parse_args(argv)

    n = args.micro * args.steps * args.updates
    rng = np.random.default_rng(0)
    x = rng.random((n, 32, 32, 1), dtype=np.float32)
    y = rng.integers(0, 10, n)

    plain = compiled(args.model, 1)
    weights = plain.get_weights()
    contenders = {"plain": (plain, args.micro), "accumulated": (compiled(args.model, args.steps, weights), args.micro)}
    if args.big:
        contenders["big batch"] = (compiled(args.model, 1, weights), args.micro * args.steps)

    hw = provenance.hardware()
    print(f"backend {keras.backend.backend()}, device {hw['device']} ({hw['cpu']}), model {args.model}")
    print(f"micro-batch {args.micro}, {args.steps} accumulation steps (effective batch {args.micro * args.steps}), "
          f"{n} images per pass, {args.repeats} timed passes each after a warm-up pass", flush=True)
    for model, batch in contenders.values():  # compile and warm up
        one_pass(model, x, y, batch)
    times = {name: [] for name in contenders}
    for _ in range(args.repeats):  # alternate, so drifting load hits all alike
        for name, (model, batch) in contenders.items():
            times[name].append(one_pass(model, x, y, batch))

    rate = {name: n / statistics.median(t) for name, t in times.items()}
    print(f"\n{'':12s} {'batch per call':>14s} {'updates/pass':>12s} {'images/s':>10s} {'vs plain':>9s}")
    for name, (model, batch) in contenders.items():
        updates = n // (args.micro * args.steps) if name != "plain" else n // args.micro
        print(f"{name:12s} {batch:14d} {updates:12d} {rate[name]:10.1f} {rate[name] / rate['plain']:8.2f}×")
    ratio = rate["accumulated"] / rate["plain"]
    verdict = "meets" if ratio >= TARGET else "MISSES"
    print(f"\naccumulated / plain = {ratio:.3f} ({verdict} the target of ≥ {TARGET}×)")
    return 0 if ratio >= TARGET else 1


if __name__ == "__main__":
    sys.exit(main())
