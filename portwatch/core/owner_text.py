"""Who holds a socket, in words: the one wording for tables, alerts and messages.

"nginx (PID 1234)" when the process is known; "unknown process (PID 1234)"
when only its number could be read; "owner unknown" (with the reason, when
there is one) when the system would not say who holds it.

The functions take the process text as the caller has it; a caller that
shows it escapes it (``safetext.visible``) or masks it as its output needs.
"""

from __future__ import annotations

OWNER_UNKNOWN = "owner unknown"
UNKNOWN_PROCESS = "unknown process"


def owner_name(process: str | None, pid: int | None, reason: str | None = None) -> str:
    """The holder alone, for a Process column beside a PID column.

    'nginx', 'PID 1234' (a number but no name), 'owner unknown: needs privileges'.
    """
    if pid is None:
        return f"{OWNER_UNKNOWN}: {reason}" if reason else OWNER_UNKNOWN
    return process or f"PID {pid}"


def owner_text(process: str | None, pid: int | None, reason: str | None = None) -> str:
    """The holder with its number: 'nginx (PID 1234)', 'owner unknown: needs privileges'."""
    if pid is None:
        return owner_name(None, None, reason)
    return f"{process or UNKNOWN_PROCESS} (PID {pid})"
