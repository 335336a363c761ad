"""Side-by-side measures of trained models: what the Compare page and `python -m aecore compare` show.

The claims the app's seeds make (a VAE's latent space is more complete and continuous than a plain
autoencoder's, a denoising or sparse code differs, bigger codes reconstruct better) become numbers, one
function per measure, each on held-out images none of the compared models trained on:

- `reconstruction_scores`: MSE, PSNR and SSIM of the reconstructions (`aecore.metrics.summary`).
- `kl_per_dimension`, `active_units`: a VAE's KL divergence from its N(0, I) prior, per code dimension
  (nats, averaged over images); a dimension is active when its KL exceeds `ACTIVE_NATS` (0.01 nats), and
  collapsed (it carries no information about the image) otherwise.
- `knn_accuracy`: how well the classes separate in the code space: the held-out codes are split in two at
  random; each code of one half takes the majority label of its `KNN_K` (5) nearest codes in the other.
- `smoothness`, `interpolation_smoothness`: decode the straight path between the codes of random held-out
  pairs (`PAIRS` pairs, `STEPS` frames); the mean pixel change between consecutive frames and each path's
  largest jump (a plain autoencoder's decoder tends to jump where the path leaves its codes; a VAE's glides).
- `sample_row`: decoded random codes (a VAE's prior, else a Gaussian fitted to the held-out codes).

`measure` runs them all for one model; `compare_table` loads 2 to 4 cached models trained on the same
data and split, and returns one row each; `format_table` writes the rows as text; `run_compare` is the
command line's `compare`. Models are comparable when `split_key` agrees: the same dataset (name and content)
with the same `limit` and `val_fraction`, hence the same held-out images.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence

import numpy as np

from . import metrics
from .builtin_data import BUILTIN_DATASETS, load_dataset
from .cache import Entry, ModelCache
from .config import ModelConfig
from .data import Dataset
from .infer import Engine
from .train import prepare_data

ACTIVE_NATS = 0.01  # a VAE dimension with more KL than this (nats per image) is active
KNN_K = 5
MAX_IMAGES = 1000  # held-out images the measures use at most (a fixed random sample beyond)
PAIRS, STEPS = 20, 10  # interpolation paths, and frames per path (both ends included)
SAMPLES = 8  # decoded random codes per model
MIN_MODELS, MAX_MODELS = 2, 4
_BATCH = 256


def _images(engine: Engine, images) -> np.ndarray:
    if not isinstance(engine, Engine):
        raise ValueError(f"Expected an aecore.infer.Engine, received {type(engine).__name__}.")
    x = np.asarray(images, dtype=np.float32)
    if x.ndim != 4 or x.shape[1:] != engine.image_shape:
        raise ValueError(f"Expected images shaped (N, {', '.join(map(str, engine.image_shape))}), "
                         f"received shape {x.shape}.")
    return x


def _finite_2d(name: str, a) -> np.ndarray:
    a = np.asarray(a, dtype=np.float64)
    if a.ndim != 2 or a.shape[0] < 1 or a.shape[1] < 1:
        raise ValueError(f"Expected {name} shaped (N, D), received shape {a.shape}.")
    if not np.isfinite(a).all():
        raise ValueError(f"Expected finite {name}, received NaN or Inf.")
    return a


# --- the measures --------------------------------------------------------------------------------------
def reconstruction_scores(engine: Engine, images) -> dict[str, float]:
    """Held-out reconstruction quality: {"mse", "psnr", "ssim"} of `engine.reconstruct(images)` against `images`.

    Args:
        engine: the model's `aecore.infer.Engine`.
        images: float32 (N, H, W, C) in [0, 1], the model's image shape.
    """
    x = _images(engine, images)
    return metrics.summary(x, engine.reconstruct(x))


def kl_per_dimension(z_mean, z_log_var) -> np.ndarray:
    """KL(N(mean, exp(log_var)) || N(0, 1)) of each code dimension, in nats, averaged over the images.

    Per image and dimension: 0.5 * (mean**2 + exp(log_var) - 1 - log_var); the sum over dimensions is the
    image's KL (the VAE's `kl` loss term).

    Args:
        z_mean, z_log_var: the encoder's outputs, (N, D) each.
    Returns:
        (D,) float64, each >= 0.
    """
    mu, lv = _finite_2d("z_mean", z_mean), _finite_2d("z_log_var", z_log_var)
    if mu.shape != lv.shape:
        raise ValueError(f"Expected z_mean and z_log_var of the same shape, received {mu.shape} and {lv.shape}.")
    return np.maximum(0.5 * (mu ** 2 + np.exp(lv) - 1.0 - lv), 0.0).mean(axis=0)


def active_units(kl_dims, threshold: float = ACTIVE_NATS) -> tuple[int, list[int]]:
    """How many code dimensions a VAE uses: (active count, the collapsed dimensions' numbers).

    Args:
        kl_dims: KL per dimension in nats, (D,), as `kl_per_dimension` gives it.
        threshold: a dimension is active when its KL is above this. Default 0.01 nats.
    """
    kl = np.asarray(kl_dims, dtype=np.float64)
    if kl.ndim != 1 or kl.size < 1 or not np.isfinite(kl).all() or (kl < 0).any():
        raise ValueError(f"Expected KL values >= 0 per dimension, shaped (D,), received shape {kl.shape} "
                         f"with values {kl[:4].tolist() if kl.ndim == 1 else '...'}.")
    if isinstance(threshold, bool) or not isinstance(threshold, (int, float)) or not threshold >= 0:
        raise ValueError(f"Expected a threshold >= 0 (nats), received {threshold!r}.")
    active = kl > threshold
    return int(active.sum()), np.flatnonzero(~active).tolist()


def knn_accuracy(codes, labels, k: int = KNN_K, seed: int = 0) -> float:
    """k-nearest-neighbour label accuracy in the code space: how well the classes separate.

    The codes are split in two at random (`seed`); each code of the second half is given the majority label
    of its k nearest (Euclidean) codes in the first half (a tie goes to the label met first, nearest first;
    equal distances are ordered at random). Codes that ignore the image score at chance (about 1 / the number
    of classes); classes in well-separated clusters score 1.

    Args:
        codes: (N, D) with N >= 2 * k.
        labels: (N,) integer class numbers.
        k: neighbours that vote. Default 5.
        seed: the split's random seed. Default 0.
    Returns:
        the share of the second half labelled correctly, in [0, 1].
    """
    z = _finite_2d("codes", codes)
    y = np.asarray(labels)
    if y.shape != (len(z),) or not np.issubdtype(y.dtype, np.integer):
        raise ValueError(f"Expected integer labels shaped ({len(z)},), received {y.dtype} shaped {y.shape}.")
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 1:
        raise ValueError(f"Expected k an integer >= 1, received {k!r}.")
    if len(z) < 2 * k:
        raise ValueError(f"Expected at least {2 * k} codes for {k}-NN on two halves, received {len(z)}.")
    order = np.random.default_rng(seed).permutation(len(z))
    ref, query = order[: len(z) // 2], order[len(z) // 2:]
    r, q = z[ref], z[query]
    d = (q ** 2).sum(1)[:, None] + (r ** 2).sum(1)[None, :] - 2.0 * q @ r.T
    nearest = y[ref][np.argsort(d, axis=1, kind="stable")[:, :k]]  # (Q, k) labels, nearest first
    classes = np.unique(y)
    hit = nearest[:, :, None] == classes[None, None, :]  # (Q, k, C)
    first = np.where(hit, np.arange(k)[None, :, None], k).min(axis=1)  # rank of each label's nearest vote
    predicted = classes[np.argmax(hit.sum(axis=1) * (k + 1) - first, axis=1)]
    return float((predicted == y[query]).mean())


def smoothness(frames) -> tuple[float, float]:
    """How evenly decoded frames change along paths: (mean step, largest step).

    A step is the mean absolute pixel change between two consecutive frames. The mean step is averaged over
    all steps of all paths; the largest is each path's largest step, averaged over the paths. A path that
    glides has its largest step near its mean; one that jumps has a largest step many times the mean.

    Args:
        frames: (S, H, W, C) one path, or (P, S, H, W, C) P paths of S >= 2 frames.
    """
    f = np.asarray(frames, dtype=np.float64)
    if f.ndim == 4:
        f = f[None]
    if f.ndim != 5 or f.shape[1] < 2 or f.shape[0] < 1:
        raise ValueError(f"Expected frames shaped (S >= 2, H, W, C) or (P, S >= 2, H, W, C), "
                         f"received shape {np.shape(frames)}.")
    if not np.isfinite(f).all():
        raise ValueError("Expected finite frames, received NaN or Inf.")
    steps = np.abs(np.diff(f, axis=1)).mean(axis=(2, 3, 4))  # (P, S - 1)
    return float(steps.mean()), float(steps.max(axis=1).mean())


def interpolation_smoothness(engine: Engine, images, pairs: int = PAIRS, steps: int = STEPS,
                             seed: int = 0) -> tuple[float, float]:
    """`smoothness` of the decoded straight paths between the codes of random pairs of `images`.

    Args:
        engine: the model's `Engine`.
        images: (N >= 2, H, W, C) held-out images.
        pairs: paths, at most N // 2 (distinct images). Default 20.
        steps: frames per path, both ends included, >= 2. Default 10.
        seed: which pairs. Default 0.
    """
    x = _images(engine, images)
    if len(x) < 2:
        raise ValueError(f"Expected at least 2 images to interpolate between, received {len(x)}.")
    if isinstance(pairs, bool) or not isinstance(pairs, (int, np.integer)) or pairs < 1:
        raise ValueError(f"Expected pairs an integer >= 1, received {pairs!r}.")
    n = min(int(pairs), len(x) // 2)
    ends = engine.encode(x[np.random.default_rng(seed).permutation(len(x))[: 2 * n]]).reshape(n, 2, -1)
    path = np.concatenate([engine.interpolate(ab, steps) for ab in ends])
    return smoothness(engine.decode(path).reshape(n, int(steps), *engine.image_shape))


def code_distribution(engine: Engine, images) -> tuple[np.ndarray, np.ndarray]:
    """A VAE's (z_mean, z_log_var) for `images`, each (N, latent)."""
    if not engine.is_vae:
        raise ValueError(f"Expected a VAE (its encoder gives a mean and a variance), received a "
                         f"'{engine.cfg.kind}' model.")
    x = _images(engine, images)
    parts = [engine.model.encode_distribution(x[i:i + _BATCH]) for i in range(0, len(x), _BATCH)]
    return tuple(np.concatenate([np.asarray(p[j]) for p in parts]) for j in (0, 1))


def sample_row(engine: Engine, codes, n: int = SAMPLES, seed: int = 0) -> np.ndarray:
    """`n` decoded random codes: from a VAE's N(0, I) prior, else from a Gaussian fitted to `codes`.

    Args:
        engine: the model's `Engine`.
        codes: (N >= 2, latent) held-out codes (a non-VAE's Gaussian is fitted to them; unused for a VAE).
    """
    return engine.sample(n, seed, codes=None if engine.is_vae else codes)[1]


# --- one model, all measures ---------------------------------------------------------------------------
@dataclasses.dataclass
class Measures:
    """Everything `measure` finds for one model; VAE-only fields are None for other kinds, `knn_accuracy`
    is None without labels."""

    images: int  # held-out images measured
    mse: float
    psnr: float
    ssim: float
    knn_accuracy: float | None
    step_mean: float
    step_max: float
    codes: np.ndarray  # (images, latent): for scatters
    samples: np.ndarray  # (SAMPLES, H, W, C): decoded random codes
    kl_per_dim: np.ndarray | None = None
    kl_per_image: float | None = None
    active: int | None = None
    collapsed: list[int] | None = None


def measure(engine: Engine, images, labels=None, pairs: int = PAIRS, steps: int = STEPS, seed: int = 0) -> Measures:
    """All the measures of one model on held-out `images` (as `evaluation_indices` picks them).

    Args:
        engine: the model's `Engine`.
        images: (N >= 2 * KNN_K, H, W, C) held-out images.
        labels: (N,) class numbers, or None (no kNN accuracy; none either for fewer than 2 * KNN_K images).
        pairs, steps: for `interpolation_smoothness`.
        seed: for the kNN split, the pairs and the samples.
    """
    x = _images(engine, images)
    codes = engine.encode(x)
    step_mean, step_max = interpolation_smoothness(engine, x, pairs, steps, seed)
    out = Measures(images=len(x), **reconstruction_scores(engine, x),
                   knn_accuracy=None if labels is None or len(x) < 2 * KNN_K
                   else knn_accuracy(codes, labels, KNN_K, seed),
                   step_mean=step_mean, step_max=step_max, codes=codes,
                   samples=sample_row(engine, codes, SAMPLES, seed))
    if engine.is_vae:
        out.kl_per_dim = kl_per_dimension(*code_distribution(engine, x))
        out.kl_per_image = float(out.kl_per_dim.sum())
        out.active, out.collapsed = active_units(out.kl_per_dim)
    return out


def evaluation_indices(n: int, max_images: int = MAX_IMAGES, seed: int = 0) -> np.ndarray:
    """The held-out images measured: all `n`, or a fixed random (seed) sorted sample of `max_images`."""
    if n <= max_images:
        return np.arange(n)
    return np.sort(np.random.default_rng(seed).permutation(n)[:max_images])


# --- which models compare, and the table --------------------------------------------------------------
def split_key(config: ModelConfig) -> tuple:
    """Models with the same key were trained on the same data with the same held-out images."""
    return config.dataset, config.dataset_fingerprint, config.limit, config.val_fraction


def split_label(config: ModelConfig) -> str:
    """e.g. 'mnist · first 10,000 images · 20% held out'."""
    part = "all images" if config.limit is None else f"first {config.limit:,} images"
    return f"{config.dataset} · {part} · {config.val_fraction:.0%} held out"


def comparable_groups(entries: Sequence[Entry]) -> dict[tuple, list[Entry]]:
    """The entries grouped by `split_key` (in the order given), only groups of `MIN_MODELS` or more."""
    groups: dict[tuple, list[Entry]] = {}
    for e in entries:
        groups.setdefault(split_key(e.config), []).append(e)
    return {k: v for k, v in groups.items() if len(v) >= MIN_MODELS}


def table_row(entry: Entry, m: Measures) -> dict:
    """One model's row: its key, description and latent size, then the measures' numbers."""
    return {"key": entry.key, "model": entry.config.describe().rsplit(",", 1)[0], "latent_dim": entry.config.latent_dim,
            "images": m.images, "mse": m.mse, "psnr": m.psnr, "ssim": m.ssim, "kl_per_image": m.kl_per_image,
            "active_units": m.active, "collapsed": m.collapsed, "knn_accuracy": m.knn_accuracy,
            "step_mean": m.step_mean, "step_max": m.step_max}


def _dims(row: dict) -> str:
    if row["active_units"] is None:
        return "–"
    return f"{row['active_units']} of {row['latent_dim']}"


COLUMNS: tuple[tuple[str, Callable[[dict], str]], ...] = (  # header, text of a row's value
    ("key", lambda r: r["key"]),
    ("model", lambda r: r["model"]),
    ("MSE", lambda r: f"{r['mse']:.4f}"),
    ("PSNR dB", lambda r: f"{r['psnr']:.2f}"),
    ("SSIM", lambda r: f"{r['ssim']:.3f}"),
    ("KL/image nats", lambda r: "–" if r["kl_per_image"] is None else f"{r['kl_per_image']:.2f}"),
    ("active dims", _dims),
    ("collapsed dims", lambda r: "–" if r["collapsed"] is None else ", ".join(map(str, r["collapsed"])) or "none"),
    (f"{KNN_K}-NN accuracy", lambda r: "–" if r["knn_accuracy"] is None else f"{r['knn_accuracy']:.1%}"),
    ("mean step", lambda r: f"{r['step_mean']:.4f}"),
    ("largest step", lambda r: f"{r['step_max']:.4f}"),
)


def display_row(row: dict) -> dict[str, str]:
    """A row as text under the table's headers (`COLUMNS`): what the page's table and `format_table` show."""
    return {header: text(row) for header, text in COLUMNS}


def format_table(rows: Sequence[dict]) -> str:
    """The rows (`table_row`) as a plain-text table, one line per model under a header line."""
    if not rows:
        raise ValueError("Expected at least one row to format, received none.")
    cells = [list(display_row(r).values()) for r in rows]
    widths = [max(len(h), *(len(c[i]) for c in cells)) for i, (h, _) in enumerate(COLUMNS)]
    lines = [[h for h, _ in COLUMNS]] + cells
    return "\n".join("  ".join(c.ljust(w) for c, w in zip(line, widths)).rstrip() for line in lines)


def _check_keys(keys) -> list[str]:
    keys = list(keys) if isinstance(keys, (list, tuple)) else keys
    if not isinstance(keys, list) or not all(isinstance(k, str) for k in keys) \
            or not MIN_MODELS <= len(set(keys)) == len(keys) <= MAX_MODELS:
        raise ValueError(f"Expected {MIN_MODELS} to {MAX_MODELS} different cache keys, received {keys!r}.")
    return keys


def held_out_images(config: ModelConfig, data_dir=None) -> Dataset:
    """The held-out split a model of a built-in dataset was measured on in training (same limit and split)."""
    if config.dataset not in BUILTIN_DATASETS:
        raise ValueError(f"Expected a model of a built-in dataset ({', '.join(BUILTIN_DATASETS)}) to reload its "
                         f"held-out images, received one of {config.dataset!r}.")
    return prepare_data(config, load_dataset(config.dataset, data_dir=data_dir))[1]


def compare_table(cache: ModelCache, keys: Sequence[str], val: Dataset | None = None, data_dir=None,
                  max_images: int = MAX_IMAGES, pairs: int = PAIRS, steps: int = STEPS, seed: int = 0) -> list[dict]:
    """Measure 2 to 4 cached models of the same data and split on the same held-out images; one row each.

    Args:
        cache: where the models are.
        keys: their cache keys.
        val: their held-out images (default: reloaded from the built-in dataset, see `held_out_images`).
        data_dir: where the built-in dataset's files are (default $AECORE_DATA_DIR).
        max_images, pairs, steps, seed: see `evaluation_indices` and `measure`.
    Returns:
        `table_row` dicts, in the order of `keys`.
    """
    keys = _check_keys(keys)
    for k in keys:
        cache.path(k)  # every key's form, before loading any
    entries = [cache.load(k) for k in keys]
    splits = {split_key(e.config) for e in entries}
    if len(splits) > 1:
        raise ValueError("Expected models trained on the same data and split, received "
                         + "; ".join(f"{e.key}: {split_label(e.config)}" for e in entries) + ".")
    val = held_out_images(entries[0].config, data_dir) if val is None else val
    idx = evaluation_indices(len(val), max_images, seed)
    labels = None if val.labels is None else val.labels[idx]
    return [table_row(e, measure(Engine(e.model), val.images[idx], labels, pairs, steps, seed)) for e in entries]


def run_compare(keys: Sequence[str], models_dir=None, data_dir=None) -> str:
    """`python -m aecore compare KEY KEY ...`: the table, under a line saying what it was measured on.

    Args:
        keys: 2 to 4 cache keys of models of the same built-in dataset and split.
        models_dir: the cache folder (default `$AECORE_MODELS_DIR` or ./models).
        data_dir: the dataset files' folder (default `$AECORE_DATA_DIR`).
    """
    cache = ModelCache(models_dir)
    rows = compare_table(cache, keys, data_dir=data_dir)
    first = cache.info(rows[0]["key"]).config
    return (f"{rows[0]['images']:,} held-out images of {split_label(first)}; {KNN_K}-NN on halves; steps along "
            f"{PAIRS} interpolations of {STEPS} frames; a VAE dimension is active above {ACTIVE_NATS} nats.\n"
            + format_table(rows))
