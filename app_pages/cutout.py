"""4 · Cutout and batch augmentation (SPEC Problem 4).

Three tabs, one per homework question:
1. the cutout gallery: CIFAR-10 test images before and after cutout, and the
   M copies batch augmentation makes of one of them (instant, no Keras);
2. the ResNet-44 baseline (He et al. Sec 4.2, `resnet_section()`) and
3. batch augmentation for M = 2…16 (Hoffer et al., `batch_augmentation_section()`):
   both launch background runs (dlcore.engine.jobs), watch them train and draw them
   with the cached runs of cached_runs/, one chart per preset so a shortened
   run is never shown as a full one.

All augmentation is `dlcore.core.augment`, the same code the training input
pipeline uses; this page only picks images, draws widgets and shows results.
Each tab's section is an `st.fragment`: a widget reruns its own tab only. Nothing
here imports Keras (the gallery must open instantly): parameter counts come from
dlcore.results.resnet_recipe's arithmetic, training happens in worker processes.
"""
import numpy as np
import pandas as pd
import streamlit as st
from PIL import Image

from dlcore.core import augment
from dlcore.results import tables
from dlcore.charts import curves
from ui.charts import altair_chart
from ui.tables import PERCENT, draw_table
from dlcore.results import full_run_progress, health, resnet_recipe, time_to_accuracy
from dlcore.engine import data, experiments, jobs, runs
from ui.dataset_gate import dataset_gate
from ui.lazy_tabs import lazy_tabs
from ui.claims import draw_claims
from ui.x_axis import axis_ui, draw_epoch_curves

# 32×32 pixels are too small to see; shown 4× larger, nearest neighbour so
# the mask's edges stay sharp.
UPSCALE = 4
M_CHOICES = (2, 4, 8, 16)
DEFAULT_CLASSES = ("cat", "dog", "horse", "ship")
FILL_MEAN = "Data-set mean colour (what the network sees)"
FILL_BLACK = "Black (zeros on raw pixels)"
# Training sections: redraw this often while a run of theirs trains.
REFRESH_S = 2.0
PRESET_CAPTIONS = {
    "smoke": "seconds, tiny synthetic data: checks the machinery",
    "class": "minutes on this CPU, real data, shortened",
    "full": "the homework: hours on a GPU, days on a CPU",
}
PRESET_TITLES = {
    "full": "Full preset: what the homework asks",
    "class": "Class preset (shortened)",
    "smoke": "Smoke preset (synthetic data, checks the machinery only)",
}
SHORTCUT_LABELS = {"A": "A: identity, zero-padded (He et al.)", "B": "B: 1×1 projection (the notebook)"}
CURVES = {"val_accuracy": "validation error", "accuracy": "training error", "loss": "training loss"}
CURVE_SOURCES = {
    "val_accuracy": "Validation error (1 − test accuracy, on the original test images)",
    "accuracy": "Training error (1 − accuracy on the augmented training batches, mean over the epoch)",
    "loss": "Training loss (cross-entropy plus weight decay, mean over the epoch)",
}
TABLE_COLUMNS = ["M", "run", "reports", "epochs", "wall-clock", "test accuracy", "images/s", "hardware",
                 "backend", "date", "state"]

INTRO = """
**Problem 4.** Cutout (DeVries & Taylor, 2017) blanks a square of each
training image; batch augmentation (Hoffer et al., 2019) puts M differently
augmented copies of every sample into the same batch. Below: what cutout does
to real CIFAR-10 images, then ResNet-44 with the standard augmentation of He
et al. (2016), then the same network with batch augmentation for M = 2, 4, 8, 16.
"""

CUTOUT_EXPLAINED = """
**What cutout is.** Each time a training image is used, one square of fixed
side *s* (16 × 16 pixels for CIFAR-10 in the paper) is blanked out at a random
place. The square's centre is drawn uniformly over *all* pixels, so near a
border part of the square falls outside the image and less is hidden: a
16 × 16 square hides 25 % of a 32 × 32 image when it lies fully inside, but
only 19.1 % on average. The square is applied to the normalised image and set
to zero there, which is the data set's mean: the hidden pixels carry no
information rather than a strong black patch. Test images are left whole.

**Why it regularises conv nets better than dropout.**
- *Dropout on a feature map barely removes anything.* Neighbouring activations
  of a convolutional layer look at overlapping patches and are strongly
  correlated; zeroing single units at random leaves their neighbours carrying
  nearly the same information, so the next layer hardly notices. (Conv layers
  also have few weights per activation, so they need less of this kind of
  regularisation in the first place.)
- *A contiguous hole removes a whole feature.* Blanking a region takes away
  an eye, a wheel, a wing, in every channel at once, and because it happens at
  the input the hole travels through every layer. The network cannot rely on
  the single most telling part of the object; it has to use the whole context,
  which is what makes it robust to occlusion.
- *It is cheap and composes.* It is data augmentation: done on the input,
  per batch, with no change to the model, and it works together with
  cropping, flipping, batch norm and dropout.
"""

BATCH_AUGMENTATION_EXPLAINED = """
**Batch augmentation.** Instead of one augmented view per sample, a batch of
B samples carries M views of each (its own crop, flip and cutout square), so
a step computes the gradient over M·B images that share only B labels.
Hoffer et al. found that this reaches a given accuracy in fewer epochs. The
copies are made per batch, on the fly: the seed notebook built all M copies
of the training set up front (800,000 images for M = 16).
"""


RESNET_EXPLAINED = """
**ResNet-44 on CIFAR-10 (He et al. 2016, Sec 4.2).** A ResNet v1 for CIFAR has
6n + 2 layers; n = 7 gives 44: one 3×3 convolution, three stages of n residual
blocks (two 3×3 convolutions each) with 16, 32 and 64 filters on 32×32, 16×16
and 8×8 maps, then global average pooling and a 10-way softmax. Each block adds
its input back to its output through a shortcut. Where a stage halves the map
and doubles the width the shortcut must change shape: **option A** subsamples
and pads the new channels with zeros (no parameters; what He et al. used on
CIFAR-10), **option B** uses a 1×1 convolution (what the notebook's keras-io
code does). Training uses the pad-crop-flip augmentation shown in the gallery;
testing uses the original images.
"""

BATCH_RUNS_EXPLAINED = """
**Batch augmentation runs.** The same ResNet-44 and recipe, but every batch
of 64 samples carries M copies of each: 64·M images, each copy with its own
pad, crop and flip (the usual augmentation, as Hoffer et al. apply it) **plus
its own 16×16 cutout square** (DeVries & Taylor's size for CIFAR-10). An epoch
therefore costs about M times the computation of a plain one, but takes the same
number of steps. The homework's question: does it reach 92 % test accuracy in
fewer epochs, and in less wall-clock time? At most 100 epochs; a run stops as
soon as it reaches 92 %.
"""


@st.cache_resource(show_spinner="Loading CIFAR-10 from the local Keras cache…")
def cifar10_gallery() -> dict:
    """Test images to show, and the training set's mean colour as the fill (loaded once)."""
    (x_train, _), (x_test, y_test) = data.load_cifar10()
    return dict(x=x_test, y=y_test, mean_colour=augment.mean_colour(x_train),
                source="CIFAR-10 test set", synthetic=False)


def synthetic_gallery() -> dict:
    """Stand-in images with CIFAR-10's shape when the data set is not on this machine."""
    (x_train, _), (x_test, y_test) = data.synthetic("cifar10")
    return dict(x=x_test, y=y_test, mean_colour=augment.mean_colour(x_train),
                source="synthetic stand-in (random pixels, not CIFAR-10)", synthetic=True)


def gallery_data() -> tuple[dict, str | None]:
    """(images to show, a notice when they are synthetic)."""
    if not data.is_available("cifar10"):
        return synthetic_gallery(), (
            "CIFAR-10 is not in the local Keras cache on this machine, so the controls below "
            "work on **synthetic images** (random pixels around a colour per class, not photos). "
            "Put `cifar-10-batches-py/` under `~/.keras/datasets/` (or set `KERAS_HOME`) to see "
            "real images.")
    try:
        return cifar10_gallery(), None
    except data.DatasetUnavailable as err:
        return synthetic_gallery(), f"CIFAR-10 could not be loaded ({err}); showing **synthetic images**."


# ---------------------------------------------------------------- widgets

def image_picker_ui(gallery: dict) -> np.ndarray:
    """Indices of the images to show: one per chosen class, or random with a seed."""
    mode = st.radio("Pick images", ["By class", "At random"], horizontal=True, key="pick_mode")
    if mode == "By class":
        left, right = st.columns([3, 1])
        names = left.multiselect("Classes", data.CIFAR10_CLASSES, default=list(DEFAULT_CLASSES),
                                 max_selections=8, key="classes")
        nth = right.number_input("Image number within its class", 0, 999, 0, key="nth",
                                 help="The n-th test image of each class (the test set is sorted by class).")
        return augment.pick_by_class(gallery["y"], [data.CIFAR10_CLASSES.index(c) for c in names], nth)
    left, right = st.columns(2)
    count = left.slider("Number of images", 1, 8, 4, key="n_random")
    seed = right.number_input("Seed for picking", 0, 10_000, 0, key="pick_seed")
    return augment.pick_random(len(gallery["x"]), count, rng=np.random.default_rng(seed))


def cutout_ui() -> tuple[int, int, int, str]:
    """(mask side s in pixels, number of squares, seed, fill choice)."""
    c1, c2, c3, c4 = st.columns([2, 2, 1, 3])
    size = c1.slider("Mask size s (pixels)", 0, 32, 16, key="mask_size",
                     help="Side of the square; DeVries & Taylor use 16 for CIFAR-10.")
    count = c2.slider("Squares per image", 1, 4, 1, key="squares")
    seed = c3.number_input("Seed", 0, 10_000, 0, key="seed",
                           help="Draws the square centres (and the crops of the copies below).")
    fill = c4.radio("Masked pixels shown as", [FILL_MEAN, FILL_BLACK], key="fill")
    return size, count, seed, fill


def copies_ui(captions: list[str]) -> tuple[int, int]:
    """(which of the shown images to copy, M)."""
    left, right = st.columns([2, 3])
    which = left.selectbox("Image", range(len(captions)), format_func=lambda i: captions[i], key="copy_of")
    M = right.select_slider("M (copies per sample)", M_CHOICES, value=8, key="M")
    return which, M


# ---------------------------------------------------------------- drawing

def enlarged(image: np.ndarray) -> Image.Image:
    """A 32×32 image shown UPSCALE× larger with hard pixel edges."""
    h, w = image.shape[:2]
    return Image.fromarray(image).resize((w * UPSCALE, h * UPSCALE), Image.NEAREST)


def draw_image_row(images: np.ndarray, captions: list[str], per_row: int = 8) -> None:
    """Images side by side, `per_row` to a row."""
    for start in range(0, len(images), per_row):
        columns = st.columns(per_row)
        for column, image, caption in zip(columns, images[start:start + per_row], captions[start:start + per_row]):
            column.image(enlarged(image), caption=caption)


def draw_masked_table(captions: list[str], masks: np.ndarray, label: str) -> None:
    """Masked share of each image, counted from its mask."""
    table = pd.DataFrame({label: captions,
                          "masked pixels": augment.masked_pixels(masks),
                          "masked fraction": augment.masked_fraction(masks)})
    st.dataframe(table, hide_index=True,
                 column_config={"masked fraction": st.column_config.NumberColumn(format="percent")})


# ---------------------------------------------------------------- sections

@st.fragment
def gallery_section() -> None:
    st.markdown(CUTOUT_EXPLAINED)
    gallery, notice = gallery_data()
    if notice:
        st.warning(notice)

    st.subheader("Before and after cutout")
    picked = image_picker_ui(gallery)
    if len(picked) == 0:
        st.warning("Pick at least one class to see its images.")
        return
    size, count, seed, fill_choice = cutout_ui()
    fill = gallery["mean_colour"] if fill_choice == FILL_MEAN else 0
    prefix = "SYNTHETIC · " if gallery["synthetic"] else ""
    captions = [f"{prefix}{data.CIFAR10_CLASSES[gallery['y'][i]]} #{i}" for i in picked]

    images = gallery["x"][picked]
    masks = augment.cutout_masks(len(images), images.shape[1], images.shape[2], size, count,
                                 rng=np.random.default_rng(seed))
    after = augment.apply_masks(images, masks, fill)
    st.markdown("**Original**")
    draw_image_row(images, captions)
    st.markdown(f"**After cutout** ({count} × {size}×{size} square{'s' if count > 1 else ''}, seed {seed})")
    draw_image_row(after, captions)
    draw_masked_table(captions, masks, "image")
    st.caption(
        f"Images: {gallery['source']}. Masks drawn by `dlcore.core.augment.cutout_masks` with seed {seed}; "
        f"the fraction is counted from each mask. Expected on average for {count} square(s) of side {size} "
        f"with uniformly random centres: {augment.expected_masked_fraction(size, count):.1%} "
        "(exact, `augment.expected_masked_fraction`), less than s²/1024 because squares are clipped at the borders.")

    st.subheader("Batch augmentation: the M copies of one image")
    st.markdown(BATCH_AUGMENTATION_EXPLAINED)
    which, M = copies_ui(captions)
    copies, _, copy_masks = augment.batch_augment(
        images[which:which + 1], gallery["y"][picked[which:which + 1]], M,
        rng=np.random.default_rng(seed), cutout_size=size, cutout_count=count, fill=fill, return_masks=True)
    copy_captions = [f"copy {m + 1}" for m in range(M)]
    draw_image_row(copies, copy_captions)
    draw_masked_table(copy_captions, copy_masks, "copy")
    st.caption(
        f"{M} copies of {captions[which]} made by `dlcore.core.augment.batch_augment` (seed {seed}): each with its "
        "own 4-pixel pad and random 32×32 crop, horizontal flip with probability ½ (He et al. Sec 4.2) and "
        f"cutout square(s); padding uses the same fill as the masks. All {M} share the label "
        f"'{data.CIFAR10_CLASSES[gallery['y'][picked[which]]]}'.")


# ---------------------------------------------------------------- training: shared parts

def launch_ui(section: str) -> str:
    """The preset to run, with a warning when it would take hours here."""
    preset = st.radio("Preset", experiments.PRESETS, index=experiments.PRESETS.index("class"),
                      captions=[PRESET_CAPTIONS[p] for p in experiments.PRESETS], horizontal=True,
                      key=f"{section}_preset")
    if preset == "full":
        speed = experiments.speed_estimate("resnet", 50_000 * 100)
        st.warning("The **full** preset is what the homework asks: 50,000 images × up to 100 epochs, ×M "
                   "with batch augmentation. "
                   + (f"For M = 1, {speed}; M copies take M times as long. " if speed else
                      "No CPU speed of ResNet-44 has been measured here yet (benchmarks/class_presets.py). ")
                   + "Look at the cached full runs below, or run it on a GPU machine.")
    return preset


def start_ui(section: str, specs: list) -> None:
    """The runs a Start button would launch, what they need, and the button."""
    draw_table(tables.specs_table(specs), shared_once=True)
    st.caption(experiments.time_estimate(specs))
    ready = dataset_gate(specs, key=f"{section}_data")
    st.caption(f"Runs train in the background, at most {jobs.max_running()} at once (the others wait in a "
               "queue); cancel, resume or delete them on the **Runs** page.")
    if st.button(f"Start {len(specs)} run(s)", type="primary", disabled=not ready or not specs,
                 key=f"{section}_start"):
        _, error = jobs.start_many(specs)
        if error:
            st.error(error)
        else:
            st.success(f"Started {len(specs)} run(s): {', '.join(s.label for s in specs)}. "
                       "Their curves appear below after the first epoch.")


def section_runs(shown: tuple, shortcut: str | None) -> list:
    """Live runs (queue brought up to date) then cached ones of the experiments in `shown`;
    with `shortcut`, only ResNets with that shortcut option."""
    def wanted(run):
        model = run.spec.get("model") or {}
        return run.spec.get("experiment") in shown and (shortcut is None or model.get("shortcut", "A") == shortcut)

    return [r for r in jobs.live_runs() + runs.list_runs(include_live=False) if wanted(r)]


def by_preset(found: list) -> dict:
    """Runs grouped by preset, full first: a shortened run is never drawn among full ones."""
    groups = {p: [r for r in found if r.preset == p] for p in experiments.PRESETS}
    return {p: rs for p, rs in groups.items() if rs}


def training_now(found: list) -> list:
    """Live runs queued or training (a cached folder may say "running": it is not training here)."""
    return [r for r in found if r.source == "live" and r.state in runs.ACTIVE]


def active_ids(found: list) -> set:
    return {str(r.path) for r in training_now(found)}


def draw_section_runs(section: str, shown: tuple, shortcut: str | None, empty: str) -> None:
    """The runs of a section, redrawn every REFRESH_S seconds while one of them trains."""
    found = section_runs(shown, shortcut)
    st.session_state[f"{section}_active"] = active_ids(found)
    if not found:
        st.info(empty)
        return
    refresh = REFRESH_S if active_ids(found) else None
    st.fragment(draw_runs_by_preset, run_every=refresh)(section, shown, shortcut)


def draw_runs_by_preset(section: str, shown: tuple, shortcut: str | None) -> None:
    found = section_runs(shown, shortcut)
    # A run has started or ended since the page was drawn: redraw it all once, so
    # this part starts (or stops) refreshing.
    if active_ids(found) != st.session_state.get(f"{section}_active", set()):
        st.rerun()
    draw_training_now(training_now(found), section)
    curve = curve_ui(section)
    axis = axis_ui(f"{section}_axis")
    for preset, group in by_preset(found).items():
        draw_preset_group(section, preset, group, curve, axis)


def curve_ui(section: str) -> str:
    """Which per-epoch curve to draw: the homework's validation error, or the training side."""
    return st.segmented_control(
        "Curve", list(CURVES), default="val_accuracy", format_func=CURVES.get, key=f"{section}_curve",
        help="The homework plots validation error. Short runs whose batch-norm statistics have not "
             "settled yet can sit at 90 % validation error while the training side already moves.") \
        or "val_accuracy"


def draw_training_now(active: list, section: str) -> None:
    """Progress of the runs training now, and their batch loss as it streams in."""
    if not active:
        return
    st.markdown("**Training now**")
    for run, row in zip(active, tables.runs_table(active).to_dict("records")):
        eta = f" · ETA {row['ETA']}" if row["ETA"] else ""
        st.progress(row["progress"], text=f"{row['run']} · {row['state']} · epoch {row['epoch']}{eta}")
    batches = tables.batches_frame(active)
    if not batches.empty:
        altair_chart(curves.loss_vs_step(batches, view=f"{section}_steps"), key=f"{section}_steps")
        st.caption(curves.runs_caption(active, "Batch loss (each point the mean over the batches since the "
                                               "previous one), streaming"))


def draw_full_progress(section: str, experiment_names: list) -> None:
    """How far each full run of these experiments has got, and whether the next GPU machine continues it."""
    if not experiment_names:
        return
    # A static table: "where it stands" wraps instead of running off the right edge.
    draw_table(full_run_progress.full_run_progress(experiment_names),
               {"fraction done": PERCENT, "best test accuracy": PERCENT})
    st.caption("Full runs train on lent GPU machines, a lease at a time; one cut short keeps its last "
               "finished epoch's checkpoint and continues on the next (dlcore.results.full_run_progress).")


def draw_preset_group(section: str, preset: str, group: list, curve: str, axis=None) -> None:
    """One chart and one table per preset; shortened presets say what they shortened. `axis`
    (ui.x_axis.axis_ui): another x-axis than epochs, or smoothing, draws the any-axis chart."""
    st.markdown(f"#### {PRESET_TITLES[preset]}")
    if preset != "full":
        for note in dict.fromkeys(tables.run_notes(r) for r in group):
            st.warning(f"**Shortened, not the homework's result.** {note}.")
    cut_short = [label for r, label in zip(group, tables.run_labels(group)) if r.state in ("cancelled", "failed")]
    if cut_short:
        st.warning(f"**Stopped before the end:** {', '.join(cut_short)}. Their last epoch is shown as it "
                   "is, not as a full-length result.")
    if preset == "full":
        draw_full_progress(section, sorted({r.spec.get("experiment") for r in group} & set(experiments.CATALOGUE)))
    frame = tables.epochs_frame(group)
    if frame.empty:
        st.info("No finished epoch yet: the first point appears when an epoch ends.")
    else:
        view = f"{section}_{preset}"
        if axis is not None and (axis.x != "epoch" or axis.smoothing):
            draw_epoch_curves(group, curve, axis, f"{view}_{curve}_axis", error=curve != "loss")
        else:
            if curve == "val_accuracy":
                chart = curves.error_vs_epoch_with_target(frame, time_to_accuracy.TARGET, view=view)
            else:
                chart = curves.metric_vs_epoch_with_legend_room(frame, curve, error=curve == "accuracy", view=view)
            altair_chart(chart, key=f"{view}_{curve}")
        st.caption(curves.runs_caption(group, f"{CURVE_SOURCES[curve]} per epoch"))
    for sentence in health.flagged(group, tables.run_labels(group)):
        st.error(sentence, icon=":material/warning:")
    draw_time_to_target(group, section, preset)
    draw_claims(sorted({r.spec.get("experiment") for r in group}), group)
    with st.expander("Provenance: where these numbers come from"):
        for run, label in zip(group, tables.run_labels(group)):
            st.markdown(f"**{label}**")
            st.table(tables.provenance_table(run), hide_index=True, hide_header=True)


def draw_time_to_target(group: list, section: str, preset: str) -> None:
    table = time_to_accuracy.comparison_table(group)
    # A static table: the "reports" column wraps instead of running off the right edge.
    draw_table(table[TABLE_COLUMNS], {"test accuracy": PERCENT, "images/s": "{:.0f}"}, shared_once=True)
    st.caption(
        f"Per run (dlcore.results.time_to_accuracy): the first epoch with test accuracy ≥ "
        f"{time_to_accuracy.TARGET:.0%} and the wall-clock until then (training plus the per-epoch test "
        "evaluation); when a run never got there, its last epoch, accuracy and wall-clock, and "
        "**reports** says so. images/s: median over epochs of training images per second (all M "
        "copies counted), on the hardware named.")


# ---------------------------------------------------------------- training: ResNet-44 (4.2)

def shortcut_ui() -> str:
    return st.radio("Shortcut where the shape changes", ["A", "B"], horizontal=True, key="resnet_shortcut",
                    format_func=lambda s: SHORTCUT_LABELS[s])


@st.cache_data(show_spinner=False)
def parameter_table(depth: int) -> pd.DataFrame:
    return pd.DataFrame(resnet_recipe.parameter_rows(depth))


def draw_parameter_counts(table: pd.DataFrame) -> None:
    shown = table.rename(columns={"how": "where the shape changes", "total": "parameters",
                                  "non_trainable": "non-trainable (batch-norm statistics)"})
    draw_table(shown, {c: "{:,}" for c in ("parameters", "trainable", "non-trainable (batch-norm statistics)")})
    st.caption("Counted by dlcore.results.resnet_recipe.parameters: the layer arithmetic of dlcore.keras_parts.models.resnet_v1 "
               "(3×3 convolutions without bias, batch norm after each, a 64→10 softmax layer), checked "
               "against Keras's count_params in the tests. He et al. (Table 6) give 0.66 M for ResNet-44.")


def draw_recipe(spec) -> None:
    st.table(pd.DataFrame(resnet_recipe.recipe_rows(spec)), hide_index=True)
    st.caption(f"Left: He et al. (2016) Sec 4.2. Right: what {spec.label} runs "
               "(dlcore.engine.experiments.resnet_runs; learning-rate marks converted to epochs of its data).")


@st.fragment
def resnet_section() -> None:
    st.markdown(RESNET_EXPLAINED)
    st.markdown("**Parameters of ResNet-44 with either shortcut**")
    draw_parameter_counts(parameter_table(44))

    st.subheader("Train the baseline")
    left, right = st.columns([3, 2])
    with left:
        preset = launch_ui("resnet")
    with right:
        shortcut = shortcut_ui()
    try:
        specs = experiments.resnet_runs(preset, Ms=(1,), shortcut=shortcut)
    except experiments.SpecError as err:
        st.error(f"This run cannot be built: {err}")
        return
    st.markdown("**The recipe**")
    draw_recipe(specs[0])
    start_ui("resnet", specs)

    st.subheader("Validation error vs epoch")
    draw_section_runs("resnet", ("resnet",), None,
                      "No ResNet-44 runs yet, live or cached: start one above (the smoke preset takes "
                      "seconds, on synthetic data).")


# ---------------------------------------------------------------- training: batch augmentation (4.3)

def batch_copies_ui() -> tuple[list[int], bool]:
    # The class preset's set (benchmarks/class_presets.py keeps it within 8 minutes with M = 1).
    Ms = st.multiselect("M (cutout copies per sample)", M_CHOICES, default=list(experiments.RESNET_CLASS_MS),
                        key="batch_Ms")
    baseline = st.checkbox("Also train the M = 1 baseline (pad-crop-flip, no cutout)", value=False,
                           key="batch_baseline")
    return sorted(Ms), baseline


@st.fragment
def batch_augmentation_section() -> None:
    st.markdown(BATCH_RUNS_EXPLAINED)
    st.subheader("Train with M copies per sample")
    left, right = st.columns([3, 2])
    with left:
        preset = launch_ui("batch")
    with right:
        Ms, baseline = batch_copies_ui()
    if not Ms and not baseline:
        st.warning("Pick at least one M to train.")
        specs = []
    else:
        try:
            specs = experiments.resnet_runs(preset, Ms=((1,) if baseline else ()) + tuple(Ms))
        except experiments.SpecError as err:
            st.error(f"These runs cannot be built: {err}")
            return
        with st.expander("The recipe (He et al. Sec 4.2, the same for every M)"):
            draw_recipe(specs[-1])
    start_ui("batch", specs)

    st.subheader(f"Validation error vs epoch for every M, and the time to {time_to_accuracy.TARGET:.0%}")
    st.markdown("As Hoffer et al. Fig. 3a: the M = 1 baseline (the ResNet-44 tab's runs with shortcut A) "
                "and every M on one chart, per preset. M = 1 is the homework's baseline, pad-crop-flip "
                "**without** cutout; Hoffer et al.'s M = 1 had cutout too, so part of any gap here is "
                "cutout's own effect rather than the extra copies'.")
    draw_section_runs("batch", ("resnet", "batch_augmentation"), "A",
                      "No batch-augmentation runs yet, live or cached: start some above (the smoke preset "
                      "takes seconds, on synthetic data).")


def main() -> None:
    st.title("4 · Cutout and batch augmentation")
    st.markdown(INTRO)
    # Lazy tabs, bound to the URL (?tab=...): only the open one is drawn, so the gallery opens without
    # reading every run of the two training tabs.
    gallery_tab, resnet_tab, batch_tab = lazy_tabs(TAB_KEYS)
    if gallery_tab.open:
        with gallery_tab:
            gallery_section()
    if resnet_tab.open:
        with resnet_tab:
            resnet_section()
    if batch_tab.open:
        with batch_tab:
            batch_augmentation_section()


# Each tab's widgets (a name ending in _ is a prefix): kept while another tab is open (ui.lazy_tabs).
TAB_KEYS = {
    "Cutout gallery": ("pick_mode", "classes", "nth", "n_random", "pick_seed", "mask_size", "squares", "seed",
                       "fill", "copy_of", "M"),
    "ResNet-44 baseline": ("resnet_",),
    "Batch augmentation (M copies)": ("batch_",),
}


main()
