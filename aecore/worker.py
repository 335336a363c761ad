"""What runs inside a training worker process of the Dask cluster (`aecore.cluster` is the submitting side).

`train_task` trains one job: it lowers the worker's OS priority, announces
the job's start (a scheduler event, from which the queue is computed),
streams every `Progress` to the job's Dask `Queue`, watches the job's Dask
`Event` for Stop, and writes the entry into the shared model folder through
`aecore.cache.train_or_load`. `LowerPriority` is the worker plugin that
renices a worker when it starts. Imports neither TensorFlow (until a job
runs) nor Streamlit.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import threading

from distributed import WorkerPlugin

log = logging.getLogger(__name__)

WORKER_NICE_ENV = "AECORE_WORKER_NICE"
DEFAULT_NICE = 19  # the lowest priority: a training takes only the CPU time the server and the browsers leave
QUEUE_PREFIX = "aecore-progress-"
STOP_PREFIX = "aecore-stop-"
STARTED_TOPIC = "aecore-train-started"
WORKER_LOST = ("The training worker stopped unexpectedly (its process was killed or ran out of memory); "
               "nothing was saved. Start the training again.")


def worker_nice() -> int:
    """The nice value of training workers: `$AECORE_WORKER_NICE`, default 19 (0..19)."""
    text = os.environ.get(WORKER_NICE_ENV, "").strip()
    try:
        n = int(text) if text else DEFAULT_NICE
    except ValueError:
        n = -1
    if not 0 <= n <= 19:
        raise ValueError(f"Expected {WORKER_NICE_ENV} a whole number in 0..19, received {text!r}.")
    return n


def lower_priority(nice: int | None = None) -> None:
    """Raise this process's nice value to `nice` (never lower it), for every thread it has; at 19, also put every
    thread in Linux's idle scheduling class (`SCHED_IDLE`).

    On Linux the nice value and the scheduling class belong to each thread, and new threads inherit their
    creator's: every thread is changed, and threads started later (TensorFlow's pools) inherit both. Nice 19 alone
    still takes a share of the CPU each time a core is contended (a small weight, but its threads keep running
    until the kernel's next preemption point); an idle-class thread gives way at once to any ordinary one, so
    a page's rerun or a browser's frame is not kept waiting behind a training step.
    """
    nice = worker_nice() if nice is None else nice
    try:
        tids = [int(t) for t in os.listdir("/proc/self/task")]
    except OSError:
        tids = [0]  # elsewhere: the whole process
    idle = getattr(os, "SCHED_IDLE", None) if nice == 19 else None  # Linux only
    for tid in tids:
        try:
            if os.getpriority(os.PRIO_PROCESS, tid) < nice:
                os.setpriority(os.PRIO_PROCESS, tid, nice)
            if idle is not None:
                os.sched_setscheduler(tid, idle, os.sched_param(0))
        except OSError:  # a thread that ended meanwhile, or a platform without it
            pass


class LowerPriority(WorkerPlugin):
    """Lowers a worker's priority when it starts, and when it joins again after a restart.

    `ignore_interrupt` (the embedded cluster): the worker ignores SIGINT, so
    that Ctrl-C in the terminal of the process that started the cluster (sent
    to its whole process group, workers included) reaches only that process,
    which stops the training after the current batch (the command line) or
    closes the cluster on its way out (the app).
    """

    idempotent = True

    def __init__(self, nice: int, ignore_interrupt: bool = False):
        self.nice, self.ignore_interrupt = nice, ignore_interrupt

    def setup(self, worker):
        lower_priority(self.nice)
        if self.ignore_interrupt and threading.current_thread() is threading.main_thread():
            import signal

            signal.signal(signal.SIGINT, signal.SIG_IGN)


def progress_message(event, with_history: bool = True) -> dict:
    """A `Progress` as a plain dict for the job's queue; `with_history=False` leaves the per-epoch history out
    (None: the receiver keeps the one it has), so a long run does not send it a few times a second."""
    msg = dataclasses.asdict(event)
    if not with_history:
        msg["history"] = None
    return {"type": "progress", "event": msg}


class _ProgressSender:
    """Worker side: sends every `Progress` to the job's queue, the history only when it has changed."""

    def __init__(self, publish):
        self.publish, self.sent = publish, None

    def __call__(self, event) -> None:
        size = {k: len(v) for k, v in event.history.items()}
        self.publish(progress_message(event, with_history=size != self.sent or event.phase != "batch"))
        self.sent = size


def _watch_stop(remote, stop: threading.Event, finished: threading.Event) -> None:
    """Worker side: set `stop` (what training checks every batch) once the job's Dask Event is set."""
    while not finished.is_set():
        try:
            if remote.wait(timeout=0.5):
                stop.set()
                return
        except Exception:  # the scheduler out of reach for a moment, or the task ending: look again
            finished.wait(0.5)


def train_task(config: dict, source: dict, models_dir: str, force: bool, resume: bool, job_id: str) -> dict:
    """Run on a worker: `train_or_load` with progress to the job's queue and Stop from its event.

    Args:
        config: `ModelConfig.to_dict()`.
        source: {"path": <saved dataset .npz>, "fingerprint": ...} or
            {"builtin": name, "limit": n or None, "data_dir": path or None}.
        models_dir: the model folder, as every node sees it.
        force, resume: as for `aecore.cache.train_or_load`.
        job_id: names the job's queue, stop event and task.
    Returns:
        {"key": cache key, "cached": bool}, or {"error": message} (the same
        message the in-process job gives: bad data, TrainingDiverged, ...).
    """
    os.environ.setdefault("TF_FORCE_GPU_ALLOW_GROWTH", "true")  # K workers may share one GPU
    lower_priority()
    from distributed import Event, Queue, get_client, get_worker

    from .cluster import started_jobs

    worker, client = get_worker(), get_client()
    if job_id in started_jobs(client):  # a retry after its worker died (a cluster that allows retries)
        return {"error": WORKER_LOST, "lost": True}
    queue = Queue(QUEUE_PREFIX + job_id, client=client)
    worker.log_event(STARTED_TOPIC, {"id": job_id, "pid": os.getpid(), "worker": worker.address})

    def publish(msg: dict) -> None:  # progress is best effort: a failed send never fails the training
        try:
            queue.put(msg)
        except Exception as e:
            log.warning("aecore job %s: progress not sent (%s)", job_id, e)

    publish({"type": "started", "pid": os.getpid(), "worker": worker.address})
    stop, finished = threading.Event(), threading.Event()
    threading.Thread(target=_watch_stop, args=(Event(STOP_PREFIX + job_id, client=client), stop, finished),
                     name="aecore-stop-watch", daemon=True).start()
    try:
        import keras

        from .cache import ModelCache, train_or_load
        from .config import ModelConfig
        from .jobs import load_source

        keras.backend.clear_session()  # a worker trains one model at a time: drop the previous job's graph state
        cfg = ModelConfig.from_dict(config)
        dataset = load_source(source)
        publish({"type": "training", "key": cfg.replace(dataset_fingerprint=dataset.fingerprint).key()})
        entry, cached = train_or_load(cfg, dataset, ModelCache(models_dir),
                                      callbacks=[_ProgressSender(publish)],
                                      stop_event=stop, force=force, resume=resume)
        return {"key": entry.key, "cached": bool(cached)}
    except (ValueError, RuntimeError, OSError) as e:  # bad data or settings, TrainingDiverged, CacheError, I/O
        return {"error": str(e)}
    except Exception as e:  # the submitting process shows the message
        return {"error": f"{type(e).__name__}: {e}"}
    finally:
        finished.set()
        try:
            queue.close()
        except Exception:
            pass
