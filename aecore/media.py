"""Turning decoded frames into pictures and animations.

Latent-space walks and interpolations produce a stack of decoded images
(float arrays in [0, 1]). This module turns such a stack into an animated GIF
(Pillow) or an H.264 MP4 (moviepy + ffmpeg), both returned as bytes ready for
`st.image` / `st.video` / download buttons, and tiles batches of images into
one grid picture. Tiny images (28x28) are upscaled with nearest-neighbour
pixel repetition so they stay crisp.
"""

from __future__ import annotations

import io
import os
import tempfile

import numpy as np
from PIL import Image

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
