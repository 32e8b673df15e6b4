"""Experiments as data: one declarative spec per homework question, with presets.

A :class:`Spec` says everything a run needs (model, data, optimizer, schedule,
augmentation, epochs, batch size, seed) and is plain JSON, so it can be written
into a run folder, shown on a page and read back by the worker process.

Presets:
  - ``full``: exactly what the homework asks (hours on a CPU; minutes on a GPU);
  - ``class``: a shortened version that runs in minutes on a laptop CPU,
    clearly labelled as such wherever it is shown;
  - ``smoke``: seconds, on tiny synthetic data, for tests.

Nothing here imports Keras: pages build and validate specs instantly.
"""
from __future__ import annotations

import dataclasses
import json
import math

PRESETS = ("full", "class", "smoke")
MAX_EPOCHS = 1000
MAX_BATCH = 16384
OPTIMIZERS = ("adagrad", "rmsprop", "rmsprop_nesterov", "adadelta", "adam", "sgd")
METHODS = ("adagrad", "rmsprop", "rmsprop_nesterov", "adadelta", "adam")  # the five of Problem 1
METHOD_LABELS = {
    "adagrad": "Adagrad", "rmsprop": "RMSProp", "rmsprop_nesterov": "RMSProp + Nesterov",
    "adadelta": "AdaDelta", "adam": "Adam", "sgd": "SGD + momentum",
}
MODELS = ("mlp", "mini_googlenet", "resnet_v1")
DATASETS = ("cifar10", "fashion_mnist", "synthetic_cifar10", "synthetic_fashion_mnist")
PREPROCESSING = ("scale", "per_pixel_mean", "resize32")
SCHEDULES = ("constant", "step_decay", "triangular", "triangular2", "exp_range", "range_test", "batch_growth")
AUGMENTATIONS = ("none", "standard", "batch_augment")


class SpecError(ValueError):
    """A spec with values a run cannot use; `.problems` lists them in words."""

    def __init__(self, problems: list[str]):
        self.problems = problems
        super().__init__("; ".join(problems))


@dataclasses.dataclass(frozen=True)
class Spec:
    experiment: str                      # e.g. "mlp_l2": which homework question
    name: str                            # the run within it, e.g. "adam"
    preset: str = "smoke"
    dataset: str = "synthetic_cifar10"
    preprocessing: str = "scale"
    subset: int | None = None            # first n training samples per class
    test_subset: int | None = None       # first n test samples per class
    model: dict = dataclasses.field(default_factory=lambda: {"name": "mlp"})
    optimizer: dict = dataclasses.field(default_factory=lambda: {"name": "adam", "learning_rate": 1e-3})
    schedule: dict = dataclasses.field(default_factory=lambda: {"name": "constant"})
    augment: dict = dataclasses.field(default_factory=lambda: {"name": "none"})
    epochs: int = 2
    batch_size: int = 32
    seed: int = 0
    stop: dict = dataclasses.field(default_factory=dict)   # {"val_accuracy": 0.92} / {"patience": 5}
    validate: bool = True                # evaluate on the test set after each epoch
    log_every: int = 20                  # batches between batch-level metric lines
    steps_per_execution: int = 1         # >1 batches per compiled call (GPU recipe)
    notes: str = ""                      # shown with the run, e.g. what a preset shortened

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, sort_keys=True)

    @classmethod
    def from_dict(cls, d: dict) -> "Spec":
        fields = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(d) - fields)
        if unknown:
            raise SpecError([f"unknown field(s) {', '.join(unknown)}"])
        spec = cls(**d)
        problems = spec.problems()
        if problems:
            raise SpecError(problems)
        return spec

    def replace(self, **changes) -> "Spec":
        """A validated copy with some fields changed.

        A nested dict (model, optimizer, schedule, augment) is updated in place when
        it names the same component (or none), and replaced when it names another:
        ``replace(optimizer={"learning_rate": 0.01})`` keeps the optimizer's other
        settings, ``replace(model={"name": "mlp", ...})`` drops MiniGoogLeNet's.
        """
        d = self.to_dict()
        for key, value in changes.items():
            old = d.get(key)
            same = isinstance(old, dict) and isinstance(value, dict) and value.get("name", old.get("name")) == old.get("name")
            d[key] = {**old, **value} if same else value
        return Spec.from_dict(d)

    @property
    def label(self) -> str:
        return f"{self.experiment}/{self.name} ({self.preset})"

    def problems(self) -> list[str]:
        """Everything wrong with this spec, in words a student understands."""
        p = []
        if self.preset not in PRESETS:
            p.append(f"preset must be one of {', '.join(PRESETS)}, not {self.preset!r}")
        if self.dataset not in DATASETS:
            p.append(f"unknown data set {self.dataset!r}")
        if self.preprocessing not in PREPROCESSING:
            p.append(f"unknown preprocessing {self.preprocessing!r}")
        for field in ("subset", "test_subset"):
            v = getattr(self, field)
            if v is not None and (not isinstance(v, int) or v < 1):
                p.append(f"{field} must be a positive number of samples per class (or empty for all)")
        if self.model.get("name") not in MODELS:
            p.append(f"unknown model {self.model.get('name')!r}; choose one of {', '.join(MODELS)}")
        if self.model.get("name") == "resnet_v1":
            depth = self.model.get("depth", 44)
            if not isinstance(depth, int) or depth < 8 or (depth - 2) % 6:
                p.append(f"ResNet depth must be 6n+2 (20, 32, 44, 56, 110), not {depth}")
        name = self.optimizer.get("name")
        if name not in OPTIMIZERS:
            p.append(f"unknown optimizer {name!r}; choose one of {', '.join(OPTIMIZERS)}")
        lr = self.optimizer.get("learning_rate")
        if not isinstance(lr, (int, float)) or not math.isfinite(lr) or lr <= 0:
            p.append(f"the learning rate must be a positive number, not {lr!r}")
        for key in ("max_lr", "base_lr", "lr_start", "lr_end"):
            v = self.schedule.get(key)
            if v is not None and (not isinstance(v, (int, float)) or not math.isfinite(v) or v <= 0):
                p.append(f"schedule {key} must be a positive number, not {v!r}")
        if self.schedule.get("name") not in SCHEDULES:
            p.append(f"unknown schedule {self.schedule.get('name')!r}; choose one of {', '.join(SCHEDULES)}")
        if self.augment.get("name") not in AUGMENTATIONS:
            p.append(f"unknown augmentation {self.augment.get('name')!r}")
        m = self.augment.get("M", 1)
        if not isinstance(m, int) or not 1 <= m <= 32:
            p.append(f"M (cutout copies per sample) must be a whole number from 1 to 32, not {m!r}")
        if not isinstance(self.epochs, int) or not 1 <= self.epochs <= MAX_EPOCHS:
            p.append(f"epochs must be a whole number from 1 to {MAX_EPOCHS}, not {self.epochs!r}")
        if not isinstance(self.batch_size, int) or not 1 <= self.batch_size <= MAX_BATCH:
            p.append(f"batch size must be a whole number from 1 to {MAX_BATCH}, not {self.batch_size!r}")
        if not isinstance(self.seed, int):
            p.append("seed must be a whole number")
        if not isinstance(self.log_every, int) or self.log_every < 1:
            p.append("log_every must be a positive whole number of batches")
        if not isinstance(self.steps_per_execution, int) or self.steps_per_execution < 1:
            p.append("steps_per_execution must be a positive whole number")
        return p


# --- The catalogue: one builder per homework question --------------------------------------
#
# Each builder returns the list of runs for a preset. Shortened presets say what
# they shortened in `notes`, and the pages show it next to every number.

MLP_SIZES = {
    # preset: (dataset, subset per class, test subset per class, epochs, batch size)
    "full": ("cifar10", None, None, 200, 128),
    "class": ("cifar10", 500, 100, 15, 128),
    "smoke": ("synthetic_cifar10", None, None, 2, 32),
}

# Each method at its usual default (Keras's defaults, the values the notebook ran).
MLP_DEFAULTS = {
    "adagrad": {"learning_rate": 0.001},
    "rmsprop": {"learning_rate": 0.001, "rho": 0.9},
    "rmsprop_nesterov": {"learning_rate": 0.001, "rho": 0.9, "momentum": 0.9},
    "adadelta": {"learning_rate": 1.0, "rho": 0.95},
    "adam": {"learning_rate": 0.001, "beta_1": 0.9, "beta_2": 0.999},
}


def _shortened(preset: str, what: str) -> str:
    return "" if preset == "full" else f"{preset} preset: {what} (the homework asks for more)"


def mlp_runs(preset: str, regularizer: str, methods=METHODS, batch_size: int | None = None,
             l2: float = 5e-4, hparams: dict | None = None) -> list[Spec]:
    """Problem 1.2 (regularizer='l2') and 1.3 ('dropout'): the MLP with each method."""
    dataset, subset, test_subset, epochs, batch = MLP_SIZES[preset]
    model = {"name": "mlp", "regularizer": regularizer}
    if regularizer == "l2":
        model["l2"] = l2
    return [
        Spec.from_dict(dict(
            experiment=f"mlp_{regularizer}", name=method, preset=preset, dataset=dataset,
            preprocessing="scale", subset=subset, test_subset=test_subset, model=model,
            optimizer={"name": method, **MLP_DEFAULTS[method], **(hparams or {}).get(method, {})},
            epochs=epochs, batch_size=batch_size or batch, seed=0,
            notes=_shortened(preset, f"{epochs} epochs on {subset or 'all'} images per class"),
        ))
        for method in methods
    ]


RESNET_SIZES = {
    # preset: (dataset, subset, test subset, max epochs, depth)
    "full": ("cifar10", None, None, 100, 44),
    # ResNet-44 trains at ~175 images/s at best on 2 CPU cores (30-60 when the machine
    # is shared) and compiling costs 20-100 s per run, while M = 1+2+4+8+16 makes the
    # five runs see 31× one run's images: 32 images per class (5 full batches of 64, so
    # no retracing for a short last batch) for 2 epochs is ~20k training images in all,
    # about 15 minutes for the five runs on a shared machine (3 epochs took 21).
    "class": ("cifar10", 32, 20, 2, 44),
    "smoke": ("synthetic_cifar10", None, None, 2, 8),
}


def resnet_runs(preset: str, Ms=(1,), shortcut: str = "A", target: float = 0.92) -> list[Spec]:
    """Problem 4.2 (M=1: He et al.'s simple augmentation) and 4.3 (M cutout copies per sample)."""
    dataset, subset, test_subset, epochs, depth = RESNET_SIZES[preset]
    batch = 64 if preset != "smoke" else 16
    n_train = 50000 if subset is None else 10 * subset
    if preset == "smoke":
        n_train = 256
    # He et al.: lr 0.1, ÷10 at 32k and 48k iterations (of 64k). Shortened presets
    # keep the same fractions of their own length.
    steps = math.ceil(n_train / batch)
    total = epochs * steps
    marks = [32000, 48000] if preset == "full" else [int(total * 0.5), int(total * 0.75)]
    shortened = f"ResNet-{depth}, {epochs} epochs on {subset or 'all'} training images per class"
    if preset == "class":
        shortened += (f" ({n_train:,}; {test_subset} test images per class), learning rate ÷10 at "
                      f"iterations {marks[0]} and {marks[1]} of {total}, so that all five class runs "
                      f"(M = 1, 2, 4, 8, 16) take about 15 minutes together on 2 CPU cores. {total} steps "
                      f"are far too few to learn CIFAR-10 (test accuracy stays near 10 %): these runs "
                      f"show what M costs, not what it gains")
    runs = []
    for M in Ms:
        augment = {"name": "standard"} if M == 1 else {"name": "batch_augment", "M": M, "cutout": 16}
        runs.append(Spec.from_dict(dict(
            experiment="resnet" if M == 1 else "batch_augmentation",
            name=f"M{M}" if shortcut == "A" else f"M{M}_shortcut{shortcut}", preset=preset,
            dataset=dataset, preprocessing="per_pixel_mean", subset=subset, test_subset=test_subset,
            model={"name": "resnet_v1", "depth": depth, "shortcut": shortcut},
            optimizer={"name": "sgd", "learning_rate": 0.1, "momentum": 0.9},
            schedule={"name": "step_decay", "boundaries": marks, "factor": 0.1},
            augment=augment, epochs=epochs, batch_size=batch, seed=0,
            stop={"val_accuracy": target}, log_every=max(1, min(50, steps // 5)),
            notes=_shortened(preset, shortened),
        )))
    return runs


FASHION_SIZES = {
    # preset: (dataset, subset, test subset, batch)
    # MiniGoogLeNet trains at only ~10-20 images/s on the 2 shared CPU cores, so the class
    # preset keeps 50 images per class (500, 8 iterations of 64 per epoch) and 20 per class
    # for testing: each class run then takes about 5 minutes.
    "full": ("fashion_mnist", None, None, 64),
    "class": ("fashion_mnist", 50, 20, 64),
    "smoke": ("synthetic_fashion_mnist", 6, 4, 32),
}
FASHION_TRAIN = 60_000          # Fashion-MNIST's training images (full preset)


def fashion_train_size(preset: str) -> int:
    """Training images of a preset (Fashion-MNIST, or its subset)."""
    subset = FASHION_SIZES[preset][1]
    return FASHION_TRAIN if subset is None else 10 * subset


RANGE_TEST_SIZES = {
    # preset: (epochs, log_every)
    "full": (5, 20),
    "class": (5, 1),
    "smoke": (1, 1),
}


def range_test_runs(preset: str, lr_start: float = 1e-9, lr_end: float = 10.0, candidates: int = 10,
                    mode: str | tuple = ("steps", "sweep")) -> list[Spec]:
    """Problem 2.1: LR range test, one run per mode. 'steps': `candidates` log-spaced rates,
    each for an equal share of the iterations; 'sweep': a continuous exponential sweep."""
    dataset, subset, test_subset, batch = FASHION_SIZES[preset]
    epochs, log_every = RANGE_TEST_SIZES[preset]
    iterations = epochs * math.ceil(fashion_train_size(preset) / batch)
    modes = (mode,) if isinstance(mode, str) else tuple(mode)
    return [Spec.from_dict(dict(
        experiment="range_test", name=m, preset=preset, dataset=dataset, preprocessing="resize32",
        subset=subset, test_subset=test_subset, model=mini_googlenet_config(preset),
        optimizer={"name": "sgd", "learning_rate": lr_start, "momentum": 0.9},
        schedule={"name": "range_test", "lr_start": lr_start, "lr_end": lr_end,
                  "candidates": candidates, "mode": m},
        epochs=epochs, batch_size=batch, seed=0, validate=False, log_every=log_every,
        notes=_shortened(preset, f"{epochs} epochs on {subset} images per class, {iterations} iterations"
                         + (f", {iterations // candidates} per candidate rate"
                            if m == "steps" and iterations >= candidates else "")),
    )) for m in modes]


def mini_googlenet_config(preset: str) -> dict:
    """MiniGoogLeNet's model dict: shortened presets run tens of iterations, too few
    for batch norm's default moving-average momentum (0.99) to settle, so they use 0.9."""
    return {"name": "mini_googlenet"} if preset == "full" else {"name": "mini_googlenet", "bn_momentum": 0.9}


CLR_SIZES = {
    # preset: (max epochs, step size in epochs, gamma). The class preset shrinks the cycle and
    # raises gamma's decay so that its 40 iterations still show cycles that fade, as the full
    # run's 56 000 do (0.99994^56000 ≈ 0.92^40 ≈ 0.035).
    "full": (60, 4.0, 0.99994),
    "class": (5, 1.0, 0.92),
    "smoke": (2, 1.0, 0.9),
}
CLR_LOG_EVERY = {"full": 20, "class": 2, "smoke": 1}
CLR_PATIENCE = 5                # epochs without a better validation loss before the run stops


def clr_runs(preset: str, lr_min: float, lr_max: float, gamma: float | None = None,
             step_epochs: float | None = None) -> list[Spec]:
    """Problem 2.2: exp_range CLR between lr_min and lr_max, batch 64, to convergence
    (stop when validation loss has not improved for 5 epochs; at most 60 epochs in full)."""
    from dlcore.core import schedules

    try:
        schedules.check_cyclical(lr_min, lr_max, 1)
    except ValueError as err:
        raise SpecError([f"lr_min and lr_max: {err}"]) from None
    dataset, subset, test_subset, batch = FASHION_SIZES[preset]
    epochs, default_step_epochs, default_gamma = CLR_SIZES[preset]
    gamma = default_gamma if gamma is None else gamma
    step_epochs = default_step_epochs if step_epochs is None else step_epochs
    step_size = max(1, int(step_epochs * math.ceil(fashion_train_size(preset) / batch)))
    return [Spec.from_dict(dict(
        experiment="clr", name="exp_range", preset=preset, dataset=dataset, preprocessing="resize32",
        subset=subset, test_subset=test_subset, model=mini_googlenet_config(preset),
        optimizer={"name": "sgd", "learning_rate": lr_min, "momentum": 0.9},
        schedule={"name": "exp_range", "base_lr": lr_min, "max_lr": lr_max,
                  "step_size": step_size, "gamma": gamma},
        epochs=epochs, batch_size=batch, seed=0, stop={"patience": CLR_PATIENCE, "monitor": "val_loss"},
        log_every=CLR_LOG_EVERY[preset],
        notes=_shortened(preset, f"at most {epochs} epochs on {subset} images per class, "
                                 f"step size {step_size} iterations, gamma {gamma}"),
    ))]


BATCH_GROWTH_SIZES = {
    # preset: (start, stop, k, largest micro-batch). Full: the homework's 32 → 16384, with
    # k = 100 updates per size (3.3 M samples, ~55 epochs, like the CLR run's ≤ 60); the class
    # preset stops at 256 with a 64-sample memory limit, so 128 and 256 are still accumulated.
    "full": (32, 16_384, 100, 512),
    "class": (32, 256, 4, 64),
    "smoke": (8, 32, 2, 8),
}


def batch_growth_runs(preset: str, lr_max: float = 0.1, k: int | None = None,
                      max_micro_batch: int | None = None) -> list[Spec]:
    """Problem 2.3: a fixed rate lr_max while the batch doubles every k updates.

    One "epoch" of the run is one batch size (a phase of k updates, see
    dlcore.engine.batch_growth), so the run has as many epochs as sizes, each
    ending with a test-set evaluation and a checkpoint.
    """
    from dlcore.core import schedules

    dataset, subset, test_subset, _ = FASHION_SIZES[preset]
    start, stop, default_k, default_micro = BATCH_GROWTH_SIZES[preset]
    k = default_k if k is None else k
    max_micro_batch = default_micro if max_micro_batch is None else max_micro_batch
    if not isinstance(k, int) or isinstance(k, bool):
        raise SpecError([f"k must be a whole number of updates, not {k!r}"])
    try:
        phases = schedules.growth_phases(k, max_micro_batch, start, stop)
    except ValueError as err:
        raise SpecError([str(err)]) from None
    samples = sum(p.batch_size * p.updates for p in phases)
    return [Spec.from_dict(dict(
        experiment="batch_growth", name="fixed_lr", preset=preset, dataset=dataset, preprocessing="resize32",
        subset=subset, test_subset=test_subset, model=mini_googlenet_config(preset),
        optimizer={"name": "sgd", "learning_rate": lr_max, "momentum": 0.9},
        schedule={"name": "batch_growth", "start": start, "stop": stop, "factor": 2, "k": k,
                  "max_micro_batch": max_micro_batch},
        epochs=len(phases), batch_size=start, seed=0, log_every=1 if preset != "full" else 10,
        notes=_shortened(preset, f"batch {start} → {stop} on {subset} images per class, k = {k}, "
                                 f"memory limit {max_micro_batch} ({samples} samples in all)"),
    ))]


CATALOGUE = {
    "mlp_l2": lambda preset: mlp_runs(preset, "l2"),
    "mlp_dropout": lambda preset: mlp_runs(preset, "dropout"),
    "resnet": lambda preset: resnet_runs(preset, Ms=(1,)),
    "batch_augmentation": lambda preset: resnet_runs(preset, Ms=(2, 4, 8, 16)),
    "range_test": lambda preset: range_test_runs(preset),
    "clr": lambda preset: clr_runs(preset, lr_min=1e-3, lr_max=1e-1),
    "batch_growth": lambda preset: batch_growth_runs(preset, lr_max=1e-1),
}


def catalogue(experiment: str, preset: str) -> list[Spec]:
    """The runs of one experiment at one preset (the CLI and the GPU recipe use this)."""
    if experiment not in CATALOGUE:
        raise SpecError([f"unknown experiment {experiment!r}; choose one of {', '.join(CATALOGUE)}"])
    if preset not in PRESETS:
        raise SpecError([f"unknown preset {preset!r}; choose one of {', '.join(PRESETS)}"])
    return CATALOGUE[experiment](preset)
