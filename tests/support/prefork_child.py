"""The pre-fork server that tests.support.prefork starts: a python master and forked workers.

``python prefork_child.py --workers N ADDRESS...``: the master binds one TCP
socket per address (port 0; IPv6 ones IPv6-only), forks N workers that accept
on all of them and answer each connection with their pid (one line), and
prints one JSON line ``{"master", "ports", "workers"}`` when it is ready and
again after every change:

- a worker that dies is reaped and replaced (the respawn);
- SIGHUP is a reload, as ``nginx -s reload``: N new workers are started, then
  the old ones are ended (SIGTERM) and waited for;
- stdin closed (or SIGTERM) ends the workers and then the master. A worker
  whose master is gone ends itself within half a second.

Standard library only: it runs as a program, outside the test's packages.
"""

from __future__ import annotations

import contextlib
import json
import os
import select
import signal
import socket
import sys


def _bind(address: str) -> socket.socket:
    family = socket.AF_INET6 if ":" in address else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    if family == socket.AF_INET6:
        sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
    sock.bind((address, 0))
    sock.listen(64)
    sock.setblocking(False)
    return sock


def _work(listeners: list[socket.socket], master: int) -> None:
    """A worker: accept on every socket, say our pid, hold each connection until it closes."""
    signal.set_wakeup_fd(-1)
    for number in (signal.SIGCHLD, signal.SIGTERM, signal.SIGHUP):
        signal.signal(number, signal.SIG_DFL)
    devnull = os.open(os.devnull, os.O_RDWR)
    os.dup2(devnull, 0)  # the test's pipes are the master's
    os.dup2(devnull, 1)
    me = str(os.getpid()).encode() + b"\n"
    held: list[socket.socket] = []
    while os.getppid() == master:
        readable, _, _ = select.select([*listeners, *held], [], [], 0.5)
        for sock in readable:
            if sock in listeners:
                try:
                    conn, _ = sock.accept()
                except BlockingIOError:
                    continue  # another worker took it
                conn.sendall(me)
                held.append(conn)
            elif not sock.recv(4096):
                held.remove(sock)
                sock.close()


class _Master:
    def __init__(self, addresses: list[str], workers: int) -> None:
        self.listeners = [_bind(address) for address in addresses]
        self.count = workers
        self.workers: list[int] = []
        self.reload = False
        self.stopping = False
        self.wake_r, wake_w = socket.socketpair()
        self.wake_r.setblocking(False)
        wake_w.setblocking(False)
        self._wake_w = wake_w
        signal.set_wakeup_fd(wake_w.fileno())
        signal.signal(signal.SIGCHLD, lambda *_: None)  # wakes the loop: reap
        signal.signal(signal.SIGHUP, self._on_hup)
        signal.signal(signal.SIGTERM, self._on_term)

    def _on_hup(self, *_: object) -> None:
        self.reload = True

    def _on_term(self, *_: object) -> None:
        self.stopping = True

    def spawn(self) -> int:
        master = os.getpid()
        pid = os.fork()
        if pid == 0:
            try:
                _work(self.listeners, master)
            finally:
                os._exit(0)
        return pid

    def report(self) -> None:
        state = {
            "master": os.getpid(),
            "ports": [sock.getsockname()[1] for sock in self.listeners],
            "workers": list(self.workers),
        }
        sys.stdout.write(json.dumps(state) + "\n")
        sys.stdout.flush()

    def reap(self) -> bool:
        """Replace the workers that died; whether any did."""
        died = False
        while True:
            try:
                pid, _ = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return died
            if pid == 0:
                return died
            if pid in self.workers:
                died = True
                index = self.workers.index(pid)
                self.workers[index] = self.spawn()

    def do_reload(self) -> None:
        self.reload = False
        old = self.workers
        self.workers = [self.spawn() for _ in range(self.count)]
        for pid in old:
            os.kill(pid, signal.SIGTERM)
        for pid in old:
            with contextlib.suppress(ChildProcessError):  # reaped by reap() already
                os.waitpid(pid, 0)

    def end(self) -> None:
        for pid in self.workers:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGTERM)
        for pid in self.workers:
            with contextlib.suppress(ChildProcessError):
                os.waitpid(pid, 0)

    def run(self) -> int:
        self.workers = [self.spawn() for _ in range(self.count)]
        self.report()
        stdin = sys.stdin.fileno()
        while not self.stopping:
            readable, _, _ = select.select([stdin, self.wake_r], [], [], 1.0)
            if stdin in readable and not os.read(stdin, 4096):
                break  # the test is done with us
            if self.wake_r in readable:
                try:
                    while self.wake_r.recv(4096):
                        pass
                except BlockingIOError:
                    pass
            changed = self.reap()
            if self.reload and not self.stopping:
                self.do_reload()
                changed = True
            if changed:
                self.report()
        self.end()
        return 0


def serve(argv: list[str]) -> int:
    workers = int(argv[argv.index("--workers") + 1]) if "--workers" in argv else 2
    addresses = [
        a for i, a in enumerate(argv) if not a.startswith("--") and argv[i - 1] != "--workers"
    ]
    return _Master(addresses or ["127.0.0.1", "::1"], workers).run()


if __name__ == "__main__":
    raise SystemExit(serve(sys.argv[1:]))
