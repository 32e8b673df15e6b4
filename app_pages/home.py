"""Home: what the app teaches and where each problem lives."""
import streamlit as st

st.title("Deep-learning systems performance, interactively")
st.markdown(
    """
This app turns a four-problem homework into something you can move with a
slider. Equations, schedules and arithmetic update instantly; training runs
launch in the background, stream their curves as they learn, and can be
compared with **cached full-length results** when a run is too long for the
lecture.
"""
)

left, right = st.columns(2)
with left:
    st.subheader("Problems")
    st.page_link("app_pages/optimizers.py", label="1 · Adaptive learning-rate methods", icon=":material/tune:")
    st.caption("Adagrad, RMSProp, RMSProp + Nesterov, AdaDelta, Adam: live equations, a race on 2-D surfaces, an MLP on CIFAR-10.")
    st.page_link("app_pages/cyclical_lr.py", label="2 · Cyclical learning rates", icon=":material/cyclone:")
    st.caption("LR range test, triangular / exp_range policies, and growing the batch instead of decaying the rate.")
    st.page_link("app_pages/architecture.py", label="3 · Architecture arithmetic", icon=":material/calculate:")
    st.caption("AlexNet and VGG19 layer by layer, receptive fields, the inception module's saving.")
    st.page_link("app_pages/cutout.py", label="4 · Cutout and batch augmentation", icon=":material/crop_free:")
    st.caption("Cutout masks on real CIFAR-10 images, ResNet-44, and M cutout copies per sample.")
with right:
    st.subheader("Experiments")
    st.page_link("app_pages/runs.py", label="Runs: live and cached", icon=":material/monitoring:")
    st.caption("Every training run, live or shipped with the app: status, curves, provenance, cancel and resume.")
    st.info(
        "Nothing is downloaded or trained when the app starts. Pages that need a data set "
        "say so and read it from the local Keras cache."
    )
