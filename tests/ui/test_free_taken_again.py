"""The window's Free: a port taken again by what restarts its server is said so."""

from __future__ import annotations

from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QMessageBox, QPushButton, QWidget
from pytestqt.qtbot import QtBot

from portwatch.core.scanner import Scanner
from portwatch.ui.free_flow import FreePortFlow
from tests.support.restarter import restarted_port

__all__ = ["restarted_port"]  # the fixture used below


def test_the_window_says_the_port_was_taken_again(qtbot: QtBot, restarted_port: int) -> None:
    parent = QWidget()
    qtbot.addWidget(parent)
    scanner = Scanner(connection_owners=False)
    try:
        rows = scanner.scan().on_port(restarted_port)
    finally:
        scanner.close()
    flow = FreePortFlow(parent, rows, restart_grace=30)
    seen: list[tuple[str, str]] = []

    def answer(box: QMessageBox) -> None:
        seen.append((box.windowTitle(), box.text()))
        # End it (and, as root, end it anyway); close what has nothing to accept.
        button = box.findChild(QPushButton, "accept") or box.findChild(QPushButton, "reject")
        assert button is not None
        QTimer.singleShot(0, button.click)

    flow.dialog_opened.connect(answer)
    messages: list[str] = []
    flow.message.connect(messages.append)
    with qtbot.waitSignal(flow.finished, timeout=40_000):
        flow.start()
    titles = [title for title, _text in seen]
    assert titles[-1] == f"Port {restarted_port} was taken again"
    assert "something started it again" in seen[-1][1]
    assert any("is held again by python" in m for m in messages)
