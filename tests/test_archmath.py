"""dlcore.core.archmath: the counts of Problem 3, checked against real Keras models.

Keras is imported only inside the helpers that build models: archmath itself
must stay Keras-free so the page is instant (checked in a clean subprocess).
"""
import math
import pathlib
import subprocess
import sys

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from dlcore.core import archmath as am
from dlcore.core import architectures as ar

ROOT = pathlib.Path(__file__).resolve().parents[1]

KERAS_SETTINGS = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])


# ------------------------------------------------- Keras twins of a layer table

def keras_layers(layer):
    """The Keras layers that do what one archmath layer spec says."""
    import keras

    if isinstance(layer, am.Conv):
        padding = layer.padding
        pre = []
        if isinstance(padding, int):
            pre, padding = [keras.layers.ZeroPadding2D(layer.padding)], "valid"
        return pre + [keras.layers.Conv2D(
            layer.filters, layer.kernel, strides=layer.stride, padding=padding, groups=layer.groups
        )]
    if isinstance(layer, am.Pool):
        cls = keras.layers.MaxPooling2D if layer.kind == "max" else keras.layers.AveragePooling2D
        assert not isinstance(layer.padding, int), "integer pool padding is not used in the tables"
        return [cls(layer.size, strides=layer.step, padding=layer.padding)]
    if isinstance(layer, am.Dense):
        return [keras.layers.Dense(layer.units)]
    if isinstance(layer, am.Flatten):
        return [keras.layers.Flatten()]
    raise TypeError(layer)


def weightless():
    """Build Keras models with their weights declared but never filled in.

    Shapes and counts are all we compare; skipping initialisation keeps VGG19's
    143M weights out of memory and, under JAX, avoids compiling an
    initialiser for every new weight shape (minutes over the property tests).
    """
    import keras

    return keras.StatelessScope(initialize_variables=False)


def keras_twin(network):
    """A functional Keras model of `network`, and per table row (after the
    input) the Keras layers of that row and the row's output tensor."""
    with weightless():
        return _keras_twin(network)


def _keras_twin(network):
    import keras

    inputs = keras.Input(network.input_shape)
    x, per_row = inputs, []

    def chain(layer, y):
        ks = keras_layers(layer)
        for k in ks:
            y = k(y)
        per_row.append((ks, y))
        return y

    for layer in network.layers:
        if isinstance(layer, am.Concat):
            outs = []
            for branch in layer.branches:
                y = x
                for sub in branch.layers:
                    y = chain(sub, y)
                outs.append(y)
            x = keras.layers.Concatenate()(outs)
            per_row.append(([], x))
        else:
            x = chain(layer, x)
    return keras.Model(inputs, x), per_row


def kernel_count(keras_layer_list):
    """Weights of these Keras layers, biases left out."""
    return sum(math.prod(w.shape) for k in keras_layer_list for w in k.weights if "bias" not in w.path)


def assert_table_matches_keras(network):
    """Every row's output shape and parameters (with and without biases) equal Keras'."""
    import keras

    rows = am.layer_rows(network)
    model, per_row = keras_twin(network)
    assert len(per_row) == len(rows) - 1
    for row, (ks, tensor) in zip(rows[1:], per_row):
        assert tuple(tensor.shape[1:]) == row.output_shape, row.name
        assert sum(k.count_params() for k in ks) == row.params, row.name
        assert kernel_count(ks) == row.params_no_bias, row.name
    total = am.totals(network)
    assert model.count_params() == total.params
    assert tuple(model.output.shape[1:]) == total.output_shape
    del model, per_row
    keras.backend.clear_session()
    return total


# ------------------------------------------------------------------- AlexNet

def test_alexnet_total_is_62_378_344():
    assert am.totals(ar.ALEXNET).params == 62_378_344


def test_alexnet_calculations_are_written_out_like_the_notebook():
    calcs = {r.name: r.params_calc for r in am.layer_rows(ar.ALEXNET)}
    assert calcs["conv1"] == "(11×11×3)×96 + 96 = 34,944"
    assert calcs["conv2"] == "(5×5×96)×256 + 256 = 614,656"
    assert calcs["conv5"] == "(3×3×384)×256 + 256 = 884,992"
    assert calcs["fc1"] == "(6×6×256)×4,096 + 4,096 = 37,752,832"
    assert calcs["fc3"] == "4,096×1,000 + 1,000 = 4,097,000"
    assert am.total_calc(am.layer_rows(ar.ALEXNET)).endswith("= 62,378,344")


def test_alexnet_input_227_tiles_but_224_does_not():
    assert am.output_length_exact(227, 11, 4, "valid") == 55
    assert am.output_length_exact(224, 11, 4, "valid") == 54.25
    assert am.output_length_text(224, 11, 4, "valid") == "(224 − 11)/4 + 1 = 54.25"


@pytest.mark.parametrize("network", [ar.ALEXNET, ar.ALEXNET_TWO_TOWERS], ids=["one_tower", "two_towers"])
def test_alexnet_counts_equal_a_keras_model(network):
    assert_table_matches_keras(network)


def test_two_tower_alexnet_has_the_papers_60_965_224():
    assert am.totals(ar.ALEXNET_TWO_TOWERS).params == 60_965_224
    conv2 = next(r for r in am.layer_rows(ar.ALEXNET_TWO_TOWERS) if r.name == "conv2")
    assert conv2.params_calc == "(5×5×96/2)×256 + 256 = 307,456"


# --------------------------------------------------------------------- VGG19

def test_vgg19_counts_equal_a_keras_model():
    total = assert_table_matches_keras(ar.VGG19)
    # keras.applications.VGG19(weights=None).count_params() says the same.
    assert total.params == 143_667_240
    assert total.params_no_bias == 143_652_544


def test_vgg19_table_has_none_of_the_notebooks_typos():
    calcs = [r.params_no_bias_calc for r in am.layer_rows(ar.VGG19)]
    assert "(3×3×256)×512 = 1,179,648" in calcs
    assert calcs.count("(3×3×512)×512 = 2,359,296") == 7
    joined = " ".join(calcs).replace(",", "")
    assert "117948 " not in joined + " " and "2358296" not in joined


def test_vgg19_activations_per_layer():
    rows = am.layer_rows(ar.VGG19)
    assert rows[0].activations_calc == "224×224×3 = 150,528"
    assert rows[1].activations_calc == "224×224×64 = 3,211,264"
    assert [r.activations for r in rows if r.name == "maxpool 2×2"][-1] == 7 * 7 * 512
    total = am.totals(ar.VGG19)
    assert total.activations == sum(r.activations for r in rows)
    assert total.activation_bytes == 4 * total.activations


def test_vgg19_flatten_adds_no_activations():
    """The flatten is pool5's 7×7×512 output read as a vector: 0 new values, not 25,088."""
    (flatten,) = [r for r in am.layer_rows(ar.VGG19) if r.name == "flatten"]
    assert flatten.activations == 0 and flatten.activations_calc == "a reshape of 7×7×512: no new values = 0"
    assert am.totals(ar.VGG19).activations == 16_542_184  # 16,567,272 − 25,088


@pytest.mark.parametrize("network", [ar.VGG19, ar.ALEXNET], ids=["vgg19", "alexnet"])
def test_activations_equal_the_keras_outputs_layer_by_layer(network):
    """Each row's activations are the values its Keras layer outputs; Keras's Flatten outputs
    exactly its input's values in order (a view), so that row adds none."""
    import keras
    import numpy as np

    rows = am.layer_rows(network)
    model, per_row = keras_twin(network)
    computed = rows[0].activations  # the input occupies memory too, as in the VGG table
    for row, (ks, tensor) in zip(rows[1:], per_row):
        size = math.prod(tensor.shape[1:])
        if isinstance(ks[-1], keras.layers.Flatten):
            assert size == math.prod(row.input_shape) and row.activations == 0, row.name
            x = np.arange(math.prod(row.input_shape), dtype="float32").reshape((1, *row.input_shape))
            np.testing.assert_array_equal(keras.ops.convert_to_numpy(ks[-1](x)), x.reshape(1, -1))
        else:
            assert row.activations == size, row.name
            computed += size
    assert am.totals(network).activations == computed
    del model, per_row
    keras.backend.clear_session()


# ----------------------------------------------------------------- inception

def test_inception_output_sizes_after_concatenation():
    assert am.totals(ar.inception_naive()).output_shape == (32, 32, 672)
    assert am.totals(ar.inception_reduced()).output_shape == (32, 32, 480)


def test_inception_multiplies_and_saving_as_the_homework():
    naive, reduced = am.totals(ar.inception_naive()).macs, am.totals(ar.inception_reduced()).macs
    assert naive == 1_115_684_864
    assert reduced == 354_418_688
    s = am.saving(naive, reduced)
    assert s.absolute == 761_266_176
    assert s.ratio == pytest.approx(3.148, abs=1e-3)
    per_branch = {b.name: b.macs for b in am.branch_costs(ar.inception_reduced())}
    assert per_branch == {"1×1": 33_554_432, "3×3": 130_023_424, "5×5": 174_063_616, "pool": 16_777_216}


@pytest.mark.parametrize("build", [ar.inception_naive, ar.inception_reduced], ids=["naive", "reduced"])
def test_inception_counts_equal_a_keras_functional_module(build):
    assert_table_matches_keras(build())


def test_inception_filter_numbers_are_editable():
    more = am.totals(ar.inception_reduced(n3x3=200)).macs - am.totals(ar.inception_reduced()).macs
    assert more == 32 * 32 * 8 * 3 * 3 * 64
    assert am.totals(ar.inception_naive((16, 16, 128))).output_shape == (16, 16, 128 + 192 + 96 + 128)


def test_concatenation_refuses_branches_of_different_sizes():
    bad = am.Concat((am.Branch("a", (am.Conv(4, 3),)), am.Branch("b", (am.Conv(4, 1),))))
    with pytest.raises(am.ShapeError, match="disagree"):
        am.output_shape(bad, (8, 8, 3))


# ------------------------------------------------------------ receptive field

def test_three_stacked_5x5_see_13x13():
    assert am.receptive_field(3, 5) == 13
    assert [s.size for s in am.receptive_field_growth(3, 5)] == [1, 5, 9, 13]
    assert am.receptive_field_derivation(3, 5)[-1].endswith("13×13.")


@given(n=st.integers(1, 20), f=st.integers(1, 15))
def test_stride_1_field_is_nf_minus_n_plus_1(n, f):
    assert am.receptive_field(n, f) == n * f - n + 1


def _brute_force_field(n, f, stride):
    """Walk one output pixel back through the layers, as index sets."""
    seen = {0}
    for _ in range(n):
        seen = {i * stride + t for i in seen for t in range(f)}
    return max(seen) - min(seen) + 1


@given(n=st.integers(1, 6), f=st.integers(1, 7), stride=st.integers(1, 3))
def test_receptive_field_equals_walking_the_pixels_back(n, f, stride):
    growth = am.receptive_field_growth(n, f, stride)
    assert growth[-1].size == am.receptive_field(n, f, stride) == _brute_force_field(n, f, stride)
    assert [s.size for s in growth] == [_brute_force_field(k, f, stride) for k in range(n + 1)]


def test_receptive_field_squares_nest_from_largest_to_one_pixel():
    squares = am.receptive_field_squares(3, 5)
    assert [s["size"] for s in squares] == [13, 9, 5, 1]
    assert squares[0]["x1"] - squares[0]["x0"] == 13


def test_receptive_field_refuses_zero_layers():
    with pytest.raises(ValueError, match="N"):
        am.receptive_field(0, 3)


# ----------------------------------------------- properties against Keras layers

conv_configs = st.builds(
    dict,
    h=st.integers(1, 14), w=st.integers(1, 14), c_per_group=st.integers(1, 3),
    groups=st.integers(1, 3), f_per_group=st.integers(1, 3), kernel=st.integers(1, 6),
    stride=st.integers(1, 3), padding=st.one_of(st.sampled_from(["valid", "same"]), st.integers(0, 2)),
)


def _run_keras(ks, shape):
    """Output shape (Keras' own shape inference through the layers' ops) and
    parameter count of these layers on `shape`. Nothing is executed: an eager
    pass would compile a program per random shape under JAX."""
    import keras

    with weightless():
        model = keras.Sequential([keras.Input(shape), *ks])
        return tuple(model.output_shape[1:]), model.count_params()


@KERAS_SETTINGS
@given(conv_configs)
def test_conv_shapes_and_params_equal_a_keras_conv2d(cfg):
    shape = (cfg["h"], cfg["w"], cfg["c_per_group"] * cfg["groups"])
    layer = am.Conv(cfg["f_per_group"] * cfg["groups"], cfg["kernel"], cfg["stride"], cfg["padding"], cfg["groups"])
    try:
        out = am.output_shape(layer, shape)
    except am.ShapeError:
        # archmath refuses exactly what Keras refuses.
        with pytest.raises(Exception):
            _run_keras(keras_layers(layer), shape)
        return
    ks = keras_layers(layer)
    assert _run_keras(ks, shape) == (out, am.parameters(layer, shape))
    assert kernel_count(ks) == am.parameters(layer, shape, biases=False)


@KERAS_SETTINGS
@given(
    h=st.integers(1, 14), w=st.integers(1, 14), c=st.integers(1, 4), size=st.integers(1, 4),
    stride=st.integers(1, 3), padding=st.sampled_from(["valid", "same"]), kind=st.sampled_from(["max", "avg"]),
)
def test_pool_shapes_equal_a_keras_pooling_layer(h, w, c, size, stride, padding, kind):
    layer = am.Pool(kind, size, stride, padding)
    try:
        out = am.output_shape(layer, (h, w, c))
    except am.ShapeError:
        assume(False)
    assert _run_keras(keras_layers(layer), (h, w, c)) == (out, 0)


@KERAS_SETTINGS
@given(n=st.integers(1, 64), units=st.integers(1, 64))
def test_dense_params_equal_a_keras_dense(n, units):
    layer = am.Dense(units)
    assert _run_keras(keras_layers(layer), (n,)) == ((units,), am.parameters(layer, (n,)))
    assert am.macs(layer, (n,)) == am.parameters(layer, (n,), biases=False) == n * units


layer_specs = st.one_of(
    st.builds(am.Conv, st.integers(1, 64), st.integers(1, 7), st.integers(1, 4),
              st.one_of(st.sampled_from(["valid", "same"]), st.integers(0, 3))),
    st.builds(am.Pool, st.sampled_from(["max", "avg"]), st.integers(1, 5), st.integers(1, 4)),
    st.builds(am.Dense, st.integers(1, 100)),
    st.just(am.Flatten()),
)
shapes = st.one_of(
    st.tuples(st.integers(1, 40), st.integers(1, 40), st.integers(1, 16)), st.tuples(st.integers(1, 500))
)


@given(layer_specs, shapes, st.booleans())
def test_parameters_and_multiplies_are_never_negative(layer, shape, biases):
    try:
        p, m = am.parameters(layer, shape, biases), am.macs(layer, shape)
    except am.ShapeError:
        return
    assert p >= 0 and m >= 0
    assert am.parameters(layer, shape, False) <= p
    assert am.activations(layer, shape) >= (0 if isinstance(layer, am.Flatten) else 1)


# ------------------------------------------------- a student's own layer table

def test_a_correct_table_gives_shapes_params_and_multiplies():
    checks = am.check_layer_table((32, 32, 1), ar.OWN_TABLES["LeNet-5"])
    assert all(c.ok for c in checks)
    assert checks[-1].output_shape == "10"
    assert sum(c.params for c in checks) == 61_706


def test_each_kind_of_mistake_is_said_in_words():
    checks = am.check_layer_table((224, 224, 3), ar.OWN_TABLES["A table with mistakes"])
    messages = [c.message for c in checks]
    assert "not a whole number" in messages[1] and "54.25" in messages[1]
    assert messages[2] == ""  # the pool goes on from Keras' floored 54
    assert "larger than the 27×27 input" in messages[3]
    assert "negative" in messages[4]
    assert "unknown layer type 'dropout'" in messages[5]
    assert "row above is invalid" in messages[6]


def test_dense_on_an_image_asks_for_a_flatten():
    [_, check] = am.check_layer_table((8, 8, 3), [{"type": "dense", "units": 10}])
    assert "flatten" in check.message


def test_a_negative_input_size_is_flagged_not_raised():
    [check] = am.check_layer_table((32, -1, 3), [{"type": "flatten"}])
    assert "negative" in check.message


cell = st.one_of(
    st.none(), st.integers(-50, 300), st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=6), st.sampled_from(["valid", "same", "conv", "maxpool", "dense", "flatten"]),
)
typed_row = st.fixed_dictionaries({k: cell for k in ar.OWN_TABLE_COLUMNS})


@given(st.tuples(cell, cell, cell), st.lists(typed_row, max_size=6))
def test_checking_a_typed_table_never_raises(input_shape, rows):
    checks = am.check_layer_table(input_shape, rows)
    assert all(isinstance(c.message, str) for c in checks)
    assert len(checks) in (1, len(rows) + 1)


# ------------------------------------------------------------------- the rest

def test_reprs_explain_what_a_thing_is():
    assert repr(am.Conv(96, 11, 4)) == "Conv 96 filters 11×11, stride 4, padding 'valid'"
    assert repr(am.Pool("max", 3, 2)) == "MaxPool 3×3, stride 2, padding 'valid'"
    assert "62,378,344 parameters" in repr(ar.ALEXNET)
    assert "(11×11×3)×96 + 96 = 34,944" in repr(am.layer_rows(ar.ALEXNET)[1])
    assert "3.15× fewer" in repr(am.saving(1_115_684_864, 354_418_688))


def test_archmath_does_not_import_keras():
    code = (
        "import sys, dlcore.core.archmath, dlcore.core.architectures; "
        "print(sorted(m for m in ('keras', 'tensorflow', 'jax', 'streamlit') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
