"""Where one training epoch's time goes: the input pipeline, the compiled step, Keras' loop, the callbacks, validation.

For the conv AE (latent 10) on the 8,000 training digits, at the batch its defaults train with, each part is timed
on its own, median of `--runs` epochs after a warm-up epoch:

- `input`: one epoch of `aecore.train.shuffled_batches` alone (gathers and prefetch, no model).
- `step`: the compiled training step called in a Python loop on batches already in memory, as many as an epoch.
- `fit_loop`: `model.fit` for one epoch without validation or callbacks, minus `step`: Keras' loop and the input.
- `monitor`: `fit` with aecore's progress callback, minus `fit` without it.
- `validation`: one pass over the 2,000 held-out digits.

Printed for each precision (float32, and mixed_bfloat16 where the CPU has bfloat16 units) and each
`steps_per_execution` (1, and what `aecore.train` uses for an epoch of this many batches), one line each, so the
before (float32, 1: a plain `fit`) and the after (aecore's choice) are read from the same run.

    python bench/bench_epoch_profile.py [--runs 3] [--batch N]
"""

# common puts the repository on sys.path and sets the environment: it comes first
from common import line, median, mnist

# isort: split
import argparse
import math
import time

import keras
import tensorflow as tf

from aecore.config import ModelConfig
from aecore.models import build_model
from aecore.train import _Monitor, shuffled_batches, steps_per_execution, training_precision


def timed(fn) -> float:
    t = time.perf_counter()
    fn()
    return time.perf_counter() - t


def profile(cfg: ModelConfig, x, xv, precision: str, spe: int, runs: int) -> None:
    batches = math.ceil(len(x) / cfg.batch_size)
    model = build_model(cfg, x.shape[1:], steps_per_epoch=batches, precision=precision, steps_per_execution=spe)
    data = shuffled_batches(x, cfg.batch_size, cfg.seed, 0, 2 * runs + 2)
    monitor = _Monitor(cfg, batches, [lambda e: None], None)
    held = [tf.constant(x[i:i + cfg.batch_size]) for i in range(0, len(x), cfg.batch_size)]
    step = tf.function(model.train_step)

    def fit(callbacks):
        model.fit(data, epochs=1, steps_per_epoch=batches, callbacks=callbacks, verbose=0)

    parts = {k: [] for k in ("input", "step", "fit", "fit_monitor", "validation")}
    for r in range(runs + 1):  # the first round compiles everything: not counted
        got = {
            "input": timed(lambda r=r: [None for _ in shuffled_batches(x, cfg.batch_size, r, 0, 1)]),
            "step": timed(lambda: [step(b) for b in held][-1]["loss"].numpy()),
            "fit": timed(lambda: fit([])),
            "fit_monitor": timed(lambda: fit([monitor])),
            "validation": timed(lambda: model.evaluate(xv, batch_size=cfg.batch_size, verbose=0)),
        }
        if r:
            for k, v in got.items():
                parts[k].append(v)
    m = {k: median(v) for k, v in parts.items()}
    line("epoch_profile", precision=precision, steps_per_execution=spe, batch=cfg.batch_size,
         input_s=m["input"], step_s=m["step"], fit_loop_s=m["fit"] - m["step"],
         monitor_s=m["fit_monitor"] - m["fit"], validation_s=m["validation"],
         epoch_s=m["fit_monitor"] + m["validation"], img_per_s=len(x) / (m["fit_monitor"] + m["validation"]),
         runs=runs)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--runs", type=int, default=3)
    p.add_argument("--batch", type=int, default=None, help="batch size (default: the conv AE's default)")
    args = p.parse_args()
    cfg = ModelConfig(kind="ae", arch="conv", latent_dim=10)
    cfg = cfg.replace(batch_size=args.batch or cfg.batch_size)
    _, train_ds, val_ds = mnist()
    precisions = ["float32"] + (["mixed_bfloat16"] if training_precision() == "mixed_bfloat16" else [])
    for precision in precisions:
        for spe in sorted({1, steps_per_execution(math.ceil(len(train_ds) / cfg.batch_size))}):
            profile(cfg, train_ds.images, val_ds.images, precision, spe, args.runs)
    keras.backend.clear_session()


if __name__ == "__main__":
    main()
