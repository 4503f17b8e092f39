"""What the recorder stores: masked, valid text, private files, bounded bytes, nothing lost.

Real files, real child processes (a lock holder, a writer killed with
SIGKILL) and a real full disk (a small tmpfs, as root).
"""

from __future__ import annotations

import os
import signal
import sqlite3
import stat
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from portwatch.core import paths
from portwatch.core.diff import Event, EventKind
from portwatch.core.history import HistoryError, HistoryReader, HistoryRecorder
from portwatch.core.model import Listener, Snapshot
from tests.support.factories import node_listener as listener
from tests.support.history_lock import history_locked
from tests.support.procs import is_root

ROOT = Path(__file__).resolve().parent.parent
MB = 1024 * 1024


def recorder(
    path: Path | None = None,
    *,
    retention_days: int = 90,
    max_rows: int = 200_000,
    max_bytes: int = 100 * MB,
) -> HistoryRecorder:
    return HistoryRecorder(
        path, retention_days=retention_days, max_rows=max_rows, max_bytes=max_bytes
    )


def database_bytes(db: Path) -> bytes:
    """The main file and its WAL, as a local user who can read them would see them."""
    data = db.read_bytes()
    wal = db.with_name(db.name + "-wal")
    return data + (wal.read_bytes() if wal.exists() else b"")


def test_secrets_never_reach_the_file() -> None:
    db = paths.history_db()
    secret = listener(5432, pid=7, process="psql")
    secret = replace(
        secret,
        cmdline=(
            "psql",
            "--password=hunter2",
            "--token",
            "abc123tok",
            "PGPASSWORD=x9secret",
            "postgres://u:pw4242@h/db",
        ),
    )
    with recorder(db) as rec:
        rec.record_events([Event(EventKind.BOUND, secret, time.time())])
        rec.record_alert(
            at=time.time(),
            title="Port 5432 is in use",
            body="psql --password=hunter2 listens",
            kind="occupied",
            port=5432,
            proto="tcp",
            pid=7,
            process="psql",
            delivery="list",
        )
        data = database_bytes(db)
        for leaked in (b"hunter2", b"abc123tok", b"x9secret", b"pw4242"):
            assert leaked not in data
        with HistoryReader(db) as reader:
            [hold] = reader.holdings(port=5432)
            assert hold.cmdline == (
                "psql --password=****** --token ****** PGPASSWORD=****** postgres://u:******@h/db"
            )
    assert all(leaked not in database_bytes(db) for leaked in (b"hunter2", b"pw4242"))


def test_files_are_private_and_old_ones_are_tightened() -> None:
    db = paths.history_db()
    with recorder(db) as rec:
        rec.record_events([Event(EventKind.BOUND, listener(3000), time.time())])
        modes = {
            name: stat.S_IMODE(db.with_name(db.name + name).stat().st_mode)
            for name in ("", "-wal", "-shm")
        }
        assert modes == {"": 0o600, "-wal": 0o600, "-shm": 0o600}
    assert stat.S_IMODE(db.parent.stat().st_mode) == 0o700
    # A file and folder left open to everyone by an older portwatch.
    db.chmod(0o644)
    db.parent.chmod(0o755)
    with recorder(db):
        assert stat.S_IMODE(db.stat().st_mode) == 0o600
        assert stat.S_IMODE(db.parent.stat().st_mode) == 0o700


def test_surrogates_and_control_characters_are_stored_as_valid_text(tmp_path: Path) -> None:
    hostile = replace(
        listener(3000, pid=9, process="\udcff\udcfe"),
        exe="/tmp/\udcffbin",
        cmdline=("\udcffsrv", "--title=\x1b]0;pwned\x07", "a\u202egnp.exe", "line\nbreak"),
        user="us\udce9r",
    )
    with recorder() as rec:
        rec.record_start(replace_rows(hostile))
        rec.record_events([Event(EventKind.FREED, hostile, time.time())])
        with HistoryReader(rec.path) as reader:
            [hold] = reader.holdings(port=3000)
            events = reader.events(port=3000)
            out = tmp_path / "export.csv"
            assert reader.export_holdings_csv(out, port=3000) == 1
    assert hold.process == "\\xff\\xfe"
    assert hold.user == "us\\xe9r"
    assert hold.cmdline == "\\xffsrv --title=\x1b]0;pwned\x07 a\u202egnp.exe line\nbreak"
    for text in (hold.process, hold.cmdline, hold.user, *(e.exe or "" for e in events)):
        assert text is not None
        text.encode("utf-8")  # valid: no lone surrogate
    # The export escapes what a terminal or spreadsheet would obey, one line per row.
    lines = out.read_text(encoding="utf-8").splitlines()
    assert len(lines) == 2
    assert "\\x1b]0;pwned\\x07" in lines[1]
    assert "\\u202e" in lines[1]
    assert stat.S_IMODE(out.stat().st_mode) == 0o600


def replace_rows(*rows: Listener) -> Snapshot:
    return Snapshot(time.time() - 10, 0.0, tuple(rows))


def big_command(n: int) -> tuple[str, ...]:
    """A 14 KB command line, different for each process (like a long classpath)."""
    return ("java", "-cp", ":".join(f"/opt/lib{n}/jar{i:04d}.jar" for i in range(700)))


def test_byte_cap_keeps_the_newest_and_stores_a_command_once() -> None:
    db = paths.history_db()
    cap = 2 * MB
    base = time.time() - 3600
    stored_text = 0
    with recorder(db, max_bytes=cap) as rec:
        for n in range(300):
            row = replace(
                listener(3000 + n % 50, pid=1000 + n, process="java"), cmdline=big_command(n)
            )
            command = " ".join(big_command(n))
            events = [
                Event(EventKind.BOUND, row, base + n),
                Event(EventKind.EXPOSURE_CHANGED, replace(row, address="0.0.0.0"), base + n + 0.2),
                Event(EventKind.FREED, replace(row, address="0.0.0.0"), base + n + 0.5),
            ]
            rec.record_events(events)
            stored_text += 3 * len(command)  # what one copy per event took before
        raw = sqlite3.connect(db)
        pages, size = (
            raw.execute(f"PRAGMA {p}").fetchone()[0] for p in ("page_count", "page_size")
        )
        commands = raw.execute("SELECT count(*) FROM commands").fetchone()[0]
        raw.close()
        with HistoryReader(db) as reader:
            kept = reader.events()
            holds = reader.holdings()
    assert pages * size <= cap
    assert db.stat().st_size <= cap
    assert stored_text > 7 * cap  # per-event storage of the same input: about 15 MB
    # The newest events are kept; the oldest went.
    assert kept[-1].at == base + 299.5
    assert kept[0].at > base
    assert len(kept) >= 150
    # One command row per holding kept, not one per event.
    assert commands == len(holds)
    assert all(h.cmdline and len(h.cmdline) > 14_000 for h in holds)


def test_a_batch_written_while_another_process_holds_the_lock_is_written_once_later() -> None:
    db = paths.history_db()
    now = time.time()
    with recorder(db) as rec:
        rec.busy_timeout = 0.1
        with history_locked(db):
            for port in (4001, 4002):
                with pytest.raises(HistoryError) as caught:
                    rec.record_events([Event(EventKind.BOUND, listener(port), now)])
                assert "\n" not in str(caught.value)
                assert "another program is holding it" in str(caught.value)
            assert rec.pending == 2
        rec.record_events([Event(EventKind.BOUND, listener(4003), now + 1)])
        assert rec.pending == 0
        with HistoryReader(db) as reader:
            assert [e.port for e in reader.events()] == [4001, 4002, 4003]
            assert [h.port for h in reader.holdings()] == [4003, 4002, 4001]


WRITER = """
import sys, time
from portwatch.core.diff import Event, EventKind
from portwatch.core.history import HistoryRecorder
from tests.support.factories import node_listener as listener

path, run, base = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
rec = HistoryRecorder(path, retention_days=90, max_rows=200_000, max_bytes=100 << 20)
for batch in range(100_000):
    at = base + run * 10_000 + batch
    ports = [1 + (batch * 3 + i) % 60000 for i in range(3)]
    rows = [Event(EventKind.BOUND, listener(port, pid=run), at) for port in ports]
    rec.record_events(rows)
    print(batch, flush=True)
"""


def test_kill_9_while_writing_loses_no_committed_batch(tmp_path: Path) -> None:
    db = tmp_path / "killed.sqlite3"
    script = tmp_path / "writer.py"
    script.write_text(textwrap.dedent(WRITER))
    base = time.time() - 86400
    committed: dict[int, int] = {}  # run -> batches it said were written
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    for run in range(20):
        child = subprocess.Popen(
            [sys.executable, str(script), str(db), str(run), repr(base)],
            stdout=subprocess.PIPE,
            text=True,
            env=env,
            cwd=ROOT,
        )
        try:
            assert child.stdout is not None
            wanted = 5 + run * 7 % 23  # a different moment each time
            seen = -1
            for line in child.stdout:
                seen = int(line)
                if seen >= wanted:
                    break
            os.kill(child.pid, signal.SIGKILL)
        finally:
            child.kill()
            child.wait(10)
        committed[run] = seen + 1
        raw = sqlite3.connect(db)
        try:
            assert raw.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
            for done_run, count in committed.items():
                at_from = base + done_run * 10_000
                stored = raw.execute(
                    "SELECT count(DISTINCT at) FROM events WHERE at >= ? AND at < ?",
                    (at_from, at_from + count),
                ).fetchone()[0]
                assert stored == count
        finally:
            raw.close()


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A 512 KB tmpfs of the test's own, unmounted afterwards."""
    mount = tmp_path / "small"
    mount.mkdir()
    if not is_root():
        pytest.skip("mounting a small tmpfs needs root")
    result = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=512k,mode=0700", "tmpfs", str(mount)],
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {result.stderr.strip()}")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def test_a_full_disk_keeps_the_batch_and_writes_it_when_space_is_freed(small_disk: Path) -> None:
    filler = small_disk / "filler"
    filler.write_bytes(b"\0" * 200 * 1024)
    db = small_disk / "history.sqlite3"
    now = time.time()
    sent: list[int] = []
    with recorder(db) as rec:
        failure = None
        for n in range(200):  # 20 KB each: the disk is full long before the end
            row = replace(listener(2000 + n, pid=n + 1), cmdline=("x", "y" * 20_000 + str(n)))
            try:
                rec.record_events([Event(EventKind.BOUND, row, now + n)])
            except HistoryError as exc:
                failure = exc
            sent.append(2000 + n)
            if failure is not None and rec.pending >= 3:
                break
        assert failure is not None
        message = str(failure)
        assert "\n" not in message
        assert "disk is full" in message
        assert rec.pending >= 3
        filler.unlink()
        rec.record_events([])  # the next write: what was kept goes in now
        assert rec.pending == 0
        with HistoryReader(db) as reader:
            assert [e.port for e in reader.events()] == sent
        raw = sqlite3.connect(db)
        assert raw.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
        raw.close()
