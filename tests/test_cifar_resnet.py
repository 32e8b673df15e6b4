"""ResNet v1 for CIFAR in numbers: parameter counts per shortcut, and He et al.'s recipe."""
import inspect
import math

import pytest

from dlcore.results import resnet_recipe
from dlcore.engine import experiments


def test_resnet44_option_A_has_the_papers_0_66M_parameters():
    counts = resnet_recipe.parameters(44, "A")
    assert round(counts["total"] / 1e6, 2) == 0.66
    assert counts["total"] == counts["trainable"] + counts["non_trainable"]


def test_option_B_adds_two_1x1_projections_with_batch_norm():
    extra = resnet_recipe.parameters(44, "B")["total"] - resnet_recipe.parameters(44, "A")["total"]
    # 16→32 and 32→64 1×1 convolutions, each followed by batch norm (4 numbers per channel)
    assert extra == (16 * 32 + 4 * 32) + (32 * 64 + 4 * 64)


def test_deeper_nets_add_blocks_of_the_same_size():
    per_n = [resnet_recipe.parameters(6 * n + 2)["total"] for n in (3, 5, 7)]
    assert per_n[2] - per_n[1] == per_n[1] - per_n[0] > 0


@pytest.mark.parametrize("depth", [0, 21, 45])
def test_depth_must_be_6n_plus_2(depth):
    with pytest.raises(ValueError, match="6n\\+2"):
        resnet_recipe.parameters(depth)


@pytest.mark.parametrize("depth,shortcut", [(44, "A"), (44, "B"), (20, "B")])
def test_counts_match_keras_count_params(depth, shortcut):
    from dlcore.keras_parts import models

    model = models.resnet_v1(depth, shortcut)
    counts = resnet_recipe.parameters(depth, shortcut)
    trainable = sum(math.prod(w.shape) for w in model.trainable_weights)
    assert counts["total"] == model.count_params()
    assert counts["trainable"] == trainable


def test_weight_decay_shown_is_the_models_default():
    from dlcore.keras_parts import models

    assert inspect.signature(models.resnet_v1).parameters["weight_decay"].default == resnet_recipe.WEIGHT_DECAY


def recipe(spec) -> dict:
    return {r["setting"]: r["this run"] for r in resnet_recipe.recipe_rows(spec)}


def test_recipe_converts_the_32k_and_48k_marks_to_epochs_of_50k_at_batch_64():
    full = recipe(experiments.resnet_runs("full")[0])
    # 32,000 / ceil(50,000 / 64) = 32,000 / 782 = 40.9 epochs; 48,000 / 782 = 61.4
    assert "32,000 iterations (epoch 40.9)" in full["learning rate"]
    assert "48,000 iterations (epoch 61.4)" in full["learning rate"]
    assert full["weight decay"] == "1e-4" and full["optimizer"] == "SGD, momentum 0.9"
    assert full["batch"] == "64 samples" and "all (50,000 images)" in full["data"]
    assert "original images" in full["test"] and "stopping at 92%" in full["length"]


def test_recipe_of_a_shortened_preset_shows_its_own_size():
    spec = experiments.resnet_runs("class")[0]
    rows = recipe(spec)
    assert f"{spec.subset} per class ({10 * spec.subset:,} images)" in rows["data"]
    assert f"at most {spec.epochs} epochs" in rows["length"]


def test_batch_augment_copies_get_pad_crop_flip_and_their_own_cutout():
    rows = recipe(experiments.resnet_runs("full", Ms=(4,))[0])
    assert rows["batch"] == "64 samples = 256 images"
    text = rows["augmentation"]
    assert "4 copies" in text and "crop" in text and "flip" in text and "16×16 cutout" in text


def test_shortcut_B_runs_are_named_apart_from_A():
    a, b = experiments.resnet_runs("class")[0], experiments.resnet_runs("class", shortcut="B")[0]
    assert a.name == "M1" and b.name == "M1_shortcutB" and b.model["shortcut"] == "B"
    assert recipe(b)["network"].endswith("option B shortcuts")
