"""The holdings table: same answers as pairing the events, across restarts, migration, retention.

``tests/support/history_reference.py`` is the pairing walk ``holdings()`` ran
over every event before the table existed; these tests record histories
through the real API and compare the two, row for row and in order.
"""

from __future__ import annotations

import random
import socket
import sqlite3
import time
from collections.abc import Iterable
from dataclasses import replace
from pathlib import Path

import pytest

from portwatch.core import paths
from portwatch.core.diff import Event, EventKind, diff
from portwatch.core.exposure import classify
from portwatch.core.history import SCHEMA_VERSION, HistoryError, Holding
from portwatch.core.model import Listener, Proto, Snapshot
from portwatch.core.scanner import Scanner
from portwatch.entry import main
from tests.support.factories import node_listener as listener
from tests.support.history_reference import RecordingHistory, event_columns, reference_holdings
from tests.support.procs import ListenerProcess, wait_until

# The schema portwatch wrote before the holdings table (commit e1a8da4).
SCHEMA_1 = """
CREATE TABLE IF NOT EXISTS events (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    at REAL NOT NULL,
    kind TEXT NOT NULL,
    proto TEXT,
    family INTEGER,
    address TEXT,
    port INTEGER,
    pid INTEGER,
    process TEXT,
    exe TEXT,
    cmdline TEXT,
    user TEXT,
    exposure TEXT,
    previous_pid INTEGER,
    previous_process TEXT,
    previous_address TEXT,
    previous_exposure TEXT,
    detail TEXT
);
CREATE INDEX IF NOT EXISTS events_port_at ON events (port, at);
CREATE INDEX IF NOT EXISTS events_at ON events (at);
CREATE INDEX IF NOT EXISTS events_process ON events (process);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
INSERT OR IGNORE INTO meta (key, value) VALUES ('schema_version', '1');
"""

# Names with letters LIKE cannot fold (Ü, the Kelvin sign) next to plain ones.
NAMES = {1: "node", 2: "Überwacher", 3: "python3", 4: "ruby", 5: "\u212aelvin", 6: "nginx"}
ADDRESSES = ("127.0.0.1", "::1", "0.0.0.0", "::", "192.168.1.5")


def snap(at: float, rows: Iterable[Listener]) -> Snapshot:
    return Snapshot(at, 0.0, tuple(rows))


def named(port: int, address: str, pid: int | None, proto: Proto = "tcp") -> Listener:
    return listener(port, address, pid=pid, process=NAMES.get(pid or 0), proto=proto)


class Machine:
    """Random listeners on a few ports, so owners collide, widen, share a port, restart."""

    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)
        self.rows: list[Listener] = []
        self.at = time.time() - 20 * 86400  # well inside the age limit

    def step(self) -> None:
        rng = self.rng
        for _ in range(rng.randint(1, 3)):
            roll = rng.random()
            if roll < 0.45 or not self.rows:
                pid = rng.choice([1, 2, 3, 4, 5, 6, None])
                row = named(
                    rng.choice([3000, 3001, 3002, 5173]),
                    rng.choice(ADDRESSES),
                    pid,
                    rng.choice(["tcp", "tcp", "udp"]),
                )
                # One row per bind (its holders are on it): a bind held already stays as it is.
                if row.key not in {r.key for r in self.rows}:
                    self.rows.append(row)
            elif roll < 0.75:
                self.rows.remove(rng.choice(self.rows))
            elif roll < 0.85:
                i = rng.randrange(len(self.rows))
                pid = rng.choice([1, 2, 3, 4, 5, 6])
                self.rows[i] = replace(self.rows[i], pid=pid, pids=(pid,), process=NAMES[pid])
            elif roll < 0.9:
                # The same process seen without a name (it could not be read this time).
                i = rng.randrange(len(self.rows))
                self.rows[i] = replace(self.rows[i], process=None, cmdline=None, user=None)
            else:
                i = rng.randrange(len(self.rows))
                address = rng.choice(ADDRESSES)
                moved = replace(
                    self.rows[i],
                    address=address,
                    family=6 if ":" in address else 4,
                    exposure=classify(address),
                )
                if moved.key not in {r.key for r in self.rows}:
                    self.rows[i] = moved

    def snapshot(self) -> Snapshot:
        return snap(self.at, self.rows)

    def record(self, history: RecordingHistory, polls: int) -> None:
        """Polls, with portwatch restarting now and then (something may quit meanwhile)."""
        previous = self.snapshot()
        history.record_start(previous)
        for _ in range(polls):
            self.at += self.rng.choice([1.0, 5.0, 60.0])
            if self.rng.random() < 0.06:
                if self.rows and self.rng.random() < 0.7:
                    self.rows.remove(self.rng.choice(self.rows))
                previous = self.snapshot()
                history.record_start(previous)
                continue
            self.step()
            current = self.snapshot()
            history.record_events(diff(previous, current))
            previous = current


def assert_same_answers(history: RecordingHistory, db: Path) -> None:
    """holdings() with every kind of filter equals the pairing walk over the same events."""
    everything = reference_holdings(db)
    assert history.holdings() == everything
    assert history.holdings(limit=7) == everything[:7]
    for port in (3000, 3001, 5173, 9999):
        assert history.holdings(port=port) == [h for h in everything if h.port == port]
    for needle in ("node", "ÜBER", "kelvin", "\u212a", "serve", "%", "_", "3"):
        assert history.holdings(process=needle) == reference_holdings(db, process=needle)
    ends = sorted({h.end for h in everything if h.end is not None})
    for since in (ends[0] if ends else 0.0, ends[len(ends) // 2] if ends else 0.0, 1e12):
        assert history.holdings(since=since) == reference_holdings(db, since=since)
        assert history.holdings(since=since, process="o", limit=3) == reference_holdings(
            db, since=since, process="o", limit=3
        )


@pytest.mark.parametrize("seed", [1, 2, 3, 4])
def test_table_gives_the_answers_pairing_the_events_gave(seed: int) -> None:
    machine = Machine(seed)
    db = paths.history_db()
    with RecordingHistory() as history:
        machine.record(history, 150)
        assert_same_answers(history, db)
    # Another run of portwatch carries on from what the table holds.
    with RecordingHistory() as history:
        machine.record(history, 150)
        assert_same_answers(history, db)
        held = history.holdings()
    assert any(h.end is None for h in held)
    assert any(not h.end_known for h in held)
    assert any(h.start is None for h in held)
    assert any(len(h.addresses) > 1 for h in held)


def test_equal_starts_keep_the_order_of_the_pairing() -> None:
    """Servers on a port's addresses, tcp and udp on one port: same start and port, fixed order."""
    binds = (("0.0.0.0", 4), ("::", 2), ("192.0.2.7", 6))
    workers = [named(80, address, pid) for address, pid in binds]
    dns = [named(53, "127.0.0.1", 1, "udp"), named(53, "127.0.0.1", 1, "tcp")]
    with RecordingHistory() as history:
        s0 = snap(10.0, [*workers, *dns])
        history.record_start(s0)
        s1 = snap(20.0, [*workers[1:], *dns])
        history.record_events(diff(s0, s1))
        history.record_start(snap(30.0, [workers[2], dns[1]]))
        expected = reference_holdings(paths.history_db())
        assert history.holdings() == expected
    # In the order the pairing finished them: pid 4 freed, then the restart found
    # pid 2 and udp gone, and what is still held last.
    assert [(h.port, h.proto, h.pid, h.end) for h in expected] == [
        (80, "tcp", 4, 20.0),
        (80, "tcp", 2, 30.0),
        (80, "tcp", 6, None),
        (53, "udp", 1, 30.0),
        (53, "tcp", 1, None),
    ]


def test_open_holdings_across_a_restart() -> None:
    t = time.time() - 3600
    node = listener(3000, pid=5, process="node")
    ruby = listener(4000, pid=6, process="ruby")
    vite = listener(5173, pid=7, process="vite")
    with RecordingHistory() as history:
        history.record_start(snap(t, [node, ruby]))
        history.record_events(diff(snap(t, [node, ruby]), snap(t + 10, [node, ruby, vite])))
    # portwatch quits; ruby quits meanwhile; a new portwatch starts and sees the rest.
    with RecordingHistory() as history:
        history.record_start(snap(t + 400, [node, vite]))
        holds = {h.port: h for h in history.holdings()}
        assert (holds[3000].start, holds[3000].end) == (t, None)
        assert (holds[5173].start, holds[5173].end) == (t + 10, None)
        assert (holds[4000].start, holds[4000].end, holds[4000].end_known) == (t, t + 400, False)
        # Asking for one port gives that port's row of the same answer (before the
        # table, --port skipped the restarts and called ruby still held).
        assert history.holdings(port=4000) == [holds[4000]]
        # Later changes close what is still open, at their own time.
        history.record_events(diff(snap(t + 400, [node, vite]), snap(t + 460, [vite])))
        [closed] = history.holdings(port=3000)
        assert (closed.start, closed.end, closed.end_known) == (t, t + 460, True)
        assert history.holdings() == reference_holdings(history.path)


def copy_to_schema_1(source: Path, target: Path) -> None:
    """A database as portwatch wrote it before the holdings table, with the same events."""
    old = sqlite3.connect(target)
    old.executescript(SCHEMA_1)
    recorded = sqlite3.connect(source)
    columns = ", ".join(event_columns(recorded))
    rows = recorded.execute(f"SELECT id, {columns} FROM events ORDER BY id").fetchall()
    recorded.close()
    with old:
        old.executemany(f"INSERT INTO events VALUES ({', '.join('?' * 18)})", rows)
    old.close()


def record_real_processes(history: RecordingHistory) -> tuple[int, int]:
    """Real children bind (one on three sockets of one port) and quit; returns its port and pid."""
    scanner = Scanner(connection_owners=False)
    previous = scanner.scan()
    history.record_start(previous)

    def poll(pid: int, present: bool) -> bool:
        nonlocal previous
        current = scanner.scan()
        history.record_events(diff(previous, current))
        previous = current
        return any(r.pid == pid for r in current.listeners) == present

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    multi = ListenerProcess(
        [f"tcp:127.0.0.1:{port}", f"tcp6only:::1:{port}", f"udp:0.0.0.0:{port}"]
    )
    single = ListenerProcess(["tcp:127.0.0.1:0"])
    try:
        assert wait_until(lambda: poll(multi.pid, True), timeout=10)
        assert wait_until(lambda: poll(single.pid, True), timeout=10)
        multi.stop()
        assert wait_until(lambda: poll(multi.pid, False), timeout=10)
        # portwatch restarts while the other child still listens, then it quits.
        previous = scanner.scan()
        history.record_start(previous)
        single.stop()
        assert wait_until(lambda: poll(single.pid, False), timeout=10)
    finally:
        multi.stop()
        single.stop()
        scanner.close()
    return port, multi.pid


def test_migration_from_schema_1_keeps_the_answers(tmp_path: Path) -> None:
    recorded = tmp_path / "recorded.sqlite3"
    with RecordingHistory(recorded) as history:
        Machine(9).record(history, 200)  # days ago, then the real processes now
        port, pid = record_real_processes(history)
        before = history.holdings()
    old = tmp_path / "old.sqlite3"
    copy_to_schema_1(recorded, old)
    expected = reference_holdings(old)
    # Schema 1 kept no process start: the same holdings, with that unknown.
    assert [replace(h, process_started=None) for h in before] == expected

    with RecordingHistory(old) as history:
        assert history.holdings() == expected
        assert_same_answers(history, old)
        real = [h for h in history.holdings(port=port) if h.pid == pid and h.proto == "tcp"]
        # Closed: every address it held, not only the last one freed.
        assert [h.addresses for h in real] == [("127.0.0.1", "::1")]
        assert real[0].cmdline is not None
        assert "listener_child.py" in real[0].cmdline
    raw = sqlite3.connect(old)
    assert raw.execute("PRAGMA user_version").fetchone() == (SCHEMA_VERSION,)
    meta = raw.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
    assert meta == (str(SCHEMA_VERSION),)
    raw.close()
    # Opening it again finds the table built: nothing is rebuilt or lost.
    with RecordingHistory(old) as history:
        assert history.holdings() == expected


def test_events_written_by_an_older_portwatch_are_folded_in() -> None:
    """An older portwatch appending to a migrated database: the next open catches up."""
    t = time.time() - 3600
    node = listener(3000, pid=5, process="node")
    with RecordingHistory() as history:
        history.record_start(snap(t, [node]))
    raw = sqlite3.connect(paths.history_db())
    with raw:
        raw.execute(
            "INSERT INTO events (at, kind, proto, family, address, port, pid, process, exposure)"
            " VALUES (?, 'freed', 'tcp', 4, '127.0.0.1', 3000, 5, 'node', 'loopback')",
            (t + 60,),
        )
    raw.close()
    with RecordingHistory() as history:
        [hold] = history.holdings()
        assert (hold.start, hold.end) == (t, t + 60)


def test_retention_keeps_holdings_consistent() -> None:
    postgres = listener(5432, pid=1, process="postgres")
    with RecordingHistory(max_rows=6) as history:
        history.record_start(snap(100.0, [postgres]))  # 2 rows
        # node comes and goes (2 rows), then ruby binds (1 row): all pruned below.
        history.record_events([Event(EventKind.BOUND, listener(3000, pid=5), 110.0)])
        history.record_events([Event(EventKind.FREED, listener(3000, pid=5), 120.0)])
        ruby = listener(4000, pid=6, process="ruby")
        history.record_events([Event(EventKind.BOUND, ruby, 130.0)])
        # Six newer rows: ruby quits, vite comes and goes twice, deno binds.
        history.record_events([Event(EventKind.FREED, ruby, 200.0)])
        for at in (210.0, 230.0):
            vite = listener(5173, pid=int(at), process="vite")
            history.record_events([Event(EventKind.BOUND, vite, at)])
            history.record_events([Event(EventKind.FREED, vite, at + 5)])
        deno = listener(8000, pid=8, process="deno")
        history.record_events([Event(EventKind.BOUND, deno, 240.0)])
        assert history.prune(now=300.0) == 5
        holds = [(h.port, h.process, h.start, h.end) for h in history.holdings()]
        # node ended in the pruned part: gone. ruby started there: its start is unknown.
        # postgres is still held, though its bind is older than what is kept.
        assert holds == [
            (8000, "deno", 240.0, None),
            (5173, "vite", 230.0, 235.0),
            (5173, "vite", 210.0, 215.0),
            (5432, "postgres", None, None),
            (4000, "ruby", None, 200.0),
        ]
        # Where the old pairing of the kept events found a holding, the answer is the same
        # (it lost postgres: no kept event mentions it).
        kept = reference_holdings(history.path)
        assert [h for h in history.holdings() if h.port != 5432] == kept
        # A later change to a holding whose start was pruned still pairs with it.
        history.record_events([Event(EventKind.FREED, postgres, 250.0)])
        [pg] = history.holdings(port=5432)
        assert (pg.start, pg.end, pg.end_known) == (None, 250.0, True)


def test_retention_by_age_keeps_holdings_consistent(tmp_path: Path) -> None:
    now, day = time.time(), 86400.0
    old, older, new = (listener(port, pid=port) for port in (3000, 4000, 5000))
    with RecordingHistory(tmp_path / "age.sqlite3", retention_days=1) as history:
        history.record_events([Event(EventKind.BOUND, old, now - 3 * day)])
        history.record_events([Event(EventKind.FREED, old, now - 2 * day)])
        history.record_events([Event(EventKind.BOUND, older, now - 2 * day)])
        history.record_events([Event(EventKind.BOUND, new, now - 3600)])
        assert history.prune(now) == 3
        # What ended before the limit is gone; what started before it has no known start.
        assert [(h.port, h.start, h.end) for h in history.holdings()] == [
            (5000, now - 3600, None),
            (4000, None, None),
        ]


def test_retention_while_recording_keeps_table_and_events_in_step() -> None:
    machine = Machine(5)
    with RecordingHistory(max_rows=400) as history:
        machine.record(history, 600)
        db = sqlite3.connect(history.path)
        oldest_id, oldest_at = db.execute("SELECT min(id), min(at) FROM events").fetchone()
        stale = db.execute(
            "SELECT count(*) FROM holdings WHERE closed_event < ? OR started_event < ?",
            (oldest_id, oldest_id),
        ).fetchone()
        db.close()
        assert stale == (0,)
        holds = history.holdings()
        assert all(h.start is None or h.start >= oldest_at for h in holds)
        # A holding that began inside what is kept is as pairing the kept events says
        # (that pairing also makes up starts for holdings it saw only the end of).
        paired = reference_holdings(history.path)
        began_inside = [h for h in holds if h.start is not None]
        assert len(began_inside) > 50
        assert all(h in paired for h in began_inside)


def test_corrupt_database_says_why(capsys: pytest.CaptureFixture[str]) -> None:
    db = paths.history_db()
    db.parent.mkdir(parents=True, exist_ok=True)
    db.write_bytes(b"this is not an SQLite database\n" * 200)
    with pytest.raises(HistoryError) as caught:
        RecordingHistory()
    message = str(caught.value)
    assert message.startswith(f"cannot open the history database {db}: ")
    assert message.endswith("(the file is damaged: move it away and portwatch starts a new one)")
    assert main(["history"]) == 1
    err = capsys.readouterr().err
    assert err.startswith(f"portwatch history: cannot open the history database {db}: ")


def test_damaged_pages_say_why() -> None:
    db = paths.history_db()
    with RecordingHistory() as history:
        Machine(6).record(history, 300)
    page = sqlite3.connect(db).execute("PRAGMA page_size").fetchone()[0]
    data = bytearray(db.read_bytes())
    assert len(data) > 4 * page
    # Keep the first page (the schema); scramble the rest.
    data[page:] = random.Random(1).randbytes(len(data) - page)
    db.write_bytes(bytes(data))
    with pytest.raises(HistoryError, match=r"malformed.*\(the file is damaged: move it away"):
        RecordingHistory().holdings()


def test_locked_database_says_why() -> None:
    node = listener(3000, pid=5, process="node")
    with RecordingHistory(busy_timeout=0.2) as history:
        history.record_start(snap(100.0, [node]))
        other = sqlite3.connect(history.path, isolation_level=None)
        other.execute("BEGIN IMMEDIATE")  # another program holds the write lock
        try:
            with pytest.raises(HistoryError) as caught:
                history.record_events([Event(EventKind.FREED, node, 160.0)])
            assert str(caught.value) == (
                f"cannot write to the history database {history.path}: database is locked "
                "(another program is holding it: close that program, then try again)"
            )
            # Readers are not blocked (WAL), and the failed write left nothing half done.
            [hold] = history.holdings()
            assert hold.end is None
            # The batch is kept for the next write.
            assert history.recorder.pending == 1
        finally:
            other.execute("ROLLBACK")
            other.close()
        # The next write (here one with no events of its own) writes what was kept.
        history.record_events([])
        assert history.recorder.pending == 0
        assert [(h.start, h.end) for h in history.holdings()] == [(100.0, 160.0)]
        assert history.holdings() == reference_holdings(history.path)


def test_database_from_a_newer_portwatch_is_refused() -> None:
    with RecordingHistory():
        pass
    raw = sqlite3.connect(paths.history_db())
    raw.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    raw.close()
    newer = rf"written by a newer portwatch \(schema {SCHEMA_VERSION + 1}"
    with pytest.raises(HistoryError, match=newer):
        RecordingHistory()


def test_holding_rows_round_trip() -> None:
    """What the table stores comes back as the same Holding values."""
    with RecordingHistory() as history:
        history.record_start(snap(1.0, [named(3000, "::1", 2), named(3000, "127.0.0.1", 2)]))
        [hold] = history.holdings()
    assert hold == Holding(
        proto="tcp",
        port=3000,
        pid=2,
        process="Überwacher",
        cmdline="Überwacher serve",
        user="dev",
        addresses=("127.0.0.1", "::1"),
        exposure="loopback",
        start=1.0,
        end=None,
        process_started=1.0,
        seen_at_start=True,
    )
