"""One cache entry file, `<key>.npz`: written atomically, read without trusting it.

An entry holds a JSON `__meta__` record (config, history, held-out metrics,
image shape, a checksum of the weights) and the weight arrays `w000, w001,
...`; a run stopped before its epochs also keeps what a resume needs: its
last weights `r...`, optimizer variables `o...` and random-stream states
`g...`. It is written to a temporary file and renamed into place, so a crash
mid-write never leaves an entry that loads wrong.

Reading never trusts the file: no pickle (object arrays are refused), no code
from it is ever executed, every `.npy` header is checked against the bytes its
member holds before anything is allocated, and every field of the record is
validated before it is used. Any fault is a `CacheError` naming it.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import tempfile
import time
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from .config import FORMAT_VERSION, ModelConfig
from .sizing import count_parameters
from .train import COMPLETE, STOPPED_BY_USER, ResumeState, TrainResult

SUFFIX = ".npz"

_MAX_META_CHARS = 4_000_000     # a 10,000-epoch history is ~1 MB of JSON; more is not an entry of ours
_MAX_ARRAYS = 10_000            # weights + resume weights + optimizer variables of the largest models
_MAX_ELEMENTS = 1 << 28         # one weight array of at most 1 GiB of float32
_STOPPED = COMPLETE + (STOPPED_BY_USER,)
_HEX = set("0123456789abcdef")
_READ_ERRORS = (OSError, ValueError, KeyError, TypeError, EOFError, OverflowError, MemoryError,
                zipfile.BadZipFile, json.JSONDecodeError)


class CacheError(ValueError):
    """An entry is missing, corrupt or does not match its config."""


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


def is_key(text: Any) -> bool:
    """True when `text` is a cache key: 16 lower-case hex characters.

    Args:
        text: anything; only a string of 16 hex characters passes.
    """
    return _is_hex(text, 16)


def short(value: Any, n: int = 80) -> str:
    """`repr(value)` (an exception's message as it is) cut to `n` characters, for error messages.

    Args:
        value: the value or exception to show.
        n: the most characters returned. Default 80.
    """
    text = repr(value) if not isinstance(value, BaseException) else str(value)
    return text if len(text) <= n else text[: n - 1] + "…"


def checksum(arrays: list[np.ndarray]) -> str:
    """The SHA-256 hex digest of the arrays' shapes and bytes, in order.

    Args:
        arrays: the weight arrays of an entry.
    """
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


def write_atomically(final: Path, write: Callable[[int, str], None], prefix: str | None = None,
                     suffix: str = ".tmp") -> Path:
    """Write a file under a temporary name beside `final`, then rename it into place.

    A crash or an error mid-write leaves `final` as it was and removes the
    temporary file. The file gets the permissions a plain `open()` would
    give under the umask (`mkstemp` makes 0600), so others sharing the folder
    can read it.

    Args:
        final: the path the file ends up at; its folder must exist.
        write: called as `write(fd, temporary_path)` to fill the temporary file;
            it owns (and must close) the open descriptor `fd`.
        prefix: start of the temporary file's name. Default None (`tempfile`'s "tmp").
        suffix: end of the temporary file's name. Default ".tmp".
    Returns:
        `final`.
    """
    fd, tmp = tempfile.mkstemp(prefix=prefix, suffix=suffix, dir=final.parent)
    try:
        write(fd, tmp)
        os.chmod(tmp, 0o666 & ~_umask())
        os.replace(tmp, final)
    finally:
        Path(tmp).unlink(missing_ok=True)
    return final


def write_entry(path: Path, result: TrainResult, weights: list[np.ndarray], dataset_description: str = "") -> dict:
    """Write a `TrainResult` as the entry file `path` (atomically); return its record.

    Args:
        path: `<folder>/<key>.npz`, the key being the hash of `result.config`.
        result: the run to store, its resume state included when it has one.
        weights: the model's weights as float32 arrays (`result.model.get_weights()`).
        dataset_description: what the dataset was, for people. Default "".
    Returns:
        the JSON record written as `__meta__`.
    """
    cfg: ModelConfig = result.config
    meta = {
        "format": FORMAT_VERSION, "key": cfg.key(), "config": cfg.to_dict(), "history": result.history,
        "metrics": result.metrics, "image_shape": list(result.image_shape), "created": time.time(),
        "seconds": result.seconds, "stopped": result.stopped, "best_epoch": result.best_epoch,
        "dataset_description": dataset_description, "n_weights": len(weights),
        "epochs_done": len(result.history.get("loss", [])), "checksum": checksum(weights),
    }
    arrays = {f"w{i:03d}": w for i, w in enumerate(weights)}
    state = result.resume
    if state is not None:
        meta["resume"] = {"epoch": state.epoch, "best_loss": state.best_loss, "best_epoch": state.best_epoch,
                          "wait": state.wait, "steps": state.steps, "seconds": state.seconds,
                          "history": state.history, "n_optimizer": len(state.optimizer), "n_rng": len(state.rng)}
        arrays.update({f"r{i:03d}": np.asarray(w, np.float32) for i, w in enumerate(state.weights)})
        arrays.update({f"o{i:03d}": np.asarray(w, np.float32) for i, w in enumerate(state.optimizer)})
        arrays.update({f"g{i:03d}": np.asarray(g) for i, g in enumerate(state.rng)})
    arrays["__meta__"] = np.array(json.dumps(meta))

    def savez(fd: int, tmp: str) -> None:
        with os.fdopen(fd, "wb") as f:
            np.savez(f, **arrays)
            f.flush()
            os.fsync(f.fileno())

    write_atomically(path, savez, prefix=f".{meta['key']}-")
    return meta


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

    def _header(self, f, name: str, dtype_kinds: str, max_elements: int, size: int
                ) -> tuple[tuple, bool, np.dtype, int]:
        """(shape, fortran order, dtype, data bytes) of the member open as `f`, checked against its size."""
        version = np.lib.format.read_magic(f)
        read_header = {(1, 0): np.lib.format.read_array_header_1_0,
                       (2, 0): np.lib.format.read_array_header_2_0}.get(version)
        if read_header is None:
            raise CacheError(f"Cache entry {self.path.name} is corrupt: array {name!r} has .npy version {version}.")
        shape, fortran, dtype = read_header(f)
        elements = int(np.prod(shape, dtype=np.float64)) if shape else 1
        if dtype.kind not in dtype_kinds or dtype.hasobject:
            raise CacheError(f"Cache entry {self.path.name} is corrupt: expected array {name!r} of kind "
                             f"{dtype_kinds!r}, received dtype {dtype}.")
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

    def shape(self, name: str, dtype_kinds: str) -> tuple:
        """The declared shape of array `name`, checked as `array` checks it, without reading its data."""
        info = self._member(name)
        with self.zip.open(info) as f:
            return self._header(f, name, dtype_kinds, _MAX_ELEMENTS, info.file_size)[0]

    def array(self, name: str, dtype_kinds: str, max_elements: int = _MAX_ELEMENTS) -> np.ndarray:
        """The array `name`, whose dtype must be of a numpy kind in `dtype_kinds` ('f' float, 'U' text,
        'iu' integers)."""
        info = self._member(name)
        with self.zip.open(info) as f:
            shape, fortran, dtype, nbytes = self._header(f, name, dtype_kinds, max_elements, info.file_size)
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
                             f"received a different set (differing: {short(odd)}).")
        sizes = {p: [int(np.prod(self.shape(f"{p}{i:03d}", _dtype_kinds(p)))) for i in range(n)]
                 for p, n in counts.items()}
        if sum(sizes["w"]) != parameters:
            raise CacheError(f"Cache entry {self.path.name} does not match its config: expected {parameters:,} "
                             f"weights, received {sum(sizes['w']):,}.")

    def arrays(self, prefix: str, n: int) -> list[np.ndarray]:
        return [self.array(f"{prefix}{i:03d}", _dtype_kinds(prefix)) for i in range(n)]


def _dtype_kinds(prefix: str) -> str:
    """Random-stream states (`g...`) are integers, every other array float32."""
    return "iu" if prefix == "g" else "f"


def parse_record(meta: Any, path: Path) -> dict[str, Any]:
    """Validate every field of an entry's record; CacheError naming the first bad one.

    Args:
        meta: the decoded JSON of the entry's `__meta__` array (anything).
        path: the entry's file, whose name must be `<key>.npz`.
    Returns:
        the fields of an `aecore.cache.Entry` but `path`: `key`, `config` (a
        `ModelConfig`), `history`, `metrics`, `image_shape`, `created`,
        `seconds`, `stopped`, `best_epoch`, `dataset_description`, `checksum`,
        `epochs_done` and `resumable`.
    """
    def need(ok: bool, field: str, what: str) -> None:
        if not ok:
            value = meta.get(field, "<missing>") if isinstance(meta, dict) else meta
            raise CacheError(f"Cache entry {path.name} is corrupt: expected {field} {what}, received {short(value)}.")

    need(isinstance(meta, dict), "record", "a JSON object")
    old = meta.get("format")
    if isinstance(old, int) and not isinstance(old, bool) and 1 <= old < FORMAT_VERSION:  # not corrupt: older
        raise CacheError(f"Cache entry {path.name} was saved by an earlier version of this app: expected format "
                         f"{FORMAT_VERSION}, received {old}. Its layers differ from today's, so it cannot be "
                         "loaded: train the model again (the same settings give a new key).")
    need(old == FORMAT_VERSION, "format", f"{FORMAT_VERSION}")
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
    return dict(key=meta["key"], config=config, history=meta["history"], metrics=meta["metrics"],
                image_shape=tuple(shape), created=float(meta["created"]), seconds=float(meta["seconds"]),
                stopped=meta["stopped"], best_epoch=meta["best_epoch"],
                dataset_description=meta.get("dataset_description", ""), checksum=meta["checksum"],
                epochs_done=epochs_done, resumable=resume is not None)


def read_entry(path: Path, groups: str = "") -> tuple[dict[str, Any], dict, dict[str, list[np.ndarray]]]:
    """Read and check an entry file: its record, and the array groups asked for.

    Every member's header is checked and the weights counted against the
    config before any group is read; the weights, when read, must match their
    checksum.

    Args:
        path: the entry's `<key>.npz` file.
        groups: the array groups to read, by prefix: 'w' the weights, 'r' the
            last weights of a stopped run, 'o' its optimizer variables, 'g' its
            random-stream states. Default "" (the record only).
    Returns:
        (the fields `parse_record` returns, the raw record, {prefix: arrays}).
    Raises:
        CacheError: the file is missing, partial, corrupt or does not match its config.
    """
    try:
        reader = _NpzReader(path)
        try:
            meta = json.loads(str(reader.array("__meta__", "U", _MAX_META_CHARS)))
            fields = parse_record(meta, path)
            resume = meta.get("resume")
            counts = {"w": meta["n_weights"]}
            if resume is not None:
                counts.update(r=meta["n_weights"], o=resume["n_optimizer"], g=resume["n_rng"])
            reader.check(counts, count_parameters(fields["config"], fields["image_shape"]))
            arrays = {p: reader.arrays(p, counts[p]) for p in groups}
        finally:
            reader.close()
    except CacheError:
        raise
    except _READ_ERRORS as e:
        raise CacheError(f"Cache entry {path.name} is corrupt or partial ({type(e).__name__}: {short(e)}).") \
            from None
    if "w" in arrays and checksum(arrays["w"]) != meta["checksum"]:
        raise CacheError(f"Cache entry {path.name} is corrupt: its weights do not match their checksum.")
    return fields, meta, arrays


def unpack_resume(meta: dict, arrays: dict[str, list[np.ndarray]]) -> ResumeState:
    """The `ResumeState` of a stopped run, from what `read_entry(path, "wrog")` returned.

    Args:
        meta: the entry's raw record, which has a `resume` field.
        arrays: its array groups 'r', 'o' and 'g'.
    """
    r = meta["resume"]
    return ResumeState(r["epoch"], arrays["r"], arrays["o"], arrays["g"], r["history"], float(r["best_loss"]),
                       r["best_epoch"], r["wait"], r["steps"], float(r["seconds"]))
