"""The Latent Slider's manifold grid: decoded codes on an n × n grid over two code numbers, or over two of the
sliders' principal directions, every other direction held at the sliders' values (`aecore.grid` computes it).

The grid is centred on the held-out codes by default (mean ± k·std along each
axis: a plain, denoising or sparse autoencoder puts its codes anywhere); a VAE
starts on its prior's fixed ±3. Tick labels are drawn into the picture (also in
its PNG download); the sliders' point is a red crosshair and a click on a tile
moves the sliders there. Both are done in the browser by a small component
(`pages/latent_slider_grid.js`) over the picture, so a slider move sends two numbers, not a new grid: the
grid's PNG is made again only when the grid itself changes.

`section(...)` is what the page calls inside its live fragment. Session state: `sld_grid_memo` holds the grid
shown last (a `Shown`), so tests and debugging can see it; `GRID_KEYS` are the grid's widget keys that the page
forgets with the model (n, the tiles per side, stays).
"""

import hashlib
from functools import partial
from pathlib import Path
from typing import NamedTuple

import streamlit as st

import links
from aecore.axes import PrincipalAxes
from aecore.grid import Grid, code_range, principal_grid, prior_range, raw_grid, tick_indices
from aecore.media import TileBox, labelled_grid, png_bytes

GRID_PX = 560  # the manifold grid's tiles' approximate width on screen
# The grid's range: centred on the held-out codes, or fixed around 0 (±3 covers a VAE's N(0, 1) prior;
# ±5, ±8, ±15 show more of a trained model's map).
RANGES = {"codes": None, "±3": 3.0, "±5": 5.0, "±8": 8.0, "±15": 15.0, "custom": None}
RANGE_LABELS = {"codes": "held-out codes: mean ± k·std", "±3": "±3 (a VAE's prior)", "custom": "custom ±"}
OVER = {"pc": "principal directions (as the sliders)", "raw": "raw code numbers"}
GRID_KEYS = ("sld_gover", "sld_gx", "sld_gy", "sld_gpx", "sld_gpy", "sld_range", "sld_k", "sld_lim")
GRID_MEMO = "sld_grid_memo"  # documented session-state key: the grid shown last (a `Shown`)
GRID_BOX = "sld_grid_box"  # the grid picture's container (its class is st-key-sld_grid_box: the overlay finds it)
OVERLAY = "sld_grid_overlay"  # the crosshair-and-click component over the grid


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
        if st.session_state.get("sld_range") not in (None, *presets):  # a link's "codes" where there are none
            del st.session_state["sld_range"]
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


def on_grid_click(axes, set_sliders) -> None:
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
        set_sliders(axes.from_code(shown.grid.tile_code(*tile)))


# The crosshair and the click on a tile, in the browser (see the file's comment).
GRID_JS = (Path(__file__).parent / "pages" / "latent_slider_grid.js").read_text()
grid_overlay = st.components.v2.component("latent_slider_grid_overlay", js=GRID_JS, isolate_styles=False)


def show_grid(shown: Shown, z, axes, set_sliders) -> None:
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
                 on_click_change=partial(on_grid_click, axes, set_sliders))
    st.download_button("Download the grid (PNG)", shown.png, key="sld_grid_png", mime="image/png",
                       file_name=f"manifold_grid_{g.x_name}_{g.y_name}.png".replace(" ", ""),
                       icon=":material/download:", on_click="ignore")


def link_params(D: int, axes) -> list[links.Param]:
    """The grid's settings as a link carries them (`links`): what it is over, its axes, range and size."""
    n_pc = len(axes.names)
    return [links.Param("gover", "sld_gover", links.choice(list(OVER))),
            links.Param("gx", "sld_gx", links.integer(0, D - 1)), links.Param("gy", "sld_gy", links.integer(0, D - 1)),
            links.Param("gpx", "sld_gpx", links.integer(0, n_pc - 1)),
            links.Param("gpy", "sld_gpy", links.integer(0, n_pc - 1)),
            links.Param("range", "sld_range", links.choice(list(RANGES))),
            links.Param("k", "sld_k", links.number(0.5, 10.0), "{:g}".format),
            links.Param("lim", "sld_lim", links.number(0.1, 100.0), "{:g}".format),
            links.Param("n", "sld_n", links.integer(2, 30))]


def link_values(c: GridChoice | None, axes) -> dict:
    """The grid settings in effect (for `links.publish`): only those the grid's controls show."""
    if c is None:
        return {}
    values = {"gover": c.over if isinstance(axes, PrincipalAxes) and len(axes.names) >= 2 else None,
              "k": c.k, "lim": c.lim if c.preset == "custom" else None, "n": c.n}
    if c.over == "pc":
        values.update(gpx=c.dims[0], gpy=c.dims[1])
    else:
        values.update(gx=c.dims[0], gy=c.dims[1], range=c.preset)
    return values


def section(eng, version: str, axes, codes, values, z, set_sliders) -> GridChoice | None:
    """The grid's heading, controls, caption and picture (with the crosshair at the sliders' `values` / code `z`
    and click-a-tile-to-set through `set_sliders(values)`), or a message when no grid can be drawn. Returns the
    controls' choice (None without a grid)."""
    st.subheader("Manifold grid")
    D = eng.latent_dim
    if D < 2:
        st.info("A grid needs at least 2 code dimensions; this model has 1.")
        return None
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
        return c
    try:
        view = grid_shown(eng, version, axes, codes, values, z, c)
    except ValueError as e:
        st.error(f"The grid cannot be drawn: {e}")
        return c
    show_grid(view, z, axes, set_sliders)
    return c
