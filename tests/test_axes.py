"""aecore.axes: the Latent Slider's raw and principal-direction axes, and positions on the scatter's map,
on synthetic codes whose means, spreads and principal directions are known."""

import numpy as np
import pytest

from aecore.axes import MAX_SLIDERS, PrincipalAxes, RawAxes, map_position, nice_step, slider_axes
from aecore.infer import project


def gaussian_codes(n=4000, dim=20, spreads=(5.0, 2.0, 0.5), seed=0):
    """Codes with a known mean and known principal directions: the first rows of a random rotation,
    with the given spreads along them and a tiny spread (0.01) along every other direction."""
    rng = np.random.default_rng(seed)
    rotation, _ = np.linalg.qr(rng.normal(size=(dim, dim)))
    directions = rotation.T  # orthonormal rows
    scales = np.full(dim, 0.01)
    scales[: len(spreads)] = spreads
    mean = rng.normal(size=dim)
    codes = mean + (rng.normal(size=(n, dim)) * scales) @ directions
    return codes.astype(np.float32), mean, directions[: len(spreads)], np.array(spreads)


@pytest.mark.parametrize("span, step", [(6.0, 0.02), (30.0, 0.1), (0.3, 0.001), (1.5, 0.005), (0.0, 5e-9)])
def test_nice_step_is_a_round_number_giving_about_300_positions(span, step):
    assert nice_step(span) == pytest.approx(step)


def test_principal_axes_recover_the_directions_and_spreads():
    codes, mean, directions, spreads = gaussian_codes()
    axes = PrincipalAxes(codes, n=3)
    assert axes.names == ["pc0", "pc1", "pc2"]
    # Each label says the share of the codes' variance its direction explains (all of it, over every direction).
    total = codes.var(axis=0, ddof=1).sum()
    np.testing.assert_allclose(axes.explained, axes.spread ** 2 / total, rtol=1e-6)
    assert axes.labels[0] == f"PC 1 · {100 * axes.explained[0]:.0f}% of variance (σ = {axes.spread[0]:.2f})"
    assert np.all(np.diff(axes.explained) <= 0) and PrincipalAxes(codes, n=codes.shape[1]).explained.sum() == \
        pytest.approx(1.0)
    np.testing.assert_allclose(axes.mean, mean, atol=0.2)
    np.testing.assert_allclose(axes.spread, spreads, rtol=0.05)
    alignment = np.abs(np.sum(axes.directions * directions, axis=1))  # |cos| between found and true directions
    assert np.all(alignment > 0.99), alignment
    assert list(axes.lo) == [-3.0] * 3 and list(axes.hi) == [3.0] * 3 and list(axes.default) == [0.0] * 3

    # The default is the mean; one unit on a slider moves the code one spread along its direction.
    np.testing.assert_allclose(axes.to_code(axes.default), axes.mean, atol=1e-5)
    moved = axes.to_code([0.0, 1.0, 0.0]) - axes.to_code(axes.default)
    np.testing.assert_allclose(moved, axes.spread[1] * axes.directions[1], atol=1e-5)
    assert axes.to_code([0.0, 0.0, 0.0]).dtype == np.float32


def test_principal_axes_round_trip_and_clip():
    codes, *_ = gaussian_codes()
    axes = PrincipalAxes(codes, n=3)
    values = np.array([1.25, -2.5, 0.4])  # on the 0.05 grid and inside ±3
    np.testing.assert_allclose(axes.from_code(axes.to_code(values)), values, atol=1e-9)
    np.testing.assert_allclose(axes.coordinates(axes.to_code(values)), values, atol=1e-4)
    far = axes.to_code([10.0, -7.0, 0.123])
    np.testing.assert_allclose(axes.from_code(far), [3.0, -3.0, 0.1])  # clipped to the range, snapped to the step
    # A held-out code lands at the slider values of its own coordinates.
    np.testing.assert_allclose(axes.from_code(codes[0]), np.clip(np.round(axes.coordinates(codes[0]) / 0.05) * 0.05,
                                                                 -3, 3))


def test_principal_axes_are_capped_by_the_number_of_codes():
    codes, *_ = gaussian_codes(n=5)
    assert len(PrincipalAxes(codes).names) == 5


def test_raw_axes_ranges_defaults_and_round_trip():
    rng = np.random.default_rng(1)
    mean, std = np.array([0.5, -2.0, 4.0]), np.array([1.0, 0.5, 0.01])
    codes = (mean + rng.normal(size=(5000, 3)) * std).astype(np.float32)
    axes = RawAxes(3, codes)
    assert axes.names == axes.labels == ["z0", "z1", "z2"]
    found_mean, found_std = codes.mean(axis=0), np.maximum(codes.std(axis=0), 0.05)  # z2 is nearly dead: ± 0.15
    np.testing.assert_allclose(axes.lo, np.floor((found_mean - 3 * found_std) * 10) / 10)
    np.testing.assert_allclose(axes.hi, np.ceil((found_mean - -3 * found_std) * 10) / 10)
    assert axes.step == nice_step(6 * found_std.max()) == 0.02
    np.testing.assert_allclose(axes.default, [0.5, -2.0, 4.0], atol=0.05)
    np.testing.assert_allclose(axes.to_code(axes.default), axes.default, atol=1e-6)

    values = np.array([1.02, -1.5, 4.1])
    z = axes.to_code(values)
    assert z.dtype == np.float32 and z.shape == (3,)
    np.testing.assert_allclose(axes.from_code(z), values, atol=1e-6)
    np.testing.assert_allclose(axes.from_code([100.0, -100.0, 4.0]), [axes.hi[0], axes.lo[1], 4.0])


def test_raw_axes_cover_a_vaes_prior_and_guess_without_codes():
    codes = np.random.default_rng(2).normal(scale=0.2, size=(500, 2)).astype(np.float32)
    assert list(RawAxes(2, codes).hi) != [3.0, 3.0]
    vae = RawAxes(2, codes, cover_prior=True)
    assert list(vae.lo) == [-3.0, -3.0] and list(vae.hi) == [3.0, 3.0]

    guess = RawAxes(20)  # no codes: ± 3 around 0, and only the first 16 numbers get sliders
    assert len(guess.names) == MAX_SLIDERS and guess.names[-1] == "z15"
    assert list(guess.lo) == [-3.0] * 16 and list(guess.default) == [0.0] * 16
    z = guess.to_code(np.ones(16))
    assert z.shape == (20,) and list(z[:16]) == [1.0] * 16 and list(z[16:]) == [0.0] * 4


def test_slider_axes_chooses_principal_directions_for_long_codes_only():
    codes, *_ = gaussian_codes(dim=20)
    assert isinstance(slider_axes(20, codes), PrincipalAxes) and len(slider_axes(20, codes).names) == 16
    assert isinstance(slider_axes(20, None), RawAxes)  # no codes, no directions
    assert isinstance(slider_axes(16, codes[:, :16]), RawAxes)


def test_slider_axes_gives_principal_directions_for_any_code_length_when_asked():
    codes, *_ = gaussian_codes(dim=3)
    axes = slider_axes(3, codes, principal=True)
    assert isinstance(axes, PrincipalAxes) and axes.names == ["pc0", "pc1", "pc2"]
    assert isinstance(slider_axes(20, gaussian_codes(dim=20)[0], principal=False), RawAxes)  # numbers when asked
    assert isinstance(slider_axes(3, None, principal=True), RawAxes)  # no codes, no directions


def test_map_position_matches_the_pca_projection_and_keeps_short_codes():
    codes, *_ = gaussian_codes(n=300, dim=6)
    np.testing.assert_allclose(map_position(codes, codes), project(codes, "pca"), atol=1e-4)
    np.testing.assert_allclose(map_position(codes[7], codes), project(codes, "pca")[7:8], atol=1e-4)

    two = codes[:, :2]
    np.testing.assert_array_equal(map_position(two, two), two)
    one = map_position(codes[:5, :1], codes[:, :1])
    assert one.shape == (5, 2) and list(one[:, 1]) == [0.0] * 5 and list(one[:, 0]) == list(codes[:5, 0])


def test_map_plane_inverts_map_position_on_its_plane():
    from aecore.axes import map_plane, map_position

    rng = np.random.default_rng(3)
    for d in (2, 5):
        codes = rng.normal(0, 1, (300, d)) * np.arange(1, d + 1) + 4
        base, u, v = map_plane(codes)
        xy = rng.normal(0, 2, (20, 2))
        z = base + xy[:, :1] * u + xy[:, 1:] * v
        np.testing.assert_allclose(map_position(z, codes), xy, atol=1e-4)
    with pytest.raises(ValueError, match="Expected codes shaped"):
        map_plane(np.zeros((10, 1)))
