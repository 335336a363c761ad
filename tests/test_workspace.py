"""aecore.workspace: workspace ids, the workspace folder (models and the datasets kept beside them), and the
bounded in-memory upload store."""

import numpy as np
import pytest

from aecore.cache import ModelCache, train_or_load
from aecore.config import ModelConfig
from aecore.data import dataset_from_arrays, load_dataset_file
from aecore.workspace import (
    ID_LENGTH,
    STORE_BYTES_ENV,
    UploadStore,
    Workspace,
    check_id,
    nbytes_of,
    new_id,
    store_budget,
)


def test_new_ids_are_long_random_and_pass_the_check():
    ids = {new_id() for _ in range(200)}
    assert len(ids) == 200
    for i in ids:
        assert len(i) == ID_LENGTH >= 32 and check_id(i) == i


@pytest.mark.parametrize("bad", ["", "abc", "x" * (ID_LENGTH + 1), "../../etc/passwd" + "a" * 27,
                                 "a" * (ID_LENGTH - 1) + "/", "a" * (ID_LENGTH - 1) + " ", "é" * ID_LENGTH, None, 42])
def test_check_id_refuses_anything_else_saying_what_it_expected(bad):
    with pytest.raises(ValueError, match=f"Expected a workspace id of {ID_LENGTH} characters.*received"):
        check_id(bad)


def test_check_id_message_shows_a_long_input_shortened():
    with pytest.raises(ValueError) as e:
        check_id("z" * 10_000)
    assert "10000 characters" in str(e.value) and len(str(e.value)) < 300


def small_upload(n=40):
    """A labelled 'upload' of real-looking values: k/255 grayscale, 28x28, 2 classes."""
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (n, 28, 28, 1)).astype(np.float32) / 255
    return dataset_from_arrays(images, np.arange(n) % 2, ["cats", "dogs"], name="upload:pets")


def test_the_workspace_folder_holds_its_models_and_their_data_and_the_shared_cache_does_not_list_it(tmp_path):
    ws = Workspace(tmp_path, new_id())
    assert ws.dir == tmp_path / "workspaces" / ws.id and not ws.dir.exists()  # a visit writes nothing
    assert ws.cache.list() == ([], []) and ws.dataset(small_upload().fingerprint) is None

    ds = small_upload()
    path = ws.keep_dataset(ds)
    assert path == ws.dataset_path(ds.fingerprint) and path.parent.parent == ws.dir
    assert ws.keep_dataset(ds) == path  # once per content
    back = ws.dataset(ds.fingerprint)
    assert back.fingerprint == ds.fingerprint and back.class_names == ["cats", "dogs"]
    assert np.array_equal(back.images, ds.images) and np.array_equal(back.labels, ds.labels)
    assert load_dataset_file(path).fingerprint == ds.fingerprint  # what a training worker reads
    with np.load(path, allow_pickle=False) as z:
        assert z["images"].dtype == np.uint8  # kept compressed as uint8

    cfg = ModelConfig(kind="ae", arch="dense", latent_dim=2, epochs=1, batch_size=32, hidden_units=(16,),
                      dataset=ds.name)
    entry, _ = train_or_load(cfg, ds, ws.cache)
    assert entry.path.parent == ws.dir and entry.config.dataset_fingerprint == ds.fingerprint
    assert [e.key for e in ws.cache.list()[0]] == [entry.key]
    assert ModelCache(tmp_path).list() == ([], [])  # workspaces/ is neither a model nor an unreadable file
    assert Workspace(tmp_path, new_id()).cache.list() == ([], [])  # another workspace sees none of it

    other = dataset_from_arrays(ds.images[:10], None, None, name="upload:other")
    ws.keep_dataset(other)
    assert ws.forget_unused_datasets(keep=[]) == [other.fingerprint]  # no model was trained on it
    assert ws.datasets() == [ds.fingerprint]
    ws.cache.delete(entry.key)
    assert ws.forget_unused_datasets(keep=[ds.fingerprint]) == [] and ws.datasets() == [ds.fingerprint]
    assert ws.forget_unused_datasets() == [ds.fingerprint] and ws.datasets() == []


def test_a_workspace_needs_a_valid_id(tmp_path):
    with pytest.raises(ValueError, match="Expected a workspace id"):
        Workspace(tmp_path, "../shared")


def test_the_upload_store_is_bounded_in_bytes_and_evicts_the_least_recently_used():
    store = UploadStore(budget=1000)
    a, b = new_id(), new_id()
    assert store.put(a, "x", np.zeros(400, np.uint8)) and store.put(a, "y", np.zeros(400, np.uint8))
    assert store.nbytes == 800 and len(store) == 2
    assert store.get(a, "x") is not None  # x is now the most recently used
    assert store.put(b, "z", np.zeros(400, np.uint8))  # needs room: y goes, not x
    assert store.get(a, "y") is None and store.get(a, "x") is not None and store.nbytes == 800
    assert store.get(a, "z") is None and store.get(b, "z") is not None  # per workspace: a's key is not b's
    assert store.put(a, "many small", [np.zeros(100, np.uint8)] * 5)  # 500 bytes: evicts x, the least recent
    assert store.nbytes == 900 and store.get(a, "x") is None and store.get(b, "z") is not None

    assert not store.put(a, "many small", np.zeros(1001, np.uint8))  # bigger than the budget: not kept,
    assert store.get(a, "many small") is None and store.nbytes == 400  # and the older value under the key is gone
    store.put(a, "x", "text", nbytes=10)
    store.put(b, "x", "text", nbytes=10)
    store.forget(a)
    assert store.get(a, "x") is None and store.get(b, "x") == "text" and store.nbytes == 410
    store.clear()
    assert len(store) == 0 and store.nbytes == 0


def test_sizes_and_the_budget_setting(monkeypatch):
    ds = small_upload()
    assert nbytes_of(ds) == ds.images.nbytes + ds.labels.nbytes
    assert nbytes_of((ds, "no problem")) == nbytes_of(ds) + 10
    monkeypatch.delenv(STORE_BYTES_ENV, raising=False)
    assert store_budget() == 512 * 2**20
    monkeypatch.setenv(STORE_BYTES_ENV, "2048")
    assert store_budget() == 2048 and UploadStore().budget == 2048
    monkeypatch.setenv(STORE_BYTES_ENV, "lots")
    with pytest.raises(ValueError, match=f"Expected {STORE_BYTES_ENV} a whole number of bytes.*'lots'"):
        store_budget()
