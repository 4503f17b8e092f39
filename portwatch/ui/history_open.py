"""The history at start: open the recorder, and list earlier runs' alerts in the Alerts tab."""

from __future__ import annotations

import logging
import time
from pathlib import Path

from portwatch.core.alerts.past import past_alerts
from portwatch.core.history import HistoryError, HistoryRecorder
from portwatch.core.history.rows import held_by_another
from portwatch.core.settings import Settings
from portwatch.ui.alerts_view import AlertsView
from portwatch.ui.thread_pool import run_in_pool

log = logging.getLogger(__name__)


def open_history(
    history: HistoryRecorder | None, settings: Settings
) -> tuple[HistoryRecorder | None, str | None]:
    """The given recorder, or one built from the settings; why there is none otherwise."""
    if history is not None:
        return history, None
    try:
        return HistoryRecorder.from_settings(settings), None
    except HistoryError as exc:
        if held_by_another(exc):
            # Not off for the whole run: the writer thread opens it once the lock goes.
            log.warning("%s; the history is written once it is free", exc)
            return HistoryRecorder.from_settings(settings, open_now=False), None
        log.warning("history is off: %s", exc)
        return None, str(exc)


def list_past_alerts(view: AlertsView, path: Path) -> None:
    """Earlier runs' alerts below this run's, read on the thread pool (a database read)."""
    until = time.time()
    model = view.model
    run_in_pool(view, lambda: past_alerts(path, until=until, limit=model.max_rows), model.add_older)
