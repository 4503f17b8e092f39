"""The history's own writer thread: scans and alerts never wait for SQLite.

Another program holding the database (``BEGIN EXCLUSIVE``) makes a write
wait the recorder's busy timeout and fail; the recorder keeps that batch and
writes it, in order and once, ahead of the next one. Here those waits happen
on one thread of their own. Every job queued meanwhile is recorded into one
batch (:meth:`HistoryRecorder.deferred`) and written with one attempt, so a
long lock costs one wait per batch, not one per scan, and the queue stays short.
"""

from __future__ import annotations

import logging
import threading
from collections import deque
from collections.abc import Callable

from portwatch.core.history.recorder import HistoryRecorder

log = logging.getLogger(__name__)

# Adds rows to the recorder (record_start, record_events, record_alert).
Job = Callable[[HistoryRecorder], None]
# Writes the batch (recorder.flush), reporting a failure itself.
Flush = Callable[[HistoryRecorder], None]

# How long close() lets queued writes finish before the recorder is closed.
CLOSE_WAIT = 3.0


class HistoryWriter:
    """Runs history jobs in order on its own thread, each queue's worth as one batch."""

    def __init__(self, recorder: HistoryRecorder, flush: Flush) -> None:
        self.recorder = recorder
        self._flush = flush
        self._jobs: deque[Job] = deque()
        self._ready = threading.Condition()
        self._closing = False
        self._idle = threading.Event()
        self._idle.set()
        self._thread = threading.Thread(target=self._run, name="portwatch-history", daemon=True)
        self._thread.start()

    def submit(self, job: Job) -> None:
        with self._ready:
            if self._closing:
                return
            self._jobs.append(job)
            self._idle.clear()
            self._ready.notify()

    def wait_idle(self, timeout: float) -> bool:
        """Block until every queued job ran and its batch was tried; False on timeout."""
        return self._idle.wait(timeout)

    def _run(self) -> None:
        while True:
            with self._ready:
                while not self._jobs and not self._closing:
                    self._idle.set()
                    self._ready.wait()
                if not self._jobs:
                    self._idle.set()
                    return
                jobs = list(self._jobs)
                self._jobs.clear()
            with self.recorder.deferred():
                for job in jobs:
                    try:
                        job(self.recorder)
                    except Exception:  # a job reports its own failures; this keeps the thread
                        log.exception("a history job failed")
            self._flush(self.recorder)

    def close(self) -> None:
        """Let queued writes finish (briefly), end the thread, close the recorder."""
        with self._ready:
            self._closing = True
            self._ready.notify()
        self._thread.join(CLOSE_WAIT)
        if self._thread.is_alive():
            log.warning("history writes still waiting at quit: %d jobs dropped", len(self._jobs))
            with self._ready:
                self._jobs.clear()
            self._thread.join(CLOSE_WAIT)
        if self.recorder.pending:
            log.warning(
                "quitting with %d history rows unwritten: the database is still held",
                self.recorder.pending,
            )
        self.recorder.close()
