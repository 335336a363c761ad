"""Shared set-up for the benchmark scripts: offline MNIST and the app's own split.

Every figure is measured on the held-out 20% that `aecore.data.split_dataset`
keeps aside (the same images the app shows as "held-out"), after training on
the other 80% of the offline MNIST digits in ../shared/data.
"""

import argparse
import os
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("AECORE_DATA_DIR", str(ROOT.parent / "shared" / "data"))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402

from aecore.builtin_data import load_dataset  # noqa: E402
from aecore.data import split_dataset  # noqa: E402
from aecore.train import train  # noqa: E402


def mnist():
    """The 10,000 offline MNIST digits, and their (train, val) split: 8,000 / 2,000."""
    ds = load_dataset("mnist")
    return ds, *split_dataset(ds, 0.2)


def median(xs):
    return float(np.median(np.asarray(xs, dtype=np.float64)))


def line(name: str, **fields) -> None:
    """Print one result line: `name key=value ...` (the README quotes these lines)."""
    parts = [f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in fields.items()]
    print(name + " " + " ".join(parts), flush=True)


def parse_args(doc: str, budget: float, budget_help: str, default_cfg):
    """The options of a training bench: `--budget SECONDS` and `--set FIELD=VALUE ...`.

    Returns (args, config): `default_cfg` with the `--set` overrides applied.
    """
    p = argparse.ArgumentParser(description=doc.splitlines()[0])
    p.add_argument("--budget", type=float, default=budget, help=budget_help)
    p.add_argument("--set", nargs="*", default=[], metavar="FIELD=VALUE",
                   help="override the bench model's config fields, e.g. --set epochs=30 filters=16,32")
    args = p.parse_args()
    return args, with_overrides(default_cfg, args.set)


def train_within(cfg, ds, seconds: float):
    """`aecore.train.train` with the real Stop mechanism on a timer: training ends after the batch
    running at `seconds` and keeps the best weights. Returns (result, wall seconds)."""
    stop = threading.Event()
    timer = threading.Timer(seconds, stop.set)
    t0 = time.perf_counter()
    timer.start()
    try:
        res = train(cfg, ds, stop_event=stop)
    finally:
        timer.cancel()
    return res, time.perf_counter() - t0


def with_overrides(cfg, items):
    """Apply `--set FIELD=VALUE` overrides to a ModelConfig (tuples as comma-separated ints)."""
    for item in items:
        field, value = item.split("=", 1)
        current = getattr(cfg, field)
        if isinstance(current, tuple):
            cast = lambda v: tuple(int(x) for x in v.split(",") if x)  # noqa: E731
        else:
            cast = int if current is None else type(current)  # the optional fields (limit, ...) are integers
        cfg = cfg.replace(**{field: cast(value)})
    return cfg
