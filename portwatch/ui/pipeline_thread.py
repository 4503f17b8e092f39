"""The scan pipeline on a thread of its own, so the UI thread only draws.

Snapshots from the scan service, dialog saves and delivered alerts queue up
here and run in order: the settings stat (and reload), the owner gate, the
diff, the rules, then the history hand-off. Each scan comes back to the UI
as one :class:`ScanResult` through ``result_ready``. A plain Python thread
(its signals, emitted from it, reach UI objects queued): it never outlives
the app in a way Qt would mind.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable

from PySide6.QtCore import QObject, Signal

from portwatch.core.alerts.alert import Alert
from portwatch.core.alerts.engine import AlertRules
from portwatch.core.history import HistoryRecorder
from portwatch.core.model import Snapshot
from portwatch.core.pipeline import ScanPipeline
from portwatch.core.settings import Settings
from portwatch.ui.settings_store import SettingsStore

log = logging.getLogger(__name__)

Job = Callable[[], None]


class PipelineThread(QObject):
    result_ready = Signal(object)  # ScanResult
    problem = Signal(str, str)  # (what failed, one line for a person)
    notice = Signal(str, str)  # (title, body)

    def __init__(
        self, store: SettingsStore, rules: AlertRules, history: HistoryRecorder | None
    ) -> None:
        super().__init__()
        self.pipeline = ScanPipeline(store.settings, rules, history, _SignalReporter(self))
        self.store = store
        store.listeners.append(self.pipeline.set_settings)
        self._jobs: queue.SimpleQueue[Job | None] = queue.SimpleQueue()
        self._idle = threading.Event()
        self._idle.set()
        self._pending = 0
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._run, name="portwatch-pipeline", daemon=True)
        self._thread.start()

    # --- called from other threads (the UI's; ``submit`` from the scan thread) ---

    def submit(self, snapshot: Snapshot) -> None:
        """A new scan: its result comes back through ``result_ready``."""
        self._put(lambda: self._process(snapshot))

    def save_settings(self, settings: Settings) -> None:
        self._put(lambda: self.store.save(settings))

    def edit_settings(self, edit: Callable[[Settings], Settings]) -> None:
        """Save ``edit`` of the settings in use when it runs (a Rename…: one label changed)."""
        self._put(lambda: self.store.save(edit(self.store.settings)))

    def check_settings(self) -> None:
        self._put(self.store.check)

    def record_alert(self, alert: Alert, delivery: str) -> None:
        self._put(lambda: self.pipeline.record_alert(alert, delivery))

    def wait_idle(self, timeout: float = 10.0) -> bool:
        """Block until every queued job ran, history writes included (tests, quitting)."""
        if not self._idle.wait(timeout):
            return False
        writer = self.pipeline.history
        return writer is None or writer.wait_idle(timeout)

    def stop(self) -> None:
        """Finish what is queued, end the thread, close the history."""
        if self._thread.is_alive():
            self._jobs.put(None)
            self._thread.join(10.0)
        self.pipeline.close()

    def _put(self, job: Job) -> None:
        with self._lock:
            self._pending += 1
            self._idle.clear()
        self._jobs.put(job)

    # --- on the pipeline thread ---

    def _process(self, snapshot: Snapshot) -> None:
        self.store.check()
        result = self.pipeline.process(snapshot)
        self.result_ready.emit(result)
        self.pipeline.record(result)

    def _run(self) -> None:
        while True:
            job = self._jobs.get()
            if job is None:
                return
            try:
                job()
            except Exception:  # each step guards itself; this keeps the thread alive
                log.exception("a scan pipeline job failed")
            with self._lock:
                self._pending -= 1
                if self._pending == 0:
                    self._idle.set()


class _SignalReporter:
    """The pipeline's Reporter: its words go to the UI as queued signals."""

    def __init__(self, thread: PipelineThread) -> None:
        self._thread = thread

    def problem(self, what: str, message: str) -> None:
        self._thread.problem.emit(what, message)

    def notice(self, title: str, body: str) -> None:
        self._thread.notice.emit(title, body)
