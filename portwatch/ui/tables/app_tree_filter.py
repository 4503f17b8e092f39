"""The tree's sort and filter: the search box's words and the toolbar toggles, as the table's.

A port is shown when it passes the toggles and matches every word of the
search (its own text or its group's name: "shop" finds every port of the
shop-frontend project); a group is shown while one of its ports is. Groups
sort by the column clicked, and the ports within each group too.
"""

from __future__ import annotations

from PySide6.QtCore import (
    QAbstractItemModel,
    QModelIndex,
    QObject,
    QPersistentModelIndex,
    QSortFilterProxyModel,
)

from portwatch.core.model import Listener
from portwatch.ui.tables.app_tree import AppTreeModel
from portwatch.ui.tables.cells import SORT_ROLE
from portwatch.ui.tables.filters import ListenerToggles
from portwatch.ui.tables.search_terms import SearchTerms, terms_match


class AppTreeProxy(QSortFilterProxyModel):
    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.setSortRole(SORT_ROLE)
        self.setRecursiveFilteringEnabled(True)  # a group shows while a port of it does
        self.setDynamicSortFilter(True)
        self._terms = SearchTerms()
        self._toggles = ListenerToggles()
        self._tree: AppTreeModel | None = None

    def setSourceModel(self, source_model: QAbstractItemModel) -> None:
        if not isinstance(source_model, AppTreeModel):
            raise TypeError("AppTreeProxy filters an AppTreeModel")
        self._tree = source_model
        super().setSourceModel(source_model)

    @property
    def search(self) -> str:
        return self._terms.text

    def set_search(self, text: str) -> None:
        terms = SearchTerms.parse(text)
        if terms == self._terms:
            return
        self.beginFilterChange()
        self._terms = terms
        self.endFilterChange(QSortFilterProxyModel.Direction.Rows)

    def set_toggles(self, toggles: ListenerToggles) -> None:
        if toggles == self._toggles:
            return
        self.beginFilterChange()
        self._toggles = toggles
        self.endFilterChange(QSortFilterProxyModel.Direction.Rows)

    @property
    def _accepts_all(self) -> bool:
        return self._toggles == ListenerToggles() and not self._terms.text

    def listener_at(self, index: QModelIndex | QPersistentModelIndex) -> Listener | None:
        """The listener of a port row of this proxy (None for a group row)."""
        if self._tree is None:
            return None
        return self._tree.listener_at(self.mapToSource(index))

    def filterAcceptsRow(
        self, source_row: int, source_parent: QModelIndex | QPersistentModelIndex
    ) -> bool:
        tree = self._tree
        if tree is None:
            return False
        if not source_parent.isValid():
            # A group: shown for its own sake only when nothing is filtered;
            # else it follows its ports (recursive filtering asks them).
            return self._accepts_all
        index = tree.index(source_row, 0, source_parent)
        item = tree.listener_at(index)
        if item is None:
            return False
        if not self._toggles.accepts(item):
            return False
        if not self._terms.text:
            return True
        return terms_match(self._terms, tree.haystack_at(index), ((item.port,), item.pid))


__all__ = ["AppTreeProxy"]
