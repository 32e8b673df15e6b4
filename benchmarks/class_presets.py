"""Every `class` preset, run on this machine: time, final metrics, and whether its lesson shows.

    python benchmarks/class_presets.py                          # all, into a temporary folder
    python benchmarks/class_presets.py resnet batch_augmentation --only M1,M4
    python benchmarks/class_presets.py --out cached_runs        # how the lead regenerates the class runs

Each run goes through the project's own command, one fresh process per run, as a
page's Start button launches it (``python -m dlcore.run EXPERIMENT --preset class
--only NAME --out DIR --force``), so its time includes starting Python, importing
Keras, loading the data and compiling. For each run it prints the wall-clock, the
final training loss and test accuracy, and the lesson check of
dlcore.results.health; per page, the set's total time against its budget and the
comparison the page draws, in numbers.

The measured seconds and images/s are written to dlcore/engine/class_timings.json
(``--timings``), with each run's spec, and the pages' time estimates read them from
there (dlcore.engine.experiments.measured_class_seconds): an estimate is shown only
for a spec that was measured. Budgets (SPEC, issue 19): 3 minutes a run, 8 a page.
"""
from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import pathlib
import platform
import subprocess
import sys
import tempfile
import time

REPO = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from dlcore.engine import experiments, runs  # noqa: E402
from dlcore.results import health  # noqa: E402

RUN_BUDGET_S = 180
PAGE_BUDGET_S = 480
PAGES = {
    "1 · Optimizers": ("mlp_l2", "mlp_dropout"),
    "2 · Cyclical learning rates": ("range_test", "clr", "batch_growth"),
    "4 · Cutout & batch augmentation": ("resnet", "batch_augmentation"),
}
# The homework's lesson, per experiment: the least test accuracy a class run must reach
# (None: a range test has no test set; its lesson is a suggestion of lr_min and lr_max).
MIN_ACCURACY = {"resnet": 0.30, "batch_augmentation": 0.20, "clr": 0.80, "batch_growth": 0.80,
                "range_test": None, "mlp_l2": 0.20, "mlp_dropout": 0.20}
# Some optimizers blow up, and that is part of Problem 1's lesson: flagged, they pass.
DIVERGED_IS_A_LESSON = ("mlp_l2", "mlp_dropout")


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        for line in pathlib.Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{cpu}, {os.cpu_count()} CPU cores"


def load_average() -> str:
    return ", ".join(f"{x:.1f}" for x in os.getloadavg()) if hasattr(os, "getloadavg") else "unknown"


def final(run: runs.Run) -> dict:
    epochs = run.epochs()
    if epochs.empty:
        return {}
    last = epochs.sort_values("epoch").iloc[-1]
    return {k: (None if k not in last or last[k] is None or last[k] != last[k] else float(last[k]))
            for k in ("loss", "val_loss", "val_accuracy", "images_per_s")}


def lesson(run: runs.Run) -> tuple[bool, str]:
    experiment = run.spec["experiment"]
    h = health.of_run(run)
    if h.kind == "diverged" and experiment in DIVERGED_IS_A_LESSON and run.state == "finished":
        return True, f"flagged {h}"
    if experiment == "range_test":
        from dlcore.core import rangetest

        b = run.batches()
        try:
            s = rangetest.suggest_from_records(b["lr"], b["loss"])
        except (ValueError, KeyError) as err:
            return False, f"no lr_min/lr_max suggestion: {err}"
        return run.state == "finished" and not h.failed, f"suggests lr_min {s.lr_min:.3g}, lr_max {s.lr_max:.3g}"
    return health.lesson_shows(run, MIN_ACCURACY[experiment])


def run_one(spec: experiments.Spec, out: pathlib.Path) -> tuple[runs.Run | None, float]:
    cmd = [sys.executable, "-m", "dlcore.run", spec.experiment, "--preset", spec.preset, "--only", spec.name,
           "--out", str(out), "--force"]
    t0 = time.time()
    proc = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True)
    seconds = time.time() - t0
    run_dir = out / runs.safe_name(spec.experiment) / f"{runs.safe_name(spec.name)}__{spec.preset}"
    if proc.returncode:
        print(proc.stdout[-2000:], proc.stderr[-2000:], sep="\n", file=sys.stderr)
    return runs.read_run(run_dir, "cached"), seconds


def comparisons(done: dict) -> list[str]:
    """The comparison each page draws, in numbers (from the runs just made)."""
    lines = []

    def by_epoch(run):
        e = run.epochs().sort_values("epoch")
        return {int(r["epoch"]): r for _, r in e.iterrows()}

    m1, m4 = done.get("resnet/M1"), next((r for k, r in done.items() if k.startswith("batch_augmentation/")), None)
    if m1 and m4:
        a, b = by_epoch(m1), by_epoch(m4)
        M = m4.spec["augment"].get("M")
        for epoch in sorted(set(a) & set(b)):
            lines.append(f"  M=1 vs M={M}, epoch {epoch}: test accuracy {a[epoch]['val_accuracy']:.1%} vs "
                         f"{b[epoch]['val_accuracy']:.1%}; wall-clock {a[epoch]['wall_s']:.0f} s vs "
                         f"{b[epoch]['wall_s']:.0f} s")
    clr = {k.split("/")[1]: r for k, r in done.items() if k.startswith("clr/")}
    growth = done.get("batch_growth/fixed_lr")
    for name, run in [*clr.items(), ("batch growth", growth)]:
        if run is not None:
            f = final(run)
            lines.append(f"  {name}: test accuracy {f.get('val_accuracy') or 0:.1%}, test loss "
                         f"{f.get('val_loss') or float('nan'):.3f}, training loss {f.get('loss') or float('nan'):.3f}")
    for experiment in ("mlp_l2", "mlp_dropout"):
        mlp = sorted(((final(r).get("loss") or float("inf"), k.split("/")[1]) for k, r in done.items()
                      if k.startswith(experiment + "/")))
        if mlp:
            lines.append(f"  {experiment} final training loss, lowest first: "
                         + ", ".join(f"{name} {loss:.3f}" for loss, name in mlp))
    return lines


def write_timings(path: pathlib.Path, measured: dict, when: str, where: str, load: str) -> None:
    old = json.loads(path.read_text()) if path.exists() else {}
    entries = {**old.get("runs", {}), **measured}
    path.write_text(json.dumps({"measured": when, "machine": where, "load_average": load,
                                "by": "benchmarks/class_presets.py", "runs": dict(sorted(entries.items()))},
                               indent=1, sort_keys=True) + "\n")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("experiments", nargs="*", default=["all"], help="'all' (default) or some of: "
                    + ", ".join(experiments.CATALOGUE))
    ap.add_argument("--only", help="comma-separated run names (e.g. M1,M4 or adam,rmsprop)")
    ap.add_argument("--out", type=pathlib.Path, default=None, help="where the run folders go (default: a temp folder)")
    ap.add_argument("--timings", type=pathlib.Path, default=experiments.CLASS_TIMINGS,
                    help="the measurements file the pages read ('-' to write none)")
    ap.add_argument("--preset", default="class", choices=("class", "smoke"),
                    help="smoke: check this script in seconds (its times are never written)")
    args = ap.parse_args(argv)
    names = list(experiments.CATALOGUE) if args.experiments == ["all"] else args.experiments
    only = args.only.split(",") if args.only else None
    specs = [s for n in names for s in experiments.catalogue(n, args.preset) if not only or s.name in only]
    out = (args.out or pathlib.Path(tempfile.mkdtemp(prefix="class_presets_"))).resolve()
    when = dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")
    start_load = load_average()
    print(f"# class presets, {when}\n# machine: {machine()}, {platform.platform()}; load average "
          f"{load_average()} at the start\n# runs into {out}\n", flush=True)
    print(f"{'run':34s} {'time':>7s} {'budget':>6s} {'train loss':>10s} {'test loss':>10s} {'test acc':>8s} "
          f"{'img/s':>6s}  lesson", flush=True)
    done, seconds, measured, ok = {}, {}, {}, True
    for spec in specs:
        run, s = run_one(spec, out)
        key = f"{spec.experiment}/{spec.name}"
        seconds[key] = s
        if run is None:
            print(f"{key:34s} {s:6.0f}s  (no run folder)", flush=True)
            ok = False
            continue
        done[key] = run
        f = final(run)
        shows, why = lesson(run)
        within = s <= RUN_BUDGET_S
        ok &= shows and within
        fmt = lambda v, p: "" if v is None else format(v, p)  # noqa: E731
        print(f"{key:34s} {s:6.0f}s {'ok' if within else 'OVER':>6s} {fmt(f.get('loss'), '10.3f'):>10s} "
              f"{fmt(f.get('val_loss'), '10.3g'):>10s} {fmt(f.get('val_accuracy'), '8.1%'):>8s} "
              f"{fmt(f.get('images_per_s'), '6.0f'):>6s}  {'yes' if shows else 'NO'}: {why}", flush=True)
        measured[key] = {"seconds": round(s, 1), "images_per_s": f.get("images_per_s"),
                         "val_accuracy": f.get("val_accuracy"), "load_average": load_average(),
                         "spec": spec.to_dict()}
        if str(args.timings) != "-" and args.preset == "class":
            # After every run: a benchmark stopped part-way keeps what it has measured.
            write_timings(args.timings, {key: measured[key]}, when, machine(), f"{start_load}, {load_average()}")
    print()
    for page, exps in PAGES.items():
        keys = [k for k in seconds if k.split("/")[0] in exps]
        if keys:
            total = sum(seconds[k] for k in keys)
            within = total <= PAGE_BUDGET_S
            ok &= within or len(keys) < sum(len(experiments.catalogue(e, args.preset)) for e in exps)
            print(f"page {page}: {len(keys)} run(s), {total:.0f} s = {total / 60:.1f} min "
                  f"({'within' if within else 'OVER'} the {PAGE_BUDGET_S // 60}-minute budget)")
    lines = comparisons(done)
    if lines:
        print("\nThe comparisons the pages draw:")
        print("\n".join(lines))
    if str(args.timings) != "-" and measured and args.preset == "class":
        print(f"load average at the end: {load_average()}")
        write_timings(args.timings, measured, when, machine(), f"{start_load}, {load_average()}")
        print(f"\nmeasurements written to {args.timings}")
    print(f"\n{'every run within budget and showing its lesson' if ok else 'NOT every run within budget and showing its lesson'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
