"""The Latent Slider's "Directions" panel, run headless with AppTest on the real tiny conv AE: a class direction
(its strip and chosen image are the decoded codes z + t·(mean B − mean A)), code arithmetic A − B + C, "Send to the
sliders" for both, and the messages when labels or held-out images are missing."""

import base64
import dataclasses
import io

import numpy as np
import pytest
from PIL import Image

from aecore import directions
from pagetest import images, open_page

PAGE = "pages/5_Latent_Slider.py"
DIR_SHOWN, ARI_SHOWN = "sld_dir_shown", "sld_ari_shown"  # the panel's documented session-state keys


@pytest.fixture(scope="module")
def ae(tiny_ae, models_dir):
    """The tiny conv AE's engine, its held-out images and their codes (as the page encodes them)."""
    from aecore.builtin_data import load_dataset
    from aecore.cache import ModelCache
    from aecore.infer import Engine
    from aecore.train import prepare_data

    eng = Engine(ModelCache(models_dir).load(tiny_ae.key).model)
    val = prepare_data(tiny_ae.config, load_dataset("mnist", limit=600))[1]
    return eng, val, eng.encode(val.images)


def picture(at, caption: str) -> np.ndarray:
    """The pixels (H, W) in [0, 1] of the one picture captioned exactly `caption`, at the model's 28×28."""
    (pic,) = [p for p in images(at) if p.captions[0] == caption]
    a = np.asarray(Image.open(io.BytesIO(base64.b64decode(pic.value[0].split(",", 1)[1]))), np.float32) / 255
    f = a.shape[0] // 28
    return a[::f, ::f]


def sliders(at) -> np.ndarray:
    return np.array([at.slider(key=f"sld_z{i}").value for i in range(4)])


def expected_sliders(codes, z) -> np.ndarray:
    """What the page's sliders show for code z (the conv AE's 4 numbers: one slider each, ranges from the codes)."""
    from aecore.axes import RawAxes

    return RawAxes(4, codes).from_code(z)


def test_class_direction_strip_amount_send_and_same_class(monkeypatch, models_dir, tiny_ae, ae):
    eng, val, codes = ae
    at = open_page(PAGE, monkeypatch, models_dir, tiny_ae)
    assert not at.exception, at.exception
    assert any(e.label == "Directions: class A → B, and A − B + C" for e in at.get("expander"))
    present = np.unique(val.labels).tolist()
    a, b = at.selectbox(key="sld_dir_a").value, at.selectbox(key="sld_dir_b").value
    assert (a, b) == (present[0], present[1])
    start = at.number_input(key="sld_dir_start").value
    assert start == int(np.flatnonzero(val.labels == a)[0])  # the first held-out image of A
    assert at.slider(key="sld_dir_t").value == 1.0

    d = directions.class_direction(codes, val.labels, a, b)
    np.testing.assert_allclose(d, codes[val.labels == b].mean(0) - codes[val.labels == a].mean(0), atol=1e-5)
    shown = at.session_state[DIR_SHOWN]
    assert shown["start"] == start and shown["ts"] == [0, 0.25, 0.5, 0.75, 1, 1.0]
    want = eng.decode(codes[start] + d)[0]
    assert np.abs(shown["images"][4] - want).max() < 1e-4  # the strip's last image: t = 1
    assert np.abs(picture(at, "t = 1") - want[..., 0]).max() < 2 / 255  # ... and the picture on the page
    assert np.abs(picture(at, "t = 0") - eng.decode(codes[start])[0, ..., 0]).max() < 2 / 255
    assert np.abs(picture(at, f"start #{start} ({a})") - val.images[start, ..., 0]).max() < 1 / 255
    chosen = picture(at, f"t = 1: {a} → {b}")

    at.slider(key="sld_dir_t").set_value(0.5).run()  # another amount: another chosen picture
    assert not at.exception
    z_half = codes[start] + 0.5 * d
    assert np.abs(at.session_state[DIR_SHOWN]["images"][-1] - eng.decode(z_half)[0]).max() < 1e-4
    moved = picture(at, f"t = 0.5: {a} → {b}")
    assert np.abs(moved - chosen).max() > 0.05

    before = sliders(at)
    at.button(key="sld_dir_send").click().run()  # the page's sliders go to z + 0.5·d
    assert not at.exception
    want_sliders = expected_sliders(codes, z_half)
    np.testing.assert_allclose(sliders(at), want_sliders, atol=1e-6)
    assert np.abs(want_sliders - before).max() > 0

    c = present[2]
    at.selectbox(key="sld_dir_a").set_value(c).run()  # another class A: the start image follows it
    assert at.number_input(key="sld_dir_start").value == int(np.flatnonzero(val.labels == c)[0])
    at.selectbox(key="sld_dir_b").set_value(c).run()  # A == B: a warning, no strip
    assert not at.exception
    assert any("same class" in w.value for w in at.warning)
    assert DIR_SHOWN not in at.session_state and not [p for p in images(at) if p.captions[0].startswith("t = ")]


def test_arithmetic_shows_its_inputs_and_decodes_a_minus_b_plus_c(monkeypatch, models_dir, tiny_ae, ae):
    eng, val, codes = ae
    at = open_page(PAGE, monkeypatch, models_dir, tiny_ae)
    ia, ib, ic = (at.number_input(key=k).value for k in ("sld_ari_a", "sld_ari_b", "sld_ari_c"))
    assert val.labels[ia] == val.labels[ib] != val.labels[ic] and ia != ib  # the defaults: A, B alike; C not
    at.number_input(key="sld_ari_a").set_value(5)
    at.number_input(key="sld_ari_c").set_value(9).run()
    assert not at.exception, at.exception
    z = codes[5] - codes[ib] + codes[9]
    shown = at.session_state[ARI_SHOWN]
    assert shown["indices"] == [5, ib, 9]
    assert np.abs(shown["image"] - eng.decode(z)[0]).max() < 1e-4
    assert np.abs(picture(at, "decode(z_A − z_B + z_C)") - eng.decode(z)[0, ..., 0]).max() < 2 / 255
    for side, i in zip("ABC", (5, ib, 9)):  # the three inputs as they are, and their reconstructions
        assert np.abs(picture(at, f"{side}: #{i} ({val.labels[i]})") - val.images[i, ..., 0]).max() < 1 / 255
        assert np.abs(picture(at, f"decode(z_{side})") - eng.decode(codes[i])[0, ..., 0]).max() < 2 / 255

    at.button(key="sld_ari_send").click().run()
    assert not at.exception
    np.testing.assert_allclose(sliders(at), expected_sliders(codes, z), atol=1e-6)


def test_without_labels_or_held_out_images_the_panel_says_so(monkeypatch, models_dir, tiny_ae):
    import ui

    held_out = ui.held_out
    monkeypatch.setattr(ui, "held_out", lambda entry: dataclasses.replace(held_out(entry), labels=None,
                                                                           class_names=[]))
    at = open_page(PAGE, monkeypatch, models_dir, tiny_ae)
    assert not at.exception, at.exception
    assert any("needs labelled images" in i.value for i in at.info)
    assert [at.number_input(key=k).value for k in ("sld_ari_a", "sld_ari_b", "sld_ari_c")] == [0, 1, 2]
    assert any(p.captions[0] == "A: #0" for p in images(at))  # arithmetic works without labels

    monkeypatch.setattr(ui, "held_out", lambda entry: None)
    at = open_page(PAGE, monkeypatch, models_dir, tiny_ae)
    assert not at.exception, at.exception
    assert any("class direction needs the model's held-out images" in i.value for i in at.info)
    assert any("Arithmetic picks three held-out images" in i.value for i in at.info)
    assert not [b for b in at.button if b.key in ("sld_dir_send", "sld_ari_send")]
    assert DIR_SHOWN not in at.session_state and ARI_SHOWN not in at.session_state
