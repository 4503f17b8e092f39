"""Established connections counted per listening endpoint, split by where the peer is."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable

from portwatch.core.exposure import is_loopback_peer, is_wildcard
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
            if address != raw.local_address and (raw.family, address, raw.local_port) in specific:
                continue
            total += n
            remote += r
        return total, remote


# Peer address -> on this machine's loopback; a few thousand distinct peers at most.
_LOOPBACK_PEERS: dict[str, bool] = {}


__all__ = ["Endpoint", "EstablishedCounts"]
