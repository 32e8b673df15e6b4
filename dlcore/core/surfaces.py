"""Toy 2-D loss surfaces for the optimizer race (SPEC Problem 1.1).

Each surface is a loss L(w) over w = (w1, w2) with its gradient written out
analytically (no autodiff, no Keras): the race must recompute five
trajectories of hundreds of steps on every slider move, faster than the chart
that shows them. Each one teaches one thing:

- ``quadratic``: an ill-conditioned bowl, L = ½(w1² + κ·w2²). One learning rate
  is too small along w1 and too large along w2; per-coordinate scaling
  (Adagrad, RMSProp, Adam) removes the mismatch.
- ``rosenbrock``: Rosenbrock's banana valley (Rosenbrock 1960), easy to reach,
  slow to follow to the minimum at (1, 1).
- ``saddle``: L = w1² + ¼w2⁴ − ½w2², a saddle at the origin between two valleys
  at w2 = ±1. Started on the ridge, the gradient along w2 is tiny; methods that
  divide by its running size escape much sooner.
- ``himmelblau``: Himmelblau's function (Himmelblau 1972), four minima of equal
  depth; where a method ends depends on its path, not just on the start.

A surface also carries its plotting box: the race stops a trajectory that
leaves it (see ``dlcore.core.rules.trajectory``) because the chart could not show
it and the numbers after that point teach nothing.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np

Box = tuple[float, float, float, float]  # (w1_min, w1_max, w2_min, w2_max)


@dataclass(frozen=True)
class Surface:
    """A loss over two parameters, its gradient, and where to look at it."""

    name: str
    title: str
    latex: str
    loss: Callable[[np.ndarray], float]
    gradient: Callable[[np.ndarray], np.ndarray]
    box: Box
    start: tuple[float, float]
    minima: tuple[tuple[float, float], ...]
    loss_min: float
    lesson: str

    def __repr__(self) -> str:
        return f"Surface({self.name!r}: {self.title}, box={self.box}, minima={self.minima})"

    def contains(self, w: np.ndarray) -> bool:
        """True when w lies inside the plotting box (edges included)."""
        x0, x1, y0, y1 = self.box
        return x0 <= float(w[0]) <= x1 and y0 <= float(w[1]) <= y1


# --- ill-conditioned quadratic ------------------------------------------------
KAPPA = 25.0  # condition number of the bowl: curvature along w2 / along w1


def quadratic_loss(w: np.ndarray) -> float:
    return 0.5 * (w[0] ** 2 + KAPPA * w[1] ** 2)


def quadratic_gradient(w: np.ndarray) -> np.ndarray:
    return np.array([w[0], KAPPA * w[1]])


# --- Rosenbrock -------------------------------------------------------------
def rosenbrock_loss(w: np.ndarray) -> float:
    return (1.0 - w[0]) ** 2 + 100.0 * (w[1] - w[0] ** 2) ** 2


def rosenbrock_gradient(w: np.ndarray) -> np.ndarray:
    x, y = w[0], w[1]
    return np.array([-2.0 * (1.0 - x) - 400.0 * x * (y - x * x), 200.0 * (y - x * x)])


# --- saddle between two valleys -------------------------------------------------
def saddle_loss(w: np.ndarray) -> float:
    return w[0] ** 2 + 0.25 * w[1] ** 4 - 0.5 * w[1] ** 2


def saddle_gradient(w: np.ndarray) -> np.ndarray:
    return np.array([2.0 * w[0], w[1] ** 3 - w[1]])


# --- Himmelblau: four minima --------------------------------------------------------
def himmelblau_loss(w: np.ndarray) -> float:
    return (w[0] ** 2 + w[1] - 11.0) ** 2 + (w[0] + w[1] ** 2 - 7.0) ** 2


def himmelblau_gradient(w: np.ndarray) -> np.ndarray:
    x, y = w[0], w[1]
    a = x * x + y - 11.0
    b = x + y * y - 7.0
    return np.array([4.0 * x * a + 2.0 * b, 2.0 * a + 4.0 * y * b])


SURFACES: dict[str, Surface] = {
    s.name: s
    for s in (
        Surface(
            name="quadratic",
            title="Ill-conditioned quadratic",
            latex=r"L(w) = \tfrac12\left(w_1^2 + %g\,w_2^2\right)" % KAPPA,
            loss=quadratic_loss,
            gradient=quadratic_gradient,
            box=(-3.0, 3.0, -1.5, 1.5),
            start=(-2.5, 1.2),
            minima=((0.0, 0.0),),
            loss_min=0.0,
            lesson=f"Curvature is {KAPPA:g}× larger along w₂ than along w₁: one global "
            "learning rate is too small for one axis and too large for the other.",
        ),
        Surface(
            name="rosenbrock",
            title="Rosenbrock valley",
            latex=r"L(w) = (1 - w_1)^2 + 100\,(w_2 - w_1^2)^2",
            loss=rosenbrock_loss,
            gradient=rosenbrock_gradient,
            box=(-2.0, 2.0, -1.0, 3.0),
            start=(-1.5, 2.5),
            minima=((1.0, 1.0),),
            loss_min=0.0,
            lesson="The valley floor is found in a few steps; following its gentle "
            "curve to (1, 1) is the slow part.",
        ),
        Surface(
            name="saddle",
            title="Saddle between two valleys",
            latex=r"L(w) = w_1^2 + \tfrac14 w_2^4 - \tfrac12 w_2^2",
            loss=saddle_loss,
            gradient=saddle_gradient,
            box=(-2.5, 2.5, -2.0, 2.0),
            start=(-2.0, 0.01),
            minima=((0.0, -1.0), (0.0, 1.0)),
            loss_min=-0.25,
            lesson="Started almost on the ridge w₂ = 0, the gradient along w₂ is tiny; "
            "methods that divide by its running size escape the saddle sooner.",
        ),
        Surface(
            name="himmelblau",
            title="Himmelblau (four minima)",
            latex=r"L(w) = (w_1^2 + w_2 - 11)^2 + (w_1 + w_2^2 - 7)^2",
            loss=himmelblau_loss,
            gradient=himmelblau_gradient,
            box=(-5.0, 5.0, -5.0, 5.0),
            start=(0.5, -1.5),
            minima=(
                (3.0, 2.0),
                (-2.805118, 3.131312),
                (-3.779310, -3.283186),
                (3.584428, -1.848127),
            ),
            loss_min=0.0,
            lesson="Four minima of the same depth: from one start, different methods "
            "can end in different ones.",
        ),
    )
}


def grid(surface: Surface, n: int = 60) -> dict[str, np.ndarray]:
    """The loss on an n×n grid over the plotting box, as flat columns for a chart.

    Besides the loss itself it returns ``level`` = log10(1 + L − L_min): the
    surfaces span several orders of magnitude (Rosenbrock reaches thousands at
    the box edge), and a linear colour scale would show one flat colour near
    every minimum. ``w1_lo``..``w2_hi`` are the edges of the cell around each
    grid point, so a chart can draw rectangles that tile the box; cells are 2%
    wider than the spacing so neighbours overlap and no hairline seams show.
    """
    x0, x1, y0, y1 = surface.box
    xs = np.linspace(x0, x1, n)
    ys = np.linspace(y0, y1, n)
    X, Y = np.meshgrid(xs, ys)
    # The loss functions are written for one point but are pure array
    # arithmetic, so they broadcast over the whole grid at once.
    L = surface.loss(np.stack([X, Y]))
    dx, dy = (x1 - x0) / (n - 1), (y1 - y0) / (n - 1)
    return {
        "w1": X.ravel(),
        "w2": Y.ravel(),
        "loss": L.ravel(),
        "level": np.log10(1.0 + L.ravel() - surface.loss_min),
        "w1_lo": np.clip(X.ravel() - 0.51 * dx, x0, x1),
        "w1_hi": np.clip(X.ravel() + 0.51 * dx, x0, x1),
        "w2_lo": np.clip(Y.ravel() - 0.51 * dy, y0, y1),
        "w2_hi": np.clip(Y.ravel() + 0.51 * dy, y0, y1),
    }
