"""The scan worker on its thread, with the real Scanner and real listening children."""

from __future__ import annotations

import itertools
import sys
import threading
import time
from collections.abc import Iterator

import pytest
from PySide6.QtCore import QThread, QTimer
from pytestqt.qtbot import QtBot

from portwatch.core.model import Snapshot
from portwatch.core.scanner import Scanner
from portwatch.ui.worker import ScanService
from tests.support.procs import Endpoint, ListenerProcess, at, connect_clients

INTERVAL = 0.4


@pytest.fixture
def service() -> Iterator[ScanService]:
    scan_service = ScanService(interval=INTERVAL)
    yield scan_service
    assert scan_service.stop()


def _has(snapshot: Snapshot, endpoints: list[Endpoint]) -> bool:
    return bool(at(snapshot.listeners, endpoints))


def test_a_new_listener_arrives_within_two_intervals(qtbot: QtBot, service: ScanService) -> None:
    threads: set[QThread] = set()
    service.worker.snapshot_ready.connect(lambda _s: threads.add(QThread.currentThread()))
    with qtbot.waitSignal(service.snapshot_ready, timeout=10_000):
        service.start()
    with ListenerProcess(["tcp:127.0.0.1:0"]) as child:
        opened = time.monotonic()
        with qtbot.waitSignal(
            service.snapshot_ready,
            timeout=int(2 * INTERVAL * 1000) + 1500,  # two intervals plus one scan's time
            check_params_cb=lambda snap: _has(snap, child.endpoints),
        ):
            pass
        print(f"listener seen {time.monotonic() - opened:.2f} s after it opened")
        assert service.latest is not None
        assert _has(service.latest, child.endpoints)
    # Scans ran on the worker thread, never on the UI thread.
    assert threads
    assert QThread.currentThread() not in threads


def test_pause_stops_scans_and_resume_restarts_them(qtbot: QtBot, service: ScanService) -> None:
    with qtbot.waitSignal(service.snapshot_ready, timeout=10_000):
        service.start()
    with qtbot.waitSignal(service.paused_changed, timeout=5000):
        service.set_paused(True)
    with qtbot.assertNotEmitted(service.snapshot_ready, wait=int(INTERVAL * 2500)):
        pass
    with qtbot.waitSignal(service.snapshot_ready, timeout=5000):
        service.set_paused(False)


def test_interval_change_and_scan_now(qtbot: QtBot) -> None:
    service = ScanService(interval=60)
    try:
        with qtbot.waitSignal(service.snapshot_ready, timeout=10_000):
            service.start()
        with qtbot.waitSignal(service.snapshot_ready, timeout=5000):
            service.scan_now()
        service.set_interval(0.2)
        with qtbot.waitSignal(service.snapshot_ready, timeout=5000):
            pass
    finally:
        assert service.stop()


def test_connection_owners_toggle_reaches_the_scanner(qtbot: QtBot, service: ScanService) -> None:
    with qtbot.waitSignal(service.snapshot_ready, timeout=10_000):
        service.start()
    with ListenerProcess(["tcp:127.0.0.1:0"]) as child:
        clients = connect_clients("127.0.0.1", child.ports[0], 2)
        try:
            service.set_connection_owners(True)
            with qtbot.waitSignal(
                service.snapshot_ready,
                timeout=5000,
                check_params_cb=lambda snap: any(
                    c.local_port == child.ports[0] for c in snap.connections
                ),
            ):
                pass
            service.set_connection_owners(False)
            with qtbot.waitSignal(
                service.snapshot_ready,
                timeout=5000,
                check_params_cb=lambda snap: not snap.connections,
            ):
                pass
        finally:
            for client in clients:
                client.close()


class SlowScanner(Scanner):
    """The real scanner, made slower than the interval, recording overlaps."""

    def __init__(self) -> None:
        super().__init__(connection_owners=False)
        self.active = 0
        self.max_active = 0
        self.scans = 0
        self._lock = threading.Lock()

    def scan(self) -> Snapshot:
        with self._lock:
            self.active += 1
            self.max_active = max(self.max_active, self.active)
        try:
            time.sleep(0.3)
            return super().scan()
        finally:
            with self._lock:
                self.active -= 1
                self.scans += 1


def test_a_slow_scan_never_overlaps_and_never_blocks_the_ui(qtbot: QtBot) -> None:
    scanner = SlowScanner()
    service = ScanService(interval=0.1, scanner_factory=lambda: scanner)
    try:
        service.start()
        # The UI thread stays free: a 50 ms timer keeps firing during scans.
        ticks: list[float] = []
        timer = QTimer()
        timer.timeout.connect(lambda: ticks.append(time.monotonic()))
        timer.start(50)
        qtbot.waitUntil(lambda: scanner.scans >= 4, timeout=10_000)
        timer.stop()
        assert scanner.max_active == 1
        gaps = [b - a for a, b in itertools.pairwise(ticks)]
        assert gaps
        assert max(gaps) < 0.25
    finally:
        assert service.stop()
    assert not service.scan_thread.isRunning()


def test_stop_joins_the_thread(qtbot: QtBot) -> None:
    service = ScanService(interval=0.2)
    with qtbot.waitSignal(service.snapshot_ready, timeout=10_000):
        service.start()
    assert service.scan_thread.isRunning()
    assert service.stop()
    assert service.scan_thread.isFinished()
    # Stopping twice is harmless.
    assert service.stop()


class StuckScanner(Scanner):
    """The real scanner behind a scan that takes far longer than a quit may wait."""

    def __init__(self, entered: threading.Event) -> None:
        super().__init__(connection_owners=False)
        self.entered = entered

    def scan(self) -> Snapshot:
        self.entered.set()
        time.sleep(2.0)
        return super().scan()


def test_a_stuck_scan_does_not_hang_the_quit() -> None:
    entered = threading.Event()
    service = ScanService(interval=0.1, scanner_factory=lambda: StuckScanner(entered))
    service.start()
    assert entered.wait(10)
    started = time.monotonic()
    assert service.stop(timeout_ms=300) is False  # gave up waiting, did not hang
    assert time.monotonic() - started < 2.0
    # The scan ends on its own; then the thread is gone.
    assert service.scan_thread.wait(10_000)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the Linux owner walk")
def test_while_owners_fill_in_scans_follow_at_once_not_after_the_interval(qtbot: QtBot) -> None:
    from portwatch.core.platform.netlink.source import LinuxNetlinkSource

    # No walk at all in the first scan: every owner starts out pending.
    service = ScanService(
        interval=30.0,
        scanner_factory=lambda: Scanner(
            LinuxNetlinkSource(cold_walk_budget=0.0), connection_owners=False
        ),
    )
    snapshots: list[Snapshot] = []
    service.snapshot_ready.connect(snapshots.append)
    with ListenerProcess(["tcp:127.0.0.1:0"]) as child:
        try:
            with qtbot.waitSignal(
                service.snapshot_ready,
                timeout=15_000,
                check_params_cb=lambda snap: not snap.warming_up,
            ):
                service.start()
        finally:
            assert service.stop()
    assert snapshots[0].warming_up
    assert snapshots[0].pending_owners >= 1
    # Well within the 30 s interval, the owner is known.
    owners = {r.pid for r in at(snapshots[-1].listeners, child.endpoints)}
    assert owners == {child.pid}
    assert not snapshots[-1].warming_up
