"""Latent Scatter: the held-out images as points in the code space.

The held-out set is encoded once (cached), projected to 2-D (as is for a
latent size of 2, else PCA, t-SNE or UMAP, cached per model, method and point
count) and drawn as a WebGL scatter coloured by label, by reconstruction error or by one code number
(`scatter_view`, which builds the figure: with more than ten labels, such as Olivetti's 40 people, no legend
but a searchable picker of labels to highlight, or to show alone), with the labels' names on the map or not,
and the images themselves drawn at a sample of the points on request (thumbnails). Hovering a point shows
its image (with its index, label and reconstruction error); clicking a point
(or typing its number) shows its image, its reconstruction and its nearest
neighbours in the full code space. A click on empty space pins the code there (`pins`: sent to the Latent Slider
or walked through in Morph). An uploaded image can be placed on the map too. For a VAE the chosen image's
posterior (its 1σ and 2σ ellipses, on a linear map) and the prior's circles are drawn, with decoded samples of it
and its KL to the prior (`aecore.posterior`, `scatter_view.add_posterior`): the picture of what the KL term does.

UMAP (umap-learn) is offered beside t-SNE: on 2,000 codes it is faster once compiled, keeps a little fewer of
each point's nearest neighbours, and its first use after a server start compiles its kernels for about 15 s
(bench/bench_projections.py; openTSNE was neither faster nor better than scikit-learn's t-SNE, so not offered).
Neither has an inverse: hovering empty space shows the nearest held-out point there.

Plotly's hover labels are plain text and cannot show an image, so a tiny inline
component (`latent_scatter_hover.js` beside this file, no build step) hooks the
chart's `plotly_hover` events in the browser and floats the point's picture,
sent along as PNG data URIs, next to the cursor.

The page reads top to bottom: the view's controls, the guards, the
projection, the chart, then the chosen point and the user's image.
"""

import contextlib
import importlib.util
from functools import partial
from pathlib import Path

import numpy as np
import plotly.graph_objects as go
import streamlit as st

import browser_decode
import pins
import scatter_view as sv
import ui
from aecore.axes import map_plane, map_position
from aecore.exports import MAX_POINTS, codes_csv, projector_bundle
from aecore.infer import NONLINEAR, project
from aecore.posterior import kl_to_prior, posterior, samples

DEFAULT_POINTS = 2000
TSNE_MAX = 2000  # t-SNE and UMAP take seconds per thousand points on 2 cores: cap what they see
MAX_NEIGHBOURS = 12
POSTERIOR_SAMPLES = 6
METHODS = {"pca": "PCA (fast, linear)", "tsne": "t-SNE (slow, keeps neighbourhoods)"}
if importlib.util.find_spec("umap") is not None:  # umap-learn (requirements.txt), optional
    METHODS["umap"] = "UMAP (faster than t-SNE once compiled)"
NAMES = {"pca": "PCA", "tsne": "t-SNE", "umap": "UMAP"}
POINT = "sct_point"  # the number input; a click on the chart sets it
TRACES = "sct_traces"  # held-out indices of each chart trace, for mapping clicks back to points
CHART = "sct_chart"
HOVER = "sct_hover"  # the hover component: its trigger "pin" is a click on the map
THUMB = 56  # hover image width in pixels (PNG; shown at twice that size, pixelated)
HOVER_JS = Path(__file__).with_name("latent_scatter_hover.js").read_text(encoding="utf-8")
hover_images = st.components.v2.component("latent_scatter_hover_images", js=HOVER_JS, isolate_styles=False)


# --- cached work -------------------------------------------------------------------------------
def subset(n_total: int, n: int) -> np.ndarray:
    """The held-out indices drawn: all of them, or a fixed random (seed 0) sorted sample of n."""
    if n >= n_total:
        return np.arange(n_total)
    return np.sort(np.random.default_rng(0).permutation(n_total)[:n])


@st.cache_data(show_spinner=False, max_entries=16)
def projected(version: str, method: str, n: int, _codes: np.ndarray) -> np.ndarray:
    """2-D positions of the drawn points (model `version`, `method`, `n` points): (n, 2)."""
    idx = subset(len(_codes), n)
    if method in NONLINEAR:
        return project(_codes[idx], method)
    return project(_codes, "pca")[idx]  # one PCA of all codes, so any point (and an upload) lands consistently


@st.cache_data(show_spinner=False, max_entries=8)
def thumbnails(version: str, n: int, _images: np.ndarray) -> list[str]:
    """PNG data URIs (THUMB px wide) of the `n` drawn held-out images of model `version`, in `subset` order."""
    return [ui.png_data_uri(_images[i], THUMB) for i in subset(len(_images), n)]


# --- the controls ------------------------------------------------------------------------------
def view_controls(N: int, D: int) -> tuple[int, str]:
    """How many points and which projection (for codes longer than 2); returns (points, method): PCA, or a
    non-linear one (`NONLINEAR`) on at most `TSNE_MAX` points."""
    c1, c2 = st.columns([1, 1])
    n = N
    if N > 10:
        n = c1.slider("Points shown", 10, N, min(DEFAULT_POINTS, N), step=10 if N >= 1000 else 1, key="sct_n",
                      help="A fixed random sample of the held-out set; WebGL keeps even thousands of points fluid.")
    if D <= 2:
        c2.caption(f"Latent size {D}: the code is plotted directly (x = z0"
                   + (", y = z1)." if D == 2 else ", y = 0)."))
        return n, "pca"
    method = c2.radio("Projection", list(METHODS), format_func=METHODS.get, key="sct_method", horizontal=True,
                      help="PCA: the two directions of largest spread (instant). t-SNE: keeps close codes close, "
                           f"computed on demand for at most {TSNE_MAX:,} points (cached per model and point count). "
                           "UMAP: much like t-SNE, faster (2,000 points: about 4 s against t-SNE's 6 s), keeps a "
                           "little fewer close codes close; its first use after the server starts compiles for about "
                           "15 s.")
    if method in NONLINEAR and n > TSNE_MAX:
        n = TSNE_MAX
        c2.caption(f"{NAMES[method]} runs on {TSNE_MAX:,} of the points.")
    return n, method


def display_controls(val, D: int) -> tuple[str, bool, bool]:
    """What colours the dots, whether the labels show (legend and names on the map) and the thumbnails;
    returns (colour mode, labels shown, thumbnails)."""
    modes = sv.colour_modes(val, D)
    if st.session_state.get("sct_colour") not in modes:  # e.g. "label" kept from a model with labels
        st.session_state.pop("sct_colour", None)
    c1, c2, c3 = st.columns([2, 1, 1], vertical_alignment="bottom")
    colour = c1.selectbox("Colour by", list(modes), format_func=modes.get, key="sct_colour",
                          help="The label, the image's reconstruction error (MSE), or one number of its code, on a "
                               "colour scale. Hover and click work the same in every mode.")
    labels = c2.toggle("Show labels", True, key="sct_show_labels", disabled=val.labels is None,
                       help="The legend, and each label's name where its points lie (the median position).")
    sprites = c3.toggle("Thumbnails", False, key="sct_sprites",
                        help=f"Draw the images themselves at up to {sv.SPRITES} of the points (a fixed sample), so "
                             "clusters read at a glance; they grow when you zoom in.")
    return colour, labels and val.labels is not None, sprites


def label_picker(val) -> tuple[list[int], bool]:
    """For more than `MANY_LABELS` labels (e.g. Olivetti's 40 people): a searchable picker of up to 10 labels to
    highlight, each in its own colour, and "Only these"; returns (the chosen class numbers, only them). Fewer
    labels, or none: ([], False)."""
    classes = [] if val.labels is None else [int(c) for c in np.unique(val.labels)]
    if len(classes) <= sv.MANY_LABELS:
        return [], False
    c1, c2 = st.columns([3, 1], vertical_alignment="bottom")
    chosen = c1.multiselect(f"Highlight labels ({len(classes)} in all; type to search)", classes, key="sct_labels",
                            format_func=lambda c: ui.class_name(val, c), max_selections=sv.MANY_LABELS,
                            placeholder="Choose or type labels",
                            help=f"Too many labels for a legend: the dots are coloured by label without one. Up to "
                                 f"{sv.MANY_LABELS} labels chosen here get clearly distinct colours, a legend and "
                                 "their names on the map; the others turn grey.")
    only = c2.checkbox("Only these", key="sct_only", disabled=not chosen,
                       help="Hide the labels not chosen (whatever colours the dots).")
    return chosen, bool(chosen) and only


def own_image(entry):
    """The "Place your own image on the map" expander: (the image for the model or None, the `ui.Upload`)."""
    with st.expander("Place your own image on the map"):
        up = ui.upload_image("Upload an image", "sct", entry)
        return (None if up is None else up.image), up


def on_select() -> None:
    """Chart callback: a clicked point becomes the 'Show point #' value (before that widget is drawn)."""
    i = sv.clicked_point(st.session_state.get(CHART), st.session_state.get(TRACES) or [])
    if i is not None:
        st.session_state[POINT] = i


def marked_point(N: int) -> int | None:
    """The point chosen by a click or typed, if it is one of this model's N held-out points."""
    chosen = st.session_state.get(POINT)
    if chosen is not None and not 0 <= int(chosen) < N:  # e.g. a number from another model's held-out set
        st.session_state[POINT] = chosen = None
    return None if chosen is None else int(chosen)


def point_controls(N: int, D: int) -> tuple[int | None, int]:
    """'Show point #' (a click on the chart fills it in) and how many nearest neighbours to show."""
    c1, c2 = st.columns([1, 1])
    point = c1.number_input("Show point #", min_value=0, max_value=N - 1, value=None, step=1, key=POINT,
                            placeholder=f"click a dot, or type 0..{N - 1}",
                            help="The held-out index of the image to inspect (the number in the hover label).")
    k = 1
    if N > 2:
        k = c2.slider("Nearest neighbours", 1, min(MAX_NEIGHBOURS, N - 1), min(6, N - 1), key="sct_k",
                      help=f"Closest codes by Euclidean distance in the full {D}-number code.")
    return (None if point is None else int(point)), k


# --- the display -------------------------------------------------------------------------------
def on_pin(version: str, plane, codes: np.ndarray, val) -> None:
    """Hover component callback: a click on the map's empty space pins the code there (`pins.from_click`)."""
    click = (st.session_state.get(HOVER) or {}).get("pin")
    pins.pin_safely(pins.from_click, version, click, plane, codes, val)


def show_chart(fig: go.Figure, traces: list[list[int]], val, pics: dict, title: str, axis, plane,
               decoder_id: str | None, method: str, on_click) -> None:
    """The chart (a click selects a point) and its hover images: one small PNG per held-out point on it,
    taken from `pics` (held-out index -> data URI) or made here for a marked point not among them; over empty
    space, the code under the cursor decoded in the browser (`plane`: `map_plane`'s (base, u, v), None for
    t-SNE and UMAP: then the nearest point's picture, with a word on why: `projection`). A click on empty space
    calls `on_click` (the component's "pin" trigger)."""
    fig.update_layout(height=620, margin=dict(l=10, r=10, t=30, b=10),
                      legend_title_text="label" if val.labels is not None else None,
                      xaxis_title=axis[0], yaxis_title=axis[1], hovermode="closest", clickmode="event+select",
                      title=dict(font=dict(size=14), text=title))
    st.session_state[TRACES] = traces
    st.plotly_chart(fig, key=CHART, on_select=on_select, selection_mode="points",
                    config={"displaylogo": False, "scrollZoom": True})
    shown = sorted({i for t in traces for i in t})
    pics.update({i: ui.png_data_uri(val.images[i], THUMB) for i in shown if i not in pics})
    hover_images(key=HOVER, on_pin_change=on_click, data={"chart": CHART, "width": THUMB, "traces": traces,
                                        "images": {str(i): pics[i] for i in shown},
                                        "captions": {str(i): f"#{i} · {ui.label_of(val, i)}" for i in shown},
                                        "spec_id": decoder_id,
                                        "projection": NAMES[method] if method in NONLINEAR else None,
                                        "plane": None if plane is None else {
                                            "base": plane[0].tolist(), "u": plane[1].tolist(),
                                            "v": plane[2].tolist(),
                                            "note": " · other principal coordinates at the mean"
                                                    if len(plane[0]) > 2 else ""}})


def with_neighbours(pair, pair_captions, val, nb, dist, heading: str) -> None:
    """An image and its reconstruction on the left; the held-out images with the closest codes on the right."""
    left, right = st.columns([1, 3], gap="large")
    with left:
        ui.show_row(pair, pair_captions)
    with right:
        st.caption(heading)
        ui.show_row(val.images[nb], [f"#{j} · {ui.label_of(val, int(j))} · d\u00a0{d:.2f}" for j, d in zip(nb, dist)],
                    width=84)


def point_details(i: int, val, codes: np.ndarray, errors: np.ndarray, eng, k: int, unplaced_of: int | None,
                  method: str) -> None:
    """Point #i: its image, its reconstruction and its k nearest neighbours in the full code space;
    `unplaced_of`: the number of points t-SNE or UMAP placed when #i is not among them (else None)."""
    label, D = ui.label_of(val, i), codes.shape[1]
    st.subheader(f"Point #{i} · {label}")
    if unplaced_of is not None:
        st.caption(f"#{i} is not among the {unplaced_of:,} points {NAMES[method]} placed, so it is not marked on "
                   "the chart.")
    recon = eng.decode(codes[i:i + 1])[0]
    nb = eng.nearest(codes, i, k)
    dist = np.linalg.norm(codes[nb] - codes[i], axis=1)
    same = (f" — {sum(ui.label_of(val, int(j)) == label for j in nb)} of {len(nb)} share its label"
            if val.labels is not None else "")
    with_neighbours([val.images[i], recon], [f"original #{i} · {label}", f"reconstruction · MSE {errors[i]:.4f}"],
                    val, nb, dist, f"Its {len(nb)} nearest neighbours in the {D}-number code (distances in code "
                                   f"space, not on the 2-D chart){same}:")


def posterior_row(eng, mean: np.ndarray, sigma: np.ndarray, method: str) -> None:
    """Inside a VAE: the chosen image's posterior mean decoded and `POSTERIOR_SAMPLES` codes drawn from
    N(mean, σ²) decoded, with its mean σ and its KL to the prior (the ellipses are on a linear map only)."""
    st.caption("**Posterior samples** — the encoder gives this image a Gaussian over codes, not one code: its "
               "mean decoded, then codes drawn from it" + (" (the red ellipses on the map: 1σ and 2σ; the grey "
               "circles are the prior N(0, I)'s)." if method not in NONLINEAR else f"; {NAMES[method]}'s map is "
               "not linear, so the posterior's ellipse cannot be drawn there: switch to PCA to see it."))
    draws = samples(mean, sigma, POSTERIOR_SAMPLES)
    ui.show_row(eng.decode(np.vstack([mean[None], draws])), ["posterior mean"] + [
        f"sample {j + 1} of N(μ, σ²)" for j in range(POSTERIOR_SAMPLES)], width=84)
    st.caption(f"Mean σ {float(sigma.mean()):.3f} · KL to the prior {kl_to_prior(mean, sigma):.3f} nats "
               "(0.5·Σ(σ² + μ² − 1 − log σ²)): the KL term pulls every image's ellipse towards the prior's circle; "
               "the reconstruction term keeps them small and apart. This is the picture of what the KL term does.")


def upload_details(mine: np.ndarray, name: str, z: np.ndarray, val, codes: np.ndarray, eng, k: int,
                   method: str) -> None:
    """The user's image: its reconstruction and the k held-out images with the closest codes (on the chart
    but for t-SNE and UMAP, which map only the points they were run on)."""
    st.subheader(f"Your image: {name}")
    if method in NONLINEAR:
        st.caption(f"{NAMES[method]} has no mapping for new points, so your image is not on the chart: switch to "
                   "PCA to see where it lands.")
    r = eng.decode(z[None])[0]
    nb = eng.nearest(np.vstack([codes, z[None]]), len(codes), k)
    dist = np.linalg.norm(codes[nb] - z, axis=1)
    with_neighbours([mine, r], [name, f"reconstruction · MSE {float(((r - mine) ** 2).mean()):.4f}"],
                    val, nb, dist, f"The {len(nb)} held-out images with the closest codes:")


# --- the exports (built on the first click, then cached per model, projection and point count) ----------
@st.cache_data(show_spinner=False, max_entries=8)
def csv_file(version: str, method: str, n: int, _codes: np.ndarray, _val, _xy: np.ndarray) -> bytes:
    """The `n` drawn points of model `version` as CSV: held-out index, label, code and `method`'s map position."""
    idx = subset(len(_codes), n)
    return codes_csv(_codes[idx], None if _val.labels is None else _val.labels[idx], _xy, _val.class_names,
                     indices=idx)


@st.cache_data(show_spinner=False, max_entries=4)
def projector_file(version: str, n: int, name: str, _codes: np.ndarray, _val) -> bytes:
    """An Embedding Projector zip of `n` held-out points of model `version` (`subset`'s sample of n)."""
    idx = subset(len(_codes), n)
    return projector_bundle(_codes[idx], _val.images[idx], None if _val.labels is None else _val.labels[idx],
                            _val.class_names, name=name, indices=idx)


def exports(entry, val, codes: np.ndarray, xy: np.ndarray, method: str, n: int) -> None:
    """Downloads of the drawn points, made when clicked: a CSV, and a TensorFlow Embedding Projector bundle
    (at most `MAX_POINTS` points; codes of at least 2 numbers)."""
    c1, c2 = st.columns(2)
    c1.download_button("Codes (CSV)", lambda: csv_file(entry.version, method, n, codes, val, xy), key="sct_csv",
                       file_name=f"latent_codes_{n}_{method if codes.shape[1] > 2 else 'raw'}.csv", mime="text/csv",
                       icon=":material/download:", on_click="ignore",
                       help=f"The {n:,} points on the chart: held-out index, label, code (z0..) and map position.")
    m = min(n, MAX_POINTS)
    c2.download_button("Embedding Projector bundle (zip)", key="sct_projector", on_click="ignore",
                       data=lambda: projector_file(entry.version, m, entry.config.describe(), codes, val),
                       file_name=f"embedding_projector_{m}.zip", mime="application/zip", icon=":material/download:",
                       disabled=codes.shape[1] < 2,
                       help=f"vectors.tsv, metadata.tsv, sprite.png and projector_config.json of {m:,} points for "
                            "TensorFlow's Embedding Projector (projector.tensorflow.org): unzip and serve the folder "
                            "with a standalone projector, or load the two TSVs there."
                            if codes.shape[1] >= 2 else "The Embedding Projector needs codes of at least 2 numbers.")


# --- the page ------------------------------------------------------------------------------------
entry, eng = ui.model_page("Latent Scatter")  # the guard: stops with a link to Train when there is no model
val = ui.held_out(entry)
if val is None:
    ui.held_out_missing(entry, ", so there is nothing to plot. Upload the same images on the Train page to see "
                               "them here; the Latent Slider and Morph pages (with your own images) still work for "
                               "this model.")
    st.stop()
codes = ui.held_out_codes(entry)
N, D = codes.shape
if N < 2:
    st.info(f"Expected at least 2 held-out images to plot, received {N}.")
    st.stop()
errors = ui.held_out_errors(entry)  # (the upload's "unlike the training data" check uses the same scores)
st.caption(f"**{entry.config.describe()}** — each dot is one of the {N:,} held-out images, placed by its "
           f"{D}-number code" + (" (drawn as it is)." if D <= 2 else ", projected to 2-D.")
           + " Hover a dot to see its image, index, label and reconstruction error; click it for its "
           "reconstruction and nearest neighbours. Hover empty space to see what the decoder makes of the code "
           "there" + (" (t-SNE and UMAP have no inverse: there the nearest point is shown)" if D > 2 else "")
           + ", and click it to pin that code.")
n, method = view_controls(N, D)
colour, show_labels, sprites = display_controls(val, D)
highlight, only = label_picker(val)
mine, up = own_image(entry)

# The work: the projection (t-SNE and UMAP with a spinner: they take seconds), the chosen point, the upload's code.
try:
    with st.spinner(f"Running {NAMES[method]} on {n:,} points (once per model and point count"
                    + ("; its first use after a server start compiles for about 15 s)…" if method == "umap" else ")…")
                    ) if method in NONLINEAR else contextlib.nullcontext():
        xy = projected(entry.version, method, n, codes)
except (ValueError, ImportError) as e:
    st.error(f"The {NAMES[method]} projection failed: {e}")
    st.stop()
idx = subset(N, n)
row_of = {int(i): r for r, i in enumerate(idx)}
chosen = marked_point(N)
mine_z = eng.encode(mine[None])[0] if mine is not None else None
linear = method not in NONLINEAR  # a map position is a code (PCA, raw): new points can be placed, space decoded

# The chart: the points (and their labels' names, thumbnails), the chosen point ringed, the upload as a star.
fig = go.Figure()
traces = sv.add_points(fig, val, errors, codes, idx, xy, colour, highlight, only, legend=show_labels)
pics = dict(zip(idx.tolist(), thumbnails(entry.version, n, val.images)))
ids, pos = sv.drawn_points(traces, row_of, xy)
if show_labels:
    sv.add_label_names(fig, val, ids, pos, highlight)
if sprites:
    sv.add_sprites(fig, ids, pos, pics)
post = None if chosen is None or not eng.is_vae else [a[0] for a in posterior(eng, val.images[chosen])]
if post is not None and linear:
    traces += sv.add_posterior(fig, post[0], post[1], codes)  # after the points: a click maps back to none
if chosen is not None and (linear or chosen in row_of):
    mark = map_position(codes[chosen], codes)[0] if linear else xy[row_of[chosen]]
    fig.add_trace(go.Scatter(
        x=[mark[0]], y=[mark[1]], mode="markers", name=f"#{chosen}", customdata=[chosen],
        hovertext=sv.hover_texts(val, errors, [chosen]), hovertemplate="%{hovertext}<extra></extra>",
        marker=dict(size=18, symbol="circle-open", color="#ff4b4b", line=dict(width=3))))
    traces.append([chosen])
if mine_z is not None and linear:
    mark = map_position(mine_z, codes)[0]
    fig.add_trace(go.Scatter(
        x=[mark[0]], y=[mark[1]], mode="markers", name="your image", hovertext=[f"{up.name} (your image)"],
        hovertemplate="%{hovertext}<extra></extra>",
        marker=dict(size=20, symbol="star", color="#ffd700", line=dict(width=1, color="black"))))
    traces.append([])  # not a held-out point: a click on it selects nothing
if pins.add_to_chart(fig, entry.version, codes, xy, row_of, linear):
    traces.append([])
if colour != "label" or val.labels is None:  # a colour bar on the right: the legend (marks only) above the plot
    fig.update_layout(legend=dict(orientation="h", yanchor="bottom", y=1.0, xanchor="right", x=1))
fig.update_layout(showlegend=show_labels or val.labels is None)
axis = (("PC 1", "PC 2") if method == "pca" else (f"{NAMES[method]} 1", f"{NAMES[method]} 2")) if D > 2 \
    else ("z0", "z1" if D == 2 else "")
decoder_id = browser_decode.decoder_loader(entry.version, eng.model.decoder, key="sct_decoder")
plane = map_plane(codes) if linear and D >= 2 else None
show_chart(fig, traces, val, pics, f"{n:,} of {N:,} held-out codes · {NAMES[method] if D > 2 else 'raw'}", axis,
           plane, decoder_id, method, partial(on_pin, entry.version, plane, codes, val))

point, k = point_controls(N, D)
if point is not None:
    unplaced = not linear and point not in row_of
    point_details(point, val, codes, errors, eng, k, unplaced_of=n if unplaced else None, method=method)
    pins.pin_button(entry.version, codes[point], ui.held_out_name(val, point), point, key="sct_pin_point")
    if post is not None and point == chosen:  # a VAE: the chosen image's posterior
        posterior_row(eng, *post, method)
if mine_z is not None:
    upload_details(mine, up.name, mine_z, val, codes, eng, k, method)
pins.section(entry.version, eng, plane is not None)
exports(entry, val, codes, xy, method, n)
