"""The window's export writes times as ISO 8601 local time; the command line keeps epoch seconds."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import math
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from portwatch.core.export import ExportFormat, export_listeners
from portwatch.core.formats import to_csv, to_json
from portwatch.core.scanner import Scanner
from tests.support.factories import listener
from tests.support.procs import ListenerProcess

ROOT = Path(__file__).resolve().parent.parent
STARTED = 1_796_403_011.0  # 2026-12-04 16:50:11 UTC
# The same moment in India (UTC+05:30, no daylight saving time): an offset that is not whole hours.
STARTED_IN_INDIA = "2026-12-04T22:20:11+05:30"


@pytest.fixture
def india_time() -> Iterator[None]:
    """Local time is India's for the test (a POSIX TZ string: no time zone files needed)."""
    before = os.environ.get("TZ")
    os.environ["TZ"] = "IST-05:30"
    time.tzset()
    yield
    if before is None:
        del os.environ["TZ"]
    else:
        os.environ["TZ"] = before
    time.tzset()


@pytest.mark.usefixtures("india_time")
def test_an_exported_csv_gives_started_as_local_time_with_its_offset(tmp_path: Path) -> None:
    rows = [listener(3000, started=STARTED), listener(3001, started=None)]
    result = export_listeners(rows, tmp_path / "table.csv")
    assert result.error is None
    parsed = list(csv.DictReader(io.StringIO(result.path.read_text())))
    assert [row["started"] for row in parsed] == [STARTED_IN_INDIA, ""]


@pytest.mark.usefixtures("india_time")
def test_an_exported_json_gives_started_as_local_time_with_its_offset(tmp_path: Path) -> None:
    rows = [listener(3000, started=STARTED), listener(3001, started=None)]
    result = export_listeners(rows, tmp_path / "table", ExportFormat.JSON)
    data = json.loads(result.path.read_text())
    assert [row["started"] for row in data] == [STARTED_IN_INDIA, None]
    assert dt.datetime.fromisoformat(data[0]["started"]).timestamp() == STARTED


@pytest.mark.usefixtures("india_time")
def test_the_command_lines_json_and_csv_keep_epoch_seconds() -> None:
    # What `list --json`, `who --json` and `list --csv` print with: scripts read a number.
    rows = [listener(3000, started=STARTED), listener(3001, started=None)]
    assert [row["started"] for row in json.loads(to_json(rows))] == [STARTED, None]
    parsed = csv.DictReader(io.StringIO(to_csv(rows)))
    assert [row["started"] for row in parsed] == [str(STARTED), ""]


def test_a_real_listener_is_a_number_for_the_cli_and_the_same_second_in_an_export(
    tmp_path: Path,
) -> None:
    with ListenerProcess(["tcp:127.0.0.1:0"]) as child:
        port = child.ports[0]
        printed = {}
        for command in (("list", "--json"), ("who", str(port), "--json")):
            out = subprocess.run(
                [sys.executable, "-m", "portwatch", *command],
                capture_output=True,
                text=True,
                timeout=60,
                cwd=ROOT,
                check=True,
            ).stdout
            (printed[command[0]],) = [row for row in json.loads(out) if row["port"] == port]
        scanner = Scanner(connection_owners=False)
        try:
            rows = scanner.scan().on_port(port)
        finally:
            scanner.close()
    started = printed["list"]["started"]
    assert isinstance(started, float)
    assert printed["who"]["started"] == started
    result = export_listeners(rows, tmp_path / "table.json")
    (exported,) = json.loads(result.path.read_text())
    assert dt.datetime.fromisoformat(exported["started"]).timestamp() == math.floor(started)
