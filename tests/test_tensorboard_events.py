"""TensorBoard event files: every run writes them, tensorboard's own reader loads them."""
import json

import pytest

pytest.importorskip("tensorboard", reason="the tensorboard package is not installed")
from tensorboard.backend.event_processing import event_accumulator, plugin_event_multiplexer  # noqa: E402
from tensorboard.util import tensor_util  # noqa: E402

from dlcore.engine import cli, experiments, jobs, runs, tensorboard_events, worker  # noqa: E402
from dlcore.engine.experiments import Spec  # noqa: E402


def smoke_spec(**changes) -> Spec:
    base = dict(experiment="mlp_l2", name="adam", preset="smoke", dataset="synthetic_cifar10",
                model={"name": "mlp", "regularizer": "l2", "l2": 5e-4, "hidden": 32},
                optimizer={"name": "adam", "learning_rate": 1e-3}, epochs=3, batch_size=32, log_every=2)
    base.update(changes)
    return Spec.from_dict(base)


def scalars(run_dir) -> dict:
    """{tag: [(step, value, wall_time)]} as TensorBoard reads the run folder's event files."""
    acc = event_accumulator.EventAccumulator(str(run_dir / tensorboard_events.EVENTS_DIR),
                                             size_guidance={event_accumulator.SCALARS: 0})
    acc.Reload()
    return {tag: [(e.step, e.value, e.wall_time) for e in acc.Scalars(tag)] for tag in acc.Tags()["scalars"]}


def write_folder(run_dir, records, started="2026-11-30T10:00:00+00:00", spec=None):
    run_dir.mkdir(parents=True)
    runs.write_json(run_dir / "spec.json", (spec or smoke_spec()).to_dict())
    runs.write_json(run_dir / "status.json", {"state": "finished", "started": started})
    runs.write_json(run_dir / "provenance.json", {"started": started})
    (run_dir / "metrics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records))


def epoch_line(epoch, loss, wall_s):
    return {"event": "epoch", "epoch": epoch, "loss": loss, "accuracy": 0.5, "val_loss": loss + 0.1,
            "val_accuracy": 0.4, "lr": 1e-3, "batch_size": 32, "images_per_s": 100.0, "wall_s": wall_s}


@pytest.mark.slow
def test_a_live_run_writes_events_tensorboard_reads(runs_dir):
    run_dir = jobs.create(smoke_spec(epochs=3))
    assert worker.run(run_dir) == "finished", runs.read_json(run_dir / "status.json")
    run = runs.read_run(run_dir, "live")
    epochs, batches = run.epochs(), run.batches()
    tb = scalars(run_dir)
    assert {"epoch/loss", "epoch/accuracy", "epoch/val_loss", "epoch/val_accuracy", "epoch/lr",
            "epoch/batch_size", "epoch/images_per_s", "batch/loss", "batch/accuracy", "batch/lr",
            "batch/batch_size", "batch/images_per_s"} <= set(tb)
    assert [s for s, _, _ in tb["epoch/loss"]] == [1, 2, 3]
    assert [v for _, v, _ in tb["epoch/loss"]] == pytest.approx(list(epochs["loss"]), rel=1e-6)
    assert [v for _, v, _ in tb["epoch/val_accuracy"]] == pytest.approx(list(epochs["val_accuracy"]), rel=1e-6)
    assert [s for s, _, _ in tb["batch/loss"]] == list(batches["step"])
    assert [v for _, v, _ in tb["batch/loss"]] == pytest.approx(list(batches["loss"]), rel=1e-6)
    assert all(v > 0 for _, v, _ in tb["batch/images_per_s"])
    walls = [w for _, _, w in tb["epoch/loss"]]
    assert walls == sorted(walls) and walls[0] >= tensorboard_events.start_time(run_dir)

    # The converter (what cached runs get) writes the same file over the live one.
    live = scalars(run_dir)
    tensorboard_events.write_events(run_dir)
    assert len(list((run_dir / "tensorboard").glob("events.out.tfevents.*"))) == 1
    assert scalars(run_dir) == live


def test_records_a_resume_superseded_are_left_out(tmp_path):
    run_dir = tmp_path / "run"
    write_folder(run_dir, [epoch_line(1, 2.0, 10.0), epoch_line(2, 1.5, 20.0), epoch_line(3, 9.9, 30.0),
                           {"event": "resume", "epoch": 2}, epoch_line(3, 1.2, 30.5)])
    tensorboard_events.write_events(run_dir)
    tb = scalars(run_dir)
    assert [(s, v) for s, v, _ in tb["epoch/loss"]] == [(1, 2.0), (2, 1.5), (3, pytest.approx(1.2))]
    t0 = tensorboard_events.start_time(run_dir)
    assert [w - t0 for _, _, w in tb["epoch/loss"]] == pytest.approx([10.0, 20.0, 30.5])


def test_batch_images_per_s_counts_from_the_previous_line():
    scalars_of = tensorboard_events.Scalars()
    lines = [epoch_line(1, 2.0, 10.0),
             {"event": "batch", "epoch": 2, "batch": 4, "step": 12, "loss": 1.0, "batch_size": 32, "wall_s": 12.0},
             {"event": "batch", "epoch": 2, "batch": 8, "step": 16, "loss": 0.9, "batch_size": 32, "wall_s": 13.0}]
    points = [scalars_of.point(r) for r in lines]
    assert points[1][0] == 12 and points[1][2]["batch/images_per_s"] == pytest.approx(4 * 32 / 2.0)
    assert points[2][2]["batch/images_per_s"] == pytest.approx(4 * 32 / 1.0)
    assert "batch/accuracy" not in points[1][2]  # missing or NaN metrics are not invented


def test_follower_adds_complete_lines_only(tmp_path):
    run_dir = tmp_path / "run"
    write_folder(run_dir, [epoch_line(1, 2.0, 10.0)])
    follower = tensorboard_events.Follower(run_dir)
    with open(run_dir / "metrics.jsonl", "a") as f:
        f.write(json.dumps(epoch_line(2, 1.5, 20.0)) + "\n" + '{"event": "epoch", "epo')
    assert follower.poll() == 1
    with open(run_dir / "metrics.jsonl", "a") as f:
        f.write('ch": 3, "loss": 1.0, "wall_s": 30.0}\n')
    assert follower.poll() == 1 and follower.poll() == 0
    assert [(s, v) for s, v, _ in scalars(run_dir)["epoch/loss"]] == [(1, 2.0), (2, 1.5), (3, 1.0)]


def test_the_project_command_converts_existing_run_folders(tmp_path, capsys):
    out = tmp_path / "cached"
    spec = experiments.catalogue("mlp_l2", "smoke")[0]
    write_folder(cli.run_dir_for(out, spec), [epoch_line(1, 2.0, 10.0), epoch_line(2, 1.0, 20.0)], spec=spec)
    other = experiments.catalogue("mlp_l2", "smoke")[1]  # left alone: not asked for
    write_folder(cli.run_dir_for(out, other), [epoch_line(1, 2.0, 10.0)], spec=other)
    assert cli.main(["mlp_l2", "--preset", "smoke", "--out", str(out), "--only", spec.name,
                     "--tensorboard-only"]) == 0
    assert "wrote" in capsys.readouterr().out
    assert not (cli.run_dir_for(out, other) / tensorboard_events.EVENTS_DIR).exists()
    # What `tensorboard --logdir OUT` does: find every run folder's events under the root.
    mux = plugin_event_multiplexer.EventMultiplexer().AddRunsFromDirectory(str(out))
    mux.Reload()
    name = f"mlp_l2/{runs.safe_name(spec.name)}__smoke/tensorboard"
    assert name in mux.Runs()
    # The scalars dashboard reads simple values as tensors.
    assert [float(tensor_util.make_ndarray(e.tensor_proto)) for e in mux.Tensors(name, "epoch/loss")] == [2.0, 1.0]


def test_without_the_tensorboard_package_a_run_trains_without_events(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(tensorboard_events, "available", lambda: False)
    assert tensorboard_events.callbacks(tmp_path) == []
    assert "--tensorboard-only" in capsys.readouterr().out
    assert not (tmp_path / tensorboard_events.EVENTS_DIR).exists()
