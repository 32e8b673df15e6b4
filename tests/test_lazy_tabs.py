"""ui.lazy_tabs: only the open tab is drawn, and a closed tab keeps its settings (issue 14)."""
from streamlit.testing.v1 import AppTest

from ui.lazy_tabs import kept

APP = """
import streamlit as st
from ui.lazy_tabs import lazy_tabs

first, second = lazy_tabs({"First": ("a_",), "Second": ("b_",)})
if first.open:
    with first:
        st.markdown(f"first: {st.slider('a', 0, 10, 3, key='a_slider')}")
if second.open:
    with second:
        st.markdown(f"second: {st.slider('b', 0, 10, 5, key='b_slider')}")
        st.button("go", key="b_start")
"""


def test_which_keys_a_tab_keeps():
    assert kept("rt_lr_min", ("rt_",)) and kept("M", ("M", "seed")) and not kept("Ms", ("M",))
    assert not kept("rt_start", ("rt_",)) and not kept("rt_data", ("rt_",))  # buttons: not settable
    assert not kept("clrrun_show", ("clr_",)) and not kept(3, ("rt_",))


def test_only_the_open_tab_is_drawn_and_a_closed_one_keeps_its_settings():
    at = AppTest.from_string(APP, default_timeout=30).run()
    assert [m.value for m in at.markdown] == ["first: 3"]
    at.slider(key="a_slider").set_value(7).run()
    at.session_state["tab"] = "Second"
    at.run()
    assert not at.exception and [m.value for m in at.markdown] == ["second: 5"]
    at.session_state["tab"] = "First"
    at.run()
    assert not at.exception and [m.value for m in at.markdown] == ["first: 7"]
