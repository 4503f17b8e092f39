"""The listener and connection table views: their look, and the columns' starting widths."""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QAbstractItemModel, Qt
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QAbstractItemView, QHeaderView, QTableView

from portwatch.ui.tables.connections import ConnectionColumn
from portwatch.ui.tables.listeners import ListenerColumn

# Starting widths (px) before the user's own are restored.
LISTENER_WIDTHS = {
    ListenerColumn.PROTO: 56,
    ListenerColumn.ADDRESS: 170,
    ListenerColumn.PORT: 64,
    ListenerColumn.SERVICE: 120,
    ListenerColumn.EXPOSURE: 100,
    ListenerColumn.PROCESS: 230,
    ListenerColumn.PID: 72,
    ListenerColumn.USER: 100,
    ListenerColumn.CONNECTIONS: 64,
    ListenerColumn.REMOTE: 72,
}
CONNECTION_WIDTHS = {
    ConnectionColumn.PROTO: 58,
    ConnectionColumn.LOCAL: 170,
    ConnectionColumn.LOCAL_PORT: 84,
    ConnectionColumn.REMOTE: 170,
    ConnectionColumn.REMOTE_PORT: 96,
    ConnectionColumn.STATE: 110,
    ConnectionColumn.PROCESS: 150,
    ConnectionColumn.PID: 72,
    ConnectionColumn.USER: 100,
}


def table_view(
    model: QAbstractItemModel, widths: dict[int, int], stretch_column: int
) -> QTableView:
    """A sortable, row-selecting table over ``model``; ``stretch_column`` takes the spare room."""
    view = QTableView()
    view.setModel(model)
    view.setSortingEnabled(True)
    view.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
    view.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
    view.setAlternatingRowColors(True)
    view.setShowGrid(False)
    view.setWordWrap(False)
    view.setTextElideMode(Qt.TextElideMode.ElideRight)
    view.verticalHeader().hide()
    view.verticalHeader().setDefaultSectionSize(view.fontMetrics().height() + 8)
    view.setHorizontalScrollMode(QAbstractItemView.ScrollMode.ScrollPerPixel)
    header = view.horizontalHeader()
    header.setStretchLastSection(False)
    header.setSectionsMovable(True)
    header.setHighlightSections(False)
    header.setDefaultAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter)
    header.setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
    for column, width in widths.items():
        view.setColumnWidth(column, width)
    # The process column takes the room the window gives beyond the others.
    header.setSectionResizeMode(stretch_column, QHeaderView.ResizeMode.Stretch)
    return view


def add_details_action(view: QAbstractItemView, open_details: Callable[[], object]) -> None:
    """Enter (or a double click) on a row of ``view`` opens its details."""
    action = QAction("Details", view)
    action.setShortcuts([QKeySequence(Qt.Key.Key_Return), QKeySequence(Qt.Key.Key_Enter)])
    action.setShortcutContext(Qt.ShortcutContext.WidgetShortcut)
    action.triggered.connect(open_details)
    view.addAction(action)
    view.doubleClicked.connect(lambda _index: open_details())
