"""The entry points that build experiments and schedules refuse nonsense with a ValueError in words
(issue 13: γ = 1.5, γ = 0 and step_epochs = -1 were accepted; candidates = 0 divided by zero)."""
import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dlcore.core import schedules
from dlcore.engine import experiments


@pytest.mark.parametrize("gamma", [1.5, 0.0, -0.5, math.nan, math.inf])
def test_clr_runs_refuses_a_gamma_outside_zero_to_one(gamma):
    with pytest.raises(ValueError, match=r"gamma must be in \(0, 1\]"):
        experiments.clr_runs("class", 1e-3, 1e-1, gamma=gamma)


@pytest.mark.parametrize("step_epochs", [-1, 0, math.nan, math.inf])
def test_clr_runs_refuses_a_step_that_is_not_a_positive_number_of_epochs(step_epochs):
    with pytest.raises(ValueError, match="step_epochs .* must be a positive number"):
        experiments.clr_runs("class", 1e-3, 1e-1, step_epochs=step_epochs)


@settings(max_examples=30, deadline=None)
@given(st.floats(0.01, 1.0), st.floats(0.25, 8.0))
def test_clr_runs_accepts_its_whole_domain(gamma, step_epochs):
    (spec,) = experiments.clr_runs("class", 1e-3, 1e-1, gamma=gamma, step_epochs=step_epochs)
    assert spec.schedule["gamma"] == gamma and spec.schedule["step_size"] >= 1


@pytest.mark.parametrize("lr_min, lr_max", [(0.1, 1e-3), (1e-3, 1e-3), (0.0, 0.1), (-1.0, 0.1)])
def test_clr_runs_refuses_bounds_that_are_not_a_cycle(lr_min, lr_max):
    with pytest.raises(ValueError, match="lr_min and lr_max"):
        experiments.clr_runs("class", lr_min, lr_max)


@pytest.mark.parametrize("candidates", [0, 1, -3, 2.5])
def test_range_test_runs_needs_at_least_two_candidates(candidates):
    with pytest.raises(ValueError, match="at least 2 candidate rates"):
        experiments.range_test_runs("class", candidates=candidates)


@pytest.mark.parametrize("lr_start, lr_end", [(10.0, 1e-9), (1e-3, 1e-3), (0.0, 1.0), (-1e-3, 1.0)])
def test_range_test_runs_sweeps_upwards_from_a_positive_rate(lr_start, lr_end):
    with pytest.raises(ValueError, match="0 < lr_start < lr_end"):
        experiments.range_test_runs("class", lr_start=lr_start, lr_end=lr_end)


@settings(max_examples=20, deadline=None)
@given(st.integers(2, 40), st.floats(-9, -2), st.floats(-1, 1))
def test_range_test_runs_accepts_its_whole_domain(candidates, log_start, log_end):
    specs = experiments.range_test_runs("class", 10 ** log_start, 10 ** log_end, candidates)
    assert [s.schedule["candidates"] for s in specs] == [candidates] * 2


@pytest.mark.parametrize("build", [lambda: experiments.clr_runs("huge", 1e-3, 1e-1),
                                   lambda: experiments.range_test_runs("huge")])
def test_an_unknown_preset_is_named_not_a_key_error(build):
    with pytest.raises(ValueError, match="unknown preset 'huge'"):
        build()


@pytest.mark.parametrize("call", [lambda: schedules.batch_growth(3, math.nan),
                                  lambda: schedules.step_decay(1, math.nan),
                                  lambda: schedules.step_decay(1, 0.1, factor=math.inf)])
def test_schedules_refuse_numbers_that_are_not_finite(call):
    with pytest.raises(ValueError, match="finite|positive numbers"):
        call()
