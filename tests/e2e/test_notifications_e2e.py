"""End to end: watched port → one real notification in dunst; public bind; freed; history.

The app runs as a real process on a private desktop (Xvfb + session D-Bus +
SNI tray host + dunst) with temporary config and data folders. A
``dbus-monitor`` on that bus records every ``Notify`` call the app makes;
``dunstctl`` confirms the daemon received them.
"""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from portwatch.core import paths
from portwatch.core.portspec import PortSpec
from portwatch.core.settings import NotificationStyle, Settings, WatchedPort, save_settings
from tests.support.desktop import Desktop, desktop, desktop_xembed
from tests.support.procs import ListenerProcess, wait_until
from tests.ui.app_process import ROOT, AppProcess

__all__ = ["desktop", "desktop_xembed"]  # the fixtures used below

pytestmark = pytest.mark.desktop
INTERVAL = 0.5

_NOTIFY = re.compile(
    r"member=Notify\n"
    r'\s+string "(?P<app>.*?)"\n'
    r"\s+uint32 \d+\n"
    r'\s+string "(?P<icon>.*?)"\n'
    r'\s+string "(?P<summary>.*?)"\n'
    r'\s+string "(?P<body>.*?)"\n'
    r"\s+array \[(?P<actions>.*?)\]",
    re.DOTALL,
)


@dataclass
class Notification:
    app: str
    icon: str
    summary: str
    body: str
    actions: str


class NotifyMonitor:
    """``dbus-monitor`` on the session bus, filtered to Notify calls, into a file."""

    def __init__(self, session: Desktop, log: Path) -> None:
        self.log = log
        with log.open("wb") as out:
            self.proc = subprocess.Popen(
                [
                    "dbus-monitor",
                    "--session",
                    "interface='org.freedesktop.Notifications',member='Notify'",
                ],
                env=session.env,
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
            )
        # It prints its own NameAcquired/NameLost once it is monitoring.
        assert wait_until(lambda: "NameLost" in self.text(), timeout=10), self.text()

    def text(self) -> str:
        return self.log.read_text(errors="replace")

    def notifications(self) -> list[Notification]:
        return [Notification(**m.groupdict()) for m in _NOTIFY.finditer(self.text())]

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(5)


class AlertsAppProcess(AppProcess):
    """The real ``run_app`` (``python -m portwatch``) with the desktop's environment."""

    def __init__(self, *args: str, env: dict[str, str], logs: Path) -> None:
        logs.mkdir(parents=True, exist_ok=True)
        self.stdout_path = logs / f"app-{time.monotonic_ns()}.out"
        self.stderr_path = self.stdout_path.with_suffix(".err")
        with self.stdout_path.open("wb") as out, self.stderr_path.open("wb") as err:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "portwatch", *args],
                cwd=ROOT,
                env=env,
                stdout=out,
                stderr=err,
                stdin=subprocess.DEVNULL,
            )
        self.pid = self.proc.pid


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
def monitor(desktop: Desktop, tmp_path: Path) -> Iterator[NotifyMonitor]:
    watcher = NotifyMonitor(desktop, tmp_path / "dbus-monitor.log")
    yield watcher
    watcher.stop()


def _history(port: int) -> list[tuple[str, str | None]]:
    db = sqlite3.connect(paths.history_db())
    try:
        rows = db.execute(
            "SELECT kind, detail FROM events WHERE port = ? ORDER BY id", (port,)
        ).fetchall()
    finally:
        db.close()
    return [(str(kind), detail) for kind, detail in rows]


def _watch_port_settings(port: int, style: NotificationStyle) -> dict[str, str]:
    """Settings that watch ``port`` and alert in ``style``; the env to run the app with."""
    save_settings(
        Settings(
            scan_interval=INTERVAL,
            watched_ports=(WatchedPort(PortSpec(port, port)),),
            quiet_period=0,
            # Other tests on this machine open ports too: keep each alert single.
            summary_threshold=1000,
            notification_style=style,
        )
    )
    user_dirs = ("XDG_CONFIG_HOME", "XDG_DATA_HOME", "XDG_STATE_HOME", "XDG_RUNTIME_DIR")
    return {name: os.environ[name] for name in user_dirs}


def _install_rendered_icons() -> Path:
    """The app's PNGs in the user's hicolor theme, as a package installs them; the
    128 px one, which the notifications name."""
    rendered = Path(os.environ["XDG_CACHE_HOME"]) / "rendered-icons"
    script = ROOT / "resources" / "render_icons.py"
    subprocess.run([sys.executable, str(script), str(rendered)], check=True, timeout=120)
    themes = Path(os.environ["XDG_DATA_HOME"]) / "icons"
    themes.mkdir(parents=True, exist_ok=True)
    (rendered / "hicolor").rename(themes / "hicolor")
    return themes / "hicolor" / "128x128" / "apps" / f"{paths.APP_ID}.png"


def test_watched_port_public_bind_and_freed_notify_through_dunst(
    desktop: Desktop, monitor: NotifyMonitor, tmp_path: Path
) -> None:
    port = _free_port()
    icon = _install_rendered_icons()
    env = {**desktop.env, **_watch_port_settings(port, NotificationStyle.SYSTEM)}
    app = AlertsAppProcess("--debug", env=env, logs=tmp_path)
    try:
        app.wait_status(lambda s: s["scans"] and s["tray_visible"])
        assert wait_until(paths.history_db().exists, timeout=10)

        def about(number: int) -> list[Notification]:
            return [n for n in monitor.notifications() if f"Port {number} " in n.summary]

        # 1. A child binds the watched port on loopback: one notification naming it.
        child = ListenerProcess([f"tcp:127.0.0.1:{port}"])
        try:
            opened = time.monotonic()
            assert wait_until(lambda: bool(about(port)), timeout=10), monitor.text()[-3000:]
            latency = time.monotonic() - opened
            # Several more scans pass: still exactly one.
            time.sleep(4 * INTERVAL)
            [occupied] = about(port)
            assert occupied.app == "portwatch"
            assert occupied.summary == f"Port {port} is in use"
            assert f"(PID {child.pid})" in occupied.body
            assert f"127.0.0.1:{port}" in occupied.body
            # Named as the app it runs, in its project: "listener_child.py — portwatch (PID …)".
            assert occupied.body.startswith("listener_child.py"), occupied.body
            assert occupied.icon == str(icon)  # a PNG dunst can load, not the SVG
            assert '"show"' in occupied.actions  # dunst has actions: a Show button

            # 2. Another child binds a port on 0.0.0.0: a public-bind notification.
            with ListenerProcess(["tcp:0.0.0.0:0"]) as public:
                exposed_port = public.ports[0]
                assert wait_until(lambda: bool(about(exposed_port)), timeout=10)
                [exposed] = about(exposed_port)
                assert exposed.summary == f"Port {exposed_port} is open to the network"
                assert f"(PID {public.pid})" in exposed.body
                assert f"0.0.0.0:{exposed_port} (public)" in exposed.body
        finally:
            child.stop()

        # 3. The watched port is closed: "freed".
        assert wait_until(lambda: len(about(port)) == 2, timeout=10), monitor.text()[-3000:]
        freed = about(port)[1]
        assert freed.summary == f"Port {port} is free"
        assert f"(PID {child.pid}) stopped listening" in freed.body

        # dunst itself received them (not only our monitor).
        count = desktop.run(["dunstctl", "count", "history"]).stdout.strip()
        shown = desktop.run(["dunstctl", "count", "displayed"]).stdout.strip()
        print(f"notify latency {latency:.2f} s; dunst displayed {shown}, history {count}")
        dunst_total = int(count or 0) + int(shown or 0)
        waiting = desktop.run(["dunstctl", "count", "waiting"]).stdout.strip()
        assert dunst_total + int(waiting or 0) >= 3
        assert desktop.logs is not None
        dunst_log = (desktop.logs / "dunst.log").read_text()
        assert "Failed to load image" not in dunst_log, dunst_log
        assert "No icon found" not in dunst_log, dunst_log

        desktop.screenshot(tmp_path / "desktop.png")
        assert (tmp_path / "desktop.png").stat().st_size > 0

        # 4. Everything is in the history database.
        events = _history(port)
        kinds = [kind for kind, _ in events]
        assert kinds[:2] == ["bound", "alert"]
        assert "freed" in kinds
        alerts = [json.loads(detail or "{}") for kind, detail in events if kind == "alert"]
        assert [a["alert"] for a in alerts] == ["occupied", "freed"]
        assert {a["delivery"] for a in alerts} == {"dbus"}
        exposed_kinds = [kind for kind, _ in _history(exposed_port)]
        assert exposed_kinds[:2] == ["bound", "alert"]
        assert "freed" in exposed_kinds

        assert app.signal(signal.SIGTERM) == 0
        assert "Traceback" not in app.stderr
    finally:
        app.stop()


def _viewable_windows(session: Desktop) -> set[str]:
    """The ids of the X server's top-level windows that are mapped and viewable."""
    tree = session.run(["xwininfo", "-root", "-children", "-display", session.display])
    ids = re.findall(r"^\s+(0x[0-9a-f]+) ", tree.stdout, re.MULTILINE)
    viewable = set()
    for window in ids:
        info = session.run(["xwininfo", "-id", window, "-display", session.display])
        if "Map State: IsViewable" in info.stdout:
            viewable.add(window)
    return viewable


def _balloon_lines(port: int) -> list[str]:
    """The app's log lines saying an alert about ``port`` was shown as a tray balloon."""
    log_file = paths.log_dir() / "portwatch.log"
    text = log_file.read_text(errors="replace") if log_file.exists() else ""
    return [
        line
        for line in text.splitlines()
        if "alert shown as a tray balloon" in line and f"Port {port} is in use" in line
    ]


def test_tray_style_alerts_pop_up_as_balloons_on_an_xembed_tray(
    desktop_xembed: Desktop, tmp_path: Path
) -> None:
    port = _free_port()
    env = {**desktop_xembed.env, **_watch_port_settings(port, NotificationStyle.TRAY)}
    app = AlertsAppProcess("--debug", env=env, logs=tmp_path)
    try:
        app.wait_status(lambda s: s["scans"] and s["tray_visible"])
        before = _viewable_windows(desktop_xembed)
        with ListenerProcess([f"tcp:127.0.0.1:{port}"]) as child:
            assert wait_until(lambda: bool(_balloon_lines(port)), timeout=15), app.stderr[-3000:]
            # Qt draws the balloon itself on an XEmbed tray: a new window on the X server.
            assert wait_until(lambda: bool(_viewable_windows(desktop_xembed) - before), 5)
        [line] = _balloon_lines(port)
        assert f"(PID {child.pid})" in line, line
        assert app.signal(signal.SIGTERM) == 0
        assert "Traceback" not in app.stderr
    finally:
        app.stop()


def test_tray_style_alerts_on_an_sni_tray_reach_the_notification_daemon(
    desktop: Desktop, monitor: NotifyMonitor, tmp_path: Path
) -> None:
    # An SNI tray has no balloons of its own: Qt hands them to the daemon.
    port = _free_port()
    env = {**desktop.env, **_watch_port_settings(port, NotificationStyle.TRAY)}
    app = AlertsAppProcess("--debug", env=env, logs=tmp_path)
    try:
        app.wait_status(lambda s: s["scans"] and s["tray_visible"])

        def about() -> list[Notification]:
            return [n for n in monitor.notifications() if n.summary == f"Port {port} is in use"]

        with ListenerProcess([f"tcp:127.0.0.1:{port}"]) as child:
            assert wait_until(lambda: bool(about()), timeout=15), monitor.text()[-3000:]
        [shown] = about()
        assert f"(PID {child.pid})" in shown.body
        # Not portwatch's own D-Bus notification (that one has a Show action).
        assert '"show"' not in shown.actions
        assert app.signal(signal.SIGTERM) == 0
    finally:
        app.stop()
