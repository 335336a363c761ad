"""The trained-model cache under `models/`: one file per trained run.

An entry is `models/<key>.npz`, holding a JSON `__meta__` record (config,
history, held-out metrics, image shape, a checksum) and the weight arrays
`w000, w001, ...`. It is written to a temporary file and renamed into place,
so a crash mid-write never leaves an entry that loads wrong. Loading rebuilds
the model from the config and then sets the weights: no pickle (numpy's
`allow_pickle=False`), no code from the file is ever executed.

`train_or_load(config, dataset)` is the entry point the app and CLI use: the
same config (and the same dataset content) gives the cached model at once.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import tempfile
import threading
import time
import zipfile
from pathlib import Path
from typing import Any, Iterable

import numpy as np

from .config import FORMAT_VERSION, ModelConfig
from .data import Dataset
from .models import Autoencoder, build_model
from .train import train

MODELS_DIR_ENV = "AECORE_MODELS_DIR"
DEFAULT_MODELS_DIR = Path(__file__).resolve().parent.parent / "models"
SUFFIX = ".npz"


class CacheError(ValueError):
    """An entry is missing, corrupt or does not match its config."""


@dataclasses.dataclass
class Entry:
    """A cached run. `model` is None until `ModelCache.load` builds it."""

    key: str
    config: ModelConfig
    history: dict[str, list[float]]
    metrics: dict[str, float]
    image_shape: tuple[int, int, int]
    created: float
    seconds: float
    stopped: str
    best_epoch: int
    dataset_description: str
    path: Path
    model: Autoencoder | None = None

    def label(self) -> str:
        """e.g. 'ec52d7 · MSE 0.0312 · conv VAE, latent 2, mnist': what tells two runs apart comes first,
        so a narrow select box that cuts the end still shows it."""
        mse = self.metrics.get("mse")
        return f"{self.key[:6]}" + (f" · MSE {mse:.4f}" if mse is not None else "") + f" · {self.config.describe()}"


def default_dir() -> Path:
    """`$AECORE_MODELS_DIR` if set, else `models/` beside the `aecore` package."""
    return Path(os.environ.get(MODELS_DIR_ENV) or DEFAULT_MODELS_DIR)


def _checksum(arrays: list[np.ndarray]) -> str:
    h = hashlib.sha256()
    for a in arrays:
        h.update(str(a.shape).encode())
        h.update(np.ascontiguousarray(a).tobytes())
    return h.hexdigest()


class ModelCache:
    """Listing, saving, loading, deleting and exporting cached runs.

    Args:
        root: the folder of entries. Default `default_dir()`.
    """

    def __init__(self, root: str | os.PathLike | None = None):
        self.root = Path(root) if root is not None else default_dir()
        self._lock = threading.Lock()

    def path(self, key: str) -> Path:
        if not (isinstance(key, str) and len(key) == 16 and all(c in "0123456789abcdef" for c in key)):
            raise CacheError(f"Expected a cache key of 16 hex characters, received {key!r}.")
        return self.root / f"{key}{SUFFIX}"

    # --- writing ---------------------------------------------------------
    def save(self, result, dataset_description: str = "") -> Entry:
        """Write a `TrainResult` atomically; return its `Entry`.

        Refuses (CacheError) weights that are not all finite.
        """
        weights = [np.asarray(w) for w in result.model.get_weights()]
        if not all(np.isfinite(w).all() for w in weights):
            raise CacheError("Expected finite weights, received NaN or Inf: the run is not cached.")
        cfg: ModelConfig = result.config
        key = cfg.key()
        meta = {
            "format": FORMAT_VERSION, "key": key, "config": cfg.to_dict(), "history": result.history,
            "metrics": result.metrics, "image_shape": list(result.image_shape), "created": time.time(),
            "seconds": result.seconds, "stopped": result.stopped, "best_epoch": result.best_epoch,
            "dataset_description": dataset_description, "n_weights": len(weights),
            "checksum": _checksum(weights),
        }
        arrays = {f"w{i:03d}": w for i, w in enumerate(weights)}
        arrays["__meta__"] = np.array(json.dumps(meta))
        self.root.mkdir(parents=True, exist_ok=True)
        final = self.path(key)
        fd, tmp = tempfile.mkstemp(prefix=f".{key}-", suffix=".tmp", dir=self.root)
        try:
            with os.fdopen(fd, "wb") as f:
                np.savez(f, **arrays)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, final)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        entry = self._entry_from_meta(meta, final)
        entry.model = result.model
        return entry

    # --- reading ---------------------------------------------------------
    def _entry_from_meta(self, meta: dict, path: Path) -> Entry:
        return Entry(
            key=meta["key"], config=ModelConfig.from_dict(meta["config"]), history=meta["history"],
            metrics=meta["metrics"], image_shape=tuple(meta["image_shape"]), created=meta["created"],
            seconds=meta["seconds"], stopped=meta["stopped"], best_epoch=meta["best_epoch"],
            dataset_description=meta.get("dataset_description", ""), path=path,
        )

    def _read(self, path: Path, with_weights: bool) -> tuple[Entry, list[np.ndarray]]:
        try:
            with np.load(path, allow_pickle=False) as z:
                meta = json.loads(str(z["__meta__"]))
                if meta.get("format") != FORMAT_VERSION:
                    raise CacheError(f"Expected entry format {FORMAT_VERSION}, received {meta.get('format')!r}.")
                entry = self._entry_from_meta(meta, path)
                if entry.config.key() != entry.key or path.name != f"{entry.key}{SUFFIX}":
                    raise CacheError("Expected the entry's config to hash to its key, received a mismatch.")
                weights = [z[f"w{i:03d}"] for i in range(meta["n_weights"])] if with_weights else []
        except CacheError:
            raise
        except (OSError, ValueError, KeyError, TypeError, EOFError, zipfile.BadZipFile, json.JSONDecodeError) as e:
            raise CacheError(f"Cache entry {path.name} is corrupt or partial ({type(e).__name__}: {e}).") from None
        if with_weights and _checksum(weights) != meta["checksum"]:
            raise CacheError(f"Cache entry {path.name} is corrupt: its weights do not match their checksum.")
        return entry, weights

    def has(self, key: str) -> bool:
        return self.path(key).is_file()

    def info(self, key: str) -> Entry:
        """The entry's record without building the model."""
        if not self.has(key):
            raise CacheError(f"Expected a cached model with key {key!r}, received a key that is not in {self.root}.")
        return self._read(self.path(key), with_weights=False)[0]

    def load(self, key: str, compile: bool = False) -> Entry:
        """Rebuild the model from the entry's config, then load its weights.

        Args:
            key: the entry's cache key.
            compile: also compile it for further training. Default False.
        """
        if not self.has(key):
            raise CacheError(f"Expected a cached model with key {key!r}, received a key that is not in {self.root}.")
        entry, weights = self._read(self.path(key), with_weights=True)
        model = build_model(entry.config, entry.image_shape, compile=compile)
        expected = [tuple(w.shape) for w in model.get_weights()]
        if expected != [tuple(w.shape) for w in weights]:
            raise CacheError(f"Cache entry {key} does not match its config: expected weight shapes {expected[:3]}..., "
                             f"received {[tuple(w.shape) for w in weights][:3]}...")
        model.set_weights(weights)
        entry.model = model
        return entry

    def list(self) -> tuple[list[Entry], list[str]]:
        """All readable entries (newest first) and one message per unreadable file."""
        entries, problems = [], []
        if not self.root.is_dir():
            return entries, problems
        for path in sorted(self.root.glob(f"*{SUFFIX}")):
            try:
                entries.append(self._read(path, with_weights=False)[0])
            except CacheError as e:
                problems.append(str(e))
        entries.sort(key=lambda e: e.created, reverse=True)
        return entries, problems

    def delete(self, key: str) -> bool:
        """Remove an entry; True when something was removed."""
        path = self.path(key)
        with self._lock:
            if path.is_file():
                path.unlink()
                return True
        return False

    def export_keras(self, key: str, path: str | os.PathLike) -> Path:
        """Write a standalone `.keras` file that `keras.saving.load_model` opens
        in safe mode (after `import aecore`, which registers the classes)."""
        path = Path(path)
        if path.suffix != ".keras":
            raise CacheError(f"Expected an output path ending in .keras, received {str(path)!r}.")
        entry = self.load(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(suffix=".keras", dir=path.parent)
        os.close(fd)
        try:
            entry.model.save(tmp)
            os.replace(tmp, path)
        finally:
            Path(tmp).unlink(missing_ok=True)
        return path


def train_or_load(config: ModelConfig, dataset: Dataset, cache: ModelCache | None = None,
                  callbacks: Iterable = (), stop_event: threading.Event | None = None,
                  force: bool = False) -> tuple[Entry, bool]:
    """The cached model for `config` on `dataset`, training it first if needed.

    Args:
        config: the run's `ModelConfig` (its dataset fingerprint is filled in).
        dataset: the `Dataset` to train on.
        cache: where entries live. Default `ModelCache()`.
        callbacks, stop_event: passed to `aecore.train.train`.
        force: retrain even when an entry exists (it is replaced atomically).
    Returns:
        (entry with its model loaded, True if it came from the cache).
    """
    cache = cache or ModelCache()
    cfg = config.replace(dataset_fingerprint=dataset.fingerprint)
    key = cfg.key()
    if not force and cache.has(key):
        try:
            return cache.load(key), True
        except CacheError:
            pass  # a corrupt entry is retrained and replaced
    result = train(cfg, dataset, callbacks=callbacks, stop_event=stop_event)
    return cache.save(result, dataset.description), False


def entry_summary(entry: Entry) -> dict[str, Any]:
    """A flat dict for tables and `--json` output."""
    return {"key": entry.key, "dataset": entry.config.dataset, "kind": entry.config.kind,
            "arch": entry.config.arch, "latent_dim": entry.config.latent_dim,
            "epochs_run": len(entry.history.get("loss", [])), "stopped": entry.stopped,
            **{k: round(v, 5) for k, v in entry.metrics.items()}}
