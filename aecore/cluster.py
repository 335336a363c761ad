"""Training in worker processes of a Dask distributed cluster, outside the process that serves the UI.

Where training runs is one environment variable, `AECORE_CLUSTER`:

- unset or empty (the app's default): an *embedded* cluster, started on first
  use by the calling process and ended with it (`EmbeddedCluster`: a
  `distributed.LocalCluster` in a helper process, with
  `AECORE_MAX_TRAININGS` worker processes, default max(1, cores - 1), one
  thread each, on 127.0.0.1 only, no dashboard);
- `local`: the same, also for the command line (whose default is to train in
  its own process);
- `tcp://host:8786` (any scheduler address): an existing cluster. Every node
  must see the model folder (`AECORE_MODELS_DIR`) at the same path, and have
  this project installed. Start its workers with one thread and one training
  slot each, K per machine:
  `dask worker tcp://host:8786 --nworkers K --nthreads 1 --resources train=1`;
  start the scheduler with `DASK_DISTRIBUTED__SCHEDULER__ALLOWED_FAILURES=0`
  (else a killed worker's job is retried; `train_task` then refuses the retry
  with the same message as below);
- `off`: no cluster; `aecore.jobs.TrainingJob` trains in a thread of the
  calling process (as before; tests and debugging).

A job is one task, `train_task`, keyed `aecore-train-<job id>`. It talks to the
process that submitted it through the scheduler only (no shared files but the
model folder): progress goes through a Dask `Queue` named by the job id (every
event arrives, in order, so the command line still prints one line per
epoch); Stop is a Dask `Event` named by the job id, watched by a thread on the
worker that sets the `threading.Event` training checks after every batch; the
start of a job is a scheduler event (topic `aecore-train-started`), from which
every client computes the queue (`queue_positions`). The trained entry is
written to the shared model folder by the worker and re-read from there by
key. A dataset is shipped as a file in `<models dir>/datasets/` (see
`aecore.data.save_dataset`), or named (a built-in dataset the worker loads).

Workers run at a lower OS priority than the server (`AECORE_WORKER_NICE`,
default 19, which also puts them in Linux's idle scheduling class), with at
most one training per worker process. A worker process killed mid-training
(OOM killer, `kill -9`) fails its job with `WORKER_LOST`; its nanny starts a
fresh worker, so the next job runs.

This module imports neither TensorFlow nor Streamlit (workers import it to
unpickle `train_task` and the priority plugin); `aecore.jobs` imports it
when a job starts.
"""

from __future__ import annotations

import atexit
import logging
import os
import threading
import time
from pathlib import Path
from typing import Any

from .worker import (  # noqa: F401  (also this module's API: the names a caller of the cluster needs)
    DEFAULT_NICE,
    QUEUE_PREFIX,
    STARTED_TOPIC,
    STOP_PREFIX,
    WORKER_LOST,
    WORKER_NICE_ENV,
    LowerPriority,
    lower_priority,
    progress_message,
    train_task,
    worker_nice,
)

CLUSTER_ENV = "AECORE_CLUSTER"
MAX_TRAININGS_ENV = "AECORE_MAX_TRAININGS"
OFF = "off"
LOCAL = "local"
RESOURCE = "train"  # one unit per worker process: one training at a time per worker
TASK_PREFIX = "aecore-train-"
DATASETS_DIR = "datasets"  # under the model folder: the datasets jobs train on, one file per fingerprint
PLUGIN_NAME = "aecore-lower-priority"

STOPPED_WHILE_QUEUED = "Stopped while waiting for a training slot: nothing was trained."

log = logging.getLogger(__name__)


# --- settings ------------------------------------------------------------------------------------------------------
def cluster_setting() -> str:
    """`$AECORE_CLUSTER` stripped: "" (embedded, the app's default), "local", "off" or a scheduler address."""
    value = os.environ.get(CLUSTER_ENV, "").strip()
    return value.lower() if value.lower() in (OFF, LOCAL) else value


def max_trainings() -> int:
    """Trainings that run at once in the embedded cluster: `$AECORE_MAX_TRAININGS`, default max(1, cores - 1)."""
    text = os.environ.get(MAX_TRAININGS_ENV, "").strip()
    if not text:
        return max(1, (os.cpu_count() or 2) - 1)
    try:
        k = int(text)
    except ValueError:
        k = 0
    if k < 1:
        raise ValueError(f"Expected {MAX_TRAININGS_ENV} a whole number >= 1, received {text!r}.")
    return k


# --- the client: embedded cluster or an existing one ---------------------------------------------------------------
_lock = threading.Lock()
_clients: dict[str, Any] = {}  # "" (embedded) or address -> Client
_embedded: EmbeddedCluster | None = None  # the cluster this process started
STARTUP_SECONDS = 120  # the embedded cluster must be up within this (a loaded 2-core machine: ~2-10 s)


def start_local_cluster(n_workers: int | None = None, **kwargs):
    """A `distributed.LocalCluster` as aecore uses it: processes, one thread and one training slot each,
    127.0.0.1 only, no dashboard, a killed worker fails its task (no retry).

    Args:
        n_workers: worker processes. Default `max_trainings()`.
        kwargs: more `LocalCluster` arguments (they override these).
    """
    from distributed import LocalCluster

    settings = dict(n_workers=n_workers or max_trainings(), threads_per_worker=1, processes=True, host="127.0.0.1",
                    dashboard_address=None, resources={RESOURCE: 1}, silence_logs=logging.ERROR,
                    # no dashboard; the scheduler's small HTTP server (health checks) on a free port of 127.0.0.1
                    scheduler_kwargs={"allowed_failures": 0, "dashboard": False, "dashboard_address": "127.0.0.1:0"})
    settings.update(kwargs)
    return LocalCluster(**settings)


class EmbeddedCluster:
    """The embedded cluster: `start_local_cluster()` in a process of its own, started now, stopped by `stop()`
    or when this process ends, however it ends.

    Why a process of its own: worker processes are started with
    multiprocessing's "spawn", which imports the parent's `__main__` again in
    every worker, and under Streamlit `__main__` is the page script being run
    (Streamlit puts it there): workers started from the app process would run
    the app. The helper process is `python -c ...`, whose `__main__` is
    empty; it is in a session of its own (Ctrl-C in the terminal reaches the
    app or the command line, never the training), and ends when its stdin,
    a pipe from this process, closes. The scheduler's work leaves this
    process with it.
    """

    def __init__(self, n_workers: int | None = None):
        import json
        import subprocess
        import sys

        root = str(Path(__file__).resolve().parent.parent)  # workers import aecore from here, as this process does
        env = {**os.environ, MAX_TRAININGS_ENV: str(n_workers or max_trainings()),
               "PYTHONPATH": os.pathsep.join([root, *filter(None, [os.environ.get("PYTHONPATH")])])}
        self.process = subprocess.Popen([sys.executable, "-c", "from aecore.cluster import serve_local; serve_local()"],
                                        stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=env, text=True,
                                        start_new_session=True)
        line: list[str] = []
        reader = threading.Thread(target=lambda: line.append(self.process.stdout.readline()), daemon=True)
        reader.start()
        reader.join(STARTUP_SECONDS)
        try:
            self.address = json.loads(line[0])["address"] if line and line[0] else None
        except (ValueError, KeyError, TypeError):
            self.address = None
        if self.address is None:
            self.stop()
            raise RuntimeError(f"Expected the embedded training cluster to start within {STARTUP_SECONDS} s, "
                               f"received {'no answer' if not line else repr(line[0][:200])} (see the log above).")

    def stop(self, timeout: float = 15.0) -> None:
        """Close the cluster (its stdin), then wait for it; SIGKILL after `timeout` seconds."""
        import subprocess

        try:
            self.process.stdin.close()
        except OSError:
            pass
        try:
            self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


def serve_local() -> None:
    """The embedded cluster's process (`EmbeddedCluster`): start `start_local_cluster()`, write its address as
    a JSON line on stdout, and keep it until stdin closes."""
    import json
    import sys

    local = start_local_cluster()
    sys.stdout.write(json.dumps({"address": local.scheduler_address}) + "\n")
    sys.stdout.flush()
    os.dup2(2, 1)  # anything printed later goes to the log, never into a pipe nobody reads
    try:
        sys.stdin.read()  # until the process that started us closes the pipe, or ends
    finally:
        local.close(timeout=10)


def prepare_client(client, embedded: bool = False) -> Any:
    """Install the worker plugin (`LowerPriority`) on `client`'s cluster; returns `client`.

    Args:
        client: a `distributed.Client`.
        embedded: the cluster belongs to this process (its workers then ignore Ctrl-C). Default False.
    Raises RuntimeError when the workers cannot import aecore (the project is
    not installed there).
    """
    try:
        client.register_plugin(LowerPriority(worker_nice(), ignore_interrupt=embedded), name=PLUGIN_NAME)
    except (ImportError, ModuleNotFoundError) as e:
        raise RuntimeError(f"Expected the workers of the training cluster to import aecore, received {e!r}: "
                           f"install this project on every worker node.") from None
    return client


def get_client(address: str | None = None):
    """The Dask client training goes through, started on first use and kept for the process.

    Args:
        address: a scheduler address, or "local" (or "") for the embedded
            cluster. Default `$AECORE_CLUSTER`.
    Raises:
        ValueError: `AECORE_CLUSTER=off` (train in-process instead).
        OSError: no scheduler answers at the address.
    """
    from distributed import Client

    address = cluster_setting() if address is None else address.strip()
    if address.lower() == OFF:
        raise ValueError(f"Expected a cluster, received {CLUSTER_ENV}=off: training runs in this process.")
    slot = "" if address.lower() in ("", LOCAL) else address
    global _embedded
    with _lock:
        client = _clients.get(slot)
        if client is not None and client.status in ("running", "connecting"):
            return client
        if slot:
            try:
                client = Client(slot, timeout="10s", set_as_default=False)
            except (OSError, TimeoutError) as e:
                raise OSError(f"Expected a Dask scheduler at {slot} ({CLUSTER_ENV}), received no answer: {e}") \
                    from None
        else:
            if _embedded is not None:
                _embedded.stop()
            _embedded = EmbeddedCluster()
            client = Client(_embedded.address, timeout="30s", set_as_default=False)
        _clients[slot] = prepare_client(client, embedded=not slot)
        return client


def shutdown() -> None:
    """Close this process's clients and the embedded cluster (at exit, or to start afresh)."""
    global _embedded
    with _lock:
        for client in _clients.values():
            try:
                client.close(timeout=5)
            except Exception:  # closing anyway
                pass
        _clients.clear()
        if _embedded is not None:
            _embedded.stop()
            _embedded = None


atexit.register(shutdown)


def describe(client) -> str:
    """Where training goes, for people: 'embedded (2 workers)' or 'tcp://host:8786 (8 workers)'."""
    n = len(client.scheduler_info(n_workers=-1).get("workers", {}))
    where = "embedded" if client is _clients.get("") else client.scheduler.address
    return f"{where} ({n} worker{'s' if n != 1 else ''})"


# --- submitting and following a job ----------------------------------------------------------------------------------
def dataset_path(models_dir: str | os.PathLike, fingerprint: str) -> Path:
    """Where the dataset with this fingerprint is stored for the workers."""
    if not (len(fingerprint) == 16 and all(c in "0123456789abcdef" for c in fingerprint)):
        raise ValueError(f"Expected a dataset fingerprint of 16 hex characters, received {fingerprint!r}.")
    return Path(models_dir) / DATASETS_DIR / f"{fingerprint}.npz"


def store_dataset(dataset, models_dir: str | os.PathLike) -> dict:
    """Save `dataset` where every worker reads it (once per content); returns the job's data source."""
    from .data import save_dataset

    path = dataset_path(models_dir, dataset.fingerprint)
    if not path.is_file():
        path.parent.mkdir(parents=True, exist_ok=True)
        for tmp in path.parent.glob(".*.tmp"):  # what a process killed while saving left, an hour ago or more
            try:
                if time.time() - tmp.stat().st_mtime > 3600:
                    tmp.unlink()
            except OSError:
                pass
        save_dataset(dataset, path)
    return {"path": str(path), "fingerprint": dataset.fingerprint}


def submit(client, config, source: dict, models_dir: str | os.PathLike, force: bool, resume: bool, job_id: str):
    """Submit `train_task`; returns the Dask future (keyed `aecore-train-<job id>`).

    The task asks for one `train` resource when the cluster's workers declare
    it (the embedded cluster does), so one worker trains one model at a time.
    """
    workers = client.scheduler_info(n_workers=-1).get("workers", {}).values()
    resources = {RESOURCE: 1} if any(RESOURCE in (w.get("resources") or {}) for w in workers) else None
    return client.submit(train_task, config.to_dict(), source, os.path.abspath(models_dir), bool(force), bool(resume),
                         job_id, key=TASK_PREFIX + job_id, pure=False, retries=0, resources=resources)


def _pending_tasks_query():
    """A function for `run_on_scheduler` (defined here so that it is pickled by value: the scheduler needs no
    aecore): the keys of training tasks not finished yet."""
    def pending(dask_scheduler=None, prefix=TASK_PREFIX):
        return [k for k, ts in dask_scheduler.tasks.items() if isinstance(k, str) and k.startswith(prefix)
                and ts.state in ("released", "waiting", "queued", "no-worker", "processing")]

    return pending


def started_jobs(client) -> set[str]:
    """The ids of the jobs whose task has started on a worker (this cluster's scheduler events)."""
    return {msg.get("id") for _, msg in client.get_events(STARTED_TOPIC) if isinstance(msg, dict)}


_positions: dict[int, tuple[float, dict[str, int]]] = {}  # id(client) -> (when, answer): shared by its jobs
_positions_lock = threading.Lock()


def queue_positions(client, max_age: float = 0.4) -> dict[str, int]:
    """Place in line of every job waiting for a training slot on the cluster: {job id: 1 for the next, 2, ...}.

    Jobs are ordered by submission (their ids start with the submission time);
    a job that has started is not in the line. The answer is reused for
    `max_age` seconds, so many queued jobs ask the scheduler once.
    """
    with _positions_lock:
        when, answer = _positions.get(id(client), (0.0, {}))
        if time.monotonic() - when <= max_age:
            return answer
    pending = sorted(client.run_on_scheduler(_pending_tasks_query()))
    started = started_jobs(client)
    waiting = [k[len(TASK_PREFIX):] for k in pending if k[len(TASK_PREFIX):] not in started]
    answer = {job_id: i + 1 for i, job_id in enumerate(waiting)}
    with _positions_lock:
        _positions[id(client)] = (time.monotonic(), answer)
    return answer


def remove_temporaries(models_dir: str | os.PathLike, key: str) -> list[str]:
    """Remove what a killed save of the entry `key` left in the model folder; returns the names removed."""
    removed = []
    for tmp in Path(models_dir).glob(f".{key}-*.tmp"):
        try:
            tmp.unlink()
            removed.append(tmp.name)
        except OSError:
            pass
    return removed
