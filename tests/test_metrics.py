"""Tests for aecore.metrics: MSE, PSNR, SSIM (checked against scikit-image and a closed form) and helpers."""

import numpy as np
import pytest
from skimage.metrics import structural_similarity

from aecore import metrics


def _pair(shape, noise=0.1, seed=0):
    rng = np.random.default_rng(seed)
    a = rng.random(shape)
    b = np.clip(a + rng.normal(0.0, noise, shape), 0.0, 1.0)
    return a, b


def test_identical_images_are_perfect():
    a, _ = _pair((4, 28, 28, 1))
    assert metrics.mse(a, a) == 0.0
    assert metrics.psnr(a, a) == 100.0
    assert metrics.ssim(a, a) == pytest.approx(1.0, abs=1e-12)
    np.testing.assert_array_equal(metrics.psnr(a, a, per_image=True), np.full(4, 100.0))
    assert metrics.summary(a, a) == {"mse": 0.0, "psnr": 100.0, "ssim": pytest.approx(1.0)}


def test_psnr_of_gaussian_noise_matches_sigma():
    sigma = 0.05
    rng = np.random.default_rng(1)
    a = np.full((50, 32, 32, 1), 0.5)
    b = a + rng.normal(0.0, sigma, a.shape)  # unclipped, so MSE ~ sigma**2
    assert metrics.mse(a, b) == pytest.approx(sigma**2, rel=0.02)
    assert metrics.psnr(a, b) == pytest.approx(10 * np.log10(1 / sigma**2), abs=0.1)


def test_psnr_per_image_and_overall_definitions():
    a, b = _pair((3, 10, 10, 2))
    per_mse = metrics.mse(a, b, per_image=True)
    np.testing.assert_allclose(metrics.psnr(a, b, per_image=True), 10 * np.log10(1 / per_mse))
    # per_image=False is the PSNR of the overall MSE, not the mean of per-image PSNRs.
    assert metrics.psnr(a, b) == pytest.approx(10 * np.log10(1 / per_mse.mean()))
    assert metrics.psnr(a * 255, b * 255, data_range=255.0) == pytest.approx(metrics.psnr(a, b))


@pytest.mark.parametrize(
    "shape, win_size",
    [
        ((4, 8, 8, 1), 7),  # sklearn's 11-px window does not fit: both use 7
        ((3, 28, 28, 3), None),
        ((2, 28, 28, 1), None),
        ((2, 9, 13, 2), 9),
        ((2, 64, 48, 3), None),
    ],
)
def test_ssim_matches_skimage(shape, win_size):
    a, b = _pair(shape, noise=0.2, seed=shape[1])
    expected = [
        structural_similarity(
            a[i],
            b[i],
            gaussian_weights=True,
            sigma=1.5,
            use_sample_covariance=False,
            data_range=1.0,
            channel_axis=-1,
            win_size=win_size,
        )
        for i in range(shape[0])
    ]
    got = metrics.ssim(a, b, per_image=True)
    assert got.shape == (shape[0],)
    np.testing.assert_allclose(got, expected, atol=1e-4)
    assert metrics.ssim(a, b) == pytest.approx(np.mean(expected), abs=1e-4)


@pytest.mark.parametrize("shape", [(2, 8, 8, 1), (2, 28, 28, 3)])
def test_ssim_of_flat_images_is_the_luminance_term(shape):
    # No variance in either image: SSIM = (2 p q + C1) / (p^2 + q^2 + C1), the contrast-structure term being C2 / C2.
    p, q = 0.2, 0.6
    c1 = (metrics.SSIM_K1 * 1.0) ** 2
    expected = (2 * p * q + c1) / (p * p + q * q + c1)
    got = metrics.ssim(np.full(shape, p), np.full(shape, q), per_image=True)
    np.testing.assert_allclose(got, np.full(shape[0], expected), atol=1e-9)


def test_ssim_float32_and_large_batch_chunks():
    a, b = _pair((600, 8, 8, 1))  # more than one internal chunk
    per = metrics.ssim(a.astype(np.float32), b.astype(np.float32), per_image=True)
    assert per.shape == (600,)
    np.testing.assert_allclose(per[300:303], metrics.ssim(a[300:303], b[300:303], per_image=True), atol=1e-5)


def test_per_image_shapes_and_single_image():
    a, b = _pair((5, 12, 12, 3))
    assert metrics.mse(a, b, per_image=True).shape == (5,)
    assert metrics.psnr(a, b, per_image=True).shape == (5,)
    assert metrics.ssim(a, b, per_image=True).shape == (5,)
    np.testing.assert_allclose(metrics.per_image_error(a, b), ((a - b) ** 2).mean(axis=(1, 2, 3)))
    assert isinstance(metrics.mse(a, b), float)
    # A single (H, W, C) image is a batch of one.
    assert metrics.mse(a[0], b[0], per_image=True).shape == (1,)
    assert metrics.ssim(a[0], b[0]) == pytest.approx(metrics.ssim(a[:1], b[:1]))


def test_error_map_shapes():
    a, b = _pair((5, 12, 10, 3))
    emap = metrics.error_map(a, b)
    assert emap.shape == (5, 12, 10)
    np.testing.assert_allclose(emap, ((a - b) ** 2).mean(axis=-1))
    assert metrics.error_map(a[0], b[0]).shape == (12, 10)


def test_summary_types():
    a, b = _pair((4, 16, 16, 1))
    result = metrics.summary(a, b)
    assert set(result) == {"mse", "psnr", "ssim"}
    assert all(isinstance(v, float) for v in result.values())
    assert result["psnr"] == pytest.approx(metrics.psnr(a, b))


def test_bad_arguments():
    a, b = _pair((2, 8, 8, 1))
    with pytest.raises(ValueError, match="Expected two arrays of the same shape"):
        metrics.mse(a, b[:, :7])
    with pytest.raises(ValueError, match="Expected"):
        metrics.ssim(a[0, :, :, 0], b[0, :, :, 0])  # 2-D
    with pytest.raises(ValueError, match="Expected float"):
        metrics.mse((a * 255).astype(np.uint8), (b * 255).astype(np.uint8))
    with pytest.raises(ValueError, match="Expected data_range"):
        metrics.psnr(a, b, data_range=0)
    with pytest.raises(ValueError, match="Expected finite"):
        metrics.mse(np.full_like(a, np.nan), b)
