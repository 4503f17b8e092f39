"""sock_diag on the wire: the kernel's constants and structs, and the netlink socket.

Field layouts follow linux/netlink.h, linux/sock_diag.h and linux/inet_diag.h.
"""

from __future__ import annotations

import errno
import socket
import struct
import sys

NETLINK_SOCK_DIAG = 4
SOCK_DIAG_BY_FAMILY = 20
TCPDIAG_GETSOCK = 18
NLM_F_REQUEST = 0x1
NLM_F_DUMP = 0x300  # NLM_F_ROOT | NLM_F_MATCH
NLMSG_ERROR = 2
NLMSG_DONE = 3
INET_DIAG_REQ_BYTECODE = 1
INET_DIAG_SKV6ONLY = 11
# The socket's cgroup v2 id, a u64 the kernel adds to every inet_diag reply
# without being asked (inet_diag_msg_attrs_fill, CONFIG_SOCK_CGROUP_DATA,
# Linux 5.7+); an INET_DIAG_PAD attribute may come before it to align it.
INET_DIAG_CGROUP_ID = 21

# struct nlmsghdr: len, type, flags, seq, pid.
NLMSGHDR = struct.Struct("=IHHII")
# struct inet_diag_req_v2: family, protocol, ext, pad, states, then an all-zero
# inet_diag_sockid (48 bytes): a dump of every socket in those states.
REQ_V2 = struct.Struct("=BBBxI48x")
# struct inet_diag_req (TCPDIAG_GETSOCK): family, src_len, dst_len, ext, sockid,
# states, dbs.
REQ_COMPAT = struct.Struct("=B3x48xI4x")
# struct inet_diag_msg, split by byte order: family and state; the sockid's
# ports and addresses (network order); then uid and inode (host order).
MSG = struct.Struct("=IHHIIBBxxHH")  # nlmsghdr + family, state, -, sport, dport
MSG_UID_INODE = struct.Struct("=II")
NL_LENGTH_KIND = struct.Struct("=IH")
NLATTR = struct.Struct("=HH")
# An attribute whole: its header and a u8 or u64 value (nla_len 5 and 12).
ATTR_U8 = struct.Struct("=HHB")
ATTR_U64 = struct.Struct("=HHQ")
NLMSG_ERROR_CODE = struct.Struct("=i")
INET_DIAG_MSG_LEN = 72
MIN_DIAG_LENGTH = NLMSGHDR.size + INET_DIAG_MSG_LEN  # before attributes
# Offsets in an inet_diag_msg: the local and remote addresses, uid and inode.
LOCAL_ADDRESS_AT = 8
REMOTE_ADDRESS_AT = 24
UID_INODE_AT = 64

# Ports arrive in network order; a table lookup swaps them faster than struct.
SWAP16 = (
    tuple(((p & 0xFF) << 8) | (p >> 8) for p in range(65536))
    if sys.byteorder == "little"
    else tuple(range(65536))
)

RECV_BUFFER = 1 << 18

# errno values that mean "this kernel or sandbox will not talk sock_diag to us".
REFUSED = frozenset(
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


class NetlinkRefusedError(OSError):
    """The kernel or a sandbox refuses sock_diag; /proc/net has to do."""


def open_netlink() -> socket.socket:
    """A bound NETLINK_SOCK_DIAG socket, or :class:`NetlinkRefusedError`."""
    if not sys.platform.startswith("linux"):
        raise NetlinkRefusedError(errno.EAFNOSUPPORT, "netlink sock_diag unavailable: not Linux")
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


def dump_request(family: int, protocol: int, states: int, bytecode: bytes) -> tuple[int, bytes]:
    """The message kind and body of a dump request; ``family`` 0 means both (TCP only)."""
    attribute = b""
    if bytecode:
        attribute = NLATTR.pack(NLATTR.size + len(bytecode), INET_DIAG_REQ_BYTECODE) + bytecode
    if family == 0:
        # The older TCPDIAG_GETSOCK request dumps both families in one
        # walk of the kernel's connection hash table; SOCK_DIAG_BY_FAMILY
        # walks that (mostly empty, often 2^17+ buckets) table once per family.
        return TCPDIAG_GETSOCK, REQ_COMPAT.pack(socket.AF_INET, states) + attribute
    return SOCK_DIAG_BY_FAMILY, REQ_V2.pack(family, protocol, 0, states) + attribute


def attribute_offsets(buffer: bytearray, start: int, end: int) -> tuple[int, int]:
    """Where INET_DIAG_SKV6ONLY and INET_DIAG_CGROUP_ID begin in the message at ``start``.

    Counted from ``start``; 0 for one the kernel did not send. The walk stops
    at the cgroup id: the kernel puts v6only before it.
    """
    v6only_at = cgroup_at = 0
    offset = start + MIN_DIAG_LENGTH
    while offset + NLATTR.size <= end:
        length, kind = NLATTR.unpack_from(buffer, offset)
        if length < NLATTR.size or offset + length > end:
            break
        kind &= 0x3FFF
        if kind == INET_DIAG_SKV6ONLY and length == ATTR_U8.size:
            v6only_at = offset - start
        elif kind == INET_DIAG_CGROUP_ID and length == ATTR_U64.size:
            cgroup_at = offset - start
            break
        offset += (length + 3) & ~3
    return v6only_at, cgroup_at


def read_attributes(
    buffer: bytearray, start: int, layout: tuple[int, int]
) -> tuple[bool | None, int | None] | None:
    """v6only and the cgroup id at a layout's offsets; None if this message has another layout."""
    v6only_at, cgroup_at = layout
    v6only: bool | None = None
    cgroup_id: int | None = None
    if v6only_at:
        length, kind, flag = ATTR_U8.unpack_from(buffer, start + v6only_at)
        if length != ATTR_U8.size or kind & 0x3FFF != INET_DIAG_SKV6ONLY:
            return None
        v6only = bool(flag)
    if cgroup_at:
        length, kind, cgroup_id = ATTR_U64.unpack_from(buffer, start + cgroup_at)
        if length != ATTR_U64.size or kind & 0x3FFF != INET_DIAG_CGROUP_ID:
            return None
    return v6only, cgroup_id
