"""dlcore.keras_parts.schedules: the Keras schedules give the NumPy curve, on TF and JAX, and survive saving.

Training checkpoints save the optimizer with its schedule, so a schedule that
cannot be reloaded breaks resuming a run.
"""
import json
import os
import pathlib
import subprocess
import sys

import numpy as np
import pytest

keras = pytest.importorskip("keras")

from dlcore.keras_parts import schedules as keras_schedules  # noqa: E402
from dlcore.core import schedules  # noqa: E402

ROOT = pathlib.Path(__file__).resolve().parents[1]
# Keras evaluates in float32: agreement to 2e-5 relative, and to 1e-7 absolute where
# 1 − x cancels near the bottom of a cycle (rates here are 1e-4 … 0.1).
TOL = dict(rtol=2e-5, atol=1e-7)
STEPS = np.array([0, 1, 999, 1000, 2000, 2500, 3999, 4000, 6000, 10_001, 31_999, 32_000, 48_000])

# (policy, params, the NumPy function of the same rate)
CASES = [
    ("triangular", dict(base_lr=1e-3, max_lr=6e-3, step_size=2000),
     lambda t: schedules.triangular(t, 1e-3, 6e-3, 2000)),
    ("triangular2", dict(base_lr=1e-3, max_lr=6e-3, step_size=2000),
     lambda t: schedules.triangular2(t, 1e-3, 6e-3, 2000)),
    ("exp_range", dict(base_lr=1e-4, max_lr=1e-1, step_size=937, gamma=0.99994),
     lambda t: schedules.exp_range(t, 1e-4, 1e-1, 937, 0.99994)),
    ("exp_range_paper", dict(base_lr=1e-4, max_lr=1e-1, step_size=937, gamma=0.99994),
     lambda t: schedules.exp_range(t, 1e-4, 1e-1, 937, 0.99994, shrink="bounds")),
    ("range_test_sweep", dict(lr_start=1e-9, lr_end=10.0, n_iterations=40_000),
     lambda t: schedules.range_test_sweep(t, 1e-9, 10.0, 40_000)),
    ("step_decay", dict(initial_lr=0.1, boundaries=(32_000, 48_000), factor=10.0),
     lambda t: schedules.step_decay(t, 0.1, (32_000, 48_000), 10.0)),
]


def keras_values(schedule, steps):
    return np.array([float(keras.ops.convert_to_numpy(schedule(int(t)))) for t in steps])


@pytest.mark.parametrize("policy, params, numpy_rate", CASES, ids=[c[0] for c in CASES])
def test_keras_schedule_equals_the_numpy_rate_at_every_step(policy, params, numpy_rate):
    schedule = keras_schedules.schedule_for(policy, **params)
    assert isinstance(schedule, keras.optimizers.schedules.LearningRateSchedule)
    np.testing.assert_allclose(keras_values(schedule, STEPS), numpy_rate(STEPS), **TOL)


def test_keras_schedule_rejects_max_lr_equal_to_base_lr():
    with pytest.raises(ValueError, match="must be larger than base_lr"):
        keras_schedules.schedule_for("exp_range", base_lr=1e-3, max_lr=1e-3, step_size=100, gamma=0.999)


def tiny_model(schedule):
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])
    model.compile(optimizer=keras.optimizers.SGD(learning_rate=schedule, momentum=0.9), loss="mse")
    return model


def test_optimizer_trains_at_the_schedules_rate():
    schedule = keras_schedules.ExpRange(base_lr=1e-3, max_lr=6e-3, step_size=2, gamma=0.9)
    model = tiny_model(schedule)
    x, y = np.ones((12, 3), "float32"), np.zeros((12, 2), "float32")
    model.fit(x, y, batch_size=4, epochs=1, verbose=0)  # 3 updates
    assert int(model.optimizer.iterations) == 3
    assert float(model.optimizer.learning_rate) == pytest.approx(float(schedules.exp_range(3, 1e-3, 6e-3, 2, 0.9)), rel=1e-5)


@pytest.mark.parametrize("policy, params, numpy_rate", CASES, ids=[c[0] for c in CASES])
def test_keras_schedule_survives_a_dot_keras_save_and_load(policy, params, numpy_rate, tmp_path):
    model = tiny_model(keras_schedules.schedule_for(policy, **params))
    model.optimizer.build(model.trainable_variables)
    path = tmp_path / "model.keras"
    model.save(path)
    loaded = keras.saving.load_model(path)
    restored = loaded.optimizer._learning_rate  # the schedule object itself (learning_rate is its value now)
    assert type(restored) is type(model.optimizer._learning_rate)
    assert restored.get_config() == model.optimizer._learning_rate.get_config()
    np.testing.assert_allclose(keras_values(restored, STEPS), numpy_rate(STEPS), **TOL)


JAX_CHECK = """
import json, sys
import numpy as np
import keras
assert keras.backend.backend() == "jax", keras.backend.backend()
from dlcore.keras_parts import schedules as keras_schedules
from dlcore.core import schedules
cases = json.loads(sys.argv[1])
steps = np.array(cases.pop("steps"))
report = {}
for policy, params in cases.items():
    sched = keras_schedules.schedule_for(policy, **params)
    report[policy] = [float(keras.ops.convert_to_numpy(sched(int(t)))) for t in steps]
# a model saved by the TensorFlow backend loads here with its schedule
loaded = keras.saving.load_model(sys.argv[2])
report["loaded"] = [float(keras.ops.convert_to_numpy(loaded.optimizer._learning_rate(int(t)))) for t in steps]
print("REPORT" + json.dumps(report))
"""


def test_keras_schedule_equals_the_numpy_rate_on_the_jax_backend(tmp_path):
    pytest.importorskip("jax")
    model = tiny_model(keras_schedules.schedule_for("exp_range", base_lr=1e-4, max_lr=1e-1, step_size=937, gamma=0.99994))
    model.optimizer.build(model.trainable_variables)
    model.save(tmp_path / "tf.keras")

    cases = {policy: {k: list(v) if isinstance(v, tuple) else v for k, v in params.items()} for policy, params, _ in CASES}
    cases["steps"] = STEPS.tolist()
    env = {**os.environ, "KERAS_BACKEND": "jax", "JAX_PLATFORMS": "cpu"}
    done = subprocess.run(
        [sys.executable, "-c", JAX_CHECK, json.dumps(cases), str(tmp_path / "tf.keras")],
        capture_output=True, text=True, timeout=180, cwd=str(ROOT), env=env,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    report = json.loads(done.stdout.split("REPORT", 1)[1])
    for policy, _, numpy_rate in CASES:
        np.testing.assert_allclose(report[policy], numpy_rate(STEPS), **TOL, err_msg=policy)
    np.testing.assert_allclose(report["loaded"], CASES[2][2](STEPS), **TOL)


def test_step_decay_with_warm_up_ramps_then_steps_like_the_numpy_rate_and_survives_a_checkpoint():
    # The class presets' ResNet schedule: lr 0.1 reached linearly over 50 steps, ÷10 at 225 and 337.
    keras_rate = keras_schedules.StepDecay(0.1, [225, 337], 10.0, warmup=50)
    steps = np.arange(0, 450)
    got = np.array([float(keras_rate(int(t))) for t in steps])
    want = schedules.step_decay(steps, 0.1, [225, 337], 10.0, warmup=50)
    np.testing.assert_allclose(got, want, rtol=1e-6)
    assert want[0] == pytest.approx(0.002) and want[49] == pytest.approx(0.1) and want[300] == pytest.approx(0.01)
    again = keras_schedules.StepDecay.from_config(json.loads(json.dumps(keras_rate.get_config())))
    assert again.warmup == 50 and float(again(10)) == pytest.approx(float(keras_rate(10)))
    with pytest.raises(ValueError, match="warmup"):
        schedules.step_decay(0, warmup=-1)


def test_the_class_resnet_trains_with_the_warm_up_schedule_and_fast_batch_norm():
    from dlcore.engine import experiments, model_setup
    from dlcore.keras_parts import models

    (spec,) = experiments.resnet_runs("class")
    rate = model_setup.learning_rate(spec, steps_per_epoch=50)
    assert isinstance(rate, keras_schedules.StepDecay) and rate.warmup == 50 and rate.boundaries == [225, 337]
    model = models.resnet_v1(depth=8, bn_momentum=spec.model["bn_momentum"])
    momenta = {layer.momentum for layer in model.layers if layer.__class__.__name__ == "BatchNormalization"}
    assert momenta == {0.9}
