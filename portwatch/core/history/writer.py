"""The history's own writer thread: scans and alerts never wait for SQLite.

Another program holding the database (``BEGIN EXCLUSIVE``) makes every write
wait the recorder's busy timeout and fail; the recorder keeps that batch and
writes it, in order, ahead of the next one. Here those waits happen on one
thread of their own, in the order the jobs came. While a batch is kept, a job
that only flushes it (a scan without events) is skipped when another job is
queued: that one flushes it too, so a long lock queues only real events.
"""

from __future__ import annotations

import logging
import threading
from collections import deque
from collections.abc import Callable

from portwatch.core.history.recorder import HistoryRecorder

log = logging.getLogger(__name__)

Job = Callable[[HistoryRecorder], None]

# How long close() lets queued writes finish before the recorder is closed.
CLOSE_WAIT = 3.0


class HistoryWriter:
    """Runs history jobs one at a time, in order, on its own thread."""

    def __init__(self, recorder: HistoryRecorder) -> None:
        self.recorder = recorder
        self._jobs: deque[tuple[Job, bool]] = deque()
        self._ready = threading.Condition()
        self._closing = False
        self._idle = threading.Event()
        self._idle.set()
        self._thread = threading.Thread(target=self._run, name="portwatch-history", daemon=True)
        self._thread.start()

    def submit(self, job: Job, *, flush_only: bool = False) -> None:
        """Queue ``job``; ``flush_only``: it adds nothing, it only writes what was kept."""
        with self._ready:
            if self._closing:
                return
            if flush_only and self._jobs and self.recorder.pending:
                return  # the queued job writes what was kept as well
            self._jobs.append((job, flush_only))
            self._idle.clear()
            self._ready.notify()

    def wait_idle(self, timeout: float) -> bool:
        """Block until every queued job ran (tests, quitting); False on timeout."""
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
                job, _ = self._jobs.popleft()
            try:
                job(self.recorder)
            except Exception:  # a job reports its own failures; this keeps the thread alive
                log.exception("a history job failed")

    def close(self) -> None:
        """Let queued writes finish (briefly), end the thread, close the recorder."""
        with self._ready:
            self._closing = True
            self._ready.notify()
        self._thread.join(CLOSE_WAIT)
        if self._thread.is_alive():
            log.warning("history writes still waiting at quit: %d dropped", len(self._jobs))
            with self._ready:
                self._jobs.clear()
            self._thread.join(CLOSE_WAIT)
        self.recorder.close()
