"""A quiet poll does no row work all the way up: real scans into the real listener table.

The scan layers' half is tests/test_quiet_poll.py; this is the table's half:
a snapshot whose listeners_generation the table applied last changes no
row, and one that moved is diffed as before. Other programs may open or
close sockets meanwhile, so a poll counts as quiet when its generation did
not move.
"""

from __future__ import annotations

import socket
import sys

import pytest
from pytestqt.qtbot import QtBot

from portwatch.core.scanner import Scanner
from portwatch.ui.main_window import MainWindow

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="Linux fast path")

POLLS = 40


def test_quiet_polls_change_no_row_of_the_table(qtbot: QtBot) -> None:
    window = MainWindow()
    qtbot.addWidget(window)
    model = window.listener_model
    signals: list[str] = []
    for name in ("rowsInserted", "rowsRemoved", "dataChanged", "modelReset", "layoutChanged"):
        getattr(model, name).connect(lambda *_args, name=name: signals.append(name))

    scanner = Scanner(connection_owners=False)
    server = socket.create_server(("127.0.0.1", 0))
    port = server.getsockname()[1]
    try:
        quiet = 0
        previous = None
        for _ in range(POLLS):
            snapshot = scanner.scan()
            before = len(signals)
            window.apply_snapshot(snapshot)
            if previous is not None and snapshot.listeners_generation == previous:
                quiet += 1
                assert signals[before:] == [], "a quiet poll changed rows"
            previous = snapshot.listeners_generation
            assert snapshot.listeners_generation != 0
        assert quiet > 0, "no poll was quiet: the generation moved every time"
        assert any(row.port == port for row in model.items())

        # A change moves the generation and reaches the table: the row is marked
        # closed (it fades out later) and is no longer among the live items.
        server.close()
        for _ in range(POLLS):
            snapshot = scanner.scan()
            if snapshot.listeners_generation != previous:
                break
        before = len(signals)
        window.apply_snapshot(snapshot)
        assert not any(row.port == port for row in model.items())
        assert "dataChanged" in signals[before:] or "rowsRemoved" in signals[before:]
    finally:
        server.close()
        scanner.close()
