"""An incremental table model: rows keyed by a stable key, updated by diffing.

Every poll brings a fresh tuple of immutable items. ``apply()`` compares it
with what the table shows and emits only ``rowsInserted`` (new keys, appended
in one batch), ``dataChanged`` (changed cells, in contiguous runs) and later
``rowsRemoved`` (vanished rows, after they lingered). It never resets, so the
view keeps its selection, sort order and scroll position.

Highlights: a new row is marked NEW for ``highlight_seconds``; a vanished row
stays marked GONE for ``linger_seconds`` before it is removed; changed cells
flash for ``highlight_seconds``. One QTimer in the model expires them, and only
runs while something is highlighted.

Cost per poll is one pass over the items (dict lookups and an equality test per
item) plus work proportional to the rows that changed: a key -> row index makes
every lookup O(1); the expiry tick visits only highlighted rows, and a
removal renumbers the rows after it once per tick.
"""

from __future__ import annotations

import enum
import time
from collections.abc import Callable, Hashable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar, Generic, TypeVar

from PySide6.QtCore import (
    QAbstractTableModel,
    QModelIndex,
    QObject,
    QPersistentModelIndex,
    Qt,
    QTimer,
    Signal,
)
from PySide6.QtGui import QBrush, QColor

K = TypeVar("K", bound=Hashable)
T = TypeVar("T")

AnyIndex = QModelIndex | QPersistentModelIndex

# Roles beyond Qt's own. SORT_ROLE gives raw values Qt compares natively
# (ints, and strings built to sort in numeric order); ITEM_ROLE the item itself.
SORT_ROLE = int(Qt.ItemDataRole.UserRole) + 1
ITEM_ROLE = int(Qt.ItemDataRole.UserRole) + 2
ROW_STATE_ROLE = int(Qt.ItemDataRole.UserRole) + 3

NEW_BACKGROUND = QColor(46, 157, 91, 70)
GONE_BACKGROUND = QColor(200, 60, 60, 45)
GONE_FOREGROUND = QColor(130, 130, 130)
FLASH_BACKGROUND = QColor(240, 180, 40, 90)


class RowState(enum.Enum):
    CURRENT = "current"
    NEW = "new"
    GONE = "gone"


@dataclass(slots=True)
class _Row(Generic[K, T]):
    key: K
    item: T
    state: RowState
    # monotonic deadline of the NEW / GONE state (0 = none)
    until: float = 0.0
    # column -> monotonic deadline of its flash
    flashes: dict[int, float] = field(default_factory=dict)
    haystack: str = ""


@dataclass(frozen=True, slots=True)
class Column(Generic[T]):
    """One column: its title, its text, its sort value, and how to align it."""

    title: str
    text: Callable[[T], str]
    sort: Callable[[T], Any]
    numeric: bool = False
    tooltip: str = ""


def _runs(rows: Iterable[int]) -> list[tuple[int, int]]:
    """Sorted row numbers grouped into contiguous (first, last) runs."""
    runs: list[tuple[int, int]] = []
    for row in sorted(rows):
        if runs and runs[-1][1] == row - 1:
            runs[-1] = (runs[-1][0], row)
        else:
            runs.append((row, row))
    return runs


class IncrementalTableModel(QAbstractTableModel, Generic[K, T]):
    """Subclasses set ``columns`` and implement ``key_of`` and ``haystack_of``."""

    columns: ClassVar[Sequence[Column[Any]]] = ()
    expired = Signal()  # after an expiry tick changed something (tests wait on it)

    def __init__(
        self,
        parent: QObject | None = None,
        *,
        highlight_seconds: float = 4.0,
        linger_seconds: float = 4.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        super().__init__(parent)
        self.highlight_seconds = highlight_seconds
        self.linger_seconds = linger_seconds
        self._clock = clock
        self._rows: list[_Row[K, T]] = []
        self._index: dict[K, int] = {}
        # keys of rows that are NEW, GONE or have flashing cells
        self._pending: set[K] = set()
        self._first_apply = True
        self._timer = QTimer(self)
        self._timer.setInterval(250)
        self._timer.timeout.connect(self.expire)

    # --- what subclasses define -------------------------------------------------

    def key_of(self, item: T) -> K:
        raise NotImplementedError

    def haystack_of(self, item: T) -> str:
        """Lower-case text the search box matches against."""
        raise NotImplementedError

    # --- Qt model interface --------------------------------------------------------

    def rowCount(self, parent: AnyIndex | None = None) -> int:
        if parent is not None and parent.isValid():
            return 0
        return len(self._rows)

    def columnCount(self, parent: AnyIndex | None = None) -> int:
        if parent is not None and parent.isValid():
            return 0
        return len(self.columns)

    def headerData(
        self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole
    ) -> Any:
        if orientation != Qt.Orientation.Horizontal or not 0 <= section < len(self.columns):
            return None
        column = self.columns[section]
        if role == Qt.ItemDataRole.DisplayRole:
            return column.title
        if role == Qt.ItemDataRole.ToolTipRole and column.tooltip:
            return column.tooltip
        if role == Qt.ItemDataRole.TextAlignmentRole:
            return _alignment(column.numeric)  # numbers' titles over their digits
        return None

    def data(self, index: AnyIndex, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid():
            return None
        row_number, col = index.row(), index.column()
        if not (0 <= row_number < len(self._rows) and 0 <= col < len(self.columns)):
            return None
        row = self._rows[row_number]
        column = self.columns[col]
        if role == Qt.ItemDataRole.DisplayRole:
            return column.text(row.item)
        if role == SORT_ROLE:
            return column.sort(row.item)
        if role == ITEM_ROLE:
            return row.item
        if role == ROW_STATE_ROLE:
            return row.state.value
        if role == Qt.ItemDataRole.TextAlignmentRole:
            return _alignment(column.numeric)
        if role == Qt.ItemDataRole.BackgroundRole:
            if row.state is RowState.GONE:
                return QBrush(GONE_BACKGROUND)
            if row.state is RowState.NEW:
                return QBrush(NEW_BACKGROUND)
            if col in row.flashes:
                return QBrush(FLASH_BACKGROUND)
            return None
        if role == Qt.ItemDataRole.ForegroundRole and row.state is RowState.GONE:
            return QBrush(GONE_FOREGROUND)
        if role == Qt.ItemDataRole.ToolTipRole:
            return self.tooltip(row.item, col, row.state)
        return None

    def flags(self, index: AnyIndex) -> Qt.ItemFlag:
        if not index.isValid():
            return Qt.ItemFlag.NoItemFlags
        return Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable

    def tooltip(self, item: T, column: int, state: RowState) -> str | None:
        if state is RowState.GONE:
            return "gone: no longer seen by the last scan"
        return None

    # --- access for proxies and views -----------------------------------------------

    def item_at(self, row: int) -> T:
        return self._rows[row].item

    def state_at(self, row: int) -> RowState:
        return self._rows[row].state

    def haystack_at(self, row: int) -> str:
        return self._rows[row].haystack

    def row_of(self, key: K) -> int | None:
        return self._index.get(key)

    def items(self) -> list[T]:
        """Items the last scan saw (rows lingering as GONE excluded)."""
        return [row.item for row in self._rows if row.state is not RowState.GONE]

    # --- updates -------------------------------------------------------------------

    def apply(self, items: Sequence[T]) -> None:
        """Bring the table to ``items``; emits only inserts and dataChanged."""
        now = self._clock()
        # The very first fill is not news: nothing is highlighted as new.
        new_until = 0.0 if self._first_apply else now + self.highlight_seconds
        self._first_apply = False
        key_of = self.key_of
        index = self._index
        rows = self._rows
        seen: set[K] = set()
        changed_rows: list[int] = []
        fresh: list[_Row[K, T]] = []
        last_column = len(self.columns) - 1

        pending = self._pending
        for item in items:
            key = key_of(item)
            if key in seen:
                continue  # duplicate key in one snapshot: keep the first
            seen.add(key)
            position = index.get(key)
            if position is None:
                state = RowState.NEW if new_until else RowState.CURRENT
                fresh.append(_Row(key, item, state, new_until, {}, self.haystack_of(item)))
                continue
            row = rows[position]
            if row.state is RowState.GONE:
                # It came back before it was removed.
                row.item, row.state, row.until = item, RowState.CURRENT, 0.0
                row.haystack = self.haystack_of(item)
                row.flashes.clear()
                pending.discard(key)
                changed_rows.append(position)
            elif row.item is not item and row.item != item:
                flash_until = now + self.highlight_seconds
                old = row.item
                for col, column in enumerate(self.columns):
                    if column.text(old) != column.text(item):
                        row.flashes[col] = flash_until
                if row.flashes:
                    pending.add(key)
                row.item = item
                row.haystack = self.haystack_of(item)
                changed_rows.append(position)

        # Rows not seen this time: a set difference, not a Python loop over all rows.
        if len(seen) - len(fresh) < len(rows):
            gone_until = now + self.linger_seconds
            for key in index.keys() - seen:
                position = index[key]
                row = rows[position]
                if row.state is not RowState.GONE:
                    row.state, row.until = RowState.GONE, gone_until
                    row.flashes.clear()
                    pending.add(key)
                    changed_rows.append(position)

        for first, last in _runs(changed_rows):
            self.dataChanged.emit(self.index(first, 0), self.index(last, last_column))

        if fresh:
            start = len(rows)
            self.beginInsertRows(QModelIndex(), start, start + len(fresh) - 1)
            rows.extend(fresh)
            for offset, row in enumerate(fresh):
                index[row.key] = start + offset
                if row.state is RowState.NEW:
                    pending.add(row.key)
            self.endInsertRows()

        self._arm_timer()

    def expire(self) -> None:
        """End highlights whose time is up and remove rows that lingered long enough.

        Only rows with something pending are visited, so a quiet table costs nothing.
        """
        now = self._clock()
        changed: list[int] = []
        doomed: list[int] = []
        doomed_keys: list[K] = []
        for key in list(self._pending):
            position = self._index[key]
            row = self._rows[position]
            if row.state is RowState.GONE:
                if row.until <= now:
                    doomed.append(position)
                    doomed_keys.append(key)
                    self._pending.discard(key)
                continue
            touched = False
            if row.state is RowState.NEW and row.until <= now:
                row.state, row.until = RowState.CURRENT, 0.0
                touched = True
            if row.flashes:
                for col in [c for c, deadline in row.flashes.items() if deadline <= now]:
                    del row.flashes[col]
                    touched = True
            if row.state is RowState.CURRENT and not row.flashes:
                self._pending.discard(key)
            if touched:
                changed.append(position)

        last_column = len(self.columns) - 1
        for first, last in _runs(changed):
            self.dataChanged.emit(self.index(first, 0), self.index(last, last_column))
        if doomed:
            # Remove from the end so earlier row numbers stay valid.
            for first, last in reversed(_runs(doomed)):
                self.beginRemoveRows(QModelIndex(), first, last)
                del self._rows[first : last + 1]
                self.endRemoveRows()
            # Row numbers after the first removed one shifted: renumber those.
            for key in doomed_keys:
                del self._index[key]
            start = min(doomed)
            for position in range(start, len(self._rows)):
                self._index[self._rows[position].key] = position
        self._arm_timer()
        if changed or doomed:
            self.expired.emit()

    def _arm_timer(self) -> None:
        if self._pending and not self._timer.isActive():
            self._timer.start()
        elif not self._pending and self._timer.isActive():
            self._timer.stop()


def _alignment(numeric: bool) -> Qt.AlignmentFlag:
    horizontal = Qt.AlignmentFlag.AlignRight if numeric else Qt.AlignmentFlag.AlignLeft
    return horizontal | Qt.AlignmentFlag.AlignVCenter
