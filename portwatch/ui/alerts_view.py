"""The Alerts tab: every alert, newest first, so nothing is lost when a notification is missed."""

from __future__ import annotations

import time
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
from PySide6.QtGui import QColor, QIcon, QPainter, QPixmap
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPushButton,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from portwatch.core.alerts.alert import Alert, AlertKind, Urgency
from portwatch.core.owner_text import owner_text
from portwatch.core.safetext import visible, visible_lines
from portwatch.ui.tables.cells import SORT_ROLE, plain_tooltip

AnyIndex = QModelIndex | QPersistentModelIndex

ALERT_ROLE = int(Qt.ItemDataRole.UserRole) + 10
MAX_ALERTS = 2000

QUIET_FOREGROUND = QColor(130, 130, 130)
CRITICAL_FOREGROUND = QColor(179, 38, 30)

# Each kind of news its colour (a dot before the text) and its words (the tooltip).
KIND_LOOKS: dict[AlertKind, tuple[str, str]] = {
    AlertKind.EXPOSED: ("#D9730D", "Reachable from the network"),
    AlertKind.OCCUPIED: ("#2F6FDB", "A watched port was taken"),
    AlertKind.FREED: ("#2E9D5B", "A watched port was freed"),
    AlertKind.RESTARTED: ("#1B8A8A", "A watched port was restarted"),
    AlertKind.WITHDRAWN: ("#8C8C8C", "Closed again soon after"),
    AlertKind.UNEXPECTED_OWNER: ("#B3261E", "A port rule was broken"),
    AlertKind.EXPOSURE_POLICY: ("#B3261E", "A port rule was broken"),
    AlertKind.REMOTE_CLIENT: ("#7B3FB5", "Another machine connected"),
    AlertKind.SUMMARY: ("#505050", "Several alerts at once"),
    AlertKind.STARTUP: ("#8C8C8C", "What was there at start"),
    AlertKind.NOTICE: ("#8C8C8C", "From portwatch"),
}


def format_clock(epoch: float) -> str:
    """'14:03:12' today, '2026-11-20 14:03' on other days."""
    now = time.localtime()
    when = time.localtime(epoch)
    if when[:3] == now[:3]:
        return time.strftime("%H:%M:%S", when)
    return time.strftime("%Y-%m-%d %H:%M", when)


class AlertsModel(QAbstractTableModel):
    """Alerts, newest at row 0; inserts one row at a time, trims the oldest past the cap."""

    TIME, PORT, WHAT, PROCESS = range(4)
    HEADERS = ("Time", "Port", "What happened", "Process")

    def __init__(self, parent: QObject | None = None, *, max_rows: int = MAX_ALERTS) -> None:
        super().__init__(parent)
        self._alerts: list[Alert] = []
        self.max_rows = max_rows
        self._expanded: set[int] = set()  # id() of the summaries shown with their alerts
        self._dots: dict[str, QIcon] = {}

    def add_alert(self, alert: Alert) -> None:
        self.beginInsertRows(QModelIndex(), 0, 0)
        self._alerts.insert(0, alert)
        self.endInsertRows()
        if len(self._alerts) > self.max_rows:
            first = self.max_rows
            self.beginRemoveRows(QModelIndex(), first, len(self._alerts) - 1)
            self._expanded -= {id(alert) for alert in self._alerts[first:]}
            del self._alerts[first:]
            self.endRemoveRows()

    def add_older(self, alerts: list[Alert]) -> None:
        """Alerts older than every listed one (earlier runs'), oldest first, below the rest."""
        room = self.max_rows - len(self._alerts)
        older = list(reversed(alerts))[: max(0, room)]
        if not older:
            return
        first = len(self._alerts)
        self.beginInsertRows(QModelIndex(), first, first + len(older) - 1)
        self._alerts.extend(older)
        self.endInsertRows()

    def clear(self) -> None:
        if not self._alerts:
            return
        self.beginRemoveRows(QModelIndex(), 0, len(self._alerts) - 1)
        self._alerts.clear()
        self._expanded.clear()
        self.endRemoveRows()

    def toggle_expanded(self, row: int) -> bool:
        """Show a summary's alerts under it, or fold them away; False for other rows."""
        alert = self._alerts[row]
        if not alert.details:
            return False
        self._expanded ^= {id(alert)}
        cell = self.index(row, self.WHAT)
        self.dataChanged.emit(cell, cell)
        return True

    def is_expanded(self, row: int) -> bool:
        return id(self._alerts[row]) in self._expanded

    def alerts(self) -> list[Alert]:
        return list(self._alerts)

    def alert_at(self, row: int) -> Alert:
        return self._alerts[row]

    def rowCount(self, parent: AnyIndex = QModelIndex()) -> int:  # noqa: B008 - Qt's signature
        return 0 if parent.isValid() else len(self._alerts)

    def columnCount(self, parent: AnyIndex = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self.HEADERS)

    def headerData(
        self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole
    ) -> Any:
        if orientation == Qt.Orientation.Horizontal and role == Qt.ItemDataRole.DisplayRole:
            return self.HEADERS[section]
        return None

    def data(self, index: AnyIndex, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid() or not 0 <= index.row() < len(self._alerts):
            return None
        alert = self._alerts[index.row()]
        column = index.column()
        if role == Qt.ItemDataRole.DisplayRole:
            return self._text(alert, column)
        if role == SORT_ROLE:
            return self._sort(alert, column)
        if role == Qt.ItemDataRole.ToolTipRole:
            kind = KIND_LOOKS.get(alert.kind, ("", ""))[1]
            note = "\n(not notified: quiet period)" if alert.suppressed else ""
            text = f"{alert.title}\n{alert.body}{note}" if alert.body else alert.title + note
            if alert.details:
                text += "\n(double-click to show its alerts here)"
            return plain_tooltip(f"{kind}\n{text}" if kind else text, multiline=True)
        if role == Qt.ItemDataRole.DecorationRole and column == self.WHAT:
            return self._dot(alert.kind)
        if role == Qt.ItemDataRole.ForegroundRole:
            if alert.suppressed:
                return QUIET_FOREGROUND
            if alert.urgency is Urgency.CRITICAL:
                return CRITICAL_FOREGROUND
            return None
        if role == Qt.ItemDataRole.TextAlignmentRole and column == self.PORT:
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        if role == ALERT_ROLE:
            return alert
        return None

    def _text(self, alert: Alert, column: int) -> str:
        if column == self.TIME:
            return format_clock(alert.at)
        if column == self.PORT:
            if alert.port is None:
                return ""
            if len(alert.ports) > 1:
                return f"{alert.ports[0]} +{len(alert.ports) - 1}"
            return str(alert.port)
        if column == self.WHAT:
            first_line = alert.body.split("\n", 1)[0] if alert.body else ""
            text = visible(f"{alert.title} — {first_line}" if first_line else alert.title)
            if id(alert) in self._expanded:
                text += "".join(f"\n    {visible(line)}" for line in alert.details)
            elif alert.details:
                text += f"  [{len(alert.details)} alerts ▸]"
            return text
        # The holder as the alert names it; alerts of older versions carry only the process.
        name = alert.holder or alert.process
        if alert.pid is None:
            return visible(name or "")
        return visible(owner_text(name, alert.pid))

    def _dot(self, kind: AlertKind) -> QIcon | None:
        looks = KIND_LOOKS.get(kind)
        if looks is None:
            return None
        icon = self._dots.get(looks[0])
        if icon is None:
            pixmap = QPixmap(10, 10)
            pixmap.fill(Qt.GlobalColor.transparent)
            painter = QPainter(pixmap)
            painter.setRenderHint(QPainter.RenderHint.Antialiasing)
            painter.setPen(Qt.PenStyle.NoPen)
            painter.setBrush(QColor(looks[0]))
            painter.drawEllipse(0, 0, 10, 10)
            painter.end()
            icon = self._dots[looks[0]] = QIcon(pixmap)
        return icon

    def _sort(self, alert: Alert, column: int) -> Any:
        if column == self.TIME:
            return alert.at
        if column == self.PORT:
            return alert.port if alert.port is not None else -1
        return self._text(alert, column).lower()


class AlertsView(QWidget):
    """The tab: a banner for the latest unread in-app alert, the table, and Clear."""

    port_activated = Signal(int)  # a row was double-clicked: show that port

    def __init__(self, model: AlertsModel | None = None, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.model = model or AlertsModel(self)
        self.proxy = QSortFilterProxyModel(self)
        self.proxy.setSourceModel(self.model)
        self.proxy.setSortRole(SORT_ROLE)

        self.banner = QLabel()
        # Rich text on purpose (a bold title); every alert text in it is escaped (_html).
        self.banner.setTextFormat(Qt.TextFormat.RichText)
        self.banner.setObjectName("AlertBanner")
        self.banner.setWordWrap(True)
        self.banner.setStyleSheet(
            "QLabel#AlertBanner { background: #FFF4D6; color: #4A3B00; padding: 6px; }"
        )
        self.banner.hide()
        self.dismiss = QPushButton("Dismiss")
        self.dismiss.hide()
        self.dismiss.clicked.connect(self.clear_banner)

        self.table = QTableView()
        self.table.setModel(self.proxy)
        self.table.setSortingEnabled(True)
        self.table.sortByColumn(AlertsModel.TIME, Qt.SortOrder.DescendingOrder)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.verticalHeader().hide()
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(AlertsModel.WHAT, QHeaderView.ResizeMode.Stretch)
        self.table.setColumnWidth(AlertsModel.TIME, 130)
        self.table.setColumnWidth(AlertsModel.PORT, 70)
        self.table.setColumnWidth(AlertsModel.PROCESS, 180)
        self.table.doubleClicked.connect(self._activated)

        self.count_label = QLabel()
        self.clear_button = QPushButton("Clear list")
        self.clear_button.clicked.connect(self.model.clear)

        top = QHBoxLayout()
        top.addWidget(self.banner, 1)
        top.addWidget(self.dismiss)
        bottom = QHBoxLayout()
        bottom.addWidget(self.count_label, 1)
        bottom.addWidget(self.clear_button)
        layout = QVBoxLayout(self)
        layout.addLayout(top)
        layout.addWidget(self.table, 1)
        layout.addLayout(bottom)

        for sig in (self.model.rowsInserted, self.model.rowsRemoved):
            sig.connect(self._update_count)
        self._update_count()

    def add_alert(self, alert: Alert) -> None:
        """List an alert (every alert is listed, however it is delivered)."""
        self.model.add_alert(alert)

    def show_banner(self, alert: Alert) -> None:
        """The in-app alert: shown when nothing outside the app can deliver it."""
        title, body = visible(alert.title), visible_lines(alert.body)
        self.banner.setText(f"<b>{_html(title)}</b><br>{_html(body)}")
        self.banner.show()
        self.dismiss.show()

    def clear_banner(self) -> None:
        self.banner.hide()
        self.dismiss.hide()

    def _update_count(self) -> None:
        count = self.model.rowCount()
        self.count_label.setText(f"{count} alert{'s' if count != 1 else ''}")

    def _activated(self, index: QModelIndex) -> None:
        """A summary opens or folds its alerts; any other row shows its port."""
        row = self.proxy.mapToSource(index).row()
        if self.model.toggle_expanded(row):
            self.table.resizeRowToContents(index.row())
            return
        alert = self.proxy.data(index, ALERT_ROLE)
        if isinstance(alert, Alert) and alert.port is not None:
            self.port_activated.emit(alert.port)


def _html(text: str) -> str:
    return (
        text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace("\n", "<br>")
    )
