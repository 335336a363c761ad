"""Tests for aecore.models: every kind and shape builds, trains a step on real
digits, serialises in safe mode, and the noise layer corrupts as documented."""

import keras
import numpy as np
import pytest

from aecore.config import ModelConfig
from aecore.models import VAE, Autoencoder, Shift, add_noise, build_model, conv_strides


@pytest.mark.parametrize("kind", ["ae", "dae", "sparse", "vae"])
@pytest.mark.parametrize("arch", ["dense", "conv"])
@pytest.mark.parametrize("shape", [(8, 8, 1), (28, 28, 1), (32, 32, 3), (64, 64, 3)])
def test_every_kind_and_shape_round_trips_an_image(kind, arch, shape):
    cfg = ModelConfig(kind=kind, arch=arch, latent_dim=3, filters=(4, 8), hidden_units=(16,))
    model = build_model(cfg, shape)
    x = np.random.default_rng(0).random((2, *shape), dtype=np.float32)
    y = keras.ops.convert_to_numpy(model(x))
    assert y.shape == (2, *shape)
    assert (y >= 0).all() and (y <= 1).all()
    assert keras.ops.convert_to_numpy(model.encode(x)).shape == (2, 3)
    assert isinstance(model, VAE) == (kind == "vae")


def test_conv_strides_halve_while_the_map_stays_at_least_4px():
    assert conv_strides(28, 28, 2) == [2, 2]
    assert conv_strides(8, 8, 2) == [2, 1]
    assert conv_strides(64, 64, 3) == [2, 2, 2]
    assert conv_strides(30, 30, 2) == [2, 1]


@pytest.mark.parametrize("kind,extra", [("ae", set()), ("dae", set()), ("sparse", {"sparsity"}), ("vae", {"kl"})])
def test_one_epoch_on_real_digits_reports_its_losses(mnist_small, kind, extra):
    cfg = ModelConfig(kind=kind, arch="dense", latent_dim=4, hidden_units=(32,))
    model = build_model(cfg, (28, 28, 1))
    x = mnist_small.images[:256]
    before = model.evaluate(x, batch_size=64, verbose=0, return_dict=True)
    hist = model.fit(x, epochs=3, batch_size=32, verbose=0).history
    assert set(hist) == {"loss", "recon"} | extra
    assert all(np.isfinite(v).all() for v in hist.values())
    after = model.evaluate(x, batch_size=64, verbose=0, return_dict=True)
    assert after["recon"] < before["recon"]


def test_sparse_kl_code_is_in_unit_interval_and_penalty_positive(mnist_small):
    cfg = ModelConfig(kind="sparse", sparsity="kl", arch="dense", latent_dim=8, hidden_units=(32,), sparsity_weight=0.1)
    model = build_model(cfg, (28, 28, 1))
    z = keras.ops.convert_to_numpy(model.encode(mnist_small.images[:64]))
    assert (z > 0).all() and (z < 1).all()
    losses = model.compute_losses(mnist_small.images[:64], training=True)
    assert float(losses["sparsity"]) > 0
    assert float(losses["loss"]) == pytest.approx(float(losses["recon"]) + float(losses["sparsity"]), rel=1e-5)


def test_vae_loss_is_recon_plus_weighted_kl_per_pixel(mnist_small):
    model = build_model(ModelConfig(kind="vae", arch="dense", latent_dim=2, beta=2.0, hidden_units=(16,)), (28, 28, 1))
    out = {k: float(v) for k, v in model.compute_losses(mnist_small.images[:32], training=False).items()}
    assert out["kl"] >= 0
    assert out["loss"] == pytest.approx(out["recon"] + 2.0 * out["kl"] / 784, rel=1e-5)


def test_vae_encode_is_deterministic_mean():
    model = build_model(ModelConfig(kind="vae", arch="dense", latent_dim=2, hidden_units=(16,)), (8, 8, 1))
    x = np.full((1, 8, 8, 1), 0.5, np.float32)
    a, b = (keras.ops.convert_to_numpy(model.encode(x)) for _ in range(2))
    np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("kind", ["ae", "dae", "sparse", "vae"])
def test_keras_file_reloads_in_safe_mode_with_same_outputs(tmp_path, kind):
    model = build_model(ModelConfig(kind=kind, arch="conv", latent_dim=2, filters=(4,)), (8, 8, 1), compile=False)
    path = tmp_path / "m.keras"
    model.save(path)
    loaded = keras.saving.load_model(path, safe_mode=True)
    assert isinstance(loaded, Autoencoder) and loaded.cfg == model.cfg
    x = np.random.default_rng(1).random((3, 8, 8, 1), dtype=np.float32)
    np.testing.assert_allclose(keras.ops.convert_to_numpy(loaded(x)), keras.ops.convert_to_numpy(model(x)), atol=1e-6)


@pytest.mark.parametrize("noise", ["gaussian", "gaussian_hetero", "salt_pepper", "masking"])
def test_noise_types_corrupt_as_documented(mnist_small, noise):
    x = mnist_small.images[:50]
    y = add_noise(x, noise, 0.3, seed=3)
    assert y.shape == x.shape and y.min() >= 0 and y.max() <= 1
    np.testing.assert_array_equal(y, add_noise(x, noise, 0.3, seed=3))  # seeded
    assert not np.array_equal(y, add_noise(x, noise, 0.3, seed=4))
    changed = np.mean(y != x)
    if noise == "masking":
        assert ((y == 0) | (y == x)).all()
        assert 0.05 < changed < 0.3  # a share 0.3 of pixels zeroed (most were zero already)
    if noise == "salt_pepper":
        assert ((y == 0) | (y == 1) | (y == x)).all()
        assert 0.1 < np.mean((y == 1) & (x < 1)) < 0.2  # half of 30% set to 1
    if noise == "gaussian":
        assert 0.2 < np.std((y - x)[(x > 0.3) & (x < 0.7)]) < 0.35


@pytest.mark.parametrize("k", [1, 2])
def test_shift_moves_each_image_by_its_own_whole_pixel_offset_within_k(k):
    x = np.zeros((200, 9, 9, 3), np.float32)
    x[:, 4, 4] = [0.2, 0.5, 0.9]  # one dot per image, in the middle
    y = keras.ops.convert_to_numpy(Shift(k, seed=3)(x))
    assert y.shape == x.shape and (y[..., 0] > 0).sum(axis=(1, 2)).tolist() == [1] * 200  # moved, never lost
    rows, cols = np.nonzero(y[..., 0])[1:]
    offsets = set(zip(rows - 4, cols - 4))
    assert offsets == {(r, c) for r in range(-k, k + 1) for c in range(-k, k + 1)}  # every offset, no other
    np.testing.assert_array_equal(y[np.arange(200), rows, cols], x[:, 4, 4])  # the channels move together
    edge = np.ones((50, 9, 9, 1), np.float32)
    z = keras.ops.convert_to_numpy(Shift(k, seed=3)(edge))
    assert set(np.unique(z)) == {0.0, 1.0} and (z == 0).any()  # what comes in from outside is 0
    layer = Shift(k, seed=3)
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(layer(x)), y)  # seeded
    assert not np.array_equal(keras.ops.convert_to_numpy(layer(x)), y)  # fresh offsets on every call


def test_augment_shift_moves_training_batches_only(mnist_small):
    cfg = ModelConfig(kind="ae", arch="dense", latent_dim=4, hidden_units=(16,), augment_shift=2)
    model = build_model(cfg, (28, 28, 1))
    x = mnist_small.images[:16]
    moved = keras.ops.convert_to_numpy(model.augment(x, training=True))
    assert not np.array_equal(moved, x) and np.isclose(moved.sum(), x.sum(), rtol=0.05)  # digits stay inside
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(model.augment(x, training=False)), x)
    held_out = [float(model.compute_losses(x, training=False)["loss"]) for _ in range(2)]
    assert held_out[0] == held_out[1]  # the held-out loss is of the images as they are
    assert build_model(cfg.replace(augment_shift=0), (28, 28, 1)).shift is None


def test_hetero_noise_has_a_spread_of_per_pixel_sigmas():
    x = np.full((400, 8, 8, 1), 0.5, np.float32)
    d = (add_noise(x, "gaussian_hetero", 0.1, seed=0) - x).ravel()
    assert 0.1 < d.std() < 0.13  # sigma ~ U(0, 0.2): E[sigma^2] = 0.04 / 3, std about 0.115
    kurtosis = np.mean(d**4) / np.mean(d**2) ** 2
    assert kurtosis > 4.5  # a mixture of sigmas is heavy-tailed: 3 * 9/5 = 5.4 (one sigma: 3)
    d_homo = (add_noise(x, "gaussian", 0.115, seed=0) - x).ravel()
    assert np.mean(d_homo**4) / np.mean(d_homo**2) ** 2 < 3.3


def test_bad_arguments_say_what_was_expected():
    with pytest.raises(ValueError, match="Expected an image shape"):
        build_model(ModelConfig(), (28, 28))
    with pytest.raises(ValueError, match="Expected an image shape"):
        build_model(ModelConfig(), (28, 28, 2))
    with pytest.raises(ValueError, match="Expected a ModelConfig"):
        build_model({"kind": "ae"}, (28, 28, 1))
    with pytest.raises(ValueError, match="Expected images shaped"):
        add_noise(np.zeros((28, 28)), "gaussian", 0.1)
    with pytest.raises(ValueError, match="noise in"):
        add_noise(np.zeros((1, 8, 8, 1)), "pink", 0.1)


def test_cosine_schedule_decays_to_two_percent_over_the_run():
    cfg = ModelConfig(arch="dense", hidden_units=(8,), learning_rate=0.01, lr_schedule="cosine", epochs=4)
    model = build_model(cfg, (8, 8, 1), steps_per_epoch=10)
    assert float(model.optimizer.learning_rate) == pytest.approx(0.01)
    model.optimizer.iterations.assign(20)
    assert float(model.optimizer.learning_rate) == pytest.approx(0.01 * (0.02 + 0.98 * 0.5), rel=1e-4)
    model.optimizer.iterations.assign(40)
    assert float(model.optimizer.learning_rate) == pytest.approx(0.0002, rel=1e-3)
    constant = build_model(cfg.replace(lr_schedule="constant"), (8, 8, 1), steps_per_epoch=10)
    constant.optimizer.iterations.assign(40)
    assert float(constant.optimizer.learning_rate) == pytest.approx(0.01)


def test_mixed_precision_computes_in_bfloat16_but_the_code_in_float32():
    cfg = ModelConfig(kind="vae", arch="conv", latent_dim=2, filters=(4, 8), hidden_units=(16,))
    model = build_model(cfg, (28, 28, 1), compile=False, precision="mixed_bfloat16")
    dtypes = {layer.name: layer.compute_dtype for layer in model.encoder.layers + model.decoder.layers
              if layer.weights}
    assert dtypes.pop("z_mean") == dtypes.pop("z_log_var") == "float32"
    assert set(dtypes.values()) == {"bfloat16"}  # the convolutions, the dense layers and the image
    assert all(w.dtype == "float32" for w in model.weights)  # the weights a float32 model loads
    plain = build_model(cfg, (28, 28, 1), compile=False)
    assert [w.shape for w in plain.weights] == [w.shape for w in model.weights]
    with pytest.raises(ValueError, match="Expected precision in"):
        build_model(cfg, (28, 28, 1), precision="float16")
