"""The Latent Slider's manifold grid, run headless with AppTest on the real tiny models: centred on a plain
AE's codes, ticks and a PNG download, the crosshair at the sliders' point, and a click on a tile."""

import io
import json

import numpy as np
import pytest
from PIL import Image

from pagetest import open_page, trigger

PAGE = "pages/5_Latent_Slider.py"
GRID_MEMO = "sld_grid_memo"  # the page's documented session-state key: the grid shown (its Grid, TileBox, PNG)
OVERLAY = "latent_slider_grid_overlay"  # the component that draws the crosshair and reports clicks


def overlay(at) -> dict:
    """What the page hands its crosshair-and-click component: {"box", "grid", "area", "cross"}."""
    (comp,) = [c for c in at.get("bidi_component") if c.proto.component_name == OVERLAY]
    assert not comp.proto.isolate_styles and "setTriggerValue" in comp.proto.js_content
    return json.loads(comp.proto.json)


def click(at, fx: float, fy: float, grid: str):
    """Simulate a click on the grid's picture at (fx, fy), fractions of its width and height: the trigger the
    component sends."""
    return trigger(at, OVERLAY, "click", {"fx": fx, "fy": fy, "grid": grid})


def grid_image(at):
    (image,) = [el for el in at.main if el.type == "image" and el.captions[0].startswith(("10×10", "6×6"))]
    return image


@pytest.fixture(scope="module")
def ae_codes(tiny_ae, models_dir):
    """The tiny conv AE's engine and its held-out codes (as the page encodes them)."""
    from aecore.builtin_data import load_dataset
    from aecore.cache import ModelCache
    from aecore.infer import Engine
    from aecore.train import prepare_data

    eng = Engine(ModelCache(models_dir).load(tiny_ae.key).model)
    return eng, eng.encode(prepare_data(tiny_ae.config, load_dataset("mnist", limit=600))[1].images)


def test_a_plain_aes_grid_is_centred_on_its_codes_and_downloads_as_png(monkeypatch, models_dir, tiny_vae, tiny_ae,
                                                                          ae_codes, media):
    eng, codes = ae_codes
    at = open_page(PAGE, monkeypatch, models_dir, tiny_ae)  # conv AE, latent 4
    assert not at.exception, at.exception
    assert at.selectbox(key="sld_range").value == "codes"  # not a fixed range around 0
    g = at.session_state[GRID_MEMO].grid
    mean, std = codes.mean(axis=0), codes.std(axis=0)
    np.testing.assert_allclose(g.xs[[0, -1]], [mean[0] - 3 * std[0], mean[0] + 3 * std[0]], rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(g.ys[[0, -1]], [mean[1] + 3 * std[1], mean[1] - 3 * std[1]], rtol=1e-4, atol=1e-4)
    assert abs(g.xs[0] + 5) > 0.5 or abs(g.xs[-1] - 5) > 0.5  # not the old ±5 around 0
    caption = grid_image(at).captions[0]
    assert caption.startswith(f"10×10 = 100 decoded codes · x: z0 from {g.xs[0]:.3g}".replace("-", "−"))
    # The other numbers are held at the sliders' values (their defaults: the codes' mean).
    z = np.array([at.slider(key=f"sld_z{i}").value for i in range(4)], np.float32)
    np.testing.assert_allclose(g.codes()[:, 2:], np.broadcast_to(z[2:], (100, 2)), atol=1e-5)

    # The download: the same picture as shown, a PNG with its tiles where the TileBox says.
    (button,) = at.get("download_button")
    data = media(button.proto.url)
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and media.file(button.proto.url).mimetype == "image/png"
    pixels = np.asarray(Image.open(io.BytesIO(data)))
    assert data == media(grid_image(at).value[0])
    box = at.session_state[GRID_MEMO].box
    top, left, cell = box.top, box.left, box.cell
    tile = pixels[top:top + cell:cell // 28, left:left + cell:cell // 28].astype(np.float32) / 255
    expected = eng.decode(g.tile_code(0, 0)[None])[0, ..., 0]  # the top-left tile: (x low, y high)
    assert np.abs(tile - expected).max() < 2 / 255
    assert (pixels[top:top + 10 * cell, :left] < 128).any()  # the y tick labels, left of the tiles

    # k = 2: the grid spans mean ± 2 std.
    at.number_input(key="sld_k").set_value(2.0).run()
    g = at.session_state[GRID_MEMO].grid
    np.testing.assert_allclose(g.xs[[0, -1]], [mean[0] - 2 * std[0], mean[0] + 2 * std[0]], rtol=1e-4, atol=1e-4)


def test_the_crosshair_follows_the_sliders_without_a_new_picture(monkeypatch, models_dir, tiny_vae, tiny_ae):
    at = open_page(PAGE, monkeypatch, models_dir, tiny_ae)
    shown, data = at.session_state[GRID_MEMO], overlay(at)
    g, box = shown.grid, shown.box
    assert data["grid"] == shown.id and data["area"] == pytest.approx(list(box.area()))
    x0, y0 = at.slider(key="sld_z0").value, at.slider(key="sld_z1").value
    assert data["cross"] == pytest.approx(list(box.fraction(*g.tile_index(x0, y0))))
    url = grid_image(at).value[0]

    s0 = at.slider(key="sld_z0")
    at.slider(key="sld_z0").set_value(round(s0.value + (s0.max - s0.value) / 2, 2)).run()  # a grid axis's slider
    assert not at.exception
    moved = overlay(at)
    x1 = at.slider(key="sld_z0").value
    assert moved["cross"][0] > data["cross"][0] and moved["cross"][1] == pytest.approx(data["cross"][1])
    assert moved["cross"] == pytest.approx(list(box.fraction(*g.tile_index(x1, y0))))
    assert at.session_state[GRID_MEMO].id == shown.id and grid_image(at).value[0] == url  # the same picture

    at.slider(key="sld_z2").set_value(at.slider(key="sld_z2").min).run()  # another number: a new grid
    assert at.session_state[GRID_MEMO].id != shown.id and grid_image(at).value[0] != url


def test_a_click_on_a_tile_sets_the_sliders_to_its_code(monkeypatch, models_dir, tiny_vae, tiny_ae):
    at = open_page(PAGE, monkeypatch, models_dir, tiny_ae)
    at.slider(key="sld_n").set_value(6).run()
    shown = at.session_state[GRID_MEMO]
    fx, fy = shown.box.fraction(4, 1)  # the centre of row 1, column 4
    at = click(at, fx, fy, shown.id)
    assert not at.exception, at.exception
    want = shown.grid.tile_code(1, 4)
    got = [at.slider(key=f"sld_z{i}").value for i in range(4)]
    step = at.slider(key="sld_z0").step
    np.testing.assert_allclose(got, want, atol=step / 2 + 1e-6)  # the tile's code, to the sliders' step
    assert shown.box.tile_at(*overlay(at)["cross"]) == (1, 4)  # the crosshair is on that tile now

    at = click(at, 0.999, 0.999, at.session_state[GRID_MEMO].id)  # outside the tiles: nothing moves
    assert [at.slider(key=f"sld_z{i}").value for i in range(4)] == got
    fx, fy = shown.box.fraction(0, 0)
    at = click(at, fx, fy, "an older grid")  # a click on a picture since replaced: nothing moves
    assert [at.slider(key=f"sld_z{i}").value for i in range(4)] == got and not at.exception
