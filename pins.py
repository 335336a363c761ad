"""Pinned points: codes picked on the Latent Scatter's map, sent to the Latent Slider or walked through in Morph.

A click on the Scatter's empty space pins the code under the cursor (on a linear map, raw 2-D codes or the PCA
plane: the code its hover decoded; on t-SNE or UMAP, which have no inverse, the nearest held-out point's code,
the one its hover showed), and "Pin this point" pins a chosen held-out image's code. Each pin keeps its code,
a name (P1, P2, …) and where it came from; its picture is the decoder's. Under the map, `section` shows the pins
with a button each to send one to the Latent Slider (which moves its sliders to the pin's code, as near as they
reach, once: `take_for_slider`), to add it to (or take it out of) a walk, Morph's "walk through waypoints"
(`walk_pins`), and to remove it.

Pins are the session's own (Streamlit's session state: nobody else sees them) and belong to one model version:
another model has its own, and a retrained model starts with none.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import plotly.graph_objects as go
import streamlit as st

import ui
from aecore.axes import map_position

MAX_PINS = 12  # as many as a walk has stops (morph_walks.MAX_STOPS)
STATE = "pins"  # session state: {model version: [Pin, ...]}
NUMBERED = "pins_numbered"  # session state: {model version: pins made so far}, so a removed pin's name is not reused
MESSAGE = "pins_message"  # session state: why the last pin was refused, shown once
TO_SLIDER = "pins_to_slider"  # session state: (model version, Pin) the Latent Slider applies once
SLIDER_PAGE, MORPH_PAGE = "pages/5_Latent_Slider.py", "pages/6_Morph.py"
SHOW_PX = 84  # a pin's picture on screen


@dataclass
class Pin:
    """One pinned code: its name ("P1"), the code (float32, the model's code length), where it came from
    ("decoded at (0.12, -1.30)", "#12 (7)") and whether it is a waypoint of the walk."""

    name: str
    code: np.ndarray
    where: str
    index: int | None = None  # the held-out image it is the code of, if any
    walk: bool = False


def of(version: str) -> list[Pin]:
    """The pins of a model version, in the order they were made."""
    return st.session_state.get(STATE, {}).get(version, [])


def add(version: str, code, where: str, index: int | None = None) -> Pin:
    """Pin a code of the model `version`.

    Args:
        version: the model's version (`Entry.version`).
        code: the code, a sequence of finite numbers.
        where: where it came from, for captions.
        index: the held-out image whose code it is (placed on t-SNE and UMAP maps by it), else None.

    Returns: the new pin.

    Raises:
        ValueError: the code is not a finite 1-D vector, or the model already has MAX_PINS pins (the message
            says so, with what was received).
    """
    z = np.asarray(code, dtype=np.float32)
    if z.ndim != 1 or z.size == 0 or not np.isfinite(z).all():
        raise ValueError(f"Expected a code of finite numbers, received shape {z.shape}"
                         + ("" if z.ndim != 1 or not z.size else " with a NaN or infinite number") + ".")
    pins = st.session_state.setdefault(STATE, {}).setdefault(version, [])
    if len(pins) >= MAX_PINS:
        raise ValueError(f"Expected at most {MAX_PINS} pins per model, received a {MAX_PINS + 1}th: remove one "
                         "first.")
    numbered = st.session_state.setdefault(NUMBERED, {})
    numbered[version] = numbered.get(version, 0) + 1
    pin = Pin(f"P{numbered[version]}", z, where, index)
    pins.append(pin)
    return pin


def remove(version: str, name: str) -> None:
    """Unpin `name` (nothing happens when it is not pinned)."""
    st.session_state.get(STATE, {})[version] = [p for p in of(version) if p.name != name]


def toggle_walk(version: str, name: str) -> None:
    """Add the pin `name` to the walk, or take it out."""
    for p in of(version):
        if p.name == name:
            p.walk = not p.walk


def walk_pins(version: str) -> list[Pin]:
    """The pins that are waypoints of the walk, in pin order."""
    return [p for p in of(version) if p.walk]


def set_walk(version: str, names) -> None:
    """Make exactly the pins `names` the walk's (Morph's picker of pinned waypoints)."""
    chosen = set(names or [])
    for p in of(version):
        p.walk = p.name in chosen


def from_click(version: str, click, plane, codes: np.ndarray, val) -> Pin:
    """Pin what a click on the map chose: `click` is the hover component's "pin" trigger, {"x", "y"} (a map
    position on a plane: `plane` is `aecore.axes.map_plane`'s (base, u, v), code = base + x·u + y·v) or
    {"index"} (a held-out image, on t-SNE or UMAP; `codes` and `val` are the held-out codes and images).

    Raises:
        ValueError: the click is neither, or names no held-out image (saying what was received).
    """
    if isinstance(click, dict) and "index" in click:
        i = click["index"]
        if not isinstance(i, int | float) or i != int(i) or not 0 <= int(i) < len(codes):
            raise ValueError(f"Expected a held-out image number in 0..{len(codes) - 1}, received {i!r}.")
        return add(version, codes[int(i)], ui.held_out_name(val, int(i)), int(i))
    try:
        x, y = float(click["x"]), float(click["y"])
    except (KeyError, TypeError, ValueError):
        raise ValueError(f"Expected a map position {{x, y}} or a point {{index}}, received {click!r}.") from None
    if plane is None:
        raise ValueError("Expected a click on a linear map (raw codes or PCA), received one on a map with no inverse.")
    base, u, v = plane
    return add(version, base + x * u + y * v, f"decoded at ({x:.2f}, {y:.2f})")


def add_to_chart(fig: go.Figure, version: str, codes: np.ndarray, xy: np.ndarray, row_of: dict,
                 linear: bool) -> int:
    """Draw the model's pins on the map (a linear map: any pin where its code lands; t-SNE or UMAP: a pinned
    held-out point among those it placed), each named. Returns the number of traces added (one, or none)."""
    pins = of(version)
    if linear:
        shown = [(p, map_position(p.code, codes)[0]) for p in pins]
    else:
        shown = [(p, xy[row_of[p.index]]) for p in pins if p.index in row_of]
    if not shown:
        return 0
    fig.add_trace(go.Scatter(
        x=[m[0] for _, m in shown], y=[m[1] for _, m in shown], mode="markers+text", name="pins",
        text=[p.name for p, _ in shown], textposition="top right", hoverinfo="skip",
        marker=dict(size=13, symbol="x", color="#ff4b4b", line=dict(width=1.5, color="white"))))
    return 1


def pin_button(version: str, code: np.ndarray, where: str, index: int, key: str) -> None:
    """"Pin this point": pins a chosen held-out image's code (once: then it says which pin it is)."""
    pinned = [p.name for p in of(version) if p.index == index]
    if pinned:
        st.caption(f"Pinned as {', '.join(pinned)} (under the map).")
    else:
        st.button("Pin this point", key=key, icon=":material/push_pin:", on_click=pin_safely,
                  args=(add, version, code, where, index),
                  help="Keep its code under the map, to send to the Latent Slider or to walk through in Morph.")


def pin_safely(make, *args) -> None:
    """Callback: pin with `make(*args)` (`add` or `from_click`); a refusal is shown once, in `section`."""
    try:
        make(*args)
    except ValueError as e:
        st.session_state[MESSAGE] = str(e)


def take_for_slider(version: str) -> Pin | None:
    """The pin sent to the Latent Slider for this model, once (None when there is none, or it was for another
    model)."""
    sent = st.session_state.pop(TO_SLIDER, None)
    return sent[1] if sent is not None and sent[0] == version else None


def section(version: str, eng, can_pin_space: bool) -> None:
    """The "Pinned points" section under the map: each pin's picture, name, origin and code, with its buttons
    (to the Latent Slider; add to / take out of the walk; remove), then "Walk through them in Morph" when the walk
    has any. `can_pin_space`: clicks on empty space pin the code there (a linear map) rather than the nearest
    point."""
    st.subheader("Pinned points")
    if MESSAGE in st.session_state:
        st.error(st.session_state.pop(MESSAGE))
    pins = of(version)
    how = ("Click empty space on the map to pin the code there (the picture its hover shows)" if can_pin_space
           else "Click the map to pin the nearest point (t-SNE and UMAP have no inverse)")
    if not pins:
        st.caption(how + ", or choose a point and press \"Pin this point\". Pins stay while this tab is open, "
                         "for this model, and can be sent to the Latent Slider or walked through in Morph.")
        return
    st.caption(how + f"; up to {MAX_PINS}. Send one to the Latent Slider, or add pins to a walk through them.")
    images = eng.decode(np.stack([p.code for p in pins]))
    for row in range(0, len(pins), 4):
        for col, pin, img in zip(st.columns(4), pins[row:row + 4], images[row:row + 4]):
            with col:
                pin_card(version, pin, img)
    walk = walk_pins(version)
    if walk and st.button(f"Walk through {', '.join(p.name for p in walk)} in Morph", key="pins_to_morph",
                          icon=":material/route:", help="Morph's walk through waypoints, through these pins only (add "
                                                        "held-out images there)."):
        st.session_state.update(mph_mode="walk", mph_wp_by="index", mph_wp_idx="")  # Morph's walk, pins only
        ui.go_to(MORPH_PAGE, "Morph")


def pin_card(version: str, pin: Pin, img) -> None:
    """One pin: its picture and caption, and its three buttons."""
    shown = ", ".join(f"{v:.2f}" for v in pin.code[:4]) + (", …" if len(pin.code) > 4 else "")
    st.image(ui.upscale(img, SHOW_PX), caption=pin.name, width=SHOW_PX,
             output_format="PNG")  # lossless: the decoder's own picture
    st.caption(f"{pin.where} · z = [{shown}]")
    if st.button("To the Latent Slider", key=f"pins_slider_{pin.name}", icon=":material/tune:",
                 help="Open the Latent Slider with its sliders at this code (as near as they reach)."):
        st.session_state[TO_SLIDER] = (version, pin)
        ui.go_to(SLIDER_PAGE, "Latent Slider")
    st.button("Take out of the walk" if pin.walk else "Add to the walk", key=f"pins_walk_{pin.name}",
              icon=":material/route:", on_click=toggle_walk, args=(version, pin.name))
    st.button("Remove", key=f"pins_remove_{pin.name}", icon=":material/close:", on_click=remove,
              args=(version, pin.name))
