"""Starting the tray app: arguments, one instance per user, signals, the event loop.

``portwatch`` with no command comes here (:func:`run_app`); the app itself is
built in one place, :class:`portwatch.ui.app.PortwatchApp`.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Sequence
from typing import NoReturn

from PySide6.QtWidgets import QApplication

from portwatch import __version__
from portwatch.core import paths
from portwatch.core.arguments import interval_seconds
from portwatch.core.paths import APP_ID
from portwatch.notify import set_windows_app_id
from portwatch.ui.app import PortwatchApp
from portwatch.ui.icons import app_icon
from portwatch.ui.runtime import SignalWatcher, setup_logging
from portwatch.ui.single_instance import InstanceServer, refusal, send_request, server_name

log = logging.getLogger(__name__)


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

    # None: the settings file's interval.
    app = PortwatchApp(interval=args.interval, show_window=args.show)
    server = InstanceServer(app.status, app, name)
    if not server.listen():
        # Another instance won the race to start.
        send_request("show", name)
        app.shutdown()
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
