"""Tests for aecore.cache: same config -> cached entry, atomic writes, corrupt
entries reported not fatal, no pickle, delete, and .keras export."""

import json
import os
import re
import stat
import subprocess
import sys
import threading
import time
from pathlib import Path

import keras
import numpy as np
import pytest

from aecore.cache import CacheError, ModelCache, train_or_load
from aecore.config import ModelConfig
from aecore.infer import Engine

CFG = ModelConfig(kind="ae", arch="dense", latent_dim=3, epochs=1, hidden_units=(16,), batch_size=64, limit=300)


def test_same_config_is_served_from_cache_without_training(mnist_small, tmp_path):
    cache = ModelCache(tmp_path)
    events = []
    first, cached1 = train_or_load(CFG, mnist_small, cache, callbacks=[events.append])
    assert not cached1 and events
    events.clear()
    second, cached2 = train_or_load(CFG, mnist_small, cache, callbacks=[events.append])
    assert cached2 and not events  # no training happened
    assert second.key == first.key
    x = mnist_small.images[:5]
    np.testing.assert_allclose(Engine(second.model).reconstruct(x), Engine(first.model).reconstruct(x), atol=1e-6)
    assert second.metrics == first.metrics and second.history == first.history


def test_listing_skips_and_reports_corrupt_and_partial_entries(mnist_small, tmp_path):
    cache = ModelCache(tmp_path)
    entry, _ = train_or_load(CFG, mnist_small, cache)
    good = entry.path.read_bytes()
    (tmp_path / ("0" * 16 + ".npz")).write_bytes(good[: len(good) // 2])  # partial write
    (tmp_path / ("1" * 16 + ".npz")).write_bytes(b"not a zip at all")
    entries, problems = cache.list()
    assert [e.key for e in entries] == [entry.key]
    assert sorted(p.name for p in problems) == ["0" * 16 + ".npz", "1" * 16 + ".npz"]
    assert all("corrupt" in p.reason or "partial" in p.reason for p in problems)
    with pytest.raises(CacheError, match="corrupt"):
        cache.load("0" * 16)


def test_flipped_weight_bytes_fail_the_checksum_and_get_retrained(mnist_small, tmp_path):
    cache = ModelCache(tmp_path)
    entry, _ = train_or_load(CFG, mnist_small, cache)
    with np.load(entry.path, allow_pickle=False) as z:
        arrays = {k: z[k] for k in z.files}
    arrays["w000"] = arrays["w000"] + 1.0
    with open(entry.path, "wb") as f:
        np.savez(f, **arrays)
    with pytest.raises(CacheError, match="checksum"):
        cache.load(entry.key)
    again, cached = train_or_load(CFG, mnist_small, cache)
    assert not cached and cache.load(again.key).model is not None


def test_entries_hold_no_pickles_and_are_written_atomically(mnist_small, tmp_path):
    cache = ModelCache(tmp_path)
    entry, _ = train_or_load(CFG, mnist_small, cache)
    with np.load(entry.path, allow_pickle=False) as z:  # would raise if any object array were inside
        meta = json.loads(str(z["__meta__"]))
        assert all(z[k].dtype != object for k in z.files)
    assert meta["config"] == entry.config.to_dict()
    assert not [p for p in tmp_path.iterdir() if p.suffix == ".tmp"]  # no temporary left behind


def test_a_crash_mid_write_leaves_the_old_entry_intact(mnist_small, tmp_path, monkeypatch):
    cache = ModelCache(tmp_path)
    entry, _ = train_or_load(CFG, mnist_small, cache)
    before = entry.path.read_bytes()

    def crash(*a, **k):
        raise OSError("disk full")

    monkeypatch.setattr(np, "savez", crash)
    from aecore.train import TrainResult

    res = TrainResult(entry.model, entry.config, entry.history, entry.metrics, "completed", 1, 1.0, entry.image_shape)
    with pytest.raises(OSError):
        cache.save(res)
    assert entry.path.read_bytes() == before
    assert not [p for p in tmp_path.iterdir() if p.suffix == ".tmp"]


def test_non_finite_weights_are_never_cached(mnist_small, tmp_path):
    cache = ModelCache(tmp_path)
    entry, _ = train_or_load(CFG, mnist_small, cache)
    from aecore.train import TrainResult

    w = entry.model.get_weights()
    w[0] = w[0] * np.nan
    entry.model.set_weights(w)
    bad = TrainResult(entry.model, entry.config.replace(seed=7), {}, {}, "completed", 1, 1.0, entry.image_shape)
    with pytest.raises(CacheError, match="finite"):
        cache.save(bad)
    assert not cache.has(entry.config.replace(seed=7).key())


def test_delete_and_export_keras_in_safe_mode(mnist_small, tmp_path):
    cache = ModelCache(tmp_path / "m")
    entry, _ = train_or_load(CFG, mnist_small, cache)
    out = cache.export_keras(entry.key, tmp_path / "out" / "model.keras")
    loaded = keras.saving.load_model(out, safe_mode=True)
    x = mnist_small.images[:4]
    np.testing.assert_allclose(keras.ops.convert_to_numpy(loaded(x)),
                               keras.ops.convert_to_numpy(entry.model(x)), atol=1e-6)
    assert cache.delete(entry.key) and not cache.has(entry.key)
    assert not cache.delete(entry.key)
    assert cache.list() == ([], [])


def test_bad_keys_and_paths_are_rejected(tmp_path):
    cache = ModelCache(tmp_path)
    with pytest.raises(CacheError, match="16 hex"):
        cache.load("../../etc/passwd")
    with pytest.raises(CacheError, match="not in"):
        cache.load("a" * 16)
    with pytest.raises(CacheError, match="ending in .keras"):
        cache.export_keras("a" * 16, tmp_path / "x.h5")


def _stop_after_first_batch():
    stop = threading.Event()
    return stop, (lambda e: stop.set() if e.phase == "batch" else None)


def test_a_stopped_run_never_answers_for_the_full_run_and_resumes_to_it(mnist_small, tmp_path):
    cfg = CFG.replace(epochs=5, patience=0)
    cache = ModelCache(tmp_path)
    stop, press = _stop_after_first_batch()
    stopped, cached = train_or_load(cfg, mnist_small, cache, callbacks=[press], stop_event=stop)
    assert not cached and stopped.stopped == "user" and not stopped.complete and stopped.resumable
    assert stopped.status() == "stopped by you in epoch 1 of 5" and "stopped by you in epoch 1 of 5" in stopped.label()
    assert [e.key for e in cache.list()[0]] == [stopped.key]  # listed and usable ...
    assert cache.load(stopped.key).model is not None

    events = []
    again, cached = train_or_load(cfg, mnist_small, cache, callbacks=[events.append], resume=True)
    assert not cached and events  # ... but never served for the full configuration: it was trained on
    assert again.key == stopped.key and again.complete and again.epochs_done == 5 and not again.resumable
    assert [e.epoch for e in events if e.phase == "epoch"] == [1, 2, 3, 4, 5]  # the cut epoch 1 runs again
    assert again.version != stopped.version

    served, cached = train_or_load(cfg, mnist_small, cache)
    assert cached and served.version == again.version  # now the complete run answers


def test_a_stopped_forced_retrain_never_replaces_the_complete_entry(mnist_small, tmp_path):
    cache = ModelCache(tmp_path)
    cfg = CFG.replace(epochs=2)
    complete, _ = train_or_load(cfg, mnist_small, cache)
    before = complete.path.read_bytes()
    stop, press = _stop_after_first_batch()
    with pytest.raises(CacheError, match=r"complete model trained earlier .* is kept"):
        train_or_load(cfg, mnist_small, cache, force=True, callbacks=[press], stop_event=stop)
    assert complete.path.read_bytes() == before


def test_entries_are_created_readable_per_the_umask(mnist_small, tmp_path):
    old = os.umask(0o022)
    try:
        entry, _ = train_or_load(CFG, mnist_small, ModelCache(tmp_path))
    finally:
        os.umask(old)
    assert stat.S_IMODE(entry.path.stat().st_mode) == 0o644  # not mkstemp's 0600


def test_opening_the_cache_removes_only_stale_temporaries(tmp_path):
    stale, fresh = tmp_path / ".0123456789abcdef-x1.tmp", tmp_path / ".0123456789abcdef-x2.tmp"
    stale.write_bytes(b"half a save")
    fresh.write_bytes(b"a save in progress")
    old = time.time() - 120
    os.utime(stale, (old, old))
    ModelCache(tmp_path)
    assert not stale.exists() and fresh.exists()


def test_the_readme_export_lines_run_as_written(mnist_small, tmp_path):
    """The README's Python block, run literally in a fresh interpreter next to an exported model.keras."""
    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    block = re.search(r"<!-- export-example -->\s*```python\n(.*?)```", readme, re.S)
    assert block, "README.md has no export example block"
    cache = ModelCache(tmp_path / "m")
    entry, _ = train_or_load(CFG, mnist_small, cache)
    cache.export_keras(entry.key, tmp_path / "model.keras")
    np.save(tmp_path / "x.npy", mnist_small.images[:3])
    check = "\nimport numpy as np\nprint(float(np.asarray(model(np.load('x.npy'))).mean()))\n"
    env = {k: v for k, v in os.environ.items() if k != "KERAS_BACKEND"}
    env["PYTHONPATH"] = str(Path(__file__).resolve().parents[1])
    r = subprocess.run([sys.executable, "-c", block.group(1) + check], cwd=tmp_path, env=env,
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr[-2000:]
    expected = float(keras.ops.convert_to_numpy(entry.model(mnist_small.images[:3])).mean())
    assert float(r.stdout.strip().splitlines()[-1]) == pytest.approx(expected, rel=1e-5)


def test_status_says_how_a_run_ended_in_words(tiny_vae):
    import dataclasses

    def ended(stopped, done):
        return dataclasses.replace(tiny_vae, config=tiny_vae.config.replace(epochs=40, patience=5), stopped=stopped,
                                   epochs_done=done)

    assert ended("user", 6).status() == "stopped by you after epoch 6 of 40"
    assert ended("user", 0).status() == "stopped by you in epoch 1 of 40"
    assert ended("early_stopping", 12).status() == \
        "stopped early after epoch 12 of 40: no better held-out loss in 5 epochs"
    assert ended("completed", 40).status() == "40 epochs" and ended("completed", 1).status() == "1 epoch"
    for entry in (ended("user", 6), ended("early_stopping", 12), ended("completed", 40)):
        label = entry.label()  # what the lists show: the words, never the stored code ("user", "early_stopping")
        assert label.startswith(f"dense VAE, latent 2, mnist · {entry.status()} · MSE ")
        assert label.endswith(tiny_vae.key[:6]) and "user" not in label and "_" not in label
