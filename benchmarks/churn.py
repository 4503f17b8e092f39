"""Socket churn on loopback: connections opening and closing, listeners coming and going.

    python3 benchmarks/churn.py --connections 200 --listeners 10 --seconds 600 --log binds.jsonl

runs, in one process that ends by itself after ``--seconds`` (and at most
``--timeout``):

- a loopback TCP server that accepts and closes, and a client loop that opens
  and closes C connections a second to it (the client resets, so no TIME_WAIT
  piles up on its side);
- L listening processes a second: each bind is made here, on 127.0.0.1, on a
  port from ``--ports``, and handed to a forked child that holds it for its
  life and exits. A tenth of the binds go to the ports in ``--watched`` (for a
  watched-port alert). Lives are drawn from ``--lives`` in turn (seconds), so
  short and long holders mix in a known proportion.

Each bind is one JSON line in ``--log`` when its holder has ended:
``{"pid", "port", "start", "end", "watched"}`` (wall-clock seconds), so a test
can check what the history shows against what really happened. Prints one
JSON line when running. Only 127.0.0.1 is used.
"""

from __future__ import annotations

import argparse
import contextlib
import itertools
import json
import os
import random
import signal
import socket
import struct
import sys
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import IO

_RESET_ON_CLOSE = struct.pack("ii", 1, 0)  # struct linger: on, 0 seconds


def _port_range(text: str) -> range:
    low, _, high = text.partition("-")
    return range(int(low), int(high or low) + 1)


def _serve(server: socket.socket, stop: threading.Event) -> None:
    server.settimeout(0.2)
    while not stop.is_set():
        try:
            conn, _ = server.accept()
        except TimeoutError:
            continue
        except OSError:
            return
        conn.close()


def _connect_loop(port: int, rate: float, stop: threading.Event) -> None:
    period = 1.0 / rate
    next_at = time.monotonic()
    while not stop.is_set():
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as client:
            client.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, _RESET_ON_CLOSE)
            with contextlib.suppress(OSError):
                client.connect(("127.0.0.1", port))
        next_at += period
        delay = next_at - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        elif delay < -1.0:
            next_at = time.monotonic()  # fell behind: do not burst to catch up


def _bind(port: int) -> socket.socket | None:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        sock.bind(("127.0.0.1", port))
        sock.listen(8)
    except OSError:
        sock.close()
        return None
    return sock


def _hold(sock: socket.socket, life: float) -> int:
    """Fork a child that holds ``sock`` for ``life`` seconds; the parent's copy is closed."""
    pid = os.fork()
    if pid == 0:
        try:
            # Hold only this socket: not the server, the log or another holder's bind.
            keep = sock.fileno()
            os.closerange(3, keep)
            os.closerange(keep + 1, 65536)
            signal.signal(signal.SIGTERM, signal.SIG_DFL)
            time.sleep(life)
        finally:
            os._exit(0)
    sock.close()
    return pid


def run(args: argparse.Namespace) -> int:
    deadline = time.monotonic() + min(args.seconds, args.timeout)
    signal.signal(signal.SIGALRM, lambda *_: os._exit(3))
    signal.alarm(int(args.timeout) + 30)  # a hard stop whatever happens
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    server = socket.create_server(("127.0.0.1", 0), backlog=512)
    threads = [threading.Thread(target=_serve, args=(server, stop), daemon=True)]
    if args.connections > 0:
        threads.append(
            threading.Thread(
                target=_connect_loop,
                args=(server.getsockname()[1], args.connections, stop),
                daemon=True,
            )
        )
    for thread in threads:
        thread.start()
    ports, watched = _port_range(args.ports), _port_range(args.watched)
    lives = itertools.cycle(float(x) for x in args.lives.split(","))
    rng = random.Random(args.seed)
    live: dict[int, dict[str, object]] = {}
    log: IO[str] = Path(args.log or os.devnull).open("a", encoding="utf-8")  # noqa: SIM115
    print(json.dumps({"pid": os.getpid(), "server_port": server.getsockname()[1]}), flush=True)
    period = 1.0 / args.listeners if args.listeners > 0 else None
    next_bind = time.monotonic()
    count = 0
    try:
        while time.monotonic() < deadline and not stop.is_set():
            if period is not None and time.monotonic() >= next_bind:
                next_bind += period
                count += 1
                in_watched = count % 10 == 0
                port = rng.choice(watched if in_watched else ports)
                sock = _bind(port)
                if sock is not None:
                    start = time.time()
                    pid = _hold(sock, next(lives))
                    live[pid] = {"pid": pid, "port": port, "start": start, "watched": in_watched}
            _reap(live, log, block=False)
            time.sleep(0.01)
    finally:
        stop.set()
        for pid in list(live):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGTERM)
        _reap(live, log, block=True)
        log.close()
        server.close()
    return 0


def _reap(live: dict[int, dict[str, object]], log: IO[str], *, block: bool) -> None:
    for pid in list(live):
        try:
            done, _ = os.waitpid(pid, 0 if block else os.WNOHANG)
        except ChildProcessError:
            done = pid
        if done:
            record = live.pop(pid)
            record["end"] = time.time()
            log.write(json.dumps(record) + "\n")
    log.flush()


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--connections", type=float, default=200.0, help="opens+closes a second")
    parser.add_argument("--listeners", type=float, default=10.0, help="listening processes/s")
    parser.add_argument("--seconds", type=float, default=60.0, help="how long to run")
    parser.add_argument("--lives", default="0.3,0.5,0.8,4,6", help="holder lives, in turn (s)")
    parser.add_argument("--ports", default="30000-39999", help="ports the holders bind")
    parser.add_argument("--watched", default="41000-41019", help="a tenth of binds go here")
    parser.add_argument("--log", default="", help="append one JSON line per bind here")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--timeout", type=float, default=900.0, help="hard limit, seconds")
    return parser.parse_args(argv)


if __name__ == "__main__":
    sys.exit(run(parse_args()))
