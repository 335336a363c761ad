"""The `Dataset` type: what every model in the explorer trains on or is fed.

A `Dataset` holds float32 images in [0, 1] with shape (N, H, W, C), C in (1, 3),
optional int64 labels, and a `fingerprint` (16 hex chars) that identifies the
content, so trained models and caches can be tied to the exact data they saw.

Every loader builds its Dataset with `dataset_from_arrays`, so there is exactly
one validation and one fingerprint code path; `split_dataset` gives the
deterministic train/validation split (see its docstring). The loaders live
beside this module: `aecore.builtin_data` (mnist, fashion_mnist, olivetti,
digits), `aecore.images` (one user image) and `aecore.uploads` (a zip or a
folder of user images), which share `_one_line`, the one-line exception text of
their error messages, from here.
"""

import dataclasses
import hashlib
import re

import numpy as np


def fingerprint(images, labels, name):
    """sha256 over name, shape and the bytes of images (float32) and labels (int64).

    Args:
        images: array of shape (N, H, W, C); hashed as C-contiguous float32.
        labels: int array of shape (N,) or None.
        name: dataset name (str).
    Returns the first 16 hex characters; identical content gives the identical
    string in every run and on every machine.
    """
    images = np.ascontiguousarray(images, dtype=np.float32)
    h = hashlib.sha256()
    h.update(str(name).encode("utf-8") + b"\0")
    h.update(repr(tuple(int(s) for s in images.shape)).encode("ascii") + b"\0")
    h.update(images.tobytes())
    h.update(b"\0labels\0")
    if labels is None:
        h.update(b"none")
    else:
        h.update(np.ascontiguousarray(labels, dtype=np.int64).tobytes())
    return h.hexdigest()[:16]


@dataclasses.dataclass(eq=False, repr=False)
class Dataset:
    """A set of images ready for a model. Build it with `dataset_from_arrays`
    (or any loader here) so that shapes are validated and the fingerprint is right."""
    name: str                     # e.g. "mnist", "upload:<name>"
    images: np.ndarray            # float32 in [0, 1], shape (N, H, W, C), C in (1, 3)
    labels: np.ndarray | None     # int64 shape (N,) or None
    class_names: list[str]        # label index -> name ([] when labels is None)
    description: str              # human text: source, size, split rule when one applies
    source: str                   # a path, "keras.datasets", "sklearn (bundled)", "upload", ...
    fingerprint: str              # 16 hex chars, see fingerprint()
    skipped: list[str] = dataclasses.field(default_factory=list)  # user files not read, "name: reason"

    @property
    def image_shape(self):
        """(H, W, C) of one image."""
        return tuple(int(s) for s in self.images.shape[1:])

    def __len__(self):
        return int(self.images.shape[0])

    def __repr__(self):
        return (f"Dataset(name={self.name!r}, n={len(self)}, image_shape={self.image_shape}, "
                f"labels={'yes' if self.labels is not None else 'no'}, "
                f"source={self.source!r}, fingerprint={self.fingerprint!r})")

    def subset(self, idx, name=None, description=None):
        """New Dataset with images[idx] and labels[idx].

        Args:
            idx: anything numpy accepts as an index along axis 0 that yields
                at least one image (int array, bool mask, slice).
            name: name of the new dataset; default f"{self.name}[subset]".
            description: default: "<n> of <N> images of <name>. <description>".
        The fingerprint is recomputed from the subset's content and name.
        """
        idx = np.arange(len(self))[idx]  # normalise slices/masks/ints to an index array
        idx = np.atleast_1d(idx)
        if idx.size == 0:
            raise ValueError(f"Expected an index selecting at least 1 image, received one selecting 0 of {len(self)}.")
        name = f"{self.name}[subset]" if name is None else name
        if description is None:
            description = f"{idx.size} of {len(self)} images of {self.name}. {self.description}"
        labels = None if self.labels is None else self.labels[idx]
        return dataset_from_arrays(self.images[idx], labels, list(self.class_names), name=name,
                                   description=description, source=self.source, skipped=list(self.skipped))


def dataset_from_arrays(images, labels=None, class_names=None, name="arrays", description="",
                        source="arrays", skipped=None):
    """Validate arrays and wrap them in a Dataset (with its fingerprint).

    Args:
        images: (N, H, W) or (N, H, W, C) with C in (1, 3); uint8 (scaled by 1/255)
            or floating point already in [0, 1]. N >= 1.
        labels: None (default) or integers >= 0 of shape (N,).
        class_names: label index -> name. Default: [] without labels, else
            ["0", "1", ..., str(max label)].
        name: dataset name (default "arrays"); part of the fingerprint.
        description: human-readable text (default "").
        source: where the data came from (default "arrays").
        skipped: list of "name: reason" strings for inputs that were not read (default []).
    """
    images = np.asarray(images)
    if images.ndim == 3:
        images = images[..., None]
    if images.ndim != 4 or images.shape[-1] not in (1, 3) or images.shape[0] < 1 or min(images.shape[1:3]) < 1:
        raise ValueError(f"Expected images of shape (N, H, W) or (N, H, W, C) with N >= 1 and C in (1, 3), "
                         f"received shape {images.shape}.")
    if images.dtype == np.uint8:
        images = images.astype(np.float32) / np.float32(255.0)
    elif np.issubdtype(images.dtype, np.floating):
        images = np.asarray(images, dtype=np.float32)
        lo, hi = float(images.min()), float(images.max())
        if not (0.0 <= lo and hi <= 1.0):  # also catches NaN
            raise ValueError(f"Expected float images with values in [0, 1], received values in [{lo}, {hi}].")
    else:
        raise ValueError(f"Expected images of dtype uint8 or float, received {images.dtype}.")
    images = np.ascontiguousarray(images)

    if labels is not None:
        labels = np.asarray(labels)
        if labels.shape != (images.shape[0],) or not np.issubdtype(labels.dtype, np.integer):
            raise ValueError(f"Expected integer labels of shape ({images.shape[0]},), "
                             f"received {labels.dtype} labels of shape {labels.shape}.")
        labels = labels.astype(np.int64)
        if labels.min() < 0:
            raise ValueError(f"Expected labels >= 0, received minimum label {labels.min()}.")
        if class_names is None:
            class_names = [str(i) for i in range(int(labels.max()) + 1)]
        class_names = [str(c) for c in class_names]
        if len(class_names) <= labels.max():
            raise ValueError(f"Expected class_names with more than {labels.max()} entries (one per label), "
                             f"received {len(class_names)}.")
    else:
        if class_names:
            raise ValueError(f"Expected no class_names when labels is None, received {len(class_names)} names.")
        class_names = []

    return Dataset(name=str(name), images=images, labels=labels, class_names=class_names,
                   description=str(description), source=str(source),
                   fingerprint=fingerprint(images, labels, name), skipped=list(skipped or []))


def split_dataset(ds, val_fraction=0.2):
    """Split a Dataset into (train, validation), deterministically.

    Rule: shuffle the indices with np.random.default_rng(0).permutation(N); if the
    dataset has labels, reorder that shuffle so that classes are interleaved
    (each image sorted by its rank within its class divided by the class size,
    ties kept in shuffled order); the LAST round(N * val_fraction) indices of
    that order are the validation set, the rest the training set. Both parts
    keep the original image order. Because classes are interleaved, every class
    with enough images appears in both parts (olivetti: exactly 8 train + 2
    validation images per person at the default 0.2). The same dataset always
    gives the same split.

    Args:
        ds: a Dataset with at least 2 images.
        val_fraction: float in (0, 1), default 0.2.
    Returns (train, val) Datasets named f"{ds.name}[train]" and f"{ds.name}[val]".
    """
    if isinstance(val_fraction, bool) or not isinstance(val_fraction, (int, float, np.floating)) \
            or not 0.0 < float(val_fraction) < 1.0:
        raise ValueError(f"Expected val_fraction in the open interval (0, 1), received {val_fraction!r}.")
    n = len(ds)
    n_val = int(round(n * float(val_fraction)))
    if n_val < 1 or n - n_val < 1:
        raise ValueError(f"Expected a split leaving at least 1 image in each part, received {n} images "
                         f"with val_fraction={val_fraction} ({n - n_val} train, {n_val} validation).")
    order = np.random.default_rng(0).permutation(n)
    if ds.labels is not None:
        lab = ds.labels[order]
        rank = np.zeros(n, dtype=np.float64)
        for c in np.unique(lab):
            members = lab == c
            rank[members] = np.arange(members.sum()) / members.sum()
        order = order[np.argsort(rank, kind="stable")]
    train_idx, val_idx = np.sort(order[:n - n_val]), np.sort(order[n - n_val:])
    rule = f"deterministic split of {ds.name} ({n} images): fixed seed-0 shuffle, stratified by class, " \
           f"last {n_val} ({float(val_fraction):.0%}) held out for validation"
    train = ds.subset(train_idx, name=f"{ds.name}[train]",
                      description=f"Training part, {n - n_val} images; {rule}. {ds.description}")
    val = ds.subset(val_idx, name=f"{ds.name}[val]",
                    description=f"Validation part, {n_val} images; {rule}. {ds.description}")
    return train, val


def _one_line(e):
    """'TypeName: message' of an exception on one line, for the loaders' error messages."""
    name = type(e).__name__
    module = type(e).__module__
    if module not in ("builtins", "__main__") and name == "error":  # zlib.error, struct.error, ...
        name = f"{module}.{name}"
    text = " ".join(re.sub(r"\s*<[^<>]* at 0x[0-9a-fA-F]+>", "", str(e)).split()).rstrip(".")  # no "<... at 0x7f>"
    return f"{name}: {text}" if text else name



# --- a Dataset as a file: how a training worker reads the data the app loaded --------------------------------------
DATASET_FORMAT = "aecore-dataset"
DATASET_FORMAT_VERSION = 1
MAX_SAVED_VALUES = 3 * 20_000 * 256 * 256  # the largest upload (aecore.uploads' pixel cap, RGB): bigger is refused
_MAX_META_CHARS = 4_000_000  # name, description, source, class names: a few MB at most


def save_dataset(ds, path):
    """Write `ds` as a compressed `.npz` (no pickle), atomically; `load_dataset_file` reads it back.

    The images are stored as uint8 when that is lossless (every value is k/255,
    as for MNIST and uploads), else as float32, so the content and therefore
    the fingerprint round-trip exactly. Stored: images, labels (when there are
    any), and a JSON record with name, description, source, class names and
    fingerprint.

    Args:
        ds: a `Dataset`.
        path: the file to write (its folder must exist); replaced atomically.
    Returns:
        `path` as a `pathlib.Path`.
    """
    import json
    import os
    import tempfile
    from pathlib import Path

    if not isinstance(ds, Dataset):
        raise ValueError(f"Expected an aecore.data.Dataset, received {type(ds).__name__}.")
    path = Path(path)
    quantized = np.round(ds.images * np.float32(255.0)).astype(np.uint8)
    lossless = np.array_equal(quantized.astype(np.float32) / np.float32(255.0), ds.images)
    meta = {"format": DATASET_FORMAT, "version": DATASET_FORMAT_VERSION, "name": ds.name,
            "description": ds.description, "source": ds.source, "class_names": list(ds.class_names),
            "fingerprint": ds.fingerprint}
    arrays = {"images": quantized if lossless else ds.images, "meta": np.array(json.dumps(meta))}
    if ds.labels is not None:
        arrays["labels"] = ds.labels
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}-", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            np.savez_compressed(f, **arrays)
        os.chmod(tmp, 0o666 & ~_umask())
        os.replace(tmp, path)
    finally:
        Path(tmp).unlink(missing_ok=True)
    return path


def _umask():
    import os

    mask = os.umask(0)
    os.umask(mask)
    return mask


def _read_npy(zf, member, kinds, max_values):
    """One array of a zip of .npy files, its header checked before any data is read (dtype kind in `kinds`,
    at most `max_values` values), then exactly the bytes the header announces: no pickle, no bomb."""
    from numpy.lib import format as npy

    with zf.open(member) as f:
        version = npy.read_magic(f)
        if version not in ((1, 0), (2, 0)):
            raise ValueError(f"Expected .npy format 1.0 or 2.0 for {member}, received {version}")
        read_header = npy.read_array_header_1_0 if version == (1, 0) else npy.read_array_header_2_0
        shape, fortran, dtype = read_header(f)
        if dtype.kind not in kinds or dtype.hasobject:
            raise ValueError(f"Expected {member} of dtype kind {'/'.join(kinds)}, received {dtype}")
        count = int(np.prod(shape, dtype=np.int64)) if shape else 1
        if count > max_values:
            raise ValueError(f"Expected at most {max_values:,} values in {member}, received shape {shape}")
        out = np.empty(count, dtype=dtype)
        view, got = memoryview(out).cast("B"), 0
        while got < out.nbytes:
            n = f.readinto(view[got:])
            if not n:
                break
            got += n
        if got != out.nbytes or f.read(1):
            raise ValueError(f"Expected {out.nbytes} bytes of data in {member}, received "
                             f"{got if got != out.nbytes else 'more'}")
    return out.reshape(shape, order="F" if fortran else "C")


def load_dataset_file(path):
    """Read a file `save_dataset` wrote, treating it as hostile until it has been checked.

    Nothing is unpickled; every array's dtype and size are checked from its
    header before its data is read; the members must be exactly images, meta
    and (optionally) labels; the content is validated like any loader's
    (`dataset_from_arrays`) and its fingerprint must equal the stored one.

    Args:
        path: a `.npz` file written by `save_dataset`.
    Returns:
        the `Dataset`, with the name, description, source, class names and
        fingerprint it was saved with.
    Raises:
        ValueError: the file is not such a file, or it was changed or damaged
            (the message says what was expected and what was found).
    """
    import json
    import zipfile
    from pathlib import Path

    path = Path(path)
    try:
        with zipfile.ZipFile(path) as zf:
            names = set(zf.namelist())
            if not {"images.npy", "meta.npy"} <= names <= {"images.npy", "meta.npy", "labels.npy"}:
                raise ValueError(f"Expected the members images.npy, meta.npy and optionally labels.npy, "
                                 f"received {sorted(names)[:6]}")
            meta_array = _read_npy(zf, "meta.npy", "U", _MAX_META_CHARS)
            images = _read_npy(zf, "images.npy", "uf", MAX_SAVED_VALUES)
            labels = _read_npy(zf, "labels.npy", "iu", MAX_SAVED_VALUES) if "labels.npy" in names else None
    except (OSError, EOFError, zipfile.BadZipFile, ValueError, TypeError, SyntaxError) as e:
        raise ValueError(f"Expected an aecore dataset file (.npz), received {path.name} that cannot be read "
                         f"({_one_line(e)}).") from None
    try:
        if meta_array.shape != ():
            raise ValueError(f"a record of shape {meta_array.shape}")
        meta = json.loads(str(meta_array[()]))
        if not isinstance(meta, dict) or meta.get("format") != DATASET_FORMAT:
            raise ValueError("a record that is not an aecore dataset's")
        fields = {k: meta.get(k) for k in ("name", "description", "source", "fingerprint")}
        class_names = meta.get("class_names")
        if not all(isinstance(v, str) for v in fields.values()) or not isinstance(class_names, list) \
                or not all(isinstance(c, str) for c in class_names):
            raise ValueError("a record whose name, description, source, fingerprint or class names are not text")
    except ValueError as e:  # json.JSONDecodeError is a ValueError
        raise ValueError(f"Expected an aecore dataset file (.npz) with its JSON record, received {path.name} "
                         f"with {_one_line(e)}.") from None
    if meta.get("version") != DATASET_FORMAT_VERSION:
        raise ValueError(f"Expected dataset file format version {DATASET_FORMAT_VERSION}, received "
                         f"{meta.get('version')!r} in {path.name}.")
    if images.dtype not in (np.uint8, np.float32):
        raise ValueError(f"Expected images of dtype uint8 or float32 in {path.name}, received {images.dtype}.")
    ds = dataset_from_arrays(images, labels, class_names if labels is not None else None, name=fields["name"],
                             description=fields["description"], source=fields["source"])
    if ds.fingerprint != fields["fingerprint"]:
        raise ValueError(f"Expected content with the fingerprint stored in {path.name} ({fields['fingerprint']!r}), "
                         f"received content whose fingerprint is {ds.fingerprint!r}: the file was changed or damaged.")
    return ds
