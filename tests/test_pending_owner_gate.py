"""New sockets wait (a few scans at most) for their owner before alerts and history see them."""

from __future__ import annotations

import sys

import pytest

from portwatch.core.diff import Event, EventKind, PendingOwnerGate, diff
from portwatch.core.model import OwnerUnknown, Snapshot
from portwatch.core.scanner import Scanner
from tests.support.procs import Endpoint, ListenerProcess, at

pytestmark = pytest.mark.skipif(sys.platform != "linux", reason="the Linux owner walk")


def _ports(
    snapshot: Snapshot, endpoints: list[Endpoint]
) -> list[tuple[int | None, OwnerUnknown | None]]:
    return [(r.pid, r.owner_unknown) for r in at(snapshot.listeners, endpoints)]


def _events(before: Snapshot, after: Snapshot, endpoints: list[Endpoint]) -> list[Event]:
    return [e for e in diff(before, after) if at([e.listener], endpoints)]


def test_a_new_socket_waits_for_its_owner_then_arrives_named() -> None:
    from portwatch.core.platform.netlink.source import LinuxNetlinkSource

    # No time for the owner walk: every socket it has not met stays "looking up".
    source = LinuxNetlinkSource(walk_budget=0.0, cold_walk_budget=0.0)
    scanner = Scanner(source, connection_owners=False)
    gate = PendingOwnerGate(max_scans=3)
    previous = gate.settle(None, scanner.scan())  # the first snapshot passes whole
    with ListenerProcess(["tcp:127.0.0.1:0"]) as child:
        mine = child.endpoints
        raw = scanner.scan()
        assert _ports(raw, mine) == [(None, OwnerUnknown.PENDING)]
        settled = gate.settle(previous, raw)
        assert _ports(settled, mine) == []
        assert not _events(previous, settled, mine)
        previous = settled

        # The walk gets its time: the socket arrives with its owner, as one bound event.
        source.owners.walk_budget = 1.0
        for _ in range(20):
            settled = gate.settle(previous, scanner.scan())
            events = _events(previous, settled, mine)
            previous = settled
            if events:
                break
        assert [(e.kind, e.listener.pid) for e in events] == [(EventKind.BOUND, child.pid)]


def test_a_socket_whose_owner_never_comes_passes_after_max_scans() -> None:
    from portwatch.core.platform.netlink.source import LinuxNetlinkSource

    source = LinuxNetlinkSource(walk_budget=0.0, cold_walk_budget=0.0)
    scanner = Scanner(source, connection_owners=False)
    gate = PendingOwnerGate(max_scans=2)
    previous = gate.settle(None, scanner.scan())
    with ListenerProcess(["udp:127.0.0.1:0"]) as child:
        mine = child.endpoints
        seen = []
        for _ in range(3):
            settled = gate.settle(previous, scanner.scan())
            seen.append(_ports(settled, mine))
            previous = settled
        # Held for two scans, then shown as it is rather than never.
        assert seen == [[], [], [(None, OwnerUnknown.PENDING)]]
        # Once shown it is known: it is not held again.
        assert _ports(gate.settle(previous, scanner.scan()), mine) == [(None, OwnerUnknown.PENDING)]
