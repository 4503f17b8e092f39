"""Failed reads keep the last picture; failed owner lookups say why.

The listeners are real sockets of real children; the failures are injected
by making one OS-level read of a scan raise OSError on every 4th scan.
"""

from __future__ import annotations

import functools
import json
import os
import pathlib
import shutil
import subprocess
import sys
import textwrap
from collections.abc import Callable, Iterator
from typing import Any

import psutil
import pytest

from portwatch.core.alerts.alert import Alert, AlertKind
from portwatch.core.alerts.engine import AlertRules
from portwatch.core.consumers import ConsumerGuard
from portwatch.core.diff import Event, diff
from portwatch.core.free import plan_free
from portwatch.core.model import OwnerUnknown, Snapshot
from portwatch.core.platform.linux import LinuxPsutilSource
from portwatch.core.platform.netlink.sock_diag import SockDiag
from portwatch.core.platform.netlink.source import LinuxNetlinkSource
from portwatch.core.procinfo import ProcessCache
from portwatch.core.scanner import Scanner
from portwatch.core.settings import Settings
from tests.support.factories import listener
from tests.support.procs import Endpoint, ListenerProcess, at, is_root

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="Linux sources")

SPECS = ["tcp:127.0.0.1:0", "tcp:0.0.0.0:0", "udp:127.0.0.1:0"]
SCANS = 40


class Faults:
    """Makes the wrapped calls raise OSError while ``failing`` (every 4th scan)."""

    def __init__(self) -> None:
        self.failing = False
        self.raised = 0

    def wrap(self, real: Callable[..., Any], when: Callable[..., bool] | None = None) -> Any:
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            if self.failing and (when is None or when(*args, **kwargs)):
                self.raised += 1
                raise OSError("injected read failure")
            return real(*args, **kwargs)

        return wrapper


def _under_proc_net(path: pathlib.Path, *_: object, **__: object) -> bool:
    return str(path).startswith("/proc/net/")


def _inject(step: str, faults: Faults, monkeypatch: pytest.MonkeyPatch) -> Scanner:
    """A scanner whose ``step`` fails while ``faults.failing``."""
    if step == "netlink dump":
        monkeypatch.setattr(SockDiag, "dump", faults.wrap(SockDiag.dump))
        return Scanner(LinuxNetlinkSource(), connection_owners=False)
    if step == "/proc/net read":
        monkeypatch.setattr(
            pathlib.Path, "read_text", faults.wrap(pathlib.Path.read_text, _under_proc_net)
        )
        return Scanner(LinuxNetlinkSource(use_netlink=False), connection_owners=False)
    if step == "psutil.net_connections":
        monkeypatch.setattr(psutil, "net_connections", faults.wrap(psutil.net_connections))
        return Scanner(LinuxPsutilSource(), connection_owners=False)
    if step == "owner walk":
        for name in ("readlink", "listdir", "open", "stat"):
            real = getattr(os, name)
            monkeypatch.setattr(os, name, faults.wrap(real, _in_proc))
        return Scanner(LinuxNetlinkSource(), connection_owners=False)
    assert step == "process info"
    monkeypatch.setattr(ProcessCache, "get", faults.wrap(ProcessCache.get))
    return Scanner(LinuxNetlinkSource(), connection_owners=False)


def _in_proc(path: object = "", *_: object, **__: object) -> bool:
    # readlink(name, dir_fd=...) inside an fd table, or any path under /proc.
    return "dir_fd" in __ or str(path).startswith("/proc")


# A failed table read makes the snapshot stale; a failed owner or process
# lookup keeps what was known (the table itself was read).
STALE_STEPS = ("netlink dump", "/proc/net read", "psutil.net_connections")


@pytest.fixture
def child() -> Iterator[ListenerProcess]:
    proc = ListenerProcess(SPECS)
    try:
        yield proc
    finally:
        proc.stop()


def _ours(events: list[Event], endpoints: list[Endpoint]) -> list[Event]:
    wanted = set(endpoints)
    return [e for e in events if (e.listener.proto, e.listener.address, e.listener.port) in wanted]


def _alerts_on(alerts: list[Alert], ports: set[int]) -> list[Alert]:
    return [
        a
        for a in alerts
        if a.kind is not AlertKind.STARTUP and (a.port in ports or set(a.ports) & ports)
    ]


@pytest.mark.parametrize(
    "step",
    [*STALE_STEPS, "owner walk", "process info"],
)
def test_failed_reads_at_every_step_give_no_events_and_no_alerts(
    step: str, child: ListenerProcess, monkeypatch: pytest.MonkeyPatch
) -> None:
    faults = Faults()
    scanner = _inject(step, faults, monkeypatch)
    rules = AlertRules()
    settings = Settings()
    previous: Snapshot | None = None  # what a consumer keeps: the last good picture
    events: list[Event] = []
    alerts: list[Alert] = []
    stale: list[int] = []
    try:
        for number in range(SCANS):
            faults.failing = number % 4 == 3
            try:
                snapshot = scanner.scan()
            finally:
                faults.failing = False
            if snapshot.stale is not None:
                stale.append(number)
                assert snapshot.stale  # the reason, in words
            # Every snapshot, stale or not, still shows the child's sockets with their owner.
            rows = at(snapshot.listeners, child.endpoints)
            assert len(rows) == len(SPECS), (number, snapshot.stale)
            assert {r.pid for r in rows} == {child.pid}, (number, [r.owner_label for r in rows])
            # Consumers see stale snapshots as no news; diff and rules do too.
            got = diff(previous, snapshot)
            events += _ours(got, child.endpoints)
            alerts += rules.evaluate(previous, snapshot, got, settings)
            if snapshot.stale is None:
                previous = snapshot
    finally:
        scanner.close()
    assert faults.raised >= SCANS // 4
    assert events == []
    assert _alerts_on(alerts, {p for _, _, p in child.endpoints}) == []
    if step in STALE_STEPS:
        assert stale == [n for n in range(SCANS) if n % 4 == 3]
    else:
        assert stale == []


def test_a_first_read_that_fails_is_an_empty_stale_snapshot_never_events(
    child: ListenerProcess, monkeypatch: pytest.MonkeyPatch
) -> None:
    faults = Faults()
    scanner = _inject("psutil.net_connections", faults, monkeypatch)
    faults.failing = True
    first = scanner.scan()
    faults.failing = False
    assert first.listeners == ()
    assert first.stale == "injected read failure"
    good = scanner.scan()
    assert good.stale is None
    assert len(at(good.listeners, child.endpoints)) == len(SPECS)
    # Neither way is news: no "bound" for everything after a failed first read.
    assert diff(first, good) == []
    assert diff(good, first) == []
    again = scanner.scan()
    assert diff(good, again) == [] or not _ours(diff(good, again), child.endpoints)
    scanner.close()


@pytest.mark.usefixtures("child")
def test_a_failed_read_keeps_the_last_picture_and_its_time(monkeypatch: pytest.MonkeyPatch) -> None:
    faults = Faults()
    scanner = _inject("netlink dump", faults, monkeypatch)
    good = scanner.scan()
    faults.failing = True
    kept = scanner.scan()
    faults.failing = False
    scanner.close()
    assert kept.stale == "the kernel's socket list: injected read failure"
    assert kept.listeners is good.listeners
    assert kept.taken_at == good.taken_at  # "showing the last one from …"
    assert not kept.warming_up


def test_a_consumer_that_raises_is_logged_once_per_run_and_stops_nothing(
    caplog: pytest.LogCaptureFixture,
) -> None:
    guard = ConsumerGuard()
    ran: list[int] = []

    def broken() -> None:
        "\udcff".encode()  # a name the history cannot store

    messages = []
    for scan in range(5):
        messages.append(guard.run("Saving the port history", broken))
        guard.run("Checking the alert rules", functools.partial(ran.append, scan))
    assert ran == [0, 1, 2, 3, 4]  # the other consumer ran every time
    assert messages[0] is not None
    assert "Saving the port history failed" in messages[0]
    assert messages[1:] == [None] * 4
    logged = [r for r in caplog.records if "Saving the port history" in r.getMessage()]
    assert len(logged) == 1
    assert logged[0].exc_info is not None  # with its traceback
    # Working again ends the run: the next failure is told again.
    guard.run("Saving the port history", lambda: None)
    assert guard.run("Saving the port history", broken) is not None


# --- owner lookups that fail say so ---

_SCAN_CHILD = textwrap.dedent(
    """
    import json, os, resource, sys
    from portwatch.core.scanner import Scanner
    from portwatch.core.platform.netlink.source import LinuxNetlinkSource
    port = int(sys.argv[1])
    scanner = Scanner(LinuxNetlinkSource(), connection_owners=False)
    if sys.argv[2] == "emfile":
        # Every descriptor taken: opening /proc or an fd table gives EMFILE.
        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        resource.setrlimit(resource.RLIMIT_NOFILE, (256, hard))
        held = []
        try:
            while True:
                held.append(os.open("/dev/null", os.O_RDONLY))
        except OSError:
            pass
    snapshot = scanner.scan()
    rows = [
        {"pid": r.pid, "why": r.owner_unknown}
        for r in snapshot.listeners if r.port == port and r.address == "127.0.0.1"
    ]
    print(json.dumps({"rows": rows, "warnings": list(snapshot.warnings)}))
    """
)


def _scan_in_child(port: int, mode: str, prefix: list[str]) -> dict[str, Any]:
    root = pathlib.Path(__file__).resolve().parents[1]
    out = subprocess.run(
        [*prefix, sys.executable, "-c", _SCAN_CHILD, str(port), mode],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
        cwd=root,
        env={**os.environ, "PYTHONPATH": str(root)},
    )
    result: dict[str, Any] = json.loads(out.stdout)
    return result


@pytest.mark.parametrize("mode", ["emfile", "no capabilities"])
def test_an_owner_lookup_that_fails_says_why_not_kernel_owned(mode: str) -> None:
    prefix: list[str] = []
    if mode == "no capabilities":
        # Root without CAP_SYS_PTRACE may not read a full-capability root
        # process's fd table (EACCES) although it is root: not "kernel-owned".
        if not is_root() or shutil.which("setpriv") is None:
            pytest.skip("needs root and setpriv")
        prefix = ["setpriv", "--inh-caps=-all", "--bounding-set=-all", "--"]
    with ListenerProcess(["tcp:127.0.0.1:0"]) as holder:
        result = _scan_in_child(holder.ports[0], mode, prefix)
    rows = result["rows"]
    assert rows, result
    assert all(r["pid"] is None for r in rows), result
    assert {r["why"] for r in rows} == {str(OwnerUnknown.LOOKUP_FAILED)}, result
    reason = "too many open files" if mode == "emfile" else "permission denied"
    assert any(
        w.startswith("owner lookup failed for ") and w.endswith(reason) for w in result["warnings"]
    ), result


def test_free_does_not_say_ending_a_process_cannot_free_a_socket_whose_lookup_failed() -> None:
    row = listener(4242, "127.0.0.1", pid=None, owner_unknown=OwnerUnknown.LOOKUP_FAILED)
    problems = " ".join(plan_free([row], port=4242).problems())
    assert "cannot free" not in problems
    assert "could not find out which process" in problems
    kernel = listener(4242, "127.0.0.1", pid=None, owner_unknown=OwnerUnknown.KERNEL)
    assert "ending a process cannot free them" in " ".join(
        plan_free([kernel], port=4242).problems()
    )


# --- `portwatch watch` ---

_WATCH_CHILD = textwrap.dedent(
    """
    import sys, psutil
    real, calls = psutil.net_connections, [0]
    def failing(*args, **kwargs):
        calls[0] += 1
        if calls[0] % 4 == 0:
            raise OSError("injected read failure")
        return real(*args, **kwargs)
    psutil.net_connections = failing
    from portwatch.entry import main
    sys.exit(main(["watch", "--interval", sys.argv[1]]))
    """
)


def test_watch_prints_no_freed_or_bound_lines_while_reads_fail(child: ListenerProcess) -> None:
    root = pathlib.Path(__file__).resolve().parents[1]
    env = {**os.environ, "PYTHONPATH": str(root), "PORTWATCH_BACKEND": "psutil"}
    watch = subprocess.Popen(
        [sys.executable, "-c", _WATCH_CHILD, "0.2"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=root,
        env=env,
    )
    try:
        # About 40 scans, every 4th read failing; then a normal stop.
        with pytest.raises(subprocess.TimeoutExpired):
            watch.wait(8)
        watch.terminate()
        out, err = watch.communicate(timeout=10)
    finally:
        if watch.poll() is None:
            watch.kill()
            watch.wait(5)
    assert watch.returncode == 0, err
    ours = [
        line
        for line in out.splitlines()
        if any(f":{port} " in line or line.rstrip().endswith(f":{port}") for port in child.ports)
    ]
    assert ours == []
    failed = err.count("could not read the port list: injected read failure")
    recovered = err.count("the port list can be read again")
    assert failed >= 5, err  # once per run of failures, not once per scan
    assert recovered in (failed, failed - 1), err
    assert "Traceback" not in err
