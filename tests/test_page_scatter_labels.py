"""The Latent Scatter page with many labels (Olivetti's 40 people), run headless with AppTest on a tiny real
model: no legend that would scroll the page, but a searchable label picker that highlights or filters."""

import json

import pytest

from pagetest import open_page

PAGE = "pages/4_Latent_Scatter.py"


@pytest.fixture(scope="module")
def faces_ae(offline_olivetti, tmp_path_factory):
    """A dense AE with a 2-number code, trained one epoch on the 400 Olivetti faces (a few seconds), in its own
    models folder: 80 held-out faces of 40 people."""
    from aecore.builtin_data import load_dataset
    from aecore.cache import ModelCache, train_or_load
    from aecore.config import ModelConfig

    root = tmp_path_factory.mktemp("faces_models")
    cfg = ModelConfig(dataset="olivetti", kind="ae", arch="dense", latent_dim=2, epochs=1, batch_size=64,
                      hidden_units=(32,))
    entry, _ = train_or_load(cfg, load_dataset("olivetti"), ModelCache(root))
    return entry, root


def scatter_traces(at) -> list[dict]:
    (chart,) = at.get("plotly_chart")
    return [t for t in json.loads(chart.proto.spec)["data"] if t["type"] == "scattergl"]


def test_many_labels_hide_the_legend_and_offer_a_searchable_picker(monkeypatch, faces_ae):
    entry, root = faces_ae
    at = open_page(PAGE, monkeypatch, root, entry)
    assert not at.exception, at.exception
    traces = scatter_traces(at)
    assert len(traces) == 40 and not any(t.get("showlegend", True) for t in traces)  # no 40-entry legend
    picker = at.multiselect(key="sct_labels")
    assert len(picker.options) == 40 and picker.max_selections == 10 and "type to search" in picker.label
    assert at.checkbox(key="sct_only").disabled

    at.multiselect(key="sct_labels").set_value([7, 3]).run()
    assert not at.exception
    traces = scatter_traces(at)
    shown = [t for t in traces if t.get("showlegend", True)]
    assert [t["name"] for t in shown] == ["person 7", "person 3"]  # the legend: only the chosen, drawn last (on top)
    assert traces[-2:] == shown
    from aecore.media import TABLEAU10

    assert [t["marker"]["color"] for t in shown] == list(TABLEAU10[:2])
    assert {t["marker"]["color"] for t in traces[:-2]} == {"#8c8c8c"}  # the other 38 in grey

    at.checkbox(key="sct_only").check().run()
    assert not at.exception
    assert [t["name"] for t in scatter_traces(at)] == ["person 7", "person 3"]  # filtered to the chosen labels
