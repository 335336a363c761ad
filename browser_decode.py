"""The Latent Slider's live picture: the decoder runs in the browser, so a slider move paints at once.

A Streamlit round trip costs about 75 ms before any decoding, and under load
(many sessions, trainings) it grows with the server's queue. Here the page sends
the decoder once (`aecore.webdecoder.decoder_spec`: its layers and weights) and
TensorFlow.js, shipped in `static/tfjs/`, decodes whatever the sliders show:
while dragging, on a key, after "Random sample" (browser_decode.js watches the
sliders' values in the page). The server's rerun still runs on release, for the
rest of the page and as the fallback: its own decoded picture is sent along and
shown whenever the browser decoder is unavailable (the decoder has a layer the
browser lacks, TensorFlow.js did not load, JavaScript failed).

`pad` is a 2-D control over two sliders, drawn over the held-out codes: the
picture follows its point while it is dragged (decoded in the browser, each
pointer move), and the release moves the two sliders there.

    spec_id = decoder_loader(entry.version, eng.model.decoder)
    live_picture(spec_id, ["sld_z0", "sld_z1"], axes.to_code, png_uri, caption, width=224, key="sld_live")
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import streamlit as st

from aecore.webdecoder import UnsupportedDecoder, decoder_spec

_CSS = """
.aecore-bank .aecore-slider { display: grid; grid-template-columns: 1fr auto; margin: 0.3rem 0 0.9rem; }
.aecore-bank .aecore-name { font-size: 0.875rem; }
.aecore-bank .aecore-value { font-size: 0.875rem; color: #ff4b4b; font-variant-numeric: tabular-nums; }
.aecore-bank input[type=range] { grid-column: 1 / 3; width: 100%; accent-color: #ff4b4b; margin: 0.35rem 0 0; }
.aecore-live { width: fit-content; }
.aecore-live canvas, .aecore-live img { image-rendering: pixelated; border-radius: 0.5rem; display: block; }
.aecore-live .aecore-caption { font-size: 0.875rem; opacity: 0.6; margin-top: 0.4rem; text-align: center; }
"""
_component = st.components.v2.component("aecore_live_decoder", css=_CSS, isolate_styles=False,
                                        js=Path(__file__).with_name("browser_decode.js").read_text())


@st.cache_resource(max_entries=16, show_spinner=False)
def _spec(version: str, _decoder) -> dict | None:
    """The browser spec of a model's decoder, once per model version; None when the browser cannot run it."""
    try:
        return decoder_spec(_decoder)
    except UnsupportedDecoder:
        return None


def decoder_loader(version: str, decoder, key: str) -> str | None:
    """Send the decoder to the browser (an invisible element; Streamlit sends an unchanged one once per session).

    Args:
        version: the model's version (`Entry.version`): names the decoder, so a new model gets a new one.
        decoder: the Keras decoder (`engine.model.decoder`).
        key: the element's widget key (page-prefixed).

    Returns:
        The decoder's id for `live_picture`, or None when the browser cannot run this decoder.
    """
    spec = _spec(version, decoder)
    if spec is None:
        return None
    _component(data={"role": "loader", "spec_id": version, "spec": spec}, key=key)
    return version


def affine(to_code, n_sliders: int) -> tuple[list[float], list[list[float]]]:
    """The slider-values -> code map `to_code` (affine for every `aecore.axes` kind) as (base, matrix):
    code = base + values @ matrix."""
    base = np.asarray(to_code(np.zeros(n_sliders)), np.float64)
    matrix = [np.asarray(to_code(np.eye(n_sliders)[i]), np.float64) - base for i in range(n_sliders)]
    return base.tolist(), [m.tolist() for m in matrix]


def live_picture(spec_id: str | None, slider_keys: list[str], to_code, fallback_uri: str, caption: str,
                 width: int, key: str) -> None:
    """The decoded picture of the sliders' code, decoded in the browser as the sliders move.

    Args:
        spec_id: `decoder_loader`'s id; None: show the server's picture only.
        slider_keys: the widget keys of the sliders, in the order `to_code` takes their values.
        to_code: slider values -> code (affine).
        fallback_uri: the server's decoded picture for the current values (a PNG data URI).
        caption: the words under the server's picture.
        width: the picture's width in CSS pixels.
        key: the element's widget key (page-prefixed).
    """
    base, matrix = affine(to_code, len(slider_keys))
    _component(data={"role": "picture", "spec_id": spec_id, "sliders": list(slider_keys), "base": base,
                     "matrix": matrix, "fallback": fallback_uri, "caption": caption, "width": int(width)},
               key=key)


def pad(slider_keys: list[str], x: int, y: int, lo, hi, points, colours: list[str], size: int, key: str,
        on_change) -> None:
    """A 2-D pad over two of the sliders: the held-out codes as dots and the sliders' point, which you drag; the
    live picture decodes every position of the drag in the browser, and the release calls `on_change` (read the
    point [x, y] in slider units from `st.session_state[key].point`) to move the two sliders there.

    Args:
        slider_keys: the sliders' widget keys, in order (as for `live_picture`).
        x, y: the indexes (in `slider_keys`) of the sliders the pad's horizontal and vertical axes move.
        lo, hi: every slider's range (the pad spans those of sliders x and y).
        points: the held-out codes in slider units, (N, n_sliders) (only columns x and y are drawn).
        colours: a CSS colour per point (its label's).
        size: the pad's side in CSS pixels.
        key: the element's widget key (page-prefixed); on_change: the callback of a release.
    """
    pts = np.asarray(points, np.float64)[:, [x, y]] if points is not None and len(points) else np.zeros((0, 2))
    data = {"role": "pad", "sliders": list(slider_keys), "x": int(x), "y": int(y), "size": int(size),
            "range": [float(lo[x]), float(hi[x]), float(lo[y]), float(hi[y])],
            "points": np.round(pts, 3).tolist(), "colours": list(colours)}
    _component(data=data, key=key, on_point_change=on_change)


SYNC_MS = 750  # the sliders rest this long before the server hears of them (one rerun per gesture, not per
# step, nor per key press at a person's pace: each rerun costs the server CPU time every session shares)


def slider_bank(spec_id: str | None, slider_keys: list[str], labels: list[str], lo, hi, step: float, values,
                hidden_key: str, key: str, on_change, columns: int = 1) -> None:
    """The sliders, in the browser: once the decoder is ready they replace Streamlit's own sliders (kept, hidden,
    in the container keyed `hidden_key`: without the browser decoder they stay and work as before). A move paints
    the picture at once; the server hears of the values once the sliders rest (SYNC_MS), through `on_change`
    (read `st.session_state[key]["values"]` and set the Streamlit sliders from it).

    Args:
        spec_id: `decoder_loader`'s id; None: nothing is mounted (the Streamlit sliders stay).
        slider_keys, labels, lo, hi, step: the Streamlit sliders' keys, labels, ranges and step.
        values: the sliders' values in this run (the bank follows them when they change on the server).
        hidden_key: the key of the container holding the Streamlit sliders.
        key: this element's widget key; on_change: the callback of a synced gesture.
        columns: how many columns the sliders are laid out in (as the Streamlit ones).
    """
    if spec_id is None:
        return
    _component(data={"role": "bank", "spec_id": spec_id, "sliders": list(slider_keys), "labels": list(labels),
                     "lo": [float(v) for v in lo], "hi": [float(v) for v in hi], "step": float(step),
                     "values": [round(float(v), 6) for v in values], "bank": hidden_key, "sync_ms": SYNC_MS,
                     "columns": int(columns)},
               key=key, on_values_change=on_change)
