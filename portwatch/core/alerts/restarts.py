"""Telling a restart from news: the same program taking a port it just left.

A worker respawned, ``nginx -s reload``, a dev server restarted by its file
watcher: the port is held again by the same program (the same executable in
the same project, unit or container), reaching no further than before. That
is no exposure alert; on a watched port it is one "restarted" notice.
"""

from __future__ import annotations

from dataclasses import dataclass

from portwatch.core.model import Listener

# How long a freed port is remembered for a restart: a restart that takes
# longer is a new start, and alerts as one.
RESTART_WINDOW = 60.0

Program = tuple[str, str | None]


def program_of(row: Listener) -> Program | None:
    """What makes two holders the same program: the executable (or process name) and the
    project, unit or container it runs in; None when the owner is not known."""
    if row.pid is None:
        return None
    binary = row.exe or row.process
    if not binary:
        return None
    return (binary, row.project or row.unit or row.container)


def is_restart(before: Listener, after: Listener) -> bool:
    """``after`` is ``before``'s program again, reaching no further than it did."""
    program = program_of(before)
    return (
        program is not None
        and program == program_of(after)
        and after.exposure.rank <= before.exposure.rank
    )


@dataclass(frozen=True, slots=True)
class Left:
    """A port a program stopped holding, remembered for a while."""

    listener: Listener  # the widest bind it had
    at: float  # the rules' clock when it was freed


class RecentlyFreed:
    """The ports freed in the last :data:`RESTART_WINDOW` seconds, by (proto, port)."""

    def __init__(self, window: float = RESTART_WINDOW) -> None:
        self.window = window
        self._left: dict[tuple[str, int], Left] = {}

    def clear(self) -> None:
        self._left.clear()

    def freed(self, row: Listener, now: float) -> None:
        self._left[(row.proto, row.port)] = Left(row, now)

    def restart_of(self, row: Listener, now: float) -> Listener | None:
        """The listener ``row`` restarts (and forget it), or None if ``row`` is news."""
        self._forget_before(now - self.window)
        left = self._left.get((row.proto, row.port))
        if left is None or not is_restart(left.listener, row):
            return None
        del self._left[(row.proto, row.port)]
        return left.listener

    def _forget_before(self, horizon: float) -> None:
        for key in [key for key, left in self._left.items() if left.at < horizon]:
            del self._left[key]
