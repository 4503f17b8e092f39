"""The inet_diag bytecode compiler: a local-port filter the kernel runs per socket."""

from __future__ import annotations

import math
import socket
import struct

# Jump offsets and the attribute length are 16-bit: the port filter's
# bytecode (16 bytes a port, see local_port_bytecode) must stay under 64 KiB.
KERNEL_FILTER_MAX_PORTS = 4000
_MAX_BYTECODE = 0xFFFF - 4
# struct inet_diag_bc_op: code, yes (jump if true), no (jump if false).
_BC_OP = struct.Struct("=BBH")
INET_DIAG_BC_JMP = 1
INET_DIAG_BC_S_GE = 2
INET_DIAG_BC_S_LE = 3

# The local-port filter a dump is read with: its bytecode (empty: filtered
# here) and the (raw address family, port) pairs kept; None for every socket.
PortFilter = tuple[bytes, set[tuple[int, int]]] | None


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


class PortFilters:
    """The port filter for a set of (family, port) pairs, made again only when the set changes."""

    def __init__(self) -> None:
        self._bytecode: tuple[frozenset[int], bytes] | None = None
        self._last: tuple[set[tuple[int, int]], bool, PortFilter] | None = None

    def bytecode(self, ports: frozenset[int]) -> bytes:
        """inet_diag bytecode accepting sockets whose local port is in ``ports``."""
        if self._bytecode is None or self._bytecode[0] != ports:
            self._bytecode = (ports, local_port_bytecode(sorted(ports)))
        return self._bytecode[1]

    def for_ports(
        self, only_local_ports: set[tuple[int, int]] | None, *, in_kernel: bool
    ) -> PortFilter:
        """Bytecode and the kept pairs; the same object while the set is unchanged.

        ``in_kernel`` False (an old kernel that rejects bytecode): no bytecode,
        the caller filters every socket by the kept pairs.
        """
        if only_local_ports is None:
            return None
        last = self._last
        if last is not None and last[1] == in_kernel and last[0] == only_local_ports:
            return last[2]
        bytecode = b""
        if in_kernel and len(only_local_ports) <= KERNEL_FILTER_MAX_PORTS:
            bytecode = self.bytecode(frozenset(port for _, port in only_local_ports))
        # Keyed by the raw address family, so the test comes first.
        keep = {
            (int(socket.AF_INET) if family == 4 else int(socket.AF_INET6), port)
            for family, port in only_local_ports
        }
        made: PortFilter = (bytecode, keep)
        self._last = (set(only_local_ports), in_kernel, made)
        return made


def keeps_the_same(before: PortFilter, now: PortFilter) -> bool:
    """Whether a datagram repeated under both filters keeps the same sockets under both.

    With both filters in the kernel a repeated datagram holds only ports both
    let through (a new listener without connections leaves it as it was); it
    keeps the same sockets unless one of those ports gained or lost a family.
    """
    if before is now:
        return True
    if before is None or now is None or not before[0] or not now[0]:
        return before == now
    changed = before[1] ^ now[1]
    if not changed:
        return True
    ports_before = {port for _, port in before[1]}
    ports_now = {port for _, port in now[1]}
    return not any(port in ports_before and port in ports_now for _, port in changed)
