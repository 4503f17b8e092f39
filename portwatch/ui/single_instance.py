"""One portwatch per user session, over a local socket (no network port).

The first instance listens on a per-user local socket. A later launch
connects, sends ``show``, waits for ``ok`` and exits. A socket file left by a
crash is removed before listening (``QLocalServer.removeServer``) once a
connection attempt shows nobody answers on it.

On Linux and macOS the socket lives in a folder only this user can enter
(:func:`portwatch.core.paths.runtime_dir`, verified to be ours: no other
user can create it first, plant a symbolic link there, or answer in our
place). If the folder is someone else's, :func:`server_name` raises
:class:`~portwatch.core.files.UnsafeFolderError` and the app refuses to
start. On Windows it is a named pipe per user name.

Requests are one line each; the server answers one line:

- ``show`` -> ``ok``: bring the window to the front.
- ``status`` -> a JSON object (pid, window/tray visibility, paused, ports in
  the table): a probe for tests and scripts.
"""

from __future__ import annotations

import getpass
import json
import logging
import sys
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QObject, Signal
from PySide6.QtNetwork import QLocalServer, QLocalSocket

from portwatch.core.files import UnsafeFolderError
from portwatch.core.paths import SOCKET_NAME, runtime_dir

log = logging.getLogger(__name__)

__all__ = ["InstanceServer", "UnsafeFolderError", "refusal", "send_request", "server_name"]

CONNECT_TIMEOUT_MS = 1000
REPLY_TIMEOUT_MS = 3000


def server_name() -> str:
    """The socket's full path in the user's private folder; a pipe name on Windows.

    Raises UnsafeFolderError (an OSError) when that folder cannot be trusted,
    OSError when it cannot be made.
    """
    if sys.platform == "win32":
        return f"portwatch-{getpass.getuser()}"
    return str(runtime_dir() / SOCKET_NAME)


def refusal(error: OSError) -> str:
    """The one line the app prints when it cannot have a private instance socket."""
    if isinstance(error, UnsafeFolderError):
        return (
            f"portwatch: {error} — portwatch cannot start safely; remove it or set XDG_RUNTIME_DIR"
        )
    where = f" {error.filename}" if error.filename else ""
    return (
        f"portwatch: cannot make the private folder{where} that portwatch needs to start: "
        f"{error.strerror or error}"
    )


def send_request(
    request: str, name: str | None = None, timeout_ms: int = REPLY_TIMEOUT_MS
) -> str | None:
    """Send one request line to a running instance; its reply, or None if none runs."""
    socket = QLocalSocket()
    socket.connectToServer(name or server_name())
    if not socket.waitForConnected(CONNECT_TIMEOUT_MS):
        return None
    socket.write(f"{request}\n".encode())
    socket.flush()
    reply = b""
    while not reply.endswith(b"\n"):
        if not socket.waitForReadyRead(timeout_ms):
            break
        reply += bytes(socket.readAll().data())
    socket.disconnectFromServer()
    return reply.decode("utf-8", "replace").strip() if reply else ""


class InstanceServer(QObject):
    """Listens for later launches; ``show_requested`` when one asks."""

    show_requested = Signal()

    def __init__(
        self,
        status: Callable[[], dict[str, Any]],
        parent: QObject | None = None,
        name: str | None = None,
    ) -> None:
        super().__init__(parent)
        self.name = name or server_name()
        self._status = status
        self._server = QLocalServer(self)
        self._server.setSocketOptions(QLocalServer.SocketOption.UserAccessOption)
        self._server.newConnection.connect(self._accept)
        self._buffers: dict[QLocalSocket, bytes] = {}

    def listen(self) -> bool:
        """Start listening; False if another instance answers on the name."""
        if self._server.listen(self.name):
            return True
        if send_request("ping", self.name) is not None:
            return False
        # Nobody answers: a socket file left by a crash. Remove it and retry.
        log.info("removing a stale instance socket %s", self.name)
        QLocalServer.removeServer(self.name)
        if self._server.listen(self.name):
            return True
        log.warning("cannot listen on %s: %s", self.name, self._server.errorString())
        return True  # run anyway; only the hand-off is lost

    def close(self) -> None:
        self._server.close()

    def _accept(self) -> None:
        while self._server.hasPendingConnections():
            connection = self._server.nextPendingConnection()
            if connection is None:
                break
            self._buffers[connection] = b""
            connection.readyRead.connect(lambda c=connection: self._read(c))
            connection.disconnected.connect(lambda c=connection: self._forget(c))

    def _forget(self, connection: QLocalSocket) -> None:
        self._buffers.pop(connection, None)
        connection.deleteLater()

    def _read(self, connection: QLocalSocket) -> None:
        data = self._buffers.get(connection, b"") + bytes(connection.readAll().data())
        while b"\n" in data:
            line, data = data.split(b"\n", 1)
            self._handle(connection, line.decode("utf-8", "replace").strip())
        if len(data) > 4096:
            data = b""  # not one of ours; do not buffer forever
        if connection in self._buffers:
            self._buffers[connection] = data

    def _handle(self, connection: QLocalSocket, request: str) -> None:
        if request == "show":
            log.info("another launch asked to show the window")
            reply = "ok"
            self.show_requested.emit()
        elif request == "ping":
            reply = "pong"
        elif request == "status":
            reply = json.dumps(self._status(), sort_keys=True)
        else:
            reply = "error: unknown request"
        connection.write(f"{reply}\n".encode())
        connection.flush()
