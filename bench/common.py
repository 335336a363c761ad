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


def cli_train(flags: list[str], runs: int) -> list[dict]:
    """Train `python -m aecore train FLAGS` `runs` times, each from scratch in a fresh models folder (no cache hit),
    as a user would from a terminal. Returns each run's `list --json` row: held-out metrics, `train_seconds`, ..."""
    import json
    import subprocess
    import tempfile

    rows = []
    for _ in range(runs):
        with tempfile.TemporaryDirectory(prefix="aecore-bench-") as models:
            base = [sys.executable, "-m", "aecore", "--models-dir", models]
            subprocess.run([*base, "train", *flags, "--quiet"], check=True, cwd=ROOT, stdout=subprocess.DEVNULL)
            listed = subprocess.run([*base, "list", "--json"], check=True, cwd=ROOT, capture_output=True, text=True)
            rows.append(json.loads(listed.stdout)["entries"][0])
    return rows


def verdict(name: str, figures: list[float], target: float, lower_is_better: bool = True, unit: str = "",
            **fields) -> bool:
    """One line: the median of `figures` and their spread (max - min), the target, and the margin, as a share of
    the target (positive: met by that much; the project asks for 10%). Returns whether the median meets the
    target with that 10% margin."""
    med = median(figures)
    margin = (target - med) / target if lower_is_better else (med - target) / target
    line(name, median=med, spread=float(np.ptp(figures)), runs=len(figures),
         target=f"{'<=' if lower_is_better else '>='}{target:g}{unit}", margin=f"{margin:+.1%}",
         met=margin >= 0, margin_10pct=margin >= MARGIN, **fields)
    return margin >= MARGIN


MARGIN = 0.10  # the share by which each quality figure should beat its target
