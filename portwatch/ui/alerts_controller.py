"""The alerts engine's UI half: list every alert, deliver the ones meant to be heard.

The rules ran on the pipeline thread (``core.pipeline``); here, on the UI
thread, each alert is listed in the in-app log and delivered by the
configured style with fallbacks: desktop notification → tray balloon →
in-app banner. A desktop notification goes to the one sender thread
(``notify.sender``) and its outcome comes back queued; nothing here waits
for D-Bus. Once delivered, the alert is handed back for the history.
"""

from __future__ import annotations

import logging
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from PySide6.QtCore import QObject, Signal

from portwatch.core.alerts.alert import Alert, AlertKind, Urgency
from portwatch.core.safetext import mask_text, visible
from portwatch.core.settings import NotificationStyle, Settings
from portwatch.notify.probe import DeliveryProbe
from portwatch.notify.sender import NotificationSender, Outgoing

log = logging.getLogger(__name__)


class InAppLog(Protocol):
    """The Alerts tab: every alert is listed; the banner is the last fallback."""

    def add_alert(self, alert: Alert) -> None: ...

    def show_banner(self, alert: Alert) -> None: ...


class TrayBalloon(Protocol):
    """The tray's own message; False when this tray cannot show one."""

    def show_balloon(self, alert: Alert) -> bool: ...


@dataclass(slots=True)
class _Raised:
    alert: Alert
    delivery: str | None = None  # known once delivered


# Hands a delivered alert and how it went ("dbus", "tray", ...) to the history.
RecordAlert = Callable[[Alert, str], None]


class AlertsController(QObject):
    alert_raised = Signal(object, str)  # (Alert, how it was delivered)
    # From the sender's thread; Qt queues them to this object's (UI) thread.
    _sent = Signal(int, bool)
    _delivery_known = Signal(object)  # DeliveryProbe
    show_port_requested = Signal(int)

    def __init__(
        self,
        log_view: InAppLog,
        record: RecordAlert,
        settings: Settings,
        *,
        desktop: bool,
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self._log = log_view
        self._record = record
        self.settings = settings
        self._desktop = desktop  # desktop notifications can be tried here
        self.balloon: TrayBalloon | None = None
        self.notifications: NotificationSender | None = None
        self.delivery: DeliveryProbe | None = None
        self._waiting: dict[int, tuple[Alert, list[str]]] = {}
        self._next_key = 0
        self._told: set[str] = set()
        # Alerts raised and not yet told, oldest first, with how each was delivered once known.
        self._in_order: deque[_Raised] = deque()
        self._sent.connect(self._on_sent)
        self._delivery_known.connect(self._on_delivery)

    # --- wiring (the composition root calls these once) ---

    def use_sender(self, sender: NotificationSender) -> None:
        self.notifications = sender

    def sent(self, key: int, ok: bool) -> None:
        """The sender's on_sent: any thread."""
        self._sent.emit(key, ok)

    def delivery_known(self, probe: DeliveryProbe) -> None:
        """The sender's on_delivery (or the platform's answer): any thread."""
        self._delivery_known.emit(probe)

    def use_settings(self, settings: Settings) -> None:
        if settings.notification_style != self.settings.notification_style and self.notifications:
            self.notifications.retry_soon()
        self.settings = settings

    # --- alerts ---

    def raise_alert(self, alert: Alert) -> None:
        """List it, deliver it if it is meant to be heard; then it goes to the history."""
        self._log.add_alert(alert)
        self._in_order.append(_Raised(alert))
        if alert.kind is AlertKind.WITHDRAWN:
            self._withdraw(alert)
            self._delivered(alert, "list")
        elif alert.suppressed:
            self._delivered(alert, "quiet period")
        elif not alert.notify:
            self._delivered(alert, "list")
        else:
            self._deliver(alert, self.delivery_order())

    def notice(self, title: str, body: str) -> None:
        self.raise_alert(
            Alert(
                kind=AlertKind.NOTICE,
                at=time.time(),
                title=title,
                body=body,
                urgency=Urgency.NORMAL,
            )
        )

    def tell_once(self, key: str, title: str, body: str) -> None:
        if key not in self._told:
            self._told.add(key)
            self.notice(title, body)

    def delivery_order(self) -> list[str]:
        style = self.settings.notification_style
        if style is NotificationStyle.IN_APP:
            return ["in_app"]
        if style is NotificationStyle.TRAY:
            return ["tray", "in_app"]
        return (["dbus"] if self._desktop else []) + ["tray", "in_app"]

    def _deliver(self, alert: Alert, methods: list[str]) -> None:
        for at, method in enumerate(methods):
            if method == "dbus" and self.notifications is not None:
                key = self._next_key
                self._next_key += 1
                self._waiting[key] = (alert, methods[at + 1 :])
                self.notifications.send(
                    Outgoing(
                        key,
                        alert.title,
                        alert.body,
                        int(alert.urgency),
                        alert.port,
                        slot=_slot(alert),
                    )
                )
                return
            if method == "tray" and self.balloon is not None and self.balloon.show_balloon(alert):
                # The e2e tests read this line: the balloon's own widget is Qt's private one.
                title, body = visible(mask_text(alert.title)), visible(mask_text(alert.body))
                log.info("alert shown as a tray balloon: %s | %s", title, body)
                self._delivered(alert, "tray")
                return
            if method == "in_app":
                self._log.show_banner(alert)
                self._delivered(alert, "in_app")
                return
        self._delivered(alert, "list")

    def _withdraw(self, alert: Alert) -> None:
        """The port is free again: its notification, if one is shown, goes."""
        slot = _slot(alert)
        if self.notifications is not None and slot is not None and "dbus" in self.delivery_order():
            key = self._next_key
            self._next_key += 1
            self.notifications.send(
                Outgoing(key, alert.title, "", 0, None, slot=slot, withdraw=True)
            )

    def _on_sent(self, key: int, ok: bool) -> None:
        waiting = self._waiting.pop(key, None)
        if waiting is None:
            return
        alert, rest = waiting
        if ok:
            self._delivered(alert, "dbus")
        else:
            self._deliver(alert, rest)

    def _delivered(self, alert: Alert, delivery: str) -> None:
        """Told (and recorded) in the order the alerts were raised, however long each took."""
        for entry in self._in_order:
            if entry.alert is alert and entry.delivery is None:
                entry.delivery = delivery
                break
        while self._in_order and self._in_order[0].delivery is not None:
            done = self._in_order.popleft()
            self.alert_raised.emit(done.alert, done.delivery)
            self._record(done.alert, done.delivery or "list")

    # --- can alerts leave the app? ---

    def _on_delivery(self, probe: DeliveryProbe) -> None:
        """Said once at start when nothing outside the window can deliver an alert."""
        first = self.delivery is None
        self.delivery = probe
        style = self.settings.notification_style
        if not first or style is NotificationStyle.IN_APP:
            return
        if style is NotificationStyle.SYSTEM and self._desktop and probe.method == "dbus":
            return
        if self.balloon is not None:
            if style is NotificationStyle.SYSTEM and not probe.available:
                log.info("no notification service; using the tray balloon")
            return
        self.tell_once(
            "delivery",
            "Alerts will appear in this window only",
            f"No notification service or system tray was found. {probe.describe()}".strip(),
        )


# Alerts about one port take each other's place on screen; these stand alone.
_STANDALONE = frozenset({AlertKind.SUMMARY, AlertKind.STARTUP, AlertKind.NOTICE})


def _slot(alert: Alert) -> tuple[str, int] | None:
    if alert.kind in _STANDALONE or alert.port is None or alert.proto is None:
        return None
    return (alert.proto, alert.port)
