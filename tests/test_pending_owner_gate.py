"""New sockets wait (a few scans at most) for their owner before alerts and history see them."""

from __future__ import annotations

import sys

import pytest

from portwatch.core import EventKind, OwnerUnknown, Scanner, diff
from portwatch.core.diff import PendingOwnerGate
from portwatch.core.model import Snapshot
from tests.support.procs import ListenerProcess

pytestmark = pytest.mark.skipif(sys.platform != "linux", reason="the Linux owner walk")


def _ports(snapshot: Snapshot, port: int) -> list[tuple[int | None, OwnerUnknown | None]]:
    return [(r.pid, r.owner_unknown) for r in snapshot.listeners if r.port == port]


def test_a_new_socket_waits_for_its_owner_then_arrives_named() -> None:
    from portwatch.core.platform.linux_netlink import LinuxNetlinkSource

    # No time for the owner walk: every socket it has not met stays "looking up".
    source = LinuxNetlinkSource(walk_budget=0.0, cold_walk_budget=0.0)
    scanner = Scanner(source, connection_owners=False)
    gate = PendingOwnerGate(max_scans=3)
    previous = gate.settle(None, scanner.scan())  # the first snapshot passes whole
    with ListenerProcess(["tcp:127.0.0.1:0"]) as child:
        port = child.ports[0]
        raw = scanner.scan()
        assert _ports(raw, port) == [(None, OwnerUnknown.PENDING)]
        settled = gate.settle(previous, raw)
        assert _ports(settled, port) == []
        assert not [e for e in diff(previous, settled) if e.listener.port == port]
        previous = settled

        # The walk gets its time: the socket arrives with its owner, as one bound event.
        source.owners.walk_budget = 1.0
        for _ in range(20):
            settled = gate.settle(previous, scanner.scan())
            events = [e for e in diff(previous, settled) if e.listener.port == port]
            previous = settled
            if events:
                break
        assert [(e.kind, e.listener.pid) for e in events] == [(EventKind.BOUND, child.pid)]


def test_a_socket_whose_owner_never_comes_passes_after_max_scans() -> None:
    from portwatch.core.platform.linux_netlink import LinuxNetlinkSource

    source = LinuxNetlinkSource(walk_budget=0.0, cold_walk_budget=0.0)
    scanner = Scanner(source, connection_owners=False)
    gate = PendingOwnerGate(max_scans=2)
    previous = gate.settle(None, scanner.scan())
    with ListenerProcess(["udp:127.0.0.1:0"]) as child:
        port = child.ports[0]
        seen = []
        for _ in range(3):
            settled = gate.settle(previous, scanner.scan())
            seen.append(_ports(settled, port))
            previous = settled
        # Held for two scans, then shown as it is rather than never.
        assert seen == [[], [], [(None, OwnerUnknown.PENDING)]]
        # Once shown it is known: it is not held again.
        assert _ports(gate.settle(previous, scanner.scan()), port) == [(None, OwnerUnknown.PENDING)]
