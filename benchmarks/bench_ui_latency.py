"""How late the tray app's UI event loop runs while the history is locked and notifications hang.

    python -m benchmarks.bench_ui_latency [--lock 20] [--interval 0.5]

The real app (offscreen window) runs in a child process with private XDG
folders and a private session bus on which a notification server owns
``org.freedesktop.Notifications``, answers GetServerInformation and
GetCapabilities, and never answers ``Notify``. Once the app has its first
picture, another process holds the history database with ``BEGIN EXCLUSIVE``
for ``--lock`` seconds while this process opens and closes listeners on
watched ports (127.0.0.1, and 0.0.0.0 binds for the public-bind alert; nothing
connects anywhere). A 10 ms ``QTimer`` on the app's UI thread records how late
each tick comes; the table gives p50/p99/max of that lateness, and "events
lost": the bound and freed events of the listeners made here that the history
does not hold once the lock has gone.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import select
import signal
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import IO

PROBE_MS = 10
PORTS = 24  # watched ports, picked free by the OS at start
NOTIFICATIONS = "org.freedesktop.Notifications"
NOTIFICATIONS_PATH = "/org/freedesktop/Notifications"


# --- the app side (child process) ---


def run_child(interval: float) -> int:
    """Build the app as `portwatch` does, probe its event loop, obey stdin lines."""
    from PySide6.QtCore import QSocketNotifier, Qt, QTimer
    from PySide6.QtWidgets import QApplication

    from portwatch.ui.app import PortwatchApp

    qapp = QApplication([sys.argv[0]])
    qapp.setQuitOnLastWindowClosed(False)
    app = PortwatchApp(interval=interval)
    lateness: list[float] = []
    measuring = [False]
    last = [time.monotonic()]

    def tick() -> None:
        now = time.monotonic()
        if measuring[0]:
            lateness.append(max(0.0, now - last[0] - PROBE_MS / 1000))
        last[0] = now

    probe = QTimer()
    probe.setTimerType(Qt.TimerType.PreciseTimer)
    probe.timeout.connect(tick)
    probe.start(PROBE_MS)

    def ready() -> None:
        if app.latest is not None and not app.latest.warming_up:
            print("ready", flush=True)
            waiting.stop()

    waiting = QTimer()
    waiting.timeout.connect(ready)
    waiting.start(50)

    def command() -> None:
        line = sys.stdin.readline().strip()
        if line == "start":
            measuring[0] = True
            last[0] = time.monotonic()
        elif line == "stop" or not line:
            measuring[0] = False
            print(json.dumps(lateness), flush=True)
            app.quit()

    notifier = QSocketNotifier(sys.stdin.fileno(), QSocketNotifier.Type.Read)
    notifier.activated.connect(command)
    app.start()
    qapp.exec()
    return 0


# --- the harness (parent process) ---


@contextlib.contextmanager
def session_bus(folder: Path) -> Iterator[str]:
    """``dbus-daemon --session`` of our own; ended by PID."""
    out = subprocess.run(
        ["dbus-daemon", "--session", "--fork", "--print-address=1", "--print-pid=1"],
        capture_output=True,
        text=True,
        check=True,
        timeout=10,
        env={**os.environ, "TMPDIR": str(folder)},
    )
    address, pid = out.stdout.split()[:2]
    try:
        yield address
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.kill(int(pid), signal.SIGTERM)


class SilentServer:
    """Owns the notifications name; answers the two questions, never ``Notify``."""

    def __init__(self, address: str) -> None:
        # jeepney ships no type information (as in portwatch/notify/dbus.py).
        from jeepney.bus_messages import message_bus  # type: ignore[import-untyped]
        from jeepney.io.blocking import Proxy, open_dbus_connection  # type: ignore[import-untyped]

        self.notify_calls = 0
        self._conn = open_dbus_connection(address)
        reply = Proxy(message_bus, self._conn, timeout=5).RequestName(NOTIFICATIONS, 4)
        if reply != (1,):
            raise RuntimeError(f"could not own {NOTIFICATIONS}: {reply}")
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        from jeepney import (  # type: ignore[import-untyped]  # no type information
            HeaderFields,
            MessageType,
            new_method_return,
        )

        while not self._stop.is_set():
            try:
                msg = self._conn.receive(timeout=0.1)
            except TimeoutError:
                continue
            except OSError:
                return
            if msg.header.message_type is not MessageType.method_call:
                continue
            member = msg.header.fields.get(HeaderFields.member)
            if member == "GetServerInformation":
                reply = ("silentd", "portwatch-bench", "1.0", "1.2")
                self._conn.send(new_method_return(msg, "ssss", reply))
            elif member == "GetCapabilities":
                self._conn.send(new_method_return(msg, "as", (["actions", "body"],)))
            elif member == "Notify":
                self.notify_calls += 1  # and never a reply
            else:
                self._conn.send(new_method_return(msg))

    def close(self) -> None:
        self._stop.set()
        self._thread.join(2)
        self._conn.close()


LOCKER = """
import sqlite3, sys, time
conn = sqlite3.connect(sys.argv[1], timeout=30, isolation_level=None)
conn.execute("BEGIN EXCLUSIVE")
print("locked", flush=True)
time.sleep(float(sys.argv[2]))
conn.execute("COMMIT")
print("unlocked", flush=True)
"""


def _listen(address: str, port: int) -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((address, port))
    sock.listen(8)
    return sock


def free_ports(count: int) -> list[int]:
    """Ports nothing holds now (the OS picks them), so other programs rarely collide."""
    socks = [_listen("0.0.0.0", 0) for _ in range(count)]
    ports = [sock.getsockname()[1] for sock in socks]
    for sock in socks:
        sock.close()
    return ports


def churn(ports: list[int], seconds: float, hold: float, every: float) -> list[tuple[int, str]]:
    """A listener on a watched port every ``every`` s, each held ``hold`` s; those made."""
    open_now: list[tuple[float, socket.socket]] = []
    made: list[tuple[int, str]] = []
    skipped = 0
    deadline = time.monotonic() + seconds
    next_open = time.monotonic()
    while time.monotonic() < deadline or open_now:
        now = time.monotonic()
        for item in [i for i in open_now if i[0] <= now]:
            item[1].close()
            open_now.remove(item)
        if now >= next_open and now < deadline:
            address = "0.0.0.0" if len(made) % 3 == 2 else "127.0.0.1"  # the public-bind alert
            port = ports[(len(made) + skipped) % len(ports)]
            try:
                open_now.append((now + hold, _listen(address, port)))
                made.append((port, address))
            except OSError:  # another program on this shared machine holds it: the next one
                skipped += 1
            next_open = now + every
        time.sleep(0.02)
    return made


def recorded(db: Path, since: float, made: list[tuple[int, str]]) -> int:
    """How many of the bound and freed events made are in the history (each counted once)."""
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=10)
    try:
        rows = Counter(
            conn.execute(
                "SELECT port, address, kind FROM events WHERE kind IN ('bound', 'freed') "
                "AND at >= ?",
                (since,),
            ).fetchall()
        )
    finally:
        conn.close()
    wanted = Counter((port, address, kind) for port, address in made for kind in ("bound", "freed"))
    return sum(min(count, rows[key]) for key, count in wanted.items())


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


def measure(lock_seconds: float, interval: float) -> dict[str, float]:
    with tempfile.TemporaryDirectory(prefix="portwatch-bench-ui-") as tmp:
        folder = Path(tmp)
        env = dict(os.environ)
        for name in ("CONFIG", "DATA", "STATE", "CACHE"):
            env[f"XDG_{name}_HOME"] = str(folder / name.lower())
        runtime = folder / "runtime"
        runtime.mkdir(mode=0o700)
        env.update(XDG_RUNTIME_DIR=str(runtime), HOME=str(folder), QT_QPA_PLATFORM="offscreen")
        config = folder / "config" / "portwatch"
        config.mkdir(parents=True)
        ports = free_ports(PORTS)
        settings = {
            "watched_ports": [str(port) for port in ports],
            "notification_style": "system",
        }
        (config / "settings.json").write_text(json.dumps(settings))
        with session_bus(folder) as bus:
            env["DBUS_SESSION_BUS_ADDRESS"] = bus
            server = SilentServer(bus)
            child = subprocess.Popen(
                [sys.executable, "-m", "benchmarks.bench_ui_latency", "--child",
                 f"--interval={interval}"],
                env=env,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                text=True,
            )  # fmt: skip
            assert child.stdin is not None
            assert child.stdout is not None
            try:
                if not _wait_line(child.stdout, "ready", 60):
                    raise RuntimeError("the app never had a first picture")
                db = next((folder / "data").rglob("history.sqlite3"))
                started = time.time()
                child.stdin.write("start\n")
                child.stdin.flush()
                locker = subprocess.Popen(
                    [sys.executable, "-c", LOCKER, str(db), str(lock_seconds)],
                    stdout=subprocess.PIPE,
                    text=True,
                )
                assert locker.stdout is not None
                _wait_line(locker.stdout, "locked", 30)
                made = churn(ports, lock_seconds - 2 * interval, hold=10 * interval, every=0.5)
                _wait_line(locker.stdout, "unlocked", lock_seconds + 30)
                locker.wait(10)
                time.sleep(max(3.0, 6 * interval))  # the kept batch goes in at the next scans
                child.stdin.write("stop\n")
                child.stdin.flush()
                line = child.stdout.readline()
                samples: list[float] = json.loads(line)
                child.stdin.close()
                child.wait(30)
                rows = recorded(db, started, made)
            finally:
                if child.poll() is None:
                    child.kill()
                    child.wait(5)
                server.close()
    ms = [s * 1000 for s in samples]
    return {
        "load": os.getloadavg()[0],
        "ticks": len(ms),
        "p50": statistics.median(ms),
        "p99": percentile(ms, 0.99),
        "max": max(ms),
        "events_made": 2 * len(made),
        "events_recorded": rows,
        "events_lost": 2 * len(made) - rows,
        "notify_calls": server.notify_calls,
    }


def _wait_line(stream: IO[str], wanted: str, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    fd = stream.fileno()
    while time.monotonic() < deadline:
        ready, _, _ = select.select([fd], [], [], 0.5)
        if ready:
            line = stream.readline()
            if not line:
                return False
            if line.strip() == wanted:
                return True
    return False


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--lock", type=float, default=20.0, help="seconds the history is locked")
    parser.add_argument("--interval", type=float, default=0.5, help="the app's scan interval")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        return run_child(args.interval)
    result = measure(args.lock, args.interval)
    print(f"UI event loop lateness, {PROBE_MS} ms probe, history locked {args.lock:.0f} s,")
    print(f"a notification server that never answers, scans every {args.interval} s;")
    print(f"load average at the end {result['load']:.2f} on {os.cpu_count()} cores")
    print()
    print("| ticks | p50 ms | p99 ms | max ms | events made | recorded | lost | Notify calls |")
    print("| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    print(
        f"| {result['ticks']} | {result['p50']:.1f} | {result['p99']:.1f} | {result['max']:.1f} "
        f"| {result['events_made']} | {result['events_recorded']} | {result['events_lost']} "
        f"| {result['notify_calls']} |"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
