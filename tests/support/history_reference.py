"""The pairing walk that answered ``History.holdings()`` before the holdings table.

Also :class:`RecordingHistory`: a recorder and a reader of one file, for tests
that write a history and ask it questions.

Copied from portwatch/core/history.py as it was at commit e1a8da4, where
``holdings()`` read every event and paired them at query time. Tests replay the
same events through it and through the holdings table that replaced it, and
the answers must agree (rows, values and order). Since schema 4 it also says
when each holding's process started (the first of its events that knew) and
whether a ``present`` row opened it (it was there when portwatch started).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from portwatch.core.diff import Event, EventKind
from portwatch.core.history import (
    PRESENT,
    STARTED,
    HistoryEvent,
    HistoryReader,
    HistoryRecorder,
    Holding,
)
from portwatch.core.model import Snapshot
from portwatch.core.settings import Settings

_COLUMNS = (
    "at",
    "kind",
    "proto",
    "family",
    "address",
    "port",
    "pid",
    "process",
    "exe",
    "cmdline",
    "user",
    "exposure",
    "previous_pid",
    "previous_process",
    "previous_address",
    "previous_exposure",
    "detail",
)


def reference_holdings(
    db: Path,
    *,
    process: str | None = None,
    since: float | None = None,
    limit: int | None = None,
) -> list[Holding]:
    """``holdings()`` as it was, with no port filter (with one, it skipped the restarts)."""
    conn = sqlite3.connect(db)
    try:
        columns = [*event_columns(conn), _process_started(conn)]
        rows = conn.execute(
            f"SELECT id, {', '.join(columns)} FROM events "
            "WHERE kind IN (?, ?, ?, ?, ?, ?) ORDER BY at, id",
            [
                STARTED,
                PRESENT,
                str(EventKind.BOUND),
                str(EventKind.FREED),
                str(EventKind.OWNER_CHANGED),
                str(EventKind.EXPOSURE_CHANGED),
            ],
        ).fetchall()
    finally:
        conn.close()
    result = list(_pair(HistoryEvent(*row) for row in rows))
    if since is not None:
        result = [h for h in result if h.end is None or h.end >= since]
    if process:
        needle = process.lower()
        result = [
            h
            for h in result
            if needle in (h.process or "").lower() or needle in (h.cmdline or "").lower()
        ]
    result.sort(key=lambda h: (h.start or 0.0, h.port), reverse=True)
    return result[:limit] if limit is not None else result


def event_columns(conn: sqlite3.Connection) -> list[str]:
    """The event columns as SQL, the command line as text (schema 1 and 2, or 3)."""
    names = {row[1] for row in conn.execute("PRAGMA table_info(events)")}
    if "cmdline" in names:
        return list(_COLUMNS)
    command = "(SELECT text FROM commands WHERE commands.id = events.command_id)"
    return [command if c == "cmdline" else c for c in _COLUMNS]


def _process_started(conn: sqlite3.Connection) -> str:
    names = {row[1] for row in conn.execute("PRAGMA table_info(events)")}
    return "process_started" if "process_started" in names else "NULL"


HoldKey = tuple[str, int, int | None]  # (proto, port, pid)


@dataclass
class _Open:
    first: HistoryEvent
    start: float | None
    addresses: dict[str, str]  # address -> exposure
    last: HistoryEvent
    resumed: bool = True
    seen: dict[str, str] = field(default_factory=dict)  # every address held, widest exposure
    process_started: float | None = field(init=False, default=None)

    def __post_init__(self) -> None:
        self.process_started = self.first.process_started

    def bind(self, address: str, exposure: str) -> None:
        self.addresses[address] = exposure
        if address not in self.seen or _exposure_rank(exposure) > _exposure_rank(
            self.seen[address]
        ):
            self.seen[address] = exposure


def close(hold: _Open, end: float | None, *, known: bool = True) -> Holding:
    """The holding an open interval becomes when it ends at ``end``."""
    last = hold.last
    held = hold.addresses or hold.seen
    widest = max(held.values(), key=_exposure_rank, default=last.exposure)
    return Holding(
        proto=last.proto or "?",
        port=last.port or 0,
        pid=last.pid,
        process=last.process or hold.first.process,
        cmdline=last.cmdline or hold.first.cmdline,
        user=last.user or hold.first.user,
        addresses=tuple(sorted(held)) or ((last.address,) if last.address else ()),
        exposure=widest,
        start=hold.start,
        end=end,
        end_known=known,
        process_started=hold.process_started,
        seen_at_start=hold.first.kind == PRESENT and hold.start is not None,
    )


class _Pairing:
    """The walk's state: what is open now, and what was open when portwatch (re)started."""

    def __init__(self) -> None:
        self.open: dict[HoldKey, _Open] = {}
        self.pending: dict[HoldKey, _Open] = {}  # open at a (re)start: not yet seen again
        self.start_time: float | None = None

    def flush_pending(self) -> Iterator[Holding]:
        for hold in list(self.pending.values()):
            yield close(hold, self.start_time, known=False)
        self.pending.clear()

    def opened(self, key: HoldKey, event: HistoryEvent, start: float | None) -> None:
        hold = self.open.get(key)
        if hold is None:
            hold = _Open(event, start, {}, event)
            self.open[key] = hold
        hold.bind(event.address or "", event.exposure or "")
        hold.last = event
        if hold.process_started is None:
            hold.process_started = event.process_started

    def started(self, event: HistoryEvent) -> Iterator[Holding]:
        yield from self.flush_pending()
        self.pending.update(self.open)
        self.open.clear()
        self.start_time = event.at

    def present(self, key: HoldKey, event: HistoryEvent) -> None:
        if key in self.pending and key not in self.open:
            self.open[key] = self.pending.pop(key)
            self.open[key].addresses = {}
        self.opened(key, event, event.at)

    def freed(self, key: HoldKey, event: HistoryEvent) -> Iterator[Holding]:
        hold = self.open.get(key)
        if hold is None:
            # Its bind is older than the retained history.
            hold = _Open(event, None, {}, event)
            hold.bind(event.address or "", event.exposure or "")
            self.open[key] = hold
        hold.addresses.pop(event.address or "", None)
        hold.last = event if event.process else hold.last
        if not hold.addresses:
            del self.open[key]
            yield close(hold, event.at)

    def owner_changed(self, key: HoldKey, event: HistoryEvent) -> Iterator[Holding]:
        proto, port, _pid = key
        old_key: HoldKey = (proto, port, event.previous_pid)
        old = self.open.pop(old_key, None)
        if old is not None:
            yield close(old, event.at)
        self.opened(key, event, event.at)

    def exposure_changed(self, key: HoldKey, event: HistoryEvent) -> None:
        hold = self.open.get(key)
        if hold is None:
            self.opened(key, event, None)
        else:
            hold.addresses = {}
            hold.bind(event.address or "", event.exposure or "")
            hold.last = event

    def end(self) -> Iterator[Holding]:
        yield from self.flush_pending()
        for hold in self.open.values():
            yield close(hold, None)


def _pair(events: Iterator[HistoryEvent]) -> Iterator[Holding]:
    """Walk events in time order and yield closed and still-open holding intervals."""
    state = _Pairing()
    for event in events:
        if event.kind == STARTED:
            yield from state.started(event)
            continue
        if event.port is None or event.proto is None:
            continue
        after_start = state.start_time is None or event.at > state.start_time
        if event.kind != PRESENT and state.pending and after_start:
            yield from state.flush_pending()
        key: HoldKey = (event.proto, event.port, event.pid)
        if event.kind == PRESENT:
            state.present(key, event)
        elif event.kind == str(EventKind.BOUND):
            state.opened(key, event, event.at)
        elif event.kind == str(EventKind.FREED):
            yield from state.freed(key, event)
        elif event.kind == str(EventKind.OWNER_CHANGED):
            yield from state.owner_changed(key, event)
        elif event.kind == str(EventKind.EXPOSURE_CHANGED):
            state.exposure_changed(key, event)
    yield from state.end()


def _exposure_rank(exposure: str) -> int:
    return {"loopback": 0, "lan": 1, "public": 2}.get(exposure, -1)


_DEFAULTS = Settings()


class RecordingHistory:
    """What the tray app has: a recorder (limits from default settings) and a reader, one file."""

    def __init__(
        self,
        path: Path | None = None,
        *,
        retention_days: int = _DEFAULTS.history_retention_days,
        max_rows: int = _DEFAULTS.history_max_rows,
        max_bytes: int = _DEFAULTS.history_max_mb * 1024 * 1024,
        busy_timeout: float = 1.0,
    ) -> None:
        self.recorder = HistoryRecorder(
            path,
            retention_days=retention_days,
            max_rows=max_rows,
            max_bytes=max_bytes,
            busy_timeout=busy_timeout,
        )
        self.path = self.recorder.path
        self.reader = HistoryReader(self.path)
        self.holdings = self.reader.holdings
        self.events = self.reader.events
        self.count = self.reader.count
        self.export_holdings_csv = self.reader.export_holdings_csv

    @property
    def journal_mode(self) -> str:
        return self.reader.journal_mode

    @property
    def max_rows(self) -> int:
        return self.recorder.max_rows

    @max_rows.setter
    def max_rows(self, value: int) -> None:
        self.recorder.max_rows = value

    def record_start(self, snapshot: Snapshot) -> None:
        self.recorder.record_start(snapshot)

    def record_events(self, events: Iterable[Event]) -> None:
        self.recorder.record_events(events)

    def record_alert(self, **alert: Any) -> None:
        self.recorder.record_alert(**alert)

    def prune(self, now: float | None = None) -> int:
        return self.recorder.prune(now)

    def close(self) -> None:
        self.reader.close()
        self.recorder.close()

    def __enter__(self) -> RecordingHistory:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
