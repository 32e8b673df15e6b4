"""Specs: the homework's runs as data, validated before anything starts."""
import pytest

from dlcore.engine import experiments
from dlcore.engine.experiments import Spec, SpecError


def smoke(**changes) -> dict:
    d = Spec(experiment="t", name="r").to_dict()
    d.update(changes)
    return d


@pytest.mark.parametrize("changes, words", [
    ({"optimizer": {"name": "adam", "learning_rate": 0.0}}, "learning rate must be a positive"),
    ({"optimizer": {"name": "adam", "learning_rate": -1e-3}}, "learning rate must be a positive"),
    ({"batch_size": 0}, "batch size"),
    ({"epochs": experiments.MAX_EPOCHS + 1}, "epochs"),
    ({"optimizer": {"name": "lion", "learning_rate": 1e-3}}, "unknown optimizer"),
    ({"model": {"name": "resnet_v1", "depth": 45}}, "6n+2"),
    ({"augment": {"name": "batch_augment", "M": 0}}, "M (cutout copies"),
])
def test_bad_values_are_rejected_in_words(changes, words):
    with pytest.raises(SpecError) as err:
        Spec.from_dict(smoke(**changes))
    assert words in str(err.value)


def test_unknown_fields_are_rejected():
    with pytest.raises(SpecError, match="unknown field"):
        Spec.from_dict(smoke(learning_rate=0.1))


def test_spec_round_trips_through_json():
    spec = experiments.mlp_runs("full", "dropout")[0]
    import json
    assert Spec.from_dict(json.loads(spec.to_json())) == spec


def test_mlp_full_preset_is_the_homework():
    for regularizer in ("l2", "dropout"):
        runs = experiments.mlp_runs("full", regularizer)
        assert [r.optimizer["name"] for r in runs] == list(experiments.METHODS)
        for r in runs:
            assert r.dataset == "cifar10" and r.subset is None and r.epochs == 200
            assert r.preprocessing == "scale"  # the notebook fed raw 0-255 pixels
            homework = ({"name": "mlp", "regularizer": "l2", "l2": 5e-4} if regularizer == "l2"
                        else {"name": "mlp", "regularizer": "dropout"})
            assert homework.items() <= r.model.items()  # (plus settings the homework leaves open)
            assert r.notes == ""


def test_shortened_presets_say_so():
    for name in experiments.CATALOGUE:
        for preset in ("class", "smoke"):
            for spec in experiments.catalogue(name, preset):
                assert preset in spec.notes and "homework asks for more" in spec.notes


def test_resnet_full_preset_follows_he_et_al():
    (spec,) = experiments.resnet_runs("full")
    assert spec.model == {"name": "resnet_v1", "depth": 44, "shortcut": "A"}
    assert spec.optimizer == {"name": "sgd", "learning_rate": 0.1, "momentum": 0.9}
    assert spec.schedule == {"name": "step_decay", "boundaries": [32000, 48000], "factor": 0.1}
    assert spec.batch_size == 64 and spec.epochs == 100 and spec.stop == {"val_accuracy": 0.92}
    Ms = [s.augment.get("M", 1) for s in experiments.catalogue("batch_augmentation", "full")]
    assert Ms == [2, 4, 8, 16]


def test_clr_is_really_cyclical():
    (spec,) = experiments.clr_runs("full", lr_min=1e-3, lr_max=1e-1)
    assert spec.schedule["base_lr"] < spec.schedule["max_lr"]  # the notebook set max_lr = min_lr


def test_replace_updates_the_same_component_and_swaps_another():
    (clr,) = experiments.clr_runs("class", lr_min=1e-3, lr_max=1e-1)
    assert clr.replace(optimizer={"learning_rate": 0.01}).optimizer == {**clr.optimizer, "learning_rate": 0.01}
    assert clr.replace(model={"name": "mlp", "regularizer": "l2"}).model == {"name": "mlp", "regularizer": "l2"}


def test_missing_data_sets_are_named_once_each(monkeypatch):
    from dlcore.engine import data

    monkeypatch.setattr(data, "is_available", lambda name: name.startswith("synthetic_"))
    specs = experiments.mlp_runs("class", "l2") + experiments.mlp_runs("smoke", "l2")
    (message,) = data.missing_for(specs)
    assert "cifar10 data set is not in the local Keras cache" in message
    assert data.missing_for(experiments.mlp_runs("smoke", "l2")) == []


# --- The class presets (issue 19): each run a few minutes on 2 CPU cores, and it must still teach ----

def test_class_resnet_is_resnet44_for_450_steps_with_warm_up_and_fast_batch_norm():
    (spec,) = experiments.resnet_runs("class")
    assert spec.model == {"name": "resnet_v1", "depth": 44, "shortcut": "A", "bn_momentum": 0.9}
    steps = spec.epochs * (10 * spec.subset // spec.batch_size)
    assert steps == 450 and spec.batch_size == 64 and (10 * spec.subset) % 64 == 0  # no short last batch
    assert spec.schedule["warmup"] == 50 and spec.schedule["boundaries"] == [225, 337]
    for words in ("450 steps", "warmed up", "momentum 0.9", "Keras: 0.99", f"{10 * spec.test_subset:,}"):
        assert words in spec.notes


def test_class_batch_augmentation_costs_about_what_m1_costs():
    # A step with M copies costs M plain steps: the class epochs keep every run near M = 1's images.
    (m1,) = experiments.resnet_runs("class")
    m1_images = m1.epochs * 10 * m1.subset
    for spec in experiments.catalogue("batch_augmentation", "class"):
        M = spec.augment["M"]
        assert spec.augment["name"] == "batch_augment" and M in experiments.RESNET_CLASS_MS
        assert 0.5 <= M * spec.epochs * 10 * spec.subset / m1_images <= 1.0
        assert f"× {M} copies" in spec.notes and spec.schedule["warmup"] <= spec.epochs * 50 // 4


def test_full_resnet_has_no_warm_up_and_keras_batch_norm():
    (spec,) = experiments.resnet_runs("full")
    assert "warmup" not in spec.schedule and "bn_momentum" not in spec.model


def test_every_shortened_minigooglenet_run_states_its_batch_norm_momentum():
    for name in ("range_test", "clr", "batch_growth"):
        for spec in experiments.catalogue(name, "class"):
            assert spec.model["bn_momentum"] == 0.9 and "momentum 0.9" in spec.notes


def test_the_class_minigooglenet_is_half_width_and_says_so_and_full_is_the_papers():
    for name in ("range_test", "clr", "batch_growth"):
        for spec in experiments.catalogue(name, "class"):
            w = experiments.CLASS_MINI_GOOGLENET_WIDTH
            assert spec.model["width"] == w < 1 and f"{w:g} × its filter counts" in spec.notes
        for spec in experiments.catalogue(name, "full"):
            assert "width" not in spec.model and "filter counts" not in spec.notes


def test_minigooglenet_width_scales_every_filter_count():
    keras = pytest.importorskip("keras")
    from dlcore.keras_parts import models

    def filters(model):
        return [layer.filters for layer in model.layers if isinstance(layer, keras.layers.Conv2D)]

    full, half = models.mini_googlenet(), models.mini_googlenet(width=0.5)
    assert full.count_params() == 1_654_522          # the paper's network, unchanged
    assert filters(half) == [round(f / 2) for f in filters(full)]
    assert 0.2 < half.count_params() / full.count_params() < 0.3
    with pytest.raises(ValueError, match="width"):
        models.mini_googlenet(width=0)


def test_class_mlp_set_is_the_ten_runs_with_their_size_in_the_notes():
    specs = experiments.catalogue("mlp_l2", "class") + experiments.catalogue("mlp_dropout", "class")
    assert len(specs) == 10
    for spec in specs:
        assert f"{spec.epochs} epochs on {spec.subset} images per class" in spec.notes
        assert f"tested on {spec.test_subset} per class" in spec.notes


def write_timings(path, specs, seconds=60.0, ips=100.0):
    import json
    path.write_text(json.dumps({"measured": "2026-12-01T10:00:00+00:00", "machine": "Test CPU, 2 CPU cores",
                                "runs": {f"{s.experiment}/{s.name}": {"seconds": seconds, "images_per_s": ips + i,
                                                                     "spec": s.to_dict()}
                                         for i, s in enumerate(specs)}}))
    return path


def test_time_estimates_come_from_the_benchmarks_measurements_of_that_very_spec(tmp_path):
    specs = experiments.catalogue("resnet", "class") + experiments.catalogue("batch_augmentation", "class")
    path = write_timings(tmp_path / "t.json", specs, seconds=100.0)
    assert experiments.measured_class_seconds(specs[0], path) == 100.0
    text = experiments.time_estimate(specs, path)
    assert f"{len(specs) * 100 / 60:.1f} minutes" in text and "Test CPU" in text and "2026-12-01" in text
    # Other settings than the measured ones: no number, and the page says why.
    other = specs[0].replace(epochs=3)
    assert experiments.measured_class_seconds(other, path) is None
    assert "No measured time" in experiments.time_estimate([other], path)
    assert "1 more not measured" in experiments.time_estimate([specs[0], other], path)
    # Notes are words on the page, not settings: they do not void a measurement.
    assert experiments.measured_class_seconds(specs[0].replace(notes="x"), path) == 100.0


def test_no_measurements_file_gives_no_estimate(tmp_path):
    specs = experiments.catalogue("clr", "class")
    assert experiments.measured_class_seconds(specs[0], tmp_path / "missing.json") is None
    assert experiments.speed_estimate("clr", 1e6, tmp_path / "missing.json") == ""
    (tmp_path / "bad.json").write_text("{not json")
    assert experiments.class_timings(tmp_path / "bad.json") == {}


def test_full_preset_time_is_images_over_the_measured_speed(tmp_path):
    specs = experiments.catalogue("mlp_l2", "class")
    path = write_timings(tmp_path / "t.json", specs, ips=1000.0)
    assert experiments.measured_images_per_s("mlp_l2", path) == 1002.0   # the median of 1000…1004
    assert "about 2.8 hours" in experiments.speed_estimate("mlp_l2", 10_000_000, path)


def test_only_class_runs_get_a_time_estimate(tmp_path):
    specs = experiments.catalogue("clr", "smoke")
    assert experiments.time_estimate(specs, write_timings(tmp_path / "t.json", specs)) == ""
