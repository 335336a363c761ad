"""Views you can link to (`links`): the Latent Slider's and Morph's state in the URL, restored in a new session
(AppTest, real tiny models); a link to a model the server does not have, and values that do not read, say so."""

import io

import numpy as np
import pytest
from PIL import Image
from streamlit.testing.v1 import AppTest

import links
import ui
from pagetest import ROOT, open_page

SLIDER, MORPH = "pages/5_Latent_Slider.py", "pages/6_Morph.py"
LAST_IMAGE, GRID_MEMO = "sld_last_image", "sld_grid_memo"  # the Slider page's documented session-state keys


def new_session(page: str, monkeypatch, models_dir, query: dict, active=None) -> AppTest:
    """A new session (another browser) opening `page` with the link's query string; `active`: the model that
    session had chosen before (a link's model must win over it)."""
    monkeypatch.setenv("AECORE_MODELS_DIR", str(models_dir))
    at = AppTest.from_file(str(ROOT / page), default_timeout=120)
    at.query_params.update(query)
    if active is not None:
        at.session_state[ui.ACTIVE] = active.key
    return at.run()


def sliders(at) -> dict:
    return {s.key: s.value for s in at.slider if s.key.startswith(("sld_z", "sld_pc"))}


@pytest.mark.parametrize("reader, text, expected", [
    (links.integer(2, 120), "abc", "Expected a whole number from 2 to 120, received 'abc'."),
    (links.integer(2, 120), "121", "Expected a whole number from 2 to 120, received '121'."),
    (links.number(0.5, 10), "nan", "Expected a number from 0.5 to 10, received 'nan'."),
    (links.choice(["linear", "spherical"]), "cubic", "Expected one of linear, spherical, received 'cubic'."),
    (links.flag, "yes", "Expected 1 or 0, received 'yes'."),
    (links.numbers(2, [0, 0], [1, 1]), "0.5,2", "Expected 2 comma-separated numbers inside the sliders' ranges"),
])
def test_a_value_that_does_not_read_says_what_was_expected(reader, text, expected):
    with pytest.raises(ValueError, match="^" + expected.replace("(", r"\(").replace(".", r"\.")):
        reader(text)
    assert links.numbers(2, [0, 0], [1, 1])("0.5,1") == [0.5, 1.0] and links.choice([3, 8])("8") == 8


def test_a_slider_view_opens_the_same_in_a_new_session(monkeypatch, models_dir, tiny_ae, tiny_vae, media):
    at = open_page(SLIDER, monkeypatch, models_dir, tiny_ae)  # conv AE, latent 4
    z1 = at.slider(key="sld_z1")
    low = float(np.ceil(z1.min / z1.step) * z1.step)  # the lowest value on the slider's steps
    z1.set_value(low).run()
    at.selectbox(key="sld_range").set_value("±5").run()
    at.selectbox(key="sld_gx").set_value(2).run()
    at.slider(key="sld_n").set_value(6).run()
    assert not at.exception, at.exception
    query = dict(at.query_params)
    assert query["model"] == tiny_ae.key and query["range"] == "±5" and query["gx"] == "2" and query["n"] == "6"
    assert float(query["v"].split(",")[1]) == low and "lim" not in query

    other = new_session(SLIDER, monkeypatch, models_dir, query, active=tiny_vae)  # had the VAE chosen
    assert not other.exception and not other.warning, (other.exception, other.warning)
    assert other.session_state[ui.ACTIVE] == tiny_ae.key  # the link's model
    assert sliders(other) == sliders(at)
    np.testing.assert_array_equal(other.session_state[LAST_IMAGE], at.session_state[LAST_IMAGE])
    shown, again = at.session_state[GRID_MEMO], other.session_state[GRID_MEMO]
    assert again.params == shown.params and again.png == shown.png  # the same grid, byte for byte
    assert dict(other.query_params) == query  # and its link is the same link

    # Principal directions travel too: what the sliders are over, then their values.
    at.radio(key="sld_axes").set_value("principal").run()
    at.slider(key="sld_pc0").set_value(1.5).run()
    query = dict(at.query_params)
    assert query["axes"] == "principal" and query["v"].startswith("1.5,")
    other = new_session(SLIDER, monkeypatch, models_dir, query)
    assert not other.exception and other.radio(key="sld_axes").value == "principal"
    assert other.slider(key="sld_pc0").value == 1.5 and sliders(other) == sliders(at)


def test_a_link_to_a_model_this_server_does_not_have_says_so(monkeypatch, models_dir, tiny_ae, tiny_vae):
    at = new_session(SLIDER, monkeypatch, models_dir, {"model": "0123456789abcdef", "v": "1,1"}, active=tiny_ae)
    assert not at.exception, at.exception
    (warning,) = at.warning
    assert "`0123456789abcdef`" in warning.value and "does not have" in warning.value
    assert at.session_state[ui.ACTIVE] == tiny_ae.key  # the page goes on with the active model, at its defaults
    assert at.query_params["model"] == tiny_ae.key and at.query_params["v"] != "1,1"

    empty = new_session(SLIDER, monkeypatch, models_dir / "nothing_here", {"model": tiny_ae.key})
    assert not empty.exception and "does not have" in empty.warning[0].value  # no models at all: said too
    assert any("No trained model yet" in i.value for i in empty.info)


def test_a_morph_opens_the_same_in_a_new_session_and_bad_values_are_left_out(monkeypatch, models_dir, tiny_ae,
                                                                          tiny_vae, media):
    at = open_page(MORPH, monkeypatch, models_dir, tiny_ae)
    at.number_input(key="mph_idx_a").set_value(5)
    at.radio(key="mph_src_b").set_value("label").run()
    at.selectbox(key="mph_cls_b").set_value(3)
    at.radio(key="mph_pick_b").set_value("random").run()
    at.button(key="mph_reroll_b").click().run()
    at.slider(key="mph_steps").set_value(12)
    at.radio(key="mph_method").set_value("spherical")
    at.slider(key="mph_fps").set_value(7)
    at.checkbox(key="mph_loop").uncheck()
    at.checkbox(key="mph_bounce").check().run()
    assert not at.exception, at.exception
    query = dict(at.query_params)
    assert {k: query[k] for k in ("sa", "a", "sb", "cb", "pb", "rb", "steps", "interp", "fps", "loop", "bounce")} \
        == {"sa": "index", "a": "5", "sb": "label", "cb": "3", "pb": "random", "rb": "1", "steps": "12",
            "interp": "spherical", "fps": "7", "loop": "0", "bounce": "1"}
    gif = media(at.download_button(key="mph_gif_download").proto.url)

    other = new_session(MORPH, monkeypatch, models_dir, query, active=tiny_vae)
    assert not other.exception and not other.warning, (other.exception, other.warning)
    assert media(other.download_button(key="mph_gif_download").proto.url) == gif  # the same frames and timing
    assert Image.open(io.BytesIO(gif)).n_frames == 12 + 10

    bad = new_session(MORPH, monkeypatch, models_dir, {**query, "steps": "abc", "sa": "upload"})
    assert not bad.exception, bad.exception
    assert any("`steps` is left out: Expected a whole number from 2 to 120, received 'abc'." in w.value
               for w in bad.warning)
    assert bad.slider(key="mph_steps").value == 30 and bad.slider(key="mph_fps").value == 7  # the rest is kept
    assert any("image A was an upload" in i.value for i in bad.info)
