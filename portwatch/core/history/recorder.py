"""The recorder: the only code that creates, upgrades, prunes and writes the history database.

The tray app owns one :class:`HistoryRecorder`, built from the settings
(:meth:`HistoryRecorder.from_settings`): retention by age, by rows and by
bytes is the user's, never a default behind their back.

- Every text stored is valid (``safetext.from_os``), so no lone surrogate
  from a process name reaches SQLite; command lines are masked
  (``safetext.mask_argv``) and kept once each in the commands table.
- A batch that cannot be written (another program holds the lock, the disk
  is full) is kept, up to :data:`MAX_PENDING` rows (the oldest dropped, said
  once in the log), and written before the next one, once, in order: nothing
  is lost when the lock goes or space is freed. :meth:`deferred` gathers
  several scans into one batch (the app's writer thread, :mod:`.writer`). The write still raises
  :class:`HistoryError`, one line for a person, so the app can say so.
- The database, its -wal and -shm are 0600 and the data folder 0700; files
  made by an older portwatch are tightened when the recorder opens them.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import sqlite3
import threading
import time
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from portwatch.core import files, paths
from portwatch.core.diff import Event
from portwatch.core.history import retention
from portwatch.core.history.connections import Connections, problem
from portwatch.core.history.pairing import catch_up
from portwatch.core.history.rows import Row, path_is_default, row_for, text
from portwatch.core.history.schema import (
    LAST_START,
    SCHEMA_VERSION,
    THROUGH,
    intern_command,
    upgrade,
    version_of,
)
from portwatch.core.history.values import ALERT, EVENT_FIELDS, PRESENT, STARTED, HistoryError
from portwatch.core.model import Snapshot
from portwatch.core.safetext import from_os, mask_text

if TYPE_CHECKING:
    from portwatch.core.settings import Settings

log = logging.getLogger(__name__)

# Prune after this many inserts, so retention by age and rows costs nothing per event.
PRUNE_EVERY = 500
# Rows kept in memory while the database cannot be written.
MAX_PENDING = 5000

_CMDLINE_AT = EVENT_FIELDS.index("cmdline")
_DETAIL_AT = EVENT_FIELDS.index("detail")
_STORED = ", ".join("command_id" if name == "cmdline" else name for name in EVENT_FIELDS)
_INSERT = f"INSERT INTO events ({_STORED}) VALUES ({', '.join('?' * len(EVENT_FIELDS))})"  # noqa: S608 - fixed names


class HistoryRecorder:
    """Writes the history. Safe to use from several threads (one connection each)."""

    def __init__(
        self,
        path: Path | None = None,
        *,
        retention_days: int,
        max_rows: int,
        max_bytes: int,
        busy_timeout: float = 1.0,
        open_now: bool = True,
    ) -> None:
        """``open_now=False``: create or upgrade the file at the first write instead (another
        program holds it now); rows recorded until then are kept, as for a failed write."""
        self.path = Path(path) if path is not None else paths.history_db()
        self.retention_days = retention_days
        self.max_rows = max_rows
        self.max_bytes = max_bytes
        # How long one write waits for another writer (another portwatch) before
        # its batch is kept for later: short, the app's scans must not stall.
        self.busy_timeout = busy_timeout
        self._connections = Connections(self._open)
        self._write_lock = threading.RLock()
        self._pending: list[Row] = []
        self._deferring = False
        self._dropped_said = False
        self._inserts = 0
        self._opened = False
        if open_now:
            self._open_database()

    @classmethod
    def from_settings(
        cls, settings: Settings, path: Path | None = None, *, open_now: bool = True
    ) -> HistoryRecorder:
        return cls(
            path,
            retention_days=settings.history_retention_days,
            max_rows=settings.history_max_rows,
            max_bytes=settings.history_max_mb * 1024 * 1024,
            open_now=open_now,
        )

    def _open_database(self) -> None:
        self._upgrade()
        self.prune()
        self._opened = True

    def apply_settings(self, settings: Settings) -> None:
        """New limits from the settings; the next writes apply them."""
        self.retention_days = settings.history_retention_days
        self.max_rows = settings.history_max_rows
        self.max_bytes = settings.history_max_mb * 1024 * 1024

    # --- the file ---

    def _prepare_files(self) -> None:
        """A private folder, and a 0600 file before SQLite makes its -wal and -shm (same mode)."""
        folder = self.path.parent
        if not folder.exists() or path_is_default(self.path):
            files.private_dir(folder)
        if not self.path.exists():
            fd = os.open(self.path, os.O_WRONLY | os.O_CREAT, files.FILE_MODE)
            os.close(fd)
        for name in ("", "-wal", "-shm"):
            files.tighten(self.path.with_name(self.path.name + name))

    def _open(self) -> sqlite3.Connection:
        try:
            self._prepare_files()
            conn = sqlite3.connect(self.path, timeout=self.busy_timeout)
        except (sqlite3.Error, OSError) as exc:
            raise HistoryError(problem(self.path, "open", exc)) from exc
        try:
            # Before the first table: files made from now on give freed pages back.
            conn.execute("PRAGMA auto_vacuum = INCREMENTAL")
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")
            conn.execute(f"PRAGMA busy_timeout={int(self.busy_timeout * 1000)}")
            # The WAL stays small beside a small cap (4 MB with the defaults).
            pages = max(64, min(1000, self.max_bytes // 4096 // 16))
            conn.execute(f"PRAGMA wal_autocheckpoint={pages}")
            conn.execute(f"PRAGMA journal_size_limit={pages * 4096}")
        except sqlite3.Error as exc:
            conn.close()
            raise HistoryError(problem(self.path, "open", exc)) from exc
        return conn

    def _conn(self) -> sqlite3.Connection:
        return self._connections.get("the history database is closed")

    @contextlib.contextmanager
    def _write(self, doing: str) -> Iterator[sqlite3.Connection]:
        """One write transaction, taken before anything is read, so writers never interleave."""
        conn = self._conn()
        try:
            conn.execute("BEGIN IMMEDIATE")
        except sqlite3.Error as exc:
            raise HistoryError(problem(self.path, doing, exc)) from exc
        try:
            yield conn
            conn.commit()
        except BaseException as exc:
            with contextlib.suppress(sqlite3.Error):
                conn.rollback()
            if isinstance(exc, sqlite3.Error):
                raise HistoryError(problem(self.path, doing, exc)) from exc
            raise

    def close(self) -> None:
        """Close every thread's connection (call when the app quits)."""
        self._connections.close()

    def __enter__(self) -> HistoryRecorder:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def journal_mode(self) -> str:
        try:
            return str(self._conn().execute("PRAGMA journal_mode").fetchone()[0])
        except sqlite3.Error as exc:
            raise HistoryError(problem(self.path, "read", exc)) from exc

    @property
    def pending(self) -> int:
        """Rows kept in memory because the last write failed."""
        return len(self._pending)

    # --- schema ---

    def _upgrade(self) -> None:
        """Create the tables, or bring an older database up to this schema."""
        with self._write("open") as conn:
            version = version_of(conn)
            if version > SCHEMA_VERSION:
                raise HistoryError(
                    f"the history database {self.path} was written by a newer portwatch "
                    f"(schema {version}, this one knows {SCHEMA_VERSION}): update portwatch"
                )
            if version < SCHEMA_VERSION and upgrade(conn, version):
                # New, or from before the holdings table: build it from the events,
                # paired in time order as holdings() used to pair them.
                conn.execute("DELETE FROM holdings")
                conn.execute("DELETE FROM meta WHERE key IN (?, ?)", (THROUGH, LAST_START))
                catch_up(conn, in_time_order=True)
            else:
                # Events appended by an older portwatch that knew no holdings table.
                catch_up(conn)
        if 0 < version < 3:
            self._compact()

    def _compact(self) -> None:
        """Rewrite a file from before schema 3: it gives freed pages back from now on (schema 3
        files were made so), its unmasked command lines are gone."""
        conn = self._conn()
        try:
            conn.execute("PRAGMA auto_vacuum = INCREMENTAL")
            conn.execute("VACUUM")
            conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchall()
        except sqlite3.Error as exc:
            # Not needed for anything to work: freed pages are then reused instead.
            log.warning("%s", problem(self.path, "compact", exc))

    # --- writing ---

    @contextlib.contextmanager
    def deferred(self) -> Iterator[None]:
        """Rows recorded inside are kept, then written as one batch by :meth:`flush`.

        The app's writer thread records every queued scan this way: while
        another program holds the database, one wait per batch, not per scan.
        """
        with self._write_lock:
            self._deferring = True
            try:
                yield
            finally:
                self._deferring = False

    def flush(self) -> None:
        """Write what is kept (raises :class:`HistoryError` and keeps it when it cannot)."""
        self._insert(())

    def _insert(self, rows: Sequence[Row]) -> None:
        with self._write_lock:
            if self._deferring:
                self._keep([*self._pending, *rows])
                return
            batch = [*self._pending, *rows]
            if not batch:
                return
            try:
                if not self._opened:
                    self._open_database()
                with self._write("write to") as conn:
                    self._store(conn, batch)
            except HistoryError:
                self._keep(batch)
                raise
            self._pending = []
            self._dropped_said = False
            self._inserts += len(batch)
            self._after_write()

    @staticmethod
    def _store(conn: sqlite3.Connection, batch: Sequence[Row]) -> None:
        stored = []
        for row in batch:
            values = list(row)
            values[_CMDLINE_AT] = intern_command(conn, row[_CMDLINE_AT])
            stored.append(values)
        conn.executemany(_INSERT, stored)
        catch_up(conn)

    def _keep(self, batch: list[Row]) -> None:
        """Hold on to what could not be written, the newest :data:`MAX_PENDING` rows."""
        if len(batch) > MAX_PENDING:
            if not self._dropped_said:
                log.warning(
                    "the history could not be written for a while: its oldest unwritten "
                    "events are dropped, the newest %d kept",
                    MAX_PENDING,
                )
                self._dropped_said = True
            batch = batch[-MAX_PENDING:]
        self._pending = batch

    def _after_write(self) -> None:
        """Retention after a write: rows and age every PRUNE_EVERY inserts, bytes every time."""
        try:
            if self._inserts >= PRUNE_EVERY:
                self._inserts = 0
                self.prune()
            elif self.max_bytes > 0 and retention.size_bytes(self._conn()) > self.max_bytes:
                with self._write("trim") as conn:
                    removed = retention.enforce_size(conn, self.max_bytes)
                log.debug("history size cap removed %d rows", removed)
        except (HistoryError, sqlite3.Error) as exc:
            # What was written stays written; retention tries again after the next write.
            log.warning("history retention: %s", exc)

    def record_start(self, snapshot: Snapshot) -> None:
        """Watching starts: a ``started`` row, then every listener already there."""
        at = snapshot.taken_at
        started: list[Any] = [None] * len(EVENT_FIELDS)
        started[0], started[1], started[_DETAIL_AT] = at, STARTED, text(snapshot.backend or None)
        rows: list[Row] = [tuple(started)]
        rows.extend(row_for(PRESENT, listener, at) for listener in snapshot.listeners)
        self._insert(rows)

    def record_events(self, events: Iterable[Event]) -> None:
        """One poll's events (an empty one writes what an earlier failure kept)."""
        self._insert([row_for(str(e.kind), e.listener, e.at, e.previous) for e in events])

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
            {
                "alert": kind,
                "title": from_os(mask_text(from_os(title))),
                "body": from_os(mask_text(from_os(body))),
                "delivery": delivery,
            },
            ensure_ascii=False,
        )
        row: list[Any] = [None] * len(EVENT_FIELDS)
        row[0], row[1], row[2], row[5], row[6], row[7], row[_DETAIL_AT] = (
            at,
            ALERT,
            proto,
            port,
            pid,
            text(process),
            detail,
        )
        self._insert([tuple(row)])

    def prune(self, now: float | None = None) -> int:
        """Apply retention: age, then rows, then bytes. Returns the events removed."""
        now = time.time() if now is None else now
        cutoff = now - self.retention_days * 86400
        with self._write_lock, self._write("prune") as conn:
            removed = retention.prune(conn, cutoff=cutoff, max_rows=self.max_rows)
            if self.max_bytes > 0:
                removed += retention.enforce_size(conn, self.max_bytes)
        if removed:
            log.debug("history retention removed %d rows", removed)
        return removed
