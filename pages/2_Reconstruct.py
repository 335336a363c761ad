"""Reconstruct: how well the active model compresses and restores images.

Originals above their reconstructions (random or chosen held-out images, or
the user's own upload), the held-out MSE / PSNR / SSIM with the compression
ratio, and the worst-reconstructed held-out images with per-pixel error heat
maps (reconstruction error as an anomaly score).
"""

import numpy as np
import streamlit as st

import ui
from aecore import metrics

ui.setup("Reconstruct")
entry = ui.model_picker()
entry, eng = ui.require_model(entry)

MAX_SHOWN = 12  # images per row
UPLOAD_TYPES = ["png", "jpg", "jpeg", "bmp", "gif", "webp"]

# A few stops of matplotlib's "inferno" (black -> purple -> orange -> pale yellow).
_HEAT_STOPS = np.array([[0, 0, 4], [66, 10, 104], [147, 38, 103], [221, 81, 58],
                        [252, 165, 10], [252, 255, 164]], np.float32) / 255.0


def heat(err: np.ndarray, vmax: float) -> np.ndarray:
    """(H, W) squared errors -> (H, W, 3) RGB in [0, 1]; 0 is black, `vmax` and above pale yellow."""
    t = np.clip(np.asarray(err, np.float32) / max(float(vmax), 1e-12), 0, 1) * (len(_HEAT_STOPS) - 1)
    lo = np.minimum(t.astype(int), len(_HEAT_STOPS) - 2)
    f = (t - lo)[..., None]
    return _HEAT_STOPS[lo] * (1 - f) + _HEAT_STOPS[lo + 1] * f


@st.cache_resource(show_spinner="Reconstructing the held-out set…", max_entries=4)
def held_out_reconstructions(version: str, _entry):
    """(reconstructions, per-image MSE) of the entry's held-out images, once per version of the model;
    None without them."""
    codes = ui.held_out_codes(_entry)
    if codes is None:
        return None
    entry, eng = ui.engine(_entry)
    val = ui.held_out(entry)
    recon = eng.decode(codes)
    return recon, metrics.per_image_error(val.images, recon)


st.title("Reconstruct")
st.caption(f"**{entry.config.describe()}** — every image is squeezed through the {eng.latent_dim}-number code "
           "and decoded again. What survives is what the model learned.")

val = ui.held_out(entry)
held = held_out_reconstructions(entry.version, entry) if val is not None else None
h, w, c = eng.image_shape

# --- headline numbers ------------------------------------------------------------
m = entry.metrics
if not all(k in m for k in ("mse", "psnr", "ssim")) and held is not None:
    m = metrics.summary(val.images, held[0])
pixels = h * w * c
cols = st.columns(4)
cols[0].metric("Held-out MSE", f"{m['mse']:.4f}" if "mse" in m else "—",
               help="Mean squared error per pixel (lower is better).")
cols[1].metric("Held-out PSNR", f"{m['psnr']:.1f} dB" if "psnr" in m else "—",
               help="Peak signal-to-noise ratio (higher is better).")
cols[2].metric("Held-out SSIM", f"{m['ssim']:.3f}" if "ssim" in m else "—",
               help="Structural similarity, 1 = identical.")
cols[3].metric("Compression", f"{pixels / eng.latent_dim:.1f}×",
               help=f"{h}×{w}×{c} = {pixels:,} pixel values → {eng.latent_dim} code numbers.")

# --- held-out images: random or chosen ------------------------------------------------
st.subheader("Held-out images")
if val is None:
    st.info(f"The held-out images of **{entry.config.dataset}** are not in memory (uploaded data from an earlier "
            "session), so this section and the worst reconstructions are skipped. Upload the same images on the "
            "Train page to see them, or try your own image below.")
else:
    idx = ui.pick_held_out(len(val), "rec", default_n=8, max_n=MAX_SHOWN)
    if idx is not None:
        recon, errs = held
        st.caption("Originals")
        ui.show_row(val.images[idx], [f"#{i}" for i in idx])
        st.caption("Reconstructions (per-image MSE)")
        ui.show_row(recon[idx], [f"MSE {errs[i]:.4f}" for i in idx])

# --- the user's own image -----------------------------------------------------------
st.subheader("Your image")
up = st.file_uploader("Upload an image (PNG, JPEG, BMP, GIF or WebP)", type=UPLOAD_TYPES, key="rec_upload",
                      help=f"Any size or colour mode: it is converted to {h}×{w} "
                           f"{'grayscale' if c == 1 else 'RGB'} like the training images.")
invert = st.checkbox("Invert colours", key="rec_invert",
                     help="For dark-on-light images (a digit drawn on white paper) when the training "
                          "images are light on dark, as MNIST's are.")
x = ui.read_upload(up, eng.image_shape)
if x is not None:
    x = 1.0 - x if invert else x
    r = eng.reconstruct(x[None])[0]
    err = metrics.mse(x, r)
    emap = metrics.error_map(x, r)
    with st.columns([1, 1])[0]:
        ui.show_row([x, r, heat(emap, max(float(emap.max()), 1e-6))],
                    [f"{up.name} ({h}×{w}{', inverted' if invert else ''})",
                     f"Reconstruction · MSE {err:.4f} · PSNR {metrics.psnr(x, r):.1f} dB", "Per-pixel error"],
                    width=140)
    if val is not None and not invert and (x.mean() > 0.5) != (val.images.mean() > 0.5):
        st.caption("This image is mostly light while the training images are mostly dark (or the other way "
                   "round): try **Invert colours**.")
    if held is not None:
        share = float((held[1] < err).mean())
        st.caption(f"Its error is higher than {share:.0%} of the held-out images' errors: "
                   + ("it looks unlike the training data to this model." if share > 0.95
                      else "it looks like the training data to this model."))

# --- worst reconstructions -------------------------------------------------------
st.subheader("Worst reconstructions")
if held is not None:
    recon, errs = held
    k = st.slider("Show the top k", 1, min(MAX_SHOWN, len(errs)), min(6, len(errs)), key="rec_k",
                  help="Held-out images ranked by reconstruction error, the largest first.") if len(errs) > 1 else 1
    worst = np.argsort(errs)[::-1][:k].tolist()
    maps = metrics.error_map(val.images[worst], recon[worst])
    vmax = max(float(maps.max()), 1e-6)
    st.caption(f"Reconstruction error as an anomaly score: the median held-out image scores {np.median(errs):.4f}, "
               f"the 99th percentile {np.percentile(errs, 99):.4f}. Heat maps share one scale "
               f"(black 0 → yellow {vmax:.3f} squared error).")
    ui.show_row(val.images[worst], [f"#{i}" for i in worst])
    ui.show_row(recon[worst], [f"MSE {errs[i]:.4f}" for i in worst])
    ui.show_row([heat(e, vmax) for e in maps], ["error map"] * k)
elif val is not None:
    st.info("The held-out set could not be reconstructed.")
