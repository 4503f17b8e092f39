"""HTTP over a local unix socket (a container engine's API), for :mod:`.containers`."""

from __future__ import annotations

import http.client
import socket
import sys


class UnixHTTPConnection(http.client.HTTPConnection):
    """HTTP over a local unix socket: the connection never leaves the machine."""

    def __init__(self, path: str, timeout: float) -> None:
        super().__init__("localhost", timeout=timeout)
        self._path = path

    def connect(self) -> None:
        if sys.platform == "win32":  # no unix sockets: read as "no engine answers"
            raise OSError("unix sockets are not available on Windows")
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(self.timeout)
        try:
            sock.connect(self._path)
        except OSError:
            sock.close()
            raise
        self.sock = sock
