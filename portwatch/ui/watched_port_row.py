"""One row of the Settings dialog's watched ports: the port or range, its switches, its policy."""

from __future__ import annotations

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from portwatch.core.model import Exposure
from portwatch.core.portspec import PortSpecError, parse_port_spec
from portwatch.core.settings import WatchedPort

ERROR_STYLE = "color: #B3261E;"

# Combo boxes carry plain strings: Qt turns a StrEnum into str on the way back.
ALLOWED_LABELS: list[tuple[str, str]] = [
    ("any exposure", ""),
    ("loopback only", Exposure.LOOPBACK.value),
    ("loopback or LAN", Exposure.LAN.value),
]


def error_label() -> QLabel:
    label = QLabel()
    label.setStyleSheet(ERROR_STYLE)
    label.setWordWrap(True)
    label.hide()
    return label


def show_error(label: QLabel, message: str | None) -> None:
    label.setText(message or "")
    label.setVisible(bool(message))


class WatchedPortRow(QWidget):
    """One watched port or range, its switches and policy, and its own error line."""

    changed = Signal()
    remove_requested = Signal(object)  # self

    def __init__(self, watch: WatchedPort | None = None, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.ports = QLineEdit(str(watch.ports) if watch else "")
        self.ports.setPlaceholderText("3000, 8000-8010 or tcp/5432")
        self.ports.setAccessibleName("Watched port or range")
        # Room for "tcp/5432" or "8000-8010" and for the owner's hint text.
        self.ports.setMinimumWidth(
            self.ports.fontMetrics().horizontalAdvance("udp/65000-65535") + 16
        )
        self.occupied = QCheckBox("when taken")
        self.occupied.setChecked(watch.notify_occupied if watch else True)
        self.freed = QCheckBox("when freed")
        self.freed.setChecked(watch.notify_freed if watch else True)
        self.owner = QLineEdit(watch.expected_owner or "" if watch else "")
        self.owner.setPlaceholderText("expected owner (optional)")
        self.owner.setMinimumWidth(
            self.owner.fontMetrics().horizontalAdvance("expected owner (optional)") + 16
        )
        self.owner.setToolTip(
            "A process name (postgres) or executable path; any other owner alerts"
        )
        self.allowed = QComboBox()
        for label, value in ALLOWED_LABELS:
            self.allowed.addItem(label, value)
        if watch and watch.allowed_exposure is not None:
            index = self.allowed.findData(watch.allowed_exposure.value)
            self.allowed.setCurrentIndex(max(0, index))
        self.remove = QPushButton("Remove")
        self.error = error_label()

        line = QHBoxLayout()
        line.setContentsMargins(0, 0, 0, 0)
        line.addWidget(self.ports, 2)
        line.addWidget(self.occupied)
        line.addWidget(self.freed)
        line.addWidget(self.owner, 2)
        line.addWidget(self.allowed)
        line.addWidget(self.remove)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(2)
        layout.addLayout(line)
        layout.addWidget(self.error)

        self.ports.textChanged.connect(self._validate)
        for box in (self.occupied, self.freed):
            box.toggled.connect(self.changed)
        self.owner.textChanged.connect(self.changed)
        self.allowed.currentIndexChanged.connect(self.changed)
        self.remove.clicked.connect(lambda: self.remove_requested.emit(self))
        self._valid = False
        self._validate()

    @property
    def valid(self) -> bool:
        return self._valid

    def _validate(self) -> None:
        message = None
        try:
            parse_port_spec(self.ports.text())
        except PortSpecError as exc:
            message = (
                "Enter a port or range, e.g. 3000" if not self.ports.text().strip() else str(exc)
            )
        self._valid = message is None
        show_error(self.error, message)
        self.changed.emit()

    def value(self) -> WatchedPort:
        return WatchedPort(
            ports=parse_port_spec(self.ports.text()),
            notify_occupied=self.occupied.isChecked(),
            notify_freed=self.freed.isChecked(),
            expected_owner=self.owner.text().strip() or None,
            allowed_exposure=Exposure(self.allowed.currentData())
            if self.allowed.currentData()
            else None,
        )
