"""Real child processes for tests: listeners, clients, and their clean-up."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Protocol, TypeVar

CHILD = Path(__file__).with_name("listener_child.py")

# (proto, address as bound, port): what tells one test's socket from another
# program's. A port number alone does not: TCP and UDP, and each address, have
# their own, so another process may hold the same number meanwhile.
Endpoint = tuple[str, str, int]


class _Bound(Protocol):
    @property
    def proto(self) -> str: ...
    @property
    def address(self) -> str: ...
    @property
    def port(self) -> int: ...


def endpoint_of(spec: str, port: int) -> Endpoint:
    """The endpoint a listener_child spec (KIND:ADDRESS:PORT) bound, given its port."""
    kind, rest = spec.split(":", 1)
    return ("udp" if kind.startswith("udp") else "tcp", rest.rsplit(":", 1)[0], port)


B = TypeVar("B", bound=_Bound)


def at(rows: Iterable[B], endpoints: Iterable[Endpoint]) -> list[B]:
    """The rows (listeners) bound at exactly these endpoints."""
    wanted = set(endpoints)
    return [r for r in rows if (r.proto, r.address, r.port) in wanted]


class ListenerProcess:
    """A child that holds sockets until ``stop()``; ports are in ``ports``."""

    def __init__(
        self,
        specs: Sequence[str],
        *,
        ignore_term: bool = False,
        prefix: Sequence[str] = (),
        reply: str | None = None,
    ) -> None:
        """``reply``: what the child answers each TCP client's message with (else nothing)."""
        cmd = [*prefix, sys.executable, str(CHILD), *specs]
        if ignore_term:
            cmd.append("--ignore-term")
        if reply is not None:
            cmd.append(f"--reply={reply}")
        self.proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        if not line:
            self.proc.wait(5)
            raise RuntimeError(f"listener child failed to start: {cmd}")
        self.ports: list[int] = json.loads(line)
        self.endpoints = [endpoint_of(s, p) for s, p in zip(specs, self.ports, strict=True)]
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
    # os.geteuid exists on POSIX only: on Windows nobody is root here.
    return hasattr(os, "geteuid") and os.geteuid() == 0
