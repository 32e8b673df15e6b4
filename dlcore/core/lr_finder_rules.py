"""Every common LR-finder suggestion rule, read off one range test at once, with its uncertainty.

The LR range test (dlcore.core.rangetest) records a training loss per learning
rate. Tools disagree on how to turn that curve into a rate, and their own
authors say no single rule always works (pytorch-lr-finder's maintainer), so
the page shows them side by side:

  - **valley** (fastai's default, ``fastai.callback.schedule.valley``): the
    longest run of falling loss (a longest decreasing subsequence); the rate
    about 2/3 of the way along it (index start + ⌊len/3⌋ + ⌊len/6⌋);
  - **steep** (pytorch-lr-finder's suggestion, fastai's ``steep``): the rate
    where the smoothed loss falls fastest per decade of learning rate;
  - **minimum** (fastai's ``minimum``): one tenth of the rate at the lowest loss;
  - **slide** (fastai's ``slide``): walking left from the largest rate, the
    first place where the slope stops changing (two slopes ``lr_diff`` points
    apart differ by at most ``thresh``);
  - **Smith** (Smith 2017, Sec. 3.3; made precise in dlcore.core.rangetest):
    lr_min where the loss starts to fall, lr_max where it stops falling.

All rules read the same prepared curve (:func:`prepare_curve`), so their
differences are the rules', not the data's: isolated NaN/inf values are
dropped (a real divergence is the trailing run of them, which cuts the test),
isolated spikes are replaced by their neighbours' median (a Hampel filter,
only on sweeps of at least ``MIN_POINTS_FOR_SPIKE_FILTER`` points, since one
candidate of a 10-rate test is a mean over many batches already), the loss is
smoothed and cut at divergence as rangetest does, and, like fastai's
``lr_find``, the first tenth of the points is skipped by the fastai rules.

:func:`bootstrap_spread` says how far each suggestion moves when the logged
batches are resampled with replacement (among records at the same rate, or
among a few neighbours on a sweep); :func:`seed_spread` does the same
across several range tests (other seeds). Pure NumPy.
"""
from __future__ import annotations

import bisect
from dataclasses import dataclass, field

import numpy as np

from dlcore.core import rangetest

RULES = ("valley", "steep", "minimum", "slide", "smith_lr_min", "smith_lr_max")
RULE_TITLES = {
    "valley": "valley (fastai)", "steep": "steep (pytorch-lr-finder)", "minimum": "minimum / 10 (fastai)",
    "slide": "slide (fastai)", "smith_lr_min": "Smith: lr_min", "smith_lr_max": "Smith: lr_max",
}
# One sentence per rule: what the page says next to each mark.
RULE_SENTENCES = {
    "valley": "fastai's default: find the longest stretch over which the smoothed loss keeps falling "
              "(a longest decreasing subsequence) and take the rate about two thirds of the way along it.",
    "steep": "pytorch-lr-finder's suggestion (fastai's steep): the rate at which the smoothed loss falls "
             "fastest, i.e. the most negative slope of loss against log(learning rate).",
    "minimum": "fastai's minimum: the rate at the lowest smoothed loss, divided by 10, to stay clear of "
               "the blow-up just above it.",
    "slide": "fastai's slide: walk left from the largest rate until two slopes 15 points apart (fastai's "
             "points, 1.2 decades) differ by at most 0.005 per point, i.e. the curve has stopped bending; "
             "suggest the rate there.",
    "smith_lr_min": "Smith (2017): lr_min is where the loss starts to fall, here the first rate by which "
                    "10 % of the fall from the starting plateau to the minimum is done.",
    "smith_lr_max": "Smith (2017): lr_max is where the loss stops falling, here the first rate by which "
                    "90 % of that fall is done, before the ragged bottom and the blow-up.",
}
# fastai's lr_find skips the first num_it // 10 recorded points before suggesting.
SKIP_START_FRACTION = 0.1
# fastai's slide defaults, for its default test: 100 points from 1e-7 to 10 (8 decades).
FASTAI_POINTS_PER_DECADE = 99 / 8
SLIDE_LR_DIFF = 15
SLIDE_THRESH = 0.005
# Hampel filter: a point more than 3 scaled MADs from its window's median is a spike.
SPIKE_MADS = 3.0
MIN_POINTS_FOR_SPIKE_FILTER = 20
# Bootstrap: resamples, and the central share of them the band covers.
BOOTSTRAP_RESAMPLES = 100
# A sweep's records are exchangeable within blocks of this many neighbours (see bootstrap_strata).
BOOTSTRAP_BLOCK = 3
BAND = 0.8


@dataclass(frozen=True)
class RuleSuggestion:
    """One rule's suggested rate (None when the rule cannot read this curve, with `why`)."""

    rule: str
    lr: float | None
    loss: float | None          # the prepared curve's loss at the mark, to place it on the chart
    why: str = ""

    def __repr__(self) -> str:
        shown = f"{self.lr:.3g}" if self.lr is not None else f"none ({self.why})"
        return f"RuleSuggestion({self.rule} = {shown})"


@dataclass(frozen=True)
class PreparedCurve:
    """The curve every rule reads: rates (lag-corrected, increasing) and the smoothed loss."""

    lr: np.ndarray
    loss: np.ndarray
    dropped_non_finite: int      # isolated NaN/inf points dropped (not the trailing divergence)
    spikes_replaced: int
    smith: rangetest.RangeTestSuggestion | None = field(repr=False)
    smith_error: str = ""


def hampel(values, half_window: int, n_mads: float = SPIKE_MADS) -> tuple[np.ndarray, int]:
    """Replace every point further than `n_mads` scaled MADs from the median of its window
    (i − half_window … i + half_window) by that median; (filtered, number replaced).
    `values` must be finite (prepare_curve filters only the finite part of a test)."""
    x = np.asarray(values, dtype=np.float64)
    if half_window < 1 or x.size < 3:
        return x.copy(), 0
    # Mirrored at the ends, so the first and last points have full windows too.
    padded = np.pad(x, min(half_window, x.size - 1), mode="reflect")
    if padded.size < x.size + 2 * half_window:
        padded = np.pad(padded, half_window - (padded.size - x.size) // 2, mode="edge")
    windows = np.lib.stride_tricks.sliding_window_view(padded, 2 * half_window + 1)
    median = np.median(windows, axis=1)
    mad = 1.4826 * np.median(np.abs(windows - median[:, None]), axis=1)
    spike = np.abs(x - median) > n_mads * mad
    spike &= mad > 0  # a flat window says nothing about what is a spike
    out = np.where(spike, median, x)
    return out, int(spike.sum())


def drop_isolated_non_finite(lr, loss) -> tuple[np.ndarray, np.ndarray, int]:
    """Drop NaN/inf losses that finite ones follow (logging glitches); keep the trailing run,
    which is the divergence the test is cut at. Returns (lr, loss, number dropped)."""
    lr, loss = np.asarray(lr, dtype=np.float64), np.asarray(loss, dtype=np.float64)
    finite = np.isfinite(loss)
    last_finite = int(np.flatnonzero(finite)[-1]) if finite.any() else -1
    keep = finite | (np.arange(loss.size) > last_finite)
    return lr[keep], loss[keep], int((~keep).sum())


def prepare_curve(lr, loss) -> PreparedCurve:
    """The range test's (lr, loss) points, increasing in lr, made readable (see the module doc).

    Raises ValueError when too little is left to read (fewer than 3 points before divergence).
    """
    lr, loss, dropped = drop_isolated_non_finite(lr, loss)
    finite = np.isfinite(loss)
    spikes = 0
    if finite.sum() >= MIN_POINTS_FOR_SPIKE_FILTER:
        filtered, spikes = hampel(loss[finite], max(2, int(finite.sum()) // 50))
        loss = loss.copy()
        loss[finite] = filtered
    try:
        smith = rangetest.suggest_lr_bounds(lr, loss)
        smith_error = ""
        curve_lr, curve = smith.smoothed_lr[: smith.n_used], smith.smoothed[: smith.n_used]
    except ValueError as err:
        # Smith's rule needs a fall; the fastai rules may still read the smoothed curve.
        smith, smith_error = None, str(err)
        if lr.size < 3 or not (np.all(lr > 0) and np.all(np.diff(lr) > 0)):
            raise
        beta = rangetest.ema_beta(lr.size)
        smoothed = rangetest.ema(loss, beta)
        cut = rangetest.divergence_index(loss, smoothed)
        n_used = lr.size if cut is None else cut
        if n_used < 3:
            raise
        curve_lr = 10 ** rangetest.ema(np.log10(lr), beta)[:n_used]
        curve = smoothed[:n_used]
    return PreparedCurve(curve_lr, curve, dropped, spikes, smith, smith_error)


def _skip_start(n: int) -> int:
    return int(n * SKIP_START_FRACTION)


def valley(lr, loss) -> RuleSuggestion:
    """fastai's valley on (lr, loss): the longest decreasing subsequence ending at each point
    (fastai's O(n²) loop, here in O(n log n)), its end the first longest; the suggestion at
    start + ⌊(end − start)/3⌋ + ⌊(end − start)/6⌋ with start = end − length."""
    loss = np.asarray(loss, dtype=np.float64)
    n = loss.size
    if n < 2:
        return RuleSuggestion("valley", None, None, "fewer than 2 points")
    # Longest strictly decreasing subsequence ending at i = longest strictly increasing one of −loss.
    tails: list[float] = []
    lds = np.empty(n, dtype=int)
    for i, value in enumerate(-loss):
        pos = bisect.bisect_left(tails, value)
        if pos == len(tails):
            tails.append(value)
        else:
            tails[pos] = value
        lds[i] = pos + 1
    end = int(np.argmax(lds))
    start = end - int(lds[end])
    sections = (end - start) / 3
    idx = min(max(start + int(sections) + int(sections / 2), 0), n - 1)
    return RuleSuggestion("valley", float(lr[idx]), float(loss[idx]))


def steep(lr, loss) -> RuleSuggestion:
    """The steepest fall: argmin of the slope of loss against log10(lr) (central differences,
    np.gradient, as pytorch-lr-finder; fastai's steep takes forward differences)."""
    lr, loss = np.asarray(lr, dtype=np.float64), np.asarray(loss, dtype=np.float64)
    if loss.size < 2:
        return RuleSuggestion("steep", None, None, "fewer than 2 points")
    slope = np.gradient(loss, np.log10(lr))
    if not np.any(slope < 0):
        return RuleSuggestion("steep", None, None, "the loss never falls")
    i = int(np.argmin(slope))
    return RuleSuggestion("steep", float(lr[i]), float(loss[i]))


def minimum(lr, loss) -> RuleSuggestion:
    """fastai's minimum: the rate at the lowest loss, divided by 10 (marked at that loss)."""
    lr, loss = np.asarray(lr, dtype=np.float64), np.asarray(loss, dtype=np.float64)
    if loss.size < 1:
        return RuleSuggestion("minimum", None, None, "no points")
    i = int(np.argmin(loss))
    suggestion = float(lr[i]) / 10
    return RuleSuggestion("minimum", suggestion, float(np.interp(np.log10(suggestion), np.log10(lr), loss)))


def slide(lr, loss, lr_diff: int = SLIDE_LR_DIFF, thresh: float = SLIDE_THRESH) -> RuleSuggestion:
    """fastai's slide, its defaults stated per decade of learning rate.

    fastai's slope is per point of its default test (12.4 points per decade): the slope here is
    d loss / d log10(lr) divided by 12.4, and lr_diff is 15 such points (1.2 decades) turned into
    this curve's points, so a test with more or fewer points reads the same. From the right end,
    r and l = r − lr_diff step left while |slope[r] − slope[l]| > thresh; the suggestion is the
    last l that still differed (fastai's local_min_lr; l = n−1−lr_diff when none did).
    """
    lr, loss = np.asarray(lr, dtype=np.float64), np.asarray(loss, dtype=np.float64)
    n = loss.size
    if n < 3:
        return RuleSuggestion("slide", None, None, "fewer than 3 points")
    log_lr = np.log10(lr)
    points_per_decade = (n - 1) / max(log_lr[-1] - log_lr[0], 1e-12)
    diff = max(1, round(lr_diff * points_per_decade / FASTAI_POINTS_PER_DECADE))
    if diff >= n:
        return RuleSuggestion("slide", None, None, f"needs more than {diff} points (1.2 decades)")
    slope = np.gradient(loss, log_lr) / FASTAI_POINTS_PER_DECADE
    r = n - 1
    left = r - diff
    local = left
    while left >= 0 and abs(slope[r] - slope[left]) > thresh:
        local = left
        r, left = r - 1, left - 1
    return RuleSuggestion("slide", float(lr[local]), float(loss[local]))


def _smith(prepared: PreparedCurve) -> list[RuleSuggestion]:
    s = prepared.smith
    if s is None:
        why = prepared.smith_error or "no fall to read"
        return [RuleSuggestion("smith_lr_min", None, None, why), RuleSuggestion("smith_lr_max", None, None, why)]
    on_curve = np.interp(np.log10([s.lr_min, s.lr_max]), np.log10(prepared.lr), prepared.loss)
    return [RuleSuggestion("smith_lr_min", s.lr_min, float(on_curve[0])),
            RuleSuggestion("smith_lr_max", s.lr_max, float(on_curve[1]))]


def suggestions_of(prepared: PreparedCurve) -> dict[str, RuleSuggestion]:
    """Every rule on one prepared curve: {rule: RuleSuggestion}, in RULES order."""
    k = _skip_start(prepared.lr.size)
    lr, loss = prepared.lr[k:], prepared.loss[k:]
    found = [valley(lr, loss), steep(lr, loss), minimum(lr, loss), slide(lr, loss), *_smith(prepared)]
    return {s.rule: s for s in found}


def all_suggestions(lr, loss) -> dict[str, RuleSuggestion]:
    """Every rule on a range test's (lr, loss) points (increasing lr). ValueError when the curve
    has fewer than 3 readable points before it diverges."""
    return suggestions_of(prepare_curve(lr, loss))


def suggestions_from_records(lr, loss) -> dict[str, RuleSuggestion]:
    """:func:`all_suggestions` on :func:`rangetest.range_test_curve` of a run's batch records."""
    return all_suggestions(*rangetest.range_test_curve(lr, loss))


@dataclass(frozen=True)
class Spread:
    """How far one rule's suggestion moves: the central BAND of its values, in rate."""

    rule: str
    low: float | None
    high: float | None
    median: float | None
    n_read: int                 # resamples (or runs) in which the rule gave a rate
    n_total: int

    @property
    def decades(self) -> float | None:
        """Width of the band in decades of learning rate."""
        if self.low is None or self.high is None:
            return None
        return float(np.log10(self.high / self.low))


def _spread(values: dict[str, list[float]], n_total: int, band: float) -> dict[str, Spread]:
    out = {}
    lo_q, hi_q = (1 - band) / 2, 1 - (1 - band) / 2
    for rule in RULES:
        v = np.log10(np.asarray(values.get(rule, []), dtype=np.float64))
        if v.size == 0:
            out[rule] = Spread(rule, None, None, None, 0, n_total)
            continue
        lo, med, hi = 10 ** np.quantile(v, [lo_q, 0.5, hi_q])
        out[rule] = Spread(rule, float(lo), float(hi), float(med), int(v.size), n_total)
    return out


def bootstrap_strata(lr, block: int = BOOTSTRAP_BLOCK) -> np.ndarray:
    """Which records may stand in for which in a bootstrap resample, as a stratum id per record.

    Records at the same rate (a discrete test holds each candidate for many batches) form one
    stratum. A sweep logs (nearly) every rate once: there, `block` neighbouring records (in rate order)
    form one, so a resample keeps the test's rates and its density of points per decade, and
    with them the smoothing window the rules read through.
    """
    lr = np.asarray(lr, dtype=np.float64)
    rates, which = np.unique(lr, return_inverse=True)
    if lr.size >= 2 * rates.size:  # on average two or more records per rate: a discrete test
        return which
    order = np.argsort(lr, kind="stable")
    strata = np.empty(lr.size, dtype=int)
    strata[order] = np.arange(lr.size) // max(1, int(block))
    return strata


def bootstrap_records(lr, loss, rng: np.random.Generator, block: int = BOOTSTRAP_BLOCK) -> np.ndarray:
    """One bootstrap resample of the losses: each record's loss drawn with replacement from the
    records of its stratum (:func:`bootstrap_strata`); the rates stay where they were."""
    loss = np.asarray(loss, dtype=np.float64)
    strata = bootstrap_strata(lr, block)
    # The records grouped by stratum; each record draws one member of its own group.
    members = np.argsort(strata, kind="stable")
    counts = np.bincount(strata)
    first = np.concatenate([[0], np.cumsum(counts)[:-1]])
    draw = first[strata] + (rng.random(loss.size) * counts[strata]).astype(int)
    return loss[members[draw]]


def bootstrap_spread(lr, loss, n_resamples: int = BOOTSTRAP_RESAMPLES, seed: int = 0,
                     band: float = BAND, block: int = BOOTSTRAP_BLOCK) -> dict[str, Spread]:
    """Each rule on `n_resamples` bootstrap resamples of the logged batch records
    (:func:`bootstrap_records`, each read like the test itself); the central `band` of each
    rule's suggestions, in log lr. A resample that cannot be read counts in n_total only."""
    lr, loss = np.asarray(lr, dtype=np.float64), np.asarray(loss, dtype=np.float64)
    rng = np.random.default_rng(seed)
    values: dict[str, list[float]] = {r: [] for r in RULES}
    for _ in range(n_resamples):
        try:
            found = suggestions_from_records(lr, bootstrap_records(lr, loss, rng, block))
        except ValueError:
            continue
        for rule, s in found.items():
            if s.lr is not None:
                values[rule].append(s.lr)
    return _spread(values, n_resamples, band)


def seed_spread(tests: list[tuple], band: float = BAND) -> dict[str, Spread]:
    """Each rule on several range tests [(lr, loss) of their batch records, …] (other seeds):
    the central `band` of the suggestions across the tests."""
    values: dict[str, list[float]] = {r: [] for r in RULES}
    for lr, loss in tests:
        try:
            found = suggestions_from_records(lr, loss)
        except ValueError:
            continue
        for rule, s in found.items():
            if s.lr is not None:
                values[rule].append(s.lr)
    return _spread(values, len(tests), band)


def rules_table(suggestions: dict[str, RuleSuggestion], spreads: dict[str, Spread] | None = None) -> list[dict]:
    """One row per rule, for the page's table and the chart's marks: rule, title, lr, loss at the
    mark, band low/high and its width in decades, how many resamples gave a rate, the sentence."""
    rows = []
    for rule in RULES:
        s = suggestions.get(rule)
        if s is None:
            continue
        sp = (spreads or {}).get(rule)
        rows.append({
            "rule": rule, "title": RULE_TITLES[rule], "lr": s.lr, "loss": s.loss,
            "low": sp.low if sp else None, "high": sp.high if sp else None,
            "decades": sp.decades if sp else None,
            "read": f"{sp.n_read}/{sp.n_total}" if sp else "", "why_none": s.why,
            "how": RULE_SENTENCES[rule],
        })
    return rows


def prepare_records(lr, loss) -> PreparedCurve:
    """:func:`prepare_curve` on :func:`rangetest.range_test_curve` of a run's batch records."""
    return prepare_curve(*rangetest.range_test_curve(lr, loss))


def smith_from_records(lr, loss) -> rangetest.RangeTestSuggestion:
    """Smith's lr_min and lr_max read off the prepared curve of a run's batch records, the same
    reading the other rules get (ValueError, with the reason, when the curve cannot tell)."""
    prepared = prepare_records(lr, loss)
    if prepared.smith is None:
        raise ValueError(prepared.smith_error)
    return prepared.smith


PREPARATION = (
    "Before the rule reads the curve, isolated NaN/inf losses are dropped (the trailing run of them is the "
    "divergence, where the test is cut) and, on a sweep of 20 or more points, isolated spikes are replaced "
    "by the median of their neighbours (more than 3 scaled median absolute deviations away), so an early "
    "spike or a logging glitch cannot move the suggestion."
)
