"""The sorting proxy: a table's rows in sorted order, sorted in Python on cached values."""

from __future__ import annotations

import bisect
from collections.abc import Iterable, Sequence
from typing import Any

from PySide6.QtCore import QAbstractItemModel, QAbstractProxyModel, QModelIndex, QObject, Qt

from portwatch.ui.tables.cells import DISPLAY, AnyIndex
from portwatch.ui.tables.incremental import IncrementalTableModel
from portwatch.ui.tables.placement import removal_remap, sorted_place
from portwatch.ui.tables.runs import contiguous_runs


class SortProxy(QAbstractProxyModel):
    """The table's rows in sorted order, sorted in Python on cached values.

    Qt's QSortFilterProxyModel calls a Python ``lessThan`` for every
    comparison (~140,000 for a click on a header at 10,000 rows). This proxy
    keeps its own order instead: ``sort`` is one ``sorted()`` over the
    table's cached sort values with their tie-breakers
    (``RowTableModel.order_values``); a new row is placed by binary search; a
    row whose sort value moved is taken out and put back. A descending sort is
    the ascending one reversed, tie-breakers included (the listener table:
    equal addresses by port, 443 before 80). Rows equal on both go by the
    table's row number (their order of arrival), ascending in both orders, as
    a stable sort leaves them.

    It sits under the search filter (``SearchProxy``), so it always holds
    every row in order: a change of search or toggles only hides or shows
    rows of this order.

    The table appends rows and removes them in runs from the last to the
    first; the row numbers of a removal are applied to this proxy's mapping
    once, when it is next read (``_renumber``), not once per run.
    """

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._table: IncrementalTableModel[Any, Any] | None = None
        self._column = -1
        self._order = Qt.SortOrder.AscendingOrder
        # The table row of each of this proxy's rows, and (sorted) its order key.
        self._rows: list[int] = []
        self._keys: list[Any] = []
        # This proxy's row of each table row; None: to be worked out again.
        self._positions: list[int] | None = None
        # Table rows removed since the mapping was last renumbered (first, last).
        self._removed: list[tuple[int, int]] = []
        # While those removals come in: each table row's position before the
        # first of them, and (sorted) the positions they took out since.
        self._removal_places: tuple[list[int], list[int]] | None = None
        self._connections: list[tuple[Any, Any]] = []

    # --- the source ------------------------------------------------------------------

    def setSourceModel(self, source_model: QAbstractItemModel) -> None:
        if not isinstance(source_model, IncrementalTableModel):
            raise TypeError("SortProxy sorts an IncrementalTableModel")
        self.beginResetModel()
        for signal, slot in self._connections:
            signal.disconnect(slot)
        self._connections = []
        super().setSourceModel(source_model)
        self._table = source_model
        self._connections = [
            (source_model.rowsInserted, self._source_rows_inserted),
            (source_model.rowsAboutToBeRemoved, self._source_rows_about_to_be_removed),
            (source_model.dataChanged, self._source_data_changed),
            (source_model.modelAboutToBeReset, self._source_about_to_reset),
            (source_model.modelReset, self._source_reset),
            # The table never moves rows or changes its layout; if a source
            # did, this proxy would start again.
            (source_model.layoutAboutToBeChanged, self._source_about_to_reset),
            (source_model.layoutChanged, self._source_reset),
        ]
        for signal, slot in self._connections:
            signal.connect(slot)
        self._rebuild()
        self.endResetModel()

    def _source_about_to_reset(self, *_args: object) -> None:
        self.beginResetModel()

    def _source_reset(self, *_args: object) -> None:
        self._rebuild()
        self.endResetModel()

    def _rebuild(self) -> None:
        """The mapping from scratch: the table's rows, sorted if a column is."""
        count = self._table.rowCount() if self._table is not None else 0
        self._removed = []
        self._removal_places = None
        self._rows, self._keys = self._sorted(count)
        self._positions = None

    def _sorted(self, count: int) -> tuple[list[int], list[Any]]:
        if self._table is None or not 0 <= self._column < self._table.columnCount():
            return list(range(count)), []
        values = self._table.order_values(self._column)
        descending = self._order == Qt.SortOrder.DescendingOrder
        # sorted() is stable with reverse=True too: ties keep the table's order.
        rows = sorted(range(count), key=values.__getitem__, reverse=descending)
        return rows, list(map(values.__getitem__, rows))

    # --- sorting ---------------------------------------------------------------------

    def sort(self, column: int, order: Qt.SortOrder = Qt.SortOrder.AscendingOrder) -> None:
        self._renumber()
        self._column, self._order = column, order
        rows, keys = self._sorted(len(self._rows))
        if rows == self._rows:
            self._keys = keys
            return
        self._change_layout(rows, keys)

    def _change_layout(self, rows: list[int], keys: list[Any]) -> None:
        """Take on a new order; persistent indexes (the selection) follow their rows."""
        self.layoutAboutToBeChanged.emit()
        kept = self.persistentIndexList()
        kept_rows = [self._rows[index.row()] for index in kept]
        # In place: a caller may hold the list while Qt's signals call back here.
        self._rows[:], self._keys, self._positions = rows, keys, None
        positions = self._source_positions()
        self.changePersistentIndexList(
            kept,
            [
                self.createIndex(positions[row], index.column())
                for row, index in zip(kept_rows, kept, strict=True)
            ],
        )
        self.layoutChanged.emit()

    def sortColumn(self) -> int:
        return self._column

    def sortOrder(self) -> Qt.SortOrder:
        return self._order

    def _sorted_by_column(self) -> bool:
        return self._table is not None and 0 <= self._column < self._table.columnCount()

    # --- keeping up with the table ------------------------------------------------------

    def _renumber(self) -> None:
        """Apply the removals since the last call to the table rows kept here.

        Runs removed from the last to the first did not renumber each other,
        so every row number here is still the one the table had before them.
        """
        removed = self._removed
        if not removed:
            return
        self._removed = []
        self._removal_places = None
        table = self._table
        remap = removal_remap(removed, table.rowCount() if table is not None else 0)
        # In place: a caller may hold the list while Qt's signals call back here.
        self._rows[:] = map(remap.__getitem__, self._rows)
        self._positions = None

    def _source_positions(self) -> list[int]:
        """This proxy's row of each table row."""
        self._renumber()
        positions = self._positions
        if positions is None:
            positions = [0] * len(self._rows)
            for position, row in enumerate(self._rows):
                positions[row] = position
            self._positions = positions
        return positions

    def _source_rows_inserted(self, _parent: QModelIndex, first: int, last: int) -> None:
        self._renumber()
        count = last - first + 1
        if first < len(self._rows):  # not appended (the table always appends)
            self._rows = [row + count if row >= first else row for row in self._rows]
        new_rows = range(first, last + 1)
        table = self._table
        if not self._sorted_by_column() or table is None:
            self.beginInsertRows(QModelIndex(), first, last)
            self._rows[first:first] = new_rows
            self._positions = None
            self.endInsertRows()
            return
        column = self._column
        values = {row: table.order_key(row, column) for row in new_rows}
        descending = self._order == Qt.SortOrder.DescendingOrder
        ordered = sorted(new_rows, key=values.__getitem__, reverse=descending)
        # Each new row's place among the old rows; rows with the same place
        # go in together, in their sorted order.
        runs: list[tuple[int, list[int]]] = []
        for row in ordered:
            place = sorted_place(self._keys, self._rows, values[row], row, descending)
            if runs and runs[-1][0] == place:
                runs[-1][1].append(row)
            else:
                runs.append((place, [row]))
        inserted = 0
        for place, rows in runs:
            start = place + inserted
            self.beginInsertRows(QModelIndex(), start, start + len(rows) - 1)
            self._rows[start:start] = rows
            self._keys[start:start] = [values[row] for row in rows]
            self._positions = None
            self.endInsertRows()
            inserted += len(rows)

    def _source_rows_about_to_be_removed(self, _parent: QModelIndex, first: int, last: int) -> None:
        if any(earlier <= last for earlier, _ in self._removed):
            self._renumber()  # not removed from the last run to the first
        if self._removal_places is None:
            # The first run of a tick's removals: positions as they are now.
            self._removal_places = (self._source_positions(), [])
        positions, taken = self._removal_places
        # Where a row is now: where it was, less the rows taken out above it.
        was = sorted(positions[row] for row in range(first, last + 1))
        places = [place - bisect.bisect_left(taken, place) for place in was]
        rows = self._rows
        for top, bottom in reversed(contiguous_runs(places)):
            self.beginRemoveRows(QModelIndex(), top, bottom)
            del rows[top : bottom + 1]
            if self._keys:
                del self._keys[top : bottom + 1]
            self.endRemoveRows()
        for place in was:
            bisect.insort(taken, place)
        self._removed.append((first, last))
        self._positions = None

    def _source_data_changed(
        self, top_left: QModelIndex, bottom_right: QModelIndex, roles: Sequence[int] = ()
    ) -> None:
        table = self._table
        if table is None or not top_left.isValid() or not bottom_right.isValid():
            return
        left, right = top_left.column(), bottom_right.column()
        changed_rows = range(top_left.row(), bottom_right.row() + 1)
        if self._sorted_by_column() and left <= self._column <= right:
            self._move_resorted(table, changed_rows)
        positions = self._source_positions()
        for top, bottom in contiguous_runs(positions[row] for row in changed_rows):
            self.dataChanged.emit(
                self.createIndex(top, left), self.createIndex(bottom, right), list(roles)
            )

    def _move_resorted(
        self, table: IncrementalTableModel[Any, Any], changed_rows: Iterable[int]
    ) -> None:
        """Rows whose sort value changed are taken out and placed again; if
        that moved any row, the new order comes in one layout change."""
        positions = self._source_positions()
        keys, column = self._keys, self._column
        moved: dict[int, Any] = {}
        for row in changed_rows:
            value = table.order_key(row, column)
            if value != keys[positions[row]]:
                moved[row] = value
        if not moved:
            return
        descending = self._order == Qt.SortOrder.DescendingOrder
        rows, keys = list(self._rows), list(keys)
        for position in sorted((positions[row] for row in moved), reverse=True):
            del rows[position]
            del keys[position]
        for row in sorted(moved, key=moved.__getitem__, reverse=descending):
            place = sorted_place(keys, rows, moved[row], row, descending)
            rows.insert(place, row)
            keys.insert(place, moved[row])
        if rows == self._rows:  # every row still fits where it was
            self._keys = keys
            return
        self._change_layout(rows, keys)

    # --- Qt model interface --------------------------------------------------------------

    def index(self, row: int, column: int, parent: AnyIndex | None = None) -> QModelIndex:
        if (
            0 <= row < len(self._rows)
            and 0 <= column < self.columnCount()
            and (parent is None or not parent.isValid())
        ):
            return self.createIndex(row, column)
        return QModelIndex()

    def parent(self, child: AnyIndex | None = None) -> Any:
        if child is None:
            return QObject.parent(self)  # the QObject's parent, asked with no argument
        return QModelIndex()

    def sibling(self, row: int, column: int, _index: AnyIndex) -> QModelIndex:
        return self.index(row, column)

    def rowCount(self, parent: AnyIndex | None = None) -> int:
        if parent is not None and parent.isValid():
            return 0
        return len(self._rows)

    def columnCount(self, parent: AnyIndex | None = None) -> int:
        if self._table is None or (parent is not None and parent.isValid()):
            return 0
        return self._table.columnCount()

    def hasChildren(self, parent: AnyIndex | None = None) -> bool:
        return (parent is None or not parent.isValid()) and bool(self._rows)

    def mapToSource(self, proxy_index: AnyIndex) -> QModelIndex:
        table = self._table
        if table is None or not proxy_index.isValid():
            return QModelIndex()
        return table.index(self.source_row(proxy_index.row()), proxy_index.column())

    def mapFromSource(self, source_index: AnyIndex) -> QModelIndex:
        if not source_index.isValid():
            return QModelIndex()
        row = source_index.row()
        positions = self._source_positions()
        if not 0 <= row < len(positions):
            return QModelIndex()
        return self.createIndex(positions[row], source_index.column())

    def source_row(self, row: int) -> int:
        """The table's row number of this proxy's ``row``."""
        self._renumber()
        return self._rows[row]

    def source_rows(self) -> list[int]:
        """The table's row numbers in this proxy's order (a copy)."""
        self._renumber()
        return list(self._rows)

    def data(self, index: AnyIndex, role: int = DISPLAY) -> Any:
        table = self._table
        row = index.row()
        if table is None or not 0 <= row < len(self._rows):
            return None
        self._renumber()
        return table.cell_data(self._rows[row], index.column(), role)

    def flags(self, index: AnyIndex) -> Qt.ItemFlag:
        if self._table is None:
            return Qt.ItemFlag.NoItemFlags
        return self._table.flags(self.mapToSource(index))

    def headerData(self, section: int, orientation: Qt.Orientation, role: int = DISPLAY) -> Any:
        # Columns are the table's own; row headers carry nothing here.
        if self._table is None:
            return None
        return self._table.headerData(section, orientation, role)
