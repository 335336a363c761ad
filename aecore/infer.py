"""Fast inference for the interactive pages: `Engine` wraps a trained model.

Verbs (pythae-style): `encode`, `decode`, `reconstruct`, `denoise`, `sample`,
`grid`, `interpolate`, `morph`, plus `project` (PCA, t-SNE, ... to 2-D),
`errors` (per-image reconstruction error) and `nearest`.

`model.predict` costs tens of milliseconds per call even for one image, so
every call here goes through `tf.function`s traced once, with a fixed input
signature, when the engine is made: a one-image decode is then a direct call
of a compiled graph (well under a few milliseconds on a 2-core CPU).
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf

from .models import VAE, Autoencoder

INTERPOLATIONS = ("linear", "spherical")
PROJECTIONS = ("pca", "tsne", "umap")
NONLINEAR = ("tsne", "umap")  # the projections with no inverse (a map position is no code)


class Engine:
    """Compiled encode/decode around a trained `Autoencoder` or `VAE`.

    Args:
        model: the trained model (e.g. `ModelCache().load(key).model`).
        batch_size: images per compiled call for large inputs. Default 512.
    """

    def __init__(self, model: Autoencoder, batch_size: int = 512):
        if not isinstance(model, Autoencoder):
            raise ValueError(f"Expected an aecore Autoencoder or VAE, received {type(model).__name__}.")
        self.model, self.cfg, self.batch_size = model, model.cfg, int(batch_size)
        self.image_shape = tuple(model.image_shape)
        self.latent_dim = self.cfg.latent_dim
        self.is_vae = isinstance(model, VAE)
        self._encode = tf.function(lambda x: model.encode(x), reduce_retracing=True,
                                   input_signature=[tf.TensorSpec((None, *self.image_shape), tf.float32)])
        self._decode = tf.function(lambda z: model.decoder(z), reduce_retracing=True,
                                   input_signature=[tf.TensorSpec((None, self.latent_dim), tf.float32)])
        self._decode(tf.zeros((1, self.latent_dim)))  # trace now, not on the first slider move
        self._encode(tf.zeros((1, *self.image_shape)))
        self._prior: tuple[np.ndarray, np.ndarray] | None = None

    # --- shape checks ------------------------------------------------------
    def _images(self, images) -> np.ndarray:
        x = np.asarray(images, dtype=np.float32)
        if x.shape == self.image_shape:
            x = x[None]
        if x.ndim != 4 or x.shape[1:] != self.image_shape:
            raise ValueError(f"Expected images shaped (N, {', '.join(map(str, self.image_shape))}), "
                             f"received shape {x.shape}.")
        return x

    def _codes(self, z) -> np.ndarray:
        z = np.asarray(z, dtype=np.float32)
        if z.ndim == 1:
            z = z[None]
        if z.ndim != 2 or z.shape[1] != self.latent_dim:
            raise ValueError(f"Expected codes shaped (N, {self.latent_dim}), received shape {z.shape}.")
        if not np.isfinite(z).all():
            raise ValueError("Expected finite code values, received NaN or Inf.")
        return z

    def _batched(self, fn, x: np.ndarray) -> np.ndarray:
        if len(x) <= self.batch_size:
            return fn(x).numpy()
        return np.concatenate([fn(x[i:i + self.batch_size]).numpy() for i in range(0, len(x), self.batch_size)])

    # --- verbs ---------------------------------------------------------------
    def encode(self, images) -> np.ndarray:
        """Images (N, H, W, C) or one (H, W, C) -> codes (N, latent). VAE: the mean."""
        return self._batched(self._encode, self._images(images))

    def decode(self, z) -> np.ndarray:
        """Codes (N, latent) or one (latent,) -> images (N, H, W, C) in [0, 1]."""
        return self._batched(self._decode, self._codes(z))

    def decode_one(self, z) -> np.ndarray:
        """One code (latent,) -> one image (H, W, C): the slider's hot path."""
        return self._decode(self._codes(z)).numpy()[0]

    def reconstruct(self, images) -> np.ndarray:
        """decode(encode(images)); deterministic for a VAE (decodes the mean)."""
        return self.decode(self.encode(images))

    def denoise(self, noisy_images) -> np.ndarray:
        """Reconstruct noisy images: what a denoising AE was trained for."""
        return self.reconstruct(noisy_images)

    def errors(self, images) -> np.ndarray:
        """Per-image mean squared reconstruction error (N,): an anomaly score."""
        x = self._images(images)
        return ((self.reconstruct(x) - x) ** 2).reshape(len(x), -1).mean(axis=1)

    def fit_prior(self, codes) -> None:
        """Fit the Gaussian `sample` draws from for a non-VAE model (mean, covariance of codes)."""
        z = self._codes(codes)
        if len(z) < 2:
            raise ValueError(f"Expected at least 2 codes to fit a Gaussian, received {len(z)}.")
        self._prior = (z.mean(axis=0), np.cov(z, rowvar=False).reshape(self.latent_dim, self.latent_dim))

    def sample(self, n: int = 1, seed: int | None = None, codes=None) -> tuple[np.ndarray, np.ndarray]:
        """Draw `n` codes and decode them.

        Args:
            n: how many. Default 1.
            seed: random seed (None: fresh randomness).
            codes: for a non-VAE model, codes to fit the Gaussian to (else the
                last `fit_prior`); a VAE samples its N(0, I) prior.
        Returns:
            (codes (n, latent), images (n, H, W, C)).
        """
        if not (isinstance(n, (int, np.integer)) and n >= 1):
            raise ValueError(f"Expected n an integer >= 1, received {n!r}.")
        rng = np.random.default_rng(seed)
        if self.is_vae:
            z = rng.standard_normal((n, self.latent_dim))
        else:
            if codes is not None:
                self.fit_prior(codes)
            if self._prior is None:
                raise ValueError("Expected codes to fit a Gaussian to (a non-VAE model has no prior), received none.")
            z = rng.multivariate_normal(*self._prior, size=n, method="eigh")
        z = z.astype(np.float32)
        return z, self.decode(z)

    def grid(self, dims=(0, 1), lim=(-5.0, 5.0), n: int = 10, base=None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Decode an n x n grid over two code dimensions (the latent manifold).

        Args:
            dims: the two dimensions varied (x, y). Default (0, 1).
            lim: (low, high) range for both. Default (-5, 5): beyond +-3, where
                nearly all of a VAE's codes lie under its unit-Gaussian prior, so
                the grid also shows the edge of what the decoder learned.
            n: points per side, 2..30. Default 10.
            base: values of the other dimensions (default zeros).
        Returns:
            (images (n*n, H, W, C) row-major with y decreasing downwards,
             x values (n,), y values (n,)).
        """
        dx, dy = (int(d) for d in dims)
        if dx == dy or not (0 <= dx < self.latent_dim and 0 <= dy < self.latent_dim):
            raise ValueError(f"Expected two different dimensions in 0..{self.latent_dim - 1}, received {tuple(dims)}.")
        lo, hi = float(lim[0]), float(lim[1])
        if not lo < hi:
            raise ValueError(f"Expected a range low < high, received ({lo}, {hi}).")
        if not 2 <= int(n) <= 30:
            raise ValueError(f"Expected n in 2..30, received {n}.")
        base = np.zeros(self.latent_dim, np.float32) if base is None else self._codes(base)[0]
        xs, ys = np.linspace(lo, hi, int(n)), np.linspace(lo, hi, int(n))[::-1]
        z = np.repeat(base[None], int(n) ** 2, axis=0)
        z[:, dx] = np.tile(xs, int(n))
        z[:, dy] = np.repeat(ys, int(n))
        return self.decode(z), xs, ys

    def interpolate(self, codes, steps: int = 10, method: str = "linear") -> np.ndarray:
        """Codes along a path through two or more codes.

        Args:
            codes: (K >= 2, latent) waypoints.
            steps: codes per segment, including both ends (>= 2). Default 10.
            method: `linear`, or `spherical` (slerp; keeps the norm, which
                suits a Gaussian prior). Default `linear`.
        Returns:
            ((K - 1) * (steps - 1) + 1, latent) codes, waypoints included once.
        """
        z = self._codes(codes)
        if len(z) < 2:
            raise ValueError(f"Expected at least 2 codes to interpolate, received {len(z)}.")
        if not (isinstance(steps, (int, np.integer)) and steps >= 2):
            raise ValueError(f"Expected steps an integer >= 2, received {steps!r}.")
        if method not in INTERPOLATIONS:
            raise ValueError(f"Expected method in {INTERPOLATIONS}, received {method!r}.")
        t = np.linspace(0.0, 1.0, int(steps))[:, None]
        path = [z[:1]]
        for a, b in zip(z[:-1], z[1:]):
            seg = _slerp(a, b, t) if method == "spherical" else (1 - t) * a + t * b
            path.append(seg[1:])
        return np.concatenate(path).astype(np.float32)

    def morph(self, images, steps: int = 30, method: str = "linear") -> np.ndarray:
        """Decoded frames morphing through two or more images (encode, interpolate, decode)."""
        return self.decode(self.interpolate(self.encode(images), steps, method))

    def nearest(self, codes, index: int, k: int = 5) -> np.ndarray:
        """Indices of the k codes closest (Euclidean) to codes[index], itself excluded."""
        z = self._codes(codes)
        if not 0 <= int(index) < len(z):
            raise ValueError(f"Expected an index in 0..{len(z) - 1}, received {index}.")
        d = ((z - z[int(index)]) ** 2).sum(axis=1)
        d[int(index)] = np.inf
        return np.argsort(d)[: max(0, min(int(k), len(z) - 1))]


def _slerp(a: np.ndarray, b: np.ndarray, t: np.ndarray) -> np.ndarray:
    na, nb = np.linalg.norm(a), np.linalg.norm(b)
    if na < 1e-8 or nb < 1e-8:
        return (1 - t) * a + t * b
    omega = np.arccos(np.clip(np.dot(a / na, b / nb), -1.0, 1.0))
    if omega < 1e-4 or np.pi - omega < 1e-4:  # (anti)parallel: the great circle is undefined
        return (1 - t) * a + t * b
    return (np.sin((1 - t) * omega) * a + np.sin(t * omega) * b) / np.sin(omega)


def pca(codes, n_components: int = 2) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Principal directions of a set of codes.

    Args:
        codes: (N, D) array.
        n_components: how many directions (<= min(N, D)). Default 2.
    Returns:
        (mean (D,), components (k, D) orthonormal rows, std of the codes
         along each component (k,)).
    """
    z = np.asarray(codes, dtype=np.float64)
    if z.ndim != 2 or len(z) < 2:
        raise ValueError(f"Expected codes shaped (N >= 2, D), received shape {z.shape}.")
    k = int(n_components)
    if not 1 <= k <= min(z.shape):
        raise ValueError(f"Expected n_components in 1..{min(z.shape)}, received {n_components}.")
    mean = z.mean(axis=0)
    _, s, vt = np.linalg.svd(z - mean, full_matrices=False)
    return mean, vt[:k], s[:k] / np.sqrt(len(z) - 1)


def project(codes, method: str = "pca", seed: int = 0) -> np.ndarray:
    """Codes (N, D) -> 2-D points (N, 2) for a scatter plot.

    Args:
        codes: (N, D); D == 2 is returned as is.
        method: `pca` (fast, linear), `tsne` (scikit-learn's Barnes-Hut t-SNE;
            slower, keeps neighbourhoods) or `umap` (umap-learn, an optional
            package: ImportError when missing; faster than t-SNE once its
            kernels are compiled, about 15 s on its first use in a process;
            bench/bench_projections.py). Default `pca`.
        seed: the random state of the non-linear methods. Default 0.
    """
    z = np.asarray(codes, dtype=np.float32)
    if method not in PROJECTIONS:
        raise ValueError(f"Expected one of {', '.join(PROJECTIONS)}, received {method!r}.")
    if z.ndim != 2 or len(z) < 2:
        raise ValueError(f"Expected codes shaped (N >= 2, D), received shape {z.shape}.")
    if z.shape[1] == 1:
        return np.concatenate([z, np.zeros_like(z)], axis=1)
    if z.shape[1] == 2:
        return z
    if method == "pca":
        mean, comps, _ = pca(z, 2)
        return ((z - mean) @ comps.T).astype(np.float32)
    if method == "umap":
        return _umap(z, seed)
    from sklearn.manifold import TSNE

    perplexity = float(min(30, max(2, (len(z) - 1) // 3)))
    return TSNE(2, perplexity=perplexity, init="pca", random_state=seed).fit_transform(z).astype(np.float32)


def _umap(z: np.ndarray, seed: int) -> np.ndarray:
    """UMAP of codes (N >= 2, D > 2): 15 neighbours (fewer for few points), 200 epochs (umap-learn's choice for
    large data; its 500 for fewer than 10,000 points took 30% longer on 2,000 codes, 5.4 s against 4.1 s, for 0.57
    against 0.56 of each point's 10 nearest neighbours kept: bench/bench_projections.py), a fixed random state
    (single-threaded and repeatable)."""
    import warnings

    from umap import UMAP

    if len(z) < 4:  # too few points for UMAP's spectral layout (scipy's eigh refuses k >= N): PCA's plane instead
        mean, comps, _ = pca(z, 2)
        return ((z - mean) @ comps.T).astype(np.float32)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "n_jobs overridden to 1 by setting random_state": meant
        return UMAP(n_components=2, n_neighbors=min(15, len(z) - 1), n_epochs=200, random_state=seed) \
            .fit_transform(z).astype(np.float32)
