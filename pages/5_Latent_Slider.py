"""Latent Slider: steer the decoder by hand.

One slider per code dimension (for codes longer than 16 numbers: one per
principal direction of the held-out codes; `aecore.axes` says what the sliders
mean), decoded live inside a fragment so a slider move reruns only the sliders
and the picture. Random samples, a reset, a start from a held-out or uploaded
image, and a 2-D manifold grid over any two code dimensions with the others
held at the sliders' values.

The page reads top to bottom: what the sliders mean, their remembered values,
"Start from an image", then the live part (sliders, picture, grid controls, grid).

Session state: `sld_last_image` holds the last decoded image (H, W, C floats
in [0, 1]) so tests and debugging can see what the sliders produced.
"""

import streamlit as st

import ui
from aecore import media
from aecore.axes import MAX_SLIDERS, PrincipalAxes, slider_axes

SHOW_PX = 280  # the decoded image's width on screen
GRID_PX = 560  # the manifold grid's approximate width on screen
# ±5, ±8, ±15: the ranges that show a trained model's whole map; ±3 covers a VAE's N(0, 1) prior.
RANGES = {"±3": 3.0, "±5": 5.0, "±8": 8.0, "±15": 15.0, "custom": None}
LAST_IMAGE = "sld_last_image"  # documented session-state key: the last decoded image
MODEL = "sld_model"  # session state: the model (and kind of axes) the remembered slider values belong to
GRID_MEMO = "sld_grid_memo"  # session state: (grid parameters, PNG bytes, tiles) of the last grid
MESSAGE = "sld_message"  # session state: an error from a button callback, shown once
UPLOAD_USED = "sld_upload_used"  # session state: (file id, model) of the upload the sliders were last set to


def slider_keys(axes) -> list[str]:
    """The widget key of each slider: sld_z0, sld_z1, ... or sld_pc0, sld_pc1, ..."""
    return [f"sld_{name}" for name in axes.names]


def set_sliders(axes, values) -> None:
    """Move the sliders (before they are drawn in this run)."""
    for key, v in zip(slider_keys(axes), values):
        st.session_state[key] = round(float(v), 6)


def random_sample(axes, codes, eng) -> None:
    """Button callback: draw a code (VAE prior, or a Gaussian fitted to the codes) and move the sliders there."""
    try:
        z, _ = eng.sample(1, codes=None if eng.is_vae else codes)
    except ValueError as e:
        st.session_state[MESSAGE] = str(e)
        return
    set_sliders(axes, axes.from_code(z[0]))


def from_held_out(axes, images, eng) -> None:
    """Button callback: move the sliders to the code of the chosen held-out image."""
    i = st.session_state.get("sld_from_idx")
    if i is None:
        return
    set_sliders(axes, axes.from_code(eng.encode(images[int(i)][None])[0]))


def intro(entry, eng, axes, codes) -> None:
    """What the sliders move along, and where their ranges come from."""
    D = eng.latent_dim
    if isinstance(axes, PrincipalAxes):
        st.caption(f"**{entry.config.describe()}** — the code has {D} numbers, so the {len(axes.names)} sliders "
                   "move along the top principal directions of the held-out codes (in units of the codes' spread "
                   "along each), starting from their mean. Directions beyond these are held at the mean.")
        return
    st.caption(f"**{entry.config.describe()}** — one slider per code number; each decodes live. "
               + ("Ranges: mean ± 3 std of the held-out codes"
                  + (" (at least ±3, the prior's range)." if eng.is_vae else ".") if codes is not None
                  else "No held-out codes available, so the ranges are a plain ±3."))
    if D > MAX_SLIDERS:
        st.info(f"The held-out images are not available, so only the first {MAX_SLIDERS} of {D} dimensions get "
                "sliders (the rest stay 0).")


def remembered_values(entry, axes) -> str:
    """Slider state belongs to one model: start from the defaults when the model (or what the sliders mean)
    changes, and keep remembered values inside the current ranges. Returns that model's signature."""
    signature = f"{entry.version}:{type(axes).__name__}:{len(axes.names)}"
    if st.session_state.get(MODEL) != signature:
        set_sliders(axes, axes.default)
        st.session_state[MODEL] = signature
        st.session_state.pop(GRID_MEMO, None)
    for key, lo, hi, d in zip(slider_keys(axes), axes.lo, axes.hi, axes.default):
        v = st.session_state.get(key)
        st.session_state[key] = round(float(d) if v is None else float(min(max(v, lo), hi)), 6)
    return signature


def start_from_image(axes, val, eng, signature: str) -> None:
    """The "Start from an image" expander: a held-out image by number, or an upload (which sets the sliders
    once per file and model, so a later slider move sticks)."""
    with st.expander("Start from an image"):
        c1, c2 = st.columns(2)
        if val is not None:
            c1.number_input("Held-out image #", 0, len(val) - 1, 0, key="sld_from_idx",
                            help=f"An index into the {len(val)} held-out images.")
            c1.button("Set the sliders to its code", key="sld_from_btn", on_click=from_held_out,
                      args=(axes, val.images, eng))
        else:
            c1.caption("Held-out images are not available for this model.")
        with c2:
            up = ui.image_uploader("Or upload an image", "sld_upload", eng.image_shape)
            x = ui.read_upload(up, eng.image_shape)
        if x is None:
            return
        if st.session_state.get(UPLOAD_USED) != (up.file_id, signature):
            set_sliders(axes, axes.from_code(eng.encode(x[None])[0]))  # the sliders are not drawn yet in this run
            st.session_state[UPLOAD_USED] = (up.file_id, signature)
        c2.image(ui.upscale(x, 84), caption=f"{up.name}: the sliders were set to its code", width=84)


def sliders(axes, codes, eng) -> list[float]:
    """Random sample and Reset buttons above the sliders (one or two columns); returns the slider values."""
    b1, b2 = st.columns(2)
    no_prior = not eng.is_vae and codes is None
    b1.button("Random sample", key="sld_random", icon=":material/casino:", on_click=random_sample,
              args=(axes, codes, eng), disabled=no_prior, width="stretch",
              help="A VAE samples its N(0, I) prior; another model samples a Gaussian fitted to its "
                   "held-out codes." if not no_prior else "A non-VAE model needs held-out codes to sample from.")
    b2.button("Reset", key="sld_reset", icon=":material/restart_alt:", on_click=set_sliders,
              args=(axes, axes.default), width="stretch",
              help="Back to the mean of the held-out codes." if codes is not None else "Back to zero.")
    if MESSAGE in st.session_state:
        st.error(st.session_state.pop(MESSAGE))
    ncols = 1 if len(axes.names) <= 6 else 2
    per_col = -(-len(axes.names) // ncols)
    cols = st.columns(ncols)
    return [cols[i // per_col].slider(label, float(lo), float(hi), step=float(axes.step), key=key)
            for i, (key, label, lo, hi) in enumerate(zip(slider_keys(axes), axes.labels, axes.lo, axes.hi))]


def grid_controls(D: int, is_vae: bool) -> tuple[int, int, float, int]:
    """The grid's x and y code dimensions, its ± range and its tiles per side."""
    g1, g2, g3, g4 = st.columns(4)
    dx = g1.selectbox("x dimension", range(D), index=0, key="sld_gx", format_func=lambda d: f"z{d}")
    dy = g2.selectbox("y dimension", range(D), index=1, key="sld_gy", format_func=lambda d: f"z{d}")
    preset = g3.selectbox("Range", list(RANGES), index=0 if is_vae else 1, key="sld_range",
                          help="±5, ±8, ±15: the ranges that show a trained model's whole map; ±3 covers a VAE's "
                               "N(0, 1) prior.")
    lim = RANGES[preset]
    if lim is None:
        lim = g3.number_input("Custom ± range", 0.1, 100.0, 3.0, step=0.5, key="sld_lim")
    n = g4.slider("n (per side)", 2, 30, 10, key="sld_n")
    return dx, dy, float(lim), int(n)


def grid_png(eng, version: str, z, dx: int, dy: int, lim: float, n: int) -> tuple[bytes, int]:
    """The n × n grid of decoded codes as PNG bytes, and its tile count; remembered while its parameters
    stay (moving a grid dimension's own slider changes nothing here)."""
    others = tuple(round(float(v), 4) for i, v in enumerate(z) if i not in (dx, dy))
    params = (version, dx, dy, lim, n, others)
    memo = st.session_state.get(GRID_MEMO)
    if memo is None or memo[0] != params:
        images, _, _ = eng.grid((dx, dy), (-lim, lim), n, base=z)
        w = eng.image_shape[1]
        up_f = max(1, min(16, round(GRID_PX / (n * w))))
        # PNG bytes: st.image serves the same bytes under the same URL, so the browser keeps the picture
        # cached while a slider that does not change the grid moves.
        memo = (params, ui.png_bytes(media.grid_image(images, ncols=n, pad=1, upscale=up_f)), len(images))
        st.session_state[GRID_MEMO] = memo
    return memo[1], memo[2]


# --- the live part: sliders, decode, picture, grid (a fragment: moving a slider reruns only this) ---------
@st.fragment
def explorer(axes, codes, eng, version: str) -> None:
    """The sliders and the decoded picture beside them, then the manifold grid's controls and the grid."""
    left, right = st.columns([3, 2], gap="large")
    with left:
        values = sliders(axes, codes, eng)
    z = axes.to_code(values)
    img = eng.decode_one(z)
    st.session_state[LAST_IMAGE] = img
    shown = ", ".join(f"{v:.2f}" for v in z[:8]) + (", …" if len(z) > 8 else "")
    # A data URI travels inside the rerun's message: no second request for the picture.
    right.image(ui.png_data_uri(img, SHOW_PX), caption=f"decode(z), z = [{shown}]", width=SHOW_PX)

    st.subheader("Manifold grid")
    D = eng.latent_dim
    if D < 2:
        st.info("A grid needs at least 2 code dimensions; this model has 1.")
        return
    st.caption("Decoded codes on an n × n grid over two code dimensions, every other dimension held at the "
               "sliders' current values."
               + (" The grid varies raw code dimensions (not the principal directions of the sliders)."
                  if isinstance(axes, PrincipalAxes) else ""))
    dx, dy, lim, n = grid_controls(D, eng.is_vae)
    if dx == dy:
        st.error(f"Expected two different dimensions for x and y, received z{dx} twice.")
        return
    grid, tiles = grid_png(eng, version, z, dx, dy, lim, n)
    st.image(grid, output_format="PNG",  # lossless: Streamlit would turn an opaque picture into a JPEG
             caption=f"{n}×{n} = {tiles} decoded codes · x: z{dx} from −{lim:g} (left) to +{lim:g} (right)"
                     f" · y: z{dy} from +{lim:g} (top) to −{lim:g} (bottom)")


# --- the page -------------------------------------------------------------------------------------
entry, eng = ui.model_page("Latent Slider")  # the guard: stops with a link to Train when there is no model
val = ui.held_out(entry)
codes = ui.held_out_codes(entry) if val is not None else None
axes = slider_axes(eng.latent_dim, codes, cover_prior=eng.is_vae)
intro(entry, eng, axes, codes)
if val is None:
    ui.held_out_missing(entry, ": the slider ranges are a guess and starting from a held-out image is unavailable. "
                               "Sliders, the grid and starting from your own image still work.")
signature = remembered_values(entry, axes)
start_from_image(axes, val, eng, signature)
explorer(axes, codes, eng, entry.version)
