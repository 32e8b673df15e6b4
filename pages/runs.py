"""Runs (not built yet)."""
import streamlit as st

st.title("Runs")
st.warning("This page is not built yet.")
