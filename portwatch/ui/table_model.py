"""An incremental table model: rows keyed by a stable key, updated by diffing.

Every poll brings a fresh tuple of immutable items. ``apply()`` compares it
with what the table shows and emits only ``rowsInserted`` (new keys, appended
in one batch), ``dataChanged`` (only the changed columns, in contiguous runs)
and later ``rowsRemoved`` (vanished rows, after they lingered). It never
resets, so the view keeps its selection, sort order and scroll position.

Highlights: a new row is marked NEW for ``highlight_seconds``; a vanished row
stays marked GONE for ``linger_seconds`` before it is removed; changed cells
flash for ``highlight_seconds``. One QTimer in the model expires them, and only
runs while something is highlighted.

Cost per poll is one pass over the items (a dict lookup and an identity or
equality test per item) plus work proportional to the rows that changed: a
key -> row index makes every lookup O(1); the expiry tick visits only
highlighted rows, and a removal renumbers the rows after it once per tick.
The very tuple applied last time again (the scanner's answer to a quiet
poll) costs nothing.

Most of a poll's cost is Qt calling back into Python, so ``index`` is
answered directly, sort values are cached per row (``sort_key``,
``sort_values``) for the sorting proxy, which sorts in Python on them, and
``dataChanged`` names only the changed columns: a change outside the sort
column costs the proxy no sort value at all.
"""

from __future__ import annotations

import enum
import operator
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
from PySide6.QtGui import Qt as QtText  # Qt's text functions (mightBeRichText) live in QtGui

from portwatch.core.safetext import visible, visible_lines

K = TypeVar("K", bound=Hashable)
T = TypeVar("T")

AnyIndex = QModelIndex | QPersistentModelIndex

# Roles beyond Qt's own. SORT_ROLE gives raw values Qt compares natively
# (ints, and strings built to sort in numeric order); ITEM_ROLE the item itself.
SORT_ROLE = int(Qt.ItemDataRole.UserRole) + 1
ITEM_ROLE = int(Qt.ItemDataRole.UserRole) + 2
ROW_STATE_ROLE = int(Qt.ItemDataRole.UserRole) + 3

# Qt's roles as plain ints: data() runs for every painted cell and compares them.
_DISPLAY = int(Qt.ItemDataRole.DisplayRole)
_TOOLTIP = int(Qt.ItemDataRole.ToolTipRole)
_ALIGNMENT = int(Qt.ItemDataRole.TextAlignmentRole)
_BACKGROUND = int(Qt.ItemDataRole.BackgroundRole)
_FOREGROUND = int(Qt.ItemDataRole.ForegroundRole)

NEW_BACKGROUND = QColor(46, 157, 91, 70)
GONE_BACKGROUND = QColor(200, 60, 60, 45)
GONE_FOREGROUND = QColor(130, 130, 130)
FLASH_BACKGROUND = QColor(240, 180, 40, 90)

_NEW_BRUSH = QBrush(NEW_BACKGROUND)
_GONE_BRUSH = QBrush(GONE_BACKGROUND)
_GONE_TEXT_BRUSH = QBrush(GONE_FOREGROUND)
_FLASH_BRUSH = QBrush(FLASH_BACKGROUND)


class RowState(enum.Enum):
    CURRENT = "current"
    NEW = "new"
    GONE = "gone"


@dataclass(slots=True, eq=False)
class _Row(Generic[K, T]):
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


@dataclass(frozen=True, slots=True)
class Column(Generic[T]):
    """One column: its title, its text, its sort value, and how to align it."""

    title: str
    text: Callable[[T], str]
    sort: Callable[[T], Any]
    numeric: bool = False
    tooltip: str = ""


# A tooltip longer than this (a 100 KB command line) is cut: the details pane has it all.
TOOLTIP_LIMIT = 2000


def plain_tooltip(text: str, *, multiline: bool = False) -> str:
    """A tooltip that shows ``text`` as it is: visible escapes, never read as markup.

    One line (newlines shown as ``\\n``) unless ``multiline``. Qt guesses
    whether a tooltip is rich text (``Qt.mightBeRichText``); text it would take
    for markup is sent as its HTML-escaped form, which shows the same characters.
    """
    shown = visible_lines(text) if multiline else visible(text)
    if len(shown) > TOOLTIP_LIMIT:
        shown = f"{shown[:TOOLTIP_LIMIT]}… ({len(shown) - TOOLTIP_LIMIT:,} more characters)"
    if QtText.mightBeRichText(shown):
        return QtText.convertFromPlainText(shown, Qt.WhiteSpaceMode.WhiteSpaceNormal)
    return shown


def contiguous_runs(rows: Iterable[int]) -> list[tuple[int, int]]:
    """Sorted row numbers grouped into contiguous (first, last) runs."""
    runs: list[tuple[int, int]] = []
    for row in sorted(rows):
        if runs and runs[-1][1] == row - 1:
            runs[-1] = (runs[-1][0], row)
        else:
            runs.append((row, row))
    return runs


def _blocks(cells: Iterable[tuple[int, int, int]]) -> list[tuple[int, int, int, int]]:
    """(first column, last column, row) changes grouped into rectangles.

    Rows next to each other with the same column span become one block
    (first row, last row, first column, last column).
    """
    blocks: list[tuple[int, int, int, int]] = []
    for first_col, last_col, row in sorted(cells):
        if blocks:
            top, bottom, left, right = blocks[-1]
            if (left, right) == (first_col, last_col) and bottom == row - 1:
                blocks[-1] = (top, row, left, right)
                continue
        blocks.append((row, row, first_col, last_col))
    return blocks


class IncrementalTableModel(QAbstractTableModel, Generic[K, T]):
    """Subclasses set ``columns``, implement ``haystack_of``, and give the key:
    ``key_attribute`` if the items carry it, else ``key_of``.

    Equal items must have equal keys (the key is part of the value).
    """

    columns: ClassVar[Sequence[Column[Any]]] = ()
    # The items' attribute that is their key: read by C code, no Python call per item.
    key_attribute: ClassVar[str] = ""
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
        self._column_count = len(self.columns)
        self._key_of: Callable[[T], K] = (
            operator.attrgetter(self.key_attribute) if self.key_attribute else self.key_of
        )
        self._rows: list[_Row[K, T]] = []
        self._index: dict[K, _Row[K, T]] = {}
        # keys of rows that are NEW, GONE or have flashing cells
        self._pending: set[K] = set()
        self._first_apply = True
        # The last snapshot if it was a tuple (immutable): see apply().
        self._last_items: tuple[T, ...] | None = None
        self._revision = 0
        self._timer = QTimer(self)
        self._timer.setInterval(250)
        self._timer.timeout.connect(self.expire)

    # --- what subclasses define -------------------------------------------------

    def key_of(self, item: T) -> K:
        if self.key_attribute:
            key: K = getattr(item, self.key_attribute)
            return key
        raise NotImplementedError

    def same_item(self, old: T, new: T) -> bool:
        """``old == new`` for two items with the same key; subclasses may answer faster."""
        return old == new

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
        if role == _DISPLAY:
            return column.title
        if role == _TOOLTIP and column.tooltip:
            return column.tooltip
        if role == _ALIGNMENT:
            return _alignment(column.numeric)  # numbers' titles over their digits
        return None

    def data(self, index: AnyIndex, role: int = _DISPLAY) -> Any:
        # An invalid index has row -1: the range check covers it.
        return self.cell_data(index.row(), index.column(), role)

    def cell_data(self, row_number: int, col: int, role: int = _DISPLAY) -> Any:
        """``data`` by row and column numbers (a proxy need not make an index)."""
        if not (0 <= row_number < len(self._rows) and 0 <= col < self._column_count):
            return None
        if role == _DISPLAY:
            return self.columns[col].text(self._rows[row_number].item)
        if role == SORT_ROLE:
            return self.sort_key(row_number, col)
        row = self._rows[row_number]
        if role == _BACKGROUND:
            if row.state is RowState.GONE:
                return _GONE_BRUSH
            if row.state is RowState.NEW:
                return _NEW_BRUSH
            if col in row.flashes:
                return _FLASH_BRUSH
            return None
        if role == _FOREGROUND:
            return _GONE_TEXT_BRUSH if row.state is RowState.GONE else None
        if role == _ALIGNMENT:
            return _alignment(self.columns[col].numeric)
        if role == ITEM_ROLE:
            return row.item
        if role == ROW_STATE_ROLE:
            return row.state.value
        if role == _TOOLTIP:
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

    # --- updates -------------------------------------------------------------------

    def apply(self, items: Sequence[T], *, news: bool = True) -> None:
        """Bring the table to ``items``; emits only inserts and dataChanged.

        ``news=False``: the changes are the table settling, not events (owners
        filling in at start): nothing is highlighted, and vanished rows go at
        once instead of lingering.
        """
        if isinstance(items, tuple):
            if items is self._last_items:
                # The scanner hands back its very tuple when nothing changed:
                # a tuple is immutable, so the rows already show it.
                return
            self._last_items = items
        else:
            self._last_items = None
        now = self._clock()
        # The very first fill is not news: nothing is highlighted as new.
        new_until = 0.0 if self._first_apply or not news else now + self.highlight_seconds
        self._first_apply = False
        key_of = self._key_of
        same_item = self.same_item
        index_get = self._index.get
        rows = self._rows
        gone = RowState.GONE
        pending = self._pending
        last_column = self._column_count - 1
        # seen[n] is 1 once row n is in this snapshot: finding the unseen rows
        # afterwards is a C-level scan for zero bytes, not a Python loop.
        seen = bytearray(len(rows))
        fresh: dict[K, _Row[K, T]] = {}  # new keys in snapshot order
        changed: list[tuple[int, int, int]] = []  # (first column, last column, row)

        for item in items:
            key = key_of(item)
            row = index_get(key)
            if row is None:
                if key not in fresh:  # a duplicate key in one snapshot: keep the first
                    state = RowState.NEW if new_until else RowState.CURRENT
                    haystack = self.haystack_of(item)
                    fresh[key] = _Row(key, item, state, -1, new_until, {}, haystack)
                continue
            position = row.position
            if seen[position]:
                continue
            seen[position] = 1
            if row.state is not gone:
                # The scanner hands back its own object for an unchanged socket:
                # identity settles most rows without an equality test.
                if row.item is not item and not same_item(row.item, item):
                    first, last = self._replace_item(row, item, now, flash=news)
                    changed.append((first, last, position))
                continue
            # It came back before it was removed: restyle the whole row.
            if row.item is not item:
                self._set_item(row, item)
            row.state, row.until = RowState.CURRENT, 0.0
            row.flashes.clear()
            pending.discard(key)
            changed.append((0, last_column, position))

        # Rows not in this snapshot start to linger (the whole row restyles).
        gone_until = now + self.linger_seconds if news else now
        position = seen.find(0)
        while position >= 0:
            row = rows[position]
            if row.state is not gone:
                row.state, row.until = gone, gone_until
                row.flashes.clear()
                pending.add(row.key)
                changed.append((0, last_column, position))
            position = seen.find(0, position + 1)

        if changed or fresh:
            self._revision += 1
        for top, bottom, left, right in _blocks(changed):
            self.dataChanged.emit(self.index(top, left), self.index(bottom, right))

        if fresh:
            start = len(rows)
            self.beginInsertRows(QModelIndex(), start, start + len(fresh) - 1)
            for position, row in enumerate(fresh.values(), start):
                row.position = position
            rows.extend(fresh.values())
            self._index.update(fresh)
            if new_until:
                pending.update(fresh)
            self.endInsertRows()

        if not news:
            self.expire()  # the vanished rows, due now
        self._arm_timer()

    def _replace_item(
        self, row: _Row[K, T], item: T, now: float, *, flash: bool = True
    ) -> tuple[int, int]:
        """Put a changed item in its row; the span of columns that changed.

        Cells whose text changed flash. A column some proxy sorts on has its
        sort value cached (``sort_key``); if that value moved, the span covers
        it too, so the proxy re-sorts the row. Nothing visible changed (a
        tooltip, the item behind the row): the whole row, to be safe.
        """
        old = row.item
        first = last = -1
        flash_until = now + self.highlight_seconds
        for col, column in enumerate(self.columns):
            if column.text(old) != column.text(item):
                if flash:
                    row.flashes[col] = flash_until
                if first < 0:
                    first = col
                last = col
        if row.flashes:
            self._pending.add(row.key)
        old_keys = row.sort_keys
        self._set_item(row, item)
        for col, old_key in old_keys.items():
            new_key = row.sort_keys[col] = self.columns[col].sort(item)
            if new_key != old_key:
                first = col if first < 0 else min(first, col)
                last = max(last, col)
        if first < 0:
            return 0, self._column_count - 1
        return first, last

    def _set_item(self, row: _Row[K, T], item: T) -> None:
        row.item = item
        row.haystack = self.haystack_of(item)
        row.sort_keys = {}

    def expire(self) -> None:
        """End highlights whose time is up and remove rows that lingered long enough.

        Only rows with something pending are visited, so a quiet table costs nothing.
        """
        now = self._clock()
        last_column = self._column_count - 1
        changed: list[tuple[int, int, int]] = []  # (first column, last column, row)
        doomed: list[int] = []
        doomed_keys: list[K] = []
        for key in list(self._pending):
            row = self._index[key]
            position = row.position
            if row.state is RowState.GONE:
                if row.until <= now:
                    doomed.append(position)
                    doomed_keys.append(key)
                    self._pending.discard(key)
                continue
            if row.state is RowState.NEW and row.until <= now:
                row.state, row.until = RowState.CURRENT, 0.0
                changed.append((0, last_column, position))  # the whole row restyles
                for col in [c for c, deadline in row.flashes.items() if deadline <= now]:
                    del row.flashes[col]
            elif row.flashes:
                ended = [c for c, deadline in row.flashes.items() if deadline <= now]
                for col in ended:
                    del row.flashes[col]
                if ended:
                    changed.append((min(ended), max(ended), position))
            if row.state is RowState.CURRENT and not row.flashes:
                self._pending.discard(key)

        if changed or doomed:
            self._revision += 1
        for top, bottom, left, right in _blocks(changed):
            self.dataChanged.emit(self.index(top, left), self.index(bottom, right))
        if doomed:
            # Remove from the end so earlier row numbers stay valid.
            for first, last in reversed(contiguous_runs(doomed)):
                self.beginRemoveRows(QModelIndex(), first, last)
                del self._rows[first : last + 1]
                self.endRemoveRows()
            # Row numbers after the first removed one shifted: renumber those
            # (an attribute each: no key is hashed again).
            for key in doomed_keys:
                del self._index[key]
            rows = self._rows
            for position in range(min(doomed), len(rows)):
                rows[position].position = position
        self._arm_timer()
        if changed or doomed:
            self.expired.emit()

    def _arm_timer(self) -> None:
        if self._pending and not self._timer.isActive():
            self._timer.start()
        elif not self._pending and self._timer.isActive():
            self._timer.stop()


_TEXT_ALIGNMENT = Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter
_NUMBER_ALIGNMENT = Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter


def _alignment(numeric: bool) -> Qt.AlignmentFlag:
    return _NUMBER_ALIGNMENT if numeric else _TEXT_ALIGNMENT
