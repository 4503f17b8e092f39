"""Port history: every event in an SQLite database, and who held a port when.

The database lives in ``paths.history_db()`` (WAL mode). Rows are appended
for each diff event (bound, freed, owner_changed, exposure_changed), for each
alert sent, and, when watching starts, one ``started`` row plus one
``present`` row per listener already there, so holding intervals survive
restarts. Retention is bounded by age and by row count.

Threads: SQLite connections must stay in the thread that made them, so
:class:`History` keeps one connection per thread (``threading.local``); any
thread may call any method. Writes are short transactions; WAL lets readers
(the UI) run while the recorder writes.
"""

from __future__ import annotations

import contextlib
import csv
import datetime as dt
import io
import json
import logging
import re
import sqlite3
import threading
import time
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

from portwatch.core import paths
from portwatch.core.diff import Event, EventKind
from portwatch.core.model import Listener, Snapshot

log = logging.getLogger(__name__)

SCHEMA_VERSION = 1
DEFAULT_RETENTION_DAYS = 90
DEFAULT_MAX_ROWS = 200_000
# Prune after this many inserts, so retention costs nothing per event.
_PRUNE_EVERY = 500

STARTED = "started"
PRESENT = "present"
ALERT = "alert"

_SCHEMA = """
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
"""

_COLUMNS = (
    "at",
    "kind",
    "proto",
    "family",
    "address",
    "port",
    "pid",
    "process",
    "exe",
    "cmdline",
    "user",
    "exposure",
    "previous_pid",
    "previous_process",
    "previous_address",
    "previous_exposure",
    "detail",
)
_PLACEHOLDERS = ", ".join("?" * len(_COLUMNS))
_INSERT = f"INSERT INTO events ({', '.join(_COLUMNS)}) VALUES ({_PLACEHOLDERS})"  # noqa: S608 - fixed names


class HistoryError(Exception):
    """The database cannot be opened or written; ``str()`` says why, for a person."""


@dataclass(frozen=True, slots=True)
class HistoryEvent:
    """One stored row."""

    id: int
    at: float
    kind: str
    proto: str | None
    family: int | None
    address: str | None
    port: int | None
    pid: int | None
    process: str | None
    exe: str | None
    cmdline: str | None
    user: str | None
    exposure: str | None
    previous_pid: int | None
    previous_process: str | None
    previous_address: str | None
    previous_exposure: str | None
    detail: str | None

    def to_json(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in ("id", *_COLUMNS)}


@dataclass(frozen=True, slots=True)
class Holding:
    """One process holding one port from ``start`` to ``end``.

    ``start`` is None when the bind is older than the retained history;
    ``end`` is None while it is still held (as last seen). ``end_known`` is
    False when portwatch was not running at the moment it ended: then
    ``end`` is the next time portwatch started and saw it gone.
    """

    proto: str
    port: int
    pid: int | None
    process: str | None
    cmdline: str | None
    user: str | None
    addresses: tuple[str, ...]
    exposure: str | None
    start: float | None
    end: float | None
    end_known: bool = True

    @property
    def duration(self) -> float | None:
        if self.start is None:
            return None
        return (self.end if self.end is not None else time.time()) - self.start

    def to_json(self) -> dict[str, Any]:
        return {
            "proto": self.proto,
            "port": self.port,
            "pid": self.pid,
            "process": self.process,
            "command": self.cmdline,
            "user": self.user,
            "addresses": list(self.addresses),
            "exposure": self.exposure,
            "start": self.start,
            "end": self.end,
            "end_known": self.end_known,
            "duration": self.duration,
        }


HOLDING_CSV_COLUMNS = (
    "proto",
    "port",
    "pid",
    "process",
    "command",
    "user",
    "addresses",
    "exposure",
    "start",
    "end",
    "end_known",
    "duration_seconds",
)


def _iso(epoch: float | None) -> str:
    if epoch is None:
        return ""
    return dt.datetime.fromtimestamp(epoch).astimezone().isoformat(timespec="seconds")


def holdings_to_csv(holdings: Iterable[Holding], out: TextIO) -> int:
    """Write holding intervals as CSV (ISO times); returns the number of rows."""
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(HOLDING_CSV_COLUMNS)
    count = 0
    for hold in holdings:
        duration = hold.duration
        writer.writerow(
            [
                hold.proto,
                hold.port,
                "" if hold.pid is None else hold.pid,
                hold.process or "",
                hold.cmdline or "",
                hold.user or "",
                " ".join(hold.addresses),
                hold.exposure or "",
                _iso(hold.start),
                _iso(hold.end),
                "yes" if hold.end_known else "no",
                "" if duration is None else f"{duration:.0f}",
            ]
        )
        count += 1
    return count


_RELATIVE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhdw])\s*$", re.IGNORECASE)
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}


def parse_since(text: str, now: float | None = None) -> float:
    """'2h', '30m', '1d', '45s', '2w' ago, or an ISO date/time (local time) → epoch seconds."""
    now = time.time() if now is None else now
    match = _RELATIVE.match(text)
    if match:
        return now - float(match[1]) * _UNIT_SECONDS[match[2].lower()]
    try:
        when = dt.datetime.fromisoformat(text.strip())
    except ValueError:
        raise ValueError(
            f"'{text}' is not a time: use 30m, 2h, 1d, 2w or a date like 2026-11-21 "
            "or 2026-11-21T14:00"
        ) from None
    if when.tzinfo is None:
        when = when.astimezone()  # a naive time means local time
    return when.timestamp()


def _cmdline(listener: Listener) -> str | None:
    if listener.cmdline is None:
        return None
    return " ".join(listener.cmdline)


def _row_for(
    kind: str, listener: Listener, at: float, previous: Listener | None = None
) -> tuple[Any, ...]:
    return (
        at,
        kind,
        listener.proto,
        listener.family,
        listener.address,
        listener.port,
        listener.pid,
        listener.process,
        listener.exe,
        _cmdline(listener),
        listener.user,
        str(listener.exposure),
        previous.pid if previous else None,
        previous.process if previous else None,
        previous.address if previous else None,
        str(previous.exposure) if previous else None,
        None,
    )


class History:
    """The history database. Safe to use from several threads (one connection each)."""

    def __init__(
        self,
        path: Path | None = None,
        *,
        retention_days: int = DEFAULT_RETENTION_DAYS,
        max_rows: int = DEFAULT_MAX_ROWS,
    ) -> None:
        self.path = path or paths.history_db()
        self.retention_days = retention_days
        self.max_rows = max_rows
        self._local = threading.local()
        self._lock = threading.Lock()
        self._connections: list[sqlite3.Connection] = []
        self._inserts = 0
        self._closed = False
        conn = self._conn()
        with conn:
            conn.executescript(_SCHEMA)
            conn.execute(
                "INSERT OR IGNORE INTO meta (key, value) VALUES ('schema_version', ?)",
                (str(SCHEMA_VERSION),),
            )
        self.prune()

    # --- connections ---

    def _conn(self) -> sqlite3.Connection:
        if self._closed:
            raise HistoryError("the history database is closed")
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is not None:
            return conn
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            conn = sqlite3.connect(self.path, timeout=10.0)
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")
            conn.execute("PRAGMA busy_timeout=10000")
        except sqlite3.Error as exc:
            raise HistoryError(f"cannot open the history database {self.path}: {exc}") from exc
        self._local.conn = conn
        with self._lock:
            self._connections.append(conn)
        return conn

    def close(self) -> None:
        """Close every thread's connection (call when the app quits)."""
        with self._lock:
            connections, self._connections = self._connections, []
            self._closed = True
        for conn in connections:
            with contextlib.suppress(sqlite3.Error):
                conn.close()

    def __enter__(self) -> History:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def journal_mode(self) -> str:
        return str(self._conn().execute("PRAGMA journal_mode").fetchone()[0])

    # --- writing ---

    def _insert(self, rows: Sequence[tuple[Any, ...]]) -> None:
        if not rows:
            return
        conn = self._conn()
        try:
            with conn:
                conn.executemany(_INSERT, rows)
        except sqlite3.Error as exc:
            raise HistoryError(f"cannot write to the history database: {exc}") from exc
        self._inserts += len(rows)
        if self._inserts >= _PRUNE_EVERY:
            self._inserts = 0
            self.prune()

    def record_start(self, snapshot: Snapshot) -> None:
        """Watching starts: a ``started`` row, then every listener already there."""
        at = snapshot.taken_at
        rows: list[tuple[Any, ...]] = [
            (at, STARTED, *([None] * (len(_COLUMNS) - 3)), snapshot.backend or None)
        ]
        rows.extend(_row_for(PRESENT, listener, at) for listener in snapshot.listeners)
        self._insert(rows)

    def record_events(self, events: Iterable[Event]) -> None:
        self._insert([_row_for(str(e.kind), e.listener, e.at, e.previous) for e in events])

    def record_alert(
        self,
        *,
        at: float,
        title: str,
        body: str,
        kind: str,
        port: int | None,
        proto: str | None,
        pid: int | None,
        process: str | None,
        delivery: str,
    ) -> None:
        detail = json.dumps(
            {"alert": kind, "title": title, "body": body, "delivery": delivery},
            ensure_ascii=False,
        )
        row: list[Any] = [None] * len(_COLUMNS)
        row[0], row[1], row[2], row[5], row[6], row[7], row[-1] = (
            at,
            ALERT,
            proto,
            port,
            pid,
            process,
            detail,
        )
        self._insert([tuple(row)])

    def prune(self, now: float | None = None) -> int:
        """Apply retention: drop rows older than the age limit, then the oldest over the cap."""
        now = time.time() if now is None else now
        conn = self._conn()
        cutoff = now - self.retention_days * 86400
        try:
            with conn:
                removed = conn.execute("DELETE FROM events WHERE at < ?", (cutoff,)).rowcount
                over = conn.execute(
                    "SELECT id FROM events ORDER BY id DESC LIMIT 1 OFFSET ?", (self.max_rows,)
                ).fetchone()
                if over is not None:
                    removed += conn.execute("DELETE FROM events WHERE id <= ?", over).rowcount
        except sqlite3.Error as exc:
            raise HistoryError(f"cannot prune the history database: {exc}") from exc
        if removed:
            log.debug("history retention removed %d rows", removed)
        return removed

    # --- reading ---

    def count(self) -> int:
        return int(self._conn().execute("SELECT COUNT(*) FROM events").fetchone()[0])

    def events(
        self,
        *,
        port: int | None = None,
        process: str | None = None,
        since: float | None = None,
        until: float | None = None,
        kinds: Sequence[str] | None = None,
        limit: int | None = None,
    ) -> list[HistoryEvent]:
        """Rows in time order, filtered; ``process`` matches name or command line, any case."""
        where, params = self._filters(port=port, process=process, since=since, until=until)
        if kinds:
            where.append(f"kind IN ({', '.join('?' * len(kinds))})")
            params.extend(kinds)
        clause = (" WHERE " + " AND ".join(where)) if where else ""
        # Fixed column names; every value is a parameter.
        sql = f"SELECT id, {', '.join(_COLUMNS)} FROM events{clause}"  # noqa: S608
        if limit is None:
            sql += " ORDER BY at, id"
        else:
            # The newest ``limit`` rows, still returned oldest first.
            sql = f"SELECT * FROM ({sql} ORDER BY at DESC, id DESC LIMIT ?) ORDER BY at, id"  # noqa: S608
            params.append(limit)
        return [HistoryEvent(*row) for row in self._conn().execute(sql, params)]

    @staticmethod
    def _filters(
        *,
        port: int | None,
        process: str | None,
        since: float | None,
        until: float | None,
    ) -> tuple[list[str], list[Any]]:
        where: list[str] = []
        params: list[Any] = []
        if port is not None:
            where.append("port = ?")
            params.append(port)
        if process:
            pattern = "%" + process.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
            pattern += "%"
            where.append("(process LIKE ? ESCAPE '\\' OR cmdline LIKE ? ESCAPE '\\')")
            params.extend([pattern, pattern])
        if since is not None:
            where.append("at >= ?")
            params.append(since)
        if until is not None:
            where.append("at <= ?")
            params.append(until)
        return where, params

    def holdings(
        self,
        *,
        port: int | None = None,
        process: str | None = None,
        since: float | None = None,
        limit: int | None = None,
    ) -> list[Holding]:
        """Who held which port, from when to when: bound/freed paired into intervals.

        An interval overlapping ``since`` is included. ``process`` filters the
        intervals (by name or command line), not the events, so an interval's
        start and end are always found. Newest first.
        """
        rows = self._conn().execute(
            f"SELECT id, {', '.join(_COLUMNS)} FROM events "  # noqa: S608 - fixed column names
            "WHERE kind IN (?, ?, ?, ?, ?, ?)"
            + (" AND port = ?" if port is not None else "")
            + " ORDER BY at, id",
            [
                STARTED,
                PRESENT,
                str(EventKind.BOUND),
                str(EventKind.FREED),
                str(EventKind.OWNER_CHANGED),
                str(EventKind.EXPOSURE_CHANGED),
                *([port] if port is not None else []),
            ],
        )
        result = list(_pair(HistoryEvent(*row) for row in rows))
        if since is not None:
            result = [h for h in result if h.end is None or h.end >= since]
        if process:
            needle = process.lower()
            result = [
                h
                for h in result
                if needle in (h.process or "").lower() or needle in (h.cmdline or "").lower()
            ]
        result.sort(key=lambda h: (h.start or 0.0, h.port), reverse=True)
        return result[:limit] if limit is not None else result

    def export_holdings_csv(self, path: Path, **filters: Any) -> int:
        """Write :meth:`holdings` to ``path`` as CSV; returns the row count."""
        holdings = self.holdings(**filters)
        buffer = io.StringIO()
        count = holdings_to_csv(holdings, buffer)
        path.write_text(buffer.getvalue(), encoding="utf-8")
        return count


HoldKey = tuple[str, int, int | None]  # (proto, port, pid)


@dataclass
class _Open:
    first: HistoryEvent
    start: float | None
    addresses: dict[str, str]  # address -> exposure
    last: HistoryEvent
    resumed: bool = True


def _pair(events: Iterator[HistoryEvent]) -> Iterator[Holding]:
    """Walk events in time order and yield closed and still-open holding intervals."""
    open_: dict[HoldKey, _Open] = {}
    pending: dict[HoldKey, _Open] = {}  # open when portwatch (re)started: not yet seen again
    start_time: float | None = None

    def close(hold: _Open, end: float | None, *, known: bool = True) -> Holding:
        last = hold.last
        widest = max(hold.addresses.values(), key=_exposure_rank, default=last.exposure)
        return Holding(
            proto=last.proto or "?",
            port=last.port or 0,
            pid=last.pid,
            process=last.process or hold.first.process,
            cmdline=last.cmdline or hold.first.cmdline,
            user=last.user or hold.first.user,
            addresses=tuple(sorted(hold.addresses)) or ((last.address,) if last.address else ()),
            exposure=widest,
            start=hold.start,
            end=end,
            end_known=known,
        )

    def flush_pending() -> Iterator[Holding]:
        for hold in list(pending.values()):
            yield close(hold, start_time, known=False)
        pending.clear()

    def opened(key: HoldKey, event: HistoryEvent, start: float | None) -> None:
        hold = open_.get(key)
        if hold is None:
            hold = _Open(event, start, {}, event)
            open_[key] = hold
        hold.addresses[event.address or ""] = event.exposure or ""
        hold.last = event

    for event in events:
        if event.kind == STARTED:
            yield from flush_pending()
            pending.update(open_)
            open_.clear()
            start_time = event.at
            continue
        if event.port is None or event.proto is None:
            continue
        if event.kind != PRESENT and pending and (start_time is None or event.at > start_time):
            yield from flush_pending()
        key: HoldKey = (event.proto, event.port, event.pid)
        if event.kind == PRESENT:
            if key in pending and key not in open_:
                open_[key] = pending.pop(key)
                open_[key].addresses = {}
            opened(key, event, event.at)
        elif event.kind == str(EventKind.BOUND):
            opened(key, event, event.at)
        elif event.kind == str(EventKind.FREED):
            hold = open_.get(key)
            if hold is None:
                # Its bind is older than the retained history.
                hold = _Open(event, None, {event.address or "": event.exposure or ""}, event)
                open_[key] = hold
            hold.addresses.pop(event.address or "", None)
            hold.last = event if event.process else hold.last
            if not hold.addresses:
                del open_[key]
                yield close(hold, event.at)
        elif event.kind == str(EventKind.OWNER_CHANGED):
            old_key: HoldKey = (event.proto, event.port, event.previous_pid)
            old = open_.pop(old_key, None)
            if old is not None:
                yield close(old, event.at)
            opened(key, event, event.at)
        elif event.kind == str(EventKind.EXPOSURE_CHANGED):
            hold = open_.get(key)
            if hold is None:
                opened(key, event, None)
            else:
                hold.addresses = {event.address or "": event.exposure or ""}
                hold.last = event
    yield from flush_pending()
    for hold in open_.values():
        yield close(hold, None)


def _exposure_rank(exposure: str) -> int:
    return {"loopback": 0, "lan": 1, "public": 2}.get(exposure, -1)
