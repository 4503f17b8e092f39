"""The app as real processes (offscreen): single instance, signals, arguments."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from portwatch.core.paths import log_dir
from portwatch.ui.single_instance import server_name
from tests.support.procs import ListenerProcess
from tests.ui.app_process import ROOT, AppProcess, portwatch_command


@pytest.fixture
def logs(tmp_path: Path) -> Path:
    return tmp_path / "logs"


@pytest.fixture
def first(logs: Path) -> Iterator[AppProcess]:
    app = AppProcess("--debug", "--interval=0.5", logs=logs)
    yield app
    app.stop()


def test_second_launch_hands_over_to_the_first_and_exits_0(first: AppProcess) -> None:
    status = first.wait_status(lambda s: s["scans"])
    assert status["pid"] == first.pid
    second = subprocess.run(
        portwatch_command(), cwd=ROOT, capture_output=True, text=True, timeout=30, check=False
    )
    assert second.returncode == 0, second.stderr
    # The first instance heard it (its log) and is still the one answering.
    log_text = (log_dir() / "portwatch.log").read_text()
    assert "another launch asked to show the window" in log_text
    assert first.wait_status(lambda s: s["window_visible"])["pid"] == first.pid
    assert first.signal(signal.SIGTERM) == 0
    assert "Traceback" not in first.stderr


def test_a_listener_reaches_the_table_within_two_intervals(first: AppProcess) -> None:
    first.wait_status(lambda s: s["scans"])
    with ListenerProcess(["tcp:127.0.0.1:0"]) as child:
        port = child.ports[0]
        # two intervals (0.5 s each) plus a scan and the probe's own latency
        first.wait_status(lambda s: port in s["table_ports"], timeout=3.0)
    assert first.signal(signal.SIGINT) == 0
    assert "Traceback" not in first.stderr
    assert "KeyboardInterrupt" not in first.stderr


def test_sigterm_quits_cleanly_with_the_worker_joined(first: AppProcess) -> None:
    first.wait_status(lambda s: s["scans"])
    assert first.signal(signal.SIGTERM) == 0
    err = first.stderr
    assert "Traceback" not in err
    assert "QThread: Destroyed while thread" not in err
    log_text = (log_dir() / "portwatch.log").read_text()
    assert "received SIGTERM: quitting" in log_text
    assert "portwatch stopped" in log_text


def test_a_stale_socket_from_a_crash_does_not_block_start(logs: Path) -> None:
    name = server_name()
    path = Path(name) if name.startswith("/") else Path(tempfile.gettempdir()) / name
    stale = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    stale.bind(str(path))
    stale.close()  # the file stays, nobody listens: what a crash leaves
    assert path.exists()
    app = AppProcess("--interval=5", logs=logs)
    try:
        assert app.wait_status(lambda _status: True)["pid"] == app.pid
        assert app.signal() == 0
    finally:
        app.stop()
        path.unlink(missing_ok=True)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--bogus"], "unrecognized arguments: --bogus"),
        (["--interval=fast"], "'fast' is not a number of seconds"),
        (["--interval=0"], "out of range"),
    ],
)
def test_bad_app_arguments_get_one_line_and_exit_2(args: list[str], message: str) -> None:
    result = subprocess.run(
        portwatch_command(*args), cwd=ROOT, capture_output=True, text=True, timeout=30, check=False
    )
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert message in lines[0], result.stderr


def test_without_a_display_it_says_so_instead_of_aborting() -> None:
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM")
    }
    result = subprocess.run(
        portwatch_command(),
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == [
        "portwatch: no display for the tray app (DISPLAY and WAYLAND_DISPLAY are unset); "
        "the command line works without one: try `portwatch list`"
    ]
