"""How big a model is, and whether training it fits in this machine's memory.

`ModelConfig.validate` accepts 8 hidden layers of 8192 units, about a billion
parameters: training that needs some 16 GB for the weights and Adam alone,
and on a small machine it dies (or swaps for hours) long after the user
pressed Train. `check_fits` refuses such a model up front with both figures,
the memory it needs and the memory there is, so the setting can be fixed.

Everything here is arithmetic on the config and the image shape: nothing is
built, and the module imports neither Keras nor TensorFlow, so the CLI and
the Train page can check a config before paying for the TensorFlow import.
`count_parameters` mirrors `aecore.models.build_encoder` / `build_decoder`
layer by layer; a test compares it with the built models so the two cannot
drift apart silently.

Example:

```python
from aecore.config import ModelConfig
from aecore.sizing import check_fits, human_bytes

report = check_fits(ModelConfig(), (28, 28, 1))  # raises ValueError if too big
print(report["parameters"], human_bytes(report["training_bytes"]))
```
"""

from __future__ import annotations

import math
import numbers
import os
import re
from collections.abc import Iterator
from typing import Any

from .config import ModelConfig

# Share of the available memory a training run may plan to use. The estimate
# leaves out TensorFlow's own footprint (a few hundred MB), the dataset held
# in memory, the Streamlit process and allocator fragmentation; the other 20%
# is the headroom for those.
USABLE_SHARE = 0.8

# float32 everywhere: the models are built and trained in Keras' default dtype.
BYTES_PER_FLOAT = 4

# Copies of every trainable parameter while training with Adam: the weights,
# their gradients, and Adam's first and second moments.
PARAMETER_COPIES = 4

# Activations held per layer output during a training step: the output kept
# for the backward pass, the pre-activation (matmul / conv result) that the
# activation's gradient needs, and the gradient flowing back through it.
BACKWARD_FACTOR = 3

# Per-pixel temporaries of the loss (clipped output, two logs, the error map)
# and the target, each the size of the image, held for the backward pass.
LOSS_IMAGE_COPIES = 4

# Environment variable that overrides the detected memory (bytes, or with a
# K/M/G/T suffix, binary multiples as in Docker's --memory): for tests, and
# for containers whose limit is not visible to the process.
BUDGET_ENV = "AECORE_MEMORY_BUDGET"

_SUFFIXES = {"": 1, "K": 2**10, "M": 2**20, "G": 2**30, "T": 2**40}


# --------------------------------------------------------------------------
# Counting
# --------------------------------------------------------------------------
def _check_shape(image_shape: Any) -> tuple[int, int, int]:
    """The image shape as (H, W, C) ints, with the same rule as `models.build_model`."""
    try:
        shape = tuple(image_shape)
    except TypeError:
        shape = ()
    ok = (len(shape) == 3 and all(isinstance(s, numbers.Integral) and not isinstance(s, bool) for s in shape)
          and 4 <= shape[0] <= 256 and 4 <= shape[1] <= 256 and shape[2] in (1, 3))
    if not ok:
        raise ValueError(f"Expected an image shape (H, W, C) with H, W in 4..256 and C 1 or 3, "
                         f"received {image_shape!r}.")
    return int(shape[0]), int(shape[1]), int(shape[2])


def conv_strides(height: int, width: int, n_stages: int) -> list[int]:
    """Stride of each conv stage: 2 while the map halves cleanly and stays >= 4 px, else 1.

    The one definition of the rule: `aecore.models` builds its layers with it
    (it lives here because this module must not import TensorFlow).
    """
    strides = []
    for _ in range(n_stages):
        if height % 2 == 0 and width % 2 == 0 and height // 2 >= 4 and width // 2 >= 4:
            strides.append(2)
            height, width = height // 2, width // 2
        else:
            strides.append(1)
    return strides


def up_kernel(stride: int) -> int:
    """The kernel side of a decoder stage (Conv2DTranspose) with this stride: a multiple of a stride of 2 (4), so
    every output pixel gets the same number of kernel taps (a kernel of 3 at stride 2 overlaps unevenly and
    paints a checkerboard), else 3."""
    return 4 if stride == 2 else 3


def _layers(cfg: ModelConfig, shape: tuple[int, int, int]) -> Iterator[tuple[int, int]]:
    """(parameters, output values per image) of every layer of the model, in order.

    Mirrors `build_encoder` and `build_decoder`. Flatten and Reshape are
    views with no parameters and are left out; the shift, noise and sampling
    layers have no parameters but their outputs are counted.
    """
    h, w, c = shape
    yield 0, h * w * c  # the input batch
    if cfg.augment_shift:
        yield 0, h * w * c  # the shifted copy
    if cfg.kind == "dae":
        yield 0, h * w * c  # the corrupted copy
    # Encoder.
    if cfg.arch == "conv":
        channels = c
        for f, s in zip(cfg.filters, conv_strides(h, w, len(cfg.filters))):
            h, w = h // s, w // s  # "same" padding; stride 2 only on even sides
            yield 9 * channels * f + f, h * w * f  # 3x3 kernel + bias
            channels = f
        features = h * w * channels
    else:
        features = h * w * c
    for units in cfg.hidden_units:
        yield features * units + units, units
        features = units
    heads = 2 if cfg.kind == "vae" else 1  # z_mean and z_log_var, or the code
    for _ in range(heads):
        yield features * cfg.latent_dim + cfg.latent_dim, cfg.latent_dim
    if cfg.kind == "vae":
        yield 0, cfg.latent_dim  # the sampled z
    # Decoder.
    h, w, c = shape
    features = cfg.latent_dim
    for units in reversed(cfg.hidden_units):
        yield features * units + units, units
        features = units
    if cfg.arch == "conv":
        strides = conv_strides(h, w, len(cfg.filters))
        down = math.prod(strides)
        mh, mw, channels = h // down, w // down, cfg.filters[-1]
        yield features * mh * mw * channels + mh * mw * channels, mh * mw * channels
        outs = list(reversed(cfg.filters))[1:] + [c]  # the last stage outputs the image
        for s, out in zip(reversed(strides), outs):
            mh, mw = mh * s, mw * s
            yield up_kernel(s) ** 2 * channels * out + out, mh * mw * out  # Conv2DTranspose + bias
            channels = out
    else:
        yield features * h * w * c + h * w * c, h * w * c


def count_parameters(cfg: ModelConfig, image_shape) -> int:
    """Number of weights `build_model(cfg, image_shape)` creates, without building it.

    Equals `build_model(cfg, image_shape, compile=False).count_params()`
    exactly: trainable weights plus, for a VAE, its one non-trainable
    `kl_weight` scalar (Keras counts it; optimizer, metric and random-seed
    variables are not counted).

    Args:
        cfg: the `ModelConfig`.
        image_shape: (H, W, C) of the training images, H and W in 4..256,
            C 1 or 3 (the same rule as `build_model`).
    Returns:
        the parameter count, an int.
    """
    if not isinstance(cfg, ModelConfig):
        raise ValueError(f"Expected a ModelConfig, received {type(cfg).__name__}.")
    shape = _check_shape(image_shape)
    kl_weight = 1 if cfg.kind == "vae" else 0
    return sum(p for p, _ in _layers(cfg, shape)) + kl_weight


def training_memory_bytes(cfg: ModelConfig, image_shape) -> int:
    """Estimated peak memory, in bytes, of training `cfg` on images of `image_shape`.

    The sum of:
      - parameters: `PARAMETER_COPIES` (4: weights, gradients and Adam's two
        moments) x parameters x 4 bytes;
      - activations of one batch: the outputs of every layer (plus
        `LOSS_IMAGE_COPIES` image-sized loss temporaries) x `batch_size` x
        4 bytes x `BACKWARD_FACTOR` (3: output, pre-activation and gradient).

    Checked against the peak RSS of real CPU training steps: 487 MB
    estimated vs 542 MB measured for 4 x 2048 dense layers, 1.2 vs 1.4 GB
    for 3 x 4096, 322 vs 280 MB for the default conv model at batch 1024.

    Not included: the dataset itself (held in memory by the caller; a
    60,000-image MNIST is 188 MB as float32), TensorFlow's own footprint and
    the rest of the process. `check_fits` keeps `1 - USABLE_SHARE` of the
    memory free for those.

    Args:
        cfg: the `ModelConfig` (its `batch_size` sets the activations).
        image_shape: (H, W, C) of the training images.
    Returns:
        bytes, an int.
    """
    parameters = count_parameters(cfg, image_shape)
    h, w, c = _check_shape(image_shape)
    per_image = sum(out for _, out in _layers(cfg, (h, w, c))) + LOSS_IMAGE_COPIES * h * w * c
    activations = per_image * cfg.batch_size * BYTES_PER_FLOAT * BACKWARD_FACTOR
    return PARAMETER_COPIES * parameters * BYTES_PER_FLOAT + activations


# --------------------------------------------------------------------------
# Memory available
# --------------------------------------------------------------------------
def _parse_bytes(text: str) -> int:
    """'8G', '100M', '512k', '1.5G', '8GiB', '1073741824' -> bytes (binary multiples)."""
    m = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([KMGT]?)(?:I?B)?\s*", text, flags=re.IGNORECASE)
    value = int(float(m.group(1)) * _SUFFIXES[m.group(2).upper()]) if m else 0
    if value <= 0:
        raise ValueError(f"Expected {BUDGET_ENV} a positive byte count like 8G, 512M or 1073741824, "
                         f"received {text!r}.")
    return value


def _read(path: str) -> str | None:
    try:
        with open(path) as f:
            return f.read()
    except OSError:
        return None


def _meminfo_available() -> int | None:
    """MemAvailable from /proc/meminfo (free memory plus reclaimable cache), in bytes."""
    text = _read("/proc/meminfo")
    m = re.search(r"^MemAvailable:\s+(\d+)\s*kB", text or "", flags=re.MULTILINE)
    return int(m.group(1)) * 1024 if m else None


def _sysconf_available() -> int | None:
    """Free (or, where that is not reported, total) physical memory from os.sysconf."""
    for pages in ("SC_AVPHYS_PAGES", "SC_PHYS_PAGES"):
        try:
            return os.sysconf(pages) * os.sysconf("SC_PAGE_SIZE")
        except (AttributeError, ValueError, OSError):
            continue
    return None


def _cgroup_available() -> int | None:
    """Room left under this process's cgroup memory limit (v2, else v1), or None if unlimited.

    Used memory counts the cgroup's usage less its inactive file cache, which
    the kernel reclaims before hitting the limit (as `docker stats` does).
    """
    for limit_file, usage_file, stat_file, cache_key in (
            ("/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory.current", "/sys/fs/cgroup/memory.stat",
             "inactive_file"),
            ("/sys/fs/cgroup/memory/memory.limit_in_bytes", "/sys/fs/cgroup/memory/memory.usage_in_bytes",
             "/sys/fs/cgroup/memory/memory.stat", "total_inactive_file")):
        limit = (_read(limit_file) or "").strip()
        if not limit.isdigit():
            continue  # "max" (no limit) or no such file
        if int(limit) >= 2**60:  # cgroup v1 writes "no limit" as a huge number
            return None
        usage = (_read(usage_file) or "").strip()
        m = re.search(rf"^{cache_key}\s+(\d+)", _read(stat_file) or "", flags=re.MULTILINE)
        used = max(0, (int(usage) if usage.isdigit() else 0) - (int(m.group(1)) if m else 0))
        return max(0, int(limit) - used)
    return None


def available_memory_bytes() -> int:
    """Memory a new training run can use now, in bytes.

    `$AECORE_MEMORY_BUDGET` wins when set (bytes, or a number with a K, M, G
    or T suffix, binary multiples: `8G`, `512M`). Otherwise MemAvailable from
    /proc/meminfo (falling back to os.sysconf), lowered to the room left
    under the cgroup memory limit (/sys/fs/cgroup/memory.max, or cgroup v1's
    memory.limit_in_bytes) when that is smaller, as it is in a container.

    Returns:
        bytes, an int; 0 when nothing could be read (e.g. Windows), which
        `check_fits` takes as "unknown" and does not refuse on.
    Raises:
        ValueError: `$AECORE_MEMORY_BUDGET` is set but not a byte count.
    """
    budget = os.environ.get(BUDGET_ENV, "").strip()
    if budget:
        return _parse_bytes(budget)
    machine = _meminfo_available()
    if machine is None:
        machine = _sysconf_available()
    cgroup = _cgroup_available()
    known = [b for b in (machine, cgroup) if b is not None]
    return min(known) if known else 0


def human_bytes(n: int | float) -> str:
    """Bytes as a short decimal figure: 512 -> '512 B', 19_300_000_000 -> '19.3 GB'."""
    n = float(n)
    for unit in ("B", "kB", "MB", "GB", "TB"):
        if abs(n) < 1000 or unit == "TB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1000
    raise AssertionError("unreachable")


# --------------------------------------------------------------------------
# The check
# --------------------------------------------------------------------------
def check_fits(cfg: ModelConfig, image_shape, available: int | None = None) -> dict:
    """Refuse a model whose training would not fit in memory; nothing is built.

    Args:
        cfg: the `ModelConfig`.
        image_shape: (H, W, C) of the training images (for a built-in
            dataset, `aecore.builtin_data.list_datasets()` gives it).
        available: bytes available; default None reads
            `available_memory_bytes()`. 0 means unknown: nothing is refused.
    Returns:
        `{"parameters": int, "training_bytes": int, "available_bytes": int}`.
    Raises:
        ValueError: the estimate (`training_memory_bytes`) exceeds
            `USABLE_SHARE` (80%) of the available memory; the message gives
            both figures.
    """
    if available is None:
        available = available_memory_bytes()
    if not (isinstance(available, numbers.Integral) and not isinstance(available, bool) and available >= 0):
        raise ValueError(f"Expected available an integer number of bytes >= 0, received {available!r}.")
    parameters = count_parameters(cfg, image_shape)
    needed = training_memory_bytes(cfg, image_shape)
    if available and needed > USABLE_SHARE * available:
        raise ValueError(
            f"Expected a model that fits in memory: training needs about {human_bytes(needed)} "
            f"({parameters:,} parameters, batch {cfg.batch_size}), received {human_bytes(available)} available "
            f"({USABLE_SHARE:.0%} usable). Use fewer or narrower hidden layers, fewer conv filters "
            f"or a smaller batch.")
    return {"parameters": parameters, "training_bytes": needed, "available_bytes": int(available)}
