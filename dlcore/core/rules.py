r"""The five adaptive learning-rate rules of SPEC Problem 1.1, step by step, in NumPy.

This module is the reference: the page draws its live equations from it, the
optimizer race runs it on 2-D surfaces, and ``dlcore.keras_parts.optimizers`` is tested
against it. It never imports Keras, so the equations page opens instantly.

Indexing (Kingma & Ba's): w_0 is the start; step t = 1, 2, ... reads the
gradient g_t = ∂L/∂w at w_{t-1} and produces w_t. The notebook writes the
same rules as w_{t+1} = w_t - ...; its w_{t+1}, w_t are our w_t, w_{t-1}.
Every operation is per coordinate (g_t^2 is the element-wise square).

Adagrad (Duchi, Hazan & Singer 2011, JMLR 12; ε inside the root as in the
notebook and in Keras)::

    S_t = S_{t-1} + g_t^2                       S_0 = initial_accumulator_value
    w_t = w_{t-1} - α / sqrt(S_t + ε) · g_t

RMSProp (Hinton, Srivastava & Swersky, Neural Networks for Machine Learning,
lecture 6e, 2012)::

    S_t = β S_{t-1} + (1 - β) g_t^2
    w_t = w_{t-1} - α / sqrt(S_t + ε) · g_t

RMSProp with Nesterov momentum (Goodfellow, Bengio & Courville, Deep
Learning, 2016, Algorithm 8.6, with ε inside the root as in RMSProp above;
momentum coefficient μ)::

    w̃_t = w_{t-1} + μ V_{t-1}                  look-ahead point
    g_t = ∂L/∂w at w̃_t                          gradient where momentum is taking us
    S_t = β S_{t-1} + (1 - β) g_t^2
    V_t = μ V_{t-1} - α / sqrt(S_t + ε) · g_t
    w_t = w_{t-1} + V_t

  The notebook wrote V_t = β_v V_{t-1} + (1 - β_v) ∂L/∂w*, w* = w_t - α V_{t-1},
  S_t from the gradient at w_t, and w_{t+1} = w_t - α/sqrt(S_t + ε) V_t. That
  form needs two gradients per step (at w_t and at w*), and its look-ahead
  w* = w_t - α V_{t-1} is not where the next step would go (that step is
  scaled by 1/sqrt(S + ε)). We implement the book's algorithm, which uses one
  gradient, at the look-ahead point, for both S and V; ``NOTEBOOK_NESTEROV``
  keeps the notebook's form for the page to show next to it. It is NOT
  Nadam (Dozat 2016), which the notebook trained instead: Nadam is Adam with
  Nesterov momentum, with bias corrections and a momentum schedule.

AdaDelta (Zeiler 2012, arXiv:1212.5701, Algorithm 1; α = 1 in the paper)::

    S_t  = β S_{t-1} + (1 - β) g_t^2
    Δw_t = - sqrt(D_{t-1} + ε) / sqrt(S_t + ε) · g_t
    D_t  = β D_{t-1} + (1 - β) Δw_t^2
    w_t  = w_{t-1} + α Δw_t

Adam (Kingma & Ba 2015, ICLR, Algorithm 1)::

    V_t = β1 V_{t-1} + (1 - β1) g_t
    S_t = β2 S_{t-1} + (1 - β2) g_t^2
    V̂_t = V_t / (1 - β1^t)          Ŝ_t = S_t / (1 - β2^t)
    w_t = w_{t-1} - α / (sqrt(Ŝ_t) + ε) · V̂_t

  With ``epsilon_hat=True`` the last line is the paper's "more efficient"
  order (end of its Section 2), which is what Keras computes:
  α_t = α sqrt(1 - β2^t) / (1 - β1^t);  w_t = w_{t-1} - α_t V_t / (sqrt(S_t) + ε̂).
  The two agree except for where ε sits: ε̂ = ε sqrt(1 - β2^t).

SGD with momentum (Polyak 1964; Nesterov form as Sutskever et al. 2013), only
as the reference for the Keras "sgd" optimizer used by the ResNet runs::

    V_t = μ V_{t-1} - α g_t;   w_t = w_{t-1} + V_t        (g_t at w_{t-1} + μ V_{t-1} if nesterov)

Each step function takes (w, g, state, **hparams) and returns (w_new,
new_state). The state is a dict holding everything the next step needs (t, S,
V, D) and every term of this step for display: g (the gradient used), rate
(the per-coordinate factor the step multiplies), delta (w_t - w_{t-1}), and
S_hat, V_hat, w_tilde where the rule has them.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Callable, Mapping, Sequence

import numpy as np

from dlcore.core.surfaces import SURFACES, Surface

State = dict  # {"t": int, "S": array, "V": array, "D": array, ...terms of the step}

METHODS: tuple[str, ...] = ("adagrad", "rmsprop", "rmsprop_nesterov", "adadelta", "adam")
TITLES: dict[str, str] = {
    "adagrad": "Adagrad",
    "rmsprop": "RMSProp",
    "rmsprop_nesterov": "RMSProp + Nesterov",
    "adadelta": "AdaDelta",
    "adam": "Adam",
    "sgd": "SGD + momentum",
}
SOURCES: dict[str, str] = {
    "adagrad": "Duchi, Hazan & Singer (2011), JMLR 12",
    "rmsprop": "Hinton, Srivastava & Swersky, Neural Networks for ML, lecture 6e (2012)",
    "rmsprop_nesterov": "Goodfellow, Bengio & Courville, Deep Learning (2016), Algorithm 8.6",
    "adadelta": "Zeiler (2012), arXiv:1212.5701, Algorithm 1",
    "adam": "Kingma & Ba (2015), ICLR, Algorithm 1",
    "sgd": "Polyak (1964); Sutskever et al. (2013) for the Nesterov form",
}

# --- hyper-parameters, as data ----------------------------------------------------
# Names are Keras's constructor arguments, so one dict configures both the
# NumPy reference and the Keras optimizer (dlcore.keras_parts.optimizers.make_optimizer).
HPARAMS: dict[str, tuple[str, ...]] = {
    "adagrad": ("learning_rate", "epsilon", "initial_accumulator_value"),
    "rmsprop": ("learning_rate", "rho", "epsilon"),
    "rmsprop_nesterov": ("learning_rate", "rho", "momentum", "epsilon"),
    "adadelta": ("learning_rate", "rho", "epsilon"),
    "adam": ("learning_rate", "beta_1", "beta_2", "epsilon"),
    "sgd": ("learning_rate", "momentum", "nesterov"),
}
SYMBOLS_TEXT: dict[str, str] = {
    "learning_rate": "α",
    "rho": "β",
    "momentum": "μ",
    "beta_1": "β₁",
    "beta_2": "β₂",
    "epsilon": "ε",
    "initial_accumulator_value": "S₀",
    "nesterov": "nesterov",
}
SYMBOLS: dict[str, str] = {
    "learning_rate": r"\alpha",
    "rho": r"\beta",
    "momentum": r"\mu",
    "beta_1": r"\beta_1",
    "beta_2": r"\beta_2",
    "epsilon": r"\epsilon",
    "initial_accumulator_value": r"S_0",
    "nesterov": r"\text{nesterov}",
}

# The usual defaults for training a network (Problem 1.2-1.3 and the ResNet
# runs). Where Keras's own default differs from the method's source, the
# source wins and KERAS_NOTES says so.
DEFAULTS: dict[str, dict[str, float | bool]] = {
    # Duchi et al. give no α and start the accumulator at 0; 0.01 is the common base rate
    # (Keras 2's and PyTorch's default). The MLP runs use Keras 3's 0.001, as the notebook did
    # (experiments.MLP_DEFAULTS; the MLP tab lists it as a difference): with S₀ = 0 the first
    # step is about α per weight, and at 0.001 the 200-epoch MLP does train (cached full L2 run:
    # training loss 1.34, best test accuracy 56 %, the best of the five), so 0.001 stays.
    "adagrad": {"learning_rate": 0.01, "epsilon": 1e-7, "initial_accumulator_value": 0.0},
    # Hinton's lecture suggests β = 0.9; α = 0.001 is Keras's and PyTorch's 0.01/10.
    "rmsprop": {"learning_rate": 0.001, "rho": 0.9, "epsilon": 1e-7},
    "rmsprop_nesterov": {"learning_rate": 0.001, "rho": 0.9, "momentum": 0.9, "epsilon": 1e-7},
    # Zeiler's paper has no learning rate (α = 1) and used ρ = 0.95, ε = 1e-6.
    "adadelta": {"learning_rate": 1.0, "rho": 0.95, "epsilon": 1e-6},
    # Kingma & Ba's α, β1, β2; ε = 1e-7 is Keras's (the paper's is 1e-8).
    "adam": {"learning_rate": 0.001, "beta_1": 0.9, "beta_2": 0.999, "epsilon": 1e-7},
    # He et al. 2016, Sec. 4.2: lr 0.1, momentum 0.9.
    "sgd": {"learning_rate": 0.1, "momentum": 0.9, "nesterov": False},
}

# Defaults for the 2-D race: the toy surfaces are not a network's loss, and
# the training defaults above would barely move in a few hundred steps.
RACE_DEFAULTS: dict[str, dict[str, float]] = {
    "adagrad": {"learning_rate": 0.5, "epsilon": 1e-7, "initial_accumulator_value": 0.0},
    "rmsprop": {"learning_rate": 0.05, "rho": 0.9, "epsilon": 1e-7},
    "rmsprop_nesterov": {"learning_rate": 0.02, "rho": 0.9, "momentum": 0.8, "epsilon": 1e-7},
    "adadelta": {"learning_rate": 1.0, "rho": 0.9, "epsilon": 1e-3},
    "adam": {"learning_rate": 0.1, "beta_1": 0.9, "beta_2": 0.999, "epsilon": 1e-7},
}

# Where the Keras built-in is, or is not, the textbook rule above.
KERAS_NOTES: dict[str, str] = {
    "adagrad": (
        "keras.optimizers.Adagrad computes exactly this rule (ε inside the square root), "
        "but starts the accumulator at S₀ = 0.1 where Duchi et al. start at 0, and its "
        "default α is 0.001. The app passes initial_accumulator_value and α explicitly, "
        "so the Keras optimizer and these equations are the same rule."
    ),
    "rmsprop": (
        "keras.optimizers.RMSprop computes this rule (ε inside the square root, β is "
        "its `rho`) when momentum = 0 and centered = False, which is how the app builds it. "
        "With momentum > 0 Keras adds plain (heavy-ball) momentum, not Nesterov's."
    ),
    "rmsprop_nesterov": (
        "Keras has no RMSProp with Nesterov momentum: the notebook used Nadam, which is "
        "Adam with Nesterov momentum (bias correction, a momentum schedule), a different "
        "method. The app uses its own Keras optimizer, dlcore.keras_parts.optimizers.RMSPropNesterov, "
        "which runs Algorithm 8.6 with one gradient per step by storing the look-ahead "
        "point w̃ = w + μV as the model's weights (the same trick as Keras SGD with "
        "nesterov=True)."
    ),
    "adadelta": (
        "keras.optimizers.Adadelta computes Zeiler's rule and then multiplies the step by a "
        "learning rate, whose Keras default is 0.001: a thousand times smaller than the "
        "paper, which has no learning rate (α = 1). The app uses α = 1, ρ = 0.95, "
        "ε = 1e-6 as in the paper. D accumulates the step before α is applied."
    ),
    "adam": (
        "keras.optimizers.Adam folds the bias corrections into the learning rate, "
        "α_t = α·sqrt(1 − β₂ᵗ)/(1 − β₁ᵗ), and adds ε to sqrt(S_t), not to sqrt(Ŝ_t): "
        "its ε is the paper's ε̂ = ε·sqrt(1 − β₂ᵗ) (Kingma & Ba, end of Section 2). "
        "The two differ only while ε is not small next to sqrt(Ŝ_t). Keras's default "
        "ε is 1e-7, the paper's 1e-8."
    ),
    "sgd": (
        "keras.optimizers.SGD keeps V_t = μV_{t−1} − α g_t and adds it to the weights; "
        "with nesterov=True it stores the look-ahead point, as RMSPropNesterov does."
    ),
}


# --- the rules ------------------------------------------------------------------
def initial_state(method: str, w: np.ndarray, hparams: Mapping | None = None) -> State:
    """The state before step 1: t = 0 and zero accumulators (Adagrad: S_0)."""
    hparams = hparams or {}
    zeros = np.zeros_like(np.asarray(w, dtype=float))
    state: State = {"t": 0, "S": zeros.copy(), "V": zeros.copy(), "D": zeros.copy()}
    if method == "adagrad":
        state["S"] = zeros + float(hparams.get("initial_accumulator_value", 0.0))
    return state


def adagrad(w, g, state, *, learning_rate, epsilon, initial_accumulator_value=0.0):
    """One Adagrad step: S sums every squared gradient, so steps only shrink."""
    S = state["S"] + g * g
    rate = learning_rate / np.sqrt(S + epsilon)
    delta = -rate * g
    return w + delta, {"t": state["t"] + 1, "g": g, "S": S, "rate": rate, "delta": delta}


def rmsprop(w, g, state, *, learning_rate, rho, epsilon):
    """One RMSProp step: S forgets old gradients at rate β, so steps can grow again."""
    S = rho * state["S"] + (1.0 - rho) * g * g
    rate = learning_rate / np.sqrt(S + epsilon)
    delta = -rate * g
    return w + delta, {"t": state["t"] + 1, "g": g, "S": S, "rate": rate, "delta": delta}


def rmsprop_nesterov(w, g, state, *, learning_rate, rho, momentum, epsilon):
    """One step of Algorithm 8.6; g must be the gradient at ``lookahead(...)``."""
    S = rho * state["S"] + (1.0 - rho) * g * g
    rate = learning_rate / np.sqrt(S + epsilon)
    V = momentum * state["V"] - rate * g
    return w + V, {
        "t": state["t"] + 1,
        "g": g,
        "w_tilde": w + momentum * state["V"],
        "S": S,
        "V": V,
        "rate": rate,
        "delta": V,
    }


def adadelta(w, g, state, *, learning_rate, rho, epsilon):
    """One AdaDelta step: the past step sizes sqrt(D + ε) stand where α was."""
    S = rho * state["S"] + (1.0 - rho) * g * g
    rate = np.sqrt(state["D"] + epsilon) / np.sqrt(S + epsilon)
    step = -rate * g
    D = rho * state["D"] + (1.0 - rho) * step * step
    delta = learning_rate * step
    return w + delta, {
        "t": state["t"] + 1,
        "g": g,
        "S": S,
        "D": D,
        "dw": step,
        "rate": learning_rate * rate,
        "delta": delta,
    }


def adam(w, g, state, *, learning_rate, beta_1, beta_2, epsilon, epsilon_hat=False):
    """One Adam step: RMSProp's S plus momentum V, both bias-corrected for t."""
    t = state["t"] + 1
    V = beta_1 * state["V"] + (1.0 - beta_1) * g
    S = beta_2 * state["S"] + (1.0 - beta_2) * g * g
    V_hat = V / (1.0 - beta_1**t)
    S_hat = S / (1.0 - beta_2**t)
    if epsilon_hat:
        alpha_t = learning_rate * np.sqrt(1.0 - beta_2**t) / (1.0 - beta_1**t)
        delta = -alpha_t * V / (np.sqrt(S) + epsilon)
        rate = alpha_t * (1.0 - beta_1**t) / (np.sqrt(S) + epsilon)
    else:
        rate = learning_rate / (np.sqrt(S_hat) + epsilon)
        delta = -rate * V_hat
    return w + delta, {
        "t": t,
        "g": g,
        "V": V,
        "S": S,
        "V_hat": V_hat,
        "S_hat": S_hat,
        "rate": rate,
        "delta": delta,
    }


def sgd(w, g, state, *, learning_rate, momentum=0.0, nesterov=False):
    """One SGD step with (heavy-ball or Nesterov) momentum; g at ``lookahead``."""
    V = momentum * state["V"] - learning_rate * g
    return w + V, {
        "t": state["t"] + 1,
        "g": g,
        "V": V,
        "rate": np.full_like(g, learning_rate),
        "delta": V,
    }


# The terms each rule really has (its state also carries unused zero slots).
STATE_TERMS: dict[str, tuple[str, ...]] = {
    "adagrad": ("g", "S", "rate", "delta"),
    "rmsprop": ("g", "S", "rate", "delta"),
    "rmsprop_nesterov": ("w_tilde", "g", "S", "V", "rate", "delta"),
    "adadelta": ("g", "S", "dw", "D", "rate", "delta"),
    "adam": ("g", "V", "S", "V_hat", "S_hat", "rate", "delta"),
    "sgd": ("g", "V", "rate", "delta"),
}
# Columns of the inspector table, in reading order.
INSPECTED: tuple[str, ...] = ("g", "S", "V", "D", "V_hat", "S_hat", "rate", "delta")

RULES: dict[str, Callable] = {
    "adagrad": adagrad,
    "rmsprop": rmsprop,
    "rmsprop_nesterov": rmsprop_nesterov,
    "adadelta": adadelta,
    "adam": adam,
    "sgd": sgd,
}


def lookahead(method: str, w: np.ndarray, state: State, hparams: Mapping) -> np.ndarray:
    """Where step t reads its gradient: w̃ = w + μV for Nesterov methods, else w."""
    if method == "rmsprop_nesterov" or (method == "sgd" and hparams.get("nesterov")):
        return w + hparams["momentum"] * state["V"]
    return w


def check_hparams(method: str, hparams: Mapping) -> None:
    """Refuse a hyper-parameter the rule does not have (a typo would silently be ignored)."""
    if method not in RULES:
        raise ValueError(f"unknown method {method!r}; choose one of {tuple(RULES)}")
    unknown = set(hparams) - set(HPARAMS[method]) - {"epsilon_hat"}
    if unknown:
        raise ValueError(f"{method} has no hyper-parameter {sorted(unknown)}; it takes {HPARAMS[method]}")


# Where each hyper-parameter makes sense: (lowest, highest, lowest included, highest included).
# A decay rate of 1 would never forget (and Adam's bias correction divides by 1 − β^t = 0).
DOMAINS: dict[str, tuple[float, float, bool, bool]] = {
    "learning_rate": (0.0, math.inf, False, False),
    "epsilon": (0.0, math.inf, True, False),
    "initial_accumulator_value": (0.0, math.inf, True, False),
    "rho": (0.0, 1.0, True, False),
    "momentum": (0.0, 1.0, True, False),
    "beta_1": (0.0, 1.0, True, False),
    "beta_2": (0.0, 1.0, True, False),
}


def check_domain(method: str, hparams: Mapping) -> None:
    """Refuse, in words, a hyper-parameter value outside where its rule makes sense
    (α ≤ 0 would walk uphill or stand still; β = 1 never forgets)."""
    check_hparams(method, hparams)
    for name, value in hparams.items():
        if name not in DOMAINS:
            continue
        low, high, low_in, high_in = DOMAINS[name]
        try:
            v = float(value)
        except (TypeError, ValueError):
            raise ValueError(f"{method}: {name} must be a number, not {value!r}") from None
        ok = (v > low or (low_in and v == low)) and (v < high or (high_in and v == high))
        if not ok or math.isnan(v):
            where = f"{'[' if low_in else '('}{low:g}, {high:g}{']' if high_in else ')'}"
            raise ValueError(f"{method}: {SYMBOLS_TEXT.get(name, name)} ({name}) must be in {where}, "
                             f"not {value!r}")


def step(method: str, w: np.ndarray, g: np.ndarray, state: State, hparams: Mapping):
    """Apply one step of ``method``: returns (w_t, state_t)."""
    check_hparams(method, hparams)
    return RULES[method](w, g, state, **hparams)


def run(method: str, w0, gradients: Sequence[np.ndarray], hparams: Mapping):
    """Apply ``method`` to a fixed gradient sequence; returns the list of w_0..w_n.

    The gradients do not depend on w: this is the "same gradients" check
    against Keras, where the Keras variable is compared with the point the
    gradient is read at (``lookahead``), which for Nesterov methods is w̃.
    """
    w = np.asarray(w0, dtype=float)
    state = initial_state(method, w, hparams)
    points = [lookahead(method, w, state, hparams)]
    for g in gradients:
        w, state = step(method, w, np.asarray(g, dtype=float), state, hparams)
        points.append(lookahead(method, w, state, hparams))
    return points


# --- trajectories on a 2-D surface ---------------------------------------------------
@dataclass
class Trajectory:
    """A method's path on a surface: w_0..w_n, their loss, and every state.

    ``stopped`` holds why the path ended before ``steps_requested`` (it left
    the plotting box, or produced NaN/inf), else None. The points kept are the
    ones that are real and drawable; the offending point is in ``escape``.
    """

    method: str
    surface: str
    hparams: dict
    w: np.ndarray
    loss: np.ndarray
    states: list = field(repr=False)
    steps_requested: int
    stopped: str | None = None
    escape: tuple[float, float] | None = None

    @property
    def steps(self) -> int:
        return len(self.w) - 1

    @property
    def diverged(self) -> bool:
        return self.stopped is not None

    def at(self, t: int) -> int:
        """The step actually shown for a requested step t (a stopped path stays at its end)."""
        return max(0, min(int(t), self.steps))

    def __repr__(self) -> str:
        end = f"stopped at step {self.steps + 1}: {self.stopped}" if self.stopped else "ran"
        return (
            f"Trajectory({self.method} on {self.surface}, {self.steps}/{self.steps_requested} steps, "
            f"{end}, final loss {self.loss[-1]:.4g})"
        )


def trajectory(rule: str, surface: Surface | str, start, steps: int, hparams: Mapping) -> Trajectory:
    """Run ``rule`` for ``steps`` steps on ``surface`` from ``start``.

    Stops at the first step whose point is not finite or leaves the plotting
    box: the chart cannot draw it, and every later number would be noise.
    Raises ValueError, in words, for a negative number of steps, a start that is
    not two finite numbers, or a hyper-parameter outside its domain (:func:`check_domain`).
    """
    surface = SURFACES[surface] if isinstance(surface, str) else surface
    hparams = dict(hparams)
    check_domain(rule, hparams)
    if isinstance(steps, bool) or not isinstance(steps, (int, np.integer)) or steps < 0:
        raise ValueError(f"steps counts updates and must be a whole number ≥ 0, not {steps!r}")
    if np.shape(start) != (2,) or not np.all(np.isfinite(np.asarray(start, dtype=float))):
        raise ValueError(f"start must be a point (w₁, w₂) of two finite numbers, not {start!r}")
    rule_step = RULES[rule]
    w = np.asarray(start, dtype=float)
    state = initial_state(rule, w, hparams)
    points, losses, states = [w], [float(surface.loss(w))], [state]
    stopped, escape = None, None
    # This loop is the page's whole compute budget (5 methods x up to 1000 steps
    # per slider move): checks are plain-float tests, not NumPy reductions.
    with np.errstate(all="ignore"):
        for _ in range(int(steps)):
            g = surface.gradient(lookahead(rule, w, state, hparams))
            w_next, state_next = rule_step(w, g, state, **hparams)
            loss = float(surface.loss(w_next))
            x, y = float(w_next[0]), float(w_next[1])
            if not (math.isfinite(x) and math.isfinite(y) and math.isfinite(loss)):
                stopped = "diverged: the step produced NaN or inf"
            elif not surface.contains(w_next):
                stopped = "diverged: left the plotted area"
                escape = (x, y)
            if stopped:
                break
            w, state = w_next, state_next
            points.append(w)
            losses.append(loss)
            states.append(state)
    return Trajectory(
        method=rule,
        surface=surface.name,
        hparams=hparams,
        w=np.array(points),
        loss=np.array(losses),
        states=states,
        steps_requested=int(steps),
        stopped=stopped,
        escape=escape,
    )


def race(surface: Surface | str, start, steps: int, hparams_by_method: Mapping[str, Mapping]) -> dict:
    """One trajectory per method, same surface, same start."""
    return {m: trajectory(m, surface, start, steps, hp) for m, hp in hparams_by_method.items()}


GAP_FLOOR = 1e-12  # L − L_min below this is drawn at the floor of a log axis


def race_records(trajectories: Mapping[str, Trajectory]) -> dict[str, list]:
    """Long-format columns of all paths, for one chart.

    ``gap`` = L − L_min, floored at GAP_FLOOR, so a log axis can show how many
    orders of magnitude each method is from the minimum (and saddle losses,
    which are negative, still fit).
    """
    cols: dict[str, list] = {"method": [], "step": [], "w1": [], "w2": [], "loss": [], "gap": []}
    for m, tr in trajectories.items():
        n = len(tr.w)
        loss_min = SURFACES[tr.surface].loss_min
        cols["method"] += [TITLES[m]] * n
        cols["step"] += list(range(n))
        cols["w1"] += tr.w[:, 0].tolist()
        cols["w2"] += tr.w[:, 1].tolist()
        cols["loss"] += tr.loss.tolist()
        cols["gap"] += np.maximum(tr.loss - loss_min, GAP_FLOOR).tolist()
    return cols


def inspector_rows(trajectories: Mapping[str, Trajectory], t: int) -> list[dict]:
    """Each method's state at step t: position, loss, gradient and accumulators.

    Coordinates are split into _1/_2 columns so a table shows them as numbers;
    a term the rule does not have is None (an empty cell), not 0.
    """
    rows = []
    for m, tr in trajectories.items():
        k = tr.at(t)
        s = tr.states[k]
        row = {
            "method": TITLES[m],
            "step": k,
            "status": (tr.stopped if k == tr.steps else "running") if tr.stopped else "ok",
            "w1": tr.w[k, 0],
            "w2": tr.w[k, 1],
            "loss": tr.loss[k],
        }
        for key in INSPECTED:
            for i in (0, 1):
                row[f"{key}_{i + 1}"] = float(s[key][i]) if key in s and key in STATE_TERMS[m] else None
        rows.append(row)
    return rows


# --- the equations as LaTeX ------------------------------------------------------------
EQUATIONS: dict[str, list[str]] = {
    "adagrad": [
        r"g_t = \frac{\partial L}{\partial w}\Big|_{w_{t-1}}",
        r"S_t = S_{t-1} + g_t^2",
        r"w_t = w_{t-1} - \frac{\alpha}{\sqrt{S_t + \epsilon}}\, g_t",
    ],
    "rmsprop": [
        r"g_t = \frac{\partial L}{\partial w}\Big|_{w_{t-1}}",
        r"S_t = \beta\, S_{t-1} + (1 - \beta)\, g_t^2",
        r"w_t = w_{t-1} - \frac{\alpha}{\sqrt{S_t + \epsilon}}\, g_t",
    ],
    "rmsprop_nesterov": [
        r"\tilde w_t = w_{t-1} + \mu\, V_{t-1}",
        r"g_t = \frac{\partial L}{\partial w}\Big|_{\tilde w_t}",
        r"S_t = \beta\, S_{t-1} + (1 - \beta)\, g_t^2",
        r"V_t = \mu\, V_{t-1} - \frac{\alpha}{\sqrt{S_t + \epsilon}}\, g_t",
        r"w_t = w_{t-1} + V_t",
    ],
    "adadelta": [
        r"g_t = \frac{\partial L}{\partial w}\Big|_{w_{t-1}}",
        r"S_t = \beta\, S_{t-1} + (1 - \beta)\, g_t^2",
        r"\Delta w_t = -\frac{\sqrt{D_{t-1} + \epsilon}}{\sqrt{S_t + \epsilon}}\, g_t",
        r"D_t = \beta\, D_{t-1} + (1 - \beta)\, \Delta w_t^2",
        r"w_t = w_{t-1} + \alpha\, \Delta w_t",
    ],
    "adam": [
        r"g_t = \frac{\partial L}{\partial w}\Big|_{w_{t-1}}",
        r"V_t = \beta_1 V_{t-1} + (1 - \beta_1)\, g_t",
        r"S_t = \beta_2 S_{t-1} + (1 - \beta_2)\, g_t^2",
        r"\hat V_t = \frac{V_t}{1 - \beta_1^{\,t}} \qquad \hat S_t = \frac{S_t}{1 - \beta_2^{\,t}}",
        r"w_t = w_{t-1} - \frac{\alpha}{\sqrt{\hat S_t} + \epsilon}\, \hat V_t",
    ],
}

# The notebook's own RMSProp + Nesterov equations, as written (see the module docstring).
NOTEBOOK_NESTEROV: list[str] = [
    r"w_{t+1} = w_t - \frac{\alpha}{\sqrt{S_t + \epsilon}}\, V_t",
    r"V_t = \beta_v V_{t-1} + (1 - \beta_v) \frac{\partial L}{\partial w^*}",
    r"S_t = \beta_d S_{t-1} + (1 - \beta_d) \left[\frac{\partial L}{\partial w_t}\right]^2",
    r"w^* = w_t - \alpha V_{t-1}",
]
NOTEBOOK_NESTEROV_NOTE = (
    "The notebook's form needs two gradients per step (at w_t for S, at w* for V), and its "
    "look-ahead w* = w_t − αV_{t−1} is not where the next step goes, because the step is "
    "divided by sqrt(S + ε). Algorithm 8.6 of Goodfellow, Bengio & Courville, used here, "
    "reads one gradient at the look-ahead point w̃ = w + μV and uses it for both S and V; "
    "V is then a step in parameter units, so the look-ahead is exactly where momentum goes."
)

# One or two plain sentences per term, per method.
TERMS: dict[str, list[tuple[str, str]]] = {
    "adagrad": [
        (r"g_t", "The gradient of the loss at the current weights: which way is uphill, and how steep."),
        (r"S_t", "The running sum of every squared gradient so far, per weight. It only grows."),
        (r"\frac{\alpha}{\sqrt{S_t+\epsilon}}", "The effective learning rate of each weight: large for weights "
         "that have seen small gradients, and shrinking forever as S grows, which is why Adagrad "
         "eventually stalls."),
        (r"\epsilon", "A tiny constant that keeps the division finite when S is still 0."),
    ],
    "rmsprop": [
        (r"g_t", "The gradient of the loss at the current weights."),
        (r"S_t", "An exponentially decaying average of squared gradients (mean square): recent "
         "gradients count most, and old ones are forgotten at rate β."),
        (r"\frac{\alpha}{\sqrt{S_t+\epsilon}}", "Divide by the root mean square: each weight's step is "
         "roughly α in size whatever the scale of its gradient, and unlike Adagrad it can grow back."),
        (r"\epsilon", "Keeps the division finite when S is near 0."),
    ],
    "rmsprop_nesterov": [
        (r"\tilde w_t", "The look-ahead point: where the momentum alone would carry the weights."),
        (r"g_t", "The gradient read at the look-ahead point rather than at the current weights, "
         "so the step corrects the momentum before it overshoots (Nesterov)."),
        (r"S_t", "RMSProp's decaying mean square of the gradients."),
        (r"V_t", "The velocity: μ times the previous step plus this step's RMSProp-scaled gradient. "
         "It is itself a step in weight units."),
        (r"\mu", "The momentum coefficient: how much of the previous step is kept."),
    ],
    "adadelta": [
        (r"S_t", "RMSProp's decaying mean square of the gradients: the denominator."),
        (r"\Delta w_t", "The step. Its size is the RMS of recent steps over the RMS of recent "
         "gradients, so it has the units of w and needs no learning rate."),
        (r"D_t", "A decaying mean square of the past steps Δw: the numerator, which replaces α."),
        (r"\epsilon", "Starts the process: with D_0 = 0 the very first steps have size about √ε, "
         "so ε sets the initial speed as well as the numerical safety."),
        (r"\alpha", "Not in Zeiler's rule, where α = 1. Keras multiplies the step by it (default 0.001)."),
    ],
    "adam": [
        (r"V_t", "First moment: a decaying average of the gradients, i.e. momentum."),
        (r"S_t", "Second moment: a decaying average of the squared gradients, as in RMSProp."),
        (r"\hat V_t,\ \hat S_t", "Bias corrections: V and S start at 0 and are too small in the first "
         "steps; dividing by 1 − βᵗ undoes that, and fades out as t grows."),
        (r"\frac{\alpha}{\sqrt{\hat S_t}+\epsilon}", "The per-weight learning rate, as in RMSProp but "
         "with ε outside the root."),
    ],
}

HPARAM_TEXT: dict[str, dict[str, str]] = {
    "adagrad": {
        "learning_rate": "α, the base learning rate.",
        "epsilon": "ε, keeps the denominator from being 0.",
        "initial_accumulator_value": "S₀, where the sum of squares starts (0 in Duchi et al., 0.1 in Keras).",
    },
    "rmsprop": {
        "learning_rate": "α, the base learning rate.",
        "rho": "β, how slowly the mean square forgets (0.9 ≈ the last 10 gradients).",
        "epsilon": "ε, keeps the denominator from being 0.",
    },
    "rmsprop_nesterov": {
        "learning_rate": "α, the base learning rate.",
        "rho": "β, how slowly the mean square forgets (β_d in the notebook).",
        "momentum": "μ, the fraction of the previous step kept (β_v in the notebook).",
        "epsilon": "ε, keeps the denominator from being 0.",
    },
    "adadelta": {
        "rho": "β, the decay of both running averages (S and D).",
        "epsilon": "ε, numerical safety and the size of the first steps (about √ε).",
        "learning_rate": "α, not in the paper (there α = 1); Keras multiplies the step by it.",
    },
    "adam": {
        "learning_rate": "α, the step size (about the largest step a weight takes).",
        "beta_1": "β₁, the decay of the momentum V.",
        "beta_2": "β₂, the decay of the mean square S.",
        "epsilon": "ε, keeps the denominator from being 0.",
    },
}

def hparam_rows(method: str, values: Mapping) -> list[dict]:
    """One row per hyper-parameter: symbol, Keras name, value now, textbook default, meaning.

    The textbook default (DEFAULTS) is not always what the MLP runs train with: those use
    Keras's defaults where they differ (Adagrad's α = 0.001), listed on the MLP tab.
    """
    return [
        {
            "symbol": SYMBOLS_TEXT[k],
            "Keras name": k,
            "value now": f"{values[k]:g}" if k in values else "",
            "textbook default": f"{DEFAULTS[method][k]:g}",
            "meaning": HPARAM_TEXT[method][k],
        }
        for k in HPARAMS[method]
    ]


# AdaDelta and Adam against RMSProp, one row per question (SPEC 1.1, last part).
COMPARISON: list[dict[str, str]] = [
    {
        "": "What sets the step size",
        "RMSProp": "α / sqrt(S_t + ε)",
        "AdaDelta": "sqrt(D_{t−1} + ε) / sqrt(S_t + ε): the RMS of past steps replaces α",
        "Adam": "α / (sqrt(Ŝ_t) + ε)",
    },
    {
        "": "Direction",
        "RMSProp": "the current gradient g_t",
        "AdaDelta": "the current gradient g_t",
        "Adam": "the momentum V̂_t (average of past gradients)",
    },
    {
        "": "Momentum",
        "RMSProp": "none",
        "AdaDelta": "none (D is a running average of step sizes, not of directions)",
        "Adam": "yes, β₁",
    },
    {
        "": "Bias correction",
        "RMSProp": "none: S starts at 0, so early steps are large",
        "AdaDelta": "none",
        "Adam": "yes: divides V and S by 1 − βᵗ",
    },
    {
        "": "Hyper-parameters",
        "RMSProp": "α, β, ε",
        "AdaDelta": "β, ε (no learning rate)",
        "Adam": "α, β₁, β₂, ε",
    },
    {
        "": "State per weight",
        "RMSProp": "S",
        "AdaDelta": "S, D",
        "Adam": "S, V",
    },
]


def number(x: float) -> str:
    """A number for LaTeX: 4 significant digits, powers of ten when very small or large."""
    x = float(x)
    if x == 0:
        return "0"
    if not np.isfinite(x):
        return r"\infty" if x > 0 else (r"-\infty" if x < 0 else r"\text{NaN}")
    if 1e-3 <= abs(x) < 1e4:
        return f"{x:.4g}"
    mantissa, exponent = f"{x:.3e}".split("e")
    mantissa = mantissa.rstrip("0").rstrip(".")
    exp = int(exponent)
    return rf"10^{{{exp}}}" if mantissa == "1" else rf"{mantissa}\times 10^{{{exp}}}"


def vector(v) -> str:
    """A vector as a LaTeX row (a, b), one entry per coordinate."""
    return r"\left(" + r",\ ".join(number(x) for x in np.ravel(v)) + r"\right)"


def chain(lhs: str, *rhs: str) -> str:
    """``lhs = rhs[0] = rhs[1] = ...``, one "=" per row, so long vectors never run off the page."""
    return r"\begin{aligned}" + lhs + " &= " + r" \\ &= ".join(rhs) + r"\end{aligned}"


def live_equations(method: str, hparams: Mapping, w_prev, prev: State, w, state: State) -> list[str]:
    """The equations of step t with every symbol replaced by its value.

    ``w_prev``/``prev`` are w_{t-1} and the state after step t-1; ``w``/``state``
    are w_t and the state after step t. Each equation is a chain: the symbols,
    then the numbers substituted, then the result.
    """
    h = {k: number(v) for k, v in hparams.items() if not isinstance(v, bool)}
    t, p = state["t"], state["t"] - 1
    v = {k: vector(x) for k, x in state.items() if k != "t"}
    vp = {k: vector(x) for k, x in prev.items() if k != "t"}
    wp, wt = vector(w_prev), vector(w)
    at = rf"\tilde w_{{{t}}}" if method == "rmsprop_nesterov" else rf"w_{{{p}}}"
    grad = chain(rf"g_{{{t}}}", rf"\frac{{\partial L}}{{\partial w}}\Big|_{{{at}}}", v["g"])

    def mean_square(name, beta, x, prev_x, prev_name):
        """name_t = β·name_{t−1} + (1 − β)·x² with the numbers in; x = (symbol, value)."""
        return chain(
            rf"{name}_{{{t}}}",
            rf"{SYMBOLS[beta]}\, {prev_name}_{{{p}}} + (1 - {SYMBOLS[beta]})\, {x[0]}^2",
            rf"{h[beta]} \cdot {prev_x} + {number(1 - hparams[beta])} \cdot {x[1]}^2",
            v[name],
        )

    def rate(root):
        """α / sqrt(S_t + ε), the per-coordinate learning rate, with the numbers in."""
        return chain(
            rf"\frac{{\alpha}}{{\sqrt{{S_{{{t}}} + \epsilon}}}}",
            rf"\frac{{{h['learning_rate']}}}{{\sqrt{{{root} + {h['epsilon']}}}}}",
            v["rate"],
        )

    if method in ("adagrad", "rmsprop"):
        if method == "adagrad":
            S = chain(rf"S_{{{t}}}", rf"S_{{{p}}} + g_{{{t}}}^2", rf"{vp['S']} + {v['g']}^2", v["S"])
        else:
            S = mean_square("S", "rho", (rf"g_{{{t}}}", v["g"]), vp["S"], "S")
        return [
            grad,
            S,
            rate(v["S"]),
            chain(rf"w_{{{t}}}", rf"w_{{{p}}} - \frac{{\alpha}}{{\sqrt{{S_{{{t}}} + \epsilon}}}} \odot g_{{{t}}}",
                  rf"{wp} - {v['rate']} \odot {v['g']}", wt),
        ]
    if method == "rmsprop_nesterov":
        return [
            chain(rf"\tilde w_{{{t}}}", rf"w_{{{p}}} + \mu\, V_{{{p}}}", rf"{wp} + {h['momentum']} \cdot {vp['V']}",
                  v["w_tilde"]),
            grad,
            mean_square("S", "rho", (rf"g_{{{t}}}", v["g"]), vp["S"], "S"),
            rate(v["S"]),
            chain(rf"V_{{{t}}}", rf"\mu\, V_{{{p}}} - \frac{{\alpha}}{{\sqrt{{S_{{{t}}} + \epsilon}}}} \odot g_{{{t}}}",
                  rf"{h['momentum']} \cdot {vp['V']} - {v['rate']} \odot {v['g']}", v["V"]),
            chain(rf"w_{{{t}}}", rf"w_{{{p}}} + V_{{{t}}}", rf"{wp} + {v['V']}", wt),
        ]
    if method == "adadelta":
        return [
            grad,
            mean_square("S", "rho", (rf"g_{{{t}}}", v["g"]), vp["S"], "S"),
            chain(rf"\Delta w_{{{t}}}",
                  rf"-\frac{{\sqrt{{D_{{{p}}} + \epsilon}}}}{{\sqrt{{S_{{{t}}} + \epsilon}}}} \odot g_{{{t}}}",
                  rf"-\frac{{\sqrt{{{vp['D']} + {h['epsilon']}}}}}{{\sqrt{{{v['S']} + {h['epsilon']}}}}} \odot {v['g']}",
                  v["dw"]),
            mean_square("D", "rho", (rf"\Delta w_{{{t}}}", v["dw"]), vp["D"], "D"),
            chain(rf"w_{{{t}}}", rf"w_{{{p}}} + \alpha\, \Delta w_{{{t}}}", rf"{wp} + {h['learning_rate']} \cdot {v['dw']}",
                  wt),
        ]
    if method == "adam":
        return [
            grad,
            chain(rf"V_{{{t}}}", rf"\beta_1 V_{{{p}}} + (1 - \beta_1)\, g_{{{t}}}",
                  rf"{h['beta_1']} \cdot {vp['V']} + {number(1 - hparams['beta_1'])} \cdot {v['g']}", v["V"]),
            chain(rf"S_{{{t}}}", rf"\beta_2 S_{{{p}}} + (1 - \beta_2)\, g_{{{t}}}^2",
                  rf"{h['beta_2']} \cdot {vp['S']} + {number(1 - hparams['beta_2'])} \cdot {v['g']}^2", v["S"]),
            chain(rf"\hat V_{{{t}}}", rf"\frac{{V_{{{t}}}}}{{1 - \beta_1^{{{t}}}}}",
                  rf"\frac{{{v['V']}}}{{1 - {h['beta_1']}^{{{t}}}}}", v["V_hat"]),
            chain(rf"\hat S_{{{t}}}", rf"\frac{{S_{{{t}}}}}{{1 - \beta_2^{{{t}}}}}",
                  rf"\frac{{{v['S']}}}{{1 - {h['beta_2']}^{{{t}}}}}", v["S_hat"]),
            chain(rf"\frac{{\alpha}}{{\sqrt{{\hat S_{{{t}}}}} + \epsilon}}",
                  rf"\frac{{{h['learning_rate']}}}{{\sqrt{{{v['S_hat']}}} + {h['epsilon']}}}", v["rate"]),
            chain(rf"w_{{{t}}}", rf"w_{{{p}}} - \frac{{\alpha}}{{\sqrt{{\hat S_{{{t}}}}} + \epsilon}} \odot \hat V_{{{t}}}",
                  rf"{wp} - {v['rate']} \odot {v['V_hat']}", wt),
        ]
    raise ValueError(f"no live equations for {method!r}; methods are {METHODS}")


def live_equations_at(tr: Trajectory, t: int) -> list[str]:
    """Live equations of step t of a trajectory (t is clipped to the steps it ran, min 1)."""
    if tr.steps == 0:
        return []
    k = max(1, tr.at(t))
    return live_equations(tr.method, tr.hparams, tr.w[k - 1], tr.states[k - 1], tr.w[k], tr.states[k])
