"""Tests for aecore.data: built-in datasets from the offline copies, splits,
fingerprints, and user uploads (zip, folder, single image). No network."""

import io
import subprocess
import sys
import types
import zipfile
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from aecore import data as D

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"
needs_mnist = pytest.mark.skipif(not (SHARED / "mnist" / "t10k-images-idx3-ubyte.gz").is_file(),
                                 reason="offline MNIST copy not found")
needs_olivetti = pytest.mark.skipif(not (SHARED / "olivetti" / "olivettifaces.mat").is_file(),
                                    reason="offline Olivetti copy not found")


def encode(mode, size=(20, 20), color=128, fmt="PNG", **kw):
    buf = io.BytesIO()
    Image.new(mode, size, color).save(buf, fmt, **kw)
    return buf.getvalue()


def make_zip(entries, compression=zipfile.ZIP_DEFLATED):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression) as z:
        for name, payload in entries.items():
            z.writestr(name, payload)
    return buf.getvalue()


# -----------------------------------------------------------------------------
# module hygiene

def test_module_does_not_import_keras_tensorflow_or_sklearn():
    code = ("import importlib.util, sys; "
            f"spec = importlib.util.spec_from_file_location('d', {str(Path(D.__file__))!r}); "
            "m = importlib.util.module_from_spec(spec); spec.loader.exec_module(m); "
            "bad = [k for k in sys.modules if k.split('.')[0] in ('keras', 'tensorflow', 'sklearn', 'streamlit')]; "
            "print(bad); sys.exit(1 if bad else 0)")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stdout + r.stderr


# -----------------------------------------------------------------------------
# built-in datasets

@needs_mnist
def test_mnist_offline():
    ds = D.load_dataset("mnist", data_dir=SHARED)
    assert len(ds) == 10000 and ds.images.shape == (10000, 28, 28, 1) and ds.image_shape == (28, 28, 1)
    assert ds.images.dtype == np.float32 and ds.images.min() == 0.0 and ds.images.max() == 1.0
    assert ds.labels.dtype == np.int64 and ds.labels.shape == (10000,)
    assert set(np.unique(ds.labels)) == set(range(10)) and ds.labels[:4].tolist() == [7, 2, 1, 0]
    assert ds.class_names == [str(i) for i in range(10)]
    assert "test split only" in ds.description and "split_dataset" in ds.description
    assert ds.source.endswith("mnist") and len(ds.fingerprint) == 16
    int(ds.fingerprint, 16)


@needs_mnist
def test_mnist_limit_env_var_and_listing(monkeypatch):
    monkeypatch.setenv(D.DATA_DIR_ENV, str(SHARED))
    ds = D.load_dataset("mnist", limit=50)
    full_head = D.load_dataset("mnist", data_dir=SHARED).images[:50]
    assert ds.images.shape == (50, 28, 28, 1) and np.array_equal(ds.images, full_head)
    info = {d["name"]: d for d in D.list_datasets()}
    assert list(info) == list(D.BUILTIN_DATASETS)
    assert info["mnist"]["available_offline"] and info["mnist"]["shape"] == (28, 28, 1)
    assert info["olivetti"]["source"].endswith("olivettifaces.mat")
    assert info["digits"]["source"] == "sklearn (bundled)" and info["digits"]["available_offline"]
    for bad in (0, -1, 2.5, True, "10"):
        with pytest.raises(ValueError, match="Expected limit"):
            D.load_dataset("mnist", limit=bad)


@needs_olivetti
def test_olivetti_offline_and_upright():
    ds = D.load_dataset("olivetti", data_dir=SHARED)
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
    ds = D.load_dataset("digits")
    assert ds.images.shape == (1797, 8, 8, 1) and ds.images.dtype == np.float32
    assert ds.images.min() == 0.0 and ds.images.max() == 1.0
    assert ds.labels.shape == (1797,) and ds.class_names == [str(i) for i in range(10)]
    assert ds.source == "sklearn (bundled)"
    assert len(D.load_dataset("digits", limit=10)) == 10


def test_unknown_name_and_bad_data_dir(tmp_path):
    with pytest.raises(ValueError) as e:
        D.load_dataset("xyz")
    assert "Expected" in str(e.value) and "'xyz'" in str(e.value)
    with pytest.raises(ValueError, match="Expected data_dir"):
        D.load_dataset("mnist", data_dir=tmp_path / "missing")


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
    with pytest.raises(RuntimeError) as e:
        D.load_dataset("fashion_mnist", data_dir=tmp_path)
    msg = str(e.value)
    assert "Expected" in msg and str(tmp_path) in msg and "no network" in msg


def test_keras_source_concatenates_train_then_test(monkeypatch):
    monkeypatch.delenv(D.DATA_DIR_ENV, raising=False)
    train = (np.full((3, 28, 28), 255, np.uint8), np.array([1, 2, 3], np.uint8))
    test = (np.zeros((2, 28, 28), np.uint8), np.array([9, 0], np.uint8))
    fake_keras(monkeypatch, lambda: (train, test))
    ds = D.load_dataset("fashion_mnist")
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
    ds = D.load_dataset("fashion_mnist", data_dir=tmp_path)
    assert ds.labels.tolist() == [0, 1, 2, 3, 8, 9] and ds.images[:4].min() == 1.0 and ds.images[4:].max() == 0.0
    assert "train + test" in ds.description and ds.source == str(folder)
    assert D.list_datasets(tmp_path)[1]["available_offline"]


# -----------------------------------------------------------------------------
# fingerprint and split

def test_fingerprint_stable_and_sensitive():
    a, b = D.load_dataset("digits", limit=300), D.load_dataset("digits", limit=300)
    assert a.fingerprint == b.fingerprint == D.fingerprint(a.images, a.labels, "digits")
    images = a.images.copy()
    images[7, 3, 4, 0] = 1.0 - images[7, 3, 4, 0]
    changed = D.dataset_from_arrays(images, a.labels, a.class_names, name="digits")
    assert changed.fingerprint != a.fingerprint
    assert D.dataset_from_arrays(a.images, a.labels, name="other").fingerprint != a.fingerprint
    assert D.dataset_from_arrays(a.images, None, name="digits").fingerprint != a.fingerprint
    sub = a.subset(np.arange(10))
    assert len(sub) == 10 and sub.fingerprint == D.fingerprint(a.images[:10], a.labels[:10], sub.name)


def test_split_deterministic_sizes_disjoint():
    n = 1000
    images = np.zeros((n, 4, 4, 1), np.float32)
    images[:, 0, 0, 0] = np.arange(n) / n  # each image carries its index
    ds = D.dataset_from_arrays(images, np.arange(n) % 7, name="toy")
    train, val = D.split_dataset(ds)
    assert (len(train), len(val)) == (800, 200)
    ti = np.round(train.images[:, 0, 0, 0] * n).astype(int)
    vi = np.round(val.images[:, 0, 0, 0] * n).astype(int)
    assert not set(ti) & set(vi) and set(ti) | set(vi) == set(range(n))
    train2, val2 = D.split_dataset(ds)
    assert train2.fingerprint == train.fingerprint and val2.fingerprint == val.fingerprint
    assert set(np.unique(val.labels)) == set(range(7))
    unlabelled = D.dataset_from_arrays(images, name="toy")
    assert [len(p) for p in D.split_dataset(unlabelled, 0.25)] == [750, 250]
    for bad in (0, 1, 1.5, -0.1, "0.2", True):
        with pytest.raises(ValueError, match="Expected val_fraction"):
            D.split_dataset(ds, bad)
    with pytest.raises(ValueError, match="at least 1 image"):
        D.split_dataset(D.dataset_from_arrays(images[:1]))


@needs_olivetti
def test_split_olivetti_every_person_in_both_parts():
    train, val = D.split_dataset(D.load_dataset("olivetti", data_dir=SHARED))
    assert np.bincount(train.labels, minlength=40).tolist() == [8] * 40
    assert np.bincount(val.labels, minlength=40).tolist() == [2] * 40


def test_dataset_from_arrays_validation():
    ds = D.dataset_from_arrays(np.full((2, 5, 6), 255, np.uint8), [0, 3])
    assert ds.images.shape == (2, 5, 6, 1) and ds.images.max() == 1.0 and ds.class_names == ["0", "1", "2", "3"]
    with pytest.raises(ValueError, match="Expected images of shape"):
        D.dataset_from_arrays(np.zeros((2, 5, 5, 2)))
    with pytest.raises(ValueError, match=r"Expected float images with values in \[0, 1\]"):
        D.dataset_from_arrays(np.full((2, 5, 5), 2.0))
    with pytest.raises(ValueError, match="Expected images of dtype"):
        D.dataset_from_arrays(np.zeros((2, 5, 5), np.int32))
    with pytest.raises(ValueError, match="Expected integer labels"):
        D.dataset_from_arrays(np.zeros((2, 5, 5)), [0, 1, 2])
    with pytest.raises(ValueError, match="Expected class_names"):
        D.dataset_from_arrays(np.zeros((2, 5, 5)), [0, 5], ["a", "b"])


# -----------------------------------------------------------------------------
# user uploads: zip

def labelled_zip_entries():
    return {
        "set/cats/a.png": encode("L", color=200),
        "set/cats/b.jpg": encode("RGB", color=(10, 200, 30), fmt="JPEG"),
        "set/cats/C.PNG": encode("RGBA", color=(0, 0, 0, 0)),          # transparent -> white
        "set/dogs/d.gif": encode("P", color=3, fmt="GIF"),
        "set/dogs/e.bmp": encode("L", color=0, fmt="BMP"),
        "set/dogs/f.webp": encode("RGB", color=(50, 50, 50), fmt="WEBP"),
        "set/dogs/broken.png": b"\x89PNG\r\n\x1a\n this is not really a png",
        "set/dogs/notes.txt": b"ignored",
        "set/.DS_Store": b"ignored",
        "__MACOSX/set/cats/._a.png": b"ignored",
        "set/empty_dir/": b"",
    }


def test_zip_labelled_subfolders_all_formats():
    ds = D.load_image_zip(io.BytesIO(make_zip(labelled_zip_entries())), size=32, channels=3)
    assert ds.images.shape == (6, 32, 32, 3) and ds.images.dtype == np.float32
    assert 0.0 <= ds.images.min() and ds.images.max() <= 1.0
    assert ds.class_names == ["cats", "dogs"] and sorted(ds.labels.tolist()) == [0, 0, 0, 1, 1, 1]
    assert len(ds.skipped) == 1 and ds.skipped[0].startswith("set/dogs/broken.png: ")
    assert ds.name.startswith("upload:") and ds.source == "upload" and "skipped" in ds.description
    assert np.allclose(ds.images[0], 1.0)  # entries are read sorted by name: set/cats/C.PNG first, alpha over white
    assert np.allclose(ds.images[1], 200 / 255, atol=1e-3)  # set/cats/a.png
    gray = D.load_image_zip(make_zip(labelled_zip_entries()))
    assert gray.images.shape == (6, 28, 28, 1)
    assert gray.labels.tolist() == ds.labels.tolist()


def test_zip_transparent_png_composited_on_white():
    ds = D.load_image_zip(make_zip({"x.png": encode("RGBA", color=(0, 0, 0, 0))}))
    assert ds.labels is None and ds.class_names == [] and np.allclose(ds.images, 1.0)


def test_zip_path_traversal_name_read_in_memory(tmp_path, monkeypatch):
    work = tmp_path / "a" / "b"
    work.mkdir(parents=True)
    monkeypatch.chdir(work)
    before = sorted(p for p in tmp_path.rglob("*"))
    payload = make_zip({"../../evil.png": encode("L", color=255), "/abs/evil2.png": encode("L", color=0)})
    ds = D.load_image_zip(payload)
    assert len(ds) == 2 and ds.skipped == []
    assert sorted(p for p in tmp_path.rglob("*")) == before
    assert not (tmp_path / "evil.png").exists() and not Path("/abs/evil2.png").exists()


def test_zip_bomb_entry_skipped():
    bomb = b"\0" * (8 << 20)  # 8 MiB of zeros, compresses ~1000:1
    ds = D.load_image_zip(make_zip({"ok.png": encode("L"), "bomb.png": bomb}))
    assert len(ds) == 1 and len(ds.skipped) == 1 and "bomb.png" in ds.skipped[0] and "ratio" in ds.skipped[0]
    with pytest.raises(ValueError, match="at least one PNG"):
        D.load_image_zip(make_zip({"bomb.png": bomb}))


def test_zip_caps():
    entries = {f"img{i}.png": encode("L") for i in range(4)}
    with pytest.raises(ValueError, match="max_files=3"):
        D.load_image_zip(make_zip(entries), max_files=3)
    with pytest.raises(ValueError, match="max_total_bytes"):
        D.load_image_zip(make_zip(entries), max_total_bytes=100)
    ds = D.load_image_zip(make_zip({"big.png": encode("L", size=(100, 100)), "small.png": encode("L")}),
                          max_pixels=5000)
    assert len(ds) == 1 and "big.png" in ds.skipped[0] and "max_pixels" in ds.skipped[0]


def test_zip_without_images_and_not_a_zip():
    with pytest.raises(ValueError) as e:
        D.load_image_zip(make_zip({"readme.txt": b"hi", "bad.jpg": b"nope"}))
    msg = str(e.value)
    assert msg.startswith("Expected a zip with at least one PNG/JPEG/BMP/GIF/WebP image")
    assert "2 entries" in msg and "1 skipped" in msg and "bad.jpg" in msg
    with pytest.raises(ValueError, match=r"Expected a \.zip file"):
        D.load_image_zip(b"this is not a zip at all")
    with pytest.raises(ValueError, match="Expected size"):
        D.load_image_zip(make_zip({"a.png": encode("L")}), size=4)
    with pytest.raises(ValueError, match="Expected channels"):
        D.load_image_zip(make_zip({"a.png": encode("L")}), channels=2)
    with pytest.raises(ValueError, match="Expected max_ratio to be a positive number"):
        D.load_image_zip(make_zip({"a.png": encode("L")}), max_ratio=0)


def test_zip_from_path_and_named_filelike(tmp_path):
    path = tmp_path / "digits.zip"
    path.write_bytes(make_zip({"a/x.png": encode("L"), "b/y.png": encode("L")}))
    ds = D.load_image_zip(path)
    assert ds.name == "upload:digits.zip" and ds.source == str(path) and ds.class_names == ["a", "b"]
    f = io.BytesIO(path.read_bytes())
    f.name = "mine.zip"
    f.read()  # a consumed stream is read again from the start
    assert D.load_image_zip(f).name == "upload:mine.zip"


# -----------------------------------------------------------------------------
# user uploads: folder

def test_folder_loader(tmp_path):
    for cls, color in (("zero", 0), ("one", 255)):
        (tmp_path / cls).mkdir()
        for i in range(3):
            (tmp_path / cls / f"{i}.png").write_bytes(encode("L", color=color))
    (tmp_path / "one" / "bad.jpg").write_bytes(b"junk")
    (tmp_path / ".cache").mkdir()
    (tmp_path / ".cache" / "x.png").write_bytes(encode("L"))
    ds = D.load_image_folder(tmp_path, size=28, channels=1)
    assert ds.images.shape == (6, 28, 28, 1) and ds.class_names == ["one", "zero"]
    assert np.allclose(ds.images[ds.labels == 0], 1.0) and np.allclose(ds.images[ds.labels == 1], 0.0)
    assert len(ds.skipped) == 1 and "bad.jpg" in ds.skipped[0] and ds.source == str(tmp_path)
    with pytest.raises(ValueError, match="max_files=5"):
        D.load_image_folder(tmp_path, max_files=5)


def test_folder_errors(tmp_path):
    with pytest.raises(ValueError, match="Expected a folder with at least one"):
        D.load_image_folder(tmp_path)
    with pytest.raises(ValueError, match="Expected path to be an existing directory"):
        D.load_image_folder(tmp_path / "nope")


# -----------------------------------------------------------------------------
# user uploads: one image

def test_prepare_image_modes():
    rgba = Image.new("RGBA", (40, 30), (255, 0, 0, 255))
    x = D.prepare_image(rgba, 28, 3)
    assert x.shape == (28, 28, 3) and x.dtype == np.float32 and np.allclose(x[..., 0], 1.0) and x[..., 1].max() < 1e-6
    assert np.allclose(D.prepare_image(Image.new("RGBA", (9, 9), (0, 0, 0, 0)), 28, 1), 1.0)  # alpha over white

    i16 = Image.fromarray(np.full((9, 9), 32768, np.uint16))
    assert i16.mode.startswith("I;16")
    y = D.prepare_image(i16, 32, 1)
    assert y.shape == (32, 32, 1) and np.allclose(y, 32768 / 65535, atol=1e-4)

    cmyk = encode("CMYK", size=(12, 8), color=(0, 255, 255, 0), fmt="JPEG")  # red
    z = D.prepare_image(cmyk, 28, 3)
    assert z[14, 14, 0] > 0.8 and z[14, 14, 1] < 0.2
    assert D.prepare_image(io.BytesIO(cmyk), 28, 1).shape == (28, 28, 1)

    tiny = D.prepare_image(np.arange(15, dtype=np.uint8).reshape(3, 5) * 17, 64, 1)
    assert tiny.shape == (64, 64, 1) and 0.0 <= tiny.min() and tiny.max() <= 1.0
    same = np.random.default_rng(0).random((28, 28, 1)).astype(np.float32)
    assert np.array_equal(D.prepare_image(same, 28, 1), same)  # already the right size: untouched


def test_prepare_image_errors(tmp_path):
    with pytest.raises(ValueError) as e:
        D.prepare_image(b"\x00\x01garbage bytes", 28, 1)
    assert str(e.value).startswith("Expected an image file (PNG, JPEG, BMP, GIF or WebP), received 15 bytes")
    with pytest.raises(ValueError, match="Expected an existing image file"):
        D.prepare_image(tmp_path / "missing.png", 28, 1)
    with pytest.raises(ValueError, match=r"Expected float image values in \[0, 1\]"):
        D.prepare_image(np.full((4, 4), 3.0), 28, 1)
    with pytest.raises(ValueError, match="Expected an image array of shape"):
        D.prepare_image(np.zeros((4, 4, 2), np.uint8), 28, 1)
    with pytest.raises(ValueError, match="Expected a path, bytes"):
        D.prepare_image(12345, 28, 1)
    path = tmp_path / "ok.gif"
    path.write_bytes(encode("P", size=(5, 5), fmt="GIF"))
    assert D.prepare_image(str(path), 8, 3).shape == (8, 8, 3)
