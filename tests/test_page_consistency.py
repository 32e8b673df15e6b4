"""Issue 13 item 10: pages state what the runs they show really ran with.

- the CLR section names each shown run's own bounds and batch-norm momentum (from its spec);
- Adagrad's MLP learning rate and the update rules' table agree on what is the textbook's and
  what the MLP trains with;
- the MLP's output layer is He-normal, as the SPEC says.
"""
import math
import pathlib

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

import runfolders
from dlcore.core import rules
from dlcore.engine import experiments
from dlcore.results import optimizer_comparison

ROOT = pathlib.Path(__file__).resolve().parents[1]


def write_clr(cached, name, spec):
    return runfolders.write_run(cached / "clr" / name, spec.to_dict(), "finished", 2)


def test_the_clr_section_states_the_bounds_and_batch_norm_of_each_run_it_shows(run_roots):
    _, cached = run_roots
    (class_run,) = experiments.clr_runs("class", 1e-3, 1e-1)          # batch-norm momentum 0.9
    (full_run,) = experiments.clr_runs("full", 2e-3, 5e-2)            # Keras's 0.99
    write_clr(cached, "exp_range__class", class_run)
    write_clr(cached, "exp_range__full", full_run)
    at = AppTest.from_file(str(ROOT / "app_pages" / "cyclical_lr.py"), default_timeout=60).run()
    at.session_state["tab"] = "CLR run"  # lazy tabs: only the open one is drawn
    at.run()
    assert not at.exception
    at.multiselect(key="clrrun_show").set_value([str(cached / "clr" / "exp_range__class"),
                                                 str(cached / "clr" / "exp_range__full")]).run()
    said = {m.value.split("**")[1]: m.value for m in at.markdown if " ran exp_range between " in m.value}
    assert set(said) == {"clr/exp_range (class, cached)", "clr/exp_range (full, cached)"}
    short, full = said["clr/exp_range (class, cached)"], said["clr/exp_range (full, cached)"]
    assert "base_lr (lr_min) = 0.001 and max_lr (lr_max) = 0.1," in short
    assert f"γ = {class_run.schedule['gamma']:g} per iteration" in short
    assert "batch-norm momentum 0.9." in short
    assert "base_lr (lr_min) = 0.002 and max_lr (lr_max) = 0.05," in full
    assert "batch-norm momentum 0.99 (Keras's default)." in full
    # The section's own sentence is about what Start would launch, and says so.
    (intro,) = [m.value for m in at.markdown if m.value.startswith("MiniGoogLeNet on Fashion-MNIST")]
    assert "**Start** below launches it between lr_min" in intro


def test_adagrads_rates_agree_between_the_update_rules_and_the_mlp():
    """The update rules' table calls 0.01 the textbook's (not what training uses); the MLP trains
    with Keras's 0.001 and the MLP tab lists that as the difference."""
    row = next(r for r in rules.hparam_rows("adagrad", {}) if r["Keras name"] == "learning_rate")
    assert "training default" not in row and row["textbook default"] == "0.01"
    (spec,) = experiments.mlp_runs("full", "l2", methods=["adagrad"])
    assert spec.optimizer["learning_rate"] == optimizer_comparison.hparams_used("adagrad")["learning_rate"] == 0.001
    assert "Adagrad: α (learning_rate) = 0.001 here, textbook 0.01" in optimizer_comparison.default_differences()


def test_the_mlp_output_layer_is_he_normal_as_the_spec_says():
    import keras

    from dlcore.keras_parts import models

    (spec,) = experiments.mlp_runs("class", "l2", methods=["adam"])
    model = models.build(spec.model, (32, 32, 3))
    output = [layer for layer in model.layers if isinstance(layer, keras.layers.Dense)][-1]
    assert output.units == 10 and type(output.kernel_initializer).__name__ == "HeNormal"
    w = keras.ops.convert_to_numpy(output.kernel)
    # He-normal: std sqrt(2/fan_in), tails out to 2 (truncated) σ; Glorot-uniform (Keras's default)
    # has nearly the same std here but never exceeds sqrt(6/(fan_in + fan_out)) = 0.077.
    assert np.std(w) == pytest.approx(math.sqrt(2 / 1000), rel=0.05)
    assert np.abs(w).max() > math.sqrt(6 / 1010)


def test_a_spec_from_before_the_fix_rebuilds_the_glorot_output_layer_it_was_trained_with():
    import keras

    from dlcore.keras_parts import models

    (spec,) = experiments.mlp_runs("full", "l2", methods=["adam"])
    old = {k: v for k, v in spec.model.items() if k != "output_init"}  # as in cached_runs/mlp_*/*__full
    output = [layer for layer in models.build(old, (32, 32, 3)).layers if isinstance(layer, keras.layers.Dense)][-1]
    assert type(output.kernel_initializer).__name__ == "GlorotUniform"
