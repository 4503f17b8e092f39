"""Actions on a port, against real child processes and real sockets on loopback."""

from __future__ import annotations

import contextlib
import csv
import io
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import textwrap
from collections.abc import Iterator
from dataclasses import replace
from functools import partial
from pathlib import Path
from typing import Any

import psutil
import pytest

from portwatch.core.browser import browser_url, url_host
from portwatch.core.copytext import (
    command_line_text,
    command_lines_text,
    endpoints_text,
    kill_command,
    pids_text,
    rows_text,
)
from portwatch.core.export import ExportFormat, export_format_for, export_listeners
from portwatch.core.free import (
    FreePlan,
    Holder,
    free_port,
    plan_free,
    plan_free_port,
    protected_pids,
    scan_port_settled,
    second_confirmation_reason,
    stop_processes,
)
from portwatch.core.model import Listener, OwnerUnknown, PortRange
from portwatch.core.naming import Labels
from portwatch.core.platform import BACKEND_ENV
from portwatch.core.portcheck import (
    BindStatus,
    PortCheck,
    check_port,
    suggest_free_port,
    try_bind,
)
from portwatch.core.portspec import validate_port
from portwatch.core.reveal import reveal_commands, reveal_in_file_manager
from portwatch.core.scanner import Scanner
from tests.support.factories import listener
from tests.support.procs import ListenerProcess, is_root, wait_until

ROOT = Path(__file__).resolve().parent.parent


# The development server most tests act on: node on 127.0.0.1:3000, pid 4242.
make_listener = partial(
    listener,
    port=3000,
    address="127.0.0.1",
    pid=4242,
    process="node",
    cmdline=("node", "server.js", "--name", "my app"),
    user="dev",
    started=None,
    service=None,
    port_range=PortRange.REGISTERED,
)


def scan_port(port: int) -> list[Listener]:
    scanner = Scanner(connection_owners=False)
    try:
        return scanner.scan().on_port(port)
    finally:
        scanner.close()


@pytest.fixture
def child() -> Iterator[ListenerProcess]:
    proc = ListenerProcess(["tcp:127.0.0.1:0"])
    yield proc
    proc.stop()


# --- freeing -----------------------------------------------------------------


def test_free_port_terminates_the_holder(child: ListenerProcess) -> None:
    port = child.ports[0]
    asked = []

    def confirm(plan: object) -> bool:
        asked.append(plan)
        return True

    outcome = free_port(port, confirm=confirm, timeout=5)
    assert len(asked) == 1
    assert [h.pid for h in outcome.plan.holders] == [child.pid]
    holder = outcome.plan.holders[0]
    assert holder.refusal is None
    assert "listener_child.py" in holder.command_text
    assert outcome.results[0].ended == (child.pid,)
    assert not outcome.results[0].force
    assert outcome.free_after
    assert f"Port {port} is free now." in outcome.message()
    assert not psutil.pid_exists(child.pid) or child.proc.poll() is not None
    assert scan_port(port) == []


def test_udp_and_tcp_on_every_address_are_found() -> None:
    with ListenerProcess(["tcp:127.0.0.1:0"]) as first:
        port = first.ports[0]
        with ListenerProcess([f"udp:127.0.0.1:{port}", f"tcp:::1:{port}"]) as second:
            scanner = Scanner(connection_owners=False)
            plan = plan_free_port(port, scanner.scan())
            scanner.close()
            pids = {h.pid for h in plan.holders}
            assert pids == {first.pid, second.pid}
            protos = {(r.proto, r.family) for h in plan.holders for r in h.listeners}
            assert protos == {("tcp", 4), ("udp", 4), ("tcp", 6)}
            outcome = free_port(port, timeout=5)
            assert outcome.free_after, outcome.message()


PREFORK_SERVER = textwrap.dedent(
    """
    import json, os, socket, sys, time
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen()
    worker = os.fork()
    if worker:
        print(json.dumps([server.getsockname()[1], worker]), flush=True)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        time.sleep(0.2)
    """
)


@pytest.mark.parametrize("backend", ["psutil", "netlink"])
def test_a_socket_shared_by_master_and_worker_is_freed(
    backend: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(BACKEND_ENV, backend)
    proc = subprocess.Popen(
        [sys.executable, "-c", PREFORK_SERVER], stdout=subprocess.PIPE, text=True
    )
    assert proc.stdout is not None
    port, worker = json.loads(proc.stdout.readline())
    try:
        asked: list[set[int]] = []

        def confirm(plan: FreePlan) -> bool:
            asked.append({h.pid for h in plan.allowed})
            return True

        outcome = free_port(port, confirm=confirm, timeout=5)
        assert outcome.free_after, outcome.message()
        assert set().union(*asked) == {proc.pid, worker}, (asked, proc.pid, worker, outcome)
        # A backend that names one process per socket (psutil does) leaves the
        # other holder for a second round; one that names both needs one.
        assert len(asked) == (2 if len(asked[0]) == 1 else 1)
        assert proc.wait(5) is not None
    finally:
        for pid in (proc.pid, worker):
            with contextlib.suppress(psutil.NoSuchProcess):
                psutil.Process(pid).kill()
        proc.wait(5)


def test_a_child_that_ignores_sigterm_needs_force() -> None:
    with ListenerProcess(["tcp:127.0.0.1:0"], ignore_term=True) as stubborn:
        port = stubborn.ports[0]
        plan = plan_free(scan_port(port), port=port)
        soft = stop_processes(plan.allowed, timeout=0.5, port=port)
        assert soft.alive == (stubborn.pid,)
        assert "can be killed (force)" in soft.message()
        assert stubborn.proc.poll() is None
        hard = stop_processes(plan.allowed, force=True, port=port)
        assert hard.ended == (stubborn.pid,)
        assert hard.ok
        assert wait_until(lambda: stubborn.proc.poll() is not None, 5)
        assert scan_port(port) == []


def test_free_port_with_force_kills_what_survives_terminate() -> None:
    with ListenerProcess(["tcp:127.0.0.1:0"], ignore_term=True) as stubborn:
        port = stubborn.ports[0]
        without = free_port(port, timeout=0.3)
        assert not without.free_after
        assert without.results[0].alive == (stubborn.pid,)
        assert f"Port {port} is still in use" in without.message()
        forced = free_port(port, force=True, timeout=0.3)
        assert [r.force for r in forced.results] == [False, True]
        assert forced.free_after


def test_refuses_pid_1_self_and_parent() -> None:
    rows = [
        make_listener(pid=1, process="init"),
        make_listener(pid=os.getpid(), process="python"),
        make_listener(pid=os.getppid(), process="shell"),
    ]
    plan = plan_free(rows)
    assert plan.allowed == ()
    reasons = {h.pid: h.refusal for h in plan.refused}
    assert "init" in (reasons[1] or "")
    assert "portwatch itself" in (reasons[os.getpid()] or "")
    assert "started portwatch" in (reasons[os.getppid()] or "")
    # stop_processes applies the rules again, whatever the caller passes.
    result = stop_processes(plan.holders, timeout=0.1)
    assert {pid for pid, _ in result.refused} == {1, os.getpid(), os.getppid()}
    assert result.ended == ()
    assert psutil.pid_exists(1)
    assert "Will not end PID 1" in result.message()
    assert 0 in protected_pids()


def test_a_vanished_process_counts_as_freed() -> None:
    with ListenerProcess(["tcp:127.0.0.1:0"]) as gone:
        plan = plan_free(scan_port(gone.ports[0]))
    assert gone.proc.poll() is not None
    result = stop_processes(plan.allowed, timeout=1)
    assert result.ended == (gone.pid,)
    assert result.ok


def test_a_reused_pid_is_not_touched(child: ListenerProcess) -> None:
    plan = plan_free(scan_port(child.ports[0]))
    holder = plan.allowed[0]
    assert holder.started is not None
    # Same PID, another start time: a new process took the number.
    result = stop_processes([replace(holder, started=holder.started - 1000)], timeout=1)
    assert result.ended == (child.pid,)
    assert child.proc.poll() is None


def test_second_confirmation_rules() -> None:
    def reason(uid: int | None, user: str | None, platform: str) -> str | None:
        return second_confirmation_reason(
            uid=uid,
            user=user,
            my_uid=1000,
            my_user="me" if platform != "win32" else "PC\\me",
            platform=platform,
        )

    assert reason(1000, "me", "linux") is None
    assert "root" in (reason(0, "root", "linux") or "")
    # A service is one by its unit (or as a daemon of PID 1), not by running as root.
    service = second_confirmation_reason(
        uid=0, user="root", my_uid=0, my_user="root", platform="linux", service="nginx.service"
    )
    assert service == "it is a system service (nginx.service, runs as root)"
    as_root = second_confirmation_reason(uid=0, user="root", my_uid=0, my_user="root")
    assert as_root is None
    own_unit = second_confirmation_reason(
        uid=1000, user="me", my_uid=1000, my_user="me", platform="linux", service="vite.service"
    )
    assert own_unit is None  # systemctl --user: the person's own
    assert "system account" in (reason(33, "www-data", "linux") or "")
    assert "another user" in (reason(1001, "alice", "linux") or "")
    assert "cannot be read" in (reason(None, None, "linux") or "")
    assert "root" in (reason(0, "root", "darwin") or "")
    assert "system account" in (reason(70, "_www", "darwin") or "")
    assert reason(1000, "me", "darwin") is None
    assert "system service" in (reason(None, "NT AUTHORITY\\SYSTEM", "win32") or "")
    assert "system service" in (reason(None, "NT AUTHORITY\\NETWORK SERVICE", "win32") or "")
    assert "system service" in (reason(None, "NT AUTHORITY\\LOCAL SERVICE", "win32") or "")
    assert "another user" in (reason(None, "PC\\alice", "win32") or "")
    assert reason(None, "PC\\me", "win32") is None


def test_plan_marks_other_users_for_a_second_confirmation(child: ListenerProcess) -> None:
    plan = plan_free(scan_port(child.ports[0]))
    holder = plan.allowed[0]
    # Our own child, started from here (root's too, as root): not a service, not another's.
    assert holder.second_confirmation is None


def test_ownerless_sockets_are_explained() -> None:
    hidden = make_listener(pid=None, owner_unknown=OwnerUnknown.NEEDS_PRIVILEGES, process=None)
    kernel = make_listener(pid=None, owner_unknown=OwnerUnknown.KERNEL, process=None, proto="udp")
    plan = plan_free([hidden, kernel], port=3000)
    assert plan.holders == ()
    text = " ".join(plan.problems())
    assert "without privileges" in text
    assert "sudo portwatch free 3000" in text
    assert "kernel-owned" in text


PERMISSION_CHILD = textwrap.dedent(
    """
    import json, sys
    from portwatch.core.free import Holder, free_port, stop_processes
    port, pid = int(sys.argv[1]), int(sys.argv[2])
    outcome = free_port(port, force=True, timeout=1)
    direct = stop_processes([Holder(pid, "x", "root", None, None, None, ())], port=port)
    print(json.dumps({
        "free_message": outcome.message(),
        "free_after": outcome.free_after,
        "denied": list(direct.denied),
        "stop_message": direct.message(),
    }))
    """
)


@pytest.mark.privileged
@pytest.mark.skipif(not is_root() or shutil.which("setpriv") is None, reason="needs root+setpriv")
def test_permission_refused_as_nobody(child: ListenerProcess) -> None:
    system_python = Path("/usr/bin/python3")
    probe = subprocess.run(
        [str(system_python), "-c", "import psutil"], capture_output=True, check=False
    )
    if probe.returncode != 0:
        pytest.skip("the system python3 has no psutil (apt install python3-psutil)")
    port = child.ports[0]
    copy = Path(tempfile.mkdtemp(prefix="portwatch-nobody-"))
    try:
        copy.chmod(0o755)
        shutil.copytree(
            ROOT / "portwatch", copy / "portwatch", ignore=shutil.ignore_patterns("__pycache__")
        )
        for path in copy.rglob("*"):
            path.chmod(0o755 if path.is_dir() else 0o644)
        env = {
            "PATH": "/usr/bin:/bin",
            "PYTHONPATH": str(copy),
            "PYTHONDONTWRITEBYTECODE": "1",
            "HOME": str(copy),
        }
        done = subprocess.run(
            [
                "setpriv", "--reuid=65534", "--regid=65534", "--clear-groups",
                str(system_python), "-c", PERMISSION_CHILD, str(port), str(child.pid),
            ],
            capture_output=True, text=True, env=env, cwd=copy, timeout=60, check=False,
        )  # fmt: skip
    finally:
        shutil.rmtree(copy, ignore_errors=True)
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    # As nobody the root-owned socket has no visible owner: freeing is refused
    # with the way to do it with privileges.
    assert not report["free_after"]
    assert f"sudo portwatch free {port}" in report["free_message"]
    # Naming the PID directly: the OS refuses the signal.
    assert report["denied"] == [child.pid]
    assert "Permission refused" in report["stop_message"]
    assert f"sudo portwatch free {port}" in report["stop_message"]
    assert child.proc.poll() is None
    assert [row.pid for row in scan_port(port)] == [child.pid]


# --- free port check and suggestion -------------------------------------------


def test_check_port_names_the_holder_and_suggests(child: ListenerProcess) -> None:
    port = child.ports[0]
    assert try_bind("127.0.0.1", port) is BindStatus.IN_USE
    assert try_bind("0.0.0.0", port) is BindStatus.IN_USE
    check = check_port(port)
    assert not check.free
    # Named as the app, not the interpreter: the child runs "python listener_child.py".
    [held] = check.held_by()
    assert held.startswith("listener_child.py")
    assert held.endswith(f"(PID {child.pid}) on 127.0.0.1:{port}")
    assert check.suggestion is not None
    assert check.suggestion.port is not None
    assert check.suggestion.port > port
    message = check.message()
    assert f"PID {child.pid}" in message
    assert f"Nearest free port: {check.suggestion.port}" in message


def test_check_port_says_each_holder_once_with_its_addresses_and_the_users_name() -> None:
    workers: dict[str, Any] = {"pids": (40, 41, 42), "app": "nginx", "project": "shop"}
    rows = (
        listener(8080, "0.0.0.0", pid=40, process="nginx", **workers),
        listener(8080, "::", pid=40, process="nginx", **workers),
        listener(8080, "127.0.0.2", pid=77, process="python3", app="http.server"),
        listener(8080, "0.0.0.0", proto="udp", pid=90, process="dnsmasq"),
    )
    busy = dict.fromkeys(("127.0.0.1", "0.0.0.0", "::1", "::"), BindStatus.IN_USE)
    check = PortCheck(port=8080, proto="tcp", statuses=busy, holders=rows)
    assert check.held_by() == [
        "nginx — shop (PID 40, +2 more) on 0.0.0.0:8080 and [::]:8080",
        "http.server (PID 77) on 127.0.0.2:8080",
    ]
    labels = Labels(ports={8080: "Shop proxy"})
    assert check.message(labels) == (
        "TCP port 8080 is in use by Shop proxy (PID 40, +2 more) on 0.0.0.0:8080 and "
        "[::]:8080; Shop proxy (PID 77) on 127.0.0.2:8080."
    )


def test_check_port_says_a_hidden_holder_is_hidden() -> None:
    hidden: dict[str, Any] = {
        "pid": None,
        "owner_unknown": OwnerUnknown.NEEDS_PRIVILEGES,
        "user": None,
    }
    rows = (
        listener(5432, "127.0.0.1", **hidden),
        listener(6379, "127.0.0.1", **{**hidden, "user": "redis", "unit": "redis.service"}),
    )
    busy = dict.fromkeys(("127.0.0.1", "0.0.0.0", "::1", "::"), BindStatus.IN_USE)
    postgres = PortCheck(port=5432, proto="tcp", statuses=busy, holders=rows[:1])
    assert postgres.held_by() == ["another user's process (hidden) on 127.0.0.1:5432"]
    redis = PortCheck(port=6379, proto="tcp", statuses=busy, holders=rows[1:])
    assert redis.held_by() == ["redis.service (redis, hidden) on 127.0.0.1:6379"]


def test_check_port_free_after_release() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    check = check_port(port)
    assert check.free, check.message()
    assert check.message() == f"TCP port {port} is free."


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="TIME_WAIT probe is Linux-only")
def test_time_wait_leftovers_are_lingering_not_held() -> None:
    server = socket.socket()
    server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    server.bind(("127.0.0.1", 0))
    server.listen()
    port = server.getsockname()[1]
    client = socket.create_connection(("127.0.0.1", port), timeout=5)
    accepted, _ = server.accept()
    # The server side closes first, so its end of the connection waits in TIME_WAIT.
    accepted.close()
    server.close()
    client.close()
    assert try_bind("127.0.0.1", port) is BindStatus.LINGERING
    check = check_port(port)
    assert check.free
    assert check.lingering
    assert "TIME_WAIT" in check.message()
    # A suggestion wants a clean port.
    suggestion = suggest_free_port(port)
    assert suggestion.port != port


def test_a_listener_on_ipv6_loopback_makes_the_port_busy() -> None:
    with ListenerProcess(["tcp:::1:0"]) as six:
        check = check_port(six.ports[0])
        assert not check.free
        assert check.statuses["::1"] is BindStatus.IN_USE


def test_suggest_skips_a_port_the_test_holds() -> None:
    with socket.socket() as held:
        held.bind(("127.0.0.1", 0))
        held.listen()
        port = held.getsockname()[1]
        suggestion = suggest_free_port(port)
        assert suggestion.port is not None
        assert suggestion.port > port
        assert try_bind("0.0.0.0", suggestion.port) is BindStatus.FREE


def test_suggest_stops_at_65535_with_a_message() -> None:
    none = suggest_free_port(65530, bindable=lambda _port, _proto: False)
    assert none.port is None
    assert none.message() == "No free TCP port between 65530 and 65535."
    last = suggest_free_port(65530, bindable=lambda port, _proto: port == 65535)
    assert last.port == 65535
    with pytest.raises(ValueError, match="out of range"):
        suggest_free_port(0)
    with pytest.raises(ValueError, match="out of range"):
        check_port(70000)


@pytest.mark.parametrize(
    ("text", "port", "error"),
    [
        ("8080", 8080, None),
        (" 1 ", 1, None),
        ("65535", 65535, None),
        ("0", None, "out of range"),
        ("70000", None, "out of range"),
        ("abc", None, "not a port number"),
        ("", None, "Enter a port number"),
    ],
)
def test_validate_port(text: str, port: int | None, error: str | None) -> None:
    got, message = validate_port(text)
    assert got == port
    if error is None:
        assert message is None
    else:
        assert error in (message or "")


# --- URLs and texts ------------------------------------------------------------


@pytest.mark.parametrize(
    ("fields", "url"),
    [
        ({"address": "0.0.0.0", "port": 3000}, "http://localhost:3000/"),
        ({"address": "::", "family": 6, "port": 5173}, "http://localhost:5173/"),
        ({"address": "127.0.0.1", "port": 8080}, "http://127.0.0.1:8080/"),
        ({"address": "::1", "family": 6, "port": 8000}, "http://[::1]:8000/"),
        ({"address": "127.0.0.1", "port": 443}, "https://127.0.0.1:443/"),
        ({"address": "0.0.0.0", "port": 8443}, "https://localhost:8443/"),
        ({"address": "0.0.0.0", "port": 9443, "service": "https-alt"}, "https://localhost:9443/"),
        ({"address": "fe80::1%eth0", "family": 6, "port": 80}, "http://[fe80::1%25eth0]:80/"),
        ({"proto": "udp", "port": 5353}, None),
    ],
)
def test_browser_url(fields: dict[str, Any], url: str | None) -> None:
    assert browser_url(make_listener(**fields)) == url


def test_url_host_keeps_ipv4_addresses() -> None:
    assert url_host("127.0.0.2") == "127.0.0.2"
    assert url_host("::ffff:127.0.0.1") == "[::ffff:127.0.0.1]"


def test_copy_texts() -> None:
    rows = [
        make_listener(),
        make_listener(address="::1", family=6, proto="udp"),
        make_listener(pid=77, process="redis", cmdline=("redis-server", "*:6379"), user="redis"),
    ]
    assert endpoints_text(rows) == "127.0.0.1:3000\n[::1]:3000\n127.0.0.1:3000"
    assert pids_text(rows) == "4242\n77"
    assert command_line_text(["node", "my app.js"], windows=False) == "node 'my app.js'"
    assert command_line_text(["node", "my app.js"], windows=True) == 'node "my app.js"'
    assert command_lines_text(rows, windows=False) == (
        "node server.js --name 'my app'\nredis-server '*:6379'"
    )
    assert kill_command(rows[:1], windows=False, my_user="dev") == "kill 4242"
    assert kill_command(rows, windows=False, my_user="dev") == "sudo kill 4242 77"
    assert kill_command(rows, windows=True) == "taskkill /F /PID 4242 /PID 77"
    assert kill_command([make_listener(pid=None)], windows=False) is None
    text = rows_text(rows[:1])
    header, line = text.split("\n")
    assert header.split("\t")[:3] == ["PROTO", "ADDRESS", "PORT"]
    assert line.split("\t")[:7] == ["tcp4", "127.0.0.1", "3000", "-", "loopback", "4242", "node"]
    assert rows_text(rows[:1], header=False) == line


def test_export_round_trip(tmp_path: Path, child: ListenerProcess) -> None:
    rows = [*scan_port(child.ports[0]), make_listener(pid=None, process=None, cmdline=None)]
    result = export_listeners(rows, tmp_path / "table.csv")
    assert result.error is None
    assert result.fmt is ExportFormat.CSV
    parsed = list(csv.DictReader(io.StringIO(result.path.read_text())))
    assert [(r["port"], r["pid"]) for r in parsed] == [
        (str(r.port), "" if r.pid is None else str(r.pid)) for r in rows
    ]
    result = export_listeners(rows, tmp_path / "table", ExportFormat.JSON)
    assert result.path == tmp_path / "table.json"
    data = json.loads(result.path.read_text())
    assert [(d["port"], d["pid"], d["address"]) for d in data] == [
        (r.port, r.pid, r.address) for r in rows
    ]
    assert "Exported 2 rows" in result.message()
    assert export_format_for("x.json") is ExportFormat.JSON
    assert export_format_for("x.txt", "JSON (*.json)") is ExportFormat.JSON
    assert export_format_for("x", "CSV (*.csv)") is ExportFormat.CSV


def test_export_to_a_missing_folder_is_an_error_value(tmp_path: Path) -> None:
    result = export_listeners([make_listener()], tmp_path / "missing" / "t.csv")
    assert result.error
    assert "Could not export" in result.message()


def test_reveal_commands_per_platform() -> None:
    path = "/opt/app/bin/server"
    assert reveal_commands(path, platform="darwin") == [["open", "-R", path]]
    win = r"C:\Program Files\app\server.exe"
    assert reveal_commands(win, platform="win32") == [["explorer", f"/select,{win}"]]
    linux = reveal_commands(path, platform="linux", which=lambda name: f"/usr/bin/{name}")
    assert linux[0][0] == "dbus-send"
    assert "array:string:file:///opt/app/bin/server" in linux[0]
    assert linux[1] == ["xdg-open", "/opt/app/bin"]
    only_xdg = reveal_commands(
        path, platform="linux", which=lambda n: "/usr/bin/xdg-open" if n == "xdg-open" else None
    )
    assert only_xdg == [["xdg-open", "/opt/app/bin"]]


def test_holder_label() -> None:
    holder = Holder(12, None, None, None, "/bin/x", None, ())
    assert holder.label == "unknown process (PID 12)"
    assert holder.command_text == "/bin/x"


def test_reveal_runs_the_opener_detached(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    if not sys.platform.startswith("linux"):
        pytest.skip("the Linux opener is exercised here; other OSes by reveal_commands")
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    record = tmp_path / "argv.txt"
    opener = bin_dir / "xdg-open"
    opener.write_text(f'#!/bin/sh\nprintf "%s\\n" "$@" > {record}\n')
    opener.chmod(0o755)
    # No dbus-send on this PATH: the xdg-open fallback is what runs.
    monkeypatch.setenv("PATH", str(bin_dir))
    target = tmp_path / "server"
    target.write_text("")
    result = reveal_in_file_manager(str(target))
    assert result.error is None
    assert result.command == ("xdg-open", str(tmp_path))
    assert wait_until(lambda: record.exists() and record.read_text() != "", 5)
    assert record.read_text().strip() == str(tmp_path)


def test_reveal_explains_what_is_missing(tmp_path: Path) -> None:
    assert "not known" in (reveal_in_file_manager(None).error or "")
    assert "does not exist" in (reveal_in_file_manager(str(tmp_path / "gone")).error or "")


def test_pending_owners_are_explained() -> None:
    pending = make_listener(pid=None, process=None, owner_unknown=OwnerUnknown.PENDING)
    plan = plan_free([pending], port=3000)
    assert plan.allowed == ()
    assert any("still being looked up" in line for line in plan.problems())
    assert not any("cannot free them" in line for line in plan.problems())


@pytest.mark.parametrize("backend", ["psutil", "netlink"])
def test_a_fresh_scanner_settles_before_free_decides(
    backend: str, monkeypatch: pytest.MonkeyPatch, child: ListenerProcess
) -> None:
    monkeypatch.setenv(BACKEND_ENV, backend)
    scanner = Scanner(connection_owners=False)
    try:
        rows = scan_port_settled(scanner, child.ports[0])
    finally:
        scanner.close()
    assert [row.pid for row in rows] == [child.pid]
