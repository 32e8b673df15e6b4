"""The networks of Problem 3 as layer tables: data, not code paths.

Each table goes through the same `dlcore.core.archmath` arithmetic as a table a
student types, and the tests build a real Keras model from each to check the
counts. Sources: Krizhevsky et al. 2012 (AlexNet, Sec. 3.5 and Fig. 2),
Simonyan & Zisserman 2015 (VGG, Table 1, configuration E), Szegedy et al.
2015 (GoogLeNet, Fig. 2; filter numbers of the course figure).
"""
from __future__ import annotations

from dlcore.core.archmath import Branch, Concat, Conv, Dense, Flatten, Network, Pool

# AlexNet as the seed notebook counts it: one tower (every conv sees all the
# channels below it). The paper writes 224×224, but (224 − 11)/4 + 1 = 54.25;
# 227×227 gives the 55×55 of its Fig. 2, and 6×6×256 before the first FC.
# Local response normalisation and dropout have no weights and are left out.
ALEXNET = Network(
    name="AlexNet (one tower, as in the notebook)",
    input_shape=(227, 227, 3),
    layers=(
        Conv(96, 11, stride=4, padding="valid", name="conv1"),
        Pool("max", 3, stride=2, name="pool1"),
        Conv(256, 5, padding=2, name="conv2"),
        Pool("max", 3, stride=2, name="pool2"),
        Conv(384, 3, padding=1, name="conv3"),
        Conv(384, 3, padding=1, name="conv4"),
        Conv(256, 3, padding=1, name="conv5"),
        Pool("max", 3, stride=2, name="pool5"),
        Flatten(name="flatten"),
        Dense(4096, name="fc1"),
        Dense(4096, name="fc2"),
        Dense(1000, name="fc3"),
    ),
    note="one tower: 96-256-384-384-256 filters, FC 4096-4096-1000",
)

# The paper's two-GPU AlexNet: conv2, conv4 and conv5 only see the half of
# the channels on their own GPU (groups = 2); conv3 and the FCs see all.
ALEXNET_TWO_TOWERS = Network(
    name="AlexNet (two towers, as in the paper)",
    input_shape=(227, 227, 3),
    layers=tuple(
        Conv(layer.filters, layer.kernel, layer.stride, layer.padding, groups=2, name=layer.name)
        if layer.name in ("conv2", "conv4", "conv5") else layer
        for layer in ALEXNET.layers
    ),
    note="conv2, conv4, conv5 split over two GPUs (groups = 2)",
)

ALEXNETS = {"one tower (notebook)": ALEXNET, "two towers (paper, groups = 2)": ALEXNET_TWO_TOWERS}


def _vgg_block(filters: int, convs: int) -> tuple:
    """`convs` 3×3 convs (stride 1, pad 1), then a 2×2 max pool of stride 2."""
    return tuple(Conv(filters, 3, padding=1, name=f"conv3-{filters}") for _ in range(convs)) + (
        Pool("max", 2, stride=2, name="maxpool 2×2"),
    )


# VGG19, configuration E of Simonyan & Zisserman's Table 1.
VGG19 = Network(
    name="VGG19 (configuration E)",
    input_shape=(224, 224, 3),
    layers=(
        *_vgg_block(64, 2),
        *_vgg_block(128, 2),
        *_vgg_block(256, 4),
        *_vgg_block(512, 4),
        *_vgg_block(512, 4),
        Flatten(name="flatten"),
        Dense(4096, name="FC-4096"),
        Dense(4096, name="FC-4096"),
        Dense(1000, name="FC-1000"),
    ),
    note="3×3 convs, stride 1, pad 1; 2×2 max pools, stride 2",
)

# The inception module of the homework: input and filter numbers of the
# course figure. The page lets every number change.
INCEPTION_INPUT = (32, 32, 256)
INCEPTION_FILTERS = {
    "n1x1": 128,
    "n3x3": 192,
    "n5x5": 96,
    "reduce3x3": 64,
    "reduce5x5": 64,
    "pool_proj": 64,
}


def inception_naive(input_shape=INCEPTION_INPUT, n1x1=128, n3x3=192, n5x5=96) -> Network:
    """Fig. 2(a): 1×1, 3×3, 5×5 convs and a 3×3 max pool side by side, concatenated."""
    return Network(
        name="inception, naive",
        input_shape=tuple(input_shape),
        layers=(Concat((
            Branch("1×1", (Conv(n1x1, 1, padding="same", name="1×1 conv"),)),
            Branch("3×3", (Conv(n3x3, 3, padding="same", name="3×3 conv"),)),
            Branch("5×5", (Conv(n5x5, 5, padding="same", name="5×5 conv"),)),
            Branch("pool", (Pool("max", 3, stride=1, padding="same", name="3×3 max pool"),)),
        )),),
    )


def inception_reduced(
    input_shape=INCEPTION_INPUT, n1x1=128, n3x3=192, n5x5=96, reduce3x3=64, reduce5x5=64, pool_proj=64
) -> Network:
    """Fig. 2(b): 1×1 convs shrink the channels before the 3×3 and 5×5, and after the pool."""
    return Network(
        name="inception, dimensionality reduction",
        input_shape=tuple(input_shape),
        layers=(Concat((
            Branch("1×1", (Conv(n1x1, 1, padding="same", name="1×1 conv"),)),
            Branch("3×3", (
                Conv(reduce3x3, 1, padding="same", name="1×1 reduce"),
                Conv(n3x3, 3, padding="same", name="3×3 conv"),
            )),
            Branch("5×5", (
                Conv(reduce5x5, 1, padding="same", name="1×1 reduce"),
                Conv(n5x5, 5, padding="same", name="5×5 conv"),
            )),
            Branch("pool", (
                Pool("max", 3, stride=1, padding="same", name="3×3 max pool"),
                Conv(pool_proj, 1, padding="same", name="1×1 pool proj"),
            )),
        )),),
    )


# Starting tables for the "build your own" editor. The last one holds the
# mistakes students make, so the messages can be seen before making them.
OWN_TABLE_COLUMNS = ("type", "units", "kernel", "stride", "padding")
OWN_INPUTS = {
    "Small CIFAR-10 CNN": (32, 32, 3),
    "LeNet-5": (32, 32, 1),
    "A table with mistakes": (224, 224, 3),
}
OWN_TABLES = {
    "Small CIFAR-10 CNN": [
        {"type": "conv", "units": 32, "kernel": 3, "stride": 1, "padding": "same"},
        {"type": "maxpool", "units": None, "kernel": 2, "stride": 2, "padding": "valid"},
        {"type": "conv", "units": 64, "kernel": 3, "stride": 1, "padding": "same"},
        {"type": "maxpool", "units": None, "kernel": 2, "stride": 2, "padding": "valid"},
        {"type": "flatten", "units": None, "kernel": None, "stride": None, "padding": ""},
        {"type": "dense", "units": 128, "kernel": None, "stride": None, "padding": ""},
        {"type": "dense", "units": 10, "kernel": None, "stride": None, "padding": ""},
    ],
    "LeNet-5": [
        {"type": "conv", "units": 6, "kernel": 5, "stride": 1, "padding": "valid"},
        {"type": "avgpool", "units": None, "kernel": 2, "stride": 2, "padding": "valid"},
        {"type": "conv", "units": 16, "kernel": 5, "stride": 1, "padding": "valid"},
        {"type": "avgpool", "units": None, "kernel": 2, "stride": 2, "padding": "valid"},
        {"type": "flatten", "units": None, "kernel": None, "stride": None, "padding": ""},
        {"type": "dense", "units": 120, "kernel": None, "stride": None, "padding": ""},
        {"type": "dense", "units": 84, "kernel": None, "stride": None, "padding": ""},
        {"type": "dense", "units": 10, "kernel": None, "stride": None, "padding": ""},
    ],
    "A table with mistakes": [
        {"type": "conv", "units": 96, "kernel": 11, "stride": 4, "padding": "valid"},
        {"type": "maxpool", "units": None, "kernel": 2, "stride": 2, "padding": "valid"},
        {"type": "conv", "units": 256, "kernel": 31, "stride": 1, "padding": "valid"},
        {"type": "conv", "units": -64, "kernel": 3, "stride": 1, "padding": "same"},
        {"type": "dropout", "units": None, "kernel": None, "stride": None, "padding": ""},
        {"type": "dense", "units": 10, "kernel": None, "stride": None, "padding": ""},
    ],
}
