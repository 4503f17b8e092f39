"""Decoding one dump's inet_diag messages into sockets, reusing those the last dump had."""

from __future__ import annotations

import socket
from collections.abc import Callable

from portwatch.core.model import Proto
from portwatch.core.platform.linux_procfs import TCP_ESTABLISHED, KernelSocket
from portwatch.core.platform.netlink.bytecode import PortFilter
from portwatch.core.platform.netlink.wire import (
    LOCAL_ADDRESS_AT,
    NLMSGHDR,
    REMOTE_ADDRESS_AT,
    attribute_offsets,
    read_attributes,
)

# Called per socket decoded: positional arguments, as the run's unpacking gives them.
Take = Callable[[int, int, int, int, int, int, int, int], None]


class MessageDecoder:
    """Turns one dump's messages into sockets; a socket the last dump had is reused."""

    def __init__(
        self,
        proto: Proto,
        port_filter: PortFilter,
        last_sockets: list[KernelSocket],
        buffer: bytearray,
        name: Callable[[int, bytes], str],
    ) -> None:
        self.proto: Proto = proto
        self.keep = port_filter[1] if port_filter is not None else None
        self._last_sockets = last_sockets
        self._buffer = buffer
        self._name = name
        # The last dump's sockets by inode, made at the first datagram decoded.
        self.previous: dict[int, KernelSocket] | None = None
        self.sockets: list[KernelSocket] = []
        self.append = self.sockets.append
        self.decoded = 0  # sockets made (not reused) in this dump
        # Where the attributes read are, per (message length, family): every
        # socket of a dump carries the same attributes, so one walk per length.
        self._layouts: dict[tuple[int, int], tuple[int, int]] = {}
        self.datagrams_decoded = 0

    def start_datagram(self) -> dict[int, KernelSocket]:
        """A new datagram to decode: its own socket list; the last dump's sockets by inode."""
        if self.previous is None:
            self.previous = {ks.inode: ks for ks in self._last_sockets if ks.inode}
        self.datagrams_decoded += 1
        self.sockets = []
        self.append = self.sockets.append
        return self.previous

    def take(  # noqa: PLR0917 - called per socket: positional is faster
        self,
        start: int,
        af: int,
        state: int,
        lport: int,
        rport: int,
        uid: int,
        inode: int,
        end: int,
    ) -> None:
        """Record the message at ``start``: the known socket, or a decoded one."""
        cached = self.previous.get(inode) if inode and self.previous is not None else None
        if (
            cached is not None
            and cached.state == state
            and cached.local_port == lport
            and cached.remote_port == rport
        ):
            self.append(cached)
            return
        buffer = self._buffer
        body = start + NLMSGHDR.size
        family = 4 if af == socket.AF_INET else 6
        addr_len = 4 if family == 4 else 16
        local_at = body + LOCAL_ADDRESS_AT
        remote_at = body + REMOTE_ADDRESS_AT
        local = self._name(family, bytes(buffer[local_at : local_at + addr_len]))
        remote = self._name(family, bytes(buffer[remote_at : remote_at + addr_len]))
        v6only: bool | None = None
        cgroup_id: int | None = None
        if state != TCP_ESTABLISHED:
            # Listeners only: a connection's owner is never looked up by its cgroup.
            v6only, cgroup_id = self._attributes(start, end, family)
        self.decoded += 1
        self.append(
            KernelSocket(
                self.proto,
                family,
                state,
                local,
                lport,
                remote,
                rport,
                uid,
                inode,
                v6only,
                cgroup_id,
            )
        )

    def _attributes(self, start: int, end: int, family: int) -> tuple[bool | None, int | None]:
        """A listener's v6only and cgroup id, read where the last message of its length had them."""
        key = (end - start, family)
        layout = self._layouts.get(key)
        if layout is not None:
            found = read_attributes(self._buffer, start, layout)
            if found is not None:
                return found
        layout = self._layouts[key] = attribute_offsets(self._buffer, start, end)
        return read_attributes(self._buffer, start, layout) or (None, None)


__all__ = ["MessageDecoder", "Take"]
