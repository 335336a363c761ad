"""Starting a training in the app, and the full view of it: live progress, loss curves and Stop, then its outcome.

Home's one-click default model and the Train page start a job with
`start_job` and show it with `job_panel`. The job belongs to the session's
workspace (`workspace_ui` keeps it for the process, one running at a time per
workspace), so it outlives reruns, page switches and reloads; every page's
sidebar shows it while it runs, announces its end and makes its model active.
A model trained on a built-in dataset goes to the shared cache; one trained on
an upload, with the upload itself, to the workspace.
"""

from __future__ import annotations

import functools

import plotly.graph_objects as go
import streamlit as st
from plotly.subplots import make_subplots

import aecore
import ui
import workspace_ui
from aecore.builtin_data import load_dataset
from aecore.data import Dataset
from aecore.jobs import TrainingJob, start_training


def start_job(config: aecore.ModelConfig, upload: Dataset | None = None, force: bool = False,
              resume: bool = False) -> None:
    """Start training (or resume a stopped run) in the background as the workspace's job, then run the page again
    (its `job_panel()` and the sidebar show the job).

    Args:
        config: the run's settings; `config.dataset` names the built-in dataset (loaded in the job) or the upload.
        upload: the uploaded `Dataset` to train on, if any: it is kept in the workspace first (beside the model,
            so its pages work after a restart) and the job reads it from there.
        force, resume: as for `aecore.jobs.TrainingJob`.
    When the upload cannot be kept, nothing starts and the reason is shown.
    """
    if upload is None:
        load = functools.partial(load_dataset, config.dataset)
    else:
        try:
            with st.spinner("Keeping your images in the workspace…"):
                path = workspace_ui.workspace().keep_dataset(upload)
        except (OSError, ValueError) as e:
            st.error(f"Your images could not be kept in the workspace, so nothing was trained: {e}")
            return
        load = {"path": str(path), "fingerprint": upload.fingerprint}  # the job (and a worker) reads the kept file
    job = start_training(config, load, workspace_ui.cache_for(config.dataset), force=force, resume=resume)
    workspace_ui.set_job(job)
    st.rerun()  # the whole page again: the sidebar (drawn before the button was pressed) shows the job too


def loss_figure(history: dict, kind: str) -> go.Figure:
    """Train/validation curves per epoch; a VAE gets reconstruction and KL panels too."""
    panels = [("loss", "loss")] + ([("recon", "reconstruction"), ("kl", "KL (nats)")] if kind == "vae" else [])
    fig = make_subplots(rows=1, cols=len(panels), subplot_titles=[t for _, t in panels])
    for col, (name, _) in enumerate(panels, start=1):
        for prefix, dash in (("", "solid"), ("val_", "dot")):
            ys = history.get(prefix + name, [])
            fig.add_trace(go.Scatter(x=list(range(1, len(ys) + 1)), y=ys, mode="lines+markers",
                                     name=("validation " if prefix else "train ") + name,
                                     line={"dash": dash}), row=1, col=col)
        fig.update_xaxes(title_text="epoch", row=1, col=col)
    fig.update_layout(height=300, margin={"l": 10, "r": 10, "t": 30, "b": 10}, legend={"orientation": "h"})
    return fig


def _progress_view(job: TrainingJob) -> None:
    workspace_ui.progress(job)
    if job.history:
        st.plotly_chart(loss_figure(job.history, job.config.kind), key=f"live_chart_{len(job.history.get('loss', []))}")


@st.fragment(run_every=0.5)
def _live_panel() -> None:
    job = workspace_ui.current_job()
    if job is None or not job.running:
        st.rerun(scope="app")  # redraw the whole page: the sidebar gains the new model
    workspace_ui.stop_button(job, "job_stop")
    _progress_view(job)


def job_panel() -> TrainingJob | None:
    """Show the workspace's training job: live while it runs, the outcome once it ended."""
    job = workspace_ui.current_job()
    if job is None:
        return None
    if job.running:
        _live_panel()
        return job
    if job.state == "failed":
        st.error(f"Training failed: {job.error}")
        return job
    entry = job.entry
    if entry is None:  # stopped while it waited for a training slot
        st.warning(job.error or "Stopped before it started: nothing was trained.")
        return job
    summary = ui.metrics_line(entry.metrics)
    if job.cached:
        st.success(f"Loaded from the cache: this exact configuration was trained before ({entry.config.describe()}, "
                   f"key {entry.key}). {summary}")
    elif job.state == "stopped":
        best = f"kept the best weights (epoch {entry.best_epoch})" if entry.best_epoch else "kept the weights so far"
        st.warning(f"{entry.status().capitalize()}; {best}. This model is listed and usable, but it does not "
                   f"stand for the full {entry.config.epochs}-epoch configuration: the Train page can resume it. "
                   f"{summary}")
    else:
        st.success(f"Trained {entry.config.describe()} in {entry.seconds:.0f} s "
                   f"({entry.stopped.replace('_', ' ')}, best epoch {entry.best_epoch}). {summary}")
    if entry.history:
        st.plotly_chart(loss_figure(entry.history, entry.config.kind), key="final_chart")
    return job
