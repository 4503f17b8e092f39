"""A table's rows and how Qt, the views and the proxies read them.

``RowTableModel`` holds the rows (an item each, its state, its highlights,
its search text and its cached sort values) behind a key -> row index and
answers Qt's read interface; ``IncrementalTableModel`` (incremental.py)
changes them.

Most of a poll's cost is Qt calling back into Python, so ``index`` is
answered directly, and sort values are cached per row (``sort_key``,
``sort_values``) for the sorting proxy, which sorts in Python on them, ties
broken by ``tie_of`` (``order_key``, ``order_values``).
"""

from __future__ import annotations

import enum
from collections.abc import Hashable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from PySide6.QtCore import QAbstractTableModel, QModelIndex, QObject, Qt

from portwatch.ui.tables.cells import (
    ALIGNMENT,
    BACKGROUND,
    DISPLAY,
    FLASH_BRUSH,
    FOREGROUND,
    GONE_BRUSH,
    GONE_TEXT_BRUSH,
    ITEM_ROLE,
    NEW_BRUSH,
    ROW_STATE_ROLE,
    SORT_ROLE,
    TOOLTIP,
    AnyIndex,
    Column,
    alignment,
)

K = TypeVar("K", bound=Hashable)
T = TypeVar("T")


class RowState(enum.Enum):
    CURRENT = "current"
    NEW = "new"
    GONE = "gone"


@dataclass(slots=True, eq=False)
class Row(Generic[K, T]):
    key: K
    item: T
    state: RowState
    position: int  # its row number
    # monotonic deadline of the NEW / GONE state (0 = none)
    until: float = 0.0
    # column -> monotonic deadline of its flash
    flashes: dict[int, float] = field(default_factory=dict)
    # lower-case text the search box matches against
    haystack: str = ""
    # column -> sort value, made when a sort first compares it (see sort_key)
    sort_keys: dict[int, Any] = field(default_factory=dict)
    # its order among rows with equal sort values (``tie_of`` its key, made once)
    tie: Any = None


class RowTableModel(QAbstractTableModel, Generic[K, T]):
    """Rows keyed by a stable key; subclasses set ``columns``.

    ``columns`` is usually the class's own; a model whose cells read more
    than the item (the listener table reads the user's labels) sets its own
    in ``__init__``, the same number of them. Columns in ``styled_columns``
    ask ``foreground`` for their text colour (the others cost no call).
    """

    columns: Sequence[Column[Any]] = ()
    styled_columns: frozenset[int] = frozenset()

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._column_count = len(self.columns)
        self._rows: list[Row[K, T]] = []
        self._index: dict[K, Row[K, T]] = {}
        self._revision = 0

    # --- Qt model interface --------------------------------------------------------

    def rowCount(self, parent: AnyIndex | None = None) -> int:
        if parent is not None and parent.isValid():
            return 0
        return len(self._rows)

    def columnCount(self, parent: AnyIndex | None = None) -> int:
        if parent is not None and parent.isValid():
            return 0
        return self._column_count

    def index(self, row: int, column: int, parent: AnyIndex | None = None) -> QModelIndex:
        # Qt's own index() asks rowCount() and columnCount(): two calls into
        # Python for every index a proxy makes, and it makes one per comparison.
        if (
            0 <= row < len(self._rows)
            and 0 <= column < self._column_count
            and (parent is None or not parent.isValid())
        ):
            return self.createIndex(row, column)
        return QModelIndex()

    def headerData(
        self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole
    ) -> Any:
        if orientation != Qt.Orientation.Horizontal or not 0 <= section < len(self.columns):
            return None
        column = self.columns[section]
        if role == DISPLAY:
            return column.title
        if role == TOOLTIP and column.tooltip:
            return column.tooltip
        if role == ALIGNMENT:
            return alignment(column.numeric)  # numbers' titles over their digits
        return None

    def data(self, index: AnyIndex, role: int = DISPLAY) -> Any:
        # An invalid index has row -1: the range check covers it.
        return self.cell_data(index.row(), index.column(), role)

    def cell_data(self, row_number: int, col: int, role: int = DISPLAY) -> Any:
        """``data`` by row and column numbers (a proxy need not make an index)."""
        if not (0 <= row_number < len(self._rows) and 0 <= col < self._column_count):
            return None
        if role == DISPLAY:
            return self.columns[col].text(self._rows[row_number].item)
        if role == SORT_ROLE:
            return self.sort_key(row_number, col)
        row = self._rows[row_number]
        if role == BACKGROUND:
            if row.state is RowState.GONE:
                return GONE_BRUSH
            if row.state is RowState.NEW:
                return NEW_BRUSH
            return FLASH_BRUSH if col in row.flashes else None
        if role == FOREGROUND:
            return self._text_brush(row, col)
        if role == ALIGNMENT:
            return alignment(self.columns[col].numeric)
        if role == ITEM_ROLE:
            return row.item
        if role == ROW_STATE_ROLE:
            return row.state.value
        if role == TOOLTIP:
            return self.tooltip(row.item, col, row.state)
        return None

    def _text_brush(self, row: Row[K, T], col: int) -> Any:
        if row.state is RowState.GONE:
            return GONE_TEXT_BRUSH
        return self.foreground(row.item, col) if col in self.styled_columns else None

    def flags(self, index: AnyIndex) -> Qt.ItemFlag:
        if not index.isValid():
            return Qt.ItemFlag.NoItemFlags
        return Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable

    def foreground(self, item: T, column: int) -> Any:
        """The text brush of a cell of ``styled_columns`` (None: the view's own)."""
        del item, column  # for tables that dim some cells (the listeners' service hint)
        return None

    def tooltip(self, item: T, column: int, state: RowState) -> str | None:
        del item, column  # for tables whose tooltips depend on them (listeners)
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

    def items_and_haystacks(self) -> tuple[list[T], list[str]]:
        """Every row's item and search text, in row order (GONE rows too)."""
        rows = self._rows
        return [row.item for row in rows], [row.haystack for row in rows]

    @property
    def revision(self) -> int:
        """Counts the changes to the rows: a result worked out per row stays
        valid while the revision stays the same."""
        return self._revision

    def sort_key(self, row: int, column: int) -> Any:
        """What SORT_ROLE gives, computed once per item and column.

        A sorting proxy compares the same rows over and over (every insert is
        a binary search), so the value is kept until the row's item changes.
        """
        keys = self._rows[row].sort_keys
        try:
            return keys[column]
        except KeyError:
            value = keys[column] = self.columns[column].sort(self._rows[row].item)
            return value

    def sort_values(self, column: int) -> list[Any]:
        """Every row's ``sort_key`` for ``column``, in row order."""
        sort = self.columns[column].sort
        values = []
        for row in self._rows:
            keys = row.sort_keys
            if column in keys:
                values.append(keys[column])
            else:
                value = keys[column] = sort(row.item)
                values.append(value)
        return values

    def tie_of(self, key: K) -> Any:
        """How rows equal on the sorted column are ordered among themselves.

        Made from the row's key, so it never changes while the row lives.
        The same for every row (this default): they keep the table's row order.
        """
        del key  # for tables with an order of their own (listeners: by port)
        return None

    def order_key(self, row: int, column: int) -> Any:
        """What a sorting proxy orders the row by: its ``sort_key``, then its ``tie_of``."""
        return self.sort_key(row, column), self._rows[row].tie

    def order_values(self, column: int) -> list[Any]:
        """Every row's ``order_key`` for ``column``, in row order."""
        ties = [row.tie for row in self._rows]
        return list(zip(self.sort_values(column), ties, strict=True))

    def row_of(self, key: K) -> int | None:
        row = self._index.get(key)
        return None if row is None else row.position

    def key_at(self, row: int) -> K:
        return self._rows[row].key

    def rows_of(self, keys: Iterable[K]) -> list[int]:
        """The row number of each key (every key must be in the table)."""
        index = self._index
        return [index[key].position for key in keys]

    def items(self) -> list[T]:
        """Items the last scan saw (rows lingering as GONE excluded)."""
        return [row.item for row in self._rows if row.state is not RowState.GONE]
