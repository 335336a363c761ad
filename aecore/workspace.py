"""Private workspaces: what one person uploads, and the models trained on it, kept apart from everyone else's.

A workspace is the folder `<models dir>/workspaces/<id>/`, named by a long
random id (`new_id`); whoever knows the id has the workspace (the app keeps it
in the page's link). Inside, the layout of the shared model folder: model
entries `<key>.npz` (`Workspace.cache`, a `ModelCache`) and
`datasets/<fingerprint>.npz`, the images (compressed uint8) and labels a model
was trained on (`aecore.data.save_dataset`, placed by
`aecore.cluster.dataset_path`), so that the model's held-out images come back
after a restart and a training worker reads the data from there. Models on the
built-in datasets are not kept here: they live in the shared folder, for
everyone (the same configuration is never trained twice).

`UploadStore` is the process's memory of uploads: decoded zips and held-out
sets, per workspace and content, bounded in bytes, the least recently used
evicted first (`$AECORE_UPLOAD_STORE_BYTES`, default 512 MiB). What a model
needs later is on disk; the store only saves decoding it again.
"""

from __future__ import annotations

import os
import re
import secrets
import threading
from collections import OrderedDict
from collections.abc import Hashable, Iterable
from pathlib import Path
from typing import Any

import numpy as np

from .cache import ModelCache
from .data import Dataset

__all__ = ["ID_LENGTH", "STORE_BYTES_ENV", "WORKSPACES_DIR", "UploadStore", "Workspace", "check_id", "new_id",
           "nbytes_of", "store_budget"]

WORKSPACES_DIR = "workspaces"  # under the models folder
ID_LENGTH = 43  # secrets.token_urlsafe(32): 256 random bits
_ID = re.compile(r"[A-Za-z0-9_-]+")
STORE_BYTES_ENV = "AECORE_UPLOAD_STORE_BYTES"
DEFAULT_STORE_BYTES = 512 * 2**20


def new_id() -> str:
    """A fresh workspace id: 43 URL-safe characters (256 random bits), unguessable."""
    return secrets.token_urlsafe(32)


def check_id(text) -> str:
    """`text` when it is a workspace id (43 characters: letters, digits, - and _); ValueError otherwise.

    Args:
        text: what claims to be a workspace id (from a link, say).
    """
    if isinstance(text, str) and len(text) == ID_LENGTH and _ID.fullmatch(text):
        return text
    shown = repr(text[:50]) + ("…" if len(text) > 50 else "") if isinstance(text, str) else type(text).__name__
    length = f" ({len(text)} characters)" if isinstance(text, str) else ""
    raise ValueError(f"Expected a workspace id of {ID_LENGTH} characters (letters, digits, - and _), "
                     f"received {shown}{length}.")


class Workspace:
    """One workspace's folder: its models (`cache`) and the datasets they were trained on.

    Nothing is written until something is kept (a visit creates no folder).

    Args:
        models_root: the shared models folder (`aecore.cache.default_dir()`).
        workspace_id: the workspace's id (`check_id`).
    """

    def __init__(self, models_root: str | os.PathLike, workspace_id: str):
        self.id = check_id(workspace_id)
        self.root = Path(models_root)
        self.dir = self.root / WORKSPACES_DIR / self.id
        self.cache = ModelCache(self.dir)

    def __repr__(self) -> str:
        return f"Workspace({str(self.root)!r}, {self.id[:6]}…)"

    def dataset_path(self, fingerprint: str) -> Path:
        """Where the dataset with this fingerprint is kept (as `aecore.cluster.dataset_path` places it)."""
        from .cluster import dataset_path

        return dataset_path(self.dir, fingerprint)

    def keep_dataset(self, dataset: Dataset) -> Path:
        """Keep `dataset` in the workspace, once per content (compressed; its labels and class names with it);
        returns its file, which `aecore.data.load_dataset_file` reads."""
        from .cluster import store_dataset

        return Path(store_dataset(dataset, self.dir)["path"])

    def dataset(self, fingerprint: str) -> Dataset | None:
        """The kept dataset with this fingerprint, or None when none is kept. ValueError when its file is
        damaged or was changed (the message says how)."""
        from .data import load_dataset_file

        path = self.dataset_path(fingerprint)
        return load_dataset_file(path) if path.is_file() else None

    def _dataset_files(self) -> list[Path]:
        from .cluster import DATASETS_DIR

        return sorted((self.dir / DATASETS_DIR).glob("*.npz"))

    def datasets(self) -> list[str]:
        """The fingerprints of the kept datasets."""
        return [p.stem for p in self._dataset_files()]

    def forget_unused_datasets(self, keep: Iterable[str] = ()) -> list[str]:
        """Remove the kept datasets that no model of the workspace was trained on, except those in `keep`
        (a running job's); returns the fingerprints removed."""
        entries, _ = self.cache.list()
        used = {e.config.dataset_fingerprint for e in entries} | set(keep)
        removed = []
        for path in self._dataset_files():
            if path.stem not in used:
                path.unlink(missing_ok=True)
                removed.append(path.stem)
        return removed


def store_budget() -> int:
    """The upload store's size in bytes: `$AECORE_UPLOAD_STORE_BYTES`, default 512 MiB (0 keeps nothing)."""
    text = os.environ.get(STORE_BYTES_ENV, "").strip()
    if not text:
        return DEFAULT_STORE_BYTES
    if not text.isdigit():
        raise ValueError(f"Expected {STORE_BYTES_ENV} a whole number of bytes (e.g. 536870912), received {text!r}.")
    return int(text)


def nbytes_of(value: Any) -> int:
    """The memory held by `value`'s arrays and text: a `Dataset`, an array, bytes or str, or a tuple/list of
    them (anything else counts as 0)."""
    if isinstance(value, Dataset):
        return value.images.nbytes + (0 if value.labels is None else value.labels.nbytes)
    if isinstance(value, np.ndarray):
        return value.nbytes
    if isinstance(value, (bytes, str)):
        return len(value)
    if isinstance(value, (tuple, list)):
        return sum(nbytes_of(v) for v in value)
    return 0


class UploadStore:
    """An in-memory store of uploads, per workspace and key, bounded in bytes; the least recently used go first.

    Thread-safe (one store serves every session of the process). A value
    bigger than the whole budget is not kept.

    Args:
        budget: bytes the values may hold together. Default `store_budget()`.
    """

    def __init__(self, budget: int | None = None):
        self.budget = store_budget() if budget is None else int(budget)
        if self.budget < 0:
            raise ValueError(f"Expected a budget of 0 bytes or more, received {budget!r}.")
        self._items: OrderedDict[tuple[str, Hashable], tuple[Any, int]] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()

    @property
    def nbytes(self) -> int:
        """Bytes held now (at most `budget`)."""
        return self._bytes

    def __len__(self) -> int:
        return len(self._items)

    def get(self, workspace_id: str, key: Hashable, default: Any = None) -> Any:
        """The value kept for this workspace under `key` (now the most recently used), else `default`."""
        with self._lock:
            item = self._items.get((workspace_id, key))
            if item is None:
                return default
            self._items.move_to_end((workspace_id, key))
            return item[0]

    def put(self, workspace_id: str, key: Hashable, value: Any, nbytes: int | None = None) -> bool:
        """Keep `value` for this workspace under `key`, evicting the least recently used to make room; False
        when it is bigger than the whole budget (then it is not kept, and an older value under the key goes).

        Args:
            workspace_id, key: what the value is kept under.
            value: anything; its size is `nbytes`, default `nbytes_of(value)`.
        """
        size = nbytes_of(value) if nbytes is None else int(nbytes)
        with self._lock:
            old = self._items.pop((workspace_id, key), None)
            if old is not None:
                self._bytes -= old[1]
            if size > self.budget:
                return False
            while self._bytes + size > self.budget:
                _, (_, freed) = self._items.popitem(last=False)
                self._bytes -= freed
            self._items[(workspace_id, key)] = (value, size)
            self._bytes += size
            return True

    def forget(self, workspace_id: str) -> None:
        """Drop everything kept for this workspace."""
        with self._lock:
            for k in [k for k in self._items if k[0] == workspace_id]:
                self._bytes -= self._items.pop(k)[1]

    def clear(self) -> None:
        """Drop everything."""
        with self._lock:
            self._items.clear()
            self._bytes = 0
