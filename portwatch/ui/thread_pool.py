"""Work on Qt's global thread pool, its result handed back on the UI thread.

The free flow's waits and the port check run here, never on the UI thread.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TypeVar

from PySide6.QtCore import QObject, QRunnable, Qt, QThreadPool, Signal

log = logging.getLogger(__name__)

R = TypeVar("R")


class _Relay(QObject):
    """Carries a pool task's result back to the UI thread (queued by Qt)."""

    done = Signal(object)


class _Task(QRunnable):
    def __init__(self, work: Callable[[], object], relay: _Relay) -> None:
        super().__init__()
        self.work = work
        self.relay = relay

    def run(self) -> None:
        result = self.work()
        try:
            self.relay.done.emit(result)
        except RuntimeError:
            # The window that asked was closed meanwhile: nobody waits for the answer.
            log.debug("a pool task finished after its owner was deleted")


def run_in_pool(owner: QObject, work: Callable[[], R], done: Callable[[R], None]) -> None:
    """Run ``work`` on the global thread pool and call ``done(result)`` on the UI thread."""
    relay = _Relay(owner)

    def finish(result: R) -> None:
        relay.deleteLater()
        done(result)

    relay.done.connect(finish, Qt.ConnectionType.QueuedConnection)
    QThreadPool.globalInstance().start(_Task(work, relay))
