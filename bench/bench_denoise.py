"""The default denoising AE at Gaussian sigma 0.3 vs the noisy input and classical filters.

The DAE is trained as a user would, `python -m aecore train --kind dae` with no other flag (sigma 0.3 Gaussian
noise is the kind's default), from scratch, `--runs` times. Targets (the project's quality goals), PSNR on the
2,000 held-out MNIST digits, each noised once with the app's own noise (`aecore.models.add_noise`, clipped to
[0, 1]) as the app's held-out metrics do:
- the denoising AE >= 24 dB within 120 s of training (issue 11), printed with its margin: the share by which its
  error (MSE) is below the error 24 dB means (the project asks for 10%, about 0.46 dB);
- at least 9 dB above the noisy input, and at least 4 dB above the best classical filter (median, Gaussian, total
  variation, non-local means), each with its parameter tuned on the first 200 noisy held-out images, then scored
  on all of them.

    python bench/bench_denoise.py [--runs 3]
"""


# common puts the repository on sys.path and sets the environment: it comes first
from common import MARGIN, cli_train, line, mnist, verdict

# isort: split
import argparse

import numpy as np
from scipy import ndimage
from skimage.restoration import denoise_nl_means, denoise_tv_chambolle

from aecore import metrics
from aecore.config import defaults_for
from aecore.models import add_noise
from aecore.train import HELD_OUT_NOISE_SEED

SIGMA = defaults_for("dae").noise_level  # 0.3, Gaussian
TARGET_DB, TRAIN_SECONDS = 24.0, 120.0


def per_image(fn, noisy: np.ndarray) -> np.ndarray:
    return np.stack([fn(img[..., 0])[..., None] for img in noisy]).astype(np.float32)


FILTERS = {
    "median": (lambda p: (lambda im: ndimage.median_filter(im, size=p)), [2, 3, 4, 5]),
    "gaussian": (lambda p: (lambda im: ndimage.gaussian_filter(im, sigma=p)), [0.5, 0.7, 0.9, 1.1, 1.4, 1.8]),
    "total_variation": (lambda p: (lambda im: denoise_tv_chambolle(im, weight=p)),
                        [0.02, 0.05, 0.1, 0.15, 0.2, 0.3, 0.45]),
    "nl_means": (lambda p: (lambda im: denoise_nl_means(im, h=p, sigma=SIGMA, patch_size=3, patch_distance=4,
                                                         fast_mode=True)), [0.03, 0.05, 0.07, 0.1, 0.15, 0.2, 0.3]),
}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--runs", type=int, default=3)
    args = p.parse_args()
    _, _, val_ds = mnist()
    clean = val_ds.images
    noisy = add_noise(clean, "gaussian", SIGMA, seed=HELD_OUT_NOISE_SEED)  # the noise the held-out metrics add
    noisy_psnr = metrics.psnr(clean, noisy)
    line("noisy_input", psnr_db=noisy_psnr, sigma=SIGMA, heldout_images=len(clean))

    best_classical = -np.inf
    for name, (make, params) in FILTERS.items():
        tune = {q: metrics.psnr(clean[:200], per_image(make(q), noisy[:200])) for q in params}
        q = max(tune, key=tune.get)
        score = metrics.psnr(clean, per_image(make(q), noisy))
        best_classical = max(best_classical, score)
        line(f"classical_{name}", psnr_db=score, param=q)

    rows = cli_train(["--kind", "dae"], args.runs)
    assert all(abs(r["noisy_psnr"] - noisy_psnr) < 1e-3 for r in rows), "the held-out metrics noised differently"
    dae = [r["denoised_psnr"] for r in rows]
    med, seconds = float(np.median(dae)), [r["train_seconds"] for r in rows]
    margin = 1 - 10 ** ((TARGET_DB - med) / 10)  # how far its MSE is below 24 dB's
    line("denoising_ae_psnr", median_db=med, spread_db=float(np.ptp(dae)), runs=len(dae), target=f">={TARGET_DB:g}dB",
         margin=f"{margin:+.1%}", margin_db=med - TARGET_DB, met=margin >= 0, margin_10pct=margin >= MARGIN,
         ssim=float(np.median([r["ssim"] for r in rows])), command="'python -m aecore train --kind dae'")
    verdict("denoising_ae_train_seconds", seconds, TRAIN_SECONDS, unit="s",
            epochs=int(np.median([r["epochs_run"] for r in rows])))
    line("dae_gain", over_noisy_db=med - noisy_psnr, target_noisy=">=9", over_best_classical_db=med - best_classical,
         target_classical=">=4", met=(med - noisy_psnr >= 9) and (med - best_classical >= 4))


if __name__ == "__main__":
    main()
