"""A quiet poll does no row work: each layer says "unchanged" and the one above believes it.

Real sockets on loopback and real scans. Other programs on the machine may
open or close sockets at any time, so a poll counts as quiet when the layer
below reported no change; every such poll must then cost no row work above
it, and a new listener must show as a change in every layer.
"""

from __future__ import annotations

import socket
import sys
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from portwatch.core.model import Snapshot
from portwatch.core.scanner import Scanner
from tests.support.procs import at, wait_until

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="Linux fast path")

netlink = pytest.importorskip("portwatch.core.platform.netlink.source")
SockDiag = pytest.importorskip("portwatch.core.platform.netlink.sock_diag").SockDiag

LISTEN = 1 << 10
POLLS = 60


@dataclass(frozen=True)
class Counters:
    """What one poll of the netlink source cost, layer by layer, and what it said."""

    tables: tuple[int, int]  # the kernel tables' generations (listeners, established)
    owners: int  # the owner cache's generation
    row_passes: tuple[int, int]  # walks over the sockets to make rows (listeners, counted)
    listener_rows: int  # sockets turned into listener rows so far
    counted_rows: int  # established sockets turned into counted rows so far
    rows_generation: tuple[int, int]  # the row caches' (listeners, counted established)
    snapshot: int  # the snapshot's listeners_generation


def _counters(source: object, snapshot: Snapshot) -> Counters:
    assert isinstance(source, netlink.LinuxNetlinkSource)
    return Counters(
        tables=source.tables_generations(),
        owners=source.owners.generation,
        row_passes=(source.listener_rows.passes, source.counted_rows.passes),
        listener_rows=source.listener_rows.sockets_converted,
        counted_rows=source.counted_rows.sockets_converted,
        rows_generation=(source.listener_rows.generation, source.counted_rows.generation),
        snapshot=snapshot.listeners_generation,
    )


@pytest.fixture
def loopback_traffic() -> Iterator[list[tuple[str, str, int]]]:
    """Two listeners (TCP and UDP) and one established connection on loopback."""
    tcp = socket.create_server(("127.0.0.1", 0))
    udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    udp.bind(("127.0.0.1", 0))
    client = socket.create_connection(tcp.getsockname())
    accepted, _ = tcp.accept()
    try:
        yield [
            ("tcp", "127.0.0.1", tcp.getsockname()[1]),
            ("udp", "127.0.0.1", udp.getsockname()[1]),
        ]
    finally:
        for sock in (accepted, client, udp, tcp):
            sock.close()


def test_a_quiet_poll_does_no_row_work_in_any_layer(
    loopback_traffic: list[tuple[str, str, int]],
) -> None:
    source = netlink.LinuxNetlinkSource()
    scanner = Scanner(source, connection_owners=False)
    try:
        # Every owner of the test's listeners known: from then on only changes cost.
        assert wait_until(
            lambda: {r.pid for r in at(scanner.scan().listeners, loopback_traffic)} != {None},
            timeout=10,
            step=0,
        )
        previous = scanner.scan()
        before = _counters(source, previous)
        quiet = 0
        for _ in range(POLLS):
            snapshot = scanner.scan()
            now = _counters(source, snapshot)
            if now.tables == before.tables and now.owners == before.owners:
                quiet += 1
                # Nothing below changed: no rows made, no walk, the same answer up to the top.
                assert now.row_passes == before.row_passes, (before, now)
                assert now.listener_rows == before.listener_rows, (before, now)
                assert now.counted_rows == before.counted_rows, (before, now)
                assert now.rows_generation == before.rows_generation, (before, now)
                assert now.snapshot == before.snapshot, (before, now)
                assert snapshot.listeners is previous.listeners
            previous, before = snapshot, now
        # On a busy machine some polls see other programs' sockets change; most do not.
        assert quiet >= POLLS // 4, quiet

        # A change shows in every layer: a new listener makes one new row and a new generation.
        with socket.create_server(("127.0.0.1", 0)) as extra:
            endpoint = ("tcp", "127.0.0.1", extra.getsockname()[1])
            snapshot = scanner.scan()
            now = _counters(source, snapshot)
            assert at(snapshot.listeners, [endpoint])
            assert now.tables[0] != before.tables[0]
            assert now.listener_rows > before.listener_rows
            assert now.rows_generation[0] != before.rows_generation[0]
            assert now.snapshot > before.snapshot
    finally:
        scanner.close()


@pytest.mark.usefixtures("loopback_traffic")
def test_an_unchanged_dump_keeps_its_generation_and_decodes_nothing() -> None:
    diag = SockDiag()
    try:
        last = diag.dump("tcp", LISTEN)
        generation = diag.generation("tcp", LISTEN)
        decoded = diag.sockets_decoded
        assert decoded >= len(last) > 0  # the first dump decodes every socket
        same = 0
        for _ in range(POLLS):
            sockets = diag.dump("tcp", LISTEN)
            if diag.generation("tcp", LISTEN) == generation:
                same += 1
                # The very same sockets, none of them decoded again.
                assert diag.sockets_decoded == decoded
                assert len(sockets) == len(last)
                assert all(a is b for a, b in zip(sockets, last, strict=True))
            else:
                assert sockets != last  # a new generation only for a changed table
            last, generation, decoded = (
                sockets,
                diag.generation("tcp", LISTEN),
                diag.sockets_decoded,
            )
        assert same >= POLLS // 4, same
        with socket.create_server(("127.0.0.1", 0)):
            diag.dump("tcp", LISTEN)
            assert diag.generation("tcp", LISTEN) > generation
            assert diag.sockets_decoded > decoded
    finally:
        diag.close()
