"""The Latent Scatter page's colour modes, label names, thumbnails (sprite view) and UMAP, run headless with
Streamlit's AppTest on the real tiny conv AE (latent 4, 120 held-out digits)."""

import importlib.util

import numpy as np
import pytest
from test_page_latent_scatter import N_HELD_OUT, PAGE, array, chart, click, hover_images, point_traces

from pagetest import open_page


@pytest.fixture(scope="module")
def held_out(models_dir, tiny_ae):
    """The conv AE's held-out images, their codes and reconstruction errors, computed here (not by the page)."""
    from aecore.builtin_data import load_dataset
    from aecore.cache import ModelCache
    from aecore.infer import Engine
    from aecore.train import prepare_data

    eng = Engine(ModelCache(models_dir).load(tiny_ae.key).model)
    val = prepare_data(tiny_ae.config, load_dataset("mnist", limit=600))[1]
    return val, eng.encode(val.images), eng.errors(val.images)


def single_trace(at) -> dict:
    traces = point_traces(chart(at))
    assert len(traces) == 1  # a continuous colour: one trace of all the drawn points
    return traces[0]


def test_colour_by_error_or_a_code_number_keeps_hover_and_click(monkeypatch, models_dir, tiny_vae, tiny_ae,
                                                                 held_out):
    val, codes, errors = held_out
    at = open_page(PAGE, monkeypatch, models_dir, tiny_ae)
    assert not at.exception, at.exception
    colour = at.selectbox(key="sct_colour")
    assert colour.value == "label" and colour.options == ["label", "reconstruction error"] + [
        f"code number z{d}" for d in range(4)]
    assert len(point_traces(chart(at))) == 10  # by label: one trace per digit, as before

    at.selectbox(key="sct_colour").set_value("error").run()
    assert not at.exception, at.exception
    t = single_trace(at)
    ids = array(t["customdata"]).astype(int)
    assert sorted(ids) == list(range(N_HELD_OUT))
    np.testing.assert_allclose(array(t["marker"]["color"]), errors[ids], rtol=1e-4, atol=1e-7)  # in drawn order
    assert t["marker"]["showscale"] and t["marker"]["colorbar"]["title"]["text"] == "recon MSE"
    assert t["hovertext"][3].startswith(f"#{ids[3]} · {val.labels[ids[3]]} · recon MSE ")
    hov = hover_images(at)
    assert hov["traces"] == [ids.tolist()] and sorted(map(int, hov["images"])) == list(range(N_HELD_OUT))

    # A click maps back to the held-out index, with customdata or by (trace, point) through sct_traces.
    at = click(at, {"curve_number": 0, "point_number": 5, "point_index": 5, "x": 0, "y": 0})
    assert not at.exception, at.exception
    assert at.number_input(key="sct_point").value == ids[5]
    assert at.selectbox(key="sct_colour").value == "error"  # the mode survives the click

    at.selectbox(key="sct_colour").set_value("z3").run()
    assert not at.exception
    t = single_trace(at)
    ids = array(t["customdata"]).astype(int)
    np.testing.assert_allclose(array(t["marker"]["color"]), codes[ids, 3], rtol=1e-4, atol=1e-5)  # the 4th number
    assert not np.allclose(array(t["marker"]["color"]), codes[ids, 2], atol=1e-3)
    assert t["marker"]["colorbar"]["title"]["text"] == "z3"
    spec = chart(at)
    assert [d["name"] for d in spec["data"]][-1] == f"#{ids[5]}"  # the clicked point is still ringed
    hov = hover_images(at)
    assert hov["traces"][0] == ids.tolist() and hov["traces"][-1] == [int(ids[5])]
    at = click(at, {"curve_number": 0, "point_number": 9, "point_index": 9, "x": 0, "y": 0,
                    "customdata": int(ids[9])})
    assert at.number_input(key="sct_point").value == ids[9]

    at.selectbox(key="sct_colour").set_value("label").run()  # back: a trace per label, the mapping follows
    assert not at.exception
    traces = point_traces(chart(at))
    assert len(traces) == 10 and hover_images(at)["traces"][:10] == [array(t["customdata"]).tolist() for t in traces]


def test_show_labels_writes_names_at_the_medians_and_hides_the_legend(monkeypatch, models_dir, tiny_vae, tiny_ae):
    at = open_page(PAGE, monkeypatch, models_dir, tiny_ae)
    assert not at.exception, at.exception
    spec = chart(at)
    names = {a["text"]: (a["x"], a["y"]) for a in spec["layout"]["annotations"]}
    assert sorted(names) == [f"<b>{d}</b>" for d in range(10)]
    for t in point_traces(spec)[:3]:  # each name sits at the median of its label's dots
        np.testing.assert_allclose(names[f"<b>{t['name']}</b>"],
                                   (np.median(array(t["x"])), np.median(array(t["y"]))), atol=1e-4)
    assert spec["layout"]["showlegend"] and all(t.get("showlegend", True) for t in point_traces(spec))

    at.toggle(key="sct_show_labels").set_value(False).run()
    assert not at.exception
    spec = chart(at)
    assert not spec["layout"].get("annotations") and not spec["layout"]["showlegend"]
    assert not any(t.get("showlegend", True) for t in point_traces(spec)) and len(point_traces(spec)) == 10


def test_thumbnails_draw_the_images_at_a_sample_of_the_points(monkeypatch, models_dir, tiny_vae, tiny_ae):
    import scatter_view

    at = open_page(PAGE, monkeypatch, models_dir, tiny_ae)
    assert not at.exception, at.exception
    assert not chart(at)["layout"].get("images")  # off by default
    monkeypatch.setattr(scatter_view, "SPRITES", 40)  # a sample of 40 of the 120 dots
    at.toggle(key="sct_sprites").set_value(True).run()
    assert not at.exception, at.exception
    spec, hov = chart(at), hover_images(at)
    pics = spec["layout"]["images"]
    assert len(pics) == 40
    position = {int(i): (x, y) for t in point_traces(spec)
                for i, x, y in zip(array(t["customdata"]), array(t["x"]), array(t["y"]))}
    by_source = {hov["images"][str(i)]: i for i in position}  # each thumbnail is the hover picture of a point
    drawn = [by_source[p["source"]] for p in pics]
    assert len(set(drawn)) == 40
    for p, i in zip(pics, drawn):  # centred on its own point, in data units
        assert (p["xref"], p["yref"], p["xanchor"], p["yanchor"]) == ("x", "y", "center", "middle")
        np.testing.assert_allclose((p["x"], p["y"]), position[i], atol=1e-5)
    assert sorted(drawn) == sorted(np.array(sorted(position))[scatter_view.sprite_sample(N_HELD_OUT)].tolist())

    at.selectbox(key="sct_colour").set_value("z0").run()  # in another colour mode: the same thumbnails
    assert not at.exception
    assert [p["source"] for p in chart(at)["layout"]["images"]] == [p["source"] for p in pics]


def test_sprite_sample_is_fixed_and_capped():
    from scatter_view import SPRITES, sprite_sample

    assert sprite_sample(7).tolist() == list(range(7))
    s = sprite_sample(2000)
    assert len(s) == SPRITES == len(set(s.tolist())) and s.tolist() == sorted(s.tolist()) and s.max() < 2000
    assert sprite_sample(2000).tolist() == s.tolist() and s.tolist() != list(range(SPRITES))


@pytest.mark.skipif(importlib.util.find_spec("umap") is None, reason="umap-learn is not installed")
def test_umap_map_and_its_nearest_point_hover(monkeypatch, models_dir, tiny_vae, tiny_ae, held_out):
    """UMAP (its first fit in a process compiles for about 15 s): a map of the 120 points, no plane to decode on
    hover (the browser shows the nearest point, saying UMAP has no inverse), the upload left off the map."""
    from pagetest import png

    at = open_page(PAGE, monkeypatch, models_dir, tiny_ae)
    pca_x = np.concatenate([array(t["x"]) for t in point_traces(chart(at))])
    at.radio(key="sct_method").set_value("umap").run()
    assert not at.exception, at.exception
    spec = chart(at)
    assert spec["layout"]["xaxis"]["title"]["text"] == "UMAP 1" and "UMAP" in spec["layout"]["title"]["text"]
    xy = np.concatenate([np.stack([array(t["x"]), array(t["y"])], 1) for t in point_traces(spec)])
    assert xy.shape == (N_HELD_OUT, 2) and np.isfinite(xy).all()
    assert not np.allclose(np.sort(xy[:, 0]), np.sort(pca_x), atol=1e-3)
    hov = hover_images(at)
    assert hov["plane"] is None and hov["projection"] == "UMAP"  # no decoding of empty space: the nearest point
    (hover,) = [c for c in at.get("bidi_component") if c.proto.component_name == "latent_scatter_hover_images"]
    js = hover.proto.js_content
    assert "d.projection" in js and "has no inverse" in js
    assert any("UMAP have no inverse: there the nearest point is shown" in c.value for c in at.caption)

    at.selectbox(key="sct_colour").set_value("error").run()  # colour modes on the UMAP map too
    assert not at.exception
    ids = array(single_trace(at)["customdata"]).astype(int)
    np.testing.assert_allclose(array(single_trace(at)["marker"]["color"]), held_out[2][ids], rtol=1e-4, atol=1e-7)

    digit = np.zeros((28, 28), np.uint8)
    digit[4:24, 12:16] = 255
    at.file_uploader(key="sct_upload").upload("one.png", png(digit), "image/png").run()
    assert not at.exception
    assert "your image" not in [t["name"] for t in chart(at)["data"]]
    assert any("UMAP has no mapping for new points" in c.value for c in at.caption)
