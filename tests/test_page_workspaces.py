"""Private workspaces through the pages (AppTest): what one workspace uploads and trains, another never sees; a
workspace comes back from its link after a restart; the link's id is checked; a training job belongs to the
workspace (visible from every page and after a reload, its end announced once)."""

import io
import zipfile

import pytest
import streamlit as st
from PIL import Image
from streamlit.testing.v1 import AppTest

import ui
import workspace_ui
from aecore.workspace import ID_LENGTH, check_id, new_id
from pagetest import ROOT, captions, open_page

TRAIN, RECONSTRUCT, SCATTER = "pages/1_Train.py", "pages/2_Reconstruct.py", "pages/4_Latent_Scatter.py"
UPLOAD = "Upload your own images (.zip)"


@pytest.fixture(scope="module")
def digits_zip(mnist_small) -> bytes:
    """A zip of 60 real MNIST digits as PNGs, in folders by label (3 classes): someone's private pictures."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        for label in (0, 1, 2):
            for i in [i for i in range(len(mnist_small)) if mnist_small.labels[i] == label][:20]:
                png = io.BytesIO()
                Image.fromarray((mnist_small.images[i, ..., 0] * 255).astype("uint8")).save(png, "PNG")
                z.writestr(f"private/{label}/{i}.png", png.getvalue())
    return buf.getvalue()


def settings(at, epochs=2, limit=0, dataset=None):
    """A tiny dense AE on the Train page."""
    if dataset:
        at.selectbox(key="trn_dataset").set_value(dataset).run()
    at.selectbox(key="trn_kind").set_value("ae")
    at.radio(key="trn_arch").set_value("dense")
    at.number_input(key="trn_epochs").set_value(epochs)
    at.number_input(key="trn_limit").set_value(limit)
    at.number_input(key="trn_batch").set_value(32)
    at.text_input(key="trn_hidden").set_value("32")
    at.number_input(key="trn_patience").set_value(0)
    at.run()
    assert not at.exception


def restart():
    """What a server restart forgets: every cached resource and datum (loaded models, the upload store, jobs)."""
    st.cache_resource.clear()
    st.cache_data.clear()


def sidebar_models(at) -> list[str]:
    """The labels of the models the sidebar's picker offers (the cache key's first 6 characters end each one)."""
    boxes = [b for b in at.sidebar.selectbox if b.key == "sidebar_model"]
    return list(boxes[0].options) if boxes else []


def test_an_upload_and_its_model_are_private_and_come_back_from_the_link_after_a_restart(
        tmp_path, monkeypatch, digits_zip):
    a, b = new_id(), new_id()
    at = open_page(TRAIN, monkeypatch, tmp_path, workspace=a)
    at.selectbox(key="trn_dataset").set_value(UPLOAD).run()
    at.get("file_uploader")[0].upload("private_photos.zip", digits_zip, "application/zip").run()
    assert any("60 images in 3 classes" in s.value for s in at.success)
    settings(at)
    at.button(key="trn_go").click().run()
    job = at.session_state[ui.JOB]
    assert job.wait(120) and job.state == "done", job.error
    at.run()
    assert not at.exception
    key = job.entry.key
    ws_dir = tmp_path / "workspaces" / a
    assert (ws_dir / f"{key}.npz").is_file() and not (tmp_path / f"{key}.npz").exists()
    assert (ws_dir / "datasets" / f"{job.entry.config.dataset_fingerprint}.npz").is_file()  # kept beside it
    assert at.sidebar.selectbox(key="sidebar_model").value == key

    # Another workspace: not in the picker, not in the list, no way to download or delete it.
    other = open_page(TRAIN, monkeypatch, tmp_path, workspace=b)
    assert not other.exception and sidebar_models(other) == []
    assert any("No cached models" in i.value for i in other.info)
    assert not other.get("download_button") and "trn_delete" not in [x.key for x in other.button]
    # ... not by its key either: the guard, not A's model or images.
    for page in (RECONSTRUCT, SCATTER):
        guessed = open_page(page, monkeypatch, tmp_path, job.entry, workspace=b)
        assert not guessed.exception
        assert any("No trained model yet" in i.value for i in guessed.info)
        assert not guessed.image and not guessed.get("plotly_chart") and sidebar_models(guessed) == []

    # A restart forgets everything in memory; the link brings the workspace back, with its held-out images.
    restart()
    back = open_page(RECONSTRUCT, monkeypatch, tmp_path, workspace=a)
    assert not back.exception
    assert [m[-6:] for m in sidebar_models(back)] == [key[:6]] and back.title[0].value == "Reconstruct"
    assert len(captions(back, "Held-out images", prefix="#")) == 8  # 12 held-out digits, 8 shown
    assert not any("not available" in i.value for i in back.info)
    scatter = open_page(SCATTER, monkeypatch, tmp_path, workspace=a)
    assert not scatter.exception and len(scatter.get("plotly_chart")) == 1
    still = open_page(RECONSTRUCT, monkeypatch, tmp_path, job.entry, workspace=b)
    assert any("No trained model yet" in i.value for i in still.info) and not still.image  # still not B's

    # A deletes its own model (no "for everyone" about it): its kept images go with it.
    mine = open_page(TRAIN, monkeypatch, tmp_path, workspace=a)
    assert mine.checkbox(key="trn_delete_confirm").label == "Yes, delete it"
    mine.checkbox(key="trn_delete_confirm").check().run()
    mine.button(key="trn_delete").click().run()
    assert not mine.exception and not (ws_dir / f"{key}.npz").exists()
    assert not list((ws_dir / "datasets").glob("*.npz"))


def test_a_link_without_a_workspace_gets_a_new_one_and_a_bad_one_a_warning(tmp_path, monkeypatch):
    monkeypatch.setenv("AECORE_MODELS_DIR", str(tmp_path))
    at = AppTest.from_file(str(ROOT / RECONSTRUCT), default_timeout=60).run()
    assert not at.exception and not at.warning
    first = check_id(at.query_params["ws"])  # written into the link, so a reload keeps it
    at.run()
    assert at.query_params["ws"] == first

    bad = AppTest.from_file(str(ROOT / RECONSTRUCT), default_timeout=60)
    bad.query_params["ws"] = "../../etc/passwd"
    bad.run()
    assert not bad.exception
    assert any(f"Expected a workspace id of {ID_LENGTH} characters" in w.value and "passwd" in w.value
               for w in bad.warning)
    fresh = check_id(bad.query_params["ws"])
    assert fresh != first
    bad.run()
    assert not bad.warning and bad.query_params["ws"] == fresh  # said once; the new workspace stays


def stop_button(at):
    return [b for b in at.button if b.key == "job_stop_sidebar"]


def test_a_job_belongs_to_its_workspace_on_every_page_and_its_end_is_announced_once(
        tmp_path, monkeypatch, offline_data):
    a, b = new_id(), new_id()
    at = open_page(TRAIN, monkeypatch, tmp_path, workspace=a)
    settings(at, epochs=200, limit=400, dataset="mnist")
    at.button(key="trn_go").click().run()
    job = at.session_state[ui.JOB]
    while job.latest is None:
        assert job.running, job.error
        job.wait(0.1)

    # Another page of A, opened afresh as after a reload: the progress and Stop are in its sidebar.
    other_page = open_page(RECONSTRUCT, monkeypatch, tmp_path, workspace=a)
    assert not other_page.exception and stop_button(other_page)
    assert any("Epoch " in (p.proto.text or "") for p in other_page.sidebar.get("progress"))
    assert other_page.session_state[ui.JOB] is job
    # B sees nothing of it.
    stranger = open_page(RECONSTRUCT, monkeypatch, tmp_path, workspace=b)
    assert not stranger.sidebar.get("progress") and not stop_button(stranger) and ui.JOB not in stranger.session_state

    stop_button(other_page)[0].click().run()  # Stop from another page than the one that started it
    assert job.wait(60) and job.state == "stopped"
    other_page.run()
    assert not other_page.exception and not stop_button(other_page)
    toasts = [t.value for t in other_page.toast]
    assert len(toasts) == 1 and "Training ended" in toasts[0] and "is now the active model" in toasts[0]
    assert other_page.sidebar.selectbox(key="sidebar_model").value == job.entry.key  # its model is active
    other_page.run()
    at.run()
    again = open_page(RECONSTRUCT, monkeypatch, tmp_path, workspace=a)
    stranger.run()
    assert not other_page.toast and not at.toast and not again.toast and not stranger.toast  # once, and only A
    assert any(w.value.startswith("Stopped by you") for w in at.warning)  # the Train page's outcome stays


def test_a_queued_job_shows_its_place_in_line(tmp_path, monkeypatch):
    ws = new_id()

    class Waiting:  # what a job waiting for a training slot of the cluster looks like to the pages
        running, state, queue_position, latest, history = True, "queued", 3, None, {}
        config = __import__("aecore").ModelConfig(dataset="mnist")

        class stop_event:  # noqa: N801
            @staticmethod
            def is_set():
                return False

    board = workspace_ui._board()
    with board.lock:
        board.jobs[ws] = Waiting()
    try:
        at = open_page(RECONSTRUCT, monkeypatch, tmp_path, workspace=ws)
        assert not at.exception
        assert [p.proto.text for p in at.sidebar.get("progress")] == ["Waiting for a training slot: place 3 in line"]
        assert stop_button(at)
    finally:
        with board.lock:
            board.jobs.pop(ws, None)


def test_deleting_a_shared_model_says_it_is_for_everyone_and_waits_for_a_training_of_it(
        tmp_path, monkeypatch, tiny_vae):
    import shutil

    shutil.copy(tiny_vae.path, tmp_path / tiny_vae.path.name)  # a shared model (MNIST) of its own for this test

    class Retraining:  # another session's running job that trains this same model again
        running, key, config = True, tiny_vae.key, tiny_vae.config

    monkeypatch.setattr(workspace_ui.jobs, "jobs", lambda: [Retraining()])
    at = open_page(TRAIN, monkeypatch, tmp_path)
    assert at.selectbox(key="trn_manage").value == tiny_vae.key
    box = at.checkbox(key="trn_delete_confirm")
    assert box.label == "Yes, delete it for everyone" and "shared" in box.help
    box.check().run()
    assert any("shared with everyone using this app" in w.value for w in at.warning)
    at.button(key="trn_delete").click().run()
    assert not at.exception and (tmp_path / tiny_vae.path.name).exists()
    assert any("Expected no running training" in e.value for e in at.error)  # refused, saying why

    monkeypatch.setattr(workspace_ui.jobs, "jobs", lambda: [])
    at.checkbox(key="trn_delete_confirm").check().run()
    at.button(key="trn_delete").click().run()
    assert not at.exception and not (tmp_path / tiny_vae.path.name).exists()
    assert any(s.value.startswith("Deleted dense VAE") for s in at.success)
