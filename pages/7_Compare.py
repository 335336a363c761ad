"""Compare: 2 to 4 models trained on the same data, side by side, on the same held-out images.

The numbers come from `aecore.compare` (as `python -m aecore compare KEY KEY ...` prints them): held-out MSE,
PSNR and SSIM, a VAE's KL per image and per code dimension (active and collapsed dimensions), 5-NN label
accuracy in the code space, and how evenly the decoded images change along interpolations. Then each model's
random samples, their scatters in the same label colours, their loss curves overlaid and the same held-out
images reconstructed by each.

Models compare when they were trained on the same dataset with the same limit and held-out share
(`aecore.compare.split_key`), so none of them trained on the images measured. The measures use at most
`aecore.compare.MAX_IMAGES` held-out images and run once per model version and data (cached).

The page reads top to bottom: the choice of models, the guards, the measures, the display.
"""

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import streamlit as st
from plotly.subplots import make_subplots

import training_panel
import ui
from aecore import compare
from aecore.cache import CacheError, Entry
from aecore.infer import project
from aecore.media import TABLEAU10, label_colour

CHOSEN = "cmp_models"  # the multiselect
SEEN = "cmp_group_seen"  # session state: the data whose models the multiselect was last filled for
MODEL_COLOURS = ("#1f77b4", "#d62728", "#2ca02c", "#9467bd")  # one per compared model, in the curves and bars
ACTIVE_BAR, COLLAPSED_BAR = TABLEAU10[0], TABLEAU10[9]
MANY_LABELS = 10  # more labels than this: no legend on the scatters
GRID_DEFAULT, GRID_MAX = 8, 12


# --- cached work -------------------------------------------------------------------------------------
@st.cache_data(show_spinner=False, max_entries=32)
def measured(version: str, split: tuple, _eng, _images: np.ndarray, _labels) -> compare.Measures:
    """`compare.measure` of model `version` on the held-out images of `split` (`compare.evaluation_indices`)."""
    return compare.measure(_eng, _images, _labels)


@st.cache_data(show_spinner=False, max_entries=32)
def projected(version: str, split: tuple, _codes: np.ndarray) -> np.ndarray:
    """2-D positions (PCA, or the code itself for 2 dimensions) of model `version`'s measured codes."""
    return project(_codes, "pca")


def short(entry: Entry) -> str:
    """A compared model in a few words: 'dense VAE, latent 2 · 26c2c0'."""
    return f"{entry.config.describe().rsplit(',', 1)[0]} · {entry.key[:6]}"


# --- the controls ------------------------------------------------------------------------------------
def choose_models(entries: list[Entry], active: Entry | None) -> list[Entry]:
    """The data (when more than one dataset has 2 or more models) and 2 to 4 of its models; the page stops
    with what is needed when fewer than 2 models share a dataset. Returns the chosen entries (maybe fewer than 2:
    the guard says so)."""
    groups = compare.comparable_groups(entries)
    if not groups:
        st.info(f"Compare needs at least {compare.MIN_MODELS} models trained on the same dataset (with the same "
                f"image limit and held-out share); this workspace sees {len(entries)} model"
                f"{'' if len(entries) == 1 else 's'}"
                + (f" ({'; '.join(sorted({compare.split_label(e.config) for e in entries}))})" if entries else "")
                + ". Train another kind or code size on the **Train** page, then compare them here.")
        st.stop()
    ids = {repr(k): k for k in groups}
    first = next((i for i, k in enumerate(groups) if active is not None and k == compare.split_key(active.config)), 0)
    gid = list(ids)[first]
    if len(ids) > 1:
        gid = st.selectbox("Dataset", list(ids), index=first, key="cmp_dataset",
                           format_func=lambda g: f"{compare.split_label(groups[ids[g]][0].config)} "
                                                 f"({len(groups[ids[g]])} models)",
                           help="Only models trained on the same images, with the same held-out ones, compare.")
    group = groups[ids[gid]]
    by_key = {e.key: e for e in group}
    if st.session_state.get(SEEN) != gid:  # new data: the active model (if it is one of them) and the newest other
        keys = ([active.key] if active is not None and active.key in by_key else []) + list(by_key)
        st.session_state[CHOSEN] = list(dict.fromkeys(keys))[:compare.MIN_MODELS]
        st.session_state[SEEN] = gid
    else:  # keep the choice, less models deleted since
        st.session_state[CHOSEN] = [k for k in st.session_state.get(CHOSEN, []) if k in by_key]
    chosen = st.multiselect(f"Models to compare ({compare.MIN_MODELS} to {compare.MAX_MODELS})", list(by_key),
                            key=CHOSEN, max_selections=compare.MAX_MODELS, format_func=lambda k: by_key[k].label(),
                            help="Measured on the same held-out images, none of which these models trained on.")
    return [by_key[k] for k in chosen]


def load(chosen: list[Entry]) -> list[tuple[Entry, object]]:
    """Each chosen entry with its model and `Engine`; stops the page, saying which, when one cannot be loaded."""
    loaded = []
    for e in chosen:
        try:
            loaded.append(ui.engine(e))
        except CacheError as err:
            st.error(f"{e.label()} cannot be loaded, so it cannot be compared: {err}")
            st.stop()
    return loaded


# --- the display ---------------------------------------------------------------------------------------
def show_table(loaded, results) -> None:
    rows = [compare.display_row(compare.table_row(e, m)) for (e, _), m in zip(loaded, results)]
    st.dataframe(pd.DataFrame(rows), hide_index=True)
    st.caption(f"Measured on {results[0].images:,} held-out images. KL in nats per image (VAEs only); a dimension is "
               f"active when its KL exceeds {compare.ACTIVE_NATS} nats. {compare.KNN_K}-NN accuracy: half the "
               f"held-out codes label the other half by their {compare.KNN_K} nearest codes. Steps: mean pixel "
               f"change between consecutive frames of {compare.PAIRS} interpolations ({compare.STEPS} frames) "
               "between held-out pairs, and each path's largest step (near the mean: it glides; far above: it jumps).")


def show_kl(loaded, results) -> None:
    vaes = [(e, m) for (e, _), m in zip(loaded, results) if m.kl_per_dim is not None]
    st.subheader("KL per code dimension")
    if not vaes:
        st.caption("None of these models is a VAE: only a VAE's code has a KL divergence from a prior.")
        return
    for col, (e, m) in zip(st.columns(len(loaded)), vaes):  # as wide as a scatter below
        kl = np.maximum(m.kl_per_dim, 1e-4)  # a log axis: a collapsed dimension's KL may be 0
        fig = go.Figure(go.Bar(x=[f"z{i}" for i in range(len(kl))], y=kl,
                               marker_color=[ACTIVE_BAR if v > compare.ACTIVE_NATS else COLLAPSED_BAR
                                             for v in m.kl_per_dim],
                               hovertemplate="%{x}: %{customdata:.4f} nats<extra></extra>", customdata=m.kl_per_dim))
        fig.add_hline(y=compare.ACTIVE_NATS, line_dash="dot")
        fig.add_annotation(x=1, xref="paper", xanchor="right", y=np.log10(compare.ACTIVE_NATS), yanchor="bottom",
                           text="active above", showarrow=False)  # a log axis places annotations by log10(y)
        fig.update_layout(height=280, margin=dict(l=10, r=10, t=40, b=10), yaxis=dict(type="log", dtick=1),
                          yaxis_title="nats",
                          title=dict(font=dict(size=13), text=f"{short(e)}: {m.active} of {len(kl)} active"))
        col.plotly_chart(fig, key=f"cmp_kl_{e.key}")
        if m.collapsed:
            col.caption(f"Collapsed (grey): {', '.join(f'z{i}' for i in m.collapsed)}: they carry nothing about "
                        "the image, the decoder ignores them.")


def show_separation_and_smoothness(loaded, results, n_classes: int | None) -> None:
    st.subheader("Class separation and smoothness")
    names = [short(e) for e, _ in loaded]
    fig = make_subplots(rows=1, cols=2, subplot_titles=[f"{compare.KNN_K}-NN label accuracy in the code space",
                                                        "pixel change per interpolation step"])
    if n_classes:
        fig.add_trace(go.Bar(x=names, y=[m.knn_accuracy for m in results], marker_color=MODEL_COLOURS[:len(names)],
                             showlegend=False, texttemplate="%{y:.0%}"), row=1, col=1)
        fig.add_hline(y=1 / n_classes, line_dash="dot", annotation_text="chance", row=1, col=1)
        fig.update_yaxes(range=[0, 1], tickformat=".0%", row=1, col=1)
    for name, key, colour in (("mean step", "step_mean", TABLEAU10[0]), ("largest step", "step_max", TABLEAU10[1])):
        fig.add_trace(go.Bar(x=names, y=[getattr(m, key) for m in results], name=name, marker_color=colour),
                      row=1, col=2)
    fig.update_layout(height=320, margin=dict(l=10, r=10, t=40, b=10), barmode="group")
    st.plotly_chart(fig, key="cmp_bars")
    if not n_classes:
        st.caption("These images have no labels, so there is no kNN accuracy.")


def show_samples(loaded, results) -> None:
    st.subheader("Samples")
    st.caption("Random codes decoded: from a VAE's N(0, I) prior; for other kinds from a Gaussian fitted to their "
               "held-out codes.")
    for (e, _), m in zip(loaded, results):
        st.markdown(f"**{short(e)}**")
        ui.show_row(m.samples, width=72)


def show_scatters(loaded, results, split, labels, val) -> None:
    st.subheader("Held-out codes")
    classes = [] if labels is None else [int(c) for c in np.unique(val.labels)]
    for i, (col, (e, _), m) in enumerate(zip(st.columns(len(loaded)), loaded, results)):
        xy = projected(e.version, split, m.codes)
        fig = go.Figure()
        groups = [(None, np.arange(len(xy)))] if labels is None else [(c, np.flatnonzero(labels == c))
                                                                      for c in classes]
        for c, rows in groups:
            fig.add_trace(go.Scattergl(
                x=xy[rows, 0], y=xy[rows, 1], mode="markers", name="held-out" if c is None else ui.class_name(val, c),
                legendgroup=str(c), showlegend=i == 0 and len(classes) <= MANY_LABELS,
                marker=dict(size=6, opacity=0.8, color=TABLEAU10[0] if c is None else label_colour(classes.index(c)))))
        fig.update_layout(height=360, margin=dict(l=10, r=10, t=40, b=10), title=dict(font=dict(size=13), text=(
            short(e) + (" (PCA)" if m.codes.shape[1] > 2 else ""))), legend=dict(orientation="h", y=-0.1))
        col.plotly_chart(fig, key=f"cmp_scatter_{e.key}")


def show_losses(loaded) -> None:
    st.subheader("Loss curves")
    fig = make_subplots(rows=1, cols=2, subplot_titles=["loss (per pixel)", "reconstruction"])
    for colour, (e, _) in zip(MODEL_COLOURS, loaded):
        for col, name in ((1, "loss"), (2, "recon")):
            for prefix, part, dash, _ in training_panel.CURVES:
                ys = e.history.get(prefix + name, [])
                fig.add_trace(go.Scatter(x=list(range(1, len(ys) + 1)), y=ys, mode="lines", name=f"{short(e)} {part}",
                                         legendgroup=e.key, showlegend=col == 1, line=dict(color=colour, dash=dash)),
                              row=1, col=col)
    epochs = max((len(e.history.get("loss", [])) for e, _ in loaded), default=1)
    fig.update_xaxes(title_text="epoch", tickmode="linear", tick0=0, dtick=training_panel.epoch_step(epochs))
    fig.update_layout(height=340, margin=dict(l=10, r=10, t=30, b=10))
    st.plotly_chart(fig, key="cmp_losses")
    st.caption("Solid: training; dotted: held-out. Every kind's loss is per pixel, so the curves share a scale "
               "(a VAE's includes its weighted KL).")


def show_grid(loaded, val) -> None:
    st.subheader("Reconstructions")
    idx = ui.pick_held_out(len(val), "cmp_grid", GRID_DEFAULT, GRID_MAX)
    if idx is None:
        return
    x = val.images[idx]
    st.markdown("**Originals**")
    ui.show_row(x, [f"#{i} · {ui.label_of(val, i)}" for i in idx], width=84)
    for e, eng in loaded:
        r = eng.reconstruct(x)
        st.markdown(f"**{short(e)}**")
        ui.show_row(r, [f"MSE {v:.4f}" for v in ((r - x) ** 2).reshape(len(x), -1).mean(axis=1)], width=84)


# --- the page ------------------------------------------------------------------------------------------
ui.setup("Compare")
st.title("Compare")
active = ui.model_picker()
chosen = choose_models(ui.list_all(warn=False)[0], active)

if len(chosen) < compare.MIN_MODELS:
    st.info(f"Choose at least {compare.MIN_MODELS} models to compare.")
    st.stop()
val = ui.held_out(chosen[0])
if val is None:
    ui.held_out_missing(chosen[0], ", so these models cannot be measured side by side.")
    st.stop()
loaded = load(chosen)

split = compare.split_key(chosen[0].config)
idx = compare.evaluation_indices(len(val))
labels = None if val.labels is None else val.labels[idx]
results = []
for e, eng in loaded:
    with st.spinner(f"Measuring {short(e)} (once per model)…"):
        try:
            results.append(measured(e.version, split, eng, val.images[idx], labels))
        except ValueError as err:
            st.error(f"{e.label()} could not be measured: {err}")
            st.stop()

show_table(loaded, results)
show_kl(loaded, results)
show_separation_and_smoothness(loaded, results, None if labels is None else len(np.unique(val.labels)))
show_samples(loaded, results)
show_scatters(loaded, results, split, labels, val)
show_losses(loaded)
show_grid(loaded, val)
