"""aecore.walks: the random walk (scaled by the codes' spread, reproducible, kept inside their region) and where
a path lands on the map."""

import numpy as np
import pytest

from aecore.infer import project
from aecore.walks import path_on_map, random_walk


def codes(n=500, spreads=(4.0, 0.5, 2.0), seed=0):
    rng = np.random.default_rng(seed)
    return (np.array([10.0, -3.0, 0.0]) + rng.normal(size=(n, 3)) * spreads).astype(np.float32)


def test_a_random_walks_steps_follow_the_codes_spread_and_the_seed():
    z = codes()
    walk = random_walk(z[0], z, steps=400, step_size=0.2, seed=3)
    assert walk.shape == (401, 3) and walk.dtype == np.float32
    np.testing.assert_allclose(walk[0], z[0])
    steps = np.diff(walk, axis=0)
    # Each number moves by about step_size × its spread (the reflections at the edge are rare).
    np.testing.assert_allclose(steps.std(axis=0) / z.std(axis=0), 0.2, rtol=0.15)
    np.testing.assert_array_equal(random_walk(z[0], z, 400, 0.2, seed=3), walk)  # the same seed, the same walk
    assert not np.array_equal(random_walk(z[0], z, 400, 0.2, seed=4), walk)


def test_a_random_walk_stays_inside_the_codes_region():
    z = codes()
    walk = random_walk(z[0], z, steps=1000, step_size=1.0, seed=0, bound=2.0)
    lo, hi = z.mean(axis=0) - 2 * z.std(axis=0), z.mean(axis=0) + 2 * z.std(axis=0)
    assert np.all(walk >= lo - 1e-4) and np.all(walk <= hi + 1e-4)
    assert (walk[:, 0] > hi[0] - 0.5 * z[:, 0].std()).any()  # it does reach the edge, and comes back


@pytest.mark.parametrize("kwargs, message", [
    ({"steps": 0}, "Expected steps a whole number from 1 to 1000, received 0."),
    ({"step_size": 0.0}, "Expected step_size in (0, 3] spreads, received 0.0."),
    ({"start": np.zeros(2)}, "Expected a start code of 3 numbers, received shape (2,)."),
])
def test_a_random_walk_says_what_it_expected(kwargs, message):
    z = codes()
    args = {"start": z[0], "codes": z, **kwargs}
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)").replace(".", r"\.")):
        random_walk(**args)


def test_a_path_lands_where_the_maps_points_do():
    z = codes()
    np.testing.assert_allclose(path_on_map(z[:7], z), project(z, "pca")[:7], atol=1e-4)  # the Scatter's PCA map
    two = z[:, :2]
    np.testing.assert_allclose(path_on_map(two[:5], two), two[:5])  # a 2-number code is its own map
