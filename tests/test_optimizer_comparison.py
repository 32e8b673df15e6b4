"""The MLP comparison of SPEC Problem 1.2-1.3: numbers, verdicts and discussion come from the runs.

Run folders are written as the worker writes them (JSON only), with chosen
losses, accuracies and epoch times, so every test knows the right answer and
can change the runs to see the numbers, rankings and words follow.
"""
import json
import math
import pathlib

import pytest

from dlcore.engine import experiments, runs
from dlcore.results import optimizer_comparison as oc
from dlcore.core import rules

ROOT = pathlib.Path(__file__).resolve().parents[1]
GPU = {"device": "1 × NVIDIA H100 80GB HBM3"}
CPU = {"device": "CPU (2 cores)"}


def write_mlp_run(root, regularizer, method, losses, accs=None, epoch_s=None, preset="full",
                  started="2025-01-01T10:00:00+00:00", ended="2025-01-01T10:10:00+00:00", hardware=GPU,
                  state="finished", epochs=None, early_peak=None, source_layout="cached", spec_changes=None, pid=None):
    """A run folder of mlp_<regularizer>/<method> with one epoch record per loss (cached layout
    <root>/mlp_<reg>/<method>__<preset>, or live layout <root>/mlp_<reg>__<method>__<stamp>)."""
    spec = experiments.mlp_runs(preset, regularizer, methods=[method])[0]
    spec = spec.replace(epochs=epochs or len(losses), **(spec_changes or {}))
    n = len(losses)
    accs = accs or [0.3 + 0.2 * (i + 1) / n for i in range(n)]
    epoch_s = epoch_s or [10.0] + [2.0] * (n - 1)
    name = f"mlp_{regularizer}/{method}__{preset}" if source_layout == "cached" else \
        f"mlp_{regularizer}__{method}__20250101-100000-{abs(hash((method, regularizer))) % 10**6:06d}"
    path = pathlib.Path(root) / name
    path.mkdir(parents=True)
    runs.write_json(path / "spec.json", spec.to_dict())
    wall = 0.0
    lines = [{"event": "batch", "epoch": 1, "batch": 20, "step": 20,
              "loss": early_peak if early_peak is not None else losses[0] * 2, "wall_s": 0.5}] if losses else []
    for i, (loss, acc, secs) in enumerate(zip(losses, accs, epoch_s), 1):
        wall += secs
        lines.append({"event": "epoch", "epoch": i, "loss": loss, "accuracy": acc, "val_loss": loss,
                      "val_accuracy": acc, "epoch_s": secs, "wall_s": wall, "images_per_s": 1000.0})
    (path / "metrics.jsonl").write_text("".join(json.dumps(x) + "\n" for x in lines))
    runs.write_json(path / "status.json", {"state": state, "epoch": n, "epochs": spec.epochs, "started": started,
                                           "ended": ended, "wall_s": wall, "pid": pid})
    runs.write_json(path / "provenance.json", {"hardware": hardware, "backend": "jax", "started": started,
                                               "ended": ended, "wall_s": wall})
    return path


def read(root, source="cached"):
    return [runs.read_run(p.parent, source) for p in sorted(pathlib.Path(root).glob("*/*/spec.json"))]


def full_set(root, l2_losses, dropout_losses, **kw):
    for reg, losses in (("l2", l2_losses), ("dropout", dropout_losses)):
        for method, final in zip(oc.experiments.METHODS, losses):
            write_mlp_run(root, reg, method, [2.5, 2.0, final], **kw)
    return oc.results(read(root))


def test_lowest_loss_method_is_named_from_the_data(tmp_path):
    found = full_set(tmp_path / "a", [1.5, 1.4, 1.3, 1.2, 1.1], [1.6, 1.7, 1.8, 1.9, 2.0])
    assert oc.lowest_loss(found, "l2").method == "adam"
    assert oc.lowest_loss(found, "dropout").method == "adagrad"
    text = " ".join(oc.discussion(found))
    assert "**With L2** (Problem 1.2)\n  - Lowest final training loss: **Adam**, 1.100 after 3 epochs." in text
    assert "**With dropout** (Problem 1.3)\n  - Lowest final training loss: **Adagrad**, 1.600" in text
    assert "The winner changes: Adam with L2, Adagrad with dropout." in text
    # Other runs, other words.
    found = full_set(tmp_path / "b", [1.1, 1.4, 1.3, 1.2, 1.5], [1.9, 1.7, 1.8, 1.6, 2.0])
    text = " ".join(oc.discussion(found))
    assert oc.lowest_loss(found, "l2").method == "adagrad" and oc.lowest_loss(found, "dropout").method == "adadelta"
    assert "Lowest final training loss: **Adagrad**, 1.100" in text
    assert "The winner changes: Adagrad with L2, AdaDelta with dropout." in text


def test_ranking_lists_every_method_in_loss_order(tmp_path):
    found = full_set(tmp_path, [1.5, 1.4, 1.3, 1.2, 1.1], [1.6, 1.7, 1.8, 1.9, 2.0])
    assert [r.method for r in oc.ranking(found, "l2")] == ["adam", "adadelta", "rmsprop_nesterov", "rmsprop",
                                                           "adagrad"]
    assert "\n  - Then AdaDelta 1.200, RMSProp + Nesterov 1.300, RMSProp 1.400, Adagrad 1.500.\n" in oc.discussion(found)[0]


def test_diverged_run_is_flagged_shown_and_left_out_of_the_ranking(tmp_path):
    floor = 0.9 * -math.log(1e-7)
    for method, final in zip(oc.experiments.METHODS, [1.5, 1.7, None, 1.8, 1.9]):
        if final is None:
            write_mlp_run(tmp_path, "dropout", method, [14.48, 14.5, floor], accs=[0.1, 0.1, 0.1], early_peak=14.7)
        else:
            write_mlp_run(tmp_path, "dropout", method, [2.2, 2.0, final], early_peak=12.0)
    found = oc.results(read(tmp_path))
    bad = [r for r in found if r.diverged]
    assert [r.method for r in bad] == ["rmsprop_nesterov"]
    assert bad[0].verdict.since == 1
    assert "far above the ln 10 = 2.30" in bad[0].verdict.reason and "from epoch 1 to 3" in bad[0].verdict.reason
    assert "rmsprop_nesterov" not in [r.method for r in oc.ranking(found, "dropout")]
    assert oc.lowest_loss(found, "dropout").method == "adagrad"
    table = oc.results_table(found)
    assert table.set_index("method").loc["RMSProp + Nesterov", "verdict"] == "diverged"
    text = oc.discussion(found)[0]
    assert "**RMSProp + Nesterov diverged**: at chance since epoch 1 (test accuracy 10.0%), final training loss " \
        "14.506 (guessing: ln 10 = 2.30)." in text and "left out of the ranking" in text
    assert "(1 − 0.100) × 16.118 = 14.506" in text          # the probability floor, read from the numbers
    assert "peaked at 12.0 (this one's: 14.7)" in text and "this one's never did" in text  # one value, once
    assert "μ = 0.9" in text and "1/(1 − μ) = 10" in text


def test_a_run_that_learned_then_collapsed_says_since_when(tmp_path):
    write_mlp_run(tmp_path, "dropout", "rmsprop_nesterov", [2.0, 1.8, 14.0, 14.5],
                  accs=[0.3, 0.35, 0.1, 0.1])
    write_mlp_run(tmp_path, "dropout", "adam", [2.0, 1.8, 1.7, 1.6])
    found = oc.results(read(tmp_path))
    bad = [r for r in found if r.diverged][0]
    assert bad.verdict.since == 3 and "from epoch 3 to 4" in bad.verdict.reason
    assert "learned at first and has been at chance since epoch 3" in oc.discussion(found)[0]


def test_nan_loss_is_diverged(tmp_path):
    write_mlp_run(tmp_path, "l2", "rmsprop", [2.0, float("nan")], accs=[0.3, 0.1])
    (found,) = oc.results(read(tmp_path))
    assert found.diverged and "epoch 2" in found.verdict.reason


def test_chance_level_run_learned_nothing_but_did_not_diverge(tmp_path):
    # The seed notebook's raw-pixel dropout runs: loss ln 10, accuracy 10 %.
    # It never blew up: its first batches were at ln 10 too.
    write_mlp_run(tmp_path, "dropout", "adam", [2.303, 2.3026], accs=[0.1, 0.1], early_peak=2.31)
    (found,) = oc.results(read(tmp_path))
    assert found.verdict.kind == "chance" and not found.diverged
    assert "learned nothing" in found.verdict.reason


def test_l2_loss_above_ln10_is_fine_while_the_model_learns(tmp_path):
    # With L2 the loss includes the penalty (about 2 at He initialisation): high but learning.
    write_mlp_run(tmp_path, "l2", "adadelta", [4.5, 4.0], accs=[0.3, 0.4])
    (found,) = oc.results(read(tmp_path))
    assert found.verdict.kind == "ok"


def test_results_hold_best_and_final_test_accuracy_and_times(tmp_path):
    write_mlp_run(tmp_path, "l2", "adam", [2.0, 1.5, 1.2, 1.1], accs=[0.3, 0.55, 0.5, 0.52],
                  epoch_s=[30.0, 2.0, 4.0, 3.0])
    (r,) = oc.results(read(tmp_path))
    assert (r.best_test_accuracy, r.best_epoch, r.final_test_accuracy) == (0.55, 2, 0.52)
    assert r.final_loss == 1.1 and r.epochs_done == 4
    assert r.wall_s == pytest.approx(39.0)
    assert r.epoch_s == pytest.approx(3.0)        # median of 2, 4, 3: the compiling first epoch left out
    assert r.first_epoch_s == pytest.approx(30.0)


def test_time_difference_is_dropout_minus_l2_per_method(tmp_path):
    for method, l2_s, drop_s in (("adagrad", 2.0, 2.5), ("adam", 4.0, 4.0)):
        write_mlp_run(tmp_path, "l2", method, [2.0, 1.5, 1.2], epoch_s=[9.0, l2_s, l2_s])
        write_mlp_run(tmp_path, "dropout", method, [2.0, 1.6, 1.4], epoch_s=[9.0, drop_s, drop_s])
    table = oc.time_differences(oc.results(read(tmp_path))).set_index("method")
    assert table.loc["Adagrad", "dropout − L2 (s/epoch)"] == pytest.approx(0.5)
    assert table.loc["Adagrad", "dropout − L2 (%)"] == pytest.approx(25.0)
    assert table.loc["Adagrad", "dropout − L2 wall-clock (s)"] == pytest.approx(1.0)
    assert table.loc["Adam", "dropout − L2 (%)"] == pytest.approx(0.0)


def test_time_sentence_follows_the_measured_difference(tmp_path):
    # Dropout clearly slower (30 %), the L2 runs agreeing among themselves within 1 %.
    for method, l2_s in zip(experiments.METHODS, [2.00, 2.01, 2.02, 2.00, 2.01]):
        write_mlp_run(tmp_path / "slow", "l2", method, [2.0, 1.5, 1.2], epoch_s=[9.0, l2_s, l2_s])
        write_mlp_run(tmp_path / "slow", "dropout", method, [2.0, 1.6, 1.4], epoch_s=[9.0, 1.3 * l2_s, 1.3 * l2_s])
    text = [p for p in oc.discussion(oc.results(read(tmp_path / "slow"))) if p.startswith("**Training time")][0]
    assert "dropout took +30.0% compared with L2" in text and "slower for 5 of 5" in text
    assert "Per method: +30.0%; slower" in text            # one value, once
    assert "Dropout made the epochs longer" in text
    # Differences smaller than the spread among runs doing the same work: not measurable.
    for method, l2_s in zip(experiments.METHODS, [2.0, 2.1, 2.2, 2.0, 2.1]):
        write_mlp_run(tmp_path / "same", "l2", method, [2.0, 1.5, 1.2], epoch_s=[9.0, l2_s, l2_s])
        write_mlp_run(tmp_path / "same", "dropout", method, [2.0, 1.6, 1.4], epoch_s=[9.0, l2_s + 0.02, l2_s + 0.02])
    text = [p for p in oc.discussion(oc.results(read(tmp_path / "same"))) if p.startswith("**Training time")][0]
    assert "within the spread among runs doing the same work (up to 10.0%)" in text
    assert "these timings cannot resolve dropout's cost" in text


def test_runs_trained_together_are_said_to_share_the_machine(tmp_path):
    write_mlp_run(tmp_path / "together", "l2", "adam", [2.0, 1.5], started="2025-01-01T10:00:00+00:00",
                  ended="2025-01-01T10:06:00+00:00")
    write_mlp_run(tmp_path / "together", "dropout", "adam", [2.0, 1.6], started="2025-01-01T10:00:05+00:00",
                  ended="2025-01-01T10:06:10+00:00")
    found = oc.results(read(tmp_path / "together"))
    assert set(oc.concurrent_with(found).values()) == {1}
    assert oc.sharing_note(found).startswith("All 2 runs trained at the same time on one 1 × NVIDIA H100")
    # One after the other: no sharing to report.
    write_mlp_run(tmp_path / "apart", "l2", "adam", [2.0, 1.5], started="2025-01-01T10:00:00+00:00",
                  ended="2025-01-01T10:06:00+00:00")
    write_mlp_run(tmp_path / "apart", "dropout", "adam", [2.0, 1.6], started="2025-01-01T10:07:00+00:00",
                  ended="2025-01-01T10:13:00+00:00")
    found = oc.results(read(tmp_path / "apart"))
    assert set(oc.concurrent_with(found).values()) == {0} and oc.sharing_note(found) is None
    # Same times on different machines do not share.
    write_mlp_run(tmp_path / "two", "l2", "adam", [2.0, 1.5], hardware=GPU)
    write_mlp_run(tmp_path / "two", "dropout", "adam", [2.0, 1.6], hardware=CPU)
    assert set(oc.concurrent_with(oc.results(read(tmp_path / "two"))).values()) == {0}


def test_discussion_compares_one_preset_at_a_time(tmp_path):
    write_mlp_run(tmp_path, "l2", "adam", [2.0, 1.5], preset="full")
    write_mlp_run(tmp_path, "l2", "adagrad", [2.0, 1.5], preset="class")
    with pytest.raises(ValueError, match="one preset at a time"):
        oc.discussion(oc.results(read(tmp_path)))


def test_unfinished_runs_are_said_to_be_so(tmp_path):
    write_mlp_run(tmp_path, "l2", "adam", [2.0, 1.5], epochs=15, preset="class", state="running")
    text = oc.discussion(oc.results(read(tmp_path)))[0]
    assert text.startswith("**Not final.** 1 of 1 runs have not finished\n  - L2/Adam at epoch 2 of 15 (running).")


def test_cached_set_prefers_full_and_never_mixes_presets(tmp_path):
    for method in ("adam", "adagrad"):
        write_mlp_run(tmp_path, "l2", method, [2.0, 1.5], preset="class")
    write_mlp_run(tmp_path, "dropout", "adam", [2.0, 1.5], preset="full")
    found = read(tmp_path)
    assert oc.cached_presets(found) == ["full", "class"]
    assert {r.preset for r in oc.cached_set(found)} == {"full"}
    assert [r.spec["name"] for r in oc.cached_set(found, "class")] == ["adagrad", "adam"]  # the SPEC's order


def test_latest_per_method_keeps_the_newest_of_each():
    def run(name, stamp, exp="mlp_l2", preset="class"):
        return runs.Run(pathlib.Path(f"/x/{exp}__{name}__{stamp}"), "live",
                        {"experiment": exp, "name": name, "preset": preset}, {}, {}, [])
    newest_first = [run("adam", "3"), run("adam", "2"), run("adagrad", "1"), run("adam", "0", "mlp_dropout")]
    kept = oc.latest_per_method(newest_first)
    assert [r.path.name for r in kept] == ["mlp_l2__adam__3", "mlp_l2__adagrad__1", "mlp_dropout__adam__0"]


def test_hyper_parameters_used_are_the_defaults_the_worker_builds():
    for method in experiments.METHODS:
        used = oc.hparams_used(method)
        assert set(used) == set(rules.HPARAMS[method])
        assert used == {**rules.DEFAULTS[method], **experiments.MLP_DEFAULTS[method]}
    assert oc.hparams_used("adam", {"learning_rate": 0.01})["learning_rate"] == 0.01
    assert oc.changed_hparams("adam", {"learning_rate": 0.01, "beta_1": 0.9}) == {"learning_rate": 0.01}


def test_where_the_defaults_differ_from_the_textbook_is_listed():
    differences = oc.default_differences()
    expected = [(m, h) for m in experiments.METHODS for h in rules.HPARAMS[m]
                if oc.hparams_used(m)[h] != rules.DEFAULTS[m][h]]
    assert len(differences) == len(expected) >= 1
    # Adagrad runs Keras's α = 0.001; the textbook's (and Keras 2's, PyTorch's) is 0.01.
    assert "Adagrad: α (learning_rate) = 0.001 here, textbook 0.01" in differences
    rows = {r["hyper-parameter"]: r for r in oc.hparam_rows("adagrad")}
    assert rows["learning_rate"]["differs"] and not rows["epsilon"]["differs"]


def test_changed_settings_label_a_run(tmp_path):
    write_mlp_run(tmp_path, "l2", "adam", [2.0, 1.5], preset="class",
                  spec_changes={"optimizer": {"learning_rate": 0.01}, "batch_size": 256})
    (r,) = oc.results(read(tmp_path))
    assert r.settings == ("α = 0.01", "batch 256") and r.title == "Adam (α = 0.01, batch 256)"
    assert r.hparams["learning_rate"] == 0.01 and r.hparams["beta_2"] == 0.999


FULL = ROOT / "cached_runs"


@pytest.mark.skipif(not (FULL / "mlp_dropout" / "rmsprop_nesterov__full").is_dir(),
                    reason="the cached full MLP runs are not in this checkout")
def test_cached_full_runs_flag_rmsprop_nesterov_with_dropout_as_diverged():
    shipped = [runs.read_run(p.parent, "cached") for exp in ("mlp_l2", "mlp_dropout")
               for p in sorted((FULL / exp).glob("*__full/spec.json"))]
    found = oc.results(shipped)
    assert len(found) == 10 and all(r.epochs_done == 200 and r.complete for r in found)
    assert [(r.regularizer, r.method) for r in found if r.diverged] == [("dropout", "rmsprop_nesterov")]
    assert all(r.verdict.kind == "ok" for r in found if not r.diverged)
    # They were trained together on one GPU: each run's wall-clock includes the other nine.
    assert set(oc.concurrent_with(found).values()) == {9}
    text = " ".join(oc.discussion(found))
    assert "RMSProp + Nesterov diverged" in text and "All 10 runs trained at the same time" in text


def test_a_run_without_a_finished_epoch_is_pending(tmp_path):
    write_mlp_run(tmp_path, "l2", "adam", [], epochs=15, preset="class", state="queued")
    (r,) = oc.results(read(tmp_path))
    assert r.verdict.kind == "pending" and r.final_loss is None and r.epochs_done == 0
    text = " ".join(oc.discussion([r]))
    assert "No run has finished an epoch yet." in text and "Where the times come from" not in text


def test_provenance_says_preset_hardware_backend_wall_clock_and_dates(tmp_path):
    write_mlp_run(tmp_path, "l2", "adam", [2.0, 1.5], preset="class", epoch_s=[30.0, 45.0])
    write_mlp_run(tmp_path, "dropout", "adam", [2.0, 1.5], preset="full", hardware=CPU)
    table = oc.provenance_table(oc.results(read(tmp_path))).set_index("run")
    assert table.loc["mlp_l2/adam", "preset"] == "class (shortened)"
    assert table.loc["mlp_l2/adam", "notes"].startswith("class preset:")
    assert table.loc["mlp_l2/adam", "wall-clock"] == "1 min 15 s"
    assert table.loc["mlp_dropout/adam", "preset"] == "full" and table.loc["mlp_dropout/adam", "notes"] == ""
    assert table.loc["mlp_dropout/adam", "hardware"] == "CPU (2 cores)"
    assert table.loc["mlp_dropout/adam", "started"] == "2025-01-01 10:00:00"
    assert set(table["backend"]) == {"jax"}


def test_a_near_tie_is_called_a_tie_not_a_win(tmp_path):
    write_mlp_run(tmp_path / "tie", "l2", "adam", [2.0, 1.100])
    write_mlp_run(tmp_path / "tie", "l2", "adadelta", [2.0, 1.105])
    text = oc.discussion(oc.results(read(tmp_path / "tie")))[0]
    assert "Margin to the second (AdaDelta): 0.005, a tie at this length." in text
    write_mlp_run(tmp_path / "win", "l2", "adam", [2.0, 1.100])
    write_mlp_run(tmp_path / "win", "l2", "adadelta", [2.0, 1.200])
    text = oc.discussion(oc.results(read(tmp_path / "win")))[0]
    assert "Margin to the second (AdaDelta): 0.100." in text and "tie" not in text


def test_a_range_of_one_value_is_written_as_one_value():
    assert oc.value_range([2.31, 2.29], ".1f") == "2.3"
    assert oc.value_range([2.1, 2.6], ".1f") == "2.1–2.6"


def test_a_run_that_blew_up_in_its_first_batches_and_then_sat_at_chance_diverged(tmp_path):
    # mlp_dropout/adadelta in the class preset: a batch loss of 5.77, an epoch mean of 3.2, then ln 10.
    write_mlp_run(tmp_path, "dropout", "adadelta", [3.2, 2.31, 2.31], accs=[0.1, 0.1, 0.1], early_peak=5.77)
    (found,) = oc.results(read(tmp_path))
    assert found.diverged and "5.77 in a logged batch of epoch 1" in found.verdict.reason


def test_the_discussion_is_short_points_under_headings(tmp_path):
    found = full_set(tmp_path, [1.5, 1.4, 1.3, 1.2, 1.1], [1.6, 1.7, 1.8, 1.9, 2.0])
    parts = oc.discussion(found)
    assert [p.split("\n")[0] for p in parts] == [
        "**With L2** (Problem 1.2)", "**With dropout** (Problem 1.3)", "**L2 vs dropout, training loss**",
        "**Test accuracy**", "**Training time with and without dropout**", "**Where the times come from**"]
    for part in parts:
        points = part.split("\n")[1:]
        assert points and all(p.startswith("  - ") for p in points)
        # One claim a point: about a line at 1440 px (some 130 characters).
        assert all(len(p) <= 130 for p in points), [p for p in points if len(p) > 130]
    accuracy = parts[3]
    assert "Best with L2: Adam, **83.3%**" not in accuracy  # the numbers are the runs', not a fixed text
    best = oc.best_test(found, "l2")
    assert f"Best with L2: {best.title}, **{best.best_test_accuracy:.1%}** (epoch {best.best_epoch}" in accuracy
