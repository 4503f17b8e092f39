"""Tools for owner-walk tests: a clock counted in looks, a source that sees few sockets."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from portwatch.core.platform.linux_procfs import SocketTables
from tests.support.procs import Endpoint

if TYPE_CHECKING:
    from portwatch.core.platform.netlink.source import LinuxNetlinkSource


class Ticks:
    """A CPU clock that moves on by ``step`` at every look.

    A walk's budget then buys the same number of steps on a busy machine as on
    an idle one: 0.002 s is 20 looks (a process, or 128 of its fds, each).
    """

    def __init__(self, step: float = 0.0001) -> None:
        self.step = step
        self.now = 0.0

    def __call__(self) -> float:
        self.now += self.step
        return self.now


def keep_only(
    monkeypatch: pytest.MonkeyPatch, source: LinuxNetlinkSource, endpoints: set[Endpoint]
) -> None:
    """The source sees only the sockets bound at these endpoints (and their connections)."""
    read_tables = source.read_tables

    def kept(*, all_established: bool) -> SocketTables:
        tables = read_tables(all_established=all_established)
        return SocketTables(
            *(
                [s for s in part if (s.proto, s.local_address, s.local_port) in endpoints]
                for part in tables
            )
        )

    monkeypatch.setattr(source, "read_tables", kept)
