"""Linux fast path: socket tables from NETLINK_SOCK_DIAG, owners from an inode cache.

``psutil.net_connections()`` reads the link of every open file descriptor of
every process on every call; its cost grows with the machine's open files.
Here the kernel filters the tables by state (inet_diag), and owners come from
:class:`~portwatch.core.platform.linux_owners.SocketOwners`, which checks a
cached (pid, fd) per socket and walks ``/proc`` only for sockets it has not
seen before. Established connections, counted per listener, are dumped again
only when ``/proc/net/snmp``'s TCP open counters moved (see ``TcpOpenCounters``)
or the last dump is ``ESTABLISHED_MAX_AGE`` old. Where netlink is refused the
tables come from ``/proc/net``.
"""

from __future__ import annotations

import errno
import logging
import math
import os
import socket
import struct
import sys
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import NamedTuple

from portwatch.core.model import OwnerUnknown, Proto
from portwatch.core.platform.base import (
    RawSocket,
    RawTable,
    SocketSource,
    TableReadError,
    os_reason,
)
from portwatch.core.platform.linux_owners import Owner, SocketOwners
from portwatch.core.platform.linux_procfs import (
    STATE_NAMES,
    TCP_CLOSE,
    TCP_ESTABLISHED,
    TCP_LISTEN,
    KernelSocket,
    SocketTables,
    TcpOpenCounters,
    read_proc_net,
)
from portwatch.core.services import read_linux_ephemeral_range

log = logging.getLogger(__name__)

NETLINK_SOCK_DIAG = 4
SOCK_DIAG_BY_FAMILY = 20
NLM_F_REQUEST = 0x1
NLM_F_DUMP = 0x300  # NLM_F_ROOT | NLM_F_MATCH
NLMSG_ERROR = 2
NLMSG_DONE = 3
INET_DIAG_SKV6ONLY = 11

# struct nlmsghdr: len, type, flags, seq, pid.
_NLMSGHDR = struct.Struct("=IHHII")
# struct inet_diag_req_v2: family, protocol, ext, pad, states, then an all-zero
# inet_diag_sockid (48 bytes): a dump of every socket in those states.
_REQ_V2 = struct.Struct("=BBBxI48x")
# struct inet_diag_req (TCPDIAG_GETSOCK): family, src_len, dst_len, ext, sockid,
# states, dbs.
_REQ_COMPAT = struct.Struct("=B3x48xI4x")
TCPDIAG_GETSOCK = 18
# struct inet_diag_msg, split by byte order: family and state; the sockid's
# ports and addresses (network order); then uid and inode (host order).
_MSG = struct.Struct("=IHHIIBBxxHH")  # nlmsghdr + family, state, -, sport, dport
# Jump offsets and the attribute length are 16-bit: the port filter's
# bytecode (16 bytes a port, see local_port_bytecode) must stay under 64 KiB.
KERNEL_FILTER_MAX_PORTS = 4000
_MAX_BYTECODE = 0xFFFF - 4
_MSG_UID_INODE = struct.Struct("=II")
_NL_LENGTH_KIND = struct.Struct("=IH")
_MIN_DIAG_LENGTH = 16 + 72  # nlmsghdr + inet_diag_msg, before attributes
# Per message length: header, family/state/ports, then uid and inode (see _take_run).
_RUN_STRUCTS: dict[int, struct.Struct] = {}
# Ports arrive in network order; a table lookup swaps them faster than struct.
_SWAP16 = (
    tuple(((p & 0xFF) << 8) | (p >> 8) for p in range(65536))
    if sys.byteorder == "little"
    else tuple(range(65536))
)
# struct inet_diag_bc_op: code, yes (jump if true), no (jump if false).
_BC_OP = struct.Struct("=BBH")
INET_DIAG_REQ_BYTECODE = 1
INET_DIAG_BC_JMP = 1
INET_DIAG_BC_S_GE = 2
INET_DIAG_BC_S_LE = 3
_NLATTR = struct.Struct("=HH")
_INET_DIAG_MSG_LEN = 72
_NLMSG_ERROR_CODE = struct.Struct("=i")

# errno values that mean "this kernel or sandbox will not talk sock_diag to us".
_REFUSED = frozenset(
    {
        errno.EPERM,
        errno.EACCES,
        errno.EPROTONOSUPPORT,
        errno.EAFNOSUPPORT,
        errno.ENOENT,
        errno.EOPNOTSUPP,
        errno.EINVAL,
    }
)

_FAMILIES = (socket.AF_INET, socket.AF_INET6)
# A listening socket reports states as the sum of their bits.
_LISTEN_STATES = 1 << TCP_LISTEN
_UNCONNECTED_STATES = 1 << TCP_CLOSE
_ESTABLISHED_STATES = 1 << TCP_ESTABLISHED

_RECV_BUFFER = 1 << 18

# While the TCP counters stand still the established table is reused, but
# dumped again after this many seconds anyway: a connection whose client
# closed while the server keeps its end (ESTABLISHED -> CLOSE_WAIT) moves no
# counter until the server closes it too.
ESTABLISHED_MAX_AGE = 10.0
# CPU seconds a poll may spend looking for new sockets' owners in /proc.
WALK_BUDGET = 0.05


class _RetryError(Exception):
    """The kernel refused an optional part of the request: ask again without it."""


class NetlinkRefusedError(OSError):
    """The kernel or a sandbox refuses sock_diag; /proc/net has to do."""


class _Datagram(NamedTuple):
    """One datagram of a dump as it arrived, and the sockets kept from it."""

    data: bytes
    sockets: list[KernelSocket]
    last: bool  # it ended the dump


# The local-port filter a dump was read with: its bytecode and the (address
# family, port) pairs kept; None for a dump of every socket.
_Filter = tuple[bytes, set[tuple[int, int]]] | None


def _open_netlink() -> socket.socket:
    try:
        sock = socket.socket(socket.AF_NETLINK, socket.SOCK_DGRAM, NETLINK_SOCK_DIAG)
    except OSError as exc:
        raise NetlinkRefusedError(exc.errno, f"netlink sock_diag unavailable: {exc}") from exc
    try:
        sock.bind((0, 0))
    except OSError as exc:
        sock.close()
        raise NetlinkRefusedError(exc.errno, f"netlink sock_diag unavailable: {exc}") from exc
    return sock


class SockDiag:
    """A NETLINK_SOCK_DIAG socket that dumps inet sockets by state.

    Each kind of request always carries the same sequence number, so a dump
    whose sockets did not change arrives byte for byte as the last one: a
    datagram equal to the one at the same place last time (a memcmp) gives
    the same sockets without decoding a message.
    """

    def __init__(self) -> None:
        self._sock = _open_netlink()
        self._buffer = bytearray(_RECV_BUFFER)
        self._seqs: dict[tuple[int, int, int, int], int] = {}
        # Set from a request until the end of its dump is read. A dump left
        # halfway (an exception) keeps the socket busy (the kernel answers the
        # next request EBUSY) and its rest carries the next request's sequence
        # number: the next request goes out on a new socket instead.
        self._dump_open = False
        # inet_ntop once per distinct address: most sockets share a few.
        self._names: dict[bytes, str] = {}
        # Per kind of dump (protocol, states): the filter of the previous one
        # and its datagrams per request family, to reuse those that repeat.
        self._datagrams: dict[tuple[Proto, int], tuple[_Filter, dict[int, list[_Datagram]]]] = {}
        self._port_filter: tuple[frozenset[int], bytes] | None = None
        self._filter: tuple[set[tuple[int, int]], bool, _Filter] | None = None
        self.filter_supported = True
        self.compat_supported = True

    def close(self) -> None:
        self._sock.close()

    def _request(self, family: int, protocol: int, states: int, bytecode: bytes) -> int:
        """Send one dump request; ``family`` 0 means both, in one walk (TCP only)."""
        if self._dump_open:
            self._sock.close()
            self._sock = _open_netlink()
            self._dump_open = False
        attribute = b""
        if bytecode:
            attribute = _NLATTR.pack(_NLATTR.size + len(bytecode), INET_DIAG_REQ_BYTECODE)
            attribute += bytecode
        if family == 0:
            # The older TCPDIAG_GETSOCK request dumps both families in one
            # walk of the kernel's connection hash table; SOCK_DIAG_BY_FAMILY
            # walks that (mostly empty, often 2^17+ buckets) table once per family.
            kind = TCPDIAG_GETSOCK
            request = _REQ_COMPAT.pack(socket.AF_INET, states) + attribute
        else:
            kind = SOCK_DIAG_BY_FAMILY
            request = _REQ_V2.pack(family, protocol, 0, states) + attribute
        seq = self._seqs.setdefault((kind, family, protocol, states), len(self._seqs) + 1)
        header = _NLMSGHDR.pack(
            _NLMSGHDR.size + len(request), kind, NLM_F_REQUEST | NLM_F_DUMP, seq, 0
        )
        self._sock.send(header + request)
        self._dump_open = True
        return seq

    def _name(self, family: int, raw: bytes) -> str:
        name = self._names.get(raw)
        if name is None:
            if len(self._names) > 8192:
                self._names.clear()
            name = socket.inet_ntop(socket.AF_INET if family == 4 else socket.AF_INET6, raw)
            self._names[raw] = name
        return name

    def _take_run(
        self,
        buffer: bytearray,
        size: int,
        seq: int,
        *,
        keep: set[tuple[int, int]] | None,
        take: Callable[[int, int, int, int, int, int, int, int], None],
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
        if size < _NLMSGHDR.size:
            return 0
        length, kind = _NL_LENGTH_KIND.unpack_from(buffer, 0)
        if kind not in (SOCK_DIAG_BY_FAMILY, TCPDIAG_GETSOCK) or length < _MIN_DIAG_LENGTH:
            return 0
        if length % 4 or size // length < 4:
            return 0
        batch = _RUN_STRUCTS.get(length)
        if batch is None:
            batch = _RUN_STRUCTS[length] = struct.Struct(
                f"=IH2xI4xBBxxHH56xII{length - _MIN_DIAG_LENGTH}x"
            )
        swap = _SWAP16
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

    def _raise_error(self, body: int, request_family: int, bytecode: bytes) -> None:
        """An NLMSG_ERROR reply: return if it is an acknowledgement, else raise."""
        self._dump_open = False  # an error ends the dump
        (code,) = _NLMSG_ERROR_CODE.unpack_from(self._buffer, body)
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

    def local_port_filter(self, ports: Iterable[int]) -> bytes:
        """inet_diag bytecode accepting sockets whose local port is in ``ports``."""
        wanted = frozenset(ports)
        if self._port_filter is None or self._port_filter[0] != wanted:
            self._port_filter = (wanted, local_port_bytecode(sorted(wanted)))
        return self._port_filter[1]

    def _filter_for(self, only_local_ports: set[tuple[int, int]] | None) -> _Filter:
        """Bytecode and the kept (address family, port) pairs; the same object while unchanged."""
        if only_local_ports is None:
            return None
        cached = self._filter
        if (
            cached is not None
            and cached[1] == self.filter_supported
            and cached[0] == only_local_ports
        ):
            return cached[2]
        bytecode = b""
        if self.filter_supported and len(only_local_ports) <= KERNEL_FILTER_MAX_PORTS:
            bytecode = self.local_port_filter(port for _, port in only_local_ports)
        # Keyed by the raw address family, so the test comes first.
        keep = {
            (int(socket.AF_INET) if family == 4 else int(socket.AF_INET6), port)
            for family, port in only_local_ports
        }
        made: _Filter = (bytecode, keep)
        self._filter = (set(only_local_ports), self.filter_supported, made)
        return made

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
        self,
        proto: Proto,
        states: int,
        only_local_ports: set[tuple[int, int]] | None,
    ) -> list[KernelSocket]:
        protocol = socket.IPPROTO_TCP if proto == "tcp" else socket.IPPROTO_UDP
        port_filter = self._filter_for(only_local_ports)
        bytecode, keep = port_filter if port_filter is not None else (b"", None)
        memo = self._datagrams.get((proto, states))
        last_datagrams = memo[1] if memo is not None else {}
        # A datagram of the last dump that repeats holds the same sockets if
        # the filter keeps the same ones among them.
        repeatable = memo is not None and (
            memo[0] is port_filter or _keeps_the_same(memo[0], port_filter)
        )
        # The last dump's sockets by inode, to reuse for messages that must be
        # decoded (a socket keeps its addresses); made at the first such message.
        previous: dict[int, KernelSocket] = {}
        previous_made = False
        found: list[KernelSocket] = []
        datagram_sockets: list[KernelSocket] = []
        append = datagram_sockets.append
        message = _MSG.unpack_from
        uid_inode = _MSG_UID_INODE.unpack_from
        swap = _SWAP16
        name = self._name
        buffer = self._buffer
        startswith = buffer.startswith
        limit = len(buffer) - _MSG.size
        header_size = _NLMSGHDR.size
        min_length = header_size + _INET_DIAG_MSG_LEN
        af_inet = socket.AF_INET

        def take(  # noqa: PLR0917 - called per socket: positional is faster
            start: int, af: int, state: int, lport: int, rport: int, uid: int, inode: int, end: int
        ) -> None:
            """Record the message at ``start``: the known socket, or a decoded one."""
            cached = previous.get(inode) if inode else None
            if (
                cached is not None
                and cached.state == state
                and cached.local_port == lport
                and cached.remote_port == rport
            ):
                append(cached)
                return
            body = start + header_size
            family = 4 if af == af_inet else 6
            addr_len = 4 if family == 4 else 16
            local = name(family, bytes(buffer[body + 8 : body + 8 + addr_len]))
            remote = name(family, bytes(buffer[body + 24 : body + 24 + addr_len]))
            v6only: bool | None = None
            if family == 6 and state != TCP_ESTABLISHED:
                v6only = _v6only_attribute(buffer, body, end)
            append(
                KernelSocket(proto, family, state, local, lport, remote, rport, uid, inode, v6only)
            )

        datagrams: dict[int, list[_Datagram]] = {}
        requests = (0,) if proto == "tcp" and self.compat_supported else _FAMILIES
        for request_family in requests:
            try:
                seq = self._request(request_family, protocol, states, bytecode)
            except OSError as exc:
                if not bytecode or exc.errno != errno.EINVAL:
                    raise
                self.filter_supported = False
                raise _RetryError from exc
            last_time = last_datagrams.get(request_family, []) if repeatable else []
            received: list[_Datagram] = []
            done = False
            while not done:
                size = min(self._sock.recv_into(buffer), limit)
                index = len(received)
                if index < len(last_time):
                    same = last_time[index]
                    if len(same.data) == size and startswith(same.data):
                        received.append(same)
                        found += same.sockets
                        done = same.last
                        continue
                if not previous_made:
                    previous_made = True
                    previous = {
                        ks.inode: ks
                        for family_datagrams in last_datagrams.values()
                        for datagram in family_datagrams
                        for ks in datagram.sockets
                        if ks.inode
                    }
                datagram_sockets = []
                append = datagram_sockets.append
                offset = self._take_run(
                    buffer, size, seq, keep=keep, take=take, previous=previous, append=append
                )
                while offset + header_size <= size:
                    # The netlink header and the head of an inet_diag_msg in one go.
                    length, kind, _flags, msg_seq, _pid, af, state, sport, dport = message(
                        buffer, offset
                    )
                    if length < header_size or offset + length > size:
                        raise OSError(errno.EBADMSG, "truncated netlink message")
                    start = offset
                    offset += (length + 3) & ~3
                    if msg_seq != seq:
                        continue  # not a reply to this request
                    if kind != SOCK_DIAG_BY_FAMILY and kind != TCPDIAG_GETSOCK:  # noqa: PLR1714
                        if kind == NLMSG_DONE:
                            done = True
                            break
                        if kind == NLMSG_ERROR:
                            self._raise_error(start + header_size, request_family, bytecode)
                            done = True
                            break
                        continue
                    if length < min_length:
                        continue
                    lport = swap[sport]
                    if keep is not None and (af, lport) not in keep:
                        continue
                    uid, inode = uid_inode(buffer, start + header_size + 64)
                    take(start, af, state, lport, swap[dport], uid, inode, start + length)
                received.append(_Datagram(bytes(buffer[:size]), datagram_sockets, done))
                found += datagram_sockets
            self._dump_open = False
            datagrams[request_family] = received
        self._datagrams[(proto, states)] = (port_filter, datagrams)
        return found


def _keeps_the_same(before: _Filter, now: _Filter) -> bool:
    """Whether a datagram repeated under both filters keeps the same sockets under both.

    With both filters in the kernel a repeated datagram holds only ports both
    let through (a new listener without connections leaves it as it was); it
    keeps the same sockets unless one of those ports gained or lost a family.
    """
    if before is None or now is None or not before[0] or not now[0]:
        return before == now
    changed = before[1] ^ now[1]
    if not changed:
        return True
    ports_before = {port for _, port in before[1]}
    ports_now = {port for _, port in now[1]}
    return not any(port in ports_before and port in ports_now for _, port in changed)


def local_port_bytecode(ports: list[int]) -> bytes:
    """inet_diag bytecode: accept a socket whose local port is one of ``ports`` (sorted).

    The kernel's checker (inet_diag_bc_audit) accepts a "no" jump that lands
    inside the program only after walking the chain of "yes" steps from the
    start to it: quadratic in the program's length. Jumps that leave the
    program (to its end: accept; 4 bytes past it: reject) cost nothing. So
    the ports go in groups of about sqrt(n), each a chain that leaves at its
    first false test: ``>= p`` (else reject: between two ports), ``>= p + 1``
    (else accept: it is p), then the next port; past the group's last port,
    reject. A small binary tree on "port <= the last port of the left
    groups" picks the group; its ~sqrt(n) inner jumps are the only ones the
    kernel walks for. Every op's "yes" is the next op. A socket costs
    log2(groups) + up to 2 * sqrt(n) comparisons. Empty when ``ports`` is
    empty or the program would not fit the 16-bit jumps: the caller then
    filters by itself.
    """
    if not ports or len(ports) > KERNEL_FILTER_MAX_PORTS:
        return b""
    size = max(4, math.isqrt(len(ports)))
    groups = [ports[i : i + size] for i in range(0, len(ports), size)]
    total = _tree_size(groups)
    if total > _MAX_BYTECODE:
        return b""
    out = bytearray()
    _emit_tree(groups, out, total)
    return bytes(out)


def _tree_size(groups: list[list[int]]) -> int:
    # A group: two 8-byte tests a port and a 4-byte JMP; an inner node: an 8-byte test.
    if len(groups) == 1:
        return 16 * len(groups[0]) + 4
    half = len(groups) // 2
    return 8 + _tree_size(groups[:half]) + _tree_size(groups[half:])


def _emit_tree(groups: list[list[int]], out: bytearray, total: int) -> None:
    op = _BC_OP.pack
    if len(groups) == 1:
        for port in groups[0]:
            reject = total - len(out) + 4  # 4 bytes past the end: the socket is dropped
            out += op(INET_DIAG_BC_S_GE, 8, reject) + op(0, 0, port)
            accept = total - len(out)  # exactly the end: the socket is kept
            if port < 0xFFFF:
                out += op(INET_DIAG_BC_S_GE, 8, accept) + op(0, 0, port + 1)
            else:  # >= 65536 does not fit: "not <= 65534" says the same
                out += op(INET_DIAG_BC_S_LE, 8, accept) + op(0, 0, 0xFFFE)
        out += op(INET_DIAG_BC_JMP, 4, total - len(out) + 4)
        return
    half = len(groups) // 2
    left, right = groups[:half], groups[half:]
    out += op(INET_DIAG_BC_S_LE, 8, 8 + _tree_size(left)) + op(0, 0, left[-1][-1])
    _emit_tree(left, out, total)
    _emit_tree(right, out, total)


def _v6only_attribute(buffer: bytearray, body: int, end: int) -> bool | None:
    """The INET_DIAG_SKV6ONLY attribute after the fixed message, if present."""
    offset = body + _INET_DIAG_MSG_LEN
    while offset + _NLATTR.size <= end:
        length, kind = _NLATTR.unpack_from(buffer, offset)
        if length < _NLATTR.size:
            return None
        if kind & 0x3FFF == INET_DIAG_SKV6ONLY and length > _NLATTR.size:
            return bool(buffer[offset + _NLATTR.size])
        offset += (length + 3) & ~3
    return None


class LinuxNetlinkSource(SocketSource):
    """sock_diag tables plus cached owners; falls back to /proc/net when refused."""

    name = "linux-netlink"
    privilege_hint = "run as root (sudo) to see them"

    def __init__(
        self,
        *,
        walk_budget: float | None = WALK_BUDGET,
        cold_walk_budget: float | None = None,
        proc_root: str = "/proc",
        use_netlink: bool = True,
        require_netlink: bool = False,
    ) -> None:
        """``walk_budget``: CPU seconds per poll for finding new sockets' owners.

        ``require_netlink`` raises :class:`NetlinkRefusedError` when no netlink
        socket can be opened, instead of reading /proc/net.
        ``cold_walk_budget`` applies to the first poll; None walks until every
        owner is found (one-shot commands want complete answers, and that walk
        still stops earlier than psutil's full one). A UI that wants the table
        at once and owners filled in afterwards sets it to ``walk_budget``.
        """
        self._diag: SockDiag | None = None
        self._fallback_reason: str | None = None
        self._fallback_warned = False
        self._reopen = False  # a read failed for a passing reason: netlink next time
        if use_netlink:
            try:
                self._diag = SockDiag()
            except NetlinkRefusedError as exc:
                if require_netlink:
                    raise
                self._fallback_reason = str(exc)
        else:
            self._fallback_reason = "netlink sock_diag disabled"
        self.owners = SocketOwners(
            proc_root=proc_root, walk_budget=walk_budget, cold_walk_budget=cold_walk_budget
        )
        self._proc_net = Path(proc_root) / "net"
        self._tcp_counters = TcpOpenCounters(self._proc_net / "snmp")
        # The last dump of established sockets counted per listener: the TCP
        # counters read just before it, its port filter, when it was made.
        self._counted_dump: tuple[tuple[bytes, ...], set[tuple[int, int]], float] | None = None
        self._counted_sockets: list[KernelSocket] = []
        self.established_dumps = 0
        self.established_reuses = 0
        # The rows of the previous read, by socket, to reuse for unchanged ones.
        self._rows: dict[RowKey, CachedRows] = {}
        self._connection_rows: dict[RowKey, CachedRows] = {}
        self._counted: dict[int, tuple[KernelSocket, RawSocket]] = {}
        self._last_sockets: list[KernelSocket] | None = None
        self._last_owners: dict[int, Owner] = {}
        self._last_listeners: list[RawSocket] = []
        self._last_established: list[KernelSocket] | None = None
        self._last_counted: list[RawSocket] = []
        # The TCP listeners of the last read and their (family, port) pairs.
        self._listening: tuple[list[KernelSocket], set[tuple[int, int]]] = ([], set())

    @property
    def warming_up(self) -> bool:
        return self.owners.first_pass_running

    @property
    def using_netlink(self) -> bool:
        return self._diag is not None

    def close(self) -> None:
        self._tcp_counters.close()
        self.owners.close()
        self._close_diag()

    def _close_diag(self) -> None:
        if self._diag is not None:
            self._diag.close()
            self._diag = None

    def ephemeral_range(self) -> tuple[int, int] | None:
        return read_linux_ephemeral_range()

    def read_tables(self, *, all_established: bool) -> SocketTables:
        """The kernel tables without owners (netlink, or /proc/net if refused).

        Raises :class:`TableReadError` when neither could be read this time.
        """
        if self._diag is None and self._reopen:
            # The last read failed for a passing reason: netlink again.
            self._reopen = False
            try:
                self._diag = SockDiag()
            except OSError as exc:
                self._reopen = True
                raise TableReadError(f"the kernel's socket list: {os_reason(exc)}") from exc
        if self._diag is not None:
            try:
                return self._read_netlink(self._diag, all_established=all_established)
            except OSError as exc:
                if exc.errno in _REFUSED:
                    log.warning("netlink sock_diag refused (%s); reading /proc/net instead", exc)
                    self._fallback_reason = f"netlink sock_diag refused: {exc}"
                    self._close_diag()
                else:
                    # A transient failure (ENOBUFS under memory pressure, a
                    # dump interrupted by a table change): reopen and retry once.
                    log.info("netlink read failed (%s); retrying on a new socket", exc)
                    self._close_diag()
                    try:
                        self._diag = SockDiag()
                        return self._read_netlink(self._diag, all_established=all_established)
                    except OSError as again:
                        # Not this time: the last picture stays, netlink is tried next poll.
                        self._close_diag()
                        self._reopen = True
                        reason = os_reason(again)
                        raise TableReadError(f"the kernel's socket list: {reason}") from again
        try:
            return read_proc_net(self._proc_net)
        except OSError as exc:
            raise TableReadError(f"{self._proc_net}: {os_reason(exc)}") from exc

    def _read_netlink(self, diag: SockDiag, *, all_established: bool) -> SocketTables:
        if all_established:
            listeners = diag.dump("tcp", _LISTEN_STATES) + diag.dump("udp", _UNCONNECTED_STATES)
            return SocketTables(listeners, diag.dump("tcp", _ESTABLISHED_STATES))
        # Read before the dumps: a connection that comes or goes after this
        # read moves the counters for the next poll.
        counters = self._tcp_counters.read()
        listeners = diag.dump("tcp", _LISTEN_STATES)
        if listeners != self._listening[0]:
            self._listening = (listeners, {(s.family, s.local_port) for s in listeners})
        listening = self._listening[1]
        listeners = listeners + diag.dump("udp", _UNCONNECTED_STATES)
        return SocketTables(listeners, self._counted_connections(diag, counters, listening))

    def _counted_connections(
        self, diag: SockDiag, counters: tuple[bytes, ...] | None, listening: set[tuple[int, int]]
    ) -> list[KernelSocket]:
        """Established sockets on listening ports: the last dump while no counter moved."""
        now = time.monotonic()
        last = self._counted_dump
        if (
            counters is not None
            and last is not None
            and last[0] == counters
            and last[1] is listening  # the same listeners: the same port filter
            and now - last[2] < ESTABLISHED_MAX_AGE
        ):
            self.established_reuses += 1
            return self._counted_sockets
        self._counted_sockets = diag.dump("tcp", _ESTABLISHED_STATES, only_local_ports=listening)
        self.established_dumps += 1
        self._counted_dump = None if counters is None else (counters, listening, now)
        return self._counted_sockets

    def read(self, *, connection_owners: bool) -> RawTable:
        tables = self.read_tables(all_established=connection_owners)
        table = RawTable()
        if self._fallback_reason is not None and not self._fallback_warned:
            self._fallback_warned = True
            table.warnings.append(
                f"{self._fallback_reason}; reading /proc/net instead (slower, no IPv6-only flag)"
            )
        wanted: list[KernelSocket] = list(tables.listeners)
        if connection_owners:
            wanted += tables.established
        owners = self.owners.resolve(wanted)
        if self.owners.stats.failed:
            table.warnings.append(
                f"owner lookup failed for {self.owners.stats.failed} sockets: "
                f"{self.owners.lookup_failure or 'unknown reason'}"
            )
        if (
            not connection_owners
            and tables.listeners == self._last_sockets
            and owners == self._last_owners
        ):
            # The same sockets (the same objects: identity checks, in C) with
            # the same owners: the same rows.
            table.listeners.extend(self._last_listeners)
        else:
            made, self._rows = self._rows_for(tables.listeners, owners, self._rows)
            table.listeners.extend(made)
            self._last_sockets, self._last_owners = tables.listeners, owners
            self._last_listeners = list(table.listeners)
        if connection_owners:
            made, self._connection_rows = self._rows_for(
                tables.established, owners, self._connection_rows
            )
            table.established.extend(made)
        elif tables.established == self._last_established:
            table.established.extend(self._last_counted)
        else:
            # Counted per listener only: no owner, one row per socket.
            previous_counted, counted = self._counted, {}
            append = table.established.append
            for ks in tables.established:
                hit = previous_counted.get(ks.inode)
                raw = hit[1] if hit is not None and hit[0] is ks else _raw_sockets(ks, None)[0]
                counted[ks.inode] = (ks, raw)
                append(raw)
            self._counted = counted
            self._last_established = tables.established
            self._last_counted = list(table.established)
        return table

    @staticmethod
    def _rows_for(
        sockets: list[KernelSocket], owners: dict[int, Owner], previous: dict[RowKey, CachedRows]
    ) -> tuple[list[RawSocket], dict[RowKey, CachedRows]]:
        """RawSockets for ``sockets``; a socket seen before with the same owner reuses its rows."""
        rows: dict[RowKey, CachedRows] = {}
        out: list[RawSocket] = []
        for ks in sockets:
            owner = owners.get(ks.inode)
            key = (ks.inode, owner)
            cached = previous.get(key) if ks.inode else None
            made = cached[1] if cached is not None and cached[0] is ks else _raw_sockets(ks, owner)
            if ks.inode:
                rows[key] = (ks, made)
            out.extend(made)
        return out, rows


RowKey = tuple[int, "Owner | None"]
CachedRows = tuple[KernelSocket, list[RawSocket]]


def _raw_sockets(ks: KernelSocket, owner: Owner | None) -> list[RawSocket]:
    """One row per process holding the socket, as psutil lists them."""
    listening = ks.state != TCP_ESTABLISHED
    remote_address = None if listening else ks.remote_address
    remote_port = None if listening else ks.remote_port
    state = STATE_NAMES.get(ks.state, str(ks.state))
    pids: tuple[int | None, ...] = (None,)
    reason: OwnerUnknown | None = None
    if isinstance(owner, tuple) and owner:
        pids = owner
    elif isinstance(owner, OwnerUnknown):
        reason = owner
    return [
        RawSocket(
            ks.proto,
            ks.family,
            ks.local_address,
            ks.local_port,
            remote_address,
            remote_port,
            state,
            pid,
            reason,
            ks.v6only,
        )
        for pid in pids
    ]


__all__ = ["LinuxNetlinkSource", "NetlinkRefusedError", "SockDiag"]
