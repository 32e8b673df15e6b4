"""3 · Architecture arithmetic (not built yet)."""
import streamlit as st

st.title("3 · Architecture arithmetic")
st.warning("This page is not built yet.")
