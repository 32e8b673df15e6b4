"""dlcore.core.rangetest: suggested lr_min/lr_max from synthetic range tests with a known answer."""
import numpy as np
import pytest

from dlcore.core import rangetest, schedules

# A synthetic range test: the loss falls from 2.3 (ln 10, chance on 10 classes) to 0.3 along
# a logistic in log10(lr) centred on 1e-3 with width W, then blows up above lr = 0.3.
CENTRE, W = -3.0, 0.4
LR_10 = 10 ** (CENTRE + W * np.log(1 / 9))  # logistic has done 10 % of its fall
LR_90 = 10 ** (CENTRE + W * np.log(9))  # … and 90 %


def synthetic_loss(lr):
    z = np.log10(lr)
    loss = 2.3 - 2.0 / (1 + np.exp(-(z - CENTRE) / W))
    loss = np.where(z > -0.5, loss * np.exp(3 * (z + 0.5)), loss)  # diverges past lr ≈ 0.3
    return np.where(z > 0.3, np.nan, loss)  # and ends in NaN, as a real run does


SWEEP = schedules.range_test_sweep(np.arange(2000), 1e-7, 10.0, 2000)


def log_error(a, b):
    return abs(np.log10(a / b))


def test_clean_sweep_gives_the_ten_and_ninety_percent_points_of_the_fall():
    s = rangetest.suggest_lr_bounds(SWEEP, synthetic_loss(SWEEP), beta=0.0)
    # the fall measured to the curve's own minimum is a hair more than 2.0, hence 0.02 decades
    assert log_error(s.lr_min, LR_10) < 0.02
    assert log_error(s.lr_max, LR_90) < 0.02
    assert s.lr_min < s.lr_max
    assert 0.2 < s.diverged_at_lr < 1.0
    assert "10%" in s.explanation and "90%" in s.explanation


@pytest.mark.parametrize("seed", range(5))
def test_noisy_sweep_stays_within_a_quarter_decade_of_the_answer(seed):
    rng = np.random.default_rng(seed)
    noisy = synthetic_loss(SWEEP) * (1 + 0.05 * rng.standard_normal(SWEEP.size))
    s = rangetest.suggest_lr_bounds(SWEEP, noisy)
    assert s.beta == pytest.approx(0.98)  # fast.ai's smoothing on a long sweep
    assert log_error(s.lr_min, LR_10) < 0.25
    assert log_error(s.lr_max, LR_90) < 0.25


def test_smoothing_lag_is_undone_by_reading_each_point_at_its_average_lr():
    # Without the correction an EMA with beta 0.98 lags ~50 points = 0.4 decades here.
    s = rangetest.suggest_lr_bounds(SWEEP, synthetic_loss(SWEEP), beta=0.98)
    assert log_error(s.lr_max, LR_90) < 0.1
    finite = np.isfinite(s.smoothed)
    assert np.all(s.smoothed_lr[finite] <= SWEEP[finite])  # averages of earlier, smaller rates


def test_ten_discrete_candidates_with_inf_and_nan_at_the_top():
    lr = schedules.range_test_candidates()
    loss = np.array([2.30, 2.30, 2.31, 2.29, 1.50, 0.50, 0.40, np.inf, np.nan, np.nan])
    s = rangetest.suggest_lr_bounds(lr, loss)
    assert s.beta == 0.0  # each candidate's loss is already an average: no smoothing
    assert lr[3] < s.lr_min < lr[4]  # the loss starts to fall between candidates 4 and 5
    assert lr[4] < s.lr_max < lr[6]  # and has done 90 % of its fall before candidate 7
    assert s.lr_at_min_loss == pytest.approx(lr[6])
    assert s.diverged_at_lr == pytest.approx(lr[7])
    assert s.n_used == 7


def test_divergence_by_four_times_the_best_loss_cuts_the_test_without_nan():
    lr = np.geomspace(1e-5, 1, 9)
    loss = np.array([2.3, 2.3, 1.8, 1.0, 0.5, 0.6, 2.1, 9.0, 50.0])  # 2.1 > 4·0.5
    s = rangetest.suggest_lr_bounds(lr, loss)
    assert s.diverged_at_lr == pytest.approx(lr[6])
    assert s.lr_max < lr[4]


def test_smoothing_is_bias_corrected_and_stops_at_the_first_nan():
    smoothed = rangetest.ema([2.0, 2.0, 2.0, np.nan, 2.0], beta=0.9)
    np.testing.assert_allclose(smoothed[:3], 2.0)  # no pull towards 0 at the start
    assert np.isnan(smoothed[3:]).all()


def test_a_loss_that_never_falls_is_reported_not_guessed():
    lr = np.geomspace(1e-9, 1e1, 10)
    with pytest.raises(ValueError, match="never fell"):
        rangetest.suggest_lr_bounds(lr, np.linspace(2.3, 2.5, 10))
    with pytest.raises(ValueError, match="diverged after"):
        rangetest.suggest_lr_bounds(lr, [2.3, np.nan] + [np.nan] * 8)


def test_learning_rates_must_increase():
    with pytest.raises(ValueError, match="increasing"):
        rangetest.suggest_lr_bounds([1e-3, 1e-4, 1e-2], [2.3, 2.0, 1.0])
    with pytest.raises(ValueError, match="one loss per learning rate"):
        rangetest.suggest_lr_bounds([1e-3, 1e-2, 1e-1], [2.3, 2.0])


def test_records_of_a_discrete_test_are_read_one_point_per_candidate():
    lr = np.repeat(schedules.range_test_candidates(), 4)       # each candidate logged 4 times
    noise = np.tile([0.05, -0.05, 0.02, -0.02], 10)
    base = np.array([2.30, 2.30, 2.31, 2.29, 1.50, 0.50, 0.40, 0.60, np.inf, np.nan])
    rates, loss = rangetest.range_test_curve(lr, np.repeat(base, 4) + noise)
    np.testing.assert_allclose(rates, schedules.range_test_candidates())
    np.testing.assert_allclose(loss[:8], base[:8])             # the noise averages out per candidate
    assert not np.isfinite(loss[8:]).any()                      # divergence survives the averaging
    s = rangetest.suggest_from_records(lr, np.repeat(base, 4) + noise)
    assert s.beta == 0.0 and s.n_used == 8 and s.lr_min < s.lr_max


def test_records_of_a_sweep_keep_every_rate_in_order():
    shuffled = np.random.default_rng(0).permutation(SWEEP.size)
    rates, loss = rangetest.range_test_curve(SWEEP[shuffled], synthetic_loss(SWEEP)[shuffled])
    np.testing.assert_allclose(rates, SWEEP)
    np.testing.assert_allclose(loss, synthetic_loss(SWEEP))
    s = rangetest.suggest_from_records(SWEEP, synthetic_loss(SWEEP))
    assert log_error(s.lr_max, LR_90) < 0.1
