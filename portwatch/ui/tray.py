"""The tray icon: colour by worst exposure, counts in the tooltip, a short menu.

The menu is one QMenu for the icon's whole life, with every item in it before
the icon is shown, kept up to date in place: a scan that changes the listeners
adds, removes or replaces the entries of the apps that changed; the header,
"Pause" and "N more apps…" change their text. Nothing happens when it opens.

Why: on a StatusNotifierItem host Qt exports the menu over D-Bus
(``com.canonical.dbusmenu``) and the host draws the layout it fetched before the
click. Qt answers the host's ``AboutToShow`` with "no update needed" whatever
the slots did (``QDBusMenuAdaptor::AboutToShow`` in qtbase
src/gui/platform/unix/dbusmenu/qdbusmenuadaptor.cpp; the same trap in
https://github.com/nextcloud/desktop/issues/10586), so a menu filled on
``aboutToShow`` opened as the stub fetched at start, a short scrolling popup,
and was right only the second time (issue 15). A quiet poll (the same
listeners) leaves the menu alone.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from PySide6.QtCore import QObject, Signal
from PySide6.QtGui import QAction
from PySide6.QtWidgets import QMenu, QSystemTrayIcon

from portwatch.core.alerts.alert import Alert, Urgency
from portwatch.core.model import Exposure, Listener, Snapshot
from portwatch.core.naming import NO_LABELS, Labels, app_and_project
from portwatch.core.person_ports import PersonPort, count_words, person_ports
from portwatch.core.safetext import visible
from portwatch.ui.icons import tray_icon

log = logging.getLogger(__name__)

MENU_APPS = 10  # apps listed in the menu; the rest are "N more…"
MENU_PORTS = 6  # ports named in an app's entry (its submenu has up to MENU_PORT_ITEMS)
MENU_PORT_ITEMS = 12
BALLOON_MS = 10_000
MARK_PUBLIC = "⚠ "


def tooltip_text(
    snapshot: Snapshot | None,
    *,
    paused: bool,
    watched_busy: int,
    counts: Sequence[str] | None = None,
) -> str:
    """ "14 ports in use · 2 public · 1 watched port busy", or why there is nothing.

    ``counts``: ``count_words`` of the snapshot's listeners, if already made.
    """
    if snapshot is None:
        parts = ["portwatch: starting…"]
    else:
        parts = list(counts if counts is not None else count_words(snapshot.listeners))
    if watched_busy:
        noun = "port" if watched_busy == 1 else "ports"
        parts.append(f"{watched_busy} watched {noun} busy")
    if paused:
        parts.append("paused")
    return " · ".join(parts)


def menu_text(text: str) -> str:
    """Process text for a menu item: escapes visible, and ``&`` shown, not taken as a shortcut."""
    return visible(text).replace("&", "&&")


@dataclass(frozen=True, slots=True)
class MenuApp:
    """One app in the tray menu: its name (the user's, or as found) and its ports."""

    name: str
    ports: tuple[PersonPort, ...]  # in port order

    @property
    def exposure(self) -> Exposure:
        return max((port.exposure for port in self.ports), key=lambda e: e.rank)

    @property
    def listeners(self) -> list[Listener]:
        return [row for port in self.ports for row in port.listeners]


def port_word(port: PersonPort) -> str:
    """'80', or '53 (udp)' for a port bound for UDP only."""
    udp = all(row.proto == "udp" for row in port.listeners)
    return f"{port.port} (udp)" if udp else str(port.port)


def menu_label(app: MenuApp) -> str:
    """'⚠ nginx — 80, 443' (marked when public); at most MENU_PORTS ports named."""
    mark = MARK_PUBLIC if app.exposure is Exposure.PUBLIC else ""
    words = [port_word(port) for port in app.ports[:MENU_PORTS]]
    more = len(app.ports) - MENU_PORTS
    if more > 0:
        words.append(f"+{more} more")
    return f"{mark}{menu_text(app.name)} — {', '.join(words)}"


# Fills a listener's submenu with actions (the app's listener actions).
ListenerMenuHook = Callable[[QMenu, list[Listener]], None]


@dataclass(frozen=True, slots=True, eq=False)
class _Entry:
    """An app's entry in the menu as built: replaced when the app's rows change."""

    app: MenuApp
    hook: ListenerMenuHook | None
    action: QAction  # the entry itself (a submenu's menuAction when it has one)
    submenu: QMenu | None


def menu_apps(
    snapshot: Snapshot | None, labels: Labels = NO_LABELS, limit: int = MENU_APPS
) -> tuple[list[MenuApp], int]:
    """The apps holding ports, most exposed first, then by their first port; and
    how many more there are than ``limit``.

    An app is named by the user's label for its port or app, else by
    ``naming.app_and_project``; a port is counted as a person counts it.
    """
    if snapshot is None:
        return [], 0
    by_name: dict[str, list[PersonPort]] = {}
    for port in person_ports(snapshot.listeners):
        main = port.main
        name = labels.for_listener(main) or app_and_project(main)
        by_name.setdefault(name, []).append(port)
    apps = [MenuApp(name, tuple(ports)) for name, ports in by_name.items()]
    apps.sort(key=lambda app: (-app.exposure.rank, app.ports[0].port, app.name))
    return apps[:limit], max(0, len(apps) - limit)


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
        self.labels: Labels = NO_LABELS
        # count_words of the listeners last counted (a quiet poll brings the same tuple).
        self._counted: tuple[Listener, ...] | None = None
        self._counts: list[str] = []
        self.paused = False
        self.watched_busy = 0
        self._hook: ListenerMenuHook | None = None
        self._state: tuple[Exposure | None, bool] | None = None
        # How many times the menu's items changed (the app's status reports it).
        self.menu_changes = 0
        self.icon = QSystemTrayIcon(self)
        self.menu = QMenu()
        self._build_menu()
        self.icon.setContextMenu(self.menu)
        self.icon.activated.connect(self._activated)
        self.icon.messageClicked.connect(self._message_clicked)
        self._balloon_port: int | None = None
        self._refresh()

    def _build_menu(self) -> None:
        """The items every menu has; the apps go between the header and "Open portwatch"."""
        menu = self.menu
        self._header = menu.addAction(self.tooltip())
        self._header.setEnabled(False)
        # Shown (in the menu) only with apps to list:
        self._apps_separator = QAction(menu)
        self._apps_separator.setSeparator(True)
        self._more = QAction(menu)
        self._more.triggered.connect(self.open_requested)
        self._entries: list[_Entry] = []
        # What the entries were made from: (listeners, labels, hook).
        self._made_from: tuple[tuple[Listener, ...] | None, Labels, ListenerMenuHook | None] = (
            None,
            NO_LABELS,
            None,
        )
        self._tail = menu.addSeparator()  # the app entries end before it
        menu.addAction("Open portwatch").triggered.connect(self.open_requested)
        self._pause = menu.addAction("Pause monitoring")
        self._pause.triggered.connect(lambda: self.pause_toggled.emit(not self.paused))
        menu.addAction("Settings…").triggered.connect(self.settings_requested)
        menu.addSeparator()
        menu.addAction("Quit portwatch").triggered.connect(self.quit_requested)

    @property
    def listener_menu_hook(self) -> ListenerMenuHook | None:
        """Fills a listener's submenu with actions (set by the app when it adopts the tray)."""
        return self._hook

    @listener_menu_hook.setter
    def listener_menu_hook(self, hook: ListenerMenuHook | None) -> None:
        self._hook = hook
        self._sync_apps()

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
        self._sync_apps()

    def set_labels(self, labels: Labels) -> None:
        """The user's names for ports and apps (the menu's entries are renamed now)."""
        self.labels = labels
        self._sync_apps()

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
        snapshot = self.snapshot
        if snapshot is not None and snapshot.listeners is not self._counted:
            self._counted = snapshot.listeners
            self._counts = count_words(snapshot.listeners)
        return tooltip_text(
            snapshot, paused=self.paused, watched_busy=self.watched_busy, counts=self._counts
        )

    def _refresh(self) -> None:
        state = self.state
        if state != self._state:
            self._state = state
            self.icon.setIcon(tray_icon(*state))
        tooltip = self.tooltip()
        self.icon.setToolTip(tooltip)
        self._set_text(self._header, tooltip)
        self._set_text(self._pause, "Resume monitoring" if self.paused else "Pause monitoring")

    def _set_text(self, action: QAction, text: str) -> None:
        if action.text() != text:
            action.setText(text)
            self.menu_changes += 1

    def menu_texts(self) -> list[str]:
        """The menu's items as a person sees them, separators left out."""
        return [a.text() for a in self.menu.actions() if not a.isSeparator() and a.isVisible()]

    def _sync_apps(self) -> None:
        """Bring the app entries in line with the snapshot, the labels and the hook.

        Entries whose app is the same are kept (the same items for the host); the
        others are made anew, detached, and put in place in one insertion each.
        """
        snapshot = self.snapshot
        listeners = snapshot.listeners if snapshot is not None else None
        made_listeners, made_labels, made_hook = self._made_from
        if listeners is made_listeners and self.labels == made_labels and self._hook == made_hook:
            return  # a quiet poll
        self._made_from = (listeners, self.labels, self._hook)
        apps, more = menu_apps(snapshot, self.labels)
        kept = {
            entry.app.name: entry
            for entry in self._entries
            if entry.hook == self._hook and entry.app in apps
        }
        entries = [kept.get(app.name) or self._make_entry(app) for app in apps]
        menu = self.menu
        changed = False
        staying = {id(entry) for entry in entries}
        for gone in self._entries:
            if id(gone) not in staying:
                menu.removeAction(gone.action)
                # A submenu takes its menuAction with it.
                (gone.action if gone.submenu is None else gone.submenu).deleteLater()
                changed = True
        listed = self._more in menu.actions()
        if more > 0:
            self._more.setText(f"{more} more app{'' if more == 1 else 's'}…")
            if not listed:
                menu.insertAction(self._tail, self._more)
                changed = True
        elif listed:
            menu.removeAction(self._more)
            changed = True
        # In order, from the last: each entry goes before the one that follows it.
        follower = self._more if more > 0 else self._tail
        for entry in reversed(entries):
            actions = menu.actions()
            at = actions.index(follower)
            if at == 0 or actions[at - 1] is not entry.action:
                menu.insertAction(follower, entry.action)
                changed = True
            follower = entry.action
        has_separator = self._apps_separator in menu.actions()
        if entries and not has_separator:
            menu.insertAction(entries[0].action, self._apps_separator)
            changed = True
        elif not entries and has_separator:
            menu.removeAction(self._apps_separator)
            changed = True
        self._entries = entries
        if changed:
            self.menu_changes += 1

    def _make_entry(self, app: MenuApp) -> _Entry:
        """An app's entry: it shows the window on its port; with several ports or the
        listener actions installed, a submenu (show each port, free / open / copy).

        Made without a place in the menu: the caller inserts it, whole.
        """
        endpoints = ", ".join(row.endpoint for row in app.listeners[:MENU_PORT_ITEMS])
        hook = self._hook
        if hook is None and len(app.ports) == 1:
            action = QAction(menu_label(app), self.menu)
            action.setToolTip(endpoints)
            action.triggered.connect(self._show_port(app.ports[0].port))
            return _Entry(app, hook, action, None)
        sub = QMenu(menu_label(app), self.menu)
        sub.setToolTip(endpoints)
        if len(app.ports) == 1:
            sub.addAction("Show in portwatch").triggered.connect(self._show_port(app.ports[0].port))
        else:
            for port in app.ports[:MENU_PORT_ITEMS]:
                item = sub.addAction(f"Show port {port_word(port)} in portwatch")
                item.triggered.connect(self._show_port(port.port))
            if len(app.ports) > MENU_PORT_ITEMS:
                sub.addAction("All in portwatch…").triggered.connect(self.open_requested)
        if hook is not None:
            hook(sub, app.listeners)
        return _Entry(app, hook, sub.menuAction(), sub)

    def _show_port(self, port: int) -> Callable[..., None]:
        return lambda _checked=False: self.port_requested.emit(port)

    def _activated(self, reason: QSystemTrayIcon.ActivationReason) -> None:
        if reason in (
            QSystemTrayIcon.ActivationReason.Trigger,
            QSystemTrayIcon.ActivationReason.DoubleClick,
        ):
            self.open_requested.emit()
