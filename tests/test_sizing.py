"""Tests for aecore.sizing: exact parameter counts without building, and refusing models that cannot fit."""

import subprocess
import sys
import time
from pathlib import Path

import pytest

from aecore import sizing
from aecore.config import ModelConfig

ROOT = Path(__file__).resolve().parents[1]
HUGE = ModelConfig(hidden_units=(8192,) * 8)  # the Advanced settings' maximum: about a billion parameters


@pytest.mark.parametrize("cfg_kwargs,shape", [
    (dict(kind="ae", arch="dense", hidden_units=(16,), latent_dim=2), (8, 8, 1)),
    (dict(kind="dae", arch="dense", hidden_units=(16, 8), latent_dim=3), (28, 28, 1)),
    (dict(kind="sparse", arch="dense", hidden_units=(), latent_dim=4), (8, 8, 1)),
    (dict(kind="vae", arch="dense", hidden_units=(16,), latent_dim=2), (28, 28, 1)),
    (dict(kind="vae", arch="dense", hidden_units=(8, 4), latent_dim=3), (32, 32, 3)),
    (dict(kind="ae", arch="conv", filters=(4,), hidden_units=(8,), latent_dim=2), (28, 28, 1)),
    (dict(kind="vae", arch="conv", filters=(4, 8), hidden_units=(8,), latent_dim=2), (64, 64, 1)),
    (dict(kind="dae", arch="conv", filters=(4, 8, 8, 4), hidden_units=(), latent_dim=5), (64, 64, 1)),
    (dict(kind="sparse", sparsity="kl", arch="conv", filters=(4, 8), hidden_units=(8,), latent_dim=3), (32, 32, 3)),
    (dict(kind="vae", arch="conv", filters=(4, 8), hidden_units=(), latent_dim=2), (8, 8, 1)),
    # 30 -> 15, then stride 1:
    (dict(kind="ae", arch="conv", filters=(4, 8), hidden_units=(8,), latent_dim=2), (30, 30, 1)),
    (dict(kind="vae", arch="conv", filters=(2, 4), hidden_units=(4,), latent_dim=2), (15, 15, 3)),  # odd: all stride 1
    (dict(kind="ae", arch="conv", filters=(4, 8, 4), hidden_units=(8,), latent_dim=2), (28, 20, 3)),  # not square
])
def test_count_parameters_equals_the_built_model(cfg_kwargs, shape):
    from aecore.models import build_model

    cfg = ModelConfig(**cfg_kwargs)
    assert sizing.count_parameters(cfg, shape) == build_model(cfg, shape, compile=False).count_params()


def test_huge_model_is_refused_quickly_with_both_figures():
    n = sizing.count_parameters(HUGE, (28, 28, 1))
    assert n > 900_000_000
    start = time.perf_counter()
    with pytest.raises(ValueError) as e:
        sizing.check_fits(HUGE, (28, 28, 1), available=16 * 2**30)  # a 16 GiB machine
    assert time.perf_counter() - start < 1.0  # arithmetic only: nothing was built
    msg = str(e.value)
    assert msg.startswith("Expected a model that fits in memory: training needs about ")
    assert f"({n:,} parameters, batch 128)" in msg and "received 17.2 GB available (80% usable)" in msg


def test_sizing_builds_nothing_and_never_imports_keras():
    code = ("import sys; from aecore import sizing; from aecore.config import ModelConfig\n"
            "try:\n    sizing.check_fits(ModelConfig(hidden_units=(8192,) * 8), (28, 28, 1), available=2**34)\n"
            "except ValueError as e:\n    print(e)\n"
            "assert not {'keras', 'tensorflow'} & set(sys.modules), 'sizing imported keras'")
    r = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    assert "Expected a model that fits in memory" in r.stdout


def test_normal_config_passes_and_reports_the_figures():
    report = sizing.check_fits(ModelConfig(), (28, 28, 1), available=8 * 2**30)
    assert report["parameters"] == sizing.count_parameters(ModelConfig(), (28, 28, 1))
    assert report["training_bytes"] == sizing.training_memory_bytes(ModelConfig(), (28, 28, 1))
    assert report["available_bytes"] == 8 * 2**30
    assert 4 * 4 * report["parameters"] < report["training_bytes"] < 200e6


def test_memory_budget_env_refuses_a_mid_size_config(monkeypatch):
    monkeypatch.setenv(sizing.BUDGET_ENV, "100M")
    assert sizing.available_memory_bytes() == 100 * 2**20
    mid = ModelConfig(arch="dense", hidden_units=(2048, 2048))  # about 12 million parameters
    with pytest.raises(ValueError, match=r"received 104\.9 MB available \(80% usable\)"):
        sizing.check_fits(mid, (28, 28, 1))
    assert sizing.check_fits(ModelConfig(), (28, 28, 1))["available_bytes"] == 100 * 2**20


def test_activations_grow_with_the_batch():
    small, big = ModelConfig(batch_size=32), ModelConfig(batch_size=1024)
    assert sizing.training_memory_bytes(big, (28, 28, 1)) > sizing.training_memory_bytes(small, (28, 28, 1))
    shifted = small.replace(augment_shift=1)  # the shifted copy of the batch is counted too
    assert sizing.training_memory_bytes(shifted, (28, 28, 1)) > sizing.training_memory_bytes(small, (28, 28, 1))


@pytest.mark.parametrize("text,expected", [
    ("8G", 8 * 2**30), ("512m", 512 * 2**20), ("1.5G", 3 * 2**29), ("8GiB", 8 * 2**30), ("64k", 65536),
    ("1073741824", 2**30),
])
def test_budget_parses_bytes_and_suffixes(text, expected, monkeypatch):
    monkeypatch.setenv(sizing.BUDGET_ENV, text)
    assert sizing.available_memory_bytes() == expected


@pytest.mark.parametrize("text", ["lots", "0", "-1G", "8X"])
def test_bad_budget_says_expected_and_received(text, monkeypatch):
    monkeypatch.setenv(sizing.BUDGET_ENV, text)
    with pytest.raises(ValueError, match=f"Expected {sizing.BUDGET_ENV} a positive byte count.*received '{text}'"):
        sizing.available_memory_bytes()


def test_cgroup_limit_lowers_the_machine_figure(monkeypatch):
    monkeypatch.delenv(sizing.BUDGET_ENV, raising=False)
    files = {"/proc/meminfo": "MemTotal: 16000000 kB\nMemAvailable: 8000000 kB\n",
             "/sys/fs/cgroup/memory.max": f"{2 * 2**30}\n",
             "/sys/fs/cgroup/memory.current": f"{2**30}\n",
             "/sys/fs/cgroup/memory.stat": f"anon 1\ninactive_file {2**29}\n"}
    monkeypatch.setattr(sizing, "_read", files.get)
    assert sizing.available_memory_bytes() == 2 * 2**30 - (2**30 - 2**29)  # limit - (usage - reclaimable cache)
    files["/sys/fs/cgroup/memory.max"] = "max\n"
    assert sizing.available_memory_bytes() == 8000000 * 1024


def test_available_memory_on_this_machine_is_positive(monkeypatch):
    monkeypatch.delenv(sizing.BUDGET_ENV, raising=False)
    assert sizing.available_memory_bytes() > 0


def test_unknown_memory_refuses_nothing_and_bad_arguments_are_named():
    assert sizing.check_fits(HUGE, (28, 28, 1), available=0)["available_bytes"] == 0
    with pytest.raises(ValueError, match="Expected available an integer number of bytes"):
        sizing.check_fits(ModelConfig(), (28, 28, 1), available=-1)
    with pytest.raises(ValueError, match=r"Expected an image shape \(H, W, C\)"):
        sizing.count_parameters(ModelConfig(), (28, 28))
    with pytest.raises(ValueError, match="Expected a ModelConfig"):
        sizing.count_parameters({"kind": "ae"}, (28, 28, 1))


@pytest.mark.parametrize("n,text", [(512, "512 B"), (1500, "1.5 kB"), (19_300_000_000, "19.3 GB"),
                                    (2.5e15, "2500.0 TB")])
def test_human_bytes(n, text):
    assert sizing.human_bytes(n) == text
