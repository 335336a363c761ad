"""The Latent Slider's "Directions" panel: move a held-out image's code from class A towards class B, and
decode the code arithmetic A − B + C of three held-out images; either result can be sent to the page's sliders.

The page calls `panel(eng, val, codes, axes, set_sliders)` once, above its sliders. The panel is a fragment: its
widgets rerun only it. "Send to the sliders" writes the sliders' session state and reruns the whole page (the
sliders are drawn after the panel, and a fragment rerun does not redraw them). The arithmetic itself is
`aecore.directions`; the class means come from the page's held-out codes.

Widget keys start with `sld_dir_` (class direction) and `sld_ari_` (arithmetic). Session state also holds
what each tab showed last, for tests and debugging (written, never read back): `sld_dir_shown` ({"start",
"a", "b", "t", "ts", "codes", "images"}: the strip's amounts then the chosen t, with their codes and decoded
images) and `sld_ari_shown` ({"indices", "code", "image"}).
"""

from __future__ import annotations

import numpy as np
import streamlit as st

import ui
from aecore import directions

TITLE = "Directions: class A → B, and A − B + C"
STRIP_TS = (0.0, 0.25, 0.5, 0.75, 1.0)  # the amounts shown in the class direction's strip
STRIP_PX, RESULT_PX = 84, 168  # the strip's pictures' width, the chosen picture's width
DIR_A, DIR_B, DIR_START, DIR_T, DIR_SEND = "sld_dir_a", "sld_dir_b", "sld_dir_start", "sld_dir_t", "sld_dir_send"
ARI_KEYS = {"A": "sld_ari_a", "B": "sld_ari_b", "C": "sld_ari_c"}
ARI_SEND = "sld_ari_send"
DIR_SHOWN, ARI_SHOWN = "sld_dir_shown", "sld_ari_shown"  # what each tab showed last (see the module doc)
SEND_HELP = "Move the page's sliders to this code (as near as the sliders reach: their step, range and directions)."


def _valid(key: str, ok, default) -> None:
    """Start a widget from `default` when it has no value yet, or one that this model's data cannot take."""
    if key not in st.session_state or not ok(st.session_state[key]):
        st.session_state[key] = default


def _index_ok(n: int):
    return lambda v: isinstance(v, int | np.integer) and 0 <= int(v) < n


def _send(axes, set_sliders, z) -> None:
    """Move the page's sliders to code `z` and rerun the whole page (it redraws them)."""
    set_sliders(axes.from_code(z))
    st.rerun(scope="app")


def _first_of(labels, c) -> int:
    return int(np.flatnonzero(labels == c)[0])


def _a_changed(labels) -> None:
    """Class A changed: start from its first held-out image."""
    st.session_state[DIR_START] = _first_of(labels, st.session_state[DIR_A])


def class_direction_tab(eng, val, codes, axes, set_sliders) -> None:
    """Class A, class B, the start image and the amount t; the start image, the strip along the direction and the
    image at t; "Send to the sliders"."""
    st.session_state.pop(DIR_SHOWN, None)  # set again below when something is shown
    if val is None or codes is None:
        st.info("A class direction needs the model's held-out images and their labels (the direction is the "
                "difference of two classes' mean codes), and they are not available for this model.")
        return
    if val.labels is None:
        st.info("A class direction needs labelled images (the direction is the difference of two classes' mean "
                "codes), and this model's held-out images have no labels. Arithmetic (the other tab) works without.")
        return
    present = [int(c) for c in np.unique(val.labels)]
    if len(present) < 2:
        st.info(f"A class direction needs two classes among the held-out images; they are all "
                f"{ui.class_name(val, present[0])}.")
        return
    _valid(DIR_A, present.__contains__, present[0])
    _valid(DIR_B, present.__contains__, present[1])
    _valid(DIR_START, _index_ok(len(val)), _first_of(val.labels, st.session_state[DIR_A]))
    st.session_state.setdefault(DIR_T, 1.0)
    c1, c2, c3 = st.columns(3)
    a = c1.selectbox("From class A", present, key=DIR_A, format_func=lambda c: ui.class_name(val, c),
                     on_change=_a_changed, args=(val.labels,), help="Changing it starts from its first image.")
    b = c2.selectbox("Towards class B", present, key=DIR_B, format_func=lambda c: ui.class_name(val, c))
    start = int(c3.number_input("Start image (held-out #)", 0, len(val) - 1, key=DIR_START,
                                help=f"An index into the {len(val)} held-out images; it follows class A."))
    t = float(st.slider("Amount t", -1.0, 2.0, step=0.05, key=DIR_T,
                        help="0: the start image's code; 1: moved by the whole difference of the class means."))
    if a == b:
        st.warning(f"A and B are the same class ({ui.class_name(val, a)}), so there is no direction between them: "
                   "choose two different classes.", icon="⚠️")
        return
    d = directions.class_direction(codes, val.labels, a, b)
    ts = [*STRIP_TS, t]
    zs = directions.along(codes[start], d, ts)
    decoded = eng.decode(zs)
    st.session_state[DIR_SHOWN] = {"start": start, "a": a, "b": b, "t": t, "ts": ts, "codes": zs, "images": decoded}
    na, nb = int((val.labels == a).sum()), int((val.labels == b).sum())
    name_a, name_b = ui.class_name(val, a), ui.class_name(val, b)
    st.caption(f"z + t·(mean code of {name_b} − mean code of {name_a}), from the {na} and {nb} held-out images of "
               f"each; z is the code of the start image. t = 0 is its reconstruction, t = 1 has moved by the whole "
               "difference of the class means.")
    ui.show_row([val.images[start], *decoded[:-1]],
                [f"start {ui.held_out_name(val, start)}", *[f"t = {s:g}" for s in STRIP_TS]], width=STRIP_PX)
    st.image(ui.png_data_uri(decoded[-1], RESULT_PX), width=RESULT_PX,
             caption=f"t = {t:g}: {name_a} → {name_b}")
    if st.button("Send to the sliders", key=DIR_SEND, icon=":material/tune:", help=SEND_HELP):
        _send(axes, set_sliders, zs[-1])


def _arithmetic_defaults(val) -> dict[str, int]:
    """A = #0, B = another image of A's class, C = the first image of another class (labelled); else #0, #1, #2."""
    n = len(val)
    default = {"A": 0, "B": min(1, n - 1), "C": min(2, n - 1)}
    if val.labels is not None:
        same = np.flatnonzero(val.labels == val.labels[0])
        other = np.flatnonzero(val.labels != val.labels[0])
        if len(same) > 1:
            default["B"] = int(same[1])
        if len(other):
            default["C"] = int(other[0])
    return default


def arithmetic_tab(eng, val, codes, axes, set_sliders) -> None:
    """Three held-out images A, B, C; them, their reconstructions and decode(z_A − z_B + z_C); "Send to the
    sliders"."""
    st.session_state.pop(ARI_SHOWN, None)  # set again below when something is shown
    if val is None or codes is None:
        st.info("Arithmetic picks three held-out images of the model, and they are not available for this model.")
        return
    default = _arithmetic_defaults(val)
    cols = st.columns(3)
    idx = {}
    for col, (side, key) in zip(cols, ARI_KEYS.items()):
        _valid(key, _index_ok(len(val)), default[side])
        idx[side] = int(col.number_input(f"Image {side} (held-out #)", 0, len(val) - 1, key=key,
                                         help=f"An index into the {len(val)} held-out images."))
    i = [idx["A"], idx["B"], idx["C"]]
    z = directions.arithmetic(codes[i[0]], codes[i[1]], codes[i[2]])
    decoded = eng.decode(np.concatenate([codes[i], z[None]]))
    st.session_state[ARI_SHOWN] = {"indices": i, "code": z, "image": decoded[-1]}
    st.caption("The codes of A and B subtracted, that of C added: A's difference from B carried over to C (with A "
               "and B of one class, roughly A's style on C). Above: the images; below: their reconstructions and "
               "the result.")
    ui.show_row(val.images[i], [f"{side}: {ui.held_out_name(val, j)}" for side, j in zip("ABC", i)], width=STRIP_PX)
    ui.show_row(decoded, ["decode(z_A)", "decode(z_B)", "decode(z_C)", "decode(z_A − z_B + z_C)"], width=STRIP_PX)
    if st.button("Send to the sliders", key=ARI_SEND, icon=":material/tune:", help=SEND_HELP):
        _send(axes, set_sliders, z)


@st.fragment
def panel(eng, val, codes, axes, set_sliders) -> None:
    """The "Directions" expander with its two tabs, "Class direction" and "Arithmetic".

    Args:
        eng: the active model's `aecore.infer.Engine`.
        val: its held-out `Dataset`, or None when not available.
        codes: the held-out codes (N, D), aligned with `val`, or None.
        axes: the page's slider axes (`aecore.axes`): `axes.from_code(z)` gives the sliders' values for a code.
        set_sliders: moves the page's sliders to the given values (writes their session state).
    """
    with st.expander(TITLE):
        if val is not None and codes is not None and len(codes) != len(val):
            st.error(f"Expected one held-out code per held-out image, received {len(codes)} codes for {len(val)} "
                     "images.")
            return
        tab_dir, tab_ari = st.tabs(["Class direction", "Arithmetic"])
        with tab_dir:
            class_direction_tab(eng, val, codes, axes, set_sliders)
        with tab_ari:
            arithmetic_tab(eng, val, codes, axes, set_sliders)
