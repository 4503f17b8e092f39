"""Which listener actions apply to given rows, and the text each Copy entry puts out."""

from __future__ import annotations

from collections.abc import Sequence

from portwatch.core.copytext import (
    command_lines_text,
    endpoints_text,
    kill_command,
    pids_text,
    rows_text,
)
from portwatch.core.model import Listener, OwnerUnknown

# The entries of the Copy submenu: (key, label, what the status bar calls it).
COPY_KINDS = (
    ("endpoint", "address:port", "address:port"),
    ("pid", "PID", "PID"),
    ("command", "Command line", "command line"),
    ("row", "Row as text", "rows"),
    ("kill", "Command to free the port", "command to free the port"),
)


def copy_text(kind: str, listeners: Sequence[Listener]) -> str:
    if kind == "endpoint":
        return endpoints_text(listeners)
    if kind == "pid":
        return pids_text(listeners)
    if kind == "command":
        return command_lines_text(listeners)
    if kind == "row":
        return rows_text(listeners, header=len(listeners) > 1)
    if kind == "kill":
        return kill_command(listeners) or ""
    raise ValueError(f"unknown copy kind {kind!r}")


def enabled_for(listeners: Sequence[Listener]) -> dict[str, bool]:
    """Which actions make sense for these rows (keys: free, reveal, copy kinds).

    "Open in browser" depends on what each socket serves: ``ui.web_check``.
    """
    has_pid = any(r.pid is not None for r in listeners)
    hidden = any(r.owner_unknown is OwnerUnknown.NEEDS_PRIVILEGES for r in listeners)
    return {
        # Rows with hidden owners keep Free enabled: the dialog says how to use sudo.
        "free": has_pid or hidden,
        "reveal": any(r.exe for r in listeners),
        "copy": bool(listeners),
        "endpoint": bool(listeners),
        "pid": has_pid,
        "command": any(r.cmdline for r in listeners),
        "row": bool(listeners),
        "kill": has_pid,
    }
