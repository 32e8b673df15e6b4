"""The papers' claims next to what our runs measured, with a verdict computed from the runs.

Each claim is data (:data:`CLAIMS`): the exact citation, the claim in words,
its published figure, and the conditions under which our runs can test it.
:func:`check_claim` reads the runs and returns one :class:`Verdict` per run
(or pair of runs) that bears on it:

  - **reproduced**: the run is like-for-like and its number agrees with the
    paper's (within the paper's stated spread where it has one);
  - **not reproduced**: like-for-like, and it does not;
  - **not comparable**, with every reason: a shortened preset, a run cut short,
    a different batch size, data set or network, a stop rule that ends the run
    before the paper's figure can be reached.

Nothing here is hard-coded per run: change the runs and the verdicts follow.
Pure pandas, no Keras.
"""
from __future__ import annotations

import dataclasses
import math

import pandas as pd

from dlcore.engine import runs
from dlcore.results import tables

REPRODUCED, NOT_REPRODUCED, NOT_COMPARABLE = "reproduced", "not reproduced", "not comparable"
VERDICTS = (REPRODUCED, NOT_REPRODUCED, NOT_COMPARABLE)
DATASET_NAMES = {"cifar10": "CIFAR-10", "fashion_mnist": "Fashion-MNIST",
                 "synthetic_cifar10": "synthetic CIFAR-10 stand-in",
                 "synthetic_fashion_mnist": "synthetic Fashion-MNIST stand-in"}


@dataclasses.dataclass(frozen=True)
class Claim:
    """One paper's claim, as the page states it, and what a run must match to test it."""

    key: str
    citation: str              # authors, year, "title", venue, where in the paper
    claim: str
    published: str             # the published figure, in words
    experiments: tuple         # the catalogue experiments whose runs bear on it
    conditions: dict           # what a comparable run has: dataset, batch_size, depth…

    def __repr__(self) -> str:
        return f"Claim({self.key}: {self.claim})"


CLAIMS = (
    Claim(
        key="he2016_resnet44",
        citation='He, Zhang, Ren & Sun (2016), "Deep Residual Learning for Image Recognition", CVPR 2016, Table 6',
        claim="ResNet-44 reaches 7.17 % test error on CIFAR-10 (simple augmentation, 64k iterations).",
        published="7.17 % error (run-to-run spread about ±0.5 points)",
        experiments=("resnet",),
        conditions={"dataset": "cifar10", "depth": 44, "batch_size": 128, "error": 0.0717, "spread": 0.005},
    ),
    Claim(
        key="smith2017_clr",
        citation='Smith (2017), "Cyclical Learning Rates for Training Neural Networks", WACV 2017',
        claim="A cyclical learning rate reaches 81.4 % test accuracy on CIFAR-10 in 25,000 iterations, "
              "where a fixed rate needs 70,000.",
        published="81.4 % at 25k iterations (fixed rate: 70k)",
        experiments=("clr",),
        conditions={"dataset": "cifar10", "accuracy": 0.814, "iterations": 25_000, "fixed_iterations": 70_000},
    ),
    Claim(
        key="hoffer2019_batch_augmentation",
        citation='Hoffer, Ben-Nun, Hubara, Giladi, Hoefler & Soudry (2019/2020), "Augment Your Batch: '
                 'Improving Generalization Through Instance Repetition", CVPR 2020 (arXiv:1901.09335)',
        claim="Batch augmentation (M augmented copies of each sample in the batch) reaches the baseline's "
              "accuracy in fewer epochs.",
        published="fewer epochs than the M = 1 baseline to the baseline's accuracy",
        experiments=("resnet", "batch_augmentation"),
        conditions={"dataset": "cifar10"},
    ),
    Claim(
        key="devries2017_cutout",
        citation='DeVries & Taylor (2017), "Improved Regularization of Convolutional Neural Networks with '
                 'Cutout", arXiv:1708.04552',
        claim="Cutout with a 16 × 16 square (length 16) on CIFAR-10 lowers test error against the same "
              "training without it.",
        published="cutout length 16 on CIFAR-10",
        experiments=("resnet", "batch_augmentation"),
        conditions={"dataset": "cifar10", "length": 16},
    ),
)
BY_KEY = {c.key: c for c in CLAIMS}


@dataclasses.dataclass(frozen=True)
class Verdict:
    """What one run (or pair) says about one claim."""

    claim: Claim
    runs: str                  # the run label(s) it was read from
    measured: str              # what our run measured, in words
    verdict: str               # one of VERDICTS
    reasons: tuple = ()        # why it is not comparable (or what decided it)

    def __repr__(self) -> str:
        return f"Verdict({self.claim.key}, {self.runs}: {self.verdict})"

    def row(self) -> dict:
        return {"paper": self.claim.citation, "claim": self.claim.claim, "published": self.claim.published,
                "our run": self.runs, "measured": self.measured, "verdict": self.verdict,
                "why": "; ".join(self.reasons)}


# --- What a run measured ---------------------------------------------------------------------

def _dataset(run: runs.Run) -> str:
    return run.spec.get("dataset", "?")


def _copies(run: runs.Run) -> int:
    augment = run.spec.get("augment") or {}
    return int(augment.get("M", 1)) if augment.get("name") == "batch_augment" else 1


def _cutout(run: runs.Run) -> int | None:
    augment = run.spec.get("augment") or {}
    return augment.get("cutout") if augment.get("name") == "batch_augment" else augment.get("length")


def _evaluated(run: runs.Run) -> pd.DataFrame:
    epochs = run.epochs()
    if epochs.empty or "val_accuracy" not in epochs:
        return pd.DataFrame(columns=["epoch", "val_accuracy"])
    return epochs.dropna(subset=["val_accuracy"]).sort_values("epoch")


def updates_at_epoch_end(run: runs.Run) -> dict[int, float]:
    """{epoch: optimizer updates done when it ended} from the batch records' steps."""
    batches = run.batches()
    if batches.empty or "step" not in batches:
        return {}
    return {int(e): float(s) for e, s in batches.groupby("epoch")["step"].max().items()}


def first_epoch_at(run: runs.Run, accuracy: float) -> int | None:
    """The first finished epoch whose test accuracy is ≥ `accuracy`, or None."""
    rows = _evaluated(run)
    hits = rows[rows["val_accuracy"] >= accuracy]
    return int(hits["epoch"].iloc[0]) if len(hits) else None


def _length_reasons(run: runs.Run, who: str = "") -> list[str]:
    """Shortened preset / cut short, in words ('' who = the run itself)."""
    reasons = []
    name = f"{who} " if who else ""
    if run.preset != "full":
        reasons.append(f"{name}shortened preset ({run.preset})".strip())
    if run.cut_short:
        reasons.append(f"{name}cut short ({run.epochs_done} of {run.epochs_planned} epochs, {run.state})".strip())
    elif run.state in runs.ACTIVE:
        reasons.append(f"{name}still {run.state} ({run.epochs_done} of {run.epochs_planned} epochs)".strip())
    return reasons


def _dataset_reason(run: runs.Run, wanted: str) -> list[str]:
    have = _dataset(run)
    if have == wanted:
        return []
    return [f"different data set ({DATASET_NAMES.get(have, have)}; the paper: {DATASET_NAMES.get(wanted, wanted)})"]


# --- One check per claim -----------------------------------------------------------------------

def _check_he(claim: Claim, run: runs.Run, label: str) -> Verdict:
    c = claim.conditions
    rows = _evaluated(run)
    if rows.empty:
        return Verdict(claim, label, "no finished epoch with a test evaluation yet", NOT_COMPARABLE,
                       ("no result yet",))
    last = rows.iloc[-1]
    error = 1.0 - float(last["val_accuracy"])
    measured = f"{error:.2%} test error after {int(last['epoch'])} epochs"
    reasons = _dataset_reason(run, c["dataset"])
    depth = (run.spec.get("model") or {}).get("depth")
    if depth != c["depth"]:
        reasons.append(f"different network (ResNet-{depth}; the paper: ResNet-{c['depth']})")
    reasons += _length_reasons(run)
    if run.spec.get("batch_size") != c["batch_size"]:
        reasons.append(f"different batch size ({run.spec.get('batch_size')}; the paper: {c['batch_size']})")
    target = (run.spec.get("stop") or {}).get("val_accuracy")
    if target is not None and target < 1.0 - c["error"] and 1.0 - error >= target:
        reasons.append(f"stopped at its {target:.0%} accuracy target (the homework's rule), before "
                       f"{1 - c['error']:.2%} could be reached")
    if reasons:
        return Verdict(claim, label, measured, NOT_COMPARABLE, tuple(reasons))
    agrees = error <= c["error"] + c["spread"]
    how = (f"{error:.2%} is within {c['spread'] * 100:.1f} points of (or below) {c['error']:.2%}" if agrees
           else f"{error:.2%} is more than {c['spread'] * 100:.1f} points above {c['error']:.2%}")
    return Verdict(claim, label, measured, REPRODUCED if agrees else NOT_REPRODUCED, (how,))


def _check_smith(claim: Claim, run: runs.Run, label: str) -> Verdict:
    c = claim.conditions
    rows = _evaluated(run)
    if rows.empty:
        return Verdict(claim, label, "no finished epoch with a test evaluation yet", NOT_COMPARABLE,
                       ("no result yet",))
    updates = updates_at_epoch_end(run)
    epoch = first_epoch_at(run, c["accuracy"])
    last = int(rows["epoch"].iloc[-1])
    if epoch is not None:
        at = updates.get(epoch, math.nan)
        measured = f"reached {c['accuracy']:.1%} at epoch {epoch} ({at:,.0f} updates)"
    else:
        at = updates.get(last, math.nan)
        measured = (f"{c['accuracy']:.1%} not reached: best {rows['val_accuracy'].max():.1%} in {last} epochs "
                    f"({at:,.0f} updates)")
    measured += "; no fixed-rate run to compare with"
    reasons = _dataset_reason(run, c["dataset"]) + _length_reasons(run)
    if reasons:
        return Verdict(claim, label, measured, NOT_COMPARABLE, tuple(reasons))
    reached = epoch is not None and at <= c["iterations"]
    how = (f"reached {c['accuracy']:.1%} within {c['iterations']:,} updates" if reached
           else f"did not reach {c['accuracy']:.1%} within {c['iterations']:,} updates")
    return Verdict(claim, label, measured, REPRODUCED if reached else NOT_REPRODUCED, (how,))


def _baseline_for(run: runs.Run, baselines: list[runs.Run]) -> runs.Run | None:
    """The M = 1 run to hold `run` against: same preset, data set and depth if there is one."""
    def key(b):
        return (b.preset == run.preset, _dataset(b) == _dataset(run),
                (b.spec.get("model") or {}).get("depth") == (run.spec.get("model") or {}).get("depth"),
                b.state == "finished", b.source == run.source)
    return max(baselines, key=key) if baselines else None


def _pair_reasons(run: runs.Run, base: runs.Run, wanted_dataset: str) -> list[str]:
    reasons = _dataset_reason(run, wanted_dataset)
    if base.preset != run.preset:
        reasons.append(f"different presets ({run.preset}; baseline {base.preset})")
    mine = _length_reasons(run)
    # Both shortened the same way: say it once.
    theirs = [r for r in _length_reasons(base, "baseline") if r.removeprefix("baseline ") not in mine]
    reasons += [f"{r} (both runs)" if r.startswith("shortened") and base.preset == run.preset else r for r in mine]
    reasons += theirs
    if run.spec.get("batch_size") != base.spec.get("batch_size"):
        reasons.append(f"different batch size ({run.spec.get('batch_size')} samples; baseline "
                       f"{base.spec.get('batch_size')})")
    if (run.spec.get("model") or {}).get("depth") != (base.spec.get("model") or {}).get("depth"):
        reasons.append("different network from the baseline")
    return list(dict.fromkeys(reasons))


def _check_hoffer(claim: Claim, run: runs.Run, base: runs.Run | None, label: str, base_label: str) -> Verdict:
    if base is None:
        return Verdict(claim, label, "no M = 1 baseline run to compare with", NOT_COMPARABLE, ("no baseline",))
    pair = f"{label} vs {base_label}"
    base_rows, rows = _evaluated(base), _evaluated(run)
    if base_rows.empty or rows.empty:
        return Verdict(claim, pair, "no finished epoch with a test evaluation yet", NOT_COMPARABLE,
                       ("no result yet",))
    target = float(base_rows["val_accuracy"].iloc[-1])
    base_epoch = first_epoch_at(base, target)
    epoch = first_epoch_at(run, target)
    m = _copies(run)
    measured = (f"baseline: {target:.1%} first at epoch {base_epoch}; M = {m}: "
                + (f"at epoch {epoch}" if epoch is not None
                   else f"not reached in {int(rows['epoch'].iloc[-1])} epochs (best {rows['val_accuracy'].max():.1%})"))
    reasons = _pair_reasons(run, base, claim.conditions["dataset"])
    if reasons:
        return Verdict(claim, pair, measured, NOT_COMPARABLE, tuple(reasons))
    fewer = epoch is not None and epoch < base_epoch
    how = (f"M = {m} reached the baseline's {target:.1%} {base_epoch - epoch} epoch(s) sooner" if fewer
           else f"M = {m} did not reach the baseline's {target:.1%} in fewer epochs")
    return Verdict(claim, pair, measured, REPRODUCED if fewer else NOT_REPRODUCED, (how,))


def _check_devries(claim: Claim, run: runs.Run, base: runs.Run | None, label: str, base_label: str) -> Verdict:
    c = claim.conditions
    length, m = _cutout(run), _copies(run)
    measured = f"cutout length {length} with M = {m} cop{'y' if m == 1 else 'ies'} per sample"
    reasons = []
    if length != c["length"]:
        reasons.append(f"different cutout length ({length}; the paper: {c['length']})")
    if m != 1:
        reasons.append(f"cutout comes with M = {m} copies per sample (batch augmentation), so its own effect "
                       "is not isolated")
    if base is None:
        reasons.append("no run without cutout to compare with")
        return Verdict(claim, label, measured, NOT_COMPARABLE, tuple(reasons))
    pair = f"{label} vs {base_label}"
    reasons += _pair_reasons(run, base, c["dataset"])
    rows, base_rows = _evaluated(run), _evaluated(base)
    if rows.empty or base_rows.empty:
        return Verdict(claim, pair, measured, NOT_COMPARABLE, tuple(reasons) or ("no result yet",))
    error, base_error = 1 - float(rows["val_accuracy"].iloc[-1]), 1 - float(base_rows["val_accuracy"].iloc[-1])
    measured += f": {error:.2%} test error against {base_error:.2%} without cutout"
    if reasons:
        return Verdict(claim, pair, measured, NOT_COMPARABLE, tuple(dict.fromkeys(reasons)))
    lower = error < base_error
    how = f"{'lower' if lower else 'not lower'} test error than the same training without cutout"
    return Verdict(claim, pair, measured, REPRODUCED if lower else NOT_REPRODUCED, (how,))


def _m1(found: list[runs.Run]) -> list[runs.Run]:
    """Runs without cutout and without copies (the He et al. baseline)."""
    return [r for r in found if _copies(r) == 1 and _cutout(r) is None]


def check_claim(claim: Claim, runs_list: list[runs.Run]) -> list[Verdict]:
    """One Verdict per run (or run pair) of `runs_list` that bears on `claim`."""
    found = [r for r in runs_list if r.spec.get("experiment") in claim.experiments]
    labels = dict(zip(map(id, found), tables.run_labels(found)))

    def label(run):
        return labels[id(run)]

    if claim.key == "he2016_resnet44":
        return [_check_he(claim, r, label(r)) for r in _m1(found)]
    if claim.key == "smith2017_clr":
        return [_check_smith(claim, r, label(r)) for r in found]
    baselines = _m1(found)
    if claim.key == "hoffer2019_batch_augmentation":
        out = []
        for r in sorted((r for r in found if _copies(r) > 1), key=_copies):
            base = _baseline_for(r, baselines)
            out.append(_check_hoffer(claim, r, base, label(r), label(base) if base else ""))
        return out
    if claim.key == "devries2017_cutout":
        out = []
        for r in sorted((r for r in found if _cutout(r) is not None), key=_copies):
            base = _baseline_for(r, baselines)
            out.append(_check_devries(claim, r, base, label(r), label(base) if base else ""))
        return out
    raise ValueError(f"no check for claim {claim.key!r}")


def claims_for(experiment: str) -> list[Claim]:
    """The claims the runs of `experiment` bear on (none for an experiment no paper claims about)."""
    return [c for c in CLAIMS if experiment in c.experiments]


def claims_table(claims: list[Claim], runs_list: list[runs.Run]) -> pd.DataFrame:
    """One row per verdict: paper, claim, published, our run, measured, verdict, why."""
    rows = [v.row() for c in claims for v in check_claim(c, runs_list)]
    return pd.DataFrame(rows, columns=["paper", "claim", "published", "our run", "measured", "verdict", "why"])
