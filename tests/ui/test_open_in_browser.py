"""Open in browser: offered for sockets that serve web pages, checked once, failures said.

Real children on 127.0.0.1: ``python -m http.server`` and a line-protocol
child that answers like redis; the probe is the real one, counted through an
injected prober.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest
import shiboken6
from PySide6.QtCore import QUrl
from PySide6.QtGui import QAction, QDesktopServices
from PySide6.QtWidgets import QMenu, QWidget
from pytestqt.qtbot import QtBot

from portwatch.core.http_probe import WebAnswer
from portwatch.core.model import Listener
from portwatch.ui.listener_actions import ListenerActions
from tests.support.factories import listener
from tests.support.procs import ListenerProcess
from tests.test_cli_identity import HttpServer
from tests.test_http_probe import REDIS_REPLY, CountingProber, patient_probe, scanned

CHECKING = "Checking whether this port serves web pages…"


@pytest.fixture
def window(qtbot: QtBot) -> QWidget:
    widget = QWidget()
    qtbot.addWidget(widget)
    return widget


@pytest.fixture
def http_row(tmp_path: Path) -> Iterator[Listener]:
    server = HttpServer(tmp_path)
    try:
        yield scanned(server.pid, server.port)
    finally:
        server.stop()


class Browser:
    """QDesktopServices.openUrl as the desktop answers it: True, or False when no opener ran."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.works = True
        self.asked: list[str] = []
        monkeypatch.setattr(QDesktopServices, "openUrl", staticmethod(self.open))

    def open(self, url: QUrl) -> bool:
        self.asked.append(url.toString())
        return self.works


def menu_action(menu: QMenu, text: str) -> QAction:
    return next(a for a in menu.actions() if a.text().split("\t")[0] == text)


def test_a_real_http_server_is_checked_once_then_opened(
    qtbot: QtBot, window: QWidget, http_row: Listener, monkeypatch: pytest.MonkeyPatch
) -> None:
    browser = Browser(monkeypatch)
    messages: list[str] = []
    prober = CountingProber(probe=patient_probe)
    actions = ListenerActions(window, prober=prober)
    actions.message.connect(messages.append)
    # Recognised as http.server: offered at once, nothing probed.
    actions.set_selection([http_row])
    assert actions.open_action.isEnabled()
    # The same server not recognised: probed off the UI thread, disabled until it answers.
    unnamed = replace(http_row, app=None)
    url = f"http://127.0.0.1:{unnamed.port}/"
    with qtbot.waitSignal(actions.web.answered, timeout=60_000):
        actions.set_selection([unnamed])
        assert not actions.open_action.isEnabled()
        assert actions.open_action.toolTip() == CHECKING
    assert actions.open_action.isEnabled()
    assert actions.open_action.toolTip() == f"Open {url} in your browser"

    # The desktop has no opener: said, and not "Opened".
    browser.works = False
    with qtbot.assertNotEmitted(actions.browser_opened):
        actions.open_action.trigger()
    assert messages[-1] == f"Could not open a browser for {url}"
    browser.works = True
    with qtbot.waitSignal(actions.browser_opened, timeout=1000) as opened:
        actions.open_action.trigger()
    assert opened.args == [url]
    assert messages[-1] == f"Opened {url}"
    assert browser.asked == [url, url]

    # Asked again (another selection, a context menu): the answer is remembered.
    actions.set_selection([])
    actions.set_selection([unnamed])
    assert actions.open_action.isEnabled()
    menu = QMenu(window)
    actions.populate_menu(menu, [unnamed])
    menu.aboutToShow.emit()
    assert menu_action(menu, "Open in browser").isEnabled()
    assert prober.calls == [("127.0.0.1", unnamed.port)]


def test_a_redis_like_listener_is_not_offered(
    qtbot: QtBot, window: QWidget, monkeypatch: pytest.MonkeyPatch
) -> None:
    browser = Browser(monkeypatch)
    messages: list[str] = []
    with ListenerProcess(["tcp:127.0.0.1:0"], reply=REDIS_REPLY) as child:
        port = child.ports[0]
        row = scanned(child.pid, port)
        prober = CountingProber(probe=patient_probe)
        actions = ListenerActions(window, prober=prober)
        actions.message.connect(messages.append)
        menu = QMenu(window)
        actions.populate_menu(menu, [row])
        opener = menu_action(menu, "Open in browser")
        assert not opener.isEnabled()
        assert opener.toolTip() == CHECKING
        assert menu.toolTipsVisible()
        assert prober.calls == []  # a menu asks when it opens, not when it is built
        with qtbot.waitSignal(actions.web.answered, timeout=60_000):
            menu.aboutToShow.emit()
        assert not opener.isEnabled()
        assert opener.toolTip() == f"Port {port} does not serve web pages"
        actions.set_selection([row])
        assert not actions.open_action.isEnabled()
        assert actions.open_action.toolTip() == f"Port {port} does not serve web pages"
        actions.open_in_browser([row])
        assert messages == [f"Port {port} does not serve web pages"]
        assert browser.asked == []
        assert prober.calls == [("127.0.0.1", port)]


def test_an_answer_after_its_menu_closed_changes_only_what_is_left(
    qtbot: QtBot, window: QWidget
) -> None:
    gate = threading.Event()
    prober = CountingProber(WebAnswer.YES, gate=gate)
    actions = ListenerActions(window, prober=prober)
    row = listener(4300, "127.0.0.1")
    menu = QMenu(window)
    actions.populate_menu(menu, [row])
    menu.aboutToShow.emit()
    opener = menu_action(menu, "Open in browser")
    assert not opener.isEnabled()
    shiboken6.delete(menu)  # closed and gone before the probe answers
    assert not shiboken6.isValid(opener)
    actions.set_selection([row])  # the same socket: not probed a second time
    assert actions.open_action.toolTip() == CHECKING
    with qtbot.waitSignal(actions.web.answered, timeout=30_000):
        gate.set()
    assert actions.open_action.isEnabled()
    assert prober.calls == [("127.0.0.1", 4300)]
