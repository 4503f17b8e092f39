"""The tray icon: colour by worst exposure, counts in the tooltip, a short menu.

The menu is rebuilt when it is about to show (``aboutToShow``), never per poll:
a poll only swaps the icon when the state changes and sets the tooltip.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from PySide6.QtCore import QObject, Signal
from PySide6.QtGui import QAction
from PySide6.QtWidgets import QMenu, QSystemTrayIcon

from portwatch.core.alerts.alert import Alert, Urgency
from portwatch.core.model import Exposure, Listener, Snapshot
from portwatch.core.safetext import visible
from portwatch.ui.icons import tray_icon

log = logging.getLogger(__name__)

MENU_LISTENERS = 12
BALLOON_MS = 10_000
MARK_PUBLIC = "⚠ "


def tooltip_text(snapshot: Snapshot | None, *, paused: bool, watched_busy: int) -> str:
    """ "14 listening · 2 public · 1 watched port busy", or why there is nothing."""
    if snapshot is None:
        parts = ["portwatch: starting…"]
    else:
        parts = [f"{len(snapshot.listeners)} listening"]
        public = snapshot.count(Exposure.PUBLIC)
        if public:
            parts.append(f"{public} public")
        lan = snapshot.count(Exposure.LAN)
        if lan:
            parts.append(f"{lan} LAN")
    if watched_busy:
        noun = "port" if watched_busy == 1 else "ports"
        parts.append(f"{watched_busy} watched {noun} busy")
    if paused:
        parts.append("paused")
    return " · ".join(parts)


def menu_text(text: str) -> str:
    """Process text for a menu item: escapes visible, and ``&`` shown, not taken as a shortcut."""
    return visible(text).replace("&", "&&")


def menu_label(listener: Listener) -> str:
    """'⚠ 5432 postgresql — postgres' (marked when public)."""
    mark = MARK_PUBLIC if listener.exposure is Exposure.PUBLIC else ""
    service = f" {listener.service}" if listener.service else ""
    proto = "" if listener.proto == "tcp" else " (udp)"
    return f"{mark}{listener.port}{service}{proto} — {menu_text(listener.owner_label)}"


def menu_listeners(snapshot: Snapshot | None, limit: int = MENU_LISTENERS) -> list[Listener]:
    """One row per (port, proto, owner): most exposed first, then by port."""
    if snapshot is None:
        return []
    best: dict[tuple[int, str, str], Listener] = {}
    for listener in snapshot.listeners:
        key = (listener.port, listener.proto, listener.owner_label)
        kept = best.get(key)
        if kept is None or listener.exposure.rank > kept.exposure.rank:
            best[key] = listener
    ordered = sorted(best.values(), key=lambda x: (-x.exposure.rank, x.port, x.proto))
    return ordered[:limit]


class TrayIcon(QObject):
    open_requested = Signal()
    port_requested = Signal(int)
    pause_toggled = Signal(bool)
    settings_requested = Signal()
    quit_requested = Signal()
    balloon_clicked = Signal(int)  # the port of the alert whose balloon was clicked

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.snapshot: Snapshot | None = None
        self.paused = False
        self.watched_busy = 0
        # Fills a listener's submenu with actions (set by the app when installed).
        self.listener_menu_hook: Callable[[QMenu, list[Listener]], None] | None = None
        self._state: tuple[Exposure | None, bool] | None = None
        self.icon = QSystemTrayIcon(self)
        self.menu = QMenu()
        self.menu.aboutToShow.connect(self.rebuild_menu)
        self.icon.setContextMenu(self.menu)
        self.icon.activated.connect(self._activated)
        self.icon.messageClicked.connect(self._message_clicked)
        self._balloon_port: int | None = None
        self._refresh()
        self.rebuild_menu()

    @staticmethod
    def available() -> bool:
        return QSystemTrayIcon.isSystemTrayAvailable()

    def show(self) -> None:
        self.icon.show()

    def hide(self) -> None:
        self.icon.hide()

    def show_balloon(self, alert: Alert) -> bool:
        """Show the alert as the tray's own message; False when this tray has none."""
        icon = self.icon
        if not (
            QSystemTrayIcon.isSystemTrayAvailable()
            and QSystemTrayIcon.supportsMessages()
            and icon.isVisible()
        ):
            return False
        kind = (
            QSystemTrayIcon.MessageIcon.Critical
            if alert.urgency is Urgency.CRITICAL
            else QSystemTrayIcon.MessageIcon.Warning
            if alert.urgency is Urgency.NORMAL
            else QSystemTrayIcon.MessageIcon.Information
        )
        self._balloon_port = alert.port
        icon.showMessage(alert.title, alert.body, kind, BALLOON_MS)
        return True

    def _message_clicked(self) -> None:
        if self._balloon_port is not None:
            self.balloon_clicked.emit(self._balloon_port)

    def update_snapshot(self, snapshot: Snapshot) -> None:
        self.snapshot = snapshot
        self._refresh()

    def set_paused(self, paused: bool) -> None:
        self.paused = paused
        self._refresh()

    def set_watched_busy(self, count: int) -> None:
        """How many watched ports are busy (the alerts part sets this)."""
        self.watched_busy = max(0, count)
        self._refresh()

    @property
    def state(self) -> tuple[Exposure | None, bool]:
        exposure = self.snapshot.worst_exposure if self.snapshot else None
        return exposure, self.paused

    def tooltip(self) -> str:
        return tooltip_text(self.snapshot, paused=self.paused, watched_busy=self.watched_busy)

    def _refresh(self) -> None:
        state = self.state
        if state != self._state:
            self._state = state
            self.icon.setIcon(tray_icon(*state))
        self.icon.setToolTip(self.tooltip())

    def rebuild_menu(self) -> None:
        menu = self.menu
        menu.clear()
        header = menu.addAction(self.tooltip())
        header.setEnabled(False)
        listeners = menu_listeners(self.snapshot)
        if listeners:
            menu.addSeparator()
            for listener in listeners:
                if self.listener_menu_hook is None:
                    action = menu.addAction(menu_label(listener))
                    action.setToolTip(listener.endpoint)
                    action.triggered.connect(
                        lambda _checked=False, port=listener.port: self.port_requested.emit(port)
                    )
                    continue
                # With actions installed, each listener is a submenu: show it
                # in the window, then free / open / copy it right from the tray.
                sub = menu.addMenu(menu_label(listener))
                sub.addAction("Show in portwatch").triggered.connect(
                    lambda _checked=False, port=listener.port: self.port_requested.emit(port)
                )
                self.listener_menu_hook(sub, [listener])
            more = len(self.snapshot.listeners) - len(listeners) if self.snapshot else 0
            if more > 0:
                rest = menu.addAction(f"… and {more} more")
                rest.triggered.connect(self.open_requested)
        menu.addSeparator()
        menu.addAction("Open portwatch").triggered.connect(self.open_requested)
        pause = QAction("Resume monitoring" if self.paused else "Pause monitoring", menu)
        pause.triggered.connect(lambda: self.pause_toggled.emit(not self.paused))
        menu.addAction(pause)
        menu.addAction("Settings…").triggered.connect(self.settings_requested)
        menu.addSeparator()
        menu.addAction("Quit portwatch").triggered.connect(self.quit_requested)

    def _activated(self, reason: QSystemTrayIcon.ActivationReason) -> None:
        if reason in (
            QSystemTrayIcon.ActivationReason.Trigger,
            QSystemTrayIcon.ActivationReason.DoubleClick,
        ):
            self.open_requested.emit()
