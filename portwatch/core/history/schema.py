"""The history database's layout: tables, versions, and the upgrade from older ones.

``PRAGMA user_version`` says which layout a file has:

1. events and meta only;
2. plus the holdings table (one row per holding, kept in step with the events);
3. command lines in their own table (``commands``), stored once however many
   events and holdings name them, masked (``safetext.mask_text``) and made
   valid text (``safetext.from_os``); events and holdings refer to them by
   ``command_id``;
4. when each process started (``process_started``, events and holdings), and
   whether a holding was already there when portwatch started
   (``holdings.seen_at_start``): who held a port from before portwatch ran.

Only the recorder creates or upgrades a file (:func:`upgrade`); readers ask
:func:`version_of` and read what their version has (:func:`event_select`,
:func:`command_of`, :func:`holding_starts`).
"""

from __future__ import annotations

import hashlib
import json
import sqlite3

from portwatch.core.history.values import EVENT_FIELDS
from portwatch.core.safetext import from_os, mask_text

SCHEMA_VERSION = 4
OLDEST_READABLE = 1
# ``closed_event`` of a holding not closed yet: sorts after every event id.
STILL_OPEN = 1 << 62

THROUGH = "holdings_through_event"  # the newest event folded into the holdings table
LAST_START = "holdings_last_start"  # when portwatch last started, as the pairing saw it

# One row per distinct (masked) command line; digest: the first 16 bytes of its SHA-256.
_COMMANDS = """CREATE TABLE IF NOT EXISTS commands (
    id INTEGER PRIMARY KEY,
    digest BLOB NOT NULL UNIQUE,
    text TEXT NOT NULL
)"""

# Each statement alone: executescript() would commit the transaction around it.
TABLES = (
    """CREATE TABLE IF NOT EXISTS events (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    at REAL NOT NULL,
    kind TEXT NOT NULL,
    proto TEXT,
    family INTEGER,
    address TEXT,
    port INTEGER,
    pid INTEGER,
    process TEXT,
    exe TEXT,
    user TEXT,
    exposure TEXT,
    previous_pid INTEGER,
    previous_process TEXT,
    previous_address TEXT,
    previous_exposure TEXT,
    detail TEXT,
    -- No comma in the comment before the last column: with one, SQLite (3.40.1, measured)
    -- fails to drop that last column ('incomplete input').
    command_id INTEGER,         -- commands.id; NULL when no command line was read
    process_started REAL        -- when the process started; NULL: not known
)""",
    "CREATE INDEX IF NOT EXISTS events_port_at ON events (port, at)",
    "CREATE INDEX IF NOT EXISTS events_at ON events (at)",
    "CREATE INDEX IF NOT EXISTS events_process ON events (process)",
    "CREATE INDEX IF NOT EXISTS events_command ON events (command_id)",
    "CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
    _COMMANDS,
    # One row per holding, as holdings() returns it, plus what orders equal rows
    # the way pairing the events in time order did, and (while it is open) the
    # pairing's working state.
    """CREATE TABLE IF NOT EXISTS holdings (
    id INTEGER PRIMARY KEY,
    proto TEXT NOT NULL,
    port INTEGER NOT NULL,
    pid INTEGER,
    process TEXT,
    user TEXT,
    addresses TEXT,             -- sorted, space-separated; NULL for none
    exposure TEXT,
    started REAL,               -- NULL: bound before the oldest kept event
    ended REAL,                 -- NULL while held
    end_known INTEGER NOT NULL, -- 0: ended while portwatch was not running
    ascii_only INTEGER NOT NULL, -- process and command are ASCII: LIKE folds case as lower() does
    started_event INTEGER,      -- the event at 'started'; NULL once pruned
    opened_event INTEGER NOT NULL, -- the event that (re)opened it
    closed_event INTEGER NOT NULL, -- the event whose recording closed it, or 2^62
    open_state TEXT,            -- JSON working state while not closed, else NULL
    command_id INTEGER,         -- commands.id
    process_started REAL,       -- when its process started; NULL: not known
    seen_at_start INTEGER NOT NULL DEFAULT 0 -- 1: already held when portwatch started
)""",
    # Newest first, as holdings() orders (ties, rare, are sorted when read). Only
    # columns that do not change when a holding closes, so closing one leaves them be.
    """CREATE INDEX IF NOT EXISTS holdings_newest ON holdings (
    coalesce(started, 0.0) DESC, port DESC
)""",
    "CREATE INDEX IF NOT EXISTS holdings_port ON holdings (port, coalesce(started, 0.0) DESC)",
    # Open and pending ones (closed_event 2^62) by port; pruning by closing event.
    "CREATE INDEX IF NOT EXISTS holdings_live ON holdings (closed_event, ended, port)",
    "CREATE INDEX IF NOT EXISTS holdings_command ON holdings (command_id)",
)


def version_of(conn: sqlite3.Connection) -> int:
    """The file's layout: 0 for an empty file, else its ``user_version`` (1 if unset)."""
    version = int(conn.execute("PRAGMA user_version").fetchone()[0])
    if version == 0 and has_table(conn, "events"):
        return 1  # schema 1 set no user_version
    return version


def has_table(conn: sqlite3.Connection, name: str) -> bool:
    found = conn.execute(
        "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", (name,)
    ).fetchone()
    return found is not None


def command_of(table: str, version: int) -> str:
    """The SQL expression for a row's command line in ``table`` (events or holdings)."""
    if version >= 3:
        return f"(SELECT text FROM commands WHERE commands.id = {table}.command_id)"  # noqa: S608
    return f"{table}.cmdline"


def _event_column(name: str, version: int) -> str:
    if name == "cmdline":
        return command_of("events", version)
    if name == "process_started" and version < 4:
        return "NULL"
    return f"events.{name}"


def event_select(version: int) -> str:
    """``id`` and :data:`EVENT_FIELDS` of the events table, for a HistoryEvent."""
    return ", ".join(["events.id", *(_event_column(name, version) for name in EVENT_FIELDS)])


# A holding opened by a ``present`` row: it was there when portwatch started.
_OPENED_PRESENT = (
    "EXISTS (SELECT 1 FROM events WHERE events.id = holdings.started_event"
    " AND events.kind = 'present')"
)


def holding_starts(version: int) -> str:
    """The SQL for a holding's ``process_started, seen_at_start`` in a file of ``version``.

    Before schema 4 the process start was not kept, and a holding's own
    starting event says whether it was there when portwatch started.
    """
    if version >= 4:
        return "holdings.process_started, holdings.seen_at_start"
    return f"NULL, {_OPENED_PRESENT}"


def get_meta(conn: sqlite3.Connection, key: str) -> str | None:
    row = conn.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
    return None if row is None else str(row[0])


def set_meta(conn: sqlite3.Connection, key: str, value: str) -> None:
    conn.execute("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)", (key, value))


def stored_command(text: str) -> str:
    """A command line as it may be stored: secrets masked, valid text."""
    return from_os(mask_text(from_os(text)))


def digest(text: str) -> bytes:
    return hashlib.sha256(text.encode("utf-8")).digest()[:16]


def intern_command(conn: sqlite3.Connection, text: str | None) -> int | None:
    """The id of ``text`` (already :func:`stored_command`) in the commands table, added if new."""
    if text is None:
        return None
    key = digest(text)
    row = conn.execute("SELECT id FROM commands WHERE digest = ?", (key,)).fetchone()
    if row is not None:
        return int(row[0])
    cursor = conn.execute("INSERT INTO commands (digest, text) VALUES (?, ?)", (key, text))
    return int(cursor.lastrowid or 0)


def create(conn: sqlite3.Connection) -> None:
    """The tables of this version (inside the recorder's write transaction)."""
    for statement in TABLES:
        conn.execute(statement)
    set_meta(conn, "schema_version", str(SCHEMA_VERSION))
    conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")


def upgrade(conn: sqlite3.Connection, version: int) -> bool:
    """Bring a file of ``version`` (0: new) to this one, keeping every row's data.

    Runs inside the recorder's write transaction. Existing command lines are
    masked and moved to the commands table (before 3); process starts were
    not kept (before 4): they stay unknown, and a holding opened by a
    ``present`` row was there when portwatch started. Returns True when the
    holdings table is new and must be built from the events (new files,
    schema 1).
    """
    conn.create_function("portwatch_stored", 1, _stored_or_none, deterministic=True)
    conn.create_function("portwatch_digest", 1, digest, deterministic=True)
    rebuild = version < 2
    if 1 <= version < 3:
        _move_commands(conn, "events")
    if version == 2:
        _move_commands(conn, "holdings")
        _mask_open_states(conn)
    if 1 <= version < 4:
        conn.execute("ALTER TABLE events ADD COLUMN process_started REAL")
    if 2 <= version < 4:
        conn.execute("ALTER TABLE holdings ADD COLUMN process_started REAL")
        conn.execute("ALTER TABLE holdings ADD COLUMN seen_at_start INTEGER NOT NULL DEFAULT 0")
        conn.execute(f"UPDATE holdings SET seen_at_start = 1 WHERE {_OPENED_PRESENT}")  # noqa: S608
    create(conn)
    return rebuild


def _stored_or_none(text: str | None) -> str | None:
    return None if text is None else stored_command(text)


def _move_commands(conn: sqlite3.Connection, table: str) -> None:
    """``table.cmdline`` (text) → ``table.command_id`` (a commands row), masked."""
    conn.execute(_COMMANDS)
    conn.execute(
        "INSERT OR IGNORE INTO commands (digest, text) "  # noqa: S608 - fixed names
        "SELECT portwatch_digest(t), t FROM ("
        f"SELECT DISTINCT portwatch_stored(cmdline) AS t FROM {table} WHERE cmdline IS NOT NULL)"
    )
    conn.execute(f"ALTER TABLE {table} ADD COLUMN command_id INTEGER")
    conn.execute(
        f"UPDATE {table} SET command_id = (SELECT id FROM commands "  # noqa: S608 - fixed names
        "WHERE digest = portwatch_digest(portwatch_stored(cmdline))) WHERE cmdline IS NOT NULL"
    )
    conn.execute(f"ALTER TABLE {table} DROP COLUMN cmdline")


def _mask_open_states(conn: sqlite3.Connection) -> None:
    """The pairing's saved first command line, of holdings still open, masked too."""
    rows = conn.execute(
        "SELECT id, open_state FROM holdings WHERE open_state LIKE '%\"first\": [%'"
    ).fetchall()
    for row_id, state in rows:
        saved = json.loads(state)
        first = saved.get("first")
        if first and first[1] is not None:
            first[1] = stored_command(first[1])
            conn.execute(
                "UPDATE holdings SET open_state = ? WHERE id = ?",
                (json.dumps(saved, ensure_ascii=False), row_id),
            )
