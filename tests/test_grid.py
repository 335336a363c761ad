"""aecore.grid: which code each tile of the manifold grid decodes, on codes with a known mean, spread and
principal directions."""

import numpy as np
import pytest

from aecore.axes import PrincipalAxes
from aecore.grid import code_range, principal_grid, prior_range, raw_grid, tick_indices


def shifted_codes(n=5000, seed=0):
    """Codes like a plain AE's: far from 0, mean exactly (−7, 10, 1) and std exactly (2, 3, 0.5)."""
    z = np.random.default_rng(seed).normal(size=(n, 3))
    z = (z - z.mean(axis=0)) / z.std(axis=0)
    return z * [2.0, 3.0, 0.5] + [-7.0, 10.0, 1.0]


def test_code_range_is_the_mean_plus_minus_k_std_of_each_axis():
    codes = shifted_codes()
    np.testing.assert_allclose(code_range(codes, (0, 1), k=3), [(-13, -1), (1, 19)])
    np.testing.assert_allclose(code_range(codes, (1, 0), k=1.5), [(5.5, 14.5), (-10, -4)])
    dead = np.column_stack([codes[:, 0], np.full(len(codes), 4.0)])  # a number that never moves
    np.testing.assert_allclose(code_range(dead, (0, 1))[1], (4 - 0.15, 4 + 0.15))  # still a usable range
    assert prior_range(3) == ((-3.0, 3.0), (-3.0, 3.0))


def test_a_raw_grid_centred_on_the_codes_spans_them_and_holds_the_rest():
    codes = shifted_codes()
    base = np.array([-6.0, 12.0, 0.75])  # the sliders' code
    g = raw_grid(base, (0, 1), *code_range(codes, (0, 1), k=3), n=5)
    np.testing.assert_allclose(g.xs, [-13, -10, -7, -4, -1])  # centred on the mean −7, ± 3·2
    np.testing.assert_allclose(g.ys, [19, 14.5, 10, 5.5, 1])  # top row first: y decreasing
    z = g.codes()
    assert z.shape == (25, 3) and z.dtype == np.float32
    np.testing.assert_allclose(z[12], [-7, 10, 0.75])  # the centre tile: the codes' mean, z2 held at the base
    np.testing.assert_allclose(z[:, 2], 0.75)
    np.testing.assert_allclose(z[0, :2], [-13, 19])  # top left
    np.testing.assert_allclose(z[4, :2], [-1, 19])  # top right
    np.testing.assert_allclose(z[20, :2], [-13, 1])  # bottom left
    for row in range(5):
        for col in range(5):
            np.testing.assert_array_equal(g.tile_code(row, col), z[row * 5 + col])
    assert (g.x_name, g.y_name) == ("z0", "z1")

    # Where a code lands: its own two numbers, in tile units the tile it is on.
    assert g.position(base) == pytest.approx((-6, 12))
    assert g.tile_index(-6, 12) == pytest.approx((2 + 1 / 3, 2 - 2 / 4.5))
    assert g.tile_index(*g.position(g.tile_code(3, 1))) == pytest.approx((1, 3))


def test_a_principal_grid_lies_in_the_pca_plane_through_the_mean():
    rng = np.random.default_rng(1)
    rotation, _ = np.linalg.qr(rng.normal(size=(6, 6)))
    codes = 5 + (rng.normal(size=(3000, 6)) * [4, 2, 1, 0.3, 0.2, 0.1]) @ rotation.T
    axes = PrincipalAxes(codes, n=4)
    g = principal_grid(axes.mean, axes.mean, axes.directions, axes.spread, (0, 1), k=3, n=7)
    np.testing.assert_allclose(g.xs, np.linspace(-3, 3, 7))
    offsets = g.codes() - axes.mean
    plane = axes.directions[:2]
    np.testing.assert_allclose(offsets, offsets @ plane.T @ plane, atol=1e-5)  # nothing off it (float32)
    # A tile's code is the sliders' code with PC 1, PC 2 at the tile's values (in spreads) and the others at 0.
    np.testing.assert_allclose(axes.coordinates(g.tile_code(1, 5)), [2, 2, 0, 0], atol=1e-5)
    np.testing.assert_allclose(axes.to_code([2, 2, 0, 0]), g.tile_code(1, 5), atol=1e-4)
    assert (g.x_name, g.y_name) == ("PC 1", "PC 2")

    # With the other sliders moved, the plane passes through the sliders' code instead, parallel to it.
    base = axes.to_code([0.5, -1, 1.5, -0.5])
    g = principal_grid(base, axes.mean, axes.directions, axes.spread, (2, 0), k=2, n=5)
    np.testing.assert_allclose(axes.coordinates(g.tile_code(0, 4)), [2, -1, 2, -0.5], atol=1e-5)  # x = PC 3, y = PC 1
    assert g.position(base) == pytest.approx((1.5, 0.5), abs=1e-5)


@pytest.mark.parametrize("call, message", [
    (lambda: code_range(np.zeros((1, 2)), (0, 1)), r"Expected codes shaped \(N >= 2, D\), received shape \(1, 2\)"),
    (lambda: code_range(np.zeros((5, 2)), (0, 0)), r"two different dimensions in 0..1, received \(0, 0\)"),
    (lambda: code_range(np.zeros((5, 2)), (0, 1), k=0), r"Expected k .* received 0"),
    (lambda: prior_range(-1), r"Expected lim a finite number > 0, received -1"),
    (lambda: raw_grid([0.0, 0.0], (0, 1), (1, -1), (0, 1)), r"Expected x_range with finite low < high"),
    (lambda: raw_grid([0.0, 0.0], (0, 1), (0, 1), (0, 1), n=31), r"Expected n .* 2..30, received 31"),
    (lambda: raw_grid([0.0, np.nan], (0, 1), (0, 1), (0, 1)), r"Expected base to be one finite code"),
    (lambda: raw_grid([0.0, 0.0], (0, 1), (0, 1), (0, 1)).tile_code(2, 10), r"Expected col .* 0..9, received 10"),
    (lambda: principal_grid([0, 0.0], [0, 0.0], np.eye(2), [1, 0], (0, 1)), r"Expected a positive spread"),
])
def test_bad_arguments_say_what_was_expected(call, message):
    with pytest.raises(ValueError, match=message):
        call()


@pytest.mark.parametrize("n, ticks", [(2, [0, 1]), (6, [0, 1, 2, 3, 4, 5]), (10, [0, 3, 6, 9]),
                                      (11, [0, 2, 4, 6, 8, 10]), (30, [0, 6, 12, 18, 24, 29])])
def test_tick_indices_are_even_and_include_both_ends(n, ticks):
    assert tick_indices(n) == ticks
