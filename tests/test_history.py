"""History: events stored, holding intervals paired, retention bounded, CSV export."""

from __future__ import annotations

import csv
import sqlite3
import threading
import time
from pathlib import Path

import pytest

from portwatch.core import paths
from portwatch.core.diff import Event, EventKind, diff
from portwatch.core.history import parse_since
from portwatch.core.model import Listener, Snapshot
from portwatch.core.scanner import Scanner
from tests.support.factories import node_listener as listener
from tests.support.history_reference import RecordingHistory
from tests.support.procs import ListenerProcess, wait_until


def snap(at: float, *rows: Listener) -> Snapshot:
    return Snapshot(at, 0.0, tuple(rows))


def test_database_is_in_the_data_folder_in_wal_mode(isolated_user_dirs: Path) -> None:
    with RecordingHistory() as history:
        assert history.path == paths.history_db()
        assert str(history.path).startswith(str(isolated_user_dirs / "data"))
        assert history.journal_mode == "wal"


def test_bound_freed_pairs_into_an_interval() -> None:
    with RecordingHistory() as history:
        s0 = snap(1000.0)
        s1 = snap(1010.0, listener(3000, pid=5, process="node"))
        s2 = snap(1070.0)
        history.record_start(s0)
        history.record_events(diff(s0, s1))
        history.record_events(diff(s1, s2))
        [hold] = history.holdings(port=3000)
        assert (hold.pid, hold.process, hold.start, hold.end) == (5, "node", 1010.0, 1070.0)
        assert hold.duration == 60.0
        assert hold.cmdline == "node serve"
        assert hold.addresses == ("127.0.0.1",)
        assert [e.kind for e in history.events(port=3000)] == ["bound", "freed"]


def test_still_held_and_across_restarts() -> None:
    with RecordingHistory() as history:
        a = listener(3000, pid=5, process="node")
        b = listener(4000, pid=6, process="ruby")
        history.record_start(snap(100.0, a, b))
        # portwatch stops; ruby quits meanwhile; portwatch starts again.
        history.record_start(snap(500.0, a))
        holds = {h.port: h for h in history.holdings()}
        assert (holds[3000].start, holds[3000].end) == (100.0, None)
        assert (holds[4000].start, holds[4000].end, holds[4000].end_known) == (100.0, 500.0, False)


def test_owner_change_and_exposure_change() -> None:
    with RecordingHistory() as history:
        s0 = snap(0.0, listener(3000, pid=1, process="node"))
        s1 = snap(10.0, listener(3000, pid=2, process="deno"))
        s2 = snap(20.0, listener(3000, "0.0.0.0", pid=2, process="deno"))
        history.record_start(s0)
        history.record_events(diff(s0, s1))
        history.record_events(diff(s1, s2))
        holds = sorted(history.holdings(port=3000), key=lambda h: h.start or 0)
        assert [(h.process, h.start, h.end) for h in holds] == [
            ("node", 0.0, 10.0),
            ("deno", 10.0, None),
        ]
        assert holds[1].exposure == "public"
        kinds = [e.kind for e in history.events(port=3000)]
        assert kinds == ["present", "owner_changed", "exposure_changed"]


def test_a_restart_on_a_wider_address_between_two_scans_ends_one_holding() -> None:
    with RecordingHistory() as history:
        s0 = snap(0.0, listener(3000, pid=1, process="node"))
        # Within one interval node exits and a new node binds 0.0.0.0:3000.
        s1 = snap(10.0, listener(3000, "0.0.0.0", pid=2, process="node"))
        history.record_start(s0)
        history.record_events(diff(s0, s1))
        holds = sorted(history.holdings(port=3000), key=lambda h: h.start or 0)
        assert [(h.pid, h.start, h.end, h.exposure) for h in holds] == [
            (1, 0.0, 10.0, "loopback"),
            (2, 10.0, None, "public"),
        ]
        assert [e.kind for e in history.events(port=3000)] == ["present", "freed", "bound"]


def test_a_closed_holding_lists_every_address_it_held() -> None:
    with RecordingHistory() as history:
        loopback = listener(3000, pid=5, process="node")
        public = listener(3000, "0.0.0.0", pid=5, process="node")
        s0 = snap(0.0)
        s1 = snap(10.0, loopback, public)
        s2 = snap(20.0, loopback)  # the public bind goes first
        s3 = snap(30.0)
        history.record_start(s0)
        for before, after in ((s0, s1), (s1, s2)):
            history.record_events(diff(before, after))
        # Still held: what it holds now.
        [held] = history.holdings(port=3000)
        assert (held.addresses, held.exposure, held.end) == (("127.0.0.1",), "loopback", None)
        history.record_events(diff(s2, s3))
        # Ended: every address it held, and the widest exposure it had.
        [ended] = history.holdings(port=3000)
        assert (ended.addresses, ended.exposure) == (("0.0.0.0", "127.0.0.1"), "public")
        assert (ended.start, ended.end) == (10.0, 30.0)


def test_search_by_process_and_since() -> None:
    now = time.time()
    with RecordingHistory() as history:
        s0 = snap(now - 7200)
        s1 = snap(
            now - 7100,
            listener(3000, pid=1, process="node"),
            listener(8000, pid=2, process="python3"),
        )
        s2 = snap(now - 7000, listener(8000, pid=2, process="python3"))
        history.record_start(s0)
        history.record_events(diff(s0, s1))
        history.record_events(diff(s1, s2))
        assert [h.port for h in history.holdings(process="PYTH")] == [8000]
        assert [h.port for h in history.holdings(process="node serve")] == [3000]
        # The node interval ended 7000 s ago; since 1 h ago only the open one is left.
        assert [h.port for h in history.holdings(since=parse_since("1h", now))] == [8000]
        assert [e.port for e in history.events(process="node")] == [3000, 3000]
        assert history.events(process="%") == []  # LIKE wildcards are escaped


def test_parse_since() -> None:
    now = 1_000_000.0
    assert parse_since("2h", now) == now - 7200
    assert parse_since("30m", now) == now - 1800
    assert parse_since("1d", now) == now - 86400
    assert parse_since("2026-11-21T14:00+00:00") == 1_795_269_600.0
    with pytest.raises(ValueError, match="is not a time"):
        parse_since("yesterday")


def test_alerts_are_recorded() -> None:
    with RecordingHistory() as history:
        history.record_alert(
            at=5.0,
            title="Port 3000 is in use",
            body="node listens",
            kind="occupied",
            port=3000,
            proto="tcp",
            pid=1,
            process="node",
            delivery="dbus",
        )
        [row] = history.events(kinds=["alert"])
        assert row.port == 3000
        assert row.detail is not None
        assert '"delivery": "dbus"' in row.detail


def test_retention_by_age_and_rows() -> None:
    now = time.time()
    with RecordingHistory(retention_days=1, max_rows=1000) as history:
        old = [Event(EventKind.BOUND, listener(p), now - 3 * 86400) for p in range(1, 11)]
        new = [Event(EventKind.BOUND, listener(p), now - 60) for p in range(100, 1300)]
        history.record_events(old)
        history.record_events(new)
        history.prune(now)
        rows = history.events()
        assert len(rows) == 1000
        assert min(r.at for r in rows) >= now - 86400
        # The newest rows are the ones kept.
        assert max(r.port or 0 for r in rows) == 1299
        assert min(r.port or 0 for r in rows) == 300


def test_retention_runs_by_itself_while_recording() -> None:
    with RecordingHistory(max_rows=1000) as history:
        for batch in range(6):
            history.record_events(
                Event(EventKind.BOUND, listener(p), 1e9 + batch)
                for p in range(batch * 300, batch * 300 + 300)
            )
        assert history.count() <= 1000 + 500


def test_one_connection_per_thread() -> None:
    with RecordingHistory() as history:
        errors: list[BaseException] = []

        def writer(base: int) -> None:
            try:
                history.record_events(
                    Event(EventKind.BOUND, listener(base + i), time.time()) for i in range(50)
                )
            except BaseException as exc:  # pragma: no cover - reported below
                errors.append(exc)

        threads = [threading.Thread(target=writer, args=(n * 100,)) for n in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(10)
        assert errors == []
        assert history.count() == 200


def test_csv_export(tmp_path: Path) -> None:
    with RecordingHistory() as history:
        s0 = snap(1000.0)
        s1 = snap(1010.0, listener(3000, pid=5, process="node"))
        history.record_start(s0)
        history.record_events(diff(s0, s1))
        target = tmp_path / "out.csv"
        assert history.export_holdings_csv(target, port=3000) == 1
        rows = list(csv.DictReader(target.open()))
        assert rows[0]["port"] == "3000"
        assert rows[0]["process"] == "node"
        assert rows[0]["command"] == "node serve"
        assert rows[0]["end"] == ""


def test_real_process_history() -> None:
    """A real child binds and exits; the history says who held the port, with its command."""
    scanner = Scanner(connection_owners=False)
    with RecordingHistory() as history:
        first = scanner.scan()
        history.record_start(first)
        child = ListenerProcess(["tcp:127.0.0.1:0"])
        port = child.ports[0]
        previous = first
        try:

            def seen(present: bool) -> bool:
                nonlocal previous
                new = scanner.scan()
                history.record_events(diff(previous, new))
                previous = new
                return any(r.pid == child.pid for r in new.on_port(port)) == present

            assert wait_until(lambda: seen(True), timeout=10)
        finally:
            child.stop()
        assert wait_until(lambda: seen(False), timeout=10)
        scanner.close()
        # Other programs on this machine may hold the same number (UDP, or after the child).
        [hold] = [h for h in history.holdings(port=port) if h.pid == child.pid]
        assert hold.end is not None
        assert hold.cmdline is not None
        assert "listener_child.py" in hold.cmdline
        raw = sqlite3.connect(paths.history_db()).execute(
            "SELECT kind FROM events WHERE port = ? AND pid = ? ORDER BY id", (port, child.pid)
        )
        assert [k for (k,) in raw] == ["bound", "freed"]
