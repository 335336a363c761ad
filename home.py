"""Home: what the app does, the cached models, and a one-click default model (run via app.py)."""

import streamlit as st

import training_panel
import ui
import workspace_ui
from aecore.config import QUICKSTART

ui.setup("Home")
workspace_ui.job_on_this_page()  # the panel below follows a running job: the sidebar only names it
entry = ui.model_picker()

st.title("🧭 Latent Explorer")
st.markdown(
    "Train autoencoders on images — MNIST, Fashion-MNIST, Olivetti faces, scikit-learn's digits, "
    "or **your own pictures** — then explore what they learned: reconstructions and their worst cases, "
    "denoising of your uploads, the latent space as a scatter, live latent sliders with a manifold grid, "
    "and morph animations you can download as GIF or MP4."
)

cols, stay = st.columns(3), workspace_ui.link_params()  # every link stays in this workspace
cols[0].page_link("pages/1_Train.py", label="Train", icon="🏋️", help="Dense / conv AE, denoising, sparse, VAE",
                  query_params=stay)
cols[0].page_link("pages/2_Reconstruct.py", label="Reconstruct", icon="🔁", query_params=stay)
cols[1].page_link("pages/3_Denoise.py", label="Denoise", icon="🧽", query_params=stay)
cols[1].page_link("pages/4_Latent_Scatter.py", label="Latent Scatter", icon="🌌", query_params=stay)
cols[2].page_link("pages/5_Latent_Slider.py", label="Latent Slider", icon="🎚️", query_params=stay)
cols[2].page_link("pages/6_Morph.py", label="Morph", icon="🎞️", query_params=stay)

st.subheader("Start here")
st.write(f"One click trains the default model — a **{QUICKSTART.describe()}** — on this machine's CPU in "
         "about a minute, with live curves. Every page then works with it.")
if st.button("Train the default model", type="primary", key="home_quickstart",
             disabled=workspace_ui.job_running()):
    # A default run stopped earlier is continued, not started over (a fresh run when there is none).
    training_panel.start_job(QUICKSTART, resume=True)
training_panel.job_panel(QUICKSTART)  # an ended job's outcome only when it was the default model's

st.subheader("Cached models")
entries, _ = ui.list_all(warn=False)  # the sidebar has said it if some files cannot be read
if not entries:
    st.info("No trained model yet: use the button above, or the Train page for any kind and dataset.")
else:
    st.dataframe(
        [{"model": e.config.describe(), "status": e.status(),
          "MSE": round(e.metrics.get("mse", float("nan")), 4), "PSNR dB": round(e.metrics.get("psnr", float("nan")), 2),
          "SSIM": round(e.metrics.get("ssim", float("nan")), 3), "train s": round(e.seconds),
          "where": "shared" if workspace_ui.is_shared(e) else "yours", "key": e.key} for e in entries],
        hide_index=True, width="stretch",
    )
    st.caption("Models on the built-in datasets are shared with everyone using this app; models trained on your "
               "uploads belong to this workspace (its link is in the address bar) · manage them on the Train page.")
