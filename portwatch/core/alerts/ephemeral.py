"""Short-lived ports: binds in the OS's ephemeral range, told once per program a minute.

Test runners, language servers and browsers open listeners on random high
ports all day. The first such port of a program is told at once (it may be
the only one); the rest within the minute are listed quietly and told as one
summary when the minute is over.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from portwatch.core.alerts.alert import Alert
from portwatch.core.alerts.texts import summarize

EPHEMERAL_WINDOW = 60.0


@dataclass(slots=True)
class _Window:
    started: float  # the rules' clock
    held: list[Alert] = field(default_factory=list)


class EphemeralBatch:
    """One window per program (as alerts name the holder)."""

    def __init__(self, window: float = EPHEMERAL_WINDOW) -> None:
        self.window = window
        self._windows: dict[str, _Window] = {}

    def clear(self) -> None:
        self._windows.clear()

    def admit(self, alert: Alert, now: float) -> Alert:
        """``alert`` as it should go out: told if it opens a window, else listed only."""
        owner = alert.holder or alert.process or ""
        window = self._windows.get(owner)
        if window is None or now - window.started >= self.window:
            self._windows[owner] = _Window(now)
            return alert
        window.held.append(alert)
        return replace(alert, notify=False)

    def due(self, now: float, at: float) -> list[Alert]:
        """One summary per window that is over and held quiet alerts; the window is closed."""
        summaries: list[Alert] = []
        for owner, window in list(self._windows.items()):
            if now - window.started < self.window:
                continue
            del self._windows[owner]
            if window.held:
                summary = summarize(window.held, at)
                body = f"{summary.body}: short-lived ports, in the last minute"
                summaries.append(replace(summary, body=body))
        return summaries
