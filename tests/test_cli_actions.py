"""`portwatch free` and `portwatch suggest`, run as a user would: a real process per call."""

from __future__ import annotations

import os
import pty
import select
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from portwatch.core.scanner import Scanner
from tests.support.procs import ListenerProcess, wait_until

ROOT = Path(__file__).resolve().parent.parent


def portwatch(
    *args: str, stdin: int | None = subprocess.DEVNULL
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "portwatch", *args],
        cwd=ROOT,
        stdin=stdin,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def held(port: int) -> bool:
    scanner = Scanner(connection_owners=False)
    try:
        return bool(scanner.scan().on_port(port))
    finally:
        scanner.close()


def test_free_with_yes_ends_the_holder() -> None:
    with ListenerProcess(["tcp:127.0.0.1:0"]) as child:
        port = child.ports[0]
        done = portwatch("free", str(port), "--yes")
        assert done.returncode == 0, done.stderr
        assert f"Port {port} is held by:" in done.stdout
        assert f"PID {child.pid}" in done.stdout
        assert "listener_child.py" in done.stdout  # the full command line is shown
        assert f"Port {port} is free now." in done.stdout
        assert child.proc.poll() is not None
        assert not held(port)


def test_free_without_force_leaves_a_stubborn_process_and_exits_1() -> None:
    with ListenerProcess(["tcp:127.0.0.1:0"], ignore_term=True) as child:
        port = child.ports[0]
        soft = portwatch("free", str(port), "--yes", "--wait", "0.5")
        assert soft.returncode == 1
        assert "still running" in soft.stderr
        assert f"portwatch free {port} --force" in soft.stderr
        assert child.proc.poll() is None
        hard = portwatch("free", str(port), "--yes", "--force", "--wait", "0.5")
        assert hard.returncode == 0, hard.stderr
        assert "killed" in hard.stdout
        assert wait_until(lambda: child.proc.poll() is not None, 5)
        assert not held(port)


def test_free_an_already_free_port_exits_0() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    done = portwatch("free", str(port))
    assert done.returncode == 0
    assert done.stdout.strip() == f"Port {port} is already free."


def test_free_without_a_terminal_and_without_yes_refuses() -> None:
    with ListenerProcess(["tcp:127.0.0.1:0"]) as child:
        port = child.ports[0]
        done = portwatch("free", str(port))
        assert done.returncode == 1
        assert "no terminal to confirm on" in done.stderr
        assert f"portwatch free {port} --yes" in done.stderr
        assert child.proc.poll() is None
        assert held(port)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["free", "0"], "out of range"),
        (["free", "70000"], "out of range"),
        (["free", "http"], "not a port number"),
        (["free"], "required"),
        (["suggest", "-5"], ""),
        (["suggest", "abc"], "not a port number"),
        (["free", "80", "--wait", "0"], "out of range"),
    ],
)
def test_bad_input_exits_2_with_one_line(args: list[str], message: str) -> None:
    done = portwatch(*args)
    assert done.returncode == 2
    assert "Traceback" not in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1
    assert message in done.stderr


def test_suggest_skips_a_held_port() -> None:
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        done = portwatch("suggest", str(port))
        assert done.returncode == 0, done.stderr
        suggested = int(done.stdout)
        assert suggested > port
    assert portwatch("suggest").stdout.strip().isdigit()


def _run_on_a_pty(args: list[str], answers: list[str], timeout: float = 30) -> tuple[int, str]:
    """Run portwatch on a pseudo-terminal and type ``answers`` at each [y/N] prompt."""
    controller, terminal = pty.openpty()
    proc = subprocess.Popen(
        [sys.executable, "-m", "portwatch", *args],
        cwd=ROOT,
        stdin=terminal,
        stdout=terminal,
        stderr=terminal,
        close_fds=True,
    )
    os.close(terminal)
    output = b""
    pending = list(answers)
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            ready, _, _ = select.select([controller], [], [], 0.2)
            if ready:
                try:
                    chunk = os.read(controller, 4096)
                except OSError:  # the child closed the terminal
                    break
                if not chunk:
                    break
                output += chunk
                if pending and output.count(b"[y/N]") > len(answers) - len(pending):
                    os.write(controller, pending.pop(0).encode() + b"\n")
            elif proc.poll() is not None:
                break
        code = proc.wait(timeout=max(1.0, deadline - time.monotonic()))
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(5)
        os.close(controller)
    return code, output.decode(errors="replace")


def test_free_asks_on_the_terminal_and_no_keeps_the_process() -> None:
    with ListenerProcess(["tcp:127.0.0.1:0"]) as child:
        code, out = _run_on_a_pty(["free", str(child.ports[0])], ["n"])
        assert code == 1
        assert "End this process? [y/N]" in out
        assert "Cancelled" in out
        assert child.proc.poll() is None


def test_free_asks_on_the_terminal_and_yes_ends_it() -> None:
    with ListenerProcess(["tcp:127.0.0.1:0"]) as child:
        port = child.ports[0]
        # Our own child (root's too, as root) is no system service: asked once.
        code, out = _run_on_a_pty(["free", str(port), "--wait", "3"], ["y"])
        assert code == 0, out
        assert "Really end it?" not in out
        assert f"Port {port} is free now." in out
        assert not held(port)


def test_free_refuses_the_process_that_started_portwatch() -> None:
    # This test process holds the port and is portwatch's parent: never ended.
    with socket.socket() as mine:
        mine.bind(("127.0.0.1", 0))
        mine.listen()
        port = mine.getsockname()[1]
        done = portwatch("free", str(port), "--yes", "--force")
        assert done.returncode == 1
        assert "Will not end" in done.stderr
        assert "started portwatch" in done.stderr
        assert f"Port {port} is still in use" in done.stderr
        assert held(port)
