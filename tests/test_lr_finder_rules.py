"""dlcore.core.lr_finder_rules: every suggestion rule on curves with known answers, including early
spikes, noise and NaNs, and the bootstrap / seed bands."""
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dlcore.core import lr_finder_rules as rules
from dlcore.core import rangetest, schedules

# The synthetic range test of tests/test_rangetest.py: a logistic fall from 2.3 to 0.3 centred on
# lr = 1e-3 (width W in log10 lr), a blow-up above lr ≈ 0.3 and NaN from lr = 2 on.
CENTRE, W = -3.0, 0.4
Z_10 = CENTRE + W * np.log(1 / 9)   # the logistic has done 10 % of its fall
Z_90 = CENTRE + W * np.log(9)       # … and 90 %
SWEEP = schedules.range_test_sweep(np.arange(2000), 1e-7, 10.0, 2000)


def synthetic_loss(lr):
    z = np.log10(lr)
    loss = 2.3 - 2.0 / (1 + np.exp(-(z - CENTRE) / W))
    loss = np.where(z > -0.5, loss * np.exp(3 * (z + 0.5)), loss)
    return np.where(z > 0.3, np.nan, loss)


CLEAN = synthetic_loss(SWEEP)


def z(suggestion) -> float:
    return float(np.log10(suggestion.lr))


def fastai_valley_index(losses) -> int:
    """fastai.callback.schedule.valley's index, its O(n²) loop as written there."""
    n = len(losses)
    max_start, max_end = 0, 0
    lds = [1] * n
    for i in range(1, n):
        for j in range(i):
            if losses[i] < losses[j] and lds[i] < lds[j] + 1:
                lds[i] = lds[j] + 1
            if lds[max_end] < lds[i]:
                max_end = i
                max_start = max_end - lds[max_end]
    sections = (max_end - max_start) / 3
    return max_start + int(sections) + int(sections / 2)


# --- Each rule alone, on curves whose answer is worked out by hand ---------------------------

def test_valley_takes_two_thirds_of_the_longest_fall_as_fastai_counts_it():
    lr = np.geomspace(1e-6, 1e0, 16)
    loss = np.r_[np.arange(13, 0, -1.0), 2.0, 3.0, 4.0]  # falls for 13 points, then rises
    # lds = 13 at index 12, start = 12 − 13 = −1, sections = 13/3: index −1 + 4 + 2 = 5
    assert rules.valley(lr, loss).lr == pytest.approx(lr[5])


@settings(max_examples=60, deadline=None)
@given(st.lists(st.floats(0.1, 5.0, allow_nan=False), min_size=3, max_size=60))
def test_valley_is_fastais_valley_on_any_curve(losses):
    losses = np.asarray(losses)
    lr = np.geomspace(1e-7, 10, losses.size)
    expected = min(max(fastai_valley_index(list(losses)), 0), losses.size - 1)
    assert rules.valley(lr, losses).lr == pytest.approx(lr[expected])


def test_steep_is_the_most_negative_slope_per_decade():
    lr = 10.0 ** np.arange(-6, 0.01, 0.5)                     # 13 rates, half a decade apart
    loss = np.array([2.3, 2.3, 2.2, 2.1, 1.9, 1.2, 0.6, 0.5, 0.45, 0.5, 0.7, 1.5, 3.0])
    # central differences: the largest drop over two neighbours is 1.9 → 0.6 around index 5
    assert rules.steep(lr, loss).lr == pytest.approx(lr[5])
    assert rules.steep(lr, np.linspace(1, 2, 13)).lr is None   # a loss that only rises has no steepest fall


def test_minimum_is_a_tenth_of_the_rate_at_the_lowest_loss():
    lr = np.geomspace(1e-5, 1, 6)
    s = rules.minimum(lr, [2.3, 2.0, 1.0, 0.4, 0.9, 5.0])
    assert s.lr == pytest.approx(lr[3] / 10)


def test_slide_stops_where_the_slope_stops_changing_fastais_lr_diff_to_the_left():
    lr = np.geomspace(1e-6, 1e0, 601)                          # 100 points per decade
    x = np.log10(lr)
    kink = -2.0
    # a straight fall (−0.2 per decade) up to the kink, then a bend (a parabola) to the right end
    loss = np.where(x < kink, 2 - 0.2 * (x + 6), 2 - 0.2 * (kink + 6) - 0.2 * (x - kink) + (x - kink) ** 2)
    # fastai: slopes 15 of its points (1.2 decades) apart; stops once they differ by ≤ 0.005 per
    # point, i.e. 2·(x − kink)/12.4 ≤ 0.005 → x ≤ kink + 0.031; suggestion lr_diff further left
    expected = kink + 0.031 - 15 / rules.FASTAI_POINTS_PER_DECADE
    assert abs(z(rules.slide(lr, loss)) - expected) < 0.03


def test_slide_says_why_when_the_test_is_too_short():
    s = rules.slide(np.geomspace(1e-3, 1.6e-3, 3), [2.0, 1.0, 0.5])  # 0.2 decades: 1.2 do not fit
    assert s.lr is None and "points" in s.why


# --- All rules at once, on the synthetic range test -------------------------------------------

def test_every_rule_on_a_clean_sweep_lands_where_the_curve_says():
    found = rules.all_suggestions(SWEEP, CLEAN)
    assert list(found) == list(rules.RULES)
    assert abs(z(found["steep"]) - CENTRE) < 0.1                 # the logistic falls fastest at its centre
    assert abs(z(found["smith_lr_min"]) - Z_10) < 0.1
    assert abs(z(found["smith_lr_max"]) - Z_90) < 0.1
    # the loss is lowest where the blow-up starts (lr = 10^-0.5); smoothing blurs that kink by ~0.2 decades
    assert abs(z(found["minimum"]) - (-0.5 - 1)) < 0.25
    # valley: the whole read curve falls up to the minimum, and 1/3 + 1/6 of it is its middle (in points)
    prepared = rules.prepare_curve(SWEEP, CLEAN)
    start, bottom = int(prepared.lr.size * rules.SKIP_START_FRACTION), int(np.argmin(prepared.loss))
    middle = np.log10(prepared.lr[(start + bottom) // 2])
    assert abs(z(found["valley"]) - middle) < 0.02
    assert found["valley"].lr < found["steep"].lr < found["smith_lr_max"].lr < found["minimum"].lr * 10


def test_every_suggestion_is_marked_on_the_curve_it_was_read_from():
    prepared = rules.prepare_curve(SWEEP, CLEAN)
    for s in rules.suggestions_of(prepared).values():
        assert prepared.loss.min() - 1e-9 <= s.loss <= prepared.loss.max() + 1e-9


def test_ten_discrete_candidates_with_inf_and_nan_at_the_top():
    lr = schedules.range_test_candidates()
    loss = np.array([2.30, 2.30, 2.31, 2.29, 1.50, 0.50, 0.40, np.inf, np.nan, np.nan])
    found = rules.all_suggestions(lr, loss)
    # by hand, on the 7 points before the inf (no smoothing for 10 candidates, no 10 % skipped of 7):
    # longest fall 2.31 → 0.40 has 5 points ending at index 6: start 1, index 1 + 1 + 0 = 2
    assert found["valley"].lr == pytest.approx(lr[2])
    assert found["steep"].lr == pytest.approx(lr[4])             # (0.50 − 2.29)/2 is the steepest
    assert found["minimum"].lr == pytest.approx(lr[6] / 10)
    assert lr[3] < found["smith_lr_min"].lr < lr[4] < found["smith_lr_max"].lr < lr[6]


def test_early_spikes_do_not_fool_any_rule():
    spiky = CLEAN.copy()
    spiky[:8] = 30.0                                             # the first batches blow up (Lightning #1767)
    plain = rangetest.suggest_lr_bounds(SWEEP, spiky)
    assert abs(np.log10(plain.lr_min) - Z_10) > 1                # the unprepared reading is fooled …
    clean, found = rules.all_suggestions(SWEEP, CLEAN), rules.all_suggestions(SWEEP, spiky)
    for rule in rules.RULES:                                     # … the prepared one is not
        assert abs(z(found[rule]) - z(clean[rule])) < 0.05, rule
    assert rules.prepare_curve(SWEEP, spiky).spikes_replaced >= 8


def test_isolated_spikes_in_the_fall_are_replaced_not_read_as_divergence():
    spiky = CLEAN.copy()
    where = np.random.default_rng(1).choice(np.arange(300, 1500), 12, replace=False)
    spiky[where] *= 40
    clean, found = rules.all_suggestions(SWEEP, CLEAN), rules.all_suggestions(SWEEP, spiky)
    for rule in rules.RULES:
        assert abs(z(found[rule]) - z(clean[rule])) < 0.05, rule


def test_isolated_nans_are_dropped_and_the_trailing_ones_cut_the_test():
    holed = CLEAN.copy()
    holed[[400, 900, 1100]] = np.nan                             # logging glitches (fastai #3477)
    holed[1200] = np.inf
    plain = rangetest.suggest_lr_bounds(SWEEP, holed)
    assert plain.diverged_at_lr < 1e-5                           # unprepared: "diverged" at the first NaN
    prepared = rules.prepare_curve(SWEEP, holed)
    assert prepared.dropped_non_finite == 4
    clean, found = rules.all_suggestions(SWEEP, CLEAN), rules.suggestions_of(prepared)
    for rule in rules.RULES:
        assert abs(z(found[rule]) - z(clean[rule])) < 0.05, rule


def test_a_test_that_is_nan_from_the_start_is_reported_not_read():
    with pytest.raises(ValueError):
        rules.all_suggestions(np.geomspace(1e-6, 1, 10), [2.3, np.nan] + [np.nan] * 8)


def test_a_loss_that_never_falls_still_gets_the_rules_that_can_read_it():
    found = rules.all_suggestions(np.geomspace(1e-9, 1e1, 10), np.linspace(2.3, 2.5, 10))
    assert found["smith_lr_max"].lr is None and "never fell" in found["smith_lr_max"].why
    assert found["steep"].lr is None


@pytest.mark.parametrize("seed", range(3))
def test_noisy_sweep_keeps_the_smooth_rules_near_their_answers(seed):
    rng = np.random.default_rng(seed)
    found = rules.all_suggestions(SWEEP, CLEAN * (1 + 0.05 * rng.standard_normal(SWEEP.size)))
    assert abs(z(found["steep"]) - CENTRE) < 0.35
    assert abs(z(found["smith_lr_min"]) - Z_10) < 0.25
    assert abs(z(found["smith_lr_max"]) - Z_90) < 0.25
    assert abs(z(found["minimum"]) - (-1.5)) < 0.3


# --- Bands: bootstrap resamples of the logged batches, and other seeds -------------------------

def test_bootstrap_band_contains_the_suggestion_and_widens_with_noise():
    widths = {}
    for noise in (0.02, 0.2):
        noisy = CLEAN * (1 + noise * np.random.default_rng(3).standard_normal(SWEEP.size))
        spread = rules.bootstrap_spread(SWEEP, noisy, n_resamples=30)
        found = rules.all_suggestions(SWEEP, noisy)
        widths[noise] = spread
        if noise == 0.02:
            for rule in ("steep", "minimum", "smith_lr_min", "smith_lr_max"):
                assert spread[rule].low <= found[rule].lr <= spread[rule].high, rule
                assert spread[rule].n_read == 30
    for rule in ("steep", "smith_lr_min", "smith_lr_max"):
        assert widths[0.2][rule].decades > widths[0.02][rule].decades, rule


def test_bootstrap_of_a_discrete_test_resamples_within_each_candidate():
    lr = np.repeat(schedules.range_test_candidates(), 4)
    strata = rules.bootstrap_strata(lr)
    assert len(set(strata)) == 10 and all((strata == s).sum() == 4 for s in set(strata))
    loss = np.repeat([2.3, 2.3, 2.3, 2.2, 1.5, 0.5, 0.4, 0.6, np.inf, np.nan], 4)
    resampled = rules.bootstrap_records(lr, loss + np.tile([0.05, -0.05, 0.0, 0.01], 10),
                                        np.random.default_rng(0))
    # every resampled loss comes from a record at the same rate
    for i in range(lr.size):
        same_rate = (loss + np.tile([0.05, -0.05, 0.0, 0.01], 10))[lr == lr[i]]
        assert np.isnan(resampled[i]) or np.isinf(resampled[i]) or resampled[i] in same_rate


def test_bootstrap_of_a_sweep_keeps_its_rates_and_draws_from_neighbours():
    strata = rules.bootstrap_strata(SWEEP)
    assert np.all(np.bincount(strata) <= rules.BOOTSTRAP_BLOCK)
    resampled = rules.bootstrap_records(SWEEP, CLEAN, np.random.default_rng(0))
    # each rate keeps a loss logged at most 2 records away (a neighbour within its block)
    for i, value in enumerate(resampled):
        near = CLEAN[max(0, i - 2): i + 3]
        assert (np.isnan(value) and np.isnan(near).any()) or value in near


def test_seed_band_spans_the_suggestions_of_several_range_tests():
    tests = [(SWEEP, CLEAN * (1 + 0.05 * np.random.default_rng(s).standard_normal(SWEEP.size)))
             for s in range(6)]
    spread = rules.seed_spread(tests, band=1.0)
    each = [rules.suggestions_from_records(lr, loss)["smith_lr_max"].lr for lr, loss in tests]
    assert spread["smith_lr_max"].low == pytest.approx(min(each))
    assert spread["smith_lr_max"].high == pytest.approx(max(each))
    assert spread["smith_lr_max"].n_read == 6


def test_rules_table_has_one_row_per_rule_with_its_sentence():
    found = rules.all_suggestions(SWEEP, CLEAN)
    rows = rules.rules_table(found, rules.bootstrap_spread(SWEEP, CLEAN, n_resamples=5))
    assert [r["rule"] for r in rows] == list(rules.RULES)
    assert all(r["how"] and r["lr"] > 0 and r["low"] <= r["high"] for r in rows)
    assert "fastai" in rows[0]["how"] and "pytorch-lr-finder" in rows[1]["how"]


def test_smith_from_records_is_the_reading_the_other_rules_get():
    holed = CLEAN.copy()
    holed[[400, 900]] = np.nan
    s = rules.smith_from_records(SWEEP, holed)
    found = rules.suggestions_from_records(SWEEP, holed)
    assert (s.lr_min, s.lr_max) == (found["smith_lr_min"].lr, found["smith_lr_max"].lr)
    with pytest.raises(ValueError, match="never fell"):
        rules.smith_from_records(np.geomspace(1e-9, 1e1, 10), np.linspace(2.3, 2.5, 10))


# --- The chart -----------------------------------------------------------------------------------

def test_chart_marks_every_rule_on_the_curve_and_draws_its_band():
    import pandas as pd

    from dlcore.charts import finder

    noisy = CLEAN * (1 + 0.05 * np.random.default_rng(0).standard_normal(SWEEP.size))
    prepared = rules.prepare_curve(SWEEP, noisy)
    rows = rules.rules_table(rules.suggestions_of(prepared), rules.bootstrap_spread(SWEEP, noisy, n_resamples=5))
    batches = pd.DataFrame({"lr": SWEEP, "loss": noisy, "step": np.arange(SWEEP.size)})
    curve, bands = finder.range_test_rules_charts(batches, pd.DataFrame({"lr": prepared.lr, "loss": prepared.loss}),
                                                  rows)
    curve, bands = curve.to_dict(), bands.to_dict()
    marks = [layer["mark"]["type"] for layer in curve["layer"]]
    assert marks == ["line", "line", "rule", "point"]
    rule_data = curve["datasets"][curve["layer"][2]["data"]["name"]]
    assert [r["rule"] for r in rule_data] == list(rules.RULES)
    band_data = bands["datasets"][bands["layer"][0]["data"]["name"]]
    assert [r["rule"] for r in band_data] == list(rules.RULES)
    assert all(r["low"] <= r["high"] for r in band_data)
    # one learning-rate domain for both, so every band sits under its mark
    assert curve["layer"][0]["encoding"]["x"]["scale"] == bands["layer"][0]["encoding"]["x"]["scale"]
