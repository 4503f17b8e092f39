"""Reading the history: read-only, without a lock, whatever version wrote the file.

A :class:`HistoryReader` opens the database as ``file:…?mode=ro`` with
``PRAGMA query_only``: it never creates, upgrades, prunes or writes, so
``portwatch history`` leaves the file byte for byte as it was, and another
program's write transaction does not make it wait (WAL readers take no lock
on the main file).

A read-only WAL reader needs the -wal and -shm files: when they exist (the
recorder is running, or left them) they are read, even if this user cannot
write them. When they do not and this user cannot create them (another user
with read access only, a read-only copy), the file is complete without them
and is opened as immutable.

A file from an older portwatch is read as it is (its :attr:`notice` says the
tray app upgrades it on its next start); one from a newer portwatch is
refused with one line.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from typing import Any

from portwatch.core import paths
from portwatch.core.history.connections import Connections, problem
from portwatch.core.history.schema import (
    OLDEST_READABLE,
    SCHEMA_VERSION,
    command_of,
    event_select,
    has_table,
    holding_starts,
    version_of,
)
from portwatch.core.history.values import (
    HistoryError,
    HistoryEvent,
    Holding,
    write_holdings_csv,
)
from portwatch.core.safetext import mask_text

# Newest start first (unknown starts last), then higher ports; equal ones in the
# order the pairing finished them: by closing event, those a restart found gone
# before the one the event itself closed, and the still open ones last.
_NEWEST_FIRST = "coalesce(started, 0.0) DESC, port DESC, closed_event, end_known, opened_event, id"
# SQLite cannot take a bigger LIMIT.
_MAX_LIMIT = (1 << 63) - 1


def _like_pattern(text: str) -> str:
    """``%text%`` with LIKE's own wildcards escaped (ESCAPE '\\')."""
    return "%" + text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


def _contains(process: str | None, cmdline: str | None, needle: str) -> bool:
    """The process search for text LIKE cannot fold: ``needle`` is already lower case."""
    return needle in (process or "").lower() or needle in (cmdline or "").lower()


def _shown_command(text: str | None) -> str | None:
    """Command lines from before schema 3 were stored unmasked: mask them when read."""
    return None if text is None else mask_text(text)


def _limit(limit: int | None) -> int | None:
    return None if limit is None else min(max(limit, 0), _MAX_LIMIT)


class HistoryReader:
    """Reads the history database, never writing it. One connection per thread."""

    def __init__(self, path: Path | None = None, *, busy_timeout: float = 2.0) -> None:
        self.path = Path(path) if path is not None else paths.history_db()
        self.busy_timeout = busy_timeout
        self.version: int | None = None  # the file's schema, known once opened
        self._connections = Connections(self._open)

    # --- connections ---

    def _uri(self, *, immutable: bool) -> str:
        return self.path.absolute().as_uri() + ("?mode=ro&immutable=1" if immutable else "?mode=ro")

    def _connect(self, *, immutable: bool) -> sqlite3.Connection:
        conn = sqlite3.connect(self._uri(immutable=immutable), uri=True, timeout=self.busy_timeout)
        try:
            conn.execute("PRAGMA query_only = ON")
            conn.execute(f"PRAGMA busy_timeout={int(self.busy_timeout * 1000)}")
            self.version = version_of(conn)  # the first read: finds out if it can be read
        except BaseException:
            conn.close()
            raise
        return conn

    def _open(self) -> sqlite3.Connection:
        if not self.path.is_file():
            raise HistoryError(
                f"there is no history database at {self.path} yet: "
                "the tray app records it while it runs"
            )
        try:
            try:
                conn = self._connect(immutable=False)
            except sqlite3.OperationalError as exc:
                if not self._complete_without_wal(exc):
                    raise
                conn = self._connect(immutable=True)
        except sqlite3.Error as exc:
            raise HistoryError(problem(self.path, "open", exc)) from exc
        if self.version is not None and self.version > SCHEMA_VERSION:
            conn.close()
            raise HistoryError(self.newer_message(self.version))
        conn.create_function("portwatch_contains", 3, _contains, deterministic=True)
        return conn

    def _complete_without_wal(self, exc: sqlite3.OperationalError) -> bool:
        """SQLite could not make the -wal/-shm it needs, and the file is whole without them."""
        code = getattr(exc, "sqlite_errorname", "")
        if not code.startswith(("SQLITE_READONLY", "SQLITE_CANTOPEN")):
            return False
        wal = self.path.with_name(self.path.name + "-wal")
        try:
            return not wal.exists() or wal.stat().st_size == 0
        except OSError:
            return False

    def newer_message(self, version: int) -> str:
        return (
            f"the history database {self.path} was written by a newer portwatch "
            f"(schema {version}, this one knows {SCHEMA_VERSION}): update portwatch"
        )

    @contextmanager
    def _read(self) -> Iterator[sqlite3.Connection]:
        conn = self._connections.get("the history database is closed")
        try:
            yield conn
        except sqlite3.Error as exc:
            raise HistoryError(problem(self.path, "read", exc)) from exc

    def close(self) -> None:
        self._connections.close()

    def __enter__(self) -> HistoryReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def schema_version(self) -> int:
        with self._read():
            assert self.version is not None  # set by the connection just made
            return self.version

    @property
    def notice(self) -> str | None:
        """One line when the file is from an older portwatch, else None."""
        version = self.schema_version()
        if version == 0 or version >= SCHEMA_VERSION:
            return None
        return (
            f"this history was written by an older portwatch (schema {version}); "
            "the tray app upgrades it the next time it starts"
        )

    @property
    def journal_mode(self) -> str:
        with self._read() as conn:
            return str(conn.execute("PRAGMA journal_mode").fetchone()[0])

    # --- queries ---

    def _has_events(self) -> bool:
        return self.version is not None and self.version >= OLDEST_READABLE

    def count(self) -> int:
        with self._read() as conn:
            if not self._has_events():
                return 0
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
        with self._read() as conn:
            if not self._has_events():
                return []
            version = self.version or SCHEMA_VERSION
            command = command_of("events", version)
            clause, params = _event_where(
                command, port=port, process=process, since=since, until=until, kinds=kinds
            )
            # Fixed column names; every value is a parameter.
            sql = f"SELECT {event_select(version)} FROM events{clause}"  # noqa: S608
            bounded = _limit(limit)
            if bounded is None:
                sql += " ORDER BY at, id"
            else:
                # The newest ``limit`` rows, still returned oldest first.
                sql = (
                    f"SELECT * FROM ({sql} ORDER BY events.at DESC, events.id DESC LIMIT ?) "  # noqa: S608
                    "ORDER BY 2, 1"
                )
                params.append(bounded)
            rows = [HistoryEvent(*row) for row in conn.execute(sql, params)]
        if version < 3:
            rows = [_masked_event(row) for row in rows]
        return rows

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
        with self._read() as conn:
            if not self._has_events():
                return []
            self._require_holdings(conn)
            version = self.version or SCHEMA_VERSION
            command = command_of("holdings", version)
            clause, params = _holding_where(command, port=port, process=process, since=since)
            shown = (
                f"proto, port, pid, process, {command}, user, addresses, exposure, "
                f"started, ended, end_known, {holding_starts(version)}"
            )
            # Fixed column names; every value is a parameter.
            sql = f"SELECT {shown} FROM holdings{clause} ORDER BY {_NEWEST_FIRST}"  # noqa: S608
            bounded = _limit(limit)
            if bounded is not None:
                sql += " LIMIT ?"
                params.append(bounded)
            rows = conn.execute(sql, params).fetchall()
        mask = version < 3
        return [
            Holding(
                proto=proto,
                port=port_,
                pid=pid,
                process=process_,
                cmdline=_shown_command(cmdline) if mask else cmdline,
                user=user,
                addresses=() if addresses is None else tuple(addresses.split(" ")),
                exposure=exposure,
                start=start,
                end=end,
                end_known=bool(end_known),
                process_started=process_started,
                seen_at_start=bool(seen_at_start),
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
                process_started,
                seen_at_start,
            ) in rows
        ]

    def count_events(
        self,
        *,
        port: int | None = None,
        process: str | None = None,
        since: float | None = None,
        until: float | None = None,
        kinds: Sequence[str] | None = None,
    ) -> int:
        """How many rows :meth:`events` finds with these filters and no limit (one COUNT)."""
        with self._read() as conn:
            if not self._has_events():
                return 0
            command = command_of("events", self.version or SCHEMA_VERSION)
            clause, params = _event_where(
                command, port=port, process=process, since=since, until=until, kinds=kinds
            )
            sql = f"SELECT COUNT(*) FROM events{clause}"  # noqa: S608 - values are parameters
            return int(conn.execute(sql, params).fetchone()[0])

    def count_holdings(
        self, *, port: int | None = None, process: str | None = None, since: float | None = None
    ) -> int:
        """How many rows :meth:`holdings` finds with these filters and no limit (one COUNT)."""
        with self._read() as conn:
            if not self._has_events():
                return 0
            self._require_holdings(conn)
            command = command_of("holdings", self.version or SCHEMA_VERSION)
            clause, params = _holding_where(command, port=port, process=process, since=since)
            sql = f"SELECT COUNT(*) FROM holdings{clause}"  # noqa: S608 - values are parameters
            return int(conn.execute(sql, params).fetchone()[0])

    def _require_holdings(self, conn: sqlite3.Connection) -> None:
        if not has_table(conn, "holdings"):
            raise HistoryError(
                f"the history database {self.path} is from an older portwatch that kept no "
                "holding intervals: the tray app builds them the next time it starts "
                "(portwatch history --events shows the events meanwhile)"
            )

    def export_holdings_csv(self, path: Path, **filters: Any) -> int:
        """Write :meth:`holdings` to ``path`` as CSV (atomic, 0600); returns the row count."""
        return write_holdings_csv(path, self.holdings(**filters))


def _event_where(
    command: str,
    *,
    port: int | None,
    process: str | None,
    since: float | None,
    until: float | None,
    kinds: Sequence[str] | None,
) -> tuple[str, list[Any]]:
    """The WHERE clause (or "") of an events query, and its parameters."""
    where: list[str] = []
    params: list[Any] = []
    if port is not None:
        where.append("port = ?")
        params.append(port)
    if process:
        pattern = _like_pattern(process)
        where.append(f"(process LIKE ? ESCAPE '\\' OR {command} LIKE ? ESCAPE '\\')")
        params.extend([pattern, pattern])
    if since is not None:
        where.append("at >= ?")
        params.append(since)
    if until is not None:
        where.append("at <= ?")
        params.append(until)
    if kinds:
        where.append(f"kind IN ({', '.join('?' * len(kinds))})")
        params.extend(kinds)
    return (" WHERE " + " AND ".join(where)) if where else "", params


def _holding_where(
    command: str, *, port: int | None, process: str | None, since: float | None
) -> tuple[str, list[Any]]:
    """The WHERE clause (or "") of a holdings query, and its parameters."""
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
            f" THEN process LIKE ? ESCAPE '\\' OR {command} LIKE ? ESCAPE '\\'"
            f" ELSE portwatch_contains(process, {command}, ?) END"
        )
        pattern = _like_pattern(needle)
        params.extend([pattern, pattern, needle])
    if since is not None:
        where.append("(ended IS NULL OR ended >= ?)")
        params.append(since)
    return (" WHERE " + " AND ".join(where)) if where else "", params


def _masked_event(event: HistoryEvent) -> HistoryEvent:
    if event.cmdline is None:
        return event
    return replace(event, cmdline=mask_text(event.cmdline))
