"""The main window: listeners, details, connections, status.

Extension points for the other parts of the app (keep them small):

- ``MainWindow.add_tab(widget, title) -> int``: add a tab (alerts, history...).
- ``MainWindow.toolbar``: a ``QToolBar`` (``FilterBar``); add actions that work on
  ``MainWindow.selected_listeners()``, and follow ``selection_changed(list)``
  to enable them.
- ``MainWindow.context_menu_requested(QMenu, list)``: emitted with the menu and
  the selected ``Listener`` objects just before the listener table's context
  menu shows; connect and ``menu.addAction(...)``.
- ``MainWindow.show_port(port)``: bring the window up with the search set to
  that port and its row selected (``show_port.py``).
- ``MainWindow.settings_requested``: the "Settings…" action was chosen.
- ``MainWindow.set_labels(labels)``: the user's names for ports and apps (from
  the settings), shown before the detected names in the table and details.

"Group by app" (``group_action``, remembered) swaps the table for the tree of
apps (``listener_tree``); selection, details and context menu work on either.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from pathlib import Path

from PySide6.QtCore import QByteArray, QItemSelection, QPoint, QSettings, Qt, Signal
from PySide6.QtGui import QAction, QCloseEvent, QGuiApplication, QKeySequence, QShowEvent
from PySide6.QtWidgets import (
    QAbstractItemView,
    QMainWindow,
    QMenu,
    QSplitter,
    QStackedWidget,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from portwatch.core.files import private_file, tighten
from portwatch.core.model import Connection, Listener, Snapshot
from portwatch.core.naming import Labels
from portwatch.core.paths import state_dir
from portwatch.ui.details import DetailsPane
from portwatch.ui.filter_bar import CONNECTIONS_TAB, LISTENERS_TAB, FilterBar
from portwatch.ui.icons import app_icon
from portwatch.ui.listener_tree import ListenerTree
from portwatch.ui.scan_status import ScanStatus
from portwatch.ui.show_port import select_port
from portwatch.ui.table_views import (
    CONNECTION_WIDTHS,
    LISTENER_WIDTHS,
    add_details_action,
    table_view,
)
from portwatch.ui.tables.connections import ConnectionColumn, ConnectionTableModel
from portwatch.ui.tables.filters import ConnectionProxy, ListenerProxy
from portwatch.ui.tables.listeners import ListenerColumn, ListenerTableModel
from portwatch.ui.widgets import ExposureBadgeDelegate, NoticeBar

log = logging.getLogger(__name__)

HEADLESS_PLATFORMS = frozenset({"offscreen", "minimal"})
NO_TRAY_TEXT = (
    "<b>No system tray was found</b>, so portwatch runs in this window; closing it quits. "
    "To get a tray icon: on GNOME install and enable the "
    '<a href="https://extensions.gnome.org/extension/615/appindicator-support/">'
    "AppIndicator and KStatusNotifierItem Support</a> extension; on other desktops "
    "run a StatusNotifierItem host (most panels have a “system tray” applet)."
)


def window_settings() -> QSettings:
    # Made 0600 before Qt writes it: QSettings keeps the mode of the file it replaces.
    path = private_file(state_dir() / "window.ini")
    return QSettings(str(path), QSettings.Format.IniFormat)


class MainWindow(QMainWindow):
    settings_requested = Signal()
    context_menu_requested = Signal(QMenu, list)  # (menu, list[Listener])
    selection_changed = Signal(list)  # list[Listener]
    pause_toggled = Signal(bool)
    connections_visible_changed = Signal(bool)
    closed = Signal()  # closed for good (no tray to hide into)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("portwatch")
        self.setWindowIcon(app_icon())
        self.hide_on_close = True
        self.snapshot: Snapshot | None = None

        # models
        self.listener_model = ListenerTableModel(self)
        self.listener_proxy = ListenerProxy(self)
        self.listener_proxy.setSourceModel(self.listener_model)
        self.connection_model = ConnectionTableModel(self)
        self.connection_proxy = ConnectionProxy(self)
        self.connection_proxy.setSourceModel(self.connection_model)

        # toolbar: search, toggles, pause, settings
        self.toolbar = FilterBar(self)
        self.addToolBar(self.toolbar)
        self.search = self.toolbar.search
        self.toolbar.search_changed.connect(self.apply_search)
        focus_search = QAction("Find", self)
        focus_search.setShortcut(QKeySequence.StandardKey.Find)
        focus_search.triggered.connect(self.search.setFocus)
        self.addAction(focus_search)
        self.tcp_action = self.toolbar.tcp_action
        self.udp_action = self.toolbar.udp_action
        self.hide_loopback_action = self.toolbar.hide_loopback_action
        self.only_public_action = self.toolbar.only_public_action
        self.toolbar.toggles_changed.connect(self._apply_toggles)
        self.pause_action = self.toolbar.pause_action
        self.toolbar.pause_toggled.connect(self.pause_toggled)
        self.settings_action = self.toolbar.settings_action
        self.toolbar.settings_requested.connect(self.settings_requested)
        self.group_action = self.toolbar.group_action

        # listeners tab: table over details
        self.listener_view = table_view(
            self.listener_proxy, LISTENER_WIDTHS, ListenerColumn.PROCESS
        )
        self.listener_view.setObjectName("listenerTable")
        self.listener_view.setItemDelegateForColumn(
            ListenerColumn.EXPOSURE, ExposureBadgeDelegate(self.listener_view)
        )
        self.listener_view.sortByColumn(ListenerColumn.PORT, Qt.SortOrder.AscendingOrder)
        self.listener_view.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.listener_view.customContextMenuRequested.connect(self._show_context_menu)
        # "Group by app": the same rows under their apps (its search text is the table's).
        self.listener_tree = ListenerTree(self.listener_model.haystack_of)
        self.listener_tree.customContextMenuRequested.connect(self._show_context_menu)
        self.listeners_stack = QStackedWidget()
        self.details = DetailsPane()
        for view in (self.listener_view, self.listener_tree):
            self.listeners_stack.addWidget(view)
            view.selectionModel().selectionChanged.connect(self._selection_changed)
            # Enter on a row moves the keyboard to its details; Escape there comes back.
            add_details_action(view, self.open_details)
        self.details.leave_requested.connect(lambda: self.listeners_view.setFocus())  # noqa: PLW0108  # the view shown then
        self.group_action.toggled.connect(self._set_grouped)
        self.splitter = QSplitter(Qt.Orientation.Vertical)
        self.splitter.addWidget(self.listeners_stack)
        self.splitter.addWidget(self.details)
        self.splitter.setStretchFactor(0, 3)
        self.splitter.setStretchFactor(1, 2)
        self.splitter.setChildrenCollapsible(False)

        # connections tab
        self.connection_view = table_view(
            self.connection_proxy, CONNECTION_WIDTHS, ConnectionColumn.PROCESS
        )
        self.connection_view.setObjectName("connectionTable")
        self.connection_view.sortByColumn(ConnectionColumn.LOCAL_PORT, Qt.SortOrder.AscendingOrder)

        self.tabs = QTabWidget()
        self.tabs.setDocumentMode(True)
        self.tabs.addTab(self.splitter, LISTENERS_TAB)
        self.tabs.addTab(self.connection_view, CONNECTIONS_TAB)
        self.tabs.currentChanged.connect(self._tab_changed)

        self.notice = NoticeBar(NO_TRAY_TEXT)
        self.notice.hide()

        central = QWidget()
        layout = QVBoxLayout(central)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(0)
        layout.addWidget(self.notice)
        layout.addWidget(self.tabs, 1)
        self.setCentralWidget(central)

        # status bar
        self.scan_status = ScanStatus(self.statusBar())
        self.scan_label = self.scan_status.scan_label
        self.counts_label = self.scan_status.counts_label
        self.hint_label = self.scan_status.hint_label

        self.resize(1100, 680)
        self.restore_state()

    # --- extension points ------------------------------------------------------------

    def add_tab(self, widget: QWidget, title: str) -> int:
        """Add a tab after the built-in ones; returns its index."""
        return self.tabs.addTab(widget, title)

    @property
    def grouped(self) -> bool:
        """True while the listeners show grouped by app (the tree)."""
        return self.group_action.isChecked()

    @property
    def listeners_view(self) -> QAbstractItemView:
        """The view of the listeners on screen: the flat table or the tree."""
        return self.listener_tree if self.grouped else self.listener_view

    def selected_listeners(self) -> list[Listener]:
        if self.grouped:
            return self.listener_tree.selected_listeners()
        rows = self.listener_view.selectionModel().selectedRows()
        return [self.listener_proxy.listener_at(index) for index in rows]

    def show_port(self, port: int) -> None:
        """Bring the window up on the Listeners tab, searching for ``port``, its row selected."""
        self.tabs.setCurrentIndex(0)
        self.toolbar.set_search_now(str(port))
        self.bring_to_front()
        proxy = self.listener_tree.tree_proxy if self.grouped else self.listener_proxy
        toggles = self.toolbar.toggles()
        missing = select_port(self.listeners_view, proxy, port, self.snapshot, toggles)
        if missing is not None:
            self.statusBar().showMessage(missing, 10_000)

    def set_labels(self, labels: Labels) -> None:
        """Show the user's names (only the renamed rows' cells change)."""
        self.listener_model.set_labels(labels)
        self.listener_tree.set_labels(labels)
        self.details.set_labels(labels)

    def open_details(self) -> bool:
        """Show the current listener's details and move the keyboard there."""
        if self._current_listener() is None:
            return False
        self.tabs.setCurrentIndex(0)
        table, pane = self.splitter.sizes()
        total = table + pane
        if total > 0 and pane < total // 3:
            # Dragged nearly shut: give it back a readable share.
            self.splitter.setSizes([total - total * 2 // 5, total * 2 // 5])
        return self.details.focus_details()

    def _current_listener(self) -> Listener | None:
        """The current row's listener while that row is selected, in the view shown."""
        if self.grouped:
            return self.listener_tree.current_listener()
        current = self.listener_view.selectionModel().currentIndex()
        selected = self.listener_view.selectionModel().isRowSelected(current.row())
        return self.listener_proxy.listener_at(current) if current.isValid() and selected else None

    def bring_to_front(self) -> None:
        if self.isMinimized():
            self.showNormal()
        self.show()
        # Headless platforms (offscreen, minimal) cannot raise and say so in a warning.
        if QGuiApplication.platformName() not in HEADLESS_PLATFORMS:
            self.raise_()
            self.activateWindow()

    def show_no_tray_notice(self) -> None:
        self.notice.show()

    def set_paused(self, paused: bool) -> None:
        """Reflect the monitoring state (without emitting pause_toggled again)."""
        self.toolbar.set_paused(paused)
        self._update_scan_label()

    @property
    def connections_visible(self) -> bool:
        """True while the window shows something that needs connection owners."""
        return self.isVisible() and (
            self.tabs.currentWidget() is self.connection_view or self.details.listener is not None
        )

    # --- snapshots -------------------------------------------------------------------

    def apply_snapshot(self, snapshot: Snapshot) -> None:
        started = time.perf_counter()
        # While owners fill in at start, and in the scan that completes them,
        # rows change owner by the dozen: that is the table settling, not news.
        news = not (snapshot.warming_up or (self.snapshot is not None and self.snapshot.warming_up))
        self.snapshot = snapshot
        # The scanner's generation says "the very same rows": a quiet poll does no row work.
        generation = snapshot.listeners_generation or None
        self.listener_model.apply(snapshot.listeners, news=news, generation=generation)
        if self.grouped:  # hidden, the tree catches up when it is shown
            self.listener_tree.apply(snapshot.listeners, generation=generation)
        if self._connections_collected(snapshot):
            self.connection_model.apply(snapshot.connections, news=news)
        self._refresh_details()
        self._update_scan_label()
        self.scan_status.show_counts(snapshot)
        log.debug(
            "snapshot applied: %d listeners, %d connections in %.1f ms",
            len(snapshot.listeners),
            len(snapshot.connections),
            (time.perf_counter() - started) * 1000,
        )

    def _connections_collected(self, snapshot: Snapshot) -> bool:
        """Whether this scan listed connections (the scanner skips them while hidden)."""
        if snapshot.connections:
            return True
        if any(listener.connections for listener in snapshot.listeners):
            return False  # counted but not listed: owners were off for this scan
        return self.connections_visible

    def _update_scan_label(self) -> None:
        if self.snapshot is not None:
            self.scan_status.show_scan(self.snapshot, paused=self.toolbar.paused)

    # --- internals --------------------------------------------------------------------

    def apply_search(self) -> None:
        text = self.search.text()
        self.listener_proxy.set_search(text)
        self.listener_tree.set_search(text)
        self.connection_proxy.set_search(text)

    def _apply_toggles(self) -> None:
        toggles = self.toolbar.toggles()
        self.listener_proxy.set_toggles(
            tcp=toggles.tcp,
            udp=toggles.udp,
            hide_loopback=toggles.hide_loopback,
            only_public=toggles.only_public,
        )
        self.listener_tree.set_toggles(toggles)

    def _set_grouped(self, grouped: bool) -> None:
        if grouped and self.snapshot is not None:
            snapshot = self.snapshot
            self.listener_tree.apply(
                snapshot.listeners, generation=snapshot.listeners_generation or None
            )
        self.listeners_stack.setCurrentWidget(self.listeners_view)
        self._refresh_details()
        self.selection_changed.emit(self.selected_listeners())

    def _selection_changed(self, _selected: QItemSelection, _deselected: QItemSelection) -> None:
        self._refresh_details()
        self.selection_changed.emit(self.selected_listeners())
        self.connections_visible_changed.emit(self.connections_visible)

    def _refresh_details(self) -> None:
        listener = self._current_listener()
        connections: Sequence[Connection] = self.snapshot.connections if self.snapshot else ()
        known = bool(self.snapshot and self.snapshot.connections) or not (
            listener and listener.connections
        )
        self.details.show_listener(
            listener,
            connections,
            connections_known=known,
            listeners=self.snapshot.listeners if self.snapshot else (),
        )

    def _show_context_menu(self, position: QPoint) -> None:
        # In the tree a group's row stands for every port of it shown.
        view = self.listeners_view
        grouped = self.grouped
        listeners = (
            self.listener_tree.listeners_at(position) if grouped else self.selected_listeners()
        )
        if not listeners:
            return
        # The actions (free, open, copy, reveal, rename, export) add themselves here.
        menu = QMenu(self)
        self.context_menu_requested.emit(menu, listeners)
        menu.exec(view.viewport().mapToGlobal(position))

    def _tab_changed(self, index: int) -> None:
        self.toolbar.show_tab(self.tabs.tabText(index))
        self.connections_visible_changed.emit(self.connections_visible)

    # --- window state ------------------------------------------------------------------

    def save_state(self) -> None:
        settings = window_settings()
        settings.setValue("geometry", self.saveGeometry())
        settings.setValue("listeners/header", self.listener_view.horizontalHeader().saveState())
        settings.setValue("connections/header", self.connection_view.horizontalHeader().saveState())
        settings.setValue("listeners/tree_header", self.listener_tree.header().saveState())
        settings.setValue("listeners/grouped", self.grouped)
        settings.setValue("splitter", self.splitter.saveState())
        settings.setValue("tab", self.tabs.currentIndex())
        for key, action in self.toolbar.persisted_toggles().items():
            settings.setValue(f"filters/{key}", action.isChecked())
        settings.sync()
        tighten(Path(settings.fileName()))  # in case Qt wrote a new file after all

    def restore_state(self) -> None:
        settings = window_settings()
        geometry = settings.value("geometry")
        if isinstance(geometry, QByteArray) and not geometry.isEmpty():
            self.restoreGeometry(geometry)
        for key, view, header in (
            ("listeners/header", self.listener_view, self.listener_view.horizontalHeader()),
            ("connections/header", self.connection_view, self.connection_view.horizontalHeader()),
            ("listeners/tree_header", self.listener_tree, self.listener_tree.header()),
        ):
            state = settings.value(key)
            if isinstance(state, QByteArray) and not state.isEmpty():
                header.restoreState(state)
                # restoreState sets the indicator; make the proxy follow it.
                view.sortByColumn(header.sortIndicatorSection(), header.sortIndicatorOrder())
        self.group_action.setChecked(str(settings.value("listeners/grouped")).lower() == "true")
        splitter = settings.value("splitter")
        if isinstance(splitter, QByteArray) and not splitter.isEmpty():
            self.splitter.restoreState(splitter)
        for key, action in self.toolbar.persisted_toggles().items():
            value = settings.value(f"filters/{key}")
            if value is not None:
                action.setChecked(str(value).lower() == "true")
        self._apply_toggles()

    def showEvent(self, event: QShowEvent) -> None:
        super().showEvent(event)
        self.connections_visible_changed.emit(self.connections_visible)

    def closeEvent(self, event: QCloseEvent) -> None:
        self.save_state()
        if self.hide_on_close:
            event.ignore()
            self.hide()
            self.connections_visible_changed.emit(False)
            return
        event.accept()
        self.closed.emit()
