"""The History tab's table: one row per holding, in the words a person uses.

From is when the holder began holding the port: the process's start when it
was already held as portwatch started (a server running before portwatch),
else when portwatch first saw it; "before portwatch started" when that is
not known. Held for says how long in plain words ("4 min 39 s, still held").
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QAbstractTableModel, QModelIndex, QObject, QPersistentModelIndex, Qt

from portwatch.core.formats import format_duration
from portwatch.core.history import Holding
from portwatch.core.model import Exposure
from portwatch.core.owner_text import owner_name
from portwatch.ui.icons import EXPOSURE_WORDS
from portwatch.ui.tables.addresses import address_sort_key
from portwatch.ui.tables.cells import SORT_ROLE

AnyIndex = QModelIndex | QPersistentModelIndex
HoldingKey = tuple[str, int, int | None, float | None]

BEFORE_PORTWATCH = "before portwatch started"
BEFORE_HISTORY = "(before history)"


def _when(epoch: float | None) -> str:
    if epoch is None:
        return ""
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(epoch))


def _key(hold: Holding) -> HoldingKey:
    return (hold.proto, hold.port, hold.pid, hold.start)


def _exposure(hold: Holding) -> Exposure | None:
    try:
        return Exposure(hold.exposure or "")
    except ValueError:
        return None


def exposure_text(hold: Holding) -> str:
    """'public', 'LAN', 'loopback': the Listeners tab's words."""
    exposure = _exposure(hold)
    return EXPOSURE_WORDS[exposure] if exposure is not None else (hold.exposure or "")


def from_text(hold: Holding) -> str:
    since = hold.since
    if since is not None:
        return _when(since)
    return BEFORE_PORTWATCH if hold.seen_at_start else BEFORE_HISTORY


def from_tooltip(hold: Holding) -> str | None:
    if hold.start is None and hold.since is None:
        return "Bound before the oldest kept history"
    if not hold.seen_at_start:
        return None
    seen = f"portwatch first saw it at {_when(hold.start)}" if hold.start is not None else ""
    if hold.since is None:
        known = "when its process started is not known"
        return f"Already held when portwatch started ({known})" + (f"; {seen}" if seen else "")
    return "Already held when portwatch started: this is when its process started" + (
        f"; {seen}" if seen else ""
    )


def _bounds(hold: Holding) -> tuple[bool, bool]:
    """(the start is a lower bound, the end an upper one): a duration of at least / at most."""
    return (hold.since is None, hold.end is not None and not hold.end_known)


def held_text(hold: Holding) -> str:
    """'12 s', '2 h 5 min', '4 min 39 s, still held', 'at least 3 min, still held'."""
    text = format_duration(hold.held_for, words=True)
    if not text:
        return ""
    prefix = {(True, False): "at least ", (False, True): "at most "}.get(_bounds(hold), "")
    return prefix + text + (", still held" if hold.end is None else "")


def held_tooltip(hold: Holding) -> str | None:
    return (
        {
            (True, False): "It was held before portwatch started: since when is not known",
            (False, True): "portwatch was not running when it ended: it ended before this",
            (
                True,
                True,
            ): "Neither its start nor its end is known exactly: portwatch was not running",
        }.get(_bounds(hold))
        if hold.held_for is not None
        else None
    )


def until_text(hold: Holding) -> str:
    if hold.end is None:
        return "still held"
    return ("before " if not hold.end_known else "") + _when(hold.end)


def _number(value: int | None) -> str:
    return str(value) if value is not None else ""


def _exposure_rank(hold: Holding) -> int:
    exposure = _exposure(hold)
    return exposure.rank if exposure is not None else -1


def _address_sort(hold: Holding) -> str:
    return address_sort_key(hold.addresses[0]) if hold.addresses else ""


def _from_sort(hold: Holding) -> float:
    since = hold.since if hold.since is not None else hold.start
    return since if since is not None else 0.0


# Each column: its header, its text, and the raw value it sorts by.
_COLUMNS: tuple[tuple[str, Callable[[Holding], str], Callable[[Holding], Any]], ...] = (
    ("Port", lambda h: str(h.port), lambda h: h.port),
    ("Proto", lambda h: h.proto, lambda h: h.proto),
    ("Address", lambda h: ", ".join(h.addresses), _address_sort),
    ("Exposure", exposure_text, _exposure_rank),
    # No pid was visible when it was recorded (another user's, or the kernel's).
    ("Process", lambda h: owner_name(h.process, h.pid), lambda h: owner_name(h.process, h.pid)),
    ("PID", lambda h: _number(h.pid), lambda h: h.pid if h.pid is not None else -1),
    ("From", from_text, _from_sort),
    ("Until", until_text, lambda h: h.end if h.end is not None else float("inf")),
    ("Held for", held_text, lambda h: h.held_for if h.held_for is not None else -1.0),
    ("Command", lambda h: h.cmdline or "", lambda h: (h.cmdline or "").lower()),
)


class HoldingsModel(QAbstractTableModel):
    """Holding intervals. A new query replaces the rows; a refresh of the same query
    updates rows in place and inserts new ones, so the selection stays put."""

    PORT, PROTO, ADDRESS, EXPOSURE, PROCESS, PID, FROM, UNTIL, HELD, COMMAND = range(10)
    HEADERS = tuple(header for header, _, _ in _COLUMNS)
    _RIGHT = frozenset({PORT, PID, HELD})

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._rows: list[Holding] = []

    def holdings(self) -> list[Holding]:
        return list(self._rows)

    def set_holdings(self, holdings: list[Holding]) -> bool:
        """Show ``holdings``; True when the rows were replaced, False when updated in place."""
        new_keys = [_key(h) for h in holdings]
        old_index = {_key(h): i for i, h in enumerate(self._rows)}
        if set(old_index) - set(new_keys) or not self._rows:
            self.beginResetModel()
            self._rows = list(holdings)
            self.endResetModel()
            return True
        # Same query refreshed: existing rows change in place, new ones are appended.
        for hold, key in zip(holdings, new_keys, strict=True):
            row = old_index.get(key)
            if row is not None and self._rows[row] != hold:
                self._rows[row] = hold
                self.dataChanged.emit(self.index(row, 0), self.index(row, len(self.HEADERS) - 1))
        added = [h for h, key in zip(holdings, new_keys, strict=True) if key not in old_index]
        if added:
            first = len(self._rows)
            self.beginInsertRows(QModelIndex(), first, first + len(added) - 1)
            self._rows.extend(added)
            self.endInsertRows()
        return False

    def rowCount(self, parent: AnyIndex = QModelIndex()) -> int:  # noqa: B008 - Qt's signature
        return 0 if parent.isValid() else len(self._rows)

    def columnCount(self, parent: AnyIndex = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self.HEADERS)

    def headerData(
        self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole
    ) -> Any:
        if orientation == Qt.Orientation.Horizontal and role == Qt.ItemDataRole.DisplayRole:
            return self.HEADERS[section]
        return None

    def data(self, index: AnyIndex, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid() or not 0 <= index.row() < len(self._rows):
            return None
        hold = self._rows[index.row()]
        column = index.column()
        if role == Qt.ItemDataRole.DisplayRole:
            return _COLUMNS[column][1](hold)
        if role == SORT_ROLE:
            return _COLUMNS[column][2](hold)
        if role == Qt.ItemDataRole.ToolTipRole:
            return self._tooltip(hold, column)
        if role == Qt.ItemDataRole.TextAlignmentRole and column in self._RIGHT:
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        return None

    def _tooltip(self, hold: Holding, column: int) -> str | None:
        if column == self.COMMAND:
            return hold.cmdline or None
        if column == self.UNTIL and hold.end is not None and not hold.end_known:
            return "portwatch was not running when it ended: this is when it noticed"
        if column == self.FROM:
            return from_tooltip(hold)
        if column == self.HELD:
            return held_tooltip(hold)
        return None
