"""Tests for aecore.uploads: zips and folders of user images, their labels, what they skip and say, and the
budgets that refuse hostile ones before anything is decoded. No network."""

import io
import re
import time
import zipfile
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageFile

from aecore import uploads as U
from aecore.images import MAX_PIXELS, prepare_image
from imagefiles import OTHER_FORMATS, encode, make_zip, other_format

# -----------------------------------------------------------------------------
# a zip

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
    ds = U.load_image_zip(io.BytesIO(make_zip(labelled_zip_entries())), size=32, channels=3)
    assert ds.images.shape == (6, 32, 32, 3) and ds.images.dtype == np.float32
    assert 0.0 <= ds.images.min() and ds.images.max() <= 1.0
    assert ds.class_names == ["cats", "dogs"] and sorted(ds.labels.tolist()) == [0, 0, 0, 1, 1, 1]
    assert len(ds.skipped) == 1 and ds.skipped[0].startswith("set/dogs/broken.png: ")
    assert ds.name.startswith("upload:") and ds.source == "upload" and "skipped" in ds.description
    assert np.allclose(ds.images[0], 1.0)  # entries are read sorted by name: set/cats/C.PNG first, alpha over white
    assert np.allclose(ds.images[1], 200 / 255, atol=1e-3)  # set/cats/a.png
    gray = U.load_image_zip(make_zip(labelled_zip_entries()))
    assert gray.images.shape == (6, 28, 28, 1)
    assert gray.labels.tolist() == ds.labels.tolist()


def test_zip_transparent_png_composited_on_white():
    ds = U.load_image_zip(make_zip({"x.png": encode("RGBA", color=(0, 0, 0, 0))}))
    assert ds.labels is None and ds.class_names == [] and np.allclose(ds.images, 1.0)


def test_zip_path_traversal_name_read_in_memory(tmp_path, monkeypatch):
    work = tmp_path / "a" / "b"
    work.mkdir(parents=True)
    monkeypatch.chdir(work)
    before = sorted(p for p in tmp_path.rglob("*"))
    payload = make_zip({"../../evil.png": encode("L", color=255), "/abs/evil2.png": encode("L", color=0)})
    ds = U.load_image_zip(payload)
    assert len(ds) == 2 and ds.skipped == []
    assert sorted(p for p in tmp_path.rglob("*")) == before
    assert not (tmp_path / "evil.png").exists() and not Path("/abs/evil2.png").exists()


def test_zip_bomb_entry_skipped():
    bomb = b"\0" * (8 << 20)  # 8 MiB of zeros, compresses ~1000:1
    ds = U.load_image_zip(make_zip({"ok.png": encode("L"), "bomb.png": bomb}))
    assert len(ds) == 1 and len(ds.skipped) == 1 and "bomb.png" in ds.skipped[0] and "ratio" in ds.skipped[0]
    with pytest.raises(ValueError, match="at least one PNG"):
        U.load_image_zip(make_zip({"bomb.png": bomb}))


def test_zip_caps():
    entries = {f"img{i}.png": encode("L") for i in range(4)}
    with pytest.raises(ValueError, match="max_files=3"):
        U.load_image_zip(make_zip(entries), max_files=3)
    with pytest.raises(ValueError, match="max_total_bytes"):
        U.load_image_zip(make_zip(entries), max_total_bytes=100)
    ds = U.load_image_zip(make_zip({"big.png": encode("L", size=(100, 100)), "small.png": encode("L")}),
                          max_pixels=5000)
    assert len(ds) == 1 and "big.png" in ds.skipped[0] and "max_pixels" in ds.skipped[0]


def test_zip_without_images_and_not_a_zip():
    with pytest.raises(ValueError) as e:
        U.load_image_zip(make_zip({"readme.txt": b"hi", "bad.jpg": b"nope"}))
    msg = str(e.value)
    assert msg.startswith("Expected a zip with at least one PNG/JPEG/BMP/GIF/WebP image")
    assert "2 entries" in msg and "1 skipped" in msg and "bad.jpg" in msg
    with pytest.raises(ValueError, match=r"Expected a \.zip file"):
        U.load_image_zip(b"this is not a zip at all")
    with pytest.raises(ValueError, match="Expected size"):
        U.load_image_zip(make_zip({"a.png": encode("L")}), size=4)
    with pytest.raises(ValueError, match="Expected channels"):
        U.load_image_zip(make_zip({"a.png": encode("L")}), channels=2)
    with pytest.raises(ValueError, match="Expected max_ratio to be a positive number"):
        U.load_image_zip(make_zip({"a.png": encode("L")}), max_ratio=0)


def test_zip_from_path_and_named_filelike(tmp_path):
    path = tmp_path / "digits.zip"
    path.write_bytes(make_zip({"a/x.png": encode("L"), "b/y.png": encode("L")}))
    ds = U.load_image_zip(path)
    assert ds.name == "upload:digits.zip" and ds.source == str(path) and ds.class_names == ["a", "b"]
    f = io.BytesIO(path.read_bytes())
    f.name = "mine.zip"
    f.read()  # a consumed stream is read again from the start
    assert U.load_image_zip(f).name == "upload:mine.zip"


# -----------------------------------------------------------------------------
# a folder

def test_folder_loader(tmp_path):
    for cls, color in (("zero", 0), ("one", 255)):
        (tmp_path / cls).mkdir()
        for i in range(3):
            (tmp_path / cls / f"{i}.png").write_bytes(encode("L", color=color))
    (tmp_path / "one" / "bad.jpg").write_bytes(b"junk")
    (tmp_path / ".cache").mkdir()
    (tmp_path / ".cache" / "x.png").write_bytes(encode("L"))
    ds = U.load_image_folder(tmp_path, size=28, channels=1)
    assert ds.images.shape == (6, 28, 28, 1) and ds.class_names == ["one", "zero"]
    assert np.allclose(ds.images[ds.labels == 0], 1.0) and np.allclose(ds.images[ds.labels == 1], 0.0)
    assert len(ds.skipped) == 1 and "bad.jpg" in ds.skipped[0] and ds.source == str(tmp_path)
    with pytest.raises(ValueError, match="max_files=5"):
        U.load_image_folder(tmp_path, max_files=5)


def test_folder_errors(tmp_path):
    with pytest.raises(ValueError, match="Expected a folder with at least one"):
        U.load_image_folder(tmp_path)
    with pytest.raises(ValueError, match="Expected path to be an existing directory"):
        U.load_image_folder(tmp_path / "nope")


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
        U.load_image_zip(payload)
    elapsed = time.perf_counter() - t
    msg = str(e.value)
    assert elapsed < 1.0 and not decoded, (elapsed, decoded)
    # the headers are read in name order until the budget is passed: 37 x 36,000,000 > 1,310,720,000
    assert f"max_total_pixels={U.MAX_TOTAL_PIXELS:,}" in msg and "first 37 of 300 image files" in msg
    assert f"declare {37 * 36_000_000:,} pixels" in msg
    assert "nothing was decoded" in msg and "\n" not in msg


def test_pixel_budget_is_a_parameter_and_counts_declared_sizes(tmp_path):
    entries = {f"{i}.png": encode("L", size=(100, 100)) for i in range(3)}
    assert len(U.load_image_zip(make_zip(entries), max_total_pixels=30_000)) == 3
    with pytest.raises(ValueError, match="max_total_pixels=29,999 .* first 3 image files already declare 30,000"):
        U.load_image_zip(make_zip(entries), max_total_pixels=29_999)
    for name, payload in entries.items():
        (tmp_path / name).write_bytes(payload)
    assert len(U.load_image_folder(tmp_path, max_total_pixels=30_000)) == 3
    with pytest.raises(ValueError, match="in a folder.* 30,000 pixels"):
        U.load_image_folder(tmp_path, max_total_pixels=29_999)
    with pytest.raises(ValueError, match="Expected an image of at most max_pixels=9,999 pixels"):
        prepare_image(entries["0.png"], 28, 1, max_pixels=9_999)
    with pytest.raises(ValueError, match="0.png: 100x100 = 10,000 pixels is more than max_pixels=9,999"):
        U.load_image_folder(tmp_path, max_pixels=9_999)


def test_limits_are_module_constants_used_as_defaults():
    import inspect

    expected = {"max_files": U.MAX_FILES, "max_total_bytes": U.MAX_TOTAL_BYTES, "max_ratio": U.MAX_RATIO,
                "max_pixels": MAX_PIXELS, "max_total_pixels": U.MAX_TOTAL_PIXELS,
                "max_entries": U.MAX_ZIP_ENTRIES}
    for func in (U.load_image_zip, U.load_image_folder, prepare_image):
        params = inspect.signature(func).parameters
        for key, value in expected.items():
            if key in params:
                assert params[key].default == value, (func.__name__, key)
    assert set(expected) <= set(inspect.signature(U.load_image_zip).parameters)
    folder_params = set(inspect.signature(U.load_image_folder).parameters)
    assert {"max_pixels", "max_total_pixels", "max_total_bytes"} <= folder_params
    assert MAX_PIXELS <= U.MAX_TOTAL_PIXELS and U.MAX_FILES <= U.MAX_ZIP_ENTRIES


def test_each_limit_is_defined_once():
    engine = "".join(p.read_text() for p in sorted(Path(U.__file__).parent.glob("*.py")))
    for name in ("MAX_PIXELS", "MAX_TOTAL_PIXELS", "MAX_FILES", "MAX_ZIP_ENTRIES", "MAX_TOTAL_BYTES", "MAX_RATIO"):
        assert len(re.findall(rf"^{name} = ", engine, re.M)) == 1, name
    assert engine.count("40_000_000") == 1 and U.MAX_PIXELS is MAX_PIXELS


def test_zip_entry_cap_counts_every_entry_before_parsing():
    entries = {f"notes/{i}.txt": b"" for i in range(30)}
    entries["a.png"] = encode("L")
    with pytest.raises(ValueError, match="max_entries=20 .* received 31"):
        U.load_image_zip(make_zip(entries), max_entries=20)
    assert len(U.load_image_zip(make_zip(entries), max_entries=31)) == 1
    # an end record that undercounts its entries is caught once the directory is parsed
    payload = bytearray(make_zip(entries))
    end = payload.rfind(b"PK\x05\x06")
    payload[end + 8:end + 12] = (1).to_bytes(2, "little") * 2  # entries on this disk, entries in all
    with pytest.raises(ValueError, match="max_entries=20 .* received 31"):
        U.load_image_zip(bytes(payload), max_entries=20)
    # a directory far bigger than its entries need (huge names) is refused before it is parsed
    with pytest.raises(ValueError, match="Expected a zip directory of at most 512 bytes"):
        U.load_image_zip(make_zip({"a" * 600 + ".png": encode("L")}), max_entries=2)


def test_zip_stored_entries_count_against_caps():
    entries = {f"{i}.png": encode("L", size=(64, 64)) for i in range(4)}
    stored = make_zip(entries, zipfile.ZIP_STORED)
    with pytest.raises(ValueError, match="max_total_bytes"):
        U.load_image_zip(stored, max_total_bytes=sum(map(len, entries.values())) - 1)
    with pytest.raises(ValueError, match="max_files=3"):
        U.load_image_zip(stored, max_files=3)
    assert len(U.load_image_zip(stored)) == 4


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
    ds = U.load_image_zip(payload)
    assert time.perf_counter() - t < 1.0
    assert len(ds) == 1 and len(ds.skipped) == 1 and ds.skipped[0].startswith("bomb.png: ")
    with pytest.raises(ValueError, match="max_total_bytes"):
        U.load_image_zip(patch_sizes(make_zip({"a.png": encode("L")}), "a.png", U.MAX_TOTAL_BYTES + 1))


def test_zip_jpeg_whose_header_is_longer_than_the_first_bytes_read():
    buf = io.BytesIO()
    Image.new("RGB", (30, 20), (200, 10, 10)).save(buf, "JPEG", icc_profile=b"\0" * (8 * U._HEADER_BYTES))
    ds = U.load_image_zip(make_zip({"a.jpg": buf.getvalue()}), channels=3)
    assert len(ds) == 1 and ds.skipped == [] and ds.images[0, 5, 5, 0] > 0.7


def test_zip_is_deterministic_for_the_same_bytes():
    payload = make_zip(labelled_zip_entries())
    a, b = U.load_image_zip(payload), U.load_image_zip(bytearray(payload))
    assert a.fingerprint == b.fingerprint and a.skipped == b.skipped


def test_folder_skips_what_is_not_a_regular_file(tmp_path):
    (tmp_path / "a.png").write_bytes(encode("L"))
    if Path("/dev/zero").exists():
        (tmp_path / "zero.png").symlink_to("/dev/zero")
    ds = U.load_image_folder(tmp_path)
    assert len(ds) == 1


# -----------------------------------------------------------------------------
# other formats are skipped and named

def test_zip_and_folder_skip_other_formats_and_name_them(tmp_path):
    entries = {f"x/{fmt.lower()}.png": other_format(fmt) for fmt in OTHER_FORMATS}
    entries["x/ok.png"] = encode("L", color=255)
    ds = U.load_image_zip(make_zip(entries))
    assert len(ds) == 1 and np.allclose(ds.images, 1.0) and len(ds.skipped) == len(OTHER_FORMATS)
    for fmt in OTHER_FORMATS:
        line = next(s for s in ds.skipped if s.startswith(f"x/{fmt.lower()}.png: "))
        assert f"{fmt} format" in line and "not decoded" in line
    with pytest.raises(ValueError) as e:
        U.load_image_zip(make_zip({"digit.png": other_format("TIFF")}))
    assert "digit.png: TIFF format" in str(e.value)
    for name, payload in entries.items():
        (tmp_path / Path(name).name).write_bytes(payload)
    folder = U.load_image_folder(tmp_path)
    assert len(folder) == 1 and any(s.startswith("fits.png: FITS format") for s in folder.skipped)
