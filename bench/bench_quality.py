"""Conv AE (latent 10) vs PCA with 10 components, held-out per-pixel MSE.

Target (from the project's quality goals): conv AE MSE <= 0.4 x PCA MSE within 90 s of training on a
2-core CPU. The AE is trained by `aecore.train.train` with the real Stop
mechanism: a timer sets the stop flag at the budget, training ends after that
batch and keeps the best weights so far.

    python bench/bench_quality.py [--budget 90]
"""


# common puts the repository on sys.path and sets the environment: it comes first
from common import line, mnist, parse_args, train_within

# isort: split
import numpy as np

from aecore.config import ModelConfig

# The bench model: the app's default conv AE (ELU, filters 32-64, a 256-unit dense layer) at latent 10,
# with a cosine schedule sized so its 18 epochs end well inside the 90 s budget on this 2-core CPU.
BENCH_AE = ModelConfig(kind="ae", arch="conv", latent_dim=10, epochs=18, patience=0, batch_size=48,
                       learning_rate=2e-3, lr_schedule="cosine", filters=(32, 64), hidden_units=(256,),
                       val_fraction=0.2)


def pca_mse(train_x: np.ndarray, val_x: np.ndarray, k: int = 10) -> float:
    """Held-out MSE of a k-component PCA fitted on the training images (clipped to [0, 1])."""
    a = train_x.reshape(len(train_x), -1).astype(np.float64)
    mean = a.mean(axis=0)
    _, _, vt = np.linalg.svd(a - mean, full_matrices=False)
    v = vt[:k]
    b = val_x.reshape(len(val_x), -1).astype(np.float64)
    rec = np.clip((b - mean) @ v.T @ v + mean, 0, 1)
    return float(((rec - b) ** 2).mean())


def main() -> None:
    args, cfg = parse_args(__doc__, 90.0, "training seconds (default 90)", BENCH_AE)
    ds, train_ds, val_ds = mnist()
    base = pca_mse(train_ds.images, val_ds.images)
    line("pca10", heldout_mse=base, train_images=len(train_ds), heldout_images=len(val_ds))

    res, wall = train_within(cfg, ds, args.budget)  # splits ds the same way: the same 8,000 / 2,000
    mse = res.metrics["mse"]
    line("conv_ae_latent10", filters=",".join(map(str, cfg.filters)), hidden=",".join(map(str, cfg.hidden_units)),
         batch=cfg.batch_size, lr=cfg.learning_rate, schedule=cfg.lr_schedule, heldout_mse=mse,
         train_seconds=res.seconds, wall_seconds=wall, epochs=len(res.history["loss"]), best_epoch=res.best_epoch)
    ratio = mse / base
    line("conv_ae_vs_pca10", ratio=ratio, target="<=0.40", met=ratio <= 0.40)


if __name__ == "__main__":
    main()
