"""Turning decoded frames into pictures and animations.

Latent-space walks and interpolations produce a stack of decoded images
(float arrays in [0, 1]). This module turns such a stack into an animated GIF
(Pillow) or an H.264 MP4 (moviepy + ffmpeg), both returned as bytes ready for
`st.image` / `st.video` / download buttons, and tiles batches of images into
one grid picture (`grid_image`; `labelled_grid` adds tick labels and axis
titles and says where its tiles are, as a `TileBox`). Tiny images (28x28) are
upscaled with nearest-neighbour pixel repetition so they stay crisp.

`LABEL_COLOURS` colour the classes of a dataset on a chart: Tableau 10 first
(ten hues told apart at a glance, `cie76` > 25 between any two), then its
lighter Tableau 20 companions.
"""

from __future__ import annotations

import dataclasses
import functools
import io
import math
import os
import tempfile

import numpy as np
from PIL import Image, ImageDraw, ImageFont

MIN_FPS, MAX_FPS = 1, 50  # GIF frame delays are whole centiseconds: 50 fps = 2 cs.
MIN_UPSCALE, MAX_UPSCALE = 1, 16


def to_uint8(frames) -> np.ndarray:
    """Convert float frames in [0, 1] to uint8 for display or encoding.

    Args:
        frames: array of shape (T, H, W, C) with C in {1, 3}, or (T, H, W)
            grayscale. Floats are clipped to [0, 1] and scaled to 0..255
            (NaN becomes 0); uint8 input is returned unchanged.

    Returns:
        uint8 array of shape (T, H, W, 3) for colour, or (T, H, W) for
        grayscale (a single channel is squeezed away).
    """
    frames = np.asarray(frames)
    if frames.ndim not in (3, 4):
        raise ValueError(f"Expected frames of shape (T, H, W, C) or (T, H, W), received {frames.shape}.")
    if frames.ndim == 4 and frames.shape[-1] not in (1, 3):
        raise ValueError(f"Expected 1 or 3 channels, received {frames.shape[-1]} (shape {frames.shape}).")
    if frames.ndim == 4 and frames.shape[-1] == 1:
        frames = frames[..., 0]
    if frames.dtype == np.uint8:
        return frames
    if not np.issubdtype(frames.dtype, np.floating):
        raise ValueError(f"Expected float frames in [0, 1] or uint8, received dtype {frames.dtype}.")
    scaled = np.round(np.clip(np.nan_to_num(frames, nan=0.0), 0.0, 1.0) * 255.0)
    return scaled.astype(np.uint8)


def sequence(frames, bounce: bool = False, hold: int = 0) -> list:
    """Playback order of the frames.

    Args:
        frames: a sequence (list or array) of at least one frame.
        bounce: if True, play forward then back, A..B..A, appending the
            reversed middle frames so neither end is shown twice in a row
            when looping. Default False.
        hold: show the first frame and the last frame of the forward pass
            `hold` extra times each (a pause at both ends). Default 0.

    Returns:
        list of frames: [first] * (1 + hold) + middle + [last] * (1 + hold),
        followed by the reversed middle when `bounce`.
    """
    frames = list(frames)
    if len(frames) < 1:
        raise ValueError("Expected at least 1 frame, received 0.")
    if isinstance(hold, bool) or not isinstance(hold, (int, np.integer)) or hold < 0:
        raise ValueError(f"Expected hold to be an integer >= 0, received {hold!r}.")
    if len(frames) == 1:
        return frames * (1 + hold)
    first, middle, last = frames[0], frames[1:-1], frames[-1]
    order = [first] * (1 + hold) + middle + [last] * (1 + hold)
    if bounce:
        order += middle[::-1]
    return order


def _check_range(name: str, value, low: int, high: int, integer: bool) -> None:
    types = (int, np.integer) if integer else (int, float, np.integer, np.floating)
    if isinstance(value, bool) or not isinstance(value, types) or not low <= value <= high:
        number = "an integer" if integer else "a number"
        raise ValueError(f"Expected {name} to be {number} in {low}..{high}, received {value!r}.")


def _prepare(frames, fps, bounce, upscale, hold) -> list:
    """Validate, convert to uint8, upscale (nearest) and order the frames."""
    _check_range("fps", fps, MIN_FPS, MAX_FPS, integer=False)
    _check_range("upscale", upscale, MIN_UPSCALE, MAX_UPSCALE, integer=True)
    frames = to_uint8(frames)
    if len(frames) < 2:
        raise ValueError(f"Expected at least 2 frames for an animation, received {len(frames)}.")
    frames = frames.repeat(upscale, axis=1).repeat(upscale, axis=2)
    return sequence(frames, bounce=bounce, hold=hold)


def _write(data: bytes, path) -> None:
    if path is not None:
        with open(path, "wb") as f:
            f.write(data)


def frames_to_gif(frames, path=None, fps=10, loop: bool = True, bounce: bool = False, upscale: int = 4,
                  hold: int = 0) -> bytes:
    """Encode frames as an animated GIF.

    Args:
        frames: (T, H, W, C) or (T, H, W) floats in [0, 1] (or uint8), T >= 2.
        path: if given, also write the GIF to this file. Default None.
        fps: frames per second, 1..50; each frame lasts round(1000 / fps) ms
            (GIF stores whole centiseconds). Default 10.
        loop: if True (default) loop forever; if False play once (the
            looping extension is left out of the file).
        bounce: play forward then backward, see `sequence`. Default False.
        upscale: integer nearest-neighbour magnification, 1..16. Default 4.
        hold: extra repeats of the first and last frame, see `sequence`. Default 0.

    Returns:
        The GIF file as bytes. Pillow merges consecutive identical frames
        into one longer frame, so held frames show up as longer durations,
        not as extra frames.
    """
    ordered = _prepare(frames, fps, bounce, upscale, hold)
    images = [Image.fromarray(frame) for frame in ordered]
    options = {"save_all": True, "append_images": images[1:], "duration": round(1000 / fps), "disposal": 2}
    if loop:
        options["loop"] = 0
    buffer = io.BytesIO()
    images[0].save(buffer, format="GIF", **options)
    data = buffer.getvalue()
    _write(data, path)
    return data


def frames_to_mp4(frames, path=None, fps=10, bounce: bool = False, upscale: int = 4, hold: int = 0) -> bytes:
    """Encode frames as an H.264 MP4 (yuv420p, plays in browsers) via moviepy.

    H.264 with 4:2:0 chroma needs even width and height, so an odd-sized
    result is padded by repeating its last row/column.

    Args:
        frames: (T, H, W, C) or (T, H, W) floats in [0, 1] (or uint8), T >= 2.
        path: if given, also write the MP4 to this file. Default None.
        fps: frames per second, 1..50. Default 10.
        bounce: play forward then backward, see `sequence`. Default False.
        upscale: integer nearest-neighbour magnification, 1..16. Default 4.
        hold: extra repeats of the first and last frame, see `sequence`. Default 0.

    Returns:
        The MP4 file as bytes.
    """
    try:  # moviepy >= 2
        from moviepy import ImageSequenceClip
    except ImportError:  # moviepy 1.x
        from moviepy.editor import ImageSequenceClip

    ordered = _prepare(frames, fps, bounce, upscale, hold)
    height, width = ordered[0].shape[:2]
    pad = ((0, height % 2), (0, width % 2))
    rgb = []
    for frame in ordered:
        if frame.ndim == 2:
            frame = np.stack([frame] * 3, axis=-1)
        rgb.append(np.pad(frame, pad + ((0, 0),), mode="edge"))

    handle, tmp_path = tempfile.mkstemp(suffix=".mp4")
    os.close(handle)
    try:
        clip = ImageSequenceClip(rgb, fps=fps)
        try:
            clip.write_videofile(
                tmp_path,
                fps=fps,
                codec="libx264",
                audio=False,
                logger=None,
                ffmpeg_params=["-pix_fmt", "yuv420p"],
            )
        finally:
            clip.close()
        with open(tmp_path, "rb") as f:
            data = f.read()
    finally:
        os.remove(tmp_path)
    _write(data, path)
    return data


def grid_image(images, ncols: int, pad: int = 1, upscale: int = 1) -> np.ndarray:
    """Tile a batch of images into one uint8 picture, row by row.

    Used for latent manifold grids and original/reconstruction rows. Tiles
    are separated by `pad` white pixels (no outer border); unused cells of the
    last row are white.

    Args:
        images: (N, H, W, C) with C in {1, 3}, or (N, H, W); floats in [0, 1]
            or uint8. N >= 1.
        ncols: number of columns, >= 1 (capped at N).
        pad: white pixels between tiles, 0..64. Default 1.
        upscale: integer nearest-neighbour magnification of each tile
            (applied before padding), 1..16. Default 1.

    Returns:
        uint8 array of shape (rows*h + (rows-1)*pad, cols*w + (cols-1)*pad, 3)
        for colour, or without the last axis for grayscale, where h, w are the
        upscaled tile size.
    """
    _check_range("ncols", ncols, 1, 10**6, integer=True)
    _check_range("pad", pad, 0, 64, integer=True)
    _check_range("upscale", upscale, MIN_UPSCALE, MAX_UPSCALE, integer=True)
    tiles = to_uint8(images)
    if len(tiles) < 1:
        raise ValueError("Expected at least 1 image, received 0.")
    tiles = tiles.repeat(upscale, axis=1).repeat(upscale, axis=2)
    n, h, w = tiles.shape[:3]
    cols = min(int(ncols), n)
    rows = -(-n // cols)
    out_shape = (rows * h + (rows - 1) * pad, cols * w + (cols - 1) * pad) + tiles.shape[3:]
    grid = np.full(out_shape, 255, dtype=np.uint8)
    for i, tile in enumerate(tiles):
        top = (i // cols) * (h + pad)
        left = (i % cols) * (w + pad)
        grid[top : top + h, left : left + w] = tile
    return grid


@dataclasses.dataclass(frozen=True)
class TileBox:
    """Where the tiles of a `labelled_grid` picture are: the top-left tile at (`left`, `top`) pixels, each
    `cell` pixels square, `pad` pixels apart, `rows` × `cols` of them, in a picture `width` × `height`.

    Positions in the picture are given as fractions of its width and height (0..1), so they hold however
    large the picture is shown.
    """

    left: int
    top: int
    cell: int
    pad: int
    rows: int
    cols: int
    width: int
    height: int

    def fraction(self, col: float, row: float) -> tuple[float, float]:
        """The picture position (fx, fy) of a point in tile units: tile (row, col)'s centre at whole numbers."""
        step = self.cell + self.pad
        return ((self.left + self.cell / 2 + col * step) / self.width,
                (self.top + self.cell / 2 + row * step) / self.height)

    def area(self) -> tuple[float, float, float, float]:
        """The tiles' bounding box as fractions of the picture: (left, top, right, bottom)."""
        step = self.cell + self.pad
        return (self.left / self.width, self.top / self.height,
                (self.left + self.cols * step - self.pad) / self.width,
                (self.top + self.rows * step - self.pad) / self.height)

    def tile_at(self, fx: float, fy: float) -> tuple[int, int] | None:
        """The tile (row, col) at picture position (fx, fy) (a gap between tiles counts for the nearer one);
        None outside the tiles."""
        if not all(isinstance(f, (int, float, np.integer, np.floating)) and math.isfinite(f) for f in (fx, fy)):
            raise ValueError(f"Expected a position (fx, fy) of finite numbers, received ({fx!r}, {fy!r}).")
        step = self.cell + self.pad
        px, py = fx * self.width - self.left + self.pad / 2, fy * self.height - self.top + self.pad / 2
        col, row = math.floor(px / step), math.floor(py / step)
        return (row, col) if 0 <= row < self.rows and 0 <= col < self.cols else None


@functools.lru_cache(maxsize=8)
def _font(px: int):
    try:
        return ImageFont.load_default(size=px)
    except (TypeError, ValueError, OSError):  # a Pillow without FreeType: its small bitmap font
        return ImageFont.load_default()


def labelled_grid(images, ncols: int, pad: int = 1, upscale: int = 1, x_ticks=(), y_ticks=(), x_title: str = "",
                  y_title: str = "", font_px: int = 13) -> tuple[np.ndarray, TileBox]:
    """`grid_image` with tick labels and axis titles on a white margin: a manifold grid that says where it is.

    Args:
        images, ncols, pad, upscale: as for `grid_image`.
        x_ticks: (column, label) pairs: a tick and its label under that column's centre. Default none.
        y_ticks: (row, label) pairs: a tick and its label left of that row's centre (row 0 at the top).
        x_title: under the x labels; y_title: left of the y labels, written upwards. Default none.
        font_px: the labels' height in pixels, 6..64. Default 13.

    Returns:
        (uint8 picture (H, W) for grayscale images or (H, W, 3) for colour, the `TileBox` of its tiles).
    """
    _check_range("font_px", font_px, 6, 64, integer=True)
    tiles = grid_image(images, ncols, pad=pad, upscale=upscale)
    n = len(images)
    cols = min(int(ncols), n)
    rows = -(-n // cols)
    cell = (tiles.shape[1] - (cols - 1) * pad) // cols
    x_ticks = [(int(c), str(t)) for c, t in x_ticks]
    y_ticks = [(int(r), str(t)) for r, t in y_ticks]
    for name, ticks, most in (("x_ticks", x_ticks, cols), ("y_ticks", y_ticks, rows)):
        bad = [i for i, _ in ticks if not 0 <= i < most]
        if bad:
            raise ValueError(f"Expected {name} positions in 0..{most - 1}, received {bad}.")
    font = _font(font_px)
    size = (lambda text: font.getbbox(text)[2:]) if hasattr(font, "getbbox") else (lambda text: font.getsize(text))
    tick, gap = 4, 3
    label_h = max([size(t)[1] for _, t in x_ticks + y_ticks] + [font_px])
    y_label_w = max([size(t)[0] for _, t in y_ticks] + [0])
    left = tick + gap + y_label_w + gap + ((label_h + gap) if y_title else 0)
    bottom = tick + gap + label_h + gap + ((label_h + gap) if x_title else 0)
    last_w = max([size(t)[0] for c, t in x_ticks if c == cols - 1] + [0])
    right, top = max(gap, math.ceil(last_w / 2 - cell / 2) + gap), gap
    first_w = max([size(t)[0] for c, t in x_ticks if c == 0] + [0])
    left = max(left, math.ceil(first_w / 2 - cell / 2) + gap)
    colour = tiles.ndim == 3
    picture = Image.new("RGB" if colour else "L", (left + tiles.shape[1] + right, top + tiles.shape[0] + bottom),
                        (255, 255, 255) if colour else 255)
    picture.paste(Image.fromarray(tiles), (left, top))
    box = TileBox(left, top, cell, pad, rows, cols, picture.width, picture.height)
    ink = (60, 60, 60) if colour else 60
    draw = ImageDraw.Draw(picture)
    base = top + tiles.shape[0]
    for c, text in x_ticks:
        x = round(box.fraction(c, 0)[0] * box.width)
        draw.line([(x, base + 1), (x, base + tick)], fill=ink)
        draw.text((x, base + tick + gap), text, fill=ink, font=font, anchor="mt")
    for r, text in y_ticks:
        y = round(box.fraction(0, r)[1] * box.height)
        draw.line([(left - tick, y), (left - 2, y)], fill=ink)
        draw.text((left - tick - gap, y), text, fill=ink, font=font, anchor="rm")
    if x_title:
        draw.text((left + tiles.shape[1] // 2, picture.height - gap), x_title, fill=ink, font=font, anchor="md")
    if y_title:
        w, h = size(y_title)
        label = Image.new(picture.mode, (w + 2, label_h + 2), (255, 255, 255) if colour else 255)
        ImageDraw.Draw(label).text((1, 1), y_title, fill=ink, font=font)
        label = label.rotate(90, expand=True)
        picture.paste(label, (gap, max(0, top + tiles.shape[0] // 2 - label.height // 2)))
    return np.asarray(picture), box


def png_bytes(pixels, compress_level: int = 1) -> bytes:
    """uint8 pixels (H, W) or (H, W, 3) as PNG file bytes (lossless).

    Args:
        pixels: the picture, e.g. from `labelled_grid`.
        compress_level: zlib's effort, 0..9. Default 1: a manifold grid encodes about 4x faster than at zlib's
            usual 6 for about 12% more bytes (it is made again while the sliders move).
    """
    _check_range("compress_level", compress_level, 0, 9, integer=True)
    a = np.asarray(pixels)
    if a.dtype != np.uint8 or not (a.ndim == 2 or (a.ndim == 3 and a.shape[2] == 3)):
        raise ValueError(f"Expected uint8 pixels shaped (H, W) or (H, W, 3), received {a.dtype} {a.shape}.")
    buffer = io.BytesIO()
    Image.fromarray(a).save(buffer, format="PNG", compress_level=int(compress_level))
    return buffer.getvalue()


# --- label colours --------------------------------------------------------------------------------
TABLEAU10 = ("#4E79A7", "#F28E2B", "#E15759", "#76B7B2", "#59A14F",
             "#EDC948", "#B07AA1", "#FF9DA7", "#9C755F", "#BAB0AC")  # Tableau 10 (2016): blue, orange, red, ...
TABLEAU20_LIGHT = ("#A0CBE8", "#FFBE7D", "#FF9D9A", "#86BCB6", "#8CD17D",
                   "#F1CE63", "#D4A6C8", "#FABFD2", "#D7B5A6", "#79706E")  # Tableau 20's companions of each
LABEL_COLOURS = TABLEAU10 + TABLEAU20_LIGHT


def label_colour(i: int) -> str:
    """The colour of class number i (>= 0): `LABEL_COLOURS`, repeating after 20."""
    if isinstance(i, bool) or not isinstance(i, (int, np.integer)) or i < 0:
        raise ValueError(f"Expected a class number (an integer >= 0), received {i!r}.")
    return LABEL_COLOURS[int(i) % len(LABEL_COLOURS)]


def hex_to_lab(colour: str) -> np.ndarray:
    """A "#RRGGBB" sRGB colour in CIE L*a*b* (D65 white): (3,) float."""
    text = str(colour)
    if len(text) != 7 or text[0] != "#" or any(ch not in "0123456789abcdefABCDEF" for ch in text[1:]):
        raise ValueError(f"Expected a colour as #RRGGBB, received {colour!r}.")
    rgb = np.array([int(text[i:i + 2], 16) for i in (1, 3, 5)]) / 255.0
    linear = np.where(rgb > 0.04045, ((rgb + 0.055) / 1.055) ** 2.4, rgb / 12.92)
    xyz = np.array([[0.4124564, 0.3575761, 0.1804375], [0.2126729, 0.7151522, 0.0721750],
                    [0.0193339, 0.1191920, 0.9503041]]) @ linear / np.array([0.95047, 1.0, 1.08883])
    f = np.where(xyz > (6 / 29) ** 3, np.cbrt(xyz), xyz / (3 * (6 / 29) ** 2) + 4 / 29)
    return np.array([116 * f[1] - 16, 500 * (f[0] - f[1]), 200 * (f[1] - f[2])])


def cie76(a: str, b: str) -> float:
    """The CIE76 colour difference ΔE*ab of two "#RRGGBB" colours: the distance in L*a*b* (about 2.3 is just
    noticeable; above 25 two colours are told apart at a glance)."""
    return float(np.linalg.norm(hex_to_lab(a) - hex_to_lab(b)))
