"""Exports of latent codes that other tools open: a CSV, and a TensorFlow Embedding Projector bundle.

`codes_csv` writes one row per point: its index, its label, its code (z0..z{D-1}) and its 2-D map position
(x, y). Floats are written with enough digits to read back exactly (9 significant digits for float32 codes,
`repr` for float64).

`projector_bundle` writes a zip that the Embedding Projector (projector.tensorflow.org, TensorBoard's
projector plugin, or a standalone copy of it) reads as it is:

- ``vectors.tsv``: one row per point, the code's floats separated by tabs, no header (the projector reads
  every line as a vector; it refuses vectors of one number, so codes need at least 2);
- ``metadata.tsv``: a header row ``index<TAB>label`` (the projector takes the first line as column names
  when it holds a tab) and then one row per point, in the same order;
- ``sprite.png``: the points' images as square thumbnails on a square grid of ceil(sqrt(N)) tiles a side,
  filled row by row from the top left (point 0) to the bottom right; the unused tiles stay black;
- ``projector_config.json``: ``{"embeddings": [{"tensorName", "tensorShape": [N, D], "tensorPath":
  "vectors.tsv", "metadataPath": "metadata.tsv", "sprite": {"imagePath": "sprite.png",
  "singleImageDim": [tile, tile]}}]}``, the paths relative to the unzipped folder.

The projector refuses sprites over 8192 × 8192 px (`SPRITE_MAX_PX`). Thumbnails are the images' own size,
at most `MAX_TILE` px, shrunk further only when 8192 // ceil(sqrt(N)) is smaller; at most `MAX_POINTS`
points are taken (100 tiles a side × 64 px = 6400 px), which keeps the sprite well inside the limit and
its decoded size (at most 6400² RGB pixels) reasonable.

Plain functions over numpy arrays (standard-library csv / zipfile / json, Pillow for the sprite); bad
inputs raise ValueError saying what was expected and what was received.
"""

import csv
import io
import json
import math
import zipfile

import numpy as np
from PIL import Image

SPRITE_MAX_PX = 8192  # the Embedding Projector's limit on each side of the sprite image
MAX_TILE = 64  # thumbnail side cap in px (the projector draws a 2-D point at the tile's width)
MAX_POINTS = 10_000  # ceil(sqrt(10000)) = 100 tiles a side x MAX_TILE = 6400 px <= SPRITE_MAX_PX
VECTORS, METADATA, SPRITE, CONFIG = "vectors.tsv", "metadata.tsv", "sprite.png", "projector_config.json"


# --- validation --------------------------------------------------------------------------------
def _codes(codes) -> np.ndarray:
    """Codes as a finite float array (N >= 1, D >= 1), float32 kept as float32."""
    try:
        z = np.asarray(codes)
    except (TypeError, ValueError) as e:
        raise ValueError(f"Expected codes as an array of numbers shaped (N, D), received {type(codes).__name__}: "
                         f"{e}") from None
    if z.dtype.kind not in "fiu" or z.ndim != 2 or z.shape[0] < 1 or z.shape[1] < 1:
        raise ValueError(f"Expected codes as numbers shaped (N >= 1, D >= 1), received {z.dtype} shaped "
                         f"{z.shape}.")
    z = z if z.dtype in (np.float32, np.float64) else z.astype(np.float64)
    bad = int(np.size(z) - np.count_nonzero(np.isfinite(z)))
    if bad:
        raise ValueError(f"Expected finite codes, received {bad} NaN or infinite value(s).")
    return z


def _indices(indices, n: int) -> list[int]:
    """The points' index column: 0..n-1 by default, else `indices` (n integers)."""
    if indices is None:
        return list(range(n))
    ix = np.asarray(indices)
    if ix.ndim != 1 or len(ix) != n or (len(ix) and ix.dtype.kind not in "iu"):
        raise ValueError(f"Expected indices as {n} integers (one per code), received {ix.dtype} shaped {ix.shape}.")
    return [int(i) for i in ix]


def _labels(labels, n: int, class_names) -> list[str]:
    """The points' labels as text: the class name when `class_names` has one, else the class number; "" for
    every point when `labels` is None."""
    if labels is None:
        return [""] * n
    lab = np.asarray(labels)
    if lab.ndim != 1 or len(lab) != n:
        raise ValueError(f"Expected labels as {n} integers (one per code) or None, received shape {lab.shape}.")
    if lab.dtype.kind == "f" and np.all(np.isfinite(lab)) and np.all(lab == np.round(lab)):
        lab = lab.astype(np.int64)
    if lab.dtype.kind not in "iu":
        raise ValueError(f"Expected integer labels (class numbers), received {lab.dtype}.")
    names = [] if class_names is None else [str(c) for c in class_names]
    return [names[c] if 0 <= c < len(names) else str(c) for c in lab.tolist()]


def _floats(z: np.ndarray) -> list[list[str]]:
    """Each row of `z` as text that reads back to the same value (9 significant digits round-trip float32)."""
    fmt = "{:.9g}".format if z.dtype == np.float32 else repr
    return [[fmt(v) for v in row] for row in z.tolist()]


def _tsv_safe(text: str) -> str:
    """A metadata cell: tabs and line breaks would split the row, so they become spaces."""
    return text.replace("\t", " ").replace("\r", " ").replace("\n", " ")


# --- the CSV -----------------------------------------------------------------------------------
def codes_csv(codes, labels, positions, class_names=None, indices=None) -> bytes:
    """The codes as CSV bytes (UTF-8): header ``index,label,z0,..,z{D-1},x,y``, then one row per point.

    Args:
        codes: (N, D) numbers, finite.
        labels: N integer class numbers, or None (an empty label column).
        positions: (N, 2) finite 2-D map positions of the points (the scatter's x and y).
        class_names: class number -> name; a label without a name is written as its number. Default: numbers.
        indices: the N indices written in the index column (e.g. held-out indices of a sample). Default 0..N-1.
    """
    z = _codes(codes)
    n, d = z.shape
    xy = np.asarray(positions)
    if xy.dtype.kind not in "fiu" or xy.shape != (n, 2) or not np.all(np.isfinite(xy)):
        raise ValueError(f"Expected positions as finite numbers shaped ({n}, 2), one x, y per code, received "
                         f"{xy.dtype} shaped {xy.shape}.")
    xy = xy if xy.dtype in (np.float32, np.float64) else xy.astype(np.float64)
    buf = io.StringIO()
    out = csv.writer(buf, lineterminator="\n")
    out.writerow(["index", "label", *(f"z{j}" for j in range(d)), "x", "y"])
    for i, label, code, pos in zip(_indices(indices, n), _labels(labels, n, class_names), _floats(z), _floats(xy)):
        out.writerow([i, label, *code, *pos])
    return buf.getvalue().encode("utf-8")


# --- the Embedding Projector bundle -------------------------------------------------------------
def tile_size(n: int, side: int) -> int:
    """The sprite's thumbnail side for `n` points of images `side` px on their longer side: the images' own
    size, at most `MAX_TILE`, and at most SPRITE_MAX_PX // ceil(sqrt(n)) so the sprite fits the projector."""
    return max(1, min(side, MAX_TILE, SPRITE_MAX_PX // math.ceil(math.sqrt(n))))


def _thumbnails(images, n: int) -> tuple[np.ndarray, str]:
    """The images as uint8 (N, H, W[, 3]) and the PIL mode ("L" or "RGB")."""
    a = np.asarray(images)
    if a.ndim == 4 and a.shape[-1] == 1:
        a = a[..., 0]
    if a.ndim not in (3, 4) or (a.ndim == 4 and a.shape[-1] != 3) or len(a) != n or min(a.shape[1:3]) < 1 \
            or a.dtype.kind not in "fiu":
        raise ValueError(f"Expected images as numbers shaped ({n}, H, W) or ({n}, H, W, C) with C in (1, 3), one "
                         f"per code, received {a.dtype} shaped {a.shape}.")
    if a.dtype != np.uint8:
        a = (np.clip(np.nan_to_num(a.astype(np.float32)), 0, 1) * 255 + 0.5).astype(np.uint8)
    return a, ("L" if a.ndim == 3 else "RGB")


def sprite_png(images, n: int) -> tuple[bytes, int]:
    """The sprite of `n` images (float in [0, 1] or uint8, (N, H, W[, C])): (PNG bytes, tile side in px)."""
    pics, mode = _thumbnails(images, n)
    tile, grid = tile_size(n, max(pics.shape[1:3])), math.ceil(math.sqrt(n))
    sheet = Image.new(mode, (grid * tile, grid * tile))
    for k, pic in enumerate(pics):
        im = Image.fromarray(pic)
        if im.size != (tile, tile):
            im = im.resize((tile, tile), Image.Resampling.LANCZOS)
        sheet.paste(im, ((k % grid) * tile, (k // grid) * tile))
    buf = io.BytesIO()
    sheet.save(buf, format="PNG")
    return buf.getvalue(), tile


def projector_bundle(codes, images, labels, class_names=None, name: str = "latent codes", indices=None) -> bytes:
    """A zip of `vectors.tsv`, `metadata.tsv`, `sprite.png` and `projector_config.json` for the Embedding
    Projector (the format is in this module's docstring). Unzip it and serve the folder with a standalone
    projector, or load `vectors.tsv` and `metadata.tsv` in projector.tensorflow.org's "Load" dialog.

    Args:
        codes: (N, D) finite numbers, 1 <= N <= `MAX_POINTS`, D >= 2 (the projector refuses 1-number vectors).
        images: the N points' images, (N, H, W) or (N, H, W, C), C in (1, 3), float in [0, 1] or uint8.
        labels: N integer class numbers, or None (an empty label column).
        class_names: class number -> name for the label column; default: the numbers.
        name: the tensor's name shown in the projector.
        indices: the N indices written in metadata's index column. Default 0..N-1.
    """
    z = _codes(codes)
    n, d = z.shape
    if n > MAX_POINTS:
        raise ValueError(f"Expected at most {MAX_POINTS:,} codes for the Embedding Projector (its sprite is at "
                         f"most {SPRITE_MAX_PX} px a side), received {n:,}.")
    if d < 2:
        raise ValueError(f"Expected codes of at least 2 numbers for the Embedding Projector (it refuses "
                         f"1-number vectors), received codes of {d}.")
    if not isinstance(name, str) or not name.strip():
        raise ValueError(f"Expected a non-empty tensor name, received {name!r}.")
    meta = ["index\tlabel"] + [f"{i}\t{_tsv_safe(label)}"
                               for i, label in zip(_indices(indices, n), _labels(labels, n, class_names))]
    sprite, tile = sprite_png(images, n)
    config = {"embeddings": [{"tensorName": name, "tensorShape": [n, d], "tensorPath": VECTORS,
                              "metadataPath": METADATA,
                              "sprite": {"imagePath": SPRITE, "singleImageDim": [tile, tile]}}]}
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr(VECTORS, "".join("\t".join(row) + "\n" for row in _floats(z)))
        zf.writestr(METADATA, "\n".join(meta) + "\n")
        zf.writestr(SPRITE, sprite)
        zf.writestr(CONFIG, json.dumps(config, indent=2) + "\n")
    return buf.getvalue()
