"""The built-in datasets: mnist, fashion_mnist, olivetti and digits, read offline when their files are there.

One small record per dataset (`_BUILTINS`: shape, class names, description, how
to find its files offline, how to read them) serves `locate` (where a dataset
would load from right now, or why not offline), and through it both
`list_datasets` and `load_dataset`, so listing and loading cannot disagree.

Local files come from `data_dir` or $AECORE_DATA_DIR and nothing is downloaded;
without them keras.datasets / sklearn fetchers are used (network on first use,
then their own caches; keras and sklearn are imported lazily, only there). A
corrupt local file gives a one-line ValueError naming the file."""

import dataclasses
import functools
import gzip
import importlib
import importlib.util
import math
import os
import re
import zlib
from collections.abc import Callable
from pathlib import Path

import numpy as np

from .data import _one_line, dataset_from_arrays

DATA_DIR_ENV = "AECORE_DATA_DIR"
OFFLINE_ENV = "AECORE_OFFLINE"  # "1": never download (the test suite sets it: no test may reach the network)

MNIST_CLASSES = [str(i) for i in range(10)]
FASHION_CLASSES = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                   "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"]
OLIVETTI_CLASSES = [f"person {i}" for i in range(40)]
DIGITS_CLASSES = [str(i) for i in range(10)]

_SPLIT_RULE = ("train/validation is split deterministically by aecore.data.split_dataset "
               "(fixed seed-0 shuffle, stratified by class, last 20% held out)")
_BUNDLED = "sklearn (bundled)"
_READ_ERRORS = ((EOFError, "that ends early (truncated: {})"),  # the gzip stream stops before its end marker
                (gzip.BadGzipFile, "that is not valid gzip data ({})"),  # not gzip at all, or a CRC/length mismatch
                (zlib.error, "whose compressed data is corrupt ({})"),
                (OSError, "that could not be read ({})"))


@dataclasses.dataclass(frozen=True)
class Location:
    """Where a built-in dataset loads from right now; see `locate`."""
    name: str
    source: str              # a local path, "<fetcher> (cached: <path>)", "<fetcher> (download)", "sklearn (bundled)"
    available_offline: bool
    path: Path | None        # the local folder (mnist, fashion_mnist) or file (olivetti) found, else None
    files: dict              # mnist, fashion_mnist: split ("train", "t10k") -> (images file, labels file)
    looked_in: str           # where local files were looked for, for messages
    reason: str              # why it is not available offline ("" when it is)


@dataclasses.dataclass(frozen=True)
class _Builtin:
    """One built-in dataset: what it is, how to find its files offline and how to read it."""
    title: str
    shape: tuple             # (H, W, C) of one image
    classes: list            # label index -> name
    description: str
    find: Callable           # data_dir (Path or None) -> (local path or None, files dict as in Location.files)
    cache: Callable          # () -> path of the fetcher's own cached download, or None
    fetcher: str             # where it comes from without local files: "keras.datasets", "sklearn fetch", _BUNDLED
    load: Callable           # (self, Location, cut slice, limit) -> (images, labels, classes, source, description)
    files: str = ""          # the local files wanted, for messages
    download: str = ""       # the call that downloads it, for messages
    none_found: str = "no local files"


# -----------------------------------------------------------------------------
# where the files are

def _resolve_data_dir(data_dir):
    """data_dir argument, else $AECORE_DATA_DIR, else None; must be an existing directory when set."""
    origin = "data_dir"
    if data_dir is None:
        data_dir, origin = os.environ.get(DATA_DIR_ENV) or None, f"${DATA_DIR_ENV}"
    if data_dir is None:
        return None
    path = Path(data_dir).expanduser()
    if not path.is_dir():
        raise ValueError(f"Expected {origin} to be an existing directory, received {str(data_dir)!r}.")
    return path


def _find_idx(data_dir, name):
    """Locate MNIST-format files for `name` in data_dir/<name>/ or data_dir itself.

    Returns (folder, {"train": (images, labels), "t10k": (images, labels)}) with
    only the splits whose images AND labels files exist, or (None, {}).
    In data_dir itself (shared by both datasets, whose files have the same
    names) fashion_mnist only takes files with "fashion" in their name, and
    mnist ignores such files.
    """
    if data_dir is None:
        return None, {}
    for folder in (data_dir / name, data_dir):
        if not folder.is_dir():
            continue
        files = sorted(p for p in folder.iterdir() if p.is_file())
        if folder == data_dir:
            files = [p for p in files if ("fashion" in p.name.lower()) == (name == "fashion_mnist")]
        found = {}
        for split in ("train", "t10k"):
            # e.g. "t10k-images-idx3-ubyte.gz", "train-labels.idx1-ubyte", "fashion-t10k-images-idx3-ubyte"
            images_re = re.compile(rf"{split}-images[-.]idx3-ubyte(\.gz)?$", re.I)
            labels_re = re.compile(rf"{split}-labels[-.]idx1-ubyte(\.gz)?$", re.I)
            images = next((p for p in files if images_re.search(p.name)), None)
            labels = next((p for p in files if labels_re.search(p.name)), None)
            if images is not None and labels is not None:
                found[split] = (images, labels)
        if found:
            return folder, found
    return None, {}


def _find_olivetti(data_dir):
    """(data_dir/olivetti/olivettifaces.mat or data_dir/olivettifaces.mat, {}), or (None, {}) when neither is a file."""
    paths = [] if data_dir is None else [data_dir / "olivetti" / "olivettifaces.mat", data_dir / "olivettifaces.mat"]
    return next(((path, {}) for path in paths if path.is_file()), (None, {}))


def _keras_cache(name):
    """Path of keras.datasets' cached download for `name`, or None (checks $KERAS_HOME, ~/.keras, /tmp/.keras)."""
    homes = [os.environ.get("KERAS_HOME"), os.path.expanduser("~/.keras"), "/tmp/.keras"]
    for datasets in (Path(home) / "datasets" for home in filter(None, homes)):
        if name == "mnist" and (datasets / "mnist.npz").is_file():
            return datasets / "mnist.npz"
        folder = datasets / "fashion-mnist"
        if name == "fashion_mnist" and all((folder / f"{split}-{kind}-ubyte.gz").is_file()
                                           for split in ("train", "t10k") for kind in ("images-idx3", "labels-idx1")):
            return folder
    return None


def _sklearn_olivetti_cache():
    """Path of sklearn's cached Olivetti download ($SCIKIT_LEARN_DATA or ~/scikit_learn_data), or None."""
    home = os.environ.get("SCIKIT_LEARN_DATA") or os.path.expanduser("~/scikit_learn_data")
    path = Path(home) / "olivetti.pkz"
    return path if path.is_file() else None


# -----------------------------------------------------------------------------
# reading them

def _read_idx(path, ndim):
    """Read an IDX file of unsigned bytes (MNIST format), gzipped when its name ends in .gz.

    Args:
        path: the file.
        ndim: the number of dimensions expected (3 for images, 1 for labels).
    Returns a uint8 array of the file's shape. Raises ValueError, one line naming
    the file and what is wrong, for a truncated or corrupt gzip stream, a wrong
    header or a data size that does not match the header.
    """
    what = "a gzip-compressed IDX file" if str(path).endswith(".gz") else "an IDX file"
    try:
        if str(path).endswith(".gz"):
            with gzip.open(path, "rb") as f:
                data = f.read()
        else:
            data = Path(path).read_bytes()
    except (EOFError, OSError, zlib.error) as e:  # gzip.BadGzipFile is an OSError: first match wins
        how = next(how for kind, how in _READ_ERRORS if isinstance(e, kind))
        raise ValueError(f"Expected {what}, received {path} {how.format(_one_line(e))}.") from e
    if len(data) < 4 or data[0:3] != b"\x00\x00\x08" or data[3] != ndim:
        shown = data[:4].hex(" ") if data else "(empty)"
        raise ValueError(f"Expected {what} of unsigned bytes in {ndim} dimension(s) (header 00 00 08 0{ndim}), "
                         f"received {path} with header {shown}.")
    head = 4 + 4 * ndim
    if len(data) < head:
        raise ValueError(f"Expected {what} with a {head}-byte header, received {path} of {len(data)} bytes, "
                         f"shorter than its {head}-byte header.")
    dims = tuple(int.from_bytes(data[4 + 4 * i: 8 + 4 * i], "big") for i in range(ndim))
    expected, found = math.prod(dims), len(data) - head
    if found != expected:
        raise ValueError(f"Expected {expected:,} data bytes in {path} (dims {dims}), received {found:,}"
                         f"{' (truncated)' if found < expected else ''}.")
    return np.frombuffer(data, dtype=np.uint8, offset=head).reshape(dims)


def _read_idx_split(images_path, labels_path, n_classes):
    """(images, labels) of one MNIST-format split; ValueError naming the file when they do not fit together."""
    images, labels = _read_idx(images_path, 3), _read_idx(labels_path, 1)
    if images.shape[1:] != (28, 28):
        raise ValueError(f"Expected 28x28 images in {images_path}, received {images.shape[1]}x{images.shape[2]}.")
    if len(labels) != len(images):
        raise ValueError(f"Expected as many labels in {labels_path} as images in {images_path} "
                         f"({len(images):,}), received {len(labels):,}.")
    if labels.size and int(labels.max()) >= n_classes:
        raise ValueError(f"Expected labels 0..{n_classes - 1} in {labels_path}, received a label {int(labels.max())}.")
    return images, labels


def _read_olivetti_mat(path):
    """The 400 Olivetti faces from olivettifaces.mat as float32 (400, 64, 64) in [0, 1], upright.
    Raises ValueError, one line naming the file, when it is not a readable .mat with a usable 'faces'."""
    import scipy.io

    try:
        mat = scipy.io.loadmat(str(path))
    except Exception as e:  # scipy raises MatReadError/ValueError/TypeError/OSError/EOFError/... on bad files
        raise ValueError(f"Expected a MATLAB .mat file with a 'faces' array, received {path} that scipy could "
                         f"not read ({_one_line(e)}).") from e
    if "faces" not in mat:
        names = sorted(k for k in mat if not k.startswith("__"))
        raise ValueError(f"Expected a 'faces' array in {path}, received variables {names}.")
    faces = np.asarray(mat["faces"])
    if faces.shape != (4096, 400) or not (np.issubdtype(faces.dtype, np.integer)
                                          or np.issubdtype(faces.dtype, np.floating)):
        raise ValueError(f"Expected 'faces' of shape (4096, 400) with numbers in {path}, "
                         f"received shape {faces.shape} of {faces.dtype}.")
    # each column is one 64x64 image stored column-major (MATLAB order)
    images = faces.T.reshape(400, 64, 64, order="F").astype(np.float32)
    lo, hi = float(images.min()), float(images.max())
    if not (np.isfinite(lo) and np.isfinite(hi) and hi > lo):
        raise ValueError(f"Expected finite pixel values that are not all equal in {path}, "
                         f"received values in [{lo}, {hi}].")
    # same min-max scaling as sklearn.datasets.fetch_olivetti_faces, so both sources agree
    images = images - images.min()
    images /= images.max()
    return images


# -----------------------------------------------------------------------------
# one loader per kind of source: (spec, location, cut, limit) -> (images, labels, classes, source, description)

def _download(spec, loc, fetch):
    """fetch() when no local files were found; RuntimeError saying where it looked when that fails.

    With `$AECORE_OFFLINE` set to 1 nothing is downloaded: the same RuntimeError, saying downloads are off.
    """
    try:
        if os.environ.get(OFFLINE_ENV) == "1":
            raise OSError(f"downloads are off (${OFFLINE_ENV}=1)")
        return fetch()
    except Exception as e:
        raise RuntimeError(f"Expected {spec.files} in {loc.looked_in}, or a download via {spec.download}; "
                           f"received {spec.none_found} and the download failed: {_one_line(e)}") from e


def _load_idx(spec, loc, cut, limit):
    """mnist, fashion_mnist: the local IDX splits (train first), else keras.datasets (train + test)."""
    if loc.path is not None:
        found, folder = loc.files, loc.path
        parts = [_read_idx_split(*found[s], len(spec.classes)) for s in ("train", "t10k") if s in found]
        images, labels = (np.concatenate(arrays) for arrays in zip(*parts))
        if len(found) == 2:
            what = f"{spec.title} train + test splits ({len(images):,} images, train first) from {folder}"
        else:
            what = (f"{spec.title} {'test' if 't10k' in found else 'train'} split only ({len(images):,} images) "
                    f"from {folder}")
        source = str(folder)
    else:
        def fetch():
            (x_tr, y_tr), (x_te, y_te) = importlib.import_module(f"keras.datasets.{loc.name}").load_data()
            return x_tr, y_tr, x_te, y_te
        x_tr, y_tr, x_te, y_te = _download(spec, loc, fetch)
        images, labels = np.concatenate([x_tr, x_te]), np.concatenate([y_tr, y_te])
        what = f"{spec.title} via keras.datasets: {len(x_tr):,} train + {len(x_te):,} test images (train first)"
        source = "keras.datasets"
    images, labels = images[cut], labels[cut].astype(np.int64)
    if limit is not None:
        what += f", first {len(images):,} kept (limit={limit})"
    return images, labels, spec.classes, source, f"{what}; {_SPLIT_RULE}."


def _load_olivetti(spec, loc, cut, limit):
    """olivetti: the local olivettifaces.mat, else sklearn's fetcher; 10 images per person, in order."""
    if loc.path is not None:
        images, source = _read_olivetti_mat(loc.path), str(loc.path)
    else:
        def fetch():
            from sklearn.datasets import fetch_olivetti_faces
            return np.asarray(fetch_olivetti_faces().images, dtype=np.float32)  # upright, [0, 1]
        images, source = _download(spec, loc, fetch), "sklearn fetch"
    labels = np.arange(400, dtype=np.int64) // 10
    images, labels = images[cut], labels[cut]
    classes = spec.classes[: int(labels.max()) + 1]
    return images, labels, classes, source, (f"{spec.title} from {source}: {len(images)} images of "
                                             f"{len(classes)} people (10 per person, in order), 64x64 grayscale; "
                                             f"{_SPLIT_RULE}.")


def _load_digits(spec, loc, cut, limit):
    """digits: sklearn's bundled copy, pixel values 0..16 scaled to [0, 1]."""
    from sklearn.datasets import load_digits
    digits = load_digits()
    images = (digits.images / 16.0).astype(np.float32)[cut]
    labels = digits.target.astype(np.int64)[cut]
    return images, labels, spec.classes, _BUNDLED, (f"{spec.title} (bundled): {len(images):,} images 8x8 "
                                                    f"grayscale, pixel values 0..16 scaled to [0, 1]; {_SPLIT_RULE}.")


def _idx_builtin(name, title, classes, description):
    """The record of an MNIST-format dataset: IDX files offline, keras.datasets.<name> otherwise."""
    return _Builtin(title, (28, 28, 1), classes, description, find=functools.partial(_find_idx, name=name),
                    cache=functools.partial(_keras_cache, name), fetcher="keras.datasets",
                    files=(f"{name} IDX files (t10k-images-idx3-ubyte[.gz] + t10k-labels-idx1-ubyte[.gz], "
                           f"optionally train-*)"),
                    download=f"keras.datasets.{name}.load_data()", load=_load_idx)


_BUILTINS = {
    "mnist": _idx_builtin("mnist", "MNIST", MNIST_CLASSES,
                          "MNIST handwritten digits 0-9, 28x28 grayscale (LeCun, Cortes, Burges)."),
    "fashion_mnist": _idx_builtin("fashion_mnist", "Fashion-MNIST", FASHION_CLASSES,
                                  "Fashion-MNIST clothing items, 10 classes, 28x28 grayscale (Zalando)."),
    "olivetti": _Builtin("Olivetti faces", (64, 64, 1), OLIVETTI_CLASSES,
                         "Olivetti faces, 40 people x 10 images, 64x64 grayscale (AT&T Cambridge).",
                         find=_find_olivetti, cache=_sklearn_olivetti_cache, fetcher="sklearn fetch",
                         files="olivettifaces.mat", download="sklearn.datasets.fetch_olivetti_faces()",
                         none_found="no local file", load=_load_olivetti),
    "digits": _Builtin("scikit-learn digits", (8, 8, 1), DIGITS_CLASSES,
                       "scikit-learn handwritten digits 0-9, 8x8 grayscale, 1,797 images.",
                       find=lambda data_dir: (None, {}), cache=lambda: None, fetcher=_BUNDLED, load=_load_digits),
}
BUILTIN_DATASETS = tuple(_BUILTINS)  # ("mnist", "fashion_mnist", "olivetti", "digits")


def _spec(name):
    if name not in BUILTIN_DATASETS:
        raise ValueError(f"Expected a dataset name in {BUILTIN_DATASETS}, received {name!r}.")
    return _BUILTINS[name]


def locate(name, data_dir=None):
    """Find where a built-in dataset would load from right now, without reading its files.

    Args:
        name: one of BUILTIN_DATASETS: "mnist", "fashion_mnist", "olivetti", "digits".
        data_dir: directory with local dataset files; default $AECORE_DATA_DIR (may be unset).
            Looked up as described in `load_dataset`.
    Returns a `Location`: its `source` (the local folder or file found, else the
    fetcher's cache, else a download), `available_offline`, the local `path` and
    `files` found, where it `looked_in`, and the `reason` it is not available
    offline ("" when it is). Raises ValueError for an unknown name or a data_dir
    that is not an existing directory.
    """
    spec = _spec(name)
    data_dir = _resolve_data_dir(data_dir)
    path, files = spec.find(data_dir)
    looked = (f"{data_dir / name} and {data_dir}" if data_dir is not None
              else f"no local directory (neither data_dir nor ${DATA_DIR_ENV} set)")
    if spec.fetcher == _BUNDLED:
        source, offline = _BUNDLED, importlib.util.find_spec("sklearn") is not None
        why = "scikit-learn, which bundles it, is not installed"
    elif path is not None:
        source, offline = str(path), True
    elif (cache := spec.cache()) is not None:
        source, offline = f"{spec.fetcher} (cached: {cache})", True
    else:
        source, offline = f"{spec.fetcher} (download)", False
        why = f"no {spec.files} in {looked}, and no cached download: {spec.download} would download it"
    return Location(name=name, source=source, available_offline=offline, path=path, files=files,
                    looked_in=looked, reason="" if offline else why)


def list_datasets(data_dir=None):
    """Describe the built-in datasets and where each would load from right now.

    Args:
        data_dir: directory with local dataset files; default $AECORE_DATA_DIR (may be unset).
    Returns one dict per name in BUILTIN_DATASETS with keys "name", "shape"
    (H, W, C), "source" (a local path, "keras.datasets (cached: <path>)",
    "keras.datasets (download)", "sklearn fetch (cached: <path>)",
    "sklearn fetch (download)" or "sklearn (bundled)"), "available_offline"
    (bool) and "description".
    """
    return [{"name": loc.name, "shape": _BUILTINS[loc.name].shape, "source": loc.source,
             "available_offline": loc.available_offline, "description": _BUILTINS[loc.name].description}
            for loc in (locate(name, data_dir) for name in BUILTIN_DATASETS)]


def load_dataset(name, data_dir=None, limit=None):
    """Load a built-in dataset as a Dataset (float32 images in [0, 1], int64 labels).

    Args:
        name: one of BUILTIN_DATASETS: "mnist", "fashion_mnist", "olivetti", "digits".
        data_dir: directory with local files; default $AECORE_DATA_DIR. Looked up:
            mnist / fashion_mnist: IDX files "train-images-idx3-ubyte",
                "t10k-images-idx3-ubyte" (optionally .gz) and the matching
                "*-labels-idx1-ubyte" files, in data_dir/<name>/ or data_dir.
                Train and test are concatenated (train first) when both exist;
                the test split alone is used when only it exists.
            olivetti: data_dir/olivetti/olivettifaces.mat or data_dir/olivettifaces.mat.
            digits: always sklearn's bundled copy (no file needed).
            Without local files: keras.datasets.<name>.load_data() (train + test
            concatenated) or sklearn.datasets.fetch_olivetti_faces(), which
            download on first use.
        limit: None (default, all images) or an int >= 1: keep the first `limit` images.
    Raises ValueError for bad arguments, RuntimeError when neither local files
    nor a download are available (the message says where it looked).
    """
    spec = _spec(name)
    if limit is not None and (isinstance(limit, bool) or not isinstance(limit, (int, np.integer)) or limit < 1):
        raise ValueError(f"Expected limit to be None or an int >= 1, received {limit!r}.")
    cut = slice(None) if limit is None else slice(0, int(limit))
    images, labels, classes, source, description = spec.load(spec, locate(name, data_dir), cut, limit)
    return dataset_from_arrays(images, labels, classes, name=name, description=description, source=source)
