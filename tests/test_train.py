"""Tests for aecore.train: history, progress events, early stopping, the stop
flag, the NaN guard, determinism and held-out metrics, on real digits."""

import math
import threading

import numpy as np
import pytest

from aecore.config import ModelConfig
from aecore.train import Progress, TrainingDiverged, steps_per_execution, train

SMALL = dict(arch="dense", latent_dim=2, hidden_units=(32,), batch_size=64)


def test_history_and_progress_events(mnist_small):
    events: list[Progress] = []
    cfg = ModelConfig(kind="vae", epochs=3, patience=0, **SMALL)
    res = train(cfg, mnist_small, callbacks=[events.append])
    for k in ("loss", "val_loss", "recon", "val_recon", "kl", "val_kl"):
        assert len(res.history[k]) == 3, k
    phases = [e.phase for e in events]
    assert phases.count("epoch") == 3 and phases[-1] == "end"
    epoch_events = [e for e in events if e.phase == "epoch"]
    assert [e.epoch for e in epoch_events] == [1, 2, 3]
    assert epoch_events[-1].eta == pytest.approx(0.0, abs=1e-6)
    assert epoch_events[0].eta > 0
    assert epoch_events[0].batches == math.ceil(480 / 64)  # 80% of 600 train images
    assert set(res.metrics) >= {"mse", "psnr", "ssim", "recon", "kl", "val_loss"}
    assert res.config.dataset_fingerprint == mnist_small.fingerprint
    assert res.history["val_loss"][-1] < res.history["val_loss"][0]


def test_same_config_and_seed_give_the_same_weights(mnist_small):
    cfg = ModelConfig(kind="dae", epochs=2, **SMALL)
    a, b = train(cfg, mnist_small), train(cfg, mnist_small)
    for wa, wb in zip(a.model.get_weights(), b.model.get_weights()):
        np.testing.assert_allclose(wa, wb, rtol=1e-5, atol=1e-6)
    c = train(cfg.replace(seed=1), mnist_small)
    assert not np.allclose(a.model.get_weights()[0], c.model.get_weights()[0])


def test_stop_flag_stops_at_the_next_batch_and_keeps_best_weights(mnist_small):
    stop, pressed = threading.Event(), []

    def press_stop_mid_epoch(e):
        # Pressed where the next execution (a few batches) still leaves the epoch unfinished: an event (they come
        # at most every `every` seconds, so on a busy machine at other batches) at 6 of 8 would end the epoch.
        if e.phase == "batch" and e.epoch >= 3 and e.batch + steps_per_execution(e.batches) < e.batches \
                and not pressed:
            pressed.append(e)
            stop.set()  # as the UI's Stop button does, from the same loop

    cfg = ModelConfig(kind="ae", epochs=200, patience=0, **SMALL)
    res = train(cfg, mnist_small, callbacks=[press_stop_mid_epoch], stop_event=stop)
    assert res.stopped == "user" and not res.complete
    # The cut epoch is not counted (a resume runs it again): the whole epochs before it, and the batches
    # of the cut one up to the stop.
    at = pressed[0]
    assert len(res.history["loss"]) == at.epoch - 1
    # It ends after the next execution of the training step (a few batches at once).
    assert res.steps == (at.epoch - 1) * math.ceil(480 / 64) + at.batch + steps_per_execution(math.ceil(480 / 64))
    assert res.resume is not None and res.resume.epoch == at.epoch - 1
    assert res.best_epoch == int(np.argmin(res.history["val_loss"])) + 1
    assert res.metrics["val_loss"] == pytest.approx(min(res.history["val_loss"]), rel=1e-3)


def test_a_stop_asked_at_an_epochs_end_ends_there(mnist_small):
    stop = threading.Event()
    cfg = ModelConfig(kind="ae", epochs=50, patience=0, **SMALL)
    res = train(cfg, mnist_small, stop_event=stop,
                callbacks=[lambda e: stop.set() if e.phase == "epoch" and e.epoch == 2 else None])
    assert res.stopped == "user" and len(res.history["loss"]) == 2 and res.steps == 2 * math.ceil(480 / 64)


def test_a_stop_after_the_last_epoch_is_a_completed_run(mnist_small):
    stop = threading.Event()
    cfg = ModelConfig(kind="ae", epochs=2, patience=0, **SMALL)
    res = train(cfg, mnist_small, stop_event=stop,
                callbacks=[lambda e: stop.set() if e.phase == "epoch" and e.epoch == 2 else None])
    assert res.stopped == "completed" and res.complete and res.resume is None


@pytest.mark.parametrize("kind,shift", [("ae", 0), ("dae", 1), ("vae", 0)])
def test_resuming_at_an_epoch_boundary_equals_the_uninterrupted_run(mnist_small, kind, shift):
    """Weights, Adam's moments and step count, the noise/sampling/shift streams and the shuffle all carry over."""
    cfg = ModelConfig(kind=kind, epochs=3, patience=0, lr_schedule="cosine", augment_shift=shift, **SMALL)
    whole = train(cfg, mnist_small)
    stop = threading.Event()
    part = train(cfg, mnist_small, stop_event=stop,
                 callbacks=[lambda e: stop.set() if e.phase == "epoch" and e.epoch == 1 else None])
    assert part.stopped == "user" and part.resume.epoch == 1 and len(part.history["loss"]) == 1
    events = []
    rest = train(cfg, mnist_small, callbacks=[events.append],
                 resume=(part.resume, part.model.get_weights()))
    assert rest.stopped == "completed" and rest.complete
    assert [e.epoch for e in events if e.phase == "epoch"] == [2, 3]  # only the epochs left were trained
    assert rest.steps == whole.steps
    np.testing.assert_allclose(rest.history["val_loss"], whole.history["val_loss"], rtol=1e-5)
    for a, b in zip(rest.model.get_weights(), whole.model.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


def test_same_config_gives_the_same_model_while_other_threads_build_and_reseed(mnist_small):
    """Before: keras.utils.set_random_seed in build_model made a run depend on other threads (max diff 0.76)."""
    import keras

    from aecore.models import build_model

    cfg = ModelConfig(kind="vae", arch="conv", latent_dim=2, epochs=2, batch_size=32, filters=(8, 16),
                      hidden_units=(32,))
    alone = train(cfg, mnist_small)
    done, built = threading.Event(), []

    def churn():
        i = 0
        while not done.is_set():  # what the pages do while a model trains: build and load models
            keras.utils.set_random_seed(i)
            build_model(cfg.replace(seed=i % 5), (28, 28, 1), compile=False)
            built.append(i)
            i += 1

    other = threading.Thread(target=churn)
    other.start()
    try:
        busy = train(cfg, mnist_small)
    finally:
        done.set()
        other.join()
    assert len(built) >= 3  # the other thread really ran during training
    diff = max(float(np.abs(a - b).max()) for a, b in zip(alone.model.get_weights(), busy.model.get_weights()))
    assert diff == 0.0


def test_a_model_too_big_for_memory_is_refused_before_building(mnist_small, monkeypatch):
    monkeypatch.setenv("AECORE_MEMORY_BUDGET", "100M")
    cfg = ModelConfig(kind="ae", arch="dense", hidden_units=(4096, 4096), epochs=1)
    with pytest.raises(ValueError, match=r"Expected a model that fits in memory: training needs about .* available"):
        train(cfg, mnist_small)


def test_early_stopping_restores_the_best_epoch(mnist_small):
    # A large learning rate makes validation loss bounce; patience 1 stops at the first rise.
    cfg = ModelConfig(kind="ae", epochs=30, patience=1, learning_rate=0.05, **SMALL)
    res = train(cfg, mnist_small)
    assert res.stopped == "early_stopping"
    assert len(res.history["val_loss"]) < 30
    best = int(np.argmin(res.history["val_loss"]))
    assert res.best_epoch == best + 1
    # Keras averages batch means
    assert res.metrics["val_loss"] == pytest.approx(res.history["val_loss"][best], rel=1e-3)


def test_diverging_training_raises_a_clear_message(mnist_small):
    cfg = ModelConfig(kind="vae", epochs=3, learning_rate=1.0, **{**SMALL, "hidden_units": (256,)})
    with pytest.raises(TrainingDiverged, match="Training diverged at epoch .*learning rate"):
        train(cfg, mnist_small.subset(np.arange(300)))


def test_kl_warmup_ramps_the_weight(mnist_small, monkeypatch):
    import aecore.train

    real_build_model, built = aecore.train.build_model, []

    def build_model(*args, **kwargs):  # keeps the model train builds, to read its KL weight as epochs end
        built.append(real_build_model(*args, **kwargs))
        return built[-1]

    monkeypatch.setattr(aecore.train, "build_model", build_model)
    cfg = ModelConfig(kind="vae", epochs=4, patience=0, kl_warmup_epochs=2, beta=0.8, **SMALL)
    per_epoch = []  # the weight each epoch trained with, read as it ends
    res = train(cfg, mnist_small,
                callbacks=[lambda e: e.phase == "epoch" and per_epoch.append(float(built[0].kl_weight.numpy()))])
    # Epoch e (from 0) trains with beta * min(1, e / warm-up epochs): 0, beta / 2, then beta from epoch 3 on.
    assert per_epoch == pytest.approx([0.0, 0.4, 0.8, 0.8])
    assert float(res.model.kl_weight.numpy()) == pytest.approx(0.8)


def test_denoising_metrics_report_noisy_and_denoised_psnr(mnist_small):
    small = {**SMALL, "latent_dim": 16, "batch_size": 32}
    res = train(ModelConfig(kind="dae", epochs=6, noise_level=0.4, learning_rate=3e-3, **small), mnist_small)
    assert res.metrics["denoised_psnr"] > res.metrics["noisy_psnr"]


def test_a_denoising_ae_is_validated_on_noisy_held_out_images_against_clean_ones(mnist_small):
    """Its validation loss (the curve, the early stop, the best weights) scores denoising: the held-out images noised
    once with the held-out seed, decoded, against the clean ones; not reconstructing clean inputs."""
    from aecore.models import add_noise
    from aecore.train import HELD_OUT_NOISE_SEED, prepare_data, validation_data

    cfg = ModelConfig(kind="dae", epochs=3, patience=0, noise_level=0.4, **SMALL)
    res = train(cfg, mnist_small)
    val = prepare_data(res.config, mnist_small)[1].images
    inputs, targets = validation_data(cfg, val)
    np.testing.assert_array_equal(inputs, add_noise(val, "gaussian", 0.4, seed=HELD_OUT_NOISE_SEED))
    assert targets is val
    denoising = float(res.model.compute_losses(inputs, training=False, target=val)["loss"])
    clean = float(res.model.compute_losses(val, training=False)["loss"])
    assert res.metrics["val_loss"] == pytest.approx(denoising, rel=1e-4)
    assert res.history["val_loss"][-1] == pytest.approx(denoising, rel=1e-3)
    assert abs(denoising - clean) > 1e-3 * clean  # the two are different scores of this model
    plain_inputs, plain_targets = validation_data(cfg.replace(kind="ae"), val)
    assert plain_inputs is val and plain_targets is None


def test_bad_inputs_are_rejected_with_expected_received():
    with pytest.raises(ValueError, match="Expected a ModelConfig"):
        train({"kind": "ae"}, None)
    with pytest.raises(ValueError, match="Expected an aecore.data.Dataset"):
        train(ModelConfig(), np.zeros((10, 28, 28, 1)))


def test_eta_follows_the_pace_of_recent_batches_not_the_compile_heavy_first_one():
    """The first batch carries the compilation (here 10 s, then 0.1 s a batch): the time left is measured from
    the batches after it, so it is right from the second batch on (the average since the start said ~10x more)."""
    from aecore.train import _Monitor

    events, now = [], [0.0]
    monitor = _Monitor(ModelConfig(kind="ae", epochs=4), batches=20, fns=[events.append], stop_event=None,
                       every=0.0, clock=lambda: now[0])
    monitor.on_train_begin()
    monitor.on_epoch_begin(0)
    for batch in range(20):
        now[0] += 10.0 if batch == 0 else 0.1
        monitor.on_train_batch_end(batch, {"loss": 0.5})
    left = [(e.batch, e.eta) for e in events]
    assert left[1] == (2, pytest.approx(0.1 * 78))  # 78 batches to go at 0.1 s
    assert left[-1] == (20, pytest.approx(0.1 * 60))
    assert left[0][0] == 1 and math.isnan(left[0][1])  # after the first batch only: no pace yet (not 10 s a batch)
    assert all(eta == pytest.approx(0.1 * (80 - batch)) for batch, eta in left[1:])


def test_eta_leaves_out_the_first_validation_pass_and_counts_the_later_ones():
    from aecore.train import _Pace

    pace, now = _Pace(window=4), 0.0
    for seconds in (9.0, 1.0, 1.0, 1.0):  # the first batch (compiling) ends at 9 s, then a batch a second
        now += seconds
        pace.mark(now)
    assert pace.eta(10) == pytest.approx(10.0)
    pace.skip_next = True  # the run's first epoch ended: its validation pass compiled for 20 s
    pace.mark(now := now + 21.0)
    assert pace.eta(10) == pytest.approx(10.0)
    pace.mark(now := now + 3.0)  # a later epoch's end: its validation pass (2 s) is part of the pace
    assert pace.eta(4) == pytest.approx(4 * (1 + 1 + 1 + 3) / 4)


def test_mixed_precision_trains_as_well_and_gives_back_a_float32_model(mnist_small, monkeypatch):
    import keras

    cfg = ModelConfig(kind="vae", arch="conv", latent_dim=2, filters=(8, 16), hidden_units=(32,), epochs=3,
                      patience=0, batch_size=32)
    monkeypatch.setenv("AECORE_PRECISION", "float32")
    full = train(cfg, mnist_small)
    monkeypatch.setenv("AECORE_PRECISION", "mixed_bfloat16")
    mixed = train(cfg, mnist_small)
    # The model handed back (and cached) computes in float32, as a loaded one does, whatever training used.
    assert mixed.model.precision == "float32"
    assert {layer.compute_dtype for layer in mixed.model.decoder.layers} == {"float32"}
    assert keras.ops.convert_to_numpy(mixed.model(mnist_small.images[:4])).dtype == np.float32
    # bfloat16 steps learn about as much: the held-out loss within 5% of float32's (far from the untrained one).
    assert mixed.metrics["val_loss"] == pytest.approx(full.metrics["val_loss"], rel=0.05)
    assert mixed.history["val_loss"][-1] < 0.8 * mixed.history["val_loss"][0]
    monkeypatch.setenv("AECORE_PRECISION", "float16")
    with pytest.raises(ValueError, match="Expected AECORE_PRECISION in .*received 'float16'"):
        train(cfg, mnist_small)


def test_steps_per_execution_divides_the_epoch_and_leaves_four_calls():
    for batches in (1, 2, 7, 8, 63, 100, 167, 1000):
        spe = steps_per_execution(batches)
        assert batches % spe == 0 and 1 <= spe <= 8 and (spe == 1 or batches // spe >= 4)
    assert steps_per_execution(63) == 7 and steps_per_execution(1000) == 8 and steps_per_execution(167) == 1
