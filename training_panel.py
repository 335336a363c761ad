"""Background training in the app: start a job, show it live (progress, loss curves, a Stop button), then its outcome.

Home's one-click default model and the Train page start a job with
`start_job` and show it with `job_panel`; a session runs one job at a time
(`job_running`). The job (`aecore.jobs.TrainingJob`) trains in a thread and
stays in session state under `ui.JOB`, so it outlives reruns and page
switches; once it has a model, the sidebar's picker makes that model active.
"""

from __future__ import annotations

import plotly.graph_objects as go
import streamlit as st
from plotly.subplots import make_subplots

import aecore
import ui
from aecore.jobs import TrainingJob


def job_running() -> bool:
    """Whether this session's training job is running (the buttons that start one wait for it)."""
    job = st.session_state.get(ui.JOB)
    return job is not None and job.running


def start_job(config: aecore.ModelConfig, load, force: bool = False, resume: bool = False) -> TrainingJob:
    """Start training (or resume a stopped run) in the background; the page then calls `job_panel()`."""
    job = TrainingJob(config, load, ui.model_cache(), force=force, resume=resume).start()
    st.session_state[ui.JOB] = job
    return job


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
    ev = job.latest
    if job.state == "loading" or ev is None:
        st.progress(0.0, text="Loading the dataset…" if job.state == "loading" else "Starting…")
        return
    done = min(1.0, (ev.epoch - 1 + ev.batch / max(ev.batches, 1)) / ev.epochs)
    loss = ev.losses.get("loss", float("nan"))
    st.progress(done, text=f"Epoch {ev.epoch}/{ev.epochs} · batch {ev.batch}/{ev.batches} · "
                           f"loss {loss:.4f} · {ev.elapsed:.0f} s elapsed · ETA {ev.eta:.0f} s")
    if job.history:
        st.plotly_chart(loss_figure(job.history, job.config.kind), key=f"live_chart_{len(job.history.get('loss', []))}")


@st.fragment(run_every=0.5)
def _live_panel() -> None:
    job: TrainingJob = st.session_state[ui.JOB]
    if not job.running:
        st.rerun(scope="app")  # redraw the whole page: the sidebar gains the new model
    if job.stop_event.is_set():
        st.button("Stopping after this batch…", disabled=True, key="job_stop_wait")
    elif st.button("Stop", key="job_stop", type="secondary",
                   help="Stop after the current batch and keep the best weights"):
        job.stop()
    _progress_view(job)


def job_panel() -> TrainingJob | None:
    """Show this session's training job: live while it runs, the outcome once it ended."""
    job: TrainingJob | None = st.session_state.get(ui.JOB)
    if job is None:
        return None
    if job.running:
        _live_panel()
        return job
    if job.state == "failed":
        st.error(f"Training failed: {job.error}")
        return job
    entry = job.entry
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
