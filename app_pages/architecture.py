"""3 · Architecture arithmetic: AlexNet, VGG19, receptive fields, inception.

The page only lays out widgets and draws; every number comes from
`dlcore.core.archmath` applied to the layer tables of `dlcore.core.architectures`.
Nothing here imports Keras, so the page is instant and works offline.
"""
import altair as alt
import pandas as pd
import streamlit as st

from dlcore.core import archmath as am
from dlcore.core import architectures as ar
from ui.tables import draw_table

SOURCE = "computed by dlcore.core.archmath from the layer table in dlcore.core.architectures"


# ------------------------------------------------------------------- AlexNet

def alexnet_ui():
    """Which AlexNet, and whether biases count."""
    left, right = st.columns([3, 1])
    variant = left.radio("Variant", list(ar.ALEXNETS), horizontal=True, key="alexnet_variant")
    biases = right.toggle("Count biases", value=True, key="alexnet_biases")
    return ar.ALEXNETS[variant], biases


def draw_alexnet(network, biases):
    rows = am.layer_rows(network)
    column = "params" if biases else "params_no_bias"
    table = pd.DataFrame(
        {
            "Layer": r.name,
            "Spec": repr(r.layer) if r.layer else "",
            "Output shape": am.shape_text(r.output_shape),
            "Output size": r.shape_calc,
            "Calculation": r.params_calc if biases else r.params_no_bias_calc,
            "Parameters": getattr(r, column),
        }
        for r in rows
    )
    draw_table(table, {"Parameters": "{:,}"})
    total = am.totals(network)
    st.metric("Total parameters", am.fmt(getattr(total, column)))
    st.markdown(f"**Total** = {am.total_calc(rows, column)}")
    st.caption(
        f"{network.note}. Input 227×227×3: the paper's 224 gives "
        f"{am.output_length_text(224, 11, 4, 'valid')}, not a whole number. "
        f"Local response normalisation and dropout have no weights. Numbers {SOURCE}."
    )


# --------------------------------------------------------------------- VGG19

def draw_vgg19(network):
    rows = am.layer_rows(network)
    total = am.totals(network)
    table = pd.DataFrame(
        {
            "Layer": r.name,
            "Output shape": am.shape_text(r.output_shape),
            "Activations (memory)": r.activations_calc,
            "Parameters without biases (compute)": r.params_no_bias_calc,
            "Multiplies": r.macs,
        }
        for r in rows
    )
    table.loc[len(table)] = [
        "TOTAL", am.shape_text(total.output_shape), am.fmt(total.activations), am.fmt(total.params_no_bias), total.macs
    ]
    draw_table(table, {"Multiplies": "{:,}"})
    cols = st.columns(4)
    cols[0].metric("Activations per image", am.fmt(total.activations),
                   help=f"{am.fmt(total.activation_bytes)} bytes at float32 (4 bytes each)")
    cols[1].metric("Parameters without biases", am.fmt(total.params_no_bias))
    cols[2].metric("Parameters with biases", am.fmt(total.params))
    cols[3].metric("Multiplies per image", am.fmt_short(total.macs), help=f"{am.fmt(total.macs)} multiply-accumulates")
    draw_memory_vs_parameters(rows)


def draw_memory_vs_parameters(rows):
    """Memory sits in the early layers, parameters in the fully connected ones."""
    data = pd.DataFrame(
        {"layer": f"{i:02d} {r.name}", "activations": r.activations, "parameters": r.params_no_bias}
        for i, r in enumerate(rows)
    )
    x = alt.X("layer:N", sort=None, title=None)
    top = (
        alt.Chart(data, title="activations per layer (memory)")
        .mark_bar()
        .encode(x=x.axis(labels=False, ticks=False), y=alt.Y("activations:Q", title="values"),
                tooltip=["layer", alt.Tooltip("activations:Q", format=",")])
        .properties(height=160)
    )
    bottom = (
        alt.Chart(data, title="parameters per layer, without biases (compute)")
        .mark_bar(color="#e45756")
        .encode(x=x.axis(labelAngle=-60, labelOverlap=False), y=alt.Y("parameters:Q", title="weights"),
                tooltip=["layer", alt.Tooltip("parameters:Q", format=",")])
        .properties(height=160)
    )
    st.altair_chart(alt.vconcat(top, bottom), width="stretch")
    st.caption(f"Per layer, {SOURCE} (VGG19, configuration E).")


# ----------------------------------------------------------- receptive field

def receptive_field_ui():
    cols = st.columns(3)
    n = cols[0].slider("N, stacked convolutions", 1, 8, 3, key="rf_n")
    f = cols[1].slider("F, filter size (F×F)", 1, 11, 5, key="rf_f")
    stride = cols[2].slider("stride s of every layer", 1, 3, 1, key="rf_stride")
    return n, f, stride


def draw_receptive_field(n, f, stride):
    r = am.receptive_field(n, f, stride)
    st.metric("Receptive field", f"{r}×{r}")
    st.latex(am.receptive_field_latex(n, f, stride))
    left, right = st.columns([1, 1])
    with left:
        st.markdown("**Why**, from one output pixel back to the image:")
        st.markdown("\n".join(f"{i}. {line}" for i, line in enumerate(am.receptive_field_derivation(n, f, stride), 1)))
        stacked, single = am.stacked_vs_single_weights(n, f, channels=64)
        if stride == 1 and n > 1:
            st.markdown(
                f"Same field, fewer weights: with 64 channels in and out, {n} stacked {f}×{f} convs hold "
                f"**{am.fmt(stacked)}** weights, one {r}×{r} conv **{am.fmt(single)}** (VGG's argument for 3×3)."
            )
    with right:
        draw_field_squares(am.receptive_field_squares(n, f, stride), r)
        st.dataframe(
            pd.DataFrame({"after layer": s.layer, "field": f"{s.size}×{s.size}", "growth": s.calc}
                         for s in am.receptive_field_growth(n, f, stride)),
            hide_index=True, width="stretch", height="content",
        )


def draw_field_squares(squares, r):
    data = pd.DataFrame(squares)
    half = r / 2 + 0.5
    scale = alt.Scale(domain=[-half, half], nice=False)
    squares_chart = (
        alt.Chart(data)
        .mark_rect(stroke="black", strokeWidth=1)
        .encode(
            x=alt.X("x0:Q", scale=scale, title=f"input pixels: the {r}×{r} field of one output pixel"),
            x2="x1:Q",
            y=alt.Y("y0:Q", scale=scale, title=None),
            y2="y1:Q",
            color=alt.Color("layer:O", scale=alt.Scale(scheme="blues", reverse=True), title="after layer"),
            order=alt.Order("size:Q", sort="descending"),
            tooltip=["label"],
        )
    )
    # White lines on every pixel border, when the field is small enough to count.
    edges = pd.DataFrame({"edge": am.pixel_edges(r)})
    grid = alt.Chart(edges).mark_rule(color="white", opacity=0.6, strokeWidth=0.7)
    chart = alt.layer(squares_chart, grid.encode(x="edge:Q"), grid.encode(y="edge:Q")).properties(width=380, height=380)
    st.altair_chart(chart)
    st.caption(
        "The field growing layer by layer, centred on the output pixel (dlcore.core.archmath.receptive_field_squares)."
    )


# ----------------------------------------------------------------- inception

def inception_ui():
    """The module's input and its filter numbers, defaults from the course figure."""
    st.markdown("**Input to the module** (the 'previous layer')")
    c = st.columns(3)
    h0, w0, ch0 = ar.INCEPTION_INPUT
    shape = (
        c[0].number_input("height", 1, 1024, h0, key="inc_h"),
        c[1].number_input("width", 1, 1024, w0, key="inc_w"),
        c[2].number_input("channels", 1, 4096, ch0, key="inc_c"),
    )
    st.markdown("**Filter numbers**")
    labels = {
        "n1x1": "1×1 conv", "n3x3": "3×3 conv", "n5x5": "5×5 conv",
        "reduce3x3": "1×1 reduce before 3×3", "reduce5x5": "1×1 reduce before 5×5", "pool_proj": "pool projection 1×1",
    }
    c = st.columns(len(labels))
    filters = {
        name: c[i].number_input(label, 1, 4096, ar.INCEPTION_FILTERS[name], key=f"inc_{name}")
        for i, (name, label) in enumerate(labels.items())
    }
    return shape, filters


def draw_inception(shape, filters):
    naive_filters = {k: filters[k] for k in ("n1x1", "n3x3", "n5x5")}
    naive, reduced = ar.inception_naive(shape, **naive_filters), ar.inception_reduced(shape, **filters)
    try:
        costs = {net.name: am.branch_costs(net) for net in (naive, reduced)}
        totals = {net.name: am.totals(net) for net in (naive, reduced)}
    except am.ShapeError as e:
        st.error(f"This module cannot be built: {e}")
        return
    saved = am.saving(totals[naive.name].macs, totals[reduced.name].macs)

    cols = st.columns(4)
    for col, net in zip(cols, (naive, reduced)):
        rows = am.layer_rows(net)
        col.metric(f"Output, {net.name.split(', ')[1]}", am.shape_text(totals[net.name].output_shape))
        col.caption(f"concatenation: {rows[-1].shape_calc}")
    cols[2].metric("Multiplies saved", am.fmt(saved.absolute))
    cols[2].caption(f"{saved.fraction:.1%} of the naive module's {am.fmt(saved.before)}")
    cols[3].metric("Ratio naive / reduction", f"{saved.ratio:.2f}×")

    table = pd.DataFrame(
        {
            "Branch": a.name,
            "Naive: layers": a.layers,
            "Naive: output": am.shape_text(a.output_shape),
            "Naive: multiplies": a.macs,
            "Reduction: layers": b.layers,
            "Reduction: output": am.shape_text(b.output_shape),
            "Reduction: multiplies": b.macs,
        }
        for a, b in zip(costs[naive.name], costs[reduced.name])
    )
    table.loc[len(table)] = [
        "total", "", am.shape_text(totals[naive.name].output_shape), totals[naive.name].macs,
        "", am.shape_text(totals[reduced.name].output_shape), totals[reduced.name].macs,
    ]
    draw_table(table, {"Naive: multiplies": "{:,}", "Reduction: multiplies": "{:,}"})
    st.markdown(f"**Saving:** {saved!r}")

    with st.expander("Every multiply written out"):
        for net in (naive, reduced):
            st.markdown(f"**{net.name}**")
            st.markdown("\n".join(f"- {c.name}: {c.macs_calc}" for c in costs[net.name]))
            st.markdown(f"- total: {am.total_calc(costs[net.name], 'macs')}")

    bars = pd.DataFrame(
        {"branch": c.name, "module": net.name, "multiplies": c.macs}
        for net in (naive, reduced)
        for c in costs[net.name]
    )
    order = [naive.name, reduced.name]
    chart = (
        alt.Chart(bars)
        .mark_bar()
        .encode(
            x=alt.X("branch:N", sort=None, title="branch", axis=alt.Axis(labelAngle=0)),
            xOffset=alt.XOffset("module:N", sort=order),
            y=alt.Y("multiplies:Q", title="multiplies per image"),
            color=alt.Color("module:N", sort=order, title=None, legend=alt.Legend(orient="top", labelLimit=400)),
            tooltip=["module", "branch", alt.Tooltip("multiplies:Q", format=",")],
        )
        .properties(height=300)
    )
    st.altair_chart(chart, width="stretch")
    st.caption(
        f"Multiplies per branch for the input and filter numbers above, {SOURCE} (dlcore.core.archmath.branch_costs)."
    )


# ------------------------------------------------------------ build your own

def own_table_ui():
    """A starting table, then the student's edits to it."""
    preset = st.selectbox("Start from", list(ar.OWN_TABLES), key="own_preset")
    slot = list(ar.OWN_TABLES).index(preset)
    h0, w0, c0 = ar.OWN_INPUTS[preset]
    c = st.columns(3)
    shape = (
        c[0].number_input("input height", value=h0, step=1, key=f"own_h_{slot}"),
        c[1].number_input("input width", value=w0, step=1, key=f"own_w_{slot}"),
        c[2].number_input("input channels", value=c0, step=1, key=f"own_c_{slot}"),
    )
    edited = st.data_editor(
        pd.DataFrame(ar.OWN_TABLES[preset], columns=list(ar.OWN_TABLE_COLUMNS)),
        num_rows="dynamic",
        width="stretch",
        key=f"own_layers_{slot}",
        column_config={
            "type": st.column_config.TextColumn(help=f"one of: {', '.join(am.LAYER_TYPES)}"),
            "units": st.column_config.NumberColumn(help="filters of a conv, units of a dense layer"),
            "kernel": st.column_config.NumberColumn(help="F of an F×F conv or pooling window"),
            "stride": st.column_config.NumberColumn(help="empty: 1 for a conv, the window size for a pool"),
            "padding": st.column_config.TextColumn(help="valid, same, or a number of pixels"),
        },
    )
    return shape, edited.to_dict("records")


def draw_own_table(shape, rows):
    checks = am.check_layer_table(shape, rows)
    draw_table(
        pd.DataFrame(
            {
                "row": c.row,
                "layer": c.layer,
                "output shape": c.output_shape,
                "output size": c.shape_calc,
                "parameters": c.params,
                "multiplies": c.macs,
                "check": "ok" if c.ok else c.message,
            }
            for c in checks
        ),
        {"parameters": "{:,}", "multiplies": "{:,}"},
    )
    bad = [c for c in checks if not c.ok]
    for c in bad:
        st.error(f"Row {c.row}: {c.message}")
    params, macs = am.checked_totals(checks)
    if not bad:
        st.success(f"Every row is valid: {am.fmt(params)} parameters, {am.fmt(macs)} multiplies per image.")


# ---------------------------------------------------------------------- page

def main():
    st.title("3 · Architecture arithmetic")
    st.markdown(
        "How many weights does a network hold, how much memory do its activations take, how far does "
        "a pixel see, and why does inception put 1×1 convolutions first? Every number below is computed "
        "from a layer table and checked in the tests against a real Keras model built from the same table."
    )
    tabs = st.tabs(["AlexNet", "VGG19", "Receptive field", "Inception module", "Build your own"])
    with tabs[0]:
        alexnet_section()
    with tabs[1]:
        st.subheader("VGG19: activations (memory) and parameters (compute)")
        draw_vgg19(ar.VGG19)
    with tabs[2]:
        receptive_field_section()
    with tabs[3]:
        inception_section()
    with tabs[4]:
        own_table_section()


# A tab with widgets is a fragment: moving its slider reruns that tab only.
@st.fragment
def alexnet_section():
    st.subheader("AlexNet: parameters, layer by layer")
    draw_alexnet(*alexnet_ui())


@st.fragment
def receptive_field_section():
    st.subheader("Receptive field of N stacked F×F convolutions")
    draw_receptive_field(*receptive_field_ui())


@st.fragment
def inception_section():
    st.subheader("Inception module: naive vs dimensionality reduction")
    draw_inception(*inception_ui())


@st.fragment
def own_table_section():
    st.subheader("Build your own: type a layer table")
    st.markdown("Edit the cells, add or delete rows; each row is checked and explained.")
    draw_own_table(*own_table_ui())


main()
