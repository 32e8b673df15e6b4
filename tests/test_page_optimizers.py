"""The optimizers page: live equations, the race, divergence, the URL (SPEC 1.1), and the MLP
on CIFAR-10 with L2 and with dropout (SPEC 1.2-1.3)."""
import json
import math
import os
import pathlib
import subprocess
import sys

import pandas as pd
import pytest
from streamlit import dataframe_util
from streamlit.testing.v1 import AppTest

from dlcore.engine import experiments, jobs
from dlcore.core import rules, surfaces

ROOT = pathlib.Path(__file__).resolve().parents[1]
PAGE = str(ROOT / "app_pages" / "optimizers.py")


@pytest.fixture(autouse=True, scope="module")
def private_live_runs(tmp_path_factory):
    """Opening the page lists (and would start) live runs: keep this module's away from runs/."""
    old = os.environ.get("DLCORE_RUNS_DIR")
    os.environ["DLCORE_RUNS_DIR"] = str(tmp_path_factory.mktemp("live_runs"))
    yield
    if old is None:
        os.environ.pop("DLCORE_RUNS_DIR", None)
    else:
        os.environ["DLCORE_RUNS_DIR"] = old


RACE, RULES, MLP = "Optimizer race", "Update rules", "MLP on CIFAR-10"


def page(**query) -> AppTest:
    at = AppTest.from_file(PAGE, default_timeout=60)
    for k, v in query.items():
        at.query_params[k] = v
    return at.run()


def open_tab(at, tab: str, rule: str | None = None) -> AppTest:
    """Open a top tab (and a method tab of the Update rules): the tabs are lazy, only the open one is drawn."""
    at.session_state["tab"] = tab
    if "tab" in at.query_params:  # the tab came from the link: a click in the browser rewrites it there
        at.query_params["tab"] = tab
    if rule is not None:
        at.session_state["rule_tab"] = rule
    return at.run()


def every_rule_tab(at) -> dict[str, dict]:
    """Each method tab of the Update rules opened in turn: {tab: its latex, markdown, tables and infos}."""
    seen = {}
    for title in [rules.TITLES[m] for m in rules.METHODS] + ["AdaDelta & Adam vs RMSProp"]:
        open_tab(at, RULES, title)
        assert not at.exception
        seen[title] = {"latex": latex_bodies(at), "markdown": [m.value for m in at.markdown],
                       "table": [t.value for t in at.table], "info": [i.value for i in at.info]}
    return seen


def latex_bodies(at) -> list[str]:
    return [x.body for x in at.latex]


def live(at, prefix: str) -> list[str]:
    """The live (numeric) equation lines: those with a numbered subscript, e.g. S_{50}."""
    return [b for b in latex_bodies(at) if prefix in b]


def inspector(at):
    """The race's inspector table (the MLP tab's tables come after it)."""
    methods = {"Adagrad", "RMSProp", "RMSProp + Nesterov", "AdaDelta", "Adam"}
    tables = [d.value for d in at.table if methods <= set(d.value.columns)]
    assert len(tables) == 1
    # Shown one column per method, as text (4 significant digits): back to one row per method, numbers.
    rows = tables[0].set_index(tables[0].columns[0]).T
    return rows.apply(lambda column: pd.to_numeric(column, errors="coerce").fillna(column))


def race_charts(at) -> list:
    """The race tab's charts: the contour map (w₁, w₂) and L − L_min per step."""
    return [c for c in at.get("vega_lite_chart") if '"w1' in c.proto.spec or '"gap' in c.proto.spec]


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


def test_every_rule_is_written_out_with_its_terms():
    seen = every_rule_tab(page())
    bodies = " ".join(b for tab in seen.values() for b in tab["latex"])
    for piece in (r"S_t = S_{t-1} + g_t^2", r"\tilde w_t = w_{t-1} + \mu\, V_{t-1}",
                  r"D_t = \beta\, D_{t-1}", r"\hat V_t = \frac{V_t}{1 - \beta_1^{\,t}}"):
        assert piece in bodies
    text = " ".join(m for tab in seen.values() for m in tab["markdown"])
    assert "bias correction" in text.lower() or "Bias corrections" in text
    # The comparison table answers the SPEC's "how AdaDelta and Adam differ from RMSProp".
    assert any("What sets the step size" in str(t) for tab in seen.values() for t in tab["table"])
    infos = " ".join(i for tab in seen.values() for i in tab["info"])
    assert "Nadam" in infos and "0.001" in infos  # Keras vs textbook notes


def test_only_the_open_tab_is_drawn():
    """Tabs are lazy: a slider reruns the open tab only (62 equations and the race were too slow together)."""
    at = page()
    assert not race_charts(at) and not [t for t in at.table if "Adam" in t.value.columns]
    # One method's rule: Adagrad's, the first tab; the others' equations are not drawn.
    assert any(r"S_t = S_{t-1} + g_t^2" in b for b in latex_bodies(at))
    assert not any(r"\hat V_t" in b for b in latex_bodies(at))
    open_tab(at, RACE)
    assert len(race_charts(at)) == 2 and not any(r"S_t = S_{t-1} + g_t^2" in b for b in latex_bodies(at))
    assert not at.get("progress") and not [m for m in at.markdown if "Problem 1.2" in m.value]
    # The method tab chosen comes back with the Update rules tab, and the race settings stay in the sidebar.
    open_tab(at, RULES, "Adam")
    at.slider(key="t").set_value(20).run()
    open_tab(at, MLP)
    assert at.slider(key="t").value == 20 and not latex_bodies(at)
    open_tab(at, RULES)
    assert at.session_state["rule_tab"] == "Adam" and live(at, r"\hat V_{20}")


def test_a_link_opens_a_tab():
    at = page(tab=RACE, t="12")
    assert not at.exception and len(race_charts(at)) == 2
    assert list(inspector(at)["step"]) == [12] * 5


def test_moving_a_learning_rate_slider_changes_the_live_equations_and_the_path():
    at = open_tab(page(), RULES, "Adam")
    before_eq = live(at, r"\hat V_{50}")
    open_tab(at, RACE)
    before = inspector(at)
    paths_before = race_paths(at)
    at.select_slider(key="adam.learning_rate").set_value(0.01).run()
    assert not at.exception
    after = inspector(at)
    paths_after = race_paths(at)
    open_tab(at, RULES)  # Adam's tab still open
    after_eq = live(at, r"\hat V_{50}")
    assert before_eq and after_eq and before_eq != after_eq
    assert any(r"\frac{0.01}" in b for b in live(at, r"\hat S_{50}"))
    assert (before.loc["Adam", "w1"], before.loc["Adam", "w2"]) != (after.loc["Adam", "w1"], after.loc["Adam", "w2"])
    # Only Adam's slider moved: the other four paths are unchanged, on the chart too.
    for m in ("Adagrad", "RMSProp", "RMSProp + Nesterov", "AdaDelta"):
        assert before.loc[m, "w1"] == after.loc[m, "w1"]
    adam = lambda df: df[df.method == "Adam"][["w1", "w2"]].to_numpy()  # noqa: E731
    rms = lambda df: df[df.method == "RMSProp"][["w1", "w2"]].to_numpy()  # noqa: E731
    assert adam(paths_before).shape == adam(paths_after).shape and (adam(paths_before) != adam(paths_after)).any()
    assert (rms(paths_before) == rms(paths_after)).all()


def test_step_slider_moves_all_five_and_the_equations():
    at = page()
    assert live(at, "S_{50} &=")  # Adagrad's live equations, the first method tab
    open_tab(at, RACE)
    first = inspector(at)
    paths = race_paths(at)
    at.slider(key="t").set_value(10).run()
    moved = inspector(at)
    assert list(moved["step"]) == [10] * 5
    for m in moved.index:
        assert moved.loc[m, "w1"] != first.loc[m, "w1"] or moved.loc[m, "w2"] != first.loc[m, "w2"]
    # The paths themselves are the same: only the point shown on them moved.
    assert race_paths(at).equals(paths)
    open_tab(at, RULES)
    assert live(at, "S_{10} &=") and not live(at, "S_{50} &=")


def test_surface_and_settings_are_read_from_the_url():
    at = page(surface="rosenbrock", steps="120", t="7", tab=RACE, **{"rmsprop.rho": "0.5"})
    assert not at.exception
    assert at.selectbox(key="surface").value == "rosenbrock"
    assert at.select_slider(key="rmsprop.rho").value == 0.5
    assert r"100\,(w_2 - w_1^2)^2" in " ".join(latex_bodies(at))
    open_tab(at, RULES, "RMSProp")
    assert any(r"S_{7} &=" in b and r"&= 0.5 \cdot" in b for b in latex_bodies(at))


def test_race_settings_are_bound_to_the_url():
    """The browser writes a bound widget's value into the URL (tests/test_browser_pages.py sees it
    there); here: every race setting is bound, under the name the URL uses."""
    at = page()
    widgets = [*at.selectbox, *at.slider, *at.select_slider]
    bound = {w.proto.query_param_key for w in widgets if w.proto.query_param_key}
    hparams = {f"{m}.{h}" for m, hp in rules.RACE_DEFAULTS.items() for h in hp}
    assert bound == {"surface", "x0", "y0", "steps", "t"} | hparams
    at.select_slider(key="adadelta.epsilon").set_value(1e-2).run()
    at.selectbox(key="surface").set_value("himmelblau").run()
    assert at.select_slider(key="adadelta.epsilon").value == 1e-2
    # A new surface starts from its own default start point.
    assert (at.slider(key="x0").value, at.slider(key="y0").value) == surfaces.SURFACES["himmelblau"].start


def test_a_link_with_another_spelling_of_a_stop_is_read_as_that_stop():
    at = page(**{"rmsprop.rho": "0.50", "adam.epsilon": "1E-7", "steps": "30"})
    assert not at.exception and not [w for w in at.warning if "link" in w.value]
    assert at.select_slider(key="rmsprop.rho").value == 0.5 and at.select_slider(key="adam.epsilon").value == 1e-7
    assert at.slider(key="steps").value == 30 and at.slider(key="t").value == 30  # t cannot pass the last step


def test_fewer_steps_move_the_step_shown_back_to_the_last_one():
    at = page()
    at.slider(key="t").set_value(120).run()
    at.slider(key="steps").set_value(80).run()
    assert at.slider(key="t").value == 80
    at.slider(key="steps").set_value(300).run()
    assert at.slider(key="t").value == 80


def test_bad_link_gives_a_message_not_a_traceback():
    at = page(surface="nowhere", x0="abc", steps="5000", **{"adam.beta_1": "7"})
    assert not at.exception
    warnings = " ".join(w.value for w in at.warning)
    for bad in ("surface=nowhere", "x0=abc", "steps=5000", "adam.beta_1=7"):
        assert bad in warnings
    # Each keeps its default (Streamlit alone would clamp steps to 1000), and the URL loses them.
    assert at.selectbox(key="surface").value == "quadratic"
    assert at.slider(key="steps").value == 200 and at.slider(key="x0").value == surfaces.SURFACES["quadratic"].start[0]
    assert at.select_slider(key="adam.beta_1").value == 0.9
    assert not {"surface", "x0", "steps", "adam.beta_1"} & set(at.query_params)


def test_divergence_is_reported_and_the_page_still_draws():
    at = page(surface="rosenbrock", tab=RACE, **{"rmsprop.learning_rate": "2"})
    assert not at.exception
    warnings = " ".join(w.value for w in at.warning)
    assert "RMSProp**" in warnings and "left the plotted area" in warnings
    table = inspector(at)
    assert table.loc["RMSProp", "status"].startswith("diverged")
    assert table.loc["Adam", "status"] == "ok"
    assert len(race_charts(at)) == 2
    paths = race_paths(at)
    rms = paths[paths.method == "RMSProp"]
    assert len(rms) < 201  # the path stops where it left the box ...
    x0, x1, y0, y1 = surfaces.SURFACES["rosenbrock"].box  # ... so every drawn point is inside it
    assert rms.w1.between(x0, x1).all() and rms.w2.between(y0, y1).all()


def test_page_does_not_import_keras():
    code = (
        "import sys; from streamlit.testing.v1 import AppTest;"
        f"at = AppTest.from_file({PAGE!r}, default_timeout=60).run(); assert not at.exception;"
        "print(sorted(m for m in ('keras', 'tensorflow', 'jax') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip().splitlines()[-1] == "[]"


# --- MLP on CIFAR-10 (SPEC 1.2-1.3) ------------------------------------------------------------
from test_optimizer_comparison import write_mlp_run  # noqa: E402  (run folders with chosen numbers)

FLOOR = 0.9 * -math.log(1e-7)   # what RMSProp + Nesterov's collapsed dropout run sits at


@pytest.fixture
def mlp_dirs(run_roots, monkeypatch):
    """Private live and cached run folders; nothing is started (jobs.pump does nothing)."""
    monkeypatch.setattr(jobs, "pump", lambda root=None: None)
    return run_roots


def cached_mlp_set(root, l2_finals, dropout_finals, preset="full"):
    """Both regularizers × five methods; None in dropout_finals makes that run diverge."""
    for reg, finals in (("l2", l2_finals), ("dropout", dropout_finals)):
        for method, final in zip(experiments.METHODS, finals):
            if final is None:
                write_mlp_run(root, reg, method, [14.48, 14.5, FLOOR], accs=[0.1, 0.1, 0.1], preset=preset)
            else:
                write_mlp_run(root, reg, method, [2.5, 2.0, final], preset=preset)


def mlp_page() -> AppTest:
    return page(tab=MLP)


def joined(elements) -> str:
    return " ".join(e.value for e in elements)


def table_with(at, column: str):
    return [d.value for d in [*at.dataframe, *at.table] if column in d.value.columns]


def chart_labels(at) -> set:
    labels = set()
    for chart in at.get("vega_lite_chart"):
        for d in chart.proto.datasets:
            df = dataframe_util.convert_arrow_bytes_to_pandas_df(d.data.data)
            if "label" in df.columns:
                labels |= set(df["label"])
    return labels


def test_lowest_loss_method_is_named_from_the_cached_runs(mlp_dirs, monkeypatch, tmp_path):
    cached_mlp_set(mlp_dirs[1], [1.5, 1.4, 1.3, 1.2, 1.1], [1.6, 1.7, 1.8, 1.9, 2.0])
    at = mlp_page()
    assert not at.exception
    success = joined(at.success)
    assert "Lowest final training loss with L2: **Adam**, 1.100 after 3 epochs (full preset, cached)" in success
    assert "Lowest final training loss with dropout: **Adagrad**, 1.600" in success
    markdown = joined(at.markdown)
    assert "**With L2** (Problem 1.2)\n  - Lowest final training loss: **Adam**, 1.100" in markdown
    # Other runs: the page's words follow.
    other = tmp_path / "other"
    cached_mlp_set(other, [1.1, 1.4, 1.3, 1.2, 1.5], [1.9, 1.7, 1.8, 1.6, 2.0])
    monkeypatch.setenv("DLCORE_CACHED_RUNS_DIR", str(other))
    at = mlp_page()
    success = joined(at.success)
    assert "with L2: **Adagrad**, 1.100" in success and "with dropout: **AdaDelta**, 1.600" in success
    assert "The winner changes: Adagrad with L2, AdaDelta with dropout." in joined(at.markdown)


def test_diverged_cached_run_is_shown_not_hidden(mlp_dirs):
    cached_mlp_set(mlp_dirs[1], [1.5, 1.4, 1.3, 1.2, 1.1], [1.6, 1.7, None, 1.9, 2.0])
    at = mlp_page()
    assert not at.exception
    errors = joined(at.error)
    assert "**Diverged:** dropout / RMSProp + Nesterov (full preset, cached)" in errors
    assert "mlp_dropout/rmsprop_nesterov (full, cached)" in chart_labels(at)   # its curve is drawn
    results = table_with(at, "verdict")[0].set_index(["regularizer", "method"])
    assert results.loc[("dropout", "RMSProp + Nesterov"), "verdict"] == "diverged"
    assert results.loc[("dropout", "RMSProp + Nesterov"), "final training loss"] == pytest.approx(FLOOR)
    assert "with dropout: **Adagrad**" in joined(at.success)   # ranked without it
    assert "The diverged run (RMSProp + Nesterov) is drawn like the others." in joined(at.caption)
    # Losses on a log axis by default (the collapsed run at 14.5 would squeeze the rest), linear on request.
    mlp_specs = lambda: [c.proto.spec for c in at.get("vega_lite_chart") if "mlp_cached" in c.proto.spec]  # noqa: E731
    assert len(mlp_specs()) == 2 and all('"type": "log"' in s for s in mlp_specs())
    at.checkbox(key="mlp.log").uncheck().run()
    assert len(mlp_specs()) == 2 and not any('"type": "log"' in s for s in mlp_specs())


def test_cached_runs_show_preset_time_tables_and_provenance(mlp_dirs):
    cached_mlp_set(mlp_dirs[1], [1.5, 1.4, 1.3, 1.2, 1.1], [1.6, 1.7, 1.8, 1.9, 2.0])
    at = mlp_page()
    assert "#### Cached runs: full preset (what the homework asks)" in [m.value for m in at.markdown]
    results = table_with(at, "best test accuracy")[0]
    assert list(results["preset"].unique()) == ["full"] and len(results) == 10
    assert "final test accuracy" in results.columns
    run_times = table_with(at, "median epoch")[0]   # the runs' times: a table of their own
    assert len(run_times) == 10 and {"wall-clock", "first epoch", "images/s"} <= set(run_times.columns)
    assert set(run_times["hardware"]) == {"1 × NVIDIA H100 80GB HBM3"}
    times = table_with(at, "dropout − L2 (s/epoch)")[0]
    assert len(times) == 5 and list(times["method"])[0] == "Adagrad"
    provenance = [p for p in table_with(at, "backend") if "started" in p.columns][0]
    assert set(provenance["hardware"]) == {"1 × NVIDIA H100 80GB HBM3"} and set(provenance["backend"]) == {"jax"}
    assert set(provenance["started"]) == {"2025-01-01 10:00:00"} and all(provenance["wall-clock"])
    assert set(provenance["preset"]) == {"full"}
    # The ten runs overlap in time on one GPU: the page says each wall-clock includes that sharing.
    assert "All 10 runs trained at the same time on one 1 × NVIDIA H100" in joined(at.caption)


def test_class_preset_cached_runs_are_never_shown_as_full(mlp_dirs):
    cached_mlp_set(mlp_dirs[1], [1.5, 1.4, 1.3, 1.2, 1.1], [1.6, 1.7, 1.8, 1.9, 2.0], preset="class")
    at = mlp_page()
    assert not at.exception
    headers = [m.value for m in at.markdown if m.value.startswith("####")]
    assert headers == ["#### Cached runs: class preset (shortened)"]
    assert "Shortened, not the homework's result." in joined(at.warning)
    assert set(table_with(at, "best test accuracy")[0]["preset"]) == {"class (shortened)"}
    assert all("(class, cached)" in label for label in chart_labels(at) if label.startswith("mlp_"))


def test_full_cached_set_is_chosen_first_and_class_on_request(mlp_dirs):
    cached_mlp_set(mlp_dirs[1], [1.5, 1.4, 1.3, 1.2, 1.1], [1.6, 1.7, 1.8, 1.9, 2.0], preset="full")
    cached_mlp_set(mlp_dirs[1], [1.1, 1.4, 1.3, 1.2, 1.5], [1.9, 1.7, 1.8, 1.6, 2.0], preset="class")
    at = mlp_page()
    assert at.radio(key="mlp.cached_preset").value == "full"
    assert "with L2: **Adam**" in joined(at.success)
    at.radio(key="mlp.cached_preset").set_value("class").run()
    assert "with L2: **Adagrad**" in joined(at.success)
    assert "#### Cached runs: class preset (shortened)" in [m.value for m in at.markdown]


def test_cached_runs_can_be_hidden(mlp_dirs):
    cached_mlp_set(mlp_dirs[1], [1.5, 1.4, 1.3, 1.2, 1.1], [1.6, 1.7, 1.8, 1.9, 2.0])
    at = mlp_page()
    at.toggle(key="mlp.show_cached").set_value(False).run()
    assert not table_with(at, "best test accuracy") and not at.success
    assert not any(label.startswith("mlp_") for label in chart_labels(at))


def test_test_accuracy_curve_can_be_drawn(mlp_dirs):
    cached_mlp_set(mlp_dirs[1], [1.5, 1.4, 1.3, 1.2, 1.1], [1.6, 1.7, 1.8, 1.9, 2.0])
    at = mlp_page()
    at.segmented_control(key="mlp.curve").set_value("val_accuracy").run()
    assert not at.exception
    assert "Test accuracy per epoch from:" in joined(at.caption)
    specs = [c.proto.spec for c in at.get("vega_lite_chart") if "mlp_cached" in c.proto.spec]
    assert specs and all('"validation accuracy"' in s for s in specs)


def test_start_all_five_queues_the_five_specs(mlp_dirs, cifar10_stand_in):
    live, _ = mlp_dirs
    at = mlp_page()
    assert at.button(key="mlp.start").label == "Start 5 runs"
    at.button(key="mlp.start").click().run()
    assert not at.exception and "Started 5 run(s)" in joined(at.success)
    specs = [json.loads((p / "spec.json").read_text()) for p in sorted(live.iterdir())]
    assert sorted(s["name"] for s in specs) == sorted(experiments.METHODS)
    _, _, _, epochs, batch = experiments.MLP_SIZES["class"]
    assert {(s["experiment"], s["preset"], s["batch_size"], s["epochs"]) for s in specs} == {
        ("mlp_l2", "class", batch, epochs)}
    assert all(s["model"] == {"name": "mlp", "regularizer": "l2", "l2": 5e-4, "output_init": "he_normal"} for s in specs)
    # The queued runs appear in the live section.
    assert "#### Live runs: class preset (shortened)" in [m.value for m in at.markdown]


def test_one_run_with_changed_hyper_parameters_and_batch(mlp_dirs):
    live, _ = mlp_dirs
    at = mlp_page()
    at.radio(key="mlp.regularizer").set_value("dropout")
    at.selectbox(key="mlp.methods").set_value("adam")
    at.radio(key="mlp.preset").set_value("smoke").run()
    assert at.number_input(key="mlp.batch.smoke").value == experiments.MLP_SIZES["smoke"][4]
    at.number_input(key="mlp.batch.smoke").set_value(16)
    at.number_input(key="mlp.adam.learning_rate").set_value(0.01).run()
    assert at.button(key="mlp.start").label == "Start 1 run"
    at.button(key="mlp.start").click().run()
    (folder,) = list(live.iterdir())
    spec = json.loads((folder / "spec.json").read_text())
    assert (spec["experiment"], spec["name"], spec["preset"], spec["batch_size"]) == (
        "mlp_dropout", "adam", "smoke", 16)
    assert spec["optimizer"] == {"name": "adam", "learning_rate": 0.01, "beta_1": 0.9, "beta_2": 0.999}
    assert spec["model"] == {"name": "mlp", "regularizer": "dropout", "output_init": "he_normal"}


def test_defaults_are_shown_with_where_the_textbook_differs(mlp_dirs):
    at = mlp_page()
    assert at.number_input(key="mlp.adagrad.learning_rate").value == 0.001
    assert at.number_input(key="mlp.adadelta.learning_rate").value == 1.0
    assert at.number_input(key="mlp.rmsprop_nesterov.momentum").value == 0.9
    assert "Adagrad: α (learning_rate) = 0.001 here, textbook 0.01" in joined(at.info)


def test_full_preset_warns_that_it_takes_hours(mlp_dirs):
    at = mlp_page()
    at.radio(key="mlp.preset").set_value("full").run()
    # 10 million images per run, timed by the benchmark's measured speed, never a guessed one.
    assert "10 million images" in joined(at.warning) and "benchmarks/class_presets.py" in joined(at.warning)
    assert at.number_input(key="mlp.batch.full").value == 128


def test_live_run_curves_and_progress_are_drawn(mlp_dirs):
    live, _ = mlp_dirs
    write_mlp_run(live, "l2", "adam", [2.3, 1.9, 1.7], epochs=15, preset="class", state="running",
                  source_layout="live", pid=os.getpid())
    at = mlp_page()
    assert not at.exception
    assert "**Training now**" in [m.value for m in at.markdown]
    assert any("epoch 3/15" in str(p.proto.text) for p in at.get("progress"))
    assert any(label.startswith("mlp_l2/adam (class") for label in chart_labels(at))
    assert "**Not final.**" in joined(at.markdown)   # the discussion says the run is still going


@pytest.mark.skipif(not (ROOT / "cached_runs" / "mlp_dropout" / "rmsprop_nesterov__full").is_dir(),
                    reason="the cached full MLP runs are not in this checkout")
def test_shipped_full_runs_show_the_diverged_dropout_run():
    at = mlp_page()
    assert "**Diverged:** dropout / RMSProp + Nesterov (full preset, cached)" in joined(at.error)
    assert "Lowest final training loss with L2:" in joined(at.success)
