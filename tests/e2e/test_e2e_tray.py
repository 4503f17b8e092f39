"""End to end: the app on a real X server with a session bus and a real tray host."""

from __future__ import annotations

import signal
import subprocess
import time
from pathlib import Path

import pytest

from tests.support.desktop import Desktop, desktop, desktop_no_tray, desktop_xembed
from tests.support.procs import ListenerProcess, wait_until
from tests.ui.app_process import ROOT, AppProcess, portwatch_command

__all__ = ["desktop", "desktop_no_tray", "desktop_xembed"]  # fixtures used below

pytestmark = pytest.mark.desktop
INTERVAL = 0.5


def _tray_children(session: Desktop) -> int:
    """How many windows trayer's panel holds (each docked XEmbed icon adds one)."""
    tree = session.run(["xwininfo", "-root", "-tree"]).stdout.splitlines()
    for number, line in enumerate(tree):
        if '"panel"' in line and number + 1 < len(tree):
            following = tree[number + 1].strip()
            if following.endswith(("child:", "children:")):
                return int(following.split()[0])
    return 0


def test_app_on_an_sni_tray(desktop: Desktop, tmp_path: Path) -> None:
    app = AppProcess("--debug", f"--interval={INTERVAL}", env=desktop.env, logs=tmp_path)
    try:
        status = app.wait_status(lambda s: s["scans"] and s["tray_visible"])
        assert status["tray"] is True
        assert status["window_visible"] is False  # the tray is the app; no window yet
        assert not status["no_tray_notice"]

        # Its StatusNotifierItem registers with the watcher.
        assert wait_until(lambda: bool(desktop.registered_status_notifier_items()), timeout=10)
        items = desktop.registered_status_notifier_items()
        print("registered SNI items:", items)
        assert app.pid in [desktop.connection_pid(item) for item in items]

        # A listener opened now reaches the table within two intervals.
        with ListenerProcess(["tcp:127.0.0.1:0"]) as child:
            port = child.ports[0]
            opened = time.monotonic()
            app.wait_status(lambda s: port in s["table_ports"], timeout=2 * INTERVAL + 1.5)
            print(f"port {port} in the table after {time.monotonic() - opened:.2f} s")

        # A second launch brings the window up and exits 0.
        second = subprocess.run(
            portwatch_command(),
            cwd=ROOT,
            env=desktop.env,
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
        assert second.returncode == 0, second.stderr
        app.wait_status(lambda s: s["window_visible"], timeout=5)

        assert app.signal(signal.SIGTERM) == 0
        assert "Traceback" not in app.stderr
        # Quitting unregisters the item (its bus connection is gone).
        assert wait_until(lambda: not desktop.registered_status_notifier_items(), timeout=10)
    finally:
        app.stop()


def test_app_docks_into_an_xembed_tray(desktop_xembed: Desktop, tmp_path: Path) -> None:
    before = _tray_children(desktop_xembed)
    app = AppProcess(f"--interval={INTERVAL}", "--show", env=desktop_xembed.env, logs=tmp_path)
    try:
        # --show opens the window at start even though a tray exists
        app.wait_status(lambda s: s["scans"] and s["tray_visible"] and s["window_visible"])
        assert wait_until(lambda: _tray_children(desktop_xembed) > before, timeout=10)
        assert app.signal(signal.SIGINT) == 0
        assert "Traceback" not in app.stderr
    finally:
        app.stop()


def test_without_a_tray_the_window_opens_with_the_notice(
    desktop_no_tray: Desktop, tmp_path: Path
) -> None:
    app = AppProcess(f"--interval={INTERVAL}", env=desktop_no_tray.env, logs=tmp_path)
    try:
        status = app.wait_status(lambda s: s["scans"] and s["window_visible"])
        assert status["tray"] is False
        assert status["no_tray_notice"] is True
        assert app.signal(signal.SIGTERM) == 0
        assert "Traceback" not in app.stderr
    finally:
        app.stop()


def test_a_tray_that_comes_up_later_takes_the_app_in(
    desktop_no_tray: Desktop, tmp_path: Path
) -> None:
    """At login the panel may start after portwatch: the app moves into it when it comes."""
    app = AppProcess("--debug", f"--interval={INTERVAL}", env=desktop_no_tray.env, logs=tmp_path)
    try:
        status = app.wait_status(lambda s: s["scans"] and s["window_visible"])
        assert status["tray"] is False
        assert status["no_tray_notice"] is True
        started = time.monotonic()
        desktop_no_tray.start_sni_host()
        status = app.wait_status(lambda s: s["tray_visible"], timeout=15)
        print(f"in the tray {time.monotonic() - started:.1f} s after the host came up")
        assert status["no_tray_notice"] is False
        assert status["window_visible"] is True  # still open: the user was looking at it
        assert wait_until(
            lambda: (
                app.pid
                in [
                    desktop_no_tray.connection_pid(i)
                    for i in desktop_no_tray.registered_status_notifier_items()
                ]
            ),
            timeout=10,
        )
        assert app.signal(signal.SIGTERM) == 0
        assert "Traceback" not in app.stderr
        assert "a system tray appeared" in app.stderr
    finally:
        app.stop()
