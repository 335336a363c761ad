"""AppTest of the home page (home.py, reached through the entry point app.py): empty state, the one-click default model
(started for real, then stopped to keep the suite short), and the model table."""

import ui
from aecore.config import QUICKSTART
from pagetest import open_page

APP = "app.py"


def test_home_without_models_points_to_training(tmp_path, monkeypatch):
    at = open_page(APP, monkeypatch, tmp_path)
    assert not at.exception
    assert at.title[0].value.endswith("Latent Explorer")
    assert any("No trained model yet" in i.value for i in at.info)
    assert at.button(key="home_quickstart").label == "Train the default model"


def test_quickstart_button_trains_the_default_conv_vae_live(tmp_path, monkeypatch):
    at = open_page(APP, monkeypatch, tmp_path)
    at.button(key="home_quickstart").click().run()
    assert not at.exception
    job = at.session_state[ui.JOB]
    assert job.config == QUICKSTART and job.config.describe() == "conv VAE, latent 2, mnist"
    while job.latest is None:
        assert job.running, job.error
        job.wait(0.2)
    at.run()
    assert at.button(key="home_quickstart").disabled  # one job at a time
    assert any("Epoch 1/" in (p.proto.text or "") for p in at.get("progress"))  # live progress with ETA
    at.button(key="job_stop").click().run()
    assert job.wait(60) and job.state == "stopped"
    at.run()
    assert not at.exception
    rows = at.dataframe[0].value
    assert list(rows["model"]) == ["conv VAE, latent 2, mnist"]
    assert at.sidebar.selectbox(key="sidebar_model").value == job.entry.key
