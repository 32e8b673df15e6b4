"""How far each full run has got: the table the Runs page and the experiment pages show."""
from dlcore.engine import checkpoints, cli, experiments, runs
from dlcore.results import full_run_progress


def write_run(root, spec, state, epochs, checkpoint=False):
    folder = cli.run_dir_for(root, spec)
    folder.mkdir(parents=True)
    runs.write_json(folder / "spec.json", spec.to_dict())
    runs.write_json(folder / "status.json", {"state": state, "epoch": len(epochs), "epochs": spec.epochs})
    for epoch, acc in enumerate(epochs, 1):
        runs.append_jsonl(folder / "metrics.jsonl", {"event": "epoch", "epoch": epoch, "val_accuracy": acc,
                                                     "loss": 1.0, "wall_s": float(epoch)})
    if checkpoint:
        (folder / checkpoints.checkpoint_name(len(epochs))).write_bytes(b"PK")


def test_each_full_run_says_how_far_it_got_and_what_comes_next(tmp_path):
    m1, m2, m4, m8, m16 = [*experiments.catalogue("resnet", "full"), *experiments.catalogue("batch_augmentation", "full")]
    write_run(tmp_path, m1, "cancelled", [0.5, 0.7, 0.65], checkpoint=True)
    write_run(tmp_path, m2, "cancelled", [0.4, 0.6])
    write_run(tmp_path, m4, "finished", [0.9, 0.93])
    table = full_run_progress.full_run_progress(["resnet", "batch_augmentation"], root=tmp_path)
    rows = {r["run"]: r for r in table.to_dict("records")}
    assert list(rows) == [s.label for s in (m1, m2, m4, m8, m16)]
    assert (rows[m1.label]["epochs done"], rows[m1.label]["epochs planned"]) == (3, 100)
    assert rows[m1.label]["best test accuracy"] == 0.7
    assert rows[m1.label]["where it stands"] == "cut short — continues on the next machine"
    assert "again from epoch 0" in rows[m2.label]["where it stands"]
    assert rows[m4.label]["where it stands"] == "finished" and rows[m4.label]["best test accuracy"] == 0.93
    assert rows[m8.label]["epochs done"] == 0 and "not run yet" in rows[m8.label]["where it stands"]


def test_the_runs_page_shows_how_far_each_full_run_has_got(run_roots):
    import pathlib

    from streamlit.testing.v1 import AppTest

    _, cached = run_roots
    m1 = experiments.catalogue("resnet", "full")[0]
    write_run(cached, m1, "cancelled", [0.5, 0.7, 0.65], checkpoint=True)
    page = pathlib.Path(__file__).resolve().parents[1] / "app_pages" / "runs.py"
    at = AppTest.from_file(str(page), default_timeout=60).run()
    assert not at.exception, at.exception
    (table,) = [d.value for d in [*at.dataframe, *at.table] if "where it stands" in d.value.columns]
    row = table[table["run"] == m1.label].iloc[0]
    assert (row["epochs done"], row["epochs planned"]) == (3, 100)
    assert row["where it stands"] == "cut short — continues on the next machine"
    assert len(table) == len(cli.plan(["all"], "full"))
