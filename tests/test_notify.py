"""Notifications over a real private D-Bus, to a stub server that records calls."""

from __future__ import annotations

import shutil
import threading
from collections.abc import Iterator

import pytest

from portwatch.notify import probe, set_windows_app_id
from portwatch.notify.dbus import DBusNotifier, NotifyError, default_icon
from portwatch.notify.sender import NotificationSender, Outgoing
from tests.support.notify_stub import StubServer, private_bus
from tests.support.procs import wait_until

pytestmark = pytest.mark.skipif(shutil.which("dbus-daemon") is None, reason="needs dbus-daemon")


@pytest.fixture
def bus(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    with private_bus() as address:
        monkeypatch.setenv("DBUS_SESSION_BUS_ADDRESS", address)
        yield address


@pytest.fixture
def stub(bus: str) -> Iterator[StubServer]:
    server = StubServer(bus)
    yield server
    server.close()


def test_notify_sends_the_documented_call(stub: StubServer) -> None:
    with DBusNotifier(lambda _port: None) as notifier:
        assert notifier.info.name == "stubd"
        assert notifier.info.actions
        nid = notifier.notify("Port 3000 is in use", "node (pid 1) listens", urgency=2, port=3000)
    assert nid == 1
    [call] = stub.calls
    assert call.app_name == "portwatch"
    assert call.summary == "Port 3000 is in use"
    assert call.body == "node (pid 1) listens"
    assert call.actions == ["show", "Show"]
    assert call.hints["urgency"] == ("y", 2)
    assert call.icon == default_icon()  # the installed PNG, or a theme name
    assert not call.icon.endswith(".svg")
    assert call.timeout == -1


def test_no_show_action_without_the_capability(bus: str) -> None:
    server = StubServer(bus, capabilities=["body"])
    try:
        with DBusNotifier(lambda _port: None) as notifier:
            assert not notifier.info.actions
            notifier.notify("t", "b", port=3000)
        assert server.calls[0].actions == []
    finally:
        server.close()


def test_show_action_calls_back_with_the_port(stub: StubServer) -> None:
    clicked: list[int] = []
    done = threading.Event()

    def on_action(port: int) -> None:
        clicked.append(port)
        done.set()

    with DBusNotifier(on_action) as notifier:
        first = notifier.notify("a", "b", port=3000)
        second = notifier.notify("c", "d", port=5173)
        stub.invoke_action(second, "show")
        assert done.wait(5)
        stub.invoke_action(first, "something-else")
        stub.invoke_action(first, "show")
        assert wait_until(lambda: len(clicked) == 2, timeout=5)
    assert clicked == [5173, 3000]


def test_body_markup_is_escaped(bus: str) -> None:
    server = StubServer(bus, capabilities=["body", "body-markup"])
    try:
        with DBusNotifier() as notifier:
            notifier.notify("t", "a <b> & c")
        assert server.calls[0].body == "a &lt;b&gt; &amp; c"
    finally:
        server.close()


@pytest.mark.usefixtures("stub")
def test_probe_finds_the_server() -> None:
    result = probe()
    assert result.method == "dbus"
    assert result.server == "stubd 1.0 (portwatch-tests)"
    assert result.actions
    assert (
        result.detail
        == "Desktop notifications via stubd 1.0 (portwatch-tests), with a Show button."
    )
    assert result.fix is None


@pytest.mark.usefixtures("bus")
def test_probe_without_a_server() -> None:
    result = probe()
    assert result.method == "none"
    assert "no notification service on the session bus" in result.detail
    assert result.fix is not None
    assert "dunst" in result.fix
    with pytest.raises(NotifyError, match="no notification service"):
        DBusNotifier()


def test_probe_without_a_bus(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DBUS_SESSION_BUS_ADDRESS", raising=False)
    result = probe()
    assert result.method == "none"
    assert result.detail == "No D-Bus session bus: desktop notifications cannot be sent."
    assert result.fix is not None


def test_windows_app_id_is_a_no_op_elsewhere() -> None:
    assert set_windows_app_id() is False


def test_a_newer_notification_about_a_port_takes_its_place_and_a_withdrawal_closes_it(
    stub: StubServer, bus: str
) -> None:
    sent: list[tuple[int, bool]] = []
    sender = NotificationSender(
        lambda on_action: DBusNotifier(on_action, bus=bus),
        on_sent=lambda key, ok: sent.append((key, ok)),
        on_delivery=lambda _probe: None,
        on_action=lambda _port: None,
    )
    sender.start()
    try:
        slot = ("tcp", 9000)
        sender.send(Outgoing(1, "Port 9000 is open to the network", "…", 1, 9000, slot=slot))
        sender.send(Outgoing(2, "Port 5432 is in use", "…", 1, 5432, slot=("tcp", 5432)))
        sender.send(Outgoing(3, "Port 9000 is free", "…", 1, 9000, slot=slot))
        sender.send(Outgoing(4, "3 ports opened by node", "…", 1, 9000))  # a summary: its own
        assert wait_until(lambda: len(stub.calls) == 4, timeout=10)
        # Ids 1, 2, 3, 4 in order: the third replaces the first, the others replace nothing.
        assert [call.replaces_id for call in stub.calls] == [0, 0, 1, 0]
        sender.send(Outgoing(5, "Port 9000 closed again", "", 0, None, slot=slot, withdraw=True))
        sender.send(
            Outgoing(6, "Port 8000 closed again", "", 0, None, slot=("tcp", 8000), withdraw=True)
        )
        assert wait_until(lambda: len(sent) == 6, timeout=10)
        # The stub gives each Notify a new id: 9000's notification on screen is 3.
        assert stub.closed == [3]
        assert all(ok for _key, ok in sent)
    finally:
        sender.close()
