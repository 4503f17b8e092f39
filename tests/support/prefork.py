"""A real pre-fork server for tests (``prefork_child.py``), started and ended from the test.

:class:`PreforkServer` starts the master, reads the state lines it prints
(ports, worker pids) after start, respawn and reload; its ``stop()`` ends the
master (which ends its workers) and then, by PID, any worker it ever
reported that is still there. :func:`ask` is a real client on loopback.
"""

from __future__ import annotations

import json
import os
import select
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import psutil

from tests.support.procs import Endpoint

CHILD = Path(__file__).with_name("prefork_child.py")


class PreforkServer:
    """The server above as a child process; ``stop()`` (or leaving ``with``) ends all of it.

    ``pid`` is the master's, ``workers`` the current workers' pids, ``ports``
    one per address in ``addresses`` (``endpoints`` as tests.support.procs has them).
    """

    def __init__(
        self, addresses: tuple[str, ...] = ("127.0.0.1", "::1"), *, workers: int = 2
    ) -> None:
        self.addresses = addresses
        self.count = workers
        self._buffer = b""
        self._known: dict[int, float] = {}  # every worker ever reported -> its start time
        cmd = [sys.executable, str(CHILD), "--workers", str(workers), *addresses]
        self.proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE)
        self.pid = self.proc.pid
        try:
            state = self._next_state()
        except BaseException:
            self.stop()
            raise
        self.ports: list[int] = state["ports"]
        self.endpoints: list[Endpoint] = [
            ("tcp", address, port) for address, port in zip(addresses, self.ports, strict=True)
        ]

    @property
    def holders(self) -> set[int]:
        """Every process holding the sockets: the master and its workers."""
        return {self.pid, *self.workers}

    def _next_state(self, timeout: float = 15.0) -> dict[str, list[int]]:
        """The next line the master prints (bounded by ``timeout``)."""
        assert self.proc.stdout is not None
        fd = self.proc.stdout.fileno()
        deadline = time.monotonic() + timeout
        while b"\n" not in self._buffer:
            left = deadline - time.monotonic()
            readable, _, _ = select.select([fd], [], [], max(0.0, left))
            if not readable:
                raise RuntimeError(f"the pre-fork master said nothing in {timeout} s")
            chunk = os.read(fd, 65536)
            if not chunk:
                raise RuntimeError("the pre-fork master ended")
            self._buffer += chunk
        line, self._buffer = self._buffer.split(b"\n", 1)
        state: dict[str, list[int]] = json.loads(line)
        self.workers: list[int] = state["workers"]
        for pid in self.workers:
            try:
                self._known[pid] = psutil.Process(pid).create_time()
            except psutil.Error:
                self._known[pid] = -1.0  # gone already: nothing to end later
        return state

    def kill_worker(self, pid: int | None = None) -> list[int]:
        """Kill a worker (the first if none is named); return the workers after the respawn."""
        victim = self.workers[0] if pid is None else pid
        assert victim in self.workers
        os.kill(victim, signal.SIGKILL)
        while victim in self._next_state()["workers"]:
            pass
        return self.workers

    def reload(self) -> list[int]:
        """SIGHUP: new workers, the old ones ended; return the new workers."""
        old = set(self.workers)
        os.kill(self.pid, signal.SIGHUP)
        while old & set(self._next_state()["workers"]):
            pass
        return self.workers

    def stop(self) -> None:
        if self.proc.poll() is None:
            assert self.proc.stdin is not None
            try:
                self.proc.stdin.close()
                self.proc.wait(10)
            except (subprocess.TimeoutExpired, OSError):
                self.proc.kill()
                self.proc.wait(10)
        if self.proc.stdout is not None:
            self.proc.stdout.close()
        for pid, started in self._known.items():
            # Only our own worker, not a process that got its pid since.
            try:
                proc = psutil.Process(pid)
                if started >= 0 and proc.create_time() == started:
                    proc.kill()
                    proc.wait(10)
            except psutil.Error:
                continue

    def __enter__(self) -> PreforkServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def ask(address: str, port: int) -> tuple[socket.socket, int]:
    """Connect to the server; return the connection and the pid of the worker that took it."""
    family = socket.AF_INET6 if ":" in address else socket.AF_INET
    client = socket.socket(family, socket.SOCK_STREAM)
    client.settimeout(10)
    try:
        client.connect((address, port))
        answer = b""
        while not answer.endswith(b"\n"):
            chunk = client.recv(64)
            if not chunk:
                raise RuntimeError("the worker closed the connection without answering")
            answer += chunk
    except BaseException:
        client.close()
        raise
    return client, int(answer)
