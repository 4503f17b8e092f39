"""What one scan means: the owner gate, the diff, the rules and the history hand-off.

Plain Python, run off the UI thread (``portwatch.ui.pipeline_thread`` gives it
a Qt thread of its own). :meth:`ScanPipeline.process` turns a snapshot into
one :class:`ScanResult` (the snapshot, its events and its alerts) for the UI
to draw; :meth:`ScanPipeline.record` then hands that scan's events to the
history's own writer thread (:class:`HistoryWriter`). Each step runs through
a :class:`ConsumerGuard`: one that fails is said once through the
:class:`Reporter` and never stops the others.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from portwatch.core.alerts.alert import Alert
from portwatch.core.alerts.engine import AlertRules
from portwatch.core.consumers import ConsumerGuard
from portwatch.core.diff import Event, PendingOwnerGate, diff
from portwatch.core.history import HistoryRecorder
from portwatch.core.history.writer import HistoryWriter
from portwatch.core.model import Snapshot
from portwatch.core.portspec import matches_any
from portwatch.core.settings import Settings

SAVING = "Saving the port history"  # a scan's rows into the batch
WRITING = "Writing the port history"  # the batch into the database


class Reporter(Protocol):
    """Where the pipeline says what went wrong; called on the pipeline's or the writer's thread."""

    def problem(self, what: str, message: str) -> None:
        """A step failed (``what``: "Saving the port history"); ``message`` is for a person."""

    def notice(self, title: str, body: str) -> None:
        """Something the person should know, listed like an alert."""


@dataclass(frozen=True, slots=True)
class ScanResult:
    """One scan as the UI applies it: the table, the tray, the Alerts list."""

    snapshot: Snapshot
    events: tuple[Event, ...] = ()
    alerts: tuple[Alert, ...] = ()
    watched_busy: int = 0  # distinct watched ports something listens on
    # The first complete picture: the history starts from it (a "started" row).
    first: bool = False


def watched_busy(settings: Settings, snapshot: Snapshot) -> int:
    """How many distinct watched ports something listens on in ``snapshot``."""
    specs = settings.watched_specs()
    return len({row.port for row in snapshot.listeners if matches_any(specs, row.port, row.proto)})


class ScanPipeline:
    """Snapshots in order in, results out; the history written after each result."""

    def __init__(
        self,
        settings: Settings,
        rules: AlertRules,
        history: HistoryRecorder | None,
        report: Reporter,
    ) -> None:
        self.settings = settings
        self.rules = rules
        self.history = (
            HistoryWriter(history, lambda h: self._guarded(WRITING, h.flush))
            if history is not None
            else None
        )
        self._report = report
        self._previous: Snapshot | None = None
        self._owner_gate = PendingOwnerGate()
        self._consumers = ConsumerGuard()

    @property
    def previous(self) -> Snapshot | None:
        """The last complete picture the events were counted from."""
        return self._previous

    def set_settings(self, settings: Settings) -> None:
        self.settings = settings
        if self.history is not None:
            self.history.recorder.apply_settings(settings)

    def process(self, snapshot: Snapshot) -> ScanResult:
        """The gate, the diff and the rules of one scan (no history write yet)."""
        if snapshot.warming_up or snapshot.stale is not None:
            # Owners are still filling in (the first second or so after start):
            # alerts and the history start from the first complete picture.
            # A stale snapshot (the table could not be read) is no news.
            previous = self._previous
            busy = watched_busy(self.settings, previous) if previous is not None else 0
            return ScanResult(snapshot, watched_busy=busy)
        previous = self._previous
        # Alerts and history name the process: new sockets wait for their owner.
        settled = self._owner_gate.settle(previous, snapshot)
        events = tuple(diff(previous, settled))
        alerts: list[Alert] = []
        self._guarded(
            "Checking the alert rules",
            lambda: alerts.extend(self.rules.evaluate(previous, settled, events, self.settings)),
        )
        self._previous = settled
        busy = watched_busy(self.settings, settled)
        return ScanResult(snapshot, events, tuple(alerts), busy, first=previous is None)

    def record(self, result: ScanResult) -> None:
        """Hand the scan's events to the history writer (a failed batch goes in with the next)."""
        writer = self.history
        if writer is None or result.snapshot.warming_up or result.snapshot.stale is not None:
            return
        snapshot, events = result.snapshot, result.events
        if result.first:
            writer.submit(lambda h: self._guarded(SAVING, lambda: h.record_start(snapshot)))
        else:
            writer.submit(lambda h: self._guarded(SAVING, lambda: h.record_events(events)))

    def record_alert(self, alert: Alert, delivery: str) -> None:
        """Add a delivered alert to the history (the alert is listed and shown already)."""
        writer = self.history
        if writer is None:
            return

        def record(history: HistoryRecorder) -> None:
            history.record_alert(
                at=alert.at,
                title=alert.title,
                body=alert.body,
                kind=str(alert.kind),
                port=alert.port,
                proto=alert.proto,
                pid=alert.pid,
                process=alert.process,
                delivery=delivery,
            )

        # A batch that cannot be written is said by the flush ("Saving the port history").
        writer.submit(lambda h: self._guarded("Saving an alert in the history", lambda: record(h)))

    def close(self) -> None:
        if self.history is not None:
            self.history.close()
            self.history = None

    def _guarded(self, what: str, call: Callable[[], object]) -> None:
        message = self._consumers.run(what, call)
        if message is not None:
            self._report.problem(what, message)
