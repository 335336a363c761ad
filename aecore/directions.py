"""Directions in code space: move an image's code from one class towards another, and add and subtract codes.

Two edits a trained autoencoder allows without training anything more (the Latent Slider's "Directions"):

- Class direction: d = mean code of class b − mean code of class a. Walking a code along it,
  `along(z, d, ts)` = z + t·d for each t, turns (more or less) an image of class a into one of class b:
  t = 0 is the start code, t = 1 has moved by the whole difference of the class means ("turn this 3 into an 8").
- Arithmetic: z_A − z_B + z_C, the word-vector analogy ("king − man + woman") applied to images.

Pure NumPy. Codes are (N, D) arrays as `aecore.infer.Engine.encode` returns them; results are float32, ready
for `Engine.decode`.

Example:

    d = class_direction(codes, labels, a=3, b=8)
    frames = eng.decode(along(codes[i], d, [0, 0.5, 1]))   # the 3 at i, half-way, then moved by the whole d
    image = eng.decode_one(arithmetic(codes[i], codes[j], codes[k]))
"""

from __future__ import annotations

import numpy as np


def _finite(x, name: str, ndim: int) -> np.ndarray:
    a = np.asarray(x, np.float64)
    if a.ndim != ndim or a.size == 0:
        want = "(N, D) with N >= 1" if ndim == 2 else "(D,)" if ndim == 1 else f"{ndim}-D"
        raise ValueError(f"Expected {name} shaped {want}, received shape {a.shape}.")
    if not np.isfinite(a).all():
        raise ValueError(f"Expected finite {name}, received NaN or Inf.")
    return a


def _codes_and_labels(codes, labels) -> tuple[np.ndarray, np.ndarray]:
    z = _finite(codes, "codes", 2)
    y = np.asarray(labels)
    if y.shape != (len(z),) or (y.size and not np.issubdtype(y.dtype, np.integer)):
        raise ValueError(f"Expected integer labels shaped ({len(z)},), one per code, received {y.dtype} labels "
                         f"shaped {y.shape}.")
    return z, y


def class_means(codes, labels) -> dict[int, np.ndarray]:
    """The mean code of each class.

    Args:
        codes: (N, D) finite codes.
        labels: (N,) integer class of each code.
    Returns {label: mean code (D,) float32} for every label present, in increasing order of label.
    """
    z, y = _codes_and_labels(codes, labels)
    return {int(c): z[y == c].mean(axis=0).astype(np.float32) for c in np.unique(y)}


def class_direction(codes, labels, a: int, b: int) -> np.ndarray:
    """The direction from class `a` to class `b`: mean code of the b's − mean code of the a's.

    Args:
        codes: (N, D) finite codes.
        labels: (N,) integer class of each code.
        a: the class to move away from; must have codes.
        b: the class to move towards; must have codes and differ from `a`.
    Returns the direction (D,) float32. ValueError for a label without codes, a == b, or mismatched shapes.
    """
    z, y = _codes_and_labels(codes, labels)
    present = sorted(int(c) for c in np.unique(y))
    for label in (a, b):
        if isinstance(label, bool) or not isinstance(label, int | np.integer) or int(label) not in present:
            raise ValueError(f"Expected a label among {present}, received {label!r}.")
    if int(a) == int(b):
        raise ValueError(f"Expected two different labels, received {int(a)} twice.")
    return (z[y == int(b)].mean(axis=0) - z[y == int(a)].mean(axis=0)).astype(np.float32)


def along(z, direction, ts) -> np.ndarray:
    """Codes along a direction: z + t·direction for each t.

    Args:
        z: the start code (D,).
        direction: the direction (D,), e.g. from `class_direction`.
        ts: the amounts, a sequence of finite numbers (0: z itself; 1: z moved by the whole direction).
    Returns (len(ts), D) float32, one code per t, in the order of `ts`.
    """
    z0, d = _finite(z, "z", 1), _finite(direction, "direction", 1)
    if d.shape != z0.shape:
        raise ValueError(f"Expected a direction shaped like z {z0.shape}, received shape {d.shape}.")
    t = _finite(np.atleast_1d(np.asarray(ts, np.float64)), "ts", 1)
    return (z0[None] + t[:, None] * d[None]).astype(np.float32)


def arithmetic(za, zb, zc) -> np.ndarray:
    """Code arithmetic: za − zb + zc ("A is to B as what is to C": A's difference from B, added to C).

    Args:
        za, zb, zc: finite codes of one shape: three codes (D,), or three batches (N, D) combined row by row.
    Returns za − zb + zc, float32, of that shape.
    """
    a, b, c = (np.asarray(x, np.float64) for x in (za, zb, zc))
    if not a.shape == b.shape == c.shape or a.ndim not in (1, 2) or a.size == 0:
        raise ValueError(f"Expected three codes of one shape, (D,) or (N, D), received shapes {a.shape}, {b.shape} "
                         f"and {c.shape}.")
    if not (np.isfinite(a).all() and np.isfinite(b).all() and np.isfinite(c).all()):
        raise ValueError("Expected finite codes, received NaN or Inf.")
    return (a - b + c).astype(np.float32)
