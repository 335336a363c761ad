"""aecore.posterior: a VAE image's posterior and the prior on the Latent Scatter's map, with known answers."""

import numpy as np
import pytest

from aecore.axes import map_position
from aecore.posterior import ellipse_on_map, kl_to_prior, posterior, prior_circles, samples


def test_ellipse_of_a_2d_code_is_axis_aligned_around_the_mean():
    codes = np.random.default_rng(0).standard_normal((50, 2))  # the map of 2-number codes is the code itself
    ring = ellipse_on_map([1.0, 2.0], [0.5, 2.0], codes, points=65)  # 64 steps: the four extremes are on it
    assert ring.shape == (65, 2)
    np.testing.assert_allclose(ring[0], ring[-1])  # closed
    np.testing.assert_allclose([ring[:, 0].min(), ring[:, 0].max()], [0.5, 1.5], atol=1e-9)
    np.testing.assert_allclose([ring[:, 1].min(), ring[:, 1].max()], [0.0, 4.0], atol=1e-9)
    np.testing.assert_allclose(((ring - [1, 2]) / [0.5, 2.0]) ** 2 @ [1, 1], 1.0, atol=1e-9)  # on the contour
    two = ellipse_on_map([1.0, 2.0], [0.5, 2.0], codes, k=2)
    assert two.shape == (64, 2)
    np.testing.assert_allclose(((two - [1, 2]) / [1.0, 4.0]) ** 2 @ [1, 1], 1.0, atol=1e-9)


def test_ellipse_of_a_1d_code_is_a_segment_on_the_x_axis():
    ring = ellipse_on_map([0.5], [0.25], np.zeros((4, 1)), k=2, points=65)
    np.testing.assert_allclose(ring[:, 1], 0.0, atol=1e-12)
    np.testing.assert_allclose([ring[:, 0].min(), ring[:, 0].max()], [0.0, 1.0], atol=1e-9)


def test_ellipse_of_a_long_code_is_its_covariance_on_the_pca_plane():
    rng = np.random.default_rng(1)
    theta = np.linspace(0, 2 * np.pi, 200, endpoint=False)
    codes = np.zeros((200, 5))
    codes[:, 0] = 3 * np.cos(theta) + 1  # the codes spread along z0 and z1 only (uncorrelated): the PCA plane
    codes[:, 1] = np.sin(theta)
    mean, sigma = np.array([0.5, -1.0, 2.0, 3.0, -4.0]), np.array([0.3, 0.7, 5.0, 5.0, 5.0])
    ring = ellipse_on_map(mean, sigma, codes, points=65)
    centre = map_position(mean, codes)[0]  # (z0, z1) minus the codes' mean, up to the directions' signs
    np.testing.assert_allclose(np.abs(centre), np.abs(mean[:2] - codes[:, :2].mean(axis=0)), atol=1e-5)
    # Along the plane the ellipse is the one of (z0, z1) alone: z2..z4's large sigmas do not show.
    np.testing.assert_allclose(ring.max(axis=0) - centre, sigma[:2], atol=1e-5)
    np.testing.assert_allclose(centre - ring.min(axis=0), sigma[:2], atol=1e-5)

    # A tilted plane: every point lies on the k-sigma contour of P Σ Pᵀ, (p - c)ᵀ C⁻¹ (p - c) = k².
    rot = np.linalg.qr(rng.standard_normal((5, 5)))[0]
    tilted = codes @ rot.T
    from aecore.infer import pca

    P = pca(tilted, 2)[1]
    cov = (P * sigma ** 2) @ P.T
    ring = ellipse_on_map(mean, sigma, tilted, k=2)
    d = ring - map_position(mean, tilted)[0]
    np.testing.assert_allclose(np.einsum("ni,ij,nj->n", d, np.linalg.inv(cov), d), 4.0, rtol=1e-6)


def test_prior_circles_have_radius_k_around_the_projected_origin():
    rng = np.random.default_rng(2)
    for codes in (rng.standard_normal((30, 2)), rng.standard_normal((30, 6)) * [3, 2, 1, 1, 1, 1] + 2):
        circles = prior_circles(codes)
        assert len(circles) == 2
        origin = map_position(np.zeros(codes.shape[1]), codes)[0]
        for k, ring in zip((1, 2), circles):
            np.testing.assert_allclose(np.linalg.norm(ring - origin, axis=1), k, atol=1e-6)
    assert len(prior_circles(np.zeros((3, 2)), ks=(1, 2, 3))) == 3


def test_samples_follow_the_posterior():
    mean, sigma = np.array([1.0, -2.0, 0.0]), np.array([0.5, 2.0, 0.1])
    draws = samples(mean, sigma, n=20000, seed=3)
    assert draws.shape == (20000, 3) and draws.dtype == np.float32
    np.testing.assert_allclose(draws.mean(axis=0), mean, atol=0.05)
    np.testing.assert_allclose(draws.std(axis=0), sigma, rtol=0.03)
    np.testing.assert_array_equal(samples(mean, sigma, seed=3), samples(mean, sigma, seed=3))  # seeded
    assert samples(mean, sigma).shape == (6, 3)
    assert not np.allclose(samples(mean, sigma, seed=0), samples(mean, sigma, seed=1))


def test_kl_to_prior_is_zero_at_the_prior_and_the_formula_elsewhere():
    assert kl_to_prior(np.zeros(4), np.ones(4)) == pytest.approx(0.0)
    m, s = np.array([1.0, 0.0]), np.array([1.0, 0.5])
    assert kl_to_prior(m, s) == pytest.approx(0.5 * (1 + 1 - 1 - 0) + 0.5 * (0.25 - 1 - np.log(0.25)))


def test_bad_arguments_say_what_was_expected():
    with pytest.raises(ValueError, match=r"Expected a mean and a sigma shaped \(D,\), received shapes"):
        ellipse_on_map([0, 0], [1, 1, 1], np.zeros((3, 2)))
    with pytest.raises(ValueError, match="Expected k > 0"):
        ellipse_on_map([0, 0], [1, 1], np.zeros((3, 2)), k=0)
    with pytest.raises(ValueError, match=r"Expected codes shaped \(M, 3\)"):
        ellipse_on_map([0, 0, 0], [1, 1, 1], np.zeros((3, 4)))
    with pytest.raises(ValueError, match="Expected a finite mean and a finite sigma >= 0"):
        samples([0.0], [-1.0])
    with pytest.raises(ValueError, match="Expected sigma > 0"):
        kl_to_prior([0.0], [0.0])


def test_posterior_of_the_tiny_vae_and_not_of_a_plain_ae(models_dir, tiny_vae, tiny_ae, mnist_small):
    from aecore.cache import ModelCache
    from aecore.infer import Engine

    eng = Engine(ModelCache(models_dir).load(tiny_vae.key).model)
    images = mnist_small.images[:5].astype(np.float32)
    mean, sigma = posterior(eng, images)
    assert mean.shape == sigma.shape == (5, 2) and mean.dtype == sigma.dtype == np.float32
    np.testing.assert_allclose(mean, eng.encode(images), atol=1e-5)  # the mean is what the page maps
    assert (sigma > 0).all() and np.isfinite(sigma).all()
    one_mean, one_sigma = posterior(eng, images[0])  # one image (H, W, C)
    np.testing.assert_allclose(one_mean[0], mean[0], atol=1e-5)
    np.testing.assert_allclose(one_sigma[0], sigma[0], rtol=1e-5)
    with pytest.raises(ValueError, match=r"Expected images shaped \(N, 28, 28, 1\), received shape"):
        posterior(eng, images[:, :20])

    ae = Engine(ModelCache(models_dir).load(tiny_ae.key).model)
    with pytest.raises(ValueError, match="Expected a VAE .*, received a 'ae' model"):
        posterior(ae, images)
