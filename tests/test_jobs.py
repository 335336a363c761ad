"""Tests for aecore.jobs: background training, stop, failures reported as messages."""

import pytest

from aecore.cache import ModelCache
from aecore.config import ModelConfig
from aecore.jobs import TrainingJob

CFG = ModelConfig(kind="ae", arch="dense", latent_dim=2, epochs=2, hidden_units=(16,), batch_size=64)


def test_job_trains_in_the_background_then_serves_the_cache(mnist_small, tmp_path):
    job = TrainingJob(CFG, lambda: mnist_small, ModelCache(tmp_path)).start()
    assert job.wait(120) and job.state == "done" and not job.cached
    assert job.latest is not None and job.latest.phase == "end"
    assert len(job.history["loss"]) == 2
    again = TrainingJob(CFG, lambda: mnist_small, ModelCache(tmp_path)).start()
    assert again.wait(60) and again.cached and again.entry.key == job.entry.key


def test_stop_ends_a_long_job_early(mnist_small, tmp_path):
    job = TrainingJob(CFG.replace(epochs=500, patience=0), lambda: mnist_small, ModelCache(tmp_path)).start()
    while job.latest is None:
        assert job.running, job.error
        job.wait(0.1)
    job.stop()
    assert job.wait(60) and job.state == "stopped"
    # A stop inside an epoch leaves that epoch uncounted: a stop in epoch 1 has no epoch in its history yet.
    assert len(job.history.get("loss", [])) == job.entry.epochs_done < 500
    assert job.entry.status().startswith("stopped by you") and job.entry.resumable


def test_failures_become_messages(tmp_path):
    def no_data():
        raise ValueError("Expected a dataset name in ('mnist', ...), received 'nope'.")

    job = TrainingJob(CFG, no_data, ModelCache(tmp_path)).start()
    assert job.wait(10) and job.state == "failed" and "received 'nope'" in job.error
    with pytest.raises(ValueError, match="Expected a ModelConfig"):
        TrainingJob({"kind": "ae"}, no_data)


def test_start_training_off_the_cluster_trains_in_a_thread_and_is_found_by_id(mnist_small, tmp_path, monkeypatch):
    from aecore.jobs import ClusterJob, get_job, start_training

    monkeypatch.setenv("AECORE_CLUSTER", "off")
    job = start_training(CFG, mnist_small, ModelCache(tmp_path))  # a Dataset serves as well as a function
    assert type(job) is TrainingJob and not isinstance(job, ClusterJob)
    assert get_job(job.id) is job and job.queue_position == 0 and get_job("0" * 24) is None
    assert job.wait(120) and job.state == "done" and job.key == job.entry.key


def test_bad_dataset_sources_become_messages(mnist_small, tmp_path):
    from aecore.data import save_dataset
    from aecore.jobs import ClusterJob

    job = ClusterJob(CFG, {"file": "/etc/passwd"}, ModelCache(tmp_path), client=object()).start()
    assert job.wait(10) and job.state == "failed" and "Expected a dataset source with the keys" in job.error
    (tmp_path / "fake.npz").write_text("not a dataset")
    job = TrainingJob(CFG, {"path": str(tmp_path / "fake.npz")}, ModelCache(tmp_path)).start()
    assert job.wait(10) and job.state == "failed" and "Expected an aecore dataset file" in job.error
    saved = save_dataset(mnist_small, tmp_path / "digits.npz")  # a saved file, as the workspace keeps uploads
    job = TrainingJob(CFG, {"path": str(saved), "fingerprint": "0" * 16}, ModelCache(tmp_path)).start()
    assert job.wait(10) and job.state == "failed" and "replaced since the job was submitted" in job.error
