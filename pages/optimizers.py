"""1 · Optimizers (not built yet)."""
import streamlit as st

st.title("1 · Optimizers")
st.warning("This page is not built yet.")
