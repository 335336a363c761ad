"""Tests for aecore.infer: the Engine verbs on real trained models."""

import numpy as np
import pytest

from aecore.infer import Engine, pca, project


@pytest.fixture(scope="module")
def vae(tiny_vae):
    return Engine(tiny_vae.model)


@pytest.fixture(scope="module")
def ae(tiny_ae):
    return Engine(tiny_ae.model)


def test_encode_decode_shapes_and_match_the_model(vae, ae, mnist_small):
    x = mnist_small.images[:7]
    for eng in (vae, ae):
        z = eng.encode(x)
        assert z.shape == (7, eng.latent_dim)
        out = eng.decode(z)
        assert out.shape == x.shape and out.min() >= 0 and out.max() <= 1
        np.testing.assert_allclose(eng.reconstruct(x), np.asarray(eng.model(x)), atol=1e-5)
        np.testing.assert_allclose(eng.decode_one(z[0]), out[0], atol=1e-6)
        assert eng.encode(x[0]).shape == (1, eng.latent_dim)  # one image, no batch axis


def test_batched_calls_equal_one_big_call(ae, mnist_small):
    small = Engine(ae.model, batch_size=16)
    x = mnist_small.images[:50]
    np.testing.assert_allclose(small.encode(x), ae.encode(x), atol=1e-5)


def test_errors_rank_real_digits_below_noise(ae, mnist_small):
    x = mnist_small.images[:20]
    junk = np.random.default_rng(0).random((5, 28, 28, 1), dtype=np.float32)
    e = ae.errors(np.concatenate([x, junk]))
    assert e.shape == (25,)
    assert e[20:].min() > e[:20].max()  # noise images are the anomalies


def test_vae_samples_its_prior_and_ae_a_fitted_gaussian(vae, ae, mnist_small):
    z, imgs = vae.sample(4, seed=1)
    assert z.shape == (4, 2) and imgs.shape == (4, 28, 28, 1)
    np.testing.assert_array_equal(vae.sample(4, seed=1)[0], z)
    with pytest.raises(ValueError, match="Expected codes to fit"):
        Engine(ae.model).sample(2)
    codes = ae.encode(mnist_small.images[:300])
    zs, _ = ae.sample(2000, seed=0, codes=codes)
    np.testing.assert_allclose(zs.mean(axis=0), codes.mean(axis=0), atol=0.2 * codes.std(axis=0).max())


def test_grid_varies_only_the_chosen_dimensions(ae):
    base = np.array([0.5, -1.0, 2.0, 0.25], np.float32)
    imgs, xs, ys = ae.grid(dims=(1, 3), lim=(-8, 8), n=5, base=base)
    assert imgs.shape == (25, 28, 28, 1)
    np.testing.assert_allclose(xs, np.linspace(-8, 8, 5))
    assert ys[0] == 8 and ys[-1] == -8  # top row is the highest y
    z = base.copy()
    z[1], z[3] = xs[2], ys[0]
    np.testing.assert_allclose(imgs[2], ae.decode_one(z), atol=1e-5)
    with pytest.raises(ValueError, match="two different dimensions"):
        ae.grid(dims=(1, 1))
    with pytest.raises(ValueError, match="low < high"):
        ae.grid(lim=(3, -3))


def test_interpolation_linear_and_spherical(ae):
    a, b, c = np.eye(4, dtype=np.float32)[:3] * 3
    lin = ae.interpolate([a, b, c], steps=5)
    assert lin.shape == (9, 4)
    np.testing.assert_allclose(lin[0], a)
    np.testing.assert_allclose(lin[4], b)
    np.testing.assert_allclose(lin[-1], c)
    np.testing.assert_allclose(lin[2], (a + b) / 2)
    sph = ae.interpolate([a, b], steps=5, method="spherical")
    np.testing.assert_allclose(np.linalg.norm(sph, axis=1), 3.0, rtol=1e-5)  # stays on the sphere
    assert np.linalg.norm(lin[2]) < 3.0
    with pytest.raises(ValueError, match="method in"):
        ae.interpolate([a, b], method="cubic")
    with pytest.raises(ValueError, match="at least 2 codes"):
        ae.interpolate([a])


def test_morph_frames_start_and_end_at_the_reconstructions(vae, mnist_small):
    x = mnist_small.images[:2]
    frames = vae.morph(x, steps=6)
    assert frames.shape == (6, 28, 28, 1)
    np.testing.assert_allclose(frames[0], vae.reconstruct(x[:1])[0], atol=1e-5)
    np.testing.assert_allclose(frames[-1], vae.reconstruct(x[1:])[0], atol=1e-5)


def test_nearest_neighbours_and_projection(ae, mnist_small):
    codes = ae.encode(mnist_small.images[:100])
    nn = ae.nearest(codes, 0, k=5)
    assert len(nn) == 5 and 0 not in nn
    d = ((codes - codes[0]) ** 2).sum(1)
    assert d[nn].max() <= np.sort(d)[6]
    p = project(codes, "pca")
    assert p.shape == (100, 2)
    mean, comps, std = pca(codes, 2)
    np.testing.assert_allclose(comps @ comps.T, np.eye(2), atol=1e-6)
    assert std[0] >= std[1]
    t = project(codes[:60], "tsne")
    assert t.shape == (60, 2) and np.isfinite(t).all()


def test_shape_errors_name_expected_and_received(ae):
    with pytest.raises(ValueError, match=r"Expected images shaped \(N, 28, 28, 1\), received shape \(2, 32, 32, 1\)"):
        ae.encode(np.zeros((2, 32, 32, 1)))
    with pytest.raises(ValueError, match=r"Expected codes shaped \(N, 4\)"):
        ae.decode(np.zeros((1, 3)))
    with pytest.raises(ValueError, match="finite"):
        ae.decode_one(np.array([np.nan, 0, 0, 0]))
    with pytest.raises(ValueError, match="Expected an aecore Autoencoder"):
        Engine(object())


def test_project_names_its_methods_when_given_another():
    with pytest.raises(ValueError, match=r"Expected one of pca, tsne, umap, received 'isomap'"):
        project(np.zeros((5, 3)), "isomap")


def test_umap_projection_of_real_codes(ae, mnist_small):
    """UMAP (umap-learn, optional: skipped without it) maps 200 real codes to finite 2-D points that keep close
    codes closer than far ones, the same for the same seed; a handful of points (too few for UMAP) gets PCA's plane."""
    pytest.importorskip("umap", reason="umap-learn is not installed (requirements.txt lists it)")
    codes = ae.encode(mnist_small.images[:200])
    xy = project(codes, "umap")
    assert xy.shape == (200, 2) and xy.dtype == np.float32 and np.isfinite(xy).all()
    np.testing.assert_allclose(project(codes, "umap"), xy)  # seed 0: repeatable
    d_code = ((codes[:, None] - codes[None]) ** 2).sum(-1)
    d_map = ((xy[:, None] - xy[None]) ** 2).sum(-1)
    near = np.argsort(d_code, axis=1)[:, 1:11]  # each point's 10 nearest codes...
    far = np.argsort(d_code, axis=1)[:, -10:]  # ... are nearer on the map than its 10 farthest
    assert np.take_along_axis(d_map, near, 1).mean() < 0.25 * np.take_along_axis(d_map, far, 1).mean()
    np.testing.assert_allclose(project(codes[:3], "umap"), project(codes[:3], "pca"), atol=1e-5)
