"""Work on Qt's global thread pool, its result handed back on the UI thread.

The free flow's waits, the port check and the History tab's queries and
export run here, never on the UI thread.
"""

from __future__ import annotations

import itertools
import logging
from collections.abc import Callable
from typing import Any, TypeVar

import shiboken6
from PySide6.QtCore import QObject, QRunnable, Qt, QThreadPool, Signal

log = logging.getLogger(__name__)

R = TypeVar("R")


class _Relay(QObject):
    """Carries pool results back to the UI thread (queued by Qt), one object for the app.

    One long-lived relay instead of one per task: a per-task QObject deleted on
    the UI thread while the pool thread drops its last Python reference to it
    is a race inside the bindings (it crashed a test), so nothing here is
    created or deleted per task.
    """

    done = Signal(int, object)  # (task number, result)

    def __init__(self) -> None:
        super().__init__()
        self._waiting: dict[int, tuple[QObject, Callable[[Any], None]]] = {}
        self._numbers = itertools.count(1)
        self.done.connect(self._finish, Qt.ConnectionType.QueuedConnection)

    def expect(self, owner: QObject, done: Callable[[Any], None]) -> int:
        number = next(self._numbers)
        self._waiting[number] = (owner, done)
        return number

    def _finish(self, number: int, result: object) -> None:
        owner, done = self._waiting.pop(number)
        if not shiboken6.isValid(owner):
            # The window that asked was closed meanwhile: nobody waits for the answer.
            log.debug("a pool task finished after its owner was deleted")
            return
        done(result)


class _Task(QRunnable):
    def __init__(self, work: Callable[[], object], relay: _Relay, number: int) -> None:
        super().__init__()
        self.work = work
        self.relay = relay
        self.number = number

    def run(self) -> None:
        self.relay.done.emit(self.number, self.work())


_relay: _Relay | None = None


def run_in_pool(owner: QObject, work: Callable[[], R], done: Callable[[R], None]) -> None:
    """Run ``work`` on the global thread pool and call ``done(result)`` on the UI thread.

    Called on the UI thread; ``done`` is skipped when ``owner`` was deleted meanwhile.
    """
    global _relay  # noqa: PLW0603 - made on first use, on the UI thread, kept for the app's life
    if _relay is None:
        _relay = _Relay()
    number = _relay.expect(owner, done)
    QThreadPool.globalInstance().start(_Task(work, _relay, number))
