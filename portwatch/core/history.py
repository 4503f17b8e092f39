"""Port history: every event in an SQLite database, and who held a port when.

The database lives in ``paths.history_db()`` (WAL mode). Rows are appended
for each diff event (bound, freed, owner_changed, exposure_changed), for each
alert sent, and, when watching starts, one ``started`` row plus one
``present`` row per listener already there, so holding intervals survive
restarts. Retention is bounded by age and by row count.

Holding intervals (who held which port from when to when) are kept in their
own table, updated in the same transaction as the events they come from, so
asking for them reads a few indexed rows instead of pairing every event. A
database written before that table existed (schema version 1) gets it built
from its events when it is first opened.

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
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

from portwatch.core import paths
from portwatch.core.diff import Event, EventKind
from portwatch.core.model import Listener, Snapshot

log = logging.getLogger(__name__)

# 1: events and meta only. 2: the holdings table (PRAGMA user_version says which).
SCHEMA_VERSION = 2
DEFAULT_RETENTION_DAYS = 90
DEFAULT_MAX_ROWS = 200_000
# Prune after this many inserts, so retention costs nothing per event.
_PRUNE_EVERY = 500

STARTED = "started"
PRESENT = "present"
ALERT = "alert"
# The kinds that open, close or reshape a holding.
_HOLDING_KINDS = (
    STARTED,
    PRESENT,
    str(EventKind.BOUND),
    str(EventKind.FREED),
    str(EventKind.OWNER_CHANGED),
    str(EventKind.EXPOSURE_CHANGED),
)
# ``closed_event`` of a holding not closed yet: sorts after every event id.
_STILL_OPEN = 1 << 62

# Each statement alone: executescript() would commit the transaction around it.
_SCHEMA = (
    """CREATE TABLE IF NOT EXISTS events (
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
)""",
    "CREATE INDEX IF NOT EXISTS events_port_at ON events (port, at)",
    "CREATE INDEX IF NOT EXISTS events_at ON events (at)",
    "CREATE INDEX IF NOT EXISTS events_process ON events (process)",
    "CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
    # One row per holding, as holdings() returns it, plus what orders equal rows
    # the way pairing the events in time order did, and (while it is open) the
    # pairing's working state.
    """CREATE TABLE IF NOT EXISTS holdings (
    id INTEGER PRIMARY KEY,
    proto TEXT NOT NULL,
    port INTEGER NOT NULL,
    pid INTEGER,
    process TEXT,
    cmdline TEXT,
    user TEXT,
    addresses TEXT,             -- sorted, space-separated; NULL for none
    exposure TEXT,
    started REAL,               -- NULL: bound before the oldest kept event
    ended REAL,                 -- NULL while held
    end_known INTEGER NOT NULL, -- 0: ended while portwatch was not running
    ascii_only INTEGER NOT NULL, -- process and cmdline are ASCII: LIKE folds case as lower() does
    started_event INTEGER,      -- the event at 'started'; NULL once pruned
    opened_event INTEGER NOT NULL, -- the event that (re)opened it
    closed_event INTEGER NOT NULL, -- the event whose recording closed it, or 2^62
    open_state TEXT             -- JSON working state while not closed, else NULL
)""",
    # Newest first, as holdings() orders (ties, rare, are sorted when read). Only
    # columns that do not change when a holding closes, so closing one leaves them be.
    """CREATE INDEX IF NOT EXISTS holdings_newest ON holdings (
    coalesce(started, 0.0) DESC, port DESC
)""",
    "CREATE INDEX IF NOT EXISTS holdings_port ON holdings (port, coalesce(started, 0.0) DESC)",
    # Open and pending ones (closed_event 2^62) by port; pruning by closing event.
    "CREATE INDEX IF NOT EXISTS holdings_live ON holdings (closed_event, ended, port)",
)

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
        busy_timeout: float = 10.0,
    ) -> None:
        self.path = path or paths.history_db()
        self.retention_days = retention_days
        self.max_rows = max_rows
        # How long to wait for another writer (another portwatch) before giving up.
        self.busy_timeout = busy_timeout
        self._local = threading.local()
        self._lock = threading.Lock()
        self._connections: list[sqlite3.Connection] = []
        self._inserts = 0
        self._closed = False
        self._upgrade()
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
            conn = sqlite3.connect(self.path, timeout=self.busy_timeout)
        except (sqlite3.Error, OSError) as exc:
            raise HistoryError(self._problem("open", exc)) from exc
        try:
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")
            conn.execute(f"PRAGMA busy_timeout={int(self.busy_timeout * 1000)}")
            conn.create_function("portwatch_contains", 3, _contains, deterministic=True)
        except sqlite3.Error as exc:
            conn.close()
            raise HistoryError(self._problem("open", exc)) from exc
        self._local.conn = conn
        with self._lock:
            self._connections.append(conn)
        return conn

    def _problem(self, doing: str, exc: BaseException) -> str:
        """What went wrong, for a person: the action, the file, SQLite's words, a hint."""
        message = f"cannot {doing} the history database {self.path}: {exc}"
        code = getattr(exc, "sqlite_errorname", "")
        if code.startswith(("SQLITE_BUSY", "SQLITE_LOCKED")):
            message += " (another program is holding it: close that program, then try again)"
        elif code.startswith(("SQLITE_CORRUPT", "SQLITE_NOTADB")):
            message += " (the file is damaged: move it away and portwatch starts a new one)"
        return message

    @contextlib.contextmanager
    def _write(self, doing: str) -> Iterator[sqlite3.Connection]:
        """One write transaction, taken before anything is read, so writers never interleave."""
        conn = self._conn()
        try:
            conn.execute("BEGIN IMMEDIATE")
        except sqlite3.Error as exc:
            raise HistoryError(self._problem(doing, exc)) from exc
        try:
            yield conn
            conn.commit()
        except BaseException as exc:
            with contextlib.suppress(sqlite3.Error):
                conn.rollback()
            if isinstance(exc, sqlite3.Error):
                raise HistoryError(self._problem(doing, exc)) from exc
            raise

    @contextlib.contextmanager
    def _read(self) -> Iterator[sqlite3.Connection]:
        try:
            yield self._conn()
        except sqlite3.Error as exc:
            raise HistoryError(self._problem("read", exc)) from exc

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
        with self._read() as conn:
            return str(conn.execute("PRAGMA journal_mode").fetchone()[0])

    # --- schema ---

    def _upgrade(self) -> None:
        """Create the tables, or bring an older database up to this schema."""
        with self._write("open") as conn:
            version = int(conn.execute("PRAGMA user_version").fetchone()[0])
            if version > SCHEMA_VERSION:
                raise HistoryError(
                    f"the history database {self.path} was written by a newer portwatch "
                    f"(schema {version}, this one knows {SCHEMA_VERSION}): update portwatch"
                )
            for statement in _SCHEMA:
                conn.execute(statement)
            if version < SCHEMA_VERSION:
                # New, or from before the holdings table: build it from the events,
                # paired in time order as holdings() used to pair them.
                conn.execute("DELETE FROM holdings")
                conn.execute("DELETE FROM meta WHERE key IN (?, ?)", (_THROUGH, _LAST_START))
                _set_meta(conn, "schema_version", str(SCHEMA_VERSION))
                conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
                self._catch_up(conn, in_time_order=True)
            else:
                # Events appended by an older portwatch that knew no holdings table.
                self._catch_up(conn)

    # --- writing ---

    def _insert(self, rows: Sequence[tuple[Any, ...]]) -> None:
        if not rows:
            return
        with self._write("write to") as conn:
            conn.executemany(_INSERT, rows)
            self._catch_up(conn)
        self._inserts += len(rows)
        if self._inserts >= _PRUNE_EVERY:
            self._inserts = 0
            self.prune()

    def _catch_up(self, conn: sqlite3.Connection, *, in_time_order: bool = False) -> None:
        """Fold the events not yet in the holdings table into it (inside a write)."""
        through = int(_get_meta(conn, _THROUGH) or 0)
        newest = conn.execute("SELECT max(id) FROM events").fetchone()[0]
        if newest is None or newest <= through:
            return
        order = "at, id" if in_time_order else "id"
        rows = conn.execute(
            f"SELECT id, {', '.join(_COLUMNS)} FROM events "  # noqa: S608 - fixed names
            f"WHERE id > ? AND kind IN ({', '.join('?' * len(_HOLDING_KINDS))}) ORDER BY {order}",
            (through, *_HOLDING_KINDS),
        )
        events = [HistoryEvent(*row) for row in rows]
        if events:
            pairing = _Pairing.resume(conn, events)
            for event in events:
                pairing.feed(event)
            pairing.save(conn)
        _set_meta(conn, _THROUGH, str(newest))

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
        """Apply retention: drop rows older than the age limit, then the oldest over the cap.

        Holdings follow their events: one whose closing event is gone goes too,
        one whose starting event is gone keeps its end but its start becomes
        unknown, and one still open stays.
        """
        now = time.time() if now is None else now
        cutoff = now - self.retention_days * 86400
        with self._write("prune") as conn:
            removed = conn.execute("DELETE FROM events WHERE at < ?", (cutoff,)).rowcount
            over = conn.execute(
                "SELECT id FROM events ORDER BY id DESC LIMIT 1 OFFSET ?", (self.max_rows,)
            ).fetchone()
            if over is not None:
                removed += conn.execute("DELETE FROM events WHERE id <= ?", over).rowcount
            if removed:
                self._prune_holdings(conn, cutoff)
        if removed:
            log.debug("history retention removed %d rows", removed)
        return removed

    @staticmethod
    def _prune_holdings(conn: sqlite3.Connection, cutoff: float) -> None:
        """Holdings follow the events that were just pruned (inside the prune's write)."""
        oldest = conn.execute("SELECT id, at FROM events ORDER BY id LIMIT 1").fetchone()
        kept_from, kept_at = (_STILL_OPEN, float("inf")) if oldest is None else oldest
        conn.execute("DELETE FROM holdings WHERE closed_event < ?", (kept_from,))
        # A holding starts no later than it ends, and its starting event is no newer
        # than the oldest one kept: bounds on 'started' let the index find these.
        conn.execute(
            "DELETE FROM holdings WHERE coalesce(started, 0.0) < ? AND ended < ?", (cutoff, cutoff)
        )
        conn.execute(
            "UPDATE holdings SET started = NULL, started_event = NULL "
            "WHERE coalesce(started, 0.0) <= ? AND started_event < ?",
            (kept_at, kept_from),
        )

    # --- reading ---

    def count(self) -> int:
        with self._read() as conn:
            return int(conn.execute("SELECT COUNT(*) FROM events").fetchone()[0])

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
        with self._read() as conn:
            return [HistoryEvent(*row) for row in conn.execute(sql, params)]

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
            pattern = _like_pattern(process)
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
        """Who held which port, from when to when. Newest first.

        An interval overlapping ``since`` is included. ``process`` filters the
        intervals (by name or command line, any case), not the events, so an
        interval's start and end are always found.
        """
        where: list[str] = []
        params: list[Any] = []
        if port is not None:
            where.append("port = ?")
            params.append(port)
        if process:
            # LIKE folds ASCII case only: rows with other letters are compared in Python.
            needle = process.lower()
            where.append(
                "CASE WHEN ascii_only"
                " THEN process LIKE ? ESCAPE '\\' OR cmdline LIKE ? ESCAPE '\\'"
                " ELSE portwatch_contains(process, cmdline, ?) END"
            )
            pattern = _like_pattern(needle)
            params.extend([pattern, pattern, needle])
        if since is not None:
            where.append("(ended IS NULL OR ended >= ?)")
            params.append(since)
        clause = (" WHERE " + " AND ".join(where)) if where else ""
        # Fixed column names; every value is a parameter.
        sql = f"SELECT {_SHOWN} FROM holdings{clause} ORDER BY {_NEWEST_FIRST}"  # noqa: S608
        if limit is not None:
            sql += " LIMIT ?"
            params.append(max(limit, 0))
        with self._read() as conn:
            return [
                Holding(
                    proto=proto,
                    port=port_,
                    pid=pid,
                    process=process_,
                    cmdline=cmdline,
                    user=user,
                    addresses=() if addresses is None else tuple(addresses.split(" ")),
                    exposure=exposure,
                    start=start,
                    end=end,
                    end_known=bool(end_known),
                )
                for (
                    proto,
                    port_,
                    pid,
                    process_,
                    cmdline,
                    user,
                    addresses,
                    exposure,
                    start,
                    end,
                    end_known,
                ) in conn.execute(sql, params)
            ]

    def export_holdings_csv(self, path: Path, **filters: Any) -> int:
        """Write :meth:`holdings` to ``path`` as CSV; returns the row count."""
        holdings = self.holdings(**filters)
        buffer = io.StringIO()
        count = holdings_to_csv(holdings, buffer)
        path.write_text(buffer.getvalue(), encoding="utf-8")
        return count


_SHOWN = "proto, port, pid, process, cmdline, user, addresses, exposure, started, ended, end_known"
# Newest start first (unknown starts last), then higher ports; equal ones in the
# order the pairing finished them: by closing event, those a restart found gone
# before the one the event itself closed, and the still open ones last.
_NEWEST_FIRST = "coalesce(started, 0.0) DESC, port DESC, closed_event, end_known, opened_event, id"

_THROUGH = "holdings_through_event"  # the newest event folded into the holdings table
_LAST_START = "holdings_last_start"  # when portwatch last started, as the pairing saw it


def _get_meta(conn: sqlite3.Connection, key: str) -> str | None:
    row = conn.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
    return None if row is None else str(row[0])


def _set_meta(conn: sqlite3.Connection, key: str, value: str) -> None:
    conn.execute("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)", (key, value))


def _like_pattern(text: str) -> str:
    """``%text%`` with LIKE's own wildcards escaped (ESCAPE '\\')."""
    return "%" + text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


def _contains(process: str | None, cmdline: str | None, needle: str) -> bool:
    """The process search for text LIKE cannot fold: ``needle`` is already lower case."""
    return needle in (process or "").lower() or needle in (cmdline or "").lower()


HoldKey = tuple[str, int, int | None]  # (proto, port, pid)


@dataclass
class _Hold:
    """One holding as the pairing builds it; ``row_id`` is None until it is stored."""

    row_id: int | None
    proto: str
    port: int
    pid: int | None
    start: float | None
    started_event: int | None
    opened_event: int
    # Fallbacks from the event that opened it, then what the latest event said.
    first: tuple[str | None, str | None, str | None]  # process, cmdline, user
    last: tuple[str | None, str | None, str | None, str | None, str | None]  # + address, exposure
    bound: dict[str, str]  # address -> exposure, the addresses held now
    # address -> widest exposure, every address held since it opened
    seen: dict[str, str] = field(default_factory=dict)
    end: float | None = None
    end_known: bool = True
    closed_event: int = _STILL_OPEN
    stored: tuple[Any, ...] | None = None  # the columns as in the table, when read from it

    @classmethod
    def opened_by(cls, event: HistoryEvent, start: float | None) -> _Hold:
        return cls(
            row_id=None,
            proto=event.proto or "?",
            port=event.port or 0,
            pid=event.pid,
            start=start,
            started_event=event.id if start is not None else None,
            opened_event=event.id,
            first=(event.process, event.cmdline, event.user),
            last=_last(event),
            bound={},
        )

    def bind(self, address: str, exposure: str) -> None:
        self.bound[address] = exposure
        before = self.seen.get(address)
        if before is None or _exposure_rank(exposure) > _exposure_rank(before):
            self.seen[address] = exposure

    def state_json(self, shown: tuple[str | None, str | None, str | None]) -> str:
        """The working state, short: what the shown columns already say is left out.

        Shown process, command and user are the last event's or else the first's,
        so they stand for the last event's (that is all ``row`` uses them for),
        and for the first event's when those are the same.
        """
        return json.dumps(
            {
                "first": None if self.first == shown else self.first,
                "last": self.last[3:],  # address, exposure
                "bound": list(self.bound.items()),
                "seen": list(self.seen.items()),
            },
            ensure_ascii=False,
        )

    @classmethod
    def from_row(cls, row: tuple[Any, ...]) -> _Hold:
        """A holding read back from ``SELECT id, <_HOLDING_COLUMNS>``."""
        row_id, stored = row[0], row[1:]
        column = dict(zip(_HOLDING_COLUMNS, stored, strict=True))
        saved = json.loads(column["open_state"])
        shown = (column["process"], column["cmdline"], column["user"])
        return cls(
            row_id=row_id,
            proto=column["proto"],
            port=column["port"],
            pid=column["pid"],
            start=column["started"],
            started_event=column["started_event"],
            opened_event=column["opened_event"],
            first=tuple(saved["first"]) if saved["first"] is not None else shown,
            last=(*shown, *saved["last"]),
            bound=dict(saved["bound"]),
            # Written before "seen" was kept: what is held now is what is known.
            seen=dict(saved.get("seen", saved["bound"])),
            end=column["ended"],
            end_known=bool(column["end_known"]),
            stored=stored,
        )

    def row(self) -> tuple[Any, ...]:
        """The columns to store (``_HOLDING_COLUMNS``), shown as pairing events showed them.

        While it is held: the addresses held now and the widest of their
        exposures. Once none is held: every address it held, and the widest
        exposure it had.
        """
        process, cmdline, user, address, exposure = self.last
        held = self.bound or self.seen
        widest = max(held.values(), key=_exposure_rank, default=exposure)
        addresses = sorted(held) or ([address] if address else [])
        shown = (process or self.first[0], cmdline or self.first[1], user or self.first[2])
        closed = self.closed_event != _STILL_OPEN
        return (
            self.proto,
            self.port,
            self.pid,
            *shown,
            " ".join(addresses) if addresses else None,  # addresses have no spaces
            widest,
            self.start,
            self.end,
            int(self.end_known),
            int((shown[0] or "").isascii() and (shown[1] or "").isascii()),
            self.started_event,
            self.opened_event,
            self.closed_event,
            None if closed else self.state_json(shown),
        )


def _last(event: HistoryEvent) -> tuple[str | None, str | None, str | None, str | None, str | None]:
    return (event.process, event.cmdline, event.user, event.address, event.exposure)


_HOLDING_COLUMNS = (
    "proto",
    "port",
    "pid",
    "process",
    "cmdline",
    "user",
    "addresses",
    "exposure",
    "started",
    "ended",
    "end_known",
    "ascii_only",
    "started_event",
    "opened_event",
    "closed_event",
    "open_state",
)
_INSERT_HOLDING = (
    f"INSERT INTO holdings ({', '.join(_HOLDING_COLUMNS)}) "  # noqa: S608 - fixed names
    f"VALUES ({', '.join('?' * len(_HOLDING_COLUMNS))})"
)
# Where the live-holding lookups find these in ``SELECT id, <_HOLDING_COLUMNS>``.
_KEY_AT = slice(1, 4)  # proto, port, pid
_ENDED_AT = 1 + _HOLDING_COLUMNS.index("ended")
_OPENED_EVENT_AT = 1 + _HOLDING_COLUMNS.index("opened_event")


class _Pairing:
    """Pairs events into holdings, one event at a time, in the order they happened.

    Holdings are keyed by (proto, port, pid); one process bound on several
    addresses of a port is one holding. When portwatch starts, what was open
    becomes pending: a ``present`` row for it reopens it, and the first later
    change closes the rest at that start, with ``end_known`` False. Only open
    and pending holdings are kept in memory, and of the open ones only those
    the next events can touch: ``resume`` reads them back from the table and
    ``save`` writes what changed.
    """

    def __init__(self, start_time: float | None) -> None:
        self.open: dict[HoldKey, _Hold] = {}  # in the order they were opened
        self.pending: dict[HoldKey, _Hold] = {}  # open when portwatch last started
        self.start_time = self.resumed_start_time = start_time
        self.changed: dict[int, _Hold] = {}  # by id(), in the order first changed

    @classmethod
    def resume(cls, conn: sqlite3.Connection, events: Sequence[HistoryEvent]) -> _Pairing:
        """The open and pending holdings that ``events`` can touch, read back from the table."""
        last_start = _get_meta(conn, _LAST_START)
        pairing = cls(float(last_start) if last_start else None)
        columns = f"SELECT id, {', '.join(_HOLDING_COLUMNS)} FROM holdings WHERE closed_event = ?"  # noqa: S608 - fixed names
        if any(event.kind == STARTED for event in events):
            # A start turns every open holding pending.
            rows = conn.execute(columns, (_STILL_OPEN,)).fetchall()
        else:
            # Other events touch their own keys only; pending ones may all be closed.
            ports = sorted({event.port for event in events if event.port is not None})
            rows = conn.execute(f"{columns} AND ended IS NOT NULL", (_STILL_OPEN,)).fetchall()
            rows += conn.execute(
                f"{columns} AND ended IS NULL AND port IN ({', '.join('?' * len(ports))})",
                (_STILL_OPEN, *ports),
            ).fetchall()
            keys = {(e.proto, e.port, e.pid) for e in events}
            keys |= {(e.proto, e.port, e.previous_pid) for e in events}
            rows = [row for row in rows if row[_ENDED_AT] is not None or row[_KEY_AT] in keys]
        # In the order they were opened, as the pairing keeps them.
        for row in sorted(rows, key=lambda row: int(row[_OPENED_EVENT_AT])):
            hold = _Hold.from_row(row)
            key: HoldKey = (hold.proto, hold.port, hold.pid)
            if hold.end is None:
                pairing.open[key] = hold
            else:
                pairing.pending[key] = hold
        return pairing

    def save(self, conn: sqlite3.Connection) -> None:
        inserts = []
        for hold in self.changed.values():
            row = hold.row()
            if hold.stored is None:
                inserts.append(row)
                continue
            # Only the columns that changed, so indexes on the others are left alone.
            changed = [
                (name, new)
                for name, old, new in zip(_HOLDING_COLUMNS, hold.stored, row, strict=True)
                if old != new
            ]
            if changed:
                assignments = ", ".join(f"{name} = ?" for name, _ in changed)
                conn.execute(
                    f"UPDATE holdings SET {assignments} WHERE id = ?",  # noqa: S608 - fixed names
                    (*(new for _, new in changed), hold.row_id),
                )
        conn.executemany(_INSERT_HOLDING, inserts)
        if self.start_time != self.resumed_start_time and self.start_time is not None:
            _set_meta(conn, _LAST_START, repr(self.start_time))
        self.changed.clear()

    def _touch(self, hold: _Hold) -> None:
        self.changed.setdefault(id(hold), hold)

    def _close(self, hold: _Hold, end: float, event: HistoryEvent) -> None:
        hold.end, hold.end_known, hold.closed_event = end, True, event.id
        self._touch(hold)

    def _flush_pending(self, event: HistoryEvent) -> None:
        """Not seen again after the start: they ended while portwatch was away."""
        for hold in self.pending.values():
            hold.closed_event = event.id  # end and end_known were set at the start
            self._touch(hold)
        self.pending.clear()

    def _opened(self, key: HoldKey, event: HistoryEvent, start: float | None) -> None:
        hold = self.open.get(key)
        if hold is None:
            hold = self.open[key] = _Hold.opened_by(event, start)
        hold.bind(event.address or "", event.exposure or "")
        hold.last = _last(event)
        self._touch(hold)

    def feed(self, event: HistoryEvent) -> None:
        if event.kind == STARTED:
            self._flush_pending(event)
            for hold in self.open.values():
                # Shown as ended at this start unless a ``present`` row reopens it.
                hold.end, hold.end_known = event.at, False
                self._touch(hold)
            self.pending, self.open = self.open, {}
            self.start_time = event.at
            return
        if event.port is None or event.proto is None or event.kind not in _HOLDING_KINDS:
            return
        if (
            event.kind != PRESENT
            and self.pending
            and (self.start_time is None or event.at > self.start_time)
        ):
            self._flush_pending(event)
        key: HoldKey = (event.proto, event.port, event.pid)
        if event.kind == PRESENT:
            if key in self.pending and key not in self.open:
                back = self.open[key] = self.pending.pop(key)
                back.bound, back.end, back.end_known = {}, None, True
                back.opened_event = event.id
            self._opened(key, event, event.at)
        elif event.kind == EventKind.BOUND:
            self._opened(key, event, event.at)
        elif event.kind == EventKind.FREED:
            freed = self.open.get(key)
            if freed is None:
                # Its bind is older than the retained history.
                freed = self.open[key] = _Hold.opened_by(event, None)
                freed.bind(event.address or "", event.exposure or "")
            freed.bound.pop(event.address or "", None)
            if event.process:
                freed.last = _last(event)
            self._touch(freed)
            if not freed.bound:
                del self.open[key]
                self._close(freed, event.at, event)
        elif event.kind == EventKind.OWNER_CHANGED:
            old = self.open.pop((event.proto, event.port, event.previous_pid), None)
            if old is not None:
                self._close(old, event.at, event)
            self._opened(key, event, event.at)
        elif event.kind == EventKind.EXPOSURE_CHANGED:
            widened = self.open.get(key)
            if widened is None:
                self._opened(key, event, None)
            else:
                widened.bound = {}
                widened.bind(event.address or "", event.exposure or "")
                widened.last = _last(event)
                self._touch(widened)


def _exposure_rank(exposure: str | None) -> int:
    return {"loopback": 0, "lan": 1, "public": 2}.get(exposure or "", -1)
