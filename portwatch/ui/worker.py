"""The scanning engine on its own thread, talking to the UI through signals only.

``ScanWorker`` lives on a ``QThread``; its timer is created inside that thread
(in ``start``), and is single-shot, re-armed after each scan, so a slow scan
delays the next one instead of overlapping it. ``ScanService`` owns the thread
and gives the UI thread plain methods that reach the worker through queued
signals. Its ``snapshot_ready`` is emitted on the scan thread: the app hands
each snapshot straight to the scan pipeline's thread, so the UI thread gets
one value per scan (the pipeline's result), not the raw scan as well.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from PySide6.QtCore import QObject, Qt, QThread, QTimer, Signal, Slot

from portwatch.core.model import Snapshot
from portwatch.core.scanner import WARM_UP_DELAY, Scanner
from portwatch.core.settings_model import MIN_INTERVAL

log = logging.getLogger(__name__)

DEFAULT_INTERVAL = 2.0


class ScanWorker(QObject):
    """Runs ``Scanner.scan()`` every ``interval`` seconds on its thread."""

    snapshot_ready = Signal(object)  # Snapshot
    scan_failed = Signal(str)
    paused_changed = Signal(bool)

    def __init__(
        self, scanner_factory: Callable[[], Scanner], interval: float = DEFAULT_INTERVAL
    ) -> None:
        super().__init__()
        self._scanner_factory = scanner_factory
        self._scanner: Scanner | None = None
        self._interval = max(MIN_INTERVAL, interval)
        self._paused = False
        self._timer: QTimer | None = None
        # Set from the UI thread to stop; read here between scans.
        self.stopping = threading.Event()
        self._failures = 0

    @Slot()
    def start(self) -> None:
        # Created here, so the timer belongs to (and fires on) the worker thread.
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.timeout.connect(self.scan_now)
        self.scan_now()

    @Slot()
    def scan_now(self) -> None:
        if self.stopping.is_set() or self._timer is None:
            return
        self._timer.stop()
        if self._scanner is None:
            try:
                self._scanner = self._scanner_factory()
            except Exception as exc:  # a backend that cannot start must not kill the thread
                log.exception("the scanner could not start")
                self.scan_failed.emit(f"scanner could not start: {exc}")
                return
        try:
            snapshot = self._scanner.scan()
        except Exception as exc:
            # Scanner.scan() converts OS errors itself; anything left is a bug,
            # reported once per run of failures instead of every tick.
            self._failures += 1
            if self._failures == 1:
                log.exception("scan failed")
                self.scan_failed.emit(f"scan failed: {exc}")
        else:
            if snapshot.stale is None:
                # A stale snapshot (the table could not be read) is a failure
                # too: the bar says so from the snapshot; the Scanner logs it once.
                self._failures = 0
            if not self.stopping.is_set():
                self.snapshot_ready.emit(snapshot)
            if snapshot.warming_up:
                self._rearm(WARM_UP_DELAY)
                return
        self._rearm()

    def _rearm(self, delay: float | None = None) -> None:
        if self._timer is not None and not self._paused and not self.stopping.is_set():
            self._timer.start(round((self._interval if delay is None else delay) * 1000))

    @Slot(bool)
    def set_paused(self, paused: bool) -> None:
        if paused == self._paused:
            return
        self._paused = paused
        if self._timer is not None:
            if paused:
                self._timer.stop()
            else:
                self.scan_now()
        self.paused_changed.emit(paused)

    @Slot(float)
    def set_interval(self, seconds: float) -> None:
        self._interval = max(MIN_INTERVAL, seconds)
        if self._timer is not None and self._timer.isActive():
            self._timer.start(round(self._interval * 1000))

    @Slot(bool)
    def set_connection_owners(self, enabled: bool) -> None:
        if self._scanner is not None and self._scanner.connection_owners != enabled:
            self._scanner.connection_owners = enabled
            self.scan_now()
        # Not started yet: the factory reads the service's current choice.

    @Slot()
    def stop(self) -> None:
        """Runs on the worker thread: stop the timer and release the backend."""
        self.stopping.set()
        if self._timer is not None:
            self._timer.stop()
        if self._scanner is not None:
            try:
                self._scanner.close()
            except Exception:
                log.exception("closing the scanner failed")
        thread = self.thread()
        if thread is not None:
            thread.quit()


class ScanService(QObject):
    """Owns the worker thread; every method here is called from the UI thread."""

    snapshot_ready = Signal(object)  # Snapshot, emitted on the scan thread
    scan_failed = Signal(str)
    paused_changed = Signal(bool)

    # queued into the worker thread
    _request_scan = Signal()
    _request_pause = Signal(bool)
    _request_interval = Signal(float)
    _request_owners = Signal(bool)
    _request_stop = Signal()

    def __init__(
        self,
        parent: QObject | None = None,
        *,
        interval: float = DEFAULT_INTERVAL,
        connection_owners: bool = False,
        scanner_factory: Callable[[], Scanner] | None = None,
    ) -> None:
        super().__init__(parent)
        self._connection_owners = connection_owners
        factory = scanner_factory or (
            lambda: Scanner(connection_owners=self._connection_owners, quick_start=True)
        )
        self._interval = max(MIN_INTERVAL, interval)
        self._paused = False
        self.scan_thread = QThread()
        self.scan_thread.setObjectName("portwatch-scanner")
        self.worker = ScanWorker(factory, self._interval)
        self.worker.moveToThread(self.scan_thread)
        self.scan_thread.started.connect(self.worker.start)
        # Direct: passed on from the scan thread itself, no hop through the UI thread.
        self.worker.snapshot_ready.connect(self._on_snapshot, Qt.ConnectionType.DirectConnection)
        self.worker.scan_failed.connect(self.scan_failed)
        self.worker.paused_changed.connect(self.paused_changed)
        self._request_scan.connect(self.worker.scan_now)
        self._request_pause.connect(self.worker.set_paused)
        self._request_interval.connect(self.worker.set_interval)
        self._request_owners.connect(self.worker.set_connection_owners)
        # Queued: the worker stops its timer on its own thread (timers cannot be
        # stopped from another), releases the backend, then ends its thread.
        self._request_stop.connect(self.worker.stop)
        self.latest: Snapshot | None = None

    @Slot(object)
    def _on_snapshot(self, snapshot: Snapshot) -> None:
        self.latest = snapshot
        self.snapshot_ready.emit(snapshot)

    @property
    def interval(self) -> float:
        return self._interval

    @property
    def paused(self) -> bool:
        return self._paused

    @property
    def connection_owners(self) -> bool:
        return self._connection_owners

    def start(self) -> None:
        self.scan_thread.start()

    def scan_now(self) -> None:
        self._request_scan.emit()

    def set_paused(self, paused: bool) -> None:
        self._paused = paused
        self._request_pause.emit(paused)

    def set_interval(self, seconds: float) -> None:
        self._interval = max(MIN_INTERVAL, seconds)
        self._request_interval.emit(self._interval)

    def set_connection_owners(self, enabled: bool) -> None:
        """Owners of every connection cost a lot: only while the Connections tab shows."""
        if enabled == self._connection_owners:
            return
        self._connection_owners = enabled
        self._request_owners.emit(enabled)

    def stop(self, timeout_ms: int = 10_000) -> bool:
        """Flag, let the worker release its backend, quit the loop and join."""
        if not self.scan_thread.isRunning():
            return True
        self.worker.stopping.set()
        self._request_stop.emit()
        # A scan in progress finishes first; a stuck one must not hang the quit.
        joined = self.scan_thread.wait(timeout_ms)
        if not joined:
            log.warning("the scanner thread did not stop within %d ms", timeout_ms)
            self.scan_thread.quit()
            joined = self.scan_thread.wait(1000)
        return bool(joined)
