"""No consumer of a scan can stop another; a stale scan is said once in the status bar.

Snapshots come from a real Scanner over real listener children; the history's
failure is injected (the exception a name with invalid UTF-8 used to raise).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from dataclasses import replace

import pytest
from pytestqt.qtbot import QtBot

from portwatch.core.alerts.alert import AlertKind
from portwatch.core.history import HistoryRecorder
from portwatch.core.model import Snapshot
from portwatch.core.paths import log_dir
from portwatch.core.scanner import Scanner
from portwatch.core.settings import Settings
from portwatch.ui.app import PortwatchApp
from portwatch.ui.runtime import LOG_FILE, setup_logging
from tests.support.procs import ListenerProcess, at
from tests.ui.composed import feed, no_dbus

HOSTILE = UnicodeEncodeError("utf-8", "\udcff\udcfe", 0, 1, "surrogates not allowed")


@pytest.fixture
def app(qtbot: QtBot) -> Iterator[PortwatchApp]:
    application = PortwatchApp(
        interval=60, tray_available=False, notifier_factory=None, describe_delivery=no_dbus
    )
    qtbot.addWidget(application.window)
    yield application
    application.shutdown()


@pytest.fixture
def log_file() -> Iterator[logging.Handler]:
    """The app's own rotating log file handler (in the test's temporary log folder)."""
    root = logging.getLogger()
    before = list(root.handlers)
    level = root.level
    handler = setup_logging(debug=False)
    assert handler is not None
    try:
        yield handler
    finally:
        for added in [h for h in root.handlers if h not in before]:
            root.removeHandler(added)
            added.close()
        root.setLevel(level)


def test_a_history_that_raises_does_not_stop_the_public_bind_alert(
    qtbot: QtBot, log_file: logging.Handler, monkeypatch: pytest.MonkeyPatch
) -> None:
    history = HistoryRecorder.from_settings(Settings())
    calls = {"start": 0, "events": 0}

    def record_start(_snapshot: Snapshot) -> None:
        calls["start"] += 1
        raise HOSTILE

    def record_events(_events: object) -> None:
        calls["events"] += 1
        raise HOSTILE

    monkeypatch.setattr(history, "record_start", record_start)
    monkeypatch.setattr(history, "record_events", record_events)
    app = PortwatchApp(
        interval=60,
        tray_available=False,
        history=history,
        notifier_factory=None,
        describe_delivery=no_dbus,
    )
    qtbot.addWidget(app.window)
    scanner = Scanner(connection_owners=False)
    try:
        feed(qtbot, app, scanner.scan())  # the first picture
        with ListenerProcess(["tcp:0.0.0.0:0"]) as child:
            raised: list[object] = []
            app.alerts.alert_raised.connect(lambda alert, _how: raised.append(alert))
            for _ in range(5):  # a new public bind, then scans where nothing moves
                snapshot = scanner.scan()
                assert at(snapshot.listeners, child.endpoints)
                feed(qtbot, app, snapshot)
            port = child.ports[0]
    finally:
        scanner.close()
        app.shutdown()
    # The history was asked every scan.
    assert calls["start"] == 1
    assert calls["events"] == 5
    exposed = [
        a
        for a in raised
        if getattr(a, "kind", None) in (AlertKind.EXPOSED, AlertKind.SUMMARY)
        and (getattr(a, "port", None) == port or port in getattr(a, "ports", ()))
    ]
    assert exposed, [getattr(a, "title", a) for a in raised]
    # Told once (a notice and the status bar), logged once with its traceback, in the log file.
    notices = [
        a
        for a in app.alerts_view.model.alerts()
        if a.kind is AlertKind.NOTICE and a.title.startswith("Saving the port history")
    ]
    assert len(notices) == 1
    log_file.flush()
    text = (log_dir() / LOG_FILE).read_text(encoding="utf-8")
    assert text.count("Saving the port history failed") == 1
    assert "Traceback" in text
    assert "UnicodeEncodeError" in text


def test_a_window_that_raises_does_not_stop_the_alerts(
    qtbot: QtBot, app: PortwatchApp, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen: list[Snapshot] = []
    app.snapshot_ready.connect(seen.append)

    def broken(_snapshot: Snapshot) -> None:
        raise RuntimeError("the table broke")

    monkeypatch.setattr(app.window, "apply_snapshot", broken)
    scanner = Scanner(connection_owners=False)
    try:
        for _ in range(3):
            feed(qtbot, app, scanner.scan())
    finally:
        scanner.close()
    assert len(seen) == 3
    assert "Showing the port list failed" in app.window.statusBar().currentMessage()


@pytest.mark.usefixtures("qtbot")
def test_the_status_bar_says_once_that_reads_fail_and_clears_when_they_work(
    app: PortwatchApp,
) -> None:
    window = app.window
    first_failed = Snapshot(time.time(), 0.001, (), stale="too many open files")
    window.apply_snapshot(first_failed)
    assert window.scan_label.text() == "Could not read the port list: too many open files"
    scanner = Scanner(connection_owners=False)
    try:
        good = scanner.scan()
    finally:
        scanner.close()
    window.apply_snapshot(good)
    assert window.scan_label.text().startswith("Last scan ")
    rows = window.listener_model.rowCount()
    stale = replace(good, stale="injected read failure")
    for _ in range(3):
        window.apply_snapshot(stale)
    when = time.strftime("%H:%M:%S", time.localtime(good.taken_at))
    assert window.scan_label.text() == (
        f"Could not read the port list: injected read failure — showing the last one from {when}"
    )
    assert window.listener_model.rowCount() == rows  # the last picture stays
    window.apply_snapshot(good)
    assert window.scan_label.text().startswith("Last scan ")
