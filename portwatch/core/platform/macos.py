"""macOS: psutil's system-wide table needs root; a per-process walk does not."""

from __future__ import annotations

import subprocess
from typing import Any

import psutil

from portwatch.core.model import OwnerUnknown
from portwatch.core.platform._psutil import classify_connections, per_process_connections
from portwatch.core.platform.base import (
    RawTable,
    SocketSource,
    TableReadError,
    os_reason,
    ownerless_reason,
)

# macOS's default net.inet.ip.portrange.first/last.
DEFAULT_MACOS_EPHEMERAL = (49152, 65535)


class MacSource(SocketSource):
    name = "macos-psutil"
    privilege_hint = "run with sudo to see them"

    def __init__(self) -> None:
        self._range: tuple[int, int] | None = None

    def read(self, *, connection_owners: bool) -> RawTable:
        del connection_owners  # psutil names the owner of every connection anyway
        try:
            conns: list[Any] = list(psutil.net_connections(kind="inet"))
        except psutil.AccessDenied:
            # Not root: fall back to the processes we are allowed to read.
            conns, refused = per_process_connections()
            table = classify_connections(conns, unknown_reason=OwnerUnknown.NEEDS_PRIVILEGES)
            if refused:
                table.warnings.append(
                    f"{refused} processes could not be read; {self.privilege_hint}"
                )
            return table
        except (psutil.Error, OSError) as exc:
            raise TableReadError(os_reason(exc)) from exc
        reason = ownerless_reason()
        return classify_connections(conns, unknown_reason=reason)

    def ephemeral_range(self) -> tuple[int, int] | None:
        if self._range is None:
            self._range = read_sysctl_range() or DEFAULT_MACOS_EPHEMERAL
        return self._range


def read_sysctl_range() -> tuple[int, int] | None:
    try:
        out = subprocess.run(
            ["sysctl", "-n", "net.inet.ip.portrange.first", "net.inet.ip.portrange.last"],
            capture_output=True,
            text=True,
            timeout=2,
            check=True,
        ).stdout.split()
        return int(out[0]), int(out[1])
    except (OSError, subprocess.SubprocessError, ValueError, IndexError):
        return None
