"""Training jobs, for user interfaces that must stay responsive: in worker processes or in a thread.

`start_training(config, load, cache)` is the entry point: by default the job
trains in a worker process of a Dask cluster (`ClusterJob`, see
`aecore.cluster`: an embedded local cluster, or the one `AECORE_CLUSTER`
names); with `AECORE_CLUSTER=off` it trains in a daemon thread of this
process (`TrainingJob`). Both have the same interface: the UI polls
`job.state`, `job.latest`, `job.history` and `job.queue_position` to draw live
curves and the queue, and calls `job.stop()` from a Stop button (training ends
after the current batch and keeps the best weights so far). Every job has an
`id` and can be looked up again with `get_job(id)`, from any session of the
process, while it runs and for a while after.
"""

from __future__ import annotations

import os
import secrets
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable

from .cache import Entry, ModelCache, train_or_load
from .config import ModelConfig
from .data import Dataset
from .train import Progress

STATES = ("queued", "loading", "training", "done", "stopped", "failed")
KEEP_FINISHED = 32  # finished jobs kept for `get_job`, the oldest forgotten first (an in-process one holds its model)

_registry: OrderedDict[str, TrainingJob] = OrderedDict()
_registry_lock = threading.Lock()


def _register(job: TrainingJob) -> None:
    with _registry_lock:
        _registry[job.id] = job
        finished = [k for k, j in _registry.items() if not j.running and k != job.id]
        for k in finished[:max(0, len(finished) - KEEP_FINISHED)]:
            del _registry[k]


def get_job(job_id: str) -> TrainingJob | None:
    """The job with this id started in this process (running, or among the last finished ones), else None."""
    with _registry_lock:
        return _registry.get(job_id)


def jobs() -> list[TrainingJob]:
    """The jobs this process knows, oldest first."""
    with _registry_lock:
        return list(_registry.values())


def dataset_source(load) -> dict | None:
    """The worker-side source a job's `load` names, or None when it is a function or a `Dataset` (loaded here).

    A str is a built-in dataset's name; a dict is {"builtin": name, "limit":
    n, "data_dir": path} (loaded by whoever trains, from its own data folder)
    or {"path": a file `aecore.data.save_dataset` wrote, "fingerprint": ...}.
    """
    if isinstance(load, str):
        return {"builtin": load, "limit": None, "data_dir": None}
    if not isinstance(load, dict):
        return None
    keys = set(load)
    if not ({"builtin"} <= keys <= {"builtin", "limit", "data_dir"} or {"path"} <= keys <= {"path", "fingerprint"}):
        raise ValueError(f"Expected a dataset source with the keys builtin (limit, data_dir) or path (fingerprint), "
                         f"received {sorted(keys)}.")
    return dict(load)


def load_source(source: dict) -> Dataset:
    """Load the dataset a `dataset_source` dict names (checking a saved file's fingerprint when one is given)."""
    if "path" in source:
        from .data import load_dataset_file

        ds = load_dataset_file(source["path"])
        expected = source.get("fingerprint")
        if expected and ds.fingerprint != expected:
            raise ValueError(f"Expected the dataset with fingerprint {expected!r} in {source['path']}, received "
                             f"one with {ds.fingerprint!r}: it was replaced since the job was submitted.")
        return ds
    from .builtin_data import load_dataset

    return load_dataset(source["builtin"], data_dir=source.get("data_dir"), limit=source.get("limit"))


def new_job_id() -> str:
    """24 hex characters: the submission time in ns (so ids sort in submission order), then 32 random bits."""
    return f"{time.time_ns():016x}{secrets.token_hex(4)}"


class TrainingJob:
    """Train `config` on the dataset `load()` returns, in a daemon thread of this process.

    Args:
        config: the run's `ModelConfig`.
        load: a function returning the `Dataset` (called in the thread, so a
            slow download does not block the UI), the `Dataset`, or a
            `dataset_source` (a built-in name, or a dict naming a built-in
            dataset or a saved dataset file).
        cache: the `ModelCache` to use. Default `ModelCache()`.
        force: retrain even if a cached entry exists. Default False.
        resume: continue a stopped run of this config. Default False.
        callbacks: functions called with every `Progress` event (in the
            job's thread). Default none.

    States: "loading" -> "training" -> "done" | "stopped" | "failed" (a
    `ClusterJob` is "queued" first). `queue_position` is 0 here: nothing waits.
    """

    def __init__(self, config: ModelConfig, load: Callable[[], Dataset], cache: ModelCache | None = None,
                 force: bool = False, resume: bool = False, callbacks: Iterable[Callable[[Progress], object]] = ()):
        if not isinstance(config, ModelConfig):
            raise ValueError(f"Expected a ModelConfig, received {type(config).__name__}.")
        self.id = new_job_id()
        self.config, self.load, self.cache = config, load, cache or ModelCache()
        self.force, self.resume = force, resume
        self.callbacks = list(callbacks)
        self.stop_event = threading.Event()
        self.state = "loading"
        self.queue_position = 0
        self.key: str | None = None  # the cache key, once the dataset is known
        self.latest: Progress | None = None
        self.entry: Entry | None = None
        self.cached = False
        self.error: str | None = None
        self.submitted = time.time()
        self._thread = threading.Thread(target=self._run, name=f"aecore-job-{self.id}", daemon=True)

    def start(self) -> TrainingJob:
        _register(self)
        self._thread.start()
        return self

    def _progress(self, event: Progress) -> None:
        self.latest = event
        for fn in self.callbacks:
            fn(event)

    def _run(self) -> None:
        try:
            dataset = self._dataset()
            self.key = self.config.replace(dataset_fingerprint=dataset.fingerprint).key()
            self.state = "training"
            self.entry, self.cached = train_or_load(self.config, dataset, self.cache, callbacks=[self._progress],
                                                    stop_event=self.stop_event, force=self.force,
                                                    resume=self.resume)
            self.state = "done" if self.entry.complete else "stopped"
        except Exception as e:  # never let a thread die silently: the UI shows the message
            self._fail(e)

    def _dataset(self) -> Dataset:
        source = dataset_source(self.load)
        if source is not None:
            return load_source(source)
        dataset = self.load() if callable(self.load) else self.load
        if not isinstance(dataset, Dataset):
            raise ValueError(f"Expected the job's data to be an aecore.data.Dataset, received "
                             f"{type(dataset).__name__}.")
        return dataset

    def _fail(self, e: BaseException | str) -> None:
        if isinstance(e, str):
            self.error = e
        elif isinstance(e, (ValueError, RuntimeError, OSError)):  # bad data or settings, TrainingDiverged, I/O
            self.error = str(e)
        else:
            self.error = f"{type(e).__name__}: {e}"
        self.state = "failed"

    def stop(self) -> None:
        """Ask training to stop after the current batch (keeps the best weights so far)."""
        self.stop_event.set()

    @property
    def running(self) -> bool:
        return self._thread.is_alive()

    def wait(self, timeout: float | None = None) -> bool:
        """Block until the job ends (or `timeout` seconds); True when it has ended."""
        self._thread.join(timeout)
        return not self._thread.is_alive()

    @property
    def history(self) -> dict[str, list[float]]:
        if self.entry is not None:
            return self.entry.history
        return self.latest.history if self.latest is not None else {}


class ClusterJob(TrainingJob):
    """Train `config` in a worker process of the Dask cluster; followed by a thread of this process.

    Same arguments and attributes as `TrainingJob`, plus:

    Args:
        load: as for `TrainingJob`. A function returning the `Dataset` (or
            the `Dataset`) is called here, and the dataset saved once per
            content under `<models dir>/datasets/` for the worker to read. A
            `dataset_source` (a built-in name, {"builtin": ...} or
            {"path": ..., "fingerprint": ...}) is loaded by the worker itself
            (a built-in one from its own `AECORE_DATA_DIR`).
        client: the `distributed.Client`. Default `aecore.cluster.get_client()`
            (`AECORE_CLUSTER`, else the embedded cluster).

    States: "loading" (the dataset, here) -> "queued" (`queue_position` is
    the job's place in line, 1 for the next) -> "loading" (on the worker) ->
    "training" -> "done" | "stopped" | "failed". `entry` is re-read from the
    shared model folder by key, without its model (`ModelCache.load` builds
    it). Stop while queued withdraws the job: "stopped" with no `entry`, and
    `error` says so. `worker` and `worker_pid` say where it runs.
    """

    POLL_SECONDS = 0.2
    QUEUE_POLL_SECONDS = 0.5

    def __init__(self, config: ModelConfig, load, cache: ModelCache | None = None, force: bool = False,
                 resume: bool = False, callbacks: Iterable[Callable[[Progress], object]] = (), client=None):
        super().__init__(config, load, cache, force, resume, callbacks)
        self.client = client
        self.worker: str | None = None
        self.worker_pid: int | None = None
        self.future = None

    def _source(self) -> dict:
        from . import cluster

        source = dataset_source(self.load)
        if source is not None:
            if source.get("fingerprint"):
                self.key = self.config.replace(dataset_fingerprint=source["fingerprint"]).key()
            if "path" in source:
                source["path"] = os.path.abspath(source["path"])
            return source
        dataset = self._dataset()
        self.key = self.config.replace(dataset_fingerprint=dataset.fingerprint).key()
        return cluster.store_dataset(dataset, self.cache.root)

    def _run(self) -> None:
        from distributed import Event, Queue

        from . import cluster

        queue = remote_stop = None
        try:
            source = self._source()
            client = self.client or cluster.get_client()
            queue = Queue(cluster.QUEUE_PREFIX + self.id, client=client)  # before the task: it may end first
            remote_stop = Event(cluster.STOP_PREFIX + self.id, client=client)
            if self.stop_event.is_set():
                self.state, self.error = "stopped", cluster.STOPPED_WHILE_QUEUED
                return
            self.future = cluster.submit(client, self.config, source, self.cache.root, self.force, self.resume,
                                         self.id)
            self.state = "queued"
            self._follow(client, queue, remote_stop)
        except Exception as e:  # no dataset, no cluster, ...: the UI shows the message
            self._fail(e)
        finally:
            self._clean_up(queue, remote_stop)

    def _follow(self, client, queue, remote_stop) -> None:
        from . import cluster

        started, stop_sent, last_position = False, False, 0.0
        while True:
            if self.stop_event.is_set() and not stop_sent:
                remote_stop.set()  # a task that has started stops after its current batch
                stop_sent = True
                if not started:
                    self.future.cancel()  # a queued one is withdrawn
            done = self.future.done()  # before draining: every message of a finished task is in the queue
            for msg in queue.get(batch=True):
                started = self._handle(msg) or started
            if done:
                break
            if not started and time.monotonic() - last_position >= self.QUEUE_POLL_SECONDS:
                last_position = time.monotonic()
                self.queue_position = cluster.queue_positions(client).get(self.id, self.queue_position)
            if stop_sent:
                time.sleep(self.POLL_SECONDS)
            else:
                self.stop_event.wait(self.POLL_SECONDS)  # a Stop is sent at once
        self.queue_position = 0
        self._finish()

    def _handle(self, msg: dict) -> bool:
        """Apply one message from the worker; True when it says the task has started."""
        kind = msg.get("type")
        if kind == "started":
            self.worker, self.worker_pid = msg.get("worker"), msg.get("pid")
            self.queue_position, self.state = 0, "loading"
            return True
        if kind == "training":
            self.key, self.state = msg.get("key") or self.key, "training"
        elif kind == "progress":
            event = dict(msg["event"])
            if event.get("history") is None:  # batch events leave the history out: it changes at epoch ends
                event["history"] = self.latest.history if self.latest is not None else {}
            else:  # lists, as in-process (the scheduler's msgpack hands lists back as tuples)
                event["history"] = {k: list(v) for k, v in event["history"].items()}
            event["losses"] = dict(event["losses"])
            self._progress(Progress(**event))
        return False

    def _finish(self) -> None:
        from distributed.scheduler import KilledWorker

        from . import cluster

        status = self.future.status
        if status == "finished":
            result = self.future.result()
            if "error" in result:
                if result.get("lost"):
                    self._worker_lost()
                else:
                    self._fail(result["error"])
                return
            self.key = result["key"]
            self.entry, self.cached = self.cache.info(self.key), bool(result["cached"])
            self.state = "done" if self.entry.complete else "stopped"
        elif status == "cancelled":
            if self.stop_event.is_set():
                self.state, self.error = "stopped", cluster.STOPPED_WHILE_QUEUED
            else:
                self._fail("The training was cancelled by the cluster (its scheduler restarted or shut down); "
                           "nothing was saved. Start the training again.")
        else:
            e = self.future.exception()
            if isinstance(e, KilledWorker) or "KilledWorker" in type(e).__name__:
                self._worker_lost()
            else:
                self._fail(f"The training cluster could not run the job: {type(e).__name__}: {e}")

    def _worker_lost(self) -> None:
        from . import cluster

        if self.key is not None and not any(j is not self and j.running and j.key == self.key for j in jobs()):
            cluster.remove_temporaries(self.cache.root, self.key)  # a save cut short leaves nothing behind
        self._fail(cluster.WORKER_LOST)

    def _clean_up(self, queue, remote_stop) -> None:
        for release in (lambda: queue.close(), lambda: remote_stop.clear(), lambda: self.future.release()):
            try:
                release()
            except Exception:  # already gone, or the cluster is
                pass


def start_training(config: ModelConfig, load, cache: ModelCache | None = None, force: bool = False,
                   resume: bool = False, callbacks: Iterable[Callable[[Progress], object]] = (),
                   client=None) -> TrainingJob:
    """Start a training job where `AECORE_CLUSTER` says (default: the embedded cluster); returns it running.

    Args: as for `ClusterJob` (`TrainingJob` with `AECORE_CLUSTER=off`, where
    `load` must be a function or a `Dataset`).
    """
    from .cluster import OFF, cluster_setting

    if client is None and cluster_setting() == OFF:
        return TrainingJob(config, load, cache, force, resume, callbacks).start()
    return ClusterJob(config, load, cache, force, resume, callbacks, client=client).start()
