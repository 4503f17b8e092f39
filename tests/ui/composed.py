"""The composed tray app in tests: build it, feed it scans, wait until they are drawn.

Scans reach the app as the scan service hands them over (its
``snapshot_ready``); the pipeline runs them on its own thread and the UI
draws the result, so a test waits for ``PortwatchApp.snapshot_ready`` and
for the pipeline (and the history writer) to be idle.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from PySide6.QtCore import QCoreApplication
from pytestqt.qtbot import QtBot

from portwatch.core.model import Snapshot
from portwatch.notify.dbus import ServerInfo
from portwatch.notify.probe import DeliveryProbe
from portwatch.ui.app import PortwatchApp


def no_dbus(_info: ServerInfo | None = None, _error: Exception | None = None) -> DeliveryProbe:
    """What the delivery check says on a machine with no notification service."""
    return DeliveryProbe(method="none", detail="No notification service.", fix="Install dunst.")


def settle(app: PortwatchApp) -> None:
    """Let the pipeline and the history writer finish, then deliver what they said."""
    assert app.pipeline.wait_idle(15)
    QCoreApplication.processEvents()
    QCoreApplication.processEvents()


def feed(qtbot: QtBot, app: PortwatchApp, snapshot: Snapshot) -> None:
    """One scan, as the scan service hands it over, drawn and recorded."""
    with qtbot.waitSignal(app.snapshot_ready, timeout=10_000):
        app.service.snapshot_ready.emit(snapshot)
    settle(app)


@contextmanager
def built_apps(qtbot: QtBot, **defaults: Any) -> Iterator[Callable[..., PortwatchApp]]:
    """Builds apps on demand (after the test has put the settings file in place: the app
    reads it then), with no desktop service unless given; shuts each down on leaving."""
    made: list[PortwatchApp] = []

    def make(**parts: Any) -> PortwatchApp:
        application = PortwatchApp(**{"describe_delivery": no_dbus, **defaults, **parts})
        qtbot.addWidget(application.window)
        made.append(application)
        return application

    try:
        yield make
    finally:
        for application in made:
            application.shutdown()
