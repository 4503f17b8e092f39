"""What this session can deliver, said for a person, with how to fix it."""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from portwatch.notify.dbus import ServerInfo

SERVICE = "org.freedesktop.Notifications"


@dataclass(frozen=True, slots=True)
class DeliveryProbe:
    # "dbus": the freedesktop service answered; "system": macOS/Windows via the
    # tray icon; "none": nothing outside the app on this bus.
    method: str
    server: str | None = None  # "dunst 1.9.0 (knopwob)"
    actions: bool = False
    detail: str = ""
    fix: str | None = None

    @property
    def available(self) -> bool:
        return self.method != "none"

    def describe(self) -> str:
        text = self.detail
        if self.fix:
            text += f"\nHow to fix: {self.fix}"
        return text


def probe(bus: str = "SESSION") -> DeliveryProbe:
    """Ask the session what notification delivery is possible (a few ms; no UI)."""
    known = without_connecting(bus)
    if known is not None:
        return known
    try:
        from portwatch.notify.dbus import DBusNotifier, NotifyError
    except ImportError as exc:
        return describe_connection(None, exc)
    try:
        with DBusNotifier(bus=bus) as notifier:
            return describe_connection(notifier.info, None)
    except NotifyError as exc:
        return describe_connection(None, exc)


def without_connecting(bus: str = "SESSION") -> DeliveryProbe | None:
    """What is known before any connection: another platform's own, or no session bus."""
    if sys.platform in ("darwin", "win32"):
        where = "Notification Centre" if sys.platform == "darwin" else "the Windows action centre"
        return DeliveryProbe(
            method="system",
            detail=f"Notifications go through the tray icon to {where}.",
            fix=None,
        )
    if bus == "SESSION" and not os.environ.get("DBUS_SESSION_BUS_ADDRESS"):
        runtime = os.environ.get("XDG_RUNTIME_DIR")
        if not (runtime and (Path(runtime) / "bus").exists()):
            return DeliveryProbe(
                method="none",
                detail="No D-Bus session bus: desktop notifications cannot be sent.",
                fix="Start portwatch from inside your desktop session (its login sets "
                "DBUS_SESSION_BUS_ADDRESS), or choose 'Tray balloon' or 'In the app only'.",
            )
    return None


def describe_connection(info: ServerInfo | None, error: Exception | None) -> DeliveryProbe:
    """What a connection attempt to the notification service means for a person.

    ``info``: the server answered; ``error``: it did not (an ImportError: no jeepney).
    """
    if info is None:
        if isinstance(error, ImportError):
            return DeliveryProbe(
                method="none",
                detail=f"The D-Bus library is missing ({error}).",
                fix="Install the 'jeepney' Python package (a dependency of portwatch).",
            )
        return DeliveryProbe(
            method="none",
            detail=f"No notification service: {error}.",
            fix="Install and run a notification daemon (your desktop's own, or dunst, mako, "
            "xfce4-notifyd), or choose 'Tray balloon' or 'In the app only'.",
        )
    actions = "with a Show button" if info.actions else "without buttons (the server has none)"
    return DeliveryProbe(
        method="dbus",
        server=info.describe(),
        actions=info.actions,
        detail=f"Desktop notifications via {info.describe()}, {actions}.",
    )
