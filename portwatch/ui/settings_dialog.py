"""The Settings dialog: every field validated where it is typed; OK only when all are valid."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import replace
from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QDoubleSpinBox,
    QFormLayout,
    QGroupBox,
    QLabel,
    QLineEdit,
    QPushButton,
    QScrollArea,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from portwatch.core.autostart import AutostartError, AutostartManager, autostart_manager
from portwatch.core.model import Exposure
from portwatch.core.portspec import (
    PortSpecError,
    format_port_list,
    parse_port_list,
    parse_port_spec,
)
from portwatch.core.settings import (
    MAX_INTERVAL,
    MAX_QUIET_PERIOD,
    MIN_INTERVAL,
    NotificationStyle,
    Settings,
    WatchedPort,
    parse_ignore_processes,
)
from portwatch.notify.probe import DeliveryProbe
from portwatch.ui.watched_port_row import ERROR_STYLE, WatchedPortRow, error_label, show_error

log = logging.getLogger(__name__)

STYLE_LABELS = {
    NotificationStyle.SYSTEM: "System notification",
    NotificationStyle.TRAY: "Tray balloon",
    NotificationStyle.IN_APP: "In the app only",
}


def _autostart() -> AutostartManager | None:
    """This system's start-at-login manager, or None where it cannot work."""
    try:
        return autostart_manager()
    except (OSError, AutostartError) as exc:
        log.warning("start at login is not available here: %s", exc)
        return None


class SettingsDialog(QDialog):
    """Edits a copy of the settings; ``result_settings()`` after ``accept()``."""

    def __init__(
        self,
        settings: Settings,
        *,
        delivery: DeliveryProbe | None = None,
        tray_available: bool | None = None,
        autostart_factory: Callable[[], Any | None] = _autostart,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.setWindowTitle("portwatch settings")
        self.setObjectName("SettingsDialog")
        self._original = settings
        self.rows: list[WatchedPortRow] = []
        self._autostart = autostart_factory()
        self._ready = False  # rows added while building validate once at the end

        layout = QVBoxLayout(self)

        # --- scanning ---
        general = QGroupBox("Scanning")
        form = QFormLayout(general)
        self.interval = QDoubleSpinBox()
        self.interval.setMaximumWidth(140)
        self.interval.setRange(MIN_INTERVAL, MAX_INTERVAL)
        self.interval.setDecimals(1)
        self.interval.setSingleStep(0.5)
        self.interval.setSuffix(" s")
        self.interval.setValue(settings.scan_interval)
        form.addRow("Scan every", self.interval)
        self.start_at_login = QCheckBox("Start portwatch when I log in")
        form.addRow(self.start_at_login)
        self._init_autostart(settings)
        layout.addWidget(general)

        # --- watched ports ---
        watched = QGroupBox("Watched ports")
        watched_layout = QVBoxLayout(watched)
        hint = QLabel("Alert when these ports are taken or freed. One port or range per line.")
        hint.setWordWrap(True)
        watched_layout.addWidget(hint)
        self.rows_box = QWidget()
        self.rows_layout = QVBoxLayout(self.rows_box)
        self.rows_layout.setContentsMargins(0, 0, 0, 0)
        self.rows_layout.addStretch(1)
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setWidget(self.rows_box)
        scroll.setMinimumHeight(140)
        # As wide as one watched-port row, so the rows never scroll sideways.
        row_width = WatchedPortRow().sizeHint().width()
        scroll.setMinimumWidth(row_width + scroll.verticalScrollBar().sizeHint().width() + 8)
        scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        watched_layout.addWidget(scroll)
        self.add_button = QPushButton("Add watched port")
        self.add_button.clicked.connect(self._add_empty_row)
        watched_layout.addWidget(self.add_button, 0, Qt.AlignmentFlag.AlignLeft)
        layout.addWidget(watched)
        for watch in settings.watched_ports:
            self.add_row(watch)

        # --- alerts ---
        alerts = QGroupBox("Alerts")
        form = QFormLayout(alerts)
        self.exposure_alert = QCheckBox("Alert when a new listener is reachable from")
        self.exposure_alert.setChecked(settings.exposure_alert)
        self.exposure_level = QComboBox()
        self.exposure_level.addItem("the network (public binds)", Exposure.PUBLIC.value)
        self.exposure_level.addItem("the local network or wider (LAN)", Exposure.LAN.value)
        self.exposure_level.setCurrentIndex(
            max(0, self.exposure_level.findData(settings.exposure_level.value))
        )
        form.addRow(self.exposure_alert, self.exposure_level)
        self.ignore_processes = QLineEdit(", ".join(settings.ignore_processes))
        self.ignore_processes.setPlaceholderText("e.g. sshd, cupsd")
        form.addRow("Ignore processes", self.ignore_processes)
        self.ignore_ports = QLineEdit(format_port_list(settings.ignore_ports))
        self.ignore_ports.setPlaceholderText("e.g. 22 udp/5353")
        self.ignore_ports_error = error_label()
        form.addRow("Ignore ports", self.ignore_ports)
        form.addRow("", self.ignore_ports_error)
        self.remote_client = QCheckBox("Alert the first time another machine connects to a port")
        self.remote_client.setChecked(settings.first_remote_client_alert)
        form.addRow(self.remote_client)
        self.quiet_period = QSpinBox()
        self.quiet_period.setRange(0, int(MAX_QUIET_PERIOD))
        self.quiet_period.setSuffix(" s")
        self.quiet_period.setValue(round(settings.quiet_period))
        self.quiet_period.setToolTip("A port that keeps opening and closing alerts once per period")
        self.quiet_period.setMaximumWidth(140)
        form.addRow("Quiet period per port", self.quiet_period)
        self.notification_style = QComboBox()
        for style, label in STYLE_LABELS.items():
            self.notification_style.addItem(label, style.value)
        self.notification_style.setCurrentIndex(
            max(0, self.notification_style.findData(settings.notification_style.value))
        )
        form.addRow("Notify with", self.notification_style)
        layout.addWidget(alerts)

        # --- delivery ---
        delivery_box = QGroupBox("Delivery")
        delivery_layout = QVBoxLayout(delivery_box)
        self.delivery_label = QLabel()
        self.delivery_label.setWordWrap(True)
        self.delivery_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        delivery_layout.addWidget(self.delivery_label)
        self.set_delivery(delivery, tray_available)
        layout.addWidget(delivery_box)

        self.buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel
        )
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)
        layout.addWidget(self.buttons)

        self.exposure_alert.toggled.connect(self.exposure_level.setEnabled)
        self.exposure_level.setEnabled(settings.exposure_alert)
        self.ignore_ports.textChanged.connect(self._validate)
        self._ready = True
        self._validate()

    # --- pieces ---

    def _init_autostart(self, settings: Settings) -> None:
        if self._autostart is None:
            self.start_at_login.setEnabled(False)
            self.start_at_login.setChecked(settings.start_at_login)
            self.start_at_login.setToolTip("Start at login is not available on this system.")
            return
        try:
            enabled = bool(self._autostart.is_enabled())
        except (OSError, AutostartError) as exc:
            self.start_at_login.setEnabled(False)
            self.start_at_login.setToolTip(f"Start at login cannot be read: {exc}")
            return
        self.start_at_login.setChecked(enabled)
        location = getattr(self._autostart, "location", None)
        if callable(location):
            self.start_at_login.setToolTip(f"Recorded in {location()}")

    def set_delivery(self, delivery: DeliveryProbe | None, tray_available: bool | None) -> None:
        lines = []
        if delivery is None:
            lines.append("Notification service: not checked yet.")
        else:
            lines.append(delivery.describe())
        if tray_available is not None:
            lines.append(
                "System tray: available (tray balloons work)."
                if tray_available
                else "System tray: none found. Balloons cannot be shown; portwatch runs in its "
                "window. On GNOME, install the AppIndicator extension."
            )
        self.delivery_label.setText("\n".join(lines))

    def add_row(self, watch: WatchedPort | None) -> WatchedPortRow:
        row = WatchedPortRow(watch)
        row.changed.connect(self._validate)
        row.remove_requested.connect(self._remove_row)
        self.rows.append(row)
        self.rows_layout.insertWidget(self.rows_layout.count() - 1, row)
        self._validate()
        return row

    def _add_empty_row(self) -> None:
        self.add_row(None).ports.setFocus()

    def _remove_row(self, row: WatchedPortRow) -> None:
        self.rows.remove(row)
        self.rows_layout.removeWidget(row)
        row.deleteLater()
        self._validate()

    # --- validation ---

    def errors(self) -> list[str]:
        """Every current problem, as shown next to its field."""
        problems = [
            f"watched port {index + 1}: {row.error.text()}"
            for index, row in enumerate(self.rows)
            if not row.valid
        ]
        seen: dict[str, int] = {}
        for index, row in enumerate(self.rows):
            if not row.valid:
                continue
            key = str(parse_port_spec(row.ports.text()))
            if key in seen:
                message = f"{key} is already in the list (line {seen[key] + 1})"
                show_error(row.error, message)
                problems.append(f"watched port {index + 1}: {message}")
            else:
                seen[key] = index
        if self.ignore_ports_error.text():
            problems.append(f"ignore ports: {self.ignore_ports_error.text()}")
        return problems

    def _validate(self) -> None:
        if not self._ready:
            return
        try:
            parse_port_list(self.ignore_ports.text(), allow_empty=True)
        except PortSpecError as exc:
            show_error(self.ignore_ports_error, str(exc))
        else:
            show_error(self.ignore_ports_error, None)
        for row in self.rows:
            if row.valid:
                show_error(row.error, None)
        problems = self.errors()
        ok = self.buttons.button(QDialogButtonBox.StandardButton.Ok)
        ok.setEnabled(not problems)
        ok.setToolTip("Fix the fields marked in red first." if problems else "")

    @property
    def valid(self) -> bool:
        return not self.errors()

    # --- result ---

    def result_settings(self) -> Settings:
        """The edited settings; call only when ``valid``."""
        if not self.valid:
            raise ValueError("; ".join(self.errors()))
        return replace(
            self._original,
            scan_interval=float(self.interval.value()),
            watched_ports=tuple(row.value() for row in self.rows),
            exposure_alert=self.exposure_alert.isChecked(),
            exposure_level=Exposure(self.exposure_level.currentData()),
            ignore_processes=parse_ignore_processes(self.ignore_processes.text()),
            ignore_ports=tuple(parse_port_list(self.ignore_ports.text(), allow_empty=True)),
            first_remote_client_alert=self.remote_client.isChecked(),
            quiet_period=float(self.quiet_period.value()),
            notification_style=NotificationStyle(self.notification_style.currentData()),
            start_at_login=self.start_at_login.isChecked(),
        )

    def accept(self) -> None:
        if not self.valid:
            return
        if self._autostart is not None and self.start_at_login.isEnabled():
            wanted = self.start_at_login.isChecked()
            try:
                if wanted != bool(self._autostart.is_enabled()):
                    (self._autostart.enable if wanted else self._autostart.disable)()
            except (OSError, AutostartError) as exc:
                self.start_at_login.setToolTip(f"Could not change start at login: {exc}")
                self.start_at_login.setStyleSheet(ERROR_STYLE)
                log.warning("start at login could not be changed: %s", exc)
                return
        super().accept()
