"""The Latent Scatter page, run headless with Streamlit's AppTest on real tiny models."""

import base64
import importlib.util
import io
import json

import numpy as np
from PIL import Image
from streamlit.testing.v1 import AppTest

from pagetest import captions, open_page, png

PAGE = "pages/4_Latent_Scatter.py"
N_HELD_OUT = 120  # the tiny models' held-out set: 20% of 600 digits


def array(v) -> np.ndarray:
    """A Plotly JSON array: a plain list, or plotly's typed-array form {"dtype", "bdata"[, "shape"]}."""
    if isinstance(v, dict) and "bdata" in v:
        return np.frombuffer(base64.b64decode(v["bdata"]), dtype=np.dtype(v["dtype"]))
    return np.asarray(v)


def chart(at) -> dict:
    charts = at.get("plotly_chart")
    assert len(charts) == 1
    return json.loads(charts[0].proto.spec)


def point_traces(spec: dict) -> list[dict]:
    """The held-out point traces (WebGL), without the highlight / upload markers."""
    return [t for t in spec["data"] if t["type"] == "scattergl"]


def hover_images(at) -> dict:
    """What the page hands its hover-image component: {"chart", "width", "traces", "images", "captions"}."""
    comps = [c for c in at.get("bidi_component") if c.proto.component_name != "aecore_live_decoder"]
    assert len(comps) == 1  # (besides browser_decode's loader: the decoder for hovering empty space)
    proto = comps[0].proto
    assert proto.component_name == "latent_scatter_hover_images" and not proto.isolate_styles  # runs in the app page
    assert "mousemove" in proto.js_content and "st-key-" in proto.js_content
    return json.loads(proto.json)


def decode_uri(uri: str) -> Image.Image:
    head = "data:image/png;base64,"
    assert uri.startswith(head)
    img = Image.open(io.BytesIO(base64.b64decode(uri[len(head):])))
    assert img.format == "PNG"
    return img


def plotted_ids(spec: dict) -> list[int]:
    """The held-out indices on the chart: the dots and a marked point (the upload's star has none)."""
    return sorted({int(i) for t in spec["data"] if "customdata" in t for i in array(t["customdata"])})


def click(at, point: dict) -> AppTest:
    """Simulate a click on the chart: AppTest has no API for Plotly selections, so the chart's widget
    state (the JSON the frontend would send) is added to the next run's widget states."""
    chart_id = at.get("plotly_chart")[0].proto.id
    tree = at._tree
    states = tree.get_widget_states

    def with_selection():
        ws = states()
        w = ws.widgets.add()
        w.id = chart_id
        w.string_value = json.dumps({"selection": {"points": [point], "point_indices": [point["point_index"]],
                                                   "box": [], "lasso": []}})
        return ws

    tree.get_widget_states = with_selection
    return at.run()


def test_without_a_model_the_page_says_to_train_first(monkeypatch, tmp_path):
    at = open_page(PAGE, monkeypatch, tmp_path)
    assert not at.exception, at.exception
    assert any("Train" in i.value for i in at.info)
    assert not at.get("plotly_chart")


def test_scatter_of_a_2d_vae_and_point_details(monkeypatch, models_dir, tiny_vae, tiny_ae):
    at = open_page(PAGE, monkeypatch, models_dir, tiny_vae)
    assert not at.exception, at.exception
    assert at.title[0].value == "Latent Scatter"
    assert not at.radio  # latent size 2: plotted as is, no projection choice
    traces = point_traces(chart(at))
    assert sorted(t["name"] for t in traces) == [str(d) for d in range(10)]  # class names in the legend
    # Hovering empty space decodes the code under the cursor in the browser: a 2-number code is the map itself.
    data = hover_images(at)
    assert data["spec_id"] == tiny_vae.version
    assert data["plane"] == {"base": [0.0, 0.0], "u": [1.0, 0.0], "v": [0.0, 1.0], "note": ""}
    from aecore.media import TABLEAU10, cie76

    colours = [t["marker"]["color"] for t in traces]  # ten clearly distinct colours (no two oranges)
    assert colours == list(TABLEAU10) and min(cie76(a, b) for i, a in enumerate(colours) for b in colours[i + 1:]) > 25
    assert all(t.get("showlegend", True) for t in traces) and not at.multiselect  # a legend, no label picker
    ids = np.concatenate([array(t["customdata"]) for t in traces])
    assert sum(len(array(t["x"])) for t in traces) == N_HELD_OUT and sorted(ids) == list(range(N_HELD_OUT))
    hover = traces[0]["hovertext"][0]
    assert hover.startswith(f"#{array(traces[0]['customdata'])[0]} · {traces[0]['name']} · recon MSE ")

    # Latent size 2: the x/y of a point are its code.
    from aecore.builtin_data import load_dataset
    from aecore.cache import ModelCache
    from aecore.infer import Engine
    from aecore.train import prepare_data

    eng = Engine(ModelCache(models_dir).load(tiny_vae.key).model)
    val = prepare_data(tiny_vae.config, load_dataset("mnist", limit=600))[1]
    codes = eng.encode(val.images)
    t0 = traces[0]
    np.testing.assert_allclose(array(t0["x"]), codes[array(t0["customdata"]), 0], rtol=1e-5, atol=1e-5)

    # Hover images: one 56 px PNG of each plotted point, keyed by its held-out index, for the chart.
    import ui

    hov = hover_images(at)
    assert hov["chart"] == "sct_chart" and hov["width"] == 56
    assert sorted(map(int, hov["images"])) == list(range(N_HELD_OUT)) == sorted(map(int, hov["captions"]))
    assert hov["traces"] == [array(t["customdata"]).tolist() for t in traces]  # (trace, point) -> index
    for i in (0, 7, N_HELD_OUT - 1):
        img = decode_uri(hov["images"][str(i)])
        assert img.size == (56, 56) and img.mode == "L"
        np.testing.assert_array_equal(np.asarray(img), ui.upscale(val.images[i], 56))  # this point's image
        assert hov["captions"][str(i)] == f"#{i} · {val.labels[i]}"
    assert all(decode_uri(u).size == (56, 56) for u in hov["images"].values())

    at.slider(key="sct_n").set_value(50).run()
    assert not at.exception
    assert sum(len(array(t["x"])) for t in point_traces(chart(at))) == 50
    hov = hover_images(at)
    assert sorted(map(int, hov["images"])) == plotted_ids(chart(at)) and len(hov["images"]) == 50

    # "Show point #": original, reconstruction and its nearest neighbours in code space.
    at.number_input(key="sct_point").set_value(7).run()
    assert not at.exception
    point = f"Point #7 · {val.labels[7]}"  # the section of the point's details
    assert captions(at, point, "original ") == [f"original #7 · {val.labels[7]}"]
    assert len(captions(at, point, "reconstruction · MSE ")) == 1
    neighbours = captions(at, point, "#")  # "#index · label · d distance" (no-break space), nearest first
    assert len(neighbours) == 6 and all(" · d\u00a0" in c for c in neighbours)
    expected = eng.nearest(codes, 7, 6)
    assert [int(c.split("#")[1].split(" ")[0]) for c in neighbours] == expected.tolist()
    marker = [t for t in chart(at)["data"] if t["name"] == "#7"]
    assert len(marker) == 1 and np.allclose(marker[0]["x"], codes[7, 0], atol=1e-5)
    hov = hover_images(at)  # the marked point has its hover image, even when it is not among the 50 dots
    assert sorted(map(int, hov["images"])) == plotted_ids(chart(at)) and "7" in hov["images"]
    np.testing.assert_array_equal(np.asarray(decode_uri(hov["images"]["7"])), ui.upscale(val.images[7], 56))
    at.slider(key="sct_k").set_value(3).run()
    # the point and its reconstruction, 3 neighbours, and (a VAE) its posterior's mean and 6 samples decoded
    assert len(captions(at, point, "#")) == 3 and len(captions(at)) == 2 + 3 + 1 + 6


def test_clicking_a_point_selects_it(monkeypatch, models_dir, tiny_vae, tiny_ae):
    at = open_page(PAGE, monkeypatch, models_dir, tiny_vae)
    t = point_traces(chart(at))[2]
    wanted = int(array(t["customdata"])[4])
    at = click(at, {"curve_number": 2, "point_number": 4, "point_index": 4, "x": 0, "y": 0, "customdata": wanted})
    assert not at.exception, at.exception
    assert at.number_input(key="sct_point").value == wanted
    assert [c.split(" · ")[0] for c in captions(at, prefix="original ")] == [f"original #{wanted}"]

    # Without customdata in the event the page maps (trace, point) back to the held-out index itself.
    t = point_traces(chart(at))[5]
    wanted = int(array(t["customdata"])[1])
    at = click(at, {"curve_number": 5, "point_number": 1, "point_index": 1, "x": 0, "y": 0})
    assert not at.exception
    assert at.number_input(key="sct_point").value == wanted

    # Typing a number afterwards still wins over the old click.
    at.number_input(key="sct_point").set_value(3).run()
    assert [c.split(" · ")[0] for c in captions(at, prefix="original ")] == ["original #3"]


def test_projections_of_a_4d_model(monkeypatch, models_dir, tiny_vae, tiny_ae):
    at = open_page(PAGE, monkeypatch, models_dir, tiny_ae)  # conv AE, latent 4
    assert not at.exception, at.exception
    umap = ["UMAP (faster than t-SNE once compiled)"] if importlib.util.find_spec("umap") else []  # when installed
    assert at.radio(key="sct_method").options == ["PCA (fast, linear)", "t-SNE (slow, keeps neighbourhoods)", *umap]
    spec = chart(at)
    assert spec["layout"]["xaxis"]["title"]["text"] == "PC 1"
    pca_x = np.concatenate([array(t["x"]) for t in point_traces(spec)])
    assert len(pca_x) == N_HELD_OUT

    at.radio(key="sct_method").set_value("tsne").run()
    assert not at.exception, at.exception
    spec = chart(at)
    assert spec["layout"]["xaxis"]["title"]["text"] == "t-SNE 1"
    tsne_x = np.concatenate([array(t["x"]) for t in point_traces(spec)])
    assert len(tsne_x) == N_HELD_OUT and not np.allclose(np.sort(tsne_x), np.sort(pca_x))
    assert sorted(map(int, hover_images(at)["images"])) == list(range(N_HELD_OUT))

    at.number_input(key="sct_point").set_value(0).run()  # details work under t-SNE too
    assert not at.exception
    assert [c.split(" · ")[0] for c in captions(at, prefix="original ")] == ["original #0"]

    at.radio(key="sct_method").set_value("pca").run()
    assert not at.exception
    np.testing.assert_allclose(np.concatenate([array(t["x"]) for t in point_traces(chart(at))]), pca_x)


def test_uploads_bad_then_good(monkeypatch, models_dir, tiny_vae, tiny_ae):
    at = open_page(PAGE, monkeypatch, models_dir, tiny_ae)
    at.file_uploader(key="sct_upload").upload("x.png", b"garbage", "image/png").run()
    assert not at.exception
    msg = " ".join(e.value for e in at.error)
    assert "x.png" in msg and "Expected an image file" in msg and "7 bytes" in msg
    assert len(at.get("plotly_chart")) == 1  # the chart is still there

    digit = np.zeros((28, 28), np.uint8)
    digit[4:24, 12:16] = 255
    at.file_uploader(key="sct_upload").clear().upload("one.png", png(digit), "image/png").run()
    assert not at.exception and not at.error
    assert [t["name"] for t in chart(at)["data"]][-1] == "your image"  # a star on the PCA map
    hov = hover_images(at)
    assert hov["traces"][-1] == [] and len(hov["images"]) == N_HELD_OUT  # the star has no held-out image
    yours = "Your image: one.png"  # the section of the upload's details
    assert captions(at, yours, "one.png") == ["one.png"] and len(captions(at, yours, "reconstruction · MSE ")) == 1
    neighbours = captions(at, yours, "#")
    assert len(neighbours) == 6 and all(" · d\u00a0" in c for c in neighbours) and len(captions(at, yours)) == 2 + 6

    at.radio(key="sct_method").set_value("tsne").run()
    assert not at.exception
    assert "your image" not in [t["name"] for t in chart(at)["data"]]
    assert any("t-SNE has no mapping for new points" in c.value for c in at.caption)


def test_a_dark_digit_on_paper_is_inverted_like_on_every_page(monkeypatch, models_dir, tiny_vae, tiny_ae):
    """The upload of every page: a dark "3" on white paper is inverted and prepared like MNIST by default, with the
    hint saying why, and lands on the map as a star."""
    from imagefiles import drawn

    at = open_page(PAGE, monkeypatch, models_dir, tiny_vae)
    at.file_uploader(key="sct_upload").upload("three.png", drawn("3"), "image/png").run()
    assert not at.exception and not at.error
    assert at.checkbox(key="sct_invert").value and at.checkbox(key="sct_mnist").value
    assert any("mostly light background" in c.value and "it is inverted" in c.value for c in at.caption)

    def star():
        data = chart(at)["data"][-1]
        assert data["name"] == "your image"
        return np.concatenate([array(data["x"]), array(data["y"])]).astype(float)

    inverted = star()
    at.checkbox(key="sct_invert").uncheck().run()  # a white blob: elsewhere on the map
    assert not at.exception and any("try **Invert colours**" in c.value for c in at.caption)
    assert not np.allclose(star(), inverted)


def test_exports_download_the_drawn_points(monkeypatch, models_dir, tiny_vae, tiny_ae, media):
    """The CSV and Embedding Projector buttons carry the drawn points, built when clicked (a callable, as
    Streamlit runs it on a click: here through the media manager's `execute_deferred`)."""
    import csv
    import zipfile

    from streamlit.runtime.media_file_manager import MediaFileManager

    managers = {}  # deferred file id -> the run's media manager (AppTest drops it after each run)
    original = MediaFileManager.add_deferred

    def keep(self, *args, **kwargs):
        file_id = original(self, *args, **kwargs)
        managers[file_id] = self
        return file_id

    monkeypatch.setattr(MediaFileManager, "add_deferred", keep)
    at = open_page(PAGE, monkeypatch, models_dir, tiny_ae)  # latent 4, PCA
    at.slider(key="sct_n").set_value(50).run()
    assert not at.exception, at.exception

    def click(key: str) -> bytes:
        button = at.download_button(key=key)
        assert not button.proto.url and not button.proto.disabled  # nothing built before the click
        file_id = button.proto.deferred_file_id
        return media(managers[file_id].execute_deferred(file_id))

    text = click("sct_csv").decode("utf-8")
    assert text.startswith("index,label,z0,z1,z2,z3,x,y\n")
    rows = list(csv.DictReader(io.StringIO(text)))
    spec = chart(at)
    assert sorted(int(r["index"]) for r in rows) == plotted_ids(spec) and len(rows) == 50
    on_chart = {int(i): (x, y) for t in point_traces(spec)
                for i, x, y in zip(array(t["customdata"]), array(t["x"]), array(t["y"]))}
    for r in rows[:5]:  # each row's map position is the dot's position on the chart
        np.testing.assert_allclose((float(r["x"]), float(r["y"])), on_chart[int(r["index"])], atol=1e-5)

    zipped = click("sct_projector")
    assert zipped.startswith(b"PK")
    with zipfile.ZipFile(io.BytesIO(zipped)) as zf:
        assert sorted(zf.namelist()) == ["metadata.tsv", "projector_config.json", "sprite.png", "vectors.tsv"]
        emb = json.loads(zf.read("projector_config.json"))["embeddings"][0]
        meta = zf.read("metadata.tsv").decode().splitlines()
    assert emb["tensorShape"] == [50, 4] and emb["sprite"]["singleImageDim"] == [28, 28]
    assert meta[0] == "index\tlabel" and [int(m.split("\t")[0]) for m in meta[1:]] == [int(r["index"]) for r in rows]
