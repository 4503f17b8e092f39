"""The History tab on a real history file (offscreen): shown at once, in plain words.

The history is written through the recorder, as the tray app writes it; the
tab reads it with its own reader on the thread pool.
"""

from __future__ import annotations

import csv
import re
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from pytestqt.modeltest import ModelTester
from pytestqt.qtbot import QtBot

from portwatch.core.diff import diff
from portwatch.core.model import Snapshot
from portwatch.ui.app import PortwatchApp
from portwatch.ui.history_model import BEFORE_PORTWATCH, HoldingsModel
from portwatch.ui.history_view import NOTHING_RECORDED, HistoryView, nothing_found
from tests.support.factories import listener
from tests.support.history_reference import RecordingHistory
from tests.ui.composed import built_apps, feed


def clock(epoch: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(epoch))


def cell(model: HoldingsModel, port: int, column: int, role: int | None = None) -> object:
    """The cell of the holding of ``port`` (the only one of it) in ``column``."""
    [row] = [i for i, hold in enumerate(model.holdings()) if hold.port == port]
    index = model.index(row, column)
    return model.data(index) if role is None else model.data(index, role)


def tooltip(model: HoldingsModel, port: int, column: int) -> object:
    return cell(model, port, column, Qt.ItemDataRole.ToolTipRole)


def shown_view(qtbot: QtBot, history: RecordingHistory) -> HistoryView:
    """The tab as a user opens it: nothing pressed, the answer waited for."""
    view = HistoryView(history.reader)
    qtbot.addWidget(view)
    with qtbot.waitSignal(view.searched):
        view.show()
    return view


@pytest.fixture
def history() -> Iterator[RecordingHistory]:
    with RecordingHistory() as db:
        now = time.time()
        s0 = Snapshot(now - 7200, 0.0, ())
        node = listener(3000, "127.0.0.1", pid=5, process="node", cmdline=("proc3000", "--serve"))
        s1 = Snapshot(now - 7000, 0.0, (node,))
        s2 = Snapshot(now - 3600, 0.0, ())
        s3 = Snapshot(now - 60, 0.0, (listener(8000, "0.0.0.0", pid=9, process="python3"),))
        db.record_start(s0)
        for a, b in ((s0, s1), (s1, s2), (s2, s3)):
            db.record_events(diff(a, b))
        yield db


def test_the_tab_shows_the_latest_holdings_as_soon_as_it_is_shown(
    qtbot: QtBot, history: RecordingHistory, qtmodeltester: ModelTester
) -> None:
    view = shown_view(qtbot, history)
    model = view.model
    qtmodeltester.check(model)
    assert view.pages.currentWidget() is view.table
    assert sorted(h.port for h in model.holdings()) == [3000, 8000]
    assert view.count_label.text() == "2 holdings"
    # Address and exposure, in the Listeners tab's words.
    assert cell(model, 8000, HoldingsModel.ADDRESS) == "0.0.0.0"
    assert cell(model, 8000, HoldingsModel.EXPOSURE) == "public"
    assert cell(model, 3000, HoldingsModel.EXPOSURE) == "loopback"
    # Held for, in plain words; "still held" for the one still open.
    assert cell(model, 3000, HoldingsModel.HELD) == "56 min 40 s"
    held = cell(model, 8000, HoldingsModel.HELD)
    assert isinstance(held, str)
    assert re.fullmatch(r"\d+ min( \d+ s)?, still held", held), held
    assert cell(model, 8000, HoldingsModel.UNTIL) == "still held"

    # Hidden, events come; shown again, it has them without a search.
    view.hide()
    was = Snapshot(time.time() - 60, 0.0, (listener(8000, "0.0.0.0", pid=9, process="python3"),))
    redis = listener(6379, "::1", pid=3, process="redis-server")
    history.record_events(diff(was, Snapshot(time.time(), 0.0, (*was.listeners, redis))))
    with qtbot.waitSignal(view.searched) as found:
        view.show()
    assert found.args == [3]
    assert cell(model, 6379, HoldingsModel.ADDRESS) == "::1"


def test_from_says_when_the_holder_began(qtbot: QtBot) -> None:
    now = time.time()
    unknown = listener(3000, "0.0.0.0", pid=10, process="java", started=None)
    server = listener(4000, "127.0.0.1", pid=11, process="nginx", started=now - 7200)
    dev = listener(5000, "192.168.1.5", pid=12, process="vite", started=now - 700)
    with RecordingHistory() as history:
        history.record_start(Snapshot(now - 1200, 0.0, ()))
        history.record_events(diff(Snapshot(now - 1200, 0.0, ()), Snapshot(now - 600, 0.0, (dev,))))
        # portwatch restarts; the dev server quit meanwhile; two servers were running already.
        history.record_start(Snapshot(now - 300, 0.0, (unknown, server)))
        view = shown_view(qtbot, history)
        model = view.model

        # Running before portwatch, its process start unknown.
        assert cell(model, 3000, HoldingsModel.FROM) == BEFORE_PORTWATCH
        assert tooltip(model, 3000, HoldingsModel.FROM) == (
            "Already held when portwatch started (when its process started is not known); "
            f"portwatch first saw it at {clock(now - 300)}"
        )
        held = cell(model, 3000, HoldingsModel.HELD)
        assert isinstance(held, str)
        assert re.fullmatch(r"at least 5 min( \d+ s)?, still held", held), held
        # Running before portwatch, from its process's start.
        assert cell(model, 4000, HoldingsModel.FROM) == clock(now - 7200)
        assert tooltip(model, 4000, HoldingsModel.FROM) == (
            "Already held when portwatch started: this is when its process started; "
            f"portwatch first saw it at {clock(now - 300)}"
        )
        held = cell(model, 4000, HoldingsModel.HELD)
        assert isinstance(held, str)
        assert re.fullmatch(r"2 h( \d+ min)?, still held", held), held
        # Bound while watched, from then (not its process's start); it ended while
        # portwatch was away: at most this long.
        assert cell(model, 5000, HoldingsModel.FROM) == clock(now - 600)
        assert tooltip(model, 5000, HoldingsModel.FROM) is None
        assert cell(model, 5000, HoldingsModel.UNTIL) == f"before {clock(now - 300)}"
        assert cell(model, 5000, HoldingsModel.HELD) == "at most 5 min"
        assert cell(model, 5000, HoldingsModel.EXPOSURE) == "LAN"


def test_an_empty_history_and_a_search_with_no_match_say_so(
    qtbot: QtBot, history: RecordingHistory
) -> None:
    with RecordingHistory(history.path.with_name("empty.sqlite3")) as empty:
        view = shown_view(qtbot, empty)
        assert view.pages.currentWidget() is view.empty
        assert view.empty.text() == NOTHING_RECORDED
        assert not view.empty.isHidden()

    view = shown_view(qtbot, history)
    assert view.pages.currentWidget() is view.table
    view.port_edit.setText("3001")
    view.since_edit.setText("2h")
    with qtbot.waitSignal(view.searched) as found:
        view.search()
    assert found.args == [0]
    assert view.pages.currentWidget() is view.empty
    assert view.empty.text() == "No holding matches port 3001 in the last 2 hours"
    view.port_edit.clear()
    view.since_edit.clear()
    view.process_edit.setText("ruby")
    with qtbot.waitSignal(view.searched):
        view.search()
    assert view.empty.text() == "No holding matches “ruby”"
    view.process_edit.clear()
    with qtbot.waitSignal(view.searched):
        view.search()
    assert view.pages.currentWidget() is view.table


def test_what_an_empty_answer_says() -> None:
    assert nothing_found(None, None, None) == NOTHING_RECORDED
    assert nothing_found(3000, None, "2h") == "No holding matches port 3000 in the last 2 hours"
    assert nothing_found(3000, "node", None) == "No holding matches port 3000 and “node”"
    assert nothing_found(None, None, "1d") == "No port was held in the last day"
    assert nothing_found(None, "a\x1bb", "2026-11-21") == (
        "No holding matches “a\\x1bb” since 2026-11-21"
    )


def test_history_view_search_and_export(
    qtbot: QtBot, history: RecordingHistory, tmp_path: Path, qtmodeltester: ModelTester
) -> None:
    view = HistoryView(history.reader)
    qtbot.addWidget(view)
    view.show()
    with qtbot.waitSignal(view.searched) as found:
        view.search_button.click()
    assert found.args == [2]
    qtmodeltester.check(view.model)
    view.port_edit.setText("3000")
    with qtbot.waitSignal(view.searched):
        view.search()
    model = view.model
    assert model.rowCount() == 1
    assert model.data(model.index(0, HoldingsModel.PROCESS)) == "node"
    assert model.data(model.index(0, HoldingsModel.COMMAND)) == "proc3000 --serve"
    view.port_edit.clear()
    view.process_edit.setText("python")
    with qtbot.waitSignal(view.searched):
        view.search()
    assert [h.port for h in model.holdings()] == [8000]
    target = tmp_path / "export.csv"
    assert view.export_csv(target) == 1
    rows = list(csv.DictReader(target.open()))
    assert rows[0]["process"] == "python3"
    assert rows[0]["addresses"] == "0.0.0.0"


def test_history_view_bad_input_says_why(qtbot: QtBot, history: RecordingHistory) -> None:
    view = HistoryView(history.reader)
    qtbot.addWidget(view)
    view.show()
    view.port_edit.setText("70000")
    view.search()
    assert view.error.isVisible()
    assert view.error.text() == "'70000' is not a port number (1-65535)"
    # The one port parser: full-width digits, signs and underscores are refused here too.
    for text in ("\uff13\uff10\uff10\uff10", "+3000", "3_000"):
        view.port_edit.setText(text)
        view.search()
        assert view.error.text() == f"'{text}' is not a port number (1-65535)"
    view.port_edit.clear()
    view.since_edit.setText("last tuesday")
    view.search()
    assert view.error.text().startswith("'last tuesday' is not a time")
    view.since_edit.setText("30m")
    with qtbot.waitSignal(view.searched):
        view.search()
    assert not view.error.isVisible()
    assert [h.port for h in view.model.holdings()] == [8000]


def test_history_refresh_updates_rows_in_place(qtbot: QtBot, history: RecordingHistory) -> None:
    view = HistoryView(history.reader)
    qtbot.addWidget(view)
    with qtbot.waitSignal(view.searched):
        view.search()
    before = view.model.rowCount()
    s3 = Snapshot(time.time() - 60, 0.0, (listener(8000, "0.0.0.0", pid=9, process="python3"),))
    s4 = Snapshot(time.time(), 0.0, (*s3.listeners, listener(9000, "::1", pid=3)))
    history.record_events(diff(s3, s4))
    with qtbot.assertNotEmitted(view.model.modelReset), qtbot.waitSignal(view.searched):
        view.refresh()
    assert view.model.rowCount() == before + 1


@pytest.fixture
def make_app(qtbot: QtBot) -> Iterator[Callable[..., PortwatchApp]]:
    with built_apps(qtbot) as make:
        yield make


def test_the_apps_history_tab_is_filled_when_chosen(
    qtbot: QtBot, make_app: Callable[..., PortwatchApp]
) -> None:
    app = make_app()
    view = app.history_view
    assert view is not None
    app.window.show()
    node = listener(3000, "127.0.0.1", pid=5, process="node")
    feed(qtbot, app, Snapshot(time.time(), 0.0, (node,), backend="test"))
    with qtbot.waitSignal(view.searched):
        app.window.tabs.setCurrentWidget(view)
    assert [h.port for h in view.model.holdings()] == [3000]
    # Already there at the first scan: from its process's start.
    assert node.started is not None
    assert cell(view.model, 3000, HoldingsModel.FROM) == clock(node.started)
    # While it is shown, new events refresh it.
    vite = listener(5173, "0.0.0.0", pid=7, process="vite")
    with qtbot.waitSignal(view.searched):
        feed(qtbot, app, Snapshot(time.time(), 0.0, (node, vite), backend="test"))
    assert sorted(h.port for h in view.model.holdings()) == [3000, 5173]
    assert cell(view.model, 5173, HoldingsModel.EXPOSURE) == "public"
