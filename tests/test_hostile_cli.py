"""Hostile children through `list`, `list --csv`, `list --json`, `who` and `watch`.

Each command runs as a real process with a strict UTF-8 stdout
(``PYTHONIOENCODING=utf-8``), against a real child on 127.0.0.1 whose name is
not UTF-8 and holds an ESC sequence and U+202E, and whose command line holds
OSC sequences, BEL, a newline, HTML, bytes that are not UTF-8, a password and a
100 KB argument (``tests/support/hostile.py``). It works in a folder with a
hostile name that holds ``.git``, so that name is its project and its cwd.
"""

from __future__ import annotations

import csv
import io
import json
import os
import selectors
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.hostile import (
    FORBIDDEN,
    HOSTILE_DIR_NAME,
    HOSTILE_NAME_SHOWN,
    PASSWORD,
    SHOWN_PARTS,
    hostile_listener,
)
from tests.support.procs import ListenerProcess

ROOT = Path(__file__).resolve().parent.parent
STRICT_ENV = {**os.environ, "PYTHONIOENCODING": "utf-8"}
# What from_os makes of the child's name: invalid bytes as \xff, the rest as read.
NAME_AS_TEXT = "\\xff\\xfe\x1b[2J\u202epwn"
# The folder's name as every text output shows it.
DIR_SHOWN = "dir\\x1b[2J\\u202e"
# What `list` and `who` call it: the app (its script) and its project (the folder).
APP_AND_PROJECT_SHOWN = f"hostile.py — {DIR_SHOWN}"


def portwatch(*args: str) -> tuple[str, str]:
    """Run portwatch; stdout and stderr decoded as strict UTF-8 (a bad byte fails the test)."""
    done = subprocess.run(
        [sys.executable, "-m", "portwatch", *args],
        capture_output=True,
        timeout=120,
        cwd=ROOT,
        env=STRICT_ENV,
        check=False,
    )
    err = done.stderr.decode("utf-8")
    assert done.returncode == 0, err
    assert "Traceback" not in err
    return done.stdout.decode("utf-8"), err


@pytest.fixture(scope="module")
def hostile(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ListenerProcess]:
    folder = tmp_path_factory.mktemp("hostile")
    (folder / HOSTILE_DIR_NAME / ".git").mkdir(parents=True)
    with hostile_listener(folder) as child:
        yield child


def assert_safe(text: str) -> None:
    for char in FORBIDDEN:
        assert char not in text, f"{char!r} reached the output"


def _strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield key
            yield from _strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from _strings(item)


def assert_strict_json(text: str) -> Any:
    """Parsed JSON whose every string encodes as UTF-8 (no lone surrogate such as \\udcff)."""
    data = json.loads(text.encode("utf-8").decode("utf-8", "strict"))
    for item in _strings(data):
        item.encode("utf-8", "strict")
    return data


def test_list_shows_one_row_with_visible_escapes(hostile: ListenerProcess) -> None:
    out, _err = portwatch("list", "--tcp")
    assert_safe(out)
    # This child's row, found by its pid (other programs, or another run of this
    # test, may hold a socket under the same name at the same time).
    mine = [line for line in out.splitlines() if str(hostile.pid) in line.split()]
    assert len(mine) == 1, out
    cells = mine[0].split()
    assert str(hostile.ports[0]) in cells
    assert APP_AND_PROJECT_SHOWN in mine[0]


def test_list_csv_cells_are_visible_and_never_formulas() -> None:
    with hostile_listener() as child, hostile_listener(name=b"=2+3") as formula:
        out, _err = portwatch("list", "--tcp", "--csv")
    assert_safe(out)
    records = list(csv.DictReader(io.StringIO(out)))
    # One physical line per record: nothing in a cell splits a row.
    assert len(out.splitlines()) == len(records) + 1
    by_pid = {row["pid"]: row for row in records}
    row = by_pid[str(child.pid)]
    assert row["process"] == HOSTILE_NAME_SHOWN
    for part in SHOWN_PARTS:
        assert part in row["cmdline"]
    assert f"--big={'A' * 100_000}" in row["cmdline"]
    assert by_pid[str(formula.pid)]["process"] == "'=2+3"


def test_list_json_is_strict_utf8_and_keeps_the_text(hostile: ListenerProcess) -> None:
    out, _err = portwatch("list", "--tcp", "--json")
    rows = assert_strict_json(out)
    mine = next(r for r in rows if r["pid"] == hostile.pid)
    assert mine["process"] == NAME_AS_TEXT
    assert (mine["app"], mine["project"]) == ("hostile.py", HOSTILE_DIR_NAME)
    assert mine["cwd"].endswith(f"/{HOSTILE_DIR_NAME}")
    assert "--raw=\\xff\\xfe" in mine["cmdline"]
    assert "--note=first line\nsecond line" in mine["cmdline"]
    assert "--title=\x1b]0;pwned\x07" in mine["cmdline"]  # JSON escapes it as \u001b
    assert "\x1b" not in out  # the raw byte is not in the output


def test_who_prints_the_command_line_on_one_line(hostile: ListenerProcess) -> None:
    port = str(hostile.ports[0])
    out, _err = portwatch("who", port)
    assert_safe(out)
    command = [line for line in out.splitlines() if line.startswith("  command: ")]
    assert len(command) == 1
    for part in SHOWN_PARTS:
        assert part in command[0]
    assert f"--password={PASSWORD}" in command[0]  # the live view shows it; see test_hostile_ui
    assert not any(line.startswith("second line") for line in out.splitlines())
    assert out.startswith(f"Port {port}: {APP_AND_PROJECT_SHOWN} (PID {hostile.pid}), ")
    lines = out.splitlines()
    assert f"  process:   {HOSTILE_NAME_SHOWN}" in lines
    assert f"  project:   {DIR_SHOWN}" in lines
    assert any(line.startswith("  folder:    ") and line.endswith(DIR_SHOWN) for line in lines)
    as_json = assert_strict_json(portwatch("who", port, "--json")[0])
    assert [r["pid"] for r in as_json] == [hostile.pid]


def _read_until(
    stream: Any, wanted: str, deadline: float, selector: selectors.BaseSelector
) -> list[str]:
    """Lines (strict UTF-8) from a pipe until one contains ``wanted``; bounded by ``deadline``."""
    lines: list[str] = []
    buffer = b""
    while time.monotonic() < deadline:
        if not selector.select(timeout=max(0.0, min(0.5, deadline - time.monotonic()))):
            continue
        chunk = os.read(stream.fileno(), 65536)
        if not chunk:
            break
        buffer += chunk
        *complete, buffer = buffer.split(b"\n")
        for raw in complete:
            line = raw.decode("utf-8")
            lines.append(line)
            if wanted in line:
                return lines
    return lines


def test_watch_prints_the_bind_as_one_visible_line(tmp_path: Path) -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "portwatch", "watch", "--interval", "0.3"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        cwd=ROOT,
        env=STRICT_ENV,
    )
    try:
        assert proc.stdout is not None
        assert proc.stderr is not None
        errors = selectors.DefaultSelector()
        errors.register(proc.stderr, selectors.EVENT_READ)
        started = _read_until(proc.stderr, "watching", time.monotonic() + 60, errors)
        assert any("watching" in line for line in started), started
        output = selectors.DefaultSelector()
        output.register(proc.stdout, selectors.EVENT_READ)
        with hostile_listener(tmp_path) as child:
            marker = f"127.0.0.1:{child.ports[0]} by"
            lines = _read_until(proc.stdout, marker, time.monotonic() + 30, output)
        bound = [line for line in lines if marker in line]
        assert len(bound) == 1, lines
        # Named by its app (the folder holds no project marker here).
        assert f"by hostile.py (PID {child.pid}) · loopback" in bound[0]
        for line in lines:
            assert_safe(line)
        proc.terminate()
        assert proc.wait(10) == 0
        rest = proc.stderr.read().decode("utf-8")
        assert "Traceback" not in rest
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(5)
