"""The one notification sender thread: a server that never answers blocks nobody."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from portwatch.notify.dbus import ServerInfo
from portwatch.notify.probe import DeliveryProbe
from portwatch.notify.sender import NotificationSender, Outgoing
from tests.support.procs import wait_until

INFO = ServerInfo("stubd", "tests", "1.0", "1.2", ("actions", "body"))


class Hanging:
    """A notifier whose Notify never returns until released (a server that never answers)."""

    def __init__(self) -> None:
        self.release = threading.Event()
        self.calls: list[str] = []
        self.withdrawn: list[int] = []
        self.closed = False

    @property
    def info(self) -> ServerInfo:
        return INFO

    def notify(
        self,
        title: str,
        body: str,
        *,
        urgency: int = 1,
        port: int | None = None,
        replaces_id: int = 0,
    ) -> int:
        # The Notifier signature; the title is enough to tell calls apart.
        del body, urgency, port, replaces_id
        self.calls.append(title)
        if not self.release.wait(10):
            raise TimeoutError("no answer")
        return len(self.calls)

    def close_notification(self, notification_id: int) -> None:
        self.withdrawn.append(notification_id)

    def close(self) -> None:
        self.closed = True


class Failing(Hanging):
    """A notifier whose every Notify times out at once."""

    def notify(
        self,
        title: str,
        body: str,
        *,
        urgency: int = 1,
        port: int | None = None,
        replaces_id: int = 0,
    ) -> int:
        # The Notifier signature; the title is enough to tell calls apart.
        del body, urgency, port, replaces_id
        self.calls.append(title)
        raise TimeoutError("no answer within 5 s")


def item(key: int) -> Outgoing:
    return Outgoing(key, f"alert {key}", "body", 1, 3000 + key)


def sender_with(notifier: Hanging, results: list[tuple[int, bool]]) -> NotificationSender:
    probes: list[DeliveryProbe] = []

    def factory(_on_action: Callable[[int], None]) -> Hanging:
        return notifier

    sender = NotificationSender(
        factory,
        on_sent=lambda key, ok: results.append((key, ok)),
        on_delivery=probes.append,
        on_action=lambda _port: None,
        max_queued=3,
    )
    sender.start()
    assert wait_until(lambda: bool(probes), timeout=5)
    assert probes[0].method == "dbus"
    assert probes[0].server == "stubd 1.0 (tests)"
    return sender


def test_a_full_queue_hands_the_oldest_to_the_fallback_at_once() -> None:
    notifier = Hanging()
    results: list[tuple[int, bool]] = []
    sender = sender_with(notifier, results)
    try:
        sender.send(item(0))  # taken by the thread: it hangs in Notify
        assert wait_until(lambda: notifier.calls == ["alert 0"], timeout=5)
        begin = time.monotonic()
        for key in range(1, 6):  # the queue holds 3: 1 and 2 are dropped to the fallback
            sender.send(item(key))
        assert time.monotonic() - begin < 0.1  # sending never waits for the server
        assert results == [(1, False), (2, False)]
        notifier.release.set()
        assert wait_until(lambda: len(results) == 6, timeout=5)
        assert results[2:] == [(0, True), (3, True), (4, True), (5, True)]
        assert notifier.calls == ["alert 0", "alert 3", "alert 4", "alert 5"]
    finally:
        notifier.release.set()
        sender.close()
    assert notifier.closed


def test_a_notify_that_fails_falls_back_and_later_ones_do_not_wait() -> None:
    notifier = Failing()
    results: list[tuple[int, bool]] = []
    sender = sender_with(notifier, results)
    try:
        sender.send(item(0))
        sender.send(item(1))
        assert wait_until(lambda: len(results) == 2, timeout=5)
        # The first failed; the second did not try again (the reconnect waits a minute).
        assert results == [(0, False), (1, False)]
        assert notifier.calls == ["alert 0"]
        assert notifier.closed
    finally:
        sender.close()
