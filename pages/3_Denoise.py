"""Denoise: corrupt images with a chosen noise, then let the active model clean them.

Clean, noisy and denoised images side by side, with the PSNR and SSIM of the
noisy and of the denoised image against the clean one, and the denoised
result as a PNG download. Any model works; a denoising AE (kind "dae") was
trained for exactly this.

The page reads top to bottom: the clean images (held-out or uploaded), the
noise, a guard, then the corruption, the scores and the pictures.
"""

import numpy as np
import streamlit as st

import ui
from aecore import metrics
from aecore.config import NOISE_TYPES
from aecore.models import add_noise

MAX_SHOWN = 6  # held-out samples at once
LEVEL_HELP = {"gaussian": "σ of the Gaussian noise added to every pixel.",
              "gaussian_hetero": "Each pixel gets its own σ, uniform in [0, 2 × level].",
              "salt_pepper": "Share of pixels set to black or white.",
              "masking": "Share of pixels set to black."}


def held_out_images(entry) -> tuple[np.ndarray | None, list[str]]:
    """Random or chosen held-out images and their names ("#index"); None when there are none to show."""
    val = ui.held_out(entry)
    if val is None:
        ui.held_out_missing(entry, ". Upload an image instead, or upload the same data again on the Train page.")
        return None, []
    idx = ui.pick_held_out(len(val), "dn", default_n=3, max_n=MAX_SHOWN)
    return (None, []) if idx is None else (val.images[idx], [f"#{i}" for i in idx])


def uploaded_image(entry) -> tuple[np.ndarray | None, list[str]]:
    """The user's image, prepared as `ui.upload_image` does on every page, as a batch of one and its name;
    None without a usable file."""
    up = ui.upload_image("Upload an image", "dn", entry,
                         note="Set the level to 0 to denoise an image that is already noisy.")
    if up is None:
        if st.session_state.get("dn_upload") is None:  # no file (an unusable one has its error shown)
            st.caption("Upload an image to corrupt and denoise it.")
        return None, []
    return up.image[None], [ui.short_name(up.name) + (" (inverted)" if up.inverted else "")]


def noise_controls(entry) -> tuple[str, float, int]:
    """Noise type, level and seed; a denoising model starts at the noise it was trained on."""
    is_dae = entry.config.kind == "dae"
    c1, c2, c3 = st.columns([2, 3, 1])
    noise = c1.selectbox("Noise", NOISE_TYPES, index=NOISE_TYPES.index(entry.config.noise) if is_dae else 0,
                         format_func=ui.NOISE_LABELS.get, key="dn_noise")
    level = c2.slider("Level", 0.0, 1.0, float(entry.config.noise_level) if is_dae else 0.3, 0.05, key="dn_level",
                      help=LEVEL_HELP[noise])
    seed = c3.number_input("Noise seed", 0, 2**31 - 1, 0, 1, key="dn_seed",
                           help="The same seed gives the same noise.")
    return noise, level, int(seed)


def scores(clean, noisy, den, eng) -> None:
    """Noisy and denoised PSNR / SSIM against the clean images, and the model's plain reconstruction PSNR."""
    # Over several images: PSNR of the overall MSE and the mean SSIM (as `aecore.metrics.summary` reports them).
    psnr_noisy, psnr_den = metrics.psnr(clean, noisy), metrics.psnr(clean, den)
    s_noisy, s_den = metrics.ssim(clean, noisy, per_image=True), metrics.ssim(clean, den, per_image=True)
    of = "" if len(clean) == 1 else f" (all {len(clean)} images)"
    cols = st.columns(4)
    cols[0].metric("Noisy PSNR", f"{psnr_noisy:.1f} dB", help="Noisy vs clean" + of)
    cols[1].metric("Denoised PSNR", f"{psnr_den:.1f} dB", delta=f"{psnr_den - psnr_noisy:+.1f} dB",
                   help="Denoised vs clean" + of)
    cols[2].metric("Noisy SSIM", f"{s_noisy.mean():.3f}", help="Noisy vs clean" + of)
    cols[3].metric("Denoised SSIM", f"{s_den.mean():.3f}", delta=f"{s_den.mean() - s_noisy.mean():+.3f}",
                   help="Denoised vs clean" + of)
    ref = metrics.psnr(clean, eng.reconstruct(clean))
    st.caption(f"For reference, the model reconstructs the clean image{'s' if len(clean) > 1 else ''} at "
               f"{ref:.1f} dB PSNR; a denoised image rarely beats that.")


def triples(clean, noisy, den, names) -> None:
    """Each clean / noisy / denoised triple in a row, with its own PSNR and SSIM."""
    p_noisy, p_den = metrics.psnr(clean, noisy, per_image=True), metrics.psnr(clean, den, per_image=True)
    s_noisy, s_den = metrics.ssim(clean, noisy, per_image=True), metrics.ssim(clean, den, per_image=True)
    for i, name in enumerate(names):  # one row per triple, side by side (wrapping where the page is narrow)
        ui.show_row([clean[i], noisy[i], den[i]],
                    [f"Clean {name}", f"Noisy · PSNR {p_noisy[i]:.1f} dB · SSIM {s_noisy[i]:.3f}",
                     f"Denoised · PSNR {p_den[i]:.1f} dB · SSIM {s_den[i]:.3f}"], width=140)


def download(den, shape) -> None:
    """The denoised image(s) as one PNG, side by side at the model's resolution."""
    h, w, _ = shape
    st.download_button("Download the denoised PNG" if len(den) == 1
                       else f"Download the {len(den)} denoised images (PNG)",
                       ui.png_bytes(np.concatenate(list(den), axis=1)), file_name="denoised.png", mime="image/png",
                       key="dn_download",
                       help=f"At the model's resolution ({h}×{w})"
                            + ("" if len(den) == 1 else ", side by side in the order shown") + ".")


# --- the page -------------------------------------------------------------------------------
entry, eng = ui.model_page("Denoise")  # the guard: stops with a link to Train when there is no model
if entry.config.kind == "dae":
    st.caption(f"**{entry.config.describe()}** was trained to undo {ui.NOISE_LABELS[entry.config.noise]} "
               f"noise at level {entry.config.noise_level:g}: the controls start there.")
else:
    st.info(f"The active model is not a denoising model (kind {entry.config.kind!r}): it was never shown noisy "
            "inputs and cleans them only as a side effect of compression. A denoising model (kind \"dae\") does "
            "best here — train one on the Train page and pick it in the sidebar.")

source = st.radio("Images", ["Held-out images", "Upload an image"], horizontal=True, key="dn_source")
clean, names = held_out_images(entry) if source == "Held-out images" else uploaded_image(entry)
noise, level, seed = noise_controls(entry)
if clean is None:
    st.stop()

noisy = add_noise(clean, noise, level, seed)
den = eng.denoise(noisy)

scores(clean, noisy, den, eng)
triples(clean, noisy, den, names)
download(den, eng.image_shape)
