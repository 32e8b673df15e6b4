"""A compiled Keras model for a spec: its learning rate (a float or a schedule), optimizer and loss."""
from __future__ import annotations

import numpy as np

from dlcore.engine.experiments import Spec


def learning_rate(spec: Spec, steps_per_epoch: int):
    """The optimizer's learning rate: a float, or a Keras schedule of the iteration."""
    s = dict(spec.schedule)
    name = s.pop("name", "constant")
    lr = spec.optimizer["learning_rate"]
    if name in ("constant", "batch_growth"):  # batch growth: a fixed rate, the batch changes (dlcore.engine.batch_growth)
        return lr
    import keras

    if name == "step_decay" and s.get("warmup"):
        # A linear warm-up, then the same steps (StepDecay divides by its factor).
        from dlcore.keras_parts import schedules as keras_schedules

        return keras_schedules.StepDecay(lr, s["boundaries"], 1.0 / s.get("factor", 0.1), int(s["warmup"]))
    if name == "step_decay":
        values = [lr * s.get("factor", 0.1) ** k for k in range(len(s["boundaries"]) + 1)]
        return keras.optimizers.schedules.PiecewiseConstantDecay(s["boundaries"], values)
    from dlcore.core import schedules
    from dlcore.keras_parts import schedules as keras_schedules

    if name == "range_test":
        total = spec.epochs * steps_per_epoch
        if s.get("mode", "steps") == "sweep":
            return keras_schedules.schedule_for("range_test_sweep", lr_start=s["lr_start"], lr_end=s["lr_end"],
                                            n_iterations=total)
        # `candidates` log-spaced rates, each held for an equal share of the iterations.
        rates = schedules.range_test_candidates(s["lr_start"], s["lr_end"], s.get("candidates", 10))
        share = total / len(rates)
        # PiecewiseConstantDecay keeps value k up to and including boundary k.
        boundaries = [int(round(share * k)) - 1 for k in range(1, len(rates))]
        return keras.optimizers.schedules.PiecewiseConstantDecay(boundaries, [float(r) for r in rates])
    return keras_schedules.schedule_for(name, **s)


def build_model(spec: Spec, input_shape, steps_per_epoch: int):
    import keras

    from dlcore.keras_parts import models, optimizers

    model = models.build(spec.model, input_shape)
    hparams = {k: v for k, v in spec.optimizer.items() if k not in ("name", "learning_rate")}
    opt = optimizers.make_optimizer(spec.optimizer["name"], learning_rate=learning_rate(spec, steps_per_epoch),
                                    **hparams)
    model.compile(optimizer=opt, loss=keras.losses.SparseCategoricalCrossentropy(), metrics=["accuracy"],
                  steps_per_execution=spec.steps_per_execution)
    return model


def current_lr(model) -> float:
    return float(np.asarray(model.optimizer.learning_rate))
