"""The trained-model cache under `models/`: one file per trained run.

An entry is `models/<key>.npz`, the key a hash of the run's config (its
dataset's content included); `aecore.entry_file` writes it atomically and
reads it back without trusting it. Loading rebuilds the model from the config
and then sets the weights: no code from the file is ever executed.

`train_or_load(config, dataset)` is the entry point the app and CLI use: the
same config (and the same dataset content) gives the cached model at once.
"""

from __future__ import annotations

import dataclasses
import os
import threading
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np

from .config import ModelConfig
from .data import Dataset
from .entry_file import (
    SUFFIX,
    CacheError,
    is_key,
    parse_record,
    read_entry,
    unpack_resume,
    write_atomically,
    write_entry,
)
from .models import Autoencoder, build_model
from .train import COMPLETE, STOPPED_BY_USER, ResumeState, TrainResult, train

__all__ = ["CacheError", "Entry", "ModelCache", "Unreadable", "MODELS_DIR_ENV", "SUFFIX", "default_dir",
           "entry_summary", "stopped_run", "train_or_load"]

MODELS_DIR_ENV = "AECORE_MODELS_DIR"
DEFAULT_MODELS_DIR = Path(__file__).resolve().parent.parent / "models"


@dataclasses.dataclass
class Entry:
    """A cached run. `model` is None until `ModelCache.load` builds it.

    `stopped` is "completed" or "early_stopping" for a run that finished as
    configured (`complete`), "user" for one stopped before its epochs: such an
    entry is listed and usable, never served for a cache lookup, and
    `resumable` when its optimizer state was kept.
    """

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
    checksum: str = ""
    epochs_done: int = 0
    resumable: bool = False
    model: Autoencoder | None = None

    @property
    def complete(self) -> bool:
        return self.stopped in COMPLETE

    @property
    def version(self) -> str:
        """Identifies these weights: a retrain under the same key gets a new version."""
        return f"{self.key}.{self.checksum[:12]}"

    def status(self) -> str:
        """How the run ended, in words (never the stored code): '20 epochs', 'stopped by you after epoch 3 of
        20', 'stopped early after epoch 12 of 40: no better held-out loss in 5 epochs'."""
        of = f"of {self.config.epochs}"
        if self.stopped == STOPPED_BY_USER:
            return f"stopped by you {f'after epoch {self.epochs_done}' if self.epochs_done else 'in epoch 1'} {of}"
        if self.stopped == "early_stopping":
            return (f"stopped early after epoch {self.epochs_done} {of}: no better held-out loss in "
                    f"{_epochs(self.config.patience)}")
        return _epochs(self.epochs_done)

    def label(self) -> str:
        """e.g. 'conv VAE, latent 2, mnist · 20 epochs · MSE 0.0312 · ec52d7': what a person reads first,
        the key last."""
        mse = self.metrics.get("mse")
        return f"{self.config.describe()} · {self.status()}" + (f" · MSE {mse:.4f}" if mse is not None else "") \
            + f" · {self.key[:6]}"


def _epochs(n: int) -> str:
    return f"{n} epoch{'' if n == 1 else 's'}"


@dataclasses.dataclass
class Unreadable:
    """A file in the cache folder that is not a usable entry, with the reason. `str()` is the message."""

    name: str
    reason: str

    def __str__(self) -> str:
        return self.reason


def default_dir() -> Path:
    """`$AECORE_MODELS_DIR` if set, else `models/` beside the `aecore` package."""
    return Path(os.environ.get(MODELS_DIR_ENV) or DEFAULT_MODELS_DIR)


class ModelCache:
    """Listing, saving, loading, deleting and exporting cached runs.

    Opening a cache removes temporary files older than a minute that a killed
    save left behind (younger ones may be another process's save in progress).

    Args:
        root: the folder of entries. Default `default_dir()`.
    """

    STALE_TMP_SECONDS = 60  # a save takes well under a second; older temporaries are leftovers

    def __init__(self, root: str | os.PathLike | None = None):
        self.root = Path(root) if root is not None else default_dir()
        self._lock = threading.Lock()
        self._remove_stale_temporaries()

    def _remove_stale_temporaries(self) -> None:
        if not self.root.is_dir():
            return
        now = time.time()
        for tmp in self.root.glob(".*.tmp"):
            try:
                if now - tmp.stat().st_mtime > self.STALE_TMP_SECONDS:
                    tmp.unlink()
            except OSError:
                pass  # gone already, or not ours to remove

    def path(self, key: str) -> Path:
        """The file of the entry `key` (which need not exist).

        Args:
            key: a cache key, 16 hex characters (CacheError otherwise).
        """
        if not is_key(key):
            raise CacheError(f"Expected a cache key of 16 hex characters, received {key!r}.")
        return self.root / f"{key}{SUFFIX}"

    # --- writing ---------------------------------------------------------
    def save(self, result: TrainResult, dataset_description: str = "") -> Entry:
        """Write a `TrainResult` atomically; return its `Entry`.

        A run stopped before its epochs is saved with its resume state. It
        never replaces a complete entry of the same config (CacheError).
        Refuses (CacheError) weights that are not all finite.

        Args:
            result: what `aecore.train.train` returned.
            dataset_description: what the dataset was, for people. Default "".
        """
        weights = [np.asarray(w, dtype=np.float32) for w in result.model.get_weights()]
        if not all(np.isfinite(w).all() for w in weights):
            raise CacheError("Expected finite weights, received NaN or Inf: the run is not cached.")
        cfg: ModelConfig = result.config
        key = cfg.key()
        if not result.complete and self._complete(key):
            raise CacheError(f"The run was stopped before its {cfg.epochs} epochs, so it was not saved: the "
                             f"complete model trained earlier for this configuration (key {key}) is kept.")
        self.root.mkdir(parents=True, exist_ok=True)
        final = self.path(key)
        entry = Entry(path=final, **parse_record(write_entry(final, result, weights, dataset_description), final))
        entry.model = result.model
        return entry

    # --- reading ---------------------------------------------------------
    def _open(self, path: Path, groups: str = "") -> tuple[Entry, dict, dict[str, list[np.ndarray]]]:
        """(entry, raw record, {prefix: arrays}) for the array groups in `groups` ('w', 'r', 'o', 'g')."""
        fields, meta, arrays = read_entry(path, groups)
        return Entry(path=path, **fields), meta, arrays

    def has(self, key: str) -> bool:
        """True when a file (readable or not) is stored under `key`.

        Args:
            key: a cache key, 16 hex characters.
        """
        return self.path(key).is_file()

    def _complete(self, key: str) -> bool:
        """True when a readable entry that finished as configured is stored under `key`."""
        try:
            return self.has(key) and self.info(key).complete
        except CacheError:
            return False

    def _require(self, key: str) -> Path:
        if not self.has(key):
            raise CacheError(f"Expected a cached model with key {key!r}, received a key that is not in {self.root}.")
        return self.path(key)

    def info(self, key: str) -> Entry:
        """The entry's record without building the model.

        Args:
            key: the entry's cache key.
        """
        return self._open(self._require(key))[0]

    def load(self, key: str, compile: bool = False) -> Entry:
        """Rebuild the model from the entry's config, then load its weights.

        Args:
            key: the entry's cache key.
            compile: also compile it for further training. Default False.
        """
        entry, _, groups = self._open(self._require(key), "w")
        weights = groups["w"]  # as many as the config has (checked before building: no doctored giant model)
        try:
            model = build_model(entry.config, entry.image_shape, compile=compile)
        except ValueError as e:
            raise CacheError(f"Cache entry {key} cannot be rebuilt from its config ({e}).") from None
        expected = [tuple(w.shape) for w in model.get_weights()]
        if expected != [tuple(w.shape) for w in weights]:
            raise CacheError(f"Cache entry {key} does not match its config: expected weight shapes {expected[:3]}..., "
                             f"received {[tuple(w.shape) for w in weights][:3]}...")
        model.set_weights(weights)
        entry.model = model
        return entry

    def resume_state(self, key: str) -> tuple[ResumeState, list[np.ndarray]]:
        """(state, best weights) of a stopped entry, for `aecore.train.train(resume=...)`.

        Args:
            key: the cache key of an entry saved by a stopped run.
        """
        entry, meta, groups = self._open(self._require(key), "wrog")
        if not entry.resumable:
            raise CacheError(f"Expected a stopped run with its resume state, received entry {key} "
                             f"({entry.status()}).")
        return unpack_resume(meta, groups), groups["w"]

    def list(self) -> tuple[list[Entry], list[Unreadable]]:
        """All readable entries (newest first) and the unreadable files, each with its reason."""
        entries, problems = [], []
        if not self.root.is_dir():
            return entries, problems
        for path in sorted(self.root.glob(f"*{SUFFIX}")):
            try:
                entries.append(self._open(path)[0])
            except CacheError as e:
                problems.append(Unreadable(path.name, str(e)))
        entries.sort(key=lambda e: e.created, reverse=True)
        return entries, problems

    def delete(self, key: str) -> bool:
        """Remove an entry (readable or not); True when something was removed.

        Args:
            key: the entry's cache key.
        """
        return self.delete_file(self.path(key).name)

    def delete_file(self, name: str) -> bool:
        """Remove the file `name` (as `Unreadable.name` gives it) from the cache folder; True when removed.

        Args:
            name: a `.npz` file name in the folder, no path (CacheError otherwise).
        """
        if not (isinstance(name, str) and name.endswith(SUFFIX) and Path(name).name == name
                and not name.startswith(".")):
            raise CacheError(f"Expected the name of a {SUFFIX} file in the cache folder, received {name!r}.")
        path = self.root / name
        with self._lock:
            if path.is_file():
                path.unlink()
                return True
        return False

    def export_keras(self, key: str, path: str | os.PathLike) -> Path:
        """Write a standalone `.keras` file that `keras.saving.load_model` opens
        in safe mode (after `import aecore`, which registers the classes).

        Args:
            key: the entry's cache key.
            path: the file to write, ending in `.keras` (replaced atomically).
        Returns:
            `path` as a `Path`.
        """
        path = Path(path)
        if path.suffix != ".keras":
            raise CacheError(f"Expected an output path ending in .keras, received {str(path)!r}.")
        entry = self.load(key)
        path.parent.mkdir(parents=True, exist_ok=True)

        def save(fd: int, tmp: str) -> None:
            os.close(fd)
            entry.model.save(tmp)

        return write_atomically(path, save, suffix=".keras")


def stopped_run(config: ModelConfig, fingerprint: str, cache: ModelCache | None = None) -> Entry | None:
    """The resumable stopped entry of `config` on the dataset with this fingerprint, if there is one (else None).

    Args:
        config: the run's `ModelConfig`.
        fingerprint: the dataset's content hash (`Dataset.fingerprint`).
        cache: where entries live. Default `ModelCache()`.
    """
    cache = cache or ModelCache()
    key = config.replace(dataset_fingerprint=fingerprint).key()
    try:
        entry = cache.info(key) if cache.has(key) else None
    except CacheError:
        return None
    return entry if entry is not None and entry.resumable else None


def train_or_load(config: ModelConfig, dataset: Dataset, cache: ModelCache | None = None,
                  callbacks: Iterable = (), stop_event: threading.Event | None = None,
                  force: bool = False, resume: bool = False) -> tuple[Entry, bool]:
    """The cached model for `config` on `dataset`, training it first if needed.

    Only an entry that finished as configured (all epochs, or early stopping)
    answers: a run stopped part-way is never served in place of the full run.

    Args:
        config: the run's `ModelConfig` (its dataset fingerprint is filled in).
        dataset: the `Dataset` to train on.
        cache: where entries live. Default `ModelCache()`.
        callbacks, stop_event: passed to `aecore.train.train`.
        force: retrain from scratch even when a complete entry exists (it is
            replaced atomically when the new run completes). Default False.
        resume: continue a stopped run of this config from its weights and
            optimizer state (a fresh run when there is none). Default False:
            a stopped run is replaced by a fresh one.
    Returns:
        (entry with its model loaded, True if it came from the cache).
    """
    cache = cache or ModelCache()
    cfg = config.replace(dataset_fingerprint=dataset.fingerprint)
    key = cfg.key()
    state = None
    if not force and cache.has(key):
        try:
            if cache.info(key).complete:
                return cache.load(key), True
            if resume:
                state = cache.resume_state(key)
        except CacheError:
            pass  # a corrupt entry (or one whose resume state is unreadable) is retrained and replaced
    result = train(cfg, dataset, callbacks=callbacks, stop_event=stop_event, resume=state)
    return cache.save(result, dataset.description), False


def entry_summary(entry: Entry) -> dict[str, Any]:
    """A flat dict for tables and `--json` output.

    Args:
        entry: a cached run, as `ModelCache.list` or `info` gives it.
    """
    return {"key": entry.key, "dataset": entry.config.dataset, "kind": entry.config.kind,
            "arch": entry.config.arch, "latent_dim": entry.config.latent_dim,
            "epochs_run": entry.epochs_done, "epochs": entry.config.epochs, "stopped": entry.stopped,
            "status": entry.status(), "train_seconds": round(entry.seconds, 2),
            **{k: round(v, 5) for k, v in entry.metrics.items()}}


def entry_report(entry: Entry) -> dict[str, Any]:
    """Everything about a cached run except its weights, JSON-ready: its config (`ModelConfig.from_dict` rebuilds
    it), held-out metrics, how the run went and its loss curves; the Train page's JSON download.

    Args:
        entry: a cached run, as `ModelCache.list` or `info` gives it.
    """
    return {"key": entry.key, "config": entry.config.to_dict(), "held_out_metrics": dict(entry.metrics),
            "status": entry.status(), "stopped": entry.stopped, "epochs_run": entry.epochs_done,
            "best_epoch": entry.best_epoch, "train_seconds": round(entry.seconds, 2),
            "image_shape": list(entry.image_shape), "dataset": entry.dataset_description,
            "history": {k: [float(v) for v in vs] for k, vs in entry.history.items()}}
