"""The four autoencoder kinds (plain, denoising, sparse, variational), each dense
or convolutional, as small, serialisable Keras 3 models.

One class, `Autoencoder`, covers the plain, denoising and sparse kinds; `VAE`
adds the reparameterised code and the KL term (after keras-io's
`examples/generative/vae.py`). Both are built from a `ModelConfig` plus the
image shape, use `keras.ops` throughout, and register themselves so that
`keras.saving.load_model(..., safe_mode=True)` opens an exported `.keras` file
with no Lambda layer and no pickled code.

Losses are reported per pixel so curves of different kinds share a scale:
    loss = recon + sparsity                    (ae, dae, sparse)
    loss = recon + kl_weight * kl / pixels     (vae; kl is nats per image)
which for the VAE is the usual (summed BCE + beta * KL), divided by pixels.
"""

from __future__ import annotations

import keras
import numpy as np
import tensorflow as tf
from keras import layers, ops

from .config import ModelConfig
from .sizing import conv_strides, up_kernel  # the stride and kernel rules, shared with the size estimate

_EPS = 1e-7

# Dtype policies a model may compute in. Weights are float32 in both; `mixed_bfloat16` computes the hidden layers
# in bfloat16, which CPUs with AMX or AVX512-BF16 units run faster (see `aecore.train.training_precision`).
PRECISIONS = ("float32", "mixed_bfloat16")


# --------------------------------------------------------------------------
# Small layers
# --------------------------------------------------------------------------
@keras.saving.register_keras_serializable(package="aecore")
class Sampling(layers.Layer):
    """z = mean + exp(log_var / 2) * eps, eps ~ N(0, I) (the reparameterisation trick)."""

    def __init__(self, seed: int = 0, **kwargs):
        super().__init__(**kwargs)
        self.seed = int(seed)
        self.seed_generator = keras.random.SeedGenerator(self.seed)

    def call(self, z_mean, z_log_var):
        eps = keras.random.normal(ops.shape(z_mean), seed=self.seed_generator)
        return z_mean + ops.exp(0.5 * z_log_var) * eps

    def get_config(self):
        return {**super().get_config(), "seed": self.seed}


@keras.saving.register_keras_serializable(package="aecore")
class Corruption(layers.Layer):
    """Corrupts images in [0, 1] with fresh noise on every call.

    Args:
        noise: `gaussian` (x + sigma * N(0, 1)), `gaussian_hetero` (a sigma
            per pixel drawn uniformly in [0, 2 * level]), `salt_pepper` (a
            share `level` of pixels set to 0 or 1), `masking` (a share
            `level` of pixels set to 0). Results are clipped to [0, 1].
        level: sigma, or share of pixels. Default 0.3.
        seed: seed of the noise stream. Default 0.
    """

    def __init__(self, noise: str = "gaussian", level: float = 0.3, seed: int = 0, **kwargs):
        super().__init__(**kwargs)
        self.noise, self.level, self.seed = noise, float(level), int(seed)
        self.seed_generator = keras.random.SeedGenerator(self.seed)

    def call(self, x):
        shape, sg = ops.shape(x), self.seed_generator
        if self.noise == "gaussian":
            x = x + self.level * keras.random.normal(shape, seed=sg)
        elif self.noise == "gaussian_hetero":
            sigma = keras.random.uniform(shape, 0.0, 2.0 * self.level, seed=sg)
            x = x + sigma * keras.random.normal(shape, seed=sg)
        elif self.noise == "salt_pepper":
            hit = keras.random.uniform(shape, seed=sg) < self.level
            salt = ops.cast(keras.random.uniform(shape, seed=sg) < 0.5, x.dtype)
            x = ops.where(hit, salt, x)
        elif self.noise == "masking":
            x = ops.where(keras.random.uniform(shape, seed=sg) < self.level, ops.zeros_like(x), x)
        else:
            raise ValueError("Expected noise in gaussian, gaussian_hetero, salt_pepper, masking; "
                             f"received {self.noise!r}.")
        return ops.clip(x, 0.0, 1.0)

    def get_config(self):
        return {**super().get_config(), "noise": self.noise, "level": self.level, "seed": self.seed}


@keras.saving.register_keras_serializable(package="aecore")
class Shift(layers.Layer):
    """Moves each image by its own random whole-pixel offset in [-k, k] along each axis, filling with 0
    (training-time augmentation: `ModelConfig.augment_shift`). Fresh offsets on every call.

    Args:
        k: the largest offset in pixels, >= 1. Default 1.
        seed: seed of the offsets' stream. Default 0.
    """

    def __init__(self, k: int = 1, seed: int = 0, **kwargs):
        super().__init__(**kwargs)
        self.k, self.seed = int(k), int(seed)
        self.seed_generator = keras.random.SeedGenerator(self.seed)

    def call(self, x):
        b, h, w, c = ops.shape(x)[0], x.shape[1], x.shape[2], x.shape[3]
        offset = keras.random.randint((b, 2, 1, 1), -self.k, self.k + 1, seed=self.seed_generator)
        rows = ops.reshape(ops.arange(h), (1, h, 1)) - offset[:, 0]  # the source pixel of each output pixel
        cols = ops.reshape(ops.arange(w), (1, 1, w)) - offset[:, 1]
        inside = (rows >= 0) & (rows < h) & (cols >= 0) & (cols < w)
        index = ops.reshape(ops.clip(rows, 0, h - 1) * w + ops.clip(cols, 0, w - 1), (b, h * w, 1))
        moved = ops.take_along_axis(ops.reshape(x, (b, h * w, c)), ops.repeat(index, c, axis=2), axis=1)
        return ops.where(ops.expand_dims(inside, -1), ops.reshape(moved, (b, h, w, c)), ops.zeros_like(x))

    def get_config(self):
        return {**super().get_config(), "k": self.k, "seed": self.seed}


def add_noise(images: np.ndarray, noise: str = "gaussian", level: float = 0.3, seed: int = 0) -> np.ndarray:
    """Corrupt a batch of images exactly as denoising training does.

    Args:
        images: float32 (N, H, W, C) in [0, 1].
        noise: see `Corruption`. Default `gaussian`.
        level: sigma or share of pixels, in [0, 1]. Default 0.3.
        seed: noise seed; the same seed gives the same noise. Default 0.
    Returns:
        float32 array like `images`.
    """
    images = np.asarray(images, dtype="float32")
    if images.ndim != 4:
        raise ValueError(f"Expected images shaped (N, H, W, C), received shape {images.shape}.")
    if not 0 <= level <= 1:
        raise ValueError(f"Expected a noise level in [0, 1], received {level}.")
    ModelConfig(noise=noise)  # validates the noise name with the usual message
    return ops.convert_to_numpy(Corruption(noise, level, seed)(images))


# --------------------------------------------------------------------------
# Encoder / decoder builders
# --------------------------------------------------------------------------
class _Seeds:
    """Hands every layer its own initializer seed, derived from the run's seed.

    Keras' unseeded initializers draw from a process-wide random state that any
    other thread may reseed (`keras.utils.set_random_seed`, a page building a
    model): seeding each layer's initializer explicitly makes the same config
    give the same initial weights whatever else runs in the process.
    """

    def __init__(self, seed: int, stream: int):
        self.base, self.count = (int(seed) * 1_000_003 + stream * 7919) % (2**31 - 1), 0

    def kernel(self) -> keras.initializers.Initializer:
        self.count += 1
        return keras.initializers.GlorotUniform(seed=(self.base + self.count) % (2**31 - 1))


def build_encoder(cfg: ModelConfig, image_shape: tuple[int, int, int], n_out: int,
                  precision: str = "float32") -> keras.Model:
    """Image -> `n_out` features (the code, or mean and log-variance for a VAE).

    `precision` is the hidden layers' dtype policy (see `PRECISIONS`); the code layers compute in float32 always.
    """
    h, w, c = image_shape
    seeds = _Seeds(cfg.seed, stream=1)
    x = inputs = keras.Input(shape=image_shape, name="image")
    if cfg.arch == "conv":
        for f, s in zip(cfg.filters, conv_strides(h, w, len(cfg.filters))):
            x = layers.Conv2D(f, 3, strides=s, padding="same", activation=cfg.activation,
                              kernel_initializer=seeds.kernel(), dtype=precision)(x)
    x = layers.Flatten(dtype=precision)(x)
    for units in cfg.hidden_units:
        x = layers.Dense(units, activation=cfg.activation, kernel_initializer=seeds.kernel(), dtype=precision)(x)
    if cfg.kind == "vae":
        outputs = [layers.Dense(cfg.latent_dim, name="z_mean", kernel_initializer=seeds.kernel())(x),
                   layers.Dense(cfg.latent_dim, name="z_log_var", kernel_initializer=seeds.kernel())(x)]
    else:
        # Sparse codes need a non-negative (L1) or (0, 1) (KL target) activation.
        act = {"l1": "relu", "kl": "sigmoid"}[cfg.sparsity] if cfg.kind == "sparse" else None
        outputs = layers.Dense(n_out, activation=act, name="code", kernel_initializer=seeds.kernel())(x)
    return keras.Model(inputs, outputs, name="encoder")


def build_decoder(cfg: ModelConfig, image_shape: tuple[int, int, int], precision: str = "float32") -> keras.Model:
    """Code -> image in [0, 1] (sigmoid output). `precision`: every layer's dtype policy (see `PRECISIONS`); the
    losses cast the image to float32."""
    h, w, c = image_shape
    seeds = _Seeds(cfg.seed, stream=2)
    x = inputs = keras.Input(shape=(cfg.latent_dim,), name="code")
    for units in reversed(cfg.hidden_units):
        x = layers.Dense(units, activation=cfg.activation, kernel_initializer=seeds.kernel(), dtype=precision)(x)
    if cfg.arch == "conv":
        strides = conv_strides(h, w, len(cfg.filters))
        down = int(np.prod(strides))
        x = layers.Dense((h // down) * (w // down) * cfg.filters[-1], activation=cfg.activation,
                         kernel_initializer=seeds.kernel(), dtype=precision)(x)
        x = layers.Reshape((h // down, w // down, cfg.filters[-1]), dtype=precision)(x)
        # Mirror of the encoder; each stage outputs the channels of the stage
        # before it, and the last one outputs the image itself. Up-sampling
        # to full resolution straight into C channels keeps the decoder cheap
        # (the full-size maps dominate the cost of a conv decoder). A stride-2 stage's kernel is 4, a multiple
        # of its stride (`up_kernel`): with 3, alternate output pixels get 4 and 2 taps: a checkerboard.
        outs = list(reversed(cfg.filters))[1:]
        for i, s in enumerate(reversed(strides)):
            last = i == len(strides) - 1
            x = layers.Conv2DTranspose(c if last else outs[i], up_kernel(s), strides=s, padding="same",
                                       activation="sigmoid" if last else cfg.activation,
                                       name="image" if last else None, kernel_initializer=seeds.kernel(),
                                       dtype=precision)(x)
    else:
        x = layers.Dense(h * w * c, activation="sigmoid", kernel_initializer=seeds.kernel())(x)
        x = layers.Reshape((h, w, c), name="image")(x)
    return keras.Model(inputs, x, name="decoder")


def reconstruction_loss(x, x_hat, kind: str):
    """Per-image mean over pixels of BCE or squared error -> (batch,), in float32 whatever `x_hat`'s dtype."""
    x_hat = ops.cast(x_hat, x.dtype)
    if kind == "bce":
        x_hat = ops.clip(x_hat, _EPS, 1.0 - _EPS)
        err = -(x * ops.log(x_hat) + (1.0 - x) * ops.log(1.0 - x_hat))
    else:
        err = ops.square(x - x_hat)
    return ops.mean(ops.reshape(err, (ops.shape(x)[0], -1)), axis=1)


# --------------------------------------------------------------------------
# Models
# --------------------------------------------------------------------------
@keras.saving.register_keras_serializable(package="aecore")
class Autoencoder(keras.Model):
    """Plain, denoising or sparse autoencoder, chosen by `config["kind"]`.

    Args:
        config: a `ModelConfig` as a dict (`ModelConfig.to_dict()`).
        image_shape: (H, W, C) of the images.
        precision: the hidden layers' dtype policy, `float32` or `mixed_bfloat16` (see `PRECISIONS`); the weights
            are float32 either way. Not saved: a loaded model computes in float32.
    """

    def __init__(self, config: dict, image_shape, precision: str = "float32", **kwargs):
        super().__init__(**kwargs)
        self.cfg = ModelConfig.from_dict(dict(config))
        self.image_shape = tuple(int(s) for s in image_shape)
        if len(self.image_shape) != 3 or self.image_shape[2] not in (1, 3):
            raise ValueError(f"Expected an image shape (H, W, 1 or 3), received {image_shape}.")
        self.pixels = int(np.prod(self.image_shape))
        self.precision = precision
        if precision not in PRECISIONS:
            raise ValueError(f"Expected precision in {PRECISIONS}, received {precision!r}.")
        self.encoder = build_encoder(self.cfg, self.image_shape, self.cfg.latent_dim, precision)
        self.decoder = build_decoder(self.cfg, self.image_shape, precision)
        self.corruption = (
            Corruption(self.cfg.noise, self.cfg.noise_level, self.cfg.seed) if self.cfg.kind == "dae" else None
        )
        self.shift = Shift(self.cfg.augment_shift, (self.cfg.seed + 1) % 2**32) if self.cfg.augment_shift else None
        self.trackers = {name: keras.metrics.Mean(name=name) for name in self.loss_names()}

    def build(self, input_shape=None):
        # The encoder and decoder are built functional models already; the
        # noise, shift and sampling layers have no weights.
        self.built = True

    def loss_names(self) -> list[str]:
        """Names of the losses this model reports each epoch."""
        return ["loss", "recon"] + (["sparsity"] if self.cfg.kind == "sparse" else [])

    @property
    def metrics(self):
        return list(self.trackers.values())

    def encode(self, x):
        """Image batch -> code batch (deterministic)."""
        return self.encoder(x)

    def call(self, x, training=False):
        return self.decoder(self.encode(x))

    def augment(self, x, training: bool):
        """The training batch as the model learns from it: each image shifted (`augment_shift`); else `x`."""
        return self.shift(x) if (training and self.shift is not None) else x

    def compute_losses(self, x, training: bool, target=None) -> dict:
        """The losses of batch `x`. `target`: the clean images when `x` is already corrupted (a denoising AE's
        held-out pairs); default None: the target is `x`, corrupted first in training for a denoising AE."""
        x = self.augment(x, training)
        if target is None:
            target = x
            x = self.corruption(x) if (training and self.corruption is not None) else x
        z = self.encoder(x, training=training)
        recon = ops.mean(reconstruction_loss(target, self.decoder(z, training=training), self.cfg.recon_loss))
        out = {"recon": recon}
        if self.cfg.kind == "sparse":
            if self.cfg.sparsity == "l1":
                penalty = ops.mean(ops.abs(z))
            else:  # KL between the target and the mean activation of each code unit
                rho = self.cfg.sparsity_target
                rho_hat = ops.clip(ops.mean(z, axis=0), _EPS, 1.0 - _EPS)
                penalty = ops.sum(rho * ops.log(rho / rho_hat) + (1 - rho) * ops.log((1 - rho) / (1 - rho_hat)))
            out["sparsity"] = self.cfg.sparsity_weight * penalty
        out["loss"] = recon + out.get("sparsity", 0.0)
        return out

    def train_step(self, data):
        x = keras.utils.unpack_x_y_sample_weight(data)[0]
        with tf.GradientTape() as tape:
            losses = self.compute_losses(x, training=True)
        grads = tape.gradient(losses["loss"], self.trainable_weights)
        self.optimizer.apply_gradients(zip(grads, self.trainable_weights))
        return self._track(losses)

    def test_step(self, data):
        x, y, _ = keras.utils.unpack_x_y_sample_weight(data)
        return self._track(self.compute_losses(x, training=False, target=y))

    def _track(self, losses: dict) -> dict:
        for name, value in losses.items():
            self.trackers[name].update_state(value)
        return {name: t.result() for name, t in self.trackers.items()}

    def get_config(self):
        return {**super().get_config(), "config": self.cfg.to_dict(), "image_shape": list(self.image_shape)}

    @classmethod
    def from_config(cls, config):
        return cls(**config)


@keras.saving.register_keras_serializable(package="aecore")
class VAE(Autoencoder):
    """Variational autoencoder: the encoder gives a mean and log-variance.

    `encode` returns the mean (what the sliders and scatter show); training
    samples z with `Sampling`. The KL weight is a variable so a warm-up
    callback can ramp it from 0 to `beta`.
    """

    def __init__(self, config: dict, image_shape, precision: str = "float32", **kwargs):
        super().__init__(config, image_shape, precision, **kwargs)
        self.sampling = Sampling(self.cfg.seed)
        warm = self.cfg.kl_warmup_epochs > 0
        self.kl_weight = self.add_weight(
            name="kl_weight", shape=(), trainable=False,
            initializer=keras.initializers.Constant(0.0 if warm else self.cfg.beta),
        )

    def loss_names(self) -> list[str]:
        return ["loss", "recon", "kl"]

    def encode(self, x):
        return self.encoder(x)[0]

    def encode_distribution(self, x):
        """Image batch -> (z_mean, z_log_var)."""
        return self.encoder(x)

    def compute_losses(self, x, training: bool, target=None) -> dict:
        x = self.augment(x, training)
        target = x if target is None else target  # as `Autoencoder.compute_losses`
        z_mean, z_log_var = self.encoder(x, training=training)
        z = self.sampling(z_mean, z_log_var) if training else z_mean
        recon = ops.mean(reconstruction_loss(target, self.decoder(z, training=training), self.cfg.recon_loss))
        kl = ops.mean(-0.5 * ops.sum(1 + z_log_var - ops.square(z_mean) - ops.exp(z_log_var), axis=1))
        return {"loss": recon + self.kl_weight * kl / self.pixels, "recon": recon, "kl": kl}


def build_model(cfg: ModelConfig, image_shape, compile: bool = True, steps_per_epoch: int = 1,
                precision: str = "float32", steps_per_execution: int = 1) -> Autoencoder:
    """Build the model a config describes.

    Args:
        cfg: the `ModelConfig`.
        image_shape: (H, W, C) of the training images, H and W in 4..256.
        compile: compile with Adam at `cfg.learning_rate`, ready for `fit`.
            Default True; False for inference and export (no optimizer state).
        steps_per_epoch: batches per epoch, for the cosine schedule's length.
        precision: `float32` (default) or `mixed_bfloat16` (training on a CPU with bfloat16 units: see
            `aecore.train.training_precision`).
        steps_per_execution: batches per call of the compiled training function (Keras' `steps_per_execution`).
            Default 1.
    Returns:
        an `Autoencoder` or `VAE` with its weights created.
    """
    if not isinstance(cfg, ModelConfig):
        raise ValueError(f"Expected a ModelConfig, received {type(cfg).__name__}.")
    shape = tuple(image_shape)
    if len(shape) != 3 or not all(isinstance(s, (int, np.integer)) for s in shape) \
            or not (4 <= shape[0] <= 256 and 4 <= shape[1] <= 256) or shape[2] not in (1, 3):
        raise ValueError(f"Expected an image shape (H, W, C) with H, W in 4..256 and C 1 or 3, received {image_shape}.")
    # No global seeding here (it would reseed every other thread's Keras): the
    # initializers, the noise, shift and sampling streams and the shuffle are all
    # seeded from `cfg.seed` themselves.
    cls = VAE if cfg.kind == "vae" else Autoencoder
    model = cls(cfg.to_dict(), shape, precision)
    if compile:
        lr = cfg.learning_rate
        if cfg.lr_schedule == "cosine":
            lr = keras.optimizers.schedules.CosineDecay(lr, decay_steps=max(1, cfg.epochs * steps_per_epoch),
                                                       alpha=0.02)
        model.compile(optimizer=keras.optimizers.Adam(lr), steps_per_execution=steps_per_execution)
    model(np.zeros((1, *shape), "float32"))  # create the weights
    return model
