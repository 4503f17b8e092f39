"""freedesktop notifications over the session bus, with jeepney.

QtDBus cannot send ``Notify`` from Python (its ``susssasa{sv}i`` signature
needs a uint32 and a typed empty string list), so this module speaks D-Bus
itself. One connection is used for calls and for the ``ActionInvoked``
signal: some servers address that signal to the notification's sender only.

Spec: https://specifications.freedesktop.org/notification-spec/latest/
"""

from __future__ import annotations

import contextlib
import logging
import queue
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from jeepney import (  # type: ignore[import-untyped]
    DBusAddress,
    DBusErrorResponse,
    MatchRule,
    message_bus,
    new_method_call,
)
from jeepney.io.threading import (  # type: ignore[import-untyped]
    DBusRouter,
    Proxy,
    open_dbus_connection,
)
from jeepney.wrappers import unwrap_msg  # type: ignore[import-untyped]

from portwatch.core.paths import APP_ID, APP_NAME, installed_icons
from portwatch.core.safetext import mask_text, visible, visible_lines

log = logging.getLogger(__name__)

BUS_NAME = "org.freedesktop.Notifications"
OBJECT_PATH = "/org/freedesktop/Notifications"
INTERFACE = "org.freedesktop.Notifications"
SHOW_ACTION = "show"
CALL_TIMEOUT = 5.0

NOTIFICATIONS = DBusAddress(OBJECT_PATH, bus_name=BUS_NAME, interface=INTERFACE)


class NotifyError(Exception):
    """The notification service is missing or refused; ``str()`` is for a person."""


@dataclass(frozen=True, slots=True)
class ServerInfo:
    name: str
    vendor: str
    version: str
    spec_version: str
    capabilities: tuple[str, ...]

    @property
    def actions(self) -> bool:
        return "actions" in self.capabilities

    def describe(self) -> str:
        return f"{self.name} {self.version} ({self.vendor})"


def notification_texts(title: str, body: str, *, markup: bool) -> tuple[str, str]:
    """The summary and body as sent: secrets masked, control characters shown as escapes.

    The summary is plain text by the spec; the body is markup on servers that
    claim "body-markup", so ``<``, ``>`` and ``&`` are escaped for them. The
    alert texts are made safe where they are built (``core.alerts``); this is
    the last gate before text leaves the process.
    """
    summary = visible(mask_text(title))
    text = visible_lines(mask_text(body))
    return summary, _escape(text) if markup else text


# Servers draw a notification's icon at 32 to 64 px (twice that on HiDPI screens):
# the largest installed PNG up to this size is sent, for them to scale down.
ICON_PIXELS = 128
# A themed icon the servers' own themes have, where the app's PNG is not installed.
FALLBACK_ICON = "dialog-warning"


def default_icon() -> str:
    """The path of the app's icon as a PNG where a package installed it in the
    hicolor theme (the .deb, the .rpm), else the name of a themed icon.

    Never the SVG in portwatch's resources: servers load the icon with their
    own image library, and dunst (gdk-pixbuf) logs "Failed to load image
    info" for it and shows none. A pip install has no PNG: the app's icon
    is rendered only when it is packaged.
    """
    sizes: dict[int, Path] = {}
    for icon in installed_icons():
        width = icon.parent.parent.name.partition("x")[0]  # hicolor/128x128/apps/…
        if icon.suffix == ".png" and width.isdigit():
            sizes.setdefault(int(width), icon)
    if not sizes:
        return FALLBACK_ICON
    fitting = [size for size in sizes if size <= ICON_PIXELS]
    return str(sizes[max(fitting) if fitting else min(sizes)])


class DBusNotifier:
    """Sends notifications and reports clicks on their "Show" action.

    ``on_action(port)`` runs in a background thread: a Qt caller must hop to
    its own thread (emit a signal). ``close()`` ends the thread and the
    connection. ``bus`` is ``"SESSION"`` or a D-Bus address (tests).
    """

    def __init__(
        self,
        on_action: Callable[[int], None] | None = None,
        *,
        bus: str = "SESSION",
        icon: str | None = None,
    ) -> None:
        self._on_action = on_action
        self._icon = icon if icon is not None else default_icon()
        self._ports: dict[int, int] = {}  # notification id → port
        self._lock = threading.Lock()
        self._stop = threading.Event()
        try:
            self._conn = open_dbus_connection(bus)
        except (OSError, KeyError, ValueError, RuntimeError) as exc:
            raise NotifyError(f"cannot connect to the D-Bus session bus: {exc}") from exc
        self._router = DBusRouter(self._conn)
        self._signals: queue.Queue[Any] = queue.Queue(maxsize=256)
        self._filter = None
        self._thread: threading.Thread | None = None
        try:
            self.info = self._server_info()
            if on_action is not None and self.info.actions:
                self._listen()
        except BaseException:
            self.close()
            raise

    @property
    def markup(self) -> bool:
        """Whether the server reads the body as markup (its "body-markup" capability)."""
        return "body-markup" in self.info.capabilities

    # --- calls ---

    def _call(self, method: str, signature: str | None = None, body: tuple[Any, ...] = ()) -> Any:
        message = new_method_call(NOTIFICATIONS, method, signature, body)
        try:
            reply = self._router.send_and_get_reply(message, timeout=CALL_TIMEOUT)
        except TimeoutError as exc:
            raise NotifyError(f"{BUS_NAME} did not answer {method} within 5 s") from exc
        except (OSError, RuntimeError) as exc:
            raise NotifyError(f"the D-Bus connection failed: {exc}") from exc
        try:
            return unwrap_msg(reply)
        except DBusErrorResponse as exc:
            if exc.name == "org.freedesktop.DBus.Error.ServiceUnknown":
                raise NotifyError(
                    f"no notification service on the session bus ({BUS_NAME})"
                ) from exc
            if str(exc.name).startswith("org.freedesktop.DBus.Error.Spawn"):
                raise NotifyError(
                    f"the session bus could not start its notification service ({exc.data})"
                ) from exc
            raise NotifyError(f"{BUS_NAME}.{method} failed: {exc.name}: {exc.data}") from exc

    def _server_info(self) -> ServerInfo:
        name, vendor, version, spec = self._call("GetServerInformation")
        (caps,) = self._call("GetCapabilities")
        return ServerInfo(name, vendor, version, spec, tuple(caps))

    def notify(
        self,
        title: str,
        body: str,
        *,
        urgency: int = 1,
        port: int | None = None,
        timeout_ms: int = -1,
        replaces_id: int = 0,
    ) -> int:
        """Show a notification; returns its id. Adds "Show" when the server has actions."""
        actions: list[str] = []
        if port is not None and self.info.actions and self._on_action is not None:
            actions = [SHOW_ACTION, "Show"]
        hints: dict[str, tuple[str, Any]] = {
            "urgency": ("y", max(0, min(2, urgency))),
            "desktop-entry": ("s", APP_ID),
            "category": ("s", "network"),
        }
        summary, body_text = notification_texts(title, body, markup=self.markup)
        (notification_id,) = self._call(
            "Notify",
            "susssasa{sv}i",
            (APP_NAME, replaces_id, self._icon, summary, body_text, actions, hints, timeout_ms),
        )
        if port is not None:
            with self._lock:
                self._ports[int(notification_id)] = port
                if len(self._ports) > 512:
                    for old in sorted(self._ports)[:256]:
                        del self._ports[old]
        return int(notification_id)

    def close_notification(self, notification_id: int) -> None:
        """Take a notification off the screen (an error if it is gone already)."""
        self._call("CloseNotification", "u", (notification_id,))

    # --- signals ---

    def _listen(self) -> None:
        rule = MatchRule(
            type="signal", interface=INTERFACE, path=OBJECT_PATH, member="ActionInvoked"
        )
        Proxy(message_bus, self._router, timeout=CALL_TIMEOUT).AddMatch(rule)
        self._filter = self._router.filter(rule, queue=self._signals)
        self._thread = threading.Thread(
            target=self._dispatch_actions, name="portwatch-notify-actions", daemon=True
        )
        self._thread.start()

    def _dispatch_actions(self) -> None:
        while not self._stop.is_set():
            try:
                message = self._signals.get(timeout=0.25)
            except queue.Empty:
                continue
            try:
                notification_id, action = message.body
            except (TypeError, ValueError):
                continue
            with self._lock:
                port = self._ports.get(int(notification_id))
            if action == SHOW_ACTION and port is not None and self._on_action is not None:
                try:
                    self._on_action(port)
                except Exception:
                    log.exception("the notification action handler failed")

    def close(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=2)
        if self._filter is not None:
            with contextlib.suppress(Exception):
                self._filter.close()
        with contextlib.suppress(Exception):
            self._router.close()
        with contextlib.suppress(Exception):
            self._conn.close()

    def __enter__(self) -> DBusNotifier:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _escape(text: str) -> str:
    """Servers with body-markup read a small HTML subset: escape what we send as text."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
