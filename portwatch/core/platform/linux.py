"""Linux: psutil's system-wide socket table (the portable path).

The netlink fast path lives beside it in the ``netlink`` package; ``select_source``
prefers that one when the kernel lets us use it.
"""

from __future__ import annotations

import psutil

from portwatch.core.platform._psutil import classify_connections
from portwatch.core.platform.base import (
    RawTable,
    SocketSource,
    TableReadError,
    os_reason,
    ownerless_reason,
)
from portwatch.core.services import read_linux_ephemeral_range


class LinuxPsutilSource(SocketSource):
    name = "linux-psutil"
    privilege_hint = "run as root (sudo) to see them"

    def read(self, *, connection_owners: bool) -> RawTable:
        del connection_owners  # psutil names the owner of every connection anyway
        reason = ownerless_reason()
        try:
            conns = psutil.net_connections(kind="inet")
        except (psutil.Error, OSError) as exc:
            raise TableReadError(os_reason(exc)) from exc
        return classify_connections(conns, unknown_reason=reason)

    def ephemeral_range(self) -> tuple[int, int] | None:
        return read_linux_ephemeral_range()
