"""A test-side notification server: owns org.freedesktop.Notifications on a private bus.

It records every call, answers GetServerInformation/GetCapabilities, and can
emit ActionInvoked as a real server does when the user clicks a button.
"""

from __future__ import annotations

import contextlib
import os
import queue
import signal
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

# jeepney ships no type information (as in portwatch/notify/dbus.py).
from jeepney import (  # type: ignore[import-untyped]
    DBusAddress,
    HeaderFields,
    MessageType,
    new_method_return,
    new_signal,
)
from jeepney.bus_messages import message_bus  # type: ignore[import-untyped]
from jeepney.io.blocking import Proxy, open_dbus_connection  # type: ignore[import-untyped]

NAME = "org.freedesktop.Notifications"
PATH = "/org/freedesktop/Notifications"


@dataclass
class NotifyCall:
    app_name: str
    replaces_id: int
    icon: str
    summary: str
    body: str
    actions: list[str]
    hints: dict[str, Any]
    timeout: int
    sender: str


@dataclass
class StubServer:
    bus_address: str
    capabilities: list[str] = field(default_factory=lambda: ["actions", "body"])
    calls: list[NotifyCall] = field(default_factory=list)
    methods: list[str] = field(default_factory=list)
    closed: list[int] = field(default_factory=list)  # CloseNotification's ids

    def __post_init__(self) -> None:
        self._outbox: queue.Queue[Any] = queue.Queue()
        self._stop = threading.Event()
        self._next_id = 1
        self._lock = threading.Lock()
        self._conn = open_dbus_connection(self.bus_address)
        reply = Proxy(message_bus, self._conn, timeout=5).RequestName(NAME, 4)
        assert reply == (1,), f"could not own {NAME}: {reply}"
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while not self._stop.is_set():
            while not self._outbox.empty():
                self._conn.send(self._outbox.get())
            try:
                msg = self._conn.receive(timeout=0.05)
            except TimeoutError:
                continue
            except (OSError, ConnectionResetError):
                return
            if msg.header.message_type is not MessageType.method_call:
                continue
            member = msg.header.fields.get(HeaderFields.member)
            with self._lock:
                self.methods.append(member)
            if member == "GetServerInformation":
                self._conn.send(
                    new_method_return(msg, "ssss", ("stubd", "portwatch-tests", "1.0", "1.2"))
                )
            elif member == "GetCapabilities":
                self._conn.send(new_method_return(msg, "as", (self.capabilities,)))
            elif member == "Notify":
                with self._lock:
                    nid = self._next_id
                    self._next_id += 1
                    app_name, replaces_id, icon, summary, body, actions, hints, timeout = msg.body
                    self.calls.append(
                        NotifyCall(
                            app_name,
                            replaces_id,
                            icon,
                            summary,
                            body,
                            actions,
                            hints,
                            timeout,
                            sender=msg.header.fields[HeaderFields.sender],
                        )
                    )
                self._conn.send(new_method_return(msg, "u", (nid,)))
            elif member == "CloseNotification":
                with self._lock:
                    self.closed.append(int(msg.body[0]))
                self._conn.send(new_method_return(msg))
            else:
                self._conn.send(new_method_return(msg))

    def invoke_action(self, notification_id: int, action: str) -> None:
        emitter = DBusAddress(PATH, interface=NAME)
        self._outbox.put(new_signal(emitter, "ActionInvoked", "us", (notification_id, action)))

    def close(self) -> None:
        self._stop.set()
        self._thread.join(2)
        self._conn.close()


# A session bus without service activation: a missing server stays missing
# instead of the bus trying to start the machine's own (dunst would fail without X).
BUS_CONFIG = """<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>session</type>
  <listen>unix:tmpdir=/tmp</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow send_destination="*" eavesdrop="true"/>
    <allow eavesdrop="true"/>
    <allow own="*"/>
  </policy>
</busconfig>
"""


@contextlib.contextmanager
def private_bus() -> Iterator[str]:
    """A private dbus-daemon; yields its address; ended by PID afterwards."""
    with tempfile.TemporaryDirectory(prefix="portwatch-bus-") as folder:
        config = Path(folder) / "session.conf"
        config.write_text(BUS_CONFIG)
        with _daemon(config) as address:
            yield address


@contextlib.contextmanager
def _daemon(config: Path) -> Iterator[str]:
    out = subprocess.run(
        [
            "dbus-daemon",
            f"--config-file={config}",
            "--fork",
            "--print-address=1",
            "--print-pid=1",
        ],
        capture_output=True,
        text=True,
        check=True,
        timeout=10,
    )
    address, pid_text = out.stdout.split()[:2]
    pid = int(pid_text)
    try:
        yield address
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + 3
        while time.monotonic() < deadline:
            if not _alive(pid):
                break
            time.sleep(0.02)
        else:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)


def _alive(pid: int) -> bool:
    """True while running; a zombie (exited, waiting for a reaper that is not us) is gone."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"
