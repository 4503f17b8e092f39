"""Process details (name, exe, command line, user, start time), cached per process.

A PID can be reused by a new process, so entries are keyed by (pid, start
time): a reused PID gets a fresh lookup instead of the old process's name.
"""

from __future__ import annotations

import logging

import psutil

from portwatch.core.model import ProcessInfo

log = logging.getLogger(__name__)


class ProcessCache:
    def __init__(self) -> None:
        self._by_pid: dict[int, ProcessInfo] = {}

    def get(self, pid: int) -> ProcessInfo | None:
        """Details for a live process; None if it has exited."""
        try:
            proc = psutil.Process(pid)
            started = proc.create_time()
        except psutil.NoSuchProcess:
            self._by_pid.pop(pid, None)
            return None
        except (psutil.AccessDenied, OSError):
            # We cannot even read its start time: report what psutil knows.
            return ProcessInfo(pid=pid)
        cached = self._by_pid.get(pid)
        if cached is not None and cached.started == started and not cached.zombie:
            return cached
        info = read_process(proc, started)
        if info is not None:
            self._by_pid[pid] = info
        return info

    def prune(self, live_pids: set[int]) -> None:
        """Forget processes no longer seen, so the cache cannot grow forever."""
        for pid in [p for p in self._by_pid if p not in live_pids]:
            del self._by_pid[pid]

    def __len__(self) -> int:
        return len(self._by_pid)


def read_process(proc: psutil.Process, started: float | None = None) -> ProcessInfo | None:
    """Read one process's details field by field: a refusal of one field keeps the others."""
    pid = proc.pid
    fields: dict[str, object] = {}
    try:
        with proc.oneshot():
            for attr, getter in (
                ("name", proc.name),
                ("exe", proc.exe),
                ("cmdline", proc.cmdline),
                ("user", proc.username),
                ("cwd", proc.cwd),
            ):
                try:
                    fields[attr] = getter()
                except psutil.ZombieProcess:
                    fields["zombie"] = True
                except (psutil.AccessDenied, OSError):
                    fields[attr] = None
    except psutil.NoSuchProcess:
        return None
    if started is None:
        try:
            started = proc.create_time()
        except psutil.Error:
            started = None
    cmdline = fields.get("cmdline")
    name = fields.get("name")
    if fields.get("zombie") and not name:
        try:
            name = proc.name()
        except psutil.Error:
            name = None
    return ProcessInfo(
        pid=pid,
        name=str(name) if name else None,
        exe=str(fields["exe"]) if fields.get("exe") else None,
        cmdline=tuple(str(a) for a in cmdline) if isinstance(cmdline, list) and cmdline else None,
        user=str(fields["user"]) if fields.get("user") else None,
        started=started,
        cwd=str(fields["cwd"]) if fields.get("cwd") else None,
        zombie=bool(fields.get("zombie")),
    )
