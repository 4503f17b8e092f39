"""Reading the history never writes it: retention, locks, other users, older and newer files.

``portwatch history`` runs as a real child process on a real database file;
the file is compared byte for byte (sha256) before and after.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import platformdirs
import pytest
from hypothesis import given
from hypothesis import strategies as st

from portwatch.cli.history_cmds import MAX_LIMIT, row_limit
from portwatch.core import paths
from portwatch.core.diff import Event, EventKind
from portwatch.core.history import (
    SCHEMA_VERSION,
    HistoryError,
    HistoryReader,
    HistoryRecorder,
    parse_since,
)
from tests.support.factories import node_listener as listener
from tests.support.history_reference import RecordingHistory
from tests.support.procs import is_root
from tests.test_history_holdings import SCHEMA_1

ROOT = Path(__file__).resolve().parent.parent
DAY = 86400.0
DEBIAN_PYTHON = Path("/usr/bin/python3")
NOBODY = ("setpriv", "--reuid=65534", "--regid=65534", "--clear-groups")


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def history_cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "portwatch", "history", *args],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=ROOT,
        env=env,
        check=False,
    )


def record_old_holding(recorder: HistoryRecorder, port: int, age_days: float) -> None:
    now = time.time()
    row = listener(port, pid=4242, process="webapp")
    recorder.record_events([Event(EventKind.BOUND, row, now - age_days * DAY)])
    recorder.record_events([Event(EventKind.FREED, row, now - age_days * DAY + 3600)])


def meta_rows(db: Path) -> list[tuple[str, str]]:
    raw = sqlite3.connect(f"{db.as_uri()}?mode=ro", uri=True)
    try:
        return raw.execute("SELECT key, value FROM meta ORDER BY key").fetchall()
    finally:
        raw.close()


def test_history_keeps_a_200_day_old_holding_and_leaves_the_file_unchanged() -> None:
    db = paths.history_db()
    with HistoryRecorder(db, retention_days=365, max_rows=200_000, max_bytes=100 << 20) as rec:
        record_old_holding(rec, 3000, 200)
    before, meta = sha256(db), meta_rows(db)
    for _ in range(2):
        result = history_cli("--port", "3000", "--json")
        assert result.returncode == 0, result.stderr
        [hold] = json.loads(result.stdout)
        assert (hold["port"], hold["process"]) == (3000, "webapp")
        assert hold["start"] < time.time() - 199 * DAY
    assert sha256(db) == before
    assert meta_rows(db) == meta  # the recorder's own state (what it folded in, when it started)


def test_history_while_the_recorder_is_running_changes_nothing() -> None:
    """The app has the file open (its WAL holds the newest rows): both files stay as they were."""
    db = paths.history_db()
    wal = db.with_name(db.name + "-wal")
    with HistoryRecorder(db, retention_days=365, max_rows=200_000, max_bytes=100 << 20) as rec:
        record_old_holding(rec, 3001, 10)
        assert wal.stat().st_size > 0
        before = (sha256(db), sha256(wal))
        result = history_cli("--port", "3001", "--json")
        assert result.returncode == 0, result.stderr
        assert [h["port"] for h in json.loads(result.stdout)] == [3001]
        assert (sha256(db), sha256(wal)) == before


def test_history_answers_while_another_program_holds_a_write_transaction() -> None:
    db = paths.history_db()
    with HistoryRecorder(db, retention_days=90, max_rows=200_000, max_bytes=100 << 20) as rec:
        record_old_holding(rec, 3002, 1)
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sqlite3, sys\n"
            "c = sqlite3.connect(sys.argv[1], isolation_level=None)\n"
            "c.execute('BEGIN IMMEDIATE')\n"
            "c.execute(\"INSERT INTO meta (key, value) VALUES ('other', 'program')\")\n"
            "print('locked', flush=True)\n"
            "sys.stdin.readline()\n",
            str(db),
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None
        assert holder.stdout.readline().strip() == "locked"
        result = history_cli("--port", "3002", "--json")
        # Still locked: the child has not been told to go on.
        assert holder.poll() is None
        assert result.returncode == 0, result.stderr
        assert [h["process"] for h in json.loads(result.stdout)] == ["webapp"]
        events = history_cli("--events", "--port", "3002", "--json")
        assert [e["kind"] for e in json.loads(events.stdout)] == ["bound", "freed"]
    finally:
        holder.kill()
        holder.wait(10)


def _nobody_can_run() -> bool:
    if not is_root() or shutil.which("setpriv") is None or not DEBIAN_PYTHON.exists():
        return False
    probe = subprocess.run(
        [*NOBODY, str(DEBIAN_PYTHON), "-c", "import sqlite3"],
        capture_output=True,
        check=False,
    )
    return probe.returncode == 0


def _as_nobody(data_home: Path, code: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {"PATH": "/usr/bin:/bin", "PYTHONPATH": str(code), "HOME": str(code)}
    env["XDG_DATA_HOME"] = str(data_home)
    return subprocess.run(
        [*NOBODY, str(DEBIAN_PYTHON), "-m", "portwatch", "history", *args],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
        check=False,
    )


@pytest.mark.privileged
@pytest.mark.skipif(not _nobody_can_run(), reason="needs root, setpriv and /usr/bin/python3")
def test_a_user_with_read_access_only_reads_the_rows() -> None:
    """As nobody: a copy without -wal/-shm in a folder nobody cannot write, then a live file."""
    top = Path(tempfile.mkdtemp(prefix="portwatch-history-ro-"))
    try:
        top.chmod(0o755)
        code = top / "code"
        # portwatch and the platformdirs it is made for (pure Python), readable by nobody.
        for package in (ROOT / "portwatch", Path(platformdirs.__file__).parent):
            shutil.copytree(
                package, code / package.name, ignore=shutil.ignore_patterns("__pycache__")
            )
        for path in code.rglob("*"):
            path.chmod(0o755 if path.is_dir() else 0o644)
        code.chmod(0o755)
        folder = top / "data" / "portwatch"
        folder.mkdir(parents=True)
        db = folder / "history.sqlite3"
        with HistoryRecorder(db, retention_days=90, max_rows=1000, max_bytes=100 << 20) as rec:
            record_old_holding(rec, 3003, 1)
        assert not db.with_name(db.name + "-wal").exists()
        for path in (top / "data", folder):
            path.chmod(0o755)
        db.chmod(0o644)
        before = sha256(db)
        result = _as_nobody(top / "data", code, "--port", "3003", "--json")
        assert result.returncode == 0, result.stderr
        assert [h["process"] for h in json.loads(result.stdout)] == ["webapp"]
        assert sha256(db) == before
        assert sorted(p.name for p in folder.iterdir()) == ["history.sqlite3"]

        # The recorder runs (its -wal and -shm exist), the reader may only read them.
        with HistoryRecorder(db, retention_days=90, max_rows=1000, max_bytes=100 << 20) as rec:
            record_old_holding(rec, 3004, 1)
            for name in ("history.sqlite3", "history.sqlite3-wal", "history.sqlite3-shm"):
                (folder / name).chmod(0o644)
            result = _as_nobody(top / "data", code, "--events", "--json")
            assert result.returncode == 0, result.stderr
            assert {e["port"] for e in json.loads(result.stdout)} == {3003, 3004}
    finally:
        shutil.rmtree(top, ignore_errors=True)


def _to_schema_2(db: Path, secret_command: str) -> None:
    """The file as portwatch wrote it before the commands table, with one unmasked secret."""
    raw = sqlite3.connect(db)
    with raw:
        raw.execute("ALTER TABLE events DROP COLUMN process_started")
        for column in ("process_started", "seen_at_start"):
            raw.execute(f"ALTER TABLE holdings DROP COLUMN {column}")
        for table in ("events", "holdings"):
            raw.execute(f"ALTER TABLE {table} ADD COLUMN cmdline TEXT")
            raw.execute(
                f"UPDATE {table} SET cmdline = (SELECT text FROM commands WHERE id = command_id)"
            )
            raw.execute(f"DROP INDEX {table}_command")
            raw.execute(f"ALTER TABLE {table} DROP COLUMN command_id")
        raw.execute("UPDATE events SET cmdline = ?", (secret_command,))
        raw.execute("UPDATE holdings SET cmdline = ?", (secret_command,))
        raw.execute("DROP TABLE commands")
        raw.execute("PRAGMA user_version = 2")
    raw.close()


def test_an_older_file_is_read_as_it_is_and_says_so_in_one_line() -> None:
    db = paths.history_db()
    with HistoryRecorder(db, retention_days=90, max_rows=1000, max_bytes=100 << 20) as rec:
        record_old_holding(rec, 3005, 1)
    _to_schema_2(db, "webapp --password=hunter2 serve")
    before = sha256(db)
    result = history_cli("--port", "3005", "--json")
    assert result.returncode == 0, result.stderr
    assert result.stderr.splitlines() == [
        "portwatch history: note: this history was written by an older portwatch (schema 2); "
        "the tray app upgrades it the next time it starts"
    ]
    [hold] = json.loads(result.stdout)
    assert hold["command"] == "webapp --password=****** serve"  # masked when read
    assert sha256(db) == before
    # The recorder upgrades it: the secret is masked in the file too.
    with HistoryRecorder(db, retention_days=90, max_rows=1000, max_bytes=100 << 20):
        pass
    assert b"hunter2" not in db.read_bytes()
    with HistoryReader(db) as reader:
        assert reader.notice is None
        [hold_after] = reader.holdings(port=3005)
        assert hold_after.cmdline == "webapp --password=****** serve"


def test_a_file_without_holdings_says_the_app_builds_them() -> None:
    db = paths.history_db()
    raw = sqlite3.connect(db)
    raw.executescript(SCHEMA_1)
    raw.close()
    result = history_cli()
    assert result.returncode == 1
    note, problem = result.stderr.splitlines()
    assert note.endswith(
        "older portwatch (schema 1); the tray app upgrades it the next time it starts"
    )
    assert problem.startswith(f"portwatch history: the history database {db} is from an older")
    assert "the tray app builds them the next time it starts" in problem
    events = history_cli("--events", "--json")
    assert (events.returncode, events.stdout.strip()) == (0, "[]")


def test_a_newer_file_is_refused_in_one_line() -> None:
    db = paths.history_db()
    with HistoryRecorder(db, retention_days=90, max_rows=1000, max_bytes=100 << 20) as rec:
        record_old_holding(rec, 3006, 1)
    raw = sqlite3.connect(db)
    raw.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    raw.close()
    before = sha256(db)
    result = history_cli("--port", "3006")
    assert result.returncode == 1
    assert result.stderr.splitlines() == [
        f"portwatch history: the history database {db} was written by a newer portwatch "
        f"(schema {SCHEMA_VERSION + 1}, this one knows {SCHEMA_VERSION}): update portwatch"
    ]
    assert sha256(db) == before


def test_a_limit_too_big_for_sqlite_is_one_line() -> None:
    with RecordingHistory() as history:
        history.record_events([Event(EventKind.BOUND, listener(3007), time.time())])
    result = history_cli("--limit", "9223372036854775808")
    assert result.returncode == 2
    [line] = result.stderr.splitlines()
    assert "--limit" in line
    assert "9223372036854775808 is out of range: use 1 to 1,000,000 rows" in line


@given(st.text())
def test_limit_argument_takes_any_text(text: str) -> None:
    try:
        value = row_limit(text)
    except argparse.ArgumentTypeError as exc:
        message = str(exc)
        assert message
        assert "\n" not in message
    else:
        assert 1 <= value <= MAX_LIMIT
        assert str(value) == text.strip().lstrip("0")


@given(st.integers(min_value=-(10**30), max_value=10**30))
def test_limit_argument_takes_any_number(number: int) -> None:
    if 1 <= number <= MAX_LIMIT:
        assert row_limit(str(number)) == number
    else:
        with pytest.raises(argparse.ArgumentTypeError, match="use 1 to 1,000,000"):
            row_limit(str(number))


@given(st.text())
def test_since_takes_any_text(text: str) -> None:
    try:
        when = parse_since(text, now=1_800_000_000.0)
    except ValueError as exc:
        message = str(exc)
        assert "is not a time" in message
        assert "\n" not in message
    else:
        assert when == when  # a number, not NaN


@given(st.integers(min_value=0, max_value=10**6), st.sampled_from("smhdwSMHDW"))
def test_since_relative_times(amount: int, unit: str) -> None:
    seconds = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}[unit.lower()]
    assert parse_since(f" {amount}{unit} ", now=1e9) == 1e9 - amount * seconds


def test_reader_leaves_a_missing_file_missing() -> None:
    db = paths.history_db()
    with HistoryReader(db) as reader, pytest.raises(HistoryError, match="no history database"):
        reader.holdings()
    assert not db.exists()
