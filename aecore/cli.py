"""Command line: `python -m aecore datasets | train | list | eval | morph | delete | export | compare`.

Every `ModelConfig` field is a `train` flag (`--latent-dim 10`; `aecore.config.cli_command` writes the
command that trains a given config again); training shows its progress on stderr (a live bar on a terminal,
one line per epoch in a log file or pipe) and prints the cache key as its last line on stdout, so
`KEY=$(python -m aecore train ... | tail -n 1)` works in scripts. Errors are one line on stderr and a
non-zero exit, never a traceback.

`train --cluster ADDRESS` (or `AECORE_CLUSTER=ADDRESS`) trains in a worker of
that Dask cluster instead of this process (`--cluster local`: a local one
started for the run), with the same progress output and Ctrl-C behaviour; see
`aecore.cluster`.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import json
import math
import os
import signal
import sys
import threading
from pathlib import Path

from .config import TUNED_FIELDS, ModelConfig, tuned_config

EXIT_USAGE = 2


class _Parser(argparse.ArgumentParser):
    def error(self, message):  # one line, no usage dump
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message}\n")


def _tuple_of_ints(text: str) -> tuple[int, ...]:
    try:
        return tuple(int(t) for t in text.split(",") if t.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated integers like 32,64, received {text!r}") from None


def _optional_int(text: str) -> int | None:
    if text.lower() in ("none", ""):
        return None
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer or 'none', received {text!r}") from None


def _add_config_flags(p: argparse.ArgumentParser) -> None:
    """A flag per `ModelConfig` field. A flag not given is left out of the namespace (`argparse.SUPPRESS`), so
    `config_from_args` fills it from the defaults of the kind and architecture asked for (`defaults_for`)."""
    defaults = ModelConfig()
    for f in dataclasses.fields(ModelConfig):
        if f.name == "dataset_fingerprint":
            continue  # computed from the data, never set by hand
        default = getattr(defaults, f.name)
        if isinstance(default, tuple):
            argtype = _tuple_of_ints
        elif f.name in ("limit", "image_size", "channels"):
            argtype = _optional_int
        else:
            argtype = type(default)
        shown = "per kind and architecture" if f.name in TUNED_FIELDS else default
        p.add_argument("--" + f.name.replace("_", "-"), dest=f.name, type=argtype, default=argparse.SUPPRESS,
                       metavar=f.name.upper(), help=f"default: {shown}")


def build_parser() -> argparse.ArgumentParser:
    p = _Parser(prog="python -m aecore", description="Train and explore autoencoders from the command line.")
    p.add_argument("--models-dir", help="cache folder (default: $AECORE_MODELS_DIR or ./models)")
    p.add_argument("--data-dir", help="local dataset folder (default: $AECORE_DATA_DIR)")
    sub = p.add_subparsers(dest="command", required=True, parser_class=_Parser)

    sub.add_parser("datasets", help="list the datasets and where each would load from")

    t = sub.add_parser("train", help="train a model (or reuse the cached one); prints the cache key last")
    _add_config_flags(t)
    t.add_argument("--images", help="a folder or .zip of your own images, in place of --dataset: the dataset is "
                                    "named folder:<folder name> for a folder, upload:<file name> (e.g. "
                                    "upload:faces.zip) for a zip")
    t.add_argument("--force", action="store_true", help="retrain from scratch even if a cached entry exists")
    t.add_argument("--resume", action="store_true",
                   help="continue a stopped run of this configuration (Ctrl-C stops one and keeps it) from its "
                        "weights and optimizer state")
    t.add_argument("--cluster", metavar="ADDRESS",
                   help="train in a worker of the Dask cluster at ADDRESS (tcp://host:8786), or of a local one "
                        "started for this run (local); default: $AECORE_CLUSTER when set, else in this process "
                        "(off)")
    t.add_argument("--quiet", action="store_true",
                   help="no progress (else a live bar on a terminal, one line per epoch when stderr is a file or pipe)")

    ls = sub.add_parser("list", help="list cached models")
    ls.add_argument("--json", action="store_true")

    e = sub.add_parser("eval", help="held-out metrics of a cached model")
    e.add_argument("key")
    e.add_argument("--json", action="store_true", help="one JSON object")

    m = sub.add_parser("morph", help="morph between two held-out images into a GIF or MP4")
    m.add_argument("key")
    m.add_argument("--a", type=int, default=0, help="index of the first held-out image")
    m.add_argument("--b", type=int, default=1, help="index of the second held-out image")
    m.add_argument("--steps", type=int, default=30)
    m.add_argument("--method", choices=("linear", "spherical"), default="linear")
    m.add_argument("--fps", type=int, default=10)
    m.add_argument("--bounce", action="store_true", help="play forward then back")
    m.add_argument("--no-loop", action="store_true", help="GIF plays once")
    m.add_argument("--upscale", type=int, default=4)
    m.add_argument("--out", default="morph.gif", help="output path ending in .gif or .mp4")

    d = sub.add_parser("delete", help="delete a cached model (or an unreadable file that `list` names)")
    d.add_argument("key", help="a cache key, or the file name `list` reports as unreadable")

    x = sub.add_parser("export", help="write a standalone .keras file")
    x.add_argument("key")
    x.add_argument("--out", required=True, help="path ending in .keras")
    c = sub.add_parser("compare", help="compare 2 to 4 cached models of the same data: one table of measures")
    c.add_argument("keys", nargs="+", metavar="KEY", help="2 to 4 cache keys (see `list`)")
    return p


def config_from_args(args: argparse.Namespace) -> ModelConfig:
    """The `ModelConfig` that `train`'s flags describe, each flag not given at the default of the kind and
    architecture given (`aecore.config.tuned_config`; ValueError naming a bad one); with `--images`, its `dataset`
    is replaced by the images' name once they are read. `aecore.config.cli_args` writes such flags."""
    fields = {f.name for f in dataclasses.fields(ModelConfig)} - {"dataset_fingerprint"}
    return tuned_config(**{k: v for k, v in vars(args).items() if k in fields})


def _progress_line(event) -> str:
    """`epoch 3/20 loss 0.1234 ETA    42s`: where training is, its latest loss (validation loss after an epoch)."""
    loss = event.losses.get("val_loss", event.losses.get("loss", float("nan")))
    eta = f"{event.eta:5.0f}" if math.isfinite(event.eta) else "    ?"  # ? until a pace is measured
    return f"epoch {event.epoch}/{event.epochs} loss {loss:.4f} ETA {eta}s"


def _progress_bar(event) -> None:
    """A live bar on stderr, redrawn in place with carriage returns: for a terminal."""
    if event.phase == "end":
        sys.stderr.write("\n")
        return
    done = (event.epoch - 1 + event.batch / max(event.batches, 1)) / event.epochs
    bar = "#" * int(30 * done) + "-" * (30 - int(30 * done))
    sys.stderr.write(f"\r[{bar}] {_progress_line(event)} ")
    sys.stderr.flush()


def _progress_lines(event) -> None:
    """One line on stderr per epoch, no carriage returns: for a log file or a pipe."""
    if event.phase == "epoch":
        print(_progress_line(event), file=sys.stderr, flush=True)


def _progress_callbacks(quiet: bool) -> list:
    """What shows training's progress: nothing when `quiet`, else a live bar when stderr (where progress
    goes, stdout keeping the result) is a terminal, one line per epoch when it is not."""
    if quiet:
        return []
    return [_progress_bar if sys.stderr.isatty() else _progress_lines]


@contextlib.contextmanager
def _interrupt_stops(stop: threading.Event):
    """While training: the first Ctrl-C stops after the current batch and keeps the run (resumable with
    --resume); a second one interrupts at once."""
    def handler(signum, frame):
        if stop.is_set():
            raise KeyboardInterrupt
        stop.set()
        print("\nstopping after this batch (Ctrl-C again to abandon the run)", file=sys.stderr)

    try:
        previous = signal.signal(signal.SIGINT, handler)
    except ValueError:  # not the main thread: leave Ctrl-C as it is
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


def _load_data(args, cfg: ModelConfig):
    from . import builtin_data, uploads

    images = getattr(args, "images", None)
    if images:
        size, channels = cfg.image_size or 28, cfg.channels or 1
        path = Path(images)
        ds = uploads.load_image_zip(path, size, channels) if path.suffix.lower() == ".zip" \
            else uploads.load_image_folder(path, size, channels)
        if ds.skipped:
            print(f"not read: {len(ds.skipped)} file(s): {'; '.join(ds.skipped[:5])}", file=sys.stderr)
        return ds
    return builtin_data.load_dataset(cfg.dataset, data_dir=args.data_dir)


def _held_out(args, entry):
    """The entry's held-out images, reloaded the same deterministic way as in training."""
    from .train import prepare_data

    if entry.config.dataset.startswith(("upload:", "folder:")):
        raise ValueError(f"Expected a built-in dataset to reload held-out images, received {entry.config.dataset!r}.")
    ds = _load_data(args, entry.config)
    if ds.fingerprint != entry.config.dataset_fingerprint:
        print("warning: the dataset's content differs from the one this model was trained on", file=sys.stderr)
    return prepare_data(entry.config, ds)[1]


def _import_tensorflow_quietly() -> None:
    """Import TensorFlow with the C++ start-up chatter (CUDA probing, CPU features) kept off stderr.

    That chatter is written by native code before any Python setting applies,
    so stderr's file descriptor itself is pointed at /dev/null for the import.
    Python exceptions still surface: they are raised after stderr is back.
    """
    if "tensorflow" in sys.modules:
        return
    sys.stderr.flush()
    saved = os.dup(2)
    try:
        with open(os.devnull, "w") as null:
            os.dup2(null.fileno(), 2)
            import tensorflow  # noqa: F401
    finally:
        os.dup2(saved, 2)
        os.close(saved)


def _cluster_address(args) -> str | None:
    """Where `train` trains: a scheduler address or "local" (a cluster started for this run), or None for this
    process: `--cluster`, else `$AECORE_CLUSTER` when set; "off" (or nothing) is this process."""
    from .cluster import CLUSTER_ENV, OFF

    where = (args.cluster if args.cluster is not None else os.environ.get(CLUSTER_ENV, "")).strip()
    return None if where.lower() in ("", OFF) else where


def _train_on_cluster(where: str, cfg: ModelConfig, ds, cache, args):
    """`train` through the cluster: the same progress on stderr, Ctrl-C stops the run (and keeps it) as in-process."""
    from .cluster import get_client
    from .jobs import ClusterJob

    job = ClusterJob(cfg, ds, cache, force=args.force, resume=args.resume,
                     callbacks=_progress_callbacks(args.quiet), client=get_client(where)).start()
    with _interrupt_stops(job.stop_event):
        while not job.wait(0.2):  # a short wait, so that Ctrl-C is handled at once
            pass
    if job.entry is None:
        raise RuntimeError(job.error or f"Expected the trained entry, received none (job {job.state}).")
    return job.entry, job.cached


def _is_key(text: str) -> bool:
    return len(text) == 16 and all(c in "0123456789abcdef" for c in text)


def run(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.command == "datasets":
        from .builtin_data import list_datasets

        for d in list_datasets(args.data_dir):
            shape = "x".join(map(str, d["shape"]))
            print(f"{d['name']:<14} {shape:<9} {'offline' if d['available_offline'] else 'download':<9} {d['source']}")
        return 0
    if args.command == "train":  # validate flags before the slow TensorFlow import
        cfg = config_from_args(args)
        from .builtin_data import list_datasets
        from .sizing import check_fits

        shapes = {d["name"]: d["shape"] for d in list_datasets(args.data_dir)}
        if not args.images and cfg.dataset in shapes:
            check_fits(cfg, shapes[cfg.dataset])  # before the slow TensorFlow import; train() checks uploads
    deleting_file = args.command == "delete" and args.key.endswith(".npz")
    if getattr(args, "key", None) is not None and not _is_key(args.key) and not deleting_file:
        raise ValueError(f"Expected a cache key of 16 hex characters (see `list`), received {args.key!r}.")
    _import_tensorflow_quietly()
    from . import cache as cache_mod

    cache = cache_mod.ModelCache(args.models_dir)
    if args.command == "train":
        ds = _load_data(args, cfg)
        cfg = cfg.replace(dataset=ds.name)
        stopped = cache_mod.stopped_run(cfg, ds.fingerprint, cache)
        if stopped is not None and not args.resume and not args.force:
            print(f"note: a run of this configuration was {stopped.status()}; training from scratch "
                  f"(pass --resume to continue it)", file=sys.stderr)
        where = _cluster_address(args)
        if where is None:
            stop = threading.Event()
            with _interrupt_stops(stop):
                entry, cached = cache_mod.train_or_load(cfg, ds, cache, callbacks=_progress_callbacks(args.quiet),
                                                        stop_event=stop, force=args.force, resume=args.resume)
        else:
            entry, cached = _train_on_cluster(where, cfg, ds, cache, args)
        outcome = "cached" if cached else "trained" if entry.complete else "stopped"
        print(f"{outcome}: {entry.config.describe()} ({entry.status()})  "
              + " ".join(f"{k}={v:.4g}" for k, v in entry.metrics.items()))
        print(entry.key)
        return 0
    if args.command == "list":
        entries, problems = cache.list()
        rows = [cache_mod.entry_summary(e) for e in entries]
        if args.json:
            print(json.dumps({"entries": rows, "problems": [{"file": p.name, "reason": p.reason} for p in problems]}))
        else:
            for r in rows:
                print(f"{r['key']}  {r['arch']:<5} {r['kind']:<6} latent {r['latent_dim']:<3} {r['dataset']:<14} "
                      f"mse {r.get('mse', float('nan')):.4f}  psnr {r.get('psnr', float('nan')):.2f}  {r['status']}")
            for p in problems:
                print(f"unreadable: {p.name}: {p.reason} (remove it with `delete {p.name}`)", file=sys.stderr)
            if not rows:
                print(f"no cached models in {cache.root}")
        return 0
    if args.command == "eval":
        from .train import held_out_metrics

        entry = cache.load(args.key)
        try:
            metrics = held_out_metrics(entry.model, _held_out(args, entry).images)
        except (ValueError, RuntimeError) as e:  # data not available here: report what was stored
            print(f"note: using the metrics stored at training time ({e})", file=sys.stderr)
            metrics = entry.metrics
        if args.json:
            print(json.dumps({k: round(v, 6) for k, v in metrics.items()}))
        else:
            for k, v in metrics.items():
                print(f"{k:<14} {v:.5f}")
        return 0
    if args.command == "morph":
        from . import media
        from .infer import Engine

        out = Path(args.out)
        if out.suffix.lower() not in (".gif", ".mp4"):
            raise ValueError(f"Expected --out ending in .gif or .mp4, received {args.out!r}.")
        entry = cache.load(args.key)
        val = _held_out(args, entry)
        for name, i in (("--a", args.a), ("--b", args.b)):
            if not 0 <= i < len(val):
                raise ValueError(f"Expected {name} an index in 0..{len(val) - 1}, received {i}.")
        frames = Engine(entry.model).morph(val.images[[args.a, args.b]], args.steps, args.method)
        if out.suffix.lower() == ".gif":
            media.frames_to_gif(frames, out, fps=args.fps, loop=not args.no_loop, bounce=args.bounce,
                                upscale=args.upscale)
        else:
            media.frames_to_mp4(frames, out, fps=args.fps, bounce=args.bounce, upscale=args.upscale)
        print(out)
        return 0
    if args.command == "delete":
        if not (cache.delete_file(args.key) if deleting_file else cache.delete(args.key)):
            raise ValueError(f"Expected a cached key, received {args.key!r}, which is not in {cache.root}.")
        print(f"deleted {args.key}")
        return 0
    if args.command == "export":
        print(cache.export_keras(args.key, args.out))
        return 0
    if args.command == "compare":
        from .compare import run_compare

        print(run_compare(args.keys, args.models_dir, args.data_dir))
        return 0
    return EXIT_USAGE


def main(argv: list[str] | None = None) -> int:
    """Run the CLI; turn every expected error into one line and exit code 2 (1 for others)."""
    try:
        return run(argv)
    except (ValueError, RuntimeError, OSError) as e:  # CacheError and TrainingDiverged are among these
        print(f"python -m aecore: error: {e}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("python -m aecore: interrupted", file=sys.stderr)
        return 130
