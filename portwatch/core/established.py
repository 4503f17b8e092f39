"""Established connections counted per listening endpoint, split by where the peer is."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection, Iterable

from portwatch.core.exposure import is_loopback_peer, is_wildcard
from portwatch.core.model import Connection, Listener
from portwatch.core.platform.base import RawSocket

Endpoint = tuple[int, str, int]  # (family, address, port)


class EstablishedCounts:
    """Established connections per listening endpoint, split by where the peer is.

    Indexed by (family, port) so a wildcard listener sums its addresses
    without scanning every connection on the machine.
    """

    def __init__(self, established: Iterable[RawSocket]) -> None:
        # (family, port) -> local address -> [total, from non-loopback peers]
        self._by_port: dict[tuple[int, int], dict[str, list[int]]] = defaultdict(dict)
        loopback = _LOOPBACK_PEERS
        for conn in established:
            per_address = self._by_port[(conn.family, conn.local_port)]
            pair = per_address.get(conn.local_address)
            if pair is None:
                pair = per_address[conn.local_address] = [0, 0]
            pair[0] += 1
            peer = conn.remote_address
            if peer:
                is_local = loopback.get(peer)
                if is_local is None:
                    if len(loopback) > 65536:
                        loopback.clear()
                    is_local = loopback[peer] = is_loopback_peer(peer)
                if not is_local:
                    pair[1] += 1

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, EstablishedCounts):
            return NotImplemented
        return self._by_port == other._by_port

    __hash__ = None  # type: ignore[assignment]  # mutable while built

    def for_listener(self, raw: RawSocket, specific: set[Endpoint]) -> tuple[int, int]:
        """(total, remote) for one listener; ``specific`` are all listener endpoints."""
        per_address = self._by_port.get((raw.family, raw.local_port))
        if not per_address:
            return 0, 0
        if not is_wildcard(raw.local_address):
            pair = per_address.get(raw.local_address)
            return (pair[0], pair[1]) if pair else (0, 0)
        # A wildcard listener also owns connections that arrived on a specific
        # address, unless another socket listens on exactly that address.
        total = remote = 0
        for address, (n, r) in per_address.items():
            if not wildcard_owns(raw.family, raw.local_address, raw.local_port, address, specific):
                continue
            total += n
            remote += r
        return total, remote


def wildcard_owns(
    family: int, wildcard: str, port: int, local_address: str, specific: Collection[Endpoint]
) -> bool:
    """Whether a connection to ``local_address`` arrived at the wildcard listener
    (``wildcard``:``port``): yes, unless another socket listens on exactly that address."""
    return local_address == wildcard or (family, local_address, port) not in specific


def listener_endpoints(listeners: Iterable[Listener]) -> set[Endpoint]:
    """The TCP listening endpoints, as :meth:`EstablishedCounts.for_listener` takes them."""
    return {(row.family, row.address, row.port) for row in listeners if row.proto == "tcp"}


def accepted_by(
    listener: Listener, connections: Iterable[Connection], specific: Collection[Endpoint]
) -> list[Connection]:
    """The established connections that arrived at ``listener``'s socket, whichever
    of its holders accepted them: matched by local endpoint as they are counted
    (``specific``: every listening endpoint, see :func:`listener_endpoints`)."""
    if listener.proto != "tcp":
        return []
    family, address, port = listener.family, listener.address, listener.port
    wildcard = is_wildcard(address)
    mine: dict[tuple[str, int, str, int], Connection] = {}
    for conn in connections:
        if conn.proto != "tcp" or conn.local_port != port or conn.family != family:
            continue
        if conn.local_address != address and not (
            wildcard and wildcard_owns(family, address, port, conn.local_address, specific)
        ):
            continue
        # A socket several processes hold is listed once per holder: once here.
        ends = (conn.local_address, conn.local_port, conn.remote_address, conn.remote_port)
        mine.setdefault(ends, conn)
    return list(mine.values())


# Peer address -> on this machine's loopback; a few thousand distinct peers at most.
_LOOPBACK_PEERS: dict[str, bool] = {}


__all__ = [
    "Endpoint",
    "EstablishedCounts",
    "accepted_by",
    "listener_endpoints",
    "wildcard_owns",
]
