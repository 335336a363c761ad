"""Tests for aecore.builtin_data: the built-in datasets from the offline copies (skipped, saying how to get
them, when those are missing), where `locate` finds them, and corrupt files. No network."""

import dataclasses
import gzip
import re
import shutil
import sys
import types

import numpy as np
import pytest

from aecore import builtin_data as B

# -----------------------------------------------------------------------------
# built-in datasets

def test_mnist_offline(offline_data):
    ds = B.load_dataset("mnist", data_dir=offline_data)
    assert len(ds) == 10000 and ds.images.shape == (10000, 28, 28, 1) and ds.image_shape == (28, 28, 1)
    assert ds.images.dtype == np.float32 and ds.images.min() == 0.0 and ds.images.max() == 1.0
    assert ds.labels.dtype == np.int64 and ds.labels.shape == (10000,)
    assert set(np.unique(ds.labels)) == set(range(10)) and ds.labels[:4].tolist() == [7, 2, 1, 0]
    assert ds.class_names == [str(i) for i in range(10)]
    assert "test split only" in ds.description and "split_dataset" in ds.description
    assert ds.source.endswith("mnist") and len(ds.fingerprint) == 16
    int(ds.fingerprint, 16)


def test_mnist_limit_env_var_and_listing(monkeypatch, offline_data):
    monkeypatch.setenv(B.DATA_DIR_ENV, str(offline_data))
    ds = B.load_dataset("mnist", limit=50)
    full_head = B.load_dataset("mnist", data_dir=offline_data).images[:50]
    assert ds.images.shape == (50, 28, 28, 1) and np.array_equal(ds.images, full_head)
    info = {d["name"]: d for d in B.list_datasets()}
    assert list(info) == list(B.BUILTIN_DATASETS)
    assert info["mnist"]["available_offline"] and info["mnist"]["shape"] == (28, 28, 1)
    assert info["olivetti"]["source"].endswith("olivettifaces.mat")
    assert info["digits"]["source"] == "sklearn (bundled)" and info["digits"]["available_offline"]
    for bad in (0, -1, 2.5, True, "10"):
        with pytest.raises(ValueError, match="Expected limit"):
            B.load_dataset("mnist", limit=bad)


def test_olivetti_offline_and_upright(offline_olivetti):
    ds = B.load_dataset("olivetti", data_dir=offline_olivetti.parent)
    assert ds.images.shape == (400, 64, 64, 1) and ds.images.dtype == np.float32
    assert 0.0 <= ds.images.min() and ds.images.max() <= 1.0
    assert ds.labels.tolist() == [i // 10 for i in range(400)]
    assert len(ds.class_names) == 40 and ds.class_names[0] == "person 0"
    mean = ds.images[..., 0].mean(axis=0)
    # a face is nearly left-right symmetric but not top-bottom symmetric: a
    # transposed (row-major) read swaps the two, a flipped one keeps them.
    left_right = np.abs(mean - mean[:, ::-1]).mean()
    top_bottom = np.abs(mean - mean[::-1, :]).mean()
    assert left_right < 0.5 * top_bottom
    # upright, not upside down: forehead (top) is brighter than chin/neck (bottom)
    assert mean[:12].mean() > mean[-12:].mean() + 0.05


def test_digits_bundled():
    ds = B.load_dataset("digits")
    assert ds.images.shape == (1797, 8, 8, 1) and ds.images.dtype == np.float32
    assert ds.images.min() == 0.0 and ds.images.max() == 1.0
    assert ds.labels.shape == (1797,) and ds.class_names == [str(i) for i in range(10)]
    assert ds.source == "sklearn (bundled)"
    assert len(B.load_dataset("digits", limit=10)) == 10


def test_unknown_name_and_bad_data_dir(tmp_path):
    with pytest.raises(ValueError) as e:
        B.load_dataset("xyz")
    assert "Expected" in str(e.value) and "'xyz'" in str(e.value)
    with pytest.raises(ValueError, match="Expected data_dir"):
        B.load_dataset("mnist", data_dir=tmp_path / "missing")


def fake_keras(monkeypatch, load_data):
    """Put a stand-in keras.datasets.fashion_mnist in sys.modules (no network, no real keras)."""
    mods = {"keras": types.ModuleType("keras"), "keras.datasets": types.ModuleType("keras.datasets"),
            "keras.datasets.fashion_mnist": types.ModuleType("keras.datasets.fashion_mnist")}
    mods["keras.datasets.fashion_mnist"].load_data = load_data
    mods["keras"].datasets = mods["keras.datasets"]
    mods["keras.datasets"].fashion_mnist = mods["keras.datasets.fashion_mnist"]
    for k, v in mods.items():
        monkeypatch.setitem(sys.modules, k, v)


def test_download_failure_names_where_it_looked(monkeypatch, tmp_path):
    def offline():
        raise OSError("no network")
    fake_keras(monkeypatch, offline)
    monkeypatch.delenv(B.OFFLINE_ENV, raising=False)
    with pytest.raises(RuntimeError) as e:
        B.load_dataset("fashion_mnist", data_dir=tmp_path)
    msg = str(e.value)
    assert "Expected" in msg and str(tmp_path) in msg and "no network" in msg


def test_offline_switch_refuses_to_download(monkeypatch, tmp_path):
    called = []
    fake_keras(monkeypatch, lambda: called.append(1))
    monkeypatch.setenv(B.OFFLINE_ENV, "1")
    with pytest.raises(RuntimeError, match="downloads are off"):
        B.load_dataset("fashion_mnist", data_dir=tmp_path)
    assert called == []


def test_keras_source_concatenates_train_then_test(monkeypatch):
    monkeypatch.delenv(B.DATA_DIR_ENV, raising=False)
    monkeypatch.delenv(B.OFFLINE_ENV, raising=False)
    train = (np.full((3, 28, 28), 255, np.uint8), np.array([1, 2, 3], np.uint8))
    test = (np.zeros((2, 28, 28), np.uint8), np.array([9, 0], np.uint8))
    fake_keras(monkeypatch, lambda: (train, test))
    ds = B.load_dataset("fashion_mnist")
    assert ds.source == "keras.datasets" and ds.images.shape == (5, 28, 28, 1)
    assert ds.labels.tolist() == [1, 2, 3, 9, 0] and ds.images[:3].min() == 1.0 and ds.images[3:].max() == 0.0
    assert ds.class_names[0] == "T-shirt/top" and ds.class_names[9] == "Ankle boot"


def test_local_idx_train_and_test(tmp_path):
    def idx(arr):
        header = bytes([0, 0, 8, arr.ndim]) + b"".join(int(s).to_bytes(4, "big") for s in arr.shape)
        return header + arr.astype(np.uint8).tobytes()
    folder = tmp_path / "fashion_mnist"
    folder.mkdir()
    (folder / "train-images-idx3-ubyte").write_bytes(idx(np.full((4, 28, 28), 255)))
    (folder / "train-labels-idx1-ubyte").write_bytes(idx(np.array([0, 1, 2, 3])))
    (folder / "t10k-images-idx3-ubyte").write_bytes(idx(np.zeros((2, 28, 28))))
    (folder / "t10k-labels-idx1-ubyte").write_bytes(idx(np.array([8, 9])))
    ds = B.load_dataset("fashion_mnist", data_dir=tmp_path)
    assert ds.labels.tolist() == [0, 1, 2, 3, 8, 9] and ds.images[:4].min() == 1.0 and ds.images[4:].max() == 0.0
    assert "train + test" in ds.description and ds.source == str(folder)
    assert B.list_datasets(tmp_path)[1]["available_offline"]


def test_locate_is_what_listing_and_loading_use(offline_data, tmp_path, monkeypatch):
    for entry in B.list_datasets(offline_data):
        loc = B.locate(entry["name"], offline_data)
        assert (loc.name, loc.source, loc.available_offline) == (entry["name"], entry["source"],
                                                                 entry["available_offline"])
        assert (loc.reason == "") == loc.available_offline
    mnist = B.locate("mnist", offline_data)
    assert mnist.path is not None and "t10k" in mnist.files and mnist.reason == ""
    assert B.load_dataset("mnist", offline_data, limit=5).source == mnist.source == str(mnist.path)
    # nothing local and no cached download: not offline, and it says why and where it looked
    monkeypatch.setitem(B._BUILTINS, "fashion_mnist",
                        dataclasses.replace(B._BUILTINS["fashion_mnist"], cache=lambda: None))
    loc = B.locate("fashion_mnist", tmp_path)
    assert (loc.source, loc.available_offline, loc.path, loc.files) == ("keras.datasets (download)", False, None, {})
    assert loc.looked_in == f"{tmp_path / 'fashion_mnist'} and {tmp_path}"
    assert loc.looked_in in loc.reason and "keras.datasets.fashion_mnist.load_data() would download it" in loc.reason
    monkeypatch.delenv(B.DATA_DIR_ENV, raising=False)
    assert B.locate("fashion_mnist").looked_in == "no local directory (neither data_dir nor $AECORE_DATA_DIR set)"
    assert B.locate("digits").source == "sklearn (bundled)"
    with pytest.raises(ValueError, match=r"Expected a dataset name in \('mnist'"):
        B.locate("xyz")


# -----------------------------------------------------------------------------
# corrupt built-in data files: one-line ValueError naming the file (issue "Trust the results", 8)

def offline_mnist_files(data_dir):
    """(images file, labels file) of the offline MNIST test split, found as the loader finds them."""
    return B.locate("mnist", data_dir).files["t10k"]


def corrupt_mnist(tmp_path, data_dir, images_bytes):
    folder = tmp_path / "mnist"
    folder.mkdir()
    shutil.copy(offline_mnist_files(data_dir)[1], folder)
    path = folder / "t10k-images-idx3-ubyte.gz"
    path.write_bytes(images_bytes)
    return path


def gz(data):
    return gzip.compress(data, mtime=0)


@pytest.mark.parametrize("case, expected", [
    ("truncated", "that ends early (truncated: EOFError"),
    ("not_gzip", "that is not valid gzip data (BadGzipFile"),
    ("corrupt_deflate", "whose compressed data is corrupt (zlib.error"),
    ("wrong_header", "with header 00 00 0c 03"),
    ("short_header", "of 6 bytes, shorter than its 16-byte header"),
    ("short_data", "received 100 (truncated)"),
    ("wrong_shape", "Expected 28x28 images"),
    ("empty", "with header (empty)"),
])
def test_corrupt_mnist_file_gives_one_line_valueerror(tmp_path, offline_data, case, expected):
    real = offline_mnist_files(offline_data)[0].read_bytes()
    header = bytes([0, 0, 8, 3]) + b"".join(n.to_bytes(4, "big") for n in (10000, 28, 28))
    payload = {
        "truncated": real[: len(real) // 2],
        "not_gzip": b"this is not gzip at all" * 10,
        "corrupt_deflate": real[:20] + bytes(b ^ 0x55 for b in real[20:2000]) + real[2000:],
        "wrong_header": gz(bytes([0, 0, 12, 3]) + header[4:] + b"\0" * 100),
        "short_header": gz(header[:6]),
        "short_data": gz(header + b"\0" * 100),
        "wrong_shape": gz(bytes([0, 0, 8, 3]) + b"".join(n.to_bytes(4, "big") for n in (10000, 32, 32))
                          + b"\0" * (10000 * 32 * 32)),
        "empty": gz(b""),
    }[case]
    path = corrupt_mnist(tmp_path, offline_data, payload)
    with pytest.raises(ValueError) as e:
        B.load_dataset("mnist", data_dir=tmp_path)
    msg = str(e.value)
    assert msg.startswith("Expected") and str(path) in msg and expected in msg and "\n" not in msg, msg
    assert B.list_datasets(tmp_path)[0]["source"] == str(path.parent)  # listing does not read the files


def test_mnist_labels_not_matching_images_named(tmp_path, offline_data):
    folder = tmp_path / "mnist"
    folder.mkdir()
    shutil.copy(offline_mnist_files(offline_data)[0], folder)
    labels = folder / "t10k-labels-idx1-ubyte.gz"
    labels.write_bytes(gz(bytes([0, 0, 8, 1]) + (5).to_bytes(4, "big") + bytes([1, 2, 3, 4, 5])))
    with pytest.raises(ValueError, match=f"as many labels in {re.escape(str(labels))}"):
        B.load_dataset("mnist", data_dir=tmp_path)
    labels.write_bytes(gz(bytes([0, 0, 8, 1]) + (10000).to_bytes(4, "big") + bytes([200] * 10000)))
    with pytest.raises(ValueError, match=f"labels 0..9 in {re.escape(str(labels))}, received a label 200"):
        B.load_dataset("mnist", data_dir=tmp_path)


@pytest.mark.parametrize("case, expected", [
    ("garbage", "that scipy could not read (ValueError: Unknown mat file type"),
    ("truncated", "that scipy could not read ("),
    ("no_faces", "Expected a 'faces' array in"),
    ("wrong_shape", "Expected 'faces' of shape (4096, 400)"),
    ("constant", "Expected finite pixel values that are not all equal"),
])
def test_corrupt_olivetti_file_gives_one_line_valueerror(tmp_path, request, case, expected):
    import scipy.io

    path = tmp_path / "olivettifaces.mat"
    if case == "garbage":
        path.write_bytes(b"this is not a MATLAB file\n" * 40)
    elif case == "truncated":
        path.write_bytes(request.getfixturevalue("offline_olivetti").read_bytes()[:5000])
    else:
        faces = {"no_faces": None, "wrong_shape": np.zeros((64, 64)), "constant": np.ones((4096, 400))}[case]
        scipy.io.savemat(str(path), {"x": np.zeros(3)} if faces is None else {"faces": faces})
    with pytest.raises(ValueError) as e:
        B.load_dataset("olivetti", data_dir=tmp_path)
    msg = str(e.value)
    assert msg.startswith("Expected") and str(path) in msg and expected in msg and "\n" not in msg, msg
