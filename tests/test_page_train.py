"""AppTest of the Train page: no model, a real training run with live results,
the cache hit on the same config, Stop, bad settings, bad and good uploads (with
what was read in them), download and delete of cached models, the command line
that retrains one, the Advanced expander, the loss chart."""

import io
import json
import shutil
import zipfile

import numpy as np
import pytest
from PIL import Image, ImageDraw

import training_panel
import ui
from aecore.config import ModelConfig, cli_command
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
    at.run()  # picking them sets the settings to their defaults: the small ones come after
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

    assert not any("user" in s.value or "_" in s.value for s in at.success)  # words, not the stored codes

    job2 = train_and_wait(at)
    assert job2.cached and job2.entry.key == job.entry.key
    assert any("Loaded from the cache" in s.value for s in at.success)
    # The outcome is about these settings: changed settings (or another page) do not show it as theirs.
    at.number_input(key="trn_epochs").set_value(3).run()
    assert not any("Loaded from the cache" in s.value for s in at.success)
    home = open_page("app.py", monkeypatch, tmp_path, workspace=at.query_params["ws"])
    assert not home.exception and not any("Loaded from the cache" in s.value for s in home.success)
    at.number_input(key="trn_epochs").set_value(2).run()
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
    # One poller for the job on this page: the panel's; the sidebar only names the job.
    assert len(at.main.get("progress")) == 1 and not at.sidebar.get("progress")
    assert "job_stop_sidebar" not in [b.key for b in at.button]
    assert any("its progress and Stop are on this page" in c.value for c in at.sidebar.caption)
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

    uploader_column = [c for c in at.columns if "trn_dataset" in [b.key for b in c.selectbox]]
    assert uploader_column and uploader_column[0].get("file_uploader")  # beside the dataset choice
    at.get("file_uploader")[0].upload("shapes.zip", zip_of_shapes(), "application/zip").run()
    assert not at.exception
    assert any("24 images in 2 classes" in s.value for s in at.success)
    assert any(c.value == "Images per class: circles 12 · squares 12" for c in at.caption)
    thumbnails = [caption for image in at.image for caption in image.captions]
    assert thumbnails == ["circles", "squares"] * 4  # a few of each class, in turn
    assert any("Skipped 1 file" in w.value and "broken.png" in w.value for w in at.warning)
    assert not any("in colour" in i.value for i in at.info)  # grey shapes: nothing to say about colour
    small(at, epochs=1, limit=0)
    assert any(w.value.startswith("Only 5 of your 24 images are held out (20%)") for w in at.warning)
    job = train_and_wait(at)
    assert job.state == "done" and job.entry.config.dataset.startswith("upload:")
    assert (job.entry.config.image_size, job.entry.config.channels) == (28, 1)  # so the CLI reads them the same
    assert "--images shapes.zip --kind ae --arch dense" in at.code[0].value and "--image-size 28" in at.code[0].value


def colour_zip() -> bytes:
    """A zip of 12 red and green discs on black: images whose colour a Grayscale model loses."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        for label, fill in (("red", (230, 30, 30)), ("green", (30, 200, 40))):
            for i in range(6):
                img = Image.new("RGB", (32, 32))
                ImageDraw.Draw(img).ellipse((4 + i, 4, 26, 26 - i), fill=fill)
                b = io.BytesIO()
                img.save(b, "PNG")
                z.writestr(f"{label}/{i}.png", b.getvalue())
    return buf.getvalue()


def test_colour_images_in_grayscale_are_explained(tmp_path, monkeypatch):
    at = page(tmp_path, monkeypatch)
    at.selectbox(key="trn_dataset").set_value("Upload your own images (.zip)").run()
    at.get("file_uploader")[0].upload("discs.zip", colour_zip(), "application/zip").run()
    assert not at.exception and any("12 images in 2 classes, 28×28×1" in s.value for s in at.success)
    assert any("in colour and **Grayscale** is chosen" in i.value for i in at.info)
    at.radio(key="trn_channels").set_value(3).run()
    assert any("12 images in 2 classes, 28×28×3" in s.value for s in at.success)
    assert not any("in colour" in i.value for i in at.info)


def two_models(tmp_path, *entries):
    """The session's tiny models, copied into a model folder of this test's own (shared models: MNIST)."""
    for e in entries:
        shutil.copy(e.path, tmp_path / e.path.name)


def test_deleting_a_model_disarms_the_delete_and_says_what_went(tmp_path, monkeypatch, tiny_vae, tiny_ae):
    two_models(tmp_path, tiny_vae, tiny_ae)
    at = page(tmp_path, monkeypatch)
    at.selectbox(key="trn_manage").set_value(tiny_ae.key).run()
    at.checkbox(key="trn_delete_confirm").check().run()
    at.button(key="trn_delete").click().run()
    assert not at.exception and not (tmp_path / tiny_ae.path.name).exists()
    assert [s.value for s in at.success] == [f"Deleted {tiny_ae.label()}."]
    # The list moves to the other model: the confirmation is unticked and Delete disabled, so no second click
    # deletes it unconfirmed.
    assert at.selectbox(key="trn_manage").value == tiny_vae.key
    assert at.checkbox(key="trn_delete_confirm").value is False and at.button(key="trn_delete").disabled
    at.run()
    assert not at.success and (tmp_path / tiny_vae.path.name).exists()  # said once; the other model stays


def test_the_model_list_follows_the_active_model_and_shows_how_to_retrain_it(
        tmp_path, monkeypatch, tiny_vae, tiny_ae, media):
    two_models(tmp_path, tiny_vae, tiny_ae)
    at = open_page(PAGE, monkeypatch, tmp_path, entry=tiny_vae)
    assert not at.exception
    table = at.dataframe[0].value
    assert list(table.columns)[0] == "model" and list(table.columns)[-1] == "key"  # what a person reads first
    assert at.selectbox(key="trn_manage").value == tiny_vae.key  # the sidebar's active model is picked
    label = [o for o in at.selectbox(key="trn_manage").options if o.endswith(tiny_vae.key[:6])]  # the key last
    assert label and label[0].startswith("dense VAE, latent 2, mnist · 6 epochs · MSE ")
    code = at.code[0]
    assert code.language == "bash" and code.value == cli_command(tiny_vae.config)
    assert "--kind vae" in code.value and "--dataset mnist" in code.value
    assert at.json[0].value and '"latent_dim": 2' in at.json[0].value

    # Its config and held-out metrics as JSON, beside the .keras file: the config rebuilds to the same key.
    (report,) = [b for b in at.get("download_button") if b.proto.id.endswith("trn_json")]
    data = json.loads(media(report.proto.url))
    assert ModelConfig.from_dict(data["config"]).key() == tiny_vae.key and data["key"] == tiny_vae.key
    assert data["held_out_metrics"] == pytest.approx(tiny_vae.metrics) and len(data["history"]["loss"]) == 6

    at.sidebar.selectbox(key="sidebar_model").set_value(tiny_ae.key).run()
    assert at.selectbox(key="trn_manage").value == tiny_ae.key  # follows the active model as it changes
    assert at.code[0].value == cli_command(tiny_ae.config)


def test_picking_a_kind_or_architecture_sets_its_defaults(tmp_path, monkeypatch):
    from aecore.config import defaults_for

    at = page(tmp_path, monkeypatch)

    def shown(field, key):
        value = getattr(defaults_for(at.selectbox(key="trn_kind").value, at.radio(key="trn_arch").value), field)
        return (at.text_input(key=key) if isinstance(value, tuple) else at.number_input(key=key)).value, value

    def check():
        for field, key in (("latent_dim", "trn_latent"), ("epochs", "trn_epochs"), ("batch_size", "trn_batch"),
                           ("learning_rate", "trn_lr"), ("hidden_units", "trn_hidden"), ("patience", "trn_patience"),
                           ("augment_shift", "trn_shift")):
            got, want = shown(field, key)
            assert got == (",".join(map(str, want)) if isinstance(want, tuple) else want), field
        assert at.selectbox(key="trn_schedule").value == defaults_for(
            at.selectbox(key="trn_kind").value, at.radio(key="trn_arch").value).lr_schedule

    check()  # the conv AE's, on opening
    at.number_input(key="trn_seed").set_value(5)
    at.number_input(key="trn_epochs").set_value(3)
    at.selectbox(key="trn_kind").set_value("dae").run()
    check()
    assert at.number_input(key="trn_latent").value == 128 and at.text_input(key="trn_hidden").value == ""
    assert at.number_input(key="trn_seed").value == 5  # not a per-kind setting: kept
    at.selectbox(key="trn_kind").set_value("vae").run()
    check()
    assert at.number_input(key="trn_shift").value == 0  # the VAE's images are not shifted (the AE's are)
    at.radio(key="trn_arch").set_value("dense").run()
    check()
    assert not at.exception and not at.error


def test_advanced_stays_open_when_the_model_kind_changes(tmp_path, monkeypatch):
    at = page(tmp_path, monkeypatch)
    assert at.expander[0].label == "Advanced" and at.expander[0].proto.expanded is False
    at.session_state["trn_advanced"] = True  # the user opens it
    at.run()
    for kind in ("ae", "vae", "dae", "sparse", "ae"):
        at.selectbox(key="trn_kind").set_value(kind).run()
        assert not at.exception
        assert at.expander[0].label == "Advanced" and at.expander[0].proto.expanded is True, kind


def test_loss_chart_has_whole_epoch_ticks_and_its_legend_beside_the_panels():
    history = {k: [0.3, 0.2, 0.15] for k in ("loss", "val_loss", "recon", "val_recon", "kl", "val_kl")}
    fig = training_panel.loss_figure(history, "vae")
    axes = [fig.layout[name] for name in ("xaxis", "xaxis2", "xaxis3")]
    assert all(a.title.text == "epoch" and a.tickmode == "linear" and a.dtick == 1 for a in axes)  # no 1.5
    legend = fig.layout.legend
    assert legend.orientation == "v" and legend.x > 1  # right of the panels, never over their axis titles
    assert [t.name for t in fig.data if t.showlegend is not False] == ["train", "validation"]
    assert [training_panel.epoch_step(n) for n in (1, 10, 11, 25, 40, 100, 400)] == [1, 1, 2, 5, 5, 10, 50]


def test_a_running_jobs_figure_is_built_once_per_epoch_count():
    history = {"loss": [0.3, 0.2], "val_loss": [0.31, 0.22]}
    first = training_panel._live_figure("job-a", 2, "ae", history)
    assert training_panel._live_figure("job-a", 2, "ae", history) is first  # the polls in between reuse it
    history["loss"].append(0.1)
    history["val_loss"].append(0.12)
    grown = training_panel._live_figure("job-a", 3, "ae", history)
    assert grown is not first and list(grown.data[0].y) == [0.3, 0.2, 0.1]
    assert len(training_panel._live_figure("job-b", 2, "vae", history).data) == 6  # another job: its own
