"""The tray application: `portwatch` with no command starts it here.

``PortwatchApp`` wires the scan service (worker thread), the tray icon, the
main window and the single-instance server. Other parts of the app plug in:

- ``PortwatchApp.snapshot_ready(Snapshot)``: every scan, on the UI thread.
- ``PortwatchApp.latest``: the last Snapshot (None before the first scan).
- ``PortwatchApp.settings_requested``: "Settings…" in the tray or the window.
- ``PortwatchApp.window`` (MainWindow) and ``PortwatchApp.tray`` (TrayIcon or
  None without a system tray); ``tray.set_watched_busy(n)`` for the tooltip.
- ``PortwatchApp.tray_appeared(TrayIcon)``: a tray came up after the app
  started without one (a panel that starts after us at login); the app has
  moved into it.
- ``PortwatchApp.show_port(port)``: the window, searching for that port.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import time
from collections.abc import Callable, Sequence
from typing import Any, NoReturn

from PySide6.QtCore import SIGNAL, QObject, QTimer, Signal
from PySide6.QtWidgets import QApplication, QLabel

from portwatch import __version__
from portwatch.core import paths
from portwatch.core.arguments import interval_seconds
from portwatch.core.model import Snapshot
from portwatch.core.paths import APP_ID
from portwatch.core.scanner import ConsumerGuard, Scanner
from portwatch.notify import set_windows_app_id
from portwatch.ui.alerts_controller import AlertsController, install_alerts
from portwatch.ui.icons import app_icon
from portwatch.ui.listener_actions import install_actions
from portwatch.ui.main_window import MainWindow
from portwatch.ui.runtime import SignalWatcher, setup_logging
from portwatch.ui.single_instance import InstanceServer, refusal, send_request, server_name
from portwatch.ui.tray import TrayIcon
from portwatch.ui.worker import DEFAULT_INTERVAL, ScanService

log = logging.getLogger(__name__)

# Started without a tray, the app looks for one again: at login the panel may
# come up after us. Often at first, then rarely: each look is a D-Bus call (or
# an X selection lookup) on the UI thread.
TRAY_LOOK_FAST_MS = 2_000
TRAY_LOOK_FAST_FOR = 120.0  # seconds
TRAY_LOOK_SLOW_MS = 30_000


class PortwatchApp(QObject):
    snapshot_ready = Signal(object)  # Snapshot
    settings_requested = Signal()
    tray_appeared = Signal(object)  # TrayIcon

    def __init__(
        self,
        *,
        interval: float = DEFAULT_INTERVAL,
        show_window: bool = False,
        tray_available: bool | None = None,
        scanner_factory: Callable[[], Scanner] | None = None,
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self.service = ScanService(self, interval=interval, scanner_factory=scanner_factory)
        self.window = MainWindow()
        # Told "no tray" by the caller (tests): do not look for one later either.
        look_for_tray = tray_available is None
        if tray_available is None:
            tray_available = TrayIcon.available()
        self.tray: TrayIcon | None = None
        self._tray_look: QTimer | None = None
        self._tray_look_since = 0.0
        self.instance: InstanceServer | None = None
        self.alerts: AlertsController | None = None  # run_app installs them
        self._quitting = False
        self._consumers = ConsumerGuard()  # window, tray and alerts each get every scan
        # Free / open / copy / export / reveal, in the table, toolbar and tray menu.
        self.listener_actions, self.port_check = install_actions(
            self.window, snapshot_provider=lambda: self.latest
        )

        self.service.snapshot_ready.connect(self._on_snapshot)
        self.service.scan_failed.connect(self._on_scan_failed)
        self.window.pause_toggled.connect(self.set_paused)
        self.window.settings_requested.connect(self.request_settings)
        self.window.connections_visible_changed.connect(self.service.set_connection_owners)
        self.window.closed.connect(self.quit)

        if tray_available:
            self._adopt_tray(TrayIcon(self))
            if show_window:
                self.show_window()
        else:
            # Without a tray the window is the app: it opens now, says why
            # once, and closing it quits.
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
        tray.set_paused(self.paused)
        if self.latest is not None:
            tray.update_snapshot(self.latest)
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
        return self.service.latest

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
        if self.receivers(SIGNAL("settings_requested()")) > 0:
            self.settings_requested.emit()
            return
        self.show_window()
        self.window.statusBar().showMessage("No settings dialog is installed in this build.", 5000)

    def status(self) -> dict[str, Any]:
        """What the single-instance ``status`` request reports (tests, scripts)."""
        latest = self.latest
        model = self.window.listener_model
        ports = sorted({listener.port for listener in model.items()})
        return {
            "pid": os.getpid(),
            "window_visible": self.window.isVisible(),
            "tray": self.tray is not None,
            "tray_visible": bool(self.tray and self.tray.icon.isVisible()),
            "paused": self.paused,
            "interval": self.service.interval,
            "scans": latest is not None,
            "listeners": len(latest.listeners) if latest else 0,
            "table_ports": ports,
            "no_tray_notice": self.window.notice.isVisible(),
            "balloons": _balloon_texts(),
        }

    def _on_snapshot(self, snapshot: Snapshot) -> None:
        # A failure in one consumer is logged and told once; the others still run.
        tray = self.tray
        for what, consume in (
            ("Showing the port list", lambda: self.window.apply_snapshot(snapshot)),
            ("Updating the tray icon", lambda: tray.update_snapshot(snapshot) if tray else None),
            ("Alerts and history", lambda: self.snapshot_ready.emit(snapshot)),
        ):
            message = self._consumers.run(what, consume)
            if message is not None:
                self.window.statusBar().showMessage(message, 15_000)

    def _on_scan_failed(self, message: str) -> None:
        self.window.statusBar().showMessage(message, 10_000)

    def quit(self) -> None:
        """Stop the worker (joined), save the window, leave the event loop."""
        if self._quitting:
            return
        self._quitting = True
        log.info("quitting")
        self.window.save_state()
        self.service.stop()
        if self._tray_look is not None:
            self._tray_look.stop()
        if self.tray is not None:
            self.tray.hide()
        if self.instance is not None:
            self.instance.close()
        app = QApplication.instance()
        if app is not None:
            app.quit()


class _ArgParser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: {message.removeprefix('argument ')} (see `portwatch --help`)\n")


def parse_app_args(app_args: Sequence[str]) -> argparse.Namespace:
    parser = _ArgParser(prog="portwatch", add_help=False)
    # None: use the interval saved in the settings (default 2 s).
    parser.add_argument("--interval", type=interval_seconds, default=None)
    parser.add_argument("--show", action="store_true")
    args, unknown = parser.parse_known_args(list(app_args))
    if unknown:
        parser.error(f"unrecognized arguments: {' '.join(unknown)}")
    return args


def run_app(app_args: list[str], *, debug: bool) -> int:
    """Start the tray app (or hand over to the running one); the process exit code."""
    args = parse_app_args(app_args)
    if _no_display():
        sys.stderr.write(
            "portwatch: no display for the tray app (DISPLAY and WAYLAND_DISPLAY are unset); "
            "the command line works without one: try `portwatch list`\n"
        )
        return 1
    setup_logging(debug=debug)
    if sys.platform == "win32":
        # Before any window exists, so notifications carry the installer's shortcut identity.
        set_windows_app_id()
    qapp = QApplication.instance()
    if not isinstance(qapp, QApplication):
        qapp = QApplication([sys.argv[0] if sys.argv else "portwatch"])
    qapp.setApplicationName("portwatch")
    qapp.setApplicationVersion(__version__)
    qapp.setOrganizationName("portwatch")
    qapp.setDesktopFileName(APP_ID)
    qapp.setQuitOnLastWindowClosed(False)
    qapp.setWindowIcon(app_icon())

    # Ctrl-C / SIGTERM from here on end the app cleanly, even one that arrives
    # while the app is still being built (its tray icon may already be visible).
    started: list[PortwatchApp] = []
    stop_early: list[int] = []

    def on_signal(number: int) -> None:
        if started:
            started[0].quit()
        else:
            stop_early.append(number)

    watcher = SignalWatcher(on_signal, qapp)
    watcher.install()
    try:
        return _start_and_run(qapp, args, started, stop_early)
    finally:
        watcher.uninstall()


def _start_and_run(
    qapp: QApplication,
    args: argparse.Namespace,
    started: list[PortwatchApp],
    stop_early: list[int],
) -> int:
    # What an older version left readable (log, window state, history) is tightened first.
    paths.secure_existing()
    try:
        name = server_name()
    except OSError as exc:
        # Never hand over to (or "show") a socket another user could answer on.
        log.info("refusing to start: %s", exc)
        sys.stderr.write(refusal(exc) + "\n")
        return 1
    if send_request("show", name) is not None:
        log.info("portwatch is already running: asked it to show its window")
        return 0

    interval = DEFAULT_INTERVAL if args.interval is None else args.interval
    app = PortwatchApp(interval=interval, show_window=args.show)
    # Alerts, notifications, settings and history; reads the settings file.
    app.alerts = install_alerts(app, app.window, app.tray, keep_interval=args.interval is not None)
    server = InstanceServer(app.status, app, name)
    if not server.listen():
        # Another instance won the race to start.
        send_request("show", name)
        app.service.stop()
        return 0
    app.instance = server
    server.show_requested.connect(app.show_window)
    started.append(app)
    if stop_early:
        log.info("signal %d during start-up: quitting", stop_early[0])
        app.quit()
        return 0

    app.start()
    log.info(
        "portwatch %s started (pid %d, interval %.1f s)",
        __version__,
        os.getpid(),
        app.service.interval,
    )
    try:
        qapp.exec()
    finally:
        app.quit()  # no-op if already quitting; joins the worker otherwise
    log.info("portwatch stopped")
    return 0


def _no_display() -> bool:
    """On Linux/BSD without X or Wayland, Qt would abort; say so instead."""
    if sys.platform in ("win32", "darwin") or os.environ.get("QT_QPA_PLATFORM"):
        return False
    return not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))


def main() -> int:
    """Entry point of the `portwatch-gui` launcher (no console)."""
    argv = sys.argv[1:]
    debug = "--debug" in argv
    return run_app([arg for arg in argv if arg != "--debug"], debug=debug)


def _balloon_texts() -> list[list[str]]:
    """The texts of the tray balloons Qt draws itself (XEmbed trays) now showing."""
    app = QApplication.instance()
    if not isinstance(app, QApplication):
        return []
    return [
        [label.text() for label in widget.findChildren(QLabel) if label.text()]
        for widget in app.topLevelWidgets()
        if widget.isVisible() and widget.inherits("QBalloonTip")
    ]
