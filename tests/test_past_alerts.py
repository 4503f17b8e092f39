"""Earlier runs' alerts, read back from a real history file written by the recorder."""

from __future__ import annotations

import time
from pathlib import Path

from portwatch.core.alerts.alert import AlertKind
from portwatch.core.alerts.past import past_alerts
from tests.support.history_reference import RecordingHistory


def record(history: RecordingHistory, at: float, port: int, **fields: str) -> None:
    values = {
        "title": f"Port {port} is in use",
        "body": "node (PID 1) listens on tcp 127.0.0.1:3000",
        "kind": "occupied",
        "delivery": "dbus",
        **fields,
    }
    history.recorder.record_alert(
        at=at,
        port=port,
        proto="tcp",
        pid=1,
        process="node",
        **values,
    )


def test_the_last_week_is_read_back_oldest_first_newest_kept_at_the_limit() -> None:
    now = time.time()
    with RecordingHistory() as history:
        record(history, now - 8 * 86400, 1)  # more than a week ago
        for port in range(10, 15):
            record(history, now - 3600 + port, port)
        record(history, now - 100, 20, kind="a kind of a newer portwatch")
        record(history, now - 50, 21, delivery="quiet period")
        record(history, now, 99)  # this run's
        alerts = past_alerts(history.path, until=now, limit=5)
    assert [a.port for a in alerts] == [12, 13, 14, 20, 21]
    assert all(not a.notify for a in alerts)
    assert alerts[0].kind is AlertKind.OCCUPIED
    assert alerts[0].title == "Port 12 is in use"
    assert alerts[3].kind is AlertKind.NOTICE
    assert [a.suppressed for a in alerts] == [False, False, False, False, True]


def test_a_missing_or_unreadable_history_gives_no_alerts(tmp_path: Path) -> None:
    assert past_alerts(tmp_path / "none.sqlite3", until=time.time(), limit=10) == []
    broken = tmp_path / "broken.sqlite3"
    broken.write_bytes(b"not a database" * 100)
    assert past_alerts(broken, until=time.time(), limit=10) == []
