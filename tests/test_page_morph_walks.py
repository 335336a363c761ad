"""Morph's walks (AppTest, real tiny models): a walk through waypoints and a random walk, each exported as a GIF
with the frames its path has, drawn on the map, reproducible from its link; bad waypoints say what was expected."""

import base64
import io
import json

import numpy as np
from PIL import Image
from streamlit.testing.v1 import AppTest

from pagetest import ROOT, captions, open_page

PAGE = "pages/6_Morph.py"


def gif_of(at, media) -> bytes:
    return media(at.download_button(key="mph_gif_download").proto.url)


def frames(gif: bytes) -> int:
    return Image.open(io.BytesIO(gif)).n_frames


def trace(at, name: str) -> np.ndarray:
    """A trace of the path map, as (K, 2) points."""
    (chart,) = at.get("plotly_chart")
    (t,) = [t for t in json.loads(chart.proto.spec)["data"] if t.get("name") == name]

    def values(v):
        if isinstance(v, dict):  # plotly's typed arrays
            return np.frombuffer(base64.b64decode(v["bdata"]), dtype=np.dtype(v["dtype"]))
        return np.asarray(v, float)
    return np.stack([values(t["x"]), values(t["y"])], axis=1)


def engine_and_codes(entry, models_dir):
    """The model's engine and held-out codes and images (the page's own split)."""
    from aecore.builtin_data import load_dataset
    from aecore.cache import ModelCache
    from aecore.infer import Engine
    from aecore.train import prepare_data

    eng = Engine(ModelCache(models_dir).load(entry.key).model)
    val = prepare_data(entry.config, load_dataset("mnist", limit=600))[1]
    return eng, eng.encode(val.images), val


def test_a_walk_through_three_waypoints_exports_its_frames_and_is_drawn_on_the_map(monkeypatch, models_dir,
                                                                                   tiny_vae, tiny_ae, media):
    from aecore.walks import path_on_map

    at = open_page(PAGE, monkeypatch, models_dir, tiny_ae)  # conv AE, latent 4: the map is the PCA plane
    at.radio(key="mph_mode").set_value("walk").run()
    at.text_input(key="mph_wp_idx").set_value("4, 9, 17").run()
    at.slider(key="mph_steps").set_value(6).run()
    assert not at.exception, at.exception
    assert frames(gif_of(at, media)) == 2 * (6 - 1) + 1  # two legs of 6 frames, the middle stop once
    at.checkbox(key="mph_bounce").check().run()
    assert frames(gif_of(at, media)) == 11 + 9  # there and back, the ends not repeated
    assert [c.split(" ")[1] for c in captions(at, "Preview", prefix="1: ") + captions(at, "Preview", prefix="2: ")
            + captions(at, "Preview", prefix="3: ")] == ["#4", "#9", "#17"]

    eng, codes, _ = engine_and_codes(tiny_ae, models_dir)
    np.testing.assert_allclose(trace(at, "stops"), path_on_map(codes[[4, 9, 17]], codes), atol=1e-3)
    path = eng.interpolate(codes[[4, 9, 17]], 6)
    np.testing.assert_allclose(trace(at, "path"), path_on_map(path, codes), atol=1e-3)
    assert media.file(at.download_button(key="mph_gif_download").proto.url).filename.startswith("walk_6x")

    # Waypoints by class: the first held-out image of each class, in the order given.
    at.radio(key="mph_wp_by").set_value("label").run()
    at.text_input(key="mph_wp_cls").set_value("3, 8, 1").run()
    assert not at.exception
    _, _, val = engine_and_codes(tiny_ae, models_dir)
    firsts = [int(np.flatnonzero(val.labels == c)[0]) for c in (3, 8, 1)]
    assert [c.split(" ")[1] for c in captions(at, "Preview") if c[:2] in ("1:", "2:", "3:")] == \
        [f"#{i}" for i in firsts]

    # Bad waypoints: what was expected, no walk, no traceback.
    at.radio(key="mph_wp_by").set_value("index").run()
    at.text_input(key="mph_wp_idx").set_value("4, x, 99999").run()
    assert not at.exception
    assert any("Expected indices in 0..119" in e.value and "received x, 99999" in e.value for e in at.error)
    assert not at.download_button


def test_a_random_walk_is_reproducible_from_its_seed_and_its_link(monkeypatch, models_dir, tiny_vae, tiny_ae,
                                                                  media):
    at = open_page(PAGE, monkeypatch, models_dir, tiny_vae)
    at.radio(key="mph_mode").set_value("random").run()
    at.slider(key="mph_rw_len").set_value(12).run()
    at.slider(key="mph_rw_frames").set_value(3).run()
    assert not at.exception, at.exception
    gif = gif_of(at, media)
    assert frames(gif) == 12 * (3 - 1) + 1
    assert len(trace(at, "stops")) == 13  # the walk's stops, start included
    at.number_input(key="mph_rw_seed").set_value(5).run()
    assert gif_of(at, media) != gif  # another seed, another walk
    query = dict(at.query_params)
    assert (query["mode"], query["rl"], query["rf"], query["rseed"]) == ("random", "12", "3", "5")
    assert "sa" not in query and "steps" not in query  # the pair's settings are not this view's

    monkeypatch.setenv("AECORE_MODELS_DIR", str(models_dir))
    other = AppTest.from_file(str(ROOT / PAGE), default_timeout=120)
    other.query_params.update(query)
    other.run()
    assert not other.exception and not other.warning
    assert gif_of(other, media) == gif_of(at, media)  # a new session opening the link: the same walk
