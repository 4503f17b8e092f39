"""'Can I use this port?': one answer for TCP and UDP, from binds and the kernel's TIME_WAIT count.

TIME_WAIT is made by real connections on loopback that the server side closes
first; holders are real child processes.
"""

from __future__ import annotations

import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from portwatch.core.platform.time_wait import proc_net_time_wait, time_wait_count
from portwatch.core.portcheck import BindStatus, answer_port, check_port
from tests.support.procs import ListenerProcess, wait_until

ROOT = Path(__file__).resolve().parent.parent
linux_only = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="Linux's tables")


def closed_connections(count: int, *, reuse: bool) -> int:
    """A port whose listener is gone and whose ``count`` connections wait in TIME_WAIT.

    The server's end closes first, so the server's port (the one a new server
    wants) is the one that waits. ``reuse``: the old listener set SO_REUSEADDR.
    """
    server = socket.socket()
    if reuse:
        server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    server.bind(("127.0.0.1", 0))
    server.listen()
    port: int = server.getsockname()[1]
    clients = []
    for _ in range(count):
        client = socket.create_connection(("127.0.0.1", port), timeout=5)
        accepted, _ = server.accept()
        accepted.close()
        clients.append(client)
    server.close()
    for client in clients:
        client.recv(1)  # the server's FIN has arrived: the client's close ends it
        client.close()
    assert wait_until(lambda: time_wait_count(port) == count, timeout=10)
    return port


@pytest.fixture
def udp_holder() -> Iterator[ListenerProcess]:
    child = ListenerProcess(["udp:0.0.0.0:0"])
    yield child
    child.stop()


def portwatch(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "portwatch", *args],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=ROOT,
        check=False,
    )


@linux_only
def test_the_kernel_count_and_the_proc_tables_agree() -> None:
    port = closed_connections(3, reuse=False)
    assert proc_net_time_wait(port) == 3
    # Another port's leftovers are not counted.
    assert time_wait_count(port + 1 if port < 65535 else port - 1) == 0


def test_connections_in_time_wait_are_named_when_nothing_listens() -> None:
    port = closed_connections(3, reuse=False)
    check = check_port(port)
    # Without SO_REUSEADDR on the old listener, not even a SO_REUSEADDR server may bind.
    assert check.statuses["127.0.0.1"] is BindStatus.IN_USE
    assert not check.free
    assert check.time_wait == 3
    assert check.message().startswith(
        f"Nothing listens on TCP port {port}, but 3 connections are in TIME_WAIT for up to 60 s: "
        "a new server gets 'Address already in use' until they expire."
    )


def test_a_port_a_reusing_server_left_is_free_for_servers_that_reuse() -> None:
    port = closed_connections(1, reuse=True)
    check = check_port(port)
    assert check.free
    assert check.lingering
    assert "1 connection is in TIME_WAIT for up to 60 s" in check.message()
    assert "other servers get 'Address already in use'" in check.message()


def test_udp_counts_too(udp_holder: ListenerProcess) -> None:
    port = udp_holder.ports[0]
    answer = answer_port(port)
    assert answer.tcp.free
    assert not answer.udp.free
    assert not answer.free
    assert [row.pid for row in answer.holders] == [udp_holder.pid]
    message = answer.message()
    assert message.startswith(f"UDP port {port} is in use by listener_child.py")
    assert f"(PID {udp_holder.pid}) on 0.0.0.0:{port}." in message
    assert message.endswith(f"TCP port {port} is free.")
    assert answer.suggestion is not None
    assert answer.suggestion.proto == "udp"


def test_a_free_port_is_free_for_both() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    answer = answer_port(port)
    assert answer.free
    assert answer.message() == f"Port {port} is free (TCP and UDP)."


def test_who_and_free_say_time_wait_and_free_fails() -> None:
    port = closed_connections(2, reuse=False)
    who = portwatch("who", str(port))
    assert who.returncode == 0, who.stderr
    assert f"Nothing listens on TCP port {port}, but 2 connections are in TIME_WAIT" in who.stdout
    assert f"UDP port {port} is free." in who.stdout
    freed = portwatch("free", str(port), "--yes")
    assert freed.returncode == 1, freed.stdout
    assert "2 connections are in TIME_WAIT" in freed.stderr
    assert "already free" not in freed.stdout + freed.stderr


def test_free_of_a_free_port_says_so_and_succeeds() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    freed = portwatch("free", str(port), "--yes")
    assert freed.returncode == 0, freed.stderr
    assert freed.stdout.strip() == f"Port {port} is already free."
