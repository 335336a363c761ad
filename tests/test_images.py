"""Tests for aecore.images: one user image, from every kind of source, to a model input; only PNG, JPEG, BMP,
GIF and WebP are decoded, other formats are named without running their decoders. No network."""

import io
import time

import numpy as np
import pytest
from PIL import Image

from aecore.data import dataset_from_arrays
from aecore.images import (
    IMAGE_FORMATS,
    _pil_to_float,
    border_colour,
    fit_image,
    invert,
    light_background,
    load_image,
    mnist_prepare,
    prepare_image,
)
from aecore.uploads import load_image_zip
from imagefiles import OTHER_FORMATS, drawn, encode, fits_bytes, make_zip, other_format, square

# -----------------------------------------------------------------------------
# one image

def test_prepare_image_modes():
    rgba = Image.new("RGBA", (40, 30), (255, 0, 0, 255))
    x = prepare_image(rgba, 28, 3)
    assert x.shape == (28, 28, 3) and x.dtype == np.float32 and np.allclose(x[..., 0], 1.0) and x[..., 1].max() < 1e-6
    assert np.allclose(prepare_image(Image.new("RGBA", (9, 9), (0, 0, 0, 0)), 28, 1), 1.0)  # alpha over white

    i16 = Image.fromarray(np.full((9, 9), 32768, np.uint16))
    assert i16.mode.startswith("I;16")
    y = prepare_image(i16, 32, 1)
    assert y.shape == (32, 32, 1) and np.allclose(y, 32768 / 65535, atol=1e-4)

    cmyk = encode("CMYK", size=(12, 8), color=(0, 255, 255, 0), fmt="JPEG")  # red
    z = prepare_image(cmyk, 28, 3)
    assert z[14, 14, 0] > 0.8 and z[14, 14, 1] < 0.2
    assert prepare_image(io.BytesIO(cmyk), 28, 1).shape == (28, 28, 1)

    tiny = prepare_image(np.arange(15, dtype=np.uint8).reshape(3, 5) * 17, 64, 1)
    assert tiny.shape == (64, 64, 1) and 0.0 <= tiny.min() and tiny.max() <= 1.0
    same = np.random.default_rng(0).random((28, 28, 1)).astype(np.float32)
    assert np.array_equal(prepare_image(same, 28, 1), same)  # already the right size: untouched


def test_prepare_image_errors(tmp_path):
    with pytest.raises(ValueError) as e:
        prepare_image(b"\x00\x01garbage bytes", 28, 1)
    assert str(e.value).startswith("Expected an image file (PNG, JPEG, BMP, GIF or WebP), received 15 bytes")
    with pytest.raises(ValueError, match="Expected an existing image file"):
        prepare_image(tmp_path / "missing.png", 28, 1)
    with pytest.raises(ValueError, match=r"Expected float image values in \[0, 1\]"):
        prepare_image(np.full((4, 4), 3.0), 28, 1)
    with pytest.raises(ValueError, match="Expected an image array of shape"):
        prepare_image(np.zeros((4, 4, 2), np.uint8), 28, 1)
    with pytest.raises(ValueError, match="Expected a path, bytes"):
        prepare_image(12345, 28, 1)
    path = tmp_path / "ok.gif"
    path.write_bytes(encode("P", size=(5, 5), fmt="GIF"))
    assert prepare_image(str(path), 8, 3).shape == (8, 8, 3)


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
    assert np.allclose(prepare_image(png16, 8, 1), 255 / 65535, atol=1e-6)
    # mode "I" (32-bit ints) is taken as 16-bit samples: 255 is dark and 1 is nearly black, whatever the rest
    assert np.allclose(prepare_image(Image.fromarray(np.full((6, 6), 255, np.int32)), 8, 1), 255 / 65535, atol=1e-6)
    assert np.allclose(prepare_image(Image.fromarray(np.full((6, 6), 1, np.int32)), 8, 1), 1 / 65535, atol=1e-7)
    big = Image.fromarray(np.array([[0, 65535, 200000], [-5, 32768, 1]] * 3, np.int32))
    x = prepare_image(big, 8, 1)
    assert 0.0 <= x.min() and x.max() <= 1.0
    assert dataset_from_arrays(_pil_to_float(big)[None]).images.max() == 1.0  # clipped, not rescaled
    assert np.allclose(_pil_to_float(big)[1, :, 0], [0.0, 32768 / 65535, 1 / 65535])
    # mode "F": intensities in [0, 1], clipped; a picture's own range does not matter
    assert np.allclose(prepare_image(Image.fromarray(np.full((6, 6), 0.25, np.float32)), 8, 1), 0.25)
    assert np.allclose(prepare_image(Image.fromarray(np.full((6, 6), 200.0, np.float32)), 8, 1), 1.0)
    f = Image.fromarray(np.array([[-1.0, 0.5, np.nan, np.inf]] * 4, np.float32))
    assert np.allclose(_pil_to_float(f)[0, :, 0], [0.0, 0.5, 0.0, 1.0])


def test_grey_and_rgb_png_with_transparent_colour_composited_on_white():
    grey = np.full((8, 8), 100, np.uint8)
    grey[:, :4] = 30
    x = prepare_image(png_bytes(Image.fromarray(grey), transparency=100), 8, 1)
    assert np.allclose(x[:, :4], 30 / 255, atol=1e-6) and np.allclose(x[:, 4:], 1.0)
    rgb = np.zeros((8, 8, 3), np.uint8)
    rgb[:, 4:] = (1, 2, 3)
    y = prepare_image(png_bytes(Image.fromarray(rgb), transparency=(1, 2, 3)), 8, 3)
    assert np.allclose(y[:, :4], 0.0) and np.allclose(y[:, 4:], 1.0)
    deep = np.full((8, 8), 1000, np.uint16)
    deep[:, :4] = 5
    z = prepare_image(png_bytes(Image.fromarray(deep), transparency=1000), 8, 1)
    assert np.allclose(z[:, :4], 5 / 65535, atol=1e-7) and np.allclose(z[:, 4:], 1.0)
    bits = Image.fromarray(np.arange(64).reshape(8, 8) % 2 == 1)  # mode "1", white pixels transparent
    w = prepare_image(png_bytes(bits, transparency=1), 8, 1)
    assert w.min() == 0.0 and np.allclose(w[:, 1::2], 1.0)
    ds = load_image_zip(make_zip({"t.png": png_bytes(Image.new("L", (9, 9), 7), transparency=7)}))
    assert np.allclose(ds.images, 1.0)


# -----------------------------------------------------------------------------
# only PNG, JPEG, BMP, GIF and WebP are decoded (issue "Trust the results", 5)

@pytest.mark.parametrize("fmt", OTHER_FORMATS)
def test_prepare_image_refuses_other_formats_and_names_them(fmt, tmp_path):
    data = other_format(fmt)
    with Image.open(io.BytesIO(data)) as im:  # Pillow alone decodes it
        assert im.format == fmt
    path = tmp_path / "digit.png"
    path.write_bytes(data)
    for source in (data, path, io.BytesIO(data)):
        with pytest.raises(ValueError) as e:
            prepare_image(source, 28, 1)
        msg = str(e.value)
        assert msg.startswith("Expected an image file (PNG, JPEG, BMP, GIF or WebP), received")
        assert f"in {fmt} format" in msg and f"{len(data):,} bytes" in msg and "\n" not in msg


def test_unrecognised_and_broken_files_say_so():
    with pytest.raises(ValueError) as e:
        prepare_image(b"garbage", 28, 1)
    assert str(e.value) == ("Expected an image file (PNG, JPEG, BMP, GIF or WebP), received 7 bytes "
                            "of an unrecognised format.")
    broken = encode("L")[:45]
    with pytest.raises(ValueError) as e:
        prepare_image(broken, 28, 1)
    assert "45 bytes that start like a PNG" in str(e.value)
    ds = load_image_zip(make_zip({"a.png": encode("L"), "b.png": b"garbage", "c.jpg": broken}))
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
        prepare_image(fits, 28, 1)
    with pytest.raises(ValueError, match="digit.png: FITS format"):
        load_image_zip(make_zip({"digit.png": fits}))
    assert time.perf_counter() - t < 1.0


def test_allowed_formats_defined_once():
    assert IMAGE_FORMATS == ("PNG", "JPEG", "BMP", "GIF", "WEBP")
    for fmt in IMAGE_FORMATS:
        assert prepare_image(encode("RGB", fmt=fmt), 8, 3).shape == (8, 8, 3)


# -----------------------------------------------------------------------------
# one upload, prepared like the training images (issue 8, items 2 and 3)

def ink_box(x, threshold=0.5):
    """(rows, columns) of the bounding box of the pixels of x (H, W, 1) above `threshold`."""
    ink = x[..., 0] > threshold
    rows, cols = np.flatnonzero(ink.any(axis=1)), np.flatnonzero(ink.any(axis=0))
    return rows[-1] - rows[0] + 1, cols[-1] - cols[0] + 1


def centre_of_mass(x):
    ys, xs = np.mgrid[:x.shape[0], :x.shape[1]]
    w = x[..., 0]
    return float((w * ys).sum() / w.sum()), float((w * xs).sum() / w.sum())


def test_a_wide_picture_keeps_its_aspect_ratio_padded_with_its_background():
    data = square()  # a black 100x100 square on a white 300x200 picture
    x = prepare_image(data, 28, 1)  # fit="pad" is the default
    assert x.shape == (28, 28, 1) and np.allclose(x[0], 1.0) and np.allclose(x[-1], 1.0)  # padded with white
    h, w = ink_box(invert(x))
    assert abs(h - w) <= 1 and 8 <= h <= 11  # 100 px of 300 -> 9.3 px of 28: a square stays square
    h, w = ink_box(invert(prepare_image(data, 28, 1, fit="stretch")))
    assert h - w >= 4  # what uploads did before: stretched to a tall rectangle
    rgb = np.zeros((20, 40, 3), np.float32)
    rgb[...] = (0.9, 0.1, 0.1)  # a red picture, twice as wide as high, with a green dot
    rgb[8:12, 18:22] = (0.1, 0.9, 0.1)
    y = fit_image(rgb, 32)
    assert y.shape == (32, 32, 3) and np.allclose(y[0, 0], (0.9, 0.1, 0.1), atol=1e-6)  # padded with red
    assert np.allclose(border_colour(rgb), (0.9, 0.1, 0.1))


def test_mnist_preparation_crops_fits_20x20_and_centres_the_mass():
    data = drawn("3", at=(20, 10))  # a dark "3" near the top-left corner of white paper
    x = prepare_image(data, 28, 1, fit="mnist", inverted=True)
    assert x.shape == (28, 28, 1)
    h, w = ink_box(x, threshold=0.05)
    assert max(h, w) <= 20 and max(h, w) >= 19 and w < h  # the ink fits 20x20, its aspect ratio kept
    cy, cx = centre_of_mass(x)
    assert abs(cy - 14) <= 1 and abs(cx - 14) <= 1  # centred by its centre of mass, as MNIST's digits are
    assert np.allclose(x[:2], 0.0) and np.allclose(x[-2:], 0.0)  # light on black, like MNIST
    plain = prepare_image(data, 28, 1, inverted=True)  # fitted whole: a small digit off-centre
    assert max(ink_box(plain, threshold=0.05)) < 15 and abs(centre_of_mass(plain)[1] - 14) > 3
    # the same digit anywhere on any paper gives the same MNIST-style image
    elsewhere = prepare_image(drawn("3", size=(200, 300), at=(90, 180)), 28, 1, fit="mnist", inverted=True)
    assert np.abs(elsewhere - x).mean() < 0.02
    assert np.allclose(mnist_prepare(np.full((30, 40), 0.8, np.float32), 28), 0.8)  # no ink: the background alone


def test_a_dark_digit_on_paper_is_detected_and_inverted(mnist_small):
    raw = load_image(drawn("3"))
    assert raw.shape == (200, 300, 1) and light_background(raw)  # "mostly light background"
    assert not light_background(mnist_small.images)  # MNIST: light digits on black
    assert not light_background(invert(raw)) and light_background(np.ones((5, 8, 8, 3)))
    x = prepare_image(drawn("3"), 28, 1, fit="mnist", inverted=True)
    assert not light_background(x) and x.max() > 0.9  # now like MNIST's
    assert np.allclose(invert(invert(raw)), raw)


def test_preparation_errors_say_what_was_expected():
    with pytest.raises(ValueError, match=r"Expected fit to be one of \('pad', 'mnist', 'stretch'\), received 'crop'"):
        prepare_image(square(), 28, 1, fit="crop")
    with pytest.raises(ValueError, match="Expected inverted to be True or False, received 'yes'"):
        prepare_image(square(), 28, 1, inverted="yes")
    with pytest.raises(ValueError, match=r"Expected image to be an array .* received shape \(4, 4, 2\)"):
        border_colour(np.zeros((4, 4, 2)))
    with pytest.raises(ValueError, match=r"Expected images shaped .* received shape \(2, 3, 4, 4, 1\)"):
        light_background(np.zeros((2, 3, 4, 4, 1)))
    with pytest.raises(ValueError, match="Expected size to be an int in 8..128"):
        fit_image(np.zeros((4, 4)), 4)
