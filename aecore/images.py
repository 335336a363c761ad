"""One user image: which files are decoded, how, and how one becomes a model input (`prepare_image`).

Only PNG, JPEG, BMP, GIF and WebP files are decoded (`IMAGE_FORMATS`; any other
format is refused by its signature, without running its decoder), and only when
the header declares at most MAX_PIXELS pixels: a file's header is parsed first
(`_open_header`), its pixels afterwards (`_decode`). `aecore.uploads` reads zips
and folders of such files through the same functions.

Conversion rules: EXIF orientation is applied; GIFs use their first frame;
transparent images (RGBA, LA, palette with transparency, grey or RGB with a
transparent colour) are composited over a WHITE background; values are scaled by
the mode's bit depth, never by the picture's own range (see `_pil_to_float`);
then the image is converted to grayscale ("L" weights) or RGB and resized
(stretched, LANCZOS) to size x size.
"""

import io
import os
import warnings
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps

from .data import _one_line

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


def _finish(arr, size, channels):
    """float (H, W, C) in [0, 1], C in (1, 3, 4) -> float32 (size, size, channels), stretched with LANCZOS."""
    if arr.shape[-1] == 4:  # RGBA array: composite over white
        alpha = arr[..., 3:4]
        arr = arr[..., :3] * alpha + (1.0 - alpha)
    if channels == 1 and arr.shape[-1] == 3:  # same weights as PIL's convert("L")
        arr = arr @ np.array([0.299, 0.587, 0.114], dtype=np.float32)[:, None]
    elif channels == 3 and arr.shape[-1] == 1:
        arr = np.repeat(arr, 3, axis=-1)
    arr = arr.astype(np.float32)
    if arr.shape[:2] != (size, size):
        arr = np.stack([np.asarray(Image.fromarray(np.ascontiguousarray(arr[..., c]))
                                   .resize((size, size), Image.Resampling.LANCZOS), dtype=np.float32)
                        for c in range(arr.shape[-1])], axis=-1)
    return np.clip(arr, 0.0, 1.0).astype(np.float32)


# Signatures ("magic bytes") of image and other formats, to say what a refused file is without
# running its decoder: (offset, bytes, name); the first match wins. Netpbm, PCX, ISO media (AVIF/HEIF),
# ICO/CUR (whose 4-byte signature an uncompressed TGA can start with) and TGA (no signature; guessed
# from its header, last) are recognised in _sniff.
_SIGNATURES = (
    (0, b"\x89PNG\r\n\x1a\n", "PNG"), (0, b"\xff\xd8\xff", "JPEG"), (0, b"GIF87a", "GIF"), (0, b"GIF89a", "GIF"),
    (8, b"WEBP", "WebP"), (0, b"BM", "BMP"),
    (0, b"II*\x00", "TIFF"), (0, b"MM\x00*", "TIFF"), (0, b"II+\x00", "BigTIFF"), (0, b"MM\x00+", "BigTIFF"),
    (0, b"SIMPLE", "FITS"), (0, b"\x01\xda", "SGI"),
    (0, b"Image type:", "IM"), (0, b"DDS ", "DDS"), (0, b"8BPS", "PSD"), (0, b"icns", "ICNS"),
    (0, b"\x00\x00\x00\x0cjP  \r\n\x87\n", "JPEG 2000"), (0, b"\xff\x4f\xff\x51", "JPEG 2000"),
    (0, b"%!PS", "EPS"), (0, b"\xc5\xd0\xd3\xc6", "EPS"), (0, b"%PDF", "PDF"), (0, b"qoif", "QOI"),
    (0, b"BLP1", "BLP"), (0, b"BLP2", "BLP"), (0, b"\x89HDF\r\n\x1a\n", "HDF5"), (0, b"GRIB", "GRIB"),
    (0, b"BUFR", "BUFR"), (0, b"DanM", "MSP"), (0, b"LinS", "MSP"), (0, b"\x59\xa6\x6a\x95", "Sun raster"),
    (0, b"\xb1\x68\xde\x3a", "DCX"), (0, b"FTEX", "FTEX"), (0, b"\x80\xe8\x00\x00", "Pixar"),
    (0, b"\xd7\xcd\xc6\x9a", "WMF"), (0, b"#define", "XBM"), (0, b"/* XPM */", "XPM"),
    (0, b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", "OLE (MIC)"), (20, b"GIMP", "GIMP brush"),
    (0, b"PK\x03\x04", "ZIP"), (0, b"\x1f\x8b", "gzip"), (0, b"<svg", "SVG"), (0, b"<?xml", "XML"),
    (0, b"RIFF", "RIFF"), (4, b"\x11\xaf", "FLI"), (4, b"\x12\xaf", "FLC"),
)
_NETPBM = {b"1": "PBM", b"4": "PBM", b"2": "PGM", b"5": "PGM", b"3": "PPM", b"6": "PPM", b"7": "PAM",
           b"f": "PFM", b"F": "PFM"}


def _sniff(head):
    """Name of the format a file's first bytes `head` announce ("PNG", "TIFF", "FITS", ...), or None.
    Only compares bytes: no decoder runs."""
    head = bytes(head[:64])
    for offset, magic, name in _SIGNATURES:
        if head[offset:offset + len(magic)] == magic:
            return name
    if head[:4] in (b"\x00\x00\x01\x00", b"\x00\x00\x02\x00") and int.from_bytes(head[4:6], "little") >= 1:
        return "ICO" if head[2] == 1 else "CUR"  # + the number of images, which a TGA has 0 of there
    if head[:1] == b"P" and head[1:2] in _NETPBM and head[2:3].isspace():
        return _NETPBM[head[1:2]]
    if len(head) >= 4 and head[0] == 0x0A and head[1] in (0, 2, 3, 4, 5) and head[2] in (0, 1) \
            and head[3] in (1, 2, 4, 8):  # manufacturer 10, version, RLE flag, bits per pixel
        return "PCX"
    if head[4:8] == b"ftyp":
        brand = head[8:12]
        return "AVIF" if brand in (b"avif", b"avis") else "HEIF" if brand in (b"heic", b"heix", b"mif1", b"msf1") \
            else "ISO media (MP4/MOV)"
    if (len(head) >= 18 and head[1] in (0, 1) and head[2] in (1, 2, 3, 9, 10, 11, 32, 33)
            and head[16] in (1, 8, 15, 16, 24, 32) and int.from_bytes(head[12:14], "little") > 0
            and int.from_bytes(head[14:16], "little") > 0):
        return "TGA"
    return None


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
        found = _sniff(data)
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


def prepare_image(source, size, channels, max_pixels=MAX_PIXELS):
    """Turn one user image into a model input: float32 (size, size, channels) in [0, 1].

    Args:
        source: a path (str or PathLike), bytes, a binary file-like object (e.g. a
            Streamlit UploadedFile), a PIL.Image, or an ndarray of shape (H, W) or
            (H, W, C) with C in (1, 3, 4), dtype uint8 or float in [0, 1].
            Files must be PNG, JPEG, BMP, GIF or WebP (`IMAGE_FORMATS`), whatever
            their name; other formats are refused without being decoded.
        size: output side length, int in 8..128 (usually 28, 32 or 64).
        channels: 1 (grayscale) or 3 (RGB).
        max_pixels: files whose header declares more than this width x height
            are refused before decoding; default MAX_PIXELS (40,000,000).
    See the module docstring for the conversion rules (EXIF, alpha over white, ...).
    """
    _check_size_channels(size, channels)
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
        return _finish(arr, size, channels)

    if isinstance(source, Image.Image):
        return _finish(_pil_to_float(source), size, channels)

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
    return _finish(_pil_to_float(im), size, channels)


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
