"""dlcore.core.rules and dlcore.core.surfaces: the NumPy reference of the five update rules (SPEC 1.1)."""
import re
import subprocess
import sys

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dlcore.core import rules, surfaces

finite = st.floats(-1e3, 1e3, allow_nan=False, allow_infinity=False)
grad_seq = st.lists(st.lists(finite, min_size=3, max_size=3), min_size=1, max_size=30).map(np.array)


# --- the rules, by hand ---------------------------------------------------------------
def test_adagrad_first_step_by_hand():
    # S_1 = 0 + g² = (9, 0.01); w_1 = w_0 − 0.1/sqrt(S_1 + ε)·g
    w, s = rules.step("adagrad", np.array([1.0, 1.0]), np.array([3.0, -0.1]),
                      rules.initial_state("adagrad", np.zeros(2)),
                      {"learning_rate": 0.1, "epsilon": 0.0})
    np.testing.assert_allclose(s["S"], [9.0, 0.01])
    np.testing.assert_allclose(w, [1.0 - 0.1, 1.0 + 0.1])


def test_adam_bias_correction_undoes_zero_start():
    """At t = 1, V̂ = g and Ŝ = g²: the corrected moments are the gradient itself."""
    g = np.array([0.5, -2.0])
    w, s = rules.adam(np.zeros(2), g, rules.initial_state("adam", np.zeros(2)),
                      learning_rate=0.1, beta_1=0.9, beta_2=0.999, epsilon=1e-8)
    np.testing.assert_allclose(s["V_hat"], g)
    np.testing.assert_allclose(s["S_hat"], g * g)
    np.testing.assert_allclose(w, -0.1 * np.sign(g), rtol=1e-6)


def test_adadelta_numerator_is_last_steps_rms():
    """Step 2 divides sqrt(D_1 + ε), the RMS of step 1, by the gradient's RMS."""
    hp = {"learning_rate": 1.0, "rho": 0.9, "epsilon": 1e-6}
    g1, g2 = np.array([1.0]), np.array([2.0])
    w1, s1 = rules.step("adadelta", np.zeros(1), g1, rules.initial_state("adadelta", np.zeros(1)), hp)
    dw1 = -np.sqrt(1e-6) / np.sqrt(0.1 * 1 + 1e-6) * 1.0
    np.testing.assert_allclose(w1, [dw1])
    np.testing.assert_allclose(s1["D"], 0.1 * dw1**2)
    w2, s2 = rules.step("adadelta", w1, g2, s1, hp)
    S2 = 0.9 * 0.1 + 0.1 * 4.0
    np.testing.assert_allclose(w2 - w1, -np.sqrt(s1["D"] + 1e-6) / np.sqrt(S2 + 1e-6) * 2.0)


def test_nesterov_reads_gradient_at_lookahead_point():
    hp = {"learning_rate": 0.1, "rho": 0.9, "momentum": 0.9, "epsilon": 1e-8}
    state = {"t": 3, "S": np.ones(2), "V": np.array([0.5, -0.5]), "D": np.zeros(2)}
    w = np.array([1.0, 2.0])
    np.testing.assert_allclose(rules.lookahead("rmsprop_nesterov", w, state, hp), [1.45, 1.55])
    np.testing.assert_allclose(rules.lookahead("rmsprop", w, state, hp), w)


def test_unknown_hyper_parameter_is_refused():
    with pytest.raises(ValueError, match="momentum"):
        rules.step("rmsprop", np.zeros(2), np.ones(2), rules.initial_state("rmsprop", np.zeros(2)),
                   {"learning_rate": 0.1, "rho": 0.9, "epsilon": 1e-7, "momentum": 0.9})


# --- properties -------------------------------------------------------------------
def run_states(method, grads, hp):
    w, state = np.zeros(grads.shape[1]), rules.initial_state(method, np.zeros(grads.shape[1]), hp)
    out = []
    for g in grads:
        w, state = rules.step(method, w, g, state, hp)
        out.append(state)
    return out


@given(grad_seq)
def test_adagrad_learning_rate_only_shrinks(grads):
    states = run_states("adagrad", grads, {"learning_rate": 0.1, "epsilon": 1e-7})
    rates = np.array([s["rate"] for s in states])
    assert np.all(np.diff(rates, axis=0) <= 0)


@given(grad_seq, st.sampled_from([0.0, 0.5, 0.9, 0.99]))
def test_rmsprop_step_never_exceeds_alpha_over_sqrt_one_minus_beta(grads, rho):
    """S_t ≥ (1 − β) g_t², so α|g|/sqrt(S_t + ε) < α/sqrt(1 − β): the step is bounded."""
    states = run_states("rmsprop", grads, {"learning_rate": 0.1, "rho": rho, "epsilon": 1e-7})
    for s in states:
        assert np.all(np.abs(s["delta"]) <= 0.1 / np.sqrt(1 - rho) * (1 + 1e-12))


@given(grad_seq)
def test_rmsprop_nesterov_without_momentum_is_rmsprop(grads):
    hp = {"learning_rate": 0.01, "rho": 0.9, "epsilon": 1e-7}
    a = rules.run("rmsprop", np.ones(3), grads, hp)
    b = rules.run("rmsprop_nesterov", np.ones(3), grads, {**hp, "momentum": 0.0})
    np.testing.assert_allclose(a, b, rtol=1e-12)


@given(st.lists(finite.filter(lambda x: abs(x) > 1e-5), min_size=1, max_size=5).map(np.array))
def test_adam_first_step_is_at_most_alpha_whatever_the_gradient_scale(g):
    w, _ = rules.adam(np.zeros_like(g), g, rules.initial_state("adam", g),
                      learning_rate=0.01, beta_1=0.9, beta_2=0.999, epsilon=1e-8)
    assert np.all(np.abs(w) <= 0.01)
    assert np.all(np.abs(w) > 0.0099)  # bias correction: not (1 − β1) = 10 times smaller


@given(st.lists(finite, min_size=1, max_size=5).map(np.array), st.sampled_from([1e-8, 1e-6, 1e-3]))
def test_adadelta_first_step_is_about_sqrt_epsilon(g, eps):
    """D_0 = 0, so the first step is at most sqrt(ε / (1 − β)): ε sets AdaDelta's start speed."""
    w, _ = rules.adadelta(np.zeros_like(g), g, rules.initial_state("adadelta", g),
                          learning_rate=1.0, rho=0.95, epsilon=eps)
    assert np.all(np.abs(w) <= np.sqrt(eps / 0.05) * (1 + 1e-9))


def test_keras_form_of_adam_differs_only_by_where_epsilon_sits():
    """ε̂ (Keras) = ε·sqrt(1 − β2^t): with ε large next to sqrt(Ŝ), the two forms differ."""
    g = np.full((5, 1), 1e-3)
    hp = {"learning_rate": 0.1, "beta_1": 0.9, "beta_2": 0.999, "epsilon": 1e-3}
    paper = rules.run("adam", np.zeros(1), g, hp)
    keras_form = rules.run("adam", np.zeros(1), g, {**hp, "epsilon_hat": True})
    assert abs(paper[1][0] - keras_form[1][0]) > 0.5 * abs(paper[1][0])
    small = {**hp, "epsilon": 1e-12}
    np.testing.assert_allclose(rules.run("adam", np.zeros(1), g, small),
                               rules.run("adam", np.zeros(1), g, {**small, "epsilon_hat": True}), rtol=1e-6)


# --- surfaces -------------------------------------------------------------------
@pytest.mark.parametrize("name", list(surfaces.SURFACES))
def test_surface_gradient_matches_finite_differences(name):
    s = surfaces.SURFACES[name]
    rng = np.random.default_rng(1)
    x0, x1, y0, y1 = s.box
    for w in rng.uniform([x0, y0], [x1, y1], size=(20, 2)):
        h = 1e-6
        fd = [(s.loss(w + h * e) - s.loss(w - h * e)) / (2 * h) for e in np.eye(2)]
        np.testing.assert_allclose(s.gradient(w), fd, rtol=1e-5, atol=1e-4)


@pytest.mark.parametrize("name", list(surfaces.SURFACES))
def test_listed_minima_are_minima_inside_the_box(name):
    s = surfaces.SURFACES[name]
    assert s.contains(np.array(s.start))
    for m in s.minima:
        m = np.array(m)
        assert s.contains(m)
        np.testing.assert_allclose(s.gradient(m), 0.0, atol=1e-4)
        assert s.loss(m) == pytest.approx(s.loss_min, abs=1e-9)


def test_at_least_the_four_surfaces_the_issue_asks_for():
    assert {"quadratic", "rosenbrock", "saddle", "himmelblau"} <= set(surfaces.SURFACES)
    assert len(surfaces.SURFACES["himmelblau"].minima) >= 2


def test_grid_covers_the_box_for_contours():
    s = surfaces.SURFACES["rosenbrock"]
    g = surfaces.grid(s, n=30)
    assert len(g["loss"]) == 900
    assert g["w1_lo"].min() == s.box[0] and g["w2_hi"].max() == s.box[3]
    assert g["level"].min() >= 0 and np.all(np.isfinite(g["level"]))
    i = np.argmax(g["loss"])
    assert g["loss"][i] == pytest.approx(s.loss(np.array([g["w1"][i], g["w2"][i]])))


# --- trajectories and divergence -----------------------------------------------------
@pytest.mark.parametrize("name", list(surfaces.SURFACES))
def test_every_method_makes_progress_at_race_defaults(name):
    s = surfaces.SURFACES[name]
    race = rules.race(name, s.start, 300, rules.RACE_DEFAULTS)
    for m, tr in race.items():
        assert not tr.diverged, tr
        assert tr.loss[-1] < tr.loss[0], tr


def test_leaving_the_plotted_box_is_flagged_not_drawn():
    s = surfaces.SURFACES["rosenbrock"]
    tr = rules.trajectory("rmsprop", s, s.start, 200, {"learning_rate": 2.0, "rho": 0.9, "epsilon": 1e-7})
    assert tr.stopped == "diverged: left the plotted area"
    assert tr.steps < 200
    assert all(s.contains(w) for w in tr.w)
    assert not s.contains(np.array(tr.escape))
    assert len(tr.loss) == len(tr.w) == len(tr.states)


def test_nan_is_flagged_not_drawn():
    # ε = 0 at the minimum: the rate is α/0 and the step 0·∞ = NaN.
    tr = rules.trajectory("adagrad", "quadratic", (0.0, 0.0), 10,
                          {"learning_rate": 0.1, "epsilon": 0.0, "initial_accumulator_value": 0.0})
    assert tr.stopped == "diverged: the step produced NaN or inf"
    assert tr.steps == 0 and np.all(np.isfinite(tr.w))


@settings(max_examples=30, deadline=None)
@given(
    st.sampled_from(list(surfaces.SURFACES)),
    st.sampled_from(rules.METHODS),
    st.floats(0, 1), st.floats(0, 1),
    st.sampled_from([1e-3, 0.05, 0.5, 2.0]),
)
def test_trajectories_are_always_finite_and_inside_the_box(name, method, fx, fy, lr):
    s = surfaces.SURFACES[name]
    x0, x1, y0, y1 = s.box
    start = (x0 + fx * (x1 - x0), y0 + fy * (y1 - y0))
    tr = rules.trajectory(method, s, start, 100, {**rules.RACE_DEFAULTS[method], "learning_rate": lr})
    assert np.all(np.isfinite(tr.w)) and np.all(np.isfinite(tr.loss))
    assert all(s.contains(w) for w in tr.w)
    assert tr.diverged == (tr.steps < 100)


def test_race_records_and_inspector_share_the_steps():
    race = rules.race("saddle", (-2.0, 0.01), 40, rules.RACE_DEFAULTS)
    cols = rules.race_records(race)
    assert len(cols["step"]) == sum(len(tr.w) for tr in race.values())
    assert min(cols["gap"]) >= rules.GAP_FLOOR
    rows = rules.inspector_rows(race, 25)
    assert [r["method"] for r in rows] == [rules.TITLES[m] for m in rules.METHODS]
    adam = rows[-1]
    assert adam["step"] == 25 and adam["w1"] == race["adam"].w[25, 0]
    assert adam["S_hat_1"] is not None and rows[0]["S_hat_1"] is None  # Adagrad has no Ŝ


# --- LaTeX -------------------------------------------------------------------
def parse_number(tex: str) -> float:
    m = re.fullmatch(r"(-?[\d.]+)?(?:\\times )?(?:10\^\{(-?\d+)\})?", tex)
    mantissa = float(m.group(1)) if m.group(1) else 1.0
    return mantissa * 10 ** int(m.group(2) or 0)


@given(st.floats(-1e9, 1e9, allow_nan=False).filter(lambda x: x == 0 or abs(x) > 1e-300))
def test_number_keeps_four_significant_digits(x):
    assert parse_number(rules.number(x)) == pytest.approx(x, rel=1e-3, abs=1e-300)


@pytest.mark.parametrize("method", rules.METHODS)
def test_live_equations_end_at_the_new_weights(method):
    tr = rules.trajectory(method, "rosenbrock", (-1.5, 2.5), 30, rules.RACE_DEFAULTS[method])
    lines = rules.live_equations_at(tr, 7)
    assert lines[-1].startswith(r"\begin{aligned}w_{7} &=")
    assert lines[-1].endswith(rules.vector(tr.w[7]) + r"\end{aligned}")
    assert rules.vector(tr.states[7]["S"]) in " ".join(lines)
    assert rules.number(tr.hparams["learning_rate"]) in " ".join(lines) or method == "adadelta"


def test_live_equations_substitute_the_hyper_parameters():
    hp = {"learning_rate": 0.02, "beta_1": 0.8, "beta_2": 0.99, "epsilon": 1e-4}
    tr = rules.trajectory("adam", "quadratic", (-2.5, 1.2), 10, hp)
    text = " ".join(rules.live_equations_at(tr, 3))
    for needle in (r"0.8 \cdot", r"0.99 \cdot", r"1 - 0.8^{3}", r"1 - 0.99^{3}", r"\frac{0.02}", r"10^{-4}"):
        assert needle in text


def test_every_method_has_equations_terms_and_hyper_parameters():
    for m in rules.METHODS:
        assert rules.EQUATIONS[m] and rules.TERMS[m] and rules.KERAS_NOTES[m] and rules.SOURCES[m]
        assert set(rules.HPARAM_TEXT[m]) == set(rules.HPARAMS[m]) == set(rules.DEFAULTS[m])
        assert set(rules.RACE_DEFAULTS[m]) == set(rules.HPARAMS[m])


def test_rules_and_surfaces_do_not_import_keras():
    code = "import sys, dlcore.core.rules, dlcore.core.surfaces; print(sorted(m for m in ('keras', 'tensorflow', 'jax', 'streamlit') if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


# --- domains: nonsense is refused in words --------------------------------------------------
@pytest.mark.parametrize("lr", [0.0, -0.1, float("nan"), -float("inf")])
def test_trajectory_refuses_a_learning_rate_that_is_not_positive(lr):
    with pytest.raises(ValueError, match=r"α \(learning_rate\) must be in \(0, inf\)"):
        rules.trajectory("adam", "quadratic", (1.0, 1.0), 10, {**rules.RACE_DEFAULTS["adam"], "learning_rate": lr})


@pytest.mark.parametrize("steps", [-1, -100, 2.5, True])
def test_trajectory_refuses_a_step_count_that_is_not_a_whole_number(steps):
    with pytest.raises(ValueError, match="steps counts updates and must be a whole number ≥ 0"):
        rules.trajectory("adam", "quadratic", (1.0, 1.0), steps, rules.RACE_DEFAULTS["adam"])


def test_zero_steps_is_just_the_start():
    tr = rules.trajectory("adam", "quadratic", (1.0, 1.0), 0, rules.RACE_DEFAULTS["adam"])
    assert tr.steps == 0 and np.allclose(tr.w[0], [1.0, 1.0])


@settings(max_examples=60, deadline=None)
@given(st.sampled_from(rules.METHODS), st.data())
def test_every_hyper_parameter_outside_its_domain_is_refused(method, data):
    name = data.draw(st.sampled_from([h for h in rules.RACE_DEFAULTS[method] if h in rules.DOMAINS]))
    low, high, low_in, high_in = rules.DOMAINS[name]
    below = st.floats(max_value=low, exclude_max=low_in, allow_nan=False)
    above = st.floats(min_value=high, exclude_min=high_in, allow_nan=False) if high < float("inf") else st.nothing()
    bad = data.draw(below | above | st.just(float("nan")))
    with pytest.raises(ValueError, match=f"\\({name}\\) must be in"):
        rules.trajectory(method, "quadratic", (1.0, 1.0), 5, {**rules.RACE_DEFAULTS[method], name: bad})


@settings(max_examples=40, deadline=None)
@given(st.sampled_from(rules.METHODS), st.floats(1e-6, 10.0), st.integers(0, 50))
def test_every_value_inside_the_domains_runs(method, lr, steps):
    tr = rules.trajectory(method, "quadratic", (1.0, 1.0), steps, {**rules.RACE_DEFAULTS[method], "learning_rate": lr})
    assert tr.steps <= steps and np.all(np.isfinite(tr.w))
