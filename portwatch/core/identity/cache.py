"""A process's identity (app, project, unit, container, folder), worked out once per process.

Keyed by (pid, start time), so a reused pid is looked at afresh; bounded
(least recently used entries go first) and pruned of pids that are gone, so
a poll costs a dictionary look-up per process once each has been seen.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass, replace
from enum import Enum

import psutil

from portwatch.core.identity.apps import app_name
from portwatch.core.identity.commands import program_name
from portwatch.core.identity.containers import (
    PROXIES,
    EngineClient,
    find_container,
    proxy_target,
)
from portwatch.core.identity.projects import ProjectFinder
from portwatch.core.identity.units import read_unit
from portwatch.core.owner_text import owner_name
from portwatch.core.procinfo import read_cwd

MAX_ENTRIES = 4096
# A published port's proxy may start before its container is listed as running.
CONTAINER_TRIES = 3


@dataclass(frozen=True, slots=True)
class Identity:
    """What a person calls the process that holds a port; None where it is not known."""

    app: str  # never empty
    project: str | None
    unit: str | None
    container: str | None
    cwd: str | None

    def to_json(self) -> dict[str, str | None]:
        return {
            "app": self.app,
            "project": self.project,
            "unit": self.unit,
            "container": self.container,
            "cwd": self.cwd,
        }


class _Unread(Enum):
    UNREAD = "unread"


UNREAD = _Unread.UNREAD  # the caller has not read the working folder: read it here


@dataclass(slots=True)
class _Entry:
    start_time: float | None
    identity: Identity
    # Set while a proxy's container is not listed yet: ask the engine again then.
    retry_at: float | None = None
    tries: int = 0


class IdentityCache:
    """Identities of processes, each worked out once while the process lives.

    For one thread (the scanner's): it holds no lock.
    """

    def __init__(
        self,
        *,
        max_entries: int = MAX_ENTRIES,
        proc_root: str = "/proc",
        projects: ProjectFinder | None = None,
        engine: EngineClient | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._max = max_entries
        self._proc_root = proc_root
        self.projects = projects if projects is not None else ProjectFinder()
        self.engine = engine if engine is not None else EngineClient()
        self._clock = clock
        self._entries: OrderedDict[int, _Entry] = OrderedDict()

    def identity(
        self,
        pid: int,
        start_time: float | None,
        name: str | None,
        cmdline: Sequence[str] | None,
        *,
        cwd: str | _Unread | None = UNREAD,
        host_port: int | None = None,
    ) -> Identity:
        """The identity of one live process (``host_port``: a port it holds, for rootlessport)."""
        entry = self._entries.get(pid)
        if entry is not None and entry.start_time == start_time:
            self._entries.move_to_end(pid)
            if entry.retry_at is None or self._clock() < entry.retry_at:
                return entry.identity
            self._resolve_container(entry, name, cmdline, host_port)
            return entry.identity
        folder = self._read_cwd(pid) if cwd is UNREAD else cwd
        app = app_name(name, cmdline, folder) or owner_name(None, pid)
        found = Identity(
            app=app,
            project=self.projects.project(folder),
            unit=read_unit(pid, self._proc_root),
            container=None,
            cwd=folder,
        )
        entry = _Entry(start_time, found)
        self._resolve_container(entry, name, cmdline, host_port)
        if not any(cmdline or ()):
            # No arguments yet: a process caught between exec and setting up its
            # arguments, or one we may not read. Ask again next time, not for its life.
            return entry.identity
        self._entries[pid] = entry
        self._entries.move_to_end(pid)
        while len(self._entries) > self._max:
            self._entries.popitem(last=False)
        return entry.identity

    def _resolve_container(
        self,
        entry: _Entry,
        name: str | None,
        cmdline: Sequence[str] | None,
        host_port: int | None,
    ) -> None:
        """Name the container a docker-proxy or rootlessport forwards to, if it is one."""
        argv = cmdline or ()
        programs = (program_name(argv[0]) if argv else "", name or "")
        program = next((p for p in programs if p in PROXIES), None)
        target = proxy_target(program, argv) if program is not None else None
        if program is None or target is None:
            return
        container = find_container(target, self.engine.containers(), host_port)
        entry.tries += 1
        if container is None:
            shown = target.describe()
            retry = entry.tries < CONTAINER_TRIES
            entry.retry_at = self._clock() + self.engine.min_interval if retry else None
            entry.identity = replace(entry.identity, app=program, container=shown)
            return
        entry.retry_at = None
        entry.identity = replace(
            entry.identity,
            app=container.compose_service or container.name,
            project=container.compose_project or entry.identity.project,
            container=container.name,
        )

    def _read_cwd(self, pid: int) -> str | None:
        try:
            return read_cwd(pid) or None
        except psutil.Error:
            return None

    def prune(self, live_pids: Collection[int]) -> None:
        """Forget processes no longer seen, so the cache holds only live ones."""
        for pid in [p for p in self._entries if p not in live_pids]:
            del self._entries[pid]

    def __len__(self) -> int:
        return len(self._entries)
