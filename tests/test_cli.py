"""python -m dlcore.run: honest exit codes and messages (no training here but what a test names)."""
import json

import pytest

from dlcore.engine import checkpoints, cli, experiments, runs


def run_cli(capsys, *argv):
    try:
        code = cli.main(list(argv))
    except SystemExit as exit_:
        code = exit_.code
    captured = capsys.readouterr()
    return code, captured.out + captured.err


def test_a_typo_in_only_is_an_error_listing_the_valid_names(tmp_path, capsys):
    code, text = run_cli(capsys, "resnet", "batch_augmentation", "--preset", "smoke", "--only", "M1,M44",
                         "--out", str(tmp_path), "--dry-run")
    assert code == 2
    assert "M44" in text and all(name in text for name in ("M1", "M2", "M4", "M8", "M16"))
    assert not any(tmp_path.iterdir())


def test_an_unknown_experiment_is_an_error_listing_the_valid_names(tmp_path, capsys):
    code, text = run_cli(capsys, "resnett", "--preset", "smoke", "--out", str(tmp_path))
    assert code == 2 and "resnett" in text
    assert all(name in text for name in experiments.CATALOGUE)


@pytest.mark.parametrize("where", ["a file", "below a file"])
def test_a_bad_out_is_a_message_not_a_traceback(tmp_path, capsys, where):
    blocker = tmp_path / "not_a_folder"
    blocker.write_text("x")
    out = blocker if where == "a file" else blocker / "runs"
    code, text = run_cli(capsys, "mlp_l2", "--preset", "smoke", "--out", str(out))
    assert code == 2 and str(out) in text and "Traceback" not in text


def test_runs_the_deadline_kept_from_starting_are_not_left_queued(tmp_path, capsys):
    # A run cut short earlier, with its checkpoint, and one never started.
    spec_done_before, spec_new = experiments.catalogue("resnet", "smoke")[0], experiments.catalogue("mlp_l2", "smoke")[0]
    earlier = cli.run_dir_for(tmp_path, spec_done_before)
    earlier.mkdir(parents=True)
    runs.write_json(earlier / "spec.json", spec_done_before.to_dict())
    runs.write_json(earlier / "status.json", {"state": "cancelled", "epoch": 1, "epochs": 2})
    (earlier / "checkpoint-e0001.npz").write_bytes(b"PK")
    code, text = run_cli(capsys, "resnet", "mlp_l2", "--preset", "smoke", "--only", "M1,adam",
                         "--out", str(tmp_path), "--deadline", "0")
    assert code == cli.EXIT_UNFINISHED == 3
    assert text.count("not started (deadline)") == 2
    assert json.loads((earlier / "status.json").read_text())["state"] == "cancelled"
    assert (earlier / "checkpoint-e0001.npz").exists()
    assert not cli.run_dir_for(tmp_path, spec_new).exists()


def test_exit_codes_say_what_ran():
    assert cli.exit_code({"a": "finished", "b": "finished"}) == cli.EXIT_FINISHED
    assert cli.exit_code({"a": "finished", "b": "cancelled"}) == cli.EXIT_UNFINISHED
    assert cli.exit_code({"a": "not started", "b": "finished"}) == cli.EXIT_UNFINISHED
    assert cli.exit_code({"a": "failed", "b": "not started"}) == cli.EXIT_FAILED
    assert cli.exit_code({}) == cli.EXIT_FINISHED


def test_a_run_cut_short_continues_with_other_execution_settings(tmp_path):
    spec = experiments.catalogue("resnet", "smoke")[0]
    run_dir = cli.prepare_dir(tmp_path, spec, force=False)
    runs.update_status(run_dir, state="cancelled", epoch=1)
    (run_dir / "cancel").touch()
    (run_dir / checkpoints.checkpoint_name(1)).write_bytes(b"PK")
    again = cli.prepare_dir(tmp_path, spec.replace(steps_per_execution=8), force=False)
    status = runs.read_json(again / "status.json")
    assert again == run_dir and status["state"] == "queued" and status["epoch"] == 1
    assert not (run_dir / "cancel").exists() and checkpoints.latest_checkpoint(run_dir)[0] == 1
    with pytest.raises(SystemExit, match="different spec"):
        cli.prepare_dir(tmp_path, spec.replace(batch_size=32), force=False)


def test_finished_runs_are_skipped(tmp_path):
    spec = experiments.catalogue("mlp_l2", "smoke")[0]
    run_dir = cli.prepare_dir(tmp_path, spec, force=False)
    runs.update_status(run_dir, state="finished")
    assert cli.pending(tmp_path, [spec], force=False) == []
    assert cli.pending(tmp_path, [spec], force=True) == [spec]
