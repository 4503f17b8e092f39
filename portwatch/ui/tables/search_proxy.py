"""The search filter over the sorting proxy: only rows matching the search box's words."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Generic

from PySide6.QtCore import (
    QAbstractItemModel,
    QModelIndex,
    QObject,
    QPersistentModelIndex,
    QSortFilterProxyModel,
    Qt,
)

from portwatch.ui.tables.incremental import IncrementalTableModel
from portwatch.ui.tables.rows import T
from portwatch.ui.tables.search_terms import SearchTerms, is_port_or_pid, terms_match
from portwatch.ui.tables.sort_proxy import SortProxy


class SearchProxy(QSortFilterProxyModel, Generic[T]):
    """Filters on the search box's words, over a ``SortProxy`` that sorts.

    Every word must match (AND). A word of digits matches a port or PID
    exactly (so "80" does not also bring 8080); other words match any text of
    the row, and a service name ("postgres") also matches its port numbers.

    ``setSourceModel`` puts the table under ``sorter`` and this proxy over
    it; ``sort`` is forwarded to ``sorter``, and this proxy keeps the
    sorter's order (its own sort column stays -1). So rows a filter change
    brings back are placed without a comparison.

    Qt calls ``filterAcceptsRow`` once per row, a call into Python, so it
    stays small: a change of search works out every row's verdict first, in
    one Python pass (only the rows still shown when the search narrows). If
    no verdict changes, Qt is not asked to re-filter at all; otherwise its
    pass reads the verdicts. Qt numbers rows in the sorter's order, the
    verdicts go by the table's: the sorter says which table row each of its
    rows is (``SortProxy.source_row``, ``source_rows``), without an index
    made through Qt (that would cost more than the filter).

    Qt's dynamic filtering is off here: the sorter reports a change of a few
    scattered rows as one span from the first to the last, and Qt would
    re-filter every row of it. The table's own dataChanged names the rows.
    """

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.setDynamicSortFilter(False)  # see _table_data_changed
        self.sorter = SortProxy(self)
        self._table: IncrementalTableModel[Any, T] | None = None
        self._terms = SearchTerms()
        # None keeps every item; a subclass's toolbar toggles set one.
        self._item_filter: Callable[[T], bool] | None = None
        self._accepts_all = True
        # Verdicts in the sorter's row order during a filter change (else None).
        self._verdicts: list[bool] | None = None
        # The verdicts of the last change, and the table revision they hold for.
        self._known_verdicts: list[bool] = []
        self._known_revision = -1

    @property
    def search(self) -> str:
        return self._terms.text

    def set_search(self, text: str) -> None:
        if " ".join(text.lower().split()) == self._terms.text:
            return  # the same words: nothing to re-filter
        terms = SearchTerms.parse(text)
        self._change_filter(terms, self._item_filter, narrowing=terms.narrows(self._terms))

    def _set_item_filter(self, item_filter: Callable[[T], bool] | None) -> None:
        """For subclasses: keep only the items ``item_filter`` accepts (None: all)."""
        self._change_filter(self._terms, item_filter, narrowing=False)

    def _change_filter(
        self,
        terms: SearchTerms,
        item_filter: Callable[[T], bool] | None,
        *,
        narrowing: bool,
        refilter: bool = False,
    ) -> None:
        """Filter by ``terms`` and ``item_filter``; Qt re-filters only if a
        verdict changes (or ``refilter``: shown rows no longer match theirs)."""
        table = self._table
        before: list[bool] | None = None
        after: list[bool] | None = None
        if table is not None:
            items, haystacks = table.items_and_haystacks()
            before = self._current_verdicts(table, items, haystacks)
            # Narrowing: rows hidden now stay hidden, only the shown ones are checked.
            shown = before if narrowing else None
            after = self._verdicts_for(items, haystacks, terms, item_filter, shown)
        if after is None or refilter or after != before:
            self.beginFilterChange()
            self._set_filter(terms, item_filter)
            if table is not None and after is not None:
                self._verdicts = [after[row] for row in self.sorter.source_rows()]
            try:
                self.endFilterChange(QSortFilterProxyModel.Direction.Rows)
            finally:
                self._verdicts = None
        else:
            self._set_filter(terms, item_filter)  # every row keeps its verdict
        if table is not None and after is not None:
            self._known_verdicts, self._known_revision = after, table.revision

    def _set_filter(self, terms: SearchTerms, item_filter: Callable[[T], bool] | None) -> None:
        self._terms, self._item_filter = terms, item_filter
        self._accepts_all = item_filter is None and not terms.words and not terms.numbers

    def _current_verdicts(
        self, table: IncrementalTableModel[Any, T], items: list[T], haystacks: list[str]
    ) -> list[bool]:
        if self._known_revision == table.revision and len(self._known_verdicts) == len(items):
            return self._known_verdicts
        return self._verdicts_for(items, haystacks, self._terms, self._item_filter, None)

    def _verdicts_for(
        self,
        items: list[T],
        haystacks: list[str],
        terms: SearchTerms,
        item_filter: Callable[[T], bool] | None,
        shown: list[bool] | None,
    ) -> list[bool]:
        """Every row's verdict, one condition at a time over all rows.

        The same test as ``_accepts``, turned inside out: a list comprehension
        per word costs a substring search per row, not a method call. With
        ``shown``, rows it hides stay hidden without being checked.
        """
        keep = [True] * len(items) if shown is None else shown
        if item_filter is not None:
            keep = [k and item_filter(item) for k, item in zip(keep, items, strict=True)]
        ports_and_pid = self.ports_and_pid
        for number in terms.numbers:
            keep = [
                k and is_port_or_pid(number, ports_and_pid(item))
                for k, item in zip(keep, items, strict=True)
            ]
        for word, service_ports in terms.words:
            if service_ports:
                keep = [
                    k and (word in haystack or not service_ports.isdisjoint(ports_and_pid(item)[0]))
                    for k, item, haystack in zip(keep, items, haystacks, strict=True)
                ]
            else:
                keep = [k and word in haystack for k, haystack in zip(keep, haystacks, strict=True)]
        return keep

    def setSourceModel(self, source_model: QAbstractItemModel) -> None:
        """The table: it goes under ``sorter``, and this proxy over that."""
        if self._table is not None:
            self._table.dataChanged.disconnect(self._table_data_changed)
        self._table = source_model if isinstance(source_model, IncrementalTableModel) else None
        self._known_verdicts, self._known_revision = [], -1
        self.sorter.setSourceModel(source_model)
        if self._table is not None:
            # After the sorter's own handler: the sorter has placed the rows.
            self._table.dataChanged.connect(self._table_data_changed)
        super().setSourceModel(self.sorter)

    def _table_data_changed(
        self, top_left: QModelIndex, bottom_right: QModelIndex, _roles: object = ()
    ) -> None:
        """What Qt's dynamic filter would do, for the changed rows only: if one
        is shown and should not be, or the other way round, re-filter."""
        table = self._table
        if self._accepts_all or table is None:
            return
        sorter = self.sorter
        for row in range(top_left.row(), bottom_right.row() + 1):
            accepted = self._accepts(
                table.item_at(row), table.haystack_at(row), self._terms, self._item_filter
            )
            shown = self.mapFromSource(sorter.mapFromSource(table.index(row, 0))).isValid()
            if accepted != shown:
                self._change_filter(self._terms, self._item_filter, narrowing=False, refilter=True)
                return

    def sort(self, column: int, order: Qt.SortOrder = Qt.SortOrder.AscendingOrder) -> None:
        # The view's header calls this: the sorter sorts, this proxy keeps its order.
        self.sorter.sort(column, order)

    def sortColumn(self) -> int:
        return self.sorter.sortColumn()

    def sortOrder(self) -> Qt.SortOrder:
        return self.sorter.sortOrder()

    def table_row(self, index: QModelIndex | QPersistentModelIndex) -> int:
        """The table's row number for an index of this proxy (-1 if none)."""
        row = self.mapToSource(index).row()
        return -1 if row < 0 else self.sorter.source_row(row)

    def source_table(self) -> IncrementalTableModel[Any, T]:
        assert self._table is not None
        return self._table

    def filterAcceptsRow(
        self,
        source_row: int,
        source_parent: QModelIndex | QPersistentModelIndex,  # noqa: ARG002  # a flat table
    ) -> bool:
        if self._accepts_all:  # no words, no toggles (during a change too: all True)
            return True
        verdicts = self._verdicts
        if verdicts is not None:  # a filter change under way: worked out already
            return source_row < len(verdicts) and verdicts[source_row]
        table = self._table
        if table is None:
            return False
        # source_row is the sorter's row; the item is the table's.
        if not 0 <= source_row < self.sorter.rowCount():
            return False
        row = self.sorter.source_row(source_row)
        return self._accepts(
            table.item_at(row), table.haystack_at(row), self._terms, self._item_filter
        )

    def _accepts(
        self,
        item: T,
        haystack: str,
        terms: SearchTerms,
        item_filter: Callable[[T], bool] | None,
    ) -> bool:
        if item_filter is not None and not item_filter(item):
            return False
        if not terms.numbers and not terms.words:
            return True
        return terms_match(terms, haystack, self.ports_and_pid(item))

    def ports_and_pid(self, item: T) -> tuple[tuple[int, ...], int | None]:
        raise NotImplementedError
