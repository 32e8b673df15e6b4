"""How long the optimizer race takes to recompute, next to drawing it (issues 3 and 14).

Every new race on the optimizers page (a sidebar setting changed) reruns the five
trajectories (dlcore.core.rules.race, NumPy) and sends their paths into the two race
charts; moving the step slider sends only what step t shows. The charts' Vega-Lite specs
are built by Altair once per surface (app_pages/optimizers.surface_chart_specs, cached),
then the page swaps data in by name (ui.charts.with_tables / draw_spec). The maths must
stay well under the drawing, or the page would be slow because of it. This prints, per
surface, the median of:
  - recompute: all five trajectories of 500 steps;
  - paths: the race's path points as a table, as Arrow bytes in both charts (once per race);
  - step: what one step t shows (step_tables), as the browser gets it (once per slider move);
  - spec: Altair building both charts' specs with the surface's grid (once per surface);
and recompute / (paths + step), the maths against the drawing of a new race.

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
from ui import charts  # noqa: E402

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
          f"{STEPS} steps x {len(rules.METHODS)} methods at the race defaults, step t = {STEPS // 2}")
    print(f"{'surface':<12} {'recompute':>10} {'paths':>10} {'step':>10} {'spec':>10} {'ratio':>7}"
          "  (recompute / (paths + step))")
    for name, surface in surfaces.SURFACES.items():
        recompute = median_seconds(lambda: rules.race(name, surface.start, STEPS, rules.RACE_DEFAULTS))
        race = rules.race(name, surface.start, STEPS, rules.RACE_DEFAULTS)
        grid = page.pd.DataFrame(surfaces.grid(surface))

        def specs():
            return (charts.spec_with_tables(page.race_chart(surface), {"race_grid": grid}),
                    charts.spec_with_tables(page.loss_chart(), {}))

        spec = median_seconds(specs)
        contours, losses = specs()

        def with_paths():
            paths = page.pd.DataFrame(rules.race_records(race))
            return paths, charts.with_tables(contours, {"race_paths": paths}), charts.with_tables(losses, {"race_paths": paths})

        paths_s = median_seconds(with_paths)
        paths = with_paths()[0]

        def step():
            _, _, now = page.race_frames(race, STEPS // 2, paths)
            shown = page.step_tables(paths, now, STEPS // 2)
            return charts.with_tables(contours, shown), charts.with_tables(losses, shown)

        step_s = median_seconds(step)
        print(f"{name:<12} {recompute * 1e3:>8.1f}ms {paths_s * 1e3:>8.1f}ms {step_s * 1e3:>8.1f}ms "
              f"{spec * 1e3:>8.1f}ms {recompute / (paths_s + step_s):>7.2f}")


if __name__ == "__main__":
    main()
