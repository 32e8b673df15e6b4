"""2 · Cyclical learning rates (SPEC Problem 2).

Reads like the lecture: the schedules themselves (instant, no training), then
the LR range test that picks their bounds, a CLR run between those bounds,
and growing the batch at a fixed rate instead. The last three train
MiniGoogLeNet in the background (dlcore.jobs) and draw live and cached runs
(dlcore.runs, dlcore.charts); the lr_min/lr_max chosen on the range-test tab
are what the CLR and batch-growth tabs would launch. All numbers come from
dlcore (schedules, rangetest, experiments, generalization); this page only
lays out widgets and charts, and never imports Keras.
"""
from typing import NamedTuple

import altair as alt
import streamlit as st

from dlcore import charts, data, experiments, generalization, jobs, rangetest, runs, schedules

# One colour per policy, the same on every chart of this page.
POLICY_COLORS = {"triangular": "#1f77b4", "triangular2": "#2ca02c", "exp_range": "#d62728", "exp_range_paper": "#ff7f0e"}


def main():
    st.title("2 · Cyclical learning rates")
    st.markdown(
        """
Instead of decaying the learning rate, Smith (2017) lets it **cycle** between a lower
bound `base_lr` (lr_min) and an upper bound `max_lr` (lr_max): the high rates escape
saddle points and sharp minima, the low rates settle. The bounds come from a short
**LR range test**. Smith et al. (2018) then ask whether **growing the batch** at a fixed
rate does the same job as decaying the rate.
"""
    )
    schedules_tab, range_tab, clr_tab, growth_tab = st.tabs(
        ["Schedules", "LR range test", "CLR run", "Growing the batch"]
    )
    with schedules_tab:
        schedules_section()
    # The bounds read off the range test (or typed over it) feed the two runs after it.
    with range_tab:
        bounds = range_test_section()
    with clr_tab:
        clr_section(bounds)
    with growth_tab:
        batch_growth_section(bounds)


# ---------------------------------------------------------------- Schedules
class ScheduleChoice(NamedTuple):
    base_lr: float
    max_lr: float
    step_size: int
    gamma: float
    n_iterations: int
    policies: list
    log_y: bool


def schedules_section():
    st.subheader("The schedules, instantly")
    choice = schedule_ui()
    try:
        curves = schedules.cyclical_curves(
            choice.policies, choice.n_iterations, choice.base_lr, choice.max_lr, choice.step_size, choice.gamma
        )
        apexes = schedules.apex_rates(
            choice.policies, choice.n_iterations, choice.base_lr, choice.max_lr, choice.step_size, choice.gamma
        )
    except ValueError as err:
        st.error(f"Cannot draw these schedules: {err}")
    else:
        if not choice.policies:
            st.info("Pick at least one policy to draw.")
        else:
            draw_lr_curves(curves, choice)
            draw_apex_table(apexes)
    draw_policy_formulas()

    st.subheader("Growing the batch, and fitting it in memory")
    k, max_micro_batch = batch_growth_ui()
    plan = schedules.batch_growth_plan(
        k, max_micro_batch, n_train=schedules.FASHION_MNIST_TRAIN, **schedules.BATCH_GROWTH
    )
    draw_batch_growth(plan, k, max_micro_batch)


def schedule_ui() -> ScheduleChoice:
    d = schedules.SMITH_EXAMPLE
    left, middle, right = st.columns(3)
    with left:
        base_lr = st.number_input(
            "base_lr (lr_min)", min_value=0.0, value=d["base_lr"], step=1e-4, format="%.2e", key="clr_base_lr",
            help="The lowest rate of every cycle.",
        )
        max_lr = st.number_input(
            "max_lr (lr_max)", min_value=0.0, value=d["max_lr"], step=1e-3, format="%.2e", key="clr_max_lr",
            help="The highest rate of the first cycle; must be above base_lr.",
        )
    with middle:
        step_size = st.slider(
            "step size (iterations in half a cycle)", 100, 10_000, d["step_size"], step=100, key="clr_step_size",
            help="Smith suggests 2–10 epochs' worth of iterations; Fashion-MNIST at batch 64 has 937 per epoch.",
        )
        n_iterations = st.slider(
            "iterations to show", 1_000, 100_000, d["n_iterations"], step=1_000, key="clr_n_iterations"
        )
    with right:
        gamma = st.slider(
            "γ (exp_range decay per iteration)", 0.99900, 1.00000, d["gamma"], step=0.00001, format="%.5f",
            key="clr_gamma",
        )
        log_y = st.toggle("log learning-rate axis", value=False, key="clr_log_y")
    policies = st.multiselect(
        "policies", schedules.POLICIES, default=["triangular", "triangular2", "exp_range"],
        format_func=schedules.POLICY_LABELS.get, key="clr_policies",
    )
    return ScheduleChoice(base_lr, max_lr, step_size, gamma, n_iterations, policies, log_y)


def draw_lr_curves(curves, choice: ScheduleChoice):
    chart = (
        alt.Chart(curves)
        .mark_line()
        .encode(
            x=alt.X("iteration:Q", title="iteration"),
            y=alt.Y("lr:Q", title="learning rate", scale=alt.Scale(type="log" if choice.log_y else "linear")),
            color=alt.Color(
                "policy:N",
                scale=alt.Scale(domain=choice.policies, range=[POLICY_COLORS[p] for p in choice.policies]),
                legend=alt.Legend(orient="top", title=None),
            ),
            tooltip=["policy:N", "iteration:Q", alt.Tooltip("lr:Q", format=".3e")],
        )
        .properties(height=360)
        .interactive(bind_y=False)
    )
    st.altair_chart(chart)
    st.caption(
        f"Computed from the formulas below (dlcore.schedules), no training: base_lr = {choice.base_lr:.2e}, "
        f"max_lr = {choice.max_lr:.2e}, step size = {choice.step_size}, γ = {choice.gamma:.5f}."
    )


def draw_apex_table(apexes):
    st.markdown("**Rate at the apex of each cycle** (iteration = step size × (2·cycle − 1))")
    st.dataframe(
        apexes,
        hide_index=True,
        column_config={p: st.column_config.NumberColumn(p, format="%.3e") for p in schedules.POLICIES},
    )
    st.caption(
        "Same formulas at the apexes: triangular keeps its height, triangular2 halves it every cycle, "
        "exp_range multiplies it by γ^(2·step size) per cycle."
    )


def draw_policy_formulas():
    with st.expander("The policies and their formulas (t = iteration, s = step size)", expanded=True):
        st.latex(schedules.CYCLE_LATEX)
        for policy in schedules.POLICIES:
            st.markdown(f"**{schedules.POLICY_LABELS[policy]}**: {schedules.POLICY_NOTES[policy]}")
            st.latex(schedules.POLICY_LATEX[policy])


def batch_growth_ui():
    left, right = st.columns(2)
    with left:
        k = st.slider(
            "k: iterations between two doublings of the batch", 10, 5_000, 100, step=10, key="clr_growth_k"
        )
    with right:
        max_micro_batch = st.select_slider(
            "memory limit: largest batch that fits (micro-batch)",
            options=schedules.MICRO_BATCH_LIMITS, value=schedules.DEFAULT_MAX_MICRO_BATCH, key="clr_max_micro_batch",
            help="Batches above this are built by accumulating gradients over equal micro-batches.",
        )
    return k, max_micro_batch


def draw_batch_growth(plan, k, max_micro_batch):
    g = schedules.BATCH_GROWTH
    fits = alt.datum["accumulation steps"] == 1
    chart = (
        alt.Chart(plan)
        .mark_rule(strokeWidth=4)
        .encode(
            x=alt.X("first iteration:Q", title="iteration"),
            x2="last iteration:Q",
            y=alt.Y(
                "batch size:Q",
                scale=alt.Scale(type="log", base=2, padding=12),
                axis=alt.Axis(values=plan["batch size"].tolist()),
                title="batch size (log₂ axis)",
            ),
            color=alt.condition(fits, alt.value("#4c78a8"), alt.value("#e45756")),
            tooltip=list(plan.columns),
        )
        .properties(height=260)
    )
    st.altair_chart(chart)
    st.caption(
        f"dlcore.schedules.batch_growth: batch {g['start']} ×{g['factor']} every k = {k} iterations up to "
        f"{g['stop']}; red = larger than the {max_micro_batch}-sample memory limit, built by gradient "
        f"accumulation. Epochs count Fashion-MNIST's {schedules.FASHION_MNIST_TRAIN:,} training images."
    )
    st.dataframe(plan, hide_index=True, column_config={"epochs in phase": st.column_config.NumberColumn(format="%.2f")})


