"""`watch-port` and `history` on the command line: validation, the file, the output."""

from __future__ import annotations

import json
import subprocess
import sys
import time

import pytest

from portwatch.core import paths
from portwatch.core.diff import Event, EventKind, diff
from portwatch.core.model import Snapshot
from portwatch.core.settings import load_settings
from portwatch.entry import main
from tests.support.factories import node_listener as listener
from tests.support.history_reference import RecordingHistory


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    try:
        code = main(list(argv))
    except SystemExit as exc:
        code = int(exc.code or 0)
    out, err = capsys.readouterr()
    return code, out, err


def watched() -> list[str]:
    return [str(w.ports) for w in load_settings().settings.watched_ports]


def test_add_list_remove(capsys: pytest.CaptureFixture[str]) -> None:
    assert run(capsys, "watch-port", "add", "3000", "5173", "8000-8010") == (
        0,
        "watching 3000 5173 8000-8010\n",
        "",
    )
    assert watched() == ["3000", "5173", "8000-8010"]
    code, out, _ = run(
        capsys, "watch-port", "add", "tcp/5432", "--owner", "postgres", "--allow", "loopback"
    )
    assert code == 0
    code, out, _ = run(capsys, "watch-port", "list")
    assert out.splitlines() == [
        "PORTS      TAKEN  FREED  OWNER     ALLOWED",
        "3000       yes    yes    -         any",
        "5173       yes    yes    -         any",
        "8000-8010  yes    yes    -         any",
        "tcp/5432   yes    yes    postgres  loopback",
    ]
    code, out, _ = run(capsys, "watch-port", "list", "--json")
    assert json.loads(out)[3] == {
        "ports": "tcp/5432",
        "notify_occupied": True,
        "notify_freed": True,
        "expected_owner": "postgres",
        "allowed_exposure": "loopback",
    }
    assert run(capsys, "watch-port", "remove", "5173,8000-8010")[0] == 0
    assert watched() == ["3000", "tcp/5432"]
    code, _, err = run(capsys, "watch-port", "remove", "3000", "9")
    assert code == 1
    assert err == "portwatch watch-port remove: not watched: 9 (see `portwatch watch-port list`)\n"
    assert watched() == ["tcp/5432"]


@pytest.mark.parametrize(
    ("ports", "message"),
    [
        ("0", "port 0 is out of range: ports are 1-65535"),
        ("70000", "port 70000 is out of range: ports are 1-65535"),
        ("abc", "'abc' is not a port or range (use 3000, 8000-8010 or tcp/5432)"),
        ("3000-2000", "range 3000-2000 is backwards: write the lower port first (2000-3000)"),
        ("1-20000", "range 1-20000 has 20000 ports: at most 10,000 in one range"),
    ],
)
def test_bad_input_exits_2_and_saves_nothing(
    capsys: pytest.CaptureFixture[str], ports: str, message: str
) -> None:
    run(capsys, "watch-port", "add", "3000")
    before = paths.settings_file().read_bytes()
    code, out, err = run(capsys, "watch-port", "add", "5173", ports)
    assert (code, out) == (2, "")
    assert err == f"portwatch watch-port add: {message}\n"
    assert paths.settings_file().read_bytes() == before


def test_corrupt_settings_are_reported_once_and_repaired(
    capsys: pytest.CaptureFixture[str],
) -> None:
    paths.settings_file().write_text("{not json")
    code, _, err = run(capsys, "watch-port", "add", "3000")
    assert code == 0
    assert err.startswith("note: Some settings could not be read and were reset to defaults")
    assert "settings.json.bad-" in err
    code, _, err = run(capsys, "watch-port", "list")
    assert (code, err) == (0, "")
    assert watched() == ["3000"]


def test_real_process_exit_code() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "portwatch", "watch-port", "add", "abc"],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        "portwatch watch-port add: 'abc' is not a port or range (use 3000, 8000-8010 or tcp/5432)"
    ]
    assert not paths.settings_file().exists()


def _fill_history() -> float:
    now = time.time()
    s0 = Snapshot(now - 3 * 3600, 0.0, ())
    s1 = Snapshot(now - 3 * 3600 + 10, 0.0, (listener(3000, pid=5, process="node"),))
    s2 = Snapshot(now - 3600, 0.0, ())
    s3 = Snapshot(now - 60, 0.0, (listener(8000, "0.0.0.0", pid=9, process="python3"),))
    with RecordingHistory() as history:
        history.record_start(s0)
        for a, b in ((s0, s1), (s1, s2), (s2, s3)):
            history.record_events(diff(a, b))
    return now


def test_history_table_json_csv(capsys: pytest.CaptureFixture[str]) -> None:
    _fill_history()
    code, out, _ = run(capsys, "history", "--port", "3000")
    assert code == 0
    lines = out.splitlines()
    assert lines[0].split() == [
        "PORT",
        "PROTO",
        "PROCESS",
        "PID",
        "FROM",
        "UNTIL",
        "HELD",
        "COMMAND",
    ]
    assert lines[1].split()[:4] == ["3000", "tcp", "node", "5"]
    assert "1h 59m" in lines[1]
    assert lines[1].endswith("node serve")
    code, out, _ = run(capsys, "history", "--json")
    data = json.loads(out)
    assert [(d["port"], d["process"]) for d in data] == [(8000, "python3"), (3000, "node")]
    assert data[1]["duration"] == pytest.approx(2 * 3600 - 10)
    assert data[0]["end"] is None
    code, out, _ = run(capsys, "history", "--since", "30m", "--json")
    assert [d["port"] for d in json.loads(out)] == [8000]
    code, out, _ = run(capsys, "history", "--process", "node", "--csv")
    assert out.splitlines()[0].startswith("proto,port,pid,process,command")
    assert len(out.splitlines()) == 2
    code, out, _ = run(capsys, "history", "--events", "--port", "3000")
    assert [line.split()[2] for line in out.splitlines()[1:]] == ["bound", "freed"]


def test_history_bad_input_and_empty(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "history")
    assert (code, out) == (0, "No history yet: the tray app records it while it runs.\n")
    assert not paths.history_db().exists()
    code, _, err = run(capsys, "history", "--since", "soon")
    assert code == 2
    assert "'soon' is not a time" in err
    code, _, err = run(capsys, "history", "--port", "0")
    assert code == 2
    assert "out of range" in err


def _fill_many(pairs: int) -> None:
    """``pairs`` ports bound and freed in the last ten minutes (``2 * pairs`` events,
    ``pairs`` holdings), and one port held two hours ago, through the app's recorder."""
    now = time.time()
    old = listener(19999, pid=4, process="ruby")
    with RecordingHistory() as history:
        history.record_events([Event(EventKind.BOUND, old, now - 7200)])
        history.record_events([Event(EventKind.FREED, old, now - 7100)])
        batch = []
        for n in range(pairs):
            row = listener(20000 + n, pid=1000 + n, process="node" if n % 2 else "deno")
            at = now - 600 + n * 0.25
            batch += [Event(EventKind.BOUND, row, at), Event(EventKind.FREED, row, at + 0.1)]
        history.record_events(batch)
        # The counts are those of the queries they stand for.
        reader = history.reader
        for filters in ({}, {"since": now - 1800}, {"process": "DENO"}, {"port": 20001}):
            assert reader.count_events(**filters) == len(reader.events(**filters))
            assert reader.count_holdings(**filters) == len(reader.holdings(**filters))
        assert reader.count_events(kinds=["bound"]) == pairs + 1


def test_history_says_when_it_shows_fewer_rows_than_match(
    capsys: pytest.CaptureFixture[str],
) -> None:
    _fill_many(617)
    code, out, err = run(capsys, "history", "--events", "--since", "30m")
    assert code == 0
    assert len(out.splitlines()) == 1 + 500  # the header and the newest 500
    assert err == "500 of 1,234 shown: use --limit N to see more\n"
    # JSON and CSV stay whole on stdout; the note is on stderr all the same.
    code, out, err = run(capsys, "history", "--events", "--since", "30m", "--json", "--limit", "7")
    assert len(json.loads(out)) == 7
    assert err == "7 of 1,234 shown: use --limit N to see more\n"
    # Everything shown, or exactly as many as the limit: nothing to say.
    code, out, err = run(capsys, "history", "--events", "--since", "30m", "--limit", "1234")
    assert (len(out.splitlines()), err) == (1 + 1234, "")
    code, out, err = run(capsys, "history", "--events", "--port", "20001")
    assert (len(out.splitlines()), err) == (1 + 2, "")
    # The holdings view has the same limit.
    code, out, err = run(capsys, "history", "--since", "30m", "--limit", "10", "--csv")
    assert len(out.splitlines()) == 1 + 10
    assert err == "10 of 617 shown: use --limit N to see more\n"
    code, out, err = run(capsys, "history", "--process", "ruby", "--limit", "1")
    assert (len(out.splitlines()), err) == (1 + 1, "")
    code, out, err = run(capsys, "history")
    assert err == "500 of 618 shown: use --limit N to see more\n"
