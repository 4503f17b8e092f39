"""Linux: the socket tables as the kernel reports them, before owners are attached.

Two readers give the same :class:`KernelSocket` records: ``sock_diag`` netlink
(:mod:`portwatch.core.platform.netlink`, the fast one, with the state filter done in the kernel)
and the text files under ``/proc/net`` (this module, the fallback where
netlink is refused, e.g. by a seccomp profile or a hardened container).
"""

from __future__ import annotations

import errno
import io
import os
import socket
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import NamedTuple

from portwatch.core.model import Proto

# Kernel TCP states (include/net/tcp_states.h); UDP reuses TCP_CLOSE for
# unconnected sockets and TCP_ESTABLISHED for connected ones.
TCP_ESTABLISHED = 1
TCP_CLOSE = 7
TCP_LISTEN = 10

STATE_NAMES = {TCP_ESTABLISHED: "ESTABLISHED", TCP_CLOSE: "UNCONN", TCP_LISTEN: "LISTEN"}

_LITTLE_ENDIAN = sys.byteorder == "little"


class KernelSocket(NamedTuple):
    """One socket from the kernel's tables: addresses, state, creator uid, inode, cgroup."""

    proto: Proto
    family: int  # 4 or 6
    state: int  # kernel TCP state number
    local_address: str
    local_port: int
    remote_address: str
    remote_port: int
    uid: int
    inode: int
    # IPV6_V6ONLY of an IPv6 listening or unconnected socket; None if not reported.
    v6only: bool | None
    # The cgroup v2 id (the inode of its folder under the cgroup2 mount) of the
    # process that made a listening or unconnected socket, from sock_diag;
    # None where not reported (/proc/net, kernels before 5.7, connections).
    cgroup_id: int | None = None


class SocketTables(NamedTuple):
    """One read: listeners (TCP LISTEN, UDP unconnected) and established TCP."""

    listeners: list[KernelSocket]
    established: list[KernelSocket]


PROC_NET_FILES: tuple[tuple[str, Proto, int], ...] = (
    ("tcp", "tcp", 4),
    ("tcp6", "tcp", 6),
    ("udp", "udp", 4),
    ("udp6", "udp", 6),
)


def _address(hex_text: str, family: int) -> str:
    """/proc/net prints addresses as host-order 32-bit words in hex."""
    raw = bytes.fromhex(hex_text)
    if _LITTLE_ENDIAN:
        raw = b"".join(raw[i : i + 4][::-1] for i in range(0, len(raw), 4))
    return socket.inet_ntop(socket.AF_INET if family == 4 else socket.AF_INET6, raw)


def parse_proc_net(
    text: str,
    proto: Proto,
    family: int,
    *,
    listeners_only: bool = False,
    state: int | None = None,
) -> Iterator[KernelSocket]:
    """Parse one /proc/net/{tcp,tcp6,udp,udp6} table; malformed lines are skipped.

    ``listeners_only``: established TCP sockets are skipped before being decoded.
    ``state``: only TCP sockets in that kernel state (e.g. TIME_WAIT), nothing else.
    """
    for line in text.splitlines()[1:]:
        fields = line.split()
        if len(fields) < 10:
            continue
        try:
            local, remote, state_hex = fields[1], fields[2], fields[3]
            found = int(state_hex, 16)
            if state is not None:
                if found != state:
                    continue
            elif (
                proto == "tcp"
                and found != TCP_LISTEN
                and (listeners_only or found != TCP_ESTABLISHED)
            ) or (proto == "udp" and found != TCP_CLOSE):
                continue
            laddr_hex, lport_hex = local.split(":")
            raddr_hex, rport_hex = remote.split(":")
            yield KernelSocket(
                proto=proto,
                family=family,
                state=found,
                local_address=_address(laddr_hex, family),
                local_port=int(lport_hex, 16),
                remote_address=_address(raddr_hex, family),
                remote_port=int(rport_hex, 16),
                uid=int(fields[7]),
                inode=int(fields[9]),
                v6only=None,
            )
        except (ValueError, OSError):
            continue


def read_proc_net(root: Path = Path("/proc/net"), *, listeners_only: bool = False) -> SocketTables:
    """All four tables from /proc/net; a missing IPv6 table (no IPv6) counts as empty.

    ``listeners_only``: the established list stays empty (none decoded).

    Any other failure to read a table raises OSError: a table taken as empty
    would look as if every port on it had been freed.
    """
    listeners: list[KernelSocket] = []
    established: list[KernelSocket] = []
    for name, proto, family in PROC_NET_FILES:
        try:
            text = (root / name).read_text(encoding="ascii", errors="replace")
        except FileNotFoundError:
            if family == 6:
                continue
            raise
        for sock in parse_proc_net(text, proto, family, listeners_only=listeners_only):
            if sock.state == TCP_ESTABLISHED:
                established.append(sock)
            else:
                listeners.append(sock)
    return SocketTables(listeners, established)


def read_head(fd: int, size: int) -> bytes:
    """Up to ``size`` bytes from the start of an open file, in one system call."""
    if sys.platform == "win32":
        raise OSError(errno.ENOSYS, "pread is not available on Windows")
    return os.pread(fd, size, 0)


class TcpOpenCounters:
    """The TCP counters of ``/proc/net/snmp`` that move when established sockets do.

    A socket enters ESTABLISHED with CurrEstab + 1, and a server's accepted
    socket is counted in PassiveOpens as it is made; leaving ESTABLISHED is
    CurrEstab - 1. So while ActiveOpens, PassiveOpens and CurrEstab all stay
    the same, no connection to a listener came or went (the counters are the
    network namespace's, IPv4 and IPv6 together, as sock_diag's tables).
    Reading them costs ~25 µs; dumping the established table walks the
    kernel's whole connection hash (2^18 buckets here: ~2-3 ms).
    """

    _FIELDS = (b"ActiveOpens", b"PassiveOpens", b"CurrEstab")

    def __init__(self, path: Path = Path("/proc/net/snmp")) -> None:
        # Kept open (a pread a poll); a file object closes it when it goes.
        self._file: io.FileIO | None = None
        self._columns: tuple[int, ...] = ()
        try:
            file = io.FileIO(path, "r")
        except OSError:
            return
        try:
            names = self._tcp_lines(read_head(file.fileno(), 65536))[0].split()
            self._columns = tuple(names.index(name) for name in self._FIELDS)
        except (OSError, ValueError, IndexError):
            file.close()
            return
        self._file = file

    @staticmethod
    def _tcp_lines(data: bytes) -> tuple[bytes, bytes]:
        """The "Tcp:" header line and the "Tcp:" values line after it."""
        start = data.index(b"\nTcp: ") + 1
        middle = data.index(b"\n", start) + 1
        end = data.find(b"\n", middle)
        return data[start:middle], data[middle : end if end >= 0 else len(data)]

    @property
    def available(self) -> bool:
        return self._file is not None

    def read(self) -> tuple[bytes, ...] | None:
        """The counters now, or None if they cannot be read (then dump every time)."""
        if self._file is None:
            return None
        try:
            values = self._tcp_lines(read_head(self._file.fileno(), 65536))[1].split()
            return tuple(values[column] for column in self._columns)
        except (OSError, ValueError, IndexError):
            return None

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None
