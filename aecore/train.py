"""Training: `train(config, dataset, callbacks)` with live progress.

What it adds to a bare `model.fit`:
- a deterministic 80/20 train/validation split (`aecore.data.split_dataset`),
- progress events (epoch, batch, losses, ETA) for live curves in the UI,
- early stopping that restores the best weights, and a stop flag the UI can
  set: training ends at the next batch and keeps the best weights so far,
  plus what it takes to resume such a run later (`ResumeState`),
- a shuffle owned by the run (a stateless permutation per epoch from the
  config's seed), so the same config trains the same model even while other
  threads build models or reseed Keras,
- a NaN/Inf guard: a diverging run stops with a clear message,
- KL warm-up for the VAE, and held-out metrics (MSE / PSNR / SSIM) at the end.
The training loop itself is Keras' own `fit`, with two of Keras' own levers for speed: several batches per call
of the compiled step (`steps_per_execution`), and mixed bfloat16 precision on a CPU with bfloat16 units
(`training_precision`; the model handed back computes in float32, as a loaded one does).
"""

from __future__ import annotations

import collections
import dataclasses
import functools
import math
import os
import re
import threading
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import keras
import numpy as np
import tensorflow as tf

from . import metrics
from .config import ModelConfig
from .data import Dataset, split_dataset
from .models import PRECISIONS, Autoencoder, add_noise, build_model
from .sizing import check_fits

HELD_OUT_NOISE_SEED = 12345  # the noise a denoising AE's held-out scores are measured on (the same every time)
PRECISION_ENV = "AECORE_PRECISION"  # float32 or mixed_bfloat16: overrides `training_precision`'s choice
# Batches per call of the compiled training step, at most: fewer trips through Python and the callbacks per epoch
# (progress, the Stop flag and the NaN guard are then checked every 8 batches: some 0.1 s on this CPU).
STEPS_PER_EXECUTION = 8


def steps_per_execution(batches: int) -> int:
    """Batches per execution of the training step for an epoch of `batches`: the largest divisor of `batches` up to
    `STEPS_PER_EXECUTION` that leaves at least 4 executions an epoch (a small dataset still shows progress, and
    stops, within its epochs). A divisor, because Keras runs whole executions: 8 on an epoch of 167 batches would
    take the next epoch's first batch (and the last epoch would come up short)."""
    return max(d for d in range(1, STEPS_PER_EXECUTION + 1) if batches % d == 0 and (d == 1 or batches // d >= 4))


class TrainingDiverged(RuntimeError):
    """Raised when a loss becomes NaN or infinite during training."""


@dataclasses.dataclass
class Progress:
    """One progress event sent to every callback.

    phase: "batch" (throttled, a few per second), "epoch" or "end".
    epoch: 1-based epoch in progress; batch: 1-based batch within it.
    losses: the latest running losses (train, and val_* after an epoch).
    history: per-epoch lists so far, as in `TrainResult.history`.
    eta: seconds left for all `epochs` epochs, at the pace of the recent batches (see `_Pace`); NaN while
        only the first execution of the training step (with the compilation) has run, unless an epoch has
        ended (then the run's pace so far).
    """

    phase: str
    epoch: int
    epochs: int
    batch: int
    batches: int
    losses: dict[str, float]
    history: dict[str, list[float]]
    elapsed: float
    eta: float


@dataclasses.dataclass
class TrainResult:
    """What `train` returns: the model and everything worth caching."""

    model: Autoencoder
    config: ModelConfig
    history: dict[str, list[float]]
    metrics: dict[str, float]
    stopped: str  # "completed", "early_stopping" or "user" (see COMPLETE)
    best_epoch: int
    seconds: float
    image_shape: tuple[int, int, int]
    steps: int = 0  # batches trained, a partial last epoch included
    resume: ResumeState | None = None  # set when stopped before the configured epochs

    @property
    def complete(self) -> bool:
        """True when the run ended as configured (all epochs, or early stopping by patience)."""
        return self.stopped in COMPLETE


# How a run ended. Only the first two finished as configured and may answer a cache lookup.
COMPLETE = ("completed", "early_stopping")
STOPPED_BY_USER = "user"


@dataclasses.dataclass
class ResumeState:
    """What a stopped run needs to continue where it left off.

    epoch: completed epochs (training resumes with epoch `epoch + 1`).
    weights: the model's weights when it stopped (the entry itself keeps the best ones).
    optimizer: the optimizer's variables (step count, Adam's moments), in order.
    rng: the states of the model's noise, shift and sampling streams (not among its weights).
    history, best_loss, best_epoch, wait, steps, seconds: the run's bookkeeping so far.
    """

    epoch: int
    weights: list[np.ndarray]
    optimizer: list[np.ndarray]
    rng: list[np.ndarray]
    history: dict[str, list[float]]
    best_loss: float
    best_epoch: int
    wait: int
    steps: int
    seconds: float


ProgressFn = Callable[[Progress], Any]


class _Pace:
    """Seconds left at the pace of the last `window` batches (an epoch's: past an epoch's end, with its validation
    pass), leaving out the two that carry compilation (several times a batch's time each): the run's first batch
    and the first validation pass. The run's average since its start said 82 s early in a 51 s run."""

    def __init__(self, window: int):
        self.seconds: collections.deque[float] = collections.deque(maxlen=max(1, window))  # a batch's, recent ones
        self.last: float | None = None
        self.skip_next = False  # set at the run's first epoch end: the next interval holds a compilation

    def mark(self, now: float, batches: int = 1) -> None:
        """`batches` batches (one execution) ended at time `now`."""
        if self.last is not None and not self.skip_next:
            self.seconds.extend([(now - self.last) / batches] * batches)
        self.last, self.skip_next = now, False

    def eta(self, remaining: int) -> float:
        """Seconds for `remaining` batches; NaN (not known yet) before the second batch has ended."""
        return sum(self.seconds) / len(self.seconds) * remaining if self.seconds else math.nan


class _Monitor(keras.callbacks.Callback):
    """Bridges Keras' callbacks to progress events, early stopping, stop flag, NaN guard."""

    def __init__(self, cfg: ModelConfig, batches: int, fns: list[ProgressFn],
                 stop_event: threading.Event | None, every: float = 0.25, clock=time.perf_counter):
        super().__init__()
        self.cfg, self.batches, self.fns, self.stop_event, self.every = cfg, batches, fns, stop_event, every
        self.clock, self.pace = clock, _Pace(batches)
        self.history: dict[str, list[float]] = {}
        self.best_loss, self.best_weights, self.best_epoch, self.wait = math.inf, None, 0, 0
        self.stopped, self.diverged = "completed", None
        self.epoch, self.t0, self.last_emit, self.steps = 0, 0.0, 0.0, 0
        self.first_epoch, self.epochs_done, self.batches_this_epoch = 0, 0, 0

    def resume_from(self, state: ResumeState, best_weights: list[np.ndarray] | None) -> None:
        """Continue a stopped run's bookkeeping (history, best weights, patience)."""
        self.history = {k: list(v) for k, v in state.history.items()}
        self.best_loss, self.best_epoch = state.best_loss, state.best_epoch
        self.wait, self.steps = state.wait, state.steps
        self.best_weights = best_weights if state.best_epoch > 0 else None
        self.first_epoch = self.epoch = self.epochs_done = state.epoch

    def _emit(self, phase: str, batch: int, losses: dict) -> None:
        done = (self.epoch - self.first_epoch) * self.batches + batch
        elapsed = self.clock() - self.t0
        total = (self.cfg.epochs - self.first_epoch) * self.batches
        eta = self.pace.eta(total - done) if done < total else 0.0
        if math.isnan(eta) and phase == "epoch":  # a one-execution epoch: its whole time, compilation and all
            eta = elapsed / done * (total - done)
        event = Progress(phase, self.epoch + 1, self.cfg.epochs, batch, self.batches,
                         losses, self.history, elapsed, eta)
        for fn in self.fns:
            fn(event)

    def on_train_begin(self, logs=None):
        self.t0 = self.clock()

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch, self.batches_this_epoch = epoch, 0
        if self.cfg.kind == "vae" and self.cfg.kl_warmup_epochs > 0:
            ramp = min(1.0, epoch / self.cfg.kl_warmup_epochs)
            self.model.kl_weight.assign(self.cfg.beta * ramp)

    def on_train_batch_end(self, batch, logs=None):
        # With steps_per_execution > 1 Keras calls this once per execution, `batch` being its last batch.
        ran, now = batch + 1 - self.batches_this_epoch, self.clock()
        self.steps += ran
        self.pace.mark(now, ran)
        self.batches_this_epoch = batch + 1
        losses = {k: float(v) for k, v in (logs or {}).items()}
        bad = [k for k, v in losses.items() if not math.isfinite(v)]
        if bad:
            self.diverged = (f"Training diverged at epoch {self.epoch + 1}, batch {batch + 1}: "
                             f"{bad[0]} became {losses[bad[0]]}. Expected finite losses; "
                             f"try a lower learning rate (received {self.cfg.learning_rate}).")
            self.model.stop_training = True
            return
        if self.stop_event is not None and self.stop_event.is_set():
            self.stopped = STOPPED_BY_USER
            self.model.stop_training = True
        if self.fns and now - self.last_emit >= self.every:
            self.last_emit = now
            self._emit("batch", batch + 1, losses)

    def on_epoch_end(self, epoch, logs=None):
        self.pace.skip_next |= epoch == self.first_epoch  # its validation pass compiles: not a pace
        if self.diverged:
            return
        logs = {k: float(v) for k, v in (logs or {}).items()}
        if "val_loss" not in logs:  # no validation ran
            return
        if self.batches_this_epoch < self.batches:
            return  # stopped mid-epoch: the epoch is not counted (a resume runs it again)
        self.epochs_done = epoch + 1
        if not all(math.isfinite(v) for v in logs.values()):
            self.diverged = f"Training diverged at epoch {epoch + 1}: validation losses {logs}. Expected finite values."
            self.model.stop_training = True
            return
        for k, v in logs.items():
            self.history.setdefault(k, []).append(v)
        warming = self.cfg.kind == "vae" and epoch < self.cfg.kl_warmup_epochs
        if warming or logs["val_loss"] < self.best_loss:
            # During KL warm-up the loss is not comparable across epochs: keep the latest.
            self.best_loss = math.inf if warming else logs["val_loss"]
            self.best_weights, self.best_epoch, self.wait = self.model.get_weights(), epoch + 1, 0
        else:
            self.wait += 1
            if self.cfg.patience and self.wait >= self.cfg.patience:
                self.stopped = "early_stopping"
                self.model.stop_training = True
        self._emit("epoch", self.batches, logs)
        if self.stop_event is not None and self.stop_event.is_set():  # a stop asked at an epoch's end ends here
            self.stopped = STOPPED_BY_USER
            self.model.stop_training = True

    def restore_best(self) -> None:
        if self.best_weights is not None:
            self.model.set_weights(self.best_weights)

    def outcome(self) -> str:
        """How the run ended; a stop after the last batch of the last epoch is a completed run."""
        if self.stopped == STOPPED_BY_USER and self.epochs_done >= self.cfg.epochs:
            return "completed"
        return self.stopped


def shuffled_batches(images: np.ndarray, batch_size: int, seed: int, first_epoch: int, epochs: int) -> tf.data.Dataset:
    """Batches for epochs `first_epoch .. epochs - 1`, each epoch in its own order.

    The order of epoch `e` is a stateless permutation seeded by `(seed, e)`:
    it depends on nothing but these numbers (not on TensorFlow's global seed,
    which any thread may reset), and a resumed run sees the same orders as an
    uninterrupted one. The images stay one tensor; each batch is a gather.

    Args:
        images: float32 (N, H, W, C).
        batch_size: images per batch (the last batch of an epoch may be smaller).
        seed: the run's seed.
        first_epoch: the first epoch to produce (0-based).
        epochs: one past the last epoch.
    Returns:
        a `tf.data.Dataset` of `(epochs - first_epoch) * ceil(N / batch_size)` batches.
    """
    x = tf.convert_to_tensor(images)
    n = len(images)

    def one_epoch(epoch):
        order = tf.random.experimental.stateless_shuffle(
            tf.range(n, dtype=tf.int64), seed=tf.stack([tf.constant(seed, tf.int64), epoch]))
        return tf.data.Dataset.from_tensor_slices(order).batch(batch_size)

    return (tf.data.Dataset.range(first_epoch, epochs).flat_map(one_epoch)
            .map(lambda idx: tf.gather(x, idx), num_parallel_calls=tf.data.AUTOTUNE)
            .prefetch(tf.data.AUTOTUNE))


def training_precision() -> str:
    """The dtype policy training computes in: `mixed_bfloat16` on a CPU-only machine whose CPU has bfloat16 units
    (AMX or AVX512-BF16: the conv AE trains about 1.4x faster, to the same held-out error), else `float32`.
    The environment variable `AECORE_PRECISION` (`float32` or `mixed_bfloat16`) overrides the choice."""
    forced = os.environ.get(PRECISION_ENV, "").strip()
    if forced:
        if forced not in PRECISIONS:
            raise ValueError(f"Expected {PRECISION_ENV} in {PRECISIONS}, received {forced!r}.")
        return forced
    return "mixed_bfloat16" if _cpu_has_bf16() and not tf.config.list_physical_devices("GPU") else "float32"


@functools.cache
def _cpu_has_bf16() -> bool:
    try:
        flags = Path("/proc/cpuinfo").read_text(errors="replace")
    except OSError:
        return False
    return bool(re.search(r"\b(amx_bf16|avx512_bf16)\b", flags))


def _float32_copy(model: Autoencoder) -> Autoencoder:
    """The trained model rebuilt to compute in float32 (as a loaded model does), with its weights."""
    copy = build_model(model.cfg, model.image_shape, compile=False)
    copy.set_weights(model.get_weights())
    return copy


def _rng_variables(model: Autoencoder) -> list:
    """The seed-generator states of the noise (DAE), shift and sampling (VAE) layers, in model order."""
    return [v for v in model.variables if "seed_generator_state" in v.path]


def _values(variables: list) -> list[np.ndarray]:
    return [np.array(keras.ops.convert_to_numpy(v)) for v in variables]


def _assign(variables: list, values: list[np.ndarray], what: str) -> None:
    """Set `variables` from a stopped run's saved `values`, which must match them one for one."""
    if [tuple(v.shape) for v in variables] != [tuple(np.shape(a)) for a in values]:
        raise ValueError(f"Expected {len(variables)} {what} shaped like this model's, received {len(values)} "
                         f"that do not match: the stopped run cannot be resumed.")
    for var, value in zip(variables, values):
        var.assign(value)


def held_out_metrics(model: Autoencoder, val: np.ndarray, batch_size: int = 256) -> dict[str, float]:
    """MSE / PSNR / SSIM of reconstructions of `val` (plus recon, kl for a VAE).

    Args:
        model: a trained model.
        val: held-out images (N, H, W, C) in [0, 1].
        batch_size: images per forward pass. Default 256.
    Returns:
        dict with `mse`, `psnr`, `ssim`, `val_loss`; `recon`, `kl` for a VAE;
        `noisy_psnr` and `denoised_psnr` for a denoising AE.
    """
    recon = reconstruct_batched(model, val, batch_size)
    out = metrics.summary(val, recon)
    inputs, targets = validation_data(model.cfg, val)
    sums: dict[str, float] = {}
    for i in range(0, len(val), batch_size):
        part = slice(i, i + batch_size)
        target = None if targets is None else targets[part]
        for k, v in model.compute_losses(inputs[part], training=False, target=target).items():
            sums[k] = sums.get(k, 0.0) + float(v) * len(val[part])
    losses = {k: v / len(val) for k, v in sums.items()}
    out["val_loss"] = losses["loss"]
    if model.cfg.kind == "vae":
        out["recon"], out["kl"] = float(losses["recon"]), float(losses["kl"])
    if model.cfg.kind == "dae":
        out["noisy_psnr"] = metrics.psnr(val, inputs)
        out["denoised_psnr"] = metrics.psnr(val, reconstruct_batched(model, inputs, batch_size))
    return {k: float(v) for k, v in out.items()}


def validation_data(cfg: ModelConfig, val: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
    """What a model is scored on after each epoch: `(val, None)`, the images against themselves, or for a denoising
    AE `(noisy, val)`: the held-out images noised once (`HELD_OUT_NOISE_SEED`, the same every epoch and run) against
    the clean ones, so its validation loss, its early stop and its best weights follow the denoising it is for."""
    if cfg.kind != "dae":
        return val, None
    return add_noise(val, cfg.noise, cfg.noise_level, seed=HELD_OUT_NOISE_SEED), val


def reconstruct_batched(model: Autoencoder, images: np.ndarray, batch_size: int = 256) -> np.ndarray:
    """Deterministic reconstructions (VAE: decode the mean) in batches, no `predict`."""
    parts = [keras.ops.convert_to_numpy(model(images[i:i + batch_size]))
             for i in range(0, len(images), batch_size)]
    return np.concatenate(parts) if parts else images[:0].copy()


def prepare_data(cfg: ModelConfig, dataset: Dataset) -> tuple[Dataset, Dataset]:
    """Apply `limit`, then the deterministic split. Returns (train, val)."""
    if not isinstance(dataset, Dataset):
        raise ValueError(f"Expected an aecore.data.Dataset, received {type(dataset).__name__}.")
    ds = dataset.subset(np.arange(min(cfg.limit, len(dataset)))) if cfg.limit else dataset
    if len(ds) < 2:
        raise ValueError(f"Expected at least 2 images to train on, received {len(ds)}.")
    return split_dataset(ds, cfg.val_fraction)


def train(config: ModelConfig, dataset: Dataset, callbacks: Iterable[ProgressFn] = (),
          stop_event: threading.Event | None = None, resume: tuple[ResumeState, list[np.ndarray]] | None = None
          ) -> TrainResult:
    """Train the model `config` describes on `dataset`.

    Args:
        config: a `ModelConfig`; its `dataset_fingerprint` is set from the
            dataset (the returned `result.config` carries it).
        dataset: an `aecore.data.Dataset`.
        callbacks: callables that receive a `Progress` event a few times a
            second while batches run, once per epoch, and once at the end.
        stop_event: when set (e.g. by a Stop button), training stops after the
            current batch and keeps the best weights so far; the result then
            carries a `ResumeState`. An epoch cut short is not counted.
        resume: `(state, best_weights)` of a stopped run of this config:
            training continues from its weights and optimizer state up to
            `config.epochs`. Default None (train from scratch).
    Returns:
        a `TrainResult` (model, config, per-epoch history, held-out metrics).
    Raises:
        TrainingDiverged: a loss became NaN/Inf; nothing is returned to cache.
        ValueError: bad arguments, or a model too big for this machine's memory
            (`aecore.sizing.check_fits`), refused before anything is built.
    """
    if not isinstance(config, ModelConfig):
        raise ValueError(f"Expected a ModelConfig, received {type(config).__name__}.")
    cfg = config.replace(dataset_fingerprint=dataset.fingerprint if isinstance(dataset, Dataset) else "")
    train_ds, val_ds = prepare_data(cfg, dataset)
    check_fits(cfg, train_ds.image_shape)  # refuses, with both figures, a model too big to train here
    batches = math.ceil(len(train_ds) / cfg.batch_size)
    model = build_model(cfg, train_ds.image_shape, steps_per_epoch=batches, precision=training_precision(),
                        steps_per_execution=steps_per_execution(batches))
    fns = list(callbacks)
    monitor = _Monitor(cfg, batches, fns, stop_event)
    earlier = 0.0
    if resume is not None:
        state, best = resume
        model.set_weights(state.weights)
        model.optimizer.build(model.trainable_variables)
        _assign(model.optimizer.variables, state.optimizer, "optimizer variables")
        _assign(_rng_variables(model), state.rng, "random-stream states")
        monitor.resume_from(state, best)
        earlier = state.seconds
    t0 = time.perf_counter()
    if monitor.first_epoch < cfg.epochs:
        model.fit(shuffled_batches(train_ds.images, cfg.batch_size, cfg.seed, monitor.first_epoch, cfg.epochs),
                  epochs=cfg.epochs, initial_epoch=monitor.first_epoch, steps_per_epoch=batches,
                  validation_data=tuple(a for a in validation_data(cfg, val_ds.images) if a is not None),
                  validation_batch_size=cfg.batch_size,
                  shuffle=False, callbacks=[monitor], verbose=0)
    stopped = monitor.outcome()
    resume_state = None
    if stopped == STOPPED_BY_USER:  # keep what a resume needs before the best weights replace the last ones
        resume_state = ResumeState(monitor.epochs_done, model.get_weights(), _values(model.optimizer.variables),
                                   _values(_rng_variables(model)),
                                   {k: list(v) for k, v in monitor.history.items()}, monitor.best_loss,
                                   monitor.best_epoch, monitor.wait, monitor.steps, 0.0)
    monitor.restore_best()
    if monitor.diverged:
        raise TrainingDiverged(monitor.diverged)
    if not all(np.isfinite(w).all() for w in model.get_weights()):
        raise TrainingDiverged("Training produced non-finite weights. Expected finite weights; "
                               "try a lower learning rate.")
    seconds = earlier + time.perf_counter() - t0
    if resume_state is not None:
        resume_state.seconds = seconds
    model = _float32_copy(model) if model.precision != "float32" else model  # what is measured, cached and shown
    result = TrainResult(model, cfg, monitor.history, held_out_metrics(model, val_ds.images),
                         stopped, monitor.best_epoch, seconds, train_ds.image_shape, monitor.steps, resume_state)
    for fn in fns:
        fn(Progress("end", monitor.epoch + 1, cfg.epochs, batches, batches,
                    dict(result.metrics), monitor.history, seconds, 0.0))
    return result
