"""Tests for aecore.data: built-in datasets from the offline copies, splits,
fingerprints, and user uploads (zip, folder, single image). No network."""

import gzip
import io
import re
import shutil
import subprocess
import sys
import time
import types
import zipfile
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageFile

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


# -----------------------------------------------------------------------------
# pixel values follow the mode's bit depth, not the picture (issue "Trust the results", 4)

def png_bytes(im, **kw):
    buf = io.BytesIO()
    im.save(buf, "PNG", **kw)
    return buf.getvalue()


def test_values_scaled_by_bit_depth_not_by_the_picture():
    png16 = png_bytes(Image.fromarray(np.full((6, 6), 255, np.uint16)))
    with Image.open(io.BytesIO(png16)) as im:
        assert im.mode == "I;16"  # what Pillow 11 makes of a 16-bit grayscale PNG
    assert np.allclose(D.prepare_image(png16, 8, 1), 255 / 65535, atol=1e-6)
    # mode "I" (32-bit ints) is taken as 16-bit samples: 255 is dark and 1 is nearly black, whatever the rest
    assert np.allclose(D.prepare_image(Image.fromarray(np.full((6, 6), 255, np.int32)), 8, 1), 255 / 65535, atol=1e-6)
    assert np.allclose(D.prepare_image(Image.fromarray(np.full((6, 6), 1, np.int32)), 8, 1), 1 / 65535, atol=1e-7)
    big = Image.fromarray(np.array([[0, 65535, 200000], [-5, 32768, 1]] * 3, np.int32))
    x = D.prepare_image(big, 8, 1)
    assert 0.0 <= x.min() and x.max() <= 1.0
    assert D.dataset_from_arrays(D._pil_to_float(big)[None]).images.max() == 1.0  # clipped, not rescaled
    assert np.allclose(D._pil_to_float(big)[1, :, 0], [0.0, 32768 / 65535, 1 / 65535])
    # mode "F": intensities in [0, 1], clipped; a picture's own range does not matter
    assert np.allclose(D.prepare_image(Image.fromarray(np.full((6, 6), 0.25, np.float32)), 8, 1), 0.25)
    assert np.allclose(D.prepare_image(Image.fromarray(np.full((6, 6), 200.0, np.float32)), 8, 1), 1.0)
    f = Image.fromarray(np.array([[-1.0, 0.5, np.nan, np.inf]] * 4, np.float32))
    assert np.allclose(D._pil_to_float(f)[0, :, 0], [0.0, 0.5, 0.0, 1.0])


def test_grey_and_rgb_png_with_transparent_colour_composited_on_white():
    grey = np.full((8, 8), 100, np.uint8)
    grey[:, :4] = 30
    x = D.prepare_image(png_bytes(Image.fromarray(grey), transparency=100), 8, 1)
    assert np.allclose(x[:, :4], 30 / 255, atol=1e-6) and np.allclose(x[:, 4:], 1.0)
    rgb = np.zeros((8, 8, 3), np.uint8)
    rgb[:, 4:] = (1, 2, 3)
    y = D.prepare_image(png_bytes(Image.fromarray(rgb), transparency=(1, 2, 3)), 8, 3)
    assert np.allclose(y[:, :4], 0.0) and np.allclose(y[:, 4:], 1.0)
    deep = np.full((8, 8), 1000, np.uint16)
    deep[:, :4] = 5
    z = D.prepare_image(png_bytes(Image.fromarray(deep), transparency=1000), 8, 1)
    assert np.allclose(z[:, :4], 5 / 65535, atol=1e-7) and np.allclose(z[:, 4:], 1.0)
    bits = Image.fromarray(np.arange(64).reshape(8, 8) % 2 == 1)  # mode "1", white pixels transparent
    w = D.prepare_image(png_bytes(bits, transparency=1), 8, 1)
    assert w.min() == 0.0 and np.allclose(w[:, 1::2], 1.0)
    ds = D.load_image_zip(make_zip({"t.png": png_bytes(Image.new("L", (9, 9), 7), transparency=7)}))
    assert np.allclose(ds.images, 1.0)


# -----------------------------------------------------------------------------
# only PNG, JPEG, BMP, GIF and WebP are decoded (issue "Trust the results", 5)

def fits_bytes(width=16, height=16, payload_mib=0):
    """A minimal FITS file (GZIP_1 tile-compressed image in a BINTABLE) Pillow's FITS plugin opens."""
    import zlib

    def card(key, value=None):
        return (f"{key:<8}= {value:>20}" if value is not None else key).ljust(80).encode("ascii")
    primary = b"".join([card("SIMPLE", "T"), card("BITPIX", "8"), card("NAXIS", "0"), card("END")])
    ext = b"".join([card("XTENSION", "'BINTABLE'"), card("BITPIX", "8"), card("NAXIS", "0"), card("ZIMAGE", "T"),
                    card("ZCMPTYPE", "'GZIP_1  '"), card("ZBITPIX", "8"), card("ZNAXIS", "2"),
                    card("ZNAXIS1", str(width)), card("ZNAXIS2", str(height)), card("END")])
    packer = zlib.compressobj(9, zlib.DEFLATED, 31)  # gzip
    body = b"".join([packer.compress(b"\0" * (1 << 20)) for _ in range(payload_mib)]
                    + [packer.compress(b"\0" * (4 * width * height)), packer.flush()])
    return primary.ljust(2880, b" ") + ext.ljust(2880, b" ") + body


def other_format(fmt):
    """A small image in a format Pillow reads (and here writes) but this module must not decode."""
    if fmt == "FITS":
        return fits_bytes()
    buf = io.BytesIO()
    Image.new("RGB", (16, 16), (10, 20, 30)).save(buf, fmt)
    return buf.getvalue()


OTHER_FORMATS = ["TIFF", "ICO", "PCX", "TGA", "PPM", "SGI", "IM", "DDS", "FITS"]


@pytest.mark.parametrize("fmt", OTHER_FORMATS)
def test_prepare_image_refuses_other_formats_and_names_them(fmt, tmp_path):
    data = other_format(fmt)
    with Image.open(io.BytesIO(data)) as im:  # Pillow alone decodes it
        assert im.format == fmt
    path = tmp_path / "digit.png"
    path.write_bytes(data)
    for source in (data, path, io.BytesIO(data)):
        with pytest.raises(ValueError) as e:
            D.prepare_image(source, 28, 1)
        msg = str(e.value)
        assert msg.startswith("Expected an image file (PNG, JPEG, BMP, GIF or WebP), received")
        assert f"in {fmt} format" in msg and f"{len(data):,} bytes" in msg and "\n" not in msg


def test_zip_and_folder_skip_other_formats_and_name_them(tmp_path):
    entries = {f"x/{fmt.lower()}.png": other_format(fmt) for fmt in OTHER_FORMATS}
    entries["x/ok.png"] = encode("L", color=255)
    ds = D.load_image_zip(make_zip(entries))
    assert len(ds) == 1 and np.allclose(ds.images, 1.0) and len(ds.skipped) == len(OTHER_FORMATS)
    for fmt in OTHER_FORMATS:
        line = next(s for s in ds.skipped if s.startswith(f"x/{fmt.lower()}.png: "))
        assert f"{fmt} format" in line and "not decoded" in line
    with pytest.raises(ValueError) as e:
        D.load_image_zip(make_zip({"digit.png": other_format("TIFF")}))
    assert "digit.png: TIFF format" in str(e.value)
    for name, payload in entries.items():
        (tmp_path / Path(name).name).write_bytes(payload)
    folder = D.load_image_folder(tmp_path)
    assert len(folder) == 1 and any(s.startswith("fits.png: FITS format") for s in folder.skipped)


def test_unrecognised_and_broken_files_say_so():
    with pytest.raises(ValueError) as e:
        D.prepare_image(b"garbage", 28, 1)
    assert str(e.value) == ("Expected an image file (PNG, JPEG, BMP, GIF or WebP), received 7 bytes "
                            "of an unrecognised format.")
    broken = encode("L")[:45]
    with pytest.raises(ValueError) as e:
        D.prepare_image(broken, 28, 1)
    assert "45 bytes that start like a PNG" in str(e.value)
    ds = D.load_image_zip(make_zip({"a.png": encode("L"), "b.png": b"garbage", "c.jpg": broken}))
    assert ds.skipped == ["b.png: unrecognised format (not PNG, JPEG, BMP, GIF or WebP)",
                          ds.skipped[1]] and ds.skipped[1].startswith("c.jpg: broken PNG (")


def test_fits_with_big_gzip_payload_refused_fast_without_decoding(monkeypatch):
    from PIL import FitsImagePlugin

    def boom(*args, **kwargs):
        raise AssertionError("the FITS decoder ran")
    monkeypatch.setattr(FitsImagePlugin.FitsGzipDecoder, "decode", boom)
    monkeypatch.setattr(FitsImagePlugin.FitsImageFile, "_open", boom)
    fits = fits_bytes(4000, 4000, payload_mib=64)  # ~70 KB that gunzip to 64 MiB, declared 4000x4000
    t = time.perf_counter()
    with pytest.raises(ValueError, match="in FITS format"):
        D.prepare_image(fits, 28, 1)
    with pytest.raises(ValueError, match="digit.png: FITS format"):
        D.load_image_zip(make_zip({"digit.png": fits}))
    assert time.perf_counter() - t < 1.0


def test_allowed_formats_defined_once():
    assert D.IMAGE_FORMATS == ("PNG", "JPEG", "BMP", "GIF", "WEBP")
    for fmt in D.IMAGE_FORMATS:
        assert D.prepare_image(encode("RGB", fmt=fmt), 8, 3).shape == (8, 8, 3)


# -----------------------------------------------------------------------------
# budgets for a whole zip / folder (issue "Trust the results", 6)

def huge_png():
    """A black 6000x6000 PNG: 36 megapixels (under the per-image cap) in ~35 KB."""
    buf = io.BytesIO()
    Image.new("L", (6000, 6000), 0).save(buf, "PNG")
    return buf.getvalue()


def test_zip_pixel_budget_refuses_before_decoding(monkeypatch):
    png = huge_png()
    payload = make_zip({f"d{i // 100}/{i}.png": png for i in range(300)}, zipfile.ZIP_STORED)
    decoded = []

    def load(self):
        decoded.append(self)
        raise AssertionError("an image was decoded")
    monkeypatch.setattr(ImageFile.ImageFile, "load", load)
    t = time.perf_counter()
    with pytest.raises(ValueError) as e:
        D.load_image_zip(payload)
    elapsed = time.perf_counter() - t
    msg = str(e.value)
    assert elapsed < 1.0 and not decoded, (elapsed, decoded)
    # the headers are read in name order until the budget is passed: 37 x 36,000,000 > 1,310,720,000
    assert f"max_total_pixels={D.MAX_TOTAL_PIXELS:,}" in msg and "first 37 of 300 image files" in msg
    assert f"declare {37 * 36_000_000:,} pixels" in msg
    assert "nothing was decoded" in msg and "\n" not in msg


def test_pixel_budget_is_a_parameter_and_counts_declared_sizes(tmp_path):
    entries = {f"{i}.png": encode("L", size=(100, 100)) for i in range(3)}
    assert len(D.load_image_zip(make_zip(entries), max_total_pixels=30_000)) == 3
    with pytest.raises(ValueError, match="max_total_pixels=29,999 .* first 3 image files already declare 30,000"):
        D.load_image_zip(make_zip(entries), max_total_pixels=29_999)
    for name, payload in entries.items():
        (tmp_path / name).write_bytes(payload)
    assert len(D.load_image_folder(tmp_path, max_total_pixels=30_000)) == 3
    with pytest.raises(ValueError, match="in a folder.* 30,000 pixels"):
        D.load_image_folder(tmp_path, max_total_pixels=29_999)
    with pytest.raises(ValueError, match="Expected an image of at most max_pixels=9,999 pixels"):
        D.prepare_image(entries["0.png"], 28, 1, max_pixels=9_999)
    with pytest.raises(ValueError, match="0.png: 100x100 = 10,000 pixels is more than max_pixels=9,999"):
        D.load_image_folder(tmp_path, max_pixels=9_999)


def test_limits_are_module_constants_used_as_defaults():
    import inspect

    expected = {"max_files": D.MAX_FILES, "max_total_bytes": D.MAX_TOTAL_BYTES, "max_ratio": D.MAX_RATIO,
                "max_pixels": D.MAX_PIXELS, "max_total_pixels": D.MAX_TOTAL_PIXELS,
                "max_entries": D.MAX_ZIP_ENTRIES}
    for func in (D.load_image_zip, D.load_image_folder, D.prepare_image):
        params = inspect.signature(func).parameters
        for key, value in expected.items():
            if key in params:
                assert params[key].default == value, (func.__name__, key)
    assert set(expected) <= set(inspect.signature(D.load_image_zip).parameters)
    folder_params = set(inspect.signature(D.load_image_folder).parameters)
    assert {"max_pixels", "max_total_pixels", "max_total_bytes"} <= folder_params
    assert D.MAX_PIXELS <= D.MAX_TOTAL_PIXELS and D.MAX_FILES <= D.MAX_ZIP_ENTRIES


def test_zip_entry_cap_counts_every_entry_before_parsing():
    entries = {f"notes/{i}.txt": b"" for i in range(30)}
    entries["a.png"] = encode("L")
    with pytest.raises(ValueError, match="max_entries=20 .* received 31"):
        D.load_image_zip(make_zip(entries), max_entries=20)
    assert len(D.load_image_zip(make_zip(entries), max_entries=31)) == 1
    # an end record that undercounts its entries is caught once the directory is parsed
    payload = bytearray(make_zip(entries))
    end = payload.rfind(b"PK\x05\x06")
    payload[end + 8:end + 12] = (1).to_bytes(2, "little") * 2  # entries on this disk, entries in all
    with pytest.raises(ValueError, match="max_entries=20 .* received 31"):
        D.load_image_zip(bytes(payload), max_entries=20)
    # a directory far bigger than its entries need (huge names) is refused before it is parsed
    with pytest.raises(ValueError, match="Expected a zip directory of at most 512 bytes"):
        D.load_image_zip(make_zip({"a" * 600 + ".png": encode("L")}), max_entries=2)


def test_zip_stored_entries_count_against_caps():
    entries = {f"{i}.png": encode("L", size=(64, 64)) for i in range(4)}
    stored = make_zip(entries, zipfile.ZIP_STORED)
    with pytest.raises(ValueError, match="max_total_bytes"):
        D.load_image_zip(stored, max_total_bytes=sum(map(len, entries.values())) - 1)
    with pytest.raises(ValueError, match="max_files=3"):
        D.load_image_zip(stored, max_files=3)
    assert len(D.load_image_zip(stored)) == 4


def patch_sizes(payload, name, file_size):
    """The zip with `name`'s declared uncompressed size changed in its local header and central directory."""
    out = bytearray(payload)
    encoded = name.encode()
    for sig, size_at in ((b"PK\x01\x02", 24), (b"PK\x03\x04", 22)):
        at = out.find(sig)
        while at >= 0:
            name_at = at + (46 if sig == b"PK\x01\x02" else 30)
            if out[name_at:name_at + len(encoded)] == encoded:
                out[at + size_at:at + size_at + 4] = file_size.to_bytes(4, "little")
            at = out.find(sig, at + 4)
    return bytes(out)


def test_zip_declared_size_that_lies_bounds_the_read():
    bomb = encode("L") + b"\0" * (64 << 20)  # a PNG followed by 64 MiB of zeros (~64 KB deflated)
    payload = patch_sizes(make_zip({"a.png": encode("L"), "bomb.png": bomb}), "bomb.png", 1000)
    t = time.perf_counter()
    ds = D.load_image_zip(payload)
    assert time.perf_counter() - t < 1.0
    assert len(ds) == 1 and len(ds.skipped) == 1 and ds.skipped[0].startswith("bomb.png: ")
    with pytest.raises(ValueError, match="max_total_bytes"):
        D.load_image_zip(patch_sizes(make_zip({"a.png": encode("L")}), "a.png", D.MAX_TOTAL_BYTES + 1))


def test_zip_jpeg_whose_header_is_longer_than_the_first_bytes_read():
    buf = io.BytesIO()
    Image.new("RGB", (30, 20), (200, 10, 10)).save(buf, "JPEG", icc_profile=b"\0" * (8 * D._HEADER_BYTES))
    ds = D.load_image_zip(make_zip({"a.jpg": buf.getvalue()}), channels=3)
    assert len(ds) == 1 and ds.skipped == [] and ds.images[0, 5, 5, 0] > 0.7


def test_zip_is_deterministic_for_the_same_bytes():
    payload = make_zip(labelled_zip_entries())
    a, b = D.load_image_zip(payload), D.load_image_zip(bytearray(payload))
    assert a.fingerprint == b.fingerprint and a.skipped == b.skipped


def test_folder_skips_what_is_not_a_regular_file(tmp_path):
    (tmp_path / "a.png").write_bytes(encode("L"))
    if Path("/dev/zero").exists():
        (tmp_path / "zero.png").symlink_to("/dev/zero")
    ds = D.load_image_folder(tmp_path)
    assert len(ds) == 1


# -----------------------------------------------------------------------------
# corrupt built-in data files: one-line ValueError naming the file (issue "Trust the results", 8)

def corrupt_mnist(tmp_path, images_bytes):
    folder = tmp_path / "mnist"
    folder.mkdir()
    shutil.copy(SHARED / "mnist" / "t10k-labels-idx1-ubyte.gz", folder)
    path = folder / "t10k-images-idx3-ubyte.gz"
    path.write_bytes(images_bytes)
    return path


def gz(data):
    return gzip.compress(data, mtime=0)


@needs_mnist
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
def test_corrupt_mnist_file_gives_one_line_valueerror(tmp_path, case, expected):
    real = (SHARED / "mnist" / "t10k-images-idx3-ubyte.gz").read_bytes()
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
    path = corrupt_mnist(tmp_path, payload)
    with pytest.raises(ValueError) as e:
        D.load_dataset("mnist", data_dir=tmp_path)
    msg = str(e.value)
    assert msg.startswith("Expected") and str(path) in msg and expected in msg and "\n" not in msg, msg
    assert D.list_datasets(tmp_path)[0]["source"] == str(path.parent)  # listing does not read the files


@needs_mnist
def test_mnist_labels_not_matching_images_named(tmp_path):
    folder = tmp_path / "mnist"
    folder.mkdir()
    shutil.copy(SHARED / "mnist" / "t10k-images-idx3-ubyte.gz", folder)
    labels = folder / "t10k-labels-idx1-ubyte.gz"
    labels.write_bytes(gz(bytes([0, 0, 8, 1]) + (5).to_bytes(4, "big") + bytes([1, 2, 3, 4, 5])))
    with pytest.raises(ValueError, match=f"as many labels in {re.escape(str(labels))}"):
        D.load_dataset("mnist", data_dir=tmp_path)
    labels.write_bytes(gz(bytes([0, 0, 8, 1]) + (10000).to_bytes(4, "big") + bytes([200] * 10000)))
    with pytest.raises(ValueError, match=f"labels 0..9 in {re.escape(str(labels))}, received a label 200"):
        D.load_dataset("mnist", data_dir=tmp_path)


@pytest.mark.parametrize("case, expected", [
    ("garbage", "that scipy could not read (ValueError: Unknown mat file type"),
    ("truncated", "that scipy could not read ("),
    ("no_faces", "Expected a 'faces' array in"),
    ("wrong_shape", "Expected 'faces' of shape (4096, 400)"),
    ("constant", "Expected finite pixel values that are not all equal"),
])
def test_corrupt_olivetti_file_gives_one_line_valueerror(tmp_path, case, expected):
    import scipy.io

    path = tmp_path / "olivettifaces.mat"
    if case == "garbage":
        path.write_bytes(b"this is not a MATLAB file\n" * 40)
    elif case == "truncated":
        real = SHARED / "olivetti" / "olivettifaces.mat"
        if not real.is_file():
            pytest.skip("offline Olivetti copy not found")
        path.write_bytes(real.read_bytes()[:5000])
    else:
        faces = {"no_faces": None, "wrong_shape": np.zeros((64, 64)), "constant": np.ones((4096, 400))}[case]
        scipy.io.savemat(str(path), {"x": np.zeros(3)} if faces is None else {"faces": faces})
    with pytest.raises(ValueError) as e:
        D.load_dataset("olivetti", data_dir=tmp_path)
    msg = str(e.value)
    assert msg.startswith("Expected") and str(path) in msg and expected in msg and "\n" not in msg, msg
