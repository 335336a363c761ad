"""Latent Slider: steer the decoder by hand.

One slider per code dimension (for codes longer than 16 numbers: one per
principal direction of the held-out codes), decoded live inside a fragment so
a slider move reruns only the sliders and the picture. Random samples, a
reset, a start from a held-out or uploaded image, and a 2-D manifold grid over
any two code dimensions with the others held at the sliders' values.

Session state: `sld_last_image` holds the last decoded image (H, W, C floats
in [0, 1]) so tests and debugging can see what the sliders produced.
"""

import math

import numpy as np
import streamlit as st

import ui
from aecore import media
from aecore.infer import pca

ui.setup("Latent Slider")
entry = ui.model_picker()
entry, eng = ui.require_model(entry)

MAX_SLIDERS = 16  # above this many dimensions the sliders follow principal directions
SHOW_PX = 280  # the decoded image's width on screen
GRID_PX = 560  # the manifold grid's approximate width on screen
PCA_SPAN = 3.0  # principal-direction sliders run over +-3 std
# The seeds' grid ranges (+-5, +-8, +-15) plus +-3, where a VAE's N(0, 1) prior puts nearly all its codes.
RANGES = {"±3": 3.0, "±5": 5.0, "±8": 8.0, "±15": 15.0, "custom": None}
UPLOAD_TYPES = ["png", "jpg", "jpeg", "bmp", "gif", "webp"]
LAST_IMAGE = "sld_last_image"  # documented session-state key: the last decoded image


def nice_step(span: float) -> float:
    """A round slider step giving roughly 200-500 positions over `span`."""
    raw = max(span, 1e-6) / 300
    base = 10 ** math.floor(math.log10(raw))
    return next(m * base for m in (1, 2, 5, 10) if m * base >= raw)


class Axes:
    """What the sliders mean: raw code dimensions, or principal directions of the codes."""

    def __init__(self, dim: int, codes, is_vae: bool):
        self.dim, self.mode = dim, "raw"
        usable = codes is not None and len(codes) >= 2
        if dim > MAX_SLIDERS and usable:
            k = min(MAX_SLIDERS, len(codes), dim)
            self.mode = "pca"
            self.mean, self.comps, std = pca(codes, k)
            self.std = np.maximum(std, 1e-6)
            self.keys = [f"sld_pc{i}" for i in range(k)]
            self.labels = [f"PC {i + 1}  (σ = {s:.2f})" for i, s in enumerate(self.std)]
            self.lo = np.full(k, -PCA_SPAN)
            self.hi = np.full(k, PCA_SPAN)
            self.step = 0.05
            self.default = np.zeros(k)
            return
        self.dims = list(range(min(dim, MAX_SLIDERS)))
        self.base = np.zeros(dim, np.float32)
        if usable:
            m, s = codes.mean(axis=0).astype(np.float64), codes.std(axis=0).astype(np.float64)
            s = np.maximum(s, 0.05)  # a dead dimension still gets a usable range
            lo, hi = m - 3 * s, m + 3 * s
            if is_vae:  # cover the prior the random samples come from
                lo, hi = np.minimum(lo, -3.0), np.maximum(hi, 3.0)
            self.base = m.astype(np.float32)
        else:
            m, lo, hi = np.zeros(dim), np.full(dim, -3.0), np.full(dim, 3.0)
        span = float(np.max(hi - lo))
        self.step = nice_step(span)
        self.lo = np.floor(lo[self.dims] * 10) / 10
        self.hi = np.ceil(hi[self.dims] * 10) / 10
        self.default = np.clip(np.round(m[self.dims] / self.step) * self.step, self.lo, self.hi)
        self.keys = [f"sld_z{i}" for i in self.dims]
        self.labels = [f"z{i}" for i in self.dims]

    def code(self, values) -> np.ndarray:
        v = np.asarray(values, np.float64)
        if self.mode == "pca":
            return (self.mean + (v * self.std) @ self.comps).astype(np.float32)
        z = self.base.copy()
        z[self.dims] = v
        return z

    def values(self, z) -> np.ndarray:
        """Slider values closest to code z (clipped to the sliders' ranges)."""
        z = np.asarray(z, np.float64)
        v = ((z - self.mean) @ self.comps.T) / self.std if self.mode == "pca" else z[self.dims]
        return np.clip(np.round(v / self.step) * self.step, self.lo, self.hi)


def set_sliders(axes: Axes, values) -> None:
    for key, v in zip(axes.keys, values):
        st.session_state[key] = round(float(v), 6)


def random_sample(axes: Axes, codes) -> None:
    """Button callback: draw a code (VAE prior, or a Gaussian fitted to the codes) and move the sliders there."""
    try:
        z, _ = eng.sample(1, codes=None if eng.is_vae else codes)
    except ValueError as e:
        st.session_state["sld_message"] = str(e)
        return
    set_sliders(axes, axes.values(z[0]))


def from_held_out(axes: Axes, images) -> None:
    """Button callback: move the sliders to the code of the chosen held-out image."""
    i = st.session_state.get("sld_from_idx")
    if i is None:
        return
    set_sliders(axes, axes.values(eng.encode(images[int(i)][None])[0]))


st.title("Latent Slider")
val = ui.held_out(entry)
codes = ui.held_out_codes(entry) if val is not None else None
D = eng.latent_dim
axes = Axes(D, codes, eng.is_vae)

if axes.mode == "pca":
    st.caption(f"**{entry.config.describe()}** — the code has {D} numbers, so the {len(axes.keys)} sliders move "
               "along the top principal directions of the held-out codes (in units of the codes' spread along "
               "each), starting from their mean. Directions beyond these are held at the mean.")
else:
    st.caption(f"**{entry.config.describe()}** — one slider per code number; each decodes live. "
               + ("Ranges: mean ± 3 std of the held-out codes"
                  + (" (at least ±3, the prior's range)." if eng.is_vae else ".") if codes is not None
                  else "No held-out codes available, so the ranges are a plain ±3."))
    if D > MAX_SLIDERS:
        st.info(f"The held-out images are not available, so only the first {MAX_SLIDERS} of {D} dimensions get "
                "sliders (the rest stay 0).")
if val is None:
    st.info(f"The held-out images of **{entry.config.dataset}** are not in memory (uploaded data from an earlier "
            "session): the slider ranges are a guess and starting from a held-out image is unavailable. "
            "Sliders, the grid and starting from your own image still work.")

# Slider state belongs to one model: start from the defaults when the model (or slider meaning) changes,
# and keep remembered values inside the current ranges.
signature = f"{entry.version}:{axes.mode}:{len(axes.keys)}"
if st.session_state.get("sld_model") != signature:
    set_sliders(axes, axes.default)
    st.session_state["sld_model"] = signature
    st.session_state.pop("sld_grid_memo", None)
for key, lo, hi, d in zip(axes.keys, axes.lo, axes.hi, axes.default):
    v = st.session_state.get(key)
    st.session_state[key] = round(float(d) if v is None else float(min(max(v, lo), hi)), 6)

# --- start from an image --------------------------------------------------------------
with st.expander("Start from an image"):
    c1, c2 = st.columns(2)
    if val is not None:
        c1.number_input("Held-out image #", 0, len(val) - 1, 0, key="sld_from_idx",
                        help=f"An index into the {len(val)} held-out images.")
        c1.button("Set the sliders to its code", key="sld_from_btn", on_click=from_held_out, args=(axes, val.images))
    else:
        c1.caption("Held-out images are not available for this model.")
    h, w, c = eng.image_shape
    up = c2.file_uploader("Or upload an image (PNG, JPEG, BMP, GIF or WebP)", type=UPLOAD_TYPES, key="sld_upload",
                          help=f"Converted to {h}×{w} {'grayscale' if c == 1 else 'RGB'} like the training images.")
    with c2:
        x = ui.read_upload(up, eng.image_shape)
    if x is not None and st.session_state.get("sld_upload_used") != (up.file_id, signature):
        set_sliders(axes, axes.values(eng.encode(x[None])[0]))  # the sliders are not drawn yet in this run
        st.session_state["sld_upload_used"] = (up.file_id, signature)
    if x is not None:
        c2.image(ui.upscale(x, 84), caption=f"{up.name}: the sliders were set to its code", width=84)


# --- the live part: sliders, decode, picture, grid (a fragment: moving a slider reruns only this) ---------
@st.fragment
def explorer(axes: Axes, codes) -> None:
    left, right = st.columns([3, 2], gap="large")
    with left:
        b1, b2 = st.columns(2)
        no_prior = not eng.is_vae and codes is None
        b1.button("Random sample", key="sld_random", icon=":material/casino:", on_click=random_sample,
                  args=(axes, codes), disabled=no_prior, width="stretch",
                  help="A VAE samples its N(0, I) prior; another model samples a Gaussian fitted to its "
                       "held-out codes." if not no_prior else "A non-VAE model needs held-out codes to sample from.")
        b2.button("Reset", key="sld_reset", icon=":material/restart_alt:", on_click=set_sliders,
                  args=(axes, axes.default), width="stretch",
                  help="Back to the mean of the held-out codes." if codes is not None else "Back to zero.")
        if "sld_message" in st.session_state:
            st.error(st.session_state.pop("sld_message"))
        ncols = 1 if len(axes.keys) <= 6 else 2
        per_col = -(-len(axes.keys) // ncols)
        cols = st.columns(ncols)
        values = [cols[i // per_col].slider(label, float(lo), float(hi), step=float(axes.step), key=key)
                  for i, (key, label, lo, hi) in enumerate(zip(axes.keys, axes.labels, axes.lo, axes.hi))]
    z = axes.code(values)
    img = eng.decode_one(z)
    st.session_state[LAST_IMAGE] = img
    shown = ", ".join(f"{v:.2f}" for v in z[:8]) + (", …" if len(z) > 8 else "")
    # A data URI travels inside the rerun's message: no second request for the picture.
    right.image(ui.png_data_uri(img, SHOW_PX), caption=f"decode(z), z = [{shown}]", width=SHOW_PX)

    st.subheader("Manifold grid")
    if D < 2:
        st.info("A grid needs at least 2 code dimensions; this model has 1.")
        return
    st.caption("Decoded codes on an n × n grid over two code dimensions, every other dimension held at the "
               "sliders' current values."
               + (" The grid varies raw code dimensions (not the principal directions of the sliders)."
                  if axes.mode == "pca" else ""))
    g1, g2, g3, g4 = st.columns(4)
    dx = g1.selectbox("x dimension", range(D), index=0, key="sld_gx", format_func=lambda d: f"z{d}")
    dy = g2.selectbox("y dimension", range(D), index=1, key="sld_gy", format_func=lambda d: f"z{d}")
    preset = g3.selectbox("Range", list(RANGES), index=0 if eng.is_vae else 1, key="sld_range",
                          help="±3 covers a VAE's prior; the other presets are the seeds' grids.")
    lim = RANGES[preset]
    if lim is None:
        lim = g3.number_input("Custom ± range", 0.1, 100.0, 3.0, step=0.5, key="sld_lim")
    n = g4.slider("n (per side)", 2, 30, 10, key="sld_n")
    if dx == dy:
        st.error(f"Expected two different dimensions for x and y, received z{dx} twice.")
        return
    others = tuple(round(float(v), 4) for i, v in enumerate(z) if i not in (dx, dy))
    params = (entry.version, dx, dy, float(lim), int(n), others)
    memo = st.session_state.get("sld_grid_memo")
    if memo is None or memo[0] != params:  # moving a grid dimension's own slider changes nothing here
        images, _, _ = eng.grid((dx, dy), (-lim, lim), int(n), base=z)
        h, w = eng.image_shape[:2]
        up_f = max(1, min(16, round(GRID_PX / (int(n) * w))))
        # PNG bytes: st.image serves the same bytes under the same URL, so the browser keeps the picture
        # cached while a slider that does not change the grid moves.
        memo = (params, ui.png_bytes(media.grid_image(images, ncols=int(n), pad=1, upscale=up_f)), len(images))
        st.session_state["sld_grid_memo"] = memo
    _, grid, tiles = memo
    st.image(grid, output_format="PNG",  # lossless: Streamlit would turn an opaque picture into a JPEG
             caption=f"{n}×{n} = {tiles} decoded codes · x: z{dx} from −{lim:g} (left) to +{lim:g} (right)"
                     f" · y: z{dy} from +{lim:g} (top) to −{lim:g} (bottom)")


explorer(axes, codes)
