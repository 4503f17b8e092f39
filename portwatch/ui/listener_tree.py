"""The "Group by app" view: a tree of apps and projects over their ports.

``ListenerTree`` is the view with its model (``tables.app_tree``) and its
sort and filter (``tables.app_tree_filter``). The main window shows it in
place of the flat table and reads the selection from it the same way
(``selected_listeners``, ``current_listener``); a right click on a group
acts on all of the group's shown ports (``listeners_at``).
"""

from __future__ import annotations

from collections.abc import Iterable

from PySide6.QtCore import QModelIndex, QPersistentModelIndex, QPoint, Qt
from PySide6.QtWidgets import QAbstractItemView, QHeaderView, QTreeView, QWidget

from portwatch.core.model import Listener
from portwatch.core.naming import Labels
from portwatch.ui.tables.app_tree import AppTreeModel, Haystack
from portwatch.ui.tables.app_tree_cells import AppTreeColumn
from portwatch.ui.tables.app_tree_filter import AppTreeProxy
from portwatch.ui.tables.filters import ListenerToggles
from portwatch.ui.widgets import ExposureBadgeDelegate

# Starting widths (px) before the user's own are restored.
TREE_WIDTHS = {
    AppTreeColumn.NAME: 220,
    AppTreeColumn.SUMMARY: 260,
    AppTreeColumn.PROTO: 56,
    AppTreeColumn.ADDRESS: 170,
    AppTreeColumn.EXPOSURE: 100,
    AppTreeColumn.CONNECTIONS: 64,
}


class ListenerTree(QTreeView):
    def __init__(self, haystack: Haystack, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("listenerTree")
        self.tree_model = AppTreeModel(haystack, self)
        self.tree_proxy = AppTreeProxy(self)
        self.tree_proxy.setSourceModel(self.tree_model)
        self.setModel(self.tree_proxy)
        self.setSortingEnabled(True)
        self.sortByColumn(AppTreeColumn.NAME, Qt.SortOrder.AscendingOrder)
        self.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.setAlternatingRowColors(True)
        self.setUniformRowHeights(True)
        self.setWordWrap(False)
        self.setTextElideMode(Qt.TextElideMode.ElideRight)
        self.setItemDelegateForColumn(AppTreeColumn.EXPOSURE, ExposureBadgeDelegate(self))
        self.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        header = self.header()
        header.setStretchLastSection(False)
        header.setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        for column, width in TREE_WIDTHS.items():
            self.setColumnWidth(column, width)
        header.setSectionResizeMode(AppTreeColumn.SUMMARY, QHeaderView.ResizeMode.Stretch)
        # Groups open as they come (and as a filter brings them back).
        self.tree_proxy.rowsInserted.connect(self._expand_new)

    # --- fed by the window -------------------------------------------------------

    def apply(self, listeners: Iterable[Listener], *, generation: int | None = None) -> None:
        self.tree_model.apply(listeners, generation=generation)

    def set_labels(self, labels: Labels) -> None:
        self.tree_model.set_labels(labels)

    def set_search(self, text: str) -> None:
        self.tree_proxy.set_search(text)

    def set_toggles(self, toggles: ListenerToggles) -> None:
        self.tree_proxy.set_toggles(toggles)

    def _expand_new(self, parent: QModelIndex, first: int, last: int) -> None:
        if parent.isValid():
            return
        for row in range(first, last + 1):
            self.expand(self.tree_proxy.index(row, 0))

    # --- read by the window ------------------------------------------------------

    def selected_listeners(self) -> list[Listener]:
        """The selected ports (a selected group row adds none: pick its ports)."""
        found = (self.tree_proxy.listener_at(index) for index in self._selected_rows())
        return [item for item in found if item is not None]

    def current_listener(self) -> Listener | None:
        """The current row's listener while that row is selected (None on a group)."""
        current = self.selectionModel().currentIndex()
        if not current.isValid() or not self.selectionModel().isSelected(current):
            return None
        return self.tree_proxy.listener_at(current)

    def listeners_at(self, position: QPoint) -> list[Listener]:
        """What a right click at ``position`` acts on: a group's shown ports, or the selection."""
        index = self.indexAt(position)
        if not index.isValid():
            return []
        if self.tree_proxy.listener_at(index) is not None:
            return self.selected_listeners()
        name = index.siblingAtColumn(0)
        shown = (
            self.tree_proxy.listener_at(self.tree_proxy.index(row, 0, name))
            for row in range(self.tree_proxy.rowCount(name))
        )
        return [item for item in shown if item is not None]

    def _selected_rows(self) -> list[QModelIndex | QPersistentModelIndex]:
        return list(self.selectionModel().selectedRows(0))


__all__ = ["TREE_WIDTHS", "ListenerTree"]
