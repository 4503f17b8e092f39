"""Safety rules for ending processes: who may never be ended, who needs a second "yes".

Inputs are plain values where they can be, so each platform's rule can be
tested on any machine.
"""

from __future__ import annotations

import logging
import os
import sys

import psutil

from portwatch.core.users import IS_WINDOWS

log = logging.getLogger(__name__)


def protected_pids() -> dict[int, str]:
    """PIDs that portwatch never ends, each with the reason shown to the user."""
    protected = {
        0: "PID 0 is the operating system's scheduler",
        1: "PID 1 is the system's init process",
    }
    if IS_WINDOWS:
        protected[4] = "PID 4 is the Windows kernel (System)"
    # Ancestors first, so the more specific labels below win for our own
    # process and the shell that started us.
    try:
        for ancestor in psutil.Process().parents():
            protected.setdefault(
                ancestor.pid, f"PID {ancestor.pid} started portwatch (an ancestor of it)"
            )
    except psutil.Error as exc:
        log.debug("cannot read portwatch's ancestors: %s", exc)
    protected[os.getppid()] = f"PID {os.getppid()} is the shell or program that started portwatch"
    protected[os.getpid()] = f"PID {os.getpid()} is portwatch itself"
    return protected


def refusal_reason(pid: int, protected: dict[int, str] | None = None) -> str | None:
    """Why ``pid`` must not be ended, or None when it may be."""
    table = protected if protected is not None else protected_pids()
    return table.get(pid)


_WINDOWS_SERVICE_ACCOUNTS = frozenset({"SYSTEM", "LOCAL SERVICE", "NETWORK SERVICE"})
# Linux distributions hand out human accounts from 1000 up; below are
# system accounts (daemons). macOS uses 501 up, with daemons below 500.
_FIRST_HUMAN_UID = {"linux": 1000, "darwin": 500}


def second_confirmation_reason(
    *,
    uid: int | None,
    user: str | None,
    my_uid: int | None,
    my_user: str | None,
    platform: str = sys.platform,
    service: str | None = None,
) -> str | None:
    """Why ending this owner deserves a second "are you sure", or None.

    Processes of other users and system services (root and daemon accounts
    on Linux/macOS; SYSTEM, LOCAL SERVICE, NETWORK SERVICE on Windows) do.
    ``service`` names the service the process is (its systemd unit, or
    "a background service" for a daemon started by PID 1), None when it is
    not one: run as root, a server started from root's terminal is root's
    own program, not a system service. Inputs are passed in so each
    platform's rule can be tested anywhere.
    """
    label = user or (f"uid {uid}" if uid is not None else "an unknown user")
    if platform == "win32":
        if user is None:
            return "its owner cannot be read"
        account = user.rsplit("\\", 1)[-1].upper()
        if account in _WINDOWS_SERVICE_ACCOUNTS:
            return f"it is a system service (runs as {user})"
        mine = (my_user or "").rsplit("\\", 1)[-1].upper()
        if account != mine:
            return f"it belongs to another user ({user})"
        return None
    if uid is None:
        return "its owner cannot be read"
    first_human = _FIRST_HUMAN_UID.get("darwin" if platform == "darwin" else "linux", 1000)
    # A unit of a person's own (systemctl --user) runs as that person: theirs to end.
    if service is not None and uid < first_human:
        return f"it is a system service ({service}, runs as {label})"
    if uid == my_uid:
        return None
    if uid == 0:
        return "it runs as root"
    if uid < first_human:
        return f"it runs as {label}, a system account"
    return f"it belongs to another user ({label})"


def service_of(pid: int, unit: str | None) -> str | None:
    """The service a process is: its systemd unit, or "a background service" for a
    daemon (no terminal, started by PID 1); None for a program a person started."""
    if unit is not None:
        return unit
    if sys.platform == "win32":  # services there are told by their account (above)
        return None
    try:
        process = psutil.Process(pid)
        if process.terminal() is None and process.ppid() == 1:
            return "a background service"
    except (psutil.Error, OSError):
        return None
    return None


def privilege_hint(port: int | None) -> str:
    """How to do the same with privileges, in words for this platform."""
    command = f"portwatch free {port}" if port is not None else "portwatch free PORT"
    if IS_WINDOWS:
        return (
            "Run portwatch as administrator (right-click → Run as administrator), "
            f"or run `{command}` in an administrator terminal."
        )
    return f"Run it with privileges: `sudo {command}`."
