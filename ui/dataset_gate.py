"""The gate in front of a Start button: is every data set the runs need on this machine?

When one is missing the page says so and offers "Get CIFAR-10 (163 MB)"; the
download (dlcore.engine.fetch) shows its progress in place, and once the files
are there the page reruns, so Start is enabled without restarting the app.
Presence is checked on every run (never cached), because a download in another
tab or from the command line changes it.
"""
import streamlit as st

from dlcore.engine import data, fetch


def dataset_gate(specs, key: str) -> bool:
    """Whether every data set these runs need is here; if not, the message and a Get button per data set."""
    for name in sorted({s.dataset for s in specs}):
        note = st.session_state.pop(f"{key}_get_{name}_done", None)
        if note:  # left by a download that just finished, before its rerun
            st.success(note)
    missing = data.missing_datasets(specs)
    for name in missing:
        get_dataset_ui(name, f"{key}_get_{name}")
    return not missing


def get_dataset_ui(name: str, key: str) -> None:
    """The missing-data message, the Get button, and (once pressed) the download's progress or its failure."""
    title = fetch.SOURCES[name].title
    st.error(data.missing_message(name))
    pressed = st.button(f"Get {title} ({fetch.size_label(name)})", icon=":material/download:", key=key,
                        help=f"Downloads {title} from its official location into {fetch.keras_cache_dir()}, "
                             "checks the official checksum, and resumes if the connection drops.")
    if not pressed:
        return
    status = st.empty()
    bar = status.progress(0.0, text=f"Getting {title}: connecting…")
    try:
        folder = fetch.fetch(name, progress=lambda p: bar.progress(p.fraction, text=f"Getting {title}: {p}"))
    except fetch.FetchError as err:
        status.error(str(err))
        return
    status.empty()
    st.session_state[f"{key}_done"] = f"{title} is now in {folder} (official checksum verified)."
    st.rerun()
