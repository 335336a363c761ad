"""Tests for aecore.cache: same config -> cached entry, atomic writes, corrupt
entries reported not fatal, no pickle, delete, and .keras export."""

import json

import numpy as np
import pytest
import keras

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
    assert len(problems) == 2 and all("corrupt or partial" in p or "corrupt" in p for p in problems)
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
