"""Which listeners the settings speak about: watched ports, the ignore list, exposure."""

from __future__ import annotations

import os
from collections.abc import Iterable

from portwatch.core.model import Listener
from portwatch.core.portspec import matches_any
from portwatch.core.settings import Settings, WatchedPort


def owner_matches(listener: Listener, expected: str) -> bool | None:
    """Whether the listener's process is ``expected`` (name or executable path).

    None when the owner is not visible (no privileges): that is not evidence
    of a stranger, so it does not alert.
    """
    if listener.pid is None:
        return None
    wanted = expected.strip()
    if not wanted:
        return True
    names = {n.lower() for n in (listener.process, _basename(listener.exe)) if n}
    if wanted.lower() in names:
        return True
    return bool(listener.exe) and os.path.normpath(wanted) == os.path.normpath(listener.exe or "")


def _basename(path: str | None) -> str | None:
    if not path:
        return None
    return path.replace("\\", "/").rsplit("/", 1)[-1]


def is_ignored(listener: Listener, settings: Settings) -> bool:
    """The ignore list: by process name (or executable name) or by port."""
    if matches_any(settings.ignore_ports, listener.port, listener.proto):
        return True
    ignored = {name.lower() for name in settings.ignore_processes}
    names = {n.lower() for n in (listener.process, _basename(listener.exe)) if n}
    return bool(ignored & names)


def watch_for(settings: Settings, port: int, proto: str) -> WatchedPort | None:
    for watch in settings.watched_ports:
        if watch.ports.contains(port, proto):
            return watch
    return None


def alerts_for_exposure(listener: Listener, settings: Settings) -> bool:
    """Whether the global exposure alert speaks about ``listener``."""
    return (
        settings.exposure_alert
        and listener.exposure.rank >= settings.exposure_level.rank
        and not is_ignored(listener, settings)
    )


def widest(rows: Iterable[Listener]) -> Listener:
    """The one listener of several (0.0.0.0 and :: of one server) an alert names."""
    return max(rows, key=lambda r: (r.exposure.rank, r.family == 4))
