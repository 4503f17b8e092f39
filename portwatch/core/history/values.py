"""What the history hands out: stored events, holding intervals, their CSV, ``--since`` times."""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

from portwatch.core import files
from portwatch.core.diff import EventKind
from portwatch.core.formats import iso_local_time
from portwatch.core.safetext import csv_cell, visible

STARTED = "started"
PRESENT = "present"
ALERT = "alert"
# The kinds that open, close or reshape a holding.
HOLDING_KINDS = (
    STARTED,
    PRESENT,
    str(EventKind.BOUND),
    str(EventKind.FREED),
    str(EventKind.OWNER_CHANGED),
    str(EventKind.EXPOSURE_CHANGED),
)

# The fields of one event, in HistoryEvent's order after ``id``.
EVENT_FIELDS = (
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
    "process_started",
)


class HistoryError(Exception):
    """The database cannot be opened, read or written; ``str()`` says why, for a person."""


@dataclass(frozen=True, slots=True)
class HistoryEvent:
    """One stored row."""

    id: int
    at: float
    kind: str
    proto: str | None
    family: int | None
    address: str | None
    port: int | None
    pid: int | None
    process: str | None
    exe: str | None
    cmdline: str | None
    user: str | None
    exposure: str | None
    previous_pid: int | None
    previous_process: str | None
    previous_address: str | None
    previous_exposure: str | None
    detail: str | None
    process_started: float | None  # when the process started (schema 4 on), None: unknown

    def to_json(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in ("id", *EVENT_FIELDS)}


@dataclass(frozen=True, slots=True)
class Holding:
    """One process holding one port from ``start`` to ``end``.

    ``start`` is when portwatch first saw it, None when the bind is older
    than the retained history; ``end`` is None while it is still held (as
    last seen). ``end_known`` is False when portwatch was not running at the
    moment it ended: then ``end`` is the next time portwatch started and saw
    it gone. ``seen_at_start``: it was already held when portwatch started,
    so it was bound before ``start``; ``process_started`` is when its
    process started (None: not known).
    """

    proto: str
    port: int
    pid: int | None
    process: str | None
    cmdline: str | None
    user: str | None
    addresses: tuple[str, ...]
    exposure: str | None
    start: float | None
    end: float | None
    end_known: bool = True
    process_started: float | None = None
    seen_at_start: bool = False

    @property
    def duration(self) -> float | None:
        if self.start is None:
            return None
        return (self.end if self.end is not None else time.time()) - self.start

    @property
    def since(self) -> float | None:
        """When the holder began holding the port, as far as is known; None: not known.

        ``start``, unless it was already held when portwatch started: then its
        process's start time when that is known and earlier, else not known.
        """
        if not self.seen_at_start:
            return self.start
        started = self.process_started
        if started is not None and (self.start is None or started < self.start):
            return started
        return None

    @property
    def held_for(self) -> float | None:
        """Seconds from :attr:`since` (not known: from ``start``, at least) to the end or now."""
        begin = self.since if self.since is not None else self.start
        if begin is None:
            return None
        return (self.end if self.end is not None else time.time()) - begin

    def to_json(self) -> dict[str, Any]:
        return {
            "proto": self.proto,
            "port": self.port,
            "pid": self.pid,
            "process": self.process,
            "command": self.cmdline,
            "user": self.user,
            "addresses": list(self.addresses),
            "exposure": self.exposure,
            "start": self.start,
            "end": self.end,
            "end_known": self.end_known,
            "duration": self.duration,
        }


HOLDING_CSV_COLUMNS = (
    "proto",
    "port",
    "pid",
    "process",
    "command",
    "user",
    "addresses",
    "exposure",
    "start",
    "end",
    "end_known",
    "duration_seconds",
)


def _iso(epoch: float | None) -> str:
    return "" if epoch is None else iso_local_time(epoch)


def holdings_to_csv(holdings: Iterable[Holding], out: TextIO) -> int:
    """Write holding intervals as CSV (ISO times); returns the number of rows.

    Text cells go through :func:`safetext.csv_cell`: no control character, no
    row split in two, no cell a spreadsheet takes for a formula.
    """
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(HOLDING_CSV_COLUMNS)
    count = 0
    for hold in holdings:
        duration = hold.duration
        writer.writerow(
            [
                hold.proto,
                hold.port,
                "" if hold.pid is None else hold.pid,
                csv_cell(hold.process or ""),
                csv_cell(hold.cmdline or ""),
                csv_cell(hold.user or ""),
                csv_cell(" ".join(hold.addresses)),
                hold.exposure or "",
                _iso(hold.start),
                _iso(hold.end),
                "yes" if hold.end_known else "no",
                "" if duration is None else f"{duration:.0f}",
            ]
        )
        count += 1
    return count


_RELATIVE = re.compile(r"^\s*(\d{1,12}(?:\.\d{1,12})?)\s*([smhdw])\s*$", re.IGNORECASE | re.ASCII)
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}


_UNIT_WORDS = {"s": "second", "m": "minute", "h": "hour", "d": "day", "w": "week"}


def since_words(text: str) -> str:
    """What a ``--since`` text means, for a sentence: 'in the last 2 hours', 'since 2026-11-21'.

    ``text`` is one :func:`parse_since` takes.
    """
    match = _RELATIVE.match(text)
    if not match:
        return f"since {visible(text.strip())}"
    amount, unit = match[1], _UNIT_WORDS[match[2].lower()]
    if float(amount) == 1:
        return f"in the last {unit}"
    return f"in the last {amount} {unit}s"


def parse_since(text: str, now: float | None = None) -> float:
    """'2h', '30m', '1d', '45s', '2w' ago, or an ISO date/time (local time) → epoch seconds.

    Anything else raises ValueError with a message for a person.
    """
    now = time.time() if now is None else now
    match = _RELATIVE.match(text)
    if match:
        return now - float(match[1]) * _UNIT_SECONDS[match[2].lower()]
    problem = (
        f"'{visible(text)}' is not a time: use 30m, 2h, 1d, 2w or a date like 2026-11-21 "
        "or 2026-11-21T14:00"
    )
    try:
        when = dt.datetime.fromisoformat(text.strip())
        if when.tzinfo is None:
            when = when.astimezone()  # a naive time means local time
        return when.timestamp()
    except (ValueError, OverflowError, OSError):
        # OverflowError/OSError: a date the platform's clock cannot place (year 1, 9999).
        raise ValueError(problem) from None


def write_holdings_csv(path: Path, holdings: Iterable[Holding]) -> int:
    """:func:`holdings_to_csv` into the file ``path`` (atomic, 0600); returns the row count."""
    buffer = io.StringIO()
    count = holdings_to_csv(holdings, buffer)
    files.write_atomic(path, buffer.getvalue())
    return count
