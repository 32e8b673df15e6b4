"""Gradient accumulation and batch growth (dlcore.engine.batch_growth): one accumulated step is one
big-batch step, phases hand over momentum and stay aligned, and a smoke run records the
growing batch."""
import numpy as np
import pytest

keras = pytest.importorskip("keras")

from dlcore.engine import batch_growth, experiments, runs  # noqa: E402
from dlcore.engine import pipeline, worker
from dlcore.core import schedules  # noqa: E402

SGD = {"name": "sgd", "learning_rate": 0.1, "momentum": 0.9}


def spec(**changes):
    return experiments.Spec(experiment="t", name="t", optimizer=SGD, **changes)


def small_model(seed=0):
    """Dense layers only: with batch norm a micro-batch is normalized on its own (see the module)."""
    keras.utils.set_random_seed(seed)
    model = keras.Sequential([keras.Input((6,)), keras.layers.Dense(5, activation="tanh"),
                              keras.layers.Dense(3, activation="softmax")])
    return model


def twin(model):
    other = keras.models.clone_model(model)
    other.set_weights(model.get_weights())
    return other


def compile_for(model, steps, previous=None):
    opt = batch_growth.phase_optimizer(spec(), steps, model.trainable_variables, previous=previous)
    model.compile(optimizer=opt, loss=keras.losses.SparseCategoricalCrossentropy())
    return opt


def data(n, seed=1):
    rng = np.random.default_rng(seed)
    return rng.normal(size=(n, 6)).astype("float32"), rng.integers(0, 3, n)


def assert_same_weights(a, b, atol=1e-6):
    for wa, wb in zip(a.get_weights(), b.get_weights()):
        np.testing.assert_allclose(wa, wb, rtol=1e-5, atol=atol)


def test_one_accumulated_step_equals_one_big_batch_step():
    x, y = data(32)
    big = small_model()
    accumulated = twin(big)
    start = [w.copy() for w in big.get_weights()]
    compile_for(big, 1)
    compile_for(accumulated, 4)
    big.train_on_batch(x, y)
    for i in range(3):  # three of four micro-batches: gradients are only summed so far
        accumulated.train_on_batch(x[8 * i:8 * (i + 1)], y[8 * i:8 * (i + 1)])
    for w, w0 in zip(accumulated.get_weights(), start):
        np.testing.assert_array_equal(w, w0)
    accumulated.train_on_batch(x[24:], y[24:])  # the fourth: one update with the mean gradient
    assert not np.allclose(big.get_weights()[0], start[0])
    assert_same_weights(accumulated, big)
    assert int(accumulated.optimizer.iterations) == int(big.optimizer.iterations) == 1


def test_a_second_accumulated_step_uses_the_momentum_of_the_first():
    x, y = data(64)
    big = small_model()
    accumulated = twin(big)
    compile_for(big, 1)
    compile_for(accumulated, 2)
    for step in range(2):
        big.train_on_batch(x[32 * step:32 * (step + 1)], y[32 * step:32 * (step + 1)])
        for half in range(2):
            lo = 32 * step + 16 * half
            accumulated.train_on_batch(x[lo:lo + 16], y[lo:lo + 16])
    assert_same_weights(accumulated, big)


def test_growing_phases_carry_momentum_and_stay_aligned():
    """Phase 1: 3 updates of 8; phase 2: 2 updates of 16 built from micro-batches of 8.
    The reference fits every batch whole with one optimizer throughout."""
    x, y = data(8 * 3 + 16 * 2)
    grown = small_model()
    reference = twin(grown)
    ref_opt = compile_for(reference, 1)
    for i in range(3):
        reference.train_on_batch(x[8 * i:8 * (i + 1)], y[8 * i:8 * (i + 1)])
    for i in range(2):
        reference.train_on_batch(x[24 + 16 * i:24 + 16 * (i + 1)], y[24 + 16 * i:24 + 16 * (i + 1)])

    first = compile_for(grown, 1)
    for i in range(3):
        grown.train_on_batch(x[8 * i:8 * (i + 1)], y[8 * i:8 * (i + 1)])
    second = compile_for(grown, 2, previous=first)
    assert int(second.iterations) == 3  # updates keep counting across phases
    for i in range(4):
        grown.train_on_batch(x[24 + 8 * i:24 + 8 * (i + 1)], y[24 + 8 * i:24 + 8 * (i + 1)])
    assert_same_weights(grown, reference)
    assert int(second.iterations) == int(ref_opt.iterations) == 5


def test_keras_counter_alone_would_cut_the_first_big_batch_wrongly():
    """Why a fresh optimizer per phase: continuing Keras's micro-step count after 3 updates,
    (3 + 1) % 2 == 0 updates after the first micro-batch of the new size."""
    x, y = data(8 * 4)
    model = small_model()
    opt = compile_for(model, 2)
    opt._iterations.assign(3)  # what a single long-lived optimizer would have counted
    before = [w.copy() for w in model.get_weights()]
    model.train_on_batch(x[:8], y[:8])
    assert not np.allclose(model.get_weights()[0], before[0])  # updated on half a batch


def test_sample_stream_is_the_epoch_orders_one_after_another():
    n, seed = 10, 3
    whole = batch_growth.stream_indices(n, seed, 0, 25)
    expected = np.concatenate([pipeline.epoch_order(n, seed, e) for e in range(3)])[:25]
    np.testing.assert_array_equal(whole, expected)
    parts = np.concatenate([batch_growth.stream_indices(n, seed, a, b - a) for a, b in ((0, 7), (7, 19), (19, 25))])
    np.testing.assert_array_equal(parts, whole)


def test_phases_follow_the_growth_plan_and_repeat_the_last_size():
    (growth,) = experiments.batch_growth_runs("full", lr_max=0.1, k=50)
    plan = batch_growth.phases(growth)
    assert [p.batch_size for p in plan] == schedules.growth_sizes(32, 16_384) == [32 * 2**i for i in range(10)]
    assert [p.accumulation_steps for p in plan] == [1] * 5 + [2, 4, 8, 16, 32]
    assert {p.updates for p in plan} == {50}
    longer = batch_growth.phases(growth.replace(epochs=12))
    assert [p.batch_size for p in longer[-3:]] == [16_384] * 3


@pytest.mark.slow
def test_smoke_batch_growth_run_records_the_growing_batch(runs_dir):
    (growth,) = experiments.batch_growth_runs("smoke", lr_max=0.05)
    # An MLP instead of MiniGoogLeNet keeps the test to seconds; the mechanism is the same.
    growth = growth.replace(model={"name": "mlp", "regularizer": "dropout"})
    run_dir = runs.new_run_dir(runs_dir, growth.experiment, growth.name)
    runs.write_json(run_dir / "spec.json", growth.to_dict())
    runs.write_json(run_dir / "status.json", {"state": "queued"})
    assert worker.run(run_dir) == "finished"
    run = runs.read_run(run_dir, "live")
    epochs, batches = run.epochs(), run.batches()
    assert epochs["batch_size"].tolist() == [8, 16, 32]
    assert epochs["samples"].tolist() == [16, 32, 64]                 # k = 2 updates per size
    assert np.isfinite(epochs["val_loss"]).all() and np.isfinite(batches["loss"]).all()
    # micro-batches of 8: 1, 2 and 4 of them per update; the step counts updates
    assert batches.groupby("epoch")["batch"].max().tolist() == [2, 4, 8]
    assert batches["step"].max() == pytest.approx(6)
    assert set(batches["lr"].round(8)) == {0.05}
