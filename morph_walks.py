"""Morph's walks: the stops of a walk through several waypoints, or of a random walk, and the path on the map.

The Morph page animates the path through a list of codes, its `Stops`: two
images (A → B, the page's own choice), several waypoints (`waypoints`: held-out
images by number, the first image of each of a list of classes, then points
pinned on the Latent Scatter's map (`pins`), and your own image as the last
stop), or a random walk (`random_walk`: from a held-out
image, with a step size in the codes' spreads, a length and a seed; the walk
stays inside the region the held-out codes fill, `aecore.walks`). Whatever the
stops, the page decodes the same path (linear or spherical legs between them)
into the same preview, GIF and MP4, and `path_map` draws the path over the
held-out codes on the Scatter page's map (the code itself for 2 numbers, else
its PCA plane), the stops numbered.

Widget keys start with `mph_wp_` (waypoints) and `mph_rw_` (random walk).
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
import plotly.graph_objects as go
import streamlit as st

import pins
import ui
from aecore.media import label_colour
from aecore.walks import path_on_map
from aecore.walks import random_walk as walk_codes

MAX_STOPS = 12  # waypoints in one walk (each leg is `steps` frames: a long walk is a long GIF)
PINNED = "mph_wp_pins"  # the picker of pinned points (the pins' own `walk` flags are what it shows)
MAP_POINTS = 1000  # held-out codes drawn under the path
BY = {"index": "held-out numbers", "label": "classes (the first image of each)"}


class Stops(NamedTuple):
    """The codes a path goes through, with the images they came from (None for a random walk's later stops) and
    a short name of each, for captions."""

    codes: np.ndarray
    images: list
    names: list[str]


def waypoints(entry, eng, val, codes) -> Stops | None:
    """The waypoints' controls: held-out numbers or classes in order, pinned points, and your own image as a last
    stop. Returns the stops, or None (with a message saying why) when fewer than two are chosen."""
    if val is None or codes is None:
        ui.held_out_missing(entry, ", so a walk's waypoints cannot be chosen: morph two images of your own "
                                   "(A → B) instead.")
        return None
    by = "index"
    if val.labels is not None:
        by = st.radio("Waypoints by", list(BY), format_func=BY.get, key="mph_wp_by", horizontal=True)
    present = [] if val.labels is None else [int(c) for c in np.unique(val.labels)]
    if by == "index":
        text = st.text_input(f"Held-out numbers, in order (up to {MAX_STOPS})", "0, 1, 2", key="mph_wp_idx",
                             help=f"Comma-separated, each in 0..{len(val) - 1}; a number may come back.")
    else:
        text = st.text_input(f"Classes, in order (up to {MAX_STOPS})", ", ".join(map(str, present[:3])),
                             key="mph_wp_cls", help="Comma-separated class numbers: "
                             + ", ".join(f"{c} = {ui.class_name(val, c)}" for c in present[:12])
                             + (" …" if len(present) > 12 else ""))
    pinned = pinned_waypoints(entry.version)
    try:
        n = len(val) if by == "index" else max(present) + 1
        chosen = [] if pinned and not text.strip() else ui.parse_indices(text, n, MAX_STOPS)
        if by == "label":
            missing = [c for c in chosen if c not in present]
            if missing:
                raise ValueError(f"Expected classes among {', '.join(map(str, present))}, received "
                                 f"{', '.join(map(str, missing))}.")
            chosen = [int(np.flatnonzero(val.labels == c)[0]) for c in chosen]
    except ValueError as e:
        st.error(str(e))
        return None
    images, z = [val.images[i] for i in chosen], [codes[i] for i in chosen]
    names = [ui.held_out_name(val, i) for i in chosen]
    if pinned:
        images += list(eng.decode(np.stack([p.code for p in pinned])))
        z += [p.code for p in pinned]
        names += [f"{p.name} (pinned)" for p in pinned]
    up = ui.upload_image("Your own image as the last waypoint (optional)", "mph_wp", entry)
    if up is not None:
        images.append(up.image)
        names.append(ui.short_name(up.name))
        z.append(eng.encode(up.image[None])[0])
    if len(z) > MAX_STOPS:
        st.error(f"Expected at most {MAX_STOPS} waypoints in all, received {len(z)}: choose fewer numbers or pins.")
        return None
    if len(z) < 2:
        st.info("A walk needs at least two waypoints: add another number, class, pinned point or your own image.")
        return None
    return Stops(np.asarray(z, np.float32), images, names)


def pinned_waypoints(version: str) -> list[pins.Pin]:
    """The picker of points pinned on the Latent Scatter that join the walk after the held-out images (the
    Scatter's "Add to the walk" chooses them too); returns the chosen pins, in pin order."""
    made = pins.of(version)
    if not made:
        st.caption("Pin points on the Latent Scatter (click its map) to walk through them here too.")
        return []
    st.session_state[PINNED] = [p.name for p in made if p.walk]  # the pins' own flags, which the Scatter sets too
    where = {p.name: p.where for p in made}
    st.multiselect("Pinned points (from the Latent Scatter), after the held-out images", list(where), key=PINNED,
                   format_func=lambda name: f"{name} · {where[name]}",
                   on_change=lambda: pins.set_walk(version, st.session_state.get(PINNED)),
                   help="Leave the numbers above empty to walk through pinned points only.")
    return pins.walk_pins(version)


def random_walk(entry, val, codes) -> Stops | None:
    """The random walk's controls: its start (a held-out image), step size, length and seed. Returns its stops."""
    if val is None or codes is None:
        ui.held_out_missing(entry, ", so a random walk has no start and no region to stay in.")
        return None
    c1, c2, c3, c4 = st.columns(4)
    start = int(c1.number_input("Start (held-out #)", 0, len(val) - 1, 0, key="mph_rw_start"))
    size = float(c2.slider("Step size (spreads)", 0.05, 1.0, 0.3, step=0.05, key="mph_rw_size",
                           help="Each step moves every code number by a Gaussian amount with this standard "
                                "deviation, in units of the held-out codes' spread along it."))
    length = int(c3.slider("Steps", 2, 200, 30, key="mph_rw_len"))
    seed = int(c4.number_input("Seed", 0, 10 ** 9, 0, key="mph_rw_seed", help="The same seed, the same walk."))
    z = walk_codes(codes[start], codes, length, size, seed)
    return Stops(z, [val.images[start]], [f"{ui.held_out_name(val, start)}, {length} random steps"])


def path_map(codes, labels, path: np.ndarray, stops: np.ndarray) -> go.Figure:
    """The path (decoded frames' codes, in order) over up to MAP_POINTS held-out codes on the 2-D map, its stops
    numbered (a random walk's are not: there are too many)."""
    shown = slice(0, MAP_POINTS)
    xy, p, s = path_on_map(codes[shown], codes), path_on_map(path, codes), path_on_map(stops, codes)
    colours = "#8c8c8c" if labels is None else [label_colour(int(c)) for c in labels[shown]]
    fig = go.Figure(go.Scattergl(x=xy[:, 0], y=xy[:, 1], mode="markers", hoverinfo="skip", name="held-out codes",
                                 marker={"size": 4, "color": colours, "opacity": 0.35}))
    fig.add_scatter(x=p[:, 0], y=p[:, 1], mode="lines", name="path", line={"color": "#ffffff", "width": 2})
    few = len(s) <= MAX_STOPS
    fig.add_scatter(x=s[:, 0], y=s[:, 1], mode="markers+text" if few else "markers", name="stops",
                    text=[str(i + 1) for i in range(len(s))] if few else None, textposition="top center",
                    marker={"size": 11 if few else 5, "color": "#e15759", "line": {"color": "white", "width": 1}})
    axis = "z" if codes.shape[1] <= 2 else "PC "
    fig.update_layout(height=360, margin={"l": 10, "r": 10, "t": 30, "b": 10}, showlegend=False,
                      title={"text": "The path on the map" + ("" if codes.shape[1] <= 2 else " (PCA plane)"),
                             "font": {"size": 14}},
                      xaxis_title=f"{axis}{0 if axis == 'z' else 1}", yaxis_title=f"{axis}{1 if axis == 'z' else 2}")
    return fig
