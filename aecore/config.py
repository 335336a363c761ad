"""One dataclass that fully describes a model and its training run.

`ModelConfig` is the single source of truth (pythae-style): the model is
rebuilt from it, the cache key is a hash of it, and it round-trips through
JSON so a cached entry can be reloaded without executing any code.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import numbers
import shlex
from typing import Any

KINDS = ("ae", "dae", "sparse", "vae")
ARCHS = ("dense", "conv")
RECON_LOSSES = ("bce", "mse")
NOISE_TYPES = ("gaussian", "gaussian_hetero", "salt_pepper", "masking")
SPARSITY_TYPES = ("l1", "kl")
LR_SCHEDULES = ("constant", "cosine")
ACTIVATIONS = ("elu", "relu", "gelu")

# Fields added after FORMAT_VERSION 2, with their defaults: a field at its default is left out of the key, so every
# config that existed before it keeps its key (and its cached model).
ADDED_FIELDS = {"augment_shift": 0}

# Bumped whenever a change to the model code would make old weights load wrong.
FORMAT_VERSION = 2  # 2: the conv decoder's stride-2 kernels are 4 wide (were 3: a checkerboard)

# Upper bounds on settings that validate but would only ever fail or produce
# nonsense later (the failure then blames the learning rate). Non-finite
# values (inf, nan) are refused for every float field whatever its bounds.
MAX_BETA = 1000.0  # beta-VAE work uses beta up to a few hundred; far above that
# the KL term swamps the reconstruction and the code collapses to the prior on
# every dataset here (the Train page offers 0..100).
MAX_SPARSITY_WEIGHT = 100.0  # the reconstruction loss is a per-pixel mean of
# order 0.01-1; a weight of 100 already makes the penalty dominate it by
# orders of magnitude (all-zero codes). The Train page offers 0..10.
MAX_HIDDEN_LAYERS = 8  # deeper MLP autoencoders gain nothing on these images
# and only multiply the parameters (8 x 8192 units is about a billion).
MAX_CONV_STAGES = 8  # a 256 px image halves at most 6 times while staying
# >= 4 px (see sizing.conv_strides); further stages run at stride 1 and only
# add cost. 8 leaves room without allowing absurd depths.
MAX_SHIFT = 8  # a shift moves a digit of 28 px by a third of its width already: more only teaches blank edges
MAX_SEED = 2**32 - 1  # keras.utils.set_random_seed seeds NumPy, which refuses
# anything larger (a larger seed would validate and then crash at training).


def _expect(cond: bool, what: str, received: Any) -> None:
    if not cond:
        raise ValueError(f"Expected {what}, received {received!r}.")


@dataclasses.dataclass
class ModelConfig:
    """Everything that determines a trained model.

    Args:
        dataset: dataset name (`mnist`, `fashion_mnist`, `olivetti`, `digits`,
            or, for a user's images, `upload:<zip file name>` or
            `folder:<folder name>`). Default `mnist`.
        kind: `ae` (plain), `dae` (denoising), `sparse`, or `vae`. Default `ae`.
        arch: `dense` (MLP) or `conv` (strided convolutions). Default `conv`.
        latent_dim: size of the code. Default 10 (78x compression of a 28x28 image).
        epochs: maximum epochs; early stopping may end sooner. Default 20.
        batch_size: images per step. Default 128 (the size Keras' autoencoder and VAE
            examples train 28x28 digits with).
        learning_rate: Adam step size. Default 1e-3 (Adam's usual default).
        lr_schedule: `constant`, or `cosine` (decays to 2% of the rate over
            `epochs`: converges further in a fixed time budget). Default
            `constant`.
        augment_shift: moves each training image by its own random whole-pixel offset of up to this many
            pixels along each axis, new offsets every epoch (0: none; the held-out images are never moved).
            An integer in 0..8. Default 0. On 8,000 digits a 1-pixel shift lowers the held-out error of the
            dense AE by a fifth: it stops the model learning the training digits by heart.
        seed: seeds weights, shuffling and noise; same config -> same model.
            An integer in 0..2**32 - 1 (NumPy's seed range). Default 0.
        val_fraction: share of the dataset held out for validation and the
            metrics. Default 0.2 (an 80/20 split: 2,000 of the 10,000 offline MNIST digits).
        patience: epochs without validation improvement before stopping;
            0 disables early stopping. Default 5 (a validation loss that wobbles
            for a few epochs is given time to improve again).
        limit: use only the first `limit` images (None: all). Useful for
            quick runs and tests.
        recon_loss: `bce` (per-pixel binary cross-entropy, sharp digits) or
            `mse`. Default `bce`.
        beta: VAE weight of the KL term (beta-VAE), in [0, 1000]. Default 1.0.
        kl_warmup_epochs: VAE: the KL weight ramps linearly from 0 to `beta`
            over this many epochs. Default 0 (no warm-up).
        noise: denoising noise type: `gaussian` (one sigma), `gaussian_hetero`
            (a sigma per pixel, uniform in [0, 2*noise_level]),
            `salt_pepper` (a share `noise_level` of pixels set to 0 or 1),
            `masking` (a share `noise_level` of pixels set to 0).
        noise_level: sigma for Gaussian noise, share of pixels otherwise.
            Default 0.3.
        sparsity: sparse AE penalty: `l1` on the code, or `kl` to a target
            mean activation (sigmoid code). Default `l1`.
        sparsity_weight: weight of the sparsity penalty, in [0, 100].
            Default 1e-3.
        sparsity_target: target mean activation for `kl`. Default 0.05.
        filters: conv channels per down-sampling stage: 1 to 8 stages of
            1..1024 channels. Default (32, 64).
        activation: hidden-layer activation, `elu`, `relu` or `gelu`. Default
            `elu` (on MNIST it reconstructs better than ReLU for the same
            epochs: 0.41 vs 0.44 of PCA's error after 20 epochs).
        hidden_units: dense layers between image (or conv maps) and code:
            at most 8 layers of 1..8192 units. Default (256,).
        image_size: resize side for uploaded datasets (28, 32 or 64).
        channels: 1 (grayscale) or 3 (RGB) for uploaded datasets.
        dataset_fingerprint: content hash of the dataset; filled in by
            `train` so a changed dataset never hits an old cache entry.
    """

    dataset: str = "mnist"
    kind: str = "ae"
    arch: str = "conv"
    latent_dim: int = 10
    epochs: int = 20
    batch_size: int = 128
    learning_rate: float = 1e-3
    lr_schedule: str = "constant"
    augment_shift: int = 0
    seed: int = 0
    val_fraction: float = 0.2
    patience: int = 5
    limit: int | None = None
    recon_loss: str = "bce"
    beta: float = 1.0
    kl_warmup_epochs: int = 0
    noise: str = "gaussian"
    noise_level: float = 0.3
    sparsity: str = "l1"
    sparsity_weight: float = 1e-3
    sparsity_target: float = 0.05
    filters: tuple[int, ...] = (32, 64)
    activation: str = "elu"
    hidden_units: tuple[int, ...] = (256,)
    image_size: int | None = None
    channels: int | None = None
    dataset_fingerprint: str = ""

    def __post_init__(self) -> None:
        # Lists (from JSON) and NumPy integers become tuples of ints; anything
        # else (bools, floats, strings) is left as given for `validate` to refuse.
        self.filters = _int_tuple(self.filters)
        self.hidden_units = _int_tuple(self.hidden_units)
        self.validate()

    def validate(self) -> ModelConfig:
        """Raise ValueError naming the first bad field; return self.

        Every float must be finite and every number within bounds that
        training can actually use, so a bad setting fails here with its name
        rather than later as a diverged run. Whether the model fits in memory
        depends on the image shape too: see `aecore.sizing.check_fits`.
        """
        _expect(isinstance(self.dataset, str) and self.dataset != "", "a dataset name", self.dataset)
        _expect(self.kind in KINDS, f"kind in {KINDS}", self.kind)
        _expect(self.arch in ARCHS, f"arch in {ARCHS}", self.arch)
        _expect(_is_int(self.latent_dim) and 1 <= self.latent_dim <= 1024,
                "latent_dim an integer in 1..1024", self.latent_dim)
        _expect(_is_int(self.epochs) and 1 <= self.epochs <= 10000, "epochs an integer in 1..10000", self.epochs)
        _expect(_is_int(self.batch_size) and 1 <= self.batch_size <= 8192,
                "batch_size an integer in 1..8192", self.batch_size)
        _expect(_is_num(self.learning_rate) and 0 < self.learning_rate <= 1,
                "learning_rate in (0, 1]", self.learning_rate)
        _expect(self.lr_schedule in LR_SCHEDULES, f"lr_schedule in {LR_SCHEDULES}", self.lr_schedule)
        _expect(_is_int(self.augment_shift) and 0 <= self.augment_shift <= MAX_SHIFT,
                f"augment_shift an integer in 0..{MAX_SHIFT}", self.augment_shift)
        _expect(_is_int(self.seed) and 0 <= self.seed <= MAX_SEED, f"seed an integer in 0..{MAX_SEED}", self.seed)
        _expect(_is_num(self.val_fraction) and 0 < self.val_fraction < 1,
                "val_fraction in (0, 1)", self.val_fraction)
        _expect(_is_int(self.patience) and self.patience >= 0, "patience an integer >= 0", self.patience)
        _expect(self.limit is None or (_is_int(self.limit) and self.limit >= 2),
                "limit None or an integer >= 2", self.limit)
        _expect(self.recon_loss in RECON_LOSSES, f"recon_loss in {RECON_LOSSES}", self.recon_loss)
        _expect(_is_num(self.beta) and 0 <= self.beta <= MAX_BETA,
                f"beta a finite number in [0, {MAX_BETA:g}]", self.beta)
        _expect(_is_int(self.kl_warmup_epochs) and self.kl_warmup_epochs >= 0,
                "kl_warmup_epochs an integer >= 0", self.kl_warmup_epochs)
        _expect(self.noise in NOISE_TYPES, f"noise in {NOISE_TYPES}", self.noise)
        _expect(_is_num(self.noise_level) and 0 <= self.noise_level <= 1,
                "noise_level in [0, 1]", self.noise_level)
        _expect(self.sparsity in SPARSITY_TYPES, f"sparsity in {SPARSITY_TYPES}", self.sparsity)
        _expect(_is_num(self.sparsity_weight) and 0 <= self.sparsity_weight <= MAX_SPARSITY_WEIGHT,
                f"sparsity_weight a finite number in [0, {MAX_SPARSITY_WEIGHT:g}]", self.sparsity_weight)
        _expect(_is_num(self.sparsity_target) and 0 < self.sparsity_target < 1,
                "sparsity_target in (0, 1)", self.sparsity_target)
        _expect(isinstance(self.filters, tuple) and 1 <= len(self.filters) <= MAX_CONV_STAGES
                and all(_is_int(f) and 1 <= f <= 1024 for f in self.filters),
                f"filters a list of 1 to {MAX_CONV_STAGES} integers in 1..1024", self.filters)
        _expect(self.activation in ACTIVATIONS, f"activation in {ACTIVATIONS}", self.activation)
        _expect(isinstance(self.hidden_units, tuple) and len(self.hidden_units) <= MAX_HIDDEN_LAYERS
                and all(_is_int(h) and 1 <= h <= 8192 for h in self.hidden_units),
                f"hidden_units a list of at most {MAX_HIDDEN_LAYERS} integers in 1..8192", self.hidden_units)
        _expect(self.image_size is None or (_is_int(self.image_size) and 8 <= self.image_size <= 128),
                "image_size None or an integer in 8..128", self.image_size)
        _expect(self.channels in (None, 1, 3), "channels None, 1 or 3", self.channels)
        return self

    # --- serialisation -------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        d = dataclasses.asdict(self)
        d["filters"] = list(self.filters)
        d["hidden_units"] = list(self.hidden_units)
        return d

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), sort_keys=True)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> ModelConfig:
        """Build a config from a dict, rejecting unknown fields."""
        if not isinstance(d, dict):
            raise ValueError(f"Expected a dict of config fields, received {type(d).__name__}.")
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(d) - known)
        if unknown:
            raise ValueError(f"Expected config fields from {sorted(known)}, received unknown {unknown}.")
        return cls(**d)

    @classmethod
    def from_json(cls, text: str) -> ModelConfig:
        try:
            d = json.loads(text)
        except json.JSONDecodeError as e:
            raise ValueError(f"Expected a JSON object, received text that does not parse ({e}).") from None
        return cls.from_dict(d)

    def replace(self, **changes: Any) -> ModelConfig:
        return dataclasses.replace(self, **changes)

    def key(self) -> str:
        """Stable cache key: 16 hex chars of a hash of every field."""
        fields = {k: v for k, v in self.to_dict().items() if k not in ADDED_FIELDS or v != ADDED_FIELDS[k]}
        payload = json.dumps({"v": FORMAT_VERSION, **fields}, sort_keys=True)
        return hashlib.sha256(payload.encode()).hexdigest()[:16]

    def describe(self) -> str:
        """Short human label, e.g. 'conv VAE, latent 2, mnist'."""
        name = {"ae": "AE", "dae": "denoising AE", "sparse": "sparse AE", "vae": "VAE"}[self.kind]
        return f"{self.arch} {name}, latent {self.latent_dim}, {self.dataset}"


# --- the command line that trains a config -----------------------------------------------------
USER_DATA_PREFIXES = ("upload:", "folder:")  # dataset names of a user's own images (a zip, a folder)
_ALWAYS_SHOWN = ("kind", "arch", "latent_dim", "epochs")  # flags a command names even at their defaults


def _flag_value(value: Any) -> str:
    """A field's value as `python -m aecore train` reads it back: 32,64 for layers, none for None, floats exact."""
    if isinstance(value, tuple):
        return ",".join(str(v) for v in value)
    if value is None:
        return "none"
    return repr(float(value)) if isinstance(value, float) else str(value)


def cli_args(config: ModelConfig, images: str | None = None) -> list[str]:
    """The `python -m aecore train` arguments that train `config` again, under the same cache key.

    Every field that differs from the default of its kind and architecture (`defaults_for`) is a flag
    (`--latent-dim 2`: the CLI makes one flag of each field), and kind, architecture, latent size and epochs always
    are; `dataset_fingerprint` never is (the CLI computes it from the data). A model on a user's own images
    (dataset `upload:<zip name>` or `folder:<folder name>`) names them with `--images` in place of `--dataset`: the
    zip or folder must have the same name and content, since both are part of the key.

    Args:
        config: the model's settings (a cached entry's `config`).
        images: the path the command gives `--images` for such a model. Default: its zip's or folder's name,
            as in the current folder.
    """
    defaults, args = defaults_for(config.kind, config.arch), []
    user_data = config.dataset.startswith(USER_DATA_PREFIXES)
    if user_data:
        args += ["--images", images or config.dataset.split(":", 1)[1]]
    else:
        args += ["--dataset", config.dataset]
    for f in dataclasses.fields(ModelConfig):
        if f.name in ("dataset", "dataset_fingerprint"):
            continue
        value, default = getattr(config, f.name), getattr(defaults, f.name)
        if f.name in _ALWAYS_SHOWN or value != default or type(value) is not type(default):
            args += ["--" + f.name.replace("_", "-"), _flag_value(value)]
    return args


def cli_command(config: ModelConfig, images: str | None = None) -> str:
    """`python -m aecore train ...`: one shell line that trains `config` again (see `cli_args`)."""
    return shlex.join(["python", "-m", "aecore", "train", *cli_args(config, images)])


def _is_int(x: Any) -> bool:
    return isinstance(x, int) and not isinstance(x, bool)


def _is_num(x: Any) -> bool:
    """A finite real: int or float (NumPy float64 included), not bool, not inf or nan."""
    if isinstance(x, bool) or not isinstance(x, (int, float)):
        return False
    return isinstance(x, int) or math.isfinite(x)  # isfinite overflows on ints beyond a float's range


def _int_tuple(value: Any) -> Any:
    """A sequence of integers (list, tuple, array; NumPy integers included,
    bools not) as a tuple of Python ints. Anything else is returned as given,
    or as a tuple of its items, for `validate` to refuse by name."""
    if isinstance(value, (str, bytes)):
        return value
    try:
        items = tuple(value)
    except TypeError:  # not iterable, e.g. a bare 32
        return value
    if all(isinstance(v, numbers.Integral) and not isinstance(v, bool) for v in items):
        return tuple(int(v) for v in items)
    return items


# --- the defaults of each kind and architecture -------------------------------------------------------
# What each kind trains best with in about a minute on a 2-core CPU (the benches in bench/ train with exactly these
# and measure the result; README "Measured"). A field left out keeps `ModelConfig`'s default. The Train page starts
# from these when a kind or architecture is picked, and `python -m aecore train` fills every flag not given from them.
# The plain AEs learn the 8,000 training digits by heart within their epochs (the dense AE's held-out error was 1.9x
# its training error): a 1-pixel random shift of each training image (`augment_shift`) cures it, and lets a wider
# dense layer pay. 2 pixels is too much (the conv AE: 0.390 of PCA's error, against 0.362 with 1).
_CONV_AE = dict(epochs=30, learning_rate=2e-3, lr_schedule="cosine", hidden_units=(512,), augment_shift=1)
_DENSE_AE = dict(epochs=40, learning_rate=2e-3, lr_schedule="cosine", hidden_units=(512, 256), augment_shift=1)
TUNED: dict[tuple[str, str], dict[str, Any]] = {
    # With the shift the conv AE no longer overfits, and a higher rate pays: 0.348 of PCA's error at 4e-3, 0.357 at
    # 3e-3, 0.362 at 2e-3 (without the shift, 4e-3 was worse). The sparse AE keeps 2e-3 (not tried with its penalty).
    ("ae", "conv"): {**_CONV_AE, "learning_rate": 4e-3},
    ("sparse", "conv"): _CONV_AE,  # the sparse AE trains as the plain one (its penalty is its own setting)
    # A 2-D code (the scatter, the grid and the sliders show it directly), a narrower dense layer, and patience 3.
    # No shift: a 2-D code does not overfit (held-out and training errors are equal), and shifted digits made
    # it worse (157 nats of BCE against 154). What held it back was too few steps: batches of 64 at twice the rate
    # take 145 nats in 22 epochs where 128 at 2e-3 took 154 in 20; half the filters, at 1.4 s an epoch instead of
    # 2, leave time for the cosine schedule's 30 (144.7 nats, early-stopped at 27, in 49 s; README "Measured").
    ("vae", "conv"): dict(latent_dim=2, epochs=30, batch_size=64, learning_rate=4e-3, lr_schedule="cosine",
                          filters=(16, 32), hidden_units=(128,), patience=3),
    # The dense VAE gains the same way from more steps (147.4 nats in 40 epochs of 64, 44 s, against 153.3 in 30
    # of 128); a higher rate did not pay for it (148.2 at 4e-3).
    ("vae", "dense"): dict(latent_dim=2, epochs=40, batch_size=64, learning_rate=2e-3, lr_schedule="cosine",
                           hidden_units=(512, 256)),
    # A wide code straight from the conv maps (no narrower dense layer between) lets fine strokes survive the noise.
    # Batches of 128 overfit without the shift (they stopped early 0.3 dB lower than batches of 64); with it,
    # batches of 64 at twice the rate train 30 epochs to 22.7 dB in 66 s, where 40 of 128 at 2e-3 took 22.5 in 77.
    ("dae", "conv"): dict(latent_dim=128, epochs=30, batch_size=64, learning_rate=4e-3, lr_schedule="cosine",
                          hidden_units=(), augment_shift=1),
    ("ae", "dense"): _DENSE_AE,
    ("sparse", "dense"): _DENSE_AE,
    ("dae", "dense"): dict(latent_dim=128, epochs=40, learning_rate=2e-3, lr_schedule="cosine", hidden_units=(512,)),
}
TUNED_FIELDS = sorted({k for d in TUNED.values() for k in d})  # the fields whose default depends on kind and arch


def defaults_for(kind: str = "ae", arch: str = "conv") -> ModelConfig:
    """The default configuration of a kind and architecture: `ModelConfig`'s defaults with `TUNED`'s on top.

    Args:
        kind: one of `KINDS`. Default `ae`.
        arch: one of `ARCHS`. Default `conv`.
    """
    _expect(kind in KINDS, f"kind in {KINDS}", kind)
    _expect(arch in ARCHS, f"arch in {ARCHS}", arch)
    return ModelConfig(kind=kind, arch=arch, **TUNED.get((kind, arch), {}))


def tuned_config(**fields: Any) -> ModelConfig:
    """A `ModelConfig` of `fields`, every other field at the default of its kind and architecture (`defaults_for`):
    `tuned_config(kind="vae", latent_dim=2)` is what `python -m aecore train --kind vae --latent-dim 2` trains."""
    base = defaults_for(fields.get("kind", "ae"), fields.get("arch", "conv"))
    return base.replace(**fields)


# The home page's one-click model: the conv VAE's defaults on MNIST (`python -m aecore train --kind vae` trains the
# same one): a 2-D code, so the scatter, the manifold grid and the sliders all show the latent space directly.
QUICKSTART = tuned_config(dataset="mnist", kind="vae", arch="conv")
