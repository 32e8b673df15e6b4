"""Entry point: `streamlit run app.py`.

Only navigation lives here. Each page is a thin script in pages/ that lays out
widgets and calls dlcore; nothing here imports Keras, so the app starts fast
and works offline with no data set.
"""
import streamlit as st

PAGES = {
    "Course": [
        st.Page("pages/home.py", title="Home", icon=":material/school:", default=True),
    ],
    "Problems": [
        st.Page("pages/optimizers.py", title="1 · Optimizers", icon=":material/tune:"),
        st.Page("pages/cyclical_lr.py", title="2 · Cyclical learning rates", icon=":material/cyclone:"),
        st.Page("pages/architecture.py", title="3 · Architecture arithmetic", icon=":material/calculate:"),
        st.Page("pages/cutout.py", title="4 · Cutout & batch augmentation", icon=":material/crop_free:"),
    ],
    "Experiments": [
        st.Page("pages/runs.py", title="Runs", icon=":material/monitoring:"),
    ],
}

st.set_page_config(page_title="DL systems performance", page_icon=":material/speed:", layout="wide")
st.navigation(PAGES).run()
