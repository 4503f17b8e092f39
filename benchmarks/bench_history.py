"""Port history at its full retention size: queries and appends, medians.

    python3 benchmarks/bench_history.py              # 200,000 rows, 9 repeats
    python3 benchmarks/bench_history.py --rows 20000 --repeats 5
    python3 benchmarks/bench_history.py --keep /tmp/history-200k.sqlite3  # fill once

Fills a temporary database through the real ``HistoryRecorder``, the way the tray
app does: a start-up snapshot, then one ``record_events(diff(...))`` per poll,
with dev servers binding and quitting (some on 127.0.0.1 and ::1 at once),
owners changing, binds widening to 0.0.0.0, short-lived test listeners, and
now and then a restart of portwatch. It runs until the row cap has been
reached and retention has pruned. Then it times, alternating the cases:

- ``holdings()`` with no filter, as ``portwatch history`` asks (500 rows), as
  the History tab asks (5,000 rows) and all of them;
- ``holdings(port=3000)``, ``holdings(process="vite")`` and
  ``holdings(since=2 h ago)``, and two that must look at every holding:
  since 10 minutes ago (hardly anything) and a process name nothing has;
- appending one poll's events (a server bound on two addresses, another
  freed) and one start-up snapshot;
- retention dropping 500 rows over the cap (what follows every 500 inserts).

When the database has a ``holdings`` table, it also times opening a copy that
lacks it (a database written before the table existed, schema 1), which builds
it from the events. Queries go through ``HistoryReader`` (read-only), as
``portwatch history`` and the History tab make them. Compare runs on one
machine at one time: it is usually shared.
"""

from __future__ import annotations

import argparse
import random
import shutil
import sqlite3
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from portwatch.core.diff import diff
from portwatch.core.exposure import classify
from portwatch.core.history import HistoryReader, HistoryRecorder
from portwatch.core.model import Listener, PortRange, Proto, Snapshot

DEV_NAMES = ("node", "vite", "python3", "ruby", "deno", "java", "go-server", "php")
STEADY_NAMES = ("nginx", "postgres", "redis-server", "sshd", "dnsmasq", "cupsd", "mysqld")


def make_listener(
    port: int, pid: int, name: str, address: str = "127.0.0.1", proto: Proto = "tcp"
) -> Listener:
    return Listener(
        proto=proto,
        family=6 if ":" in address else 4,
        address=address,
        port=port,
        pid=pid,
        process=name,
        exe=f"/usr/bin/{name}",
        cmdline=(f"/usr/bin/{name}", "serve", "--port", str(port), f"/home/dev/src/app{pid % 40}"),
        user="dev",
        started=None,
        service=None,
        port_range=PortRange.REGISTERED,
        ephemeral=False,
        exposure=classify(address),
    )


class Machine:
    """Listeners that come and go like on a developer's machine."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.next_pid = 2000
        self.steady: list[Listener] = []
        for n in range(60):
            name = STEADY_NAMES[n % len(STEADY_NAMES)]
            port = 5000 + n * 11
            self.steady.append(make_listener(port, 100 + n, name, "0.0.0.0"))
            if n % 3 == 0:
                self.steady.append(make_listener(port, 100 + n, name, "::"))
            if n % 5 == 0:
                self.steady.append(make_listener(port, 100 + n, name, "0.0.0.0", "udp"))
        self.dev: dict[int, list[Listener]] = {}  # port -> its listeners

    def pid(self) -> int:
        self.next_pid += 1
        return self.next_pid

    def listeners(self) -> tuple[Listener, ...]:
        return (*self.steady, *(row for rows in self.dev.values() for row in rows))

    def step(self) -> None:
        rng = self.rng
        roll = rng.random()
        free_ports = [
            p for p in (*range(3000, 3040), 5173, *range(8000, 8040)) if p not in self.dev
        ]
        if (roll < 0.42 or not self.dev) and free_ports:
            port = rng.choice(free_ports)
            pid, name = self.pid(), rng.choice(DEV_NAMES)
            rows = [make_listener(port, pid, name)]
            if rng.random() < 0.3:
                rows.append(make_listener(port, pid, name, "::1"))
            self.dev[port] = rows
        elif roll < 0.84:
            del self.dev[rng.choice(list(self.dev))]
        elif roll < 0.92:
            port = rng.choice(list(self.dev))
            pid, name = self.pid(), rng.choice(DEV_NAMES)
            self.dev[port] = [make_listener(port, pid, name, r.address) for r in self.dev[port]]
        else:
            port = rng.choice(list(self.dev))
            first = self.dev[port][0]
            address = "127.0.0.1" if first.address == "0.0.0.0" else "0.0.0.0"
            self.dev[port] = [make_listener(port, first.pid or 0, first.process or "?", address)]
        if rng.random() < 0.5:  # a test suite's short-lived listener
            port = rng.randrange(40000, 60000)
            self.dev.setdefault(port, [make_listener(port, self.pid(), "pytest")])
        for port in [p for p in self.dev if p >= 40000 and rng.random() < 0.7]:
            del self.dev[port]


def fill(path: Path, rows: int, seed: int = 7) -> float:
    """Record polls until ``rows`` rows and then some were written; returns the end time."""
    rng = random.Random(seed)
    machine = Machine(rng)
    now = time.time()
    begin = at = now - 20 * 86400
    target = rows + 2000
    written = 0
    with recorder(path, rows) as history, HistoryReader(path) as reader:
        previous = Snapshot(at, 0.0, machine.listeners())
        history.record_start(previous)
        while written < target:
            # Time runs with the rows written, so the last poll is ten minutes ago.
            at = max(at + 0.001, begin + (now - 600 - begin) * written / target)
            if rng.random() < 0.0008:  # portwatch restarts; something quit meanwhile
                if machine.dev:
                    del machine.dev[rng.choice(list(machine.dev))]
                previous = Snapshot(at, 0.0, machine.listeners())
                history.record_start(previous)
                written += len(previous.listeners) + 1
                continue
            machine.step()
            current = Snapshot(at, 0.0, machine.listeners())
            events = diff(previous, current)
            history.record_events(events)
            written += len(events)
            previous = current
        history.prune()
        print(
            f"filled {reader.count():,} rows in {path.stat().st_size / 1e6:.1f} MB; "
            f"{len(reader.holdings()):,} holdings",
            flush=True,
        )
    return now


def recorder(path: Path, rows: int) -> HistoryRecorder:
    """A recorder with the default age and byte limits and ``rows`` as its row cap."""
    return HistoryRecorder(path, retention_days=90, max_rows=rows, max_bytes=100 * 1024 * 1024)


def to_schema_1(source: Path, target: Path) -> None:
    """A copy of ``source`` as portwatch wrote it before the holdings table (schema 1)."""
    shutil.copyfile(source, target)
    raw = sqlite3.connect(target)
    with raw:
        raw.execute("ALTER TABLE events ADD COLUMN cmdline TEXT")
        raw.execute("UPDATE events SET cmdline = (SELECT text FROM commands WHERE id = command_id)")
        raw.execute("DROP INDEX events_command")
        raw.execute("ALTER TABLE events DROP COLUMN command_id")
        raw.execute("ALTER TABLE events DROP COLUMN process_started")
        raw.execute("DROP TABLE holdings")
        raw.execute("DROP TABLE commands")
        raw.execute("PRAGMA user_version = 0")
    raw.close()


def median_ms(samples: list[float]) -> str:
    return f"{statistics.median(samples) * 1000:.1f}"


def run(rows: int, repeats: int, keep: Path | None) -> None:
    with tempfile.TemporaryDirectory(prefix="bench-history-") as tmp:
        path = Path(tmp) / "history.sqlite3"
        if keep is not None and keep.exists():
            shutil.copyfile(keep, path)
            now = keep.stat().st_mtime
            print(f"using the database filled before in {keep}", flush=True)
        else:
            started = time.perf_counter()
            now = fill(path, rows)
            print(f"fill took {time.perf_counter() - started:.0f} s", flush=True)
            if keep is not None:
                shutil.copyfile(path, keep)
        with recorder(path, rows) as history, HistoryReader(path) as reader:
            poll_at = [time.time()]
            pid = [900_000]

            def append_poll() -> None:
                # One poll: a server comes up on two addresses and the previous one goes.
                before = Snapshot(poll_at[0], 0.0, (make_listener(3999, pid[0], "node"),))
                pid[0] += 1
                poll_at[0] += 1.0
                after = Snapshot(
                    poll_at[0],
                    0.0,
                    (
                        make_listener(3998, pid[0], "vite"),
                        make_listener(3998, pid[0], "vite", "::1"),
                    ),
                )
                history.record_events(diff(before, after))

            restart_rows = Machine(random.Random(1)).listeners()

            def append_start() -> None:
                poll_at[0] += 1.0
                history.record_start(Snapshot(poll_at[0], 0.0, restart_rows))

            def prune_500() -> None:
                # Retention catching up with 500 rows over the cap, as after 500 inserts.
                history.max_rows -= 500
                history.prune()

            cases: dict[str, Callable[[], object]] = {
                "holdings(), 500 rows (portwatch history)": lambda: reader.holdings(limit=500),
                "holdings(), 5,000 rows (History tab)": lambda: reader.holdings(limit=5000),
                "holdings(), all rows": reader.holdings,
                "holdings(port=3000) (--port)": lambda: reader.holdings(port=3000, limit=500),
                "holdings(process='vite') (--process)": lambda: reader.holdings(
                    process="vite", limit=500
                ),
                "holdings(since=2 h ago) (--since 2h)": lambda: reader.holdings(
                    since=now - 7200, limit=500
                ),
                "holdings(since=10 min ago) (few match: all scanned)": lambda: reader.holdings(
                    since=now - 600, limit=500
                ),
                "holdings(process='no-such') (none match: all scanned)": lambda: reader.holdings(
                    process="no-such", limit=500
                ),
                "record_events(): one poll, 3 events": append_poll,
                "record_start(): a restart, 89 listeners": append_start,
                "prune(): 500 rows over the cap": prune_500,
            }
            samples: dict[str, list[float]] = {name: [] for name in cases}
            for _ in range(repeats):
                for name, case in cases.items():
                    t0 = time.perf_counter()
                    case()
                    samples[name].append(time.perf_counter() - t0)
            sizes = {
                "holdings(), all rows": len(reader.holdings()),
                "holdings(port=3000) (--port)": len(reader.holdings(port=3000, limit=500)),
                "holdings(process='vite') (--process)": len(
                    reader.holdings(process="vite", limit=500)
                ),
                "holdings(since=2 h ago) (--since 2h)": len(
                    reader.holdings(since=now - 7200, limit=500)
                ),
                "holdings(since=10 min ago) (few match: all scanned)": len(
                    reader.holdings(since=now - 600, limit=500)
                ),
            }
            raw = sqlite3.connect(path)
            has_table = bool(
                raw.execute("SELECT 1 FROM sqlite_master WHERE name = 'holdings'").fetchone()
            )
            raw.close()
        print(f"\n| case ({rows:,} rows) | median ms | rows returned |")
        print("| --- | ---: | ---: |")
        for name, values in samples.items():
            print(f"| {name} | {median_ms(values)} | {sizes.get(name, '')} |")
        if has_table:
            print(
                f"| open a database from before the holdings table | {migrate_ms(path, rows)} | |"
            )


def migrate_ms(path: Path, rows: int) -> str:
    """Opening a copy without the holdings table, which rebuilds it from the events."""
    samples = []
    for n in range(3):
        copy = path.with_name(f"old-{n}.sqlite3")
        shutil.copyfile(path, copy)
        to_schema_1(path, copy)
        t0 = time.perf_counter()
        recorder(copy, rows).close()
        samples.append(time.perf_counter() - t0)
    return median_ms(samples)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=200_000, help="row cap to fill to (200000)")
    parser.add_argument("--repeats", type=int, default=9, help="timed runs of each case (9)")
    parser.add_argument(
        "--keep",
        type=Path,
        metavar="PATH",
        help="keep the filled database at PATH, or start from it if it exists (skips the fill)",
    )
    args = parser.parse_args(argv)
    run(args.rows, args.repeats, args.keep)
    return 0


if __name__ == "__main__":
    sys.exit(main())
