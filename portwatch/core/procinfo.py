"""Process details (name, exe, command line, user, start time), cached per process.

A PID can be reused by a new process, so entries are keyed by (pid, start
time): a reused PID gets a fresh lookup instead of the old process's name.
"""

from __future__ import annotations

import logging
import os
import sys
from pathlib import Path

import psutil

from portwatch.core.model import ProcessInfo
from portwatch.core.safetext import from_os

log = logging.getLogger(__name__)

_LINUX = sys.platform.startswith("linux")


def read_start_ticks(pid: int, proc_root: str = "/proc") -> int | None:
    """A process's start time in clock ticks since boot (/proc/PID/stat field 22).

    One small read: ``psutil.Process(pid)`` reads the same file and /proc/stat
    (for the boot time) on every call. None if the process is gone.
    """
    try:
        with open(f"{proc_root}/{pid}/stat", "rb") as f:  # noqa: PTH123 - once per pid per poll
            data = f.read()
        # The name (field 2) may hold spaces and parentheses: split after the last ")".
        return int(data[data.rindex(b")") + 2 :].split(None, 20)[19])
    except (OSError, ValueError, IndexError):
        return None


class ProcessCache:
    def __init__(self) -> None:
        self._by_pid: dict[int, ProcessInfo] = {}
        # pid -> start ticks of the cached entry (Linux): a reused pid differs.
        self._ticks: dict[int, int] = {}
        self._boot_time: float | None = None
        self._clock_ticks = 100
        if sys.platform.startswith("linux"):  # an if, not _LINUX: mypy's platform checks see it
            self._clock_ticks = os.sysconf("SC_CLK_TCK")

    def get(self, pid: int) -> ProcessInfo | None:
        """Details for a live process; None if it has exited."""
        if _LINUX:
            return self._get_linux(pid)
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

    def _get_linux(self, pid: int) -> ProcessInfo | None:
        ticks = read_start_ticks(pid)
        if ticks is None:
            self._by_pid.pop(pid, None)
            self._ticks.pop(pid, None)
            return ProcessInfo(pid=pid) if Path(f"/proc/{pid}").exists() else None
        cached = self._by_pid.get(pid)
        if cached is not None and self._ticks.get(pid) == ticks and not cached.zombie:
            return cached
        if self._boot_time is None:
            try:
                self._boot_time = psutil.boot_time()
            except (psutil.Error, OSError):
                self._boot_time = 0.0
        started = ticks / self._clock_ticks + self._boot_time
        try:
            info = read_process(psutil.Process(pid), started)
        except psutil.NoSuchProcess:
            info = None
        except (psutil.AccessDenied, OSError):
            info = ProcessInfo(pid=pid, started=started)
        if info is None:
            self._by_pid.pop(pid, None)
            self._ticks.pop(pid, None)
            return None
        self._by_pid[pid] = info
        self._ticks[pid] = ticks
        return info

    def prune(self, live_pids: set[int]) -> None:
        """Forget processes no longer seen, so the cache cannot grow forever."""
        for pid in [p for p in self._by_pid if p not in live_pids]:
            del self._by_pid[pid]
            self._ticks.pop(pid, None)

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
                ("ppid", proc.ppid),
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
    # The boundary: text from the OS becomes valid text here, on every platform,
    # so no later layer (output, history, widgets) ever sees a lone surrogate.
    return ProcessInfo(
        pid=pid,
        name=_text(name),
        exe=_text(fields.get("exe")),
        cmdline=(
            tuple(from_os(str(a)) for a in cmdline)
            if isinstance(cmdline, list) and cmdline
            else None
        ),
        user=_text(fields.get("user")),
        started=started,
        cwd=_text(fields.get("cwd")),
        zombie=bool(fields.get("zombie")),
        ppid=ppid if isinstance(ppid := fields.get("ppid"), int) else None,
    )


def _text(value: object) -> str | None:
    """A field read from the OS as valid text (undecodable bytes shown as ``\\xNN``)."""
    return from_os(str(value)) if value else None


def read_cwd(pid: int) -> str | None:
    """One process's working directory as valid text ("" if none); None if not readable.

    Raises ``psutil.NoSuchProcess`` when the process has exited (or is a zombie).
    """
    try:
        return from_os(psutil.Process(pid).cwd())
    except (psutil.AccessDenied, OSError):
        return None
