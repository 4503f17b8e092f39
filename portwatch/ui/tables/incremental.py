"""An incremental table model: rows keyed by a stable key, updated by diffing.

Every poll brings a fresh sequence of immutable items. ``apply()`` compares it
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

Nothing changed is said, not guessed: a caller that numbers its snapshots
passes ``generation``, and the generation applied last time again does no
row work at all. Without one, the very tuple applied last time again (the
scanner's answer to a quiet poll) costs nothing either.

``dataChanged`` names only the changed columns: a change outside the sort
column costs the sorting proxy no sort value at all.
"""

from __future__ import annotations

import operator
import time
from collections.abc import Callable, Iterable, Sequence
from typing import ClassVar

from PySide6.QtCore import QModelIndex, QObject, QTimer

from portwatch.ui.tables.rows import K, Row, RowState, RowTableModel, T
from portwatch.ui.tables.runs import blocks, contiguous_runs


class IncrementalTableModel(RowTableModel[K, T]):
    """Subclasses set ``columns``, implement ``haystack_of``, and give the key:
    ``key_attribute`` if the items carry it, else ``key_of``.

    Equal items must have equal keys (the key is part of the value).
    """

    # The items' attribute that is their key: read by C code, no Python call per item.
    key_attribute: ClassVar[str] = ""

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
        self._key_of: Callable[[T], K] = (
            operator.attrgetter(self.key_attribute) if self.key_attribute else self.key_of
        )
        # keys of rows that are NEW, GONE or have flashing cells
        self._pending: set[K] = set()
        self._first_apply = True
        # The last snapshot if it was a tuple (immutable): see apply().
        self._last_items: tuple[T, ...] | None = None
        self._generation: int | None = None
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

    # --- updates -------------------------------------------------------------------

    @property
    def generation(self) -> int | None:
        """The generation of the items applied last (None: they came without one)."""
        return self._generation

    def apply(
        self, items: Sequence[T], *, news: bool = True, generation: int | None = None
    ) -> None:
        """Bring the table to ``items``; emits only inserts and dataChanged.

        ``news=False``: the changes are the table settling, not events (owners
        filling in at start): nothing is highlighted, and vanished rows go at
        once instead of lingering.

        ``generation``: the caller's number for this set of items, which it
        changes whenever the items change. The generation applied last time
        again does nothing; a new one, or None, diffs the items.
        """
        if generation is not None and generation == self._generation:
            return
        self._generation = generation
        if isinstance(items, tuple):
            if items is self._last_items:
                # The scanner hands back its very tuple when nothing changed:
                # a tuple is immutable, so the rows already show it.
                return
            self._last_items = items
        else:
            self._last_items = None
        self._diff(items, news)

    def _diff(self, items: Sequence[T], news: bool) -> None:
        now = self._clock()
        # The very first fill is not news: nothing is highlighted as new.
        new_until = 0.0 if self._first_apply or not news else now + self.highlight_seconds
        self._first_apply = False
        key_of = self._key_of
        same_item = self.same_item
        index_get = self._index.get
        tie_of = self.tie_of
        rows = self._rows
        gone = RowState.GONE
        pending = self._pending
        last_column = self._column_count - 1
        # seen[n] is 1 once row n is in this snapshot: finding the unseen rows
        # afterwards is a C-level scan for zero bytes, not a Python loop.
        seen = bytearray(len(rows))
        fresh: dict[K, Row[K, T]] = {}  # new keys in snapshot order
        changed: list[tuple[int, int, int]] = []  # (first column, last column, row)

        for item in items:
            key = key_of(item)
            row = index_get(key)
            if row is None:
                if key not in fresh:  # a duplicate key in one snapshot: keep the first
                    state = RowState.NEW if new_until else RowState.CURRENT
                    haystack = self.haystack_of(item)
                    tie = tie_of(key)
                    fresh[key] = Row(key, item, state, -1, new_until, {}, haystack, tie=tie)
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

        self._mark_gone(seen, now + self.linger_seconds if news else now, changed)
        if changed or fresh:
            self._revision += 1
        for top, bottom, left, right in blocks(changed):
            self.dataChanged.emit(self.index(top, left), self.index(bottom, right))
        if fresh:
            self._insert_rows(fresh, highlighted=bool(new_until))
        if not news:
            self.expire()  # the vanished rows, due now
        self._arm_timer()

    def _replace_item(
        self, row: Row[K, T], item: T, now: float, *, flash: bool = True
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

    def cells_changed(self, positions: Iterable[int], column: int) -> None:
        """Rows whose ``column`` reads differently for a reason outside the item
        (the user renamed a port): their search text and that column's sort
        value are made again, and dataChanged names only that column."""
        runs = contiguous_runs(positions)
        if not runs:
            return
        rows = self._rows
        for first, last in runs:
            for position in range(first, last + 1):
                row = rows[position]
                row.haystack = self.haystack_of(row.item)
                row.sort_keys.pop(column, None)
        self._revision += 1
        for first, last in runs:
            self.dataChanged.emit(self.index(first, column), self.index(last, column))

    def _set_item(self, row: Row[K, T], item: T) -> None:
        row.item = item
        row.haystack = self.haystack_of(item)
        row.sort_keys = {}

    def _mark_gone(
        self, seen: bytearray, gone_until: float, changed: list[tuple[int, int, int]]
    ) -> None:
        """Rows not in this snapshot start to linger (the whole row restyles)."""
        rows = self._rows
        gone = RowState.GONE
        last_column = self._column_count - 1
        position = seen.find(0)
        while position >= 0:
            row = rows[position]
            if row.state is not gone:
                row.state, row.until = gone, gone_until
                row.flashes.clear()
                self._pending.add(row.key)
                changed.append((0, last_column, position))
            position = seen.find(0, position + 1)

    def _insert_rows(self, fresh: dict[K, Row[K, T]], *, highlighted: bool) -> None:
        """Append the new rows at the end, in snapshot order."""
        rows = self._rows
        start = len(rows)
        self.beginInsertRows(QModelIndex(), start, start + len(fresh) - 1)
        for position, row in enumerate(fresh.values(), start):
            row.position = position
        rows.extend(fresh.values())
        self._index.update(fresh)
        if highlighted:
            self._pending.update(fresh)
        self.endInsertRows()

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
        for top, bottom, left, right in blocks(changed):
            self.dataChanged.emit(self.index(top, left), self.index(bottom, right))
        if doomed:
            self._remove_rows(doomed, doomed_keys)
        self._arm_timer()

    def _remove_rows(self, doomed: list[int], doomed_keys: list[K]) -> None:
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

    def _arm_timer(self) -> None:
        if self._pending and not self._timer.isActive():
            self._timer.start()
        elif not self._pending and self._timer.isActive():
            self._timer.stop()
