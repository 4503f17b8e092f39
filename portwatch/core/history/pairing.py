"""Pairing events into holdings: who held which port from when to when.

The recorder folds each batch of events into the holdings table in the same
transaction (:func:`catch_up`), so asking for holdings reads a few indexed
rows instead of pairing every event. Only open and pending holdings are kept
in memory while a batch is folded in.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from portwatch.core.diff import EventKind
from portwatch.core.history.schema import (
    LAST_START,
    SCHEMA_VERSION,
    STILL_OPEN,
    THROUGH,
    command_of,
    event_select,
    get_meta,
    intern_command,
    set_meta,
)
from portwatch.core.history.values import HOLDING_KINDS, PRESENT, STARTED, HistoryEvent

HoldKey = tuple[str, int, int | None]  # (proto, port, pid)


@dataclass
class _Hold:
    """One holding as the pairing builds it; ``row_id`` is None until it is stored."""

    row_id: int | None
    proto: str
    port: int
    pid: int | None
    start: float | None
    started_event: int | None
    opened_event: int
    # Fallbacks from the event that opened it, then what the latest event said.
    first: tuple[str | None, str | None, str | None]  # process, cmdline, user
    last: tuple[str | None, str | None, str | None, str | None, str | None]  # + address, exposure
    bound: dict[str, str]  # address -> exposure, the addresses held now
    # address -> widest exposure, every address held since it opened
    seen: dict[str, str] = field(default_factory=dict)
    end: float | None = None
    end_known: bool = True
    closed_event: int = STILL_OPEN
    process_started: float | None = None  # the first one an event of it knew
    seen_at_start: bool = False  # opened by a ``present`` row: held before portwatch started
    stored: tuple[Any, ...] | None = None  # the columns as in the table, when read from it

    @classmethod
    def opened_by(cls, event: HistoryEvent, start: float | None) -> _Hold:
        return cls(
            row_id=None,
            proto=event.proto or "?",
            port=event.port or 0,
            pid=event.pid,
            start=start,
            started_event=event.id if start is not None else None,
            opened_event=event.id,
            first=(event.process, event.cmdline, event.user),
            last=_last(event),
            bound={},
            process_started=event.process_started,
            seen_at_start=event.kind == PRESENT and start is not None,
        )

    def bind(self, address: str, exposure: str) -> None:
        self.bound[address] = exposure
        before = self.seen.get(address)
        if before is None or _exposure_rank(exposure) > _exposure_rank(before):
            self.seen[address] = exposure

    def state_json(self, shown: tuple[str | None, str | None, str | None]) -> str:
        """The working state, short: what the shown columns already say is left out.

        Shown process, command and user are the last event's or else the first's,
        so they stand for the last event's (that is all ``row`` uses them for),
        and for the first event's when those are the same.
        """
        return json.dumps(
            {
                "first": None if self.first == shown else self.first,
                "last": self.last[3:],  # address, exposure
                "bound": list(self.bound.items()),
                "seen": list(self.seen.items()),
            },
            ensure_ascii=False,
        )

    @classmethod
    def from_row(cls, row: tuple[Any, ...]) -> _Hold:
        """A holding read back from ``SELECT id, <_HOLDING_COLUMNS>``."""
        row_id, stored = row[0], row[1:]
        column = dict(zip(_HOLDING_COLUMNS, stored, strict=True))
        saved = json.loads(column["open_state"])
        shown = (column["process"], column["cmdline"], column["user"])
        return cls(
            row_id=row_id,
            proto=column["proto"],
            port=column["port"],
            pid=column["pid"],
            start=column["started"],
            started_event=column["started_event"],
            opened_event=column["opened_event"],
            first=tuple(saved["first"]) if saved["first"] is not None else shown,
            last=(*shown, *saved["last"]),
            bound=dict(saved["bound"]),
            # Written before "seen" was kept: what is held now is what is known.
            seen=dict(saved.get("seen", saved["bound"])),
            end=column["ended"],
            end_known=bool(column["end_known"]),
            process_started=column["process_started"],
            seen_at_start=bool(column["seen_at_start"]),
            stored=stored,
        )

    def row(self) -> tuple[Any, ...]:
        """The columns to store (``_HOLDING_COLUMNS``), shown as pairing events showed them.

        While it is held: the addresses held now and the widest of their
        exposures. Once none is held: every address it held, and the widest
        exposure it had.
        """
        process, cmdline, user, address, exposure = self.last
        held = self.bound or self.seen
        widest = max(held.values(), key=_exposure_rank, default=exposure)
        addresses = sorted(held) or ([address] if address else [])
        shown = (process or self.first[0], cmdline or self.first[1], user or self.first[2])
        closed = self.closed_event != STILL_OPEN
        return (
            self.proto,
            self.port,
            self.pid,
            *shown,
            " ".join(addresses) if addresses else None,  # addresses have no spaces
            widest,
            self.start,
            self.end,
            int(self.end_known),
            int((shown[0] or "").isascii() and (shown[1] or "").isascii()),
            self.started_event,
            self.opened_event,
            self.closed_event,
            None if closed else self.state_json(shown),
            self.process_started,
            int(self.seen_at_start),
        )


def _last(event: HistoryEvent) -> tuple[str | None, str | None, str | None, str | None, str | None]:
    return (event.process, event.cmdline, event.user, event.address, event.exposure)


_HOLDING_COLUMNS = (
    "proto",
    "port",
    "pid",
    "process",
    "cmdline",
    "user",
    "addresses",
    "exposure",
    "started",
    "ended",
    "end_known",
    "ascii_only",
    "started_event",
    "opened_event",
    "closed_event",
    "open_state",
    "process_started",
    "seen_at_start",
)
# As stored: the command line by its commands row.
_STORED_NAMES = tuple("command_id" if c == "cmdline" else c for c in _HOLDING_COLUMNS)
_CMDLINE_AT = _HOLDING_COLUMNS.index("cmdline")
_INSERT_HOLDING = (
    f"INSERT INTO holdings ({', '.join(_STORED_NAMES)}) "  # noqa: S608 - fixed names
    f"VALUES ({', '.join('?' * len(_STORED_NAMES))})"
)
_SELECT_HOLDING = "SELECT id, " + ", ".join(
    command_of("holdings", SCHEMA_VERSION) if c == "cmdline" else c for c in _HOLDING_COLUMNS
)
# Where the live-holding lookups find these in ``SELECT id, <_HOLDING_COLUMNS>``.
_KEY_AT = slice(1, 4)  # proto, port, pid
_ENDED_AT = 1 + _HOLDING_COLUMNS.index("ended")
_OPENED_EVENT_AT = 1 + _HOLDING_COLUMNS.index("opened_event")


class _Pairing:
    """Pairs events into holdings, one event at a time, in the order they happened.

    Holdings are keyed by (proto, port, pid); one process bound on several
    addresses of a port is one holding. When portwatch starts, what was open
    becomes pending: a ``present`` row for it reopens it, and the first later
    change closes the rest at that start, with ``end_known`` False. Only open
    and pending holdings are kept in memory, and of the open ones only those
    the next events can touch: ``resume`` reads them back from the table and
    ``save`` writes what changed.
    """

    def __init__(self, start_time: float | None) -> None:
        self.open: dict[HoldKey, _Hold] = {}  # in the order they were opened
        self.pending: dict[HoldKey, _Hold] = {}  # open when portwatch last started
        self.start_time = self.resumed_start_time = start_time
        self.changed: dict[int, _Hold] = {}  # by id(), in the order first changed

    @classmethod
    def resume(cls, conn: sqlite3.Connection, events: Sequence[HistoryEvent]) -> _Pairing:
        """The open and pending holdings that ``events`` can touch, read back from the table."""
        last_start = get_meta(conn, LAST_START)
        pairing = cls(float(last_start) if last_start else None)
        columns = f"{_SELECT_HOLDING} FROM holdings WHERE closed_event = ?"
        if any(event.kind == STARTED for event in events):
            # A start turns every open holding pending.
            rows = conn.execute(columns, (STILL_OPEN,)).fetchall()
        else:
            # Other events touch their own keys only; pending ones may all be closed.
            ports = sorted({event.port for event in events if event.port is not None})
            rows = conn.execute(f"{columns} AND ended IS NOT NULL", (STILL_OPEN,)).fetchall()
            rows += conn.execute(
                f"{columns} AND ended IS NULL AND port IN ({', '.join('?' * len(ports))})",
                (STILL_OPEN, *ports),
            ).fetchall()
            keys = {(e.proto, e.port, e.pid) for e in events}
            keys |= {(e.proto, e.port, e.previous_pid) for e in events}
            rows = [row for row in rows if row[_ENDED_AT] is not None or row[_KEY_AT] in keys]
        # In the order they were opened, as the pairing keeps them.
        for row in sorted(rows, key=lambda row: int(row[_OPENED_EVENT_AT])):
            hold = _Hold.from_row(row)
            key: HoldKey = (hold.proto, hold.port, hold.pid)
            if hold.end is None:
                pairing.open[key] = hold
            else:
                pairing.pending[key] = hold
        return pairing

    def save(self, conn: sqlite3.Connection) -> None:
        inserts = []
        for hold in self.changed.values():
            row = hold.row()
            if hold.stored is None:
                stored = list(row)
                stored[_CMDLINE_AT] = intern_command(conn, row[_CMDLINE_AT])
                inserts.append(stored)
                continue
            # Only the columns that changed, so indexes on the others are left alone.
            changed = [
                (name, new)
                for name, old, new in zip(_HOLDING_COLUMNS, hold.stored, row, strict=True)
                if old != new
            ]
            if changed:
                assignments = ", ".join(
                    f"{'command_id' if name == 'cmdline' else name} = ?" for name, _ in changed
                )
                values = [
                    intern_command(conn, new) if name == "cmdline" else new for name, new in changed
                ]
                conn.execute(
                    f"UPDATE holdings SET {assignments} WHERE id = ?",  # noqa: S608 - fixed names
                    (*values, hold.row_id),
                )
        conn.executemany(_INSERT_HOLDING, inserts)
        if self.start_time != self.resumed_start_time and self.start_time is not None:
            set_meta(conn, LAST_START, repr(self.start_time))
        self.changed.clear()

    def _touch(self, hold: _Hold) -> None:
        self.changed.setdefault(id(hold), hold)

    def _close(self, hold: _Hold, end: float, event: HistoryEvent) -> None:
        hold.end, hold.end_known, hold.closed_event = end, True, event.id
        self._touch(hold)

    def _flush_pending(self, event: HistoryEvent) -> None:
        """Not seen again after the start: they ended while portwatch was away."""
        for hold in self.pending.values():
            hold.closed_event = event.id  # end and end_known were set at the start
            self._touch(hold)
        self.pending.clear()

    def _opened(self, key: HoldKey, event: HistoryEvent, start: float | None) -> None:
        hold = self.open.get(key)
        if hold is None:
            hold = self.open[key] = _Hold.opened_by(event, start)
        hold.bind(event.address or "", event.exposure or "")
        hold.last = _last(event)
        if hold.process_started is None:
            hold.process_started = event.process_started
        self._touch(hold)

    def feed(self, event: HistoryEvent) -> None:
        if event.kind == STARTED:
            self._started(event)
            return
        if event.port is None or event.proto is None or event.kind not in HOLDING_KINDS:
            return
        after_start = self.start_time is None or event.at > self.start_time
        if event.kind != PRESENT and self.pending and after_start:
            self._flush_pending(event)
        key: HoldKey = (event.proto, event.port, event.pid)
        if event.kind == PRESENT:
            self._present(key, event)
        elif event.kind == EventKind.BOUND:
            self._opened(key, event, event.at)
        elif event.kind == EventKind.FREED:
            self._freed(key, event)
        elif event.kind == EventKind.OWNER_CHANGED:
            old = self.open.pop((event.proto, event.port, event.previous_pid), None)
            if old is not None:
                self._close(old, event.at, event)
            self._opened(key, event, event.at)
        elif event.kind == EventKind.EXPOSURE_CHANGED:
            self._exposure_changed(key, event)

    def _started(self, event: HistoryEvent) -> None:
        self._flush_pending(event)
        for hold in self.open.values():
            # Shown as ended at this start unless a ``present`` row reopens it.
            hold.end, hold.end_known = event.at, False
            self._touch(hold)
        self.pending, self.open = self.open, {}
        self.start_time = event.at

    def _present(self, key: HoldKey, event: HistoryEvent) -> None:
        if key in self.pending and key not in self.open:
            back = self.open[key] = self.pending.pop(key)
            back.bound, back.end, back.end_known = {}, None, True
            back.opened_event = event.id
        self._opened(key, event, event.at)

    def _freed(self, key: HoldKey, event: HistoryEvent) -> None:
        freed = self.open.get(key)
        if freed is None:
            # Its bind is older than the retained history.
            freed = self.open[key] = _Hold.opened_by(event, None)
            freed.bind(event.address or "", event.exposure or "")
        freed.bound.pop(event.address or "", None)
        if event.process:
            freed.last = _last(event)
        self._touch(freed)
        if not freed.bound:
            del self.open[key]
            self._close(freed, event.at, event)

    def _exposure_changed(self, key: HoldKey, event: HistoryEvent) -> None:
        widened = self.open.get(key)
        if widened is None:
            self._opened(key, event, None)
        else:
            widened.bound = {}
            widened.bind(event.address or "", event.exposure or "")
            widened.last = _last(event)
            self._touch(widened)


def _exposure_rank(exposure: str | None) -> int:
    return {"loopback": 0, "lan": 1, "public": 2}.get(exposure or "", -1)


def catch_up(conn: sqlite3.Connection, *, in_time_order: bool = False) -> None:
    """Fold the events not yet in the holdings table into it (inside the recorder's write)."""
    through = int(get_meta(conn, THROUGH) or 0)
    newest = conn.execute("SELECT max(id) FROM events").fetchone()[0]
    if newest is None or newest <= through:
        return
    order = "at, id" if in_time_order else "id"
    rows = conn.execute(
        f"SELECT {event_select(SCHEMA_VERSION)} FROM events "  # noqa: S608 - fixed names
        f"WHERE id > ? AND kind IN ({', '.join('?' * len(HOLDING_KINDS))}) ORDER BY {order}",
        (through, *HOLDING_KINDS),
    )
    events = [HistoryEvent(*row) for row in rows]
    if events:
        pairing = _Pairing.resume(conn, events)
        for event in events:
            pairing.feed(event)
        pairing.save(conn)
    set_meta(conn, THROUGH, str(newest))
