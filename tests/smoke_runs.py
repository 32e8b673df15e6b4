"""Smoke runs for the tests that train: a tiny MLP spec on synthetic CIFAR-10, and waiting on a run.

Imported by the worker, resume, Ray and data-parallel tests (tests/ is on sys.path under pytest).
"""
from __future__ import annotations

import time

from dlcore.engine.experiments import Spec

# 256 synthetic 32×32×3 images, a 32-unit MLP: an epoch takes a fraction of a second.
SMOKE = dict(experiment="mlp_l2", name="adam", preset="smoke", dataset="synthetic_cifar10",
             model={"name": "mlp", "regularizer": "l2", "l2": 5e-4, "hidden": 32},
             optimizer={"name": "adam", "learning_rate": 1e-3}, epochs=3, batch_size=32, log_every=2)


def smoke_spec(**changes) -> Spec:
    """The smoke MLP spec with `changes` (any Spec field) applied."""
    return Spec.from_dict({**SMOKE, **changes})


def wait_for(predicate, timeout: float = 120.0, step: float = 0.05, what: str = "it"):
    """Poll `predicate` every `step` s until it returns something true (returned), or fail after `timeout` s."""
    end = time.time() + timeout
    while time.time() < end:
        value = predicate()
        if value:
            return value
        time.sleep(step)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")
