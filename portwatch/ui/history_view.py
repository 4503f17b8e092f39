"""The History tab: who held a port, when, for how long, with which command; CSV export.

The latest holdings are there as soon as the tab is shown: each time it is
shown, and after new events while it is, the current search runs again on
the thread pool. No rows: a sentence says what was searched.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from PySide6.QtCore import QSortFilterProxyModel, Qt, Signal
from PySide6.QtGui import QShowEvent
from PySide6.QtWidgets import (
    QAbstractItemView,
    QFileDialog,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QPushButton,
    QStackedWidget,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from portwatch.core.history import (
    HistoryError,
    HistoryReader,
    Holding,
    parse_since,
    since_words,
    write_holdings_csv,
)
from portwatch.core.portspec import PortSpecError, parse_port
from portwatch.core.safetext import visible
from portwatch.ui.history_model import HoldingsModel
from portwatch.ui.tables.cells import SORT_ROLE
from portwatch.ui.thread_pool import run_in_pool

log = logging.getLogger(__name__)

ERROR_STYLE = "color: #B3261E;"
ROW_LIMIT = 5000
NOTHING_RECORDED = (
    "No port has been recorded yet. portwatch records who holds which port while it runs."
)
# Column widths follow the contents of this many rows (a new search's first answer).
SIZED_ROWS = 200


def nothing_found(port: int | None, process: str | None, since_text: str | None) -> str:
    """What an empty answer says: 'No holding matches port 3000 in the last 2 hours'."""
    subject = " and ".join(
        [
            *([f"port {port}"] if port is not None else []),
            *([f"“{visible(process)}”"] if process else []),
        ]
    )
    when = f" {since_words(since_text)}" if since_text else ""
    if subject:
        return f"No holding matches {subject}{when}"
    return f"No port was held{when}" if when else NOTHING_RECORDED


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
        self.table.horizontalHeader().setResizeContentsPrecision(SIZED_ROWS)
        self.table.setModel(self.proxy)
        self.table.setSortingEnabled(True)
        self.table.sortByColumn(HoldingsModel.FROM, Qt.SortOrder.DescendingOrder)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.verticalHeader().hide()
        self.table.horizontalHeader().setSectionResizeMode(
            HoldingsModel.COMMAND, QHeaderView.ResizeMode.Stretch
        )

        self.empty = QLabel()
        self.empty.setObjectName("historyEmpty")
        self.empty.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.empty.setWordWrap(True)
        self.empty.setEnabled(False)  # dimmed, as the details pane's hint
        self.pages = QStackedWidget()
        self.pages.addWidget(self.table)
        self.pages.addWidget(self.empty)

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
        layout.addWidget(self.pages, 1)
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

    def showEvent(self, event: QShowEvent) -> None:
        """Shown (its tab chosen, the window opened): the latest holdings, off the UI thread."""
        super().showEvent(event)
        self.refresh()

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
        empty = nothing_found(
            filters["port"], filters["process"], self.since_edit.text().strip() or None
        )

        def query() -> list[Holding] | HistoryError:
            try:
                return history.holdings(**filters, limit=ROW_LIMIT)
            except HistoryError as exc:
                return exc

        run_in_pool(self, query, lambda found: self._show(number, found, empty))

    def _show(self, number: int, found: list[Holding] | HistoryError, empty: str) -> None:
        if number != self._searches:
            return  # a newer search is under way
        if isinstance(found, HistoryError):
            self.error.setText(str(found))
            self.error.show()
            return
        if self.model.set_holdings(found) and found:
            self.table.resizeColumnsToContents()
        self.empty.setText(empty)
        self.pages.setCurrentWidget(self.table if found else self.empty)
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
