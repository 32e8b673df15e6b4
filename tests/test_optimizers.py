"""dlcore.keras_parts.optimizers: each Keras optimizer computes the rule dlcore.core.rules shows (SPEC 1.1).

How tight, and why. Run in float64, the Keras optimizers and the NumPy
reference agree to ~1e-15 after 100 steps, provided every hyper-parameter is
exactly representable in float32 (powers of two): Keras stores the learning
rate in a float32 variable and converts Python constants such as momentum
through float32 (`ops.cast(0.9, "float64")` is 0.89999997...), which alone
would show up as ~1e-8 relative differences. That test pins the rule itself.
Run in float32, as training does, each step rounds w to 24 bits (relative
6e-8), so after 100 steps the honest bound is about 100 × 6e-8 ≈ 6e-6 of the
size of w: rtol 1e-5 with an absolute floor of 1e-5 × max|w| for coordinates
that pass near zero. Measured: at most 1.6e-6 absolute, with |w| up to about 4.
"""
import json
import os
import pathlib
import subprocess
import sys

import keras
import numpy as np
import pytest

from dlcore.keras_parts import optimizers
from dlcore.core import rules, surfaces

ROOT = pathlib.Path(__file__).resolve().parents[1]
rng = np.random.default_rng(0)
# 100 steps of gradients whose scale differs by 1000x across coordinates, signs random.
GRADIENTS = rng.normal(size=(100, 8)) * np.logspace(-2, 1, 8)
W0 = rng.normal(size=8)

# Hyper-parameters exact in float32, so float64 runs compare the rule, not the rounding.
EXACT = {
    "adagrad": {"learning_rate": 0.125, "initial_accumulator_value": 0.125, "epsilon": 2.0**-20},
    "rmsprop": {"learning_rate": 2.0**-7, "rho": 0.875, "epsilon": 2.0**-20},
    "rmsprop_nesterov": {"learning_rate": 2.0**-7, "rho": 0.875, "momentum": 0.875, "epsilon": 2.0**-20},
    "adadelta": {"learning_rate": 0.5, "rho": 0.875, "epsilon": 2.0**-20},
    "adam": {"learning_rate": 2.0**-7, "beta_1": 0.875, "beta_2": 1 - 2.0**-10, "epsilon": 2.0**-20},
    "sgd": {"learning_rate": 2.0**-7, "momentum": 0.875, "nesterov": True},
}
# The usual defaults, with learning rates that move w visibly in 100 steps.
USUAL = {m: {**rules.DEFAULTS[m], "learning_rate": lr} for m, lr in
         {"adagrad": 0.1, "rmsprop": 0.01, "rmsprop_nesterov": 0.01, "adadelta": 1.0, "adam": 0.01, "sgd": 0.01}.items()}


def reference(method, hparams, gradients=GRADIENTS, w0=W0):
    """The NumPy rule; Keras's Adam is the paper's ε̂ form (see rules.adam)."""
    hp = {**hparams, "epsilon_hat": True} if method == "adam" else hparams
    return np.array(rules.run(method, w0, gradients, hp))


def stepper(opt, v):
    """opt.apply_gradients on v, as one compiled call under TensorFlow.

    Eager TensorFlow spends ~25 ms per optimizer step on a busy 2-core box;
    a tf.function traced once brings 100 steps from seconds to a fraction of
    one. Other backends (see the JAX test) run it eagerly.
    """
    def apply(g):
        opt.apply_gradients([(g, v)])
        return v.value

    if keras.backend.backend() == "tensorflow":
        import tensorflow as tf

        return tf.function(apply, autograph=False)
    return apply


def keras_points(opt, dtype, gradients=GRADIENTS, w0=W0):
    v = keras.Variable(w0.astype(dtype), dtype=dtype)
    apply = stepper(opt, v)
    points = [keras.ops.convert_to_numpy(v).astype(float)]
    for g in gradients:
        points.append(keras.ops.convert_to_numpy(apply(keras.ops.convert_to_tensor(g.astype(dtype)))).astype(float))
    return np.array(points)


@pytest.mark.parametrize("method", optimizers.NAMES)
def test_keras_optimizer_is_the_reference_rule_in_float64(method):
    got = keras_points(optimizers.make_optimizer(method, **EXACT[method]), "float64")
    np.testing.assert_allclose(got, reference(method, EXACT[method]), rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("method", optimizers.NAMES)
def test_keras_optimizer_matches_reference_for_100_steps_in_float32(method):
    ref = reference(method, USUAL[method])
    got = keras_points(optimizers.make_optimizer(method, **USUAL[method]), "float32")
    np.testing.assert_allclose(got, ref, rtol=1e-5, atol=1e-5 * np.abs(ref).max())
    assert np.abs(ref[-1] - ref[0]).max() > 0.05, "the weights must move for the check to mean anything"


def test_keras_adam_is_not_algorithm_1_when_epsilon_matters():
    """What KERAS_DIFFERENCES['adam'] says: ε̂ = ε·sqrt(1 − β2^t), not the paper's ε."""
    hp = {"learning_rate": 0.125, "beta_1": 0.875, "beta_2": 1 - 2.0**-10, "epsilon": 2.0**-10}
    g = np.full((10, 2), 1e-3)
    got = keras_points(optimizers.make_optimizer("adam", **hp), "float64", g, np.zeros(2))
    paper = np.array(rules.run("adam", np.zeros(2), g, hp))
    assert np.abs(got[1] - paper[1]).max() > 0.5 * np.abs(paper[1]).max()
    np.testing.assert_allclose(got, reference("adam", hp, g, np.zeros(2)), rtol=1e-12)


@pytest.mark.parametrize("method", optimizers.NAMES)
def test_learning_rate_may_be_a_schedule(method):
    # Halve the rate every step: 2^-7, 2^-8, ... (exact in float32).
    schedule = keras.optimizers.schedules.ExponentialDecay(2.0**-7, decay_steps=1, decay_rate=0.5)
    opt = optimizers.make_optimizer(method, **{**EXACT[method], "learning_rate": schedule})
    got = keras_points(opt, "float64", GRADIENTS[:10])
    hp = {**EXACT[method], **({"epsilon_hat": True} if method == "adam" else {})}
    w, state = W0.copy(), rules.initial_state(method, W0, hp)
    expected = [rules.lookahead(method, w, state, hp)]
    for k, g in enumerate(GRADIENTS[:10]):
        w, state = rules.step(method, w, g, state, {**hp, "learning_rate": 2.0**-7 * 0.5**k})
        expected.append(rules.lookahead(method, w, state, hp))
    np.testing.assert_allclose(got, expected, rtol=1e-12, atol=1e-14)


def rosenbrock_path(opt, steps=100):
    """Minimise Rosenbrock with a Keras optimizer; the gradient is read at the Keras weights."""
    s = surfaces.SURFACES["rosenbrock"]
    v = keras.Variable(np.array(s.start), dtype="float64")
    apply = stepper(opt, v)
    path = [np.array(s.start)]
    for _ in range(steps):
        g = s.gradient(path[-1])
        path.append(keras.ops.convert_to_numpy(apply(keras.ops.convert_to_tensor(g))).copy())
    return np.array(path)


def test_rmsprop_nesterov_follows_algorithm_8_6_on_rosenbrock():
    """Keras stores the look-ahead point w̃ = w + μV; the book's path, shifted by μV, is it."""
    hp = EXACT["rmsprop_nesterov"]
    got = rosenbrock_path(optimizers.make_optimizer("rmsprop_nesterov", **hp))
    tr = rules.trajectory("rmsprop_nesterov", "rosenbrock", surfaces.SURFACES["rosenbrock"].start, 100, hp)
    book = np.array([w + hp["momentum"] * s["V"] for w, s in zip(tr.w, tr.states)])
    assert not tr.diverged
    np.testing.assert_allclose(got, book, rtol=1e-9, atol=1e-12)


def test_rmsprop_nesterov_is_not_nadam_nor_heavy_ball_rmsprop():
    """The notebook's stand-in (Nadam) and Keras's RMSprop(momentum=...) take other paths."""
    ours = rosenbrock_path(optimizers.make_optimizer("rmsprop_nesterov", learning_rate=0.01, rho=0.9, momentum=0.9))
    nadam = rosenbrock_path(keras.optimizers.Nadam(learning_rate=0.01, beta_1=0.9, beta_2=0.9))
    heavy = rosenbrock_path(keras.optimizers.RMSprop(learning_rate=0.01, rho=0.9, momentum=0.9))
    assert np.abs(ours - nadam).max() > 0.1
    assert np.abs(ours - heavy).max() > 0.01
    assert np.abs(ours[-1] - nadam[-1]).max() > 1e-3


def test_make_optimizer_uses_the_defaults_table():
    for name in optimizers.NAMES:
        cfg = optimizers.make_optimizer(name).get_config()
        for k, v in optimizers.DEFAULTS[name].items():
            assert cfg[k] == pytest.approx(v), (name, k)
    assert optimizers.make_optimizer("adadelta").get_config()["learning_rate"] == 1.0  # Zeiler, not Keras's 0.001
    assert optimizers.make_optimizer("adagrad").get_config()["initial_accumulator_value"] == 0.0
    assert isinstance(optimizers.make_optimizer("rmsprop_nesterov"), optimizers.RMSPropNesterov)
    rms = optimizers.make_optimizer("rmsprop").get_config()
    assert rms["momentum"] == 0.0 and rms["centered"] is False


def test_make_optimizer_refuses_what_would_change_the_rule():
    with pytest.raises(ValueError, match="momentum"):
        optimizers.make_optimizer("rmsprop", momentum=0.9)
    with pytest.raises(ValueError, match="unknown optimizer"):
        optimizers.make_optimizer("nadam")
    sgd = optimizers.make_optimizer("sgd", weight_decay=1e-4, nesterov=True, clipnorm=1.0)
    assert sgd.weight_decay == 1e-4 and sgd.nesterov and sgd.clipnorm == 1.0


def test_every_method_states_how_keras_differs_from_the_textbook():
    for name in optimizers.NAMES:
        assert len(optimizers.KERAS_DIFFERENCES[name]) > 40
    assert "0.001" in optimizers.KERAS_DIFFERENCES["adadelta"]
    assert "Nadam" in optimizers.KERAS_DIFFERENCES["rmsprop_nesterov"]


def small_model(opt):
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3), keras.layers.Dense(1)])
    model.compile(optimizer=opt, loss="mse")
    return model


def test_model_with_rmsprop_nesterov_saves_and_resumes(tmp_path):
    x = np.random.default_rng(1).normal(size=(64, 4)).astype("float32")
    y = x.sum(axis=1, keepdims=True)
    schedule = keras.optimizers.schedules.ExponentialDecay(0.01, decay_steps=10, decay_rate=0.9)
    model = small_model(optimizers.make_optimizer("rmsprop_nesterov", learning_rate=schedule, momentum=0.8))
    model.fit(x, y, batch_size=16, epochs=2, verbose=0, shuffle=False)
    path = tmp_path / "checkpoint.keras"
    model.save(path)
    loaded = keras.saving.load_model(path)

    opt, back = model.optimizer, loaded.optimizer
    assert isinstance(back, optimizers.RMSPropNesterov)
    assert int(back.iterations) == int(opt.iterations) == 8
    assert back.get_config() == opt.get_config()
    # Slots in creation order: an accumulator S and a velocity V per weight tensor.
    slots = lambda o: [(v.name, keras.ops.convert_to_numpy(v)) for v in o.variables  # noqa: E731
                       if v.name.endswith(("accumulator", "velocity"))]
    before, after = slots(opt), slots(back)
    assert len(before) == 2 * len(model.trainable_variables)
    # (the loaded optimizer names its slots from the unbuilt model's paths: names differ, order does not)
    assert [n.rsplit("_", 1)[1] for n, _ in before] == [n.rsplit("_", 1)[1] for n, _ in after]
    for (name, a), (_, b) in zip(before, after):
        assert np.any(a != 0), name
        np.testing.assert_array_equal(a, b)

    # Resuming continues the same run: one more epoch gives the same weights.
    model.fit(x, y, batch_size=16, epochs=1, verbose=0, shuffle=False)
    loaded.fit(x, y, batch_size=16, epochs=1, verbose=0, shuffle=False)
    for a, b in zip(model.get_weights(), loaded.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-7)


JAX_CHECK = r"""
import json, numpy as np, keras, jax
from dlcore.keras_parts import optimizers
from dlcore.core import rules
rng = np.random.default_rng(0)
G = rng.normal(size=(100, 8)) * np.logspace(-2, 1, 8); w0 = rng.normal(size=8)
hp = {"learning_rate": 2.0**-7, "rho": 0.875, "momentum": 0.875, "epsilon": 2.0**-20}
opt = optimizers.make_optimizer("rmsprop_nesterov", **hp)
v = keras.Variable(w0.astype("float32"))
opt.build([v])
# The stateless, jitted path: what model.fit runs under JAX.
@jax.jit
def step(opt_vars, w, g):
    new_w, new_opt = opt.stateless_apply(opt_vars, [g], [w])
    return new_opt, new_w[0]
opt_vars, w = [x.value for x in opt.variables], v.value
for g in G:
    opt_vars, w = step(opt_vars, w, g.astype("float32"))
ref = rules.run("rmsprop_nesterov", w0, G, hp)[-1]
err = float(np.abs(np.asarray(w) - ref).max() / np.abs(ref).max())
x = rng.normal(size=(64, 4)).astype("float32"); y = x.sum(axis=1, keepdims=True)
model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(1)])
model.compile(optimizer=optimizers.make_optimizer("rmsprop_nesterov", learning_rate=0.01), loss="mse")
h = model.fit(x, y, batch_size=16, epochs=5, verbose=0)
print(json.dumps({"backend": keras.backend.backend(), "err": err, "loss": h.history["loss"],
                  "iterations": int(model.optimizer.iterations)}))
"""


def test_rmsprop_nesterov_runs_under_jax():
    env = {**os.environ, "KERAS_BACKEND": "jax", "JAX_PLATFORMS": "cpu", "PYTHONPATH": str(ROOT)}
    out = subprocess.run([sys.executable, "-c", JAX_CHECK], env=env, cwd=ROOT, capture_output=True, text=True,
                         timeout=300)
    assert out.returncode == 0, out.stderr[-3000:]
    result = json.loads(out.stdout.strip().splitlines()[-1])
    assert result["backend"] == "jax"
    assert result["err"] < 1e-5
    assert result["iterations"] == 20
    assert result["loss"][-1] < result["loss"][0]
