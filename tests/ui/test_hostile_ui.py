"""Hostile children in the window, the tray menu, the alerts and a desktop notification.

Real children on 127.0.0.1 (``tests/support/hostile.py``), a real scan, the
real widgets offscreen, and a notification sent over a private session bus to
the test's notification server.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest
from PySide6.QtCore import QItemSelectionModel, Qt
from PySide6.QtGui import Qt as QtText
from PySide6.QtGui import QTextDocument
from pytestqt.qtbot import QtBot

from portwatch.core.alerts.alert import Alert
from portwatch.core.alerts.engine import AlertRules
from portwatch.core.diff import diff
from portwatch.core.model import Listener, Snapshot
from portwatch.core.naming import app_and_project, process_text
from portwatch.core.portspec import PortSpec
from portwatch.core.safetext import visible
from portwatch.core.scanner import Scanner
from portwatch.core.settings import Settings, WatchedPort
from portwatch.notify.dbus import DBusNotifier
from portwatch.ui.alerts_view import AlertsModel, AlertsView
from portwatch.ui.details import MASKED_NOTE
from portwatch.ui.main_window import MainWindow
from portwatch.ui.tables.cells import ITEM_ROLE, TOOLTIP_LIMIT
from portwatch.ui.tables.listeners import ListenerColumn, ListenerTableModel
from portwatch.ui.tray import TrayIcon, menu_apps, menu_label, menu_text
from tests.support.factories import listener, snapshot
from tests.support.hostile import (
    FORBIDDEN,
    HOSTILE_DIR_NAME,
    HOSTILE_NAME_SHOWN,
    PASSWORD,
    SHOWN_PARTS,
    hostile_listener,
)
from tests.support.notify_stub import StubServer, private_bus
from tests.support.procs import ListenerProcess


@pytest.fixture(scope="module")
def hostile(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[ListenerProcess, Path]]:
    folder = tmp_path_factory.mktemp("hostile")
    with hostile_listener(folder) as child:
        yield child, folder


@pytest.fixture
def window(qtbot: QtBot) -> Iterator[MainWindow]:
    main = MainWindow()
    qtbot.addWidget(main)
    main.show()
    yield main
    main.hide_on_close = False
    main.close()


def shown_text(tooltip: str) -> str:
    """What Qt draws for a tooltip: it guesses rich text the way QToolTip does."""
    if not QtText.mightBeRichText(tooltip):
        return tooltip
    document = QTextDocument()
    document.setHtml(tooltip)
    return document.toPlainText()


def assert_safe(text: str) -> None:
    for char in (*FORBIDDEN, "\n"):
        assert char not in text, f"{char!r} shown raw in {text[:80]!r}"


def select(window: MainWindow, pid: int) -> Listener:
    proxy = window.listener_proxy
    for row in range(proxy.rowCount()):
        index = proxy.index(row, ListenerColumn.PORT)
        item: Listener = index.data(ITEM_ROLE)
        if item.pid == pid:
            window.listener_view.selectionModel().setCurrentIndex(
                index,
                QItemSelectionModel.SelectionFlag.ClearAndSelect
                | QItemSelectionModel.SelectionFlag.Rows,
            )
            return item
    raise AssertionError(f"pid {pid} is not in the table")


def scan() -> Snapshot:
    scanner = Scanner(connection_owners=False)
    try:
        return scanner.scan()
    finally:
        scanner.close()


def test_details_pane_shows_hostile_text_literally(
    window: MainWindow, hostile: tuple[ListenerProcess, Path]
) -> None:
    child, folder = hostile
    window.apply_snapshot(scan())
    select(window, child.pid)
    details = window.details
    labels = [*details.fields.values(), details.secret_note]
    assert {label.textFormat() for label in labels} == {Qt.TextFormat.PlainText}
    command = details.field_text("Command line")
    for part in SHOWN_PARTS:
        assert part in command
    # HTML is text: the label shows the tags; a rich-text label would draw a heading.
    assert "<h1>FAKE</h1><img src=x>" in command
    assert details.field_text("Process").startswith(HOSTILE_NAME_SHOWN)
    assert details.field_text("Working directory") == str(folder) + "/dir\\x1b[2J\\u202e"
    assert HOSTILE_DIR_NAME not in details.field_text("Working directory")
    for label in details.fields.values():
        assert_safe(label.text())
    # The password is in the command line: one line says it is never stored unmasked.
    assert f"--password={PASSWORD}" in command
    assert details.secret_note.isVisibleTo(window)
    assert details.secret_note.text() == MASKED_NOTE


def test_secret_note_only_when_the_command_line_holds_a_secret(window: MainWindow) -> None:
    plain = listener(8000, "127.0.0.1", pid=4242, process="python")
    plain = replace(plain, cmdline=("python", "-m", "http.server"))
    window.apply_snapshot(snapshot([plain]))
    select(window, 4242)
    assert window.details.field_text("Command line") == "python -m http.server"
    assert not window.details.secret_note.isVisibleTo(window)


def test_table_cells_tooltips_and_search_show_visible_text(
    window: MainWindow, hostile: tuple[ListenerProcess, Path]
) -> None:
    child, _folder = hostile
    window.apply_snapshot(scan())
    proxy = window.listener_proxy
    row = next(
        r for r in range(proxy.rowCount()) if proxy.index(r, 0).data(ITEM_ROLE).pid == child.pid
    )
    process = proxy.index(row, ListenerColumn.PROCESS)
    # The column names the app (here the script); a hostile app name shows escaped.
    item: Listener = process.data(ITEM_ROLE)
    assert process.data() == visible(process_text(item))
    assert_safe(process.data())
    named = ListenerTableModel()
    named.apply([replace(item, app=item.process)])
    assert named.index(0, ListenerColumn.PROCESS).data() == HOSTILE_NAME_SHOWN
    tooltip = process.data(Qt.ItemDataRole.ToolTipRole)
    drawn = shown_text(tooltip)
    # Two lines of portwatch's own (the PID, the command line): the command
    # line's newline ("--note=first line\nsecond line") is shown, not obeyed.
    pid_line, command = drawn.split("\n")
    assert pid_line == f"PID {child.pid}"
    assert_safe(command)
    assert "--note=first line\\nsecond line" in command
    assert "--title=\\x1b]0;pwned\\x07" in drawn
    assert "<h1>FAKE</h1>" in drawn  # drawn as typed, not as a heading
    assert len(drawn) < TOOLTIP_LIMIT + 100  # the 100 KB argument is cut
    # The search matches the escapes the user sees.
    proxy.set_search("\\u202epwn")
    pids = {proxy.index(r, 0).data(ITEM_ROLE).pid for r in range(proxy.rowCount())}
    assert pids == {child.pid}
    proxy.set_search("")


@pytest.mark.usefixtures("qtbot")
def test_tray_menu_escapes_names_and_ampersands(hostile: tuple[ListenerProcess, Path]) -> None:
    child, _folder = hostile
    amp = listener(8080, "127.0.0.1", pid=7, process="R&D")
    (app,), _more = menu_apps(snapshot([amp]))
    assert menu_label(app) == "R&&D — 8080"
    tray = TrayIcon()
    # Only the child's rows: the menu shows the 12 most exposed listeners of a busy machine.
    full = scan()
    tray.update_snapshot(
        replace(full, listeners=tuple(r for r in full.listeners if r.pid == child.pid))
    )
    texts = [action.text() for action in tray.menu.actions()]
    # One entry for the child's app, whatever it binds.
    child_row = next(r for r in full.listeners if r.pid == child.pid)
    mine = [text for text in texts if menu_text(app_and_project(child_row)) in text]
    assert len(mine) == 1, texts
    for text in texts:
        assert_safe(text)
    tray.hide()


def _alerts(children: list[ListenerProcess], before: Snapshot) -> list[Alert]:
    ports = sorted(c.ports[0] for c in children)
    settings = Settings(
        watched_ports=tuple(WatchedPort(PortSpec(p, p)) for p in ports),
        quiet_period=0,
        summary_threshold=100,
    )
    rules = AlertRules()
    rules.evaluate(None, before, [], settings)  # the start-up summary
    # The children run hostile.py, so their app would be that; alerts name the app, so
    # give them their hostile process name as app to carry it into every alert text.
    pids = {c.pid for c in children}
    after = scan()
    after = replace(
        after,
        listeners=tuple(
            replace(row, app=row.process) if row.pid in pids else row for row in after.listeners
        ),
    )
    return rules.evaluate(before, after, diff(before, after), settings)


@pytest.mark.skipif(shutil.which("dbus-daemon") is None, reason="needs dbus-daemon")
def test_alerts_and_notifications_carry_no_secret_and_no_control_character(
    qtbot: QtBot,
) -> None:
    before = scan()
    with (
        hostile_listener() as escapes,
        hostile_listener(name=b"TOKEN=" + PASSWORD.encode()) as secret,
        hostile_listener(name=b"<h1>FAKE</h1>") as markup,
    ):
        children = [escapes, secret, markup]
        alerts = [a for a in _alerts(children, before) if a.pid in {c.pid for c in children}]
        with private_bus() as bus:
            plain_server = StubServer(bus, capabilities=["body"])
            try:
                with DBusNotifier(bus=bus) as notifier:
                    for alert in alerts:
                        notifier.notify(alert.title, alert.body, port=alert.port)
                qtbot.waitUntil(lambda: len(plain_server.calls) == len(alerts), timeout=5000)
                plain_calls = list(plain_server.calls)
            finally:
                plain_server.close()
            markup_server = StubServer(bus, capabilities=["body", "body-markup"])
            try:
                with DBusNotifier(bus=bus) as notifier:
                    for alert in alerts:
                        notifier.notify(alert.title, alert.body, port=alert.port)
                qtbot.waitUntil(lambda: len(markup_server.calls) == len(alerts), timeout=5000)
                markup_calls = list(markup_server.calls)
            finally:
                markup_server.close()
    assert {a.pid for a in alerts} == {c.pid for c in children}
    texts = [a.title for a in alerts] + [a.body for a in alerts]
    for call in (*plain_calls, *markup_calls):
        texts += [call.summary, call.body]
    for text in texts:
        assert_safe(text)
        assert PASSWORD not in text
    # Named as the app and its project: "<name> — portwatch (PID 41) listens on …".
    body_of = {a.pid: a.body for a in alerts}
    assert body_of[escapes.pid].startswith(f"{HOSTILE_NAME_SHOWN} — "), body_of
    assert body_of[secret.pid].startswith("TOKEN=****** — "), body_of
    assert f"(PID {escapes.pid})" in body_of[escapes.pid]
    # Servers that read markup get it escaped; the others get the text as it is.
    assert any("&lt;h1&gt;FAKE&lt;/h1&gt;" in call.body for call in markup_calls)
    assert not any("<h1>" in call.body for call in markup_calls)
    assert any("<h1>FAKE</h1>" in call.body for call in plain_calls)
    # The Alerts tab: rows and tooltips as text.
    view = AlertsView(AlertsModel())
    qtbot.addWidget(view)
    for alert in alerts:
        view.model.add_alert(alert)
        view.show_banner(alert)
        assert "<h1>" not in view.banner.text()
    for row in range(view.model.rowCount()):
        for column in range(view.model.columnCount()):
            index = view.model.index(row, column)
            assert_safe(index.data() or "")
            tip = shown_text(index.data(Qt.ItemDataRole.ToolTipRole))
            assert PASSWORD not in tip
            for char in FORBIDDEN:
                assert char not in tip
