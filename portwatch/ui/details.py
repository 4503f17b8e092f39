"""The details pane under the listener table: everything about one listener."""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterable, Sequence

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import (
    QFormLayout,
    QHeaderView,
    QLabel,
    QSizePolicy,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from portwatch.core.established import accepted_by, listener_endpoints
from portwatch.core.exposure import is_wildcard
from portwatch.core.model import Connection, Listener, format_endpoint
from portwatch.core.naming import NO_LABELS, Labels, holders_text
from portwatch.core.safetext import mask_argv, visible
from portwatch.ui.icons import EXPOSURE_WORDS

log = logging.getLogger(__name__)

UNREADABLE = "not readable (needs privileges)"
MASKED_NOTE = "Passwords in this command are hidden in the history and notifications."
# Rows shown only when there is something to say: the user's name, then what the scan found.
IDENTITY_FIELDS = ("Name", "App", "Project", "Unit", "Container")


def connections_of(
    listener: Listener, connections: Sequence[Connection], listeners: Iterable[Listener] = ()
) -> list[Connection]:
    """The connections that arrived at this listener's socket, whichever holder accepted them.

    ``listeners``: every listener of the scan. A wildcard listener owns the
    connections to any local address but one another of them listens on
    (as ``core.established`` counts them for the row).
    """
    specific = listener_endpoints(listeners) if is_wildcard(listener.address) else set()
    return accepted_by(listener, connections, specific)


def working_directory(listener: Listener) -> str:
    """The main holder's folder as the scan read it (no read here: the UI thread only draws)."""
    if listener.pid is None:
        return "unknown"
    return listener.cwd or UNREADABLE


def holders_line(listener: Listener) -> str:
    """'nginx: master + 2 workers (PIDs 40, 41, 42)'; 'python3 (PID 4242)' for one."""
    text = holders_text(listener)
    if len(listener.pids) > 1:
        text += f" (PIDs {', '.join(map(str, listener.pids))})"
    return text


def format_started(started: float | None) -> str:
    if started is None:
        return "unknown"
    moment = dt.datetime.fromtimestamp(started).astimezone()
    age = dt.datetime.now().astimezone() - moment
    return f"{moment:%Y-%m-%d %H:%M:%S} ({_age(age)} ago)"


def _age(delta: dt.timedelta) -> str:
    seconds = max(0, int(delta.total_seconds()))
    if seconds < 60:
        return f"{seconds} s"
    if seconds < 3600:
        return f"{seconds // 60} min"
    if seconds < 86400:
        return f"{seconds // 3600} h {seconds % 3600 // 60} min"
    return f"{seconds // 86400} d {seconds % 86400 // 3600} h"


class DetailsPane(QWidget):
    """Shows one listener; ``show_listener(None, ...)`` shows a hint instead."""

    # Escape inside the pane: hand the keyboard back to the table.
    leave_requested = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.listener: Listener | None = None
        self.labels: Labels = NO_LABELS

        self.placeholder = QLabel("Select a listener to see its process and connections.")
        self.placeholder.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.placeholder.setEnabled(False)

        self.fields: dict[str, QLabel] = {}
        form = QFormLayout()
        form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        form.setLabelAlignment(Qt.AlignmentFlag.AlignRight)
        for name in (
            "Endpoint",
            *IDENTITY_FIELDS,
            "Held by",
            "Working directory",
            "Process",
            "Command line",
            "Executable",
            "User",
            "Started",
            "Connections",
        ):
            label = QLabel()
            # Process text is never markup: "<h1>FAKE</h1>" shows as typed.
            label.setTextFormat(Qt.TextFormat.PlainText)
            # Selectable by keyboard too, so Enter on a row can land here and Ctrl+C copies.
            label.setTextInteractionFlags(
                Qt.TextInteractionFlag.TextSelectableByMouse
                | Qt.TextInteractionFlag.TextSelectableByKeyboard
            )
            label.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
            label.setWordWrap(True)
            label.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
            self.fields[name] = label
            form.addRow(f"{name}:", label)
            if name == "Command line":
                # Said only when the command line holds a secret (see show_listener).
                self.secret_note = QLabel(MASKED_NOTE)
                self.secret_note.setTextFormat(Qt.TextFormat.PlainText)
                self.secret_note.setWordWrap(True)
                self.secret_note.setEnabled(False)
                form.addRow("", self.secret_note)
        self._form = form

        self.connections = QTableWidget(0, 3)
        self.connections.setHorizontalHeaderLabels(["Remote address", "Remote port", "State"])
        self.connections.verticalHeader().hide()
        self.connections.verticalHeader().setDefaultSectionSize(
            self.connections.fontMetrics().height() + 6
        )
        self.connections.setAlternatingRowColors(True)
        self.connections.setShowGrid(False)
        self.connections.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        self.connections.setSelectionBehavior(QTableWidget.SelectionBehavior.SelectRows)
        header = self.connections.horizontalHeader()
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        header.setSectionResizeMode(1, QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(2, QHeaderView.ResizeMode.ResizeToContents)

        self.body = QWidget()
        body_layout = QVBoxLayout(self.body)
        body_layout.setContentsMargins(0, 0, 0, 0)
        body_layout.addLayout(form)
        body_layout.addWidget(self.connections, 1)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 6, 6, 6)
        layout.addWidget(self.placeholder)
        layout.addWidget(self.body)
        leave = QAction("Back to the table", self)
        leave.setShortcut(QKeySequence(Qt.Key.Key_Escape))
        leave.setShortcutContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
        leave.triggered.connect(self.leave_requested)
        self.addAction(leave)
        self.show_listener(None, ())

    def focus_details(self) -> bool:
        """Put the keyboard on the command line, its text selected; False with nothing shown."""
        if self.listener is None:
            return False
        field = self.fields["Command line"]
        field.setFocus(Qt.FocusReason.ShortcutFocusReason)
        field.setSelection(0, len(field.text()))
        return True

    def field_text(self, name: str) -> str:
        return self.fields[name].text()

    def connection_rows(self) -> list[tuple[str, str, str]]:
        rows = []
        for row in range(self.connections.rowCount()):
            cells = [self.connections.item(row, col) for col in range(3)]
            address, port, state = (cell.text() if cell else "" for cell in cells)
            rows.append((address, port, state))
        return rows

    def set_labels(self, labels: Labels) -> None:
        """The user's names for ports and apps (shown as the listener's Name)."""
        self.labels = labels
        if self.listener is not None:
            self._show_identity(self.listener)

    def _show_identity(self, listener: Listener) -> None:
        values = {
            "Name": self.labels.for_listener(listener),
            "App": listener.app,
            "Project": listener.project,
            "Unit": listener.unit,
            "Container": listener.container,
        }
        for name, value in values.items():
            field = self.fields[name]
            field.setText(visible(value or ""))
            self._form.setRowVisible(field, bool(value))

    def show_listener(
        self,
        listener: Listener | None,
        connections: Sequence[Connection],
        *,
        connections_known: bool = True,
        listeners: Iterable[Listener] = (),
    ) -> None:
        """``listeners``: the whole scan, to tell whose connections a wildcard bind got."""
        self.listener = listener
        self.placeholder.setVisible(listener is None)
        self.body.setVisible(listener is not None)
        if listener is None:
            return
        stack = f" ({listener.stack})" if listener.stack else ""
        self.fields["Endpoint"].setText(
            f"{listener.proto.upper()} {listener.endpoint}{stack} · "
            f"{EXPOSURE_WORDS[listener.exposure]}"
            + (f" · {listener.service}" if listener.service else "")
        )
        self._show_identity(listener)
        # Process text is shown whole (any local user can read it from the OS),
        # with control and bidi characters and newlines as visible escapes.
        self.fields["Held by"].setText(visible(holders_line(listener)))
        self.fields["Process"].setText(visible(listener.owner))
        if listener.cmdline:
            self.fields["Command line"].setText(visible(" ".join(listener.cmdline)))
        else:
            self.fields["Command line"].setText(
                UNREADABLE if listener.pid is not None else "unknown"
            )
        secret = bool(listener.cmdline) and mask_argv(listener.cmdline or ()) != listener.cmdline
        self._form.setRowVisible(self.secret_note, secret)
        unknown = UNREADABLE if listener.pid is not None else "unknown"
        self.fields["Executable"].setText(visible(listener.exe) if listener.exe else unknown)
        self.fields["Working directory"].setText(visible(working_directory(listener)))
        self.fields["User"].setText(visible(listener.user or "unknown"))
        self.fields["Started"].setText(format_started(listener.started))

        mine = connections_of(listener, connections, listeners)
        if listener.proto != "tcp":
            summary = "UDP has no connections"
        elif not connections_known:
            summary = f"{listener.connections} established (details while the window is open)"
        else:
            summary = (
                f"{len(mine)} established, {listener.remote_connections} from other hosts"
                if mine
                else "none established"
            )
        self.fields["Connections"].setText(summary)
        self.connections.setVisible(bool(mine))
        self.connections.setRowCount(len(mine))
        for row, conn in enumerate(sorted(mine, key=lambda c: (c.remote_address, c.remote_port))):
            remote = format_endpoint(conn.remote_address, conn.remote_port, conn.family)
            address = remote.rsplit(":", 1)[0]
            for col, text in enumerate((address, str(conn.remote_port), conn.state)):
                cell = QTableWidgetItem(text)
                if col == 1:
                    cell.setTextAlignment(
                        Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter
                    )
                self.connections.setItem(row, col, cell)
