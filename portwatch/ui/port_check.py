"""The "Is port N free?" box: free, or held by whom, and the nearest free port.

The check binds the port on 127.0.0.1, 0.0.0.0, ::1 and :: and releases it at
once; it and the suggestion run on the thread pool, the answer comes back
as ``answered(PortAnswer)`` (TCP and UDP).
"""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import QHBoxLayout, QLabel, QLineEdit, QPushButton, QVBoxLayout, QWidget

from portwatch.core.model import Snapshot
from portwatch.core.naming import NO_LABELS, Labels
from portwatch.core.portcheck import PortAnswer, answer_port
from portwatch.core.portspec import validate_port
from portwatch.core.safetext import visible_lines
from portwatch.ui.thread_pool import run_in_pool

ERROR_STYLE = "color: #b00020;"
FREE_STYLE = "color: #1b7f3b;"
BUSY_STYLE = "color: #8a5a00;"


class PortCheckBox(QWidget):
    """A line edit, a Check button and the answer below them.

    ``snapshot_provider`` returns the window's latest snapshot (names the
    holders without a new scan); without one, a scan runs when needed.
    ``labels_provider`` returns the user's names for ports and apps.
    """

    answered = Signal(object)  # PortAnswer
    invalid = Signal(str)  # the inline message for bad input
    show_port_requested = Signal(int)

    def __init__(
        self,
        parent: QWidget | None = None,
        *,
        snapshot_provider: Callable[[], Snapshot | None] | None = None,
        labels_provider: Callable[[], Labels] = lambda: NO_LABELS,
    ) -> None:
        super().__init__(parent)
        self.snapshot_provider = snapshot_provider
        self.labels_provider = labels_provider
        self.last_check: PortAnswer | None = None
        self._busy = False

        self.port_edit = QLineEdit()
        self.port_edit.setObjectName("portCheckInput")
        self.port_edit.setPlaceholderText("Port, e.g. 3000")
        self.port_edit.setMaxLength(6)
        self.port_edit.setClearButtonEnabled(True)
        self.port_edit.returnPressed.connect(self.check)
        self.port_edit.textEdited.connect(self._clear_error)
        self.check_button = QPushButton("Is it free?")
        self.check_button.clicked.connect(self.check)

        self.answer_label = QLabel("Type a port to see whether a server could bind it.")
        self.answer_label.setObjectName("portCheckAnswer")
        self.answer_label.setTextFormat(Qt.TextFormat.PlainText)  # it names processes
        self.answer_label.setWordWrap(True)
        self.answer_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)

        self.show_button = QPushButton("Show in table")
        self.show_button.setToolTip("Show the sockets on this port in the listeners table")
        self.show_button.clicked.connect(self._show_port)
        self.show_button.hide()
        self.copy_suggestion_button = QPushButton()
        self.copy_suggestion_button.clicked.connect(self._copy_suggestion)
        self.copy_suggestion_button.hide()

        row = QHBoxLayout()
        row.addWidget(QLabel("Is port"))
        row.addWidget(self.port_edit)
        row.addWidget(self.check_button)
        row.addStretch(1)
        buttons = QHBoxLayout()
        buttons.addWidget(self.show_button)
        buttons.addWidget(self.copy_suggestion_button)
        buttons.addStretch(1)
        layout = QVBoxLayout(self)
        layout.addLayout(row)
        layout.addWidget(self.answer_label)
        layout.addLayout(buttons)
        layout.addStretch(1)

    def check(self) -> None:
        """Validate the input; answer inline if it is bad, else check on the pool."""
        if self._busy:
            return
        port, error = validate_port(self.port_edit.text())
        if port is None:
            self._say(error or "Enter a port number (1-65535).", ERROR_STYLE)
            self.show_button.hide()
            self.copy_suggestion_button.hide()
            self.invalid.emit(error or "")
            return
        snapshot = self.snapshot_provider() if self.snapshot_provider is not None else None
        self._busy = True
        self.check_button.setEnabled(False)
        self._say(f"Checking port {port}…", "")
        run_in_pool(self, lambda: answer_port(port, snapshot=snapshot), self._answered)

    def _answered(self, result: PortAnswer) -> None:
        self._busy = False
        self.check_button.setEnabled(True)
        self.last_check = result
        self._say(result.message(self.labels_provider()), FREE_STYLE if result.free else BUSY_STYLE)
        self.show_button.setVisible(bool(result.holders))
        suggested = result.suggestion.port if result.suggestion else None
        self.copy_suggestion_button.setVisible(suggested is not None)
        if suggested is not None:
            self.copy_suggestion_button.setText(f"Copy {suggested}")
        self.answered.emit(result)

    def _say(self, text: str, style: str) -> None:
        self.answer_label.setText(visible_lines(text))
        self.answer_label.setStyleSheet(style)

    def _clear_error(self, _text: str) -> None:
        if self.answer_label.styleSheet() == ERROR_STYLE:
            self._say("", "")

    def _show_port(self) -> None:
        if self.last_check is not None:
            self.show_port_requested.emit(self.last_check.port)

    def _copy_suggestion(self) -> None:
        check = self.last_check
        if check is not None and check.suggestion is not None and check.suggestion.port:
            QGuiApplication.clipboard().setText(str(check.suggestion.port))
