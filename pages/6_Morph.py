"""Morph: one image turning into another through the code space.

Two images (held-out by index or by class, or uploaded) are encoded, the path
between their codes is decoded step by step (linear or spherical), and the
frames become a preview strip, an animated GIF and, on demand, an MP4, both
downloadable.
"""

import hashlib

import numpy as np
import streamlit as st

import ui
from aecore import media

ui.setup("Morph")
entry = ui.model_picker()
entry, eng = ui.require_model(entry)

UPLOAD_TYPES = ["png", "jpg", "jpeg", "bmp", "gif", "webp"]
STRIP = 8  # frames in the preview strip
ANIM_PX = 224  # the GIF / MP4 side in pixels (nearest-neighbour upscaled)
INTERPOLATIONS = {"linear": "linear", "spherical": "spherical (slerp)"}


@st.cache_data(show_spinner=False, max_entries=16)
def gif_bytes(frames: np.ndarray, fps: int, loop: bool, bounce: bool, upscale: int) -> bytes:
    return media.frames_to_gif(frames, fps=fps, loop=loop, bounce=bounce, upscale=upscale)


@st.cache_data(show_spinner=False, max_entries=8)
def mp4_bytes(frames: np.ndarray, fps: int, bounce: bool, upscale: int) -> bytes:
    return media.frames_to_mp4(frames, fps=fps, bounce=bounce, upscale=upscale)


st.title("Morph")
st.caption(f"**{entry.config.describe()}** — encode two images, walk the straight (or great-circle) path between "
           "their codes and decode every step. A smooth morph means the code space between them is meaningful.")

val = ui.held_out(entry)
sources = {"index": "Held-out #", "label": "Held-out class", "upload": "Upload"}
if val is None:
    sources = {"upload": "Upload"}
    st.info(f"The held-out images of **{entry.config.dataset}** are not in memory (uploaded data from an earlier "
            "session), so choosing them is unavailable: upload your own two images below.")
elif val.labels is None:
    del sources["label"]
h, w, c = eng.image_shape


def label_of(i: int) -> str:
    if val.labels is None:
        return ""
    k = int(val.labels[i])
    return val.class_names[k] if k < len(val.class_names) else str(k)


# Defaults: A is held-out #0, B the first held-out image of another class (else #1).
default = {"a": 0, "b": min(1, len(val) - 1) if val is not None else 0}
if val is not None and val.labels is not None:
    other = np.flatnonzero(val.labels != val.labels[0])
    if len(other):
        default["b"] = int(other[0])


def choose(side: str):
    """The widgets for image A or B; returns (image (H, W, C) or None, its description)."""
    s = side.lower()
    st.markdown(f"**Image {side}**")
    src = st.radio(f"Source of {side}", list(sources), format_func=sources.get, key=f"mph_src_{s}", horizontal=True,
                   label_visibility="collapsed")
    if src == "index":
        i = st.number_input("Held-out index", 0, len(val) - 1, default[s], key=f"mph_idx_{s}",
                            help=f"0..{len(val) - 1}")
        return val.images[int(i)], f"#{int(i)}" + (f" ({label_of(int(i))})" if val.labels is not None else "")
    if src == "label":
        present = np.unique(val.labels).tolist()
        start = int(val.labels[default[s]])
        cls = st.selectbox("Class", present, index=present.index(start), key=f"mph_cls_{s}",
                           format_func=lambda k: val.class_names[k] if k < len(val.class_names) else str(k))
        members = np.flatnonzero(val.labels == cls)
        cc1, cc2 = st.columns([2, 1])
        which = cc1.radio("Which image", ["first", "random"], key=f"mph_pick_{s}", horizontal=True)
        if which == "random":
            seed_key = f"mph_seed_{s}"
            st.session_state.setdefault(seed_key, 0)
            if cc2.button("Another", key=f"mph_reroll_{s}", icon=":material/casino:",
                          help="Draw another random image of this class."):
                st.session_state[seed_key] += 1
            i = int(np.random.default_rng([st.session_state[seed_key], int(cls), ord(s)]).choice(members))
        else:
            i = int(members[0])
        return val.images[i], f"#{i} ({label_of(i)})"
    up = st.file_uploader(f"Upload image {side} (PNG, JPEG, BMP, GIF or WebP)", type=UPLOAD_TYPES, key=f"mph_up_{s}",
                          help=f"Converted to {h}×{w} {'grayscale' if c == 1 else 'RGB'} like the training images.")
    x = ui.read_upload(up, eng.image_shape)
    return (x, up.name) if x is not None else (None, None)


# --- the two images --------------------------------------------------------------------
col_a, col_b = st.columns(2, gap="large")
with col_a:
    img_a, name_a = choose("A")
    if img_a is not None:
        st.image(ui.upscale(img_a, 112), caption=f"A: {name_a}", width=112)
with col_b:
    img_b, name_b = choose("B")
    if img_b is not None:
        st.image(ui.upscale(img_b, 112), caption=f"B: {name_b}", width=112)

# --- controls ------------------------------------------------------------------------
k1, k2, k3, k4 = st.columns([2, 2, 2, 1])
steps = k1.slider("Steps (frames A → B)", 2, 120, 30, key="mph_steps")
method = k2.radio("Interpolation", list(INTERPOLATIONS), format_func=INTERPOLATIONS.get, key="mph_method",
                  horizontal=True, help="Spherical keeps the code's length, which suits a VAE's Gaussian prior.")
fps = k3.slider("Frames per second", 1, 50, 10, key="mph_fps")
loop = k4.checkbox("Loop", True, key="mph_loop", help="Loop the GIF forever (else it plays once).")
bounce = k4.checkbox("Bounce", False, key="mph_bounce", help="Play A → B → A.")

if img_a is None or img_b is None:
    missing = " and ".join(s for s, x in (("A", img_a), ("B", img_b)) if x is None)
    st.info(f"Choose image {missing} to morph: upload a file, or pick from the held-out set.")
    st.stop()

# --- the work ---------------------------------------------------------------------------
frames = eng.morph(np.stack([img_a, img_b]), steps=int(steps), method=method)
upscale = max(1, min(16, ANIM_PX // w))
gif = gif_bytes(frames, int(fps), bool(loop), bool(bounce), upscale)
n_played = len(frames) + (len(frames) - 2 if bounce else 0)

# --- the display ----------------------------------------------------------------------------
st.subheader("Preview")
pick = np.unique(np.linspace(0, len(frames) - 1, min(STRIP, len(frames))).round().astype(int))
ui.show_row(frames[pick], [f"t = {i / (len(frames) - 1):.2f}" for i in pick], width=84)

g1, g2 = st.columns([1, 1], gap="large")
g1.image(gif, caption=f"{name_a} → {name_b} · {n_played} frames at {fps} fps"
                      + (" · bounce" if bounce else "") + (" · loops" if loop else " · plays once"), width=ANIM_PX)
with g2:
    st.markdown("**Download**")
    st.download_button("GIF", gif, icon=":material/download:", file_name=f"morph_{steps}x{method}.gif",
                       mime="image/gif", key="mph_gif_download", on_click="ignore")
    signature = hashlib.sha256(frames.tobytes() + repr((fps, bounce, upscale)).encode()).hexdigest()
    made = st.session_state.get("mph_mp4")
    if st.button("Make MP4", key="mph_mp4_make", icon=":material/movie:",
                 help="H.264, plays everywhere; takes about a second."):
        try:
            with st.spinner("Encoding the MP4…"):
                st.session_state["mph_mp4"] = made = (signature, mp4_bytes(frames, int(fps), bool(bounce), upscale))
        except Exception as e:  # moviepy / ffmpeg failures of any kind must not reach the page as a traceback
            st.error(f"Expected to encode an MP4 with ffmpeg, received an error: {type(e).__name__}: {e}")
    if made is not None and made[0] == signature:
        st.download_button("MP4", made[1], icon=":material/download:", file_name=f"morph_{steps}x{method}.mp4",
                           mime="video/mp4", key="mph_mp4_download", on_click="ignore")
    elif made is not None:
        st.caption("The settings changed since the last MP4: make it again.")
    st.caption(f"{h * upscale}×{w * upscale} px ({upscale}× the {h}×{w} model output), {len(frames)} decoded steps.")
