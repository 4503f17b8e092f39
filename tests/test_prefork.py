"""A real pre-fork server (a python master, forked workers sharing its sockets) on both backends.

One row per socket with every holder, the master as its main holder; a
connection a worker accepted counted once, on the socket; a worker respawned
and a reload (every worker replaced) are no news to the diff, the alert
rules or the history, as the tray app's pipeline runs them.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable, Iterator

import pytest

from portwatch.core.alerts.engine import AlertRules
from portwatch.core.diff import EventKind
from portwatch.core.history import HistoryReader, HistoryRecorder
from portwatch.core.model import Exposure, Listener, Snapshot
from portwatch.core.pipeline import ScanPipeline, ScanResult
from portwatch.core.platform.base import SocketSource
from portwatch.core.platform.linux import LinuxPsutilSource
from portwatch.core.platform.owners.socket_owners import SocketOwners
from portwatch.core.portspec import PortSpec
from portwatch.core.scanner import Scanner
from portwatch.core.settings import Settings, WatchedPort
from tests.support.owner_walk import Ticks, keep_only
from tests.support.prefork import PreforkServer, ask
from tests.support.procs import at, wait_until

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="Linux backends")

netlink = pytest.importorskip("portwatch.core.platform.netlink.source")

BACKENDS: dict[str, Callable[[], SocketSource]] = {
    "netlink": netlink.LinuxNetlinkSource,
    "psutil": LinuxPsutilSource,
}

# Every bind, owner change and freed port on loopback would alert with these.
LOUD = Settings(exposure_level=Exposure.LOOPBACK, quiet_period=0, summary_threshold=1000)


@pytest.fixture(params=sorted(BACKENDS))
def source(request: pytest.FixtureRequest) -> Iterator[SocketSource]:
    made = BACKENDS[request.param]()
    yield made
    made.close()


@pytest.fixture
def server() -> Iterator[PreforkServer]:
    with PreforkServer(workers=3) as started:
        yield started


def rows_of(snapshot: Snapshot, server: PreforkServer) -> list[Listener]:
    return at(snapshot.listeners, server.endpoints)


def held_by(snapshot: Snapshot, server: PreforkServer, holders: set[int]) -> bool:
    """One row per socket of the server, each held by exactly ``holders``."""
    rows = rows_of(snapshot, server)
    return len(rows) == len(server.endpoints) and all(set(r.pids) == holders for r in rows)


def scan_until(scanner: Scanner, done: Callable[[Snapshot], bool]) -> Snapshot:
    """Scan until ``done``; return the snapshot that was (bounded by time, never hangs)."""
    seen: list[Snapshot] = []

    def check() -> bool:
        seen.append(scanner.scan())
        return done(seen[-1])

    assert wait_until(check, timeout=20)
    return seen[-1]


def test_one_row_per_socket_and_family_with_the_master_first(
    source: SocketSource, server: PreforkServer
) -> None:
    scanner = Scanner(source, connection_owners=False)
    snapshot = scan_until(scanner, lambda s: held_by(s, server, server.holders))
    rows = rows_of(snapshot, server)
    assert sorted(r.family for r in rows) == [4, 6]
    for row in rows:
        assert set(row.pids) == {server.pid, *server.workers}
        assert row.pid == server.pid
        assert row.pids[0] == server.pid
        assert [h.pid for h in row.holders] == list(row.pids)
        assert all(h.ppid == server.pid for h in row.holders[1:])
        assert row.owner_unknown is None
        assert row.process


def test_the_first_scan_of_a_new_scanner_names_the_master(
    source: SocketSource, server: PreforkServer
) -> None:
    """What a one-shot command (``portwatch list``) shows: the master, not a worker."""
    rows = rows_of(Scanner(source, connection_owners=False).scan(), server)
    assert [r.pid for r in rows] == [server.pid, server.pid]


def test_a_one_shot_scan_names_the_master_however_far_the_walk_is_from_it(
    monkeypatch: pytest.MonkeyPatch, server: PreforkServer
) -> None:
    """The first pass reads the newest processes first and stops soon after every socket
    has an owner: a worker's parent is read next, so the master is never left out."""
    idle: list[subprocess.Popen[bytes]] = []
    try:
        for _ in range(80):
            idle.append(subprocess.Popen(["sleep", "60"]))  # noqa: PERF401 - ended if one fails
        server.reload()  # new workers, newer than the idle processes, which are newer than it
        source = netlink.LinuxNetlinkSource()
        source.owners.close()
        # Counted in looks at the clock: the pass goes on for 50 looks once every
        # socket has an owner, fewer than the idle processes between workers and master.
        source.owners = SocketOwners(cpu_clock=Ticks())
        keep_only(monkeypatch, source, set(server.endpoints))
        rows = rows_of(Scanner(source, connection_owners=False).scan(), server)
        assert [r.pid for r in rows] == [server.pid, server.pid]
        assert all(set(r.pids) == server.holders for r in rows)
        source.close()
    finally:
        for proc in idle:
            proc.kill()
            proc.wait(10)


@pytest.mark.parametrize("connection_owners", [False, True])
def test_a_connection_a_worker_accepted_is_counted_once_on_the_socket(
    source: SocketSource, server: PreforkServer, connection_owners: bool
) -> None:
    scanner = Scanner(source, connection_owners=connection_owners)
    clients = []
    try:
        for _, address, port in server.endpoints:
            client, worker = ask(address, port)
            clients.append(client)
            assert worker in server.workers  # a worker took it, not the master

        def counted(snapshot: Snapshot) -> bool:
            rows = rows_of(snapshot, server)
            return held_by(snapshot, server, server.holders) and all(
                r.connections == 1 for r in rows
            )

        snapshot = scan_until(scanner, counted)
        rows = rows_of(snapshot, server)
        # Once per socket, not once per process holding it.
        assert [r.connections for r in rows] == [1, 1]
        assert [r.remote_connections for r in rows] == [0, 0]
        assert [r.pid for r in rows] == [server.pid, server.pid]
        if connection_owners:
            accepted = {c.pid for c in snapshot.connections if (c.local_port in server.ports)}
            assert accepted <= set(server.workers)
            assert accepted
    finally:
        for client in clients:
            client.close()


class Problems:
    """The pipeline's reporter: nothing should go wrong."""

    def __init__(self) -> None:
        self.said: list[str] = []

    def problem(self, what: str, message: str) -> None:
        self.said.append(f"{what}: {message}")

    def notice(self, title: str, body: str) -> None:
        self.said.append(f"{title}: {body}")


class Watch:
    """The tray app's pipeline (owner gate, diff, rules, history writer) over a real scanner."""

    def __init__(self, source: SocketSource) -> None:
        self.scanner = Scanner(source, connection_owners=False)
        defaults = Settings()
        self.recorder = HistoryRecorder(
            retention_days=defaults.history_retention_days,
            max_rows=defaults.history_max_rows,
            max_bytes=defaults.history_max_mb * 1024 * 1024,
        )
        self.problems = Problems()
        self.pipeline = ScanPipeline(LOUD, AlertRules(), self.recorder, self.problems)
        self.results: list[ScanResult] = []

    def step(self) -> Snapshot:
        result = self.pipeline.process(self.scanner.scan())
        self.pipeline.record(result)
        self.results.append(result)
        return result.snapshot

    def until(self, done: Callable[[Snapshot], bool]) -> int:
        """Scan until ``done``; return how many scans it took."""
        before = len(self.results)
        assert wait_until(lambda: done(self.step()), timeout=20)
        return len(self.results) - before

    def news(self, since: int, ports: list[int]) -> tuple[list[EventKind], list[str]]:
        """The event kinds and alert kinds about ``ports`` in the results from ``since`` on."""
        results = self.results[since:]
        events = [e.kind for r in results for e in r.events if e.listener.port in ports]
        alerts = [str(a.kind) for r in results for a in r.alerts if a.port in ports]
        return events, alerts

    def written(self) -> HistoryReader:
        assert self.pipeline.history is not None
        assert self.pipeline.history.wait_idle(10)
        return HistoryReader(self.recorder.path)

    def close(self) -> None:
        self.pipeline.close()
        self.recorder.close()


@pytest.mark.parametrize("change", ["respawn", "reload"])
def test_a_respawned_worker_or_a_reload_is_no_news(source: SocketSource, change: str) -> None:
    watch = Watch(source)
    try:
        watch.step()  # the start-up picture, before the server
        with PreforkServer(workers=3) as server:
            ports = server.ports
            watch.pipeline.set_settings(
                Settings(
                    exposure_level=Exposure.LOOPBACK,
                    quiet_period=0,
                    summary_threshold=1000,
                    watched_ports=tuple(WatchedPort(PortSpec(p, p)) for p in ports),
                )
            )
            since = len(watch.results)
            watch.until(lambda s: held_by(s, server, server.holders))
            events, alerts = watch.news(since, ports)
            # The settings do speak about these sockets: binding them is news.
            assert events == [EventKind.BOUND, EventKind.BOUND]
            assert alerts
            master = server.pid

            old = set(server.workers)
            since = len(watch.results)
            new = server.kill_worker() if change == "respawn" else server.reload()
            assert set(new) != old
            scans = watch.until(lambda s: held_by(s, server, {master, *new}))
            # The change was seen (the holders moved), and it was no news.
            assert scans >= 1
            assert watch.news(since, ports) == ([], [])
            for result in watch.results[since:]:
                assert [r.pid for r in rows_of(result.snapshot, server)] == [master, master]

            history = watch.written()
            for port in ports:
                [holding] = [h for h in history.holdings(port=port) if h.proto == "tcp"]
                assert (holding.pid, holding.end) == (master, None)
                mine = [
                    e for e in history.events(port=port) if e.proto == "tcp" and e.kind != "alert"
                ]
                assert [(e.kind, e.pid) for e in mine] == [("bound", master)]
            endpoints = server.endpoints
        since = len(watch.results)
        watch.until(lambda s: not at(s.listeners, endpoints))
        # The end of the server is news again: the rules were listening all along.
        assert watch.news(since, ports)[0] == [EventKind.FREED, EventKind.FREED]
        assert watch.problems.said == []
    finally:
        watch.close()
