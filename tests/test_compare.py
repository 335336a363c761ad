"""aecore.compare: each measure on inputs whose answer is known, then real tiny models on real MNIST digits."""

import dataclasses
import shutil

import numpy as np
import pytest
from scipy import integrate, stats

from aecore import compare
from aecore.cache import ModelCache, train_or_load
from aecore.config import ModelConfig
from aecore.infer import Engine
from aecore.train import prepare_data

NOWHERE = "/nonexistent/models"  # a cache folder that is not there


# --- the measures on known answers ------------------------------------------------------------------
def test_kl_per_dimension_is_the_closed_form_and_the_integral():
    mu = np.array([[0.0, 1.0, -2.0], [0.0, 3.0, 0.5]])
    log_var = np.array([[0.0, 0.0, np.log(4.0)], [0.0, np.log(0.25), -1.0]])
    kl = compare.kl_per_dimension(mu, log_var)
    sigma = np.exp(log_var / 2)
    closed = (np.log(1 / sigma) + (sigma ** 2 + mu ** 2) / 2 - 0.5).mean(axis=0)
    np.testing.assert_allclose(kl, closed, rtol=1e-12)

    def integral(m, s):  # KL(q || p) = E_q[log q - log p], integrated numerically
        return integrate.quad(lambda z: stats.norm.pdf(z, m, s) * (stats.norm.logpdf(z, m, s) - stats.norm.logpdf(z)),
                              m - 12 * s, m + 12 * s)[0]

    numeric = np.mean([[integral(m, s) for m, s in zip(mr, sr)] for mr, sr in zip(mu, sigma)], axis=0)
    np.testing.assert_allclose(kl, numeric, atol=1e-7)
    assert kl[0] == 0.0  # the prior itself costs nothing


def test_active_units_count_above_the_threshold_and_name_the_collapsed():
    assert compare.active_units([0.0, 0.005, 0.0101, 2.0]) == (2, [0, 1])
    assert compare.active_units([0.0, 0.0]) == (0, [0, 1])
    assert compare.active_units([0.5, 0.5], threshold=1.0) == (0, [0, 1])


def test_well_separated_codes_are_classified_perfectly():
    rng = np.random.default_rng(1)
    labels = np.repeat(np.arange(4), 25)
    codes = 10.0 * np.eye(4)[labels] + 0.1 * rng.standard_normal((100, 4))
    assert compare.knn_accuracy(codes, labels) == 1.0
    assert compare.knn_accuracy(codes, labels, k=1, seed=7) == 1.0


def test_codes_that_ignore_the_image_score_at_chance(mnist_small):
    labels = mnist_small.labels  # 600 real digits, 10 classes
    constant = np.ones((len(labels), 3))
    noise = np.random.default_rng(0).standard_normal((len(labels), 3))
    for codes in (constant, noise):
        assert abs(compare.knn_accuracy(codes, labels) - 0.1) < 0.06
    # Codes that are the label itself (one-hot) are perfect on the same digits.
    assert compare.knn_accuracy(np.eye(10)[labels], labels) == 1.0


def test_smoothness_of_a_ramp_is_its_step_and_a_jump_is_seen():
    ramp = np.stack([np.full((4, 4, 1), 0.05 * t) for t in range(10)])
    assert compare.smoothness(ramp) == pytest.approx((0.05, 0.05))
    jump = np.zeros((10, 4, 4, 1))
    jump[9] = 1.0  # nothing changes, then everything at once
    mean, largest = compare.smoothness(np.stack([ramp, jump]))
    assert mean == pytest.approx((0.05 + 1 / 9) / 2) and largest == pytest.approx((0.05 + 1.0) / 2)


@pytest.mark.parametrize("call, expected", [
    (lambda: compare.kl_per_dimension(np.zeros((2, 3)), np.zeros((2, 2))), "same shape"),
    (lambda: compare.kl_per_dimension(np.zeros(3), np.zeros(3)), "Expected z_mean shaped (N, D)"),
    (lambda: compare.kl_per_dimension([[np.nan]], [[0.0]]), "Expected finite z_mean"),
    (lambda: compare.active_units([-1.0, 0.5]), "Expected KL values >= 0"),
    (lambda: compare.active_units([0.5], threshold="x"), "Expected a threshold >= 0"),
    (lambda: compare.knn_accuracy(np.zeros((10, 2)), np.zeros(10)), "Expected integer labels"),
    (lambda: compare.knn_accuracy(np.zeros((8, 2)), np.zeros(8, int)), "Expected at least 10 codes"),
    (lambda: compare.knn_accuracy(np.zeros((10, 2)), np.zeros(10, int), k=0), "Expected k an integer >= 1"),
    (lambda: compare.smoothness(np.zeros((1, 4, 4, 1))), "Expected frames shaped"),
    (lambda: compare.format_table([]), "Expected at least one row"),
    (lambda: compare.run_compare(["0123456789abcdef"], NOWHERE), "Expected 2 to 4 different cache keys"),
    (lambda: compare.run_compare(["0123456789abcdef"] * 2, NOWHERE), "Expected 2 to 4 different cache keys"),
    (lambda: compare.run_compare(["0123456789abcdef", "nope"], NOWHERE), "Expected a cache key of 16 hex"),
])
def test_bad_input_says_what_was_expected(call, expected):
    with pytest.raises(ValueError, match="Expected") as e:
        call()
    assert expected in str(e.value) and "received" in str(e.value)


# --- real tiny models -------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def held_out(tiny_vae, mnist_small):
    return prepare_data(tiny_vae.config, mnist_small)[1]  # the 120 digits neither tiny model trained on


def blind(cache: ModelCache, key: str, layers: tuple[str, ...]) -> Engine:
    """A fresh copy of the cached model whose encoder's last layers are zeroed: its code ignores the image."""
    model = cache.load(key).model
    for name in layers:
        layer = model.encoder.get_layer(name)
        layer.set_weights([np.zeros_like(w) for w in layer.get_weights()])
    return Engine(model)


def test_a_vae_that_ignores_its_input_has_no_active_unit_and_chance_accuracy(models_dir, tiny_vae, held_out):
    m = compare.measure(blind(ModelCache(models_dir), tiny_vae.key, ("z_mean", "z_log_var")),
                        held_out.images, held_out.labels)
    assert (m.active, m.collapsed, m.kl_per_image) == (0, [0, 1], 0.0)
    assert m.knn_accuracy < 0.25  # 60 queries all given one label: that label's share
    assert m.step_mean == 0.0 == m.step_max  # every code is the same, so is every frame
    trained = compare.measure(Engine(ModelCache(models_dir).load(tiny_vae.key).model), held_out.images,
                              held_out.labels)
    assert trained.active == 2 and trained.collapsed == [] and trained.knn_accuracy > m.knn_accuracy + 0.1
    assert trained.samples.shape == (compare.SAMPLES, 28, 28, 1) and trained.codes.shape == (120, 2)


def test_an_autoencoder_that_ignores_its_input_scores_at_chance(models_dir, tiny_ae, held_out):
    m = compare.measure(blind(ModelCache(models_dir), tiny_ae.key, ("code",)), held_out.images, held_out.labels)
    assert m.knn_accuracy < 0.25 and m.active is None and m.kl_per_dim is None
    assert np.ptp(m.codes, axis=0).max() == 0.0


def test_the_table_matches_the_scores_stored_at_training(models_dir, tiny_vae, tiny_ae):
    rows = compare.compare_table(ModelCache(models_dir), [tiny_vae.key, tiny_ae.key])
    assert [r["key"] for r in rows] == [tiny_vae.key, tiny_ae.key] and rows[0]["images"] == 120
    for row, entry in zip(rows, (tiny_vae, tiny_ae)):  # the same 120 held-out digits as at training
        for k in ("mse", "psnr", "ssim"):
            assert row[k] == pytest.approx(entry.metrics[k], rel=1e-4)
    assert rows[0]["kl_per_image"] == pytest.approx(tiny_vae.metrics["kl"], rel=1e-3)
    assert rows[1]["kl_per_image"] is None and rows[1]["active_units"] is None

    text = compare.run_compare([tiny_vae.key, tiny_ae.key], models_dir)
    head, header, vae, ae = text.splitlines()
    assert head.startswith("120 held-out images of mnist · first 600 images · 20% held out")
    assert header.split("  ")[0] == "key" and "5-NN accuracy" in header and "largest step" in header
    assert vae.startswith(tiny_vae.key) and "dense VAE, latent 2" in vae and "2 of 2" in vae
    assert ae.startswith(tiny_ae.key) and f"{rows[1]['mse']:.4f}" in ae and " – " in ae


def test_only_models_of_the_same_data_and_split_compare(tmp_path, models_dir, tiny_vae, tiny_ae, mnist_small):
    other = dataclasses.replace(tiny_ae, config=tiny_ae.config.replace(limit=500))
    groups = compare.comparable_groups([tiny_vae, other, tiny_ae])
    assert list(groups.values()) == [[tiny_vae, tiny_ae]]
    assert compare.split_label(other.config) == "mnist · first 500 images · 20% held out"

    shutil.copy(tiny_vae.path, tmp_path)
    small, _ = train_or_load(ModelConfig(kind="ae", arch="dense", latent_dim=2, epochs=1, hidden_units=(16,),
                                         limit=300), mnist_small, ModelCache(tmp_path))
    with pytest.raises(ValueError, match="Expected models trained on the same data and split, received") as e:
        compare.run_compare([tiny_vae.key, small.key], tmp_path)
    assert "first 300 images" in str(e.value) and "first 600 images" in str(e.value)
