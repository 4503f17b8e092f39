"""The alerts of earlier runs, read back from the history, so a restart empties no list.

Every alert is recorded in the history as an ``alert`` row whose detail holds
its kind, title, body and how it was delivered (``HistoryRecorder.record_alert``);
texts were masked when they were written.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

from portwatch.core.alerts.alert import Alert, AlertKind
from portwatch.core.history import ALERT, HistoryError, HistoryReader
from portwatch.core.history.values import HistoryEvent
from portwatch.core.safetext import visible

log = logging.getLogger(__name__)

# How far back the Alerts tab reaches when the app starts.
PAST_ALERT_DAYS = 7


def past_alerts(
    path: Path, *, until: float, limit: int, days: int = PAST_ALERT_DAYS
) -> list[Alert]:
    """The newest ``limit`` alerts recorded in the ``days`` before ``until``, oldest first.

    Runs off the UI thread. A history that cannot be read gives none (the
    History tab says why); a row that does not read as an alert is skipped.
    """
    reader = HistoryReader(path)
    try:
        # One more: a row at ``until`` itself (this run's) may be among the newest.
        since = until - days * 86400
        rows = reader.events(since=since, until=until, kinds=[ALERT], limit=limit + 1)
    except HistoryError as exc:
        log.info("earlier alerts not shown: %s", exc)
        return []
    finally:
        reader.close()
    alerts = [alert for alert in map(_alert, rows) if alert is not None and alert.at < until]
    return alerts[-limit:] if limit > 0 else []


def _alert(row: HistoryEvent) -> Alert | None:
    try:
        detail = json.loads(row.detail or "")
    except ValueError:
        return None
    if not isinstance(detail, dict):
        return None
    title, body = detail.get("title"), detail.get("body")
    if not isinstance(title, str) or not isinstance(body, str):
        return None
    try:
        kind = AlertKind(str(detail.get("alert")))
    except ValueError:
        kind = AlertKind.NOTICE  # a kind of a newer portwatch: still worth listing
    return Alert(
        kind=kind,
        at=row.at,
        title=visible(title),
        body=body,
        port=row.port,
        proto=row.proto,
        process=row.process,
        pid=row.pid,
        notify=False,
        suppressed=detail.get("delivery") == "quiet period",
        ports=(row.port,) if row.port is not None else (),
    )
