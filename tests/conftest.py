"""Shared fixtures: offline data from ../shared/data and one tiny trained model per session.

The tiny models are real Keras models trained for a couple of epochs on a few
hundred real MNIST digits, so every test exercises real training and inference
while the whole suite stays within minutes on 2 CPU cores.
"""

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = ROOT.parent / "shared" / "data"
os.environ.setdefault("AECORE_DATA_DIR", str(SHARED_DATA))
os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


@pytest.fixture(scope="session")
def mnist_small():
    """The first 600 MNIST test digits (real images, loaded offline)."""
    from aecore.data import load_dataset

    return load_dataset("mnist", limit=600)


@pytest.fixture(scope="session")
def models_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("models")


@pytest.fixture(scope="session")
def tiny_vae(mnist_small, models_dir):
    """A dense VAE, latent 2, trained a few epochs on 600 digits, saved in the cache."""
    from aecore.cache import ModelCache, train_or_load
    from aecore.config import ModelConfig

    cfg = ModelConfig(kind="vae", arch="dense", latent_dim=2, epochs=6, batch_size=32, learning_rate=3e-3,
                      hidden_units=(64,), limit=600)
    entry, _ = train_or_load(cfg, mnist_small, ModelCache(models_dir))
    return entry


@pytest.fixture(scope="session")
def tiny_ae(mnist_small, models_dir):
    """A conv AE, latent 4, trained a few epochs on 600 digits, saved in the cache."""
    from aecore.cache import ModelCache, train_or_load
    from aecore.config import ModelConfig

    cfg = ModelConfig(kind="ae", arch="conv", latent_dim=4, epochs=8, batch_size=32, learning_rate=3e-3,
                      filters=(8, 16), hidden_units=(64,), limit=600)
    entry, _ = train_or_load(cfg, mnist_small, ModelCache(models_dir))
    return entry


class MediaFiles:
    """The files a page handed to Streamlit's media storage, looked up by the URL Streamlit gave them
    (data URIs carry their bytes themselves)."""

    def __init__(self):
        self.files = {}  # file id -> MemoryFile (content, mimetype, kind, filename)

    def file(self, url: str):
        return self.files[url.rsplit("/", 1)[-1].split(".")[0]]

    def __call__(self, url: str) -> bytes:
        if url.startswith("data:"):  # an inline image (st.image of a data URI): the bytes are in the URL
            import base64

            return base64.b64decode(url.split(",", 1)[1])
        return self.file(url).content


@pytest.fixture
def media(monkeypatch):
    """Bytes (and names) of every image/file the page hands to Streamlit's media storage, by URL.

    AppTest drops its media storage after each run and protos only carry URLs,
    so the storage's `load_and_get_id` is wrapped to keep a copy.
    """
    from streamlit.runtime.memory_media_file_storage import MemoryMediaFileStorage

    kept = MediaFiles()
    original = MemoryMediaFileStorage.load_and_get_id

    def keep(self, path_or_data, mimetype, kind, filename=None):
        file_id = original(self, path_or_data, mimetype, kind, filename)
        kept.files[file_id] = self.get_file(file_id)
        return file_id

    monkeypatch.setattr(MemoryMediaFileStorage, "load_and_get_id", keep)
    return kept
