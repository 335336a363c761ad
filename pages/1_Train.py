"""Train: choose a model kind, a dataset (or upload your own images) and settings;
watch live loss curves; stop at any time; manage the cached models."""

import streamlit as st

import ui
from aecore import data as aedata
from aecore.cache import CacheError, stopped_run
from aecore.config import ModelConfig
from aecore.sizing import check_fits

ui.setup("Train")
ui.model_picker()
st.title("🏋️ Train")

KIND_LABELS = {"ae": "Autoencoder", "dae": "Denoising AE", "sparse": "Sparse AE", "vae": "Variational AE (VAE)"}
NOISE_LABELS = {"gaussian": "Gaussian (one σ)", "gaussian_hetero": "Gaussian (per-pixel σ)",
                "salt_pepper": "Salt & pepper", "masking": "Masking"}
UPLOAD = "Upload your own images (.zip)"
d = ModelConfig()  # defaults

# --- controls ---------------------------------------------------------------------
left, right = st.columns(2)
kind = left.selectbox("Model kind", list(KIND_LABELS), format_func=KIND_LABELS.get, key="trn_kind")
arch = left.radio("Architecture", ["conv", "dense"], horizontal=True, key="trn_arch",
                  format_func={"conv": "Convolutional", "dense": "Dense (MLP)"}.get)
dataset_choice = right.selectbox("Dataset", [*aedata.BUILTIN_DATASETS, UPLOAD], key="trn_dataset")
latent_dim = right.number_input("Latent size", 1, 256, 2 if kind == "vae" else 10, key="trn_latent",
                                help="2 lets the scatter and the grid show the code directly")

c1, c2, c3, c4 = st.columns(4)
epochs = c1.number_input("Epochs", 1, 500, d.epochs, key="trn_epochs")
batch_size = c2.number_input("Batch size", 8, 2048, d.batch_size, step=8, key="trn_batch")
learning_rate = c3.number_input("Learning rate", 1e-5, 1.0, d.learning_rate, format="%.5f", key="trn_lr")
seed = c4.number_input("Seed", 0, 2**31 - 1, d.seed, key="trn_seed")

extra: dict = {}
if kind == "vae":
    c1, c2, c3 = st.columns(3)
    extra["beta"] = c1.number_input("β (KL weight)", 0.0, 100.0, d.beta, key="trn_beta")
    extra["kl_warmup_epochs"] = c2.number_input("KL warm-up epochs", 0, 100, d.kl_warmup_epochs, key="trn_warmup")
    extra["recon_loss"] = c3.selectbox("Reconstruction loss", ["bce", "mse"], key="trn_recon_vae")
elif kind == "dae":
    c1, c2 = st.columns(2)
    extra["noise"] = c1.selectbox("Noise", list(NOISE_LABELS), format_func=NOISE_LABELS.get, key="trn_noise")
    extra["noise_level"] = c2.slider("Noise level (σ or share of pixels)", 0.0, 1.0, d.noise_level, 0.05,
                                     key="trn_noise_level")
elif kind == "sparse":
    c1, c2, c3 = st.columns(3)
    extra["sparsity"] = c1.selectbox("Penalty", ["l1", "kl"], key="trn_sparsity",
                                     format_func={"l1": "L1 on the code", "kl": "KL to a target activation"}.get)
    extra["sparsity_weight"] = c2.number_input("Penalty weight", 0.0, 10.0, d.sparsity_weight, format="%.5f",
                                               key="trn_sparsity_weight")
    if extra["sparsity"] == "kl":
        extra["sparsity_target"] = c3.number_input("Target activation ρ", 0.001, 0.999, d.sparsity_target,
                                                   format="%.3f", key="trn_rho")

with st.expander("Advanced"):
    c1, c2, c3 = st.columns(3)
    filters = c1.text_input("Conv filters per stage", ",".join(map(str, d.filters)), key="trn_filters")
    hidden = c2.text_input("Dense hidden units", ",".join(map(str, d.hidden_units)), key="trn_hidden")
    patience = c3.number_input("Early-stopping patience (0: off)", 0, 100, d.patience, key="trn_patience")
    limit = c1.number_input("Use only the first N images (0: all)", 0, 1_000_000, 0, key="trn_limit")
    val_fraction = c2.slider("Held-out share", 0.05, 0.5, d.val_fraction, 0.05, key="trn_val")
    if kind != "vae":
        extra["recon_loss"] = c3.selectbox("Reconstruction loss", ["bce", "mse"], key="trn_recon")
    lr_schedule = c1.selectbox("Learning-rate schedule", ["constant", "cosine"], key="trn_schedule",
                               help="cosine decays the rate over the epochs: better results in a fixed time")
    activation = c2.selectbox("Activation", ["elu", "relu", "gelu"], key="trn_activation")
    force = st.checkbox("Retrain even if this configuration is cached", key="trn_force")

upload_ds = None
if dataset_choice == UPLOAD:
    c1, c2 = st.columns(2)
    size = c1.selectbox("Resize to", [28, 32, 64], key="trn_size")
    channels = c2.radio("Colour", [1, 3], horizontal=True, key="trn_channels",
                        format_func={1: "Grayscale", 3: "RGB"}.get)
    zip_file = st.file_uploader("A .zip of PNG/JPEG/BMP/GIF/WebP images; sub-folders become labels",
                                type=["zip"], key="trn_zip")
    if zip_file is not None:
        upload_ds = ui.read_zip(zip_file, size, channels)  # decoded once per file, size and colour
        if upload_ds is not None:
            ui.remember_dataset(upload_ds)
            classes = f" in {len(upload_ds.class_names)} classes" if upload_ds.labels is not None else " (no labels)"
            st.success(f"{len(upload_ds)} images{classes}, {size}×{size}×{channels}.")
            if upload_ds.skipped:
                st.warning(f"Skipped {len(upload_ds.skipped)} file(s): " + "; ".join(upload_ds.skipped[:10]))

# --- the config: validated here, so bad settings are a message, not a crash -------------
config, problem = None, None
try:
    config = ModelConfig(
        dataset=upload_ds.name if upload_ds is not None else dataset_choice, kind=kind, arch=arch,
        latent_dim=int(latent_dim), epochs=int(epochs), batch_size=int(batch_size),
        learning_rate=float(learning_rate), lr_schedule=lr_schedule, activation=activation, seed=int(seed),
        patience=int(patience),
        limit=int(limit) or None,
        val_fraction=float(val_fraction), filters=tuple(int(f) for f in filters.split(",") if f.strip()),
        hidden_units=tuple(int(h) for h in hidden.split(",") if h.strip()), **extra,
    )
except ValueError as e:
    problem = str(e) if "Expected" in str(e) else f"Expected comma-separated integers like 32,64; received {e}."
shapes = {d["name"]: d["shape"] for d in aedata.list_datasets()}
shape = upload_ds.image_shape if upload_ds is not None else shapes.get(dataset_choice)
if config is not None and shape is not None:
    try:
        check_fits(config, shape)  # a model too big for this machine is refused before anything is built
    except ValueError as e:
        problem = str(e)


def load_data():
    """What the job trains on: the upload, or the built-in dataset (loaded in the job's thread)."""
    ds = upload_ds
    return (lambda: ds) if ds is not None else (lambda: aedata.load_dataset(config.dataset))


busy = st.session_state.get(ui.JOB) is not None and st.session_state[ui.JOB].running
if problem:
    st.error(problem)
elif dataset_choice == UPLOAD and upload_ds is None:
    st.info("Upload a .zip of images to train on them.")
else:
    fingerprint = upload_ds.fingerprint if upload_ds is not None else ui.builtin_fingerprint(dataset_choice)
    stopped = stopped_run(config, fingerprint, ui.model_cache()) if fingerprint and not force else None
    if stopped is not None:
        st.info(f"A run of exactly this configuration was {stopped.status()}. Resume it from its weights and "
                f"optimizer state, or train from scratch (which replaces it).")
        c1, c2 = st.columns(2)
        if c1.button(f"Resume ({stopped.config.epochs - stopped.epochs_done} epochs to go)", type="primary",
                     key="trn_resume", disabled=busy):
            ui.start_job(config, load_data(), resume=True)
        if c2.button("Train from scratch", key="trn_go", disabled=busy):
            ui.start_job(config, load_data())
    elif st.button("Train", type="primary", key="trn_go", disabled=busy):
        ui.start_job(config, load_data(), force=force)
ui.job_panel()

# --- cached models -----------------------------------------------------------------------
st.divider()
st.subheader("Cached models")
DELETED = "trn_deleted"  # session_state: what the last delete removed, said once
if st.session_state.get(DELETED):
    st.success(st.session_state.pop(DELETED))
entries, unreadable = ui.list_all(warn=False)
if unreadable:
    with st.expander(f"{len(unreadable)} unreadable file(s) in the model folder", expanded=True):
        for i, bad in enumerate(unreadable):
            c1, c2 = st.columns([5, 1])
            c1.caption(f"`{bad.name}`: {bad.reason}")
            if c2.button("Delete", key=f"trn_delete_bad_{i}"):
                ui.model_cache().delete_file(bad.name)
                st.session_state[DELETED] = f"Deleted the unreadable file {bad.name}."
                st.rerun()
if not entries:
    st.info("No cached models yet.")
    st.stop()
st.dataframe([{"key": e.key, "model": e.config.describe(), "epochs": e.epochs_done,
               "status": e.status(), "MSE": round(e.metrics.get("mse", float("nan")), 4),
               "PSNR dB": round(e.metrics.get("psnr", float("nan")), 2)} for e in entries],
             hide_index=True, width="stretch")
by_key = {e.key: e for e in entries}
pick = st.selectbox("Model", list(by_key), format_func=lambda k: by_key[k].label(), key="trn_manage")
c1, c2 = st.columns(2)


try:
    c1.download_button("Download .keras", ui.keras_file(by_key[pick]),
                       file_name=f"{by_key[pick].config.kind}-{by_key[pick].config.dataset}-{pick}.keras",
                       mime="application/octet-stream", key="trn_download")
except CacheError as e:
    c1.error(str(e))


def delete_picked() -> None:
    """Delete callback: remove the model, disarm the confirmation, say what went."""
    ui.model_cache().delete(pick)
    ui.forget_models()
    st.session_state["trn_delete_confirm"] = False
    st.session_state[DELETED] = f"Deleted {by_key[pick].label()}."


confirm = c2.checkbox("Yes, delete it", key="trn_delete_confirm")
c2.button("Delete", key="trn_delete", disabled=not confirm, on_click=delete_picked)
