"""SQLite connections for the history: one per thread, and what their errors mean for a person.

SQLite connections must stay in the thread that made them, so a
:class:`Connections` keeps one per thread (``threading.local``) and closes
them all at once. :func:`problem` turns an SQLite or OS error into one line:
what failed, on which file, SQLite's words and what to do about it.
"""

from __future__ import annotations

import contextlib
import sqlite3
import threading
from collections.abc import Callable
from pathlib import Path

from portwatch.core.history.values import HistoryError
from portwatch.core.safetext import visible

_HINTS = (
    (
        ("SQLITE_BUSY", "SQLITE_LOCKED"),
        "another program is holding it: close that program, then try again",
    ),
    (
        ("SQLITE_CORRUPT", "SQLITE_NOTADB"),
        "the file is damaged: move it away and portwatch starts a new one",
    ),
    (("SQLITE_FULL",), "the disk is full: free some space"),
    (
        ("SQLITE_READONLY", "SQLITE_CANTOPEN", "SQLITE_PERM", "SQLITE_AUTH"),
        "portwatch may not write there: check the file's and the folder's owner and permissions",
    ),
)


def problem(path: Path, doing: str, exc: BaseException) -> str:
    """What went wrong, for a person: the action, the file, SQLite's words, a hint."""
    words = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
    message = f"cannot {doing} the history database {visible(str(path))}: {visible(words)}"
    code = getattr(exc, "sqlite_errorname", "")
    for prefixes, hint in _HINTS:
        if code.startswith(prefixes):
            return f"{message} ({hint})"
    return message


class Connections:
    """One connection per thread, made by ``opener`` when a thread first asks."""

    def __init__(self, opener: Callable[[], sqlite3.Connection]) -> None:
        self._opener = opener
        self._local = threading.local()
        self._lock = threading.Lock()
        self._all: list[sqlite3.Connection] = []
        self._closed = False

    def get(self, closed_message: str) -> sqlite3.Connection:
        if self._closed:
            raise HistoryError(closed_message)
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is not None:
            return conn
        conn = self._opener()
        self._local.conn = conn
        with self._lock:
            self._all.append(conn)
        return conn

    def close(self) -> None:
        with self._lock:
            connections, self._all = self._all, []
            self._closed = True
        for conn in connections:
            with contextlib.suppress(sqlite3.Error):
                conn.close()
