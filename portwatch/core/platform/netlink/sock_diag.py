"""A NETLINK_SOCK_DIAG socket that dumps inet sockets by state, decoding only what changed."""

from __future__ import annotations

import errno
import os
import socket
import struct
from collections.abc import Callable
from typing import NamedTuple

from portwatch.core.generation import next_generation
from portwatch.core.model import Proto
from portwatch.core.platform.linux_procfs import KernelSocket
from portwatch.core.platform.netlink.bytecode import PortFilter, PortFilters, keeps_the_same
from portwatch.core.platform.netlink.decode import MessageDecoder, Take
from portwatch.core.platform.netlink.wire import (
    MIN_DIAG_LENGTH,
    MSG,
    MSG_UID_INODE,
    NL_LENGTH_KIND,
    NLM_F_DUMP,
    NLM_F_REQUEST,
    NLMSG_DONE,
    NLMSG_ERROR,
    NLMSG_ERROR_CODE,
    NLMSGHDR,
    RECV_BUFFER,
    SOCK_DIAG_BY_FAMILY,
    SWAP16,
    TCPDIAG_GETSOCK,
    UID_INODE_AT,
    dump_request,
    open_netlink,
)

_FAMILIES = (socket.AF_INET, socket.AF_INET6)
# Per message length: header, family/state/ports, then uid and inode (see _take_run).
_RUN_STRUCTS: dict[int, struct.Struct] = {}
# Distinct addresses kept decoded at most.
_MAX_NAMES = 8192


class _RetryError(Exception):
    """The kernel refused an optional part of the request: ask again without it."""


class _Datagram(NamedTuple):
    """One datagram of a dump as it arrived, and the sockets kept from it."""

    data: bytes
    sockets: list[KernelSocket]
    last: bool  # it ended the dump


class _Memo(NamedTuple):
    """The last dump of one kind (protocol, states), to reuse what repeats."""

    port_filter: PortFilter
    datagrams: dict[int, list[_Datagram]]  # per request family
    sockets: list[KernelSocket]
    generation: int


class SockDiag:
    """A NETLINK_SOCK_DIAG socket that dumps inet sockets by state.

    Each kind of request always carries the same sequence number, so a dump
    whose sockets did not change arrives byte for byte as the last one: a
    datagram equal to the one at the same place last time (a memcmp) gives
    the same sockets without decoding a message. Each kind of dump has a
    generation (:meth:`generation`) that goes up only when its sockets changed.
    """

    def __init__(self) -> None:
        self._sock = open_netlink()
        self.buffer = bytearray(RECV_BUFFER)
        self._seqs: dict[tuple[int, int, int, int], int] = {}
        # Set from a request until the end of its dump is read. A dump left
        # halfway (an exception) keeps the socket busy (the kernel answers the
        # next request EBUSY) and its rest carries the next request's sequence
        # number: the next request goes out on a new socket instead.
        self._dump_open = False
        # inet_ntop once per distinct address: most sockets share a few.
        self._names: dict[bytes, str] = {}
        self._memos: dict[tuple[Proto, int], _Memo] = {}
        self._filters = PortFilters()
        self.filter_supported = True
        self.compat_supported = True
        #: Sockets decoded from messages (not reused from the last dump), so far.
        self.sockets_decoded = 0
        #: Datagrams decoded (not equal to the one at their place last time), so far.
        self.datagrams_decoded = 0

    def close(self) -> None:
        self._sock.close()

    def generation(self, proto: Proto, states: int) -> int:
        """The generation of the last dump of ``proto`` in ``states``: up only when it changed."""
        memo = self._memos.get((proto, states))
        return 0 if memo is None else memo.generation

    def address_name(self, family: int, raw: bytes) -> str:
        name = self._names.get(raw)
        if name is None:
            if len(self._names) > _MAX_NAMES:
                self._names.clear()
            name = socket.inet_ntop(socket.AF_INET if family == 4 else socket.AF_INET6, raw)
            self._names[raw] = name
        return name

    def dump(
        self,
        proto: Proto,
        states: int,
        *,
        only_local_ports: set[tuple[int, int]] | None = None,
    ) -> list[KernelSocket]:
        """Every IPv4 and IPv6 socket of ``proto`` in ``states`` (a bit mask).

        ``only_local_ports`` keeps only sockets whose (family, local port) is in
        the set, filtered by the kernel where it can: counting connections
        per listener does not need the client ends.
        """
        try:
            return self._dump(proto, states, only_local_ports)
        except _RetryError:
            return self._dump(proto, states, only_local_ports)

    def _dump(
        self, proto: Proto, states: int, only_local_ports: set[tuple[int, int]] | None
    ) -> list[KernelSocket]:
        protocol = socket.IPPROTO_TCP if proto == "tcp" else socket.IPPROTO_UDP
        port_filter = self._filters.for_ports(only_local_ports, in_kernel=self.filter_supported)
        bytecode = port_filter[0] if port_filter is not None else b""
        memo = self._memos.get((proto, states))
        # A datagram of the last dump that repeats holds the same sockets if
        # the filter keeps the same ones among them.
        repeatable = memo is not None and keeps_the_same(memo.port_filter, port_filter)
        decoder = MessageDecoder(
            proto,
            port_filter,
            memo.sockets if memo is not None else [],
            self.buffer,
            self.address_name,
        )
        found: list[KernelSocket] = []
        datagrams: dict[int, list[_Datagram]] = {}
        requests = (0,) if proto == "tcp" and self.compat_supported else _FAMILIES
        for request_family in requests:
            seq = self._send(request_family, protocol, states, bytecode)
            last_time = memo.datagrams.get(request_family, []) if memo and repeatable else []
            received = self._receive(seq, last_time, decoder, request_family, bytecode)
            for datagram in received:
                found += datagram.sockets
            datagrams[request_family] = received
        self.sockets_decoded += decoder.decoded
        self.datagrams_decoded += decoder.datagrams_decoded
        # Every datagram repeated: the same sockets, no comparison needed.
        same = memo is not None and (not decoder.datagrams_decoded or found == memo.sockets)
        generation = memo.generation if memo is not None and same else next_generation()
        self._memos[(proto, states)] = _Memo(port_filter, datagrams, found, generation)
        return found

    def _send(self, family: int, protocol: int, states: int, bytecode: bytes) -> int:
        """Send one dump request; ``family`` 0 means both, in one walk (TCP only)."""
        if self._dump_open:
            self._sock.close()
            self._sock = open_netlink()
            self._dump_open = False
        kind, request = dump_request(family, protocol, states, bytecode)
        seq = self._seqs.setdefault((kind, family, protocol, states), len(self._seqs) + 1)
        header = NLMSGHDR.pack(
            NLMSGHDR.size + len(request), kind, NLM_F_REQUEST | NLM_F_DUMP, seq, 0
        )
        try:
            self._sock.send(header + request)
        except OSError as exc:
            if not bytecode or exc.errno != errno.EINVAL:
                raise
            self.filter_supported = False
            raise _RetryError from exc
        self._dump_open = True
        return seq

    def _receive(
        self,
        seq: int,
        last_time: list[_Datagram],
        decoder: MessageDecoder,
        request_family: int,
        bytecode: bytes,
    ) -> list[_Datagram]:
        """The datagrams of one dump: those equal to last time's as they were, others decoded."""
        buffer = self.buffer
        limit = len(buffer) - MSG.size
        received: list[_Datagram] = []
        done = False
        while not done:
            size = min(self._sock.recv_into(buffer), limit)
            index = len(received)
            if index < len(last_time):
                same = last_time[index]
                if len(same.data) == size and buffer.startswith(same.data):
                    received.append(same)
                    done = same.last
                    continue
            previous = decoder.start_datagram()
            offset = self._take_run(
                buffer,
                size,
                seq,
                keep=decoder.keep,
                take=decoder.take,
                previous=previous,
                append=decoder.append,
            )
            done = self._take_rest(offset, size, seq, decoder, request_family, bytecode)
            received.append(_Datagram(bytes(buffer[:size]), decoder.sockets, done))
        self._dump_open = False
        return received

    def _take_run(
        self,
        buffer: bytearray,
        size: int,
        seq: int,
        *,
        keep: set[tuple[int, int]] | None,
        take: Take,
        previous: dict[int, KernelSocket],
        append: Callable[[KernelSocket], None],
    ) -> int:
        """Unpack a run of equally long diag messages in C; return where it stopped.

        Every socket of one dump usually carries the same attributes, so a
        datagram is N messages of one length (then perhaps NLMSG_DONE):
        ``iter_unpack`` reads them without a Python call per field. The first
        message of another length, type or sequence ends the run; the caller
        parses the rest one by one.
        """
        if size < NLMSGHDR.size:
            return 0
        length, kind = NL_LENGTH_KIND.unpack_from(buffer, 0)
        if kind not in (SOCK_DIAG_BY_FAMILY, TCPDIAG_GETSOCK) or length < MIN_DIAG_LENGTH:
            return 0
        if length % 4 or size // length < 4:
            return 0
        batch = _RUN_STRUCTS.get(length)
        if batch is None:
            batch = _RUN_STRUCTS[length] = struct.Struct(
                f"=IH2xI4xBBxxHH56xII{length - MIN_DIAG_LENGTH}x"
            )
        swap = SWAP16
        previous_get = previous.get
        position = 0
        with memoryview(buffer) as view:
            for (
                msg_length,
                msg_kind,
                msg_seq,
                af,
                state,
                sport,
                dport,
                uid,
                inode,
            ) in batch.iter_unpack(view[: (size // length) * length]):
                if msg_length != length or msg_kind != kind or msg_seq != seq:
                    break
                position += length
                lport = swap[sport]
                if keep is not None and (af, lport) not in keep:
                    continue
                # The common case inline: a socket already known, unchanged.
                cached = previous_get(inode) if inode else None
                if (
                    cached is not None
                    and cached.state == state
                    and cached.local_port == lport
                    and cached.remote_port == swap[dport]
                ):
                    append(cached)
                    continue
                take(position - length, af, state, lport, swap[dport], uid, inode, position)
        return position

    def _take_rest(  # noqa: PLR0917 - one step of _receive
        self,
        offset: int,
        size: int,
        seq: int,
        decoder: MessageDecoder,
        request_family: int,
        bytecode: bytes,
    ) -> bool:
        """Parse the messages after the run one by one; True once the dump ended."""
        buffer = self.buffer
        header_size = NLMSGHDR.size
        keep = decoder.keep
        while offset + header_size <= size:
            # The netlink header and the head of an inet_diag_msg in one go.
            length, kind, _flags, msg_seq, _pid, af, state, sport, dport = MSG.unpack_from(
                buffer, offset
            )
            if length < header_size or offset + length > size:
                raise OSError(errno.EBADMSG, "truncated netlink message")
            start = offset
            offset += (length + 3) & ~3
            if msg_seq != seq:
                continue  # not a reply to this request
            if kind == NLMSG_DONE:
                return True
            if kind == NLMSG_ERROR:
                self._raise_error(start + header_size, request_family, bytecode)
                return True
            if kind not in (SOCK_DIAG_BY_FAMILY, TCPDIAG_GETSOCK) or length < MIN_DIAG_LENGTH:
                continue
            lport = SWAP16[sport]
            if keep is not None and (af, lport) not in keep:
                continue
            uid, inode = MSG_UID_INODE.unpack_from(buffer, start + header_size + UID_INODE_AT)
            decoder.take(start, af, state, lport, SWAP16[dport], uid, inode, start + length)
        return False

    def _raise_error(self, body: int, request_family: int, bytecode: bytes) -> None:
        """An NLMSG_ERROR reply: return if it is an acknowledgement, else raise."""
        self._dump_open = False  # an error ends the dump
        (code,) = NLMSG_ERROR_CODE.unpack_from(self.buffer, body)
        if code == 0:
            return
        if code == -errno.EINVAL and bytecode:
            # An old kernel that rejects the filter: filter here from now on.
            self.filter_supported = False
            raise _RetryError
        if request_family == 0 and self.compat_supported:
            # No compatibility request here: one walk per family from now on.
            self.compat_supported = False
            raise _RetryError
        raise OSError(-code, os.strerror(-code))


__all__ = ["SockDiag"]
