"""Denoising AE at Gaussian sigma 0.3 vs the noisy input and classical filters.

Targets (from the project's quality goals), PSNR on held-out MNIST digits:
- the denoising AE at least 9 dB above the noisy input;
- and at least 4 dB above the best classical filter (median, Gaussian, total
  variation, non-local means), each with its parameter tuned on the same
  noisy held-out images (the first 200), then scored on all of them.
The noise is the app's own (`aecore.models.add_noise`, clipped to [0, 1]).

    python bench/bench_denoise.py [--budget 300]
"""


# common puts the repository on sys.path and sets the environment: it comes first
from common import line, mnist, parse_args, train_within

# isort: split
import numpy as np
from scipy import ndimage
from skimage.restoration import denoise_nl_means, denoise_tv_chambolle

from aecore import metrics
from aecore.config import ModelConfig
from aecore.infer import Engine
from aecore.models import add_noise

SIGMA = 0.3
# A conv denoising AE with a wide code (128) straight from the conv maps (no narrower dense layer in
# between), so fine strokes survive; no time limit is set here: 50 epochs, about 3 minutes on 2 cores.
BENCH_DAE = ModelConfig(kind="dae", arch="conv", noise="gaussian", noise_level=SIGMA, latent_dim=128, epochs=50,
                        patience=0, batch_size=64, learning_rate=2e-3, lr_schedule="cosine", filters=(32, 64),
                        hidden_units=())


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
    args, cfg = parse_args(__doc__, 300.0, "DAE training seconds at most (default 300)", BENCH_DAE)
    ds, _, val_ds = mnist()
    clean = val_ds.images
    noisy = add_noise(clean, "gaussian", SIGMA, seed=2024)
    noisy_psnr = metrics.psnr(clean, noisy)
    line("noisy_input", psnr_db=noisy_psnr, sigma=SIGMA, heldout_images=len(clean))

    best_classical = -np.inf
    for name, (make, params) in FILTERS.items():
        tune = {q: metrics.psnr(clean[:200], per_image(make(q), noisy[:200])) for q in params}
        q = max(tune, key=tune.get)
        score = metrics.psnr(clean, per_image(make(q), noisy))
        best_classical = max(best_classical, score)
        line(f"classical_{name}", psnr_db=score, param=q)

    res, _ = train_within(cfg, ds, args.budget)
    denoised = Engine(res.model).denoise(noisy)
    dae = metrics.psnr(clean, denoised)
    line("denoising_ae", psnr_db=dae, ssim=metrics.ssim(clean, denoised), train_seconds=res.seconds,
         epochs=len(res.history["loss"]))
    line("dae_gain", over_noisy_db=dae - noisy_psnr, target_noisy=">=9", over_best_classical_db=dae - best_classical,
         target_classical=">=4", met=(dae - noisy_psnr >= 9) and (dae - best_classical >= 4))


if __name__ == "__main__":
    main()
