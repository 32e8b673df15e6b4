"""pages/cutout.py: the cutout gallery reacts to its controls; no data cache is handled."""
import pathlib
import subprocess
import sys

import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from dlcore import data

ROOT = pathlib.Path(__file__).resolve().parents[1]
PAGE = str(ROOT / "pages" / "cutout.py")


def open_page():
    at = AppTest.from_file(PAGE, default_timeout=60).run()
    assert not at.exception, at.exception
    return at


def fractions(at, table=0):
    return list(at.dataframe[table].value["masked fraction"])


def all_text(at):
    return " ".join([m.value for m in at.markdown] + [c.value for c in at.caption]
                    + [w.value for w in at.warning] + [i.value for i in at.info])


@pytest.fixture
def no_cifar10(monkeypatch):
    """This machine has no CIFAR-10 cache and no network."""
    def unavailable():
        raise data.DatasetUnavailable("CIFAR-10 is not in a local Keras cache (test)")

    monkeypatch.setattr(data, "is_available", lambda name: False)
    monkeypatch.setattr(data, "load_cifar10", unavailable)
    st.cache_resource.clear()
    yield
    st.cache_resource.clear()


def test_gallery_shows_real_cifar10_test_images(keras_cache):
    at = open_page()
    assert not at.warning, "no 'synthetic' notice when the cache is there"
    assert "CIFAR-10 test set" in all_text(at)
    images = list(at.dataframe[0].value["image"])
    assert images == ["cat #3000", "dog #5000", "horse #7000", "ship #8000"]


def test_mask_size_changes_the_masked_fraction():
    at = open_page()
    before = fractions(at)
    assert max(before) <= 0.25
    at.slider(key="mask_size").set_value(8).run()
    after = fractions(at)
    assert after != before
    assert max(after) <= 64 / 1024
    at.slider(key="mask_size").set_value(0).run()
    assert fractions(at) == [0.0] * len(before)


def test_seed_changes_where_the_squares_fall():
    at = open_page()
    before = list(at.dataframe[0].value["masked pixels"]) + list(at.dataframe[1].value["masked pixels"])
    at.number_input(key="seed").set_value(5).run()
    after = list(at.dataframe[0].value["masked pixels"]) + list(at.dataframe[1].value["masked pixels"])
    assert after != before


def test_more_squares_mask_more():
    at = open_page()
    one = sum(fractions(at, 1))
    at.slider(key="squares").set_value(4).run()
    assert sum(fractions(at, 1)) > one


def test_M_slider_shows_M_copies():
    at = open_page()
    for M in (2, 16):
        at.select_slider(key="M").set_value(M).run()
        assert not at.exception
        assert len(at.dataframe[1].value) == M
        assert f"{M} copies of" in all_text(at)


def test_random_pick_with_a_seed():
    at = open_page()
    at.radio(key="pick_mode").set_value("At random").run()
    at.slider(key="n_random").set_value(3).run()
    first = list(at.dataframe[0].value["image"])
    assert len(first) == 3
    at.number_input(key="pick_seed").set_value(1).run()
    assert list(at.dataframe[0].value["image"]) != first


def test_no_class_picked_says_so():
    at = open_page()
    at.multiselect(key="classes").set_value([]).run()
    assert not at.exception
    assert any("at least one class" in w.value for w in at.warning)


def test_without_the_data_cache_the_page_says_so_and_uses_a_synthetic_image(no_cifar10):
    at = open_page()
    assert any("not in the local Keras cache" in w.value and "synthetic" in w.value for w in at.warning)
    assert all(name.startswith("SYNTHETIC") for name in at.dataframe[0].value["image"])
    before = fractions(at)
    at.slider(key="mask_size").set_value(24).run()
    assert not at.exception
    assert fractions(at) != before


def test_training_tabs_say_they_are_being_built():
    at = open_page()
    assert len(at.tabs) == 3
    assert [t.label for t in at.tabs] == ["Cutout gallery", "ResNet-44 baseline", "Batch augmentation (M copies)"]
    assert all("Being built" in i.value for i in at.info)


def test_explains_why_cutout_beats_dropout():
    text = all_text(open_page()).lower()
    for idea in ("correlated", "contiguous", "occlusion", "mean"):
        assert idea in text


def test_gallery_page_does_not_import_keras():
    code = (f"from streamlit.testing.v1 import AppTest; import sys; "
            f"at = AppTest.from_file({PAGE!r}, default_timeout=60).run(); "
            "assert not at.exception, at.exception; "
            "bad = [m for m in ('keras', 'tensorflow', 'jax') if m in sys.modules]; assert not bad, bad")
    subprocess.run([sys.executable, "-c", code], check=True, cwd=ROOT)
