"""How long the optimizer race takes to recompute, next to drawing it (issue 3).

Every slider move on the optimizers page reruns the five trajectories
(dlcore.core.rules.race, NumPy) and rebuilds the race chart (Altair). The
recomputation must stay well under the chart's own cost, or the page would
be slow because of the maths rather than the drawing. This prints, per
surface, the median time to recompute all five trajectories of 500 steps and
the median time of one render of the race chart to a Vega-Lite spec
(``chart.to_dict()``, which validates the spec and inlines the data, and
``chart.to_json()``), and their ratio.

Run from the repository root:  python benchmarks/optimizer_race.py
"""
import importlib.util
import pathlib
import platform
import statistics
import sys
import time

ROOT = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from dlcore.core import rules, surfaces  # noqa: E402

STEPS = 500
REPEATS = 7


def load_page():
    """The page module, imported under another name so its main() does not run."""
    spec = importlib.util.spec_from_file_location("optimizers_page", ROOT / "app_pages" / "optimizers.py")
    page = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(page)
    return page


def median_seconds(fn) -> float:
    times = []
    for _ in range(REPEATS):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def main() -> None:
    page = load_page()
    print(f"python {platform.python_version()}, {platform.machine()}, median of {REPEATS} runs; "
          f"{STEPS} steps x {len(rules.METHODS)} methods at the race defaults")
    print(f"{'surface':<12} {'recompute':>10} {'to_dict':>10} {'to_json':>10} {'ratio':>7}  (recompute / to_dict)")
    for name, surface in surfaces.SURFACES.items():
        recompute = median_seconds(lambda: rules.race(name, surface.start, STEPS, rules.RACE_DEFAULTS))
        race = rules.race(name, surface.start, STEPS, rules.RACE_DEFAULTS)
        grid = page.pd.DataFrame(surfaces.grid(surface))
        paths, _, now = page.race_frames(race, STEPS // 2)
        chart = page.race_chart(grid, paths, now, surface)
        to_dict = median_seconds(chart.to_dict)
        to_json = median_seconds(chart.to_json)
        print(f"{name:<12} {recompute * 1e3:>8.1f}ms {to_dict * 1e3:>8.1f}ms {to_json * 1e3:>8.1f}ms "
              f"{recompute / to_dict:>7.2f}")


if __name__ == "__main__":
    main()
