"""Starting a training in the app, and the full view of it: live progress, loss curves and Stop, then its outcome.

The live view is cheap to poll: the progress and Stop are one fragment (every
second), the curves another (every two seconds), built once per job and epoch
count; a page that shows the job says so before its sidebar is drawn
(`workspace_ui.job_on_this_page`), so the sidebar does not follow it as well.

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

POLL_SECONDS = 1.0  # how often a running job's progress and Stop are redrawn
CHART_SECONDS = 2.0  # ... and its loss curves: a chart costs ~10 ms to send, and changes only at an epoch's end
CURVES = (("", "train", "solid", "#1f77b4"), ("val_", "validation", "dot", "#ff7f0e"))  # history prefix, name, line


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


def epoch_step(epochs: int) -> int:
    """Epochs between two ticks of a loss chart's axis: 1, 2, 5, 10, 20, 50, … so that about ten or fewer
    show; always a whole number (a short run gets no tick at 1.5)."""
    step = 1
    while epochs / step > 10:
        step = step * 5 // 2 if str(step)[0] == "2" else step * 2
    return step


def loss_figure(history: dict, kind: str) -> go.Figure:
    """Train (solid) and validation (dotted) curves per epoch, one panel per loss (a VAE's reconstruction and KL
    too); whole-number epoch ticks, the legend beside the panels (never over their axis titles)."""
    panels = [("loss", "loss")] + ([("recon", "reconstruction"), ("kl", "KL (nats)")] if kind == "vae" else [])
    fig = make_subplots(rows=1, cols=len(panels), subplot_titles=[t for _, t in panels])
    for col, (name, _) in enumerate(panels, start=1):
        for prefix, label, dash, colour in CURVES:
            ys = history.get(prefix + name, [])
            fig.add_trace(go.Scatter(x=list(range(1, len(ys) + 1)), y=ys, mode="lines+markers", name=label,
                                     legendgroup=label, showlegend=col == 1, line={"dash": dash, "color": colour}),
                          row=1, col=col)
    epochs = max((len(v) for v in history.values()), default=1)
    fig.update_xaxes(title_text="epoch", tickmode="linear", tick0=0, dtick=epoch_step(epochs))
    fig.update_layout(height=300, margin={"l": 10, "r": 10, "t": 30, "b": 10},
                      legend={"orientation": "v", "x": 1.02, "xanchor": "left", "y": 1, "yanchor": "top"})
    return fig


@st.cache_resource(show_spinner=False, max_entries=64)
def _live_figure(job_id: str, epochs: int, kind: str, _history: dict) -> go.Figure:
    """A running job's loss figure, built once per job and epoch count (the history changes only at an epoch's
    end; the polls in between reuse it)."""
    return loss_figure({k: list(v[:epochs]) for k, v in _history.items()}, kind)


def _progress_body(job: TrainingJob) -> None:
    st.caption(f"Training **{job.config.describe()}**")
    workspace_ui.stop_button(job, "job_stop")
    workspace_ui.progress(job)


def _chart_body(job: TrainingJob) -> None:
    epochs = len(job.history.get("loss", []))
    if epochs:
        st.plotly_chart(_live_figure(job.id, epochs, job.config.kind, job.history), key=f"live_chart_{epochs}")


@st.fragment(run_every=POLL_SECONDS)
def _live_progress() -> None:
    job = workspace_ui.current_job()
    if job is None or not job.running:
        st.rerun(scope="app")  # redraw the whole page: the outcome, and the sidebar gains the new model
    _progress_body(job)


@st.fragment(run_every=CHART_SECONDS)
def _live_chart() -> None:
    job = workspace_ui.current_job()
    if job is not None:  # its end reruns the page from _live_progress
        _chart_body(job)


def job_panel(config: aecore.ModelConfig | None) -> TrainingJob | None:
    """Show the workspace's training job: live while it runs (progress and Stop every `POLL_SECONDS`, the loss
    curves every `CHART_SECONDS`), then its outcome, only where it belongs.

    Args:
        config: the configuration this page is about (the Train page's settings, Home's default model), or None.
            An ended job's outcome is shown only when it trained exactly this configuration: a message about
            another one (say Home's "Loaded from the cache" on the Train page, or after the settings changed)
            would read as if it were about these settings.
    Returns the job shown, or None.
    """
    job = workspace_ui.current_job()
    if job is None:
        return None
    if job.running:
        _live_progress()
        _live_chart()
        return job
    if config is None or job.config != config:
        return None
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
                   f"{entry.status()}, key {entry.key}). {summary}")
    elif job.state == "stopped":
        best = f"kept the best weights (epoch {entry.best_epoch})" if entry.best_epoch else "kept the weights so far"
        st.warning(f"{entry.status().capitalize()}; {best}. This model is listed and usable, but it does not "
                   f"stand for the full {entry.config.epochs}-epoch configuration: the Train page can resume it. "
                   f"{summary}")
    else:
        st.success(f"Trained {entry.config.describe()} in {entry.seconds:.0f} s: {entry.status()}, best held-out "
                   f"loss at epoch {entry.best_epoch}. {summary}")
    if entry.history:
        st.plotly_chart(loss_figure(entry.history, entry.config.kind), key="final_chart")
    return job
