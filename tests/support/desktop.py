"""A real, private desktop session for tests: Xvfb, a session D-Bus, a tray host, dunst.

Use the fixtures (import them in a conftest.py or test module)::

    from tests.support.desktop import desktop  # noqa: F401

    @pytest.mark.desktop
    def test_something(desktop: Desktop) -> None:
        subprocess.run([...], env=desktop.env)

``desktop`` gives X + D-Bus + an SNI tray host (gtk-sni-tray-standalone with its
own StatusNotifierWatcher) + a notification daemon (dunst). For other mixes
call :func:`desktop_session` yourself (``tray="sni" | "xembed" | None``,
``notifications=True | False``), or use ``desktop_no_tray``.

A missing tool skips the test, unless ``PORTWATCH_REQUIRE_DESKTOP=1`` (CI),
where it fails. Every process started here is ended by PID at teardown.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import pytest

TrayKind = Literal["sni", "xembed"]

SNI_WATCHER = "org.kde.StatusNotifierWatcher"
NOTIFICATIONS = "org.freedesktop.Notifications"
_START_TIMEOUT = 15.0


class DesktopUnavailableError(RuntimeError):
    """A tool the session needs is missing or did not come up."""


@dataclass
class Desktop:
    """A running session. ``env`` is a full environment for child processes."""

    display: str
    bus_address: str
    env: dict[str, str]
    tray: TrayKind | None
    notifications: bool
    pids: list[int] = field(default_factory=list)
    logs: Path | None = None

    def run(self, cmd: list[str], timeout: float = 10.0) -> subprocess.CompletedProcess[str]:
        """Run a command inside this session and capture its output."""
        return subprocess.run(
            cmd, env=self.env, capture_output=True, text=True, timeout=timeout, check=False
        )

    def name_has_owner(self, name: str) -> bool:
        reply = self.run(
            [
                "dbus-send",
                "--session",
                "--print-reply",
                "--dest=org.freedesktop.DBus",
                "/org/freedesktop/DBus",
                "org.freedesktop.DBus.NameHasOwner",
                f"string:{name}",
            ]
        )
        return reply.returncode == 0 and "boolean true" in reply.stdout

    def connection_pid(self, bus_name: str) -> int | None:
        """The PID behind a bus name (unique ':1.N' or well-known), or None."""
        name = bus_name.split("/", 1)[0]  # items may be registered as 'name/path'
        reply = self.run(
            [
                "dbus-send",
                "--session",
                "--print-reply",
                "--dest=org.freedesktop.DBus",
                "/org/freedesktop/DBus",
                "org.freedesktop.DBus.GetConnectionUnixProcessID",
                f"string:{name}",
            ]
        )
        for word in reply.stdout.split():
            if word.isdigit():
                return int(word)
        return None

    def status_notifier_host_registered(self) -> bool:
        """The watcher's IsStatusNotifierHostRegistered: a host draws items."""
        reply = self._watcher_property("IsStatusNotifierHostRegistered")
        return reply.returncode == 0 and "boolean true" in reply.stdout

    def _watcher_property(self, name: str) -> subprocess.CompletedProcess[str]:
        return self.run(
            [
                "dbus-send",
                "--session",
                "--print-reply",
                f"--dest={SNI_WATCHER}",
                "/StatusNotifierWatcher",
                "org.freedesktop.DBus.Properties.Get",
                f"string:{SNI_WATCHER}",
                f"string:{name}",
            ]
        )

    def start_sni_host(self) -> None:
        """Start gtk-sni-tray-standalone (watcher and host); return once the host is up."""
        _need("gtk-sni-tray-standalone")
        assert self.logs is not None
        log = self.logs / "tray.log"
        for _ in range(3):
            host = _spawn(self, ["gtk-sni-tray-standalone", "--watcher", "--bottom"], log)
            # The watcher's name comes first, the host registers with it a
            # moment later; Qt calls the tray available only once both are there.

            def host_up(host: subprocess.Popen[bytes] = host) -> bool:
                return host.poll() is not None or self.status_notifier_host_registered()

            _wait(
                host_up,
                "StatusNotifierWatcher with a host",
                log=log,
            )
            if host.poll() is None:
                return
            # On a busy machine it can die at start: it calls its own watcher
            # before that object is exported (UnknownObject). Start it again.
            self.pids.remove(host.pid)
        raise DesktopUnavailableError(
            "gtk-sni-tray-standalone died at start three times; its log ends:\n"
            + log.read_text(errors="replace")[-2000:]
        )

    def registered_status_notifier_items(self) -> list[str]:
        """The watcher's RegisteredStatusNotifierItems (empty if no watcher)."""
        reply = self._watcher_property("RegisteredStatusNotifierItems")
        if reply.returncode != 0:
            return []
        items = []
        for line in reply.stdout.splitlines():
            stripped = line.strip()
            if stripped.startswith('string "'):
                items.append(stripped.removeprefix('string "').removesuffix('"'))
        return items

    def screenshot(self, path: Path) -> None:
        """The whole screen as a PNG (imagemagick's ``import``)."""
        result = self.run(["import", "-window", "root", str(path)], timeout=20)
        if result.returncode != 0:
            raise DesktopUnavailableError(f"import failed: {result.stderr.strip()}")


def _required() -> bool:
    return os.environ.get("PORTWATCH_REQUIRE_DESKTOP") == "1"


def _unavailable(reason: str) -> None:
    if _required():
        pytest.fail(f"desktop session required but unavailable: {reason}")
    pytest.skip(f"no desktop session: {reason}")


def unavailable(reason: str) -> None:
    """Skip the test for want of ``reason``, or fail it where the desktop is required (CI)."""
    _unavailable(reason)


def _need(*tools: str) -> None:
    missing = [tool for tool in tools if shutil.which(tool) is None]
    if missing:
        raise DesktopUnavailableError(f"missing tools: {', '.join(missing)}")


def _wait(
    predicate: Callable[[], bool],
    what: str,
    timeout: float = _START_TIMEOUT,
    log: Path | None = None,
) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.1)
    if not predicate():
        said = ""
        if log is not None and log.exists():
            said = "; its log ends:\n" + log.read_text(errors="replace")[-2000:]
        raise DesktopUnavailableError(f"{what} did not come up within {timeout:.0f} s{said}")


def _end(pid: int) -> None:
    """SIGTERM, then SIGKILL after a grace period; reap if it is our child."""
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + 3
    while time.monotonic() < deadline:
        try:
            done, _ = os.waitpid(pid, os.WNOHANG)
        except ChildProcessError:
            # Not our child (dbus-daemon forks): poll for existence instead.
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                return
            done = 0
        if done:
            return
        time.sleep(0.05)
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGKILL)
    with contextlib.suppress(ChildProcessError):
        os.waitpid(pid, 0)


def _start_xvfb(session: Desktop, log: Path) -> None:
    # -displayfd: the server picks a free display and writes its number to us,
    # so parallel runs never race for the same :N.
    read_fd, write_fd = os.pipe()
    with log.open("ab") as out:
        proc = subprocess.Popen(
            [
                "Xvfb",
                "-displayfd",
                str(write_fd),
                "-screen",
                "0",
                "1280x800x24",
                "-nolisten",
                "tcp",
            ],
            pass_fds=(write_fd,),
            stdout=out,
            stderr=out,
            stdin=subprocess.DEVNULL,
        )
    os.close(write_fd)
    session.pids.append(proc.pid)
    number = b""
    deadline = time.monotonic() + _START_TIMEOUT
    with os.fdopen(read_fd, "rb") as pipe:
        while not number.endswith(b"\n") and time.monotonic() < deadline:
            chunk = pipe.read(1)
            if not chunk:
                break
            number += chunk
    if not number.strip():
        raise DesktopUnavailableError(f"Xvfb did not report a display (see {log})")
    session.display = f":{number.decode().strip()}"
    session.env["DISPLAY"] = session.display

    def answers() -> bool:
        probe = subprocess.run(
            ["xdpyinfo", "-display", session.display],
            capture_output=True,
            check=False,
            timeout=10,
        )
        return probe.returncode == 0

    _wait(answers, f"Xvfb {session.display}")


def _start_bus(session: Desktop) -> None:
    out = subprocess.run(
        ["dbus-daemon", "--session", "--fork", "--print-address=1", "--print-pid=1"],
        capture_output=True,
        text=True,
        check=False,
        timeout=_START_TIMEOUT,
        env=session.env,
    )
    lines = out.stdout.split()
    if out.returncode != 0 or len(lines) < 2:
        raise DesktopUnavailableError(f"dbus-daemon failed: {out.stderr.strip()}")
    session.bus_address, pid = lines[0], int(lines[1])
    session.pids.append(pid)
    session.env["DBUS_SESSION_BUS_ADDRESS"] = session.bus_address


def _spawn(session: Desktop, cmd: list[str], log: Path) -> subprocess.Popen[bytes]:
    with log.open("ab") as out:
        proc = subprocess.Popen(
            cmd, env=session.env, stdout=out, stderr=out, stdin=subprocess.DEVNULL
        )
    session.pids.append(proc.pid)
    return proc


def private_user_dirs(env: dict[str, str], home: Path) -> dict[str, str]:
    """``env`` with every XDG folder under ``home``.

    The app started with it keeps its settings, history and window state there,
    and does not find (or hand over to) an instance the user is running.
    """
    private = dict(env)
    for name in ("XDG_CONFIG_HOME", "XDG_STATE_HOME", "XDG_DATA_HOME", "XDG_CACHE_HOME"):
        private[name] = str(home / name.lower())
    runtime = home / "runtime"
    runtime.mkdir(mode=0o700, exist_ok=True)
    private["XDG_RUNTIME_DIR"] = str(runtime)
    return private


@contextlib.contextmanager
def desktop_session(
    *, tray: TrayKind | None = "sni", notifications: bool = True
) -> Iterator[Desktop]:
    """Start a private session; raises DesktopUnavailableError when it cannot."""
    tools = ["Xvfb", "xdpyinfo", "dbus-daemon", "dbus-send"]
    if tray == "sni":
        tools.append("gtk-sni-tray-standalone")
    elif tray == "xembed":
        tools.append("trayer")
    if notifications:
        tools.append("dunst")
    _need(*tools)

    logs = Path(tempfile.mkdtemp(prefix="portwatch-desktop-"))
    env = dict(os.environ)
    # Children must not inherit a session of the developer's own desktop.
    for name in ("WAYLAND_DISPLAY", "DBUS_SESSION_BUS_ADDRESS", "XAUTHORITY"):
        env.pop(name, None)
    env["QT_QPA_PLATFORM"] = "xcb"
    env["NO_AT_BRIDGE"] = "1"  # GTK hosts would otherwise wait for an accessibility bus
    session = Desktop(
        display="",
        bus_address="",
        env=env,
        tray=tray,
        notifications=notifications,
        logs=logs,
    )
    try:
        _start_xvfb(session, logs / "xvfb.log")
        _start_bus(session)
        if notifications:
            _spawn(session, ["dunst"], logs / "dunst.log")
            _wait(lambda: session.name_has_owner(NOTIFICATIONS), "dunst")
        if tray == "sni":
            session.start_sni_host()
        elif tray == "xembed":
            _spawn(
                session,
                ["trayer", "--edge", "bottom", "--align", "right", "--widthtype", "request"],
                logs / "tray.log",
            )

            def docked_manager() -> bool:
                return bool(_tray_selection_owner(session))

            _wait(docked_manager, "trayer")
        yield session
    finally:
        for pid in reversed(session.pids):
            _end(pid)
        shutil.rmtree(logs, ignore_errors=True)


def _tray_selection_owner(session: Desktop) -> str:
    """trayer's top-level window id once it is mapped, or ''."""
    probe = session.run(["xwininfo", "-root", "-tree", "-display", session.display])
    for line in probe.stdout.splitlines():
        if '"panel"' in line:
            return line.split()[0]
    return ""


def _fixture_session(tray: TrayKind | None, notifications: bool) -> Iterator[Desktop]:
    try:
        context = desktop_session(tray=tray, notifications=notifications)
        session = context.__enter__()
    except DesktopUnavailableError as exc:
        _unavailable(str(exc))
        return
    try:
        yield session
    finally:
        context.__exit__(None, None, None)


@pytest.fixture
def desktop() -> Iterator[Desktop]:
    """X server + session D-Bus + SNI tray host (with watcher) + dunst."""
    yield from _fixture_session("sni", notifications=True)


@pytest.fixture
def desktop_no_tray() -> Iterator[Desktop]:
    """X server + session D-Bus + dunst, no tray host (like GNOME without AppIndicator)."""
    yield from _fixture_session(None, notifications=True)


@pytest.fixture
def desktop_xembed() -> Iterator[Desktop]:
    """X server + session D-Bus + trayer (an XEmbed tray), no notification daemon."""
    yield from _fixture_session("xembed", notifications=False)
