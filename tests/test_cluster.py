"""Training through a real Dask cluster (aecore.cluster, aecore.jobs.ClusterJob), and the dataset files workers read.

A module-scoped local cluster (a scheduler in this process and two worker
processes, on 127.0.0.1, started through Dask's own API) trains tiny models
on real digits: progress, stop and resume, the NaN guard, a worker killed
mid-training, and the queue of the embedded cluster with one training slot.
"""

import json
import math
import os
import signal
import threading
import time
import zipfile

import numpy as np
import psutil
import pytest

from aecore import cluster
from aecore.cache import ModelCache
from aecore.config import ModelConfig
from aecore.data import dataset_from_arrays, load_dataset_file, save_dataset
from aecore.jobs import ClusterJob, TrainingJob, get_job

TINY = ModelConfig(kind="ae", arch="dense", latent_dim=2, epochs=3, hidden_units=(16,), batch_size=64)
SLOW = TINY.replace(batch_size=4, epochs=300, patience=0, limit=200)  # 40 batches an epoch, long: stoppable


@pytest.fixture(scope="module")
def client():
    import sys
    import types

    from distributed import Client, LocalCluster

    # Worker processes start with multiprocessing's "spawn", which runs the parent's __main__ file again. After a
    # page test, Streamlit's AppTest has left a page script as __main__ in this process: hide it while the
    # cluster lives (the app avoids this by running its embedded cluster in a helper process of its own).
    main = sys.modules["__main__"]
    sys.modules["__main__"] = types.ModuleType("__main__")
    with LocalCluster(n_workers=2, processes=True, threads_per_worker=1, host="127.0.0.1", dashboard_address=None,
                      resources={cluster.RESOURCE: 1}, scheduler_kwargs={"allowed_failures": 0}) as lc, \
            Client(lc, set_as_default=False) as c:
        cluster.prepare_client(c)
        c.run(lambda: __import__("tensorflow") and None)  # both workers import TensorFlow now, side by side
        yield c
    sys.modules["__main__"] = main


def wait_for(condition, timeout=60.0, job=None):
    end = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < end, f"timed out; job state {job and job.state}, error {job and job.error}"
        assert job is None or job.running or condition(), f"job ended: {job.state}, {job.error}"
        time.sleep(0.05)


def temporaries(root):
    return sorted(p.name for p in root.rglob("*.tmp"))


def test_trains_in_a_worker_process_with_live_progress(client, mnist_small, tmp_path):
    events = []
    job = ClusterJob(TINY, lambda: mnist_small, ModelCache(tmp_path), client=client, callbacks=[events.append]).start()
    assert get_job(job.id) is job and len(job.id) == 24
    assert job.wait(120) and job.state == "done", job.error
    assert not job.cached and job.worker_pid not in (None, os.getpid())
    assert job.entry.key == TINY.replace(dataset_fingerprint=mnist_small.fingerprint).key() == job.key
    assert (tmp_path / f"{job.entry.key}.npz").is_file() and ModelCache(tmp_path).info(job.entry.key).complete
    assert (tmp_path / "datasets" / f"{mnist_small.fingerprint}.npz").is_file()  # what the worker read
    phases = [e.phase for e in events]
    assert phases.count("epoch") == 3 and phases[-1] == "end" and job.latest is events[-1]
    assert [e.epoch for e in events if e.phase == "epoch"] == [1, 2, 3]
    assert len(job.history["loss"]) == len(job.history["val_loss"]) == 3
    assert all(math.isfinite(v) for v in job.history["loss"] + job.history["val_loss"])
    assert job.history["val_loss"][-1] < job.history["val_loss"][0]
    local = TrainingJob(TINY, lambda: mnist_small, ModelCache(tmp_path / "local")).start()  # the same run in-process
    assert local.wait(120) and local.entry.key == job.entry.key
    assert job.history.keys() == local.history.keys() and all(type(v) is list for v in job.history.values())
    for k, v in local.history.items():
        assert job.history[k] == pytest.approx(v, rel=1e-4), k
    assert client.run(os.getpriority, os.PRIO_PROCESS, 0, workers=[job.worker])[job.worker] >= cluster.DEFAULT_NICE
    assert client.run(os.sched_getscheduler, 0, workers=[job.worker])[job.worker] == os.SCHED_IDLE  # at nice 19

    # The same config from a built-in name (loaded by the worker): the same key, served from the cache.
    again = ClusterJob(TINY, {"builtin": "mnist", "limit": 600}, ModelCache(tmp_path), client=client).start()
    assert again.wait(60) and again.state == "done" and again.cached and again.entry.key == job.entry.key
    assert temporaries(tmp_path) == []


def test_stop_keeps_the_run_and_resume_continues_it(client, mnist_small, tmp_path):
    cache = ModelCache(tmp_path)
    job = ClusterJob(SLOW, lambda: mnist_small, cache, client=client).start()
    wait_for(lambda: job.latest is not None and job.latest.phase == "epoch", job=job)
    job.stop()
    assert job.wait(60) and job.state == "stopped", job.error
    first = job.entry
    assert first.resumable and first.status().startswith("stopped by you") and 1 <= first.epochs_done < SLOW.epochs

    events = []
    resumed = ClusterJob(SLOW, lambda: mnist_small, cache, resume=True, client=client,
                         callbacks=[events.append]).start()
    wait_for(lambda: any(e.phase == "epoch" for e in events), job=resumed)
    resumed.stop()
    assert resumed.wait(60) and resumed.state == "stopped", resumed.error
    assert events[0].epoch == first.epochs_done + 1  # continued where it stopped, not from epoch 1
    assert events[0].history["loss"] == first.history["loss"]  # the live curve starts with the earlier epochs
    assert resumed.entry.epochs_done > first.epochs_done
    assert resumed.history["loss"][:first.epochs_done] == first.history["loss"]


def test_the_nan_guard_reaches_the_app_with_its_message(client, mnist_small, tmp_path):
    cfg = ModelConfig(kind="vae", arch="dense", latent_dim=2, epochs=3, learning_rate=1.0, hidden_units=(256,),
                      batch_size=64)
    digits = mnist_small.subset(np.arange(300))
    remote = ClusterJob(cfg, lambda: digits, ModelCache(tmp_path), client=client).start()
    local = TrainingJob(cfg, lambda: digits, ModelCache(tmp_path / "local")).start()
    assert remote.wait(120) and local.wait(120)
    assert remote.state == local.state == "failed"
    assert remote.error.startswith("Training diverged at epoch") and "learning rate" in remote.error
    assert remote.error == local.error
    assert list(tmp_path.glob("*.npz")) == []


def test_a_killed_worker_fails_its_job_and_the_next_job_runs(client, mnist_small, tmp_path):
    cache = ModelCache(tmp_path)
    job = ClusterJob(SLOW, lambda: mnist_small, cache, client=client).start()
    wait_for(lambda: job.latest is not None, job=job)
    pid = client.run(os.getpid)[job.worker]
    assert pid == job.worker_pid
    half_written = tmp_path / f".{job.key}-x1y2z3.tmp"  # as if the kill came in the middle of saving the entry
    half_written.write_bytes(b"PK\x03\x04 half")
    os.kill(pid, signal.SIGKILL)
    assert job.wait(60) and job.state == "failed"
    assert job.error == cluster.WORKER_LOST
    assert "killed or ran out of memory" in job.error and "nothing was saved" in job.error
    assert temporaries(tmp_path) == [] and not cache.has(job.key)

    fingerprint = mnist_small.fingerprint
    stored = {"path": str(cluster.dataset_path(tmp_path, fingerprint)), "fingerprint": fingerprint}
    after = ClusterJob(TINY, stored, cache, client=client).start()  # the file the killed job's dataset was saved as
    assert after.wait(120) and after.state == "done", after.error
    assert cache.info(after.entry.key).complete and temporaries(tmp_path) == []


def test_the_embedded_cluster_queues_trainings_beyond_its_slots(monkeypatch, mnist_small, tmp_path):
    monkeypatch.setenv(cluster.MAX_TRAININGS_ENV, "1")
    monkeypatch.delenv(cluster.CLUSTER_ENV, raising=False)
    cluster.shutdown()
    try:
        started = []  # the app starts it from a job's thread, not the main one
        thread = threading.Thread(target=lambda: started.append(cluster.get_client()))
        thread.start()
        thread.join(60)
        embedded = started[0]
        assert cluster.get_client() is embedded and cluster.describe(embedded) == "embedded (1 worker)"
        (address,) = embedded.scheduler_info(n_workers=-1)["workers"]
        assert address.startswith("tcp://127.0.0.1:") and embedded.scheduler.address.startswith("tcp://127.0.0.1:")
        listening = {c.laddr.ip for p in psutil.Process().children(recursive=True)
                     for c in p.net_connections(kind="inet") if c.status == psutil.CONN_LISTEN}
        assert listening == {"127.0.0.1"}  # the worker and its services: nothing reachable from outside
        cache = ModelCache(tmp_path)
        first = ClusterJob(SLOW, lambda: mnist_small, cache).start()
        wait_for(lambda: first.latest is not None, timeout=90, job=first)
        second = ClusterJob(TINY, lambda: mnist_small, cache).start()
        third = ClusterJob(TINY.replace(latent_dim=3), lambda: mnist_small, cache).start()
        wait_for(lambda: (second.state, second.queue_position, third.queue_position) == ("queued", 1, 2), job=third)
        assert first.queue_position == 0 and first.state == "training"
        third.stop()  # withdrawn from the queue: nothing trained
        assert third.wait(30) and third.state == "stopped" and third.entry is None
        assert third.error == cluster.STOPPED_WHILE_QUEUED
        first.stop()
        assert first.wait(60) and first.state == "stopped"
        assert second.wait(60) and second.state == "done" and second.queue_position == 0, second.error
        assert embedded.run(os.getpriority, os.PRIO_PROCESS, 0)[address] == cluster.DEFAULT_NICE
        assert embedded.run(os.sched_getscheduler, 0)[address] == os.SCHED_IDLE
    finally:
        cluster.shutdown()


# --- the dataset files a worker reads --------------------------------------------------------------------------------
def test_a_saved_dataset_round_trips_exactly(mnist_small, tmp_path):
    back = load_dataset_file(save_dataset(mnist_small, tmp_path / "m.npz"))
    assert back.fingerprint == mnist_small.fingerprint and back.name == mnist_small.name
    assert back.class_names == mnist_small.class_names and back.description == mnist_small.description
    np.testing.assert_array_equal(back.images, mnist_small.images)
    with zipfile.ZipFile(tmp_path / "m.npz") as zf:  # lossless as uint8: stored as uint8
        assert zf.getinfo("images.npy").file_size < mnist_small.images.nbytes / 3
    rng = np.random.default_rng(0)
    floats = dataset_from_arrays(rng.random((5, 4, 4, 3), dtype=np.float32), name="noise")  # not k/255: float32
    again = load_dataset_file(save_dataset(floats, tmp_path / "f.npz"))
    assert again.fingerprint == floats.fingerprint and again.labels is None and again.class_names == []


def _write_npz(path, **arrays):
    with zipfile.ZipFile(path, "w") as zf:
        for name, data in arrays.items():
            zf.writestr(f"{name}.npy", data)


def _npy(array, allow_pickle=False):
    import io

    buf = io.BytesIO()
    np.save(buf, array, allow_pickle=allow_pickle)
    return buf.getvalue()


def _header_only(shape, dtype):
    import io

    buf = io.BytesIO()
    np.lib.format.write_array_header_1_0(buf, {"descr": np.dtype(dtype).str, "fortran_order": False, "shape": shape})
    return buf.getvalue()


def test_hostile_dataset_files_are_refused_with_reasons(mnist_small, tmp_path):
    good = save_dataset(mnist_small.subset(np.arange(10)), tmp_path / "good.npz")
    with zipfile.ZipFile(good) as zf:
        parts = {n[:-4]: zf.read(n) for n in zf.namelist()}
    meta = json.loads(str(np.load(good)["meta"]))

    cases = {
        "pickle": dict(parts, labels=_npy(np.array([{"a": 1}] * 10, dtype=object), allow_pickle=True)),
        "extra": dict(parts, evil=_npy(np.zeros(2))),
        "missing": {k: v for k, v in parts.items() if k != "meta"},
        "huge": dict(parts, images=_header_only((99999, 99999, 999, 1), np.uint8)),  # 10 PB announced
        "short": dict(parts, images=parts["images"][:-5]),
        "tampered": dict(parts, meta=_npy(np.array(json.dumps({**meta, "fingerprint": "0" * 16})))),
        "notjson": dict(parts, meta=_npy(np.array("{not json"))),
        "strings": dict(parts, images=_npy(np.array(["a", "b"]))),
    }
    expected = {"pickle": "dtype kind", "extra": "Expected the members", "missing": "Expected the members",
                "huge": "at most", "short": "bytes of data", "tampered": "fingerprint", "notjson": "JSON record",
                "strings": "dtype kind"}
    for name, arrays in cases.items():
        path = tmp_path / f"{name}.npz"
        _write_npz(path, **arrays)
        with pytest.raises(ValueError, match="Expected") as info:
            load_dataset_file(path)
        assert expected[name] in str(info.value), (name, str(info.value))
    (tmp_path / "text.npz").write_text("not a zip")
    with pytest.raises(ValueError, match="Expected an aecore dataset file .*text.npz"):
        load_dataset_file(tmp_path / "text.npz")
