"""Pinned points (AppTest, the real tiny models): a click on the Latent Scatter's map pins the code there (raw
codes, the PCA plane) or the nearest point (t-SNE); pins are drawn on the map, decoded under it, refused with a
message when bad or too many, private to the session, and go to the Latent Slider and into Morph's walk."""

import io

import numpy as np
import pytest
from PIL import Image
from test_page_latent_scatter import PAGE, array, chart
from test_page_morph_walks import engine_and_codes, frames, gif_of

from pagetest import captions, images, open_page, trigger

HOVER = "latent_scatter_hover_images"  # the hover component: its "pin" trigger is a click on the map


def pin_trace(at) -> np.ndarray:
    """The pins drawn on the map, (K, 2), with their names."""
    (t,) = [t for t in chart(at)["data"] if t.get("name") == "pins"]
    return np.stack([array(t["x"]), array(t["y"])], axis=1).astype(float), list(t["text"])


def pins_of(at, entry) -> list:
    return at.session_state["pins"][entry.version]


def errors(at) -> list[str]:
    return [e.value for e in at.error]


def test_a_click_on_empty_space_pins_the_code_there_and_decodes_it(monkeypatch, models_dir, tiny_vae, tiny_ae,
                                                                  media):
    from aecore.axes import map_plane, map_position

    eng, codes, val = engine_and_codes(tiny_vae, models_dir)
    at = open_page(PAGE, monkeypatch, models_dir, tiny_vae)  # a VAE of latent 2: the map is the code
    assert not at.exception, at.exception
    assert "pins" not in [t.get("name") for t in chart(at)["data"]]
    assert any("Click empty space on the map to pin" in c.value for c in at.caption)

    at = trigger(at, HOVER, "pin", {"x": 0.5, "y": -1.25})
    assert not at.exception, at.exception
    (pin,) = pins_of(at, tiny_vae)
    assert pin.name == "P1" and pin.where == "decoded at (0.50, -1.25)"
    np.testing.assert_allclose(pin.code, [0.5, -1.25])
    xy, names = pin_trace(at)
    np.testing.assert_allclose(xy, [[0.5, -1.25]], atol=1e-6)
    assert names == ["P1"]
    # Its picture under the map is the decoder's picture of that code (the one the hover showed there).
    assert captions(at, "Pinned points") == ["P1"]
    assert "decoded at (0.50, -1.25) · z = [0.50, -1.25]" in [c.value for c in at.caption]
    (shown,) = [p for p in images(at, "Pinned points") if p.captions[0].startswith("P1")]
    got = np.asarray(Image.open(io.BytesIO(media(shown.value[0]))).convert("L"), np.float32) / 255
    want = eng.decode_one(np.float32([0.5, -1.25]))[..., 0]
    assert np.abs(got[::3, ::3] - want).max() <= 0.5 / 255 + 1e-6  # 28 px shown at 84: 3 × 3 each

    # A plain AE of latent 4: the map is the PCA plane; the pin is the code whose map position is the click.
    at = open_page(PAGE, monkeypatch, models_dir, tiny_ae)
    at = trigger(at, HOVER, "pin", {"x": 1.0, "y": 0.5})
    assert not at.exception, at.exception
    (pin,) = pins_of(at, tiny_ae)
    _, ae_codes, _ = engine_and_codes(tiny_ae, models_dir)
    base, u, v = map_plane(ae_codes)
    np.testing.assert_allclose(pin.code, base + 1.0 * u + 0.5 * v, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(map_position(pin.code, ae_codes)[0], [1.0, 0.5], atol=1e-4)
    np.testing.assert_allclose(pin_trace(at)[0], [[1.0, 0.5]], atol=1e-4)


def test_on_tsne_a_click_pins_the_nearest_point_and_bad_clicks_say_why(monkeypatch, models_dir, tiny_vae, tiny_ae):
    _, codes, val = engine_and_codes(tiny_ae, models_dir)
    at = open_page(PAGE, monkeypatch, models_dir, tiny_ae)
    at.radio(key="sct_method").set_value("tsne").run()
    assert any("pin the nearest point" in c.value for c in at.caption)
    at = trigger(at, HOVER, "pin", {"index": 17})
    assert not at.exception, at.exception
    (pin,) = pins_of(at, tiny_ae)
    np.testing.assert_allclose(pin.code, codes[17], atol=1e-5)
    assert pin.index == 17 and pin.where.startswith("#17")
    assert pin_trace(at)[1] == ["P1"]  # drawn where t-SNE placed #17

    # What the browser could send wrong: a number past the held-out set, a position on a map with no inverse.
    at = trigger(at, HOVER, "pin", {"index": 99999})
    assert not at.exception
    assert "Expected a held-out image number in 0..119, received 99999." in errors(at)
    at = trigger(at, HOVER, "pin", {"x": 1.0, "y": 2.0})
    assert any("received one on a map with no inverse" in e for e in errors(at))
    at = trigger(at, HOVER, "pin", {"x": "left"})
    assert any("Expected a map position {x, y} or a point {index}" in e for e in errors(at))
    assert len(pins_of(at, tiny_ae)) == 1  # nothing else pinned

    # "Pin this point" under a chosen point pins its code, once.
    at.number_input(key="sct_point").set_value(5).run()
    at.button(key="sct_pin_point").click().run()
    assert not at.exception, at.exception
    assert [p.index for p in pins_of(at, tiny_ae)] == [17, 5]
    assert any(c.value.startswith("Pinned as P2") for c in at.caption)
    assert not [b for b in at.button if b.key == "sct_pin_point"]


def test_pins_are_capped_removed_by_name_and_private_to_the_session(monkeypatch, models_dir, tiny_vae, tiny_ae):
    from pins import MAX_PINS

    at = open_page(PAGE, monkeypatch, models_dir, tiny_vae)
    for k in range(MAX_PINS + 1):
        at = trigger(at, HOVER, "pin", {"x": 0.1 * k, "y": 0.0})
    assert not at.exception, at.exception
    assert len(pins_of(at, tiny_vae)) == MAX_PINS
    assert f"Expected at most {MAX_PINS} pins per model, received a {MAX_PINS + 1}th: remove one first." \
        in errors(at)
    at.button(key="pins_remove_P2").click().run()
    names = [p.name for p in pins_of(at, tiny_vae)]
    assert "P2" not in names and len(names) == MAX_PINS - 1
    at = trigger(at, HOVER, "pin", {"x": 3.0, "y": 3.0})
    assert pins_of(at, tiny_vae)[-1].name == f"P{MAX_PINS + 1}"  # P2 is gone, and its name is not reused

    other = open_page(PAGE, monkeypatch, models_dir, tiny_vae)  # another person, same model
    assert not other.session_state["pins"] if "pins" in other.session_state else True
    assert "pins" not in [t.get("name") for t in chart(other)["data"]]
    at = open_page(PAGE, monkeypatch, models_dir, tiny_ae)  # another model: its own pins
    assert tiny_ae.version not in (at.session_state["pins"] if "pins" in at.session_state else {})


def test_a_pin_goes_to_the_latent_slider_and_into_a_walk(monkeypatch, models_dir, tiny_vae, tiny_ae, media):
    from aecore.axes import slider_axes

    eng, codes, val = engine_and_codes(tiny_vae, models_dir)
    at = open_page("app.py", monkeypatch, models_dir, tiny_vae)  # the app's navigation: buttons open other pages
    at.switch_page(PAGE).run()
    at = trigger(at, HOVER, "pin", {"x": 0.75, "y": -0.5})
    at = trigger(at, HOVER, "pin", {"x": -1.0, "y": 1.0})
    at.button(key="pins_slider_P1").click().run()
    assert not at.exception, at.exception
    assert any("The sliders are at P1's code (decoded at (0.75, -0.50)" in s.value for s in at.success)
    axes = slider_axes(2, codes, cover_prior=True)
    want = axes.from_code(np.float32([0.75, -0.5]))  # on the sliders' step, inside their ranges
    assert [at.session_state["sld_z0"], at.session_state["sld_z1"]] == pytest.approx(list(want), abs=1e-6)
    at.switch_page("pages/5_Latent_Slider.py").run()  # AppTest's next run would be its own page's: stay here
    assert not at.success  # once: a later run keeps whatever the sliders do next
    assert [at.session_state["sld_z0"], at.session_state["sld_z1"]] == pytest.approx(list(want), abs=1e-6)

    # Both pins into the walk, then Morph walks through them only.
    at.switch_page(PAGE).run()
    at.button(key="pins_walk_P1").click().run()
    at.button(key="pins_walk_P2").click().run()
    at.button(key="pins_to_morph").click().run()
    assert not at.exception, at.exception
    assert at.radio(key="mph_mode").value == "walk"
    assert at.multiselect(key="mph_wp_pins").value == ["P1", "P2"]
    at.switch_page("pages/6_Morph.py")
    at.slider(key="mph_steps").set_value(6).run()
    assert frames(gif_of(at, media)) == 6  # one leg, P1 -> P2
    assert [c.split(" ")[1] for c in captions(at, "Preview") if c[:2] in ("1:", "2:")] == ["P1", "P2"]
    # Held-out numbers first, then the pins: three stops, two legs.
    at.text_input(key="mph_wp_idx").set_value("4").run()
    assert frames(gif_of(at, media)) == 11
    at.multiselect(key="mph_wp_pins").unselect("P1").run()  # taken out here: out of the walk on the Scatter too
    assert [p.walk for p in at.session_state["pins"][tiny_vae.version]] == [False, True]
