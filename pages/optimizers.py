"""1 · Optimizers: adaptive learning-rate methods (SPEC Problem 1).

Reads like the lecture: the five update rules with their numbers live, the
same rules racing on 2-D loss surfaces, then the MLP on CIFAR-10. Every
number comes from dlcore.rules / dlcore.surfaces (NumPy, no Keras), so the
page opens instantly; the race settings live in the sidebar and in the URL,
so a class can be sent the exact race on screen.
"""
import altair as alt
import pandas as pd
import streamlit as st

from dlcore import rules, surfaces

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
def hparam_key(method: str, name: str) -> str:
    return f"{method}.{name}"


def settings_from_url() -> None:
    """On a session's first run, copy the URL's settings into the widgets' state.

    Only values that make sense are taken; anything else is reported and the
    default is kept, so a hand-edited link never breaks the page.
    """
    if st.session_state.get("_url_read"):
        return
    st.session_state["_url_read"] = True
    qp = st.query_params
    bad = []
    name = qp.get("surface", "quadratic")
    if name not in surfaces.SURFACES:
        bad.append(f"surface={name}")
        name = "quadratic"
    surface = surfaces.SURFACES[name]
    st.session_state["surface"] = name
    x0, x1, y0, y1 = surface.box
    for key, lo, hi, default in (
        ("x0", x0, x1, surface.start[0]),
        ("y0", y0, y1, surface.start[1]),
        ("steps", 1, STEPS_MAX, 200),
        ("t", 0, STEPS_MAX, 50),
    ):
        value = default
        if key in qp:
            try:
                value = float(qp[key]) if key in ("x0", "y0") else int(qp[key])
                if not lo <= value <= hi:
                    raise ValueError
            except ValueError:
                bad.append(f"{key}={qp[key]}")
                value = default
        st.session_state[key] = value
    for m in rules.METHODS:
        for h, default in rules.RACE_DEFAULTS[m].items():
            key = hparam_key(m, h)
            value = default
            if key in qp:
                try:
                    value = float(qp[key])
                    if value not in CHOICES[h]:
                        raise ValueError
                except ValueError:
                    bad.append(f"{key}={qp[key]}")
                    value = default
            st.session_state[key] = value
    if bad:
        st.session_state["_url_bad"] = bad


def settings_to_url(settings: dict) -> None:
    """Write the settings into the URL; hyper-parameters only where not the default."""
    params = {
        "surface": settings["surface"],
        "x0": f"{settings['start'][0]:g}",
        "y0": f"{settings['start'][1]:g}",
        "steps": str(settings["steps"]),
        "t": str(settings["t"]),
    }
    for m, hp in settings["hparams"].items():
        for h, v in hp.items():
            if v != rules.RACE_DEFAULTS[m][h]:
                params[hparam_key(m, h)] = f"{v:g}"
    if params != st.query_params.to_dict():
        st.query_params.from_dict(params)


# --- widgets -------------------------------------------------------------------------
def reset_start() -> None:
    """A new surface starts at its own default point (the old one may be off its box)."""
    surface = surfaces.SURFACES[st.session_state["surface"]]
    st.session_state["x0"], st.session_state["y0"] = surface.start


def race_settings_ui() -> dict:
    """Sidebar: surface, start, steps, the step shown, and each method's hyper-parameters."""
    with st.sidebar:
        st.header("Race settings")
        name = st.selectbox(
            "Loss surface",
            list(surfaces.SURFACES),
            format_func=lambda s: surfaces.SURFACES[s].title,
            key="surface",
            on_change=reset_start,
        )
        surface = surfaces.SURFACES[name]
        x0, x1, y0, y1 = surface.box
        c1, c2 = st.columns(2)
        w1 = c1.slider("start w₁", float(x0), float(x1), step=0.05, key="x0")
        w2 = c2.slider("start w₂", float(y0), float(y1), step=0.01, key="y0")
        steps = st.slider("steps to run", 1, STEPS_MAX, key="steps")
        # The step shown cannot be past the last step run.
        st.session_state["t"] = min(st.session_state.get("t", 0), steps)
        t = st.slider("step shown, t", 0, steps, key="t", help="Moves all five methods together, on both tabs.")
        st.caption("Hyper-parameters of each method (race values; training defaults are on the Update rules tab).")
        hparams = {}
        for m in rules.METHODS:
            with st.expander(rules.TITLES[m]):
                hparams[m] = {
                    h: st.select_slider(
                        f"{rules.SYMBOLS_TEXT[h]}  ({h})",
                        options=CHOICES[h],
                        format_func=lambda v: f"{v:g}",
                        key=hparam_key(m, h),
                    )
                    for h in rules.RACE_DEFAULTS[m]
                }
    return {"surface": name, "start": (w1, w2), "steps": steps, "t": t, "hparams": hparams}


# --- compute (cached: moving the step slider must not rerun the race) ---------------------
@st.cache_data(max_entries=64, show_spinner=False)
def compute_race(surface: str, start: tuple, steps: int, hparams: dict) -> dict:
    return rules.race(surface, start, steps, hparams)


@st.cache_data(show_spinner=False)
def surface_grid(surface: str) -> pd.DataFrame:
    return pd.DataFrame(surfaces.grid(surfaces.SURFACES[surface]))


def race_frames(race: dict, t: int):
    """The race as tables: every path point, each method's state at t, and where to mark it."""
    paths = pd.DataFrame(rules.race_records(race))
    inspector = pd.DataFrame(rules.inspector_rows(race, t))
    now = inspector[["method", "step", "w1", "w2", "loss", "status"]].rename(columns={"step": "step shown"})
    now["state"] = ["running" if s in ("ok", "running") else "stopped here" for s in now["status"]]
    return paths, inspector, now


# --- charts ------------------------------------------------------------------------
def method_color(legend: bool = True) -> alt.Color:
    titles = [rules.TITLES[m] for m in rules.METHODS]
    return alt.Color("method:N", scale=alt.Scale(domain=titles, range=COLORS), title="method",
                     legend=alt.Legend(orient="bottom", columns=3) if legend else None)


def race_chart(grid: pd.DataFrame, paths: pd.DataFrame, now: pd.DataFrame, surface) -> alt.Chart:
    """Contours of the surface, the five paths (solid up to step t), and where each is at t."""
    x0, x1, y0, y1 = surface.box
    x = alt.X("w1:Q", scale=alt.Scale(domain=[x0, x1], nice=False), title="w₁")
    y = alt.Y("w2:Q", scale=alt.Scale(domain=[y0, y1], nice=False), title="w₂")
    heat = (
        alt.Chart(grid)
        .mark_rect(strokeWidth=0)
        .encode(
            x=alt.X("w1_lo:Q", scale=alt.Scale(domain=[x0, x1], nice=False), title="w₁"),
            x2="w1_hi:Q",
            y=alt.Y("w2_lo:Q", scale=alt.Scale(domain=[y0, y1], nice=False), title="w₂"),
            y2="w2_hi:Q",
            color=alt.Color(
                "level:Q", scale=alt.Scale(scheme="greys", reverse=True), title=["log₁₀(1+L−L_min)"],
                legend=alt.Legend(orient="bottom"),
            ),
            tooltip=[alt.Tooltip("w1:Q", format=".2f"), alt.Tooltip("w2:Q", format=".2f"), alt.Tooltip("loss:Q", format=".4g")],
        )
    )
    t = int(now["step shown"].max()) if len(now) else 0
    path = alt.Chart(paths).encode(x=x, y=y, order="step:Q", color=method_color(legend=False))
    full = path.mark_line(strokeWidth=1.5, opacity=0.35, clip=True)
    so_far = path.mark_line(strokeWidth=2.5, clip=True).transform_filter(alt.datum.step <= t)
    tooltip = ["method:N", "step shown:Q", alt.Tooltip("loss:Q", format=".4g"), "status:N"]
    where = (
        alt.Chart(now)
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


def loss_chart(paths: pd.DataFrame, t: int) -> alt.Chart:
    """L − L_min per step on a log axis, with a rule at the step shown."""
    lines = (
        alt.Chart(paths)
        .mark_line(strokeWidth=2)
        .encode(
            x=alt.X("step:Q", title="step"),
            y=alt.Y("gap:Q", scale=alt.Scale(type="log"), title="L − L_min (log)"),
            color=method_color(),
            tooltip=["method:N", "step:Q", alt.Tooltip("loss:Q", format=".4g")],
        )
    )
    rule = alt.Chart(pd.DataFrame({"step": [t]})).mark_rule(strokeDash=[4, 3], color="black").encode(x="step:Q")
    return (lines + rule).properties(height=460)


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


def update_rules_tab(race: dict, settings: dict) -> None:
    surface = surfaces.SURFACES[settings["surface"]]
    st.markdown(
        "The live numbers are the race's: each method's step **t** on "
        f"*{surface.title}* from w₀ = ({settings['start'][0]:g}, {settings['start'][1]:g}), "
        "with the hyper-parameters set in the sidebar. Each vector is (w₁, w₂); "
        "⊙, squares and roots act per coordinate."
    )
    tabs = st.tabs([rules.TITLES[m] for m in rules.METHODS] + ["AdaDelta & Adam vs RMSProp"])
    for tab, m in zip(tabs, rules.METHODS):
        with tab:
            draw_rule(m, race[m], settings["t"])
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
    paths, inspector, now = race_frames(race, settings["t"])
    left, right = st.columns([3, 2])
    with left:
        st.altair_chart(race_chart(surface_grid(surface.name), paths, now, surface), width="stretch")
    with right:
        st.altair_chart(loss_chart(paths, settings["t"]), width="stretch")
    st.caption(
        f"Contours: L(w) of dlcore.surfaces '{surface.name}' on a 60×60 grid over the plotted box, "
        "shaded by log₁₀(1 + L − L_min); white diamonds are the minima. Paths: dlcore.rules.trajectory "
        f"(NumPy, float64), {settings['steps']} steps from ({settings['start'][0]:g}, {settings['start'][1]:g}); "
        "faint after step t, ✕ where a path stopped. Right: L − L_min per step, log axis (floored at 1e-12)."
    )
    st.markdown(f"**Inspector: each method's state at step t = {settings['t']}**")
    numbers = {c: st.column_config.NumberColumn(format="%.4g") for c in inspector.columns[3:]}
    st.dataframe(inspector, hide_index=True, column_config=numbers)
    st.caption(
        "Columns _1/_2 are the two coordinates. g: gradient used; S, V, D: accumulators after the step; "
        "V_hat, S_hat: Adam's bias-corrected moments; rate: the factor the step applies per coordinate; "
        "delta: w_t − w_{t−1}. None: the method has no such term. Source: dlcore.rules.inspector_rows."
    )


# --- tab 3: the MLP on CIFAR-10 (SPEC 1.2-1.3) ------------------------------------------
def mlp_experiments_section() -> None:
    """Problem 1.2-1.3: the five methods training an MLP on CIFAR-10 (issue 5 builds this)."""
    st.info(
        "This part is being built: training the MLP of Problem 1.2-1.3 on CIFAR-10 with each of the "
        "five methods (with L2, then with dropout), live curves and cached 200-epoch results. "
        "It is not available yet."
    )


def main() -> None:
    st.title("1 · Adaptive learning-rate methods")
    st.markdown(
        "Adagrad, RMSProp, RMSProp with Nesterov momentum, AdaDelta and Adam: what each one "
        "computes at every step, and how they behave when they race on the same loss surface."
    )
    settings_from_url()
    bad = st.session_state.pop("_url_bad", None)
    if bad:
        st.warning(f"Some settings in the link were not valid and were replaced by defaults: {', '.join(bad)}.")
    settings = race_settings_ui()
    settings_to_url(settings)
    race = compute_race(settings["surface"], settings["start"], settings["steps"], settings["hparams"])
    rules_tab, race_tab_, mlp_tab = st.tabs(["Update rules", "Optimizer race", "MLP on CIFAR-10"])
    with rules_tab:
        update_rules_tab(race, settings)
    with race_tab_:
        race_tab(race, settings)
    with mlp_tab:
        mlp_experiments_section()


if __name__ == "__main__":
    main()
