"""Latent Slider: steer the decoder by hand.

One slider per code dimension (for codes longer than 16 numbers: one per
principal direction of the held-out codes; `aecore.axes` says what the sliders
mean), decoded live inside a fragment so a slider move reruns only the sliders
and the picture. Random samples, a reset, a start from a held-out or uploaded
image, and a 2-D manifold grid (`aecore.grid`) over two code numbers, or over
two of the sliders' principal directions, with the others held at the sliders'
values.

The grid is centred on the held-out codes by default (mean ± k·std along each
axis: a plain, denoising or sparse autoencoder puts its codes anywhere); a VAE
starts on its prior's fixed ±3. Tick labels are drawn into the picture (also in
its PNG download); the sliders' point is a red crosshair and a click on a tile
moves the sliders there. Both are done in the browser by a small component
(`GRID_JS`) over the picture, so a slider move sends two numbers, not a new
grid: the grid's PNG is made again only when the grid itself changes.

The page reads top to bottom: what the sliders mean, their remembered values,
"Start from an image", then the live part (sliders, picture, grid controls, grid).

Session state: `sld_last_image` holds the last decoded image (H, W, C floats
in [0, 1]) and `sld_grid_memo` the grid shown last (a `Shown`: its `aecore.grid.Grid`,
the `TileBox` of its picture, the PNG bytes), so tests and debugging can see them.
"""

import hashlib
from functools import partial
from pathlib import Path
from typing import NamedTuple

import streamlit as st

import browser_decode
import ui
from aecore.axes import MAX_SLIDERS, PrincipalAxes, slider_axes
from aecore.grid import Grid, code_range, principal_grid, prior_range, raw_grid, tick_indices
from aecore.media import TileBox, label_colour, labelled_grid, png_bytes

SHOW_PX = 280  # the decoded image's width on screen
PAD_PX = 280  # the 2-D pad's side on screen
PAD_POINTS = 1000  # held-out codes drawn on the pad (enough to see the clusters; small to send)
PAD = "sld_pad"  # the pad's widget key
BANK, BANK_LIVE = "sld_bank", "sld_bank_live"  # Streamlit's sliders' container; the browser's sliders
GRID_PX = 560  # the manifold grid's tiles' approximate width on screen
# The grid's range: centred on the held-out codes, or fixed around 0 (±3 covers a VAE's N(0, 1) prior;
# ±5, ±8, ±15 show more of a trained model's map).
RANGES = {"codes": None, "±3": 3.0, "±5": 5.0, "±8": 8.0, "±15": 15.0, "custom": None}
RANGE_LABELS = {"codes": "held-out codes: mean ± k·std", "±3": "±3 (a VAE's prior)", "custom": "custom ±"}
OVER = {"pc": "principal directions (as the sliders)", "raw": "raw code numbers"}
GRID_KEYS = ("sld_gover", "sld_gx", "sld_gy", "sld_gpx", "sld_gpy", "sld_range", "sld_k", "sld_lim")
LAST_IMAGE = "sld_last_image"  # documented session-state key: the last decoded image
MODEL = "sld_model"  # session state: the model (and kind of axes) the remembered slider values belong to
GRID_MEMO = "sld_grid_memo"  # documented session-state key: the grid shown last (a `Shown`)
GRID_BOX = "sld_grid_box"  # the grid picture's container (its class is st-key-sld_grid_box: the overlay finds it)
OVERLAY = "sld_grid_overlay"  # the crosshair-and-click component over the grid
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
        for key in (GRID_MEMO, *GRID_KEYS):  # another model: its grid starts from its own defaults
            st.session_state.pop(key, None)
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
            up = ui.upload_image("Or upload an image", "sld", entry)  # `entry`: the page's active model
        if up is None:
            return
        x = up.image
        if st.session_state.get(UPLOAD_USED) != (up.id, signature):  # a new file, Invert or preparation
            set_sliders(axes, axes.from_code(eng.encode(x[None])[0]))  # the sliders are not drawn yet in this run
            st.session_state[UPLOAD_USED] = (up.id, signature)
        c2.image(ui.upscale(x, 84), caption=f"{ui.short_name(up.name)}: the sliders were set to its code", width=84)


def sliders(axes, codes, eng, decoder_id: str | None) -> list[float]:
    """Random sample and Reset buttons above the sliders (one or two columns); returns the slider values. With
    the browser decoder, the sliders on screen are the browser's (`browser_decode.slider_bank`: a move paints at
    once and reaches the server once the sliders rest); Streamlit's own, hidden then, hold the values."""
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
    with st.container(key=BANK):
        cols = st.columns(ncols)
        values = [cols[i // per_col].slider(label, float(lo), float(hi), step=float(axes.step), key=key)
                  for i, (key, label, lo, hi) in enumerate(zip(slider_keys(axes), axes.labels, axes.lo, axes.hi))]
    browser_decode.slider_bank(decoder_id, slider_keys(axes), axes.labels, axes.lo, axes.hi, axes.step, values,
                               BANK, key=BANK_LIVE, on_change=partial(on_bank, axes), columns=ncols)
    return values


def on_bank(axes) -> None:
    """The browser's sliders came to rest: set Streamlit's (on their step, inside their ranges) to their values."""
    state = st.session_state.get(BANK_LIVE)
    values = state.get("values") if isinstance(state, dict) else getattr(state, "values", None)
    if isinstance(values, list | tuple) and len(values) == len(axes.names):
        set_sliders(axes, axes.snap(values))


def on_pad(axes, x: int, y: int) -> None:
    """Pad callback: its point was released at [x, y] (slider units): move those two sliders there (on their
    step, inside their ranges), the others stay."""
    state = st.session_state.get(PAD)
    point = state.get("point") if isinstance(state, dict) else getattr(state, "point", None)
    if not isinstance(point, list | tuple) or len(point) != 2:
        return
    values = [float(st.session_state.get(k, d)) for k, d in zip(slider_keys(axes), axes.default)]
    values[x], values[y] = (float(v) for v in point)
    set_sliders(axes, axes.snap(values))


def pad(axes, codes, labels) -> None:
    """The 2-D pad under the picture (two sliders, chosen here), over the held-out codes; dragging its point
    decodes in the browser at every pointer move (`browser_decode.pad`)."""
    n = len(axes.names)
    if n < 2:
        return
    pairs = [(i, j) for i in range(n) for j in range(i + 1, n)]
    x, y = st.selectbox("Pad over", pairs, key="sld_pad_axes",
                        format_func=lambda p: f"{axes.labels[p[0]]} (across) · {axes.labels[p[1]]} (up)",
                        help="Drag the point: the picture follows while you drag; the sliders move on release.")
    shown = slice(0, PAD_POINTS)
    points = axes.coordinates(codes[shown]) if codes is not None else None
    colours = [label_colour(int(c)) for c in labels[shown]] if labels is not None and points is not None else []
    browser_decode.pad(slider_keys(axes), x, y, axes.lo, axes.hi, points, colours, PAD_PX, key=PAD,
                       on_change=partial(on_pad, axes, x, y))


# --- the manifold grid ------------------------------------------------------------------------------
class GridChoice(NamedTuple):
    """What the grid controls chose: over "pc" (principal directions) or "raw" (code numbers), the two axes,
    the range ("codes": mean ± k·std, else a key of `RANGES` with its ± lim), and the tiles per side."""

    over: str
    dims: tuple[int, int]
    preset: str
    k: float | None
    lim: float | None
    n: int


class Shown(NamedTuple):
    """The grid on screen: its parameters, a short id of them (a click names the grid it was on), the
    `Grid` (which code each tile decodes), the `TileBox` of its picture and the picture's PNG bytes."""

    params: tuple
    id: str
    grid: Grid
    box: TileBox
    png: bytes


def num(v: float) -> str:
    """A number for a caption: 3 significant digits and a real minus sign."""
    return f"{v:.3g}".replace("-", "−")


def grid_controls(D: int, axes, codes, is_vae: bool) -> GridChoice:
    """What the grid varies (principal directions or code numbers, when the sliders follow principal
    directions), its x and y axes, its range and its tiles per side."""
    over = "raw"
    if isinstance(axes, PrincipalAxes) and len(axes.names) >= 2:
        over = st.radio("Grid over", list(OVER), format_func=OVER.get, key="sld_gover", horizontal=True,
                        help="Principal directions: the plane of two sliders, in spreads from the codes' mean. "
                             "Raw code numbers: two of the code's own numbers.")
    g1, g2, g3, g4 = st.columns(4)
    k_help = "The grid spans the held-out codes' mean ± k standard deviations along each axis."
    if over == "pc":
        names = [f"PC {i + 1}" for i in range(len(axes.names))]
        dx = g1.selectbox("x direction", range(len(names)), index=0, key="sld_gpx", format_func=names.__getitem__)
        dy = g2.selectbox("y direction", range(len(names)), index=1, key="sld_gpy", format_func=names.__getitem__)
        k = g3.number_input("Range: mean ± k·std, k", 0.5, 10.0, 3.0, step=0.5, key="sld_k", help=k_help)
        preset, lim = "codes", None
    else:
        dx = g1.selectbox("x dimension", range(D), index=0, key="sld_gx", format_func=lambda d: f"z{d}")
        dy = g2.selectbox("y dimension", range(D), index=1, key="sld_gy", format_func=lambda d: f"z{d}")
        presets = [p for p in RANGES if p != "codes" or codes is not None]
        default = "±3" if is_vae else "codes" if codes is not None else "±5"
        preset = g3.selectbox("Range", presets, index=presets.index(default), key="sld_range",
                              format_func=lambda p: RANGE_LABELS.get(p, p),
                              help="Held-out codes: centred on where this model puts its codes (the default, but "
                                   "for a VAE). ±3 covers a VAE's N(0, 1) prior; ±5, ±8, ±15 show more around 0.")
        k, lim = None, RANGES[preset]
        if preset == "codes":
            k = g3.number_input("k (standard deviations)", 0.5, 10.0, 3.0, step=0.5, key="sld_k", help=k_help)
        elif preset == "custom":
            lim = g3.number_input("Custom ± range", 0.1, 100.0, 3.0, step=0.5, key="sld_lim")
    n = g4.slider("n (per side)", 2, 30, 10, key="sld_n")
    return GridChoice(over, (int(dx), int(dy)), preset, None if k is None else float(k),
                      None if lim is None else float(lim), int(n))


def grid_shown(eng, version: str, axes, codes, values, z, c: GridChoice) -> Shown:
    """The grid for choice `c` at the sliders' `values` (code `z`): decoded, tiled with tick labels and encoded
    as PNG, or the one shown last while its parameters stay (moving a grid axis's own slider changes nothing
    here, so the browser keeps the same picture under the same URL). ValueError for an impossible grid."""
    if c.over == "pc":
        held = tuple(round(float(v), 6) for i, v in enumerate(values) if i not in c.dims)
    else:
        held = tuple(round(float(v), 4) for i, v in enumerate(z) if i not in c.dims)
    params = (version, c, held)
    memo = st.session_state.get(GRID_MEMO)
    if memo is not None and memo.params == params:
        return memo
    if c.over == "pc":
        g = principal_grid(z, axes.mean, axes.directions, axes.spread, c.dims, c.k, c.n)
    else:
        ranges = code_range(codes, c.dims, c.k) if c.preset == "codes" else prior_range(c.lim)
        g = raw_grid(z, c.dims, *ranges, c.n)
    images = eng.decode(g.codes())
    up_f = max(1, min(16, round(GRID_PX / (c.n * eng.image_shape[1]))))
    ticks = tick_indices(c.n)
    pixels, box = labelled_grid(images, c.n, pad=1, upscale=up_f, x_title=g.x_name, y_title=g.y_name,
                                x_ticks=[(i, f"{g.xs[i]:.3g}") for i in ticks],
                                y_ticks=[(i, f"{g.ys[i]:.3g}") for i in ticks])
    grid_id = hashlib.sha1(repr(params).encode()).hexdigest()[:12]
    memo = Shown(params, grid_id, g, box, png_bytes(pixels))
    st.session_state[GRID_MEMO] = memo
    return memo


def on_grid_click(axes) -> None:
    """Overlay callback: a click on a tile of the grid shown moves the sliders to that tile's code (the nearest
    slider values: rounded to their step, inside their ranges); a click between the tiles or on an older
    picture does nothing."""
    click = (st.session_state.get(OVERLAY) or {}).get("click")
    shown = st.session_state.get(GRID_MEMO)
    if not isinstance(click, dict) or shown is None or click.get("grid") != shown.id:
        return
    try:
        tile = shown.box.tile_at(float(click["fx"]), float(click["fy"]))
    except (KeyError, TypeError, ValueError):
        return
    if tile is not None:
        set_sliders(axes, axes.from_code(shown.grid.tile_code(*tile)))


# The crosshair and the click on a tile, in the browser (see the file's comment).
GRID_JS = (Path(__file__).parent / "latent_slider_grid.js").read_text()
grid_overlay = st.components.v2.component("latent_slider_grid_overlay", js=GRID_JS, isolate_styles=False)


def show_grid(shown: Shown, z, axes) -> None:
    """The grid's picture with its caption, the crosshair at the sliders' code `z` and the click on a tile (the
    overlay), and its PNG download."""
    g, box = shown.grid, shown.box
    x, y = g.position(z)
    col, row = g.tile_index(x, y)
    on_x, on_y = -0.5 <= col <= g.n - 0.5, -0.5 <= row <= g.n - 0.5
    fx, fy = box.fraction(col, row)
    where = f"{g.x_name} = {num(x)}, {g.y_name} = {num(y)}"
    with st.container(key=GRID_BOX):
        st.image(shown.png, output_format="PNG", width=box.width,  # lossless (else a JPEG), at its own size
                 caption=f"{g.n}×{g.n} = {g.n ** 2} decoded codes · x: {g.x_name} from {num(g.xs[0])} (left) to "
                         f"{num(g.xs[-1])} (right) · y: {g.y_name} from {num(g.ys[0])} (top) to {num(g.ys[-1])} "
                         "(bottom) · " + (f"red crosshair: the sliders' point ({where})" if on_x and on_y
                                          else f"the sliders' point ({where}) is outside this grid"))
    grid_overlay(key=OVERLAY, data={"box": GRID_BOX, "grid": shown.id, "area": list(box.area()),
                                    "cross": [fx if on_x else None, fy if on_y else None]},
                 on_click_change=partial(on_grid_click, axes))
    st.download_button("Download the grid (PNG)", shown.png, key="sld_grid_png", mime="image/png",
                       file_name=f"manifold_grid_{g.x_name}_{g.y_name}.png".replace(" ", ""),
                       icon=":material/download:", on_click="ignore")


# --- the live part: sliders, decode, picture, grid (a fragment: moving a slider reruns only this) ---------
@st.fragment
def explorer(axes, codes, labels, eng, version: str, decoder_id: str | None) -> None:
    """The sliders and the decoded picture beside them (decoded in the browser as the sliders move, with the
    server's decode as the fallback: `browser_decode`) over the 2-D pad, then the manifold grid's controls and
    the grid."""
    left, right = st.columns([3, 2], gap="large")
    with left:
        values = sliders(axes, codes, eng, decoder_id)
    z = axes.to_code(values)
    img = eng.decode_one(z)
    st.session_state[LAST_IMAGE] = img
    shown = ", ".join(f"{v:.2f}" for v in z[:8]) + (", …" if len(z) > 8 else "")
    with right:  # the server's picture is a data URI inside the rerun's message: no second request
        browser_decode.live_picture(decoder_id, slider_keys(axes), axes.to_code, ui.png_data_uri(img, SHOW_PX),
                                    f"decode(z), z = [{shown}]", SHOW_PX, key="sld_live")
        if decoder_id is not None:  # the pad decodes in the browser only
            pad(axes, codes, labels)

    st.subheader("Manifold grid")
    D = eng.latent_dim
    if D < 2:
        st.info("A grid needs at least 2 code dimensions; this model has 1.")
        return
    c = grid_controls(D, axes, codes, eng.is_vae)
    st.caption("Decoded codes on an n × n grid over "
               + ("two principal directions of the held-out codes (in spreads from their mean, as the sliders), "
                  "every other direction" if c.over == "pc" else "two code numbers, every other number")
               + " held at the sliders' values. The red crosshair marks the sliders' point; a click on a tile moves "
                 "the sliders to its code (as near as they reach).")
    if c.dims[0] == c.dims[1]:
        name = f"PC {c.dims[0] + 1}" if c.over == "pc" else f"z{c.dims[0]}"
        st.error(f"Expected two different {'directions' if c.over == 'pc' else 'dimensions'} for x and y, "
                 f"received {name} twice.")
        return
    try:
        view = grid_shown(eng, version, axes, codes, values, z, c)
    except ValueError as e:
        st.error(f"The grid cannot be drawn: {e}")
        return
    show_grid(view, z, axes)


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
decoder_id = browser_decode.decoder_loader(entry.version, eng.model.decoder, key="sld_decoder")
explorer(axes, codes, val.labels if val is not None else None, eng, entry.version, decoder_id)
