"""Data-parallel training (keras.distribution.DataParallel on JAX): same curve as one device."""
import os
import subprocess
import sys

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from dlcore.engine import data_parallel, jobs, runs
from smoke_runs import smoke_spec  # tests/smoke_runs.py


@given(st.integers(1, 16), st.sets(st.integers(1, 600), min_size=1, max_size=4))
def test_the_device_count_used_divides_every_batch(asked, sizes):
    used = data_parallel.usable_devices(asked, sizes)
    assert 1 <= used <= asked and all(s % used == 0 for s in sizes)
    assert not any(all(s % d == 0 for s in sizes) for d in range(used + 1, asked + 1))


def test_batch_sizes_include_the_last_short_batch_and_validation():
    spec = smoke_spec(batch_size=48)
    assert data_parallel.batch_sizes(spec, 256, 64) == {48, 256 % 48, 64}
    assert data_parallel.batch_sizes(spec, 256, 10_000) == {48, 16, 512, 10_000 % 512}
    m4 = smoke_spec(augment={"name": "batch_augment", "M": 4})
    assert data_parallel.batch_sizes(m4, 256, 64) == {128, 64}  # M copies of each sample in a batch


def test_one_device_unless_asked_and_possible():
    spec = smoke_spec()
    assert data_parallel.plan(spec, 256, 64, "jax", 8, setting=None)["devices"] in (1, 8)  # the environment's
    assert data_parallel.plan(spec, 256, 64, "jax", 8, setting="1") == {"devices": 1, "asked": 1, "note": None}
    assert data_parallel.plan(spec, 256, 64, "jax", 8, setting="all")["devices"] == 8
    assert data_parallel.plan(spec, 256, 64, "jax", 2, setting="8")["devices"] == 2  # no more than there are
    odd = data_parallel.plan(smoke_spec(batch_size=33), 256, 64, "jax", 2, setting="2")
    assert odd["devices"] == 1 and "split evenly" in odd["note"]
    tf = data_parallel.plan(spec, 256, 64, "tensorflow", 2, setting="2")
    assert tf["devices"] == 1 and "JAX" in tf["note"]
    with pytest.raises(ValueError, match="DLCORE_DEVICES"):
        data_parallel.requested_devices(2, "two")


def train_in_subprocesses(run_dirs: dict) -> None:
    """Train each run folder of {devices: run_dir} in its own `python -m dlcore.train`, all at once
    (their start-ups, mostly imports, overlap); each sees two CPU devices and uses `devices` of them."""
    procs = {}
    for devices, run_dir in run_dirs.items():
        env = dict(os.environ, KERAS_BACKEND="jax", XLA_FLAGS="--xla_force_host_platform_device_count=2",
                   DLCORE_DEVICES=str(devices), JAX_PLATFORMS="cpu", TF_CPP_MIN_LOG_LEVEL="2")
        procs[devices] = subprocess.Popen([sys.executable, "-m", "dlcore.train", str(run_dir)], cwd=runs.REPO,
                                          env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        for devices, proc in procs.items():
            output, _ = proc.communicate(timeout=300)
            assert proc.returncode == 0, f"{devices} device(s): {output[-6000:]}"
    finally:
        for proc in procs.values():
            if proc.poll() is None:
                proc.kill()
                proc.communicate()


@pytest.mark.slow
def test_two_cpu_devices_follow_the_one_device_loss_curve(tmp_path):
    pytest.importorskip("jax", reason="data parallelism needs JAX")
    run_dirs = {devices: jobs.create(smoke_spec(), root=tmp_path / f"d{devices}") for devices in (1, 2)}
    train_in_subprocesses(run_dirs)
    curves = {}
    for devices, run_dir in run_dirs.items():
        run = runs.read_run(run_dir, "live")
        assert run.state == "finished"
        assert run.provenance["devices"] == devices and run.provenance["backend"] == "jax"
        assert run.provenance["hardware"]["devices_available"] == 2
        curves[devices] = (run.epochs(), run.batches())
    (e1, b1), (e2, b2) = curves[1], curves[2]
    assert len(e1) == len(e2) == 3
    # Float noise only: the gradient of a batch is the mean of its two shards' gradients.
    # (Batch lines are compared where both runs wrote one: on JAX the Recorder's batch ends
    # run beside the steps, and one that arrives late writes no line.)
    both = b1.merge(b2, on="step", suffixes=("_1", "_2"))
    assert len(both) >= 6
    np.testing.assert_allclose(both["epoch_mean_loss_2"], both["epoch_mean_loss_1"], rtol=1e-4)
    np.testing.assert_allclose(e2["loss"], e1["loss"], rtol=1e-4)
    np.testing.assert_allclose(e2["val_loss"], e1["val_loss"], rtol=1e-4)
    assert e1["loss"].iloc[-1] < e1["loss"].iloc[0]  # it trained: the curves are not two flat lines
