"""1 · Optimizers: adaptive learning-rate methods (SPEC Problem 1).

Reads like the lecture: the five update rules with their numbers live, the
same rules racing on 2-D loss surfaces, then the MLP on CIFAR-10. Every
number comes from dlcore.core.rules / dlcore.core.surfaces (NumPy, no Keras), so the
page opens instantly; the race settings live in the sidebar and in the URL,
so a class can be sent the exact race on screen.
"""
import altair as alt
import pandas as pd
import streamlit as st

from dlcore.engine import experiments, jobs, runs
from dlcore.results import tables
from dlcore.charts import curves
from ui import charts
from ui.charts import altair_chart
from ui import tables as ui_tables
from ui.tables import draw_table
from dlcore.results import optimizer_comparison
from dlcore.core import rules, surfaces
from ui.dataset_gate import dataset_gate
from dlcore.charts import legends, training_axes
from dlcore.results import axes
from ui.x_axis import axis_ui

# Slider stops per hyper-parameter: learning rates and ε span orders of
# magnitude, so they move in 1-2-5 / decade steps rather than linearly.
CHOICES = {
    "learning_rate": [1e-4, 2e-4, 5e-4, 1e-3, 2e-3, 5e-3, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0, 2.0],
    "rho": [0.0, 0.5, 0.8, 0.9, 0.95, 0.99, 0.999],
    "momentum": [0.0, 0.5, 0.8, 0.9, 0.95, 0.99],
    "beta_1": [0.0, 0.5, 0.8, 0.9, 0.95, 0.99],
    "beta_2": [0.0, 0.5, 0.9, 0.99, 0.999, 0.9999],
    "epsilon": [1e-8, 1e-7, 1e-6, 1e-5, 1e-4, 1e-3, 1e-2, 1e-1],
    "initial_accumulator_value": [0.0, 0.01, 0.1, 1.0],
}
STEPS_MAX = 1000
COLORS = ["#e45756", "#4c78a8", "#f58518", "#54a24b", "#b279a2"]  # one per method, fixed


# --- page state <-> URL ------------------------------------------------------------
# The race's widgets are bound to the URL (bind="query-params", key = parameter name), so a
# class can be sent the exact race on screen; a value equal to its default stays out of it.
START_STEPS, START_T = 200, 50


def hparam_key(method: str, name: str) -> str:
    return f"{method}.{name}"


def _checked(raw: str, parse, ok) -> object | None:
    try:
        value = parse(raw)
    except ValueError:
        return None
    return value if ok(value) else None


def url_problems() -> list[str]:
    """On a session's first run, the URL's race settings that make no sense ('key=value').

    They are taken out of the URL, and the page run again, before any widget reads it, so
    each keeps its default: Streamlit alone would drop some silently and clamp others into
    range. A value written differently from a slider's stop (rho=0.50) becomes that stop (0.5).
    """
    if st.session_state.get("_url_checked"):
        return st.session_state.pop("_url_bad", [])
    st.session_state["_url_checked"] = True
    qp = st.query_params
    bad, fixed = [], {}
    name = qp.get("surface", "quadratic")
    if name not in surfaces.SURFACES:
        bad.append("surface")
        name = "quadratic"
    x0, x1, y0, y1 = surfaces.SURFACES[name].box
    limits = {"x0": (float, x0, x1), "y0": (float, y0, y1), "steps": (int, 1, STEPS_MAX), "t": (int, 0, STEPS_MAX)}
    for key, (kind, lo, hi) in limits.items():
        if key in qp and _checked(qp[key], kind, lambda v, lo=lo, hi=hi: lo <= v <= hi) is None:
            bad.append(key)
    for m in rules.METHODS:
        for h in rules.RACE_DEFAULTS[m]:
            key = hparam_key(m, h)
            if key not in qp:
                continue
            value = _checked(qp[key], float, lambda v, h=h: v in CHOICES[h])
            if value is None:
                bad.append(key)
            elif qp[key] != f"{value:g}":
                fixed[key] = f"{value:g}"
    if not bad and not fixed:
        return []
    st.session_state["_url_bad"] = [f"{key}={qp[key]}" for key in bad]
    for key in bad:
        del qp[key]
    for key, value in fixed.items():
        qp[key] = value
    # Bound widgets take their first value from the URL the run started with: start again from this one.
    st.rerun()


# --- widgets -------------------------------------------------------------------------
def reset_start() -> None:
    """A new surface starts at its own default point (the old one may be off its box)."""
    surface = surfaces.SURFACES[st.session_state["surface"]]
    st.session_state["x0"], st.session_state["y0"] = surface.start


def keep_step_shown() -> None:
    """Fewer steps run: the step shown moves back to the last one (it cannot be past it)."""
    st.session_state["t"] = min(st.session_state.get("t", START_T), st.session_state["steps"])


def race_settings_ui() -> dict:
    """Sidebar: surface, start, steps, the step shown, and each method's hyper-parameters.

    Every widget is bound to the URL, under its key.
    """
    with st.sidebar:
        # Shown by name: a bound selectbox writes the label it shows into the URL (?surface=rosenbrock).
        name = st.selectbox("Loss surface", list(surfaces.SURFACES), key="surface", on_change=reset_start,
                            bind="query-params")
        surface = surfaces.SURFACES[name]
        st.caption(surface.title)
        x0, x1, y0, y1 = surface.box
        c1, c2 = st.columns(2)
        w1 = c1.slider("start w₁", float(x0), float(x1), float(surface.start[0]), step=0.05, key="x0",
                       bind="query-params")
        w2 = c2.slider("start w₂", float(y0), float(y1), float(surface.start[1]), step=0.01, key="y0",
                       bind="query-params")
        steps = st.slider("steps to run", 1, STEPS_MAX, START_STEPS, key="steps", on_change=keep_step_shown,
                          bind="query-params")
        t = st.slider("step shown, t", 0, steps, min(START_T, steps), key="t", bind="query-params",
                      help="Moves all five methods together, on both tabs.")
        st.caption("Hyper-parameters of each method (race values; textbook defaults are on the Update rules tab, "
                   "the MLP runs' own values on the MLP tab).")
        hparams = {}
        for m in rules.METHODS:
            with st.expander(rules.TITLES[m]):
                hparams[m] = {
                    h: st.select_slider(
                        f"{rules.SYMBOLS_TEXT[h]}  ({h})",
                        options=CHOICES[h],
                        value=default,
                        format_func=lambda v: f"{v:g}",
                        key=hparam_key(m, h),
                        bind="query-params",
                    )
                    for h, default in rules.RACE_DEFAULTS[m].items()
                }
    return {"surface": name, "start": (w1, w2), "steps": steps, "t": t, "hparams": hparams}


# --- compute (cached: moving the step slider must not rerun the race) ---------------------
# st.cache_resource: one read-only copy shared by every session. A race holds every state of five
# paths of up to 1000 steps; st.cache_data pickled it in and out on each use, slower than the maths.
@st.cache_resource(max_entries=64, show_spinner=False)
def compute_race(surface: str, start: tuple, steps: int, hparams: dict) -> dict:
    return rules.race(surface, start, steps, hparams)


@st.cache_resource(max_entries=64, show_spinner=False)
def race_paths(surface: str, start: tuple, steps: int, hparams: dict) -> pd.DataFrame:
    """Every path point of a race, one row each (read-only, shared: built once per race, not per step)."""
    return pd.DataFrame(rules.race_records(compute_race(surface, start, steps, hparams)))


@st.cache_data(show_spinner=False)
def surface_grid(surface: str) -> pd.DataFrame:
    return pd.DataFrame(surfaces.grid(surfaces.SURFACES[surface]))


def race_frames(race: dict, t: int, paths: pd.DataFrame | None = None):
    """The race as tables: every path point (`paths`, when already built), each method's state at t,
    and where to mark it."""
    paths = pd.DataFrame(rules.race_records(race)) if paths is None else paths
    inspector = pd.DataFrame(rules.inspector_rows(race, t))
    now = inspector[["method", "step", "w1", "w2", "loss", "status"]].rename(columns={"step": "step shown"})
    now["state"] = ["running" if s in ("ok", "running") else "stopped here" for s in now["status"]]
    return paths, inspector, now


# --- charts ------------------------------------------------------------------------
# Data by name. The surface's grid and the five whole paths change with the race; what step t
# shows (the paths up to t, the five points at t, the rule at t) is swapped in per step, so
# moving the step slider sends a few rows and the browser keeps the charts.
# The loss chart's legend starts after its y-axis (about 75 px): what is left of its half of the race's
# width at a 1024 px screen (274 px). In the narrower of two columns (3:2) "RMSProp + Nesterov" was cut.
LOSS_CHART_PX = 190


def method_color(legend: bool = True) -> alt.Color:
    titles = [rules.TITLES[m] for m in rules.METHODS]
    return alt.Color("method:N", scale=alt.Scale(domain=titles, range=COLORS), title="method",
                     legend=legends.legend(titles, LOSS_CHART_PX) if legend else None)


def race_chart(surface) -> alt.LayerChart:
    """Contours of the surface, the five paths (solid up to step t), and where each is at t."""
    x0, x1, y0, y1 = surface.box
    x = alt.X("w1:Q", scale=alt.Scale(domain=[x0, x1], nice=False), title="w₁")
    y = alt.Y("w2:Q", scale=alt.Scale(domain=[y0, y1], nice=False), title="w₂")
    heat = (
        alt.Chart(alt.NamedData("race_grid"))
        .mark_rect(strokeWidth=0)
        .encode(
            x=alt.X("w1_lo:Q", scale=alt.Scale(domain=[x0, x1], nice=False), title="w₁"),
            x2="w1_hi:Q",
            y=alt.Y("w2_lo:Q", scale=alt.Scale(domain=[y0, y1], nice=False), title="w₂"),
            y2="w2_hi:Q",
            color=alt.Color(
                "level:Q", scale=alt.Scale(scheme="greys", reverse=True), title=["log₁₀(1+L−L_min)"],
                # Above the map, alone: beside the "at step t" legend its title was cut at 1024 px.
                legend=alt.Legend(orient="top", gradientLength=120),
            ),
            tooltip=[alt.Tooltip("w1:Q", format=".2f"), alt.Tooltip("w2:Q", format=".2f"), alt.Tooltip("loss:Q", format=".4g")],
        )
    )
    path = dict(x=x, y=y, order="step:Q", color=method_color(legend=False))
    full = alt.Chart(alt.NamedData("race_paths")).mark_line(strokeWidth=1.5, opacity=0.35, clip=True).encode(**path)
    so_far = alt.Chart(alt.NamedData("race_so_far")).mark_line(strokeWidth=2.5, clip=True).encode(**path)
    tooltip = ["method:N", "step shown:Q", alt.Tooltip("loss:Q", format=".4g"), "status:N"]
    where = (
        alt.Chart(alt.NamedData("race_now"))
        .mark_point(filled=True, size=140, stroke="black", strokeWidth=1, opacity=1)
        .encode(x=x, y=y, color=method_color(legend=False), shape=alt.Shape("state:N", title="at step t",
                scale=alt.Scale(domain=["running", "stopped here"], range=["circle", "cross"]),
                legend=alt.Legend(orient="bottom")), tooltip=tooltip)
    )
    minima = pd.DataFrame(surface.minima, columns=["w1", "w2"]).assign(what="minimum")
    stars = alt.Chart(minima).mark_point(shape="diamond", filled=True, size=90, color="white", stroke="black").encode(
        x=x, y=y, tooltip=["what:N", "w1:Q", "w2:Q"]
    )
    return (heat + full + so_far + stars + where).properties(height=460).resolve_scale(color="independent")


def loss_chart() -> alt.LayerChart:
    """L − L_min per step on a log axis, with a rule at the step shown."""
    lines = (
        alt.Chart(alt.NamedData("race_paths"))
        .mark_line(strokeWidth=2)
        .encode(
            x=alt.X("step:Q", title="step"),
            y=alt.Y("gap:Q", scale=alt.Scale(type="log"), title="L − L_min (log)"),
            color=method_color(),
            tooltip=["method:N", "step:Q", alt.Tooltip("loss:Q", format=".4g")],
        )
    )
    rule = alt.Chart(alt.NamedData("race_t")).mark_rule(strokeDash=[4, 3], color="black").encode(x="step:Q")
    return (lines + rule).properties(height=460)


@st.cache_data(max_entries=16, show_spinner=False)
def surface_chart_specs(surface: str) -> tuple[dict, dict]:
    """Both race charts of a surface, with its grid and no race: Altair builds them once per surface
    (a few hundred ms), not once per race."""
    return (charts.spec_with_tables(race_chart(surfaces.SURFACES[surface]), {"race_grid": surface_grid(surface)}),
            charts.spec_with_tables(loss_chart(), {}))


@st.cache_resource(max_entries=64, show_spinner=False)
def race_chart_specs(surface: str, start: tuple, steps: int, hparams: dict) -> tuple[dict, dict]:
    """Both race charts of one race: its surface's, with the whole paths in them, once per race
    (read-only, shared: draw_spec copies what it changes)."""
    paths = {"race_paths": race_paths(surface, start, steps, hparams)}
    contours, losses = surface_chart_specs(surface)
    return charts.with_tables(contours, paths), charts.with_tables(losses, paths)


def step_tables(paths: pd.DataFrame, now: pd.DataFrame, t: int) -> dict[str, pd.DataFrame]:
    """What the charts show of step t: the paths up to it, the five points at it, its rule."""
    return {"race_so_far": paths[paths["step"] <= t], "race_now": now, "race_t": pd.DataFrame({"step": [t]})}


# --- tab 1: update rules --------------------------------------------------------------
def draw_rule(method: str, tr: rules.Trajectory, t: int) -> None:
    st.caption(f"Source: {rules.SOURCES[method]}")
    left, right = st.columns(2)
    with left:
        st.markdown("**Update equations** (per weight; t counts steps, w₀ is the start)")
        for line in rules.EQUATIONS[method]:
            st.latex(line)
    with right:
        st.markdown("**Each term**")
        for symbol, text in rules.TERMS[method]:
            st.markdown(f"${symbol}$ — {text}")
    st.markdown("**Hyper-parameters** (value now: the race's, set in the sidebar)")
    st.table(pd.DataFrame(rules.hparam_rows(method, tr.hparams)).set_index("symbol"))
    st.info(f"**Keras vs the textbook.** {rules.KERAS_NOTES[method]}")
    if method == "rmsprop_nesterov":
        st.markdown("**The notebook's equations, as written, and why the app follows the book instead**")
        nb, why = st.columns([2, 3])
        with nb:
            for line in rules.NOTEBOOK_NESTEROV:
                st.latex(line)
        why.warning(rules.NOTEBOOK_NESTEROV_NOTE)
    shown = max(1, tr.at(t))
    st.markdown(f"**Live: step t = {shown}** of the race on *{surfaces.SURFACES[tr.surface].title}*, "
                "with the sidebar's values substituted")
    if tr.steps == 0:
        st.warning(f"{rules.TITLES[method]} {tr.stopped} at its first step: there is no step to show.")
        return
    if t == 0:
        st.caption("t = 0 is the start point, before any step: step 1 is shown.")
    elif shown != t:
        st.caption(f"This path stopped after step {tr.steps} ({tr.stopped}); its last step is shown.")
    for line in rules.live_equations_at(tr, shown):
        st.latex(line)


def draw_comparison() -> None:
    st.markdown(
        "AdaDelta and Adam both keep RMSProp's running mean square S of the gradients. "
        "**AdaDelta** replaces the learning rate by the RMS of its own past steps; "
        "**Adam** adds momentum (a running mean V of the gradients) and corrects both "
        "averages for starting at zero."
    )
    cols = st.columns(3)
    for col, m in zip(cols, ("rmsprop", "adadelta", "adam")):
        with col:
            st.markdown(f"**{rules.TITLES[m]}**")
            for line in rules.EQUATIONS[m][1:]:
                st.latex(line)
    st.table(pd.DataFrame(rules.COMPARISON).set_index(""))


RULE_TABS = [rules.TITLES[m] for m in rules.METHODS] + ["AdaDelta & Adam vs RMSProp"]
RULE_TAB, RULE_TAB_KEPT = "rule_tab", "_rule_tab_kept"


def update_rules_tab(race: dict, settings: dict) -> None:
    surface = surfaces.SURFACES[settings["surface"]]
    st.markdown(
        "The live numbers are the race's: each method's step **t** on "
        f"*{surface.title}* from w₀ = ({settings['start'][0]:g}, {settings['start'][1]:g}), "
        "with the hyper-parameters set in the sidebar. Each vector is (w₁, w₂); "
        "⊙, squares and roots act per coordinate."
    )
    # Lazy: only the open method's tab is drawn (each holds a dozen equations), and a slider draws it alone.
    # The method tab is kept while another top tab is open: these tabs are not drawn then, and
    # Streamlit forgets the state of a widget that is not drawn.
    if RULE_TAB not in st.session_state and RULE_TAB_KEPT in st.session_state:
        st.session_state[RULE_TAB] = st.session_state[RULE_TAB_KEPT]
    tabs = st.tabs(RULE_TABS, key=RULE_TAB, on_change="rerun")
    st.session_state[RULE_TAB_KEPT] = st.session_state[RULE_TAB]
    for tab, m in zip(tabs, rules.METHODS):
        if tab.open:
            with tab:
                draw_rule(m, race[m], settings["t"])
    if tabs[-1].open:
        with tabs[-1]:
            draw_comparison()


# --- tab 2: the race ----------------------------------------------------------------
def draw_divergence(race: dict) -> None:
    """Say plainly which paths stopped, where and why (the chart marks them with ✕)."""
    for m, tr in race.items():
        if tr.stopped:
            where = f" (it reached w = ({tr.escape[0]:.3g}, {tr.escape[1]:.3g}))" if tr.escape else ""
            st.warning(
                f"**{rules.TITLES[m]}** {tr.stopped} at step {tr.steps + 1}{where}; "
                f"its path ends at step {tr.steps}. Try a smaller α or a larger ε."
            )


def race_tab(race: dict, settings: dict) -> None:
    surface = surfaces.SURFACES[settings["surface"]]
    st.markdown(f"**{surface.title}.** {surface.lesson}")
    st.latex(surface.latex)
    draw_divergence(race)
    key = (settings["surface"], settings["start"], settings["steps"], settings["hparams"])
    paths, inspector, now = race_frames(race, settings["t"], race_paths(*key))
    contours, losses = race_chart_specs(*key)
    shown = step_tables(paths, now, settings["t"])
    left, right = st.columns(2)
    with left:
        charts.draw_spec(contours, shown, width="stretch", key="race_contours")
    with right:
        charts.draw_spec(losses, shown, width="stretch", key="race_losses")
    st.caption(
        f"Contours: L(w) of dlcore.core.surfaces '{surface.name}' on a 60×60 grid over the plotted box, "
        "shaded by log₁₀(1 + L − L_min); white diamonds are the minima. Paths: dlcore.core.rules.trajectory "
        f"(NumPy, float64), {settings['steps']} steps from ({settings['start'][0]:g}, {settings['start'][1]:g}); "
        "faint after step t, ✕ where a path stopped. Right: L − L_min per step, log axis (floored at 1e-12)."
    )
    st.markdown(f"**Inspector: each method's state at step t = {settings['t']}**")
    # One column per method, one row per quantity: five columns fit a projector, twenty did not.
    cell = ui_tables.number_format("{:.4g}")
    shown = inspector.set_index("method").T.map(cell).rename_axis("").reset_index()
    draw_table(shown)
    st.caption(
        "Rows _1/_2 are the two coordinates. g: gradient used; S, V, D: accumulators after the step; "
        "V_hat, S_hat: Adam's bias-corrected moments; rate: the factor the step applies per coordinate; "
        "delta: w_t − w_{t−1}. None: the method has no such term. Source: dlcore.core.rules.inspector_rows."
    )


# --- tab 3: the MLP on CIFAR-10 (SPEC 1.2-1.3) ------------------------------------------
MLP_REFRESH_S = 2.0
MLP_PRESET_CAPTIONS = {
    "full": "the homework: 200 epochs on all 50,000 images (hours on this CPU)",
    "class": (f"shortened: {experiments.MLP_SIZES['class'][1]} images per class, "
              f"{experiments.MLP_SIZES['class'][3]} epochs (time measured below)"),
    "smoke": "seconds, synthetic data: checks the machinery only",
}
MLP_PRESET_TITLES = {
    "full": "full preset (what the homework asks)",
    "class": "class preset (shortened)",
    "smoke": "smoke preset (synthetic data)",
}
MLP_CURVES = {"loss": "training loss", "val_accuracy": "test accuracy", "val_loss": "test loss"}
# Step of the + / − buttons of each hyper-parameter input.
MLP_STEPS = {"learning_rate": 1e-4, "rho": 0.01, "momentum": 0.01, "beta_1": 0.01, "beta_2": 0.001,
             "epsilon": 1e-7, "initial_accumulator_value": 0.01}


def mlp_key(*parts: str) -> str:
    """Widget keys of this tab, apart from the race's ('adam.learning_rate' is the race's slider)."""
    return "mlp." + ".".join(parts)


def draw_mlp_intro() -> None:
    st.markdown(
        "**Problem 1.2–1.3.** The MLP Flatten(32×32×3) → Dense 1000 ReLU → Dense 1000 ReLU → "
        "Dense 10 softmax, He-normal initialisation (the cached 200-epoch runs were trained before the output "
        "layer was made He-normal too, and start it Glorot-uniform), trained on CIFAR-10 with each of the five methods: "
        "first with **L2** on the two hidden kernels (1.2), then with **dropout** instead — 0.2 on the "
        "input, 0.5 after each hidden layer (1.3). Which method reaches the lowest training loss, how do the two regularizers compare, "
        "and how does dropout change the training time?"
    )
    st.caption(
        "Fixed from the seed notebook: the inputs are scaled to [0, 1] (raw 0–255 pixels left every dropout "
        "run at chance), and RMSProp + Nesterov is the rule of the Update rules tab, not Nadam."
    )


def mlp_hparams_ui() -> dict:
    """Each method's hyper-parameters, the cached runs' values as defaults; returns only the changes."""
    changes = {}
    with st.expander("Hyper-parameters of each method (defaults: the values the cached runs used)"):
        st.caption(
            "The defaults are the values the cached runs were trained with: dlcore.engine.experiments.MLP_DEFAULTS "
            "(the learning rates and decay rates the notebook ran) and, for what those leave unset, "
            "dlcore.core.rules.DEFAULTS. Where they differ from the textbook it says so here; where Keras's own "
            "optimizer differs, each method's note below says so. A changed value applies to the runs you "
            "start here, and their labels say so."
        )
        differences = optimizer_comparison.default_differences()
        if differences:
            st.info("**Where these defaults differ from the textbook's:** " + "; ".join(differences) + ". "
                    "The Update rules tab explains each method's defaults and Keras notes.")
        tabs = st.tabs([rules.TITLES[m] for m in experiments.METHODS])
        for tab, m in zip(tabs, experiments.METHODS):
            with tab:
                used = optimizer_comparison.hparams_used(m)
                cols = st.columns(len(used))
                values = {}
                for col, name in zip(cols, rules.HPARAMS[m]):
                    values[name] = col.number_input(
                        f"{rules.SYMBOLS_TEXT[name]} ({name})", min_value=1e-12 if name == "learning_rate" else 0.0,
                        max_value=0.999999 if name in ("rho", "momentum", "beta_1", "beta_2") else None,
                        value=float(used[name]), step=MLP_STEPS[name], format="%g", key=mlp_key(m, name))
                changes[m] = optimizer_comparison.changed_hparams(m, values)
                rows = pd.DataFrame(optimizer_comparison.hparam_rows(m, changes[m]))
                st.dataframe(rows, hide_index=True, column_config={
                    "used": st.column_config.NumberColumn(format="%g"),
                    "textbook default": st.column_config.NumberColumn(format="%g")})
                st.caption(rules.KERAS_NOTES[m])
    return changes


def mlp_launch_ui() -> dict:
    """What to start: regularizer, one method or all five, preset, batch size, hyper-parameters."""
    left, right = st.columns(2)
    regularizer = left.radio(
        "Regularizer", list(optimizer_comparison.EXPERIMENTS), horizontal=True, key=mlp_key("regularizer"),
        format_func=lambda r: f"{optimizer_comparison.REGULARIZER_TITLES[r]} "
                              f"({optimizer_comparison.PROBLEMS[r]})")
    which = right.selectbox(
        "Runs", ["all", *experiments.METHODS], key=mlp_key("methods"),
        format_func=lambda m: "all five methods" if m == "all" else experiments.METHOD_LABELS[m])
    preset = st.radio("Preset", experiments.PRESETS, index=experiments.PRESETS.index("class"), horizontal=True,
                      captions=[MLP_PRESET_CAPTIONS[p] for p in experiments.PRESETS], key=mlp_key("preset"))
    if preset == "full":
        speed = experiments.speed_estimate(optimizer_comparison.EXPERIMENTS[regularizer], 200 * 50_000)
        st.warning(
            "The **full** preset is what the homework asks: 200 epochs over 50,000 images, 10 million images "
            "per run; " + (f"{speed} per run" if speed else "no CPU speed of this MLP has been measured here yet "
                           "(benchmarks/class_presets.py)")
            + ", and the runs queue one after another. The cached full runs below were trained on a GPU."
        )
    left, right = st.columns(2)
    # One batch-size box per preset: each preset keeps its own default (128 for CIFAR-10, 32 for smoke).
    batch = left.number_input("Batch size", min_value=1, max_value=experiments.MAX_BATCH, step=1,
                              value=experiments.MLP_SIZES[preset][4], key=mlp_key("batch", preset))
    l2 = 5e-4
    if regularizer == "l2":
        l2 = right.number_input("L2 factor λ (hidden kernels)", min_value=0.0, value=5e-4, step=1e-4,
                                format="%g", key=mlp_key("l2"))
    hparams = mlp_hparams_ui()
    methods = experiments.METHODS if which == "all" else (which,)
    return {"regularizer": regularizer, "methods": methods, "preset": preset, "batch_size": int(batch),
            "l2": float(l2), "hparams": hparams}


def mlp_specs(launch: dict) -> list:
    """The specs the Start button would launch (an error on the page when a value is unusable)."""
    try:
        return experiments.mlp_runs(launch["preset"], launch["regularizer"], launch["methods"],
                                    launch["batch_size"], launch["l2"], launch["hparams"])
    except experiments.SpecError as err:
        st.error("These settings cannot make a run: " + "; ".join(err.problems))
        return []


def mlp_start_ui(specs: list) -> None:
    if not specs:
        return
    draw_table(tables.specs_table(specs), shared_once=True)
    st.caption(experiments.time_estimate(specs))
    ready = dataset_gate(specs, key=mlp_key("data"))
    st.caption(f"Runs train in the background, at most {jobs.max_running()} at once (the others wait in a "
               "queue); cancel, resume or delete them on the **Runs** page.")
    if st.button(f"Start {len(specs)} run{'s' if len(specs) != 1 else ''}", type="primary",
                 disabled=not ready, key=mlp_key("start")):
        _, error = jobs.start_many(specs)
        if error:
            st.error(error)
        else:
            st.success(f"Started {len(specs)} run(s): {', '.join(s.label for s in specs)}. Their curves "
                       "appear below after their first epoch.")


def mlp_curve_ui() -> tuple[str, bool]:
    """Which per-epoch curve the charts draw, and whether a loss goes on a log axis."""
    left, right = st.columns([3, 2], vertical_alignment="bottom")
    curve = left.segmented_control("Curve", list(MLP_CURVES), default="loss", format_func=MLP_CURVES.get,
                                   key=mlp_key("curve")) or "loss"
    log = right.checkbox("Log axis for losses", value=True, key=mlp_key("log"),
                         help="The first epochs' spikes and a diverged run squeeze the other curves together "
                              "on a linear axis.")
    return curve, log


# Reading 10 full runs (4,000 records each) takes over a second: do it once per version of them.
@st.cache_data(max_entries=8, show_spinner=False)
def cached_set_numbers(key: tuple) -> dict:
    found = [runs.read_run(path, "cached") for path, _ in key]
    return mlp_numbers([r for r in found if r is not None])


def mlp_numbers(group: list) -> dict:
    """Everything drawn for a set of runs: curves, results, comparisons, discussion, provenance."""
    found = optimizer_comparison.results(group)
    frame = tables.epochs_frame(group)
    return {
        "frame": frame, "results": found, "axes_frame": axes.with_epoch_axes(frame, tables.batches_frame(group)),
        "table": optimizer_comparison.results_table(found),
        "times": optimizer_comparison.time_differences(found),
        "discussion": optimizer_comparison.discussion(found),
        "sharing": optimizer_comparison.sharing_note(found),
        "provenance": optimizer_comparison.provenance_table(found),
        "captions": {reg: curves.runs_caption([r for r in group if r.spec.get("experiment") == exp])
                     for reg, exp in optimizer_comparison.EXPERIMENTS.items()},
        "labels": dict(zip((r.run_id for r in group), tables.run_labels(group))),
        "notes": list(dict.fromkeys(tables.run_notes(r) for r in group if r.preset != "full")),
    }


def draw_mlp_curves(numbers: dict, curve: tuple[str, bool], view: str) -> None:
    """One chart per regularizer: the five methods' curves together, as the homework plots them."""
    frame = numbers["frame"]
    curve, log = curve
    axis = axis_ui(f"{view}_axis")
    other_axis = axis.x != "epoch" or axis.smoothing > 0
    for reg in optimizer_comparison.EXPERIMENTS:
        mine = [r for r in numbers["results"] if r.regularizer == reg]
        if not mine:
            continue
        part = frame[frame["run"].isin({r.run_id for r in mine})] if len(frame) else frame
        st.markdown(f"**With {optimizer_comparison.REGULARIZER_TITLES[reg]}** "
                    f"({optimizer_comparison.PROBLEMS[reg]})")
        if part.empty:
            st.info("No finished epoch yet: the first point appears when an epoch ends.")
            continue
        diverged = [r.title for r in mine if r.diverged]
        log_y = log and curve in ("loss", "val_loss")
        if other_axis:
            on_axis = numbers["axes_frame"][numbers["axes_frame"]["run"].isin(set(part["run"]))]
            altair_chart(training_axes.epoch_metric_on_axis(on_axis, curve, axis.x, axis.smoothing, log_y=log_y,
                                                            view=f"{view}_{reg}_axis"),
                         key=f"{view}_{reg}_{curve}_{log_y}_axis")
        else:
            chart = curves.metric_vs_epoch(part, curve, dashed_cached=False, log_y=log_y, view=f"{view}_{reg}")
            # Streamlit fits height *and* legend into the chart's height by default: the plot gets the height.
            # (Set, not .properties(): that would copy the chart's data.)
            chart.autosize = alt.AutoSizeParams(type="fit-x", contains="padding")
            altair_chart(chart, key=f"{view}_{reg}_{curve}_{log_y}")
        what = f"{MLP_CURVES[curve].capitalize()} per epoch"
        caption = numbers["captions"][reg].replace("Curves from", f"{what} from", 1)
        if curve.startswith("val_"):
            caption += (" Test = the run's test set (CIFAR-10's, or a part of it in a shortened preset), evaluated "
                        "after every epoch; the chart calls it validation.")
        if log_y:
            caption += " Log axis."
        if other_axis:
            caption += " " + training_axes.axis_caption(axis.x, axis.smoothing)
        if diverged:
            caption += f" The diverged run ({', '.join(diverged)}) is drawn like the others."
        st.caption(caption)


def draw_mlp_results(numbers: dict, where: str) -> None:
    """The lowest-loss method per regularizer, divergences, the results and time tables, the discussion."""
    found = numbers["results"]
    for reg in optimizer_comparison.EXPERIMENTS:
        best = optimizer_comparison.lowest_loss(found, reg)
        if best is not None:
            st.success(f"Lowest final training loss with {optimizer_comparison.REGULARIZER_TITLES[reg]}: "
                       f"**{best.title}**, {best.final_loss:.3f} after {best.epochs_done} epochs "
                       f"({best.preset} preset, {best.source}).")
    for r in found:
        if r.diverged:
            st.error(f"**Diverged:** {optimizer_comparison.REGULARIZER_TITLES[r.regularizer]} / {r.title} "
                     f"({r.preset} preset, {r.source}): {r.verdict.reason}. It is shown, not hidden, and left "
                     "out of the ranking.")
        elif r.verdict.kind == "chance":
            st.warning(f"**Learned nothing:** {optimizer_comparison.REGULARIZER_TITLES[r.regularizer]} / "
                       f"{r.title}: {r.verdict.reason}.")
    st.markdown("**Results**")
    # A static table: all of it stays on screen at 1024 px (a data grid scrolled its right half away).
    draw_table(numbers["table"], {"final training loss": "{:.3f}", "best test accuracy": ui_tables.PERCENT,
                                  "final test accuracy": ui_tables.PERCENT}, shared_once=True)
    st.caption("Per run (dlcore.results.optimizer_comparison): final training loss = the last epoch's mean loss (with "
               "L2 it includes the penalty); test accuracy after each epoch on the run's test set (CIFAR-10's "
               "10,000 test images in the full preset, 100 per class in the class preset), best and last. "
               "Verdict: ok; diverged (loss not finite, or chance accuracy with a loss far above ln 10); chance "
               "(learned nothing); pending (no finished epoch yet).")
    draw_table(optimizer_comparison.run_times_table(found), {
        "wall-clock": "{:.0f}", "median epoch": "{:.1f}", "first epoch": "{:.1f}", "images/s": "{:.0f}"},
        shared_once=True)
    st.caption("Seconds: wall-clock at the last epoch (training plus the per-epoch test evaluation); median "
               "epoch, the first left out because it includes compiling the model; the first epoch. images/s: "
               "training images per second, median over epochs.")
    if not numbers["times"].empty:
        st.markdown("**Training time with and without dropout** (dropout − L2, per method)")
        draw_table(numbers["times"], {c: "{:.3f}" if "epoch" in c else "{:.1f}"
                                      for c in numbers["times"].columns if c not in ("method", "epochs")})
    st.markdown("**Discussion** (every number and ranking below is computed from these runs)")
    with st.container(border=True):
        st.markdown("\n".join(f"- {point}" for point in numbers["discussion"]))


def draw_mlp_provenance(numbers: dict, group: list) -> None:
    st.markdown("**Provenance**")
    draw_table(numbers["provenance"], shared_once=True)
    if numbers["sharing"]:
        st.caption(numbers["sharing"])
    with st.expander("Every field of each run's provenance"):
        for run in group:
            st.markdown(f"**{numbers['labels'].get(run.run_id, run.title)}**")
            st.table(tables.provenance_table(run), hide_index=True, hide_header=True)


def draw_mlp_set(group: list, numbers: dict, title: str, curve: tuple[str, bool], view: str) -> None:
    """One set of runs of one preset: curves, results, discussion, provenance."""
    preset = group[0].preset
    st.markdown(f"#### {title}: {MLP_PRESET_TITLES.get(preset, preset)}")
    for note in numbers["notes"]:
        st.warning(f"**Shortened, not the homework's result.** {note}.")
    draw_mlp_curves(numbers, curve, view)
    draw_mlp_results(numbers, view)
    draw_mlp_provenance(numbers, group)


def mlp_live_runs() -> list:
    return [r for r in jobs.live_runs() if optimizer_comparison.is_mlp_run(r)]


def mlp_active(found: list) -> set:
    return {str(r.path) for r in found if r.state in runs.ACTIVE}


def draw_mlp_live(curve: tuple[str, bool]) -> None:
    """The live runs, redrawn every MLP_REFRESH_S seconds while one of them trains."""
    found = mlp_live_runs()
    st.session_state[mlp_key("active")] = mlp_active(found)
    if not found:
        st.info("No live MLP runs yet: start some above. Their training-loss curves stream in here.")
        return
    refresh = MLP_REFRESH_S if mlp_active(found) else None
    st.fragment(draw_mlp_live_runs, run_every=refresh)(curve)


def draw_mlp_live_runs(curve: tuple[str, bool]) -> None:
    found = mlp_live_runs()
    # A run has started or ended since the page was drawn: redraw it all once, so that this
    # part starts (or stops) refreshing.
    if mlp_active(found) != st.session_state.get(mlp_key("active"), set()):
        st.rerun()
    active = [r for r in found if r.state in runs.ACTIVE]
    if active:
        st.markdown("**Training now**")
        for row in tables.runs_table(active).to_dict("records"):
            eta = f" · ETA {row['ETA']}" if row["ETA"] else ""
            st.progress(row["progress"], text=f"{row['run']} · {row['state']} · epoch {row['epoch']}{eta}")
    for preset in experiments.PRESETS:
        group = optimizer_comparison.latest_per_method([r for r in found if r.preset == preset])
        if group:
            draw_mlp_set(group, mlp_numbers(group), "Live runs", curve, f"mlp_live_{preset}")
    older = len(found) - sum(len(optimizer_comparison.latest_per_method([r for r in found if r.preset == p]))
                             for p in experiments.PRESETS)
    if older:
        st.caption(f"{older} older live run(s) of the same method and preset are not drawn (the newest of each "
                   "is); the Runs page lists them all.")


def draw_mlp_cached(curve: tuple[str, bool]) -> None:
    """The shipped runs of one preset (full when there is one), drawn once per page run."""
    shipped = [r for r in runs.list_runs(include_live=False) if optimizer_comparison.is_mlp_run(r)]
    presets = optimizer_comparison.cached_presets(shipped)
    if not presets:
        st.info("No cached MLP runs in cached_runs/: they are made with "
                "`python -m dlcore.run mlp_l2 mlp_dropout --preset class` (or `full`).")
        return
    preset = presets[0]
    if len(presets) > 1:
        preset = st.radio("Cached preset", presets, horizontal=True, key=mlp_key("cached_preset"),
                          format_func=lambda p: MLP_PRESET_TITLES.get(p, p))
    group = optimizer_comparison.cached_set(shipped, preset)
    key = tuple((str(r.path), str(r.status.get("updated") or r.status.get("ended"))) for r in group)
    draw_mlp_set(group, cached_set_numbers(key), "Cached runs", curve, f"mlp_cached_{preset}")


@st.fragment
def mlp_experiments_section() -> None:
    """Problem 1.2-1.3: the five methods training the MLP on CIFAR-10, with L2 and with dropout."""
    draw_mlp_intro()
    with st.container(border=True):
        st.markdown("**Start runs**")
        mlp_start_ui(mlp_specs(mlp_launch_ui()))
    curve = mlp_curve_ui()
    draw_mlp_live(curve)
    if st.toggle("Show the cached runs", value=True, key=mlp_key("show_cached"),
                 help="Results shipped in cached_runs/ (made with python -m dlcore.run), full preset when present."):
        draw_mlp_cached(curve)


def main() -> None:
    st.title("1 · Adaptive learning-rate methods")
    st.markdown(
        "Adagrad, RMSProp, RMSProp with Nesterov momentum, AdaDelta and Adam: what each one "
        "computes at every step, and how they behave when they race on the same loss surface."
    )
    bad = url_problems()
    if bad:
        st.warning(f"Some settings in the link were not valid and were replaced by defaults: {', '.join(bad)}.")
    st.sidebar.header("Race settings")
    # Lazy tabs, bound to the URL (?tab=Optimizer+race opens the race): only the open one is drawn.
    rules_tab, race_tab_, mlp_tab = st.tabs(TABS, key="tab", bind="query-params")
    race_section(rules_tab, race_tab_)
    if mlp_tab.open:
        with mlp_tab:
            mlp_experiments_section()


TABS = ["Update rules", "Optimizer race", "MLP on CIFAR-10"]


@st.fragment
def race_section(rules_tab, race_tab_) -> None:
    """The sidebar's race settings and the tab they drive (when open): a slider reruns only this part.

    The sidebar is drawn on every tab, so the settings (and the URL) stay while the MLP tab is open.
    """
    settings = race_settings_ui()
    if not (rules_tab.open or race_tab_.open):
        return
    race = compute_race(settings["surface"], settings["start"], settings["steps"], settings["hparams"])
    if rules_tab.open:
        with rules_tab:
            update_rules_tab(race, settings)
    if race_tab_.open:
        with race_tab_:
            race_tab(race, settings)

if __name__ == "__main__":
    main()
