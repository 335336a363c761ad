"""Shared fixtures: offline data from ../shared/data and one tiny trained model per session.

The tiny models are real Keras models trained for a couple of epochs on a few
hundred real MNIST digits, so every test exercises real training and inference
while the whole suite stays within minutes on 2 CPU cores.

The offline data is looked for in $AECORE_DATA_DIR, else ../shared/data. When it
is not there, the tests that need it (through the `offline_data` or
`offline_olivetti` fixture, or a fixture built on them such as `mnist_small`)
are skipped with a message saying where they looked and how to get the files,
and AECORE_DATA_DIR is left unset, so that everything else (scikit-learn's
bundled digits, uploads, ...) still runs.
"""

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = ROOT.parent / "shared" / "data"
_ENV_GIVEN = os.environ.get("AECORE_DATA_DIR", "")
DATA_DIR = Path(_ENV_GIVEN or SHARED_DATA)  # where the tests look for the offline data
if DATA_DIR.is_dir():
    os.environ["AECORE_DATA_DIR"] = str(DATA_DIR)
else:  # a directory that is not there would make every loader refuse, digits included
    os.environ.pop("AECORE_DATA_DIR", None)
# A missing dataset fails or skips; it is never downloaded (the servers and CLIs the tests start inherit this).
os.environ["AECORE_OFFLINE"] = "1"
os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

GET_THE_DATA = ("The tests look for the offline data in $AECORE_DATA_DIR ({env}), else in ../shared/data next "
                "to the repository ({shared}). To run them, put the files there or point AECORE_DATA_DIR at a folder "
                "holding mnist/t10k-images-idx3-ubyte.gz and mnist/t10k-labels-idx1-ubyte.gz (MNIST's test split, "
                "IDX format) and olivetti/olivettifaces.mat, as README.md's \"Data\" section says; "
                "`python -m aecore datasets` shows where each dataset would load from.")


def _skip_without(what, found):
    """Skip the calling test, saying where the tests looked and how to get the files, unless `found`."""
    if not found:
        pytest.skip(f"Offline {what} not found in {DATA_DIR}{'' if DATA_DIR.is_dir() else ' (not a directory)'}. "
                    + GET_THE_DATA.format(env=_ENV_GIVEN or "not set", shared=SHARED_DATA))


@pytest.fixture(scope="session")
def offline_data():
    """The folder with the offline MNIST files (the tests' data dir); skips the test when they are not there."""
    from aecore.builtin_data import locate

    _skip_without("MNIST IDX files", DATA_DIR.is_dir() and locate("mnist", DATA_DIR).path is not None)
    return DATA_DIR


@pytest.fixture(scope="session")
def offline_olivetti():
    """The offline olivettifaces.mat; skips the test when it is not there."""
    from aecore.builtin_data import locate

    path = locate("olivetti", DATA_DIR).path if DATA_DIR.is_dir() else None
    _skip_without("olivettifaces.mat", path is not None)
    return path


@pytest.fixture(scope="session")
def mnist_small(offline_data):
    """The first 600 MNIST test digits (real images, loaded offline)."""
    from aecore.builtin_data import load_dataset

    return load_dataset("mnist", data_dir=offline_data, limit=600)


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
