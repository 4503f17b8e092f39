"""Alerts glue: snapshots in; history, rules, notifications, the Alerts and History tabs out.

One object on the UI thread. For each snapshot it records the diff in the
history database, runs the rules, puts every alert in the Alerts list and
delivers the ones meant to be heard, by the configured style with
fallbacks: desktop notification (D-Bus, Linux) → tray balloon → in-app
banner. A click on a notification's "Show" (reported on a jeepney thread)
comes back through a queued signal and opens the window on that port.

The app calls :func:`install_alerts` once, after its window and tray exist.
"""

from __future__ import annotations

import logging
import sys
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any, Protocol

from PySide6.QtCore import QObject, Signal
from PySide6.QtWidgets import QApplication, QSystemTrayIcon, QWidget

from portwatch.core import paths
from portwatch.core.alerts.alert import Alert, AlertKind, Urgency
from portwatch.core.alerts.engine import AlertRules
from portwatch.core.diff import PendingOwnerGate, diff
from portwatch.core.history import HistoryError, HistoryReader, HistoryRecorder
from portwatch.core.model import Snapshot
from portwatch.core.portspec import matches_any
from portwatch.core.scanner import ConsumerGuard
from portwatch.core.settings import (
    LoadResult,
    NotificationStyle,
    Settings,
    SettingsFileError,
    edit_settings,
    load_settings,
    merge_settings,
)
from portwatch.notify.probe import DeliveryProbe, probe
from portwatch.ui.alerts_view import AlertsView
from portwatch.ui.history_view import HistoryView
from portwatch.ui.settings_dialog import SettingsDialog

log = logging.getLogger(__name__)

# After the notification service failed, try to reconnect at most this often.
RECONNECT_SECONDS = 60.0
BALLOON_MS = 10_000


class Notifier(Protocol):
    """What the controller needs from a desktop notifier (DBusNotifier has it)."""

    def notify(
        self, title: str, body: str, *, urgency: int = 1, port: int | None = None
    ) -> int: ...

    def close(self) -> None: ...


NotifierFactory = Callable[[Callable[[int], None]], Notifier]


def _dbus_notifier(on_action: Callable[[int], None]) -> Notifier:
    from portwatch.notify.dbus import DBusNotifier

    return DBusNotifier(on_action)


def _uses_dbus() -> bool:
    return sys.platform not in ("darwin", "win32")


class AlertsController(QObject):
    # Emitted from the notifier's thread; Qt queues it to this object's (UI) thread.
    show_port_requested = Signal(int)
    alert_raised = Signal(object, str)  # (Alert, how it was delivered)
    settings_applied = Signal(object)  # Settings

    def __init__(
        self,
        app: Any,
        window: Any,
        tray: Any | None,
        *,
        settings_path: Path | None = None,
        history: HistoryRecorder | None = None,
        notifier_factory: NotifierFactory | None = None,
        prober: Callable[[], DeliveryProbe] = probe,
        clock: Callable[[], float] = time.monotonic,
        keep_interval: bool = False,
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent if parent is not None else app)
        # `portwatch --interval S` outranks the saved scan interval for this run.
        self._keep_interval = keep_interval
        self.app = app
        self.window = window
        self.tray: Any | None = None
        self.settings_path = settings_path or paths.settings_file()
        self._notifier_factory = notifier_factory or (_dbus_notifier if _uses_dbus() else None)
        self._prober = prober
        self._notifier: Notifier | None = None
        self._notifier_failed_at: float | None = None
        self._told: set[str] = set()
        self._previous: Snapshot | None = None
        self._owner_gate = PendingOwnerGate()
        self._consumers = ConsumerGuard()
        self._settings_mtime: int | None = None
        self._balloon_port: int | None = None
        self._dialog: SettingsDialog | None = None
        self.delivery: DeliveryProbe | None = None

        loaded = load_settings(self.settings_path)
        self.settings = loaded.settings
        self._settings_mtime = self._mtime()
        self.rules = AlertRules(clock)

        self.history: HistoryRecorder | None = history
        history_problem = None
        if self.history is None:
            try:
                self.history = HistoryRecorder.from_settings(self.settings)
            except HistoryError as exc:
                history_problem = str(exc)
                log.warning("history is off: %s", exc)

        self.alerts_view = AlertsView()
        self.history_view: HistoryView | None = (
            HistoryView(HistoryReader(self.history.path)) if self.history is not None else None
        )
        window.add_tab(self.alerts_view, "Alerts")
        if self.history_view is not None:
            window.add_tab(self.history_view, "History")

        app.snapshot_ready.connect(self.on_snapshot)
        if hasattr(app, "settings_requested"):
            app.settings_requested.connect(self.open_settings)
        if tray is not None:
            self.attach_tray(tray)
        if hasattr(app, "tray_appeared"):
            app.tray_appeared.connect(self.attach_tray)
        self.show_port_requested.connect(self.show_port)
        self.alerts_view.port_activated.connect(self.show_port)
        qapp = QApplication.instance()
        if qapp is not None:
            qapp.aboutToQuit.connect(self.shutdown)

        self._apply_runtime(self.settings)
        self._check_delivery()
        self._tell_load_result(loaded)
        if history_problem:
            self._notice("Port history is off", history_problem)

    # --- snapshots ---

    def on_snapshot(self, snapshot: Snapshot) -> None:
        if snapshot.warming_up or snapshot.stale is not None:
            # Owners are still filling in (the first second or so after start):
            # alerts and the history start from the first complete picture.
            # A stale snapshot (the table could not be read) is no news.
            return
        self._guarded("Reading the settings file", self._reload_if_changed)
        previous = self._previous
        # Alerts and history name the process: new sockets wait for their owner.
        snapshot = self._owner_gate.settle(previous, snapshot)
        events = diff(previous, snapshot)
        history = self.history
        if history is not None:
            # Each consumer on its own: a history that cannot write (a full
            # disk, a name it cannot store) must not stop the alerts.
            if previous is None:
                self._guarded("Saving the port history", lambda: history.record_start(snapshot))
            else:
                self._guarded("Saving the port history", lambda: history.record_events(events))
        alerts: list[Alert] = []
        self._guarded(
            "Checking the alert rules",
            lambda: alerts.extend(self.rules.evaluate(previous, snapshot, events, self.settings)),
        )
        for alert in alerts:
            self._guarded("Showing an alert", partial(self.raise_alert, alert))
        self._previous = snapshot
        tray = self.tray
        if tray is not None:
            self._guarded(
                "Counting watched ports for the tray",
                lambda: tray.set_watched_busy(self.watched_busy(snapshot)),
            )
        view = self.history_view
        if events and view is not None and view.isVisible():
            self._guarded("Refreshing the History tab", view.refresh)

    def _guarded(self, what: str, call: Callable[[], object]) -> None:
        """Run one consumer of a scan; its failure is logged and told once, never passed on."""
        message = self._consumers.run(what, call)
        if message is None:
            return
        status = getattr(self.window, "statusBar", None)
        if callable(status):
            status().showMessage(message, 15_000)
        if what != "Showing an alert":  # a notice is an alert: it could fail the same way
            self._consumers.run("Showing an alert", lambda: self._notice(f"{what} failed", message))

    def watched_busy(self, snapshot: Snapshot) -> int:
        """How many distinct watched ports something listens on now."""
        specs = self.settings.watched_specs()
        return len(
            {row.port for row in snapshot.listeners if matches_any(specs, row.port, row.proto)}
        )

    # --- alerts and delivery ---

    def raise_alert(self, alert: Alert) -> str:
        """List it, deliver it if it is meant to be heard, record it; returns the delivery."""
        self.alerts_view.model.add_alert(alert)
        delivery = "quiet period" if alert.suppressed else "list"
        if alert.notify:
            delivery = self.deliver(alert)
        self._record_alert(alert, delivery)
        self.alert_raised.emit(alert, delivery)
        return delivery

    def _record_alert(self, alert: Alert, delivery: str) -> None:
        history = self.history
        if history is None:
            return

        def record() -> None:
            try:
                history.record_alert(
                    at=alert.at,
                    title=alert.title,
                    body=alert.body,
                    kind=str(alert.kind),
                    port=alert.port,
                    proto=alert.proto,
                    pid=alert.pid,
                    process=alert.process,
                    delivery=delivery,
                )
            except HistoryError as exc:
                self._tell_once("history-write", "Port history could not be written", str(exc))

        # The alert is listed and delivered already; its record must not undo that.
        self._guarded("Saving an alert in the history", record)

    def delivery_order(self) -> list[str]:
        style = self.settings.notification_style
        if style is NotificationStyle.IN_APP:
            return ["in_app"]
        if style is NotificationStyle.TRAY:
            return ["tray", "in_app"]
        return (["dbus"] if self._notifier_factory is not None else []) + ["tray", "in_app"]

    def deliver(self, alert: Alert) -> str:
        for method in self.delivery_order():
            if method == "dbus" and self._send_dbus(alert):
                return "dbus"
            if method == "tray" and self._send_balloon(alert):
                return "tray"
            if method == "in_app":
                self.alerts_view.show_banner(alert)
                return "in_app"
        return "list"

    def _ensure_notifier(self) -> Notifier | None:
        if self._notifier is not None or self._notifier_factory is None:
            return self._notifier
        now = time.monotonic()
        if (
            self._notifier_failed_at is not None
            and now - self._notifier_failed_at < RECONNECT_SECONDS
        ):
            return None
        try:
            self._notifier = self._notifier_factory(self.show_port_requested.emit)
        except Exception as exc:  # noqa: BLE001 - any failure means: fall back, say why once
            self._notifier_failed_at = now
            log.warning("desktop notifications unavailable: %s", exc)
            return None
        self._notifier_failed_at = None
        return self._notifier

    def _send_dbus(self, alert: Alert) -> bool:
        notifier = self._ensure_notifier()
        if notifier is None:
            return False
        try:
            notifier.notify(alert.title, alert.body, urgency=int(alert.urgency), port=alert.port)
        except Exception as exc:  # noqa: BLE001 - the service went away: fall back
            log.warning("a desktop notification failed, falling back: %s", exc)
            notifier.close()
            self._notifier = None
            self._notifier_failed_at = time.monotonic()
            return False
        return True

    def attach_tray(self, tray: Any) -> None:
        """Use this tray icon for balloons, the busy-port count and Settings…."""
        self.tray = tray
        if not hasattr(self.app, "settings_requested"):
            tray.settings_requested.connect(self.open_settings)
        tray.icon.messageClicked.connect(self._balloon_clicked)
        if self._previous is not None:
            tray.set_watched_busy(self.watched_busy(self._previous))

    def _send_balloon(self, alert: Alert) -> bool:
        if self.tray is None:
            return False
        icon: QSystemTrayIcon = self.tray.icon
        if not (
            QSystemTrayIcon.isSystemTrayAvailable()
            and QSystemTrayIcon.supportsMessages()
            and icon.isVisible()
        ):
            return False
        kind = (
            QSystemTrayIcon.MessageIcon.Critical
            if alert.urgency is Urgency.CRITICAL
            else QSystemTrayIcon.MessageIcon.Warning
            if alert.urgency is Urgency.NORMAL
            else QSystemTrayIcon.MessageIcon.Information
        )
        self._balloon_port = alert.port
        icon.showMessage(alert.title, alert.body, kind, BALLOON_MS)
        return True

    def _balloon_clicked(self) -> None:
        if self._balloon_port is not None:
            self.show_port(self._balloon_port)

    def show_port(self, port: int) -> None:
        self.window.show_port(port)

    def _notice(self, title: str, body: str) -> None:
        self.raise_alert(
            Alert(
                kind=AlertKind.NOTICE, at=time.time(), title=title, body=body, urgency=Urgency.LOW
            )
        )

    def _tell_once(self, key: str, title: str, body: str) -> None:
        if key in self._told:
            return
        self._told.add(key)
        self._notice(title, body)

    def _check_delivery(self) -> None:
        """At start: can alerts leave the app? Say so once if not."""
        self.delivery = self._probe()
        style = self.settings.notification_style
        if style is NotificationStyle.IN_APP:
            return
        balloon = self.tray is not None and QSystemTrayIcon.isSystemTrayAvailable()
        wants_dbus = style is NotificationStyle.SYSTEM and self._notifier_factory is not None
        if wants_dbus and self._ensure_notifier() is not None:
            return
        if balloon:
            if wants_dbus and self.delivery is not None and not self.delivery.available:
                log.info("no notification service; using the tray balloon")
            return
        fix = self.delivery.describe() if self.delivery is not None else ""
        self._tell_once(
            "delivery",
            "Alerts will appear in this window only",
            f"No notification service or system tray was found. {fix}".strip(),
        )

    def _probe(self) -> DeliveryProbe | None:
        try:
            return self._prober()
        except Exception as exc:  # noqa: BLE001 - a probe must never stop the app
            log.warning("delivery probe failed: %s", exc)
            return None

    # --- settings ---

    def _tell_load_result(self, loaded: LoadResult) -> None:
        if loaded.message:
            title = "Settings could not be read" if loaded.error else "Settings were reset"
            self._notice(title, loaded.message)
        if loaded.newer_message:
            self._tell_once(
                "settings-newer", "Settings from a newer portwatch", loaded.newer_message
            )

    def _mtime(self) -> int | None:
        try:
            return self.settings_path.stat().st_mtime_ns
        except OSError:
            return None

    def _reload_if_changed(self) -> None:
        """`portwatch watch-port add` edits the file: pick that up at the next scan."""
        mtime = self._mtime()
        if mtime == self._settings_mtime:
            return
        self._settings_mtime = mtime
        loaded = load_settings(self.settings_path)
        self._settings_mtime = self._mtime()
        self._tell_load_result(loaded)
        if loaded.error is not None:
            # The file became unreadable: keep watching with what was last read.
            return
        if loaded.settings != self.settings:
            log.info("settings file changed: reloading")
            self.apply_settings(loaded.settings, save=False)

    def open_settings(self) -> SettingsDialog:
        if self._dialog is not None and self._dialog.isVisible():
            self._dialog.raise_()
            self._dialog.activateWindow()
            return self._dialog
        tray_available = self.tray is not None and QSystemTrayIcon.isSystemTrayAvailable()
        parent = self.window if isinstance(self.window, QWidget) else None
        dialog = SettingsDialog(
            self.settings,
            delivery=self._probe(),
            tray_available=tray_available,
            parent=parent,
        )
        dialog.accepted.connect(lambda: self._dialog_accepted(dialog))
        dialog.finished.connect(dialog.deleteLater)
        self._dialog = dialog
        dialog.open()
        return dialog

    def _dialog_accepted(self, dialog: SettingsDialog) -> None:
        self.apply_settings(dialog.result_settings())

    def apply_settings(self, settings: Settings, *, save: bool = True) -> None:
        if save:
            # Under the settings lock: my changes on top of what the file holds now, so an
            # edit made meanwhile (`portwatch watch-port add`) is kept.
            base = self.settings
            try:
                settings = edit_settings(
                    lambda current: merge_settings(base, settings, current), self.settings_path
                ).after
            except SettingsFileError as exc:
                self._notice("Settings could not be saved", f"{exc}. Nothing was changed.")
            self._settings_mtime = self._mtime()
        style_changed = settings.notification_style != self.settings.notification_style
        self.settings = settings
        self._apply_runtime(settings)
        if style_changed:
            self._notifier_failed_at = None
        if self.tray is not None and self._previous is not None:
            self.tray.set_watched_busy(self.watched_busy(self._previous))
        self.settings_applied.emit(settings)

    def _apply_runtime(self, settings: Settings) -> None:
        service = getattr(self.app, "service", None)
        if not self._keep_interval and service is not None and hasattr(service, "set_interval"):
            service.set_interval(settings.scan_interval)
        if self.history is not None:
            self.history.apply_settings(settings)

    def shutdown(self) -> None:
        if self._notifier is not None:
            self._notifier.close()
            self._notifier = None
        if self.history is not None:
            self.history.close()
            self.history = None
        if self.history_view is not None:
            self.history_view.close_history()


def install_alerts(
    app: Any, window: Any = None, tray: Any = None, *, keep_interval: bool = False
) -> AlertsController:
    """Plug alerts, notifications, settings and history into a running PortwatchApp.

    Call once after the app's window and tray exist and before ``app.start()``::

        install_alerts(app, app.window, app.tray)

    ``keep_interval``: the scan interval came from the command line; the
    settings file's interval does not replace it.
    """
    return AlertsController(
        app,
        window if window is not None else app.window,
        tray if tray is not None else getattr(app, "tray", None),
        keep_interval=keep_interval,
    )
