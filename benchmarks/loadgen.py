"""A bounded, self-terminating socket and file load for benchmarks and tests.

    python3 benchmarks/loadgen.py --listeners 1000 --udp 500 --established 4000 \
        --procs 500 --fds 200 --timeout 600

opens, on loopback only:
- L TCP listeners spread over 127.0.0.1, 0.0.0.0, ::1 and dual-stack ::
  (the wildcards are bound by the OS on every interface, but nothing is sent);
- U unconnected UDP sockets over the same four kinds of address;
- E established TCP pairs over loopback (both ends held here, 2 sockets each);
- P idle processes (``sleep``) holding F open files each (``/dev/null``);
- optionally a churn helper that starts N short-lived listening processes per
  second.

It prints one JSON line when ready, then holds everything until its stdin
closes, it gets SIGTERM/SIGINT, or ``--timeout`` seconds pass (a hard limit:
SIGALRM, and every ``sleep`` child ends on its own at the same time).
Importable: :class:`LoadGen` starts it as a child and stops it again.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import resource
import select
import signal
import socket
import struct
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from types import TracebackType
from typing import Any, cast

TCP_ADDRESSES = (("127.0.0.1", False), ("0.0.0.0", False), ("::1", False), ("::", True))
# Where a client reaches a listener bound to each address.
CONNECT_TO = {"127.0.0.1": "127.0.0.1", "0.0.0.0": "127.0.0.1", "::1": "::1", "::": "::1"}


_RESET_ON_CLOSE = struct.pack("ii", 1, 0)  # struct linger: on, 0 seconds


def raise_fd_limit(needed: int) -> int:
    """Raise RLIMIT_NOFILE to at least ``needed`` if allowed; return the new soft limit."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft >= needed:
        return soft
    if hard != resource.RLIM_INFINITY and hard < needed:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (needed, needed))
            return needed
        except (ValueError, OSError):
            needed = hard
    resource.setrlimit(resource.RLIMIT_NOFILE, (needed, hard))
    return needed


def _tcp_listener(address: str, dual: bool) -> socket.socket:
    family = socket.AF_INET6 if ":" in address else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    if family == socket.AF_INET6:
        sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0 if dual else 1)
    sock.bind((address, 0))
    sock.listen(1024)
    return sock


def _udp_socket(address: str, dual: bool) -> socket.socket:
    family = socket.AF_INET6 if ":" in address else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_DGRAM)
    if family == socket.AF_INET6:
        sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0 if dual else 1)
    sock.bind((address, 0))
    return sock


def _churn_loop(rate: float, life: float, until: float) -> None:
    """Runs in a forked helper that holds no sockets: forks short-lived listeners."""
    children: list[int] = []
    period = 1.0 / rate
    next_start = time.monotonic()
    while time.monotonic() < until:
        now = time.monotonic()
        if now >= next_start:
            next_start += period
            pid = os.fork()
            if pid == 0:  # a short-lived server: bind, listen, live, exit
                try:
                    sock = _tcp_listener("127.0.0.1", False)
                    time.sleep(life)
                    sock.close()
                finally:
                    os._exit(0)
            children.append(pid)
        for child in list(children):
            done, _ = os.waitpid(child, os.WNOHANG)
            if done:
                children.remove(child)
        time.sleep(max(0.0, min(next_start - time.monotonic(), 0.05)))
    for child in children:
        with contextlib.suppress(ProcessLookupError):
            os.kill(child, signal.SIGKILL)
        with contextlib.suppress(ChildProcessError):
            os.waitpid(child, 0)
    os._exit(0)


def run(args: argparse.Namespace) -> int:
    deadline = time.monotonic() + args.timeout
    # A hard stop even if nobody closes our stdin.
    signal.signal(signal.SIGALRM, lambda *_: sys.exit(0))
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    signal.alarm(max(1, int(args.timeout)))
    raise_fd_limit(args.listeners + args.udp + 2 * args.established + args.fds + 256)

    churn_pid = 0
    if args.churn > 0:
        # Forked before any socket exists, so churn children inherit none.
        churn_pid = os.fork()
        if churn_pid == 0:
            _churn_loop(args.churn, args.churn_life, deadline)

    sleepers: list[subprocess.Popen[bytes]] = []
    held: list[socket.socket] = []
    try:
        _start_sleepers(args, sleepers)
        listeners = _open_sockets(args, held)
        info: dict[str, Any] = {
            "pid": os.getpid(),
            "listeners": len(listeners),
            "udp": args.udp,
            "established_pairs": args.established,
            "sleepers": [p.pid for p in sleepers],
            "churn_pid": churn_pid or None,
            "ports": [s.getsockname()[1] for s, _ in listeners[:16]],
            # The same listeners as (address, port): another program may hold
            # the same port number on another address or protocol.
            "endpoints": [[address, s.getsockname()[1]] for s, address in listeners[:16]],
        }
        print(json.dumps(info), flush=True)
        while time.monotonic() < deadline:
            ready, _, _ = select.select([sys.stdin], [], [], min(1.0, deadline - time.monotonic()))
            # typeshed says BinaryIO; stdin.buffer is a BufferedReader, which has read1.
            if ready and not cast(io.BufferedReader, sys.stdin.buffer).read1(4096):
                break
        return 0
    finally:
        _clean_up(held, sleepers, churn_pid)


def _start_sleepers(args: argparse.Namespace, sleepers: list[subprocess.Popen[bytes]]) -> None:
    """``args.procs`` processes holding ``args.fds`` open files each, added as they start."""
    files = [os.open(os.devnull, os.O_RDONLY) for _ in range(args.fds)]
    try:
        for _ in range(args.procs):
            # `sleep` ends on its own at the deadline, whatever happens to us.
            sleepers.append(  # noqa: PERF401  # kept one by one for the cleanup
                subprocess.Popen(
                    ["sleep", str(int(args.timeout) + 1)],
                    pass_fds=files,
                    stdin=subprocess.DEVNULL,
                    stdout=subprocess.DEVNULL,
                )
            )
    finally:
        for fd in files:
            os.close(fd)


def _open_sockets(
    args: argparse.Namespace, held: list[socket.socket]
) -> list[tuple[socket.socket, str]]:
    """The listeners (with their address), UDP sockets and established pairs, each in ``held``."""
    listeners: list[tuple[socket.socket, str]] = []
    for i in range(args.listeners):
        address, dual = TCP_ADDRESSES[i % len(TCP_ADDRESSES)]
        sock = _tcp_listener(address, dual)
        listeners.append((sock, address))
        held.append(sock)
    for i in range(args.udp):
        address, dual = TCP_ADDRESSES[i % len(TCP_ADDRESSES)]
        held.append(_udp_socket(address, dual))
    for i in range(args.established):
        server, address = listeners[i % len(listeners)]
        port = server.getsockname()[1]
        client = socket.create_connection((CONNECT_TO[address], port), timeout=10)
        accepted, _ = server.accept()
        # Closed with a reset, not a FIN: no TIME_WAIT leftovers that would
        # slow the next measurement (/proc/net lists them).
        for end in (client, accepted):
            end.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, _RESET_ON_CLOSE)
        held.extend((client, accepted))
    return listeners


def _clean_up(
    held: list[socket.socket], sleepers: list[subprocess.Popen[bytes]], churn_pid: int
) -> None:
    for sock in held:
        sock.close()
    for proc in sleepers:
        proc.kill()
    for proc in sleepers:
        proc.wait()
    if churn_pid:
        with contextlib.suppress(ProcessLookupError):
            os.kill(churn_pid, signal.SIGKILL)
        with contextlib.suppress(ChildProcessError):
            os.waitpid(churn_pid, 0)


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--listeners", type=int, default=100, help="TCP listeners (L)")
    parser.add_argument("--udp", type=int, default=0, help="unconnected UDP sockets (U)")
    parser.add_argument("--established", type=int, default=0, help="loopback TCP pairs (E)")
    parser.add_argument("--procs", type=int, default=0, help="idle processes (P)")
    parser.add_argument("--fds", type=int, default=0, help="open files per idle process (F)")
    parser.add_argument("--churn", type=float, default=0.0, help="short-lived listeners/s")
    parser.add_argument("--churn-life", type=float, default=1.0, help="their life, seconds")
    parser.add_argument("--timeout", type=float, default=300.0, help="hard limit, seconds")
    args = parser.parse_args(argv)
    if args.established and not args.listeners:
        parser.error("--established needs at least one listener")
    return args


class LoadGen:
    """The load generator as a child process: ``with LoadGen(listeners=200) as load:``."""

    def __init__(self, *, timeout: float = 300.0, **counts: float) -> None:
        cmd = [sys.executable, str(Path(__file__).resolve()), f"--timeout={timeout}"]
        cmd += [f"--{name.replace('_', '-')}={value}" for name, value in counts.items()]
        self.proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE)
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        if not line:
            self.proc.wait(10)
            raise RuntimeError(f"load generator failed to start: {' '.join(cmd)}")
        self.info: dict[str, Any] = json.loads(line)
        self.pid = self.proc.pid
        # ("tcp", address, port) of the listeners in info["ports"].
        self.endpoints: set[tuple[str, str, int]] = {
            ("tcp", address, port) for address, port in self.info["endpoints"]
        }

    def stop(self) -> None:
        if self.proc.poll() is None:
            try:
                assert self.proc.stdin is not None
                self.proc.stdin.close()
                self.proc.wait(30)
            except (subprocess.TimeoutExpired, OSError):
                self.proc.kill()
                self.proc.wait(10)

    def __enter__(self) -> LoadGen:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()


if __name__ == "__main__":
    raise SystemExit(run(parse_args()))
