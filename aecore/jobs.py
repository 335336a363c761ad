"""Training in a background thread, for user interfaces that must stay responsive.

A `TrainingJob` loads the dataset, then trains (or loads from the cache) in
a daemon thread, while the UI polls `job.latest`, `job.history` and
`job.state` to draw live curves, and calls `job.stop()` from a Stop button:
training ends after the current batch and keeps the best weights so far.
"""

from __future__ import annotations

import threading
from typing import Callable

from .cache import Entry, ModelCache, train_or_load
from .config import ModelConfig
from .data import Dataset
from .train import Progress


class TrainingJob:
    """Train `config` on the dataset `load()` returns, in the background.

    Args:
        config: the run's `ModelConfig`.
        load: a function returning the `Dataset` (called in the thread, so a
            slow download does not block the UI).
        cache: the `ModelCache` to use. Default `ModelCache()`.
        force: retrain even if a cached entry exists. Default False.
        resume: continue a stopped run of this config. Default False.

    States: "loading" -> "training" -> "done" | "stopped" | "failed".
    """

    def __init__(self, config: ModelConfig, load: Callable[[], Dataset], cache: ModelCache | None = None,
                 force: bool = False, resume: bool = False):
        if not isinstance(config, ModelConfig):
            raise ValueError(f"Expected a ModelConfig, received {type(config).__name__}.")
        self.config, self.load, self.cache = config, load, cache or ModelCache()
        self.force, self.resume = force, resume
        self.stop_event = threading.Event()
        self.state = "loading"
        self.latest: Progress | None = None
        self.entry: Entry | None = None
        self.cached = False
        self.error: str | None = None
        self._thread = threading.Thread(target=self._run, name="aecore-training", daemon=True)

    def start(self) -> "TrainingJob":
        self._thread.start()
        return self

    def _progress(self, event: Progress) -> None:
        self.latest = event

    def _run(self) -> None:
        try:
            dataset = self.load()
            self.state = "training"
            self.entry, self.cached = train_or_load(self.config, dataset, self.cache, callbacks=[self._progress],
                                                    stop_event=self.stop_event, force=self.force,
                                                    resume=self.resume)
            self.state = "done" if self.entry.complete else "stopped"
        except (ValueError, RuntimeError, OSError) as e:  # bad data or settings, TrainingDiverged, I/O
            self.error, self.state = str(e), "failed"
        except Exception as e:  # never let a thread die silently: the UI shows the message
            self.error, self.state = f"{type(e).__name__}: {e}", "failed"

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
