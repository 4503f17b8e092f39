"""The tray application, built in one place from typed parts.

:class:`PortwatchApp` is the composition root: it makes the settings store,
the scan service (its own thread), the scan pipeline (owner gate, diff,
rules, history hand-off: its own thread), the history writer (its own
thread), the notification sender (its own thread), the alerts engine, the
window and the tray, and wires them with signals. The UI thread only draws:
it gets one :class:`ScanResult` per scan and applies it to the table, the
tray, the Alerts list and the History tab.

- ``PortwatchApp.snapshot_ready(Snapshot)``: a scan was drawn.
- ``PortwatchApp.latest``: the last Snapshot (None before the first scan).
- ``PortwatchApp.tray_appeared(TrayIcon)``: a tray came up after the app
  started without one (a panel that starts after us at login); the app has
  moved into it.
"""

from __future__ import annotations

import logging
import os
import sys
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

from PySide6.QtCore import QObject, Qt, QTimer, Signal
from PySide6.QtWidgets import QApplication

from portwatch.core.alerts.engine import AlertRules
from portwatch.core.consumers import ConsumerGuard
from portwatch.core.history import HistoryReader, HistoryRecorder
from portwatch.core.model import Snapshot
from portwatch.core.pipeline import ScanResult
from portwatch.core.safetext import visible
from portwatch.core.scanner import Scanner
from portwatch.core.settings import Settings
from portwatch.notify.probe import describe_connection, without_connecting
from portwatch.notify.sender import (
    DescribeDelivery,
    NotificationSender,
    NotifierFactory,
)
from portwatch.ui.alerts_controller import AlertsController
from portwatch.ui.alerts_view import AlertsView
from portwatch.ui.history_open import list_past_alerts, open_history
from portwatch.ui.history_view import HistoryView
from portwatch.ui.listener_actions import MESSAGE_MS, install_actions
from portwatch.ui.main_window import MainWindow
from portwatch.ui.notify_icon import dbus_notifier_with_icon
from portwatch.ui.pipeline_thread import PipelineThread
from portwatch.ui.rename_dialog import Renamer
from portwatch.ui.settings_store import SettingsStore
from portwatch.ui.settings_window import SettingsWindow
from portwatch.ui.single_instance import InstanceServer
from portwatch.ui.tray import TrayIcon
from portwatch.ui.worker import ScanService

log = logging.getLogger(__name__)

# Started without a tray, the app looks for one again: at login the panel may
# come up after us. Often at first, then rarely: each look is a D-Bus call (or
# an X selection lookup) on the UI thread.
TRAY_LOOK_FAST_MS = 2_000
TRAY_LOOK_FAST_FOR = 120.0  # seconds
TRAY_LOOK_SLOW_MS = 30_000

# The UI thread shares the GIL with the scan, pipeline, history and notification
# threads: at 1 ms (Python's default is 5 ms) it never waits long for its turn.
GIL_SWITCH_SECONDS = 0.001

# The desktop notifier of this platform (macOS and Windows: the tray icon's own).
DEFAULT_NOTIFIER: NotifierFactory | None = (
    None if sys.platform in ("darwin", "win32") else dbus_notifier_with_icon
)


class PortwatchApp(QObject):
    snapshot_ready = Signal(object)  # Snapshot: a scan was drawn
    settings_requested = Signal()
    tray_appeared = Signal(object)  # TrayIcon

    def __init__(
        self,
        *,
        interval: float | None = None,
        show_window: bool = False,
        tray_available: bool | None = None,
        scanner_factory: Callable[[], Scanner] | None = None,
        settings_path: Path | None = None,
        history: HistoryRecorder | None = None,
        notifier_factory: NotifierFactory | None = DEFAULT_NOTIFIER,
        describe_delivery: DescribeDelivery = describe_connection,
        clock: Callable[[], float] = time.monotonic,
        parent: QObject | None = None,
    ) -> None:
        """``interval``: from the command line, it outranks the settings file's for this run."""
        super().__init__(parent)
        sys.setswitchinterval(GIL_SWITCH_SECONDS)
        self.settings = SettingsStore(settings_path, self)
        settings = self.settings.settings
        self._keep_interval = interval is not None
        self.service = ScanService(
            self,
            interval=settings.scan_interval if interval is None else interval,
            scanner_factory=scanner_factory,
        )
        self.window = MainWindow()
        # The user's names for ports and apps, as the settings last said (UI thread's copy).
        self.labels = settings.labels
        self.window.set_labels(self.labels)
        self.alerts_view = AlertsView()
        self.history, history_problem = open_history(history, settings)
        self.history_view = (
            HistoryView(HistoryReader(self.history.path)) if self.history is not None else None
        )
        self.pipeline = PipelineThread(self.settings, AlertRules(clock), self.history)
        self.alerts = AlertsController(
            self.alerts_view,
            self.pipeline.record_alert,
            settings,
            desktop=notifier_factory is not None,
            parent=self,
        )
        self.notifications: NotificationSender | None = None
        if notifier_factory is not None:
            self.notifications = NotificationSender(
                notifier_factory,
                on_sent=self.alerts.sent,
                on_delivery=self.alerts.delivery_known,
                on_action=self.alerts.show_port_requested.emit,
                describe=describe_delivery,
            )
            self.alerts.use_sender(self.notifications)
        # "Rename…": the edit is saved on the pipeline's thread, on the settings in use then.
        self.renamer = Renamer(
            lambda: self.settings.settings.labels,
            save=self.pipeline.edit_settings,
            parent=self.window,
        )
        # Free / open / copy / export / reveal / rename, in the table, toolbar and tray menu.
        self.listener_actions, self.port_check = install_actions(
            self.window,
            snapshot_provider=lambda: self.latest,
            labels_provider=lambda: self.labels,
            rename=self.renamer.open,
            report=self._tell_action_result,
        )
        self.window.set_labels(settings.labels)
        self.settings_window = SettingsWindow(
            self.settings,
            save=self.pipeline.save_settings,
            delivery=lambda: self.alerts.delivery,
            tray_available=lambda: self.tray is not None and TrayIcon.available(),
            parent=self.window,
        )
        self.window.add_tab(self.alerts_view, "Alerts")
        if self.history_view is not None:
            self.window.add_tab(self.history_view, "History")

        self.tray: TrayIcon | None = None
        self.instance: InstanceServer | None = None
        self._tray_look: QTimer | None = None
        self._tray_look_since = 0.0
        self._latest: Snapshot | None = None
        self._quitting = False
        self._stopped = False
        self._watched_busy = 0
        self._watching = False
        self._consumers = ConsumerGuard()  # each part of drawing a scan on its own
        self._wire()
        self._place(show_window, tray_available)

        self.settings.tell_loaded()
        if history_problem:
            self.alerts.notice("Port history is off", history_problem)
        elif self.history is not None:
            list_past_alerts(self.alerts_view, self.history.path)
        if self.notifications is not None:
            self.notifications.start()  # connects on its thread, then says what can be delivered
        else:
            known = without_connecting()
            self.alerts.delivery_known(known or describe_delivery(None, None))

    def _wire(self) -> None:
        # Direct: the scan thread queues each snapshot on the pipeline's own thread
        # (a thread-safe queue); the UI thread hears of it once, as the result.
        self.service.snapshot_ready.connect(
            self.pipeline.submit, Qt.ConnectionType.DirectConnection
        )
        self.service.scan_failed.connect(self._on_scan_failed)
        self.pipeline.result_ready.connect(self._apply)
        self.pipeline.problem.connect(self._problem)
        self.pipeline.notice.connect(self.alerts.notice)
        self.settings.changed.connect(self._settings_changed)
        self.settings.told.connect(self.alerts.notice)
        self.alerts.show_port_requested.connect(self.show_port)
        self.alerts_view.port_activated.connect(self.show_port)
        self.window.pause_toggled.connect(self.set_paused)
        self.window.settings_requested.connect(self.request_settings)
        self.window.connections_visible_changed.connect(self.service.set_connection_owners)
        self.window.closed.connect(self.quit)
        self.settings_requested.connect(self.settings_window.open)
        app = QApplication.instance()
        if app is not None:
            app.aboutToQuit.connect(self.shutdown)

    def _place(self, show_window: bool, tray_available: bool | None) -> None:
        """In the tray when there is one; else the window is the app."""
        # Told "no tray" by the caller (tests): do not look for one later either.
        look_for_tray = tray_available is None
        if tray_available is None:
            tray_available = TrayIcon.available()
        if tray_available:
            self._adopt_tray(TrayIcon(self))
            if show_window:
                self.show_window()
            return
        # Without a tray the window is the app: it opens now, says why once,
        # and closing it quits.
        log.info("no system tray: running in the window")
        self.window.hide_on_close = False
        self.window.show_no_tray_notice()
        self.show_window()
        if look_for_tray:
            self._tray_look = QTimer(self)
            self._tray_look.timeout.connect(self._look_for_tray)
            self._tray_look_since = time.monotonic()
            self._tray_look.start(TRAY_LOOK_FAST_MS)

    def _adopt_tray(self, tray: TrayIcon) -> None:
        self.tray = tray
        tray.listener_menu_hook = self.listener_actions.populate_menu
        tray.open_requested.connect(self.show_window)
        tray.port_requested.connect(self.show_port)
        tray.pause_toggled.connect(self.set_paused)
        tray.settings_requested.connect(self.request_settings)
        tray.quit_requested.connect(self.quit)
        tray.balloon_clicked.connect(self.show_port)
        tray.set_paused(self.paused)
        tray.set_labels(self.labels)
        if self.latest is not None:
            tray.update_snapshot(self.latest)
        tray.set_watched_busy(self._watched_busy)
        self.alerts.balloon = tray
        tray.show()

    def _look_for_tray(self) -> None:
        timer = self._tray_look
        if timer is None or self._quitting:
            return
        if not TrayIcon.available():
            slow = time.monotonic() - self._tray_look_since > TRAY_LOOK_FAST_FOR
            if slow and timer.interval() != TRAY_LOOK_SLOW_MS:
                timer.setInterval(TRAY_LOOK_SLOW_MS)
            return
        timer.stop()
        self._tray_look = None
        log.info("a system tray appeared: moving into it")
        tray = TrayIcon(self)
        self._adopt_tray(tray)
        # From now on the tray is the app: the window may close without quitting.
        self.window.hide_on_close = True
        self.window.notice.dismiss()
        self.window.statusBar().showMessage(
            "A system tray appeared: portwatch is in it now, and closing this window "
            "keeps it running there.",
            15_000,
        )
        self.tray_appeared.emit(tray)

    @property
    def latest(self) -> Snapshot | None:
        """The last scan the window drew (None before the first)."""
        return self._latest

    @property
    def paused(self) -> bool:
        return self.service.paused

    def start(self) -> None:
        self.service.start()

    def show_window(self) -> None:
        self.window.bring_to_front()

    def show_port(self, port: int) -> None:
        self.window.show_port(port)

    def set_paused(self, paused: bool) -> None:
        log.info("monitoring %s", "paused" if paused else "resumed")
        self.service.set_paused(paused)
        self.window.set_paused(paused)
        if self.tray is not None:
            self.tray.set_paused(paused)

    def request_settings(self) -> None:
        self.settings_requested.emit()

    def _tell_action_result(self, text: str) -> None:
        """What a listener action did (freed, opened, copied, exported…): in the status bar
        while the window is on screen; else (an action from the tray menu, the window
        hidden or minimized) as a notification, where it is seen."""
        window = self.window
        if window.isVisible() and not window.isMinimized():
            window.statusBar().showMessage(visible(text), MESSAGE_MS)
        else:
            self.alerts.notice(*action_notice(text))

    def status(self) -> dict[str, Any]:
        """What the single-instance ``status`` request reports (tests, scripts)."""
        latest = self.latest
        model = self.window.listener_model
        ports = sorted({listener.port for listener in model.items()})
        tray = self.tray
        return {
            "pid": os.getpid(),
            "window_visible": self.window.isVisible(),
            "tray": self.tray is not None,
            "tray_visible": bool(tray and tray.icon.isVisible()),
            # The tray menu's items now, and how often they changed (a host that
            # fetched the menu between two equal counts has these items).
            "tray_menu": tray.menu_texts() if tray is not None else [],
            "tray_menu_changes": tray.menu_changes if tray is not None else 0,
            "paused": self.paused,
            "interval": self.service.interval,
            # The first complete picture is in: alerts and history count from it.
            "scans": self._watching,
            "listeners": len(latest.listeners) if latest else 0,
            "table_ports": ports,
            "no_tray_notice": self.window.notice.isVisible(),
        }

    # --- one scan, drawn ---

    def _apply(self, result: ScanResult) -> None:
        snapshot = result.snapshot
        self._latest = snapshot
        tray = self.tray
        self._watched_busy = result.watched_busy
        self._watching = self._watching or result.first
        self._draw("Showing the port list", lambda: self.window.apply_snapshot(snapshot))
        if tray is not None:
            self._draw("Updating the tray icon", lambda: _update_tray(tray, result))
        for alert in result.alerts:
            self._draw("Showing an alert", partial(self.alerts.raise_alert, alert))
        view = self.history_view
        if result.events and view is not None and view.isVisible():
            self._draw("Refreshing the History tab", view.refresh)
        self.snapshot_ready.emit(snapshot)

    def _draw(self, what: str, call: Callable[[], object]) -> None:
        """One part of drawing a scan; its failure is logged and told once, never passed on."""
        message = self._consumers.run(what, call)
        if message is not None:
            self._problem(what, message)

    def _problem(self, what: str, message: str) -> None:
        self.window.statusBar().showMessage(message, 15_000)
        if what not in ("Showing the port list", "Updating the tray icon", "Showing an alert"):
            # A notice is an alert: one that failed to show could fail the same way.
            self._consumers.run(
                "Showing an alert", lambda: self.alerts.notice(f"{what} failed", message)
            )

    def _settings_changed(self, settings: Settings) -> None:
        self.alerts.use_settings(settings)
        labels = settings.labels
        if labels != self.labels:
            self.labels = labels
            self.window.set_labels(labels)
            if self.tray is not None:
                self.tray.set_labels(labels)
        if not self._keep_interval:
            self.service.set_interval(settings.scan_interval)

    def _on_scan_failed(self, message: str) -> None:
        self.window.statusBar().showMessage(message, 10_000)

    # --- the end ---

    def shutdown(self) -> None:
        """Stop every thread (scans, pipeline and history writes, notifications)."""
        if self._stopped:
            return
        self._stopped = True
        self.service.stop()
        self.pipeline.stop()
        if self.notifications is not None:
            self.notifications.close()
        if self.history_view is not None:
            self.history_view.close_history()

    def quit(self) -> None:
        """Save the window, stop the threads (joined), leave the event loop."""
        if self._quitting:
            return
        self._quitting = True
        log.info("quitting")
        self.window.save_state()
        self.shutdown()
        if self._tray_look is not None:
            self._tray_look.stop()
        if self.tray is not None:
            self.tray.hide()
        if self.instance is not None:
            self.instance.close()
        app = QApplication.instance()
        if app is not None:
            app.quit()


def action_notice(text: str) -> tuple[str, str]:
    """An action's result as a notification's title and body: its first sentence, the rest.

    'PID 41 ended. The table shows the result on the next scan.' → ('PID 41 ended.',
    'The table shows the result on the next scan.'); 'Copied PID.' → ('Copied PID.', '').
    """
    first, _, more = text.strip().partition("\n")
    head, stop, tail = first.partition(". ")
    title = head + "." if stop else first
    return title, "\n".join(part for part in (tail, more) if part)


def _update_tray(tray: TrayIcon, result: ScanResult) -> None:
    tray.update_snapshot(result.snapshot)
    tray.set_watched_busy(result.watched_busy)
