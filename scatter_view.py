"""The Latent Scatter page's figure: the held-out points coloured by label, by reconstruction error or by one code
number, the labels' names on the map, and the thumbnails (sprite view). No Streamlit here: the page
(pages/4_Latent_Scatter.py) has the controls and shows the figure; this module lives beside `ui.py`, not in
pages/, where every .py file becomes a page.

Colours (`COLOURS`): by label, each label in `aecore.media.LABEL_COLOURS` by rank (ten clearly distinct colours
first), one WebGL trace per label so the legend can hide or show a label; with more than `MANY_LABELS` labels
(Olivetti's 40 people) no trace is in the legend but the highlighted ones, drawn last in the ten distinct
colours over the others in grey (or alone). By reconstruction error or by a code number (z0, z1, ...): one
WebGL trace with a continuous colour scale and its colour bar. Every trace of held-out points carries their
indices as `customdata`, and `add_points` returns each trace's indices, so a click or a hover maps back to a
held-out image in every mode (the page keeps the list as `sct_traces` for points without customdata).

"Show labels" writes each label's name at the median position of its drawn points (for at most `MANY_LABELS`
labels, else the highlighted ones), and keeps the legend; off, neither.

Thumbnails (`add_sprites`): the images themselves drawn at their points, for a fixed sample (seed 1) of at
most `SPRITES` drawn points, as Plotly layout images in data units (they grow when zoomed in), each the PNG data
URI the page already made for the hover picture (no image is encoded twice). Measured on this 2-core machine
with 2,000 points and 300 thumbnails in headless Chromium (Plotly 7.1): one layout image per thumbnail adds
228 kB to the figure, about 40 ms to build it, and nothing measurable to the browser's first draw (320 ms with
or without), a zoom (80 ms) or a pan (80 ms); one composited sprite image placed as a single layout image
(1600 x 1240 px) was smaller (153 kB) but took 97 ms to build per change of view and blurs when zoomed in, so
each thumbnail is its own layout image.

Inside a VAE (`add_posterior`): for a chosen image of a VAE, on a linear map (the code itself or the PCA plane;
t-SNE and UMAP have no meaning for an ellipse), its posterior's 1σ and 2σ ellipses (`aecore.posterior`) and the
prior N(0, I)'s 1σ and 2σ circles, drawn after the point traces as plain SVG lines that take no hover or click.
"""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go

import ui
from aecore.media import TABLEAU10, label_colour
from aecore.posterior import ellipse_on_map, prior_circles

MANY_LABELS = 10  # more labels than this: no legend (it would scroll the page), a picker instead
BACKGROUND_DOTS = "#8c8c8c"  # the labels not highlighted, when some are
SPRITES = 300  # thumbnails drawn at most (a fixed sample of the drawn points)
SPRITE_SEED = 1
SPRITE_SIDE = 1 / 22  # a thumbnail's box: this share of the drawn points' spread along each axis
SCALE = "Viridis"
POSTERIOR_COLOUR = "#ff4b4b"  # the chosen point's ring, and its posterior's ellipses
PRIOR_COLOUR = "#7f7f7f"


def colour_modes(val, D: int) -> dict[str, str]:
    """What the points can be coloured by: {mode: its name}: "label" (labelled sets only), "error" (the
    reconstruction error) and "z0".."z{D-1}" (one number of the code)."""
    modes = {"label": "label"} if val.labels is not None else {}
    modes["error"] = "reconstruction error"
    return modes | {f"z{d}": f"code number z{d}" for d in range(D)}


def hover_texts(val, errors, ids) -> list[str]:
    """Plotly's hover label of each held-out index: "#index · label · recon MSE 0.0123"."""
    return [f"#{i} · {ui.label_of(val, i)} · recon MSE {errors[i]:.4f}" for i in ids]


def colour_values(mode: str, errors: np.ndarray, codes: np.ndarray, ids: np.ndarray) -> tuple[np.ndarray, str]:
    """The continuous colour of the held-out points `ids` under `mode` ("error" or "z<d>"), and its title."""
    if mode == "error":
        return errors[ids], "recon MSE"
    d = int(mode[1:])
    return codes[ids, d], f"z{d}"


def add_points(fig: go.Figure, val, errors: np.ndarray, codes: np.ndarray, idx: np.ndarray, xy: np.ndarray,
               colour: str = "label", highlight: list[int] | tuple = (), only: bool = False,
               legend: bool = True) -> list[list[int]]:
    """The drawn held-out points `idx` at `xy` (its rows), coloured by `colour` (a `colour_modes` key; "label"
    without labels colours by error): one WebGL trace per label, or one with a colour scale. `highlight`: the
    labels picked (with many labels), `only`: draw just those (in every mode). Returns each trace's held-out
    indices."""
    labels = val.labels
    if only and highlight and labels is not None:
        keep = np.isin(labels[idx], highlight)
        idx, xy = idx[keep], xy[keep]
    if colour == "label" and labels is not None:
        return _label_traces(fig, val, errors, idx, xy, highlight, only, legend)
    values, title = colour_values("error" if colour == "label" else colour, errors, codes, idx)
    fig.add_trace(go.Scattergl(
        x=xy[:, 0], y=xy[:, 1], mode="markers", name="held-out", customdata=idx, showlegend=False,
        hovertext=hover_texts(val, errors, idx), hovertemplate="%{hovertext}<extra></extra>",
        marker=dict(size=6, opacity=0.8, color=values, colorscale=SCALE, showscale=True,
                    colorbar=dict(title=title))))
    return [idx.tolist()]


def _label_traces(fig, val, errors, idx, xy, highlight, only, legend) -> list[list[int]]:
    classes = [int(c) for c in np.unique(val.labels)]
    many, drawn = len(classes) > MANY_LABELS, set(np.unique(val.labels[idx]).tolist())
    order = [c for c in classes if c not in highlight and not only] + [c for c in highlight if c in drawn]
    traces = []
    for cls in (c for c in order if c in drawn):
        rows = np.flatnonzero(val.labels[idx] == cls)
        ids = idx[rows]
        marker = dict(size=6, opacity=0.8, color=label_colour(classes.index(cls)))
        if highlight and cls in highlight:
            marker = dict(size=8, opacity=0.95, color=TABLEAU10[highlight.index(cls)])
        elif highlight:
            marker = dict(size=5, opacity=0.35, color=BACKGROUND_DOTS)
        fig.add_trace(go.Scattergl(
            x=xy[rows, 0], y=xy[rows, 1], mode="markers", name=ui.class_name(val, cls), customdata=ids,
            hovertext=hover_texts(val, errors, ids), hovertemplate="%{hovertext}<extra></extra>",
            showlegend=legend and (not many or cls in highlight), marker=marker))
        traces.append(ids.tolist())
    return traces


def drawn_points(traces: list[list[int]], row_of: dict[int, int], xy: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The held-out indices of the drawn dots (the point traces `add_points` returned), sorted, and their map
    positions (rows of `xy`, looked up with `row_of`: held-out index -> row)."""
    ids = np.array(sorted({i for t in traces for i in t}), dtype=int)
    return ids, xy[[row_of[i] for i in ids]].reshape(-1, 2)


def add_label_names(fig: go.Figure, val, ids: np.ndarray, pos: np.ndarray, highlight: list[int] | tuple) -> int:
    """Each label's name at the median position of its drawn points (`ids` at `pos`): all labels when there are
    at most `MANY_LABELS`, else the highlighted ones. Returns how many names were written."""
    if val.labels is None or not len(ids):
        return 0
    labels = val.labels[ids]
    classes = [int(c) for c in np.unique(val.labels)]
    named = classes if len(classes) <= MANY_LABELS else [int(c) for c in highlight]
    count = 0
    for cls in named:
        rows = labels == cls
        if rows.any():
            x, y = np.median(pos[rows], axis=0)
            fig.add_annotation(x=float(x), y=float(y), text=f"<b>{ui.class_name(val, cls)}</b>", showarrow=False,
                               font=dict(size=13, color="#111"), bgcolor="rgba(255,255,255,0.75)",
                               bordercolor=label_colour(classes.index(cls)), borderwidth=2, borderpad=2)
            count += 1
    return count


def sprite_sample(n: int) -> np.ndarray:
    """Which of `n` drawn points get a thumbnail: all of them up to `SPRITES`, else a fixed (seed 1) sorted
    sample of `SPRITES` rows."""
    if n <= SPRITES:
        return np.arange(n)
    return np.sort(np.random.default_rng(SPRITE_SEED).choice(n, SPRITES, replace=False))


def add_sprites(fig: go.Figure, ids: np.ndarray, pos: np.ndarray, pics: dict[int, str]) -> np.ndarray:
    """The thumbnails: the images of a `sprite_sample` of the drawn points (`ids` at `pos`), centred on them,
    each in a box of `SPRITE_SIDE` of the points' spread (data units: zooming in enlarges them), from `pics`
    (held-out index -> PNG data URI). Returns the held-out indices drawn."""
    if not len(ids):
        return ids
    span = np.ptp(pos, axis=0)
    size = np.where(span > 0, span, 1.0) * SPRITE_SIDE
    rows = sprite_sample(len(ids))
    fig.update_layout(images=[dict(source=pics[int(ids[r])], xref="x", yref="y", x=float(pos[r, 0]),
                                   y=float(pos[r, 1]), sizex=float(size[0]), sizey=float(size[1]), xanchor="center",
                                   yanchor="middle", sizing="contain", layer="above", opacity=0.9) for r in rows])
    return ids[rows]


def clicked_point(event: dict, traces: list[list[int]]) -> int | None:
    """The held-out index of the first point in a chart selection event (its customdata, or its trace and
    point number looked up in `traces`); None when the event selects no held-out point."""
    points = ((event or {}).get("selection") or {}).get("points") or []
    if not points:
        return None
    p = points[0]
    i = p.get("customdata")
    if isinstance(i, (list, tuple)):
        i = i[0] if i else None
    if i is not None:
        return int(i)
    c, k = p.get("curve_number"), p.get("point_index", p.get("point_number"))
    if c is None or k is None or not (0 <= c < len(traces)) or not (0 <= k < len(traces[c])):
        return None
    return int(traces[c][k])


def add_posterior(fig: go.Figure, mean: np.ndarray, sigma: np.ndarray, codes: np.ndarray) -> list[list[int]]:
    """A VAE image's posterior N(mean, diag(sigma²)) on the map of `codes` (the code itself, or its PCA plane):
    its 1σ ellipse (solid) and 2σ ellipse (dashed), and the prior N(0, I)'s 1σ and 2σ circles (grey, dashed), as
    the traces "posterior 1σ", "posterior 2σ", "prior 1σ", "prior 2σ". They take no hover and no click. Returns
    one empty list per trace added (no held-out point on them), for the page's trace-to-points list."""
    lines = [(f"prior {k}σ", ring, dict(color=PRIOR_COLOUR, width=1.5 if k == 1 else 1, dash="dash"))
             for k, ring in zip((1, 2), prior_circles(codes, (1, 2)))]
    lines += [(f"posterior {k}σ", ellipse_on_map(mean, sigma, codes, k),
               dict(color=POSTERIOR_COLOUR, width=2 if k == 1 else 1.5, dash="solid" if k == 1 else "dash"))
              for k in (1, 2)]
    for name, ring, line in lines:
        fig.add_trace(go.Scatter(x=ring[:, 0], y=ring[:, 1], mode="lines", name=name, line=line, hoverinfo="skip",
                                 legendgroup="vae", showlegend=True))
    fig.update_yaxes(scaleanchor="x", scaleratio=1)  # one unit is as long across as up: circles look round
    return [[] for _ in lines]
