"""The History tab: who held a port, when, for how long, with which command; CSV export."""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Any

from PySide6.QtCore import (
    QAbstractTableModel,
    QModelIndex,
    QObject,
    QPersistentModelIndex,
    QSortFilterProxyModel,
    Qt,
    Signal,
)
from PySide6.QtWidgets import (
    QAbstractItemView,
    QFileDialog,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QPushButton,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from portwatch.core.formats import format_duration
from portwatch.core.history import (
    HistoryError,
    HistoryReader,
    Holding,
    parse_since,
    write_holdings_csv,
)
from portwatch.core.owner_text import owner_name
from portwatch.core.portspec import PortSpecError, parse_port
from portwatch.core.safetext import visible
from portwatch.ui.tables.cells import SORT_ROLE
from portwatch.ui.thread_pool import run_in_pool

log = logging.getLogger(__name__)

AnyIndex = QModelIndex | QPersistentModelIndex
ERROR_STYLE = "color: #B3261E;"
ROW_LIMIT = 5000


def _when(epoch: float | None) -> str:
    if epoch is None:
        return ""
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(epoch))


HoldingKey = tuple[str, int, int | None, float | None]


def _key(hold: Holding) -> HoldingKey:
    return (hold.proto, hold.port, hold.pid, hold.start)


class HoldingsModel(QAbstractTableModel):
    """Holding intervals. A new query replaces the rows; a refresh of the same query
    updates rows in place and inserts new ones, so the selection stays put."""

    PORT, PROTO, PROCESS, PID, FROM, UNTIL, HELD, COMMAND = range(8)
    HEADERS = ("Port", "Proto", "Process", "PID", "From", "Until", "Held for", "Command")

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._rows: list[Holding] = []

    def holdings(self) -> list[Holding]:
        return list(self._rows)

    def set_holdings(self, holdings: list[Holding]) -> None:
        new_keys = [_key(h) for h in holdings]
        old_index = {_key(h): i for i, h in enumerate(self._rows)}
        if set(old_index) - set(new_keys):
            self.beginResetModel()
            self._rows = list(holdings)
            self.endResetModel()
            return
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
            return self._text(hold, column)
        if role == SORT_ROLE:
            return self._sort(hold, column)
        if role == Qt.ItemDataRole.ToolTipRole:
            if column == self.COMMAND and hold.cmdline:
                return hold.cmdline
            if column == self.UNTIL and hold.end is not None and not hold.end_known:
                return "portwatch was not running when it ended: this is when it noticed"
            if column == self.FROM and hold.start is None:
                return "Bound before the oldest kept history"
            return None
        if role == Qt.ItemDataRole.TextAlignmentRole and column in (self.PORT, self.PID, self.HELD):
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        return None

    def _text(self, hold: Holding, column: int) -> str:
        if column == self.PORT:
            return str(hold.port)
        if column == self.PROTO:
            return hold.proto
        if column == self.PROCESS:
            # No pid was visible when it was recorded (another user's, or the kernel's).
            return owner_name(hold.process, hold.pid)
        if column == self.PID:
            return str(hold.pid) if hold.pid is not None else ""
        if column == self.FROM:
            return _when(hold.start) if hold.start is not None else "(before history)"
        if column == self.UNTIL:
            if hold.end is None:
                return "still held"
            return ("before " if not hold.end_known else "") + _when(hold.end)
        if column == self.HELD:
            text = format_duration(hold.duration)
            return text + "+" if hold.end is None and text else text
        return hold.cmdline or ""

    def _sort(self, hold: Holding, column: int) -> Any:
        if column == self.PORT:
            return hold.port
        if column == self.PID:
            return hold.pid if hold.pid is not None else -1
        if column == self.FROM:
            return hold.start if hold.start is not None else 0.0
        if column == self.UNTIL:
            return hold.end if hold.end is not None else float("inf")
        if column == self.HELD:
            return hold.duration if hold.duration is not None else -1.0
        return self._text(hold, column).lower()


class HistoryView(QWidget):
    """Search fields (port, process, since), the intervals, and Export CSV."""

    searched = Signal(int)  # a search's rows are shown: how many
    exported = Signal(int)  # Export CSV… wrote the file: how many rows

    def __init__(self, history: HistoryReader, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.history = history
        self._searches = 0  # numbers the searches, so a slow one cannot overwrite a newer one
        self.model = HoldingsModel(self)
        self.proxy = QSortFilterProxyModel(self)
        self.proxy.setSourceModel(self.model)
        self.proxy.setSortRole(SORT_ROLE)

        self.port_edit = QLineEdit()
        self.port_edit.setPlaceholderText("port, e.g. 3000")
        self.port_edit.setMaximumWidth(140)
        self.process_edit = QLineEdit()
        self.process_edit.setPlaceholderText("process or command contains…")
        self.since_edit = QLineEdit()
        self.since_edit.setPlaceholderText("since: 2h, 1d, 2026-11-21")
        self.since_edit.setMaximumWidth(200)
        self.search_button = QPushButton("Search")
        self.error = QLabel()
        self.error.setStyleSheet(ERROR_STYLE)
        self.error.hide()

        self.table = QTableView()
        self.table.setModel(self.proxy)
        self.table.setSortingEnabled(True)
        self.table.sortByColumn(HoldingsModel.FROM, Qt.SortOrder.DescendingOrder)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.verticalHeader().hide()
        self.table.horizontalHeader().setSectionResizeMode(
            HoldingsModel.COMMAND, QHeaderView.ResizeMode.Stretch
        )

        self.count_label = QLabel()
        self.export_button = QPushButton("Export CSV…")

        search = QHBoxLayout()
        search.addWidget(self.port_edit)
        search.addWidget(self.process_edit, 1)
        search.addWidget(self.since_edit)
        search.addWidget(self.search_button)
        bottom = QHBoxLayout()
        bottom.addWidget(self.count_label, 1)
        bottom.addWidget(self.export_button)
        layout = QVBoxLayout(self)
        layout.addLayout(search)
        layout.addWidget(self.error)
        layout.addWidget(self.table, 1)
        layout.addLayout(bottom)

        for edit in (self.port_edit, self.process_edit, self.since_edit):
            edit.returnPressed.connect(self.search)
        self.search_button.clicked.connect(self.search)
        self.export_button.clicked.connect(self._export_clicked)

    def filters(self) -> dict[str, Any] | None:
        """The search fields as query filters, or None (with the error shown) when invalid."""
        port_text = self.port_edit.text().strip()
        port: int | None = None
        message = None
        if port_text:
            try:
                port = parse_port(port_text)
            except PortSpecError:
                message = f"'{visible(port_text[:40])}' is not a port number (1-65535)"
        since: float | None = None
        since_text = self.since_edit.text().strip()
        if since_text and message is None:
            try:
                since = parse_since(since_text)
            except ValueError as exc:
                message = str(exc)
        self.error.setText(message or "")
        self.error.setVisible(message is not None)
        if message is not None:
            return None
        return {"port": port, "process": self.process_edit.text().strip() or None, "since": since}

    def search(self) -> None:
        filters = self.filters()
        if filters is None:
            return
        self._run(filters)

    def close_history(self) -> None:
        """Let go of the database (the app is quitting)."""
        self.history.close()

    def refresh(self) -> None:
        """Re-run the current search (after new events were recorded)."""
        filters = self.filters()
        if filters is not None:
            self._run(filters)

    def show_port(self, port: int) -> None:
        self.port_edit.setText(str(port))
        self.search()

    def _run(self, filters: dict[str, Any]) -> None:
        # The query runs on the thread pool (the UI thread only draws); when
        # searches overlap, only the newest one's answer is shown.
        self._searches += 1
        number = self._searches
        history = self.history

        def query() -> list[Holding] | HistoryError:
            try:
                return history.holdings(**filters, limit=ROW_LIMIT)
            except HistoryError as exc:
                return exc

        run_in_pool(self, query, lambda found: self._show(number, found))

    def _show(self, number: int, found: list[Holding] | HistoryError) -> None:
        if number != self._searches:
            return  # a newer search is under way
        if isinstance(found, HistoryError):
            self.error.setText(str(found))
            self.error.show()
            return
        self.model.set_holdings(found)
        count = len(found)
        more = " (the newest shown)" if count >= ROW_LIMIT else ""
        self.count_label.setText(f"{count} holding{'s' if count != 1 else ''}{more}")
        self.searched.emit(count)

    def export_csv(self, path: Path) -> int:
        """Write what the table shows to ``path`` (atomic, 0600); returns the number of rows."""
        return write_holdings_csv(path, self.model.holdings())

    def _export_clicked(self) -> None:
        name, _ = QFileDialog.getSaveFileName(
            self, "Export port history", str(Path.home() / "portwatch-history.csv"), "CSV (*.csv)"
        )
        if not name:
            return
        path = Path(name)
        shown = list(self.model.holdings())  # taken here: the pool must not read the model

        def write() -> int | OSError:
            try:
                return write_holdings_csv(path, shown)
            except OSError as exc:
                return exc

        run_in_pool(self, write, lambda written: self._exported(name, written))

    def _exported(self, name: str, written: int | OSError) -> None:
        if isinstance(written, OSError):
            self.error.setText(f"Could not write {name}: {written.strerror or written}")
            self.error.show()
            return
        self.error.hide()
        self.count_label.setText(f"Exported {written} rows to {name}")
        self.exported.emit(written)
