"""2 · Cyclical learning rates (SPEC Problem 2).

Reads like the lecture: the schedules themselves (instant, no training), then
the LR range test that picks their bounds, a CLR run between those bounds,
and growing the batch at a fixed rate instead. The last three train
MiniGoogLeNet in the background (dlcore.engine.jobs) and draw live and cached runs
(dlcore.engine.runs, dlcore.charts.curves); the lr_min/lr_max chosen on the range-test tab
are what the CLR and batch-growth tabs would launch. All numbers come from
dlcore (schedules, rangetest, experiments, generalization); this page only
lays out widgets and charts, and never imports Keras.
"""
from typing import NamedTuple

import altair as alt
import streamlit as st

from dlcore.engine import experiments, jobs, run_versions, runs
from dlcore.results import health, tables
from dlcore.charts import curves
from ui import charts
from ui.charts import altair_chart
from ui.tables import draw_table
from dlcore.results import generalization
from dlcore.core import rangetest, schedules
from ui.dataset_gate import dataset_gate
from ui.lazy_tabs import lazy_tabs
from dlcore.core import lr_finder_rules
from ui.claims import draw_claims
from ui.range_test_rules import draw_range_test_rules
from ui.x_axis import axis_ui, draw_batch_curves, draw_epoch_curves

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
    # Lazy tabs, bound to the URL (?tab=CLR+run opens that tab): only the open one is drawn, so a first
    # visit reads no run at all. The key keeps the open tab across the rerun that follows a Start button.
    schedules_tab, range_tab, clr_tab, growth_tab = lazy_tabs(TAB_KEYS)
    if schedules_tab.open:
        with schedules_tab:
            schedules_section()
            growth_planner_section()
    # The bounds read off the range test (or typed over it) feed the two runs after it.
    if range_tab.open:
        with range_tab:
            range_test_section()
    if clr_tab.open:
        with clr_tab:
            clr_section(kept_bounds())
    if growth_tab.open:
        with growth_tab:
            batch_growth_section(kept_bounds())


# Each tab's widgets, by the start of their keys: kept while another tab is open (ui.lazy_tabs).
TAB_KEYS = {"Schedules": ("clr_",), "LR range test": ("rt_",), "CLR run": ("clrrun_",),
            "Growing the batch": ("growth_",)}


# ---------------------------------------------------------------- Schedules
class ScheduleChoice(NamedTuple):
    base_lr: float
    max_lr: float
    step_size: int
    gamma: float
    n_iterations: int
    policies: list
    log_y: bool


# Instant: its sliders rerun this tab only, never the range test's or the runs' tabs.
@st.fragment
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


# A section of its own: the schedule's sliders do not redraw its chart and table, nor its sliders theirs.
@st.fragment
def growth_planner_section():
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
        f"Computed from the formulas below (dlcore.core.schedules), no training: base_lr = {choice.base_lr:.2e}, "
        f"max_lr = {choice.max_lr:.2e}, step size = {choice.step_size}, γ = {choice.gamma:.5f}."
    )


def draw_apex_table(apexes):
    st.markdown("**Rate at the apex of each cycle** (iteration = step size × (2·cycle − 1))")
    draw_table(apexes, {p: "{:.3e}" for p in schedules.POLICIES})
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


@st.cache_data(show_spinner=False)
def batch_growth_chart_spec(sizes: tuple, columns: tuple) -> dict:
    """The plan's chart without its rows: its shape (the batch sizes on the axis) does not change with
    k or the memory limit, so Altair builds it once and each move of those sliders only swaps the rows."""
    fits = alt.datum["accumulation steps"] == 1
    chart = (
        alt.Chart(alt.NamedData("growth_plan"))
        .mark_rule(strokeWidth=4)
        .encode(
            x=alt.X("first iteration:Q", title="iteration"),
            x2="last iteration:Q",
            y=alt.Y(
                "batch size:Q",
                scale=alt.Scale(type="log", base=2, padding=12),
                axis=alt.Axis(values=list(sizes)),
                title="batch size (log₂ axis)",
            ),
            color=alt.condition(fits, alt.value("#4c78a8"), alt.value("#e45756")),
            tooltip=[f"{c}:Q" for c in columns],
        )
        .properties(height=260)
    )
    return charts.spec_with_tables(chart, {})


def draw_batch_growth(plan, k, max_micro_batch):
    g = schedules.BATCH_GROWTH
    spec = batch_growth_chart_spec(tuple(plan["batch size"].tolist()), tuple(plan.columns))
    charts.draw_spec(spec, {"growth_plan": plan}, width="stretch", key="planner_chart")
    st.caption(
        f"dlcore.core.schedules.batch_growth: batch {g['start']} ×{g['factor']} every k = {k} iterations up to "
        f"{g['stop']}; red = larger than the {max_micro_batch}-sample memory limit, built by gradient "
        f"accumulation. Epochs count Fashion-MNIST's {schedules.FASHION_MNIST_TRAIN:,} training images."
    )
    draw_table(plan, {"epochs in phase": "{:.2f}"})


# ------------------------------------------------------- Runs of this page's experiments
REFRESH_S = 2.0
FLASH = "cyclical_flash"
SHORT_RUN_NOTE = (
    f"**Shortened runs:** the class preset trains MiniGoogLeNet on {experiments.FASHION_SIZES['class'][1]} "
    f"images per class for a few epochs, not on all 60,000 to convergence. MiniGoogLeNet normalizes with "
    "batch statistics while training but with *moving averages* of them at test time, and Keras's "
    "momentum of 0.99 needs a few hundred iterations to settle; the shortened presets use 0.9, so that "
    "their test numbers mean something after tens of iterations. A run whose test accuracy still sits at "
    "chance, or whose test loss exploded, is flagged with the likely cause. The full runs show the result."
)
PRESET_CAPTIONS = {
    "smoke": "seconds, tiny synthetic data: checks the machinery",
    "class": "minutes on a laptop CPU, real data, shortened",
    "full": "exactly the homework: hours on a CPU",
}


class Bounds(NamedTuple):
    lr_min: float
    lr_max: float
    source: str  # where the two numbers came from, in words


def experiment_runs(experiment: str) -> list:
    """Live runs of `experiment` first (the queue pumped), then its cached ones."""
    found = jobs.live_runs() + cached_runs(run_versions.tree_version(runs.cached_root()))
    return [r for r in found if r.spec.get("experiment") == experiment]


# The shipped runs, read again only when a file of theirs changed (the tab reads them five times a run).
@st.cache_data(max_entries=2, show_spinner=False)
def cached_runs(version: tuple) -> list:
    return runs.list_runs(include_live=False)


def active_ids(runs_list) -> set:
    return {str(r.path) for r in runs_list if r.state in runs.ACTIVE}


def watch(draw, experiment: str, *args):
    """Draw in a fragment that redraws every REFRESH_S seconds while a run of `experiment` is active."""
    st.session_state[f"cyclical_active_{experiment}"] = active_ids(experiment_runs(experiment))
    every = REFRESH_S if st.session_state[f"cyclical_active_{experiment}"] else None
    st.fragment(draw, run_every=every)(*args)


def rerun_if_activity_changed(experiment: str):
    """A run started or ended since the page ran: rerun it all, so menus, suggestion and refresh follow."""
    if active_ids(experiment_runs(experiment)) != st.session_state.get(f"cyclical_active_{experiment}", set()):
        st.rerun()


def reread(keys) -> list:
    found = [runs.read_run(path, source) for source, path in keys]
    return [r for r in found if r is not None]


def default_run(runs_list):
    """What a menu of runs opens on: the newest live run, else a full-length cached one, else the first."""
    for wanted in (lambda r: r.source == "live", lambda r: r.preset == "full"):
        for i, run in enumerate(runs_list):
            if wanted(run):
                return i
    return 0


def choose_runs_ui(runs_list, label: str, key: str) -> list:
    labels = dict(zip([str(r.path) for r in runs_list], tables.run_labels(runs_list)))
    by_path = {str(r.path): r for r in runs_list}
    # By default: what is live, and the cached runs, but never more than four curves.
    default = [p for p, r in by_path.items() if r.source == "live"][:2] + \
        [p for p, r in by_path.items() if r.source == "cached"][:2]
    chosen = st.multiselect(label, list(by_path), default=default, format_func=labels.get, key=key)
    return [by_path[p] for p in chosen]


def preset_ui(key: str) -> str:
    preset = st.radio("Preset", experiments.PRESETS, index=experiments.PRESETS.index("class"),
                      captions=[PRESET_CAPTIONS[p] for p in experiments.PRESETS], horizontal=True, key=key)
    if preset == "full":
        speed = experiments.speed_estimate("clr", experiments.FASHION_TRAIN * experiments.CLR_SIZES["full"][0])
        st.warning("The **full** preset is exactly the homework: "
                   + (f"for the CLR run's {experiments.CLR_SIZES['full'][0]} epochs, {speed}. " if speed else
                      "no CPU speed of MiniGoogLeNet has been measured here yet (benchmarks/class_presets.py), "
                      "but a full run takes hours on a CPU. ")
                   + "Show the cached run instead, or run it on a GPU machine (`python -m dlcore.run … --preset full`).")
    return preset


def draw_flash(key: str):
    """The message a Start button left for after its rerun, in its own section."""
    kind, text = st.session_state.pop(f"{key}_{FLASH}", (None, None))
    if kind:
        getattr(st, kind)(text)


def draw_launch(specs, key: str, what: str):
    """What would be launched (schedule in words, the spec table, the JSON) and the Start button."""
    for spec in specs:
        st.markdown(f"**Would launch** `{spec.label}`: {schedules.describe(spec.schedule)}; "
                    f"batch {spec.batch_size}, at most {spec.epochs} epochs. {spec.notes}")
    draw_table(tables.specs_table(specs), shared_once=True)
    st.caption(experiments.time_estimate(specs))
    with st.expander("The spec(s) as JSON"):
        for spec in specs:
            st.json(spec.to_dict(), expanded=False)
    ready = dataset_gate(specs, key=f"{key}_data")
    if st.button(f"Start {what}", type="primary", disabled=not ready, key=f"{key}_start"):
        folders, error = jobs.start_many(specs)
        if error:
            st.error(error)
        else:
            # What was just started is what the section's menu opens next (choose_range_test_ui).
            st.session_state[f"{key}_started"] = [str(f) for f in folders]
            st.session_state[f"{key}_{FLASH}"] = ("success", f"Started {what}: {', '.join(s.label for s in specs)}. "
                                                  "Its curves stream in below.")
            st.rerun()


def draw_provenance(runs_list):
    draw_table(tables.runs_provenance(runs_list), shared_once=True)
    for run in runs_list:
        reason = run.provenance.get("stop_reason") or run.status.get("reason")
        if reason:
            st.caption(f"{tables.run_label(run)} stopped: {reason}.")
        if run.status.get("error"):
            st.error(f"{tables.run_label(run)} failed: {run.status['error']}")
    for sentence in health.flagged(runs_list, tables.run_labels(runs_list)):
        st.error(sentence, icon=":material/warning:")


# ------------------------------------------------------------ LR range test
def range_test_section() -> Bounds:
    """LR range test: MiniGoogLeNet on Fashion-MNIST 32×32×1, batch 64, 10 candidates (or a sweep).

    Returns the bounds the next two sections use: the suggestion read off the
    chosen run by dlcore.core.rangetest, or the user's override.
    """
    st.subheader("LR range test")
    st.markdown(
        "Train **MiniGoogLeNet** on Fashion-MNIST (resized to 32×32×1), batch 64, while the learning rate "
        "grows from 1e-9 to 1e1: either **10 log-spaced candidate rates**, each held for an equal share of "
        "the iterations, or a **continuous exponential sweep**; 5 epochs in the full preset. Where the loss "
        "starts to fall is lr_min; where it stops falling (before it turns ragged and blows up) is lr_max."
    )
    draw_flash("rt")
    with st.expander("Start a range test", icon=":material/play_arrow:"):
        preset = preset_ui("rt_preset")
        mode = st.radio("Mode", ["steps", "sweep"], horizontal=True, key="rt_mode",
                        format_func={"steps": "10 candidate rates", "sweep": "continuous sweep"}.get)
        draw_launch(experiments.range_test_runs(preset, mode=mode), "rt", "the range test")

    tests = experiment_runs("range_test")
    if not tests:
        st.info("**No range test yet.** Start one above (the `smoke` preset takes seconds), or ship the cached "
                "ones with `python -m dlcore.run range_test --preset class`. Until then the CLR and "
                "batch-growth tabs use the catalogue's fallback lr_min = "
                f"{experiments.CLR_FALLBACK_BOUNDS[0]:g} and lr_max = {experiments.CLR_FALLBACK_BOUNDS[1]:g}.")
        st.markdown(f"**How lr_min and lr_max are suggested.** {rangetest.RULE}")
        return bounds_ui(None, None, "")
    run = choose_range_test_ui(tests)
    suggestion, why_not = read_suggestion(run)
    chart_area = st.container()
    bounds = bounds_ui(suggestion, run, why_not)
    with chart_area:
        watch(draw_range_test, "range_test", run.source, str(run.path), suggestion_marks(suggestion, bounds))
    st.markdown(f"**How lr_min and lr_max are suggested.** {rangetest.RULE} {lr_finder_rules.PREPARATION}")
    watch(draw_all_rules, "range_test", run.source, str(run.path))
    return bounds


def choose_range_test_ui(tests):
    # The menu's values are run folders, not positions: a run started (or deleted) shifts the
    # positions, and the menu, the suggestion and the chart must keep naming one run.
    by_path = {str(r.path): r for r in tests}
    labels = dict(zip(by_path, tables.run_labels(tests)))
    started = [p for p in st.session_state.pop("rt_started", []) if p in by_path]
    if started:
        st.session_state["rt_read"] = started[0]  # the test just started: what the class watches
    elif st.session_state.get("rt_read") not in by_path:
        st.session_state.pop("rt_read", None)  # deleted since
    path = st.selectbox("Range test to read", list(by_path), format_func=labels.get, key="rt_read",
                        index=None if "rt_read" in st.session_state else default_range_test(tests))
    return by_path[path]


def default_range_test(tests) -> int:
    """The range test the menu opens on. Without a live or full-length test, the shortened sweep: its 40
    rates read better than 10 candidates held for only 4 batches each, whose plateau is mostly noise."""
    index = default_run(tests)
    if tests[index].source == "cached" and tests[index].preset != "full":
        index = next((i for i, r in enumerate(tests) if r.source == "cached" and r.spec.get("name") == "sweep"),
                     index)
    return index


BOUNDS_KEPT = "rt_bounds"


def keep_bounds(bounds: Bounds) -> Bounds:
    """What the range-test tab decided, for the CLR and batch-growth tabs (drawn while it is not)."""
    st.session_state[BOUNDS_KEPT] = tuple(bounds)
    return bounds


def kept_bounds() -> Bounds:
    """The bounds the range-test tab chose when it was last drawn; before that, its default reading:
    the suggestion of the range test its menu opens on, else the catalogue's fallback."""
    if BOUNDS_KEPT in st.session_state:
        return Bounds(*st.session_state[BOUNDS_KEPT])
    tests = experiment_runs("range_test")
    run = tests[default_range_test(tests)] if tests else None
    suggestion = read_suggestion(run)[0] if run is not None else None
    return Bounds(*suggested_bounds(suggestion, run))


def suggested_bounds(suggestion, run) -> tuple[float, float, str]:
    """(lr_min, lr_max, where they come from) when the user does not override them."""
    if suggestion is not None:
        return suggestion.lr_min, suggestion.lr_max, f"suggested by the range test {tables.run_label(run)}"
    return (*experiments.CLR_FALLBACK_BOUNDS, "the catalogue's fallback (no range test read)")


def read_suggestion(run):
    """(suggestion, None), or (None, why the run cannot be read yet)."""
    batches = run.batches()
    if batches.empty or "lr" not in batches:
        return None, "it has no batch records yet"
    try:
        # Smith's rule on the same prepared curve as every other rule below (spikes, NaNs handled).
        return lr_finder_rules.smith_from_records(batches["lr"], batches["loss"]), None
    except ValueError as err:
        return None, str(err)


def suggestion_marks(suggestion, bounds: Bounds) -> dict:
    marks = {}
    if suggestion is not None:
        marks = {"lr_min": suggestion.lr_min, "lr_max": suggestion.lr_max}
    if suggestion is None or (bounds.lr_min, bounds.lr_max) != (suggestion.lr_min, suggestion.lr_max):
        marks.update({"your lr_min": bounds.lr_min, "your lr_max": bounds.lr_max})
    return marks


def bounds_ui(suggestion, run, why_not: str) -> Bounds:
    """lr_min and lr_max: the suggestion, unless the user overrides it."""
    if suggestion is not None:
        st.success(f"**Suggested: lr_min = {suggestion.lr_min:.3g}, lr_max = {suggestion.lr_max:.3g}** "
                   f"(read from {tables.run_label(run)}). {suggestion.explanation}")
    elif run is not None:
        st.warning(f"No suggestion from {tables.run_label(run)}: {why_not.rstrip('.')}.")
    *default, source = suggested_bounds(suggestion, run)
    override = st.toggle("Override the suggestion", key="rt_override",
                         help="Type your own lr_min and lr_max; the CLR and batch-growth tabs use them.")
    if not override:
        st.session_state["rt_lr_min"], st.session_state["rt_lr_max"] = default
    left, right = st.columns(2)
    lr_min = left.number_input("lr_min (base_lr of the CLR run)", min_value=0.0, step=1e-4, format="%.3e",
                               key="rt_lr_min", disabled=not override)
    lr_max = right.number_input("lr_max (max_lr of the CLR run, the fixed rate of batch growth)", min_value=0.0,
                                step=1e-3, format="%.3e", key="rt_lr_max", disabled=not override)
    if override:
        source = "your override"
    if not lr_min < lr_max:
        st.error(f"lr_min ({lr_min:g}) must be below lr_max ({lr_max:g}): a cycle needs room to move.")
    st.caption(f"The CLR and batch-growth tabs use lr_min = {lr_min:.3g} and lr_max = {lr_max:.3g} ({source}).")
    return keep_bounds(Bounds(lr_min, lr_max, source))


def draw_range_test(source: str, path: str, marks: dict):
    found = reread([(source, path)])
    if not found:
        st.info("This range test is gone (deleted).")
        return
    run = found[0]
    rerun_if_activity_changed("range_test")
    spec = range_test_spec(run_versions.run_version(run), tuple(marks.items()), run)
    if spec is None:
        st.info(f"{tables.run_label(run)} has no batch records yet: the first points appear after a few batches.")
        return
    charts.draw_spec(spec, key="rt_chart")
    st.caption(curves.runs_caption([run], "Training loss per logged batch (window mean since the previous "
                                          "record) against its learning rate")
               + " Red lines: the suggested bounds (and yours when you override them).")
    draw_provenance([run])


# Built once per range test and bounds (Altair takes half a second over the test's batches), again
# only when the run's files change (dlcore.engine.run_versions).
@st.cache_data(max_entries=16, show_spinner=False)
def range_test_spec(version: tuple, marks: tuple, _run) -> dict | None:
    """The range test's chart (curves.range_test_chart) as a spec with its data; None without batch records."""
    batches = tables.batches_frame([_run])
    if batches.empty:
        return None
    suggestion, _ = read_suggestion(_run)
    curve = tables.range_test_curve_frame(suggestion, batches)
    return charts.spec_with_tables(curves.range_test_chart(batches, curve, dict(marks)), {})


def draw_all_rules(source: str, path: str):
    """valley, steep, minimum, slide and Smith's rule on one range test, each with its band."""
    found = reread([(source, path)])
    if found:
        draw_range_test_rules(found[0], experiment_runs("range_test"))


# ------------------------------------------------------------------ CLR run
def clr_section(bounds: Bounds):
    """CLR run: exp_range between lr_min and lr_max, batch 64, to convergence (patience rule)."""
    st.subheader("CLR run: exp_range between lr_min and lr_max")
    full_epochs, step_epochs, gamma = experiments.CLR_SIZES["full"]
    st.markdown(
        f"MiniGoogLeNet on Fashion-MNIST, batch 64, SGD with momentum 0.9, the rate cycling with **exp_range** "
        f"(the amplitude shrinks by γ every iteration, γ = {gamma} in the full preset, half a cycle = "
        f"{step_epochs:g} epochs). **Start** below launches it between lr_min = {bounds.lr_min:.3g} and "
        f"lr_max = {bounds.lr_max:.3g} ({bounds.source}); each run shown further down says what it ran with.\n\n"
        f"**Stop rule (\"to convergence\"):** the run stops when the validation loss has not improved for "
        f"{experiments.CLR_PATIENCE} epochs in a row, and after at most {full_epochs} epochs in the full preset "
        f"({experiments.CLR_SIZES['class'][0]} in the class preset)."
    )
    full = experiments.clr_bounds("full")
    st.markdown(f"**The full-preset run** (`python -m dlcore.run clr --preset full`, and the cached one when "
                f"there is one) cycles between lr_min = {full.lr_min:.3g} and lr_max = {full.lr_max:.3g}: "
                f"{full.source}.")
    draw_flash("clrrun")
    with st.expander("Start a CLR run with these bounds", icon=":material/play_arrow:", expanded=True):
        preset = preset_ui("clrrun_preset")
        try:
            specs = experiments.clr_runs(preset, bounds.lr_min, bounds.lr_max)
        except experiments.SpecError as err:
            st.error("This CLR run cannot be built: " + "; ".join(err.problems))
        else:
            draw_launch(specs, "clrrun", "the CLR run")
    clr_runs = experiment_runs("clr")
    if not clr_runs:
        st.info("**No CLR run yet.** Start one above, or ship the cached one with "
                "`python -m dlcore.run clr --preset class`.")
        return
    shown = choose_runs_ui(clr_runs, "CLR runs to show", "clrrun_show")
    if shown:
        watch(draw_clr_runs, "clr", [(r.source, str(r.path)) for r in shown])


def draw_clr_runs(keys):
    shown = reread(keys)
    rerun_if_activity_changed("clr")
    # What each run shown really ran with, from its own spec (not the bounds a new run would get).
    for run, label in zip(shown, tables.run_labels(shown)):
        st.markdown(f"**{label}** ran {tables.training_setup(run)}.")
    epochs, batches = tables.epochs_frame(shown), tables.batches_frame(shown)
    if epochs.empty:
        st.info("No finished epoch yet: the batch loss below streams within the epoch.")
    else:
        left, right = st.columns(2)
        left.altair_chart(curves.train_val_curves(epochs, "loss", view="clr_loss"), key="clrrun_loss")
        right.altair_chart(curves.train_val_curves(epochs, "accuracy", view="clr_accuracy"), key="clrrun_acc")
    if not batches.empty:
        altair_chart(curves.loss_vs_step(batches, "lr", view="clr_lr"), key="clrrun_lr")
    st.caption(curves.runs_caption(shown, "Training and validation (test-set) loss and accuracy per epoch, and "
                                          "the learning rate the optimizer used per logged batch,"))
    draw_provenance(shown)
    draw_claims(["clr"], shown)
    if any(r.preset != "full" for r in shown):
        st.info(SHORT_RUN_NOTE)


# ----------------------------------------------------------- Batch growth
class GrowthChoice(NamedTuple):
    preset: str
    k: int
    max_micro_batch: int


def batch_growth_section(bounds: Bounds):
    """Batch growth run: lr fixed at lr_max, batch ×2 every k updates, accumulation past the memory limit."""
    st.subheader("Growing the batch at a fixed rate")
    st.markdown(
        f"Smith, Kindermans, Ying & Le (2018): instead of decaying the rate, keep it at **lr_max = "
        f"{bounds.lr_max:.3g}** ({bounds.source}) and **double the batch**, 32 → 16384, every k updates. "
        "A bigger batch averages out more gradient noise, as a smaller rate would."
    )
    st.markdown(schedules.ACCUMULATION_MECHANISM)
    draw_flash("growth")
    with st.expander("Start a batch-growth run", icon=":material/play_arrow:", expanded=True):
        choice = growth_ui()
        try:
            specs = experiments.batch_growth_runs(choice.preset, bounds.lr_max, choice.k, choice.max_micro_batch)
        except experiments.SpecError as err:
            st.error("This batch-growth run cannot be built: " + "; ".join(err.problems))
        else:
            draw_growth_plan(specs[0], choice)
            draw_launch(specs, "growth", "the batch-growth run")
    growth_runs = experiment_runs("batch_growth")
    if not growth_runs:
        st.info("**No batch-growth run yet.** Start one above, or ship the cached one with "
                "`python -m dlcore.run batch_growth --preset class`.")
    else:
        shown = choose_runs_ui(growth_runs, "Batch-growth runs to show", "growth_show")
        if shown:
            watch(draw_growth_runs, "batch_growth", [(r.source, str(r.path)) for r in shown])
    comparison_section(growth_runs, experiment_runs("clr"))


def growth_ui() -> GrowthChoice:
    preset = preset_ui("growth_preset")
    start, stop, k, micro = experiments.BATCH_GROWTH_SIZES[preset]
    left, right = st.columns(2)
    # One key per preset, so each preset opens on its own default k and memory limit.
    k = left.number_input(f"k: updates between two doublings (batch {start} → {stop})", min_value=1,
                          max_value=100_000, value=k, step=1, key=f"growth_k_{preset}")
    max_micro = right.select_slider(
        "memory limit: largest micro-batch", options=sorted({*schedules.MICRO_BATCH_LIMITS, micro}), value=micro,
        key=f"growth_micro_{preset}", help="Batches above this are built by accumulating equal micro-batches.")
    return GrowthChoice(preset, int(k), int(max_micro))


def draw_growth_plan(spec, choice: GrowthChoice):
    s = spec.schedule
    plan = schedules.batch_growth_plan(choice.k, choice.max_micro_batch, s["start"], s["stop"], s["factor"],
                                       n_train=experiments.fashion_train_size(choice.preset))
    draw_table(plan, {"epochs in phase": "{:.2f}"})
    st.caption(f"dlcore.core.schedules.batch_growth_plan for this run: one phase (one \"epoch\" of the run, with a "
               f"test evaluation) per batch size; epochs count the {experiments.fashion_train_size(choice.preset):,} "
               f"training images of the {choice.preset} preset.")


def draw_growth_runs(keys):
    shown = reread(keys)
    rerun_if_activity_changed("batch_growth")
    batches = tables.batches_frame(shown)
    if batches.empty:
        st.info("No batch records yet: the first points appear after the first micro-batches.")
        return
    altair_chart(curves.metric_vs_batch_size(batches, "loss", view="growth_loss"), key="growth_chart")
    st.caption(curves.runs_caption(shown, "Training loss per logged micro-batch against the batch size in force "
                                          "(the effective, accumulated batch),"))
    draw_provenance(shown)


def comparison_section(growth_runs, clr_runs):
    st.markdown("#### Does the grown batch generalize like the CLR run?")
    if not growth_runs or not clr_runs:
        st.info("The comparison needs a batch-growth run and a CLR run (live or cached).")
        return
    growth_labels, clr_labels = tables.run_labels(growth_runs), tables.run_labels(clr_runs)
    left, right = st.columns(2)
    g = left.selectbox("Batch-growth run", range(len(growth_runs)), index=default_run(growth_runs),
                       format_func=growth_labels.__getitem__, key="growth_compare_growth")
    match = generalization.matching_run(growth_runs[g], clr_runs)
    c = right.selectbox("CLR run", range(len(clr_runs)), index=clr_runs.index(match),
                        format_func=clr_labels.__getitem__, key="growth_compare_clr")
    table = generalization.comparison_table({growth_labels[g]: growth_runs[g], clr_labels[c]: clr_runs[c]})
    if not table.empty:
        draw_table(table, {"test accuracy": "{:.1%}", "test loss": "{:.4f}", "training loss": "{:.4f}",
                           "test − training loss": "{:+.4f}", "updates": "{:.0f}"}, shared_once=True)
    points = generalization.generalization_points(growth_runs[g], clr_runs[c])
    st.markdown("\n".join(f"- {point}" for point in points))
    draw_clock_comparison([growth_runs[g], clr_runs[c]])
    if growth_runs[g].preset != "full" or clr_runs[c].preset != "full":
        st.info(SHORT_RUN_NOTE)
    st.caption(curves.runs_caption([growth_runs[g], clr_runs[c]], "Final test numbers (last epoch record, "
                                                                  "dlcore.results.generalization)"))


@st.fragment
def draw_clock_comparison(pair):
    """The batch-growth and CLR runs against one clock, the x-axis chosen here (updates by default)."""
    st.markdown("**The same two runs against another clock.** Smith, Kindermans, Ying & Le (2018) compare "
                "growing the batch with decaying the rate per epoch, per optimizer update and in wall-clock "
                "time: a grown batch does the same number of epochs in fewer, larger updates. Pick the x-axis.")
    choice = axis_ui("growth_compare_axis", default="updates")
    draw_batch_curves(pair, "loss", choice, "growth_compare_loss")
    draw_epoch_curves(pair, "val_accuracy", choice, "growth_compare_val", error=True)


main()
