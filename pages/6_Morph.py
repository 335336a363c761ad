"""Morph: one image turning into another through the code space.

Two images (held-out by index or by class, or uploaded) are encoded, the path
between their codes is decoded step by step (linear or spherical), and the
frames become a preview strip, an animated GIF and, on demand, an MP4, both
downloadable.

The page reads top to bottom: images A and B, the animation's settings (both
kept in the page's link, `links`, but for uploads), a guard (both images
chosen), the morph, then the preview, the GIF and the downloads.
"""

import hashlib
from typing import NamedTuple

import numpy as np
import streamlit as st

import links
import morph_walks
import ui
from aecore import media

STRIP = 8  # frames in the preview strip
ANIM_PX = 224  # the GIF / MP4 side in pixels (nearest-neighbour upscaled)
INTERPOLATIONS = {"linear": "linear", "spherical": "spherical (slerp)"}
SOURCES = {"index": "Held-out #", "label": "Held-out class", "upload": "Upload"}
MODES = {"pair": "A → B", "walk": "a walk through waypoints", "random": "a random walk"}
FILE_NAMES = {"pair": "morph", "walk": "walk", "random": "random_walk"}  # the downloads' names start so
MP4 = "mph_mp4"  # session state: (model version, settings signature, bytes) of the last MP4 made


@st.cache_data(show_spinner=False, max_entries=16)
def gif_bytes(frames: np.ndarray, fps: int, loop: bool, bounce: bool, upscale: int) -> bytes:
    """The frames as an animated GIF (cached per frames and settings)."""
    return media.frames_to_gif(frames, fps=fps, loop=loop, bounce=bounce, upscale=upscale)


@st.cache_data(show_spinner=False, max_entries=8)
def mp4_bytes(frames: np.ndarray, fps: int, bounce: bool, upscale: int) -> bytes:
    """The frames as an H.264 MP4 (cached per frames and settings)."""
    return media.frames_to_mp4(frames, fps=fps, bounce=bounce, upscale=upscale)


class Playback(NamedTuple):
    """The animation's settings."""
    steps: int
    method: str
    fps: int
    loop: bool
    bounce: bool


def link_params(val, sources: dict) -> list[links.Param]:
    """The page's settings in its link (`links`): for A and B where the image comes from (`sa`, `sb`), its held-out
    number (`a`, `b`) or its class, first or random, and the random draw (`ca`, `pa`, `ra`; `cb`, …); and the
    animation's steps, interpolation, fps, loop and bounce. An upload cannot travel in a link."""
    n = len(val) if val is not None else 1
    classes = np.unique(val.labels).tolist() if val is not None and val.labels is not None else []
    per_image = [p for s in "ab" for p in (
        links.Param(f"s{s}", f"mph_src_{s}", links.choice(list(sources))),
        links.Param(s, f"mph_idx_{s}", links.integer(0, n - 1)),
        links.Param(f"c{s}", f"mph_cls_{s}", links.choice(classes)),
        links.Param(f"p{s}", f"mph_pick_{s}", links.choice(["first", "random"])),
        links.Param(f"r{s}", f"mph_seed_{s}", links.integer(0, 10 ** 9)))]
    walks = [links.Param("mode", "mph_mode", links.choice(list(MODES))),
             links.Param("by", "mph_wp_by", links.choice(list(morph_walks.BY))),
             links.Param("wp", "mph_wp_idx", links.text(200)), links.Param("wc", "mph_wp_cls", links.text(200)),
             links.Param("rs", "mph_rw_start", links.integer(0, n - 1)),
             links.Param("rz", "mph_rw_size", links.number(0.05, 1.0), "{:g}".format),
             links.Param("rl", "mph_rw_len", links.integer(2, 200)),
             links.Param("rseed", "mph_rw_seed", links.integer(0, 10 ** 9)),
             links.Param("rf", "mph_rw_frames", links.integer(2, 10))]
    return [*per_image, *walks, links.Param("steps", "mph_steps", links.integer(2, 120)),
            links.Param("interp", "mph_method", links.choice(list(INTERPOLATIONS))),
            links.Param("fps", "mph_fps", links.integer(1, 50)),
            links.Param("loop", "mph_loop", links.flag, links.write_flag),
            links.Param("bounce", "mph_bounce", links.flag, links.write_flag)]


def link_values() -> dict:
    """The settings in effect, by link parameter: only what the chosen sources use."""
    state = st.session_state
    mode = state.get("mph_mode")
    values = {"mode": mode, "interp": state.get("mph_method"), "fps": state.get("mph_fps"),
              "loop": state.get("mph_loop"), "bounce": state.get("mph_bounce")}
    if mode == "walk":
        by = values["by"] = state.get("mph_wp_by")
        values["wc" if by == "label" else "wp"] = state.get("mph_wp_cls" if by == "label" else "mph_wp_idx") or None
        # (pinned points are this session's: a link leaves them out, and an empty list of numbers with them)
    if mode == "random":
        values.update(rs=state.get("mph_rw_start"), rz=state.get("mph_rw_size"), rl=state.get("mph_rw_len"),
                      rseed=state.get("mph_rw_seed"), rf=state.get("mph_rw_frames"))
        return values
    values["steps"] = state.get("mph_steps")
    for s in "ab" if mode == "pair" else "":
        src = values[f"s{s}"] = state.get(f"mph_src_{s}")
        if src == "index":
            values[s] = state.get(f"mph_idx_{s}")
        elif src == "label":
            values.update({f"c{s}": state.get(f"mph_cls_{s}"), f"p{s}": state.get(f"mph_pick_{s}")})
            if state.get(f"mph_pick_{s}") == "random":
                values[f"r{s}"] = state.get(f"mph_seed_{s}")
    return values


def image_sources(val) -> dict:
    """Where images can come from: held-out by number or by class (when labelled), or an upload."""
    if val is None:
        return {"upload": SOURCES["upload"]}
    return {k: v for k, v in SOURCES.items() if k != "label" or val.labels is not None}


def default_pair(val) -> dict:
    """Where A and B start: held-out #0, and the first held-out image of another class (else #1)."""
    default = {"a": 0, "b": min(1, len(val) - 1) if val is not None else 0}
    if val is not None and val.labels is not None:
        other = np.flatnonzero(val.labels != val.labels[0])
        if len(other):
            default["b"] = int(other[0])
    return default


def of_class(val, s: str, start: int):
    """Image `s` ("a"/"b") by class: the first or a random member; returns (image, its description)."""
    present = np.unique(val.labels).tolist()
    cls = st.selectbox("Class", present, index=present.index(int(val.labels[start])), key=f"mph_cls_{s}",
                       format_func=lambda k: ui.class_name(val, k))
    members = np.flatnonzero(val.labels == cls)
    cc1, cc2 = st.columns([2, 1])
    which = cc1.radio("Which image", ["first", "random"], key=f"mph_pick_{s}", horizontal=True)
    if which == "random":
        seed_key = f"mph_seed_{s}"
        st.session_state.setdefault(seed_key, 0)
        if cc2.button("Another", key=f"mph_reroll_{s}", icon=":material/casino:",
                      help="Draw another random image of this class."):
            st.session_state[seed_key] += 1
        i = int(np.random.default_rng([st.session_state[seed_key], int(cls), ord(s)]).choice(members))
    else:
        i = int(members[0])
    return val.images[i], f"#{i} ({ui.label_of(val, i)})"


def choose(side: str, val, sources: dict, default: dict, entry):
    """The widgets for image A or B, with the image chosen below them; returns (image (H, W, C) or None,
    its description)."""
    s = side.lower()
    st.markdown(f"**Image {side}**")
    src = st.radio(f"Source of {side}", list(sources), format_func=sources.get, key=f"mph_src_{s}", horizontal=True,
                   label_visibility="collapsed")
    if src == "index":
        i = int(st.number_input("Held-out index", 0, len(val) - 1, default[s], key=f"mph_idx_{s}",
                                help=f"0..{len(val) - 1}"))
        img, name = val.images[i], ui.held_out_name(val, i)
    elif src == "label":
        img, name = of_class(val, s, default[s])
    else:
        up = ui.upload_image(f"Upload image {side}", f"mph_{s}", entry)
        img, name = (None, None) if up is None else (up.image, up.name)
    if img is not None:
        st.image(ui.png_data_uri(img, 112), caption=f"{side}: {ui.short_name(name)}", width=112)
    return img, name


def playback(mode: str) -> Playback:
    """Steps (frames per leg; a random walk's legs are its steps, so few frames each), interpolation, frames per
    second, loop and bounce."""
    k1, k2, k3, k4 = st.columns([2, 2, 2, 1])
    if mode == "random":
        steps = k1.slider("Frames per step", 2, 10, 3, key="mph_rw_frames",
                          help="Frames from one stop of the walk to the next, both included.")
    else:
        steps = k1.slider("Steps (frames A → B)" if mode == "pair" else "Frames per leg", 2, 120, 30,
                          key="mph_steps", help="Frames from one image to the next, both included.")
    method = k2.radio("Interpolation", list(INTERPOLATIONS), format_func=INTERPOLATIONS.get, key="mph_method",
                      horizontal=True, help="Spherical keeps the code's length, which suits a VAE's Gaussian prior.")
    fps = k3.slider("Frames per second", 1, 50, 10, key="mph_fps")
    loop = k4.checkbox("Loop", True, key="mph_loop", help="Loop the GIF forever (else it plays once).")
    bounce = k4.checkbox("Bounce", False, key="mph_bounce", help="Play forwards, then back.")
    return Playback(int(steps), method, int(fps), bool(loop), bool(bounce))


def downloads(frames: np.ndarray, gif: bytes, play: Playback, upscale: int, version: str, name: str) -> None:
    """The GIF download, and an MP4 made on demand (offered while the images and settings stay the same; an MP4
    made with another model is forgotten: `version` is the active model's)."""
    st.markdown("**Download**")
    st.download_button("GIF", gif, icon=":material/download:", file_name=f"{name}_{play.steps}x{play.method}.gif",
                       mime="image/gif", key="mph_gif_download", on_click="ignore")
    signature = hashlib.sha256(frames.tobytes() + repr((play.fps, play.bounce, upscale)).encode()).hexdigest()
    made = st.session_state.get(MP4)
    if made is not None and made[0] != version:  # made with another model: nothing to compare with
        made = st.session_state[MP4] = None
    if st.button("Make MP4", key="mph_mp4_make", icon=":material/movie:",
                 help="H.264, plays everywhere; takes about a second."):
        try:
            with st.spinner("Encoding the MP4…"):
                st.session_state[MP4] = made = (version, signature,
                                                mp4_bytes(frames, play.fps, play.bounce, upscale))
        except Exception as e:  # moviepy / ffmpeg failures of any kind must not reach the page as a traceback
            st.error(f"Expected to encode an MP4 with ffmpeg, received an error: {type(e).__name__}: {e}")
    if made is not None and made[1] == signature:
        st.download_button("MP4", made[2], icon=":material/download:",
                           file_name=f"{name}_{play.steps}x{play.method}.mp4",
                           mime="video/mp4", key="mph_mp4_download", on_click="ignore")
    elif made is not None:
        st.caption("The images or settings changed since you made the MP4: make it again.")
    h, w, _ = frames.shape[1:]
    st.caption(f"{h * upscale}×{w * upscale} px ({upscale}× the {h}×{w} model output), {len(frames)} decoded steps.")


def pair(entry, val, sources: dict) -> morph_walks.Stops | None:
    """Images A and B side by side (held-out by number or class, or uploaded, as `sources` offers); their stops,
    or None (with a message) while one is missing."""
    if val is None:
        ui.held_out_missing(entry, ", so choosing them is unavailable: upload your own two images below.")
    default = default_pair(val)
    col_a, col_b = st.columns(2, gap="large")
    with col_a:
        img_a, name_a = choose("A", val, sources, default, entry)
    with col_b:
        img_b, name_b = choose("B", val, sources, default, entry)
    if img_a is None or img_b is None:
        missing = " and ".join(s for s, x in (("A", img_a), ("B", img_b)) if x is None)
        st.info(f"Choose image {missing} to morph: upload a file, or pick from the held-out set.")
        return None
    if np.array_equal(img_a, img_b):
        st.warning("A and B are the same image, so every frame is the same: choose another image for B.", icon="⚠️")
    return morph_walks.Stops(eng.encode(np.stack([img_a, img_b])), [img_a, img_b], [name_a, name_b])


def preview(stops: morph_walks.Stops, frames: np.ndarray, mode: str) -> None:
    """The stops' images (originals) and a strip of frames; A → B has its originals at both ends of the strip."""
    st.subheader("Preview")
    pick = np.unique(np.linspace(0, len(frames) - 1, min(STRIP, len(frames))).round().astype(int))
    ts = [f"t = {i / (len(frames) - 1):.2f}" for i in pick]
    ends = ("t = 0 and t = 1 are the model's reconstructions of A and B, not the images themselves, which stand at "
            "both ends of the strip." if mode == "pair" else "the first and last are the model's reconstructions of "
            "the first and last stop, not the images themselves (above).")
    st.caption("Every frame is decoded from a code, the first and last too: " + ends)
    if mode == "pair":
        ui.show_row([stops.images[0], *frames[pick], stops.images[1]], ["A (original)", *ts, "B (original)"], 84)
        return
    ui.show_row(stops.images, [f"{i + 1}: {ui.short_name(n, 24)}" for i, n in enumerate(stops.names)], 84)
    ui.show_row(frames[pick], ts, 84)


# --- the page -------------------------------------------------------------------------------------
entry, eng = ui.model_page("Morph")  # the guard: stops with a link to Train when there is no model
st.caption(f"**{entry.config.describe()}** — encode images, walk the straight (or great-circle) path between "
           "their codes and decode every step. A smooth morph means the code space between them is meaningful.")
val = ui.held_out(entry)
codes = ui.held_out_codes(entry) if val is not None else None
sources = image_sources(val)
params = link_params(val, sources)
for side, src in links.restore(params).items():  # a new link's view
    if side in ("sa", "sb") and src == "upload":
        st.info(f"This link's image {side[1].upper()} was an upload, which a link cannot carry: upload it again.")
mode = st.radio("Animate", list(MODES), format_func=MODES.get, key="mph_mode", horizontal=True)
if mode == "pair":
    stops = pair(entry, val, sources)
elif mode == "walk":
    stops = morph_walks.waypoints(entry, eng, val, codes)
else:
    stops = morph_walks.random_walk(entry, val, codes)
play = playback(mode)
links.publish(params, link_values())
if stops is None:
    st.stop()

path = eng.interpolate(stops.codes, play.steps, play.method)
frames = eng.decode(path)
upscale = max(1, min(16, ANIM_PX // eng.image_shape[1]))
gif = gif_bytes(frames, play.fps, play.loop, play.bounce, upscale)
n_played = len(frames) + (len(frames) - 2 if play.bounce else 0)

preview(stops, frames, mode)
g1, g2 = st.columns([1, 1], gap="large")
names = [ui.short_name(n) for n in stops.names]
g1.image(gif, caption=" → ".join(names if len(names) <= 4 else [names[0], "…", names[-1]])
         + f" · {n_played} frames at {play.fps} fps" + (" · bounce" if play.bounce else "")
         + (" · loops" if play.loop else " · plays once"), width=ANIM_PX)
with g2:
    downloads(frames, gif, play, upscale, entry.version, FILE_NAMES[mode])
if codes is not None:
    st.plotly_chart(morph_walks.path_map(codes, val.labels, path, stops.codes), key="mph_map",
                    config={"displayModeBar": False})
