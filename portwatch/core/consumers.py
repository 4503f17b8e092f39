"""Hands a scan to its consumers so that a failure in one never stops the others."""

from __future__ import annotations

import logging
from collections.abc import Callable

from portwatch.core.safetext import from_os, mask_text, visible

log = logging.getLogger(__name__)


class ConsumerGuard:
    """Hands a scan to its consumers so that a failure in one never stops the others.

    History, rules, notifications, the tray and the window (or ``watch``'s
    printing) each run through :meth:`run`. A consumer that raises is logged
    with its traceback once per run of failures (again only after it worked
    in between), and :meth:`run` returns one line for a person that first
    time; otherwise None.
    """

    def __init__(self) -> None:
        self._failing: set[str] = set()

    def run(self, name: str, consumer: Callable[[], object]) -> str | None:
        """Call ``consumer``; ``name`` says what it does, for the log and the person."""
        try:
            consumer()
        except Exception as exc:  # isolating consumers is the point
            if name in self._failing:
                return None
            self._failing.add(name)
            log.exception("%s failed; everything else goes on", name)
            detail = visible(mask_text(from_os(str(exc)))) or type(exc).__name__
            return f"{name} failed ({detail}); everything else goes on"
        if self._failing:
            self._failing.discard(name)
        return None

    @property
    def failing(self) -> frozenset[str]:
        return frozenset(self._failing)
