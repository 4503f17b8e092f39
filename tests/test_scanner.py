"""The engine against real sockets held by real child processes."""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest

from portwatch.core.diff import EventKind, diff
from portwatch.core.model import Exposure, Listener, OwnerUnknown
from portwatch.core.naming import kernel_owner, process_text
from portwatch.core.platform.base import RawSocket, RawTable, SocketSource
from portwatch.core.platform.cgroups import CgroupIndex
from portwatch.core.scanner import Scanner
from tests.support.procs import ListenerProcess, at, connect_clients, wait_until

SPECS = [
    "tcp:127.0.0.1:0",
    "tcp:127.0.0.2:0",
    "tcp:0.0.0.0:0",
    "tcp:::1:0",
    "tcp6dual::::0",
    "tcp6only::::0",
    "udp:127.0.0.1:0",
    "udp:0.0.0.0:0",
    "udp:::1:0",
]
EXPECTED = [
    ("tcp", 4, "127.0.0.1", Exposure.LOOPBACK),
    ("tcp", 4, "127.0.0.2", Exposure.LOOPBACK),
    ("tcp", 4, "0.0.0.0", Exposure.PUBLIC),
    ("tcp", 6, "::1", Exposure.LOOPBACK),
    ("tcp", 6, "::", Exposure.PUBLIC),
    ("tcp", 6, "::", Exposure.PUBLIC),
    ("udp", 4, "127.0.0.1", Exposure.LOOPBACK),
    ("udp", 4, "0.0.0.0", Exposure.PUBLIC),
    ("udp", 6, "::1", Exposure.LOOPBACK),
]


@pytest.fixture
def child() -> Iterator[ListenerProcess]:
    proc = ListenerProcess(SPECS)
    yield proc
    proc.stop()


def _find(
    rows: tuple[Listener, ...], proto: str, family: int, address: str, port: int
) -> Listener | None:
    for row in rows:
        if (row.proto, row.family, row.address, row.port) == (proto, family, address, port):
            return row
    return None


def test_every_kind_of_bind_is_seen_with_owner_and_exposure(child: ListenerProcess) -> None:
    scanner = Scanner()
    snapshot = scanner.scan()
    proc_name = psutil.Process(child.pid).name()
    for (proto, family, address, exposure), port in zip(EXPECTED, child.ports, strict=True):
        row = _find(snapshot.listeners, proto, family, address, port)
        assert row is not None, f"{proto} {address}:{port} missing"
        assert row.pid == child.pid
        assert row.process == proc_name
        assert row.exposure is exposure
        assert row.user == psutil.Process(child.pid).username()
        assert row.cmdline is not None
        assert row.cmdline[-1] == SPECS[-1]
        assert row.started == pytest.approx(psutil.Process(child.pid).create_time())
        assert row.owner_unknown is None
        low, high = scanner.ephemeral_range or (0, 0)
        assert row.ephemeral == (low <= port <= high)
    assert snapshot.duration > 0
    assert snapshot.backend


def test_wildcard_v6_tells_dual_stack_from_v6_only_when_os_says(child: ListenerProcess) -> None:
    snapshot = Scanner().scan()
    dual = _find(snapshot.listeners, "tcp", 6, "::", child.ports[4])
    only = _find(snapshot.listeners, "tcp", 6, "::", child.ports[5])
    assert dual is not None
    assert only is not None
    if sys.platform.startswith("linux") and snapshot.backend == "linux-netlink":
        # sock_diag reports IPV6_V6ONLY: on Linux the flag must be known.
        assert dual.v6only is not None
        assert only.v6only is not None
    if dual.v6only is None:  # the psutil path cannot see IPV6_V6ONLY
        assert only.v6only is None
        assert dual.stack is None
    else:
        assert (dual.v6only, dual.stack) == (False, "dual-stack")
        assert (only.v6only, only.stack) == (True, "IPv6 only")


def test_connection_counts_per_listener_keep_families_apart() -> None:
    with ListenerProcess(["tcp:127.0.0.1:0", "tcp:::1:0"]) as proc:
        v4, v6 = proc.ports
        # Same port number on both families would be ideal; take what the OS gave.
        clients = connect_clients("127.0.0.1", v4, 3) + connect_clients("::1", v6, 2)
        try:
            scanner = Scanner()

            def counted() -> bool:
                snap = scanner.scan()
                a = _find(snap.listeners, "tcp", 4, "127.0.0.1", v4)
                b = _find(snap.listeners, "tcp", 6, "::1", v6)
                return bool(a and b and a.connections == 3 and b.connections == 2)

            assert wait_until(counted, timeout=10)
            snap = scanner.scan()
            row = _find(snap.listeners, "tcp", 4, "127.0.0.1", v4)
            assert row is not None
            assert row.remote_connections == 0
            # The connections view has both ends of each pair, with owners.
            ours = [c for c in snap.connections if c.local_port == v4]
            assert len(ours) == 3
            assert {c.pid for c in ours} == {proc.pid}
            assert all(c.state == "ESTABLISHED" for c in ours)
            client_ends = [c for c in snap.connections if c.remote_port == v4]
            assert {c.pid for c in client_ends} == {os.getpid()}
        finally:
            for c in clients:
                c.close()


def test_wildcard_listener_counts_connections_on_any_address() -> None:
    with ListenerProcess(["tcp:0.0.0.0:0"]) as proc:
        port = proc.ports[0]
        clients = connect_clients("127.0.0.1", port, 2) + connect_clients("127.0.0.3", port, 1)
        try:
            scanner = Scanner(connection_owners=False)

            def counted() -> bool:
                row = _find(scanner.scan().listeners, "tcp", 4, "0.0.0.0", port)
                return row is not None and row.connections == 3

            assert wait_until(counted, timeout=10)
        finally:
            for c in clients:
                c.close()


def _ss_listeners() -> set[tuple[str, str, int, int | None]]:
    out = subprocess.run(["ss", "-Htulnp"], capture_output=True, text=True, check=True).stdout
    found: set[tuple[str, str, int, int | None]] = set()
    for line in out.splitlines():
        parts = line.split()
        proto, local = parts[0], parts[4]
        address, port_text = local.rsplit(":", 1)
        address = address.strip("[]").split("%", 1)[0]
        if address == "*":
            address = "::"
        pids: list[int | None] = [int(p) for p in re.findall(r"pid=(\d+)", line)] or [None]
        for pid in pids:
            found.add((proto, address, int(port_text), pid))
    return found


@pytest.mark.skipif(shutil.which("ss") is None, reason="ss is not installed (iproute2)")
def test_listener_set_matches_ss(child: ListenerProcess) -> None:
    scanner = Scanner(connection_owners=False)
    for _ in range(5):
        before = _ss_listeners()
        ours = {(r.proto, r.address, r.port, r.pid) for r in scanner.scan().listeners}
        after = _ss_listeners()
        if before == after:
            break
    assert ours == before
    # And our child's sockets are part of it, so the comparison is not of two empty sets.
    assert {p for (_, _, p, pid) in ours if pid == child.pid} == set(child.ports)


def test_process_exit_between_scans_frees_its_ports() -> None:
    scanner = Scanner(connection_owners=False)
    proc = ListenerProcess(["tcp:127.0.0.1:0", "udp:127.0.0.1:0"])
    try:
        first = scanner.scan()
        assert {r.port for r in first.listeners if r.pid == proc.pid} == set(proc.ports)
    finally:
        proc.stop()
    second = scanner.scan()
    assert not [r for r in second.listeners if r.pid == proc.pid]
    events = diff(first, second)
    freed = {(e.listener.proto, e.listener.port) for e in events if e.kind is EventKind.FREED}
    assert freed >= {("tcp", proc.ports[0]), ("udp", proc.ports[1])}


class _FakeSource(SocketSource):
    name = "fake"

    def __init__(self, table: RawTable) -> None:
        self.table = table

    def read(self, *, connection_owners: bool) -> RawTable:
        del connection_owners  # a fixed table: the same rows either way
        return self.table


def _raw(pid: int | None, port: int = 4000, **kw: object) -> RawSocket:
    fields: dict[str, object] = {
        "proto": "tcp",
        "family": 4,
        "local_address": "127.0.0.1",
        "local_port": port,
        "remote_address": None,
        "remote_port": None,
        "state": "LISTEN",
        "pid": pid,
    }
    fields.update(kw)
    # A test's overrides of any field: one dict of mixed types, checked by RawSocket itself.
    return RawSocket(**fields)  # type: ignore[arg-type]


def test_a_process_that_vanished_mid_scan_becomes_owner_unknown() -> None:
    gone = subprocess.Popen(["true"])
    gone.wait()
    snap = Scanner(_FakeSource(RawTable(listeners=[_raw(gone.pid)]))).scan()
    (row,) = snap.listeners
    assert row.pid is None
    assert row.owner_unknown is OwnerUnknown.EXITED
    assert row.owner_label == "owner unknown: process exited"


def test_a_zombie_owner_does_not_break_the_scan() -> None:
    zombie = subprocess.Popen(["true"])
    assert wait_until(lambda: psutil.Process(zombie.pid).status() == psutil.STATUS_ZOMBIE)
    try:
        snap = Scanner(_FakeSource(RawTable(listeners=[_raw(zombie.pid)]))).scan()
        (row,) = snap.listeners
        assert row.pid == zombie.pid
        assert row.process == "true"
        assert row.cmdline is None
    finally:
        zombie.wait()


def test_hidden_owners_are_counted_with_a_hint() -> None:
    table = RawTable(
        listeners=[
            _raw(None, 4001, owner_unknown=OwnerUnknown.NEEDS_PRIVILEGES),
            _raw(None, 4002, owner_unknown=OwnerUnknown.NEEDS_PRIVILEGES),
            _raw(None, 4003, owner_unknown=OwnerUnknown.KERNEL),
        ]
    )
    snap = Scanner(_FakeSource(table)).scan()
    assert snap.hidden_owners == 2
    assert snap.hint is not None
    assert snap.hint.startswith("2 owners hidden")


def test_remote_peers_are_counted_apart_from_loopback() -> None:
    established = [
        _raw(
            None,
            8080,
            local_address="192.168.1.10",
            remote_address="192.168.1.20",
            remote_port=50000,
            state="ESTABLISHED",
        ),
        _raw(
            None,
            8080,
            local_address="127.0.0.1",
            remote_address="127.0.0.1",
            remote_port=50001,
            state="ESTABLISHED",
        ),
        _raw(
            None,
            8080,
            local_address="10.0.0.1",
            remote_address="10.0.0.9",
            remote_port=50002,
            state="ESTABLISHED",
        ),
        # Another family on the same port number must not be counted for IPv4.
        _raw(
            None,
            8080,
            family=6,
            local_address="::1",
            remote_address="::1",
            remote_port=50003,
            state="ESTABLISHED",
        ),
    ]
    listeners = [
        _raw(None, 8080, local_address="0.0.0.0"),
        _raw(None, 8080, local_address="10.0.0.1"),  # takes its own address's connection
    ]
    snap = Scanner(_FakeSource(RawTable(listeners=listeners, established=established))).scan()
    wildcard = _find(snap.listeners, "tcp", 4, "0.0.0.0", 8080)
    specific = _find(snap.listeners, "tcp", 4, "10.0.0.1", 8080)
    assert wildcard is not None
    assert specific is not None
    assert (wildcard.connections, wildcard.remote_connections) == (2, 1)
    assert (specific.connections, specific.remote_connections) == (1, 1)


def test_scan_survives_an_unreadable_table() -> None:
    snap = Scanner(_FakeSource(RawTable(warnings=["could not read the socket table: boom"]))).scan()
    assert snap.listeners == ()
    assert snap.warnings == ("could not read the socket table: boom",)


def test_a_listener_appears_within_one_scan() -> None:
    scanner = Scanner(connection_owners=False)
    before = scanner.scan()
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen()
    try:
        port = sock.getsockname()[1]
        after = scanner.scan()
        (event,) = [
            e for e in diff(before, after) if at([e.listener], [("tcp", "127.0.0.1", port)])
        ]
        assert event.kind is EventKind.BOUND
        assert event.listener.pid == os.getpid()
    finally:
        sock.close()
    time.sleep(0)


def test_unchanged_listeners_come_back_as_the_same_objects() -> None:
    # The table applies a poll in ~10 ms at 10,000 rows because unchanged rows
    # are settled by identity: the scanner must hand back its own objects.
    with ListenerProcess(["tcp:127.0.0.1:0", "tcp:127.0.0.1:0"]) as child:
        busy, quiet = child.ports
        scanner = Scanner(connection_owners=False)

        def mine() -> dict[int, Listener]:
            return {r.port: r for r in at(scanner.scan().listeners, child.endpoints)}

        assert wait_until(lambda: len(mine()) == 2, timeout=10)
        before = mine()
        clients = connect_clients("127.0.0.1", busy, 2)
        try:
            assert wait_until(lambda: mine()[busy].connections == 2, timeout=10)
            after = mine()
        finally:
            for client in clients:
                client.close()
        assert after[quiet] is before[quiet]
        assert after[busy] is not before[busy]
        scanner.close()


class _Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_a_hidden_owner_is_named_by_the_unit_of_its_socket_s_cgroup(tmp_path: Path) -> None:
    service = tmp_path / "system.slice" / "postgresql@15-main.service"
    service.mkdir(parents=True)
    cgroups = CgroupIndex(str(tmp_path), clock=_Clock())
    hidden = {"owner_unknown": OwnerUnknown.NEEDS_PRIVILEGES, "uid": 0}
    raw = _raw(None, 5432, cgroup_id=service.stat().st_ino, **hidden)
    scanner = Scanner(_FakeSource(RawTable(listeners=[raw])), cgroups=cgroups)
    (row,) = scanner.scan().listeners
    assert (row.pid, row.user, row.unit, row.container) == (
        None,
        "root",
        "postgresql@15-main.service",
        None,
    )
    assert row.owner_unknown is OwnerUnknown.NEEDS_PRIVILEGES  # the tables may still say why
    assert kernel_owner(row) == "postgresql@15-main.service (root)"
    assert process_text(row) == "postgresql@15-main.service (root)"
    walked = (cgroups.walks, cgroups.dirs_read)
    # A steady poll: the same row, and the cgroup tree is not read again.
    (again,) = scanner.scan().listeners
    assert again is row
    assert (cgroups.walks, cgroups.dirs_read) == walked


def test_a_cgroup_made_after_the_last_walk_is_named_at_the_next_one(tmp_path: Path) -> None:
    clock = _Clock()
    cgroups = CgroupIndex(str(tmp_path), min_interval=5.0, clock=clock)
    source = _FakeSource(RawTable(listeners=[_raw(None, 4001, uid=0, cgroup_id=1)]))
    scanner = Scanner(source, cgroups=cgroups)
    scanner.scan()
    assert cgroups.walks == 1
    fresh = tmp_path / "system.slice" / "vite-dev.service"
    fresh.mkdir(parents=True)
    late = _raw(None, 4002, uid=0, cgroup_id=fresh.stat().st_ino)
    source.table = RawTable(listeners=[*source.table.listeners, late])
    first = scanner.scan().listeners[-1]
    assert (first.port, first.unit) == (4002, None)
    assert scanner.scan().listeners[-1] is first  # too soon to walk again: steady
    assert cgroups.walks == 1
    clock.now += 5.0
    named = scanner.scan().listeners[-1]
    assert (named.port, named.unit) == (4002, "vite-dev.service")
    assert cgroups.walks == 2
    assert scanner.scan().listeners[-1] is named


def test_a_visible_owner_never_asks_the_cgroup_tree(tmp_path: Path) -> None:
    cgroups = CgroupIndex(str(tmp_path))
    raw = _raw(os.getpid(), 4003, pids=(os.getpid(),), uid=os.getuid(), cgroup_id=1)
    (row,) = Scanner(_FakeSource(RawTable(listeners=[raw])), cgroups=cgroups).scan().listeners
    assert row.pid == os.getpid()
    assert cgroups.walks == 0
