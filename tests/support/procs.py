"""Real child processes for tests: listeners, clients, and their clean-up."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

CHILD = Path(__file__).with_name("listener_child.py")


class ListenerProcess:
    """A child that holds sockets until ``stop()``; ports are in ``ports``."""

    def __init__(
        self, specs: Sequence[str], *, ignore_term: bool = False, prefix: Sequence[str] = ()
    ) -> None:
        cmd = [*prefix, sys.executable, str(CHILD), *specs]
        if ignore_term:
            cmd.append("--ignore-term")
        self.proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        if not line:
            self.proc.wait(5)
            raise RuntimeError(f"listener child failed to start: {cmd}")
        self.ports: list[int] = json.loads(line)
        self.pid = self.proc.pid

    def stop(self) -> None:
        if self.proc.poll() is None:
            try:
                assert self.proc.stdin is not None
                self.proc.stdin.close()
                self.proc.wait(5)
            except (subprocess.TimeoutExpired, BrokenPipeError, OSError):
                self.proc.kill()
                self.proc.wait(5)

    def __enter__(self) -> ListenerProcess:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def wait_until(predicate: Callable[[], bool], timeout: float = 10.0, step: float = 0.05) -> bool:
    """Poll ``predicate`` until true or ``timeout``; bounded so tests never hang."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(step)
    return predicate()


def connect_clients(address: str, port: int, count: int) -> list[socket.socket]:
    family = socket.AF_INET6 if ":" in address else socket.AF_INET
    clients = []
    for _ in range(count):
        sock = (
            socket.create_connection((address, port), timeout=5)
            if family == socket.AF_INET
            else _connect6(address, port)
        )
        clients.append(sock)
    return clients


def _connect6(address: str, port: int) -> socket.socket:
    sock = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
    sock.settimeout(5)
    sock.connect((address, port))
    return sock


def is_root() -> bool:
    return os.geteuid() == 0
