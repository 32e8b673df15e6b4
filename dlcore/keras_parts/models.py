"""The three models of the homework, as functions returning a `keras.Model`.

- :func:`mlp` — Problem 1: Flatten(32×32×3) → Dense 1000 ReLU → Dense 1000 ReLU →
  Dense 10 softmax, He-normal, with L2 on the hidden kernels or dropout
  (0.2 on the input, 0.5 after each hidden layer).
- :func:`mini_googlenet` — Problem 2: the small inception network of Smith's CLR
  experiments as popularised by pyimagesearch (the seed notebook imports it).
- :func:`resnet_v1` — Problem 4: ResNet v1 for CIFAR, depth 6n+2 (He et al. 2016,
  Sec 4.2), with shortcut option A (identity + zero-padding, as the paper's
  CIFAR nets) or B (1×1 projection, as the keras-io code the notebook used).

Arguments are the papers' hyper-parameters, and builders validate them with a
message that says why. The softmax layers compute in float32 whatever the
global precision policy (mixed_bfloat16 on a GPU), as Keras recommends.
Everything uses `keras.layers`/`keras.ops` only, so the
models run on the TensorFlow and JAX backends alike.
"""
from __future__ import annotations

import keras
from keras import layers, ops

NUM_CLASSES = 10


def mlp(regularizer: str = "l2", l2: float = 5e-4, input_shape=(32, 32, 3),
        hidden: int = 1000, num_classes: int = NUM_CLASSES,
        output_init: str = "glorot_uniform") -> keras.Model:
    """The MLP of Problem 1 with `regularizer` 'l2' (factor `l2`) or 'dropout'.

    Hidden layers start He-normal. `output_init` is the output layer's initializer:
    the catalogue asks for "he_normal", as the SPEC names it; the default is Keras's
    own Glorot-uniform because run folders made before the catalogue said so (the
    cached 200-epoch runs) were trained with it, and a spec without the key must
    rebuild the model it describes.
    """
    if regularizer not in ("l2", "dropout"):
        raise ValueError(f"regularizer must be 'l2' or 'dropout', not {regularizer!r}")
    reg = keras.regularizers.L2(l2) if regularizer == "l2" else None
    inputs = keras.Input(shape=input_shape)
    x = layers.Flatten()(inputs)
    if regularizer == "dropout":
        x = layers.Dropout(0.2)(x)
    for _ in range(2):
        x = layers.Dense(hidden, activation="relu", kernel_initializer="he_normal",
                         kernel_regularizer=reg)(x)
        if regularizer == "dropout":
            x = layers.Dropout(0.5)(x)
    outputs = layers.Dense(num_classes, activation="softmax", kernel_initializer=output_init,
                           dtype="float32")(x)
    return keras.Model(inputs, outputs, name=f"mlp_{regularizer}")


def _conv_bn_relu(x, filters, kernel, strides=1, padding="same", bn_momentum=0.99):
    x = layers.Conv2D(filters, kernel, strides=strides, padding=padding)(x)
    x = layers.BatchNormalization(momentum=bn_momentum)(x)
    return layers.Activation("relu")(x)


def _inception(x, k1x1, k3x3, bn_momentum):
    return layers.Concatenate()([_conv_bn_relu(x, k1x1, 1, bn_momentum=bn_momentum),
                                 _conv_bn_relu(x, k3x3, 3, bn_momentum=bn_momentum)])


def _downsample(x, k, bn_momentum):
    return layers.Concatenate()([
        _conv_bn_relu(x, k, 3, strides=2, padding="valid", bn_momentum=bn_momentum),
        layers.MaxPooling2D(3, strides=2)(x),
    ])


def mini_googlenet(input_shape=(32, 32, 1), num_classes: int = NUM_CLASSES,
                   bn_momentum: float = 0.99, width: float = 1.0) -> keras.Model:
    """MiniGoogLeNet (Zhang et al. 2017's small Inception, used by Smith for CLR).

    `bn_momentum` is batch norm's moving-average momentum. Keras's 0.99 needs a few
    hundred iterations before the test-time statistics mean anything; the short
    `class` presets (tens of iterations) use 0.9, or the test accuracy of a
    well-trained net would read as chance.

    `width` scales every convolution's filter count (rounded, at least 1): the same
    modules and depth, about width² of the arithmetic. 1.0 is the paper's network; the
    `class` presets use a narrower one so that a run fits a lecture on 2 CPU cores.
    """
    if not width > 0:
        raise ValueError(f"width must be a positive multiplier of the filter counts, not {width!r}")

    def k(filters: int) -> int:
        return max(1, round(filters * width))

    inputs = keras.Input(shape=input_shape)
    x = _conv_bn_relu(inputs, k(96), 3, bn_momentum=bn_momentum)
    x = _inception(x, k(32), k(32), bn_momentum)
    x = _inception(x, k(32), k(48), bn_momentum)
    x = _downsample(x, k(80), bn_momentum)
    for k1, k3 in ((112, 48), (96, 64), (80, 80), (48, 96)):
        x = _inception(x, k(k1), k(k3), bn_momentum)
    x = _downsample(x, k(96), bn_momentum)
    x = _inception(x, k(176), k(160), bn_momentum)
    x = _inception(x, k(176), k(160), bn_momentum)
    x = layers.GlobalAveragePooling2D()(x)
    x = layers.Dropout(0.5)(x)
    outputs = layers.Dense(num_classes, activation="softmax", dtype="float32")(x)
    return keras.Model(inputs, outputs, name="mini_googlenet")


@keras.saving.register_keras_serializable(package="dlcore")
class ZeroPadShortcut(layers.Layer):
    """ResNet shortcut option A: subsample by `stride`, zero-pad the new channels.

    Parameter-free, as He et al. used for their CIFAR-10 ResNets (Sec 4.2).
    """

    def __init__(self, stride: int, extra_channels: int, **kwargs):
        super().__init__(**kwargs)
        self.stride = stride
        self.extra_channels = extra_channels

    def call(self, x):
        x = x[:, :: self.stride, :: self.stride, :]
        half = self.extra_channels // 2
        return ops.pad(x, [[0, 0], [0, 0], [0, 0], [half, self.extra_channels - half]])

    def compute_output_shape(self, input_shape):
        n, h, w, c = input_shape
        shrink = lambda d: None if d is None else -(-d // self.stride)  # noqa: E731
        return (n, shrink(h), shrink(w), c + self.extra_channels)

    def get_config(self):
        return {**super().get_config(), "stride": self.stride, "extra_channels": self.extra_channels}


def resnet_v1(depth: int = 44, shortcut: str = "A", weight_decay: float = 1e-4,
              input_shape=(32, 32, 3), num_classes: int = NUM_CLASSES, bn_momentum: float = 0.99) -> keras.Model:
    """ResNet v1 for CIFAR-10: depth = 6n + 2 (20, 32, 44, 56, 110).

    Weight decay λ is applied as the L2 penalty (λ/2)·‖w‖², whose gradient λ·w is
    what He et al. (and Caffe) call weight decay 1e-4. `bn_momentum` is batch norm's
    moving-average momentum: Keras's 0.99 needs a few hundred updates to settle, so
    shortened presets use 0.9 (else the test-time statistics are still the initial ones).
    """
    if depth < 8 or (depth - 2) % 6:
        raise ValueError(
            f"ResNet v1 depth must be 6n+2 with n ≥ 1 (20, 32, 44, 56, 110): three stages of n "
            f"blocks of two 3×3 convolutions, plus the first conv and the classifier; got {depth}"
        )
    if shortcut not in ("A", "B"):
        raise ValueError(f"shortcut must be 'A' (zero-padding identity) or 'B' (1×1 projection), not {shortcut!r}")
    n = (depth - 2) // 6
    reg = keras.regularizers.L2(weight_decay / 2)

    def conv(x, filters, kernel=3, strides=1):
        return layers.Conv2D(filters, kernel, strides=strides, padding="same", use_bias=False,
                             kernel_initializer="he_normal", kernel_regularizer=reg)(x)

    inputs = keras.Input(shape=input_shape)
    x = layers.Activation("relu")(layers.BatchNormalization(momentum=bn_momentum)(conv(inputs, 16)))
    filters = 16
    for stage in range(3):
        for block in range(n):
            strides = 2 if stage > 0 and block == 0 else 1
            y = layers.Activation("relu")(layers.BatchNormalization(momentum=bn_momentum)(conv(x, filters, strides=strides)))
            y = layers.BatchNormalization(momentum=bn_momentum)(conv(y, filters))
            if strides > 1 or x.shape[-1] != filters:
                if shortcut == "A":
                    x = ZeroPadShortcut(strides, filters - x.shape[-1])(x)
                else:
                    x = layers.BatchNormalization(momentum=bn_momentum)(conv(x, filters, kernel=1, strides=strides))
            x = layers.Activation("relu")(layers.Add()([x, y]))
        filters *= 2
    x = layers.GlobalAveragePooling2D()(x)
    outputs = layers.Dense(num_classes, activation="softmax", kernel_initializer="he_normal",
                           kernel_regularizer=reg, dtype="float32")(x)
    return keras.Model(inputs, outputs, name=f"resnet{depth}_v1_{shortcut}")


BUILDERS = {"mlp": mlp, "mini_googlenet": mini_googlenet, "resnet_v1": resnet_v1}


def build(config: dict, input_shape) -> keras.Model:
    """Build a model from a spec's ``model`` dict: {"name": ..., **arguments}."""
    config = dict(config)
    name = config.pop("name")
    if name not in BUILDERS:
        raise ValueError(f"unknown model {name!r}; choose one of {sorted(BUILDERS)}")
    return BUILDERS[name](input_shape=tuple(input_shape), **config)
