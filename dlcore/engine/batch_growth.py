"""Growing the batch at a fixed learning rate, with gradient accumulation past the memory limit.

SPEC Problem 2.3 (Smith, Kindermans, Ying & Le, "Don't decay the learning
rate, increase the batch size", ICLR 2018): keep the rate at lr_max and
double the batch, 32 → 16384, every k updates. A batch larger than the
memory limit is built from equal micro-batches whose gradients are averaged
before one update ("effective batch size").

The mechanism, and why
----------------------
Each batch size is a **phase** of k updates, trained by its own
``model.fit`` call (one Keras "epoch" per phase, so every phase ends with a
test-set evaluation, a metrics line and a checkpoint). Before a phase:

1. a fresh optimizer is made with Keras's own ``gradient_accumulation_steps``
   = the phase's number of micro-batches (``None`` when the batch fits);
2. the previous optimizer's state (momentum) is copied into it, and its
   update counter set so that ``optimizer.iterations`` still counts updates;
3. the model is compiled again with it, which re-makes the train function.

Why not one optimizer for the whole run: Keras fixes
``gradient_accumulation_steps`` when the optimizer is made, bakes it into the
compiled train step, and updates when ``(micro_steps + 1) % steps == 0``. Had
the number of steps changed mid-run, the first big batch after the change
would be cut at the wrong micro-batch (e.g. after 3 micro-batches of 4, when
the count so far is 101). A fresh optimizer per phase starts its micro-step
count at a multiple of the new number of steps, so every update averages
exactly one effective batch. Why not a home-made accumulation loop: Keras's
accumulation already runs unchanged on TensorFlow and JAX (it is written with
``keras.ops``; JAX gets its stateless variant), so a phase is plain
``model.fit`` and keeps the worker's streaming, cancelling and checkpointing.
The price is one re-compile per batch size (10 for 32 → 16384).

Exactness: one accumulated step equals one step on the whole batch when the
loss is a mean over samples and the micro-batches are equal (tests/
test_accumulation.py checks it to float tolerance). Batch normalization is
the exception any accumulation has: it normalizes each micro-batch on its
own ("ghost batch norm", Hoffer et al. 2017), and its moving statistics are
updated once per micro-batch.

Which samples: a phase takes the next ``batch_size · k`` samples of the run's
sample stream, the epoch orders of :func:`dlcore.engine.worker.epoch_order` one after
another. The stream is a pure function of the seed, so a run resumed from
the checkpoint after phase p sees exactly the samples an uninterrupted one would.
"""
from __future__ import annotations

import keras
import numpy as np

from dlcore.core import schedules
from dlcore.engine import pipeline
from dlcore.engine.experiments import Spec
from dlcore.keras_parts import optimizers


def phases(spec: Spec) -> list[schedules.GrowthPhase]:
    """The growth phases of a batch_growth spec, one per epoch of the run.

    A run with more epochs than sizes keeps the last size for the extra phases.
    """
    s = spec.schedule
    plan = schedules.growth_phases(s["k"], s.get("max_micro_batch", schedules.DEFAULT_MAX_MICRO_BATCH),
                                   s.get("start", spec.batch_size), s.get("stop", 16_384), s.get("factor", 2))
    return [plan[min(p, len(plan) - 1)] for p in range(spec.epochs)]


def stream_indices(n: int, seed: int, first: int, count: int) -> np.ndarray:
    """Samples first … first+count−1 of the stream that shuffles the n samples anew every epoch."""
    out, position = [], int(first)
    while count > 0:
        epoch, offset = divmod(position, n)
        take = min(count, n - offset)
        out.append(pipeline.epoch_order(n, seed, epoch)[offset:offset + take])
        position, count = position + take, count - take
    return np.concatenate(out) if out else np.zeros(0, dtype=np.int64)


class PhaseBatches(keras.utils.PyDataset):
    """The micro-batches of one phase: updates × accumulation_steps batches of micro_batch samples.

    Also tells the worker's Recorder what to record (see dlcore.engine.worker): the
    effective batch size, the samples of the phase, and the update count
    (`step_of`) after `done` micro-batches.
    """

    def __init__(self, spec: Spec, x, y, phase: schedules.GrowthPhase, index: int,
                 first_sample: int, first_update: int):
        super().__init__(workers=1, use_multiprocessing=False)
        self.spec, self.x, self.y, self.phase, self.index = spec, x, y, phase, index
        self.first_sample, self.first_update = first_sample, first_update
        self.effective_batch_size = phase.batch_size
        self.samples = phase.batch_size * phase.updates

    def __len__(self):
        return self.phase.updates * self.phase.accumulation_steps

    def __getitem__(self, i):
        m = self.phase.micro_batch
        idx = stream_indices(len(self.x), self.spec.seed, self.first_sample + i * m, m)
        return pipeline.augment_batch(self.spec, self.x[idx], self.y[idx],
                                   pipeline.batch_rng(self.spec.seed, self.index, i))

    def set_epoch(self, epoch: int) -> None:
        """The Recorder calls this every epoch; a phase's samples are fixed when it is made."""

    def step_of(self, done: int) -> float:
        """Optimizer updates of the whole run after `done` micro-batches of this phase."""
        return self.first_update + done / self.phase.accumulation_steps


def _bookkeeping(optimizer) -> set[int]:
    """ids of the optimizer variables that are not per-weight state: the counter, the rate, and
    the gradient accumulators (which are zero between updates)."""
    # (Private attributes: Keras exposes these variables only mixed in with the slots.)
    skip = [optimizer._iterations, getattr(optimizer, "_learning_rate", None),
            *getattr(optimizer, "_accumulated_gradients", [])]
    return {id(v) for v in skip if v is not None}


def slot_variables(optimizer) -> list:
    """The optimizer's per-weight state (momentum, second moments…), in build order."""
    skip = _bookkeeping(optimizer)
    return [v for v in optimizer.variables if id(v) not in skip]


def phase_optimizer(spec: Spec, accumulation_steps: int, variables, previous=None):
    """A built optimizer for one phase: the spec's, averaging `accumulation_steps` micro-batches.

    `previous`, the last phase's optimizer, hands over its per-weight state,
    and its update count goes into the micro-step counter as
    updates × accumulation_steps: ``optimizer.iterations`` keeps counting
    updates across phases, and the count starts at a multiple of the number
    of steps, which is what keeps Keras's ``(micro_steps + 1) % steps`` rule aligned.
    """
    hparams = {k: v for k, v in spec.optimizer.items() if k not in ("name", "learning_rate")}
    steps = int(accumulation_steps)
    opt = optimizers.make_optimizer(spec.optimizer["name"], learning_rate=spec.optimizer["learning_rate"],
                                    gradient_accumulation_steps=steps if steps > 1 else None, **hparams)
    opt.build(variables)
    if previous is not None and previous.built:
        old, new = slot_variables(previous), slot_variables(opt)
        if [tuple(v.shape) for v in old] != [tuple(v.shape) for v in new]:
            raise ValueError("the previous phase's optimizer has other state than this one's; "
                             "cannot carry it over")
        for source, target in zip(old, new):
            target.assign(source)
        updates = int(keras.ops.convert_to_numpy(previous.iterations))
        opt._iterations.assign(updates * steps)  # Keras has no public setter for the counter
    return opt


def compile_phase(model, spec: Spec, phase: schedules.GrowthPhase) -> None:
    """Compile `model` for one phase (the same loss and metrics as dlcore.engine.worker.build_model)."""
    opt = phase_optimizer(spec, phase.accumulation_steps, model.trainable_variables, previous=model.optimizer)
    model.compile(optimizer=opt, loss=keras.losses.SparseCategoricalCrossentropy(), metrics=["accuracy"],
                  steps_per_execution=spec.steps_per_execution)


def phase_batches(model, spec: Spec, x, y, index: int) -> PhaseBatches:
    """Make phase `index` ready to train: compile `model` for its batch size, and return its batches.

    The worker calls this at the start of every epoch of a batch_growth run (one
    phase is one Keras epoch), so batch growth runs in the worker's one loop and
    keeps its streaming, cancelling and checkpointing. Where a phase starts in the
    sample stream and in the update count follows from the plan alone, so a run
    resumed at phase p sees what an uninterrupted one would.
    """
    plan = phases(spec)
    first_sample = sum(p.batch_size * p.updates for p in plan[:index])
    first_update = sum(p.updates for p in plan[:index])
    compile_phase(model, spec, plan[index])
    return PhaseBatches(spec, x, y, plan[index], index, first_sample, first_update)
