"""Entry point: `streamlit run app.py`.

Only navigation lives here. Each page is a thin script in app_pages/ that lays
out widgets and calls dlcore; nothing here imports Keras, so the app starts fast
and works offline with no data set. The folder is not called pages/: Streamlit
runs a folder of that name as pages of their own (its first multipage API), so a
first visit straight to /optimizers would get no navigation and no wide layout.
"""
import pathlib

import streamlit as st

PAGES = {
    "Course": [
        st.Page("app_pages/home.py", title="Home", icon=":material/school:", default=True),
    ],
    "Problems": [
        st.Page("app_pages/optimizers.py", title="1 · Optimizers", icon=":material/tune:"),
        st.Page("app_pages/cyclical_lr.py", title="2 · Cyclical learning rates", icon=":material/cyclone:"),
        st.Page("app_pages/architecture.py", title="3 · Architecture arithmetic", icon=":material/calculate:"),
        st.Page("app_pages/cutout.py", title="4 · Cutout & batch augmentation", icon=":material/crop_free:"),
    ],
    "Experiments": [
        st.Page("app_pages/runs.py", title="Runs", icon=":material/monitoring:"),
    ],
}

# The tab's icon is a local file: a `:material/…:` page icon makes the browser fetch it from
# fonts.gstatic.com, which fails offline. (The navigation's material icons come with Streamlit.)
ICON = pathlib.Path(__file__).resolve().parent / "static" / "icon.png"

st.set_page_config(page_title="DL systems performance", page_icon=str(ICON), layout="wide")
st.navigation(PAGES).run()
