"""Architecture arithmetic: shapes, parameters, activations and multiplies.

Every number on the architecture page comes from here. A network is a layer
table (data, see `dlcore.core.architectures`); the arithmetic is one small method per
layer kind, so AlexNet, VGG19 and the inception module share one code path and
a student's own table goes through the very same functions.

Conventions follow Keras, because the tests hold every count against a real
Keras model: shapes are (height, width, channels) or (features,) without the
batch axis; a 'valid' or integer padding floors the output length, 'same'
gives ceil(n / stride). "Multiplies" are multiply-accumulates (MACs) of one
forward pass of one image; pooling has no weights and no multiplies.

Nothing here imports Keras or Streamlit: the page must stay instant.
"""
from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from fractions import Fraction

Shape = tuple[int, ...]


class ShapeError(ValueError):
    """A layer that cannot be applied to its input; the message says why, in words."""


# ----------------------------------------------------------------- formatting

def fmt(n: int | Fraction) -> str:
    """34944 -> '34,944'; a non-integer length keeps its decimals (54.25)."""
    if isinstance(n, Fraction) and n.denominator != 1:
        return f"{float(n):,.4g}"
    return f"{int(n):,}"


def fmt_short(n: int) -> str:
    """19632062464 -> '19.63 billion': for a headline where every digit won't fit."""
    for size, word in ((10**12, "trillion"), (10**9, "billion"), (10**6, "million")):
        if abs(n) >= size:
            return f"{n / size:.2f} {word}"
    return fmt(n)


def shape_text(shape: Shape) -> str:
    """(55, 55, 96) -> '55×55×96', the way the lecture writes a tensor."""
    return "×".join(fmt(d) for d in shape)


def _padding_text(padding: str | int) -> str:
    return f"'{padding}'" if isinstance(padding, str) else f"{padding} pixel(s)"


def _check_padding(padding) -> None:
    if isinstance(padding, str):
        if padding not in ("valid", "same"):
            raise ShapeError(f"padding must be 'valid', 'same' or a whole number of pixels, not {padding!r}")
    elif isinstance(padding, bool) or not isinstance(padding, int) or padding < 0:
        raise ShapeError(f"padding must be 'valid', 'same' or a whole number ≥ 0, not {padding!r}")


# ----------------------------------------------------------- sliding windows

def output_length_exact(n: int, kernel: int, stride: int, padding: str | int) -> Fraction:
    """The output length before any flooring: (n + 2p − k)/s + 1.

    A non-integer value means the window does not tile the input and a
    framework silently drops the last rows (AlexNet's famous 224: 54.25).
    'same' padding pads just enough for ceil(n/s), so it is always whole.
    """
    if padding == "same":
        return Fraction(math.ceil(n / stride))
    p = 0 if padding == "valid" else padding
    return Fraction(n + 2 * p - kernel, stride) + 1


def output_length(n: int, kernel: int, stride: int, padding: str | int) -> int:
    """The output length Keras gives (floors a non-integer length)."""
    return math.floor(output_length_exact(n, kernel, stride, padding))


def output_length_text(n: int, kernel: int, stride: int, padding: str | int) -> str:
    """'(227 − 11)/4 + 1 = 55': the length formula with the numbers in it."""
    exact = output_length_exact(n, kernel, stride, padding)
    if padding == "same":
        return f"⌈{n}/{stride}⌉ = {fmt(exact)}"
    pad = "" if padding in ("valid", 0) else f" + 2×{padding}"
    return f"({n}{pad} − {kernel})/{stride} + 1 = {fmt(exact)}"


def _window_shape(kind: str, shape: Shape, kernel: int, stride: int, padding) -> tuple[int, int]:
    """Output height and width of a sliding window, or a ShapeError in words."""
    if len(shape) != 3:
        raise ShapeError(
            f"a {kind} needs an H×W×C input, but gets a flat vector of {fmt(shape[0])} values; "
            "put it before the flatten"
        )
    for what, v in (("kernel", kernel), ("stride", stride)):
        if isinstance(v, bool) or not isinstance(v, int) or v < 1:
            raise ShapeError(f"{what} must be a whole number ≥ 1, not {v!r}")
    _check_padding(padding)
    h, w, _ = shape
    out = []
    for n in (h, w):
        length = output_length_exact(n, kernel, stride, padding)
        if length < 1:
            raise ShapeError(
                f"the {kernel}×{kernel} {kind} window is larger than the {h}×{w} input "
                f"(padding {_padding_text(padding)}): {output_length_text(n, kernel, stride, padding)}"
            )
        out.append(math.floor(length))
    return out[0], out[1]


def _shape_calc(shape: Shape, kernel: int, stride: int, padding) -> str:
    h, w, _ = shape
    if h == w:
        return output_length_text(h, kernel, stride, padding)
    return (
        f"H: {output_length_text(h, kernel, stride, padding)}; "
        f"W: {output_length_text(w, kernel, stride, padding)}"
    )


def _positive_whole(what: str, v) -> None:
    if isinstance(v, bool) or not isinstance(v, int) or v < 1:
        raise ShapeError(f"{what} must be a whole number ≥ 1, not {v!r}")


# --------------------------------------------------------------------- layers

@dataclass(frozen=True, repr=False)
class Conv:
    """A 2-D convolution: `filters` kernels of kernel×kernel×(C/groups) each."""

    filters: int
    kernel: int
    stride: int = 1
    padding: str | int = "valid"
    groups: int = 1
    name: str = "conv"

    def __repr__(self) -> str:
        groups = f", {self.groups} groups" if self.groups != 1 else ""
        return (
            f"Conv {self.filters} filters {self.kernel}×{self.kernel}, stride {self.stride}, "
            f"padding {_padding_text(self.padding)}{groups}"
        )

    def _fan_in(self, shape: Shape) -> int:
        return self.kernel * self.kernel * (shape[2] // self.groups)

    def output_shape(self, shape: Shape) -> Shape:
        _positive_whole("the number of filters", self.filters)
        _positive_whole("groups", self.groups)
        h, w = _window_shape("convolution", shape, self.kernel, self.stride, self.padding)
        c = shape[2]
        if c % self.groups or self.filters % self.groups:
            raise ShapeError(
                f"{self.groups} groups must divide both the {c} input channels and the {self.filters} filters"
            )
        return (h, w, self.filters)

    def shape_calc(self, shape: Shape) -> str:
        return _shape_calc(shape, self.kernel, self.stride, self.padding)

    def parameters(self, shape: Shape, biases: bool = True) -> int:
        self.output_shape(shape)
        return self._fan_in(shape) * self.filters + (self.filters if biases else 0)

    def params_calc(self, shape: Shape, biases: bool = True, fan_in_text: str | None = None) -> str:
        c = f"{shape[2]}/{self.groups}" if self.groups != 1 else f"{shape[2]}"
        bias = f" + {fmt(self.filters)}" if biases else ""
        return f"({self.kernel}×{self.kernel}×{c})×{fmt(self.filters)}{bias} = {fmt(self.parameters(shape, biases))}"

    def macs(self, shape: Shape) -> int:
        h, w, f = self.output_shape(shape)
        return h * w * f * self._fan_in(shape)

    def macs_calc(self, shape: Shape) -> str:
        c = f"{shape[2]}/{self.groups}" if self.groups != 1 else f"{shape[2]}"
        return (
            f"({shape_text(self.output_shape(shape))})×({self.kernel}×{self.kernel}×{c}) "
            f"= {fmt(self.macs(shape))}"
        )


@dataclass(frozen=True, repr=False)
class Pool:
    """Max or average pooling: no weights, it only shrinks height and width."""

    kind: str = "max"
    size: int = 2
    stride: int | None = None
    padding: str | int = "valid"
    name: str = "pool"

    @property
    def step(self) -> int:
        """Keras' default: the stride equals the window size."""
        return self.size if self.stride is None else self.stride

    def __repr__(self) -> str:
        return (
            f"{self.kind.capitalize()}Pool {self.size}×{self.size}, stride {self.step}, "
            f"padding {_padding_text(self.padding)}"
        )

    def output_shape(self, shape: Shape) -> Shape:
        if self.kind not in ("max", "avg"):
            raise ShapeError(f"pooling is 'max' or 'avg', not {self.kind!r}")
        h, w = _window_shape(f"{self.kind} pooling", shape, self.size, self.step, self.padding)
        return (h, w, shape[2])

    def shape_calc(self, shape: Shape) -> str:
        return _shape_calc(shape, self.size, self.step, self.padding)

    def parameters(self, shape: Shape, biases: bool = True) -> int:
        self.output_shape(shape)
        return 0

    def params_calc(self, shape: Shape, biases: bool = True, fan_in_text: str | None = None) -> str:
        return f"no weights ({self.kind} of each {self.size}×{self.size} window) = 0"

    def macs(self, shape: Shape) -> int:
        self.output_shape(shape)
        return 0

    def macs_calc(self, shape: Shape) -> str:
        return "comparisons or additions only = 0" if self.kind == "max" else "additions only = 0"


@dataclass(frozen=True, repr=False)
class Dense:
    """A fully connected layer: every input feature to every unit."""

    units: int
    name: str = "dense"

    def __repr__(self) -> str:
        return f"Dense {fmt(self.units)} units"

    def output_shape(self, shape: Shape) -> Shape:
        _positive_whole("the number of units", self.units)
        if len(shape) != 1:
            raise ShapeError(
                f"a dense layer needs a flat input, but gets {shape_text(shape)}; put a flatten before it"
            )
        return (self.units,)

    def shape_calc(self, shape: Shape) -> str:
        return f"{fmt(self.units)} units"

    def parameters(self, shape: Shape, biases: bool = True) -> int:
        self.output_shape(shape)
        return shape[0] * self.units + (self.units if biases else 0)

    def params_calc(self, shape: Shape, biases: bool = True, fan_in_text: str | None = None) -> str:
        fan_in = f"({fan_in_text})" if fan_in_text else fmt(shape[0])
        bias = f" + {fmt(self.units)}" if biases else ""
        return f"{fan_in}×{fmt(self.units)}{bias} = {fmt(self.parameters(shape, biases))}"

    def macs(self, shape: Shape) -> int:
        return self.parameters(shape, biases=False)

    def macs_calc(self, shape: Shape) -> str:
        return f"{fmt(shape[0])}×{fmt(self.units)} = {fmt(self.macs(shape))}"


@dataclass(frozen=True, repr=False)
class Flatten:
    """Reshapes H×W×C into one vector; nothing is computed, and nothing new is stored:
    the vector is the layer above's output read in order (a view), so it adds no
    activations to the memory count."""

    name: str = "flatten"
    reshapes = True  # a class attribute, not a field: every Flatten is a view

    def __repr__(self) -> str:
        return "Flatten"

    def output_shape(self, shape: Shape) -> Shape:
        return (math.prod(shape),)

    def shape_calc(self, shape: Shape) -> str:
        return f"{shape_text(shape)} = {fmt(math.prod(shape))}"

    def parameters(self, shape: Shape, biases: bool = True) -> int:
        return 0

    def params_calc(self, shape: Shape, biases: bool = True, fan_in_text: str | None = None) -> str:
        return "no weights = 0"

    def macs(self, shape: Shape) -> int:
        return 0

    def macs_calc(self, shape: Shape) -> str:
        return "a reshape = 0"


@dataclass(frozen=True, repr=False)
class Branch:
    """One path of a multi-branch block, e.g. inception's '1×1 reduce → 3×3'."""

    name: str
    layers: tuple

    def __repr__(self) -> str:
        return f"{self.name}: " + " → ".join(repr(layer) for layer in self.layers)

    def output_shape(self, shape: Shape) -> Shape:
        for layer in self.layers:
            shape = layer.output_shape(shape)
        return shape

    def parameters(self, shape: Shape, biases: bool = True) -> int:
        return sum(layer.parameters(s, biases) for layer, s in _walk(self.layers, shape))

    def macs(self, shape: Shape) -> int:
        return sum(layer.macs(s) for layer, s in _walk(self.layers, shape))


@dataclass(frozen=True, repr=False)
class Concat:
    """Parallel branches on the same input, joined along the channels."""

    branches: tuple
    name: str = "filter concatenation"

    def __repr__(self) -> str:
        return "Concat of " + " | ".join(repr(b) for b in self.branches)

    def output_shape(self, shape: Shape) -> Shape:
        outs = [b.output_shape(shape) for b in self.branches]
        if any(len(o) != 3 for o in outs):
            raise ShapeError("every branch of a concatenation must give an H×W×C output")
        sizes = {o[:2] for o in outs}
        if len(sizes) != 1:
            listed = ", ".join(f"{b.name}: {o[0]}×{o[1]}" for b, o in zip(self.branches, outs))
            raise ShapeError(f"branches disagree on height×width ({listed}); use 'same' padding")
        h, w = outs[0][:2]
        return (h, w, sum(o[2] for o in outs))

    def shape_calc(self, shape: Shape) -> str:
        outs = [b.output_shape(shape) for b in self.branches]
        h, w, c = self.output_shape(shape)
        return f"{h}×{w}×({' + '.join(str(o[2]) for o in outs)}) = {h}×{w}×{c}"

    def parameters(self, shape: Shape, biases: bool = True) -> int:
        return sum(b.parameters(shape, biases) for b in self.branches)

    def macs(self, shape: Shape) -> int:
        return sum(b.macs(shape) for b in self.branches)


def _walk(layers: Sequence, shape: Shape):
    """(layer, its input shape) along a chain."""
    for layer in layers:
        yield layer, shape
        shape = layer.output_shape(shape)


# The four quantities, as plain functions of (layer, input shape).

def output_shape(layer, shape: Shape) -> Shape:
    """Shape after `layer`, or ShapeError saying why it cannot be applied."""
    return layer.output_shape(tuple(shape))


def parameters(layer, shape: Shape, biases: bool = True) -> int:
    """Trainable weights of `layer` on this input (with or without biases)."""
    return layer.parameters(tuple(shape), biases)


def activations(layer, shape: Shape) -> int:
    """Values the layer writes to memory for one image: the size of its output, or 0 for
    a reshape (Flatten), whose output is its input's memory read as a vector."""
    out = layer.output_shape(tuple(shape))
    return 0 if getattr(layer, "reshapes", False) else math.prod(out)


def activations_calc(layer, shape: Shape) -> str:
    """How :func:`activations` is counted, written out: '56×56×256 = 802,816'."""
    out = layer.output_shape(tuple(shape))
    if getattr(layer, "reshapes", False):
        return f"a reshape of {shape_text(shape)}: no new values = 0"
    return f"{shape_text(out)} = {fmt(math.prod(out))}" if len(out) > 1 else fmt(math.prod(out))


def macs(layer, shape: Shape) -> int:
    """Multiply-accumulates of one forward pass of one image."""
    return layer.macs(tuple(shape))


# ------------------------------------------------------------------- networks

@dataclass(frozen=True, repr=False)
class Network:
    """A layer table: a name, an input shape, and layers applied in order."""

    name: str
    input_shape: Shape
    layers: tuple
    note: str = ""

    def __repr__(self) -> str:
        t = totals(self)
        return (
            f"{self.name}: {shape_text(self.input_shape)} → {shape_text(t.output_shape)}, "
            f"{len(self.layers)} layer{'s' if len(self.layers) != 1 else ''}, "
            f"{fmt(t.params)} parameters, {fmt(t.macs)} multiplies"
        )


@dataclass(frozen=True, repr=False)
class LayerRow:
    """One line of a layer table, with every number and the sum that gives it."""

    name: str
    layer: object
    input_shape: Shape
    output_shape: Shape
    shape_calc: str
    params: int
    params_calc: str
    params_no_bias: int
    params_no_bias_calc: str
    activations: int
    activations_calc: str
    macs: int
    macs_calc: str
    branch: str = ""

    def __repr__(self) -> str:
        return (
            f"{self.name}: {shape_text(self.input_shape)} → {shape_text(self.output_shape)} | "
            f"params {self.params_calc} | multiplies {self.macs_calc}"
        )


def _row(name: str, layer, shape: Shape, fan_in_text: str | None, branch: str = "") -> LayerRow:
    out = layer.output_shape(shape)
    return LayerRow(
        name=name,
        layer=layer,
        input_shape=shape,
        output_shape=out,
        shape_calc=layer.shape_calc(shape),
        params=layer.parameters(shape, True),
        params_calc=layer.params_calc(shape, True, fan_in_text),
        params_no_bias=layer.parameters(shape, False),
        params_no_bias_calc=layer.params_calc(shape, False, fan_in_text),
        activations=activations(layer, shape),
        activations_calc=activations_calc(layer, shape),
        macs=layer.macs(shape),
        macs_calc=layer.macs_calc(shape),
        branch=branch,
    )


def input_row(shape: Shape) -> LayerRow:
    """The input as row 0: it occupies memory (activations) but has no weights."""
    size = math.prod(shape)
    return LayerRow(
        name="input", layer=None, input_shape=shape, output_shape=shape, shape_calc="given",
        params=0, params_calc="0", params_no_bias=0, params_no_bias_calc="0",
        activations=size, activations_calc=f"{shape_text(shape)} = {fmt(size)}" if len(shape) > 1 else fmt(size),
        macs=0, macs_calc="0",
    )


def layer_rows(network: Network) -> list[LayerRow]:
    """The network as table rows: the input, then every layer in order.

    A Concat is spelled out: one row per layer of every branch (named
    'branch / layer'), then one concatenation row carrying the joined shape
    and no weights of its own, so the column sums stay the network's totals.
    """
    shape = tuple(network.input_shape)
    rows = [input_row(shape)]
    fan_in_text = None
    for layer in network.layers:
        if isinstance(layer, Concat):
            for b in layer.branches:
                for sub, s in _walk(b.layers, shape):
                    rows.append(_row(f"{b.name} / {sub.name}", sub, s, None, branch=b.name))
            out = layer.output_shape(shape)
            rows.append(LayerRow(
                name=layer.name, layer=layer, input_shape=shape, output_shape=out,
                shape_calc=layer.shape_calc(shape),
                params=0, params_calc="no weights = 0", params_no_bias=0, params_no_bias_calc="no weights = 0",
                activations=math.prod(out), activations_calc=f"{shape_text(out)} = {fmt(math.prod(out))}",
                macs=0, macs_calc="a copy = 0",
            ))
            shape, fan_in_text = out, None
            continue
        rows.append(_row(layer.name, layer, shape, fan_in_text))
        # Dense after a flatten is written (6×6×256)×4,096, as in the lecture.
        fan_in_text = shape_text(shape) if isinstance(layer, Flatten) else None
        shape = layer.output_shape(shape)
    return rows


@dataclass(frozen=True, repr=False)
class Totals:
    """Column sums of a layer table."""

    params: int
    params_no_bias: int
    activations: int
    macs: int
    output_shape: Shape
    bytes_per_value: int = 4

    @property
    def activation_bytes(self) -> int:
        """Memory of all activations of one image at `bytes_per_value` (float32: 4)."""
        return self.activations * self.bytes_per_value

    def __repr__(self) -> str:
        return (
            f"{fmt(self.params)} parameters ({fmt(self.params_no_bias)} without biases), "
            f"{fmt(self.activations)} activations, {fmt(self.macs)} multiplies"
        )


def totals(network: Network) -> Totals:
    """Sum the table's columns (activations include the input, as the VGG table does)."""
    rows = layer_rows(network)
    return Totals(
        params=sum(r.params for r in rows),
        params_no_bias=sum(r.params_no_bias for r in rows),
        activations=sum(r.activations for r in rows),
        macs=sum(r.macs for r in rows),
        output_shape=rows[-1].output_shape,
    )


def total_calc(rows: Sequence[LayerRow], column: str = "params") -> str:
    """'34,944 + 614,656 + … = 62,378,344': the sum over the rows that carry any."""
    values = [getattr(r, column) for r in rows if getattr(r, column)]
    return f"{' + '.join(fmt(v) for v in values)} = {fmt(sum(values))}"


# -------------------------------------------------------- inception branches

@dataclass(frozen=True, repr=False)
class BranchCost:
    """One branch of a multi-branch block: its output and its multiplies."""

    name: str
    layers: str
    output_shape: Shape
    params: int
    macs: int
    macs_calc: str

    def __repr__(self) -> str:
        return f"{self.name} ({self.layers}): → {shape_text(self.output_shape)}, {self.macs_calc}"


def short_name(layer) -> str:
    """'3×3 conv, 192' or '3×3 max pool': a layer in a few characters, for narrow tables."""
    if isinstance(layer, Conv):
        return f"{layer.kernel}×{layer.kernel} conv, {fmt(layer.filters)}"
    if isinstance(layer, Pool):
        return f"{layer.size}×{layer.size} {layer.kind} pool"
    if isinstance(layer, Dense):
        return f"dense, {fmt(layer.units)}"
    return repr(layer)


def branch_costs(network: Network) -> list[BranchCost]:
    """Per-branch cost of the network's first Concat (the inception module)."""
    shape = tuple(network.input_shape)
    for layer in network.layers:
        if isinstance(layer, Concat):
            out = []
            for b in layer.branches:
                steps = list(_walk(b.layers, shape))
                with_macs = [sub.macs_calc(s) for sub, s in steps if sub.macs(s)]
                total = b.macs(shape)
                calc = " + ".join(c.rsplit(" = ", 1)[0] for c in with_macs) or "no multiplies"
                out.append(BranchCost(
                    name=b.name,
                    layers=" → ".join(short_name(sub) for sub in b.layers),
                    output_shape=b.output_shape(shape),
                    params=b.parameters(shape),
                    macs=total,
                    macs_calc=f"{calc} = {fmt(total)}",
                ))
            return out
        shape = layer.output_shape(shape)
    raise ShapeError(f"{network.name} has no concatenation")


@dataclass(frozen=True, repr=False)
class Saving:
    """What one design saves over another: absolute, and as a ratio."""

    before: int
    after: int

    @property
    def absolute(self) -> int:
        return self.before - self.after

    @property
    def ratio(self) -> float:
        """before / after: '3.15× fewer multiplies'."""
        return self.before / self.after if self.after else math.inf

    @property
    def fraction(self) -> float:
        """Share of `before` that is saved (0.68 = 68 % fewer)."""
        return self.absolute / self.before if self.before else 0.0

    def __repr__(self) -> str:
        return (
            f"{fmt(self.before)} − {fmt(self.after)} = {fmt(self.absolute)} saved "
            f"({self.fraction:.1%}, {self.ratio:.2f}× fewer)"
        )


def saving(before: int, after: int) -> Saving:
    return Saving(before, after)


# ----------------------------------------------------------- receptive field

def _check_field_args(n: int, f: int, stride: int) -> None:
    for what, v in (("N (number of layers)", n), ("F (filter size)", f), ("stride", stride)):
        if isinstance(v, bool) or not isinstance(v, int) or v < 1:
            raise ValueError(f"{what} must be a whole number ≥ 1, not {v!r}")


def receptive_field(n: int, f: int, stride: int = 1) -> int:
    """Side of the input square one output pixel of N stacked F×F convs sees.

    Each layer widens the field by F − 1 steps of its input's pixel spacing
    (the 'jump', the product of the strides below it):
    r = 1 + (F − 1)(1 + s + … + s^(N−1)); with stride 1, NF − N + 1.
    """
    _check_field_args(n, f, stride)
    return 1 + (f - 1) * sum(stride**k for k in range(n))


@dataclass(frozen=True, repr=False)
class FieldStep:
    """The receptive field after `layer` layers (layer 0 = one input pixel)."""

    layer: int
    size: int
    jump: int
    calc: str

    def __repr__(self) -> str:
        return f"after layer {self.layer}: {self.size}×{self.size} ({self.calc})"


def receptive_field_growth(n: int, f: int, stride: int = 1) -> list[FieldStep]:
    """Forward, layer by layer: r_k = r_(k−1) + (F − 1)·j_(k−1), j_k = j_(k−1)·s."""
    _check_field_args(n, f, stride)
    steps = [FieldStep(0, 1, 1, "one input pixel")]
    size, jump = 1, 1
    for k in range(1, n + 1):
        grown = size + (f - 1) * jump
        step = f" × {jump}" if jump != 1 else ""
        steps.append(FieldStep(k, grown, jump * stride, f"{size} + ({f} − 1){step} = {grown}"))
        size, jump = grown, jump * stride
    return steps


def receptive_field_derivation(n: int, f: int, stride: int = 1) -> list[str]:
    """The notebook's argument, backwards from one output pixel to the image.

    A window of w outputs of a stride-s F×F layer reads (w − 1)·s + F inputs;
    start with w = 1 at the last layer and walk down to the image.
    """
    _check_field_args(n, f, stride)
    lines = [f"Layer {n} (the last) outputs one pixel: 1×1."]
    w = 1
    for k in range(n, 0, -1):
        needed = (w - 1) * stride + f
        part = f"({w} − 1)×{stride} + {f}" if stride != 1 else f"{w} + {f} − 1"
        reads = "the image" if k == 1 else f"layer {k - 1}'s output"
        lines.append(
            f"Layer {k} needs a {w}×{w} window of outputs, so it reads {part} = {needed}, "
            f"a {needed}×{needed} window of {reads}."
        )
        w = needed
    if stride == 1:
        lines.append(
            f"Each layer adds F − 1 = {f - 1}, N = {n} times: 1 + N(F − 1) = NF − N + 1 = "
            f"{n}×{f} − {n} + 1 = {w}, so the field is {w}×{w}."
        )
    else:
        lines.append(
            f"Layer k's F − 1 = {f - 1} extra pixels are s^(k−1) image pixels apart: "
            f"1 + (F − 1)(1 + s + … + s^(N−1)) = {w}, so the field is {w}×{w}."
        )
    return lines


def stacked_vs_single_weights(n: int, f: int, channels: int) -> tuple[int, int]:
    """Weights (no biases) of N stacked F×F convs vs one conv with the same field.

    VGG's argument for small filters: three 3×3 layers see 7×7 with 27C²
    weights, one 7×7 layer needs 49C² (C channels in and out, stride 1).
    """
    r = receptive_field(n, f)
    shape = (r, r, channels)
    stacked = n * Conv(channels, f, padding="same").parameters(shape, biases=False)
    return stacked, Conv(channels, r, padding="same").parameters(shape, biases=False)


def receptive_field_latex(n: int, f: int, stride: int = 1) -> str:
    """The closed form with the slider values substituted, for st.latex."""
    r = receptive_field(n, f, stride)
    if stride == 1:
        return rf"r_N = 1 + N(F-1) = NF - N + 1 = {n}\cdot{f} - {n} + 1 = {r}"
    return (
        rf"r_N = 1 + (F-1)\sum_{{k=0}}^{{N-1}} s^k = 1 + ({f}-1)\cdot"
        rf"{sum(stride**k for k in range(n))} = {r}"
    )


def receptive_field_squares(n: int, f: int, stride: int = 1) -> list[dict]:
    """Nested squares, centred on the output pixel, one per layer, to draw.

    Coordinates are in input pixels; the centre pixel spans [−0.5, 0.5].
    """
    return [
        {
            "layer": s.layer,
            "label": "one pixel" if s.layer == 0 else f"after layer {s.layer}: {s.size}×{s.size}",
            "size": s.size,
            "x0": -s.size / 2, "x1": s.size / 2, "y0": -s.size / 2, "y1": s.size / 2,
        }
        for s in reversed(receptive_field_growth(n, f, stride))
    ]


def pixel_edges(size: int, largest: int = 41) -> list[float]:
    """Borders of the input pixels of a size×size field centred on 0, to draw
    a pixel grid; none past `largest`, where a grid would be a grey smear."""
    return [-size / 2 + i for i in range(size + 1)] if size <= largest else []


# --------------------------------------------------- a student's layer table

LAYER_TYPES = ("conv", "maxpool", "avgpool", "dense", "flatten")

_ALIASES = {
    "conv": "conv", "conv2d": "conv", "convolution": "conv",
    "maxpool": "maxpool", "max pool": "maxpool", "maxpooling2d": "maxpool", "max": "maxpool", "pool": "maxpool",
    "avgpool": "avgpool", "avg pool": "avgpool", "averagepooling2d": "avgpool", "avg": "avgpool",
    "dense": "dense", "fc": "dense", "fully connected": "dense", "linear": "dense",
    "flatten": "flatten",
}


@dataclass(frozen=True, repr=False)
class RowCheck:
    """The verdict on one row a student typed: the numbers, or why not."""

    row: int
    layer: str
    output_shape: str
    shape_calc: str
    params: int | None
    macs: int | None
    message: str

    @property
    def ok(self) -> bool:
        return not self.message

    def __repr__(self) -> str:
        if self.ok:
            return (
                f"row {self.row} {self.layer}: → {self.output_shape}, "
                f"{fmt(self.params)} params, {fmt(self.macs)} multiplies"
            )
        return f"row {self.row}: {self.message}"


def _missing(v) -> bool:
    return v is None or (isinstance(v, float) and math.isnan(v)) or (isinstance(v, str) and not v.strip())


def _whole(what: str, v, default=None, minimum: int = 1) -> int:
    """A cell as a whole number, or a ShapeError in words."""
    if _missing(v):
        if default is not None:
            return default
        raise ShapeError(f"{what} is missing")
    try:
        x = float(v)
    except (TypeError, ValueError):
        raise ShapeError(f"{what} must be a number, not {v!r}") from None
    if not math.isfinite(x) or x != int(x):
        raise ShapeError(f"{what} must be a whole number, not {v}")
    if x < 0:
        raise ShapeError(f"{what} is negative ({int(x)}): sizes count pixels or units, so they are ≥ {minimum}")
    if x < minimum:
        raise ShapeError(f"{what} must be at least {minimum}, not {int(x)}")
    return int(x)


def _padding_cell(v) -> str | int:
    if _missing(v):
        return "valid"
    text = str(v).strip().lower()
    if text in ("valid", "same"):
        return text
    return _whole("padding", v, minimum=0)


def parse_layer(cells: Mapping):
    """One typed row (type, units, kernel, stride, padding) as a layer spec."""
    raw = cells.get("type")
    if _missing(raw):
        raise ShapeError(f"no layer type: choose one of {', '.join(LAYER_TYPES)}")
    kind = _ALIASES.get(str(raw).strip().lower())
    if kind is None:
        raise ShapeError(f"unknown layer type {str(raw)!r}: choose one of {', '.join(LAYER_TYPES)}")
    if kind == "conv":
        return Conv(
            filters=_whole("the number of filters (units)", cells.get("units")),
            kernel=_whole("kernel", cells.get("kernel")),
            stride=_whole("stride", cells.get("stride"), default=1),
            padding=_padding_cell(cells.get("padding")),
        )
    if kind in ("maxpool", "avgpool"):
        size = _whole("kernel (pool size)", cells.get("kernel"))
        return Pool(
            kind=kind[:3], size=size,
            stride=_whole("stride", cells.get("stride"), default=size),
            padding=_padding_cell(cells.get("padding")),
        )
    if kind == "dense":
        return Dense(units=_whole("units", cells.get("units")))
    return Flatten()


def _type_text(cells: Mapping) -> str:
    raw = cells.get("type")
    return "" if _missing(raw) else str(raw)


def _not_whole_message(layer, shape: Shape) -> str:
    """Words for a window that does not tile its input, or '' when it does."""
    if not isinstance(layer, (Conv, Pool)):
        return ""
    size, step = (layer.kernel, layer.stride) if isinstance(layer, Conv) else (layer.size, layer.step)
    for n in shape[:2]:
        exact = output_length_exact(n, size, step, layer.padding)
        if exact.denominator != 1:
            return (
                f"output size is not a whole number: {output_length_text(n, size, step, layer.padding)}; "
                f"Keras floors it to {math.floor(exact)} and ignores the last pixels "
                "(change the stride, the padding or the input size)"
            )
    return ""


def checked_totals(checks: Sequence[RowCheck]) -> tuple[int, int]:
    """Parameters and multiplies summed over the rows that could be computed."""
    return sum(c.params or 0 for c in checks), sum(c.macs or 0 for c in checks)


def check_layer_table(input_shape: Sequence, rows: Sequence[Mapping]) -> list[RowCheck]:
    """Every typed row's shape, parameters and multiplies, or a message: never raises.

    Row 0 is the input. Every row is read on its own first (type, sizes), so
    all typing mistakes show at once. Shapes flow down the table: a window
    that does not tile its input (non-integer output length) is flagged and
    the rows below go on with the length Keras would use (floored); a layer
    that cannot be applied at all leaves the rows below without an input,
    and they say so instead of guessing.
    """
    try:
        if len(input_shape) != 3:
            raise ShapeError("the input needs a height, a width and channels")
        shape = tuple(_whole(f"input {axis}", v) for axis, v in zip(("height", "width", "channels"), input_shape))
    except ShapeError as e:
        return [RowCheck(0, "input", "", "", None, None, str(e))]
    checks = [RowCheck(0, "input", shape_text(shape), "given", 0, 0, "")]
    for i, cells in enumerate(rows, start=1):
        try:
            layer = parse_layer(cells)
        except ShapeError as e:
            checks.append(RowCheck(i, _type_text(cells), "", "", None, None, str(e)))
            shape = None
            continue
        if shape is None:
            checks.append(RowCheck(i, repr(layer), "", "", None, None,
                                   "not computed: a row above is invalid, so this row's input is unknown"))
            continue
        try:
            out = layer.output_shape(shape)
            checks.append(RowCheck(i, repr(layer), shape_text(out), layer.shape_calc(shape),
                                   layer.parameters(shape), layer.macs(shape), _not_whole_message(layer, shape)))
            shape = out
        except ShapeError as e:
            checks.append(RowCheck(i, repr(layer), "", "", None, None, str(e)))
            shape = None
    return checks
