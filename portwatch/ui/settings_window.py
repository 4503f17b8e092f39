"""The Settings dialog as the app opens it: one at a time, saved off the UI thread."""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtWidgets import QWidget

from portwatch.core.settings import Settings
from portwatch.notify.probe import DeliveryProbe
from portwatch.ui.settings_dialog import SettingsDialog
from portwatch.ui.settings_store import SettingsStore


class SettingsWindow:
    """Opens the dialog on the settings in use; OK hands the edit to ``save``."""

    def __init__(
        self,
        store: SettingsStore,
        *,
        save: Callable[[Settings], None],
        delivery: Callable[[], DeliveryProbe | None],
        tray_available: Callable[[], bool],
        parent: QWidget,
    ) -> None:
        self._store = store
        self._save = save
        self._delivery = delivery
        self._tray_available = tray_available
        self._parent = parent
        self.dialog: SettingsDialog | None = None

    def open(self) -> SettingsDialog:
        """The dialog (the one already open, raised)."""
        if self.dialog is not None and self.dialog.isVisible():
            self.dialog.raise_()
            self.dialog.activateWindow()
            return self.dialog
        dialog = SettingsDialog(
            self._store.settings,
            delivery=self._delivery(),
            tray_available=self._tray_available(),
            parent=self._parent,
        )
        dialog.accepted.connect(lambda: self._save(dialog.result_settings()))
        dialog.finished.connect(dialog.deleteLater)
        self.dialog = dialog
        dialog.open()
        return dialog
