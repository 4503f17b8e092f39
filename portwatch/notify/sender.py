"""One thread that sends every desktop notification, fed by a bounded queue.

A notification server that never answers makes ``Notify`` wait its whole
call timeout (5 s); here that wait blocks only this thread. The same
connection answers what delivery is possible (:class:`DeliveryProbe`): it is
made once at start and again only after a failure, at most every
:data:`RECONNECT_SECONDS`.

When the queue is full the OLDEST waiting notification is dropped from it and
handed back as not sent (``on_sent(key, False)``), so its alert takes the
fallback (tray balloon or in-app banner) at once: a person still sees every
alert, the newest ones first where the service is slow, and memory stays
bounded however long the server hangs.

Callbacks run on this thread (or, for a drop, on the caller's): a Qt caller
hops to its own thread by emitting a signal from them.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from portwatch.notify.probe import DeliveryProbe, describe_connection

if TYPE_CHECKING:
    from portwatch.notify.dbus import ServerInfo

log = logging.getLogger(__name__)

MAX_QUEUED = 8
# Ports whose last notification id is remembered (to replace or withdraw it).
MAX_SLOTS = 256
# After the notification service failed, try to reconnect at most this often.
RECONNECT_SECONDS = 60.0


class Notifier(Protocol):
    """A connection to a desktop notification service (``DBusNotifier`` is one)."""

    @property
    def info(self) -> ServerInfo: ...

    def notify(
        self,
        title: str,
        body: str,
        *,
        urgency: int = 1,
        port: int | None = None,
        replaces_id: int = 0,
    ) -> int: ...

    def close_notification(self, notification_id: int) -> None: ...

    def close(self) -> None: ...


# Builds a connection; its argument is called with the port of a clicked "Show".
NotifierFactory = Callable[[Callable[[int], None]], Notifier]
# Says what a connection attempt means: (server info, None) or (None, the error).
DescribeDelivery = Callable[["ServerInfo | None", "Exception | None"], DeliveryProbe]


def dbus_notifier(on_action: Callable[[int], None]) -> Notifier:
    from portwatch.notify.dbus import DBusNotifier

    return DBusNotifier(on_action)


@dataclass(frozen=True, slots=True)
class Outgoing:
    key: int  # the caller's, handed back in on_sent
    title: str
    body: str
    urgency: int
    port: int | None
    # The port (proto, port) the notification is about: a newer one about it takes its
    # place on screen. None for summaries and notices, which stand alone.
    slot: tuple[str, int] | None = None
    # Take the slot's notification off the screen instead of showing one.
    withdraw: bool = False


class NotificationSender:
    """``send()`` from any thread; ``on_sent(key, ok)`` says how each one went."""

    def __init__(
        self,
        factory: NotifierFactory,
        *,
        on_sent: Callable[[int, bool], None],
        on_delivery: Callable[[DeliveryProbe], None],
        on_action: Callable[[int], None],
        describe: DescribeDelivery = describe_connection,
        max_queued: int = MAX_QUEUED,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._factory = factory
        self._on_sent = on_sent
        self._on_delivery = on_delivery
        self._on_action = on_action
        self._describe = describe
        self._max_queued = max_queued
        self._clock = clock
        self._queue: deque[Outgoing] = deque()
        self._ready = threading.Condition()
        self._stopping = False
        self._retry_now = False
        self._notifier: Notifier | None = None
        self._failed_at: float | None = None
        # The notification last shown for each slot, on this connection (this thread only).
        self._on_screen: dict[tuple[str, int], int] = {}
        self._thread = threading.Thread(target=self._run, name="portwatch-notify", daemon=True)

    def start(self) -> None:
        """Connect (on the thread) and say what delivery is possible, then serve."""
        self._thread.start()

    def send(self, item: Outgoing) -> None:
        dropped: Outgoing | None = None
        with self._ready:
            if self._stopping:
                dropped = item
            else:
                if len(self._queue) >= self._max_queued:
                    dropped = self._queue.popleft()
                self._queue.append(item)
                self._ready.notify()
        if dropped is not None:
            log.info("notification queue full: %r goes to the fallback", dropped.title)
            self._on_sent(dropped.key, False)

    def retry_soon(self) -> None:
        """The style changed: the next notification may reconnect at once."""
        with self._ready:
            self._retry_now = True

    def _run(self) -> None:
        self._connect(report=True)
        while True:
            with self._ready:
                while not self._queue and not self._stopping:
                    self._ready.wait()
                if self._stopping:
                    return
                item = self._queue.popleft()
            self._on_sent(item.key, self._deliver(item))

    def _connect(self, *, report: bool) -> Notifier | None:
        try:
            notifier = self._factory(self._on_action)
        except Exception as exc:  # noqa: BLE001 - any failure means: fall back, say why once
            self._failed_at = self._clock()
            log.warning("desktop notifications unavailable: %s", exc)
            if report:
                self._on_delivery(self._describe(None, exc))
            return None
        self._failed_at = None
        self._notifier = notifier
        self._on_screen.clear()  # another connection's ids mean nothing to this one
        if report:
            self._on_delivery(self._describe(notifier.info, None))
        return notifier

    def _usable(self) -> Notifier | None:
        if self._notifier is not None:
            return self._notifier
        with self._ready:
            retry, self._retry_now = self._retry_now, False
        waited = self._failed_at is None or self._clock() - self._failed_at >= RECONNECT_SECONDS
        if not (retry or waited):
            return None
        return self._connect(report=False)

    def _deliver(self, item: Outgoing) -> bool:
        notifier = self._usable()
        if notifier is None:
            return False
        if item.withdraw:
            self._withdraw(notifier, item.slot)
            return True
        replaces = self._on_screen.get(item.slot, 0) if item.slot is not None else 0
        try:
            shown = notifier.notify(
                item.title, item.body, urgency=item.urgency, port=item.port, replaces_id=replaces
            )
        except Exception as exc:  # noqa: BLE001 - the service went away or hangs: fall back
            log.warning("a desktop notification failed, falling back: %s", exc)
            notifier.close()
            self._notifier = None
            self._failed_at = self._clock()
            return False
        if item.slot is not None:
            if len(self._on_screen) >= MAX_SLOTS:
                self._on_screen.clear()
            self._on_screen[item.slot] = shown
        return True

    def _withdraw(self, notifier: Notifier, slot: tuple[str, int] | None) -> None:
        notification_id = self._on_screen.pop(slot, None) if slot is not None else None
        if notification_id is None:
            return
        try:
            notifier.close_notification(notification_id)
        except Exception as exc:  # noqa: BLE001 - already gone (closed by the user or expired)
            log.debug("notification %d was not withdrawn: %s", notification_id, exc)

    def close(self) -> None:
        """End the thread (a Notify in flight ends within its timeout) and the connection."""
        with self._ready:
            self._stopping = True
            left = list(self._queue)
            self._queue.clear()
            self._ready.notify()
        if self._thread.is_alive():
            self._thread.join(1.0)  # closing the connection below ends a hung call
        if self._notifier is not None:
            self._notifier.close()
            self._notifier = None
        for item in left:
            log.info("quitting: notification %r not sent", item.title)
