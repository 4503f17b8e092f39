"""'Rename…': a name of the user's own for a port or an app, stored in the settings.

``rename_targets`` says what a set of listeners can be named as (their one
port, their one app). ``RenameDialog`` asks "Name for port 3000" with the
current name filled in; it checks the name with ``settings_model.check_label``
and says what is wrong only once the user has typed. "Remove name" is there
when a name exists. ``Renamer`` opens it and hands the edit to ``save``,
which runs it on the settings store's thread (``PipelineThread.edit_settings``)
against the settings in use then, never on the UI thread.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QLabel,
    QLineEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from portwatch.core.model import Listener
from portwatch.core.naming import Labels, app_and_project
from portwatch.core.safetext import visible
from portwatch.core.settings import Settings, SettingsError
from portwatch.core.settings_model import check_label
from portwatch.ui.watched_port_row import error_label, show_error

SettingsEdit = Callable[[Settings], Settings]


@dataclass(frozen=True, slots=True)
class RenameTarget:
    """A port or an app to name; ``detected`` is what it is called without a name."""

    port: int | None = None
    app: str | None = None
    detected: str = ""

    @property
    def what(self) -> str:
        """'port 3000' or 'nginx' (as the program gave it: escape it to show it)."""
        return f"port {self.port}" if self.port is not None else self.app or ""

    def current(self, labels: Labels) -> str | None:
        if self.port is not None:
            return labels.ports.get(self.port)
        return labels.apps.get(self.app) if self.app is not None else None

    def edit(self, label: str | None) -> SettingsEdit:
        """The settings with this name given (None: removed)."""
        port, app = self.port, self.app
        if port is not None:
            return lambda settings: settings.with_port_label(port, label)
        assert app is not None
        return lambda settings: settings.with_app_label(app, label)

    def menu_text(self) -> str:
        """'Rename port 3000…', 'Rename nginx…' ('&' kept as itself, not a mnemonic)."""
        return f"Rename {visible(self.what)}…".replace("&", "&&")


def rename_targets(listeners: Iterable[Listener]) -> list[RenameTarget]:
    """The port of the rows when they share one, and their app when they share one."""
    rows = list(listeners)
    if not rows:
        return []
    targets: list[RenameTarget] = []
    ports = {row.port for row in rows}
    if len(ports) == 1:
        targets.append(RenameTarget(port=rows[0].port, detected=app_and_project(rows[0])))
    apps = {row.app for row in rows}
    if len(apps) == 1 and rows[0].app is not None:
        targets.append(RenameTarget(app=rows[0].app, detected=rows[0].app))
    return targets


class RenameDialog(QDialog):
    """Asks for a name; ``chosen()`` after ``accept()`` (None: remove the name)."""

    def __init__(
        self, target: RenameTarget, current: str | None, parent: QWidget | None = None
    ) -> None:
        super().__init__(parent)
        self.setObjectName("RenameDialog")
        self.setWindowTitle("Rename")
        self.target = target
        self.removed = False
        layout = QVBoxLayout(self)
        self.prompt = QLabel(f"Name for {visible(target.what)}")
        self.prompt.setTextFormat(Qt.TextFormat.PlainText)
        layout.addWidget(self.prompt)
        self.edit = QLineEdit(current or "")
        self.edit.setPlaceholderText(visible(target.detected))
        self.edit.setClearButtonEnabled(True)
        self.prompt.setBuddy(self.edit)
        layout.addWidget(self.edit)
        self.error = error_label()
        self.error.setTextFormat(Qt.TextFormat.PlainText)
        layout.addWidget(self.error)
        hint = QLabel("Shown before the detected name in the table, the tray and exports.")
        hint.setWordWrap(True)
        hint.setEnabled(False)  # the palette's dim text
        layout.addWidget(hint)

        self.buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Save | QDialogButtonBox.StandardButton.Cancel
        )
        self.remove_button: QPushButton | None = None
        if current:
            self.remove_button = self.buttons.addButton(
                "Remove name", QDialogButtonBox.ButtonRole.DestructiveRole
            )
            self.remove_button.clicked.connect(self.remove)
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)
        layout.addWidget(self.buttons)
        # Quiet until the user types: an empty box at first is not a mistake yet.
        self._typed = False
        self.edit.textEdited.connect(self._edited)
        self.edit.textChanged.connect(lambda _text: self._validate(tell=self._typed))
        self._validate(tell=False)

    @property
    def save_button(self) -> QPushButton:
        return self.buttons.button(QDialogButtonBox.StandardButton.Save)

    def problem(self) -> str | None:
        """What is wrong with the name typed (None: it can be saved)."""
        try:
            check_label(self.edit.text())
        except SettingsError as exc:
            text = str(exc)
            return text[:1].upper() + text[1:] + "."
        return None

    def _edited(self, _text: str) -> None:
        self._typed = True
        self._validate(tell=True)

    def _validate(self, *, tell: bool) -> None:
        problem = self.problem()
        self.save_button.setEnabled(problem is None)
        if tell or problem is None:
            show_error(self.error, problem)

    def chosen(self) -> str | None:
        """The checked name, or None when the user removed it."""
        if self.removed:
            return None
        return check_label(self.edit.text())

    def accept(self) -> None:
        if not self.removed and self.problem() is not None:
            self._validate(tell=True)
            return
        super().accept()

    def remove(self) -> None:
        self.removed = True
        super().accept()


class Renamer:
    """Opens one Rename dialog at a time on the names in use; Save hands the edit to ``save``."""

    def __init__(
        self,
        labels: Callable[[], Labels],
        *,
        save: Callable[[SettingsEdit], None],
        parent: QWidget,
    ) -> None:
        self._labels = labels
        self._save = save
        self._parent = parent
        self.dialog: RenameDialog | None = None

    def open(self, target: RenameTarget) -> RenameDialog:
        if self.dialog is not None and self.dialog.isVisible():
            self.dialog.reject()  # a new Rename… replaces the one left open
        dialog = RenameDialog(target, target.current(self._labels()), self._parent)
        dialog.accepted.connect(lambda: self._save(target.edit(dialog.chosen())))
        dialog.finished.connect(dialog.deleteLater)
        self.dialog = dialog
        dialog.open()
        return dialog


__all__ = ["RenameDialog", "RenameTarget", "Renamer", "SettingsEdit", "rename_targets"]
