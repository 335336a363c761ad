"""Walks through the code space: the random walk Morph animates, and where a walk's codes land on the map.

A walk through chosen waypoints is `Engine.interpolate` (linear or spherical legs
through K codes); this module adds the random walk, whose steps are scaled by the
held-out codes' spread along each number (so a step size means the same on every
model) and which stays inside the region the codes fill (mean ± `bound` spreads,
reflected at the edge: beyond it the decoder has seen nothing), and
`path_on_map`, which places any path on the 2-D map the Scatter page draws.

Example:

    walk = random_walk(codes[0], codes, steps=40, step_size=0.3, seed=1)   # (41, D)
    frames = eng.decode(eng.interpolate(walk, steps=4))                    # 3 frames between stops
"""

from __future__ import annotations

import numpy as np

from .axes import map_position
from .grid import _codes_2d  # held-out codes checked: (N >= 2, D), finite

BOUND = 3.0  # a random walk stays within the codes' mean ± this many spreads along each number


def random_walk(start, codes, steps: int = 40, step_size: float = 0.3, seed: int = 0,
                bound: float = BOUND) -> np.ndarray:
    """A random walk from `start`, with Gaussian steps scaled by the codes' spread.

    Args:
        start: the first code, (D,).
        codes: held-out codes (N >= 2, D): their spread along each number scales the steps and, with their mean,
            sets the region the walk stays in.
        steps: how many steps (1..1000). Default 40.
        step_size: each step's standard deviation along each number, in spreads (0 < step_size <= 3). Default
            0.3: about ten steps cross a class.
        seed: the random seed (the same seed, the same walk). Default 0.
        bound: the walk is reflected at the codes' mean ± `bound` spreads. Default 3.
    Returns:
        (steps + 1, D) float32 codes, `start` first.
    """
    z = _codes_2d(codes)
    s = np.asarray(start, np.float64).reshape(-1)
    if s.shape != (z.shape[1],):
        raise ValueError(f"Expected a start code of {z.shape[1]} numbers, received shape {np.shape(start)}.")
    if not (isinstance(steps, int | np.integer) and 1 <= steps <= 1000):
        raise ValueError(f"Expected steps a whole number from 1 to 1000, received {steps!r}.")
    if not 0 < float(step_size) <= 3:
        raise ValueError(f"Expected step_size in (0, 3] spreads, received {step_size!r}.")
    mean, spread = z.mean(axis=0), np.maximum(z.std(axis=0), 1e-6)
    lo, hi = mean - bound * spread, mean + bound * spread
    rng = np.random.default_rng(seed)
    path = [np.clip(s, lo, hi)]
    for _ in range(int(steps)):
        x = path[-1] + rng.standard_normal(len(s)) * float(step_size) * spread
        x = np.where(x > hi, 2 * hi - x, x)  # reflect at the edge (a step is far smaller than the region)
        path.append(np.clip(np.where(x < lo, 2 * lo - x, x), lo, hi))
    return np.stack(path).astype(np.float32)


def path_on_map(path, codes) -> np.ndarray:
    """Where a path's codes (K, D) land on the 2-D map of `codes` (the code itself for D <= 2, else the codes'
    first two principal coordinates, as the Scatter page's PCA map): (K, 2)."""
    return map_position(np.asarray(path, np.float32), _codes_2d(codes))
