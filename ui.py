"""What every page of the app shares: the start of a page, the active model, and the pages' common words and widgets.

Pages read top to bottom (controls, a guard, the work, the display); what more
than one page needs lives here, once, under one name:

- `model_page(title)`: how a model page starts: `setup` (page config, the
  speed fix below, this session's workspace from the link), `model_picker()`
  (the sidebar: the workspace's running training, the active model, kept when
  switching pages), the guard (no model: a link to Train, then stop), the title.
- `engine(entry)`, `held_out(entry)`, `held_out_codes(entry)`: models, data and
  codes, from `workspace_ui` (cached per model folder and `entry.version`, its
  key and a hash of its weights, so a retrain under the same key never shows
  the old model's pictures, and one workspace's never answer for another's).
- The pages' vocabulary: `image_uploader` and `read_upload` (one image in
  `UPLOAD_FORMATS`; the help says it is converted to h×w grayscale or RGB),
  `invert_option` / `invert_hint`, `held_out_missing` (the "not available"
  notice), `pick_held_out`, `label_of` / `class_name`, `NOISE_LABELS`, `metrics_line`.
- `show_row`, `upscale`, `png_data_uri`, `png_bytes`: image display.
- Session-state keys: `ACTIVE` (the active model), `JOB` (the workspace's
  training job as last seen: `training_panel` starts and shows it).

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
import io

import numpy as np
import streamlit as st
from PIL import Image
from streamlit.errors import StreamlitAPIException

import aecore  # noqa: F401  (sets the Keras backend before keras is imported)

# isort: split
import keras

import workspace_ui
from aecore.cache import CacheError, Entry
from aecore.data import Dataset
from aecore.images import IMAGE_EXTENSIONS, prepare_image
from aecore.infer import Engine

TRAIN_PAGE = "pages/1_Train.py"
ACTIVE = "active_model_key"  # session_state key (not a widget key: survives page switches)
JOB = workspace_ui.JOB  # session_state: the workspace's training job, as this session last saw it

UPLOAD_TYPES = [ext.lstrip(".") for ext in IMAGE_EXTENSIONS]  # what an image uploader accepts
UPLOAD_FORMATS = "PNG, JPEG, BMP, GIF or WebP"
NOISE_LABELS = {"gaussian": "Gaussian (one σ)", "gaussian_hetero": "Gaussian (per-pixel σ)",
                "salt_pepper": "Salt & pepper", "masking": "Masking"}  # aecore.config.NOISE_TYPES, for people


def _keep_keras_state(*args, **kwargs) -> None:
    """Stand-in for `keras.backend.clear_session` in the app process (see module doc)."""


def setup(title: str, icon: str = "🧭") -> None:
    """Page config, the per-rerun speed fixes and this session's workspace (its id written into the link).
    Call first on every page."""
    st.set_page_config(page_title=f"{title} · Latent Explorer", page_icon=icon, layout="wide")
    keras.backend.clear_session = _keep_keras_state
    workspace_ui.workspace()


# --- models and data ----------------------------------------------------------------
# The pages' names for the loaders; workspace_ui keys them by the model's folder (see its doc).
engine, held_out, held_out_codes = workspace_ui.engine, workspace_ui.held_out, workspace_ui.held_out_codes


def list_all(warn: bool = True) -> tuple[list[Entry], list]:
    """The models this session sees (newest first: the shared ones and its workspace's) and the unreadable
    files, each as (its cache, `Unreadable` with the reason); `warn`: say in the sidebar that some files are left
    out (once per page: the sidebar's model picker does it)."""
    entries, problems = workspace_ui.list_models()
    if problems and warn:
        st.sidebar.warning(f"{len(problems)} file(s) in the model folder cannot be read and are left out; "
                           "the Train page lists them with their reasons and can delete them.", icon="⚠️")
    return entries, problems


# --- the active model -----------------------------------------------------------
def model_picker() -> Entry | None:
    """The sidebar: the workspace's training job (progress and Stop while it runs; its end announced once, its
    model then active), the selector of the active model, the workspace's note. Returns the active entry
    (without weights) or None. Only this session's models answer: a key of another workspace is not one."""
    just_trained = workspace_ui.job_sidebar()
    if just_trained is not None:
        st.session_state[ACTIVE] = just_trained
    entries = list_all()[0]
    st.sidebar.header("Active model")
    if not entries:
        st.sidebar.info("No trained model yet.")
        workspace_ui.workspace_note()
        return None
    keys = [e.key for e in entries]
    if st.session_state.get(ACTIVE) not in keys:
        st.session_state[ACTIVE] = keys[0]
    by_key = {e.key: e for e in entries}

    def _changed():
        st.session_state[ACTIVE] = st.session_state["sidebar_model"]

    st.session_state["sidebar_model"] = st.session_state[ACTIVE]
    st.sidebar.selectbox("Model", keys, key="sidebar_model", on_change=_changed,
                         format_func=lambda k: by_key[k].label())
    entry = by_key[st.session_state[ACTIVE]]
    where = "shared with everyone" if workspace_ui.is_shared(entry) else "private to this workspace"
    st.sidebar.caption(f"**{entry.config.describe()}**  \n{metrics_line(entry.metrics)}  \n{entry.status()} · "
                       f"{where}")
    workspace_ui.workspace_note()
    return entry


def metrics_line(m: dict) -> str:
    """A model's held-out scores in one line: "held-out MSE 0.0123 · PSNR 19.1 dB · SSIM 0.712" (nan if missing)."""
    nan = float("nan")
    return f"held-out MSE {m.get('mse', nan):.4f} · PSNR {m.get('psnr', nan):.1f} dB · SSIM {m.get('ssim', nan):.3f}"


def _link_to_train(label: str) -> None:
    """A link to the Train page; plain text when a page runs on its own (no page registry)."""
    try:
        st.page_link(TRAIN_PAGE, label=label, icon="🏋️", query_params=workspace_ui.link_params())
    except StreamlitAPIException:  # `streamlit run pages/x.py` or AppTest.from_file(page)
        st.caption("Open the **Train** page from the sidebar of the app (`streamlit run app.py`).")


def model_page(title: str) -> tuple[Entry, Engine]:
    """Start a page that works with the active model: page config, the sidebar's model picker, the guard (with
    no usable model: say so, link to Train and stop the page), the title. Returns the active entry with its
    model, and a compiled `Engine` around it."""
    setup(title)
    entry = model_picker()
    if entry is None:
        st.info("No trained model yet. Train one first — the home page has a one-click default model.")
        _link_to_train("Go to Train")
        st.stop()
    try:
        entry, eng = engine(entry)
    except CacheError as e:
        st.error(f"This cached model cannot be loaded: {e}")
        _link_to_train("Retrain it on the Train page")
        st.stop()
    st.title(title)
    return entry, eng


# --- the held-out images --------------------------------------------------------------
def held_out_missing(entry: Entry, consequence: str) -> None:
    """Say that the entry's held-out images are not available (a model trained on an upload that was not kept
    with it); `consequence` continues the sentence, e.g. ", so there is nothing to plot."."""
    st.info(f"The held-out images of **{entry.config.dataset}** are not available (the uploaded images were not "
            f"kept with this model){consequence}")


def class_name(ds: Dataset, c: int) -> str:
    """The name of class number `c` of a labelled dataset (the number itself when it has no name)."""
    return ds.class_names[c] if c < len(ds.class_names) else str(c)


def label_of(ds: Dataset, i: int) -> str:
    """The class name of image `i`, or "no label" for a dataset without labels."""
    return "no label" if ds.labels is None else class_name(ds, int(ds.labels[i]))


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
    """Controls for 'how many random images / new random / or these indices' (widget keys `<prefix>_n`,
    `<prefix>_new`, `<prefix>_idx`; the random draw's seed is `<prefix>_draw` in session state). Returns sorted
    indices, or None (with an error shown) when the typed indices are invalid."""
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
    """An image as a `data:image/png;base64,...` URI (as `png_bytes`, floats enlarged to `width`); `st.image`
    shows it inline, with no second request for the picture: the latency path of the sliders."""
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


# --- the user's image ------------------------------------------------------------------
def image_uploader(label: str, key: str, shape: tuple[int, int, int], note: str = ""):
    """A file uploader for one image in `UPLOAD_FORMATS`; its help says what the image is converted to.

    Args:
        label: what it asks, e.g. "Upload an image" (the formats follow); key: the widget key;
        shape: the model's (H, W, C); note: a sentence added to the help.
    Returns Streamlit's UploadedFile or None; `read_upload` turns it into the model's input.
    """
    h, w, c = shape
    return st.file_uploader(f"{label} ({UPLOAD_FORMATS})", type=UPLOAD_TYPES, key=key,
                            help=f"Any size or colour mode: it is converted to {h}×{w} "
                                 f"{'grayscale' if c == 1 else 'RGB'} like the training images."
                                 + (f" {note}" if note else ""))


def read_upload(uploaded, shape: tuple[int, int, int]) -> np.ndarray | None:
    """An uploaded image file as float32 (H, W, C) for the model, or None (with an error shown if unusable)."""
    if uploaded is None:
        return None
    try:
        return prepare_image(uploaded.getvalue(), shape[0], shape[2])
    except ValueError as e:
        st.error(f"{uploaded.name}: {e}")
        return None


def invert_option(key: str) -> bool:
    """The "Invert colours" checkbox for an uploaded image; returns whether it is ticked."""
    return st.checkbox("Invert colours", key=key,
                       help="For dark-on-light images (a digit drawn on white paper) when the training "
                            "images are light on dark, as MNIST's are.")


def invert_hint(image: np.ndarray, reference: Dataset | None, inverted: bool) -> None:
    """Suggest "Invert colours" when an image not inverted is mostly light and the training images mostly
    dark, or the other way round."""
    if reference is not None and not inverted and (image.mean() > 0.5) != (reference.images.mean() > 0.5):
        st.caption("This image is mostly light while the training images are mostly dark (or the other way "
                   "round): try **Invert colours**.")
