"""What every page of the app shares: the active model, cached loaders, image display.

Pages stay flat scripts (controls, a guard, a call into `aecore`, the display);
the few pieces they all need live here:

- `setup(title)`: page config plus the two speed fixes below.
- `model_picker()`: the sidebar's active model, kept when switching pages.
- `require_model()`: the guard: an info box and a link to Train, then stop.
- `engine(entry)`, `held_out(entry)`, `held_out_codes(entry)`: models, data and
  codes behind `st.cache_resource`, so a rerun never reloads or re-encodes them.
  Everything cached for a model is keyed by `entry.version` (its key and a
  hash of its weights), so a retrain under the same key never shows the old
  model's pictures.
- `show_row`, `upscale`, `png_data_uri`, `read_upload`: image display and upload helpers.
- `start_job`, `job_panel`: background training with live curves and a Stop
  button (used by Home's one-click model and by Train).

Speed: Streamlit's script runner calls `keras.backend.clear_session()` and a
full garbage collection after *every* rerun once Keras is imported (about
0.2 s here, paid on every slider move, and it would reset Keras' global state
under a training thread). The app owns its process and builds models only
when training, so `setup` makes that call skip the collection and leave
Keras' state alone; `.streamlit/config.toml` turns off the runner's own
post-run GC. `model.predict` costs ~50 ms a call, so the pages decode through
`aecore.infer.Engine`'s compiled calls instead.
"""

from __future__ import annotations

import base64
import hashlib
import io
import tempfile
from pathlib import Path

import numpy as np
import plotly.graph_objects as go
import streamlit as st
from PIL import Image
from streamlit.errors import StreamlitAPIException
from plotly.subplots import make_subplots

import aecore  # noqa: F401  (sets the Keras backend before keras is imported)
import keras

from aecore import data as aedata
from aecore.cache import CacheError, Entry, ModelCache, Unreadable, default_dir
from aecore.infer import Engine
from aecore.jobs import TrainingJob
from aecore.train import prepare_data

TRAIN_PAGE = "pages/1_Train.py"
ACTIVE = "active_model_key"  # session_state key (not a widget key: survives page switches)
ADOPTED = "adopted_job"  # session_state: the finished job whose model was made active (once per job)


def _keep_keras_state(*args, **kwargs):
    """Stand-in for `keras.backend.clear_session` in the app process (see module doc)."""
    return None


def setup(title: str, icon: str = "🧭") -> None:
    """Page config and the per-rerun speed fixes. Call first on every page."""
    st.set_page_config(page_title=f"{title} · Latent Explorer", page_icon=icon, layout="wide")
    keras.backend.clear_session = _keep_keras_state


# --- cached resources ---------------------------------------------------------
@st.cache_resource(show_spinner=False)
def _model_cache(root: str) -> ModelCache:
    return ModelCache(root)


def model_cache() -> ModelCache:
    """The cache under `$AECORE_MODELS_DIR` (default `models/`), one object per folder."""
    return _model_cache(str(default_dir()))


def list_entries() -> list[Entry]:
    """Readable cached runs, newest first (the sidebar already reported any unreadable files)."""
    return list_all(warn=False)[0]


def list_all(warn: bool = True) -> tuple[list[Entry], list[Unreadable]]:
    """Readable cached runs (newest first) and the unreadable files, each with its reason; `warn`: say in
    the sidebar that some files are left out (once per page: the sidebar's model picker does it)."""
    entries, problems = model_cache().list()
    if problems and warn:
        st.sidebar.warning(f"{len(problems)} file(s) in the model folder cannot be read and are left out; "
                           "the Train page lists them with their reasons and can delete them.", icon="⚠️")
    return entries, problems


@st.cache_resource(show_spinner="Loading model…", max_entries=8)
def _engine(root: str, key: str, version: str) -> tuple[Entry, Engine]:
    entry = ModelCache(root).load(key)
    return entry, Engine(entry.model)


def engine(entry: Entry) -> tuple[Entry, Engine]:
    """The cached entry with its model, and a compiled `Engine` around it (per version of the weights)."""
    return _engine(str(model_cache().root), entry.key, entry.version)


@st.cache_resource(show_spinner="Reading the images…", max_entries=2)
def _read_zip(digest: str, name: str, size: int, channels: int, _data: bytes) -> tuple[aedata.Dataset | None, str]:
    named = io.BytesIO(_data)
    named.name = name  # the dataset is named after the uploaded file
    try:
        return aedata.load_image_zip(named, size, channels), ""
    except ValueError as e:
        return None, str(e)


def read_zip(uploaded, size: int, channels: int) -> aedata.Dataset | None:
    """An uploaded .zip as a Dataset, decoded once per content, size and colour (a refusal is remembered too);
    None with the reason shown when it cannot be used."""
    data = uploaded.getvalue()
    ds, problem = _read_zip(hashlib.sha256(data).hexdigest(), uploaded.name, size, channels, data)
    if problem:
        st.error(f"{uploaded.name}: {problem}")
    return ds


@st.cache_resource(show_spinner=False, max_entries=16)
def _uploaded_datasets() -> dict:
    return {}


def remember_dataset(ds: aedata.Dataset) -> None:
    """Keep an uploaded dataset in memory so other pages can show its held-out images."""
    _uploaded_datasets()[ds.fingerprint] = ds


@st.cache_resource(show_spinner="Loading held-out images…", max_entries=8)
def _held_out(dataset: str, fingerprint: str, limit: int | None, val_fraction: float) -> aedata.Dataset | None:
    ds = _uploaded_datasets().get(fingerprint)
    if ds is None:
        if dataset not in aedata.BUILTIN_DATASETS:
            return None
        ds = aedata.load_dataset(dataset)
    cfg = aecore.ModelConfig(dataset=dataset, limit=limit, val_fraction=val_fraction)
    return prepare_data(cfg, ds)[1]


def held_out(entry: Entry) -> aedata.Dataset | None:
    """The entry's validation images (the same deterministic split as in training), or None."""
    c = entry.config
    try:
        return _held_out(c.dataset, c.dataset_fingerprint, c.limit, c.val_fraction)
    except (ValueError, RuntimeError) as e:
        st.warning(f"The held-out images of {c.dataset!r} could not be loaded: {e}")
        return None


@st.cache_resource(show_spinner=False, max_entries=8)
def _builtin_fingerprint(name: str) -> str:
    return aedata.load_dataset(name).fingerprint


def builtin_fingerprint(name: str) -> str | None:
    """The content fingerprint of a built-in dataset that loads offline (None otherwise: no page view
    may start a download)."""
    offline = {d["name"]: d["available_offline"] for d in aedata.list_datasets()}
    if not offline.get(name):
        return None
    try:
        return _builtin_fingerprint(name)
    except (ValueError, RuntimeError):
        return None


@st.cache_resource(show_spinner="Encoding the held-out set…", max_entries=8)
def _held_out_codes(version: str, _entry: Entry) -> np.ndarray | None:
    entry, eng = engine(_entry)
    val = held_out(entry)
    return None if val is None else eng.encode(val.images)


def held_out_codes(entry: Entry) -> np.ndarray | None:
    """Codes of the entry's held-out images (computed once per version of the model)."""
    return _held_out_codes(entry.version, entry)


@st.cache_data(show_spinner="Exporting…", max_entries=4)
def _keras_file(root: str, key: str, version: str) -> bytes:
    with tempfile.TemporaryDirectory() as tmp:
        return ModelCache(root).export_keras(key, Path(tmp) / "model.keras").read_bytes()


def keras_file(entry: Entry) -> bytes:
    """The model as a standalone .keras file (opens with keras.saving.load_model in safe mode), per version."""
    return _keras_file(str(model_cache().root), entry.key, entry.version)


def forget_models() -> None:
    """Drop loaded models, codes and exports (after a delete: they are keyed by version, so a retrain
    never needs this)."""
    _engine.clear()
    _held_out_codes.clear()
    _keras_file.clear()


# --- the active model -----------------------------------------------------------
def model_picker() -> Entry | None:
    """Sidebar selector of the active model; returns its entry (without weights) or None."""
    entries = list_all()[0]
    st.sidebar.header("Active model")
    if not entries:
        st.sidebar.info("No trained model yet.")
        return None
    keys = [e.key for e in entries]
    job = st.session_state.get(JOB)
    if job is not None and job.entry is not None and st.session_state.get(ADOPTED) is not job:
        st.session_state[ACTIVE], st.session_state[ADOPTED] = job.entry.key, job  # a model just trained is active
    if st.session_state.get(ACTIVE) not in keys:
        st.session_state[ACTIVE] = keys[0]
    by_key = {e.key: e for e in entries}

    def _changed():
        st.session_state[ACTIVE] = st.session_state["sidebar_model"]

    st.session_state["sidebar_model"] = st.session_state[ACTIVE]
    st.sidebar.selectbox("Model", keys, key="sidebar_model", on_change=_changed,
                         format_func=lambda k: by_key[k].label())
    entry = by_key[st.session_state[ACTIVE]]
    m = entry.metrics
    st.sidebar.caption(
        f"**{entry.config.describe()}**  \n"
        f"held-out MSE {m.get('mse', float('nan')):.4f} · PSNR {m.get('psnr', float('nan')):.1f} dB · "
        f"SSIM {m.get('ssim', float('nan')):.3f}  \n"
        f"{entry.status()}"
    )
    return entry


def _link_to_train(label: str) -> None:
    """A link to the Train page; plain text when a page runs on its own (no page registry)."""
    try:
        st.page_link(TRAIN_PAGE, label=label, icon="🏋️")
    except StreamlitAPIException:  # `streamlit run pages/x.py` or AppTest.from_file(page)
        st.caption("Open the **Train** page from the sidebar of the app (`streamlit run app.py`).")


def require_model(entry: Entry | None) -> tuple[Entry, Engine]:
    """The guard: with no model, say so, link to Train and stop the page."""
    if entry is None:
        st.info("No trained model yet. Train one first — the home page has a one-click default model.")
        _link_to_train("Go to Train")
        st.stop()
    try:
        return engine(entry)
    except CacheError as e:
        st.error(f"This cached model cannot be loaded: {e}")
        _link_to_train("Retrain it on the Train page")
        st.stop()


# --- choosing held-out images -------------------------------------------------------
def parse_indices(text: str, n: int, max_count: int) -> list[int]:
    """'3, 17,42' -> [3, 17, 42]; ValueError saying what was expected and received."""
    parts = [p.strip() for p in text.split(",") if p.strip()]
    bad = [p for p in parts if not (p.isdigit() and int(p) < n)]
    if not parts or bad:
        raise ValueError(f"Expected indices in 0..{n - 1}, comma-separated (e.g. 0, 5, 42), "
                         f"received {', '.join(bad) if bad else repr(text)}.")
    if len(parts) > max_count:
        raise ValueError(f"Expected at most {max_count} indices, received {len(parts)}.")
    return [int(p) for p in parts]


def pick_held_out(n_val: int, prefix: str, default_n: int, max_n: int) -> list[int] | None:
    """Controls for 'how many random images / new random / or these indices'.

    Widget keys are `<prefix>_n`, `<prefix>_new`, `<prefix>_idx`; the random
    draw's seed is `<prefix>_draw` in session state. Returns sorted indices, or
    None (with an error shown) when the typed indices are invalid.
    """
    seed_key = f"{prefix}_draw"
    st.session_state.setdefault(seed_key, 0)
    c1, c2, c3 = st.columns([2, 1, 3])
    top = min(max_n, n_val)
    n_show = c1.slider("How many", 1, top, min(default_n, top), key=f"{prefix}_n") if top > 1 else 1
    if c2.button("New random", key=f"{prefix}_new", help="Draw another random set of held-out images."):
        st.session_state[seed_key] += 1
    text = c3.text_input("Or choose held-out indices", key=f"{prefix}_idx",
                         placeholder=f"e.g. 0, 5, 42 (0..{n_val - 1})",
                         help="Comma-separated; leave empty for random images.")
    if text.strip():
        try:
            return parse_indices(text, n_val, max_n)
        except ValueError as e:
            st.error(str(e))
            return None
    rng = np.random.default_rng(st.session_state[seed_key])
    return sorted(rng.choice(n_val, size=n_show, replace=False).tolist())


# --- images -------------------------------------------------------------------------
def upscale(img: np.ndarray, width: int = 112) -> np.ndarray:
    """(H, W, C) float in [0, 1] -> uint8 (h, w[, 3]) enlarged with nearest neighbour."""
    a = np.clip(np.asarray(img, np.float32), 0, 1)
    if a.ndim == 3 and a.shape[2] == 1:
        a = a[..., 0]
    f = max(1, int(round(width / a.shape[1])))
    a = np.repeat(np.repeat(a, f, axis=0), f, axis=1)
    return (a * 255 + 0.5).astype(np.uint8)


def png_data_uri(img: np.ndarray, width: int | None = 56) -> str:
    """An image as a `data:image/png;base64,...` URI.

    Float images in [0, 1] are enlarged like `upscale` to `width`; uint8
    images (already display-ready, e.g. from `aecore.media.grid_image`) are
    encoded as they are. `st.image` shows a data URI inline, with no second
    request for the picture: the latency path of the sliders.
    """
    return "data:image/png;base64," + base64.b64encode(png_bytes(img, width)).decode("ascii")


def png_bytes(img: np.ndarray, width: int | None = None) -> bytes:
    """PNG file bytes of an image: uint8 as it is, float in [0, 1] enlarged like `upscale`."""
    a = img if img.dtype == np.uint8 else upscale(img, width or img.shape[1])
    buf = io.BytesIO()
    Image.fromarray(a).save(buf, format="PNG")
    return buf.getvalue()


def show_row(images, captions=None, width: int = 112) -> None:
    """Images side by side in columns, each with an optional caption."""
    images = list(images)
    if not images:
        return
    cols = st.columns(len(images))
    for i, (col, img) in enumerate(zip(cols, images)):
        col.image(upscale(img, width), caption=None if captions is None else captions[i], width=width)


def read_upload(uploaded, shape: tuple[int, int, int]) -> np.ndarray | None:
    """An uploaded image file as float32 (H, W, C) for the model, or None with an error shown."""
    if uploaded is None:
        return None
    try:
        return aedata.prepare_image(uploaded.getvalue(), shape[0], shape[2])
    except ValueError as e:
        st.error(f"{uploaded.name}: {e}")
        return None



# --- training with live progress -----------------------------------------------------
JOB = "training_job"  # session_state key of this session's TrainingJob


def start_job(config: aecore.ModelConfig, load, force: bool = False, resume: bool = False) -> TrainingJob:
    """Start training (or resume a stopped run) in the background; the page then calls `job_panel()`."""
    job = TrainingJob(config, load, model_cache(), force=force, resume=resume).start()
    st.session_state[JOB] = job
    return job


def loss_figure(history: dict, kind: str) -> go.Figure:
    """Train/validation curves per epoch; a VAE gets reconstruction and KL panels too."""
    panels = [("loss", "loss")] + ([("recon", "reconstruction"), ("kl", "KL (nats)")] if kind == "vae" else [])
    fig = make_subplots(rows=1, cols=len(panels), subplot_titles=[t for _, t in panels])
    for col, (name, _) in enumerate(panels, start=1):
        for prefix, dash in (("", "solid"), ("val_", "dot")):
            ys = history.get(prefix + name, [])
            fig.add_trace(go.Scatter(x=list(range(1, len(ys) + 1)), y=ys, mode="lines+markers",
                                     name=("validation " if prefix else "train ") + name,
                                     line={"dash": dash}), row=1, col=col)
        fig.update_xaxes(title_text="epoch", row=1, col=col)
    fig.update_layout(height=300, margin={"l": 10, "r": 10, "t": 30, "b": 10}, legend={"orientation": "h"})
    return fig


def _progress_view(job: TrainingJob) -> None:
    ev = job.latest
    if job.state == "loading" or ev is None:
        st.progress(0.0, text="Loading the dataset…" if job.state == "loading" else "Starting…")
        return
    done = min(1.0, (ev.epoch - 1 + ev.batch / max(ev.batches, 1)) / ev.epochs)
    loss = ev.losses.get("loss", float("nan"))
    st.progress(done, text=f"Epoch {ev.epoch}/{ev.epochs} · batch {ev.batch}/{ev.batches} · "
                           f"loss {loss:.4f} · {ev.elapsed:.0f} s elapsed · ETA {ev.eta:.0f} s")
    if job.history:
        st.plotly_chart(loss_figure(job.history, job.config.kind), key=f"live_chart_{len(job.history.get('loss', []))}")


@st.fragment(run_every=0.5)
def _live_panel() -> None:
    job: TrainingJob = st.session_state[JOB]
    if not job.running:
        st.rerun(scope="app")  # redraw the whole page: the sidebar gains the new model
    if job.stop_event.is_set():
        st.button("Stopping after this batch…", disabled=True, key="job_stop_wait")
    elif st.button("Stop", key="job_stop", type="secondary", help="Stop after the current batch and keep the best weights"):
        job.stop()
    _progress_view(job)


def job_panel() -> TrainingJob | None:
    """Show this session's training job: live while it runs, the outcome once it ended."""
    job: TrainingJob | None = st.session_state.get(JOB)
    if job is None:
        return None
    if job.running:
        _live_panel()
        return job
    if job.state == "failed":
        st.error(f"Training failed: {job.error}")
        return job
    entry = job.entry
    m = entry.metrics
    summary = f"held-out MSE {m['mse']:.4f} · PSNR {m['psnr']:.1f} dB · SSIM {m['ssim']:.3f}"
    if job.cached:
        st.success(f"Loaded from the cache: this exact configuration was trained before ({entry.config.describe()}, "
                   f"key {entry.key}). {summary}")
    elif job.state == "stopped":
        best = f"kept the best weights (epoch {entry.best_epoch})" if entry.best_epoch else "kept the weights so far"
        st.warning(f"{entry.status().capitalize()}; {best}. This model is listed and usable, but it does not "
                   f"stand for the full {entry.config.epochs}-epoch configuration: the Train page can resume it. "
                   f"{summary}")
    else:
        st.success(f"Trained {entry.config.describe()} in {entry.seconds:.0f} s "
                   f"({entry.stopped.replace('_', ' ')}, best epoch {entry.best_epoch}). {summary}")
    if entry.history:
        st.plotly_chart(loss_figure(entry.history, entry.config.kind), key="final_chart")
    return job
