"""Coordinates in the code space: what the Latent Slider's sliders move along, and where codes land on a map.

A slider page needs, for each slider, a name, a label, a range and a step, and
two conversions: slider values -> a code to decode (`to_code`) and a code ->
the slider values closest to it (`from_code`, to start from an image or a
random sample). Two kinds of axes share that interface:

- `RawAxes`: one slider per code number (the first `max_sliders` of them), the
  other numbers held at the codes' mean; ranges are mean ± 3 std of the codes.
- `PrincipalAxes`: one slider per principal direction of the codes, in units of
  the codes' spread along it, starting from their mean (for long codes, where
  one slider per number would be too many and mostly move nothing visible).

`slider_axes` picks one; `map_position` places codes on the 2-D map of a set
of codes (as they are for one or two numbers, else their first two principal
coordinates, like `aecore.infer.project(codes, "pca")`).

Example:

    axes = slider_axes(eng.latent_dim, held_out_codes, cover_prior=eng.is_vae)
    z = axes.to_code(axes.default)          # the codes' mean
    values = axes.from_code(eng.encode(image[None])[0])
"""

from __future__ import annotations

import math

import numpy as np

from .infer import pca

MAX_SLIDERS = 16  # above this many code numbers the sliders follow principal directions
SPAN_STD = 3.0  # sliders cover ± this many standard deviations of the codes
PRIOR_SPAN = 3.0  # a VAE's N(0, 1) prior puts nearly all its codes within ± this
PRINCIPAL_STEP = 0.05  # the step of a principal-direction slider, in units of the spread


def nice_step(span: float) -> float:
    """A round slider step (1, 2 or 5 times a power of ten) giving roughly 300 positions over `span`.

    Args:
        span: the width of the slider's range; at least 1e-6 is used.

    Returns:
        The smallest of 1, 2, 5, 10 × 10^k that is at least `span / 300`.
    """
    raw = max(span, 1e-6) / 300
    base = 10 ** math.floor(math.log10(raw))
    return next(m * base for m in (1, 2, 5, 10) if m * base >= raw)


class _Axes:
    """The interface both kinds share: `names` (for widget keys), `labels`, `lo`, `hi`, `step`, `default`
    (one entry per slider), `to_code(values)` and `from_code(z)`."""

    names: list[str]
    labels: list[str]
    lo: np.ndarray
    hi: np.ndarray
    step: float
    default: np.ndarray

    def coordinates(self, z) -> np.ndarray:
        """The exact slider values of code(s) z, before rounding to the step and clipping to the ranges."""
        raise NotImplementedError

    def to_code(self, values) -> np.ndarray:
        """Slider values (one per slider) -> the code (latent_dim,) float32 they stand for."""
        raise NotImplementedError

    def from_code(self, z) -> np.ndarray:
        """The slider values closest to code z: rounded to `step` and clipped to [`lo`, `hi`]."""
        return self.snap(self.coordinates(z))

    def snap(self, values) -> np.ndarray:
        """Slider values as the sliders can take them: rounded to `step` and clipped to [`lo`, `hi`]."""
        return np.clip(np.round(np.asarray(values, np.float64) / self.step) * self.step, self.lo, self.hi)


class RawAxes(_Axes):
    """One slider per code number: z0, z1, ... (the first `max_sliders`; the rest stay at the codes' mean).

    Args:
        dim: the code's length (the model's latent size).
        codes: (N, dim) codes that set the ranges (mean ± 3 std, at least ± 0.15 wide per number) and the
            starting point (their mean); None or fewer than 2: ranges ± 3 around 0.
        cover_prior: widen every range to at least ± 3 (a VAE's random samples come from N(0, 1)).
        max_sliders: the most sliders. Default 16.
    """

    def __init__(self, dim: int, codes=None, cover_prior: bool = False, max_sliders: int = MAX_SLIDERS):
        self.dims = list(range(min(dim, max_sliders)))
        self.base = np.zeros(dim, np.float32)
        if codes is not None and len(codes) >= 2:
            mean = np.asarray(codes).mean(axis=0).astype(np.float64)
            std = np.maximum(np.asarray(codes).std(axis=0).astype(np.float64), 0.05)  # a dead number stays usable
            lo, hi = mean - SPAN_STD * std, mean + SPAN_STD * std
            if cover_prior:
                lo, hi = np.minimum(lo, -PRIOR_SPAN), np.maximum(hi, PRIOR_SPAN)
            self.base = mean.astype(np.float32)
        else:
            mean, lo, hi = np.zeros(dim), np.full(dim, -PRIOR_SPAN), np.full(dim, PRIOR_SPAN)
        self.step = nice_step(float(np.max(hi - lo)))
        self.lo = np.floor(lo[self.dims] * 10) / 10
        self.hi = np.ceil(hi[self.dims] * 10) / 10
        self.default = self.snap(mean[self.dims])
        self.names = [f"z{i}" for i in self.dims]
        self.labels = list(self.names)

    def coordinates(self, z) -> np.ndarray:
        return np.asarray(z, np.float64)[..., self.dims]

    def to_code(self, values) -> np.ndarray:
        z = self.base.copy()
        z[self.dims] = np.asarray(values, np.float64)
        return z


class PrincipalAxes(_Axes):
    """One slider per principal direction of the codes (pc0, pc1, ...), in units of the codes' spread.

    A value v moves the code from the codes' mean by v standard deviations
    along each direction; directions beyond the first `n` stay at the mean.

    Args:
        codes: (N, D) codes, N >= 2.
        n: the most sliders (fewer when N or D is smaller). Default 16.
        span: each slider runs over ± span. Default 3.
    """

    def __init__(self, codes, n: int = MAX_SLIDERS, span: float = SPAN_STD):
        codes = np.asarray(codes)
        k = min(n, len(codes), codes.shape[-1])
        self.mean, self.directions, spread = pca(codes, k)
        self.spread = np.maximum(spread, 1e-6)
        total = float(np.var(codes.astype(np.float64), axis=0, ddof=1).sum())
        # the share of the codes' variance each direction explains (what makes PC 1 worth a slider)
        self.explained = spread ** 2 / total if total > 0 else np.zeros(k)
        self.names = [f"pc{i}" for i in range(k)]
        self.labels = [f"PC {i + 1} · {100 * e:.0f}% of variance (σ = {s:.2f})"
                       for i, (e, s) in enumerate(zip(self.explained, self.spread))]
        self.lo, self.hi = np.full(k, -float(span)), np.full(k, float(span))
        self.step = PRINCIPAL_STEP
        self.default = np.zeros(k)

    def coordinates(self, z) -> np.ndarray:
        return ((np.asarray(z, np.float64) - self.mean) @ self.directions.T) / self.spread

    def to_code(self, values) -> np.ndarray:
        v = np.asarray(values, np.float64)
        return (self.mean + (v * self.spread) @ self.directions).astype(np.float32)


def slider_axes(dim: int, codes=None, cover_prior: bool = False, max_sliders: int = MAX_SLIDERS,
                principal: bool | None = None) -> RawAxes | PrincipalAxes:
    """The sliders for a code of length `dim` (see the two classes).

    Args:
        dim: the code's length.
        codes: held-out codes (N, dim), or None.
        cover_prior: raw sliders cover at least ± 3 (a VAE's prior).
        max_sliders: the most sliders. Default 16.
        principal: True for principal directions, False for code numbers, None (the default) for principal
            directions only when the code is longer than `max_sliders`. Principal directions need at least 2
            codes: without them the sliders are code numbers whatever is asked.
    """
    known = codes is not None and len(codes) >= 2
    if known and (principal or (principal is None and dim > max_sliders)):
        return PrincipalAxes(codes, max_sliders)
    return RawAxes(dim, codes, cover_prior, max_sliders)


def map_position(z, codes) -> np.ndarray:
    """Where codes z (N, D) or (D,) land on the 2-D map of `codes` (M, D): (N, 2).

    For D <= 2 the map is the code itself (y = 0 for D == 1); for longer codes it
    is the plane of the two principal directions of `codes`, the same positions
    `aecore.infer.project(codes, "pca")` gives the codes themselves.
    """
    z = np.atleast_2d(np.asarray(z, np.float32))
    if z.shape[1] <= 2:
        return np.pad(z, ((0, 0), (0, 2 - z.shape[1])))
    mean, directions, _ = pca(codes, 2)
    return (z - mean) @ directions.T


def map_plane(codes) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The inverse of `map_position` on its plane: (base, u, v) with code = base + x·u + y·v for the map point
    (x, y). For 2-number codes the map is the code (base 0, u and v the unit vectors); for longer codes it is the
    plane of the two principal directions through the codes' mean (every other principal coordinate at the mean).

    Args:
        codes: the codes the map is made of, (M, D) with D >= 2 (a 1-number code has no plane).
    """
    z = np.asarray(codes, np.float64)
    if z.ndim != 2 or z.shape[1] < 2:
        raise ValueError(f"Expected codes shaped (M, D >= 2), received shape {z.shape}.")
    if z.shape[1] == 2:
        return np.zeros(2), np.array([1.0, 0.0]), np.array([0.0, 1.0])
    mean, directions, _ = pca(z, 2)
    return mean, directions[0], directions[1]
