"""History rows from listeners: valid text only, command lines masked; and what an error means."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

from portwatch.core import paths
from portwatch.core.history.values import HistoryError
from portwatch.core.model import Listener
from portwatch.core.safetext import from_os, mask_argv

Row = tuple[Any, ...]  # EVENT_FIELDS' values, the command line as text


def text(value: str | None) -> str | None:
    return None if value is None else from_os(value)


def command(listener: Listener) -> str | None:
    if listener.cmdline is None:
        return None
    return from_os(" ".join(mask_argv([from_os(arg) for arg in listener.cmdline])))


def row_for(kind: str, listener: Listener, at: float, previous: Listener | None = None) -> Row:
    return (
        at,
        kind,
        listener.proto,
        listener.family,
        text(listener.address),
        listener.port,
        listener.pid,
        text(listener.process),
        text(listener.exe),
        command(listener),
        text(listener.user),
        str(listener.exposure),
        previous.pid if previous else None,
        text(previous.process) if previous else None,
        text(previous.address) if previous else None,
        str(previous.exposure) if previous else None,
        None,
        listener.started,
    )


def held_by_another(exc: HistoryError) -> bool:
    """Whether ``exc`` only means another program holds the database's lock now."""
    cause = exc.__cause__
    return isinstance(cause, sqlite3.Error) and getattr(cause, "sqlite_errorname", "") in (
        "SQLITE_BUSY",
        "SQLITE_LOCKED",
    )


def path_is_default(path: Path) -> bool:
    """Whether ``path`` is in portwatch's own data folder (whose mode portwatch sets)."""
    try:
        return path.parent.resolve() == paths.data_dir().resolve()
    except OSError:
        return False
