"""A port something starts a server on again each time it ends: a supervisor child."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import textwrap
from collections.abc import Iterator

import pytest

from portwatch.core.scanner import Scanner
from tests.support.procs import wait_until

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
        supervisor.kill()  # first: it starts no new server
        supervisor.wait(5)
        # Its last server, by the PID the port shows.
        for row in scanner.scan().on_port(port):
            for pid in row.pids:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
        scanner.close()
