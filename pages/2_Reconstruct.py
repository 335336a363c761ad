"""Reconstruct: how well the active model compresses and restores images.

Originals above their reconstructions (random or chosen held-out images, or
the user's own upload), the held-out MSE / PSNR / SSIM with the compression
ratio, and the worst-reconstructed held-out images with per-pixel error heat
maps (reconstruction error as an anomaly score).

The page reads top to bottom: the headline numbers, then three sections, each
a function that draws its controls and what they ask for: the held-out images,
the user's image, the worst reconstructions.
"""

from typing import NamedTuple

import numpy as np
import streamlit as st

import ui
from aecore import metrics

MAX_SHOWN = 12  # images per row

# A few stops of matplotlib's "inferno" (black -> purple -> orange -> pale yellow).
_HEAT_STOPS = np.array([[0, 0, 4], [66, 10, 104], [147, 38, 103], [221, 81, 58],
                        [252, 165, 10], [252, 255, 164]], np.float32) / 255.0


def heat(err: np.ndarray, vmax: float) -> np.ndarray:
    """(H, W) squared errors -> (H, W, 3) RGB in [0, 1]; 0 is black, `vmax` and above pale yellow."""
    t = np.clip(np.asarray(err, np.float32) / max(float(vmax), 1e-12), 0, 1) * (len(_HEAT_STOPS) - 1)
    lo = np.minimum(t.astype(int), len(_HEAT_STOPS) - 2)
    f = (t - lo)[..., None]
    return _HEAT_STOPS[lo] * (1 - f) + _HEAT_STOPS[lo + 1] * f


class Reconstructions(NamedTuple):
    """The held-out set through the model: `images` (N, H, W, C) and each one's `errors` (MSE, (N,))."""
    images: np.ndarray
    errors: np.ndarray


@st.cache_resource(show_spinner="Reconstructing the held-out set…", max_entries=4)
def held_out_reconstructions(version: str, _entry) -> Reconstructions | None:
    """The entry's held-out images reconstructed, once per version of the model; None without them."""
    codes = ui.held_out_codes(_entry)
    if codes is None:
        return None
    entry, eng = ui.engine(_entry)
    val = ui.held_out(entry)
    recon = eng.decode(codes)
    return Reconstructions(recon, metrics.per_image_error(val.images, recon))


def headline(scores: dict, eng) -> None:
    """Held-out MSE, PSNR, SSIM and the compression ratio, as metrics in a row."""
    h, w, c = eng.image_shape
    pixels = h * w * c
    cols = st.columns(4)
    cols[0].metric("Held-out MSE", f"{scores['mse']:.4f}" if "mse" in scores else "—",
                   help="Mean squared error per pixel (lower is better).")
    cols[1].metric("Held-out PSNR", f"{scores['psnr']:.1f} dB" if "psnr" in scores else "—",
                   help="Peak signal-to-noise ratio (higher is better).")
    cols[2].metric("Held-out SSIM", f"{scores['ssim']:.3f}" if "ssim" in scores else "—",
                   help="Structural similarity, 1 = identical.")
    cols[3].metric("Compression", f"{pixels / eng.latent_dim:.1f}×",
                   help=f"{h}×{w}×{c} = {pixels:,} pixel values → {eng.latent_dim} code numbers.")


def held_out_images(val, held: Reconstructions) -> None:
    """Random or chosen held-out images above their reconstructions."""
    idx = ui.pick_held_out(len(val), "rec", default_n=8, max_n=MAX_SHOWN)
    if idx is None:
        return
    st.caption("Originals")
    ui.show_row(val.images[idx], [f"#{i}" for i in idx])
    st.caption("Reconstructions (per-image MSE)")
    ui.show_row(held.images[idx], [f"MSE {held.errors[i]:.4f}" for i in idx])


def your_image(entry, eng) -> None:
    """An uploaded image, its reconstruction and error map, and how its error ranks among the held-out ones."""
    h, w, _ = eng.image_shape
    up = ui.upload_image("Upload an image", "rec", entry)
    if up is None:
        return
    x = up.image
    r = eng.reconstruct(x[None])[0]
    emap = metrics.error_map(x, r)
    how = ", ".join([f"{h}×{w}"] + ["inverted"] * up.inverted + ["MNIST's preparation"] * up.mnist)
    st.caption(f"**{up.name}** as the model sees it ({how}), its reconstruction and the per-pixel error.")
    ui.show_row([x, r, heat(emap, max(float(emap.max()), 1e-6))],
                [ui.short_name(up.name), f"Reconstruction · MSE {up.error:.4f} · PSNR {metrics.psnr(x, r):.1f} dB",
                 "Per-pixel error"], width=140)
    if up.share is not None:
        st.caption(f"Its error is higher than {up.share:.0%} of the held-out images' errors"
                   + (" (see the warning above)." if up.share > 0.95 else ": it looks like the training data to this "
                                                                          "model."))


def worst(val, held: Reconstructions) -> None:
    """The top k held-out images by reconstruction error, with heat maps on one shared scale."""
    errs = held.errors
    k = st.slider("Show the top k", 1, min(MAX_SHOWN, len(errs)), min(6, len(errs)), key="rec_k",
                  help="Held-out images ranked by reconstruction error, the largest first.") if len(errs) > 1 else 1
    ranked = np.argsort(errs)[::-1][:k].tolist()
    maps = metrics.error_map(val.images[ranked], held.images[ranked])
    vmax = max(float(maps.max()), 1e-6)
    st.caption(f"Reconstruction error as an anomaly score: the median held-out image scores {np.median(errs):.4f}, "
               f"the 99th percentile {np.percentile(errs, 99):.4f}. Heat maps share one scale "
               f"(black 0 → yellow {vmax:.3f} squared error).")
    ui.show_row(val.images[ranked], [f"#{i}" for i in ranked])
    ui.show_row(held.images[ranked], [f"MSE {errs[i]:.4f}" for i in ranked])
    ui.show_row([heat(e, vmax) for e in maps], ["error map"] * k)


# --- the page -------------------------------------------------------------------------------
entry, eng = ui.model_page("Reconstruct")  # the guard: stops with a link to Train when there is no model
st.caption(f"**{entry.config.describe()}** — every image is squeezed through the {eng.latent_dim}-number code "
           "and decoded again. What survives is what the model learned.")
val = ui.held_out(entry)
held = held_out_reconstructions(entry.version, entry) if val is not None else None
scores = entry.metrics
if not all(k in scores for k in ("mse", "psnr", "ssim")) and held is not None:
    scores = metrics.summary(val.images, held.images)
headline(scores, eng)

st.subheader("Held-out images")
if val is None:
    ui.held_out_missing(entry, ", so this section and the worst reconstructions are skipped. Upload the same "
                               "images on the Train page to see them, or try your own image below.")
else:
    held_out_images(val, held)

st.subheader("Your image")
your_image(entry, eng)

st.subheader("Worst reconstructions")
if held is not None:
    worst(val, held)
elif val is not None:
    st.info("The held-out set could not be reconstructed.")
