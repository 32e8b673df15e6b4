"""Runs: every training run, live and cached; open one, watch it learn, compare several.

Reads top to bottom like a lab notebook: start a run, see every run in one
table, open one (its curves, where its numbers come from, cancel/resume/delete),
then put several on one chart. Everything a run is lives on disk (dlcore.engine.runs,
dlcore.engine.jobs), so any tab and any restart of the app see the same runs. The
parts that show a running run sit in `st.fragment(run_every=…)`: they redraw
every couple of seconds without rerunning the rest of the page, and stop once
nothing they show is running. This page only lays out widgets; the frames,
charts and captions come from dlcore.charts.curves, tables from dlcore.results.tables.
"""
import functools

import pandas as pd
import streamlit as st

from dlcore.engine import experiments, jobs, run_versions, runs
from dlcore.results import full_run_progress, health, tables
from dlcore.charts import curves
from ui.charts import draw_spec, spec_with_tables
from ui.tables import PERCENT, draw_table
from ui.dataset_gate import dataset_gate
from ui.claims import draw_claims
from ui.x_axis import axis_ui, draw_epoch_curves

REFRESH_S = 2.0
EXPERIMENT_TITLES = {
    "mlp_l2": "Problem 1.2 · MLP with L2, the five methods",
    "mlp_dropout": "Problem 1.3 · MLP with dropout, the five methods",
    "range_test": "Problem 2.1 · LR range test (MiniGoogLeNet, Fashion-MNIST)",
    "clr": "Problem 2.2 · cyclical LR, exp_range (MiniGoogLeNet, Fashion-MNIST)",
    "resnet": "Problem 4.2 · ResNet-44 with He et al.'s augmentation",
    "batch_augmentation": "Problem 4.3 · batch augmentation, M = 2, 4, 8, 16",
    "batch_growth": "Problem 2.3 · fixed LR, growing batch (MiniGoogLeNet, Fashion-MNIST)",
}
PRESET_CAPTIONS = {
    "smoke": "seconds, tiny synthetic data: checks the machinery",
    "class": "minutes on a laptop CPU, real data, shortened",
    "full": "exactly the homework: hours on a CPU",
}


def main():
    st.title("Runs")
    st.markdown(
        "Every training run, **live** (started from this app, in `runs/`) and **cached** "
        "(full-length results shipped in `cached_runs/`). A run trains in its own process: "
        "switching pages or closing the tab does not stop it."
    )
    draw_flash()
    start_run_ui()

    all_runs = list_all_runs()
    if not all_runs:
        draw_empty_state()
        return
    # Remember what is running, so a live fragment notices when that changes.
    st.session_state["runs_active"] = active_ids(all_runs)

    st.subheader("All runs")
    st.fragment(draw_runs_table, run_every=refresh(all_runs))()

    st.subheader("Full-length runs: how far each has got")
    draw_full_run_progress()

    st.subheader("Open a run")
    open_run_section(all_runs)

    st.subheader("Compare runs")
    compare_section(all_runs)


# Each section reruns alone when its own menu changes; the parts that show a running run
# also redraw themselves every REFRESH_S seconds.
@st.fragment
def open_run_section(all_runs):
    chosen = open_run_ui(all_runs)
    st.fragment(draw_run, run_every=refresh([chosen]))(chosen.source, str(chosen.path))


@st.fragment
def compare_section(all_runs):
    compared = compare_ui(all_runs, opened_run(all_runs))
    if compared:
        st.fragment(draw_comparison, run_every=refresh(compared))([(r.source, str(r.path)) for r in compared])
    else:
        st.info("Choose at least one run to compare.")


# --- Reading runs (all on disk) ---------------------------------------------------------------

def list_all_runs() -> list:
    """Live runs first (the queue pumped), then cached ones; damaged ones too, so they can be deleted."""
    return jobs.live_runs(include_damaged=True) + runs.list_runs(include_live=False, include_damaged=True)


def active_ids(runs_list) -> set:
    return {str(r.path) for r in runs_list if r.state in runs.ACTIVE}


def refresh(runs_list):
    """Redraw every REFRESH_S seconds while something shown is queued or running."""
    return REFRESH_S if active_ids(runs_list) else None


def rerun_if_activity_changed(shown):
    """A run shown live has ended (or a queued one started): rerun the whole page once,
    so the fragments stop (or start) refreshing and the table and menus catch up."""
    was_active = st.session_state.get("runs_active", set()) & {str(r.path) for r in shown}
    if active_ids(shown) != was_active:
        st.rerun()


def reread(keys) -> list:
    found = [runs.read_run(path, source) for source, path in keys]
    return [r for r in found if r is not None]


# --- Computed from runs, cached (st.cache_data) under the runs' versions ---------------------
# (dlcore.engine.run_versions: the sizes and modification times of their files.) A page rerun,
# another run opened, or a live fragment's refresh recomputes only what a changed file changes;
# the health of 37 runs alone took half a second to judge on every rerun. The runs themselves go
# in unhashed (a leading _): their version is the key.

@st.cache_data(max_entries=8, show_spinner=False)
def runs_table(version: tuple, _runs_list) -> pd.DataFrame:
    return tables.runs_table(_runs_list).rename(columns={"id": "folder"})


@st.cache_data(max_entries=64, show_spinner=False)
def run_status(version: tuple, _run) -> tuple:
    """(the run's display row, its health verdict)."""
    return tables.run_row(_run), health.of_run(_run)


@st.cache_data(max_entries=64, show_spinner=False)
def run_curve_specs(version: tuple, _run) -> dict:
    """The opened run's charts as Vega-Lite specs with their data (ui.charts.spec_with_tables), by name;
    {} when it has no metrics yet."""
    epochs, batches = tables.epochs_frame([_run]), tables.batches_frame([_run])
    specs = {}
    if not epochs.empty:
        specs["loss"] = spec_with_tables(curves.train_val_curves(epochs, "loss"), {})
        specs["accuracy"] = spec_with_tables(curves.train_val_curves(epochs, "accuracy"), {})
    if not batches.empty:
        specs["steps"] = spec_with_tables(curves.loss_vs_step(batches), {})
    return specs


@st.cache_data(max_entries=16, show_spinner=False)
def epochs_frame(version: tuple, _runs_list) -> pd.DataFrame:
    return tables.epochs_frame(_runs_list)


@st.cache_data(max_entries=16, show_spinner=False)
def comparison_spec(version: tuple, metric: str, error: bool, dashed: bool, _runs_list) -> dict:
    chart = curves.metric_vs_epoch(epochs_frame(version, _runs_list), metric, error=error, dashed_cached=dashed)
    return spec_with_tables(chart, {})


@st.cache_data(max_entries=4, show_spinner=False)
def full_run_progress_table(version: tuple, experiment_names) -> pd.DataFrame:
    return full_run_progress.full_run_progress(experiment_names)


# --- Messages -------------------------------------------------------------------------------

def flash(kind: str, text: str):
    """Show `text` after the page reruns (a button's effect outlives the rerun it causes)."""
    st.session_state["runs_flash"] = (kind, text)
    st.rerun()


def draw_flash():
    kind, text = st.session_state.pop("runs_flash", (None, None))
    if kind:
        getattr(st, kind)(text)


def draw_empty_state():
    st.info(
        "**No runs yet.** Open **Start a run** above, pick an experiment and the `smoke` preset "
        "(seconds, no data set needed) and press **Start**: the run appears here and its curves "
        "stream in while it trains. Cached full-length results appear here too once "
        "`cached_runs/` holds them."
    )


# --- Start a run ----------------------------------------------------------------------------

def start_run_ui():
    with st.expander("Start a run", icon=":material/play_arrow:"):
        left, right = st.columns([3, 2])
        with left:
            experiment = st.selectbox("Experiment", list(experiments.CATALOGUE),
                                      format_func=lambda e: EXPERIMENT_TITLES.get(e, e), key="runs_start_experiment")
        with right:
            preset = st.radio("Preset", experiments.PRESETS, index=experiments.PRESETS.index("smoke"),
                              captions=[PRESET_CAPTIONS[p] for p in experiments.PRESETS], horizontal=True,
                              key="runs_start_preset")
        if preset == "full":
            st.warning(
                "The **full** preset is exactly what the homework asks: on this app's 2 CPU cores it "
                "takes **hours** per run (days for ResNet-44). Show the cached result instead, or run "
                "it on a GPU machine."
            )
        try:
            specs = experiments.catalogue(experiment, preset)
        except experiments.SpecError as err:
            st.error(f"This experiment cannot be built: {err}")
            return
        draw_table(tables.specs_table(specs), shared_once=True)
        st.caption(experiments.time_estimate(specs))
        ready = dataset_gate(specs, key="runs_data")
        st.caption(f"At most {jobs.max_running()} run(s) train at once; the others wait in a queue.")
        if st.button(f"Start {len(specs)} run(s)", type="primary", disabled=not ready, key="runs_start"):
            start_runs(specs)


def start_runs(specs):
    _, error = jobs.start_many(specs)
    if error:
        st.error(error)
    else:
        flash("success", f"Started {len(specs)} run(s): {', '.join(s.label for s in specs)}.")


# --- The table of every run -----------------------------------------------------------------

NOTES_SHOWN = 60  # characters of a run's notes in the list of all runs
# The list of all runs in two tables, so that each stays whole at 1024 px: how each run is
# doing, and (in an expander) where and how fast it ran. A run's label already says its preset
# and whether it is cached ("mlp_l2/adam (full, cached)").
STATUS_COLUMNS = ["run", "state", "progress", "epoch", "ETA", "val accuracy", "flag", "notes"]
DETAIL_COLUMNS = ["run", "preset", "wall-clock", "images/s", "hardware", "started", "warnings", "folder"]


def draw_runs_table():
    all_runs = list_all_runs()
    rerun_if_activity_changed(all_runs)
    # Static tables: every column stays on screen at 1024 px (a data grid scrolled the notes away).
    table = runs_table(run_versions.versions(all_runs), all_runs)
    # A preset's notes run to a paragraph, which squeezed the column to one word a line and every
    # row to a screen's height: the list shows their start, the opened run shows them whole.
    # A damaged row keeps all of its notes: they say what is wrong.
    long = (table["state"] != "damaged") & (table["notes"].str.len() > NOTES_SHOWN)
    table.loc[long, "notes"] = table.loc[long, "notes"].str.slice(0, NOTES_SHOWN).str.rstrip() + " … (open the run)"
    draw_table(table[STATUS_COLUMNS], {"progress": PERCENT, "val accuracy": PERCENT})
    st.caption("Flag: diverged (a loss that is not a number), loss exploded (test loss far above ln 10) or at "
               "chance (accuracy ≈ 10 %): open the run for the likely cause. Live runs first, then cached ones "
               "(their label says \"cached\"). A shortened preset says so in its preset and notes; "
               "ETA is from the mean of the last three epochs.")
    with st.expander("Preset, wall-clock, speed, hardware, date and folder of every run"):
        draw_table(table[DETAIL_COLUMNS], {"images/s": "{:.0f}"})
        st.caption("images/s: training images per second (median over epochs); started: the day the run "
                   "started (or was queued); warnings: unreadable lines in its files; folder: its run folder.")


def draw_full_run_progress(experiment_names=None, key="full_progress"):
    """Every full run of the homework, from cached_runs/: epochs done of planned, best test accuracy."""
    draw_table(full_run_progress_table(run_versions.tree_version(runs.cached_root()), experiment_names),
               {"fraction done": PERCENT, "best test accuracy": PERCENT})
    st.caption("The full runs are trained on lent GPU machines, a lease at a time (README, \"Full-length runs "
               "on a lent GPU machine\"). A run cut short keeps the checkpoint of its last finished epoch in "
               "cached_runs/ and continues on the next machine; `python -m dlcore.run all --preset full` "
               "continues whatever is unfinished (dlcore.results.full_run_progress).")


# --- One run --------------------------------------------------------------------------------

def first_run_shown(all_runs) -> int:
    """What the menu opens on: what is training, if anything is (that is what a class watches);
    else the newest finished full-length run (a result worth showing); else the first."""
    active = [i for i, r in enumerate(all_runs) if r.state in runs.ACTIVE]
    if active:
        return active[0]
    finished = [(str(r.status.get("ended") or ""), i) for i, r in enumerate(all_runs)
                if r.state == "finished" and r.preset == "full" and not r.damaged]
    return max(finished)[1] if finished else 0


def opened_run(all_runs):
    """The run the Open menu shows (it may not have been drawn yet in this session)."""
    by_path = {str(r.path): r for r in all_runs}
    return by_path.get(st.session_state.get("runs_open"), all_runs[first_run_shown(all_runs)])


def open_run_ui(all_runs):
    by_path = {str(r.path): r for r in all_runs}
    labels = dict(zip(by_path, tables.run_labels(all_runs)))
    # (Labels only: a state in them would go stale while a fragment redraws the run below.)
    path = st.selectbox("Run", list(by_path), index=first_run_shown(all_runs), format_func=labels.get,
                        key="runs_open")
    return by_path[path]


def draw_run(source: str, path: str):
    found = reread([(source, path)])
    if not found:
        st.info("This run is gone (deleted).")
        return
    run = found[0]
    rerun_if_activity_changed([run])
    draw_run_status(run)
    if run.damaged:
        st.error("This run folder is damaged, so nothing is computed from it:\n\n"
                 + "\n".join(f"- {p}" for p in run.problems))
    else:
        draw_run_curves(run)
        draw_claims([run.spec.get("experiment")], [run])
    actions_ui(run)
    draw_provenance(run)


def draw_run_status(run):
    row, verdict = run_status(run_versions.run_version(run), run)
    st.progress(row["progress"], text=f"{run.title} · {row['state']} · epoch {row['epoch']}")
    cols = st.columns(4)
    cols[0].metric("ETA", row["ETA"] or None)
    cols[1].metric("wall-clock", row["wall-clock"] or None)
    cols[2].metric("images/s", row["images/s"], format="%.0f")
    cols[3].metric("hardware", row["hardware"])
    if run.status.get("error"):
        st.error(f"This run failed: {run.status['error']}")
    if verdict.failed:
        st.error(f"**{verdict.kind.capitalize()}**: {verdict.reason}. Likely cause: {verdict.cause}.",
                 icon=":material/warning:")
    if run.status.get("reason"):
        st.info(f"Stopped early: {run.status['reason']}")
    if row["notes"]:
        st.caption(row["notes"])
    for warning in run.warnings:
        st.warning(f"{warning}")


def draw_run_curves(run):
    specs = run_curve_specs(run_versions.run_version(run), run)
    if not specs:
        st.info("No metrics yet: the first points appear after a few batches.")
        return
    key = run.path.name
    left, right = st.columns(2)
    if "loss" in specs:
        with left:
            draw_spec(specs["loss"], key=f"runs_loss_{key}")
        with right:
            draw_spec(specs["accuracy"], key=f"runs_accuracy_{key}")
    else:
        st.info("No finished epoch yet: the batch curve below streams within the epoch.")
    if "steps" in specs:
        draw_spec(specs["steps"], key=f"runs_steps_{key}")
    st.caption(curves.runs_caption([run], "Training and validation curves (per epoch) and batch loss (each "
                                          "point the mean over the batches since the previous one)"))


def actions_ui(run):
    if run.source != "live":
        st.caption("Cached runs are shipped with the app: they cannot be cancelled, resumed or deleted here.")
    cols = st.columns(4)
    live = run.source == "live"
    if live and run.state in runs.ACTIVE and cols[0].button("Cancel", icon=":material/stop:", key="runs_cancel"):
        jobs.cancel(run.run_id)
        flash("info", f"Cancel asked for {run.title}: it stops after its current batch and keeps every "
                      "finished epoch.")
    if live and run.state in ("cancelled", "failed") and cols[0].button("Resume", icon=":material/replay:",
                                                                        key="runs_resume"):
        try:
            jobs.resume(run.run_id)
        except ValueError as err:
            st.error(str(err))
        else:
            flash("success", f"Resumed {run.title} from its last checkpoint.")
    # The CSV is written when the button is pressed (Streamlit calls the function then): every record
    # of a full run takes longer than the rest of opening it.
    cols[1].download_button("Metrics as CSV", functools.partial(tables.metrics_csv, run), file_name=f"{run.path.name}.csv",
                            mime="text/csv", icon=":material/download:", on_click="ignore", key="runs_csv")
    if live and run.state not in runs.ACTIVE:
        sure = cols[2].checkbox("Yes, delete this run", key=f"runs_delete_sure_{run.path.name}")
        if cols[3].button("Delete", icon=":material/delete:", disabled=not sure, key="runs_delete"):
            try:
                jobs.delete(run.run_id)
            except (ValueError, OSError) as err:
                st.error(f"Could not delete: {err}")
            else:
                flash("success", f"Deleted {run.title} ({run.run_id}).")


def draw_provenance(run):
    with st.expander("Provenance: where these numbers come from", expanded=run.state not in runs.ACTIVE):
        st.table(tables.provenance_table(run), hide_index=True, hide_header=True)
        left, right = st.columns(2)
        left.markdown("**spec.json**")
        left.json(run.spec, expanded=False)
        right.markdown("**provenance.json**")
        right.json(run.provenance, expanded=False)


# --- Several runs on one chart --------------------------------------------------------------

def compare_ui(all_runs, chosen):
    readable = [r for r in all_runs if not r.damaged]
    by_path = {str(r.path): r for r in readable}
    labels = dict(zip(by_path, tables.run_labels(readable)))
    paths = st.multiselect("Runs to compare", list(by_path), default=[str(chosen.path)] if not chosen.damaged else [],
                           format_func=labels.get, key="runs_compare")
    return [by_path[p] for p in paths]


def draw_comparison(keys):
    compared = reread(keys)
    rerun_if_activity_changed(compared)
    version = run_versions.versions(compared)
    frame = epochs_frame(version, compared)
    metrics = tables.available_metrics(frame)
    if not metrics:
        st.info("None of these runs has finished an epoch yet.")
        return
    left, middle, right = st.columns([2, 1, 1])
    metric = left.selectbox("Metric", metrics, format_func=curves.metric_title,
                            key="runs_compare_metric")
    error = middle.toggle("as error (1 − accuracy)", key="runs_compare_error",
                          disabled=metric not in curves.ERROR_TITLES)
    dashed = right.toggle("cached runs dashed", value=True, key="runs_compare_dashed")
    error = error and metric in curves.ERROR_TITLES
    axis = axis_ui("runs_compare_axis")
    if axis.x != "epoch" or axis.smoothing > 0:
        draw_epoch_curves(compared, metric, axis, "runs_compare_axis_chart", error=error)
    else:
        draw_spec(comparison_spec(version, metric, error, dashed, compared), key="runs_compare_chart")
    for sentence in health.flagged(compared, tables.run_labels(compared)):
        st.warning(sentence, icon=":material/warning:")
    st.caption(curves.runs_caption(compared, curves.metric_title(metric, error).capitalize() + " per epoch"))
    draw_claims(sorted({r.spec.get("experiment") for r in compared}), compared)


main()
