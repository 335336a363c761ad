"""AppTest of the Train page: no model, a real training run with live results,
the cache hit on the same config, Stop, bad settings, bad and good uploads,
download and delete of cached models."""

import io
import zipfile

import numpy as np
from PIL import Image, ImageDraw

import ui
from pagetest import open_page

PAGE = "pages/1_Train.py"


def page(tmp_models, monkeypatch):
    at = open_page(PAGE, monkeypatch, tmp_models)
    assert not at.exception
    return at


def train_and_wait(at):
    at.button(key="trn_go").click().run()
    assert not at.exception
    job = at.session_state[ui.JOB]
    assert job.wait(240), "training did not finish"
    at.run()
    assert not at.exception
    return job


def small(at, epochs=2, limit=400, kind="ae", arch="dense"):
    at.selectbox(key="trn_kind").set_value(kind)
    at.radio(key="trn_arch").set_value(arch)
    at.number_input(key="trn_epochs").set_value(epochs)
    at.number_input(key="trn_limit").set_value(limit)
    at.number_input(key="trn_batch").set_value(32)
    at.text_input(key="trn_hidden").set_value("32")
    at.run()


def test_empty_cache_says_so(tmp_path, monkeypatch):
    at = page(tmp_path, monkeypatch)
    assert any("No cached models" in i.value for i in at.info)
    assert at.button(key="trn_go")


def test_train_then_same_config_hits_the_cache_then_delete(tmp_path, monkeypatch):
    at = page(tmp_path, monkeypatch)
    small(at, kind="vae")
    assert at.number_input(key="trn_beta").value == 1.0  # VAE controls appear
    job = train_and_wait(at)
    assert job.state == "done" and not job.cached
    assert any("Trained dense VAE" in s.value for s in at.success)
    assert len(at.get("plotly_chart")) >= 1  # the loss curves
    assert at.sidebar.selectbox(key="sidebar_model").value == job.entry.key  # the new model is active
    assert at.get("download_button")  # .keras download offered

    job2 = train_and_wait(at)
    assert job2.cached and job2.entry.key == job.entry.key
    assert any("Loaded from the cache" in s.value for s in at.success)

    at.selectbox(key="trn_manage").set_value(job.entry.key)
    at.checkbox(key="trn_delete_confirm").check().run()
    at.button(key="trn_delete").click().run()
    assert not at.exception
    assert not (tmp_path / f"{job.entry.key}.npz").exists()
    assert any("No cached models" in i.value for i in at.info)
    assert any(s.value.startswith("Deleted dense VAE") for s in at.success)  # says what went
    assert at.session_state["trn_delete_confirm"] is False  # and is no longer armed


def downloaded_weights(at, media, tmp_path):
    """The weights in the .keras file the page offers for download."""
    import keras

    import aecore  # noqa: F401  (registers the model classes)

    path = tmp_path / "download.keras"
    path.write_bytes(media(at.get("download_button")[0].proto.url))
    return keras.saving.load_model(path, safe_mode=True).get_weights()


def test_stop_keeps_the_best_weights_so_far_then_resume_completes_the_run(tmp_path, monkeypatch, media):
    at = page(tmp_path, monkeypatch)
    small(at, epochs=30, limit=600)
    at.number_input(key="trn_patience").set_value(0).run()
    at.button(key="trn_go").click().run()
    job = at.session_state[ui.JOB]
    while job.latest is None or not job.history:  # wait for the first epoch's curve
        assert job.running, job.error
        job.wait(0.2)
    at.run()  # the live panel with its Stop button
    assert not at.exception
    at.button(key="job_stop").click().run()
    assert job.wait(60)
    at.run()
    assert job.state == "stopped" and len(job.entry.history["loss"]) < 30
    assert any(w.value.startswith("Stopped by you after epoch") for w in at.warning)
    assert (tmp_path / f"{job.entry.key}.npz").exists()  # kept, not lost
    done = job.entry.epochs_done
    stopped_download = downloaded_weights(at, media, tmp_path)

    # The same configuration now offers to resume the stopped run instead of serving it as the full one.
    assert any("was stopped by you after epoch" in i.value for i in at.info)
    at.button(key="trn_resume").click().run()
    resumed = at.session_state[ui.JOB]
    assert resumed is not job and resumed.resume and resumed.wait(240)
    at.run()
    assert not at.exception and resumed.state == "done" and not resumed.cached
    assert resumed.entry.key == job.entry.key and resumed.entry.complete and resumed.entry.epochs_done == 30
    assert resumed.entry.history["loss"][:done] == job.entry.history["loss"][:done]  # continued, not restarted
    again = train_and_wait(at)
    assert again.cached and again.entry.version == resumed.entry.version
    # The download follows the new weights under the same key (it is cached per version, not per key).
    from aecore.cache import ModelCache

    offered, expected = downloaded_weights(at, media, tmp_path), ModelCache(tmp_path).load(job.entry.key)
    assert all(np.array_equal(a, b) for a, b in zip(offered, expected.model.get_weights()))
    assert not all(np.array_equal(a, b) for a, b in zip(offered, stopped_download))


def test_bad_settings_give_a_message_not_a_crash(tmp_path, monkeypatch):
    at = page(tmp_path, monkeypatch)
    at.text_input(key="trn_filters").set_value("32,abc").run()
    assert not at.exception
    assert any("Expected comma-separated integers" in e.value for e in at.error)
    assert "trn_go" not in [b.key for b in at.button]  # nothing to train with until it is fixed
    at.text_input(key="trn_filters").set_value("32,64").run()
    assert not at.error and "trn_go" in [b.key for b in at.button]


def zip_of_shapes() -> bytes:
    buf = io.BytesIO()
    rng = np.random.default_rng(0)
    with zipfile.ZipFile(buf, "w") as z:
        for label in ("circles", "squares"):
            for i in range(12):
                img = Image.new("L", (40, 40), 0)
                r = int(rng.integers(6, 16))
                draw = ImageDraw.Draw(img)
                (draw.ellipse if label == "circles" else draw.rectangle)((20 - r, 20 - r, 20 + r, 20 + r), fill=255)
                b = io.BytesIO()
                img.save(b, "PNG")
                z.writestr(f"shapes/{label}/{i}.png", b.getvalue())
        z.writestr("shapes/circles/broken.png", b"not an image")
    return buf.getvalue()


def test_uploaded_zip_trains_and_bad_upload_is_a_message(tmp_path, monkeypatch):
    at = page(tmp_path, monkeypatch)
    at.selectbox(key="trn_dataset").set_value("Upload your own images (.zip)").run()
    assert any("Upload a .zip" in i.value for i in at.info)
    at.get("file_uploader")[0].upload("junk.zip", b"this is no zip", "application/zip").run()
    assert not at.exception
    assert any("Expected" in e.value and "zip" in e.value for e in at.error)

    at.get("file_uploader")[0].upload("shapes.zip", zip_of_shapes(), "application/zip").run()
    assert not at.exception
    assert any("24 images in 2 classes" in s.value for s in at.success)
    assert any("Skipped 1 file" in w.value and "broken.png" in w.value for w in at.warning)
    small(at, epochs=1, limit=0)
    job = train_and_wait(at)
    assert job.state == "done" and job.entry.config.dataset.startswith("upload:")
