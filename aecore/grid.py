"""The Latent Slider's manifold grid: which code each tile decodes, and where a code lands on the grid.

A grid is an n × n array of codes on a plane of the code space,

    code(x, y) = origin + x·u + y·v,

x running over `xs` (left to right, increasing) and y over `ys` (top to bottom,
decreasing, as on a map). Two kinds, matching the two kinds of sliders in
`aecore.axes`:

- `raw_grid`: over two code numbers (u, v the unit vectors of numbers dx, dy);
  every other number is held at `base` (the sliders' current code).
- `principal_grid`: over two principal directions of the held-out codes, in
  units of the codes' spread along them (the principal-direction sliders'
  units). The plane passes through `base`; with the other sliders at 0 that is
  the codes' mean.

Ranges: `code_range` centres a raw grid on the held-out codes (mean ± k·std
along each of its two numbers: a plain, denoising or sparse autoencoder puts its
codes anywhere, often far from 0); `prior_range` is a fixed ± lim around 0
(a VAE's N(0, I) prior). A principal grid is centred by construction: its
coordinates are 0 at the mean and 1 at one spread, so mean ± k·std is ± k.

Example:

    x_range, y_range = code_range(codes, (0, 1), k=3)
    g = raw_grid(z, (0, 1), x_range, y_range, n=10)
    images = eng.decode(g.codes())          # row-major, top row first
    z_clicked = g.tile_code(row, col)
    x, y = g.position(z)                    # where the sliders' code sits on it
"""

from __future__ import annotations

import dataclasses

import numpy as np

MIN_TILES, MAX_TILES = 2, 30  # tiles per side


def _codes_2d(codes, name: str = "codes") -> np.ndarray:
    z = np.asarray(codes, np.float64)
    if z.ndim != 2 or len(z) < 2 or z.shape[1] < 1:
        raise ValueError(f"Expected {name} shaped (N >= 2, D), received shape {z.shape}.")
    if not np.isfinite(z).all():
        raise ValueError(f"Expected finite {name}, received NaN or Inf.")
    return z


def _code(z, name: str = "base") -> np.ndarray:
    z = np.asarray(z, np.float64)
    if z.ndim != 1 or len(z) < 2 or not np.isfinite(z).all():
        raise ValueError(f"Expected {name} to be one finite code of length >= 2, received shape {z.shape}"
                         + ("" if np.isfinite(z).all() else " with NaN or Inf") + ".")
    return z


def _dims(dims, dim: int) -> tuple[int, int]:
    try:
        dx, dy = (int(d) for d in dims)
    except (TypeError, ValueError):
        raise ValueError(f"Expected two dimensions (x, y), received {dims!r}.") from None
    if dx == dy or not (0 <= dx < dim and 0 <= dy < dim):
        raise ValueError(f"Expected two different dimensions in 0..{dim - 1}, received {tuple(dims)}.")
    return dx, dy


def _span(k) -> float:
    if isinstance(k, bool) or not isinstance(k, (int, float, np.integer, np.floating)) or not 0 < k <= 100:
        raise ValueError(f"Expected k (standard deviations) in (0, 100], received {k!r}.")
    return float(k)


def _range(r, name: str) -> tuple[float, float]:
    try:
        lo, hi = (float(v) for v in r)
    except (TypeError, ValueError):
        raise ValueError(f"Expected {name} as (low, high), received {r!r}.") from None
    if not (np.isfinite(lo) and np.isfinite(hi) and lo < hi):
        raise ValueError(f"Expected {name} with finite low < high, received ({lo:g}, {hi:g}).")
    return lo, hi


def _n(n) -> int:
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or not MIN_TILES <= n <= MAX_TILES:
        raise ValueError(f"Expected n (tiles per side) an integer in {MIN_TILES}..{MAX_TILES}, received {n!r}.")
    return int(n)


def code_range(codes, dims, k: float = 3.0, min_std: float = 0.05) -> tuple[tuple[float, float], tuple[float, float]]:
    """The ranges of a raw grid centred on the codes: mean ± k·std of the codes along each of its two numbers.

    Args:
        codes: (N >= 2, D) held-out codes.
        dims: the grid's two code numbers (x, y).
        k: how many standard deviations each side, in (0, 100]. Default 3 (the sliders' span).
        min_std: the least std used, so a dead number still gives a range. Default 0.05 (as the sliders).

    Returns:
        ((x low, x high), (y low, y high)).
    """
    z = _codes_2d(codes)
    dx, dy = _dims(dims, z.shape[1])
    k = _span(k)
    mean, std = z.mean(axis=0), np.maximum(z.std(axis=0), float(min_std))
    return tuple((float(mean[d] - k * std[d]), float(mean[d] + k * std[d])) for d in (dx, dy))


def prior_range(lim: float) -> tuple[tuple[float, float], tuple[float, float]]:
    """The fixed ranges ± lim around 0 for both axes (± 3 covers a VAE's N(0, 1) prior).

    Args:
        lim: a finite number > 0.
    Returns:
        ((−lim, lim), (−lim, lim)).
    """
    if isinstance(lim, bool) or not isinstance(lim, (int, float, np.integer, np.floating)) \
            or not (np.isfinite(lim) and lim > 0):
        raise ValueError(f"Expected lim a finite number > 0, received {lim!r}.")
    return (-float(lim), float(lim)), (-float(lim), float(lim))


@dataclasses.dataclass(frozen=True)
class Grid:
    """An n × n grid of codes on the plane code(x, y) = origin + x·u + y·v (u ⟂ v).

    Attributes:
        origin, u, v: (D,) arrays.
        xs: (n,) x values, left to right (increasing).
        ys: (n,) y values, top to bottom (decreasing).
        x_name, y_name: what x and y are, e.g. "z0" or "PC 1".
    """

    origin: np.ndarray
    u: np.ndarray
    v: np.ndarray
    xs: np.ndarray
    ys: np.ndarray
    x_name: str
    y_name: str

    @property
    def n(self) -> int:
        """Tiles per side."""
        return len(self.xs)

    def codes(self) -> np.ndarray:
        """All n·n codes (n·n, D) float32, row-major: the top row (largest y) first, x increasing in a row."""
        x = np.tile(self.xs, self.n)[:, None]
        y = np.repeat(self.ys, self.n)[:, None]
        return (self.origin + x * self.u + y * self.v).astype(np.float32)

    def tile_code(self, row: int, col: int) -> np.ndarray:
        """The code (D,) float32 that tile (row, col) decodes; row 0 is the top row, col 0 the left column."""
        for name, i in (("row", row), ("col", col)):
            if isinstance(i, bool) or not isinstance(i, (int, np.integer)) or not 0 <= i < self.n:
                raise ValueError(f"Expected {name} an integer in 0..{self.n - 1}, received {i!r}.")
        return (self.origin + self.xs[col] * self.u + self.ys[row] * self.v).astype(np.float32)

    def position(self, z) -> tuple[float, float]:
        """The (x, y) of code z on this grid's plane: of its orthogonal projection onto the plane."""
        z = np.asarray(z, np.float64)
        if z.shape != self.origin.shape:
            raise ValueError(f"Expected a code of shape {self.origin.shape}, received shape {z.shape}.")
        d = z - self.origin
        return float(d @ self.u / (self.u @ self.u)), float(d @ self.v / (self.v @ self.v))

    def tile_index(self, x: float, y: float) -> tuple[float, float]:
        """(col, row) of the point (x, y) in tile units: tile centres at whole numbers, 0 the left column and the
        top row (fractional in between; below 0 or above n − 1 outside the tile centres)."""
        col = (float(x) - self.xs[0]) / (self.xs[-1] - self.xs[0]) * (self.n - 1)
        row = (self.ys[0] - float(y)) / (self.ys[0] - self.ys[-1]) * (self.n - 1)
        return col, row


def _grid(origin, u, v, x_range, y_range, n, names) -> Grid:
    n = _n(n)
    (x0, x1), (y0, y1) = _range(x_range, "x_range"), _range(y_range, "y_range")
    xs, ys = np.linspace(x0, x1, n), np.linspace(y0, y1, n)[::-1]
    return Grid(origin, u, v, xs, ys, *names)


def raw_grid(base, dims, x_range, y_range, n: int = 10) -> Grid:
    """A grid over two code numbers, every other number held at `base`.

    Args:
        base: (D,) the code the other numbers come from (the sliders' code); D >= 2.
        dims: (dx, dy), two different numbers in 0..D − 1.
        x_range, y_range: (low, high) of numbers dx and dy (e.g. from `code_range` or `prior_range`).
        n: tiles per side, 2..30. Default 10.

    Returns:
        A `Grid` with x = code[dx], y = code[dy], named "z<dx>", "z<dy>".
    """
    base = _code(base)
    dx, dy = _dims(dims, len(base))
    origin = base.copy()
    origin[[dx, dy]] = 0.0
    u, v = np.zeros_like(base), np.zeros_like(base)
    u[dx], v[dy] = 1.0, 1.0
    return _grid(origin, u, v, x_range, y_range, n, (f"z{dx}", f"z{dy}"))


def principal_grid(base, mean, directions, spread, pcs, k: float = 3.0, n: int = 10) -> Grid:
    """A grid over two principal directions of the codes, in units of the spread along each, centred on the mean.

    Args:
        base: (D,) the code the other directions come from (the sliders' code).
        mean: (D,) the codes' mean; directions: (K, D) orthonormal rows; spread: (K,) the codes' std along each
            (as `aecore.axes.PrincipalAxes` has them).
        pcs: (a, b), two different direction numbers in 0..K − 1.
        k: the grid spans mean ± k·spread along both, in (0, 100]. Default 3 (the sliders' span).
        n: tiles per side, 2..30. Default 10.

    Returns:
        A `Grid` whose x, y are the coordinates along directions a, b in spreads (the principal sliders' values),
        named "PC <a + 1>", "PC <b + 1>"; its plane passes through `base` (through the mean when `base` has no
        component along the other directions).
    """
    base, mean = _code(base), _code(mean, "mean")
    directions, spread = np.atleast_2d(np.asarray(directions, np.float64)), np.asarray(spread, np.float64).ravel()
    if directions.shape[1:] != base.shape or mean.shape != base.shape or len(spread) != len(directions):
        raise ValueError(f"Expected mean ({len(base)},), directions (K, {len(base)}) and spread (K,), received "
                         f"{mean.shape}, {directions.shape} and {spread.shape}.")
    if not (np.isfinite(spread).all() and (spread > 0).all()):
        raise ValueError(f"Expected a positive spread along every direction, received {spread.round(4).tolist()}.")
    a, b = _dims(pcs, len(directions))
    k = _span(k)
    d = base - mean
    origin = base - (d @ directions[a]) * directions[a] - (d @ directions[b]) * directions[b]
    return _grid(origin, spread[a] * directions[a], spread[b] * directions[b], (-k, k), (-k, k), n,
                 (f"PC {a + 1}", f"PC {b + 1}"))


def tick_indices(n: int, most: int = 6) -> list[int]:
    """Which of n tiles (0..n − 1) get a tick label: evenly spaced, the first and last included, at most `most`.

    Args:
        n: tiles per side, >= 1.
        most: the most labels, >= 2. Default 6.
    """
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
        raise ValueError(f"Expected n an integer >= 1, received {n!r}.")
    if isinstance(most, bool) or not isinstance(most, (int, np.integer)) or most < 2:
        raise ValueError(f"Expected most an integer >= 2, received {most!r}.")
    if n <= most:
        return list(range(n))
    first = -(-(n - 1) // (most - 1))  # the smallest whole step giving at most `most` labels
    step = next((s for s in range(first, (n - 1) // 2 + 1) if (n - 1) % s == 0), first)  # one ending on n - 1
    ticks = list(range(0, n, step))
    if ticks[-1] != n - 1:  # the last tile always: added when there is room, else in place of the one before
        if n - 1 - ticks[-1] >= step / 2 and len(ticks) < most:
            ticks.append(n - 1)
        else:
            ticks[-1] = n - 1
    return ticks
