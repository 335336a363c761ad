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


def test_labelled_grid_places_the_tiles_where_its_tile_box_says():
    images = np.zeros((6, 4, 4, 1))
    images[4] = 1.0  # row 1, column 1 of a 2 x 3 grid is white
    pic, box = media.labelled_grid(images, ncols=3, pad=1, upscale=5, x_ticks=[(0, "-1.5"), (2, "1.5")],
                                   y_ticks=[(0, "20"), (1, "-20")], x_title="z0", y_title="z1")
    assert pic.dtype == np.uint8 and pic.ndim == 2 and pic.shape == (box.height, box.width)
    assert (box.rows, box.cols, box.cell, box.pad) == (2, 3, 20, 1)
    assert box.left > 20 and box.height > box.top + 2 * 20 + 1 + 10  # margins for the labels and titles
    t, left = box.top, box.left
    np.testing.assert_array_equal(pic[t:t + 20, left:left + 20], 0)  # tile (0, 0)
    np.testing.assert_array_equal(pic[t + 21:t + 41, left + 21:left + 41], 255)  # tile (1, 1): the white one
    np.testing.assert_array_equal(pic[t + 21:t + 41, left + 42:left + 62], 0)  # tile (1, 2)
    assert (pic[t:t + 41, :left] < 128).any() and (pic[t + 41:, left:] < 128).any()  # labels left and below

    # Positions as fractions of the picture: a tile's centre, the tiles' area, and back to the tile.
    fx, fy = box.fraction(1, 1)
    assert (fx * box.width, fy * box.height) == pytest.approx((left + 21 + 10, t + 21 + 10))
    assert box.tile_at(fx, fy) == (1, 1)
    assert box.tile_at(*box.fraction(2.4, -0.4)) == (0, 2)  # anywhere on a tile counts
    assert box.tile_at(*box.fraction(-0.6, 0)) is None and box.tile_at(0.999, 0.999) is None  # off the tiles
    x0, y0, x1, y1 = box.area()
    assert (x0 * box.width, y0 * box.height, x1 * box.width, y1 * box.height) == pytest.approx(
        (left, t, left + 62, t + 41))

    colour, _ = media.labelled_grid(_frames((4, 4, 4, 3)), ncols=2)
    assert colour.ndim == 3 and colour.shape[2] == 3
    with pytest.raises(ValueError, match=r"Expected x_ticks positions in 0..2, received \[3\]"):
        media.labelled_grid(images, ncols=3, x_ticks=[(3, "x")])
    with pytest.raises(ValueError, match="Expected a position"):
        box.tile_at(float("nan"), 0.5)


def test_the_first_ten_label_colours_are_told_apart_at_a_glance():
    import itertools

    from plotly.colors import qualitative
    from skimage.color import deltaE_ciede2000, rgb2lab

    def worst(colours, distance):
        return min(distance(a, b) for a, b in itertools.combinations(colours, 2))

    def de2000(a, b):
        lab = [rgb2lab(np.array([[[int(c[i:i + 2], 16) / 255 for i in (1, 3, 5)]]]))[0, 0] for c in (a, b)]
        return float(deltaE_ciede2000(*lab))

    first = media.LABEL_COLOURS[:10]
    assert len(set(first)) == 10 and first == media.TABLEAU10
    # CIE76 > 25 and CIEDE2000 > 15 between any two of the ten: Plotly's default palette, which drew 4 and 9
    # both orange and 0, 3, 8 in near shades of blue, purple and pink, fails both (21.8 and 12.6).
    assert worst(first, media.cie76) > 25 and worst(first, de2000) > 15
    assert worst(qualitative.Plotly[:10], media.cie76) < 25 and worst(qualitative.Plotly[:10], de2000) < 15
    # All visible on the app's dark background.
    assert min(media.cie76(c, "#0E1117") for c in media.LABEL_COLOURS) > 25
    assert media.label_colour(3) == first[3] and media.label_colour(23) == media.LABEL_COLOURS[3]

    # The L*a*b* conversion: known values (white, black, sRGB red) and skimage's for every colour.
    np.testing.assert_allclose(media.hex_to_lab("#FFFFFF"), [100, 0, 0], atol=0.01)
    np.testing.assert_allclose(media.hex_to_lab("#000000"), [0, 0, 0], atol=0.01)
    np.testing.assert_allclose(media.hex_to_lab("#FF0000"), [53.24, 80.09, 67.20], atol=0.02)
    for c in media.LABEL_COLOURS:
        ref = rgb2lab(np.array([[[int(c[i:i + 2], 16) / 255 for i in (1, 3, 5)]]]))[0, 0]
        np.testing.assert_allclose(media.hex_to_lab(c), ref, atol=0.01)
    with pytest.raises(ValueError, match="Expected a colour as #RRGGBB, received 'red'"):
        media.hex_to_lab("red")


def test_png_bytes_is_lossless_and_fast_by_default():
    gray = (np.arange(40 * 30) % 251).astype(np.uint8).reshape(40, 30)
    for pixels in (gray, np.stack([gray, gray[::-1], 255 - gray], axis=-1)):
        data = media.png_bytes(pixels)
        img = Image.open(io.BytesIO(data))
        assert img.format == "PNG" and img.size == (30, 40)
        np.testing.assert_array_equal(np.asarray(img), pixels)
    assert len(media.png_bytes(gray, compress_level=9)) <= len(media.png_bytes(gray))
    with pytest.raises(ValueError, match="Expected uint8 pixels shaped"):
        media.png_bytes(gray.astype(np.float32))
    with pytest.raises(ValueError, match="Expected compress_level to be an integer in 0..9, received 10"):
        media.png_bytes(gray, compress_level=10)
