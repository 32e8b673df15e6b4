"""dlcore.core.schedules: Smith's cyclical policies, the range-test sweep, step decay, batch growth.

Properties are checked with hypothesis over wide parameter ranges; a few
hand-worked numbers pin the formulas to the paper's.
"""
import subprocess
import sys

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dlcore.core import schedules

BASE, MAX, STEP, GAMMA = 0.001, 0.006, 2000, 0.99994  # Smith's CIFAR-10 example


@st.composite
def clr_params(draw):
    base_lr = draw(st.floats(1e-6, 1.0))
    max_lr = base_lr * (1.0 + draw(st.floats(1e-3, 1e3)))
    step_size = draw(st.integers(1, 5000))
    gamma = draw(st.floats(0.99, 1.0))
    return base_lr, max_lr, step_size, gamma


iterations = st.integers(0, 1_000_000)


def rel(x):
    return 1e-9 * abs(x)


# ------------------------------------------------------------- hand-worked values
def test_triangular_climbs_to_max_lr_in_step_size_and_back():
    t = np.array([0, 1000, 2000, 3000, 4000, 6000])
    np.testing.assert_allclose(schedules.triangular(t, BASE, MAX, STEP), [0.001, 0.0035, 0.006, 0.0035, 0.001, 0.006])


def test_triangular2_apex_halves_from_cycle_to_cycle():
    apexes = schedules.triangular2([2000, 6000, 10000], BASE, MAX, STEP)
    np.testing.assert_allclose(apexes, [0.006, 0.001 + 0.005 / 2, 0.001 + 0.005 / 4])


def test_exp_range_default_scales_the_amplitude_not_the_bounds():
    # At the end of every cycle the amplitude form is back at base_lr exactly
    # (Keras CLR callback); the paper's form has sunk to base_lr·γ^t.
    ends = np.array([4000, 8000, 12000])
    np.testing.assert_allclose(schedules.exp_range(ends, BASE, MAX, STEP, GAMMA), BASE)
    np.testing.assert_allclose(schedules.exp_range(ends, BASE, MAX, STEP, GAMMA, shrink="bounds"), BASE * GAMMA**ends)
    # and at the first apex: base + (max − base)·γ^2000 vs max·γ^2000
    assert schedules.exp_range(2000, BASE, MAX, STEP, GAMMA) == pytest.approx(BASE + 0.005 * GAMMA**2000)
    assert schedules.exp_range(2000, BASE, MAX, STEP, GAMMA, shrink="bounds") == pytest.approx(MAX * GAMMA**2000)


def test_cycle_number_starts_at_one_and_advances_every_two_step_sizes():
    np.testing.assert_array_equal(schedules.cycle([0, 3999, 4000, 7999, 8000], STEP), [1, 1, 2, 2, 3])


def test_cyclical_dispatches_to_each_named_policy():
    t = np.arange(0, 12001, 500)
    assert np.array_equal(schedules.cyclical("triangular", t, BASE, MAX, STEP), schedules.triangular(t, BASE, MAX, STEP))
    assert np.array_equal(schedules.cyclical("exp_range_paper", t, BASE, MAX, STEP, GAMMA),
                          schedules.exp_range(t, BASE, MAX, STEP, GAMMA, shrink="bounds"))
    with pytest.raises(ValueError, match="unknown policy"):
        schedules.cyclical("cosine", t, BASE, MAX, STEP)


# ------------------------------------------------------------------ properties
@settings(max_examples=200, deadline=None)
@given(clr_params(), st.lists(iterations, min_size=1, max_size=20))
def test_every_cyclical_schedule_stays_within_base_lr_and_max_lr(params, ts):
    base_lr, max_lr, step_size, gamma = params
    for policy in ("triangular", "triangular2", "exp_range"):
        lr = schedules.cyclical(policy, ts, base_lr, max_lr, step_size, gamma)
        assert np.all(lr >= base_lr - rel(base_lr)), policy
        assert np.all(lr <= max_lr + rel(max_lr)), policy


@settings(max_examples=200, deadline=None)
@given(clr_params(), iterations)
def test_paper_exp_range_shrinks_both_bounds_by_gamma_to_the_t(params, t):
    base_lr, max_lr, step_size, gamma = params
    lr = schedules.exp_range(t, base_lr, max_lr, step_size, gamma, shrink="bounds")
    assert lr == pytest.approx(gamma**t * schedules.triangular(t, base_lr, max_lr, step_size), rel=1e-9)
    assert base_lr * gamma**t * (1 - 1e-9) <= lr <= max_lr * gamma**t * (1 + 1e-9)


@settings(max_examples=200, deadline=None)
@given(clr_params(), iterations)
def test_triangular_is_periodic_with_period_two_step_sizes(params, t):
    base_lr, max_lr, step_size, _ = params
    now = schedules.triangular(t, base_lr, max_lr, step_size)
    later = schedules.triangular(t + 2 * step_size, base_lr, max_lr, step_size)
    assert later == pytest.approx(now, rel=1e-9, abs=1e-9 * max_lr)


@settings(max_examples=200, deadline=None)
@given(clr_params(), iterations)
def test_triangular2_halves_its_amplitude_each_cycle(params, t):
    base_lr, max_lr, step_size, _ = params
    height_now = schedules.triangular2(t, base_lr, max_lr, step_size) - base_lr
    height_next_cycle = schedules.triangular2(t + 2 * step_size, base_lr, max_lr, step_size) - base_lr
    assert height_next_cycle == pytest.approx(height_now / 2, rel=1e-6, abs=1e-9 * max_lr)


@settings(max_examples=200, deadline=None)
@given(clr_params(), iterations)
def test_exp_range_amplitude_decays_as_gamma_to_the_iteration(params, t):
    base_lr, max_lr, step_size, gamma = params
    height = schedules.exp_range(t, base_lr, max_lr, step_size, gamma) - base_lr
    triangle_height = schedules.triangular(t, base_lr, max_lr, step_size) - base_lr
    assert height == pytest.approx(gamma**t * triangle_height, rel=1e-6, abs=1e-9 * max_lr)


@settings(max_examples=100, deadline=None)
@given(st.floats(1e-10, 1e-2), st.floats(1.5, 1e12), st.integers(2, 10_000))
def test_range_test_sweep_is_monotone_and_hits_its_endpoints(lr_start, ratio, n):
    lr_end = lr_start * ratio
    lr = schedules.range_test_sweep(np.arange(n), lr_start, lr_end, n)
    assert np.all(np.diff(lr) > 0)
    assert lr[0] == pytest.approx(lr_start, rel=1e-12)
    assert lr[-1] == pytest.approx(lr_end, rel=1e-9)
    # equal ratios between neighbours: evenly spaced on a log axis
    np.testing.assert_allclose(np.diff(np.log(lr)), np.log(ratio) / (n - 1), rtol=1e-6)
    assert schedules.range_test_sweep(n + 50, lr_start, lr_end, n) == pytest.approx(lr_end, rel=1e-9)


def test_ten_log_spaced_candidates_between_1e_minus_9_and_1e1():
    lr = schedules.range_test_candidates(**schedules.RANGE_TEST_CANDIDATES)
    assert lr.size == 10
    assert lr[0] == pytest.approx(1e-9) and lr[-1] == pytest.approx(10.0)
    np.testing.assert_allclose(np.diff(np.log10(lr)), 10 / 9)


# ----------------------------------------------------------------- validation
@pytest.mark.parametrize(
    "base_lr, max_lr, step_size, gamma, reason",
    [
        (0.01, 0.01, 2000, 1.0, "must be larger than base_lr"),  # the seed notebook's constant "CLR"
        (0.1, 0.01, 2000, 1.0, "must be larger than base_lr"),
        (0.0, 0.01, 2000, 1.0, "base_lr must be positive"),
        (0.001, 0.01, 0, 1.0, "step_size"),
        (0.001, 0.01, 2000, 1.5, "gamma"),
        (0.001, 0.01, 2000, 0.0, "gamma"),
    ],
)
def test_impossible_settings_are_rejected_with_a_reason(base_lr, max_lr, step_size, gamma, reason):
    with pytest.raises(ValueError, match=reason):
        schedules.exp_range(0, base_lr, max_lr, step_size, gamma)


def test_negative_iteration_and_bad_sweeps_are_rejected():
    with pytest.raises(ValueError, match="negative"):
        schedules.triangular(-1, BASE, MAX, STEP)
    with pytest.raises(ValueError, match="lr_start < lr_end"):
        schedules.range_test_sweep(0, 1e-1, 1e-3, 100)
    with pytest.raises(ValueError, match="shrink"):
        schedules.exp_range(0, BASE, MAX, STEP, GAMMA, shrink="both")


# ------------------------------------------------------------ step decay (ResNet)
def test_resnet_step_decay_divides_by_ten_at_32k_and_48k():
    t = [0, 31_999, 32_000, 47_999, 48_000, 64_000]
    np.testing.assert_allclose(schedules.step_decay(t, **schedules.RESNET_STEP_DECAY), [0.1, 0.1, 0.01, 0.01, 0.001, 0.001])


# ------------------------------------------------------------------ batch growth
def test_batch_grows_from_32_to_16384_doubling_every_k_iterations():
    k = 100
    t = np.array([0, 99, 100, 199, 200, 899, 900, 5000])
    np.testing.assert_array_equal(schedules.batch_growth(t, k), [32, 32, 64, 64, 128, 8192, 16384, 16384])
    sizes = np.unique(schedules.batch_growth(np.arange(0, 20 * k), k))
    np.testing.assert_array_equal(sizes, 32 * 2 ** np.arange(10))


@settings(max_examples=300, deadline=None)
@given(st.integers(1, 100_000), st.integers(1, 20_000))
def test_micro_batches_rebuild_the_effective_batch_within_memory(effective, limit):
    split = schedules.micro_batch_split(effective, limit)
    assert split.micro_batch * split.accumulation_steps == effective
    assert 1 <= split.micro_batch <= limit
    assert split.accumulation_steps >= -(-effective // limit)  # never fewer passes than memory allows


def test_power_of_two_batches_split_into_as_few_micro_batches_as_memory_allows():
    assert schedules.micro_batch_split(16_384, 512) == (512, 32)
    assert schedules.micro_batch_split(256, 512) == (256, 1)
    assert schedules.micro_batch_split(100, 30) == (25, 4)  # 30 does not divide 100; 4 × 25 does


def test_batch_growth_plan_lists_every_size_with_its_accumulation():
    plan = schedules.batch_growth_plan(k=50, max_micro_batch=1024, n_train=60_000, **schedules.BATCH_GROWTH)
    assert plan["batch size"].tolist() == [32 * 2**i for i in range(10)]
    assert plan["first iteration"].tolist() == [50 * i for i in range(10)]
    assert plan["accumulation steps"].tolist() == [1] * 6 + [2, 4, 8, 16]
    assert plan["epochs in phase"].iloc[-1] == pytest.approx(16_384 * 50 / 60_000)


# ----------------------------------------------------------- playground tables
def test_plot_keeps_every_apex_when_it_samples_a_long_run():
    t = schedules.plot_iterations(100_000, 2000, max_points=500)
    assert t.size < 1000
    assert set(range(0, 100_000, 2000)) <= set(t.tolist())
    curves = schedules.cyclical_curves(["triangular"], 100_000, BASE, MAX, 2000, GAMMA)
    assert curves["lr"].max() == pytest.approx(MAX)


def test_apex_table_shows_constant_halving_and_decaying_heights():
    table = schedules.apex_rates(["triangular", "triangular2", "exp_range"], 12_000, BASE, MAX, STEP, GAMMA)
    assert table["apex iteration"].tolist() == [2000, 6000, 10000]
    np.testing.assert_allclose(table["triangular"], MAX)
    np.testing.assert_allclose(np.diff(table["triangular2"] - BASE) / (table["triangular2"] - BASE)[:-1], -0.5)
    heights = table["exp_range"] - BASE
    np.testing.assert_allclose(heights[1:].to_numpy() / heights[:-1].to_numpy(), GAMMA ** (2 * STEP))


def test_importing_schedules_does_not_import_keras():
    code = (
        "import sys, dlcore.core.schedules, dlcore.core.rangetest; "
        "bad = [m for m in ('keras', 'tensorflow', 'jax') if m in sys.modules]; "
        "print(bad); sys.exit(1 if bad else 0)"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60,
                          cwd=str(__import__("pathlib").Path(__file__).resolve().parents[1]))
    assert done.returncode == 0, done.stdout + done.stderr


def test_growth_phases_double_the_batch_and_split_what_does_not_fit():
    assert schedules.growth_sizes(32, 16_384) == [32 * 2**i for i in range(10)]
    assert schedules.growth_sizes(32, 100) == [32, 64, 100]      # never above stop
    phases = schedules.growth_phases(k=7, max_micro_batch=512)
    assert [p.accumulation_steps for p in phases] == [1] * 5 + [2, 4, 8, 16, 32]
    assert all(p.micro_batch * p.accumulation_steps == p.batch_size for p in phases)
    assert {p.updates for p in phases} == {7}
    with pytest.raises(ValueError, match="k"):
        schedules.growth_phases(k=0, max_micro_batch=512)


def test_describe_says_the_numbers_a_run_would_use():
    text = schedules.describe({"name": "exp_range", "base_lr": 0.002, "max_lr": 0.05, "step_size": 100, "gamma": 0.999})
    assert "base_lr (lr_min) = 0.002" in text and "max_lr (lr_max) = 0.05" in text and "γ = 0.999" in text
    growth = schedules.describe({"name": "batch_growth", "start": 32, "stop": 16_384, "k": 50, "max_micro_batch": 512})
    assert "32 → 16384" in growth and "k = 50" in growth and "512" in growth
    assert "sweep" in schedules.describe({"name": "range_test", "lr_start": 1e-9, "lr_end": 10, "mode": "sweep"})
