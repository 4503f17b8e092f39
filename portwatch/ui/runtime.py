"""Process plumbing for the Qt app: logging (with Qt's own messages) and Unix signals."""

from __future__ import annotations

import contextlib
import io
import logging
import logging.handlers
import os
import signal
import socket
import sys
from collections.abc import Callable
from pathlib import Path
from types import FrameType

from PySide6.QtCore import (
    QMessageLogContext,
    QObject,
    QSocketNotifier,
    QTimer,
    QtMsgType,
    qInstallMessageHandler,
)

from portwatch.core.files import FILE_MODE, tighten
from portwatch.core.paths import log_dir

log = logging.getLogger(__name__)

LOG_FILE = "portwatch.log"
LOG_BYTES = 1_000_000
LOG_BACKUPS = 3
LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"

_QT_LEVELS = {
    QtMsgType.QtDebugMsg: logging.DEBUG,
    QtMsgType.QtInfoMsg: logging.INFO,
    QtMsgType.QtWarningMsg: logging.WARNING,
    QtMsgType.QtCriticalMsg: logging.ERROR,
    QtMsgType.QtFatalMsg: logging.CRITICAL,
}


class PrivateRotatingFileHandler(logging.handlers.RotatingFileHandler):
    """A rotating log that only its owner can read: created 0600, old ones tightened.

    The log names processes and ports; other local users have no business
    reading it. The file is created with mode 0600 (never briefly 0644), an
    existing file from an older version is tightened when opened, and the
    rotated files (``portwatch.log.1`` …) are tightened at every rollover.
    """

    def _open(self) -> io.TextIOWrapper:
        flags = os.O_WRONLY | os.O_CREAT | os.O_APPEND | getattr(os, "O_BINARY", 0)
        fd = os.open(self.baseFilename, flags, FILE_MODE)
        try:
            tighten(Path(self.baseFilename))
            return os.fdopen(fd, "a", encoding=self.encoding, errors=self.errors)
        except BaseException:
            os.close(fd)
            raise

    def doRollover(self) -> None:
        super().doRollover()
        base = Path(self.baseFilename)
        for number in range(1, self.backupCount + 1):
            tighten(base.with_name(f"{base.name}.{number}"))


def setup_logging(*, debug: bool) -> logging.Handler | None:
    """A rotating file in the log folder, stderr per --debug, Qt routed into both."""
    root = logging.getLogger()
    root.setLevel(logging.DEBUG if debug else logging.INFO)
    if not any(isinstance(h, logging.StreamHandler) for h in root.handlers):
        stderr = logging.StreamHandler()
        stderr.setFormatter(logging.Formatter(LOG_FORMAT))
        root.addHandler(stderr)
    for handler in root.handlers:
        if type(handler) is logging.StreamHandler:
            handler.setLevel(logging.DEBUG if debug else logging.WARNING)
    file_handler: logging.Handler | None = None
    try:
        file_handler = PrivateRotatingFileHandler(
            log_dir() / LOG_FILE, maxBytes=LOG_BYTES, backupCount=LOG_BACKUPS, encoding="utf-8"
        )
    except OSError as exc:
        log.warning("no log file: %s", exc)
    else:
        file_handler.setFormatter(logging.Formatter(LOG_FORMAT))
        file_handler.setLevel(logging.DEBUG if debug else logging.INFO)
        root.addHandler(file_handler)
    qInstallMessageHandler(_qt_message)
    return file_handler


def _qt_message(kind: QtMsgType, context: QMessageLogContext, message: str) -> None:
    category = context.category or "default"
    logging.getLogger(f"qt.{category}").log(_QT_LEVELS.get(kind, logging.WARNING), "%s", message)


class SignalWatcher(QObject):
    """Turns SIGINT/SIGTERM into a Qt-thread call of ``on_signal``.

    Python runs signal handlers only when the interpreter gets control, which
    a Qt event loop may not give for a long time. The C handler writes to a
    socketpair (``signal.set_wakeup_fd``); a QSocketNotifier on the other end
    wakes the loop, and the Python handler runs. Where that is not possible
    (Windows), a short timer gives the interpreter a chance instead.
    """

    def __init__(self, on_signal: Callable[[int], None], parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._on_signal = on_signal
        self._previous: dict[int, object] = {}
        self._notifier: QSocketNotifier | None = None
        self._timer: QTimer | None = None
        self._pair: tuple[socket.socket, socket.socket] | None = None
        self._old_wakeup_fd = -1

    def install(self) -> None:
        wanted = [signal.SIGINT, signal.SIGTERM]
        if sys.platform != "win32":
            reader, writer = socket.socketpair()
            reader.setblocking(False)
            writer.setblocking(False)
            self._pair = (reader, writer)
            self._old_wakeup_fd = signal.set_wakeup_fd(writer.fileno())
            self._notifier = QSocketNotifier(reader.fileno(), QSocketNotifier.Type.Read, self)
            self._notifier.activated.connect(self._drain)
        else:
            self._timer = QTimer(self)
            self._timer.timeout.connect(lambda: None)
            self._timer.start(250)
        for number in wanted:
            self._previous[number] = signal.signal(number, self._handle)

    def uninstall(self) -> None:
        for number, previous in self._previous.items():
            with contextlib.suppress(TypeError, ValueError):
                signal.signal(number, previous)  # type: ignore[arg-type]
        self._previous.clear()
        if self._pair is not None:
            signal.set_wakeup_fd(self._old_wakeup_fd)
            if self._notifier is not None:
                self._notifier.setEnabled(False)
            for end in self._pair:
                end.close()
            self._pair = None
        if self._timer is not None:
            self._timer.stop()

    def _drain(self) -> None:
        if self._pair is None:
            return
        with contextlib.suppress(OSError):
            while self._pair[0].recv(64):
                pass

    def _handle(self, number: int, _frame: FrameType | None) -> None:
        log.info("received %s: quitting", signal.Signals(number).name)
        # Let the handler return first; quitting from inside it can re-enter Qt.
        QTimer.singleShot(0, lambda: self._on_signal(number))
