"""aecore.webdecoder: a decoder described for the browser decodes exactly as the Keras decoder does.

The browser's own decoder (TensorFlow.js) is checked against the Python decode in tests/test_browser_decode.py;
this file checks the spec and its NumPy reference on real Keras decoders: the trained tiny models, the conv
decoders of each activation and image shape, and a hand-built decoder with the other supported layer types.
"""

import json

import keras
import numpy as np
import pytest

from aecore.cache import ModelCache
from aecore.config import ModelConfig
from aecore.models import build_model
from aecore.webdecoder import MAX_WEIGHTS, UnsupportedDecoder, decoder_spec, run_spec

CODES = np.random.default_rng(0).normal(0, 2, (16, 8)).astype(np.float32)


def check(decoder, tol=2e-5):
    """The spec (after a JSON round trip) decodes random codes as Keras does, to within `tol`."""
    spec = json.loads(json.dumps(decoder_spec(decoder)))
    z = CODES[:, :spec["input_dim"]]
    if spec["input_dim"] > CODES.shape[1]:
        z = np.random.default_rng(1).normal(0, 2, (16, spec["input_dim"])).astype(np.float32)
    want = np.asarray(decoder(z))
    got = run_spec(spec, z)
    assert got.shape == want.shape == (16, *spec["output_shape"])
    np.testing.assert_allclose(got, want, atol=tol)
    return spec


def test_trained_models_match_keras(models_dir, tiny_vae, tiny_ae):
    cache = ModelCache(models_dir)
    for entry in (tiny_vae, tiny_ae):
        spec = check(cache.load(entry.key).model.decoder)
        assert spec["input_dim"] == entry.config.latent_dim and spec["output_shape"] == [28, 28, 1]


@pytest.mark.parametrize("arch,activation,shape", [("conv", "elu", (28, 28, 1)), ("conv", "gelu", (64, 64, 1)),
                                                   ("conv", "relu", (32, 32, 3)), ("dense", "gelu", (28, 28, 1))])
def test_every_arch_and_activation_matches_keras(arch, activation, shape):
    cfg = ModelConfig(kind="ae", arch=arch, latent_dim=3, activation=activation, filters=(4, 8),
                      hidden_units=(16,))
    spec = check(build_model(cfg, shape, compile=False).decoder)
    types = [layer["type"] for layer in spec["layers"]]
    assert ("conv2d_transpose" in types) == (arch == "conv")


def test_other_layer_types_match_keras():
    """BatchNormalization (with moving statistics that are not 0/1), UpSampling2D, Conv2D valid and same,
    Activation layers, a Dense without bias."""
    inp = keras.Input((5,))
    x = keras.layers.Dense(4 * 4 * 6, use_bias=False)(inp)
    x = keras.layers.Reshape((4, 4, 6))(x)
    x = keras.layers.BatchNormalization()(x)
    x = keras.layers.Activation("tanh")(x)
    x = keras.layers.UpSampling2D(2)(x)
    x = keras.layers.Conv2D(5, 3, padding="same", activation="softplus")(x)
    x = keras.layers.Conv2DTranspose(4, 4, strides=2, padding="same", activation="relu")(x)
    x = keras.layers.Conv2D(2, 3, strides=2, padding="valid")(x)
    x = keras.layers.Conv2DTranspose(1, 2, strides=1, padding="valid", activation="sigmoid")(x)
    model = keras.Model(inp, x)
    bn = model.layers[3]
    rng = np.random.default_rng(2)
    bn.moving_mean.assign(rng.normal(0, 1, 6).astype(np.float32))
    bn.moving_variance.assign(rng.uniform(0.5, 2, 6).astype(np.float32))
    bn.gamma.assign(rng.normal(1, 0.3, 6).astype(np.float32))
    spec = check(model, tol=5e-5)
    assert [layer["type"] for layer in spec["layers"]] == [
        "dense", "reshape", "scale_shift", "activation", "upsampling2d", "conv2d", "conv2d_transpose", "conv2d",
        "conv2d_transpose"]


def test_unsupported_layers_and_sizes_are_refused():
    inp = keras.Input((3,))
    x = keras.layers.Dense(16)(inp)
    x = keras.layers.Dropout(0.1)(x)
    with pytest.raises(UnsupportedDecoder, match="received Dropout"):
        decoder_spec(keras.Model(inp, x))
    odd = keras.Model(inp, keras.layers.Dense(4, activation="selu")(inp))
    with pytest.raises(UnsupportedDecoder, match="received 'selu'"):
        decoder_spec(odd)
    big = keras.Model(inp, keras.layers.Dense(MAX_WEIGHTS // 3 + 10)(inp))
    with pytest.raises(UnsupportedDecoder, match="at most"):
        decoder_spec(big)


def test_run_spec_checks_its_input(tiny_vae, models_dir):
    spec = decoder_spec(ModelCache(models_dir).load(tiny_vae.key).model.decoder)
    with pytest.raises(ValueError, match="Expected codes of length 2"):
        run_spec(spec, np.zeros((1, 3)))
    with pytest.raises(ValueError, match="Expected a spec of format"):
        run_spec({**spec, "format": "x"}, np.zeros((1, 2)))
