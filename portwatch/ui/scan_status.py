"""The status bar's account of the scans: when the last one ran, the counts, the hints."""

from __future__ import annotations

import time

from PySide6.QtWidgets import QLabel, QStatusBar

from portwatch.core.model import Listener, Snapshot
from portwatch.core.person_ports import count_words
from portwatch.core.safetext import visible


class ScanStatus:
    """Three labels in the window's status bar, brought up to date per snapshot."""

    def __init__(self, status_bar: QStatusBar) -> None:
        self.scan_label = QLabel("Waiting for the first scan…")
        self._had_picture = False  # a scan has read the port list at least once
        self.counts_label = QLabel()
        # The listeners last counted: a quiet poll hands back the very same tuple.
        self._counted: tuple[Listener, ...] | None = None
        self._count_words: list[str] = []
        self.hint_label = QLabel()
        self.hint_label.setStyleSheet("color: #8a5a00;")
        self.hint_label.setWordWrap(False)
        status_bar.addWidget(self.scan_label)
        status_bar.addWidget(self.counts_label)
        status_bar.addWidget(self.hint_label, 1)

    def show_scan(self, snapshot: Snapshot, *, paused: bool) -> None:
        when = time.strftime("%H:%M:%S", time.localtime(snapshot.taken_at))
        paused_text = " · paused" if paused else ""
        if snapshot.stale is not None:
            # Said in the bar for as long as reads fail; the next good read replaces it.
            text = f"Could not read the port list: {visible(snapshot.stale)}"
            if self._had_picture:
                text += f" — showing the last one from {when}"
            self.scan_label.setText(text + paused_text)
            return
        self._had_picture = True
        self.scan_label.setText(
            f"Last scan {when} ({snapshot.duration * 1000:.0f} ms){paused_text}"
        )

    def show_counts(self, snapshot: Snapshot) -> None:
        # Ports as a person counts them: 0.0.0.0:80 and [::]:80 of one server are one.
        if snapshot.listeners is not self._counted:
            self._counted = snapshot.listeners
            self._count_words = count_words(snapshot.listeners)
        parts = list(self._count_words)
        if snapshot.connections:
            parts.append(f"{len(snapshot.connections)} connections")
        self.counts_label.setText(" · ".join(parts))
        notes = []
        if snapshot.hint:
            notes.append(snapshot.hint)
        notes.extend(snapshot.warnings)
        self.hint_label.setText(" · ".join(notes))
        self.hint_label.setToolTip("\n".join(notes))
