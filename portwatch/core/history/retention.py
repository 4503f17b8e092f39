"""Keeping the history bounded: by age, by row count and by bytes (inside the recorder's writes).

Holdings follow their events: one whose closing event is gone goes too, one
whose starting event is gone keeps its end but its start becomes unknown,
and one still open stays. Command lines no event or holding names any more
are dropped, and the space they took is given back to the file system
(``auto_vacuum = INCREMENTAL``; files made before it are vacuumed once, when
the recorder upgrades them).
"""

from __future__ import annotations

import math
import sqlite3

from portwatch.core.history.schema import STILL_OPEN

# The byte cap prunes down to this share of it, so it does not run on every write.
_LOW_WATER = 0.9
# Rounds of "drop the oldest, measure again" before giving up on one write.
_MAX_ROUNDS = 40
_INCREMENTAL = 2  # PRAGMA auto_vacuum's value for INCREMENTAL


def prune(conn: sqlite3.Connection, *, cutoff: float, max_rows: int) -> int:
    """Drop events older than ``cutoff``, then the oldest over ``max_rows``; returns how many."""
    removed = conn.execute("DELETE FROM events WHERE at < ?", (cutoff,)).rowcount
    over = conn.execute(
        "SELECT id FROM events ORDER BY id DESC LIMIT 1 OFFSET ?", (max_rows,)
    ).fetchone()
    if over is not None:
        removed += conn.execute("DELETE FROM events WHERE id <= ?", over).rowcount
    if removed:
        prune_holdings(conn, cutoff)
        drop_unused_commands(conn)
        reclaim(conn)
    return int(removed)


def prune_holdings(conn: sqlite3.Connection, cutoff: float) -> None:
    """Holdings follow the events that were just pruned."""
    oldest = conn.execute("SELECT id, at FROM events ORDER BY id LIMIT 1").fetchone()
    kept_from, kept_at = (STILL_OPEN, float("inf")) if oldest is None else oldest
    conn.execute("DELETE FROM holdings WHERE closed_event < ?", (kept_from,))
    # A holding starts no later than it ends, and its starting event is no newer
    # than the oldest one kept: bounds on 'started' let the index find these.
    conn.execute(
        "DELETE FROM holdings WHERE coalesce(started, 0.0) < ? AND ended < ?", (cutoff, cutoff)
    )
    conn.execute(
        "UPDATE holdings SET started = NULL, started_event = NULL "
        "WHERE coalesce(started, 0.0) <= ? AND started_event < ?",
        (kept_at, kept_from),
    )


def drop_unused_commands(conn: sqlite3.Connection) -> int:
    return int(
        conn.execute(
            "DELETE FROM commands WHERE"
            " NOT EXISTS (SELECT 1 FROM events WHERE events.command_id = commands.id)"
            " AND NOT EXISTS (SELECT 1 FROM holdings WHERE holdings.command_id = commands.id)"
        ).rowcount
    )


def reclaim(conn: sqlite3.Connection) -> None:
    """Give free pages back to the file system (a no-op unless auto_vacuum is incremental)."""
    conn.execute("PRAGMA incremental_vacuum").fetchall()


def size_bytes(conn: sqlite3.Connection) -> int:
    """The file's size as SQLite sees it: page_count × page_size.

    A file that cannot give free pages back (made before auto_vacuum was
    incremental, and not vacuumed since) counts only its pages in use: new
    rows fill its free pages before it grows.
    """
    pages = int(conn.execute("PRAGMA page_count").fetchone()[0])
    size = int(conn.execute("PRAGMA page_size").fetchone()[0])
    if int(conn.execute("PRAGMA auto_vacuum").fetchone()[0]) != _INCREMENTAL:
        pages -= int(conn.execute("PRAGMA freelist_count").fetchone()[0])
    return pages * size


def enforce_size(conn: sqlite3.Connection, max_bytes: int) -> int:
    """Drop the oldest events (and what follows them) until the file is under ``max_bytes``.

    Returns the number of events dropped. Prunes to a bit under the cap, so
    the next writes do not each prune again. Still-open holdings stay.
    """
    removed = 0
    target = int(max_bytes * _LOW_WATER)
    if size_bytes(conn) > max_bytes:
        reclaim(conn)  # free pages first: updated holdings leave some
    for _ in range(_MAX_ROUNDS):
        size = size_bytes(conn)
        if size <= (max_bytes if removed == 0 else target):
            break
        rows = int(conn.execute("SELECT count(*) FROM events").fetchone()[0])
        if rows == 0:
            break
        # As many rows as the excess is of the average row, and at least 1 % of them.
        share = (size - target) / size
        count = max(1, math.ceil(rows * share), rows // 100)
        last = conn.execute(
            "SELECT id FROM events ORDER BY id LIMIT 1 OFFSET ?", (min(count, rows) - 1,)
        ).fetchone()
        removed += int(conn.execute("DELETE FROM events WHERE id <= ?", last).rowcount)
        prune_holdings(conn, float("-inf"))
        drop_unused_commands(conn)
        reclaim(conn)
    return removed
