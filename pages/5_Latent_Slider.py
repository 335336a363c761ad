"""Latent Slider: steer the decoder by hand.

One slider per code dimension (for codes longer than 16 numbers: one per
principal direction of the held-out codes; `aecore.axes` says what the sliders
mean), decoded live inside a fragment so a slider move reruns only the sliders
and the picture. Random samples, a reset, a start from a held-out or uploaded
image, and a 2-D manifold grid (`aecore.grid`) over two code numbers, or over
two of the sliders' principal directions, with the others held at the sliders'
values.

The grid is `slider_grid`'s (centred on the held-out codes, tick labels, a crosshair at the sliders' point,
click a tile to go there).

The page reads top to bottom: what the sliders mean, their remembered values (or a link's: the model, what the
sliders are over, their values and the grid's settings travel in the page's URL, `links`), "Start from an image",
the directions (`slider_directions`), then the live part (sliders, picture, pad, grid).

Session state: `sld_last_image` holds the last decoded image (H, W, C floats
in [0, 1]) and `sld_grid_memo` the grid shown last (`slider_grid.Shown`), so tests and debugging can see them.
"""

from functools import partial

import streamlit as st

import browser_decode
import links
import pins
import slider_directions
import slider_grid
import ui
from aecore.axes import MAX_SLIDERS, PrincipalAxes, slider_axes
from aecore.media import label_colour

SHOW_PX = 280  # the decoded image's width on screen
PAD_PX = 280  # the 2-D pad's side on screen
PAD_POINTS = 1000  # held-out codes drawn on the pad (enough to see the clusters; small to send)
PAD = "sld_pad"  # the pad's widget key
BANK, BANK_LIVE = "sld_bank", "sld_bank_live"  # Streamlit's sliders' container; the browser's sliders
LAST_IMAGE = "sld_last_image"  # documented session-state key: the last decoded image
MODEL = "sld_model"  # session state: the model (and kind of axes) the remembered slider values belong to
MESSAGE = "sld_message"  # session state: an error from a button callback, shown once
UPLOAD_USED = "sld_upload_used"  # session state: (file id, model) of the upload the sliders were last set to
AXES_LINK = links.Param("axes", "sld_axes", links.choice(["numbers", "principal"]))  # the link's "Sliders over"


def link_params(axes, D: int) -> list[links.Param]:
    """The live part's settings in the page's link (`links`): the slider values (`v`, one number per slider, in
    the sliders' units) and the grid's settings."""
    return [links.Param("v", "", links.numbers(len(axes.names), axes.lo, axes.hi), links.write_numbers),
            *slider_grid.link_params(D, axes)]


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


def sliders_over(D: int, codes) -> bool | None:
    """The choice of what the sliders move along, for a code of 2 to 16 numbers with held-out codes: the code's own
    numbers, or its principal directions (labelled with the share of variance each explains). None: no choice
    (longer codes always get principal directions; without codes the sliders are the code's numbers)."""
    if codes is None or not 2 <= D <= MAX_SLIDERS:
        return None
    return st.radio("Sliders over", ["numbers", "principal"], key="sld_axes", horizontal=True,
                    format_func={"numbers": "code numbers (z0, z1, …)",
                                 "principal": "principal directions (PC 1, PC 2, … by variance)"}.get,
                    help="Principal directions of the held-out codes, in units of their spread, from the codes' "
                         "mean: PC 1 moves along the direction the codes vary most.") == "principal"


def intro(entry, eng, axes, codes) -> None:
    """What the sliders move along, and where their ranges come from."""
    D = eng.latent_dim
    if isinstance(axes, PrincipalAxes):
        why = f"the code has {D} numbers, so" if D > MAX_SLIDERS else "as chosen,"
        st.caption(f"**{entry.config.describe()}** — {why} the {len(axes.names)} sliders "
                   "move along the top principal directions of the held-out codes (in units of the codes' spread "
                   f"along each), starting from their mean; each is labelled with the share of the codes' variance it "
                   f"explains (together {100 * axes.explained.sum():.0f}%)."
                   + (" Directions beyond these are held at the mean." if len(axes.names) < D else ""))
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
        for key in (slider_grid.GRID_MEMO, *slider_grid.GRID_KEYS):  # another model: its grid starts afresh
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

    c = slider_grid.section(eng, version, axes, codes, values, z, partial(set_sliders, axes))
    links.publish(link_params(axes, eng.latent_dim), {"v": values, **slider_grid.link_values(c, axes)})


# --- the page -------------------------------------------------------------------------------------
entry, eng = ui.model_page("Latent Slider")  # the guard: stops with a link to Train when there is no model
val = ui.held_out(entry)
codes = ui.held_out_codes(entry) if val is not None else None
links.restore([AXES_LINK])  # a new link's view: what the sliders are over, then (below) their values and the grid
principal = sliders_over(eng.latent_dim, codes)
links.publish([AXES_LINK], {"axes": None if principal is None else ("principal" if principal else "numbers")})
axes = slider_axes(eng.latent_dim, codes, cover_prior=eng.is_vae, principal=principal)
intro(entry, eng, axes, codes)
if val is None:
    ui.held_out_missing(entry, ": the slider ranges are a guess and starting from a held-out image is unavailable. "
                               "Sliders, the grid and starting from your own image still work.")
signature = remembered_values(entry, axes)
linked = links.restore(link_params(axes, eng.latent_dim))
if "v" in linked:
    set_sliders(axes, axes.snap(linked["v"]))
sent = pins.take_for_slider(entry.version)  # "To the Latent Slider" on a pinned point of the Scatter
if sent is not None:
    set_sliders(axes, axes.from_code(sent.code))  # (rounded to the sliders' step, inside their ranges)
    st.success(f"The sliders are at {sent.name}'s code ({sent.where}, pinned on the Latent Scatter)"
               + (", as near as they reach." if len(axes.names) < eng.latent_dim else "."))
start_from_image(axes, val, eng, signature)
slider_directions.panel(eng, val, codes, axes, partial(set_sliders, axes))
decoder_id = browser_decode.decoder_loader(entry.version, eng.model.decoder, key="sld_decoder")
explorer(axes, codes, val.labels if val is not None else None, eng, entry.version, decoder_id)
