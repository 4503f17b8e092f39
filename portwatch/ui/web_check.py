"""Whether "Open in browser" applies: each socket's answer (``core.http_probe``), off the UI thread.

``WebCheck.follow(action, rows)`` keeps an action's enabled state and tooltip
on the rows' verdict as answers come in; ``ask(rows)`` probes the sockets not
known yet on the thread pool, each once (the selection asks when it changes, a
menu when it is about to show).
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import partial

from PySide6.QtCore import QObject, Signal, Slot
from PySide6.QtGui import QAction

from portwatch.core.http_probe import (
    Prober,
    WebAnswer,
    WebAnswers,
    WebKey,
    WebVerdict,
    probe_http,
    web_key,
    web_rows,
    web_verdict,
)
from portwatch.core.model import Listener
from portwatch.ui.thread_pool import run_in_pool


class WebCheck(QObject):
    answered = Signal()  # a socket's answer came in

    def __init__(self, parent: QObject | None = None, *, prober: Prober = probe_http) -> None:
        super().__init__(parent)
        self.answers = WebAnswers(prober)
        self._asking: set[WebKey] = set()

    def verdict(self, rows: Sequence[Listener]) -> WebVerdict:
        return web_verdict(rows, self.answers.answer)

    def ask(self, rows: Sequence[Listener]) -> None:
        """Probe, on the thread pool, the sockets of ``rows`` whose answer is not known yet."""
        for row in web_rows(rows):
            key = web_key(row)
            if key in self._asking or self.answers.answer(row) is not None:
                continue
            self._asking.add(key)
            run_in_pool(self, partial(self.answers.check, row), partial(self._done, key))

    def _done(self, key: WebKey, _answer: WebAnswer) -> None:
        self._asking.discard(key)
        self.answered.emit()

    def follow(self, action: QAction, rows: Sequence[Listener]) -> WebFollower:
        """Keep ``action`` on the verdict for ``rows`` (``rows`` may be set again later)."""
        return WebFollower(self, action, rows)


class WebFollower(QObject):
    """Sets one action from the verdict whenever an answer comes; dies with the action."""

    def __init__(self, check: WebCheck, action: QAction, rows: Sequence[Listener]) -> None:
        super().__init__(action)
        self.check = check
        self.action = action
        self.rows = list(rows)
        check.answered.connect(self.refresh)
        self.refresh()

    def set_rows(self, rows: Sequence[Listener]) -> None:
        self.rows = list(rows)
        self.refresh()

    @Slot()
    def refresh(self) -> None:
        verdict = self.check.verdict(self.rows)
        self.action.setEnabled(verdict.enabled)
        self.action.setToolTip(verdict.tooltip)
