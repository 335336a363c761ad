"""What every page of the app shares: the start of a page, the active model, and the pages' common words and widgets.

Pages read top to bottom (controls, a guard, the work, the display); what more
than one page needs lives here, once, under one name:

- `model_page(title)`: how a model page starts: `setup` (page config, the
  speed fix below, this session's workspace from the link), the title,
  `model_picker()` (the sidebar: the workspace's running training, the active
  model, kept when switching pages), the guard (no model: links to Home and
  Train, then stop).
- `engine(entry)`, `held_out(entry)`, `held_out_codes(entry)`: models, data and
  codes, from `workspace_ui` (cached per model folder and `entry.version`, its
  key and a hash of its weights, so a retrain under the same key never shows
  the old model's pictures, and one workspace's never answer for another's).
- `upload_image`: the one way every page takes the user's image (one file in
  `UPLOAD_FORMATS`): fitted with its aspect ratio or by MNIST's preparation
  (`aecore.images`), "Invert colours" ticked when its background is unlike the
  training images', a warning when the model finds it unlike the training data.
- The pages' vocabulary: `held_out_missing` (the "not available" notice),
  `pick_held_out`, `label_of` / `class_name`, `NOISE_LABELS`, `metrics_line`.
- `show_row` (inline PNGs, so pictures and captions appear together), `upscale`,
  `png_data_uri`, `png_bytes`, `short_name`: image display.
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
from typing import NamedTuple

import numpy as np
import streamlit as st
from PIL import Image
from streamlit.errors import StreamlitAPIException

import aecore  # noqa: F401  (sets the Keras backend before keras is imported)

# isort: split
import keras

import links
import navigation
import workspace_ui
from aecore.cache import CacheError, Entry
from aecore.data import Dataset
from aecore.images import IMAGE_EXTENSIONS, MNIST_BOX, light_background, load_image, prepare_image
from aecore.infer import Engine

HOME_PAGE, TRAIN_PAGE = navigation.HOME_PAGE, navigation.TRAIN_PAGE
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
    navigation.declare_once()
    navigation.trim_memory()
    st.set_page_config(page_title=f"{title} · Latent Explorer", page_icon=icon, layout="wide")
    keras.backend.clear_session = _keep_keras_state
    workspace_ui.workspace()


# --- models and data ----------------------------------------------------------------
# The pages' names for the loaders; workspace_ui keys them by the model's folder (see its doc).
engine, held_out = workspace_ui.engine, workspace_ui.held_out
held_out_codes, held_out_errors = workspace_ui.held_out_codes, workspace_ui.held_out_errors


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
    model then active), the selector of the active model (a new link's `?model=` first: `links`), the workspace's
    note. Returns the active entry (without weights) or None. Only this session's models answer: a key of another
    workspace is not one."""
    just_trained = workspace_ui.job_sidebar()
    if just_trained is not None:
        st.session_state[ACTIVE] = just_trained
    entries = list_all()[0]
    keys = [e.key for e in entries]
    linked = links.linked_model(keys)  # a new link's model (a link to a model not here says so)
    st.sidebar.header("Active model")
    if not entries:
        st.sidebar.info("No trained model yet.")
        workspace_ui.workspace_note()
        return None
    st.session_state[ACTIVE] = linked or st.session_state.get(ACTIVE)
    if st.session_state.get(ACTIVE) not in keys:
        st.session_state[ACTIVE] = keys[0]
    by_key = {e.key: e for e in entries}

    def _changed():
        st.session_state[ACTIVE] = st.session_state["sidebar_model"]

    st.session_state["sidebar_model"] = st.session_state[ACTIVE]
    st.sidebar.selectbox("Model", keys, key="sidebar_model", on_change=_changed,
                         format_func=lambda k: by_key[k].label())
    entry = by_key[st.session_state[ACTIVE]]
    links.publish_model(entry.key)
    where = "shared with everyone" if workspace_ui.is_shared(entry) else "private to this workspace"
    st.sidebar.caption(f"**{entry.config.describe()}**  \n{metrics_line(entry.metrics)}  \n{entry.status()} · "
                       f"{where}")
    workspace_ui.workspace_note()
    return entry


def metrics_line(m: dict) -> str:
    """A model's held-out scores in one line: "held-out MSE 0.0123 · PSNR 19.1 dB · SSIM 0.712" (nan if missing)."""
    nan = float("nan")
    return f"held-out MSE {m.get('mse', nan):.4f} · PSNR {m.get('psnr', nan):.1f} dB · SSIM {m.get('ssim', nan):.3f}"


def go_to(page: str, label: str) -> None:
    """Open another page of the app in this workspace (`st.switch_page`: the rest of this run is skipped); when
    a page runs on its own (no page registry), say where to go instead."""
    try:
        st.switch_page(page, query_params=workspace_ui.link_params())
    except StreamlitAPIException:  # `streamlit run pages/x.py` or AppTest.from_file(page)
        _from_the_sidebar(label)


def _from_the_sidebar(label: str) -> None:
    """Where a page running on its own (no page registry) says to find another page."""
    st.caption(f"Open **{label}** from the sidebar of the app (`streamlit run app.py`).")


def _link(page: str, label: str, icon: str) -> None:
    """A link to another page of the app; plain text when a page runs on its own (no page registry)."""
    try:
        st.page_link(page, label=label, icon=icon, query_params=workspace_ui.link_params())
    except StreamlitAPIException:  # `streamlit run pages/x.py` or AppTest.from_file(page)
        _from_the_sidebar(label.removeprefix("Go to "))


def model_page(title: str) -> tuple[Entry, Engine]:
    """Start a page that works with the active model: page config, the title, the sidebar's model picker, the
    guard (with no usable model: say so, link to Home and Train and stop the page). Returns the active entry with
    its model, and a compiled `Engine` around it."""
    setup(title)
    st.title(title)
    entry = model_picker()
    if entry is None:
        st.info("No trained model yet. Train one first: **Home** trains a default model in one click, **Train** "
                "any kind on any dataset.")
        _link(HOME_PAGE, "Go to Home", "🧭")
        _link(TRAIN_PAGE, "Go to Train", "🏋️")
        st.stop()
    try:
        entry, eng = engine(entry)
    except CacheError as e:
        st.error(f"This cached model cannot be loaded: {e}")
        _link(TRAIN_PAGE, "Retrain it on the Train page", "🏋️")
        st.stop()
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


def held_out_name(ds: Dataset, i: int) -> str:
    """Image `i` for a caption: "#12 (3)" with its class, "#12" without labels."""
    return f"#{i}" + (f" ({label_of(ds, i)})" if ds.labels is not None else "")


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
    """Images side by side, each `width` px wide with an optional caption, as one `st.image` list: a row that
    wraps onto more lines where the page is narrow (fixed-width images in columns would overlap and their
    captions break inside words). Each picture goes inline (a PNG data URI of a few kB), so it appears together
    with its caption, not a moment later as a second request would."""
    images = list(images)
    if images:
        st.image([png_data_uri(img, width) for img in images], width=width,
                 caption=None if captions is None else list(captions))


# --- the user's image ------------------------------------------------------------------
MNIST_PREP_DEFAULT = ("mnist",)  # datasets whose pages start with MNIST's preparation ticked (digits in 20x20)


class Upload(NamedTuple):
    """The user's image as `upload_image` prepared it for the model."""
    image: np.ndarray       # float32 (H, W, C) in [0, 1], the model's input
    name: str               # the file's name
    id: str                 # the file and how it was prepared: changes with a new file, Invert or MNIST's preparation
    inverted: bool
    mnist: bool             # MNIST's preparation (else: fitted with its aspect ratio, padded)
    error: float            # the model's reconstruction MSE of `image`
    share: float | None     # the share of held-out images reconstructed better; None without them


def short_name(name: str, limit: int = 16) -> str:
    """A file name shortened in the middle to at most `limit` characters, keeping its extension
    ("a_very_long_name.png" -> "a_very_lo….png"): image captions are narrow and break long words anywhere."""
    if len(name) <= limit:
        return name
    stem, dot, ext = name.rpartition(".")
    ext = dot + ext if dot and len(ext) <= 5 else ""
    stem = stem if ext else name
    return stem[:max(1, limit - len(ext) - 1)] + "…" + ext


def _file_memo(uploaded, prefix: str) -> dict:
    """What is known of the current upload, kept in session state under `<prefix>_prepared` so that reruns (a
    slider move) decode nothing: its "file" id, whether it has a "light" background and its prepared versions
    ("x", by shape and options). ValueError ("Expected ..., received ...") for an unusable file."""
    memo = st.session_state.get(f"{prefix}_prepared")
    if memo is None or memo["file"] != uploaded.file_id:
        raw = load_image(uploaded.getvalue())
        memo = {"file": uploaded.file_id, "light": light_background(raw), "raw": raw, "x": {}}
        st.session_state[f"{prefix}_prepared"] = memo
    return memo


def _prepared(memo: dict, uploaded, shape, inverted: bool, mnist: bool) -> np.ndarray:
    """The upload prepared for a model of `shape` (H, W, C), inverted or not, with MNIST's preparation or fitted."""
    key = (tuple(shape), inverted, mnist)
    if key not in memo["x"]:
        raw = memo.pop("raw", None)  # the full-size pixels are kept for this run only
        memo["x"][key] = prepare_image(load_image(uploaded.getvalue()) if raw is None else raw, shape[0], shape[2],
                                       fit="mnist" if mnist else "pad", inverted=inverted)
    return memo["x"][key]


def upload_image(label: str, prefix: str, entry: Entry, note: str = "") -> Upload | None:
    """The one way a page takes the user's image: the uploader, then (with a file) "Invert colours", "MNIST's
    preparation", the background hint and, when the model reconstructs it worse than 95% of the held-out images,
    a warning that it is unlike the training data.

    Args:
        label: what it asks, e.g. "Upload an image" (the formats follow).
        prefix: the page's key prefix: widgets `<prefix>_upload`, `<prefix>_invert`, `<prefix>_mnist`.
        entry: the active model (its image shape, dataset and held-out images decide the defaults).
        note: a sentence added to the uploader's help; default none.
    Defaults, set again for every new file or model: Invert when the image's background is light and the
    training images' dark (or the other way round); MNIST's preparation for `MNIST_PREP_DEFAULT` datasets.
    Returns the prepared image with what was done to it, or None (no file, or an unusable one: an error says why).
    """
    entry, eng = engine(entry)
    h, w, c = eng.image_shape
    up = st.file_uploader(f"{label} ({UPLOAD_FORMATS})", type=UPLOAD_TYPES, key=f"{prefix}_upload",
                          help=f"Any size or colour mode: it is converted to {h}×{w} {'grayscale' if c == 1 else 'RGB'}"
                               " like the training images, keeping its aspect ratio (padded with its background "
                               "colour)." + (f" {note}" if note else ""))
    if up is None:
        return None
    try:
        memo = _file_memo(up, prefix)
    except ValueError as e:
        st.error(f"{up.name}: {e}")
        return None
    val = held_out(entry)
    differs = val is not None and memo["light"] != light_background(val.images)  # background unlike the data's
    k_inv, k_mnist = f"{prefix}_invert", f"{prefix}_mnist"
    if st.session_state.get(f"{prefix}_seen") != (up.file_id, entry.version):  # a new file or model: the defaults
        st.session_state[k_inv] = differs
        st.session_state[k_mnist] = entry.config.dataset in MNIST_PREP_DEFAULT
        st.session_state[f"{prefix}_seen"] = (up.file_id, entry.version)
    c1, c2 = st.columns(2)
    inverted = bool(c1.checkbox("Invert colours", key=k_inv,
                                help="Use the negative: for a dark digit drawn on white paper when the training "
                                     "images are light on dark, as MNIST's are. Ticked when the backgrounds differ."))
    mnist = bool(c2.checkbox("MNIST's preparation", key=k_mnist,
                             help=f"Crop to the ink, fit it into {round(h * MNIST_BOX)}×{round(w * MNIST_BOX)} and "
                                  f"centre it by its centre of mass in {h}×{w}, as MNIST's digits were made. Off: the "
                                  "whole picture, its aspect ratio kept."))
    x = _prepared(memo, up, eng.image_shape, inverted, mnist)
    if differs:
        ours, theirs = ("light", "dark") if memo["light"] else ("dark", "light")
        st.caption(f"This image has a mostly {ours} background and the training images a {theirs} one: "
                   + ("it is inverted (untick **Invert colours** to use it as it is)." if inverted
                      else "try **Invert colours**."))
    error = float(eng.errors(x[None])[0])
    errs = held_out_errors(entry)
    share = None if errs is None else float((errs < error).mean())
    if share is not None and share > 0.95:
        st.warning(f"This image looks unlike the training data to this model: its reconstruction error ({error:.4f}) "
                   f"is higher than {share:.0%} of the held-out images'. What the page shows for it says little "
                   "about the model.", icon="⚠️")
    return Upload(x, up.name, f"{up.file_id}:{int(inverted)}{int(mnist)}", inverted, mnist, error, share)
