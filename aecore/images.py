"""One user image: which files are decoded, how, and how one becomes a model input (`prepare_image`).

Only PNG, JPEG, BMP, GIF and WebP files are decoded (`IMAGE_FORMATS`; any other
format is refused by its signature (`aecore.signatures`), without running its decoder), and only when
the header declares at most MAX_PIXELS pixels: a file's header is parsed first
(`_open_header`), its pixels afterwards (`_decode`). `aecore.uploads` reads zips
and folders of such files through the same functions.

Conversion rules: EXIF orientation is applied; GIFs use their first frame;
transparent images (RGBA, LA, palette with transparency, grey or RGB with a
transparent colour) are composited over a WHITE background; values are scaled by
the mode's bit depth, never by the picture's own range (see `_pil_to_float`);
then the image is converted to grayscale ("L" weights) or RGB, inverted if asked,
and brought to size x size (LANCZOS) in one of three ways (`FITS`):
  - "pad" (the default for one image): keep the aspect ratio, fit the whole picture
    and pad with its background colour (`border_colour`) — `fit_image`;
  - "mnist": MNIST's own preparation — crop to the ink, fit into 20x20 (scaled
    with the size), centre by centre of mass — `mnist_prepare`;
  - "stretch": resize to a square whatever the aspect (zips and folders of images,
    `aecore.uploads`, whose datasets are made this way).
`light_background` says whether images have a mostly light background (a digit
drawn on paper) or a dark one (MNIST), so a page can suggest `invert`.
"""

import io
import os
import warnings
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps

from .data import _one_line
from .signatures import sniff

# File names taken for images in a zip or folder (any case); what they hold must still be one of IMAGE_FORMATS.
IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp")

# The image formats decoded from user files, as Pillow format ids: what the app names (PNG, JPEG, BMP,
# GIF, WebP) and nothing else. Pillow reads ~40 more (TIFF, FITS, ICO, PCX, TGA, PPM, SGI, IM, DDS, ...);
# some of those decoders are slow or unbounded (a 1 MB FITS file gunzips gigabytes), so they never run.
IMAGE_FORMATS = ("PNG", "JPEG", "BMP", "GIF", "WEBP")
_FORMAT_NAMES = {"PNG": "PNG", "JPEG": "JPEG", "MPO": "JPEG", "BMP": "BMP", "GIF": "GIF", "WEBP": "WebP"}
_FORMATS_TEXT = "PNG, JPEG, BMP, GIF or WebP"

# The limit on one user image; the default of every loader that takes it (aecore.uploads too).
MAX_PIXELS = 40_000_000              # per image (width x height): a 40-megapixel photo still loads (~0.5 s)


def _check_size_channels(size, channels):
    """ValueError unless size is an int in 8..128 and channels 1 or 3 (the arguments of every image loader)."""
    if isinstance(size, bool) or not isinstance(size, (int, np.integer)) or not 8 <= size <= 128:
        raise ValueError(f"Expected size to be an int in 8..128 (usually 28, 32 or 64), received {size!r}.")
    if isinstance(channels, bool) or channels not in (1, 3):
        raise ValueError(f"Expected channels to be 1 (grayscale) or 3 (RGB), received {channels!r}.")


def _check_positive(**limits):
    """ValueError naming the first keyword argument that is not a positive number (the limits of the loaders)."""
    for key, value in limits.items():
        if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)) or not value > 0:
            raise ValueError(f"Expected {key} to be a positive number, received {value!r}.")


def _pil_to_float(im):
    """Any PIL image -> float32 array (H, W, C), C in (1, 3), values in [0, 1].

    Applies EXIF orientation and composites transparency over white. Values are
    scaled by the mode's bit depth, never by the picture's own range, so the same
    stored value always gives the same result:
      - 8-bit modes ("1", "L", "P", "RGB", "RGBA", "CMYK", ...): / 255.
      - "I;16", "I;16B", ... (16-bit samples, e.g. a 16-bit grayscale PNG): / 65535.
      - "I" (32-bit signed integers, which no PNG/JPEG/BMP/GIF/WebP decodes to,
        only an image built in memory): taken as 16-bit samples, as Pillow stored
        16-bit PNG/TIFF data in "I" before it had "I;16": / 65535, then clipped
        to [0, 1] (negative -> 0, above 65535 -> 1).
      - "F" (32-bit float): taken as intensities in [0, 1] and clipped (NaN -> 0).
    A transparent colour (`im.info["transparency"]`, a PNG tRNS chunk) in a grey,
    16-bit or RGB image makes exactly the pixels of that stored value white.
    """
    try:
        im = ImageOps.exif_transpose(im)
    except Exception:
        pass  # broken EXIF data: keep the pixels as stored
    mode = im.mode
    trns = im.info.get("transparency")
    if mode in ("1", "L", "RGB", "I", "F") or mode.startswith("I;16"):
        raw = np.asarray(im.convert("L") if mode == "1" else im)
        if mode == "F":
            arr = np.nan_to_num(raw.astype(np.float32), nan=0.0, posinf=1.0, neginf=0.0)
        elif mode == "I" or mode.startswith("I;16"):
            arr = (raw.astype(np.float64) / 65535.0).astype(np.float32)  # float64: exact for all 32-bit ints
        else:
            arr = raw.astype(np.float32) / 255.0
        if trns is not None and mode != "F":
            if mode == "RGB" and isinstance(trns, tuple) and len(trns) == 3:
                arr[(raw == np.asarray(trns)).all(axis=-1)] = 1.0
            elif isinstance(trns, int) and not isinstance(trns, bool) and mode != "RGB":
                arr[raw == (trns * 255 if mode == "1" and trns in (0, 1) else trns)] = 1.0  # "1" stores 0/255
    elif mode in ("RGBA", "LA", "PA", "RGBa", "La") or trns is not None:
        rgba = im.convert("RGBA")
        white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        arr = np.asarray(Image.alpha_composite(white, rgba).convert("RGB"), dtype=np.float32) / 255.0
    else:  # P, CMYK, YCbCr, LAB, HSV, ...
        arr = np.asarray(im.convert("RGB"), dtype=np.float32) / 255.0
    if arr.ndim == 2:
        arr = arr[..., None]
    return np.clip(arr, 0.0, 1.0)


def _channels(arr, channels):
    """float (H, W, C) in [0, 1], C in (1, 3, 4) -> float32 (H, W, channels); RGBA is composited over white."""
    if arr.shape[-1] == 4:  # RGBA array: composite over white
        alpha = arr[..., 3:4]
        arr = arr[..., :3] * alpha + (1.0 - alpha)
    if channels == 1 and arr.shape[-1] == 3:  # same weights as PIL's convert("L")
        arr = arr @ np.array([0.299, 0.587, 0.114], dtype=np.float32)[:, None]
    elif channels == 3 and arr.shape[-1] == 1:
        arr = np.repeat(arr, 3, axis=-1)
    return arr.astype(np.float32)


def _resize(arr, height, width):
    """float32 (H, W, C) -> (height, width, C) with LANCZOS, clipped to [0, 1] (untouched when already that size)."""
    if arr.shape[:2] != (height, width):
        arr = np.stack([np.asarray(Image.fromarray(np.ascontiguousarray(arr[..., c], dtype=np.float32))
                                   .resize((width, height), Image.Resampling.LANCZOS), dtype=np.float32)
                        for c in range(arr.shape[-1])], axis=-1)
    return np.clip(arr, 0.0, 1.0).astype(np.float32)


def _finish(arr, size, channels):
    """float (H, W, C) in [0, 1], C in (1, 3, 4) -> float32 (size, size, channels), stretched with LANCZOS."""
    return _resize(_channels(arr, channels), size, size)


# --- preparing one image: background, inversion, aspect-preserving fit, MNIST's preparation ----------------
FITS = ("pad", "mnist", "stretch")  # how prepare_image brings an image to size x size (see the module doc)
MNIST_BOX = 20 / 28  # MNIST: the digit fits a 20x20 box of the 28x28 image
INK = 0.2  # a pixel is ink when it differs from the background by more than this (mean over channels)


def _check_image(image, name="image"):
    """The array as float32 (H, W, C), C in (1, 3); ValueError "Expected ..., received ..." otherwise."""
    a = np.asarray(image)
    if a.ndim == 2:
        a = a[..., None]
    if a.ndim != 3 or a.shape[-1] not in (1, 3) or min(a.shape[:2]) < 1 or not np.issubdtype(a.dtype, np.number):
        raise ValueError(f"Expected {name} to be an array (H, W) or (H, W, C) with C in (1, 3), "
                         f"received shape {getattr(image, 'shape', type(image).__name__)}.")
    return a.astype(np.float32)


def _border(images):
    """The pixels of the outer ring of every image in (..., H, W, C), as (pixels, C); the ring is 1/50 of the
    shorter side thick (at least 1 pixel)."""
    h, w = images.shape[-3:-1]
    b = max(1, min(h, w) // 50)
    ring = np.ones((h, w), bool)
    ring[b:h - b, b:w - b] = False
    return images[..., ring, :].reshape(-1, images.shape[-1])


def border_colour(image) -> np.ndarray:
    """The background colour of an image: the median of its outer ring of pixels, per channel.

    Args:
        image: float array (H, W) or (H, W, C), C in (1, 3), values in [0, 1].
    Returns float32 (C,).
    """
    return np.median(_border(_check_image(image)), axis=0).astype(np.float32)


def light_background(images) -> bool:
    """Whether images have a mostly light background: the median brightness of their outer rings of pixels
    (all images together) is above 0.5. True for a digit drawn on white paper, False for MNIST.

    Args:
        images: float array (H, W), (H, W, C) or (N, H, W, C), C in (1, 3), values in [0, 1].
    """
    a = np.asarray(images)
    if a.ndim == 2 or (a.ndim == 3 and a.shape[-1] not in (1, 3)):
        a = a[..., None]
    if a.ndim not in (3, 4) or a.shape[-1] not in (1, 3) or a.size == 0:
        raise ValueError(f"Expected images shaped (H, W), (H, W, C) or (N, H, W, C) with C in (1, 3), "
                         f"received shape {a.shape}.")
    return bool(np.median(_border(a.astype(np.float32)).mean(axis=-1)) > 0.5)


def invert(image) -> np.ndarray:
    """The negative of an image in [0, 1]: 1 - image, as float32 of the same shape."""
    return (1.0 - np.asarray(image, np.float32)).astype(np.float32)


def _canvas(size, background):
    return np.broadcast_to(np.asarray(background, np.float32), (size, size, len(background))).copy()


def fit_image(image, size: int, background=None) -> np.ndarray:
    """Fit a whole image into size x size keeping its aspect ratio, centred, padded with the background colour.

    Args:
        image: float array (H, W) or (H, W, C), C in (1, 3), values in [0, 1].
        size: the side of the result, int in 8..128.
        background: the padding colour, (C,) values in [0, 1]; default `border_colour(image)`.
    Returns float32 (size, size, C). A 300x200 picture becomes 28x19 inside 28x28: a square stays square.
    """
    a = _check_image(image)
    _check_size_channels(size, a.shape[-1])
    bg = border_colour(a) if background is None else np.asarray(background, np.float32).reshape(-1)
    h, w = a.shape[:2]
    nh, nw = max(1, round(h * size / max(h, w))), max(1, round(w * size / max(h, w)))
    out = _canvas(size, bg)
    top, left = (size - nh) // 2, (size - nw) // 2
    out[top:top + nh, left:left + nw] = _resize(a, nh, nw)
    return out


def mnist_prepare(image, size: int = 28, background=None) -> np.ndarray:
    """MNIST's own preparation of a digit: crop to the ink, fit (keeping the aspect ratio) into a box of 20/28
    of `size` (20x20 for 28), then place it in size x size so that its centre of mass is at the centre.

    Ink is what differs from the background by more than INK (0.2, mean over channels); the centre of mass
    weighs each pixel by that difference. An image without ink comes back as the background alone.
    Args:
        image: float array (H, W) or (H, W, C), C in (1, 3), values in [0, 1], light ink on dark (invert a
            dark-on-light drawing first) or the other way round: only the difference to the background counts.
        size: the side of the result, int in 8..128 (default 28).
        background: (C,) colour; default `border_colour(image)`.
    Returns float32 (size, size, C).
    """
    a = _check_image(image)
    _check_size_channels(size, a.shape[-1])
    bg = border_colour(a) if background is None else np.asarray(background, np.float32).reshape(-1)
    ink = np.abs(a - bg).mean(axis=-1) > INK
    out = _canvas(size, bg)
    if not ink.any():
        return out
    rows, cols = np.flatnonzero(ink.any(axis=1)), np.flatnonzero(ink.any(axis=0))
    crop = a[rows[0]:rows[-1] + 1, cols[0]:cols[-1] + 1]
    box = max(1, round(size * MNIST_BOX))
    h, w = crop.shape[:2]
    nh, nw = max(1, round(h * box / max(h, w))), max(1, round(w * box / max(h, w)))
    patch = _resize(crop, nh, nw)
    weight = np.abs(patch - bg).mean(axis=-1)
    total = float(weight.sum())
    ys, xs = np.mgrid[:nh, :nw]
    cy, cx = ((float((weight * ys).sum()) / total, float((weight * xs).sum()) / total) if total > 0
              else ((nh - 1) / 2, (nw - 1) / 2))
    top = int(np.clip(round(size / 2 - cy), 0, size - nh))  # MNIST's centre of mass is at (14, 14) of 28x28
    left = int(np.clip(round(size / 2 - cx), 0, size - nw))
    out[top:top + nh, left:left + nw] = patch
    return out


class _Refused(ValueError):
    """A user file not decoded. `kind`: "format" (another format than IMAGE_FORMATS), "unknown" (no
    signature recognised), "broken" (one of IMAGE_FORMATS that Pillow could not read) or "size" (over
    max_pixels); `found`: the format's name or None; str(): the short reason listed in Dataset.skipped."""

    def __init__(self, kind, reason, found=None, detail=""):
        super().__init__(reason)
        self.kind, self.found, self.detail = kind, found, detail


def _open_header(data, max_pixels):
    """Bytes of an image file (or only its first bytes) -> PIL image with its header parsed and no
    pixels decoded. Only the IMAGE_FORMATS plugins are tried. Raises _Refused naming the format found
    (from its signature, without decoding it) when it is another one, and for images over max_pixels."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            im = Image.open(io.BytesIO(data), formats=IMAGE_FORMATS)
    except Image.DecompressionBombError as e:  # over Pillow's own limit (2 x Image.MAX_IMAGE_PIXELS)
        raise _Refused("size", f"too large to decode ({_one_line(e)})", detail=_one_line(e)) from e
    except Exception as e:  # UnidentifiedImageError, or a plugin's OSError/ValueError on a broken header
        found = sniff(data)
        if found is None:
            raise _Refused("unknown", f"unrecognised format (not {_FORMATS_TEXT})") from e
        if found in _FORMAT_NAMES.values():
            raise _Refused("broken", f"broken {found} ({_one_line(e)})", found, _one_line(e)) from e
        raise _Refused("format", f"{found} format, not decoded (only {_FORMATS_TEXT} are)", found) from e
    w, h = im.size
    if w * h > max_pixels:
        raise _Refused("size", f"{w}x{h} = {w * h:,} pixels is more than max_pixels={max_pixels:,}",
                       _FORMAT_NAMES.get(im.format, im.format), f"{w}x{h} ({w * h:,} pixels)")
    return im


def _decode(data, max_pixels):
    """Bytes of one image file -> PIL image with its pixels loaded (first frame for animations).
    Raises _Refused (a ValueError) when it is another format, too large or not readable."""
    im = _open_header(data, max_pixels)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            im.load()
    except Exception as e:
        found = _FORMAT_NAMES.get(im.format, im.format)
        raise _Refused("broken", f"broken {found} ({_one_line(e)})", found, _one_line(e)) from e
    return im


def prepare_image(source, size, channels, max_pixels=MAX_PIXELS, *, fit="pad", inverted=False):
    """Turn one user image into a model input: float32 (size, size, channels) in [0, 1].

    Args:
        source: what `load_image` takes (a path, bytes, a file-like object, a PIL.Image or an ndarray).
        size: output side length, int in 8..128 (usually 28, 32 or 64).
        channels: 1 (grayscale) or 3 (RGB).
        max_pixels: files whose header declares more than this width x height
            are refused before decoding; default MAX_PIXELS (40,000,000).
        fit: "pad" (default: aspect kept, padded with the background colour), "mnist" (MNIST's
            preparation) or "stretch" (`FITS`, see the module docstring).
        inverted: take the negative (after the colour conversion, before fitting); default False.
    See the module docstring for the conversion rules (EXIF, alpha over white, ...).
    """
    _check_size_channels(size, channels)
    if fit not in FITS:
        raise ValueError(f"Expected fit to be one of {FITS}, received {fit!r}.")
    if not isinstance(inverted, (bool, np.bool_)):
        raise ValueError(f"Expected inverted to be True or False, received {inverted!r}.")
    arr = _channels(load_image(source, max_pixels), channels)
    if inverted:
        arr = invert(arr)
    if fit == "stretch":
        return _resize(arr, size, size)
    return mnist_prepare(arr, size) if fit == "mnist" else fit_image(arr, size)


def load_image(source, max_pixels=MAX_PIXELS):
    """One user image at its own size: float32 (H, W, C) in [0, 1], C in (1, 3), or 4 for an RGBA ndarray given.

    Args:
        source: a path (str or PathLike), bytes, a binary file-like object (e.g. a
            Streamlit UploadedFile), a PIL.Image, or an ndarray of shape (H, W) or
            (H, W, C) with C in (1, 3, 4), dtype uint8 or float in [0, 1].
            Files must be PNG, JPEG, BMP, GIF or WebP (`IMAGE_FORMATS`), whatever
            their name; other formats are refused without being decoded.
        max_pixels: files whose header declares more than this are refused; default MAX_PIXELS.
    """
    _check_positive(max_pixels=max_pixels)
    if isinstance(source, np.ndarray):
        arr = source
        if arr.ndim == 2:
            arr = arr[..., None]
        if arr.ndim != 3 or arr.shape[-1] not in (1, 3, 4) or min(arr.shape[:2]) < 1:
            raise ValueError(f"Expected an image array of shape (H, W) or (H, W, C) with C in (1, 3, 4), "
                             f"received shape {source.shape}.")
        if arr.dtype == np.uint8:
            arr = arr.astype(np.float32) / 255.0
        elif np.issubdtype(arr.dtype, np.floating):
            arr = arr.astype(np.float32)
            if not (float(arr.min()) >= 0.0 and float(arr.max()) <= 1.0):
                raise ValueError(f"Expected float image values in [0, 1], received values in "
                                 f"[{float(arr.min())}, {float(arr.max())}].")
        else:
            raise ValueError(f"Expected an image array of dtype uint8 or float, received {arr.dtype}.")
        return arr

    if isinstance(source, Image.Image):
        return _pil_to_float(source)

    if isinstance(source, (str, os.PathLike)):
        if not Path(source).is_file():
            raise ValueError(f"Expected an existing image file, received path {str(source)!r}.")
        data = Path(source).read_bytes()
    elif isinstance(source, (bytes, bytearray, memoryview)):
        data = bytes(source)
    elif hasattr(source, "read"):
        data = _read_filelike(source)
    else:
        raise ValueError(f"Expected a path, bytes, file-like object, PIL.Image or ndarray, "
                         f"received {type(source).__name__}.")
    try:
        im = _decode(data, max_pixels)
    except _Refused as e:
        expected, n = f"Expected an image file ({_FORMATS_TEXT})", f"{len(data):,} bytes"
        if e.kind == "format":
            msg = f"{expected}, received {n} in {e.found} format, which is not decoded."
        elif e.kind == "unknown":
            msg = f"{expected}, received {n} of an unrecognised format."
        elif e.kind == "broken":
            msg = f"{expected}, received {n} that start like a {e.found} but Pillow could not read ({e.detail})."
        elif e.found is not None:
            msg = (f"Expected an image of at most max_pixels={max_pixels:,} pixels, received a {e.found} "
                   f"image of {e.detail}.")
        else:
            msg = f"Expected an image of at most max_pixels={max_pixels:,} pixels, received {n}: {e}."
        raise ValueError(msg) from e
    return _pil_to_float(im)


def _read_filelike(f):
    """All bytes of a binary file-like object (from the start when it can seek)."""
    if hasattr(f, "getvalue"):
        data = f.getvalue()
    else:
        if hasattr(f, "seek"):
            try:
                f.seek(0)
            except Exception:
                pass
        data = f.read()
    if not isinstance(data, (bytes, bytearray)):
        raise ValueError(f"Expected a binary file-like object, received one whose read() gives {type(data).__name__}.")
    return bytes(data)
