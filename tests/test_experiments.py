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
            assert r.model == ({"name": "mlp", "regularizer": "l2", "l2": 5e-4} if regularizer == "l2"
                               else {"name": "mlp", "regularizer": "dropout"})
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
