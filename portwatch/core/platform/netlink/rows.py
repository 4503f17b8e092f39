"""Rows from kernel sockets and their owners, reused for what did not change."""

from __future__ import annotations

from collections.abc import Mapping

from portwatch.core.generation import next_generation
from portwatch.core.model import OwnerUnknown
from portwatch.core.platform.base import RawSocket
from portwatch.core.platform.linux_procfs import STATE_NAMES, TCP_ESTABLISHED, KernelSocket
from portwatch.core.platform.owners.holders import Owner

RowKey = tuple[int, "Owner | None"]
CachedRows = tuple[KernelSocket, list[RawSocket]]


class RowCache:
    """One table's rows: made again only when the sockets' or the owners' generation moved.

    Then a socket seen before (the same object) with the same owner keeps its
    rows. :attr:`generation` goes up only when the rows differ from the last
    ones. Counted so far: :attr:`passes`, the walks over every socket;
    :attr:`sockets_converted`, the sockets whose rows were made anew.
    """

    def __init__(self) -> None:
        self._by_socket: dict[RowKey, CachedRows] = {}
        self._inputs: tuple[int, int] | None = None
        self.rows: list[RawSocket] = []
        self.generation = 0
        self.passes = 0
        self.sockets_converted = 0

    def update(
        self, sockets: list[KernelSocket], owners: Mapping[int, Owner], inputs: tuple[int, int]
    ) -> list[RawSocket]:
        """The rows for ``sockets``; ``inputs`` are the generations of the sockets and owners."""
        if inputs == self._inputs and self.generation:
            return self.rows
        self._inputs = inputs
        self.passes += 1
        by_socket: dict[RowKey, CachedRows] = {}
        previous = self._by_socket
        rows: list[RawSocket] = []
        for ks in sockets:
            owner = owners.get(ks.inode)
            key = (ks.inode, owner)
            cached = previous.get(key) if ks.inode else None
            if cached is not None and cached[0] is ks:
                made = cached[1]
            else:
                made = raw_sockets(ks, owner)
                self.sockets_converted += 1
            if ks.inode:
                by_socket[key] = (ks, made)
            rows.extend(made)
        self._by_socket = by_socket
        if not self.generation or rows != self.rows:
            self.rows = rows
            self.generation = next_generation()
        return self.rows


def raw_sockets(ks: KernelSocket, owner: Owner | None) -> list[RawSocket]:
    """One row for the socket, with every process that holds it."""
    listening = ks.state != TCP_ESTABLISHED
    pids: tuple[int, ...] = ()
    reason: OwnerUnknown | None = None
    if isinstance(owner, tuple):
        pids = owner
    elif isinstance(owner, OwnerUnknown):
        reason = owner
    return [
        RawSocket(
            ks.proto,
            ks.family,
            ks.local_address,
            ks.local_port,
            None if listening else ks.remote_address,
            None if listening else ks.remote_port,
            STATE_NAMES.get(ks.state, str(ks.state)),
            pids[0] if pids else None,
            reason,
            ks.v6only,
            pids,
            ks.uid,
            ks.cgroup_id,
        )
    ]


__all__ = ["RowCache", "raw_sockets"]
