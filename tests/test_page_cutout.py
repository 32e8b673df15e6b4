"""app_pages/cutout.py: the cutout gallery reacts to its controls; no data cache is handled;
the ResNet-44 and batch-augmentation tabs launch the right runs and show live and cached
runs per preset, a shortened run always labelled as such."""
import os
import pathlib
import subprocess
import sys

import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

import runfolders  # tests/runfolders.py: realistic run folders, JSON only
from dlcore.engine import data, experiments, jobs

ROOT = pathlib.Path(__file__).resolve().parents[1]
PAGE = str(ROOT / "app_pages" / "cutout.py")


GALLERY, RESNET, BATCH = "Cutout gallery", "ResNet-44 baseline", "Batch augmentation (M copies)"


def open_page(tab: str | None = None):
    """The page, on `tab` (the tabs are lazy: only the open one is drawn; the gallery by default)."""
    at = AppTest.from_file(PAGE, default_timeout=60).run()
    assert not at.exception, at.exception
    return open_tab(at, tab) if tab else at


def open_tab(at, tab: str):
    at.session_state["tab"] = tab
    at.run()
    assert not at.exception, at.exception
    return at


def on_tabs(at, tabs, read) -> list:
    """`read(at)` on each tab in turn, the lists joined: what the page shows on those tabs."""
    return [x for tab in tabs for x in read(open_tab(at, tab))]


def fractions(at, table=0):
    return list(at.dataframe[table].value["masked fraction"])


def all_text(at):
    return " ".join([m.value for m in at.markdown] + [c.value for c in at.caption]
                    + [w.value for w in at.warning] + [i.value for i in at.info])


@pytest.fixture(autouse=True)
def run_folders(run_roots):
    """Every test here gets the private run folders (conftest.run_roots)."""
    return run_roots


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
    assert not [w for w in at.warning if "synthetic" in w.value], "no 'synthetic' notice when the cache is there"
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


# ---------------------------------------------------------------- the training tabs

@pytest.fixture
def roots(run_folders, monkeypatch):
    """The private run folders; jobs.start_many records specs instead of spawning workers."""
    live, cached = run_folders
    started = []
    monkeypatch.setattr(jobs, "start_many", lambda specs: (started.extend(specs) or [live / s.name for s in specs], None))
    return live, cached, started


def frame_with(at, column):
    """The first dataframe or table on the page that has `column`."""
    for df in [*at.dataframe, *at.table]:
        if column in df.value.columns:
            return df.value
    raise AssertionError(f"no table with a {column!r} column")


def frames_with(at, column):
    return [df.value for df in [*at.dataframe, *at.table] if column in df.value.columns]


def resnet_spec(preset, M=1, shortcut="A"):
    return experiments.resnet_runs(preset, Ms=(M,), shortcut=shortcut)[0].to_dict()


def cache(root, preset, M, done, hardware, shortcut="A"):
    spec = resnet_spec(preset, M, shortcut)
    return runfolders.write_run(root / spec["experiment"] / f"{spec['name']}__{preset}", spec, "finished",
                                done, hardware=hardware)


def test_training_tabs_without_runs_say_how_to_start_one(roots):
    at = open_page()
    assert [t.label for t in at.tabs] == ["Cutout gallery", "ResNet-44 baseline", "Batch augmentation (M copies)"]
    infos = " ".join(on_tabs(at, (RESNET, BATCH), lambda a: [i.value for i in a.info]))
    assert "No ResNet-44 runs yet" in infos and "No batch-augmentation runs yet" in infos


def test_parameter_counts_of_both_shortcuts_are_shown(roots):
    table = frame_with(open_page(RESNET), "shortcut")
    assert list(table["shortcut"]) == ["option A", "option B"]
    assert list(table["parameters"]) == [661_754, 664_698]


def test_recipe_follows_the_chosen_preset_and_shows_he_et_al(roots):
    at = open_page(RESNET)
    recipe = frame_with(at, "He et al. (2016) Sec 4.2")
    rows = dict(zip(recipe["setting"], recipe["this run"]))
    assert "momentum 0.9" in rows["optimizer"] and rows["weight decay"] == "1e-4"
    assert "0.1, ÷10 at" in rows["learning rate"] and "original images" in rows["test"]
    assert "32×32 crop" in rows["augmentation"] and rows["batch"] == "64 samples"
    at.radio(key="resnet_preset").set_value("full").run()
    rows = dict(zip(*frame_with(at, "He et al. (2016) Sec 4.2")[["setting", "this run"]].T.values))
    assert "32,000 iterations (epoch 40.9)" in rows["learning rate"]
    # The full preset's time: from the benchmark's measured speed, never a guess.
    assert any("full" in w.value and "benchmarks/class_presets.py" in w.value for w in at.warning)


def test_start_launches_resnet44_with_the_chosen_preset_and_shortcut(roots):
    _, _, started = roots
    at = open_page(RESNET)
    at.radio(key="resnet_preset").set_value("smoke").run()
    at.radio(key="resnet_shortcut").set_value("B").run()
    at.button(key="resnet_start").click().run()
    assert not at.exception
    assert [(s.experiment, s.name, s.preset, s.model["shortcut"]) for s in started] == [
        ("resnet", "M1_shortcutB", "smoke", "B")]
    assert any("Started 1 run" in m.value for m in at.success)


def test_batch_augmentation_starts_one_run_per_chosen_M(roots, cifar10_stand_in):
    _, _, started = roots
    at = open_page(BATCH)
    at.multiselect(key="batch_Ms").set_value([2, 16]).run()
    at.checkbox(key="batch_baseline").check().run()
    at.button(key="batch_start").click().run()
    assert not at.exception
    assert [(s.name, s.augment.get("M", 1), s.augment["name"]) for s in started] == [
        ("M1", 1, "standard"), ("M2", 2, "batch_augment"), ("M16", 16, "batch_augment")]
    assert {s.preset for s in started} == {"class"} and {s.batch_size for s in started} == {64}


def test_no_M_picked_says_so_and_starts_nothing(roots):
    _, _, started = roots
    at = open_page(BATCH)
    at.multiselect(key="batch_Ms").set_value([]).run()
    assert any("at least one M" in w.value for w in at.warning)
    assert at.button(key="batch_start").disabled
    assert not started


def test_without_cifar10_the_start_buttons_say_why_they_are_off(roots, monkeypatch):
    monkeypatch.setattr(data, "is_available", lambda name: name.startswith("synthetic_"))
    at = open_page(RESNET)
    assert at.button(key="resnet_start").disabled
    missing = lambda a: [e for e in a.error if "cifar10 data set is not in the local Keras cache" in e.value]  # noqa: E731
    assert len(missing(at)) == 1
    open_tab(at, BATCH)
    assert at.button(key="batch_start").disabled and len(missing(at)) == 1  # one per training tab
    at.radio(key="batch_preset").set_value("smoke").run()
    assert not at.button(key="batch_start").disabled


def test_cached_full_and_class_runs_are_drawn_apart_and_the_class_ones_labelled(roots):
    _, cached, _ = roots
    for M in (1, 4, 16):
        cache(cached, "full", M, 15, runfolders.GPU)
    cache(cached, "class", 1, 3, runfolders.CPU)
    cache(cached, "class", 4, 3, runfolders.CPU)
    at = open_page()
    assert not at.exception
    both = lambda read: on_tabs(at, (RESNET, BATCH), read)  # noqa: E731
    headings = both(lambda a: [m.value for m in a.markdown if m.value.startswith("####")])
    # resnet tab: full then class; batch tab: full then class
    assert headings == ["#### Full preset: what the homework asks", "#### Class preset (shortened)"] * 2
    shortened = both(lambda a: [w.value for w in a.warning if "Shortened, not the homework's result" in w.value])
    # One note per distinct shortening: M = 1 on the ResNet tab; M = 1 and M = 4 (fewer epochs) on the batch tab.
    assert len(shortened) == 3 and all("class preset: ResNet-44, " in w for w in shortened)
    batch_tables = both(lambda a: frames_with(a, "reports"))
    full_batch, class_batch = batch_tables[2], batch_tables[3]
    assert list(full_batch["M"]) == [1, 4, 16]
    assert set(full_batch["hardware"]) == {runfolders.GPU["device"]}
    assert list(full_batch["reports"]) == ["reached 92% at epoch 14"] * 3
    assert list(class_batch["M"]) == [1, 4]
    assert all(r.startswith("92% not reached") for r in class_batch["reports"])
    assert all("(class, cached)" in r for r in class_batch["run"])
    captions = " ".join(both(lambda a: [c.value for c in a.caption]))
    assert "full preset, 1 × NVIDIA H100" in captions and "class preset, CPU (2 cores)" in captions
    charts = both(lambda a: a.get("vega_lite_chart"))
    assert len(charts) == 4  # one per preset on each tab
    assert all('"rule"' in c.proto.spec and "validation error" in c.proto.spec for c in charts)


def test_batch_tab_leaves_out_shortcut_B_baselines(roots):
    _, cached, _ = roots
    cache(cached, "full", 1, 15, runfolders.GPU, shortcut="B")
    cache(cached, "full", 8, 15, runfolders.GPU)
    resnet_table, batch_table = on_tabs(open_page(), (RESNET, BATCH), lambda a: frames_with(a, "reports"))
    assert list(resnet_table["run"]) == ["resnet/M1_shortcutB (full, cached)"]
    assert list(batch_table["M"]) == [8]


def test_a_live_run_streams_its_progress_next_to_the_cached_ones(roots):
    live, cached, _ = roots
    cache(cached, "class", 1, 3, runfolders.CPU)
    spec = resnet_spec("class", 4)
    runfolders.write_run(live / "batch_augmentation__M4__20250304-100000-aaaaaa", spec, "running", 1,
                         partial=2, pid=os.getpid())
    at = open_page(BATCH)
    assert not at.exception
    assert any(m.value == "**Training now**" for m in at.markdown)
    table = frames_with(at, "reports")[-1]
    assert list(table["M"]) == [1, 4] and list(table["state"]) == ["finished", "running"]
    assert "batch_augmentation/M4 (class)" in list(table["run"])


def test_curve_choice_switches_to_the_training_side(roots):
    _, cached, _ = roots
    cache(cached, "class", 4, 3, runfolders.CPU)
    at = open_page()
    specs = on_tabs(at, (RESNET, BATCH), lambda a: [c.proto.spec for c in a.get("vega_lite_chart")])
    assert specs and all("validation error" in s for s in specs)
    at.segmented_control(key="batch_curve").set_value("loss").run()
    assert not at.exception
    batch_chart = at.get("vega_lite_chart")[-1].proto.spec
    assert "training loss" in batch_chart and '"rule"' not in batch_chart
    assert any(c.value.startswith("Training loss") for c in at.caption)


def test_error_chart_marks_the_target_error():
    import pandas as pd

    from dlcore.charts import curves

    frame = pd.DataFrame({"run": "r", "label": "r", "source": "cached", "preset": "full", "state": "finished",
                          "epoch": [1, 2], "wall_s": [1.0, 2.0], "wall_clock": ["1 s", "2 s"],
                          "metric": "val_accuracy", "value": [0.30, 0.95]})
    spec = curves.error_vs_epoch_with_target(frame, 0.92, view="t").to_dict()
    curve, target = spec["datasets"]["t"], spec["datasets"]["t_target"]
    assert [round(r["value"], 2) for r in curve] == [0.70, 0.05]  # error = 1 − accuracy
    assert target[0]["value"] == pytest.approx(0.08) and "92% accuracy" in target[0]["text"]
    assert [layer["mark"]["type"] for layer in spec["layer"]] == ["line", "rule", "text"]


def test_a_full_run_cut_short_is_not_shown_as_a_full_length_result(roots):
    _, cached, _ = roots
    spec = resnet_spec("full", 8)
    runfolders.write_run(cached / "batch_augmentation" / "M8__full", spec, "cancelled", 4, hardware=runfolders.GPU)
    at = open_page(BATCH)
    assert any(w.value.startswith("**Stopped before the end:** batch_augmentation/M8 (full, cached")
               for w in at.warning)
    row = frames_with(at, "reports")[0].iloc[0]
    assert row["reports"].endswith("run cancelled after 4 of 100 epochs") and row["state"] == "cancelled"
