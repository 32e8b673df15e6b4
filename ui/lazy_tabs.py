"""Tabs that draw only the open one, and keep the settings of the others.

`st.tabs` draws every tab on every run unless it tracks which one is open (Streamlit 1.67:
`bind="query-params"` with a key, or `on_change="rerun"`); then each tab's `.open` says
whether to draw it. A page whose tabs each read runs and build charts then renders one tab,
not all of them. Two things come with it, handled here:
  - the open tab is in the URL (?tab=CLR+run): a link opens that tab;
  - Streamlit forgets the state of a widget that is not drawn in a run, so a closed tab's
    settings would be back at their defaults when it opens again. `keep_widgets` sets them
    again while their tab is closed (Streamlit's own advice for widgets that come and go),
    and the widgets take them when it opens.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence

import streamlit as st

# Buttons (and the data-set gate's download button): Streamlit lets no one set their state.
NOT_KEPT = ("_start", "_data")
KEPT_TYPES = (bool, int, float, str, list, tuple)


def kept(key: object, names: Sequence[str]) -> bool:
    """Whether `key` is one of `names`: a name ending in '_' is a prefix, any other an exact key."""
    if not isinstance(key, str) or key.endswith(NOT_KEPT):
        return False
    return any(key.startswith(n) if n.endswith("_") else key == n for n in names)


def keep_widgets(names: Sequence[str]) -> None:
    """Keep the settings of the widgets named by `names` (see :func:`kept`) through a run that does not draw them."""
    for key in [k for k in st.session_state if kept(k, names)]:
        value = st.session_state[key]
        if isinstance(value, KEPT_TYPES):
            st.session_state[key] = value


def lazy_tabs(tabs: Mapping[str, Sequence[str]], key: str = "tab") -> list:
    """`st.tabs` over the labels of `tabs`, bound to the URL under `key`; each label maps to the widget
    keys of its tab, kept while it is closed. Draw a tab's content only when its `.open` is true."""
    shown = st.tabs(list(tabs), key=key, bind="query-params")
    for tab, names in zip(shown, tabs.values()):
        if not tab.open:
            keep_widgets(names)
    return shown
