"""aecore.exports on real codes of a tiny trained model: the CSV reads back, and the Embedding Projector bundle
follows the projector's format (vectors.tsv: tab-separated floats, no header; metadata.tsv: a header row, then
one row per point; sprite.png: a square grid of ceil(sqrt(N)) tiles of singleImageDim, point k at tile k, row
by row; projector_config.json naming the files, tensorShape [N, D])."""

import csv
import io
import json
import math
import zipfile

import numpy as np
import pytest
from PIL import Image

from aecore.exports import (
    CONFIG,
    MAX_POINTS,
    MAX_TILE,
    METADATA,
    SPRITE,
    SPRITE_MAX_PX,
    VECTORS,
    codes_csv,
    projector_bundle,
    tile_size,
)


@pytest.fixture(scope="module")
def held_out(mnist_small, models_dir, tiny_ae):
    """The tiny conv AE's held-out digits (120, 28, 28, 1) and their codes (120, 4), float32."""
    from aecore.cache import ModelCache
    from aecore.infer import Engine
    from aecore.train import prepare_data

    val = prepare_data(tiny_ae.config, mnist_small)[1]
    codes = Engine(ModelCache(models_dir).load(tiny_ae.key).model).encode(val.images)
    assert codes.shape == (len(val), 4) and codes.dtype == np.float32
    return val, codes


def as_uint8(image: np.ndarray) -> np.ndarray:
    """A float image in [0, 1] as the uint8 pixels a PNG holds (channel axis dropped for grayscale)."""
    a = (np.clip(image, 0, 1) * 255 + 0.5).astype(np.uint8)
    return a[..., 0] if a.shape[-1] == 1 else a


def unzip(data: bytes) -> dict[str, bytes]:
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        assert zf.testzip() is None
        return {name: zf.read(name) for name in zf.namelist()}


def tile(sprite: Image.Image, k: int, side: int) -> np.ndarray:
    """Tile k of a sprite: row by row from the top left, ceil(sqrt(N)) = sprite width / side tiles a row."""
    per_row = sprite.width // side
    r, c = divmod(k, per_row)
    return np.asarray(sprite)[r * side:(r + 1) * side, c * side:(c + 1) * side]


# --- the CSV -----------------------------------------------------------------------------------
def test_csv_reads_back_the_codes_labels_and_positions(held_out):
    from aecore.infer import project

    val, codes = held_out
    xy = project(codes, "pca")
    data = codes_csv(codes, val.labels, xy)
    rows = list(csv.reader(io.StringIO(data.decode("utf-8"))))
    assert rows[0] == ["index", "label", "z0", "z1", "z2", "z3", "x", "y"] and len(rows) == 1 + len(codes)
    table = np.array([[float(v) for v in r[2:]] for r in rows[1:]])
    np.testing.assert_allclose(table[:, :4], codes, rtol=0, atol=1e-6)
    assert np.array_equal(table[:, :4].astype(np.float32), codes)  # 9 digits: float32 reads back exactly
    np.testing.assert_allclose(table[:, 4:], xy, rtol=0, atol=1e-6)
    assert [int(r[0]) for r in rows[1:]] == list(range(len(codes)))
    assert [int(r[1]) for r in rows[1:]] == val.labels.tolist()

    # A sample: its own indices in the index column, class names as labels, no labels at all.
    idx = np.array([3, 17, 42, 99])
    names = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"]
    named = list(csv.DictReader(io.StringIO(codes_csv(codes[idx], val.labels[idx], xy[idx], names,
                                                      indices=idx).decode())))
    assert [int(r["index"]) for r in named] == idx.tolist()
    assert [r["label"] for r in named] == [names[c] for c in val.labels[idx]]
    np.testing.assert_allclose([float(r["z2"]) for r in named], codes[idx, 2], atol=1e-6)
    unlabelled = list(csv.DictReader(io.StringIO(codes_csv(codes[:5], None, xy[:5]).decode())))
    assert [r["label"] for r in unlabelled] == [""] * 5
    f64 = codes.astype(np.float64) / 3  # float64 codes: written with repr, read back exactly
    back = np.array([[float(v) for v in r[2:6]] for r in csv.reader(io.StringIO(codes_csv(f64, None, xy).decode()))
                     if r[0] != "index"])
    assert np.array_equal(back, f64)


# --- the Embedding Projector bundle -------------------------------------------------------------
def test_projector_bundle_follows_the_projector_format(held_out):
    val, codes = held_out
    idx = np.arange(0, 100, 2)  # 50 points: a 8 x 8 grid with 14 empty tiles
    n, d = len(idx), codes.shape[1]
    files = unzip(projector_bundle(codes[idx], val.images[idx], val.labels[idx], val.class_names,
                                   name="tiny AE", indices=idx))
    assert sorted(files) == sorted([VECTORS, METADATA, SPRITE, CONFIG])

    # vectors.tsv: N rows of D tab-separated floats equal to the codes, no header.
    lines = files[VECTORS].decode("utf-8").splitlines()
    assert len(lines) == n and all(len(line.split("\t")) == d for line in lines)
    vectors = np.array([[float(v) for v in line.split("\t")] for line in lines])  # the first line parses too
    np.testing.assert_allclose(vectors, codes[idx], rtol=0, atol=1e-6)

    # metadata.tsv: the header row (it holds a tab, so the projector takes it as column names), then N rows.
    meta = files[METADATA].decode("utf-8").splitlines()
    assert meta[0] == "index\tlabel" and len(meta) == 1 + n
    assert [line.split("\t") for line in meta[1:]] == [[str(i), val.class_names[val.labels[i]]] for i in idx]

    # projector_config.json: paths naming files in the zip, the tensor's shape and the sprite's tile size.
    config = json.loads(files[CONFIG])
    (emb,) = config["embeddings"]
    assert emb["tensorName"] == "tiny AE" and emb["tensorShape"] == [n, d]
    assert {emb["tensorPath"], emb["metadataPath"], emb["sprite"]["imagePath"]} <= set(files)
    assert (emb["tensorPath"], emb["metadataPath"], emb["sprite"]["imagePath"]) == (VECTORS, METADATA, SPRITE)
    side = emb["sprite"]["singleImageDim"]
    assert side == [28, 28]  # the digits' own size

    # sprite.png: square, ceil(sqrt(N)) tiles a side, tile k = image k (the images at their own size).
    sprite = Image.open(io.BytesIO(files[SPRITE]))
    assert sprite.format == "PNG" and sprite.mode == "L"
    grid = math.ceil(math.sqrt(n))
    assert grid == 8 and sprite.size == (grid * side[0], grid * side[1])
    for k in (0, 1, 7, 8, 31, n - 1):
        np.testing.assert_array_equal(tile(sprite, k, 28), as_uint8(val.images[idx[k]]))
    assert not np.any(tile(sprite, n, 28)) and not np.any(tile(sprite, grid * grid - 1, 28))  # unused: black
    assert not np.array_equal(tile(sprite, 0, 28), tile(sprite, 1, 28))


def test_projector_bundle_of_colour_and_large_images(held_out):
    val, codes = held_out
    n = 30
    tint = np.array([1.0, 0.5, 0.2], np.float32)
    colour = val.images[:n] * tint  # (30, 28, 28, 3): RGB digits at their own size
    files = unzip(projector_bundle(codes[:n], colour, None))
    sprite = Image.open(io.BytesIO(files[SPRITE]))
    assert sprite.mode == "RGB" and sprite.size == (6 * 28, 6 * 28)
    for k in (0, 13, n - 1):
        np.testing.assert_array_equal(tile(sprite, k, 28), as_uint8(colour[k]))
    assert [line.split("\t")[1] for line in files[METADATA].decode().splitlines()[1:]] == [""] * n

    # Images larger than MAX_TILE are shrunk to MAX_TILE px tiles (still each one its own image).
    big = np.repeat(np.repeat(val.images[:n], 4, axis=1), 4, axis=2)  # 112 x 112 px
    files = unzip(projector_bundle(codes[:n], big, val.labels[:n]))
    assert json.loads(files[CONFIG])["embeddings"][0]["sprite"]["singleImageDim"] == [MAX_TILE, MAX_TILE]
    sprite = Image.open(io.BytesIO(files[SPRITE]))
    assert sprite.size == (6 * MAX_TILE, 6 * MAX_TILE)
    for k in (0, 11, n - 1):  # a shrunk digit keeps its brightness
        assert abs(tile(sprite, k, MAX_TILE).mean() - as_uint8(val.images[k]).mean()) < 2


def test_sprite_size_stays_within_the_projector_limit(held_out):
    for n in (1, 2, 50, 1000, 4097, MAX_POINTS):
        for side in (8, 28, 64, 128):
            t = tile_size(n, side)
            assert 1 <= t <= min(side, MAX_TILE) and t * math.ceil(math.sqrt(n)) <= SPRITE_MAX_PX
    assert tile_size(MAX_POINTS, 28) == 28 and tile_size(1, 128) == MAX_TILE

    val, codes = held_out  # the most points a bundle takes: 10,000 (the 120 digits over and over)
    reps = np.arange(MAX_POINTS) % len(codes)
    files = unzip(projector_bundle(codes[reps], val.images[reps], val.labels[reps]))
    assert json.loads(files[CONFIG])["embeddings"][0]["tensorShape"] == [MAX_POINTS, 4]
    sprite = Image.open(io.BytesIO(files[SPRITE]))
    assert sprite.size == (100 * 28, 100 * 28) and max(sprite.size) <= SPRITE_MAX_PX
    np.testing.assert_array_equal(tile(sprite, MAX_POINTS - 1, 28), as_uint8(val.images[reps[-1]]))
    assert len(files[METADATA].decode().splitlines()) == 1 + MAX_POINTS


# --- refusals ------------------------------------------------------------------------------------
def test_bad_inputs_are_refused_with_clear_messages(held_out):
    val, codes = held_out
    xy = codes[:, :2]
    cases = [
        (lambda: codes_csv(codes[0], val.labels, xy), "Expected codes as numbers shaped (N >= 1, D >= 1)"),
        (lambda: codes_csv(np.array([["a", "b"]]), None, xy[:1]), "received <U1 shaped (1, 2)"),
        (lambda: codes_csv(np.full((2, 3), np.nan), None, xy[:2]), "Expected finite codes, received 6 NaN"),
        (lambda: codes_csv(codes, val.labels, xy[:10]), f"Expected positions as finite numbers shaped "
                                                       f"({len(codes)}, 2)"),
        (lambda: codes_csv(codes, val.labels, codes), "received float32 shaped (120, 4)"),
        (lambda: codes_csv(codes, val.labels[:5], xy), "Expected labels as 120 integers"),
        (lambda: codes_csv(codes, val.labels + 0.5, xy), "Expected integer labels (class numbers), received float"),
        (lambda: codes_csv(codes, None, xy, indices=[1, 2]), "Expected indices as 120 integers"),
        (lambda: projector_bundle(codes, val.images[:10], val.labels), "Expected images as numbers shaped (120, H, W)"),
        (lambda: projector_bundle(codes, val.images[..., :1].repeat(2, -1), None), "C in (1, 3)"),
        (lambda: projector_bundle(codes[:, :1], val.images, None), "at least 2 numbers for the Embedding Projector"),
        (lambda: projector_bundle(np.zeros((MAX_POINTS + 1, 2)), np.zeros((MAX_POINTS + 1, 2, 2)), None),
         f"Expected at most {MAX_POINTS:,} codes for the Embedding Projector"),
        (lambda: projector_bundle(codes, val.images, None, name=" "), "Expected a non-empty tensor name"),
    ]
    for call, message in cases:
        with pytest.raises(ValueError) as err:
            call()
        assert message in str(err.value) and "received" in str(err.value), str(err.value)


def test_label_text_cannot_break_the_tsv(held_out):
    val, codes = held_out
    files = unzip(projector_bundle(codes[:3], val.images[:3], [0, 1, 2], ["a\tb", "c\nd", "plain"]))
    assert files[METADATA].decode().splitlines() == ["index\tlabel", "0\ta b", "1\tc d", "2\tplain"]
    rows = list(csv.reader(io.StringIO(codes_csv(codes[:2], [0, 1], codes[:2, :2], ['say "hi", ok', "x"]).decode())))
    assert [r[1] for r in rows[1:]] == ['say "hi", ok', "x"] and all(len(r) == 8 for r in rows)
