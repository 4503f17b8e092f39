"""Freeing a port that something restarts: said, with how to stop what restarts it."""

from __future__ import annotations

import socket
import subprocess
import sys
import textwrap
from collections.abc import Iterator

import pytest

from portwatch.core.free import free_port
from portwatch.core.free.recheck import held_again, restarted_by
from portwatch.core.scanner import Scanner
from tests.support.factories import listener
from tests.support.procs import ListenerProcess, wait_until

# A supervisor that starts a server on PORT again each time it ends (at most 20 times).
SUPERVISOR = textwrap.dedent(
    """
    import socket, subprocess, sys
    port = int(sys.argv[1])
    server = (
        "import socket, time\\n"
        "s = socket.socket()\\n"
        "s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)\\n"
        f"s.bind(('127.0.0.1', {port}))\\n"
        "s.listen()\\n"
        "time.sleep(120)\\n"
    )
    for _ in range(20):
        subprocess.run([sys.executable, "-c", server])
    """
)


@pytest.fixture
def restarted_port() -> Iterator[int]:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    supervisor = subprocess.Popen([sys.executable, "-c", SUPERVISOR, str(port)])
    scanner = Scanner(connection_owners=False)
    try:
        assert wait_until(lambda: bool(scanner.scan().on_port(port)), timeout=10)
        yield port
    finally:
        scanner.close()
        supervisor.kill()  # first: it starts no new server
        supervisor.wait(5)
        subprocess.run(["pkill", "-f", f"'127.0.0.1', {port}"], check=False)


def test_free_says_the_port_was_taken_again_and_does_not_chase_it(restarted_port: int) -> None:
    # Watched until the supervisor's new server has it (returns as soon as it does).
    outcome = free_port(restarted_port, restart_grace=30)
    assert not outcome.free_after
    assert outcome.recheck is not None
    assert outcome.recheck.again
    said = outcome.message()
    assert f"Port {restarted_port} is held again by python" in said
    assert "s ago)" in said
    assert "something started it again" in said
    # One process was ended, not one per restart.
    assert [result.ended for result in outcome.results] == [(outcome.plan.holders[0].pid,)]


def test_free_of_a_server_nothing_restarts_watches_briefly_and_says_free() -> None:
    with ListenerProcess(["tcp:127.0.0.1:0"]) as child:
        outcome = free_port(child.ports[0], restart_grace=0.3)
    assert outcome.free_after
    assert outcome.message().endswith(f"Port {child.ports[0]} is free now.")


def test_the_words_name_the_unit_or_the_container_that_restarts_it() -> None:
    unit = listener(80, "0.0.0.0", pid=9, process="nginx", unit="nginx.service", started=99.0)
    text = held_again(80, (unit,), now=100.0)
    assert text.startswith("Port 80 is held again by nginx (PID 9, started 1 s ago): ")
    assert "it is restarted by nginx.service — stop it with `" in text
    assert text.endswith("stop nginx.service`.")
    boxed = listener(80, "0.0.0.0", pid=9, process="nginx", container="web (shop_web_1)")
    assert restarted_by(boxed) == (
        "it runs in the container web (shop_web_1): stop the container to free the port"
    )
