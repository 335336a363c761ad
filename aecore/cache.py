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
import math
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
from .sizing import count_parameters
from .train import COMPLETE, STOPPED_BY_USER, ResumeState, TrainResult, train

MODELS_DIR_ENV = "AECORE_MODELS_DIR"
DEFAULT_MODELS_DIR = Path(__file__).resolve().parent.parent / "models"
SUFFIX = ".npz"


class CacheError(ValueError):
    """An entry is missing, corrupt or does not match its config."""


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
        """e.g. '20 epochs', '12 epochs, early stopping', 'stopped by you after epoch 3 of 20'."""
        if self.stopped == STOPPED_BY_USER:
            if self.epochs_done == 0:
                return f"stopped by you in epoch 1 of {self.config.epochs}"
            return f"stopped by you after epoch {self.epochs_done} of {self.config.epochs}"
        return f"{self.epochs_done} epochs" + (", early stopping" if self.stopped == "early_stopping" else "")

    def label(self) -> str:
        """e.g. 'conv VAE, latent 2, mnist · 20 epochs · MSE 0.0312 · ec52d7': what a person reads first,
        the key last."""
        mse = self.metrics.get("mse")
        return f"{self.config.describe()} · {self.status()}" + (f" · MSE {mse:.4f}" if mse is not None else "") \
            + f" · {self.key[:6]}"


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


def _checksum(arrays: list[np.ndarray]) -> str:
    h = hashlib.sha256()
    for a in arrays:
        h.update(str(a.shape).encode())
        h.update(np.ascontiguousarray(a).tobytes())
    return h.hexdigest()


def _umask() -> int:
    """The process's umask, read without changing it where the OS allows."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


# --- reading an entry file without trusting it ---------------------------------
_MAX_META_CHARS = 4_000_000     # a 10,000-epoch history is ~1 MB of JSON; more is not an entry of ours
_MAX_ARRAYS = 10_000            # weights + resume weights + optimizer variables of the largest models
_MAX_ELEMENTS = 1 << 28         # one weight array of at most 1 GiB of float32
_STOPPED = ("completed", "early_stopping", STOPPED_BY_USER)
_HEX = set("0123456789abcdef")


def _is_int(x: Any) -> bool:
    return isinstance(x, int) and not isinstance(x, bool)


def _is_real(x: Any) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool)


def _is_hex(x: Any, n: int) -> bool:
    return isinstance(x, str) and len(x) == n and set(x) <= _HEX


def _losses(x: Any) -> bool:
    """A history: {name: [number, ...]}."""
    return isinstance(x, dict) and all(isinstance(k, str) and isinstance(v, list) and len(v) <= 100_000
                                       and all(_is_real(f) for f in v) for k, v in x.items())


class _NpzReader:
    """Reads the arrays of an `np.savez` file, checking each header before allocating anything.

    Every member must be stored uncompressed (as `np.savez` writes them), so no
    member can inflate beyond the file's size; a header's declared shape must
    fit the bytes its member holds, so no declared size is ever trusted.
    """

    def __init__(self, path: Path):
        self.path = path
        self.zip = zipfile.ZipFile(path)
        self.members = {}
        for info in self.zip.infolist():
            if info.compress_type != zipfile.ZIP_STORED:
                raise CacheError(f"Cache entry {path.name} is corrupt: member {info.filename!r} is compressed; "
                                 f"expected the uncompressed arrays np.savez writes.")
            self.members[info.filename] = info
        if len(self.members) > _MAX_ARRAYS:
            raise CacheError(f"Cache entry {path.name} is corrupt: expected at most {_MAX_ARRAYS} arrays, "
                             f"received {len(self.members)}.")

    def close(self) -> None:
        self.zip.close()

    def has(self, name: str) -> bool:
        return f"{name}.npy" in self.members

    def _header(self, f, name: str, kind: str, max_elements: int, size: int) -> tuple[tuple, bool, np.dtype, int]:
        """(shape, fortran order, dtype, data bytes) of the member open as `f`, checked against its size."""
        version = np.lib.format.read_magic(f)
        read_header = {(1, 0): np.lib.format.read_array_header_1_0,
                       (2, 0): np.lib.format.read_array_header_2_0}.get(version)
        if read_header is None:
            raise CacheError(f"Cache entry {self.path.name} is corrupt: array {name!r} has .npy version {version}.")
        shape, fortran, dtype = read_header(f)
        elements = int(np.prod(shape, dtype=np.float64)) if shape else 1
        if dtype.kind not in kind or dtype.hasobject:
            raise CacheError(f"Cache entry {self.path.name} is corrupt: expected array {name!r} of kind "
                             f"{kind!r}, received dtype {dtype}.")
        nbytes = elements * dtype.itemsize
        if elements > max_elements or nbytes != size - f.tell():
            raise CacheError(f"Cache entry {self.path.name} is corrupt: array {name!r} declares shape "
                             f"{shape} ({elements:,} elements), which does not fit its {size:,} stored bytes "
                             f"(or the limit of {max_elements:,}).")
        return shape, fortran, dtype, nbytes

    def _member(self, name: str) -> zipfile.ZipInfo:
        info = self.members.get(f"{name}.npy")
        if info is None:
            raise CacheError(f"Cache entry {self.path.name} is partial: array {name!r} is missing.")
        return info

    def shape(self, name: str, kind: str) -> tuple:
        """The declared shape of array `name`, checked as `array` checks it, without reading its data."""
        info = self._member(name)
        with self.zip.open(info) as f:
            return self._header(f, name, kind, _MAX_ELEMENTS, info.file_size)[0]

    def array(self, name: str, kind: str, max_elements: int = _MAX_ELEMENTS) -> np.ndarray:
        """The array `name`, whose dtype must be of a numpy kind in `kind` ('f' float, 'U' text, 'iu' integers)."""
        info = self._member(name)
        with self.zip.open(info) as f:
            shape, fortran, dtype, nbytes = self._header(f, name, kind, max_elements, info.file_size)
            data = f.read(nbytes)
        if len(data) != nbytes:
            raise CacheError(f"Cache entry {self.path.name} is partial: array {name!r} ends early.")
        return np.frombuffer(data, dtype=dtype).reshape(shape, order="F" if fortran else "C").copy()

    def check(self, counts: dict[str, int], parameters: int) -> None:
        """Every member expected and no other, each header sound, and the weights as many as the config has."""
        expected = {"__meta__.npy"} | {f"{p}{i:03d}.npy" for p, n in counts.items() for i in range(n)}
        if set(self.members) != expected:
            odd = sorted(set(self.members) ^ expected)
            raise CacheError(f"Cache entry {self.path.name} is corrupt: expected the arrays its record names, "
                             f"received a different set (differing: {_short(odd)}).")
        sizes = {p: [int(np.prod(self.shape(f"{p}{i:03d}", "iu" if p == "g" else "f"))) for i in range(n)]
                 for p, n in counts.items()}
        if sum(sizes["w"]) != parameters:
            raise CacheError(f"Cache entry {self.path.name} does not match its config: expected {parameters:,} "
                             f"weights, received {sum(sizes['w']):,}.")

    def arrays(self, prefix: str, n: int) -> list[np.ndarray]:
        kind = "iu" if prefix == "g" else "f"  # random-stream states are integers, everything else float32
        return [self.array(f"{prefix}{i:03d}", kind) for i in range(n)]


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
        if not _is_hex(key, 16):
            raise CacheError(f"Expected a cache key of 16 hex characters, received {key!r}.")
        return self.root / f"{key}{SUFFIX}"

    # --- writing ---------------------------------------------------------
    def save(self, result: TrainResult, dataset_description: str = "") -> Entry:
        """Write a `TrainResult` atomically; return its `Entry`.

        A run stopped before its epochs is saved with its resume state. It
        never replaces a complete entry of the same config (CacheError).
        Refuses (CacheError) weights that are not all finite.
        """
        weights = [np.asarray(w, dtype=np.float32) for w in result.model.get_weights()]
        if not all(np.isfinite(w).all() for w in weights):
            raise CacheError("Expected finite weights, received NaN or Inf: the run is not cached.")
        cfg: ModelConfig = result.config
        key = cfg.key()
        if not result.complete and self._complete(key):
            raise CacheError(f"The run was stopped before its {cfg.epochs} epochs, so it was not saved: the "
                             f"complete model trained earlier for this configuration (key {key}) is kept.")
        meta = {
            "format": FORMAT_VERSION, "key": key, "config": cfg.to_dict(), "history": result.history,
            "metrics": result.metrics, "image_shape": list(result.image_shape), "created": time.time(),
            "seconds": result.seconds, "stopped": result.stopped, "best_epoch": result.best_epoch,
            "dataset_description": dataset_description, "n_weights": len(weights),
            "epochs_done": len(result.history.get("loss", [])), "checksum": _checksum(weights),
        }
        arrays = {f"w{i:03d}": w for i, w in enumerate(weights)}
        state = result.resume
        if state is not None:
            meta["resume"] = {"epoch": state.epoch, "best_loss": state.best_loss, "best_epoch": state.best_epoch,
                              "wait": state.wait, "steps": state.steps, "seconds": state.seconds,
                              "history": state.history, "n_optimizer": len(state.optimizer),
                              "n_rng": len(state.rng)}
            arrays.update({f"r{i:03d}": np.asarray(w, np.float32) for i, w in enumerate(state.weights)})
            arrays.update({f"o{i:03d}": np.asarray(w, np.float32) for i, w in enumerate(state.optimizer)})
            arrays.update({f"g{i:03d}": np.asarray(g) for i, g in enumerate(state.rng)})
        arrays["__meta__"] = np.array(json.dumps(meta))
        self.root.mkdir(parents=True, exist_ok=True)
        final = self.path(key)
        fd, tmp = tempfile.mkstemp(prefix=f".{key}-", suffix=".tmp", dir=self.root)
        try:
            os.fchmod(fd, 0o666 & ~_umask())  # mkstemp makes 0600; others sharing the folder must read it
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
    def _entry_from_meta(self, meta: Any, path: Path) -> Entry:
        """Validate every field of an entry's record; CacheError naming the first bad one."""
        def need(ok: bool, field: str, what: str) -> None:
            if not ok:
                value = meta.get(field, "<missing>") if isinstance(meta, dict) else meta
                raise CacheError(f"Cache entry {path.name} is corrupt: expected {field} {what}, "
                                 f"received {_short(value)}.")

        need(isinstance(meta, dict), "record", "a JSON object")
        need(meta.get("format") == FORMAT_VERSION, "format", f"{FORMAT_VERSION}")
        need(_is_hex(meta.get("key"), 16), "key", "16 hex characters")
        need(isinstance(meta.get("config"), dict), "config", "a JSON object")
        try:
            config = ModelConfig.from_dict(meta["config"])
        except (ValueError, TypeError) as e:
            raise CacheError(f"Cache entry {path.name} is corrupt: its config is not valid ({e}).") from None
        need(_losses(meta.get("history")), "history", "an object of number lists")
        need(isinstance(meta.get("metrics"), dict) and all(isinstance(k, str) and _is_real(v)
                                                           for k, v in meta["metrics"].items()),
             "metrics", "an object of numbers")
        shape = meta.get("image_shape")
        need(isinstance(shape, list) and len(shape) == 3 and all(_is_int(s) for s in shape)
             and 4 <= shape[0] <= 256 and 4 <= shape[1] <= 256 and shape[2] in (1, 3),
             "image_shape", "[H, W, C] with H, W in 4..256 and C 1 or 3")
        need(_is_real(meta.get("created")) and math.isfinite(meta["created"]), "created", "a timestamp")
        need(_is_real(meta.get("seconds")) and 0 <= meta["seconds"] < 1e9, "seconds", "a duration")
        need(meta.get("stopped") in _STOPPED, "stopped", f"one of {_STOPPED}")
        need(_is_int(meta.get("best_epoch")) and 0 <= meta["best_epoch"] <= config.epochs, "best_epoch",
             f"an integer in 0..{config.epochs}")
        need(isinstance(meta.get("dataset_description", ""), str), "dataset_description", "text")
        need(_is_int(meta.get("n_weights")) and 1 <= meta["n_weights"] <= _MAX_ARRAYS // 3, "n_weights",
             "a positive integer")
        need(_is_hex(meta.get("checksum"), 64), "checksum", "64 hex characters")
        epochs_done = meta.get("epochs_done", len(meta["history"].get("loss", [])))
        need(_is_int(epochs_done) and 0 <= epochs_done <= config.epochs, "epochs_done",
             f"an integer in 0..{config.epochs}")
        resume = meta.get("resume")
        need(resume is None or (isinstance(resume, dict) and _is_int(resume.get("epoch"))
                                and 0 <= resume["epoch"] < config.epochs
                                and _is_int(resume.get("n_optimizer")) and 0 < resume["n_optimizer"] <= _MAX_ARRAYS // 3
                                and _is_int(resume.get("n_rng")) and 0 <= resume["n_rng"] <= 16
                                and _is_int(resume.get("best_epoch")) and _is_int(resume.get("wait"))
                                and _is_int(resume.get("steps")) and _is_real(resume.get("best_loss"))
                                and _is_real(resume.get("seconds")) and _losses(resume.get("history"))),
             "resume", "the state of a stopped run")
        need(config.key() == meta["key"] and path.name == f"{meta['key']}{SUFFIX}", "key",
             "the hash of its config and its file name")
        return Entry(
            key=meta["key"], config=config, history=meta["history"], metrics=meta["metrics"],
            image_shape=tuple(shape), created=float(meta["created"]), seconds=float(meta["seconds"]),
            stopped=meta["stopped"], best_epoch=meta["best_epoch"],
            dataset_description=meta.get("dataset_description", ""), path=path, checksum=meta["checksum"],
            epochs_done=epochs_done, resumable=resume is not None,
        )

    def _open(self, path: Path, arrays: str = "") -> tuple[Entry, dict, dict[str, list[np.ndarray]]]:
        """(entry, raw record, {prefix: arrays}) for the array groups in `arrays` ('w', 'r', 'o')."""
        try:
            reader = _NpzReader(path)
            try:
                meta = json.loads(str(reader.array("__meta__", "U", _MAX_META_CHARS)))
                entry = self._entry_from_meta(meta, path)
                resume = meta.get("resume")
                counts = {"w": meta["n_weights"]}
                if resume is not None:
                    counts.update(r=meta["n_weights"], o=resume["n_optimizer"], g=resume["n_rng"])
                reader.check(counts, count_parameters(entry.config, entry.image_shape))
                groups = {p: reader.arrays(p, counts[p]) for p in arrays}
            finally:
                reader.close()
        except CacheError:
            raise
        except (OSError, ValueError, KeyError, TypeError, EOFError, OverflowError, MemoryError,
                zipfile.BadZipFile, json.JSONDecodeError) as e:
            raise CacheError(f"Cache entry {path.name} is corrupt or partial ({type(e).__name__}: {_short(e)}).") \
                from None
        if "w" in groups and _checksum(groups["w"]) != meta["checksum"]:
            raise CacheError(f"Cache entry {path.name} is corrupt: its weights do not match their checksum.")
        return entry, meta, groups

    def has(self, key: str) -> bool:
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
        """The entry's record without building the model."""
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
        """(state, best weights) of a stopped entry, for `aecore.train.train(resume=...)`."""
        entry, meta, groups = self._open(self._require(key), "wrog")
        if not entry.resumable:
            raise CacheError(f"Expected a stopped run with its resume state, received entry {key} "
                             f"({entry.status()}).")
        r = meta["resume"]
        state = ResumeState(r["epoch"], groups["r"], groups["o"], groups["g"], r["history"], float(r["best_loss"]),
                            r["best_epoch"], r["wait"], r["steps"], float(r["seconds"]))
        return state, groups["w"]

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
        """Remove an entry (readable or not); True when something was removed."""
        return self.delete_file(self.path(key).name)

    def delete_file(self, name: str) -> bool:
        """Remove the file `name` (as `Unreadable.name` gives it) from the cache folder; True when removed."""
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
            os.chmod(tmp, 0o666 & ~_umask())
            os.replace(tmp, path)
        finally:
            Path(tmp).unlink(missing_ok=True)
        return path


def _short(value: Any, n: int = 80) -> str:
    text = repr(value) if not isinstance(value, BaseException) else str(value)
    return text if len(text) <= n else text[: n - 1] + "…"


def stopped_run(config: ModelConfig, fingerprint: str, cache: ModelCache | None = None) -> Entry | None:
    """The resumable stopped entry of `config` on the dataset with this fingerprint, if there is one (else None)."""
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
    """A flat dict for tables and `--json` output."""
    return {"key": entry.key, "dataset": entry.config.dataset, "kind": entry.config.kind,
            "arch": entry.config.arch, "latent_dim": entry.config.latent_dim,
            "epochs_run": entry.epochs_done, "epochs": entry.config.epochs, "stopped": entry.stopped,
            "status": entry.status(),
            **{k: round(v, 5) for k, v in entry.metrics.items()}}
