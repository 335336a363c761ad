"""Train: choose a model kind, a dataset (or upload your own images) and settings;
watch live loss curves; stop at any time; manage the cached models.

The page reads top to bottom: the settings (one function per group, each
returning the user's choices; a zip's uploader sits beside the dataset choice,
what was read in it below), the configuration they make (validated, so bad
settings are a message, not a crash), the Train / Resume buttons with the live
job and its outcome (shown only for these settings), then the cached models
(the active model picked) with the command line that trains one again, its
download and delete.
"""

import io
import json
import zipfile

import numpy as np
import streamlit as st
from PIL import Image

import training_panel
import ui
import workspace_ui
from aecore.builtin_data import BUILTIN_DATASETS, list_datasets
from aecore.cache import CacheError, entry_report, stopped_run
from aecore.config import MAX_SHIFT, TUNED_FIELDS, USER_DATA_PREFIXES, ModelConfig, cli_command, defaults_for
from aecore.data import Dataset
from aecore.images import IMAGE_EXTENSIONS, MAX_PIXELS
from aecore.sizing import check_fits

KIND_LABELS = {"ae": "Autoencoder", "dae": "Denoising AE", "sparse": "Sparse AE", "vae": "Variational AE (VAE)"}
UPLOAD = "Upload your own images (.zip)"
DELETED = "trn_deleted"  # session_state: (done, what the last delete removed or why it did not), said once
FOLLOWED = "trn_followed"  # session_state: the active model the model list last moved to
# The widget of each setting. Those whose default depends on the kind and architecture (`TUNED_FIELDS`) are set to
# the new kind's defaults when a kind or architecture is picked; a widget not on the page keeps no state, and
# comes back at the defaults of the kind picked then.
WIDGETS = {"latent_dim": "trn_latent", "epochs": "trn_epochs", "batch_size": "trn_batch", "learning_rate": "trn_lr",
           "seed": "trn_seed", "beta": "trn_beta", "kl_warmup_epochs": "trn_warmup", "noise": "trn_noise",
           "noise_level": "trn_noise_level", "sparsity": "trn_sparsity", "sparsity_weight": "trn_sparsity_weight",
           "sparsity_target": "trn_rho", "filters": "trn_filters", "hidden_units": "trn_hidden",
           "patience": "trn_patience", "val_fraction": "trn_val", "recon_loss": "trn_recon",
           "lr_schedule": "trn_schedule", "activation": "trn_activation", "augment_shift": "trn_shift"}
FEW_HELD_OUT = 50  # fewer held-out images than this make the scores (and early stopping) a matter of luck


# --- the settings -------------------------------------------------------------------------
def preset(fields) -> None:
    """Set the widgets of `fields`, and of every setting without a state yet, to the defaults of the kind and
    architecture picked (`aecore.config.defaults_for`)."""
    state = st.session_state
    defaults = defaults_for(state.get("trn_kind", "ae"), state.get("trn_arch", "conv"))
    for field, key in WIDGETS.items():
        if field in fields or key not in state:
            value = getattr(defaults, field)
            state[key] = ",".join(map(str, value)) if isinstance(value, tuple) else value


def model_choice(left, right) -> dict:
    """Kind, architecture and latent size (in the column `left`); the dataset, a built-in name or UPLOAD (in
    `right`, where the uploader goes). Picking a kind or architecture sets the settings to its defaults."""
    kind = left.selectbox("Model kind", list(KIND_LABELS), format_func=KIND_LABELS.get, key="trn_kind",
                          on_change=preset, args=(TUNED_FIELDS,))
    arch = left.radio("Architecture", ["conv", "dense"], horizontal=True, key="trn_arch",
                      format_func={"conv": "Convolutional", "dense": "Dense (MLP)"}.get,
                      on_change=preset, args=(TUNED_FIELDS,))
    preset(())
    latent_dim = left.number_input("Latent size", 1, 256, key="trn_latent",
                                   help="2 lets the scatter and the grid show the code directly")
    dataset = right.selectbox("Dataset", [*BUILTIN_DATASETS, UPLOAD], key="trn_dataset")
    return {"kind": kind, "arch": arch, "dataset": dataset, "latent_dim": int(latent_dim)}


def optimisation() -> dict:
    """Epochs, batch size, learning rate and seed."""
    c1, c2, c3, c4 = st.columns(4)
    return {"epochs": int(c1.number_input("Epochs", 1, 500, key="trn_epochs")),
            "batch_size": int(c2.number_input("Batch size", 8, 2048, step=8, key="trn_batch")),
            "learning_rate": float(c3.number_input("Learning rate", 1e-5, 1.0, format="%.5f",
                                                   key="trn_lr")),
            "seed": int(c4.number_input("Seed", 0, 2**31 - 1, key="trn_seed"))}


def kind_settings(kind: str) -> dict:
    """The settings of one model kind: β and warm-up (VAE), the noise (denoising AE), the penalty (sparse AE)."""
    extra: dict = {}
    if kind == "vae":
        c1, c2, c3 = st.columns(3)
        extra["beta"] = c1.number_input("β (KL weight)", 0.0, 100.0, key="trn_beta")
        extra["kl_warmup_epochs"] = c2.number_input("KL warm-up epochs", 0, 100, key="trn_warmup")
        extra["recon_loss"] = c3.selectbox("Reconstruction loss", ["bce", "mse"], key="trn_recon")
    elif kind == "dae":
        c1, c2 = st.columns(2)
        extra["noise"] = c1.selectbox("Noise", list(ui.NOISE_LABELS), format_func=ui.NOISE_LABELS.get,
                                      key="trn_noise")
        extra["noise_level"] = c2.slider("Noise level (σ or share of pixels)", 0.0, 1.0, step=0.05,
                                         key="trn_noise_level")
    elif kind == "sparse":
        c1, c2, c3 = st.columns(3)
        extra["sparsity"] = c1.selectbox("Penalty", ["l1", "kl"], key="trn_sparsity",
                                         format_func={"l1": "L1 on the code", "kl": "KL to a target activation"}.get)
        extra["sparsity_weight"] = c2.number_input("Penalty weight", 0.0, 10.0, format="%.5f",
                                                   key="trn_sparsity_weight")
        if extra["sparsity"] == "kl":
            extra["sparsity_target"] = c3.number_input("Target activation ρ", 0.001, 0.999, format="%.3f",
                                                       key="trn_rho")
    return extra


def advanced(kind: str) -> tuple[dict, bool]:
    """The "Advanced" expander: (settings, with the layer sizes as typed; retrain even if cached). It stays open
    or closed as the user left it whatever else changes: its state is kept under its key."""
    with st.expander("Advanced", key="trn_advanced", on_change="rerun"):
        c1, c2, c3 = st.columns(3)
        out = {"filters": c1.text_input("Conv filters per stage", key="trn_filters"),
               "hidden_units": c2.text_input("Dense hidden units", key="trn_hidden"),
               "patience": int(c3.number_input("Early-stopping patience (0: off)", 0, 100,
                                               key="trn_patience")),
               "limit": int(c1.number_input("Use only the first N images (0: all)", 0, 1_000_000, 0,
                                            key="trn_limit")) or None,
               "val_fraction": float(c2.slider("Held-out share", 0.05, 0.5, step=0.05, key="trn_val"))}
        if kind != "vae":
            out["recon_loss"] = c3.selectbox("Reconstruction loss", ["bce", "mse"], key="trn_recon")
        out["lr_schedule"] = c1.selectbox("Learning-rate schedule", ["constant", "cosine"], key="trn_schedule",
                                          help="cosine decays the rate over the epochs: better results in a fixed time")
        out["activation"] = c2.selectbox("Activation", ["elu", "relu", "gelu"], key="trn_activation")
        out["augment_shift"] = int(c3.number_input(
            "Shift training images by up to (px)", 0, MAX_SHIFT, key="trn_shift",
            help="each training image moves by its own random offset every epoch (0: never); the held-out images "
                 "never move. A model of a few thousand images then learns shapes, not those images by heart."))
        force = st.checkbox("Retrain even if this configuration is cached", key="trn_force")
    return out, force


# --- the user's images -----------------------------------------------------------------------
@st.cache_data(show_spinner=False, max_entries=64)
def _in_colour(file_id: str, _data: bytes, looked_at: int = 8) -> bool:
    """Whether the first `looked_at` readable images of an uploaded zip show colour (channels that differ)."""
    seen = 0
    try:
        with zipfile.ZipFile(io.BytesIO(_data)) as z:
            for info in z.infolist():
                if seen >= looked_at:
                    break
                name = "/" + info.filename.replace("\\", "/")
                if info.is_dir() or "/__MACOSX/" in name or "/." in name or info.file_size > 64 * 2**20 \
                        or not name.lower().endswith(IMAGE_EXTENSIONS):
                    continue
                try:
                    with Image.open(io.BytesIO(z.read(info))) as im:
                        if im.size[0] * im.size[1] > MAX_PIXELS:
                            continue
                        im.draft("RGB", (64, 64))  # a JPEG decodes at a reduced size
                        rgb = np.asarray(im.convert("RGB").resize((32, 32)), dtype=np.int16)
                except Exception:  # a file the zip's reader skipped too
                    continue
                seen += 1
                if np.abs(rgb - rgb.mean(axis=-1, keepdims=True)).max() > 16:
                    return True
    except (zipfile.BadZipFile, OSError, ValueError):
        pass
    return False


def sample_indices(ds: Dataset, n: int = 8) -> list[int]:
    """Up to `n` images to show of a dataset: the first of each class in turn (the first `n` without labels)."""
    if ds.labels is None:
        return list(range(min(n, len(ds))))
    per_class = [np.flatnonzero(ds.labels == c).tolist() for c in range(len(ds.class_names))]
    return [members[rank] for rank in range(n) for members in per_class if rank < len(members)][:n]


def upload_summary(ds: Dataset, channels: int, in_colour: bool) -> None:
    """What was read in the zip: how many images (per class), a few of them, the files skipped, and why a model
    of colour images in Grayscale reconstructs them in grey."""
    size = ds.image_shape[0]
    classes = f" in {len(ds.class_names)} classes" if ds.labels is not None else " (no labels)"
    st.success(f"{len(ds)} images{classes}, {size}×{size}×{channels}.")
    if ds.labels is not None:
        counts = np.bincount(ds.labels, minlength=len(ds.class_names))
        shown = " · ".join(f"{name} {count}" for name, count in zip(ds.class_names[:20], counts[:20]))
        st.caption(f"Images per class: {shown}{' · …' if len(ds.class_names) > 20 else ''}")
    picked = sample_indices(ds)
    st.image([ui.upscale(ds.images[i], 56) for i in picked], width=56,
             caption=[ui.label_of(ds, i) if ds.labels is not None else f"#{i}" for i in picked])
    if ds.skipped:
        st.warning(f"Skipped {len(ds.skipped)} file(s): " + "; ".join(ds.skipped[:10]))
    if channels == 1 and in_colour:
        st.info("Your images are in colour and **Grayscale** is chosen: the model sees them in grey, so its "
                "reconstructions are grey too. Choose **RGB** to keep the colours (three times the inputs: slower "
                "to train).")


def uploaded_images(where) -> tuple[Dataset | None, dict]:
    """Size, colour and the .zip of the user's images, in the column `where` (beside the dataset choice), and
    what was read in it below. Returns the dataset (decoded once, for this workspace only) or None, and the size
    and colour settings (part of the model's configuration)."""
    c1, c2 = where.columns(2)
    size = c1.selectbox("Resize to", [28, 32, 64], key="trn_size")
    channels = c2.radio("Colour", [1, 3], horizontal=True, key="trn_channels",
                        format_func={1: "Grayscale", 3: "RGB"}.get)
    zip_file = where.file_uploader("A .zip of PNG/JPEG/BMP/GIF/WebP images; sub-folders become labels",
                                   type=["zip"], key="trn_zip")
    where.caption("Your images, and the models trained on them, belong to this workspace: nobody else using this "
                  "app sees them. They are kept with the model, so its pages work again when you come back by this "
                  "link.")
    ds = None
    if zip_file is not None:
        with where:
            ds = workspace_ui.read_zip(zip_file, size, channels)
    if ds is not None:
        workspace_ui.remember_upload(ds)  # kept again if a model of the workspace was trained on it
        upload_summary(ds, channels, channels == 1 and _in_colour(zip_file.file_id, zip_file.getvalue()))
    return ds, {"image_size": size, "channels": channels}


def held_out_note(config: ModelConfig, upload: Dataset) -> None:
    """Warn when so few of the uploaded images are held out that their scores say little."""
    n = min(config.limit or len(upload), len(upload))
    held = round(n * config.val_fraction)
    if held < FEW_HELD_OUT:
        st.warning(f"Only {held} of your {n} images are held out ({config.val_fraction:.0%}): the held-out scores "
                   f"(MSE, PSNR, SSIM), early stopping and the pages' held-out images rest on these few. Upload more "
                   f"images, or raise the held-out share under Advanced.")


# --- the configuration -------------------------------------------------------------------------
def configuration(settings: dict, upload: Dataset | None) -> tuple[ModelConfig | None, str | None]:
    """The settings as a ModelConfig, checked to fit this machine; or None and what is wrong with them."""
    settings = {**settings, "dataset": upload.name if upload is not None else settings["dataset"]}
    try:
        for layers in ("filters", "hidden_units"):
            settings[layers] = tuple(int(n) for n in settings[layers].split(",") if n.strip())
        config = ModelConfig(**settings)
    except ValueError as e:
        return None, str(e) if "Expected" in str(e) else f"Expected comma-separated integers like 32,64; received {e}."
    shapes = {d["name"]: d["shape"] for d in list_datasets()}
    shape = upload.image_shape if upload is not None else shapes.get(config.dataset)
    try:
        if shape is not None:
            check_fits(config, shape)  # a model too big for this machine is refused before anything is built
    except ValueError as e:
        return config, str(e)
    return config, None


def train_buttons(config: ModelConfig, upload: Dataset | None, force: bool) -> None:
    """Train, or (when this exact configuration was stopped before) Resume / Train from scratch."""
    busy = workspace_ui.job_running()
    fingerprint = upload.fingerprint if upload is not None else workspace_ui.builtin_fingerprint(config.dataset)
    cache = workspace_ui.cache_for(config.dataset)  # shared for a built-in dataset, else the workspace's
    stopped = stopped_run(config, fingerprint, cache) if fingerprint and not force else None
    if stopped is not None:
        st.info(f"A run of exactly this configuration was {stopped.status()}. Resume it from its weights and "
                f"optimizer state, or train from scratch (which replaces it).")
        c1, c2 = st.columns(2)
        if c1.button(f"Resume ({stopped.config.epochs - stopped.epochs_done} epochs to go)", type="primary",
                     key="trn_resume", disabled=busy):
            training_panel.start_job(config, upload, resume=True)
        if c2.button("Train from scratch", key="trn_go", disabled=busy):
            training_panel.start_job(config, upload)
    elif st.button("Train", type="primary", key="trn_go", disabled=busy):
        training_panel.start_job(config, upload, force=force)


# --- the cached models ---------------------------------------------------------------------
def unreadable_files(unreadable) -> None:
    """The files in the model folders (shared, the workspace's) that cannot be read, each with its reason and a
    Delete button."""
    with st.expander(f"{len(unreadable)} unreadable file(s) in the model folder", expanded=True):
        for i, (cache, bad) in enumerate(unreadable):
            c1, c2 = st.columns([5, 1])
            c1.caption(f"`{bad.name}`: {bad.reason}")
            if c2.button("Delete", key=f"trn_delete_bad_{i}"):
                cache.delete_file(bad.name)
                st.session_state[DELETED] = True, f"Deleted the unreadable file {bad.name}."
                st.rerun()


def delete_model(entry) -> None:
    """Delete callback: remove the model (not while any session trains it), disarm the confirmation, say what
    went."""
    try:
        workspace_ui.delete(entry)
        st.session_state[DELETED] = True, f"Deleted {entry.label()}."
    except ValueError as e:
        st.session_state[DELETED] = False, str(e)
    st.session_state["trn_delete_confirm"] = False


def follow_active(by_key: dict) -> None:
    """Pick the sidebar's active model in the model list whenever the active model changes (and any listed one
    when the picked model is gone)."""
    active = st.session_state.get(ui.ACTIVE)
    if active in by_key and st.session_state.get(FOLLOWED) != active:
        st.session_state["trn_manage"] = st.session_state[FOLLOWED] = active
    elif st.session_state.get("trn_manage") not in by_key:
        st.session_state["trn_manage"] = active if active in by_key else next(iter(by_key))


def reproduce(entry) -> None:
    """The model's settings, and the command line that trains it again (under the same cache key), to copy."""
    st.markdown("**Train it again from the command line** (the same settings give the same model and key):")
    st.code(cli_command(entry.config), language="bash", wrap_lines=True)
    if entry.config.dataset.startswith(USER_DATA_PREFIXES):
        name = entry.config.dataset.split(":", 1)[1]
        st.caption(f"It was trained on your images `{name}`, which the command line reads itself (`--images`): "
                   f"run it where `{name}` is, the same file under the same name (both are part of the key). It "
                   f"keeps the model in its models folder (`--models-dir`), not in this workspace.")
        if entry.config.image_size is None and tuple(entry.image_shape) != (28, 28, 1):
            h, _, c = entry.image_shape
            st.caption(f"This model's settings do not record its image size: add `--image-size {h} --channels {c}` "
                       f"to read the images as it did (the model then gets another key).")
    with st.expander("All its settings"):
        st.json(entry.config.to_dict(), expanded=True)


def manage(entries) -> None:
    """The table of the models this session sees; the one picked (the active model, as it changes): how to
    train it again, its download, its delete (a shared one is deleted for everyone: the confirmation says so)."""
    st.dataframe([{"model": e.config.describe(), "status": e.status(),
                   "MSE": round(e.metrics.get("mse", float("nan")), 4),
                   "PSNR dB": round(e.metrics.get("psnr", float("nan")), 2),
                   "where": "shared" if workspace_ui.is_shared(e) else "this workspace", "key": e.key}
                  for e in entries], hide_index=True, width="stretch")
    by_key = {e.key: e for e in entries}
    follow_active(by_key)
    picked = by_key[st.selectbox("Model", list(by_key), format_func=lambda k: by_key[k].label(), key="trn_manage")]
    reproduce(picked)
    c1, c2 = st.columns(2)
    name = f"{picked.config.kind}-{picked.config.dataset}-{picked.key}"
    try:
        c1.download_button("Download .keras", workspace_ui.keras_file(picked), file_name=f"{name}.keras",
                           mime="application/octet-stream", key="trn_download")
    except CacheError as e:
        c1.error(str(e))
    c1.download_button("Download its config and held-out metrics (JSON)", key="trn_json", mime="application/json",
                       data=json.dumps(entry_report(picked), indent=2), file_name=f"{name}.json", on_click="ignore")
    shared = workspace_ui.is_shared(picked)
    confirm = c2.checkbox("Yes, delete it for everyone" if shared else "Yes, delete it", key="trn_delete_confirm",
                          help="A model on a built-in dataset is shared: every workspace lists it and loses it."
                          if shared else "It belongs to this workspace only.")
    if shared and confirm:
        c2.warning("This model is shared with everyone using this app: deleting it removes it for all of them.")
    c2.button("Delete", key="trn_delete", disabled=not confirm, on_click=delete_model, args=(picked,))


# --- the page -------------------------------------------------------------------------------
ui.setup("Train")
workspace_ui.job_on_this_page()  # its panel below follows the job: the sidebar only names it
ui.model_picker()
st.title("🏋️ Train")

left, right = st.columns(2)
settings = model_choice(left, right)
upload, image = uploaded_images(right) if settings["dataset"] == UPLOAD else (None, {})
settings |= image | optimisation()
with st.container():  # one block whatever the kind, so the expander below keeps its place (and its state)
    settings |= kind_settings(settings["kind"])
more, force = advanced(settings["kind"])
settings |= more
config, problem = configuration(settings, upload)

if problem:
    st.error(problem)
elif settings["dataset"] == UPLOAD and upload is None:
    st.info("Upload a .zip of images to train on them.")
else:
    if upload is not None:
        held_out_note(config, upload)
    train_buttons(config, upload, force)
training_panel.job_panel(None if problem else config)  # an ended job's outcome: only for these settings

st.divider()
st.subheader("Cached models")
if st.session_state.get(DELETED):
    done, said = st.session_state.pop(DELETED)
    (st.success if done else st.error)(said)
entries, unreadable = ui.list_all(warn=False)
if unreadable:
    unreadable_files(unreadable)
if not entries:
    st.info("No cached models yet. Models on the built-in datasets are shared with everyone; models trained "
            "on your uploads belong to this workspace.")
    st.stop()
manage(entries)
