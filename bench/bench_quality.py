"""Held-out quality of the default models, trained as a user would: `python -m aecore train` with no flag beyond
kind, architecture and latent size (every other setting is the kind's default, `aecore.config.defaults_for`),
from scratch in a fresh models folder, `--runs` times each. Targets (the project's quality goals, issue 11):

- `conv_ae`: `--kind ae --arch conv --latent-dim 10`: held-out MSE <= 0.35 x PCA-10's;
- `dense_ae`: `--kind ae --arch dense --latent-dim 32`: held-out MSE <= 0.40 x PCA-32's;
- `vae`: `--kind vae` (the home page's one-click model: conv, latent 2): held-out reconstruction BCE summed per
  image <= 145 nats, with its KL (nats per image) beside it;

each within 60 s of training on this 2-core CPU. A line per figure: the median of the runs, their spread, the
target and the margin (the share by which the median beats the target; the project asks for 10%). PCA is fitted on
the same 8,000 training digits and scored on the same 2,000 held-out ones as the app's split.

    python bench/bench_quality.py [--runs 3] [--only conv_ae,dense_ae,vae]
"""

# common puts the repository on sys.path and sets the environment: it comes first
from common import cli_train, line, mnist, verdict

# isort: split
import argparse

import numpy as np

TRAIN_SECONDS = 60.0  # the time each default model should train within
BENCHES = {  # name: (the CLI's flags, PCA components to compare with or None, target)
    "conv_ae": (["--kind", "ae", "--arch", "conv", "--latent-dim", "10"], 10, 0.35),
    "dense_ae": (["--kind", "ae", "--arch", "dense", "--latent-dim", "32"], 32, 0.40),
    "vae": (["--kind", "vae"], None, 145.0),
}


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
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--runs", type=int, default=3)
    p.add_argument("--only", default=",".join(BENCHES), help="which of " + ", ".join(BENCHES))
    args = p.parse_args()
    _, train_ds, val_ds = mnist()
    pixels = int(np.prod(val_ds.images.shape[1:]))
    for name in args.only.split(","):
        flags, k, target = BENCHES[name]
        rows = cli_train(flags, args.runs)
        seconds = [r["train_seconds"] for r in rows]
        command = "python -m aecore train " + " ".join(flags)
        if k is not None:
            base = pca_mse(train_ds.images, val_ds.images, k)
            line(f"pca{k}", heldout_mse=base, train_images=len(train_ds), heldout_images=len(val_ds))
            verdict(f"{name}_mse_vs_pca{k}", [r["mse"] / base for r in rows], target, command=repr(command),
                    heldout_mse=float(np.median([r["mse"] for r in rows])))
        else:
            kl = float(np.median([r["kl"] for r in rows]))
            verdict(f"{name}_bce_summed", [r["recon"] * pixels for r in rows], target, unit="nats",
                    command=repr(command), kl_nats=kl, heldout_mse=float(np.median([r["mse"] for r in rows])))
        verdict(f"{name}_train_seconds", seconds, TRAIN_SECONDS, unit="s",
                epochs=int(np.median([r["epochs_run"] for r in rows])))


if __name__ == "__main__":
    main()
