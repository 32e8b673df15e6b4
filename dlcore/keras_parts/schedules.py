"""The schedules of dlcore.core.schedules as Keras ``LearningRateSchedule`` objects.

Why a module of its own (and not classes defined inside a function): a
training checkpoint saves the optimizer, and with it the schedule, by its
registered name (``"dlcore>ExpRange"``). ``keras.saving.load_model`` can only
rebuild it if the class is registered *before* loading, which a module-level
class does as soon as this module is imported; a class made on demand inside a
function would be missing in a fresh process. Keras is imported at the top
because this module is Keras by nature; the instant pages never import it
(they use the NumPy functions, or `dlcore.core.schedules.keras_schedule`, which
imports this module lazily).

Each ``__call__`` evaluates the very formula of dlcore.core.schedules, passing
``keras.ops`` as the array namespace, so it runs on the TensorFlow and JAX
backends and matches the NumPy curve the page draws. ``step`` is
``optimizer.iterations``: the number of updates already applied.
"""
import keras
from keras import ops

from dlcore.core import schedules


def _as_float(step):
    return ops.cast(step, "float32")


class _Cyclical(keras.optimizers.schedules.LearningRateSchedule):
    """Shared state and config of the cyclical policies."""

    def __init__(self, base_lr, max_lr, step_size, name=None):
        schedules.check_cyclical(base_lr, max_lr, step_size)
        self.base_lr = float(base_lr)
        self.max_lr = float(max_lr)
        self.step_size = float(step_size)
        self.name = name

    def get_config(self):
        return {"base_lr": self.base_lr, "max_lr": self.max_lr, "step_size": self.step_size, "name": self.name}

    def __repr__(self):
        return f"{type(self).__name__}({', '.join(f'{k}={v!r}' for k, v in self.get_config().items() if k != 'name')})"


@keras.saving.register_keras_serializable(package="dlcore")
class Triangular(_Cyclical):
    """Smith's triangular policy (see dlcore.core.schedules.triangular)."""

    def __call__(self, step):
        return schedules._triangular(ops, _as_float(step), self.base_lr, self.max_lr, self.step_size)


@keras.saving.register_keras_serializable(package="dlcore")
class Triangular2(_Cyclical):
    """Smith's triangular2 policy: the height halves every cycle."""

    def __call__(self, step):
        return schedules._triangular2(ops, _as_float(step), self.base_lr, self.max_lr, self.step_size)


@keras.saving.register_keras_serializable(package="dlcore")
class ExpRange(_Cyclical):
    """Smith's exp_range; shrink="amplitude" (default, Keras CLR callback) or "bounds" (paper)."""

    def __init__(self, base_lr, max_lr, step_size, gamma, shrink="amplitude", name=None):
        super().__init__(base_lr, max_lr, step_size, name)
        schedules.check_cyclical(base_lr, max_lr, step_size, gamma)
        if shrink not in schedules.EXP_RANGE_SHRINK:
            raise ValueError(f"shrink must be one of {schedules.EXP_RANGE_SHRINK} (got {shrink!r}).")
        self.gamma = float(gamma)
        self.shrink = shrink

    def __call__(self, step):
        return schedules._exp_range(
            ops, _as_float(step), self.base_lr, self.max_lr, self.step_size, self.gamma, self.shrink
        )

    def get_config(self):
        return {**super().get_config(), "gamma": self.gamma, "shrink": self.shrink}


@keras.saving.register_keras_serializable(package="dlcore")
class RangeTestSweep(keras.optimizers.schedules.LearningRateSchedule):
    """The continuous LR range test: exponential from lr_start to lr_end over n_iterations."""

    def __init__(self, lr_start, lr_end, n_iterations, name=None):
        schedules._check_sweep(lr_start, lr_end, n_iterations)
        self.lr_start, self.lr_end = float(lr_start), float(lr_end)
        self.n_iterations = int(n_iterations)
        self.name = name

    def __call__(self, step):
        return schedules._range_test_sweep(ops, _as_float(step), self.lr_start, self.lr_end, self.n_iterations)

    def get_config(self):
        return {"lr_start": self.lr_start, "lr_end": self.lr_end, "n_iterations": self.n_iterations, "name": self.name}


@keras.saving.register_keras_serializable(package="dlcore")
class StepDecay(keras.optimizers.schedules.LearningRateSchedule):
    """initial_lr divided by `factor` at each boundary (the ResNet recipe: 0.1, ÷10 at 32k and 48k)."""

    def __init__(self, initial_lr=0.1, boundaries=(32_000, 48_000), factor=10.0, warmup=0, name=None):
        schedules.step_decay(0, initial_lr, boundaries, factor, warmup)  # validates
        self.initial_lr = float(initial_lr)
        self.boundaries = [int(b) for b in boundaries]
        self.factor = float(factor)
        self.warmup = int(warmup)
        self.name = name

    def __call__(self, step):
        return schedules._step_decay(ops, _as_float(step), self.initial_lr, self.boundaries, self.factor,
                                     self.warmup)

    def get_config(self):
        return {"initial_lr": self.initial_lr, "boundaries": self.boundaries, "factor": self.factor,
                "warmup": self.warmup, "name": self.name}


def schedule_for(policy, **params):
    """A ``keras.optimizers.schedules.LearningRateSchedule`` for `policy`.

    policy: one of dlcore.core.schedules.POLICIES, "range_test_sweep" or "step_decay";
    params are those of the NumPy function of the same name (e.g. base_lr, max_lr,
    step_size, gamma). A process must import this module before loading a saved
    model that uses these classes.
    """
    if policy == "triangular":
        return Triangular(**params)
    if policy == "triangular2":
        return Triangular2(**params)
    if policy == "exp_range":
        return ExpRange(**params)
    if policy == "exp_range_paper":
        return ExpRange(**params, shrink="bounds")
    if policy == "range_test_sweep":
        return RangeTestSweep(**params)
    if policy == "step_decay":
        return StepDecay(**params)
    raise ValueError(f"unknown schedule {policy!r}.")
