"""Tests for aecore.media: uint8 conversion, playback order, GIF/MP4 encoding, grids."""

import io

import imageio.v2 as imageio
import numpy as np
import pytest
from PIL import Image

from aecore import media


def _frames(shape, seed=0):
    return np.random.default_rng(seed).random(shape)


def _open_gif(data):
    gif = Image.open(io.BytesIO(data))
    durations = []
    for i in range(gif.n_frames):
        gif.seek(i)
        durations.append(gif.info["duration"])
    gif.seek(0)
    return gif, durations


def test_to_uint8_clips_scales_and_squeezes():
    frames = np.array([[[-0.5, 0.0], [0.5, 2.0]]])[..., None]  # (1, 2, 2, 1)
    out = media.to_uint8(frames)
    assert out.dtype == np.uint8 and out.shape == (1, 2, 2)
    np.testing.assert_array_equal(out[0], [[0, 0], [128, 255]])
    assert media.to_uint8(_frames((3, 4, 5, 3))).shape == (3, 4, 5, 3)
    assert media.to_uint8(_frames((3, 4, 5))).shape == (3, 4, 5)
    raw = np.zeros((2, 4, 4, 3), np.uint8)
    assert media.to_uint8(raw) is raw
    with pytest.raises(ValueError, match="Expected 1 or 3 channels"):
        media.to_uint8(_frames((2, 4, 4, 2)))
    with pytest.raises(ValueError, match="Expected"):
        media.to_uint8(_frames((4, 4)))


def test_sequence_order():
    assert media.sequence("ABCD") == list("ABCD")
    assert media.sequence("ABCD", bounce=True) == list("ABCDCB")
    assert media.sequence("ABCD", hold=2) == list("AAABCDDD")
    assert media.sequence("ABCD", bounce=True, hold=1) == list("AABCDDCB")
    assert media.sequence("AB", bounce=True) == list("AB")
    assert media.sequence("A", hold=2) == list("AAA")
    with pytest.raises(ValueError, match="Expected hold"):
        media.sequence("AB", hold=-1)
    with pytest.raises(ValueError, match="Expected at least 1"):
        media.sequence([])


def test_gif_basic_properties(tmp_path):
    path = tmp_path / "walk.gif"
    data = media.frames_to_gif(_frames((5, 28, 28, 1)), path=path, fps=10, upscale=4)
    assert path.read_bytes() == data
    gif, durations = _open_gif(data)
    assert gif.format == "GIF"
    assert gif.is_animated and gif.n_frames == 5
    assert gif.size == (112, 112)
    assert gif.info["loop"] == 0
    assert durations == [100] * 5


def test_gif_plays_once_without_loop():
    gif, _ = _open_gif(media.frames_to_gif(_frames((3, 8, 8, 3)), loop=False, upscale=1))
    assert "loop" not in gif.info
    assert gif.size == (8, 8)


@pytest.mark.parametrize("bounce, hold", [(False, 0), (True, 0), (False, 2), (True, 1)])
def test_gif_frame_count_with_bounce_and_hold(bounce, hold):
    n = 6
    frames = _frames((n, 10, 12, 3), seed=n)
    gif, durations = _open_gif(media.frames_to_gif(frames, fps=20, bounce=bounce, hold=hold, upscale=2))
    # Distinct frames are stored once; held copies are merged into a longer first/last frame.
    assert gif.n_frames == (2 * n - 2 if bounce else n)
    assert durations[0] == 50 * (1 + hold)
    assert durations[n - 1] == 50 * (1 + hold)
    assert sum(durations) == 50 * len(media.sequence(range(n), bounce=bounce, hold=hold))
    assert gif.size == (24, 20)


def test_gif_pixels_grayscale_roundtrip():
    frames = np.linspace(0, 1, 2 * 4 * 4).reshape(2, 4, 4)  # (T, H, W) grayscale floats
    gif, _ = _open_gif(media.frames_to_gif(frames, upscale=1))
    np.testing.assert_array_equal(np.asarray(gif.convert("L")), media.to_uint8(frames)[0])


@pytest.mark.parametrize("kwargs", [{"fps": 0}, {"fps": 51}, {"fps": "10"}, {"fps": True}, {"upscale": 0},
                                    {"upscale": 17}, {"upscale": 2.0}, {"hold": -1}])
def test_gif_bad_arguments(kwargs):
    with pytest.raises(ValueError, match="Expected"):
        media.frames_to_gif(_frames((3, 8, 8, 1)), **kwargs)


def test_gif_and_mp4_need_two_frames():
    with pytest.raises(ValueError, match="Expected at least 2 frames"):
        media.frames_to_gif(_frames((1, 8, 8, 1)))
    with pytest.raises(ValueError, match="Expected at least 2 frames"):
        media.frames_to_mp4(_frames((1, 8, 8, 1)))


def _read_mp4(path):
    reader = imageio.get_reader(path, format="ffmpeg")
    frames = [frame for frame in reader]
    meta = reader.get_meta_data()
    reader.close()
    return frames, meta


def test_mp4_bytes_and_frames(tmp_path):
    path = tmp_path / "walk.mp4"
    data = media.frames_to_mp4(_frames((6, 28, 28, 1)), path=path, fps=10, bounce=True, hold=1)
    assert data[4:8] == b"ftyp"
    assert path.read_bytes() == data
    frames, meta = _read_mp4(str(path))
    expected = len(media.sequence(range(6), bounce=True, hold=1))  # 12
    assert abs(len(frames) - expected) <= 1
    assert frames[0].shape == (112, 112, 3)
    assert meta["fps"] == pytest.approx(10)
    assert meta["pix_fmt"].startswith("yuv420p")


def test_mp4_odd_size_is_padded_to_even(tmp_path):
    path = tmp_path / "odd.mp4"
    media.frames_to_mp4(_frames((3, 7, 9, 3)), path=path, upscale=1, fps=5)
    frames, _ = _read_mp4(str(path))
    assert abs(len(frames) - 3) <= 1
    assert frames[0].shape == (8, 10, 3)


def test_mp4_bad_fps():
    with pytest.raises(ValueError, match="Expected fps"):
        media.frames_to_mp4(_frames((3, 8, 8, 1)), fps=0)


def test_grid_image_layout():
    images = np.zeros((5, 4, 3, 1))
    images[2] = 1.0
    grid = media.grid_image(images, ncols=3, pad=1)
    assert grid.dtype == np.uint8
    assert grid.shape == (2 * 4 + 1, 3 * 3 + 2)  # grayscale: 2-D
    np.testing.assert_array_equal(grid[0:4, 0:3], 0)  # image 0
    np.testing.assert_array_equal(grid[0:4, 8:11], 255)  # image 2 is white
    assert (grid[4, :] == 255).all()  # padding row
    np.testing.assert_array_equal(grid[5:9, 8:11], 255)  # unused cell

    colour = media.grid_image(_frames((6, 4, 4, 3)), ncols=2, pad=0, upscale=2)
    assert colour.shape == (3 * 8, 2 * 8, 3)
    assert media.grid_image(_frames((2, 4, 4, 3)), ncols=10).shape == (4, 9, 3)
    with pytest.raises(ValueError, match="Expected ncols"):
        media.grid_image(images, ncols=0)
