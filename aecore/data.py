"""Datasets for the autoencoder explorer: built-in image sets and user uploads.

Everything the app trains on or feeds to a model comes through this module as a
`Dataset`: float32 images in [0, 1] with shape (N, H, W, C), C in (1, 3), optional
int64 labels, and a `fingerprint` (16 hex chars) that identifies the content, so
trained models and caches can be tied to the exact data they saw.

Sources:
  - built-ins (`load_dataset`): "mnist", "fashion_mnist", "olivetti", "digits".
    If a local data directory is given (argument `data_dir`, or the environment
    variable AECORE_DATA_DIR) its files are used and nothing is downloaded;
    otherwise keras.datasets / sklearn fetchers are used (network on first use,
    then their own caches). keras and sklearn are imported lazily, only there.
  - user uploads: a .zip of images (`load_image_zip`), a local folder of images
    (`load_image_folder`), or one image (`prepare_image`).
  - plain arrays (`dataset_from_arrays`), which every loader goes through, so
    there is exactly one validation and one fingerprint code path.

Image conversion rules (uploads): only PNG, JPEG, BMP, GIF and WebP files are
decoded (`IMAGE_FORMATS`; any other format is refused by its signature, without
running its decoder); EXIF orientation is applied; GIFs use their first frame;
transparent images (RGBA, LA, palette with transparency, grey or RGB with a
transparent colour) are composited over a WHITE background; values are scaled by
the mode's bit depth, never by the picture's own range (see `_pil_to_float`);
then the image is converted to grayscale ("L" weights) or RGB and resized
(stretched, LANCZOS) to size x size.

Limits on uploads (module constants, the defaults of every loader): MAX_PIXELS
per image, MAX_TOTAL_PIXELS per zip or folder (summed from the image headers
before anything is decoded), MAX_FILES, MAX_ZIP_ENTRIES, MAX_TOTAL_BYTES and
MAX_RATIO (zip bombs).

Train/validation split (`split_dataset`): deterministic, see its docstring.
"""

import dataclasses
import gzip
import hashlib
import importlib
import importlib.util
import io
import math
import os
import stat
import re
import warnings
import zipfile
import zlib
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps

DATA_DIR_ENV = "AECORE_DATA_DIR"
BUILTIN_DATASETS = ("mnist", "fashion_mnist", "olivetti", "digits")
IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp")

MNIST_CLASSES = [str(i) for i in range(10)]
FASHION_CLASSES = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                   "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"]
OLIVETTI_CLASSES = [f"person {i}" for i in range(40)]
DIGITS_CLASSES = [str(i) for i in range(10)]

_SHAPES = {"mnist": (28, 28, 1), "fashion_mnist": (28, 28, 1),
           "olivetti": (64, 64, 1), "digits": (8, 8, 1)}
_DESCRIPTIONS = {
    "mnist": "MNIST handwritten digits 0-9, 28x28 grayscale (LeCun, Cortes, Burges).",
    "fashion_mnist": "Fashion-MNIST clothing items, 10 classes, 28x28 grayscale (Zalando).",
    "olivetti": "Olivetti faces, 40 people x 10 images, 64x64 grayscale (AT&T Cambridge).",
    "digits": "scikit-learn handwritten digits 0-9, 8x8 grayscale, 1,797 images.",
}
_SPLIT_RULE = ("train/validation is split deterministically by aecore.data.split_dataset "
               "(fixed seed-0 shuffle, stratified by class, last 20% held out)")

# The image formats decoded from user files, as Pillow format ids: what the app names (PNG, JPEG, BMP,
# GIF, WebP) and nothing else. Pillow reads ~40 more (TIFF, FITS, ICO, PCX, TGA, PPM, SGI, IM, DDS, ...);
# some of those decoders are slow or unbounded (a 1 MB FITS file gunzips gigabytes), so they never run.
IMAGE_FORMATS = ("PNG", "JPEG", "BMP", "GIF", "WEBP")
_FORMAT_NAMES = {"PNG": "PNG", "JPEG": "JPEG", "MPO": "JPEG", "BMP": "BMP", "GIF": "GIF", "WEBP": "WebP"}
_FORMATS_TEXT = "PNG, JPEG, BMP, GIF or WebP"

# Limits on user images; each is the default of every loader that takes it.
MAX_PIXELS = 40_000_000              # per image (width x height): a 40-megapixel photo still loads (~0.5 s)
MAX_TOTAL_PIXELS = 20_000 * 256 * 256  # per zip or folder, from the headers before decoding: room for
                                     # MAX_FILES images of 256x256 (1.3 gigapixels, ~20 s of decoding at
                                     # the ~70 megapixels/s measured here), refuses 15,330 x 6000x6000
MAX_FILES = 20_000                   # image entries per zip or folder: twice MNIST's test set
MAX_ZIP_ENTRIES = 60_000             # entries of any kind (folders, __MACOSX twins, other files): room for a
                                     # folder entry and a macOS twin per image; each costs ~0.6 KB and ~5 us
                                     # to list, so the count is checked before the directory is parsed
MAX_TOTAL_BYTES = 512 * 2**20        # declared uncompressed bytes of a zip's image entries (bounds inflating)
MAX_RATIO = 100.0                    # uncompressed / compressed size of one entry: PNG/JPEG/GIF/WebP hardly
                                     # compress (~1), BMPs a few times; 100 is a zip bomb
_RATIO_MIN_BYTES = 1 << 20           # ... for entries above 1 MiB (small files can compress well legitimately)
_CD_BYTES_PER_ENTRY = 256            # central-directory bytes allowed per entry (46-byte record + name + extras)
_HEADER_BYTES = 8192                 # first bytes of a file read to parse its header (PNG/GIF/BMP need < 100;
                                     # a JPEG with big EXIF/ICC segments is read whole when they do not fit)


# -----------------------------------------------------------------------------
# the Dataset container and its fingerprint

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


# -----------------------------------------------------------------------------
# built-in datasets

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


def _one_line(e):
    """'TypeName: message' of an exception on one line, for error messages."""
    name = type(e).__name__
    module = type(e).__module__
    if module not in ("builtins", "__main__") and name == "error":  # zlib.error, struct.error, ...
        name = f"{module}.{name}"
    text = " ".join(re.sub(r"\s*<[^<>]* at 0x[0-9a-fA-F]+>", "", str(e)).split()).rstrip(".")  # no "<... at 0x7f>"
    return f"{name}: {text}" if text else name


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
    except EOFError as e:  # the gzip stream stops before its end marker
        raise ValueError(f"Expected {what}, received {path} that ends early (truncated: {_one_line(e)}).") from e
    except gzip.BadGzipFile as e:  # not gzip at all, or a CRC / length mismatch
        raise ValueError(f"Expected {what}, received {path} that is not valid gzip data ({_one_line(e)}).") from e
    except zlib.error as e:
        raise ValueError(f"Expected {what}, received {path} whose compressed data is corrupt "
                         f"({_one_line(e)}).") from e
    except OSError as e:
        raise ValueError(f"Expected {what}, received {path} that could not be read ({_one_line(e)}).") from e
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
    if data_dir is None:
        return None
    for path in (data_dir / "olivetti" / "olivettifaces.mat", data_dir / "olivettifaces.mat"):
        if path.is_file():
            return path
    return None


def _keras_cache(name):
    """Path of keras.datasets' cached download for `name`, or None (checks $KERAS_HOME, ~/.keras, /tmp/.keras)."""
    homes = [os.environ.get("KERAS_HOME"), os.path.expanduser("~/.keras"), "/tmp/.keras"]
    for home in filter(None, homes):
        if name == "mnist":
            path = Path(home) / "datasets" / "mnist.npz"
            if path.is_file():
                return path
        else:
            folder = Path(home) / "datasets" / "fashion-mnist"
            names = ["train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz",
                     "t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"]
            if all((folder / f).is_file() for f in names):
                return folder
    return None


def _sklearn_olivetti_cache():
    home = os.environ.get("SCIKIT_LEARN_DATA") or os.path.expanduser("~/scikit_learn_data")
    path = Path(home) / "olivetti.pkz"
    return path if path.is_file() else None


def _looked_in(data_dir, sub):
    """Where a loader looked for local files, for error messages."""
    if data_dir is None:
        return f"no local directory (neither data_dir nor ${DATA_DIR_ENV} set)"
    return f"{data_dir / sub} and {data_dir}"


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
    data_dir = _resolve_data_dir(data_dir)
    out = []
    for name in BUILTIN_DATASETS:
        if name in ("mnist", "fashion_mnist"):
            folder, _ = _find_idx(data_dir, name)
            cache = _keras_cache(name)
            if folder is not None:
                source, offline = str(folder), True
            elif cache is not None:
                source, offline = f"keras.datasets (cached: {cache})", True
            else:
                source, offline = "keras.datasets (download)", False
        elif name == "olivetti":
            path, cache = _find_olivetti(data_dir), _sklearn_olivetti_cache()
            if path is not None:
                source, offline = str(path), True
            elif cache is not None:
                source, offline = f"sklearn fetch (cached: {cache})", True
            else:
                source, offline = "sklearn fetch (download)", False
        else:
            source, offline = "sklearn (bundled)", importlib.util.find_spec("sklearn") is not None
        out.append({"name": name, "shape": _SHAPES[name], "source": source,
                    "available_offline": offline, "description": _DESCRIPTIONS[name]})
    return out


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
    if name not in BUILTIN_DATASETS:
        raise ValueError(f"Expected a dataset name in {BUILTIN_DATASETS}, received {name!r}.")
    if limit is not None and (isinstance(limit, bool) or not isinstance(limit, (int, np.integer)) or limit < 1):
        raise ValueError(f"Expected limit to be None or an int >= 1, received {limit!r}.")
    data_dir = _resolve_data_dir(data_dir)
    cut = slice(None) if limit is None else slice(0, int(limit))

    if name in ("mnist", "fashion_mnist"):
        title = "MNIST" if name == "mnist" else "Fashion-MNIST"
        classes = MNIST_CLASSES if name == "mnist" else FASHION_CLASSES
        folder, found = _find_idx(data_dir, name)
        if found:
            parts = [_read_idx_split(*found[s], len(classes)) for s in ("train", "t10k") if s in found]
            images = np.concatenate([p[0] for p in parts])
            labels = np.concatenate([p[1] for p in parts])
            if "train" in found and "t10k" in found:
                what = f"{title} train + test splits ({len(images):,} images, train first) from {folder}"
            elif "t10k" in found:
                what = f"{title} test split only ({len(images):,} images) from {folder}"
            else:
                what = f"{title} train split only ({len(images):,} images) from {folder}"
            source = str(folder)
        else:
            try:
                module = importlib.import_module(f"keras.datasets.{name}")
                (x_tr, y_tr), (x_te, y_te) = module.load_data()
            except Exception as e:
                looked = _looked_in(data_dir, name)
                raise RuntimeError(
                    f"Expected {name} IDX files (t10k-images-idx3-ubyte[.gz] + t10k-labels-idx1-ubyte[.gz], "
                    f"optionally train-*) in {looked}, or a download via keras.datasets.{name}.load_data(); "
                    f"received no local files and the download failed: {_one_line(e)}") from e
            images, labels = np.concatenate([x_tr, x_te]), np.concatenate([y_tr, y_te])
            what = f"{title} via keras.datasets: {len(x_tr):,} train + {len(x_te):,} test images (train first)"
            source = "keras.datasets"
        images, labels = images[cut], labels[cut].astype(np.int64)
        if limit is not None:
            what += f", first {len(images):,} kept (limit={limit})"
        description = f"{what}; {_SPLIT_RULE}."

    elif name == "olivetti":
        path = _find_olivetti(data_dir)
        if path is not None:
            images, source = _read_olivetti_mat(path), str(path)
        else:
            try:
                from sklearn.datasets import fetch_olivetti_faces
                images = np.asarray(fetch_olivetti_faces().images, dtype=np.float32)  # upright, [0, 1]
            except Exception as e:
                looked = _looked_in(data_dir, "olivetti")
                raise RuntimeError(
                    f"Expected olivettifaces.mat in {looked}, or a download via "
                    f"sklearn.datasets.fetch_olivetti_faces(); received no local file and the download "
                    f"failed: {_one_line(e)}") from e
            source = "sklearn fetch"
        labels = np.arange(400, dtype=np.int64) // 10
        images, labels = images[cut], labels[cut]
        classes = OLIVETTI_CLASSES[: int(labels.max()) + 1]
        description = (f"Olivetti faces from {source}: {len(images)} images of {len(classes)} people "
                       f"(10 per person, in order), 64x64 grayscale; {_SPLIT_RULE}.")

    else:  # digits
        from sklearn.datasets import load_digits
        digits = load_digits()
        images = (digits.images / 16.0).astype(np.float32)
        labels = digits.target.astype(np.int64)
        images, labels = images[cut], labels[cut]
        classes, source = DIGITS_CLASSES, "sklearn (bundled)"
        description = (f"scikit-learn digits (bundled): {len(images):,} images 8x8 grayscale, "
                       f"pixel values 0..16 scaled to [0, 1]; {_SPLIT_RULE}.")

    return dataset_from_arrays(images, labels, classes, name=name, description=description, source=source)


# -----------------------------------------------------------------------------
# user images: one image, a folder, a zip

def _check_size_channels(size, channels):
    if isinstance(size, bool) or not isinstance(size, (int, np.integer)) or not 8 <= size <= 128:
        raise ValueError(f"Expected size to be an int in 8..128 (usually 28, 32 or 64), received {size!r}.")
    if isinstance(channels, bool) or channels not in (1, 3):
        raise ValueError(f"Expected channels to be 1 (grayscale) or 3 (RGB), received {channels!r}.")


def _check_positive(**limits):
    for key, value in limits.items():
        if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)) or not value > 0:
            raise ValueError(f"Expected {key} to be a positive number, received {value!r}.")


def _pil_to_float(im):
    """Any PIL image -> float32 array (H, W, C), C in (1, 3), values in [0, 1].

    Applies EXIF orientation and composites transparency over white. Values are
    scaled by the mode's bit depth, never by the picture's own range, so the same
    stored value always gives the same result:
      - 8-bit modes ("1", "L", "P", "RGB", "RGBA", "CMYK", ...): / 255.
      - "I;16", "I;16B", ... (16-bit samples, e.g. a 16-bit grayscale PNG): / 65535.
      - "I" (32-bit signed integers, which no PNG/JPEG/BMP/GIF/WebP decodes to,
        only an image built in memory): taken as 16-bit samples, as Pillow stored
        16-bit PNG/TIFF data in "I" before it had "I;16": / 65535, then clipped
        to [0, 1] (negative -> 0, above 65535 -> 1).
      - "F" (32-bit float): taken as intensities in [0, 1] and clipped (NaN -> 0).
    A transparent colour (`im.info["transparency"]`, a PNG tRNS chunk) in a grey,
    16-bit or RGB image makes exactly the pixels of that stored value white.
    """
    try:
        im = ImageOps.exif_transpose(im)
    except Exception:
        pass  # broken EXIF data: keep the pixels as stored
    mode = im.mode
    trns = im.info.get("transparency")
    if mode in ("1", "L", "RGB", "I", "F") or mode.startswith("I;16"):
        raw = np.asarray(im.convert("L") if mode == "1" else im)
        if mode == "F":
            arr = np.nan_to_num(raw.astype(np.float32), nan=0.0, posinf=1.0, neginf=0.0)
        elif mode == "I" or mode.startswith("I;16"):
            arr = (raw.astype(np.float64) / 65535.0).astype(np.float32)  # float64: exact for all 32-bit ints
        else:
            arr = raw.astype(np.float32) / 255.0
        if trns is not None and mode != "F":
            if mode == "RGB" and isinstance(trns, tuple) and len(trns) == 3:
                arr[(raw == np.asarray(trns)).all(axis=-1)] = 1.0
            elif isinstance(trns, int) and not isinstance(trns, bool) and mode != "RGB":
                arr[raw == (trns * 255 if mode == "1" and trns in (0, 1) else trns)] = 1.0  # "1" stores 0/255
    elif mode in ("RGBA", "LA", "PA", "RGBa", "La") or trns is not None:
        rgba = im.convert("RGBA")
        white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        arr = np.asarray(Image.alpha_composite(white, rgba).convert("RGB"), dtype=np.float32) / 255.0
    else:  # P, CMYK, YCbCr, LAB, HSV, ...
        arr = np.asarray(im.convert("RGB"), dtype=np.float32) / 255.0
    if arr.ndim == 2:
        arr = arr[..., None]
    return np.clip(arr, 0.0, 1.0)


def _finish(arr, size, channels):
    """float (H, W, C) in [0, 1], C in (1, 3, 4) -> float32 (size, size, channels), stretched with LANCZOS."""
    if arr.shape[-1] == 4:  # RGBA array: composite over white
        alpha = arr[..., 3:4]
        arr = arr[..., :3] * alpha + (1.0 - alpha)
    if channels == 1 and arr.shape[-1] == 3:  # same weights as PIL's convert("L")
        arr = arr @ np.array([0.299, 0.587, 0.114], dtype=np.float32)[:, None]
    elif channels == 3 and arr.shape[-1] == 1:
        arr = np.repeat(arr, 3, axis=-1)
    arr = arr.astype(np.float32)
    if arr.shape[:2] != (size, size):
        arr = np.stack([np.asarray(Image.fromarray(np.ascontiguousarray(arr[..., c]))
                                   .resize((size, size), Image.Resampling.LANCZOS), dtype=np.float32)
                        for c in range(arr.shape[-1])], axis=-1)
    return np.clip(arr, 0.0, 1.0).astype(np.float32)


# Signatures ("magic bytes") of image and other formats, to say what a refused file is without
# running its decoder: (offset, bytes, name); the first match wins. Netpbm, PCX, ISO media (AVIF/HEIF),
# ICO/CUR (whose 4-byte signature an uncompressed TGA can start with) and TGA (no signature; guessed
# from its header, last) are recognised in _sniff.
_SIGNATURES = (
    (0, b"\x89PNG\r\n\x1a\n", "PNG"), (0, b"\xff\xd8\xff", "JPEG"), (0, b"GIF87a", "GIF"), (0, b"GIF89a", "GIF"),
    (8, b"WEBP", "WebP"), (0, b"BM", "BMP"),
    (0, b"II*\x00", "TIFF"), (0, b"MM\x00*", "TIFF"), (0, b"II+\x00", "BigTIFF"), (0, b"MM\x00+", "BigTIFF"),
    (0, b"SIMPLE", "FITS"), (0, b"\x01\xda", "SGI"),
    (0, b"Image type:", "IM"), (0, b"DDS ", "DDS"), (0, b"8BPS", "PSD"), (0, b"icns", "ICNS"),
    (0, b"\x00\x00\x00\x0cjP  \r\n\x87\n", "JPEG 2000"), (0, b"\xff\x4f\xff\x51", "JPEG 2000"),
    (0, b"%!PS", "EPS"), (0, b"\xc5\xd0\xd3\xc6", "EPS"), (0, b"%PDF", "PDF"), (0, b"qoif", "QOI"),
    (0, b"BLP1", "BLP"), (0, b"BLP2", "BLP"), (0, b"\x89HDF\r\n\x1a\n", "HDF5"), (0, b"GRIB", "GRIB"),
    (0, b"BUFR", "BUFR"), (0, b"DanM", "MSP"), (0, b"LinS", "MSP"), (0, b"\x59\xa6\x6a\x95", "Sun raster"),
    (0, b"\xb1\x68\xde\x3a", "DCX"), (0, b"FTEX", "FTEX"), (0, b"\x80\xe8\x00\x00", "Pixar"),
    (0, b"\xd7\xcd\xc6\x9a", "WMF"), (0, b"#define", "XBM"), (0, b"/* XPM */", "XPM"),
    (0, b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", "OLE (MIC)"), (20, b"GIMP", "GIMP brush"),
    (0, b"PK\x03\x04", "ZIP"), (0, b"\x1f\x8b", "gzip"), (0, b"<svg", "SVG"), (0, b"<?xml", "XML"),
    (0, b"RIFF", "RIFF"), (4, b"\x11\xaf", "FLI"), (4, b"\x12\xaf", "FLC"),
)
_NETPBM = {b"1": "PBM", b"4": "PBM", b"2": "PGM", b"5": "PGM", b"3": "PPM", b"6": "PPM", b"7": "PAM",
           b"f": "PFM", b"F": "PFM"}


def _sniff(head):
    """Name of the format a file's first bytes `head` announce ("PNG", "TIFF", "FITS", ...), or None.
    Only compares bytes: no decoder runs."""
    head = bytes(head[:64])
    for offset, magic, name in _SIGNATURES:
        if head[offset:offset + len(magic)] == magic:
            return name
    if head[:4] in (b"\x00\x00\x01\x00", b"\x00\x00\x02\x00") and int.from_bytes(head[4:6], "little") >= 1:
        return "ICO" if head[2] == 1 else "CUR"  # + the number of images, which a TGA has 0 of there
    if head[:1] == b"P" and head[1:2] in _NETPBM and head[2:3].isspace():
        return _NETPBM[head[1:2]]
    if len(head) >= 4 and head[0] == 0x0A and head[1] in (0, 2, 3, 4, 5) and head[2] in (0, 1) \
            and head[3] in (1, 2, 4, 8):  # manufacturer 10, version, RLE flag, bits per pixel
        return "PCX"
    if head[4:8] == b"ftyp":
        brand = head[8:12]
        return "AVIF" if brand in (b"avif", b"avis") else "HEIF" if brand in (b"heic", b"heix", b"mif1", b"msf1") \
            else "ISO media (MP4/MOV)"
    if (len(head) >= 18 and head[1] in (0, 1) and head[2] in (1, 2, 3, 9, 10, 11, 32, 33)
            and head[16] in (1, 8, 15, 16, 24, 32) and int.from_bytes(head[12:14], "little") > 0
            and int.from_bytes(head[14:16], "little") > 0):
        return "TGA"
    return None


class _Refused(ValueError):
    """A user file not decoded. `kind`: "format" (another format than IMAGE_FORMATS), "unknown" (no
    signature recognised), "broken" (one of IMAGE_FORMATS that Pillow could not read) or "size" (over
    max_pixels); `found`: the format's name or None; str(): the short reason listed in Dataset.skipped."""

    def __init__(self, kind, reason, found=None, detail=""):
        super().__init__(reason)
        self.kind, self.found, self.detail = kind, found, detail


def _open_header(data, max_pixels):
    """Bytes of an image file (or only its first bytes) -> PIL image with its header parsed and no
    pixels decoded. Only the IMAGE_FORMATS plugins are tried. Raises _Refused naming the format found
    (from its signature, without decoding it) when it is another one, and for images over max_pixels."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            im = Image.open(io.BytesIO(data), formats=IMAGE_FORMATS)
    except Image.DecompressionBombError as e:  # over Pillow's own limit (2 x Image.MAX_IMAGE_PIXELS)
        raise _Refused("size", f"too large to decode ({_one_line(e)})", detail=_one_line(e)) from e
    except Exception as e:  # UnidentifiedImageError, or a plugin's OSError/ValueError on a broken header
        found = _sniff(data)
        if found is None:
            raise _Refused("unknown", f"unrecognised format (not {_FORMATS_TEXT})") from e
        if found in _FORMAT_NAMES.values():
            raise _Refused("broken", f"broken {found} ({_one_line(e)})", found, _one_line(e)) from e
        raise _Refused("format", f"{found} format, not decoded (only {_FORMATS_TEXT} are)", found) from e
    w, h = im.size
    if w * h > max_pixels:
        raise _Refused("size", f"{w}x{h} = {w * h:,} pixels is more than max_pixels={max_pixels:,}",
                       _FORMAT_NAMES.get(im.format, im.format), f"{w}x{h} ({w * h:,} pixels)")
    return im


def _decode(data, max_pixels):
    """Bytes of one image file -> PIL image with its pixels loaded (first frame for animations).
    Raises _Refused (a ValueError) when it is another format, too large or not readable."""
    im = _open_header(data, max_pixels)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            im.load()
    except Exception as e:
        found = _FORMAT_NAMES.get(im.format, im.format)
        raise _Refused("broken", f"broken {found} ({_one_line(e)})", found, _one_line(e)) from e
    return im


def prepare_image(source, size, channels, max_pixels=MAX_PIXELS):
    """Turn one user image into a model input: float32 (size, size, channels) in [0, 1].

    Args:
        source: a path (str or PathLike), bytes, a binary file-like object (e.g. a
            Streamlit UploadedFile), a PIL.Image, or an ndarray of shape (H, W) or
            (H, W, C) with C in (1, 3, 4), dtype uint8 or float in [0, 1].
            Files must be PNG, JPEG, BMP, GIF or WebP (`IMAGE_FORMATS`), whatever
            their name; other formats are refused without being decoded.
        size: output side length, int in 8..128 (usually 28, 32 or 64).
        channels: 1 (grayscale) or 3 (RGB).
        max_pixels: files whose header declares more than this width x height
            are refused before decoding; default MAX_PIXELS (40,000,000).
    See the module docstring for the conversion rules (EXIF, alpha over white, ...).
    """
    _check_size_channels(size, channels)
    _check_positive(max_pixels=max_pixels)
    if isinstance(source, np.ndarray):
        arr = source
        if arr.ndim == 2:
            arr = arr[..., None]
        if arr.ndim != 3 or arr.shape[-1] not in (1, 3, 4) or min(arr.shape[:2]) < 1:
            raise ValueError(f"Expected an image array of shape (H, W) or (H, W, C) with C in (1, 3, 4), "
                             f"received shape {source.shape}.")
        if arr.dtype == np.uint8:
            arr = arr.astype(np.float32) / 255.0
        elif np.issubdtype(arr.dtype, np.floating):
            arr = arr.astype(np.float32)
            if not (float(arr.min()) >= 0.0 and float(arr.max()) <= 1.0):
                raise ValueError(f"Expected float image values in [0, 1], received values in "
                                 f"[{float(arr.min())}, {float(arr.max())}].")
        else:
            raise ValueError(f"Expected an image array of dtype uint8 or float, received {arr.dtype}.")
        return _finish(arr, size, channels)

    if isinstance(source, Image.Image):
        return _finish(_pil_to_float(source), size, channels)

    if isinstance(source, (str, os.PathLike)):
        if not Path(source).is_file():
            raise ValueError(f"Expected an existing image file, received path {str(source)!r}.")
        data = Path(source).read_bytes()
    elif isinstance(source, (bytes, bytearray, memoryview)):
        data = bytes(source)
    elif hasattr(source, "read"):
        data = _read_filelike(source)
    else:
        raise ValueError(f"Expected a path, bytes, file-like object, PIL.Image or ndarray, "
                         f"received {type(source).__name__}.")
    try:
        im = _decode(data, max_pixels)
    except _Refused as e:
        expected, n = f"Expected an image file ({_FORMATS_TEXT})", f"{len(data):,} bytes"
        if e.kind == "format":
            msg = f"{expected}, received {n} in {e.found} format, which is not decoded."
        elif e.kind == "unknown":
            msg = f"{expected}, received {n} of an unrecognised format."
        elif e.kind == "broken":
            msg = f"{expected}, received {n} that start like a {e.found} but Pillow could not read ({e.detail})."
        elif e.found is not None:
            msg = (f"Expected an image of at most max_pixels={max_pixels:,} pixels, received a {e.found} "
                   f"image of {e.detail}.")
        else:
            msg = f"Expected an image of at most max_pixels={max_pixels:,} pixels, received {n}: {e}."
        raise ValueError(msg) from e
    return _finish(_pil_to_float(im), size, channels)


def _reason(e):
    """Short human reason for a file that was not read, for Dataset.skipped."""
    return str(e) if isinstance(e, _Refused) else _one_line(e)


def _read_filelike(f):
    """All bytes of a binary file-like object (from the start when it can seek)."""
    if hasattr(f, "getvalue"):
        data = f.getvalue()
    else:
        if hasattr(f, "seek"):
            try:
                f.seek(0)
            except Exception:
                pass
        data = f.read()
    if not isinstance(data, (bytes, bytearray)):
        raise ValueError(f"Expected a binary file-like object, received one whose read() gives {type(data).__name__}.")
    return bytes(data)


def _parts(name):
    """Entry name -> clean path components ('\\' treated as '/', '', '.', '..' dropped)."""
    return [p for p in name.replace("\\", "/").split("/") if p not in ("", ".", "..")]


def _wanted(name):
    """True for image files that are not hidden and not macOS metadata."""
    raw = name.replace("\\", "/").split("/")
    if any(p == "__MACOSX" or (p.startswith(".") and p not in (".", "..")) for p in raw):
        return False
    return name.lower().endswith(IMAGE_EXTENSIONS)


def _build_user_dataset(entries, size, channels, max_pixels, max_total_pixels, skipped, name, source,
                        shown_as, where, n_entries):
    """Decode user image files into a Dataset; labels from sub-folders.

    Args:
        entries: (entry_name, read_head, read_all) triples: read_head() gives the
            file's first _HEADER_BYTES (or all of it when shorter), read_all() all of it.
        max_pixels, max_total_pixels: per-image and whole-set caps on width x height.
        skipped: list of "name: reason" strings to extend.
        name, source: of the Dataset; shown_as, where, n_entries: for messages.

    Two passes. First the headers are parsed in order (nothing decoded): other
    formats, unreadable headers and images over max_pixels are skipped, and the
    declared pixels of the rest are summed; as soon as the sum passes
    max_total_pixels -> ValueError, before any decoding. Then the images are
    decoded one at a time and resized.

    An image gets the label of its first sub-folder under the common root of all
    readable images, when every image sits in a sub-folder and there are at least
    2 distinct ones (class_names sorted); otherwise labels are None.
    """
    headed, declared = [], 0
    for n_read, (entry_name, read_head, read_all) in enumerate(entries, 1):
        try:
            head = read_head()
            try:
                im = _open_header(head, max_pixels)
            except _Refused as e:
                if e.kind != "broken" or len(head) < _HEADER_BYTES:
                    raise
                im = _open_header(read_all(), max_pixels)  # a header longer than _HEADER_BYTES (big EXIF, ...)
            w, h = im.size
        except Exception as e:
            skipped.append(f"{entry_name}: {_reason(e)}")
            continue
        declared += w * h
        headed.append((entry_name, read_all))
        if declared > max_total_pixels:  # stop here: a refusal costs at most max_total_pixels / w / h headers
            more = f" of {len(entries):,}" if len(entries) > n_read else ""
            raise ValueError(f"Expected at most max_total_pixels={max_total_pixels:,} pixels (width x height "
                             f"summed over the images) in {where}, received {shown_as!r} whose first {n_read:,}"
                             f"{more} image files already declare {declared:,} pixels; nothing was decoded.")

    images, names, decoded = [], [], 0
    for entry_name, read_all in headed:
        try:
            im = _decode(read_all(), max_pixels)
        except Exception as e:  # broken pixel data, a bad CRC in the zip, a file that vanished, ...
            skipped.append(f"{entry_name}: {_reason(e)}")
            continue
        decoded += im.size[0] * im.size[1]
        if decoded > max_total_pixels:  # only when a file changed between the two passes
            raise ValueError(f"Expected at most max_total_pixels={max_total_pixels:,} pixels in {where}, "
                             f"received {shown_as!r} whose images changed while it was read.")
        try:
            images.append(_finish(_pil_to_float(im), size, channels))
            names.append(entry_name)
        except Exception as e:
            skipped.append(f"{entry_name}: {_reason(e)}")
    if not images:
        shown = "; ".join(skipped[:5]) + (" ..." if len(skipped) > 5 else "")
        raise ValueError(f"Expected {where} with at least one PNG/JPEG/BMP/GIF/WebP image, received {shown_as!r} "
                         f"({n_entries} entries, {len(skipped)} skipped{': ' + shown if skipped else ''}).")

    dirs = [_parts(n)[:-1] for n in names]
    common = 0
    while all(len(d) > common for d in dirs) and len({d[common] for d in dirs}) == 1:
        common += 1
    folders = [d[common] if len(d) > common else None for d in dirs]
    labels, class_names = None, []
    if None not in folders and len(set(folders)) >= 2:
        class_names = sorted(set(folders))
        labels = np.array([class_names.index(f) for f in folders], dtype=np.int64)

    kind = "grayscale" if channels == 1 else "RGB"
    description = f"{len(images):,} user images from {shown_as}, resized to {size}x{size} {kind}"
    description += (f"; {len(class_names)} classes from sub-folder names ({', '.join(class_names[:10])}"
                    f"{', ...' if len(class_names) > 10 else ''})" if labels is not None else "; no labels")
    if skipped:
        description += f"; {len(skipped)} files skipped"
    description += "."
    return dataset_from_arrays(np.stack(images), labels, class_names or None, name=name,
                               description=description, source=source, skipped=skipped)


def _zip_directory_size(fp):
    """(entries, central-directory bytes) that a zip's end record declares, or None when it has none.
    Read before zipfile parses the whole directory (uses zipfile's own end-record reader)."""
    try:
        end = zipfile._EndRecData(fp)
    except Exception:
        return None
    if not end:
        return None
    return int(end[zipfile._ECD_ENTRIES_TOTAL]), int(end[zipfile._ECD_SIZE])


def load_image_zip(source, size=28, channels=1, max_files=MAX_FILES, max_total_bytes=MAX_TOTAL_BYTES,
                   max_ratio=MAX_RATIO, max_pixels=MAX_PIXELS, max_total_pixels=MAX_TOTAL_PIXELS,
                   max_entries=MAX_ZIP_ENTRIES):
    """Load a .zip of images (e.g. a user upload) as a Dataset. Entries are read
    in memory only; nothing is extracted and entry names are never used as paths.
    The same bytes always give the same Dataset (entries are read sorted by name),
    so callers may cache the result by a hash of the bytes.

    Args:
        source: path (str / PathLike) to a .zip, its bytes, or a binary file-like
            object (e.g. Streamlit's UploadedFile).
        size: output side length, int in 8..128, default 28.
        channels: 1 (grayscale, default) or 3 (RGB).
        max_files: most image entries allowed; default MAX_FILES (20,000); more -> ValueError.
        max_total_bytes: most total declared uncompressed bytes of the image
            entries, stored or compressed; default MAX_TOTAL_BYTES (512 MiB);
            more -> ValueError. No entry is ever inflated past its declared size.
        max_ratio: entries over 1 MiB uncompressed whose uncompressed/compressed
            size ratio exceeds this are skipped as zip bombs; default MAX_RATIO (100).
        max_pixels: images whose header declares more than this width x height
            are skipped; default MAX_PIXELS (40,000,000).
        max_total_pixels: when the headers of the image entries declare more
            width x height than this in total, the whole zip is refused before
            anything is decoded; default MAX_TOTAL_PIXELS (1,310,720,000).
        max_entries: most entries of any kind (folders and other files too),
            checked before the zip's directory is parsed; default MAX_ZIP_ENTRIES (60,000).
    Accepted: .png .jpg .jpeg .bmp .gif .webp names (any case) holding PNG, JPEG,
    BMP, GIF or WebP data (other formats are skipped, named, without decoding);
    directories, other files, __MACOSX/ and hidden (dot) files are ignored.
    Unreadable images are listed in Dataset.skipped as "name: reason". Labels
    come from sub-folders (see _build_user_dataset). The Dataset is named
    "upload:<zip name>".
    """
    _check_size_channels(size, channels)
    _check_positive(max_files=max_files, max_total_bytes=max_total_bytes, max_ratio=max_ratio,
                    max_pixels=max_pixels, max_total_pixels=max_total_pixels, max_entries=max_entries)
    if isinstance(source, (str, os.PathLike)):
        label, origin = Path(source).name, str(source)
        if not Path(source).is_file():
            raise ValueError(f"Expected a .zip file, received path {str(source)!r} which is not a file.")
        data = Path(source).read_bytes()
    elif isinstance(source, (bytes, bytearray, memoryview)):
        label, origin, data = "upload.zip", "upload", bytes(source)
    elif hasattr(source, "read"):
        label, origin = Path(str(getattr(source, "name", "") or "upload.zip")).name, "upload"
        data = _read_filelike(source)
    else:
        raise ValueError(f"Expected a path, bytes or binary file-like .zip, received {type(source).__name__}.")
    directory = _zip_directory_size(io.BytesIO(data))
    if directory is not None:
        n_declared, cd_bytes = directory
        if n_declared > max_entries:
            raise ValueError(f"Expected at most max_entries={max_entries:,} entries in the zip (files and folders "
                             f"of any kind), received {n_declared:,}.")
        if cd_bytes > max_entries * _CD_BYTES_PER_ENTRY:
            raise ValueError(f"Expected a zip directory of at most {max_entries * _CD_BYTES_PER_ENTRY:,} bytes "
                             f"(max_entries={max_entries:,}), received one of {cd_bytes:,} bytes.")
    try:
        zf = zipfile.ZipFile(io.BytesIO(data))
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, ValueError, EOFError) as e:
        raise ValueError(f"Expected a .zip file, received {label!r} ({len(data)} bytes) that is not a "
                         f"readable zip archive ({e}).") from e

    with zf:
        if len(zf.infolist()) > max_entries:  # an end record that undercounts
            raise ValueError(f"Expected at most max_entries={max_entries:,} entries in the zip (files and folders "
                             f"of any kind), received {len(zf.infolist()):,}.")
        infos = [i for i in zf.infolist() if not i.is_dir()]
        wanted = sorted((i for i in infos if _wanted(i.filename)), key=lambda i: i.filename)
        if len(wanted) > max_files:
            raise ValueError(f"Expected at most max_files={max_files} images in the zip, received {len(wanted)}.")
        # declared sizes of every image entry, stored or compressed; zipfile never returns more than the
        # declared size of an entry (nor more than its compressed size when stored), so a size that lies
        # low only truncates that entry, and one that lies high only counts against this cap
        total = sum(i.file_size for i in wanted)
        if total > max_total_bytes:
            raise ValueError(f"Expected at most max_total_bytes={max_total_bytes:,} bytes of images (uncompressed) "
                             f"in the zip, received {total:,}.")
        skipped, entries = [], []
        for info in wanted:
            ratio = info.file_size / max(info.compress_size, 1)
            if info.file_size > _RATIO_MIN_BYTES and ratio > max_ratio:
                skipped.append(f"{info.filename}: compression ratio {ratio:.0f} exceeds max_ratio={max_ratio:g} "
                               f"(possible zip bomb)")
                continue

            def read(n, info=info):
                with zf.open(info) as f:  # never more than the declared size
                    return f.read(min(n, info.file_size) + 1)[: min(n, info.file_size)]
            entries.append((info.filename, lambda read=read: read(_HEADER_BYTES),
                            lambda read=read, info=info: read(info.file_size)))
        return _build_user_dataset(entries, size, channels, max_pixels, max_total_pixels, skipped,
                                   name=f"upload:{label}", source=origin, shown_as=label, where="a zip",
                                   n_entries=len(infos))


def load_image_folder(path, size=28, channels=1, max_files=MAX_FILES, max_total_bytes=MAX_TOTAL_BYTES,
                      max_pixels=MAX_PIXELS, max_total_pixels=MAX_TOTAL_PIXELS):
    """Load every image under a local folder (recursively) as a Dataset.

    Args:
        path: an existing directory.
        size: output side length, int in 8..128, default 28.
        channels: 1 (grayscale, default) or 3 (RGB).
        max_files: most image files allowed; default MAX_FILES (20,000); more -> ValueError.
        max_total_bytes: most total bytes of the image files; default
            MAX_TOTAL_BYTES (512 MiB); more -> ValueError.
        max_pixels: images whose header declares more than this width x height
            are skipped; default MAX_PIXELS (40,000,000).
        max_total_pixels: when the headers declare more width x height than this
            in total, the folder is refused before anything is decoded; default
            MAX_TOTAL_PIXELS (1,310,720,000).
    Same rules as load_image_zip: image extensions only, PNG/JPEG/BMP/GIF/WebP
    data only, hidden files/folders and __MACOSX skipped, names that are not
    regular files (devices, sockets, broken links) ignored, unreadable or
    too large images listed in Dataset.skipped, labels from sub-folder names.
    The Dataset is named "folder:<folder name>".
    """
    _check_size_channels(size, channels)
    _check_positive(max_files=max_files, max_total_bytes=max_total_bytes, max_pixels=max_pixels,
                    max_total_pixels=max_total_pixels)
    root = Path(path) if isinstance(path, (str, os.PathLike)) else None
    if root is None or not root.is_dir():
        raise ValueError(f"Expected path to be an existing directory, received {path!r}.")
    files = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith(".") and d != "__MACOSX")
        for fn in sorted(filenames):
            rel = (Path(dirpath) / fn).relative_to(root).as_posix()
            if not _wanted(rel):
                continue
            try:
                st = os.stat(root / rel)  # follows links: a link to /dev/zero is not a regular file
            except OSError:
                continue
            if stat.S_ISREG(st.st_mode):
                files.append((rel, st.st_size))
    if len(files) > max_files:
        raise ValueError(f"Expected at most max_files={max_files} images in the folder, received {len(files)}.")
    total = sum(n for _, n in files)
    if total > max_total_bytes:
        raise ValueError(f"Expected at most max_total_bytes={max_total_bytes:,} bytes of images in the folder, "
                         f"received {total:,}.")

    def read(rel, n):
        with open(root / rel, "rb") as f:  # never more than the size listed (a file that grew is cut)
            return f.read(n)
    entries = [(rel, lambda rel=rel, n=n: read(rel, min(n, _HEADER_BYTES)), lambda rel=rel, n=n: read(rel, n))
               for rel, n in files]
    return _build_user_dataset(entries, size, channels, max_pixels, max_total_pixels, [], name=f"folder:{root.name}",
                               source=str(root), shown_as=str(root), where="a folder", n_entries=len(files))
