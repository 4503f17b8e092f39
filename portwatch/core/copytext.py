"""Texts a person copies from a listener: endpoints, PIDs, command lines, rows, a kill command."""

from __future__ import annotations

import shlex
import subprocess
from collections.abc import Iterable, Sequence

from portwatch.core.formats import TABLE_HEADERS, table_cells
from portwatch.core.model import Listener
from portwatch.core.users import IS_WINDOWS, my_identity


def command_line_text(cmdline: Sequence[str], *, windows: bool = IS_WINDOWS) -> str:
    """A command line quoted for the platform's shell, so it can be pasted and run."""
    args = list(cmdline)
    return subprocess.list2cmdline(args) if windows else shlex.join(args)


def endpoints_text(listeners: Sequence[Listener]) -> str:
    return "\n".join(row.endpoint for row in listeners)


def pids_text(listeners: Sequence[Listener]) -> str:
    return "\n".join(_unique(str(row.pid) for row in listeners if row.pid is not None))


def command_lines_text(listeners: Sequence[Listener], *, windows: bool = IS_WINDOWS) -> str:
    lines = (
        command_line_text(row.cmdline, windows=windows)
        for row in _unique_by_pid(listeners)
        if row.cmdline
    )
    return "\n".join(lines)


def rows_text(listeners: Sequence[Listener], *, header: bool = True) -> str:
    """Tab-separated rows (the columns of `portwatch list`), pasteable into a spreadsheet."""

    lines = ["\t".join(TABLE_HEADERS)] if header else []
    lines += ["\t".join(table_cells(row)) for row in listeners]
    return "\n".join(lines)


def kill_command(
    listeners: Sequence[Listener], *, windows: bool = IS_WINDOWS, my_user: str | None = None
) -> str | None:
    """A shell command that frees the port by ending the owning processes.

    On POSIX it is a graceful ``kill PID`` (SIGTERM, so servers close cleanly),
    with ``sudo`` when the process belongs to someone else. On Windows
    ``taskkill`` without ``/F`` only asks windowed programs to close; console
    servers ignore it, so the command is the forced ``taskkill /F``.
    """
    rows = [row for row in _unique_by_pid(listeners) if row.pid is not None]
    if not rows:
        return None
    pids = [str(row.pid) for row in rows]
    if windows:
        return "taskkill /F " + " ".join(f"/PID {pid}" for pid in pids)
    me = my_user if my_user is not None else my_identity()[1]
    sudo = any(row.user != me for row in rows)
    return ("sudo " if sudo else "") + "kill " + " ".join(pids)


def _unique(items: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(items))


def _unique_by_pid(listeners: Sequence[Listener]) -> list[Listener]:
    """The first row of each owning process; rows without an owner are dropped."""
    seen: dict[int, Listener] = {}
    for row in listeners:
        if row.pid is not None:
            seen.setdefault(row.pid, row)
    return list(seen.values())
