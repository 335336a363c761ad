"""Tests for aecore.train: history, progress events, early stopping, the stop
flag, the NaN guard, determinism and held-out metrics, on real digits."""

import math
import threading

import numpy as np
import pytest

from aecore.config import ModelConfig
from aecore.train import Progress, TrainingDiverged, train

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
    stop = threading.Event()
    seen = []

    def press_stop_in_epoch_3(e):
        seen.append(e)
        if e.phase == "epoch" and e.epoch == 2:
            stop.set()  # as the UI's Stop button does, from the same loop

    cfg = ModelConfig(kind="ae", epochs=50, patience=0, **SMALL)
    res = train(cfg, mnist_small, callbacks=[press_stop_in_epoch_3], stop_event=stop)
    assert res.stopped == "user"
    # Keras validates the cut epoch too, so it appears in the history, but only
    # one batch of it was trained.
    assert len(res.history["loss"]) == 3
    assert res.steps == 2 * math.ceil(480 / 64) + 1
    assert res.best_epoch == int(np.argmin(res.history["val_loss"])) + 1
    assert res.metrics["val_loss"] == pytest.approx(min(res.history["val_loss"]), rel=1e-3)


def test_early_stopping_restores_the_best_epoch(mnist_small):
    # A large learning rate makes validation loss bounce; patience 1 stops at the first rise.
    cfg = ModelConfig(kind="ae", epochs=30, patience=1, learning_rate=0.05, **SMALL)
    res = train(cfg, mnist_small)
    assert res.stopped == "early_stopping"
    assert len(res.history["val_loss"]) < 30
    best = int(np.argmin(res.history["val_loss"]))
    assert res.best_epoch == best + 1
    assert res.metrics["val_loss"] == pytest.approx(res.history["val_loss"][best], rel=1e-3)  # Keras averages batch means


def test_diverging_training_raises_a_clear_message(mnist_small):
    cfg = ModelConfig(kind="vae", epochs=3, learning_rate=1.0, **{**SMALL, "hidden_units": (256,)})
    with pytest.raises(TrainingDiverged, match="Training diverged at epoch .*learning rate"):
        train(cfg, mnist_small.subset(np.arange(300)))


def test_kl_warmup_ramps_the_weight(mnist_small):
    cfg = ModelConfig(kind="vae", epochs=3, patience=0, kl_warmup_epochs=2, beta=1.0, **SMALL)
    weights = []
    res = train(cfg, mnist_small, callbacks=[lambda e: e.phase == "epoch" and weights.append(None)])
    assert float(res.model.kl_weight.numpy()) == pytest.approx(1.0)
    assert len(weights) == 3


def test_denoising_metrics_report_noisy_and_denoised_psnr(mnist_small):
    small = {**SMALL, "latent_dim": 16, "batch_size": 32}
    res = train(ModelConfig(kind="dae", epochs=6, noise_level=0.4, learning_rate=3e-3, **small), mnist_small)
    assert res.metrics["denoised_psnr"] > res.metrics["noisy_psnr"]


def test_bad_inputs_are_rejected_with_expected_received():
    with pytest.raises(ValueError, match="Expected a ModelConfig"):
        train({"kind": "ae"}, None)
    with pytest.raises(ValueError, match="Expected an aecore.data.Dataset"):
        train(ModelConfig(), np.zeros((10, 28, 28, 1)))
