"""Windows: psutil's table works for a normal user; PIDs 0 and 4 are the kernel."""

from __future__ import annotations

import subprocess

import psutil

from portwatch.core.model import OwnerUnknown
from portwatch.core.platform._psutil import classify_connections
from portwatch.core.platform.base import RawTable, SocketSource, TableReadError, os_reason

# Windows Vista and later: 49152-65535 unless changed with netsh.
DEFAULT_WINDOWS_EPHEMERAL = (49152, 65535)
# "System Idle Process" and "System": sockets they hold belong to the kernel
# (http.sys, SMB …), not to a process that could be ended.
KERNEL_PIDS = frozenset({0, 4})


class WindowsSource(SocketSource):
    name = "windows-psutil"
    privilege_hint = "run as administrator to see them"

    def __init__(self) -> None:
        self._range: tuple[int, int] | None = None

    def read(self, *, connection_owners: bool) -> RawTable:
        del connection_owners  # psutil names the owner of every connection anyway
        try:
            conns = psutil.net_connections(kind="inet")
        except (psutil.Error, OSError) as exc:
            raise TableReadError(os_reason(exc)) from exc
        return classify_connections(
            conns, unknown_reason=OwnerUnknown.NEEDS_PRIVILEGES, kernel_pids=KERNEL_PIDS
        )

    def ephemeral_range(self) -> tuple[int, int] | None:
        if self._range is None:
            self._range = read_netsh_range() or DEFAULT_WINDOWS_EPHEMERAL
        return self._range


def parse_netsh_dynamicport(text: str) -> tuple[int, int] | None:
    """Parse `netsh int ipv4 show dynamicport tcp`.

    Its output reads "Start Port : 49152" then "Number of Ports : 16384".
    """
    numbers = [int(tok) for line in text.splitlines() for tok in line.split() if tok.isdigit()]
    if len(numbers) < 2:
        return None
    start, count = numbers[0], numbers[1]
    return start, min(65535, start + count - 1)


def read_netsh_range() -> tuple[int, int] | None:
    try:
        out = subprocess.run(
            ["netsh", "int", "ipv4", "show", "dynamicport", "tcp"],
            capture_output=True,
            text=True,
            timeout=3,
            check=True,
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    return parse_netsh_dynamicport(out)
