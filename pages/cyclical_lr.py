"""2 · Cyclical learning rates (not built yet)."""
import streamlit as st

st.title("2 · Cyclical learning rates")
st.warning("This page is not built yet.")
