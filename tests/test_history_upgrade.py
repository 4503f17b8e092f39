"""Schema 4: when each holder began holding its port, and the upgrade of a schema-3 file.

A holding already there when portwatch started began before portwatch saw
it: its process's start time says when, where it is known. The upgrade keeps
every row of a file the previous portwatch wrote (``tests/support/history_schema3.py``).
"""

from __future__ import annotations

import sqlite3
import time
from dataclasses import replace
from pathlib import Path

import psutil

from portwatch.core.diff import diff
from portwatch.core.history import SCHEMA_VERSION, HistoryReader, Holding
from portwatch.core.model import Snapshot
from portwatch.core.scanner import Scanner
from tests.support import history_schema3 as v3
from tests.support.factories import listener
from tests.support.history_reference import RecordingHistory, reference_holdings
from tests.support.procs import ListenerProcess, wait_until


def columns(db: Path, table: str) -> set[str]:
    raw = sqlite3.connect(db)
    try:
        return {row[1] for row in raw.execute(f"PRAGMA table_info({table})")}
    finally:
        raw.close()


def by_port(holdings: list[Holding]) -> dict[int, Holding]:
    return {hold.port: hold for hold in holdings}


def test_a_schema_3_file_is_upgraded_keeping_every_holding(tmp_path: Path) -> None:
    old = tmp_path / "schema3.sqlite3"
    v3.write_schema_3(old)
    with HistoryReader(old) as reader:
        assert reader.schema_version() == 3
        before = reader.holdings()
        events_before = reader.events()
    # Read as it is: which ones were there when portwatch started comes from their events.
    assert {h.port for h in before if h.seen_at_start} == {3000, 8080, 6379}
    assert all(h.process_started is None for h in before)

    with RecordingHistory(old, retention_days=v3.KEEP_ALL) as history:
        assert history.reader.schema_version() == SCHEMA_VERSION == 4
        upgraded = history.holdings()
        assert upgraded == before
        # Events keep every value; the process start was not kept before.
        assert history.events() == events_before
        assert all(event.process_started is None for event in history.events())
        assert upgraded == reference_holdings(old)
        holds = by_port(upgraded)
        # Already there when portwatch started, start unknown: "before portwatch started".
        assert (holds[3000].start, holds[3000].since, holds[3000].seen_at_start) == (
            v3.T,
            None,
            True,
        )
        # vite was bound while portwatch watched: from its bind, ended while portwatch was away.
        assert (holds[5173].since, holds[5173].end, holds[5173].end_known) == (
            v3.T + 60,
            v3.T + 900,
            False,
        )
        assert holds[5173].cmdline == "vite --host --token=******"

        # portwatch runs on: new events keep the process start, open holdings go on.
        node, nginx, python = v3.NODE, v3.NGINX, v3.PYTHON
        ruby = listener(4000, "0.0.0.0", pid=600, process="ruby", started=v3.T + 990)
        was = Snapshot(v3.T + 960, 0.0, (node, nginx, python))
        history.record_events(diff(was, Snapshot(v3.T + 1000, 0.0, (node, nginx, python, ruby))))
        holds = by_port(history.holdings())
        assert (holds[4000].start, holds[4000].process_started) == (v3.T + 1000, v3.T + 990)
        assert holds[4000].since == v3.T + 1000  # bound while watched: not its process's start
        assert holds[3000] == by_port(upgraded)[3000]
        assert history.holdings() == reference_holdings(old)

    assert columns(old, "events") >= {"process_started", "command_id"}
    assert columns(old, "holdings") >= {"process_started", "seen_at_start"}
    raw = sqlite3.connect(old)
    assert raw.execute("PRAGMA user_version").fetchone() == (4,)
    raw.close()


def test_the_upgrade_gives_the_answers_this_portwatch_records(tmp_path: Path) -> None:
    """The same scenario recorded now: the same holdings, with the process starts as well."""
    old = tmp_path / "schema3.sqlite3"
    v3.write_schema_3(old)
    with RecordingHistory(old, retention_days=v3.KEEP_ALL) as history:
        upgraded = history.holdings()
    with RecordingHistory(tmp_path / "now.sqlite3", retention_days=v3.KEEP_ALL) as history:
        v3.record_scenario(history.recorder)
        recorded = history.holdings()
        assert recorded == reference_holdings(history.path)
    assert [replace(h, process_started=None) for h in recorded] == upgraded
    starts = {h.port: (h.process_started, h.since) for h in recorded}
    assert starts == {
        3000: (v3.T - 3600, v3.T - 3600),  # running before portwatch: from its process's start
        8080: (v3.T - 86400, v3.T - 86400),
        6379: (v3.T - 600, v3.T - 600),
        5173: (v3.T + 50, v3.T + 60),  # bound while watched: from when it was bound
        8000: (v3.T + 950, v3.T + 960),
    }


def test_from_and_held_for_follow_what_is_known() -> None:
    now = time.time()
    known = listener(3000, pid=10, process="node", started=now - 3600)
    unknown = listener(3001, pid=11, process="java", started=None)
    later = listener(3002, pid=12, process="odd", started=now + 5)  # a clock that moved
    with RecordingHistory() as history:
        history.record_start(Snapshot(now - 60, 0.0, (known, unknown, later)))
        holds = by_port(history.holdings())
    assert (holds[3000].since, holds[3000].start) == (now - 3600, now - 60)
    assert holds[3000].held_for is not None
    assert holds[3000].held_for >= 3600
    # Not known: no From, and Held for counts from when portwatch first saw it (at least).
    assert (holds[3001].since, holds[3001].seen_at_start) == (None, True)
    assert holds[3001].held_for is not None
    assert 60 <= holds[3001].held_for < 3600
    # A process start after portwatch first saw the socket is no answer.
    assert holds[3002].since is None


def test_a_real_server_running_before_portwatch_starts_at_its_process_start() -> None:
    server = ListenerProcess(["tcp:127.0.0.1:0"])
    scanner = Scanner(connection_owners=False)
    try:
        assert wait_until(lambda: any(r.pid == server.pid for r in scanner.scan().listeners), 10)
        created = psutil.Process(server.pid).create_time()
        with RecordingHistory() as history:
            history.record_start(scanner.scan())
            [hold] = [h for h in history.holdings() if h.pid == server.pid]
    finally:
        server.stop()
        scanner.close()
    assert hold.seen_at_start
    assert hold.start is not None
    assert hold.since is not None
    assert hold.since < hold.start
    assert abs(hold.since - created) < 1.0
