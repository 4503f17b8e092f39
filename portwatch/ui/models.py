"""The listener and connection tables, and the sort and search proxies in front of them."""

from __future__ import annotations

import bisect
import functools
import ipaddress
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from itertools import repeat
from typing import Any, ClassVar

from PySide6.QtCore import (
    QAbstractItemModel,
    QAbstractProxyModel,
    QModelIndex,
    QObject,
    QPersistentModelIndex,
    QSortFilterProxyModel,
    Qt,
)

from portwatch.core.exposure import strip_scope
from portwatch.core.model import Connection, Exposure, Listener, ListenerKey
from portwatch.core.owner_text import owner_name
from portwatch.core.safetext import visible
from portwatch.core.services import ports_for_name
from portwatch.ui.icons import EXPOSURE_WORDS
from portwatch.ui.table_model import (
    AnyIndex,
    Column,
    IncrementalTableModel,
    RowState,
    contiguous_runs,
    plain_tooltip,
)

_DISPLAY = int(Qt.ItemDataRole.DisplayRole)

ConnectionKey = tuple[str, int, str, int, str, int]


@functools.lru_cache(maxsize=65536)
def address_sort_key(address: str, family: int = 0) -> str:
    """A string that sorts addresses numerically: IPv4 before IPv6, then by value.

    A string compares in C (no Python call per comparison), so the key is the
    family and the fixed-width hex of the address.
    """
    try:
        parsed = ipaddress.ip_address(strip_scope(address))
    except ValueError:
        return f"9:{address}"
    width = 8 if parsed.version == 4 else 32
    return f"{parsed.version}:{int(parsed):0{width}x}"


def _count(value: int, proto: str) -> str:
    return str(value) if proto == "tcp" else ""


class ListenerColumn:
    PROTO, ADDRESS, PORT, SERVICE, EXPOSURE, PROCESS, PID, USER, CONNECTIONS, REMOTE = range(10)


class ListenerTableModel(IncrementalTableModel[ListenerKey, Listener]):
    """Every listening socket, keyed by (proto, family, address, port, pid)."""

    key_attribute = "key"

    columns: ClassVar[tuple[Column[Listener], ...]] = (
        Column("Proto", lambda x: x.proto.upper(), lambda x: f"{x.proto}{x.family}"),
        Column("Address", lambda x: x.address, lambda x: address_sort_key(x.address)),
        Column("Port", lambda x: str(x.port), lambda x: x.port, numeric=True),
        Column("Service", lambda x: x.service or "", lambda x: (x.service or "").lower()),
        Column(
            "Exposure",
            lambda x: EXPOSURE_WORDS[x.exposure],
            lambda x: x.exposure.rank,
            tooltip="How far the bind reaches: loopback (this machine), LAN, or public",
        ),
        # Process text is shown with control and bidi characters as visible escapes.
        Column("Process", lambda x: visible(x.owner_label), lambda x: x.owner_label.lower()),
        Column("PID", lambda x: str(x.pid or ""), lambda x: x.pid or -1, numeric=True),
        Column("User", lambda x: visible(x.user or ""), lambda x: (x.user or "").lower()),
        Column(
            "Conns",
            lambda x: _count(x.connections, x.proto),
            lambda x: x.connections,
            numeric=True,
            tooltip="Established connections to this listener",
        ),
        Column(
            "Remote",
            lambda x: _count(x.remote_connections, x.proto),
            lambda x: x.remote_connections,
            numeric=True,
            tooltip="Established connections from other hosts",
        ),
    )

    def same_item(self, old: Listener, new: Listener) -> bool:
        # The key fields are equal already; the rest, without building tuples.
        return (
            old.connections == new.connections
            and old.remote_connections == new.remote_connections
            and old.process == new.process
            and old.exe == new.exe
            and old.cmdline == new.cmdline
            and old.user == new.user
            and old.started == new.started
            and old.service == new.service
            and old.port_range == new.port_range
            and old.ephemeral == new.ephemeral
            and old.exposure == new.exposure
            and old.v6only == new.v6only
            and old.owner_unknown == new.owner_unknown
        )

    def haystack_of(self, item: Listener) -> str:
        # The search matches what the table and the details pane show (visible escapes).
        parts = [
            item.proto,
            item.address,
            item.endpoint,
            str(item.port),
            item.service or "",
            visible(item.owner_label),
            str(item.pid or ""),
            visible(item.user or ""),
            str(item.exposure),
            visible(item.exe or ""),
            visible(" ".join(item.cmdline or ())),
        ]
        return "\n".join(parts).lower()

    def tooltip(self, item: Listener, column: int, state: RowState) -> str | None:
        if state is RowState.GONE:
            return "gone: no longer seen by the last scan"
        if column == ListenerColumn.ADDRESS and item.stack:
            return f"{item.endpoint} ({item.stack})"
        if column == ListenerColumn.PROCESS and item.cmdline:
            return plain_tooltip(" ".join(item.cmdline))
        if column == ListenerColumn.EXPOSURE:
            return {
                Exposure.LOOPBACK: "Reachable only from this machine",
                Exposure.LAN: "Reachable from the local network",
                Exposure.PUBLIC: "Reachable on every interface, or on a routable address",
            }[item.exposure]
        return None


class ConnectionColumn:
    PROTO, LOCAL, LOCAL_PORT, REMOTE, REMOTE_PORT, STATE, PROCESS, PID, USER = range(9)


def _process_label(item: Connection) -> str:
    return visible(owner_name(item.process, item.pid))


class ConnectionTableModel(IncrementalTableModel[ConnectionKey, Connection]):
    """Every TCP connection as a 5-tuple."""

    columns: ClassVar[tuple[Column[Connection], ...]] = (
        Column("Proto", lambda x: x.proto.upper(), lambda x: f"{x.proto}{x.family}"),
        Column(
            "Local address", lambda x: x.local_address, lambda x: address_sort_key(x.local_address)
        ),
        Column("Local port", lambda x: str(x.local_port), lambda x: x.local_port, numeric=True),
        Column(
            "Remote address",
            lambda x: x.remote_address,
            lambda x: address_sort_key(x.remote_address),
        ),
        Column("Remote port", lambda x: str(x.remote_port), lambda x: x.remote_port, numeric=True),
        Column("State", lambda x: x.state, lambda x: x.state),
        Column("Process", _process_label, lambda x: _process_label(x).lower()),
        Column("PID", lambda x: str(x.pid or ""), lambda x: x.pid or -1, numeric=True),
        Column("User", lambda x: visible(x.user or ""), lambda x: (x.user or "").lower()),
    )

    def key_of(self, item: Connection) -> ConnectionKey:
        return (
            item.proto,
            item.family,
            item.local_address,
            item.local_port,
            item.remote_address,
            item.remote_port,
        )

    def haystack_of(self, item: Connection) -> str:
        parts = [
            item.proto,
            item.local,
            item.remote,
            item.state,
            _process_label(item),
            str(item.pid or ""),
            visible(item.user or ""),
        ]
        return "\n".join(parts).lower()


@dataclass(frozen=True, slots=True)
class SearchTerms:
    """The search box's words, lower-case.

    A word of digits is a number: it matches a port or PID exactly. Any other
    word matches any text of the row, and an alphabetic one also the ports of
    the services whose names contain it ("postgres" → 5432).
    """

    text: str = ""
    words: tuple[tuple[str, frozenset[int]], ...] = ()
    numbers: tuple[int, ...] = ()

    @classmethod
    def parse(cls, text: str) -> SearchTerms:
        normalised = " ".join(text.lower().split())
        words: list[tuple[str, frozenset[int]]] = []
        numbers: list[int] = []
        for word in normalised.split():
            if word.isdigit():
                numbers.append(int(word))
            else:
                ports = frozenset(ports_for_name(word)) if word.isalpha() else frozenset()
                words.append((word, ports))
        return cls(normalised, tuple(words), tuple(numbers))

    def narrows(self, wider: SearchTerms) -> bool:
        """True if every row these terms accept, ``wider`` accepted too.

        Typing on extends a word or adds one: then each number of ``wider`` is
        still here, and each of its words lies inside one of these words (a
        longer word matches fewer texts and fewer service names).
        """
        if not set(wider.numbers) <= set(self.numbers):
            return False
        return all(any(word in mine for mine, _ in self.words) for word, _ in wider.words)


def _is_port_or_pid(number: int, ports_and_pid: tuple[tuple[int, ...], int | None]) -> bool:
    ports, pid = ports_and_pid
    return number in ports or number == pid


class SortProxy(QAbstractProxyModel):
    """The table's rows in sorted order, sorted in Python on cached values.

    Qt's QSortFilterProxyModel calls a Python ``lessThan`` for every
    comparison (~140,000 for a click on a header at 10,000 rows). This proxy
    keeps its own order instead: ``sort`` is one ``sorted()`` over the
    table's cached sort values (``IncrementalTableModel.sort_values``); a new
    row is placed by binary search; a row whose sort value moved is taken out
    and put back. Ties go by the table's row number (its order of arrival),
    ascending in both orders, as a stable sort leaves them.

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
        # The table row of each of this proxy's rows, and (sorted) its sort value.
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
        values = self._table.sort_values(self._column)
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
        remap: list[int] = []
        gap = kept = 0
        for first, last in sorted(removed):
            remap.extend(range(kept, kept + first - gap))
            kept += first - gap
            remap.extend(repeat(-1, last - first + 1))
            gap = last + 1
        table = self._table
        total = (table.rowCount() if table is not None else 0) + len(remap) - kept
        remap.extend(range(kept, kept + total - gap))
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
        values = {row: table.sort_key(row, column) for row in new_rows}
        descending = self._order == Qt.SortOrder.DescendingOrder
        ordered = sorted(new_rows, key=values.__getitem__, reverse=descending)
        # Each new row's place among the old rows; rows with the same place
        # go in together, in their sorted order.
        runs: list[tuple[int, list[int]]] = []
        for row in ordered:
            place = _place(self._keys, self._rows, values[row], row, descending)
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
            value = table.sort_key(row, column)
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
            place = _place(keys, rows, moved[row], row, descending)
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

    def data(self, index: AnyIndex, role: int = _DISPLAY) -> Any:
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

    def headerData(self, section: int, orientation: Qt.Orientation, role: int = _DISPLAY) -> Any:
        # Columns are the table's own; row headers carry nothing here.
        if self._table is None:
            return None
        return self._table.headerData(section, orientation, role)


def _place(keys: list[Any], rows: list[int], value: Any, table_row: int, descending: bool) -> int:
    """Where a table row with sort value ``value`` goes among ``rows``
    (sorted, with their sort values ``keys``)."""
    if descending:
        # keys descend: bisect by hand for the run of keys equal to value
        low, high = 0, len(keys)
        while low < high:
            middle = (low + high) // 2
            if keys[middle] > value:
                low = middle + 1
            else:
                high = middle
        end, high = low, len(keys)
        while end < high:
            middle = (end + high) // 2
            if keys[middle] < value:
                high = middle
            else:
                end = middle + 1
    else:
        low = bisect.bisect_left(keys, value)
        end = bisect.bisect_right(keys, value, low)
    # Among equal values, rows go by their table row, ascending.
    return bisect.bisect_left(rows, table_row, low, end)


class SearchProxy(QSortFilterProxyModel):
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
    verdicts go by the table's: the table's keys in the sorter's order are
    kept up to date from the sorter's signals (mapping a row through Qt costs
    more than the filter).

    Qt's dynamic filtering is off here: the sorter reports a change of a few
    scattered rows as one span from the first to the last, and Qt would
    re-filter every row of it. The table's own dataChanged names the rows.
    """

    # The sorting proxy made for each instance (tests substitute a counting one).
    sorter_class: ClassVar[type[SortProxy]] = SortProxy

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.setDynamicSortFilter(False)  # see _table_data_changed
        self.sorter = self.sorter_class(self)
        self._table: IncrementalTableModel[Any, Any] | None = None
        # The table's keys in the sorter's row order (None: to be read again,
        # a row at a time through Qt, the first time a filter needs it).
        # Connected before setSourceModel connects Qt's own handlers, so it is
        # up to date when Qt asks filterAcceptsRow about the sorter's new rows.
        self._order: list[Any] | None = None
        self.sorter.rowsInserted.connect(self._sorter_rows_inserted)
        self.sorter.rowsRemoved.connect(self._sorter_rows_removed)
        self.sorter.layoutChanged.connect(self._forget_order)
        self.sorter.modelReset.connect(self._forget_order)
        self._terms = SearchTerms()
        # None keeps every item; a subclass's toolbar toggles set one.
        self._item_filter: Callable[[Any], bool] | None = None
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

    def _set_item_filter(self, item_filter: Callable[[Any], bool] | None) -> None:
        """For subclasses: keep only the items ``item_filter`` accepts (None: all)."""
        self._change_filter(self._terms, item_filter, narrowing=False)

    def _change_filter(
        self,
        terms: SearchTerms,
        item_filter: Callable[[Any], bool] | None,
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
                self._verdicts = [after[row] for row in table.rows_of(self._sorter_order())]
            try:
                self.endFilterChange(QSortFilterProxyModel.Direction.Rows)
            finally:
                self._verdicts = None
        else:
            self._set_filter(terms, item_filter)  # every row keeps its verdict
        if table is not None and after is not None:
            self._known_verdicts, self._known_revision = after, table.revision

    def _set_filter(self, terms: SearchTerms, item_filter: Callable[[Any], bool] | None) -> None:
        self._terms, self._item_filter = terms, item_filter
        self._accepts_all = item_filter is None and not terms.words and not terms.numbers

    def _current_verdicts(
        self, table: IncrementalTableModel[Any, Any], items: list[Any], haystacks: list[str]
    ) -> list[bool]:
        if self._known_revision == table.revision and len(self._known_verdicts) == len(items):
            return self._known_verdicts
        return self._verdicts_for(items, haystacks, self._terms, self._item_filter, None)

    def _verdicts_for(
        self,
        items: list[Any],
        haystacks: list[str],
        terms: SearchTerms,
        item_filter: Callable[[Any], bool] | None,
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
                k and _is_port_or_pid(number, ports_and_pid(item))
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
        self._forget_order()
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

    def _sorter_order(self) -> list[Any]:
        order = self._order
        if order is None:
            order = self._order = self._keys_at_sorter_rows(0, self.sorter.rowCount() - 1)
        return order

    def _keys_at_sorter_rows(self, first: int, last: int) -> list[Any]:
        table, sorter = self._table, self.sorter
        if table is None:
            return []
        key_at, source_row = table.key_at, sorter.source_row
        return [key_at(source_row(row)) for row in range(first, last + 1)]

    def _sorter_rows_inserted(self, _parent: QModelIndex, first: int, last: int) -> None:
        if self._order is not None:
            self._order[first:first] = self._keys_at_sorter_rows(first, last)

    def _sorter_rows_removed(self, _parent: QModelIndex, first: int, last: int) -> None:
        if self._order is not None:
            del self._order[first : last + 1]

    def _forget_order(self, *_args: object) -> None:
        # Read again when next needed, unless there is nothing to read: a
        # table sorted while still empty keeps its order up to date as it fills.
        self._order = None if self.sorter.rowCount() else []

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

    def source_table(self) -> IncrementalTableModel[Any, Any]:
        assert self._table is not None
        return self._table

    def filterAcceptsRow(
        self, source_row: int, source_parent: QModelIndex | QPersistentModelIndex
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
        order = self._sorter_order()
        row = table.row_of(order[source_row]) if source_row < len(order) else None
        if row is None:
            return False
        return self._accepts(
            table.item_at(row), table.haystack_at(row), self._terms, self._item_filter
        )

    def _accepts(
        self,
        item: Any,
        haystack: str,
        terms: SearchTerms,
        item_filter: Callable[[Any], bool] | None,
    ) -> bool:
        if item_filter is not None and not item_filter(item):
            return False
        if terms.numbers:
            ports_and_pid = self.ports_and_pid(item)
            for number in terms.numbers:
                if not _is_port_or_pid(number, ports_and_pid):
                    return False
        for word, service_ports in terms.words:
            if word in haystack:
                continue
            if service_ports and not service_ports.isdisjoint(self.ports_and_pid(item)[0]):
                continue
            return False
        return True

    def ports_and_pid(self, item: Any) -> tuple[tuple[int, ...], int | None]:
        raise NotImplementedError


@dataclass(frozen=True, slots=True)
class ListenerToggles:
    """The toolbar's toggles: which listeners stay in the table."""

    tcp: bool = True
    udp: bool = True
    hide_loopback: bool = False
    only_public: bool = False

    def accepts(self, item: Listener) -> bool:
        if item.proto == "tcp" and not self.tcp:
            return False
        if item.proto == "udp" and not self.udp:
            return False
        if self.hide_loopback and item.exposure is Exposure.LOOPBACK:
            return False
        return not (self.only_public and item.exposure is not Exposure.PUBLIC)


class ListenerProxy(SearchProxy):
    """Search plus the toolbar toggles: TCP, UDP, hide loopback-only, only public."""

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._toggles = ListenerToggles()

    @property
    def show_tcp(self) -> bool:
        return self._toggles.tcp

    @property
    def show_udp(self) -> bool:
        return self._toggles.udp

    @property
    def hide_loopback(self) -> bool:
        return self._toggles.hide_loopback

    @property
    def only_public(self) -> bool:
        return self._toggles.only_public

    def set_toggles(
        self,
        *,
        tcp: bool | None = None,
        udp: bool | None = None,
        hide_loopback: bool | None = None,
        only_public: bool | None = None,
    ) -> None:
        before = self._toggles
        after = ListenerToggles(
            before.tcp if tcp is None else tcp,
            before.udp if udp is None else udp,
            before.hide_loopback if hide_loopback is None else hide_loopback,
            before.only_public if only_public is None else only_public,
        )
        if after == before:
            return
        self._toggles = after
        # The default toggles keep everything: no per-row call then.
        self._set_item_filter(None if after == ListenerToggles() else after.accepts)

    def ports_and_pid(self, item: Listener) -> tuple[tuple[int, ...], int | None]:
        return (item.port,), item.pid

    def listener_at(self, index: QModelIndex | QPersistentModelIndex) -> Listener:
        item: Listener = self.source_table().item_at(self.table_row(index))
        return item


class ConnectionProxy(SearchProxy):
    def ports_and_pid(self, item: Connection) -> tuple[tuple[int, ...], int | None]:
        return (item.local_port, item.remote_port), item.pid
