"""Shared set-up for the benchmark scripts: offline MNIST and the app's own split.

Every figure is measured on the held-out 20% that `aecore.data.split_dataset`
keeps aside (the same images the app shows as "held-out"), after training on
the other 80% of the offline MNIST digits in ../shared/data.
"""

import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("AECORE_DATA_DIR", str(ROOT.parent / "shared" / "data"))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402

from aecore.data import load_dataset, split_dataset  # noqa: E402


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


def add_set_argument(parser, name: str) -> None:
    """The `--set FIELD=VALUE ...` option every bench script offers for its model config."""
    parser.add_argument("--set", nargs="*", default=[], metavar="FIELD=VALUE",
                        help=f"override {name} fields, e.g. --set epochs=30 filters=16,32")


def with_overrides(cfg, items):
    """Apply `--set FIELD=VALUE` overrides to a ModelConfig (tuples as comma-separated ints)."""
    for item in items:
        field, value = item.split("=", 1)
        current = getattr(cfg, field)
        cast = (lambda v: tuple(int(x) for x in v.split(",") if x)) if isinstance(current, tuple) else type(current)
        cfg = cfg.replace(**{field: cast(value)})
    return cfg
