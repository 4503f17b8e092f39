"""The Linux fast path (sock_diag + inode owner cache) against psutil, on real load."""

from __future__ import annotations

import gc
import itertools
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import textwrap
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import psutil
import pytest

from benchmarks.loadgen import LoadGen
from portwatch.core.model import OwnerUnknown, Snapshot
from portwatch.core.platform import select_source
from portwatch.core.platform.linux import LinuxPsutilSource
from portwatch.core.platform.linux_procfs import (
    TCP_ESTABLISHED,
    KernelSocket,
    read_proc_net,
)
from portwatch.core.platform.owners.socket_owners import SocketOwners
from portwatch.core.scanner import Scanner
from tests.support.owner_walk import Ticks, keep_only
from tests.support.prefork import PreforkServer
from tests.support.procs import ListenerProcess, at, is_root, wait_until

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="Linux fast path")

netlink = pytest.importorskip("portwatch.core.platform.netlink.source")
bytecode = pytest.importorskip("portwatch.core.platform.netlink.bytecode")
LinuxNetlinkSource = netlink.LinuxNetlinkSource
SockDiag = pytest.importorskip("portwatch.core.platform.netlink.sock_diag").SockDiag

Row = tuple[str, int, str, int, int | None, frozenset[int]]
Counted = tuple[str, int, str, int]


def _rows(snapshot: Snapshot) -> set[Row]:
    """One row per bind: its main holder and every holder."""
    return {(*r.key, r.pid, frozenset(r.pids)) for r in snapshot.listeners}


def _counts(snapshot: Snapshot) -> dict[Counted, int]:
    return {r.key: r.connections for r in snapshot.listeners if r.proto == "tcp"}


def _scan_until(scanner: Scanner, done: Callable[[Snapshot], bool], polls: int = 20_000) -> bool:
    """Scan until ``done``; bounded by polls, not by time (a busy machine is slower)."""
    return any(done(scanner.scan()) for _ in range(polls))


def _settle(scanner: Scanner, polls: int = 2_000) -> None:
    """Scan until the owner walk has nothing left: every holder of a shared socket found."""
    owners = getattr(scanner.source, "owners", None)
    for _ in range(polls):
        scanner.scan()
        if owners is None or not owners.busy:
            return


def _agree(fast: Scanner, slow: Scanner, attempts: int = 6) -> tuple[Snapshot, Snapshot]:
    """Scan with both until a psutil read before and after the fast one agree.

    Other programs on the machine open and close sockets between two reads;
    the fast read is compared with psutil's only when psutil saw no change.
    """
    for _ in range(attempts):
        before = slow.scan()
        ours = fast.scan()
        after = slow.scan()
        if _rows(before) == _rows(after) and _counts(before) == _counts(after):
            return ours, before
    return ours, before


@pytest.fixture(scope="module")
def load() -> Iterator[LoadGen]:
    with LoadGen(listeners=200, udp=40, established=50, procs=20, fds=50, timeout=110) as generator:
        yield generator


def test_same_listeners_and_counts_as_psutil_on_a_loaded_machine(load: LoadGen) -> None:
    netlink = LinuxNetlinkSource()
    fast = Scanner(netlink, connection_owners=False)
    slow = Scanner(LinuxPsutilSource(), connection_owners=False)
    assert netlink.using_netlink
    # A pre-fork server too: psutil names one process per socket, both give every holder.
    with PreforkServer(workers=3) as server:
        _settle(fast)
        ours, theirs = _agree(fast, slow)
        assert _rows(ours) == _rows(theirs)
        assert _counts(ours) == _counts(theirs)
        for snapshot in (ours, theirs):
            shared = at(snapshot.listeners, server.endpoints)
            assert [(r.pid, set(r.pids)) for r in shared] == [(server.pid, server.holders)] * 2
    # The load is part of it: 200 TCP + 40 UDP sockets of the generator, and
    # the first 50 listeners hold one accepted connection each.
    mine = [r for r in ours.listeners if r.pid == load.pid]
    assert len(mine) == 240
    assert sum(r.connections for r in mine) == 50
    assert all(r.owner_unknown is None and r.process for r in mine)


def test_same_owners_of_connections_when_the_connections_view_is_open(load: LoadGen) -> None:
    fast = Scanner(LinuxNetlinkSource(), connection_owners=True)
    slow = Scanner(LinuxPsutilSource(), connection_owners=True)
    for _ in range(6):
        theirs = {(c.local_port, c.remote_port, c.pid) for c in slow.scan().connections}
        ours = {(c.local_port, c.remote_port, c.pid) for c in fast.scan().connections}
        if ours == theirs:
            break
    assert ours == theirs
    assert len([1 for (_, _, pid) in ours if pid == load.pid]) == 100  # both ends of 50 pairs


def test_ipv6_wildcard_tells_dual_stack_from_ipv6_only() -> None:
    with ListenerProcess(["tcp6dual::::0", "tcp6only::::0", "udp6only::::0"]) as proc:
        snapshot = Scanner(LinuxNetlinkSource(), connection_owners=False).scan()
        by_port = {(r.proto, r.port): r for r in snapshot.listeners if r.pid == proc.pid}
        dual = by_port[("tcp", proc.ports[0])]
        only = by_port[("tcp", proc.ports[1])]
        udp_only = by_port[("udp", proc.ports[2])]
        assert (dual.v6only, dual.stack) == (False, "dual-stack")
        assert (only.v6only, only.stack) == (True, "IPv6 only")
        assert (udp_only.v6only, udp_only.stack) == (True, "IPv6 only")


def test_proc_net_fallback_gives_the_same_set_and_warns_once(load: LoadGen) -> None:
    fast = Scanner(LinuxNetlinkSource(), connection_owners=False)
    fallback = Scanner(LinuxNetlinkSource(use_netlink=False), connection_owners=False)
    first = fallback.scan()
    assert any("/proc/net" in w for w in first.warnings)
    # Said once. (Other warnings may stay: an owner root cannot read, such as
    # a sandbox's PID 1, is "owner lookup failed" in every scan.)
    assert not [w for w in fallback.scan().warnings if "/proc/net" in w]
    for _ in range(6):
        ours, theirs = fast.scan(), fallback.scan()
        if _rows(ours) == _rows(theirs) and _counts(ours) == _counts(theirs):
            break
    assert _rows(ours) == _rows(theirs)
    assert _counts(ours) == _counts(theirs)
    assert len([r for r in theirs.listeners if r.pid == load.pid]) == 240
    # /proc/net has no IPV6_V6ONLY: the fallback says "unknown", not a guess.
    assert all(r.v6only is None for r in theirs.listeners)


def test_proc_net_parser_reads_the_tables() -> None:
    with ListenerProcess(["tcp:127.0.0.2:0", "udp:::1:0", "tcp6dual::::0"]) as proc:
        tables = read_proc_net()
        found = {(s.proto, s.local_address, s.local_port) for s in tables.listeners}
        assert ("tcp", "127.0.0.2", proc.ports[0]) in found
        assert ("udp", "::1", proc.ports[1]) in found
        assert ("tcp", "::", proc.ports[2]) in found
        assert all(s.state != TCP_ESTABLISHED for s in tables.listeners)
        mine = [
            s
            for s in tables.listeners
            if (s.proto, s.local_address, s.local_port) in proc.endpoints
        ]
        assert len(mine) == 3
        assert all(s.inode > 0 for s in mine)
        # The listeners alone (what the psutil source reads to find every holder).
        listening = read_proc_net(listeners_only=True)
        assert listening.established == []
        again = {(s.proto, s.local_address, s.local_port, s.inode) for s in listening.listeners}
        assert {(s.proto, s.local_address, s.local_port, s.inode) for s in mine} <= again


@pytest.mark.usefixtures("load")
def test_kernel_port_filter_keeps_exactly_the_listening_ports() -> None:
    diag = SockDiag()
    try:
        listening = {(s.family, s.local_port) for s in diag.dump("tcp", 1 << 10)}
        # A small set goes to the kernel as bytecode; compare with filtering here.
        few = set(sorted(listening)[:37])
        in_kernel = diag.dump("tcp", 1 << TCP_ESTABLISHED, only_local_ports=few)
        assert diag.filter_supported
        diag.filter_supported = False
        here = diag.dump("tcp", 1 << TCP_ESTABLISHED, only_local_ports=few)
        everything = diag.dump("tcp", 1 << TCP_ESTABLISHED)
    finally:
        diag.close()
    assert {s.inode for s in in_kernel} == {s.inode for s in here}
    expected = {s.inode for s in everything if (s.family, s.local_port) in few}
    assert {s.inode for s in in_kernel} == expected


def test_kernel_port_filter_takes_the_largest_port_set(load: LoadGen) -> None:
    """Every listening port among as many others as the bytecode holds, 1 and 65535 too."""
    diag = SockDiag()
    try:
        listening = {(s.family, s.local_port) for s in diag.dump("tcp", 1 << 10)}
        ports = {port for _, port in listening} | {1, 2, 65534, 65535}
        # Other ports, spread out and in runs of neighbours, up to the limit.
        for port in itertools.chain(range(20000, 21000), range(1024, 65536, 13)):
            if len(ports) >= bytecode.KERNEL_FILTER_MAX_PORTS:
                break
            ports.add(port)
        assert len(ports) == bytecode.KERNEL_FILTER_MAX_PORTS
        assert bytecode.local_port_bytecode(sorted(ports))  # fits: it goes to the kernel
        wanted = {(family, port) for port in ports for family in (4, 6)}
        in_kernel = diag.dump("tcp", 1 << TCP_ESTABLISHED, only_local_ports=wanted)
        assert diag.filter_supported  # the kernel's checker took it
        everything = diag.dump("tcp", 1 << TCP_ESTABLISHED)
    finally:
        diag.close()
    expected = {s.inode for s in everything if s.local_port in ports}
    assert {s.inode for s in in_kernel} == expected
    assert len({s.inode for s in in_kernel if s.local_port in load.info["ports"]}) > 0


def test_an_unchanged_dump_gives_the_same_sockets_and_a_change_shows(load: LoadGen) -> None:
    diag = SockDiag()
    try:
        first = diag.dump("tcp", 1 << 10)
        again = diag.dump("tcp", 1 << 10)
        # Unchanged datagrams are reused: the same KernelSocket objects.
        mine = {s.inode: s for s in first}
        same = [s for s in again if mine.get(s.inode) is s]
        assert len(same) > len(again) // 2
        with ListenerProcess(["tcp:127.0.0.1:0"]) as proc:
            during = diag.dump("tcp", 1 << 10)
        after = diag.dump("tcp", 1 << 10)
    finally:
        diag.close()
    ((_, address, port),) = proc.endpoints
    assert [s for s in during if (s.local_address, s.local_port) == (address, port)]
    assert not [s for s in after if (s.local_address, s.local_port) == (address, port)]
    assert {s.inode for s in _on_load_ports(after, load)} == {
        s.inode for s in _on_load_ports(first, load)
    }


def test_established_sockets_follow_the_listening_families_of_their_port() -> None:
    """A port that gains a family brings its connections; a new port without any changes none."""
    server = socket.socket(socket.AF_INET6)
    server.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
    server.bind(("::1", 0))
    server.listen()
    port = server.getsockname()[1]
    client = socket.create_connection(("::1", port))
    accepted, _ = server.accept()
    inode = os.fstat(accepted.fileno()).st_ino
    unused = socket.socket()
    unused.bind(("127.0.0.1", 0))  # bound, not listening: a port nobody connects to
    other_port = unused.getsockname()[1]
    diag = SockDiag()
    try:
        established = 1 << TCP_ESTABLISHED
        v4_only = diag.dump("tcp", established, only_local_ports={(4, port)})
        both = diag.dump("tcp", established, only_local_ports={(4, port), (6, port)})
        more = diag.dump(
            "tcp", established, only_local_ports={(4, port), (6, port), (4, other_port)}
        )
    finally:
        diag.close()
        for sock in (accepted, client, server, unused):
            sock.close()
    # Only the server's end: the client's has another local port. (Other
    # programs' IPv4 connections may share the port number, so not "no v4 socket".)
    assert inode not in {s.inode for s in v4_only}
    assert all(s.family == 4 for s in v4_only)
    assert [(s.family, s.inode) for s in both if s.family == 6] == [(6, inode)]
    # The new port has no connections: the same sockets, as the same objects.
    assert len(more) == len(both)
    assert all(a is b for a, b in zip(more, both, strict=True))


def _on_load_ports(sockets: list[KernelSocket], load: LoadGen) -> list[KernelSocket]:
    return [s for s in sockets if ("tcp", s.local_address, s.local_port) in load.endpoints]


@pytest.mark.usefixtures("load")
def test_a_dump_abandoned_halfway_does_not_answer_the_next(monkeypatch: pytest.MonkeyPatch) -> None:
    """The rest of a broken dump would answer the next request (same sequence number).

    The kernel also refuses a new dump on a socket whose dump is under way (EBUSY).
    """
    diag = SockDiag()
    try:
        every_state = 0xFFF  # the load's 200 listeners and 100 connections: several datagrams

        # Inodes name live sockets; TIME_WAIT leftovers all have inode 0, so they are
        # told apart by their addresses and ports.
        def identity(s: KernelSocket) -> tuple[object, ...]:
            if s.inode:
                return (s.inode,)
            return (s.family, s.local_address, s.local_port, s.remote_address, s.remote_port)

        expected = {identity(s) for s in diag.dump("tcp", every_state)}

        def broken(*_args: object, **_kwargs: object) -> int:
            raise RuntimeError("interrupted")

        with monkeypatch.context() as patch:
            patch.setattr(SockDiag, "_take_run", broken)
            with pytest.raises(RuntimeError):
                diag.dump("tcp", every_state)
        again = [identity(s) for s in diag.dump("tcp", every_state)]
        # Still one walk for both families: the kernel refused nothing.
        assert diag.compat_supported
        assert diag.filter_supported
    finally:
        diag.close()
    assert len(again) == len(set(again))  # nothing read twice
    # Other programs may open or close a few sockets meanwhile; the load's stay.
    assert len(set(again) ^ expected) < 20


def test_a_new_process_on_the_same_port_is_seen_within_one_poll() -> None:
    scanner = Scanner(LinuxNetlinkSource(), connection_owners=False)
    first = ListenerProcess(["tcp:127.0.0.1:0"])
    port = first.ports[0]
    try:
        rows = at(scanner.scan().listeners, first.endpoints)
        assert [r.pid for r in rows] == [first.pid]
        scanner.scan()  # steady state: the owner now comes from the cache
    finally:
        first.stop()
    with ListenerProcess([f"tcp:127.0.0.1:{port}"]) as second:
        rows = at(scanner.scan().listeners, second.endpoints)
        assert [r.pid for r in rows] == [second.pid]


def _describe(pid: int | None) -> str:
    """Who a pid is, for failure messages."""
    if pid is None:
        return "no pid"
    try:
        proc = psutil.Process(pid)
        return f"{pid} ppid={proc.ppid()} {proc.cmdline()}"
    except psutil.Error as exc:
        return f"{pid}: {exc}"


def test_a_socket_shared_after_fork_lists_both_processes() -> None:
    source = LinuxNetlinkSource()
    scanner = Scanner(source, connection_owners=False)
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen()
    port = server.getsockname()[1]
    try:
        scanner.scan()
        # A child that inherits the listening socket (a pre-fork server).
        child = subprocess.Popen(
            [sys.executable, "-c", "import sys; sys.stdin.read()"],
            stdin=subprocess.PIPE,
            pass_fds=[server.fileno()],
        )
        try:

            def holders() -> set[int]:
                rows = at(scanner.scan().listeners, [("tcp", "127.0.0.1", port)])
                assert len(rows) == 1  # one socket, one row, however many hold it
                return set(rows[0].pids)

            assert wait_until(lambda: holders() == {os.getpid(), child.pid}, timeout=10), (
                holders(),
                child.pid,
                source.owners.stats,
                [_describe(pid) for pid in holders()],
            )
        finally:
            assert child.stdin is not None
            child.stdin.close()
            child.wait(10)
    finally:
        server.close()


def test_a_process_opening_many_files_does_not_make_polls_walk_again(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen()
    mine = ("tcp", "127.0.0.1", server.getsockname()[1])
    source = LinuxNetlinkSource()
    # Only this test's socket: one another program opens meanwhile would rightly
    # start a walk, which reads first the process whose files changed.
    keep_only(monkeypatch, source, {mine})
    scanner = Scanner(source, connection_owners=False)
    opener = subprocess.Popen(
        [
            sys.executable,
            "-c",
            textwrap.dedent(
                """
                import os, resource, sys
                resource.setrlimit(resource.RLIMIT_NOFILE, (6000, resource.getrlimit(
                    resource.RLIMIT_NOFILE)[1]))
                sys.stdin.readline()
                held = [os.open(os.devnull, os.O_RDONLY) for _ in range(5000)]
                print("open", flush=True)
                sys.stdin.readline()
                """
            ),
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert opener.stdin is not None
    assert opener.stdout is not None
    try:
        # The first pass over every process (the opener among them) ends first.
        assert _scan_until(scanner, lambda _: not source.warming_up), source.owners.stats
        opener.stdin.write("go\n")
        opener.stdin.flush()
        assert opener.stdout.readline() == "open\n"
        before = source.owners.stats.fds_read
        for _ in range(3):
            snapshot = scanner.scan()
        # Other programs on this machine may start processes; none of them is
        # our 5,000-file process, which must not have been read.
        assert source.owners.stats.fds_read - before < 5000
        assert [r.pid for r in at(snapshot.listeners, [mine])] == [os.getpid()]
        assert not [r for r in snapshot.listeners if r.owner_unknown is OwnerUnknown.PENDING]
    finally:
        opener.stdin.close()
        opener.wait(10)
        server.close()


HOLDER_SCRIPT = """
import os, resource, socket, sys
resource.setrlimit(resource.RLIMIT_NOFILE, (6000, resource.getrlimit(resource.RLIMIT_NOFILE)[1]))
server = socket.socket()
server.bind(("127.0.0.1", 0))
server.listen()
held = [os.open(os.devnull, os.O_RDONLY) for _ in range(int(sys.argv[1]))]
print(server.getsockname()[1], flush=True)
if sys.stdin.readline():  # a second listener when asked
    late = socket.socket()
    late.bind(("127.0.0.1", 0))
    late.listen()
    print(late.getsockname()[1], flush=True)
    sys.stdin.readline()
"""


def test_a_socket_opened_by_a_running_process_is_looked_for_where_files_changed() -> None:
    """The process that opened it has one more file: read before a big socket holder."""
    # Started first: the older holder, which the walk would otherwise read last.
    small = subprocess.Popen(
        [sys.executable, "-c", HOLDER_SCRIPT, "0"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    big = subprocess.Popen(
        [sys.executable, "-c", HOLDER_SCRIPT, "5000"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert big.stdin
    assert big.stdout
    assert small.stdin
    assert small.stdout
    try:
        big.stdout.readline()
        small.stdout.readline()
        source = LinuxNetlinkSource()
        scanner = Scanner(source, connection_owners=False)
        for _ in range(3):
            scanner.scan()
        small.stdin.write("open\n")
        small.stdin.flush()
        port = int(small.stdout.readline())
        before = source.owners.stats.fds_read
        rows = at(scanner.scan().listeners, [("tcp", "127.0.0.1", port)])
        assert [r.pid for r in rows] == [small.pid]
        # The big holder, newer and so read first otherwise, was not read.
        assert source.owners.stats.fds_read - before < 5000
    finally:
        for proc in (small, big):
            assert proc.stdin is not None
            proc.stdin.close()
            proc.wait(10)


def test_owners_not_found_within_the_budget_are_pending_then_found(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    with LoadGen(listeners=20, procs=30, fds=300, timeout=60) as load:
        source = LinuxNetlinkSource()
        # A budget counted in looks at the clock, not in CPU time, and only the
        # generator's sockets: the same work per poll however busy the machine is.
        source.owners.close()
        source.owners = SocketOwners(walk_budget=0.0, cold_walk_budget=0.0, cpu_clock=Ticks())
        keep_only(monkeypatch, source, set(load.endpoints))
        scanner = Scanner(source, connection_owners=False)
        snapshot = scanner.scan()
        first = at(snapshot.listeners, load.endpoints)
        assert len(first) == len(load.endpoints)
        assert {r.owner_unknown for r in first} == {OwnerUnknown.PENDING}
        assert {r.owner_label for r in first} == {"owner unknown: looking up"}
        # The first pass is still under way: the snapshot says so.
        assert snapshot.warming_up
        assert snapshot.pending_owners >= len(load.endpoints)
        source.owners.walk_budget = 0.002
        assert _scan_until(
            scanner, lambda s: {r.pid for r in at(s.listeners, load.endpoints)} == {load.pid}
        ), (at(scanner.scan().listeners, load.endpoints), source.owners.stats)
        assert _scan_until(scanner, lambda s: not s.warming_up), source.owners.stats
        scanner.close()


def test_the_walk_moves_on_when_checking_the_cache_costs_more_than_its_budget(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A slow machine: the poll's own work must not use up the walk's time every poll."""
    with LoadGen(listeners=20, procs=10, fds=300, timeout=60) as load:
        source = LinuxNetlinkSource(walk_budget=0.0, cold_walk_budget=0.0)
        scanner = Scanner(source, connection_owners=False)
        scanner.scan()
        owners = source.owners
        # A slow machine is made by slowing the cache check itself, a private step.
        check_cached = owners._check_cached  # noqa: SLF001

        def slow_check(*args: object, **kwargs: object) -> set[int]:
            spin_until = time.thread_time() + 0.004  # twice the walk's budget, in CPU
            while time.thread_time() < spin_until:
                pass
            return check_cached(*args, **kwargs)

        monkeypatch.setattr(owners, "_check_cached", slow_check)
        owners.walk_budget = 0.002
        read = []
        for _ in range(5):
            before = owners.stats.fds_read
            scanner.scan()
            read.append(owners.stats.fds_read - before)
        assert all(count > 0 for count in read), read
        assert wait_until(
            lambda: {r.pid for r in at(scanner.scan().listeners, load.endpoints)} == {load.pid},
            timeout=30,
            step=0,
        )


def test_a_quick_start_shows_the_table_first_and_the_owners_over_the_next_scans() -> None:
    with ListenerProcess(["tcp:127.0.0.1:0", "udp:::1:0"]) as proc:
        scanner = Scanner(connection_owners=False, quick_start=True)
        assert scanner.source.name == "linux-netlink"
        snapshot = scanner.scan()
        # Every listener is in the first table, owner known or not.
        assert len(at(snapshot.listeners, proc.endpoints)) == 2
        scans = 1
        while snapshot.warming_up and scans < 500:
            snapshot = scanner.scan()
            scans += 1
        assert not snapshot.warming_up
        assert snapshot.pending_owners == 0
        assert {r.pid for r in at(snapshot.listeners, proc.endpoints)} == {proc.pid}
        scanner.close()


def test_select_source_follows_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PORTWATCH_BACKEND", "psutil")
    assert select_source().name == "linux-psutil"
    monkeypatch.setenv("PORTWATCH_BACKEND", "netlink")
    assert select_source().name == "linux-netlink"
    monkeypatch.delenv("PORTWATCH_BACKEND")
    assert select_source().name == "linux-netlink"


NOBODY_SCRIPT = """
import json, socket, sys
from portwatch.core.platform.netlink.source import LinuxNetlinkSource
from portwatch.core.scanner import Scanner
root_port = int(sys.argv[1])
mine = socket.socket()
mine.bind(("127.0.0.1", 0))
mine.listen()
my_port = mine.getsockname()[1]
source = LinuxNetlinkSource()
scanner = Scanner(source, connection_owners=False)
def at(port):
    return [r for r in snap.listeners if (r.proto, r.address, r.port) == ("tcp", "127.0.0.1", port)]
for _ in range(3):
    snap = scanner.scan()
scanned_before = source.owners.stats.pids_scanned
snap = scanner.scan()
print(json.dumps({
    "backend": snap.backend,
    "root": [[r.pid, str(r.owner_unknown)] for r in at(root_port)],
    "mine": [[r.pid, str(r.owner_unknown)] for r in at(my_port)],
    "hint": snap.hint,
    "rescanned": source.owners.stats.pids_scanned - scanned_before,
}))
"""


@pytest.mark.privileged
@pytest.mark.skipif(not is_root(), reason="needs root to drop to nobody")
@pytest.mark.skipif(
    not (shutil.which("setpriv") and Path("/usr/bin/python3").exists()),
    reason="needs setpriv and the system Python",
)
def test_other_users_sockets_need_privileges_for_nobody() -> None:
    package = Path(__file__).resolve().parents[1] / "portwatch"
    copy = Path(tempfile.mkdtemp())
    try:
        shutil.copytree(package, copy / "portwatch")
        for path in [copy, *copy.rglob("*")]:
            path.chmod(0o755 if path.is_dir() else 0o644)
        with ListenerProcess(["tcp:127.0.0.1:0"]) as root_owned:
            out = subprocess.run(
                [
                    "setpriv",
                    "--reuid=65534",
                    "--regid=65534",
                    "--clear-groups",
                    "/usr/bin/python3",
                    "-c",
                    NOBODY_SCRIPT,
                    str(root_owned.ports[0]),
                ],
                env={"PYTHONPATH": str(copy), "PATH": "/usr/bin:/bin"},
                cwd=copy,
                capture_output=True,
                text=True,
                timeout=60,
                check=True,
            ).stdout
    finally:
        shutil.rmtree(copy)
    report = json.loads(out)
    assert report["backend"] == "linux-netlink"
    assert report["root"] == [[None, "needs privileges"]]
    # Its own socket it can resolve; the other user's it does not keep walking for.
    assert report["mine"][0][0] is not None
    assert report["hint"].endswith("run as root (sudo) to see them")
    assert report["rescanned"] == 0


def test_tcp_counters_move_when_a_connection_comes_and_goes() -> None:
    from portwatch.core.platform.linux_procfs import TcpOpenCounters

    counters = TcpOpenCounters()
    assert counters.available
    with socket.create_server(("127.0.0.1", 0)) as server:
        before = counters.read()
        client = socket.create_connection(server.getsockname())
        accepted, _ = server.accept()
        opened = counters.read()
        client.close()
        accepted.close()
        closed = counters.read()
    counters.close()
    assert before is not None
    assert opened is not None
    assert closed is not None
    assert opened != before
    assert closed != opened
    assert TcpOpenCounters(Path("/nonexistent/snmp")).read() is None


def test_connection_counts_follow_every_change_between_two_polls() -> None:
    source = LinuxNetlinkSource()
    scanner = Scanner(source, connection_owners=False)

    def count(port: int) -> int:
        return sum(
            r.connections for r in at(scanner.scan().listeners, [("tcp", "127.0.0.1", port)])
        )

    with socket.create_server(("127.0.0.1", 0)) as server:
        port = server.getsockname()[1]
        assert count(port) == 0
        assert count(port) == 0
        pairs = []
        for expected in (1, 2):
            client = socket.create_connection(("127.0.0.1", port))
            pairs.append((client, server.accept()[0]))
            assert count(port) == expected
        # One closes and another opens between two polls: the total stays two.
        for sock in pairs.pop(0):
            sock.close()
        client = socket.create_connection(("127.0.0.1", port))
        pairs.append((client, server.accept()[0]))
        assert count(port) == 2
        for pair in pairs:
            for sock in pair:
                sock.close()
        assert count(port) == 0
    source.close()


def test_the_established_dump_is_reused_only_while_the_counters_stand_still(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    source = LinuxNetlinkSource()
    # The reuse is inside the source, with no public view: the test calls it directly.
    diag = source._diag  # noqa: SLF001
    assert diag is not None

    def counted(counters: tuple[bytes, ...] | None, listening: set[tuple[int, int]]) -> int:
        sockets = source._counted_connections(diag, counters, listening)  # noqa: SLF001
        return sum(1 for s in sockets if (s.local_address, s.local_port) == ("127.0.0.1", port))

    with socket.create_server(("127.0.0.1", 0)) as server:
        port = server.getsockname()[1]
        listening = {(4, port)}
        still = (b"10", b"20", b"0")
        assert counted(still, listening) == 0
        client = socket.create_connection(("127.0.0.1", port))
        accepted, _ = server.accept()
        # Counters that did not move (made up here): the last dump stands.
        assert counted(still, listening) == 0
        assert (source.established_dumps, source.established_reuses) == (1, 1)
        # A passive open moved them: dumped again.
        assert counted((b"10", b"21", b"1"), listening) == 1
        # Other listening ports (a new filter): dumped again.
        assert counted((b"10", b"21", b"1"), {(4, port), (6, port)}) == 1
        assert source.established_dumps == 3
        # No counters to read: dumped every time.
        assert counted(None, listening) == 1
        assert counted(None, listening) == 1
        assert source.established_dumps == 5
        client.close()
        accepted.close()
        assert counted(still, listening) == 0
        assert counted(still, listening) == 0
        assert source.established_reuses == 2
        # However still the counters stand, an old dump is made again.
        monkeypatch.setattr(netlink, "ESTABLISHED_MAX_AGE", 0.0)
        with socket.create_connection(("127.0.0.1", port)), server.accept()[0]:
            assert counted(still, listening) == 1
    source.close()


def test_proc_is_listed_again_only_for_a_new_process_or_a_holder_that_ended() -> None:
    source = LinuxNetlinkSource()
    scanner = Scanner(source, connection_owners=False)
    stats = source.owners.stats
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen()
    port = server.getsockname()[1]

    def holders() -> set[int | None]:
        return {r.pid for r in at(scanner.scan().listeners, [("tcp", "127.0.0.1", port)])}

    try:
        assert holders() == {os.getpid()}
        listed = stats.listings
        for _ in range(20):
            scanner.scan()
        # Other programs on the machine may start threads meanwhile (each
        # moves the newest pid); a quiet machine lists /proc not at all.
        assert stats.listings - listed < 20
        # A child inherits the listener, then the parent's copy closes: the
        # child, new since the last listing, is found as its holder.
        child = subprocess.Popen(
            [sys.executable, "-c", "import sys; sys.stdin.read()"],
            stdin=subprocess.PIPE,
            pass_fds=[server.fileno()],
        )
    finally:
        server.close()
    try:
        assert wait_until(lambda: holders() == {child.pid}, timeout=10), (holders(), stats)
        listed = stats.listings
    finally:
        assert child.stdin is not None
        child.stdin.close()
        child.wait(10)
    # The holder ended (and the socket with it): noticed at the next poll.
    assert holders() == set()
    source.close()


def test_new_sockets_are_found_where_loadavg_never_shows_a_new_pid(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Some containers serve a made-up /proc/loadavg: its newest pid never moves.
    source = LinuxNetlinkSource()
    scanner = Scanner(source, connection_owners=False)
    monkeypatch.setattr(source.owners.processes, "_read_newest_pid", lambda: b"1")
    scanner.scan()
    scanner.scan()
    with ListenerProcess(["tcp:127.0.0.1:0"]) as child:

        def owners() -> set[int | None]:
            return {r.pid for r in at(scanner.scan().listeners, child.endpoints)}

        assert wait_until(lambda: owners() == {child.pid}, timeout=10), owners()
    source.close()


def test_scanners_dropped_without_close_leave_no_open_files() -> None:
    def open_files() -> int:
        return sum(1 for _ in Path("/proc/self/fd").iterdir())

    Scanner(connection_owners=False).scan()
    gc.collect()
    before = open_files()
    for _ in range(10):
        Scanner(connection_owners=False).scan()
    gc.collect()
    assert open_files() == before
