"""Port history: every event in an SQLite database, and who held a port when.

The database lives in ``paths.history_db()`` (WAL mode). The tray app's
:class:`HistoryRecorder` is the only writer: it appends a row for each diff
event (bound, freed, owner_changed, exposure_changed), for each alert sent,
and, when watching starts, one ``started`` row plus one ``present`` row per
listener already there, so holding intervals survive restarts; it keeps the
holdings table in step, upgrades older files and applies the retention the
settings give (age, rows, bytes). :class:`HistoryReader` (``portwatch
history``, the History tab) opens the file read-only and never changes it.

Modules: ``values`` (what is handed out), ``schema`` (tables, versions,
upgrades), ``pairing`` (events into holdings), ``retention``, ``rows`` (rows
from listeners), ``recorder``, ``writer`` (the app's writer thread),
``reader``, ``connections`` (one per thread, errors for a person).
"""

from portwatch.core.history.reader import HistoryReader
from portwatch.core.history.recorder import HistoryRecorder
from portwatch.core.history.schema import SCHEMA_VERSION
from portwatch.core.history.values import (
    ALERT,
    HOLDING_CSV_COLUMNS,
    PRESENT,
    STARTED,
    HistoryError,
    HistoryEvent,
    Holding,
    holdings_to_csv,
    parse_since,
    since_words,
    write_holdings_csv,
)

__all__ = [
    "ALERT",
    "HOLDING_CSV_COLUMNS",
    "PRESENT",
    "SCHEMA_VERSION",
    "STARTED",
    "HistoryError",
    "HistoryEvent",
    "HistoryReader",
    "HistoryRecorder",
    "Holding",
    "holdings_to_csv",
    "parse_since",
    "since_words",
    "write_holdings_csv",
]
