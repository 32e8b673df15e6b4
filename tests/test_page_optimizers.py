"""The optimizers page (SPEC 1.1): live equations, the race, divergence, the URL."""
import pathlib
import subprocess
import sys

import pytest
from streamlit import dataframe_util
from streamlit.testing.v1 import AppTest

from dlcore import surfaces

ROOT = pathlib.Path(__file__).resolve().parents[1]
PAGE = str(ROOT / "pages" / "optimizers.py")


def page(**query) -> AppTest:
    at = AppTest.from_file(PAGE, default_timeout=60)
    for k, v in query.items():
        at.query_params[k] = v
    return at.run()


def latex_bodies(at) -> list[str]:
    return [x.body for x in at.latex]


def live(at, prefix: str) -> list[str]:
    """The live (numeric) equation lines: those with a numbered subscript, e.g. S_{50}."""
    return [b for b in latex_bodies(at) if prefix in b]


def inspector(at):
    return at.dataframe[-1].value.set_index("method")


def race_paths(at):
    """The trajectories as the race chart received them (its dataset with a 'step' column and w1/w2)."""
    chart = at.get("vega_lite_chart")[0]
    for d in chart.proto.datasets:
        df = dataframe_util.convert_arrow_bytes_to_pandas_df(d.data.data)
        if {"method", "step", "w1", "w2"} <= set(df.columns):
            return df
    raise AssertionError("no trajectory data in the race chart")


@pytest.fixture(scope="module")
def opened():
    return page()


def test_page_has_the_three_parts(opened):
    assert not opened.exception
    labels = [t.label for t in opened.tabs]
    top = [label for label in labels if label in ("Update rules", "Optimizer race", "MLP on CIFAR-10")]
    assert top == ["Update rules", "Optimizer race", "MLP on CIFAR-10"]
    for title in ("Adagrad", "RMSProp", "RMSProp + Nesterov", "AdaDelta", "Adam", "AdaDelta & Adam vs RMSProp"):
        assert title in labels


def test_every_rule_is_written_out_with_its_terms(opened):
    bodies = " ".join(latex_bodies(opened))
    for piece in (r"S_t = S_{t-1} + g_t^2", r"\tilde w_t = w_{t-1} + \mu\, V_{t-1}",
                  r"D_t = \beta\, D_{t-1}", r"\hat V_t = \frac{V_t}{1 - \beta_1^{\,t}}"):
        assert piece in bodies
    text = " ".join(m.value for m in opened.markdown)
    assert "bias correction" in text.lower() or "Bias corrections" in text
    # The comparison table answers the SPEC's "how AdaDelta and Adam differ from RMSProp".
    assert any("What sets the step size" in str(t.value) for t in opened.table)
    infos = " ".join(i.value for i in opened.info)
    assert "Nadam" in infos and "0.001" in infos  # Keras vs textbook notes


def test_moving_a_learning_rate_slider_changes_the_live_equations_and_the_path():
    at = page()
    before_eq = live(at, r"\hat V_{50}")
    before = inspector(at)
    paths_before = race_paths(at)
    at.select_slider(key="adam.learning_rate").set_value(0.01).run()
    assert not at.exception
    after_eq = live(at, r"\hat V_{50}")
    after = inspector(at)
    assert before_eq and after_eq and before_eq != after_eq
    assert any(r"\frac{0.01}" in b for b in live(at, r"\hat S_{50}"))
    assert (before.loc["Adam", "w1"], before.loc["Adam", "w2"]) != (after.loc["Adam", "w1"], after.loc["Adam", "w2"])
    # Only Adam's slider moved: the other four paths are unchanged, on the chart too.
    for m in ("Adagrad", "RMSProp", "RMSProp + Nesterov", "AdaDelta"):
        assert before.loc[m, "w1"] == after.loc[m, "w1"]
    paths_after = race_paths(at)
    adam = lambda df: df[df.method == "Adam"][["w1", "w2"]].to_numpy()  # noqa: E731
    rms = lambda df: df[df.method == "RMSProp"][["w1", "w2"]].to_numpy()  # noqa: E731
    assert adam(paths_before).shape == adam(paths_after).shape and (adam(paths_before) != adam(paths_after)).any()
    assert (rms(paths_before) == rms(paths_after)).all()


def test_step_slider_moves_all_five_and_the_equations():
    at = page()
    first = inspector(at)
    paths = race_paths(at)
    at.slider(key="t").set_value(10).run()
    moved = inspector(at)
    assert list(moved["step"]) == [10] * 5
    for m in moved.index:
        assert moved.loc[m, "w1"] != first.loc[m, "w1"] or moved.loc[m, "w2"] != first.loc[m, "w2"]
    assert live(at, "S_{10} &=") and not live(at, "S_{50} &=")
    # The paths themselves are the same: only the point shown on them moved.
    assert race_paths(at).equals(paths)


def test_surface_and_settings_are_read_from_the_url():
    at = page(surface="rosenbrock", steps="120", t="7", **{"rmsprop.rho": "0.5"})
    assert not at.exception
    assert at.selectbox(key="surface").value == "rosenbrock"
    assert at.select_slider(key="rmsprop.rho").value == 0.5
    assert r"100\,(w_2 - w_1^2)^2" in " ".join(latex_bodies(at))
    assert any(r"S_{7} &=" in b and r"&= 0.5 \cdot" in b for b in latex_bodies(at))


def test_changes_are_written_to_the_url():
    at = page()
    at.select_slider(key="adadelta.epsilon").set_value(1e-2).run()
    at.selectbox(key="surface").set_value("himmelblau").run()
    assert at.query_params["surface"] == ["himmelblau"] or at.query_params["surface"] == "himmelblau"
    assert "0.01" in str(at.query_params["adadelta.epsilon"])
    # A new surface starts from its own default start point.
    assert (at.slider(key="x0").value, at.slider(key="y0").value) == surfaces.SURFACES["himmelblau"].start


def test_bad_link_gives_a_message_not_a_traceback():
    at = page(surface="nowhere", x0="abc", **{"adam.beta_1": "7"})
    assert not at.exception
    warnings = " ".join(w.value for w in at.warning)
    assert "surface=nowhere" in warnings and "x0=abc" in warnings and "adam.beta_1=7" in warnings
    assert at.selectbox(key="surface").value == "quadratic"


def test_divergence_is_reported_and_the_page_still_draws():
    at = page(surface="rosenbrock", **{"rmsprop.learning_rate": "2"})
    assert not at.exception
    warnings = " ".join(w.value for w in at.warning)
    assert "RMSProp**" in warnings and "left the plotted area" in warnings
    table = inspector(at)
    assert table.loc["RMSProp", "status"].startswith("diverged")
    assert table.loc["Adam", "status"] == "ok"
    assert len(at.get("vega_lite_chart")) == 2
    paths = race_paths(at)
    rms = paths[paths.method == "RMSProp"]
    assert len(rms) < 201  # the path stops where it left the box ...
    x0, x1, y0, y1 = surfaces.SURFACES["rosenbrock"].box  # ... so every drawn point is inside it
    assert rms.w1.between(x0, x1).all() and rms.w2.between(y0, y1).all()


def test_mlp_tab_says_it_is_being_built(opened):
    assert any("being built" in i.value for i in opened.info)


def test_page_does_not_import_keras():
    code = (
        "import sys; from streamlit.testing.v1 import AppTest;"
        f"at = AppTest.from_file({PAGE!r}, default_timeout=60).run(); assert not at.exception;"
        "print(sorted(m for m in ('keras', 'tensorflow', 'jax') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip().splitlines()[-1] == "[]"
