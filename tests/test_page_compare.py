"""The Compare page, run headless with Streamlit's AppTest on the two real tiny models (both MNIST)."""

import shutil

from pagetest import captions, open_page

PAGE = "pages/7_Compare.py"


def test_two_models_side_by_side(monkeypatch, models_dir, tiny_vae, tiny_ae):
    at = open_page(PAGE, monkeypatch, models_dir, tiny_vae)
    at.multiselect(key="cmp_models").set_value([tiny_vae.key, tiny_ae.key]).run()
    assert not at.exception, at.exception
    assert at.title[0].value == "Compare" and not at.error
    table = at.dataframe[0].value
    assert table["key"].tolist() == [tiny_vae.key, tiny_ae.key]
    assert table["active dims"].tolist() == ["2 of 2", "–"] and table["model"][1] == "conv AE, latent 4"
    assert [s.value for s in at.subheader] == ["KL per code dimension", "Class separation and smoothness", "Samples",
                                               "Held-out codes", "Loss curves", "Reconstructions"]
    assert len(at.get("plotly_chart")) == 1 + 1 + 2 + 1  # KL (the VAE only), bars, two scatters, curves
    assert len(captions(at, "Reconstructions")) == 3 * 8  # originals, then each model's row of the same 8
    assert captions(at, "Reconstructions")[8].startswith("MSE ")


def test_one_model_says_what_is_needed(monkeypatch, tmp_path, tiny_vae):
    shutil.copy(tiny_vae.path, tmp_path)
    at = open_page(PAGE, monkeypatch, tmp_path, tiny_vae)
    assert not at.exception, at.exception
    assert any("at least 2 models trained on the same dataset" in i.value for i in at.info)
    assert not at.dataframe


def test_one_chosen_model_asks_for_another(monkeypatch, models_dir, tiny_vae, tiny_ae):
    at = open_page(PAGE, monkeypatch, models_dir, tiny_vae)
    at.multiselect(key="cmp_models").set_value([tiny_ae.key]).run()
    assert not at.exception, at.exception
    assert any("Choose at least 2 models" in i.value for i in at.info) and not at.dataframe
