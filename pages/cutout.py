"""4 · Cutout and batch augmentation (not built yet)."""
import streamlit as st

st.title("4 · Cutout and batch augmentation")
st.warning("This page is not built yet.")
