"""Keras optimizers for the five methods of SPEC Problem 1, plus SGD for the ResNet runs.

``make_optimizer(name, **hparams)`` returns a ``keras.optimizers.Optimizer``
that computes the same rule as ``dlcore.core.rules`` (the NumPy reference the
page shows), tested step by step in tests/test_optimizers.py:

- "adagrad", "rmsprop", "adadelta", "adam", "sgd": Keras's own optimizers,
  configured so they ARE the textbook rule where a setting allows it
  (Adagrad's initial accumulator, RMSProp without heavy-ball momentum or
  centering, Adadelta's learning rate). Adam cannot be configured to put ε
  where Kingma & Ba's Algorithm 1 puts it; the difference is documented in
  ``KERAS_DIFFERENCES["adam"]`` and measured in the tests.
- "rmsprop_nesterov": ``RMSPropNesterov`` below, because Keras has none (the
  notebook used Nadam, a different method).

The hyper-parameter defaults and the per-method notes are data that the
instant page also shows, so they live in ``dlcore.core.rules`` (no Keras import)
and are re-exported here as ``DEFAULTS`` and ``KERAS_DIFFERENCES``.
"""
from __future__ import annotations

import keras
from keras import ops

from dlcore.core import rules

DEFAULTS = rules.DEFAULTS
KERAS_DIFFERENCES = rules.KERAS_NOTES
NAMES: tuple[str, ...] = rules.METHODS + ("sgd",)

# Arguments every Keras optimizer takes (weight decay, clipping, EMA...): passed through.
BASE_ARGUMENTS = frozenset(
    {
        "weight_decay",
        "clipnorm",
        "clipvalue",
        "global_clipnorm",
        "use_ema",
        "ema_momentum",
        "ema_overwrite_frequency",
        "loss_scale_factor",
        "gradient_accumulation_steps",
        "name",
    }
)


@keras.saving.register_keras_serializable(package="dlcore")
class RMSPropNesterov(keras.optimizers.Optimizer):
    """RMSProp with Nesterov momentum: Goodfellow, Bengio & Courville, Algorithm 8.6.

    The book's step (μ = momentum, β = rho, ε inside the root as in RMSProp)::

        w̃ = w + μV;  g = ∇L(w̃);  S ← βS + (1−β)g²;  V ← μV − α g / sqrt(S + ε);  w ← w + V

    A Keras optimizer sees one gradient, at the model's current weights. So,
    as Keras's SGD(nesterov=True) does, the model's weights hold the
    look-ahead point φ = w + μV instead of w. Then the gradient Keras hands
    us is exactly g = ∇L(w̃), and the update of φ follows from the book's:

        φ_new = w_new + μV_new = φ − μV + V_new + μV_new = φ + μV_new − α g / sqrt(S + ε)

    After training, the weights are the look-ahead point (they differ from
    the book's w by μV, which vanishes as the steps do), the usual
    convention for Nesterov methods in deep-learning libraries.

    Slots per weight: "accumulator" (S) and "velocity" (V). Both are
    optimizer variables, so they are saved in a .keras file with
    ``iterations`` and training resumes exactly where it stopped.
    """

    def __init__(
        self,
        learning_rate=0.001,
        rho=0.9,
        momentum=0.9,
        epsilon=1e-7,
        weight_decay=None,
        clipnorm=None,
        clipvalue=None,
        global_clipnorm=None,
        use_ema=False,
        ema_momentum=0.99,
        ema_overwrite_frequency=None,
        loss_scale_factor=None,
        gradient_accumulation_steps=None,
        name="rmsprop_nesterov",
        **kwargs,
    ):
        super().__init__(
            learning_rate=learning_rate,
            weight_decay=weight_decay,
            clipnorm=clipnorm,
            clipvalue=clipvalue,
            global_clipnorm=global_clipnorm,
            use_ema=use_ema,
            ema_momentum=ema_momentum,
            ema_overwrite_frequency=ema_overwrite_frequency,
            loss_scale_factor=loss_scale_factor,
            gradient_accumulation_steps=gradient_accumulation_steps,
            name=name,
            **kwargs,
        )
        if not 0.0 <= rho < 1.0:
            raise ValueError(f"rho (β) must be in [0, 1): it is the decay of the mean square; got {rho}")
        if not 0.0 <= momentum < 1.0:
            raise ValueError(f"momentum (μ) must be in [0, 1): it is the fraction of the last step kept; got {momentum}")
        if epsilon <= 0:
            raise ValueError(f"epsilon must be > 0: it keeps sqrt(S + ε) away from 0; got {epsilon}")
        self.rho = rho
        self.momentum = momentum
        self.epsilon = epsilon

    def build(self, var_list):
        if self.built:
            return
        super().build(var_list)
        self._accumulators = [self.add_variable_from_reference(v, "accumulator") for v in var_list]
        self._velocities = [self.add_variable_from_reference(v, "velocity") for v in var_list]

    def update_step(self, gradient, variable, learning_rate):
        lr = ops.cast(learning_rate, variable.dtype)
        g = ops.cast(gradient, variable.dtype)
        i = self._get_variable_index(variable)
        S, V = self._accumulators[i], self._velocities[i]
        self.assign(S, ops.add(ops.multiply(self.rho, S), ops.multiply(1.0 - self.rho, ops.square(g))))
        scaled = ops.divide(ops.multiply(lr, g), ops.sqrt(ops.add(S, self.epsilon)))
        self.assign(V, ops.subtract(ops.multiply(self.momentum, V), scaled))
        self.assign_add(variable, ops.subtract(ops.multiply(self.momentum, V), scaled))

    def get_config(self):
        config = super().get_config()
        config.update({"rho": self.rho, "momentum": self.momentum, "epsilon": self.epsilon})
        return config


def make_optimizer(name: str, **hparams) -> keras.optimizers.Optimizer:
    """A Keras optimizer for ``name`` with DEFAULTS[name] overridden by ``hparams``.

    ``learning_rate`` may be a float or a ``keras.optimizers.schedules.
    LearningRateSchedule``. The base optimizer arguments (weight_decay,
    clipnorm, ...) pass through; any other unknown argument is an error, since
    e.g. ``momentum`` on "rmsprop" would silently make it another rule.
    """
    if name not in NAMES:
        raise ValueError(f"unknown optimizer {name!r}; choose one of {NAMES}")
    unknown = set(hparams) - set(rules.HPARAMS[name]) - BASE_ARGUMENTS
    if unknown:
        raise ValueError(
            f"{name} takes {rules.HPARAMS[name]} (and {sorted(BASE_ARGUMENTS)}); "
            f"{sorted(unknown)} would change the rule or is a typo"
        )
    kw = {**DEFAULTS[name], **hparams}
    if name == "adagrad":
        return keras.optimizers.Adagrad(**kw)
    if name == "rmsprop":
        return keras.optimizers.RMSprop(momentum=0.0, centered=False, **kw)
    if name == "rmsprop_nesterov":
        return RMSPropNesterov(**kw)
    if name == "adadelta":
        return keras.optimizers.Adadelta(**kw)
    if name == "adam":
        return keras.optimizers.Adam(amsgrad=False, **kw)
    return keras.optimizers.SGD(**kw)
