"""The five methods compared on the MLP of SPEC Problem 1.2-1.3, from their run folders.

The homework asks, for L2 (1.2) and for dropout (1.3): which method reaches
the lowest training loss, how the training loss and the test accuracy compare
between the two regularizers, and how the training time of each method changes
with dropout. This module answers from the runs themselves:

  - :func:`results` → one :class:`RunResult` per run (final training loss, best
    and final test accuracy, wall-clock per run and per epoch, a verdict that
    flags a run that diverged or learned nothing);
  - :func:`time_differences` → dropout − L2 per method, per epoch and per run;
  - :func:`discussion` → the discussion as short points whose every number and
    ranking is computed here, so when the runs change the words follow.

It also says which hyper-parameters a run used next to the textbook's
(:func:`hparam_rows`), because MLP_DEFAULTS keeps the Keras defaults the
notebook ran, and where those differ from the book the page must say so.

No Keras and no Streamlit here: the optimizers page opens instantly.
"""
from __future__ import annotations

import dataclasses
import datetime as dt
import math

import pandas as pd

from dlcore.core import rules
from dlcore.engine import experiments, runs
from dlcore.results import tables

EXPERIMENTS = {"l2": "mlp_l2", "dropout": "mlp_dropout"}
REGULARIZER_OF = {v: k for k, v in EXPERIMENTS.items()}
REGULARIZER_TITLES = {"l2": "L2", "dropout": "dropout"}
PROBLEMS = {"l2": "Problem 1.2", "dropout": "Problem 1.3"}
NUM_CLASSES = 10
CHANCE_ACCURACY = 1 / NUM_CLASSES
# Predicting 1/10 for every class costs ln 10 = 2.30 per image: the floor of a
# network that has learned nothing. The seed notebook's dropout runs sat there.
CHANCE_LOSS = math.log(NUM_CLASSES)
# Accuracy within 2 points of chance counts as chance; a loss more than 1 above
# ln 10 at chance accuracy means confident wrong answers, i.e. the run diverged.
CHANCE_MARGIN = 0.02
DIVERGED_ABOVE_CHANCE_LOSS = 1.0
# Two time measurements closer than this fraction are "about the same".
SAME_TIME = 0.02
# Final losses closer than this are reported as a tie rather than a win.
TIE = 0.01
# Keras clips predicted probabilities to [1e-7, 1 − 1e-7] before the log of the cross-entropy.
PROBABILITY_FLOOR = 1e-7
FLOOR_LOSS = -math.log(PROBABILITY_FLOOR)


# --- Hyper-parameters: what the runs use, next to the textbook --------------------------------

def hparams_used(method: str, changes: dict | None = None) -> dict:
    """Every hyper-parameter the MLP run of `method` trains with.

    The worker builds the optimizer with dlcore.keras_parts.optimizers.make_optimizer, which
    starts from rules.DEFAULTS (the textbook values) and applies the spec's
    optimizer dict (experiments.MLP_DEFAULTS, then the user's changes) on top.
    """
    return {**rules.DEFAULTS[method], **experiments.MLP_DEFAULTS[method], **(changes or {})}


def changed_hparams(method: str, values: dict) -> dict:
    """Only the values in `values` that differ from :func:`hparams_used` (what a spec must carry)."""
    base = hparams_used(method)
    return {k: v for k, v in values.items() if k in base and v != base[k]}


def hparam_rows(method: str, values: dict | None = None) -> list[dict]:
    """One row per hyper-parameter: symbol, value used, the textbook default, and whether they differ."""
    used = hparams_used(method, values)
    rows = []
    for name in rules.HPARAMS[method]:
        book = rules.DEFAULTS[method][name]
        rows.append({"hyper-parameter": name, "symbol": rules.SYMBOLS_TEXT[name], "used": used[name],
                     "textbook default": book, "differs": used[name] != book})
    return rows


def default_differences() -> list[str]:
    """Where the MLP runs' defaults (Keras's, as the notebook and the cached runs) differ from the book."""
    out = []
    for method in experiments.METHODS:
        for row in hparam_rows(method):
            if row["differs"]:
                out.append(f"{experiments.METHOD_LABELS[method]}: {row['symbol']} ({row['hyper-parameter']}) = "
                           f"{row['used']:g} here, textbook {row['textbook default']:g}")
    return out


def setting_changes(spec: dict) -> list[str]:
    """What a run's spec changed from its preset's defaults, in words ('α = 0.01', 'batch 256')."""
    method = (spec.get("optimizer") or {}).get("name")
    out = []
    if method in experiments.MLP_DEFAULTS:
        base = hparams_used(method)
        for name, value in (spec.get("optimizer") or {}).items():
            if name in base and value != base[name]:
                out.append(f"{rules.SYMBOLS_TEXT.get(name, name)} = {value:g}")
    preset = spec.get("preset")
    if preset in experiments.MLP_SIZES and spec.get("batch_size") != experiments.MLP_SIZES[preset][4]:
        out.append(f"batch {spec.get('batch_size')}")
    model = spec.get("model") or {}
    if model.get("regularizer") == "l2" and model.get("l2", 5e-4) != 5e-4:
        out.append(f"L2 factor {model['l2']:g}")
    if model.get("hidden", 1000) != 1000:
        out.append(f"hidden {model['hidden']}")
    return out


# --- Which runs ------------------------------------------------------------------------------

def is_mlp_run(run: runs.Run) -> bool:
    """An MLP run of Problem 1 that can be read (a damaged run folder is no result)."""
    return run.spec.get("experiment") in REGULARIZER_OF and not run.damaged


def cached_presets(runs_list: list[runs.Run]) -> list[str]:
    """Presets that have cached MLP runs, longest first (full, class, smoke)."""
    have = {r.preset for r in runs_list if r.source == "cached" and is_mlp_run(r)}
    return [p for p in experiments.PRESETS if p in have]


def cached_set(runs_list: list[runs.Run], preset: str | None = None) -> list[runs.Run]:
    """The cached MLP runs of one preset: `preset`, or the full one when present, else the longest there is.

    One preset for both regularizers, so a comparison never sets a shortened run against a full one.
    """
    presets = cached_presets(runs_list)
    if not presets:
        return []
    chosen = preset if preset in presets else presets[0]
    found = [r for r in runs_list if r.source == "cached" and is_mlp_run(r) and r.preset == chosen]
    return sorted(found, key=lambda r: (list(EXPERIMENTS.values()).index(r.spec["experiment"]),
                                        _method_order(r.spec.get("name"))))


def latest_per_method(runs_list: list[runs.Run]) -> list[runs.Run]:
    """The newest run of each (regularizer, method, preset): the ones a discussion compares.

    `runs_list` is newest first (as runs.list_runs returns live runs).
    """
    seen, out = set(), []
    for run in runs_list:
        key = (run.spec.get("experiment"), run.spec.get("name"), run.preset)
        if key not in seen:
            seen.add(key)
            out.append(run)
    return out


def _method_order(name) -> int:
    return experiments.METHODS.index(name) if name in experiments.METHODS else len(experiments.METHODS)


# --- One run's numbers -----------------------------------------------------------------------

@dataclasses.dataclass(frozen=True)
class Verdict:
    """Whether a run learned: 'ok', 'chance' (learned nothing), 'diverged' (worse than nothing), or
    'pending' (no finished epoch to judge yet)."""
    kind: str
    reason: str = ""
    since: int | None = None     # at chance from this epoch to the last (diverged / chance only)

    def __str__(self) -> str:
        return self.kind if not self.reason else f"{self.kind}: {self.reason}"


def _accuracies(row) -> list[float]:
    return [float(row[c]) for c in ("accuracy", "val_accuracy") if c in row and pd.notna(row[c])]


def verdict(epochs: pd.DataFrame, early_peak: float | None = None) -> Verdict:
    """Read a run's epoch records for divergence.

    Diverged: a training loss that is not a finite number, or a run whose last
    epoch is at chance accuracy (training and test) with a loss more than
    DIVERGED_ABOVE_CHANCE_LOSS above ln 10 — it predicts wrong classes with
    confidence, worse than guessing. At chance with a loss near ln 10: it
    learned nothing (the notebook's raw-pixel runs). Else ok.
    """
    if epochs.empty or "loss" not in epochs:
        return Verdict("pending", "no finished epoch yet")
    bad = epochs[~epochs["loss"].map(lambda v: v is not None and math.isfinite(float(v)))]
    if len(bad):
        first = bad.iloc[0]
        return Verdict("diverged", f"training loss became {first['loss']} at epoch {int(first['epoch'])}")
    ordered = epochs.sort_values("epoch")
    last = ordered.iloc[-1]
    accs = _accuracies(last)
    if not accs or max(accs) > CHANCE_ACCURACY + CHANCE_MARGIN:
        return Verdict("ok")
    # The epoch since which it has stayed at chance (training and test accuracy).
    since = int(last["epoch"])
    for _, row in ordered.iloc[::-1].iterrows():
        if max(_accuracies(row) or [1.0]) > CHANCE_ACCURACY + CHANCE_MARGIN:
            break
        since = int(row["epoch"])
    span = f"from epoch {since} to {int(last['epoch'])}" if since < int(last["epoch"]) else f"at epoch {since}"
    acc_text = f"accuracy {max(accs):.1%}, chance level (1 in {NUM_CLASSES}), {span}"
    if float(last["loss"]) > CHANCE_LOSS + DIVERGED_ABOVE_CHANCE_LOSS:
        return Verdict("diverged", f"training loss {float(last['loss']):.3f} at epoch {int(last['epoch'])}, far "
                                   f"above the ln {NUM_CLASSES} = {CHANCE_LOSS:.2f} of guessing uniformly, and "
                                   f"{acc_text}", since)
    peak = ordered.loc[ordered["loss"].astype(float).idxmax()]
    top, where = float(peak["loss"]), f"at epoch {int(peak['epoch'])}"
    if early_peak is not None and early_peak > top:  # a first-epoch batch the epoch's mean hides
        top, where = float(early_peak), "in a logged batch of epoch 1"
    if top > CHANCE_LOSS + DIVERGED_ABOVE_CHANCE_LOSS:
        # Blown up, then stuck at ln 10 (as dlcore.results.health reads it): the overshooting
        # steps left dead ReLUs that predict uniformly ever after.
        return Verdict("diverged", f"training loss blew up to {top:.3g} {where}, then sat at "
                                   f"ln {NUM_CLASSES} = {CHANCE_LOSS:.2f} with {acc_text}", since)
    return Verdict("chance", f"training loss {float(last['loss']):.3f} ≈ ln {NUM_CLASSES} = {CHANCE_LOSS:.2f} "
                             f"(guessing uniformly) and {acc_text}: it learned nothing", since)


@dataclasses.dataclass(frozen=True)
class RunResult:
    """The numbers of one MLP run the page tables and the discussion use."""
    run_id: str
    path: str                    # the run folder: unique even where two run ids look alike
    source: str
    regularizer: str
    method: str
    preset: str
    state: str
    settings: tuple              # changes from the defaults, in words (empty: defaults)
    hparams: dict                # every optimizer hyper-parameter the run trained with
    epochs_done: int
    epochs_planned: int
    final_loss: float | None     # training loss of the last finished epoch
    final_test_accuracy: float | None
    best_test_accuracy: float | None
    best_epoch: int | None
    wall_s: float | None         # wall-clock at the last finished epoch (training + test evaluation)
    epoch_s: float | None        # median seconds per epoch (the first, with compilation, left out)
    first_epoch_s: float | None  # the first epoch: compilation (tracing, XLA) plus training
    images_per_s: float | None   # median training images per second
    early_peak_loss: float | None  # the highest logged batch loss of the first epoch
    hardware: str
    backend: str
    started: str | None
    ended: str | None
    verdict: Verdict
    notes: str = ""              # what a shortened preset shortened (spec notes)

    @property
    def title(self) -> str:
        """The method's name, with any changed settings: 'Adam', 'Adam (α = 0.01)'."""
        name = experiments.METHOD_LABELS.get(self.method, self.method)
        return f"{name} ({', '.join(self.settings)})" if self.settings else name

    @property
    def diverged(self) -> bool:
        return self.verdict.kind == "diverged"

    @property
    def complete(self) -> bool:
        return self.state == "finished" and self.epochs_done >= self.epochs_planned


def _num(value) -> float | None:
    return None if value is None or pd.isna(value) else float(value)


def _run_hparams(spec: dict) -> dict:
    optimizer = dict(spec.get("optimizer") or {})
    method = optimizer.pop("name", None)
    return hparams_used(method, optimizer) if method in experiments.MLP_DEFAULTS else optimizer


def run_result(run: runs.Run) -> RunResult:
    """The numbers of one run, from its metric records (read once)."""
    records = run.records()
    epochs = pd.DataFrame([r for r in records if r["event"] == "epoch"])
    early = [r.get("loss") for r in records if r["event"] == "batch" and r.get("epoch") == 1]
    early = [float(v) for v in early if v is not None and math.isfinite(float(v))]
    epochs = epochs.sort_values("epoch") if len(epochs) else epochs
    last = epochs.iloc[-1] if len(epochs) else pd.Series(dtype=object)
    val = epochs["val_accuracy"].dropna() if "val_accuracy" in epochs else pd.Series(dtype=float)
    best = epochs.loc[val.idxmax()] if len(val) else None
    times = epochs["epoch_s"].dropna() if "epoch_s" in epochs else pd.Series(dtype=float)
    # The first epoch carries compilation; the median of the rest is what an epoch costs.
    steady = times.iloc[1:] if len(times) > 1 else times
    ips = epochs["images_per_s"].dropna() if "images_per_s" in epochs else pd.Series(dtype=float)
    p = run.provenance
    return RunResult(
        run_id=run.run_id, path=str(run.path), source=run.source,
        regularizer=REGULARIZER_OF.get(run.spec.get("experiment"), "?"),
        method=run.spec.get("name", "?"), preset=run.preset, state=run.state,
        settings=tuple(setting_changes(run.spec)),
        hparams=_run_hparams(run.spec),
        epochs_done=int(last["epoch"]) if len(epochs) else 0,
        epochs_planned=int(run.status.get("epochs") or run.spec.get("epochs") or 0),
        final_loss=_num(last.get("loss")),
        final_test_accuracy=_num(last.get("val_accuracy")),
        best_test_accuracy=_num(best["val_accuracy"]) if best is not None else None,
        best_epoch=int(best["epoch"]) if best is not None else None,
        wall_s=_num(last.get("wall_s")),
        epoch_s=float(steady.median()) if len(steady) else None,
        first_epoch_s=float(times.iloc[0]) if len(times) else None,
        images_per_s=float(ips.median()) if len(ips) else None,
        early_peak_loss=max(early) if early else None,
        hardware=(p.get("hardware") or {}).get("device") or "hardware unknown",
        backend=p.get("backend") or (p.get("versions") or {}).get("backend") or "",
        started=p.get("started") or run.status.get("started"),
        ended=p.get("ended") or run.status.get("ended"),
        verdict=verdict(epochs, max(early) if early else None),
        notes=run.spec.get("notes") or ("" if run.preset == "full" else f"{run.preset} preset: shortened"),
    )


def results(runs_list: list[runs.Run]) -> list[RunResult]:
    """:func:`run_result` of each MLP run, L2 first, then dropout, each in the SPEC's method order."""
    found = [run_result(r) for r in runs_list if is_mlp_run(r)]
    return sorted(found, key=lambda r: (list(EXPERIMENTS).index(r.regularizer), _method_order(r.method)))


# What each run learned; where and how long it ran is :func:`run_times_table` (two tables, so that
# each fits a projector's width at 1024 px).
RESULT_COLUMNS = ["regularizer", "method", "verdict", "final training loss", "best test accuracy", "best at epoch",
                  "final test accuracy", "epochs", "preset", "state", "source"]


def results_table(found: list[RunResult]) -> pd.DataFrame:
    """One display row per run: what it learned (numbers stay numbers; the page formats them)."""
    rows = [{
        "regularizer": REGULARIZER_TITLES.get(r.regularizer, r.regularizer), "method": r.title,
        "verdict": r.verdict.kind, "final training loss": r.final_loss,
        "best test accuracy": r.best_test_accuracy, "best at epoch": r.best_epoch,
        "final test accuracy": r.final_test_accuracy, "epochs": f"{r.epochs_done}/{r.epochs_planned}",
        "preset": r.preset if r.preset == "full" else f"{r.preset} (shortened)", "state": r.state,
        "source": r.source,
    } for r in found]
    return pd.DataFrame(rows, columns=RESULT_COLUMNS)


# Seconds, all of them (the page's caption says so, so the headers stay short).
RUN_TIME_COLUMNS = ["regularizer", "method", "wall-clock", "median epoch", "first epoch", "images/s", "hardware",
                    "backend"]


def run_times_table(found: list[RunResult]) -> pd.DataFrame:
    """One display row per run: its wall-clock, median and first epoch (s), throughput, and where it ran."""
    rows = [{
        "regularizer": REGULARIZER_TITLES.get(r.regularizer, r.regularizer), "method": r.title,
        "wall-clock": r.wall_s, "median epoch": r.epoch_s, "first epoch": r.first_epoch_s,
        "images/s": r.images_per_s, "hardware": r.hardware, "backend": r.backend,
    } for r in found]
    return pd.DataFrame(rows, columns=RUN_TIME_COLUMNS)


PROVENANCE_COLUMNS = ["run", "preset", "state", "hardware", "backend", "wall-clock", "started", "ended", "source",
                      "notes"]


def provenance_table(found: list[RunResult]) -> pd.DataFrame:
    """Where each run's numbers come from, one row per run: preset (and what it shortened), state,
    hardware, backend, wall-clock, start and end (UTC)."""
    rows = [{
        "run": f"{EXPERIMENTS.get(r.regularizer, r.regularizer)}/{r.method}" + (
            f" ({', '.join(r.settings)})" if r.settings else ""),
        "preset": r.preset if r.preset == "full" else f"{r.preset} (shortened)", "state": r.state,
        "hardware": r.hardware, "backend": r.backend, "wall-clock": tables.duration_text(r.wall_s),
        "started": (r.started or "")[:19].replace("T", " "), "ended": (r.ended or "")[:19].replace("T", " "),
        "source": r.source, "notes": r.notes,
    } for r in found]
    return pd.DataFrame(rows, columns=PROVENANCE_COLUMNS)


# --- Comparisons -----------------------------------------------------------------------------

def of(found: list[RunResult], regularizer: str) -> list[RunResult]:
    return [r for r in found if r.regularizer == regularizer]


def ranking(found: list[RunResult], regularizer: str) -> list[RunResult]:
    """Runs of one regularizer that did not diverge, lowest final training loss first."""
    ok = [r for r in of(found, regularizer) if r.final_loss is not None and not r.diverged]
    return sorted(ok, key=lambda r: r.final_loss)


def lowest_loss(found: list[RunResult], regularizer: str) -> RunResult | None:
    """The run with the lowest final training loss for one regularizer (None when there is none)."""
    ranked = ranking(found, regularizer)
    return ranked[0] if ranked else None


def best_test(found: list[RunResult], regularizer: str) -> RunResult | None:
    ok = [r for r in of(found, regularizer) if r.best_test_accuracy is not None]
    return max(ok, key=lambda r: r.best_test_accuracy) if ok else None


def pairs(found: list[RunResult]) -> list[tuple[RunResult, RunResult]]:
    """(L2, dropout) runs of the same method and preset, in the SPEC's method order."""
    out = []
    for l2 in of(found, "l2"):
        match = [d for d in of(found, "dropout") if d.method == l2.method and d.preset == l2.preset]
        if match:
            out.append((l2, match[0]))
    return out


TIME_COLUMNS = ["method", "s/epoch with L2", "s/epoch with dropout", "dropout − L2 (s/epoch)",
                "dropout − L2 (%)", "wall-clock with L2 (s)", "wall-clock with dropout (s)",
                "dropout − L2 wall-clock (s)", "epochs"]


def time_differences(found: list[RunResult]) -> pd.DataFrame:
    """Per method: median seconds per epoch and whole-run wall-clock with L2 and with dropout, and
    dropout − L2 (the homework's 'training time with and without dropout')."""
    rows = []
    for l2, drop in pairs(found):
        per_epoch = (drop.epoch_s - l2.epoch_s) if None not in (l2.epoch_s, drop.epoch_s) else None
        wall = (drop.wall_s - l2.wall_s) if None not in (l2.wall_s, drop.wall_s) else None
        rows.append({
            "method": experiments.METHOD_LABELS.get(l2.method, l2.method),
            "s/epoch with L2": l2.epoch_s, "s/epoch with dropout": drop.epoch_s,
            "dropout − L2 (s/epoch)": per_epoch,
            "dropout − L2 (%)": 100 * per_epoch / l2.epoch_s if per_epoch is not None and l2.epoch_s else None,
            "wall-clock with L2 (s)": l2.wall_s, "wall-clock with dropout (s)": drop.wall_s,
            "dropout − L2 wall-clock (s)": wall,
            "epochs": f"{l2.epochs_done} / {drop.epochs_done}",
        })
    return pd.DataFrame(rows, columns=TIME_COLUMNS)


def same_work_spread(found: list[RunResult], regularizer: str) -> float | None:
    """How much the median epoch time varies among the runs of one regularizer: max/min − 1.

    Those runs do the same forward and backward work (only the optimizer's few
    element-wise operations differ), so this spread is the timing noise of the
    machine: a dropout − L2 difference smaller than it is not measurable here.
    """
    times = [r.epoch_s for r in of(found, regularizer) if r.epoch_s]
    return max(times) / min(times) - 1 if len(times) >= 2 else None


def _time(text) -> dt.datetime | None:
    try:
        return dt.datetime.fromisoformat(str(text))
    except (TypeError, ValueError):
        return None


def concurrent_with(found: list[RunResult]) -> dict[str, int]:
    """For each run (by folder), how many other runs of `found` trained at the same time on the same hardware
    (their [started, ended] intervals overlap): those shared the machine, and their wall-clock
    includes waiting for each other."""
    spans = {r.path: (_time(r.started), _time(r.ended), r.hardware) for r in found}
    out = {}
    for rid, (s, e, hw) in spans.items():
        n = 0
        if s and e:
            for other, (s2, e2, hw2) in spans.items():
                if other != rid and s2 and e2 and hw2 == hw and s < e2 and s2 < e:
                    n += 1
        out[rid] = n
    return out


# --- The discussion, in short points computed from the numbers ---------------------------------
# Each part of the discussion is a heading and its points, one claim with its number each (about a
# line on a projector). The page lists the parts, so the points become a list under each heading.

def _part(heading: str, points: list[str]) -> str:
    """A heading and its points as one markdown block (the points as a list nested under it)."""
    return heading + "".join(f"\n  - {p}" for p in points if p)


def _loss(r: RunResult) -> str:
    return f"{r.final_loss:.3f}" if r.final_loss is not None else "—"


def _after(r: RunResult) -> str:
    return f"after {r.epochs_done} epoch{'s' if r.epochs_done != 1 else ''}"


def _pct(x: float) -> str:
    return f"{x:+.1%}".replace("-", "−")


def _signed(x: float, digits: int = 3) -> str:
    """+0.014 / −0.950: a typographic minus, as in the rest of the text."""
    return f"{x:+.{digits}f}".replace("-", "−")


def _span(lo: str, hi: str, joiner: str = " to ") -> str:
    """'+0.1 to +0.9', or one value as one value."""
    return lo if lo == hi else f"{lo}{joiner}{hi}"


def _winner_part(found: list[RunResult], regularizer: str) -> str | None:
    group = of(found, regularizer)
    if not group:
        return None
    points = []
    ranked = ranking(found, regularizer)
    if ranked:
        win = ranked[0]
        points.append(f"Lowest final training loss: **{win.title}**, {_loss(win)} {_after(win)}.")
        if ranked[1:]:
            points.append("Then " + ", ".join(f"{r.title} {_loss(r)}" for r in ranked[1:]) + ".")
        if len(ranked) >= 2:
            gap = ranked[1].final_loss - win.final_loss
            points.append(f"Margin to the second ({ranked[1].title}): {gap:.3f}"
                          + (", a tie at this length." if gap < TIE else "."))
    elif all(r.epochs_done == 0 for r in group):
        points.append("No run has finished an epoch yet.")
    else:
        points.append("No run has a usable training loss.")
    for r in group:
        if r.diverged:
            points.append(_diverged_point(r))
            points.append("Its curve stays on the chart; it is left out of the ranking.")
            points += _divergence_points(found, r)
        elif r.verdict.kind == "chance":
            points.append(f"{r.title}: {r.verdict.reason}.")
    return _part(f"**With {REGULARIZER_TITLES[regularizer]}** ({PROBLEMS[regularizer]})", points)


def _diverged_point(r: RunResult) -> str:
    """A diverged run in one line: its final numbers next to guessing's (the whole reason is on the page
    above the table)."""
    if r.verdict.since is None or r.final_loss is None or r.final_test_accuracy is None:
        return f"**{r.title} diverged**: {r.verdict.reason}."
    return (f"**{r.title} diverged**: at chance since epoch {r.verdict.since} (test accuracy "
            f"{r.final_test_accuracy:.1%}), final training loss {_loss(r)} (guessing: ln {NUM_CLASSES} = "
            f"{CHANCE_LOSS:.2f}).")


def _divergence_points(found: list[RunResult], r: RunResult) -> list[str]:
    """What the numbers say about a diverged run: the first-epoch spike it shares with the others,
    and, when its loss is exactly that of Keras's probability floor, why it never came back."""
    points = []
    others = [o for o in found if o is not r and not o.diverged and o.early_peak_loss is not None]
    if r.early_peak_loss is not None and others:
        peaks = [o.early_peak_loss for o in others]
        then = ("this one's never did." if r.verdict.since == 1 else
                f"this one learned at first and has been at chance since epoch {r.verdict.since}.")
        points.append(f"First epoch: the other runs' logged batch losses peaked at {value_range(peaks, '.1f')} "
                      f"(this one's: {r.early_peak_loss:.1f}) and then fell; {then}")
    acc = r.final_test_accuracy
    if acc is not None and r.final_loss is not None:
        floor = (1 - acc) * FLOOR_LOSS
        if abs(r.final_loss - floor) <= 0.01 * floor:
            points.append(f"Its loss is (1 − {acc:.3f}) × {FLOOR_LOSS:.3f} = {floor:.3f}: each misclassified image "
                          "gets probability 1e-7 for its true class.")
            points.append(f"That is Keras's floor (−ln 1e-7 = {FLOOR_LOSS:.3f}): below it the clipped loss passes no "
                          "gradient back, so nothing pulls the network out.")
    momentum = r.hparams.get("momentum")
    if momentum:
        points.append("A likely cause: while S is small, an adaptive method steps by about α per weight, in the "
                      "gradient's sign (the spikes).")
        points.append(f"Momentum μ = {momentum:g} keeps adding those steps up, to as much as "
                      f"1/(1 − μ) = {1 / (1 - momentum):.0f} steps' worth.")
    return points


def _regularizer_part(found: list[RunResult]) -> str | None:
    both = [(a, b) for a, b in pairs(found) if a.verdict.kind == "ok" and b.verdict.kind == "ok"
            and a.final_loss is not None and b.final_loss is not None]
    if not both:
        return None
    higher = [a for a, b in both if b.final_loss > a.final_loss]
    diffs = [b.final_loss - a.final_loss for a, b in both]
    lw, dw = lowest_loss(found, "l2"), lowest_loss(found, "dropout")
    count = f"all {len(both)}" if len(higher) == len(both) and len(both) > 1 else f"{len(higher)} of the {len(both)}"
    points = [f"Dropout ends with a higher training loss than L2 for {count} methods that learned with both "
              f"(dropout − L2: {_span(_signed(min(diffs)), _signed(max(diffs)))})."]
    if lw and dw:
        points.append(f"{lw.title} wins with both regularizers." if lw.method == dw.method else
                      f"The winner changes: {lw.title} with L2, {dw.title} with dropout.")
    points.append("With L2, the training loss includes the penalty λ·Σw² on the hidden kernels.")
    points.append("With dropout, it is the loss of a thinned network (20 % of the inputs and half the hidden units "
                  "off at each step).")
    return _part("**L2 vs dropout, training loss**", points)


def _accuracy_part(found: list[RunResult]) -> str | None:
    points = []
    for reg in EXPERIMENTS:
        b = best_test(found, reg)
        if b is not None:
            final = f", {b.final_test_accuracy:.1%} at the end" if b.final_test_accuracy is not None else ""
            points.append(f"Best with {REGULARIZER_TITLES[reg]}: {b.title}, **{b.best_test_accuracy:.1%}** "
                          f"(epoch {b.best_epoch}{final}).")
    if not points:
        return None
    lw, bl = lowest_loss(found, "l2"), best_test(found, "l2")
    dw, bd = lowest_loss(found, "dropout"), best_test(found, "dropout")
    mismatch = [f"{REGULARIZER_TITLES[reg]}" for reg, w, b in (("l2", lw, bl), ("dropout", dw, bd))
                if w and b and w.method != b.method]
    if mismatch:
        points.append(f"With {' and '.join(mismatch)}, the lowest training loss is not the best test accuracy: "
                      "fitting better is not generalising better.")
    return _part("**Test accuracy**", points)


def _time_part(found: list[RunResult]) -> str | None:
    table = time_differences(found).dropna(subset=["dropout − L2 (%)"])
    if table.empty:
        return None
    pct = table["dropout − L2 (%)"] / 100
    mean = float(pct.mean())
    slower = int((pct > 0).sum())
    n = f"{len(pct)} method{'s' if len(pct) != 1 else ''}"
    points = [f"Per epoch (median, the compiling first epoch left out), dropout took {_pct(mean)} compared with "
              f"L2, the mean over {n}.",
              f"Per method: {_span(_pct(float(pct.min())), _pct(float(pct.max())))}; slower for {slower} of "
              f"{len(pct)}."]
    walls = table["dropout − L2 wall-clock (s)"].dropna()
    if len(walls):
        points.append(f"Whole runs: the wall-clock changed by "
                      f"{_span(_signed(walls.min(), 1) + ' s', _signed(walls.max(), 1) + ' s')}.")
    spreads = [s for s in (same_work_spread(found, "l2"), same_work_spread(found, "dropout")) if s is not None]
    noise = max(spreads) if spreads else None
    if noise is not None and abs(mean) <= max(noise, SAME_TIME):
        points.append(f"That is within the spread among runs doing the same work (up to {noise:.1%}): these "
                      "timings cannot resolve dropout's cost.")
        points.append("Whatever else slows the machine (other processes, runs sharing it) moves an epoch's time "
                      "more than dropout does.")
    elif abs(mean) <= SAME_TIME:
        points.append("That is about the same time.")
    else:
        points.append(f"Dropout made the epochs {'longer' if mean > 0 else 'shorter'}"
                      + (f", by more than the spread among runs that do the same work ({noise:.1%})."
                         if noise is not None else "."))
    points.append("Why it can only be small: dropout adds one random number and one multiply per unit and step "
                  "(batch × units).")
    points.append("The dense layers do batch × 3072 × 1000 and batch × 1000 × 1000 multiply-adds, and the test "
                  "evaluation runs without dropout.")
    points.append("Where dropout costs is epochs: each step trains a different thinned network, so the loss falls "
                  "more slowly.")
    return _part("**Training time with and without dropout**", points)


def _sharing(found: list[RunResult]) -> tuple[str, str, int] | None:
    """(who, on which device, with up to how many others) for runs that trained at the same time on
    one machine (from their start and end times); None when none did."""
    together = concurrent_with(found)
    shared = max(together.values()) if together else 0
    if not shared:
        return None
    n = sum(1 for v in together.values() if v)
    who = f"All {n} runs" if n == len(found) else f"{n} of these {len(found)} runs"
    return who, " / ".join(sorted({r.hardware for r in found if together[r.path]})), shared


def sharing_note(found: list[RunResult]) -> str | None:
    """Say so when runs trained at the same time on one machine (from their start and end times)."""
    sharing = _sharing(found)
    if sharing is None:
        return None
    who, devices, shared = sharing
    return (f"{who} trained at the same time on one {devices} (their start and end times "
            f"overlap: each shared the machine with up to {shared} other{'s' if shared != 1 else ''}), so every "
            "wall-clock includes that sharing: compare them with each other, not with a run that had the "
            "machine to itself.")


def _hardware_part(found: list[RunResult]) -> str | None:
    found = [r for r in found if r.epochs_done]  # a queued run has no hardware yet
    if not found:
        return None
    hardware = sorted({r.hardware for r in found})
    backends = sorted({r.backend for r in found if r.backend})
    sharing = _sharing(found)
    if sharing:
        who, devices, shared = sharing
        points = [f"{who} trained at the same time on one {devices}, each sharing it with up to {shared} "
                  f"other{'s' if shared != 1 else ''}.",
                  "So every wall-clock includes that sharing: compare them with each other, not with a run that "
                  "had the machine to itself."]
    else:
        points = [f"{len(found)} run{'s' if len(found) != 1 else ''} on {', '.join(hardware)}."]
    if backends:
        points.append(f"Backend: {' and '.join(backends)}.")
    firsts = [r.first_epoch_s for r in found if r.first_epoch_s is not None]
    walls = [r.wall_s for r in found if r.wall_s]
    if firsts and walls:
        points.append(f"The first epoch took {value_range(firsts, '.1f')} s (compiling included), of "
                      f"{value_range(walls, '.0f')} s per run: hence the median epoch in the table.")
    return _part("**Where the times come from**", points)


def value_range(values, fmt: str) -> str:
    """'2.1–2.6', or one value as one value ('2.3', never '2.3–2.3'), at the precision shown."""
    lo, hi = format(min(values), fmt), format(max(values), fmt)
    return lo if lo == hi else f"{lo}–{hi}"


def _completeness_part(found: list[RunResult]) -> str | None:
    unfinished = [r for r in found if not r.complete]
    if not unfinished:
        return None
    points = [f"{REGULARIZER_TITLES[r.regularizer]}/{r.title} at epoch {r.epochs_done} of {r.epochs_planned} "
              f"({r.state})." for r in unfinished]
    points.append("The numbers are those of the epochs done so far; the ranking may still change.")
    return _part(f"**Not final.** {len(unfinished)} of {len(found)} runs have not finished", points)


def discussion(found: list[RunResult]) -> list[str]:
    """The discussion of Problem 1.2-1.3 as markdown parts, each a bold heading with its points (one
    claim and its number each) as a nested list; every number from `found`.

    `found` should hold one preset (the page groups by preset), so shortened and
    full runs are never ranked together.
    """
    presets = sorted({r.preset for r in found})
    if len(presets) > 1:
        raise ValueError(f"compare one preset at a time, not {', '.join(presets)}")
    parts = [_completeness_part(found), _winner_part(found, "l2"), _winner_part(found, "dropout"),
             _regularizer_part(found), _accuracy_part(found), _time_part(found), _hardware_part(found)]
    return [p for p in parts if p]
