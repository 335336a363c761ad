"""Inside a VAE: one image's posterior N(mean, diag(sigma²)) on the Latent Scatter's map, beside the prior N(0, I).

A VAE's encoder gives each image a Gaussian over codes (a mean and a log-variance per code number), not one
code; its KL term pulls every such Gaussian towards the prior N(0, I). This module gives the pieces of that
picture, in the same map coordinates as `aecore.axes.map_position` (the code itself for one or two numbers,
else the plane of the codes' first two principal directions):

- `posterior`: the encoder's mean and sigma of some images (`aecore.compare.code_distribution`);
- `ellipse_on_map`: the k-sigma contour of a diagonal Gaussian on the map (for long codes the covariance
  projected onto the PCA plane, P Σ Pᵀ);
- `prior_circles`: the prior's k-sigma contours on the same map (circles: the PCA plane's directions are
  orthonormal, so N(0, I) projects to N(projected origin, I));
- `samples`: codes drawn from a posterior, to decode;
- `kl_to_prior`: KL(N(mean, sigma²) || N(0, I)) in nats, the VAE's `kl` loss term for one image
  (`aecore.compare.kl_per_dimension`, summed).

Example:

    mean, sigma = posterior(eng, images[7:8])
    ring = ellipse_on_map(mean[0], sigma[0], held_out_codes)        # (64, 2), a closed curve
    pictures = eng.decode(samples(mean[0], sigma[0], n=6))
"""

from __future__ import annotations

import numpy as np

from .axes import map_position
from .compare import code_distribution, kl_per_dimension
from .infer import pca


def posterior(eng, images) -> tuple[np.ndarray, np.ndarray]:
    """A VAE's posterior of each image: the encoder's mean and standard deviation (exp(log_var / 2)), from
    `aecore.compare.code_distribution` (the encoder's direct calls, no `predict`).

    Args:
        eng: an `aecore.infer.Engine` around a VAE.
        images: (N, H, W, C) or one (H, W, C) image, in the model's input shape.

    Returns:
        (mean (N, D), sigma (N, D)) as float32; the mean is `eng.encode(images)`.
    """
    x = np.asarray(images, dtype=np.float32)
    z_mean, z_log_var = code_distribution(eng, x[None] if x.shape == tuple(eng.image_shape) else x)
    return z_mean.astype(np.float32), np.exp(0.5 * z_log_var.astype(np.float64)).astype(np.float32)


def _diagonal(mean, sigma) -> tuple[np.ndarray, np.ndarray]:
    m, s = np.asarray(mean, np.float64), np.asarray(sigma, np.float64)
    if m.ndim != 1 or not m.size or s.shape != m.shape:
        raise ValueError(f"Expected a mean and a sigma shaped (D,), received shapes {m.shape} and {s.shape}.")
    if not (np.isfinite(m).all() and np.isfinite(s).all()) or (s < 0).any():
        raise ValueError("Expected a finite mean and a finite sigma >= 0, received NaN, Inf or a negative sigma.")
    return m, s


def _plane(codes, D: int) -> np.ndarray:
    """The map's two directions in code space, (2, D): the unit vectors for D <= 2 (D == 1: x only), else the
    codes' first two principal directions (as `map_position` uses them)."""
    if D <= 2:
        return np.eye(2, D)
    return pca(codes, 2)[1]


def ellipse_on_map(mean, sigma, codes, k: float = 1.0, points: int = 64) -> np.ndarray:
    """The k-sigma contour of N(mean, diag(sigma²)) on the map of `codes`, as a closed curve.

    For D <= 2 the map is the code, so the contour is the axis-aligned ellipse with half-widths k·sigma (D == 1:
    the segment mean ± k·sigma on y = 0, drawn there and back). For D > 2 the covariance is projected onto the
    codes' PCA plane (P Σ Pᵀ, P the plane's two directions) and the contour of that 2-D Gaussian is drawn around
    `map_position(mean, codes)`.

    Args:
        mean: the posterior mean, (D,).
        sigma: the posterior standard deviations, (D,), >= 0.
        codes: the codes the map is made of, (M, D) (only their PCA plane is used, for D > 2; M >= 2).
        k: how many standard deviations. Default 1.
        points: how many points on the curve, >= 4; the last repeats the first. Default 64.

    Returns:
        (points, 2) map positions.
    """
    m, s = _diagonal(mean, sigma)
    if not (np.isfinite(k) and k > 0) or int(points) < 4:
        raise ValueError(f"Expected k > 0 and at least 4 points, received k={k}, points={points}.")
    if m.size > 2 and np.shape(codes)[-1] != m.size:
        raise ValueError(f"Expected codes shaped (M, {m.size}), received shape {np.shape(codes)}.")
    P = _plane(codes, m.size)
    cov = (P * s ** 2) @ P.T  # P Σ Pᵀ, (2, 2)
    values, vectors = np.linalg.eigh(cov)
    t = np.linspace(0.0, 2 * np.pi, int(points))
    circle = np.stack([np.cos(t), np.sin(t)])  # (2, points)
    centre = map_position(m, codes)[0].astype(np.float64)
    return centre + (float(k) * vectors @ (np.sqrt(np.clip(values, 0, None))[:, None] * circle)).T


def prior_circles(codes, ks=(1, 2), points: int = 64) -> list[np.ndarray]:
    """The prior N(0, I)'s k-sigma contours on the map of `codes`: circles of radius k around the map position of
    the zero code (the origin for D <= 2; D == 1: the segment ± k on y = 0).

    Args:
        codes: the codes the map is made of, (M, D).
        ks: the contours, in standard deviations. Default (1, 2).
        points: points per contour (see `ellipse_on_map`). Default 64.

    Returns:
        one (points, 2) array per k, in the order of `ks`.
    """
    D = int(np.shape(codes)[-1])
    return [ellipse_on_map(np.zeros(D), np.ones(D), codes, k, points) for k in ks]


def samples(mean, sigma, n: int = 6, seed: int = 0) -> np.ndarray:
    """Codes drawn from the posterior N(mean, diag(sigma²)).

    Args:
        mean: (D,). sigma: (D,), >= 0.
        n: how many codes, >= 1. Default 6.
        seed: the random generator's seed (the same draws for the same seed). Default 0.

    Returns:
        (n, D) float32 codes.
    """
    m, s = _diagonal(mean, sigma)
    if int(n) < 1:
        raise ValueError(f"Expected at least 1 sample, received n={n}.")
    return (m + s * np.random.default_rng(seed).standard_normal((int(n), m.size))).astype(np.float32)


def kl_to_prior(mean, sigma) -> float:
    """KL(N(mean, diag(sigma²)) || N(0, I)) = 0.5·Σ(sigma² + mean² − 1 − log sigma²), in nats: the VAE's KL term
    for one image.

    Args:
        mean: (D,). sigma: (D,), > 0.
    """
    m, s = _diagonal(mean, sigma)
    if (s <= 0).any():
        raise ValueError("Expected sigma > 0 (the KL of a zero-width posterior is infinite), received a zero.")
    return float(kl_per_dimension(m[None], np.log(s ** 2)[None]).sum())
