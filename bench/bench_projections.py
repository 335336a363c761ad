"""2-D projections of 2,000 held-out codes: PCA, scikit-learn's t-SNE, openTSNE and UMAP.

    python bench/bench_projections.py [--points 2000] [--runs 3]

The codes: a small conv AE (latent 16) is trained for 2 epochs by `aecore.train.train` on 2,000 digits of the
training part of `common.mnist()`'s split, then encodes the 2,000 held-out digits (the app's held-out set).
Each method maps the same codes: the app's `aecore.infer.project` for what it offers (pca, tsne-sklearn,
umap: 15 neighbours, 200 epochs, seed 0), and with the same settings openTSNE's t-SNE (perplexity 30, PCA
initialisation, seed 0, one thread like scikit-learn's Barnes-Hut gradient) and UMAP with umap-learn's own
epoch count (500 below 10,000 points). A fixed random state makes UMAP single-threaded, as the t-SNEs are.
openTSNE is not offered by the app: it was neither faster nor better than scikit-learn's t-SNE here.

Per method one line:

    tsne-sklearn  time median 8.30 s (runs 8.1 8.3 8.6)  10-NN kept 0.62

time: the median wall time of `--runs` runs of the projection alone (in this one process, after one untimed
warm-up); 10-NN kept: for each point, the share of its 10 nearest neighbours in code space (Euclidean) that are
among its 10 nearest on the 2-D map, averaged over the points (1.0: every neighbourhood kept).

What a Streamlit user pays on first use is printed separately (`first-call` lines): the import of the package
and the first fit in a fresh process, which for UMAP includes numba's compilation of its kernels (numba caches
what it can on disk, so a later process pays less; run once with a cleared __pycache__ for the worst case).
"""

# common puts the repository on sys.path and sets the environment: it comes first
from common import mnist

# isort: split
import argparse
import importlib
import sys
import time

import numpy as np

from aecore.config import ModelConfig
from aecore.infer import Engine, project
from aecore.train import train

BENCH_AE = ModelConfig(kind="ae", arch="conv", latent_dim=16, epochs=2, patience=0, batch_size=64,
                       learning_rate=2e-3, filters=(16, 32), hidden_units=(128,))


def opentsne(z: np.ndarray) -> np.ndarray:
    """openTSNE's t-SNE with `project`'s t-SNE settings."""
    from openTSNE import TSNE

    return np.asarray(TSNE(2, perplexity=30, initialization="pca", random_state=0, n_jobs=1).fit(z.astype(float)))


def umap_500(z: np.ndarray) -> np.ndarray:
    """UMAP as `project` runs it, but with umap-learn's default epoch count (500 below 10,000 points)."""
    import warnings

    from umap import UMAP

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the n_jobs that a random state overrides
        return UMAP(n_components=2, random_state=0).fit_transform(z)


METHODS = {"pca": lambda z: project(z, "pca"), "tsne-sklearn": lambda z: project(z, "tsne"), "opentsne": opentsne,
           "umap": lambda z: project(z, "umap"), "umap-500ep": umap_500}
FIRST_CALLS = {"umap": ("umap", METHODS["umap"]), "opentsne": ("openTSNE", opentsne)}


def codes_of_held_out(n: int) -> np.ndarray:
    """`n` held-out codes (n <= 2,000) of a conv AE trained 2 epochs on 2,000 training digits."""
    _, train_ds, val_ds = mnist()
    res = train(BENCH_AE, train_ds.subset(np.arange(2000)))
    return Engine(res.model).encode(val_ds.images[:n])


def knn(x: np.ndarray, k: int) -> np.ndarray:
    """Each row's k nearest other rows (Euclidean): (N, k) indices."""
    from sklearn.neighbors import NearestNeighbors

    return NearestNeighbors(n_neighbors=k + 1).fit(x).kneighbors(x, return_distance=False)[:, 1:]


def kept(codes: np.ndarray, xy: np.ndarray, k: int = 10) -> float:
    """The mean share of each point's k nearest neighbours in code space that are among its k nearest on the map."""
    a, b = knn(codes.astype(np.float64), k), knn(xy.astype(np.float64), k)
    return float(np.mean([len(set(p) & set(q)) / k for p, q in zip(a, b)]))


def first_call(name: str, module: str, method, codes: np.ndarray) -> None:
    """The import of `module` and the first projection by `method`, timed (the first in this process)."""
    if module in sys.modules:
        print(f"{name:<13} first-call  (already imported: not measured)", flush=True)
        return
    t0 = time.perf_counter()
    importlib.import_module(module)
    t1 = time.perf_counter()
    method(codes)
    t2 = time.perf_counter()
    print(f"{name:<13} first-call  import {t1 - t0:.2f} s + first fit {t2 - t1:.2f} s", flush=True)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--points", type=int, default=2000, help="held-out codes projected (default 2000, at most 2000)")
    p.add_argument("--runs", type=int, default=3, help="timed runs per method (default 3)")
    args = p.parse_args()
    codes = codes_of_held_out(min(args.points, 2000))
    print(f"codes {codes.shape[0]} x {codes.shape[1]} (conv AE, latent {BENCH_AE.latent_dim}, "
          f"{BENCH_AE.epochs} epochs on 2,000 digits)", flush=True)
    for name, (module, method) in FIRST_CALLS.items():  # UMAP first: before anything else imports numba
        first_call(name, module, method, codes)
    for name, method in METHODS.items():
        method(codes)  # warm-up (caches, lazy imports), not timed
        times, xy = [], None
        for _ in range(args.runs):
            t0 = time.perf_counter()
            xy = method(codes)
            times.append(time.perf_counter() - t0)
        assert xy.shape == (len(codes), 2) and np.isfinite(xy).all()
        print(f"{name:<13} time median {np.median(times):.2f} s (runs {' '.join(f'{t:.2f}' for t in times)})  "
              f"10-NN kept {kept(codes, xy):.2f}", flush=True)


if __name__ == "__main__":
    main()
