"""The settings file as the app sees it: loaded, watched, saved, and `changed` when it is.

One :class:`SettingsStore` per app. It reads the file once when it is built
(before the event loop runs); from then on :meth:`check` (the stat, and a
reload when the file changed: `portwatch watch-port add` edits it) and
:meth:`save` run on the scan pipeline's thread, never the UI thread. Its
signals, emitted there, reach UI objects queued.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import QObject, Signal

from portwatch.core import paths
from portwatch.core.settings import (
    LoadResult,
    Settings,
    SettingsFileError,
    edit_settings,
    load_settings,
    merge_settings,
)

log = logging.getLogger(__name__)


class SettingsStore(QObject):
    changed = Signal(object)  # Settings: reloaded from the file, or saved
    told = Signal(str, str)  # (title, body): a notice for the person

    def __init__(self, path: Path | None = None, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.path = path or paths.settings_file()
        self.loaded = load_settings(self.path)
        self.settings = self.loaded.settings
        self._mtime = self._stat()
        self._newer_told = False
        # Called on the store's (pipeline) thread with each new Settings, before `changed`.
        self.listeners: list[Callable[[Settings], None]] = []

    def tell_loaded(self) -> None:
        """Say what was wrong with the file read at start (once the UI listens)."""
        self._tell(self.loaded)

    def _tell(self, loaded: LoadResult) -> None:
        if loaded.message:
            title = "Settings could not be read" if loaded.error else "Settings were reset"
            self.told.emit(title, loaded.message)
        if loaded.newer_message and not self._newer_told:
            self._newer_told = True
            self.told.emit("Settings from a newer portwatch", loaded.newer_message)

    def _stat(self) -> int | None:
        try:
            return self.path.stat().st_mtime_ns
        except OSError:
            return None

    def check(self) -> None:
        """Reload when the file changed since it was last read or written."""
        mtime = self._stat()
        if mtime == self._mtime:
            return
        loaded = load_settings(self.path)
        self._mtime = self._stat()
        self._tell(loaded)
        if loaded.error is not None:
            # The file became unreadable: keep watching with what was last read.
            return
        if loaded.settings != self.settings:
            log.info("settings file changed: reloading")
            self._use(loaded.settings)

    def save(self, settings: Settings) -> None:
        """The dialog's edit on top of what the file holds now, under the settings lock.

        An edit made meanwhile (`portwatch watch-port add`) is kept. When the
        file cannot be written the edit is still used for this run.
        """
        base = self.settings
        try:
            settings = edit_settings(
                lambda current: merge_settings(base, settings, current), self.path
            ).after
        except SettingsFileError as exc:
            self.told.emit("Settings could not be saved", f"{exc}. Nothing was changed.")
        self._mtime = self._stat()
        self._use(settings)

    def _use(self, settings: Settings) -> None:
        self.settings = settings
        for listener in self.listeners:
            listener(settings)
        self.changed.emit(settings)
