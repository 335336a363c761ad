"""Latent Scatter: the held-out images as points in the code space.

The held-out set is encoded once (cached), projected to 2-D (as is for a
latent size of 2, else PCA or t-SNE, cached per model, method and point
count) and drawn as a WebGL scatter coloured by label. Hovering a point shows
its image (with its index, label and reconstruction error); clicking a point
(or typing its number) shows its image, its reconstruction and its nearest
neighbours in the full code space. An uploaded image can be placed on the map too.

Plotly's hover labels are plain text and cannot show an image, so a tiny inline
component (`HOVER_JS`, no build step) hooks the chart's `plotly_hover` events in
the browser and floats the point's picture, sent along as PNG data URIs, next
to the cursor.
"""

import numpy as np
import plotly.graph_objects as go
import streamlit as st
from plotly.colors import qualitative

import ui
from aecore.infer import pca, project

ui.setup("Latent Scatter")
entry = ui.model_picker()
entry, eng = ui.require_model(entry)

DEFAULT_POINTS = 2000
TSNE_MAX = 2000  # t-SNE is O(N log N) at best and slow on 2 cores: cap what it sees
MAX_NEIGHBOURS = 12
UPLOAD_TYPES = ["png", "jpg", "jpeg", "bmp", "gif", "webp"]
PALETTE = qualitative.Plotly + qualitative.Dark24 + qualitative.Light24
METHODS = {"pca": "PCA (fast, linear)", "tsne": "t-SNE (slow, keeps neighbourhoods)"}
POINT = "sct_point"  # the number input; a click on the chart sets it
TRACES = "sct_traces"  # held-out indices of each chart trace, for mapping clicks back to points
CHART = "sct_chart"
THUMB = 56  # hover image width in pixels (PNG; shown at twice that size, pixelated)

# Runs in the app page: finds the st.plotly_chart keyed `data.chart` (Streamlit gives a keyed element's
# container the class st-key-<key>), hooks its plotly_hover / plotly_unhover once per chart div (polling,
# so a re-created div is hooked again) and shows `data.images[held-out index]` in a floating panel.
HOVER_JS = """
export default function ({ data, parentElement }) {
  const doc = parentElement.ownerDocument || document;
  let panel = doc.getElementById("sct-hover-panel");
  if (!panel) {
    panel = doc.createElement("div");
    panel.id = "sct-hover-panel";
    panel.style.cssText = "position:fixed;z-index:100000;display:none;pointer-events:none;padding:6px;" +
      "border:1px solid rgba(128,128,128,.5);border-radius:6px;box-shadow:0 2px 10px rgba(0,0,0,.3);" +
      "font:12px sans-serif;text-align:center";
    panel.innerHTML = '<img alt="" style="display:block;margin:auto;image-rendering:pixelated">' +
      '<div style="margin-top:4px;white-space:nowrap"></div>';
    doc.body.appendChild(panel);
  }
  const img = panel.querySelector("img"), caption = panel.querySelector("div");
  const hide = () => { panel.style.display = "none"; };
  const place = (x, y) => {  // above the cursor (Plotly's own label sits beside the point), kept on screen
    if (x === undefined) return;
    const w = panel.offsetWidth, h = panel.offsetHeight, vw = doc.documentElement.clientWidth;
    const top = y - h - 18 >= 0 ? y - h - 18 : y + 18;
    panel.style.left = Math.max(4, Math.min(x - w / 2, vw - w - 4)) + "px";
    panel.style.top = top + "px";
  };
  const show = (gd, ev) => {
    const d = gd.__sctHover, pt = ev && ev.points && ev.points[0];
    if (!d || !pt) return hide();
    let id = pt.customdata;
    if (Array.isArray(id)) id = id[0];
    if (id === undefined || id === null) id = ((d.traces || [])[pt.curveNumber] || [])[pt.pointNumber];
    const src = id === undefined ? undefined : d.images[String(id)];
    if (!src) return hide();
    img.src = src;
    img.style.width = 2 * d.width + "px";
    caption.textContent = d.captions[String(id)] || "";
    const bg = getComputedStyle(gd.closest(".stApp") || doc.body);
    panel.style.background = bg.backgroundColor || "#fff";
    panel.style.color = bg.color || "#31333f";
    panel.style.display = "block";
    const e = ev.event && ev.event.clientX !== undefined ? ev.event : gd.__sctMouse || {};
    place(e.clientX, e.clientY);
  };
  const hook = () => {
    const gd = doc.querySelector("." + CSS.escape("st-key-" + data.chart) + " .js-plotly-plot");
    if (!gd || typeof gd.on !== "function") return;
    gd.__sctHover = data;  // the latest points, read at hover time
    if (gd.__sctHooked) return;
    gd.__sctHooked = true;
    gd.on("plotly_hover", (ev) => show(gd, ev));
    gd.on("plotly_unhover", hide);
    gd.addEventListener("mouseleave", hide);
    gd.addEventListener("mousemove", (e) => {
      gd.__sctMouse = { clientX: e.clientX, clientY: e.clientY };
      if (panel.style.display !== "none") place(e.clientX, e.clientY);
    });
  };
  hook();
  const timer = setInterval(hook, 500);
  return () => { clearInterval(timer); hide(); };
}
"""
hover_images = st.components.v2.component("latent_scatter_hover_images", js=HOVER_JS, isolate_styles=False)


def subset(n_total: int, n: int) -> np.ndarray:
    """The held-out indices drawn: all of them, or a fixed random (seed 0) sorted sample of n."""
    if n >= n_total:
        return np.arange(n_total)
    return np.sort(np.random.default_rng(0).permutation(n_total)[:n])


@st.cache_data(show_spinner=False, max_entries=16)
def projected(version: str, method: str, n: int, _codes: np.ndarray) -> np.ndarray:
    """2-D positions of the drawn points (model `version`, `method`, `n` points): (n, 2)."""
    idx = subset(len(_codes), n)
    if method == "tsne":
        return project(_codes[idx], "tsne")
    return project(_codes, "pca")[idx]  # one PCA of all codes, so any point (and an upload) lands consistently


@st.cache_data(show_spinner=False, max_entries=8)
def thumbnails(version: str, n: int, _images: np.ndarray) -> list[str]:
    """PNG data URIs (THUMB px wide) of the `n` drawn held-out images of model `version`, in `subset` order."""
    return [ui.png_data_uri(_images[i], THUMB) for i in subset(len(_images), n)]


@st.cache_data(show_spinner=False, max_entries=8)
def held_out_errors(version: str, _images: np.ndarray, _eng) -> np.ndarray:
    """Per-image reconstruction MSE of the held-out images of model `version`."""
    return _eng.errors(_images)


def place(z: np.ndarray, codes: np.ndarray) -> np.ndarray:
    """Where codes z (N, D) land in the PCA / raw view of `codes` (not defined for t-SNE)."""
    z = np.atleast_2d(z)
    if z.shape[1] <= 2:
        return project(np.vstack([z, z]), "pca")[: len(z)]  # D <= 2: as is (padded for D == 1)
    mean, comps, _ = pca(codes, 2)
    return (z - mean) @ comps.T


def on_select() -> None:
    """Chart callback: a clicked point becomes the 'Show point #' value (before that widget is drawn)."""
    event = st.session_state.get(CHART) or {}
    points = (event.get("selection") or {}).get("points") or []
    if not points:
        return
    p = points[0]
    i = p.get("customdata")
    if isinstance(i, (list, tuple)):
        i = i[0] if i else None
    if i is None:
        traces = st.session_state.get(TRACES) or []
        c, k = p.get("curve_number"), p.get("point_index", p.get("point_number"))
        if c is None or k is None or not (0 <= c < len(traces)) or not (0 <= k < len(traces[c])):
            return
        i = traces[c][k]
    st.session_state[POINT] = int(i)


st.title("Latent Scatter")
val = ui.held_out(entry)
if val is None:
    st.info(f"The held-out images of **{entry.config.dataset}** are not in memory (uploaded data from an earlier "
            "session), so there is nothing to plot. Upload the same images on the Train page to see them here; "
            "the Latent Slider and Morph pages (with your own images) still work for this model.")
    st.stop()
codes = ui.held_out_codes(entry)
N, D = codes.shape
if N < 2:
    st.info(f"Expected at least 2 held-out images to plot, received {N}.")
    st.stop()
errors = held_out_errors(entry.version, val.images, eng)
has_labels = val.labels is not None
names = list(val.class_names)


def label_of(i: int) -> str:
    if not has_labels:
        return "no label"
    c = int(val.labels[i])
    return names[c] if c < len(names) else str(c)


st.caption(f"**{entry.config.describe()}** — each dot is one of the {N:,} held-out images, placed by its "
           f"{D}-number code" + (" (drawn as it is)." if D <= 2 else ", projected to 2-D.")
           + " Hover a dot to see its image, index, label and reconstruction error; click it for its "
           "reconstruction and nearest neighbours.")

# --- controls -------------------------------------------------------------------------
c1, c2 = st.columns([1, 1])
if N > 10:
    n = c1.slider("Points shown", 10, N, min(DEFAULT_POINTS, N), step=10 if N >= 1000 else 1, key="sct_n",
                  help="A fixed random sample of the held-out set; WebGL keeps even thousands of points fluid.")
else:
    n = N
method = "pca"
if D > 2:
    method = c2.radio("Projection", list(METHODS), format_func=METHODS.get, key="sct_method", horizontal=True,
                      help="PCA: the two directions of largest spread (instant). t-SNE: keeps close codes close, "
                           f"computed on demand for at most {TSNE_MAX:,} points (cached per model and point count).")
    if method == "tsne" and n > TSNE_MAX:
        n = TSNE_MAX
        c2.caption(f"t-SNE runs on {TSNE_MAX:,} of the points.")
else:
    c2.caption(f"Latent size {D}: the code is plotted directly (x = z0" + (", y = z1)." if D == 2 else ", y = 0)."))

with st.expander("Place your own image on the map"):
    h, w, c = eng.image_shape
    up = st.file_uploader("Upload an image (PNG, JPEG, BMP, GIF or WebP)", type=UPLOAD_TYPES, key="sct_upload",
                          help=f"Converted to {h}×{w} {'grayscale' if c == 1 else 'RGB'} like the training images.")
    mine = ui.read_upload(up, eng.image_shape)

# --- the work ------------------------------------------------------------------------
try:
    if method == "tsne":
        with st.spinner(f"Running t-SNE on {n:,} points (once per model and point count)…"):
            xy = projected(entry.version, method, n, codes)
    else:
        xy = projected(entry.version, method, n, codes)
except (ValueError, ImportError) as e:
    st.error(f"The {method.upper()} projection failed: {e}")
    st.stop()
idx = subset(N, n)
row_of = {int(i): r for r, i in enumerate(idx)}
mine_z = eng.encode(mine[None])[0] if mine is not None else None

# --- the chart -----------------------------------------------------------------------
fig = go.Figure()
traces: list[list[int]] = []


def hover(ids) -> list[str]:
    return [f"#{i} · {label_of(i)} · recon MSE {errors[i]:.4f}" for i in ids]


if has_labels:
    for cls in np.unique(val.labels[idx]):
        rows = np.flatnonzero(val.labels[idx] == cls)
        ids = idx[rows]
        fig.add_trace(go.Scattergl(
            x=xy[rows, 0], y=xy[rows, 1], mode="markers", name=label_of(int(ids[0])), customdata=ids,
            hovertext=hover(ids), hovertemplate="%{hovertext}<extra></extra>",
            marker=dict(size=6, opacity=0.8, color=PALETTE[int(cls) % len(PALETTE)])))
        traces.append(ids.tolist())
else:
    fig.add_trace(go.Scattergl(
        x=xy[:, 0], y=xy[:, 1], mode="markers", name="held-out", customdata=idx, hovertext=hover(idx),
        hovertemplate="%{hovertext}<extra></extra>",
        marker=dict(size=6, opacity=0.8, color=errors[idx], colorscale="Viridis", showscale=True,
                    colorbar=dict(title="recon MSE"))))
    traces.append(idx.tolist())

chosen = st.session_state.get(POINT)
if chosen is not None and not 0 <= int(chosen) < N:  # e.g. a number from another model's held-out set
    st.session_state[POINT] = chosen = None
if chosen is not None:
    chosen = int(chosen)
    if method != "tsne":
        pos = place(codes[chosen], codes)[0]
    elif chosen in row_of:
        pos = xy[row_of[chosen]]
    else:
        pos = None
    if pos is not None:
        fig.add_trace(go.Scatter(
            x=[pos[0]], y=[pos[1]], mode="markers", name=f"#{chosen}", customdata=[chosen],
            hovertext=hover([chosen]), hovertemplate="%{hovertext}<extra></extra>",
            marker=dict(size=18, symbol="circle-open", color="#ff4b4b", line=dict(width=3))))
        traces.append([chosen])
if mine_z is not None and method != "tsne":
    pos = place(mine_z, codes)[0]
    fig.add_trace(go.Scatter(
        x=[pos[0]], y=[pos[1]], mode="markers", name="your image", hovertext=[f"{up.name} (your image)"],
        hovertemplate="%{hovertext}<extra></extra>",
        marker=dict(size=20, symbol="star", color="#ffd700", line=dict(width=1, color="black"))))
    traces.append([])  # not a held-out point: a click on it selects nothing

axis = {"pca": ("PC 1", "PC 2"), "tsne": ("t-SNE 1", "t-SNE 2")}[method] if D > 2 else ("z0", "z1" if D == 2 else "")
fig.update_layout(height=620, margin=dict(l=10, r=10, t=30, b=10), legend_title_text="label" if has_labels else None,
                  xaxis_title=axis[0], yaxis_title=axis[1], hovermode="closest", clickmode="event+select",
                  title=dict(font=dict(size=14), text=f"{n:,} of {N:,} held-out codes · "
                                                           f"{METHODS[method].split(' ')[0] if D > 2 else 'raw'}"))
st.session_state[TRACES] = traces
st.plotly_chart(fig, key=CHART, on_select=on_select, selection_mode="points",
                config={"displaylogo": False, "scrollZoom": True})

# The hover images: one small PNG per held-out point on the chart (the dots and a marked point), by index.
shown = sorted({i for t in traces for i in t})
pics = dict(zip(idx.tolist(), thumbnails(entry.version, n, val.images)))
pics.update({i: ui.png_data_uri(val.images[i], THUMB) for i in shown if i not in pics})
hover_images(key="sct_hover", data={"chart": CHART, "width": THUMB, "traces": traces,
                                    "images": {str(i): pics[i] for i in shown},
                                    "captions": {str(i): f"#{i} · {label_of(i)}" for i in shown}})

# --- the chosen point: original, reconstruction, neighbours --------------------------------------
c1, c2 = st.columns([1, 1])
point = c1.number_input("Show point #", min_value=0, max_value=N - 1, value=None, step=1, key=POINT,
                        placeholder=f"click a dot, or type 0..{N - 1}",
                        help="The held-out index of the image to inspect (the number in the hover label).")
k = 1
if N > 2:
    k = c2.slider("Nearest neighbours", 1, min(MAX_NEIGHBOURS, N - 1), min(6, N - 1), key="sct_k",
                  help=f"Closest codes by Euclidean distance in the full {D}-number code.")
if point is not None:
    i = int(point)
    recon = eng.decode(codes[i:i + 1])[0]
    st.subheader(f"Point #{i} · {label_of(i)}")
    if method == "tsne" and i not in row_of:
        st.caption(f"#{i} is not among the {n:,} points t-SNE placed, so it is not marked on the chart.")
    left, right = st.columns([1, 3], gap="large")
    with left:
        ui.show_row([val.images[i], recon], [f"original #{i} · {label_of(i)}", f"reconstruction · MSE {errors[i]:.4f}"])
    nb = eng.nearest(codes, i, k)
    dist = np.linalg.norm(codes[nb] - codes[i], axis=1)
    same = f" — {sum(label_of(int(j)) == label_of(i) for j in nb)} of {len(nb)} share its label" if has_labels else ""
    with right:
        st.caption(f"Its {len(nb)} nearest neighbours in the {D}-number code (distances in code space, "
                   f"not on the 2-D chart){same}:")
        ui.show_row(val.images[nb], [f"#{j} · {label_of(int(j))} · d {d:.2f}" for j, d in zip(nb, dist)], width=84)

if mine_z is not None:
    st.subheader(f"Your image: {up.name}")
    if method == "tsne":
        st.caption("t-SNE has no mapping for new points, so your image is not on the chart: switch to PCA to see "
                   "where it lands.")
    r = eng.decode(mine_z[None])[0]
    nb = eng.nearest(np.vstack([codes, mine_z[None]]), N, k)
    dist = np.linalg.norm(codes[nb] - mine_z, axis=1)
    left, right = st.columns([1, 3], gap="large")
    with left:
        ui.show_row([mine, r], [f"{up.name}", f"reconstruction · MSE {float(((r - mine) ** 2).mean()):.4f}"])
    with right:
        st.caption(f"The {len(nb)} held-out images with the closest codes:")
        ui.show_row(val.images[nb], [f"#{j} · {label_of(int(j))} · d {d:.2f}" for j, d in zip(nb, dist)], width=84)
