"""The Latent Slider page, run headless with Streamlit's AppTest on real tiny models."""

import io

import numpy as np
import pytest
from PIL import Image

from pagetest import images, open_page, png

PAGE = "pages/5_Latent_Slider.py"
LAST_IMAGE = "sld_last_image"  # the page's documented session-state key: the last decoded image
GRID_MEMO = "sld_grid_memo"  # the page's documented session-state key: the grid shown (its Grid, TileBox, PNG)
GRID = "Manifold grid"  # the grid's section


def decoded(at):
    """The decoded image the sliders show (its caption: "decode(z), z = [...]")."""
    (image,) = images(at, prefix="decode(z)")
    return image


def grid(at, media):
    """The manifold grid: its caption, and its pixels."""
    (image,) = images(at, GRID)
    return image.captions[0], np.asarray(Image.open(io.BytesIO(media(image.value[0]))))


@pytest.fixture(scope="module")
def wide_ae(mnist_small, tmp_path_factory):
    """A dense AE with a 20-number code (more than 16: principal-direction sliders), in its own cache dir."""
    from aecore.cache import ModelCache, train_or_load
    from aecore.config import ModelConfig

    root = tmp_path_factory.mktemp("wide_models")
    cfg = ModelConfig(kind="ae", arch="dense", latent_dim=20, epochs=1, batch_size=64, hidden_units=(64,), limit=300)
    entry, _ = train_or_load(cfg, mnist_small, ModelCache(root))
    return entry, root


def wide_codes(entry, root):
    """The held-out codes of the `wide_ae` model (its 20-number codes of the held-out digits)."""
    from aecore.builtin_data import load_dataset
    from aecore.cache import ModelCache
    from aecore.infer import Engine
    from aecore.train import prepare_data

    eng = Engine(ModelCache(root).load(entry.key).model)
    return eng.encode(prepare_data(entry.config, load_dataset("mnist", limit=600))[1].images)


def latent_sliders(at, prefix="sld_z"):
    return [s for s in at.slider if s.key.startswith(prefix)]


def test_without_a_model_the_page_says_to_train_first(monkeypatch, tmp_path):
    at = open_page(PAGE, monkeypatch, tmp_path)
    assert not at.exception, at.exception
    assert any("Train" in i.value for i in at.info)
    assert not at.slider and not at.image


def test_sliders_decode_sample_reset_and_grid(monkeypatch, models_dir, tiny_vae, tiny_ae, media):
    at = open_page(PAGE, monkeypatch, models_dir, tiny_vae)
    assert not at.exception, at.exception
    assert at.title[0].value == "Latent Slider"
    sliders = latent_sliders(at)
    assert [s.key for s in sliders] == ["sld_z0", "sld_z1"]  # one per latent dimension
    for s in sliders:  # a VAE's ranges cover at least its prior's +-3
        assert s.min <= -3 and s.max >= 3 and s.min <= s.value <= s.max
    defaults = [s.value for s in sliders]

    # Moving a slider changes the decoded image (the array kept in session state and the image sent).
    before, url = at.session_state[LAST_IMAGE].copy(), decoded(at).value[0]
    assert before.shape == (28, 28, 1)
    at.slider(key="sld_z0").set_value(2.0).run()
    assert not at.exception
    assert at.slider(key="sld_z0").value == 2.0
    after = at.session_state[LAST_IMAGE]
    assert np.abs(after - before).max() > 1e-3 and decoded(at).value[0] != url
    assert "z = [2.00," in decoded(at).captions[0]

    # Random sample moves the sliders (set before they render: no exception, values in range).
    at.button(key="sld_random").click().run()
    assert not at.exception
    sampled = [s.value for s in latent_sliders(at)]
    assert sampled != [2.0, defaults[1]]
    assert all(s.min <= s.value <= s.max for s in latent_sliders(at))
    assert not np.allclose(at.session_state[LAST_IMAGE], after)

    at.button(key="sld_reset").click().run()
    assert [s.value for s in latent_sliders(at)] == defaults

    # The manifold grid: one picture of n x n tiles, 28 px digits upscaled to about 560 px, ticks around them.
    caption, pixels = grid(at, media)
    box = at.session_state[GRID_MEMO].box
    assert (box.rows, box.cols, box.cell, box.pad) == (10, 10, 56, 1)  # 10 tiles of 28*2 px, 1 px gaps
    assert pixels.shape[:2] == (box.height, box.width) and box.left > 0 and box.height > 10 * 56 + 9  # labels
    assert at.selectbox(key="sld_range").value == "±3"  # a VAE keeps its prior's preset
    assert caption.startswith("10×10 = 100 decoded codes · x: z0 from −3 (left) to 3 (right)")
    at.slider(key="sld_n").set_value(4).run()
    at.selectbox(key="sld_range").set_value("custom").run()
    at.number_input(key="sld_lim").set_value(2.5).run()
    assert not at.exception
    caption, pixels = grid(at, media)
    box = at.session_state[GRID_MEMO].box
    assert (box.rows, box.cell) == (4, 140)  # 4 tiles of 28*5 px
    assert caption.startswith("4×4 = 16 decoded codes · x: z0 from −2.5")
    # The grid's tiles are the decoded grid codes (corners: top-left is (x=-lim, y=+lim)).
    tile = pixels[box.top:box.top + 140:5, box.left:box.left + 140:5].astype(np.float32) / 255
    from aecore.cache import ModelCache
    from aecore.infer import Engine

    eng = Engine(ModelCache(models_dir).load(tiny_vae.key).model)
    expected = eng.decode(np.array([[-2.5, 2.5]], np.float32))[0, ..., 0]
    assert np.abs(tile - expected).max() < 2 / 255

    at.selectbox(key="sld_gy").set_value(0).run()
    assert not at.exception
    assert any("two different dimensions" in e.value and "z0 twice" in e.value for e in at.error)


def test_more_than_16_dimensions_gives_16_principal_direction_sliders(monkeypatch, wide_ae):
    entry, root = wide_ae
    at = open_page(PAGE, monkeypatch, root, entry)
    assert not at.exception, at.exception
    pcs = latent_sliders(at, "sld_pc")
    assert len(pcs) == 16 and not latent_sliders(at)
    assert all(s.min == -3 and s.max == 3 and s.value == 0 for s in pcs)
    assert any("principal directions" in c.value for c in at.caption)

    # The grid follows the sliders' principal directions by default: its tiles lie in the plane of PC 1 and
    # PC 2 through the codes' mean (the other sliders are at 0), spanning ± 3 spreads.
    assert at.radio(key="sld_gover").value == "pc" and len(at.selectbox(key="sld_gpx").options) == 16
    shown = at.session_state[GRID_MEMO]
    assert (shown.grid.x_name, shown.grid.y_name) == ("PC 1", "PC 2")
    np.testing.assert_allclose(shown.grid.xs[[0, -1]], [-3, 3])
    from aecore.axes import PrincipalAxes

    axes = PrincipalAxes(wide_codes(entry, root))
    offsets = shown.grid.codes() - axes.mean
    in_plane = offsets @ axes.directions[:2].T @ axes.directions[:2]
    np.testing.assert_allclose(offsets, in_plane, atol=1e-3)  # no component off the PC 1-PC 2 plane
    np.testing.assert_allclose(axes.coordinates(shown.grid.tile_code(0, 0))[:2], [-3, 3], atol=1e-4)
    at.radio(key="sld_gover").set_value("raw").run()  # or two raw code numbers
    assert not at.exception
    assert len(at.selectbox(key="sld_gx").options) == 20 and at.session_state[GRID_MEMO].grid.x_name == "z0"
    assert any("two code numbers" in c.value for c in at.caption)  # the grid says what it varies

    before = at.session_state[LAST_IMAGE].copy()
    at.slider(key="sld_pc0").set_value(2.0).run()
    assert not at.exception
    assert np.abs(at.session_state[LAST_IMAGE] - before).max() > 1e-3

    at.button(key="sld_random").click().run()  # a plain AE samples a Gaussian fitted to its codes
    assert not at.exception
    assert any(s.value != 0 for s in latent_sliders(at, "sld_pc")[1:])


def test_uploads_bad_then_good(monkeypatch, models_dir, tiny_vae, tiny_ae):
    at = open_page(PAGE, monkeypatch, models_dir, tiny_ae)  # conv AE, latent 4
    assert not at.exception
    assert [s.key for s in latent_sliders(at)] == ["sld_z0", "sld_z1", "sld_z2", "sld_z3"]
    before = [s.value for s in latent_sliders(at)]

    at.file_uploader(key="sld_upload").upload("x.png", b"garbage", "image/png").run()
    assert not at.exception
    msg = " ".join(e.value for e in at.error)
    assert "x.png" in msg and "Expected an image file" in msg and "7 bytes" in msg
    assert [s.value for s in latent_sliders(at)] == before  # the sliders are untouched

    digit = np.zeros((28, 28), np.uint8)
    digit[4:24, 12:16] = 255  # a "1"
    at.file_uploader(key="sld_upload").clear().upload("one.png", png(digit), "image/png").run()
    assert not at.exception and not at.error
    moved = [s.value for s in latent_sliders(at)]
    assert moved != before and all(s.min <= s.value <= s.max for s in latent_sliders(at))

    s0 = at.slider(key="sld_z0")
    target = s0.min if s0.value != s0.min else s0.max
    s0.set_value(target).run()  # a later move sticks: the same upload does not reset the sliders again
    assert at.slider(key="sld_z0").value == target

    at.number_input(key="sld_from_idx").set_value(3).run()
    at.button(key="sld_from_btn").click().run()
    assert not at.exception
    assert [s.value for s in latent_sliders(at)] != moved


def test_a_dark_digit_on_paper_is_inverted_like_on_every_page(monkeypatch, models_dir, tiny_vae, tiny_ae):
    """The upload of every page: a dark "3" on white paper is inverted (with the hint saying why) and prepared like
    MNIST by default; changing how it is prepared sets the sliders to the new image's code."""
    from imagefiles import drawn

    at = open_page(PAGE, monkeypatch, models_dir, tiny_ae)
    before = [s.value for s in latent_sliders(at)]
    at.file_uploader(key="sld_upload").upload("three.png", drawn("3"), "image/png").run()
    assert not at.exception and not at.error
    assert at.checkbox(key="sld_invert").value and at.checkbox(key="sld_mnist").value
    assert any("mostly light background" in c.value and "it is inverted" in c.value for c in at.caption)
    inverted = [s.value for s in latent_sliders(at)]
    assert inverted != before and images(at, prefix="three.png: the sliders were set")
    at.checkbox(key="sld_invert").uncheck().run()
    assert not at.exception and any("try **Invert colours**" in c.value for c in at.caption)
    assert [s.value for s in latent_sliders(at)] != inverted  # the sliders follow the image as prepared now


def test_principal_direction_sliders_for_a_short_code_are_labelled_with_their_variance(monkeypatch, models_dir,
                                                                                      tiny_ae):
    from aecore.axes import PrincipalAxes
    from aecore.builtin_data import load_dataset
    from aecore.cache import ModelCache
    from aecore.infer import Engine
    from aecore.train import prepare_data

    at = open_page(PAGE, monkeypatch, models_dir, tiny_ae)  # conv AE, latent 4: code numbers by default
    assert not at.exception
    assert at.radio(key="sld_axes").value == "numbers" and len(latent_sliders(at)) == 4
    at.radio(key="sld_axes").set_value("principal").run()
    assert not at.exception, at.exception
    pcs = latent_sliders(at, "sld_pc")
    assert len(pcs) == 4 and not latent_sliders(at)  # one per direction, the numbers' sliders gone
    shares = [float(s.label.split("·")[1].split("%")[0]) for s in pcs]
    assert shares == sorted(shares, reverse=True) and abs(sum(shares) - 100) <= 2, shares  # all the variance
    assert shares[0] > shares[-1]
    assert any("as chosen" in c.value and "together 100%" in c.value for c in at.caption)

    # The page's directions are the held-out codes' own: at rest the picture is the codes' mean decoded, and
    # PC 1 at +2 decodes the mean + 2 spreads along PC 1.
    eng = Engine(ModelCache(models_dir).load(tiny_ae.key).model)
    axes = PrincipalAxes(eng.encode(prepare_data(tiny_ae.config, load_dataset("mnist", limit=600))[1].images))
    assert [s.label for s in pcs] == axes.labels
    np.testing.assert_allclose(at.session_state[LAST_IMAGE], eng.decode_one(axes.mean.astype(np.float32)),
                               atol=1e-4)
    at.slider(key="sld_pc0").set_value(2.0).run()
    assert not at.exception
    np.testing.assert_allclose(at.session_state[LAST_IMAGE], eng.decode_one(axes.to_code([2.0, 0, 0, 0])),
                               atol=1e-4)
