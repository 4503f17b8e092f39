"""Noise control: the quiet period per port and kind of news, and batching into a summary."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace

from portwatch.core.alerts.alert import Alert, AlertKind
from portwatch.core.alerts.texts import summarize

QUIET_GROUP = {
    AlertKind.OCCUPIED: "occupancy",
    AlertKind.FREED: "occupancy",
    AlertKind.UNEXPECTED_OWNER: "owner",
    AlertKind.EXPOSURE_POLICY: "exposure",
    AlertKind.EXPOSED: "exposure",
    AlertKind.REMOTE_CLIENT: "remote",
    # Its own group: a restart is told even right after "in use", once per quiet period.
    AlertKind.RESTARTED: "restart",
}


class QuietPeriod:
    """A port alerts at most once per quiet period per kind of news; later ones are kept
    for the Alerts list, marked ``suppressed``, and not notified."""

    def __init__(self, clock: Callable[[], float]) -> None:
        self._clock = clock
        self._last_alert: dict[tuple[str, int], float] = {}

    def clear(self) -> None:
        self._last_alert.clear()

    def apply(self, alerts: Sequence[Alert], quiet_period: float) -> list[Alert]:
        now = self._clock()
        result: list[Alert] = []
        for alert in alerts:
            group = QUIET_GROUP.get(alert.kind)
            if group is None or alert.port is None:
                result.append(alert)
                continue
            key = (group, alert.port)
            last = self._last_alert.get(key)
            if last is not None and now - last < quiet_period:
                result.append(replace(alert, notify=False, suppressed=True))
                continue
            self._last_alert[key] = now
            result.append(alert)
        # Forget timers that can no longer matter, so the dict stays small.
        horizon = now - quiet_period
        for key in [k for k, t in self._last_alert.items() if t < horizon]:
            del self._last_alert[key]
        return result


def batch(alerts: list[Alert], at: float, threshold: int) -> list[Alert]:
    """``threshold`` or more to notify from one scan: one summary instead, the rest listed."""
    loud = [a for a in alerts if a.notify]
    if len(loud) < threshold:
        return alerts
    quiet = [replace(a, notify=False) if a.notify else a for a in alerts]
    return [*quiet, summarize(loud, at)]
