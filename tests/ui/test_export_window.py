"""The window's Export action writes the table's current rows, not those just gone."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from PySide6.QtWidgets import QFileDialog
from pytestqt.qtbot import QtBot

from portwatch.ui.listener_actions import ListenerActions, install_actions
from portwatch.ui.main_window import MainWindow
from portwatch.ui.tables.cells import ROW_STATE_ROLE
from portwatch.ui.tables.rows import RowState
from tests.support.factories import listener, snapshot


@pytest.fixture
def window(qtbot: QtBot) -> Iterator[MainWindow]:
    main = MainWindow()
    qtbot.addWidget(main)
    main.show()
    yield main
    main.hide_on_close = False
    main.close()


def _export_to(
    qtbot: QtBot, actions: ListenerActions, target: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(
        QFileDialog,
        "getSaveFileName",
        staticmethod(lambda *_args, **_kwargs: (str(target), "")),
    )
    with qtbot.waitSignal(actions.exported, timeout=2000):
        actions.export_action.trigger()


@pytest.mark.parametrize("name", ["table.json", "table.csv"])
def test_export_leaves_out_the_rows_greyed_because_they_just_vanished(
    qtbot: QtBot,
    window: MainWindow,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    name: str,
) -> None:
    actions, _port_check = install_actions(window)
    # Gone rows linger for the test's whole length, whatever the machine's speed.
    window.listener_model.linger_seconds = 3600
    window.apply_snapshot(snapshot([listener(3000), listener(3001), listener(3002)]))
    window.apply_snapshot(snapshot([listener(3000), listener(3002)]))
    proxy = window.listener_proxy
    states = [proxy.index(row, 0).data(ROW_STATE_ROLE) for row in range(proxy.rowCount())]
    current, gone = RowState.CURRENT.value, RowState.GONE.value
    assert states == [current, gone, current]  # still shown, greyed

    target = tmp_path / name
    _export_to(qtbot, actions, target, monkeypatch)
    text = target.read_text()
    rows = json.loads(text) if name.endswith(".json") else list(csv.DictReader(io.StringIO(text)))
    assert [int(row["port"]) for row in rows] == [3000, 3002]
    assert "Exported 2 rows" in window.statusBar().currentMessage()


def test_export_keeps_the_order_and_the_search_of_the_table(
    qtbot: QtBot, window: MainWindow, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    actions, _port_check = install_actions(window)
    window.apply_snapshot(
        snapshot([listener(8080), listener(3000), listener(53, proto="udp"), listener(5432)])
    )
    window.toolbar.set_search_now("tcp")  # the UDP row is hidden
    target = tmp_path / "table.json"
    _export_to(qtbot, actions, target, monkeypatch)
    assert [row["port"] for row in json.loads(target.read_text())] == [3000, 5432, 8080]
