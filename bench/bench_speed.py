"""Inference latency and training throughput.

1. One-image decode of the default models (the home page's conv VAE latent 2,
   and the conv AE latent 10 of bench_quality): `Engine.decode_one` (a
   compiled tf.function) vs `decoder.predict` on the same code. Target: median
   under 3 ms.
2. Training throughput (images/s) of the conv AE and the conv VAE through
   `aecore.train.train`, beside baselines of the same layers and batch, each
   validating every epoch as aecore does: for the AE a plain `model.fit` of a
   functional Keras model (encoder -> decoder) compiled with binary
   cross-entropy (target: aecore >= 1.3x); for the VAE a keras-io style VAE
   (`KerasIoVAE`: `train_step` with `GradientTape`, sampling and the KL term;
   target >= 1.0x), and the plain fit of its mean path for reference. Whole
   runs of 10 epochs on the 8,000 training digits, median of 3 runs each, in
   this one process. 10, not 3: the first epoch carries the step's tracing
   (about 2 s here, more for aecore's several-batches-per-call step in
   bfloat16), which a default training of 20-40 epochs spreads thin but a
   3-epoch run is mostly made of.
3. The home page's one-click default model: seconds to train (target < 120).

    python bench/bench_speed.py [--runs 3] [--epochs 10]
"""

# common puts the repository on sys.path and sets the environment: it comes first
from common import line, median, mnist, verdict

# isort: split
import argparse
import time

import keras
import numpy as np
import tensorflow as tf
from keras import ops

from aecore.config import QUICKSTART, ModelConfig, defaults_for
from aecore.infer import Engine
from aecore.models import Sampling, build_model
from aecore.train import train, training_precision

CONV_AE = defaults_for("ae", "conv")  # latent 10
CONV_VAE = QUICKSTART


def decode_latency(cfg: ModelConfig, name: str, n: int = 300) -> None:
    model = build_model(cfg, (28, 28, 1), compile=False)
    eng = Engine(model)
    rng = np.random.default_rng(0)
    zs = rng.standard_normal((n, cfg.latent_dim)).astype(np.float32)
    for z in zs[:20]:
        eng.decode_one(z)  # warm
    fast = []
    for z in zs:
        t = time.perf_counter()
        eng.decode_one(z)
        fast.append((time.perf_counter() - t) * 1000)
    slow = []
    for z in zs[:40]:
        t = time.perf_counter()
        model.decoder.predict(z[None], verbose=0)
        slow.append((time.perf_counter() - t) * 1000)
    line(f"decode_one_{name}", median_ms=median(fast), p90_ms=float(np.percentile(fast, 90)),
         predict_median_ms=median(slow), speedup=median(slow) / median(fast), target_ms="<3",
         met=median(fast) < 3)


def plain_fit_model(cfg: ModelConfig) -> keras.Model:
    """The same layers as aecore's model, as a plain functional model for model.fit(x, x)."""
    m = build_model(cfg, (28, 28, 1), compile=False)
    x = keras.Input((28, 28, 1))
    z = m.encoder(x)
    out = m.decoder(z[0] if cfg.kind == "vae" else z)
    plain = keras.Model(x, out)
    plain.compile(optimizer=keras.optimizers.Adam(cfg.learning_rate), loss="binary_crossentropy")
    return plain


class KerasIoVAE(keras.Model):
    """keras-io's `examples/generative/vae.py` on aecore's encoder and decoder (the same layers): a `train_step`
    with `GradientTape`, z drawn with the reparameterisation trick, binary cross-entropy summed over the pixels
    plus the KL term, loss trackers; and a `test_step` of the same losses, so it validates every epoch as aecore
    does (the fair baseline for a VAE: sampling and KL included)."""

    def __init__(self, cfg: ModelConfig, **kwargs):
        super().__init__(**kwargs)
        m = build_model(cfg, (28, 28, 1), compile=False)
        self.encoder, self.decoder, self.sampling = m.encoder, m.decoder, Sampling(cfg.seed)
        self.trackers = [keras.metrics.Mean(name=n) for n in ("loss", "recon", "kl")]

    @property
    def metrics(self):
        return self.trackers

    def losses(self, x, training: bool):
        z_mean, z_log_var = self.encoder(x, training=training)
        z = self.sampling(z_mean, z_log_var) if training else z_mean
        bce = keras.losses.binary_crossentropy(x, self.decoder(z, training=training))
        recon = ops.mean(ops.sum(bce, axis=(1, 2)))
        kl = ops.mean(ops.sum(-0.5 * (1 + z_log_var - ops.square(z_mean) - ops.exp(z_log_var)), axis=1))
        return recon + kl, recon, kl

    def train_step(self, data):
        x = keras.utils.unpack_x_y_sample_weight(data)[0]
        with tf.GradientTape() as tape:
            values = self.losses(x, training=True)
        grads = tape.gradient(values[0], self.trainable_weights)
        self.optimizer.apply_gradients(zip(grads, self.trainable_weights))
        return self.track(values)

    def test_step(self, data):
        return self.track(self.losses(keras.utils.unpack_x_y_sample_weight(data)[0], training=False))

    def track(self, values):
        for t, v in zip(self.trackers, values):
            t.update_state(v)
        return {t.name: t.result() for t in self.trackers}


def keras_io_vae(cfg: ModelConfig) -> keras.Model:
    model = KerasIoVAE(cfg)
    model.compile(optimizer=keras.optimizers.Adam(cfg.learning_rate))
    return model


def throughput(cfg: ModelConfig, name: str, ds, train_x, val_x, runs: int, epochs: int, baselines: dict) -> None:
    """Images per second of `aecore.train.train` and of each baseline (name -> (a function of the config that
    builds a compiled Keras model, fitted on (x, x): `KerasIoVAE` reads x only; the target ratio)), whole runs of
    `epochs` epochs, validating every epoch, `runs` times in turn; a line per baseline with the median ratio, its
    spread, the target and the margin."""
    # No shifted images (the baselines learn from the images as they are: the same work per batch).
    cfg = cfg.replace(epochs=epochs, patience=0, limit=None, kl_warmup_epochs=0, augment_shift=0)
    ours, base = [], {k: [] for k in baselines}
    for _ in range(runs):
        res = train(cfg, ds)
        ours.append(len(train_x) * epochs / res.seconds)
        for k, (make, _) in baselines.items():
            model = make(cfg)
            t = time.perf_counter()
            model.fit(train_x, train_x, epochs=epochs, batch_size=cfg.batch_size, shuffle=True, verbose=0,
                      validation_data=(val_x, val_x))
            base[k].append(len(train_x) * epochs / (time.perf_counter() - t))
    for k, (_, target) in baselines.items():
        verdict(f"train_throughput_{name}_vs_{k}", [a / b for a, b in zip(ours, base[k])], target,
                lower_is_better=False, unit="x", aecore_img_per_s=median(ours), baseline_img_per_s=median(base[k]),
                precision=training_precision(), epochs=epochs, batch=cfg.batch_size)


def rerun_cleanup() -> None:
    """What Streamlit's runner does after every rerun once Keras is imported (clear_session + full GC),
    with the app's default models loaded, against the app's replacement (nothing)."""
    import gc

    models = [Engine(build_model(c, (28, 28, 1), compile=False)) for c in (CONV_VAE, CONV_AE)]
    times = []
    for _ in range(10):
        t = time.perf_counter()
        keras.backend.clear_session()
        gc.collect(2)
        times.append((time.perf_counter() - t) * 1000)
    models[0].decode_one(np.zeros(2, np.float32))  # the engines still work afterwards
    line("streamlit_rerun_cleanup", clear_session_plus_gc_median_ms=median(times), app_median_ms=0.0,
         note="ui.setup replaces keras.backend.clear_session; .streamlit/config.toml sets postScriptGC=false")


def quickstart(ds) -> None:
    """The home page's one-click model, trained from scratch as the button does."""
    res = train(QUICKSTART, ds)
    line("quickstart_conv_vae_latent2", train_seconds=res.seconds, epochs=len(res.history["loss"]),
         stopped=res.stopped, heldout_mse=res.metrics["mse"], target_s="<120", met=res.seconds < 120)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--runs", type=int, default=3)
    p.add_argument("--epochs", type=int, default=10)
    args = p.parse_args()
    decode_latency(CONV_VAE, "conv_vae_latent2")
    decode_latency(CONV_AE, "conv_ae_latent10")
    rerun_cleanup()
    ds, train_ds, val_ds = mnist()
    quickstart(ds)
    throughput(CONV_AE, "conv_ae", ds, train_ds.images, val_ds.images, args.runs, args.epochs,
               {"plain_fit": (plain_fit_model, 1.3)})
    throughput(CONV_VAE, "conv_vae", ds, train_ds.images, val_ds.images, args.runs, args.epochs,
               {"keras_io_vae": (keras_io_vae, 1.0), "plain_fit_no_kl": (plain_fit_model, 1.0)})


if __name__ == "__main__":
    main()
