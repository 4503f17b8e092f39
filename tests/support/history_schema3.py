"""A history file as portwatch wrote it at schema 3, and the scenario that wrote it.

:data:`SCHEMA_3_DUMP` is ``sqlite3.Connection.iterdump()`` of the file that
:func:`record_scenario` wrote through the ``HistoryRecorder`` of commit 403017b
(schema 3, the last before process start times were kept): three listeners
already there when portwatch started (node, nginx, redis), vite bound a minute
later, redis freed, portwatch restarted without vite, python3 bound. Its times
are fixed (:data:`T`): open it with a retention long enough to keep them.
"""

# ruff: noqa: E501 - the dump's rows are SQLite's own lines, kept as they are

from __future__ import annotations

import itertools
import sqlite3
from pathlib import Path

from portwatch.core.diff import diff
from portwatch.core.history import HistoryRecorder
from portwatch.core.model import Listener, Snapshot
from tests.support.factories import listener

T = 1_764_000_000.0
# Retention that keeps the scenario's events whatever today's date.
KEEP_ALL = 36500

NODE = listener(3000, "127.0.0.1", pid=100, process="node", args=("server.js",), started=T - 3600)
NGINX = listener(
    8080, "0.0.0.0", pid=200, process="nginx", args=("-g", "daemon off;"), started=T - 86400
)
REDIS = listener(6379, "::1", pid=300, process="redis-server", args=("::1:6379",), started=T - 600)
VITE = listener(
    5173, "0.0.0.0", pid=400, process="vite", args=("--host", "--token=hunter2"), started=T + 50
)
PYTHON = listener(
    8000, "127.0.0.1", pid=500, process="python3", args=("-m", "http.server"), started=T + 950
)


def _snap(at: float, *rows: Listener) -> Snapshot:
    return Snapshot(at, 0.0, rows, backend="test")


def record_scenario(recorder: HistoryRecorder) -> None:
    """Two runs of portwatch, as the tray app records them."""
    first = [
        _snap(T, NODE, NGINX, REDIS),
        _snap(T + 60, NODE, NGINX, REDIS, VITE),
        _snap(T + 120, NODE, NGINX, VITE),
    ]
    again = [_snap(T + 900, NODE, NGINX), _snap(T + 960, NODE, NGINX, PYTHON)]
    for run in (first, again):
        recorder.record_start(run[0])
        for before, after in itertools.pairwise(run):
            recorder.record_events(diff(before, after))


def write_schema_3(path: Path) -> None:
    """The schema-3 file, as that portwatch left it (user_version 3, WAL)."""
    conn = sqlite3.connect(path)
    try:
        conn.execute("PRAGMA auto_vacuum = INCREMENTAL")
        conn.execute("PRAGMA journal_mode=WAL")
        conn.executescript(SCHEMA_3_DUMP)
        conn.execute("PRAGMA user_version = 3")
    finally:
        conn.close()


SCHEMA_3_DUMP = """\
CREATE TABLE commands (
    id INTEGER PRIMARY KEY,
    digest BLOB NOT NULL UNIQUE,
    text TEXT NOT NULL
);
INSERT INTO "commands" VALUES(1,X'BC6E225963253919EAE3A755B4EA667D','node server.js');
INSERT INTO "commands" VALUES(2,X'4696D6D2BB43D326CC6E10DDD2D84720','nginx -g daemon off;');
INSERT INTO "commands" VALUES(3,X'774A2AB770CC8AE7C1254D53D7218413','redis-server ::1:6379');
INSERT INTO "commands" VALUES(4,X'1B1837FF7C798057320794DCF251640F','vite --host --token=******');
INSERT INTO "commands" VALUES(5,X'239DD95D0C2524BA35061DBA3A248B0C','python3 -m http.server');
CREATE TABLE events (
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
    command_id INTEGER          -- commands.id, NULL when no command line was read
);
INSERT INTO "events" VALUES(1,1764000000.0,'started',NULL,NULL,NULL,NULL,NULL,NULL,NULL,NULL,NULL,NULL,NULL,NULL,NULL,'test',NULL);
INSERT INTO "events" VALUES(2,1764000000.0,'present','tcp',4,'127.0.0.1',3000,100,'node','/usr/bin/node','alice','loopback',NULL,NULL,NULL,NULL,NULL,1);
INSERT INTO "events" VALUES(3,1764000000.0,'present','tcp',4,'0.0.0.0',8080,200,'nginx','/usr/bin/nginx','alice','public',NULL,NULL,NULL,NULL,NULL,2);
INSERT INTO "events" VALUES(4,1764000000.0,'present','tcp',6,'::1',6379,300,'redis-server','/usr/bin/redis-server','alice','loopback',NULL,NULL,NULL,NULL,NULL,3);
INSERT INTO "events" VALUES(5,1764000060.0,'bound','tcp',4,'0.0.0.0',5173,400,'vite','/usr/bin/vite','alice','public',NULL,NULL,NULL,NULL,NULL,4);
INSERT INTO "events" VALUES(6,1764000120.0,'freed','tcp',6,'::1',6379,300,'redis-server','/usr/bin/redis-server','alice','loopback',NULL,NULL,NULL,NULL,NULL,3);
INSERT INTO "events" VALUES(7,1764000900.0,'started',NULL,NULL,NULL,NULL,NULL,NULL,NULL,NULL,NULL,NULL,NULL,NULL,NULL,'test',NULL);
INSERT INTO "events" VALUES(8,1764000900.0,'present','tcp',4,'127.0.0.1',3000,100,'node','/usr/bin/node','alice','loopback',NULL,NULL,NULL,NULL,NULL,1);
INSERT INTO "events" VALUES(9,1764000900.0,'present','tcp',4,'0.0.0.0',8080,200,'nginx','/usr/bin/nginx','alice','public',NULL,NULL,NULL,NULL,NULL,2);
INSERT INTO "events" VALUES(10,1764000960.0,'bound','tcp',4,'127.0.0.1',8000,500,'python3','/usr/bin/python3','alice','loopback',NULL,NULL,NULL,NULL,NULL,5);
CREATE TABLE holdings (
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
    command_id INTEGER          -- commands.id
);
INSERT INTO "holdings" VALUES(1,'tcp',3000,100,'node','alice','127.0.0.1','loopback',1764000000.0,NULL,1,1,2,8,4611686018427387904,'{"first": null, "last": ["127.0.0.1", "loopback"], "bound": [["127.0.0.1", "loopback"]], "seen": [["127.0.0.1", "loopback"]]}',1);
INSERT INTO "holdings" VALUES(2,'tcp',8080,200,'nginx','alice','0.0.0.0','public',1764000000.0,NULL,1,1,3,9,4611686018427387904,'{"first": null, "last": ["0.0.0.0", "public"], "bound": [["0.0.0.0", "public"]], "seen": [["0.0.0.0", "public"]]}',2);
INSERT INTO "holdings" VALUES(3,'tcp',6379,300,'redis-server','alice','::1','loopback',1764000000.0,1764000120.0,1,1,4,4,6,NULL,3);
INSERT INTO "holdings" VALUES(4,'tcp',5173,400,'vite','alice','0.0.0.0','public',1764000060.0,1764000900.0,0,1,5,5,10,NULL,4);
INSERT INTO "holdings" VALUES(5,'tcp',8000,500,'python3','alice','127.0.0.1','loopback',1764000960.0,NULL,1,1,10,10,4611686018427387904,'{"first": null, "last": ["127.0.0.1", "loopback"], "bound": [["127.0.0.1", "loopback"]], "seen": [["127.0.0.1", "loopback"]]}',5);
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
INSERT INTO "meta" VALUES('schema_version','3');
INSERT INTO "meta" VALUES('holdings_last_start','1764000900.0');
INSERT INTO "meta" VALUES('holdings_through_event','10');
CREATE INDEX events_port_at ON events (port, at);
CREATE INDEX events_at ON events (at);
CREATE INDEX events_process ON events (process);
CREATE INDEX events_command ON events (command_id);
CREATE INDEX holdings_newest ON holdings (
    coalesce(started, 0.0) DESC, port DESC
);
CREATE INDEX holdings_port ON holdings (port, coalesce(started, 0.0) DESC);
CREATE INDEX holdings_live ON holdings (closed_event, ended, port);
CREATE INDEX holdings_command ON holdings (command_id);
DELETE FROM "sqlite_sequence";
INSERT INTO "sqlite_sequence" VALUES('events',10);
"""
