"""This session's workspace, for every page: its id in the link, the models it sees, its uploads, loaded models.

A session's workspace (`aecore.workspace.Workspace`) is named in the page's
link, `?ws=<id>`: `workspace()` reads it, or starts a new workspace (and says
so when the link's id is not a workspace id) and writes it into the link, so a
reload, a bookmark or a server restart finds the same workspace. Whoever has
the link has the workspace.

What a session sees: the shared models (trained on the built-in datasets, by
anyone) and its workspace's models (trained on its uploads): `list_models`,
`cache_for`. Every loader below is keyed by the model's own folder, so one
workspace's model, images or codes never answer for another's:

- `engine(entry)`, `keras_file(entry)`, `held_out_codes(entry)`, `held_out_errors(entry)`: the model, its
  .keras export and its held-out codes, per version of its weights.
- `held_out(entry)`: the held-out images: a built-in dataset's split, or the
  split of the upload kept in the workspace beside the model (so they come back
  after a restart).
- `read_zip`: an uploaded .zip, decoded once per workspace and content into
  the process's bounded `UploadStore` (a refusal is remembered too).
- `delete(entry)`, `training(entry)`: deleting, and the running job that forbids it.

A training job belongs to the workspace, not to the browser tab: the process
keeps each workspace's current job (`current_job`, `set_job`), so after a
reload, or from any page, `job_sidebar` shows its progress (its place in line
while it waits for a training slot) and Stop, and announces its end once per
workspace. `training_panel` starts jobs and draws the Train page's full panel.
"""

from __future__ import annotations

import hashlib
import io
import math
import tempfile
import threading
from pathlib import Path

import numpy as np
import streamlit as st

import aecore
from aecore import jobs
from aecore.builtin_data import BUILTIN_DATASETS, list_datasets, load_dataset
from aecore.cache import Entry, ModelCache, Unreadable, default_dir
from aecore.data import Dataset
from aecore.infer import Engine
from aecore.train import prepare_data
from aecore.uploads import load_image_zip
from aecore.workspace import UploadStore, Workspace, check_id, new_id

WS_PARAM = "ws"  # the link's query parameter
WORKSPACE = "workspace_id"  # session_state: this session's workspace id (the link loses it on some page switches)
JOB = "training_job"  # session_state: the workspace's current training job, as this session last saw it
JOB_ON_PAGE = "job_on_page"  # session_state, for one run: this page shows the job (the sidebar does not follow it)
KEEP_FINISHED = 256  # workspaces whose ended job (its outcome) the process keeps


# --- the workspace ---------------------------------------------------------------------------
@st.cache_resource(show_spinner=False, max_entries=1024)
def _workspace(root: str, workspace_id: str) -> Workspace:
    return Workspace(root, workspace_id)


def workspace() -> Workspace:
    """This session's workspace: the link's `?ws=`, else the session's, else a new one; written into the link.

    An id in the link that is not a workspace id gets a warning and a new workspace.
    """
    given, ws_id = st.query_params.get(WS_PARAM), None
    if given is not None:
        try:
            ws_id = check_id(given)
        except ValueError as e:
            st.warning(f"This link's workspace is not valid: {e} A new, empty workspace was started; its link is "
                       "in the address bar now.", icon="⚠️")
    elif st.session_state.get(WORKSPACE):
        ws_id = st.session_state[WORKSPACE]
    ws_id = ws_id or new_id()
    st.session_state[WORKSPACE] = ws_id
    if given != ws_id:
        st.query_params[WS_PARAM] = ws_id
    return _workspace(str(default_dir()), ws_id)


def link_params() -> dict[str, str]:
    """The query parameters a link to another page carries, so it stays in this workspace."""
    return {WS_PARAM: workspace().id}


def workspace_note() -> None:
    """The sidebar's note on the workspace: whoever has this page's link has its uploads and models."""
    st.sidebar.caption(f"Workspace `{workspace().id[:6]}…`: your uploads and the models trained on them belong to "
                       "it. Keep this page's link to come back to them; anyone with the link sees them.")


# --- the models this session sees ------------------------------------------------------------------
@st.cache_resource(show_spinner=False)
def _shared_cache(root: str) -> ModelCache:
    return ModelCache(root)


def shared_cache() -> ModelCache:
    """The shared models, under `$AECORE_MODELS_DIR` (default `models/`): those trained on built-in datasets."""
    return _shared_cache(str(default_dir()))


def is_shared(entry: Entry) -> bool:
    """Whether the entry is one of the shared models (not this workspace's own)."""
    return entry.path.parent == shared_cache().root


def cache_for(dataset: str) -> ModelCache:
    """Where a model trained on `dataset` is kept: the shared cache for a built-in dataset, else the workspace's."""
    return shared_cache() if dataset in BUILTIN_DATASETS else workspace().cache


def list_models() -> tuple[list[Entry], list[tuple[ModelCache, Unreadable]]]:
    """The models this session sees, newest first: the shared ones on built-in datasets and the workspace's;
    and the unreadable files of both folders, each with its cache.

    A model in the shared folder trained on other data (an upload from before workspaces, the command line's
    `--images`) is left out: its pictures may be someone's private images.
    """
    shared, own = shared_cache(), workspace().cache
    (shared_entries, shared_bad), (own_entries, own_bad) = shared.list(), own.list()
    entries = own_entries + [e for e in shared_entries if e.config.dataset in BUILTIN_DATASETS]
    entries.sort(key=lambda e: e.created, reverse=True)
    return entries, [(own, u) for u in own_bad] + [(shared, u) for u in shared_bad]


def training(entry: Entry) -> jobs.TrainingJob | None:
    """A running job (of any session) that trains this entry's key, else None."""
    for job in jobs.jobs():
        if not job.running:
            continue
        key = job.key or job.config.replace(dataset_fingerprint=entry.config.dataset_fingerprint).key()
        if key == entry.key:  # a job still loading its data counts when its settings match
            return job
    return None


def delete(entry: Entry) -> None:
    """Delete the entry from its folder, and (for a workspace model) the kept datasets no model needs now.
    ValueError while a job trains it. Loaded models, codes and exports are dropped."""
    job = training(entry)
    if job is not None:
        raise ValueError(f"Expected no running training of {entry.label()}, received one (started "
                         f"{job.config.describe()}): it cannot be deleted until that training ends.")
    ModelCache(entry.path.parent).delete(entry.key)
    ws = workspace()
    if not is_shared(entry) and not any(j.running and Path(j.cache.root) == ws.dir for j in jobs.jobs()):
        ws.forget_unused_datasets()  # a job of the workspace may be about to read one: then they wait
    forget_models()


# --- uploads ------------------------------------------------------------------------------------------
@st.cache_resource(show_spinner=False)
def upload_store() -> UploadStore:
    """The process's memory of uploads (decoded zips, held-out sets), per workspace, bounded in bytes."""
    return UploadStore()


def read_zip(uploaded, size: int, channels: int) -> Dataset | None:
    """An uploaded .zip as a Dataset, decoded once per workspace, content, size and colour (a refusal is
    remembered too); None with the reason shown when it cannot be used."""
    data = uploaded.getvalue()
    ws, key = workspace(), ("zip", hashlib.sha256(data).hexdigest(), uploaded.name, size, channels)
    found = upload_store().get(ws.id, key)
    if found is None:
        named = io.BytesIO(data)
        named.name = uploaded.name  # the dataset is named after the uploaded file
        with st.spinner("Reading the images…"):
            try:
                found = load_image_zip(named, size, channels), ""
            except ValueError as e:
                found = None, str(e)
        upload_store().put(ws.id, key, found)
    ds, problem = found
    if problem:
        st.error(f"{uploaded.name}: {problem}")
    return ds


def remember_upload(ds: Dataset) -> None:
    """Keep an upload in the workspace again when a model of the workspace was trained on it and its kept
    copy is gone (so its pages show its held-out images again)."""
    ws = workspace()
    if not ws.dataset_path(ds.fingerprint).is_file() \
            and any(e.config.dataset_fingerprint == ds.fingerprint for e in ws.cache.list()[0]):
        ws.keep_dataset(ds)


# --- loaded models and data, keyed by the model's folder ---------------------------------------------
@st.cache_resource(show_spinner="Loading model…", max_entries=8)
def _engine(root: str, key: str, version: str) -> tuple[Entry, Engine]:
    entry = ModelCache(root).load(key)
    return entry, Engine(entry.model)


def engine(entry: Entry) -> tuple[Entry, Engine]:
    """The entry with its model, and a compiled `Engine` around it (per folder and version of the weights)."""
    return _engine(str(entry.path.parent), entry.key, entry.version)


@st.cache_resource(show_spinner="Loading held-out images…", max_entries=8)
def _builtin_held_out(dataset: str, limit: int | None, val_fraction: float) -> Dataset:
    cfg = aecore.ModelConfig(dataset=dataset, limit=limit, val_fraction=val_fraction)
    return prepare_data(cfg, load_dataset(dataset))[1]


def _upload_held_out(entry: Entry) -> Dataset | None:
    """The held-out split of the upload kept beside a workspace model (through the upload store)."""
    ws, c = workspace(), entry.config
    if entry.path.parent != ws.dir:
        return None  # a shared model trained on someone's upload: its images are not for this session
    key = ("held-out", c.dataset_fingerprint, c.limit, c.val_fraction)
    val = upload_store().get(ws.id, key)
    if val is None:
        with st.spinner("Loading held-out images…"):
            ds = ws.dataset(c.dataset_fingerprint)
            if ds is None:
                return None
            val = prepare_data(aecore.ModelConfig(dataset=c.dataset, limit=c.limit, val_fraction=c.val_fraction),
                               ds)[1]
        upload_store().put(ws.id, key, val)
    return val


def held_out(entry: Entry) -> Dataset | None:
    """The entry's validation images (the same deterministic split as in training), or None when its data is
    not available (an upload that was not kept with the model)."""
    c = entry.config
    try:
        if c.dataset in BUILTIN_DATASETS:
            return _builtin_held_out(c.dataset, c.limit, c.val_fraction)
        return _upload_held_out(entry)
    except (ValueError, RuntimeError) as e:
        st.warning(f"The held-out images of {c.dataset!r} could not be loaded: {e}")
        return None


@st.cache_resource(show_spinner="Encoding the held-out set…", max_entries=8)
def _held_out_codes(root: str, version: str, _entry: Entry, _val: Dataset) -> np.ndarray:
    return engine(_entry)[1].encode(_val.images)


@st.cache_resource(show_spinner="Scoring the held-out set…", max_entries=8)
def _held_out_errors(root: str, version: str, _entry: Entry, _val: Dataset) -> np.ndarray:
    return engine(_entry)[1].errors(_val.images)


def _per_held_out(entry: Entry, cached) -> np.ndarray | None:
    """`cached` (one of the loaders above) for the entry's held-out images, keyed by folder and version; None
    without held-out images."""
    val = held_out(entry)
    return None if val is None else cached(str(entry.path.parent), entry.version, entry, val)


def held_out_codes(entry: Entry) -> np.ndarray | None:
    """Codes of the entry's held-out images (computed once per folder and version of the model), or None."""
    return _per_held_out(entry, _held_out_codes)


def held_out_errors(entry: Entry) -> np.ndarray | None:
    """Per-image reconstruction MSE of the entry's held-out images (once per folder and version), or None."""
    return _per_held_out(entry, _held_out_errors)


@st.cache_data(show_spinner="Exporting…", max_entries=4)
def _keras_file(root: str, key: str, version: str) -> bytes:
    with tempfile.TemporaryDirectory() as tmp:
        return ModelCache(root).export_keras(key, Path(tmp) / "model.keras").read_bytes()


def keras_file(entry: Entry) -> bytes:
    """The model as a standalone .keras file (opens with keras.saving.load_model in safe mode), per version."""
    return _keras_file(str(entry.path.parent), entry.key, entry.version)


def forget_models() -> None:
    """Drop loaded models, codes and exports (after a delete: they are keyed by version, so a retrain
    never needs this)."""
    _engine.clear()
    _held_out_codes.clear()
    _held_out_errors.clear()
    _keras_file.clear()


@st.cache_resource(show_spinner=False, max_entries=8)
def _builtin_fingerprint(name: str) -> str:
    return load_dataset(name).fingerprint


def builtin_fingerprint(name: str) -> str | None:
    """The content fingerprint of a built-in dataset that loads offline (None otherwise: no page view
    may start a download)."""
    offline = {d["name"]: d["available_offline"] for d in list_datasets()}
    if not offline.get(name):
        return None
    try:
        return _builtin_fingerprint(name)
    except (ValueError, RuntimeError):
        return None


# --- the workspace's training job ------------------------------------------------------------------
class _Board:
    """Each workspace's current training job, and the job whose end was announced, for the whole process."""

    def __init__(self):
        self.lock = threading.Lock()
        self.jobs: dict[str, jobs.TrainingJob] = {}
        self.announced: dict[str, jobs.TrainingJob] = {}


@st.cache_resource(show_spinner=False)
def _board() -> _Board:
    return _Board()


def current_job() -> jobs.TrainingJob | None:
    """The workspace's current training job (running, or the last one, ended), else None."""
    board = _board()
    with board.lock:
        job = board.jobs.get(workspace().id)
    if job is not None:
        st.session_state[JOB] = job
    return job


def set_job(job: jobs.TrainingJob) -> None:
    """Make `job` the workspace's current job (a page starts one only when none is running). The process keeps
    the last `KEEP_FINISHED` workspaces' ended jobs (their outcome), every running one."""
    board, ws_id = _board(), workspace().id
    with board.lock:
        board.jobs.pop(ws_id, None)
        board.jobs[ws_id] = job  # the newest last
        ended = [k for k, j in board.jobs.items() if not j.running]
        for k in ended[:max(0, len(ended) - KEEP_FINISHED)]:
            del board.jobs[k]
            board.announced.pop(k, None)
    st.session_state[JOB] = job


def job_running() -> bool:
    """Whether the workspace's training job is running (the buttons that start one wait for it)."""
    job = current_job()
    return job is not None and job.running


def progress(job: jobs.TrainingJob) -> None:
    """The job's progress bar: its place in line while it waits, then epoch, batch, loss, elapsed and ETA."""
    ev = job.latest
    if job.state == "queued":
        place = getattr(job, "queue_position", 0)
        st.progress(0.0, text=f"Waiting for a training slot: place {place} in line" if place
                    else "Waiting for a training slot…")
        return
    if job.state == "loading" or ev is None:
        st.progress(0.0, text="Loading the dataset…" if job.state == "loading" else "Starting…")
        return
    done = min(1.0, (ev.epoch - 1 + ev.batch / max(ev.batches, 1)) / ev.epochs)
    loss = ev.losses.get("loss", float("nan"))
    eta = f"ETA {ev.eta:.0f} s" if math.isfinite(ev.eta) else "ETA: measuring the pace…"  # after one batch
    st.progress(done, text=f"Epoch {ev.epoch}/{ev.epochs} · batch {ev.batch}/{ev.batches} · loss {loss:.4f} · "
                           f"{ev.elapsed:.0f} s elapsed · {eta}")


def stop_button(job: jobs.TrainingJob, key: str) -> None:
    """Stop (after the current batch, keeping the best weights; a job still waiting is withdrawn)."""
    if job.stop_event.is_set():
        st.button("Stopping after this batch…", disabled=True, key=f"{key}_wait")
    elif st.button("Stop", key=key, type="secondary", help="Stop after the current batch and keep the best weights"):
        job.stop()


@st.fragment(run_every=1.0)
def _job_status() -> None:
    job = current_job()
    if job is None or not job.running:
        st.rerun(scope="app")  # redraw the page: the end is announced, the new model listed
    st.caption(f"Training **{job.config.describe()}**")
    progress(job)
    stop_button(job, "job_stop_sidebar")


def job_on_this_page() -> None:
    """This page shows the job itself (`training_panel.job_panel`): call before the sidebar, which only names it."""
    st.session_state[JOB_ON_PAGE] = True


def job_sidebar() -> str | None:
    """The sidebar's view of the workspace's job: while it runs, its progress and Stop (updated every second; on a
    page that shows the job itself, `job_on_this_page`, only its name); once it ended, a toast saying so, once per
    workspace. Returns the key of the model it just made (to become the active model), once; else None."""
    job, on_page = current_job(), st.session_state.pop(JOB_ON_PAGE, False)
    if job is None:
        return None
    if job.running:
        with st.sidebar:
            if on_page:
                st.caption(f"Training **{job.config.describe()}**: its progress and Stop are on this page.")
            else:
                _job_status()
        return None
    board, ws_id = _board(), workspace().id
    with board.lock:
        if board.announced.get(ws_id) is job:
            return None
        board.announced[ws_id] = job
    if job.entry is not None:
        st.toast(f"Training ended ({job.entry.status()}): {job.entry.config.describe()} is now the active model.",
                 icon="✅")
        return job.entry.key
    st.toast(f"Training {job.config.describe()} {'failed' if job.state == 'failed' else 'ended'}: {job.error}",
             icon="⚠️")
    return None
